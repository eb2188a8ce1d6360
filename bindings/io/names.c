/*
** names.c: names in the object manager's namespace, in Lua:
** RtlInitUnicodeString, IoCreateSymbolicLink, IoDeleteSymbolicLink, the
** device interfaces (IoRegisterDeviceInterface, IoSetDeviceInterfaceState,
** IoGetDeviceInterfaces) and m:find_device. The rules are the core's
** (io/dl_symlink.h, io/dl_devif.h).
*/
#include <string.h>

#include "base/dl_status.h"
#include "io/dl_devif.h"
#include "io/dl_symlink.h"
#include "lio.h"

/* A UNICODE_STRING argument (a table RtlInitUnicodeString filled, or a
** string) at arg: its text. */
static const char *check_name(lua_State *L, int arg) {
  if (lua_type(L, arg) == LUA_TSTRING) return lua_tostring(L, arg);
  luaL_argcheck(L, lua_istable(L, arg), arg, "a UNICODE_STRING (RtlInitUnicodeString) or a string expected");
  lua_getfield(L, arg, "Buffer");
  const char *s = lua_tostring(L, -1);
  luaL_argcheck(L, s != NULL, arg, "UNICODE_STRING.Buffer is not set (RtlInitUnicodeString)");
  lua_pop(L, 1);  /* the table keeps it */
  return s;
}

/* RtlInitUnicodeString(DestinationString, SourceString): fills the table
** with Buffer (the text), Length and MaximumLength in bytes (UTF-16: two a
** character, MaximumLength with the terminating NUL); nil SourceString
** makes an empty string. */
static int l_RtlInitUnicodeString(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  size_t n = 0;
  const char *s = luaL_optlstring(L, 2, NULL, &n);
  luaL_argcheck(L, n <= 32766, 2, "longer than a UNICODE_STRING holds");
  lua_settop(L, 2);
  lua_pushvalue(L, 2);
  lua_setfield(L, 1, "Buffer");
  lua_pushinteger(L, (lua_Integer)(2 * n));
  lua_setfield(L, 1, "Length");
  lua_pushinteger(L, s ? (lua_Integer)(2 * n + 2) : 0);
  lua_setfield(L, 1, "MaximumLength");
  return 0;
}

/* IoCreateSymbolicLink(SymbolicLinkName, DeviceName) -> NTSTATUS, on the
** current machine: STATUS_OBJECT_NAME_COLLISION if the link exists. */
static int l_IoCreateSymbolicLink(lua_State *L) {
  const char *link = check_name(L, 1), *target = check_name(L, 2);
  lmachine *lm = ldl_current(L, "IoCreateSymbolicLink");
  int rc = dl_io_create_symbolic_link(lm->m, link, target);
  if (rc == DL_EINVAL) return luaL_argerror(L, 1, "an empty name, or one past 127 characters");
  lua_pushinteger(L, rc == DL_OK ? DL_STATUS_SUCCESS : rc == DL_EBUSY ? DL_STATUS_OBJECT_NAME_COLLISION
                                                                      : DL_STATUS_INSUFFICIENT_RESOURCES);
  return 1;
}

/* IoDeleteSymbolicLink(SymbolicLinkName) -> NTSTATUS: STATUS_OBJECT_NAME_NOT_FOUND if none. */
static int l_IoDeleteSymbolicLink(lua_State *L) {
  const char *link = check_name(L, 1);
  lmachine *lm = ldl_current(L, "IoDeleteSymbolicLink");
  int rc = dl_io_delete_symbolic_link(lm->m, link);
  lua_pushinteger(L, rc == DL_OK ? DL_STATUS_SUCCESS : DL_STATUS_OBJECT_NAME_NOT_FOUND);
  return 1;
}

/* Pushes a UNICODE_STRING table for s. */
static void push_unicode(lua_State *L, const char *s) {
  lua_createtable(L, 0, 3);
  lua_pushstring(L, s);
  lua_setfield(L, -2, "Buffer");
  lua_pushinteger(L, (lua_Integer)(2 * strlen(s)));
  lua_setfield(L, -2, "Length");
  lua_pushinteger(L, (lua_Integer)(2 * strlen(s) + 2));
  lua_setfield(L, -2, "MaximumLength");
}

/* A GUID argument: "{xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx}". */
static const char *check_guid(lua_State *L, int arg) {
  const char *g = luaL_checkstring(L, arg);
  luaL_argcheck(L, dl_guid_valid(g), arg, "a GUID \"{xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx}\" expected");
  return g;
}

/* IoRegisterDeviceInterface(PhysicalDeviceObject, InterfaceClassGuid,
** ReferenceString) -> NTSTATUS, SymbolicLinkName (a UNICODE_STRING): the
** interface, disabled until IoSetDeviceInterfaceState. */
static int l_IoRegisterDeviceInterface(lua_State *L) {
  lobject *h = ldl_checkobject(L, 1, LDL_DEVICE, "DEVICE_OBJECT");
  const char *guid = check_guid(L, 2);
  const char *ref = lua_isnoneornil(L, 3) ? NULL : check_name(L, 3);
  dl_devif *f;
  int rc = dl_io_register_device_interface(h->obj, guid, ref, &f);
  if (rc == DL_EINVAL) return luaL_argerror(L, 3, "a reference string without '\\', at most 63 characters");
  if (rc) return ldl_statuserror(L, 1, rc, NULL);
  lua_pushinteger(L, DL_STATUS_SUCCESS);
  push_unicode(L, f->link);
  return 2;
}

/* IoSetDeviceInterfaceState(SymbolicLinkName, Enable) -> NTSTATUS */
static int l_IoSetDeviceInterfaceState(lua_State *L) {
  const char *link = check_name(L, 1);
  int on = ldl_checkbool(L, 2);
  lmachine *lm = ldl_current(L, "IoSetDeviceInterfaceState");
  int rc = dl_io_set_device_interface_state(lm->m, link, on);
  lua_pushinteger(L, rc == DL_OK ? DL_STATUS_SUCCESS : DL_STATUS_OBJECT_NAME_NOT_FOUND);
  return 1;
}

/* IoGetDeviceInterfaces(InterfaceClassGuid, PhysicalDeviceObject, Flags)
** -> NTSTATUS, { SymbolicLinkName, ... } (a list of strings for the WDK's
** MULTI_SZ): the enabled interfaces of the class (of that device if not
** nil; disabled ones too with DEVICE_INTERFACE_INCLUDE_NONACTIVE). */
static int l_IoGetDeviceInterfaces(lua_State *L) {
  const char *guid = check_guid(L, 1);
  lobject *d = lua_isnoneornil(L, 2) ? NULL : ldl_checkobject(L, 2, LDL_DEVICE, "DEVICE_OBJECT");
  lua_Integer flags = luaL_optinteger(L, 3, 0);
  luaL_argcheck(L, flags == 0 || flags == 1, 3, "0 or DEVICE_INTERFACE_INCLUDE_NONACTIVE expected");
  lmachine *lm = d ? d->owner : ldl_current(L, "IoGetDeviceInterfaces");
  lua_pushinteger(L, DL_STATUS_SUCCESS);
  lua_newtable(L);
  dl_devif *f;
  for (size_t i = 0; (f = dl_io_device_interface_at(lm->m, guid, d ? d->obj : NULL, (int)flags, i)); i++) {
    lua_pushstring(L, f->link);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  return 2;
}

/* m:find_device(name) -> DEVICE_OBJECT or nil: the device named so,
** directly, through a symbolic link or an enabled device interface's link
** (the lab's, standing for the originator's CreateFile path lookup). */
static int m_find_device(lua_State *L) {
  lmachine *lm = ldl_checkmachine(L, 1);
  const char *name = check_name(L, 2);
  ldl_pushobject(L, LDL_DEVICE, DL_OBJECT(dl_io_find_device(lm->m, name)));
  return 1;
}

static const luaL_Reg functions[] = {
  {"RtlInitUnicodeString", l_RtlInitUnicodeString},
  {"IoCreateSymbolicLink", l_IoCreateSymbolicLink},
  {"IoDeleteSymbolicLink", l_IoDeleteSymbolicLink},
  {"IoRegisterDeviceInterface", l_IoRegisterDeviceInterface},
  {"IoSetDeviceInterfaceState", l_IoSetDeviceInterfaceState},
  {"IoGetDeviceInterfaces", l_IoGetDeviceInterfaces},
  {NULL, NULL}
};

/* Registers the calls, DEVICE_INTERFACE_INCLUDE_NONACTIVE and m:find_device
** in the module at -1. */
void lio_open_names(lua_State *L) {
  luaL_setfuncs(L, functions, 0);
  lua_pushinteger(L, 1);
  lua_setfield(L, -2, "DEVICE_INTERFACE_INCLUDE_NONACTIVE");
  luaL_getmetatable(L, LDL_MACHINE);
  lua_getfield(L, -1, "__methods");
  lua_pushcfunction(L, m_find_device);
  lua_setfield(L, -2, "find_device");
  lua_pop(L, 2);
}
