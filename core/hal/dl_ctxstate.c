/*
** dl_ctxstate.c: the DMA transfer context's state table (the version-3
** operations, reference 1.3-1.6; the Driver Verifier DMA checks of 1.7):
** which context calls each state allows, and the report of each one it
** does not.
*/
#include "hal/dl_ctxstate.h"

#include "base/dl_status.h"
#include "machine/dl_verifier.h"

#define A {DL_CTX_ALLOW, 0, 0, 0}
#define NOOP {DL_CTX_NOOP, 0, 0, 0}
#define ELSE {DL_CTX_ELSEWHERE, 0, 0, 0}
#define UNINIT {DL_CTX_REFUSE, DL_VF_MISC, DL_CTX_SUB_UNINIT, DL_STATUS_INVALID_PARAMETER}
#define INUSE {DL_CTX_REFUSE, DL_VF_MISC, DL_CTX_SUB_IN_USE, DL_STATUS_INVALID_PARAMETER}
#define REINIT {DL_CTX_REFUSE, DL_VF_MISC, DL_CTX_SUB_INIT_IN_USE, DL_STATUS_INVALID_PARAMETER}
#define CANCELLED {DL_CTX_STATUS, 0, 0, DL_STATUS_CANCELLED}
#define BADCTX {DL_CTX_STATUS, 0, 0, DL_STATUS_INVALID_PARAMETER}
#define EARLY {DL_CTX_FORCE, DL_VF_ILLEGAL_CHANNEL_FLUSH, 0, 0}  /* 0x23 */

/* table[row][call]. A context serves one allocation at a time and is
** initialised again only when none holds it ("unique across all adapter
** allocation requests"); a cancelled one refuses every later allocation
** and transfer under it ("preventing any further transfers under this
** context") until initialised again, but its mapping is still flushed and
** freed. A system transfer is flushed once it completed or was cancelled
** (CancelMappedTransfer); earlier is 0x23, and the flush stops it. CancelAdapterChannel withdraws a waiting allocation, or cancels
** the later ones while nothing was granted; once something was, it answers
** FALSE. MapTransferEx, the flush and the frees reach a context only
** through a base granted under it. */
static const dl_ctx_cell table[DL_CTXROW_COUNT][DL_CTXCALL_COUNT] = {
  /*                  Init    Alloc      GetSG      Map        Flush CancelCh CancelMap Free  Destroy */
  /* uninit      */ { A,      UNINIT,    UNINIT,    ELSE,      ELSE, NOOP,    BADCTX,   ELSE, A },
  /* ready       */ { A,      A,         A,         ELSE,      ELSE, A,       A,        ELSE, A },
  /* pending     */ { REINIT, INUSE,     INUSE,     ELSE,      ELSE, A,       A,        ELSE, A },
  /* granted     */ { REINIT, INUSE,     INUSE,     A,         A,    NOOP,    A,        A,    A },
  /* mapped      */ { REINIT, INUSE,     INUSE,     A,         A,    NOOP,    A,        A,    A },
  /* in flight   */ { REINIT, INUSE,     INUSE,     A,         EARLY, NOOP,   A,        A,    A },
  /* released    */ { A,      A,         A,         ELSE,      ELSE, NOOP,    A,        ELSE, A },
  /* cancelled   */ { A,      CANCELLED, CANCELLED, ELSE,      ELSE, A,       A,        ELSE, A },
  /* cancelled, held */
                    { REINIT, INUSE,     INUSE,     CANCELLED, A,    NOOP,    A,        A,    A },
  /* cancelled, done */
                    { A,      CANCELLED, CANCELLED, ELSE,      ELSE, NOOP,    A,        ELSE, A },
};

static const char *const row_names[DL_CTXROW_COUNT] = {
  "not initialised", "initialised, nothing asked", "waiting for the channel or map registers",
  "holding its allocation, nothing mapped", "holding its allocation, a MapTransferEx not flushed",
  "running a system transfer (neither completed nor cancelled)",
  "its allocation freed", "cancelled before a grant", "cancelled, holding its allocation",
  "cancelled, its allocation freed",
};

static const char *const call_names[DL_CTXCALL_COUNT] = {
  "InitializeDmaTransferContext", "AllocateAdapterChannelEx", "GetScatterGatherListEx",
  "MapTransferEx", "FlushAdapterBuffersEx", "CancelAdapterChannel", "CancelMappedTransfer",
  "FreeAdapterObject", "DMA_TRANSFER_CONTEXT teardown",
};

dl_ctx_cell dl_ctx_cell_at(int row, int call) {
  if (row < 0 || row >= DL_CTXROW_COUNT || call < 0 || call >= DL_CTXCALL_COUNT)
    return (dl_ctx_cell){DL_CTX_REFUSE, 0, 0, DL_STATUS_INVALID_PARAMETER};
  return table[row][call];
}

const char *dl_ctx_row_name(int row) {
  return row >= 0 && row < DL_CTXROW_COUNT ? row_names[row] : "?";
}

const char *dl_ctx_call_name(int call) {
  return call >= 0 && call < DL_CTXCALL_COUNT ? call_names[call] : "?";
}

/* The report of the context's own refusals: 0x00, P3 the rule. */
static void report_misc(dl_machine *m, int row, dl_ctx_cell c, const dl_ctx_args *x,
                        const char *name) {
  if (c.sub == DL_CTX_SUB_UNINIT)
    dl_verify_fail(m, DL_BUGCHECK_DMA, c.p1, x->adapter_id, c.sub, 0,
                   "%s: the DMA transfer context was not initialised by "
                   "InitializeDmaTransferContext", name);
  else if (c.sub == DL_CTX_SUB_IN_USE)
    dl_verify_fail(m, DL_BUGCHECK_DMA, c.p1, x->adapter_id, c.sub, 0,
                   "%s: the DMA transfer context is in use by an earlier allocation (it must "
                   "be unique across all adapter allocation requests)", name);
  else
    dl_verify_fail(m, DL_BUGCHECK_DMA, c.p1, x->adapter_id, c.sub, 0,
                   "%s: the context is in use (an allocation %s)", name,
                   row == DL_CTXROW_PENDING ? "is pending" : "holds the channel, registers or a list");
}

/* Consults the table once; a refused call is report 0xE6 with the cell's
** P1 (0x00: P2 the adapter, P3 the rule; 0x23: P2 0, "illegal channel
** flush", P3 the controller, P4 the channel, as the 0xE6 page gives). */
dl_ctx_cell dl_ctxstate_check(dl_machine *m, int row, int call, const dl_ctx_args *x) {
  dl_ctx_cell c = dl_ctx_cell_at(row, call);
  if (c.kind != DL_CTX_REFUSE && c.kind != DL_CTX_FORCE) return c;
  const char *name = x->name ? x->name : dl_ctx_call_name(call);
  if (c.p1 == DL_VF_ILLEGAL_CHANNEL_FLUSH)
    dl_verify_fail(m, DL_BUGCHECK_DMA, c.p1, 0, x->controller, x->channel,
                   "%s: the system DMA transfer on channel %llu of controller %llu has neither "
                   "completed nor been cancelled (CancelMappedTransfer before an early flush)",
                   name, (unsigned long long)x->channel, (unsigned long long)x->controller);
  else
    report_misc(m, row, c, x, name);
  return c;
}
