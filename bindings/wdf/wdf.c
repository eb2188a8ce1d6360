/*
** wdf.c: KMDF framework objects in Lua: the object model (state tables,
** contexts, WdfObjectDelete, attributes) and WdfDriverCreate. Devices and
** the lab's PnP manager are in wdfdevice.c, queues and requests in
** wdfqueue.c, interrupts in wdfinterrupt.c.
**
** The framework installs its dispatch routine in the WDF driver's
** DRIVER_OBJECT for reads, writes and device controls, so IoCallDriver on
** a WDFDEVICE's FDO reaches its queues.
**
** The framework objects of a machine are freed just before the machine
** (this file chains the machine's close and __gc).
*/
#include "base/dl_status.h"
#include "lwdf.h"

#define LDL_DRIVER "DRIVER_OBJECT"  /* driver.c's class */
#define DELETERS_KEY "dma.wdf.deleters"

static char wdf_key;  /* its address keys the machine's WDF table */

/* ---- the object model ---------------------------------------------------- */

/* Pushes the machine's WDF table (core object -> state table). */
static void push_wdf(lua_State *L, lmachine *lm) {
  lua_rawgeti(L, LUA_REGISTRYINDEX, lm->callbacks);
  if (lua_rawgetp(L, -1, &wdf_key) == LUA_TNIL) {
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_rawsetp(L, -3, &wdf_key);
  }
  lua_remove(L, -2);
}

/* Pushes the state table of obj (nil, or a new one with create). */
void lwdf_pushstate(lua_State *L, lmachine *lm, void *obj, int create) {
  push_wdf(L, lm);
  if (lua_rawgetp(L, -1, obj) == LUA_TNIL && create) {
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_rawsetp(L, -3, obj);
  }
  lua_remove(L, -2);
}

/* Drops the state table of obj. */
void lwdf_dropstate(lua_State *L, lmachine *lm, void *obj) {
  if (lm->callbacks == LUA_NOREF) return;
  push_wdf(L, lm);
  lua_pushnil(L);
  lua_rawsetp(L, -2, obj);
  lua_pop(L, 1);
}

/* Pushes the handle of obj (nil if it has no state). */
void lwdf_pushhandle(lua_State *L, lmachine *lm, void *obj) {
  lwdf_pushstate(L, lm, obj, 0);
  if (lua_istable(L, -1)) lua_getfield(L, -1, "handle");
  else lua_pushnil(L);
  lua_remove(L, -2);
}

/* Pushes the context table `name` of the state at st, made on first use. */
static void push_context(lua_State *L, int st, const char *name) {
  if (lua_getfield(L, st, "contexts") == LUA_TNIL) {
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_setfield(L, st, "contexts");
  }
  if (lua_getfield(L, -1, name) == LUA_TNIL) {
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_setfield(L, -3, name);
  }
  lua_remove(L, -2);
}

/* Applies WDF_OBJECT_ATTRIBUTES (ContextTypeInfo, EvtCleanupCallback) at
** attr to the state at st. */
static void apply_attributes(lua_State *L, int st, int attr) {
  if (!attr || lua_isnoneornil(L, attr)) return;
  luaL_argcheck(L, lua_istable(L, attr), attr, "WDF_OBJECT_ATTRIBUTES (a table) or nil expected");
  static const char *const fields[] = {  /* wdfobject.h */
    "Size", "EvtCleanupCallback", "EvtDestroyCallback", "ExecutionLevel", "SynchronizationScope",
    "ParentObject", "ContextSizeOverride", "ContextTypeInfo", NULL
  };
  ldl_checkfields(L, attr, "WDF_OBJECT_ATTRIBUTES has no field '%s' (%s)", fields);
  int t = lua_getfield(L, attr, "ContextTypeInfo");
  luaL_argcheck(L, t == LUA_TNIL || t == LUA_TSTRING, attr, "ContextTypeInfo must be a type name");
  if (t == LUA_TSTRING) {
    push_context(L, st, lua_tostring(L, -1));
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  t = lua_getfield(L, attr, "EvtCleanupCallback");
  luaL_argcheck(L, t == LUA_TNIL || t == LUA_TFUNCTION, attr, "EvtCleanupCallback must be a function");
  lua_setfield(L, st, "cleanup");
}

/* Pushes the deleter of the WDF handle at idx (nil if not a WDF class). */
static int push_deleter(lua_State *L, int idx) {
  idx = lua_absindex(L, idx);
  luaL_getsubtable(L, LUA_REGISTRYINDEX, DELETERS_KEY);
  if (luaL_getmetafield(L, idx, "__name") == LUA_TNIL) lua_pushnil(L);
  int t = lua_rawget(L, -2);
  lua_remove(L, -2);
  return t;
}

/* Drops the dead handles of the children list at -1 (it grew to n). */
static void compact_children(lua_State *L, lua_Integer n) {
  lua_Integer j = 0;
  for (lua_Integer i = 1; i <= n; i++) {
    lua_rawgeti(L, -1, i);
    lobject *c = lua_touserdata(L, -1);
    if (c && c->obj) lua_rawseti(L, -2, ++j);
    else lua_pop(L, 1);
  }
  for (lua_Integer i = j + 1; i <= n; i++) {
    lua_pushnil(L);
    lua_rawseti(L, -2, i);
  }
}

/* The parent of a new object: attributes.ParentObject (a live WDF object
** of machine lm) if the attributes at attr name one, else parent. */
static void *choose_parent(lua_State *L, lmachine *lm, int attr, void *parent) {
  if (!attr || !lua_istable(L, attr) || lua_getfield(L, attr, "ParentObject") == LUA_TNIL) {
    if (attr && lua_istable(L, attr)) lua_pop(L, 1);
    return parent;
  }
  lobject *p = lua_touserdata(L, -1);
  int wdf = push_deleter(L, -1) != LUA_TNIL;
  luaL_argcheck(L, wdf && p->owner == lm && p->obj, attr,
                "ParentObject must be a live WDF object of the same machine");
  lua_pop(L, 2);
  return p->obj;
}

/* Appends the handle at h to the children of parent (none: NULL). */
static void adopt(lua_State *L, lmachine *lm, int h, void *parent) {
  if (!parent) return;
  lwdf_pushstate(L, lm, parent, 0);
  if (lua_istable(L, -1)) {
    luaL_getsubtable(L, -1, "children");
    lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
    if (n >= 8 && (n & (n - 1)) == 0) compact_children(L, n);
    lua_pushvalue(L, h);
    lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
}

/* Registers the new handle at -1 for obj, pinned by a new state table,
** as a child of parent (or of attributes.ParentObject). */
void lwdf_register(lua_State *L, lmachine *lm, void *obj, int attributes, void *parent) {
  if (attributes) attributes = lua_absindex(L, attributes);
  int h = lua_gettop(L);
  ldl_forgethandle(L, obj);  /* a handle of a freed object at the same address is stale */
  ldl_pushhandles(L);
  lua_pushvalue(L, h);
  lua_rawsetp(L, -2, obj);
  lua_pop(L, 1);
  lwdf_pushstate(L, lm, obj, 1);
  lua_pushvalue(L, h);
  lua_setfield(L, -2, "handle");
  apply_attributes(L, lua_gettop(L), attributes);
  lua_pop(L, 1);
  adopt(L, lm, h, choose_parent(L, lm, attributes, parent));
}

/* Reads the NTSTATUS a driver callback returned. */
uint32_t lwdf_checkstatus(lua_State *L, int idx, const char *fname) {
  int ok = 0;
  lua_Integer v = lua_tointegerx(L, idx, &ok);
  if (!ok || v < INT32_MIN || v > (lua_Integer)UINT32_MAX)
    luaL_error(L, "%s must return an NTSTATUS, not %s", fname, luaL_typename(L, idx));
  return (uint32_t)v;
}

/* Registers how objects of a WDF class are deleted. */
void ldl_wdf_set_deleter(lua_State *L, const char *class_name, lua_CFunction del) {
  luaL_getsubtable(L, LUA_REGISTRYINDEX, DELETERS_KEY);
  lua_pushcfunction(L, del);
  lua_setfield(L, -2, class_name);
  lua_pop(L, 1);
}

/* Checks arg is a live handle of a WDF class; pushes its deleter. */
static lobject *check_wdf_object(lua_State *L, int arg) {
  if (push_deleter(L, arg) == LUA_TNIL) luaL_typeerror(L, arg, "WDF object handle");
  lobject *h = lua_touserdata(L, arg);
  if (h->owner->m == NULL) luaL_argerror(L, arg, "its machine is closed");
  if (h->obj == NULL) luaL_argerror(L, arg, "the object has been deleted");
  return h;
}

/* Pushes the context table of any WDF object handle at arg. */
void ldl_wdf_pushcontext(lua_State *L, int arg, const char *type_name) {
  lobject *h = check_wdf_object(L, arg);
  lua_pop(L, 1);
  lwdf_pushstate(L, h->owner, h->obj, 1);
  push_context(L, lua_gettop(L), type_name);
  lua_remove(L, -2);
}

/* The deleter of classes the driver may not delete (WdfObjectDelete
** refuses them before anything runs). */
int lwdf_reject_delete(lua_State *L) {
  return luaL_error(L, "WdfObjectDelete: the object may not be deleted by its driver");
}

static void delete_tree(lua_State *L, int h, int del);

/* Calls the function at -2 with its argument at -1; on error, the object
** of the state at st is no longer being deleted, and the error goes on. */
static void call_or_undo(lua_State *L, int st) {
  if (lua_pcall(L, 1, 0, 0) == LUA_OK) return;
  lua_pushnil(L);
  lua_setfield(L, st, "deleting");
  lua_error(L);
}

/* Deletes the live children of the state at st, the last created first. */
static void delete_children(lua_State *L, int st) {
  int top = lua_gettop(L);
  if (lua_getfield(L, st, "children") == LUA_TTABLE) {
    for (lua_Integer i = (lua_Integer)lua_rawlen(L, top + 1); i >= 1; i--) {
      lua_rawgeti(L, top + 1, i);
      lobject *c = lua_touserdata(L, -1);
      if (c && c->obj && c->owner->m && push_deleter(L, top + 2) == LUA_TFUNCTION &&
          lua_tocfunction(L, -1) != lwdf_reject_delete)
        delete_tree(L, top + 2, top + 3);
      lua_settop(L, top + 1);
    }
  }
  lua_settop(L, top);
}

/* Deletes the object of the handle at h: its children, its
** EvtCleanupCallback (the object still usable), then the deleter at del. */
static void delete_tree(lua_State *L, int h, int del) {
  int top = lua_gettop(L);
  lobject *o = lua_touserdata(L, h);
  lmachine *lm = o->owner;
  void *obj = o->obj;
  lwdf_pushstate(L, lm, obj, 1);
  if (lua_getfield(L, top + 1, "deleting") != LUA_TNIL) {  /* a cleanup deleting its ancestor */
    lua_settop(L, top);
    return;
  }
  lua_pushboolean(L, 1);
  lua_setfield(L, top + 1, "deleting");
  delete_children(L, top + 1);
  if (lua_getfield(L, top + 1, "cleanup") == LUA_TFUNCTION) {
    lua_pushvalue(L, h);
    call_or_undo(L, top + 1);
  }
  lua_pushvalue(L, del);
  lua_pushvalue(L, h);
  call_or_undo(L, top + 1);
  if (lm->m) lwdf_dropstate(L, lm, obj);
  lua_settop(L, top);
}

/* Deletes the live object of the handle at idx and its descendants; del
** is its deleter (NULL: its class's). */
void lwdf_delete(lua_State *L, int idx, lua_CFunction del) {
  idx = lua_absindex(L, idx);
  if (del) lua_pushcfunction(L, del);
  else push_deleter(L, idx);
  delete_tree(L, idx, lua_gettop(L));
  lua_pop(L, 1);
}

/* WdfObjectDelete(Object): its children (the last created first), then
** EvtCleanupCallback (the object still usable) and the class's deleter;
** contexts go with the object. */
static int l_WdfObjectDelete(lua_State *L) {
  lua_settop(L, 1);
  check_wdf_object(L, 1);
  if (lua_tocfunction(L, 2) == lwdf_reject_delete) {
    luaL_getmetafield(L, 1, "__name");
    return luaL_error(L, "WdfObjectDelete: a %s may not be deleted by its driver",
                      lua_tostring(L, -1));
  }
  delete_tree(L, 1, 2);
  return 0;
}

/* Drops the device d from its machine's list (it was deleted). */
void lwdf_dropdevice(lua_State *L, lmachine *lm, dl_wdf_device *d) {
  push_wdf(L, lm);
  if (lua_getfield(L, -1, "devices") == LUA_TTABLE) {
    lua_pushnil(L);
    lua_rawsetp(L, -2, d);
  }
  lua_pop(L, 2);
}

/* WdfObjectGetTypedContext(Object, "TYPE_NAME") -> the context table. */
static int l_WdfObjectGetTypedContext(lua_State *L) {
  const char *name = luaL_checkstring(L, 2);
  ldl_wdf_pushcontext(L, 1, name);
  return 1;
}

/* WDF_OBJECT_ATTRIBUTES_INIT() -> {} */
static int l_WDF_OBJECT_ATTRIBUTES_INIT(lua_State *L) {
  lua_newtable(L);
  return 1;
}

/* WDF_OBJECT_ATTRIBUTES_INIT_CONTEXT_TYPE("NAME") -> { ContextTypeInfo = "NAME" } */
static int l_WDF_OBJECT_ATTRIBUTES_INIT_CONTEXT_TYPE(lua_State *L) {
  luaL_checkstring(L, 1);
  lua_createtable(L, 0, 1);
  lua_pushvalue(L, 1);
  lua_setfield(L, -2, "ContextTypeInfo");
  return 1;
}

/* ---- drivers ------------------------------------------------------------- */

/* WDF_DRIVER_CONFIG_INIT(EvtDriverDeviceAdd) -> { EvtDriverDeviceAdd = } */
static int l_WDF_DRIVER_CONFIG_INIT(lua_State *L) {
  luaL_checktype(L, 1, LUA_TFUNCTION);
  lua_createtable(L, 0, 1);
  lua_pushvalue(L, 1);
  lua_setfield(L, -2, "EvtDriverDeviceAdd");
  return 1;
}

/* Installs the framework's dispatch routine in the DRIVER_OBJECT at drv. */
static void install_dispatch(lua_State *L, int drv) {
  lua_createtable(L, 0, 3);
  static const int majors[] = {0x03, 0x04, 0x0e};  /* READ, WRITE, DEVICE_CONTROL */
  for (size_t i = 0; i < sizeof majors / sizeof majors[0]; i++) {
    lua_pushcfunction(L, lwdf_dispatch);
    lua_rawseti(L, -2, majors[i]);
  }
  lua_setfield(L, drv, "MajorFunction");
}

/* WdfDriverCreate(DriverObject, RegistryPath, DriverAttributes, DriverConfig)
** -> status, WDFDRIVER on the current machine. DriverObject nil: the lab
** makes one (dma.driver). The framework owns the MajorFunction table. */
static int l_WdfDriverCreate(lua_State *L) {
  lua_settop(L, 4);
  luaL_checktype(L, 4, LUA_TTABLE);
  static const char *const fields[] = {  /* wdfdriver.h */
    "Size", "EvtDriverDeviceAdd", "EvtDriverUnload", "DriverInitFlags", "DriverPoolTag", NULL
  };
  ldl_checkfields(L, 4, "WDF_DRIVER_CONFIG has no field '%s' (%s)", fields);
  luaL_argcheck(L, lua_getfield(L, 4, "EvtDriverDeviceAdd") == LUA_TFUNCTION, 4,
                "DriverConfig.EvtDriverDeviceAdd must be a function (WDF_DRIVER_CONFIG_INIT)");
  lua_pop(L, 1);
  lmachine *lm = ldl_current(L, "WdfDriverCreate");  /* 5 */
  ldl_checkirql(L, lm, "WdfDriverCreate", 1, DL_PASSIVE_LEVEL);
  if (lua_isnil(L, 1)) {
    lua_getfield(L, LUA_REGISTRYINDEX, "dma.wdf.driver");
    lua_createtable(L, 0, 1);
    lua_pushliteral(L, "\\Driver\\wdf");
    lua_setfield(L, -2, "name");
    lua_call(L, 1, 1);
    lua_replace(L, 1);
  }
  luaL_checkudata(L, 1, LDL_DRIVER);
  install_dispatch(L, 1);
  lobject *h = ldl_newobject(L, LDL_WDFDRIVER, 5, NULL);  /* 6 */
  h->obj = h;  /* no core object: the handle is the driver */
  lwdf_register(L, lm, h, 3, NULL);
  lwdf_pushstate(L, lm, h, 0);
  lua_pushvalue(L, 1);
  lua_setfield(L, -2, "DriverObject");
  lua_pushvalue(L, 4);
  lua_setfield(L, -2, "config");
  lua_pop(L, 1);
  lua_pushinteger(L, DL_STATUS_SUCCESS);
  lua_insert(L, -2);
  return 2;
}

/* WdfDriverWdmGetDriverObject(Driver) -> DRIVER_OBJECT */
static int l_WdfDriverWdmGetDriverObject(lua_State *L) {
  lobject *h = ldl_checkobject(L, 1, LDL_WDFDRIVER, "WDFDRIVER");
  lwdf_pushstate(L, h->owner, h->obj, 1);
  lua_getfield(L, -1, "DriverObject");
  return 1;
}

/* ---- machine teardown ---------------------------------------------------- */

/* Adds a framework device to its machine's list (freed with the machine). */
void lwdf_adddevice(lua_State *L, lmachine *lm, dl_wdf_device *d) {
  push_wdf(L, lm);
  luaL_getsubtable(L, -1, "devices");
  lua_pushboolean(L, 1);
  lua_rawsetp(L, -2, d);
  lua_pop(L, 2);
}

/* Frees the machine's framework devices (the machine is still alive). */
static void free_devices(lua_State *L, lmachine *lm) {
  push_wdf(L, lm);
  if (lua_getfield(L, -1, "devices") == LUA_TTABLE) {
    for (lua_pushnil(L); lua_next(L, -2); lua_pop(L, 1)) dl_wdf_device_free(lua_touserdata(L, -2), 1);
  }
  lua_pop(L, 1);
  lua_pushnil(L);
  lua_setfield(L, -2, "devices");
  lua_pop(L, 1);
}

/* Close hook: the framework objects go while the machine they use is alive. */
static int close_hook(lua_State *L) {
  free_devices(L, luaL_checkudata(L, 1, LDL_MACHINE));
  return 0;
}

/* ---- registration -------------------------------------------------------- */

/* Handles live as long as their objects; __gc has nothing to free. */
static int no_gc(lua_State *L) {
  (void)L;
  return 0;
}

static const luaL_Reg plain_meta[] = {
  {"__gc", no_gc},
  {NULL, NULL}
};

static const luaL_Reg no_methods[] = {
  {NULL, NULL}
};

static const luaL_Reg functions[] = {
  {"WdfObjectDelete", l_WdfObjectDelete},
  {"WdfObjectGetTypedContext", l_WdfObjectGetTypedContext},
  {"WDF_OBJECT_ATTRIBUTES_INIT", l_WDF_OBJECT_ATTRIBUTES_INIT},
  {"WDF_OBJECT_ATTRIBUTES_INIT_CONTEXT_TYPE", l_WDF_OBJECT_ATTRIBUTES_INIT_CONTEXT_TYPE},
  {"WDF_DRIVER_CONFIG_INIT", l_WDF_DRIVER_CONFIG_INIT},
  {"WdfDriverCreate", l_WdfDriverCreate},
  {"WdfDriverWdmGetDriverObject", l_WdfDriverWdmGetDriverObject},
  {NULL, NULL}
};

/* Names whose value is nil, listed so that .luacheckrc knows them. */
static const struct { const char *name; } nil_names[] = {
  {"WDF_NO_OBJECT_ATTRIBUTES"},
};

/* Registers the WDF classes, calls and constants in the module at -1:
** this file's, then those of wdfdevice.c, wdfqueue.c and wdfinterrupt.c. */
void ldl_open_wdf(lua_State *L) {
  ldl_newclass(L, LDL_WDFDRIVER, plain_meta, no_methods, NULL);
  ldl_wdf_set_deleter(L, LDL_WDFDRIVER, lwdf_reject_delete);
  luaL_setfuncs(L, functions, 0);
  for (size_t i = 0; i < sizeof nil_names / sizeof nil_names[0]; i++) {
    lua_pushnil(L);
    lua_setfield(L, -2, nil_names[i].name);
  }
  lua_getfield(L, -1, "driver");  /* dma.driver makes DRIVER_OBJECTs for WdfDriverCreate */
  lua_setfield(L, LUA_REGISTRYINDEX, "dma.wdf.driver");
  ldl_add_close_hook(L, close_hook);
  lwdf_open_device(L);
  lwdf_open_queue(L);
  lwdf_open_interrupt(L);
}
