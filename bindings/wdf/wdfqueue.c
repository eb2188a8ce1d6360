/*
** wdfqueue.c: KMDF I/O queues and requests in Lua: WdfIoQueueCreate, the
** framework's IRP dispatch routine (an IRP sent to a WDF device's FDO
** becomes a WDFREQUEST on its queue and is pended), the EvtIo* callbacks,
** and the WdfRequest* calls. Completing a request completes its IRP with
** IoCompleteRequest, so traces and statistics count it.
**
** A request's state (its IRP and queue handles, contexts) lives while the
** request does; at completion the core request is freed and its handle
** remembers only that it was completed: completing it again is bug check
** 0x10D.
*/
#include <string.h>

#include "io/dl_irp.h"
#include "base/dl_status.h"
#include "machine/dl_verifier.h"
#include "lwdf.h"

#define IOCOMPLETE_KEY "dma.wdf.IoCompleteRequest"

#define checkqueue(L, i) ((dl_wdf_queue *)ldl_checkobject(L, i, LDL_WDFQUEUE, "WDFQUEUE")->obj)

/* Checks a request the driver still owns (not completed). */
static dl_wdf_request *check_request(lua_State *L, int arg) {
  lobject *h = ldl_checkclass(L, arg, LDL_WDFREQUEST);
  if (!h->owner->m) luaL_argerror(L, arg, "its machine is closed");
  if (!h->obj) luaL_argerror(L, arg, lua_pushfstring(L, "%s was completed", luaL_tolstring(L, arg, NULL)));
  return h->obj;
}

/* Pushes field k of the state of the request at arg. */
static void push_request_field(lua_State *L, int arg, const char *k) {
  ldl_pushstate(L, arg);
  lua_getfield(L, -1, k);
  lua_remove(L, -2);
}

/* ---- completion ------------------------------------------------------------ */

static void recycle_parameters(lua_State *L, int h);

/* Completes request r: the core sets IoStatus and deletes the request (its
** EvtCleanupCallback runs), then IoCompleteRequest on its IRP and the
** queue presents what it may. The request's handle is at h. */
static void finish(lua_State *L, lmachine *lm, int h, dl_wdf_request *r, uint32_t status,
                   uint64_t info) {
  dl_wdf_queue *q = dl_wdf_request_queue(r);
  recycle_parameters(L, h);  /* the driver is done with the request */
  ldl_call c;
  ldl_enter(L, lm, &c);
  dl_irp *irp = dl_wdf_request_complete(r, status, info);
  if (irp) {
    lua_getfield(L, LUA_REGISTRYINDEX, IOCOMPLETE_KEY);
    push_request_field(L, h, "irp");
    lua_pushinteger(L, 0);  /* IO_NO_INCREMENT */
    ldl_callback(L, lm, 2, 0);
  }
  if (lm->m) dl_wdf_queue_dispatch(q);
  ldl_leave(L, &c);
}

/* Completes the request at 1 from Lua: one completed already is reported
** by the core (WDF_VIOLATION, request fatal error). */
static int complete(lua_State *L, uint32_t status, int has_info, uint64_t info) {
  lobject *h = ldl_checkclass(L, 1, LDL_WDFREQUEST);
  lmachine *lm = h->owner;
  if (!lm->m) return luaL_argerror(L, 1, "its machine is closed");
  if (!h->obj) {
    ldl_call c;
    ldl_enter(L, lm, &c);
    push_request_field(L, 1, "id");
    dl_wdf_request_report_completed(lm->m, (uint64_t)lua_tointeger(L, -1), "WdfRequestComplete");
    ldl_leave(L, &c);
    return 0;
  }
  dl_wdf_request *r = h->obj;
  finish(L, lm, 1, r, status, has_info ? info : dl_wdf_request_information(r));
  return 0;
}

/* Reads an NTSTATUS argument. */
static uint32_t check_ntstatus(lua_State *L, int arg) {
  lua_Integer v = luaL_checkinteger(L, arg);
  luaL_argcheck(L, v >= INT32_MIN && v <= (lua_Integer)UINT32_MAX, arg, "an NTSTATUS expected");
  return (uint32_t)v;
}

/* WdfRequestComplete(Request, Status) */
static int l_WdfRequestComplete(lua_State *L) { return complete(L, check_ntstatus(L, 2), 0, 0); }

/* WdfRequestCompleteWithInformation(Request, Status, Information) */
static int l_WdfRequestCompleteWithInformation(lua_State *L) {
  return complete(L, check_ntstatus(L, 2), 1, ldl_checkuint(L, 3));
}

/* WdfRequestSetInformation(Request, Information) */
static int l_WdfRequestSetInformation(lua_State *L) {
  dl_wdf_request_set_information(check_request(L, 1), ldl_checkuint(L, 2));
  return 0;
}

/* WdfRequestGetInformation(Request) -> Information */
static int l_WdfRequestGetInformation(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)dl_wdf_request_information(check_request(L, 1)));
  return 1;
}

/* ---- the request's parameters and buffers ---------------------------------- */

/* Retrieves the MDL when the request's major is one of a, b: status, Mdl. */
static int retrieve_mdl(lua_State *L, uint8_t a, uint8_t b) {
  dl_irp *irp = dl_wdf_request_irp(check_request(L, 1));
  if (dl_irp_major(irp) != a && dl_irp_major(irp) != b) {
    lua_pushinteger(L, DL_STATUS_INVALID_DEVICE_REQUEST);
    return 1;
  }
  push_request_field(L, 1, "irp");
  lua_getfield(L, -1, "MdlAddress");
  if (lua_isnil(L, -1)) {
    lua_pushinteger(L, DL_STATUS_BUFFER_TOO_SMALL);
    return 1;
  }
  lua_pushinteger(L, DL_STATUS_SUCCESS);
  lua_insert(L, -2);
  return 2;
}

/* WdfRequestRetrieveOutputWdmMdl(Request) -> status, Mdl: reads and device controls. */
static int l_WdfRequestRetrieveOutputWdmMdl(lua_State *L) {
  return retrieve_mdl(L, DL_IRP_MJ_READ, DL_IRP_MJ_DEVICE_CONTROL);
}

/* WdfRequestRetrieveInputWdmMdl(Request) -> status, Mdl: writes. */
static int l_WdfRequestRetrieveInputWdmMdl(lua_State *L) {
  return retrieve_mdl(L, DL_IRP_MJ_WRITE, DL_IRP_MJ_WRITE);
}

/* WDF_REQUEST_PARAMETERS tables of completed requests, for the next
** requests to reuse: none is made per request. At most PARAMS_POOL kept. */
static const char PARAMS_POOL_KEY = 0;
#define PARAMS_POOL 64

/* Fills the WDF_REQUEST_PARAMETERS table at -1 for irp; its inner tables
** are made if it is new, else refreshed in place. */
static void fill_parameters(lua_State *L, dl_irp *irp, int fresh) {
  ldl_setint(L, "Type", dl_irp_major(irp));
  ldl_pushparameters(L, fresh);
  lua_getfield(L, -1, "Read");
  ldl_setint(L, "Length", dl_irp_length(irp));
  ldl_setint(L, "Key", 0);
  ldl_setint(L, "DeviceOffset", dl_irp_byte_offset(irp));
  lua_pop(L, 1);
  lua_getfield(L, -1, "DeviceIoControl");
  ldl_setint(L, "OutputBufferLength", dl_irp_major(irp) == DL_IRP_MJ_DEVICE_CONTROL ? dl_irp_length(irp) : 0);
  ldl_setint(L, "InputBufferLength", 0);
  ldl_setint(L, "IoControlCode", dl_irp_ioctl(irp));
  lua_pop(L, 2);
}

/* Moves the parameters table of the request at h (if any) to the pool. */
static void recycle_parameters(lua_State *L, int h) {
  ldl_pushstate(L, h);
  if (lua_rawgetp(L, -1, &PARAMS_POOL_KEY) == LUA_TTABLE) {  /* state, params */
    lua_pushnil(L);
    lua_rawsetp(L, -3, &PARAMS_POOL_KEY);
    ldl_pool_give(L, &PARAMS_POOL_KEY, PARAMS_POOL);          /* state */
    lua_pop(L, 1);
    return;
  }
  lua_pop(L, 2);
}

/* WdfRequestGetParameters(Request) -> { Type = WdfRequestType*, Parameters =
** { Read = {Length, Key, DeviceOffset}, Write = ..., DeviceIoControl =
** {OutputBufferLength, InputBufferLength, IoControlCode} } }: one table per
** request while the driver owns it (taken from completed requests'). */
static int l_WdfRequestGetParameters(lua_State *L) {
  dl_irp *irp = dl_wdf_request_irp(check_request(L, 1));
  ldl_pushstate(L, 1);
  if (lua_rawgetp(L, -1, &PARAMS_POOL_KEY) == LUA_TTABLE) return 1;
  lua_pop(L, 1);
  int fresh = ldl_pool_take(L, &PARAMS_POOL_KEY, 2);   /* state, params */
  fill_parameters(L, irp, fresh);
  lua_pushvalue(L, -1);
  lua_rawsetp(L, -3, &PARAMS_POOL_KEY);
  return 1;
}

/* WdfRequestGetIoQueue(Request) -> WDFQUEUE */
static int l_WdfRequestGetIoQueue(lua_State *L) {
  lwdf_pushhandle(L, dl_wdf_request_queue(check_request(L, 1)));
  return 1;
}

/* WdfRequestWdmGetIrp(Request) -> IRP */
static int l_WdfRequestWdmGetIrp(lua_State *L) {
  check_request(L, 1);
  push_request_field(L, 1, "irp");
  return 1;
}

/* WdfRequestGetDevice(Request) -> WDFDEVICE (the lab's shortcut for
** WdfIoQueueGetDevice(WdfRequestGetIoQueue(Request))). */
static int l_WdfRequestGetDevice(lua_State *L) {
  lwdf_pushhandle(L, dl_wdf_request_device(check_request(L, 1)));
  return 1;
}

/* ---- the framework's side: IRPs in, requests presented ---------------------- */

/* Pushes the one handle of an IRP. */
static void push_irp(lua_State *L, dl_irp *irp) { ldl_pushobject(L, LDL_IRP, DL_OBJECT(irp)); }

/* Pushes the handle of request r as the queue presents it, giving it its
** state on first use: its IRP's handle and its id, which the handle keeps. */
static void push_presented(lua_State *L, dl_wdf_request *r) {
  lwdf_pushhandle(L, r);
  ldl_pushstate(L, -1);
  if (lua_getfield(L, -1, "id") == LUA_TNIL) {
    lua_pushinteger(L, (lua_Integer)DL_OBJECT(r)->id);
    lua_setfield(L, -3, "id");
    push_irp(L, dl_wdf_request_irp(r));
    lua_setfield(L, -3, "irp");
  }
  lua_pop(L, 2);
}

/* The dispatch routine of a WDF driver (IRP_MJ_READ, WRITE, DEVICE_CONTROL):
** the core queues the IRP as a request and presents it, or refuses it with
** a status this completes the IRP with. */
int lwdf_dispatch(lua_State *L) {
  lobject *fdo = ldl_checkobject(L, 1, LDL_DEVICE, "DEVICE_OBJECT");
  dl_irp *irp = ldl_checkobject(L, 2, LDL_IRP, "IRP")->obj;
  lmachine *lm = fdo->owner;
  lua_settop(L, 2);
  ldl_pushstate(L, 1);                                                 /* 3 */
  if (lua_getfield(L, 3, "wdfdevice") != LUA_TUSERDATA)
    return luaL_error(L, "the framework's dispatch routine got a DEVICE_OBJECT of no WDFDEVICE");
  dl_wdf_device *d = ((lobject *)lua_touserdata(L, 4))->obj;        /* NULL: deleted */
  dl_wdf_request *r = NULL;
  ldl_call c;
  ldl_enter(L, lm, &c);
  uint32_t status = dl_wdf_device_dispatch(d, irp, &r);
  ldl_leave(L, &c);
  if (status == DL_STATUS_PENDING) {
    lua_pushinteger(L, status);
    return 1;
  }
  dl_irp_set_status(irp, status);
  dl_irp_set_information(irp, 0);
  lua_getfield(L, LUA_REGISTRYINDEX, IOCOMPLETE_KEY);
  lua_pushvalue(L, 2);
  lua_pushinteger(L, 0);
  lua_call(L, 2, 0);
  lua_pushinteger(L, status);
  return 1;
}

/* Presents a request: EvtIoRead(Queue, Request, Length), EvtIoWrite(...),
** EvtIoDeviceControl(Queue, Request, OutputBufferLength,
** InputBufferLength, IoControlCode), else EvtIoDefault(Queue, Request);
** with none of them the framework fails the request. */
void lwdf_present(void *ctx, dl_wdf_queue *q, dl_wdf_request *r) {
  lmachine *lm = ctx;
  lua_State *L = lm->L;
  int top = lua_gettop(L);
  dl_irp *irp = dl_wdf_request_irp(r);
  push_presented(L, r);
  int h = lua_gettop(L);
  const char *name = dl_irp_major(irp) == DL_IRP_MJ_READ ? "EvtIoRead"
                   : dl_irp_major(irp) == DL_IRP_MJ_WRITE ? "EvtIoWrite" : "EvtIoDeviceControl";
  lwdf_pushstate(L, q);
  lua_getfield(L, -1, "config");
  int nargs = 2;
  if (lua_getfield(L, -1, name) != LUA_TFUNCTION) {
    lua_pop(L, 1);
    if (lua_getfield(L, -1, "EvtIoDefault") != LUA_TFUNCTION) {  /* the framework fails it */
      lua_settop(L, h);
      finish(L, lm, h, r, DL_STATUS_INVALID_DEVICE_REQUEST, 0);
      lua_settop(L, top);
      return;
    }
    name = NULL;
  }
  lwdf_pushhandle(L, q);
  lua_pushvalue(L, h);
  if (name && dl_irp_major(irp) != DL_IRP_MJ_DEVICE_CONTROL) {
    lua_pushinteger(L, dl_irp_length(irp));
    nargs = 3;
  } else if (name) {
    lua_pushinteger(L, dl_irp_length(irp));
    lua_pushinteger(L, 0);
    lua_pushinteger(L, dl_irp_ioctl(irp));
    nargs = 5;
  }
  ldl_callback(L, lm, nargs, 0);
  lua_settop(L, top);
}

/* ---- queues ------------------------------------------------------------------ */

/* Makes a queue configuration for DispatchType; default selects the default queue. */
static int queue_config(lua_State *L, int is_default) {
  lua_Integer type = luaL_checkinteger(L, 1);
  lua_createtable(L, 0, 4);
  lua_pushinteger(L, type);
  lua_setfield(L, -2, "DispatchType");
  lua_pushboolean(L, is_default);
  lua_setfield(L, -2, "DefaultQueue");
  lua_pushinteger(L, 2);  /* WdfUseDefault */
  lua_setfield(L, -2, "PowerManaged");
  return 1;
}

/* WDF_IO_QUEUE_CONFIG_INIT_DEFAULT_QUEUE(DispatchType) -> config */
static int l_WDF_IO_QUEUE_CONFIG_INIT_DEFAULT_QUEUE(lua_State *L) { return queue_config(L, 1); }

/* WDF_IO_QUEUE_CONFIG_INIT(DispatchType) -> config */
static int l_WDF_IO_QUEUE_CONFIG_INIT(lua_State *L) { return queue_config(L, 0); }

static const char *const queue_callbacks[] = {
  "EvtIoRead", "EvtIoWrite", "EvtIoDeviceControl", "EvtIoDefault", NULL
};

/* WdfIoQueueCreate(Device, Config, QueueAttributes) -> status, WDFQUEUE.
** Queues are power-managed: they present requests only in D0. */
static int l_WdfIoQueueCreate(lua_State *L) {
  lobject *dh = ldl_checkobject(L, 1, LDL_WDFDEVICE, "WDFDEVICE");
  luaL_checktype(L, 2, LUA_TTABLE);
  static const char *const fields[] = {  /* wdfio.h */
    "Size", "DispatchType", "PowerManaged", "AllowZeroLengthRequests", "DefaultQueue",
    "EvtIoDefault", "EvtIoRead", "EvtIoWrite", "EvtIoDeviceControl", "EvtIoInternalDeviceControl",
    "EvtIoStop", "EvtIoResume", "EvtIoCanceledOnQueue", "Settings", "Driver", NULL
  };
  ldl_checkfields(L, 2, "WDF_IO_QUEUE_CONFIG has no field '%s' (%s)", fields);
  lua_settop(L, 3);
  lua_getfield(L, 2, "DispatchType");
  lua_Integer type = lua_tointeger(L, -1);
  luaL_argcheck(L, type == DL_WDF_DISPATCH_SEQUENTIAL || type == DL_WDF_DISPATCH_PARALLEL, 2,
                "DispatchType must be WdfIoQueueDispatchSequential or WdfIoQueueDispatchParallel");
  lua_getfield(L, 2, "DefaultQueue");
  int is_default = lua_toboolean(L, -1);
  lua_createtable(L, 0, 6);                                            /* 6: the config copy */
  for (int i = 0; queue_callbacks[i]; i++) {
    int t = lua_getfield(L, 2, queue_callbacks[i]);
    luaL_argcheck(L, t == LUA_TNIL || t == LUA_TFUNCTION, 2,
                  lua_pushfstring(L, "%s must be a function", queue_callbacks[i]));
    lua_setfield(L, 6, queue_callbacks[i]);
  }
  dl_wdf_queue *q;
  int rc = dl_wdf_queue_new(dh->obj, (int)type, is_default, &q);
  if (rc) {
    lua_pushinteger(L, rc == DL_EBUSY ? DL_STATUS_INVALID_DEVICE_STATE
                       : rc == DL_ESTATE ? DL_STATUS_DELETE_PENDING : DL_STATUS_INSUFFICIENT_RESOURCES);
    return 1;
  }
  lwdf_newobject(L, dh->owner, q, 3);
  lwdf_keep(L, "config", 6, "device", 1);
  return lwdf_created(L);
}

/* WdfDeviceGetDefaultQueue(Device) -> WDFQUEUE or nil */
static int l_WdfDeviceGetDefaultQueue(lua_State *L) {
  lobject *dh = ldl_checkobject(L, 1, LDL_WDFDEVICE, "WDFDEVICE");
  lwdf_pushhandle(L, dl_wdf_device_default_queue(dh->obj));
  return 1;
}

/* WdfDeviceConfigureRequestDispatching(Device, Queue, RequestType) -> status:
** requests of that type (WdfRequestTypeRead...) go to Queue. */
static int l_WdfDeviceConfigureRequestDispatching(lua_State *L) {
  lobject *dh = ldl_checkobject(L, 1, LDL_WDFDEVICE, "WDFDEVICE");
  dl_wdf_queue *q = checkqueue(L, 2);
  lua_Integer type = luaL_checkinteger(L, 3);
  luaL_argcheck(L, type == DL_IRP_MJ_READ || type == DL_IRP_MJ_WRITE ||
                   type == DL_IRP_MJ_DEVICE_CONTROL, 3,
                "WdfRequestTypeRead, WdfRequestTypeWrite or WdfRequestTypeDeviceControl expected");
  luaL_argcheck(L, dl_wdf_queue_device(q) == dh->obj, 2, "the queue belongs to another device");
  dl_wdf_device_configure_dispatching(dh->obj, q, (uint8_t)type);
  lua_pushinteger(L, DL_STATUS_SUCCESS);
  return 1;
}

/* WdfIoQueueGetDevice(Queue) -> WDFDEVICE */
static int l_WdfIoQueueGetDevice(lua_State *L) {
  lwdf_pushhandle(L, dl_wdf_queue_device(checkqueue(L, 1)));
  return 1;
}

/* queue:stats() -> { presented=, completed=, in_flight=, waiting= } (the lab's own) */
static int q_stats(lua_State *L) {
  uint64_t presented, completed;
  uint32_t in_flight, waiting;
  dl_wdf_queue_stats(checkqueue(L, 1), &presented, &completed, &in_flight, &waiting);
  lua_createtable(L, 0, 4);
  ldl_setint(L, "presented", presented);
  ldl_setint(L, "completed", completed);
  ldl_setint(L, "in_flight", in_flight);
  ldl_setint(L, "waiting", waiting);
  return 1;
}

static int q_tostring(lua_State *L) {
  lobject *h = ldl_checkclass(L, 1, LDL_WDFQUEUE);
  if (!h->owner->m || !h->obj) {
    lua_pushliteral(L, "WDFQUEUE (deleted)");
    return 1;
  }
  dl_wdf_queue *q = h->obj;
  uint64_t presented, completed;
  uint32_t in_flight, waiting;
  dl_wdf_queue_stats(q, &presented, &completed, &in_flight, &waiting);
  lua_pushfstring(L, "WDFQUEUE#%I %s%s in_flight=%d", (lua_Integer)DL_OBJECT(q)->id,
                  dl_wdf_queue_dispatch_type(q) == DL_WDF_DISPATCH_SEQUENTIAL ? "sequential" : "parallel",
                  dl_wdf_queue_is_default(q) ? " default" : "", (int)in_flight);
  return 1;
}

static int r_tostring(lua_State *L) {
  lobject *h = ldl_checkclass(L, 1, LDL_WDFREQUEST);
  ldl_pushstate(L, 1);
  lua_getfield(L, -1, "id");
  lua_pushfstring(L, "WDFREQUEST#%I%s", lua_tointeger(L, -1), h->obj ? "" : " completed");
  return 1;
}

static const luaL_Reg q_meta[] = {
  {"__tostring", q_tostring},
  {NULL, NULL}
};

static const luaL_Reg q_methods[] = {
  {"stats", q_stats},
  {NULL, NULL}
};

static const luaL_Reg r_meta[] = {
  {"__tostring", r_tostring},
  {NULL, NULL}
};

static const luaL_Reg functions[] = {
  {"WDF_IO_QUEUE_CONFIG_INIT_DEFAULT_QUEUE", l_WDF_IO_QUEUE_CONFIG_INIT_DEFAULT_QUEUE},
  {"WDF_IO_QUEUE_CONFIG_INIT", l_WDF_IO_QUEUE_CONFIG_INIT},
  {"WdfIoQueueCreate", l_WdfIoQueueCreate},
  {"WdfDeviceGetDefaultQueue", l_WdfDeviceGetDefaultQueue},
  {"WdfDeviceConfigureRequestDispatching", l_WdfDeviceConfigureRequestDispatching},
  {"WdfIoQueueGetDevice", l_WdfIoQueueGetDevice},
  {"WdfRequestComplete", l_WdfRequestComplete},
  {"WdfRequestCompleteWithInformation", l_WdfRequestCompleteWithInformation},
  {"WdfRequestSetInformation", l_WdfRequestSetInformation},
  {"WdfRequestGetInformation", l_WdfRequestGetInformation},
  {"WdfRequestRetrieveOutputWdmMdl", l_WdfRequestRetrieveOutputWdmMdl},
  {"WdfRequestRetrieveInputWdmMdl", l_WdfRequestRetrieveInputWdmMdl},
  {"WdfRequestGetParameters", l_WdfRequestGetParameters},
  {"WdfRequestGetIoQueue", l_WdfRequestGetIoQueue},
  {"WdfRequestWdmGetIrp", l_WdfRequestWdmGetIrp},
  {"WdfRequestGetDevice", l_WdfRequestGetDevice},
  {NULL, NULL}
};

static const struct { const char *name; lua_Integer value; } constants[] = {
  {"WdfIoQueueDispatchInvalid", 0}, {"WdfIoQueueDispatchSequential", DL_WDF_DISPATCH_SEQUENTIAL},
  {"WdfIoQueueDispatchParallel", DL_WDF_DISPATCH_PARALLEL}, {"WdfIoQueueDispatchManual", 3},
  {"WdfRequestTypeRead", DL_IRP_MJ_READ}, {"WdfRequestTypeWrite", DL_IRP_MJ_WRITE},
  {"WdfRequestTypeDeviceControl", DL_IRP_MJ_DEVICE_CONTROL},
  {"WdfFalse", 0}, {"WdfTrue", 1}, {"WdfUseDefault", 2},
};

/* Registers the queue and request classes, calls and constants. */
void lwdf_open_queue(lua_State *L) {
  lua_createtable(L, PARAMS_POOL, 0);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &PARAMS_POOL_KEY);
  lwdf_newclass(L, LDL_WDFQUEUE, q_meta, q_methods);
  lwdf_newclass(L, LDL_WDFREQUEST, r_meta, ldl_no_methods);
  luaL_setfuncs(L, functions, 0);
  for (size_t i = 0; i < sizeof constants / sizeof constants[0]; i++) {
    lua_pushinteger(L, constants[i].value);
    lua_setfield(L, -2, constants[i].name);
  }
  lua_getfield(L, -1, "IoCompleteRequest");
  lua_setfield(L, LUA_REGISTRYINDEX, IOCOMPLETE_KEY);
}
