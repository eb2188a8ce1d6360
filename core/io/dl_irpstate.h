/*
** dl_irpstate.h: the IRP's life cycle written down as one table: a row per
** state of an IRP as the I/O manager of core/io keeps it, a column per IRP
** call that depends on it, and in each cell what the call does there:
** allowed; refused with the Driver Verifier's report (nothing done); reported
** and carried on as the system does without the verifier; refused with a
** status (DL_ESTATE, nothing done, the binding says why); or a harmless
** no-op. Every one of those calls consults the table once, first.
**
** The reports are the WDK's: 0x44 MULTIPLE_IRP_COMPLETE_REQUESTS, and 0xC9
** DRIVER_VERIFIER_IOMANAGER_VIOLATION with the P1 its page documents:
** 0x07 IoCompleteRequest while a cancel routine is set, 0x203 IoCallDriver
** without clearing the cancel routine, 0x205 forwarding an IRP queued
** beneath the caller, 0x20B IoFreeIrp of an IRP still in use.
**
** The flags of the IRP overlap (a current IRP may have a cancel routine and
** be marked pending); the row is the first that holds of: completed, not
** sent, in a completion routine, queued, current with a cancel routine,
** current, with a cancel routine, marked pending, dispatched. Irp->Cancel
** is no row: it changes no call, only which completion routines run.
*/
#ifndef DL_IRPSTATE_H
#define DL_IRPSTATE_H

#include <stdint.h>

#include "machine/dl_machine.h"

/* The rows. */
enum {
  DL_IRPROW_NOT_SENT,     /* built by the originator, never sent (IoCallDriver) */
  DL_IRPROW_DISPATCHED,   /* a driver has it at a stack location, not marked pending */
  DL_IRPROW_PENDING,      /* ... and marked pending (IoMarkIrpPending) at that location */
  DL_IRPROW_CANCELABLE,   /* a driver has it with a cancel routine set (IoSetCancelRoutine) */
  DL_IRPROW_QUEUED,       /* in its device's queue, waiting for StartIo (IoStartPacket) */
  DL_IRPROW_CURRENT,      /* its device's CurrentIrp (StartIo has it) */
  DL_IRPROW_CURRENT_CANCELABLE, /* CurrentIrp with a cancel routine set */
  DL_IRPROW_COMPLETING,   /* a completion routine of its stack is running */
  DL_IRPROW_COMPLETED,    /* completed: the originator's until it lets it go */
  DL_IRPROW_COUNT
};

/* The columns. */
enum {
  DL_IRPCALL_CALL_DRIVER,     /* IoCallDriver (the first send, or down the stack) */
  DL_IRPCALL_COMPLETE,        /* IoCompleteRequest */
  DL_IRPCALL_MARK_PENDING,    /* IoMarkIrpPending */
  DL_IRPCALL_START_PACKET,    /* IoStartPacket */
  DL_IRPCALL_START_NEXT,      /* picked by IoStartNextPacket for StartIo */
  DL_IRPCALL_GET_LOCATION,    /* IoGetCurrentIrpStackLocation: a read, allowed in every row (the
                              ** lab keeps a completed IRP until let go), so no call consults it */
  DL_IRPCALL_SKIP,            /* IoSkipCurrentIrpStackLocation */
  DL_IRPCALL_COPY,            /* IoCopyCurrentIrpStackLocationToNext */
  DL_IRPCALL_SET_COMPLETION,  /* IoSetCompletionRoutine(Ex) */
  DL_IRPCALL_SET_CANCEL,      /* IoSetCancelRoutine */
  DL_IRPCALL_CANCEL,          /* IoCancelIrp */
  DL_IRPCALL_FREE,            /* IoFreeIrp (the IRP let go by its originator) */
  DL_IRPCALL_COPY_BACK,       /* the I/O manager's copy-back of a buffered request's output */
  DL_IRPCALL_COUNT
};

/* Parameter 1 of bug check 0xC9 for the IRP's state (the WDK's codes). */
enum {
  DL_IOV_COMPLETE_CANCELABLE = 0x07,   /* IoCompleteRequest with a cancel routine set */
  DL_IOV_CALL_CANCELABLE = 0x203,      /* IoCallDriver with a cancel routine set */
  DL_IOV_FORWARD_QUEUED = 0x205,       /* forwarding an IRP queued beneath the caller */
  DL_IOV_FREE_IN_USE = 0x20B           /* IoFreeIrp of an IRP still in use */
};

/* What a cell does. */
enum {
  DL_IRP_ALLOW,   /* the call goes on */
  DL_IRP_REFUSE,  /* reported (bugcheck, p1); nothing done */
  DL_IRP_FORCE,   /* reported (bugcheck, p1); the call goes on, as without the verifier */
  DL_IRP_STATUS,  /* refused with DL_ESTATE, no report; nothing done */
  DL_IRP_NOOP     /* nothing to do: the call returns, nothing done */
};

typedef struct dl_irp_cell {
  uint8_t kind;       /* DL_IRP_* */
  uint32_t bugcheck;  /* the report's bug check (REFUSE, FORCE) */
  uint32_t p1;        /* and its P1 */
} dl_irp_cell;

/* The table's cell (DL_IRP_STATUS outside it). The IRP computes its row
** (dl_irp_row) and consults the table through dl_irp_check (io/dl_irp.h). */
dl_irp_cell dl_irp_cell_at(int row, int call);

/* Consults the table for `call` (named `name` in a report; NULL: the
** column's name) on IRP#irp_id of m in `row`: a refused or forced call is
** reported here. Returns the cell's kind. */
int dl_irpstate_check(dl_machine *m, uint64_t irp_id, int row, int call, const char *name);

/* Names of a row and a column. */
const char *dl_irp_row_name(int row);
const char *dl_irp_call_name(int call);

#endif
