/*
** wdfsys.c: KMDF's system-mode DMA in Lua: WDF_DMA_SYSTEM_PROFILE_CONFIG_INIT,
** WdfDmaEnablerConfigureSystemProfile, WdfDmaTransactionSetChannelConfigurationCallback,
** ...SetTransferCompleteCallback and ...SetDeviceAddressOffset, and the calls
** of EvtDmaTransactionConfigureDmaChannel and EvtDmaTransactionDmaTransferComplete.
** A DmaDescriptor is a CmResourceTypeDma descriptor as WdfCmResourceListGetDescriptor
** returns it (u.Dma for ISA, u.DmaV3 with Flags CM_RESOURCE_DMA_V3 for an SoC
** request line).
*/
#include <stdlib.h>
#include <string.h>

#include "base/dl_status.h"
#include "lwdfdma.h"

#define checktxn(L, i) ((dl_wdfdma_txn *)ldl_checkobject(L, i, LDL_WDFDMATRANSACTION, "WDFDMATRANSACTION")->obj)

enum { CM_RESOURCE_TYPE_DMA = 4, CM_RESOURCE_DMA_V3 = 0x100 };

/* Pushes field k of the transaction's state. */
static void get_state(lua_State *L, void *t, const char *k) {
  lwdf_pushstate(L, t);
  lua_getfield(L, -1, k);
  lua_remove(L, -2);
}

static void set_state(lua_State *L, void *t, const char *k, int idx) {
  idx = lua_absindex(L, idx);
  lwdf_pushstate(L, t);
  lua_pushvalue(L, idx);
  lua_setfield(L, -2, k);
  lua_pop(L, 1);
}

/* ---- the engine's calls into the driver ------------------------------------------ */

/* EvtDmaTransactionConfigureDmaChannel(Transaction, Device, Context, Mdl, Offset, Length) -> BOOLEAN */
int lwdfsys_configure_channel(void *data, dl_wdfdma_txn *t, dl_mdl *mdl, uint64_t offset, uint64_t length) {
  (void)data;
  dl_wdfdma_enabler *e = dl_wdfdma_txn_enabler(t);
  lmachine *lm = dl_machine_data(dl_wdfdma_enabler_machine(e));
  lua_State *L = lm->L;
  get_state(L, t, "configure");
  if (!lua_isfunction(L, -1)) {
    lua_pop(L, 1);
    return 1;
  }
  lwdf_pushhandle(L, t);
  lwdf_pushhandle(L, dl_wdfdma_enabler_device(e));
  get_state(L, t, "configure_context");
  ldl_pushobject(L, LDL_MDL, DL_OBJECT(mdl));
  lua_pushinteger(L, (lua_Integer)offset);
  lua_pushinteger(L, (lua_Integer)length);
  ldl_where(lm, "EvtDmaTransactionConfigureDmaChannel", "WDFDMATRANSACTION", dl_wdfdma_txn_id(t));
  if (!ldl_callback(L, lm, 6, 1)) return 0;
  int go = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return go;
}

/* EvtDmaTransactionDmaTransferComplete(Transaction, Device, Context, Direction, Status) */
void lwdfsys_transfer_complete(void *data, dl_wdfdma_txn *t, int direction, int status) {
  (void)data;
  dl_wdfdma_enabler *e = dl_wdfdma_txn_enabler(t);
  lmachine *lm = dl_machine_data(dl_wdfdma_enabler_machine(e));
  lua_State *L = lm->L;
  get_state(L, t, "complete");
  if (!lua_isfunction(L, -1)) {
    lua_pop(L, 1);
    return;
  }
  lwdf_pushhandle(L, t);
  lwdf_pushhandle(L, dl_wdfdma_enabler_device(e));
  get_state(L, t, "complete_context");
  lua_pushinteger(L, direction);
  lua_pushinteger(L, status);
  ldl_where(lm, "EvtDmaTransactionDmaTransferComplete", "WDFDMATRANSACTION", dl_wdfdma_txn_id(t));
  ldl_callback(L, lm, 5, 0);
}

/* ---- calls -------------------------------------------------------------------------- */

/* WDF_DMA_SYSTEM_PROFILE_CONFIG_INIT(Address, DmaWidth, DmaDescriptor) -> WDF_DMA_SYSTEM_PROFILE_CONFIG */
static int l_WDF_DMA_SYSTEM_PROFILE_CONFIG_INIT(lua_State *L) {
  lua_Integer addr = luaL_checkinteger(L, 1), width = luaL_checkinteger(L, 2);
  luaL_argcheck(L, width >= 0 && width <= 2, 2, "a DMA_WIDTH (Width8Bits, Width16Bits, Width32Bits) expected");
  luaL_checktype(L, 3, LUA_TTABLE);
  lua_createtable(L, 0, 6);
  ldl_setint(L, "Size", 40);
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "DemandMode");
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "LoopedTransfer");
  ldl_setint(L, "DmaWidth", width);
  ldl_setint(L, "DeviceAddress", addr);
  lua_pushvalue(L, 3);
  lua_setfield(L, -2, "DmaDescriptor");
  return 1;
}

/* An integer field of the table at -1 (0 if absent). */
static uint64_t int_field(lua_State *L, const char *k) {
  lua_getfield(L, -1, k);
  uint64_t v = lua_isinteger(L, -1) ? (uint64_t)lua_tointeger(L, -1) : 0;
  lua_pop(L, 1);
  return v;
}

/* Reads the DmaDescriptor at -1: CmResourceTypeDma, u.Dma or u.DmaV3. */
static void read_descriptor(lua_State *L, int arg, dl_wdfdma_system_config *c) {
  luaL_argcheck(L, lua_istable(L, -1) && int_field(L, "Type") == CM_RESOURCE_TYPE_DMA, arg,
                "ProfileConfig.DmaDescriptor must be a CmResourceTypeDma descriptor "
                "(WdfCmResourceListGetDescriptor)");
  c->v3 = (int_field(L, "Flags") & CM_RESOURCE_DMA_V3) != 0;
  c->controller = (uint32_t)int_field(L, "controller");
  lua_getfield(L, -1, "u");
  lua_getfield(L, -1, c->v3 ? "DmaV3" : "Dma");
  luaL_argcheck(L, lua_istable(L, -1), arg, c->v3 ? "DmaDescriptor.u.DmaV3 missing" : "DmaDescriptor.u.Dma missing");
  c->channel = (uint32_t)int_field(L, "Channel");
  c->port = (uint32_t)int_field(L, "Port");
  c->request_line = (uint32_t)int_field(L, "RequestLine");
  lua_pop(L, 2);
}

static const char *const profile_fields[] = {"Size", "DemandMode", "LoopedTransfer", "DmaWidth",
                                              "DeviceAddress", "DmaDescriptor", NULL};

/* WdfDmaEnablerConfigureSystemProfile(DmaEnabler, ProfileConfig, ConfigDirection) -> NTSTATUS */
static int l_WdfDmaEnablerConfigureSystemProfile(lua_State *L) {
  lobject *h = ldl_checkobject(L, 1, LDL_WDFDMAENABLER, "WDFDMAENABLER");
  luaL_checktype(L, 2, LUA_TTABLE);
  ldl_checkfields(L, 2, "WDF_DMA_SYSTEM_PROFILE_CONFIG has no field '%s' (%s)", profile_fields);
  int dir = lwdfdma_checkdirection(L, 3);
  dl_wdfdma_system_config c;
  memset(&c, 0, sizeof c);
  lua_getfield(L, 2, "DemandMode");
  c.demand_mode = lua_toboolean(L, -1);
  lua_getfield(L, 2, "LoopedTransfer");
  c.looped = lua_toboolean(L, -1);
  lua_pop(L, 2);
  lua_pushvalue(L, 2);
  c.dma_width = (uint32_t)int_field(L, "DmaWidth");
  c.device_address = int_field(L, "DeviceAddress");
  lua_pop(L, 1);
  luaL_argcheck(L, c.dma_width <= 2, 2, "ProfileConfig.DmaWidth must be Width8Bits, Width16Bits or Width32Bits");
  lua_getfield(L, 2, "DmaDescriptor");
  read_descriptor(L, 2, &c);
  lua_pop(L, 1);
  ldl_call call;
  ldl_enter(L, h->owner, &call);
  uint32_t st = dl_wdfdma_enabler_configure_system(h->obj, &c, dir);
  ldl_leave(L, &call);
  lua_pushinteger(L, st);
  return 1;
}

/* Keeps fn (arg 2, or nil) and its context (arg 3) under k, k_context. */
static int set_callback(lua_State *L, const char *k, const char *kctx,
                        void (*set)(dl_wdfdma_txn *, int)) {
  dl_wdfdma_txn *t = checktxn(L, 1);
  luaL_argcheck(L, lua_isnoneornil(L, 2) || lua_isfunction(L, 2), 2, "a function or nil expected");
  lua_settop(L, 3);
  set_state(L, t, k, 2);
  set_state(L, t, kctx, 3);
  set(t, !lua_isnil(L, 2));
  return 0;
}

/* WdfDmaTransactionSetChannelConfigurationCallback(DmaTransaction, ConfigureRoutine, ConfigureContext) */
static int l_SetChannelConfigurationCallback(lua_State *L) {
  return set_callback(L, "configure", "configure_context", dl_wdfdma_txn_set_configure_channel);
}

/* WdfDmaTransactionSetTransferCompleteCallback(DmaTransaction, DmaCompletionRoutine, DmaCompletionContext) */
static int l_SetTransferCompleteCallback(lua_State *L) {
  return set_callback(L, "complete", "complete_context", dl_wdfdma_txn_set_transfer_complete);
}

/* WdfDmaTransactionSetDeviceAddressOffset(DmaTransaction, Offset) */
static int l_SetDeviceAddressOffset(lua_State *L) {
  dl_wdfdma_txn *t = checktxn(L, 1);
  dl_wdfdma_txn_set_device_address_offset(t, (uint64_t)luaL_checkinteger(L, 2));
  return 0;
}

static const luaL_Reg functions[] = {
  {"WDF_DMA_SYSTEM_PROFILE_CONFIG_INIT", l_WDF_DMA_SYSTEM_PROFILE_CONFIG_INIT},
  {"WdfDmaEnablerConfigureSystemProfile", l_WdfDmaEnablerConfigureSystemProfile},
  {"WdfDmaTransactionSetChannelConfigurationCallback", l_SetChannelConfigurationCallback},
  {"WdfDmaTransactionSetTransferCompleteCallback", l_SetTransferCompleteCallback},
  {"WdfDmaTransactionSetDeviceAddressOffset", l_SetDeviceAddressOffset},
  {NULL, NULL}
};

static const struct { const char *name; lua_Integer value; } constants[] = {
  {"DmaComplete", DL_DMA_COMPLETE}, {"DmaAborted", DL_DMA_ABORTED}, {"DmaError", DL_DMA_ERROR},
  {"DmaCancelled", DL_DMA_CANCELLED}, {"CM_RESOURCE_DMA_V3", CM_RESOURCE_DMA_V3},
};

/* Pushes a DMA descriptor for resources.dma.<k> (the table at -1) into the list
** at `list`: u.Dma (ISA) or u.DmaV3 (an SoC request line). */
static void add_dma(lua_State *L, int list) {
  const char *ctrl = (lua_getfield(L, -1, "controller"), lua_tostring(L, -1));
  int v3 = ctrl && strncmp(ctrl, "soc", 3) == 0;
  uint32_t inst = v3 ? (uint32_t)strtoul(ctrl + 3, NULL, 10) : 0;
  lua_pop(L, 1);
  uint64_t ch = int_field(L, "channel"), port = int_field(L, "port"), line = int_field(L, "request_line");
  lua_createtable(L, 0, 5);
  ldl_setint(L, "Type", CM_RESOURCE_TYPE_DMA);
  ldl_setint(L, "ShareDisposition", 1);
  ldl_setint(L, "Flags", v3 ? CM_RESOURCE_DMA_V3 : 0);
  if (v3) ldl_setint(L, "controller", inst);
  lua_createtable(L, 0, 1);
  lua_createtable(L, 0, 3);
  ldl_setint(L, "Channel", (lua_Integer)(v3 ? line : ch));
  if (v3) ldl_setint(L, "RequestLine", (lua_Integer)line);
  else ldl_setint(L, "Port", (lua_Integer)port);
  lua_setfield(L, -2, v3 ? "DmaV3" : "Dma");
  lua_setfield(L, -2, "u");
  lua_rawseti(L, list, (lua_Integer)lua_rawlen(L, list) + 1);
}

/* Appends CmResourceTypeDma descriptors for hw.resources.dma (resources at
** index res) to the descriptor list at index list (tx first, then rx). */
void lwdfsys_add_dma_resources(lua_State *L, int res, int list) {
  res = lua_absindex(L, res);
  list = lua_absindex(L, list);
  if (lua_getfield(L, res, "dma") == LUA_TTABLE) {
    static const char *const dirs[] = {"tx", "rx"};
    for (int i = 0; i < 2; i++) {
      if (lua_getfield(L, -1, dirs[i]) == LUA_TTABLE) add_dma(L, list);
      lua_pop(L, 1);
    }
  }
  lua_pop(L, 1);
}

/* Registers the calls and constants in the module at -1. */
void lwdfsys_open(lua_State *L) {
  luaL_setfuncs(L, functions, 0);
  for (size_t i = 0; i < sizeof constants / sizeof constants[0]; i++) {
    lua_pushinteger(L, constants[i].value);
    lua_setfield(L, -2, constants[i].name);
  }
}
