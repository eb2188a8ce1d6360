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
  uint32_t map_registers;     /* NumberOfMapRegisters (required) */
  uint64_t max_bytes;         /* bytes per transfer (e.g. 256 * 512) */
  uint32_t alignment;         /* every transfer but the last is a multiple of this */
  uint32_t max_elements;      /* physical runs (S/G elements) per transfer */
} dl_split_limits;

/* One transfer. */
typedef struct dl_split_piece {
  uint64_t va;                /* CurrentVa for MapTransfer */
  uint32_t length;
  uint32_t map_registers;     /* ADDRESS_AND_SIZE_TO_SPAN_PAGES(va, length) */
  uint32_t elements;          /* physically contiguous runs in it */
} dl_split_piece;

/* Splits [va, va+length) of the MDL (whose pages must be valid) into
** transfers, storing at most `cap` of them in out and the count needed in
** *count. DL_EINVAL for limits that allow no progress or a range outside the
** MDL. */
int dl_split_transfer(const dl_mdl *mdl, uint64_t va, uint64_t length,
                      const dl_split_limits *lim, dl_split_piece *out, size_t cap, size_t *count);

#endif
