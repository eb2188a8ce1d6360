/*
** dpc.c: KDPC handles and the DPC calls: KeInitializeDpc, KeInsertQueueDpc,
** KeRemoveQueueDpc, KeSetImportanceDpc, KeSetTargetProcessorDpc,
** IoInitializeDpcRequest and IoRequestDpc.
**
** A DPC belongs to its machine; its routine, context and the arguments of
** its pending insert live in one table per DPC in the machine's callback
** table (keyed by the DPC), made once, so queuing allocates nothing.
*/
#include <stdint.h>

#include "kernel/dl_cpu.h"
#include "io/dl_device.h"
#include "kernel/dl_interrupt.h"
#include "base/dl_status.h"
#include "machine/dl_object.h"
#include "../ldl.h"

enum { SLOT_ROUTINE = 1, SLOT_CONTEXT, SLOT_ARG1, SLOT_ARG2, SLOT_DEVICE };

#define checkdpc(L, i) ((dl_dpc *)ldl_checkobject(L, i, LDL_DPC, "KDPC")->obj)

/* Pushes the slot table of a DPC. */
static void push_slots(lua_State *L, lmachine *lm, dl_dpc *dpc) {
  lua_rawgeti(L, LUA_REGISTRYINDEX, lm->callbacks);
  lua_rawgetp(L, -1, dpc);
  lua_remove(L, -2);
}

/* Runs a DPC's Lua routine: DeferredRoutine(Dpc, DeferredContext, Arg1, Arg2),
** or DpcForIsr(Dpc, DeviceObject, Irp, Context) for IoInitializeDpcRequest. */
static void on_dpc(void *ctx, dl_dpc *dpc, uint64_t arg1, uint64_t arg2) {
  (void)ctx;
  (void)arg1;
  (void)arg2;
  dl_machine *m = dpc->m;  /* the routine may free its DPC (IoInitializeDpcRequest) */
  lmachine *lm = dl_machine_data(m);
  lua_State *L = lm->L;
  push_slots(L, lm, dpc);
  int slots = lua_gettop(L);
  lua_rawgeti(L, slots, SLOT_ROUTINE);
  ldl_pushmachine(L, m);
  ldl_pushobject(L, LDL_DPC, DL_OBJECT(dpc));
  lua_remove(L, -2);
  int is_device = lua_rawgeti(L, slots, SLOT_DEVICE) != LUA_TNIL;
  if (!is_device) {
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
  if (!ldl_callback(L, lm, 4, 0)) dl_clock_stop(dl_machine_clock(m));
}

/* Creates a DPC with routine and context; pushes its handle. */
static dl_dpc *new_dpc(lua_State *L, lmachine *lm, int routine, int context,
                       int device) {
  dl_dpc *dpc;
  int rc = dl_dpc_new(lm->m, on_dpc, NULL, &dpc);
  if (rc) ldl_statuserror(L, 1, rc, NULL);
  lua_rawgeti(L, LUA_REGISTRYINDEX, lm->callbacks);
  lua_createtable(L, 5, 0);
  lua_pushvalue(L, routine);
  lua_rawseti(L, -2, SLOT_ROUTINE);
  if (context) {
    lua_pushvalue(L, context);
    lua_rawseti(L, -2, SLOT_CONTEXT);
  }
  if (device) {
    lua_pushvalue(L, device);
    lua_rawseti(L, -2, SLOT_DEVICE);
  }
  lua_rawsetp(L, -2, dpc);
  lua_pop(L, 1);
  ldl_pushobject(L, LDL_DPC, DL_OBJECT(dpc));
  return dpc;
}

/* KeInitializeDpc(Dpc, DeferredRoutine, DeferredContext) -> Dpc. Pass nil
** (or a KDPC to re-initialise) as Dpc: Lua has no caller-allocated storage. */
static int l_KeInitializeDpc(lua_State *L) {
  luaL_checktype(L, 2, LUA_TFUNCTION);
  lua_settop(L, 3);
  if (!lua_isnil(L, 1)) {
    lobject *h = ldl_checkobject(L, 1, LDL_DPC, "KDPC");
    push_slots(L, h->owner, h->obj);
    lua_pushvalue(L, 2);
    lua_rawseti(L, -2, SLOT_ROUTINE);
    lua_pushvalue(L, 3);
    lua_rawseti(L, -2, SLOT_CONTEXT);
    lua_settop(L, 1);
    return 1;
  }
  lmachine *lm = ldl_current(L, "KeInitializeDpc");
  new_dpc(L, lm, 2, 3, 0);
  return 1;
}

/* Queues a DPC with two Lua arguments; returns what KeInsertQueueDpc does. */
static int insert(lua_State *L, lobject *h, int arg1, int arg2) {
  dl_dpc *dpc = h->obj;
  h->owner->L = L;
  if (dpc->queued) return 0;  /* the new arguments are lost, as in the kernel */
  push_slots(L, h->owner, dpc);
  lua_pushvalue(L, arg1);
  lua_rawseti(L, -2, SLOT_ARG1);
  lua_pushvalue(L, arg2);
  lua_rawseti(L, -2, SLOT_ARG2);
  lua_pop(L, 1);
  return dl_dpc_insert(dpc, 0, 0);
}

/* KeInsertQueueDpc(Dpc, SystemArgument1, SystemArgument2) -> BOOLEAN */
static int l_KeInsertQueueDpc(lua_State *L) {
  lobject *h = ldl_checkobject(L, 1, LDL_DPC, "KDPC");
  lua_settop(L, 3);
  lua_pushboolean(L, insert(L, h, 2, 3));
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
  dl_device *dev = h->obj;
  if (dev->dpc_for_isr) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, h->owner->callbacks);
    lua_pushnil(L);
    lua_rawsetp(L, -2, dev->dpc_for_isr);
    lua_pop(L, 1);
    dl_dpc_free(dev->dpc_for_isr);
  }
  ldl_pushowner(L, 1);
  dev->dpc_for_isr = new_dpc(L, h->owner, 2, 0, 1);
  return 0;
}

/* IoRequestDpc(DeviceObject, Irp, Context): legal only from the ISR. */
static int l_IoRequestDpc(lua_State *L) {
  lobject *h = ldl_checkobject(L, 1, LDL_DEVICE, "DEVICE_OBJECT");
  dl_device *dev = h->obj;
  lua_settop(L, 3);
  if (!dl_interrupt_running(h->owner->m))
    return luaL_error(L, "IoRequestDpc: legal only at DIRQL from an ISR (IRQL is %d)",
                      (int)dl_machine_irql(h->owner->m));
  luaL_argcheck(L, dev->dpc_for_isr != NULL, 1, "no DpcForIsr (IoInitializeDpcRequest first)");
  ldl_pushowner(L, 1);
  ldl_pushobject(L, LDL_DPC, DL_OBJECT(dev->dpc_for_isr));
  insert(L, ldl_checkobject(L, lua_gettop(L), LDL_DPC, "KDPC"), 2, 3);
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

/* DueTime as the kernel reads it: negative is relative, in 100 ns units;
** positive is an absolute (simulated) time in 100 ns units. */
static uint64_t due_time(dl_timer *t, lua_Integer due) {
  uint64_t now = dl_clock_now(dl_machine_clock(t->m));
  return due < 0 ? now + (uint64_t)(-due) * 100 : (uint64_t)due * 100;
}

/* Sets a timer with an optional KDPC at `arg`; returns KeSetTimer's BOOLEAN. */
static int set_timer(lua_State *L, lua_Integer period_ms, int dpc_arg) {
  dl_timer *t = checktimer(L, 1);
  lua_Integer due = luaL_checkinteger(L, 2);
  luaL_argcheck(L, period_ms >= 0, 3, "Period must not be negative");
  dl_dpc *dpc = lua_isnoneornil(L, dpc_arg) ? NULL : checkdpc(L, dpc_arg);
  ldl_checkobject(L, 1, LDL_TIMER, "KTIMER")->owner->L = L;
  lua_pushboolean(L, dl_timer_set(t, due_time(t, due), (uint64_t)period_ms * 1000000, dpc));
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
  lua_pushboolean(L, checktimer(L, 1)->signaled);
  return 1;
}

static int timer_tostring(lua_State *L) {
  lobject *h = luaL_checkudata(L, 1, LDL_TIMER);
  if (!h->owner->m) {
    lua_pushliteral(L, "KTIMER (machine closed)");
    return 1;
  }
  dl_timer *t = h->obj;
  if (t->set) lua_pushfstring(L, "KTIMER#%I due at %Ins", (lua_Integer)t->id, (lua_Integer)t->due);
  else lua_pushfstring(L, "KTIMER#%I %s", (lua_Integer)t->id, t->signaled ? "signalled" : "idle");
  return 1;
}

static const luaL_Reg timer_meta[] = {
  {"__tostring", timer_tostring},
  {NULL, NULL}
};

static int dpc_tostring(lua_State *L) {
  lobject *h = luaL_checkudata(L, 1, LDL_DPC);
  if (!h->owner->m) {
    lua_pushliteral(L, "KDPC (machine closed)");
    return 1;
  }
  dl_dpc *dpc = h->obj;
  static const char *const imp[] = {"low", "medium", "high", "medium-high"};
  lua_pushfstring(L, "KDPC#%I %s importance%s", (lua_Integer)dpc->id, imp[dpc->importance & 3],
                  dpc->queued ? " queued" : "");
  return 1;
}

/* DPCs live as long as their machine. */
static int dpc_gc(lua_State *L) {
  (void)L;
  return 0;
}

static const luaL_Reg meta[] = {
  {"__gc", dpc_gc},
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
