/*
** dl_dmaoverlap.c: a buffer range mapped for DMA twice (0xE6/0x1D). Each
** region counts its live mappings (dl_region.dma_maps), so the common case
** -- nothing of the buffer mapped yet -- costs one lookup; only a second
** mapping of the same buffer scans the machine's adapters for an overlap,
** whichever adapter (or S/G list) made the first.
*/
#include "hal/dl_adapter_int.h"

#include "base/dl_status.h"
#include "machine/dl_verifier.h"

/* The region a mapping at [va, va+len) lies in, or NULL. */
static dl_region *region_at(dl_machine *m, uint64_t va, uint64_t len) {
  return dl_vspace_find(dl_machine_vspace(m), va, len ? len : 1);
}

/* The adapter of a live mapping overlapping [va, va+len) under another
** MapRegisterBase than (self, grant), or 0. The same base mapping a range
** twice is the registers' rule (0x0D), not this one. */
static int find_overlap(dl_machine *m, const dl_adapter *self, uint32_t grant, uint64_t va,
                        uint64_t len, dl_adapter **who) {
  for (dl_object *o = dl_object_next(m, NULL, &dl_adapter_type); o;
       o = dl_object_next(m, o, &dl_adapter_type)) {
    dl_adapter *a = (dl_adapter *)o;
    for (uint32_t i = 0; i < a->nmaps; i++) {
      const dl_mapping *mp = &a->maps[i];
      if (mp->live && mp->va < va + len && va < mp->va + mp->length &&
          (a != self || mp->grant != grant)) {
        *who = a;
        return 1;
      }
    }
  }
  return 0;
}

/* Reports 0x1D if [va, va+len) of a buffer is already mapped for DMA. */
int dl_dma_check_unmapped(dl_adapter *a, uint32_t grant, const char *call, uint64_t va,
                          uint64_t len) {
  dl_region *r = region_at(a->m, va, len);
  dl_adapter *other = NULL;
  if (!r || r->dma_maps == 0 || !find_overlap(a->m, a, grant, va, len, &other)) return DL_OK;
  dl_verify_fail(a->m, DL_BUGCHECK_DMA, DL_VF_MAPPED_TWICE, va, len, other->id,
                 "%s: [0x%llx, 0x%llx) of buffer#%llu is already mapped for DMA by adapter#%llu "
                 "(FlushAdapterBuffers or PutScatterGatherList first)", call,
                 (unsigned long long)va, (unsigned long long)(va + len),
                 (unsigned long long)r->id, (unsigned long long)other->id);
  return DL_EBUSY;
}

/* Counts a mapping of [va, va+len) starting (delta +1) or ending (-1). */
void dl_dma_count_mapping(dl_machine *m, uint64_t va, uint64_t len, int delta) {
  dl_region *r = region_at(m, va, len);
  if (r && (delta > 0 || r->dma_maps)) r->dma_maps += (uint32_t)delta;
}

/* FlushAdapterBuffers' checks of what it flushes against what was mapped
** under grant gi from va: a Length past the mapped bytes is 0x00 with P2 1
** (P3 the bytes mapped, P4 the Length: "too many bytes flushed"); a
** WriteToDevice opposite to the mapping's is reported (0x00, P2 0: no
** documented parameter) and that mapping is not copied back. */
void dl_flush_check(dl_adapter *a, uint32_t gi, const dl_mdl *mdl, uint64_t va, uint32_t length,
                    int write) {
  uint64_t mapped = 0;
  int wrong_way = -1;
  for (uint32_t i = 0; i < a->nmaps; i++) {
    const dl_mapping *mp = &a->maps[i];
    if (!mp->live || mp->grant != gi || mp->mdl != mdl || mp->va < va || mp->va - va >= length)
      continue;
    if (mp->va + mp->length - va > mapped) mapped = mp->va + mp->length - va;
    if (mp->write != (write != 0)) wrong_way = mp->write;
  }
  if (length > mapped)
    dl_verify_fail(a->m, DL_BUGCHECK_DMA, DL_VF_MISC, 1, mapped, length,
                   "FlushAdapterBuffers: Length %u is more than the %llu bytes mapped from "
                   "CurrentVa 0x%llx of MDL#%llu (flushing past the end of the mapping)", length,
                   (unsigned long long)mapped, (unsigned long long)va,
                   (unsigned long long)dl_mdl_id(mdl));
  if (wrong_way >= 0)
    dl_verify_fail(a->m, DL_BUGCHECK_DMA, DL_VF_MISC, 0, va, length,
                   "FlushAdapterBuffers: WriteToDevice is %s but MapTransfer mapped CurrentVa "
                   "0x%llx of MDL#%llu with %s: nothing is copied back", write ? "TRUE" : "FALSE",
                   (unsigned long long)va, (unsigned long long)dl_mdl_id(mdl),
                   wrong_way ? "TRUE" : "FALSE");
}
