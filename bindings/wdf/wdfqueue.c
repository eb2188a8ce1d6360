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
static lrequest *check_request(lua_State *L, int arg) {
  lrequest *rh = luaL_checkudata(L, arg, LDL_WDFREQUEST);
  if (!rh->h.owner->m) luaL_argerror(L, arg, "its machine is closed");
  if (rh->done || !rh->h.obj)
    luaL_argerror(L, arg, lua_pushfstring(L, "WDFREQUEST#%I was completed", (lua_Integer)rh->id));
  return rh;
}

/* Pushes field k of the state of the request at arg. */
static void push_request_field(lua_State *L, lrequest *rh, const char *k) {
  lwdf_pushstate(L, rh->h.owner, rh->h.obj, 1);
  lua_getfield(L, -1, k);
  lua_remove(L, -2);
}

/* ---- completion ------------------------------------------------------------ */

/* Completes request r of lm with status and information: IoStatus set, the
** request's EvtCleanupCallback, the request freed, then IoCompleteRequest
** on its IRP. Leaves IoCompleteRequest, its IRP handle and IO_NO_INCREMENT
** on the stack for the caller to call. */
static void finish(lua_State *L, lmachine *lm, dl_wdf_request *r, uint32_t status, uint64_t info) {
  dl_wdf_request_complete(r, status, info);
  lwdf_pushstate(L, lm, r, 1);
  int st = lua_gettop(L);
  if (lua_getfield(L, st, "cleanup") == LUA_TFUNCTION) {
    lua_getfield(L, st, "handle");
    ldl_callback(L, lm, 1, 0);
  } else {
    lua_pop(L, 1);
  }
  lua_getfield(L, st, "handle");
  lrequest *rh = lua_touserdata(L, -1);
  if (rh) {
    rh->done = 1;
    rh->h.obj = NULL;
  }
  lua_pop(L, 1);
  lua_getfield(L, LUA_REGISTRYINDEX, IOCOMPLETE_KEY);
  lua_getfield(L, st, "irp");
  lua_pushinteger(L, 0);  /* IO_NO_INCREMENT */
  lua_remove(L, st);
  ldl_forgethandle(L, r);
  lwdf_dropstate(L, lm, r);
  dl_wdf_request_free(r);
}

/* Completes a request for the engine (no queue callback for it). */
static void complete_for_engine(lua_State *L, lmachine *lm, dl_wdf_request *r, uint32_t status) {
  finish(L, lm, r, status, 0);
  ldl_callback(L, lm, 2, 0);
}

/* Presents what the queue may present now, for a call made from Lua. */
static void dispatch(lua_State *L, lmachine *lm, dl_wdf_queue *q) {
  lm->L = L;
  uint64_t before = ldl_reports(lm);
  dl_wdf_queue_dispatch(q);
  ldl_checkreports(L, lm, before);
}

/* Completes the request at 1 from Lua: a completed one is reported
** (WDF_VIOLATION, request fatal error). */
static int complete(lua_State *L, uint32_t status, int has_info, uint64_t info) {
  lrequest *rh = luaL_checkudata(L, 1, LDL_WDFREQUEST);
  lmachine *lm = rh->h.owner;
  if (!lm->m) return luaL_argerror(L, 1, "its machine is closed");
  ldl_checkirql(L, lm, "WdfRequestComplete", 0, DL_DISPATCH_LEVEL);
  if (rh->done) {
    uint64_t before = ldl_reports(lm);
    dl_verify_fail(lm->m, DL_BUGCHECK_WDF, DL_WDF_REQUEST_FATAL_ERROR, 0, rh->id, 0,
                   "WdfRequestComplete: WDFREQUEST#%llu was already completed",
                   (unsigned long long)rh->id);
    ldl_checkreports(L, lm, before);
    return 0;
  }
  dl_wdf_request *r = rh->h.obj;
  dl_wdf_queue *q = r->q;
  lm->L = L;
  uint64_t before = ldl_reports(lm);
  finish(L, lm, r, status, has_info ? info : r->information);
  lua_call(L, 2, 0);
  if (!lm->m) return 0;  /* a completion routine closed the machine */
  ldl_checkreports(L, lm, before);  /* an error of the cleanup callback */
  dispatch(L, lm, q);
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
  lrequest *rh = check_request(L, 1);
  ((dl_wdf_request *)rh->h.obj)->information = ldl_checkuint(L, 2);
  return 0;
}

/* WdfRequestGetInformation(Request) -> Information */
static int l_WdfRequestGetInformation(lua_State *L) {
  lrequest *rh = check_request(L, 1);
  lua_pushinteger(L, (lua_Integer)((dl_wdf_request *)rh->h.obj)->information);
  return 1;
}

/* ---- the request's parameters and buffers ---------------------------------- */

/* Retrieves the MDL when the request's major is one of a, b: status, Mdl. */
static int retrieve_mdl(lua_State *L, uint8_t a, uint8_t b) {
  lrequest *rh = check_request(L, 1);
  dl_irp *irp = ((dl_wdf_request *)rh->h.obj)->irp;
  if (irp->major != a && irp->major != b) {
    lua_pushinteger(L, DL_STATUS_INVALID_DEVICE_REQUEST);
    return 1;
  }
  push_request_field(L, rh, "irp");
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

/* Sets field k of the table at -1 to integer v. */
static void set_int(lua_State *L, const char *k, uint64_t v) {
  lua_pushinteger(L, (lua_Integer)v);
  lua_setfield(L, -2, k);
}

/* WdfRequestGetParameters(Request) -> { Type = WdfRequestType*, Parameters =
** { Read = {Length, Key, DeviceOffset}, Write = ..., DeviceIoControl =
** {OutputBufferLength, InputBufferLength, IoControlCode} } } */
static int l_WdfRequestGetParameters(lua_State *L) {
  lrequest *rh = check_request(L, 1);
  dl_irp *irp = ((dl_wdf_request *)rh->h.obj)->irp;
  lua_createtable(L, 0, 2);
  set_int(L, "Type", irp->major);
  lua_createtable(L, 0, 3);
  lua_createtable(L, 0, 3);
  set_int(L, "Length", irp->length);
  set_int(L, "Key", 0);
  set_int(L, "DeviceOffset", irp->byte_offset);
  lua_pushvalue(L, -1);
  lua_setfield(L, -3, "Read");  /* one table: they share storage in the union */
  lua_setfield(L, -2, "Write");
  lua_createtable(L, 0, 3);
  set_int(L, "OutputBufferLength", irp->major == DL_IRP_MJ_DEVICE_CONTROL ? irp->length : 0);
  set_int(L, "InputBufferLength", 0);
  set_int(L, "IoControlCode", irp->ioctl);
  lua_setfield(L, -2, "DeviceIoControl");
  lua_setfield(L, -2, "Parameters");
  return 1;
}

/* WdfRequestGetIoQueue(Request) -> WDFQUEUE */
static int l_WdfRequestGetIoQueue(lua_State *L) {
  push_request_field(L, check_request(L, 1), "queue");
  return 1;
}

/* WdfRequestWdmGetIrp(Request) -> IRP */
static int l_WdfRequestWdmGetIrp(lua_State *L) {
  push_request_field(L, check_request(L, 1), "irp");
  return 1;
}

/* WdfRequestGetDevice(Request) -> WDFDEVICE (the lab's shortcut for
** WdfIoQueueGetDevice(WdfRequestGetIoQueue(Request))). */
static int l_WdfRequestGetDevice(lua_State *L) {
  lrequest *rh = check_request(L, 1);
  lwdf_pushhandle(L, rh->h.owner, dl_wdf_request_device(rh->h.obj));
  return 1;
}

/* ---- the framework's side: IRPs in, requests presented ---------------------- */

/* Creates the handle and state of a new request r for the IRP at irp. */
static void new_request(lua_State *L, lmachine *lm, int machine, dl_wdf_request *r, int irp) {
  lrequest *rh = lua_newuserdatauv(L, sizeof *rh, 1);
  rh->h.owner = lm;
  rh->h.obj = r;
  rh->done = 0;
  rh->id = r->id;
  lua_pushvalue(L, machine);
  lua_setiuservalue(L, -2, 1);
  luaL_setmetatable(L, LDL_WDFREQUEST);
  lwdf_register(L, lm, r, 0, NULL);
  lwdf_pushstate(L, lm, r, 0);
  lua_pushvalue(L, irp);
  lua_setfield(L, -2, "irp");
  lwdf_pushhandle(L, lm, r->q);
  lua_setfield(L, -2, "queue");
  lua_pop(L, 2);
}

/* The dispatch routine of a WDF driver (IRP_MJ_READ, WRITE, DEVICE_CONTROL):
** the IRP goes to the queue configured for its type (or the default
** queue) as a request, pended; without a queue it fails with
** STATUS_INVALID_DEVICE_REQUEST, on a failed or removed device with
** STATUS_INVALID_DEVICE_STATE. */
int lwdf_dispatch(lua_State *L) {
  lobject *fdo = ldl_checkobject(L, 1, LDL_DEVICE, "DEVICE_OBJECT");
  dl_irp *irp = ldl_checkobject(L, 2, LDL_IRP, "IRP")->obj;
  lmachine *lm = fdo->owner;
  lua_settop(L, 2);
  lwdf_pushstate(L, lm, fdo->obj, 0);                                  /* 3 */
  if (!lua_istable(L, 3) || lua_getfield(L, 3, "wdfdevice") != LUA_TUSERDATA)
    return luaL_error(L, "the framework's dispatch routine got a DEVICE_OBJECT of no WDFDEVICE");
  dl_wdf_device *d = ((lobject *)lua_touserdata(L, 4))->obj;        /* NULL: deleted */
  if (d) lwdf_pushstate(L, lm, d, 0);                                  /* 5 */
  else lua_newtable(L);
  luaL_getsubtable(L, 5, "dispatching");
  lobject *qh = lua_rawgeti(L, -1, irp->major) == LUA_TUSERDATA ? lua_touserdata(L, -1) : NULL;
  dl_wdf_queue *q = qh && qh->obj ? qh->obj : d ? d->default_queue : NULL;
  dl_wdf_request *r = NULL;
  int gone = !d || d->state == DL_WDF_FAILED || d->state == DL_WDF_REMOVED;
  if (!q || gone || dl_wdf_queue_add(q, irp, &r) != DL_OK) {
    irp->status = gone ? DL_STATUS_INVALID_DEVICE_STATE
                : q ? DL_STATUS_INSUFFICIENT_RESOURCES : DL_STATUS_INVALID_DEVICE_REQUEST;
    irp->information = 0;
    uint32_t status = irp->status;
    lua_getfield(L, LUA_REGISTRYINDEX, IOCOMPLETE_KEY);
    lua_pushvalue(L, 2);
    lua_pushinteger(L, 0);
    lua_call(L, 2, 0);
    lua_pushinteger(L, status);
    return 1;
  }
  dl_irp_mark_pending(irp);
  ldl_pushowner(L, 1);
  new_request(L, lm, lua_gettop(L), r, 2);
  dispatch(L, lm, q);
  lua_pushinteger(L, DL_STATUS_PENDING);
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
  dl_irp *irp = r->irp;
  const char *name = irp->major == DL_IRP_MJ_READ ? "EvtIoRead"
                   : irp->major == DL_IRP_MJ_WRITE ? "EvtIoWrite" : "EvtIoDeviceControl";
  lwdf_pushstate(L, lm, q, 0);
  lua_getfield(L, -1, "config");
  int nargs = 2;
  if (lua_getfield(L, -1, name) != LUA_TFUNCTION) {
    lua_pop(L, 1);
    if (lua_getfield(L, -1, "EvtIoDefault") != LUA_TFUNCTION) {
      lua_settop(L, top);
      complete_for_engine(L, lm, r, DL_STATUS_INVALID_DEVICE_REQUEST);
      lua_settop(L, top);
      return;
    }
    name = NULL;
  }
  lwdf_pushhandle(L, lm, q);
  lwdf_pushhandle(L, lm, r);
  if (name && irp->major != DL_IRP_MJ_DEVICE_CONTROL) {
    lua_pushinteger(L, irp->length);
    nargs = 3;
  } else if (name) {
    lua_pushinteger(L, irp->length);
    lua_pushinteger(L, 0);
    lua_pushinteger(L, irp->ioctl);
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
                                      : DL_STATUS_INSUFFICIENT_RESOURCES);
    return 1;
  }
  ldl_pushowner(L, 1);
  ldl_newobject(L, LDL_WDFQUEUE, -1, q);
  lwdf_register(L, dh->owner, q, 3, dh->obj);
  lwdf_pushstate(L, dh->owner, q, 0);
  lua_pushvalue(L, 6);
  lua_setfield(L, -2, "config");
  lua_pushvalue(L, 1);
  lua_setfield(L, -2, "device");
  lua_pop(L, 1);
  lua_pushinteger(L, DL_STATUS_SUCCESS);
  lua_insert(L, -2);
  return 2;
}

/* WdfDeviceGetDefaultQueue(Device) -> WDFQUEUE or nil */
static int l_WdfDeviceGetDefaultQueue(lua_State *L) {
  lobject *dh = ldl_checkobject(L, 1, LDL_WDFDEVICE, "WDFDEVICE");
  dl_wdf_device *d = dh->obj;
  if (d->default_queue) lwdf_pushhandle(L, dh->owner, d->default_queue);
  else lua_pushnil(L);
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
  luaL_argcheck(L, q->d == dh->obj, 2, "the queue belongs to another device");
  lwdf_pushstate(L, dh->owner, dh->obj, 1);
  luaL_getsubtable(L, -1, "dispatching");
  lua_pushvalue(L, 2);
  lua_rawseti(L, -2, type);
  lua_pushinteger(L, DL_STATUS_SUCCESS);
  return 1;
}

/* WdfIoQueueGetDevice(Queue) -> WDFDEVICE */
static int l_WdfIoQueueGetDevice(lua_State *L) {
  lobject *h = ldl_checkobject(L, 1, LDL_WDFQUEUE, "WDFQUEUE");
  lwdf_pushhandle(L, h->owner, ((dl_wdf_queue *)h->obj)->d);
  return 1;
}

/* queue:stats() -> { presented=, completed=, in_flight=, waiting= } (the lab's own) */
static int q_stats(lua_State *L) {
  dl_wdf_queue *q = checkqueue(L, 1);
  size_t waiting = 0;
  for (dl_link *l = q->waiting.next; l != &q->waiting; l = l->next) waiting++;
  lua_createtable(L, 0, 4);
  set_int(L, "presented", q->presented);
  set_int(L, "completed", q->completed);
  set_int(L, "in_flight", q->in_flight);
  set_int(L, "waiting", waiting);
  return 1;
}

/* The deleter of queues: only an empty queue goes (requests must be completed first). */
static int delete_queue(lua_State *L) {
  lobject *h = ldl_checkobject(L, 1, LDL_WDFQUEUE, "WDFQUEUE");
  dl_wdf_queue *q = h->obj;
  if (!dl_list_empty(&q->requests))
    return luaL_error(L, "WdfObjectDelete: WDFQUEUE#%I still holds requests", (lua_Integer)q->id);
  lwdf_pushstate(L, h->owner, q->d, 1);
  luaL_getsubtable(L, -1, "dispatching");
  for (int major = 0; major <= DL_IRP_MJ_MAXIMUM_FUNCTION; major++) {
    if (lua_rawgeti(L, -1, major) == LUA_TUSERDATA && lua_touserdata(L, -1) == (void *)h) {
      lua_pushnil(L);
      lua_rawseti(L, -3, major);
    }
    lua_pop(L, 1);
  }
  ldl_forgethandle(L, q);
  h->obj = NULL;
  dl_wdf_queue_free(q);
  return 0;
}

static int q_tostring(lua_State *L) {
  lobject *h = luaL_checkudata(L, 1, LDL_WDFQUEUE);
  if (!h->owner->m || !h->obj) {
    lua_pushliteral(L, "WDFQUEUE (deleted)");
    return 1;
  }
  dl_wdf_queue *q = h->obj;
  lua_pushfstring(L, "WDFQUEUE#%I %s%s in_flight=%d", (lua_Integer)q->id,
                  q->dispatch == DL_WDF_DISPATCH_SEQUENTIAL ? "sequential" : "parallel",
                  q->is_default ? " default" : "", (int)q->in_flight);
  return 1;
}

static int r_tostring(lua_State *L) {
  lrequest *rh = luaL_checkudata(L, 1, LDL_WDFREQUEST);
  lua_pushfstring(L, "WDFREQUEST#%I%s", (lua_Integer)rh->id, rh->done ? " completed" : "");
  return 1;
}

/* Handles hold nothing to free. */
static int no_gc(lua_State *L) {
  (void)L;
  return 0;
}

static const luaL_Reg q_meta[] = {
  {"__gc", no_gc},
  {"__tostring", q_tostring},
  {NULL, NULL}
};

static const luaL_Reg q_methods[] = {
  {"stats", q_stats},
  {NULL, NULL}
};

static const luaL_Reg r_meta[] = {
  {"__gc", no_gc},
  {"__tostring", r_tostring},
  {NULL, NULL}
};

static const luaL_Reg no_methods[] = {
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
  ldl_newclass(L, LDL_WDFQUEUE, q_meta, q_methods, NULL);
  ldl_newclass(L, LDL_WDFREQUEST, r_meta, no_methods, NULL);
  ldl_wdf_set_deleter(L, LDL_WDFQUEUE, delete_queue);
  ldl_wdf_set_deleter(L, LDL_WDFREQUEST, lwdf_reject_delete);
  luaL_setfuncs(L, functions, 0);
  for (size_t i = 0; i < sizeof constants / sizeof constants[0]; i++) {
    lua_pushinteger(L, constants[i].value);
    lua_setfield(L, -2, constants[i].name);
  }
  lua_getfield(L, -1, "IoCompleteRequest");
  lua_setfield(L, LUA_REGISTRYINDEX, IOCOMPLETE_KEY);
}
