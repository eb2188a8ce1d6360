/*
** dl_spinlock.c: KSPIN_LOCK and its rules (dl_spinlock.h).
*/
#include "kernel/dl_spinlock.h"

#include <stdlib.h>

#include "base/dl_status.h"
#include "machine/dl_machine.h"
#include "machine/dl_verifier.h"

/* KeInitializeSpinLock. */
int dl_spinlock_new(dl_machine *m, dl_spinlock **out) {
  dl_spinlock *s = calloc(1, sizeof *s);
  if (!s) return DL_ENOMEM;
  dl_object_init(DL_OBJECT(s), m, &dl_spinlock_type, NULL);
  *out = s;
  return DL_OK;
}

/* Frees a lock. */
void dl_spinlock_free(dl_spinlock *s) {
  if (!s) return;
  dl_object_unlink(DL_OBJECT(s));
  free(s);
}

static void destroy(dl_object *o) { dl_spinlock_free((dl_spinlock *)o); }

const dl_object_type dl_spinlock_type = { "KSPIN_LOCK", destroy, NULL, NULL, NULL };

/* The strict-alternation rule: an acquire of a held lock, a release of a free one. */
static int alternation(dl_spinlock *s, const char *call, int want_held) {
  if (s->held == want_held) return 1;
  dl_verify_fail(s->m, DL_BUGCHECK_DETECTED_VIOLATION, DL_C4_SPINLOCK_ALTERNATION, s->id,
                 s->held, 0, "%s: KSPIN_LOCK#%llu is %s (acquire and release must alternate%s)",
                 call, (unsigned long long)s->id, s->held ? "already held" : "not held",
                 s->held ? "; on a real machine this CPU deadlocks" : "");
  return 0;
}

/* A rule on the current IRQL: report 0xC4/p1 unless it holds. */
static int irql_rule(dl_spinlock *s, const char *call, uint32_t p1, int ok, const char *want) {
  if (ok) return 1;
  uint8_t now = dl_machine_irql(s->m);
  dl_verify_fail(s->m, DL_BUGCHECK_DETECTED_VIOLATION, p1, now, s->id, 0,
                 "%s on KSPIN_LOCK#%llu at IRQL %u; it must be called at %s", call,
                 (unsigned long long)s->id, now, want);
  return 0;
}

/* KeAcquireSpinLock. */
int dl_spinlock_acquire(dl_spinlock *s, uint8_t *old) {
  uint8_t now = dl_machine_irql(s->m);
  *old = now;
  irql_rule(s, "KeAcquireSpinLock", DL_C4_ACQUIRE_IRQL, now <= DL_DISPATCH_LEVEL,
            "IRQL <= DISPATCH_LEVEL");
  if (!alternation(s, "KeAcquireSpinLock", 0)) return DL_ESTATE;
  s->held = 1;
  s->cpu = dl_machine_current_cpu(s->m);
  s->old_irql = now;
  if (now < DL_DISPATCH_LEVEL) dl_machine_set_irql(s->m, DL_DISPATCH_LEVEL);
  return DL_OK;
}

/* KeReleaseSpinLock. */
int dl_spinlock_release(dl_spinlock *s, uint8_t new_irql) {
  if (!alternation(s, "KeReleaseSpinLock", 1)) return DL_ESTATE;
  uint8_t now = dl_machine_irql(s->m);
  irql_rule(s, "KeReleaseSpinLock", DL_C4_RELEASE_IRQL, now == DL_DISPATCH_LEVEL,
            "DISPATCH_LEVEL (released twice, or the IRQL was changed while holding it?)");
  s->held = 0;
  if (new_irql <= now) dl_machine_set_irql(s->m, new_irql);
  return DL_OK;
}

/* KeAcquireSpinLockAtDpcLevel. */
int dl_spinlock_acquire_at_dpc(dl_spinlock *s) {
  irql_rule(s, "KeAcquireSpinLockAtDpcLevel", DL_C4_ACQUIRE_DPC_IRQL,
            dl_machine_irql(s->m) >= DL_DISPATCH_LEVEL, "IRQL >= DISPATCH_LEVEL (KeAcquireSpinLock)");
  if (!alternation(s, "KeAcquireSpinLockAtDpcLevel", 0)) return DL_ESTATE;
  s->held = 1;
  s->cpu = dl_machine_current_cpu(s->m);
  s->old_irql = dl_machine_irql(s->m);
  return DL_OK;
}

/* KeReleaseSpinLockFromDpcLevel. */
int dl_spinlock_release_from_dpc(dl_spinlock *s) {
  if (!alternation(s, "KeReleaseSpinLockFromDpcLevel", 1)) return DL_ESTATE;
  irql_rule(s, "KeReleaseSpinLockFromDpcLevel", DL_C4_RELEASE_DPC_IRQL,
            dl_machine_irql(s->m) >= DL_DISPATCH_LEVEL, "IRQL >= DISPATCH_LEVEL");
  s->held = 0;
  return DL_OK;
}

/* Whether it is held. */
int dl_spinlock_held(const dl_spinlock *s) { return s->held; }
