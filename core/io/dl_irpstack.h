/*
** dl_irpstack.h: an IRP's stack locations as drivers in a device stack
** use them: IoCallDriver passing an IRP down (dl_driver.h), and the calls
** a driver makes before it does so: IoSkipCurrentIrpStackLocation,
** IoCopyCurrentIrpStackLocationToNext, IoSetCompletionRoutine(Ex).
**
** The I/O manager gives an IRP the StackSize of the device it is first
** sent to. Location stack_count is the top driver's; each IoCallDriver moves
** CurrentLocation one down, a skip one up (so the driver beneath reuses the
** caller's location and what the caller's caller set in it). Completion
** walks back up: at each location its PendingReturned is passed on, and a
** completion routine set in it runs (InvokeOnSuccess / OnError / OnCancel
** as the final status says); STATUS_MORE_PROCESSING_REQUIRED stops the walk,
** the IRP stays with the routine's driver, which completes it again later.
**
** Rules (bug check 0xC9, I/O verification, the WDK's P1): passing an IRP
** down with neither a copy nor a skip is 0x212 (the stack was not copied:
** the call goes on as with a copy); a completion routine that returns with
** PendingReturned set without marking its own location pending is 0x228
** (marked for it, goes on). No stack location left below is refused
** (DL_ESTATE; the caller is told), as are calls on a completed IRP or on
** one in its device queue (its locations are StartIo's: dl_irpstate.h).
*/
#ifndef DL_IRPSTACK_H
#define DL_IRPSTACK_H

#include "io/dl_irp.h"

/* IO_STACK_LOCATION.Control bits (wdm.h values). */
enum {
  DL_SL_PENDING_RETURNED = 0x01,
  DL_SL_INVOKE_ON_CANCEL = 0x20,
  DL_SL_INVOKE_ON_SUCCESS = 0x40,
  DL_SL_INVOKE_ON_ERROR = 0x80
};

/* Parameter 1 of bug check 0xC9 for forwarding. */
enum {
  DL_IOV_STACK_NOT_COPIED = 0x212,       /* sent on without a copy or a skip */
  DL_IOV_ROUTINE_NOT_PENDING = 0x228     /* PendingReturned not propagated */
};

/* IoSkipCurrentIrpStackLocation: DL_ESTATE unless the IRP is sent, not
** completed, and its current location is a driver's. */
int dl_irp_skip_current(dl_irp *irp);

/* IoCopyCurrentIrpStackLocationToNext (not the completion routine nor
** Control): DL_ESTATE as for a skip, or with no location below. */
int dl_irp_copy_to_next(dl_irp *irp);

/* IoSetCompletionRoutine(Irp, Routine, Context, InvokeOnSuccess,
** InvokeOnError, InvokeOnCancel) in the next-lower location (invoke: the
** DL_SL_INVOKE_ON_* bits); fn NULL clears it. DL_ESTATE as for a copy. */
int dl_irp_set_routine(dl_irp *irp, dl_irp_routine_fn fn, void *ctx, uint8_t invoke);

/* The current location (CurrentLocation) and the stack's size. */
int dl_irp_current_location(const dl_irp *irp);
int dl_irp_stack_count(const dl_irp *irp);

/* The device at the current location (the driver that has the IRP now),
** or NULL if not sent or past the top. */
dl_device *dl_irp_current_device(const dl_irp *irp);

/* 1 if the IRP is sent, not completed, and has a location below the current. */
int dl_irp_can_forward(const dl_irp *irp);

/* Irp->PendingReturned: inside a completion routine, what the location
** beneath it returned; elsewhere dl_irp_pending. */
int dl_irp_pending_returned(const dl_irp *irp);

/* 1 while a completion routine of its stack runs (the IRP must not be freed). */
int dl_irp_in_routine(const dl_irp *irp);

/* 1 if dev still has the IRP: it is not completed and dev is at the current
** location or one above it. */
int dl_irp_uses_device(const dl_irp *irp, const dl_device *dev);

/* A send down (IoCallDriver of a sent IRP): the next location becomes
** current, dev's; reports 0x212 for a stack not set up. DL_ESTATE if none is left. */
int dl_irp_stack_forward(dl_irp *irp, dl_device *dev);

#endif
