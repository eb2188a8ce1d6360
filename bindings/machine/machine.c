/*
** machine.c: the `machine` handle: dma.machine{...}, physical memory access,
** running the clock, statistics.
*/
#include <stdio.h>
#include <string.h>

#include "hal/dl_adapter.h"
#include "machine/dl_dmamap.h"
#include "machine/dl_xlate.h"
#include "machine/dl_trace.h"
#include "machine/dl_traceout.h"
#include "machine/dl_verifier.h"
#include "io/dl_mdl.h"
#include "base/dl_status.h"
#include "../lcall.h"
#include "../ldl.h"

static const char *const policy_names[] = {"contiguous", "scattered", "high_first",
                                           "low_first", NULL};

/* ---- dma.machine{...} ---------------------------------------------------- */

/* Reads a size field: an integer or a size string. */
static uint64_t size_field(lua_State *L, int arg, const char *name) {
  uint64_t v = 0;
  int ok = lua_isinteger(L, -1) ? (v = (uint64_t)lua_tointeger(L, -1), lua_tointeger(L, -1) >= 0)
         : lua_type(L, -1) == LUA_TSTRING && ldl_parsesize(lua_tostring(L, -1), &v);
  if (!ok) luaL_argerror(L, arg, lua_pushfstring(L, "field '%s' must be a size like 4096 or \"16K\"", name));
  return v;
}

/* Reads one RAM range {base, size} (or {base=, size=}) from the table at -1. */
static void read_range(lua_State *L, int arg, dl_range *r) {
  if (lua_getfield(L, -1, "base") == LUA_TNIL) {
    lua_pop(L, 1);
    lua_rawgeti(L, -1, 1);
  }
  if (lua_getfield(L, -2, "size") == LUA_TNIL) {
    lua_pop(L, 1);
    lua_rawgeti(L, -2, 2);
  }
  uint64_t v[2];
  for (int i = 0; i < 2; i++) {
    int idx = -2 + i;
    int ok = lua_isinteger(L, idx) ? (v[i] = (uint64_t)lua_tointeger(L, idx), 1)
           : lua_type(L, idx) == LUA_TSTRING && ldl_parsesize(lua_tostring(L, idx), &v[i]);
    if (!ok) luaL_argerror(L, arg, "ram ranges are {base, size}, like {\"4G\", \"60G\"}");
  }
  r->base = v[0];
  r->size = v[1];
  lua_pop(L, 2);
}

/* ram = "64G" | 68719476736 | { {base, size}, ... } */
static void read_ram(lua_State *L, int arg, dl_machine_config *cfg) {
  int t = lua_getfield(L, arg, "ram");
  if (t == LUA_TNIL) {
    lua_pop(L, 1);
    return;
  }
  if (t != LUA_TTABLE) {
    cfg->ram[0].base = 0;
    cfg->ram[0].size = size_field(L, arg, "ram");
    cfg->nram = 1;
    lua_pop(L, 1);
    return;
  }
  size_t n = lua_rawlen(L, -1);
  luaL_argcheck(L, n >= 1 && n <= DL_MAX_RAM_RANGES, arg, "ram needs 1 to 16 ranges");
  for (size_t i = 0; i < n; i++) {
    lua_rawgeti(L, -1, (lua_Integer)i + 1);
    luaL_argcheck(L, lua_istable(L, -1), arg, "ram ranges are {base, size}");
    read_range(L, arg, &cfg->ram[i]);
    lua_pop(L, 1);
  }
  cfg->nram = n;
  lua_pop(L, 1);
}

static const char *const machine_options[] = {
  "ram", "seed", "page_size", "alloc", "coherent", "map_registers", "adapter_map_registers",
  "cpus", "dpc_latency", "interrupt_latency", "trace", "verifier", "current", "iommu",
  "bounce_policy", "swiotlb", "limits", NULL
};

/* ---- limits = { ... } ------------------------------------------------------ */

/* The limits of one machine (0: none); see README "Limits and safety". */
typedef struct limits {
  uint64_t callback_instructions, run_instructions, events_without_progress, run_events;
  uint64_t host_memory, lua_memory;
} limits;

static const char *const limit_names[] = {"callback_instructions", "run_instructions",
                                          "events_without_progress", "run_events", "host_memory",
                                          "lua_memory", NULL};

/* Reads limits = { callback_instructions =, run_instructions =,
** events_without_progress =, run_events =, host_memory =, lua_memory = } from the
** options at arg into *lim (which holds the defaults): non-negative
** integers (the memory limits also sizes like "8G"), 0 for no limit. */
static void read_limits(lua_State *L, int arg, limits *lim) {
  lim->callback_instructions = LDL_CALLBACK_INSTRUCTIONS;
  lim->run_instructions = LDL_RUN_INSTRUCTIONS;
  lim->events_without_progress = DL_CLOCK_STALL_LIMIT;
  lim->run_events = LDL_RUN_EVENTS;
  lim->host_memory = LDL_HOST_MEMORY;
  lim->lua_memory = LDL_LUA_MEMORY;
  if (!lua_istable(L, arg)) return;
  int t = lua_getfield(L, arg, "limits");
  if (t != LUA_TNIL) {
    luaL_argcheck(L, t == LUA_TTABLE, arg, "limits must be a table { callback_instructions =, "
                                           "run_instructions =, events_without_progress =, run_events =, "
                                           "host_memory =, lua_memory = }");
    ldl_checkoptions(L, lua_gettop(L), "limits", limit_names);
    uint64_t *v[] = {&lim->callback_instructions, &lim->run_instructions,
                     &lim->events_without_progress, &lim->run_events, &lim->host_memory,
                     &lim->lua_memory};
    for (int i = 0; limit_names[i]; i++) {
      int size = v[i] == &lim->host_memory || v[i] == &lim->lua_memory;
      if (lua_getfield(L, -1, limit_names[i]) == LUA_TSTRING && size) {
        if (!ldl_parsesize(lua_tostring(L, -1), v[i]))
          luaL_argerror(L, arg, lua_pushfstring(L, "limits.%s must be a size, like \"8G\" (0: no limit)",
                                                   limit_names[i]));
      } else if (!lua_isnil(L, -1)) {
        if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 0)
          luaL_argerror(L, arg, lua_pushfstring(L, "limits.%s must be a non-negative integer "
                                                   "(0: no limit)", limit_names[i]));
        *v[i] = (uint64_t)lua_tointeger(L, -1);
      }
      lua_pop(L, 1);
    }
  }
  lua_pop(L, 1);
}

/* Pushes the machine's limits as a table, as dma.machine{ limits = } takes them. */
static void push_limits(lua_State *L, const lmachine *lm) {
  lua_createtable(L, 0, 6);
  ldl_setint(L, "callback_instructions", (lua_Integer)lm->limit_callback);
  ldl_setint(L, "run_instructions", (lua_Integer)lm->limit_run);
  ldl_setint(L, "events_without_progress",
             (lua_Integer)dl_clock_stall_limit(dl_machine_clock(lm->m)));
  ldl_setint(L, "run_events", (lua_Integer)dl_clock_run_limit(dl_machine_clock(lm->m)));
  ldl_setint(L, "host_memory", (lua_Integer)dl_physmem_host_limit(dl_machine_physmem(lm->m)));
  ldl_setint(L, "lua_memory", (lua_Integer)lm->limit_lua_memory);
}

/* Reads options from the table at `arg` into cfg. */
static void read_config(lua_State *L, int arg, dl_machine_config *cfg) {
  dl_machine_config_init(cfg);
  if (lua_isnoneornil(L, arg)) return;
  luaL_checktype(L, arg, LUA_TTABLE);
  ldl_checkoptions(L, arg, "dma.machine", machine_options);
  if (lua_getfield(L, arg, "seed") != LUA_TNIL) {
    luaL_argcheck(L, lua_isinteger(L, -1), arg, "seed must be an integer");
    cfg->seed = (uint64_t)lua_tointeger(L, -1);
  }
  if (lua_getfield(L, arg, "page_size") != LUA_TNIL)
    cfg->page_size = (uint32_t)size_field(L, arg, "page_size");
  if (lua_getfield(L, arg, "alloc") != LUA_TNIL) {
    const char *name = lua_tostring(L, -1);
    int i = 0;
    while (policy_names[i] && (!name || strcmp(name, policy_names[i]) != 0)) i++;
    luaL_argcheck(L, policy_names[i] != NULL, arg,
                  "alloc must be contiguous, scattered, high_first or low_first");
    cfg->alloc = (dl_alloc_policy)i;
  }
  if (lua_getfield(L, arg, "coherent") != LUA_TNIL) cfg->coherent = lua_toboolean(L, -1);
  if (lua_getfield(L, arg, "map_registers") != LUA_TNIL) {
    luaL_argcheck(L, lua_isinteger(L, -1) && lua_tointeger(L, -1) >= 0 && lua_tointeger(L, -1) <= 4096,
                  arg, "map_registers must be an integer from 0 to 4096");
    cfg->map_registers = (uint32_t)lua_tointeger(L, -1);
  }
  if (lua_getfield(L, arg, "adapter_map_registers") != LUA_TNIL) {
    luaL_argcheck(L, lua_isinteger(L, -1) && lua_tointeger(L, -1) >= 1 && lua_tointeger(L, -1) <= 4096,
                  arg, "adapter_map_registers must be an integer from 1 to 4096");
    cfg->adapter_map_registers = (uint32_t)lua_tointeger(L, -1);
  }
  if (lua_getfield(L, arg, "cpus") != LUA_TNIL) {
    luaL_argcheck(L, lua_isinteger(L, -1) && lua_tointeger(L, -1) >= 1 && lua_tointeger(L, -1) <= 64,
                  arg, "cpus must be an integer from 1 to 64");
    cfg->cpus = (uint32_t)lua_tointeger(L, -1);
  }
  if (lua_getfield(L, arg, "dpc_latency") != LUA_TNIL)
    cfg->dpc_latency = ldl_checkduration(L, lua_gettop(L));
  if (lua_getfield(L, arg, "interrupt_latency") != LUA_TNIL)
    cfg->interrupt_latency = ldl_checkduration(L, lua_gettop(L));
  if (lua_getfield(L, arg, "trace") == LUA_TTABLE) {  /* { file =, keep = } */
    static const char *const trace_options[] = {"file", "keep", NULL};
    ldl_checkoptions(L, lua_gettop(L), "trace", trace_options);
    lua_getfield(L, -1, "file");
    luaL_argcheck(L, lua_isnil(L, -1) || lua_type(L, -1) == LUA_TSTRING, arg,
                  "trace.file must be a file name");
    lua_getfield(L, -2, "keep");
    lua_replace(L, -3);
    lua_pop(L, 1);
  }
  if (!lua_isnil(L, -1)) {
    luaL_argcheck(L, lua_isinteger(L, -1) && lua_tointeger(L, -1) >= 0 &&
                     (uint64_t)lua_tointeger(L, -1) <= DL_TRACE_MAX_CAPACITY, arg,
                  "trace must be the number of records to keep (0: all, at most 2^26), or "
                  "{ file =, keep = }");
    cfg->trace_capacity = (size_t)lua_tointeger(L, -1);
  }
  lua_pop(L, 10);
  read_ram(L, arg, cfg);
  ldl_read_platform(L, arg, &cfg->platform);
}

/* verifier = "raise" (default: a report raises an error, as a bug check
** stops the machine) or "record" (reports are kept for the scenario). */
static int read_verifier_mode(lua_State *L, int arg) {
  if (!lua_istable(L, arg)) return 0;
  lua_getfield(L, arg, "verifier");
  const char *mode = lua_tostring(L, -1);
  int record = mode && strcmp(mode, "record") == 0;
  luaL_argcheck(L, lua_isnil(L, -1) || record || (mode && strcmp(mode, "raise") == 0), arg,
                "verifier must be \"raise\" or \"record\"");
  lua_pop(L, 1);
  return record;
}

/* dma.machine{ram=, seed=, page_size=, alloc=, current=} -> machine */
static int m_new(lua_State *L) {
  dl_machine_config cfg;
  read_config(L, 1, &cfg);
  int record = read_verifier_mode(L, 1);
  limits lim;
  read_limits(L, 1, &lim);
  int make_current = 1;
  if (lua_istable(L, 1)) {
    lua_getfield(L, 1, "current");
    make_current = lua_isnil(L, -1) || lua_toboolean(L, -1);
    lua_pop(L, 1);
  }
  lmachine *lm = lua_newuserdatauv(L, sizeof *lm, 2);
  memset(lm, 0, sizeof *lm);
  lm->error = LUA_NOREF;
  lm->id = ldl_newmachineid();
  luaL_setmetatable(L, LDL_MACHINE);  /* closed until the core machine exists */
  char why[160];
  if (dl_machine_config_check(&cfg, why, sizeof why)) return luaL_argerror(L, 1, why);
  int rc = dl_machine_new(&cfg, &lm->m);
  if (rc == DL_EINVAL)
    return luaL_argerror(L, 1, "invalid machine: ram ranges must be page-aligned, non-empty, "
                               "disjoint and end at or below 2^52 (DL_PHYS_ADDRESS_LIMIT)");
  if (rc == DL_ENOSPACE && cfg.platform.bounce_policy == DL_BOUNCE_SWIOTLB)
    return luaL_argerror(L, 1, "swiotlb: no run of RAM below 4 GiB holds the pool (fewer slots, "
                               "or RAM below 4 GiB)");
  if (rc) return ldl_statuserror(L, 1, rc, NULL);
  lm->record = record;
  lm->limit_callback = lim.callback_instructions;
  lm->limit_lua_memory = lim.lua_memory;
  lm->limit_run = lim.run_instructions;
  dl_clock_set_stall_limit(dl_machine_clock(lm->m), lim.events_without_progress);
  dl_clock_set_run_limit(dl_machine_clock(lm->m), lim.run_events);
  dl_physmem_set_host_limit(dl_machine_physmem(lm->m), lim.host_memory);
  dl_machine_set_data(lm->m, lm);
  if (lua_istable(L, 1)) {  /* trace = { file = } streams the trace */
    int top = lua_gettop(L);
    if (lua_getfield(L, 1, "trace") == LUA_TTABLE && lua_getfield(L, -1, "file") == LUA_TSTRING &&
        dl_trace_stream_chrome(dl_machine_trace(lm->m), lua_tostring(L, -1)))
      return luaL_error(L, "dma.machine: cannot write the trace to %s", lua_tostring(L, -1));
    lua_settop(L, top);
  }
  ldl_initpins(L, lua_gettop(L));
  ldl_setmachinehandle(L, -1);  /* the engine finds the handle of its machine */
  ldl_pushmachines(L);
  lua_pushvalue(L, -2);
  lua_pushboolean(L, 1);
  lua_rawset(L, -3);
  lua_pop(L, 1);
  if (make_current) ldl_setcurrent(L, -1);
  return 1;
}

/* ---- metamethods --------------------------------------------------------- */

/* Frees the machine and everything on it; idempotent. */
static void close_machine(lua_State *L, lmachine *lm) {
  lm->L = L;  /* teardown may tell the binding about dropped requests, which */
  dl_machine_free(lm->m);  /* find the callbacks through the handle: forget it after */
  lm->m = NULL;
  ldl_forgetmachinehandle(L, lm);
  lm->gone = NULL;  /* every handle of the machine is marked freed: drop the pins */
  lua_pushnil(L);
  lua_setiuservalue(L, 1, 1);
  luaL_unref(L, LUA_REGISTRYINDEX, lm->error);
  lm->error = LUA_NOREF;
  lua_pushnil(L);
  lua_setiuservalue(L, 1, 2);  /* the pending callbacks go with the machine */
}

/* Runs the close hooks of the machine at 1 (protected from m_gc). */
static int run_hooks(lua_State *L) {
  ldl_run_close_hooks(L, 1);
  return 0;
}

/* __gc: frees quietly (a finalizer cannot report). The collector has
** already cleared the machine from its weak box (ldl_setmachinehandle),
** which everything the hooks and the engine's callbacks do looks up: the
** handle goes back there until close_machine forgets it. An error in a hook
** is a warning, and the machine is freed all the same. */
static int m_gc(lua_State *L) {
  lmachine *lm = ldl_checkclass(L, 1, LDL_MACHINE);
  if (lm->m && lm->depth == 0) {
    lm->collecting = 1;
    ldl_setmachinehandle(L, 1);
    lua_pushcfunction(L, run_hooks);
    lua_pushvalue(L, 1);
    if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
      lua_warning(L, "dma: closing a collected machine: ", 1);
      lua_warning(L, lua_tostring(L, -1) ? lua_tostring(L, -1) : "error", 0);
      lua_pop(L, 1);
    }
  }
  close_machine(L, lm);
  return 0;
}

/* Pushes the text of the leaks found at close (reports from `first` on) in
** the format of any report: the first in full, then the P1 of the others;
** returns how many there are (nothing pushed if none). */
static int push_leak_text(lua_State *L, dl_machine *m, uint64_t first) {
  uint64_t n = dl_verifier_count(m) - first;
  const dl_report *leak = dl_verifier_at(m, (size_t)first);
  if (n == 0 || !leak) return 0;
  char more[128] = "";
  size_t used = 0;
  if (n > 1)
    used = (size_t)snprintf(more, sizeof more, " (and %llu more leak%s:", (unsigned long long)(n - 1),
                            n > 2 ? "s" : "");
  for (uint64_t i = 1; i < n && used + 16 < sizeof more; i++) {
    const dl_report *r = dl_verifier_at(m, (size_t)(first + i));
    if (r) used += (size_t)snprintf(more + used, sizeof more - used, " P1=0x%02X", (unsigned)r->p1);
  }
  if (n > 1 && used + 1 < sizeof more) strcat(more, ")");
  const char *head = ldl_pushreporttext(L, leak);
  lua_pushfstring(L, "%s%s", head, more);
  lua_remove(L, -2);
  return (int)n;
}

/* m:close() and __close: what the adapters still hold is checked as leaks
** first, as the verifier does when a driver unloads; the machine is freed
** either way, then a leak raises an error unless the verifier records. */
static int m_close(lua_State *L) {
  lmachine *lm = ldl_checkclass(L, 1, LDL_MACHINE);
  if (!lm->m) return 0;
  if (lm->depth)
    return luaL_error(L, "machine:close() inside one of its own callbacks: the machine is running");
  lm->L = L;
  ldl_run_close_hooks(L, 1);  /* the framework deletes its objects, as at unload */
  uint64_t before = dl_verifier_count(lm->m);
  dl_machine_check_leaks(lm->m);
  if (lua_getfield(L, LUA_REGISTRYINDEX, "dma.on_close") == LUA_TFUNCTION) {
    lua_pushvalue(L, 1);  /* `dmalab test` collects the reports before they go */
    lua_pushinteger(L, (lua_Integer)before);
    if (lua_pcall(L, 2, 0, 0) != LUA_OK) lua_pop(L, 1);
  } else {
    lua_pop(L, 1);
  }
  int leaks = push_leak_text(L, lm->m, before);
  int failed = lm->error != LUA_NOREF;  /* a driver's callback failed in the unload */
  if (failed) lua_rawgeti(L, LUA_REGISTRYINDEX, lm->error);
  close_machine(L, lm);
  if (failed) return lua_error(L);  /* raised once the machine is freed all the same */
  if (leaks && !lm->record) return luaL_error(L, "%s", lua_tostring(L, -1));
  return 0;
}

/* Formats a byte count with a binary unit where it divides evenly. */
static const char *push_size(lua_State *L, uint64_t n) {
  static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (u < 4 && n && n % 1024 == 0) {
    n /= 1024;
    u++;
  }
  return lua_pushfstring(L, "%I %s", (lua_Integer)n, units[u]);
}

static int m_tostring(lua_State *L) {
  lmachine *lm = ldl_checkclass(L, 1, LDL_MACHINE);
  if (!lm->m) {
    lua_pushliteral(L, "machine (closed)");
    return 1;
  }
  const dl_machine_config *cfg = dl_machine_config_of(lm->m);
  dl_physmem *pm = dl_machine_physmem(lm->m);
  dl_physmem_stats st;
  dl_physmem_get_stats(pm, &st);
  push_size(L, st.ram_pages * cfg->page_size);
  lua_pushfstring(L, "machine seed=%I ram=%s in %d range%s page=%d alloc=%s t=%Ins",
                  (lua_Integer)cfg->seed, lua_tostring(L, -1),
                  (int)dl_physmem_range_count(pm),
                  dl_physmem_range_count(pm) == 1 ? "" : "s", (int)cfg->page_size,
                  policy_names[cfg->alloc], (lua_Integer)dl_clock_now(dl_machine_clock(lm->m)));
  return 1;
}

/* Pushes the RAM ranges as { {base=, size=}, ... }. */
static void push_ram(lua_State *L, dl_machine *m) {
  dl_physmem *pm = dl_machine_physmem(m);
  size_t n = dl_physmem_range_count(pm);
  lua_createtable(L, (int)n, 0);
  for (size_t i = 0; i < n; i++) {
    dl_range r;
    dl_physmem_range(pm, i, &r);
    lua_createtable(L, 0, 2);
    lua_pushinteger(L, (lua_Integer)r.base);
    lua_setfield(L, -2, "base");
    lua_pushinteger(L, (lua_Integer)r.size);
    lua_setfield(L, -2, "size");
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
}

/* Fields: seed, page_size, alloc, now, ram, limits; otherwise methods. */
static int m_index(lua_State *L) {
  lmachine *lm = ldl_checkclass(L, 1, LDL_MACHINE);
  const char *key = ldl_checkkey(L, 2);
  if (ldl_getmethod(L, lua_upvalueindex(1)) != LUA_TNIL) return 1;
  if (!lm->m) return luaL_error(L, "machine is closed");
  const dl_machine_config *cfg = dl_machine_config_of(lm->m);
  if (strcmp(key, "seed") == 0) lua_pushinteger(L, (lua_Integer)cfg->seed);
  else if (strcmp(key, "page_size") == 0) lua_pushinteger(L, cfg->page_size);
  else if (strcmp(key, "alloc") == 0) lua_pushstring(L, policy_names[cfg->alloc]);
  else if (strcmp(key, "now") == 0)
    lua_pushinteger(L, (lua_Integer)dl_clock_now(dl_machine_clock(lm->m)));
  else if (strcmp(key, "ram") == 0) push_ram(L, lm->m);
  else if (strcmp(key, "limits") == 0) push_limits(L, lm);
  else lua_pushnil(L);
  return 1;
}

/* ---- physical memory ----------------------------------------------------- */

/* The CPU's two views of memory, physical and virtual: m:read_phys /
** m:write_phys and m:read / m:write share one implementation each. */
typedef struct view {
  ldl_reader read;
  ldl_writer write;
  const char *miss;  /* what a range outside the view is */
} view;

static int phys_read(dl_machine *m, uint64_t pa, void *dst, uint64_t len) {
  dl_physmem *pm = dl_machine_physmem(m);
  if (len && !dl_physmem_is_ram(pm, pa, len)) return DL_ENOTMAPPED;
  return dl_physmem_read(pm, pa, dst, (size_t)len);
}

static int phys_write(dl_machine *m, uint64_t pa, const void *src, uint64_t len) {
  return dl_physmem_write(dl_machine_physmem(m), pa, src, (size_t)len);
}

static const view phys = { phys_read, phys_write, "range is not RAM" };
static const view virt = { dl_machine_read_va, dl_machine_write_va, "range is not mapped" };

/* m:read_phys(pa, len) / m:read(va, len) -> string */
static int m_read_view(lua_State *L) {
  const view *v = lua_touserdata(L, lua_upvalueindex(1));
  lmachine *lm = ldl_checkmachine(L, 1);
  uint64_t at = ldl_checkuint(L, 2), len = ldl_checkuint(L, 3);
  return ldl_pushread(L, v->read, lm->m, at, len, 2, v->miss);
}

/* m:write_phys(pa, bytes) / m:write(va, bytes) */
static int m_write_view(lua_State *L) {
  const view *v = lua_touserdata(L, lua_upvalueindex(1));
  lmachine *lm = ldl_checkmachine(L, 1);
  return ldl_write(L, v->write, lm->m, ldl_checkuint(L, 2), 3, 2, v->miss);
}

/* m:fill_phys(pa, byte, len) */
static int m_fill_phys(lua_State *L) {
  lmachine *lm = ldl_checkmachine(L, 1);
  uint64_t pa = ldl_checkuint(L, 2);
  lua_Integer byte = luaL_checkinteger(L, 3);
  uint64_t len = ldl_checkuint(L, 4);
  luaL_argcheck(L, byte >= 0 && byte <= 255, 3, "byte must be 0..255");
  int rc = dl_physmem_fill(dl_machine_physmem(lm->m), pa, (int)byte, (size_t)len);
  if (rc == DL_ENOTMAPPED) return luaL_argerror(L, 2, phys.miss);
  if (rc == DL_ELIMIT) return ldl_limiterror(L, lm->m, 4, "m:fill_phys", len);
  if (rc) return ldl_statuserror(L, 2, rc, NULL);
  return 0;
}

/* m:device_read(logical, len [, who]) -> string, or nil after a verifier
** report when nothing maps that range: a device reading memory by DMA. */
static int m_device_read(lua_State *L) {
  lmachine *lm = ldl_checkmachine(L, 1);
  uint64_t logical = ldl_checkuint(L, 2), len = ldl_checkuint(L, 3);
  const char *who = luaL_optstring(L, 4, NULL);
  ldl_checkstringlen(L, 3, len);
  ldl_call call;
  ldl_enter(L, lm, &call);
  luaL_Buffer b;
  char *p = luaL_buffinitsize(L, &b, (size_t)len);
  int rc = dl_xlate_read(lm->m, ldl_device_id(lm->m, who), who, logical, p, (size_t)len);
  luaL_pushresultsize(&b, rc ? 0 : (size_t)len);
  ldl_leave(L, &call);
  if (rc) lua_pushnil(L);
  return 1;
}

/* m:device_write(logical, bytes [, who]) -> true, or false after a report. */
static int m_device_write(lua_State *L) {
  lmachine *lm = ldl_checkmachine(L, 1);
  uint64_t logical = ldl_checkuint(L, 2);
  size_t len;
  const char *s = luaL_checklstring(L, 3, &len);
  const char *who = luaL_optstring(L, 4, NULL);
  ldl_call call;
  ldl_enter(L, lm, &call);
  int rc = dl_xlate_write(lm->m, ldl_device_id(lm->m, who), who, logical, s, len);
  ldl_leave(L, &call);
  lua_pushboolean(L, rc == 0);
  return 1;
}

/* m:stats() -> table of counters */
static int m_stats(lua_State *L) {
  lmachine *lm = ldl_checkmachine(L, 1);
  dl_physmem_stats st;
  dl_physmem_get_stats(dl_machine_physmem(lm->m), &st);
  dl_clock *c = dl_machine_clock(lm->m);
  uint64_t ps = dl_machine_page_size(lm->m), mdls = dl_machine_count(lm->m, &dl_mdl_type);
  const ldl_int f[] = {
    {"ram_bytes", st.ram_pages * ps}, {"free_bytes", st.free_pages * ps},
    {"touched_pages", st.touched_pages}, {"host_bytes", st.host_bytes},
    {"buffers", dl_vspace_count(dl_machine_vspace(lm->m))}, {"mdls", mdls},
    {"dma_mappings", dl_dmamap_count(dl_machine_dmamap(lm->m))},
    {"irql", dl_machine_irql(lm->m)},
    {"now", dl_clock_now(c)}, {"events_pending", dl_clock_pending(c)},
    {"events_run", dl_clock_dispatched(c)},
  };
  ldl_pushints(L, f, sizeof f / sizeof f[0], 2);
  uint64_t first;
  uint32_t nregs = dl_machine_map_register_pages(lm->m, &first);  /* RAM reserved at boot */
  lua_pushinteger(L, nregs);
  lua_setfield(L, -2, "map_registers");
  if (nregs) {
    lua_pushinteger(L, (lua_Integer)(first * ps));
    lua_setfield(L, -2, "map_registers_base");
  }
  return 1;
}

/* m:select(): makes this the machine the WDK calls act on. */
static int m_select(lua_State *L) {
  ldl_setcurrent(L, 1);
  lua_settop(L, 1);
  return 1;
}

/* ---- the clock ----------------------------------------------------------- */

/* Runs a Lua callback scheduled with m:after; an error stops the clock and
** is raised again by the run that was going on. */
static void on_lua_event(void *arg, uint64_t ref) {
  lmachine *lm = arg;
  lua_State *L = lm->L;
  ldl_takecallback(L, lm, (int)ref);               /* fn, id */
  ldl_pushcallbacks(L, lm);
  luaL_getsubtable(L, -1, "after");
  lua_pushnil(L);
  lua_rawseti(L, -2, lua_tointeger(L, -4));        /* it is no longer pending */
  lua_pop(L, 3);
  ldl_where(lm, "an m:after callback", NULL, 0);
  if (!ldl_callback(L, lm, 0, 0)) dl_clock_stop(dl_machine_clock(lm->m));
}

/* m:after(delay, fn) -> timer id: the clock event's id, never handed out
** twice, so m:cancel of a stale or made-up id cancels nothing. The callback
** table holds the function at [ref] and the event id at [-ref]; the
** machine's state holds ref under "after" [id]. */
static int m_after(lua_State *L) {
  lmachine *lm = ldl_checkmachine(L, 1);
  uint64_t delay = ldl_checkduration(L, 2);
  luaL_checktype(L, 3, LUA_TFUNCTION);
  int ref = ldl_keepcallback(L, lm, 3, 3);
  uint64_t id;
  int rc = dl_clock_after(dl_machine_clock(lm->m), delay, on_lua_event, lm, (uint64_t)ref, &id);
  if (rc) {
    ldl_takecallback(L, lm, ref);
    return ldl_statuserror(L, 2, rc, NULL);
  }
  ldl_pushcallbacks(L, lm);
  lua_pushinteger(L, (lua_Integer)id);
  lua_rawseti(L, -2, -ref);
  luaL_getsubtable(L, -1, "after");
  lua_pushinteger(L, ref);
  lua_rawseti(L, -2, (lua_Integer)id);
  lua_pushinteger(L, (lua_Integer)id);
  return 1;
}

/* m:cancel(timer) -> true if it was pending */
static int m_cancel(lua_State *L) {
  lmachine *lm = ldl_checkmachine(L, 1);
  lua_Integer id = luaL_checkinteger(L, 2);
  ldl_pushcallbacks(L, lm);                        /* cbs */
  luaL_getsubtable(L, -1, "after");                /* cbs, after */
  int ok = 0;
  lua_Integer ref = lua_rawgeti(L, -1, id) == LUA_TNUMBER ? lua_tointegerx(L, -1, &ok) : 0;
  if (!ok || lua_rawgeti(L, -3, -ref) != LUA_TNUMBER || lua_tointeger(L, -1) != id) {
    lua_pushboolean(L, 0);  /* not pending: it ran, was cancelled, or never was */
    return 1;
  }
  dl_clock_cancel(dl_machine_clock(lm->m), (uint64_t)id);
  lua_pushnil(L);
  lua_rawseti(L, -4, id);                          /* after[id] = nil */
  ldl_takecallback(L, lm, (int)ref);
  lua_pushboolean(L, 1);
  return 1;
}

/* Runs the clock on behalf of m:run (until no event is left), m:run_until
** (to an absolute time) or m:step (one event); callbacks raise after it. */
enum { RUN_ALL, RUN_UNTIL, RUN_STEP };

static int run_clock(lua_State *L, int how) {
  static const char *const names[] = {"m:run", "m:run_until", "m:step"};
  lmachine *lm = ldl_checkmachine(L, 1);
  uint64_t t = how == RUN_UNTIL ? ldl_checkduration(L, 2) : 0;
  dl_clock *clock = dl_machine_clock(lm->m);
  int running = lm->running;  /* a run inside a callback counts for the outer run */
  if (!running) lm->run_count = 0;
  lm->running = 1;
  ldl_call call;
  ldl_enter(L, lm, &call);
  uint64_t n = how == RUN_ALL ? dl_clock_run(clock)
             : how == RUN_UNTIL ? dl_clock_run_until(clock, t) : (uint64_t)dl_clock_step(clock);
  lm->running = running;
  ldl_leave(L, &call);  /* a callback's error (and a limit struck in one) first */
  int struck = dl_clock_run_status(clock) == DL_ELIMIT ? dl_clock_limit_struck(clock) : 0;
  if (struck == DL_CLOCK_LIMIT_INTERRUPT)
    return luaL_error(L, "interrupted! (in %s at t=%Ins; the next event is still pending)",
                      names[how], (lua_Integer)dl_clock_now(clock));
  if (struck == DL_CLOCK_LIMIT_RUN)
    return luaL_error(L, "limit: run_events: %s ran %I events and the next is still pending "
                      "(t=%Ins)", names[how], (lua_Integer)dl_clock_run_limit(clock),
                      (lua_Integer)dl_clock_now(clock));
  if (dl_clock_run_status(clock) == DL_ELIMIT)
    return luaL_error(L, "limit: %I events at t=%Ins without time advancing "
                      "(events_without_progress, in %s; the next event is still pending)",
                      (lua_Integer)dl_clock_stall_limit(clock), (lua_Integer)dl_clock_now(clock),
                      names[how]);
  if (how == RUN_STEP) lua_pushboolean(L, n != 0);
  else lua_pushinteger(L, (lua_Integer)n);
  return 1;
}

/* m:run() -> events run */
static int m_run(lua_State *L) { return run_clock(L, RUN_ALL); }

/* m:run_until(t) -> events run; t is absolute simulated time. */
static int m_run_until(lua_State *L) { return run_clock(L, RUN_UNTIL); }

/* m:step() -> true if an event ran */
static int m_step(lua_State *L) { return run_clock(L, RUN_STEP); }

static const luaL_Reg meta[] = {
  {"__gc", m_gc},
  {"__close", m_close},
  {"__tostring", m_tostring},
  {NULL, NULL}
};

static const luaL_Reg methods[] = {
  {"fill_phys", m_fill_phys},
  {"stats", m_stats},
  {"device_read", m_device_read},
  {"device_write", m_device_write},
  {"select", m_select},
  {"close", m_close},
  {"after", m_after},
  {"cancel", m_cancel},
  {"run", m_run},
  {"run_until", m_run_until},
  {"step", m_step},
  {NULL, NULL}
};

/* Registers the machine class and dma.machine in the module at -1. */
void ldl_open_machine(lua_State *L) {
  ldl_newclass(L, LDL_MACHINE, meta, methods, m_index);
  static const struct { const char *name; lua_CFunction f; const view *v; } views[] = {
    {"read_phys", m_read_view, &phys}, {"write_phys", m_write_view, &phys},
    {"read", m_read_view, &virt}, {"write", m_write_view, &virt},
  };
  luaL_getmetatable(L, LDL_MACHINE);
  lua_getfield(L, -1, "__methods");
  for (size_t i = 0; i < sizeof views / sizeof views[0]; i++) {
    lua_pushlightuserdata(L, (void *)views[i].v);
    lua_pushcclosure(L, views[i].f, 1);
    lua_setfield(L, -2, views[i].name);
  }
  lua_pop(L, 2);
  static const char *const fields[] = {"seed", "page_size", "alloc", "now", "ram", "limits",
                                       NULL};
  ldl_setfields(L, LDL_MACHINE, fields);
  lua_pushcfunction(L, m_new);
  lua_setfield(L, -2, "machine");
}
