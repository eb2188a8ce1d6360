/*
** dl_xlate.c: the translation seam and its identity implementation (the
** IOMMU implementation is dl_iommu.c). The identity translation keeps what
** devices may reach in the machine's dmamap, so it behaves, reports and
** traces exactly as the engine did before the seam existed.
*/
#include "machine/dl_xlate.h"

#include <stdlib.h>

#include "base/dl_status.h"
#include "machine/dl_context.h"
#include "machine/dl_dmamap.h"
#include "machine/dl_iommu.h"
#include "machine/dl_platform.h"
#include "machine/dl_verifier.h"
#include "memory/dl_physmem.h"

/* ---- identity ------------------------------------------------------------ */

static int id_map(void *self, dl_machine *m, uint64_t dev, uint64_t pa, const uint64_t *pfns,
                  uint64_t len, int perm, uint64_t ceiling, uint64_t *addr, uint32_t *handle) {
  (void)self, (void)dev, (void)pfns, (void)perm, (void)ceiling;  /* the caller made pa reachable */
  *addr = pa;
  return dl_dmamap_add(dl_machine_dmamap(m), pa, len, handle);
}

static void id_unmap(void *self, dl_machine *m, uint64_t dev, uint32_t handle) {
  (void)self, (void)dev;
  dl_dmamap_remove(dl_machine_dmamap(m), handle);
}

/* The identity's check of a device access: every byte mapped, or a report. */
static int id_check(dl_machine *m, const char *who, uint64_t addr, uint64_t len, int access) {
  if (dl_dmamap_covers(dl_machine_dmamap(m), addr, len)) return DL_OK;
  dl_verify_fail(m, DL_BUGCHECK_DMA, DL_VF_IOMMU_FAULT, 0, addr, len,
                 "%s %ss %zu bytes at logical address 0x%llx, which no one mapped for DMA",
                 who ? who : "a device", access == DL_XLATE_WRITE ? "write" : "read",
                 (size_t)len, (unsigned long long)addr);
  return DL_ENOTMAPPED;
}

static int id_resolve(void *self, dl_machine *m, uint64_t dev, const char *who, uint64_t addr,
                      uint64_t len, int access, uint64_t *pa, uint64_t *run) {
  (void)self, (void)dev;
  *pa = addr;
  *run = len;
  return id_check(m, who, addr, len, access);
}

static uint64_t id_take_stall(void *self, uint64_t dev) {
  (void)self, (void)dev;
  return 0;
}

static void id_destroy(void *self) { (void)self; }

static const dl_xlate_ops identity_ops = { "identity", 0, id_map, id_unmap, id_resolve,
                                           id_take_stall, id_destroy };

/* ---- the seam ---------------------------------------------------------------- */

static void free_part(void *part) {
  dl_xlate *x = part;
  x->ops->destroy(x->self);
  free(x);
}

/* The machine's translation, made on first use from its configuration. */
dl_xlate *dl_xlate_of(dl_machine *m) {
  dl_xlate *x = dl_machine_part(m, DL_PART_XLATE);
  if (x) return x;
  const dl_platform_config *cfg = dl_machine_platform(m);
  if (!(x = calloc(1, sizeof *x))) return NULL;
  x->ops = &identity_ops;
  if (cfg->iommu) {
    x->ops = &dl_iommu_ops;
    if (!(x->self = dl_iommu_new(cfg, dl_machine_page_size(m)))) {
      free(x);
      return NULL;
    }
  }
  dl_machine_set_part(m, DL_PART_XLATE, x, free_part);
  return x;
}

const char *dl_xlate_name(dl_machine *m) {
  dl_xlate *x = dl_xlate_of(m);
  return x ? x->ops->name : "identity";
}

int dl_xlate_remaps(dl_machine *m) {
  dl_xlate *x = dl_xlate_of(m);
  return x && x->ops->remaps;
}

/* Maps a range for device dev. */
int dl_xlate_map(dl_machine *m, uint64_t dev, uint64_t pa, const uint64_t *pfns, uint64_t len,
                 int perm, uint64_t ceiling, uint64_t *addr, uint32_t *handle) {
  dl_xlate *x = dl_xlate_of(m);
  if (!x) return DL_ENOMEM;
  return x->ops->map(x->self, m, dev, pa, pfns, len, perm, ceiling, addr, handle);
}

/* Removes a mapping of dev. */
void dl_xlate_unmap(dl_machine *m, uint64_t dev, uint32_t handle) {
  dl_xlate *x = dl_xlate_of(m);
  if (x) x->ops->unmap(x->self, m, dev, handle);
}

/* Translates the start of a device access. */
int dl_xlate_resolve(dl_machine *m, uint64_t dev, const char *who, uint64_t addr, uint64_t len,
                     int access, uint64_t *pa, uint64_t *run) {
  dl_xlate *x = dl_machine_part(m, DL_PART_XLATE);
  if (!x && !(x = dl_xlate_of(m))) return DL_ENOMEM;
  return x->ops->resolve(x->self, m, dev, who, addr, len, access, pa, run);
}

/* Moves len bytes between a device and memory, piece by translated piece;
** a fault blocks the faulting piece and everything after it (the pieces
** before it were done, as a real transfer aborts at the faulting page).
** The identity's one piece is checked in place (what id_resolve does,
** without the indirect call: descriptors make many small accesses). */
static int access(dl_machine *m, uint64_t dev, const char *who, uint64_t addr, uint8_t *buf,
                  size_t len, int kind) {
  dl_xlate *x = dl_machine_part(m, DL_PART_XLATE);
  if (!x && !(x = dl_xlate_of(m))) return DL_ENOMEM;
  dl_physmem *pm = dl_machine_physmem(m);
  if (x->ops == &identity_ops) {
    int rc = id_check(m, who, addr, len, kind);
    if (rc || len == 0) return rc;
    return kind == DL_XLATE_READ ? dl_physmem_read(pm, addr, buf, len)
                                 : dl_physmem_write(pm, addr, buf, len);
  }
  size_t done = 0;
  do {
    uint64_t pa, run;
    int rc = x->ops->resolve(x->self, m, dev, who, addr + done, len - done, kind, &pa, &run);
    if (rc) return rc;
    if (run == 0) break;  /* a zero-length access */
    rc = kind == DL_XLATE_READ ? dl_physmem_read(pm, pa, buf + done, (size_t)run)
                               : dl_physmem_write(pm, pa, buf + done, (size_t)run);
    if (rc) return rc;
    done += (size_t)run;
  } while (done < len);
  return DL_OK;
}

/* Device dev reads len bytes at addr into dst. */
int dl_xlate_read(dl_machine *m, uint64_t dev, const char *who, uint64_t addr, void *dst,
                  size_t len) {
  return access(m, dev, who, addr, dst, len, DL_XLATE_READ);
}

/* Device dev writes len bytes at addr. */
int dl_xlate_write(dl_machine *m, uint64_t dev, const char *who, uint64_t addr, const void *src,
                   size_t len) {
  return access(m, dev, who, addr, (uint8_t *)src, len, DL_XLATE_WRITE);
}

/* Opens a window for direct device access (identity only). The span the
** dmamap vouches for is cut to the RAM range holding addr, so a hit needs
** neither the walk nor the RAM check. */
int dl_xlate_window_open(dl_machine *m, uint64_t addr, uint64_t len, dl_xlate_window *w) {
  w->epoch = NULL;
  dl_xlate *x = dl_machine_part(m, DL_PART_XLATE);
  if (!x && !(x = dl_xlate_of(m))) return 0;
  if (x->ops != &identity_ops) return 0;
  dl_dmamap *dm = dl_machine_dmamap(m);
  dl_physmem *pm = dl_machine_physmem(m);
  uint64_t lo, hi;
  if (!dl_dmamap_span(dm, addr, len, &lo, &hi) || !dl_physmem_is_ram(pm, addr, len)) return 0;
  for (size_t i = 0; i < dl_physmem_range_count(pm); i++) {
    dl_range r;
    dl_physmem_range(pm, i, &r);
    if (addr < r.base || addr - r.base >= r.size) continue;
    if (lo < r.base) lo = r.base;
    if (hi - r.base > r.size) hi = r.base + r.size;
    *w = (dl_xlate_window){lo, hi, *dl_dmamap_epoch(dm), dl_dmamap_epoch(dm)};
    return 1;
  }
  return 0;
}

/* Time device dev stalled on translation since the last call (ns). */
uint64_t dl_xlate_take_stall(dl_machine *m, uint64_t dev) {
  dl_xlate *x = dl_machine_part(m, DL_PART_XLATE);
  return x ? x->ops->take_stall(x->self, dev) : 0;
}

/* The machine's IOMMU, or NULL when DMA remapping is off. */
dl_iommu *dl_iommu_of(dl_machine *m) {
  dl_xlate *x = dl_xlate_of(m);
  return x && x->ops == &dl_iommu_ops ? x->self : NULL;
}

/* ---- the devices' access without a device id (dl_dmamap.h) ------------------- */

/* A device reads at a logical address: through the machine's translation
** (dl_xlate.h), as a device the IOMMU knows no domain of. */
int dl_dma_read(dl_machine *m, const char *who, uint64_t logical, void *dst, size_t len) {
  return dl_xlate_read(m, 0, who, logical, dst, len);
}

/* A device writes at a logical address. */
int dl_dma_write(dl_machine *m, const char *who, uint64_t logical, const void *src, size_t len) {
  return dl_xlate_write(m, 0, who, logical, src, len);
}
