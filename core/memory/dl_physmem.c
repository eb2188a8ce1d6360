/*
** dl_physmem.c: page allocation over sparse RAM, and the bytes of pages.
**
** Allocation state is a bitmap split into chunks of 8192 pages. A chunk
** without a bitmap is uniform: all free RAM, or all hole. Bitmaps appear when
** a chunk is first allocated from (or is partly RAM) and go away when a
** chunk becomes wholly free again. Page bytes live in an open-addressing
** hash table keyed by PFN, created on first write and dropped on release.
** An access within one page (descriptors, register-sized values, a page of
** data: most of them) checks the RAM span and the page of the last access
** first and skips the piece walk.
*/
#include "memory/dl_physmem.h"

#include <stdlib.h>
#include <string.h>

#include "memory/dl_pagemap.h"
#include "base/dl_status.h"
#include "base/dl_vec.h"

#define CHUNK_SHIFT 13
#define CHUNK_PAGES (UINT64_C(1) << CHUNK_SHIFT)
#define CHUNK_WORDS (CHUNK_PAGES / 64)
#define GROUP_SHIFT 10                      /* chunks per group: a group is 32 GiB of 4 KiB pages */
#define GROUP_CHUNKS ((size_t)1 << GROUP_SHIFT)
#define GROUP_PAGES (UINT64_C(1) << (CHUNK_SHIFT + GROUP_SHIFT))
#define SCATTER_PROBES 64

typedef struct chunk {
  uint64_t *used;   /* bit set: allocated or not RAM; NULL: uniform */
  uint32_t nfree;   /* free RAM pages in the chunk */
  uint32_t nram;    /* RAM pages in the chunk */
} chunk;

/* 2^10 chunks (2^23 pages). A pristine group has no chunk array: every page
** in it is in its boot state (free if RAM), read from the RAM spans. */
typedef struct group {
  chunk *chunks;    /* NULL: pristine */
  uint64_t nfree;   /* free RAM pages in the group */
  uint64_t nram;    /* RAM pages in the group */
} group;

typedef struct span { uint64_t first, count; } span;  /* RAM, in PFNs */

struct dl_physmem {
  uint32_t page_size, shift;
  span *ram;
  size_t nram;
  uint64_t ram_pages, free_pages, end_pfn;
  group *groups;
  size_t ngroups, nlive, nbitmaps;  /* nlive: groups with a chunk array */
  dl_rng *rng;
  dl_pagemap bytes;   /* contents of pages that were written */
  uint64_t host_limit, limit_hits;
  size_t hot_span;    /* the RAM span last accessed: the first one checked */
};

static uint64_t host_bytes(const dl_physmem *pm);

/* Whether `bytes` more host memory stays within the cap; counts a refusal. */
static int charge(dl_physmem *pm, uint64_t bytes) {
  if (!pm->host_limit || host_bytes(pm) + bytes <= pm->host_limit) return DL_OK;
  pm->limit_hits++;
  return DL_ELIMIT;
}

/* ---- RAM ranges ---------------------------------------------------------- */

static int cmp_span(const void *a, const void *b) {
  const span *x = a, *y = b;
  return x->first < y->first ? -1 : x->first > y->first;
}

/* Converts byte ranges into sorted, merged PFN spans; rejects overlaps and
** addresses beyond DL_PHYS_ADDRESS_BITS. */
static int build_spans(dl_physmem *pm, const dl_range *r, size_t n) {
  pm->ram = calloc(n ? n : 1, sizeof *pm->ram);
  if (!pm->ram) return DL_ENOMEM;
  uint64_t mask = pm->page_size - 1;
  for (size_t i = 0; i < n; i++) {
    if (r[i].size == 0 || (r[i].base & mask) || (r[i].size & mask)) return DL_EINVAL;
    if (r[i].base + r[i].size < r[i].base || r[i].base + r[i].size > DL_PHYS_ADDRESS_LIMIT)
      return DL_EINVAL;
    pm->ram[i].first = r[i].base >> pm->shift;
    pm->ram[i].count = r[i].size >> pm->shift;
  }
  qsort(pm->ram, n, sizeof *pm->ram, cmp_span);
  size_t out = 0;
  for (size_t i = 0; i < n; i++) {
    if (out && pm->ram[i].first < pm->ram[out - 1].first + pm->ram[out - 1].count)
      return DL_EINVAL;  /* overlap */
    if (out && pm->ram[i].first == pm->ram[out - 1].first + pm->ram[out - 1].count)
      pm->ram[out - 1].count += pm->ram[i].count;  /* adjacent: merge */
    else
      pm->ram[out++] = pm->ram[i];
  }
  pm->nram = out;
  for (size_t i = 0; i < out; i++) pm->ram_pages += pm->ram[i].count;
  pm->free_pages = pm->ram_pages;
  pm->end_pfn = out ? pm->ram[out - 1].first + pm->ram[out - 1].count : 0;
  return out ? DL_OK : DL_EINVAL;
}

/* Index of the first span ending after pfn (nram if none). */
static size_t span_from(const dl_physmem *pm, uint64_t pfn) {
  size_t lo = 0, hi = pm->nram;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (pm->ram[mid].first + pm->ram[mid].count <= pfn) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/* Returns the span holding pfn, or NULL. */
static const span *span_of(const dl_physmem *pm, uint64_t pfn) {
  size_t i = span_from(pm, pfn);
  return i < pm->nram && pm->ram[i].first <= pfn ? &pm->ram[i] : NULL;
}

/* RAM pages in [pfn, pfn+n). */
static uint64_t ram_in(const dl_physmem *pm, uint64_t pfn, uint64_t n) {
  uint64_t total = 0, end = pfn + n;
  for (size_t i = span_from(pm, pfn); i < pm->nram && pm->ram[i].first < end; i++) {
    uint64_t a = pm->ram[i].first > pfn ? pm->ram[i].first : pfn;
    uint64_t b = pm->ram[i].first + pm->ram[i].count;
    total += (b < end ? b : end) - a;
  }
  return total;
}

/* First RAM PFN at or after pfn (UINT64_MAX if none). */
static uint64_t next_ram(const dl_physmem *pm, uint64_t pfn) {
  size_t i = span_from(pm, pfn);
  if (i == pm->nram) return UINT64_MAX;
  return pm->ram[i].first > pfn ? pm->ram[i].first : pfn;
}

/* First non-RAM PFN at or after pfn. */
static uint64_t next_hole(const dl_physmem *pm, uint64_t pfn) {
  const span *s = span_of(pm, pfn);
  return s ? s->first + s->count : pfn;
}

/* ---- the allocation bitmap ----------------------------------------------- */

static void set_bits(uint64_t *w, uint64_t from, uint64_t n, int on) {
  while (n) {
    uint64_t b = from & 63, take = 64 - b < n ? 64 - b : n;
    uint64_t mask = (take == 64 ? ~UINT64_C(0) : ((UINT64_C(1) << take) - 1)) << b;
    if (on) w[from >> 6] |= mask;
    else w[from >> 6] &= ~mask;
    from += take;
    n -= take;
  }
}

/* Gives chunk k a bitmap: all set, then the free pages cleared (a uniform
** free chunk: all clear; a uniform used one: all set). */
static int chunk_set_bitmap(dl_physmem *pm, chunk *c, uint64_t k, int limited) {
  if (limited && charge(pm, CHUNK_WORDS * sizeof *c->used)) return DL_ELIMIT;
  c->used = malloc(CHUNK_WORDS * sizeof *c->used);
  if (!c->used) return DL_ENOMEM;
  int all_free = c->nfree == CHUNK_PAGES;
  memset(c->used, all_free ? 0 : 0xff, CHUNK_WORDS * sizeof *c->used);
  if (!all_free && c->nfree) {  /* boot state of a partly-RAM chunk */
    uint64_t base = k << CHUNK_SHIFT;
    for (size_t i = span_from(pm, base); i < pm->nram && pm->ram[i].first < base + CHUNK_PAGES; i++) {
      uint64_t a = pm->ram[i].first > base ? pm->ram[i].first : base;
      uint64_t b = pm->ram[i].first + pm->ram[i].count;
      if (b > base + CHUNK_PAGES) b = base + CHUNK_PAGES;
      set_bits(c->used, a - base, b - a, 0);
    }
  }
  pm->nbitmaps++;
  return DL_OK;
}

static void chunk_drop_bitmap(dl_physmem *pm, chunk *c) {
  free(c->used);
  c->used = NULL;
  pm->nbitmaps--;
}

/* Gives the RAM count to each group. */
static int build_groups(dl_physmem *pm) {
  pm->ngroups = (size_t)((pm->end_pfn + GROUP_PAGES - 1) / GROUP_PAGES);
  pm->groups = calloc(pm->ngroups, sizeof *pm->groups);
  if (!pm->groups) return DL_ENOMEM;
  for (size_t g = 0; g < pm->ngroups; g++)
    pm->groups[g].nfree = pm->groups[g].nram = ram_in(pm, (uint64_t)g * GROUP_PAGES, GROUP_PAGES);
  return DL_OK;
}

/* Frees a group's chunks: it returns to its boot state. */
static void group_drop(dl_physmem *pm, group *g) {
  for (size_t k = 0; k < GROUP_CHUNKS; k++)
    if (g->chunks[k].used) chunk_drop_bitmap(pm, &g->chunks[k]);
  free(g->chunks);
  g->chunks = NULL;
  pm->nlive--;
}

/* Sets each chunk's nram and nfree (boot state) in one walk of the RAM
** spans over the group that starts at PFN base: one span lookup, not one
** per chunk. */
static void count_chunk_ram(const dl_physmem *pm, group *g, uint64_t base) {
  uint64_t end = base + GROUP_PAGES;
  for (size_t i = span_from(pm, base); i < pm->nram && pm->ram[i].first < end; i++) {
    uint64_t a = pm->ram[i].first > base ? pm->ram[i].first : base;
    uint64_t b = pm->ram[i].first + pm->ram[i].count;
    if (b > end) b = end;
    while (a < b) {
      uint64_t chunk_end = ((a >> CHUNK_SHIFT) + 1) << CHUNK_SHIFT, stop = chunk_end < b ? chunk_end : b;
      chunk *c = &g->chunks[(a - base) >> CHUNK_SHIFT];
      c->nram += (uint32_t)(stop - a);
      c->nfree = c->nram;
      a = stop;
    }
  }
}

/* Gives group gi its chunk array in the boot state: partly-RAM chunks get
** their bitmap. */
static int group_materialise(dl_physmem *pm, size_t gi) {
  group *g = &pm->groups[gi];
  if (g->chunks) return DL_OK;
  if (charge(pm, GROUP_CHUNKS * sizeof *g->chunks)) return DL_ELIMIT;
  if (!(g->chunks = calloc(GROUP_CHUNKS, sizeof *g->chunks))) return DL_ENOMEM;
  pm->nlive++;
  uint64_t k0 = (uint64_t)gi << GROUP_SHIFT;
  count_chunk_ram(pm, g, k0 << CHUNK_SHIFT);
  for (size_t k = 0; k < GROUP_CHUNKS; k++) {
    chunk *c = &g->chunks[k];
    if (c->nram == 0 || c->nram == CHUNK_PAGES) continue;
    int rc = chunk_set_bitmap(pm, c, k0 + k, 1);
    if (rc) {
      group_drop(pm, g);
      return rc;
    }
  }
  return DL_OK;
}

/* The chunk of pfn, or NULL in a pristine group. */
static chunk *chunk_of(const dl_physmem *pm, uint64_t pfn) {
  const group *g = &pm->groups[pfn / GROUP_PAGES];
  return g->chunks ? &g->chunks[(pfn >> CHUNK_SHIFT) & (GROUP_CHUNKS - 1)] : NULL;
}

static int page_is_free(const dl_physmem *pm, uint64_t pfn) {
  if (pfn >= pm->end_pfn) return 0;
  const chunk *c = chunk_of(pm, pfn);
  if (!c) return span_of(pm, pfn) != NULL;
  if (!c->used) return c->nfree != 0;
  uint64_t b = pfn & (CHUNK_PAGES - 1);
  return !(c->used[b >> 6] >> (b & 63) & 1);
}

/* Makes sure marking [pfn, pfn+n) taken cannot fail: groups exist, and the
** chunks the run covers only in part have a bitmap. */
static int prepare_take(dl_physmem *pm, uint64_t pfn, uint64_t n) {
  for (uint64_t g = pfn / GROUP_PAGES; g <= (pfn + n - 1) / GROUP_PAGES; g++) {
    int rc = group_materialise(pm, (size_t)g);
    if (rc) return rc;
  }
  uint64_t ends[2] = {pfn, pfn + n - 1};
  for (int i = 0; i < 2; i++) {
    uint64_t k = ends[i] >> CHUNK_SHIFT, base = k << CHUNK_SHIFT;
    chunk *c = chunk_of(pm, ends[i]);
    if (c->used || (pfn <= base && pfn + n >= base + CHUNK_PAGES)) continue;
    int rc = chunk_set_bitmap(pm, c, k, 1);
    if (rc) return rc;
  }
  return DL_OK;
}

/* Marks the free pages [pfn, pfn+n) allocated, a chunk at a time. */
static int take_run(dl_physmem *pm, uint64_t pfn, uint64_t n) {
  int rc = prepare_take(pm, pfn, n);
  if (rc) return rc;
  pm->free_pages -= n;
  while (n) {
    uint64_t off = pfn & (CHUNK_PAGES - 1), take = CHUNK_PAGES - off < n ? CHUNK_PAGES - off : n;
    chunk *c = chunk_of(pm, pfn);
    if (c->used) set_bits(c->used, off, take, 1);
    c->nfree -= (uint32_t)take;
    pm->groups[pfn / GROUP_PAGES].nfree -= take;
    pfn += take;
    n -= take;
  }
  return DL_OK;
}

static void drop_bytes(dl_physmem *pm, uint64_t pfn, uint64_t n);

/* Marks the allocated pages [pfn, pfn+n) free and forgets their bytes; a
** group wholly back in its boot state loses its chunk array. */
static void give_run(dl_physmem *pm, uint64_t pfn, uint64_t n) {
  drop_bytes(pm, pfn, n);
  pm->free_pages += n;
  while (n) {
    uint64_t off = pfn & (CHUNK_PAGES - 1), give = CHUNK_PAGES - off < n ? CHUNK_PAGES - off : n;
    chunk *c = chunk_of(pm, pfn);
    group *g = &pm->groups[pfn / GROUP_PAGES];
    if (!c->used && give < CHUNK_PAGES && chunk_set_bitmap(pm, c, pfn >> CHUNK_SHIFT, 0)) {
      pm->free_pages -= give;  /* no host memory to split the chunk: the pages stay taken */
    } else {
      if (c->used) set_bits(c->used, off, give, 0);
      c->nfree += (uint32_t)give;
      g->nfree += give;
      if (c->nfree == CHUNK_PAGES && c->used) chunk_drop_bitmap(pm, c);
      if (g->nfree == g->nram) group_drop(pm, g);
    }
    pfn += give;
    n -= give;
  }
}

/* First free PFN in [pfn, limit), or limit; skips full chunks and groups
** whole, and reads pristine groups from the spans. */
static uint64_t next_free(const dl_physmem *pm, uint64_t pfn, uint64_t limit) {
  while (pfn < limit) {
    const group *g = &pm->groups[pfn / GROUP_PAGES];
    uint64_t gend = (pfn / GROUP_PAGES + 1) * GROUP_PAGES;
    if (g->nfree == 0) { pfn = gend; continue; }
    if (!g->chunks) {
      uint64_t r = next_ram(pm, pfn);
      if (r < gend) return r < limit ? r : limit;
      pfn = gend;
      continue;
    }
    const chunk *c = chunk_of(pm, pfn);
    uint64_t base = pfn & ~(CHUNK_PAGES - 1), cend = base + CHUNK_PAGES;
    if (c->nfree == 0) { pfn = cend; continue; }
    if (!c->used) return pfn;
    uint64_t w = (pfn - base) >> 6;
    uint64_t bits = ~c->used[w] & (~UINT64_C(0) << (pfn & 63));
    for (;;) {
      if (bits) {
        uint64_t hit = base + w * 64 + (uint64_t)__builtin_ctzll(bits);
        return hit < limit ? hit : limit;
      }
      if (++w == CHUNK_WORDS) break;
      bits = ~c->used[w];
    }
    pfn = cend;
  }
  return limit;
}

/* First PFN in [pfn, limit) that is not free, or limit. */
static uint64_t next_used(const dl_physmem *pm, uint64_t pfn, uint64_t limit) {
  while (pfn < limit) {
    const group *g = &pm->groups[pfn / GROUP_PAGES];
    uint64_t gend = (pfn / GROUP_PAGES + 1) * GROUP_PAGES;
    if (!g->chunks) {
      uint64_t h = next_hole(pm, pfn);
      if (h < gend) return h < limit ? h : limit;
      pfn = gend;
      continue;
    }
    const chunk *c = chunk_of(pm, pfn);
    uint64_t base = pfn & ~(CHUNK_PAGES - 1), cend = base + CHUNK_PAGES;
    if (!c->used) {
      if (c->nfree == 0) return pfn;
      pfn = cend;
      continue;
    }
    uint64_t w = (pfn - base) >> 6;
    uint64_t bits = c->used[w] & (~UINT64_C(0) << (pfn & 63));
    for (;;) {
      if (bits) {
        uint64_t hit = base + w * 64 + (uint64_t)__builtin_ctzll(bits);
        return hit < limit ? hit : limit;
      }
      if (++w == CHUNK_WORDS) break;
      bits = c->used[w];
    }
    pfn = cend;
  }
  return limit;
}

/* The r-th free page (0-based) of the whole memory; r < free_pages. */
static uint64_t nth_free(const dl_physmem *pm, uint64_t r) {
  size_t gi = 0;
  while (r >= pm->groups[gi].nfree) r -= pm->groups[gi++].nfree;
  const group *g = &pm->groups[gi];
  uint64_t gbase = (uint64_t)gi * GROUP_PAGES;
  if (!g->chunks) {  /* the r-th RAM page of the group */
    for (size_t i = span_from(pm, gbase);; i++) {
      uint64_t a = pm->ram[i].first > gbase ? pm->ram[i].first : gbase;
      uint64_t n = pm->ram[i].first + pm->ram[i].count - a;
      if (r < n) return a + r;
      r -= n;
    }
  }
  size_t k = 0;
  while (r >= g->chunks[k].nfree) r -= g->chunks[k++].nfree;
  const chunk *c = &g->chunks[k];
  uint64_t base = gbase + ((uint64_t)k << CHUNK_SHIFT);
  if (!c->used) return base + r;
  for (uint64_t w = 0;; w++) {
    uint64_t bits = ~c->used[w];
    uint64_t n = (uint64_t)__builtin_popcountll(bits);
    if (r < n) {
      while (r--) bits &= bits - 1;  /* drop the lowest set bits */
      return base + w * 64 + (uint64_t)__builtin_ctzll(bits);
    }
    r -= n;
  }
}

/* A random free page: random RAM probes first (memory is mostly free),
** then an exact pick among the free pages so the call always succeeds. */
static uint64_t random_free(dl_physmem *pm) {
  for (int i = 0; i < SCATTER_PROBES; i++) {
    uint64_t r = dl_rng_below(pm->rng, pm->ram_pages);
    size_t s = 0;
    while (r >= pm->ram[s].count) r -= pm->ram[s++].count;
    uint64_t pfn = pm->ram[s].first + r;
    if (page_is_free(pm, pfn)) return pfn;
  }
  return nth_free(pm, dl_rng_below(pm->rng, pm->free_pages));
}

/* ---- page bytes ---------------------------------------------------------- */

static void drop_bytes(dl_physmem *pm, uint64_t pfn, uint64_t n) {
  dl_pagemap_drop_range(&pm->bytes, pfn, n);
}

/* The bytes of pfn, created zeroed (within the host cap) if `create`. */
static uint8_t *page_bytes(dl_physmem *pm, uint64_t pfn, int create, int *rc) {
  uint8_t *p = dl_pagemap_get(&pm->bytes, pfn);
  if (p || !create) return p;
  if ((*rc = charge(pm, dl_pagemap_cost_of_one(&pm->bytes)))) return NULL;
  p = dl_pagemap_get_or_create(&pm->bytes, pfn);
  if (!p) *rc = DL_ENOMEM;
  return p;
}

/* ---- public API ---------------------------------------------------------- */

/* Creates a memory model over the given RAM ranges. */
int dl_physmem_new(uint32_t page_size, const dl_range *ranges, size_t nranges,
                   dl_rng *rng, dl_physmem **out) {
  if (page_size < 4096 || page_size > 65536 || (page_size & (page_size - 1)))
    return DL_EINVAL;
  if (!ranges || !rng || !out) return DL_EINVAL;
  dl_physmem *pm = calloc(1, sizeof *pm);
  if (!pm) return DL_ENOMEM;
  pm->page_size = page_size;
  pm->shift = (uint32_t)__builtin_ctz(page_size);
  pm->rng = rng;
  dl_pagemap_init(&pm->bytes, page_size);
  int rc = build_spans(pm, ranges, nranges);
  if (!rc) rc = build_groups(pm);
  if (rc) {
    dl_physmem_free(pm);
    return rc;
  }
  *out = pm;
  return DL_OK;
}

/* Frees the memory model; NULL is a harmless no-op. */
void dl_physmem_free(dl_physmem *pm) {
  if (!pm) return;
  for (size_t g = 0; pm->groups && g < pm->ngroups; g++)
    if (pm->groups[g].chunks) group_drop(pm, &pm->groups[g]);
  dl_pagemap_clear(&pm->bytes);
  free(pm->groups);
  free(pm->ram);
  free(pm);
}

/* Caps the host bytes the model may take (0: no cap). */
void dl_physmem_set_host_limit(dl_physmem *pm, uint64_t bytes) { pm->host_limit = bytes; }

/* The cap, and how many times it refused host memory. */
uint64_t dl_physmem_host_limit(const dl_physmem *pm) { return pm->host_limit; }
uint64_t dl_physmem_limit_hits(const dl_physmem *pm) { return pm->limit_hits; }

/* Returns the page size in bytes. */
uint32_t dl_physmem_page_size(const dl_physmem *pm) { return pm->page_size; }

/* Returns the number of (merged) RAM ranges. */
size_t dl_physmem_range_count(const dl_physmem *pm) { return pm->nram; }

/* Copies RAM range i, in bytes, into *r. */
void dl_physmem_range(const dl_physmem *pm, size_t i, dl_range *r) {
  r->base = pm->ram[i].first << pm->shift;
  r->size = pm->ram[i].count << pm->shift;
}

/* Appends run [pfn, pfn+n) to *out (merged with the last when adjacent). */
static int push_run(dl_runs *out, uint64_t pfn, uint64_t n) {
  if (out->n && out->runs[out->n - 1].pfn + out->runs[out->n - 1].count == pfn) {
    out->runs[out->n - 1].count += n;
    return DL_OK;
  }
  if (out->n >= DL_MAX_RUNS) return DL_ELIMIT;
  if (dl_vec_reserve(out->runs, out->cap, out->n + 1)) return DL_ENOMEM;
  out->runs[out->n++] = (dl_run){pfn, n};
  return DL_OK;
}

/* Takes the free run [pfn, pfn+n) and appends it. */
static int take_push(dl_physmem *pm, dl_runs *out, uint64_t pfn, uint64_t n) {
  int rc = take_run(pm, pfn, n);
  if (!rc && (rc = push_run(out, pfn, n))) give_run(pm, pfn, n);
  return rc;
}

/* Scattered: a random free page each; past DL_SCATTER_PAGES pages, the
** chunk of a random free page (from its start if wholly free, else the free
** pages after it), a run each. */
static int alloc_scattered(dl_physmem *pm, uint64_t n, dl_runs *out) {
  int coarse = n > DL_SCATTER_PAGES;
  for (uint64_t got = 0; got < n;) {
    uint64_t pfn = random_free(pm), len = 1;
    if (coarse) {  /* a wholly free chunk is taken from its start: no bitmap */
      uint64_t base = pfn & ~(CHUNK_PAGES - 1);
      if (next_used(pm, base, base + CHUNK_PAGES) == base + CHUNK_PAGES) pfn = base;
      uint64_t cend = base + CHUNK_PAGES, want = pfn + (n - got);
      len = next_used(pm, pfn, cend < want ? cend : want) - pfn;
    }
    int rc = take_push(pm, out, pfn, len);
    if (rc) return rc;
    got += len;
  }
  return DL_OK;
}

/* Lowest (or, from 4 GiB up, then wrapping: high_first) free runs. */
static int alloc_in_order(dl_physmem *pm, uint64_t n, uint64_t cursor, dl_runs *out) {
  for (uint64_t got = 0; got < n;) {
    uint64_t pfn = next_free(pm, cursor, pm->end_pfn);
    if (pfn == pm->end_pfn) pfn = next_free(pm, 0, pm->end_pfn);  /* wrap */
    uint64_t want = pfn + (n - got), stop = want < pm->end_pfn ? want : pm->end_pfn;
    uint64_t len = next_used(pm, pfn, stop) - pfn;
    int rc = take_push(pm, out, pfn, len);
    if (rc) return rc;
    got += len;
    cursor = pfn + len;
  }
  return DL_OK;
}

/* Allocates n pages by policy as physically contiguous runs; all or nothing. */
int dl_physmem_alloc_runs(dl_physmem *pm, uint64_t n, dl_alloc_policy policy, dl_runs *out) {
  memset(out, 0, sizeof *out);
  if (n == 0 || policy >= DL_ALLOC_POLICY_COUNT) return DL_EINVAL;
  if (n > pm->free_pages) return DL_ENOSPACE;
  int rc;
  if (policy == DL_ALLOC_CONTIGUOUS) {
    uint64_t first;
    rc = dl_physmem_alloc_contiguous(pm, n, UINT64_MAX, 0, &first);
    if (!rc && (rc = push_run(out, first, n))) give_run(pm, first, n);
  } else if (policy == DL_ALLOC_SCATTERED) {
    rc = alloc_scattered(pm, n, out);
  } else {
    uint64_t high = UINT64_C(1) << (32 - pm->shift);  /* first PFN above 4 GiB */
    uint64_t cursor = (policy == DL_ALLOC_HIGH_FIRST && high < pm->end_pfn) ? high : 0;
    rc = alloc_in_order(pm, n, cursor, out);
  }
  if (rc) dl_physmem_release_runs(pm, out);
  return rc;
}

/* Returns the runs' pages and frees the list. */
void dl_physmem_release_runs(dl_physmem *pm, dl_runs *runs) {
  for (size_t i = 0; i < runs->n; i++) give_run(pm, runs->runs[i].pfn, runs->runs[i].count);
  dl_vec_free(runs->runs, runs->cap);
  runs->n = 0;
}

/* Returns the allocated run [pfn, pfn+n) to the free pool. */
void dl_physmem_release_run(dl_physmem *pm, uint64_t pfn, uint64_t n) {
  if (n) give_run(pm, pfn, n);
}

/* Allocates n pages by policy into pfns[]; all or nothing. */
int dl_physmem_alloc(dl_physmem *pm, size_t n, dl_alloc_policy policy, uint64_t *pfns) {
  dl_runs runs;
  int rc = dl_physmem_alloc_runs(pm, n, policy, &runs);
  for (size_t i = 0, k = 0; !rc && i < runs.n; i++)
    for (uint64_t j = 0; j < runs.runs[i].count; j++) pfns[k++] = runs.runs[i].pfn + j;
  dl_vec_free(runs.runs, runs.cap);
  return rc;
}

/* Allocates n contiguous pages at or below max_address, within boundary. */
int dl_physmem_alloc_contiguous(dl_physmem *pm, size_t n, uint64_t max_address,
                                uint64_t boundary, uint64_t *first_pfn) {
  if (n == 0 || (boundary & (pm->page_size - 1))) return DL_EINVAL;
  uint64_t bpages = boundary >> pm->shift;
  if (bpages && n > bpages) return DL_ENOSPACE;
  uint64_t limit = pm->end_pfn;
  if (max_address < (pm->end_pfn << pm->shift) - 1) limit = (max_address + 1) >> pm->shift;
  uint64_t p = 0;
  for (;;) {
    p = next_free(pm, p, limit);
    if (p >= limit || n > limit - p) return DL_ENOSPACE;
    if (bpages) {
      uint64_t window_end = (p / bpages + 1) * bpages;
      if (p + n > window_end) { p = window_end; continue; }
    }
    uint64_t q = next_used(pm, p, p + n);
    if (q == p + n) break;
    p = q;
  }
  int rc = take_run(pm, p, n);
  if (!rc) *first_pfn = p;
  return rc;
}

/* Allocates the highest run of n free pages at or below max_address. */
int dl_physmem_alloc_contiguous_top(dl_physmem *pm, size_t n, uint64_t max_address,
                                    uint64_t *first_pfn) {
  if (n == 0) return DL_EINVAL;
  uint64_t limit = pm->end_pfn;
  if (max_address < (pm->end_pfn << pm->shift) - 1) limit = (max_address + 1) >> pm->shift;
  for (size_t s = pm->nram; s-- > 0;) {
    uint64_t lo = pm->ram[s].first, hi = lo + pm->ram[s].count;
    if (hi > limit) hi = limit;
    while (hi >= lo + n) {
      uint64_t p = hi - n, q = next_used(pm, p, hi);
      if (q < hi) {  /* a run through q is not free; above q is too short */
        hi = q;
        continue;
      }
      int rc = take_run(pm, p, n);
      if (!rc) *first_pfn = p;
      return rc;
    }
  }
  return DL_ENOSPACE;
}

/* Returns pages to the free pool; pages not allocated are ignored. */
void dl_physmem_release(dl_physmem *pm, const uint64_t *pfns, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (dl_physmem_is_allocated(pm, pfns[i])) give_run(pm, pfns[i], 1);
}

/* Returns 1 if the PFN is RAM and allocated. */
int dl_physmem_is_allocated(const dl_physmem *pm, uint64_t pfn) {
  return span_of(pm, pfn) != NULL && !page_is_free(pm, pfn);
}

/* Returns 1 if [pa, pa+len) lies entirely in RAM. */
int dl_physmem_is_ram(const dl_physmem *pm, uint64_t pa, uint64_t len) {
  if (len == 0 || pa + len - 1 < pa) return 0;
  const span *s = span_of(pm, pa >> pm->shift);
  return s && ((pa + len - 1) >> pm->shift) < s->first + s->count;
}

/* Whether pfn lies in the RAM span of the last access: one compare. */
static inline int in_hot_span(const dl_physmem *pm, uint64_t pfn) {
  const span *s = &pm->ram[pm->hot_span];
  return pfn - s->first < s->count;
}

/* Whether [pa, pa+len) (len > 0) lies in RAM by a search of the spans,
** remembering the span found as the next first guess. */
static int find_ram(dl_physmem *pm, uint64_t pa, size_t len) {
  if (!dl_physmem_is_ram(pm, pa, len)) return 0;
  pm->hot_span = span_from(pm, pa >> pm->shift);
  return 1;
}

/* Whether [pa, pa+len) (len > 0) lies in RAM: the span of the last access
** first (accesses cluster), else the search. */
static inline int in_ram(dl_physmem *pm, uint64_t pa, size_t len) {
  uint64_t last = pa + len - 1;
  return (last >= pa && in_hot_span(pm, pa >> pm->shift) && in_hot_span(pm, last >> pm->shift)) ||
         find_ram(pm, pa, len);
}

/* Applies op to each page piece of [pa, pa+len). */
typedef void (*piece_fn)(uint8_t *page, size_t off, size_t n, void *ctx);

static int for_pieces(dl_physmem *pm, uint64_t pa, size_t len, int create,
                      piece_fn op, void *ctx) {
  if (len == 0) return DL_OK;
  if (!in_ram(pm, pa, len)) return DL_ENOTMAPPED;
  while (len) {
    size_t off = (size_t)(pa & (pm->page_size - 1));
    size_t n = pm->page_size - off < len ? pm->page_size - off : len;
    int rc = DL_OK;
    uint8_t *page = page_bytes(pm, pa >> pm->shift, create, &rc);
    if (rc) return rc;
    op(page, off, n, ctx);
    pa += n;
    len -= n;
  }
  return DL_OK;
}

static void read_piece(uint8_t *page, size_t off, size_t n, void *ctx) {
  uint8_t **dst = ctx;
  if (page) memcpy(*dst, page + off, n);
  else memset(*dst, 0, n);
  *dst += n;
}

static void write_piece(uint8_t *page, size_t off, size_t n, void *ctx) {
  const uint8_t **src = ctx;
  memcpy(page + off, *src, n);
  *src += n;
}

/* Whether [pa, pa+len) is non-empty, within one page and in RAM: the
** common access (a descriptor, a register-sized value, a page of data),
** which skips the piece walk. */
static inline int one_ram_page(dl_physmem *pm, uint64_t pa, size_t len) {
  size_t off = (size_t)(pa & (pm->page_size - 1));
  return len - 1 < pm->page_size - off && (in_hot_span(pm, pa >> pm->shift) || find_ram(pm, pa, len));
}

/* Copies len bytes at pa into dst; never-written RAM reads as zeros. */
int dl_physmem_read(dl_physmem *pm, uint64_t pa, void *dst, size_t len) {
  if (one_ram_page(pm, pa, len)) {
    const uint8_t *page = dl_pagemap_get(&pm->bytes, pa >> pm->shift);
    if (page) memcpy(dst, page + (pa & (pm->page_size - 1)), len);
    else memset(dst, 0, len);
    return DL_OK;
  }
  uint8_t *cursor = dst;
  return for_pieces(pm, pa, len, 0, read_piece, &cursor);
}

/* Copies len bytes from src to pa. */
int dl_physmem_write(dl_physmem *pm, uint64_t pa, const void *src, size_t len) {
  if (one_ram_page(pm, pa, len)) {
    int rc = DL_OK;
    uint8_t *page = dl_pagemap_get(&pm->bytes, pa >> pm->shift);
    if (!page && !(page = page_bytes(pm, pa >> pm->shift, 1, &rc))) return rc;
    memcpy(page + (pa & (pm->page_size - 1)), src, len);
    return DL_OK;
  }
  const uint8_t *cursor = src;
  return for_pieces(pm, pa, len, 1, write_piece, &cursor);
}

/* Sets len bytes at pa to byte. Zeros store nothing: a page never written
** stays so, and a stored page zeroed whole is forgotten, so clearing a huge
** range costs no host memory. */
int dl_physmem_fill(dl_physmem *pm, uint64_t pa, int byte, size_t len) {
  byte &= 0xff;
  if (len && !in_ram(pm, pa, len)) return DL_ENOTMAPPED;
  while (len) {
    size_t off = (size_t)(pa & (pm->page_size - 1));
    size_t n = pm->page_size - off < len ? pm->page_size - off : len;
    uint64_t pfn = pa >> pm->shift;
    int rc = DL_OK;
    if (byte == 0 && n == pm->page_size) {  /* every whole page up to the tail at once */
      n = len & ~(size_t)(pm->page_size - 1);
      dl_pagemap_drop_range(&pm->bytes, pfn, n >> pm->shift);
    } else {
      uint8_t *page = page_bytes(pm, pfn, byte != 0, &rc);
      if (rc) return rc;
      if (page) memset(page + off, byte, n);
    }
    pa += n;
    len -= n;
  }
  return DL_OK;
}

/* Copies len bytes from physical src to physical dst, a page at a time
** through a bounce so overlapping ranges behave like memmove. */
int dl_physmem_copy(dl_physmem *pm, uint64_t dst, uint64_t src, size_t len) {
  if (!dl_physmem_is_ram(pm, src, len) || !dl_physmem_is_ram(pm, dst, len))
    return len ? DL_ENOTMAPPED : DL_OK;
  uint8_t tmp[4096];
  int backward = dst > src && dst < src + len;
  while (len) {
    size_t n = len < sizeof tmp ? len : sizeof tmp;
    uint64_t at = backward ? len - n : 0;
    int rc = dl_physmem_read(pm, src + at, tmp, n);
    if (!rc) rc = dl_physmem_write(pm, dst + at, tmp, n);
    if (rc) return rc;
    if (!backward) { src += n; dst += n; }
    len -= n;
  }
  return DL_OK;
}

static uint64_t host_bytes(const dl_physmem *pm) {
  return sizeof *pm + pm->nram * sizeof *pm->ram + pm->ngroups * sizeof *pm->groups
       + pm->nlive * GROUP_CHUNKS * sizeof(chunk)
       + pm->nbitmaps * CHUNK_WORDS * sizeof(uint64_t) + dl_pagemap_host_bytes(&pm->bytes);
}

/* Fills *st with the current counters. */
void dl_physmem_get_stats(const dl_physmem *pm, dl_physmem_stats *st) {
  st->ram_pages = pm->ram_pages;
  st->free_pages = pm->free_pages;
  st->touched_pages = pm->bytes.len;
  st->host_bytes = host_bytes(pm);
}
