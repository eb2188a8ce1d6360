/*
** dl_wdfmanual.c: manual queues, moving requests between queues, and
** requests cancelled while they wait in a queue (see dl_wdfio.h;
** FxIoQueue.cpp's GetRequest, ForwardRequest, Requeue); what a queue's or a
** request's state allows is asked of their tables first. A queue's state
** changes are in dl_wdfqueuectl.c.
*/
#include "base/dl_status.h"
#include "io/dl_cancel.h"
#include "io/dl_driver.h"
#include "io/dl_irp.h"
#include "machine/dl_machine.h"
#include "wdf/dl_wdfio.h"
#include "wdf/dl_wdfqueuestate.h"
#include "wdf/dl_wdfreqstate.h"

/* The KMDF verifier's debugger break on a misuse: a 0x10D/0x6 report. */
static void verifier_break(dl_wdf_request *r, const char *call, const char *why) {
  dl_wdf_report(r->m, DL_WDF_REQUEST_FATAL_ERROR, 0, r->id, "%s: WDFREQUEST#%llu %s", call,
                (unsigned long long)r->id, why);
}

/* The queue table's refusal of `call` on q (its status), or 0 if allowed. */
static uint32_t queue_refuses(dl_wdf_queue *q, int call) {
  dl_wdfqueue_cell c = dl_wdfqueue_check(q, call);
  return c.kind == DL_QS_ALLOW ? 0 : c.status;
}

/* r becomes the driver's (retrieved or given to EvtIoCanceledOnQueue). */
static void take(dl_wdf_queue *q, dl_wdf_request *r) {
  dl_list_remove(&r->wait);
  if (r->irp) dl_io_set_cancel_routine(r->irp, NULL, NULL);
  r->presented = 1;
  q->in_flight++;
  q->presented++;
}

/* ---- manual queues ----------------------------------------------------------- */

/* Does r's IRP belong to the file (NULL: any)? */
static int on_file(const dl_wdf_request *r, const void *file) {
  return !file || (r->irp && (const void *)r->irp->file == file);
}

/* WdfIoQueueRetrieveNextRequest / ...ByFileObject. */
uint32_t dl_wdf_queue_retrieve(dl_wdf_queue *q, const void *file, dl_wdf_request **out) {
  *out = NULL;
  if (q->dispatch == DL_WDF_DISPATCH_PARALLEL) return DL_STATUS_INVALID_DEVICE_STATE;
  if (q->dispatch == DL_WDF_DISPATCH_SEQUENTIAL && q->in_flight == 0)
    dl_wdf_report(q->m, DL_WDF_REQUEST_FATAL_ERROR, 0, q->id,
                  "WdfIoQueueRetrieveNextRequest: the sequential WDFQUEUE#%llu has no outstanding "
                  "request: retrieving races with the requests it presents",
                  (unsigned long long)q->id);
  uint32_t st = queue_refuses(q, file ? DL_QCALL_RETRIEVE_BY_FILE : DL_QCALL_RETRIEVE);
  if (st) return st;
  for (dl_link *l = q->waiting.next; l != &q->waiting; l = l->next) {
    dl_wdf_request *r = DL_CONTAINER(l, dl_wdf_request, wait);
    if (!on_file(r, file)) continue;
    take(q, r);
    if (dl_wdf_request_zero_length(r)) {  /* completed: look again from the head */
      l = &q->waiting;
      continue;
    }
    *out = r;
    return DL_STATUS_SUCCESS;
  }
  return DL_STATUS_NO_MORE_ENTRIES;
}

/* Is r waiting in q (neither presented, retrieved nor completed)? */
static int waits_in(const dl_wdf_queue *q, const dl_wdf_request *r) {
  return r->q == q && !r->presented && !r->completed;
}

/* WdfIoQueueFindRequest. */
uint32_t dl_wdf_queue_find(dl_wdf_queue *q, dl_wdf_request *found, const void *file, dl_wdf_request **out) {
  *out = NULL;
  dl_wdf_verify_irql(q->m, "WdfIoQueueFindRequest", 0, DL_DISPATCH_LEVEL);
  if (q->dispatch != DL_WDF_DISPATCH_MANUAL) return DL_STATUS_INVALID_DEVICE_REQUEST;
  uint32_t st = queue_refuses(q, DL_QCALL_FIND);
  if (st) return st;
  if (found && !waits_in(q, found)) return DL_STATUS_NOT_FOUND;
  for (dl_link *l = found ? found->wait.next : q->waiting.next; l != &q->waiting; l = l->next) {
    dl_wdf_request *r = DL_CONTAINER(l, dl_wdf_request, wait);
    if (!on_file(r, file)) continue;
    dl_wdf_object_reference(DL_WDF(r));
    *out = r;
    return DL_STATUS_SUCCESS;
  }
  return DL_STATUS_NO_MORE_ENTRIES;
}

/* WdfIoQueueRetrieveFoundRequest. */
uint32_t dl_wdf_queue_retrieve_found(dl_wdf_queue *q, dl_wdf_request *found, dl_wdf_request **out) {
  *out = NULL;
  dl_wdf_verify_irql(q->m, "WdfIoQueueRetrieveFoundRequest", 0, DL_DISPATCH_LEVEL);
  if (q->dispatch != DL_WDF_DISPATCH_MANUAL) return DL_STATUS_INVALID_DEVICE_REQUEST;
  uint32_t st = queue_refuses(q, DL_QCALL_RETRIEVE_FOUND);  /* FxIoQueue::GetRequest's order */
  if (st) return st;
  if (!waits_in(q, found)) return DL_STATUS_NOT_FOUND;
  take(q, found);
  if (dl_wdf_request_zero_length(found)) return DL_STATUS_NOT_FOUND;  /* completed at once */
  *out = found;
  return DL_STATUS_SUCCESS;
}

/* WdfIoQueueReadyNotify. */
uint32_t dl_wdf_queue_ready_notify(dl_wdf_queue *q, int on) {
  if (q->dispatch != DL_WDF_DISPATCH_MANUAL) return DL_STATUS_INVALID_DEVICE_REQUEST;
  uint32_t st = queue_refuses(q, on ? DL_QCALL_READY_ON : DL_QCALL_READY_OFF);
  if (st) return st;
  q->ready_notify = on ? 2 : 0;  /* 2: tell now if requests wait */
  if (on) dl_wdf_queue_notify(q);
  return DL_STATUS_SUCCESS;
}

/* ---- moving requests ------------------------------------------------------------ */

/* The driver gives r up: it leaves its queue's driver-owned count. */
static void give_up(dl_wdf_request *r) {
  r->presented = 0;
  r->q->in_flight--;
}

/* WdfRequestForwardToIoQueue. */
uint32_t dl_wdf_request_forward(dl_wdf_request *r, dl_wdf_queue *dest) {
  const char *call = "WdfRequestForwardToIoQueue";
  dl_wdfreq_cell c = dl_wdfreq_check(r, DL_RCALL_FORWARD, NULL);
  if (c.kind != DL_RS_ALLOW) return c.status;
  if (dest == r->q) verifier_break(r, call, "cannot be forwarded to its own queue");
  else if (dest->d != r->q->d) verifier_break(r, call, "cannot be forwarded to another device's queue");
  else {
    uint32_t st = queue_refuses(dest, DL_QCALL_FORWARD_IN);
    if (st) return st;  /* STATUS_WDF_BUSY: the driver keeps the request */
    dl_wdf_queue *from = r->q;
    give_up(r);
    dl_list_remove(&r->link);
    r->q = dest;
    dl_list_append(&dest->requests, &r->link);
    dl_list_append(&dest->waiting, &r->wait);
    dl_wdf_request_arm_queue_cancel(r);
    dl_wdf_queue_dispatch(dest);
    dl_wdf_queue_notify(from);
    return DL_STATUS_SUCCESS;
  }
  return DL_STATUS_INVALID_DEVICE_REQUEST;
}

/* WdfRequestRequeue. */
uint32_t dl_wdf_request_requeue(dl_wdf_request *r) {
  dl_wdfreq_cell c = dl_wdfreq_check(r, DL_RCALL_REQUEUE, NULL);
  if (c.kind != DL_RS_ALLOW) return c.status;
  if (r->q->dispatch != DL_WDF_DISPATCH_MANUAL)
    verifier_break(r, "WdfRequestRequeue", "may be requeued only on a manual queue");
  else {
    dl_wdfqueue_cell qc = dl_wdfqueue_check(r->q, DL_QCALL_REQUEUE_IN);
    if (qc.kind != DL_QS_ALLOW && qc.kind != DL_QS_CANCEL) return qc.status;
    give_up(r);
    dl_list_append(r->q->waiting.next, &r->wait);  /* at the head: order kept */
    dl_wdf_request_arm_queue_cancel(r);
    /* Purged: cancelled instead, and STATUS_SUCCESS all the same (FxIoQueue::
    ** Requeue: "no different from the request cancelling while it's in the queue"). */
    if (qc.kind == DL_QS_CANCEL) dl_wdf_request_fail(r, DL_STATUS_CANCELLED);
    return DL_STATUS_SUCCESS;
  }
  return DL_STATUS_INVALID_DEVICE_REQUEST;
}

/* ---- the framework completes requests itself ------------------------------------ */

/* Completes r with status: the IRP goes through the binding's IoCompleteRequest. */
void dl_wdf_request_fail(dl_wdf_request *r, uint32_t status) {
  dl_wdf_queue *q = r->q;
  if (!r->presented) take(q, r);
  dl_wdf_ops const *ops = q->d->ops;
  void *ctx = q->d->ctx;
  dl_irp *irp = dl_wdf_request_complete(r, status, 0);
  if (irp) {
    if (ops && ops->complete_irp) ops->complete_irp(ctx, irp);
    else dl_io_complete_request(irp);
  }
  dl_wdf_queue_dispatch(q);
}

/* IoCancelIrp on a request waiting in its queue. */
static void on_queue_cancel(void *ctx, dl_irp *irp) {
  dl_wdf_request *r = ctx;
  if (irp && dl_io_cancel_spin_lock_held(r->m)) dl_io_release_cancel_spin_lock(r->m, irp->cancel_irql);
  dl_wdf_queue *q = r->q;
  const dl_wdf_ops *ops = q->d->ops;
  if (q->has_canceled_on_queue && ops && ops->canceled_on_queue) {
    take(q, r);  /* the driver's, to complete */
    ops->canceled_on_queue(q->d->ctx, q, r);
    return;
  }
  dl_wdf_request_fail(r, DL_STATUS_CANCELLED);
}

/* The framework cancels r waiting in its queue (a purge). */
void dl_wdf_request_cancel_waiting(dl_wdf_request *r) {
  if (r->irp) {
    r->irp->cancel = 1;
    dl_io_set_cancel_routine(r->irp, NULL, NULL);
  }
  on_queue_cancel(r, r->irp);
}

/* Arms the queue's cancel routine on r's IRP while r waits. */
void dl_wdf_request_arm_queue_cancel(dl_wdf_request *r) {
  if (r->irp) dl_io_set_cancel_routine(r->irp, on_queue_cancel, r);
}

/* AllowZeroLengthRequests. */
void dl_wdf_queue_set_allow_zero_length(dl_wdf_queue *q, int allow) { q->allow_zero_length = allow; }

/* A zero-length read or write the queue completes itself. */
int dl_wdf_request_zero_length(dl_wdf_request *r) {
  dl_irp *irp = r->irp;
  if (r->q->allow_zero_length || !irp || irp->length ||
      (irp->major != DL_IRP_MJ_READ && irp->major != DL_IRP_MJ_WRITE))
    return 0;
  dl_wdf_request_fail(r, DL_STATUS_SUCCESS);
  return 1;
}

/* EvtIoCanceledOnQueue registered. */
void dl_wdf_queue_set_canceled_on_queue(dl_wdf_queue *q, int has) { q->has_canceled_on_queue = has; }
