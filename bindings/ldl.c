/*
** ldl.c: helpers shared by the binding files.
*/
#include "ldl.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/dl_device.h"
#include "machine/dl_object.h"
#include "base/dl_status.h"
#include "machine/dl_verifier.h"
#include "lcall.h"

/* Registry keys: the addresses of these (lua_rawgetp), so that the hot
** paths never look a C string up (which hashes and compares it). */
static const char CURRENT_KEY = 0;   /* the current machine */
static const char ENVS_KEY = 0;      /* tables dma.export filled (weak keys) */
static const char LOOSE_KEY = 0;     /* unpinned handles of header objects (weak) */
static const char MACHINES_KEY = 0;  /* live machine handles (weak keys) */
/* In a class metatable, [CLASS_SLOT] is its name (a light userdata): an
** integer key, so a class check costs an array-or-int lookup, no hashing
** of a pointer or a string. */
#define CLASS_SLOT 1
static const char OWN_KEY = 0;       /* in a handle's own metatable: its field table */

/* ---- per-thread caches of the hot paths ----------------------------------------
** A Lua state runs on one thread at a time, and almost always one state
** has the module: these caches answer a class check and "the current
** machine" without a registry lookup. An entry names the state it belongs
** to by its registry's address; the state's close clears them all
** (state_gc, the last finalizer of the state to run), so an address reused
** by a later state can never match. */
#define MT_CACHE 64
static _Thread_local struct { const void *mt; const char *name; } mt_cache[MT_CACHE];
static _Thread_local struct { const void *registry; lmachine *lm; } current_cache;
static const char SENTINEL_KEY = 0;

/* The cache slot of a metatable address. */
static unsigned mt_slot(const void *mt) { return (unsigned)(((uintptr_t)mt >> 6) % MT_CACHE); }

/* __gc of the state's sentinel: the state is closing. */
static int state_gc(lua_State *L) {
  (void)L;
  memset(mt_cache, 0, sizeof mt_cache);
  memset(&current_cache, 0, sizeof current_cache);
  return 0;
}

/* Makes the state's sentinel once, before any handle: finalizers run in
** the reverse order of their marking, so it is finalized last at close. */
void ldl_initstate(lua_State *L) {
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &SENTINEL_KEY) == LUA_TUSERDATA) {
    lua_pop(L, 1);
    return;
  }
  lua_pop(L, 1);
  lua_newuserdatauv(L, 1, 0);
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, state_gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &SENTINEL_KEY);
  state_gc(L);
}

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

/* Raises the error of a key that is not a field name. */
const char *ldl_keyerror(lua_State *L, int arg) {
  const char *type = luaL_getmetafield(L, 1, "__name") == LUA_TSTRING ? lua_tostring(L, -1) : "handle";
  luaL_error(L, "%s[k]: a field name is a string, not a %s (%s)", type, luaL_typename(L, arg),
             luaL_tolstring(L, arg, NULL));
  return NULL;
}

/* The fallback __index of a handle's own field table: the class __index
** (upvalue 1) asked about the handle (upvalue 2), for computed fields. */
static int own_index(lua_State *L) {
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_pushvalue(L, lua_upvalueindex(2));
  lua_pushvalue(L, 2);
  lua_call(L, 2, 1);
  return 1;
}

/* Gives the handle at arg its own metatable (a copy of its class's) whose
** __index is a plain field table, so that reading a field kept there is a
** table lookup with no C call; other keys fall back to the class __index.
** Pushes the field table (the existing one if the handle has it already). */
void ldl_pushownfields(lua_State *L, int arg) {
  arg = lua_absindex(L, arg);
  lua_getmetatable(L, arg);                      /* mt */
  if (lua_rawgetp(L, -1, &OWN_KEY) == LUA_TTABLE) {  /* mt, fields */
    lua_remove(L, -2);
    return;
  }
  lua_pop(L, 1);
  int cls = lua_gettop(L);
  lua_newtable(L);                               /* mt, own */
  lua_pushnil(L);
  while (lua_next(L, cls)) {                     /* copies every entry but __index */
    lua_pushvalue(L, -2);
    lua_insert(L, -2);
    lua_rawset(L, cls + 1);
  }
  lua_newtable(L);                               /* mt, own, fields */
  lua_createtable(L, 0, 1);                      /* mt, own, fields, fields' mt */
  lua_getfield(L, cls, "__index");
  lua_pushvalue(L, arg);
  lua_pushcclosure(L, own_index, 2);
  lua_setfield(L, -2, "__index");
  lua_setmetatable(L, -2);                       /* mt, own, fields */
  lua_pushvalue(L, -1);
  lua_setfield(L, -3, "__index");
  lua_pushvalue(L, -1);
  lua_rawsetp(L, -3, &OWN_KEY);
  lua_pushvalue(L, -2);
  lua_setmetatable(L, arg);                      /* mt, own, fields */
  lua_replace(L, cls);
  lua_pop(L, 1);
}

/* Pushes the pool at key, made on first use. */
static void push_pool(lua_State *L, const void *key) {
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, key) == LUA_TTABLE) return;
  lua_pop(L, 1);
  lua_newtable(L);
  lua_pushvalue(L, -1);
  lua_rawsetp(L, LUA_REGISTRYINDEX, key);
}

/* Pushes a table from the pool at key, or a new one; 1 if new. */
int ldl_pool_take(lua_State *L, const void *key, int nrec) {
  push_pool(L, key);                                  /* pool */
  lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
  if (n == 0) {
    lua_pop(L, 1);
    lua_createtable(L, 0, nrec);
    return 1;
  }
  lua_rawgeti(L, -1, n);                              /* pool, t */
  lua_pushnil(L);
  lua_rawseti(L, -3, n);
  lua_remove(L, -2);
  return 0;
}

/* Pops the table at -1 into the pool at key (up to max tables). */
void ldl_pool_give(lua_State *L, const void *key, lua_Integer max) {
  push_pool(L, key);                                  /* t, pool */
  lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
  if (n < max) {
    lua_pushvalue(L, -2);
    lua_rawseti(L, -2, n + 1);
  }
  lua_pop(L, 2);
}

/* Pushes the Parameters table of the table at -1, made when fresh. */
void ldl_pushparameters(lua_State *L, int fresh) {
  if (!fresh) {
    lua_getfield(L, -1, "Parameters");
    return;
  }
  lua_createtable(L, 0, 3);                           /* t, params */
  lua_createtable(L, 0, 3);                           /* t, params, rw */
  lua_pushvalue(L, -1);
  lua_setfield(L, -3, "Read");
  lua_setfield(L, -2, "Write");
  lua_createtable(L, 0, 3);
  lua_setfield(L, -2, "DeviceIoControl");
  lua_pushvalue(L, -1);
  lua_setfield(L, -3, "Parameters");
}

/* Pushes a new table of counters. */
void ldl_pushints(lua_State *L, const ldl_int *f, size_t n, int extra) {
  lua_createtable(L, 0, (int)n + extra);
  for (size_t i = 0; i < n; i++) ldl_setint(L, f[i].name, (lua_Integer)f[i].v);
}

/* Sets field k of the table at -1 to v. */
void ldl_setint(lua_State *L, const char *k, lua_Integer v) {
  lua_pushinteger(L, v);
  lua_setfield(L, -2, k);
}

/* Sets metatable(name).__fields = { field = true, ... }. */
void ldl_setfields(lua_State *L, const char *name, const char *const fields[]) {
  luaL_getmetatable(L, name);
  lua_newtable(L);
  for (size_t i = 0; fields[i] != NULL; i++) {
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, fields[i]);
  }
  lua_setfield(L, -2, "__fields");
  lua_pop(L, 1);
}

/* An empty method list. */
const luaL_Reg ldl_no_methods[] = { {NULL, NULL} };

/* Adds methods to the method table of class `name`. */
void ldl_addmethods(lua_State *L, const char *name, const luaL_Reg *methods) {
  luaL_getmetatable(L, name);
  lua_getfield(L, -1, "__methods");
  luaL_setfuncs(L, methods, 0);
  lua_pop(L, 2);
}

/* Pushes a new handle of class `name` for obj owned by the machine at `machine`. */
lobject *ldl_newobject(lua_State *L, const char *name, int machine, void *obj) {
  machine = lua_absindex(L, machine);
  lobject *h = lua_newuserdatauv(L, sizeof *h, 2);
  h->owner = lua_touserdata(L, machine);
  h->obj = obj;
  h->gone = NULL;
  h->pin = 0;
  lua_pushvalue(L, machine);
  lua_setiuservalue(L, -2, 1);  /* the handle keeps its machine alive */
  luaL_setmetatable(L, name);
  return h;
}

static void *test_metatable(lua_State *L, void *p, const char *name);

/* Returns the userdata at arg if its metatable is class `name`'s, else
** NULL: luaL_testudata without looking `name` up in the registry. A class
** metatable (luaL_newmetatable's, with __name) carries a pointer to its
** name at [CLASS_SLOT], set on its first check. */
void *ldl_testclass(lua_State *L, int arg, const char *name) {
  void *p = lua_touserdata(L, arg);
  if (p == NULL || !lua_getmetatable(L, arg)) return NULL;
  const void *mt = lua_topointer(L, -1);
  unsigned slot = mt_slot(mt);
  if (mt_cache[slot].mt == mt && mt_cache[slot].name == name) {
    lua_pop(L, 1);
    return p;
  }
  p = test_metatable(L, p, name);
  if (p) {
    mt_cache[slot].mt = mt;
    mt_cache[slot].name = name;
  }
  return p;
}

/* ldl_testclass without the cache: the metatable at -1 (popped). */
static void *test_metatable(lua_State *L, void *p, const char *name) {
  const char *cls = NULL;
  if (lua_rawgeti(L, -1, CLASS_SLOT) == LUA_TLIGHTUSERDATA) cls = lua_touserdata(L, -1);
  lua_pop(L, 1);
  if (cls == name) {  /* the usual case: the same literal as last time */
    lua_pop(L, 1);
    return p;
  }
  if (cls) {
    int same = strcmp(cls, name) == 0;
    if (same) {  /* remember this spelling of the name: next time no strcmp */
      lua_pushlightuserdata(L, (void *)name);
      lua_rawseti(L, -2, CLASS_SLOT);
    }
    lua_pop(L, 1);
    return same ? p : NULL;
  }
  /* first check of this metatable: remember its __name (kept alive by it);
  ** only C code (or the debug library) sets a userdata's metatable */
  if (lua_getfield(L, -1, "__name") == LUA_TSTRING) {
    cls = lua_tostring(L, -1);
    lua_pushlightuserdata(L, (void *)cls);
    lua_rawseti(L, -3, CLASS_SLOT);
  }
  lua_pop(L, 2);
  return cls && strcmp(cls, name) == 0 ? p : NULL;
}

/* luaL_checkudata by ldl_testclass (the same error when it fails). */
void *ldl_checkclass(lua_State *L, int arg, const char *name) {
  void *p = ldl_testclass(L, arg, name);
  return p ? p : luaL_checkudata(L, arg, name);
}

/* Pushes the current machine (nil if none was made current). */
void ldl_pushcurrentvalue(lua_State *L) { lua_rawgetp(L, LUA_REGISTRYINDEX, &CURRENT_KEY); }

/* __index's method lookup: pushes methods[key] (the table at `methods`,
** key at 2) by a raw get of the key as it came, and returns its type. */
int ldl_getmethod(lua_State *L, int methods) {
  lua_pushvalue(L, 2);
  return lua_rawget(L, methods);
}

/* A new machine id. */
unsigned ldl_newmachineid(void) {
  static unsigned next;
  return ++next;
}

/* The machine of argument i if it is a machine or an object handle (whose
** uservalue 1 is its machine handle), else NULL. */
static const lmachine *arg_machine(lua_State *L, int i) {
  if (lua_type(L, i) != LUA_TUSERDATA) return NULL;
  const lmachine *lm = ldl_testclass(L, i, LDL_MACHINE);
  if (lm) return lm;
  if (lua_getiuservalue(L, i, 1) == LUA_TUSERDATA) lm = ldl_testclass(L, -1, LDL_MACHINE);
  lua_pop(L, 1);
  return lm;
}

/* The usual case, decided without a class check: the call's first userdata
** is the machine `owner` itself or holds it as its uservalue 1 (only the
** module's handles hold a machine handle there). */
static int first_is_owner(lua_State *L, int arg, const lmachine *owner) {
  for (int i = 1; i < arg; i++) {
    if (lua_type(L, i) != LUA_TUSERDATA) continue;
    if (lua_touserdata(L, i) == owner) return 1;
    lua_getiuservalue(L, i, 1);
    int same = lua_touserdata(L, -1) == owner;
    lua_pop(L, 1);
    return same;
  }
  return 1;  /* no object before arg */
}

/* Raises unless owner is the machine of the call's first object. */
void ldl_checkowner(lua_State *L, int arg, const lmachine *owner, const char *what) {
  if (arg <= 1) return;  /* the first object decides; negative: not an argument */
  if (first_is_owner(L, arg, owner)) return;
  for (int i = 1; i < arg; i++) {
    const lmachine *lm = arg_machine(L, i);
    if (!lm) continue;
    if (lm != owner)
      luaL_argerror(L, arg, lua_pushfstring(L, "%s of machine#%d, the call is on machine#%d: "
                                               "objects of two machines cannot be mixed", what,
                                               (int)owner->id, (int)lm->id));
    return;
  }
}

/* Checks a live object of class `name` of the call's machine. */
lobject *ldl_checkobject(lua_State *L, int arg, const char *name, const char *what) {
  lobject *h = ldl_checkclass(L, arg, name);
  if (h->owner->m == NULL) luaL_argerror(L, arg, "its machine is closed");
  if (h->obj == NULL) luaL_argerror(L, arg, lua_pushfstring(L, "%s has been freed", what));
  ldl_checkowner(L, arg, h->owner, what);
  return h;
}

/* Checks an open machine. */
lmachine *ldl_checkmachine(lua_State *L, int arg) {
  lmachine *lm = ldl_checkclass(L, arg, LDL_MACHINE);
  if (lm->m == NULL) luaL_argerror(L, arg, "machine is closed");
  return lm;
}

/* Pushes the machine handle owning the object at `arg`. */
void ldl_pushowner(lua_State *L, int arg) { lua_getiuservalue(L, arg, 1); }

/* Pushes the current machine and returns it. */
lmachine *ldl_current(lua_State *L, const char *fname) {
  lua_rawgetp(L, LUA_REGISTRYINDEX, &CURRENT_KEY);
  lmachine *lm = ldl_testclass(L, -1, LDL_MACHINE);
  if (lm == NULL || lm->m == NULL)
    luaL_error(L, "%s: no machine (create one with dma.machine{})", fname);
  return lm;
}

/* The current machine, from the cache when it is this state's. */
lmachine *ldl_currentlm(lua_State *L, const char *fname) {
  const void *reg = lua_topointer(L, LUA_REGISTRYINDEX);
  lmachine *lm = current_cache.registry == reg ? current_cache.lm : NULL;
  if (lm == NULL) {
    lm = ldl_current(L, fname);
    lua_pop(L, 1);
    current_cache.registry = reg;
    current_cache.lm = lm;
  }
  if (lm->m == NULL) luaL_error(L, "%s: no machine (create one with dma.machine{})", fname);
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
  lua_rawsetp(L, LUA_REGISTRYINDEX, &CURRENT_KEY);
  current_cache.registry = NULL;  /* ldl_currentlm looks it up again */
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
    if (v > (uint64_t)LUA_MAXINTEGER)  /* as an integer it would read as negative */
      luaL_argerror(L, arg, "size beyond math.maxinteger");
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

/* Raises the error of a memory access that failed with rc. */
static int access_error(lua_State *L, dl_machine *m, int rc, int arg, const char *miss) {
  if (rc == DL_ENOTMAPPED && miss) return luaL_argerror(L, arg, miss);
  if (rc == DL_ELIMIT) return ldl_limiterror(L, m, arg, "a write to simulated memory", 0);
  return ldl_statuserror(L, arg, rc, NULL);
}

/* Raises if len bytes are more than one string may take. */
void ldl_checkstringlen(lua_State *L, int arg, uint64_t len) {
  if (len > LDL_MAX_STRING)
    luaL_argerror(L, arg, lua_pushfstring(L, "%I bytes is more than one string may hold (%I)",
                                          (lua_Integer)len, (lua_Integer)LDL_MAX_STRING));
}

/* Pushes a UNICODE_STRING table. */
void ldl_pushunicode(lua_State *L, const char *s) {
  size_t n = strlen(s);
  lua_createtable(L, 0, 3);
  lua_pushstring(L, s);
  lua_setfield(L, -2, "Buffer");
  lua_pushinteger(L, (lua_Integer)(2 * n));
  lua_setfield(L, -2, "Length");
  lua_pushinteger(L, (lua_Integer)(2 * n + 2));
  lua_setfield(L, -2, "MaximumLength");
}

/* Pushes len bytes read by rd as a string. */
int ldl_pushread(lua_State *L, ldl_reader rd, dl_machine *m, uint64_t at, uint64_t len, int arg,
                 const char *miss) {
  ldl_checkstringlen(L, arg, len);
  luaL_Buffer b;
  char *p = luaL_buffinitsize(L, &b, (size_t)len);
  int rc = rd(m, at, p, len);
  if (rc) return access_error(L, m, rc, arg, miss);
  luaL_pushresultsize(&b, (size_t)len);
  return 1;
}

/* Writes the string at `bytes` with wr. */
int ldl_write(lua_State *L, ldl_writer wr, dl_machine *m, uint64_t at, int bytes, int arg,
              const char *miss) {
  size_t len;
  const char *s = luaL_checklstring(L, bytes, &len);
  int rc = wr(m, at, s, len);
  return rc ? access_error(L, m, rc, arg, miss) : 0;
}

/* Raises an argument error carrying a core status. */
int ldl_statuserror(lua_State *L, int arg, int status, const char *detail) {
  const char *text = dl_strerror(status);
  if (detail) text = lua_pushfstring(L, "%s: %s", text, detail);
  return luaL_argerror(L, arg, text);
}

/* Pushes registry[key], creating it as a table with mode `mode`. */
static void push_weak(lua_State *L, const char *key, const char *mode) {
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, key) == LUA_TTABLE) return;
  lua_pop(L, 1);
  lua_newtable(L);
  lua_createtable(L, 0, 1);
  lua_pushstring(L, mode);
  lua_setfield(L, -2, "__mode");
  lua_setmetatable(L, -2);
  lua_pushvalue(L, -1);
  lua_rawsetp(L, LUA_REGISTRYINDEX, key);
}

/* A machine handle is found from its lmachine through a registry
** reference (an integer key: no pointer hashing on the hot path) to a box,
** a table with weak values whose [1] is the handle: the registry keeps the
** box, not the machine, so a dropped machine is still collected. */
void ldl_setmachinehandle(lua_State *L, int arg) {
  arg = lua_absindex(L, arg);
  lmachine *lm = lua_touserdata(L, arg);
  if (lm->self > 0 && lua_rawgeti(L, LUA_REGISTRYINDEX, lm->self) == LUA_TTABLE) {
    lua_pushvalue(L, arg);
    lua_rawseti(L, -2, 1);
    lua_pop(L, 1);
    return;
  }
  if (lm->self > 0) lua_pop(L, 1);
  lua_createtable(L, 1, 0);
  lua_createtable(L, 0, 1);
  lua_pushliteral(L, "v");
  lua_setfield(L, -2, "__mode");
  lua_setmetatable(L, -2);
  lua_pushvalue(L, arg);
  lua_rawseti(L, -2, 1);
  lm->self = luaL_ref(L, LUA_REGISTRYINDEX);
}

/* Forgets the machine handle of lm. */
void ldl_forgetmachinehandle(lua_State *L, lmachine *lm) {
  if (lm->self > 0) luaL_unref(L, LUA_REGISTRYINDEX, lm->self);
  lm->self = LUA_NOREF;
}

/* The core tells the binding an object with a handle is going away: the
** handle is marked freed now (no Lua state is needed) and unpinned at the
** end of the engine call (ldl_unpin). */
static void on_gone(struct dl_object *o) {
  lobject *h = o->data;
  h->obj = NULL;
  h->gone = h->owner->gone;
  h->owner->gone = h;
}

/* Gives the machine handle at arg its pin table and the core hook. The
** pin table holds each live object's handle under an integer key made by
** luaL_ref (the handle's `pin`), `false` while the handle is unpinned (then
** the weak LOOSE table has it under the same key): a key stays taken until
** its object goes, and integer keys are the cheapest lookups Lua has. */
void ldl_initpins(lua_State *L, int arg) {
  lmachine *lm = lua_touserdata(L, arg);
  lua_newtable(L);
  lua_setiuservalue(L, arg, 1);
  lua_newtable(L);
  lua_setiuservalue(L, arg, 2);
  dl_machine_on_gone(lm->m, on_gone);
}

/* Unpins the handles of objects that went away; their keys are free again. */
void ldl_unpin(lua_State *L, lmachine *lm) {
  if (!lm->gone) return;
  ldl_pushmachine(L, lm->m);
  if (lua_type(L, -1) != LUA_TUSERDATA)  /* never: __gc puts its machine back (m_gc) */
    luaL_error(L, "machine#%d has no handle (collected)", (int)lm->id);
  if (lua_getiuservalue(L, -1, 1) == LUA_TTABLE) {
    for (lobject *h = lm->gone; h; h = h->gone) {
      if (h->pin > 0) luaL_unref(L, -1, h->pin);
      h->pin = 0;
    }
  }
  lua_pop(L, 2);
  lm->gone = NULL;
}

/* Pushes the pinned (or loose) handle h from the pin table at -1, or
** nothing and returns 0 if it was collected. */
static int push_pinned(lua_State *L, lobject *h) {
  if (h->pin <= 0) return 0;
  if (lua_rawgeti(L, -1, h->pin) != LUA_TUSERDATA) {  /* unpinned */
    lua_pop(L, 1);
    push_weak(L, &LOOSE_KEY, "v");
    lua_rawgeti(L, -1, h->pin);
    lua_remove(L, -2);
  }
  if (lua_touserdata(L, -1) == h) return 1;
  lua_pop(L, 1);
  return 0;
}

/* Pushes the one handle of a core object, creating and pinning it. */
void ldl_pushobject(lua_State *L, const char *name, struct dl_object *o) {
  if (o == NULL) {
    lua_pushnil(L);
    return;
  }
  lmachine *lm = dl_machine_data(o->m);
  if (lm->gone) ldl_unpin(L, lm);                /* handles of objects gone since */
  ldl_pushmachine(L, o->m);                      /* machine */
  lua_getiuservalue(L, -1, 1);                   /* machine, pins */
  lobject *old = o->data;
  if (old && push_pinned(L, old)) {              /* machine, pins, handle */
    lua_replace(L, -3);
    lua_pop(L, 1);
    return;
  }
  if (old && old->pin > 0) {  /* collected, its __gc not yet run: its key goes */
    luaL_unref(L, -1, old->pin);
    old->pin = 0;
  }
  lobject *h = ldl_newobject(L, name, -2, o);    /* machine, pins, handle */
  o->data = h;
  lua_pushvalue(L, -1);
  h->pin = luaL_ref(L, -3);
  lua_replace(L, -3);
  lua_pop(L, 1);
}

/* Pushes the Lua state table of the object handle at arg. */
void ldl_pushstate(lua_State *L, int arg) {
  arg = lua_absindex(L, arg);
  if (lua_getiuservalue(L, arg, 2) == LUA_TTABLE) return;
  lua_pop(L, 1);
  lua_newtable(L);
  lua_pushvalue(L, -1);
  lua_setiuservalue(L, arg, 2);
}

/* Starts an engine call on the machine of lm. */
void ldl_enter(lua_State *L, lmachine *lm, ldl_call *c) {
  lm->L = L;
  c->lm = lm;
  c->reports = dl_verifier_count(lm->m);
}

/* Ends an engine call. */
void ldl_leave(lua_State *L, ldl_call *c) {
  ldl_checkreports(L, c->lm, c->reports);
}

/* Returns 1 if the engine call made a verifier report (the machine records). */
int ldl_reported(const ldl_call *c) {
  return c->lm->m && dl_verifier_count(c->lm->m) > c->reports;
}

/* Pins (or unpins) the handle at arg of a header object in its machine. */
void ldl_setpinned(lua_State *L, int arg, int pinned) {
  arg = lua_absindex(L, arg);
  lobject *h = lua_touserdata(L, arg);
  if (!h->owner->m || h->pin <= 0) return;
  ldl_pushowner(L, arg);
  if (lua_getiuservalue(L, -1, 1) == LUA_TTABLE) {
    if (pinned) lua_pushvalue(L, arg);
    else lua_pushboolean(L, 0);  /* the key stays taken (see ldl_initpins) */
    lua_rawseti(L, -2, h->pin);
  }
  push_weak(L, &LOOSE_KEY, "v");  /* where ldl_pushobject finds it while unpinned */
  if (pinned) lua_pushnil(L);
  else lua_pushvalue(L, arg);
  lua_rawseti(L, -2, h->pin);
  lua_pop(L, 3);
}

/* Gives back the pin-table key of the handle at arg (its object is about
** to go without telling it: ldl_detach). */
static void release_pin(lua_State *L, int arg) {
  lobject *h = lua_touserdata(L, arg);
  if (h->pin <= 0 || !h->owner->m) return;
  ldl_pushowner(L, arg);
  if (lua_getiuservalue(L, -1, 1) == LUA_TTABLE) luaL_unref(L, -1, h->pin);
  push_weak(L, &LOOSE_KEY, "v");
  lua_pushnil(L);
  lua_rawseti(L, -2, h->pin);
  lua_pop(L, 3);
  h->pin = 0;
}

/* Detaches the unpinned handle at arg from its object (for __gc/__close):
** the object no longer names it, so freeing the object tells nobody; its
** pin-table key is free again. */
void *ldl_detach(lua_State *L, int arg) {
  arg = lua_absindex(L, arg);
  lobject *h = lua_touserdata(L, arg);
  struct dl_object *o = h->obj;
  if (o && o->data == h) release_pin(L, arg);
  h->obj = NULL;
  if (!o || o->data != h) return NULL;  /* the object has another handle now */
  o->data = NULL;
  return o;
}

/* Pushes the set of tables dma.export filled (weak keys). */
void ldl_pushenvs(lua_State *L) { push_weak(L, &ENVS_KEY, "k"); }

/* Pushes the handle of a core machine (nil if it has none). */
void ldl_pushmachine(lua_State *L, dl_machine *m) {
  lmachine *lm = m ? dl_machine_data(m) : NULL;
  if (!lm || lm->self <= 0 || lua_rawgeti(L, LUA_REGISTRYINDEX, lm->self) != LUA_TTABLE) {
    if (lm && lm->self > 0) lua_pop(L, 1);
    lua_pushnil(L);
    return;
  }
  lua_rawgeti(L, -1, 1);
  lua_remove(L, -2);
}

/* Pushes the machine's table of pending callbacks (uservalue 2 of its
** handle: no registry reference keeps a dropped machine alive). */
void ldl_pushcallbacks(lua_State *L, lmachine *lm) {
  int top = lua_gettop(L);
  ldl_pushmachine(L, lm->m);
  if (lua_type(L, -1) != LUA_TUSERDATA || lua_getiuservalue(L, -1, 2) != LUA_TTABLE) {
    lua_settop(L, top);
    lua_newtable(L);  /* a machine without a handle has nothing pending */
    return;
  }
  lua_remove(L, -2);
}

/* Remembers fn and ctx: the function at [ref], the value at [-ref]. */
int ldl_keepcallback(lua_State *L, lmachine *lm, int fn, int ctx) {
  fn = lua_absindex(L, fn);
  ctx = lua_absindex(L, ctx);
  ldl_pushcallbacks(L, lm);
  lua_pushvalue(L, fn);
  int ref = luaL_ref(L, -2);
  lua_pushvalue(L, ctx);
  lua_rawseti(L, -2, -ref);
  lua_pop(L, 1);
  return ref;
}

/* Pushes the function and value kept under ref and forgets them. */
void ldl_takecallback(lua_State *L, lmachine *lm, int ref) {
  ldl_pushcallbacks(L, lm);
  lua_rawgeti(L, -1, ref);
  lua_rawgeti(L, -2, -ref);
  lua_pushnil(L);
  lua_rawseti(L, -4, -ref);
  luaL_unref(L, -3, ref);
  lua_remove(L, -3);
}

/* ---- instruction limits -------------------------------------------------- */

/* Lua instructions between two calls of the count hook (fewer if a limit is
** smaller). */
#define LIMIT_STEP 1000

/* One callback under the count hook: on the C stack of ldl_callback, found
** by the hook through the registry (a hook gets no pointer of its own). */
typedef struct limit_frame {
  lmachine *lm;                   /* NULL: no limits, no hook */
  const char *what, *of;
  uint64_t id;
  uint64_t count;                 /* instructions run by this callback */
  int step;                       /* instructions per hook call */
  int struck;                     /* a limit struck: raise at each instruction */
  lua_Hook hook;                  /* the hook to put back after */
  int mask, hookcount;
  struct limit_frame *outer;      /* the callback this one runs inside */
} limit_frame;

/* A hook that was there before the count hook (dmalab test's own count
** hook, a debugger's): the count hook takes its place for good and calls it
** on with its events and cadence, since lua_sethook restarts the count and
** swapping hooks at each callback would keep a counting hook from firing. */
typedef struct limit_chain {
  lua_Hook hook;
  int mask;
} limit_chain;

/* The innermost callback under the count hook, and the hook the count hook
** took the place of. Per thread, as a Lua state runs on one thread at a
** time; C statics rather than registry entries, because ldl_callback runs
** for every callback and a registry lookup by address costs a hash. */
static _Thread_local limit_frame *innermost;
static _Thread_local limit_chain chain;

/* Names the callback the next ldl_callback makes. */
void ldl_where(lmachine *lm, const char *what, const char *of, uint64_t id) {
  lm->where = what;
  lm->where_of = of;
  lm->where_id = id;
}

static void limit_hook(lua_State *L, lua_Debug *ar);

/* Raises "limit: <which> exceeded N Lua instructions (in <where>)", and again
** at each instruction after, so a pcall in the runaway code cannot go on. */
static void limit_strike(lua_State *L, limit_frame *f, const char *which, uint64_t n,
                         const char *unit) {
  if (!f->struck) lua_sethook(L, limit_hook, LUA_MASKCOUNT, 1);
  f->struck = 1;
  if (f->what && f->of)
    lua_pushfstring(L, "%s of %s#%I", f->what, f->of, (lua_Integer)f->id);
  else
    lua_pushstring(L, f->what ? f->what : "a Lua callback");
  luaL_error(L, "limit: %s exceeded %I %s (in %s)", which, (lua_Integer)n, unit, lua_tostring(L, -1));
}

/* Bytes of the Lua heap; 0 when the collector cannot say (inside a
** finalizer, where lua_gc answers -1). */
static uint64_t lua_heap(lua_State *L) {
  int kb = lua_gc(L, LUA_GCCOUNT, 0), b = lua_gc(L, LUA_GCCOUNTB, 0);
  return kb < 0 || b < 0 ? 0 : (uint64_t)kb * 1024 + (uint64_t)b;
}

/* 1 if the Lua heap is past the limit even after a full collection (run
** only once the count says so: what is garbage does not count). */
static int over_memory(lua_State *L, uint64_t limit) {
  if (lua_heap(L) <= limit) return 0;
  lua_gc(L, LUA_GCCOLLECT, 0);
  return lua_heap(L) > limit;
}

/* Checks the frame's limits after `step` more instructions. */
static void limit_count(lua_State *L, limit_frame *f) {
  lmachine *lm = f->lm;
  if (!f->struck) {
    f->count += (uint64_t)f->step;
    lm->run_count += (uint64_t)f->step;
  }
  if (lm->limit_callback && f->count >= lm->limit_callback)
    limit_strike(L, f, "callback", lm->limit_callback, "Lua instructions");
  if (lm->limit_run && lm->run_count >= lm->limit_run)
    limit_strike(L, f, "run", lm->limit_run, "Lua instructions");
  if (lm->limit_lua_memory && over_memory(L, lm->limit_lua_memory))
    limit_strike(L, f, "lua_memory", lm->limit_lua_memory, "bytes of Lua heap");
}

/* The count hook: counts for the innermost callback and its run; passes
** the events a hook it took the place of asked for on to it. */
static void limit_hook(lua_State *L, lua_Debug *ar) {
  limit_frame *f = innermost;
  if (f && f->struck) limit_count(L, f);
  int bit = ar->event == LUA_HOOKTAILCALL ? LUA_MASKCALL : 1 << ar->event;
  if (chain.hook && (chain.mask & bit)) chain.hook(L, ar);
  if (f && ar->event == LUA_HOOKCOUNT) limit_count(L, f);
}

/* Installs the count hook for a callback on lm (nothing if it has no limits). */
static void limit_enter(lua_State *L, lmachine *lm, limit_frame *f) {
  f->lm = NULL;
  f->what = lm->where;
  f->of = lm->where_of;
  f->id = lm->where_id;
  lm->where = NULL;
  if (!lm->limit_callback && !lm->limit_run && !lm->limit_lua_memory) return;
  if (!lm->running && lm->depth == 0) lm->run_count = 0;  /* a call from the top level */
  f->lm = lm;
  f->count = 0;
  f->struck = 0;
  lua_Hook h = lua_gethook(L);
  int mask = lua_gethookmask(L), count = lua_gethookcount(L);
  if (h == NULL) {  /* the usual case: the hook is there during the callback only */
    uint64_t step = LIMIT_STEP;
    if (lm->limit_callback && lm->limit_callback < step) step = lm->limit_callback;
    if (lm->limit_run && lm->limit_run < step) step = lm->limit_run;
    chain.hook = NULL;
    lua_sethook(L, limit_hook, LUA_MASKCOUNT, (int)step);
    if (lm->limit_run && lm->run_count >= lm->limit_run)  /* short callbacks went over it */
      lua_sethook(L, limit_hook, LUA_MASKCOUNT, 1);       /* struck at the first instruction */
  } else if (h != limit_hook) {  /* take the place of the hook found */
    chain.hook = h;
    chain.mask = mask;
    if (!(mask & LUA_MASKCOUNT) || count <= 0) count = LIMIT_STEP;
    lua_sethook(L, limit_hook, mask | LUA_MASKCOUNT, count);
    h = limit_hook;
    mask |= LUA_MASKCOUNT;
  }
  f->hook = h;
  f->mask = mask;
  f->hookcount = count;
  f->step = lua_gethookcount(L);
  f->outer = innermost;
  innermost = f;
}

/* Puts back the hook found (unless the count hook took its place); the
** outer callback counts this one's instructions. */
static void limit_leave(lua_State *L, limit_frame *f) {
  if (f->lm == NULL) return;
  /* the hook restarts its count with each callback: one shorter than its
  ** step never reaches it, so each callback counts at least one
  ** instruction for its run (an interrupt storm of short ISRs, a periodic
  ** DPC, went on for ever) */
  if (!f->struck && f->count == 0 && f->hook == NULL) f->lm->run_count++;
  if (f->hook != limit_hook || f->struck || lua_gethook(L) != limit_hook)
    lua_sethook(L, f->hook, f->mask, f->hookcount);
  if (f->outer) f->outer->count += f->count;
  innermost = f->outer;
}

/* Keeps the error of a failed callback (the first one) for ldl_rethrow. */
static int keep_error(lua_State *L, lmachine *lm, int status) {
  if (status == LUA_OK) return 1;
  if (lm->error == LUA_NOREF) lm->error = luaL_ref(L, LUA_REGISTRYINDEX);
  else lua_pop(L, 1);  /* the first error is the one that matters */
  return 0;
}

/* Calls a Lua callback for the engine; keeps its error for ldl_rethrow.
** While it runs the machine is in use (depth), so it cannot be closed
** under the engine's feet; the instruction limits hold. */
int ldl_callback(lua_State *L, lmachine *lm, int narg, int nres) {
  limit_frame f;
  limit_enter(L, lm, &f);
  lm->depth++;
  int status = dl_docall(L, narg, nres);
  lm->depth--;
  limit_leave(L, &f);
  return keep_error(L, lm, status);
}

/* Like ldl_callback, with the error kept as raised (no traceback). */
int ldl_pcall(lua_State *L, lmachine *lm, int narg, int nres) {
  limit_frame f;
  limit_enter(L, lm, &f);
  lm->depth++;
  int status = lua_pcall(L, narg, nres, 0);
  lm->depth--;
  limit_leave(L, &f);
  return keep_error(L, lm, status);
}

/* Raises the error a callback left, if any. */
void ldl_rethrow(lua_State *L, lmachine *lm) {
  if (lm->error == LUA_NOREF) return;
  lua_rawgeti(L, LUA_REGISTRYINDEX, lm->error);
  luaL_unref(L, LUA_REGISTRYINDEX, lm->error);
  lm->error = LUA_NOREF;
  lua_error(L);
}

/* Number of verifier reports so far. */
uint64_t ldl_reports(lmachine *lm) { return dl_verifier_count(lm->m); }

/* v in upper-case hex, at least `digits` digits (a static buffer per width). */
static const char *hex(uint32_t v, int digits) {
  static char buf[2][16];
  char *b = buf[digits == 1 ? 0 : 1];
  snprintf(b, sizeof buf[0], "%0*X", digits, (unsigned)v);
  return b;
}

/* The bug check's name. */
static const char *bugcheck_name(uint32_t code) {
  switch (code) {
    case DL_BUGCHECK_WDF: return "WDF_VIOLATION";
    case DL_BUGCHECK_IRQL_NOT_GREATER_OR_EQUAL: return "IRQL_NOT_GREATER_OR_EQUAL";
    case DL_BUGCHECK_IRQL_NOT_LESS_OR_EQUAL: return "IRQL_NOT_LESS_OR_EQUAL";
    case DL_BUGCHECK_MULTIPLE_IRP_COMPLETE: return "MULTIPLE_IRP_COMPLETE_REQUESTS";
    case DL_BUGCHECK_DETECTED_VIOLATION: return "DRIVER_VERIFIER_DETECTED_VIOLATION";
    case DL_BUGCHECK_IOMANAGER: return "DRIVER_VERIFIER_IOMANAGER_VIOLATION";
    default: return "DRIVER_VERIFIER_DMA_VIOLATION";
  }
}

/* After an engine call: an error from a callback is raised first (it was
** made inside the call and carries its own traceback); otherwise the newest
** report this call made, unless in record mode or already raised by a call
** nested in a callback. */
void ldl_checkreports(lua_State *L, lmachine *lm, uint64_t before) {
  if (lm->gone && lm->m) ldl_unpin(L, lm);
  uint64_t now = lm->m ? dl_verifier_count(lm->m) : 0;
  if (lm->error != LUA_NOREF) {
    lm->raised = now;
    ldl_rethrow(L, lm);
  }
  ldl_checkhostlimit(L, lm->m);
  if (lm->record || now <= before || now <= lm->raised) return;
  /* the first report the call made: a real bug check stops at the first */
  const dl_report *r = dl_verifier_at(lm->m, (size_t)(before > lm->raised ? before : lm->raised));
  lm->raised = now;
  if (!r) return;  /* beyond the reports the log keeps */
  /* The DMA and KMDF reports carry their bug check in front; the kernel's and
  ** the I/O manager's messages start with the call, as their errors did. */
  if (r->bugcheck != DL_BUGCHECK_DMA && r->bugcheck != DL_BUGCHECK_WDF)
    luaL_error(L, "%s", r->message);
  char text[sizeof r->message + 64];
  snprintf(text, sizeof text, "%s (0x%X, P1=0x%02X): %s", bugcheck_name(r->bugcheck),
           (unsigned)r->bugcheck, (unsigned)r->p1, r->message);
  luaL_error(L, "%s", text);
}

/* Pushes the text a report raises: "NAME (0xE6, P1=0x0D): message" for the
** DMA and KMDF bug checks, the message alone for the others. */
const char *ldl_pushreporttext(lua_State *L, const dl_report *r) {
  if (r->bugcheck != DL_BUGCHECK_DMA && r->bugcheck != DL_BUGCHECK_WDF)
    return lua_pushstring(L, r->message);
  return lua_pushfstring(L, "%s (0x%s, P1=0x%s): %s", bugcheck_name(r->bugcheck),
                         hex(r->bugcheck, 1), hex(r->p1, 2), r->message);
}

/* Pushes a verifier report as a table. */
void ldl_pushreport(lua_State *L, const dl_report *r) {
  lua_createtable(L, 0, 10);
  lua_pushinteger(L, (lua_Integer)r->seq);
  lua_setfield(L, -2, "seq");
  lua_pushinteger(L, (lua_Integer)r->time);
  lua_setfield(L, -2, "time");
  lua_pushinteger(L, r->bugcheck);
  lua_setfield(L, -2, "bugcheck");
  lua_pushstring(L, bugcheck_name(r->bugcheck));
  lua_setfield(L, -2, "name");
  lua_pushinteger(L, r->p1);
  lua_setfield(L, -2, "p1");
  lua_pushinteger(L, (lua_Integer)r->p2);
  lua_setfield(L, -2, "p2");
  lua_pushinteger(L, (lua_Integer)r->p3);
  lua_setfield(L, -2, "p3");
  lua_pushinteger(L, (lua_Integer)r->p4);
  lua_setfield(L, -2, "p4");
  lua_pushstring(L, r->message);
  lua_setfield(L, -2, "message");
  lua_pushboolean(L, r->leak);
  lua_setfield(L, -2, "leak");
}

/* Pushes the set of live machine handles (weak keys). */
void ldl_pushmachines(lua_State *L) { push_weak(L, &MACHINES_KEY, "k"); }

/* Reads a BOOLEAN argument: true/false, or an integer (0 is FALSE), as C
** drivers pass TRUE, FALSE or 1. */
int ldl_checkbool(lua_State *L, int arg) {
  if (lua_isboolean(L, arg)) return lua_toboolean(L, arg);
  if (lua_isinteger(L, arg)) return lua_tointeger(L, arg) != 0;
  return luaL_typeerror(L, arg, "boolean (TRUE or FALSE)");
}

/* Reads a pool tag: an integer or a string of 1 to 4 characters read as C
** reads the multi-character constant 'Tag1' (first character highest), so
** the verifier's messages show it as the WDK's tools do. */
uint32_t ldl_checktag(lua_State *L, int arg) {
  if (lua_type(L, arg) == LUA_TSTRING) {
    size_t n;
    const char *s = lua_tolstring(L, arg, &n);
    luaL_argcheck(L, n >= 1 && n <= 4, arg, "a tag is 1 to 4 characters ('Tag1') or an integer");
    uint32_t tag = 0;
    for (size_t i = 0; i < n; i++) tag = tag << 8 | (unsigned char)s[i];
    return tag;
  }
  lua_Integer v = luaL_checkinteger(L, arg);
  luaL_argcheck(L, v >= 0 && v <= (lua_Integer)UINT32_MAX, arg, "a tag is a ULONG");
  return (uint32_t)v;
}

/* Reads a POOL_TYPE; returns 1 for paged pool. */
int ldl_checkpooltype(lua_State *L, int arg) {
  lua_Integer t = luaL_checkinteger(L, arg);
  luaL_argcheck(L, (t >= 0 && t <= 7) || t == 512 || t == 516, arg,
                "PoolType must be a POOL_TYPE (NonPagedPool, PagedPool, NonPagedPoolNx...)");
  return (int)(t & 1);
}

/* Raises unless the current IRQL is `level` (exact) or at most `level`. */
void ldl_checkirql(lua_State *L, lmachine *lm, const char *fname, int exact, uint8_t level) {
  uint8_t now = dl_machine_irql(lm->m);
  if (exact ? now != level : now > level)
    luaL_error(L, "%s: called at IRQL %d; it must be called at IRQL %s%d", fname, (int)now,
               exact ? "" : "<= ", (int)level);
}

/* Pushes the handle of a device's CurrentIrp (nil if none). */
void ldl_pushcurrentirp(lua_State *L, struct dl_device *dev) {
  ldl_pushobject(L, LDL_IRP, (struct dl_object *)dl_device_current_irp(dev));
}

#define CLOSE_HOOKS_KEY "dma.closehooks"

/* Adds a teardown hook. */
void ldl_add_close_hook(lua_State *L, lua_CFunction hook) {
  if (lua_getfield(L, LUA_REGISTRYINDEX, CLOSE_HOOKS_KEY) != LUA_TTABLE) {
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, CLOSE_HOOKS_KEY);
  }
  lua_pushcfunction(L, hook);
  lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
  lua_pop(L, 1);
}

/* Runs the close hooks, newest first, for the machine handle at arg. */
void ldl_run_close_hooks(lua_State *L, int arg) {
  arg = lua_absindex(L, arg);
  if (lua_getfield(L, LUA_REGISTRYINDEX, CLOSE_HOOKS_KEY) != LUA_TTABLE) {
    lua_pop(L, 1);
    return;
  }
  for (lua_Integer i = (lua_Integer)lua_rawlen(L, -1); i >= 1; i--) {
    lua_rawgeti(L, -1, i);
    lua_pushvalue(L, arg);
    lua_call(L, 1, 0);
  }
  lua_pop(L, 1);
}

/* Exports a table of Windows values into the table at -1. */
void ldl_setvalues(lua_State *L, const dl_wdk_value *table, size_t n) {
  for (size_t i = 0; i < n; i++) {
    lua_pushinteger(L, (lua_Integer)table[i].value);
    lua_setfield(L, -2, table[i].name);
  }
}

/* Edit distance of a and b when both are short, else a large number. */
static size_t edit_distance(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b), row[64];
  if (la >= 64 || lb >= 64) return SIZE_MAX;
  for (size_t j = 0; j <= lb; j++) row[j] = j;
  for (size_t i = 1; i <= la; i++) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= lb; j++) {
      size_t up = row[j], best = diag + (a[i - 1] != b[j - 1]);
      if (up + 1 < best) best = up + 1;
      if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
      diag = up;
      row[j] = best;
    }
  }
  return row[lb];
}

/* Finds the first key of the table at arg not in valid; if there is one,
** pushes its name and the list "a, b, c" of the valid keys and returns 1. */
static int unknown_key(lua_State *L, int arg, const char *const valid[]) {
  arg = lua_absindex(L, arg);
  if (!lua_istable(L, arg)) return 0;
  for (lua_pushnil(L); lua_next(L, arg); lua_pop(L, 1)) {
    const char *key = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
    size_t i = 0;
    while (key && valid[i] && strcmp(key, valid[i]) != 0) i++;
    if (key && valid[i]) continue;
    luaL_tolstring(L, -2, NULL);  /* key, value, name */
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (i = 0; valid[i]; i++) {
      if (i) luaL_addstring(&b, ", ");
      luaL_addstring(&b, valid[i]);
    }
    luaL_pushresult(&b);
    return 1;
  }
  return 0;
}

/* Rejects an unknown key of an options table, naming it and the valid ones. */
void ldl_checkoptions(lua_State *L, int arg, const char *fname, const char *const valid[]) {
  if (!unknown_key(L, arg, valid)) return;
  const char *key = lua_tostring(L, -2), *near = NULL;
  size_t best = 3;  /* suggest only a near miss: at most 2 edits */
  for (size_t i = 0; valid[i]; i++) {
    size_t d = edit_distance(key, valid[i]);
    if (d < best) best = d, near = valid[i];
  }
  if (near) lua_pushfstring(L, ", did you mean '%s'?", near);
  else lua_pushliteral(L, "");
  luaL_argerror(L, arg, lua_pushfstring(L, "%s: unknown field '%s'%s (valid: %s)", fname, key,
                                        lua_tostring(L, -1), lua_tostring(L, -2)));
}

/* Rejects a key that is not a field of a WDK structure, in its wording. */
void ldl_checkfields(lua_State *L, int arg, const char *fmt, const char *const valid[]) {
  if (!unknown_key(L, arg, valid)) return;
  luaL_argerror(L, arg, lua_pushfstring(L, fmt, lua_tostring(L, -2), lua_tostring(L, -1)));
}
