/*
** dl_xlate.h: the one seam between device-side addresses and physical
** memory. Every address the HAL hands a driver for its device (MapTransfer,
** scatter/gather elements, common buffers) is made here, and every device
** access is translated here, per device: one interface over swappable
** implementations (as LuaSocket's one header over its platforms), chosen
** by the machine's configuration:
**   identity  logical = physical; a device may reach any mapped range
**             (dl_dmamap.h), as without DMA remapping;
**   iommu     per-device domains with page tables, an IOTLB and
**             translation faults (dl_iommu.h).
** Nothing else in core assumes logical = physical.
*/
#ifndef DL_XLATE_H
#define DL_XLATE_H

#include <stddef.h>
#include <stdint.h>

#include "machine/dl_xlate_ops.h"

typedef struct dl_machine dl_machine;

typedef struct dl_iommu dl_iommu;

/* The machine's translation, made on first use from its configuration;
** NULL if out of memory. */
dl_xlate *dl_xlate_of(dl_machine *m);

/* The name of the machine's translation ("identity" or "iommu"). */
const char *dl_xlate_name(dl_machine *m);

/* 1 if the translation remaps (an IOMMU): the HAL need not bounce. */
int dl_xlate_remaps(dl_machine *m);

/* Maps a range for device dev (see dl_xlate_ops.map). */
int dl_xlate_map(dl_machine *m, uint64_t dev, uint64_t pa, const uint64_t *pfns, uint64_t len,
                 int perm, uint64_t ceiling, uint64_t *addr, uint32_t *handle);

/* Removes a mapping of dev. */
void dl_xlate_unmap(dl_machine *m, uint64_t dev, uint32_t handle);

/* Translates the start of a device access (see dl_xlate_ops.resolve). */
int dl_xlate_resolve(dl_machine *m, uint64_t dev, const char *who, uint64_t addr, uint64_t len,
                     int access, uint64_t *pa, uint64_t *run);

/* Device dev reads len bytes at device address addr into dst; `who` names
** it in a report. DL_ENOTMAPPED (after a report) and nothing read if any
** byte does not translate. */
int dl_xlate_read(dl_machine *m, uint64_t dev, const char *who, uint64_t addr, void *dst,
                  size_t len);

/* Device dev writes len bytes at addr (nothing written on a fault). */
int dl_xlate_write(dl_machine *m, uint64_t dev, const char *who, uint64_t addr, const void *src,
                   size_t len);

/* A device's window: device addresses [lo, hi) that the translation takes
** one to one onto RAM, all mapped, for as long as *epoch still reads
** `seen` (no range was removed since). Only the identity translation opens
** one: an IOMMU's every access goes through its IOTLB. A device model keeps
** one for the buffer it works through (a descriptor ring, its data pages)
** and so checks each access with a compare instead of a walk. */
typedef struct dl_xlate_window {
  uint64_t lo, hi, seen;
  const uint64_t *epoch;  /* NULL: closed */
} dl_xlate_window;

/* Opens w around [addr, addr+len) (len > 0) if the machine's translation is
** the identity and every byte of it is mapped and RAM; returns 1, or 0 (w
** closed) and the device takes the checked path (dl_xlate_read/write or
** dl_xlate_resolve, which report). Opening reports nothing. */
int dl_xlate_window_open(dl_machine *m, uint64_t addr, uint64_t len, dl_xlate_window *w);

/* 1 if [addr, addr+len) lies in the open, still valid window w: then the
** access is mapped and RAM, and its physical address is addr. */
static inline int dl_xlate_window_has(const dl_xlate_window *w, uint64_t addr, uint64_t len) {
  return w->epoch && *w->epoch == w->seen && addr >= w->lo && addr < w->hi &&
         len <= w->hi - addr;
}

/* Time device dev stalled on translation since the last call (ns). */
uint64_t dl_xlate_take_stall(dl_machine *m, uint64_t dev);

/* The machine's IOMMU (dl_iommu.h), or NULL when DMA remapping is off. */
dl_iommu *dl_iommu_of(dl_machine *m);

#endif
