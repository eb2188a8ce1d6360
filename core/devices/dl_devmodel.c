/*
** dl_devmodel.c: models, their register blocks and MMIO access.
*/
#include "devices/dl_devmodel.h"

#include <stdlib.h>

#include "machine/dl_xlate.h"
#include "kernel/dl_interrupt.h"
#include "machine/dl_machine.h"
#include "base/dl_status.h"
#include "machine/dl_trace.h"
#include "base/dl_wdk.h"

#define MMIO_ALIGN (UINT64_C(1) << 30)

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
    if (dm->bar + dm->bar_size > base) base = dm->bar + dm->bar_size;
  }
  return base;
}

/* Creates a model with a register block placed above RAM. */
int dl_devmodel_new(dl_machine *m, const char *name, uint64_t bar_size, uint32_t vector,
                    uint8_t irql, const dl_devmodel_ops *ops, void *ctx, dl_devmodel **out) {
  uint64_t ps = dl_machine_page_size(m);
  if (bar_size == 0 || vector >= DL_MAX_VECTORS || irql <= DL_DISPATCH_LEVEL || irql > DL_HIGH_LEVEL)
    return DL_EINVAL;
  dl_devmodel *dm = calloc(1, sizeof *dm);
  if (!dm) return DL_ENOMEM;
  int rc = dl_device_new(m, name, &dm->pdo);
  if (rc) {
    free(dm);
    return rc;
  }
  dl_object_init_as(DL_OBJECT(dm), &dl_devmodel_type, DL_OBJECT(dm->pdo));
  dm->bar = next_bar(m);
  dm->bar_size = dl_round_to_pages(bar_size, ps);
  dm->vector = vector;
  dm->irql = irql;
  dm->ops = ops;
  dm->ctx = ctx;
  *out = dm;
  return DL_OK;
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

/* The model's PDO is the bus driver's (the lab's): a function driver's
** IoDeleteDevice of it is refused (dl_devstack.h). */
static int holds(const dl_object *o, const dl_object *other) {
  return other == DL_OBJECT(((const dl_devmodel *)o)->pdo) ? DL_HOLDS_NEEDS : 0;
}

const dl_object_type dl_devmodel_type = { "device model", destroy, NULL, holds, NULL };

/* The model drives its interrupt line. */
void dl_devmodel_set_interrupt(dl_devmodel *dm, int asserted) {
  dl_line_set(dm->m, dm->vector, asserted, dm->id);
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

/* The model whose register block holds [pa, pa+len), or NULL. */
static dl_devmodel *model_at(dl_machine *m, uint64_t pa, uint64_t len) {
  for (dl_object *o = dl_object_next(m, NULL, &dl_devmodel_type); o;
       o = dl_object_next(m, o, &dl_devmodel_type)) {
    dl_devmodel *dm = (dl_devmodel *)o;
    if (pa >= dm->bar && pa - dm->bar < dm->bar_size && len <= dm->bar_size - (pa - dm->bar))
      return dm;
  }
  return NULL;
}

/* MmMapIoSpace. The region remembers its model (its data slot), so a
** register access resolves the mapping once, here, not on every call. */
int dl_mmio_map(dl_machine *m, uint64_t pa, uint64_t len, uint64_t *va) {
  dl_devmodel *dm = len ? model_at(m, pa, len) : NULL;
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

/* MmUnmapIoSpace. */
int dl_mmio_unmap(dl_machine *m, uint64_t va, uint64_t len) {
  dl_region *r = dl_vspace_find(dl_machine_vspace(m), va, len ? len : 1);
  if (!r || r->kind != DL_REGION_IO || r->va != va) return DL_ENOTMAPPED;
  return dl_vspace_unmap(dl_machine_vspace(m), r);
}

/* Finds the model and offset behind a mapped register address. */
static dl_devmodel *register_at(dl_machine *m, uint64_t va, uint32_t size, uint64_t *offset) {
  if (size != 1 && size != 2 && size != 4 && size != 8) return NULL;
  dl_region *r = dl_vspace_find(dl_machine_vspace(m), va, size);
  if (!r || r->kind != DL_REGION_IO) return NULL;
  uint64_t pa = dl_region_pa(r, va, dl_machine_page_size(m));
  dl_devmodel *dm = r->data;  /* the whole mapping lies in its model's block */
  if (!dm) dm = model_at(m, pa, size);
  if (dm) *offset = pa - dm->bar;
  return dm;
}

/* READ_REGISTER_*. */
int dl_mmio_read(dl_machine *m, uint64_t va, uint32_t size, uint64_t *value) {
  uint64_t offset;
  dl_devmodel *dm = register_at(m, va, size, &offset);
  if (!dm) return DL_ENOTMAPPED;
  *value = dm->ops->read ? dm->ops->read(dm->ctx, offset, size) : 0;
  if (size < 8) *value &= (UINT64_C(1) << (8 * size)) - 1;
  return DL_OK;
}

/* WRITE_REGISTER_*. */
int dl_mmio_write(dl_machine *m, uint64_t va, uint32_t size, uint64_t value) {
  uint64_t offset;
  dl_devmodel *dm = register_at(m, va, size, &offset);
  if (!dm) return DL_ENOTMAPPED;
  if (size < 8) value &= (UINT64_C(1) << (8 * size)) - 1;
  dl_trace_emit(m, DL_TR_DEVICE_PROGRAM, dm->id, offset, value);
  if (dm->ops->write) dm->ops->write(dm->ctx, offset, size, value);
  return DL_OK;
}

/* Accessors. */
dl_device *dl_devmodel_pdo(const dl_devmodel *dm) { return dm->pdo; }
uint64_t dl_devmodel_bar(const dl_devmodel *dm) { return dm->bar; }
uint64_t dl_devmodel_bar_size(const dl_devmodel *dm) { return dm->bar_size; }
uint32_t dl_devmodel_vector(const dl_devmodel *dm) { return dm->vector; }
uint8_t dl_devmodel_irql(const dl_devmodel *dm) { return dm->irql; }
void dl_devmodel_set_ctx(dl_devmodel *dm, void *ctx) { dm->ctx = ctx; }
