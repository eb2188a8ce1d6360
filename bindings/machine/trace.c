/*
** trace.c: the machine's trace and run statistics in Lua: m:trace(),
** m:timeline(), m:trace_hash(), m:run_stats(), m:trace_event().
*/
#include <stdio.h>
#include <string.h>

#include "hal/dl_adapter.h"
#include "hal/dl_swiotlb.h"
#include "base/dl_status.h"
#include "machine/dl_stats.h"
#include "machine/dl_trace.h"
#include "machine/dl_traceout.h"
#include "../ldl.h"

static dl_trace *checktrace(lua_State *L, lmachine **out) {
  lmachine *lm = ldl_checkmachine(L, 1);
  if (out) *out = lm;
  return dl_machine_trace(lm->m);
}

/* Pushes one record as a table. */
static void push_record(lua_State *L, const dl_trace_record *r) {
  lua_createtable(L, 0, 8);
  lua_pushinteger(L, (lua_Integer)r->seq);
  lua_setfield(L, -2, "seq");
  lua_pushinteger(L, (lua_Integer)r->time);
  lua_setfield(L, -2, "time");
  lua_pushinteger(L, r->cpu);
  lua_setfield(L, -2, "cpu");
  lua_pushinteger(L, r->irql);
  lua_setfield(L, -2, "irql");
  lua_pushstring(L, dl_trace_kind_name((dl_trace_kind)r->kind));
  lua_setfield(L, -2, "kind");
  lua_pushinteger(L, (lua_Integer)r->obj);
  lua_setfield(L, -2, "obj");
  lua_pushinteger(L, (lua_Integer)r->a);
  lua_setfield(L, -2, "a");
  lua_pushinteger(L, (lua_Integer)r->b);
  lua_setfield(L, -2, "b");
  if (r->kind == DL_TR_ADAPTER_REFUSED) {
    char why[160];
    dl_adapter_refusal_text(r->a, r->b, why, sizeof why);
    lua_pushstring(L, why);
    lua_setfield(L, -2, "reason");
  } else if (r->kind == DL_TR_SWIOTLB_FULL) {
    char text[160];
    dl_swiotlb_full_text(r->a, (uint32_t)(r->b >> 32), (uint32_t)r->b, text, sizeof text);
    lua_pushstring(L, text);
    lua_setfield(L, -2, "message");
  }
}

/* m:trace([kind]) -> { record, ... } of those kept, oldest first, all kinds
** or one ("dpc_run", ...). */
static int t_trace(lua_State *L) {
  dl_trace *t = checktrace(L, NULL);
  const char *kind = luaL_optstring(L, 2, NULL);
  lua_newtable(L);
  lua_Integer n = 0;
  for (size_t i = 0; i < dl_trace_count(t); i++) {
    const dl_trace_record *r = dl_trace_at(t, i);
    if (kind && strcmp(kind, dl_trace_kind_name((dl_trace_kind)r->kind)) != 0) continue;
    push_record(L, r);
    lua_rawseti(L, -2, ++n);
  }
  return 1;
}

/* m:timeline([last]) -> text: one line per record (the last `last` ones). */
static int t_timeline(lua_State *L) {
  dl_trace *t = checktrace(L, NULL);
  size_t n = dl_trace_count(t), last = (size_t)luaL_optinteger(L, 2, (lua_Integer)n);
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  for (size_t i = n > last ? n - last : 0; i < n; i++) {
    const dl_trace_record *r = dl_trace_at(t, i);
    char line[160], why[160] = "";
    snprintf(line, sizeof line, "%12.3f us  cpu%u irql%-2u %-18s obj=%-6llu a=0x%llx b=0x%llx",
             (double)r->time / 1000.0, r->cpu, r->irql, dl_trace_kind_name((dl_trace_kind)r->kind),
             (unsigned long long)r->obj, (unsigned long long)r->a, (unsigned long long)r->b);
    if (r->kind == DL_TR_ADAPTER_REFUSED) dl_adapter_refusal_text(r->a, r->b, why, sizeof why);
    if (r->kind == DL_TR_SWIOTLB_FULL)
      dl_swiotlb_full_text(r->a, (uint32_t)(r->b >> 32), (uint32_t)r->b, why, sizeof why);
    luaL_addstring(&b, line);
    if (why[0]) {
      luaL_addstring(&b, "  ");
      luaL_addstring(&b, why);
    }
    luaL_addchar(&b, '\n');
  }
  luaL_pushresult(&b);
  return 1;
}

/* m:trace_hash() -> "0x..." identifying every record emitted so far. */
static int t_hash(lua_State *L) {
  dl_trace *t = checktrace(L, NULL);
  char text[24];
  snprintf(text, sizeof text, "0x%016llx", (unsigned long long)dl_trace_hash(t));
  lua_pushstring(L, text);
  lua_pushinteger(L, (lua_Integer)dl_trace_emitted(t));
  return 2;
}

/* m:trace_capacity(n): keep the last n records (0: all); returns the old count. */
static int t_capacity(lua_State *L) {
  dl_trace *t = checktrace(L, NULL);
  lua_Integer n = luaL_checkinteger(L, 2);
  luaL_argcheck(L, n >= 0 && (uint64_t)n <= DL_TRACE_MAX_CAPACITY, 2,
                lua_pushfstring(L, "capacity must be 0 (all) to %I records", (lua_Integer)DL_TRACE_MAX_CAPACITY));
  int rc = dl_trace_set_capacity(t, (size_t)n);
  if (rc) return ldl_statuserror(L, 2, rc, NULL);
  return 0;
}

/* m:trace_event(obj, a, b): a record of the script's own (kind "user"). */
static int t_event(lua_State *L) {
  lmachine *lm;
  checktrace(L, &lm);
  dl_trace_emit(lm->m, DL_TR_USER, (uint64_t)luaL_optinteger(L, 2, 0),
                (uint64_t)luaL_optinteger(L, 3, 0), (uint64_t)luaL_optinteger(L, 4, 0));
  return 0;
}

/* Sets t[name] = v (an integer). */
static void setint(lua_State *L, const char *name, uint64_t v) {
  lua_pushinteger(L, (lua_Integer)v);
  lua_setfield(L, -2, name);
}

static void setnum(lua_State *L, const char *name, double v) {
  lua_pushnumber(L, v);
  lua_setfield(L, -2, name);
}

/* One latency phase: a table {count, min, max, mean, p50, p90, p99,
** histogram = { {lo=, hi=, count=}, ... }}, plus flat fields p50_<name>,
** p90_, p99_, max_, mean_ in the result at -2. */
static void push_phase(lua_State *L, dl_runstats *rs, dl_phase p) {
  dl_dist d;
  dl_runstats_latency(rs, p, &d);
  double mean = d.count ? (double)d.sum / (double)d.count : 0.0;
  const char *name = dl_phase_name(p);
  struct { const char *key; uint64_t v; } flat[] = {
    {"p50_", d.p50}, {"p90_", d.p90}, {"p99_", d.p99}, {"max_", d.max},
  };
  char key[48];
  for (size_t i = 0; i < sizeof flat / sizeof flat[0]; i++) {
    snprintf(key, sizeof key, "%s%s", flat[i].key, name);
    setint(L, key, flat[i].v);
  }
  snprintf(key, sizeof key, "mean_%s", name);
  setnum(L, key, mean);
  lua_createtable(L, 0, 8);
  setint(L, "count", d.count);
  setint(L, "min", d.min);
  setint(L, "max", d.max);
  setint(L, "p50", d.p50);
  setint(L, "p90", d.p90);
  setint(L, "p99", d.p99);
  setnum(L, "mean", mean);
  uint64_t counts[DL_HIST_POW2];
  size_t used = dl_runstats_histogram(rs, p, counts);
  lua_createtable(L, (int)used, 0);
  lua_Integer n = 0;
  for (size_t k = 0; k < used; k++) {
    if (!counts[k]) continue;
    lua_createtable(L, 0, 3);
    setint(L, "lo", k ? UINT64_C(1) << (k - 1) : 0);
    setint(L, "hi", k ? (k < 64 ? (UINT64_C(1) << k) - 1 : UINT64_MAX) : 0);
    setint(L, "count", counts[k]);
    lua_rawseti(L, -2, ++n);
  }
  lua_setfield(L, -2, "histogram");
  lua_setfield(L, -2, name);
}

/* The gauges: <name>_max and <name>_mean for each. */
static void push_gauges(lua_State *L, dl_runstats *rs, uint64_t now) {
  for (int g = 0; g < DL_G_COUNT; g++) {
    char key[48];
    snprintf(key, sizeof key, "%s_max", dl_gauge_name((dl_gauge)g));
    setint(L, key, dl_runstats_gauge_max(rs, (dl_gauge)g));
    snprintf(key, sizeof key, "%s_mean", dl_gauge_name((dl_gauge)g));
    setnum(L, key, dl_runstats_gauge_mean(rs, (dl_gauge)g, now));
  }
}

/* m:run_stats() -> the run's statistics (printing it shows a table). */
static int t_stats(lua_State *L) {
  lmachine *lm;
  dl_trace *t = checktrace(L, &lm);
  const dl_stats *s = dl_trace_stats(t);
  dl_runstats *rs = dl_trace_runstats(t);
  uint64_t now = dl_clock_now(dl_machine_clock(lm->m));
  struct { const char *name; uint64_t v; } f[] = {
    {"requests", s->requests}, {"requests_failed", s->requests_failed},
    {"transfers", s->transfers}, {"bytes_moved", s->bytes_moved},
    {"bytes_bounced", s->bytes_bounced}, {"interrupts", s->interrupts},
    {"interrupts_unclaimed", s->interrupts_unclaimed}, {"isrs", s->isrs}, {"dpcs", s->dpcs},
    {"dpc_latency_min", s->dpcs ? s->dpc_latency_min : 0},
    {"dpc_latency_median", dl_stats_dpc_latency_median(t)},
    {"dpc_latency_max", s->dpc_latency_max}, {"channel_waits", s->channel_waits},
    {"channel_wait_ns", s->channel_wait_ns},
    {"map_registers_high_water", s->map_registers_high_water},
    {"map_registers_in_use", s->map_registers_in_use}, {"time", now},
    {"events", dl_trace_emitted(t)},
  };
  lua_createtable(L, 0, 80);
  for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) setint(L, f[i].name, f[i].v);
  setnum(L, "map_registers_mean", dl_stats_map_registers_mean(t, now));
  double secs = (double)now / 1e9, req = (double)s->requests;
  setnum(L, "throughput", now ? (double)s->bytes_moved / secs : 0.0);
  setnum(L, "requests_per_s", now ? req / secs : 0.0);
  setnum(L, "interrupts_per_request", req ? (double)s->interrupts / req : 0.0);
  setnum(L, "dpcs_per_request", req ? (double)s->dpcs / req : 0.0);
  setnum(L, "bounced_per_request", req ? (double)s->bytes_bounced / req : 0.0);
  push_gauges(L, rs, now);
  for (int p = 0; p < DL_LAT_COUNT; p++) push_phase(L, rs, (dl_phase)p);
  luaL_setmetatable(L, "dma.run_stats");
  return 1;
}

/* Appends "name  value unit" lines for a run_stats table at idx. */
static void add_line(luaL_Buffer *b, lua_State *L, int idx, const char *label, const char *key,
                     const char *unit, double scale) {
  lua_getfield(L, idx, key);
  double v = lua_tonumber(L, -1) / scale;
  lua_pop(L, 1);
  char line[120];
  if (v == (double)(int64_t)v && scale == 1)
    snprintf(line, sizeof line, "  %-28s %14lld %s\n", label, (long long)v, unit);
  else
    snprintf(line, sizeof line, "  %-28s %14.3f %s\n", label, v, unit);
  luaL_addstring(b, line);
}

/* __tostring of m:run_stats(): a readable table. */
static int rs_tostring(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  const int t = 1;
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  luaL_addstring(&b, "run statistics\n");
  add_line(&b, L, t, "simulated time", "time", "us", 1000);
  add_line(&b, L, t, "requests (failed)", "requests", "", 1);
  add_line(&b, L, t, "  failed", "requests_failed", "", 1);
  add_line(&b, L, t, "throughput", "throughput", "MB/s", 1e6);
  add_line(&b, L, t, "requests per second", "requests_per_s", "/s", 1);
  add_line(&b, L, t, "transfers", "transfers", "", 1);
  add_line(&b, L, t, "bytes moved", "bytes_moved", "B", 1);
  add_line(&b, L, t, "bytes bounced", "bytes_bounced", "B", 1);
  add_line(&b, L, t, "interrupts per request", "interrupts_per_request", "", 1);
  add_line(&b, L, t, "DPCs per request", "dpcs_per_request", "", 1);
  add_line(&b, L, t, "map registers: high-water", "map_registers_max", "", 1);
  add_line(&b, L, t, "map registers: mean", "map_registers_mean", "", 1);
  add_line(&b, L, t, "DPC queue depth: max", "dpc_queue_max", "", 1);
  add_line(&b, L, t, "DPC queue depth: mean", "dpc_queue_mean", "", 1);
  add_line(&b, L, t, "bytes in flight: max", "bytes_in_flight_max", "B", 1);
  add_line(&b, L, t, "DPC latency: median", "dpc_latency_median", "us", 1000);
  luaL_addstring(&b, "  request latency (us)            mean       p50       p90       p99       max\n");
  for (int p = 0; p < DL_LAT_COUNT; p++) {
    const char *name = dl_phase_name((dl_phase)p);
    lua_getfield(L, t, name);
    double v[5];
    const char *keys[5] = {"mean", "p50", "p90", "p99", "max"};
    for (int k = 0; k < 5; k++) {
      lua_getfield(L, -1 - k, keys[k]);
      v[k] = lua_tonumber(L, -1) / 1000.0;
    }
    lua_pop(L, 6);
    char line[160];
    snprintf(line, sizeof line, "    %-26s %9.3f %9.3f %9.3f %9.3f %9.3f\n",
             p == DL_LAT_TOTAL ? "total" : name, v[0], v[1], v[2], v[3], v[4]);
    luaL_addstring(&b, line);
  }
  luaL_pushresult(&b);
  return 1;
}

/* m:stats_series() -> { width = ns, t = {...}, <gauge> = {means}, <gauge>_max = {...} }:
** the gauges over time, in at most 512 bins. */
static int t_series(lua_State *L) {
  lmachine *lm;
  dl_trace *t = checktrace(L, &lm);
  dl_runstats *rs = dl_trace_runstats(t);
  uint64_t now = dl_clock_now(dl_machine_clock(lm->m)), width = 0;
  dl_sample *buf = lua_newuserdatauv(L, DL_SERIES_BINS * sizeof *buf, 0);
  lua_createtable(L, 0, 2 * DL_G_COUNT + 2);
  for (int g = 0; g < DL_G_COUNT; g++) {
    size_t n = dl_runstats_series(rs, (dl_gauge)g, now, buf, DL_SERIES_BINS, &width);
    if (g == 0) {
      lua_createtable(L, (int)n, 0);
      for (size_t i = 0; i < n; i++) {
        lua_pushinteger(L, (lua_Integer)buf[i].start);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
      }
      lua_setfield(L, -2, "t");
    }
    lua_createtable(L, (int)n, 0);
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
      lua_pushnumber(L, buf[i].mean);
      lua_rawseti(L, -3, (lua_Integer)i + 1);
      lua_pushinteger(L, (lua_Integer)buf[i].max);
      lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    char key[48];
    snprintf(key, sizeof key, "%s_max", dl_gauge_name((dl_gauge)g));
    lua_setfield(L, -3, key);
    lua_setfield(L, -2, dl_gauge_name((dl_gauge)g));
  }
  setint(L, "width", width);
  setint(L, "time", now);
  return 1;
}

/* Raises the error for a file that could not be written. */
static int file_result(lua_State *L, int rc, const char *path) {
  if (rc == DL_EIO) return luaL_error(L, "cannot write %s", path);
  if (rc) return ldl_statuserror(L, 2, rc, NULL);
  lua_pushstring(L, path);
  return 1;
}

/* m:export_trace(path) -> path: the records kept, as Chrome trace-event JSON. */
static int t_export_trace(lua_State *L) {
  dl_trace *t = checktrace(L, NULL);
  const char *path = luaL_checkstring(L, 2);
  return file_result(L, dl_trace_export_chrome(t, path), path);
}

/* m:export_vcd(path) -> path: the records kept, as VCD. */
static int t_export_vcd(lua_State *L) {
  dl_trace *t = checktrace(L, NULL);
  const char *path = luaL_checkstring(L, 2);
  return file_result(L, dl_trace_export_vcd(t, path), path);
}

static const luaL_Reg methods[] = {
  {"trace", t_trace},
  {"timeline", t_timeline},
  {"trace_hash", t_hash},
  {"trace_capacity", t_capacity},
  {"trace_event", t_event},
  {"run_stats", t_stats},
  {"stats_series", t_series},
  {"export_trace", t_export_trace},
  {"export_vcd", t_export_vcd},
  {NULL, NULL}
};

/* Adds the trace methods to the machine class. */
void ldl_open_trace(lua_State *L) {
  ldl_addmethods(L, LDL_MACHINE, methods);
  luaL_newmetatable(L, "dma.run_stats");
  lua_pushcfunction(L, rs_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pop(L, 1);
}
