/*
** dl_devmodel.h: device models: hardware on the machine. A model has a
** register block (a BAR at a physical address outside RAM) whose reads and
** writes go to its handlers, an interrupt line it drives, and DMA access
** by logical address. Drivers reach the registers as real drivers do:
** MmMapIoSpace the BAR, then READ_REGISTER_ULONG and friends on the mapped
** virtual address. Each model comes with its DEVICE_OBJECT (the PDO).
*/
#ifndef DL_DEVMODEL_H
#define DL_DEVMODEL_H

#include <stddef.h>
#include <stdint.h>

#include "io/dl_device.h"
#include "base/dl_list.h"

typedef struct dl_machine dl_machine;
typedef struct dl_devmodel dl_devmodel;

/* What a model does when its registers are accessed. */
typedef struct dl_devmodel_ops {
  uint64_t (*read)(void *ctx, uint64_t offset, uint32_t size);
  void (*write)(void *ctx, uint64_t offset, uint32_t size, uint64_t value);
  void (*destroy)(void *ctx);          /* the model goes away (may be NULL) */
} dl_devmodel_ops;

struct dl_devmodel {
  DL_OBJECT_FIELDS
  dl_device *pdo;
  uint64_t bar, bar_size;              /* physical register block */
  uint32_t vector;
  uint8_t irql;
  const dl_devmodel_ops *ops;
  void *ctx;
};

/* The device-model type; a model shares its PDO's id. */
extern const dl_object_type dl_devmodel_type;

/* Creates a model with a register block of bar_size bytes (rounded up to
** pages) placed above RAM, its interrupt on `vector` at `irql`. */
int dl_devmodel_new(dl_machine *m, const char *name, uint64_t bar_size, uint32_t vector,
                    uint8_t irql, const dl_devmodel_ops *ops, void *ctx, dl_devmodel **out);

/* The model's PDO, register block, interrupt vector and IRQL. */
dl_device *dl_devmodel_pdo(const dl_devmodel *dm);
uint64_t dl_devmodel_bar(const dl_devmodel *dm);
uint64_t dl_devmodel_bar_size(const dl_devmodel *dm);
uint32_t dl_devmodel_vector(const dl_devmodel *dm);
uint8_t dl_devmodel_irql(const dl_devmodel *dm);

/* Sets the context its ops get (a binding passes the model itself). */
void dl_devmodel_set_ctx(dl_devmodel *dm, void *ctx);

/* Frees a model (calls ops->destroy); NULL is a harmless no-op. */
void dl_devmodel_free(dl_devmodel *dm);


/* The model drives its interrupt line. */
void dl_devmodel_set_interrupt(dl_devmodel *dm, int asserted);

/* The model reads or writes memory by logical address (DMA). */
int dl_devmodel_dma_read(dl_devmodel *dm, uint64_t logical, void *dst, size_t len);
int dl_devmodel_dma_write(dl_devmodel *dm, uint64_t logical, const void *src, size_t len);

/* Time the model's DMA stalled on address translation since the last call
** (ns; IOTLB misses under an IOMMU, else 0). */
uint64_t dl_devmodel_take_stall(dl_devmodel *dm);

/* MmMapIoSpace: maps [pa, pa+len) of one model's registers; *va gets the
** address. DL_ENOTMAPPED if the range is not inside one register block. */
int dl_mmio_map(dl_machine *m, uint64_t pa, uint64_t len, uint64_t *va);

/* MmUnmapIoSpace. */
int dl_mmio_unmap(dl_machine *m, uint64_t va, uint64_t len);

/* READ_REGISTER_*: size 1, 2, 4 or 8 at a mapped virtual address. */
int dl_mmio_read(dl_machine *m, uint64_t va, uint32_t size, uint64_t *value);

/* WRITE_REGISTER_*. */
int dl_mmio_write(dl_machine *m, uint64_t va, uint32_t size, uint64_t value);

#endif
