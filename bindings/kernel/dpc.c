/*
** dpc.c: KDPC handles and the DPC calls: KeInitializeDpc, KeInsertQueueDpc,
** KeRemoveQueueDpc, KeSetImportanceDpc, KeSetTargetProcessorDpc,
** IoInitializeDpcRequest and IoRequestDpc; KTIMER handles and the timer
** calls (the DueTime units are the core's: kernel/dl_cpu.h).
**
** A DPC belongs to its machine; its routine, context (or device, for a
** DpcForIsr) and the arguments of its pending insert live in the state of
** its one handle, so queuing allocates nothing.
*/
#include <stdint.h>

#include "kernel/dl_cpu.h"
#include "io/dl_driver.h"
#include "base/dl_status.h"
#include "machine/dl_object.h"
#include "../ldl.h"

enum { SLOT_ROUTINE = 1, SLOT_CONTEXT, SLOT_ARG1, SLOT_ARG2, SLOT_DEVICE };

#define checkdpc(L, i) ((dl_dpc *)ldl_checkobject(L, i, LDL_DPC, "KDPC")->obj)

/* Runs a DPC's Lua routine: DeferredRoutine(Dpc, DeferredContext, Arg1, Arg2),
** or DpcForIsr(Dpc, DeviceObject, Irp, Context) for IoInitializeDpcRequest. */
static void on_dpc(void *ctx, dl_dpc *dpc, uint64_t arg1, uint64_t arg2) {
  (void)ctx;
  (void)arg1;
  (void)arg2;
  dl_machine *m = DL_OBJECT(dpc)->m;  /* the routine may free its DPC (IoInitializeDpcRequest) */
  lmachine *lm = dl_machine_data(m);
  lua_State *L = lm->L;
  ldl_pushobject(L, LDL_DPC, DL_OBJECT(dpc));
  int dh = lua_gettop(L);
  ldl_pushstate(L, dh);
  int slots = dh + 1;
  lua_rawgeti(L, slots, SLOT_ROUTINE);
  lua_pushvalue(L, dh);
  if (lua_rawgeti(L, slots, SLOT_DEVICE) == LUA_TNIL) {
    lua_pop(L, 1);
    lua_rawgeti(L, slots, SLOT_CONTEXT);
  }
  lua_rawgeti(L, slots, SLOT_ARG1);
  lua_rawgeti(L, slots, SLOT_ARG2);
  lua_pushnil(L);
  lua_rawseti(L, slots, SLOT_ARG1);  /* the arguments belong to this run only */
  lua_pushnil(L);
  lua_rawseti(L, slots, SLOT_ARG2);
  lua_remove(L, slots);
  lua_remove(L, dh);
  ldl_where(lm, "the DPC routine", "KDPC", DL_OBJECT(dpc)->id);
  if (!ldl_callback(L, lm, 4, 0)) dl_clock_stop(dl_machine_clock(m));
}

/* Sets the routine and context (or device) of the DPC handle at h. */
static void set_routine(lua_State *L, int h, int routine, int context, int device) {
  ldl_pushstate(L, h);
  lua_pushvalue(L, routine);
  lua_rawseti(L, -2, SLOT_ROUTINE);
  if (context) lua_pushvalue(L, context);
  else lua_pushnil(L);
  lua_rawseti(L, -2, SLOT_CONTEXT);
  if (device) lua_pushvalue(L, device);
  else lua_pushnil(L);
  lua_rawseti(L, -2, SLOT_DEVICE);
  lua_pop(L, 1);
}

/* KeInitializeDpc(Dpc, DeferredRoutine, DeferredContext) -> Dpc. Pass nil
** (or a KDPC to re-initialise) as Dpc: Lua has no caller-allocated storage. */
static int l_KeInitializeDpc(lua_State *L) {
  luaL_checktype(L, 2, LUA_TFUNCTION);
  lua_settop(L, 3);
  if (!lua_isnil(L, 1)) {
    ldl_checkobject(L, 1, LDL_DPC, "KDPC");
    set_routine(L, 1, 2, 3, 0);
    lua_settop(L, 1);
    return 1;
  }
  lmachine *lm = ldl_current(L, "KeInitializeDpc");
  dl_dpc *dpc;
  int rc = dl_dpc_new(lm->m, on_dpc, NULL, &dpc);
  if (rc) return ldl_statuserror(L, 1, rc, NULL);
  ldl_pushobject(L, LDL_DPC, DL_OBJECT(dpc));
  set_routine(L, lua_gettop(L), 2, 3, 0);
  return 1;
}

/* Keeps the arguments of an insert that queued the DPC handle at h. */
static void keep_args(lua_State *L, int h, int arg1, int arg2) {
  ldl_pushstate(L, h);
  lua_pushvalue(L, arg1);
  lua_rawseti(L, -2, SLOT_ARG1);
  lua_pushvalue(L, arg2);
  lua_rawseti(L, -2, SLOT_ARG2);
  lua_pop(L, 1);
}

/* KeInsertQueueDpc(Dpc, SystemArgument1, SystemArgument2) -> BOOLEAN; the
** arguments of an insert into a queued DPC are lost, as in the kernel. */
static int l_KeInsertQueueDpc(lua_State *L) {
  lobject *h = ldl_checkobject(L, 1, LDL_DPC, "KDPC");
  lua_settop(L, 3);
  ldl_call c;
  ldl_enter(L, h->owner, &c);
  int queued = dl_dpc_insert(h->obj, 0, 0);
  ldl_leave(L, &c);
  if (queued) keep_args(L, 1, 2, 3);  /* the routine runs at the earliest on the next clock event */
  lua_pushboolean(L, queued);
  return 1;
}

/* KeRemoveQueueDpc(Dpc) -> BOOLEAN */
static int l_KeRemoveQueueDpc(lua_State *L) {
  lua_pushboolean(L, dl_dpc_remove(checkdpc(L, 1)));
  return 1;
}

/* KeSetImportanceDpc(Dpc, Importance) */
static int l_KeSetImportanceDpc(lua_State *L) {
  dl_dpc *dpc = checkdpc(L, 1);
  lua_Integer imp = luaL_checkinteger(L, 2);
  luaL_argcheck(L, imp >= DL_LOW_IMPORTANCE && imp <= DL_MEDIUM_HIGH_IMPORTANCE, 2,
                "LowImportance, MediumImportance, HighImportance or MediumHighImportance expected");
  dl_dpc_set_importance(dpc, (uint8_t)imp);
  return 0;
}

/* KeSetTargetProcessorDpc(Dpc, Number) */
static int l_KeSetTargetProcessorDpc(lua_State *L) {
  dl_dpc *dpc = checkdpc(L, 1);
  lua_Integer cpu = luaL_checkinteger(L, 2);
  luaL_argcheck(L, dl_dpc_set_target(dpc, (int)cpu) == DL_OK, 2, "no such processor");
  return 0;
}

/* IoInitializeDpcRequest(DeviceObject, DpcRoutine): the device's DpcForIsr,
** called as DpcRoutine(Dpc, DeviceObject, Irp, Context). */
static int l_IoInitializeDpcRequest(lua_State *L) {
  lobject *h = ldl_checkobject(L, 1, LDL_DEVICE, "DEVICE_OBJECT");
  luaL_checktype(L, 2, LUA_TFUNCTION);
  lua_settop(L, 2);
  ldl_call c;
  ldl_enter(L, h->owner, &c);
  int rc = dl_io_initialize_dpc_request(h->obj, on_dpc, NULL);
  ldl_leave(L, &c);
  if (rc) return ldl_statuserror(L, 1, rc, NULL);
  ldl_pushobject(L, LDL_DPC, DL_OBJECT(dl_device_dpc_for_isr(h->obj)));
  set_routine(L, 3, 2, 0, 1);
  return 0;
}

/* IoRequestDpc(DeviceObject, Irp, Context): legal only from the ISR. */
static int l_IoRequestDpc(lua_State *L) {
  lobject *h = ldl_checkobject(L, 1, LDL_DEVICE, "DEVICE_OBJECT");
  lua_settop(L, 3);
  int queued;
  ldl_call c;
  ldl_enter(L, h->owner, &c);
  int rc = dl_io_request_dpc(h->obj, 0, 0, &queued);
  ldl_leave(L, &c);
  if (rc == DL_EINVAL) luaL_argerror(L, 1, "no DpcForIsr (IoInitializeDpcRequest first)");
  if (queued) {
    ldl_pushobject(L, LDL_DPC, DL_OBJECT(dl_device_dpc_for_isr(h->obj)));
    keep_args(L, 4, 2, 3);
  }
  return 0;
}

/* ---- kernel timers ------------------------------------------------------- */

#define checktimer(L, i) ((dl_timer *)ldl_checkobject(L, i, LDL_TIMER, "KTIMER")->obj)

/* KeInitializeTimer(Timer) -> Timer: pass nil (Lua has no caller storage). */
static int l_KeInitializeTimer(lua_State *L) {
  if (!lua_isnoneornil(L, 1)) {
    dl_timer_cancel(checktimer(L, 1));
    lua_settop(L, 1);
    return 1;
  }
  lmachine *lm = ldl_current(L, "KeInitializeTimer");
  dl_timer *t;
  int rc = dl_timer_new(lm->m, &t);
  if (rc) return ldl_statuserror(L, 1, rc, NULL);
  ldl_pushobject(L, LDL_TIMER, DL_OBJECT(t));
  return 1;
}

/* Sets a timer with an optional KDPC at `dpc_arg`; returns KeSetTimer's
** BOOLEAN. DueTime and Period are the kernel's (dl_timer_set_due). */
static int set_timer(lua_State *L, lua_Integer period_ms, int dpc_arg) {
  lobject *h = ldl_checkobject(L, 1, LDL_TIMER, "KTIMER");
  lua_Integer due = luaL_checkinteger(L, 2);
  luaL_argcheck(L, period_ms >= 0 && period_ms <= UINT32_MAX, 3, "Period must not be negative");
  dl_dpc *dpc = lua_isnoneornil(L, dpc_arg) ? NULL : checkdpc(L, dpc_arg);
  ldl_call c;
  ldl_enter(L, h->owner, &c);
  int was = dl_timer_set_due(h->obj, (int64_t)due, (uint32_t)period_ms, dpc);
  ldl_leave(L, &c);
  lua_pushboolean(L, was);
  return 1;
}

/* KeSetTimer(Timer, DueTime, Dpc) -> BOOLEAN (TRUE if it was already set) */
static int l_KeSetTimer(lua_State *L) { return set_timer(L, 0, 3); }

/* KeSetTimerEx(Timer, DueTime, Period, Dpc) -> BOOLEAN; Period in ms. */
static int l_KeSetTimerEx(lua_State *L) { return set_timer(L, luaL_checkinteger(L, 3), 4); }

/* KeCancelTimer(Timer) -> BOOLEAN (TRUE if it was set) */
static int l_KeCancelTimer(lua_State *L) {
  lua_pushboolean(L, dl_timer_cancel(checktimer(L, 1)));
  return 1;
}

/* KeReadStateTimer(Timer) -> BOOLEAN (signalled: it expired since it was set) */
static int l_KeReadStateTimer(lua_State *L) {
  lua_pushboolean(L, dl_timer_signaled(checktimer(L, 1)));
  return 1;
}

static int timer_tostring(lua_State *L) {
  lobject *h = ldl_checkclass(L, 1, LDL_TIMER);
  if (!h->owner->m) {
    lua_pushliteral(L, "KTIMER (machine closed)");
    return 1;
  }
  dl_timer *t = h->obj;
  if (!t) {
    lua_pushliteral(L, "KTIMER (freed)");
    return 1;
  }
  lua_Integer id = (lua_Integer)DL_OBJECT(t)->id;
  if (dl_timer_is_set(t)) lua_pushfstring(L, "KTIMER#%I due at %Ins", id, (lua_Integer)dl_timer_due(t));
  else lua_pushfstring(L, "KTIMER#%I %s", id, dl_timer_signaled(t) ? "signalled" : "idle");
  return 1;
}

static const luaL_Reg timer_meta[] = {
  {"__tostring", timer_tostring},
  {NULL, NULL}
};

static int dpc_tostring(lua_State *L) {
  lobject *h = ldl_checkclass(L, 1, LDL_DPC);
  if (!h->owner->m) {
    lua_pushliteral(L, "KDPC (machine closed)");
    return 1;
  }
  dl_dpc *dpc = h->obj;
  if (!dpc) {
    lua_pushliteral(L, "KDPC (freed)");
    return 1;
  }
  static const char *const imp[] = {"low", "medium", "high", "medium-high"};
  lua_pushfstring(L, "KDPC#%I %s importance%s", (lua_Integer)DL_OBJECT(dpc)->id,
                  imp[dl_dpc_importance(dpc) & 3], dl_dpc_queued(dpc) ? " queued" : "");
  return 1;
}

/* DPCs live as long as their machine: the handle owns nothing. */
static const luaL_Reg meta[] = {
  {"__tostring", dpc_tostring},
  {NULL, NULL}
};

static const luaL_Reg methods[] = {
  {NULL, NULL}
};

static const luaL_Reg functions[] = {
  {"KeInitializeDpc", l_KeInitializeDpc},
  {"KeInsertQueueDpc", l_KeInsertQueueDpc},
  {"KeRemoveQueueDpc", l_KeRemoveQueueDpc},
  {"KeSetImportanceDpc", l_KeSetImportanceDpc},
  {"KeSetTargetProcessorDpc", l_KeSetTargetProcessorDpc},
  {"IoInitializeDpcRequest", l_IoInitializeDpcRequest},
  {"IoRequestDpc", l_IoRequestDpc},
  {"KeInitializeTimer", l_KeInitializeTimer},
  {"KeSetTimer", l_KeSetTimer},
  {"KeSetTimerEx", l_KeSetTimerEx},
  {"KeCancelTimer", l_KeCancelTimer},
  {"KeReadStateTimer", l_KeReadStateTimer},
  {NULL, NULL}
};

/* Registers the KDPC class, the DPC calls and the importance constants. */
void ldl_open_dpc(lua_State *L) {
  ldl_newclass(L, LDL_DPC, meta, methods, NULL);
  ldl_newclass(L, LDL_TIMER, timer_meta, methods, NULL);
  luaL_setfuncs(L, functions, 0);
  static const struct { const char *name; int v; } k[] = {
    {"LowImportance", DL_LOW_IMPORTANCE}, {"MediumImportance", DL_MEDIUM_IMPORTANCE},
    {"HighImportance", DL_HIGH_IMPORTANCE}, {"MediumHighImportance", DL_MEDIUM_HIGH_IMPORTANCE},
  };
  for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
    lua_pushinteger(L, k[i].v);
    lua_setfield(L, -2, k[i].name);
  }
}
