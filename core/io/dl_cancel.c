/*
** dl_cancel.c: IoCancelIrp, IoSetCancelRoutine and the cancel spin lock
** (see dl_cancel.h).
*/
#include "io/dl_cancel.h"

#include <stdlib.h>

#include "io/dl_driver.h"
#include "io/dl_irpstate.h"
#include "kernel/dl_cpu.h"
#include "machine/dl_machine.h"
#include "machine/dl_verifier.h"

/* The machine's cancel spin lock: one object, made on first use. */
typedef struct cancel_lock {
  DL_OBJECT_FIELDS
  int held;
} cancel_lock;

static void lock_destroy(dl_object *o) {
  dl_object_unlink(o);
  free(o);
}

static const dl_object_type cancel_lock_type = { "CANCEL_SPIN_LOCK", lock_destroy, NULL, NULL, NULL };

/* The machine's cancel spin lock, made if `make`; NULL if none (or no memory). */
static cancel_lock *lock_of(dl_machine *m, int make) {
  dl_link *head = dl_machine_objects(m);
  for (dl_link *l = head->next; l != head; l = l->next) {
    dl_object *o = DL_CONTAINER(l, dl_object, objects);
    if (o->type == &cancel_lock_type) return (cancel_lock *)o;
  }
  if (!make) return NULL;
  cancel_lock *k = calloc(1, sizeof *k);
  if (k) dl_object_init(DL_OBJECT(k), m, &cancel_lock_type, NULL);
  return k;
}

/* IoAcquireCancelSpinLock. */
void dl_io_acquire_cancel_spin_lock(dl_machine *m, uint8_t *irql) {
  uint8_t now = dl_machine_irql(m);
  *irql = now;
  if (now > DL_DISPATCH_LEVEL)
    dl_verify_fail(m, DL_BUGCHECK_DETECTED_VIOLATION, DL_CANCEL_LOCK_ACQUIRE_IRQL, now, 0, 0,
                   "IoAcquireCancelSpinLock: called at IRQL %u; it must be called at IRQL <= 2",
                   (unsigned)now);
  cancel_lock *k = lock_of(m, 1);
  if (k && k->held)
    dl_verify_fail(m, DL_BUGCHECK_DETECTED_VIOLATION, DL_CANCEL_LOCK_ALTERNATION, 0, 0, 0,
                   "IoAcquireCancelSpinLock: the cancel spin lock is already held (a deadlock)");
  if (k) k->held = 1;
  if (now < DL_DISPATCH_LEVEL) dl_machine_set_irql(m, DL_DISPATCH_LEVEL);
}

/* IoReleaseCancelSpinLock. */
void dl_io_release_cancel_spin_lock(dl_machine *m, uint8_t irql) {
  cancel_lock *k = lock_of(m, 0);
  uint8_t now = dl_machine_irql(m);
  if (!k || !k->held) {
    dl_verify_fail(m, DL_BUGCHECK_DETECTED_VIOLATION, DL_CANCEL_LOCK_ALTERNATION, 0, 0, 0,
                   "IoReleaseCancelSpinLock: the cancel spin lock is not held");
    return;
  }
  if (now != DL_DISPATCH_LEVEL)
    dl_verify_fail(m, DL_BUGCHECK_DETECTED_VIOLATION, DL_CANCEL_LOCK_RELEASE_IRQL, now, 0, 0,
                   "IoReleaseCancelSpinLock: called at IRQL %u; it must be called at DISPATCH_LEVEL",
                   (unsigned)now);
  k->held = 0;
  dl_machine_set_irql(m, irql);
}

/* Whether the cancel spin lock is held. */
int dl_io_cancel_spin_lock_held(dl_machine *m) {
  cancel_lock *k = lock_of(m, 0);
  return k && k->held;
}

/* IoSetCancelRoutine. */
int dl_io_set_cancel_routine(dl_irp *irp, dl_irp_cancel_fn fn, void *ctx) {
  if (dl_irp_check(irp, DL_IRPCALL_SET_CANCEL) != DL_IRP_ALLOW) return -1;
  int had = irp->cancel_routine != NULL;
  irp->cancel_routine = fn;
  irp->cancel_ctx = fn ? ctx : NULL;
  return had;
}

/* IoCancelIrp. */
int dl_io_cancel_irp(dl_irp *irp) {
  dl_machine *m = irp->m;
  uint8_t irql = dl_machine_irql(m);
  if (irql > DL_DISPATCH_LEVEL)
    dl_verify_fail(m, DL_BUGCHECK_IOMANAGER, DL_IOV_MISC, irp->id, irql, 0,
                   "IoCancelIrp: called at IRQL %u; it must be called at IRQL <= 2",
                   (unsigned)irql);
  if (dl_irp_check(irp, DL_IRPCALL_CANCEL) != DL_IRP_ALLOW) return 0;
  irp->cancel = 1;
  dl_irp_cancel_fn fn = irp->cancel_routine;
  void *ctx = irp->cancel_ctx;
  if (!fn) return 0;
  dl_io_acquire_cancel_spin_lock(m, &irp->cancel_irql);
  irp->cancel_routine = NULL;  /* taken under the cancel spin lock */
  irp->cancel_ctx = NULL;
  fn(ctx, irp);
  if (dl_io_cancel_spin_lock_held(m)) {
    dl_verify_fail(m, DL_BUGCHECK_DETECTED_VIOLATION, DL_CANCEL_LOCK_ALTERNATION, irp->id, 0, 0,
                   "IoCancelIrp: the cancel routine of IRP#%llu returned holding the cancel spin "
                   "lock (IoReleaseCancelSpinLock(Irp->CancelIrql) first)",
                   (unsigned long long)irp->id);
    dl_io_release_cancel_spin_lock(m, irp->cancel_irql);
  }
  dl_machine_set_irql(m, irql);
  return 1;
}

/* Irp->Cancel. */
int dl_irp_cancelled(const dl_irp *irp) { return irp->cancel; }
