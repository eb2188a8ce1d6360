/*
** irpstack.c: what a driver in a device stack calls before passing an IRP
** down (io/dl_irpstack.h): IoSkipCurrentIrpStackLocation,
** IoCopyCurrentIrpStackLocationToNext, IoSetCompletionRoutine, and the
** trampoline that runs a completion routine as the IRP completes.
**
** A routine and its Context live in the IRP handle's state table, under
** CompletionRoutines[location]; the core calls one trampoline for all.
*/
#include "io/dl_driver.h"
#include "io/dl_irpstack.h"
#include "base/dl_status.h"
#include "../ldl.h"

static lobject *checkirp(lua_State *L, int arg) { return ldl_checkobject(L, arg, LDL_IRP, "IRP"); }

/* Raises the reason a stack call was refused on the IRP at arg. */
static int refused(lua_State *L, int arg, const char *call) {
  dl_irp *irp = ((lobject *)lua_touserdata(L, arg))->obj;
  if (!dl_irp_device(irp)) return luaL_argerror(L, arg, "IRP was never sent to a driver (IoCallDriver)");
  if (dl_irp_completed(irp)) return luaL_argerror(L, arg, "IRP was already completed");
  if (dl_irp_queued(irp))
    return luaL_argerror(L, arg, "IRP is in a device queue waiting for StartIo: its stack locations "
                                 "are StartIo's");
  return luaL_argerror(L, arg, lua_pushfstring(L, "%s: IRP#%I has no stack location below the "
                       "current one (the lowest driver of its stack has it)", call,
                       (lua_Integer)DL_OBJECT(irp)->id));
}

/* IoSkipCurrentIrpStackLocation(Irp) */
static int l_IoSkipCurrentIrpStackLocation(lua_State *L) {
  lobject *h = checkirp(L, 1);
  if (dl_irp_skip_current(h->obj)) return refused(L, 1, "IoSkipCurrentIrpStackLocation");
  return 0;
}

/* IoCopyCurrentIrpStackLocationToNext(Irp) */
static int l_IoCopyCurrentIrpStackLocationToNext(lua_State *L) {
  lobject *h = checkirp(L, 1);
  if (dl_irp_copy_to_next(h->obj)) return refused(L, 1, "IoCopyCurrentIrpStackLocationToNext");
  return 0;
}

/* Calls routine(DeviceObject, Irp, Context) and checks it returned an
** NTSTATUS (pcall'd: both errors are the completing call's). */
static int call_routine(lua_State *L) {
  lua_pushvalue(L, 1);
  lua_pushvalue(L, 2);
  lua_pushvalue(L, 3);
  lua_pushvalue(L, 4);
  lua_call(L, 3, 1);
  int ok = 0;
  lua_Integer v = lua_tointegerx(L, -1, &ok);
  if (!ok || v < INT32_MIN || v > (lua_Integer)UINT32_MAX)
    return luaL_error(L, "IoCompleteRequest: the completion routine returned %s, not an NTSTATUS",
                      luaL_typename(L, -1));
  return 1;
}

/* Pushes the CompletionRoutines table of the IRP handle at arg (made on first use). */
static void push_routines(lua_State *L, int arg) {
  ldl_pushstate(L, arg);
  if (lua_getfield(L, -1, "CompletionRoutines") != LUA_TTABLE) {
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_setfield(L, -3, "CompletionRoutines");
  }
  lua_remove(L, -2);
}

/* The core's completion routine: the Lua routine set for `location`. A
** routine that raised lets completion go on (the error is raised after). */
static uint32_t on_routine(void *ctx, dl_device *dev, dl_irp *irp, int location) {
  (void)ctx;
  lmachine *lm = dl_machine_data(DL_OBJECT(irp)->m);
  lua_State *L = lm->L;
  int base = lua_gettop(L);
  ldl_pushobject(L, LDL_IRP, DL_OBJECT(irp));   /* base+1: irp */
  push_routines(L, base + 1);                    /* base+2: routines */
  int t = lua_rawgeti(L, base + 2, location);    /* base+3: {fn, ctx} */
  lua_pushnil(L);
  lua_rawseti(L, base + 2, location);            /* runs once */
  if (t != LUA_TTABLE) {
    lua_settop(L, base);
    return DL_STATUS_SUCCESS;
  }
  lua_pushcfunction(L, call_routine);
  lua_rawgeti(L, base + 3, 1);
  ldl_pushobject(L, LDL_DEVICE, DL_OBJECT(dev));
  lua_pushvalue(L, base + 1);
  lua_rawgeti(L, base + 3, 2);                   /* call_routine, fn, dev, irp, ctx */
  ldl_where(lm, "the completion routine", "IRP", DL_OBJECT(irp)->id);
  uint32_t st = DL_STATUS_SUCCESS;
  if (ldl_pcall(L, lm, 4, 1)) st = (uint32_t)lua_tointeger(L, -1);
  lua_settop(L, base);
  return st;
}

/* IoSetCompletionRoutine's work on the IRP at argument a, the routine,
** Context and the three InvokeOn* flags after it. */
static void set_routine(lua_State *L, int a) {
  lobject *h = checkirp(L, a);
  luaL_argcheck(L, lua_isfunction(L, a + 1) || lua_isnil(L, a + 1), a + 1, "a function or nil expected");
  uint8_t invoke = 0;
  if (ldl_checkbool(L, a + 3)) invoke |= DL_SL_INVOKE_ON_SUCCESS;
  if (ldl_checkbool(L, a + 4)) invoke |= DL_SL_INVOKE_ON_ERROR;
  if (ldl_checkbool(L, a + 5)) invoke |= DL_SL_INVOKE_ON_CANCEL;
  dl_irp *irp = h->obj;
  int fn = lua_isfunction(L, a + 1);
  if (dl_irp_set_routine(irp, fn ? on_routine : NULL, NULL, invoke))
    refused(L, a, a == 1 ? "IoSetCompletionRoutine" : "IoSetCompletionRoutineEx");
  push_routines(L, a);
  if (fn) {
    lua_createtable(L, 2, 0);
    lua_pushvalue(L, a + 1);
    lua_rawseti(L, -2, 1);
    lua_pushvalue(L, a + 2);
    lua_rawseti(L, -2, 2);
  } else {
    lua_pushnil(L);
  }
  lua_rawseti(L, -2, dl_irp_current_location(irp) - 1);
  lua_pop(L, 1);
}

/* IoSetCompletionRoutine(Irp, CompletionRoutine, Context, InvokeOnSuccess,
** InvokeOnError, InvokeOnCancel): in the next-lower stack location; the
** routine runs as CompletionRoutine(DeviceObject, Irp, Context) -> NTSTATUS
** when the driver beneath completes the IRP. */
static int l_IoSetCompletionRoutine(lua_State *L) {
  set_routine(L, 1);
  return 0;
}

/* IoSetCompletionRoutineEx(DeviceObject, Irp, CompletionRoutine, Context,
** InvokeOnSuccess, InvokeOnError, InvokeOnCancel) -> NTSTATUS: the same,
** for a driver that may unload before the routine runs (the lab keeps the
** routine: nothing to allocate, STATUS_SUCCESS). */
static int l_IoSetCompletionRoutineEx(lua_State *L) {
  ldl_checklivedevice(L, 1);
  set_routine(L, 2);
  lua_pushinteger(L, DL_STATUS_SUCCESS);
  return 1;
}

static const luaL_Reg functions[] = {
  {"IoSkipCurrentIrpStackLocation", l_IoSkipCurrentIrpStackLocation},
  {"IoCopyCurrentIrpStackLocationToNext", l_IoCopyCurrentIrpStackLocationToNext},
  {"IoSetCompletionRoutine", l_IoSetCompletionRoutine},
  {"IoSetCompletionRoutineEx", l_IoSetCompletionRoutineEx},
  {NULL, NULL}
};

/* Registers the stack-location calls in the module at -1. */
void ldl_open_irpstack(lua_State *L) { luaL_setfuncs(L, functions, 0); }
