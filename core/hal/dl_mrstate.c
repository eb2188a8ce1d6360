/*
** dl_mrstate.c: the MapRegisterBase's state table (reference 1.4-1.6, the
** Driver Verifier DMA checks of 1.7): which map-register calls each state
** of a base allows, and the report of each one it does not.
*/
#include "hal/dl_mrstate.h"

#include "machine/dl_verifier.h"

#define A {DL_MR_ALLOW, 0}
#define INV {DL_MR_INVALID, 0}
#define NAMES {DL_MR_REFUSE, DL_VF_DOUBLE_FREE_MAP_REGISTERS}      /* 0x05 */
#define UNMAPPED {DL_MR_REFUSE, DL_VF_FLUSH_UNMAPPED_REGISTER}     /* 0x20 */
#define NOT_EX {DL_MR_REFUSE, DL_VF_MISC}                          /* 0x00 */
#define UNFLUSHED {DL_MR_REFUSE, DL_VF_NOT_FLUSHED}                /* 0x0D */
#define STILL {DL_MR_FORCE, DL_VF_FREED_WHILE_MAPPED}              /* 0x10 */

/* table[row][call]. MapTransfer with a base naming nothing is an argument
** error (the Verifier has no check for it); FlushAdapterBuffers(Ex) needs
** a mapping at the place flushed; MapTransferEx needs a base granted
** under a DMA transfer context and flushed since its last map; a base
** freed, unknown or a list's cannot be freed (0x05); freeing registers
** still mapped is 0x10 and frees them. A scatter/gather list's base is
** mapped by its own builder (MapTransfer) and freed by
** PutScatterGatherList; a channel never holds one, and holds nothing once
** FreeMapRegisters freed its registers. */
static const dl_mr_cell table[DL_MRROW_COUNT][DL_MRCALL_COUNT] = {
  /*                 Map  Flush     MapEx      FlushEx   Free   FreeChannel */
  /* unknown    */ { INV, UNMAPPED, INV,       UNMAPPED, NAMES, A },
  /* freed      */ { INV, UNMAPPED, INV,       UNMAPPED, NAMES, A },
  /* S/G list   */ { A,   UNMAPPED, NOT_EX,    UNMAPPED, NAMES, INV },
  /* granted    */ { A,   UNMAPPED, NOT_EX,    UNMAPPED, A,     A },
  /* mapped     */ { A,   A,        NOT_EX,    UNMAPPED, STILL, STILL },
  /* granted Ex */ { A,   UNMAPPED, A,         UNMAPPED, A,     A },
  /* mapped Ex  */ { A,   A,        UNFLUSHED, A,        STILL, STILL },
};

static const char *const row_names[DL_MRROW_COUNT] = {
  "unknown (names no registers of the adapter)", "freed", "held by a scatter/gather list",
  "granted, nothing mapped", "mapped (a MapTransfer not flushed)",
  "granted under a DMA transfer context, nothing mapped",
  "mapped under a DMA transfer context (not flushed)",
};

static const char *const call_names[DL_MRCALL_COUNT] = {
  "MapTransfer", "FlushAdapterBuffers", "MapTransferEx", "FlushAdapterBuffersEx",
  "FreeMapRegisters", "FreeAdapterChannel",
};

dl_mr_cell dl_mr_cell_at(int row, int call) {
  if (row < 0 || row >= DL_MRROW_COUNT || call < 0 || call >= DL_MRCALL_COUNT)
    return (dl_mr_cell){DL_MR_REFUSE, 0};
  return table[row][call];
}

const char *dl_mr_row_name(int row) {
  return row >= 0 && row < DL_MRROW_COUNT ? row_names[row] : "?";
}

const char *dl_mr_call_name(int call) {
  return call >= 0 && call < DL_MRCALL_COUNT ? call_names[call] : "?";
}

/* 0x05: what the base names cannot be freed. */
static void report_free(dl_machine *m, int row, const dl_mr_args *x, const char *name) {
  unsigned long long id = (unsigned long long)x->adapter_id;
  if (row == DL_MRROW_UNKNOWN)
    dl_verify_fail(m, DL_BUGCHECK_DMA, DL_VF_DOUBLE_FREE_MAP_REGISTERS, x->count, x->base, 0,
                   "%s: MapRegisterBase 0x%llx names no map registers of adapter#%llu (never "
                   "allocated, or another adapter's)", name, (unsigned long long)x->base, id);
  else
    dl_verify_fail(m, DL_BUGCHECK_DMA, DL_VF_DOUBLE_FREE_MAP_REGISTERS, x->count, 0, 0,
                   "%s: adapter#%llu: %s", name, id,
                   row == DL_MRROW_SGLIST
                       ? "these registers belong to a scatter/gather list (PutScatterGatherList)"
                       : "these map registers were already freed");
}

/* 0x20: nothing mapped where the flush says. */
static void report_unmapped(dl_machine *m, int call, const dl_mr_args *x, const char *name) {
  unsigned long long at = (unsigned long long)x->at, mdl = (unsigned long long)x->mdl_id;
  if (call == DL_MRCALL_FLUSH_EX)
    dl_verify_fail(m, DL_BUGCHECK_DMA, DL_VF_FLUSH_UNMAPPED_REGISTER, x->base, x->at, x->mdl_id,
                   "%s: MapTransferEx mapped nothing at Offset %llu of MDL#%llu with this "
                   "MapRegisterBase", name, at, mdl);
  else
    dl_verify_fail(m, DL_BUGCHECK_DMA, DL_VF_FLUSH_UNMAPPED_REGISTER, x->base, x->at, x->mdl_id,
                   "%s: nothing was mapped at CurrentVa 0x%llx of MDL#%llu with this "
                   "MapRegisterBase", name, at, mdl);
}

/* Consults the table once; a refused or forced call is report 0xE6 with
** the cell's P1 and the parameters Driver Verifier gives it. */
int dl_mrstate_check(dl_machine *m, int row, int call, const dl_mr_args *x) {
  dl_mr_cell c = dl_mr_cell_at(row, call);
  if (c.kind == DL_MR_ALLOW || c.kind == DL_MR_INVALID) return c.kind;
  const char *name = x->name ? x->name : dl_mr_call_name(call);
  switch (c.p1) {
    case DL_VF_DOUBLE_FREE_MAP_REGISTERS: report_free(m, row, x, name); break;
    case DL_VF_FLUSH_UNMAPPED_REGISTER: report_unmapped(m, call, x, name); break;
    case DL_VF_FREED_WHILE_MAPPED:
      dl_verify_fail(m, DL_BUGCHECK_DMA, c.p1, x->still, 0, 0,
                     "%s: adapter#%llu frees map registers still mapped (FlushAdapterBuffers was "
                     "not called after MapTransfer)", name, (unsigned long long)x->adapter_id);
      break;
    case DL_VF_NOT_FLUSHED:
      dl_verify_fail(m, DL_BUGCHECK_DMA, c.p1, 0, x->mapped, 0,
                     "%s: the transfer MapTransferEx mapped under this MapRegisterBase was not "
                     "flushed (FlushAdapterBuffersEx before the next MapTransferEx)", name);
      break;
    case DL_VF_MISC:
      dl_verify_fail(m, DL_BUGCHECK_DMA, c.p1, x->adapter_id, 3, 0,
                     "%s: this MapRegisterBase was not allocated by AllocateAdapterChannelEx under "
                     "a DMA transfer context (InitializeDmaTransferContext)", name);
      break;
    default:
      dl_verify_fail(m, DL_BUGCHECK_DMA, c.p1, x->base, 0, 0, "%s: MapRegisterBase 0x%llx is %s",
                     name, (unsigned long long)x->base, dl_mr_row_name(row));
  }
  return c.kind;
}

