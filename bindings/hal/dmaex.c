/*
** dmaex.c: the version-3 DMA operations (core/hal/dl_dmaex.h) as methods of
** DMA_ADAPTER handles (adapter:MapTransferEx(...), also
** adapter.DmaOperations.MapTransferEx(adapter, ...)), and DMA_TRANSFER_CONTEXT
** handles. An adapter of an earlier DEVICE_DESCRIPTION version has none of
** these methods, as its DMA_OPERATIONS lack the members; called through a
** newer adapter's table, each names the version it needs.
**
** Lua has no caller storage: InitializeDmaTransferContext(nil) makes the
** context (pass one to re-initialise it), a ScatterGatherBuffer is any
** non-nil value standing for ScatterGatherBufferLength bytes, and the
** routines' out-parameters (MapRegisterBase, the list) are extra results.
*/
#include <stdint.h>
#include <string.h>

#include "hal/dl_dmaex.h"
#include "hal/dl_slave.h"
#include "base/dl_ntstatus.h"
#include "base/dl_status.h"
#include "machine/dl_object.h"
#include "ladapter.h"

#define LDL_DMACTX "DMA_TRANSFER_CONTEXT"

/* The adapter at 1, which must be version 3 for `fname`. */
static dl_adapter *checkv3(lua_State *L, const char *fname) {
  dl_adapter *a = ldl_checkobject(L, 1, LDL_ADAPTER, "DMA_ADAPTER")->obj;
  if (!dl_dmaex_available(a))
    luaL_error(L, "%s is not available on DMA_ADAPTER#%d: its DEVICE_DESCRIPTION is version %d, "
                  "and the ...Ex operations come with DEVICE_DESCRIPTION_VERSION3", fname,
               (int)dl_adapter_id(a), (int)dl_adapter_description(a)->version);
  return a;
}

static dl_dmactx *checkctx(lua_State *L, int arg) {
  return ldl_checkobject(L, arg, LDL_DMACTX, "DMA_TRANSFER_CONTEXT")->obj;
}

static dl_mdl *checkmdl(lua_State *L, int arg) {
  return ldl_checkobject(L, arg, LDL_MDL, "MDL")->obj;
}

static dl_device *checkdevice(lua_State *L, int arg) { return ldl_checklivedevice(L, arg); }

static uint32_t checku32(lua_State *L, int arg) {
  uint64_t v = ldl_checkuint(L, arg);
  luaL_argcheck(L, v <= UINT32_MAX, arg, "must fit in a ULONG");
  return (uint32_t)v;
}

/* A MapRegisterBase: the light userdata AllocateAdapterChannelEx gave (or nil). */
static uint64_t checkbase(lua_State *L, int arg) {
  if (lua_isnil(L, arg)) return 0;
  luaL_argcheck(L, lua_islightuserdata(L, arg), arg, "MapRegisterBase expected");
  return (uint64_t)(uintptr_t)lua_touserdata(L, arg);
}

/* An optional routine at fn: nil, or a function kept with the value at ctx. */
static int keep_routine(lua_State *L, lmachine *lm, int fn, int ctx) {
  if (lua_isnil(L, fn)) return LUA_NOREF;
  return ldl_keepcallback(L, lm, fn, ctx);
}

static void drop_routine(lua_State *L, lmachine *lm, int ref) {
  if (ref == LUA_NOREF) return;
  ldl_takecallback(L, lm, ref);
  lua_pop(L, 2);
}

static void checkroutine(lua_State *L, int arg) {
  luaL_argcheck(L, lua_isnoneornil(L, arg) || lua_isfunction(L, arg), arg, "a function or nil expected");
}

static void pushbase(lua_State *L, uint64_t base) {
  lua_pushlightuserdata(L, (void *)(uintptr_t)base);
}

/* Pushes a SCATTER_GATHER_LIST as a table: NumberOfElements, Elements[0..]. */
static void push_list(lua_State *L, const dl_sg_element *el, uint32_t n) {
  lua_createtable(L, 0, 2);
  ldl_setint(L, "NumberOfElements", n);
  ldl_pushelements(L, el, n);
  lua_setfield(L, -2, "Elements");
}

/* DmaCompletionRoutine(DmaAdapter, DeviceObject, CompletionContext, Status). */
static void on_completion(void *ctx, dl_adapter *a, dl_device *dev, int status) {
  lmachine *lm = dl_machine_data(dev->m);
  lua_State *L = lm->L;
  ldl_takecallback(L, lm, (int)(intptr_t)ctx);  /* fn, context */
  ldl_pushobject(L, LDL_ADAPTER, DL_OBJECT(a));
  ldl_pushobject(L, LDL_DEVICE, DL_OBJECT(dev));
  lua_rotate(L, -3, -1);                         /* fn, adapter, device, context */
  lua_pushinteger(L, status);
  ldl_where(lm, "the DmaCompletionRoutine", "DEVICE_OBJECT", DL_OBJECT(dev)->id);
  ldl_callback(L, lm, 4, 0);
}

/* ---- the context and the channel ---------------------------------------------- */

/* InitializeDmaTransferContext(adapter, DmaTransferContext | nil) ->
** NTSTATUS, DmaTransferContext */
static int l_InitializeDmaTransferContext(lua_State *L) {
  dl_adapter *a = checkv3(L, "InitializeDmaTransferContext");
  lobject *h = ldl_checkobject(L, 1, LDL_ADAPTER, "DMA_ADAPTER");
  dl_dmactx *c = lua_isnoneornil(L, 2) ? NULL : checkctx(L, 2);
  ldl_call call;
  ldl_enter(L, h->owner, &call);
  int rc = c ? DL_OK : dl_dmactx_new(a, &c);
  uint32_t st = rc ? DL_STATUS_INSUFFICIENT_RESOURCES : dl_dmaex_initialize_context(a, c);
  ldl_leave(L, &call);
  lua_pushinteger(L, st);
  if (c) ldl_pushobject(L, LDL_DMACTX, DL_OBJECT(c));
  else lua_pushnil(L);
  return 2;
}

/* AllocateAdapterChannelEx(adapter, DeviceObject, DmaTransferContext,
** NumberOfMapRegisters, Flags, ExecutionRoutine | nil, ExecutionContext) ->
** NTSTATUS, MapRegisterBase (without a routine) */
static int l_AllocateAdapterChannelEx(lua_State *L) {
  dl_adapter *a = checkv3(L, "AllocateAdapterChannelEx");
  dl_device *dev = checkdevice(L, 2);
  dl_dmactx *c = checkctx(L, 3);
  uint32_t n = checku32(L, 4), flags = checku32(L, 5);
  checkroutine(L, 6);
  lua_settop(L, 7);
  lobject *h = lua_touserdata(L, 1);
  ldl_call call;
  ldl_enter(L, h->owner, &call);
  int ref = keep_routine(L, h->owner, 6, 7);
  uint64_t base = 0;
  uint32_t st = dl_dmaex_allocate_channel(a, dev, c, n, flags, ref == LUA_NOREF ? NULL : ladapter_control,
                                          (void *)(intptr_t)ref, ref == LUA_NOREF ? &base : NULL);
  if (st != DL_STATUS_SUCCESS) drop_routine(L, h->owner, ref);  /* the routine never runs */
  ldl_leave(L, &call);
  lua_pushinteger(L, st);
  if (base) pushbase(L, base);
  else lua_pushnil(L);
  return 2;
}

/* FreeAdapterObject(adapter, AllocationAction) */
static int l_FreeAdapterObject(lua_State *L) {
  dl_adapter *a = checkv3(L, "FreeAdapterObject");
  lua_Integer action = luaL_checkinteger(L, 2);
  luaL_argcheck(L, action >= DL_KEEP_OBJECT && action <= DL_DEALLOCATE_OBJECT_KEEP_REGISTERS, 2,
                "KeepObject, DeallocateObject or DeallocateObjectKeepRegisters expected");
  lobject *h = lua_touserdata(L, 1);
  ldl_call call;
  ldl_enter(L, h->owner, &call);
  dl_dmaex_free_adapter_object(a, (int)action);
  ldl_leave(L, &call);
  return 0;
}

/* CancelAdapterChannel(adapter, DeviceObject, DmaTransferContext) -> BOOLEAN */
static int l_CancelAdapterChannel(lua_State *L) {
  dl_adapter *a = checkv3(L, "CancelAdapterChannel");
  dl_device *dev = checkdevice(L, 2);
  dl_dmactx *c = checkctx(L, 3);
  lobject *h = lua_touserdata(L, 1);
  ldl_call call;
  ldl_enter(L, h->owner, &call);
  int ok = dl_dmaex_cancel_channel(a, dev, c);
  ldl_leave(L, &call);
  lua_pushboolean(L, ok);
  return 1;
}

/* ---- MapTransferEx and its flush ------------------------------------------------ */

/* MapTransferEx(adapter, Mdl, MapRegisterBase, Offset, DeviceOffset, Length,
** WriteToDevice, ScatterGatherBuffer | nil, ScatterGatherBufferLength,
** DmaCompletionRoutine | nil, CompletionContext) -> NTSTATUS, Length,
** ScatterGatherList (a table; nil unless STATUS_SUCCESS) */
static int l_MapTransferEx(lua_State *L) {
  dl_adapter *a = checkv3(L, "MapTransferEx");
  dl_mdl *mdl = checkmdl(L, 2);
  uint64_t base = checkbase(L, 3), offset = ldl_checkuint(L, 4);
  uint32_t devoff = checku32(L, 5), length = checku32(L, 6);
  int write = ldl_checkbool(L, 7);
  uint64_t buflen = lua_isnoneornil(L, 8) ? 0 : checku32(L, 9);
  checkroutine(L, 10);
  lua_settop(L, 11);
  lobject *h = lua_touserdata(L, 1);
  ldl_call call;
  ldl_enter(L, h->owner, &call);
  int ref = keep_routine(L, h->owner, 10, 11);
  const dl_sg_element *el = NULL;
  uint32_t n = 0;
  uint32_t st = dl_dmaex_map_transfer(a, mdl, base, offset, devoff, &length, write, buflen,
                                      ref == LUA_NOREF ? NULL : on_completion, (void *)(intptr_t)ref,
                                      &el, &n);
  if (st != DL_STATUS_SUCCESS) drop_routine(L, h->owner, ref);
  ldl_leave(L, &call);
  lua_pushinteger(L, st);
  lua_pushinteger(L, st == DL_STATUS_SUCCESS ? length : 0);
  if (st == DL_STATUS_SUCCESS) push_list(L, el, n);
  else lua_pushnil(L);
  return 3;
}

/* FlushAdapterBuffersEx(adapter, Mdl, MapRegisterBase, Offset, Length,
** WriteToDevice) -> NTSTATUS */
static int l_FlushAdapterBuffersEx(lua_State *L) {
  dl_adapter *a = checkv3(L, "FlushAdapterBuffersEx");
  dl_mdl *mdl = checkmdl(L, 2);
  uint64_t base = checkbase(L, 3), offset = ldl_checkuint(L, 4);
  uint32_t length = checku32(L, 5);
  int write = ldl_checkbool(L, 6);
  lobject *h = lua_touserdata(L, 1);
  ldl_call call;
  ldl_enter(L, h->owner, &call);
  uint32_t st = dl_dmaex_flush(a, mdl, base, offset, length, write);
  ldl_leave(L, &call);
  lua_pushinteger(L, st);
  return 1;
}

/* CancelMappedTransfer(adapter, DmaTransferContext) -> NTSTATUS */
static int l_CancelMappedTransfer(lua_State *L) {
  dl_adapter *a = checkv3(L, "CancelMappedTransfer");
  dl_dmactx *c = checkctx(L, 2);
  lobject *h = lua_touserdata(L, 1);
  ldl_call call;
  ldl_enter(L, h->owner, &call);
  uint32_t st = dl_dmaex_cancel_mapped(a, c);
  ldl_leave(L, &call);
  lua_pushinteger(L, st);
  return 1;
}

/* ---- queries -------------------------------------------------------------------- */

/* The Version of a DMA_TRANSFER_INFO / DMA_ADAPTER_INFO table at arg. */
static uint32_t info_version(lua_State *L, int arg, const char *what) {
  luaL_checktype(L, arg, LUA_TTABLE);
  lua_getfield(L, arg, "Version");
  int ok = 0;
  lua_Integer v = lua_tointegerx(L, -1, &ok);
  lua_pop(L, 1);
  if (!ok || v < 0 || v > UINT32_MAX)
    luaL_argerror(L, arg, lua_pushfstring(L, "%s.Version must be set (e.g. %s_VERSION1)", what, what));
  return (uint32_t)v;
}

/* GetDmaTransferInfo(adapter, Mdl, Offset, Length, WriteOnly, TransferInfo)
** -> NTSTATUS, TransferInfo (its V1 filled in) */
static int l_GetDmaTransferInfo(lua_State *L) {
  dl_adapter *a = checkv3(L, "GetDmaTransferInfo");
  dl_mdl *mdl = checkmdl(L, 2);
  uint64_t offset = ldl_checkuint(L, 3);
  uint32_t length = checku32(L, 4);
  int write_only = ldl_checkbool(L, 5);
  uint32_t version = info_version(L, 6, "DMA_TRANSFER_INFO");
  lobject *h = lua_touserdata(L, 1);
  ldl_call call;
  ldl_enter(L, h->owner, &call);
  dl_dma_transfer_info ti;
  uint32_t st = dl_dmaex_transfer_info(a, mdl, offset, length, write_only, version, &ti);
  ldl_leave(L, &call);
  lua_pushinteger(L, st);
  lua_pushvalue(L, 6);
  if (st == DL_STATUS_SUCCESS) {
    lua_createtable(L, 0, 3);
    ldl_setint(L, "MapRegisterCount", ti.map_register_count);
    ldl_setint(L, "ScatterGatherElementCount", ti.sg_element_count);
    ldl_setint(L, "ScatterGatherListSize", ti.sg_list_size);
    lua_setfield(L, -2, "V1");
  }
  return 2;
}

/* GetDmaAdapterInfo(adapter, AdapterInfo) -> NTSTATUS, AdapterInfo (V1 filled in) */
static int l_GetDmaAdapterInfo(lua_State *L) {
  dl_adapter *a = checkv3(L, "GetDmaAdapterInfo");
  uint32_t version = info_version(L, 2, "DMA_ADAPTER_INFO");
  lobject *h = lua_touserdata(L, 1);
  ldl_call call;
  ldl_enter(L, h->owner, &call);
  dl_dma_adapter_info ai;
  uint32_t st = dl_dmaex_adapter_info(a, version, &ai);
  ldl_leave(L, &call);
  lua_pushinteger(L, st);
  lua_pushvalue(L, 2);
  if (st == DL_STATUS_SUCCESS) {
    lua_createtable(L, 0, 5);
    lua_pushboolean(L, ai.read_dma_counter_available);
    lua_setfield(L, -2, "ReadDmaCounterAvailable");
    ldl_setint(L, "ScatterGatherLimit", (lua_Integer)ai.scatter_gather_limit);
    ldl_setint(L, "DmaAddressWidth", ai.dma_address_width);
    ldl_setint(L, "Flags", ai.flags);
    ldl_setint(L, "MinimumTransferUnit", ai.minimum_transfer_unit);
    lua_setfield(L, -2, "V1");
  }
  return 2;
}

/* ConfigureAdapterChannel(adapter, FunctionNumber, Context | nil) ->
** NTSTATUS: a custom function of a system DMA controller (a bus master has
** none: STATUS_NOT_IMPLEMENTED). The lab's controllers take a ULONG at
** Context: an integer here (nil: a NULL Context). */
static int l_ConfigureAdapterChannel(lua_State *L) {
  dl_adapter *a = checkv3(L, "ConfigureAdapterChannel");
  uint32_t function = checku32(L, 2);
  uint32_t value = lua_isnoneornil(L, 3) ? 0 : checku32(L, 3);
  lobject *h = lua_touserdata(L, 1);
  ldl_call call;
  ldl_enter(L, h->owner, &call);
  uint32_t st = dl_dmaex_configure(a, function, lua_isnoneornil(L, 3) ? NULL : &value);
  ldl_leave(L, &call);
  lua_pushinteger(L, st);
  return 1;
}

/* ---- lists and common buffers ------------------------------------------------- */

/* Get/BuildScatterGatherListEx; `extra` is 2 for Build's buffer arguments. */
static int get_sglist_ex(lua_State *L, const char *fname, int extra) {
  dl_adapter *a = checkv3(L, fname);
  dl_device *dev = checkdevice(L, 2);
  dl_dmactx *c = checkctx(L, 3);
  dl_mdl *mdl = checkmdl(L, 4);
  uint64_t offset = ldl_checkuint(L, 5);
  uint32_t length = checku32(L, 6), flags = checku32(L, 7);
  checkroutine(L, 8);
  int write = ldl_checkbool(L, 10);
  uint64_t buflen = 0;
  if (extra) {
    buflen = checku32(L, 12);
    luaL_argcheck(L, buflen > 0 && !lua_isnoneornil(L, 11), 12, "ScatterGatherLength must be > 0");
  }
  int fn = 11 + extra;
  checkroutine(L, fn);
  lua_settop(L, fn + 1);
  lobject *h = lua_touserdata(L, 1);
  ldl_call call;
  ldl_enter(L, h->owner, &call);
  int ref = keep_routine(L, h->owner, 8, 9), fref = keep_routine(L, h->owner, fn, fn + 1);
  dl_sglist *sg = NULL;
  uint64_t id = 0;
  uint32_t st = dl_dmaex_get_sglist(a, dev, c, mdl, offset, length, flags,
                                    ref == LUA_NOREF ? NULL : ladapter_list_control, (void *)(intptr_t)ref,
                                    write, fref == LUA_NOREF ? NULL : on_completion,
                                    (void *)(intptr_t)fref, buflen, &sg, &id);
  if (st != DL_STATUS_SUCCESS) {
    drop_routine(L, h->owner, ref);
    drop_routine(L, h->owner, fref);
  }
  ldl_leave(L, &call);
  lua_pushinteger(L, st);
  if (sg) {
    ldl_pushowner(L, 1);
    ldl_pushsglist(L, -1, sg);
    lua_remove(L, -2);
  } else {
    lua_pushnil(L);
  }
  return 2;
}

/* GetScatterGatherListEx(adapter, DeviceObject, DmaTransferContext, Mdl,
** Offset, Length, Flags, ExecutionRoutine | nil, Context, WriteToDevice,
** DmaCompletionRoutine | nil, CompletionContext) -> NTSTATUS, ScatterGatherList
** (without a routine) */
static int l_GetScatterGatherListEx(lua_State *L) {
  return get_sglist_ex(L, "GetScatterGatherListEx", 0);
}

/* BuildScatterGatherListEx(..., WriteToDevice, ScatterGatherBuffer,
** ScatterGatherLength, DmaCompletionRoutine | nil, CompletionContext) */
static int l_BuildScatterGatherListEx(lua_State *L) {
  return get_sglist_ex(L, "BuildScatterGatherListEx", 2);
}

/* AllocateCommonBufferEx(adapter, MaximumAddress | nil, Length, CacheEnabled,
** PreferredNode) -> VirtualAddress, LogicalAddress (nil when none) */
static int l_AllocateCommonBufferEx(lua_State *L) {
  dl_adapter *a = checkv3(L, "AllocateCommonBufferEx");
  uint64_t max = lua_isnoneornil(L, 2) ? 0 : ldl_checkuint(L, 2);
  uint32_t length = checku32(L, 3);
  luaL_argcheck(L, length > 0, 3, "Length must be > 0");
  int cache = lua_isnoneornil(L, 4) ? 1 : ldl_checkbool(L, 4);
  uint32_t node = lua_isnoneornil(L, 5) ? DL_MM_ANY_NODE_OK : checku32(L, 5);
  lobject *h = lua_touserdata(L, 1);
  ldl_call call;
  ldl_enter(L, h->owner, &call);
  uint64_t va, logical;
  int rc = dl_dmaex_alloc_common(a, max, length, cache, node, &va, &logical);
  ldl_leave(L, &call);
  if (rc) return 0;
  lua_pushinteger(L, (lua_Integer)va);
  lua_pushinteger(L, (lua_Integer)logical);
  return 2;
}

/* ---- registration ------------------------------------------------------------- */

static const luaL_Reg operations[] = {
  {"InitializeDmaTransferContext", l_InitializeDmaTransferContext},
  {"AllocateAdapterChannelEx", l_AllocateAdapterChannelEx},
  {"FreeAdapterObject", l_FreeAdapterObject},
  {"CancelAdapterChannel", l_CancelAdapterChannel},
  {"MapTransferEx", l_MapTransferEx},
  {"FlushAdapterBuffersEx", l_FlushAdapterBuffersEx},
  {"CancelMappedTransfer", l_CancelMappedTransfer},
  {"GetDmaTransferInfo", l_GetDmaTransferInfo},
  {"GetDmaAdapterInfo", l_GetDmaAdapterInfo},
  {"ConfigureAdapterChannel", l_ConfigureAdapterChannel},
  {"GetScatterGatherListEx", l_GetScatterGatherListEx},
  {"BuildScatterGatherListEx", l_BuildScatterGatherListEx},
  {"AllocateCommonBufferEx", l_AllocateCommonBufferEx},
  {NULL, NULL}
};

/* 1 if the method at -1 is one of the above and the adapter at arg older. */
int ladapter_hidden(lua_State *L, int arg) {
  lua_CFunction f = lua_tocfunction(L, -1);
  int ours = 0;
  for (const luaL_Reg *r = operations; f && r->name && !ours; r++) ours = r->func == f;
  if (!ours) return 0;
  lobject *h = ldl_testclass(L, arg, LDL_ADAPTER);
  return h && h->obj && h->owner->m && !dl_dmaex_available(h->obj);
}

/* DMA_TRANSFER_CONTEXT fields: adapter, id, machine, and the lab's state. */
static int ctx_index(lua_State *L) {
  const char *key = luaL_checkstring(L, 2);
  dl_dmactx *c = checkctx(L, 1);
  if (strcmp(key, "adapter") == 0) ldl_pushobject(L, LDL_ADAPTER, DL_OBJECT(dl_dmactx_adapter(c)));
  else if (strcmp(key, "id") == 0) lua_pushinteger(L, (lua_Integer)DL_OBJECT(c)->id);
  else if (strcmp(key, "machine") == 0) ldl_pushowner(L, 1);
  else if (strcmp(key, "initialized") == 0) lua_pushboolean(L, dl_dmactx_initialized(c));
  else if (strcmp(key, "pending") == 0) lua_pushboolean(L, dl_dmactx_pending(c));
  else if (strcmp(key, "cancelled") == 0) lua_pushboolean(L, dl_dmactx_cancelled(c));
  else if (strcmp(key, "mapped") == 0) lua_pushboolean(L, dl_dmactx_mapped(c));
  else lua_pushnil(L);
  return 1;
}

static int ctx_tostring(lua_State *L) {
  lobject *h = ldl_checkclass(L, 1, LDL_DMACTX);
  if (!h->owner->m || !h->obj) {
    lua_pushliteral(L, "DMA_TRANSFER_CONTEXT (machine closed)");
    return 1;
  }
  dl_dmactx *c = h->obj;
  lua_pushfstring(L, "DMA_TRANSFER_CONTEXT#%I of DMA_ADAPTER#%I%s%s%s", (lua_Integer)DL_OBJECT(c)->id,
                  (lua_Integer)dl_adapter_id(dl_dmactx_adapter(c)),
                  dl_dmactx_pending(c) ? " pending" : "", dl_dmactx_mapped(c) ? " mapped" : "",
                  dl_dmactx_cancelled(c) ? " cancelled" : "");
  return 1;
}

static const luaL_Reg ctx_meta[] = {
  {"__tostring", ctx_tostring},
  {NULL, NULL}
};

static const struct { const char *name; lua_Integer value; } constants[] = {
  {"DMA_SYNCHRONOUS_CALLBACK", DL_DMA_SYNCHRONOUS_CALLBACK},
  {"DmaComplete", DL_DMA_COMPLETE}, {"DmaAborted", DL_DMA_ABORTED},
  {"DmaError", DL_DMA_ERROR}, {"DmaCancelled", DL_DMA_CANCELLED},
  {"DMA_TRANSFER_INFO_VERSION1", DL_DMA_TRANSFER_INFO_VERSION1},
  {"DMA_ADAPTER_INFO_VERSION1", DL_DMA_ADAPTER_INFO_VERSION1},
  {"ADAPTER_INFO_SYNCHRONOUS_CALLBACK", DL_ADAPTER_INFO_SYNCHRONOUS_CALLBACK},
  {"ADAPTER_INFO_API_BYPASS", DL_ADAPTER_INFO_API_BYPASS},
  {"MM_ANY_NODE_OK", DL_MM_ANY_NODE_OK},
  {"SYSDMA_CONFIGURE_MODE", DL_SYSDMA_CONFIGURE_MODE},
  {"SYSDMA_CONFIGURE_CYCLE", DL_SYSDMA_CONFIGURE_CYCLE},
  {"SYSDMA_DEMAND", DL_SYSDMA_DEMAND}, {"SYSDMA_SINGLE", DL_SYSDMA_SINGLE},
  {"SYSDMA_BLOCK", DL_SYSDMA_BLOCK},
  {"DMA_TRANSFER_CONTEXT_SIZE_V1", 128},  /* wdm.h, _WIN64 */
};

/* Adds the version-3 operations to DMA_ADAPTER and registers the context
** class and the constants in the module at -1. */
void ldl_open_dmaex(lua_State *L) {
  ldl_addmethods(L, LDL_ADAPTER, operations);
  ldl_newclass(L, LDL_DMACTX, ctx_meta, ldl_no_methods, ctx_index);
  static const char *const fields[] = {"adapter", "id", "machine", "initialized", "pending",
                                       "cancelled", "mapped", NULL};
  ldl_setfields(L, LDL_DMACTX, fields);
  for (size_t i = 0; i < sizeof constants / sizeof constants[0]; i++) {
    lua_pushinteger(L, constants[i].value);
    lua_setfield(L, -2, constants[i].name);
  }
}
