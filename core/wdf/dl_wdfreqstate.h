/*
** dl_wdfreqstate.h: the KMDF request's state machine written down as one
** table: a row per state of a WDFREQUEST the framework presented (waiting in
** its queue, the driver's, marked cancelable, cancelled, completed), a column
** per WdfRequest* call that depends on it, and in each cell what FxRequest
** does:
**
**   allowed; refused with report 0x10D, P1 0x6 (WDF_REQUEST_FATAL_ERROR),
**   P2 0, P3 the request's id, and the status the call returns (the KMDF
**   verifier's checks VerifyRequestIsDriverOwned, ...IsNotCancelable,
**   ...IsCancelable, ...IsNotCompleted: FxVerifierDbgBreakPoint and
**   STATUS_INVALID_DEVICE_REQUEST or STATUS_INTERNAL_ERROR; the request
**   stays as it was); reported but carried out (completing a request still
**   marked cancelable: the framework breaks, then completes it); refused
**   with a status alone (WdfRequestUnmarkCancelable once EvtRequestCancel
**   ran: STATUS_CANCELLED); or refused by the object layer (WdfObjectDelete
**   of a request the framework presented: the framework owns it).
**
** The completion's other rule (Information beyond the buffer, P2 0x4) and
** the I/O method's rules for buffers are not states: they stay with the calls.
** A completed request is gone at once unless a callback runs on it (its
** EvtCleanupCallback): the Completed row; afterwards its handle remembers
** only its id, and WdfRequestComplete on it is reported from that row too.
*/
#ifndef DL_WDFREQSTATE_H
#define DL_WDFREQSTATE_H

#include <stdint.h>

#include "wdf/dl_wdf.h"

/* The rows. */
enum {
  DL_RROW_QUEUED,          /* waiting in its queue (a FindRequest handle): not the driver's */
  DL_RROW_OWNED,           /* presented or retrieved: the driver's */
  DL_RROW_OWNED_CANCELLED, /* the driver's, not cancelable, its IRP cancelled (IoCancelIrp) */
  DL_RROW_CANCELABLE,      /* WdfRequestMarkCancelable(Ex), not yet unmarked or cancelled */
  DL_RROW_CANCEL_CALLED,   /* cancelled while cancelable: EvtRequestCancel ran or runs */
  DL_RROW_COMPLETED,       /* completed (in its EvtCleanupCallback, or its handle's id) */
  DL_RROW_COUNT
};

/* The columns. */
enum {
  DL_RCALL_COMPLETE,       /* WdfRequestComplete, ...WithInformation, ...WithPriorityBoost */
  DL_RCALL_MARK,           /* WdfRequestMarkCancelable */
  DL_RCALL_MARK_EX,        /* WdfRequestMarkCancelableEx */
  DL_RCALL_UNMARK,         /* WdfRequestUnmarkCancelable */
  DL_RCALL_FORWARD,        /* WdfRequestForwardToIoQueue */
  DL_RCALL_REQUEUE,        /* WdfRequestRequeue */
  DL_RCALL_BUFFER,         /* WdfRequestRetrieveInput/OutputBuffer, ...Memory, ...WdmMdl */
  DL_RCALL_SET_INFORMATION, /* WdfRequestSetInformation (GetInformation, GetParameters and
                             ** GetStatus read the IRP: no state rule) */
  DL_RCALL_IS_CANCELED,    /* WdfRequestIsCanceled */
  DL_RCALL_DELETE,         /* WdfObjectDelete(WDFREQUEST) */
  DL_RCALL_COUNT
};

/* What a cell says. */
enum {
  DL_RS_ALLOW,   /* the call does its work */
  DL_RS_REPORT,  /* refused with report 0x10D/0x6 and `status`; nothing changes */
  DL_RS_WARN,    /* reported 0x10D/0x6, then carried out */
  DL_RS_STATUS,  /* refused with `status` alone */
  DL_RS_OBJECT   /* refused by the object layer (DL_ESTATE): the framework owns the request */
};

/* A cell. */
typedef struct dl_wdfreq_cell {
  uint8_t kind;     /* DL_RS_* */
  uint32_t status;  /* the NTSTATUS of a refusal */
} dl_wdfreq_cell;

/* The row r is in. */
int dl_wdfreq_row(const dl_wdf_request *r);

/* The table's cell ({DL_RS_REPORT, STATUS_INVALID_DEVICE_REQUEST} outside it). */
dl_wdfreq_cell dl_wdfreq_cell_at(int row, int call);

/* Consults the table for `call` (named `name` in the report, NULL: the
** column's name) on r: reports a refused or warned call. Returns the cell. */
dl_wdfreq_cell dl_wdfreq_check(dl_wdf_request *r, int call, const char *name);

/* The Completed row for a request that is gone (its id): reports `name`. */
void dl_wdfreq_report_gone(dl_machine *m, uint64_t id, const char *name);

/* Names of a row and of a column, for messages and tests. */
const char *dl_wdfreq_row_name(int row);
const char *dl_wdfreq_call_name(int call);

#endif
