/*
** adapter.c: DMA_ADAPTER handles: IoGetDmaAdapter and the DMA operations,
** reachable as in the WDK (adapter.DmaOperations.MapTransfer(adapter, ...)),
** as methods (adapter:MapTransfer(...)) and through the classic Io* names.
*/
#include <stdint.h>
#include <string.h>

#include "hal/dl_adapter.h"
#include "hal/dl_split.h"
#include "hal/dl_slave.h"
#include "base/dl_status.h"
#include "machine/dl_object.h"
#include "../ldl.h"
#include "ladapter.h"

#define checkadapter(L, i) ((dl_adapter *)ldl_checkobject(L, i, LDL_ADAPTER, "DMA_ADAPTER")->obj)

/* Starts an engine call for the adapter at arg 1; returns its machine handle. */
static lmachine *enter(lua_State *L, ldl_call *call) {
  lmachine *lm = ((lobject *)lua_touserdata(L, 1))->owner;
  ldl_enter(L, lm, call);
  return lm;
}

static dl_mdl *checkmdl(lua_State *L, int arg) {
  return ldl_checkobject(L, arg, LDL_MDL, "MDL")->obj;
}

static dl_device *checkdevice(lua_State *L, int arg) {
  return ldl_checkobject(L, arg, LDL_DEVICE, "DEVICE_OBJECT")->obj;
}

static void on_drop(dl_adapter *a, void *ctx);

/* A MapRegisterBase: the light userdata AdapterControl received (or nil). */
static uint64_t checkbase(lua_State *L, int arg) {
  if (lua_isnil(L, arg)) return 0;
  luaL_argcheck(L, lua_islightuserdata(L, arg), arg, "MapRegisterBase expected");
  return (uint64_t)(uintptr_t)lua_touserdata(L, arg);
}

static uint32_t checku32(lua_State *L, int arg) {
  uint64_t v = ldl_checkuint(L, arg);
  luaL_argcheck(L, v <= UINT32_MAX, arg, "must fit in a ULONG");
  return (uint32_t)v;
}

/* ---- IoGetDmaAdapter ------------------------------------------------------- */

static const char *const description_fields[] = {
  "Version", "Master", "ScatterGather", "DemandMode", "AutoInitialize", "Dma32BitAddresses",
  "IgnoreCount", "Reserved1", "Dma64BitAddresses", "BusNumber", "DmaChannel", "InterfaceType",
  "DmaWidth", "DmaSpeed", "MaximumLength", "DmaPort", "DmaAddressWidth",
  "DmaControllerInstance", "DmaRequestLine", "DeviceAddress", NULL
};

/* A field of the DEVICE_DESCRIPTION table as an integer (booleans 0/1). */
static uint64_t desc_field(lua_State *L, int arg, const char *name) {
  int t = lua_getfield(L, arg, name);
  uint64_t v = 0;
  if (t == LUA_TBOOLEAN) v = (uint64_t)lua_toboolean(L, -1);
  else if (lua_isinteger(L, -1) && lua_tointeger(L, -1) >= 0) v = (uint64_t)lua_tointeger(L, -1);
  else if (t != LUA_TNIL)
    luaL_argerror(L, arg, lua_pushfstring(L, "DEVICE_DESCRIPTION.%s must be a boolean or a "
                                             "non-negative integer", name));
  lua_pop(L, 1);
  return v;
}

/* Reads a DEVICE_DESCRIPTION table; unknown fields are errors (typos). */
static void read_description(lua_State *L, int arg, dl_device_description *d) {
  luaL_checktype(L, arg, LUA_TTABLE);
  ldl_checkfields(L, arg, "DEVICE_DESCRIPTION has no field '%s'", description_fields);
  memset(d, 0, sizeof *d);
  d->version = (uint32_t)desc_field(L, arg, "Version");
  d->master = desc_field(L, arg, "Master") != 0;
  d->scatter_gather = desc_field(L, arg, "ScatterGather") != 0;
  d->dma32 = desc_field(L, arg, "Dma32BitAddresses") != 0;
  d->dma64 = desc_field(L, arg, "Dma64BitAddresses") != 0;
  d->address_width = (uint32_t)desc_field(L, arg, "DmaAddressWidth");
  d->interface_type = (uint32_t)desc_field(L, arg, "InterfaceType");
  d->maximum_length = desc_field(L, arg, "MaximumLength");
  /* system (slave) DMA */
  d->demand_mode = desc_field(L, arg, "DemandMode") != 0;
  d->auto_initialize = desc_field(L, arg, "AutoInitialize") != 0;
  d->ignore_count = desc_field(L, arg, "IgnoreCount") != 0;
  d->dma_channel = (uint32_t)desc_field(L, arg, "DmaChannel");
  d->dma_port = (uint32_t)desc_field(L, arg, "DmaPort");
  d->dma_width = (uint32_t)desc_field(L, arg, "DmaWidth");
  d->dma_speed = (uint32_t)desc_field(L, arg, "DmaSpeed");
  d->dma_request_line = (uint32_t)desc_field(L, arg, "DmaRequestLine");
  d->dma_controller_instance = (uint32_t)desc_field(L, arg, "DmaControllerInstance");
  d->device_address = desc_field(L, arg, "DeviceAddress");
}

/* IoGetDmaAdapter(PhysicalDeviceObject, DeviceDescription) ->
** adapter, NumberOfMapRegisters (nil, 0 where the WDK returns NULL). */
static int l_IoGetDmaAdapter(lua_State *L) {
  lobject *h = ldl_checkobject(L, 1, LDL_DEVICE, "DEVICE_OBJECT");
  dl_device_description d;
  read_description(L, 2, &d);
  lmachine *lm = h->owner;
  ldl_call call;
  ldl_enter(L, lm, &call);
  dl_adapter *a;
  uint32_t nmr = 0;
  int rc = dl_adapter_get(lm->m, h->obj, &d, &a, &nmr);
  ldl_leave(L, &call);
  if (rc) {  /* NULL: the reason is in the trace (kind "adapter_refused") */
    lua_pushnil(L);
    lua_pushinteger(L, 0);
    return 2;
  }
  dl_adapter_set_drop(a, on_drop);
  ldl_pushobject(L, LDL_ADAPTER, DL_OBJECT(a));
  lua_pushinteger(L, nmr);
  return 2;
}

/* Calls fn(adapter) for the adapter at 1 in an engine-call bracket. */
static int on_adapter(lua_State *L, void (*fn)(dl_adapter *a)) {
  dl_adapter *a = checkadapter(L, 1);
  ldl_call call;
  enter(L, &call);
  fn(a);
  ldl_leave(L, &call);
  return 0;
}

/* PutDmaAdapter(adapter) */
static int l_PutDmaAdapter(lua_State *L) { return on_adapter(L, dl_adapter_put); }

/* ---- the adapter channel -------------------------------------------------- */

/* AdapterControl(DeviceObject, Irp, MapRegisterBase, Context) -> action;
** 0 when it failed (its error is raised after the call that ran it). */
int ladapter_control(void *ctx, dl_device *dev, uint64_t base) {
  lmachine *lm = dl_machine_data(dev->m);
  lua_State *L = lm->L;
  ldl_takecallback(L, lm, (int)(intptr_t)ctx);  /* fn, context */
  ldl_pushmachine(L, dev->m);
  ldl_pushobject(L, LDL_DEVICE, DL_OBJECT(dev));
  lua_remove(L, -2);                            /* fn, context, device */
  lua_insert(L, -2);                            /* fn, device, context */
  ldl_pushcurrentirp(L, dev);                   /* Irp: the device's CurrentIrp */
  lua_insert(L, -2);
  lua_pushlightuserdata(L, (void *)(uintptr_t)base);
  lua_insert(L, -2);                            /* fn, device, irp, base, context */
  ldl_where(lm, "the AdapterControl routine", "DEVICE_OBJECT", DL_OBJECT(dev)->id);
  if (!ldl_callback(L, lm, 4, 1)) return 0;
  int ok = 0;
  lua_Integer action = lua_tointegerx(L, -1, &ok);
  lua_pop(L, 1);
  if (ok && action >= DL_KEEP_OBJECT && action <= DL_DEALLOCATE_OBJECT_KEEP_REGISTERS) return (int)action;
  if (lm->error == LUA_NOREF) {
    lua_pushliteral(L, "AdapterControl must return KeepObject, DeallocateObject or "
                       "DeallocateObjectKeepRegisters");
    lm->error = luaL_ref(L, LUA_REGISTRYINDEX);
  }
  return 0;
}

/* A queued routine that will never run: forget its function. */
static void on_drop(dl_adapter *a, void *ctx) {
  lmachine *lm = dl_machine_data(dl_adapter_machine(a));
  if (lm && lm->L) {
    ldl_takecallback(lm->L, lm, (int)(intptr_t)ctx);
    lua_pop(lm->L, 2);
  }
}

/* AllocateAdapterChannel(adapter, DeviceObject, NumberOfMapRegisters,
** ExecutionRoutine, Context) -> NTSTATUS */
static int l_AllocateAdapterChannel(lua_State *L) {
  dl_adapter *a = checkadapter(L, 1);
  dl_device *dev = checkdevice(L, 2);
  uint32_t n = checku32(L, 3);
  luaL_checktype(L, 4, LUA_TFUNCTION);
  lua_settop(L, 5);
  ldl_call call;
  lmachine *lm = enter(L, &call);
  int ref = ldl_keepcallback(L, lm, 4, 5);
  uint32_t status = dl_adapter_allocate_channel(a, dev, n, ladapter_control, (void *)(intptr_t)ref);
  if (status != DL_STATUS_SUCCESS) {  /* the routine never runs */
    ldl_takecallback(L, lm, ref);
    lua_pop(L, 2);
  }
  ldl_leave(L, &call);
  lua_pushinteger(L, status);
  return 1;
}

/* FreeAdapterChannel(adapter) */
static int l_FreeAdapterChannel(lua_State *L) { return on_adapter(L, dl_adapter_free_channel); }

/* FreeMapRegisters(adapter, MapRegisterBase, NumberOfMapRegisters) */
static int l_FreeMapRegisters(lua_State *L) {
  dl_adapter *a = checkadapter(L, 1);
  uint64_t base = checkbase(L, 2);
  uint32_t n = checku32(L, 3);
  ldl_call call;
  enter(L, &call);
  int rc = dl_adapter_free_map_registers(a, base, n);
  ldl_leave(L, &call);
  if (rc) return luaL_argerror(L, 2, "not a MapRegisterBase of this adapter");
  return 0;
}

/* ---- MapTransfer / FlushAdapterBuffers -------------------------------------- */

/* The arguments MapTransfer and FlushAdapterBuffers share: (adapter, Mdl,
** MapRegisterBase, CurrentVa, Length, WriteToDevice). */
typedef struct transfer_args {
  dl_adapter *a;
  dl_mdl *mdl;
  uint64_t base, va;
  uint32_t length;
  int write;
} transfer_args;

static transfer_args check_transfer_args(lua_State *L) {
  transfer_args t = { checkadapter(L, 1), checkmdl(L, 2), checkbase(L, 3), ldl_checkuint(L, 4),
                      checku32(L, 5), ldl_checkbool(L, 6) };
  return t;
}

/* MapTransfer(adapter, Mdl, MapRegisterBase, CurrentVa, Length, WriteToDevice)
** -> LogicalAddress, Length (0, 0 after a recorded verifier report). */
static int l_MapTransfer(lua_State *L) {
  transfer_args t = check_transfer_args(L);
  uint32_t length = t.length;
  ldl_call call;
  lmachine *lm = enter(L, &call);
  uint64_t logical = 0;
  int rc = dl_adapter_map_transfer(t.a, t.mdl, t.base, t.va, &length, t.write, &logical);
  ldl_leave(L, &call);
  if (rc == DL_EINVAL && ldl_reports(lm) == call.reports)
    return luaL_argerror(L, 3, "not a live MapRegisterBase of this adapter (freed, or another adapter's)");
  if (rc == DL_ENOMEM) return luaL_error(L, "MapTransfer: out of host memory");
  lua_pushinteger(L, (lua_Integer)logical);
  lua_pushinteger(L, length);
  return 2;
}

/* FlushAdapterBuffers(adapter, Mdl, MapRegisterBase, CurrentVa, Length,
** WriteToDevice) -> TRUE (FALSE after a recorded report) */
static int l_FlushAdapterBuffers(lua_State *L) {
  transfer_args t = check_transfer_args(L);
  ldl_call call;
  enter(L, &call);
  int ok = dl_adapter_flush(t.a, t.mdl, t.base, t.va, t.length, t.write);
  ldl_leave(L, &call);
  lua_pushboolean(L, ok);
  return 1;
}

/* ReadDmaCounter(adapter) -> ULONG: bytes a system DMA transfer has left */
static int l_ReadDmaCounter(lua_State *L) {
  dl_adapter *a = checkadapter(L, 1);
  ldl_call call;
  enter(L, &call);
  uint32_t left = dl_adapter_read_counter(a);
  ldl_leave(L, &call);
  lua_pushinteger(L, left);
  return 1;
}

/* KeFlushIoBuffers(Mdl, ReadOperation, DmaOperation) */
static int l_KeFlushIoBuffers(lua_State *L) {
  lobject *h = ldl_checkobject(L, 1, LDL_MDL, "MDL");
  int read = ldl_checkbool(L, 2), dma = ldl_checkbool(L, 3);
  ldl_call call;
  ldl_enter(L, h->owner, &call);
  dl_ke_flush_io_buffers(h->obj, read, dma);
  ldl_leave(L, &call);
  return 0;
}

/* ---- scatter/gather ------------------------------------------------------- */

/* AdapterListControl(DeviceObject, Irp, ScatterGather, Context) */
void ladapter_list_control(void *ctx, dl_device *dev, dl_sglist *sg) {
  lmachine *lm = dl_machine_data(dev->m);
  lua_State *L = lm->L;
  ldl_takecallback(L, lm, (int)(intptr_t)ctx);  /* fn, context */
  ldl_pushmachine(L, dev->m);
  ldl_pushobject(L, LDL_DEVICE, DL_OBJECT(dev));       /* fn, context, machine, device */
  ldl_pushcurrentirp(L, dev);                   /* Irp: the device's CurrentIrp */
  ldl_pushsglist(L, -3, sg);                    /* fn, context, machine, device, irp, list */
  lua_rotate(L, -5, -1);                        /* fn, machine, device, irp, list, context */
  lua_remove(L, -5);
  ldl_where(lm, "the AdapterListControl routine", "DEVICE_OBJECT", DL_OBJECT(dev)->id);
  ldl_callback(L, lm, 4, 0);
}

/* Shared by Get- and BuildScatterGatherList. */
static int get_sglist(lua_State *L, uint64_t buffer_length) {
  dl_adapter *a = checkadapter(L, 1);
  dl_device *dev = checkdevice(L, 2);
  dl_mdl *mdl = checkmdl(L, 3);
  uint64_t va = ldl_checkuint(L, 4);
  uint32_t length = checku32(L, 5);
  luaL_checktype(L, 6, LUA_TFUNCTION);
  int write = ldl_checkbool(L, 8);
  ldl_call call;
  lmachine *lm = enter(L, &call);
  int ref = ldl_keepcallback(L, lm, 6, 7);
  uint32_t status = dl_adapter_get_sglist(a, dev, mdl, va, length, ladapter_list_control,
                                          (void *)(intptr_t)ref, write, buffer_length);
  if (status != DL_STATUS_SUCCESS) {
    ldl_takecallback(L, lm, ref);
    lua_pop(L, 2);
  }
  ldl_leave(L, &call);
  lua_pushinteger(L, status);
  return 1;
}

/* GetScatterGatherList(adapter, DeviceObject, Mdl, CurrentVa, Length,
** ExecutionRoutine, Context, WriteToDevice) -> NTSTATUS */
static int l_GetScatterGatherList(lua_State *L) { return get_sglist(L, 0); }

/* BuildScatterGatherList(adapter, DeviceObject, Mdl, CurrentVa, Length,
** ExecutionRoutine, Context, WriteToDevice, ScatterGatherBuffer,
** ScatterGatherLength) -> NTSTATUS; the buffer is the caller's storage, so
** only its length matters here. */
static int l_BuildScatterGatherList(lua_State *L) {
  uint32_t buffer_length = checku32(L, 10);
  luaL_argcheck(L, buffer_length > 0, 10, "ScatterGatherLength must be > 0");
  return get_sglist(L, buffer_length);
}

/* PutScatterGatherList(adapter, ScatterGather, WriteToDevice) */
static int l_PutScatterGatherList(lua_State *L) {
  dl_adapter *a = checkadapter(L, 1);
  uint64_t id;
  dl_sglist *sg = ldl_checksglist(L, 2, &id);
  int write = ldl_checkbool(L, 3);
  ldl_call call;
  enter(L, &call);
  dl_adapter_put_sglist(a, sg, id, write);
  ldl_leave(L, &call);
  return 0;
}

/* CalculateScatterGatherList(adapter, Mdl | nil, CurrentVa, Length) ->
** NTSTATUS, ScatterGatherListSize, NumberOfMapRegisters */
static int l_CalculateScatterGatherList(lua_State *L) {
  dl_adapter *a = checkadapter(L, 1);
  dl_mdl *mdl = lua_isnil(L, 2) ? NULL : checkmdl(L, 2);
  uint64_t va = ldl_checkuint(L, 3);
  uint32_t length = checku32(L, 4), size = 0, regs = 0;
  ldl_call call;
  enter(L, &call);
  uint32_t status = dl_adapter_calculate_sglist(a, mdl, va, length, &size, &regs);
  ldl_leave(L, &call);
  lua_pushinteger(L, status);
  lua_pushinteger(L, size);
  lua_pushinteger(L, regs);
  return 3;
}

/* ---- common buffers --------------------------------------------------------- */

/* AllocateCommonBuffer(adapter, Length, CacheEnabled) -> VirtualAddress,
** LogicalAddress (nil when no suitable memory exists) */
static int l_AllocateCommonBuffer(lua_State *L) {
  dl_adapter *a = checkadapter(L, 1);
  uint32_t length = checku32(L, 2);
  int cache = lua_isnoneornil(L, 3) ? 1 : ldl_checkbool(L, 3);
  luaL_argcheck(L, length > 0, 2, "Length must be > 0");
  ldl_call call;
  enter(L, &call);
  uint64_t va, logical;
  int rc = dl_adapter_alloc_common(a, length, cache, &va, &logical);
  ldl_leave(L, &call);
  if (rc) return 0;
  lua_pushinteger(L, (lua_Integer)va);
  lua_pushinteger(L, (lua_Integer)logical);
  return 2;
}

/* FreeCommonBuffer(adapter, Length, LogicalAddress, VirtualAddress, CacheEnabled) */
static int l_FreeCommonBuffer(lua_State *L) {
  dl_adapter *a = checkadapter(L, 1);
  uint32_t length = checku32(L, 2);
  uint64_t logical = ldl_checkuint(L, 3), va = ldl_checkuint(L, 4);
  int cache = lua_isnoneornil(L, 5) ? 1 : ldl_checkbool(L, 5);
  ldl_call call;
  enter(L, &call);
  dl_adapter_free_common(a, length, logical, va, cache);
  ldl_leave(L, &call);
  return 0;
}

/* GetDmaAlignment(adapter) -> bytes (1 for a bus master; a system DMA
** channel's unit). */
static int l_GetDmaAlignment(lua_State *L) {
  lua_pushinteger(L, dl_adapter_dma_alignment(checkadapter(L, 1)));
  return 1;
}

/* ---- the lab's own -------------------------------------------------------- */

/* adapter:stats() -> counters of this adapter */
static int a_stats(lua_State *L) {
  const dl_adapter_stats *st = dl_adapter_get_stats(checkadapter(L, 1));
  struct { const char *name; uint64_t v; } f[] = {
    {"map_transfers", st->map_transfers}, {"bytes_mapped", st->bytes_mapped},
    {"bytes_bounced", st->bytes_bounced}, {"flushes", st->flushes},
    {"channel_grants", st->channel_grants}, {"channel_waits", st->channel_waits},
    {"sg_lists", st->sg_lists}, {"map_registers_held", st->registers_held},
    {"map_registers_high_water", st->registers_high_water},
  };
  lua_createtable(L, 0, (int)(sizeof f / sizeof f[0]));
  for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
    lua_pushinteger(L, (lua_Integer)f[i].v);
    lua_setfield(L, -2, f[i].name);
  }
  return 1;
}

/* Reads an optional limit from the table at arg. */
static uint64_t limit_field(lua_State *L, int arg, const char *name) {
  if (!lua_istable(L, arg)) return 0;
  lua_getfield(L, arg, name);
  uint64_t v = 0;
  if (lua_type(L, -1) == LUA_TSTRING) {
    if (!ldl_parsesize(lua_tostring(L, -1), &v))
      luaL_argerror(L, arg, lua_pushfstring(L, "limit '%s' must be a size", name));
  } else if (!lua_isnil(L, -1)) {
    luaL_argcheck(L, lua_isinteger(L, -1) && lua_tointeger(L, -1) >= 0, arg,
                  lua_pushfstring(L, "limit '%s' must be a non-negative integer", name));
    v = (uint64_t)lua_tointeger(L, -1);
  }
  lua_pop(L, 1);
  return v;
}

/* dma.split_transfer(mdl, NumberOfMapRegisters [, {max_bytes=, alignment=,
** max_elements=, va=, length=}]) -> { {va=, length=, map_registers=,
** elements=}, ... }: the transfers a driver must perform (seed 004). */
static int l_split_transfer(lua_State *L) {
  static const char *const options[] = {"max_bytes", "alignment", "max_elements", "va", "length", NULL};
  dl_mdl *mdl = checkmdl(L, 1);
  ldl_checkoptions(L, 3, "dma.split_transfer", options);
  dl_split_limits lim = {checku32(L, 2), limit_field(L, 3, "max_bytes"),
                         (uint32_t)limit_field(L, 3, "alignment"),
                         (uint32_t)limit_field(L, 3, "max_elements")};
  luaL_argcheck(L, lim.map_registers > 0, 2, "NumberOfMapRegisters must be > 0");
  luaL_argcheck(L, dl_mdl_pages_valid(mdl), 1, "MDL pages are not locked or built");
  uint64_t va = limit_field(L, 3, "va"), length = limit_field(L, 3, "length");
  if (va == 0) va = dl_mdl_virtual_address(mdl);
  if (length == 0) length = dl_mdl_virtual_address(mdl) + dl_mdl_byte_count(mdl) - va;
  size_t n = 0;
  char why[200];
  if (dl_split_transfer(mdl, va, length, &lim, NULL, 0, &n, why, sizeof why))
    return luaL_argerror(L, 3, why);
  dl_split_piece *pieces = lua_newuserdatauv(L, n * sizeof *pieces, 0);  /* freed by the GC */
  dl_split_transfer(mdl, va, length, &lim, pieces, n, &n, NULL, 0);
  lua_createtable(L, (int)n, 0);
  for (size_t i = 0; i < n; i++) {
    lua_createtable(L, 0, 4);
    ldl_setint(L, "va", (lua_Integer)pieces[i].va);
    ldl_setint(L, "length", pieces[i].length);
    ldl_setint(L, "map_registers", pieces[i].map_registers);
    ldl_setint(L, "elements", pieces[i].elements);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  return 1;
}

/* ---- the class ------------------------------------------------------------ */

static int a_tostring(lua_State *L) {
  lobject *h = ldl_checkclass(L, 1, LDL_ADAPTER);
  if (!h->owner->m) {
    lua_pushliteral(L, "DMA_ADAPTER (machine closed)");
    return 1;
  }
  dl_adapter *a = h->obj;
  const dl_device_description *d = dl_adapter_description(a);
  int bits = __builtin_popcountll(dl_adapter_ceiling(a));  /* the ceiling is 2^bits - 1 */
  lua_pushfstring(L, "DMA_ADAPTER#%I of %s v%d %s %d-bit map_registers=%d%s",
                  (lua_Integer)dl_adapter_id(a), dl_adapter_device(a)->name, (int)d->version,
                  dl_adapter_is_scatter_gather(a) ? "scatter/gather" : "packet", bits,
                  (int)dl_adapter_map_registers(a), dl_adapter_is_released(a) ? " released" : "");
  return 1;
}

/* Fields: DmaOperations, Version, NumberOfMapRegisters... ; otherwise methods. */
static int a_index(lua_State *L) {
  const char *key = ldl_checkkey(L, 2);
  if (ldl_getmethod(L, lua_upvalueindex(1)) != LUA_TNIL) {
    if (ladapter_hidden(L, 1)) lua_pushnil(L);  /* a version-3 operation of an older adapter */
    return 1;
  }
  dl_adapter *a = checkadapter(L, 1);
  if (strcmp(key, "DmaOperations") == 0) lua_pushvalue(L, lua_upvalueindex(1));
  else if (strcmp(key, "Version") == 0) lua_pushinteger(L, dl_adapter_description(a)->version);
  else if (strcmp(key, "NumberOfMapRegisters") == 0) lua_pushinteger(L, dl_adapter_map_registers(a));
  else if (strcmp(key, "ceiling") == 0) lua_pushinteger(L, (lua_Integer)dl_adapter_ceiling(a));
  else if (strcmp(key, "address_bits") == 0)  /* the ceiling is 2^bits - 1 (-1 as a Lua integer for 64) */
    lua_pushinteger(L, __builtin_popcountll(dl_adapter_ceiling(a)));
  else if (strcmp(key, "id") == 0) lua_pushinteger(L, (lua_Integer)dl_adapter_id(a));
  else if (strcmp(key, "device") == 0) {
    ldl_pushobject(L, LDL_DEVICE, DL_OBJECT(dl_adapter_device(a)));
  } else if (strcmp(key, "machine") == 0) ldl_pushowner(L, 1);
  else lua_pushnil(L);
  return 1;
}

/* Adapters live as long as their machine (PutDmaAdapter releases them). */
/* __close: `local a <close> = IoGetDmaAdapter(...)` puts the adapter when
** the scope ends, once (PutDmaAdapter's own checks and reports apply). */
static int a_close(lua_State *L) {
  lobject *h = ldl_checkclass(L, 1, LDL_ADAPTER);
  if (!h->obj || !h->owner->m || dl_adapter_is_released(h->obj)) return 0;
  ldl_call call;
  enter(L, &call);
  dl_adapter_put(h->obj);
  ldl_leave(L, &call);
  return 0;
}

static const luaL_Reg meta[] = {
  {"__close", a_close},
  {"__tostring", a_tostring},
  {NULL, NULL}
};

/* The DMA_OPERATIONS table, which is also the method table. */
static const luaL_Reg operations[] = {
  {"PutDmaAdapter", l_PutDmaAdapter},
  {"AllocateCommonBuffer", l_AllocateCommonBuffer},
  {"FreeCommonBuffer", l_FreeCommonBuffer},
  {"AllocateAdapterChannel", l_AllocateAdapterChannel},
  {"FlushAdapterBuffers", l_FlushAdapterBuffers},
  {"FreeAdapterChannel", l_FreeAdapterChannel},
  {"FreeMapRegisters", l_FreeMapRegisters},
  {"MapTransfer", l_MapTransfer},
  {"GetDmaAlignment", l_GetDmaAlignment},
  {"ReadDmaCounter", l_ReadDmaCounter},
  {"GetScatterGatherList", l_GetScatterGatherList},
  {"PutScatterGatherList", l_PutScatterGatherList},
  {"CalculateScatterGatherList", l_CalculateScatterGatherList},
  {"BuildScatterGatherList", l_BuildScatterGatherList},
  {"stats", a_stats},
  {NULL, NULL}
};

/* Module functions: IoGetDmaAdapter, the classic Io* forms, KeFlushIoBuffers. */
static const luaL_Reg functions[] = {
  {"IoGetDmaAdapter", l_IoGetDmaAdapter},
  {"PutDmaAdapter", l_PutDmaAdapter},
  {"IoAllocateAdapterChannel", l_AllocateAdapterChannel},
  {"IoFreeAdapterChannel", l_FreeAdapterChannel},
  {"IoFreeMapRegisters", l_FreeMapRegisters},
  {"IoMapTransfer", l_MapTransfer},
  {"IoFlushAdapterBuffers", l_FlushAdapterBuffers},
  {"KeFlushIoBuffers", l_KeFlushIoBuffers},
  {"split_transfer", l_split_transfer},
  {NULL, NULL}
};

static const struct { const char *name; lua_Integer value; } constants[] = {
  {"KeepObject", DL_KEEP_OBJECT}, {"DeallocateObject", DL_DEALLOCATE_OBJECT},
  {"DeallocateObjectKeepRegisters", DL_DEALLOCATE_OBJECT_KEEP_REGISTERS},
  {"DEVICE_DESCRIPTION_VERSION", 0}, {"DEVICE_DESCRIPTION_VERSION1", 1},
  {"DEVICE_DESCRIPTION_VERSION2", 2}, {"DEVICE_DESCRIPTION_VERSION3", 3},
  {"Internal", 0}, {"Isa", DL_ISA}, {"Eisa", DL_EISA}, {"PCIBus", DL_PCI_BUS},
  {"ACPIBus", DL_ACPI_BUS},
  {"Width8Bits", DL_WIDTH8}, {"Width16Bits", DL_WIDTH16}, {"Width32Bits", DL_WIDTH32},
  {"Compatible", 0}, {"TypeA", 1}, {"TypeB", 2}, {"TypeC", 3}, {"TypeF", 4},
};

/* Registers the adapter class and functions in the module at -1. */
void ldl_open_adapter(lua_State *L) {
  ldl_newclass(L, LDL_ADAPTER, meta, operations, a_index);
  static const char *const fields[] = {"DmaOperations", "Version", "NumberOfMapRegisters", "ceiling",
                                       "address_bits", "id", "device", "machine", NULL};
  ldl_setfields(L, LDL_ADAPTER, fields);
  luaL_setfuncs(L, functions, 0);
  for (size_t i = 0; i < sizeof constants / sizeof constants[0]; i++) {
    lua_pushinteger(L, constants[i].value);
    lua_setfield(L, -2, constants[i].name);
  }
}
