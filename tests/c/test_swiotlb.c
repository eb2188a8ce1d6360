/*
** test_swiotlb.c: the Linux swiotlb bounce policy (hal/dl_swiotlb.h):
** the pool's geometry (256 KiB largest mapping, no segment crossing, page
** alignment for mappings of a page or more, areas), fail-fast under
** exhaustion, and through the HAL: the copy directions (map copies in even
** for a read, unmap copies back only for a read), GetScatterGatherList
** returning STATUS_INSUFFICIENT_RESOURCES at once with Linux's message in
** the trace, and a failed, zero-length MapTransfer for a packet master.
*/
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "rig.h"
#include "hal/dl_swiotlb.h"
#include "machine/dl_dmamap.h"
#include "machine/dl_xlate.h"
#include "machine/dl_trace.h"

#define SLOT 2048u

static dl_platform_config pool_cfg(uint32_t slots, uint32_t areas) {
  dl_platform_config p;
  dl_platform_config_init(&p);
  p.bounce_policy = DL_BOUNCE_SWIOTLB;
  p.swiotlb_slots = slots;
  p.swiotlb_areas = areas;
  return p;
}

static void test_largest_mapping_is_256k(void **state) {
  (void)state;
  dl_platform_config p = pool_cfg(512, 1);
  dl_swiotlb *s;
  assert_int_equal(dl_swiotlb_new(0x100000, PS, &p, &s), DL_OK);
  assert_int_equal(dl_swiotlb_max_mapping(s), 256 * 1024);
  uint32_t slot;
  uint64_t pa;
  assert_int_equal(dl_swiotlb_alloc(s, 256 * 1024 + 1, 0, &slot, &pa), DL_ENOSPACE);
  assert_int_equal(dl_swiotlb_alloc(s, 256 * 1024, 0, &slot, &pa), DL_OK);
  assert_int_equal(slot % 128, 0);  /* a whole segment */
  dl_swiotlb_stats st;
  dl_swiotlb_get_stats(s, &st);
  assert_int_equal(st.used, 128);
  assert_int_equal(st.failures, 1);
  dl_swiotlb_free(s);
}

static void test_alignment_and_segments(void **state) {
  (void)state;
  dl_platform_config p = pool_cfg(256, 1);
  dl_swiotlb *s;
  assert_int_equal(dl_swiotlb_new(0x100000, PS, &p, &s), DL_OK);
  uint32_t a, b, c, d;
  uint64_t pa;
  assert_int_equal(dl_swiotlb_alloc(s, 100, 0, &a, &pa), DL_OK);      /* one slot, any slot */
  assert_int_equal(a, 0);
  assert_int_equal(dl_swiotlb_alloc(s, PS, 0, &b, &pa), DL_OK);       /* a page: page-aligned */
  assert_int_equal(b, 2);
  assert_int_equal(pa % PS, 0);
  assert_int_equal(dl_swiotlb_alloc(s, 126 * SLOT, 0, &c, &pa), DL_OK);  /* 124 left in segment 0 */
  assert_int_equal(c, 128);
  dl_swiotlb_release(s, b);
  assert_int_equal(dl_swiotlb_alloc(s, 3 * SLOT, 0, &d, &pa), DL_OK);   /* 2 at the end: wraps */
  assert_int_equal(d, 2);
  dl_swiotlb_stats st;
  dl_swiotlb_get_stats(s, &st);
  assert_int_equal(st.used, 1 + 126 + 3);
  assert_int_equal(st.used_hiwater, 1 + 126 + 3);
  dl_swiotlb_free(s);
}

static void test_fails_fast_when_full(void **state) {
  (void)state;
  dl_platform_config p = pool_cfg(128, 1);
  dl_swiotlb *s;
  assert_int_equal(dl_swiotlb_new(0, PS, &p, &s), DL_OK);
  uint32_t slot[64], extra;
  uint64_t pa;
  for (int i = 0; i < 64; i++) assert_int_equal(dl_swiotlb_alloc(s, PS, 0, &slot[i], &pa), DL_OK);
  assert_int_equal(dl_swiotlb_alloc(s, 1, 0, &extra, &pa), DL_ENOSPACE);
  dl_swiotlb_release(s, slot[10]);
  assert_int_equal(dl_swiotlb_alloc(s, 2 * PS, 0, &extra, &pa), DL_ENOSPACE);  /* 2 free, 4 asked */
  assert_int_equal(dl_swiotlb_alloc(s, PS, 0, &extra, &pa), DL_OK);
  assert_int_equal(extra, slot[10]);
  dl_swiotlb_stats st;
  dl_swiotlb_get_stats(s, &st);
  assert_int_equal(st.failures, 2);
  assert_int_equal(st.used_hiwater, 128);
  char text[120];
  dl_swiotlb_full_text(4096, 128, 128, text, sizeof text);
  assert_string_equal(text, "swiotlb buffer is full (sz: 4096 bytes), total 128 (slots), used 128 (slots)");
  dl_swiotlb_free(s);
}

static void test_areas_start_at_the_cpus_own(void **state) {
  (void)state;
  dl_platform_config p = pool_cfg(256, 2);
  dl_swiotlb *s;
  assert_int_equal(dl_swiotlb_new(0, PS, &p, &s), DL_OK);
  uint32_t a, b;
  uint64_t pa;
  assert_int_equal(dl_swiotlb_alloc(s, SLOT, 1, &a, &pa), DL_OK);
  assert_int_equal(a, 128);  /* area 1 */
  assert_int_equal(dl_swiotlb_alloc(s, 256 * 1024, 1, &b, &pa), DL_OK);
  assert_int_equal(b, 0);    /* area 1 cannot hold it any more: area 0 */
  dl_swiotlb_free(s);
}

/* ---- through the HAL ---------------------------------------------------------- */

static rig r_;

static int setup_small(void **state) {
  dl_machine_config cfg;
  dl_machine_config_init(&cfg);
  cfg.platform = pool_cfg(128, 1);
  if (rig_open(&r_, &cfg)) return -1;
  *state = &r_;
  return 0;
}

static int teardown(void **state) {
  rig_close(*state);
  return 0;
}

static int keep_registers(void *ctx, dl_device *dev, uint64_t base) {
  (void)dev;
  *(uint64_t *)ctx = base;
  return DL_DEALLOCATE_OBJECT_KEEP_REGISTERS;
}

/* A read (device to memory) of a page above 4 GiB: map copies the buffer
** into the bounce anyway; unmap copies the device's bytes back. A write:
** no copy back. */
static void test_copy_directions(void **state) {
  rig *r = *state;
  uint64_t pfn = rig_pages_at(r, 1, GiB4);
  dl_region *reg = rig_map(r, &pfn, 0, PS);
  dl_mdl *mdl = rig_mdl(r, reg);
  rig_pattern(r, reg->va, PS, 4);
  dl_adapter *a = rig_adapter(r, rig_desc(1, 1, 0, 16 * PS), NULL);
  uint64_t base = 0, logical;
  dl_machine_set_irql(r->m, DL_DISPATCH_LEVEL);
  assert_int_equal(dl_adapter_allocate_channel(a, r->dev, 1, keep_registers, &base), DL_STATUS_SUCCESS);
  uint32_t len = PS;
  assert_int_equal(dl_adapter_map_transfer(a, mdl, base, reg->va, &len, 0, &logical), DL_OK);
  assert_true(logical < GiB4);
  uint8_t bounce[PS], buf[PS];
  assert_int_equal(dl_dma_read(r->m, "dev0", logical, bounce, PS), DL_OK);
  dl_machine_read_va(r->m, reg->va, buf, PS);
  assert_memory_equal(bounce, buf, PS);  /* copied in although the device writes */
  uint8_t dev[2] = {0xAB, 0xCD};
  assert_int_equal(dl_dma_write(r->m, "dev0", logical + 100, dev, 2), DL_OK);
  assert_int_equal(dl_adapter_flush(a, mdl, base, reg->va, PS, 0), 1);
  dl_machine_read_va(r->m, reg->va + 100, buf, 2);
  assert_memory_equal(buf, dev, 2);     /* copied back at unmap */
  /* to the device: the device's stray write into the bounce is not copied back */
  len = PS;
  assert_int_equal(dl_adapter_map_transfer(a, mdl, base, reg->va, &len, 1, &logical), DL_OK);
  uint8_t zap[2] = {0, 0};
  assert_int_equal(dl_dma_write(r->m, "dev0", logical + 100, zap, 2), DL_OK);
  assert_int_equal(dl_adapter_flush(a, mdl, base, reg->va, PS, 1), 1);
  dl_machine_read_va(r->m, reg->va + 100, buf, 2);
  assert_memory_equal(buf, dev, 2);
  dl_swiotlb_stats st;
  dl_swiotlb_get_stats(dl_swiotlb_of(r->m), &st);
  assert_int_equal(st.copies_to_bounce, 2);
  assert_int_equal(st.copies_from_bounce, 1);
  assert_int_equal(st.used, 0);
  assert_int_equal(dl_adapter_free_map_registers(a, base, 1), DL_OK);
  dl_machine_set_irql(r->m, DL_PASSIVE_LEVEL);
  dl_adapter_put(a);
}

static int list_called;
static void list_control(void *ctx, dl_device *dev, dl_sglist *sg) {
  (void)dev;
  list_called++;
  *(dl_sglist **)ctx = sg;
}

/* The pool (128 slots = 256 KiB) is full: GetScatterGatherList fails at
** once with STATUS_INSUFFICIENT_RESOURCES, nothing is queued, the trace has
** Linux's message; a packet master's MapTransfer maps nothing. */
static void test_fail_fast_status_for_drivers(void **state) {
  rig *r = *state;
  uint64_t first = rig_pages_at(r, 72, GiB4), pfns[72];
  for (int i = 0; i < 72; i++) pfns[i] = first + i;
  dl_region *big = rig_map(r, pfns, 0, 64 * PS), *small = rig_map(r, pfns + 64, 0, 8 * PS);
  dl_mdl *mbig = rig_mdl(r, big), *msmall = rig_mdl(r, small);
  dl_adapter *a = rig_adapter(r, rig_desc(1, 1, 0, 1024 * 1024), NULL);
  dl_sglist *held = NULL, *none = NULL;
  uint64_t before = rig_reports(r);
  dl_machine_set_irql(r->m, DL_DISPATCH_LEVEL);
  /* 64 pages, one contiguous run of 256 KiB: the whole pool */
  assert_int_equal(dl_adapter_get_sglist(a, r->dev, mbig, big->va, 64 * PS, list_control, &held, 0, 0),
                   DL_STATUS_INSUFFICIENT_RESOURCES);  /* above nmr? no: 16 registers cap */
  assert_int_equal(list_called, 0);
  assert_int_equal(dl_adapter_get_sglist(a, r->dev, mbig, big->va, 16 * PS, list_control, &held, 0, 0),
                   DL_STATUS_SUCCESS);
  assert_int_equal(list_called, 1);
  /* fill the rest of the pool with more lists */
  dl_sglist *more[8];
  for (int i = 0; i < 3; i++)
    assert_int_equal(dl_adapter_get_sglist(a, r->dev, mbig, big->va + (uint64_t)(16 + 16 * i) * PS,
                                           16 * PS, list_control, &more[i], 0, 0), DL_STATUS_SUCCESS);
  dl_swiotlb_stats st;
  dl_swiotlb_get_stats(dl_swiotlb_of(r->m), &st);
  assert_int_equal(st.used, 128);
  assert_int_equal(dl_adapter_get_sglist(a, r->dev, msmall, small->va, 8 * PS, list_control, &none, 0, 0),
                   DL_STATUS_INSUFFICIENT_RESOURCES);
  assert_int_equal(list_called, 4);  /* no AdapterListControl for the failed one */
  dl_trace *t = dl_machine_trace(r->m);
  const dl_trace_record *rec = NULL;
  for (size_t i = dl_trace_count(t); i-- > 0 && !rec;)
    if (dl_trace_at(t, i)->kind == DL_TR_SWIOTLB_FULL) rec = dl_trace_at(t, i);
  assert_non_null(rec);
  assert_int_equal(rec->a, 8 * PS);
  assert_int_equal(rec->b, (UINT64_C(128) << 32) | 128);
  rig_expect_none(r, before);  /* a full pool is no driver bug */
  /* a packet master: MapTransfer fails with nothing mapped */
  dl_adapter *pk = rig_adapter_for(r, rig_device(r, "pk"), rig_desc(0, 1, 0, 8 * PS), NULL);
  uint64_t base = 0, logical = 1;
  assert_int_equal(dl_adapter_allocate_channel(pk, r->dev, 8, keep_registers, &base), DL_STATUS_SUCCESS);
  uint32_t len = 8 * PS;
  assert_int_equal(dl_adapter_map_transfer(pk, msmall, base, small->va, &len, 1, &logical), DL_ENOSPACE);
  assert_int_equal(len, 0);
  assert_int_equal(logical, 0);
  assert_int_equal(dl_adapter_free_map_registers(pk, base, 8), DL_OK);
  /* putting a list frees its slots: the request now succeeds */
  dl_adapter_put_sglist(a, held, dl_sglist_id(held), 0);
  assert_int_equal(dl_adapter_get_sglist(a, r->dev, msmall, small->va, 8 * PS, list_control, &none, 0, 0),
                   DL_STATUS_SUCCESS);
  dl_adapter_put_sglist(a, none, dl_sglist_id(none), 0);
  for (int i = 0; i < 3; i++) dl_adapter_put_sglist(a, more[i], dl_sglist_id(more[i]), 0);
  dl_machine_set_irql(r->m, DL_PASSIVE_LEVEL);
  dl_swiotlb_get_stats(dl_swiotlb_of(r->m), &st);
  assert_int_equal(st.used, 0);
  assert_int_equal(st.used_hiwater, 128);
  dl_adapter_put(a);
  dl_adapter_put(pk);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_largest_mapping_is_256k),
    cmocka_unit_test(test_alignment_and_segments),
    cmocka_unit_test(test_fails_fast_when_full),
    cmocka_unit_test(test_areas_start_at_the_cpus_own),
    cmocka_unit_test_setup_teardown(test_copy_directions, setup_small, teardown),
    cmocka_unit_test_setup_teardown(test_fail_fast_status_for_drivers, setup_small, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
