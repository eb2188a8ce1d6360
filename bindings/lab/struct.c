/*
** struct.c: dma.struct, the lab's way to declare a C structure once and
** read and write it in simulated memory as the C driver does:
**
**   local DESC = dma.struct{ {"Status","ULONG"}, {"Link","ULONG"},
**                            {"BufferAddress","ULONG64"}, {"Length","USHORT"} }
**   local d = DESC:at(m, va)        d.Status = 1    DESC.size == 24
**   local ring = DESC:array(m, va, 16)   ring[0].Length   (0-based, as in C)
**
** A field is {name, type [, count]}: type a scalar type name ("UCHAR",
** "USHORT", "ULONG", "ULONG64", "PHYSICAL_ADDRESS"...) or another struct
** type (nested); count makes it an array. Offsets follow C's natural
** alignment (core/base/dl_layout.h). Reading or writing a scalar field
** allocates nothing: the field is found by a raw table lookup and read
** with one typed access (core/kernel/dl_rtl.h).
*/
#include <stdio.h>
#include <string.h>

#include "base/dl_layout.h"
#include "base/dl_status.h"
#include "kernel/dl_rtl.h"
#include "../ldl.h"

#define LDL_CSTRUCT "struct type"
#define LDL_CVIEW "struct view"
#define LDL_CARRAY "struct array"

typedef struct cfield {
  uint64_t offset, count;
  uint8_t size, is_signed;   /* scalar element; size 0 for a nested struct */
} cfield;

typedef struct ctype {
  uint64_t size;
  uint32_t align, nfields;
  cfield f[];
} ctype;

/* A view: one struct at va (uservalue 1 its type, 2 its machine). */
typedef struct cview {
  const ctype *t;
  lmachine *lm;
  uint64_t va;
} cview;

/* An array: count elements of a struct type (uservalue 1) or of a scalar field. */
typedef struct carray {
  const ctype *t;            /* NULL for scalars */
  lmachine *lm;
  uint64_t va, count, stride;
  uint8_t size, is_signed;
} carray;

/* ---- declaring --------------------------------------------------------------- */

/* Reads field spec i (the table at -1) into f; pushes nothing. `names`,
** `subs`: the new type's lookup tables (absolute indexes). */
static void read_field(lua_State *L, int i, cfield *f, dl_layout *l, int names, int subs) {
  luaL_argcheck(L, lua_istable(L, -1), 1, lua_pushfstring(L, "field %d must be {name, type [, count]}", i));
  lua_rawgeti(L, -1, 1);
  const char *name = lua_tostring(L, -1);
  luaL_argcheck(L, name && lua_type(L, -1) == LUA_TSTRING, 1,
                lua_pushfstring(L, "field %d: its name (a string) comes first", i));
  lua_pushvalue(L, -1);
  luaL_argcheck(L, lua_rawget(L, names) == LUA_TNIL, 1, lua_pushfstring(L, "field '%s' twice", name));
  lua_pop(L, 1);
  lua_rawgeti(L, -2, 3);
  lua_Integer count = luaL_optinteger(L, -1, 1);
  lua_pop(L, 1);
  luaL_argcheck(L, count >= 1, 1, lua_pushfstring(L, "field '%s': count must be >= 1", name));
  lua_rawgeti(L, -2, 2);
  uint64_t size, align;
  ctype *sub = ldl_testclass(L, -1, LDL_CSTRUCT);
  if (sub) {
    size = sub->size;
    align = sub->align;
    f->size = 0;
    lua_rawseti(L, subs, i);
  } else {
    const dl_ctype *ct = lua_type(L, -1) == LUA_TSTRING ? dl_ctype_find(lua_tostring(L, -1)) : NULL;
    luaL_argcheck(L, ct, 1, lua_pushfstring(L, "field '%s': type must be a scalar type name "
                  "(UCHAR, USHORT, ULONG, ULONG64, PHYSICAL_ADDRESS...) or a dma.struct", name));
    size = align = ct->size;
    f->size = ct->size;
    f->is_signed = ct->is_signed;
    lua_pop(L, 1);
  }
  luaL_argcheck(L, dl_layout_add(l, size, (uint32_t)align, (uint64_t)count, &f->offset) == DL_OK, 1,
                lua_pushfstring(L, "field '%s': the structure passes 4 GiB", name));
  f->count = (uint64_t)count;
  lua_pushinteger(L, i);
  lua_rawset(L, names);  /* names[name] = i (the name is at -1) */
}

/* dma.struct{ {name, type [, count]}, ... } -> struct type */
static int s_new(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_Integer n = (lua_Integer)lua_rawlen(L, 1);
  luaL_argcheck(L, n >= 1 && n <= 4096, 1, "1 to 4096 fields expected");
  ctype *t = lua_newuserdatauv(L, sizeof *t + (size_t)n * sizeof t->f[0], 2);  /* 2 */
  memset(t, 0, sizeof *t + (size_t)n * sizeof t->f[0]);
  luaL_setmetatable(L, LDL_CSTRUCT);
  lua_createtable(L, 0, (int)n);  /* 3: names */
  lua_createtable(L, (int)n, 0);  /* 4: subs */
  dl_layout l;
  dl_layout_init(&l);
  for (lua_Integer i = 1; i <= n; i++) {
    lua_rawgeti(L, 1, i);
    read_field(L, (int)i, &t->f[i - 1], &l, 3, 4);
    lua_pop(L, 1);
  }
  t->nfields = (uint32_t)n;
  t->size = dl_layout_finish(&l);
  t->align = l.align;
  lua_setiuservalue(L, 2, 2);
  lua_setiuservalue(L, 2, 1);
  return 1;
}

/* ---- views -------------------------------------------------------------------- */

/* Checks the machine is open. */
static dl_machine *machine_of(lua_State *L, lmachine *lm) {
  if (!lm->m) luaL_error(L, "the machine of this struct view is closed");
  return lm->m;
}

/* Pushes a view of type t (the userdata at type_idx) at va on lm (handle at mach_idx). */
static void push_view(lua_State *L, const ctype *t, int type_idx, lmachine *lm, int mach_idx, uint64_t va) {
  type_idx = lua_absindex(L, type_idx);
  mach_idx = lua_absindex(L, mach_idx);
  cview *v = lua_newuserdatauv(L, sizeof *v, 2);
  v->t = t;
  v->lm = lm;
  v->va = va;
  luaL_setmetatable(L, LDL_CVIEW);
  lua_pushvalue(L, type_idx);
  lua_setiuservalue(L, -2, 1);
  lua_pushvalue(L, mach_idx);
  lua_setiuservalue(L, -2, 2);
}

/* Pushes an array of count elements (a struct type at type_idx, or a scalar). */
static void push_array(lua_State *L, const ctype *t, int type_idx, lmachine *lm, int mach_idx,
                       uint64_t va, uint64_t count, const cfield *scalar) {
  type_idx = type_idx ? lua_absindex(L, type_idx) : 0;
  mach_idx = lua_absindex(L, mach_idx);
  carray *a = lua_newuserdatauv(L, sizeof *a, 2);
  memset(a, 0, sizeof *a);
  a->t = t;
  a->lm = lm;
  a->va = va;
  a->count = count;
  a->stride = t ? t->size : scalar->size;
  if (scalar) {
    a->size = scalar->size;
    a->is_signed = scalar->is_signed;
  }
  luaL_setmetatable(L, LDL_CARRAY);
  if (type_idx) lua_pushvalue(L, type_idx);
  else lua_pushnil(L);
  lua_setiuservalue(L, -2, 1);
  lua_pushvalue(L, mach_idx);
  lua_setiuservalue(L, -2, 2);
}

/* Raises "<what> at 0x...: not mapped memory". */
static int unmapped(lua_State *L, const char *what, uint64_t va) {
  char at[32];
  snprintf(at, sizeof at, "0x%llx", (unsigned long long)va);
  return luaL_error(L, "%s at %s: not mapped memory (a page fault)", what, at);
}

/* Reads a scalar and pushes it. */
static int read_scalar(lua_State *L, lmachine *lm, uint64_t va, unsigned size, int is_signed,
                       const char *what) {
  uint64_t v;
  if (dl_rtl_read_uint(machine_of(L, lm), va, size, &v) != DL_OK)
    return unmapped(L, what, va);
  if (is_signed && size < 8 && (v >> (8 * size - 1)) & 1) v |= ~UINT64_C(0) << (8 * size);
  lua_pushinteger(L, (lua_Integer)v);
  return 1;
}

/* Writes the integer at `arg` as a scalar; it must fit the type. */
static void write_scalar(lua_State *L, lmachine *lm, uint64_t va, unsigned size, int arg, const char *what) {
  int ok;
  lua_Integer v = lua_tointegerx(L, arg, &ok);
  if (!ok) luaL_error(L, "%s: an integer expected, got %s", what, luaL_typename(L, arg));
  if (size < 8) {
    lua_Integer lim = (lua_Integer)1 << (8 * size);
    if (v < -(lim / 2) || v >= lim)
      luaL_error(L, "%s: %I does not fit in %d bytes", what, v, (int)size);
  }
  if (dl_rtl_write_uint(machine_of(L, lm), va, size, (uint64_t)v) != DL_OK)
    unmapped(L, what, va);
}

/* The field of view v called by the string at 2, or NULL. */
static const cfield *field_of(lua_State *L, int type_idx, const ctype *t, int *index) {
  lua_getiuservalue(L, type_idx, 1);
  lua_pushvalue(L, 2);
  int found = lua_rawget(L, -2) == LUA_TNUMBER;
  *index = found ? (int)lua_tointeger(L, -1) : 0;
  lua_pop(L, 2);
  return found ? &t->f[*index - 1] : NULL;
}

/* view.Field -> integer, nested view or array view; view._address, view._type. */
static int v_index(lua_State *L) {
  cview *v = luaL_checkudata(L, 1, LDL_CVIEW);
  lua_getiuservalue(L, 1, 1);  /* 3: the type */
  int i;
  const cfield *f = lua_type(L, 2) == LUA_TSTRING ? field_of(L, 3, v->t, &i) : NULL;
  if (!f) {
    const char *k = lua_tostring(L, 2);
    if (k && strcmp(k, "_address") == 0) lua_pushinteger(L, (lua_Integer)v->va);
    else if (k && strcmp(k, "_type") == 0) lua_pushvalue(L, 3);
    else return luaL_error(L, "the struct has no field '%s'", k ? k : luaL_typename(L, 2));
    return 1;
  }
  uint64_t at = v->va + f->offset;
  if (f->size && f->count == 1) return read_scalar(L, v->lm, at, f->size, f->is_signed, lua_tostring(L, 2));
  lua_getiuservalue(L, 1, 2);  /* 4: the machine */
  if (!f->size) {
    lua_getiuservalue(L, 3, 2);
    lua_rawgeti(L, -1, i);     /* 6: the nested type */
    const ctype *sub = lua_touserdata(L, -1);
    if (f->count == 1) push_view(L, sub, 6, v->lm, 4, at);
    else push_array(L, sub, 6, v->lm, 4, at, f->count, NULL);
  } else {
    push_array(L, NULL, 0, v->lm, 4, at, f->count, f);
  }
  return 1;
}

/* view.Field = integer (scalar fields only). */
static int v_newindex(lua_State *L) {
  cview *v = luaL_checkudata(L, 1, LDL_CVIEW);
  lua_getiuservalue(L, 1, 1);  /* 4 */
  int i;
  const cfield *f = lua_type(L, 2) == LUA_TSTRING ? field_of(L, 4, v->t, &i) : NULL;
  if (!f) return luaL_error(L, "the struct has no field '%s'", luaL_tolstring(L, 2, NULL));
  if (!f->size || f->count != 1)
    return luaL_error(L, "field '%s' is an array or a struct: assign its elements or fields",
                      lua_tostring(L, 2));
  write_scalar(L, v->lm, v->va + f->offset, f->size, 3, lua_tostring(L, 2));
  return 0;
}

/* array[i] (0-based, as in C) -> element; i out of range is an error. */
static uint64_t element(lua_State *L, carray *a) {
  lua_Integer i = luaL_checkinteger(L, 2);
  if (i < 0 || (uint64_t)i >= a->count)
    luaL_error(L, "index %I out of range: the array has %I elements (0 .. %I)", i,
               (lua_Integer)a->count, (lua_Integer)a->count - 1);
  return a->va + (uint64_t)i * a->stride;
}

static int a_index(lua_State *L) {
  carray *a = luaL_checkudata(L, 1, LDL_CARRAY);
  uint64_t at = element(L, a);
  if (!a->t) return read_scalar(L, a->lm, at, a->size, a->is_signed, "array element");
  lua_getiuservalue(L, 1, 1);
  lua_getiuservalue(L, 1, 2);
  push_view(L, a->t, -2, a->lm, -1, at);
  return 1;
}

static int a_newindex(lua_State *L) {
  carray *a = luaL_checkudata(L, 1, LDL_CARRAY);
  uint64_t at = element(L, a);
  if (a->t) return luaL_error(L, "an array of structs: assign the fields of its elements");
  write_scalar(L, a->lm, at, a->size, 3, "array element");
  return 0;
}

static int a_len(lua_State *L) {
  carray *a = luaL_checkudata(L, 1, LDL_CARRAY);
  lua_pushinteger(L, (lua_Integer)a->count);
  return 1;
}

/* ---- the type's methods ---------------------------------------------------------- */

/* T:at(m, va) -> view */
static int t_at(lua_State *L) {
  ctype *t = luaL_checkudata(L, 1, LDL_CSTRUCT);
  lmachine *lm = ldl_checkmachine(L, 2);
  uint64_t va = ldl_checkuint(L, 3);
  push_view(L, t, 1, lm, 2, va);
  return 1;
}

/* T:array(m, va, n) -> n structs back to back (0-based) */
static int t_array(lua_State *L) {
  ctype *t = luaL_checkudata(L, 1, LDL_CSTRUCT);
  lmachine *lm = ldl_checkmachine(L, 2);
  uint64_t va = ldl_checkuint(L, 3), n = ldl_checkuint(L, 4);
  luaL_argcheck(L, n >= 1, 4, "n must be >= 1");
  push_array(L, t, 1, lm, 2, va, n, NULL);
  return 1;
}

/* T:offset(name) -> offset of a field (FIELD_OFFSET) */
static int t_offset(lua_State *L) {
  ctype *t = luaL_checkudata(L, 1, LDL_CSTRUCT);
  luaL_checkstring(L, 2);
  int i;
  const cfield *f = field_of(L, 1, t, &i);
  luaL_argcheck(L, f, 2, "no such field");
  lua_pushinteger(L, (lua_Integer)f->offset);
  return 1;
}

/* T.size (sizeof), T.align, or a method. */
static int t_index(lua_State *L) {
  ctype *t = luaL_checkudata(L, 1, LDL_CSTRUCT);
  const char *k = luaL_checkstring(L, 2);
  if (strcmp(k, "size") == 0) lua_pushinteger(L, (lua_Integer)t->size);
  else if (strcmp(k, "align") == 0) lua_pushinteger(L, t->align);
  else if (ldl_getmethod(L, lua_upvalueindex(1)) == LUA_TNIL) lua_pushnil(L);
  return 1;
}

static int t_tostring(lua_State *L) {
  ctype *t = luaL_checkudata(L, 1, LDL_CSTRUCT);
  lua_pushfstring(L, "struct type (%d fields, size %I, align %d)", (int)t->nfields,
                  (lua_Integer)t->size, (int)t->align);
  return 1;
}

static int v_tostring(lua_State *L) {
  cview *v = luaL_checkudata(L, 1, LDL_CVIEW);
  char at[32];
  snprintf(at, sizeof at, "0x%llx", (unsigned long long)v->va);
  lua_pushfstring(L, "struct view at %s (%I bytes)", at, (lua_Integer)v->t->size);
  return 1;
}

static const luaL_Reg t_meta[] = {{"__tostring", t_tostring}, {NULL, NULL}};
static const luaL_Reg t_methods[] = {{"at", t_at}, {"array", t_array}, {"offset", t_offset}, {NULL, NULL}};
static const luaL_Reg v_meta[] = {
  {"__index", v_index}, {"__newindex", v_newindex}, {"__tostring", v_tostring}, {NULL, NULL}
};
static const luaL_Reg a_meta[] = {
  {"__index", a_index}, {"__newindex", a_newindex}, {"__len", a_len}, {NULL, NULL}
};

/* ---- typed access: m:read_u32(va), m:write_u16(va, v)... --------------------- */

/* m:read_uN(va) -> integer; upvalue 1 the size, 2 the name (for errors). READ_REGISTER_* stays for
** device registers: these read memory, as a driver dereferences a ULONG. */
static int m_read_uint(lua_State *L) {
  lmachine *lm = ldl_checkmachine(L, 1);
  uint64_t va = ldl_checkuint(L, 2);
  unsigned size = (unsigned)lua_tointeger(L, lua_upvalueindex(1));
  return read_scalar(L, lm, va, size, 0, lua_tostring(L, lua_upvalueindex(2)));
}

/* m:write_uN(va, value); upvalues as m:read_uN's. The value must fit. */
static int m_write_uint(lua_State *L) {
  lmachine *lm = ldl_checkmachine(L, 1);
  uint64_t va = ldl_checkuint(L, 2);
  unsigned size = (unsigned)lua_tointeger(L, lua_upvalueindex(1));
  luaL_checkinteger(L, 3);
  write_scalar(L, lm, va, size, 3, lua_tostring(L, lua_upvalueindex(2)));
  return 0;
}

/* Registers dma.struct and its classes in the module at -1. */
void ldl_open_struct(lua_State *L) {
  static const struct { const char *name; int size, write; } typed[] = {
    {"read_u8", 1, 0}, {"read_u16", 2, 0}, {"read_u32", 4, 0}, {"read_u64", 8, 0},
    {"write_u8", 1, 1}, {"write_u16", 2, 1}, {"write_u32", 4, 1}, {"write_u64", 8, 1},
  };
  luaL_getmetatable(L, LDL_MACHINE);
  lua_getfield(L, -1, "__methods");  /* the machine's method table (ldl_addmethods) */
  for (size_t i = 0; i < sizeof typed / sizeof typed[0]; i++) {
    lua_pushinteger(L, typed[i].size);
    lua_pushfstring(L, "m:%s", typed[i].name);
    lua_pushcclosure(L, typed[i].write ? m_write_uint : m_read_uint, 2);
    lua_setfield(L, -2, typed[i].name);
  }
  lua_pop(L, 2);
  ldl_newclass(L, LDL_CSTRUCT, t_meta, t_methods, t_index);
  luaL_newmetatable(L, LDL_CVIEW);
  luaL_setfuncs(L, v_meta, 0);
  lua_pop(L, 1);
  luaL_newmetatable(L, LDL_CARRAY);
  luaL_setfuncs(L, a_meta, 0);
  lua_pop(L, 1);
  lua_pushcfunction(L, s_new);
  lua_setfield(L, -2, "struct");
}
