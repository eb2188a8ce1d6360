/*
** dl_wdfqueuestate.c: the queue state table (see dl_wdfqueuestate.h). The
** cells follow FxIoQueue (fxioqueue.cpp): QueueIdle / QueuePurge / QueueDrain
** test m_Deleted first and WdfIoQueueStop/Purge/Drain turn a failure into
** FatalError; GetRequest answers STATUS_WDF_PAUSED while powered off or not
** dispatching; QueueRequest completes an IRP the queue does not accept with
** STATUS_INVALID_DEVICE_STATE and QueueRequestFromForward answers
** STATUS_WDF_BUSY; Requeue into a purged queue cancels the request;
** ReadyNotify answers STATUS_DELETE_PENDING on a deleted queue and breaks
** (FxVerifierDbgBreakPoint) when unregistered while the queue dispatches.
*/
#include "wdf/dl_wdfqueuestate.h"

#include "base/dl_ntstatus.h"
#include "wdf/dl_wdfobject.h"

#define A {DL_QS_ALLOW, 0}
#define N {DL_QS_NOOP, 0}
#define PAU {DL_QS_STATUS, DL_STATUS_WDF_PAUSED}
#define BSY {DL_QS_STATUS, DL_STATUS_WDF_BUSY}
#define IDS {DL_QS_STATUS, DL_STATUS_INVALID_DEVICE_STATE}
#define DPS {DL_QS_STATUS, DL_STATUS_DELETE_PENDING}
#define BRK {DL_QS_REPORT, DL_STATUS_INVALID_DEVICE_REQUEST}
#define DEL {DL_QS_REPORT, DL_STATUS_DELETE_PENDING}
#define CXL {DL_QS_CANCEL, 0}
#define NON {DL_QS_NONE, 0}

/* table[row][call]. Columns: Start, Stop, Stop(cb), StopSynchronously,
** Purge, Purge(cb), PurgeSynchronously, Drain, Drain(cb), DrainSynchronously,
** ReadyNotify(on), ReadyNotify(off), RetrieveNextRequest, ...ByFileObject,
** FindRequest, RetrieveFoundRequest, an IRP arriving, a forward into it, a
** requeue, WdfObjectDelete. */
static const dl_wdfqueue_cell table[DL_QROW_COUNT][DL_QCALL_COUNT] = {
  /*              Sta Stp StC StS Prg PrC PrS Drn DrC DrS RdOn RdOff Ret  RBF  Fnd RFd  Arr  Fwd  Rqu  Del */
  /* Started    */ {A, A,  A,  A,  A,  A,  A,  A,  A,  A,  A,   BRK,  A,   A,   A,  A,   A,   A,   A,   A},
  /* Started,off*/ {A, A,  A,  A,  A,  A,  A,  A,  A,  A,  A,   BRK,  PAU, PAU, A,  PAU, A,   A,   A,   A},
  /* Stopped    */ {A, A,  A,  A,  A,  A,  A,  A,  A,  A,  A,   A,    PAU, PAU, A,  PAU, A,   A,   A,   A},
  /* Drained    */ {A, A,  A,  A,  A,  A,  A,  A,  A,  A,  A,   BRK,  A,   A,   A,  A,   IDS, BSY, A,   A},
  /* Drained,off*/ {A, A,  A,  A,  A,  A,  A,  A,  A,  A,  A,   BRK,  PAU, PAU, A,  PAU, IDS, BSY, A,   A},
  /* Purged     */ {A, A,  A,  A,  A,  A,  A,  A,  A,  A,  A,   A,    PAU, PAU, A,  PAU, IDS, BSY, CXL, A},
  /* Deleting   */ {N, DEL,DEL,DEL,DEL,DEL,DEL,DEL,DEL,DEL,DPS, DPS,  PAU, PAU, A,  PAU, IDS, BSY, NON, N},
};

static const char *const row_names[DL_QROW_COUNT] = {
  "Started", "Started (the device not in D0)", "Stopped", "Drained", "Drained (the device not in D0)",
  "Purged", "Deleting",
};

static const char *const call_names[DL_QCALL_COUNT] = {
  "WdfIoQueueStart", "WdfIoQueueStop", "WdfIoQueueStop", "WdfIoQueueStopSynchronously",
  "WdfIoQueuePurge", "WdfIoQueuePurge", "WdfIoQueuePurgeSynchronously", "WdfIoQueueDrain",
  "WdfIoQueueDrain", "WdfIoQueueDrainSynchronously", "WdfIoQueueReadyNotify",
  "WdfIoQueueReadyNotify", "WdfIoQueueRetrieveNextRequest", "WdfIoQueueRetrieveRequestByFileObject",
  "WdfIoQueueFindRequest", "WdfIoQueueRetrieveFoundRequest", "IRP dispatch",
  "WdfRequestForwardToIoQueue", "WdfRequestRequeue", "WdfObjectDelete(WDFQUEUE)",
};

/* The row of q: its flags, its device's power, its deletion. */
int dl_wdfqueue_row(const dl_wdf_queue *q) {
  if (dl_wdf_object_disposing(DL_WDF(q))) return DL_QROW_DELETING;
  int d0 = q->d->state == DL_WDF_STARTED;
  if (!q->refusing) {
    if (q->stopped) return DL_QROW_STOPPED;
    return d0 ? DL_QROW_STARTED : DL_QROW_STARTED_OFF;
  }
  if (q->stopped) return DL_QROW_PURGED;
  return d0 ? DL_QROW_DRAINED : DL_QROW_DRAINED_OFF;
}

/* The table's cell. */
dl_wdfqueue_cell dl_wdfqueue_cell_at(int row, int call) {
  if (row < 0 || row >= DL_QROW_COUNT || call < 0 || call >= DL_QCALL_COUNT)
    return (dl_wdfqueue_cell){DL_QS_NONE, 0};
  return table[row][call];
}

const char *dl_wdfqueue_row_name(int row) {
  return row >= 0 && row < DL_QROW_COUNT ? row_names[row] : "?";
}

const char *dl_wdfqueue_call_name(int call) {
  return call >= 0 && call < DL_QCALL_COUNT ? call_names[call] : "?";
}

/* The registration `call` would make that one already made forbids, or NULL. */
static const char *registration_taken(const dl_wdf_queue *q, int call) {
  switch (call) {
    case DL_QCALL_STOP_CB:
    case DL_QCALL_STOP_SYNC:
      return q->pending_stop ? "already has a StopComplete callback outstanding" : NULL;
    case DL_QCALL_PURGE_CB:
    case DL_QCALL_PURGE_SYNC:
    case DL_QCALL_DRAIN_CB:
    case DL_QCALL_DRAIN_SYNC:
      return q->pending_op ? "already has a PurgeComplete or DrainComplete callback outstanding" : NULL;
    case DL_QCALL_READY_ON: return q->ready_notify ? "already has a ReadyNotify callback registered" : NULL;
    case DL_QCALL_READY_OFF: return q->ready_notify ? NULL : "has no ReadyNotify callback to unregister";
    default: return NULL;
  }
}

/* Consults the table once; a refusal with a report is 0x10D/0xA. */
dl_wdfqueue_cell dl_wdfqueue_check(dl_wdf_queue *q, int call) {
  int row = dl_wdfqueue_row(q);
  dl_wdfqueue_cell cell = dl_wdfqueue_cell_at(row, call);
  const char *taken = row == DL_QROW_DELETING ? NULL : registration_taken(q, call);
  if (taken) {
    cell = (dl_wdfqueue_cell){DL_QS_REPORT, DL_STATUS_INVALID_DEVICE_REQUEST};
    dl_wdf_report(q->m, DL_WDF_QUEUE_FATAL_ERROR, q->id, cell.status, "%s: WDFQUEUE#%llu %s",
                  call_names[call], (unsigned long long)q->id, taken);
  } else if (cell.kind == DL_QS_REPORT) {
    dl_wdf_report(q->m, DL_WDF_QUEUE_FATAL_ERROR, q->id, cell.status,
                  "%s: WDFQUEUE#%llu is %s (status 0x%08X)", call_names[call],
                  (unsigned long long)q->id, row_names[row], (unsigned)cell.status);
  }
  return cell;
}
