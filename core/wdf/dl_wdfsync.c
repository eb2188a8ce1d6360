/*
** dl_wdfsync.c: WDFSPINLOCK, WDFWAITLOCK and object locks (dl_wdfsync.h).
*/
#include "wdf/dl_wdfsync.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/dl_ntstatus.h"
#include "base/dl_status.h"
#include "kernel/dl_event.h"
#include "machine/dl_machine.h"
#include "wdf/dl_wdf.h"

static void lock_free(dl_wdf_object *o) {
  dl_wdf_object_fini(o);
  free(o);
}

static const dl_wdf_class spinlock_class = {
  {"WDFSPINLOCK", dl_wdf_object_free, NULL, NULL, &dl_wdf_family}, DL_WDF_DELETABLE, NULL, lock_free
};
static const dl_wdf_class waitlock_class = {
  {"WDFWAITLOCK", dl_wdf_object_free, NULL, NULL, &dl_wdf_family}, DL_WDF_DELETABLE, NULL, lock_free
};

/* WdfSpinLockCreate. */
int dl_wdf_spinlock_new(dl_machine *m, dl_wdf_object *parent, dl_wdf_spinlock **out) {
  dl_wdf_verify_irql(m, "WdfSpinLockCreate", 0, DL_DISPATCH_LEVEL);
  dl_wdf_spinlock *s = calloc(1, sizeof *s);
  if (!s) return DL_ENOMEM;
  dl_wdf_object_init(DL_WDF(s), m, &spinlock_class, dl_wdf_default_parent(m, parent));
  *out = s;
  return DL_OK;
}

/* WdfWaitLockCreate. */
int dl_wdf_waitlock_new(dl_machine *m, dl_wdf_object *parent, dl_wdf_waitlock **out) {
  dl_wdf_verify_irql(m, "WdfWaitLockCreate", 0, DL_DISPATCH_LEVEL);
  dl_wdf_waitlock *w = calloc(1, sizeof *w);
  if (!w) return DL_ENOMEM;
  dl_wdf_object_init(DL_WDF(w), m, &waitlock_class, dl_wdf_default_parent(m, parent));
  *out = w;
  return DL_OK;
}

/* WDF_RECURSIVE_LOCK / WDF_INVALID_LOCK_OPERATION unless the lock is as wanted. */
static int held_as(dl_wdf_object *o, const char *call, int held, int want) {
  if (held == want) return 1;
  dl_wdf_report(o->m, held ? DL_WDF_LOCK_HELD : DL_WDF_INVALID_LOCK_OPERATION, o->id, 0,
                "%s: %s#%llu is %s", call, o->type->name, (unsigned long long)o->id,
                held ? "held already (a recursive acquire: on a real machine a deadlock)"
                     : "not held");
  return 0;
}

/* Raises to DISPATCH_LEVEL, returning the IRQL before (never lowers). */
static uint8_t raise(dl_machine *m) {
  uint8_t old = dl_machine_irql(m);
  if (old < DL_DISPATCH_LEVEL) dl_machine_set_irql(m, DL_DISPATCH_LEVEL);
  return old;
}

/* Lowers back to old (never raises). */
static void restore(dl_machine *m, uint8_t old) {
  if (old <= dl_machine_irql(m)) dl_machine_set_irql(m, old);
}

/* WdfSpinLockAcquire. */
int dl_wdf_spinlock_acquire(dl_wdf_spinlock *s) {
  dl_wdf_verify_irql(s->m, "WdfSpinLockAcquire", 0, DL_DISPATCH_LEVEL);
  if (!held_as(DL_WDF(s), "WdfSpinLockAcquire", s->held, 0)) return DL_ESTATE;
  s->held = 1;
  s->old_irql = raise(s->m);
  return DL_OK;
}

/* WdfSpinLockRelease. */
int dl_wdf_spinlock_release(dl_wdf_spinlock *s) {
  if (!held_as(DL_WDF(s), "WdfSpinLockRelease", s->held, 1)) return DL_ESTATE;
  dl_wdf_verify_irql(s->m, "WdfSpinLockRelease", 1, DL_DISPATCH_LEVEL);
  s->held = 0;
  restore(s->m, s->old_irql);
  return DL_OK;
}

/* WdfWaitLockAcquire. */
int dl_wdf_waitlock_acquire(dl_wdf_waitlock *w, const int64_t *timeout, uint32_t *status) {
  int poll = timeout && *timeout == 0;
  dl_wdf_verify_irql(w->m, "WdfWaitLockAcquire", 0, poll ? DL_DISPATCH_LEVEL : DL_APC_LEVEL);
  *status = DL_STATUS_TIMEOUT;
  if (w->held && poll) return DL_OK;
  if (!held_as(DL_WDF(w), "WdfWaitLockAcquire", w->held, 0)) return DL_ESTATE;
  w->held = 1;
  *status = 0;
  return DL_OK;
}

/* WdfWaitLockRelease. */
int dl_wdf_waitlock_release(dl_wdf_waitlock *w) {
  dl_wdf_verify_irql(w->m, "WdfWaitLockRelease", 0, DL_DISPATCH_LEVEL);
  if (!held_as(DL_WDF(w), "WdfWaitLockRelease", w->held, 1)) return DL_ESTATE;
  w->held = 0;
  return DL_OK;
}

/* ---- object locks --------------------------------------------------------- */

/* The lock of a device or queue lives in a context slot of its own name,
** the slot holding 1 | old IRQL << 8 while held: no allocation per acquire. */
#define LOCK_SLOT "\001presentation lock"

/* The object's lock slot, or NULL (and a report) if it has no lock. */
static void **lock_slot(dl_wdf_object *o, const char *call) {
  const char *name = o->type->name;
  if (strcmp(name, "WDFDEVICE") == 0 || strcmp(name, "WDFQUEUE") == 0) {
    void **slot = dl_wdf_object_context(o, LOCK_SLOT, 1);
    if (slot) return slot;
  }
  dl_wdf_report(o->m, DL_WDF_INVALID_LOCK_OPERATION, o->id, 0,
                "%s: a %s has no lock (a WDFDEVICE or WDFQUEUE has)", call, name);
  return NULL;
}

/* WdfObjectAcquireLock. */
int dl_wdf_object_acquire_lock(dl_wdf_object *o) {
  dl_wdf_verify_irql(o->m, "WdfObjectAcquireLock", 0, DL_DISPATCH_LEVEL);
  void **slot = lock_slot(o, "WdfObjectAcquireLock");
  if (!slot) return DL_ESTATE;
  if (!held_as(o, "WdfObjectAcquireLock", *slot != NULL, 0)) return DL_ESTATE;
  *slot = (void *)(uintptr_t)(1u | (unsigned)raise(o->m) << 8);
  return DL_OK;
}

/* WdfObjectReleaseLock. */
int dl_wdf_object_release_lock(dl_wdf_object *o) {
  void **slot = lock_slot(o, "WdfObjectReleaseLock");
  if (!slot) return DL_ESTATE;
  if (!held_as(o, "WdfObjectReleaseLock", *slot != NULL, 1)) return DL_ESTATE;
  uint8_t old = (uint8_t)((uintptr_t)*slot >> 8);
  *slot = NULL;
  restore(o->m, old);
  return DL_OK;
}

/* Whether the object's lock is held. */
int dl_wdf_object_lock_held(dl_wdf_object *o) {
  void **slot = dl_wdf_object_context(o, LOCK_SLOT, 0);
  return slot && *slot;
}
