/*
** device.c: DEVICE_OBJECT handles: m:device{name = ...}, and the fields a
** driver uses: DriverObject, CurrentIrp, DeviceExtension.
**
** DriverObject and CurrentIrp are the core's (io/dl_device.h); the
** DeviceExtension table lives in the state of the device's one handle.
*/
#include <stdio.h>
#include <string.h>

#include "io/dl_devstack.h"
#include "io/dl_driver.h"
#include "base/dl_status.h"
#include "machine/dl_object.h"
#include "../ldl.h"

/* Pushes the DeviceExtension of the device at arg: a table in its state,
** made on first use. */
static void push_extension(lua_State *L, int arg) {
  ldl_pushstate(L, arg);
  if (lua_getfield(L, -1, "DeviceExtension") == LUA_TNIL) {
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_setfield(L, -3, "DeviceExtension");
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
  lobject *h = ldl_checkclass(L, 1, LDL_DEVICE);
  if (!h->owner->m) {
    lua_pushliteral(L, "DEVICE_OBJECT (machine closed)");
    return 1;
  }
  if (!h->obj) {
    lua_pushliteral(L, "DEVICE_OBJECT (freed)");
    return 1;
  }
  dl_device *dev = h->obj;
  lua_pushfstring(L, "DEVICE_OBJECT#%I %s%s", (lua_Integer)DL_OBJECT(dev)->id, dl_device_name(dev),
                  dl_device_deleted(dev) ? " (deleted)" : "");
  return 1;
}

/* Fields: the WDK's DriverObject, CurrentIrp, Flags, DeviceType,
** Characteristics, StackSize, AttachedDevice, NextDevice, DeviceExtension (a table
** per device, made on first access); the lab's name, id, machine, deleted;
** otherwise methods. */
static int dev_index(lua_State *L) {
  const char *key = ldl_checkkey(L, 2);
  if (ldl_getmethod(L, lua_upvalueindex(1)) != LUA_TNIL) return 1;
  dl_device *dev = ldl_checkobject(L, 1, LDL_DEVICE, "DEVICE_OBJECT")->obj;
  if (strcmp(key, "name") == 0) lua_pushstring(L, dl_device_name(dev));
  else if (strcmp(key, "id") == 0) lua_pushinteger(L, (lua_Integer)DL_OBJECT(dev)->id);
  else if (strcmp(key, "machine") == 0) ldl_pushowner(L, 1);
  else if (strcmp(key, "DriverObject") == 0)
    ldl_pushobject(L, LDL_DRIVER, DL_OBJECT(dl_device_driver(dev)));
  else if (strcmp(key, "DeviceExtension") == 0) {
    push_extension(L, 1);  /* from now on a plain field of the handle */
    ldl_pushownfields(L, 1);
    lua_pushvalue(L, -2);
    lua_setfield(L, -2, "DeviceExtension");
    lua_pop(L, 1);
  }
  else if (strcmp(key, "CurrentIrp") == 0) ldl_pushcurrentirp(L, dev);
  else if (strcmp(key, "Flags") == 0) lua_pushinteger(L, dl_device_flags(dev));
  else if (strcmp(key, "DeviceType") == 0) lua_pushinteger(L, dev->device_type);
  else if (strcmp(key, "Characteristics") == 0) lua_pushinteger(L, dev->characteristics);
  else if (strcmp(key, "NextDevice") == 0) {
    dl_driver *drv = dl_device_driver(dev);
    ldl_pushobject(L, LDL_DEVICE, DL_OBJECT(drv ? dl_driver_next_device(drv, dev) : NULL));
  }
  else if (strcmp(key, "StackSize") == 0) lua_pushinteger(L, dl_device_stack_size(dev));
  else if (strcmp(key, "AttachedDevice") == 0)
    ldl_pushobject(L, LDL_DEVICE, DL_OBJECT(dl_device_attached(dev)));
  else if (strcmp(key, "deleted") == 0) lua_pushboolean(L, dl_device_deleted(dev));
  else lua_pushnil(L);
  return 1;
}

/* dev.DriverObject = drv | nil; every other field is read-only. */
static int dev_newindex(lua_State *L) {
  ldl_checkobject(L, 1, LDL_DEVICE, "DEVICE_OBJECT");
  const char *key = ldl_checkkey(L, 2);
  if (strcmp(key, "Flags") == 0) {  /* DO_BUFFERED_IO / DO_DIRECT_IO decide how reads and writes come */
    int ok = 0;
    lua_Integer v = lua_tointegerx(L, 3, &ok);
    if (!ok || v < 0 || v > UINT32_MAX) return luaL_error(L, "DEVICE_OBJECT.Flags must be a ULONG (DO_* flags)");
    dl_device_set_flags(((lobject *)lua_touserdata(L, 1))->obj, (uint32_t)v);
    return 0;
  }
  if (strcmp(key, "DriverObject") != 0)
    return luaL_error(L, "field '%s' of DEVICE_OBJECT is read-only (only DriverObject and Flags may be set)",
                      key);
  lobject *d = lua_isnil(L, 3) ? NULL : ldl_testclass(L, 3, LDL_DRIVER);
  if (!lua_isnil(L, 3) && !d)
    return luaL_error(L, "DEVICE_OBJECT.DriverObject must be a DRIVER_OBJECT (dma.driver{...}) or nil");
  lobject *h = lua_touserdata(L, 1);
  if (dl_device_deleted(h->obj)) return luaL_error(L, "DEVICE_OBJECT#%I was deleted (IoDeleteDevice)",
                                                   (lua_Integer)DL_OBJECT(h->obj)->id);
  if (d && (!d->obj || d->owner != h->owner))
    return luaL_error(L, "DEVICE_OBJECT.DriverObject must be a DRIVER_OBJECT of the device's machine");
  dl_device_set_driver(h->obj, d ? d->obj : NULL);
  return 0;
}

/* Device objects live as long as their machine: the handle owns nothing. */
static const luaL_Reg meta[] = {
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
                                       "CurrentIrp", "Flags", "DeviceType", "Characteristics", "StackSize",
                                       "AttachedDevice", "NextDevice", "deleted", NULL};
  ldl_setfields(L, LDL_DEVICE, fields);
  luaL_getmetatable(L, LDL_MACHINE);
  lua_getfield(L, -1, "__methods");
  lua_pushcfunction(L, dev_new);
  lua_setfield(L, -2, "device");
  lua_pop(L, 2);
}
