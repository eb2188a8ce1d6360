/*
** dl_devmodel.c: models, their register blocks and MMIO access.
*/
#include "devices/dl_devmodel.h"

#include <stdlib.h>
#include <string.h>

#include "machine/dl_xlate.h"
#include "kernel/dl_interrupt.h"
#include "machine/dl_machine.h"
#include "base/dl_status.h"
#include "machine/dl_trace.h"
#include "base/dl_wdk.h"

#define MMIO_ALIGN (UINT64_C(1) << 30)
#define IOPORT_LIMIT 0x10000u  /* x86: 64 KiB of port addresses */
#define IOPORT_BASE 0x1000u    /* the legacy ISA ports below stay free */

/* Where the next register block goes: above RAM and above 4 GiB, after
** every block placed so far. */
static uint64_t next_bar(dl_machine *m) {
  dl_physmem *pm = dl_machine_physmem(m);
  dl_range r;
  dl_physmem_range(pm, dl_physmem_range_count(pm) - 1, &r);
  uint64_t base = r.base + r.size;
  if (base < (UINT64_C(1) << 32)) base = UINT64_C(1) << 32;
  base = (base + MMIO_ALIGN - 1) & ~(MMIO_ALIGN - 1);
  for (dl_object *o = dl_object_next(m, NULL, &dl_devmodel_type); o;
       o = dl_object_next(m, o, &dl_devmodel_type)) {
    dl_devmodel *dm = (dl_devmodel *)o;
    for (size_t i = 0; i < dm->nbars; i++)
      if (dm->bars[i].start + dm->bars[i].size > base) base = dm->bars[i].start + dm->bars[i].size;
  }
  return base;
}

/* Size rounded up to a power of 2 (a PCI I/O BAR's alignment). */
static uint64_t pow2_up(uint64_t v) {
  uint64_t p = 1;
  while (p < v) p <<= 1;
  return p;
}

/* Finds a free port range of `size` bytes, aligned to size rounded up to a
** power of 2, after every range placed so far; DL_ENOSPACE if none is left. */
static int ioport_place(dl_machine *m, uint64_t size, uint64_t *port) {
  uint64_t end = IOPORT_BASE;
  for (dl_object *o = dl_object_next(m, NULL, &dl_devmodel_type); o;
       o = dl_object_next(m, o, &dl_devmodel_type)) {
    const dl_devmodel *dm = (const dl_devmodel *)o;
    for (size_t i = 0; i < dm->nports; i++)
      if (dm->ports[i].start + dm->ports[i].size > end) end = dm->ports[i].start + dm->ports[i].size;
  }
  uint64_t align = pow2_up(size);
  uint64_t at = (end + align - 1) & ~(align - 1);
  if (size == 0 || at + size > IOPORT_LIMIT) return DL_ENOSPACE;
  *port = at;
  return DL_OK;
}

/* Fills *cfg with no BAR, no port, no interrupt. */
void dl_devmodel_config_init(dl_devmodel_config *cfg) { memset(cfg, 0, sizeof *cfg); }

/* Returns 1 if every count, size, vector and IRQL of cfg is in range. */
static int config_ok(const dl_devmodel_config *cfg) {
  if (cfg->nbars > DL_DEVMODEL_MAX_BARS || cfg->nports > DL_DEVMODEL_MAX_PORTS ||
      cfg->nirqs > DL_DEVMODEL_MAX_INTERRUPTS)
    return 0;
  for (size_t i = 0; i < cfg->nbars; i++)
    if (cfg->bar_size[i] == 0 || cfg->bar_size[i] > (UINT64_C(1) << 40)) return 0;
  for (size_t i = 0; i < cfg->nports; i++)
    if (cfg->port_size[i] == 0 || cfg->port_size[i] > DL_DEVMODEL_MAX_PORT_SIZE) return 0;
  for (size_t i = 0; i < cfg->nirqs; i++) {
    const dl_devmodel_irq *q = &cfg->irq[i];
    if (q->vector >= DL_MAX_VECTORS || q->irql <= DL_DISPATCH_LEVEL || q->irql > DL_HIGH_LEVEL) return 0;
  }
  return 1;
}

/* Places the model's BARs (one after another, above every other block)
** and its port ranges. */
static int place(dl_devmodel *dm, const dl_devmodel_config *cfg) {
  uint64_t ps = dl_machine_page_size(dm->m), at = next_bar(dm->m);
  for (size_t i = 0; i < cfg->nbars; i++) {
    dm->bars[i] = (dl_devmodel_range){at, dl_round_to_pages(cfg->bar_size[i], ps), cfg->prefetchable[i] != 0};
    at += dm->bars[i].size;
  }
  dm->nbars = cfg->nbars;
  for (size_t i = 0; i < cfg->nports; i++) {
    uint64_t port;
    if (ioport_place(dm->m, cfg->port_size[i], &port)) return DL_ENOSPACE;
    dm->ports[i] = (dl_devmodel_range){port, cfg->port_size[i], 0};
    dm->nports = i + 1;  /* placed: the next range goes after it */
  }
  return DL_OK;
}

/* Creates a model of cfg. */
int dl_devmodel_new_config(dl_machine *m, const char *name, const dl_devmodel_config *cfg,
                           const dl_devmodel_ops *ops, void *ctx, dl_devmodel **out) {
  if (!config_ok(cfg)) return DL_EINVAL;
  dl_devmodel *dm = calloc(1, sizeof *dm);
  if (!dm) return DL_ENOMEM;
  int rc = dl_device_new(m, name, &dm->pdo);
  if (rc) {
    free(dm);
    return rc;
  }
  dl_object_init_as(DL_OBJECT(dm), &dl_devmodel_type, DL_OBJECT(dm->pdo));
  rc = place(dm, cfg);
  if (rc) {  /* the PDO stays with the machine, as every device object does */
    dl_object_unlink(DL_OBJECT(dm));
    free(dm);
    return rc;
  }
  if (dm->nbars) {
    dm->bar = dm->bars[0].start;
    dm->bar_size = dm->bars[0].size;
  }
  memcpy(dm->irqs, cfg->irq, cfg->nirqs * sizeof cfg->irq[0]);
  dm->nirqs = cfg->nirqs;
  for (size_t i = 0; i < dm->nirqs; i++)
    if (dm->irqs[i].message) dm->irqs[i].latched = 1;  /* a message is an edge */
  if (dm->nirqs) {
    dm->vector = dm->irqs[0].vector;
    dm->irql = dm->irqs[0].irql;
  }
  dm->ops = ops;
  dm->ctx = ctx;
  *out = dm;
  return DL_OK;
}

/* Creates a model with one register block and one level-sensitive interrupt. */
int dl_devmodel_new(dl_machine *m, const char *name, uint64_t bar_size, uint32_t vector,
                    uint8_t irql, const dl_devmodel_ops *ops, void *ctx, dl_devmodel **out) {
  dl_devmodel_config cfg;
  dl_devmodel_config_init(&cfg);
  cfg.bar_size[0] = bar_size;
  cfg.nbars = 1;
  cfg.irq[0] = (dl_devmodel_irq){vector, irql, 0, 0};
  cfg.nirqs = 1;
  return dl_devmodel_new_config(m, name, &cfg, ops, ctx, out);
}

/* Frees a model; NULL is a harmless no-op. */
void dl_devmodel_free(dl_devmodel *dm) {
  if (!dm) return;
  dl_vspace *vs = dl_machine_vspace(dm->m);
  for (size_t i = 0; i < dl_vspace_count(vs); i++) {  /* mappings of its registers forget it */
    dl_region *r = dl_vspace_at(vs, i);
    if (r->kind == DL_REGION_IO && r->data == dm) r->data = NULL;
  }
  dl_object_unlink(DL_OBJECT(dm));
  if (dm->ops && dm->ops->destroy) dm->ops->destroy(dm->ctx);
  free(dm);
}

static void destroy(dl_object *o) { dl_devmodel_free((dl_devmodel *)o); }

const dl_object_type dl_devmodel_type = { "device model", destroy, NULL, NULL, NULL };

/* The model drives its interrupt line (interrupt 0). */
void dl_devmodel_set_interrupt(dl_devmodel *dm, int asserted) { dl_devmodel_set_line(dm, 0, asserted); }

/* The model drives interrupt `index`. */
int dl_devmodel_set_line(dl_devmodel *dm, size_t index, int asserted) {
  if (index >= dm->nirqs) return DL_EINVAL;
  dl_line_set(dm->m, dm->irqs[index].vector, asserted, dm->id);
  return DL_OK;
}

/* DMA read by logical address, translated for the model's device. */
int dl_devmodel_dma_read(dl_devmodel *dm, uint64_t logical, void *dst, size_t len) {
  return dl_xlate_read(dm->m, dm->pdo->id, dm->pdo->name, logical, dst, len);
}

/* DMA write by logical address. */
int dl_devmodel_dma_write(dl_devmodel *dm, uint64_t logical, const void *src, size_t len) {
  return dl_xlate_write(dm->m, dm->pdo->id, dm->pdo->name, logical, src, len);
}

/* Time the model's DMA stalled on address translation (IOTLB misses) since
** the last call; 0 without an IOMMU. */
uint64_t dl_devmodel_take_stall(dl_devmodel *dm) {
  return dl_xlate_take_stall(dm->m, dm->pdo->id);
}

/* The model and BAR whose register block holds [pa, pa+len), or NULL. */
static dl_devmodel *model_at(dl_machine *m, uint64_t pa, uint64_t len, unsigned *bar) {
  for (dl_object *o = dl_object_next(m, NULL, &dl_devmodel_type); o;
       o = dl_object_next(m, o, &dl_devmodel_type)) {
    dl_devmodel *dm = (dl_devmodel *)o;
    for (size_t i = 0; i < dm->nbars; i++) {
      const dl_devmodel_range *b = &dm->bars[i];
      if (pa >= b->start && pa - b->start < b->size && len <= b->size - (pa - b->start)) {
        *bar = (unsigned)i;
        return dm;
      }
    }
  }
  return NULL;
}

/* MmMapIoSpace. The region remembers its model (its data slot), so a
** register access resolves the mapping once, here, not on every call. */
int dl_mmio_map(dl_machine *m, uint64_t pa, uint64_t len, uint64_t *va) {
  unsigned bar;
  dl_devmodel *dm = len ? model_at(m, pa, len, &bar) : NULL;
  if (!dm) return DL_ENOTMAPPED;
  uint64_t ps = dl_machine_page_size(m), off = pa % ps;
  uint64_t n = dl_span_pages(off, len, ps);
  uint64_t *pfns = malloc(n * sizeof *pfns);
  if (!pfns) return DL_ENOMEM;
  for (uint64_t i = 0; i < n; i++) pfns[i] = pa / ps + i;
  dl_region *r;
  int rc = dl_vspace_map(dl_machine_vspace(m), len, (uint32_t)off, pfns, n, DL_REGION_IO, &r);
  free(pfns);
  if (!rc) {
    r->data = dm;
    *va = r->va;
  }
  return rc;
}

/* MmMapIoSpaceEx's Protect. */
int dl_mmio_protect_ok(uint32_t protect) {
  uint32_t access = protect & ~(uint32_t)(DL_PAGE_NOCACHE | DL_PAGE_WRITECOMBINE);
  uint32_t cache = protect & (DL_PAGE_NOCACHE | DL_PAGE_WRITECOMBINE);
  int one = access == DL_PAGE_READONLY || access == DL_PAGE_READWRITE || access == DL_PAGE_EXECUTE ||
            access == DL_PAGE_EXECUTE_READ || access == DL_PAGE_EXECUTE_READWRITE;
  return one && cache != (DL_PAGE_NOCACHE | DL_PAGE_WRITECOMBINE);
}

/* MmUnmapIoSpace. */
int dl_mmio_unmap(dl_machine *m, uint64_t va, uint64_t len) {
  dl_region *r = dl_vspace_find(dl_machine_vspace(m), va, len ? len : 1);
  if (!r || r->kind != DL_REGION_IO || r->va != va) return DL_ENOTMAPPED;
  return dl_vspace_unmap(dl_machine_vspace(m), r);
}

/* Finds the model, BAR and offset behind a mapped register address. */
static dl_devmodel *register_at(dl_machine *m, uint64_t va, uint32_t size, unsigned *bar,
                                uint64_t *offset) {
  if (size != 1 && size != 2 && size != 4 && size != 8) return NULL;
  dl_region *r = dl_vspace_find(dl_machine_vspace(m), va, size);
  if (!r || r->kind != DL_REGION_IO) return NULL;
  uint64_t pa = dl_region_pa(r, va, dl_machine_page_size(m));
  dl_devmodel *dm = r->data;  /* the whole mapping lies in one block of its model */
  if (dm) {
    for (*bar = 0; *bar < dm->nbars && pa - dm->bars[*bar].start >= dm->bars[*bar].size; (*bar)++) {}
    if (*bar == dm->nbars) dm = NULL;
  } else {
    dm = model_at(m, pa, size, bar);
  }
  if (dm) *offset = pa - dm->bars[*bar].start;
  return dm;
}

/* READ_REGISTER_*. */
int dl_mmio_read(dl_machine *m, uint64_t va, uint32_t size, uint64_t *value) {
  uint64_t offset;
  unsigned bar;
  dl_devmodel *dm = register_at(m, va, size, &bar, &offset);
  if (!dm) return DL_ENOTMAPPED;
  *value = dm->ops->read ? dm->ops->read(dm->ctx, DL_SPACE_MEMORY, bar, offset, size) : 0;
  if (size < 8) *value &= (UINT64_C(1) << (8 * size)) - 1;
  return DL_OK;
}

/* WRITE_REGISTER_*. */
int dl_mmio_write(dl_machine *m, uint64_t va, uint32_t size, uint64_t value) {
  uint64_t offset;
  unsigned bar;
  dl_devmodel *dm = register_at(m, va, size, &bar, &offset);
  if (!dm) return DL_ENOTMAPPED;
  if (size < 8) value &= (UINT64_C(1) << (8 * size)) - 1;
  dl_trace_emit(m, DL_TR_DEVICE_PROGRAM, dm->id, offset, value);
  if (dm->ops->write) dm->ops->write(dm->ctx, DL_SPACE_MEMORY, bar, offset, size, value);
  return DL_OK;
}

/* Accessors. */
dl_device *dl_devmodel_pdo(const dl_devmodel *dm) { return dm->pdo; }
uint64_t dl_devmodel_bar(const dl_devmodel *dm) { return dm->bar; }
uint64_t dl_devmodel_bar_size(const dl_devmodel *dm) { return dm->bar_size; }
uint32_t dl_devmodel_vector(const dl_devmodel *dm) { return dm->vector; }
uint8_t dl_devmodel_irql(const dl_devmodel *dm) { return dm->irql; }
void dl_devmodel_set_ctx(dl_devmodel *dm, void *ctx) { dm->ctx = ctx; }
