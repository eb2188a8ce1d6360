/*
** dl_physmem.h: simulated physical memory.
** RAM is a set of page-aligned ranges over a physical address space that may
** have holes (RAM only above 4 GiB, a hole under 4 GiB, ...). Which pages are
** allocated is kept in a two-level bitmap whose chunks exist only where
** something changed, and page contents are stored only for pages that were
** written, so a 1 TiB machine costs host memory only for what it touches.
** Pages hold real bytes: what is written at a physical address reads back.
*/
#ifndef DL_PHYSMEM_H
#define DL_PHYSMEM_H

#include <stddef.h>
#include <stdint.h>

#include "base/dl_rng.h"

typedef struct dl_physmem dl_physmem;

/* A range of physical addresses, in bytes. */
typedef struct dl_range { uint64_t base, size; } dl_range;

/* How pages are chosen for a buffer. */
typedef enum dl_alloc_policy {
  DL_ALLOC_CONTIGUOUS,  /* one physically contiguous run, lowest first */
  DL_ALLOC_SCATTERED,   /* each page at a random free PFN (from the seed) */
  DL_ALLOC_HIGH_FIRST,  /* pages above 4 GiB first: provokes bouncing */
  DL_ALLOC_LOW_FIRST,   /* lowest free pages first */
  DL_ALLOC_POLICY_COUNT
} dl_alloc_policy;

/* Physical addresses end below 2^52 (the x86-64 architectural limit);
** RAM ranges beyond it are refused. */
#define DL_PHYS_ADDRESS_BITS 52
#define DL_PHYS_ADDRESS_LIMIT (UINT64_C(1) << DL_PHYS_ADDRESS_BITS)

/* A physically contiguous run of pages. */
typedef struct dl_run { uint64_t pfn, count; } dl_run;

/* A growing list of runs (free with dl_physmem_release_runs or free()). */
typedef struct dl_runs {
  dl_run *runs;
  size_t n, cap;
} dl_runs;

/* The most runs one allocation may form: the host keeps 16 bytes a run, so
** a buffer costs host memory in proportion to its fragments, not its size. */
#define DL_MAX_RUNS (UINT64_C(1) << 22)

/* Scattered allocation picks every page at random up to this many pages;
** beyond, it picks a random free page and takes the free pages after it in
** its 8192-page chunk, so a huge buffer is a few thousand random runs. */
#define DL_SCATTER_PAGES (UINT64_C(1) << 22)

/* Counters describing the memory and what it costs the host. */
typedef struct dl_physmem_stats {
  uint64_t ram_pages;      /* pages of RAM */
  uint64_t free_pages;     /* pages of RAM not allocated */
  uint64_t touched_pages;  /* pages whose bytes are stored on the host */
  uint64_t host_bytes;     /* host memory used by the whole model */
} dl_physmem_stats;

/* Creates memory with `nranges` RAM ranges (page-aligned, non-overlapping,
** any order); page_size is a power of two from 4096 to 65536. `rng` is
** borrowed for scattered allocation. Returns a status; *out on success. */
int dl_physmem_new(uint32_t page_size, const dl_range *ranges, size_t nranges,
                   dl_rng *rng, dl_physmem **out);

/* Frees the memory model; NULL is a harmless no-op. */
void dl_physmem_free(dl_physmem *pm);

/* Returns the page size in bytes. */
uint32_t dl_physmem_page_size(const dl_physmem *pm);

/* Returns the number of RAM ranges and copies range i into *r. */
size_t dl_physmem_range_count(const dl_physmem *pm);
void dl_physmem_range(const dl_physmem *pm, size_t i, dl_range *r);

/* Allocates `n` pages by `policy` as runs in *out (which it initialises);
** all or nothing. DL_ENOSPACE if the policy cannot be satisfied, DL_ELIMIT
** beyond DL_MAX_RUNS runs or the host cap. Time and host memory grow with
** the number of runs, not of pages. */
int dl_physmem_alloc_runs(dl_physmem *pm, uint64_t n, dl_alloc_policy policy, dl_runs *out);

/* Returns every page of the runs to the free pool and empties the list. */
void dl_physmem_release_runs(dl_physmem *pm, dl_runs *runs);

/* Returns the allocated run [pfn, pfn+n) (as allocated) to the free pool. */
void dl_physmem_release_run(dl_physmem *pm, uint64_t pfn, uint64_t n);

/* Allocates `n` pages by `policy`, storing their PFNs in pfns[0..n-1].
** DL_ENOSPACE (nothing allocated) if the policy cannot be satisfied. */
int dl_physmem_alloc(dl_physmem *pm, size_t n, dl_alloc_policy policy,
                     uint64_t *pfns);

/* Allocates `n` physically contiguous pages whose addresses all lie at or
** below `max_address` and that do not cross a multiple of `boundary` bytes
** (0: no boundary); the lowest such run is taken. Stores the first PFN. */
int dl_physmem_alloc_contiguous(dl_physmem *pm, size_t n, uint64_t max_address,
                                uint64_t boundary, uint64_t *first_pfn);

/* Allocates the highest run of `n` physically contiguous free pages whose
** addresses all lie at or below `max_address` (as MmAllocateContiguousMemory
** searches down from the highest acceptable address). Stores the first PFN;
** DL_ENOSPACE if there is no such run. */
int dl_physmem_alloc_contiguous_top(dl_physmem *pm, size_t n, uint64_t max_address,
                                    uint64_t *first_pfn);

/* Returns pages to the free pool; their contents are discarded. */
void dl_physmem_release(dl_physmem *pm, const uint64_t *pfns, size_t n);

/* Returns 1 if the PFN is RAM and allocated, else 0. */
int dl_physmem_is_allocated(const dl_physmem *pm, uint64_t pfn);

/* Returns 1 if [pa, pa+len) lies entirely in RAM, else 0. */
int dl_physmem_is_ram(const dl_physmem *pm, uint64_t pa, uint64_t len);

/* Copies len bytes at physical address pa into dst (never-written RAM reads
** as zeros). DL_ENOTMAPPED if part of the range is not RAM. */
int dl_physmem_read(dl_physmem *pm, uint64_t pa, void *dst, size_t len);

/* Copies len bytes from src to physical address pa. */
int dl_physmem_write(dl_physmem *pm, uint64_t pa, const void *src, size_t len);

/* Sets len bytes at pa to `byte`; zeros store nothing (a page zeroed whole
** is forgotten), so clearing any range costs no host memory. */
int dl_physmem_fill(dl_physmem *pm, uint64_t pa, int byte, size_t len);

/* Copies len bytes from physical src to physical dst (ranges may overlap). */
int dl_physmem_copy(dl_physmem *pm, uint64_t dst, uint64_t src, size_t len);

/* Caps the host bytes the model may take (page bytes, allocation bitmaps);
** 0: no cap. What would pass it fails with DL_ELIMIT and nothing stored. */
void dl_physmem_set_host_limit(dl_physmem *pm, uint64_t bytes);

/* The cap (0: none). */
uint64_t dl_physmem_host_limit(const dl_physmem *pm);

/* How many times the cap has refused host memory (so a caller can tell
** DL_ELIMIT of the cap from other limits after the fact). */
uint64_t dl_physmem_limit_hits(const dl_physmem *pm);

/* Fills *st with the current counters. */
void dl_physmem_get_stats(const dl_physmem *pm, dl_physmem_stats *st);

#endif
