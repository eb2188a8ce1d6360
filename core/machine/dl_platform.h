/*
** dl_platform.h: the platform options of a machine: how devices reach
** memory (identity, or an IOMMU: dl_xlate.h, dl_iommu.h) and where bounce
** buffers come from (Windows' map registers, which queue, or a Linux
** swiotlb pool, which fails fast: hal/dl_swiotlb.h).
*/
#ifndef DL_PLATFORM_H
#define DL_PLATFORM_H

#include <stddef.h>
#include <stdint.h>

enum { DL_BOUNCE_WINDOWS, DL_BOUNCE_SWIOTLB };
typedef struct dl_platform_config {
  int iommu;                          /* DMA remapping on (0) */
  int iommu_deferred;                 /* invalidation: 0 strict, 1 deferred (batched) */
  uint32_t iotlb_entries;             /* IOTLB size (64; 1 to 65536) */
  uint64_t iotlb_miss_latency;        /* ns a device stalls on an IOTLB miss (500) */
  uint32_t iommu_flush_batch;         /* deferred: unmaps per invalidation (32; 1 to 65536) */
  int bounce_policy;                  /* DL_BOUNCE_WINDOWS (default) or DL_BOUNCE_SWIOTLB */
  uint32_t swiotlb_slots;             /* pool slots (32768: 64 MiB of 2 KiB slots) */
  uint32_t swiotlb_slot_size;         /* bytes a slot (2048, IO_TLB_SIZE) */
  uint32_t swiotlb_segment_slots;     /* slots a mapping may span (128, IO_TLB_SEGSIZE) */
  uint32_t swiotlb_areas;             /* areas searched from the CPU's own (1) */
} dl_platform_config;

/* Fills the platform defaults (identity, Windows map registers). */
void dl_platform_config_init(dl_platform_config *p);

/* Checks the platform options; DL_EINVAL with a sentence in why. */
int dl_platform_config_check(const dl_platform_config *p, uint32_t page_size, char *why,
                             size_t size);

#endif
