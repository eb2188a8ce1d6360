/*
** test_robustness.c: what no caller can make the engine do (issue 16):
** a buffer larger than the RAM fails at once with DL_ENOSPACE and touches
** nothing (test_lazymem.c: huge buffers that fit cost no host memory);
** lengths that overflow are DL_EINVAL.
*/
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "rig.h"

static int setup(void **state) {
  dl_machine_config cfg;
  dl_machine *m = NULL;
  dl_machine_config_init(&cfg);
  cfg.seed = 16;
  if (dl_machine_new(&cfg, &m) != DL_OK) return -1;
  *state = m;
  return 0;
}

static int teardown(void **state) {
  dl_machine_free(*state);
  return 0;
}

/* Pages of RAM free on m. */
static uint64_t free_pages(dl_machine *m) {
  dl_physmem_stats st;
  dl_physmem_get_stats(dl_machine_physmem(m), &st);
  return st.free_pages;
}

static void test_buffer_over_the_ram_is_enospace_at_once(void **state) {
  dl_machine *m = *state;
  uint64_t before = free_pages(m);
  dl_region *r = NULL;
  assert_int_equal(dl_buffer_new(m, UINT64_C(1) << 40, 0, DL_ALLOC_SCATTERED,
                                 DL_REGION_NONPAGED, &r), DL_ENOSPACE);
  assert_null(r);
  assert_int_equal(dl_buffer_new(m, (UINT64_C(16) << 30) - PS, 1, DL_ALLOC_SCATTERED,
                                 DL_REGION_NONPAGED, &r), DL_ENOSPACE);  /* map registers hold some */
  assert_int_equal(free_pages(m), before);
  assert_string_equal(dl_strerror(DL_ELIMIT), "over an engine limit");
}

static void test_buffer_at_small_sizes_still_works(void **state) {
  dl_machine *m = *state;
  dl_region *r = NULL;
  assert_int_equal(dl_buffer_new(m, 3 * PS, 0, DL_ALLOC_SCATTERED, DL_REGION_NONPAGED, &r), DL_OK);
  assert_int_equal(dl_buffer_free(m, r), DL_OK);
}

static void test_buffer_length_that_overflows_is_einval(void **state) {
  dl_machine *m = *state;
  dl_region *r = NULL;
  assert_int_equal(dl_buffer_new(m, UINT64_MAX, 0, DL_ALLOC_SCATTERED, DL_REGION_NONPAGED, &r),
                   DL_EINVAL);
  assert_int_equal(dl_buffer_new(m, UINT64_MAX - PS, 100, DL_ALLOC_SCATTERED, DL_REGION_NONPAGED,
                                 &r), DL_EINVAL);
  assert_int_equal(dl_buffer_new(m, 0, 0, DL_ALLOC_SCATTERED, DL_REGION_NONPAGED, &r), DL_EINVAL);
  assert_null(r);
}

static int never(void *ctx, dl_device *dev, uint64_t base) {
  (void)dev, (void)base;
  ++*(int *)ctx;
  return DL_KEEP_OBJECT;
}

static void never_list(void *ctx, dl_device *dev, dl_sglist *sg) {
  (void)dev, (void)sg;
  ++*(int *)ctx;
}

static void test_adapter_refuses_objects_of_another_machine(void **state) {
  (void)state;
  rig r1, r2;
  assert_int_equal(rig_open(&r1, NULL), 0);
  assert_int_equal(rig_open(&r2, NULL), 0);
  dl_device_description d = rig_desc(1, 0, 1, 64 * 1024);
  dl_adapter *a2;
  uint32_t nmr;
  assert_int_equal(dl_adapter_get(r2.m, r2.dev, &d, &a2, &nmr), DL_OK);
  dl_region *b1, *b2;
  assert_int_equal(dl_buffer_new(r1.m, 2 * PS, 0, DL_ALLOC_SCATTERED, DL_REGION_NONPAGED, &b1), DL_OK);
  assert_int_equal(dl_buffer_new(r2.m, 2 * PS, 0, DL_ALLOC_SCATTERED, DL_REGION_NONPAGED, &b2), DL_OK);
  dl_mdl *mdl1 = rig_mdl(&r1, b1), *mdl2 = rig_mdl(&r2, b2);
  int calls = 0;
  dl_machine_set_irql(r2.m, DL_DISPATCH_LEVEL);
  assert_int_equal(dl_adapter_allocate_channel(a2, r1.dev, 1, never, &calls),
                   DL_STATUS_INVALID_PARAMETER);
  assert_int_equal(dl_adapter_get_sglist(a2, r1.dev, mdl2, b2->va, 2 * PS, never_list, &calls, 1, 0),
                   DL_STATUS_INVALID_PARAMETER);
  assert_int_equal(dl_adapter_get_sglist(a2, r2.dev, mdl1, b1->va, 2 * PS, never_list, &calls, 1, 0),
                   DL_STATUS_INVALID_PARAMETER);
  dl_machine_set_irql(r2.m, DL_PASSIVE_LEVEL);
  assert_int_equal(calls, 0);
  rig_close(&r1);  /* nothing of machine 2 names machine 1's objects */
  dl_adapter_put(a2);
  rig_close(&r2);
}

int main(void) {
  const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    T(test_buffer_over_the_ram_is_enospace_at_once),
    T(test_buffer_at_small_sizes_still_works),
    T(test_buffer_length_that_overflows_is_einval),
#undef T
    cmocka_unit_test(test_adapter_refuses_objects_of_another_machine),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
