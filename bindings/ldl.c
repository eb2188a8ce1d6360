/*
** ldl.c: helpers shared by the binding files.
*/
#include "ldl.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../core/dl_status.h"

#define CURRENT_KEY "dma.current"
#define HANDLES_KEY "dma.handles"
#define ENVS_KEY "dma.envs"

/* Creates a class metatable with separate metamethod and method tables. */
void ldl_newclass(lua_State *L, const char *name, const luaL_Reg *meta,
                  const luaL_Reg *methods, lua_CFunction index) {
  luaL_newmetatable(L, name);              /* mt */
  luaL_setfuncs(L, meta, 0);
  lua_newtable(L);                         /* mt, methods */
  luaL_setfuncs(L, methods, 0);
  lua_pushvalue(L, -1);
  lua_setfield(L, -3, "__methods");        /* for REPL completion */
  if (index) lua_pushcclosure(L, index, 1);  /* mt, index(methods) */
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
}

/* Pushes a new handle of class `name` for obj owned by the machine at `machine`. */
lobject *ldl_newobject(lua_State *L, const char *name, int machine, void *obj) {
  machine = lua_absindex(L, machine);
  lobject *h = lua_newuserdatauv(L, sizeof *h, 1);
  h->owner = lua_touserdata(L, machine);
  h->obj = obj;
  lua_pushvalue(L, machine);
  lua_setiuservalue(L, -2, 1);  /* the handle keeps its machine alive */
  luaL_setmetatable(L, name);
  return h;
}

/* Checks a live object of class `name`. */
lobject *ldl_checkobject(lua_State *L, int arg, const char *name, const char *what) {
  lobject *h = luaL_checkudata(L, arg, name);
  if (h->owner->m == NULL) luaL_argerror(L, arg, "its machine is closed");
  if (h->obj == NULL) luaL_argerror(L, arg, lua_pushfstring(L, "%s has been freed", what));
  return h;
}

/* Checks an open machine. */
lmachine *ldl_checkmachine(lua_State *L, int arg) {
  lmachine *lm = luaL_checkudata(L, arg, LDL_MACHINE);
  if (lm->m == NULL) luaL_argerror(L, arg, "machine is closed");
  return lm;
}

/* Pushes the machine handle owning the object at `arg`. */
void ldl_pushowner(lua_State *L, int arg) { lua_getiuservalue(L, arg, 1); }

/* Pushes the current machine and returns it. */
lmachine *ldl_current(lua_State *L, const char *fname) {
  lua_getfield(L, LUA_REGISTRYINDEX, CURRENT_KEY);
  lmachine *lm = luaL_testudata(L, -1, LDL_MACHINE);
  if (lm == NULL || lm->m == NULL)
    luaL_error(L, "%s: no machine (create one with dma.machine{})", fname);
  return lm;
}

/* Sets PAGE_SIZE and PAGE_SHIFT in the table at -1. */
static void set_page_globals(lua_State *L, uint32_t page_size) {
  lua_pushinteger(L, page_size);
  lua_setfield(L, -2, "PAGE_SIZE");
  lua_pushinteger(L, __builtin_ctz(page_size));
  lua_setfield(L, -2, "PAGE_SHIFT");
}

/* Makes the machine at `arg` current; every table dma.export filled gets
** its PAGE_SIZE, as a driver is compiled for its platform's page size. */
void ldl_setcurrent(lua_State *L, int arg) {
  lmachine *lm = ldl_checkmachine(L, arg);
  lua_pushvalue(L, arg);
  lua_setfield(L, LUA_REGISTRYINDEX, CURRENT_KEY);
  uint32_t ps = dl_machine_page_size(lm->m);
  ldl_pushenvs(L);
  for (lua_pushnil(L); lua_next(L, -2); lua_pop(L, 1)) {
    lua_pushvalue(L, -2);
    set_page_globals(L, ps);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
}

/* Checks a non-negative integer. */
uint64_t ldl_checkuint(lua_State *L, int arg) {
  lua_Integer v = luaL_checkinteger(L, arg);
  luaL_argcheck(L, v >= 0, arg, "must not be negative");
  return (uint64_t)v;
}

static uint64_t unit_of(const char *u) {
  static const struct { const char *name; uint64_t mult; } units[] = {
    {"", 1}, {"b", 1}, {"k", 1ull << 10}, {"kb", 1ull << 10}, {"kib", 1ull << 10},
    {"m", 1ull << 20}, {"mb", 1ull << 20}, {"mib", 1ull << 20},
    {"g", 1ull << 30}, {"gb", 1ull << 30}, {"gib", 1ull << 30},
    {"t", 1ull << 40}, {"tb", 1ull << 40}, {"tib", 1ull << 40},
  };
  char low[8];
  size_t n = strlen(u);
  if (n >= sizeof low) return 0;
  for (size_t i = 0; i <= n; i++) low[i] = (char)tolower((unsigned char)u[i]);
  for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
    if (strcmp(low, units[i].name) == 0) return units[i].mult;
  return 0;
}

/* Parses "64G", "4KiB", "0x1000", "4096" (binary units). */
int ldl_parsesize(const char *s, uint64_t *out) {
  char *end;
  errno = 0;
  if (!isdigit((unsigned char)*s)) return 0;
  unsigned long long v = strtoull(s, &end, 0);
  if (errno) return 0;
  uint64_t mult = unit_of(end);
  if (mult == 0 || (v && (uint64_t)v > UINT64_MAX / mult)) return 0;
  *out = (uint64_t)v * mult;
  return 1;
}

/* Checks a size: an integer or a size string. */
uint64_t ldl_checksize(lua_State *L, int arg) {
  if (lua_type(L, arg) == LUA_TSTRING) {
    uint64_t v;
    if (!ldl_parsesize(lua_tostring(L, arg), &v))
      luaL_argerror(L, arg, "size expected, like 4096, \"64K\", \"16G\" or \"1T\"");
    return v;
  }
  return ldl_checkuint(L, arg);
}

/* Checks a duration: integer nanoseconds or "250ns", "5us", "2ms", "1s". */
uint64_t ldl_checkduration(lua_State *L, int arg) {
  if (lua_type(L, arg) != LUA_TSTRING) return ldl_checkuint(L, arg);
  static const struct { const char *name; uint64_t ns; } units[] = {
    {"ns", 1}, {"us", 1000}, {"ms", 1000000}, {"s", 1000000000},
  };
  const char *s = lua_tostring(L, arg);
  char *end;
  double v = strtod(s, &end);
  for (size_t i = 0; isdigit((unsigned char)*s) && i < sizeof units / sizeof units[0]; i++)
    if (strcmp(end, units[i].name) == 0 && v >= 0 && v * units[i].ns < 1.8e19)
      return (uint64_t)(v * (double)units[i].ns + 0.5);
  return luaL_argerror(L, arg, "duration expected, like 1500, \"250ns\", \"5us\", \"2ms\" or \"1s\"");
}

/* Raises an argument error carrying a core status. */
int ldl_statuserror(lua_State *L, int arg, int status, const char *detail) {
  const char *text = dl_strerror(status);
  if (detail) text = lua_pushfstring(L, "%s: %s", text, detail);
  return luaL_argerror(L, arg, text);
}

/* Pushes registry[key], creating it as a table with mode `mode`. */
static void push_weak(lua_State *L, const char *key, const char *mode) {
  if (lua_getfield(L, LUA_REGISTRYINDEX, key) == LUA_TTABLE) return;
  lua_pop(L, 1);
  lua_newtable(L);
  lua_createtable(L, 0, 1);
  lua_pushstring(L, mode);
  lua_setfield(L, -2, "__mode");
  lua_setmetatable(L, -2);
  lua_pushvalue(L, -1);
  lua_setfield(L, LUA_REGISTRYINDEX, key);
}

/* Pushes the table core object -> handle (weak values). */
void ldl_pushhandles(lua_State *L) { push_weak(L, HANDLES_KEY, "v"); }

/* Pushes the handle of a core object, creating one if it has none. */
void ldl_pushhandle(lua_State *L, const char *name, int machine, void *obj) {
  if (obj == NULL) {
    lua_pushnil(L);
    return;
  }
  machine = lua_absindex(L, machine);
  ldl_pushhandles(L);
  if (lua_rawgetp(L, -1, obj) != LUA_TNIL) {
    lua_remove(L, -2);
    return;
  }
  lua_pop(L, 1);
  ldl_newobject(L, name, machine, obj);
  lua_pushvalue(L, -1);
  lua_rawsetp(L, -3, obj);
  lua_remove(L, -2);
}

/* Forgets the handle of a core object. */
void ldl_forgethandle(lua_State *L, void *obj) {
  ldl_pushhandles(L);
  lua_pushnil(L);
  lua_rawsetp(L, -2, obj);
  lua_pop(L, 1);
}

/* Pushes the set of tables dma.export filled (weak keys). */
void ldl_pushenvs(lua_State *L) { push_weak(L, ENVS_KEY, "k"); }
