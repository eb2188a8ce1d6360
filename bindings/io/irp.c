/*
** irp.c: IRPs in Lua: m:irp{...}, IoCallDriver, IoMarkIrpPending,
** IoStartPacket, IoStartNextPacket, IoCompleteRequest,
** IoGetCurrentIrpStackLocation. The drivers they go to (dma.driver{...},
** IoCreateDevice) are in driver.c; the rules of every call are the core's
** (io/dl_driver.h): this file converts values and explains refusals.
**
** The scenario stands for the I/O manager: m:irp builds a request over a
** buffer (locking it with an MDL, as direct I/O does) and IoCallDriver
** hands it to the driver's dispatch routine. Its `completion` function is
** the request's completion routine: the core calls it when the IRP is
** completed, at the completing caller's IRQL. Scenarios wait with it or
** with `while not irp.done and m:step() do end`.
**
** An IRP belongs to its machine. Its one handle (ldl_pushobject) is pinned
** while a driver may still use it (until it is completed and no longer its
** device's CurrentIrp), so StartIo and CurrentIrp always get that handle;
** afterwards the handle is the IRP's last owner and frees it when collected
** or closed. What Lua keeps for an IRP (completion function, the cached
** stack location and IoStatus view) lives in the handle's state table.
*/
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "io/dl_driver.h"
#include "base/dl_status.h"
#include "machine/dl_object.h"
#include "../ldl.h"
#include "io/dl_irpstack.h"
#include "lio.h"

#define LDL_IOSTATUS "IO_STATUS_BLOCK"

/* Slots of an IRP handle's state table. */
enum { SLOT_COMPLETION = 1, SLOT_STACK, SLOT_IOSTATUS };

static lobject *checkirph(lua_State *L, int arg) {
  return ldl_checkobject(L, arg, LDL_IRP, "IRP");
}

static dl_device *checkdevice(lua_State *L, int arg) { return ldl_checklivedevice(L, arg); }

/* A major function's name, for messages. */
static const char *major_name(uint8_t major) {
  const char *name = dl_irp_major_name(major);
  return name ? name : "IRP_MJ_?";
}

/* Raises unless the IRP at `irp` and the device at `dev` share a machine. */
static void check_same_machine(lua_State *L, int dev, int irp) {
  lobject *d = lua_touserdata(L, dev), *i = lua_touserdata(L, irp);
  if (d->owner != i->owner) luaL_argerror(L, irp, "IRP and DEVICE_OBJECT belong to different machines");
}

/* Reads an NTSTATUS at idx (an integer that fits in 32 bits); 0 if it is not one. */
static int to_status(lua_State *L, int idx, uint32_t *out) {
  int ok = 0;
  lua_Integer v = lua_tointegerx(L, idx, &ok);
  if (!ok || v < INT32_MIN || v > (lua_Integer)UINT32_MAX) return 0;
  *out = (uint32_t)v;
  return 1;
}

/* ---- stack locations ------------------------------------------------------ */

/* Stack-location tables of released IRPs, for the next IRPs to reuse (as
** the I/O manager reuses an IRP's memory once it is completed): no tables
** are made per request. At most STACK_POOL are kept. */
static const char STACK_POOL_KEY = 0;
#define STACK_POOL 64

/* Moves the stack location of the IRP handle at -1 (if it has one) to the pool. */
static void recycle_stack(lua_State *L) {
  if (lua_getiuservalue(L, -1, 2) != LUA_TTABLE) {  /* irp, state */
    lua_pop(L, 1);
    return;
  }
  if (lua_rawgeti(L, -1, SLOT_STACK) == LUA_TTABLE) {  /* irp, state, stack */
    lua_pushnil(L);
    lua_rawseti(L, -3, SLOT_STACK);
    ldl_pool_give(L, &STACK_POOL_KEY, STACK_POOL);       /* irp, state */
    lua_pop(L, 1);
    return;
  }
  lua_pop(L, 2);
}

/* ---- pinning ------------------------------------------------------------- */

/* Unpins an IRP the driver is done with: completed and not its device's
** CurrentIrp; its stack location goes back to the pool (a driver has no
** business with it any more; asked again, the IRP gets a fresh one). A
** machine closed by a callback has taken its IRPs along. */
static void release_if_done(lua_State *L, lmachine *lm, dl_irp *irp) {
  if (!lm->m || !irp || !dl_irp_completed(irp) || dl_irp_is_current(irp)) return;
  ldl_pushobject(L, LDL_IRP, DL_OBJECT(irp));
  ldl_setpinned(L, -1, 0);
  recycle_stack(L);
  lua_pop(L, 1);
}

/* The request's completion routine for the core: completion(Irp). */
static void on_completion(void *ctx, dl_irp *irp) {
  (void)ctx;
  lmachine *lm = dl_machine_data(DL_OBJECT(irp)->m);
  lua_State *L = lm->L;
  ldl_pushobject(L, LDL_IRP, DL_OBJECT(irp));
  ldl_pushstate(L, -1);
  lua_rawgeti(L, -1, SLOT_COMPLETION);
  lua_pushvalue(L, -3);
  lua_remove(L, -3);
  lua_remove(L, -3);
  ldl_pcall(L, lm, 1, 0);
}

/* ---- m:irp{...} ----------------------------------------------------------- */

static const char *const irp_fields[] = {
  "major", "buffer", "offset", "length", "device_offset", "completion", "ioctl", "input",
  "input_offset", "input_length", "file", "file_name", NULL
};

/* Rejects unknown fields (typos) of the request table at arg. */
static void check_irp_fields(lua_State *L, int arg) {
  ldl_checkfields(L, arg, "a request has no field '%s' (%s)", irp_fields);
}

/* The request's buffer (field `buffer`, a live buffer of machine lm), or NULL if absent. */
static dl_region *buffer_field(lua_State *L, int arg, lmachine *lm) {
  lua_getfield(L, arg, "buffer");
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    return NULL;
  }
  lobject *b = ldl_testclass(L, -1, LDL_BUFFER);
  if (!b) luaL_argerror(L, arg, "field 'buffer' must be a buffer (m:buffer(...))");
  if (!b->obj) luaL_argerror(L, arg, "field 'buffer' has been freed");
  if (b->owner != lm) luaL_argerror(L, arg, "field 'buffer' belongs to another machine");
  lua_pop(L, 1);
  return b->obj;
}

/* m:irp{ major=, buffer=, offset=, length=, device_offset=, completion=, ioctl=, input=,
** input_offset=, input_length=, file= } -> IRP, built as the I/O manager
** builds it (io/dl_iobuf.h): `buffer` is a read's or write's data or an
** IOCTL's output buffer, `input` an IOCTL's input buffer. */
static int m_irp(lua_State *L) {
  lmachine *lm = ldl_checkmachine(L, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_settop(L, 2);
  check_irp_fields(L, 2);
  uint64_t major = lio_uintfield(L, 2, "major", UINT64_MAX);
  lio_checkmajor(L, 2, major);
  int rw = major == DL_IRP_MJ_READ || major == DL_IRP_MJ_WRITE;
  int ioctl_major = major == DL_IRP_MJ_DEVICE_CONTROL || major == DL_IRP_MJ_INTERNAL_DEVICE_CONTROL;
  dl_region *b = buffer_field(L, 2, lm);
  luaL_argcheck(L, b || !rw, 2, "a read or write needs a buffer (field 'buffer')");
  luaL_argcheck(L, !b || rw || ioctl_major, 2, "a create, cleanup or close takes no buffer");
  uint64_t blen = b ? b->length : 0;
  uint64_t offset = lio_uintfield(L, 2, "offset", 0);
  uint64_t length = lio_uintfield(L, 2, "length", offset <= blen ? blen - offset : 0);
  if (offset > blen || length > blen - offset)
    luaL_argerror(L, 2, lua_pushfstring(L, "range [%I, %I) outside the buffer of %I bytes",
                                        (lua_Integer)offset, (lua_Integer)(offset + length),
                                        (lua_Integer)blen));
  uint64_t device_offset = lio_uintfield(L, 2, "device_offset", 0);
  uint64_t ioctl = lio_uintfield(L, 2, "ioctl", 0);
  luaL_argcheck(L, ioctl <= UINT32_MAX, 2, "ioctl must fit in a ULONG");
  luaL_argcheck(L, ioctl == 0 || ioctl_major, 2, "ioctl is for IRP_MJ_DEVICE_CONTROL");
  lua_getfield(L, 2, "completion");
  luaL_argcheck(L, lua_isnil(L, -1) || lua_isfunction(L, -1), 2, "completion must be a function");
  lua_pop(L, 1);
  dl_irp_params p = {0};
  p.major = (uint8_t)major;
  p.byte_offset = device_offset;
  p.ioctl = (uint32_t)ioctl;
  if (major == DL_IRP_MJ_WRITE) p.in_va = b->va + offset, p.in_length = length;
  else if (b) p.out_va = b->va + offset, p.out_length = length;
  lio_params(L, 2, lm, &p);
  dl_irp *irp;
  int rc = dl_iobuf_irp_new(lm->m, &p, &irp);
  if (rc == DL_EINVAL) return luaL_argerror(L, 2, "length is beyond what an MDL can describe");
  if (rc) return ldl_statuserror(L, 2, rc, NULL);
  ldl_pushobject(L, LDL_IRP, DL_OBJECT(irp));      /* m, opts, irp: pinned until done */
  lua_getfield(L, 2, "completion");
  if (!lua_isnil(L, -1)) {
    ldl_pushstate(L, 3);
    lua_insert(L, -2);
    lua_rawseti(L, -2, SLOT_COMPLETION);
    dl_irp_set_completion(irp, on_completion, NULL);
  }
  lua_settop(L, 3);
  return 1;
}

/* ---- the calls -------------------------------------------------------------- */

/* Raises the argument error that explains why the core refused the IRP at
** arg (fname's rules); returns if nothing is wrong with it. */
static void explain_irp(lua_State *L, int arg, dl_irp *irp, dl_device *dev) {
  if (dl_irp_completed(irp)) luaL_argerror(L, arg, "IRP was already completed");
  dl_device *to = dl_irp_device(irp);
  if (dev && to && to != dev)
    luaL_argerror(L, arg, lua_pushfstring(L, "IRP was sent to DEVICE_OBJECT#%I",
                                          (lua_Integer)DL_OBJECT(to)->id));
  if (!to) luaL_argerror(L, arg, "IRP was never sent to a driver (IoCallDriver)");
  if (dl_irp_queued(irp) || dl_irp_is_current(irp))
    luaL_argerror(L, arg, "IRP is already queued or being processed by StartIo");
  if (dl_irp_in_routine(irp))
    luaL_argerror(L, arg, "IRP is being completed (a completion routine of its stack is running)");
}

/* Raises naming fname when the device at `dev` has no DriverObject. */
static dl_driver *check_driver(lua_State *L, int dev, const char *fname) {
  dl_driver *drv = dl_device_driver(((lobject *)lua_touserdata(L, dev))->obj);
  if (!drv)
    luaL_error(L, "%s: %s has no DriverObject (IoCreateDevice, or set DeviceObject.DriverObject)",
               fname, luaL_tolstring(L, dev, NULL));
  return drv;
}

/* Raises naming fname when the driver of the device at `dev` has no DriverStartIo. */
static void check_start_io(lua_State *L, int dev, const char *fname) {
  if (!dl_driver_has_start_io(check_driver(L, dev, fname)))
    luaL_error(L, "%s: the driver of %s has no DriverStartIo", fname, luaL_tolstring(L, dev, NULL));
}

/* IoCallDriver(DeviceObject, Irp) -> NTSTATUS: sends the request to the
** device's driver, MajorFunction[major](DeviceObject, Irp), at the caller's
** IRQL (PASSIVE_LEVEL for a scenario). A driver without a routine for the
** major function fails it with STATUS_INVALID_DEVICE_REQUEST, as the I/O
** manager's default routine does. */
static int l_IoCallDriver(lua_State *L) {
  dl_device *dev = checkdevice(L, 1);
  lobject *h = checkirph(L, 2);
  dl_irp *irp = h->obj;
  check_same_machine(L, 1, 2);
  lua_settop(L, 2);
  if (dl_irp_completed(irp)) luaL_argerror(L, 2, "IRP was already completed");
  if (dl_irp_device(irp) && !dl_irp_can_forward(irp))  /* a driver may pass it down its stack */
    luaL_argerror(L, 2, lua_pushfstring(L, "IRP was already sent (to DEVICE_OBJECT#%I)",
                                        (lua_Integer)DL_OBJECT(dl_irp_device(irp))->id));
  dl_driver *drv = check_driver(L, 1, "IoCallDriver");
  if (!ldl_syncdriver(L, drv, dl_irp_major(irp)))
    return luaL_error(L, "IoCallDriver: DriverObject.MajorFunction[%s] must be a function",
                      major_name(dl_irp_major(irp)));
  uint32_t status;
  int forward = dl_irp_device(irp) != NULL;  /* a driver passes it down its stack */
  ldl_call c;
  ldl_enter(L, h->owner, &c);
  int rc = dl_io_call_driver(dev, irp, &status);
  release_if_done(L, h->owner, irp);
  ldl_leave(L, &c);
  if (rc == DL_ESTATE && forward)
    return luaL_argerror(L, 2, "IRP is in a device queue waiting for StartIo: it cannot be passed down");
  if (rc == DL_ESTATE)  /* the file rules (io/dl_file.h) */
    return luaL_argerror(L, 2, "IRP's file is not open on this device (IRP_MJ_CREATE it there; nothing "
                               "after IRP_MJ_CLEANUP but IRP_MJ_CLOSE)");
  if (rc && rc != DL_EINVAL) return ldl_statuserror(L, 2, rc, NULL);
  lua_pushinteger(L, status);
  return 1;
}

/* IoMarkIrpPending(Irp) */
static int l_IoMarkIrpPending(lua_State *L) {
  dl_irp *irp = checkirph(L, 1)->obj;
  luaL_argcheck(L, dl_irp_mark_pending(irp) == DL_OK, 1, "IRP was already completed");
  return 0;
}

/* IoCompleteRequest(Irp, PriorityBoost); PriorityBoost is checked and, with
** no thread scheduler to boost, has no effect. */
static int l_IoCompleteRequest(lua_State *L) {
  lobject *h = checkirph(L, 1);
  dl_irp *irp = h->obj;
  lua_Integer boost = luaL_optinteger(L, 2, 0);
  luaL_argcheck(L, boost >= 0 && boost <= 31, 2, "a priority boost (IO_NO_INCREMENT...) expected");
  lua_settop(L, 2);
  ldl_call c;
  ldl_enter(L, h->owner, &c);
  int rc = dl_io_complete_request(irp);
  release_if_done(L, h->owner, irp);
  ldl_leave(L, &c);
  if (rc == DL_OK || ldl_reported(&c)) return 0;
  luaL_argcheck(L, dl_irp_device(irp) != NULL, 1, "IRP was never sent to a driver (IoCallDriver)");
  luaL_argcheck(L, !dl_irp_queued(irp), 1, "IRP is still in its device queue, waiting for StartIo");
  return ldl_statuserror(L, 1, rc, NULL);
}

/* IoStartPacket(DeviceObject, Irp, Key, CancelFunction): StartIo now at
** DISPATCH_LEVEL if the device is idle, else the IRP waits in the device
** queue (FIFO; with a Key, after the entries whose key is <= Key).
** Cancellation is not modelled: CancelFunction is never called. */
static int l_IoStartPacket(lua_State *L) {
  dl_device *dev = checkdevice(L, 1);
  lobject *h = checkirph(L, 2);
  check_same_machine(L, 1, 2);
  uint32_t key = 0;
  if (!lua_isnoneornil(L, 3)) {
    uint64_t k = ldl_checkuint(L, 3);
    luaL_argcheck(L, k <= UINT32_MAX, 3, "Key must fit in a ULONG");
    key = (uint32_t)k;
  }
  luaL_argcheck(L, lua_isnoneornil(L, 4) || lua_isfunction(L, 4), 4, "a function or nil expected");
  int keyed = !lua_isnoneornil(L, 3);
  lua_settop(L, 4);
  ldl_call c;
  ldl_enter(L, h->owner, &c);
  int rc = dl_io_start_packet(dev, h->obj, keyed ? &key : NULL);
  ldl_leave(L, &c);
  if (rc == DL_EINVAL) check_start_io(L, 1, "IoStartPacket");
  if (rc) explain_irp(L, 2, h->obj, dev);
  return 0;
}

/* IoStartNextPacket(DeviceObject, Cancelable): at DISPATCH_LEVEL, the next
** queued IRP goes to StartIo, or the device goes idle (CurrentIrp nil). */
static int l_IoStartNextPacket(lua_State *L) {
  lobject *h = ldl_checkobject(L, 1, LDL_DEVICE, "DEVICE_OBJECT");
  dl_device *dev = h->obj;
  if (!lua_isnoneornil(L, 2)) ldl_checkbool(L, 2);
  lua_settop(L, 2);
  dl_irp *prev = dl_device_current_irp(dev);  /* pinned while current, so valid below */
  ldl_call c;
  ldl_enter(L, h->owner, &c);
  int rc = dl_io_start_next_packet(dev);
  release_if_done(L, h->owner, prev);
  ldl_leave(L, &c);
  if (rc == DL_EINVAL) check_start_io(L, 1, "IoStartNextPacket");
  return 0;
}

/* Sets the fields of the stack location at -1 for irp: MajorFunction,
** MinorFunction and the standard Parameters (Read and Write are one table,
** as they share storage in the WDK's union). The tables are made if the
** stack location is new, else refreshed in place. */
static void fill_stack(lua_State *L, dl_irp *irp, int fresh) {
  ldl_setint(L, "MajorFunction", dl_irp_major(irp));
  ldl_setint(L, "MinorFunction", 0);
  ldl_pushparameters(L, fresh);
  lua_getfield(L, -1, "Read");
  ldl_setint(L, "Length", (lua_Integer)dl_irp_length(irp));
  ldl_setint(L, "Key", 0);
  ldl_setint(L, "ByteOffset", (lua_Integer)dl_irp_byte_offset(irp));
  lua_pop(L, 1);
  lua_getfield(L, -1, "DeviceIoControl");
  ldl_setint(L, "OutputBufferLength", (lua_Integer)dl_irp_length(irp));
  ldl_setint(L, "InputBufferLength", 0);
  ldl_setint(L, "IoControlCode", dl_irp_ioctl(irp));
  lua_pop(L, 2);
  lio_fillstack(L, irp);
}

/* Sets DeviceObject of the stack location at -1: the device whose driver
** has the IRP now (io/dl_irpstack.h), nil before it is sent. */
static void set_stack_device(lua_State *L, dl_irp *irp) {
  ldl_pushobject(L, LDL_DEVICE, DL_OBJECT(dl_irp_current_device(irp)));
  lua_setfield(L, -2, "DeviceObject");
}

/* IoGetCurrentIrpStackLocation(Irp) -> { MajorFunction, MinorFunction,
** DeviceObject, Parameters = { Read, Write, DeviceIoControl } }, one per
** IRP (taken from the pool of released IRPs' when there is one). */
static int l_IoGetCurrentIrpStackLocation(lua_State *L) {
  dl_irp *irp = checkirph(L, 1)->obj;
  ldl_pushstate(L, 1);
  if (lua_rawgeti(L, -1, SLOT_STACK) != LUA_TNIL) {
    set_stack_device(L, irp);
    return 1;
  }
  lua_pop(L, 1);
  int fresh = ldl_pool_take(L, &STACK_POOL_KEY, 3);   /* state, stack */
  fill_stack(L, irp, fresh);
  set_stack_device(L, irp);
  lua_pushvalue(L, -1);
  lua_rawseti(L, -3, SLOT_STACK);
  return 1;
}

/* ---- IRP handles ---------------------------------------------------------- */

/* Pushes the IoStatus view of the IRP at arg, made once. */
static void push_iostatus(lua_State *L, int arg) {
  ldl_pushstate(L, arg);
  if (lua_rawgeti(L, -1, SLOT_IOSTATUS) == LUA_TNIL) {
    lua_pop(L, 1);
    lua_newuserdatauv(L, 0, 1);
    luaL_setmetatable(L, LDL_IOSTATUS);
    lua_pushvalue(L, arg);
    lua_setiuservalue(L, -2, 1);
    lua_pushvalue(L, -1);
    lua_rawseti(L, -3, SLOT_IOSTATUS);
  }
  lua_remove(L, -2);
}

/* Fields: the WDK's MdlAddress, IoStatus, PendingReturned, Cancel; the
** lab's id, major, length, device_offset, device, done, sent_at,
** completed_at, machine. */
static int irp_index(lua_State *L) {
  const char *key = ldl_checkkey(L, 2);
  if (ldl_getmethod(L, lua_upvalueindex(1)) != LUA_TNIL) return 1;
  dl_irp *irp = checkirph(L, 1)->obj;
  if (strcmp(key, "MdlAddress") == 0) ldl_pushobject(L, LDL_MDL, (dl_object *)dl_irp_mdl(irp));
  else if (strcmp(key, "IoStatus") == 0) push_iostatus(L, 1);
  else if (strcmp(key, "PendingReturned") == 0) lua_pushboolean(L, dl_irp_pending_returned(irp));
  else if (strcmp(key, "id") == 0) lua_pushinteger(L, (lua_Integer)dl_irp_id(irp));
  else if (strcmp(key, "major") == 0) lua_pushinteger(L, dl_irp_major(irp));
  else if (strcmp(key, "length") == 0) lua_pushinteger(L, dl_irp_length(irp));
  else if (strcmp(key, "device_offset") == 0) lua_pushinteger(L, (lua_Integer)dl_irp_byte_offset(irp));
  else if (strcmp(key, "done") == 0) lua_pushboolean(L, dl_irp_completed(irp));
  else if (strcmp(key, "sent_at") == 0 && dl_irp_device(irp)) lua_pushinteger(L, (lua_Integer)dl_irp_sent_at(irp));
  else if (strcmp(key, "completed_at") == 0 && dl_irp_completed(irp))
    lua_pushinteger(L, (lua_Integer)dl_irp_completed_at(irp));
  else if (strcmp(key, "device") == 0) {
    ldl_pushobject(L, LDL_DEVICE, DL_OBJECT(dl_irp_device(irp)));
  } else if (strcmp(key, "machine") == 0) ldl_pushowner(L, 1);
  else lio_pushfield(L, 1, irp, key);
  return 1;
}

/* IRP fields are read-only: a driver reports through Irp.IoStatus. */
static int irp_newindex(lua_State *L) {
  checkirph(L, 1);
  return luaL_error(L, "field '%s' of IRP is read-only (set Irp.IoStatus.Status and "
                       ".Information)", luaL_checkstring(L, 2));
}

static int irp_tostring(lua_State *L) {
  lobject *h = ldl_checkclass(L, 1, LDL_IRP);
  if (!h->owner->m || !h->obj) {
    lua_pushstring(L, !h->owner->m ? "IRP (machine closed)" : "IRP (freed)");
    return 1;
  }
  dl_irp *irp = h->obj;
  const char *state = dl_irp_completed(irp) ? "completed" : dl_irp_queued(irp) ? "queued"
                    : dl_irp_is_current(irp) ? "in StartIo" : dl_irp_device(irp) ? "sent" : "not sent";
  char status[16];
  snprintf(status, sizeof status, "0x%08X", (unsigned)dl_irp_status(irp));
  lua_pushfstring(L, "IRP#%I %s length=%I device_offset=%I %s%s status=%s information=%I",
                  (lua_Integer)dl_irp_id(irp), major_name(dl_irp_major(irp)), (lua_Integer)dl_irp_length(irp),
                  (lua_Integer)dl_irp_byte_offset(irp), state, dl_irp_pending(irp) ? " pending" : "", status,
                  (lua_Integer)dl_irp_information(irp));
  return 1;
}

/* __gc and __close: a released IRP (completed, not current) goes with its
** handle; one a driver may still use stays (a pinned one is only collected
** when Lua closes, and the machine frees it). Idempotent. */
static int irp_gc(lua_State *L) {
  lobject *h = ldl_checkclass(L, 1, LDL_IRP);
  dl_irp *irp = h->obj;
  if (!irp || !h->owner->m || !dl_irp_completed(irp) || dl_irp_is_current(irp) ||
      dl_irp_in_routine(irp))  /* completion is walking its stack */
    return 0;
  ldl_setpinned(L, 1, 0);
  dl_irp_free(ldl_detach(L, 1));
  return 0;
}

/* ---- IoStatus views --------------------------------------------------------- */

/* The IRP behind an IoStatus view (its uservalue). */
static dl_irp *iostatus_irp(lua_State *L) {
  ldl_checkclass(L, 1, LDL_IOSTATUS);
  lua_getiuservalue(L, 1, 1);
  lobject *h = ldl_checkclass(L, -1, LDL_IRP);
  if (!h->owner->m) luaL_error(L, "IoStatus: its machine is closed");
  if (!h->obj) luaL_error(L, "IoStatus: its IRP has been freed");
  lua_pop(L, 1);
  return h->obj;
}

/* Irp.IoStatus.Status / .Information */
static int ios_index(lua_State *L) {
  dl_irp *irp = iostatus_irp(L);
  const char *key = ldl_checkkey(L, 2);
  if (strcmp(key, "Status") == 0) lua_pushinteger(L, dl_irp_status(irp));
  else if (strcmp(key, "Information") == 0) lua_pushinteger(L, (lua_Integer)dl_irp_information(irp));
  else lua_pushnil(L);
  return 1;
}

/* Irp.IoStatus.Status = NTSTATUS; Irp.IoStatus.Information = count. Until
** completion only: afterwards the IRP is the I/O manager's again. */
static int ios_newindex(lua_State *L) {
  dl_irp *irp = iostatus_irp(L);
  const char *key = ldl_checkkey(L, 2);
  if (dl_irp_completed(irp))
    return luaL_error(L, "IoStatus.%s: IRP#%I was already completed", key, (lua_Integer)dl_irp_id(irp));
  if (strcmp(key, "Status") == 0) {
    uint32_t status;
    if (!to_status(L, 3, &status)) return luaL_error(L, "IoStatus.Status must be an NTSTATUS");
    dl_irp_set_status(irp, status);
  } else if (strcmp(key, "Information") == 0) {
    int ok = 0;
    lua_Integer v = lua_tointegerx(L, 3, &ok);
    if (!ok || v < 0) return luaL_error(L, "IoStatus.Information must be a non-negative integer");
    dl_irp_set_information(irp, (uint64_t)v);
  } else {
    return luaL_error(L, "IO_STATUS_BLOCK has no field '%s' (Status, Information)", key);
  }
  return 0;
}

static int ios_tostring(lua_State *L) {
  dl_irp *irp = iostatus_irp(L);
  char text[64];
  snprintf(text, sizeof text, "IO_STATUS_BLOCK Status=0x%08X Information=%llu",
           (unsigned)dl_irp_status(irp), (unsigned long long)dl_irp_information(irp));
  lua_pushstring(L, text);
  return 1;
}

/* ---- registration ----------------------------------------------------------- */

static const luaL_Reg irp_meta[] = {
  {"__gc", irp_gc},
  {"__close", irp_gc},
  {"__tostring", irp_tostring},
  {"__newindex", irp_newindex},
  {NULL, NULL}
};

static const luaL_Reg ios_meta[] = {
  {"__index", ios_index},
  {"__newindex", ios_newindex},
  {"__tostring", ios_tostring},
  {NULL, NULL}
};

static const luaL_Reg functions[] = {
  {"IoCallDriver", l_IoCallDriver},
  {"IoMarkIrpPending", l_IoMarkIrpPending},
  {"IoCompleteRequest", l_IoCompleteRequest},
  {"IoStartPacket", l_IoStartPacket},
  {"IoStartNextPacket", l_IoStartNextPacket},
  {"IoGetCurrentIrpStackLocation", l_IoGetCurrentIrpStackLocation},
  {NULL, NULL}
};

static const struct { const char *name; lua_Integer value; } constants[] = {
  {"IO_NO_INCREMENT", 0}, {"IO_DISK_INCREMENT", 1},
};

/* Registers the IRP and IO_STATUS_BLOCK classes, the calls, the constants
** and machine:irp in the module at -1. */
void ldl_open_irp(lua_State *L) {
  lua_createtable(L, STACK_POOL, 0);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &STACK_POOL_KEY);
  ldl_newclass(L, LDL_IRP, irp_meta, lio_irp_methods, irp_index);
  luaL_newmetatable(L, LDL_IOSTATUS);
  luaL_setfuncs(L, ios_meta, 0);
  lua_pop(L, 1);
  static const char *const fields[] = {"MdlAddress", "IoStatus", "PendingReturned", "Cancel", "id", "major",
                                       "length", "device_offset", "done", "sent_at", "completed_at",
                                       "device", "machine", "AssociatedIrp", "UserBuffer",
                                       "FileObject", "CancelIrql", NULL};
  static const char *const ios_fields[] = {"Status", "Information", NULL};
  ldl_setfields(L, LDL_IRP, fields);
  ldl_setfields(L, LDL_IOSTATUS, ios_fields);
  luaL_setfuncs(L, functions, 0);
  for (size_t i = 0; i < sizeof constants / sizeof constants[0]; i++) {
    lua_pushinteger(L, constants[i].value);
    lua_setfield(L, -2, constants[i].name);
  }
  size_t nmajor;
  const dl_wdk_value *majors = dl_irp_major_table(&nmajor);
  ldl_setvalues(L, majors, nmajor);  /* IRP_MJ_*: core's one table */
  luaL_getmetatable(L, LDL_MACHINE);
  lua_getfield(L, -1, "__methods");
  lua_pushcfunction(L, m_irp);
  lua_setfield(L, -2, "irp");
  lua_pop(L, 2);
  lio_open(L);
}
