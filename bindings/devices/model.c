/*
** model.c: device models written in Lua (m:device_model{...}): memory
** BARs, I/O-port ranges and interrupts, the handlers their accesses call,
** the lines they drive, DMA by logical address. The driver's side of the
** registers is in mmio.c and ioport.c, the resources in resources.c.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/dl_devmodel.h"
#include "kernel/dl_interrupt.h"
#include "base/dl_status.h"
#include "machine/dl_object.h"
#include "../ldl.h"

#define checkmodel(L, i) ((dl_devmodel *)ldl_checkobject(L, i, LDL_MODEL, "device model")->obj)

/* Slots of a model's state table: the model's read and write handlers (1,
** 2), then a read/write pair for each BAR and each port range, which wins
** over the model's. */
#define SLOT_BAR(i) (3 + 2 * (int)(i))
#define SLOT_PORT(i) (SLOT_BAR(DL_DEVMODEL_MAX_BARS) + 2 * (int)(i))

/* Pushes the handler of an access (write: 1) to `space` range `index`;
** returns 0 (nothing pushed) if there is none. */
static int push_handler(lua_State *L, int state, dl_space space, unsigned index, int write) {
  int slot = (space == DL_SPACE_MEMORY ? SLOT_BAR(index) : SLOT_PORT(index)) + write;
  if (lua_rawgeti(L, state, slot) == LUA_TFUNCTION) return 1;
  lua_pop(L, 1);
  if (lua_rawgeti(L, state, 1 + write) == LUA_TFUNCTION) return 1;
  lua_pop(L, 1);
  return 0;
}

/* Calls a Lua handler of a model: read(model, offset, size, space, index)
** or write(model, offset, size, value, space, index), space "memory" or
** "port", index the range's position in bars or ports (from 1). */
static int call_handler(dl_devmodel *dm, dl_space space, unsigned index, int write,
                        uint64_t offset, uint32_t size, uint64_t value, uint64_t *result) {
  lmachine *lm = dl_machine_data(dm->m);
  lua_State *L = lm->L;
  ldl_pushobject(L, LDL_MODEL, DL_OBJECT(dm));     /* model */
  ldl_pushstate(L, -1);                            /* model, state */
  if (!push_handler(L, lua_gettop(L), space, index, write)) {
    lua_pop(L, 2);
    return 0;
  }
  lua_replace(L, -2);                              /* model, handler */
  lua_insert(L, -2);                               /* handler, model */
  lua_pushinteger(L, (lua_Integer)offset);
  lua_pushinteger(L, (lua_Integer)size);
  if (write) lua_pushinteger(L, (lua_Integer)value);
  lua_pushstring(L, space == DL_SPACE_MEMORY ? "memory" : "port");
  lua_pushinteger(L, (lua_Integer)index + 1);
  if (!ldl_callback(L, lm, write ? 6 : 5, result ? 1 : 0)) return 0;
  if (result) {
    *result = (uint64_t)lua_tointeger(L, -1);
    lua_pop(L, 1);
  }
  return 1;
}

static uint64_t lua_model_read(void *ctx, dl_space space, unsigned index, uint64_t offset, uint32_t size) {
  uint64_t v = 0;
  call_handler(ctx, space, index, 0, offset, size, 0, &v);
  return v;
}

static void lua_model_write(void *ctx, dl_space space, unsigned index, uint64_t offset, uint32_t size,
                            uint64_t value) {
  call_handler(ctx, space, index, 1, offset, size, value, NULL);
}

static const dl_devmodel_ops lua_model_ops = {lua_model_read, lua_model_write, NULL};

/* Reads an integer option of the table at arg (def if absent); sizes may
** be strings ("4K"). `what` names the table in errors. */
static lua_Integer int_option(lua_State *L, int arg, const char *what, const char *name, lua_Integer def) {
  lua_getfield(L, arg, name);
  lua_Integer v = def;
  if (!lua_isnil(L, -1)) {
    if (lua_type(L, -1) == LUA_TSTRING) v = (lua_Integer)ldl_checksize(L, lua_gettop(L));
    else {
      luaL_argcheck(L, lua_isinteger(L, -1), 2, lua_pushfstring(L, "%s'%s' must be an integer", what, name));
      v = lua_tointeger(L, -1);
    }
  }
  lua_pop(L, 1);
  return v;
}

/* Raises "bad argument #2 to 'device_model' (<what>unknown field 'k'
** (valid: ...))" for a key of the entry at idx not in valid. */
static void check_entry(lua_State *L, int idx, const char *what, const char *const valid[]) {
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    int ok = 0;
    for (size_t i = 0; valid[i] && !ok; i++)
      ok = lua_type(L, -1) == LUA_TSTRING && strcmp(lua_tostring(L, -1), valid[i]) == 0;
    if (!ok) {
      luaL_Buffer b;
      luaL_buffinit(L, &b);
      for (size_t i = 0; valid[i]; i++) {
        if (i) luaL_addstring(&b, ", ");
        luaL_addstring(&b, valid[i]);
      }
      luaL_pushresult(&b);                            /* key, valid */
      const char *key = luaL_tolstring(L, -2, NULL);  /* key, valid, key as text */
      luaL_argerror(L, 2, lua_pushfstring(L, "%sunknown field '%s' (valid: %s)", what, key, lua_tostring(L, -2)));
    }
  }
}

/* Checks a read/write field of the table at idx is nil or a function. */
static void check_fn(lua_State *L, int idx, const char *what, const char *name) {
  int t = lua_getfield(L, idx, name);
  luaL_argcheck(L, t == LUA_TNIL || t == LUA_TFUNCTION, 2, lua_pushfstring(L, "%s%s must be a function", what, name));
  lua_pop(L, 1);
}

/* Reads the list option `name` (bars, ports or interrupts) of the model's
** table: the number of entries (at most max); each entry checked by fn. */
static size_t read_list(lua_State *L, const char *name, size_t max,
                        void (*fn)(lua_State *L, int entry, const char *what, size_t i, dl_devmodel_config *cfg),
                        dl_devmodel_config *cfg) {
  lua_getfield(L, 2, name);
  luaL_argcheck(L, lua_istable(L, -1), 2, lua_pushfstring(L, "%s must be a list of tables", name));
  size_t n = (size_t)lua_rawlen(L, -1);
  luaL_argcheck(L, n <= max, 2, lua_pushfstring(L, "at most %d %s", (int)max, name));
  for (size_t i = 0; i < n; i++) {
    lua_rawgeti(L, -1, (lua_Integer)i + 1);
    const char *what = lua_pushfstring(L, "%s[%d]: ", name, (int)i + 1);
    luaL_argcheck(L, lua_istable(L, -2), 2, lua_pushfstring(L, "%smust be a table", what));
    fn(L, lua_gettop(L) - 1, what, i, cfg);
    lua_pop(L, 2);
  }
  lua_pop(L, 1);
  return n;
}

static void bar_entry(lua_State *L, int e, const char *what, size_t i, dl_devmodel_config *cfg) {
  static const char *const valid[] = {"size", "prefetchable", "read", "write", NULL};
  check_entry(L, e, what, valid);
  lua_Integer size = int_option(L, e, what, "size", 0);
  luaL_argcheck(L, size > 0 && size <= (INT64_C(1) << 40), 2, lua_pushfstring(L, "%ssize must be 1 .. 1T", what));
  cfg->bar_size[i] = (uint64_t)size;
  lua_getfield(L, e, "prefetchable");
  cfg->prefetchable[i] = (uint8_t)lua_toboolean(L, -1);
  lua_pop(L, 1);
  check_fn(L, e, what, "read");
  check_fn(L, e, what, "write");
}

static void port_entry(lua_State *L, int e, const char *what, size_t i, dl_devmodel_config *cfg) {
  static const char *const valid[] = {"size", "read", "write", NULL};
  check_entry(L, e, what, valid);
  lua_Integer size = int_option(L, e, what, "size", 0);
  luaL_argcheck(L, size > 0 && size <= DL_DEVMODEL_MAX_PORT_SIZE, 2,
                lua_pushfstring(L, "%ssize must be 1 .. 256 (a PCI I/O BAR)", what));
  cfg->port_size[i] = (uint64_t)size;
  check_fn(L, e, what, "read");
  check_fn(L, e, what, "write");
}

static void check_vector_irql(lua_State *L, const char *what, lua_Integer vector, lua_Integer irql) {
  luaL_argcheck(L, vector >= 0 && vector < DL_MAX_VECTORS, 2, lua_pushfstring(L, "%svector must be 0..255", what));
  luaL_argcheck(L, irql > 2 && irql <= 15, 2, lua_pushfstring(L, "%sirql must be a device IRQL (3..15)", what));
}

static void irq_entry(lua_State *L, int e, const char *what, size_t i, dl_devmodel_config *cfg) {
  static const char *const valid[] = {"vector", "irql", "mode", "message", NULL};
  check_entry(L, e, what, valid);
  lua_Integer vector = int_option(L, e, what, "vector", 16), irql = int_option(L, e, what, "irql", 5);
  check_vector_irql(L, what, vector, irql);
  lua_getfield(L, e, "mode");
  const char *mode = lua_isnil(L, -1) ? "level" : lua_tostring(L, -1);
  luaL_argcheck(L, mode && (strcmp(mode, "level") == 0 || strcmp(mode, "latched") == 0), 2,
                lua_pushfstring(L, "%smode must be \"level\" or \"latched\"", what));
  lua_getfield(L, e, "message");
  cfg->irq[i] = (dl_devmodel_irq){(uint32_t)vector, (uint8_t)irql, mode[0] == 'l' && mode[1] == 'a',
                                  (uint8_t)lua_toboolean(L, -1)};
  lua_pop(L, 2);
}

/* Reads the model's table at 2 into cfg. */
static void read_config(lua_State *L, dl_devmodel_config *cfg) {
  dl_devmodel_config_init(cfg);
  int has_bars = lua_getfield(L, 2, "bars") != LUA_TNIL, has_registers = lua_getfield(L, 2, "registers") != LUA_TNIL;
  int has_ports = lua_getfield(L, 2, "ports") != LUA_TNIL, has_irqs = lua_getfield(L, 2, "interrupts") != LUA_TNIL;
  int has_line = lua_getfield(L, 2, "vector") != LUA_TNIL || lua_getfield(L, 2, "irql") != LUA_TNIL;
  lua_settop(L, 2);
  luaL_argcheck(L, !(has_bars && has_registers), 2, "give registers (one BAR) or bars, not both");
  luaL_argcheck(L, !(has_irqs && has_line), 2, "give vector/irql (one interrupt) or interrupts, not both");
  if (has_bars) {
    cfg->nbars = read_list(L, "bars", DL_DEVMODEL_MAX_BARS, bar_entry, cfg);
  } else if (has_registers || !has_ports) {  /* a model without ports has its one BAR */
    lua_Integer size = int_option(L, 2, "", "registers", 4096);
    luaL_argcheck(L, size > 0, 2, "registers must be > 0");
    cfg->bar_size[0] = (uint64_t)size;
    cfg->nbars = 1;
  }
  if (has_ports) cfg->nports = read_list(L, "ports", DL_DEVMODEL_MAX_PORTS, port_entry, cfg);
  if (has_irqs) {
    cfg->nirqs = read_list(L, "interrupts", DL_DEVMODEL_MAX_INTERRUPTS, irq_entry, cfg);
  } else {
    lua_Integer vector = int_option(L, 2, "", "vector", 16), irql = int_option(L, 2, "", "irql", 5);
    check_vector_irql(L, "", vector, irql);
    cfg->irq[0] = (dl_devmodel_irq){(uint32_t)vector, (uint8_t)irql, 0, 0};
    cfg->nirqs = 1;
  }
}

/* Stores the handlers of list `name` (read and write of each entry) in the
** state table at -1 from slot `first`. */
static void keep_handlers(lua_State *L, const char *name, int first) {
  if (lua_getfield(L, 2, name) != LUA_TTABLE) {
    lua_pop(L, 1);
    return;
  }
  for (lua_Integer i = 1; i <= (lua_Integer)lua_rawlen(L, -1); i++) {
    lua_rawgeti(L, -1, i);
    lua_getfield(L, -1, "read");
    lua_rawseti(L, -4, first + 2 * (int)(i - 1));
    lua_getfield(L, -1, "write");
    lua_rawseti(L, -4, first + 2 * (int)(i - 1) + 1);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
}

/* m:device_model{ name=, registers= | bars=, ports=, vector=, irql= |
** interrupts=, read=fn, write=fn } -> model: hardware whose registers a
** Lua script implements: read(model, offset, size, space, index) -> value;
** write(model, offset, size, value, space, index). */
static int model_new(lua_State *L) {
  lmachine *lm = ldl_checkmachine(L, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_settop(L, 2);
  static const char *const options[] = {"name", "registers", "vector", "irql", "read", "write",
                                        "bars", "ports", "interrupts", NULL};
  ldl_checkoptions(L, 2, "m:device_model", options);
  check_fn(L, 2, "", "read");
  check_fn(L, 2, "", "write");
  dl_devmodel_config cfg;
  read_config(L, &cfg);
  lua_getfield(L, 2, "name");
  const char *name = lua_tostring(L, -1);
  dl_devmodel *dm;
  int rc = dl_devmodel_new_config(lm->m, name, &cfg, &lua_model_ops, NULL, &dm);
  if (rc == DL_ENOSPACE) return luaL_argerror(L, 2, "the I/O-port space (64 KiB) is full");
  if (rc) return ldl_statuserror(L, 2, rc, NULL);
  dl_devmodel_set_ctx(dm, dm);
  ldl_pushobject(L, LDL_MODEL, DL_OBJECT(dm));     /* name, model */
  ldl_pushstate(L, -1);                            /* its handlers live in its state */
  lua_getfield(L, 2, "read");
  lua_rawseti(L, -2, 1);
  lua_getfield(L, 2, "write");
  lua_rawseti(L, -2, 2);
  keep_handlers(L, "bars", SLOT_BAR(0));
  keep_handlers(L, "ports", SLOT_PORT(0));
  lua_pop(L, 1);
  return 1;
}

/* model:raise_interrupt([n]) / model:clear_interrupt([n]): drive the line
** of interrupt n (its position in `interrupts`, default 1). */
static int drive(lua_State *L, int asserted) {
  dl_devmodel *dm = checkmodel(L, 1);
  lua_Integer n = luaL_optinteger(L, 2, 1);
  luaL_argcheck(L, n >= 1 && (size_t)n <= dm->nirqs, 2,
                lua_pushfstring(L, "the model has %d interrupt(s)", (int)dm->nirqs));
  dl_devmodel_set_line(dm, (size_t)n - 1, asserted);
  return 0;
}

static int model_raise(lua_State *L) { return drive(L, 1); }
static int model_clear(lua_State *L) { return drive(L, 0); }

/* model:dma_read(logical, len) -> string, or nil (with a report 0x26) */
static int model_dma_read(lua_State *L) {
  lobject *h = ldl_checkobject(L, 1, LDL_MODEL, "device model");
  uint64_t logical = ldl_checkuint(L, 2), len = ldl_checkuint(L, 3);
  ldl_checkstringlen(L, 3, len);
  ldl_call call;
  ldl_enter(L, h->owner, &call);
  luaL_Buffer b;
  char *p = luaL_buffinitsize(L, &b, (size_t)len);
  int rc = dl_devmodel_dma_read(h->obj, logical, p, (size_t)len);
  luaL_pushresultsize(&b, rc ? 0 : (size_t)len);
  ldl_leave(L, &call);
  if (rc) lua_pushnil(L);
  return 1;
}

/* model:dma_write(logical, bytes) -> true, or false (with a report 0x26) */
static int model_dma_write(lua_State *L) {
  lobject *h = ldl_checkobject(L, 1, LDL_MODEL, "device model");
  uint64_t logical = ldl_checkuint(L, 2);
  size_t len;
  const char *s = luaL_checklstring(L, 3, &len);
  ldl_call call;
  ldl_enter(L, h->owner, &call);
  int rc = dl_devmodel_dma_write(h->obj, logical, s, len);
  ldl_leave(L, &call);
  lua_pushboolean(L, rc == 0);
  return 1;
}

/* Fields: device, resources, name, id, interrupt_asserted, machine. */
static int model_index(lua_State *L) {
  const char *key = ldl_checkkey(L, 2);
  if (ldl_getmethod(L, lua_upvalueindex(1)) != LUA_TNIL) return 1;
  dl_devmodel *dm = checkmodel(L, 1);
  if (strcmp(key, "device") == 0) {
    ldl_pushobject(L, LDL_DEVICE, DL_OBJECT(dl_devmodel_pdo(dm)));
  } else if (strcmp(key, "resources") == 0) ldl_push_resources(L, dm);
  else if (strcmp(key, "name") == 0) lua_pushstring(L, dl_devmodel_pdo(dm)->name);
  else if (strcmp(key, "id") == 0) lua_pushinteger(L, (lua_Integer)dm->id);
  else if (strcmp(key, "interrupt_asserted") == 0)
    lua_pushboolean(L, dm->nirqs && dl_line_asserted(dm->m, dl_devmodel_vector(dm)));
  else if (strcmp(key, "machine") == 0) ldl_pushowner(L, 1);
  else lua_pushnil(L);
  return 1;
}

static int model_tostring(lua_State *L) {
  lobject *h = ldl_checkclass(L, 1, LDL_MODEL);
  if (!h->owner->m) {
    lua_pushliteral(L, "device model (machine closed)");
    return 1;
  }
  dl_devmodel *dm = h->obj;
  char bar[32];
  snprintf(bar, sizeof bar, "0x%llx", (unsigned long long)dl_devmodel_bar(dm));
  lua_pushfstring(L, "device model %s registers=%s+%I vector=%d irql=%d%s", dl_devmodel_pdo(dm)->name, bar,
                  (lua_Integer)dl_devmodel_bar_size(dm), (int)dl_devmodel_vector(dm), (int)dl_devmodel_irql(dm),
                  dm->nirqs && dl_line_asserted(dm->m, dl_devmodel_vector(dm)) ? " interrupting" : "");
  if (dm->nbars != 1 || dm->nports || dm->nirqs != 1)
    lua_pushfstring(L, "%s bars=%d ports=%d interrupts=%d", lua_tostring(L, -1), (int)dm->nbars,
                    (int)dm->nports, (int)dm->nirqs);
  return 1;
}

/* Models live as long as their machine. */
static const luaL_Reg meta[] = {
  {"__tostring", model_tostring},
  {NULL, NULL}
};

static const luaL_Reg methods[] = {
  {"raise_interrupt", model_raise},
  {"clear_interrupt", model_clear},
  {"dma_read", model_dma_read},
  {"dma_write", model_dma_write},
  {NULL, NULL}
};

/* Registers the model class and m:device_model. */
void ldl_open_model(lua_State *L) {
  ldl_newclass(L, LDL_MODEL, meta, methods, model_index);
  static const char *const fields[] = {"device", "resources", "name", "id", "interrupt_asserted", "machine",
                                       NULL};
  ldl_setfields(L, LDL_MODEL, fields);
  static const luaL_Reg machine_methods[] = {{"device_model", model_new}, {NULL, NULL}};
  ldl_addmethods(L, LDL_MACHINE, machine_methods);
}
