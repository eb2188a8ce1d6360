/*
** buffer.c: the `buffer` handle: memory at a virtual address, backed by
** pages of the machine, whose bytes scripts write, read and compare so that
** every DMA can be checked byte for byte.
*/
#include <stdio.h>
#include <string.h>

#include "base/dl_status.h"
#include "../ldl.h"

static const char *const policy_names[] = {"contiguous", "scattered", "high_first",
                                           "low_first", NULL};
static const char *const buffer_options[] = {"offset", "alloc", "paged", NULL};
static const char *const kind_names[] = {"nonpaged", "paged", "common"};

#define checkbuffer(L, i) ((dl_region *)ldl_checkobject(L, i, LDL_BUFFER, "buffer")->obj)

/* Reads an optional field of the options table at `arg`: -1 if absent. */
static int opt_field(lua_State *L, int arg, const char *name) {
  if (!lua_istable(L, arg)) return 0;
  return lua_getfield(L, arg, name) != LUA_TNIL;
}

/* m:buffer(length, {offset=, alloc=, paged=}) -> buffer */
static int b_new(lua_State *L) {
  lmachine *lm = ldl_checkmachine(L, 1);
  uint64_t length = ldl_checksize(L, 2);
  luaL_argcheck(L, length > 0, 2, "length must be > 0");
  luaL_argcheck(L, lua_isnoneornil(L, 3) || lua_istable(L, 3), 3, "options table expected");
  ldl_checkoptions(L, 3, "m:buffer", buffer_options);
  uint32_t ps = dl_machine_page_size(lm->m);
  uint64_t offset = 0;
  dl_alloc_policy policy = dl_machine_config_of(lm->m)->alloc;
  dl_region_kind kind = DL_REGION_NONPAGED;
  if (opt_field(L, 3, "offset")) {
    luaL_argcheck(L, lua_isinteger(L, -1) && lua_tointeger(L, -1) >= 0
                     && (uint64_t)lua_tointeger(L, -1) < ps, 3,
                  "offset must be an integer from 0 to PAGE_SIZE-1");
    offset = (uint64_t)lua_tointeger(L, -1);
  }
  if (opt_field(L, 3, "alloc")) {
    const char *name = lua_tostring(L, -1);
    int i = 0;
    while (policy_names[i] && (!name || strcmp(policy_names[i], name) != 0)) i++;
    luaL_argcheck(L, policy_names[i] != NULL, 3,
                  "alloc must be contiguous, scattered, high_first or low_first");
    policy = (dl_alloc_policy)i;
  }
  if (opt_field(L, 3, "paged") && lua_toboolean(L, -1)) kind = DL_REGION_PAGED;
  dl_region *r;
  int rc = dl_buffer_new(lm->m, length, (uint32_t)offset, policy, kind, &r);
  if (rc == DL_ELIMIT) return ldl_limiterror(L, lm->m, 2, "m:buffer", length);
  if (rc == DL_ENOSPACE)
    return luaL_argerror(L, 2, lua_pushfstring(L, "m:buffer: %I bytes: %s", (lua_Integer)length,
                                               dl_strerror(rc)));
  if (rc) return ldl_statuserror(L, 2, rc, NULL);
  ldl_newobject(L, LDL_BUFFER, 1, r);
  return 1;
}

/* Checks that [off, off+len) lies in the buffer (argument `arg` is off). */
static void check_span(lua_State *L, const dl_region *r, uint64_t off, uint64_t len, int arg) {
  if (off > r->length || len > r->length - off)
    luaL_argerror(L, arg, lua_pushfstring(L, "range [%I, %I) outside the buffer of %I bytes",
                                          (lua_Integer)off, (lua_Integer)(off + len),
                                          (lua_Integer)r->length));
}

static dl_machine *machine_of(lua_State *L) {
  return ((lobject *)lua_touserdata(L, 1))->owner->m;
}

/* b:read([offset [, length]]) -> string */
static int b_read(lua_State *L) {
  dl_region *r = checkbuffer(L, 1);
  uint64_t off = luaL_opt(L, ldl_checkuint, 2, 0);
  uint64_t len = lua_isnoneornil(L, 3) && off <= r->length ? r->length - off : ldl_checkuint(L, 3);
  check_span(L, r, off, len, 2);
  return ldl_pushread(L, dl_machine_read_va, machine_of(L), r->va + off, len, 2, NULL);
}

/* b:write(offset, bytes) */
static int b_write(lua_State *L) {
  dl_region *r = checkbuffer(L, 1);
  uint64_t off = ldl_checkuint(L, 2);
  size_t len;
  luaL_checklstring(L, 3, &len);
  check_span(L, r, off, len, 2);
  return ldl_write(L, dl_machine_write_va, machine_of(L), r->va + off, 3, 2, NULL);
}

/* b:fill(byte [, offset [, length]]) */
static int b_fill(lua_State *L) {
  dl_region *r = checkbuffer(L, 1);
  lua_Integer byte = luaL_checkinteger(L, 2);
  luaL_argcheck(L, byte >= 0 && byte <= 255, 2, "byte must be 0..255");
  uint64_t off = luaL_opt(L, ldl_checkuint, 3, 0);
  uint64_t len = lua_isnoneornil(L, 4) && off <= r->length ? r->length - off : ldl_checkuint(L, 4);
  check_span(L, r, off, len, 3);
  int rc = dl_machine_fill_va(machine_of(L), r->va + off, (int)byte, len);
  if (rc == DL_ELIMIT) return ldl_limiterror(L, machine_of(L), 4, "b:fill", len);
  if (rc) return ldl_statuserror(L, 3, rc, NULL);
  return 0;
}

/* b:compare(offset, bytes) -> true | false, first differing offset */
static int b_compare(lua_State *L) {
  dl_region *r = checkbuffer(L, 1);
  uint64_t off = ldl_checkuint(L, 2);
  size_t len;
  const char *s = luaL_checklstring(L, 3, &len);
  check_span(L, r, off, len, 2);
  char chunk[4096];
  for (size_t done = 0; done < len;) {
    size_t n = len - done < sizeof chunk ? len - done : sizeof chunk;
    dl_machine_read_va(machine_of(L), r->va + off + done, chunk, n);
    if (memcmp(chunk, s + done, n) != 0) {
      size_t i = 0;
      while (chunk[i] == s[done + i]) i++;
      lua_pushboolean(L, 0);
      lua_pushinteger(L, (lua_Integer)(off + done + i));
      return 2;
    }
    done += n;
  }
  lua_pushboolean(L, 1);
  return 1;
}

/* b:pfns() -> { pfn, ... } of every page the buffer spans */
static int b_pfns(lua_State *L) {
  dl_region *r = checkbuffer(L, 1);
  if (r->npages > LDL_MAX_PFNS)
    return luaL_error(L, "b:pfns: the buffer spans %I pages, more than one table lists (%I)",
                      (lua_Integer)r->npages, (lua_Integer)LDL_MAX_PFNS);
  lua_createtable(L, (int)r->npages, 0);
  for (uint64_t i = 0; i < r->npages; i++) {
    lua_pushinteger(L, (lua_Integer)dl_region_pfn(r, i));
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  return 1;
}

/* b:pa(offset) -> physical address of that byte */
static int b_pa(lua_State *L) {
  dl_region *r = checkbuffer(L, 1);
  uint64_t off = ldl_checkuint(L, 2);
  luaL_argcheck(L, off < r->length, 2, "offset outside the buffer");
  lua_pushinteger(L, (lua_Integer)dl_region_pa(r, r->va + off, dl_machine_page_size(machine_of(L))));
  return 1;
}

/* b:free(): returns the pages; an error while an MDL holds them locked. */
static int b_free(lua_State *L) {
  lobject *h = ldl_checkobject(L, 1, LDL_BUFFER, "buffer");
  int rc = dl_buffer_free(h->owner->m, h->obj);
  dl_region *r = h->obj;
  if (rc == DL_EBUSY && r->locks)
    return luaL_argerror(L, 1, "pages are locked by an MDL (MmUnlockPages first)");
  if (rc == DL_EBUSY)
    return luaL_argerror(L, 1, lua_pushfstring(L, "b:free: buffer#%I is still mapped for DMA "
                         "by %d live mapping(s): a device may still access its pages "
                         "(FlushAdapterBuffers or PutScatterGatherList first); nothing freed",
                         (lua_Integer)r->id, (int)r->dma_maps));
  if (rc) return ldl_statuserror(L, 1, rc, NULL);
  h->obj = NULL;
  return 0;
}

/* __close: frees the buffer if it is still allocated (to-be-closed locals). */
static int b_close(lua_State *L) {
  lobject *h = ldl_checkclass(L, 1, LDL_BUFFER);
  if (h->obj && h->owner->m) return b_free(L);
  return 0;
}

static int b_tostring(lua_State *L) {
  lobject *h = ldl_checkclass(L, 1, LDL_BUFFER);
  if (!h->owner->m || !h->obj) {
    lua_pushstring(L, h->obj ? "buffer (machine closed)" : "buffer (freed)");
    return 1;
  }
  dl_region *r = h->obj;
  char va[32];
  snprintf(va, sizeof va, "0x%llx", (unsigned long long)r->va);
  lua_pushfstring(L, "buffer#%I va=%s length=%I pages=%I %s%s", (lua_Integer)r->id, va,
                  (lua_Integer)r->length, (lua_Integer)r->npages, kind_names[r->kind],
                  r->locks ? " locked" : "");
  return 1;
}

/* Fields: va, length, offset, pages, kind, id, machine; otherwise methods. */
static int b_index(lua_State *L) {
  const char *key = ldl_checkkey(L, 2);
  if (ldl_getmethod(L, lua_upvalueindex(1)) != LUA_TNIL) return 1;
  dl_region *r = checkbuffer(L, 1);
  uint32_t ps = dl_machine_page_size(machine_of(L));
  if (strcmp(key, "va") == 0) lua_pushinteger(L, (lua_Integer)r->va);
  else if (strcmp(key, "length") == 0) lua_pushinteger(L, (lua_Integer)r->length);
  else if (strcmp(key, "offset") == 0) lua_pushinteger(L, (lua_Integer)(r->va & (ps - 1)));
  else if (strcmp(key, "pages") == 0) lua_pushinteger(L, (lua_Integer)r->npages);
  else if (strcmp(key, "kind") == 0) lua_pushstring(L, kind_names[r->kind]);
  else if (strcmp(key, "id") == 0) lua_pushinteger(L, (lua_Integer)r->id);
  else if (strcmp(key, "machine") == 0) ldl_pushowner(L, 1);
  else lua_pushnil(L);
  return 1;
}

static const luaL_Reg meta[] = {
  {"__close", b_close},
  {"__tostring", b_tostring},
  {NULL, NULL}
};

static const luaL_Reg methods[] = {
  {"read", b_read},
  {"write", b_write},
  {"fill", b_fill},
  {"compare", b_compare},
  {"pfns", b_pfns},
  {"pa", b_pa},
  {"free", b_free},
  {NULL, NULL}
};

/* Registers the buffer class and machine:buffer. */
void ldl_open_buffer(lua_State *L) {
  ldl_newclass(L, LDL_BUFFER, meta, methods, b_index);
  static const char *const fields[] = {"va", "length", "offset", "pages", "kind", "id", "machine", NULL};
  ldl_setfields(L, LDL_BUFFER, fields);
  static const luaL_Reg machine_methods[] = {{"buffer", b_new}, {NULL, NULL}};
  ldl_addmethods(L, LDL_MACHINE, machine_methods);
}
