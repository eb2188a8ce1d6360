/*
** dl_wdfreqstate.c: the request state table (see dl_wdfreqstate.h). The
** cells follow FxRequest and FxIoQueue under the KMDF verifier
** (fxrequest.cpp, fxrequestapi.cpp, fxioqueue.cpp): MarkCancelable(Ex) and
** UnmarkCancelable go through FxIoQueue::VerifyRequestCancelable (driver
** owned, then not / already cancelable), ForwardToIoQueue and Requeue need
** a request the driver owns and has unmarked, WdfRequestIsCanceled one the
** driver owns and has not marked (VerifyWdfRequestIsCanceled: FALSE
** otherwise), completing a cancelable request breaks and completes it, and
** every call on a completed request fails VerifyRequestIsNotCompleted
** (STATUS_INTERNAL_ERROR). Buffers and the information need only a live
** request (a FindRequest handle may read them).
*/
#include "wdf/dl_wdfreqstate.h"

#include "base/dl_ntstatus.h"
#include "io/dl_irp.h"
#include "wdf/dl_wdfobject.h"

#define A {DL_RS_ALLOW, 0}
#define NOW {DL_RS_REPORT, DL_STATUS_INVALID_DEVICE_REQUEST}  /* a verifier break */
#define DON {DL_RS_REPORT, DL_STATUS_INTERNAL_ERROR}          /* VerifyRequestIsNotCompleted */
#define WRN {DL_RS_WARN, 0}
#define CXL {DL_RS_STATUS, DL_STATUS_CANCELLED}
#define OBJ {DL_RS_OBJECT, 0}

/* table[row][call]. Columns: Complete*, MarkCancelable, MarkCancelableEx,
** UnmarkCancelable, ForwardToIoQueue, Requeue, Retrieve*Buffer/Memory/WdmMdl,
** SetInformation, IsCanceled, WdfObjectDelete. */
static const dl_wdfreq_cell table[DL_RROW_COUNT][DL_RCALL_COUNT] = {
  /*                    Cmp  Mrk  MrX  Unm  Fwd  Rqu  Buf  Set  IsC  Del */
  /* Queued         */ {NOW, NOW, NOW, NOW, NOW, NOW, A,   A,   NOW, OBJ},
  /* Owned          */ {A,   A,   A,   NOW, A,   A,   A,   A,   A,   OBJ},
  /* Owned, IRP cxl */ {A,   A,   A,   NOW, A,   A,   A,   A,   A,   OBJ},
  /* Cancelable     */ {WRN, NOW, NOW, A,   NOW, NOW, A,   A,   NOW, OBJ},
  /* Cancel called  */ {A,   A,   A,   CXL, A,   A,   A,   A,   A,   OBJ},
  /* Completed      */ {DON, DON, DON, DON, DON, DON, DON, DON, DON, OBJ},
};

static const char *const row_names[DL_RROW_COUNT] = {
  "Queued (not the driver's)", "Owned by the driver", "Owned, its IRP cancelled", "Cancelable",
  "Cancelled (EvtRequestCancel ran)", "Completed",
};

static const char *const call_names[DL_RCALL_COUNT] = {
  "WdfRequestComplete", "WdfRequestMarkCancelable", "WdfRequestMarkCancelableEx",
  "WdfRequestUnmarkCancelable", "WdfRequestForwardToIoQueue", "WdfRequestRequeue",
  "WdfRequestRetrieveBuffer", "WdfRequestSetInformation", "WdfRequestIsCanceled",
  "WdfObjectDelete(WDFREQUEST)",
};

/* The row of r. */
int dl_wdfreq_row(const dl_wdf_request *r) {
  if (r->completed) return DL_RROW_COMPLETED;
  if (!r->presented) return DL_RROW_QUEUED;
  if (r->cancelable) return DL_RROW_CANCELABLE;
  if (r->cancel_called) return DL_RROW_CANCEL_CALLED;
  return r->irp && r->irp->cancel ? DL_RROW_OWNED_CANCELLED : DL_RROW_OWNED;
}

/* The table's cell. */
dl_wdfreq_cell dl_wdfreq_cell_at(int row, int call) {
  if (row < 0 || row >= DL_RROW_COUNT || call < 0 || call >= DL_RCALL_COUNT)
    return (dl_wdfreq_cell){DL_RS_REPORT, DL_STATUS_INVALID_DEVICE_REQUEST};
  return table[row][call];
}

const char *dl_wdfreq_row_name(int row) {
  return row >= 0 && row < DL_RROW_COUNT ? row_names[row] : "?";
}

const char *dl_wdfreq_call_name(int call) {
  return call >= 0 && call < DL_RCALL_COUNT ? call_names[call] : "?";
}

/* Why the verifier objects to `call` in `row` (FxRequest's trace messages). */
static const char *why(int row, int call) {
  switch (row) {
    case DL_RROW_QUEUED: return "is not owned by the driver (it waits in its queue)";
    case DL_RROW_COMPLETED: return "was already completed";
    case DL_RROW_CANCELABLE:
      if (call == DL_RCALL_COMPLETE)
        return "is still cancelable: call WdfRequestUnmarkCancelable first (a race that completes "
               "it twice)";
      if (call == DL_RCALL_MARK || call == DL_RCALL_MARK_EX) return "is already cancelable";
      if (call == DL_RCALL_IS_CANCELED)
        return "is marked cancelable: EvtRequestCancel tells the driver (WdfRequestUnmarkCancelable first)";
      return "is still cancelable (WdfRequestUnmarkCancelable first)";
    default: return "is not cancelable";
  }
}

/* The report 0x10D/0x6 of `name` on request `id` in `row`. */
static void report(dl_machine *m, uint64_t id, int row, int call, const char *name) {
  dl_wdf_report(m, DL_WDF_REQUEST_FATAL_ERROR, 0, id, "%s: WDFREQUEST#%llu %s",
                name ? name : call_names[call], (unsigned long long)id, why(row, call));
}

/* Consults the table once. */
dl_wdfreq_cell dl_wdfreq_check(dl_wdf_request *r, int call, const char *name) {
  int row = dl_wdfreq_row(r);
  dl_wdfreq_cell cell = dl_wdfreq_cell_at(row, call);
  if (cell.kind == DL_RS_REPORT || cell.kind == DL_RS_WARN) report(r->m, r->id, row, call, name);
  return cell;
}

/* The Completed row once the request is gone. */
void dl_wdfreq_report_gone(dl_machine *m, uint64_t id, const char *name) {
  report(m, id, DL_RROW_COMPLETED, DL_RCALL_COMPLETE, name);
}
