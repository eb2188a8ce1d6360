/*
** dl_iommu.h: DMA remapping (an IOMMU), the translation the seam
** (dl_xlate.h) uses when dma.machine{ iommu = ... } is on.
**
** Each device's DMA goes through a domain: its own default domain (made on
** its first mapping), or one a driver made and attached it to (the DMA v3
** domain operations of DMA_IOMMU_INTERFACE_EX). A domain's page table maps
** I/O virtual pages (IOVAs) to physical pages with read and/or write
** permission; the HAL maps each transfer and common buffer into the
** device's domain (IOVAs below the device's ceiling, contiguous over
** scattered pages, so nothing bounces) and unmaps it at flush/put/free.
** Translations are cached in one IOTLB (least recently used entries go,
** a miss stalls the device for the miss latency). Unmapping invalidates
** the IOTLB at once (strict) or in batches (deferred: until the batch is
** flushed a stale entry still translates, and the IOVAs are not reused).
** An access to an unmapped IOVA, or one its permission does not allow, is
** a translation fault: blocked, recorded (device, IOVA, access, time) and
** reported as Driver Verifier 0xE6 P1 0x26.
*/
#ifndef DL_IOMMU_H
#define DL_IOMMU_H

#include <stddef.h>
#include <stdint.h>

#include "machine/dl_platform.h"
#include "machine/dl_xlate_ops.h"

typedef struct dl_iommu dl_iommu;

/* The implementation the seam installs. */
extern const dl_xlate_ops dl_iommu_ops;

/* Makes an IOMMU with the platform's IOTLB and invalidation options. */
dl_iommu *dl_iommu_new(const dl_platform_config *p, uint32_t page_size);

typedef struct dl_iommu_stats {
  uint64_t mappings, unmaps;          /* HAL and identity-range maps/unmaps */
  uint64_t iotlb_hits, iotlb_misses;  /* one lookup per page a device touches */
  uint64_t faults, invalidations;     /* invalidations: IOTLB flush commands issued */
  uint64_t stall_ns;                  /* misses x miss latency */
  uint64_t live_mappings, pending_unmaps, domains;
} dl_iommu_stats;

/* Why an access faulted. */
enum { DL_IOMMU_NOT_MAPPED = 1, DL_IOMMU_NO_PERMISSION, DL_IOMMU_NO_DOMAIN };

typedef struct dl_iommu_fault {
  uint64_t dev, iova, time, domain;
  int access;                         /* DL_XLATE_READ or DL_XLATE_WRITE */
  int reason;                         /* DL_IOMMU_* */
} dl_iommu_fault;

/* The counters. */
void dl_iommu_get_stats(const dl_iommu *io, dl_iommu_stats *st);

/* Fault records kept (the first 10000), oldest first. */
size_t dl_iommu_fault_count(const dl_iommu *io);
const dl_iommu_fault *dl_iommu_fault_at(const dl_iommu *io, size_t i);

/* A fault reason as words ("not mapped"...). */
const char *dl_iommu_reason_text(int reason);

/* ---- DMA v3 domain operations (DMA_IOMMU_INTERFACE_EX), NTSTATUS results -- */

/* IOMMU_DMA_DOMAIN_TYPE. */
enum { DL_DOMAIN_TYPE_TRANSLATE, DL_DOMAIN_TYPE_PASSTHROUGH, DL_DOMAIN_TYPE_UNMANAGED };

/* CreateDomainEx: a translated or unmanaged domain (pass-through is
** STATUS_NOT_SUPPORTED here); its id in *domain. */
uint32_t dl_iommu_create_domain(dl_iommu *io, int type, uint64_t *domain);

/* DeleteDomain: STATUS_INVALID_DEVICE_STATE while devices are attached. */
uint32_t dl_iommu_delete_domain(dl_iommu *io, uint64_t domain);

/* AttachDeviceEx: STATUS_INVALID_PARAMETER if the device is already
** attached to a domain (detach first). Its default domain is left alone. */
uint32_t dl_iommu_attach_device(dl_iommu *io, uint64_t domain, uint64_t dev);

/* DetachDeviceEx: the device goes back to its default domain. */
uint32_t dl_iommu_detach_device(dl_iommu *io, uint64_t dev);

/* MapIdentityRangeEx: IOVA = physical address for the npages pages pfns
** (read/write permission perm). */
uint32_t dl_iommu_map_identity(dl_iommu *io, uint64_t domain, int perm, const uint64_t *pfns,
                               uint32_t npages);

/* UnmapIdentityRangeEx of the same pages (invalidated as the mode says). */
uint32_t dl_iommu_unmap_identity(dl_iommu *io, uint64_t domain, const uint64_t *pfns,
                                 uint32_t npages);

/* FlushDomain: ends pending (deferred) invalidations and drops the
** domain's IOTLB entries. */
uint32_t dl_iommu_flush_domain(dl_iommu *io, uint64_t domain);

/* The domain a device's DMA goes through now (0: none yet). */
uint64_t dl_iommu_domain_of(const dl_iommu *io, uint64_t dev);

#endif
