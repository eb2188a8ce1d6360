/*
** wdfdevice.c: KMDF devices in Lua: WDFDEVICE_INIT and WdfDeviceCreate,
** the device calls, and the lab as PnP manager: m:wdf_add_device (calls
** EvtDriverDeviceAdd, then starts the device with a resource list made of
** hw.resources), m:wdf_set_power and m:wdf_remove_device; device:power_log()
** tells what ran.
**
** A WDFDEVICE has an FDO of its own (WdfDeviceWdmGetDeviceObject), whose
** DriverObject is the WDF driver's DRIVER_OBJECT, so IoCallDriver on it
** reaches the framework's dispatch routine (wdfqueue.c). The hardware's
** DEVICE_OBJECT (hw.device) is the PDO (WdfDeviceWdmGetPhysicalDevice).
*/
#include <string.h>

#include "devices/dl_cmres.h"
#include "io/dl_device.h"
#include "base/dl_status.h"
#include "lwdf.h"

#define LDL_DEVICE_INIT "WDFDEVICE_INIT"
#define LDL_RESLIST "WDFCMRESLIST"
#define MAX_RESOURCES (DL_DEVMODEL_MAX_BARS + DL_DEVMODEL_MAX_PORTS + DL_DEVMODEL_MAX_INTERRUPTS)

/* ---- devices ------------------------------------------------------------- */

static uint32_t on_event(void *ctx, dl_wdf_device *d, dl_wdf_event ev, uint32_t state);

static const dl_wdf_ops wdf_ops = {on_event, lwdf_present, lwdf_isr, lwdf_dpc,
                                   lwdf_interrupt_enable, lwdf_complete_irp, lwdf_request_cancel,
                                   lwdf_canceled_on_queue, lwdf_queue_state, lwdf_file_event};

#define checkdevice(L, i) ((dl_wdf_device *)ldl_checkobject(L, i, LDL_WDFDEVICE, "WDFDEVICE")->obj)

/* Calls a device callback for the engine; a failure or a bad return value
** is the callback's status (STATUS_UNSUCCESSFUL for an error). The
** self-managed I/O callbacks take the Device alone; Flush and Cleanup
** return nothing. */
static uint32_t on_event(void *ctx, dl_wdf_device *d, dl_wdf_event ev, uint32_t state) {
  lmachine *lm = ctx;
  lua_State *L = lm->L;
  int top = lua_gettop(L);
  const char *name = dl_wdf_event_name(ev);
  lwdf_pushstate(L, d);
  lua_getfield(L, top + 1, "pnp");
  lua_getfield(L, -1, name);
  lwdf_pushhandle(L, d);
  int nargs = 2;
  if (ev == DL_WDF_PREPARE_HARDWARE || ev == DL_WDF_RELEASE_HARDWARE) {
    lua_getfield(L, top + 1, "resources");
    if (ev == DL_WDF_PREPARE_HARDWARE) {
      lua_pushvalue(L, -1);  /* ResourcesRaw and ResourcesTranslated: no translation here */
      nargs = 3;
    }
  } else if (ev >= DL_WDF_SELF_MANAGED_IO_INIT) {
    nargs = 1;
  } else {
    lua_pushinteger(L, state);
  }
  uint32_t status = DL_STATUS_UNSUCCESSFUL;
  if (ev == DL_WDF_SELF_MANAGED_IO_FLUSH || ev == DL_WDF_SELF_MANAGED_IO_CLEANUP) {
    status = ldl_callback(L, lm, nargs, 0) ? DL_STATUS_SUCCESS : status;
  } else if (ldl_callback(L, lm, nargs, 1)) {
    int ok = 0;
    lua_Integer v = lua_tointegerx(L, -1, &ok);
    if (ok && v >= INT32_MIN && v <= (lua_Integer)UINT32_MAX) status = (uint32_t)v;
    else if (lm->error == LUA_NOREF) {
      lua_pushfstring(L, "%s must return an NTSTATUS, not %s", name, luaL_typename(L, -1));
      lm->error = luaL_ref(L, LUA_REGISTRYINDEX);
    }
  }
  lua_settop(L, top);
  return status;
}

/* WDF_PNPPOWER_EVENT_CALLBACKS_INIT() -> {} */
static int l_WDF_PNPPOWER_EVENT_CALLBACKS_INIT(lua_State *L) {
  lua_newtable(L);
  return 1;
}

/* WdfDeviceInitSetPnpPowerEventCallbacks(DeviceInit, PnpPowerEventCallbacks) */
static int l_WdfDeviceInitSetPnpPowerEventCallbacks(lua_State *L) {
  ldl_checkclass(L, 1, LDL_DEVICE_INIT);
  luaL_checktype(L, 2, LUA_TTABLE);
  static const char *const fields[] = {  /* wdfdevice.h */
    "Size", "EvtDeviceD0Entry", "EvtDeviceD0EntryPostInterruptsEnabled", "EvtDeviceD0Exit",
    "EvtDeviceD0ExitPreInterruptsDisabled", "EvtDevicePrepareHardware", "EvtDeviceReleaseHardware",
    "EvtDeviceSelfManagedIoCleanup", "EvtDeviceSelfManagedIoFlush", "EvtDeviceSelfManagedIoInit",
    "EvtDeviceSelfManagedIoSuspend", "EvtDeviceSelfManagedIoRestart", "EvtDeviceSurpriseRemoval",
    "EvtDeviceQueryRemove", "EvtDeviceQueryStop", "EvtDeviceUsageNotification",
    "EvtDeviceRelationsQuery", "EvtDeviceUsageNotificationEx", NULL
  };
  ldl_checkfields(L, 2, "WDF_PNPPOWER_EVENT_CALLBACKS has no field '%s' (%s)", fields);
  for (int ev = 0; ev < DL_WDF_EVENT_COUNT; ev++) {
    int t = lua_getfield(L, 2, dl_wdf_event_name((dl_wdf_event)ev));
    luaL_argcheck(L, t == LUA_TNIL || t == LUA_TFUNCTION, 2,
                  lua_pushfstring(L, "%s must be a function", dl_wdf_event_name((dl_wdf_event)ev)));
    lua_pop(L, 1);
  }
  lua_getiuservalue(L, 1, 1);
  lua_pushvalue(L, 2);
  lua_setfield(L, -2, "pnp");
  return 0;
}

/* WdfDeviceCreate(DeviceInit, DeviceAttributes) -> status, WDFDEVICE: the
** framework device over the PDO of DeviceInit, with its own FDO. */
static int l_WdfDeviceCreate(lua_State *L) {
  ldl_checkclass(L, 1, LDL_DEVICE_INIT);
  lua_settop(L, 2);
  lua_getiuservalue(L, 1, 1);                                       /* 3: init */
  luaL_argcheck(L, lua_getfield(L, 3, "device") == LUA_TNIL, 1,
                "DeviceInit was used already (WdfDeviceCreate sets it to NULL)");
  lua_getfield(L, 3, "machine");                                    /* 5 */
  lmachine *lm = ldl_checkmachine(L, 5);
  lua_getfield(L, 3, "pdo");                                        /* 6 */
  lua_getfield(L, 3, "name");                                       /* 7 */
  uint32_t events = 0;
  if (lua_getfield(L, 3, "pnp") == LUA_TTABLE)                      /* 8 */
    for (int ev = 0; ev < DL_WDF_EVENT_COUNT; ev++) {
      if (lua_getfield(L, 8, dl_wdf_event_name((dl_wdf_event)ev)) == LUA_TFUNCTION) events |= 1u << ev;
      lua_pop(L, 1);
    }
  lua_getfield(L, 3, "driver");                                     /* 9: the WDFDRIVER */
  lobject *drv = lua_touserdata(L, 9);
  dl_wdf_device *d = NULL;
  ldl_call c;
  ldl_enter(L, lm, &c);
  int rc = dl_wdf_device_new(lm->m, drv->obj, ((lobject *)lua_touserdata(L, 6))->obj,
                             lua_tostring(L, 7), &wdf_ops, lm, &d);
  ldl_leave(L, &c);
  if (rc) {  /* DL_ESTATE: the driver is being deleted */
    lua_pushinteger(L, rc == DL_ESTATE ? DL_STATUS_DELETE_PENDING : DL_STATUS_INSUFFICIENT_RESOURCES);
    return 1;
  }
  dl_wdf_device_set_events(d, events);
  lua_pop(L, 1);
  lwdf_newobject(L, lm, d, 2);                                      /* 9 */
  lwdf_apply_init(L, 3, 9, d);  /* I/O type, exclusivity, file callbacks */
  ldl_pushobject(L, LDL_DEVICE, DL_OBJECT(dl_wdf_device_fdo(d)));   /* 10: the FDO */
  ldl_pushstate(L, 9);                                              /* 11 */
  lua_pushvalue(L, 8);
  lua_setfield(L, 11, "pnp");
  lua_pushvalue(L, 10);
  lua_setfield(L, 11, "fdo");
  lua_getfield(L, 3, "driver");
  lua_setfield(L, 11, "driver");
  lua_getfield(L, 3, "hw");
  lua_setfield(L, 11, "hw");
  lua_pushvalue(L, 6);
  lua_setfield(L, 11, "pdo");
  ldl_pushstate(L, 10);                                             /* the FDO finds its device */
  lua_pushvalue(L, 9);
  lua_setfield(L, -2, "wdfdevice");
  lua_pop(L, 1);
  lua_getfield(L, 3, "driver");                                     /* FDO.DriverObject */
  ldl_pushstate(L, -1);
  lua_getfield(L, -1, "DriverObject");
  lua_setfield(L, 10, "DriverObject");
  lua_pop(L, 2);
  lua_pushvalue(L, 9);
  lua_setfield(L, 3, "device");
  lua_pushinteger(L, DL_STATUS_SUCCESS);
  lua_pushvalue(L, 9);
  return 2;
}

/* WdfDeviceWdmGetDeviceObject(Device) -> the FDO; WdfDeviceWdmGetPhysicalDevice -> the PDO. */
static int push_device_field(lua_State *L, const char *field) {
  ldl_checkobject(L, 1, LDL_WDFDEVICE, "WDFDEVICE");
  ldl_pushstate(L, 1);
  lua_getfield(L, -1, field);
  return 1;
}
static int l_WdfDeviceWdmGetDeviceObject(lua_State *L) { return push_device_field(L, "fdo"); }
static int l_WdfDeviceWdmGetPhysicalDevice(lua_State *L) { return push_device_field(L, "pdo"); }
static int l_WdfDeviceGetDriver(lua_State *L) { return push_device_field(L, "driver"); }

/* WdfDeviceSetAlignmentRequirement(Device, AlignmentRequirement): a
** FILE_*_ALIGNMENT value (2^n - 1). */
static int l_WdfDeviceSetAlignmentRequirement(lua_State *L) {
  dl_wdf_device *d = checkdevice(L, 1);
  uint64_t a = ldl_checkuint(L, 2);
  luaL_argcheck(L, a <= 0x1ff && dl_wdf_device_set_alignment(d, (uint32_t)a) == DL_OK, 2,
                "FILE_*_ALIGNMENT expected (0, 1, 3, 7, ... 511: one less than a power of 2)");
  return 0;
}

/* WdfDeviceGetAlignmentRequirement(Device) -> AlignmentRequirement */
static int l_WdfDeviceGetAlignmentRequirement(lua_State *L) {
  lua_pushinteger(L, dl_wdf_device_alignment(checkdevice(L, 1)));
  return 1;
}

/* device:power_log() -> the callbacks and framework steps of its PnP and
** power sequences, in order (the lab's own). */
static int dev_power_log(lua_State *L) {
  size_t n;
  const char *const *log = dl_wdf_device_power_log(checkdevice(L, 1), &n);
  lua_createtable(L, (int)n, 0);
  for (size_t i = 0; i < n; i++) {
    lua_pushstring(L, log[i]);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  return 1;
}

static const char *const state_names[] = {"added", "started", "stopped", "failed", "removed",
                                          "stopping"};
static const char *const power_names[] = {"invalid", "D0", "D1", "D2", "D3", "D3Final"};

/* device:state() -> "added"|"started"|"stopping"|"stopped"|"failed"|"removed", "D0".."D3Final" */
static int dev_state(lua_State *L) {
  dl_wdf_device *d = checkdevice(L, 1);
  uint32_t power = dl_wdf_device_power(d);
  lua_pushstring(L, state_names[dl_wdf_device_state(d)]);
  lua_pushstring(L, power <= DL_WDF_POWER_D3_FINAL ? power_names[power] : "?");
  return 2;
}

static int dev_tostring(lua_State *L) {
  lobject *h = ldl_checkclass(L, 1, LDL_WDFDEVICE);
  if (!h->owner->m || !h->obj) {
    lua_pushliteral(L, "WDFDEVICE (gone)");
    return 1;
  }
  dl_wdf_device *d = h->obj;
  uint32_t power = dl_wdf_device_power(d);
  lua_pushfstring(L, "WDFDEVICE#%I %s %s %s", (lua_Integer)DL_OBJECT(d)->id,
                  dl_wdf_device_fdo(d)->name, state_names[dl_wdf_device_state(d)],
                  power_names[power <= 5 ? power : 0]);
  return 1;
}

/* ---- the lab as PnP manager ---------------------------------------------- */

/* Adds descriptor r to res and its table to the list at -1. */
static void add_descriptor(lua_State *L, dl_wdf_resource *res, size_t *n, const dl_wdf_resource *r) {
  if (*n >= MAX_RESOURCES) return;
  res[(*n)++] = *r;
  ldl_push_descriptor(L, r);
  lua_rawseti(L, -2, (lua_Integer)*n);
}

/* Reads integer field k of the table at -1 (0 if absent). */
static uint64_t int_field(lua_State *L, const char *k) {
  lua_getfield(L, -1, k);
  uint64_t v = (uint64_t)lua_tointeger(L, -1);
  lua_pop(L, 1);
  return v;
}

/* The descriptors of a plain table's resources ({memory=, port=,
** interrupt=}, one each): for hardware written as a Lua table. */
static size_t table_resources(lua_State *L, int hw, dl_wdf_resource *res) {
  size_t n = 0;
  int list = lua_gettop(L);
  if (lua_getfield(L, hw, "resources") == LUA_TTABLE) {
    static const char *const kinds[] = {"memory", "port", "interrupt"};
    for (int k = 0; k < 3; k++) {
      if (lua_getfield(L, -1, kinds[k]) == LUA_TTABLE) {
        dl_wdf_resource r = {0};
        if (k == 2) {
          dl_devmodel_irq q = {(uint32_t)int_field(L, "vector"), (uint8_t)int_field(L, "level"), 0, 0};
          dl_cm_interrupt(&q, &r);
        } else {
          r.type = k == 0 ? DL_CM_MEMORY : DL_CM_PORT;
          r.share = DL_CM_SHARE_DEVICE_EXCLUSIVE;
          r.flags = k == 0 ? DL_CM_MEMORY_READ_WRITE : DL_CM_PORT_IO;
          r.start = int_field(L, "start");
          r.length = int_field(L, "length");
        }
        lua_pushvalue(L, list);
        add_descriptor(L, res, &n, &r);
        lua_pop(L, 1);
      }
      lua_pop(L, 1);
    }
    lwdfsys_add_dma_resources(L, -1, list);  /* CmResourceTypeDma (wdfsys.c) */
  }
  lua_pop(L, 1);
  return n;
}

/* Builds the resource list of hw at index hw: a device model's every BAR,
** port range and interrupt (dl_cmres.h), or a table's hw.resources. Pushes
** a WDFCMRESLIST and fills res. */
static size_t build_resources(lua_State *L, int hw, dl_wdf_resource *res) {
  lua_newuserdatauv(L, 0, 1);
  luaL_setmetatable(L, LDL_RESLIST);
  lua_newtable(L);
  size_t n = 0;
  lobject *model = ldl_testclass(L, hw, LDL_MODEL);
  if (model && model->obj) {
    dl_cm_descriptor d[MAX_RESOURCES];
    size_t all = dl_devmodel_resources(model->obj, d, MAX_RESOURCES);
    for (size_t i = 0; i < all && i < MAX_RESOURCES; i++) add_descriptor(L, res, &n, &d[i]);
    int list = lua_gettop(L);
    ldl_push_resources(L, model->obj);  /* a UART's DMA lines: CmResourceTypeDma (wdfsys.c) */
    lwdfsys_add_dma_resources(L, -1, list);
    lua_pop(L, 1);
  } else {
    n = table_resources(L, hw, res);
  }
  lua_setiuservalue(L, -2, 1);
  return n;
}

/* The index (from 0) of descriptor table `arg` in the resource list of the
** device at `dev`; -1 if arg is nil, -2 for anything else (the engine
** refuses it with the framework's status). */
long lwdf_descriptor_index(lua_State *L, int dev, int arg) {
  if (lua_isnil(L, arg)) return -1;
  ldl_pushstate(L, dev);
  long found = -2;
  if (lua_getfield(L, -1, "resources") == LUA_TUSERDATA) {
    lua_getiuservalue(L, -1, 1);
    for (lua_Integer i = 1; found < 0 && i <= (lua_Integer)lua_rawlen(L, -1); i++) {
      lua_rawgeti(L, -1, i);
      if (lua_rawequal(L, -1, arg)) found = (long)i - 1;
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
  }
  lua_pop(L, 2);
  return found;
}

/* m:wdf_add_device(driver, hw [, name]) -> WDFDEVICE (or nil), status: the
** PnP manager finds hw (a device model: hw.device, hw.resources), calls
** EvtDriverDeviceAdd(Driver, DeviceInit), then starts the device. */
static int m_wdf_add_device(lua_State *L) {
  lmachine *lm = ldl_checkmachine(L, 1);
  lobject *drv = ldl_checkobject(L, 2, LDL_WDFDRIVER, "WDFDRIVER");
  luaL_argcheck(L, drv->owner == lm, 2, "the driver belongs to another machine");
  lua_settop(L, 4);
  luaL_argcheck(L, lua_type(L, 3) == LUA_TUSERDATA || lua_type(L, 3) == LUA_TTABLE, 3,
                "a device (m:busmaster{} or m:device_model{}) expected");
  lua_getfield(L, 3, "device");                                      /* 5: the PDO */
  lobject *pdo = ldl_testclass(L, 5, LDL_DEVICE);
  luaL_argcheck(L, pdo && pdo->obj && pdo->owner == lm, 3, "hw.device must be a DEVICE_OBJECT of this machine");
  ldl_checkirql(L, lm, "wdf_add_device", 1, DL_PASSIVE_LEVEL);
  lua_newuserdatauv(L, 0, 1);                                        /* 6: DeviceInit */
  luaL_setmetatable(L, LDL_DEVICE_INIT);
  lua_createtable(L, 0, 6);
  lua_pushvalue(L, 1);
  lua_setfield(L, -2, "machine");
  lua_pushvalue(L, 2);
  lua_setfield(L, -2, "driver");
  lua_pushvalue(L, 3);
  lua_setfield(L, -2, "hw");
  lua_pushvalue(L, 5);
  lua_setfield(L, -2, "pdo");
  if (lua_isstring(L, 4)) lua_pushvalue(L, 4);
  else lua_pushstring(L, ((dl_device *)pdo->obj)->name);
  lua_setfield(L, -2, "name");
  lua_setiuservalue(L, 6, 1);
  ldl_pushstate(L, 2);                                               /* EvtDriverDeviceAdd */
  lua_getfield(L, -1, "config");
  lua_getfield(L, -1, "EvtDriverDeviceAdd");
  lua_pushvalue(L, 2);
  lua_pushvalue(L, 6);
  ldl_where(lm, "EvtDriverDeviceAdd", "WDFDRIVER", DL_OBJECT((dl_wdf_object *)drv->obj)->id);
  if (!ldl_callback(L, lm, 2, 1)) ldl_rethrow(L, lm);  /* the machine is not closed inside it */
  uint32_t st = lwdf_checkstatus(L, -1, "EvtDriverDeviceAdd");
  lua_getiuservalue(L, 6, 1);
  lua_getfield(L, -1, "device");                                     /* the WDFDEVICE, or nil */
  int dev = lua_gettop(L);
  if (!dl_nt_success(st) || lua_isnil(L, dev)) {
    if (dl_nt_success(st)) return luaL_error(L, "EvtDriverDeviceAdd succeeded without WdfDeviceCreate");
    lua_pushnil(L);
    lua_pushinteger(L, st);
    return 2;
  }
  dl_wdf_device *d = ((lobject *)lua_touserdata(L, dev))->obj;
  if (!d)  /* m:wdf_remove_device (or a machine teardown) inside EvtDriverDeviceAdd */
    return luaL_error(L, "m:wdf_add_device: the WDFDEVICE was removed inside EvtDriverDeviceAdd");
  dl_wdf_resource res[MAX_RESOURCES];
  size_t n = build_resources(L, 3, res);
  ldl_pushstate(L, dev);
  lua_insert(L, -2);
  lua_setfield(L, -2, "resources");
  ldl_call c;
  ldl_enter(L, lm, &c);
  st = dl_wdf_device_start(d, res, n);
  ldl_leave(L, &c);
  lua_pushvalue(L, dev);
  lua_pushinteger(L, st);
  return 2;
}

/* Reads a power state: "D0".."D3" or a WdfPowerDevice* value. */
static uint32_t check_power(lua_State *L, int arg) {
  if (lua_type(L, arg) == LUA_TSTRING) {
    const char *s = lua_tostring(L, arg);
    for (uint32_t i = DL_WDF_POWER_D0; i <= DL_WDF_POWER_D3; i++)
      if (strcmp(s, power_names[i]) == 0) return i;
    luaL_argerror(L, arg, "\"D0\", \"D1\", \"D2\" or \"D3\" expected");
  }
  lua_Integer v = luaL_checkinteger(L, arg);
  luaL_argcheck(L, v >= DL_WDF_POWER_D0 && v <= DL_WDF_POWER_D3, arg,
                "WdfPowerDeviceD0..WdfPowerDeviceD3 expected");
  return (uint32_t)v;
}

/* Runs a PnP/power change of the device at 2 for the machine at 1. */
static int pnp_call(lua_State *L, const char *fname, int power) {
  lmachine *lm = ldl_checkmachine(L, 1);
  lobject *h = ldl_checkobject(L, 2, LDL_WDFDEVICE, "WDFDEVICE");
  luaL_argcheck(L, h->owner == lm, 2, "the device belongs to another machine");
  uint32_t target = power ? check_power(L, 3) : 0;
  ldl_checkirql(L, lm, fname, 1, DL_PASSIVE_LEVEL);
  if (dl_wdf_object_in_use(h->obj))
    return luaL_error(L, "m:%s: %s is in use: one of its PnP/power callbacks is running", fname,
                      luaL_tolstring(L, 2, NULL));
  ldl_call c;
  ldl_enter(L, lm, &c);
  uint32_t st = power ? dl_wdf_device_set_power(h->obj, target) : dl_wdf_device_remove(h->obj);
  ldl_leave(L, &c);
  lua_pushinteger(L, st);
  return 1;
}

/* m:wdf_set_power(device, "D3" | "D0" | WdfPowerDevice*) -> status */
static int m_wdf_set_power(lua_State *L) { return pnp_call(L, "wdf_set_power", 1); }

/* m:wdf_remove_device(device) -> status: power-down, ReleaseHardware, then
** the framework deletes the device and its descendants (EvtCleanupCallbacks,
** children first); the handles are dead afterwards, the FDO stays with the
** machine, completing IRPs with an error. */
static int m_wdf_remove_device(lua_State *L) {
  pnp_call(L, "wdf_remove_device", 0);
  lwdf_delete(L, 2);
  return 1;
}

/* ---- resource lists ------------------------------------------------------ */

/* WdfCmResourceListGetCount(List) -> count */
static int l_WdfCmResourceListGetCount(lua_State *L) {
  ldl_checkclass(L, 1, LDL_RESLIST);
  lua_getiuservalue(L, 1, 1);
  lua_pushinteger(L, (lua_Integer)lua_rawlen(L, -1));
  return 1;
}

/* WdfCmResourceListGetDescriptor(List, Index) -> descriptor (Index from 0), or nil */
static int l_WdfCmResourceListGetDescriptor(lua_State *L) {
  ldl_checkclass(L, 1, LDL_RESLIST);
  lua_Integer i = luaL_checkinteger(L, 2);
  luaL_argcheck(L, i >= 0 && i <= 0xFFFFFFFF, 2, "Index must be a ULONG (0 to 0xFFFFFFFF)");
  lua_getiuservalue(L, 1, 1);
  lua_rawgeti(L, -1, i + 1);
  return 1;
}

static const luaL_Reg dev_meta[] = {
  {"__tostring", dev_tostring},
  {NULL, NULL}
};

static const luaL_Reg dev_methods[] = {
  {"power_log", dev_power_log},
  {"state", dev_state},
  {NULL, NULL}
};

static const luaL_Reg functions[] = {
  {"WDF_PNPPOWER_EVENT_CALLBACKS_INIT", l_WDF_PNPPOWER_EVENT_CALLBACKS_INIT},
  {"WdfDeviceInitSetPnpPowerEventCallbacks", l_WdfDeviceInitSetPnpPowerEventCallbacks},
  {"WdfDeviceCreate", l_WdfDeviceCreate},
  {"WdfDeviceWdmGetDeviceObject", l_WdfDeviceWdmGetDeviceObject},
  {"WdfDeviceWdmGetPhysicalDevice", l_WdfDeviceWdmGetPhysicalDevice},
  {"WdfDeviceGetDriver", l_WdfDeviceGetDriver},
  {"WdfDeviceSetAlignmentRequirement", l_WdfDeviceSetAlignmentRequirement},
  {"WdfDeviceGetAlignmentRequirement", l_WdfDeviceGetAlignmentRequirement},
  {"WdfCmResourceListGetCount", l_WdfCmResourceListGetCount},
  {"WdfCmResourceListGetDescriptor", l_WdfCmResourceListGetDescriptor},
  {NULL, NULL}
};

static const luaL_Reg machine_methods[] = {
  {"wdf_add_device", m_wdf_add_device},
  {"wdf_set_power", m_wdf_set_power},
  {"wdf_remove_device", m_wdf_remove_device},
  {NULL, NULL}
};

static const dl_wdk_value constants[] = {
  {"WdfPowerDeviceInvalid", DL_WDF_POWER_INVALID}, {"WdfPowerDeviceD0", DL_WDF_POWER_D0},
  {"WdfPowerDeviceD1", DL_WDF_POWER_D1}, {"WdfPowerDeviceD2", DL_WDF_POWER_D2},
  {"WdfPowerDeviceD3", DL_WDF_POWER_D3}, {"WdfPowerDeviceD3Final", DL_WDF_POWER_D3_FINAL},
  {"FILE_BYTE_ALIGNMENT", 0}, {"FILE_WORD_ALIGNMENT", 1}, {"FILE_LONG_ALIGNMENT", 3},
  {"FILE_QUAD_ALIGNMENT", 7}, {"FILE_OCTA_ALIGNMENT", 15}, {"FILE_32_BYTE_ALIGNMENT", 31},
  {"FILE_64_BYTE_ALIGNMENT", 63}, {"FILE_128_BYTE_ALIGNMENT", 127},
  {"FILE_256_BYTE_ALIGNMENT", 255}, {"FILE_512_BYTE_ALIGNMENT", 511},
};

/* Registers the device classes, calls, constants and machine methods. */
void lwdf_open_device(lua_State *L) {
  lwdf_newclass(L, LDL_WDFDEVICE, dev_meta, dev_methods);
  luaL_newmetatable(L, LDL_DEVICE_INIT);
  luaL_newmetatable(L, LDL_RESLIST);
  lua_pop(L, 2);
  luaL_setfuncs(L, functions, 0);
  ldl_setvalues(L, constants, sizeof constants / sizeof constants[0]);
  ldl_addmethods(L, LDL_MACHINE, machine_methods);
}
