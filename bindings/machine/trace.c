/*
** trace.c: the machine's trace and run statistics in Lua: m:trace(),
** m:timeline(), m:trace_hash(), m:run_stats(), m:trace_event().
*/
#include <stdio.h>
#include <string.h>

#include "hal/dl_adapter.h"
#include "hal/dl_swiotlb.h"
#include "machine/dl_trace.h"
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
  luaL_argcheck(L, n >= 0, 2, "capacity must not be negative");
  if (dl_trace_set_capacity(t, (size_t)n)) return luaL_error(L, "out of memory");
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

/* m:run_stats() -> the run's statistics. */
static int t_stats(lua_State *L) {
  lmachine *lm;
  dl_trace *t = checktrace(L, &lm);
  const dl_stats *s = dl_trace_stats(t);
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
  lua_createtable(L, 0, (int)(sizeof f / sizeof f[0]) + 1);
  for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
    lua_pushinteger(L, (lua_Integer)f[i].v);
    lua_setfield(L, -2, f[i].name);
  }
  lua_pushnumber(L, dl_stats_map_registers_mean(t, now));
  lua_setfield(L, -2, "map_registers_mean");
  return 1;
}

static const luaL_Reg methods[] = {
  {"trace", t_trace},
  {"timeline", t_timeline},
  {"trace_hash", t_hash},
  {"trace_capacity", t_capacity},
  {"trace_event", t_event},
  {"run_stats", t_stats},
  {NULL, NULL}
};

/* Adds the trace methods to the machine class. */
void ldl_open_trace(lua_State *L) {
  ldl_addmethods(L, LDL_MACHINE, methods);
}
