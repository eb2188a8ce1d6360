/*
** dl_split.h: how a driver must split a transfer (seed 004): by the map
** registers IoGetDmaAdapter gave it, by the byte count, by the physical page
** breaks, and by device limits such as the AT disk's 256 sectors.
*/
#ifndef DL_SPLIT_H
#define DL_SPLIT_H

#include <stddef.h>
#include <stdint.h>

#include "io/dl_mdl.h"

/* Device limits; 0 means no limit. */
typedef struct dl_split_limits {
  uint32_t map_registers;     /* NumberOfMapRegisters (required): each transfer spans
                                 at most this many pages */
  uint64_t max_bytes;         /* bytes per transfer (e.g. 256 * 512) */
  uint32_t alignment;         /* the length of every transfer but the last is a
                                 multiple of this, so each starts this many bytes
                                 apart from va (a sector size); addresses are not
                                 aligned by it */
  uint32_t max_elements;      /* physically contiguous runs (S/G elements) per transfer */
} dl_split_limits;

/* One transfer. */
typedef struct dl_split_piece {
  uint64_t va;                /* CurrentVa for MapTransfer */
  uint32_t length;
  uint32_t map_registers;     /* ADDRESS_AND_SIZE_TO_SPAN_PAGES(va, length) */
  uint32_t elements;          /* physically contiguous runs in it */
} dl_split_piece;

/* Splits [va, va+length) of the MDL (whose pages must be valid) into
** transfers, each the longest every limit allows, storing at most `cap` of
** them in out and the count needed in *count. DL_EINVAL for zero registers
** or a range outside the MDL; DL_ERANGE when no split keeps the alignment
** (a piece cannot reach `alignment` bytes). Either way `why` (NULL: none)
** gets a sentence naming the limit. */
int dl_split_transfer(const dl_mdl *mdl, uint64_t va, uint64_t length,
                      const dl_split_limits *lim, dl_split_piece *out, size_t cap, size_t *count,
                      char *why, size_t why_size);

#endif
