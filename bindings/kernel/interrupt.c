/*
** interrupt.c: KINTERRUPT handles: IoConnectInterrupt, IoDisconnectInterrupt,
** IoConnectInterruptEx / IoDisconnectInterruptEx (fully specified,
** line-based and message-based: dl_intconnect.h) and KeSynchronizeExecution. The ISR and its context live in the machine's
** callback table, keyed by the interrupt.
*/
#include <stdint.h>

#include "devices/dl_intconnect.h"
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

/* Runs a Lua ISR: ServiceRoutine(Interrupt, ServiceContext) -> BOOLEAN, or
** for a message interrupt InterruptMessageService(Interrupt,
** ServiceContext, MessageID) (state slot 3: the MessageID). */
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
  int nargs = lua_rawgeti(L, -4, 3) == LUA_TNUMBER ? 3 : 2;
  if (nargs == 2) lua_pop(L, 1);
  lua_remove(L, -2 - nargs);
  lua_remove(L, -2 - nargs);
  ldl_where(lm, "the ISR", "KINTERRUPT", DL_OBJECT(intr)->id);
  if (!ldl_callback(L, lm, nargs, 1)) {
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
  ldl_call c;
  ldl_enter(L, lm, &c);  /* a report (a call above PASSIVE_LEVEL) is raised at the end */
  int rc = dl_interrupt_connect(lm->m, (uint32_t)vector, irql, sync, mode == 1, share, affinity,
                                on_isr, NULL, &intr);
  if (rc) {
    ldl_leave(L, &c);
    lua_pushinteger(L, rc == DL_EBUSY ? DL_STATUS_SHARING_VIOLATION
                                      : DL_STATUS_INVALID_PARAMETER);
    return 1;
  }
  lua_pushinteger(L, 0);
  ldl_pushobject(L, LDL_INTERRUPT, DL_OBJECT(intr));
  ldl_pushstate(L, -1);  /* the ISR is in place before any report is raised */
  lua_pushvalue(L, 1);
  lua_rawseti(L, -2, 1);
  lua_pushvalue(L, 2);
  lua_rawseti(L, -2, 2);
  lua_pop(L, 1);
  ldl_leave(L, &c);
  return 2;
}

/* Connects one interrupt whose ISR is the function at `routine` with the
** context at `context` (MessageID `message`, or -1); pushes the KINTERRUPT
** and returns 0, or returns the NTSTATUS of a failure. */
static uint32_t connect(lua_State *L, lmachine *lm, int routine, int context, long message,
                        uint32_t vector, uint8_t irql, uint8_t sync, int latched, int share) {
  dl_interrupt *intr;
  int rc = dl_interrupt_connect(lm->m, vector, irql, sync, latched, share, 1, on_isr, NULL, &intr);
  if (rc) return rc == DL_EBUSY ? DL_STATUS_SHARING_VIOLATION : DL_STATUS_INVALID_PARAMETER;
  ldl_pushobject(L, LDL_INTERRUPT, DL_OBJECT(intr));
  ldl_pushstate(L, -1);
  lua_pushvalue(L, routine);
  lua_rawseti(L, -2, 1);
  lua_pushvalue(L, context);
  lua_rawseti(L, -2, 2);
  if (message >= 0) {
    lua_pushinteger(L, message);
    lua_rawseti(L, -2, 3);
  }
  lua_pop(L, 1);
  return 0;
}

/* ldl_checkfields on the member table at 3, whose errors name argument 1
** (Parameters, kept at 2). */
static void check_member(lua_State *L, const char *fmt, const char *const valid[]) {
  lua_pushvalue(L, 3);
  lua_replace(L, 1);
  ldl_checkfields(L, 1, fmt, valid);
  lua_pushvalue(L, 2);
  lua_replace(L, 1);
}

/* Reads an optional integer field of the table at idx (def if absent). */
static lua_Integer opt_field(lua_State *L, int idx, const char *k, lua_Integer def) {
  lua_getfield(L, idx, k);
  lua_Integer v = lua_isnil(L, -1) ? def : lua_isboolean(L, -1) ? lua_toboolean(L, -1) : lua_tointeger(L, -1);
  lua_pop(L, 1);
  return v;
}

/* CONNECT_FULLY_SPECIFIED: the table at 3 holds the IoConnectInterrupt
** arguments by name. */
static int connect_fully_specified(lua_State *L, lmachine *lm) {
  static const char *const fields[] = {"PhysicalDeviceObject", "InterruptObject", "ServiceRoutine",
                                       "ServiceContext", "SpinLock", "SynchronizeIrql", "FloatingSave",
                                       "ShareVector", "Vector", "Irql", "InterruptMode",
                                       "ProcessorEnableMask", "Group", NULL};
  check_member(L, "IO_CONNECT_INTERRUPT_FULLY_SPECIFIED_PARAMETERS has no field '%s' (%s)", fields);
  lua_getfield(L, 3, "ServiceRoutine");                                   /* 4 */
  luaL_argcheck(L, lua_isfunction(L, 4), 1, "FullySpecified.ServiceRoutine must be a function");
  lua_getfield(L, 3, "ServiceContext");                                   /* 5 */
  lua_Integer vector = opt_field(L, 3, "Vector", -1), irql = opt_field(L, 3, "Irql", 0);
  lua_Integer sync = opt_field(L, 3, "SynchronizeIrql", irql), mode = opt_field(L, 3, "InterruptMode", 0);
  luaL_argcheck(L, vector >= 0 && vector < DL_MAX_VECTORS, 1, "FullySpecified.Vector must be 0..255");
  luaL_argcheck(L, irql > 2 && irql <= 15, 1, "FullySpecified.Irql must be a DIRQL (3 to 15)");
  luaL_argcheck(L, sync >= irql && sync <= 15, 1, "FullySpecified.SynchronizeIrql must be >= Irql");
  luaL_argcheck(L, mode == 0 || mode == 1, 1, "FullySpecified.InterruptMode must be LevelSensitive or Latched");
  luaL_argcheck(L, opt_field(L, 3, "Group", 0) == 0, 1, "FullySpecified.Group must be 0 (one processor group)");
  ldl_call c;
  ldl_enter(L, lm, &c);
  uint32_t st = connect(L, lm, 4, 5, -1, (uint32_t)vector, (uint8_t)irql, (uint8_t)sync, mode == 1,
                        opt_field(L, 3, "ShareVector", 0) != 0);
  ldl_leave(L, &c);
  if (st) {
    lua_pushinteger(L, st);
    return 1;
  }
  lua_pushvalue(L, -1);
  lua_setfield(L, 3, "InterruptObject");
  lua_pushinteger(L, DL_STATUS_SUCCESS);
  lua_insert(L, -2);
  return 2;
}

/* Pushes the IO_INTERRUPT_MESSAGE_INFO of the plan, whose KINTERRUPTs are
** at first..first+n-1. */
static void push_message_table(lua_State *L, const dl_connect_plan *p, int first) {
  lua_createtable(L, 0, 3);
  lua_pushinteger(L, p->unified_irql);
  lua_setfield(L, -2, "UnifiedIrql");
  lua_pushinteger(L, (lua_Integer)p->n);
  lua_setfield(L, -2, "MessageCount");
  lua_createtable(L, 0, (int)p->n);
  for (size_t i = 0; i < p->n; i++) {
    lua_createtable(L, 0, 5);
    lua_pushvalue(L, first + (int)i);
    lua_setfield(L, -2, "InterruptObject");
    lua_pushinteger(L, p->irq[i].vector);
    lua_setfield(L, -2, "Vector");
    lua_pushinteger(L, p->irq[i].irql);
    lua_setfield(L, -2, "Irql");
    lua_pushinteger(L, 1);  /* Latched */
    lua_setfield(L, -2, "Mode");
    lua_pushinteger(L, (lua_Integer)i);
    lua_setfield(L, -2, "MessageData");
    lua_rawseti(L, -2, (lua_Integer)i);
  }
  lua_setfield(L, -2, "MessageInfo");
}

/* CONNECT_LINE_BASED / CONNECT_MESSAGE_BASED: the table at 3; the device's
** interrupts as dl_intconnect.h plans them. */
static int connect_planned(lua_State *L, lmachine *lm, uint32_t version) {
  int message = version == DL_CONNECT_MESSAGE_BASED;
  static const char *const line_fields[] = {"PhysicalDeviceObject", "InterruptObject", "ServiceRoutine",
                                            "ServiceContext", "SpinLock", "SynchronizeIrql", "FloatingSave",
                                            NULL};
  static const char *const message_fields[] = {"PhysicalDeviceObject", "ConnectionContext",
                                               "MessageServiceRoutine", "ServiceContext", "SpinLock",
                                               "SynchronizeIrql", "FloatingSave", "FallBackServiceRoutine",
                                               NULL};
  check_member(L, message ? "IO_CONNECT_INTERRUPT_MESSAGE_BASED_PARAMETERS has no field '%s' (%s)"
                          : "IO_CONNECT_INTERRUPT_LINE_BASED_PARAMETERS has no field '%s' (%s)",
               message ? message_fields : line_fields);
  lua_getfield(L, 3, message ? "MessageServiceRoutine" : "ServiceRoutine");   /* 4 */
  luaL_argcheck(L, lua_isfunction(L, 4), 1, message ? "MessageBased.MessageServiceRoutine must be a function"
                                                    : "LineBased.ServiceRoutine must be a function");
  lua_getfield(L, 3, "ServiceContext");                                       /* 5 */
  lua_getfield(L, 3, "FallBackServiceRoutine");                               /* 6 */
  luaL_argcheck(L, !message || lua_isnil(L, 6) || lua_isfunction(L, 6), 1,
                "MessageBased.FallBackServiceRoutine must be a function");
  lua_getfield(L, 3, "PhysicalDeviceObject");                                 /* 7 */
  lobject *pdo = ldl_testclass(L, 7, LDL_DEVICE);
  lua_Integer sync = opt_field(L, 3, "SynchronizeIrql", 0);
  dl_connect_plan plan;
  uint32_t st = dl_connect_plan_for(lm->m, pdo && pdo->owner == lm ? pdo->obj : NULL, version,
                                    !lua_isnil(L, 6), &plan);
  if (st) {
    lua_pushinteger(L, st);
    return 1;
  }
  int first = lua_gettop(L) + 1, fell_back = message && plan.version == DL_CONNECT_LINE_BASED;
  uint8_t s = (uint8_t)(sync > plan.unified_irql && sync <= 15 ? sync : plan.unified_irql);
  ldl_call c;
  ldl_enter(L, lm, &c);
  for (size_t i = 0; i < plan.n && !st; i++)
    st = connect(L, lm, fell_back ? 6 : 4, 5, message && !fell_back ? (long)i : -1, plan.irq[i].vector,
                 plan.irq[i].irql, s, plan.irq[i].latched, !plan.irq[i].latched);
  for (int i = first; st && i <= lua_gettop(L); i++)  /* all or none */
    dl_interrupt_disconnect(((lobject *)lua_touserdata(L, i))->obj);
  ldl_leave(L, &c);
  if (st) {
    lua_pushinteger(L, st);
    return 1;
  }
  if (message && !fell_back) push_message_table(L, &plan, first);
  else lua_pushvalue(L, first);
  if (message) {
    lua_createtable(L, 0, 2);
    lua_pushvalue(L, -2);
    lua_setfield(L, -2, fell_back ? "InterruptObject" : "InterruptMessageTable");
    lua_pushvalue(L, -2);
    lua_setfield(L, -2, "Generic");
    lua_setfield(L, 3, "ConnectionContext");
    lua_pushinteger(L, plan.version);
    lua_setfield(L, 2, "Version");  /* CONNECT_LINE_BASED after a fallback */
  } else {
    lua_pushvalue(L, -1);
    lua_setfield(L, 3, "InterruptObject");
  }
  lua_pushinteger(L, DL_STATUS_SUCCESS);
  lua_insert(L, -2);
  return 2;
}

/* IoConnectInterruptEx(Parameters) -> NTSTATUS, and the interrupt object
** or message table it also stores in Parameters (the WDK's out members). */
static int l_IoConnectInterruptEx(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  static const char *const fields[] = {"Version", "FullySpecified", "LineBased", "MessageBased", NULL};
  ldl_checkfields(L, 1, "IO_CONNECT_INTERRUPT_PARAMETERS has no field '%s' (%s)", fields);
  lmachine *lm = ldl_currentlm(L, "IoConnectInterruptEx");
  ldl_checkirql(L, lm, "IoConnectInterruptEx", 1, DL_PASSIVE_LEVEL);
  lua_Integer version = opt_field(L, 1, "Version", 0);
  const char *part = version == DL_CONNECT_FULLY_SPECIFIED ? "FullySpecified"
                     : version == DL_CONNECT_LINE_BASED    ? "LineBased"
                     : version == DL_CONNECT_MESSAGE_BASED ? "MessageBased" : NULL;
  if (!part) {
    lua_pushinteger(L, DL_STATUS_INVALID_PARAMETER_1);
    return 1;
  }
  lua_pushvalue(L, 1);                                                    /* 2: Parameters */
  lua_getfield(L, 1, part);                                               /* 3 */
  luaL_argcheck(L, lua_istable(L, 3), 1, lua_pushfstring(L, "Parameters.%s must be a table", part));
  if (version == DL_CONNECT_FULLY_SPECIFIED) return connect_fully_specified(L, lm);
  return connect_planned(L, lm, (uint32_t)version);
}

/* IoDisconnectInterruptEx(Parameters): Version and ConnectionContext (its
** InterruptObject, or InterruptMessageTable for CONNECT_MESSAGE_BASED). */
static int l_IoDisconnectInterruptEx(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  static const char *const fields[] = {"Version", "ConnectionContext", NULL};
  ldl_checkfields(L, 1, "IO_DISCONNECT_INTERRUPT_PARAMETERS has no field '%s' (%s)", fields);
  lua_Integer version = opt_field(L, 1, "Version", 0);
  luaL_argcheck(L, version >= DL_CONNECT_FULLY_SPECIFIED && version <= DL_CONNECT_MESSAGE_BASED, 1,
                "Version must be CONNECT_FULLY_SPECIFIED, CONNECT_LINE_BASED or CONNECT_MESSAGE_BASED");
  luaL_argcheck(L, lua_getfield(L, 1, "ConnectionContext") == LUA_TTABLE, 1,
                "ConnectionContext must be a table");
  int n = 1;
  if (version == DL_CONNECT_MESSAGE_BASED) {
    luaL_argcheck(L, lua_getfield(L, -1, "InterruptMessageTable") == LUA_TTABLE &&
                     lua_getfield(L, -1, "MessageInfo") == LUA_TTABLE, 1,
                  "ConnectionContext.InterruptMessageTable expected (what IoConnectInterruptEx stored)");
    n = (int)opt_field(L, -2, "MessageCount", 0);
  } else {
    lua_pushvalue(L, -1);
  }
  int table = lua_gettop(L);
  for (int i = 0; i < n; i++) {
    if (version == DL_CONNECT_MESSAGE_BASED) {
      lua_rawgeti(L, table, i);
      lua_getfield(L, -1, "InterruptObject");
    } else {
      lua_getfield(L, table, "InterruptObject");
    }
    lobject *h = ldl_checkobject(L, lua_gettop(L), LDL_INTERRUPT, "KINTERRUPT");
    ldl_call c;
    ldl_enter(L, h->owner, &c);
    dl_io_disconnect_interrupt(h->obj);
    ldl_leave(L, &c);
    lua_settop(L, table);
  }
  return 0;
}

/* IoDisconnectInterrupt(InterruptObject) */
static int l_IoDisconnectInterrupt(lua_State *L) {
  lobject *h = ldl_checkobject(L, 1, LDL_INTERRUPT, "KINTERRUPT");
  ldl_call c;
  ldl_enter(L, h->owner, &c);
  dl_io_disconnect_interrupt(h->obj);  /* the handle is told: it reads as disconnected */
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
  {"IoConnectInterruptEx", l_IoConnectInterruptEx},
  {"IoDisconnectInterruptEx", l_IoDisconnectInterruptEx},
  {"KeSynchronizeExecution", l_KeSynchronizeExecution},
  {NULL, NULL}
};

/* Registers the KINTERRUPT class, its calls and KINTERRUPT_MODE. */
void ldl_open_interrupt(lua_State *L) {
  ldl_newclass(L, LDL_INTERRUPT, meta, methods, NULL);
  luaL_setfuncs(L, functions, 0);
  static const struct { const char *name; int v; } modes[] = {
    {"LevelSensitive", 0}, {"Latched", 1}, {"CONNECT_FULLY_SPECIFIED", DL_CONNECT_FULLY_SPECIFIED},
    {"CONNECT_LINE_BASED", DL_CONNECT_LINE_BASED}, {"CONNECT_MESSAGE_BASED", DL_CONNECT_MESSAGE_BASED},
  };
  for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
    lua_pushinteger(L, modes[i].v);
    lua_setfield(L, -2, modes[i].name);
  }
}
