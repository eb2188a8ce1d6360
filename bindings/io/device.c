/*
** device.c: DEVICE_OBJECT handles: m:device{name = ...}, and the fields a
** driver uses: DriverObject, CurrentIrp, DeviceExtension.
**
** A device's Lua-side state (its DriverObject and DeviceExtension table)
** lives in the machine's callback table keyed by the device, so that it
** outlives any one handle and goes with the machine.
*/
#include <stdio.h>
#include <string.h>

#include "io/dl_device.h"
#include "base/dl_status.h"
#include "machine/dl_object.h"
#include "../ldl.h"

#define LDL_DRIVER "DRIVER_OBJECT"  /* driver.c's class */

enum { SLOT_DRIVER = 1, SLOT_EXTENSION };

/* Pushes the state table of the device at arg (nil if it has none and
** `create` is 0). */
static void push_state(lua_State *L, int arg, int create) {
  lobject *h = lua_touserdata(L, arg);
  lua_rawgeti(L, LUA_REGISTRYINDEX, h->owner->callbacks);
  if (lua_rawgetp(L, -1, h->obj) == LUA_TNIL && create) {
    lua_pop(L, 1);
    lua_createtable(L, 2, 0);
    lua_pushvalue(L, -1);
    lua_rawsetp(L, -3, h->obj);
  }
  lua_remove(L, -2);
}

/* Pushes slot `slot` of the device at arg: nil, or with `create` a table
** made on first use (the DeviceExtension). */
static void push_slot(lua_State *L, int arg, int slot, int create) {
  push_state(L, arg, create);
  if (lua_isnil(L, -1)) return;
  if (lua_rawgeti(L, -1, slot) == LUA_TNIL && create) {
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_rawseti(L, -3, slot);
  }
  lua_remove(L, -2);
}

/* m:device{name=} -> DEVICE_OBJECT */
static int dev_new(lua_State *L) {
  lmachine *lm = ldl_checkmachine(L, 1);
  const char *name = NULL;
  if (lua_istable(L, 2)) {
    static const char *const options[] = {"name", NULL};
    ldl_checkoptions(L, 2, "m:device", options);
    lua_getfield(L, 2, "name");
    name = lua_tostring(L, -1);
  } else if (!lua_isnoneornil(L, 2)) {
    name = luaL_checkstring(L, 2);
  }
  dl_device *dev;
  int rc = dl_device_new(lm->m, name, &dev);
  if (rc) return ldl_statuserror(L, 1, rc, NULL);
  ldl_pushobject(L, LDL_DEVICE, DL_OBJECT(dev));
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

/* Fields: the WDK's DriverObject, CurrentIrp, DeviceExtension (a table
** per device, made on first access); the lab's name, id, machine;
** otherwise methods. */
static int dev_index(lua_State *L) {
  const char *key = luaL_checkstring(L, 2);
  if (lua_getfield(L, lua_upvalueindex(1), key) != LUA_TNIL) return 1;
  dl_device *dev = ldl_checkobject(L, 1, LDL_DEVICE, "DEVICE_OBJECT")->obj;
  if (strcmp(key, "name") == 0) lua_pushstring(L, dev->name);
  else if (strcmp(key, "id") == 0) lua_pushinteger(L, (lua_Integer)dev->id);
  else if (strcmp(key, "machine") == 0) ldl_pushowner(L, 1);
  else if (strcmp(key, "DriverObject") == 0) push_slot(L, 1, SLOT_DRIVER, 0);
  else if (strcmp(key, "DeviceExtension") == 0) push_slot(L, 1, SLOT_EXTENSION, 1);
  else if (strcmp(key, "CurrentIrp") == 0) ldl_pushcurrentirp(L, dev);
  else lua_pushnil(L);
  return 1;
}

/* dev.DriverObject = drv | nil; every other field is read-only. */
static int dev_newindex(lua_State *L) {
  ldl_checkobject(L, 1, LDL_DEVICE, "DEVICE_OBJECT");
  const char *key = luaL_checkstring(L, 2);
  if (strcmp(key, "DriverObject") != 0)
    return luaL_error(L, "field '%s' of DEVICE_OBJECT is read-only (only DriverObject may be set)",
                      key);
  if (!lua_isnil(L, 3) && !luaL_testudata(L, 3, LDL_DRIVER))
    return luaL_error(L, "DEVICE_OBJECT.DriverObject must be a DRIVER_OBJECT (dma.driver{...}) or nil");
  push_state(L, 1, 1);
  lua_pushvalue(L, 3);
  lua_rawseti(L, -2, SLOT_DRIVER);
  return 0;
}

/* Device objects live as long as their machine. */
static int dev_gc(lua_State *L) {
  (void)L;
  return 0;
}

static const luaL_Reg meta[] = {
  {"__gc", dev_gc},
  {"__tostring", dev_tostring},
  {"__newindex", dev_newindex},
  {NULL, NULL}
};

static const luaL_Reg methods[] = {
  {NULL, NULL}
};

/* Registers the DEVICE_OBJECT class and machine:device. */
void ldl_open_device(lua_State *L) {
  ldl_newclass(L, LDL_DEVICE, meta, methods, dev_index);
  static const char *const fields[] = {"name", "id", "machine", "DriverObject", "DeviceExtension",
                                       "CurrentIrp", NULL};
  ldl_setfields(L, LDL_DEVICE, fields);
  luaL_getmetatable(L, LDL_MACHINE);
  lua_getfield(L, -1, "__methods");
  lua_pushcfunction(L, dev_new);
  lua_setfield(L, -2, "device");
  lua_pop(L, 2);
}
