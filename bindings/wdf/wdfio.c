/*
** wdfio.c: the framework's I/O beyond presenting requests, in Lua: manual
** queues (WdfIoQueueRetrieveNextRequest, ...ByFileObject, WdfIoQueueFindRequest,
** WdfIoQueueRetrieveFoundRequest,
** WdfIoQueueReadyNotify), WdfRequestForwardToIoQueue, WdfRequestRequeue,
** WdfIoQueueStart/Stop/Purge/Drain (and ...Synchronously) with their
** callbacks, WdfRequestMarkCancelable(Ex)/UnmarkCancelable with
** EvtRequestCancel, EvtIoCanceledOnQueue, WdfRequestIsCanceled, the
** request's buffers (WdfRequestRetrieveInput/OutputBuffer, ...WdmMdl),
** WdfRequestGetStatus and WdfRequestGetFileObject. The rules are the
** core's (wdf/dl_wdfio.h); this file converts values.
*/
#include <string.h>

#include "base/dl_status.h"
#include "io/dl_driver.h"
#include "io/dl_iobuf.h"
#include "wdf/dl_wdffile.h"
#include "wdf/dl_wdfio.h"
#include "wdf/dl_wdfmemory.h"
#include "lwdf.h"

#define IOCOMPLETE_KEY "dma.wdf.IoCompleteRequest"

#define checkqueue(L, i) ((dl_wdf_queue *)ldl_checkobject(L, i, LDL_WDFQUEUE, "WDFQUEUE")->obj)

/* Runs a core call that may call the driver back, bracketed for the engine. */
#define ENGINE(L, lm, stmt) do { ldl_call c_; ldl_enter(L, lm, &c_); stmt; ldl_leave(L, &c_); } while (0)

static lmachine *owner(lua_State *L, int arg) { return ((lobject *)lua_touserdata(L, arg))->owner; }

/* ---- the engine's calls into the driver -------------------------------------- */

/* The framework completes an IRP itself: IoCompleteRequest, so the IRP's
** handle is released as any other. */
void lwdf_complete_irp(void *ctx, dl_irp *irp) {
  lmachine *lm = ctx;
  lua_State *L = lm->L;
  lua_getfield(L, LUA_REGISTRYINDEX, IOCOMPLETE_KEY);
  ldl_pushobject(L, LDL_IRP, DL_OBJECT(irp));
  lua_pushinteger(L, 0);
  ldl_callback(L, lm, 2, 0);
}

/* EvtRequestCancel(Request), kept in the request's state by MarkCancelable. */
void lwdf_request_cancel(void *ctx, dl_wdf_request *r) {
  lmachine *lm = ctx;
  lua_State *L = lm->L;
  lwdf_push_request(L, r);
  ldl_pushstate(L, -1);
  lua_getfield(L, -1, "EvtRequestCancel");
  lua_insert(L, -3);
  lua_pop(L, 1);
  ldl_where(lm, "EvtRequestCancel", "WDFREQUEST", DL_OBJECT(r)->id);
  ldl_callback(L, lm, 1, 0);
}

/* EvtIoCanceledOnQueue(Queue, Request). */
int lwdf_canceled_on_queue(void *ctx, dl_wdf_queue *q, dl_wdf_request *r) {
  lmachine *lm = ctx;
  lua_State *L = lm->L;
  lwdf_pushstate(L, q);
  lua_getfield(L, -1, "config");
  lua_getfield(L, -1, "EvtIoCanceledOnQueue");
  lua_replace(L, -3);
  lua_pop(L, 1);
  lwdf_pushhandle(L, q);
  lwdf_push_request(L, r);
  ldl_where(lm, "EvtIoCanceledOnQueue", "WDFQUEUE", DL_OBJECT(q)->id);
  ldl_callback(L, lm, 2, 0);
  return 1;
}

static const char *const state_keys[] = {"", "StopComplete", "PurgeComplete", "DrainComplete",
                                         "QueueReady"};

/* A queue state callback: fn(Queue, Context), kept in the queue's state. */
void lwdf_queue_state(void *ctx, dl_wdf_queue *q, int which) {
  lmachine *lm = ctx;
  lua_State *L = lm->L;
  lwdf_pushstate(L, q);
  int st = lua_gettop(L);
  if (lua_getfield(L, st, state_keys[which]) != LUA_TFUNCTION) {
    lua_settop(L, st - 1);
    return;
  }
  lwdf_pushhandle(L, q);
  lua_getfield(L, st, lua_pushfstring(L, "%sContext", state_keys[which]));
  lua_remove(L, -2);
  ldl_where(lm, state_keys[which], "WDFQUEUE", DL_OBJECT(q)->id);
  ldl_callback(L, lm, 2, 0);
  lua_settop(L, st - 1);
}

/* ---- manual queues ------------------------------------------------------------- */

/* Pushes status and the retrieved request (nil if none): returns 2. */
static int push_retrieved(lua_State *L, uint32_t st, dl_wdf_request *r) {
  lua_pushinteger(L, st);
  if (r) lwdf_push_request(L, r);
  else lua_pushnil(L);
  return 2;
}

/* WdfIoQueueRetrieveNextRequest(Queue) -> status, Request */
static int l_WdfIoQueueRetrieveNextRequest(lua_State *L) {
  dl_wdf_queue *q = checkqueue(L, 1);
  dl_wdf_request *r = NULL;
  uint32_t st;
  ENGINE(L, owner(L, 1), st = dl_wdf_queue_retrieve(q, NULL, &r));
  return push_retrieved(L, st, r);
}

/* WdfIoQueueFindRequest(Queue, FoundRequest, FileObject, Parameters) ->
** status, Request: the next waiting request, which the driver does not own
** and must WdfObjectDereference; its parameters fill the Parameters table
** (as WdfRequestGetParameters'), if one is given. */
static int l_WdfIoQueueFindRequest(lua_State *L) {
  dl_wdf_queue *q = checkqueue(L, 1);
  dl_wdf_request *found = NULL, *r = NULL;
  const void *file = NULL;
  if (!lua_isnoneornil(L, 2)) {
    found = lwdf_checkrequest(L, 2);
    ldl_checkowner(L, 2, owner(L, 1), "WDFREQUEST");
  }
  if (!lua_isnoneornil(L, 3)) {
    lobject *f = ldl_checkobject(L, 3, "WDFFILEOBJECT", "WDFFILEOBJECT");
    ldl_checkowner(L, 3, owner(L, 1), "WDFFILEOBJECT");
    file = ((dl_wdf_file *)f->obj)->file;
  }
  if (!lua_isnoneornil(L, 4)) luaL_checktype(L, 4, LUA_TTABLE);
  uint32_t st;
  ENGINE(L, owner(L, 1), st = dl_wdf_queue_find(q, found, file, &r));
  if (r && lua_istable(L, 4)) {
    lua_pushvalue(L, 4);
    lwdf_fill_parameters(L, dl_wdf_request_irp(r));
    lua_pop(L, 1);
  }
  return push_retrieved(L, st, r);
}

/* WdfIoQueueRetrieveFoundRequest(Queue, FoundRequest) -> status, Request */
static int l_WdfIoQueueRetrieveFoundRequest(lua_State *L) {
  dl_wdf_queue *q = checkqueue(L, 1);
  dl_wdf_request *found = lwdf_checkrequest(L, 2), *r = NULL;
  ldl_checkowner(L, 2, owner(L, 1), "WDFREQUEST");
  uint32_t st;
  ENGINE(L, owner(L, 1), st = dl_wdf_queue_retrieve_found(q, found, &r));
  return push_retrieved(L, st, r);
}

/* WdfIoQueueRetrieveRequestByFileObject(Queue, FileObject) -> status,
** Request: the first request on that file (a WDFFILEOBJECT). */
static int l_WdfIoQueueRetrieveRequestByFileObject(lua_State *L) {
  dl_wdf_queue *q = checkqueue(L, 1);
  lobject *f = ldl_checkobject(L, 2, "WDFFILEOBJECT", "WDFFILEOBJECT");
  ldl_checkowner(L, 2, owner(L, 1), "WDFFILEOBJECT");
  dl_wdf_request *r = NULL;
  uint32_t st;
  ENGINE(L, owner(L, 1), st = dl_wdf_queue_retrieve(q, ((dl_wdf_file *)f->obj)->file, &r));
  return push_retrieved(L, st, r);
}

/* Keeps the callback at arg (a function or nil) and its context at arg+1
** under key in the queue's state. */
static void keep_callback(lua_State *L, int qarg, int arg, const char *key) {
  luaL_argcheck(L, lua_isnoneornil(L, arg) || lua_isfunction(L, arg), arg, "a function or nil expected");
  lwdf_pushstate(L, checkqueue(L, qarg));
  lua_pushvalue(L, arg);
  lua_setfield(L, -2, key);
  lua_pushfstring(L, "%sContext", key);
  lua_pushvalue(L, arg + 1);
  lua_settable(L, -3);
  lua_pop(L, 1);
}

/* Pushes the callback and context kept under key (for a refused call to put back). */
static void push_kept(lua_State *L, int qarg, const char *key) {
  lwdf_pushstate(L, checkqueue(L, qarg));
  lua_getfield(L, -1, key);
  lua_pushfstring(L, "%sContext", key);
  lua_gettable(L, -3);
  lua_remove(L, -3);
}

/* WdfIoQueueReadyNotify(Queue, QueueReady, Context) -> status: on a manual
** queue, QueueReady(Queue, Context) runs when requests arrive at the empty
** queue (and now, if some wait); nil unregisters. */
static int l_WdfIoQueueReadyNotify(lua_State *L) {
  dl_wdf_queue *q = checkqueue(L, 1);
  lua_settop(L, 3);
  push_kept(L, 1, "QueueReady");  /* 4, 5 */
  keep_callback(L, 1, 2, "QueueReady");
  uint32_t st;
  ENGINE(L, owner(L, 1), {  /* a refusal puts the old one back before its report raises */
    st = dl_wdf_queue_ready_notify(q, !lua_isnil(L, 2));
    if (st != DL_STATUS_SUCCESS && owner(L, 1)->m) keep_callback(L, 1, 4, "QueueReady");
  });
  lua_pushinteger(L, st);
  return 1;
}

/* ---- moving requests ------------------------------------------------------------- */

/* WdfRequestForwardToIoQueue(Request, DestinationQueue) -> status */
static int l_WdfRequestForwardToIoQueue(lua_State *L) {
  dl_wdf_request *r = lwdf_checkrequest(L, 1);
  dl_wdf_queue *q = checkqueue(L, 2);
  ldl_checkowner(L, 2, owner(L, 1), "WDFQUEUE");
  uint32_t st;
  ENGINE(L, owner(L, 1), st = dl_wdf_request_forward(r, q));
  lua_pushinteger(L, st);
  return 1;
}

/* WdfRequestRequeue(Request) -> status */
static int l_WdfRequestRequeue(lua_State *L) {
  dl_wdf_request *r = lwdf_checkrequest(L, 1);
  uint32_t st;
  ENGINE(L, owner(L, 1), st = dl_wdf_request_requeue(r));
  lua_pushinteger(L, st);
  return 1;
}

/* ---- queue states ------------------------------------------------------------------ */

/* WdfIoQueueStart(Queue) */
static int l_WdfIoQueueStart(lua_State *L) {
  dl_wdf_queue *q = checkqueue(L, 1);
  lua_settop(L, 1);
  ENGINE(L, owner(L, 1), dl_wdf_queue_start(q));
  return 0;
}

/* WdfIoQueueStop/Purge/Drain(Queue, Callback, Context): the state change,
** Callback(Queue, Context) once the queue is idle. */
static int state_change(lua_State *L, int op) {
  dl_wdf_queue *q = checkqueue(L, 1);
  lua_settop(L, 3);
  luaL_argcheck(L, lua_isnil(L, 2) || lua_isfunction(L, 2), 2, "a function or nil expected");
  int cb = !lua_isnil(L, 2);
  /* Without a callback an outstanding one stays; a refused call puts the old one back. */
  push_kept(L, 1, state_keys[op]);  /* 4, 5 */
  if (cb) keep_callback(L, 1, 2, state_keys[op]);
  ENGINE(L, owner(L, 1), {
    uint32_t st = op == DL_WDF_QCB_STOP ? dl_wdf_queue_stop(q, cb)
                  : op == DL_WDF_QCB_PURGE ? dl_wdf_queue_purge(q, cb) : dl_wdf_queue_drain(q, cb);
    if (cb && st != DL_STATUS_SUCCESS && owner(L, 1)->m) keep_callback(L, 1, 4, state_keys[op]);
  });
  return 0;
}

static int l_WdfIoQueueStop(lua_State *L) { return state_change(L, DL_WDF_QCB_STOP); }
static int l_WdfIoQueuePurge(lua_State *L) { return state_change(L, DL_WDF_QCB_PURGE); }
static int l_WdfIoQueueDrain(lua_State *L) { return state_change(L, DL_WDF_QCB_DRAIN); }

/* The ...Synchronously variants: the change, then the simulated clock runs
** until the queue is idle; a wait that could never end raises. */
static int state_change_sync(lua_State *L, int op, const char *fname) {
  dl_wdf_queue *q = checkqueue(L, 1);
  lua_settop(L, 1);
  int idle = 0;
  ENGINE(L, owner(L, 1), {
    if (dl_wdf_queue_change_sync(q, op) != 0) idle = 1;  /* refused (reported): no wait */
    else idle = owner(L, 1)->m ? dl_wdf_queue_wait_idle(q, op) : 1;
  });
  if (!idle)
    return luaL_error(L, "%s: the driver still owns requests of the queue and no simulated event "
                         "completed them (none left, or 60 s of simulated time): the wait would "
                         "never end", fname);
  return 0;
}

static int l_WdfIoQueueStopSynchronously(lua_State *L) {
  return state_change_sync(L, DL_WDF_QCB_STOP, "WdfIoQueueStopSynchronously");
}
static int l_WdfIoQueuePurgeSynchronously(lua_State *L) {
  return state_change_sync(L, DL_WDF_QCB_PURGE, "WdfIoQueuePurgeSynchronously");
}
static int l_WdfIoQueueDrainSynchronously(lua_State *L) {
  return state_change_sync(L, DL_WDF_QCB_DRAIN, "WdfIoQueueDrainSynchronously");
}

/* ---- cancellation ------------------------------------------------------------------- */

/* MarkCancelable(Ex): EvtRequestCancel kept in the request's state. */
static int mark(lua_State *L, int ex) {
  dl_wdf_request *r = lwdf_checkrequest(L, 1);
  luaL_checktype(L, 2, LUA_TFUNCTION);
  lua_settop(L, 2);
  ldl_pushstate(L, 1);
  lua_pushvalue(L, 2);
  lua_setfield(L, -2, "EvtRequestCancel");
  uint32_t st;
  ENGINE(L, owner(L, 1), st = dl_wdf_request_mark_cancelable(r, ex));
  if (!ex) return 0;
  lua_pushinteger(L, st);
  return 1;
}

/* WdfRequestMarkCancelable(Request, EvtRequestCancel): EvtRequestCancel(Request)
** runs when the request is cancelled (at once if it was), at IoCancelIrp's
** caller's IRQL: the framework has released the cancel spin lock. */
static int l_WdfRequestMarkCancelable(lua_State *L) { return mark(L, 0); }

/* WdfRequestMarkCancelableEx(Request, EvtRequestCancel) -> status:
** STATUS_CANCELLED if it was cancelled already (the driver completes it). */
static int l_WdfRequestMarkCancelableEx(lua_State *L) { return mark(L, 1); }

/* WdfRequestUnmarkCancelable(Request) -> status: STATUS_CANCELLED if
** EvtRequestCancel ran (complete it from there, not here). */
static int l_WdfRequestUnmarkCancelable(lua_State *L) {
  dl_wdf_request *r = lwdf_checkrequest(L, 1);
  uint32_t st;
  ENGINE(L, owner(L, 1), st = dl_wdf_request_unmark_cancelable(r));
  lua_pushinteger(L, st);
  return 1;
}

/* WdfRequestIsCanceled(Request) -> BOOLEAN */
static int l_WdfRequestIsCanceled(lua_State *L) {
  dl_wdf_request *r = lwdf_checkrequest(L, 1);
  int canceled = 0;
  ENGINE(L, owner(L, 1), canceled = dl_wdf_request_is_canceled(r));
  lua_pushboolean(L, canceled);
  return 1;
}

/* ---- buffers ------------------------------------------------------------------------- */

/* Retrieve{Input,Output}Buffer(Request, MinimumRequiredSize) -> status, Buffer, Length */
static int retrieve_buffer(lua_State *L, int output) {
  dl_wdf_request *r = lwdf_checkrequest(L, 1);
  uint64_t required = ldl_checkuint(L, 2);
  uint64_t va, len;
  uint32_t st;
  ENGINE(L, owner(L, 1), st = dl_wdf_request_buffer(r, output, required, &va, &len));
  lua_pushinteger(L, st);
  if (st != DL_STATUS_SUCCESS) return 1;
  lua_pushinteger(L, (lua_Integer)va);
  lua_pushinteger(L, (lua_Integer)len);
  return 3;
}

/* WdfRequestRetrieveInputBuffer(Request, MinimumRequiredSize) -> status, Buffer, Length:
** Buffer a virtual address (m:read/m:write), Length at least MinimumRequiredSize. */
static int l_WdfRequestRetrieveInputBuffer(lua_State *L) { return retrieve_buffer(L, 0); }

/* WdfRequestRetrieveOutputBuffer(Request, MinimumRequiredSize) -> status, Buffer, Length */
static int l_WdfRequestRetrieveOutputBuffer(lua_State *L) { return retrieve_buffer(L, 1); }

/* Retrieve{Input,Output}WdmMdl(Request) -> status, Mdl */
static int retrieve_mdl(lua_State *L, int output) {
  dl_wdf_request *r = lwdf_checkrequest(L, 1);
  dl_mdl *mdl = NULL;
  uint32_t st;
  ENGINE(L, owner(L, 1), st = dl_wdf_request_mdl(r, output, &mdl));
  lua_pushinteger(L, st);
  if (st != DL_STATUS_SUCCESS) return 1;
  ldl_pushobject(L, LDL_MDL, (dl_object *)mdl);
  return 2;
}

/* WdfRequestRetrieveInputWdmMdl(Request) -> status, Mdl */
static int l_WdfRequestRetrieveInputWdmMdl(lua_State *L) { return retrieve_mdl(L, 0); }

/* WdfRequestRetrieveOutputWdmMdl(Request) -> status, Mdl */
static int l_WdfRequestRetrieveOutputWdmMdl(lua_State *L) { return retrieve_mdl(L, 1); }

/* Retrieve{Input,Output}Memory(Request) -> status, Memory */
static int retrieve_memory(lua_State *L, int output) {
  dl_wdf_request *r = lwdf_checkrequest(L, 1);
  dl_wdf_memory *mem = NULL;
  uint32_t st;
  ENGINE(L, owner(L, 1), st = dl_wdf_request_memory(r, output, &mem));
  lua_pushinteger(L, st);
  if (st != DL_STATUS_SUCCESS) return 1;
  lwdf_pushhandle(L, mem);
  return 2;
}

/* WdfRequestRetrieveInputMemory(Request) -> status, Memory (a WDFMEMORY over
** the input buffer that goes with the request) */
static int l_WdfRequestRetrieveInputMemory(lua_State *L) { return retrieve_memory(L, 0); }

/* WdfRequestRetrieveOutputMemory(Request) -> status, Memory */
static int l_WdfRequestRetrieveOutputMemory(lua_State *L) { return retrieve_memory(L, 1); }

/* WdfRequestGetStatus(Request) -> the IRP's IoStatus.Status */
static int l_WdfRequestGetStatus(lua_State *L) {
  dl_wdf_request *r = lwdf_checkrequest(L, 1);
  lua_pushinteger(L, dl_irp_status(dl_wdf_request_irp(r)));
  return 1;
}

/* WdfRequestGetFileObject(Request) -> the WDFFILEOBJECT of the file the
** request was sent on, or nil. */
static int l_WdfRequestGetFileObject(lua_State *L) {
  dl_wdf_request *r = lwdf_checkrequest(L, 1);
  lwdf_pushhandle(L, dl_wdf_file_of(dl_wdf_request_irp(r)->file));
  return 1;
}

static const luaL_Reg functions[] = {
  {"WdfIoQueueRetrieveNextRequest", l_WdfIoQueueRetrieveNextRequest},
  {"WdfIoQueueFindRequest", l_WdfIoQueueFindRequest},
  {"WdfIoQueueRetrieveFoundRequest", l_WdfIoQueueRetrieveFoundRequest},
  {"WdfIoQueueRetrieveRequestByFileObject", l_WdfIoQueueRetrieveRequestByFileObject},
  {"WdfIoQueueReadyNotify", l_WdfIoQueueReadyNotify},
  {"WdfRequestForwardToIoQueue", l_WdfRequestForwardToIoQueue},
  {"WdfRequestRequeue", l_WdfRequestRequeue},
  {"WdfIoQueueStart", l_WdfIoQueueStart},
  {"WdfIoQueueStop", l_WdfIoQueueStop},
  {"WdfIoQueuePurge", l_WdfIoQueuePurge},
  {"WdfIoQueueDrain", l_WdfIoQueueDrain},
  {"WdfIoQueueStopSynchronously", l_WdfIoQueueStopSynchronously},
  {"WdfIoQueuePurgeSynchronously", l_WdfIoQueuePurgeSynchronously},
  {"WdfIoQueueDrainSynchronously", l_WdfIoQueueDrainSynchronously},
  {"WdfRequestMarkCancelable", l_WdfRequestMarkCancelable},
  {"WdfRequestMarkCancelableEx", l_WdfRequestMarkCancelableEx},
  {"WdfRequestUnmarkCancelable", l_WdfRequestUnmarkCancelable},
  {"WdfRequestIsCanceled", l_WdfRequestIsCanceled},
  {"WdfRequestRetrieveInputBuffer", l_WdfRequestRetrieveInputBuffer},
  {"WdfRequestRetrieveOutputBuffer", l_WdfRequestRetrieveOutputBuffer},
  {"WdfRequestRetrieveInputWdmMdl", l_WdfRequestRetrieveInputWdmMdl},
  {"WdfRequestRetrieveOutputWdmMdl", l_WdfRequestRetrieveOutputWdmMdl},
  {"WdfRequestRetrieveInputMemory", l_WdfRequestRetrieveInputMemory},
  {"WdfRequestRetrieveOutputMemory", l_WdfRequestRetrieveOutputMemory},
  {"WdfRequestGetStatus", l_WdfRequestGetStatus},
  {"WdfRequestGetFileObject", l_WdfRequestGetFileObject},
  {NULL, NULL}
};

/* Registers the calls in the module at -1 (after lwdf_open_queue). */
void lwdf_open_io(lua_State *L) { luaL_setfuncs(L, functions, 0); }
