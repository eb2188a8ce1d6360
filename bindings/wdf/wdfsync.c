/*
** wdfsync.c: the framework's locks and deferred work in Lua: WDFSPINLOCK,
** WDFWAITLOCK, WdfObjectAcquireLock/ReleaseLock, WDFDPC, WDFTIMER and
** WDFWORKITEM, with the KMDF names and argument order. The rules (IRQL
** effects, WDF_VIOLATION reports, the worker at PASSIVE_LEVEL) are the
** core's: wdf/dl_wdfsync.h, wdf/dl_wdfdefer.h.
*/
#include <string.h>

#include "base/dl_ntstatus.h"
#include "base/dl_status.h"
#include "wdf/dl_wdfdefer.h"
#include "wdf/dl_wdfsync.h"
#include "lwdf.h"

#define LDL_WDFSPINLOCK "WDFSPINLOCK"
#define LDL_WDFWAITLOCK "WDFWAITLOCK"
#define LDL_WDFDPC "WDFDPC"
#define LDL_WDFTIMER "WDFTIMER"
#define LDL_WDFWORKITEM "WDFWORKITEM"

/* Pushes status, handle for a new object made by rc (or status alone). */
static int created(lua_State *L, lmachine *lm, int rc, void *obj, int attributes) {
  if (rc) {
    lua_pushinteger(L, rc == DL_ENOMEM ? DL_STATUS_INSUFFICIENT_RESOURCES
                                       : DL_STATUS_INVALID_PARAMETER);
    return 1;
  }
  lwdf_newobject(L, lm, obj, attributes);
  return lwdf_created(L);
}

/* ---- locks ---------------------------------------------------------------- */

/* WdfSpinLockCreate(SpinLockAttributes) -> status, WDFSPINLOCK */
static int l_WdfSpinLockCreate(lua_State *L) {
  lua_settop(L, 1);
  lmachine *lm = ldl_current(L, "WdfSpinLockCreate");
  dl_wdf_spinlock *s = NULL;
  ldl_call c;
  ldl_enter(L, lm, &c);
  int rc = dl_wdf_spinlock_new(lm->m, NULL, &s);
  ldl_leave(L, &c);
  return created(L, lm, rc, s, 1);
}

/* WdfWaitLockCreate(LockAttributes) -> status, WDFWAITLOCK */
static int l_WdfWaitLockCreate(lua_State *L) {
  lua_settop(L, 1);
  lmachine *lm = ldl_current(L, "WdfWaitLockCreate");
  dl_wdf_waitlock *w = NULL;
  ldl_call c;
  ldl_enter(L, lm, &c);
  int rc = dl_wdf_waitlock_new(lm->m, NULL, &w);
  ldl_leave(L, &c);
  return created(L, lm, rc, w, 1);
}

/* A lock call on the handle at 1 of class `name`: which 0 acquire, 1 release. */
static int spin_call(lua_State *L, int which) {
  lobject *h = ldl_checkobject(L, 1, LDL_WDFSPINLOCK, "WDFSPINLOCK");
  ldl_call c;
  ldl_enter(L, h->owner, &c);
  if (which) dl_wdf_spinlock_release(h->obj);
  else dl_wdf_spinlock_acquire(h->obj);
  ldl_leave(L, &c);
  return 0;
}

/* WdfSpinLockAcquire(SpinLock) / WdfSpinLockRelease(SpinLock) */
static int l_WdfSpinLockAcquire(lua_State *L) { return spin_call(L, 0); }
static int l_WdfSpinLockRelease(lua_State *L) { return spin_call(L, 1); }

/* WdfWaitLockAcquire(Lock, Timeout) -> STATUS_SUCCESS or STATUS_TIMEOUT;
** Timeout nil waits for ever, 0 tries, else 100 ns units. */
static int l_WdfWaitLockAcquire(lua_State *L) {
  lobject *h = ldl_checkobject(L, 1, LDL_WDFWAITLOCK, "WDFWAITLOCK");
  int64_t timeout = 0;
  int has = !lua_isnoneornil(L, 2);
  if (has) timeout = (int64_t)luaL_checkinteger(L, 2);
  uint32_t status = 0;
  ldl_call c;
  ldl_enter(L, h->owner, &c);
  dl_wdf_waitlock_acquire(h->obj, has ? &timeout : NULL, &status);
  ldl_leave(L, &c);
  lua_pushinteger(L, status);
  return 1;
}

/* WdfWaitLockRelease(Lock) */
static int l_WdfWaitLockRelease(lua_State *L) {
  lobject *h = ldl_checkobject(L, 1, LDL_WDFWAITLOCK, "WDFWAITLOCK");
  ldl_call c;
  ldl_enter(L, h->owner, &c);
  dl_wdf_waitlock_release(h->obj);
  ldl_leave(L, &c);
  return 0;
}

/* WdfObjectAcquireLock(Object) / WdfObjectReleaseLock(Object): a device's
** or a queue's lock, at DISPATCH_LEVEL. Upvalue 1: 1 to release. */
static int l_object_lock(lua_State *L) {
  lobject *h = lwdf_checkobject(L, 1);  /* any class: the core decides whether it has a lock */
  ldl_call c;
  ldl_enter(L, h->owner, &c);
  if (lua_toboolean(L, lua_upvalueindex(1))) dl_wdf_object_release_lock(h->obj);
  else dl_wdf_object_acquire_lock(h->obj);
  ldl_leave(L, &c);
  return 0;
}

/* ---- deferred work -------------------------------------------------------- */

/* The engine calls EvtDpcFunc / EvtTimerFunc / EvtWorkItem(Object). */
static void on_defer(void *ctx, dl_wdf_object *o) {
  lmachine *lm = ctx;
  lua_State *L = lm->L;
  const char *type = DL_OBJECT(o)->type->name;
  const char *k = strcmp(type, LDL_WDFDPC) == 0   ? "EvtDpcFunc"
                  : strcmp(type, LDL_WDFTIMER) == 0 ? "EvtTimerFunc"
                                                    : "EvtWorkItemFunc";
  lwdf_pushstate(L, o);
  lua_getfield(L, -1, "config");
  lua_getfield(L, -1, k);
  lua_replace(L, -3);
  lua_pop(L, 1);
  lwdf_pushhandle(L, o);
  ldl_where(lm, k, type, DL_OBJECT(o)->id);
  if (!ldl_callback(L, lm, 1, 0)) dl_clock_stop(dl_machine_clock(DL_OBJECT(o)->m));
}

/* The parent a DPC, timer or work item needs: Attributes.ParentObject, a
** WDFDEVICE or WDFQUEUE of the machine. */
static dl_wdf_object *check_parent(lua_State *L, int attr, const char *what) {
  lobject *p = NULL;
  if (lua_istable(L, attr)) {
    lua_getfield(L, attr, "ParentObject");
    p = ldl_testclass(L, -1, LDL_WDFDEVICE);
    if (!p) p = ldl_testclass(L, -1, LDL_WDFQUEUE);
    lua_pop(L, 1);
  }
  if (!p || !p->obj)
    luaL_argerror(L, attr, lua_pushfstring(L, "%s.ParentObject must be a WDFDEVICE or WDFQUEUE",
                                           what));
  ldl_checkowner(L, attr, p->owner, "ParentObject");
  return p->obj;
}

/* Copies the config at 1, checking its fields and its callback `fn`. */
static void check_config(lua_State *L, const char *fmt, const char *const fields[], const char *fn) {
  luaL_checktype(L, 1, LUA_TTABLE);
  ldl_checkfields(L, 1, fmt, fields);
  lua_getfield(L, 1, fn);
  luaL_argcheck(L, lua_isfunction(L, -1), 1, lua_pushfstring(L, "%s must be a function", fn));
  lua_pop(L, 1);
}

/* Makes a deferred object: kind 0 DPC, 1 timer, 2 work item. */
static int defer_create(lua_State *L, int kind) {
  static const char *const names[] = {"WdfDpcCreate", "WdfTimerCreate", "WdfWorkItemCreate"};
  static const char *const dpc_fields[] = {"Size", "EvtDpcFunc", "DriverWdmDpc",
                                           "AutomaticSerialization", NULL};
  static const char *const timer_fields[] = {"Size", "EvtTimerFunc", "Period",
                                             "AutomaticSerialization", "TolerableDelay",
                                             "UseHighResolutionTimer", NULL};
  static const char *const work_fields[] = {"Size", "EvtWorkItemFunc", "AutomaticSerialization",
                                            NULL};
  lua_settop(L, 2);
  if (kind == 0) check_config(L, "WDF_DPC_CONFIG has no field '%s' (%s)", dpc_fields, "EvtDpcFunc");
  else if (kind == 1)
    check_config(L, "WDF_TIMER_CONFIG has no field '%s' (%s)", timer_fields, "EvtTimerFunc");
  else check_config(L, "WDF_WORKITEM_CONFIG has no field '%s' (%s)", work_fields, "EvtWorkItemFunc");
  lua_Integer period = 0;
  if (kind == 1 && lua_getfield(L, 1, "Period") != LUA_TNIL) {
    period = lua_tointeger(L, -1);
    luaL_argcheck(L, lua_isinteger(L, -1) && period >= 0 && period <= UINT32_MAX, 1,
                  "Period must be a ULONG (ms)");
  }
  lua_settop(L, 2);
  static const char *const attrs[] = {"DpcAttributes", "TimerAttributes", "Attributes"};
  dl_wdf_object *parent = check_parent(L, 2, attrs[kind]);
  lmachine *lm = ldl_current(L, names[kind]);  /* 3 */
  void *obj = NULL;
  ldl_call c;
  ldl_enter(L, lm, &c);
  int rc = kind == 0 ? dl_wdf_dpc_new(lm->m, parent, on_defer, lm, (dl_wdf_dpc **)&obj)
         : kind == 1 ? dl_wdf_timer_new(lm->m, parent, (uint32_t)period, on_defer, lm,
                                        (dl_wdf_timer **)&obj)
                     : dl_wdf_workitem_new(lm->m, parent, on_defer, lm, (dl_wdf_workitem **)&obj);
  ldl_leave(L, &c);
  if (rc) return created(L, lm, rc, NULL, 0);
  lwdf_newobject(L, lm, obj, 2);
  lwdf_keep(L, "config", 1, NULL, 0);
  return lwdf_created(L);
}

/* WdfDpcCreate(Config, Attributes) -> status, WDFDPC */
static int l_WdfDpcCreate(lua_State *L) { return defer_create(L, 0); }
/* WdfTimerCreate(Config, Attributes) -> status, WDFTIMER */
static int l_WdfTimerCreate(lua_State *L) { return defer_create(L, 1); }
/* WdfWorkItemCreate(Config, Attributes) -> status, WDFWORKITEM */
static int l_WdfWorkItemCreate(lua_State *L) { return defer_create(L, 2); }

/* A config table of one callback (and its defaults). */
static int config_init(lua_State *L, const char *fn, lua_Integer period) {
  luaL_checktype(L, 1, LUA_TFUNCTION);
  lua_createtable(L, 0, 3);
  lua_pushvalue(L, 1);
  lua_setfield(L, -2, fn);
  lua_pushboolean(L, 1);
  lua_setfield(L, -2, "AutomaticSerialization");
  if (period >= 0) {
    lua_pushinteger(L, period);
    lua_setfield(L, -2, "Period");
  }
  return 1;
}

/* WDF_DPC_CONFIG_INIT(EvtDpcFunc) -> config */
static int l_WDF_DPC_CONFIG_INIT(lua_State *L) { return config_init(L, "EvtDpcFunc", -1); }
/* WDF_TIMER_CONFIG_INIT(EvtTimerFunc) -> config (one-shot) */
static int l_WDF_TIMER_CONFIG_INIT(lua_State *L) { return config_init(L, "EvtTimerFunc", 0); }
/* WDF_TIMER_CONFIG_INIT_PERIODIC(EvtTimerFunc, Period) -> config (Period in ms) */
static int l_WDF_TIMER_CONFIG_INIT_PERIODIC(lua_State *L) {
  lua_Integer period = luaL_checkinteger(L, 2);
  luaL_argcheck(L, period >= 0 && period <= UINT32_MAX, 2, "Period must be a ULONG (ms)");
  return config_init(L, "EvtTimerFunc", period);
}
/* WDF_WORKITEM_CONFIG_INIT(EvtWorkItemFunc) -> config */
static int l_WDF_WORKITEM_CONFIG_INIT(lua_State *L) { return config_init(L, "EvtWorkItemFunc", -1); }

/* WdfDpcEnqueue(Dpc) -> BOOLEAN */
static int l_WdfDpcEnqueue(lua_State *L) {
  lobject *h = ldl_checkobject(L, 1, LDL_WDFDPC, "WDFDPC");
  ldl_call c;
  ldl_enter(L, h->owner, &c);
  int queued = dl_wdf_dpc_enqueue(h->obj);
  ldl_leave(L, &c);
  lua_pushboolean(L, queued);
  return 1;
}

/* WdfDpcCancel(Dpc, Wait) -> BOOLEAN (TRUE if it was queued) */
static int l_WdfDpcCancel(lua_State *L) {
  lobject *h = ldl_checkobject(L, 1, LDL_WDFDPC, "WDFDPC");
  int wait = ldl_checkbool(L, 2);
  ldl_call c;
  ldl_enter(L, h->owner, &c);
  int was = dl_wdf_dpc_cancel(h->obj, wait);
  ldl_leave(L, &c);
  lua_pushboolean(L, was);
  return 1;
}

/* WdfTimerStart(Timer, DueTime) -> BOOLEAN (TRUE if it was set already);
** DueTime in 100 ns units, negative relative (WDF_REL_TIMEOUT_IN_MS). */
static int l_WdfTimerStart(lua_State *L) {
  lobject *h = ldl_checkobject(L, 1, LDL_WDFTIMER, "WDFTIMER");
  int64_t due = (int64_t)luaL_checkinteger(L, 2);
  ldl_call c;
  ldl_enter(L, h->owner, &c);
  int was = dl_wdf_timer_start(h->obj, due);
  ldl_leave(L, &c);
  lua_pushboolean(L, was);
  return 1;
}

/* WdfTimerStop(Timer, Wait) -> BOOLEAN (TRUE if it was set) */
static int l_WdfTimerStop(lua_State *L) {
  lobject *h = ldl_checkobject(L, 1, LDL_WDFTIMER, "WDFTIMER");
  int wait = ldl_checkbool(L, 2);
  ldl_call c;
  ldl_enter(L, h->owner, &c);
  int was = dl_wdf_timer_stop(h->obj, wait);
  ldl_leave(L, &c);
  lua_pushboolean(L, was);
  return 1;
}

/* WdfWorkItemEnqueue(WorkItem) */
static int l_WdfWorkItemEnqueue(lua_State *L) {
  lobject *h = ldl_checkobject(L, 1, LDL_WDFWORKITEM, "WDFWORKITEM");
  ldl_call c;
  ldl_enter(L, h->owner, &c);
  dl_wdf_workitem_enqueue(h->obj);
  ldl_leave(L, &c);
  return 0;
}

/* WdfWorkItemFlush(WorkItem): runs the clock until the item ran. */
static int l_WdfWorkItemFlush(lua_State *L) {
  lobject *h = ldl_checkobject(L, 1, LDL_WDFWORKITEM, "WDFWORKITEM");
  ldl_call c;
  ldl_enter(L, h->owner, &c);
  int rc = dl_wdf_workitem_flush(h->obj);
  ldl_leave(L, &c);
  if (rc) return luaL_error(L, "WdfWorkItemFlush: the work item never ran (the run was stopped)");
  return 0;
}

/* WdfDpcGetParentObject / WdfTimerGetParentObject / WdfWorkItemGetParentObject;
** upvalue 1 is the class. */
static int l_parent(lua_State *L) {
  const char *cls = lua_tostring(L, lua_upvalueindex(1));
  lobject *h = ldl_checkobject(L, 1, cls, cls);
  lwdf_pushhandle(L, dl_wdf_object_parent(h->obj));
  return 1;
}

/* WDF_REL_TIMEOUT_IN_MS / _US / _SEC(Time) -> negative 100 ns units; upvalue 1 the factor. */
static int l_rel_timeout(lua_State *L) {
  lua_Integer t = luaL_checkinteger(L, 1), f = lua_tointeger(L, lua_upvalueindex(1));
  luaL_argcheck(L, t >= 0 && t <= INT64_MAX / f, 1, "Time must be a ULONGLONG");
  lua_pushinteger(L, -(t * f));
  return 1;
}

static const luaL_Reg meta[] = {{"__tostring", lwdf_tostring}, {NULL, NULL}};

static const luaL_Reg functions[] = {
  {"WdfSpinLockCreate", l_WdfSpinLockCreate},
  {"WdfSpinLockAcquire", l_WdfSpinLockAcquire},
  {"WdfSpinLockRelease", l_WdfSpinLockRelease},
  {"WdfWaitLockCreate", l_WdfWaitLockCreate},
  {"WdfWaitLockAcquire", l_WdfWaitLockAcquire},
  {"WdfWaitLockRelease", l_WdfWaitLockRelease},
  {"WDF_DPC_CONFIG_INIT", l_WDF_DPC_CONFIG_INIT},
  {"WDF_TIMER_CONFIG_INIT", l_WDF_TIMER_CONFIG_INIT},
  {"WDF_TIMER_CONFIG_INIT_PERIODIC", l_WDF_TIMER_CONFIG_INIT_PERIODIC},
  {"WDF_WORKITEM_CONFIG_INIT", l_WDF_WORKITEM_CONFIG_INIT},
  {"WdfDpcCreate", l_WdfDpcCreate},
  {"WdfDpcEnqueue", l_WdfDpcEnqueue},
  {"WdfDpcCancel", l_WdfDpcCancel},
  {"WdfTimerCreate", l_WdfTimerCreate},
  {"WdfTimerStart", l_WdfTimerStart},
  {"WdfTimerStop", l_WdfTimerStop},
  {"WdfWorkItemCreate", l_WdfWorkItemCreate},
  {"WdfWorkItemEnqueue", l_WdfWorkItemEnqueue},
  {"WdfWorkItemFlush", l_WdfWorkItemFlush},
  {NULL, NULL}
};

/* Registers the lock and deferred-work classes and calls. */
void lwdf_open_sync(lua_State *L) {
  static const char *const classes[] = {LDL_WDFSPINLOCK, LDL_WDFWAITLOCK, LDL_WDFDPC, LDL_WDFTIMER,
                                        LDL_WDFWORKITEM};
  for (size_t i = 0; i < sizeof classes / sizeof classes[0]; i++)
    lwdf_newclass(L, classes[i], meta, ldl_no_methods);
  luaL_setfuncs(L, functions, 0);
  static const struct { const char *name; int release; } locks[] = {
    {"WdfObjectAcquireLock", 0}, {"WdfObjectReleaseLock", 1},
  };
  for (size_t i = 0; i < sizeof locks / sizeof locks[0]; i++) {
    lua_pushboolean(L, locks[i].release);
    lua_pushcclosure(L, l_object_lock, 1);
    lua_setfield(L, -2, locks[i].name);
  }
  static const struct { const char *name, *cls; } parents[] = {
    {"WdfDpcGetParentObject", LDL_WDFDPC}, {"WdfTimerGetParentObject", LDL_WDFTIMER},
    {"WdfWorkItemGetParentObject", LDL_WDFWORKITEM},
  };
  for (size_t i = 0; i < sizeof parents / sizeof parents[0]; i++) {
    lua_pushstring(L, parents[i].cls);
    lua_pushcclosure(L, l_parent, 1);
    lua_setfield(L, -2, parents[i].name);
  }
  static const struct { const char *name; lua_Integer f; } timeouts[] = {
    {"WDF_REL_TIMEOUT_IN_SEC", 10000000}, {"WDF_REL_TIMEOUT_IN_MS", 10000},
    {"WDF_REL_TIMEOUT_IN_US", 10},
  };
  for (size_t i = 0; i < sizeof timeouts / sizeof timeouts[0]; i++) {
    lua_pushinteger(L, timeouts[i].f);
    lua_pushcclosure(L, l_rel_timeout, 1);
    lua_setfield(L, -2, timeouts[i].name);
  }
}
