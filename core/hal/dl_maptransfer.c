/*
** dl_maptransfer.c: MapTransfer, FlushAdapterBuffers and KeFlushIoBuffers.
**
** MapTransfer maps part of an MDL for the device under a MapRegisterBase (a
** grant of map registers, dl_adapter.c). A scatter/gather master's mapping
** ends with the physically contiguous run at CurrentVa; another master's
** covers the whole length. The device sees the buffer's own pages unless the
** range is not contiguous (other masters) or lies above the adapter's
** ceiling: then it bounces through map registers of the grant, copied in for
** a write and back at FlushAdapterBuffers for a read. Each mapping is
** recorded until it is flushed.
*/
#include "hal/dl_adapter_int.h"
#include "hal/dl_mrstate.h"
#include "hal/dl_slave.h"

#include <stdlib.h>
#include <string.h>

#include "memory/dl_cache.h"
#include "machine/dl_xlate.h"
#include "hal/dl_swiotlb.h"
#include "base/dl_status.h"
#include "machine/dl_trace.h"
#include "machine/dl_verifier.h"
#include "base/dl_wdk.h"
#include "base/dl_vec.h"

/* Bytes from va that are physically contiguous in the MDL, up to `limit`. */
static uint32_t contiguous_run(const dl_mdl *mdl, uint64_t va, uint32_t limit, uint64_t ps) {
  uint64_t pa = dl_mdl_pa(mdl, va);
  uint64_t run = ps - (va % ps);
  while (run < limit && dl_mdl_pa(mdl, va + run) == pa + run) run += ps;
  return (uint32_t)(run < limit ? run : limit);
}

/* Copies n bytes between a buffer (CPU view, through pfns) and bounce pages. */
static void bounce_copy(dl_machine *m, const dl_mapping *mp, int to_bounce) {
  uint64_t ps = dl_machine_page_size(m), off = mp->va % ps;
  uint8_t tmp[4096];
  for (uint32_t done = 0; done < mp->length;) {
    uint64_t at = off + done;
    uint32_t n = (uint32_t)(ps - at % ps);
    if (n > sizeof tmp) n = sizeof tmp;
    if (n > mp->length - done) n = mp->length - done;
    uint64_t buf_pa = mp->pfns[at / ps] * ps + at % ps, bounce_pa = mp->logical + done;
    if (to_bounce) {
      dl_machine_cpu_read(m, buf_pa, tmp, n);
      dl_physmem_write(dl_machine_physmem(m), bounce_pa, tmp, n);
    } else {
      dl_physmem_read(dl_machine_physmem(m), bounce_pa, tmp, n);
      dl_machine_cpu_write(m, buf_pa, tmp, n);
    }
    done += n;
  }
}

/* Takes a mapping record (pooled); NO_SLOT if out of memory. */
static uint32_t new_mapping(dl_adapter *a) {
  uint32_t i = a->free_map;
  if (i != NO_SLOT) {
    a->free_map = a->maps[i].next_free;
    return i;
  }
  if (dl_vec_reserve(a->maps, a->maps_cap, a->nmaps + 1)) return NO_SLOT;
  memset(&a->maps[a->nmaps], 0, sizeof a->maps[0]);
  return a->nmaps++;
}

/* Ends one mapping: copies a read bounce back if asked. */
void dl_adapter_end_mapping(dl_adapter *a, uint32_t index, int copy_back) {
  dl_mapping *mp = &a->maps[index];
  dl_swiotlb *pool = mp->swiotlb ? dl_swiotlb_of(a->m) : NULL;
  if (copy_back && mp->bounced && !mp->write) {
    bounce_copy(a->m, mp, 0);
    if (pool) dl_swiotlb_count_copy(pool, 0);  /* swiotlb unmap: DMA_FROM_DEVICE copies back */
  }
  if (pool) dl_swiotlb_release(pool, mp->reg_first);
  else if (mp->reg_count) memset(dl_mapregs_of(a->m)->mapped + mp->reg_first, 0, mp->reg_count);
  dl_xlate_unmap(a->m, DL_ADAPTER_DEV(a), mp->dm_handle);
  if (mp->live) dl_dma_count_mapping(a->m, mp->va, mp->length, -1);
  if (mp->live) {  /* the grant's row (dl_mrbase.c) */
    a->grants[mp->grant].mapped--;
    a->grants[mp->grant].still -= mp->reg_count ? mp->reg_count : 1;
  }
  mp->live = 0;
  mp->next_free = a->free_map;
  a->free_map = index;
  a->live_maps--;
}

/* Checks MapTransfer's arguments against the MDL; clamps *length. */
static int check_map_args(dl_adapter *a, dl_mdl *mdl, uint64_t va, uint32_t *length) {
  dl_machine *m = a->m;
  uint64_t start = dl_mdl_virtual_address(mdl), end = start + dl_mdl_byte_count(mdl);
  if (!dl_mdl_pages_valid(mdl)) {
    dl_verify_fail(m, DL_BUGCHECK_DMA, DL_VF_UNLOCKED_BUFFER, dl_mdl_id(mdl), 0, 0,
                   "MapTransfer: MDL#%llu's pages are not locked (MmProbeAndLockPages or "
                   "MmBuildMdlForNonPagedPool first)", (unsigned long long)dl_mdl_id(mdl));
    return DL_ESTATE;
  }
  if (*length == 0) {
    dl_verify_fail(m, DL_BUGCHECK_DMA, DL_VF_ZERO_LENGTH_MAP, 0, 0, 0,
                   "MapTransfer: zero-length map of MDL#%llu", (unsigned long long)dl_mdl_id(mdl));
    return DL_EINVAL;
  }
  if (va < start || va >= end) {
    dl_verify_fail(m, DL_BUGCHECK_DMA, DL_VF_ADDRESS_OUTSIDE_MDL, va, dl_mdl_id(mdl), 0,
                   "MapTransfer: CurrentVa 0x%llx is outside MDL#%llu [0x%llx, 0x%llx)",
                   (unsigned long long)va, (unsigned long long)dl_mdl_id(mdl),
                   (unsigned long long)start, (unsigned long long)end);
    return DL_ERANGE;
  }
  if (*length > end - va) {
    dl_verify_fail(m, DL_BUGCHECK_DMA, DL_VF_INVALID_DMA_BUFFER, 3, dl_mdl_id(mdl), *length,
                   "MapTransfer: Length %u runs %llu bytes past the end of MDL#%llu", *length,
                   (unsigned long long)(*length - (end - va)), (unsigned long long)dl_mdl_id(mdl));
    *length = (uint32_t)(end - va);
  }
  return DL_OK;
}

/* Picks the registers for a bounce of `need` pages from va inside the
** grant. Too many is report 0x15, whose message says how many bytes fit:
** the documented min(remaining, PAGE_SIZE x NMR) overruns the registers when
** CurrentVa is not page-aligned. */
/* One MapTransfer may set up at most the registers its MapRegisterBase
** holds (`limit`), whether or not it bounces: report 0x15 otherwise. */
static int check_register_count(dl_adapter *a, uint64_t va, uint32_t len, uint32_t need,
                                uint32_t limit) {
  if (need <= limit) return DL_OK;
  uint64_t ps = dl_machine_page_size(a->m);
  dl_verify_fail(a->m, DL_BUGCHECK_DMA, DL_VF_TOO_MANY_MAP_REGISTERS, need, limit, 0,
                 "MapTransfer: Length %u from CurrentVa 0x%llx needs %u map registers but its "
                 "MapRegisterBase holds %u: %llu bytes fit (NumberOfMapRegisters x PAGE_SIZE - "
                 "BYTE_OFFSET(CurrentVa))", len, (unsigned long long)va, need, limit,
                 (unsigned long long)(limit * ps - va % ps));
  return DL_ENOSPACE;
}

/* 1 if a bounce at register `first` would cross the slave's 64/128 KiB
** block (the HAL keeps ISA transfers inside one). */
static int crosses(dl_adapter *a, uint32_t first, uint64_t va, uint32_t len) {
  uint64_t block = dl_slave_boundary(a), ps = dl_machine_page_size(a->m);
  uint64_t pa = dl_mapregs_pa(dl_mapregs_of(a->m), first, (uint32_t)ps) + va % ps;
  return block && pa / block != (pa + len - 1) / block;
}

static int pick_registers(dl_adapter *a, const dl_grant *g, uint64_t va, uint32_t len,
                          uint32_t need, uint32_t *first) {
  dl_mapregs *mr = dl_mapregs_of(a->m);
  int rc = check_register_count(a, va, len, need, g->count);
  if (rc) return rc;
  uint32_t lo = g->first, hi = g->first + g->count;
  while (!(rc = dl_mapregs_find_unmapped(mr, lo, hi, need, first)) && crosses(a, *first, va, len))
    lo = *first + 1;
  if (rc) {
    dl_verify_fail(a->m, DL_BUGCHECK_DMA, DL_VF_NOT_FLUSHED, 0, (uint64_t)g->count * 4096, 0,
                   "MapTransfer: the map registers are still mapped by an earlier transfer "
                   "(FlushAdapterBuffers first)");
    return DL_ENOSPACE;
  }
  memset(mr->mapped + *first, 1, need);
  return DL_OK;
}

/* Records the buffer pages a bounced mapping covers, for the copies. */
static int keep_pfns(dl_mapping *mp, const dl_mdl *mdl, uint64_t ps) {
  uint32_t n = (uint32_t)dl_span_pages(mp->va, mp->length, ps);
  if (dl_vec_reserve(mp->pfns, mp->pfns_cap, n)) return DL_ENOMEM;
  for (uint32_t i = 0; i < n; i++) mp->pfns[i] = dl_mdl_pa(mdl, mp->va + (uint64_t)i * ps - (i ? mp->va % ps : 0)) / ps;
  mp->npfns = n;
  return DL_OK;
}

/* Takes swiotlb slots for a bounce of len bytes: the pool's answer is
** immediate, and a full pool fails the mapping at once (traced with
** Linux's message) where the Windows policy would have queued. */
static int swiotlb_take(dl_adapter *a, uint32_t len, uint32_t *slot, uint64_t *pa) {
  dl_swiotlb *pool = dl_swiotlb_of(a->m);
  if (pool && !dl_swiotlb_alloc(pool, len, dl_machine_current_cpu(a->m), slot, pa)) return DL_OK;
  dl_swiotlb_stats st = {0};
  if (pool) dl_swiotlb_get_stats(pool, &st);
  dl_trace_emit(a->m, DL_TR_SWIOTLB_FULL, a->id, len, (uint64_t)st.nslabs << 32 | st.used);
  a->failed_fast = 1;
  return DL_ENOSPACE;
}

/* MapTransfer. */
int dl_adapter_map_transfer(dl_adapter *a, dl_mdl *mdl, uint64_t base, uint64_t va,
                            uint32_t *length, int write, uint64_t *logical) {
  uint32_t want = *length;
  *length = 0;
  *logical = 0;
  if (!dl_adapter_usable(a, "MapTransfer")) return DL_ESTATE;
  dl_verify_irql(a->m, "MapTransfer", 0, DL_DISPATCH_LEVEL);
  if (dl_adapter_check_base(a, base, DL_MRCALL_MAP, NULL, NULL, 0) != DL_MR_ALLOW) return DL_EINVAL;
  dl_grant *g = dl_adapter_grant(a, base);
  int rc = a->slave ? dl_slave_check_map(a, base) : DL_OK;
  if (!rc) rc = check_map_args(a, mdl, va, &want);
  if (!rc) rc = dl_dma_check_unmapped(a, (uint32_t)(g - a->grants), "MapTransfer", va, want);
  if (rc) return rc;
  uint64_t ps = dl_machine_page_size(a->m), pa = dl_mdl_pa(mdl, va);
  uint32_t run = contiguous_run(mdl, va, want, ps);
  uint32_t len = a->sg ? run : want;  /* only S/G masters get a shortened length */
  /* an IOMMU never bounces; a system DMA controller sees physical memory
  ** and bounces through map registers, never the swiotlb */
  int remap = !a->slave && dl_xlate_remaps(a->m), pool = !a->slave && dl_adapter_swiotlb(a);
  uint64_t block = dl_slave_boundary(a);
  int bounce = !remap && ((a->sg ? 0 : run < want) || pa + len - 1 > a->ceiling ||
                          (block && pa / block != (pa + len - 1) / block));
  uint32_t first = 0, need = bounce && !pool ? (uint32_t)dl_span_pages(va, len, ps) : 0;
  uint64_t at = pa;
  if (bounce && !pool && (rc = pick_registers(a, g, va, len, need, &first))) return rc;
  if ((!bounce || pool) && !a->sg &&  /* a packet master maps through registers even when it need not copy */
      (rc = check_register_count(a, va, len, (uint32_t)dl_span_pages(va, len, ps), g->asked)))
    return rc;
  if (bounce && pool && (rc = swiotlb_take(a, len, &first, &at))) return rc;
  uint32_t i = new_mapping(a);
  if (i == NO_SLOT) {
    if (bounce && pool) dl_swiotlb_release(dl_swiotlb_of(a->m), first);
    return DL_ENOMEM;
  }
  dl_mapping *mp = &a->maps[i];
  if (bounce && !pool) at = dl_mapregs_pa(dl_mapregs_of(a->m), first, (uint32_t)ps) + va % ps;
  *mp = (dl_mapping){ .live = 1, .grant = (uint32_t)(g - a->grants), .mdl = mdl, .va = va,
                      .length = len, .logical = at, .bounced = bounce, .write = write,
                      .reg_first = first, .reg_count = need, .swiotlb = bounce && pool, .dm_handle = NO_SLOT,
                      .pfns = mp->pfns, .pfns_cap = mp->pfns_cap };  /* the slot keeps its PFN array */
  a->live_maps++;
  g->mapped++;
  g->still += need ? need : 1;
  dl_dma_count_mapping(a->m, va, len, 1);
  /* the device's address: the bounce or the buffer's run (identity), or an
  ** IOVA range over the buffer's pages in the device's domain (IOMMU) */
  if (((bounce || remap) && keep_pfns(mp, mdl, ps)) ||
      dl_xlate_map(a->m, DL_ADAPTER_DEV(a), at, remap ? mp->pfns : NULL, len,
                   write ? DL_XLATE_READ : DL_XLATE_WRITE, a->ceiling, &mp->logical, &mp->dm_handle)) {
    mp->logical = at;
    dl_adapter_end_mapping(a, i, 0);
    return DL_ENOMEM;
  }
  if (bounce && (write || pool)) {  /* swiotlb copies in even for a read (swiotlb_tbl_map_single) */
    bounce_copy(a->m, mp, 1);
    if (pool) dl_swiotlb_count_copy(dl_swiotlb_of(a->m), 1);
  }
  /* the controller could not take it (MapTransferEx's kind programs it after) */
  if (a->slave && !a->ex_mapping && dl_slave_program(a, at, len, write)) {
    dl_adapter_end_mapping(a, i, 0);
    return DL_EINVAL;
  }
  a->stats.map_transfers++;
  a->stats.bytes_mapped += len;
  if (bounce) {
    a->stats.bytes_bounced += len;
    dl_trace_stats(dl_machine_trace(a->m))->bytes_bounced += len;
  }
  dl_trace_emit(a->m, DL_TR_MAP, a->id, mp->logical, len | ((uint64_t)bounce << 63));
  *length = len;
  *logical = mp->logical;
  return DL_OK;
}

/* FlushAdapterBuffers. */
int dl_adapter_flush(dl_adapter *a, dl_mdl *mdl, uint64_t base, uint64_t va, uint32_t length,
                     int write) {
  if (!dl_adapter_usable(a, "FlushAdapterBuffers")) return 0;
  dl_verify_irql(a->m, "FlushAdapterBuffers", 0, DL_DISPATCH_LEVEL);
  dl_mr_place at = {mdl, va, 0};  /* something mapped at CurrentVa of mdl */
  if (dl_adapter_check_base(a, base, DL_MRCALL_FLUSH, NULL, &at, 0) != DL_MR_ALLOW) return 0;
  uint32_t gi = dl_adapter_slot(a, base);
  dl_flush_check(a, gi, mdl, va, length, write);
  for (uint32_t i = 0; i < a->nmaps; i++) {
    dl_mapping *mp = &a->maps[i];
    if (mp->live && mp->grant == gi && mp->mdl == mdl && mp->va >= va && mp->va - va < length) {
      if (a->slave) dl_slave_flush(a, mp);  /* masks the channel, trims a read's copy-back */
      dl_adapter_end_mapping(a, i, mp->write == (write != 0));  /* the wrong way: no copy back */
    }
  }
  a->stats.flushes++;
  dl_trace_emit(a->m, DL_TR_FLUSH, a->id, va, length);
  return 1;
}

/* KeFlushIoBuffers. */
void dl_ke_flush_io_buffers(dl_mdl *mdl, int read_operation, int dma_operation) {
  (void)read_operation;
  (void)dma_operation;
  dl_machine *m = dl_mdl_machine(mdl);
  dl_verify_irql(m, "KeFlushIoBuffers", 0, DL_DISPATCH_LEVEL);
  dl_cache *c = dl_machine_cache(m);
  if (!c || !dl_mdl_pages_valid(mdl)) return;
  uint64_t ps = dl_machine_page_size(m), va = dl_mdl_virtual_address(mdl);
  uint32_t len = dl_mdl_byte_count(mdl);
  for (uint32_t done = 0; done < len;) {
    uint32_t n = (uint32_t)(ps - (va + done) % ps);
    if (n > len - done) n = len - done;
    dl_cache_flush(c, dl_mdl_pa(mdl, va + done), n);
    done += n;
  }
}
