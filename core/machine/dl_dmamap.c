/*
** dl_dmamap.c: mapped ranges in a pooled array (slots are reused, so
** mapping and unmapping do not allocate once the pool has grown), and the
** last covered spans found, so a device working through one buffer (a ring
** of descriptors, its data pages) is checked without walking every range.
*/
#include "machine/dl_dmamap.h"

#include <stdlib.h>

#include "base/dl_status.h"
#include "base/dl_vec.h"

typedef struct range { uint64_t base, len; uint32_t next_free; int live; } range;

/* A span found wholly mapped: [lo, hi). Adding ranges only widens what is
** mapped, so a span stays true until a range is removed (which forgets
** them all). An empty span has lo > hi. */
typedef struct span { uint64_t lo, hi; } span;

#define SPANS 4u                         /* a ring, its data, a bounce area... */

struct dl_dmamap {
  range *r;
  uint32_t len, cap, free_head, live;
  span known[SPANS];
  uint32_t next_known;                   /* the span to replace next */
  uint64_t epoch;                        /* bumped when a range is removed */
};

#define NONE UINT32_MAX

/* Forgets every span found (a range was removed). */
static void forget(dl_dmamap *dm) {
  for (uint32_t k = 0; k < SPANS; k++) dm->known[k] = (span){1, 0};
}

/* Creates an empty map. */
int dl_dmamap_new(dl_dmamap **out) {
  dl_dmamap *dm = calloc(1, sizeof *dm);
  if (!dm) return DL_ENOMEM;
  dm->free_head = NONE;
  forget(dm);
  *out = dm;
  return DL_OK;
}

/* Frees the map; NULL is a harmless no-op. */
void dl_dmamap_free(dl_dmamap *dm) {
  if (!dm) return;
  free(dm->r);
  free(dm);
}

/* Adds [base, base+len). */
int dl_dmamap_add(dl_dmamap *dm, uint64_t base, uint64_t len, uint32_t *handle) {
  uint32_t i = dm->free_head;
  if (i != NONE) {
    dm->free_head = dm->r[i].next_free;
  } else {
    if (dl_vec_reserve(dm->r, dm->cap, dm->len + 1)) return DL_ENOMEM;
    i = dm->len++;
  }
  dm->r[i] = (range){base, len, NONE, 1};
  dm->live++;
  *handle = i;
  return DL_OK;
}

/* Removes a range added before. */
void dl_dmamap_remove(dl_dmamap *dm, uint32_t handle) {
  if (handle >= dm->len || !dm->r[handle].live) return;
  dm->r[handle].live = 0;
  dm->r[handle].next_free = dm->free_head;
  dm->free_head = handle;
  dm->live--;
  dm->epoch++;
  forget(dm);
}

/* Returns 1 if every byte of [addr, addr+len) is mapped (possibly by
** several adjacent ranges); nothing to cover is covered. */
int dl_dmamap_covers(dl_dmamap *dm, uint64_t addr, uint64_t len) {
  uint64_t lo, hi;
  return len == 0 || dl_dmamap_span(dm, addr, len, &lo, &hi);
}

/* Returns 1 and the mapped span holding [addr, addr+len) (len > 0), else 0.
** A span found earlier answers at once; else the ranges are walked, and a
** covered access leaves its span: from the lowest base of the ranges
** holding addr to the end of the last range the walk stepped through (no
** further walk: a miss costs what the walk always cost). */
int dl_dmamap_span(dl_dmamap *dm, uint64_t addr, uint64_t len, uint64_t *span_lo,
                   uint64_t *span_hi) {
  uint64_t end = addr + len;
  if (len == 0 || end < addr) return 0;
  for (uint32_t k = 0; k < SPANS; k++)
    if (addr >= dm->known[k].lo && end <= dm->known[k].hi) {
      *span_lo = dm->known[k].lo;
      *span_hi = dm->known[k].hi;
      return 1;
    }
  uint64_t lo = addr, at = addr, reach;
  do {
    reach = at;
    for (uint32_t i = 0; i < dm->len; i++) {
      const range *r = &dm->r[i];
      if (!r->live || r->base > at || at - r->base >= r->len) continue;
      if (r->base + r->len > reach) reach = r->base + r->len;
      if (at == addr && r->base < lo) lo = r->base;
    }
    if (reach == at) return 0;
    at = reach;
  } while (at < end);
  dm->known[dm->next_known] = (span){lo, at};
  dm->next_known = (dm->next_known + 1) % SPANS;
  *span_lo = lo;
  *span_hi = at;
  return 1;
}

/* The removal count, read through a pointer that lives as long as the map. */
const uint64_t *dl_dmamap_epoch(const dl_dmamap *dm) { return &dm->epoch; }

/* Number of mapped ranges. */
size_t dl_dmamap_count(const dl_dmamap *dm) { return dm->live; }

/* dl_dma_read and dl_dma_write go through the device-side translation:
** dl_xlate.c. */
