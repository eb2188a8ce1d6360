/*
** platform.c: the platform what-ifs in Lua: the iommu / bounce_policy /
** swiotlb options of dma.machine{...}, m:iommu_stats(), m:iommu_faults(),
** m:swiotlb_stats(), m:iommu_interface() (the DMA v3 domain operations of
** DMA_IOMMU_INTERFACE_EX under their WDK names), and the device id behind
** m:device_read/write's `who`. The rules are in core (dl_xlate.h,
** dl_iommu.h, hal/dl_swiotlb.h); this file only converts values.
*/
#include <string.h>

#include "hal/dl_swiotlb.h"
#include "io/dl_device.h"
#include "io/dl_mdl.h"
#include "machine/dl_iommu.h"
#include "machine/dl_object.h"
#include "machine/dl_xlate.h"
#include "../ldl.h"

/* ---- options ------------------------------------------------------------------- */

static const char *const iommu_options[] = {"mode", "iotlb", "miss_latency", "flush_batch", NULL};
static const char *const swiotlb_options[] = {"slots", "slot_size", "segment_slots", "areas", NULL};
static const char *const iommu_modes[] = {"strict", "deferred", NULL};
static const char *const bounce_policies[] = {"windows", "swiotlb", NULL};

/* Picks `value` among `valid`, or raises naming every valid one. */
static int pick(lua_State *L, int arg, const char *option, const char *const valid[]) {
  const char *name = lua_tostring(L, -1);
  for (int i = 0; valid[i]; i++)
    if (name && lua_type(L, -1) == LUA_TSTRING && strcmp(name, valid[i]) == 0) return i;
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  for (int i = 0; valid[i]; i++) {
    if (i) luaL_addstring(&b, ", ");
    luaL_addchar(&b, '"');
    luaL_addstring(&b, valid[i]);
    luaL_addchar(&b, '"');
  }
  luaL_pushresult(&b);
  return luaL_argerror(L, arg, lua_pushfstring(L, "%s: unknown value '%s' (valid: %s)", option,
                                               name && lua_type(L, -2) == LUA_TSTRING ? name
                                               : luaL_typename(L, -2), lua_tostring(L, -1)));
}

/* A field of the table at -1 as an integer in [lo, hi], or keeps *v. */
static void read_u32(lua_State *L, int arg, const char *table, const char *field, uint32_t lo,
                     uint32_t hi, uint32_t *v) {
  if (lua_getfield(L, -1, field) != LUA_TNIL) {
    if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < lo || lua_tointeger(L, -1) > hi)
      luaL_argerror(L, arg, lua_pushfstring(L, "%s.%s must be an integer from %d to %d", table,
                                            field, (int)lo, (int)hi));
    *v = (uint32_t)lua_tointeger(L, -1);
  }
  lua_pop(L, 1);
}

/* iommu = true | false | { mode = "strict"|"deferred", iotlb =, miss_latency =, flush_batch = } */
static void read_iommu(lua_State *L, int arg, dl_platform_config *p) {
  int t = lua_getfield(L, arg, "iommu");
  if (t == LUA_TBOOLEAN) p->iommu = lua_toboolean(L, -1);
  else if (t != LUA_TNIL && t != LUA_TTABLE)
    luaL_argerror(L, arg, "iommu must be true, false or a table {mode=, iotlb=, miss_latency=, "
                          "flush_batch=}");
  if (t == LUA_TTABLE) {
    int at = lua_gettop(L);
    p->iommu = 1;
    ldl_checkoptions(L, at, "dma.machine iommu", iommu_options);
    if (lua_getfield(L, at, "mode") != LUA_TNIL) p->iommu_deferred = pick(L, arg, "iommu.mode", iommu_modes);
    lua_pop(L, 1);
    read_u32(L, arg, "iommu", "iotlb", 1, 65536, &p->iotlb_entries);
    read_u32(L, arg, "iommu", "flush_batch", 1, 65536, &p->iommu_flush_batch);
    if (lua_getfield(L, at, "miss_latency") != LUA_TNIL)
      p->iotlb_miss_latency = ldl_checkduration(L, lua_gettop(L));
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
}

/* bounce_policy = "windows" | "swiotlb"; swiotlb = { slots=, slot_size=, segment_slots=, areas= } */
static void read_bounce(lua_State *L, int arg, dl_platform_config *p) {
  if (lua_getfield(L, arg, "bounce_policy") != LUA_TNIL)
    p->bounce_policy = pick(L, arg, "bounce_policy", bounce_policies) ? DL_BOUNCE_SWIOTLB
                                                                      : DL_BOUNCE_WINDOWS;
  lua_pop(L, 1);
  int t = lua_getfield(L, arg, "swiotlb");
  if (t != LUA_TNIL) {
    luaL_argcheck(L, t == LUA_TTABLE, arg, "swiotlb must be a table {slots=, slot_size=, "
                                           "segment_slots=, areas=}");
    ldl_checkoptions(L, lua_gettop(L), "dma.machine swiotlb", swiotlb_options);
    read_u32(L, arg, "swiotlb", "slots", 1, 1u << 30, &p->swiotlb_slots);
    read_u32(L, arg, "swiotlb", "slot_size", 1, 1u << 30, &p->swiotlb_slot_size);
    read_u32(L, arg, "swiotlb", "segment_slots", 1, 1u << 30, &p->swiotlb_segment_slots);
    read_u32(L, arg, "swiotlb", "areas", 1, 1u << 30, &p->swiotlb_areas);
  }
  lua_pop(L, 1);
}

/* Reads the platform options of dma.machine{...} at arg. */
void ldl_read_platform(lua_State *L, int arg, dl_platform_config *p) {
  read_iommu(L, arg, p);
  read_bounce(L, arg, p);
}

/* The id of the device named `who` (0: none, or no name). */
uint64_t ldl_device_id(dl_machine *m, const char *who) {
  if (!who) return 0;
  for (dl_object *o = dl_object_next(m, NULL, &dl_device_type); o;
       o = dl_object_next(m, o, &dl_device_type))
    if (strcmp(dl_device_name((dl_device *)o), who) == 0) return o->id;
  return 0;
}

/* ---- statistics ------------------------------------------------------------------- */

/* m:iommu_stats() -> {mappings=, unmaps=, iotlb_hits=, ...}, or nil without an IOMMU. */
static int m_iommu_stats(lua_State *L) {
  lmachine *lm = ldl_checkmachine(L, 1);
  dl_iommu *io = dl_iommu_of(lm->m);
  if (!io) return 0;
  dl_iommu_stats st;
  dl_iommu_get_stats(io, &st);
  const ldl_int f[] = {
    {"mappings", st.mappings}, {"unmaps", st.unmaps}, {"iotlb_hits", st.iotlb_hits},
    {"iotlb_misses", st.iotlb_misses}, {"faults", st.faults}, {"invalidations", st.invalidations},
    {"stall_ns", st.stall_ns}, {"live_mappings", st.live_mappings},
    {"pending_unmaps", st.pending_unmaps}, {"domains", st.domains},
  };
  ldl_pushints(L, f, sizeof f / sizeof f[0], 0);
  return 1;
}

/* m:iommu_faults() -> { {device=, iova=, access="read"|"write", time=, domain=, reason=}, ... } */
static int m_iommu_faults(lua_State *L) {
  lmachine *lm = ldl_checkmachine(L, 1);
  dl_iommu *io = dl_iommu_of(lm->m);
  size_t n = io ? dl_iommu_fault_count(io) : 0;
  lua_createtable(L, (int)n, 0);
  for (size_t i = 0; i < n; i++) {
    const dl_iommu_fault *f = dl_iommu_fault_at(io, i);
    lua_createtable(L, 0, 6);
    ldl_setint(L, "device", (lua_Integer)f->dev);
    ldl_setint(L, "iova", (lua_Integer)f->iova);
    ldl_setint(L, "time", (lua_Integer)f->time);
    ldl_setint(L, "domain", (lua_Integer)f->domain);
    lua_pushstring(L, f->access == DL_XLATE_WRITE ? "write" : "read");
    lua_setfield(L, -2, "access");
    lua_pushstring(L, dl_iommu_reason_text(f->reason));
    lua_setfield(L, -2, "reason");
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  return 1;
}

/* m:swiotlb_stats([reset_hiwater]) -> {io_tlb_nslabs=, io_tlb_used=, io_tlb_used_hiwater=, ...},
** or nil under the Windows policy. */
static int m_swiotlb_stats(lua_State *L) {
  lmachine *lm = ldl_checkmachine(L, 1);
  dl_swiotlb *s = dl_swiotlb_of(lm->m);
  if (!s) return 0;
  dl_swiotlb_stats st;
  dl_swiotlb_get_stats(s, &st);
  if (lua_toboolean(L, 2)) dl_swiotlb_reset_hiwater(s);
  const ldl_int f[] = {
    {"io_tlb_nslabs", st.nslabs}, {"io_tlb_used", st.used}, {"io_tlb_used_hiwater", st.used_hiwater},
    {"max_mapping_size", dl_swiotlb_max_mapping(s)}, {"maps", st.maps}, {"unmaps", st.unmaps},
    {"failures", st.failures}, {"bytes_bounced", st.bytes_bounced},
    {"copies_to_bounce", st.copies_to_bounce}, {"copies_from_bounce", st.copies_from_bounce},
  };
  ldl_pushints(L, f, sizeof f / sizeof f[0], 0);
  return 1;
}

/* ---- DMA_IOMMU_INTERFACE_EX ------------------------------------------------------------ */

static dl_iommu *checkiommu(lua_State *L) {
  lmachine *lm = lua_touserdata(L, lua_upvalueindex(1));
  if (!lm->m) luaL_error(L, "machine is closed");
  dl_iommu *io = dl_iommu_of(lm->m);
  if (!io) luaL_error(L, "DMA remapping is off: dma.machine{ iommu = true }");
  return io;
}

static dl_device *checkdevice(lua_State *L, int arg) {
  return ldl_checkobject(L, arg, LDL_DEVICE, "DEVICE_OBJECT")->obj;
}

/* The pages of an MDL, or of a {base=, size=} physical range: pfns on the stack top
** as a userdata array; returns it and sets *n. */
static uint64_t *check_pages(lua_State *L, int arg, uint32_t *n) {
  lmachine *lm = lua_touserdata(L, lua_upvalueindex(1));
  uint64_t ps = dl_machine_page_size(lm->m), base, size;
  if (lua_istable(L, arg)) {
    lua_getfield(L, arg, "base");
    lua_getfield(L, arg, "size");
    base = ldl_checkuint(L, -2);
    size = ldl_checkuint(L, -1);
    lua_pop(L, 2);
    luaL_argcheck(L, size > 0 && base % ps == 0 && size % ps == 0, arg,
                  "a physical range {base=, size=} must be page-aligned and not empty");
    *n = (uint32_t)(size / ps);
    uint64_t *p = lua_newuserdatauv(L, *n * sizeof *p, 0);
    for (uint32_t i = 0; i < *n; i++) p[i] = base / ps + i;
    return p;
  }
  dl_mdl *mdl = ldl_checkobject(L, arg, LDL_MDL, "MDL or {base=, size=}")->obj;
  luaL_argcheck(L, dl_mdl_pages_valid(mdl), arg, "the MDL's pages are not locked");
  uint64_t va = dl_mdl_virtual_address(mdl) / ps * ps, end = dl_mdl_virtual_address(mdl) +
                dl_mdl_byte_count(mdl);
  *n = (uint32_t)((end - va + ps - 1) / ps);
  uint64_t *p = lua_newuserdatauv(L, *n * sizeof *p, 0);
  for (uint32_t i = 0; i < *n; i++) {
    uint64_t at = va + (uint64_t)i * ps;
    p[i] = dl_mdl_pa(mdl, at < dl_mdl_virtual_address(mdl) ? dl_mdl_virtual_address(mdl) : at) / ps;
  }
  return p;
}

static int perm_of(lua_State *L, int arg) {
  lua_Integer p = luaL_checkinteger(L, arg);
  luaL_argcheck(L, p >= 1 && p <= 3, arg, "Permissions: IOMMU_ACCESS_READ (1), IOMMU_ACCESS_WRITE "
                                          "(2) or both (3)");
  return (int)p;
}

/* CreateDomainEx(DomainType) -> status, Domain */
static int l_create(lua_State *L) {
  dl_iommu *io = checkiommu(L);
  uint64_t d;
  uint32_t status = dl_iommu_create_domain(io, (int)luaL_checkinteger(L, 1), &d);
  lua_pushinteger(L, status);
  if (status) return 1;
  lua_pushinteger(L, (lua_Integer)d);
  return 2;
}

/* DeleteDomain(Domain) -> status */
static int l_delete(lua_State *L) {
  lua_pushinteger(L, dl_iommu_delete_domain(checkiommu(L), ldl_checkuint(L, 1)));
  return 1;
}

/* AttachDeviceEx(Domain, DeviceObject) -> status */
static int l_attach(lua_State *L) {
  dl_iommu *io = checkiommu(L);
  lua_pushinteger(L, dl_iommu_attach_device(io, ldl_checkuint(L, 1), checkdevice(L, 2)->id));
  return 1;
}

/* DetachDeviceEx(DeviceObject) -> status */
static int l_detach(lua_State *L) {
  dl_iommu *io = checkiommu(L);
  lua_pushinteger(L, dl_iommu_detach_device(io, checkdevice(L, 1)->id));
  return 1;
}

/* MapIdentityRangeEx(Domain, Permissions, Mdl or {base=, size=}) -> status */
static int l_map_identity(lua_State *L) {
  dl_iommu *io = checkiommu(L);
  uint32_t n;
  uint64_t *pfns = check_pages(L, 3, &n);
  lua_pushinteger(L, dl_iommu_map_identity(io, ldl_checkuint(L, 1), perm_of(L, 2), pfns, n));
  return 1;
}

/* UnmapIdentityRangeEx(Domain, Mdl or {base=, size=}) -> status */
static int l_unmap_identity(lua_State *L) {
  dl_iommu *io = checkiommu(L);
  uint32_t n;
  uint64_t *pfns = check_pages(L, 2, &n);
  lua_pushinteger(L, dl_iommu_unmap_identity(io, ldl_checkuint(L, 1), pfns, n));
  return 1;
}

/* FlushDomain(Domain) -> status */
static int l_flush(lua_State *L) {
  lua_pushinteger(L, dl_iommu_flush_domain(checkiommu(L), ldl_checkuint(L, 1)));
  return 1;
}

/* m:iommu_interface() -> DMA_IOMMU_INTERFACE_EX-like table of functions
** (the V2/V3 names; Domain handles are integers). */
static int m_iommu_interface(lua_State *L) {
  lmachine *lm = ldl_checkmachine(L, 1);
  if (!dl_iommu_of(lm->m)) return luaL_error(L, "DMA remapping is off: dma.machine{ iommu = true }");
  static const luaL_Reg fns[] = {
    {"CreateDomainEx", l_create}, {"DeleteDomain", l_delete}, {"AttachDeviceEx", l_attach},
    {"DetachDeviceEx", l_detach}, {"MapIdentityRangeEx", l_map_identity},
    {"UnmapIdentityRangeEx", l_unmap_identity}, {"FlushDomain", l_flush}, {NULL, NULL}};
  lua_createtable(L, 0, 9);
  lua_pushvalue(L, 1);
  luaL_setfuncs(L, fns, 1);
  lua_pushinteger(L, 3);  /* DMA_IOMMU_INTERFACE_EX_VERSION_3 */
  lua_setfield(L, -2, "Version");
  return 1;
}

/* Adds the methods to the machine class and the constants to the module at -1. */
void ldl_open_platform(lua_State *L) {
  static const luaL_Reg methods[] = {
    {"iommu_stats", m_iommu_stats}, {"iommu_faults", m_iommu_faults},
    {"swiotlb_stats", m_swiotlb_stats}, {"iommu_interface", m_iommu_interface}, {NULL, NULL}};
  luaL_getmetatable(L, LDL_MACHINE);
  lua_getfield(L, -1, "__methods");
  luaL_setfuncs(L, methods, 0);
  lua_pop(L, 2);
  static const struct { const char *name; int v; } k[] = {
    {"DomainTypeTranslate", DL_DOMAIN_TYPE_TRANSLATE},
    {"DomainTypePassThrough", DL_DOMAIN_TYPE_PASSTHROUGH},
    {"DomainTypeUnmanaged", DL_DOMAIN_TYPE_UNMANAGED},
    {"IOMMU_ACCESS_READ", DL_XLATE_READ}, {"IOMMU_ACCESS_WRITE", DL_XLATE_WRITE},
  };
  for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
    lua_pushinteger(L, k[i].v);
    lua_setfield(L, -2, k[i].name);
  }
}
