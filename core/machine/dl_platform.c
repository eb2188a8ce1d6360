/*
** dl_platform.c: the platform options' defaults and ranges.
*/
#include "machine/dl_platform.h"

#include <stdio.h>

#include "base/dl_status.h"

/* Fills the platform defaults. */
void dl_platform_config_init(dl_platform_config *p) {
  *p = (dl_platform_config){ .iotlb_entries = 64, .iotlb_miss_latency = 500,
                             .iommu_flush_batch = 32, .bounce_policy = DL_BOUNCE_WINDOWS,
                             .swiotlb_slots = 32768, .swiotlb_slot_size = 2048,
                             .swiotlb_segment_slots = 128, .swiotlb_areas = 1 };
}

static int pow2(uint64_t v) { return v && !(v & (v - 1)); }

/* Checks the platform options. */
int dl_platform_config_check(const dl_platform_config *p, uint32_t page_size, char *why,
                             size_t size) {
  uint64_t pool = (uint64_t)p->swiotlb_slots * p->swiotlb_slot_size;
  if (p->iotlb_entries < 1 || p->iotlb_entries > 65536)
    snprintf(why, size, "iommu.iotlb must be from 1 to 65536 entries, not %u", p->iotlb_entries);
  else if (p->iommu_flush_batch < 1 || p->iommu_flush_batch > 65536)
    snprintf(why, size, "iommu.flush_batch must be from 1 to 65536, not %u", p->iommu_flush_batch);
  else if (p->bounce_policy != DL_BOUNCE_WINDOWS && p->bounce_policy != DL_BOUNCE_SWIOTLB)
    snprintf(why, size, "bounce_policy must be windows or swiotlb");
  else if (p->bounce_policy == DL_BOUNCE_SWIOTLB && p->iommu)
    snprintf(why, size, "bounce_policy swiotlb bounces for devices without DMA remapping: "
                        "it cannot be combined with iommu");
  else if (!pow2(p->swiotlb_slot_size) || p->swiotlb_slot_size < 512 ||
           p->swiotlb_slot_size > page_size)
    snprintf(why, size, "swiotlb.slot_size must be a power of two from 512 to the page size "
                        "(%u), not %u", page_size, p->swiotlb_slot_size);
  else if (!pow2(p->swiotlb_segment_slots) || p->swiotlb_segment_slots > 4096)
    snprintf(why, size, "swiotlb.segment_slots must be a power of two from 1 to 4096, not %u",
             p->swiotlb_segment_slots);
  else if (!pow2(p->swiotlb_areas) || p->swiotlb_areas > 64)
    snprintf(why, size, "swiotlb.areas must be a power of two from 1 to 64, not %u",
             p->swiotlb_areas);
  else if (p->swiotlb_slots == 0 ||
           p->swiotlb_slots % ((uint64_t)p->swiotlb_segment_slots * p->swiotlb_areas) ||
           pool > (UINT64_C(1) << 30))
    snprintf(why, size, "swiotlb.slots must be a nonzero multiple of segment_slots x areas "
                        "(%u x %u) and the pool at most 1 GiB, not %u slots",
             p->swiotlb_segment_slots, p->swiotlb_areas, p->swiotlb_slots);
  else
    return DL_OK;
  return DL_EINVAL;
}

