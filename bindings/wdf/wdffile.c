/*
** wdffile.c: the framework device's I/O settings and file objects in Lua:
** WdfDeviceInitSetIoType, WdfDeviceInitSetExclusive,
** WDF_FILEOBJECT_CONFIG_INIT, WdfDeviceInitSetFileObjectConfig (with
** EvtDeviceFileCreate, EvtFileCleanup, EvtFileClose), WDFFILEOBJECT
** handles (WdfFileObjectWdmGetFileObject, WdfFileObjectGetDevice), the
** framework's create/cleanup/close dispatch, and WdfDeviceCreateSymbolicLink.
** The rules are the core's (wdf/dl_wdffile.h, io/dl_iobuf.h, io/dl_symlink.h).
*/
#include <string.h>

#include "base/dl_status.h"
#include "io/dl_iobuf.h"
#include "io/dl_symlink.h"
#include "machine/dl_context.h"
#include "wdf/dl_wdfdevif.h"
#include "wdf/dl_wdffile.h"
#include "lwdf.h"

#define LDL_DEVICE_INIT "WDFDEVICE_INIT"
#define LDL_WDFFILEOBJECT "WDFFILEOBJECT"
#define LDL_FILE "FILE_OBJECT"
#define IOCOMPLETE_KEY "dma.wdf.IoCompleteRequest"

/* WDF_DEVICE_IO_TYPE values the lab models (wdfdevice.h). */
enum { IO_NEITHER = 1, IO_BUFFERED = 2, IO_DIRECT = 3 };

/* The init table of the DeviceInit at arg. */
static void push_init(lua_State *L, int arg) {
  ldl_checkclass(L, arg, LDL_DEVICE_INIT);
  lua_getiuservalue(L, arg, 1);
}

/* WdfDeviceInitSetIoType(DeviceInit, IoType): how reads and writes reach
** the device (DO_BUFFERED_IO, DO_DIRECT_IO or neither on its FDO). */
static int l_WdfDeviceInitSetIoType(lua_State *L) {
  lua_Integer t = luaL_checkinteger(L, 2);
  if (t == 4)
    return luaL_error(L, "WdfDeviceIoBufferedOrDirect is a WDK constant dmalab does not model yet "
                         "(WdfDeviceInitSetIoTypeEx)");
  luaL_argcheck(L, t >= IO_NEITHER && t <= IO_DIRECT, 2,
                "WdfDeviceIoNeither, WdfDeviceIoBuffered or WdfDeviceIoDirect expected");
  push_init(L, 1);
  lua_pushinteger(L, t);
  lua_setfield(L, -2, "iotype");
  return 0;
}

/* WdfDeviceInitSetExclusive(DeviceInit, IsExclusive): one open file at a time. */
static int l_WdfDeviceInitSetExclusive(lua_State *L) {
  int on = ldl_checkbool(L, 2);
  push_init(L, 1);
  lua_pushboolean(L, on);
  lua_setfield(L, -2, "exclusive");
  return 0;
}

static const char *const file_callbacks[] = {"", "EvtDeviceFileCreate", "EvtFileCleanup", "EvtFileClose"};

/* WDF_FILEOBJECT_CONFIG_INIT(EvtDeviceFileCreate, EvtFileClose, EvtFileCleanup) -> config */
static int l_WDF_FILEOBJECT_CONFIG_INIT(lua_State *L) {
  for (int i = 1; i <= 3; i++)
    luaL_argcheck(L, lua_isnoneornil(L, i) || lua_isfunction(L, i), i, "a function or nil expected");
  lua_createtable(L, 0, 5);
  lua_pushvalue(L, 1);
  lua_setfield(L, -2, "EvtDeviceFileCreate");
  lua_pushvalue(L, 2);
  lua_setfield(L, -2, "EvtFileClose");
  lua_pushvalue(L, 3);
  lua_setfield(L, -2, "EvtFileCleanup");
  lua_pushinteger(L, 2);  /* WdfUseDefault */
  lua_setfield(L, -2, "AutoForwardCleanupClose");
  return 1;
}

/* WdfDeviceInitSetFileObjectConfig(DeviceInit, FileObjectConfig, FileObjectAttributes) */
static int l_WdfDeviceInitSetFileObjectConfig(lua_State *L) {
  luaL_checktype(L, 2, LUA_TTABLE);
  static const char *const fields[] = {"Size", "EvtDeviceFileCreate", "EvtFileClose", "EvtFileCleanup",
                                       "AutoForwardCleanupClose", "FileObjectClass", NULL};
  ldl_checkfields(L, 2, "WDF_FILEOBJECT_CONFIG has no field '%s' (%s)", fields);
  for (int i = 1; i <= 3; i++) {
    int t = lua_getfield(L, 2, file_callbacks[i]);
    luaL_argcheck(L, t == LUA_TNIL || t == LUA_TFUNCTION, 2,
                  lua_pushfstring(L, "%s must be a function", file_callbacks[i]));
    lua_pop(L, 1);
  }
  push_init(L, 1);
  lua_pushvalue(L, 2);
  lua_setfield(L, -2, "fileconfig");
  return 0;
}

/* Applies the DeviceInit table at init to the new device d (handle at dev). */
void lwdf_apply_init(lua_State *L, int init, int dev, dl_wdf_device *d) {
  dl_device *fdo = dl_wdf_device_fdo(d);
  lua_getfield(L, init, "iotype");
  if (!lua_isnil(L, -1)) {
    lua_Integer t = lua_tointeger(L, -1);
    uint32_t flags = dl_device_flags(fdo) & ~(uint32_t)(DL_DO_BUFFERED_IO | DL_DO_DIRECT_IO);
    dl_device_set_flags(fdo, flags | (t == IO_BUFFERED ? DL_DO_BUFFERED_IO : t == IO_DIRECT ? DL_DO_DIRECT_IO : 0));
  }
  lua_getfield(L, init, "exclusive");
  if (lua_toboolean(L, -1)) dl_device_set_flags(fdo, dl_device_flags(fdo) | DL_DO_EXCLUSIVE);
  uint32_t events = 0;
  if (lua_getfield(L, init, "fileconfig") == LUA_TTABLE)
    for (int i = 1; i <= 3; i++) {
      if (lua_getfield(L, -1, file_callbacks[i]) == LUA_TFUNCTION) events |= 1u << i;
      lua_pop(L, 1);
    }
  dl_wdf_device_set_file_events(d, events);
  ldl_pushstate(L, dev);
  lua_insert(L, -2);
  lua_setfield(L, -2, "fileconfig");
  lua_pop(L, 3);
}

/* A file callback: EvtDeviceFileCreate(Device, Request, FileObject),
** EvtFileCleanup(FileObject), EvtFileClose(FileObject). */
int lwdf_file_event(void *ctx, dl_wdf_device *d, int which, dl_wdf_request *r, void *file) {
  lmachine *lm = ctx;
  lua_State *L = lm->L;
  int top = lua_gettop(L);
  lwdf_pushstate(L, d);
  lua_getfield(L, -1, "fileconfig");
  if (!lua_istable(L, -1) || lua_getfield(L, -1, file_callbacks[which]) != LUA_TFUNCTION) {
    lua_settop(L, top);
    return 0;
  }
  int nargs = 1;
  if (which == DL_WDF_FILE_CREATE) {
    lwdf_pushhandle(L, d);
    lwdf_push_request(L, r);
    nargs = 3;
  }
  lwdf_pushhandle(L, file);
  ldl_where(lm, file_callbacks[which], "WDFDEVICE", DL_OBJECT(d)->id);
  ldl_callback(L, lm, nargs, 0);
  lua_settop(L, top);
  return 1;
}

/* The framework's create/cleanup/close: the core decides; a status that is
** not STATUS_PENDING completes the IRP here. Called by lwdf_dispatch with
** (FDO, Irp) and the WDFDEVICE at 4 (its core object may be NULL). */
int lwdf_file_dispatch(lua_State *L, lmachine *lm, dl_wdf_device *d, dl_irp *irp) {
  dl_wdf_request *r = NULL;
  uint32_t status;
  ldl_call c;
  ldl_enter(L, lm, &c);
  status = dl_wdf_device_file_dispatch(d, irp, &r);
  ldl_leave(L, &c);
  if (status != DL_STATUS_PENDING) {
    dl_irp_set_status(irp, status);
    dl_irp_set_information(irp, 0);
    lua_getfield(L, LUA_REGISTRYINDEX, IOCOMPLETE_KEY);
    lua_pushvalue(L, 2);
    lua_pushinteger(L, 0);
    lua_call(L, 2, 0);
  }
  lua_pushinteger(L, status);
  return 1;
}

#define checkfile(L, i) ((dl_wdf_file *)ldl_checkobject(L, i, LDL_WDFFILEOBJECT, "WDFFILEOBJECT")->obj)

/* WdfFileObjectWdmGetFileObject(FileObject) -> FILE_OBJECT */
static int l_WdfFileObjectWdmGetFileObject(lua_State *L) {
  ldl_pushobject(L, LDL_FILE, (dl_object *)checkfile(L, 1)->file);
  return 1;
}

/* WdfFileObjectGetFileName(FileObject) -> UNICODE_STRING or nil (above
** PASSIVE_LEVEL): the path past the device's name (Length 0 if none). */
static int l_WdfFileObjectGetFileName(lua_State *L) {
  lobject *h = ldl_checkobject(L, 1, LDL_WDFFILEOBJECT, "WDFFILEOBJECT");
  const char *name = dl_wdf_file_get_name(h->obj, dl_machine_irql(h->owner->m));
  if (name) ldl_pushunicode(L, name);
  else lua_pushnil(L);
  return 1;
}

/* WdfFileObjectGetDevice(FileObject) -> WDFDEVICE */
static int l_WdfFileObjectGetDevice(lua_State *L) {
  lwdf_pushhandle(L, checkfile(L, 1)->d);
  return 1;
}

/* WdfDeviceCreateSymbolicLink(Device, SymbolicLinkName) -> NTSTATUS: a name
** for the device's FDO (STATUS_OBJECT_NAME_COLLISION if taken). */
static int l_WdfDeviceCreateSymbolicLink(lua_State *L) {
  lobject *h = ldl_checkobject(L, 1, LDL_WDFDEVICE, "WDFDEVICE");
  const char *link = NULL;
  if (lua_istable(L, 2)) {
    lua_getfield(L, 2, "Buffer");
    link = lua_tostring(L, -1);
  } else {
    link = lua_tostring(L, 2);
  }
  luaL_argcheck(L, link != NULL, 2, "a UNICODE_STRING (RtlInitUnicodeString) or a string expected");
  dl_device *fdo = dl_wdf_device_fdo(h->obj);
  int rc = dl_io_create_symbolic_link_to(h->owner->m, link, fdo);
  if (rc == DL_EINVAL) return luaL_argerror(L, 2, "an empty name, or one past 127 characters");
  lua_pushinteger(L, rc == DL_OK ? DL_STATUS_SUCCESS : rc == DL_EBUSY ? DL_STATUS_OBJECT_NAME_COLLISION
                                                                      : DL_STATUS_INSUFFICIENT_RESOURCES);
  return 1;
}

/* The GUID and reference string arguments at arg, arg+1. */
static const char *check_guid(lua_State *L, int arg, const char **ref) {
  const char *g = luaL_checkstring(L, arg);
  luaL_argcheck(L, dl_guid_valid(g), arg, "a GUID \"{xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx}\" expected");
  *ref = NULL;
  if (lua_istable(L, arg + 1)) {
    lua_getfield(L, arg + 1, "Buffer");
    lua_replace(L, arg + 1);
  }
  if (!lua_isnoneornil(L, arg + 1)) *ref = luaL_checkstring(L, arg + 1);
  return g;
}

/* WdfDeviceCreateDeviceInterface(Device, InterfaceClassGUID, ReferenceString)
** -> NTSTATUS: enabled when the device starts (now if it has). */
static int l_WdfDeviceCreateDeviceInterface(lua_State *L) {
  lobject *h = ldl_checkobject(L, 1, LDL_WDFDEVICE, "WDFDEVICE");
  const char *ref;
  const char *guid = check_guid(L, 2, &ref);
  dl_devif *f;
  int rc;
  ldl_call c;
  ldl_enter(L, h->owner, &c);
  rc = dl_wdf_device_create_interface(h->obj, guid, ref, &f);
  ldl_leave(L, &c);
  if (rc == DL_EINVAL) return luaL_argerror(L, 3, "a reference string without '\\', at most 63 characters");
  lua_pushinteger(L, rc == DL_OK ? DL_STATUS_SUCCESS : DL_STATUS_INSUFFICIENT_RESOURCES);
  return 1;
}

/* WdfDeviceSetDeviceInterfaceState(Device, InterfaceClassGUID, ReferenceString,
** IsInterfaceEnabled) */
static int l_WdfDeviceSetDeviceInterfaceState(lua_State *L) {
  lobject *h = ldl_checkobject(L, 1, LDL_WDFDEVICE, "WDFDEVICE");
  const char *ref;
  const char *guid = check_guid(L, 2, &ref);
  int on = ldl_checkbool(L, 4);
  if (dl_wdf_device_set_interface_state(h->obj, guid, ref, on) != DL_OK)
    return luaL_error(L, "WdfDeviceSetDeviceInterfaceState: the device has no interface %s%s%s", guid,
                      ref ? "\\" : "", ref ? ref : "");
  return 0;
}

static const luaL_Reg f_meta[] = {
  {"__tostring", lwdf_tostring},
  {NULL, NULL}
};

static const luaL_Reg functions[] = {
  {"WdfDeviceInitSetIoType", l_WdfDeviceInitSetIoType},
  {"WdfDeviceInitSetExclusive", l_WdfDeviceInitSetExclusive},
  {"WDF_FILEOBJECT_CONFIG_INIT", l_WDF_FILEOBJECT_CONFIG_INIT},
  {"WdfDeviceInitSetFileObjectConfig", l_WdfDeviceInitSetFileObjectConfig},
  {"WdfFileObjectWdmGetFileObject", l_WdfFileObjectWdmGetFileObject},
  {"WdfFileObjectGetDevice", l_WdfFileObjectGetDevice},
  {"WdfFileObjectGetFileName", l_WdfFileObjectGetFileName},
  {"WdfDeviceCreateSymbolicLink", l_WdfDeviceCreateSymbolicLink},
  {"WdfDeviceCreateDeviceInterface", l_WdfDeviceCreateDeviceInterface},
  {"WdfDeviceSetDeviceInterfaceState", l_WdfDeviceSetDeviceInterfaceState},
  {NULL, NULL}
};

/* Registers WDFFILEOBJECT and the calls in the module at -1. */
void lwdf_open_file(lua_State *L) {
  lwdf_newclass(L, LDL_WDFFILEOBJECT, f_meta, ldl_no_methods);
  luaL_setfuncs(L, functions, 0);
}
