/*
** dl_swiotlb.h: a Linux swiotlb bounce pool, the HAL's bounce space under
** dma.machine{ bounce_policy = "swiotlb" } (kernel/dma/swiotlb.c,
** Documentation/core-api/swiotlb.rst).
**
** The pool is RAM reserved below 4 GiB at boot, cut into slots (2 KiB,
** IO_TLB_SIZE) grouped in segments of segment_slots (128, IO_TLB_SEGSIZE):
** a mapping never crosses a segment, so the largest is slot_size x
** segment_slots (256 KiB, swiotlb_max_mapping_size). Mappings of a page or
** more start on a page boundary (the search strides by a page); smaller
** ones on any slot. The pool is split in areas, each with its own next-fit
** cursor; a search starts in the area of the mapping CPU and tries the
** others in turn. Each slot keeps Linux's `list` count (free slots from it
** to its segment's end), so a fit is one comparison. When nothing fits the
** mapping fails at once: swiotlb never queues (the HAL turns that into the
** status a Windows driver sees, and traces "swiotlb buffer is full").
*/
#ifndef DL_SWIOTLB_H
#define DL_SWIOTLB_H

#include <stddef.h>
#include <stdint.h>

#include "machine/dl_machine.h"

typedef struct dl_swiotlb dl_swiotlb;

typedef struct dl_swiotlb_stats {
  uint32_t nslabs;                    /* io_tlb_nslabs */
  uint32_t used, used_hiwater;        /* io_tlb_used, io_tlb_used_hiwater (slots) */
  uint64_t maps, unmaps, failures;    /* failures: "buffer is full" */
  uint64_t bytes_bounced;             /* bytes mapped through the pool */
  uint64_t copies_to_bounce, copies_from_bounce;
} dl_swiotlb_stats;

/* The machine's pool (bounce_policy swiotlb), made on first use from the
** pages reserved at boot; NULL under the Windows policy. */
dl_swiotlb *dl_swiotlb_of(dl_machine *m);

/* A pool of nslots slots at physical address base (tests). */
int dl_swiotlb_new(uint64_t base, uint32_t page_size, const dl_platform_config *p,
                   dl_swiotlb **out);

/* Frees the pool; NULL is a harmless no-op. */
void dl_swiotlb_free(dl_swiotlb *s);

/* The largest mapping: slot_size x segment_slots. */
uint64_t dl_swiotlb_max_mapping(const dl_swiotlb *s);

/* Finds slots for size bytes, searching from cpu's area: the bounce
** buffer's physical address and its first slot. DL_ENOSPACE at once if
** none fits (or size is above the largest mapping). */
int dl_swiotlb_alloc(dl_swiotlb *s, uint64_t size, int cpu, uint32_t *slot, uint64_t *pa);

/* Returns the slots of an allocation. */
void dl_swiotlb_release(dl_swiotlb *s, uint32_t slot);

/* Counts a copy into (to_bounce) or out of the pool. */
void dl_swiotlb_count_copy(dl_swiotlb *s, int to_bounce);

/* The counters; reset_hiwater sets used_hiwater to used (the debugfs file). */
void dl_swiotlb_get_stats(const dl_swiotlb *s, dl_swiotlb_stats *st);
void dl_swiotlb_reset_hiwater(dl_swiotlb *s);

/* Linux's message for a failed mapping, in buf:
** "swiotlb buffer is full (sz: N bytes), total N (slots), used N (slots)". */
void dl_swiotlb_full_text(uint64_t size, uint32_t total, uint32_t used, char *buf, size_t n);

#endif
