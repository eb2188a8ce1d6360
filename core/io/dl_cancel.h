/*
** dl_cancel.h: IRP cancellation (IoCancelIrp, IoSetCancelRoutine). The
** originator (the lab, m:cancel_irp) cancels; whoever owns the IRP (a
** driver's queue, or the framework's queues and cancelable requests) sets
** a cancel routine while the IRP may wait.
*/
#ifndef DL_CANCEL_H
#define DL_CANCEL_H

#include "io/dl_irp.h"

/* IoSetCancelRoutine: sets the IRP's cancel routine (fn NULL: none);
** returns 1 if it had one before. */
int dl_io_set_cancel_routine(dl_irp *irp, dl_irp_cancel_fn fn, void *ctx);

/* IoCancelIrp (IRQL <= DISPATCH_LEVEL, 0xC9 otherwise; goes on): sets
** Irp->Cancel; if the IRP has a cancel routine, takes it off the IRP and
** calls it at DISPATCH_LEVEL, returning 1; else returns 0. An IRP not sent,
** or completed, is left alone: DL_ESTATE-like 0 with nothing done. */
int dl_io_cancel_irp(dl_irp *irp);

/* Irp->Cancel. */
int dl_irp_cancelled(const dl_irp *irp);

#endif
