/*
** driver.c: DRIVER_OBJECTs in Lua: dma.driver{...}, the fields DriverEntry
** sets (DriverStartIo, MajorFunction, DriverUnload), and IoCreateDevice.
**
** A driver object is a userdata whose uservalue is the table of its fields;
** irp.c reads MajorFunction and DriverStartIo from it (ldl_pushdriver,
** ldl_driverfield) to send IRPs to the driver of a device.
*/
#include <string.h>

#include "io/dl_device.h"
#include "io/dl_irp.h"
#include "base/dl_status.h"
#include "machine/dl_object.h"
#include "../ldl.h"

#define LDL_DRIVER "DRIVER_OBJECT"

#define FILE_DEVICE_DISK 0x07
#define FILE_DEVICE_UNKNOWN 0x22

/* Checks a MajorFunction table (IRP_MJ_* keys, functions as values);
** returns what is wrong, or NULL. */
static const char *check_major_table(lua_State *L, int t) {
  t = lua_absindex(L, t);
  for (lua_pushnil(L); lua_next(L, t); lua_pop(L, 1)) {
    int ok = 0;
    lua_Integer k = lua_tointegerx(L, -2, &ok);
    if (!ok || k < 0 || k > DL_IRP_MJ_MAXIMUM_FUNCTION)
      return "MajorFunction keys are IRP_MJ_* codes (0 to IRP_MJ_MAXIMUM_FUNCTION)";
    if (!lua_isfunction(L, -1)) return lua_pushfstring(L, "MajorFunction[%I] must be a function", k);
  }
  return NULL;
}

/* Stores the value at v as DRIVER_OBJECT field `key` in the fields table at
** t; returns what is wrong with it instead, or NULL. */
static const char *set_driver_field(lua_State *L, int t, const char *key, int v) {
  t = lua_absindex(L, t);
  v = lua_absindex(L, v);
  const char *wrong = NULL;
  if (strcmp(key, "MajorFunction") == 0)
    wrong = lua_istable(L, v) ? check_major_table(L, v) : "MajorFunction must be a table";
  else if (strcmp(key, "DriverStartIo") == 0 || strcmp(key, "DriverUnload") == 0)
    wrong = lua_isnil(L, v) || lua_isfunction(L, v)
          ? NULL : lua_pushfstring(L, "%s must be a function or nil", key);
  else
    wrong = lua_pushfstring(L, "DRIVER_OBJECT has no field '%s' to set (DriverStartIo, "
                               "MajorFunction, DriverUnload)", key);
  if (wrong) return wrong;
  lua_pushvalue(L, v);
  lua_setfield(L, t, key);
  return NULL;
}

/* dma.driver{ name=, DriverStartIo=, MajorFunction=, DriverUnload= } ->
** DRIVER_OBJECT, as the I/O manager hands DriverEntry one. */
static int l_driver(lua_State *L) {
  if (lua_isnoneornil(L, 1)) {
    lua_settop(L, 0);
    lua_newtable(L);
  }
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  lua_newuserdatauv(L, 0, 1);                       /* opts, drv */
  luaL_setmetatable(L, LDL_DRIVER);
  lua_createtable(L, 0, 4);                         /* opts, drv, fields */
  lua_newtable(L);
  lua_setfield(L, 3, "MajorFunction");
  lua_getfield(L, 1, "name");
  if (!lua_isnil(L, -1) && !lua_isstring(L, -1)) luaL_argerror(L, 1, "name must be a string");
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    lua_pushliteral(L, "\\Driver\\driver");
  }
  lua_setfield(L, 3, "DriverName");
  for (lua_pushnil(L); lua_next(L, 1); lua_pop(L, 1)) {
    if (lua_type(L, -2) != LUA_TSTRING) luaL_argerror(L, 1, "fields are named");
    const char *key = lua_tostring(L, -2);
    const char *wrong = strcmp(key, "name") == 0 ? NULL : set_driver_field(L, 3, key, -1);
    if (wrong) luaL_argerror(L, 1, wrong);
  }
  lua_setiuservalue(L, 2, 1);
  return 1;
}

/* Pushes field `key` of the DRIVER_OBJECT at arg; returns its type. */
int ldl_driverfield(lua_State *L, int arg, const char *key) {
  lua_getiuservalue(L, arg, 1);
  int t = lua_getfield(L, -1, key);
  lua_remove(L, -2);
  return t;
}

/* Fields: DriverStartIo, MajorFunction, DriverUnload, DriverName (name). */
static int drv_index(lua_State *L) {
  luaL_checkudata(L, 1, LDL_DRIVER);
  const char *key = luaL_checkstring(L, 2);
  ldl_driverfield(L, 1, strcmp(key, "name") == 0 ? "DriverName" : key);
  return 1;
}

/* drv.DriverStartIo / MajorFunction / DriverUnload = ..., as DriverEntry does. */
static int drv_newindex(lua_State *L) {
  luaL_checkudata(L, 1, LDL_DRIVER);
  const char *key = luaL_checkstring(L, 2);
  lua_getiuservalue(L, 1, 1);
  const char *wrong = set_driver_field(L, 4, key, 3);
  if (wrong) return luaL_error(L, "%s", wrong);
  return 0;
}

static int drv_tostring(lua_State *L) {
  luaL_checkudata(L, 1, LDL_DRIVER);
  ldl_driverfield(L, 1, "DriverName");
  lua_pushfstring(L, "DRIVER_OBJECT %s", lua_tostring(L, -1));
  return 1;
}

/* Pushes the DriverObject of the device at `dev` and returns its index;
** raises naming fname if the device has none. */
int ldl_pushdriver(lua_State *L, int dev, const char *fname) {
  lua_getfield(L, dev, "DriverObject");
  if (!luaL_testudata(L, -1, LDL_DRIVER))
    luaL_error(L, "%s: %s has no DriverObject (IoCreateDevice, or set DeviceObject.DriverObject)",
               fname, luaL_tolstring(L, dev, NULL));
  return lua_gettop(L);
}

/* IoCreateDevice(DriverObject, DeviceExtensionSize, DeviceName, DeviceType,
** DeviceCharacteristics, Exclusive) -> status, DeviceObject on the current
** machine. The extension is a Lua table (DeviceObject.DeviceExtension), so
** its size is only checked. */
static int l_IoCreateDevice(lua_State *L) {
  luaL_checkudata(L, 1, LDL_DRIVER);
  ldl_checkuint(L, 2);
  const char *name = luaL_optstring(L, 3, NULL);
  luaL_optinteger(L, 4, FILE_DEVICE_UNKNOWN);
  luaL_optinteger(L, 5, 0);
  if (!lua_isnoneornil(L, 6)) ldl_checkbool(L, 6);
  lua_settop(L, 6);
  lmachine *lm = ldl_current(L, "IoCreateDevice");
  ldl_checkirql(L, lm, "IoCreateDevice", 1, DL_PASSIVE_LEVEL);
  dl_device *dev;
  if (dl_device_new(lm->m, name, &dev) != DL_OK) {
    lua_pushinteger(L, DL_STATUS_INSUFFICIENT_RESOURCES);
    lua_pushnil(L);
    return 2;
  }
  lua_pushinteger(L, DL_STATUS_SUCCESS);
  ldl_pushobject(L, LDL_DEVICE, DL_OBJECT(dev));
  lua_pushvalue(L, 1);
  lua_setfield(L, -2, "DriverObject");
  return 2;
}

/* ---- registration ----------------------------------------------------------- */

static const luaL_Reg drv_meta[] = {
  {"__index", drv_index},
  {"__newindex", drv_newindex},
  {"__tostring", drv_tostring},
  {NULL, NULL}
};

static const luaL_Reg functions[] = {
  {"driver", l_driver},
  {"IoCreateDevice", l_IoCreateDevice},
  {NULL, NULL}
};

/* Registers the DRIVER_OBJECT class, dma.driver, IoCreateDevice and the
** FILE_DEVICE_* constants in the module at -1. */
void ldl_open_driver(lua_State *L) {
  luaL_newmetatable(L, LDL_DRIVER);
  luaL_setfuncs(L, drv_meta, 0);
  lua_pop(L, 1);
  static const char *const fields[] = {"MajorFunction", "DriverStartIo", "DriverUnload", "DriverName",
                                       "name", NULL};
  ldl_setfields(L, LDL_DRIVER, fields);
  luaL_setfuncs(L, functions, 0);
  lua_pushinteger(L, FILE_DEVICE_DISK);
  lua_setfield(L, -2, "FILE_DEVICE_DISK");
  lua_pushinteger(L, FILE_DEVICE_UNKNOWN);
  lua_setfield(L, -2, "FILE_DEVICE_UNKNOWN");
}
