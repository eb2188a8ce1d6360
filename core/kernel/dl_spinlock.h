/*
** dl_spinlock.h: executive spin locks (KSPIN_LOCK) with the kernel's IRQL
** effects: KeAcquireSpinLock raises the current CPU to DISPATCH_LEVEL and
** hands back the IRQL it was at, KeReleaseSpinLock lowers to the IRQL it is
** given; the AtDpcLevel forms leave the IRQL alone.
**
** Misuse is bug check 0xC4 DRIVER_VERIFIER_DETECTED_VIOLATION with the
** documented parameter 1: 0x42 KeAcquireSpinLock above DISPATCH_LEVEL, 0x32
** KeReleaseSpinLock at an IRQL other than DISPATCH_LEVEL, 0x40/0x41 the
** AtDpcLevel forms below DISPATCH_LEVEL, and 0x4000B (the SpinlockRelease
** rule: acquire and release in strict alternation) for a release of a lock
** not held or an acquire of a lock held (on a real machine: a deadlock).
** The engine records the report and carries on: a lock not held stays
** free, a lock held stays held, the IRQL is left where it was.
*/
#ifndef DL_SPINLOCK_H
#define DL_SPINLOCK_H

#include <stdint.h>

#include "machine/dl_object.h"

typedef struct dl_machine dl_machine;

/* Parameter 1 values of bug check 0xC4 for spin locks (bug check 0xC4's table). */
#define DL_C4_RELEASE_IRQL 0x32u          /* KeReleaseSpinLock not at DISPATCH_LEVEL */
#define DL_C4_ACQUIRE_DPC_IRQL 0x40u      /* KeAcquireSpinLockAtDpcLevel below DISPATCH_LEVEL */
#define DL_C4_RELEASE_DPC_IRQL 0x41u      /* KeReleaseSpinLockFromDpcLevel below DISPATCH_LEVEL */
#define DL_C4_ACQUIRE_IRQL 0x42u          /* KeAcquireSpinLock above DISPATCH_LEVEL */
#define DL_C4_SPINLOCK_ALTERNATION 0x4000Bu  /* DDI compliance rule SpinlockRelease */

/* A KSPIN_LOCK, owned by its machine. */
typedef struct dl_spinlock {
  DL_OBJECT_FIELDS
  int held;
  int cpu;               /* the CPU holding it */
  uint8_t old_irql;      /* what KeAcquireSpinLock returned (WDFSPINLOCK keeps it) */
} dl_spinlock;

/* The KSPIN_LOCK type. */
extern const dl_object_type dl_spinlock_type;

/* KeInitializeSpinLock: a new free lock on the machine. */
int dl_spinlock_new(dl_machine *m, dl_spinlock **out);

/* Frees a lock; NULL is a harmless no-op. */
void dl_spinlock_free(dl_spinlock *s);

/* KeAcquireSpinLock: raises to DISPATCH_LEVEL, *old gets the IRQL before.
** DL_ESTATE after a report (the lock was held: it stays so, IRQL unchanged). */
int dl_spinlock_acquire(dl_spinlock *s, uint8_t *old);

/* KeReleaseSpinLock: frees the lock and lowers to new_irql. DL_ESTATE after
** a report of a lock not held (nothing changes). */
int dl_spinlock_release(dl_spinlock *s, uint8_t new_irql);

/* KeAcquireSpinLockAtDpcLevel / KeReleaseSpinLockFromDpcLevel: the IRQL stays. */
int dl_spinlock_acquire_at_dpc(dl_spinlock *s);
int dl_spinlock_release_from_dpc(dl_spinlock *s);

/* Whether the lock is held. */
int dl_spinlock_held(const dl_spinlock *s);

#endif
