/*
** device.c: DEVICE_OBJECT handles: m:device{name = ...}.
*/
#include <stdio.h>
#include <string.h>

#include "../core/dl_device.h"
#include "../core/dl_status.h"
#include "ldl.h"

/* m:device{name=} -> DEVICE_OBJECT */
static int dev_new(lua_State *L) {
  lmachine *lm = ldl_checkmachine(L, 1);
  const char *name = NULL;
  if (lua_istable(L, 2)) {
    lua_getfield(L, 2, "name");
    name = lua_tostring(L, -1);
  } else if (!lua_isnoneornil(L, 2)) {
    name = luaL_checkstring(L, 2);
  }
  dl_device *dev;
  int rc = dl_device_new(lm->m, name, &dev);
  if (rc) return ldl_statuserror(L, 1, rc, NULL);
  ldl_pushhandle(L, LDL_DEVICE, 1, dev);
  return 1;
}

static int dev_tostring(lua_State *L) {
  lobject *h = luaL_checkudata(L, 1, LDL_DEVICE);
  if (!h->owner->m) {
    lua_pushliteral(L, "DEVICE_OBJECT (machine closed)");
    return 1;
  }
  dl_device *dev = h->obj;
  lua_pushfstring(L, "DEVICE_OBJECT#%I %s", (lua_Integer)dev->id, dev->name);
  return 1;
}

/* Fields: name, id, machine; otherwise methods. */
static int dev_index(lua_State *L) {
  const char *key = luaL_checkstring(L, 2);
  if (lua_getfield(L, lua_upvalueindex(1), key) != LUA_TNIL) return 1;
  dl_device *dev = ldl_checkobject(L, 1, LDL_DEVICE, "DEVICE_OBJECT")->obj;
  if (strcmp(key, "name") == 0) lua_pushstring(L, dev->name);
  else if (strcmp(key, "id") == 0) lua_pushinteger(L, (lua_Integer)dev->id);
  else if (strcmp(key, "machine") == 0) ldl_pushowner(L, 1);
  else lua_pushnil(L);
  return 1;
}

/* Device objects live as long as their machine. */
static int dev_gc(lua_State *L) {
  (void)L;
  return 0;
}

static const luaL_Reg meta[] = {
  {"__gc", dev_gc},
  {"__tostring", dev_tostring},
  {NULL, NULL}
};

static const luaL_Reg methods[] = {
  {NULL, NULL}
};

/* Registers the DEVICE_OBJECT class and machine:device. */
void ldl_open_device(lua_State *L) {
  ldl_newclass(L, LDL_DEVICE, meta, methods, dev_index);
  luaL_getmetatable(L, LDL_MACHINE);
  lua_getfield(L, -1, "__methods");
  lua_pushcfunction(L, dev_new);
  lua_setfield(L, -2, "device");
  lua_pop(L, 2);
}
