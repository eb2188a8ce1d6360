/*
** dl_wdftxnstate.c: the transaction state table (reference 2.2-2.5): what
** each WdfDmaTransaction* call may do in each state. The cells follow the
** framework (FxDmaTransactionBase and its Verifier checks); where the
** framework has no check and would corrupt itself, the call is refused
** (DmaCompleted* before EvtProgramDma).
*/
#define DL_WDFTXN_SHORT_NAMES
#include "wdf/dl_wdftxnstate.h"

#include <stdio.h>

#include "machine/dl_verifier.h"
#include "wdf/dl_wdfdma_int.h"

#define A DL_TXN_ALLOW
#define R DL_TXN_REFUSE
#define N DL_TXN_NOOP

/* table[row][call]. Columns: Initialize, Execute, DmaCompleted*, Release,
** AllocateResources(n), AllocateResources(0), FreeResources,
** GetTransferInfo, SetMaximumLength, SetSingleTransferRequirement,
** SetImmediateExecution, Cancel, Delete. */
static const unsigned char table[DL_TXNROW_COUNT][DL_TXNCALL_COUNT] = {
  /*                    Ini Exe Cmp Rel AlN Al0 Fre Inf Max Sgl Imm Can Del */
  /* Created        */ { A,  R,  R,  A,  A,  R,  R,  R,  R,  A,  A,  R,  A },
  /* Reserved       */ { A,  R,  R,  A,  R,  R,  A,  R,  R,  A,  R,  A,  A },
  /* Initialized    */ { R,  A,  R,  A,  A,  A,  A,  A,  A,  R,  A,  A,  A },
  /* Transfer, wait */ { R,  R,  R,  R,  R,  R,  R,  R,  R,  R,  R,  A,  R },
  /* Transfer, prog */ { R,  R,  A,  R,  R,  R,  R,  R,  R,  R,  R,  A,  R },
  /* TransferCompl. */ { R,  R,  R,  A,  R,  R,  A,  R,  R,  R,  A,  A,  A },
  /* TransferFailed */ { R,  R,  R,  A,  R,  R,  A,  R,  R,  R,  A,  A,  A },
  /* Released       */ { A,  R,  R,  N,  A,  R,  A,  R,  R,  A,  A,  R,  A },
  /* Deleted        */ { R,  R,  R,  R,  R,  R,  R,  R,  R,  R,  R,  R,  N },
};

static const char *const row_names[DL_TXNROW_COUNT] = {
  "Created", "Reserved", "Initialized", "Transfer (waiting for the adapter, not programmed)",
  "Transfer (programmed)", "TransferCompleted", "TransferFailed", "Released", "Deleted",
};

static const char *const call_names[DL_TXNCALL_COUNT] = {
  "WdfDmaTransactionInitialize", "WdfDmaTransactionExecute", "WdfDmaTransactionDmaCompleted",
  "WdfDmaTransactionRelease", "WdfDmaTransactionAllocateResources",
  "WdfDmaTransactionAllocateResources(0)", "WdfDmaTransactionFreeResources",
  "WdfDmaTransactionGetTransferInfo", "WdfDmaTransactionSetMaximumLength",
  "WdfDmaTransactionSetSingleTransferRequirement", "WdfDmaTransactionSetImmediateExecution",
  "WdfDmaTransactionCancel", "WdfObjectDelete(WDFDMATRANSACTION)",
};

/* The row of t. */
int dl_wdftxn_row(const dl_wdfdma_txn *t) {
  switch (t->state) {
    case DL_TXN_CREATED: return DL_TXNROW_CREATED;
    case DL_TXN_RESERVED: return DL_TXNROW_RESERVED;
    case DL_TXN_INITIALIZED: return DL_TXNROW_INITIALIZED;
    case DL_TXN_TRANSFER:
      return t->wait_kind == WAIT_TRANSFER ? DL_TXNROW_TRANSFER_WAITING : DL_TXNROW_TRANSFER_PROGRAMMED;
    case DL_TXN_TRANSFER_COMPLETED: return DL_TXNROW_TRANSFER_COMPLETED;
    case DL_TXN_TRANSFER_FAILED: return DL_TXNROW_TRANSFER_FAILED;
    case DL_TXN_RELEASED: return DL_TXNROW_RELEASED;
    default: return DL_TXNROW_DELETED;
  }
}

/* The table's cell. */
int dl_wdftxn_cell(int row, int call) {
  if (row < 0 || row >= DL_TXNROW_COUNT || call < 0 || call >= DL_TXNCALL_COUNT) return DL_TXN_REFUSE;
  return table[row][call];
}

const char *dl_wdftxn_row_name(int row) {
  return row >= 0 && row < DL_TXNROW_COUNT ? row_names[row] : "?";
}

const char *dl_wdftxn_call_name(int call) {
  return call >= 0 && call < DL_TXNCALL_COUNT ? call_names[call] : "?";
}

/* "A, B or C": the rows where call is allowed (a no-op counts). */
static void allowed_rows(int call, char *out, size_t size) {
  int rows[DL_TXNROW_COUNT], n = 0;
  for (int r = 0; r < DL_TXNROW_COUNT; r++)
    if (table[r][call] != DL_TXN_REFUSE) rows[n++] = r;
  size_t used = 0;
  out[0] = '\0';
  for (int i = 0; i < n && used < size; i++) {
    const char *sep = i == 0 ? "" : i == n - 1 ? " or " : ", ";
    int w = snprintf(out + used, size - used, "%s%s", sep, row_names[rows[i]]);
    if (w < 0) break;
    used += (size_t)w;
  }
  if (n == 0) snprintf(out, size, "no state");
}

/* Consults the table once; a refused call is report 0x10D/0x8. */
int dl_wdftxn_check_state(dl_wdfdma_txn *t, int call, const char *name) {
  int row = dl_wdftxn_row(t);
  int cell = dl_wdftxn_cell(row, call);
  if (cell != DL_TXN_REFUSE) return cell;
  char allowed[256];
  allowed_rows(call, allowed, sizeof allowed);
  dl_verify_fail(t->e->m, DL_BUGCHECK_WDF, DL_WDF_DMA_FATAL_ERROR, t->id, (uint64_t)t->state, 0,
                 "%s: WDFDMATRANSACTION#%llu is in state %s; allowed in %s",
                 name ? name : call_names[call], (unsigned long long)t->id, row_names[row], allowed);
  return cell;
}
