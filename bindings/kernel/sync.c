/*
** sync.c: KSPIN_LOCK and KEVENT handles and their calls: KeInitializeSpinLock,
** KeAcquireSpinLock, KeReleaseSpinLock, KeAcquireSpinLockAtDpcLevel,
** KeReleaseSpinLockFromDpcLevel, KeInitializeEvent, KeSetEvent,
** KeClearEvent, KeResetEvent, KeReadStateEvent, KeWaitForSingleObject,
** KeStallExecutionProcessor;
** IO_WORKITEM handles: IoAllocateWorkItem, IoQueueWorkItem, IoFreeWorkItem.
** The rules (IRQL effects, verifier reports, waits running the simulated
** clock) are the core's: kernel/dl_spinlock.h, dl_event.h, dl_workitem.h.
**
** Lua has no caller-allocated storage: KeInitializeSpinLock(nil) and
** KeInitializeEvent(nil, ...) return the new object; KeAcquireSpinLock
** returns OldIrql instead of writing it through a pointer.
*/
#include "base/dl_ntstatus.h"
#include "base/dl_status.h"
#include "kernel/dl_event.h"
#include "kernel/dl_spinlock.h"
#include "kernel/dl_workitem.h"
#include "../ldl.h"

#define LDL_SPINLOCK "KSPIN_LOCK"
#define LDL_KEVENT "KEVENT"
#define LDL_WORKITEM "IO_WORKITEM"

#define checklock(L, i) ((dl_spinlock *)ldl_checkobject(L, i, LDL_SPINLOCK, "KSPIN_LOCK")->obj)
#define checkevent(L, i) ((dl_kevent *)ldl_checkobject(L, i, LDL_KEVENT, "KEVENT")->obj)

/* KeInitializeSpinLock(SpinLock) -> SpinLock: nil makes one (a KSPIN_LOCK
** passed again is freed for reuse, as re-initialising storage does). */
static int l_KeInitializeSpinLock(lua_State *L) {
  if (!lua_isnoneornil(L, 1)) {
    dl_spinlock *s = checklock(L, 1);
    s->held = 0;
    lua_settop(L, 1);
    return 1;
  }
  lmachine *lm = ldl_current(L, "KeInitializeSpinLock");
  dl_spinlock *s;
  int rc = dl_spinlock_new(lm->m, &s);
  if (rc) return ldl_statuserror(L, 1, rc, NULL);
  ldl_pushobject(L, LDL_SPINLOCK, DL_OBJECT(s));
  return 1;
}

/* Runs one spin-lock call: which 0 acquire, 1 release, 2/3 the DPC-level forms. */
static int lock_call(lua_State *L, int which) {
  lobject *h = ldl_checkobject(L, 1, LDL_SPINLOCK, "KSPIN_LOCK");
  lua_Integer new_irql = 0;
  if (which == 1) {
    new_irql = luaL_checkinteger(L, 2);
    luaL_argcheck(L, new_irql >= DL_PASSIVE_LEVEL && new_irql <= DL_HIGH_LEVEL, 2,
                  "NewIrql must be an IRQL (the OldIrql KeAcquireSpinLock returned)");
  }
  uint8_t old = 0;
  ldl_call c;
  ldl_enter(L, h->owner, &c);
  switch (which) {
    case 0: dl_spinlock_acquire(h->obj, &old); break;
    case 1: dl_spinlock_release(h->obj, (uint8_t)new_irql); break;
    case 2: dl_spinlock_acquire_at_dpc(h->obj); break;
    default: dl_spinlock_release_from_dpc(h->obj); break;
  }
  ldl_leave(L, &c);
  if (which != 0) return 0;
  lua_pushinteger(L, old);
  return 1;
}

/* KeAcquireSpinLock(SpinLock) -> OldIrql */
static int l_KeAcquireSpinLock(lua_State *L) { return lock_call(L, 0); }
/* KeReleaseSpinLock(SpinLock, NewIrql) */
static int l_KeReleaseSpinLock(lua_State *L) { return lock_call(L, 1); }
/* KeAcquireSpinLockAtDpcLevel(SpinLock) */
static int l_KeAcquireSpinLockAtDpcLevel(lua_State *L) { return lock_call(L, 2); }
/* KeReleaseSpinLockFromDpcLevel(SpinLock) */
static int l_KeReleaseSpinLockFromDpcLevel(lua_State *L) { return lock_call(L, 3); }

/* ---- events --------------------------------------------------------------- */

/* KeInitializeEvent(Event, Type, State) -> Event; Event nil makes one. */
static int l_KeInitializeEvent(lua_State *L) {
  lua_Integer type = luaL_checkinteger(L, 2);
  luaL_argcheck(L, type == DL_NOTIFICATION_EVENT || type == DL_SYNCHRONIZATION_EVENT, 2,
                "Type must be NotificationEvent or SynchronizationEvent");
  int state = ldl_checkbool(L, 3);
  if (!lua_isnil(L, 1)) {
    dl_kevent *e = checkevent(L, 1);
    e->kind = (int)type;
    e->signaled = state;
    lua_settop(L, 1);
    return 1;
  }
  lmachine *lm = ldl_current(L, "KeInitializeEvent");
  dl_kevent *e;
  int rc = dl_kevent_new(lm->m, (int)type, state, &e);
  if (rc) return ldl_statuserror(L, 2, rc, NULL);
  ldl_pushobject(L, LDL_KEVENT, DL_OBJECT(e));
  return 1;
}

/* KeSetEvent(Event, Increment, Wait) -> LONG (the previous state) */
static int l_KeSetEvent(lua_State *L) {
  lobject *h = ldl_checkobject(L, 1, LDL_KEVENT, "KEVENT");
  ldl_call c;
  ldl_enter(L, h->owner, &c);
  int was = dl_kevent_set(h->obj);
  ldl_leave(L, &c);
  lua_pushinteger(L, was);
  return 1;
}

/* KeResetEvent(Event) -> LONG; KeClearEvent(Event) (upvalue 1: returns nothing). */
static int l_reset(lua_State *L) {
  lobject *h = ldl_checkobject(L, 1, LDL_KEVENT, "KEVENT");
  ldl_call c;
  ldl_enter(L, h->owner, &c);
  int was = dl_kevent_reset(h->obj);
  ldl_leave(L, &c);
  if (lua_toboolean(L, lua_upvalueindex(1))) return 0;
  lua_pushinteger(L, was);
  return 1;
}

/* KeReadStateEvent(Event) -> LONG */
static int l_KeReadStateEvent(lua_State *L) {
  lua_pushinteger(L, dl_kevent_state(checkevent(L, 1)));
  return 1;
}

/* KeWaitForSingleObject(Object, WaitReason, WaitMode, Alertable, Timeout)
** -> STATUS_SUCCESS or STATUS_TIMEOUT. Timeout nil waits for ever, else in
** 100 ns units (negative: relative). The wait runs the simulated clock. */
static int l_KeWaitForSingleObject(lua_State *L) {
  lobject *h = ldl_checkobject(L, 1, LDL_KEVENT, "KEVENT");
  int64_t timeout = 0;
  int has = !lua_isnoneornil(L, 5);
  if (has) timeout = (int64_t)luaL_checkinteger(L, 5);
  uint32_t status = 0;
  ldl_call c;
  ldl_enter(L, h->owner, &c);
  int rc = dl_kevent_wait(h->obj, has ? &timeout : NULL, &status);
  ldl_leave(L, &c);
  if (rc == DL_ESTATE)
    return luaL_error(L, "KeWaitForSingleObject: %s is not signalled and nothing pending on the "
                      "clock can signal it: the wait would last for ever", luaL_tolstring(L, 1, NULL));
  if (rc == DL_ELIMIT)
    return luaL_error(L, "KeWaitForSingleObject: %s still not signalled after %I clock events "
                      "(%s)", luaL_tolstring(L, 1, NULL),
                      (lua_Integer)dl_ke_wait_limit(h->owner->m, has),
                      has ? "limits.run_events" : "give the wait a Timeout");
  lua_pushinteger(L, status);
  return 1;
}

/* KeStallExecutionProcessor(MicroSeconds): the current CPU spins at its
** IRQL while the simulated clock runs through that time. */
static int l_KeStallExecutionProcessor(lua_State *L) {
  lua_Integer us = luaL_checkinteger(L, 1);
  luaL_argcheck(L, us >= 0 && us <= 0xFFFFFFFF, 1, "MicroSeconds must be a ULONG");
  lmachine *lm = ldl_current(L, "KeStallExecutionProcessor");
  ldl_call c;
  ldl_enter(L, lm, &c);
  int rc = dl_ke_stall(lm->m, (uint32_t)us);
  ldl_leave(L, &c);
  if (rc == DL_ELIMIT)
    return luaL_error(L, "KeStallExecutionProcessor: limit: run_events: the stall ran %I clock "
                      "events and has not ended", (lua_Integer)dl_ke_wait_limit(lm->m, 1));
  if (rc != DL_OK)
    return luaL_error(L, "KeStallExecutionProcessor: the run was stopped during the stall");
  return 0;
}

/* ---- IO_WORKITEM ---------------------------------------------------------- */

/* The worker runs WorkerRoutine(DeviceObject, Context) at PASSIVE_LEVEL. */
static void on_work(void *ctx, dl_workitem *w) {
  lmachine *lm = ctx;
  lua_State *L = lm->L;
  ldl_pushobject(L, LDL_WORKITEM, DL_OBJECT(w));
  ldl_pushstate(L, -1);
  lua_getfield(L, -1, "routine");
  lua_getfield(L, -2, "device");
  lua_getfield(L, -3, "context");
  lua_remove(L, -4);
  lua_remove(L, -4);
  ldl_where(lm, "the WorkerRoutine", "IO_WORKITEM", DL_OBJECT(w)->id);
  if (!ldl_callback(L, lm, 2, 0)) dl_clock_stop(dl_machine_clock(DL_OBJECT(w)->m));
}

/* IoAllocateWorkItem(DeviceObject) -> IO_WORKITEM */
static int l_IoAllocateWorkItem(lua_State *L) {
  lobject *dh = ldl_checkobject(L, 1, LDL_DEVICE, "DEVICE_OBJECT");
  dl_workitem *w;
  int rc = dl_workitem_new(dh->owner->m, on_work, dh->owner, &w);
  if (rc) return ldl_statuserror(L, 1, rc, NULL);
  ldl_pushobject(L, LDL_WORKITEM, DL_OBJECT(w));
  ldl_pushstate(L, -1);
  lua_pushvalue(L, 1);
  lua_setfield(L, -2, "device");
  lua_pop(L, 1);
  return 1;
}

/* IoQueueWorkItem(IoWorkItem, WorkerRoutine, QueueType, Context): an item
** already queued is the driver's bug (the I/O verifier's 0xC9 family): the lab
** raises an error rather than lose the new routine. */
static int l_IoQueueWorkItem(lua_State *L) {
  lobject *h = ldl_checkobject(L, 1, LDL_WORKITEM, "IO_WORKITEM");
  luaL_checktype(L, 2, LUA_TFUNCTION);
  lua_Integer q = luaL_checkinteger(L, 3);
  luaL_argcheck(L, q >= 0 && q <= 2, 3,
                "QueueType must be CriticalWorkQueue, DelayedWorkQueue or HyperCriticalWorkQueue");
  luaL_argcheck(L, !dl_workitem_queued(h->obj), 1, "the work item is queued already");
  lua_settop(L, 4);
  ldl_pushstate(L, 1);
  lua_pushvalue(L, 2);
  lua_setfield(L, -2, "routine");
  lua_pushvalue(L, 4);
  lua_setfield(L, -2, "context");
  lua_pop(L, 1);
  dl_workitem_queue(h->obj);
  return 0;
}

/* IoFreeWorkItem(IoWorkItem) */
static int l_IoFreeWorkItem(lua_State *L) {
  lobject *h = ldl_checkobject(L, 1, LDL_WORKITEM, "IO_WORKITEM");
  ldl_call c;
  ldl_enter(L, h->owner, &c);
  dl_workitem_free(h->obj);
  ldl_leave(L, &c);
  return 0;
}

/* ---- registration --------------------------------------------------------- */

static int lock_tostring(lua_State *L) {
  lobject *h = ldl_checkclass(L, 1, LDL_SPINLOCK);
  dl_spinlock *s = h->owner->m ? h->obj : NULL;
  if (!s) lua_pushliteral(L, "KSPIN_LOCK (gone)");
  else lua_pushfstring(L, "KSPIN_LOCK#%I %s", (lua_Integer)s->id, s->held ? "held" : "free");
  return 1;
}

static int event_tostring(lua_State *L) {
  lobject *h = ldl_checkclass(L, 1, LDL_KEVENT);
  dl_kevent *e = h->owner->m ? h->obj : NULL;
  if (!e) lua_pushliteral(L, "KEVENT (gone)");
  else lua_pushfstring(L, "KEVENT#%I %s %s", (lua_Integer)e->id,
                       e->kind ? "synchronization" : "notification",
                       e->signaled ? "signalled" : "not signalled");
  return 1;
}

static int work_tostring(lua_State *L) {
  lobject *h = ldl_checkclass(L, 1, LDL_WORKITEM);
  dl_workitem *w = h->owner->m ? h->obj : NULL;
  if (!w) lua_pushliteral(L, "IO_WORKITEM (freed)");
  else lua_pushfstring(L, "IO_WORKITEM#%I%s", (lua_Integer)w->id, w->queued ? " queued" : "");
  return 1;
}

static const luaL_Reg lock_meta[] = {{"__tostring", lock_tostring}, {NULL, NULL}};
static const luaL_Reg event_meta[] = {{"__tostring", event_tostring}, {NULL, NULL}};
static const luaL_Reg work_meta[] = {{"__tostring", work_tostring}, {NULL, NULL}};

static const luaL_Reg functions[] = {
  {"KeInitializeSpinLock", l_KeInitializeSpinLock},
  {"KeAcquireSpinLock", l_KeAcquireSpinLock},
  {"KeReleaseSpinLock", l_KeReleaseSpinLock},
  {"KeAcquireSpinLockAtDpcLevel", l_KeAcquireSpinLockAtDpcLevel},
  {"KeReleaseSpinLockFromDpcLevel", l_KeReleaseSpinLockFromDpcLevel},
  {"KeInitializeEvent", l_KeInitializeEvent},
  {"KeSetEvent", l_KeSetEvent},
  {"KeReadStateEvent", l_KeReadStateEvent},
  {"KeWaitForSingleObject", l_KeWaitForSingleObject},
  {"KeStallExecutionProcessor", l_KeStallExecutionProcessor},
  {"IoAllocateWorkItem", l_IoAllocateWorkItem},
  {"IoQueueWorkItem", l_IoQueueWorkItem},
  {"IoFreeWorkItem", l_IoFreeWorkItem},
  {NULL, NULL}
};

/* Registers the classes, calls and the kernel's constants in the module at -1. */
void ldl_open_sync(lua_State *L) {
  ldl_newclass(L, LDL_SPINLOCK, lock_meta, ldl_no_methods, NULL);
  ldl_newclass(L, LDL_KEVENT, event_meta, ldl_no_methods, NULL);
  ldl_newclass(L, LDL_WORKITEM, work_meta, ldl_no_methods, NULL);
  luaL_setfuncs(L, functions, 0);
  static const struct { const char *name; int clear; } resets[] = {
    {"KeResetEvent", 0}, {"KeClearEvent", 1},
  };
  for (size_t i = 0; i < sizeof resets / sizeof resets[0]; i++) {
    lua_pushboolean(L, resets[i].clear);
    lua_pushcclosure(L, l_reset, 1);
    lua_setfield(L, -2, resets[i].name);
  }
  size_t n;
  const dl_wdk_value *k = dl_wdk_kernel_table(&n);
  ldl_setvalues(L, k, n);  /* NotificationEvent, POOL_FLAG_*...: core's one table */
}
