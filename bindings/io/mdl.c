/*
** mdl.c: MDLs in Lua with the WDK's names and argument order:
** IoAllocateMdl, MmBuildMdlForNonPagedPool, MmProbeAndLockPages, ...
*/
#include <stdio.h>
#include <string.h>

#include "io/dl_mdl.h"
#include "base/dl_status.h"
#include "machine/dl_object.h"
#include "../ldl.h"

#define MAX_RUNS_SHOWN 6

static dl_mdl *checkmdl(lua_State *L, int arg) {
  return ldl_checkobject(L, arg, LDL_MDL, "MDL")->obj;
}

/* Pushes the handle of an MDL (or nil) owned by the machine of `arg`. */
static void push_mdl(lua_State *L, int arg, dl_mdl *mdl) {
  ldl_pushowner(L, arg);
  ldl_pushobject(L, LDL_MDL, DL_OBJECT(mdl));
  lua_remove(L, -2);
}

/* IoAllocateMdl(VirtualAddress, Length [, SecondaryBuffer, ChargeQuota, Irp])
** -> MDL, or nil when Length is beyond what an MDL can describe. */
static int l_IoAllocateMdl(lua_State *L) {
  uint64_t va = ldl_checkuint(L, 1);
  uint64_t length = ldl_checkuint(L, 2);
  luaL_argcheck(L, length > 0, 2, "length must be > 0");
  luaL_argcheck(L, lua_isnoneornil(L, 5), 5,
                "no IRP type exists yet: pass nil and chain MDLs through Next");
  lmachine *lm = ldl_current(L, "IoAllocateMdl");
  dl_mdl *mdl;
  int rc = dl_mdl_allocate(lm->m, va, length, &mdl);
  if (rc == DL_EINVAL) return 0;  /* the WDK returns NULL */
  if (rc) return ldl_statuserror(L, 2, rc, NULL);
  ldl_pushobject(L, LDL_MDL, DL_OBJECT(mdl));
  return 1;
}

/* IoFreeMdl(Mdl) */
static int l_IoFreeMdl(lua_State *L) {
  lobject *h = ldl_checkobject(L, 1, LDL_MDL, "MDL");
  ldl_call c;
  ldl_enter(L, h->owner, &c);
  dl_mdl *mdl = h->obj;
  int locked = (dl_mdl_flags(mdl) & DL_MDL_PAGES_LOCKED) != 0;
  int rc = dl_mdl_free(mdl);  /* the handle is told: it reads as freed */
  ldl_leave(L, &c);
  if (rc == DL_EBUSY && locked)
    return luaL_argerror(L, 1, "pages are still locked (MmUnlockPages first)");
  if (rc == DL_EBUSY && dl_mdl_owns_pages(mdl))
    return luaL_argerror(L, 1, "it still owns its pages (MmFreePagesFromMdl first)");
  if (rc == DL_EBUSY) return ldl_inuse_error(L, 1, "IoFreeMdl", DL_OBJECT(mdl));
  return 0;
}

static const char *range_text(lua_State *L, dl_mdl *mdl) {
  char text[64];
  uint64_t va = dl_mdl_virtual_address(mdl);
  snprintf(text, sizeof text, "[0x%llx, 0x%llx)", (unsigned long long)va,
           (unsigned long long)(va + dl_mdl_byte_count(mdl)));
  return lua_pushstring(L, text);
}

/* MmBuildMdlForNonPagedPool(Mdl) */
static int l_MmBuildMdlForNonPagedPool(lua_State *L) {
  dl_mdl *mdl = checkmdl(L, 1);
  int rc = dl_mdl_build_for_nonpaged_pool(mdl);
  if (rc == DL_ENOTMAPPED)
    return luaL_argerror(L, 1, lua_pushfstring(L, "range %s is not mapped", range_text(L, mdl)));
  if (rc == DL_EINVAL)
    return luaL_argerror(L, 1, "range is paged pool (use MmProbeAndLockPages)");
  if (rc == DL_ESTATE) return luaL_argerror(L, 1, "MDL is locked or partial");
  return 0;
}

/* MmProbeAndLockPages(Mdl, AccessMode, Operation); raises, as the WDK's
** raises an exception, when the range is not mapped. */
static int l_MmProbeAndLockPages(lua_State *L) {
  dl_mdl *mdl = checkmdl(L, 1);
  lua_Integer mode = luaL_checkinteger(L, 2), op = luaL_checkinteger(L, 3);
  luaL_argcheck(L, mode == 0 || mode == 1, 2, "KernelMode or UserMode expected");
  luaL_argcheck(L, op >= 0 && op <= 2, 3, "IoReadAccess, IoWriteAccess or IoModifyAccess expected");
  int rc = dl_mdl_probe_and_lock(mdl, (int)op);
  if (rc == DL_ENOTMAPPED)
    return luaL_argerror(L, 1, lua_pushfstring(L, "access violation: range %s is not mapped",
                                               range_text(L, mdl)));
  if (rc == DL_ESTATE)
    return luaL_argerror(L, 1, "MDL is already locked, built for nonpaged pool, or partial");
  return 0;
}

/* MmUnlockPages(Mdl) */
static int l_MmUnlockPages(lua_State *L) {
  dl_mdl *mdl = checkmdl(L, 1);
  if (dl_mdl_unlock(mdl) == DL_ESTATE)
    return luaL_argerror(L, 1, "MDL is not locked by MmProbeAndLockPages");
  return 0;
}

/* IoBuildPartialMdl(SourceMdl, TargetMdl, VirtualAddress, Length) */
static int l_IoBuildPartialMdl(lua_State *L) {
  dl_mdl *source = checkmdl(L, 1), *target = checkmdl(L, 2);
  uint64_t va = ldl_checkuint(L, 3), length = ldl_checkuint(L, 4);
  switch (dl_mdl_build_partial(source, target, va, length)) {
    case DL_OK: return 0;
    case DL_ESTATE: return luaL_argerror(L, 1, "source pages are not locked or built");
    case DL_ERANGE: return luaL_argerror(L, 3, "range lies outside the source MDL");
    case DL_ENOSPACE: return luaL_argerror(L, 2, "target MDL was allocated too small for the range");
    default: return luaL_argerror(L, 2, "target must be another MDL of the same machine");
  }
}

/* MmPrepareMdlForReuse(Mdl) */
static int l_MmPrepareMdlForReuse(lua_State *L) {
  dl_mdl_prepare_for_reuse(checkmdl(L, 1));
  return 0;
}

/* MmGetMdlVirtualAddress(Mdl): an index into the MDL, StartVa + ByteOffset. */
static int l_MmGetMdlVirtualAddress(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)dl_mdl_virtual_address(checkmdl(L, 1)));
  return 1;
}

/* MmGetMdlByteCount(Mdl) */
static int l_MmGetMdlByteCount(lua_State *L) {
  lua_pushinteger(L, dl_mdl_byte_count(checkmdl(L, 1)));
  return 1;
}

/* MmGetMdlByteOffset(Mdl) */
static int l_MmGetMdlByteOffset(lua_State *L) {
  lua_pushinteger(L, dl_mdl_byte_offset(checkmdl(L, 1)));
  return 1;
}

/* MmGetMdlBaseVa(Mdl): StartVa */
static int l_MmGetMdlBaseVa(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)dl_mdl_start_va(checkmdl(L, 1)));
  return 1;
}

/* MmGetMdlPfnArray(Mdl) -> { pfn, ... }, one per span page */
static int l_MmGetMdlPfnArray(lua_State *L) {
  dl_mdl *mdl = checkmdl(L, 1);
  uint64_t n = dl_mdl_page_count(mdl);
  const uint64_t *pfns = dl_mdl_pfns(mdl);
  lua_createtable(L, (int)n, 0);
  for (uint64_t i = 0; i < n; i++) {
    lua_pushinteger(L, (lua_Integer)pfns[i]);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  return 1;
}

/* MmGetSystemAddressForMdlSafe(Mdl, Priority) -> system VA, or nil if the
** pages are not valid. */
static int l_MmGetSystemAddressForMdlSafe(lua_State *L) {
  dl_mdl *mdl = checkmdl(L, 1);
  luaL_optinteger(L, 2, 0);
  uint64_t va = dl_mdl_system_address(mdl);
  if (va == 0) return 0;
  lua_pushinteger(L, (lua_Integer)va);
  return 1;
}

/* Words that say what state an MDL is in. */
static const char *state_text(lua_State *L, dl_mdl *mdl) {
  uint32_t f = dl_mdl_flags(mdl);
  if (f & DL_MDL_PARTIAL) {
    dl_mdl *src = dl_mdl_source(mdl);
    if (!src) return "partial (source gone)";
    return lua_pushfstring(L, "partial of MDL#%I%s", (lua_Integer)dl_mdl_id(src),
                           dl_mdl_pages_valid(mdl) ? "" : " (source not locked)");
  }
  if (!(f & (DL_MDL_PAGES_LOCKED | DL_MDL_SOURCE_IS_NONPAGED_POOL))) return "not built";
  if (!dl_mdl_pages_valid(mdl)) return "stale (buffer freed)";
  return (f & DL_MDL_PAGES_LOCKED) ? "locked" : "nonpaged";
}

/* Appends "runs=[pfn 0x.. ×n, ...]" for the PFNs to the buffer. */
static void add_runs(luaL_Buffer *b, dl_mdl *mdl) {
  uint64_t n = dl_mdl_page_count(mdl), shown = 0, runs = 0;
  const uint64_t *p = dl_mdl_pfns(mdl);
  char text[64];
  luaL_addstring(b, " runs=[");
  for (uint64_t i = 0; i < n;) {
    uint64_t j = i + 1;
    while (j < n && p[j] == p[j - 1] + 1) j++;
    if (shown < MAX_RUNS_SHOWN) {
      snprintf(text, sizeof text, "%spfn 0x%llx \xc3\x97%llu", shown ? ", " : "",
               (unsigned long long)p[i], (unsigned long long)(j - i));
      luaL_addstring(b, text);
      shown++;
    }
    runs++;
    i = j;
  }
  if (runs > shown) {
    snprintf(text, sizeof text, ", \xe2\x80\xa6 %llu more", (unsigned long long)(runs - shown));
    luaL_addstring(b, text);
  }
  luaL_addstring(b, "]");
}

static int mdl_tostring(lua_State *L) {
  lobject *h = ldl_checkclass(L, 1, LDL_MDL);
  if (!h->owner->m || !h->obj) {
    lua_pushstring(L, h->obj ? "MDL (machine closed)" : "MDL (freed)");
    return 1;
  }
  dl_mdl *mdl = h->obj;
  const char *state = state_text(L, mdl);
  int has_pfns = strcmp(state, "not built") != 0;
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  char text[128];
  snprintf(text, sizeof text, "MDL#%llu va=0x%llx bytes=%lu pages=%llu",
           (unsigned long long)dl_mdl_id(mdl), (unsigned long long)dl_mdl_virtual_address(mdl),
           (unsigned long)dl_mdl_byte_count(mdl), (unsigned long long)dl_mdl_page_count(mdl));
  luaL_addstring(&b, text);
  if (has_pfns) add_runs(&b, mdl);
  luaL_addchar(&b, ' ');
  luaL_addstring(&b, state);
  if (dl_mdl_next(mdl)) {
    snprintf(text, sizeof text, " next=MDL#%llu", (unsigned long long)dl_mdl_id(dl_mdl_next(mdl)));
    luaL_addstring(&b, text);
  }
  luaL_pushresult(&b);
  return 1;
}

/* mdl:runs() -> { {pfn=, count=}, ... }: the physically contiguous runs. */
static int mdl_runs(lua_State *L) {
  dl_mdl *mdl = checkmdl(L, 1);
  uint64_t n = dl_mdl_page_count(mdl);
  const uint64_t *p = dl_mdl_pfns(mdl);
  lua_newtable(L);
  lua_Integer k = 0;
  for (uint64_t i = 0; i < n;) {
    uint64_t j = i + 1;
    while (j < n && p[j] == p[j - 1] + 1) j++;
    lua_createtable(L, 0, 2);
    lua_pushinteger(L, (lua_Integer)p[i]);
    lua_setfield(L, -2, "pfn");
    lua_pushinteger(L, (lua_Integer)(j - i));
    lua_setfield(L, -2, "count");
    lua_rawseti(L, -2, ++k);
    i = j;
  }
  return 1;
}

/* The WDK's MDL fields, read-only but for Next; otherwise methods. */
static int mdl_index(lua_State *L) {
  const char *key = ldl_checkkey(L, 2);
  if (ldl_getmethod(L, lua_upvalueindex(1)) != LUA_TNIL) return 1;
  dl_mdl *mdl = checkmdl(L, 1);
  if (strcmp(key, "Next") == 0) push_mdl(L, 1, dl_mdl_next(mdl));
  else if (strcmp(key, "MdlFlags") == 0) lua_pushinteger(L, dl_mdl_flags(mdl));
  else if (strcmp(key, "StartVa") == 0) lua_pushinteger(L, (lua_Integer)dl_mdl_start_va(mdl));
  else if (strcmp(key, "ByteOffset") == 0) lua_pushinteger(L, dl_mdl_byte_offset(mdl));
  else if (strcmp(key, "ByteCount") == 0) lua_pushinteger(L, dl_mdl_byte_count(mdl));
  else if (strcmp(key, "MappedSystemVa") == 0) {
    uint64_t va = dl_mdl_mapped_system_va(mdl);
    if (va) lua_pushinteger(L, (lua_Integer)va);
    else lua_pushnil(L);
  }
  else if (strcmp(key, "Size") == 0)  /* sizeof(MDL) on x64 plus the PFN array */
    lua_pushinteger(L, 48 + 8 * (lua_Integer)dl_mdl_capacity(mdl));
  else if (strcmp(key, "id") == 0) lua_pushinteger(L, (lua_Integer)dl_mdl_id(mdl));
  else if (strcmp(key, "machine") == 0) ldl_pushowner(L, 1);
  else lua_pushnil(L);
  return 1;
}

/* mdl.ByteCount / mdl.ByteOffset = n: a driver building its own MDL
** (MmInitializeMdl's rules, mdlpages.c). */
static int set_range(lua_State *L, dl_mdl *mdl, const char *key) {
  uint64_t n = ldl_checkuint(L, 3), va = dl_mdl_virtual_address(mdl), len = dl_mdl_byte_count(mdl);
  if (strcmp(key, "ByteCount") == 0) len = n;
  else if (n < dl_machine_page_size(dl_mdl_machine(mdl))) va = dl_mdl_start_va(mdl) + n;
  else return luaL_argerror(L, 3, "ByteOffset must be below PAGE_SIZE");
  int rc = dl_mdl_initialize(mdl, va, len);
  if (rc == DL_ENOSPACE) return luaL_argerror(L, 3, "the range spans more pages than the MDL has PFN slots");
  if (rc == DL_ESTATE)
    return luaL_error(L, "MDL.%s: the MDL is locked, partial, owns pages or is named by another", key);
  if (rc) return luaL_argerror(L, 3, "ByteCount must be 1 .. 4 GiB - 1");
  return 0;
}

/* mdl.Next = other | nil, mdl.ByteCount / ByteOffset = n; the other fields are read-only. */
static int mdl_newindex(lua_State *L) {
  dl_mdl *mdl = checkmdl(L, 1);
  const char *key = ldl_checkkey(L, 2);
  if (strcmp(key, "ByteCount") == 0 || strcmp(key, "ByteOffset") == 0) return set_range(L, mdl, key);
  if (strcmp(key, "Next") != 0)
    return luaL_error(L, "field '%s' of MDL is read-only (Next, ByteCount and ByteOffset may be set)",
                      key);
  if (!lua_isnil(L, 3) && !ldl_testclass(L, 3, LDL_MDL))
    return luaL_error(L, "MDL.Next must be an MDL or nil, not a %s", luaL_typename(L, 3));
  dl_mdl *next = lua_isnil(L, 3) ? NULL : checkmdl(L, 3);
  if (dl_mdl_set_next(mdl, next))
    return luaL_argerror(L, 3, "Next would make the chain loop or cross machines");
  return 0;
}

/* __close: unlocks and frees the MDL if it still exists; idempotent. */
static int mdl_close(lua_State *L) {
  lobject *h = ldl_checkclass(L, 1, LDL_MDL);
  if (!h->obj || !h->owner->m) return 0;
  ldl_call c;
  ldl_enter(L, h->owner, &c);
  dl_mdl_destroy(h->obj);
  ldl_leave(L, &c);
  return 0;
}

/* No __gc: the handle is pinned until the MDL goes, and the MDL stays on
** its machine until IoFreeMdl, so what leaks is what the script leaked,
** not what the collector kept. */
static const luaL_Reg meta[] = {
  {"__close", mdl_close},
  {"__tostring", mdl_tostring},
  {"__newindex", mdl_newindex},
  {NULL, NULL}
};

static const luaL_Reg methods[] = {
  {"runs", mdl_runs},
  {NULL, NULL}
};

static const luaL_Reg functions[] = {
  {"IoAllocateMdl", l_IoAllocateMdl},
  {"IoFreeMdl", l_IoFreeMdl},
  {"MmBuildMdlForNonPagedPool", l_MmBuildMdlForNonPagedPool},
  {"MmProbeAndLockPages", l_MmProbeAndLockPages},
  {"MmUnlockPages", l_MmUnlockPages},
  {"IoBuildPartialMdl", l_IoBuildPartialMdl},
  {"MmPrepareMdlForReuse", l_MmPrepareMdlForReuse},
  {"MmGetMdlVirtualAddress", l_MmGetMdlVirtualAddress},
  {"MmGetMdlByteCount", l_MmGetMdlByteCount},
  {"MmGetMdlByteOffset", l_MmGetMdlByteOffset},
  {"MmGetMdlBaseVa", l_MmGetMdlBaseVa},
  {"MmGetMdlPfnArray", l_MmGetMdlPfnArray},
  {"MmGetSystemAddressForMdlSafe", l_MmGetSystemAddressForMdlSafe},
  {NULL, NULL}
};

/* Registers the MDL class and the MDL functions in the module at -1. */
void ldl_open_mdl(lua_State *L) {
  ldl_newclass(L, LDL_MDL, meta, methods, mdl_index);
  static const char *const fields[] = {"Next", "MdlFlags", "StartVa", "ByteOffset", "ByteCount", "Size",
                                       "MappedSystemVa", "id", "machine", NULL};
  ldl_setfields(L, LDL_MDL, fields);
  luaL_setfuncs(L, functions, 0);
}
