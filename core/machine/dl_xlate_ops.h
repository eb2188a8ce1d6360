/*
** dl_xlate_ops.h: the interface every device-side translation implements
** (identity in dl_xlate.c, the IOMMU in dl_iommu.c); dl_xlate.h is the seam
** the rest of the engine calls.
*/
#ifndef DL_XLATE_OPS_H
#define DL_XLATE_OPS_H

#include <stdint.h>

typedef struct dl_machine dl_machine;

/* Access rights of a mapping, and the kind of a device access: READ is the
** device reading memory (a transfer to the device), WRITE the device
** writing memory. */
enum { DL_XLATE_READ = 1, DL_XLATE_WRITE = 2, DL_XLATE_RW = 3 };

/* One implementation. `self` is its state; dev is the device's object id
** (0: no device known). */
typedef struct dl_xlate_ops {
  const char *name;
  int remaps;  /* 1: any pages appear contiguous below any ceiling (no bounce needed) */
  /* Maps len bytes from pa (pfns NULL: physically contiguous) or over the
  ** pages pfns (pa's page offset is the start in pfns[0]) for dev with
  ** `perm`, below `ceiling`; sets the device address and a handle. */
  int (*map)(void *self, dl_machine *m, uint64_t dev, uint64_t pa, const uint64_t *pfns,
             uint64_t len, int perm, uint64_t ceiling, uint64_t *addr, uint32_t *handle);
  /* Removes a mapping made by map. */
  void (*unmap)(void *self, dl_machine *m, uint64_t dev, uint32_t handle);
  /* Translates the start of a device access: *pa and the bytes *run that
  ** are physically contiguous from it (at most len); a fault is reported
  ** (0xE6/0x26) and returns DL_ENOTMAPPED. */
  int (*resolve)(void *self, dl_machine *m, uint64_t dev, const char *who, uint64_t addr,
                 uint64_t len, int access, uint64_t *pa, uint64_t *run);
  /* Time dev stalled on translation since the last call (ns), then 0. */
  uint64_t (*take_stall)(void *self, uint64_t dev);
  void (*destroy)(void *self);
} dl_xlate_ops;

typedef struct dl_xlate {
  const dl_xlate_ops *ops;
  void *self;
} dl_xlate;

#endif
