/*
** dl_devmodel.h: device models: hardware on the machine. A model has memory
** BARs (register blocks at physical addresses outside RAM) and I/O-port
** ranges whose reads and writes go to its handlers (told which BAR or port
** range), interrupt lines it drives, and DMA access by logical address.
** Drivers reach the registers as real drivers do: MmMapIoSpace a BAR, then
** READ_REGISTER_ULONG and friends on the mapped virtual address; ports need
** no mapping (x86): READ_PORT_UCHAR and friends on the port address of the
** resource (dl_ioport.h). Each model comes with its DEVICE_OBJECT (the PDO).
*/
#ifndef DL_DEVMODEL_H
#define DL_DEVMODEL_H

#include <stddef.h>
#include <stdint.h>

#include "io/dl_device.h"
#include "base/dl_list.h"

typedef struct dl_machine dl_machine;
typedef struct dl_devmodel dl_devmodel;

/* Limits: six BARs as a PCI function has, I/O ranges of at most 256
** bytes (a PCI I/O BAR), a few interrupts (line or messages). */
#define DL_DEVMODEL_MAX_BARS 6
#define DL_DEVMODEL_MAX_PORTS 6
#define DL_DEVMODEL_MAX_PORT_SIZE 256
#define DL_DEVMODEL_MAX_INTERRUPTS 8

/* Which register space an access reaches. */
typedef enum dl_space { DL_SPACE_MEMORY = 0, DL_SPACE_PORT = 1 } dl_space;

/* What a model does when its registers are accessed: `space` and `index`
** tell which BAR (0-based, in declaration order) or port range; offset is
** from its start. */
typedef struct dl_devmodel_ops {
  uint64_t (*read)(void *ctx, dl_space space, unsigned index, uint64_t offset, uint32_t size);
  void (*write)(void *ctx, dl_space space, unsigned index, uint64_t offset, uint32_t size,
                uint64_t value);
  void (*destroy)(void *ctx);          /* the model goes away (may be NULL) */
} dl_devmodel_ops;

/* One range of the model: a memory BAR or an I/O-port range. */
typedef struct dl_devmodel_range {
  uint64_t start, size;
  int prefetchable;                    /* memory: CM_RESOURCE_MEMORY_PREFETCHABLE */
} dl_devmodel_range;

/* One interrupt: its vector and DIRQL; latched (edge) or level-sensitive;
** message-signaled (MSI: latched, one message). */
typedef struct dl_devmodel_irq {
  uint32_t vector;
  uint8_t irql;
  uint8_t latched, message;
} dl_devmodel_irq;

/* What a model is made of (sizes; the machine places the ranges). */
typedef struct dl_devmodel_config {
  uint64_t bar_size[DL_DEVMODEL_MAX_BARS];
  uint8_t prefetchable[DL_DEVMODEL_MAX_BARS];
  size_t nbars;
  uint64_t port_size[DL_DEVMODEL_MAX_PORTS];
  size_t nports;
  dl_devmodel_irq irq[DL_DEVMODEL_MAX_INTERRUPTS];
  size_t nirqs;
} dl_devmodel_config;

struct dl_devmodel {
  DL_OBJECT_FIELDS
  dl_device *pdo;
  uint64_t bar, bar_size;              /* BAR 0 (0 if the model has none) */
  uint32_t vector;                     /* interrupt 0 (vector 0, irql 0 if none) */
  uint8_t irql;
  dl_devmodel_range bars[DL_DEVMODEL_MAX_BARS], ports[DL_DEVMODEL_MAX_PORTS];
  size_t nbars, nports;
  dl_devmodel_irq irqs[DL_DEVMODEL_MAX_INTERRUPTS];
  size_t nirqs;
  const dl_devmodel_ops *ops;
  void *ctx;
};

/* The device-model type; a model shares its PDO's id. */
extern const dl_object_type dl_devmodel_type;

/* Creates a model with a register block of bar_size bytes (rounded up to
** pages) placed above RAM, its interrupt on `vector` at `irql`
** (level-sensitive). */
int dl_devmodel_new(dl_machine *m, const char *name, uint64_t bar_size, uint32_t vector,
                    uint8_t irql, const dl_devmodel_ops *ops, void *ctx, dl_devmodel **out);

/* Creates a model of cfg: each BAR rounded up to pages and placed above RAM
** and 4 GiB, each port range (1..256 bytes) at a free port address aligned
** to its size rounded up to a power of 2. DL_EINVAL for a size, count,
** vector or IRQL out of range; DL_ENOSPACE when the port space (64 KiB) is
** full. */
int dl_devmodel_new_config(dl_machine *m, const char *name, const dl_devmodel_config *cfg,
                           const dl_devmodel_ops *ops, void *ctx, dl_devmodel **out);

/* Fills *cfg with no BAR, no port, no interrupt. */
void dl_devmodel_config_init(dl_devmodel_config *cfg);

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


/* The model drives its interrupt line (interrupt 0). */
void dl_devmodel_set_interrupt(dl_devmodel *dm, int asserted);

/* The model drives interrupt `index`; DL_EINVAL if it has no such interrupt. */
int dl_devmodel_set_line(dl_devmodel *dm, size_t index, int asserted);

/* The model reads or writes memory by logical address (DMA). */
int dl_devmodel_dma_read(dl_devmodel *dm, uint64_t logical, void *dst, size_t len);
int dl_devmodel_dma_write(dl_devmodel *dm, uint64_t logical, const void *src, size_t len);

/* Time the model's DMA stalled on address translation since the last call
** (ns; IOTLB misses under an IOMMU, else 0). */
uint64_t dl_devmodel_take_stall(dl_devmodel *dm);

/* MmMapIoSpace: maps [pa, pa+len) of one model's registers; *va gets the
** address. DL_ENOTMAPPED if the range is not inside one register block. */
int dl_mmio_map(dl_machine *m, uint64_t pa, uint64_t len, uint64_t *va);

/* MmMapIoSpaceEx's Protect: exactly one of PAGE_READONLY, PAGE_READWRITE,
** PAGE_EXECUTE, PAGE_EXECUTE_READ, PAGE_EXECUTE_READWRITE, and at most one
** of PAGE_NOCACHE, PAGE_WRITECOMBINE (wdm.h's documentation). Returns 1 if
** valid. The lab maps every register block alike (uncached device memory):
** the protection is checked, not enforced on accesses. */
int dl_mmio_protect_ok(uint32_t protect);

/* MmUnmapIoSpace. */
int dl_mmio_unmap(dl_machine *m, uint64_t va, uint64_t len);

/* READ_REGISTER_*: size 1, 2, 4 or 8 at a mapped virtual address. */
int dl_mmio_read(dl_machine *m, uint64_t va, uint32_t size, uint64_t *value);

/* WRITE_REGISTER_*. */
int dl_mmio_write(dl_machine *m, uint64_t va, uint32_t size, uint64_t value);

#endif
