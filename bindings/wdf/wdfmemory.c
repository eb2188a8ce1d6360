/*
** wdfmemory.c: WDFMEMORY and WDFLOOKASIDE in Lua: WdfMemoryCreate,
** WdfMemoryCreatePreallocated, WdfMemoryGetBuffer, WdfMemoryCopyToBuffer,
** WdfMemoryCopyFromBuffer, WdfLookasideListCreate,
** WdfMemoryCreateFromLookaside. Buffers are simulated virtual addresses
** (integers); the rules are the core's (wdf/dl_wdfmemory.h).
*/
#include <stdio.h>
#include <string.h>

#include "base/dl_ntstatus.h"
#include "base/dl_status.h"
#include "wdf/dl_wdfmemory.h"
#include "lwdf.h"

#define LDL_WDFMEMORY "WDFMEMORY"
#define LDL_WDFLOOKASIDE "WDFLOOKASIDE"

/* The NTSTATUS of a failed creation. */
static uint32_t failure(int rc) {
  return rc == DL_EINVAL || rc == DL_ENOTMAPPED ? DL_STATUS_INVALID_PARAMETER
                                                : DL_STATUS_INSUFFICIENT_RESOURCES;
}

/* WdfMemoryCreate(Attributes, PoolType, PoolTag, BufferSize) -> status, Memory, Buffer */
static int l_WdfMemoryCreate(lua_State *L) {
  lua_settop(L, 4);
  int paged = ldl_checkpooltype(L, 2);
  uint32_t tag = lua_isnoneornil(L, 3) ? 0 : ldl_checktag(L, 3);
  uint64_t size = ldl_checkuint(L, 4);
  lmachine *lm = ldl_current(L, "WdfMemoryCreate");
  dl_wdf_memory *mem = NULL;
  ldl_call c;
  ldl_enter(L, lm, &c);
  int rc = dl_wdf_memory_new(lm->m, NULL, paged, tag, size, &mem);
  ldl_leave(L, &c);
  if (rc) {
    lua_pushinteger(L, failure(rc));
    return 1;
  }
  lwdf_newobject(L, lm, mem, 1);
  lwdf_created(L);
  lua_pushinteger(L, (lua_Integer)dl_wdf_memory_buffer(mem, NULL));
  return 3;
}

/* WdfMemoryCreatePreallocated(Attributes, Buffer, BufferSize) -> status, Memory */
static int l_WdfMemoryCreatePreallocated(lua_State *L) {
  lua_settop(L, 3);
  uint64_t va = ldl_checkuint(L, 2), size = ldl_checkuint(L, 3);
  lmachine *lm = ldl_current(L, "WdfMemoryCreatePreallocated");
  dl_wdf_memory *mem = NULL;
  ldl_call c;
  ldl_enter(L, lm, &c);
  int rc = dl_wdf_memory_new_preallocated(lm->m, NULL, va, size, &mem);
  ldl_leave(L, &c);
  if (rc == DL_ENOTMAPPED) return luaL_argerror(L, 2, "Buffer..Buffer+BufferSize is not mapped memory");
  if (rc) {
    lua_pushinteger(L, failure(rc));
    return 1;
  }
  lwdf_newobject(L, lm, mem, 1);
  return lwdf_created(L);
}

#define checkmemory(L, i) ((dl_wdf_memory *)ldl_checkobject(L, i, LDL_WDFMEMORY, "WDFMEMORY")->obj)

/* WdfMemoryGetBuffer(Memory) -> Buffer, BufferSize */
static int l_WdfMemoryGetBuffer(lua_State *L) {
  uint64_t size, va = dl_wdf_memory_buffer(checkmemory(L, 1), &size);
  lua_pushinteger(L, (lua_Integer)va);
  lua_pushinteger(L, (lua_Integer)size);
  return 2;
}

/* The copies; upvalue 1 is 1 for CopyFromBuffer. -> NTSTATUS */
static int l_copy(lua_State *L) {
  int from = lua_toboolean(L, lua_upvalueindex(1));
  lobject *h = ldl_checkobject(L, 1, LDL_WDFMEMORY, "WDFMEMORY");
  uint64_t off = ldl_checkuint(L, 2), buf = ldl_checkuint(L, 3), len = ldl_checkuint(L, 4);
  ldl_call c;
  ldl_enter(L, h->owner, &c);
  int rc = from ? dl_wdf_memory_copy_from(h->obj, off, buf, len)
                : dl_wdf_memory_copy_to(h->obj, off, buf, len);
  ldl_leave(L, &c);
  if (rc == DL_ENOTMAPPED) return luaL_argerror(L, 3, "Buffer is not mapped memory (a page fault)");
  lua_pushinteger(L, rc == DL_ERANGE ? DL_STATUS_INVALID_BUFFER_SIZE : DL_STATUS_SUCCESS);
  return 1;
}

/* WdfLookasideListCreate(LookasideAttributes, BufferSize, PoolType,
** MemoryAttributes, PoolTag) -> status, Lookaside */
static int l_WdfLookasideListCreate(lua_State *L) {
  lua_settop(L, 5);
  uint64_t size = ldl_checkuint(L, 2);
  int paged = ldl_checkpooltype(L, 3);
  uint32_t tag = lua_isnoneornil(L, 5) ? 0 : ldl_checktag(L, 5);
  lmachine *lm = ldl_current(L, "WdfLookasideListCreate");
  dl_wdf_lookaside *la = NULL;
  ldl_call c;
  ldl_enter(L, lm, &c);
  int rc = dl_wdf_lookaside_new(lm->m, NULL, size, paged, tag, &la);
  ldl_leave(L, &c);
  if (rc) {
    lua_pushinteger(L, failure(rc));
    return 1;
  }
  lwdf_newobject(L, lm, la, 1);
  lwdf_keep(L, "MemoryAttributes", 4, NULL, 0);
  return lwdf_created(L);
}

/* WdfMemoryCreateFromLookaside(Lookaside) -> status, Memory (a child of the list) */
static int l_WdfMemoryCreateFromLookaside(lua_State *L) {
  lobject *h = ldl_checkobject(L, 1, LDL_WDFLOOKASIDE, "WDFLOOKASIDE");
  lua_settop(L, 1);
  dl_wdf_memory *mem = NULL;
  ldl_call c;
  ldl_enter(L, h->owner, &c);
  int rc = dl_wdf_memory_from_lookaside(h->obj, &mem);
  ldl_leave(L, &c);
  if (rc) {
    lua_pushinteger(L, failure(rc));
    return 1;
  }
  ldl_pushstate(L, 1);
  lua_getfield(L, -1, "MemoryAttributes");  /* 3: its ContextTypeInfo, EvtCleanupCallback */
  lua_remove(L, 2);
  if (lua_istable(L, 2)) {  /* a copy without ParentObject: the list is the parent */
    lua_newtable(L);
    for (lua_pushnil(L); lua_next(L, 2);) {
      lua_pushvalue(L, -2);
      lua_insert(L, -2);
      lua_rawset(L, -4);
    }
    lua_pushnil(L);
    lua_setfield(L, -2, "ParentObject");
    lua_replace(L, 2);
  }
  lwdf_newobject(L, h->owner, mem, lua_istable(L, 2) ? 2 : 0);
  return lwdf_created(L);
}

/* A live WDFMEMORY shows its buffer; else as every WDF class. */
static int tostring(lua_State *L) {
  lobject *h = ldl_testclass(L, 1, LDL_WDFMEMORY);
  if (!h || !h->owner->m || !h->obj) return lwdf_tostring(L);
  dl_wdf_memory *mem = h->obj;
  char at[32];
  snprintf(at, sizeof at, "%llx", (unsigned long long)mem->va);
  lua_pushfstring(L, "WDFMEMORY#%I %I bytes at 0x%s", (lua_Integer)mem->id, (lua_Integer)mem->size, at);
  return 1;
}

static const luaL_Reg meta[] = {{"__tostring", tostring}, {NULL, NULL}};

static const luaL_Reg functions[] = {
  {"WdfMemoryCreate", l_WdfMemoryCreate},
  {"WdfMemoryCreatePreallocated", l_WdfMemoryCreatePreallocated},
  {"WdfMemoryGetBuffer", l_WdfMemoryGetBuffer},
  {"WdfLookasideListCreate", l_WdfLookasideListCreate},
  {"WdfMemoryCreateFromLookaside", l_WdfMemoryCreateFromLookaside},
  {NULL, NULL}
};

/* Registers WDFMEMORY, WDFLOOKASIDE and their calls. */
void lwdf_open_memory(lua_State *L) {
  lwdf_newclass(L, LDL_WDFMEMORY, meta, ldl_no_methods);
  lwdf_newclass(L, LDL_WDFLOOKASIDE, meta, ldl_no_methods);
  luaL_setfuncs(L, functions, 0);
  static const struct { const char *name; int from; } copies[] = {
    {"WdfMemoryCopyToBuffer", 0}, {"WdfMemoryCopyFromBuffer", 1},
  };
  for (size_t i = 0; i < sizeof copies / sizeof copies[0]; i++) {
    lua_pushboolean(L, copies[i].from);
    lua_pushcclosure(L, l_copy, 1);
    lua_setfield(L, -2, copies[i].name);
  }
}
