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

/* Returns 1 if every byte of [addr, addr+len) lies in some mapped range. */
int dl_dmamap_covers(const dl_dmamap *dm, uint64_t addr, uint64_t len);

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
