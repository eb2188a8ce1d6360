/*
** mdlpages.c: MDLs that own their pages and system mappings in Lua:
** MmAllocatePagesForMdl, MmAllocatePagesForMdlEx, MmFreePagesFromMdl,
** MmMapLockedPagesSpecifyCache, MmUnmapLockedPages, MmInitializeMdl. The
** rules are the core's (io/dl_mdl.h, dl_mdlpages.c); PHYSICAL_ADDRESS
** arguments are integers.
*/
#include "base/dl_status.h"
#include "io/dl_mdl.h"
#include "../ldl.h"

/* Allocates; pushes the MDL or nothing (the WDK's NULL). */
static int allocate(lua_State *L, const char *fname) {
  uint64_t low = ldl_checkuint(L, 1), high = ldl_checkuint(L, 2);
  ldl_checkuint(L, 3);  /* SkipBytes: every page of the machine is a candidate */
  uint64_t total = ldl_checkuint(L, 4);
  lmachine *lm = ldl_current(L, fname);
  dl_mdl *mdl = NULL;
  ldl_call c;
  ldl_enter(L, lm, &c);
  int rc = dl_mdl_allocate_pages(lm->m, low, high, total, &mdl);
  ldl_leave(L, &c);
  if (rc == DL_ENOMEM) return luaL_error(L, "%s: out of host memory", fname);
  if (rc) return 0;
  ldl_pushobject(L, LDL_MDL, DL_OBJECT(mdl));
  return 1;
}

/* MmAllocatePagesForMdl(LowAddress, HighAddress, SkipBytes, TotalBytes) -> Mdl or nil */
static int l_MmAllocatePagesForMdl(lua_State *L) { return allocate(L, "MmAllocatePagesForMdl"); }

/* MmAllocatePagesForMdlEx(LowAddress, HighAddress, SkipBytes, TotalBytes, CacheType, Flags) -> Mdl or nil */
static int l_MmAllocatePagesForMdlEx(lua_State *L) {
  luaL_optinteger(L, 5, 0);
  luaL_optinteger(L, 6, 0);
  return allocate(L, "MmAllocatePagesForMdlEx");
}

/* MmFreePagesFromMdl(MemoryDescriptorList) */
static int l_MmFreePagesFromMdl(lua_State *L) {
  lobject *h = ldl_checkobject(L, 1, LDL_MDL, "MDL");
  ldl_call c;
  ldl_enter(L, h->owner, &c);
  int rc = dl_mdl_free_pages(h->obj);
  ldl_leave(L, &c);
  if (rc == DL_ESTATE) return luaL_argerror(L, 1, "not an MDL of MmAllocatePagesForMdl with pages");
  return 0;
}

/* MmMapLockedPagesSpecifyCache(MemoryDescriptorList, AccessMode, CacheType,
** RequestedAddress, BugCheckOnFailure, Priority) -> BaseAddress or nil */
static int l_MmMapLockedPagesSpecifyCache(lua_State *L) {
  lobject *h = ldl_checkobject(L, 1, LDL_MDL, "MDL");
  lua_Integer mode = luaL_optinteger(L, 2, 0);
  luaL_argcheck(L, mode == 0, 2, "the lab maps into system space only (KernelMode)");
  luaL_argcheck(L, lua_isnoneornil(L, 4) || lua_tointeger(L, 4) == 0, 4, "RequestedAddress must be NULL");
  uint64_t va = 0;
  ldl_call c;
  ldl_enter(L, h->owner, &c);
  int rc = dl_mdl_map_locked_pages(h->obj, &va);
  ldl_leave(L, &c);
  if (rc) return 0;
  lua_pushinteger(L, (lua_Integer)va);
  return 1;
}

/* MmUnmapLockedPages(BaseAddress, MemoryDescriptorList) */
static int l_MmUnmapLockedPages(lua_State *L) {
  uint64_t va = ldl_checkuint(L, 1);
  lobject *h = ldl_checkobject(L, 2, LDL_MDL, "MDL");
  if (dl_mdl_unmap_locked_pages(h->obj, va))
    return luaL_argerror(L, 1, "not the address MmMapLockedPagesSpecifyCache returned for this MDL");
  return 0;
}

/* MmInitializeMdl(MemoryDescriptorList, BaseVa, Length) */
static int l_MmInitializeMdl(lua_State *L) {
  lobject *h = ldl_checkobject(L, 1, LDL_MDL, "MDL");
  uint64_t va = ldl_checkuint(L, 2), len = ldl_checkuint(L, 3);
  int rc = dl_mdl_initialize(h->obj, va, len);
  if (rc == DL_ENOSPACE) return luaL_argerror(L, 3, "the range spans more pages than the MDL has PFN slots");
  if (rc == DL_ESTATE) return luaL_argerror(L, 1, "the MDL is locked, partial, owns pages or is named by another");
  if (rc) return luaL_argerror(L, 3, "Length must be 1 .. 4 GiB - 1");
  return 0;
}

static const luaL_Reg functions[] = {
  {"MmAllocatePagesForMdl", l_MmAllocatePagesForMdl},
  {"MmAllocatePagesForMdlEx", l_MmAllocatePagesForMdlEx},
  {"MmFreePagesFromMdl", l_MmFreePagesFromMdl},
  {"MmMapLockedPagesSpecifyCache", l_MmMapLockedPagesSpecifyCache},
  {"MmUnmapLockedPages", l_MmUnmapLockedPages},
  {"MmInitializeMdl", l_MmInitializeMdl},
  {NULL, NULL}
};

/* Registers the calls in the module at -1 (after ldl_open_mdl). */
void ldl_open_mdlpages(lua_State *L) { luaL_setfuncs(L, functions, 0); }
