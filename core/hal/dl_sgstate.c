/*
** dl_sgstate.c: the scatter/gather list's state table (reference 1.5, the
** Driver Verifier DMA checks of 1.7): which list calls each state allows.
*/
#include "hal/dl_sgstate.h"

#include "machine/dl_verifier.h"

#define A {DL_SG_ALLOW, 0}
#define INV {DL_SG_INVALID, 0}
#define TWICE {DL_SG_REFUSE, DL_VF_DOUBLE_FREE_SG_LIST}  /* 0x06 */

/* table[row][call]. A list is put once, on the adapter that built it,
** from its routine or later; its elements are the device's until then.
** Reading them names no adapter: a list is never "another adapter's" for
** that column. */
static const dl_sg_cell table[DL_SGROW_COUNT][DL_SGCALL_COUNT] = {
  /*                 Put    Elements */
  /* other      */ { TWICE, A },
  /* delivering */ { A,     A },
  /* held       */ { A,     A },
  /* put        */ { TWICE, INV },
};

static const char *const row_names[DL_SGROW_COUNT] = {
  "another adapter's", "being handed to its AdapterListControl", "held by the driver",
  "put (PutScatterGatherList)",
};

static const char *const call_names[DL_SGCALL_COUNT] = {
  "PutScatterGatherList", "SCATTER_GATHER_LIST.Elements",
};

dl_sg_cell dl_sg_cell_at(int row, int call) {
  if (row < 0 || row >= DL_SGROW_COUNT || call < 0 || call >= DL_SGCALL_COUNT)
    return (dl_sg_cell){DL_SG_REFUSE, 0};
  return table[row][call];
}

const char *dl_sg_row_name(int row) {
  return row >= 0 && row < DL_SGROW_COUNT ? row_names[row] : "?";
}

const char *dl_sg_call_name(int call) {
  return call >= 0 && call < DL_SGCALL_COUNT ? call_names[call] : "?";
}

/* Consults the table once; a refused call is report 0xE6 with the cell's
** P1 (P2 the lists built, P3 the lists put, as Driver Verifier gives). */
int dl_sgstate_check(dl_machine *m, int row, int call, const dl_sg_args *x) {
  dl_sg_cell c = dl_sg_cell_at(row, call);
  if (c.kind != DL_SG_REFUSE) return c.kind;
  dl_verify_fail(m, DL_BUGCHECK_DMA, c.p1, x->p2, x->p3, 0, "%s: SG list#%llu %s",
                 x->name ? x->name : dl_sg_call_name(call), (unsigned long long)x->id,
                 row == DL_SGROW_OTHER ? "belongs to another adapter" : "was already put");
  return c.kind;
}
