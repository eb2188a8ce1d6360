/*
** dl_common.c: common buffers: physically contiguous memory below the
** adapter's ceiling that does not cross a 4 GiB boundary, mapped both for
** the CPU (a region) and for the device (a dmamap range), so both see the
** same bytes.
*/
#include <stdlib.h>

#include "hal/dl_adapter_int.h"
#include "hal/dl_slave.h"
#include "machine/dl_xlate.h"
#include "base/dl_status.h"
#include "machine/dl_verifier.h"
#include "base/dl_wdk.h"

/* AllocateCommonBuffer. */
int dl_adapter_alloc_common(dl_adapter *a, uint32_t length, int cache_enabled, uint64_t *va,
                            uint64_t *logical) {
  (void)cache_enabled;  /* ignored on x86/x64, as the DDI says */
  return dl_common_alloc(a, length, a->ceiling, "AllocateCommonBuffer", va, logical);
}

/* A common buffer of length bytes below `ceiling` (at most the adapter's). */
int dl_common_alloc(dl_adapter *a, uint32_t length, uint64_t ceiling, const char *call,
                    uint64_t *va, uint64_t *logical) {
  *va = *logical = 0;
  if (!dl_adapter_usable(a, call)) return DL_ESTATE;
  dl_verify_irql(a->m, call, 1, DL_PASSIVE_LEVEL);
  if (length == 0) return DL_EINVAL;
  if (ceiling > a->ceiling) ceiling = a->ceiling;
  uint64_t ps = dl_machine_page_size(a->m);
  uint32_t npages = (uint32_t)dl_bytes_to_pages(length, ps);
  dl_common *c = calloc(1, sizeof *c);
  if (!c) return DL_ENOMEM;
  dl_physmem *mem = dl_machine_physmem(a->m);
  uint64_t block = dl_slave_boundary(a);  /* a slave's buffer stays in one 64/128 KiB block */
  int rc = dl_physmem_alloc_contiguous(mem, npages, ceiling, block ? block : UINT64_C(1) << 32,
                                       &c->first_pfn);
  if (rc) {
    free(c);
    return rc;
  }
  uint64_t *pfns = malloc(npages * sizeof *pfns);
  if (pfns) {
    for (uint32_t i = 0; i < npages; i++) pfns[i] = c->first_pfn + i;
    rc = dl_vspace_map(dl_machine_vspace(a->m), length, 0, pfns, npages, DL_REGION_COMMON, &c->region);
    free(pfns);
  }
  if (!rc && pfns)  /* the device's view: the pages (identity) or an IOVA range (IOMMU) */
    rc = dl_xlate_map(a->m, DL_ADAPTER_DEV(a), c->first_pfn * ps, NULL, length, DL_XLATE_RW,
                      ceiling, &c->logical, &c->dm_handle);
  if (!pfns || rc) {
    if (pfns && c->region) dl_vspace_unmap(dl_machine_vspace(a->m), c->region);
    for (uint32_t i = 0; i < npages; i++) {
      uint64_t pfn = c->first_pfn + i;
      dl_physmem_release(mem, &pfn, 1);
    }
    free(c);
    return pfns ? rc : DL_ENOMEM;
  }
  c->va = c->region->va;
  c->length = length;
  c->npages = npages;
  dl_list_append(&a->commons, &c->link);
  a->live_commons++;
  *va = c->va;
  *logical = c->logical;
  return DL_OK;
}

static void release_common(dl_adapter *a, dl_common *c) {
  dl_list_remove(&c->link);
  dl_xlate_unmap(a->m, DL_ADAPTER_DEV(a), c->dm_handle);
  c->region->locks = 0;
  dl_vspace_unmap(dl_machine_vspace(a->m), c->region);
  for (uint32_t i = 0; i < c->npages; i++) {
    uint64_t pfn = c->first_pfn + i;
    dl_physmem_release(dl_machine_physmem(a->m), &pfn, 1);
  }
  free(c);
}

/* FreeCommonBuffer. */
void dl_adapter_free_common(dl_adapter *a, uint32_t length, uint64_t logical, uint64_t va,
                            int cache_enabled) {
  (void)cache_enabled;
  if (!dl_adapter_usable(a, "FreeCommonBuffer")) return;
  dl_verify_irql(a->m, "FreeCommonBuffer", 1, DL_PASSIVE_LEVEL);
  for (dl_link *l = a->commons.next; l != &a->commons; l = l->next) {
    dl_common *c = DL_CONTAINER(l, dl_common, link);
    if (c->va == va && c->logical == logical) {
      if (c->length != length)
        dl_verify_fail(a->m, DL_BUGCHECK_DMA, DL_VF_MISC, 0, length, c->length,
                       "FreeCommonBuffer: Length %u differs from the %u allocated", length,
                       c->length);
      release_common(a, c);
      a->live_commons--;
      return;
    }
  }
  dl_verify_fail(a->m, DL_BUGCHECK_DMA, DL_VF_DOUBLE_FREE_COMMON_BUFFER, 1, va, logical,
                 "FreeCommonBuffer: adapter#%llu has no common buffer at VA 0x%llx / logical "
                 "0x%llx (freed twice?)", (unsigned long long)a->id, (unsigned long long)va,
                 (unsigned long long)logical);
}

/* Frees every common buffer (teardown). */
void dl_common_destroy_all(dl_adapter *a) {
  while (!dl_list_empty(&a->commons))
    release_common(a, DL_CONTAINER(a->commons.next, dl_common, link));
}
