/*
** driver.c: DRIVER_OBJECTs in Lua: dma.driver{...}, the fields DriverEntry
** sets (DriverStartIo, MajorFunction, DriverUnload), and IoCreateDevice.
**
** A DRIVER_OBJECT is a core object (io/dl_driver.h) of the current machine;
** its one handle keeps the Lua side of its fields in its state table:
** DriverName, the MajorFunction table (a plain table DriverEntry fills in),
** DriverStartIo and DriverUnload. The core holds one trampoline for each
** routine that is set; the dispatch table is handed to the core before
** each IoCallDriver (ldl_syncdriver), as a driver may fill it at any time.
*/
#include <string.h>

#include "io/dl_driver.h"
#include "io/dl_unload.h"
#include "base/dl_status.h"
#include "machine/dl_object.h"
#include "../ldl.h"

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

/* ---- the trampolines the core calls --------------------------------------- */

/* The routines' slots in the state table, besides their names (the
** trampolines read them by number: no string lookup per request). */
enum { SLOT_MAJOR = 1, SLOT_START_IO, SLOT_UNLOAD };

/* The slot of a routine field, or 0. */
static int field_slot(const char *key) {
  if (strcmp(key, "MajorFunction") == 0) return SLOT_MAJOR;
  if (strcmp(key, "DriverStartIo") == 0) return SLOT_START_IO;
  if (strcmp(key, "DriverUnload") == 0) return SLOT_UNLOAD;
  return 0;
}

/* Pushes field `slot` of the state of the DRIVER_OBJECT drv; returns its type. */
static int push_field(lua_State *L, dl_driver *drv, int slot) {
  ldl_pushobject(L, LDL_DRIVER, DL_OBJECT(drv));
  ldl_pushstate(L, -1);
  int t = lua_rawgeti(L, -1, slot);
  lua_replace(L, -3);
  lua_pop(L, 1);
  return t;
}

/* Calls the dispatch routine and checks it returned an NTSTATUS (a pcall'd
** C function, so both errors are the caller's). Upvalue-free: the routine,
** device, IRP and the major's name are its arguments. */
static int call_dispatch(lua_State *L) {
  lua_pushvalue(L, 1);
  lua_pushvalue(L, 2);
  lua_pushvalue(L, 3);
  lua_call(L, 2, 1);
  const char *mj = lua_tostring(L, 4);
  int ok = 0;
  lua_Integer v = lua_tointegerx(L, -1, &ok);
  if (!ok || v < INT32_MIN || v > (lua_Integer)UINT32_MAX)
    return luaL_error(L, "IoCallDriver: the %s dispatch routine returned %s, not an NTSTATUS", mj,
                      luaL_typename(L, -1));
  return 1;
}

/* MajorFunction[major](DeviceObject, Irp) for the core. */
static int on_dispatch(void *ctx, dl_device *dev, dl_irp *irp, uint32_t *status) {
  (void)ctx;
  lmachine *lm = dl_machine_data(DL_OBJECT(dev)->m);
  lua_State *L = lm->L;
  lua_pushcfunction(L, call_dispatch);
  push_field(L, dl_device_driver(dev), SLOT_MAJOR);
  lua_rawgeti(L, -1, dl_irp_major(irp));
  lua_remove(L, -2);
  ldl_pushobject(L, LDL_DEVICE, DL_OBJECT(dev));
  ldl_pushobject(L, LDL_IRP, DL_OBJECT(irp));
  const char *mj = dl_irp_major_name(dl_irp_major(irp));
  lua_pushstring(L, mj ? mj : "IRP_MJ_?");
  if (!ldl_pcall(L, lm, 4, 1)) return 0;
  *status = (uint32_t)lua_tointeger(L, -1);
  lua_pop(L, 1);
  return 1;
}

/* DriverStartIo(DeviceObject, Irp) for the core; an error is kept for the
** call that started the queue (the core restores the IRQL first). */
static void on_start_io(void *ctx, dl_device *dev, dl_irp *irp) {
  (void)ctx;
  lmachine *lm = dl_machine_data(DL_OBJECT(dev)->m);
  lua_State *L = lm->L;
  push_field(L, dl_device_driver(dev), SLOT_START_IO);
  ldl_pushobject(L, LDL_DEVICE, DL_OBJECT(dev));
  ldl_pushobject(L, LDL_IRP, DL_OBJECT(irp));
  ldl_callback(L, lm, 2, 0);
}

/* DriverUnload(DriverObject) for the core. */
static void on_unload(void *ctx, dl_driver *drv) {
  (void)ctx;
  lmachine *lm = dl_machine_data(DL_OBJECT(drv)->m);
  lua_State *L = lm->L;
  push_field(L, drv, SLOT_UNLOAD);
  ldl_pushobject(L, LDL_DRIVER, DL_OBJECT(drv));
  ldl_callback(L, lm, 1, 0);
}

/* Hands the MajorFunction table of the DRIVER_OBJECT drv to the core: a
** trampoline for each function in it. Returns 0 if the entry for `major`
** is neither a function nor nil. */
int ldl_syncdriver(lua_State *L, struct dl_driver *drv, uint8_t major) {
  push_field(L, drv, SLOT_MAJOR);
  int t = LUA_TNIL;
  if (lua_istable(L, -1)) {
    t = lua_rawgeti(L, -1, major);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  /* only the entry the call dispatches on matters to it */
  dl_driver_set_major(drv, major, t == LUA_TFUNCTION ? on_dispatch : NULL, NULL);
  return t == LUA_TNIL || t == LUA_TFUNCTION;
}

/* ---- DRIVER_OBJECT fields ------------------------------------------------- */

/* Stores the value at v as DRIVER_OBJECT field `key` of the handle at arg
** (and tells the core of a routine); returns what is wrong instead, or NULL. */
static const char *set_driver_field(lua_State *L, int arg, const char *key, int v) {
  arg = lua_absindex(L, arg);
  v = lua_absindex(L, v);
  lobject *h = lua_touserdata(L, arg);
  int fn = lua_isfunction(L, v);
  if (strcmp(key, "MajorFunction") == 0) {
    const char *wrong = lua_istable(L, v) ? check_major_table(L, v) : "MajorFunction must be a table";
    if (wrong) return wrong;
  } else if (strcmp(key, "DriverStartIo") == 0 || strcmp(key, "DriverUnload") == 0) {
    if (!lua_isnil(L, v) && !fn) return lua_pushfstring(L, "%s must be a function or nil", key);
    if (h->obj && key[6] == 'S') dl_driver_set_start_io(h->obj, fn ? on_start_io : NULL, NULL);
    else if (h->obj) dl_driver_set_unload(h->obj, fn ? on_unload : NULL, NULL);
  } else {
    return lua_pushfstring(L, "DRIVER_OBJECT has no field '%s' to set (DriverStartIo, "
                              "MajorFunction, DriverUnload)", key);
  }
  ldl_pushstate(L, arg);
  lua_pushvalue(L, v);
  lua_setfield(L, -2, key);
  lua_pushvalue(L, v);
  lua_rawseti(L, -2, field_slot(key));
  lua_pop(L, 1);
  return NULL;
}

/* dma.driver{ name=, DriverStartIo=, MajorFunction=, DriverUnload= } ->
** DRIVER_OBJECT on the current machine, as the I/O manager hands DriverEntry one. */
static int l_driver(lua_State *L) {
  if (lua_isnoneornil(L, 1)) {
    lua_settop(L, 0);
    lua_newtable(L);
  }
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  lua_getfield(L, 1, "name");                        /* opts, name */
  if (!lua_isnil(L, 2) && !lua_isstring(L, 2)) luaL_argerror(L, 1, "name must be a string");
  for (lua_pushnil(L); lua_next(L, 1); lua_pop(L, 1))
    if (lua_type(L, -2) != LUA_TSTRING) luaL_argerror(L, 1, "fields are named");
  lmachine *lm = ldl_current(L, "driver");          /* opts, name, m */
  dl_driver *drv;
  int rc = dl_driver_new(lm->m, lua_isnil(L, 2) ? "\\Driver\\driver" : lua_tostring(L, 2), &drv);
  if (rc) return ldl_statuserror(L, 1, rc, NULL);
  ldl_pushobject(L, LDL_DRIVER, DL_OBJECT(drv));     /* opts, name, m, drv */
  ldl_pushstate(L, 4);
  lua_pushstring(L, dl_driver_name(drv));
  lua_setfield(L, -2, "DriverName");
  lua_newtable(L);
  lua_pushvalue(L, -1);
  lua_rawseti(L, -3, SLOT_MAJOR);
  lua_setfield(L, -2, "MajorFunction");
  lua_pop(L, 1);
  for (lua_pushnil(L); lua_next(L, 1); lua_pop(L, 1)) {
    const char *key = lua_tostring(L, -2);
    const char *wrong = strcmp(key, "name") == 0 ? NULL : set_driver_field(L, 4, key, -1);
    if (wrong) luaL_argerror(L, 1, wrong);
  }
  return 1;
}

/* Fields: DriverStartIo, MajorFunction, DriverUnload, DriverName (name),
** readable after the machine closed; DeviceObject (the first of its
** devices, NULL once they are deleted; DEVICE_OBJECT.NextDevice the next). */
static int drv_index(lua_State *L) {
  lobject *h = ldl_checkclass(L, 1, LDL_DRIVER);
  const char *key = ldl_checkkey(L, 2);
  if (strcmp(key, "DeviceObject") == 0) {
    if (!h->owner->m || !h->obj) return 0;
    ldl_pushobject(L, LDL_DEVICE, DL_OBJECT(dl_driver_next_device(h->obj, NULL)));
    return 1;
  }
  ldl_pushstate(L, 1);
  lua_getfield(L, -1, strcmp(key, "name") == 0 ? "DriverName" : key);
  return 1;
}

/* drv.DriverStartIo / MajorFunction / DriverUnload = ..., as DriverEntry does. */
static int drv_newindex(lua_State *L) {
  ldl_checkclass(L, 1, LDL_DRIVER);
  const char *wrong = set_driver_field(L, 1, ldl_checkkey(L, 2), 3);
  if (wrong) return luaL_error(L, "%s", wrong);
  return 0;
}

static int drv_tostring(lua_State *L) {
  ldl_checkclass(L, 1, LDL_DRIVER);
  ldl_pushstate(L, 1);
  lua_getfield(L, -1, "DriverName");
  lua_pushfstring(L, "DRIVER_OBJECT %s", lua_tostring(L, -1));
  return 1;
}

/* IoCreateDevice(DriverObject, DeviceExtensionSize, DeviceName, DeviceType,
** DeviceCharacteristics, Exclusive) -> status, DeviceObject on the
** DRIVER_OBJECT's machine; DeviceName a string or a UNICODE_STRING
** (RtlInitUnicodeString); Exclusive sets DO_EXCLUSIVE (one open file). The extension is a Lua table
** (DeviceObject.DeviceExtension), so its size is only checked. */
static int l_IoCreateDevice(lua_State *L) {
  lobject *h = ldl_checkobject(L, 1, LDL_DRIVER, "DRIVER_OBJECT");
  ldl_checkuint(L, 2);
  if (lua_istable(L, 3)) lua_getfield(L, 3, "Buffer"), lua_replace(L, 3);  /* a UNICODE_STRING */
  const char *name = luaL_optstring(L, 3, NULL);
  lua_Integer type = luaL_optinteger(L, 4, FILE_DEVICE_UNKNOWN);
  lua_Integer characteristics = luaL_optinteger(L, 5, 0);
  luaL_argcheck(L, type >= 0 && type <= 0xFFFF, 4, "a FILE_DEVICE_* type expected");
  luaL_argcheck(L, characteristics >= 0 && characteristics <= UINT32_MAX, 5,
                "FILE_* characteristics expected");
  int exclusive = !lua_isnoneornil(L, 6) && ldl_checkbool(L, 6);
  lua_settop(L, 6);
  dl_device *dev;
  ldl_call c;
  ldl_enter(L, h->owner, &c);
  int rc = dl_io_create_device(h->obj, name, &dev);
  ldl_leave(L, &c);
  if (rc != DL_OK) {
    lua_pushinteger(L, DL_STATUS_INSUFFICIENT_RESOURCES);
    lua_pushnil(L);
    return 2;
  }
  dl_device_set_type(dev, (uint32_t)type, (uint32_t)characteristics, exclusive);
  lua_pushinteger(L, DL_STATUS_SUCCESS);
  ldl_pushobject(L, LDL_DEVICE, DL_OBJECT(dev));
  return 2;
}

/* ---- unloading -------------------------------------------------------------- */

/* m:unload(DriverObject) -> n: the I/O manager unloads the driver
** (io/dl_unload.h): DriverUnload(DriverObject) at PASSIVE_LEVEL, then
** Driver Verifier's unload checks; n is the number of their reports (in
** record mode; otherwise the first one is raised). */
static int m_unload(lua_State *L) {
  lmachine *lm = ldl_checkmachine(L, 1);
  lobject *h = ldl_checkobject(L, 2, LDL_DRIVER, "DRIVER_OBJECT");
  dl_unload_refusal why;
  dl_device *left;
  size_t leaks;
  ldl_call c;
  ldl_enter(L, lm, &c);
  int rc = dl_io_unload_driver(h->obj, &why, &left, &leaks);
  ldl_leave(L, &c);
  const char *name = dl_driver_name(h->obj);
  switch (why) {
  case DL_UNLOAD_ALREADY:
    return luaL_argerror(L, 2, lua_pushfstring(L, "%s was unloaded already", name));
  case DL_UNLOAD_NO_ROUTINE:
    return luaL_argerror(L, 2, lua_pushfstring(L, "%s has no DriverUnload routine: it cannot be "
                                                  "unloaded", name));
  case DL_UNLOAD_FILE_OPEN:
    return luaL_argerror(L, 2, lua_pushfstring(L, "a file is still open on a device of %s "
                                                  "(IRP_MJ_CLOSE first): it was not unloaded", name));
  case DL_UNLOAD_DEVICES_LEFT:
    return luaL_error(L, "m:unload: DriverUnload of %s returned with DEVICE_OBJECT#%I still "
                         "present (IoDeleteDevice each device in DriverUnload, or remove it "
                         "first): the driver stays in memory and its unload checks did not run",
                      name, (lua_Integer)DL_OBJECT(left)->id);
  default:
    break;
  }
  if (rc) return ldl_statuserror(L, 2, rc, NULL);
  lua_pushinteger(L, (lua_Integer)leaks);
  return 1;
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
                                       "DeviceObject", "name", NULL};
  ldl_setfields(L, LDL_DRIVER, fields);
  luaL_setfuncs(L, functions, 0);  /* FILE_DEVICE_*: dma.c exports core's one table */
  luaL_getmetatable(L, LDL_MACHINE);
  lua_getfield(L, -1, "__methods");
  lua_pushcfunction(L, m_unload);
  lua_setfield(L, -2, "unload");
  lua_pop(L, 2);
}
