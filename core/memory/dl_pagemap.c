/*
** dl_pagemap.c: PFN -> block hash table with backward-shift deletion (no
** tombstones, so lookups stay short however often pages come and go).
*/
#include "memory/dl_pagemap.h"

#include <stdlib.h>
#include <string.h>

#define SPARE_MAX 256

/* Makes an empty map whose blocks are `block_size` bytes. */
void dl_pagemap_init(dl_pagemap *pm, size_t block_size) {
  memset(pm, 0, sizeof *pm);
  pm->block_size = block_size < sizeof(void *) ? sizeof(void *) : block_size;
}

/* Frees every block and the table. */
void dl_pagemap_clear(dl_pagemap *pm) {
  for (size_t i = 0; i < pm->cap; i++) free(pm->slots[i].block);
  while (pm->spare) {
    void *next;
    memcpy(&next, pm->spare, sizeof next);
    free(pm->spare);
    pm->spare = next;
  }
  free(pm->slots);
  dl_pagemap_init(pm, pm->block_size);
}

static size_t home(const dl_pagemap *pm, uint64_t key) {
  return (size_t)((key * UINT64_C(0x9E3779B97F4A7C15)) >> 20) & (pm->cap - 1);
}

static dl_pagemap_slot *find(const dl_pagemap *pm, uint64_t pfn) {
  if (pm->cap == 0) return NULL;
  uint64_t key = pfn + 1;
  for (size_t i = home(pm, key);; i = (i + 1) & (pm->cap - 1)) {
    if (pm->slots[i].key == key) return &pm->slots[i];
    if (pm->slots[i].key == 0) return NULL;
  }
}

/* Returns the block of pfn, or NULL, by the hash table (remembering it). */
uint8_t *dl_pagemap_find(dl_pagemap *pm, uint64_t pfn) {
  dl_pagemap_slot *s = find(pm, pfn);
  if (!s) return NULL;
  pm->hot_key = s->key;
  pm->hot = s->block;
  return s->block;
}

static int grow(dl_pagemap *pm) {
  size_t cap = pm->cap ? pm->cap * 2 : 1024;
  dl_pagemap_slot *old = pm->slots, *fresh = calloc(cap, sizeof *fresh);
  if (!fresh) return -1;
  size_t oldcap = pm->cap;
  pm->slots = fresh;
  pm->cap = cap;
  for (size_t i = 0; i < oldcap; i++) {
    if (!old[i].key) continue;
    size_t j = home(pm, old[i].key);
    while (fresh[j].key) j = (j + 1) & (cap - 1);
    fresh[j] = old[i];
  }
  free(old);
  return 0;
}

static uint8_t *new_block(dl_pagemap *pm) {
  if (!pm->spare) return calloc(1, pm->block_size);
  uint8_t *b = pm->spare;
  memcpy(&pm->spare, b, sizeof pm->spare);
  pm->nspare--;
  memset(b, 0, pm->block_size);
  return b;
}

/* Returns the block of pfn, creating it zeroed. */
uint8_t *dl_pagemap_get_or_create(dl_pagemap *pm, uint64_t pfn) {
  uint8_t *found = dl_pagemap_get(pm, pfn);
  if (found) return found;
  if ((pm->len + 1) * 10 > pm->cap * 7 && grow(pm)) return NULL;
  uint8_t *block = new_block(pm);
  if (!block) return NULL;
  size_t i = home(pm, pfn + 1);
  while (pm->slots[i].key) i = (i + 1) & (pm->cap - 1);
  pm->slots[i].key = pfn + 1;
  pm->slots[i].block = block;
  pm->len++;
  pm->hot_key = pfn + 1;
  pm->hot = block;
  return block;
}

/* Removes pfn's block, if any. */
void dl_pagemap_drop(dl_pagemap *pm, uint64_t pfn) {
  dl_pagemap_slot *s = find(pm, pfn);
  if (!s) return;
  uint8_t *block = s->block;
  if (pm->hot_key == s->key) {  /* the remembered block goes: forget it */
    pm->hot_key = 0;
    pm->hot = NULL;
  }
  size_t mask = pm->cap - 1, i = (size_t)(s - pm->slots);
  for (size_t j = (i + 1) & mask; pm->slots[j].key; j = (j + 1) & mask) {
    size_t h = home(pm, pm->slots[j].key);
    if ((j > i) ? (h <= i || h > j) : (h <= i && h > j)) {
      pm->slots[i] = pm->slots[j];
      i = j;
    }
  }
  pm->slots[i].key = 0;
  pm->slots[i].block = NULL;
  pm->len--;
  if (pm->nspare < SPARE_MAX) {
    memcpy(block, &pm->spare, sizeof pm->spare);
    pm->spare = block;
    pm->nspare++;
  } else {
    free(block);
  }
}

/* Removes the blocks of [pfn, pfn+n). A drop shifts a later entry back into
** the slot it emptied, so a scan looks at the same slot again. */
void dl_pagemap_drop_range(dl_pagemap *pm, uint64_t pfn, uint64_t n) {
  if (pm->len == 0 || n == 0) return;
  if (n <= pm->cap) {
    for (uint64_t i = 0; i < n && pm->len; i++) dl_pagemap_drop(pm, pfn + i);
    return;
  }
  for (size_t i = 0; i < pm->cap && pm->len;) {
    uint64_t key = pm->slots[i].key;
    if (key && key - 1 >= pfn && key - 1 - pfn < n) dl_pagemap_drop(pm, key - 1);
    else i++;
  }
}

/* Host bytes creating one more block would add. */
uint64_t dl_pagemap_cost_of_one(const dl_pagemap *pm) {
  uint64_t grow = (pm->len + 1) * 10 > pm->cap * 7 ? (pm->cap ? pm->cap : 1024) * sizeof *pm->slots : 0;
  return (pm->spare ? 0 : pm->block_size) + grow;
}

/* Host bytes the map uses. */
uint64_t dl_pagemap_host_bytes(const dl_pagemap *pm) {
  return pm->cap * sizeof *pm->slots + (pm->len + pm->nspare) * (uint64_t)pm->block_size;
}
