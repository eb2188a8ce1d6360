/*
** dl_dmamap.c: mapped ranges in a pooled array (slots are reused, so
** mapping and unmapping do not allocate once the pool has grown).
*/
#include "machine/dl_dmamap.h"

#include <stdlib.h>

#include "base/dl_status.h"
#include "base/dl_vec.h"

typedef struct range { uint64_t base, len; uint32_t next_free; int live; } range;

struct dl_dmamap {
  range *r;
  uint32_t len, cap, free_head, live;
};

#define NONE UINT32_MAX

/* Creates an empty map. */
int dl_dmamap_new(dl_dmamap **out) {
  dl_dmamap *dm = calloc(1, sizeof *dm);
  if (!dm) return DL_ENOMEM;
  dm->free_head = NONE;
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
}

/* Returns 1 if every byte of [addr, addr+len) is mapped (possibly by
** several adjacent ranges). */
int dl_dmamap_covers(const dl_dmamap *dm, uint64_t addr, uint64_t len) {
  uint64_t end = addr + len;
  if (len == 0 || end < addr) return len == 0;
  while (addr < end) {
    uint64_t reach = addr;
    for (uint32_t i = 0; i < dm->len; i++) {
      const range *r = &dm->r[i];
      if (r->live && r->base <= addr && addr - r->base < r->len && r->base + r->len > reach)
        reach = r->base + r->len;
    }
    if (reach == addr) return 0;
    addr = reach;
  }
  return 1;
}

/* Number of mapped ranges. */
size_t dl_dmamap_count(const dl_dmamap *dm) { return dm->live; }

/* dl_dma_read and dl_dma_write go through the device-side translation:
** dl_xlate.c. */
