/*
** wdf.c: KMDF framework objects in Lua: the object model (state tables,
** contexts, WdfObjectDelete, WdfObjectReference/Dereference, attributes),
** WdfDriverCreate and WdfGetDriver. Devices and
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
#include "machine/dl_verifier.h"
#include "lwdf.h"

#define LDL_DRIVER "DRIVER_OBJECT"  /* driver.c's class */
#define WDFCLASSES_KEY "dma.wdf.classes"  /* the set of WDF class names */

/* ---- the object model: handles of core framework objects ------------------- */

/* Pushes the one handle of a core object (nil for NULL). */
void lwdf_pushhandle(lua_State *L, void *obj) {
  dl_object *o = obj;
  ldl_pushobject(L, o ? o->type->name : NULL, o);
}

/* Pushes the Lua state table of a live core object. */
void lwdf_pushstate(lua_State *L, void *obj) {
  lwdf_pushhandle(L, obj);
  ldl_pushstate(L, -1);
  lua_remove(L, -2);
}

/* Pushes the context table `name` of the object handle at h (the core's slot says it exists). */
static void push_context(lua_State *L, int h, const char *name) {
  h = lua_absindex(L, h);
  lobject *o = lua_touserdata(L, h);
  void **slot = dl_wdf_object_context(o->obj, name, 1);
  if (!slot) luaL_error(L, "WdfObjectGetTypedContext: out of memory");
  ldl_pushstate(L, h);
  luaL_getsubtable(L, -1, "contexts");
  if (lua_getfield(L, -1, name) == LUA_TNIL || !*slot) {
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_setfield(L, -3, name);
    *slot = (void *)lua_topointer(L, -1);  /* filled: the table is the context */
  }
  lua_replace(L, -3);
  lua_pop(L, 1);
}

/* EvtCleanupCallback(Object) for the core. */
static void on_cleanup(void *ctx, dl_wdf_object *o) {
  lmachine *lm = ctx;
  lua_State *L = lm->L;
  lwdf_pushhandle(L, o);
  ldl_pushstate(L, -1);
  if (lua_getfield(L, -1, "cleanup") == LUA_TFUNCTION) {
    lua_pushvalue(L, -3);
    ldl_where(lm, "EvtCleanupCallback", dl_wdf_object_type_name(o), o->id);
    ldl_callback(L, lm, 1, 0);
    lua_pop(L, 2);
  } else {
    lua_pop(L, 3);
  }
}

/* Checks arg is a live handle of a WDF object class (not a WDFDEVICE_INIT
** or a resource list, whose handles are not objects). */
lobject *lwdf_checkobject(lua_State *L, int arg) {
  luaL_getsubtable(L, LUA_REGISTRYINDEX, WDFCLASSES_KEY);
  int wdf = luaL_getmetafield(L, arg, "__name") != LUA_TNIL && lua_rawget(L, -2) != LUA_TNIL;
  if (!wdf) luaL_typeerror(L, arg, "WDF object handle");
  lua_pop(L, 2);
  lobject *h = lua_touserdata(L, arg);
  if (h->owner->m == NULL) luaL_argerror(L, arg, "its machine is closed");
  if (h->obj == NULL) luaL_argerror(L, arg, "the object has been deleted");
  ldl_checkowner(L, arg, h->owner, "WDF object");
  return h;
}

/* Applies WDF_OBJECT_ATTRIBUTES at attr (ParentObject, ContextTypeInfo,
** EvtCleanupCallback) to the new object whose handle is at h. */
static void apply_attributes(lua_State *L, int h, int attr) {
  lobject *o = lua_touserdata(L, h);
  if (!attr || lua_isnoneornil(L, attr)) return;
  luaL_argcheck(L, lua_istable(L, attr), attr, "WDF_OBJECT_ATTRIBUTES (a table) or nil expected");
  static const char *const fields[] = {  /* wdfobject.h */
    "Size", "EvtCleanupCallback", "EvtDestroyCallback", "ExecutionLevel", "SynchronizationScope",
    "ParentObject", "ContextSizeOverride", "ContextTypeInfo", NULL
  };
  ldl_checkfields(L, attr, "WDF_OBJECT_ATTRIBUTES has no field '%s' (%s)", fields);
  if (lua_getfield(L, attr, "ParentObject") != LUA_TNIL) {
    lobject *p = lua_touserdata(L, -1);
    luaL_getsubtable(L, LUA_REGISTRYINDEX, WDFCLASSES_KEY);
    int wdf = luaL_getmetafield(L, -2, "__name") != LUA_TNIL && lua_rawget(L, -2) != LUA_TNIL;
    luaL_argcheck(L, wdf && p->owner == o->owner && p->obj &&
                     dl_wdf_object_set_parent(o->obj, p->obj) == DL_OK, attr,
                  "ParentObject must be a live WDF object of the same machine");
    lua_pop(L, 2);
  }
  lua_pop(L, 1);
  int t = lua_getfield(L, attr, "ContextTypeInfo");
  luaL_argcheck(L, t == LUA_TNIL || t == LUA_TSTRING, attr, "ContextTypeInfo must be a type name");
  if (t == LUA_TSTRING) {
    push_context(L, h, lua_tostring(L, -1));
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  t = lua_getfield(L, attr, "EvtCleanupCallback");
  luaL_argcheck(L, t == LUA_TNIL || t == LUA_TFUNCTION, attr, "EvtCleanupCallback must be a function");
  ldl_pushstate(L, h);
  lua_insert(L, -2);
  lua_setfield(L, -2, "cleanup");
  lua_pop(L, 1);
}

/* Pushes the handle of a new framework object and applies its attributes. */
void lwdf_newobject(lua_State *L, lmachine *lm, void *obj, int attributes) {
  if (attributes) attributes = lua_absindex(L, attributes);
  lwdf_pushhandle(L, obj);
  dl_wdf_object_set_callbacks(obj, on_cleanup, NULL, lm);
  apply_attributes(L, lua_gettop(L), attributes);
}

/* Keeps values in the new handle's Lua state. */
void lwdf_keep(lua_State *L, const char *k1, int v1, const char *k2, int v2) {
  v1 = v1 ? lua_absindex(L, v1) : 0;
  v2 = v2 ? lua_absindex(L, v2) : 0;
  ldl_pushstate(L, -1);
  const char *keys[2] = {k1, k2};
  int values[2] = {v1, v2};
  for (int i = 0; i < 2; i++) {
    if (!values[i]) continue;
    lua_pushvalue(L, values[i]);
    lua_setfield(L, -2, keys[i]);
  }
  lua_pop(L, 1);
}

/* status, handle. */
int lwdf_created(lua_State *L) {
  lua_pushinteger(L, DL_STATUS_SUCCESS);
  lua_insert(L, -2);
  return 2;
}

/* Reads the NTSTATUS a driver callback returned. */
uint32_t lwdf_checkstatus(lua_State *L, int idx, const char *fname) {
  int ok = 0;
  lua_Integer v = lua_tointegerx(L, idx, &ok);
  if (!ok || v < INT32_MIN || v > (lua_Integer)UINT32_MAX)
    luaL_error(L, "%s must return an NTSTATUS, not %s", fname, luaL_typename(L, idx));
  return (uint32_t)v;
}

/* __tostring of a WDF class with nothing more to show: "<class>#id", or
** "<class> (deleted)". */
int lwdf_tostring(lua_State *L) {
  lobject *h = lua_touserdata(L, 1);
  luaL_getmetafield(L, 1, "__name");
  if (!h || !h->owner->m || !h->obj) lua_pushfstring(L, "%s (deleted)", lua_tostring(L, -1));
  else lua_pushfstring(L, "%s#%I", lua_tostring(L, -1), (lua_Integer)DL_OBJECT(h->obj)->id);
  return 1;
}

/* Marks a class as a WDF class (WdfObjectDelete, contexts, ParentObject). */
void lwdf_newclass(lua_State *L, const char *name, const luaL_Reg *meta, const luaL_Reg *methods) {
  ldl_newclass(L, name, meta, methods, NULL);
  luaL_getsubtable(L, LUA_REGISTRYINDEX, WDFCLASSES_KEY);
  lua_pushboolean(L, 1);
  lua_setfield(L, -2, name);
  lua_pop(L, 1);
}

/* Pushes the context table of any WDF object handle at arg. */
void ldl_wdf_pushcontext(lua_State *L, int arg, const char *type_name) {
  lwdf_checkobject(L, arg);
  push_context(L, arg, type_name);
}

/* Runs a framework deletion of the live object at arg as an engine call. */
void lwdf_delete(lua_State *L, int arg) {
  lobject *h = lua_touserdata(L, arg);
  ldl_call c;
  ldl_enter(L, h->owner, &c);
  dl_wdf_object_delete_framework(h->obj);
  ldl_leave(L, &c);
}

/* WdfObjectDelete(Object): the core's rules and order (dl_wdfobject.h). */
static int l_WdfObjectDelete(lua_State *L) {
  lobject *h = lwdf_checkobject(L, 1);
  ldl_call c;
  ldl_enter(L, h->owner, &c);
  int rc = dl_wdf_object_delete(h->obj);
  ldl_leave(L, &c);
  if (rc == DL_EBUSY && dl_wdf_object_in_use(h->obj))
    return luaL_error(L, "WdfObjectDelete: %s is in use: a framework callback on it or on one of "
                         "its children is running", luaL_tolstring(L, 1, NULL));
  if (rc == DL_EBUSY) return luaL_error(L, "WdfObjectDelete: %s still holds requests", luaL_tolstring(L, 1, NULL));
  if (rc && c.reports == dl_verifier_count(h->owner->m)) {
    luaL_getmetafield(L, 1, "__name");
    return luaL_error(L, "WdfObjectDelete: a %s may not be deleted by its driver", lua_tostring(L, -1));
  }
  return 0;
}

/* WdfObjectReference(Handle) */
static int l_WdfObjectReference(lua_State *L) {
  dl_wdf_object_reference(lwdf_checkobject(L, 1)->obj);
  return 0;
}

/* WdfObjectDereference(Handle): a release never taken is 0x10D/0x7. */
static int l_WdfObjectDereference(lua_State *L) {
  lobject *h = lwdf_checkobject(L, 1);
  ldl_call c;
  ldl_enter(L, h->owner, &c);
  dl_wdf_object_dereference(h->obj);
  ldl_leave(L, &c);
  return 0;
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
  static const int majors[] = {0x03, 0x04, 0x0e,     /* READ, WRITE, DEVICE_CONTROL */
                               0x00, 0x02, 0x12, 0x0f};  /* CREATE, CLOSE, CLEANUP, INTERNAL_... */
  for (size_t i = 0; i < sizeof majors / sizeof majors[0]; i++) {
    lua_pushcfunction(L, lwdf_dispatch);
    lua_rawseti(L, -2, majors[i]);
  }
  lua_setfield(L, drv, "MajorFunction");
}

/* EvtDriverUnload(Driver), if the config has one: ctx is the Lua state,
** with the WDFDRIVER's handle at its top. */
static void evt_driver_unload(void *ctx) {
  lua_State *L = ctx;
  lobject *h = lua_touserdata(L, -1);
  ldl_pushstate(L, -1);
  lua_getfield(L, -1, "config");
  if (lua_getfield(L, -1, "EvtDriverUnload") != LUA_TFUNCTION) {
    lua_pop(L, 3);
    return;
  }
  lua_replace(L, -3);                          /* driver, fn, config */
  lua_pop(L, 1);
  lua_pushvalue(L, -2);
  ldl_where(h->owner, "EvtDriverUnload", "WDFDRIVER", 0);
  ldl_callback(L, h->owner, 1, 0);             /* an error is raised after the unload */
}

/* The framework's DriverUnload (upvalue 1: the WDFDRIVER), which
** WdfDriverCreate installs as KMDF does (wdf/dl_wdf.h: devices removed,
** EvtDriverUnload, then the driver's objects deleted with their callbacks). */
static int framework_unload(lua_State *L) {
  lobject *h = lua_touserdata(L, lua_upvalueindex(1));
  if (!h->owner->m || !h->obj) return 0;
  lobject *wdm = ldl_testclass(L, 1, LDL_DRIVER);   /* DriverUnload(DriverObject) */
  lua_pushvalue(L, lua_upvalueindex(1));
  dl_wdf_driver_unload(h->obj, wdm ? wdm->obj : NULL, evt_driver_unload, L);
  return 0;
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
  if (lua_isnil(L, 1)) {
    lua_getfield(L, LUA_REGISTRYINDEX, "dma.wdf.driver");
    lua_createtable(L, 0, 1);
    lua_pushliteral(L, "\\Driver\\wdf");
    lua_setfield(L, -2, "name");
    lua_call(L, 1, 1);
    lua_replace(L, 1);
  }
  ldl_checkclass(L, 1, LDL_DRIVER);
  ldl_call c;
  ldl_enter(L, lm, &c);
  dl_wdf_driver *drv = NULL;
  int rc = dl_wdf_driver_new(lm->m, &drv);
  ldl_leave(L, &c);
  if (rc) {
    lua_pushinteger(L, DL_STATUS_INSUFFICIENT_RESOURCES);
    return 1;
  }
  install_dispatch(L, 1);
  lwdf_newobject(L, lm, drv, 3);                      /* 6 */
  lwdf_keep(L, "DriverObject", 1, "config", 4);
  lua_pushvalue(L, 6);
  lua_pushcclosure(L, framework_unload, 1);
  lua_setfield(L, 1, "DriverUnload");                 /* m:unload(DriverObject) runs it */
  return lwdf_created(L);
}

/* WdfDriverWdmGetDriverObject(Driver) -> DRIVER_OBJECT */
static int l_WdfDriverWdmGetDriverObject(lua_State *L) {
  ldl_checkobject(L, 1, LDL_WDFDRIVER, "WDFDRIVER");
  ldl_pushstate(L, 1);
  lua_getfield(L, -1, "DriverObject");
  return 1;
}

/* WdfGetDriver() -> WDFDRIVER: the current machine's one WDFDRIVER. */
static int l_WdfGetDriver(lua_State *L) {
  lmachine *lm = ldl_current(L, "WdfGetDriver");
  dl_wdf_driver *drv;
  size_t n;
  if (dl_wdf_get_driver(lm->m, &drv, &n) != DL_OK)
    return luaL_error(L, "WdfGetDriver: the machine has %d WDFDRIVERs; the caller's driver is "
                      "known only when it has exactly one", (int)n);
  lwdf_pushhandle(L, drv);
  return 1;
}

/* ---- machine teardown ---------------------------------------------------- */

/* Close hook: the drivers unload while the machine they use is alive
** (before its leak check): on m:close() as Windows unloads them, the
** driver's callbacks running (dl_wdf_shutdown); a machine collected by
** __gc calls no Lua, its objects go quietly. */
static int close_hook(lua_State *L) {
  lmachine *lm = ldl_checkclass(L, 1, LDL_MACHINE);
  lm->L = L;
  if (lm->collecting) dl_wdf_unload(lm->m);
  else dl_wdf_shutdown(lm->m);
  ldl_unpin(L, lm);
  return 0;
}

/* ---- registration -------------------------------------------------------- */

/* Handles are pinned while their objects live: nothing for __gc to do. */
static const luaL_Reg plain_meta[] = {
  {NULL, NULL}
};

static const luaL_Reg functions[] = {
  {"WdfObjectDelete", l_WdfObjectDelete},
  {"WdfObjectGetTypedContext", l_WdfObjectGetTypedContext},
  {"WdfObjectReference", l_WdfObjectReference},
  {"WdfObjectDereference", l_WdfObjectDereference},
  {"WDF_OBJECT_ATTRIBUTES_INIT", l_WDF_OBJECT_ATTRIBUTES_INIT},
  {"WDF_OBJECT_ATTRIBUTES_INIT_CONTEXT_TYPE", l_WDF_OBJECT_ATTRIBUTES_INIT_CONTEXT_TYPE},
  {"WDF_DRIVER_CONFIG_INIT", l_WDF_DRIVER_CONFIG_INIT},
  {"WdfDriverCreate", l_WdfDriverCreate},
  {"WdfDriverWdmGetDriverObject", l_WdfDriverWdmGetDriverObject},
  {"WdfGetDriver", l_WdfGetDriver},
  {NULL, NULL}
};

/* Names whose value is nil, listed so that .luacheckrc knows them. */
static const struct { const char *name; } nil_names[] = {
  {"WDF_NO_OBJECT_ATTRIBUTES"},
};

/* Registers the WDF classes, calls and constants in the module at -1:
** this file's, then those of wdfdevice.c, wdfqueue.c and wdfinterrupt.c. */
void ldl_open_wdf(lua_State *L) {
  lwdf_newclass(L, LDL_WDFDRIVER, plain_meta, ldl_no_methods);
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
  lwdf_open_sync(L);
  lwdf_open_memory(L);
  lwdf_open_io(L);
  lwdf_open_file(L);
}
