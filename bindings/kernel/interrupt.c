/*
** interrupt.c: KINTERRUPT handles: IoConnectInterrupt, IoDisconnectInterrupt
** and KeSynchronizeExecution. The ISR and its context live in the machine's
** callback table, keyed by the interrupt.
*/
#include <stdint.h>

#include "kernel/dl_interrupt.h"
#include "base/dl_ntstatus.h"
#include "base/dl_status.h"
#include "../lcall.h"
#include "machine/dl_object.h"
#include "../ldl.h"

/* A BOOLEAN a routine returned: true/false, or an integer (0 is FALSE), as
** ldl_checkbool reads arguments, so that `return 0` is not "mine". */
static int returned_bool(lua_State *L, int idx) {
  return lua_isinteger(L, idx) ? lua_tointeger(L, idx) != 0 : lua_toboolean(L, idx);
}

/* Runs a Lua ISR: ServiceRoutine(Interrupt, ServiceContext) -> BOOLEAN. */
static int on_isr(void *ctx, dl_interrupt *intr) {
  (void)ctx;
  dl_machine *m = DL_OBJECT(intr)->m;
  lmachine *lm = dl_machine_data(m);
  lua_State *L = lm->L;
  ldl_pushobject(L, LDL_INTERRUPT, DL_OBJECT(intr));
  ldl_pushstate(L, -1);
  lua_rawgeti(L, -1, 1);                  /* interrupt, state, ServiceRoutine */
  lua_pushvalue(L, -3);
  lua_rawgeti(L, -3, 2);                  /* ..., routine, interrupt, ServiceContext */
  lua_remove(L, -4);
  lua_remove(L, -4);
  ldl_where(lm, "the ISR", "KINTERRUPT", DL_OBJECT(intr)->id);
  if (!ldl_callback(L, lm, 2, 1)) {
    dl_clock_stop(dl_machine_clock(m));
    return 1;  /* claimed, so a broken ISR does not look like a storm */
  }
  int claimed = returned_bool(L, -1);
  lua_pop(L, 1);
  return claimed;
}

static uint8_t check_irql(lua_State *L, int arg) {
  lua_Integer v = luaL_checkinteger(L, arg);
  luaL_argcheck(L, v > 2 && v <= 15, arg, "a device IRQL (DIRQL, 3 to 15) expected");
  return (uint8_t)v;
}

/* IoConnectInterrupt(ServiceRoutine, ServiceContext, SpinLock, Vector, Irql,
** SynchronizeIrql, InterruptMode, ShareVector, ProcessorEnableMask,
** FloatingSave) -> NTSTATUS, InterruptObject (the WDK's out parameter). */
static int l_IoConnectInterrupt(lua_State *L) {
  luaL_checktype(L, 1, LUA_TFUNCTION);
  lua_Integer vector = luaL_checkinteger(L, 4);
  uint8_t irql = check_irql(L, 5), sync = check_irql(L, 6);
  lua_Integer mode = luaL_checkinteger(L, 7);
  luaL_argcheck(L, mode == 0 || mode == 1, 7, "LevelSensitive or Latched expected");
  int share = ldl_checkbool(L, 8);
  uint64_t affinity = (uint64_t)luaL_optinteger(L, 9, 1);
  lmachine *lm = ldl_current(L, "IoConnectInterrupt");
  luaL_argcheck(L, vector >= 0 && vector < DL_MAX_VECTORS, 4, "vector must be 0..255");
  luaL_argcheck(L, sync >= irql, 6, "SynchronizeIrql must be >= Irql");
  dl_interrupt *intr;
  int rc = dl_interrupt_connect(lm->m, (uint32_t)vector, irql, sync, mode == 1, share, affinity,
                                on_isr, NULL, &intr);
  if (rc) {
    lua_pushinteger(L, rc == DL_EBUSY ? DL_STATUS_SHARING_VIOLATION
                                      : DL_STATUS_INVALID_PARAMETER);
    return 1;
  }
  lua_pushinteger(L, 0);
  ldl_pushobject(L, LDL_INTERRUPT, DL_OBJECT(intr));
  ldl_pushstate(L, -1);
  lua_pushvalue(L, 1);
  lua_rawseti(L, -2, 1);
  lua_pushvalue(L, 2);
  lua_rawseti(L, -2, 2);
  lua_pop(L, 1);
  return 2;
}

/* IoDisconnectInterrupt(InterruptObject) */
static int l_IoDisconnectInterrupt(lua_State *L) {
  lobject *h = ldl_checkobject(L, 1, LDL_INTERRUPT, "KINTERRUPT");
  ldl_call c;
  ldl_enter(L, h->owner, &c);
  dl_interrupt_disconnect(h->obj);  /* the handle is told: it reads as disconnected */
  ldl_leave(L, &c);
  return 0;
}

/* KeSynchronizeExecution's routine: SynchronizeRoutine(SynchronizeContext)
** from stack slots 2 and 3, a callback of its machine (the machine cannot
** be closed inside it; the instruction limits hold). */
typedef struct sync_call {
  lua_State *L;
  lmachine *lm;
} sync_call;

/* Runs the routine; -1 when it failed (its error is kept for ldl_leave, so
** the engine restores the IRQL before the error is raised). */
static int sync_trampoline(void *ctx) {
  sync_call *sc = ctx;
  lua_State *L = sc->L;
  lua_pushvalue(L, 2);
  lua_pushvalue(L, 3);
  if (!ldl_callback(L, sc->lm, 1, 1)) return -1;
  int r = returned_bool(L, -1);
  lua_pop(L, 1);
  return r;
}

/* KeSynchronizeExecution(Interrupt, SynchronizeRoutine, SynchronizeContext)
** -> the routine's BOOLEAN, run at the interrupt's SynchronizeIrql. */
static int l_KeSynchronizeExecution(lua_State *L) {
  lobject *h = ldl_checkobject(L, 1, LDL_INTERRUPT, "KINTERRUPT");
  luaL_checktype(L, 2, LUA_TFUNCTION);
  lua_settop(L, 3);
  ldl_call c;
  ldl_enter(L, h->owner, &c);
  sync_call sc = { L, h->owner };
  ldl_where(h->owner, "the SynchronizeRoutine", "KINTERRUPT", DL_OBJECT((dl_interrupt *)h->obj)->id);
  int r = dl_interrupt_synchronize(h->obj, sync_trampoline, &sc);
  ldl_leave(L, &c);  /* the routine's error, IRQL already restored */
  lua_pushboolean(L, r > 0);
  return 1;
}

static int i_tostring(lua_State *L) {
  lobject *h = ldl_checkclass(L, 1, LDL_INTERRUPT);
  if (!h->owner->m || !h->obj) {
    lua_pushliteral(L, "KINTERRUPT (disconnected)");
    return 1;
  }
  const dl_interrupt *intr = h->obj;
  lua_pushfstring(L, "KINTERRUPT#%I vector=%d irql=%d %s%s claimed=%I",
                  (lua_Integer)DL_OBJECT(intr)->id, (int)dl_interrupt_vector(intr),
                  (int)dl_interrupt_irql(intr), dl_interrupt_latched(intr) ? "latched" : "level",
                  dl_interrupt_shared(intr) ? " shared" : "", (lua_Integer)dl_interrupt_claimed(intr));
  return 1;
}

/* Interrupts stay connected until IoDisconnectInterrupt or machine close:
** the handle owns nothing. */
static const luaL_Reg meta[] = {
  {"__tostring", i_tostring},
  {NULL, NULL}
};

static const luaL_Reg methods[] = {
  {NULL, NULL}
};

static const luaL_Reg functions[] = {
  {"IoConnectInterrupt", l_IoConnectInterrupt},
  {"IoDisconnectInterrupt", l_IoDisconnectInterrupt},
  {"KeSynchronizeExecution", l_KeSynchronizeExecution},
  {NULL, NULL}
};

/* Registers the KINTERRUPT class, its calls and KINTERRUPT_MODE. */
void ldl_open_interrupt(lua_State *L) {
  ldl_newclass(L, LDL_INTERRUPT, meta, methods, NULL);
  luaL_setfuncs(L, functions, 0);
  static const struct { const char *name; int v; } modes[] = {{"LevelSensitive", 0}, {"Latched", 1}};
  for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
    lua_pushinteger(L, modes[i].v);
    lua_setfield(L, -2, modes[i].name);
  }
}
