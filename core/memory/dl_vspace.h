/*
** dl_vspace.h: the simulated kernel virtual address space.
** A region maps a run of virtual pages onto (any) physical pages: buffers,
** and later common buffers and mapped I/O space, are regions. Virtual
** addresses are handed out upward and never reused, with a guard page after
** each region, so a stale or overrunning address is caught rather than
** landing in someone else's memory.
*/
#ifndef DL_VSPACE_H
#define DL_VSPACE_H

#include <stddef.h>
#include <stdint.h>

#include "memory/dl_physmem.h"

typedef struct dl_vspace dl_vspace;

/* What kind of memory a region is. */
typedef enum dl_region_kind {
  DL_REGION_NONPAGED,   /* nonpaged pool: always resident */
  DL_REGION_PAGED,      /* paged pool: must be probed and locked for DMA */
  DL_REGION_COMMON,     /* a common buffer */
  DL_REGION_IO,         /* device registers mapped by MmMapIoSpace */
  DL_REGION_KIND_COUNT
} dl_region_kind;

/* A mapped region. Fields are read-only outside dl_vspace.c, except the
** counters that the MDL code keeps (locks) and the user slot `data`. */
typedef struct dl_region {
  uint64_t va;         /* first byte (page base + byte offset) */
  uint64_t length;     /* bytes */
  uint64_t npages;     /* pages spanned */
  dl_run *runs;        /* the physical pages, in virtual order, as runs */
  uint64_t *starts;    /* first virtual page index of each run (NULL: a
                          run a page, or one run) */
  size_t nruns;
  dl_region_kind kind;
  uint32_t locks;      /* MDLs holding these pages locked */
  uint32_t dma_maps;   /* live DMA mappings of its pages (the HAL keeps it) */
  uint64_t id;
  void *data;          /* user slot */
} dl_region;

/* Creates an empty address space whose first region starts at `base`. */
int dl_vspace_new(uint32_t page_size, uint64_t base, dl_vspace **out);

/* Frees the address space and its region records (not their physical
** pages: whoever mapped them releases those); NULL is a harmless no-op. */
void dl_vspace_free(dl_vspace *vs);

/* Maps `npages` physical pages (copied from pfns) as a region of `length`
** bytes starting `offset` bytes into its first page. */
int dl_vspace_map(dl_vspace *vs, uint64_t length, uint32_t offset,
                  const uint64_t *pfns, uint64_t npages, dl_region_kind kind,
                  dl_region **out);

/* Maps the pages of `nruns` runs (copied), in order, as a region; the
** host keeps the runs, not the pages, so any size costs the same. */
int dl_vspace_map_runs(dl_vspace *vs, uint64_t length, uint32_t offset,
                       const dl_run *runs, size_t nruns, dl_region_kind kind,
                       dl_region **out);

/* The physical page of virtual page i (0 = the first) of a region. */
uint64_t dl_region_pfn(const dl_region *r, uint64_t i);

/* The physical page of virtual page i and, in *left, how many pages from
** i on are physically contiguous with it (to the end of its run). */
uint64_t dl_region_run_at(const dl_region *r, uint64_t i, uint64_t *left);

/* Removes a region; DL_EBUSY while it has locked pages. */
int dl_vspace_unmap(dl_vspace *vs, dl_region *r);

/* Returns the region containing [va, va+len), or NULL if the range is not
** wholly inside one region. */
dl_region *dl_vspace_find(const dl_vspace *vs, uint64_t va, uint64_t len);

/* Translates a virtual address inside a region to a physical address. */
uint64_t dl_region_pa(const dl_region *r, uint64_t va, uint32_t page_size);

/* Returns the number of regions and region i (in address order). */
size_t dl_vspace_count(const dl_vspace *vs);
dl_region *dl_vspace_at(const dl_vspace *vs, size_t i);

#endif
