/*
** verifier.c: reading Driver Verifier reports from Lua: m:reports(),
** m:check_leaks(), dma.check_leaks() (what dmalab runs after a script).
*/
#include <stdio.h>

#include "hal/dl_adapter.h"
#include "machine/dl_verifier.h"
#include "../ldl.h"

/* m:reports() -> { report, ... } in the order they were made */
static int v_reports(lua_State *L) {
  lmachine *lm = ldl_checkmachine(L, 1);
  lua_newtable(L);
  for (size_t i = 0; dl_verifier_at(lm->m, i); i++) {
    ldl_pushreport(L, dl_verifier_at(lm->m, i));
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  return 1;
}

/* m:check_leaks() -> { report, ... }: resources still held, as leak reports. */
static int v_check_leaks(lua_State *L) {
  lmachine *lm = ldl_checkmachine(L, 1);
  size_t first = (size_t)dl_verifier_count(lm->m);
  dl_machine_check_leaks(lm->m);
  lua_newtable(L);
  for (size_t i = first; dl_verifier_at(lm->m, i); i++) {
    ldl_pushreport(L, dl_verifier_at(lm->m, i));
    lua_rawseti(L, -2, (lua_Integer)(i - first) + 1);
  }
  return 1;
}

/* dma.check_leaks([out]) -> leaks, fatal: checks every open machine, writes
** each leak to the file `out` (default io.stderr); `fatal` counts the leaks
** on machines whose verifier raises. */
static int v_check_all(lua_State *L) {
  FILE *out = stderr;
  if (!lua_isnoneornil(L, 1)) out = ((luaL_Stream *)ldl_checkclass(L, 1, LUA_FILEHANDLE))->f;
  lua_Integer leaks = 0, fatal = 0;
  ldl_pushmachines(L);
  for (lua_pushnil(L); lua_next(L, -2); lua_pop(L, 1)) {
    lmachine *lm = ldl_testclass(L, -2, LDL_MACHINE);
    if (!lm || !lm->m) continue;
    size_t first = (size_t)dl_verifier_count(lm->m);
    dl_machine_check_leaks(lm->m);
    for (size_t i = first; dl_verifier_at(lm->m, i); i++) {
      const dl_report *r = dl_verifier_at(lm->m, i);
      if (out) fprintf(out, "verifier: leak: bug check 0x%X P1=0x%02X: %s\n", r->bugcheck, r->p1, r->message);
      leaks++;
      fatal += !lm->record;
    }
  }
  lua_pushinteger(L, leaks);
  lua_pushinteger(L, fatal);
  return 2;
}

/* Registers the verifier methods and dma.check_leaks. */
void ldl_open_verifier(lua_State *L) {
  lua_pushcfunction(L, v_check_all);
  lua_setfield(L, -2, "check_leaks");
  static const luaL_Reg machine_methods[] = {
    {"reports", v_reports}, {"check_leaks", v_check_leaks}, {NULL, NULL}
  };
  ldl_addmethods(L, LDL_MACHINE, machine_methods);
}
