/*
** sglist.c: SCATTER_GATHER_LIST handles, as AdapterListControl receives
** them: sg.NumberOfElements and sg.Elements[i].Address / .Length, indexed
** from 0 as in C.
*/
#include <stdio.h>
#include <string.h>

#include "hal/dl_adapter.h"
#include "../ldl.h"

#define MAX_SHOWN 4

/* A handle remembers the id its list had: list records are reused. */
typedef struct lsglist {
  lobject h;
  uint64_t id;
} lsglist;

/* Pushes a new handle for a list just built (uservalue 2 caches Elements). */
void ldl_pushsglist(lua_State *L, int machine, dl_sglist *sg) {
  machine = lua_absindex(L, machine);
  lsglist *s = lua_newuserdatauv(L, sizeof *s, 2);
  s->h.owner = lua_touserdata(L, machine);
  s->h.obj = sg;
  s->h.gone = NULL;
  s->h.pin = 0;
  s->id = dl_sglist_id(sg);
  lua_pushvalue(L, machine);
  lua_setiuservalue(L, -2, 1);
  luaL_setmetatable(L, LDL_SGLIST);
}

/* Checks a list handle (put or not); returns the list and its id. */
dl_sglist *ldl_checksglist(lua_State *L, int arg, uint64_t *id) {
  lsglist *s = ldl_checkclass(L, arg, LDL_SGLIST);
  if (!s->h.owner->m) luaL_argerror(L, arg, "its machine is closed");
  ldl_checkowner(L, arg, s->h.owner, "SCATTER_GATHER_LIST");
  *id = s->id;
  return s->h.obj;
}

/* The list of a handle that has not been put yet. */
static dl_sglist *checklive(lua_State *L, int arg) {
  uint64_t id;
  dl_sglist *sg = ldl_checksglist(L, arg, &id);
  if (!dl_sglist_check_elements(sg, id)) luaL_argerror(L, arg, "SCATTER_GATHER_LIST was already put");
  return sg;
}

/* Pushes a table indexed from 0 of the n elements {Address=, Length=}. */
void ldl_pushelements(lua_State *L, const dl_sg_element *el, uint32_t n) {
  lua_createtable(L, (int)n, 1);
  for (uint32_t i = 0; i < n; i++) {
    lua_createtable(L, 0, 2);
    ldl_setint(L, "Address", (lua_Integer)el[i].address);
    ldl_setint(L, "Length", el[i].length);
    lua_rawseti(L, -2, i);
  }
}

/* Pushes Elements: a table indexed from 0 of {Address=, Length=}. */
static void push_elements(lua_State *L, dl_sglist *sg) {
  if (lua_getiuservalue(L, 1, 2) == LUA_TTABLE) return;
  lua_pop(L, 1);
  ldl_pushelements(L, dl_sglist_elements(sg), dl_sglist_count(sg));
  lua_pushvalue(L, -1);
  lua_setiuservalue(L, 1, 2);
}

/* Fields: NumberOfElements, Elements, id, machine. */
static int sg_index(lua_State *L) {
  const char *key = ldl_checkkey(L, 2);
  if (ldl_getmethod(L, lua_upvalueindex(1)) != LUA_TNIL) return 1;
  dl_sglist *sg = checklive(L, 1);
  if (strcmp(key, "NumberOfElements") == 0) lua_pushinteger(L, dl_sglist_count(sg));
  else if (strcmp(key, "Elements") == 0) push_elements(L, sg);
  else if (strcmp(key, "id") == 0) lua_pushinteger(L, (lua_Integer)dl_sglist_id(sg));
  else if (strcmp(key, "machine") == 0) ldl_pushowner(L, 1);
  else lua_pushnil(L);
  return 1;
}

static int sg_tostring(lua_State *L) {
  lsglist *s = ldl_checkclass(L, 1, LDL_SGLIST);
  dl_sglist *sg = s->h.obj;
  if (!s->h.owner->m || !dl_sglist_is_live(sg) || dl_sglist_id(sg) != s->id) {
    lua_pushfstring(L, "SCATTER_GATHER_LIST#%I (put)", (lua_Integer)s->id);
    return 1;
  }
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  char text[96];
  uint32_t n = dl_sglist_count(sg);
  const dl_sg_element *el = dl_sglist_elements(sg);
  snprintf(text, sizeof text, "SCATTER_GATHER_LIST#%llu elements=%u [",
           (unsigned long long)s->id, n);
  luaL_addstring(&b, text);
  for (uint32_t i = 0; i < n && i < MAX_SHOWN; i++) {
    snprintf(text, sizeof text, "%s0x%llx+%u", i ? ", " : "", (unsigned long long)el[i].address,
             el[i].length);
    luaL_addstring(&b, text);
  }
  if (n > MAX_SHOWN) luaL_addstring(&b, ", \xe2\x80\xa6");
  luaL_addchar(&b, ']');
  luaL_pushresult(&b);
  return 1;
}

/* Lists belong to their adapter until PutScatterGatherList. */
static const luaL_Reg meta[] = {
  {"__tostring", sg_tostring},
  {NULL, NULL}
};

static const luaL_Reg methods[] = {
  {NULL, NULL}
};

/* Registers the SCATTER_GATHER_LIST class. */
void ldl_open_sglist(lua_State *L) {
  static const char *const fields[] = {"NumberOfElements", "Elements", "id", "machine", NULL};
  ldl_newclass(L, LDL_SGLIST, meta, methods, sg_index);
  ldl_setfields(L, LDL_SGLIST, fields);
}
