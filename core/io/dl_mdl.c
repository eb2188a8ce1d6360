/*
** dl_mdl.c: MDLs. Each one is on its machine's list, so a machine can
** report the MDLs a scenario forgot and free them when it is destroyed.
*/
#include "io/dl_mdl.h"
#include "io/dl_mdl_int.h"

#include <stdlib.h>
#include <string.h>

#include "machine/dl_machine.h"
#include "base/dl_status.h"
#include "base/dl_wdk.h"


static void destroy(dl_object *o) { dl_mdl_destroy((dl_mdl *)o); }

const dl_object_type dl_mdl_type = { "MDL", destroy, NULL, NULL, NULL };

/* The next live MDL after `after` (the first if NULL), in creation order. */
dl_mdl *dl_mdl_next_live(dl_machine *m, const dl_mdl *after) {
  return (dl_mdl *)dl_object_next(m, DL_OBJECT(after), &dl_mdl_type);
}

static uint64_t page_size(const dl_mdl *mdl) { return dl_machine_page_size(mdl->m); }

/* IoAllocateMdl. */
int dl_mdl_allocate(dl_machine *m, uint64_t va, uint64_t length, dl_mdl **out) {
  uint64_t ps = dl_machine_page_size(m);
  if (length == 0 || length > (UINT64_C(1) << 32) - ps || va + length < va) return DL_EINVAL;
  uint64_t n = dl_span_pages(va, length, ps);
  dl_mdl *mdl = calloc(1, sizeof *mdl + n * sizeof mdl->pfns[0]);
  if (!mdl) return DL_ENOMEM;
  dl_object_init(DL_OBJECT(mdl), m, &dl_mdl_type, NULL);
  mdl->start_va = dl_page_align(va, ps);
  mdl->byte_offset = (uint32_t)dl_byte_offset(va, ps);
  mdl->byte_count = (uint32_t)length;
  mdl->capacity = n;
  *out = mdl;
  return DL_OK;
}

/* Partial MDLs built from `source` lose it (their PFNs are no longer
** backed by anything the driver holds). */
static void orphan_partials(dl_mdl *source) {
  if (!source->referrers) return;  /* no MDL names it: no walk */
  for (dl_mdl *p = dl_mdl_next_live(source->m, NULL); p; p = dl_mdl_next_live(source->m, p))
    if (p->source == source) {
      p->source = NULL;
      source->referrers--;
    }
}

/* Clears Next pointers that name `mdl`, so no chain dangles. */
static void unchain(dl_mdl *mdl) {
  if (!mdl->referrers) return;
  for (dl_mdl *p = dl_mdl_next_live(mdl->m, NULL); p; p = dl_mdl_next_live(mdl->m, p))
    if (p->next == mdl) {
      p->next = NULL;
      mdl->referrers--;
    }
}

/* Points *field (a Next or source pointer) at `to`, keeping the counts. */
static void refer(dl_mdl **field, dl_mdl *to) {
  if (*field) (*field)->referrers--;
  *field = to;
  if (to) to->referrers++;
}

static dl_region *region_of(const dl_mdl *mdl) {
  return dl_vspace_find(dl_machine_vspace(mdl->m), dl_mdl_virtual_address(mdl),
                        mdl->byte_count);
}

/* IoFreeMdl. */
int dl_mdl_free(dl_mdl *mdl) {
  if ((mdl->flags & DL_MDL_PAGES_LOCKED) || mdl->owns_pages) return DL_EBUSY;
  if (dl_machine_holder(mdl->m, DL_OBJECT(mdl))) return DL_EBUSY;  /* nothing is freed */
  dl_mdl_destroy(mdl);
  return DL_OK;
}

/* Frees an MDL whatever its state. */
void dl_mdl_destroy(dl_mdl *mdl) {
  if (!mdl) return;
  if (mdl->flags & DL_MDL_PAGES_LOCKED) dl_mdl_unlock(mdl);
  dl_mdl_drop_pages(mdl);
  if (mdl->owner_ref) *mdl->owner_ref = NULL;
  orphan_partials(mdl);
  unchain(mdl);
  refer(&mdl->source, NULL);
  refer(&mdl->next, NULL);
  dl_object_unlink(DL_OBJECT(mdl));
  free(mdl);
}

/* Copies the PFNs of the described range from its region. */
static void take_pfns(dl_mdl *mdl, const dl_region *r) {
  uint64_t ps = page_size(mdl), n = dl_mdl_page_count(mdl);
  for (uint64_t i = 0; i < n; i++)
    mdl->pfns[i] = dl_region_pa(r, mdl->start_va + i * ps + (i ? 0 : mdl->byte_offset),
                                (uint32_t)ps) / ps;
  mdl->region_id = r->id;
}

/* MmBuildMdlForNonPagedPool. */
int dl_mdl_build_for_nonpaged_pool(dl_mdl *mdl) {
  if (mdl->flags & (DL_MDL_PAGES_LOCKED | DL_MDL_PARTIAL)) return DL_ESTATE;
  dl_region *r = region_of(mdl);
  if (!r) return DL_ENOTMAPPED;
  if (r->kind == DL_REGION_PAGED) return DL_EINVAL;
  take_pfns(mdl, r);
  mdl->flags |= DL_MDL_SOURCE_IS_NONPAGED_POOL;
  return DL_OK;
}

/* MmProbeAndLockPages. */
int dl_mdl_probe_and_lock(dl_mdl *mdl, int operation) {
  if (operation < DL_IO_READ_ACCESS || operation > DL_IO_MODIFY_ACCESS) return DL_EINVAL;
  if (mdl->flags & (DL_MDL_PAGES_LOCKED | DL_MDL_PARTIAL | DL_MDL_SOURCE_IS_NONPAGED_POOL))
    return DL_ESTATE;
  dl_region *r = region_of(mdl);
  if (!r) return DL_ENOTMAPPED;
  take_pfns(mdl, r);
  r->locks++;
  mdl->flags |= DL_MDL_PAGES_LOCKED;
  if (operation != DL_IO_READ_ACCESS) mdl->flags |= DL_MDL_WRITE_OPERATION;
  return DL_OK;
}

/* MmUnlockPages. */
int dl_mdl_unlock(dl_mdl *mdl) {
  if (!(mdl->flags & DL_MDL_PAGES_LOCKED)) return DL_ESTATE;
  dl_region *r = region_of(mdl);  /* a locked region cannot be unmapped */
  if (r) r->locks--;
  mdl->flags &= ~(uint32_t)(DL_MDL_PAGES_LOCKED | DL_MDL_WRITE_OPERATION);
  mdl->region_id = 0;
  return DL_OK;
}

/* IoBuildPartialMdl. */
int dl_mdl_build_partial(dl_mdl *source, dl_mdl *target, uint64_t va, uint64_t length) {
  if (source == target || source->m != target->m) return DL_EINVAL;
  if (!dl_mdl_pages_valid(source) || (target->flags & DL_MDL_PAGES_LOCKED)) return DL_ESTATE;
  uint64_t base = dl_mdl_virtual_address(source), end = base + source->byte_count;
  if (va < base || va >= end) return DL_ERANGE;
  if (length == 0) length = end - va;
  if (length > end - va) return DL_ERANGE;
  uint64_t ps = page_size(source);
  uint64_t n = dl_span_pages(va, length, ps);
  if (n > target->capacity) return DL_ENOSPACE;
  uint64_t first = (dl_page_align(va, ps) - source->start_va) / ps;
  memcpy(target->pfns, source->pfns + first, n * sizeof target->pfns[0]);
  orphan_partials(target);  /* what target described before goes away */
  target->start_va = dl_page_align(va, ps);
  target->byte_offset = (uint32_t)dl_byte_offset(va, ps);
  target->byte_count = (uint32_t)length;
  refer(&target->source, source);
  target->region_id = 0;
  target->flags = DL_MDL_PARTIAL
      | (source->flags & (DL_MDL_SOURCE_IS_NONPAGED_POOL | DL_MDL_MAPPED_TO_SYSTEM_VA
                          | DL_MDL_IO_PAGE_READ));
  return DL_OK;
}

/* MmPrepareMdlForReuse. */
void dl_mdl_prepare_for_reuse(dl_mdl *mdl) {
  if (!(mdl->flags & DL_MDL_PARTIAL)) return;
  mdl->flags &= ~(uint32_t)(DL_MDL_PARTIAL | DL_MDL_PARTIAL_HAS_BEEN_MAPPED
                            | DL_MDL_SOURCE_IS_NONPAGED_POOL | DL_MDL_MAPPED_TO_SYSTEM_VA
                            | DL_MDL_IO_PAGE_READ);
  refer(&mdl->source, NULL);
}

/* MmGetSystemAddressForMdlSafe. */
uint64_t dl_mdl_system_address(dl_mdl *mdl) {
  if (!dl_mdl_pages_valid(mdl)) return 0;
  if (mdl->owns_pages) {  /* pages of no system range: they are mapped now */
    uint64_t va = 0;
    if (mdl->map) return mdl->map->va;
    return dl_mdl_map_locked_pages(mdl, &va) == DL_OK ? va : 0;
  }
  mdl->flags |= (mdl->flags & DL_MDL_PARTIAL) ? DL_MDL_PARTIAL_HAS_BEEN_MAPPED
                                               : DL_MDL_MAPPED_TO_SYSTEM_VA;
  return dl_mdl_virtual_address(mdl);
}

dl_machine *dl_mdl_machine(const dl_mdl *mdl) { return mdl->m; }
uint64_t dl_mdl_id(const dl_mdl *mdl) { return mdl->id; }
uint64_t dl_mdl_start_va(const dl_mdl *mdl) { return mdl->start_va; }
uint32_t dl_mdl_byte_offset(const dl_mdl *mdl) { return mdl->byte_offset; }
uint32_t dl_mdl_byte_count(const dl_mdl *mdl) { return mdl->byte_count; }
uint64_t dl_mdl_virtual_address(const dl_mdl *mdl) { return mdl->start_va + mdl->byte_offset; }
uint32_t dl_mdl_flags(const dl_mdl *mdl) { return mdl->flags; }
uint64_t dl_mdl_capacity(const dl_mdl *mdl) { return mdl->capacity; }
const uint64_t *dl_mdl_pfns(const dl_mdl *mdl) { return mdl->pfns; }
dl_mdl *dl_mdl_source(const dl_mdl *mdl) { return mdl->source; }
dl_mdl *dl_mdl_next(const dl_mdl *mdl) { return mdl->next; }
void *dl_mdl_data(const dl_mdl *mdl) { return mdl->data; }
void dl_mdl_set_data(dl_mdl *mdl, void *data) { mdl->data = data; }

/* Span pages of the described range (ADDRESS_AND_SIZE_TO_SPAN_PAGES). */
uint64_t dl_mdl_page_count(const dl_mdl *mdl) {
  return dl_span_pages(mdl->byte_offset, mdl->byte_count, page_size(mdl));
}

/* Sets Next; a chain may not loop back onto its first MDL. */
int dl_mdl_set_next(dl_mdl *mdl, dl_mdl *next) {
  for (dl_mdl *p = next; p; p = p->next)
    if (p == mdl) return DL_EINVAL;
  if (next && next->m != mdl->m) return DL_EINVAL;
  refer(&mdl->next, next);
  return DL_OK;
}

/* Returns 1 if the MDL owns its pages. */
int dl_mdl_owns_pages(const dl_mdl *mdl) { return mdl->owns_pages; }

/* Returns 1 if the PFNs may be used for DMA now. */
int dl_mdl_pages_valid(const dl_mdl *mdl) {
  if (mdl->flags & DL_MDL_PARTIAL)
    return mdl->source != NULL && dl_mdl_pages_valid(mdl->source);
  if (mdl->owns_pages) return 1;
  if (!(mdl->flags & (DL_MDL_PAGES_LOCKED | DL_MDL_SOURCE_IS_NONPAGED_POOL))) return 0;
  const dl_region *r = region_of(mdl);  /* the buffer may have been freed since */
  return r != NULL && r->id == mdl->region_id;
}

/* Physical address of the byte at va inside the MDL's range. */
uint64_t dl_mdl_pa(const dl_mdl *mdl, uint64_t va) {
  uint64_t ps = page_size(mdl);
  return mdl->pfns[(va - mdl->start_va) / ps] * ps + dl_byte_offset(va, ps);
}


/* Names the pointer that holds the MDL for its owner (an IRP's MdlAddress). */
void dl_mdl_set_owner_ref(dl_mdl *mdl, dl_mdl **ref) { mdl->owner_ref = ref; }
