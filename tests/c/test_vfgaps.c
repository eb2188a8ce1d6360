/*
** test_vfgaps.c: the Driver Verifier checks issue 16 found missing (item 7):
** one buffer range mapped twice -- two S/G lists, two adapters -- is
** 0xE6/0x1D and maps nothing; a zero-length GetScatterGatherList is 0x21;
** FlushAdapterBuffers past the mapped bytes is 0x00 with P2 1; flushing with
** the opposite WriteToDevice is reported and copies nothing back; a buffer
** whose pages are mapped for DMA, and an MDL a waiting request or a live
** mapping holds, cannot be freed (nothing is freed).
*/
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "rig.h"
#include "machine/dl_dmamap.h"
#include "machine/dl_object.h"

typedef struct got {
  int n;
  dl_sglist *sg[4];
  uint64_t id[4];
} got;

static void list_control(void *ctx, dl_device *dev, dl_sglist *sg) {
  (void)dev;
  got *g = ctx;
  g->sg[g->n] = sg;
  g->id[g->n++] = dl_sglist_id(sg);
}

static uint32_t get_list(rig *r, dl_adapter *a, dl_mdl *mdl, uint64_t va, uint32_t len, got *g) {
  dl_machine_set_irql(r->m, DL_DISPATCH_LEVEL);
  uint32_t st = dl_adapter_get_sglist(a, r->dev, mdl, va, len, list_control, g, 1, 0);
  dl_machine_set_irql(r->m, DL_PASSIVE_LEVEL);
  return st;
}

static void put_list(rig *r, dl_adapter *a, got *g, int i) {
  dl_machine_set_irql(r->m, DL_DISPATCH_LEVEL);
  dl_adapter_put_sglist(a, g->sg[i], g->id[i], 1);
  dl_machine_set_irql(r->m, DL_PASSIVE_LEVEL);
}

static dl_region *buffer(rig *r, uint64_t len) {
  dl_region *b = NULL;
  assert_int_equal(dl_buffer_new(r->m, len, 0, DL_ALLOC_SCATTERED, DL_REGION_NONPAGED, &b), DL_OK);
  return b;
}

/* AdapterControl keeping the registers; stores the base. */
static int keep(void *ctx, dl_device *dev, uint64_t base) {
  (void)dev;
  *(uint64_t *)ctx = base;
  return DL_DEALLOCATE_OBJECT_KEEP_REGISTERS;
}

static uint64_t registers(rig *r, dl_adapter *a, uint32_t n) {
  uint64_t base = 0;
  dl_machine_set_irql(r->m, DL_DISPATCH_LEVEL);
  assert_int_equal(dl_adapter_allocate_channel(a, r->dev, n, keep, &base), DL_STATUS_SUCCESS);
  dl_machine_set_irql(r->m, DL_PASSIVE_LEVEL);
  assert_int_not_equal(base, 0);
  return base;
}

/* Two S/G lists of one buffer range: the second is 0x1D and never built;
** a list of another buffer, or of the same range after the put, is fine. */
static void test_two_sglists_of_one_range_is_0x1d(void **state) {
  rig *r = *state;
  dl_adapter *a = rig_adapter(r, rig_desc(1, 0, 1, 64 * 1024), NULL);
  dl_region *b = buffer(r, 4 * PS), *other = buffer(r, PS);
  dl_mdl *mdl = rig_mdl(r, b), *mdl2 = rig_mdl(r, other);
  got g = {0};
  uint64_t before = rig_reports(r);
  assert_int_equal(get_list(r, a, mdl, b->va, 4 * PS, &g), DL_STATUS_SUCCESS);
  assert_int_equal(g.n, 1);
  assert_int_equal(b->dma_maps > 0, 1);
  get_list(r, a, mdl, b->va + PS, PS, &g);  /* overlaps the first list */
  const dl_report *rep = rig_expect(r, before, DL_VF_MAPPED_TWICE);
  assert_int_equal(rep->p2, b->va + PS);
  assert_non_null(strstr(rep->message, "is already mapped for DMA by adapter#"));
  assert_int_equal(g.n, 1);  /* nothing was built */
  assert_int_equal(get_list(r, a, mdl2, other->va, PS, &g), DL_STATUS_SUCCESS);
  assert_int_equal(g.n, 2);
  put_list(r, a, &g, 0);
  put_list(r, a, &g, 1);
  assert_int_equal(b->dma_maps, 0);
  assert_int_equal(get_list(r, a, mdl, b->va + PS, PS, &g), DL_STATUS_SUCCESS);  /* unmapped now */
  assert_int_equal(g.n, 3);
  put_list(r, a, &g, 2);
  rig_expect_none(r, before + 1);
  assert_int_equal(dl_mdl_free(mdl), DL_OK);
  assert_int_equal(dl_mdl_free(mdl2), DL_OK);
  dl_adapter_put(a);
}

/* MapTransfer of a range another adapter has mapped: 0x1D, nothing mapped. */
static void test_two_adapters_mapping_one_range_is_0x1d(void **state) {
  rig *r = *state;
  dl_adapter *a = rig_adapter(r, rig_desc(1, 0, 1, 16 * 1024), NULL);
  dl_adapter *c = rig_adapter_for(r, rig_device(r, "d2"), rig_desc(1, 0, 1, 16 * 1024), NULL);
  dl_region *b = buffer(r, 2 * PS);
  dl_mdl *mdl = rig_mdl(r, b);
  uint64_t ba = registers(r, a, 2), bc = 0, logical;
  dl_machine_set_irql(r->m, DL_DISPATCH_LEVEL);
  assert_int_equal(dl_adapter_allocate_channel(c, dl_adapter_device(c), 2, keep, &bc),
                   DL_STATUS_SUCCESS);
  uint32_t len = PS;
  uint64_t before = rig_reports(r);
  assert_int_equal(dl_adapter_map_transfer(a, mdl, ba, b->va, &len, 1, &logical), DL_OK);
  len = 2 * PS;
  assert_int_not_equal(dl_adapter_map_transfer(c, mdl, bc, b->va, &len, 1, &logical), DL_OK);
  assert_int_equal(len, 0);
  rig_expect(r, before, DL_VF_MAPPED_TWICE);
  len = PS;  /* the half adapter a did not map is free to map */
  assert_int_equal(dl_adapter_map_transfer(c, mdl, bc, b->va + PS, &len, 1, &logical), DL_OK);
  assert_int_equal(dl_adapter_flush(a, mdl, ba, b->va, PS, 1), 1);
  assert_int_equal(dl_adapter_flush(c, mdl, bc, b->va + PS, PS, 1), 1);
  assert_int_equal(dl_adapter_free_map_registers(a, ba, 2), DL_OK);
  assert_int_equal(dl_adapter_free_map_registers(c, bc, 2), DL_OK);
  dl_machine_set_irql(r->m, DL_PASSIVE_LEVEL);
  rig_expect_none(r, before + 1);
  assert_int_equal(b->dma_maps, 0);
  assert_int_equal(dl_mdl_free(mdl), DL_OK);
  dl_adapter_put(a);
  dl_adapter_put(c);
}

static void test_zero_length_sglist_is_0x21(void **state) {
  rig *r = *state;
  dl_adapter *a = rig_adapter(r, rig_desc(1, 0, 1, 64 * 1024), NULL);
  dl_region *b = buffer(r, PS);
  dl_mdl *mdl = rig_mdl(r, b);
  got g = {0};
  uint64_t before = rig_reports(r);
  assert_int_equal(get_list(r, a, mdl, b->va, 0, &g), DL_STATUS_INVALID_PARAMETER);
  const dl_report *rep = rig_expect(r, before, DL_VF_ZERO_LENGTH_MAP);
  assert_non_null(strstr(rep->message, "GetScatterGatherList: zero-length map"));
  assert_int_equal(g.n, 0);
  assert_int_equal(dl_mdl_free(mdl), DL_OK);
  dl_adapter_put(a);
}

/* A Length past what was mapped: 0x00 with P2 1, P3 the bytes mapped and
** P4 the Length; the mapping still ends. */
static void test_flush_past_the_mapping_is_0x00(void **state) {
  rig *r = *state;
  dl_adapter *a = rig_adapter(r, rig_desc(1, 0, 1, 16 * 1024), NULL);
  dl_region *b = buffer(r, 2 * PS);
  dl_mdl *mdl = rig_mdl(r, b);
  uint64_t base = registers(r, a, 2), logical;
  uint32_t len = 100;
  dl_machine_set_irql(r->m, DL_DISPATCH_LEVEL);
  assert_int_equal(dl_adapter_map_transfer(a, mdl, base, b->va, &len, 1, &logical), DL_OK);
  uint64_t before = rig_reports(r);
  assert_int_equal(dl_adapter_flush(a, mdl, base, b->va, 2 * PS, 1), 1);
  const dl_report *rep = rig_expect(r, before, DL_VF_MISC);
  assert_int_equal(rep->p2, 1);
  assert_int_equal(rep->p3, 100);
  assert_int_equal(rep->p4, 2 * PS);
  assert_int_equal(b->dma_maps, 0);
  len = 100;  /* exactly what was mapped: no report */
  assert_int_equal(dl_adapter_map_transfer(a, mdl, base, b->va, &len, 1, &logical), DL_OK);
  assert_int_equal(dl_adapter_flush(a, mdl, base, b->va, 100, 1), 1);
  rig_expect_none(r, before + 1);
  assert_int_equal(dl_adapter_free_map_registers(a, base, 2), DL_OK);
  dl_machine_set_irql(r->m, DL_PASSIVE_LEVEL);
  assert_int_equal(dl_mdl_free(mdl), DL_OK);
  dl_adapter_put(a);
}

/* A read (device to memory) through a bounce flushed as a write: reported,
** and the device's bytes are not copied into the buffer. */
static void test_flush_the_wrong_way_copies_nothing_back(void **state) {
  rig *r = *state;
  dl_adapter *a = rig_adapter(r, rig_desc(0, 1, 0, 16 * 1024), NULL);  /* 32-bit packet */
  uint64_t p = rig_pages_at(r, 1, GiB4);  /* above the ceiling: bounces */
  dl_region *b = rig_map(r, &p, 0, PS);
  dl_mdl *mdl = rig_mdl(r, b);
  rig_pattern(r, b->va, PS, 1);
  uint64_t base = registers(r, a, 2), logical;
  uint32_t len = PS;
  dl_machine_set_irql(r->m, DL_DISPATCH_LEVEL);
  assert_int_equal(dl_adapter_map_transfer(a, mdl, base, b->va, &len, 0, &logical), DL_OK);
  assert_true(logical < GiB4);
  uint8_t junk[64];
  memset(junk, 0xEE, sizeof junk);
  assert_int_equal(dl_dma_write(r->m, "dev0", logical, junk, sizeof junk), DL_OK);
  uint64_t before = rig_reports(r);
  assert_int_equal(dl_adapter_flush(a, mdl, base, b->va, PS, 1), 1);  /* WriteToDevice TRUE */
  const dl_report *rep = rig_expect(r, before, DL_VF_MISC);
  assert_int_equal(rep->p2, 0);
  assert_non_null(strstr(rep->message, "nothing is copied back"));
  assert_true(rig_has_pattern(r, b->va, PS, 1));  /* the buffer kept its bytes */
  assert_int_equal(dl_adapter_free_map_registers(a, base, 2), DL_OK);
  dl_machine_set_irql(r->m, DL_PASSIVE_LEVEL);
  assert_int_equal(dl_mdl_free(mdl), DL_OK);
  dl_adapter_put(a);
}

/* b:free and IoFreeMdl while a mapping lives: refused, nothing freed;
** both go once the mapping ends. */
static void test_mapped_buffer_and_mdl_cannot_be_freed(void **state) {
  rig *r = *state;
  dl_adapter *a = rig_adapter(r, rig_desc(1, 0, 1, 16 * 1024), NULL);
  dl_region *b = buffer(r, PS);
  dl_mdl *mdl = rig_mdl(r, b);
  uint64_t base = registers(r, a, 1), logical, pfn = dl_region_pfn(b, 0);
  uint32_t len = PS;
  dl_machine_set_irql(r->m, DL_DISPATCH_LEVEL);
  assert_int_equal(dl_adapter_map_transfer(a, mdl, base, b->va, &len, 0, &logical), DL_OK);
  assert_int_equal(dl_buffer_free(r->m, b), DL_EBUSY);
  assert_true(dl_physmem_is_allocated(dl_machine_physmem(r->m), pfn));
  assert_int_equal(dl_mdl_free(mdl), DL_EBUSY);
  dl_object *holder = dl_machine_holder(r->m, DL_OBJECT(mdl));
  assert_ptr_equal(holder, DL_OBJECT(a));
  assert_null(dl_machine_needer(r->m, DL_OBJECT(mdl)));  /* refers, does not wait */
  assert_int_equal(dl_adapter_flush(a, mdl, base, b->va, PS, 0), 1);
  assert_int_equal(dl_adapter_free_map_registers(a, base, 1), DL_OK);
  dl_machine_set_irql(r->m, DL_PASSIVE_LEVEL);
  assert_int_equal(dl_mdl_free(mdl), DL_OK);
  assert_int_equal(dl_buffer_free(r->m, b), DL_OK);
  assert_false(dl_physmem_is_allocated(dl_machine_physmem(r->m), pfn));
  dl_adapter_put(a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, rig_setup, rig_teardown)
    T(test_two_sglists_of_one_range_is_0x1d),
    T(test_two_adapters_mapping_one_range_is_0x1d),
    T(test_zero_length_sglist_is_0x21),
    T(test_flush_past_the_mapping_is_0x00),
    T(test_flush_the_wrong_way_copies_nothing_back),
    T(test_mapped_buffer_and_mdl_cannot_be_freed),
#undef T
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
