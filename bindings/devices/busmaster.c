/*
** busmaster.c: the built-in bus-master DMA device from Lua: m:busmaster{...}
** makes one (a handle of the "device model" class, so hw.device,
** hw.resources and raise_interrupt work as for any model), hw:inject{...},
** hw:medium_read/medium_write, hw:device_stats() and
** dma.busmaster_registers, the register map as a driver's header names it.
*/
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "devices/dl_busmaster.h"
#include "kernel/dl_interrupt.h"
#include "base/dl_status.h"
#include "machine/dl_object.h"
#include "../ldl.h"

/* ---- reading option tables ------------------------------------------------ */

/* Raises "bad argument #arg (field 'name' must be ...)". */
static int field_error(lua_State *L, int arg, const char *name, const char *what) {
  return luaL_argerror(L, arg, lua_pushfstring(L, "field '%s' must be %s", name, what));
}

/* Reads an integer field (floats with an integer value accepted); returns 0
** if absent. */
static int int_field(lua_State *L, int arg, const char *name, lua_Integer *out) {
  int t = lua_getfield(L, arg, name);
  int isnum = 0;
  if (t != LUA_TNIL) {
    *out = t == LUA_TNUMBER ? lua_tointegerx(L, -1, &isnum) : 0;
    if (!isnum) field_error(L, arg, name, "an integer");
  }
  lua_pop(L, 1);
  return t != LUA_TNIL;
}

/* Reads a size field: a non-negative integer or "64K", "800M"... */
static int size_field(lua_State *L, int arg, const char *name, uint64_t *out) {
  int t = lua_getfield(L, arg, name);
  int isnum = 0;
  if (t == LUA_TSTRING) isnum = ldl_parsesize(lua_tostring(L, -1), out);
  else if (t == LUA_TNUMBER) {
    lua_Integer v = lua_tointegerx(L, -1, &isnum);
    isnum = isnum && v >= 0;
    *out = (uint64_t)v;
  }
  if (t != LUA_TNIL && !isnum) field_error(L, arg, name, "a size like 4096, \"64K\" or \"1G\"");
  lua_pop(L, 1);
  return t != LUA_TNIL;
}

/* Parses "250ns", "5us", "2ms", "1.5s" into ns; returns 1 on success. */
static int parse_duration(const char *s, uint64_t *out) {
  static const struct { const char *unit; double ns; } units[] = {
    {"ns", 1}, {"us", 1e3}, {"ms", 1e6}, {"s", 1e9},
  };
  char *end;
  if (!isdigit((unsigned char)*s)) return 0;
  double v = strtod(s, &end);
  for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
    if (strcmp(end, units[i].unit) == 0 && v * units[i].ns < 1.8e19) {
      *out = (uint64_t)(v * units[i].ns + 0.5);
      return 1;
    }
  return 0;
}

/* Reads a duration field: integer ns or a duration string. */
static int duration_field(lua_State *L, int arg, const char *name, uint64_t *out) {
  int t = lua_getfield(L, arg, name);
  int ok = 0;
  if (t == LUA_TSTRING) ok = parse_duration(lua_tostring(L, -1), out);
  else if (t == LUA_TNUMBER) {
    lua_Integer v = lua_tointegerx(L, -1, &ok);
    ok = ok && v >= 0;
    *out = (uint64_t)v;
  }
  if (t != LUA_TNIL && !ok)
    field_error(L, arg, name, "a duration like 1500, \"250ns\", \"5us\" or \"2ms\"");
  lua_pop(L, 1);
  return t != LUA_TNIL;
}

/* Returns 1 for 1, 2, 4, ... */
static int is_pow2(uint64_t v) { return v && !(v & (v - 1)); }

/* ---- m:busmaster{...} ----------------------------------------------------- */

static const char *const config_keys[] = {
  "name", "vector", "irql", "bandwidth", "setup_latency", "max_transfer", "max_sg",
  "address_width", "alignment", "capacity", "sector_size", NULL
};

/* Reads and checks the device's configuration from the table at arg. */
static void read_config(lua_State *L, int arg, dl_busmaster_config *cfg) {
  dl_busmaster_config_init(cfg);
  lua_Integer v;
  size_field(L, arg, "bandwidth", &cfg->bandwidth);
  if (cfg->bandwidth == 0) field_error(L, arg, "bandwidth", "bytes per second, more than 0");
  duration_field(L, arg, "setup_latency", &cfg->setup_latency);
  size_field(L, arg, "max_transfer", &cfg->max_transfer);
  if (cfg->max_transfer == 0) field_error(L, arg, "max_transfer", "more than 0");
  if (int_field(L, arg, "max_sg", &v)) {
    if (v < 1 || v > DL_BM_MAX_SG_LIMIT)
      field_error(L, arg, "max_sg", "an integer from 1 to 65536");
    cfg->max_sg = (uint32_t)v;
  }
  if (int_field(L, arg, "address_width", &v)) {
    if (v < 1 || v > 64) field_error(L, arg, "address_width", "a number of bits from 1 to 64");
    cfg->address_width = (uint32_t)v;
  }
  size_field(L, arg, "alignment", &cfg->alignment);
  if (!is_pow2(cfg->alignment)) field_error(L, arg, "alignment", "a power of two");
  size_field(L, arg, "capacity", &cfg->capacity);
  if (cfg->capacity == 0) field_error(L, arg, "capacity", "more than 0");
  uint64_t ss = cfg->sector_size;
  size_field(L, arg, "sector_size", &ss);
  if (!is_pow2(ss) || ss < 512 || ss > 65536)
    field_error(L, arg, "sector_size", "a power of two from 512 to 65536");
  cfg->sector_size = (uint32_t)ss;
}

/* m:busmaster{ name=, vector=16, irql=5, bandwidth="1G", setup_latency="2us",
** max_transfer="1M", max_sg=64, address_width=64, alignment=1,
** capacity="1G", sector_size=4096 } -> device model */
static int bm_new(lua_State *L) {
  lmachine *lm = ldl_checkmachine(L, 1);
  if (lua_isnoneornil(L, 2)) {
    lua_settop(L, 1);
    lua_newtable(L);
  }
  luaL_checktype(L, 2, LUA_TTABLE);
  ldl_checkoptions(L, 2, "m:busmaster", config_keys);
  dl_busmaster_config cfg;
  read_config(L, 2, &cfg);
  lua_Integer vector = 16, irql = 5;
  int_field(L, 2, "vector", &vector);
  int_field(L, 2, "irql", &irql);
  if (vector < 0 || vector >= DL_MAX_VECTORS) field_error(L, 2, "vector", "from 0 to 255");
  if (irql < 3 || irql > 15) field_error(L, 2, "irql", "a device IRQL (3 to 15)");
  lua_getfield(L, 2, "name");
  if (!lua_isnil(L, -1) && !lua_isstring(L, -1)) field_error(L, 2, "name", "a string");
  const char *name = lua_tostring(L, -1);
  dl_busmaster *bm;
  int rc = dl_busmaster_new(lm->m, name, (uint32_t)vector, (uint8_t)irql, &cfg, &bm);
  if (rc) return ldl_statuserror(L, 2, rc, NULL);
  ldl_pushobject(L, LDL_MODEL, DL_OBJECT(dl_busmaster_model(bm)));
  return 1;
}

/* ---- methods on busmaster models ------------------------------------------ */

/* Checks that argument 1 is a busmaster model and returns the device. */
static dl_busmaster *checkbm(lua_State *L) {
  lobject *h = ldl_checkobject(L, 1, LDL_MODEL, "device model");
  dl_busmaster *bm = dl_busmaster_of(h->obj);
  if (!bm)
    luaL_argerror(L, 1, "a busmaster expected (made by m:busmaster{}), got another device model");
  return bm;
}

static const char *const fault_keys[] = {"kind", "at_command", "at", "probability", "extra", NULL};

/* Reads the fault's kind by name. */
static dl_bm_fault_kind fault_kind(lua_State *L, int arg) {
  lua_getfield(L, arg, "kind");
  const char *name = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
  for (int k = DL_BM_FAULT_ERROR; k < DL_BM_FAULT_KIND_COUNT; k++)
    if (strcmp(name, dl_bm_fault_name((dl_bm_fault_kind)k)) == 0) {
      lua_pop(L, 1);
      return (dl_bm_fault_kind)k;
    }
  field_error(L, arg, "kind", "\"error\", \"short\", \"drop_interrupt\", \"spurious_interrupt\", "
                              "\"latency\" or \"hang\"");
  return DL_BM_FAULT_ERROR;
}

/* Reads the fault's trigger: exactly one of at_command, at, probability. */
static void fault_trigger(lua_State *L, int arg, dl_bm_fault *f) {
  lua_Integer n = 0;
  int triggers = 0;
  if (int_field(L, arg, "at_command", &n)) {
    if (n < 1) field_error(L, arg, "at_command", "a command number from 1");
    f->trigger = DL_BM_AT_COMMAND;
    f->at = (uint64_t)n;
    triggers++;
  }
  uint64_t t;
  if (duration_field(L, arg, "at", &t)) {
    f->trigger = DL_BM_AT_TIME;
    f->at = t;
    triggers++;
  }
  if (lua_getfield(L, arg, "probability") != LUA_TNIL) {
    double p = lua_tonumber(L, -1);
    if (!lua_isnumber(L, -1) || !(p >= 0 && p <= 1))
      field_error(L, arg, "probability", "a number from 0 to 1");
    f->trigger = DL_BM_PROBABILITY;
    f->probability = p;
    triggers++;
  }
  lua_pop(L, 1);
  if (triggers != 1)
    luaL_argerror(L, arg,
                  "exactly one of the fields 'at_command', 'at' and 'probability' expected");
}

/* hw:inject{ kind=, at_command= | at= | probability=, extra= }: schedules a
** fault. The kinds are "error", "short", "drop_interrupt",
** "spurious_interrupt", "latency" (extra ns, default "1ms") and "hang". */
static int bm_inject(lua_State *L) {
  dl_busmaster *bm = checkbm(L);
  luaL_checktype(L, 2, LUA_TTABLE);
  ldl_checkoptions(L, 2, "hw:inject", fault_keys);
  dl_bm_fault f = {0};
  f.kind = fault_kind(L, 2);
  fault_trigger(L, 2, &f);
  f.extra = 1000000;
  if (duration_field(L, 2, "extra", &f.extra) && f.kind != DL_BM_FAULT_LATENCY)
    field_error(L, 2, "extra", "given only for kind \"latency\"");
  int rc = dl_busmaster_inject(bm, &f);
  if (rc) return ldl_statuserror(L, 2, rc, NULL);
  return 0;
}

/* Checks that [offset, offset+len) lies on the medium. */
static void check_medium(lua_State *L, dl_busmaster *bm, uint64_t offset, uint64_t len) {
  uint64_t cap = dl_busmaster_config_of(bm)->capacity;
  if (offset > cap || len > cap - offset)
    luaL_argerror(L, 2, lua_pushfstring(L, "beyond the medium's capacity (%I bytes)",
                                        (lua_Integer)cap));
}

/* hw:medium_read(offset, len) -> string: the medium's bytes, as if the
** disk were taken out and read elsewhere (never-written bytes are zeros). */
static int bm_medium_read(lua_State *L) {
  dl_busmaster *bm = checkbm(L);
  uint64_t offset = ldl_checksize(L, 2), len = ldl_checksize(L, 3);
  check_medium(L, bm, offset, len);
  ldl_checkstringlen(L, 3, len);
  luaL_Buffer b;
  char *p = luaL_buffinitsize(L, &b, (size_t)len);
  dl_busmaster_medium_read(bm, offset, p, len);
  luaL_pushresultsize(&b, (size_t)len);
  return 1;
}

/* hw:medium_write(offset, bytes): puts bytes on the medium directly. */
static int bm_medium_write(lua_State *L) {
  dl_busmaster *bm = checkbm(L);
  uint64_t offset = ldl_checksize(L, 2);
  size_t len;
  const char *s = luaL_checklstring(L, 3, &len);
  check_medium(L, bm, offset, len);
  int rc = dl_busmaster_medium_write(bm, offset, s, len);
  if (rc) return ldl_statuserror(L, 2, rc, NULL);
  return 0;
}

/* hw:device_stats() -> { commands=, bytes=, errors=, faults=, interrupts= } */
static int bm_device_stats(lua_State *L) {
  dl_busmaster_stats st;
  dl_busmaster_stats_get(checkbm(L), &st);
  struct { const char *name; uint64_t v; } f[] = {
    {"commands", st.commands}, {"bytes", st.bytes}, {"errors", st.errors},
    {"faults", st.faults}, {"interrupts", st.interrupts},
  };
  lua_createtable(L, 0, (int)(sizeof f / sizeof f[0]));
  for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
    lua_pushinteger(L, (lua_Integer)f[i].v);
    lua_setfield(L, -2, f[i].name);
  }
  return 1;
}

static const luaL_Reg methods[] = {
  {"inject", bm_inject},
  {"medium_read", bm_medium_read},
  {"medium_write", bm_medium_write},
  {"device_stats", bm_device_stats},
  {NULL, NULL}
};

/* The register map, for drivers: names as a C header would define them.
** Each entry has a space after its brace: .luacheckrc takes a capitalised
** string right after a brace in the bindings for a WDK global, and these
** are not globals. */
static const struct { const char *name; lua_Integer value; } registers[] = {
  { "CONTROL", DL_BM_CONTROL }, { "STATUS", DL_BM_STATUS }, { "ADDR_LO", DL_BM_ADDR_LO },
  { "ADDR_HI", DL_BM_ADDR_HI }, { "LENGTH", DL_BM_LENGTH }, { "OFFSET_LO", DL_BM_OFFSET_LO },
  { "OFFSET_HI", DL_BM_OFFSET_HI }, { "BYTES_DONE", DL_BM_BYTES_DONE },
  { "DESC_LO", DL_BM_DESC_LO }, { "DESC_HI", DL_BM_DESC_HI }, { "DESC_COUNT", DL_BM_DESC_COUNT },
  { "ERROR_CODE", DL_BM_ERROR_CODE }, { "RING_TAIL", DL_BM_RING_TAIL },
  { "RING_HEAD", DL_BM_RING_HEAD }, { "MAX_TRANSFER", DL_BM_MAX_TRANSFER },
  { "MAX_SG", DL_BM_MAX_SG }, { "START", DL_BM_START }, { "TO_DEVICE", DL_BM_TO_DEVICE },
  { "IRQ_ENABLE", DL_BM_IRQ_ENABLE }, { "RESET", DL_BM_RESET },
  { "MODE_SINGLE", DL_BM_MODE_SINGLE }, { "MODE_SG", DL_BM_MODE_SG },
  { "MODE_RING", DL_BM_MODE_RING }, { "BUSY", DL_BM_BUSY }, { "DONE", DL_BM_DONE },
  { "ERROR", DL_BM_ERROR }, { "SHORT", DL_BM_SHORT }, { "DESC_OWNED", DL_BM_DESC_OWNED },
  { "DESC_TO_DEVICE", DL_BM_DESC_TO_DEVICE }, { "DESC_INTERRUPT", DL_BM_DESC_INTERRUPT },
  { "SG_ENTRY_SIZE", DL_BM_SG_ENTRY }, { "RING_DESC_SIZE", DL_BM_RING_DESC },
  { "ERR_NONE", DL_BM_ERR_NONE }, { "ERR_UNMAPPED", DL_BM_ERR_UNMAPPED },
  { "ERR_DEVICE", DL_BM_ERR_DEVICE }, { "ERR_LIMIT", DL_BM_ERR_LIMIT },
  { "ERR_WIDTH", DL_BM_ERR_WIDTH }, { "ERR_ALIGN", DL_BM_ERR_ALIGN },
};

/* Registers m:busmaster, the busmaster methods of the model class and
** dma.busmaster_registers in the module at -1. */
void ldl_open_busmaster(lua_State *L) {
  static const luaL_Reg machine_methods[] = {{"busmaster", bm_new}, {NULL, NULL}};
  ldl_addmethods(L, LDL_MACHINE, machine_methods);
  luaL_getmetatable(L, LDL_MODEL);
  lua_getfield(L, -1, "__methods");
  luaL_setfuncs(L, methods, 0);
  lua_pop(L, 2);
  lua_createtable(L, 0, (int)(sizeof registers / sizeof registers[0]));
  for (size_t i = 0; i < sizeof registers / sizeof registers[0]; i++) {
    lua_pushinteger(L, registers[i].value);
    lua_setfield(L, -2, registers[i].name);
  }
  lua_setfield(L, -2, "busmaster_registers");
}
