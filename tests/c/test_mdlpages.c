/*
** test_mdlpages.c: MDLs owning their pages and system mappings
** (core/io/dl_mdlpages.c) without Lua: MmAllocatePagesForMdl honours its
** address limits, MmMapLockedPagesSpecifyCache maps the pages (a CPU write
** through the mapping lands in them), MappedSystemVa, MmUnmapLockedPages,
** mapping twice (0xC4/0xB2), freeing pages still mapped (0xC4/0xB8),
** IoFreeMdl refusing an MDL that owns pages; MmInitializeMdl within the
** MDL's PFN slots.
*/
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "rig.h"
#include "base/dl_status.h"
#include "io/dl_mdl.h"
#include "machine/dl_machine.h"
#include "machine/dl_verifier.h"

static void test_allocate_map_free(void **state) {
  dl_machine *m = *state;
  dl_mdl *mdl;
  uint64_t free_before = 0;
  dl_physmem_stats st;
  dl_physmem_get_stats(dl_machine_physmem(m), &st);
  free_before = st.free_pages;
  assert_int_equal(dl_mdl_allocate_pages(m, 0, UINT64_C(0xFFFFFFFF), 3 * 4096 + 1, &mdl), DL_OK);
  assert_int_equal(dl_mdl_byte_count(mdl), 4 * 4096);
  assert_int_equal(dl_mdl_page_count(mdl), 4);
  for (int i = 0; i < 4; i++) assert_true(dl_mdl_pfns(mdl)[i] * 4096 < UINT64_C(0x100000000));
  assert_true(dl_mdl_pages_valid(mdl));
  assert_int_equal(dl_mdl_mapped_system_va(mdl), 0);
  dl_physmem_get_stats(dl_machine_physmem(m), &st);
  assert_int_equal(st.free_pages, free_before - 4);
  uint64_t va;
  assert_int_equal(dl_mdl_map_locked_pages(mdl, &va), DL_OK);
  assert_true(va != 0);
  assert_int_equal(dl_mdl_mapped_system_va(mdl), va);
  assert_true(dl_mdl_flags(mdl) & DL_MDL_MAPPED_TO_SYSTEM_VA);
  assert_int_equal(dl_mdl_system_address(mdl), va);
  assert_int_equal(dl_machine_write_va(m, va + 4096, "abcd", 4), DL_OK);
  char got[4];  /* the write is in the MDL's second page */
  assert_int_equal(dl_machine_cpu_read(m, dl_mdl_pfns(mdl)[1] * 4096, got, 4), DL_OK);
  assert_memory_equal(got, "abcd", 4);
  uint64_t again;
  assert_int_equal(dl_mdl_map_locked_pages(mdl, &again), DL_OK);
  assert_int_equal(again, va);
  assert_int_equal(dl_verifier_at(m, 0)->p1, DL_C4_MAP_FLAGS);
  assert_int_equal(dl_mdl_free(mdl), DL_EBUSY);  /* IoFreeMdl: it holds pages */
  assert_int_equal(dl_mdl_unmap_locked_pages(mdl, va + 1), DL_EINVAL);
  assert_int_equal(dl_mdl_unmap_locked_pages(mdl, va), DL_OK);
  assert_int_equal(dl_mdl_mapped_system_va(mdl), 0);
  assert_int_equal(dl_machine_write_va(m, va, "x", 1), DL_ENOTMAPPED);
  dl_mdl_map_locked_pages(mdl, &va);
  assert_int_equal(dl_mdl_free_pages(mdl), DL_OK);  /* still mapped: reported, unmapped */
  assert_int_equal(dl_verifier_at(m, 1)->p1, DL_C4_STILL_MAPPED);
  assert_int_equal(dl_verifier_count(m), 2);
  dl_physmem_get_stats(dl_machine_physmem(m), &st);
  assert_int_equal(st.free_pages, free_before);
  assert_false(dl_mdl_pages_valid(mdl));
  assert_int_equal(dl_mdl_free_pages(mdl), DL_ESTATE);
  assert_int_equal(dl_mdl_free(mdl), DL_OK);
}

static void test_limits(void **state) {
  dl_machine *m = *state;
  dl_mdl *mdl;
  assert_int_equal(dl_mdl_allocate_pages(m, 0, 4095, 8192, &mdl), DL_ENOSPACE);  /* one page below */
  assert_int_equal(dl_mdl_allocate_pages(m, 0, UINT64_MAX, 0, &mdl), DL_EINVAL);
  assert_int_equal(dl_mdl_allocate_pages(m, 0, UINT64_MAX, 4096, &mdl), DL_OK);
  dl_machine_free(m);  /* teardown frees the pages and the MDL */
  assert_int_equal(rig_machine_setup(state), 0);
}

static void test_initialize(void **state) {
  dl_machine *m = *state;
  dl_mdl *mdl;
  assert_int_equal(dl_mdl_allocate(m, 0x10000, 3 * 4096, &mdl), DL_OK);
  assert_int_equal(dl_mdl_initialize(mdl, 0x20010, 2 * 4096), DL_OK);
  assert_int_equal(dl_mdl_byte_offset(mdl), 0x10);
  assert_int_equal(dl_mdl_byte_count(mdl), 8192);
  assert_int_equal(dl_mdl_start_va(mdl), 0x20000);
  assert_int_equal(dl_mdl_initialize(mdl, 0x20010, 3 * 4096), DL_ENOSPACE);  /* 4 pages */
  assert_int_equal(dl_mdl_initialize(mdl, 0x20000, 0), DL_EINVAL);
  dl_region *r;
  assert_int_equal(dl_buffer_new(m, 100, 0, DL_ALLOC_LOW_FIRST, DL_REGION_NONPAGED, &r), DL_OK);
  assert_int_equal(dl_mdl_initialize(mdl, r->va, 100), DL_OK);
  assert_int_equal(dl_mdl_build_for_nonpaged_pool(mdl), DL_OK);
  assert_int_equal(dl_mdl_mapped_system_va(mdl), r->va);  /* nonpaged pool: its own address */
  uint64_t va;
  assert_int_equal(dl_mdl_map_locked_pages(mdl, &va), DL_OK);
  assert_int_equal(va, r->va);
  assert_int_equal(dl_mdl_free(mdl), DL_OK);
}

int main(void) {
  const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, rig_machine_setup, rig_machine_teardown)
    T(test_allocate_map_free),
    T(test_limits),
    T(test_initialize),
#undef T
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
