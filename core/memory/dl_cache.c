/*
** dl_cache.c: dirty lines kept per page in a dl_pagemap; each block is the
** page's bytes followed by a 64-bit mask of its dirty lines.
*/
#include "memory/dl_cache.h"

#include <stdlib.h>
#include <string.h>

#include "memory/dl_pagemap.h"
#include "base/dl_status.h"

struct dl_cache {
  dl_physmem *mem;
  uint32_t page_size, line;
  dl_pagemap pages;
};

static uint64_t *mask_of(const dl_cache *c, uint8_t *block) {
  return (uint64_t *)(void *)(block + c->page_size);
}

/* Creates an empty cache in front of `mem`. */
int dl_cache_new(dl_physmem *mem, dl_cache **out) {
  dl_cache *c = calloc(1, sizeof *c);
  if (!c) return DL_ENOMEM;
  c->mem = mem;
  c->page_size = dl_physmem_page_size(mem);
  c->line = c->page_size / 64;
  dl_pagemap_init(&c->pages, c->page_size + sizeof(uint64_t));
  *out = c;
  return DL_OK;
}

/* Frees the cache; NULL is a harmless no-op. */
void dl_cache_free(dl_cache *c) {
  if (!c) return;
  dl_pagemap_clear(&c->pages);
  free(c);
}

/* Lines [first, last] of a page, as a mask. */
static uint64_t line_mask(const dl_cache *c, size_t off, size_t n) {
  size_t first = off / c->line, last = (off + n - 1) / c->line;
  uint64_t hi = last == 63 ? ~UINT64_C(0) : (UINT64_C(1) << (last + 1)) - 1;
  return hi & ~((UINT64_C(1) << first) - 1);
}

/* CPU read: memory, then the dirty lines over it. */
int dl_cache_read(dl_cache *c, uint64_t pa, void *dst, size_t len) {
  int rc = dl_physmem_read(c->mem, pa, dst, len);
  for (size_t done = 0; !rc && done < len;) {
    uint64_t at = pa + done;
    size_t off = (size_t)(at % c->page_size), n = c->page_size - off;
    if (n > len - done) n = len - done;
    uint8_t *block = dl_pagemap_get(&c->pages, at / c->page_size);
    for (size_t i = off; block && i < off + n;) {
      size_t l = i / c->line, stop = (l + 1) * c->line < off + n ? (l + 1) * c->line : off + n;
      if (*mask_of(c, block) >> l & 1) memcpy((uint8_t *)dst + done + (i - off), block + i, stop - i);
      i = stop;
    }
    done += n;
  }
  return rc;
}

/* CPU write: newly dirty lines are filled from memory first (write-allocate). */
int dl_cache_write(dl_cache *c, uint64_t pa, const void *src, size_t len) {
  if (!dl_physmem_is_ram(c->mem, pa, len)) return len ? DL_ENOTMAPPED : DL_OK;
  for (size_t done = 0; done < len;) {
    uint64_t at = pa + done, pfn = at / c->page_size;
    size_t off = (size_t)(at % c->page_size), n = c->page_size - off;
    if (n > len - done) n = len - done;
    uint8_t *block = dl_pagemap_get_or_create(&c->pages, pfn);
    if (!block) return DL_ENOMEM;
    uint64_t *mask = mask_of(c, block), fresh = line_mask(c, off, n) & ~*mask;
    for (size_t l = 0; l < 64; l++)
      if (fresh >> l & 1)
        dl_physmem_read(c->mem, pfn * c->page_size + l * c->line, block + l * c->line, c->line);
    memcpy(block + off, (const uint8_t *)src + done, n);
    *mask |= line_mask(c, off, n);
    done += n;
  }
  return DL_OK;
}

/* Writes back and discards the dirty lines overlapping [pa, pa+len). */
void dl_cache_flush(dl_cache *c, uint64_t pa, size_t len) {
  for (size_t done = 0; done < len;) {
    uint64_t at = pa + done, pfn = at / c->page_size;
    size_t off = (size_t)(at % c->page_size), n = c->page_size - off;
    if (n > len - done) n = len - done;
    uint8_t *block = dl_pagemap_get(&c->pages, pfn);
    if (block) {
      uint64_t *mask = mask_of(c, block), hit = *mask & line_mask(c, off, n);
      for (size_t l = 0; l < 64; l++)
        if (hit >> l & 1)
          dl_physmem_write(c->mem, pfn * c->page_size + l * c->line, block + l * c->line, c->line);
      *mask &= ~hit;
      if (*mask == 0) dl_pagemap_drop(&c->pages, pfn);
    }
    done += n;
  }
}

/* Number of pages holding dirty lines. */
size_t dl_cache_dirty_pages(const dl_cache *c) { return c->pages.len; }
