/*
** dl_dmamap.h: what devices may address. Every MapTransfer, scatter/gather
** element and common buffer adds the logical range it gave the driver;
** flushing or freeing removes it. Device-side access goes through here, as
** hardware would: to physical memory directly (never through the CPU
** cache), and an access outside every mapped range is a verifier report
** (0xE6/0x26, as an IOMMU would fault) and is not performed.
*/
#ifndef DL_DMAMAP_H
#define DL_DMAMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct dl_machine dl_machine;
typedef struct dl_dmamap dl_dmamap;

/* Creates an empty map. */
int dl_dmamap_new(dl_dmamap **out);

/* Frees the map; NULL is a harmless no-op. */
void dl_dmamap_free(dl_dmamap *dm);

/* Adds [base, base+len) and returns a handle for removing it. */
int dl_dmamap_add(dl_dmamap *dm, uint64_t base, uint64_t len, uint32_t *handle);

/* Removes a range added before. */
void dl_dmamap_remove(dl_dmamap *dm, uint32_t handle);

/* Returns 1 if every byte of [addr, addr+len) lies in some mapped range
** (the map keeps the last few wholly mapped spans it found, until a range
** is removed, so it answers repeated accesses without a walk). */
int dl_dmamap_covers(dl_dmamap *dm, uint64_t addr, uint64_t len);

/* Returns 1 and sets [*lo, *hi), a span of mapped addresses holding
** [addr, addr+len) (len > 0), or returns 0 if that is not all mapped. The
** span stays mapped until a range is removed, which bumps the epoch. */
int dl_dmamap_span(dl_dmamap *dm, uint64_t addr, uint64_t len, uint64_t *lo, uint64_t *hi);

/* The map's epoch: a count of removals, at an address valid for the map's
** lifetime, so a holder of a span checks it with one load. */
const uint64_t *dl_dmamap_epoch(const dl_dmamap *dm);

/* Number of mapped ranges. */
size_t dl_dmamap_count(const dl_dmamap *dm);

/* A device reads len bytes at a logical address; `who` names the device in
** a report. DL_ENOTMAPPED (and a report) if the range is not mapped. These
** two go through the machine's translation as a device of no known id
** (dl_xlate.c); a device model uses dl_xlate_read/write with its id. */
int dl_dma_read(dl_machine *m, const char *who, uint64_t logical, void *dst, size_t len);

/* A device writes len bytes at a logical address. */
int dl_dma_write(dl_machine *m, const char *who, uint64_t logical, const void *src, size_t len);

#endif
