/*
** dl_mdl.h: memory descriptor lists, with the WDK's semantics.
** An MDL describes a virtual range (StartVa, ByteOffset, ByteCount) and the
** physical page behind each virtual page of it. Its PFNs are valid only once
** it is built for nonpaged pool or probed and locked; a partial MDL borrows
** them from a source MDL and is valid only while that source is.
*/
#ifndef DL_MDL_H
#define DL_MDL_H

#include <stdint.h>

#include "base/dl_list.h"
#include "machine/dl_object.h"

typedef struct dl_machine dl_machine;
typedef struct dl_mdl dl_mdl;

/* MdlFlags bits, with the WDK's values. */
enum {
  DL_MDL_MAPPED_TO_SYSTEM_VA = 0x0001,
  DL_MDL_PAGES_LOCKED = 0x0002,
  DL_MDL_SOURCE_IS_NONPAGED_POOL = 0x0004,
  DL_MDL_ALLOCATED_FIXED_SIZE = 0x0008,
  DL_MDL_PARTIAL = 0x0010,
  DL_MDL_PARTIAL_HAS_BEEN_MAPPED = 0x0020,
  DL_MDL_IO_PAGE_READ = 0x0040,
  DL_MDL_WRITE_OPERATION = 0x0080
};

/* LOCK_OPERATION values for dl_mdl_probe_and_lock. */
enum { DL_IO_READ_ACCESS = 0, DL_IO_WRITE_ACCESS = 1, DL_IO_MODIFY_ACCESS = 2 };

/* IoAllocateMdl: an MDL for [va, va+length) with room for its span pages;
** length 1 .. 4 GiB - page size. The range need not be mapped yet. */
int dl_mdl_allocate(dl_machine *m, uint64_t va, uint64_t length, dl_mdl **out);

/* IoFreeMdl: DL_EBUSY, and nothing freed, if the MDL's pages are still
** locked or an object still needs it (dl_machine_holder: a waiting
** GetScatterGatherList request, a live mapping, an initialized KMDF
** transaction). Partial MDLs built from it lose their source. */
int dl_mdl_free(dl_mdl *mdl);

/* Frees an MDL whatever its state (unlocking it first): for teardown. */
void dl_mdl_destroy(dl_mdl *mdl);

/* MmBuildMdlForNonPagedPool: fills the PFNs of a range in nonpaged memory.
** DL_ENOTMAPPED if the range is not mapped, DL_EINVAL if it is paged. */
int dl_mdl_build_for_nonpaged_pool(dl_mdl *mdl);

/* MmProbeAndLockPages: fills the PFNs and locks the pages. DL_ESTATE if the
** MDL is already locked or is partial, DL_ENOTMAPPED if not mapped. */
int dl_mdl_probe_and_lock(dl_mdl *mdl, int operation);

/* MmUnlockPages: DL_ESTATE unless the MDL was probed and locked. */
int dl_mdl_unlock(dl_mdl *mdl);

/* IoBuildPartialMdl: makes `target` describe [va, va+length) of `source`
** (length 0: to the end of source). DL_ESTATE if source's pages are not
** valid or target is locked, DL_ERANGE if the range is not inside source, DL_ENOSPACE if target
** was allocated too small. */
int dl_mdl_build_partial(dl_mdl *source, dl_mdl *target, uint64_t va, uint64_t length);

/* MmPrepareMdlForReuse: a partial MDL forgets its source. */
void dl_mdl_prepare_for_reuse(dl_mdl *mdl);

/* MmGetSystemAddressForMdlSafe: the system address of the described range
** (buffers live in system space), marking the MDL mapped; 0 if its pages
** are not valid. */
uint64_t dl_mdl_system_address(dl_mdl *mdl);

/* Returns 1 if the MDL owns its pages (MmAllocatePagesForMdl). */
int dl_mdl_owns_pages(const dl_mdl *mdl);

/* Accessors (the WDK's MDL fields and macros). */
dl_machine *dl_mdl_machine(const dl_mdl *mdl);
uint64_t dl_mdl_id(const dl_mdl *mdl);
uint64_t dl_mdl_start_va(const dl_mdl *mdl);       /* page-aligned */
uint32_t dl_mdl_byte_offset(const dl_mdl *mdl);
uint32_t dl_mdl_byte_count(const dl_mdl *mdl);
uint64_t dl_mdl_virtual_address(const dl_mdl *mdl); /* StartVa + ByteOffset */
uint32_t dl_mdl_flags(const dl_mdl *mdl);
uint64_t dl_mdl_page_count(const dl_mdl *mdl);     /* span pages described */
uint64_t dl_mdl_capacity(const dl_mdl *mdl);       /* PFN slots allocated */
const uint64_t *dl_mdl_pfns(const dl_mdl *mdl);
dl_mdl *dl_mdl_source(const dl_mdl *mdl);           /* of a partial MDL */

/* Next in a chain; setting it to the MDL itself is DL_EINVAL. */
dl_mdl *dl_mdl_next(const dl_mdl *mdl);
int dl_mdl_set_next(dl_mdl *mdl, dl_mdl *next);

/* Returns 1 if the PFNs describe memory that may be used for DMA now:
** built for nonpaged pool over a still-mapped range, probed and locked, or
** partial over a source for which this holds. */
int dl_mdl_pages_valid(const dl_mdl *mdl);

/* Physical address of the byte at virtual address va, which must lie in the
** MDL's described range. */
uint64_t dl_mdl_pa(const dl_mdl *mdl, uint64_t va);

/* The user slot, for the binding. */
void *dl_mdl_data(const dl_mdl *mdl);
void dl_mdl_set_data(dl_mdl *mdl, void *data);

/* Names the pointer that holds the MDL for its owner (an IRP's
** MdlAddress): freeing the MDL clears it, so the owner sees a driver freed
** what was not its own. NULL forgets it. */
void dl_mdl_set_owner_ref(dl_mdl *mdl, dl_mdl **ref);

/* The MDL type, and the next live MDL after `after` (the first if NULL). */
extern const dl_object_type dl_mdl_type;
dl_mdl *dl_mdl_next_live(dl_machine *m, const dl_mdl *after);

/* ---- MDLs that own their pages (dl_mdlpages.c) ----------------------------- */

/* Parameter 1 values of bug check 0xC4 for these calls. */
#define DL_C4_MAP_IRQL 0x76u          /* MmMapLockedPagesSpecifyCache above DISPATCH_LEVEL */
#define DL_C4_ALLOC_PAGES_IRQL 0x7Eu  /* MmAllocatePagesForMdl(Ex)/MmFreePagesFromMdl above it */
#define DL_C4_MAP_FLAGS 0xB2u         /* mapping an MDL already mapped (incorrect MdlFlags) */
#define DL_C4_STILL_MAPPED 0xB8u      /* its pages are still mapped (unmap first) */

/* MmAllocatePagesForMdl(Ex): an MDL of ceil(total / page size) pages taken
** from physical memory between low and high (skip ignored: every page of
** the machine is a candidate), lowest first; its VA range starts at 0 and
** is not mapped. DL_ENOSPACE if the pages are not there (the WDK returns
** NULL), DL_EINVAL for a zero or over-4 GiB total. */
int dl_mdl_allocate_pages(dl_machine *m, uint64_t low, uint64_t high, uint64_t total,
                          dl_mdl **out);

/* MmFreePagesFromMdl: gives the pages back (a mapping still there is
** reported 0xC4/0xB8 and removed). DL_ESTATE if the MDL owns no pages. */
int dl_mdl_free_pages(dl_mdl *mdl);

/* MmMapLockedPagesSpecifyCache (KernelMode): the system address of the
** MDL's pages, mapping an MDL of allocated pages into the address space;
** an MDL already mapped is reported 0xC4/0xB2 and keeps its address.
** DL_ESTATE if its pages are not valid (not locked or built). */
int dl_mdl_map_locked_pages(dl_mdl *mdl, uint64_t *va);

/* MmUnmapLockedPages: DL_EINVAL unless va is what the map returned. */
int dl_mdl_unmap_locked_pages(dl_mdl *mdl, uint64_t va);

/* The MDL's MappedSystemVa: its system address while it has one, else 0. */
uint64_t dl_mdl_mapped_system_va(const dl_mdl *mdl);

/* MmInitializeMdl: describes [va, va+length) anew (MdlFlags 0): a driver's
** own MDL. DL_ENOSPACE if the span needs more PFN slots than the MDL has,
** DL_ESTATE while it is locked, partial, owns pages or other MDLs point at it. */
int dl_mdl_initialize(dl_mdl *mdl, uint64_t va, uint64_t length);

/* Teardown of an MDL owning pages (dl_mdl_destroy): unmaps and frees them. */
void dl_mdl_drop_pages(dl_mdl *mdl);

#endif
