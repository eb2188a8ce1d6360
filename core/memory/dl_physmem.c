/*
** dl_physmem.c: page allocation over sparse RAM, and the bytes of pages.
**
** Allocation state is a bitmap split into chunks of 8192 pages. A chunk
** without a bitmap is uniform: all free RAM, or all hole. Bitmaps appear when
** a chunk is first allocated from (or is partly RAM) and go away when a
** chunk becomes wholly free again. Page bytes live in an open-addressing
** hash table keyed by PFN, created on first write and dropped on release.
*/
#include "memory/dl_physmem.h"

#include <stdlib.h>
#include <string.h>

#include "memory/dl_pagemap.h"
#include "base/dl_status.h"

#define CHUNK_SHIFT 13
#define CHUNK_PAGES (UINT64_C(1) << CHUNK_SHIFT)
#define CHUNK_WORDS (CHUNK_PAGES / 64)
#define SCATTER_PROBES 64

typedef struct chunk {
  uint64_t *used;   /* bit set: allocated or not RAM; NULL: uniform */
  uint32_t nfree;   /* free RAM pages in the chunk */
  uint32_t nram;    /* RAM pages in the chunk */
} chunk;

typedef struct span { uint64_t first, count; } span;  /* RAM, in PFNs */

struct dl_physmem {
  uint32_t page_size, shift;
  span *ram;
  size_t nram;
  uint64_t ram_pages, free_pages, end_pfn;
  chunk *chunks;
  size_t nchunks, nbitmaps;
  dl_rng *rng;
  dl_pagemap bytes;   /* contents of pages that were written */
};

/* ---- RAM ranges ---------------------------------------------------------- */

static int cmp_span(const void *a, const void *b) {
  const span *x = a, *y = b;
  return x->first < y->first ? -1 : x->first > y->first;
}

/* Converts byte ranges into sorted, merged PFN spans; rejects overlaps. */
static int build_spans(dl_physmem *pm, const dl_range *r, size_t n) {
  pm->ram = calloc(n ? n : 1, sizeof *pm->ram);
  if (!pm->ram) return DL_ENOMEM;
  uint64_t mask = pm->page_size - 1;
  for (size_t i = 0; i < n; i++) {
    if (r[i].size == 0 || (r[i].base & mask) || (r[i].size & mask)) return DL_EINVAL;
    if (r[i].base + r[i].size < r[i].base) return DL_EINVAL;
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

/* Returns the span holding pfn, or NULL. */
static const span *span_of(const dl_physmem *pm, uint64_t pfn) {
  size_t lo = 0, hi = pm->nram;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    const span *s = &pm->ram[mid];
    if (pfn < s->first) hi = mid;
    else if (pfn >= s->first + s->count) lo = mid + 1;
    else return s;
  }
  return NULL;
}

/* ---- the allocation bitmap ----------------------------------------------- */

static int chunk_set_bitmap(dl_physmem *pm, chunk *c, int all_used) {
  c->used = malloc(CHUNK_WORDS * sizeof *c->used);
  if (!c->used) return DL_ENOMEM;
  memset(c->used, all_used ? 0xff : 0, CHUNK_WORDS * sizeof *c->used);
  pm->nbitmaps++;
  return DL_OK;
}

static void chunk_drop_bitmap(dl_physmem *pm, chunk *c) {
  free(c->used);
  c->used = NULL;
  pm->nbitmaps--;
}

/* Gives each chunk its RAM count; chunks partly RAM get a bitmap. */
static int build_chunks(dl_physmem *pm) {
  pm->nchunks = (size_t)((pm->end_pfn + CHUNK_PAGES - 1) >> CHUNK_SHIFT);
  pm->chunks = calloc(pm->nchunks, sizeof *pm->chunks);
  if (!pm->chunks) return DL_ENOMEM;
  for (size_t i = 0; i < pm->nram; i++) {
    uint64_t pfn = pm->ram[i].first, end = pfn + pm->ram[i].count;
    while (pfn < end) {
      uint64_t cend = ((pfn >> CHUNK_SHIFT) + 1) << CHUNK_SHIFT;
      uint64_t stop = end < cend ? end : cend;
      pm->chunks[pfn >> CHUNK_SHIFT].nram += (uint32_t)(stop - pfn);
      pfn = stop;
    }
  }
  for (size_t k = 0; k < pm->nchunks; k++) {
    chunk *c = &pm->chunks[k];
    c->nfree = c->nram;
    if (c->nram == 0 || c->nram == CHUNK_PAGES) continue;
    int rc = chunk_set_bitmap(pm, c, 1);
    if (rc) return rc;
  }
  for (size_t i = 0; i < pm->nram; i++)  /* clear the RAM bits of partial chunks */
    for (uint64_t p = pm->ram[i].first; p < pm->ram[i].first + pm->ram[i].count; p++) {
      chunk *c = &pm->chunks[p >> CHUNK_SHIFT];
      if (!c->used) { p |= CHUNK_PAGES - 1; continue; }  /* skip uniform chunk */
      uint64_t b = p & (CHUNK_PAGES - 1);
      c->used[b >> 6] &= ~(UINT64_C(1) << (b & 63));
    }
  return DL_OK;
}

static int page_is_free(const dl_physmem *pm, uint64_t pfn) {
  if (pfn >= pm->end_pfn) return 0;
  const chunk *c = &pm->chunks[pfn >> CHUNK_SHIFT];
  if (!c->used) return c->nfree != 0;
  uint64_t b = pfn & (CHUNK_PAGES - 1);
  return !(c->used[b >> 6] >> (b & 63) & 1);
}

/* Marks a free page allocated (creating the chunk bitmap if needed). */
static int take_page(dl_physmem *pm, uint64_t pfn) {
  chunk *c = &pm->chunks[pfn >> CHUNK_SHIFT];
  if (!c->used) {
    int rc = chunk_set_bitmap(pm, c, 0);  /* uniform free chunk */
    if (rc) return rc;
  }
  uint64_t b = pfn & (CHUNK_PAGES - 1);
  c->used[b >> 6] |= UINT64_C(1) << (b & 63);
  c->nfree--;
  pm->free_pages--;
  return DL_OK;
}

static void drop_page_bytes(dl_physmem *pm, uint64_t pfn);

/* Marks an allocated page free and forgets its bytes. */
static void give_page(dl_physmem *pm, uint64_t pfn) {
  chunk *c = &pm->chunks[pfn >> CHUNK_SHIFT];
  uint64_t b = pfn & (CHUNK_PAGES - 1);
  c->used[b >> 6] &= ~(UINT64_C(1) << (b & 63));
  c->nfree++;
  pm->free_pages++;
  if (c->nfree == CHUNK_PAGES) chunk_drop_bitmap(pm, c);
  drop_page_bytes(pm, pfn);
}

/* First free PFN in [pfn, limit), or limit; skips uniform chunks whole. */
static uint64_t next_free(const dl_physmem *pm, uint64_t pfn, uint64_t limit) {
  while (pfn < limit) {
    const chunk *c = &pm->chunks[pfn >> CHUNK_SHIFT];
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
    const chunk *c = &pm->chunks[pfn >> CHUNK_SHIFT];
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
  size_t k = 0;
  while (r >= pm->chunks[k].nfree) r -= pm->chunks[k++].nfree;
  const chunk *c = &pm->chunks[k];
  uint64_t base = (uint64_t)k << CHUNK_SHIFT;
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

static void drop_page_bytes(dl_physmem *pm, uint64_t pfn) { dl_pagemap_drop(&pm->bytes, pfn); }

static uint8_t *page_bytes(dl_physmem *pm, uint64_t pfn, int create) {
  return create ? dl_pagemap_get_or_create(&pm->bytes, pfn) : dl_pagemap_get(&pm->bytes, pfn);
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
  if (!rc) rc = build_chunks(pm);
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
  for (size_t k = 0; pm->chunks && k < pm->nchunks; k++) free(pm->chunks[k].used);
  dl_pagemap_clear(&pm->bytes);
  free(pm->chunks);
  free(pm->ram);
  free(pm);
}

/* Returns the page size in bytes. */
uint32_t dl_physmem_page_size(const dl_physmem *pm) { return pm->page_size; }

/* Returns the number of (merged) RAM ranges. */
size_t dl_physmem_range_count(const dl_physmem *pm) { return pm->nram; }

/* Copies RAM range i, in bytes, into *r. */
void dl_physmem_range(const dl_physmem *pm, size_t i, dl_range *r) {
  r->base = pm->ram[i].first << pm->shift;
  r->size = pm->ram[i].count << pm->shift;
}

/* Allocates n pages by policy into pfns[]; all or nothing. */
int dl_physmem_alloc(dl_physmem *pm, size_t n, dl_alloc_policy policy,
                     uint64_t *pfns) {
  if (n == 0 || policy >= DL_ALLOC_POLICY_COUNT) return DL_EINVAL;
  if (n > pm->free_pages) return DL_ENOSPACE;
  if (policy == DL_ALLOC_CONTIGUOUS) {
    uint64_t first;
    int rc = dl_physmem_alloc_contiguous(pm, n, UINT64_MAX, 0, &first);
    for (size_t i = 0; !rc && i < n; i++) pfns[i] = first + i;
    return rc;
  }
  uint64_t high = UINT64_C(1) << (32 - pm->shift);  /* first PFN above 4 GiB */
  uint64_t cursor = (policy == DL_ALLOC_HIGH_FIRST && high < pm->end_pfn) ? high : 0;
  for (size_t i = 0; i < n; i++) {
    uint64_t pfn;
    if (policy == DL_ALLOC_SCATTERED) {
      pfn = random_free(pm);
    } else {
      pfn = next_free(pm, cursor, pm->end_pfn);
      if (pfn == pm->end_pfn) pfn = next_free(pm, 0, pm->end_pfn);  /* wrap */
      cursor = pfn + 1;
    }
    int rc = take_page(pm, pfn);
    if (rc) {
      dl_physmem_release(pm, pfns, i);
      return rc;
    }
    pfns[i] = pfn;
  }
  return DL_OK;
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
  for (size_t i = 0; i < n; i++) {
    int rc = take_page(pm, p + i);
    if (rc) {
      while (i--) give_page(pm, p + i);
      return rc;
    }
  }
  *first_pfn = p;
  return DL_OK;
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
      for (uint64_t i = 0; i < n; i++) {
        int rc = take_page(pm, p + i);
        if (rc) {
          while (i--) give_page(pm, p + i);
          return rc;
        }
      }
      *first_pfn = p;
      return DL_OK;
    }
  }
  return DL_ENOSPACE;
}

/* Returns pages to the free pool; pages not allocated are ignored. */
void dl_physmem_release(dl_physmem *pm, const uint64_t *pfns, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (dl_physmem_is_allocated(pm, pfns[i])) give_page(pm, pfns[i]);
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

/* Applies op to each page piece of [pa, pa+len). */
typedef void (*piece_fn)(uint8_t *page, size_t off, size_t n, void *ctx, int *fail);

static int for_pieces(dl_physmem *pm, uint64_t pa, size_t len, int create,
                      piece_fn op, void *ctx) {
  if (len == 0) return DL_OK;
  if (!dl_physmem_is_ram(pm, pa, len)) return DL_ENOTMAPPED;
  int fail = 0;
  while (len && !fail) {
    size_t off = (size_t)(pa & (pm->page_size - 1));
    size_t n = pm->page_size - off < len ? pm->page_size - off : len;
    uint8_t *page = page_bytes(pm, pa >> pm->shift, create);
    if (create && !page) return DL_ENOMEM;
    op(page, off, n, ctx, &fail);
    pa += n;
    len -= n;
  }
  return DL_OK;
}

static void read_piece(uint8_t *page, size_t off, size_t n, void *ctx, int *fail) {
  uint8_t **dst = ctx;
  (void)fail;
  if (page) memcpy(*dst, page + off, n);
  else memset(*dst, 0, n);
  *dst += n;
}

static void write_piece(uint8_t *page, size_t off, size_t n, void *ctx, int *fail) {
  const uint8_t **src = ctx;
  (void)fail;
  memcpy(page + off, *src, n);
  *src += n;
}

static void fill_piece(uint8_t *page, size_t off, size_t n, void *ctx, int *fail) {
  (void)fail;
  memset(page + off, *(int *)ctx, n);
}

/* Copies len bytes at pa into dst; never-written RAM reads as zeros. */
int dl_physmem_read(dl_physmem *pm, uint64_t pa, void *dst, size_t len) {
  uint8_t *cursor = dst;
  return for_pieces(pm, pa, len, 0, read_piece, &cursor);
}

/* Copies len bytes from src to pa. */
int dl_physmem_write(dl_physmem *pm, uint64_t pa, const void *src, size_t len) {
  const uint8_t *cursor = src;
  return for_pieces(pm, pa, len, 1, write_piece, &cursor);
}

/* Sets len bytes at pa to byte. */
int dl_physmem_fill(dl_physmem *pm, uint64_t pa, int byte, size_t len) {
  byte &= 0xff;
  return for_pieces(pm, pa, len, 1, fill_piece, &byte);
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

/* Fills *st with the current counters. */
void dl_physmem_get_stats(const dl_physmem *pm, dl_physmem_stats *st) {
  st->ram_pages = pm->ram_pages;
  st->free_pages = pm->free_pages;
  st->touched_pages = pm->bytes.len;
  st->host_bytes = sizeof *pm + pm->nram * sizeof *pm->ram
                 + pm->nchunks * sizeof *pm->chunks
                 + pm->nbitmaps * CHUNK_WORDS * sizeof(uint64_t)
                 + dl_pagemap_host_bytes(&pm->bytes);
}
