/*
** dl_wdfsync.h: the framework's locks: WDFSPINLOCK (WdfSpinLockAcquire
** raises to DISPATCH_LEVEL and keeps the IRQL it came from, Release
** restores it), WDFWAITLOCK (a passive-level lock: WdfWaitLockAcquire with
** a zero timeout is a try) and the lock of a device or queue
** (WdfObjectAcquireLock / WdfObjectReleaseLock, at DISPATCH_LEVEL: the
** default execution level).
**
** Misuse is WDF_VIOLATION 0x10D: acquiring a lock the caller holds is
** WDF_RECURSIVE_LOCK (0x2; on a real machine a deadlock), releasing a lock
** not held, or WdfObjectAcquireLock on an object with no lock, is
** WDF_INVALID_LOCK_OPERATION (0xB); IRQL rules are the lab's 0xE6/0x13.
** After a report nothing changes (a held lock stays held, the IRQL stays).
*/
#ifndef DL_WDFSYNC_H
#define DL_WDFSYNC_H

#include <stdint.h>

#include "wdf/dl_wdfobject.h"

typedef struct dl_machine dl_machine;

#define DL_WDF_INVALID_LOCK_OPERATION 0xBu

typedef struct dl_wdf_spinlock {
  DL_WDF_OBJECT_FIELDS
  int held;
  uint8_t old_irql;
} dl_wdf_spinlock;

typedef struct dl_wdf_waitlock {
  DL_WDF_OBJECT_FIELDS
  int held;
} dl_wdf_waitlock;

/* WdfSpinLockCreate / WdfWaitLockCreate (parent may be NULL). */
int dl_wdf_spinlock_new(dl_machine *m, dl_wdf_object *parent, dl_wdf_spinlock **out);
int dl_wdf_waitlock_new(dl_machine *m, dl_wdf_object *parent, dl_wdf_waitlock **out);

/* WdfSpinLockAcquire / Release. DL_ESTATE after a report. */
int dl_wdf_spinlock_acquire(dl_wdf_spinlock *s);
int dl_wdf_spinlock_release(dl_wdf_spinlock *s);

/* WdfWaitLockAcquire(Lock, Timeout): timeout NULL waits for ever, else in
** 100 ns units; *status STATUS_SUCCESS or STATUS_TIMEOUT (a zero timeout on
** a held lock). A blocking acquire of a held lock is reported (DL_ESTATE). */
int dl_wdf_waitlock_acquire(dl_wdf_waitlock *w, const int64_t *timeout, uint32_t *status);
int dl_wdf_waitlock_release(dl_wdf_waitlock *w);

/* WdfObjectAcquireLock / WdfObjectReleaseLock on a WDFDEVICE or WDFQUEUE. */
int dl_wdf_object_acquire_lock(dl_wdf_object *o);
int dl_wdf_object_release_lock(dl_wdf_object *o);

/* Whether the object's lock (a WDFDEVICE's or WDFQUEUE's) is held. */
int dl_wdf_object_lock_held(dl_wdf_object *o);

#endif
