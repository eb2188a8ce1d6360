/*
** dl_cache.h: a write-back CPU data cache for machines whose DMA does not
** snoop it (coherent = false). CPU writes stay in dirty lines that the
** device does not see until they are flushed (KeFlushIoBuffers); CPU reads
** see dirty lines before memory, so data a device wrote under a dirty line
** stays hidden until the flush discards the line. Lines are 1/64 of a page
** (64 bytes with 4 KiB pages).
*/
#ifndef DL_CACHE_H
#define DL_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "memory/dl_physmem.h"

typedef struct dl_cache dl_cache;

/* Creates an empty cache in front of `mem`. */
int dl_cache_new(dl_physmem *mem, dl_cache **out);

/* Frees the cache (dirty lines are lost); NULL is a harmless no-op. */
void dl_cache_free(dl_cache *c);

/* CPU read of physical memory through the cache. */
int dl_cache_read(dl_cache *c, uint64_t pa, void *dst, size_t len);

/* CPU write: the bytes land in dirty lines. */
int dl_cache_write(dl_cache *c, uint64_t pa, const void *src, size_t len);

/* Writes back the dirty lines overlapping [pa, pa+len) and discards them. */
void dl_cache_flush(dl_cache *c, uint64_t pa, size_t len);

/* Number of pages holding dirty lines. */
size_t dl_cache_dirty_pages(const dl_cache *c);

#endif
