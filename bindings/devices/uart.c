/*
** uart.c: the UART peripheral from Lua: m:uart{...} makes one (a handle of
** the "device model" class: hw.device, hw.resources, registers through
** MmMapIoSpace as for any model), hw:connect_dma(controller, {tx=, rx=})
** puts its DMA requests on the controller's lines, hw:receive(bytes) sends
** it bytes over the wire, hw:sent() is what it sent, hw:uart_stats() its
** counters; dma.uart_registers is its register map.
*/
#include <string.h>

#include "base/dl_status.h"
#include "devices/dl_uart.h"
#include "kernel/dl_interrupt.h"
#include "machine/dl_machine.h"
#include "machine/dl_object.h"
#include "../ldl.h"

/* An integer option from lo to hi (def when absent). */
static lua_Integer opt_int(lua_State *L, int arg, const char *name, lua_Integer def,
                           lua_Integer lo, lua_Integer hi) {
  int t = lua_getfield(L, arg, name), ok = 1;
  lua_Integer v = def;
  if (t != LUA_TNIL) {
    v = lua_tointegerx(L, -1, &ok);
    if (!ok || v < lo || v > hi)
      luaL_argerror(L, arg, lua_pushfstring(L, "field '%s' must be an integer from %I to %I", name, lo, hi));
  }
  lua_pop(L, 1);
  return v;
}

/* m:uart{ name=, vector=16, irql=5, baud=115200, fifo=16, wire_max=1048576 } -> device model */
static int m_uart(lua_State *L) {
  lmachine *lm = ldl_checkmachine(L, 1);
  if (lua_isnoneornil(L, 2)) {
    lua_settop(L, 1);
    lua_newtable(L);
  }
  luaL_checktype(L, 2, LUA_TTABLE);
  static const char *const keys[] = {"name", "vector", "irql", "baud", "fifo", "wire_max", NULL};
  ldl_checkoptions(L, 2, "m:uart", keys);
  dl_uart_config cfg;
  dl_uart_config_init(&cfg);
  cfg.baud = (uint32_t)opt_int(L, 2, "baud", cfg.baud, 1, 100000000);
  cfg.fifo = (uint32_t)opt_int(L, 2, "fifo", cfg.fifo, 1, 4096);
  cfg.wire_max = (uint32_t)opt_int(L, 2, "wire_max", cfg.wire_max, 0, UINT32_MAX);
  lua_Integer vector = opt_int(L, 2, "vector", 16, 0, DL_MAX_VECTORS - 1);
  lua_Integer irql = opt_int(L, 2, "irql", 5, 3, 15);
  lua_getfield(L, 2, "name");
  if (!lua_isnil(L, -1) && !lua_isstring(L, -1)) luaL_argerror(L, 2, "field 'name' must be a string");
  const char *name = lua_isnil(L, -1) ? "uart" : lua_tostring(L, -1);
  dl_uart *u;
  int rc = dl_uart_new(lm->m, name, (uint32_t)vector, (uint8_t)irql, &cfg, &u);
  if (rc) return ldl_statuserror(L, 2, rc, NULL);
  ldl_pushobject(L, LDL_MODEL, DL_OBJECT(dl_uart_model(u)));
  return 1;
}

static dl_uart *checkuart(lua_State *L) {
  lobject *h = ldl_checkobject(L, 1, LDL_MODEL, "device model");
  dl_uart *u = dl_uart_of(h->obj);
  if (!u) luaL_argerror(L, 1, "a UART expected (made by m:uart{}), got another device model");
  return u;
}

/* A request line option (nil: none). */
static uint32_t line_opt(lua_State *L, int arg, const char *name) {
  lua_Integer v = opt_int(L, arg, name, -1, 0, 63);
  return v < 0 ? DL_UART_NO_LINE : (uint32_t)v;
}

/* hw:connect_dma(controller, { tx = line, rx = line }); hw:connect_dma(nil) disconnects */
static int u_connect_dma(lua_State *L) {
  dl_uart *u = checkuart(L);
  dl_sysdma *c = NULL;
  uint32_t tx = DL_UART_NO_LINE, rx = DL_UART_NO_LINE;
  if (!lua_isnoneornil(L, 2)) {
    c = ldl_checkobject(L, 2, "system DMA controller", "system DMA controller")->obj;
    luaL_checktype(L, 3, LUA_TTABLE);
    static const char *const keys[] = {"tx", "rx", NULL};
    ldl_checkoptions(L, 3, "hw:connect_dma", keys);
    tx = line_opt(L, 3, "tx");
    rx = line_opt(L, 3, "rx");
  }
  lmachine *lm = ((lobject *)lua_touserdata(L, 1))->owner;
  ldl_call call;
  ldl_enter(L, lm, &call);
  int rc = dl_uart_connect(u, c, tx, rx);
  ldl_leave(L, &call);
  if (rc == DL_EBUSY) return luaL_argerror(L, 3, "a request line is taken by another peripheral");
  if (rc) return luaL_argerror(L, 3, "lines the controller has, tx and rx different");
  return 0;
}

/* hw:receive(bytes): the bytes arrive on the wire, one per character time */
static int u_receive(lua_State *L) {
  dl_uart *u = checkuart(L);
  size_t n;
  const char *s = luaL_checklstring(L, 2, &n);
  if (dl_uart_receive(u, (const uint8_t *)s, n)) return luaL_error(L, "hw:receive: out of host memory");
  return 0;
}

/* hw:sent() -> string: every byte the UART put on the wire */
static int u_sent(lua_State *L) {
  size_t n;
  const uint8_t *b = dl_uart_sent(checkuart(L), &n);
  lua_pushlstring(L, n ? (const char *)b : "", n);
  return 1;
}

/* hw:uart_stats() -> { sent=, received=, rx_overruns=, tx_dropped=, dma_put=,
** dma_get=, terminal_counts=, char_ns=, last_sent_at= } */
static int u_stats(lua_State *L) {
  dl_uart *u = checkuart(L);
  dl_uart_stats st;
  dl_uart_stats_get(u, &st);
  ldl_int f[] = {{"sent", st.sent}, {"received", st.received}, {"rx_overruns", st.rx_overruns},
                 {"tx_dropped", st.tx_dropped}, {"dma_put", st.dma_put}, {"dma_get", st.dma_get},
                 {"terminal_counts", st.terminal_counts}, {"char_ns", dl_uart_char_ns(u)},
                 {"last_sent_at", dl_uart_last_sent_at(u)},
                 {"fifo_address", dl_devmodel_bar(dl_uart_model(u)) + DL_UART_DATA}};
  ldl_pushints(L, f, sizeof f / sizeof f[0], 0);
  return 1;
}

/* Pushes one DMA resource: { channel=, port=0, request_line=, controller= }. */
static void push_dma(lua_State *L, dl_sysdma *c, uint32_t line) {
  lua_createtable(L, 0, 4);
  ldl_setint(L, "channel", line);
  ldl_setint(L, "port", 0);
  ldl_setint(L, "request_line", line);
  lua_pushstring(L, dl_sysdma_name(c));
  lua_setfield(L, -2, "controller");
}

/* Sets resources.dma of the table at -1 for a UART connected to a system
** DMA controller: { tx = {...}, rx = {...} } (the lines it raises DREQ on);
** nothing for other models. */
void ldl_uart_resources(lua_State *L, const dl_devmodel *dm) {
  dl_uart *u = dl_uart_of(dm);
  uint32_t tx, rx;
  dl_sysdma *c = u ? dl_uart_controller(u, &tx, &rx) : NULL;
  if (!c) return;
  lua_createtable(L, 0, 2);
  if (tx != DL_UART_NO_LINE) {
    push_dma(L, c, tx);
    lua_setfield(L, -2, "tx");
  }
  if (rx != DL_UART_NO_LINE) {
    push_dma(L, c, rx);
    lua_setfield(L, -2, "rx");
  }
  lua_setfield(L, -2, "dma");
}

/* The register map (a space after each brace: not WDK globals, see busmaster.c). */
static const struct { const char *name; lua_Integer value; } registers[] = {
  { "DATA", DL_UART_DATA }, { "STATUS", DL_UART_STATUS }, { "CONTROL", DL_UART_CONTROL },
  { "BAUD", DL_UART_BAUD }, { "TX_LEVEL", DL_UART_TX_LEVEL }, { "RX_LEVEL", DL_UART_RX_LEVEL },
  { "TX_EMPTY", DL_UART_TX_EMPTY }, { "TX_FULL", DL_UART_TX_FULL }, { "RX_READY", DL_UART_RX_READY },
  { "RX_OVERRUN", DL_UART_RX_OVERRUN }, { "TX_TC", DL_UART_TX_TC }, { "RX_TC", DL_UART_RX_TC },
  { "TX_DMA", DL_UART_TX_DMA }, { "RX_DMA", DL_UART_RX_DMA }, { "IRQ_TC", DL_UART_IRQ_TC },
  { "IRQ_RX", DL_UART_IRQ_RX },
};

/* Registers m:uart, the UART methods of the model class and dma.uart_registers. */
void ldl_open_uart(lua_State *L) {
  static const luaL_Reg machine_methods[] = {{"uart", m_uart}, {NULL, NULL}};
  ldl_addmethods(L, LDL_MACHINE, machine_methods);
  static const luaL_Reg methods[] = {
    {"connect_dma", u_connect_dma}, {"receive", u_receive}, {"sent", u_sent},
    {"uart_stats", u_stats}, {NULL, NULL}
  };
  ldl_addmethods(L, LDL_MODEL, methods);
  lua_createtable(L, 0, (int)(sizeof registers / sizeof registers[0]));
  for (size_t i = 0; i < sizeof registers / sizeof registers[0]; i++) {
    lua_pushinteger(L, registers[i].value);
    lua_setfield(L, -2, registers[i].name);
  }
  lua_setfield(L, -2, "uart_registers");
}
