/*
** dl_irpstate.c: the IRP's state table (see dl_irpstate.h): which IRP calls
** each state allows, and the report of each one it refuses.
*/
#include "io/dl_irpstate.h"

#include "machine/dl_verifier.h"

#define A {DL_IRP_ALLOW, 0, 0}
#define S {DL_IRP_STATUS, 0, 0}
#define N {DL_IRP_NOOP, 0, 0}
#define TWICE {DL_IRP_REFUSE, DL_BUGCHECK_MULTIPLE_IRP_COMPLETE, 0}
#define CAN_SEND {DL_IRP_REFUSE, DL_BUGCHECK_IOMANAGER, DL_IOV_CALL_CANCELABLE}     /* 0x203 */
#define CAN_DONE {DL_IRP_FORCE, DL_BUGCHECK_IOMANAGER, DL_IOV_COMPLETE_CANCELABLE}  /* 0x07 */
#define QSEND {DL_IRP_REFUSE, DL_BUGCHECK_IOMANAGER, DL_IOV_FORWARD_QUEUED}        /* 0x205 */
#define INUSE {DL_IRP_REFUSE, DL_BUGCHECK_IOMANAGER, DL_IOV_FREE_IN_USE}           /* 0x20B */

/* table[row][call]. Columns: IoCallDriver, IoCompleteRequest,
** IoMarkIrpPending, IoStartPacket, IoStartNextPacket's pick,
** IoGetCurrentIrpStackLocation, IoSkipCurrentIrpStackLocation,
** IoCopyCurrentIrpStackLocationToNext, IoSetCompletionRoutine(Ex),
** IoSetCancelRoutine, IoCancelIrp, IoFreeIrp, the copy-back.
**
** Only the driver that has the IRP may send, complete or forward it: a
** queued IRP is the device queue's until StartIo gets it (sending it on is
** 0x205, its stack locations are StartIo's to use; completing it is
** refused with a status, as the lab always did), and a completion routine
** that re-sends or completes it must return STATUS_MORE_PROCESSING_REQUIRED
** (dl_irp_complete reports it when it does not), so those are allowed
** there, but not a queue the walk would complete under. A cancel routine
** must be cleared before the IRP is sent on (0x203, refused: the routine
** would cancel an IRP another driver has) or completed (0x07: completion
** goes on, as without the verifier; a completed IRP is never cancelled).
** Only the device queue's head is picked for StartIo. An IRP in use cannot
** be freed (0x20B); a completed one is touched only by IoFreeIrp, a read of
** its stack location, IoCancelIrp (which ignores it) and the I/O manager's
** copy-back, which happens once, at completion. */
static const dl_irp_cell table[DL_IRPROW_COUNT][DL_IRPCALL_COUNT] = {
  /*                 Call      Complete  Mark Start Next Get Skip Copy Rout Canc Cancel Free   Back */
  /* not sent   */ { A,        S,        A,   S,    S,   A,  S,   S,   S,   A,   N,     A,     S },
  /* dispatched */ { A,        A,        A,   A,    S,   A,  A,   A,   A,   A,   A,     INUSE, S },
  /* pending    */ { A,        A,        A,   A,    S,   A,  A,   A,   A,   A,   A,     INUSE, S },
  /* cancelable */ { CAN_SEND, CAN_DONE, A,   A,    S,   A,  A,   A,   A,   A,   A,     INUSE, S },
  /* queued     */ { QSEND,    S,        A,   S,    A,   A,  S,   S,   S,   A,   A,     INUSE, S },
  /* current    */ { A,        A,        A,   S,    S,   A,  A,   A,   A,   A,   A,     INUSE, S },
  /* current+cr */ { CAN_SEND, CAN_DONE, A,   S,    S,   A,  A,   A,   A,   A,   A,     INUSE, S },
  /* completing */ { A,        A,        A,   S,    S,   A,  A,   A,   A,   A,   A,     INUSE, S },
  /* completed  */ { S,        TWICE,    S,   S,    S,   A,  S,   S,   S,   S,   N,     A,     A },
};

static const char *const row_names[DL_IRPROW_COUNT] = {
  "not sent (never passed to IoCallDriver)", "held by a driver", "held by a driver, marked pending",
  "held by a driver with a cancel routine set", "in its device queue, waiting for StartIo",
  "its device's CurrentIrp (StartIo has it)", "its device's CurrentIrp, with a cancel routine set",
  "being completed (a completion routine of its stack is running)", "completed",
};

static const char *const call_names[DL_IRPCALL_COUNT] = {
  "IoCallDriver", "IoCompleteRequest", "IoMarkIrpPending", "IoStartPacket", "IoStartNextPacket",
  "IoGetCurrentIrpStackLocation", "IoSkipCurrentIrpStackLocation",
  "IoCopyCurrentIrpStackLocationToNext", "IoSetCompletionRoutine", "IoSetCancelRoutine",
  "IoCancelIrp", "IoFreeIrp", "IoCompleteRequest (copy-back)",
};

/* The table's cell. */
dl_irp_cell dl_irp_cell_at(int row, int call) {
  if (row < 0 || row >= DL_IRPROW_COUNT || call < 0 || call >= DL_IRPCALL_COUNT)
    return (dl_irp_cell)S;
  return table[row][call];
}

const char *dl_irp_row_name(int row) {
  return row >= 0 && row < DL_IRPROW_COUNT ? row_names[row] : "?";
}

const char *dl_irp_call_name(int call) {
  return call >= 0 && call < DL_IRPCALL_COUNT ? call_names[call] : "?";
}

/* The report of a refused or forced cell, with the parameters the WDK
** gives (the lab's ids stand for addresses). */
static void report(dl_machine *m, uint64_t irp, int row, dl_irp_cell c, const char *name) {
  unsigned long long id = (unsigned long long)irp;
  switch (c.p1) {
    case 0:  /* 0x44 */
      dl_verify_fail(m, c.bugcheck, 0, irp, 0, 0,
                     "%s: MULTIPLE_IRP_COMPLETE_REQUESTS (0x44): IRP#%llu was already completed",
                     name, id);
      break;
    case DL_IOV_COMPLETE_CANCELABLE:
      dl_verify_fail(m, c.bugcheck, c.p1, 0, irp, 0,
                     "%s: IRP#%llu still has a cancel routine (IoSetCancelRoutine(Irp, NULL) "
                     "before completing it)", name, id);
      break;
    case DL_IOV_CALL_CANCELABLE:
      dl_verify_fail(m, c.bugcheck, c.p1, irp, 0, 0,
                     "%s: IRP#%llu is passed on with its cancel routine still set "
                     "(IoSetCancelRoutine(Irp, NULL) first)", name, id);
      break;
    case DL_IOV_FORWARD_QUEUED:
      dl_verify_fail(m, c.bugcheck, c.p1, irp, 0, 0,
                     "%s: IRP#%llu is in a device queue waiting for StartIo: it cannot be passed "
                     "down", name, id);
      break;
    default:
      dl_verify_fail(m, c.bugcheck, c.p1, irp, 0, 0, "%s: IRP#%llu is still in use (%s)",
                     name, id, row_names[row]);
  }
}

/* Consults the table once; a refused or forced call is reported. */
int dl_irpstate_check(dl_machine *m, uint64_t irp_id, int row, int call, const char *name) {
  dl_irp_cell c = dl_irp_cell_at(row, call);
  if (c.kind == DL_IRP_REFUSE || c.kind == DL_IRP_FORCE)
    report(m, irp_id, row, c, name ? name : dl_irp_call_name(call));
  return c.kind;
}
