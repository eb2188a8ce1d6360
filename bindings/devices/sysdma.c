/*
** sysdma.c: system DMA controllers from Lua: m:isa_dma() (the machine's
** 8237 pair, made on first use) and m:soc_dma{...} (an SoC controller
** instance), with c:counter(ch), c:address(ch), c:masked(ch), c:mask(ch, b),
** c:program(ch, {...}), c:stats() and, on the ISA one, c:port_read(port) /
** c:port_write(port, value) as the HAL reaches the 8237.
*/
#include <string.h>

#include "base/dl_status.h"
#include "hal/dl_dmac8237.h"
#include "hal/dl_socdma.h"
#include "hal/dl_sysdma.h"
#include "machine/dl_object.h"
#include "../ldl.h"

#define LDL_SYSDMA "system DMA controller"

static dl_sysdma *checkctrl(lua_State *L, int arg) {
  return ldl_checkobject(L, arg, LDL_SYSDMA, "system DMA controller")->obj;
}

/* A channel number argument of controller c. */
static uint32_t checkchannel(lua_State *L, dl_sysdma *c, int arg) {
  uint64_t ch = ldl_checkuint(L, arg);
  if (ch >= dl_sysdma_channels(c))
    luaL_argerror(L, arg, lua_pushfstring(L, "channel %d expected from 0 to %d", (int)ch,
                                          (int)dl_sysdma_channels(c) - 1));
  return (uint32_t)ch;
}

/* m:isa_dma() -> the ISA controller */
static int m_isa_dma(lua_State *L) {
  lmachine *lm = ldl_checkmachine(L, 1);
  dl_sysdma *c = dl_dmac8237_of(lm->m);
  if (!c) return luaL_error(L, "m:isa_dma: out of host memory");
  ldl_pushobject(L, LDL_SYSDMA, DL_OBJECT(c));
  return 1;
}

/* An integer option from 0 to max (def when absent). */
static uint64_t opt_uint(lua_State *L, int arg, const char *name, uint64_t def, uint64_t max) {
  int t = lua_getfield(L, arg, name), ok = 1;
  uint64_t v = def;
  if (t != LUA_TNIL) {
    lua_Integer i = lua_tointegerx(L, -1, &ok);
    if (!ok || i < 0 || (uint64_t)i > max)
      luaL_argerror(L, arg, lua_pushfstring(L, "field '%s' must be an integer from 0 to %I", name,
                                            (lua_Integer)max));
    v = (uint64_t)i;
  }
  lua_pop(L, 1);
  return v;
}

/* m:soc_dma{ instance=0, channels=8, lines=32, cycle_ns=100, scatter_gather=false,
** max_elements=16 } -> controller */
static int m_soc_dma(lua_State *L) {
  lmachine *lm = ldl_checkmachine(L, 1);
  if (lua_isnoneornil(L, 2)) {
    lua_settop(L, 1);
    lua_newtable(L);
  }
  luaL_checktype(L, 2, LUA_TTABLE);
  static const char *const keys[] = {"instance", "channels", "lines", "cycle_ns", "scatter_gather",
                                     "max_elements", NULL};
  ldl_checkoptions(L, 2, "m:soc_dma", keys);
  uint32_t inst = (uint32_t)opt_uint(L, 2, "instance", 0, 255);
  uint32_t nch = (uint32_t)opt_uint(L, 2, "channels", 8, 64);
  uint32_t nl = (uint32_t)opt_uint(L, 2, "lines", 32, 64);
  uint64_t cyc = opt_uint(L, 2, "cycle_ns", 100, UINT32_MAX);
  int sg = lua_getfield(L, 2, "scatter_gather") != LUA_TNIL && lua_toboolean(L, -1);
  lua_pop(L, 1);
  uint32_t max_el = (uint32_t)opt_uint(L, 2, "max_elements", sg ? 16 : 1, DL_SYSDMA_MAX_ELEMENTS);
  if (!sg && max_el != 1) luaL_argerror(L, 2, "field 'max_elements' needs scatter_gather = true");
  if (sg && max_el < 2) luaL_argerror(L, 2, lua_pushfstring(L, "field 'max_elements' must be from 2 to %d",
                                                           (int)DL_SYSDMA_MAX_ELEMENTS));
  dl_sysdma *c;
  int rc = dl_socdma_new(lm->m, inst, nch, nl, cyc, &c);
  if (rc == DL_EBUSY) return luaL_argerror(L, 2, "the machine has that controller instance already");
  if (rc) return ldl_statuserror(L, 2, rc, "channels and lines from 1 to 64, cycle_ns above 0");
  if (sg && (rc = dl_sysdma_set_max_elements(c, max_el))) {
    dl_sysdma_free(c);
    return ldl_statuserror(L, 2, rc, "max_elements");
  }
  ldl_pushobject(L, LDL_SYSDMA, DL_OBJECT(c));
  return 1;
}

/* c:counter(ch) -> bytes the channel has still to move */
static int c_counter(lua_State *L) {
  dl_sysdma *c = checkctrl(L, 1);
  uint32_t ch = checkchannel(L, c, 2);
  const dl_sysdma_xfer *x = dl_sysdma_programmed(c, ch);
  lua_pushinteger(L, dl_dmac8237_is(c) ? (lua_Integer)dl_dmac8237_read_counter(c, ch)
                                       : (lua_Integer)dl_sysdma_remaining(c, ch) * (x ? x->unit : 1));
  return 1;
}

/* c:address(ch) -> the channel's current physical address */
static int c_address(lua_State *L) {
  dl_sysdma *c = checkctrl(L, 1);
  lua_pushinteger(L, (lua_Integer)dl_sysdma_current(c, checkchannel(L, c, 2)));
  return 1;
}

/* c:masked(ch) -> boolean */
static int c_masked(lua_State *L) {
  dl_sysdma *c = checkctrl(L, 1);
  lua_pushboolean(L, dl_sysdma_masked(c, checkchannel(L, c, 2)));
  return 1;
}

/* c:mask(ch, masked) */
static int c_mask(lua_State *L) {
  dl_sysdma *c = checkctrl(L, 1);
  uint32_t ch = checkchannel(L, c, 2);
  int masked = ldl_checkbool(L, 3);
  lmachine *lm = ((lobject *)lua_touserdata(L, 1))->owner;
  ldl_call call;
  ldl_enter(L, lm, &call);
  dl_sysdma_mask(c, ch, masked);
  ldl_leave(L, &call);
  return 0;
}

static const char *const program_keys[] = {"address", "count", "unit", "line", "to_device",
                                           "mode", "auto_init", "decrement", "boundary", "chain",
                                           NULL};

/* The `chain` field of c:program: { {address=, count=}, ... } into d (at
** most max); returns how many, 0 if absent. */
static uint32_t opt_chain(lua_State *L, int arg, dl_sysdma_desc *d, uint32_t max) {
  if (lua_getfield(L, arg, "chain") == LUA_TNIL) {
    lua_pop(L, 1);
    return 0;
  }
  int t = lua_gettop(L);
  lua_Integer n = lua_istable(L, t) ? luaL_len(L, t) : 0;
  if (n < 1 || (uint64_t)n > max)
    luaL_argerror(L, arg, lua_pushfstring(L, "field 'chain' must be a list of 1 to %d {address=, count=} "
                                             "(the controller's max_elements)", (int)max));
  for (lua_Integer i = 1; i <= n; i++) {
    if (lua_geti(L, t, i) != LUA_TTABLE)
      luaL_argerror(L, arg, lua_pushfstring(L, "chain[%d] must be a table {address=, count=}", (int)i));
    static const char *const f[] = {"address", "count"};
    for (int k = 0; k < 2; k++) {
      int ok = 0;
      lua_getfield(L, -1, f[k]);
      lua_Integer v = lua_tointegerx(L, -1, &ok);
      if (!ok || v < 0 || (k && v > (lua_Integer)UINT32_MAX))
        luaL_argerror(L, arg, lua_pushfstring(L, "chain[%d].%s must be an integer from 0%s", (int)i,
                                              f[k], k ? " to 0xFFFFFFFF" : ""));
      if (k) d[i - 1].count = (uint32_t)v;
      else d[i - 1].address = (uint64_t)v;
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  return (uint32_t)n;
}

/* c:program(ch, { address=, count= (units), unit=1, line=ch, to_device=,
** mode="demand"|"single"|"block", auto_init=, decrement=, boundary=0 }):
** the channel's base and current registers; its mask is left alone. With
** chain = { {address=, count=}, ... } (a scatter/gather controller) the
** elements replace address and count. */
static int c_program(lua_State *L) {
  dl_sysdma *c = checkctrl(L, 1);
  uint32_t ch = checkchannel(L, c, 2);
  luaL_checktype(L, 3, LUA_TTABLE);
  ldl_checkoptions(L, 3, "c:program", program_keys);
  dl_sysdma_xfer x = {0};
  x.address = opt_uint(L, 3, "address", 0, UINT64_MAX >> 1);
  x.count = (uint32_t)opt_uint(L, 3, "count", 0, UINT32_MAX);
  x.unit = (uint32_t)opt_uint(L, 3, "unit", 1, 4);
  x.line = (uint32_t)opt_uint(L, 3, "line", ch, UINT32_MAX);
  x.boundary = opt_uint(L, 3, "boundary", 0, UINT64_MAX >> 1);
  static const char *const modes[] = {"demand", "single", "block", NULL};
  x.mode = DL_SYSDMA_DEMAND;
  if (lua_getfield(L, 3, "mode") != LUA_TNIL) {
    const char *mode = lua_tostring(L, -1);
    for (x.mode = 0; modes[x.mode] && (!mode || strcmp(mode, modes[x.mode])); x.mode++) {}
    if (!modes[x.mode]) luaL_argerror(L, 3, "field 'mode' must be \"demand\", \"single\" or \"block\"");
  }
  lua_pop(L, 1);
  const char *flags[] = {"to_device", "auto_init", "decrement"};
  int *dst[] = {&x.to_device, &x.auto_init, &x.decrement};
  for (int i = 0; i < 3; i++) {
    lua_getfield(L, 3, flags[i]);
    *dst[i] = lua_toboolean(L, -1);
    lua_pop(L, 1);
  }
  dl_sysdma_desc *chain = lua_newuserdatauv(L, sizeof *chain * dl_sysdma_max_elements(c), 0);
  uint32_t n = opt_chain(L, 3, chain, dl_sysdma_max_elements(c));
  lmachine *lm = ((lobject *)lua_touserdata(L, 1))->owner;
  ldl_call call;
  ldl_enter(L, lm, &call);
  int rc = n ? dl_sysdma_program_chain(c, ch, &x, chain, n) : dl_sysdma_program(c, ch, &x);
  ldl_leave(L, &call);
  if (rc) return luaL_argerror(L, 3, "count from 1 (each chain element's too), unit 1, 2 or 4, a "
                                     "line the controller has, boundary a power of two");
  return 0;
}

/* c:stats() -> { units=, bytes=, terminal_counts=, overruns=, wraps=, descriptors= } */
static int c_stats(lua_State *L) {
  const dl_sysdma_stats *st = dl_sysdma_get_stats(checkctrl(L, 1));
  ldl_int f[] = {{"units", st->units}, {"bytes", st->bytes},
                 {"terminal_counts", st->terminal_counts}, {"overruns", st->overruns},
                 {"wraps", st->wraps}, {"descriptors", st->descriptors}};
  ldl_pushints(L, f, sizeof f / sizeof f[0], 0);
  return 1;
}

static dl_sysdma *checkisa(lua_State *L) {
  dl_sysdma *c = checkctrl(L, 1);
  if (!dl_dmac8237_is(c)) luaL_argerror(L, 1, "the ISA controller (m:isa_dma()) expected: only the 8237 has I/O ports");
  return c;
}

static uint16_t checkport(lua_State *L, int arg) {
  uint64_t p = ldl_checkuint(L, arg);
  luaL_argcheck(L, p <= 0xFFFF, arg, "an I/O port from 0 to 0xFFFF expected");
  return (uint16_t)p;
}

/* c:port_write(port, byte): OUT to the 8237 or a page register */
static int c_port_write(lua_State *L) {
  dl_sysdma *c = checkisa(L);
  uint16_t port = checkport(L, 2);
  uint64_t v = ldl_checkuint(L, 3);
  luaL_argcheck(L, v <= 0xFF, 3, "a byte expected");
  lmachine *lm = ((lobject *)lua_touserdata(L, 1))->owner;
  ldl_call call;
  ldl_enter(L, lm, &call);
  int rc = dl_dmac8237_port_write(c, port, (uint8_t)v);
  ldl_leave(L, &call);
  if (rc) return luaL_argerror(L, 2, "not a port of the 8237s (0x00-0x0F, 0xC0-0xDE) or their page registers");
  return 0;
}

/* c:port_read(port) -> byte: IN from the 8237 or a page register */
static int c_port_read(lua_State *L) {
  dl_sysdma *c = checkisa(L);
  uint8_t v;
  if (dl_dmac8237_port_read(c, checkport(L, 2), &v))
    return luaL_argerror(L, 2, "not a port of the 8237s (0x00-0x0F, 0xC0-0xDE) or their page registers");
  lua_pushinteger(L, v);
  return 1;
}

/* Fields: name, channels, lines, max_elements, id, machine. */
static int c_index(lua_State *L) {
  const char *key = luaL_checkstring(L, 2);
  if (ldl_getmethod(L, lua_upvalueindex(1)) != LUA_TNIL) return 1;
  dl_sysdma *c = checkctrl(L, 1);
  if (!strcmp(key, "name")) lua_pushstring(L, dl_sysdma_name(c));
  else if (!strcmp(key, "channels")) lua_pushinteger(L, dl_sysdma_channels(c));
  else if (!strcmp(key, "lines")) lua_pushinteger(L, dl_sysdma_lines(c));
  else if (!strcmp(key, "max_elements")) lua_pushinteger(L, dl_sysdma_max_elements(c));
  else if (!strcmp(key, "id")) lua_pushinteger(L, (lua_Integer)DL_OBJECT(c)->id);
  else if (!strcmp(key, "machine")) ldl_pushowner(L, 1);
  else lua_pushnil(L);
  return 1;
}

static int c_tostring(lua_State *L) {
  dl_sysdma *c = checkctrl(L, 1);
  lua_pushfstring(L, "system DMA controller %s (%d channels)", dl_sysdma_name(c),
                  (int)dl_sysdma_channels(c));
  return 1;
}

/* Registers the controller class and m:isa_dma, m:soc_dma. */
void ldl_open_sysdma(lua_State *L) {
  static const luaL_Reg meta[] = {{"__tostring", c_tostring}, {NULL, NULL}};
  static const luaL_Reg methods[] = {
    {"counter", c_counter}, {"address", c_address}, {"masked", c_masked}, {"mask", c_mask},
    {"program", c_program}, {"stats", c_stats}, {"port_read", c_port_read},
    {"port_write", c_port_write}, {NULL, NULL}
  };
  ldl_newclass(L, LDL_SYSDMA, meta, methods, c_index);
  static const char *const fields[] = {"name", "channels", "lines", "max_elements", "id", "machine",
                                       NULL};
  ldl_setfields(L, LDL_SYSDMA, fields);
  static const luaL_Reg machine_methods[] = {{"isa_dma", m_isa_dma}, {"soc_dma", m_soc_dma}, {NULL, NULL}};
  ldl_addmethods(L, LDL_MACHINE, machine_methods);
}
