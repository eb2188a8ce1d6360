/*
** dl_swiotlb.c: the slot search and release of kernel/dma/swiotlb.c
** (swiotlb_search_pool_area, swiotlb_release_slots) over a list[] array.
*/
#include "hal/dl_swiotlb.h"

#include <stdio.h>
#include <stdlib.h>

#include "base/dl_status.h"

struct dl_swiotlb {
  uint64_t base;
  uint32_t nslots, slot_size, seg, nareas, area_slots, page_size;
  uint32_t *list;        /* free slots from here to the segment's end (0: taken) */
  uint32_t *size;        /* at an allocation's first slot: its slot count */
  uint32_t *cursor;      /* per area, relative to the area's first slot */
  dl_swiotlb_stats st;
};

/* A pool at physical address base. */
int dl_swiotlb_new(uint64_t base, uint32_t page_size, const dl_platform_config *p,
                   dl_swiotlb **out) {
  dl_swiotlb *s = calloc(1, sizeof *s);
  if (!s) return DL_ENOMEM;
  *s = (dl_swiotlb){ .base = base, .nslots = p->swiotlb_slots, .slot_size = p->swiotlb_slot_size,
                     .seg = p->swiotlb_segment_slots, .nareas = p->swiotlb_areas,
                     .area_slots = p->swiotlb_slots / p->swiotlb_areas, .page_size = page_size };
  s->list = malloc(s->nslots * sizeof *s->list);
  s->size = calloc(s->nslots, sizeof *s->size);
  s->cursor = calloc(s->nareas, sizeof *s->cursor);
  if (!s->list || !s->size || !s->cursor) {
    dl_swiotlb_free(s);
    return DL_ENOMEM;
  }
  for (uint32_t i = 0; i < s->nslots; i++) s->list[i] = s->seg - i % s->seg;
  s->st.nslabs = s->nslots;
  *out = s;
  return DL_OK;
}

/* Frees the pool; NULL is a harmless no-op. */
void dl_swiotlb_free(dl_swiotlb *s) {
  if (!s) return;
  free(s->list);
  free(s->size);
  free(s->cursor);
  free(s);
}

static void free_part(void *part) { dl_swiotlb_free(part); }

/* The machine's pool, made on first use. */
dl_swiotlb *dl_swiotlb_of(dl_machine *m) {
  dl_swiotlb *s = dl_machine_part(m, DL_PART_SWIOTLB);
  if (s) return s;
  const dl_machine_config *cfg = dl_machine_config_of(m);
  uint64_t first;
  if (cfg->platform.bounce_policy != DL_BOUNCE_SWIOTLB || !dl_machine_swiotlb_pages(m, &first) ||
      dl_swiotlb_new(first * cfg->page_size, cfg->page_size, &cfg->platform, &s))
    return NULL;
  dl_machine_set_part(m, DL_PART_SWIOTLB, s, free_part);
  return s;
}

uint64_t dl_swiotlb_max_mapping(const dl_swiotlb *s) { return (uint64_t)s->slot_size * s->seg; }

/* Searches one area from its cursor (stride: slots a page apart for
** mappings of a page or more); the first slot, or UINT32_MAX. */
static uint32_t search_area(dl_swiotlb *s, uint32_t area, uint32_t nslots, uint32_t stride) {
  uint32_t first = area * s->area_slots, idx = (s->cursor[area] + stride - 1) / stride * stride;
  for (uint32_t tried = 0; tried < s->area_slots; tried += stride) {
    if (idx >= s->area_slots) idx = 0;
    if (s->list[first + idx] >= nslots) {
      s->cursor[area] = (idx + nslots) % s->area_slots;
      return first + idx;
    }
    idx += stride;
  }
  return UINT32_MAX;
}

/* Finds slots for size bytes. */
int dl_swiotlb_alloc(dl_swiotlb *s, uint64_t size, int cpu, uint32_t *slot, uint64_t *pa) {
  uint32_t nslots = (uint32_t)((size + s->slot_size - 1) / s->slot_size), at = UINT32_MAX;
  uint32_t stride = size >= s->page_size ? s->page_size / s->slot_size : 1;
  if (size == 0 || size > dl_swiotlb_max_mapping(s)) {
    s->st.failures++;
    return DL_ENOSPACE;
  }
  for (uint32_t k = 0, area = (uint32_t)cpu % s->nareas; k < s->nareas && at == UINT32_MAX; k++)
    at = search_area(s, (area + k) % s->nareas, nslots, stride);
  if (at == UINT32_MAX) {
    s->st.failures++;
    return DL_ENOSPACE;
  }
  for (uint32_t i = at; i < at + nslots; i++) s->list[i] = 0;
  uint32_t count = 0;  /* free slots before it now end where it starts */
  for (int64_t i = (int64_t)at - 1; i >= 0 && i % s->seg != s->seg - 1 && s->list[i]; i--)
    s->list[i] = ++count;
  s->size[at] = nslots;
  s->st.used += nslots;
  if (s->st.used > s->st.used_hiwater) s->st.used_hiwater = s->st.used;
  s->st.maps++;
  s->st.bytes_bounced += size;
  *slot = at;
  *pa = s->base + (uint64_t)at * s->slot_size;
  return DL_OK;
}

/* Returns the slots of an allocation, merging with free slots around it
** inside its segment. */
void dl_swiotlb_release(dl_swiotlb *s, uint32_t at) {
  if (at >= s->nslots || !s->size[at]) return;
  uint32_t nslots = s->size[at], end = at + nslots;
  uint32_t count = end % s->seg ? s->list[end] : 0;
  for (int64_t i = (int64_t)end - 1; i >= at; i--) s->list[i] = ++count;
  for (int64_t i = (int64_t)at - 1; i >= 0 && i % s->seg != s->seg - 1 && s->list[i]; i--)
    s->list[i] = ++count;
  s->size[at] = 0;
  s->st.used -= nslots;
  s->st.unmaps++;
}

/* Counts a copy into or out of the pool. */
void dl_swiotlb_count_copy(dl_swiotlb *s, int to_bounce) {
  if (to_bounce) s->st.copies_to_bounce++;
  else s->st.copies_from_bounce++;
}

void dl_swiotlb_get_stats(const dl_swiotlb *s, dl_swiotlb_stats *st) { *st = s->st; }
void dl_swiotlb_reset_hiwater(dl_swiotlb *s) { s->st.used_hiwater = s->st.used; }

/* Linux's message for a failed mapping. */
void dl_swiotlb_full_text(uint64_t size, uint32_t total, uint32_t used, char *buf, size_t n) {
  snprintf(buf, n, "swiotlb buffer is full (sz: %llu bytes), total %u (slots), used %u (slots)",
           (unsigned long long)size, total, used);
}
