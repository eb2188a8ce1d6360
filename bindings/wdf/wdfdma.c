/*
** wdfdma.c: KMDF DMA enablers and common buffers in Lua
** (WDF_DMA_ENABLER_CONFIG_INIT, WdfDmaEnablerCreate and its accessors,
** WdfCommonBufferCreate[WithConfig]), the enabler power callbacks, the
** lab's m:wdf_fail_allocations(n), and the teardown of a machine's DMA
** objects before its framework devices. Transactions are in wdftxn.c.
*/
#include <limits.h>
#include <string.h>

#include "base/dl_status.h"
#include "lwdfdma.h"

#define MACHINES_KEY "dma.wdfdma.machines"  /* machine handle -> {fail} (weak keys) */

static const char *const config_fields[] = {
  "Profile", "MaximumLength", "WdmDmaVersionOverride", "Flags", "AddressWidthOverride",
  "EvtDmaEnablerFill", "EvtDmaEnablerFlush", "EvtDmaEnablerEnable", "EvtDmaEnablerDisable",
  "EvtDmaEnablerSelfManagedIoStart", "EvtDmaEnablerSelfManagedIoStop", "Size", NULL
};

/* ---- shared helpers ------------------------------------------------------------ */

/* The machine handle of the object at arg. */
lmachine *lwdfdma_enter(lua_State *L, int arg) { return ((lobject *)lua_touserdata(L, arg))->owner; }

/* Starts a creation: the injected failure, or the bracket. */
lmachine *lwdfdma_begin_create(lua_State *L, int arg, ldl_call *c) {
  lmachine *lm = lwdfdma_enter(L, arg);
  if (lwdfdma_fail_creation(L, lm)) {
    lua_pushinteger(L, DL_STATUS_INSUFFICIENT_RESOURCES);
    return NULL;
  }
  ldl_enter(L, lm, c);
  return lm;
}

/* Pushes the DMA table of the machine lm (created on first use). */
static void push_machine_table(lua_State *L, lmachine *lm) {
  if (luaL_getsubtable(L, LUA_REGISTRYINDEX, MACHINES_KEY) == 0) {
    lua_createtable(L, 0, 1);
    lua_pushliteral(L, "k");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
  }
  ldl_pushmachine(L, lm->m);
  if (lua_rawget(L, -2) != LUA_TTABLE) {
    lua_pop(L, 1);
    lua_createtable(L, 0, 1);
    ldl_pushmachine(L, lm->m);
    lua_pushvalue(L, -2);
    lua_rawset(L, -4);
  }
  lua_remove(L, -2);
}

/* Fault injection: consumes one of the creations m:wdf_fail_allocations asked to fail. */
int lwdfdma_fail_creation(lua_State *L, lmachine *lm) {
  push_machine_table(L, lm);
  lua_Integer n = (lua_getfield(L, -1, "fail"), lua_tointeger(L, -1));
  lua_pop(L, 1);
  if (n > 0) {
    lua_pushinteger(L, n - 1);
    lua_setfield(L, -2, "fail");
  }
  lua_pop(L, 1);
  return n > 0;
}

/* A WDF_DMA_DIRECTION: WdfDmaDirectionReadFromDevice (0) or ...WriteToDevice (1). */
int lwdfdma_checkdirection(lua_State *L, int arg) {
  if (lua_isboolean(L, arg)) return lua_toboolean(L, arg);
  lua_Integer v = luaL_checkinteger(L, arg);
  luaL_argcheck(L, v == 0 || v == 1, arg,
                "WdfDmaDirectionReadFromDevice or WdfDmaDirectionWriteToDevice expected");
  return (int)v;
}

#define checkenabler(L, i) ((dl_wdfdma_enabler *)ldl_checkobject(L, i, LDL_WDFDMAENABLER, "WDFDMAENABLER")->obj)
#define checkcommon(L, i) ((dl_wdfdma_common *)ldl_checkobject(L, i, LDL_WDFCOMMONBUFFER, "WDFCOMMONBUFFER")->obj)

/* ---- the engine's calls into the driver ------------------------------------------ */

/* An enabler power callback: EvtDmaEnablerXxx(DmaEnabler) -> NTSTATUS. */
static uint32_t on_power(void *data, dl_wdfdma_enabler *e, int cb) {
  (void)data;
  lmachine *lm = dl_machine_data(dl_wdfdma_enabler_machine(e));
  lua_State *L = lm->L;
  if (!DL_OBJECT(e)->data) return DL_STATUS_SUCCESS;  /* no handle yet: being created */
  lwdf_pushstate(L, e);
  if (lua_getfield(L, -1, "config") != LUA_TTABLE) {
    lua_pop(L, 2);
    return DL_STATUS_SUCCESS;
  }
  lua_getfield(L, -1, dl_wdfdma_callback_name(cb));
  lwdf_pushhandle(L, e);
  uint32_t st = DL_STATUS_UNSUCCESSFUL;
  if (ldl_callback(L, lm, 1, 1)) {
    int ok = 0;
    lua_Integer v = lua_tointegerx(L, -1, &ok);
    if (ok) st = (uint32_t)v;
    else if (lm->error == LUA_NOREF) {
      lua_pushfstring(L, "%s must return an NTSTATUS", dl_wdfdma_callback_name(cb));
      lm->error = luaL_ref(L, LUA_REGISTRYINDEX);
    }
    lua_pop(L, 1);
  }
  lua_pop(L, 2);
  return st;
}

const dl_wdfdma_ops lwdfdma_ops = {lwdfdma_program, lwdfdma_reserve, on_power,
                                   lwdfsys_configure_channel, lwdfsys_transfer_complete};

/* ---- enablers -------------------------------------------------------------------- */

/* WDF_DMA_ENABLER_CONFIG_INIT(Profile, MaximumLength) -> WDF_DMA_ENABLER_CONFIG */
static int l_WDF_DMA_ENABLER_CONFIG_INIT(lua_State *L) {
  lua_Integer profile = luaL_checkinteger(L, 1);
  uint64_t maxlen = ldl_checksize(L, 2);
  lua_createtable(L, 0, 6);
  lua_pushinteger(L, profile);
  lua_setfield(L, -2, "Profile");
  lua_pushinteger(L, (lua_Integer)maxlen);
  lua_setfield(L, -2, "MaximumLength");
  const char *zero[] = {"WdmDmaVersionOverride", "Flags", "AddressWidthOverride"};
  for (int i = 0; i < 3; i++) {
    lua_pushinteger(L, 0);
    lua_setfield(L, -2, zero[i]);
  }
  return 1;
}

/* Reads an integer field of the config (nil: 0). */
static uint64_t config_int(lua_State *L, int arg, const char *name) {
  lua_getfield(L, arg, name);
  uint64_t v = 0;
  if (lua_type(L, -1) == LUA_TSTRING) {
    if (!ldl_parsesize(lua_tostring(L, -1), &v))
      luaL_argerror(L, arg, lua_pushfstring(L, "WDF_DMA_ENABLER_CONFIG.%s must be an integer", name));
  } else if (!lua_isnil(L, -1)) {
    luaL_argcheck(L, lua_isinteger(L, -1) && lua_tointeger(L, -1) >= 0, arg,
                  lua_pushfstring(L, "WDF_DMA_ENABLER_CONFIG.%s must be a non-negative integer", name));
    v = (uint64_t)lua_tointeger(L, -1);
  }
  lua_pop(L, 1);
  return v;
}

/* Reads a WDF_DMA_ENABLER_CONFIG table; unknown fields are errors (typos). */
static void read_config(lua_State *L, int arg, dl_wdfdma_config *c) {
  luaL_checktype(L, arg, LUA_TTABLE);
  ldl_checkfields(L, arg, "WDF_DMA_ENABLER_CONFIG has no field '%s' (%s)", config_fields);
  memset(c, 0, sizeof *c);
  c->profile = (int)config_int(L, arg, "Profile");
  c->maximum_length = config_int(L, arg, "MaximumLength");
  c->version_override = (uint32_t)config_int(L, arg, "WdmDmaVersionOverride");
  c->flags = (uint32_t)config_int(L, arg, "Flags");
  c->address_width_override = (uint32_t)config_int(L, arg, "AddressWidthOverride");
  for (int cb = 0; cb < DL_WDFDMA_EVT_COUNT; cb++) {
    int t = lua_getfield(L, arg, dl_wdfdma_callback_name(cb));
    luaL_argcheck(L, t == LUA_TNIL || t == LUA_TFUNCTION, arg,
                  lua_pushfstring(L, "%s must be a function", dl_wdfdma_callback_name(cb)));
    if (t == LUA_TFUNCTION) c->callbacks |= 1u << cb;
    lua_pop(L, 1);
  }
}

/* WdfDmaEnablerCreate(Device, Config, Attributes) -> status, WDFDMAENABLER */
static int l_WdfDmaEnablerCreate(lua_State *L) {
  lobject *dev = ldl_checkobject(L, 1, LDL_WDFDEVICE, "WDFDEVICE");
  dl_wdfdma_config c;
  read_config(L, 2, &c);
  lua_settop(L, 3);
  ldl_call call;
  lmachine *lm = lwdfdma_begin_create(L, 1, &call);
  if (!lm) return 1;
  dl_wdfdma_enabler *e;
  uint32_t st = dl_wdfdma_enabler_create(dev->obj, &c, &lwdfdma_ops, &e);
  ldl_leave(L, &call);
  lua_pushinteger(L, st);
  if (st) return 1;
  lwdf_newobject(L, lm, e, 3);
  lwdf_keep(L, "config", 2, "device", 1);
  return 2;
}

/* WdfDmaEnablerGetMaximumLength(DmaEnabler) -> length */
static int l_WdfDmaEnablerGetMaximumLength(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)dl_wdfdma_enabler_maximum_length(checkenabler(L, 1)));
  return 1;
}

/* WdfDmaEnablerGetMaximumScatterGatherElements(DmaEnabler) -> count */
static int l_WdfDmaEnablerGetMaximumScatterGatherElements(lua_State *L) {
  lua_pushinteger(L, dl_wdfdma_enabler_max_sg_elements(checkenabler(L, 1)));
  return 1;
}

/* WdfDmaEnablerSetMaximumScatterGatherElements(DmaEnabler, MaximumFragments) */
static int l_WdfDmaEnablerSetMaximumScatterGatherElements(lua_State *L) {
  dl_wdfdma_enabler *e = checkenabler(L, 1);
  uint64_t n = ldl_checkuint(L, 2);
  luaL_argcheck(L, n <= UINT32_MAX, 2, "must fit in a ULONG");
  ldl_call c;
  ldl_enter(L, lwdfdma_enter(L, 1), &c);
  dl_wdfdma_enabler_set_max_sg_elements(e, (uint32_t)n);
  ldl_leave(L, &c);
  return 0;
}

/* WdfDmaEnablerGetFragmentLength(DmaEnabler, DmaDirection) -> length (0 for
** an invalid direction, which is any other integer) */
static int l_WdfDmaEnablerGetFragmentLength(lua_State *L) {
  dl_wdfdma_enabler *e = checkenabler(L, 1);
  lua_Integer d = lua_isboolean(L, 2) ? lua_toboolean(L, 2) : luaL_checkinteger(L, 2);
  int direction = d < INT_MIN || d > INT_MAX ? -1 : (int)d;  /* core says which are valid */
  lua_pushinteger(L, (lua_Integer)dl_wdfdma_enabler_fragment_length(e, direction));
  return 1;
}

/* WdfDmaEnablerWdmGetDmaAdapter(DmaEnabler, DmaDirection) -> DMA_ADAPTER */
static int l_WdfDmaEnablerWdmGetDmaAdapter(lua_State *L) {
  dl_wdfdma_enabler *e = checkenabler(L, 1);
  dl_adapter *a = dl_wdfdma_enabler_adapter(e, lwdfdma_checkdirection(L, 2));
  ldl_pushobject(L, LDL_ADAPTER, DL_OBJECT(a));
  return 1;
}

/* ---- common buffers ---------------------------------------------------------------- */

/* WDF_COMMON_BUFFER_CONFIG_INIT(AlignmentRequirement) -> WDF_COMMON_BUFFER_CONFIG */
static int l_WDF_COMMON_BUFFER_CONFIG_INIT(lua_State *L) {
  uint64_t align = ldl_checkuint(L, 1);
  lua_createtable(L, 0, 1);
  lua_pushinteger(L, (lua_Integer)align);
  lua_setfield(L, -2, "AlignmentRequirement");
  return 1;
}

/* Shared by WdfCommonBufferCreate[WithConfig]. */
static int create_common(lua_State *L, uint64_t alignment, int attributes) {
  dl_wdfdma_enabler *e = checkenabler(L, 1);
  uint64_t length = ldl_checksize(L, 2);
  luaL_argcheck(L, alignment <= UINT32_MAX, 3, "AlignmentRequirement must fit in a ULONG");
  ldl_call c;
  lmachine *lm = lwdfdma_begin_create(L, 1, &c);
  if (!lm) return 1;
  dl_wdfdma_common *cb;
  uint32_t st = dl_wdfdma_common_create(e, length, (uint32_t)alignment, &cb);
  ldl_leave(L, &c);
  lua_pushinteger(L, st);
  if (st) return 1;
  lwdf_newobject(L, lm, cb, attributes);
  return 2;
}

/* WdfCommonBufferCreate(DmaEnabler, Length, Attributes) -> status, WDFCOMMONBUFFER;
** aligned to the device's alignment requirement. */
static int l_WdfCommonBufferCreate(lua_State *L) {
  lua_settop(L, 3);
  dl_wdfdma_enabler *e = checkenabler(L, 1);
  return create_common(L, dl_wdf_device_alignment(dl_wdfdma_enabler_device(e)), 3);
}

/* WdfCommonBufferCreateWithConfig(DmaEnabler, Length, Config, Attributes)
** -> status, WDFCOMMONBUFFER */
static int l_WdfCommonBufferCreateWithConfig(lua_State *L) {
  lua_settop(L, 4);
  luaL_checktype(L, 3, LUA_TTABLE);
  static const char *const fields[] = {"Size", "AlignmentRequirement", NULL};  /* wdfcommonbuffer.h */
  ldl_checkfields(L, 3, "WDF_COMMON_BUFFER_CONFIG has no field '%s' (%s)", fields);
  lua_getfield(L, 3, "AlignmentRequirement");
  lua_Integer align = luaL_optinteger(L, -1, 0);
  luaL_argcheck(L, align >= 0, 3, "AlignmentRequirement must not be negative");
  lua_pop(L, 1);
  return create_common(L, (uint64_t)align, 4);
}

/* The common buffer's properties: WdfCommonBufferGetAlignedVirtualAddress,
** ...GetAlignedLogicalAddress, ...GetLength(CommonBuffer) -> integer, each
** a closure over its core accessor. */
static const struct common_getter {
  const char *name;
  uint64_t (*get)(const dl_wdfdma_common *cb);
} common_getters[] = {
  {"WdfCommonBufferGetAlignedVirtualAddress", dl_wdfdma_common_va},
  {"WdfCommonBufferGetAlignedLogicalAddress", dl_wdfdma_common_logical},
  {"WdfCommonBufferGetLength", dl_wdfdma_common_length},
};

static int common_get(lua_State *L) {
  const struct common_getter *g = lua_touserdata(L, lua_upvalueindex(1));
  lua_pushinteger(L, (lua_Integer)g->get(checkcommon(L, 1)));
  return 1;
}

/* ---- the lab's own ----------------------------------------------------------------- */

/* m:wdf_fail_allocations(n): the next n creations of KMDF DMA objects
** (WdfDmaEnablerCreate, WdfDmaTransactionCreate, WdfCommonBufferCreate...)
** fail with STATUS_INSUFFICIENT_RESOURCES, as under low memory. */
static int m_wdf_fail_allocations(lua_State *L) {
  lmachine *lm = ldl_checkmachine(L, 1);
  lua_Integer n = luaL_checkinteger(L, 2);
  luaL_argcheck(L, n >= 0, 2, "must not be negative");
  push_machine_table(L, lm);
  lua_pushinteger(L, n);
  lua_setfield(L, -2, "fail");
  return 0;
}

/* ---- registration ------------------------------------------------------------------ */

/* __tostring of the three classes. */
static int dma_tostring(lua_State *L) {
  lobject *h = lua_touserdata(L, 1);
  if (!h->owner->m || !h->obj) return lwdf_tostring(L);
  if (ldl_testclass(L, 1, LDL_WDFDMAENABLER)) {
    dl_wdfdma_enabler *e = h->obj;
    lua_pushfstring(L, "WDFDMAENABLER#%I profile=%d v%d max_length=%I fragment=%I",
                    (lua_Integer)dl_wdfdma_enabler_id(e), dl_wdfdma_enabler_profile(e),
                    (int)dl_wdfdma_enabler_version(e), (lua_Integer)dl_wdfdma_enabler_maximum_length(e),
                    (lua_Integer)dl_wdfdma_enabler_fragment_length(e, 0));
  } else if (ldl_testclass(L, 1, LDL_WDFDMATRANSACTION)) {
    dl_wdfdma_txn *t = h->obj;
    lua_pushfstring(L, "WDFDMATRANSACTION#%I %s transferred=%I", (lua_Integer)dl_wdfdma_txn_id(t),
                    dl_wdfdma_state_name(dl_wdfdma_txn_state(t)),
                    (lua_Integer)dl_wdfdma_txn_bytes_transferred(t));
  } else {
    dl_wdfdma_common *cb = h->obj;
    lua_pushfstring(L, "WDFCOMMONBUFFER va=%p logical=%p length=%I",
                    (void *)(uintptr_t)dl_wdfdma_common_va(cb),
                    (void *)(uintptr_t)dl_wdfdma_common_logical(cb), (lua_Integer)dl_wdfdma_common_length(cb));
  }
  return 1;
}

static const luaL_Reg meta[] = {
  {"__tostring", dma_tostring},
  {NULL, NULL}
};

static const luaL_Reg functions[] = {
  {"WDF_DMA_ENABLER_CONFIG_INIT", l_WDF_DMA_ENABLER_CONFIG_INIT},
  {"WdfDmaEnablerCreate", l_WdfDmaEnablerCreate},
  {"WdfDmaEnablerGetMaximumLength", l_WdfDmaEnablerGetMaximumLength},
  {"WdfDmaEnablerGetMaximumScatterGatherElements", l_WdfDmaEnablerGetMaximumScatterGatherElements},
  {"WdfDmaEnablerSetMaximumScatterGatherElements", l_WdfDmaEnablerSetMaximumScatterGatherElements},
  {"WdfDmaEnablerGetFragmentLength", l_WdfDmaEnablerGetFragmentLength},
  {"WdfDmaEnablerWdmGetDmaAdapter", l_WdfDmaEnablerWdmGetDmaAdapter},
  {"WDF_COMMON_BUFFER_CONFIG_INIT", l_WDF_COMMON_BUFFER_CONFIG_INIT},
  {"WdfCommonBufferCreate", l_WdfCommonBufferCreate},
  {"WdfCommonBufferCreateWithConfig", l_WdfCommonBufferCreateWithConfig},
  {NULL, NULL}
};

static const luaL_Reg machine_methods[] = {
  {"wdf_fail_allocations", m_wdf_fail_allocations},
  {NULL, NULL}
};

/* (STATUS_WDF_* come with the other NTSTATUS values from base/dl_ntstatus.h.) */
static const dl_wdk_value constants[] = {
  {"WdfDmaProfileInvalid", DL_WDFDMA_PROFILE_INVALID}, {"WdfDmaProfilePacket", DL_WDFDMA_PACKET},
  {"WdfDmaProfileScatterGather", DL_WDFDMA_SCATTER_GATHER},
  {"WdfDmaProfilePacket64", DL_WDFDMA_PACKET64},
  {"WdfDmaProfileScatterGather64", DL_WDFDMA_SCATTER_GATHER64},
  {"WdfDmaProfileScatterGatherDuplex", DL_WDFDMA_SCATTER_GATHER_DUPLEX},
  {"WdfDmaProfileScatterGather64Duplex", DL_WDFDMA_SCATTER_GATHER64_DUPLEX},
  {"WdfDmaProfileSystem", DL_WDFDMA_SYSTEM}, {"WdfDmaProfileSystemDuplex", DL_WDFDMA_SYSTEM_DUPLEX},
  {"WdfDmaDirectionReadFromDevice", DL_WDFDMA_READ_FROM_DEVICE},
  {"WdfDmaDirectionWriteToDevice", DL_WDFDMA_WRITE_TO_DEVICE},
  {"WDF_DMA_ENABLER_CONFIG_NO_SGLIST_PREALLOCATION", DL_WDFDMA_NO_SGLIST_PREALLOCATION},
  {"WDF_DMA_ENABLER_CONFIG_REQUIRE_SINGLE_TRANSFER", DL_WDFDMA_REQUIRE_SINGLE_TRANSFER},
};

/* Registers the KMDF DMA classes, calls, constants, deleters and machine
** method in the module at -1 (after ldl_open_wdf, whose close it wraps). */
void ldl_open_wdfdma(lua_State *L) {
  lwdf_newclass(L, LDL_WDFDMAENABLER, meta, ldl_no_methods);
  lwdf_newclass(L, LDL_WDFDMATRANSACTION, meta, ldl_no_methods);
  lwdf_newclass(L, LDL_WDFCOMMONBUFFER, meta, ldl_no_methods);
  luaL_setfuncs(L, functions, 0);
  for (size_t i = 0; i < sizeof common_getters / sizeof common_getters[0]; i++) {
    lua_pushlightuserdata(L, (void *)&common_getters[i]);
    lua_pushcclosure(L, common_get, 1);
    lua_setfield(L, -2, common_getters[i].name);
  }
  ldl_setvalues(L, constants, sizeof constants / sizeof constants[0]);
  ldl_addmethods(L, LDL_MACHINE, machine_methods);
  lwdfdma_open_txn(L);
  lwdfsys_open(L);  /* the System profiles (wdfsys.c) */
}
