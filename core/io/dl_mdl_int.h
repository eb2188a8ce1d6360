/*
** dl_mdl_int.h: the MDL structure, shared by dl_mdl.c (MDLs over virtual
** ranges) and dl_mdlpages.c (MDLs that own their pages:
** MmAllocatePagesForMdl and the mappings of MmMapLockedPagesSpecifyCache).
*/
#ifndef DL_MDL_INT_H
#define DL_MDL_INT_H

#include <stdint.h>

#include "io/dl_mdl.h"
#include "memory/dl_vspace.h"

struct dl_mdl {
  DL_OBJECT_FIELDS
  dl_mdl *next;           /* the WDK's Next */
  dl_mdl *source;         /* partial MDLs: where the PFNs came from */
  uint64_t start_va;
  uint32_t byte_offset, byte_count;
  uint32_t flags;
  uint64_t region_id;     /* region the PFNs were taken from, 0 if none */
  uint64_t capacity;      /* PFN slots */
  dl_mdl **owner_ref;     /* an IRP's MdlAddress: cleared when the MDL is freed */
  uint32_t referrers;     /* Next and source pointers of other MDLs naming this one */
  int owns_pages;         /* MmAllocatePagesForMdl: its PFNs are pages it holds */
  dl_region *map;         /* MmMapLockedPagesSpecifyCache's mapping of them, or NULL */
  uint64_t pfns[];
};

#endif
