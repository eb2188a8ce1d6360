/*
** dl_wdftxnctl.c: KMDF DMA transactions, the calls around the state
** machine of dl_wdftxn.c: reservations (reference 2.4: AllocateResources,
** EvtReserveDma, FreeResources) and the other controls (2.5: transfer
** info, maximum length, single transfer, immediate execution, cancel).
*/
#define DL_WDFTXN_SHORT_NAMES
#include "wdf/dl_wdfdma_int.h"

#include "base/dl_status.h"
#include "io/dl_irp.h"
#include "machine/dl_verifier.h"
#include "wdf/dl_wdftxnstate.h"

static uint64_t psize(const dl_wdfdma_txn *t) { return dl_machine_page_size(t->e->m); }

/* ---- reservations (reference 2.4) -------------------------------------------------- */

/* WdfDmaTransactionAllocateResources. */
uint32_t dl_wdfdma_txn_allocate_resources(dl_wdfdma_txn *t, int direction, uint32_t required) {
  const char *call = "WdfDmaTransactionAllocateResources";
  dl_wdfdma_enabler *e = t->e;
  check_irql(t, call);
  if (e->version < 3 || !e->packet) return DL_STATUS_INVALID_DEVICE_REQUEST;
  if (t->reserved) {
    dl_verify_fail(e->m, DL_BUGCHECK_WDF, DL_WDF_DMA_FATAL_ERROR, t->id, (uint64_t)t->state, 0,
                   "%s: WDFDMATRANSACTION#%llu already has a reservation of %u map registers",
                   call, (unsigned long long)t->id, t->reserved);
    return DL_STATUS_INVALID_DEVICE_STATE;
  }
  int column = required ? DL_TXNCALL_ALLOCATE_RESOURCES : DL_TXNCALL_ALLOCATE_RESOURCES_0;
  if (dl_wdftxn_check_state(t, column, call) != DL_TXN_ALLOW) return DL_STATUS_INVALID_DEVICE_STATE;
  int dir = direction ? DL_WDFDMA_WRITE_TO_DEVICE : DL_WDFDMA_READ_FROM_DEVICE;
  if (!required)  /* system DMA reserves every map register it has (ReserveAdapter) */
    required = e->system ? e->nmr[dir] : (uint32_t)chain_regs(t->mdl, t->va, t->length, psize(t));
  if (required > e->nmr[dir]) return DL_STATUS_INVALID_PARAMETER;
  t->direction = dir;
  t->a = e->adapters[dir];
  if (!t->a) return DL_STATUS_INVALID_DEVICE_STATE;  /* a system profile not configured yet */
  if (t->immediate && !grantable_now(t, required, 1)) return DL_STATUS_INSUFFICIENT_RESOURCES;
  forget(t);  /* the MDL is cleared: the driver initializes in EvtReserveDma */
  t->state = DL_TXN_RESERVED;
  t->reserved = required;
  hold(t);
  uint32_t st = request_channel(t, WAIT_RESERVE, required);
  if (st) t->reserved = 0;
  unhold(t);
  return st;
}

/* WdfDmaTransactionFreeResources. */
void dl_wdfdma_txn_free_resources(dl_wdfdma_txn *t) {
  const char *call = "WdfDmaTransactionFreeResources";
  check_irql(t, call);
  if (dl_wdftxn_check_state(t, DL_TXNCALL_FREE_RESOURCES, NULL) != DL_TXN_ALLOW) return;
  if (!t->reserved) return;
  if (t->queued && t->wait_kind == WAIT_RESERVE) {
    unqueue(t);
  } else if (t->pending && t->wait_kind == WAIT_RESERVE) {
    t->drop++;  /* EvtReserveDma will not run */
  } else {
    uint8_t irql = raise_dispatch(t->e->m);
    dl_wdfsys_free_registers(t, t->reserved_base, t->reserved);
    dl_machine_set_irql(t->e->m, irql);
  }
  t->wait_kind = WAIT_NONE;
  t->reserved = 0;
  t->reserved_base = 0;
  dl_wdftxn_kick(t->e);
}

/* ---- other controls (reference 2.5) ---------------------------------------------- */

/* WdfDmaTransactionGetTransferInfo: v3 asks the HAL (exact counts), v2
** gives the worst case Σ SPAN_PAGES over the chain for both. */
void dl_wdfdma_txn_transfer_info(dl_wdfdma_txn *t, uint32_t *map_registers, uint32_t *elements) {
  *map_registers = *elements = 0;
  check_irql(t, "WdfDmaTransactionGetTransferInfo");
  if (dl_wdftxn_check_state(t, DL_TXNCALL_GET_TRANSFER_INFO, NULL) != DL_TXN_ALLOW) return;
  uint32_t worst = (uint32_t)chain_regs(t->mdl, t->va, t->length, psize(t));
  if (t->e->version < 3) {
    *map_registers = *elements = worst;
    return;
  }
  *map_registers = dl_adapter_needs_registers(t->a) ? worst : 0;
  *elements = elements_of(t, t->mdl, t->va, t->length);
}

/* WdfDmaTransactionSetMaximumLength: after Initialize. Each call is
** compared with the enabler's fragment length, not with an earlier call
** (FxDmaTransactionBase::SetMaximumFragmentLength): a smaller value
** replaces the limit, a value at or above it is ignored, and so is 0 (the
** framework would take it and never finish; our choice). */
void dl_wdfdma_txn_set_maximum_length(dl_wdfdma_txn *t, uint64_t length) {
  check_irql(t, "WdfDmaTransactionSetMaximumLength");
  if (dl_wdftxn_check_state(t, DL_TXNCALL_SET_MAXIMUM_LENGTH, NULL) != DL_TXN_ALLOW) return;
  if (length && length < t->e->max_frag[t->direction]) t->max_frag = length;
}

/* WdfDmaTransactionSetSingleTransferRequirement (v3; before Initialize). */
void dl_wdfdma_txn_set_single_transfer(dl_wdfdma_txn *t, int require) {
  const char *call = "WdfDmaTransactionSetSingleTransferRequirement";
  check_irql(t, call);
  if (t->e->version < 3) return;
  if (dl_wdftxn_check_state(t, DL_TXNCALL_SET_SINGLE_TRANSFER, NULL) != DL_TXN_ALLOW) return;
  t->single = require != 0;
}

/* WdfDmaTransactionSetImmediateExecution (v3; not after AllocateResources or Execute). */
void dl_wdfdma_txn_set_immediate(dl_wdfdma_txn *t, int on) {
  const char *call = "WdfDmaTransactionSetImmediateExecution";
  check_irql(t, call);
  if (t->e->version < 3) return;
  if (dl_wdftxn_check_state(t, DL_TXNCALL_SET_IMMEDIATE, NULL) != DL_TXN_ALLOW) return;
  if (t->reserved) {  /* not after AllocateResources, whatever the state */
    dl_wdfdma_wrong_state(t, call, "a state before AllocateResources or Execute");
    return;
  }
  t->immediate = on != 0;
}

/* WdfDmaTransactionCancel (v3): stops a transfer still waiting for its
** registers or list; once EvtProgramDma ran it is too late (FALSE). */
int dl_wdfdma_txn_cancel(dl_wdfdma_txn *t) {
  check_irql(t, "WdfDmaTransactionCancel");
  if (dl_wdftxn_check_state(t, DL_TXNCALL_CANCEL, NULL) != DL_TXN_ALLOW) return 0;
  if (t->e->system && t->state == DL_TXN_TRANSFER && t->mapped) return dl_wdfsys_cancel(t);
  if (t->e->version < 3 || t->state != DL_TXN_TRANSFER || t->wait_kind != WAIT_TRANSFER) return 0;
  if (t->queued) unqueue(t);
  else t->drop++;
  t->wait_kind = WAIT_NONE;
  finish(t, DL_STATUS_CANCELLED);
  dl_wdftxn_kick(t->e);
  return 1;
}

