/*
** dl_wdfqueuectl.c: a queue's state changes (WdfIoQueueStart, Stop, Purge,
** Drain and their ...Synchronously forms), the callbacks they register
** (StopComplete apart from PurgeComplete / DrainComplete, as FxIoQueue keeps
** m_IdleComplete and m_PurgeComplete) and ReadyNotify's call, each asking
** the queue's state table (dl_wdfqueuestate.h) first (fxioqueue.cpp's
** QueueStart, QueueIdle, QueuePurge, QueueDrain, DispatchEvents).
*/
#include "base/dl_status.h"
#include "io/dl_cancel.h"
#include "io/dl_irp.h"
#include "machine/dl_clock.h"
#include "machine/dl_machine.h"
#include "wdf/dl_wdfio.h"
#include "wdf/dl_wdfqueuestate.h"
#include "wdf/dl_wdfreqstate.h"

/* The queue table's refusal of `call` on q (its status), or 0 if allowed. */
static uint32_t queue_refuses(dl_wdf_queue *q, int call) {
  dl_wdfqueue_cell c = dl_wdfqueue_check(q, call);
  return c.kind == DL_QS_ALLOW ? 0 : c.status;
}

/* WdfIoQueueStart. The lab forgets a StopComplete / PurgeComplete still
** outstanding (KMDF would call it once the queue next goes idle). */
void dl_wdf_queue_start(dl_wdf_queue *q) {
  if (dl_wdfqueue_check(q, DL_QCALL_START).kind != DL_QS_ALLOW) return;  /* deleting: a no-op */
  q->refusing = 0;
  q->stopped = 0;
  q->pending_stop = 0;
  q->pending_op = 0;
  if (q->ready_notify && !dl_list_empty(&q->waiting)) q->ready_notify = 2;
  dl_wdf_queue_dispatch(q);
}

/* WdfIoQueueStop. */
uint32_t dl_wdf_queue_stop(dl_wdf_queue *q, int callback) {
  uint32_t st = queue_refuses(q, callback ? DL_QCALL_STOP_CB : DL_QCALL_STOP);
  if (st) return st;
  q->stopped = 1;
  if (callback) q->pending_stop = 1;
  dl_wdf_queue_notify(q);
  return DL_STATUS_SUCCESS;
}

/* The first request of q the driver owns and has marked cancelable, or NULL. */
static dl_wdf_request *first_cancelable(dl_wdf_queue *q) {
  for (dl_link *l = q->requests.next; l != &q->requests; l = l->next) {
    dl_wdf_request *r = DL_CONTAINER(l, dl_wdf_request, link);
    if (dl_wdfreq_row(r) == DL_RROW_CANCELABLE && r->irp && r->irp->cancel_routine) return r;
  }
  return NULL;
}

/* Cancels the driver's cancelable requests of q (a purge): EvtRequestCancel
** runs for each (IoCancelIrp takes the routine, so each runs once). */
static void cancel_owned(dl_wdf_queue *q) {
  dl_wdf_request *r;
  while ((r = first_cancelable(q)) != NULL) dl_io_cancel_irp(r->irp);
}

/* WdfIoQueuePurge. */
uint32_t dl_wdf_queue_purge(dl_wdf_queue *q, int callback) {
  uint32_t st = queue_refuses(q, callback ? DL_QCALL_PURGE_CB : DL_QCALL_PURGE);
  if (st) return st;
  q->refusing = 1;
  q->stopped = 1;
  if (callback) q->pending_op = DL_WDF_QCB_PURGE;
  while (!dl_list_empty(&q->waiting))
    dl_wdf_request_cancel_waiting(DL_CONTAINER(q->waiting.next, dl_wdf_request, wait));
  cancel_owned(q);
  dl_wdf_queue_notify(q);
  return DL_STATUS_SUCCESS;
}

/* WdfIoQueueDrain. */
uint32_t dl_wdf_queue_drain(dl_wdf_queue *q, int callback) {
  uint32_t st = queue_refuses(q, callback ? DL_QCALL_DRAIN_CB : DL_QCALL_DRAIN);
  if (st) return st;
  q->refusing = 1;
  if (callback) q->pending_op = DL_WDF_QCB_DRAIN;
  dl_wdf_queue_dispatch(q);
  return DL_STATUS_SUCCESS;
}

/* The ...Synchronously variants' change, as their column of the table says. */
int dl_wdf_queue_change_sync(dl_wdf_queue *q, int op) {
  static const int calls[] = {0, DL_QCALL_STOP_SYNC, DL_QCALL_PURGE_SYNC, DL_QCALL_DRAIN_SYNC};
  if (op < DL_WDF_QCB_STOP || op > DL_WDF_QCB_DRAIN) return -1;
  if (queue_refuses(q, calls[op])) return -1;
  /* A stop without callback still waits: the table decided for the Sync column. */
  if (op == DL_WDF_QCB_STOP) q->stopped = 1, dl_wdf_queue_notify(q);
  else if (op == DL_WDF_QCB_PURGE) dl_wdf_queue_purge(q, 0);
  else dl_wdf_queue_drain(q, 0);
  return 0;
}

/* Idle for op. */
int dl_wdf_queue_idle(const dl_wdf_queue *q, int op) {
  if (q->in_flight) return 0;
  return op != DL_WDF_QCB_DRAIN || dl_list_empty(&q->waiting);
}

/* The ...Synchronously wait. */
int dl_wdf_queue_wait_idle(dl_wdf_queue *q, int op) {
  static const char *const names[] = {"", "WdfIoQueueStopSynchronously",
                                      "WdfIoQueuePurgeSynchronously", "WdfIoQueueDrainSynchronously"};
  dl_wdf_verify_irql(q->m, names[op], 1, DL_PASSIVE_LEVEL);
  dl_clock *c = dl_machine_clock(q->m);
  uint64_t until = dl_clock_now(c) + DL_WDF_SYNC_WAIT_LIMIT;
  while (!dl_wdf_queue_idle(q, op))
    if (dl_clock_now(c) > until || !dl_clock_step(c)) return 0;
  return 1;
}

/* The pending state callback once idle, and ReadyNotify. */
void dl_wdf_queue_notify(dl_wdf_queue *q) {
  const dl_wdf_ops *ops = q->d->ops;
  if (q->pending_stop && dl_wdf_queue_idle(q, DL_WDF_QCB_STOP)) {
    q->pending_stop = 0;
    if (ops && ops->queue_state) ops->queue_state(q->d->ctx, q, DL_WDF_QCB_STOP);
  }
  if (q->pending_op && dl_wdf_queue_idle(q, q->pending_op)) {
    int op = q->pending_op;
    q->pending_op = 0;
    if (ops && ops->queue_state) ops->queue_state(q->d->ctx, q, op);
  }
  if (q->ready_notify == 2 && !dl_list_empty(&q->waiting) && !q->stopped &&
      q->d->state == DL_WDF_STARTED) {
    q->ready_notify = 1;
    if (ops && ops->queue_state) ops->queue_state(q->d->ctx, q, DL_WDF_QCB_READY);
  }
}
