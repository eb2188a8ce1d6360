/*
** access.c: what the register accessors (mmio.c: READ_REGISTER_*,
** WRITE_REGISTER_*) and the port accessors (ioport.c: READ_PORT_*,
** WRITE_PORT_*) share: one access of 1, 2, 4 or 8 bytes through the core,
** and the BUFFER forms that make Count of them into or out of a table.
*/
#include "../ldl.h"

/* One access; upvalue 1 is the size, 2 is 1 for writes, 3 the ldl_access. */
static int l_access(lua_State *L) {
  uint32_t size = (uint32_t)lua_tointeger(L, lua_upvalueindex(1));
  int write = (int)lua_tointeger(L, lua_upvalueindex(2));
  const ldl_access *a = lua_touserdata(L, lua_upvalueindex(3));
  uint64_t at = ldl_checkuint(L, 1), value = 0;
  if (write) value = (uint64_t)luaL_checkinteger(L, 2);
  lmachine *lm = ldl_currentlm(L, write ? a->write_name : a->read_name);
  ldl_call call;
  ldl_enter(L, lm, &call);
  int rc = write ? a->write(lm->m, at, size, value) : a->read(lm->m, at, size, &value);
  if (rc) return luaL_argerror(L, 1, a->miss);
  ldl_leave(L, &call);
  if (write) return 0;
  lua_pushinteger(L, (lua_Integer)value);
  return 1;
}

/* The BUFFER forms: (Address, Buffer, Count), Buffer a table indexed
** 1..Count; upvalues as l_access. */
static int l_access_buffer(lua_State *L) {
  uint32_t size = (uint32_t)lua_tointeger(L, lua_upvalueindex(1));
  int write = (int)lua_tointeger(L, lua_upvalueindex(2));
  const ldl_access *a = lua_touserdata(L, lua_upvalueindex(3));
  uint64_t at = ldl_checkuint(L, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_Integer count = luaL_checkinteger(L, 3);
  luaL_argcheck(L, count >= 0, 3, "Count must not be negative");
  lmachine *lm = ldl_current(L, write ? a->write_buffer_name : a->read_buffer_name);
  ldl_call call;
  if (!a->each) ldl_enter(L, lm, &call);
  for (lua_Integer i = 1; i <= count; i++, at += a->advance ? size : 0) {
    uint64_t value = 0;
    if (write) {
      lua_rawgeti(L, 2, i);
      value = (uint64_t)lua_tointeger(L, -1);
      lua_pop(L, 1);
    }
    if (a->each) ldl_enter(L, lm, &call);
    int rc = write ? a->write(lm->m, at, size, value) : a->read(lm->m, at, size, &value);
    if (rc) return luaL_argerror(L, 1, a->miss);
    if (a->each) ldl_leave(L, &call);
    if (!write) {
      lua_pushinteger(L, (lua_Integer)value);
      lua_rawseti(L, 2, i);
    }
  }
  if (!a->each) ldl_leave(L, &call);
  return 0;
}

/* Sets the n accessors of `rows` in the module at -1, all going through a
** (static: the closures keep its address). */
void ldl_setaccessors(lua_State *L, const ldl_access *a, const ldl_accessor *rows, size_t n) {
  for (size_t i = 0; i < n; i++) {
    lua_pushinteger(L, rows[i].size);
    lua_pushinteger(L, rows[i].write);
    lua_pushlightuserdata(L, (void *)a);
    lua_pushcclosure(L, rows[i].buffer ? l_access_buffer : l_access, 3);
    lua_setfield(L, -2, rows[i].name);
  }
}
