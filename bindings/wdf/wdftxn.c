/*
** wdftxn.c: KMDF DMA transactions in Lua: WdfDmaTransactionCreate,
** Initialize[UsingRequest], Execute, DmaCompleted[WithLength|Final],
** Release, reservations (AllocateResources / EvtReserveDma /
** FreeResources) and the other controls, and the calls of EvtProgramDma.
**
** EvtProgramDma(Transaction, Device, Context, Direction, SgList) gets, for a
** scatter/gather profile, the SCATTER_GATHER_LIST the adapter built; for
** the packet profile a table of the same shape with its one element
** (SgList.NumberOfElements, SgList.Elements[0].Address / .Length).
*/
#include "base/dl_status.h"
#include "lwdfdma.h"

#define checktxn(L, i) ((dl_wdfdma_txn *)ldl_checkobject(L, i, LDL_WDFDMATRANSACTION, "WDFDMATRANSACTION")->obj)

/* Sets field k of the transaction's state to the value at idx. */
static void set_state(lua_State *L, lmachine *lm, void *t, const char *k, int idx) {
  (void)lm;
  idx = lua_absindex(L, idx);
  lwdf_pushstate(L, t);
  lua_pushvalue(L, idx);
  lua_setfield(L, -2, k);
  lua_pop(L, 1);
}

/* Pushes field k of the transaction's state (nil if none). */
static void get_state(lua_State *L, lmachine *lm, void *t, const char *k) {
  (void)lm;
  lwdf_pushstate(L, t);
  lua_getfield(L, -1, k);
  lua_remove(L, -2);
}

/* ---- the engine's calls into the driver ---------------------------------------------- */

/* Pushes n elements as a list shaped like a SCATTER_GATHER_LIST. */
static void push_packet_list(lua_State *L, const dl_sg_element *el, uint32_t n) {
  lua_createtable(L, 0, 2);
  lua_pushinteger(L, n);
  lua_setfield(L, -2, "NumberOfElements");
  lua_createtable(L, 0, (int)n);
  for (uint32_t i = 0; i < n; i++) {
    lua_createtable(L, 0, 2);
    lua_pushinteger(L, (lua_Integer)el[i].address);
    lua_setfield(L, -2, "Address");
    lua_pushinteger(L, el[i].length);
    lua_setfield(L, -2, "Length");
    lua_rawseti(L, -2, (lua_Integer)i);
  }
  lua_setfield(L, -2, "Elements");
}

/* EvtProgramDma(Transaction, Device, Context, Direction, SgList) -> BOOLEAN (ignored). */
int lwdfdma_program(void *data, dl_wdfdma_txn *t, dl_sglist *sg, const dl_sg_element *el) {
  (void)data;
  dl_wdfdma_enabler *e = dl_wdfdma_txn_enabler(t);
  lmachine *lm = dl_machine_data(dl_wdfdma_enabler_machine(e));
  lua_State *L = lm->L;
  get_state(L, lm, t, "program");
  if (!lua_isfunction(L, -1)) {
    lua_pop(L, 1);
    return 0;
  }
  lwdf_pushhandle(L, t);
  lwdf_pushhandle(L, dl_wdfdma_enabler_device(e));
  get_state(L, lm, t, "context");
  lua_pushinteger(L, dl_wdfdma_txn_direction(t));
  if (sg) {
    ldl_pushmachine(L, dl_wdfdma_enabler_machine(e));
    ldl_pushsglist(L, -1, sg);
    lua_remove(L, -2);
  } else {
    push_packet_list(L, el, dl_wdfdma_txn_program_count(t));
  }
  ldl_where(lm, "EvtProgramDma", "WDFDMATRANSACTION", dl_wdfdma_txn_id(t));
  if (!ldl_callback(L, lm, 5, 1)) return 0;
  int r = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return r;
}

/* EvtReserveDma(Transaction, Context). */
void lwdfdma_reserve(void *data, dl_wdfdma_txn *t) {
  (void)data;
  lmachine *lm = dl_machine_data(dl_wdfdma_enabler_machine(dl_wdfdma_txn_enabler(t)));
  lua_State *L = lm->L;
  get_state(L, lm, t, "reserve");
  if (!lua_isfunction(L, -1)) {
    lua_pop(L, 1);
    return;
  }
  lwdf_pushhandle(L, t);
  get_state(L, lm, t, "reserve_context");
  ldl_callback(L, lm, 2, 0);
}

/* ---- creation and deletion -------------------------------------------------------- */

/* WdfDmaTransactionCreate(DmaEnabler, Attributes) -> status, WDFDMATRANSACTION */
static int l_WdfDmaTransactionCreate(lua_State *L) {
  lobject *h = ldl_checkobject(L, 1, LDL_WDFDMAENABLER, "WDFDMAENABLER");
  lua_settop(L, 2);
  ldl_call c;
  lmachine *lm = lwdfdma_begin_create(L, 1, &c);
  if (!lm) return 1;
  dl_wdfdma_txn *t;
  uint32_t st = dl_wdfdma_txn_create(h->obj, &t);
  ldl_leave(L, &c);
  lua_pushinteger(L, st);
  if (st) return 1;
  lwdf_newobject(L, lm, t, 2);
  set_state(L, lm, t, "enabler", 1);
  return 2;
}

/* ---- Initialize, Execute, completion ------------------------------------------------ */

/* Checks EvtProgramDma at arg and keeps it. */
static void keep_program(lua_State *L, lmachine *lm, dl_wdfdma_txn *t, int arg) {
  luaL_checktype(L, arg, LUA_TFUNCTION);
  set_state(L, lm, t, "program", arg);
}

/* WdfDmaTransactionInitialize(DmaTransaction, EvtProgramDmaFunction,
** DmaDirection, Mdl, VirtualAddress, Length) -> status */
static int l_WdfDmaTransactionInitialize(lua_State *L) {
  dl_wdfdma_txn *t = checktxn(L, 1);
  int dir = lwdfdma_checkdirection(L, 3);
  dl_mdl *mdl = ldl_checkobject(L, 4, LDL_MDL, "MDL")->obj;
  uint64_t va = ldl_checkuint(L, 5), length = ldl_checkuint(L, 6);
  lmachine *lm = lwdfdma_enter(L, 1);
  keep_program(L, lm, t, 2);
  ldl_call call_;
  ldl_enter(L, lm, &call_);
  uint32_t st = dl_wdfdma_txn_initialize(t, dir, mdl, va, length);
  ldl_leave(L, &call_);
  lua_pushnil(L);
  set_state(L, lm, t, "request", -1);
  lua_pushinteger(L, st);
  return 1;
}

/* WdfDmaTransactionInitializeUsingRequest(DmaTransaction, Request,
** EvtProgramDmaFunction, DmaDirection) -> status */
static int l_WdfDmaTransactionInitializeUsingRequest(lua_State *L) {
  dl_wdfdma_txn *t = checktxn(L, 1);
  dl_wdf_request *r = ldl_checkobject(L, 2, LDL_WDFREQUEST, "WDFREQUEST")->obj;
  int dir = lwdfdma_checkdirection(L, 4);
  lmachine *lm = lwdfdma_enter(L, 1);
  keep_program(L, lm, t, 3);
  ldl_call call_;
  ldl_enter(L, lm, &call_);
  uint32_t st = dl_wdfdma_txn_initialize_request(t, r, dir);
  ldl_leave(L, &call_);
  if (st != DL_STATUS_SUCCESS) lua_pushnil(L);
  set_state(L, lm, t, "request", st == DL_STATUS_SUCCESS ? 2 : -1);
  lua_pushinteger(L, st);
  return 1;
}

/* WdfDmaTransactionExecute(DmaTransaction, Context) -> status */
static int l_WdfDmaTransactionExecute(lua_State *L) {
  dl_wdfdma_txn *t = checktxn(L, 1);
  lua_settop(L, 2);
  lmachine *lm = lwdfdma_enter(L, 1);
  set_state(L, lm, t, "context", 2);
  ldl_call call_;
  ldl_enter(L, lm, &call_);
  uint32_t st = dl_wdfdma_txn_execute(t);
  ldl_leave(L, &call_);
  lua_pushinteger(L, st);
  return 1;
}

/* Shared by the three DmaCompleted calls: -> BOOLEAN, status */
static int completed(lua_State *L, int kind) {
  dl_wdfdma_txn *t = checktxn(L, 1);
  uint64_t n = kind == DL_WDFDMA_COMPLETE ? 0 : ldl_checkuint(L, 2);
  lmachine *lm = lwdfdma_enter(L, 1);
  ldl_call call_;
  ldl_enter(L, lm, &call_);
  uint32_t st = 0;
  int done = dl_wdfdma_txn_completed(t, n, kind, &st);
  ldl_leave(L, &call_);
  lua_pushboolean(L, done);
  lua_pushinteger(L, st);
  return 2;
}

/* WdfDmaTransactionDmaCompleted(DmaTransaction) -> BOOLEAN, Status */
static int l_WdfDmaTransactionDmaCompleted(lua_State *L) { return completed(L, DL_WDFDMA_COMPLETE); }

/* WdfDmaTransactionDmaCompletedWithLength(DmaTransaction, TransferredLength) -> BOOLEAN, Status */
static int l_WdfDmaTransactionDmaCompletedWithLength(lua_State *L) {
  return completed(L, DL_WDFDMA_COMPLETE_PARTIAL);
}

/* WdfDmaTransactionDmaCompletedFinal(DmaTransaction, FinalTransferredLength) -> BOOLEAN, Status */
static int l_WdfDmaTransactionDmaCompletedFinal(lua_State *L) {
  return completed(L, DL_WDFDMA_COMPLETE_FINAL);
}

/* Runs a core call on the transaction at 1 with report checking. */
#define CALL(L, t, expr)                      \
  do {                                        \
    ldl_call c_;                              \
    ldl_enter(L, lwdfdma_enter(L, 1), &c_);   \
    expr;                                     \
    ldl_leave(L, &c_);                        \
  } while (0)

/* WdfDmaTransactionRelease(DmaTransaction) -> status */
static int l_WdfDmaTransactionRelease(lua_State *L) {
  dl_wdfdma_txn *t = checktxn(L, 1);
  uint32_t st = 0;
  CALL(L, t, st = dl_wdfdma_txn_release(t));
  if (dl_wdfdma_txn_state(t) == DL_TXN_RELEASED) {  /* the request is no longer the transaction's */
    lua_pushnil(L);
    set_state(L, ((lobject *)lua_touserdata(L, 1))->owner, t, "request", -1);
    lua_pop(L, 1);
  }
  lua_pushinteger(L, st);
  return 1;
}

/* ---- reservations ------------------------------------------------------------------ */

/* WdfDmaTransactionAllocateResources(DmaTransaction, DmaDirection,
** RequiredMapRegisters, EvtReserveDma, EvtReserveDmaContext) -> status */
static int l_WdfDmaTransactionAllocateResources(lua_State *L) {
  dl_wdfdma_txn *t = checktxn(L, 1);
  int dir = lwdfdma_checkdirection(L, 2);
  uint64_t n = ldl_checkuint(L, 3);
  luaL_argcheck(L, n <= UINT32_MAX, 3, "must fit in a ULONG");
  luaL_checktype(L, 4, LUA_TFUNCTION);
  lua_settop(L, 5);
  lmachine *lm = lwdfdma_enter(L, 1);
  set_state(L, lm, t, "reserve", 4);
  set_state(L, lm, t, "reserve_context", 5);
  uint32_t st = 0;
  CALL(L, t, st = dl_wdfdma_txn_allocate_resources(t, dir, (uint32_t)n));
  lua_pushinteger(L, st);
  return 1;
}

/* WdfDmaTransactionFreeResources(DmaTransaction) */
static int l_WdfDmaTransactionFreeResources(lua_State *L) {
  dl_wdfdma_txn *t = checktxn(L, 1);
  CALL(L, t, dl_wdfdma_txn_free_resources(t));
  return 0;
}

/* ---- other controls ----------------------------------------------------------------- */

/* WdfDmaTransactionGetTransferInfo(DmaTransaction) -> MapRegisterCount, ScatterGatherElementCount */
static int l_WdfDmaTransactionGetTransferInfo(lua_State *L) {
  dl_wdfdma_txn *t = checktxn(L, 1);
  uint32_t regs = 0, elements = 0;
  CALL(L, t, dl_wdfdma_txn_transfer_info(t, &regs, &elements));
  lua_pushinteger(L, regs);
  lua_pushinteger(L, elements);
  return 2;
}

/* WdfDmaTransactionSetMaximumLength(DmaTransaction, MaximumLength) */
static int l_WdfDmaTransactionSetMaximumLength(lua_State *L) {
  dl_wdfdma_txn *t = checktxn(L, 1);
  uint64_t n = ldl_checksize(L, 2);
  CALL(L, t, dl_wdfdma_txn_set_maximum_length(t, n));
  return 0;
}

/* WdfDmaTransactionSetSingleTransferRequirement(DmaTransaction, RequireSingleTransfer) */
static int l_WdfDmaTransactionSetSingleTransferRequirement(lua_State *L) {
  dl_wdfdma_txn *t = checktxn(L, 1);
  int require = ldl_checkbool(L, 2);
  CALL(L, t, dl_wdfdma_txn_set_single_transfer(t, require));
  return 0;
}

/* WdfDmaTransactionSetImmediateExecution(DmaTransaction, UseImmediateExecution) */
static int l_WdfDmaTransactionSetImmediateExecution(lua_State *L) {
  dl_wdfdma_txn *t = checktxn(L, 1);
  int on = ldl_checkbool(L, 2);
  CALL(L, t, dl_wdfdma_txn_set_immediate(t, on));
  return 0;
}

/* WdfDmaTransactionCancel(DmaTransaction) -> BOOLEAN */
static int l_WdfDmaTransactionCancel(lua_State *L) {
  dl_wdfdma_txn *t = checktxn(L, 1);
  int r = 0;
  CALL(L, t, r = dl_wdfdma_txn_cancel(t));
  lua_pushboolean(L, r);
  return 1;
}

/* WdfDmaTransactionGetBytesTransferred(DmaTransaction) -> bytes */
static int l_WdfDmaTransactionGetBytesTransferred(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)dl_wdfdma_txn_bytes_transferred(checktxn(L, 1)));
  return 1;
}

/* WdfDmaTransactionGetCurrentDmaTransferLength(DmaTransaction) -> bytes */
static int l_WdfDmaTransactionGetCurrentDmaTransferLength(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)dl_wdfdma_txn_current_length(checktxn(L, 1)));
  return 1;
}

/* WdfDmaTransactionGetRequest(DmaTransaction) -> WDFREQUEST or nil */
static int l_WdfDmaTransactionGetRequest(lua_State *L) {
  dl_wdfdma_txn *t = checktxn(L, 1);
  get_state(L, ((lobject *)lua_touserdata(L, 1))->owner, t, "request");
  return 1;
}

/* WdfDmaTransactionGetDevice(DmaTransaction) -> WDFDEVICE */
static int l_WdfDmaTransactionGetDevice(lua_State *L) {
  dl_wdfdma_txn *t = checktxn(L, 1);
  lwdf_pushhandle(L, dl_wdfdma_enabler_device(dl_wdfdma_txn_enabler(t)));
  return 1;
}

/* txn:state() -> "Created", "Transfer"... (the lab's own) */
static int t_state(lua_State *L) {
  lua_pushstring(L, dl_wdfdma_state_name(dl_wdfdma_txn_state(checktxn(L, 1))));
  return 1;
}

static const luaL_Reg functions[] = {
  {"WdfDmaTransactionCreate", l_WdfDmaTransactionCreate},
  {"WdfDmaTransactionInitialize", l_WdfDmaTransactionInitialize},
  {"WdfDmaTransactionInitializeUsingRequest", l_WdfDmaTransactionInitializeUsingRequest},
  {"WdfDmaTransactionExecute", l_WdfDmaTransactionExecute},
  {"WdfDmaTransactionDmaCompleted", l_WdfDmaTransactionDmaCompleted},
  {"WdfDmaTransactionDmaCompletedWithLength", l_WdfDmaTransactionDmaCompletedWithLength},
  {"WdfDmaTransactionDmaCompletedFinal", l_WdfDmaTransactionDmaCompletedFinal},
  {"WdfDmaTransactionRelease", l_WdfDmaTransactionRelease},
  {"WdfDmaTransactionAllocateResources", l_WdfDmaTransactionAllocateResources},
  {"WdfDmaTransactionFreeResources", l_WdfDmaTransactionFreeResources},
  {"WdfDmaTransactionGetTransferInfo", l_WdfDmaTransactionGetTransferInfo},
  {"WdfDmaTransactionSetMaximumLength", l_WdfDmaTransactionSetMaximumLength},
  {"WdfDmaTransactionSetSingleTransferRequirement", l_WdfDmaTransactionSetSingleTransferRequirement},
  {"WdfDmaTransactionSetImmediateExecution", l_WdfDmaTransactionSetImmediateExecution},
  {"WdfDmaTransactionCancel", l_WdfDmaTransactionCancel},
  {"WdfDmaTransactionGetBytesTransferred", l_WdfDmaTransactionGetBytesTransferred},
  {"WdfDmaTransactionGetCurrentDmaTransferLength", l_WdfDmaTransactionGetCurrentDmaTransferLength},
  {"WdfDmaTransactionGetRequest", l_WdfDmaTransactionGetRequest},
  {"WdfDmaTransactionGetDevice", l_WdfDmaTransactionGetDevice},
  {NULL, NULL}
};

/* Registers the transaction calls, its deleter and txn:state(). */
void lwdfdma_open_txn(lua_State *L) {
  luaL_setfuncs(L, functions, 0);
  luaL_getmetatable(L, LDL_WDFDMATRANSACTION);
  lua_getfield(L, -1, "__methods");
  lua_pushcfunction(L, t_state);
  lua_setfield(L, -2, "state");
  lua_pop(L, 2);
}
