/*
** test_lazymem.c: simulated memory costs host memory only when touched
** (issue 16 item 4): a 1 TiB buffer under every policy is a handful of runs
** and no page bytes, a 2^50-byte machine costs nothing up front, zeros store
** nothing, freeing gives the host memory back, and the host_memory cap
** refuses what would pass it (DL_ELIMIT, nothing stored) and leaves the
** memory usable.
*/
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>

#include "rig.h"

#define MiB(n) ((uint64_t)(n) << 20)
#define TiB(n) ((uint64_t)(n) << 40)

static dl_physmem_stats stats_of(dl_machine *m) {
  dl_physmem_stats st;
  dl_physmem_get_stats(dl_machine_physmem(m), &st);
  return st;
}

static dl_machine *machine_with_ram(uint64_t bytes) {
  dl_machine_config cfg;
  dl_machine_config_init(&cfg);
  cfg.ram[0].size = bytes;
  dl_machine *m = NULL;
  assert_int_equal(dl_machine_new(&cfg, &m), DL_OK);
  return m;
}

static void test_terabyte_buffer_costs_runs_not_pages(void **state) {
  (void)state;
  dl_machine *m = machine_with_ram(TiB(4));
  dl_physmem_stats boot = stats_of(m);
  assert_true(boot.host_bytes < MiB(1));
  for (int policy = 0; policy < DL_ALLOC_POLICY_COUNT; policy++) {
    dl_region *r = NULL;
    assert_int_equal(dl_buffer_new(m, TiB(1), 0, (dl_alloc_policy)policy, DL_REGION_NONPAGED, &r),
                     DL_OK);
    dl_physmem_stats st = stats_of(m);
    assert_int_equal(r->npages, TiB(1) / PS);
    assert_int_equal(st.free_pages, boot.free_pages - TiB(1) / PS);
    assert_int_equal(st.touched_pages, 0);
    assert_true(st.host_bytes < MiB(8));                /* bitmaps of two run ends a run */
    assert_true(r->nruns <= TiB(1) / PS / 8192 + 2);     /* whole chunks, or coarse scatter */
    /* the last byte is written and read back through the runs */
    uint64_t last = r->va + r->length - 1;
    assert_int_equal(dl_machine_write_va(m, last, "z", 1), DL_OK);
    char c = 0;
    assert_int_equal(dl_machine_read_va(m, last, &c, 1), DL_OK);
    assert_int_equal(c, 'z');
    uint64_t pfn = dl_region_pfn(r, r->npages - 1);
    assert_true(dl_physmem_is_allocated(dl_machine_physmem(m), pfn));
    assert_int_equal(stats_of(m).touched_pages, 1);
    assert_int_equal(dl_buffer_free(m, r), DL_OK);
    st = stats_of(m);
    assert_int_equal(st.free_pages, boot.free_pages);
    assert_int_equal(st.touched_pages, 0);
    assert_false(dl_physmem_is_allocated(dl_machine_physmem(m), pfn));
  }
  assert_true(stats_of(m).host_bytes <= boot.host_bytes + MiB(1) + 256 * PS);  /* spare blocks */
  dl_machine_free(m);
}

static void test_huge_ram_costs_nothing_up_front(void **state) {
  (void)state;
  dl_machine *m = machine_with_ram(UINT64_C(1) << 50);
  dl_physmem_stats st = stats_of(m);
  assert_int_equal(st.ram_pages, (UINT64_C(1) << 50) / PS);
  assert_true(st.host_bytes < MiB(2));
  dl_region *r;  /* a buffer at the top of it */
  assert_int_equal(dl_buffer_new(m, 3 * PS, 0, DL_ALLOC_SCATTERED, DL_REGION_NONPAGED, &r), DL_OK);
  assert_int_equal(dl_machine_fill_va(m, r->va, 0x5A, 3 * PS), DL_OK);
  assert_int_equal(dl_buffer_free(m, r), DL_OK);
  dl_machine_free(m);
}

static void test_ram_beyond_52_bits_is_refused(void **state) {
  (void)state;
  dl_rng rng;
  dl_rng_seed(&rng, 1);
  dl_physmem *pm = NULL;
  dl_range over = {DL_PHYS_ADDRESS_LIMIT - MiB(1), MiB(2)};
  assert_int_equal(dl_physmem_new(PS, &over, 1, &rng, &pm), DL_EINVAL);
  assert_null(pm);
  dl_range top = {DL_PHYS_ADDRESS_LIMIT - MiB(1), MiB(1)};
  assert_int_equal(dl_physmem_new(PS, &top, 1, &rng, &pm), DL_OK);
  assert_int_equal(dl_physmem_write(pm, DL_PHYS_ADDRESS_LIMIT - 1, "x", 1), DL_OK);
  dl_physmem_free(pm);
}

static void test_zero_fill_stores_nothing(void **state) {
  (void)state;
  dl_machine *m = machine_with_ram(TiB(2));
  dl_physmem *pm = dl_machine_physmem(m);
  assert_int_equal(dl_physmem_fill(pm, 0, 0, (size_t)TiB(1)), DL_OK);  /* 2^28 pages */
  assert_int_equal(stats_of(m).touched_pages, 0);
  assert_int_equal(dl_physmem_fill(pm, 5 * PS, 0xAB, 2 * PS), DL_OK);
  assert_int_equal(stats_of(m).touched_pages, 2);
  assert_int_equal(dl_physmem_fill(pm, 5 * PS + 1, 0, 10), DL_OK);  /* part of a page: kept */
  uint8_t b[3];
  assert_int_equal(dl_physmem_read(pm, 5 * PS, b, 3), DL_OK);
  assert_int_equal(b[0], 0xAB);
  assert_int_equal(b[1], 0);
  assert_int_equal(stats_of(m).touched_pages, 2);
  assert_int_equal(dl_physmem_fill(pm, 5 * PS, 0, PS), DL_OK);  /* a whole page: forgotten */
  assert_int_equal(stats_of(m).touched_pages, 1);
  assert_int_equal(dl_physmem_read(pm, 5 * PS, b, 3), DL_OK);
  assert_int_equal(b[0] | b[1] | b[2], 0);
  dl_machine_free(m);
}

static void test_host_cap_refuses_and_memory_stays_usable(void **state) {
  (void)state;
  dl_machine *m = machine_with_ram(TiB(1));
  dl_physmem *pm = dl_machine_physmem(m);
  dl_physmem_set_host_limit(pm, stats_of(m).host_bytes + MiB(1));
  assert_int_equal(dl_physmem_limit_hits(pm), 0);
  int rc = dl_physmem_fill(pm, 0, 0x11, (size_t)MiB(4));
  assert_int_equal(rc, DL_ELIMIT);
  assert_int_equal(dl_physmem_limit_hits(pm), 1);
  dl_physmem_stats st = stats_of(m);
  assert_true(st.host_bytes <= dl_physmem_host_limit(pm));
  assert_true(st.touched_pages > 100 && st.touched_pages < 256);
  /* pages already stored stay writable; a new one is refused */
  assert_int_equal(dl_physmem_write(pm, 0, "ok", 2), DL_OK);
  assert_int_equal(dl_physmem_write(pm, MiB(8), "no", 2), DL_ELIMIT);
  assert_int_equal(dl_physmem_limit_hits(pm), 2);
  /* a buffer whose bitmaps would pass the cap is refused whole */
  uint64_t free_before = st.free_pages;
  dl_region *r = NULL;
  assert_int_equal(dl_buffer_new(m, MiB(64), 0, DL_ALLOC_SCATTERED, DL_REGION_NONPAGED, &r),
                   DL_ELIMIT);
  assert_null(r);
  assert_int_equal(stats_of(m).free_pages, free_before);
  /* zeroing gives host memory back; then a write fits again */
  assert_int_equal(dl_physmem_fill(pm, 0, 0, (size_t)MiB(4)), DL_OK);
  assert_int_equal(stats_of(m).touched_pages, 0);
  assert_int_equal(dl_physmem_write(pm, MiB(8), "ok", 2), DL_OK);
  dl_physmem_set_host_limit(pm, 0);  /* no cap */
  assert_int_equal(dl_physmem_fill(pm, 0, 0x22, (size_t)MiB(4)), DL_OK);
  dl_machine_free(m);
}

static void test_runs_read_like_pages(void **state) {
  (void)state;
  dl_machine *m = machine_with_ram(MiB(64));
  dl_region *hole[8], *r;
  for (int i = 0; i < 8; i++)  /* fragment low memory: free every other buffer */
    assert_int_equal(dl_buffer_new(m, 3 * PS, 0, DL_ALLOC_LOW_FIRST, DL_REGION_NONPAGED, &hole[i]),
                     DL_OK);
  for (int i = 0; i < 8; i += 2) assert_int_equal(dl_buffer_free(m, hole[i]), DL_OK);
  assert_int_equal(dl_buffer_new(m, 20 * PS, 100, DL_ALLOC_LOW_FIRST, DL_REGION_NONPAGED, &r), DL_OK);
  assert_int_equal(r->npages, 21);
  assert_true(r->nruns > 2 && r->nruns < r->npages);
  uint64_t *pfns = malloc(r->npages * sizeof *pfns);
  assert_int_equal(dl_physmem_alloc(dl_machine_physmem(m), 0, DL_ALLOC_LOW_FIRST, pfns), DL_EINVAL);
  for (uint64_t i = 0; i < r->npages; i++) {
    pfns[i] = dl_region_pfn(r, i);
    uint64_t va = (r->va & ~(uint64_t)(PS - 1)) + i * PS + 7;
    assert_int_equal(dl_region_pa(r, va, PS), pfns[i] * PS + 7);
    for (uint64_t j = 0; j < i; j++) assert_int_not_equal(pfns[i], pfns[j]);
  }
  assert_int_equal(pfns[0], 0 + 0 * 3);  /* the first hole, lowest first */
  free(pfns);
  for (int i = 1; i < 8; i += 2) assert_int_equal(dl_buffer_free(m, hole[i]), DL_OK);
  assert_int_equal(dl_buffer_free(m, r), DL_OK);
  dl_machine_free(m);
}

static void test_scattered_matches_page_at_a_time(void **state) {
  (void)state;
  /* dl_physmem_alloc (a PFN a page) and a buffer take the same pages from
  ** the same seed: runs change the bookkeeping, not the layout */
  dl_machine *a = machine_with_ram(MiB(256)), *b = machine_with_ram(MiB(256));
  uint64_t pfns[300];
  assert_int_equal(dl_physmem_alloc(dl_machine_physmem(a), 300, DL_ALLOC_SCATTERED, pfns), DL_OK);
  dl_region *r;
  assert_int_equal(dl_buffer_new(b, 300 * PS, 0, DL_ALLOC_SCATTERED, DL_REGION_NONPAGED, &r), DL_OK);
  for (int i = 0; i < 300; i++) assert_int_equal(dl_region_pfn(r, (uint64_t)i), pfns[i]);
  assert_int_equal(dl_buffer_free(b, r), DL_OK);
  dl_machine_free(a);
  dl_machine_free(b);
}

static void test_buffer_larger_than_ram_is_enospace_at_once(void **state) {
  (void)state;
  dl_machine *m = machine_with_ram(MiB(64));
  dl_region *r = NULL;
  uint64_t before = stats_of(m).free_pages;
  assert_int_equal(dl_buffer_new(m, TiB(1), 0, DL_ALLOC_SCATTERED, DL_REGION_NONPAGED, &r),
                   DL_ENOSPACE);
  assert_null(r);
  assert_int_equal(stats_of(m).free_pages, before);
  dl_machine_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_terabyte_buffer_costs_runs_not_pages),
    cmocka_unit_test(test_huge_ram_costs_nothing_up_front),
    cmocka_unit_test(test_ram_beyond_52_bits_is_refused),
    cmocka_unit_test(test_zero_fill_stores_nothing),
    cmocka_unit_test(test_host_cap_refuses_and_memory_stays_usable),
    cmocka_unit_test(test_runs_read_like_pages),
    cmocka_unit_test(test_scattered_matches_page_at_a_time),
    cmocka_unit_test(test_buffer_larger_than_ram_is_enospace_at_once),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
