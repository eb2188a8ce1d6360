/*
** test_mdl.c: memory descriptor lists (core/io/dl_mdl.c) on a dl_machine:
** span pages, building for nonpaged pool, probe and lock, partial MDLs,
** reuse, chains, validity after unlock or free, and teardown.
*/
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "machine/dl_machine.h"
#include "io/dl_mdl.h"
#include "memory/dl_physmem.h"
#include "base/dl_status.h"
#include "memory/dl_vspace.h"

#define PS 4096u
#define KiB(n) ((uint64_t)(n) << 10)
#define SPAN(va, n) ((((va) & (PS - 1)) + (n) + PS - 1) >> 12)  /* the WDK's formula */

/* The region's PFNs a page, as an MDL lists them. */
static void region_pfns(const dl_region *r, uint64_t *out, uint64_t n) {
  for (uint64_t i = 0; i < n; i++) out[i] = dl_region_pfn(r, i);
}

static int setup(void **state) {
  dl_machine_config cfg;
  dl_machine *m = NULL;
  dl_machine_config_init(&cfg);
  cfg.seed = 77;
  if (dl_machine_new(&cfg, &m) != DL_OK) return -1;
  *state = m;
  return 0;
}

static int teardown(void **state) {
  dl_machine_free(*state);
  return 0;
}

static dl_region *buffer(dl_machine *m, uint64_t len, uint32_t off, dl_region_kind kind) {
  dl_region *r = NULL;
  assert_int_equal(dl_buffer_new(m, len, off, DL_ALLOC_SCATTERED, kind, &r), DL_OK);
  assert_non_null(r);
  return r;
}

static dl_mdl *mdl_over(dl_machine *m, uint64_t va, uint64_t len) {
  dl_mdl *mdl = NULL;
  assert_int_equal(dl_mdl_allocate(m, va, len, &mdl), DL_OK);
  assert_non_null(mdl);
  return mdl;
}

static dl_mdl *mdl_of(dl_machine *m, const dl_region *r) { return mdl_over(m, r->va, r->length); }

/* A locked MDL over a 48 KiB paged buffer that starts 0x234 into its page. */
static dl_mdl *locked_source(dl_machine *m, dl_region **rout) {
  dl_region *r = buffer(m, KiB(48), 0x234, DL_REGION_PAGED);
  dl_mdl *src = mdl_of(m, r);
  assert_int_equal(dl_mdl_probe_and_lock(src, DL_IO_WRITE_ACCESS), DL_OK);
  if (rout) *rout = r;
  return src;
}

static size_t mdl_count(dl_machine *m) {
  return dl_machine_count(m, &dl_mdl_type);
}

/* ---- geometry ------------------------------------------------------------ */

static void test_buffer_offset_0x234_48k_spans_13_pages(void **state) {
  dl_machine *m = *state;
  dl_region *r = buffer(m, KiB(48), 0x234, DL_REGION_NONPAGED);
  assert_int_equal(r->npages, 13);
  assert_int_equal(r->va & (PS - 1), 0x234);
  assert_int_equal(r->length, KiB(48));
  for (uint64_t i = 0; i < 13; i++)
    assert_true(dl_physmem_is_allocated(dl_machine_physmem(m), dl_region_pfn(r, i)));
  assert_int_equal(dl_buffer_free(m, r), DL_OK);
}

static void test_mdl_fields_describe_the_range(void **state) {
  dl_machine *m = *state;
  dl_region *r = buffer(m, KiB(48), 0x234, DL_REGION_NONPAGED);
  dl_mdl *mdl = mdl_of(m, r);
  assert_int_equal(dl_mdl_start_va(mdl), r->va - 0x234);
  assert_int_equal(dl_mdl_byte_offset(mdl), 0x234);
  assert_int_equal(dl_mdl_byte_count(mdl), KiB(48));
  assert_int_equal(dl_mdl_virtual_address(mdl), r->va);
  assert_int_equal(dl_mdl_page_count(mdl), 13);
  assert_int_equal(dl_mdl_capacity(mdl), 13);
  assert_int_equal(dl_mdl_flags(mdl), 0);
  assert_ptr_equal(dl_mdl_machine(mdl), m);
  assert_false(dl_mdl_pages_valid(mdl));  /* nothing built yet */
  assert_int_equal(dl_mdl_free(mdl), DL_OK);
}

static void test_span_pages_formula_over_offset_and_length_grid(void **state) {
  dl_machine *m = *state;
  const uint64_t offs[] = {0, 1, 0x234, 4095};
  const uint64_t lens[] = {1, 4095, 4096, 4097, 8192, 65536 + 3};
  for (size_t i = 0; i < sizeof offs / sizeof offs[0]; i++)
    for (size_t j = 0; j < sizeof lens / sizeof lens[0]; j++) {
      uint64_t va = 0x7000000 + offs[i];  /* need not be mapped */
      dl_mdl *mdl = mdl_over(m, va, lens[j]);
      assert_int_equal(dl_mdl_page_count(mdl), SPAN(va, lens[j]));
      assert_int_equal(dl_mdl_capacity(mdl), SPAN(va, lens[j]));
      assert_int_equal(dl_mdl_byte_offset(mdl), offs[i]);
      assert_int_equal(dl_mdl_free(mdl), DL_OK);
    }
  /* spot checks of the formula itself */
  assert_int_equal(SPAN(4095, 2), 2);
  assert_int_equal(SPAN(0, 4096), 1);
  assert_int_equal(SPAN(1, 4096), 2);
}

static void test_allocate_length_limits(void **state) {
  dl_machine *m = *state;
  dl_mdl *mdl = NULL;
  uint64_t max = ((uint64_t)1 << 32) - PS;
  assert_int_equal(dl_mdl_allocate(m, 0x10000, 0, &mdl), DL_EINVAL);
  assert_int_equal(dl_mdl_allocate(m, 0x10000, max + 1, &mdl), DL_EINVAL);
  assert_int_equal(dl_mdl_allocate(m, 0x10000, (uint64_t)1 << 32, &mdl), DL_EINVAL);
  assert_int_equal(dl_mdl_allocate(m, UINT64_MAX - 10, 100, &mdl), DL_EINVAL);  /* wraps */
  assert_null(mdl);
  assert_int_equal(mdl_count(m), 0);
  assert_int_equal(dl_mdl_allocate(m, 0x10000, max, &mdl), DL_OK);
  assert_int_equal(dl_mdl_byte_count(mdl), max);
  assert_int_equal(dl_mdl_page_count(mdl), max / PS);
  assert_int_equal(dl_mdl_free(mdl), DL_OK);
}

static void test_mdl_ids_are_distinct(void **state) {
  dl_machine *m = *state;
  dl_mdl *a = mdl_over(m, 0x1000, 10), *b = mdl_over(m, 0x1000, 10);
  assert_true(dl_mdl_id(a) != 0);
  assert_true(dl_mdl_id(a) != dl_mdl_id(b));
}

/* ---- building for nonpaged pool ------------------------------------------- */

static void test_build_nonpaged_pfns_equal_region_pfns(void **state) {
  dl_machine *m = *state;
  dl_region *r = buffer(m, KiB(48), 0x234, DL_REGION_NONPAGED);
  dl_mdl *mdl = mdl_of(m, r);
  assert_int_equal(dl_mdl_build_for_nonpaged_pool(mdl), DL_OK);
  { uint64_t want[13]; region_pfns(r, want, 13); assert_memory_equal(dl_mdl_pfns(mdl), want, 13 * sizeof(uint64_t)); }
  assert_true(dl_mdl_flags(mdl) & DL_MDL_SOURCE_IS_NONPAGED_POOL);
  assert_false(dl_mdl_flags(mdl) & DL_MDL_PAGES_LOCKED);
  assert_int_equal(r->locks, 0);
  assert_true(dl_mdl_pages_valid(mdl));
}

static void test_build_nonpaged_over_subrange_takes_its_pages(void **state) {
  dl_machine *m = *state;
  dl_region *r = buffer(m, KiB(48), 0x234, DL_REGION_NONPAGED);
  uint64_t va = r->va + 3 * PS + 100;  /* page index 3 of the region */
  dl_mdl *mdl = mdl_over(m, va, 2 * PS);
  assert_int_equal(dl_mdl_build_for_nonpaged_pool(mdl), DL_OK);
  assert_int_equal(dl_mdl_page_count(mdl), SPAN(va, 2 * PS));
  for (uint64_t i = 0; i < dl_mdl_page_count(mdl); i++)
    assert_int_equal(dl_mdl_pfns(mdl)[i], dl_region_pfn(r, 3 + i));
}

static void test_mdl_pa_agrees_with_physical_bytes(void **state) {
  dl_machine *m = *state;
  enum { LEN = 3 * PS + 1000 };
  static uint8_t in[LEN];
  dl_region *r = buffer(m, LEN, 0x234, DL_REGION_NONPAGED);
  dl_mdl *mdl = mdl_of(m, r);
  assert_int_equal(dl_mdl_build_for_nonpaged_pool(mdl), DL_OK);
  for (size_t i = 0; i < LEN; i++) in[i] = (uint8_t)(i * 31 + (i >> 9));
  assert_int_equal(dl_machine_write_va(m, r->va, in, LEN), DL_OK);
  dl_physmem *pm = dl_machine_physmem(m);
  for (size_t i = 0; i < LEN; i += 61) {
    uint8_t b = 0;
    uint64_t pa = dl_mdl_pa(mdl, r->va + i);
    assert_int_equal(dl_physmem_read(pm, pa, &b, 1), DL_OK);
    assert_int_equal(b, in[i]);
  }
  /* the last byte of each page and the first of the next */
  for (uint64_t va = (r->va | (PS - 1)); va + 1 < r->va + LEN; va += PS) {
    uint8_t b[2];
    assert_int_equal(dl_physmem_read(pm, dl_mdl_pa(mdl, va), &b[0], 1), DL_OK);
    assert_int_equal(dl_physmem_read(pm, dl_mdl_pa(mdl, va + 1), &b[1], 1), DL_OK);
    assert_int_equal(b[0], in[va - r->va]);
    assert_int_equal(b[1], in[va + 1 - r->va]);
    assert_int_equal(dl_mdl_pa(mdl, va + 1) & (PS - 1), 0);
  }
}

static void test_build_on_paged_buffer_is_einval(void **state) {
  dl_machine *m = *state;
  dl_region *r = buffer(m, KiB(16), 0, DL_REGION_PAGED);
  dl_mdl *mdl = mdl_of(m, r);
  assert_int_equal(dl_mdl_build_for_nonpaged_pool(mdl), DL_EINVAL);
  assert_false(dl_mdl_pages_valid(mdl));
  assert_int_equal(dl_mdl_probe_and_lock(mdl, DL_IO_READ_ACCESS), DL_OK);
  assert_true(dl_mdl_pages_valid(mdl));
  { uint64_t want[4]; region_pfns(r, want, 4); assert_memory_equal(dl_mdl_pfns(mdl), want, 4 * sizeof(uint64_t)); }
  assert_int_equal(dl_mdl_unlock(mdl), DL_OK);
}

static void test_build_over_unmapped_range_is_enotmapped(void **state) {
  dl_machine *m = *state;
  dl_region *r = buffer(m, KiB(8), 0x10, DL_REGION_NONPAGED);
  dl_mdl *nowhere = mdl_over(m, 0x1000, 100);
  assert_int_equal(dl_mdl_build_for_nonpaged_pool(nowhere), DL_ENOTMAPPED);
  assert_int_equal(dl_mdl_probe_and_lock(nowhere, DL_IO_READ_ACCESS), DL_ENOTMAPPED);
  dl_mdl *past_end = mdl_over(m, r->va, r->length + 1);  /* one byte into the guard */
  assert_int_equal(dl_mdl_build_for_nonpaged_pool(past_end), DL_ENOTMAPPED);
  assert_int_equal(dl_mdl_probe_and_lock(past_end, DL_IO_READ_ACCESS), DL_ENOTMAPPED);
  dl_mdl *before = mdl_over(m, r->va - 1, 10);  /* the page's first 0x10 bytes are not the buffer */
  assert_int_equal(dl_mdl_build_for_nonpaged_pool(before), DL_ENOTMAPPED);
  assert_false(dl_mdl_pages_valid(nowhere));
  assert_false(dl_mdl_pages_valid(past_end));
  assert_int_equal(r->locks, 0);
}

static void test_nonpaged_mdl_invalid_after_buffer_freed(void **state) {
  dl_machine *m = *state;
  dl_region *r = buffer(m, KiB(8), 0, DL_REGION_NONPAGED);
  dl_mdl *mdl = mdl_of(m, r);
  assert_int_equal(dl_mdl_build_for_nonpaged_pool(mdl), DL_OK);
  assert_true(dl_mdl_pages_valid(mdl));
  assert_int_equal(dl_buffer_free(m, r), DL_OK);  /* nonpaged build does not lock */
  assert_false(dl_mdl_pages_valid(mdl));
  assert_int_equal(dl_mdl_system_address(mdl), 0);
  buffer(m, KiB(8), 0, DL_REGION_NONPAGED);  /* a new buffer never reuses the VA */
  assert_false(dl_mdl_pages_valid(mdl));
}

/* ---- probe and lock -------------------------------------------------------- */

static void test_probe_and_lock_sets_flag_and_region_lock(void **state) {
  dl_machine *m = *state;
  dl_region *r = buffer(m, KiB(48), 0x234, DL_REGION_PAGED);
  dl_mdl *mdl = mdl_of(m, r);
  assert_int_equal(dl_mdl_probe_and_lock(mdl, DL_IO_WRITE_ACCESS), DL_OK);
  assert_true(dl_mdl_flags(mdl) & DL_MDL_PAGES_LOCKED);
  assert_true(dl_mdl_flags(mdl) & DL_MDL_WRITE_OPERATION);
  assert_int_equal(r->locks, 1);
  assert_true(dl_mdl_pages_valid(mdl));
  { uint64_t want[13]; region_pfns(r, want, 13); assert_memory_equal(dl_mdl_pfns(mdl), want, 13 * sizeof(uint64_t)); }
  dl_mdl *other = mdl_of(m, r);
  assert_int_equal(dl_mdl_probe_and_lock(other, DL_IO_READ_ACCESS), DL_OK);
  assert_int_equal(r->locks, 2);
  assert_false(dl_mdl_flags(other) & DL_MDL_WRITE_OPERATION);
  assert_int_equal(dl_mdl_unlock(other), DL_OK);
  assert_int_equal(r->locks, 1);
}

static void test_buffer_free_is_ebusy_while_locked(void **state) {
  dl_machine *m = *state;
  dl_region *r = buffer(m, KiB(48), 0x234, DL_REGION_PAGED);
  dl_mdl *mdl = mdl_of(m, r);
  assert_int_equal(dl_mdl_probe_and_lock(mdl, DL_IO_READ_ACCESS), DL_OK);
  uint64_t pfn0 = dl_region_pfn(r, 0);
  assert_int_equal(dl_buffer_free(m, r), DL_EBUSY);
  assert_true(dl_physmem_is_allocated(dl_machine_physmem(m), pfn0));
  assert_int_equal(dl_mdl_unlock(mdl), DL_OK);
  assert_int_equal(r->locks, 0);
  assert_false(dl_mdl_flags(mdl) & DL_MDL_PAGES_LOCKED);
  assert_false(dl_mdl_pages_valid(mdl));
  assert_int_equal(dl_buffer_free(m, r), DL_OK);
  assert_false(dl_physmem_is_allocated(dl_machine_physmem(m), pfn0));
  assert_int_equal(dl_mdl_free(mdl), DL_OK);
}

static void test_lock_twice_is_estate(void **state) {
  dl_machine *m = *state;
  dl_region *r = buffer(m, KiB(8), 0, DL_REGION_PAGED);
  dl_mdl *mdl = mdl_of(m, r);
  assert_int_equal(dl_mdl_probe_and_lock(mdl, DL_IO_READ_ACCESS), DL_OK);
  assert_int_equal(dl_mdl_probe_and_lock(mdl, DL_IO_READ_ACCESS), DL_ESTATE);
  assert_int_equal(r->locks, 1);  /* the failed call took no lock */
  assert_int_equal(dl_mdl_build_for_nonpaged_pool(mdl), DL_ESTATE);
}

static void test_probe_with_bad_operation_is_einval(void **state) {
  dl_machine *m = *state;
  dl_region *r = buffer(m, KiB(8), 0, DL_REGION_PAGED);
  dl_mdl *mdl = mdl_of(m, r);
  assert_int_equal(dl_mdl_probe_and_lock(mdl, 3), DL_EINVAL);
  assert_int_equal(dl_mdl_probe_and_lock(mdl, -1), DL_EINVAL);
  assert_int_equal(r->locks, 0);
  assert_int_equal(dl_mdl_flags(mdl), 0);
}

static void test_unlock_of_unlocked_mdl_is_estate(void **state) {
  dl_machine *m = *state;
  dl_region *r = buffer(m, KiB(8), 0, DL_REGION_NONPAGED);
  dl_mdl *fresh = mdl_of(m, r);
  assert_int_equal(dl_mdl_unlock(fresh), DL_ESTATE);
  dl_mdl *built = mdl_of(m, r);
  assert_int_equal(dl_mdl_build_for_nonpaged_pool(built), DL_OK);
  assert_int_equal(dl_mdl_unlock(built), DL_ESTATE);  /* built, never locked */
  dl_mdl *twice = mdl_of(m, r);
  assert_int_equal(dl_mdl_probe_and_lock(twice, DL_IO_READ_ACCESS), DL_OK);
  assert_int_equal(dl_mdl_unlock(twice), DL_OK);
  assert_int_equal(dl_mdl_unlock(twice), DL_ESTATE);
  assert_int_equal(r->locks, 0);
}

static void test_free_of_locked_mdl_is_ebusy(void **state) {
  dl_machine *m = *state;
  dl_region *r = NULL;
  dl_mdl *mdl = locked_source(m, &r);
  size_t before = mdl_count(m);
  assert_int_equal(dl_mdl_free(mdl), DL_EBUSY);
  assert_int_equal(mdl_count(m), before);
  assert_true(dl_mdl_pages_valid(mdl));
  assert_int_equal(dl_mdl_unlock(mdl), DL_OK);
  assert_int_equal(dl_mdl_free(mdl), DL_OK);
  assert_int_equal(mdl_count(m), before - 1);
  assert_int_equal(dl_buffer_free(m, r), DL_OK);
}

static void test_destroy_of_locked_mdl_releases_its_lock(void **state) {
  dl_machine *m = *state;
  dl_region *r = NULL;
  dl_mdl *mdl = locked_source(m, &r);
  dl_mdl_destroy(mdl);
  dl_mdl_destroy(NULL);
  assert_int_equal(r->locks, 0);
  assert_int_equal(dl_buffer_free(m, r), DL_OK);
}

/* ---- partial MDLs ---------------------------------------------------------- */

static void test_partial_takes_pfns_offset_and_count_of_subrange(void **state) {
  dl_machine *m = *state;
  dl_mdl *src = locked_source(m, NULL);
  uint64_t va = dl_mdl_virtual_address(src) + 5000;
  dl_mdl *part = mdl_over(m, va, 10000);
  assert_int_equal(dl_mdl_build_partial(src, part, va, 10000), DL_OK);
  /* 0x234 + 5000 = 5564: page 1 of the source, byte 1468 */
  assert_int_equal(dl_mdl_byte_offset(part), 1468);
  assert_int_equal(dl_mdl_byte_count(part), 10000);
  assert_int_equal(dl_mdl_start_va(part), dl_mdl_start_va(src) + PS);
  assert_int_equal(dl_mdl_virtual_address(part), va);
  assert_int_equal(dl_mdl_page_count(part), 3);
  for (size_t i = 0; i < 3; i++) assert_int_equal(dl_mdl_pfns(part)[i], dl_mdl_pfns(src)[1 + i]);
  assert_true(dl_mdl_flags(part) & DL_MDL_PARTIAL);
  assert_false(dl_mdl_flags(part) & DL_MDL_PAGES_LOCKED);
  assert_ptr_equal(dl_mdl_source(part), src);
  assert_true(dl_mdl_pages_valid(part));
  assert_int_equal(dl_mdl_pa(part, va + 7777), dl_mdl_pa(src, va + 7777));
}

static void test_partial_length_zero_runs_to_end_of_source(void **state) {
  dl_machine *m = *state;
  dl_mdl *src = locked_source(m, NULL);
  uint64_t va = dl_mdl_virtual_address(src) + 5000;
  dl_mdl *part = mdl_over(m, dl_mdl_virtual_address(src), KiB(48));
  assert_int_equal(dl_mdl_build_partial(src, part, va, 0), DL_OK);
  assert_int_equal(dl_mdl_byte_count(part), KiB(48) - 5000);
  assert_int_equal(dl_mdl_page_count(part), 12);
  for (size_t i = 0; i < 12; i++) assert_int_equal(dl_mdl_pfns(part)[i], dl_mdl_pfns(src)[1 + i]);
  assert_int_equal(dl_mdl_virtual_address(part) + dl_mdl_byte_count(part),
                   dl_mdl_virtual_address(src) + dl_mdl_byte_count(src));
}

static void test_partial_outside_source_is_erange(void **state) {
  dl_machine *m = *state;
  dl_mdl *src = locked_source(m, NULL);
  uint64_t base = dl_mdl_virtual_address(src), end = base + KiB(48);
  dl_mdl *part = mdl_over(m, base, KiB(48));
  assert_int_equal(dl_mdl_build_partial(src, part, base - 1, 10), DL_ERANGE);
  assert_int_equal(dl_mdl_build_partial(src, part, end, 1), DL_ERANGE);
  assert_int_equal(dl_mdl_build_partial(src, part, end, 0), DL_ERANGE);
  assert_int_equal(dl_mdl_build_partial(src, part, base + 100, KiB(48) - 99), DL_ERANGE);
  assert_false(dl_mdl_flags(part) & DL_MDL_PARTIAL);  /* failures leave it alone */
  assert_int_equal(dl_mdl_build_partial(src, part, base + 100, KiB(48) - 100), DL_OK);
  assert_int_equal(dl_mdl_build_partial(src, part, end - 1, 1), DL_OK);
}

static void test_partial_into_too_small_target_is_enospace(void **state) {
  dl_machine *m = *state;
  dl_mdl *src = locked_source(m, NULL);
  uint64_t va = dl_mdl_virtual_address(src) + 5000;
  dl_mdl *small = mdl_over(m, 0x2000000, 2 * PS);  /* two PFN slots */
  assert_int_equal(dl_mdl_capacity(small), 2);
  assert_int_equal(dl_mdl_build_partial(src, small, va, 10000), DL_ENOSPACE);  /* needs 3 */
  assert_null(dl_mdl_source(small));
  assert_int_equal(dl_mdl_build_partial(src, small, va, 2 * PS - 1468), DL_OK);
}

static void test_partial_from_unlocked_source_is_estate(void **state) {
  dl_machine *m = *state;
  dl_region *r = buffer(m, KiB(48), 0x234, DL_REGION_PAGED);
  dl_mdl *src = mdl_of(m, r);
  dl_mdl *part = mdl_of(m, r);
  assert_int_equal(dl_mdl_build_partial(src, part, r->va, 100), DL_ESTATE);
  assert_int_equal(dl_mdl_build_partial(src, src, r->va, 100), DL_EINVAL);
}

static void test_partial_invalid_after_source_unlocked(void **state) {
  dl_machine *m = *state;
  dl_region *r = NULL;
  dl_mdl *src = locked_source(m, &r);
  dl_mdl *part = mdl_of(m, r);
  assert_int_equal(dl_mdl_build_partial(src, part, r->va + 5000, 10000), DL_OK);
  assert_true(dl_mdl_pages_valid(part));
  assert_int_equal(dl_mdl_unlock(src), DL_OK);
  assert_false(dl_mdl_pages_valid(part));
  assert_int_equal(dl_mdl_system_address(part), 0);
  assert_int_equal(r->locks, 0);
  assert_int_equal(dl_buffer_free(m, r), DL_OK);  /* a partial holds no lock */
}

static void test_partial_loses_source_when_source_freed(void **state) {
  dl_machine *m = *state;
  dl_region *r = buffer(m, KiB(48), 0x234, DL_REGION_NONPAGED);
  dl_mdl *src = mdl_of(m, r);
  assert_int_equal(dl_mdl_build_for_nonpaged_pool(src), DL_OK);
  dl_mdl *part = mdl_of(m, r);
  assert_int_equal(dl_mdl_build_partial(src, part, r->va + 5000, 10000), DL_OK);
  assert_true(dl_mdl_flags(part) & DL_MDL_SOURCE_IS_NONPAGED_POOL);
  assert_ptr_equal(dl_mdl_source(part), src);
  assert_int_equal(dl_mdl_free(src), DL_OK);  /* not locked: may be freed */
  assert_null(dl_mdl_source(part));
  assert_false(dl_mdl_pages_valid(part));
}

static void test_partial_loses_locked_source_after_unlock_and_free(void **state) {
  dl_machine *m = *state;
  dl_region *r = NULL;
  dl_mdl *src = locked_source(m, &r);
  dl_mdl *part = mdl_of(m, r);
  assert_int_equal(dl_mdl_build_partial(src, part, r->va, 0), DL_OK);
  assert_int_equal(dl_mdl_free(src), DL_EBUSY);
  assert_ptr_equal(dl_mdl_source(part), src);
  assert_int_equal(dl_mdl_unlock(src), DL_OK);
  assert_int_equal(dl_mdl_free(src), DL_OK);
  assert_null(dl_mdl_source(part));
  assert_false(dl_mdl_pages_valid(part));
}

static void test_partial_cannot_be_locked_or_built(void **state) {
  dl_machine *m = *state;
  dl_region *r = NULL;
  dl_mdl *src = locked_source(m, &r);
  dl_mdl *part = mdl_of(m, r);
  assert_int_equal(dl_mdl_build_partial(src, part, r->va, 100), DL_OK);
  assert_int_equal(dl_mdl_probe_and_lock(part, DL_IO_READ_ACCESS), DL_ESTATE);
  assert_int_equal(dl_mdl_build_for_nonpaged_pool(part), DL_ESTATE);
  assert_int_equal(dl_mdl_unlock(part), DL_ESTATE);
  assert_int_equal(r->locks, 1);
}

/* A target whose own pages are locked may not be overwritten: doing so would
** drop PAGES_LOCKED without releasing the region's lock, so the buffer could
** never be freed (dl_buffer_free DL_EBUSY forever, dl_mdl_unlock DL_ESTATE). */
static void test_partial_into_locked_target_is_estate(void **state) {
  dl_machine *m = *state;
  dl_mdl *src = locked_source(m, NULL);
  dl_region *rt = NULL;
  dl_mdl *target = locked_source(m, &rt);
  int rc = dl_mdl_build_partial(src, target, dl_mdl_virtual_address(src), 100);
  assert_int_equal(rc, DL_ESTATE);
  assert_true(dl_mdl_flags(target) & DL_MDL_PAGES_LOCKED);
  assert_int_equal(dl_mdl_unlock(target), DL_OK);
  assert_int_equal(rt->locks, 0);
  assert_int_equal(dl_buffer_free(m, rt), DL_OK);
}

/* Rebuilding an MDL as a partial of another source changes the pages it
** describes, so partials built earlier from it must not stay valid: their
** PFNs are those of the old buffer, which may since have been freed. */
static void test_partial_of_a_rebuilt_target_is_not_valid(void **state) {
  dl_machine *m = *state;
  dl_region *a = buffer(m, KiB(16), 0, DL_REGION_NONPAGED);
  dl_mdl *t = mdl_of(m, a);
  assert_int_equal(dl_mdl_build_for_nonpaged_pool(t), DL_OK);
  dl_mdl *p2 = mdl_of(m, a);
  assert_int_equal(dl_mdl_build_partial(t, p2, a->va, 0), DL_OK);
  uint64_t old_pfn = dl_mdl_pfns(p2)[0];
  dl_mdl *src = locked_source(m, NULL);
  assert_int_equal(dl_mdl_build_partial(src, t, dl_mdl_virtual_address(src), KiB(16) - 0x234), DL_OK);
  assert_int_equal(dl_buffer_free(m, a), DL_OK);
  assert_false(dl_physmem_is_allocated(dl_machine_physmem(m), old_pfn));
  assert_false(dl_mdl_pages_valid(p2));  /* its PFNs name freed pages */
}

static void test_system_address_marks_mapped(void **state) {
  dl_machine *m = *state;
  dl_region *r = NULL;
  dl_mdl *src = locked_source(m, &r);
  dl_mdl *part = mdl_of(m, r);
  assert_int_equal(dl_mdl_build_partial(src, part, r->va + 5000, 100), DL_OK);
  assert_int_equal(dl_mdl_system_address(src), r->va);
  assert_true(dl_mdl_flags(src) & DL_MDL_MAPPED_TO_SYSTEM_VA);
  assert_int_equal(dl_mdl_system_address(part), r->va + 5000);  /* the original VA */
  assert_true(dl_mdl_flags(part) & DL_MDL_PARTIAL_HAS_BEEN_MAPPED);
  dl_mdl *unbuilt = mdl_of(m, r);
  assert_int_equal(dl_mdl_system_address(unbuilt), 0);
  assert_false(dl_mdl_flags(unbuilt) & DL_MDL_MAPPED_TO_SYSTEM_VA);
}

static void test_prepare_for_reuse_clears_partial(void **state) {
  dl_machine *m = *state;
  dl_region *r = NULL;
  dl_mdl *src = locked_source(m, &r);
  dl_mdl *part = mdl_of(m, r);
  assert_int_equal(dl_mdl_build_partial(src, part, r->va + 5000, 10000), DL_OK);
  assert_int_not_equal(dl_mdl_system_address(part), 0);
  dl_mdl_prepare_for_reuse(part);
  assert_false(dl_mdl_flags(part) & DL_MDL_PARTIAL);
  assert_false(dl_mdl_flags(part) & DL_MDL_PARTIAL_HAS_BEEN_MAPPED);
  assert_null(dl_mdl_source(part));
  assert_false(dl_mdl_pages_valid(part));
  /* reusable as a partial of another range */
  assert_int_equal(dl_mdl_build_partial(src, part, r->va, 2 * PS), DL_OK);
  assert_ptr_equal(dl_mdl_source(part), src);
  assert_int_equal(dl_mdl_pfns(part)[0], dl_region_pfn(r, 0));
}

static void test_prepare_for_reuse_leaves_non_partial_alone(void **state) {
  dl_machine *m = *state;
  dl_mdl *src = locked_source(m, NULL);
  uint32_t flags = dl_mdl_flags(src);
  dl_mdl_prepare_for_reuse(src);
  assert_int_equal(dl_mdl_flags(src), flags);
  assert_true(dl_mdl_pages_valid(src));
}

/* ---- chains ---------------------------------------------------------------- */

static void test_chain_set_next_links_mdls(void **state) {
  dl_machine *m = *state;
  dl_mdl *a = mdl_over(m, 0x1000, 10), *b = mdl_over(m, 0x3000, 10), *c = mdl_over(m, 0x5000, 10);
  assert_null(dl_mdl_next(a));
  assert_int_equal(dl_mdl_set_next(a, b), DL_OK);
  assert_int_equal(dl_mdl_set_next(b, c), DL_OK);
  assert_ptr_equal(dl_mdl_next(a), b);
  assert_ptr_equal(dl_mdl_next(b), c);
  assert_null(dl_mdl_next(c));
  assert_int_equal(dl_mdl_set_next(a, NULL), DL_OK);
  assert_null(dl_mdl_next(a));
}

static void test_chain_loop_is_einval(void **state) {
  dl_machine *m = *state;
  dl_mdl *a = mdl_over(m, 0x1000, 10), *b = mdl_over(m, 0x3000, 10), *c = mdl_over(m, 0x5000, 10);
  assert_int_equal(dl_mdl_set_next(a, a), DL_EINVAL);
  assert_int_equal(dl_mdl_set_next(a, b), DL_OK);
  assert_int_equal(dl_mdl_set_next(b, c), DL_OK);
  assert_int_equal(dl_mdl_set_next(c, a), DL_EINVAL);
  assert_int_equal(dl_mdl_set_next(b, a), DL_EINVAL);
  assert_null(dl_mdl_next(c));
  assert_ptr_equal(dl_mdl_next(b), c);  /* a refused call changes nothing */
}

static void test_chain_to_mdl_of_another_machine_is_einval(void **state) {
  dl_machine *m = *state, *other = NULL;
  dl_machine_config cfg;
  dl_machine_config_init(&cfg);
  assert_int_equal(dl_machine_new(&cfg, &other), DL_OK);
  dl_mdl *a = mdl_over(m, 0x1000, 10), *b = mdl_over(other, 0x1000, 10);
  assert_int_equal(dl_mdl_set_next(a, b), DL_EINVAL);
  assert_null(dl_mdl_next(a));
  dl_machine_free(other);
}

static void test_freeing_mdl_clears_next_pointers_naming_it(void **state) {
  dl_machine *m = *state;
  dl_mdl *a = mdl_over(m, 0x1000, 10), *b = mdl_over(m, 0x3000, 10), *c = mdl_over(m, 0x5000, 10);
  assert_int_equal(dl_mdl_set_next(a, b), DL_OK);
  assert_int_equal(dl_mdl_set_next(b, c), DL_OK);
  assert_int_equal(dl_mdl_free(b), DL_OK);
  assert_null(dl_mdl_next(a));
  assert_null(dl_mdl_next(c));
  assert_int_equal(dl_mdl_set_next(a, c), DL_OK);  /* the chain can be rebuilt */
  assert_int_equal(dl_mdl_free(c), DL_OK);
  assert_null(dl_mdl_next(a));
}

/* ---- teardown ---------------------------------------------------------------- */

static void test_machine_free_frees_leftover_mdls(void **state) {
  (void)state;
  dl_machine_config cfg;
  dl_machine *m = NULL;
  dl_machine_config_init(&cfg);
  assert_int_equal(dl_machine_new(&cfg, &m), DL_OK);
  dl_region *r = NULL;
  dl_mdl *src = locked_source(m, &r);
  dl_mdl *part = mdl_of(m, r);
  assert_int_equal(dl_mdl_build_partial(src, part, r->va + 1, 0), DL_OK);
  dl_region *np = buffer(m, KiB(20), 7, DL_REGION_NONPAGED);
  dl_mdl *built = mdl_of(m, np);
  assert_int_equal(dl_mdl_build_for_nonpaged_pool(built), DL_OK);
  assert_int_equal(dl_mdl_set_next(src, built), DL_OK);
  assert_int_equal(dl_mdl_set_next(built, part), DL_OK);
  mdl_over(m, 0x1000, 12345);  /* never built */
  assert_int_equal(mdl_count(m), 4);
  dl_machine_free(m);  /* valgrind/ASan report anything left behind */
  dl_machine_free(NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    T(test_buffer_offset_0x234_48k_spans_13_pages),
    T(test_mdl_fields_describe_the_range),
    T(test_span_pages_formula_over_offset_and_length_grid),
    T(test_allocate_length_limits),
    T(test_mdl_ids_are_distinct),
    T(test_build_nonpaged_pfns_equal_region_pfns),
    T(test_build_nonpaged_over_subrange_takes_its_pages),
    T(test_mdl_pa_agrees_with_physical_bytes),
    T(test_build_on_paged_buffer_is_einval),
    T(test_build_over_unmapped_range_is_enotmapped),
    T(test_nonpaged_mdl_invalid_after_buffer_freed),
    T(test_probe_and_lock_sets_flag_and_region_lock),
    T(test_buffer_free_is_ebusy_while_locked),
    T(test_lock_twice_is_estate),
    T(test_probe_with_bad_operation_is_einval),
    T(test_unlock_of_unlocked_mdl_is_estate),
    T(test_free_of_locked_mdl_is_ebusy),
    T(test_destroy_of_locked_mdl_releases_its_lock),
    T(test_partial_takes_pfns_offset_and_count_of_subrange),
    T(test_partial_length_zero_runs_to_end_of_source),
    T(test_partial_outside_source_is_erange),
    T(test_partial_into_too_small_target_is_enospace),
    T(test_partial_from_unlocked_source_is_estate),
    T(test_partial_invalid_after_source_unlocked),
    T(test_partial_loses_source_when_source_freed),
    T(test_partial_loses_locked_source_after_unlock_and_free),
    T(test_partial_cannot_be_locked_or_built),
    T(test_partial_into_locked_target_is_estate),
    T(test_partial_of_a_rebuilt_target_is_not_valid),
    T(test_system_address_marks_mapped),
    T(test_prepare_for_reuse_clears_partial),
    T(test_prepare_for_reuse_leaves_non_partial_alone),
    T(test_chain_set_next_links_mdls),
    T(test_chain_loop_is_einval),
    T(test_chain_to_mdl_of_another_machine_is_einval),
    T(test_freeing_mdl_clears_next_pointers_naming_it),
#undef T
    cmocka_unit_test(test_machine_free_frees_leftover_mdls),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
