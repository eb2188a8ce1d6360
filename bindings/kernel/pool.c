/*
** pool.c: the executive's pool (ExAllocatePool2, ExAllocatePoolWithTag,
** ExAllocatePoolZero, ExFreePool, ExFreePoolWithTag) and the Rtl memory
** routines (RtlZeroMemory, RtlFillMemory, RtlCopyMemory, RtlMoveMemory,
** RtlCompareMemory) over simulated virtual addresses (integers, as the
** addresses MmMapIoSpace or MmGetSystemAddressForMdlSafe return). Pool
** tracking and its reports are the core's (kernel/dl_pool.h).
**
** A tag is an integer or up to four characters read as C reads the
** multi-character constant 'Tag1' (first character highest), so the
** verifier's messages show it as the WDK's tools do.
*/
#include <string.h>

#include "base/dl_status.h"
#include "kernel/dl_pool.h"
#include "kernel/dl_rtl.h"
#include "../ldl.h"

/* Allocates and pushes the address (0 when the allocation fails). */
static int alloc(lua_State *L, const char *fname, int paged, uint64_t size, uint32_t tag, int zero) {
  lmachine *lm = ldl_current(L, fname);
  uint64_t va;
  ldl_call c;
  ldl_enter(L, lm, &c);
  int rc = dl_pool_alloc(lm->m, paged, size, tag, zero, &va, NULL);
  ldl_leave(L, &c);
  if (rc == DL_ENOMEM) return luaL_error(L, "%s: out of host memory", fname);
  lua_pushinteger(L, (lua_Integer)va);
  return 1;
}

/* ExAllocatePool2(Flags, NumberOfBytes, Tag) -> address (zeroed unless
** POOL_FLAG_UNINITIALIZED), or 0. */
static int l_ExAllocatePool2(lua_State *L) {
  lua_Integer flags = luaL_checkinteger(L, 1);
  lua_Integer kinds = flags & (0x40 | 0x80 | 0x100);
  luaL_argcheck(L, kinds == 0x40 || kinds == 0x80 || kinds == 0x100, 1,
                "Flags must hold one of POOL_FLAG_NON_PAGED, POOL_FLAG_NON_PAGED_EXECUTE and "
                "POOL_FLAG_PAGED");
  uint64_t size = ldl_checkuint(L, 2);
  return alloc(L, "ExAllocatePool2", kinds == 0x100, size, ldl_checktag(L, 3), !(flags & 0x2));
}

/* ExAllocatePoolWithTag(PoolType, NumberOfBytes, Tag) -> address, or 0 (not zeroed). */
static int l_ExAllocatePoolWithTag(lua_State *L) {
  int paged = ldl_checkpooltype(L, 1);
  uint64_t size = ldl_checkuint(L, 2);
  return alloc(L, "ExAllocatePoolWithTag", paged, size, ldl_checktag(L, 3), 0);
}

/* ExAllocatePoolZero(PoolType, NumberOfBytes, Tag) -> address, or 0 (zeroed). */
static int l_ExAllocatePoolZero(lua_State *L) {
  int paged = ldl_checkpooltype(L, 1);
  uint64_t size = ldl_checkuint(L, 2);
  return alloc(L, "ExAllocatePoolZero", paged, size, ldl_checktag(L, 3), 1);
}

/* Frees; upvalue 1 says whether a tag is checked. */
static int l_free(lua_State *L) {
  int tagged = lua_toboolean(L, lua_upvalueindex(1));
  const char *fname = tagged ? "ExFreePoolWithTag" : "ExFreePool";
  uint64_t va = ldl_checkuint(L, 1);
  uint32_t tag = tagged ? ldl_checktag(L, 2) : 0;
  lmachine *lm = ldl_current(L, fname);
  ldl_call c;
  ldl_enter(L, lm, &c);
  int rc = dl_pool_free(lm->m, va, tagged, tag);
  ldl_leave(L, &c);
  if (rc == DL_EBUSY) return luaL_argerror(L, 1, "an MDL still holds its pages locked");
  return 0;
}

/* ---- Rtl ------------------------------------------------------------------ */

static int rtl_result(lua_State *L, int rc, const char *fname) {
  if (rc == DL_ENOTMAPPED)
    return luaL_error(L, "%s: a range is not mapped memory (on Windows: a page fault)", fname);
  if (rc) return ldl_statuserror(L, 1, rc, NULL);
  return 0;
}

/* RtlCopyMemory / RtlMoveMemory(Destination, Source, Length) */
static int l_move(lua_State *L) {
  uint64_t dst = ldl_checkuint(L, 1), src = ldl_checkuint(L, 2), len = ldl_checkuint(L, 3);
  lmachine *lm = ldl_current(L, "RtlMoveMemory");
  return rtl_result(L, dl_rtl_move(lm->m, dst, src, len), lua_tostring(L, lua_upvalueindex(1)));
}

/* RtlFillMemory(Destination, Length, Fill) */
static int l_RtlFillMemory(lua_State *L) {
  uint64_t dst = ldl_checkuint(L, 1), len = ldl_checkuint(L, 2);
  lua_Integer fill = luaL_checkinteger(L, 3);
  luaL_argcheck(L, fill >= 0 && fill <= 255, 3, "Fill must be a UCHAR (0..255)");
  lmachine *lm = ldl_current(L, "RtlFillMemory");
  return rtl_result(L, dl_rtl_fill(lm->m, dst, len, (int)fill), "RtlFillMemory");
}

/* RtlZeroMemory(Destination, Length) */
static int l_RtlZeroMemory(lua_State *L) {
  uint64_t dst = ldl_checkuint(L, 1), len = ldl_checkuint(L, 2);
  lmachine *lm = ldl_current(L, "RtlZeroMemory");
  return rtl_result(L, dl_rtl_fill(lm->m, dst, len, 0), "RtlZeroMemory");
}

/* RtlCompareMemory(Source1, Source2, Length) -> bytes that match before the first difference */
static int l_RtlCompareMemory(lua_State *L) {
  uint64_t a = ldl_checkuint(L, 1), b = ldl_checkuint(L, 2), len = ldl_checkuint(L, 3);
  lmachine *lm = ldl_current(L, "RtlCompareMemory");
  uint64_t equal;
  rtl_result(L, dl_rtl_compare(lm->m, a, b, len, &equal), "RtlCompareMemory");
  lua_pushinteger(L, (lua_Integer)equal);
  return 1;
}

static const luaL_Reg functions[] = {
  {"ExAllocatePool2", l_ExAllocatePool2},
  {"ExAllocatePoolWithTag", l_ExAllocatePoolWithTag},
  {"ExAllocatePoolZero", l_ExAllocatePoolZero},
  {"RtlFillMemory", l_RtlFillMemory},
  {"RtlZeroMemory", l_RtlZeroMemory},
  {"RtlCompareMemory", l_RtlCompareMemory},
  {NULL, NULL}
};

/* Registers the pool and Rtl calls in the module at -1. */
void ldl_open_pool(lua_State *L) {
  luaL_setfuncs(L, functions, 0);
  static const struct { const char *name; int tagged; } frees[] = {
    {"ExFreePool", 0}, {"ExFreePoolWithTag", 1},
  };
  for (size_t i = 0; i < sizeof frees / sizeof frees[0]; i++) {
    lua_pushboolean(L, frees[i].tagged);
    lua_pushcclosure(L, l_free, 1);
    lua_setfield(L, -2, frees[i].name);
  }
  static const struct { const char *name; } moves[] = {{"RtlCopyMemory"}, {"RtlMoveMemory"}};
  for (size_t i = 0; i < sizeof moves / sizeof moves[0]; i++) {
    lua_pushstring(L, moves[i].name);
    lua_pushcclosure(L, l_move, 1);
    lua_setfield(L, -2, moves[i].name);
  }
}
