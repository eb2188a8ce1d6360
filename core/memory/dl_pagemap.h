/*
** dl_pagemap.h: a map from page frame number to a block of host memory,
** created on first use. Physical memory keeps page bytes in one; the
** non-coherent CPU cache keeps its dirty pages in another.
*/
#ifndef DL_PAGEMAP_H
#define DL_PAGEMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct dl_pagemap_slot { uint64_t key; uint8_t *block; } dl_pagemap_slot;

/* Open addressing with linear probing; key = pfn + 1, 0 marks an empty slot.
** Released blocks are kept (up to a bound) for reuse, since first touch of
** fresh host memory is the dear part of creating a page. The block last
** found or created is remembered (hot_key, hot): accesses cluster on a page
** (a descriptor fetched, then written back twice), so most lookups are one
** compare; dropping that block forgets it. */
typedef struct dl_pagemap {
  size_t block_size;
  dl_pagemap_slot *slots;
  size_t cap, len;
  void *spare;
  size_t nspare;
  uint64_t hot_key;   /* key of the remembered block; 0: none */
  uint8_t *hot;
} dl_pagemap;

/* Makes an empty map whose blocks are `block_size` bytes. */
void dl_pagemap_init(dl_pagemap *pm, size_t block_size);

/* Frees every block and the table. */
void dl_pagemap_clear(dl_pagemap *pm);

/* Returns the block of pfn, or NULL, by the hash table (remembering it). */
uint8_t *dl_pagemap_find(dl_pagemap *pm, uint64_t pfn);

/* Returns the block of pfn, or NULL: the remembered block if it is pfn's. */
static inline uint8_t *dl_pagemap_get(dl_pagemap *pm, uint64_t pfn) {
  return pm->hot_key == pfn + 1 ? pm->hot : dl_pagemap_find(pm, pfn);
}

/* Returns the block of pfn, creating it zeroed; NULL if out of memory. */
uint8_t *dl_pagemap_get_or_create(dl_pagemap *pm, uint64_t pfn);

/* Removes pfn's block, if any. */
void dl_pagemap_drop(dl_pagemap *pm, uint64_t pfn);

/* Removes the blocks of [pfn, pfn+n): by key for short ranges, by a scan of
** the table for long ones, so it costs min(n, table) steps. */
void dl_pagemap_drop_range(dl_pagemap *pm, uint64_t pfn, uint64_t n);

/* Host bytes creating one more block would add (the block, and the table
** doubling if it must grow). */
uint64_t dl_pagemap_cost_of_one(const dl_pagemap *pm);

/* Host bytes the map uses. */
uint64_t dl_pagemap_host_bytes(const dl_pagemap *pm);

#endif
