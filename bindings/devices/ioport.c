/*
** ioport.c: the driver's side of I/O ports: READ_PORT_UCHAR/USHORT/ULONG,
** WRITE_PORT_*, and their BUFFER forms, on the port address a port
** resource gives (u.Port.Start, Flags CM_RESOURCE_PORT_IO): no mapping
** step, as on x86.
*/
#include "devices/dl_ioport.h"
#include "base/dl_status.h"
#include "../ldl.h"

/* Raises the error of a failed port access. */
static int port_error(lua_State *L, int rc) {
  (void)rc;
  return luaL_argerror(L, 1, "not a device's I/O port (u.Port.Start of a CmResourceTypePort resource)");
}

/* One port access; upvalue 1 is the size, upvalue 2 is 1 for writes. */
static int l_port(lua_State *L) {
  uint32_t size = (uint32_t)lua_tointeger(L, lua_upvalueindex(1));
  int write = (int)lua_tointeger(L, lua_upvalueindex(2));
  uint64_t port = ldl_checkuint(L, 1), value = 0;
  if (write) value = (uint64_t)luaL_checkinteger(L, 2);
  lmachine *lm = ldl_currentlm(L, write ? "WRITE_PORT" : "READ_PORT");
  ldl_call call;
  ldl_enter(L, lm, &call);
  int rc = write ? dl_port_write(lm->m, port, size, value) : dl_port_read(lm->m, port, size, &value);
  if (rc) return port_error(L, rc);
  ldl_leave(L, &call);
  if (write) return 0;
  lua_pushinteger(L, (lua_Integer)value);
  return 1;
}

/* The BUFFER forms: (Port, Buffer, Count), Count accesses of the same port
** (rep ins / rep outs), Buffer a table indexed 1..Count. */
static int l_port_buffer(lua_State *L) {
  uint32_t size = (uint32_t)lua_tointeger(L, lua_upvalueindex(1));
  int write = (int)lua_tointeger(L, lua_upvalueindex(2));
  uint64_t port = ldl_checkuint(L, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_Integer count = luaL_checkinteger(L, 3);
  luaL_argcheck(L, count >= 0, 3, "Count must not be negative");
  lmachine *lm = ldl_current(L, write ? "WRITE_PORT_BUFFER" : "READ_PORT_BUFFER");
  for (lua_Integer i = 1; i <= count; i++) {
    uint64_t value = 0;
    if (write) {
      lua_rawgeti(L, 2, i);
      value = (uint64_t)lua_tointeger(L, -1);
      lua_pop(L, 1);
    }
    ldl_call call;
    ldl_enter(L, lm, &call);
    int rc = write ? dl_port_write(lm->m, port, size, value) : dl_port_read(lm->m, port, size, &value);
    if (rc) return port_error(L, rc);
    ldl_leave(L, &call);
    if (!write) {
      lua_pushinteger(L, (lua_Integer)value);
      lua_rawseti(L, 2, i);
    }
  }
  return 0;
}

/* Registers the port accessors in the module at -1. */
void ldl_open_ioport(lua_State *L) {
  /* spelled out, so that .luacheckrc finds the names as WDK globals */
  static const struct { const char *name; int size, write, buffer; } ports[] = {
    {"READ_PORT_UCHAR", 1, 0, 0}, {"READ_PORT_USHORT", 2, 0, 0}, {"READ_PORT_ULONG", 4, 0, 0},
    {"WRITE_PORT_UCHAR", 1, 1, 0}, {"WRITE_PORT_USHORT", 2, 1, 0}, {"WRITE_PORT_ULONG", 4, 1, 0},
    {"READ_PORT_BUFFER_UCHAR", 1, 0, 1}, {"READ_PORT_BUFFER_USHORT", 2, 0, 1},
    {"READ_PORT_BUFFER_ULONG", 4, 0, 1}, {"WRITE_PORT_BUFFER_UCHAR", 1, 1, 1},
    {"WRITE_PORT_BUFFER_USHORT", 2, 1, 1}, {"WRITE_PORT_BUFFER_ULONG", 4, 1, 1},
  };
  for (size_t i = 0; i < sizeof ports / sizeof ports[0]; i++) {
    lua_pushinteger(L, ports[i].size);
    lua_pushinteger(L, ports[i].write);
    lua_pushcclosure(L, ports[i].buffer ? l_port_buffer : l_port, 2);
    lua_setfield(L, -2, ports[i].name);
  }
}
