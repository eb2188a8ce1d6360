/*
** dl_irpstack.c: stack locations, forwarding and completion routines (see
** dl_irpstack.h).
*/
#include "io/dl_irpstack.h"

#include <string.h>

#include "base/dl_status.h"
#include "io/dl_device.h"
#include "io/dl_irpstate.h"
#include "machine/dl_verifier.h"

/* The state table allows `call`, and the current location is a driver's. */
static int held(dl_irp *irp, int call) {
  return dl_irp_check(irp, call) == DL_IRP_ALLOW && irp->current >= 1 &&
         irp->current <= irp->stack_count;
}

/* IoSkipCurrentIrpStackLocation. */
int dl_irp_skip_current(dl_irp *irp) {
  if (!held(irp, DL_IRPCALL_SKIP)) return DL_ESTATE;
  irp->current++;
  irp->next_ready = 1;
  return DL_OK;
}

/* IoCopyCurrentIrpStackLocationToNext. */
int dl_irp_copy_to_next(dl_irp *irp) {
  if (!held(irp, DL_IRPCALL_COPY) || irp->current < 2) return DL_ESTATE;
  dl_irp_location *next = &irp->stack[irp->current - 1];
  next->device = irp->stack[irp->current].device;  /* IoCallDriver sets the real one */
  next->routine = NULL;
  next->routine_ctx = NULL;
  next->control = 0;
  irp->next_ready = 1;
  return DL_OK;
}

/* IoSetCompletionRoutine. */
int dl_irp_set_routine(dl_irp *irp, dl_irp_routine_fn fn, void *ctx, uint8_t invoke) {
  if (!held(irp, DL_IRPCALL_SET_COMPLETION) || irp->current < 2) return DL_ESTATE;
  dl_irp_location *next = &irp->stack[irp->current - 1];
  next->routine = fn;
  next->routine_ctx = ctx;
  uint8_t mask = DL_SL_INVOKE_ON_CANCEL | DL_SL_INVOKE_ON_SUCCESS | DL_SL_INVOKE_ON_ERROR;
  next->control = (uint8_t)((next->control & ~mask) | (fn ? invoke & mask : 0));
  return DL_OK;
}

/* Accessors. */
int dl_irp_current_location(const dl_irp *irp) { return irp->current; }
int dl_irp_stack_count(const dl_irp *irp) { return irp->stack_count; }
int dl_irp_in_routine(const dl_irp *irp) { return irp->in_routine; }
int dl_irp_pending_returned(const dl_irp *irp) {
  return irp->in_routine ? irp->pending_returned : dl_irp_pending(irp);
}
int dl_irp_can_forward(const dl_irp *irp) {  /* after a skip, current may be past the top */
  return irp->device && !irp->completed && irp->current >= 2 && irp->current <= irp->stack_count + 1;
}

/* The device at the current location. */
dl_device *dl_irp_current_device(const dl_irp *irp) {
  if (!irp->device || irp->current < 1 || irp->current > irp->stack_count) return NULL;
  return irp->stack[irp->current].device;
}

/* 1 if dev still has the IRP. */
int dl_irp_uses_device(const dl_irp *irp, const dl_device *dev) {
  if (!irp->device || irp->completed) return 0;
  for (int i = irp->current < 1 ? 1 : irp->current; i <= irp->stack_count; i++)
    if (irp->stack[i].device == dev) return 1;
  return 0;
}

/* First send. */
void dl_irp_stack_start(dl_irp *irp, dl_device *dev) {
  uint8_t n = dev->stack_size ? dev->stack_size : 1;
  irp->stack_count = n > DL_IRP_STACK_MAX ? DL_IRP_STACK_MAX : n;
  memset(irp->stack, 0, sizeof irp->stack);
  irp->current = irp->stack_count;
  irp->stack[irp->current].device = dev;
  irp->next_ready = 0;
}

/* A send down. */
int dl_irp_stack_forward(dl_irp *irp, dl_device *dev) {
  if (!dl_irp_can_forward(irp)) return DL_ESTATE;
  if (!irp->next_ready) {
    unsigned long long id = (unsigned long long)irp->id;
    dl_verify_fail(irp->m, DL_BUGCHECK_IOMANAGER, DL_IOV_STACK_NOT_COPIED, irp->id, dev->id, 0,
                   "IoCallDriver: IRP#%llu passed down to DEVICE_OBJECT#%llu without "
                   "IoCopyCurrentIrpStackLocationToNext or IoSkipCurrentIrpStackLocation", id,
                   (unsigned long long)dev->id);
    dl_irp_location *next = &irp->stack[irp->current - 1];
    next->control &= (uint8_t)~DL_SL_PENDING_RETURNED;  /* goes on as with a copy */
  }
  irp->current--;
  irp->stack[irp->current].device = dev;
  irp->next_ready = 0;
  irp->forwards++;
  return DL_OK;
}

/* IoMarkIrpPending on the current location. */
void dl_irp_stack_mark_pending(dl_irp *irp) {
  if (irp->current >= 1 && irp->current <= irp->stack_count)
    irp->stack[irp->current].control |= DL_SL_PENDING_RETURNED;
}

/* 1 if the location's SL_PENDING_RETURNED is set. */
int dl_irp_location_pending(const dl_irp *irp, int location) {
  if (location < 1 || location > irp->stack_count) return 0;
  return irp->stack[location].control & DL_SL_PENDING_RETURNED ? 1 : 0;
}

/* Whether a routine set with `control` runs for the IRP's final status. */
static int invoked(const dl_irp *irp, uint8_t control) {
  int ok = (int32_t)irp->status >= 0;  /* NT_SUCCESS */
  return (ok && (control & DL_SL_INVOKE_ON_SUCCESS)) || (!ok && (control & DL_SL_INVOKE_ON_ERROR)) ||
         (irp->cancel && (control & DL_SL_INVOKE_ON_CANCEL));
}

/* Runs the routine of the location just left; returns 1 on MORE_PROCESSING_REQUIRED. */
static int run_routine(dl_irp *irp, dl_irp_location *loc, int pending) {
  int above = irp->current;  /* the setter's location, stack_count + 1 past the top */
  dl_device *dev = above <= irp->stack_count ? irp->stack[above].device : NULL;
  dl_irp_routine_fn fn = loc->routine;
  loc->routine = NULL;  /* runs once */
  uint8_t outer = irp->in_routine;
  irp->in_routine = 1;
  uint32_t st = fn(loc->routine_ctx, dev, irp, above - 1);
  irp->in_routine = outer;
  if (st == DL_STATUS_MORE_PROCESSING_REQUIRED) return 1;
  if (pending && above <= irp->stack_count && !dl_irp_location_pending(irp, above)) {
    dl_verify_fail(irp->m, DL_BUGCHECK_IOMANAGER, DL_IOV_ROUTINE_NOT_PENDING, irp->id, above, 0,
                   "IoCompleteRequest: the completion routine of IRP#%llu returned with "
                   "PendingReturned set without calling IoMarkIrpPending",
                   (unsigned long long)irp->id);
    irp->stack[above].control |= DL_SL_PENDING_RETURNED;
  }
  return 0;
}

/* Walks completion up from the current location. */
int dl_irp_stack_complete(dl_irp *irp) {
  while (irp->current >= 1 && irp->current <= irp->stack_count) {
    dl_irp_location *loc = &irp->stack[irp->current];
    int pending = loc->control & DL_SL_PENDING_RETURNED;
    irp->pending_returned = (uint8_t)(pending != 0);
    irp->current++;
    if (irp->current > irp->stack_count) irp->pending = pending != 0;  /* the originator's view */
    if (loc->routine && invoked(irp, loc->control)) {
      if (run_routine(irp, loc, pending)) return 1;
    } else if (pending && irp->current <= irp->stack_count) {
      irp->stack[irp->current].control |= DL_SL_PENDING_RETURNED;  /* as IoCompleteRequest does */
    }
  }
  return 0;
}
