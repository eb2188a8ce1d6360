/*
** dl_vspace.c: regions kept in an array sorted by address. Addresses only
** grow, so mapping appends and lookup is a binary search.
*/
#include "memory/dl_vspace.h"

#include <stdlib.h>
#include <string.h>

#include "base/dl_status.h"
#include "base/dl_wdk.h"
#include "base/dl_vec.h"

struct dl_vspace {
  uint32_t page_size;
  uint64_t next_va;     /* page-aligned start of the next region */
  uint64_t next_id;
  dl_region **regions;
  size_t len, cap;
};

/* Creates an empty address space whose first region starts at `base`. */
int dl_vspace_new(uint32_t page_size, uint64_t base, dl_vspace **out) {
  if (!page_size || (base & (page_size - 1))) return DL_EINVAL;
  dl_vspace *vs = calloc(1, sizeof *vs);
  if (!vs) return DL_ENOMEM;
  vs->page_size = page_size;
  vs->next_va = base;
  vs->next_id = 1;
  *out = vs;
  return DL_OK;
}

static void region_free(dl_region *r) {
  if (!r) return;
  free(r->runs);
  free(r->starts);
  free(r);
}

/* Frees the address space and its region records; NULL is a no-op. */
void dl_vspace_free(dl_vspace *vs) {
  if (!vs) return;
  for (size_t i = 0; i < vs->len; i++) region_free(vs->regions[i]);
  free(vs->regions);
  free(vs);
}

/* Maps runs of physical pages as a new region after every existing one. */
int dl_vspace_map_runs(dl_vspace *vs, uint64_t length, uint32_t offset,
                       const dl_run *runs, size_t nruns, dl_region_kind kind,
                       dl_region **out) {
  uint64_t ps = vs->page_size, npages = 0;
  if (length == 0 || offset >= ps || kind >= DL_REGION_KIND_COUNT || nruns == 0) return DL_EINVAL;
  for (size_t i = 0; i < nruns; i++) npages += runs[i].count;
  if (dl_span_pages(offset, length, ps) != npages) return DL_EINVAL;
  if (npages + 1 > (UINT64_MAX - vs->next_va) / ps) return DL_ENOSPACE;  /* address space used up */
  if (dl_vec_reserve(vs->regions, vs->cap, vs->len + 1)) return DL_ENOMEM;
  int indexed = nruns > 1 && nruns < npages;
  dl_region *r = calloc(1, sizeof *r);
  if (!r || !(r->runs = malloc(nruns * sizeof *r->runs)) ||
      (indexed && !(r->starts = malloc(nruns * sizeof *r->starts)))) {
    region_free(r);
    return DL_ENOMEM;
  }
  memcpy(r->runs, runs, nruns * sizeof *r->runs);
  for (size_t i = 0, at = 0; indexed && i < nruns; at += runs[i++].count) r->starts[i] = at;
  r->nruns = nruns;
  r->va = vs->next_va + offset;
  r->length = length;
  r->npages = npages;
  r->kind = kind;
  r->id = vs->next_id++;
  vs->next_va += (npages + 1) * ps;  /* one unmapped guard page after */
  vs->regions[vs->len++] = r;
  *out = r;
  return DL_OK;
}

/* Maps physical pages (one PFN a page) as a new region. */
int dl_vspace_map(dl_vspace *vs, uint64_t length, uint32_t offset,
                  const uint64_t *pfns, uint64_t npages, dl_region_kind kind,
                  dl_region **out) {
  dl_runs runs = {0};
  for (uint64_t i = 0; i < npages; i++) {
    if (runs.n && runs.runs[runs.n - 1].pfn + runs.runs[runs.n - 1].count == pfns[i]) {
      runs.runs[runs.n - 1].count++;
      continue;
    }
    if (dl_vec_reserve(runs.runs, runs.cap, runs.n + 1)) {
      free(runs.runs);
      return DL_ENOMEM;
    }
    runs.runs[runs.n++] = (dl_run){pfns[i], 1};
  }
  int rc = npages ? dl_vspace_map_runs(vs, length, offset, runs.runs, runs.n, kind, out) : DL_EINVAL;
  free(runs.runs);
  return rc;
}

/* The index of the run holding virtual page i. */
static size_t run_index(const dl_region *r, uint64_t i) {
  if (r->nruns == 1) return 0;
  if (!r->starts) return (size_t)i;
  size_t lo = 0, hi = r->nruns;
  while (hi - lo > 1) {
    size_t mid = (lo + hi) / 2;
    if (r->starts[mid] <= i) lo = mid;
    else hi = mid;
  }
  return lo;
}

/* The physical page of virtual page i and the contiguous pages from it. */
uint64_t dl_region_run_at(const dl_region *r, uint64_t i, uint64_t *left) {
  size_t k = run_index(r, i);
  uint64_t start = r->nruns == 1 ? 0 : r->starts ? r->starts[k] : i;
  *left = r->runs[k].count - (i - start);
  return r->runs[k].pfn + (i - start);
}

/* The physical page of virtual page i: direct for one run or a run a page,
** else a binary search of the run starts. */
uint64_t dl_region_pfn(const dl_region *r, uint64_t i) {
  if (r->nruns == 1) return r->runs[0].pfn + i;
  if (!r->starts) return r->runs[i].pfn;
  size_t lo = 0, hi = r->nruns;  /* last run starting at or before i */
  while (hi - lo > 1) {
    size_t mid = (lo + hi) / 2;
    if (r->starts[mid] <= i) lo = mid;
    else hi = mid;
  }
  return r->runs[lo].pfn + (i - r->starts[lo]);
}

static size_t index_of(const dl_vspace *vs, uint64_t va) {
  size_t lo = 0, hi = vs->len;  /* first region whose va > va */
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (vs->regions[mid]->va <= va) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/* Removes a region; DL_EBUSY while it has locked pages. */
int dl_vspace_unmap(dl_vspace *vs, dl_region *r) {
  if (r->locks) return DL_EBUSY;
  size_t i = index_of(vs, r->va);
  if (i == 0 || vs->regions[i - 1] != r) return DL_EINVAL;
  memmove(&vs->regions[i - 1], &vs->regions[i], (vs->len - i) * sizeof *vs->regions);
  vs->len--;
  region_free(r);
  return DL_OK;
}

/* Returns the region wholly containing [va, va+len), or NULL. */
dl_region *dl_vspace_find(const dl_vspace *vs, uint64_t va, uint64_t len) {
  size_t i = index_of(vs, va);
  if (i == 0) return NULL;
  dl_region *r = vs->regions[i - 1];
  if (va - r->va >= r->length || len > r->length - (va - r->va)) return NULL;
  return r;
}

/* Translates a virtual address inside a region to a physical address. */
uint64_t dl_region_pa(const dl_region *r, uint64_t va, uint32_t page_size) {
  uint64_t page0 = r->va & ~(uint64_t)(page_size - 1);
  return dl_region_pfn(r, (va - page0) / page_size) * page_size + (va & (page_size - 1));
}

/* Returns the number of regions. */
size_t dl_vspace_count(const dl_vspace *vs) { return vs->len; }

/* Returns region i in address order. */
dl_region *dl_vspace_at(const dl_vspace *vs, size_t i) {
  return i < vs->len ? vs->regions[i] : NULL;
}
