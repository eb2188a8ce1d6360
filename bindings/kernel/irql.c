/*
** irql.c: KeGetCurrentIrql, KeRaiseIrql, KeLowerIrql on the current
** machine's CPU, and the IRQL constants. The rules (raise only up, lower
** only down) are the core's: kernel/dl_cpu.h.
*/
#include "kernel/dl_cpu.h"
#include "base/dl_status.h"
#include "../ldl.h"

/* KeGetCurrentIrql() -> irql */
static int l_KeGetCurrentIrql(lua_State *L) {
  lmachine *lm = ldl_current(L, "KeGetCurrentIrql");
  lua_pushinteger(L, dl_machine_irql(lm->m));
  return 1;
}

static lua_Integer check_level(lua_State *L, int arg) {
  lua_Integer level = luaL_checkinteger(L, arg);
  luaL_argcheck(L, level >= DL_PASSIVE_LEVEL && level <= DL_HIGH_LEVEL, arg,
                "IRQL must be from PASSIVE_LEVEL (0) to HIGH_LEVEL (15)");
  return level;
}

/* KeRaiseIrql(NewIrql) -> OldIrql; raising to a lower level is bug check
** IRQL_NOT_GREATER_OR_EQUAL: an error whatever the verifier mode. */
static int l_KeRaiseIrql(lua_State *L) {
  lua_Integer level = check_level(L, 1);
  lmachine *lm = ldl_current(L, "KeRaiseIrql");
  uint8_t old;
  if (dl_ke_raise_irql(lm->m, (uint8_t)level, &old) != DL_OK)
    return luaL_error(L, "KeRaiseIrql: IRQL_NOT_GREATER_OR_EQUAL: cannot raise from %d to %d",
                      (int)old, (int)level);
  lua_pushinteger(L, old);
  return 1;
}

/* KeRaiseIrqlToDpcLevel() -> OldIrql */
static int l_KeRaiseIrqlToDpcLevel(lua_State *L) {
  lua_settop(L, 0);
  lua_pushinteger(L, DL_DISPATCH_LEVEL);
  return l_KeRaiseIrql(L);
}

/* KeLowerIrql(NewIrql); lowering to a higher level is bug check
** IRQL_NOT_LESS_OR_EQUAL: an error whatever the verifier mode. */
static int l_KeLowerIrql(lua_State *L) {
  lua_Integer level = check_level(L, 1);
  lmachine *lm = ldl_current(L, "KeLowerIrql");
  uint8_t now = dl_machine_irql(lm->m);
  if (dl_ke_lower_irql(lm->m, (uint8_t)level) != DL_OK)
    return luaL_error(L, "KeLowerIrql: IRQL_NOT_LESS_OR_EQUAL: cannot lower from %d to %d",
                      (int)now, (int)level);
  return 0;
}

static const luaL_Reg functions[] = {
  {"KeGetCurrentIrql", l_KeGetCurrentIrql},
  {"KeRaiseIrql", l_KeRaiseIrql},
  {"KeRaiseIrqlToDpcLevel", l_KeRaiseIrqlToDpcLevel},
  {"KeLowerIrql", l_KeLowerIrql},
  {NULL, NULL}
};

/* Registers the IRQL calls and constants in the module at -1. */
void ldl_open_irql(lua_State *L) {
  luaL_setfuncs(L, functions, 0);
  size_t n;
  const dl_wdk_value *levels = dl_irql_table(&n);
  ldl_setvalues(L, levels, n);  /* *_LEVEL: core's one table */
}
