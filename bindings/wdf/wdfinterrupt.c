/*
** wdfinterrupt.c: KMDF interrupts in Lua: WdfInterruptCreate (connected to
** the device's interrupt resource at each power-up, disconnected at each
** power-down), EvtInterruptIsr at DIRQL, WdfInterruptQueueDpcForIsr and
** EvtInterruptDpc at DISPATCH_LEVEL, the interrupt lock and
** WdfInterruptSynchronize.
*/
#include "machine/dl_clock.h"
#include "kernel/dl_interrupt.h"
#include "base/dl_status.h"
#include "machine/dl_verifier.h"
#include "../lcall.h"
#include "lwdf.h"

#define checkintr(L, i) ((dl_wdf_interrupt *)ldl_checkobject(L, i, LDL_WDFINTERRUPT, "WDFINTERRUPT")->obj)

/* A BOOLEAN a callback returned: true/false, or an integer (0 is FALSE). */
static int returned_bool(lua_State *L, int idx) {
  return lua_isinteger(L, idx) ? lua_tointeger(L, idx) != 0 : lua_toboolean(L, idx);
}

/* Pushes config field k of interrupt wi, its handle and its device's
** handle; returns the stack index of the function. */
static int push_call(lua_State *L, lmachine *lm, dl_wdf_interrupt *wi, const char *k) {
  (void)lm;
  lwdf_pushstate(L, wi);
  lua_getfield(L, -1, "config");
  lua_getfield(L, -1, k);
  lua_replace(L, -3);
  lua_pop(L, 1);
  int fn = lua_gettop(L);
  lwdf_pushhandle(L, wi);
  return fn;
}

/* EvtInterruptIsr(Interrupt, MessageID) -> BOOLEAN, at DIRQL. A failing ISR
** stops the clock and counts as "mine", so it does not look like a storm. */
int lwdf_isr(void *ctx, dl_wdf_interrupt *wi) {
  lmachine *lm = ctx;
  lua_State *L = lm->L;
  push_call(L, lm, wi, "EvtInterruptIsr");
  lua_pushinteger(L, dl_wdf_interrupt_message_id(wi));
  ldl_where(lm, "EvtInterruptIsr", "WDFINTERRUPT", DL_OBJECT(wi)->id);
  if (!ldl_callback(L, lm, 2, 1)) {
    dl_clock_stop(dl_machine_clock(DL_OBJECT(wi)->m));
    return 1;
  }
  int claimed = returned_bool(L, -1);
  lua_pop(L, 1);
  return claimed;
}

/* EvtInterruptDpc(Interrupt, AssociatedObject), at DISPATCH_LEVEL. */
void lwdf_dpc(void *ctx, dl_wdf_interrupt *wi) {
  lmachine *lm = ctx;
  lua_State *L = lm->L;
  dl_machine *m = DL_OBJECT(wi)->m;
  push_call(L, lm, wi, "EvtInterruptDpc");
  lwdf_pushhandle(L, dl_wdf_interrupt_device(wi));
  ldl_where(lm, "EvtInterruptDpc", "WDFINTERRUPT", DL_OBJECT(wi)->id);
  if (!ldl_callback(L, lm, 2, 0)) dl_clock_stop(dl_machine_clock(m));
}

/* EvtInterruptEnable / EvtInterruptDisable(Interrupt, AssociatedDevice) -> NTSTATUS, at DIRQL. */
uint32_t lwdf_interrupt_enable(void *ctx, dl_wdf_interrupt *wi, int on) {
  lmachine *lm = ctx;
  lua_State *L = lm->L;
  int top = lua_gettop(L);
  int fn = push_call(L, lm, wi, on ? "EvtInterruptEnable" : "EvtInterruptDisable");
  if (!lua_isfunction(L, fn)) {
    lua_settop(L, top);
    return DL_STATUS_SUCCESS;
  }
  lwdf_pushhandle(L, dl_wdf_interrupt_device(wi));
  uint32_t status = DL_STATUS_UNSUCCESSFUL;
  if (ldl_callback(L, lm, 2, 1) && lua_isinteger(L, -1)) status = (uint32_t)lua_tointeger(L, -1);
  lua_settop(L, top);
  return status;
}

/* WDF_INTERRUPT_CONFIG_INIT(EvtInterruptIsr, EvtInterruptDpc) -> config */
static int l_WDF_INTERRUPT_CONFIG_INIT(lua_State *L) {
  luaL_checktype(L, 1, LUA_TFUNCTION);
  luaL_argcheck(L, lua_isnoneornil(L, 2) || lua_isfunction(L, 2), 2, "a function or nil expected");
  lua_createtable(L, 0, 4);
  lua_pushvalue(L, 1);
  lua_setfield(L, -2, "EvtInterruptIsr");
  lua_pushvalue(L, 2);
  lua_setfield(L, -2, "EvtInterruptDpc");
  lua_pushinteger(L, 2);  /* WdfUseDefault */
  lua_setfield(L, -2, "ShareVector");
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "AutomaticSerialization");
  return 1;
}

static const char *const intr_callbacks[] = {
  "EvtInterruptIsr", "EvtInterruptDpc", "EvtInterruptEnable", "EvtInterruptDisable", NULL
};

/* WdfInterruptCreate(Device, Configuration, InterruptAttributes) -> status,
** WDFINTERRUPT: the n-th interrupt of a device gets its n-th interrupt
** resource at start. */
static int l_WdfInterruptCreate(lua_State *L) {
  lobject *dh = ldl_checkobject(L, 1, LDL_WDFDEVICE, "WDFDEVICE");
  luaL_checktype(L, 2, LUA_TTABLE);
  static const char *const fields[] = {  /* wdfinterrupt.h */
    "Size", "SpinLock", "ShareVector", "FloatingSave", "AutomaticSerialization", "EvtInterruptIsr",
    "EvtInterruptDpc", "EvtInterruptEnable", "EvtInterruptDisable", "EvtInterruptWorkItem",
    "InterruptRaw", "InterruptTranslated", "WaitLock", "PassiveHandling",
    "ReportInactiveOnPowerDown", "CanWakeDevice", NULL
  };
  ldl_checkfields(L, 2, "WDF_INTERRUPT_CONFIG has no field '%s' (%s)", fields);
  lua_settop(L, 3);
  lua_createtable(L, 0, 4);                                              /* 4: the config copy */
  for (int i = 0; intr_callbacks[i]; i++) {
    int t = lua_getfield(L, 2, intr_callbacks[i]);
    luaL_argcheck(L, t == LUA_TFUNCTION || (i > 0 && t == LUA_TNIL), 2,
                  lua_pushfstring(L, "%s must be a function", intr_callbacks[i]));
    lua_setfield(L, 4, intr_callbacks[i]);
  }
  lua_getfield(L, 4, "EvtInterruptDpc");
  lua_getfield(L, 4, "EvtInterruptEnable");
  lua_getfield(L, 4, "EvtInterruptDisable");
  int has_dpc = !lua_isnil(L, 5), has_enable = !lua_isnil(L, 6) || !lua_isnil(L, 7);
  lua_getfield(L, 2, "InterruptRaw");                                    /* 8 */
  lua_getfield(L, 2, "InterruptTranslated");                             /* 9 */
  long raw = lwdf_descriptor_index(L, 1, 8);
  long translated = lwdf_descriptor_index(L, 1, 9);
  lua_getfield(L, 2, "ShareVector");                                     /* 10 */
  int share_default = lua_isnil(L, 10) || (lua_isinteger(L, 10) && lua_tointeger(L, 10) == 2);
  lua_settop(L, 4);
  dl_wdf_interrupt *wi;
  ldl_call c;
  ldl_enter(L, dh->owner, &c);
  uint32_t st = dl_wdf_interrupt_create(dh->obj, has_dpc, has_enable, raw, translated, share_default, &wi);
  ldl_leave(L, &c);
  if (st != DL_STATUS_SUCCESS) {
    lua_pushinteger(L, st);
    return 1;
  }
  lwdf_newobject(L, dh->owner, wi, 3);
  lwdf_keep(L, "config", 4, NULL, 0);
  return lwdf_created(L);
}

/* WdfInterruptQueueDpcForIsr(Interrupt) -> BOOLEAN: KeInsertQueueDpc's result. */
static int l_WdfInterruptQueueDpcForIsr(lua_State *L) {
  lobject *h = ldl_checkobject(L, 1, LDL_WDFINTERRUPT, "WDFINTERRUPT");
  dl_wdf_interrupt *wi = h->obj;
  luaL_argcheck(L, dl_wdf_interrupt_has_dpc(wi), 1, "the interrupt has no EvtInterruptDpc");
  ldl_call c;
  ldl_enter(L, h->owner, &c);
  int queued = dl_wdf_interrupt_queue_dpc(wi);
  ldl_leave(L, &c);
  lua_pushboolean(L, queued);
  return 1;
}

/* WdfInterruptGetDevice(Interrupt) -> WDFDEVICE */
static int l_WdfInterruptGetDevice(lua_State *L) {
  lwdf_pushhandle(L, dl_wdf_interrupt_device(checkintr(L, 1)));
  return 1;
}

/* WdfInterruptAcquireLock(Interrupt): raises the IRQL to the interrupt's
** DIRQL; acquiring it while held is WDF_VIOLATION 0x2. */
static int l_WdfInterruptAcquireLock(lua_State *L) {
  lobject *h = ldl_checkobject(L, 1, LDL_WDFINTERRUPT, "WDFINTERRUPT");
  ldl_call c;
  ldl_enter(L, h->owner, &c);
  dl_wdf_interrupt_acquire_lock(h->obj);
  ldl_leave(L, &c);
  return 0;
}

/* WdfInterruptReleaseLock(Interrupt): back to the IRQL of the acquire. */
static int l_WdfInterruptReleaseLock(lua_State *L) {
  dl_wdf_interrupt *wi = checkintr(L, 1);
  if (dl_wdf_interrupt_release(wi) != DL_OK)
    return luaL_error(L, "WdfInterruptReleaseLock: the lock of WDFINTERRUPT#%I is not held",
                      (lua_Integer)DL_OBJECT(wi)->id);
  return 0;
}

/* WdfInterruptSynchronize(Interrupt, EvtInterruptSynchronize, Context) ->
** BOOLEAN: the callback(Interrupt, Context) runs at the interrupt's DIRQL,
** holding its lock. */
static int l_WdfInterruptSynchronize(lua_State *L) {
  dl_wdf_interrupt *wi = checkintr(L, 1);
  lmachine *lm = ((lobject *)lua_touserdata(L, 1))->owner;
  luaL_checktype(L, 2, LUA_TFUNCTION);
  lua_settop(L, 3);
  luaL_argcheck(L, !dl_wdf_interrupt_locked(wi), 1, "the interrupt's lock is held (WdfInterruptAcquireLock)");
  dl_wdf_interrupt_acquire(wi);
  lua_pushvalue(L, 2);
  lua_pushvalue(L, 1);
  lua_pushvalue(L, 3);
  ldl_where(lm, "EvtInterruptSynchronize", "WDFINTERRUPT", DL_OBJECT(wi)->id);
  int ok = ldl_callback(L, lm, 2, 1);  /* a callback of the machine: not closed inside it */
  dl_wdf_interrupt_release(wi);  /* the IRQL comes back before any error is raised */
  if (!ok) ldl_rethrow(L, lm);
  lua_pushboolean(L, returned_bool(L, -1));
  return 1;
}

/* WDF_INTERRUPT_INFO_INIT() -> {} */
static int l_WDF_INTERRUPT_INFO_INIT(lua_State *L) {
  lua_createtable(L, 0, 10);
  return 1;
}

/* WdfInterruptGetInfo(Interrupt, Info): fills Info (WDF_INTERRUPT_INFO). */
static int l_WdfInterruptGetInfo(lua_State *L) {
  dl_wdf_interrupt *wi = checkintr(L, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  dl_wdf_interrupt_info info;
  dl_wdf_interrupt_get_info(wi, &info);
  static const char *const names[] = {"MessageNumber", "Vector", "Irql", "Mode", "Polarity",
                                      "ShareDisposition", "Group", "TargetProcessorSet"};
  const lua_Integer values[] = {info.message_number, info.vector, info.irql, info.latched ? 1 : 0,
                                0 /* WdfInterruptPolarityUnknown */, info.share, 0, 1};
  for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
    lua_pushinteger(L, values[i]);
    lua_setfield(L, 2, names[i]);
  }
  lua_pushboolean(L, info.message_signaled);
  lua_setfield(L, 2, "MessageSignaled");
  return 0;
}

/* interrupt:connected() -> boolean (the lab's own) */
static int i_connected(lua_State *L) {
  lua_pushboolean(L, dl_wdf_interrupt_connected(checkintr(L, 1)));
  return 1;
}

static int i_tostring(lua_State *L) {
  lobject *h = ldl_checkclass(L, 1, LDL_WDFINTERRUPT);
  if (!h->owner->m || !h->obj) {
    lua_pushliteral(L, "WDFINTERRUPT (deleted)");
    return 1;
  }
  dl_wdf_interrupt *wi = h->obj;
  lua_pushfstring(L, "WDFINTERRUPT#%I vector=%d level=%d %s", (lua_Integer)DL_OBJECT(wi)->id,
                  (int)dl_wdf_interrupt_vector(wi), (int)dl_wdf_interrupt_level(wi),
                  dl_wdf_interrupt_connected(wi) ? "connected" : "disconnected");
  return 1;
}

static const luaL_Reg meta[] = {
  {"__tostring", i_tostring},
  {NULL, NULL}
};

static const luaL_Reg methods[] = {
  {"connected", i_connected},
  {NULL, NULL}
};

static const luaL_Reg functions[] = {
  {"WDF_INTERRUPT_CONFIG_INIT", l_WDF_INTERRUPT_CONFIG_INIT},
  {"WdfInterruptCreate", l_WdfInterruptCreate},
  {"WdfInterruptQueueDpcForIsr", l_WdfInterruptQueueDpcForIsr},
  {"WdfInterruptGetDevice", l_WdfInterruptGetDevice},
  {"WdfInterruptAcquireLock", l_WdfInterruptAcquireLock},
  {"WdfInterruptReleaseLock", l_WdfInterruptReleaseLock},
  {"WdfInterruptSynchronize", l_WdfInterruptSynchronize},
  {"WDF_INTERRUPT_INFO_INIT", l_WDF_INTERRUPT_INFO_INIT},
  {"WdfInterruptGetInfo", l_WdfInterruptGetInfo},
  {NULL, NULL}
};

/* Registers the interrupt class and calls. */
void lwdf_open_interrupt(lua_State *L) {
  lwdf_newclass(L, LDL_WDFINTERRUPT, meta, methods);
  luaL_setfuncs(L, functions, 0);
}
