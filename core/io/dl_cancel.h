/*
** dl_cancel.h: IRP cancellation (IoCancelIrp, IoSetCancelRoutine) and the
** cancel spin lock (IoAcquireCancelSpinLock, IoReleaseCancelSpinLock). The
** originator (the lab, calling IoCancelIrp) cancels; whoever owns the IRP
** (a driver's queue, or the framework's queues and cancelable requests)
** sets a cancel routine while the IRP may wait.
**
** IoCancelIrp holds the machine's cancel spin lock when it calls the
** routine (at DISPATCH_LEVEL, Irp->CancelIrql the IRQL it was called at);
** the routine releases it, IoReleaseCancelSpinLock(Irp->CancelIrql), as
** the WDK requires. Misuse is bug check 0xC4 with the parameters of the
** executive spin locks: 0x4000B (the SpinlockRelease rule) for a release
** of the lock not held, an acquire of the lock held (a deadlock on a real
** machine) or a cancel routine returning with the lock held (then
** released for it), 0x42 for an acquire above DISPATCH_LEVEL, 0x32 for a
** release not at DISPATCH_LEVEL. The engine reports and carries on.
*/
#ifndef DL_CANCEL_H
#define DL_CANCEL_H

#include "io/dl_irp.h"

/* IoSetCancelRoutine: sets the IRP's cancel routine (fn NULL: none);
** returns 1 if it had one before, 0 if not, -1 (nothing done) where the
** state table refuses it (a completed IRP, dl_irpstate.h). */
int dl_io_set_cancel_routine(dl_irp *irp, dl_irp_cancel_fn fn, void *ctx);

/* IoCancelIrp (IRQL <= DISPATCH_LEVEL, 0xC9 otherwise; goes on): sets
** Irp->Cancel; if the IRP has a cancel routine, takes it off the IRP and
** calls it at DISPATCH_LEVEL, returning 1; else returns 0. An IRP not sent,
** or completed, is left alone: DL_ESTATE-like 0 with nothing done. */
int dl_io_cancel_irp(dl_irp *irp);

/* Irp->Cancel. */
int dl_irp_cancelled(const dl_irp *irp);

/* Parameter 1 of bug check 0xC4 for the cancel spin lock (as for KSPIN_LOCKs). */
#define DL_CANCEL_LOCK_RELEASE_IRQL 0x32u   /* released not at DISPATCH_LEVEL */
#define DL_CANCEL_LOCK_ACQUIRE_IRQL 0x42u   /* acquired above DISPATCH_LEVEL */
#define DL_CANCEL_LOCK_ALTERNATION 0x4000Bu /* SpinlockRelease: acquire, release, in turn */

/* IoAcquireCancelSpinLock: raises to DISPATCH_LEVEL; *irql the IRQL before. */
void dl_io_acquire_cancel_spin_lock(dl_machine *m, uint8_t *irql);

/* IoReleaseCancelSpinLock(Irql): lowers to irql. */
void dl_io_release_cancel_spin_lock(dl_machine *m, uint8_t irql);

/* Whether the machine's cancel spin lock is held. */
int dl_io_cancel_spin_lock_held(dl_machine *m);

#endif
