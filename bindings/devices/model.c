/*
** model.c: device models written in Lua (m:device_model{...}) and the
** driver's side of device registers: MmMapIoSpace, MmUnmapIoSpace,
** READ_REGISTER_* and WRITE_REGISTER_* (with their BUFFER forms).
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

/* Calls a Lua handler (read or write) of a model: handler(model, ...). */
static int call_handler(dl_devmodel *dm, int slot, int nargs, uint64_t a, uint64_t b,
                        uint64_t c, uint64_t *result) {
  lmachine *lm = dl_machine_data(dm->m);
  lua_State *L = lm->L;
  ldl_pushobject(L, LDL_MODEL, DL_OBJECT(dm));     /* model */
  ldl_pushstate(L, -1);                            /* model, state */
  if (lua_rawgeti(L, -1, slot) != LUA_TFUNCTION) {
    lua_pop(L, 3);
    return 0;
  }
  lua_replace(L, -2);                              /* model, handler */
  lua_insert(L, -2);                               /* handler, model */
  uint64_t v[3] = {a, b, c};
  for (int i = 0; i < nargs; i++) lua_pushinteger(L, (lua_Integer)v[i]);
  if (!ldl_callback(L, lm, nargs + 1, result ? 1 : 0)) return 0;
  if (result) {
    *result = (uint64_t)lua_tointeger(L, -1);
    lua_pop(L, 1);
  }
  return 1;
}

static uint64_t lua_model_read(void *ctx, uint64_t offset, uint32_t size) {
  uint64_t v = 0;
  call_handler(ctx, 1, 2, offset, size, 0, &v);
  return v;
}

static void lua_model_write(void *ctx, uint64_t offset, uint32_t size, uint64_t value) {
  call_handler(ctx, 2, 3, offset, size, value, NULL);
}

static const dl_devmodel_ops lua_model_ops = {lua_model_read, lua_model_write, NULL};

/* Reads an integer option of the table at arg (def if absent). */
static lua_Integer int_option(lua_State *L, int arg, const char *name, lua_Integer def) {
  lua_getfield(L, arg, name);
  lua_Integer v = def;
  if (!lua_isnil(L, -1)) {
    if (lua_type(L, -1) == LUA_TSTRING) v = (lua_Integer)ldl_checksize(L, lua_gettop(L));
    else {
      luaL_argcheck(L, lua_isinteger(L, -1), arg, lua_pushfstring(L, "'%s' must be an integer", name));
      v = lua_tointeger(L, -1);
    }
  }
  lua_pop(L, 1);
  return v;
}

/* m:device_model{ name=, registers=, vector=, irql=, read=fn, write=fn }
** -> model: hardware whose registers a Lua script implements:
** read(model, offset, size) -> value; write(model, offset, size, value). */
static int model_new(lua_State *L) {
  lmachine *lm = ldl_checkmachine(L, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  static const char *const options[] = {"name", "registers", "vector", "irql", "read", "write", NULL};
  ldl_checkoptions(L, 2, "m:device_model", options);
  lua_getfield(L, 2, "name");
  const char *name = lua_tostring(L, -1);
  lua_Integer size = int_option(L, 2, "registers", 4096);
  lua_Integer vector = int_option(L, 2, "vector", 16), irql = int_option(L, 2, "irql", 5);
  luaL_argcheck(L, size > 0, 2, "registers must be > 0");
  luaL_argcheck(L, vector >= 0 && vector < DL_MAX_VECTORS, 2, "vector must be 0..255");
  luaL_argcheck(L, irql > 2 && irql <= 15, 2, "irql must be a device IRQL (3..15)");
  lua_getfield(L, 2, "read");
  lua_getfield(L, 2, "write");
  luaL_argcheck(L, lua_isnil(L, -2) || lua_isfunction(L, -2), 2, "read must be a function");
  luaL_argcheck(L, lua_isnil(L, -1) || lua_isfunction(L, -1), 2, "write must be a function");
  dl_devmodel *dm;
  int rc = dl_devmodel_new(lm->m, name, (uint64_t)size, (uint32_t)vector, (uint8_t)irql,
                           &lua_model_ops, NULL, &dm);
  if (rc) return ldl_statuserror(L, 2, rc, NULL);
  dl_devmodel_set_ctx(dm, dm);
  ldl_pushobject(L, LDL_MODEL, DL_OBJECT(dm));     /* read, write, model */
  ldl_pushstate(L, -1);                            /* its handlers live in its state */
  lua_pushvalue(L, -4);
  lua_rawseti(L, -2, 1);
  lua_pushvalue(L, -3);
  lua_rawseti(L, -2, 2);
  lua_pop(L, 1);
  return 1;
}

/* model:raise_interrupt() / model:clear_interrupt(): drive the line. */
static int model_raise(lua_State *L) {
  dl_devmodel *dm = checkmodel(L, 1);
  dl_devmodel_set_interrupt(dm, 1);
  return 0;
}

static int model_clear(lua_State *L) {
  dl_devmodel_set_interrupt(checkmodel(L, 1), 0);
  return 0;
}

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

/* Pushes the model's resources: { memory = {start=, length=},
** interrupt = {vector=, level=} [, dma = {tx=, rx=}] }, as a driver finds
** them at start. */
static void push_resources(lua_State *L, dl_devmodel *dm) {
  lua_createtable(L, 0, 2);
  lua_createtable(L, 0, 2);
  lua_pushinteger(L, (lua_Integer)dl_devmodel_bar(dm));
  lua_setfield(L, -2, "start");
  lua_pushinteger(L, (lua_Integer)dl_devmodel_bar_size(dm));
  lua_setfield(L, -2, "length");
  lua_setfield(L, -2, "memory");
  lua_createtable(L, 0, 2);
  lua_pushinteger(L, dl_devmodel_vector(dm));
  lua_setfield(L, -2, "vector");
  lua_pushinteger(L, dl_devmodel_irql(dm));
  lua_setfield(L, -2, "level");
  lua_setfield(L, -2, "interrupt");
  ldl_uart_resources(L, dm);  /* a UART's DMA lines: resources.dma */
}

/* Fields: device, resources, name, id, interrupt_asserted, machine. */
static int model_index(lua_State *L) {
  const char *key = ldl_checkkey(L, 2);
  if (ldl_getmethod(L, lua_upvalueindex(1)) != LUA_TNIL) return 1;
  dl_devmodel *dm = checkmodel(L, 1);
  if (strcmp(key, "device") == 0) {
    ldl_pushobject(L, LDL_DEVICE, DL_OBJECT(dl_devmodel_pdo(dm)));
  } else if (strcmp(key, "resources") == 0) push_resources(L, dm);
  else if (strcmp(key, "name") == 0) lua_pushstring(L, dl_devmodel_pdo(dm)->name);
  else if (strcmp(key, "id") == 0) lua_pushinteger(L, (lua_Integer)dm->id);
  else if (strcmp(key, "interrupt_asserted") == 0) lua_pushboolean(L, dl_line_asserted(dm->m, dl_devmodel_vector(dm)));
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
                  dl_line_asserted(dm->m, dl_devmodel_vector(dm)) ? " interrupting" : "");
  return 1;
}

/* Models live as long as their machine. */
/* ---- the driver's side: mapped registers ---------------------------------- */

/* MmMapIoSpace(PhysicalAddress, NumberOfBytes, CacheType) -> BaseAddress */
static int l_MmMapIoSpace(lua_State *L) {
  uint64_t pa = ldl_checkuint(L, 1), len = ldl_checkuint(L, 2);
  luaL_optinteger(L, 3, 0);
  lmachine *lm = ldl_current(L, "MmMapIoSpace");
  uint64_t va;
  int rc = dl_mmio_map(lm->m, pa, len, &va);
  if (rc == DL_ENOTMAPPED) return luaL_argerror(L, 1, "not inside a device's register block");
  if (rc) return ldl_statuserror(L, 1, rc, NULL);
  lua_pushinteger(L, (lua_Integer)va);
  return 1;
}

/* MmUnmapIoSpace(BaseAddress, NumberOfBytes) */
static int l_MmUnmapIoSpace(lua_State *L) {
  uint64_t va = ldl_checkuint(L, 1), len = ldl_checkuint(L, 2);
  lmachine *lm = ldl_current(L, "MmUnmapIoSpace");
  if (dl_mmio_unmap(lm->m, va, len)) return luaL_argerror(L, 1, "not an address MmMapIoSpace returned");
  return 0;
}

/* One register access; upvalue 1 is the size, upvalue 2 is 1 for writes. */
static int l_register(lua_State *L) {
  uint32_t size = (uint32_t)lua_tointeger(L, lua_upvalueindex(1));
  int write = (int)lua_tointeger(L, lua_upvalueindex(2));
  uint64_t va = ldl_checkuint(L, 1), value = 0;
  if (write) value = (uint64_t)luaL_checkinteger(L, 2);
  lmachine *lm = ldl_currentlm(L, write ? "WRITE_REGISTER" : "READ_REGISTER");
  ldl_call call;
  ldl_enter(L, lm, &call);
  int rc = write ? dl_mmio_write(lm->m, va, size, value) : dl_mmio_read(lm->m, va, size, &value);
  if (rc) return luaL_argerror(L, 1, "not a mapped device register (MmMapIoSpace first)");
  ldl_leave(L, &call);
  if (write) return 0;
  lua_pushinteger(L, (lua_Integer)value);
  return 1;
}

/* The BUFFER forms: (Register, Buffer, Count), Buffer a table indexed 1..Count. */
static int l_register_buffer(lua_State *L) {
  uint32_t size = (uint32_t)lua_tointeger(L, lua_upvalueindex(1));
  int write = (int)lua_tointeger(L, lua_upvalueindex(2));
  uint64_t va = ldl_checkuint(L, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_Integer count = luaL_checkinteger(L, 3);
  luaL_argcheck(L, count >= 0, 3, "Count must not be negative");
  lmachine *lm = ldl_current(L, write ? "WRITE_REGISTER_BUFFER" : "READ_REGISTER_BUFFER");
  ldl_call call;
  ldl_enter(L, lm, &call);
  for (lua_Integer i = 1; i <= count; i++) {
    uint64_t value = 0;
    if (write) {
      lua_rawgeti(L, 2, i);
      value = (uint64_t)lua_tointeger(L, -1);
      lua_pop(L, 1);
    }
    int rc = write ? dl_mmio_write(lm->m, va + (uint64_t)(i - 1) * size, size, value)
                   : dl_mmio_read(lm->m, va + (uint64_t)(i - 1) * size, size, &value);
    if (rc) return luaL_argerror(L, 1, "not a mapped device register (MmMapIoSpace first)");
    if (!write) {
      lua_pushinteger(L, (lua_Integer)value);
      lua_rawseti(L, 2, i);
    }
    ldl_leave(L, &call);
  }
  return 0;
}

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

static const luaL_Reg functions[] = {
  {"MmMapIoSpace", l_MmMapIoSpace},
  {"MmUnmapIoSpace", l_MmUnmapIoSpace},
  {NULL, NULL}
};

/* Registers the model class, m:device_model and the register accessors. */
void ldl_open_model(lua_State *L) {
  ldl_newclass(L, LDL_MODEL, meta, methods, model_index);
  static const char *const fields[] = {"device", "resources", "name", "id", "interrupt_asserted", "machine",
                                       NULL};
  ldl_setfields(L, LDL_MODEL, fields);
  static const luaL_Reg machine_methods[] = {{"device_model", model_new}, {NULL, NULL}};
  ldl_addmethods(L, LDL_MACHINE, machine_methods);
  luaL_setfuncs(L, functions, 0);
  /* spelled out, so that .luacheckrc finds the names as WDK globals */
  static const struct { const char *name; int size, write, buffer; } registers[] = {
    {"READ_REGISTER_UCHAR", 1, 0, 0}, {"READ_REGISTER_USHORT", 2, 0, 0},
    {"READ_REGISTER_ULONG", 4, 0, 0}, {"READ_REGISTER_ULONG64", 8, 0, 0},
    {"WRITE_REGISTER_UCHAR", 1, 1, 0}, {"WRITE_REGISTER_USHORT", 2, 1, 0},
    {"WRITE_REGISTER_ULONG", 4, 1, 0}, {"WRITE_REGISTER_ULONG64", 8, 1, 0},
    {"READ_REGISTER_BUFFER_UCHAR", 1, 0, 1}, {"READ_REGISTER_BUFFER_USHORT", 2, 0, 1},
    {"READ_REGISTER_BUFFER_ULONG", 4, 0, 1}, {"READ_REGISTER_BUFFER_ULONG64", 8, 0, 1},
    {"WRITE_REGISTER_BUFFER_UCHAR", 1, 1, 1}, {"WRITE_REGISTER_BUFFER_USHORT", 2, 1, 1},
    {"WRITE_REGISTER_BUFFER_ULONG", 4, 1, 1}, {"WRITE_REGISTER_BUFFER_ULONG64", 8, 1, 1},
  };
  for (size_t i = 0; i < sizeof registers / sizeof registers[0]; i++) {
    lua_pushinteger(L, registers[i].size);
    lua_pushinteger(L, registers[i].write);
    lua_pushcclosure(L, registers[i].buffer ? l_register_buffer : l_register, 2);
    lua_setfield(L, -2, registers[i].name);
  }
  static const struct { const char *name; int v; } cache[] = {
    {"MmNonCached", 0}, {"MmCached", 1}, {"MmWriteCombined", 2},
  };
  for (size_t i = 0; i < sizeof cache / sizeof cache[0]; i++) {
    lua_pushinteger(L, cache[i].v);
    lua_setfield(L, -2, cache[i].name);
  }
}
