/*
** mmio.c: the driver's side of device registers: MmMapIoSpace(Ex) of a
** BAR, MmUnmapIoSpace, READ_REGISTER_* and WRITE_REGISTER_* (with their
** BUFFER forms) on the mapped addresses, and the MEMORY_CACHING_TYPE values.
*/
#include "devices/dl_devmodel.h"
#include "base/dl_status.h"
#include "../ldl.h"

/* MmMapIoSpace(PhysicalAddress, NumberOfBytes, CacheType) -> BaseAddress */
static int l_MmMapIoSpace(lua_State *L) {
  uint64_t pa = ldl_checkuint(L, 1), len = ldl_checkuint(L, 2);
  luaL_optinteger(L, 3, 0);
  lmachine *lm = ldl_current(L, "MmMapIoSpace");
  uint64_t va;
  int rc = dl_mmio_map(lm->m, pa, len, &va);
  if (rc == DL_ENOTMAPPED) return luaL_argerror(L, 1, "not inside a device's register block");
  if (rc) return ldl_statuserror(L, 1, rc, NULL);
  lua_pushinteger(L, (lua_Integer)va);
  return 1;
}

/* MmMapIoSpaceEx(PhysicalAddress, NumberOfBytes, Protect) -> BaseAddress */
static int l_MmMapIoSpaceEx(lua_State *L) {
  uint64_t pa = ldl_checkuint(L, 1), len = ldl_checkuint(L, 2);
  lua_Integer protect = luaL_checkinteger(L, 3);
  luaL_argcheck(L, protect >= 0 && protect <= UINT32_MAX && dl_mmio_protect_ok((uint32_t)protect), 3,
                "one of PAGE_READONLY, PAGE_READWRITE, PAGE_EXECUTE, PAGE_EXECUTE_READ, "
                "PAGE_EXECUTE_READWRITE, with at most one of PAGE_NOCACHE, PAGE_WRITECOMBINE");
  lmachine *lm = ldl_current(L, "MmMapIoSpaceEx");
  uint64_t va;
  int rc = dl_mmio_map(lm->m, pa, len, &va);
  if (rc == DL_ENOTMAPPED) return luaL_argerror(L, 1, "not inside a device's register block (one BAR)");
  if (rc) return ldl_statuserror(L, 1, rc, NULL);
  lua_pushinteger(L, (lua_Integer)va);
  return 1;
}

/* MmUnmapIoSpace(BaseAddress, NumberOfBytes) */
static int l_MmUnmapIoSpace(lua_State *L) {
  uint64_t va = ldl_checkuint(L, 1), len = ldl_checkuint(L, 2);
  lmachine *lm = ldl_current(L, "MmUnmapIoSpace");
  if (dl_mmio_unmap(lm->m, va, len)) return luaL_argerror(L, 1, "not an address MmMapIoSpace returned");
  return 0;
}

/* Registers: on MmMapIoSpace addresses; a BUFFER form steps through
** Count registers in one engine call. */
static const ldl_access registers_access = {
  dl_mmio_read, dl_mmio_write, "READ_REGISTER", "WRITE_REGISTER", "READ_REGISTER_BUFFER",
  "WRITE_REGISTER_BUFFER", "not a mapped device register (MmMapIoSpace first)", 1, 0,
};

static const luaL_Reg functions[] = {
  {"MmMapIoSpace", l_MmMapIoSpace},
  {"MmMapIoSpaceEx", l_MmMapIoSpaceEx},
  {"MmUnmapIoSpace", l_MmUnmapIoSpace},
  {NULL, NULL}
};

/* Registers MmMapIoSpace(Ex), MmUnmapIoSpace and the register accessors. */
void ldl_open_mmio(lua_State *L) {
  luaL_setfuncs(L, functions, 0);
  /* spelled out, so that .luacheckrc finds the names as WDK globals */
  static const ldl_accessor registers[] = {
    {"READ_REGISTER_UCHAR", 1, 0, 0}, {"READ_REGISTER_USHORT", 2, 0, 0},
    {"READ_REGISTER_ULONG", 4, 0, 0}, {"READ_REGISTER_ULONG64", 8, 0, 0},
    {"WRITE_REGISTER_UCHAR", 1, 1, 0}, {"WRITE_REGISTER_USHORT", 2, 1, 0},
    {"WRITE_REGISTER_ULONG", 4, 1, 0}, {"WRITE_REGISTER_ULONG64", 8, 1, 0},
    {"READ_REGISTER_BUFFER_UCHAR", 1, 0, 1}, {"READ_REGISTER_BUFFER_USHORT", 2, 0, 1},
    {"READ_REGISTER_BUFFER_ULONG", 4, 0, 1}, {"READ_REGISTER_BUFFER_ULONG64", 8, 0, 1},
    {"WRITE_REGISTER_BUFFER_UCHAR", 1, 1, 1}, {"WRITE_REGISTER_BUFFER_USHORT", 2, 1, 1},
    {"WRITE_REGISTER_BUFFER_ULONG", 4, 1, 1}, {"WRITE_REGISTER_BUFFER_ULONG64", 8, 1, 1},
  };
  ldl_setaccessors(L, &registers_access, registers, sizeof registers / sizeof registers[0]);
  static const struct { const char *name; int v; } cache[] = {
    {"MmNonCached", 0}, {"MmCached", 1}, {"MmWriteCombined", 2},
  };
  for (size_t i = 0; i < sizeof cache / sizeof cache[0]; i++) {
    lua_pushinteger(L, cache[i].v);
    lua_setfield(L, -2, cache[i].name);
  }
}
