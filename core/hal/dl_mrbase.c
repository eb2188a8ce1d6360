/*
** dl_mrbase.c: the row of a MapRegisterBase in the table of hal/dl_mrstate.h
** (the state of the registers it names, seen by the adapter a call is made
** on), and the one consultation each map-register call makes.
*/
#include "hal/dl_adapter_int.h"
#include "hal/dl_mrstate.h"

/* 1 if a live mapping under grant gi is at the place (anywhere: no
** place; the grant counts its mappings, so only a flush looks for one). */
static int mapped_at(const dl_adapter *a, uint32_t gi, const dl_mr_place *w) {
  if (a->grants[gi].mapped == 0) return 0;
  if (!w || !w->mdl) return 1;
  for (uint32_t k = 0; !w->offset && k < a->nmaps; k++) {
    const dl_mapping *mp = &a->maps[k];
    if (mp->live && mp->grant == gi && mp->mdl == w->mdl && mp->va == w->at) return 1;
  }
  return 0;
}

/* The row of base on a (at the place w, NULL: anywhere); fills what the
** reports say about it. */
static int row_of(const dl_adapter *a, uint64_t base, const dl_mr_place *w, dl_mr_args *x) {
  uint32_t i = dl_adapter_slot(a, base);
  if (i == NO_SLOT)
    return base == 0 || (base >> 48) != (a->id & 0xFFFF) ? DL_MRROW_UNKNOWN : DL_MRROW_FREED;
  const dl_grant *g = &a->grants[i];
  if (!g->live) return DL_MRROW_FREED;
  if (g->sg) return DL_MRROW_SGLIST;
  x->still = g->still;
  int mapped = mapped_at(a, i, w);
  if (!g->ex) return mapped ? DL_MRROW_MAPPED : DL_MRROW_GRANTED;
  const dl_mdl *mdl = NULL;
  uint64_t offset = 0;
  int ex_mapped = dl_dmaex_mapped_at(g->ex, &mdl, &offset, &x->mapped);
  if (w && w->mdl && w->offset) mapped = ex_mapped && mdl == w->mdl && offset == w->at;
  else mapped = mapped || ex_mapped;
  return mapped ? DL_MRROW_MAPPED_EX : DL_MRROW_GRANTED_EX;
}

/* The row of base on a. */
int dl_adapter_base_row(const dl_adapter *a, uint64_t base) {
  dl_mr_args x = {0};
  return row_of(a, base, NULL, &x);
}

/* Consults the table for `call` on base of a, at the place w. */
int dl_adapter_check_base(dl_adapter *a, uint64_t base, int call, const char *name,
                          const dl_mr_place *w, uint32_t count) {
  dl_mr_args x = { .name = name, .adapter_id = a->id, .base = base, .count = count,
                   .at = w ? w->at : 0, .mdl_id = w && w->mdl ? dl_mdl_id(w->mdl) : 0 };
  int row = row_of(a, base, w, &x);
  return dl_mrstate_check(a->m, row, call, &x);
}
