/*
** dl_mdlpages.c: MDLs that own their pages (MmAllocatePagesForMdl,
** MmFreePagesFromMdl), mapping MDLs into system space
** (MmMapLockedPagesSpecifyCache, MmUnmapLockedPages, MappedSystemVa) and
** MmInitializeMdl (dl_mdl.h).
*/
#include <stdlib.h>

#include "base/dl_status.h"
#include "base/dl_wdk.h"
#include "io/dl_mdl_int.h"
#include "machine/dl_machine.h"
#include "machine/dl_verifier.h"

/* MmAllocatePagesForMdl(Ex). */
int dl_mdl_allocate_pages(dl_machine *m, uint64_t low, uint64_t high, uint64_t total,
                          dl_mdl **out) {
  uint8_t irql = dl_machine_irql(m);
  if (irql > DL_DISPATCH_LEVEL)
    dl_verify_fail(m, DL_BUGCHECK_DETECTED_VIOLATION, DL_C4_ALLOC_PAGES_IRQL, irql,
                   DL_DISPATCH_LEVEL, 0, "MmAllocatePagesForMdl at IRQL %u (at most DISPATCH_LEVEL)",
                   irql);
  uint64_t ps = dl_machine_page_size(m);
  if (total == 0 || total > (UINT64_C(1) << 32) - ps) return DL_EINVAL;
  uint64_t n = (total + ps - 1) / ps;
  dl_mdl *mdl;
  int rc = dl_mdl_allocate(m, 0, n * ps, &mdl);
  if (rc) return rc;
  dl_physmem *pm = dl_machine_physmem(m);
  rc = dl_physmem_alloc(pm, (size_t)n, DL_ALLOC_LOW_FIRST, mdl->pfns);
  for (uint64_t i = 0; !rc && i < n; i++)
    if (mdl->pfns[i] * ps < low || mdl->pfns[i] * ps + ps - 1 > high) {
      dl_physmem_release(pm, mdl->pfns, (size_t)n);
      rc = DL_ENOSPACE;
    }
  if (rc) {
    dl_mdl_destroy(mdl);
    return rc;
  }
  mdl->owns_pages = 1;
  *out = mdl;
  return DL_OK;
}

/* Removes the mapping of an MDL of allocated pages. */
static void unmap(dl_mdl *mdl) {
  if (!mdl->map) return;
  dl_vspace_unmap(dl_machine_vspace(mdl->m), mdl->map);
  mdl->map = NULL;
  mdl->flags &= ~(uint32_t)DL_MDL_MAPPED_TO_SYSTEM_VA;
}

/* MmFreePagesFromMdl. */
int dl_mdl_free_pages(dl_mdl *mdl) {
  if (!mdl->owns_pages) return DL_ESTATE;
  uint8_t irql = dl_machine_irql(mdl->m);
  if (irql > DL_DISPATCH_LEVEL)
    dl_verify_fail(mdl->m, DL_BUGCHECK_DETECTED_VIOLATION, DL_C4_ALLOC_PAGES_IRQL, irql,
                   DL_DISPATCH_LEVEL, 0, "MmFreePagesFromMdl at IRQL %u (at most DISPATCH_LEVEL)",
                   irql);
  if (mdl->map)
    dl_verify_fail(mdl->m, DL_BUGCHECK_DETECTED_VIOLATION, DL_C4_STILL_MAPPED, mdl->id,
                   mdl->flags, 0, "MmFreePagesFromMdl: the pages of MDL#%llu are still mapped at "
                   "0x%llx (MmUnmapLockedPages first)", (unsigned long long)mdl->id,
                   (unsigned long long)mdl->map->va);
  dl_mdl_drop_pages(mdl);
  return DL_OK;
}

/* Unmaps and frees owned pages. */
void dl_mdl_drop_pages(dl_mdl *mdl) {
  if (!mdl->owns_pages) return;
  unmap(mdl);
  dl_physmem_release(dl_machine_physmem(mdl->m), mdl->pfns, (size_t)dl_mdl_page_count(mdl));
  mdl->owns_pages = 0;
}

/* MmMapLockedPagesSpecifyCache. */
int dl_mdl_map_locked_pages(dl_mdl *mdl, uint64_t *va) {
  uint8_t irql = dl_machine_irql(mdl->m);
  *va = 0;
  if (irql > DL_DISPATCH_LEVEL)
    dl_verify_fail(mdl->m, DL_BUGCHECK_DETECTED_VIOLATION, DL_C4_MAP_IRQL, irql, mdl->id, 0,
                   "MmMapLockedPagesSpecifyCache at IRQL %u (at most DISPATCH_LEVEL)", irql);
  if (!dl_mdl_pages_valid(mdl)) return DL_ESTATE;
  if (!mdl->owns_pages) {  /* a system buffer: its own address (dl_mdl_system_address) */
    *va = dl_mdl_system_address(mdl);
    return DL_OK;
  }
  if (mdl->map) {
    dl_verify_fail(mdl->m, DL_BUGCHECK_DETECTED_VIOLATION, DL_C4_MAP_FLAGS, mdl->id, mdl->flags,
                   DL_MDL_MAPPED_TO_SYSTEM_VA, "MmMapLockedPagesSpecifyCache: MDL#%llu is mapped "
                   "already (MappedSystemVa 0x%llx)", (unsigned long long)mdl->id,
                   (unsigned long long)mdl->map->va);
    *va = mdl->map->va;
    return DL_OK;
  }
  int rc = dl_vspace_map(dl_machine_vspace(mdl->m), mdl->byte_count, mdl->byte_offset, mdl->pfns,
                         dl_mdl_page_count(mdl), DL_REGION_NONPAGED, &mdl->map);
  if (rc) return rc;
  mdl->flags |= DL_MDL_MAPPED_TO_SYSTEM_VA;
  *va = mdl->map->va;
  return DL_OK;
}

/* MmUnmapLockedPages. */
int dl_mdl_unmap_locked_pages(dl_mdl *mdl, uint64_t va) {
  if (mdl->map) {
    if (va != mdl->map->va) return DL_EINVAL;
    unmap(mdl);
    return DL_OK;
  }
  if (!(mdl->flags & DL_MDL_MAPPED_TO_SYSTEM_VA) || va != dl_mdl_virtual_address(mdl))
    return DL_EINVAL;
  mdl->flags &= ~(uint32_t)DL_MDL_MAPPED_TO_SYSTEM_VA;
  return DL_OK;
}

/* MappedSystemVa. */
uint64_t dl_mdl_mapped_system_va(const dl_mdl *mdl) {
  if (mdl->map) return mdl->map->va;
  if (mdl->owns_pages) return 0;
  if (mdl->flags & (DL_MDL_MAPPED_TO_SYSTEM_VA | DL_MDL_SOURCE_IS_NONPAGED_POOL |
                    DL_MDL_PARTIAL_HAS_BEEN_MAPPED))
    return dl_mdl_virtual_address(mdl);
  return 0;
}

/* MmInitializeMdl. */
int dl_mdl_initialize(dl_mdl *mdl, uint64_t va, uint64_t length) {
  uint64_t ps = dl_machine_page_size(mdl->m);
  if (length == 0 || length > UINT32_MAX || va + length < va) return DL_EINVAL;
  if ((mdl->flags & (DL_MDL_PAGES_LOCKED | DL_MDL_PARTIAL)) || mdl->owns_pages || mdl->referrers)
    return DL_ESTATE;
  if (dl_span_pages(va, length, ps) > mdl->capacity) return DL_ENOSPACE;
  mdl->start_va = dl_page_align(va, ps);
  mdl->byte_offset = (uint32_t)dl_byte_offset(va, ps);
  mdl->byte_count = (uint32_t)length;
  mdl->flags = 0;
  mdl->region_id = 0;
  return DL_OK;
}
