/*
** test_physmem.c: simulated physical memory (core/memory/dl_physmem.c): allocation
** policies and their determinism, RAM ranges with holes, contiguous runs
** under an address ceiling and a boundary, page bytes, release, sparse
** host cost of a 1 TiB memory, exhaustion and physical copies; the span and
** page remembered from the last access (never a hole, forgotten on release),
** pages zeroed whole, and the host cap counted exactly.
*/
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "memory/dl_physmem.h"
#include "base/dl_rng.h"
#include "base/dl_status.h"

#define PS 4096u
#define KiB(n) ((uint64_t)(n) << 10)
#define MiB(n) ((uint64_t)(n) << 20)
#define GiB(n) ((uint64_t)(n) << 30)
#define PFN_4G (GiB(4) / PS)

/* A memory with its borrowed generator. */
typedef struct mem {
  dl_rng rng;
  dl_physmem *pm;
} mem;

static void mem_open(mem *m, uint64_t seed, const dl_range *r, size_t n) {
  dl_rng_seed(&m->rng, seed);
  m->pm = NULL;
  assert_int_equal(dl_physmem_new(PS, r, n, &m->rng, &m->pm), DL_OK);
  assert_non_null(m->pm);
}

static void mem_open1(mem *m, uint64_t seed, uint64_t base, uint64_t size) {
  dl_range r = {base, size};
  mem_open(m, seed, &r, 1);
}

static uint64_t free_pages(const mem *m) {
  dl_physmem_stats st;
  dl_physmem_get_stats(m->pm, &st);
  return st.free_pages;
}

static void assert_distinct(const uint64_t *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    for (size_t j = i + 1; j < n; j++) assert_int_not_equal(p[i], p[j]);
}

/* ---- determinism and policies ------------------------------------------- */

static void test_scattered_same_seed_gives_same_pfns(void **state) {
  (void)state;
  mem a, b;
  uint64_t pa[200], pb[200];
  mem_open1(&a, 42, 0, GiB(16));
  mem_open1(&b, 42, 0, GiB(16));
  assert_int_equal(dl_physmem_alloc(a.pm, 200, DL_ALLOC_SCATTERED, pa), DL_OK);
  assert_int_equal(dl_physmem_alloc(b.pm, 200, DL_ALLOC_SCATTERED, pb), DL_OK);
  assert_memory_equal(pa, pb, sizeof pa);
  assert_distinct(pa, 200);
  for (size_t i = 0; i < 200; i++) assert_true(dl_physmem_is_allocated(a.pm, pa[i]));
  dl_physmem_free(a.pm);
  dl_physmem_free(b.pm);
}

static void test_scattered_other_seed_gives_other_pfns(void **state) {
  (void)state;
  mem a, b;
  uint64_t pa[200], pb[200];
  mem_open1(&a, 42, 0, GiB(16));
  mem_open1(&b, 43, 0, GiB(16));
  assert_int_equal(dl_physmem_alloc(a.pm, 200, DL_ALLOC_SCATTERED, pa), DL_OK);
  assert_int_equal(dl_physmem_alloc(b.pm, 200, DL_ALLOC_SCATTERED, pb), DL_OK);
  size_t same = 0;
  for (size_t i = 0; i < 200; i++) same += pa[i] == pb[i];
  assert_true(same < 10);
  dl_physmem_free(a.pm);
  dl_physmem_free(b.pm);
}

static void test_scattered_pages_are_not_consecutive(void **state) {
  (void)state;
  mem a;
  uint64_t p[64];
  mem_open1(&a, 7, 0, GiB(16));
  assert_int_equal(dl_physmem_alloc(a.pm, 64, DL_ALLOC_SCATTERED, p), DL_OK);
  size_t adjacent = 0;
  for (size_t i = 1; i < 64; i++) adjacent += p[i] == p[i - 1] + 1;
  assert_true(adjacent < 4);
  dl_physmem_free(a.pm);
}

static void test_contiguous_policy_gives_consecutive_pfns(void **state) {
  (void)state;
  mem a;
  uint64_t p[50], q[3];
  mem_open1(&a, 1, 0, MiB(64));
  /* take 0,1,2 and give back 1: a one-page hole too small for the run */
  assert_int_equal(dl_physmem_alloc(a.pm, 3, DL_ALLOC_LOW_FIRST, q), DL_OK);
  dl_physmem_release(a.pm, &q[1], 1);
  assert_int_equal(dl_physmem_alloc(a.pm, 50, DL_ALLOC_CONTIGUOUS, p), DL_OK);
  assert_int_equal(p[0], 3);  /* the lowest run that fits */
  for (size_t i = 1; i < 50; i++) assert_int_equal(p[i], p[0] + i);
  dl_physmem_free(a.pm);
}

static void test_low_first_gives_lowest_free_pages(void **state) {
  (void)state;
  mem a;
  uint64_t p[10], q[3];
  mem_open1(&a, 1, 0, GiB(16));
  assert_int_equal(dl_physmem_alloc(a.pm, 10, DL_ALLOC_LOW_FIRST, p), DL_OK);
  for (size_t i = 0; i < 10; i++) assert_int_equal(p[i], i);
  uint64_t back[2] = {3, 7};
  dl_physmem_release(a.pm, back, 2);
  assert_int_equal(dl_physmem_alloc(a.pm, 3, DL_ALLOC_LOW_FIRST, q), DL_OK);
  assert_int_equal(q[0], 3);
  assert_int_equal(q[1], 7);
  assert_int_equal(q[2], 10);
  dl_physmem_free(a.pm);
}

static void test_high_first_takes_pages_above_4g_first(void **state) {
  (void)state;
  mem a;
  uint64_t p[100];
  mem_open1(&a, 1, 0, GiB(16));
  assert_int_equal(dl_physmem_alloc(a.pm, 100, DL_ALLOC_HIGH_FIRST, p), DL_OK);
  for (size_t i = 0; i < 100; i++) assert_true(p[i] >= PFN_4G);
  assert_distinct(p, 100);
  dl_physmem_free(a.pm);
}

static void test_high_first_falls_back_below_4g_when_high_ram_runs_out(void **state) {
  (void)state;
  mem a;
  uint64_t p[24];
  dl_range r[2] = {{0, MiB(1)}, {GiB(4), KiB(64)}};  /* 16 pages above 4 GiB */
  mem_open(&a, 1, r, 2);
  assert_int_equal(dl_physmem_alloc(a.pm, 24, DL_ALLOC_HIGH_FIRST, p), DL_OK);
  for (size_t i = 0; i < 16; i++) assert_int_equal(p[i], PFN_4G + i);
  for (size_t i = 16; i < 24; i++) assert_true(p[i] < PFN_4G);
  assert_distinct(p, 24);
  dl_physmem_free(a.pm);
}

static void test_high_first_without_high_ram_uses_low_pages(void **state) {
  (void)state;
  mem a;
  uint64_t p[8];
  mem_open1(&a, 1, 0, GiB(2));
  assert_int_equal(dl_physmem_alloc(a.pm, 8, DL_ALLOC_HIGH_FIRST, p), DL_OK);
  for (size_t i = 0; i < 8; i++) assert_true(p[i] < GiB(2) / PS);
  dl_physmem_free(a.pm);
}

static void test_bad_policy_and_zero_pages_are_einval(void **state) {
  (void)state;
  mem a;
  uint64_t p[1];
  mem_open1(&a, 1, 0, MiB(1));
  assert_int_equal(dl_physmem_alloc(a.pm, 0, DL_ALLOC_LOW_FIRST, p), DL_EINVAL);
  assert_int_equal(dl_physmem_alloc(a.pm, 1, DL_ALLOC_POLICY_COUNT, p), DL_EINVAL);
  assert_int_equal(free_pages(&a), MiB(1) / PS);
  dl_physmem_free(a.pm);
}

/* ---- RAM ranges ---------------------------------------------------------- */

static void test_ram_only_above_4g_is_never_allocated_below(void **state) {
  (void)state;
  mem a;
  static uint64_t p[1000];
  uint64_t first;
  mem_open1(&a, 5, GiB(4), GiB(4));
  assert_int_equal(dl_physmem_alloc(a.pm, 1000, DL_ALLOC_SCATTERED, p), DL_OK);
  for (size_t i = 0; i < 1000; i++) assert_true(p[i] >= PFN_4G && p[i] < 2 * PFN_4G);
  for (int pol = 0; pol < DL_ALLOC_POLICY_COUNT; pol++) {
    assert_int_equal(dl_physmem_alloc(a.pm, 100, (dl_alloc_policy)pol, p), DL_OK);
    for (size_t i = 0; i < 100; i++) assert_true(p[i] >= PFN_4G);
  }
  assert_int_equal(dl_physmem_alloc_contiguous(a.pm, 16, UINT64_MAX, 0, &first), DL_OK);
  assert_true(first >= PFN_4G);
  assert_int_equal(dl_physmem_alloc_contiguous(a.pm, 1, GiB(4) - 1, 0, &first), DL_ENOSPACE);
  uint8_t b;
  assert_int_equal(dl_physmem_read(a.pm, 0, &b, 1), DL_ENOTMAPPED);
  assert_int_equal(dl_physmem_read(a.pm, GiB(4) - 1, &b, 1), DL_ENOTMAPPED);
  assert_int_equal(dl_physmem_read(a.pm, GiB(4), &b, 1), DL_OK);
  assert_false(dl_physmem_is_allocated(a.pm, 0));
  dl_physmem_free(a.pm);
}

static void test_hole_under_4g_is_never_scattered_into(void **state) {
  (void)state;
  mem a;
  static uint64_t p[20000];
  dl_range r[2] = {{0, GiB(3)}, {GiB(4), GiB(4)}};
  mem_open(&a, 9, r, 2);
  assert_int_equal(dl_physmem_alloc(a.pm, 20000, DL_ALLOC_SCATTERED, p), DL_OK);
  size_t low = 0;
  for (size_t i = 0; i < 20000; i++) {
    assert_false(p[i] >= GiB(3) / PS && p[i] < PFN_4G);
    low += p[i] < PFN_4G;
  }
  assert_true(low > 0 && low < 20000);  /* both ranges were used */
  dl_physmem_free(a.pm);
}

static void test_hole_under_4g_is_skipped_by_low_first_and_contiguous(void **state) {
  (void)state;
  mem a;
  uint64_t first, p[8];
  dl_range r[2] = {{GiB(4), GiB(4)}, {0, GiB(3)}};  /* any order */
  mem_open(&a, 9, r, 2);
  /* leave only 4 free pages under the hole */
  uint64_t low_pages = GiB(3) / PS;
  assert_int_equal(dl_physmem_alloc_contiguous(a.pm, low_pages - 4, UINT64_MAX, 0, &first), DL_OK);
  assert_int_equal(first, 0);
  assert_int_equal(dl_physmem_alloc(a.pm, 8, DL_ALLOC_CONTIGUOUS, p), DL_OK);
  assert_int_equal(p[0], PFN_4G);  /* the 4 low pages are too few; no run spans the hole */
  assert_int_equal(dl_physmem_alloc(a.pm, 8, DL_ALLOC_LOW_FIRST, p), DL_OK);
  for (size_t i = 0; i < 4; i++) assert_int_equal(p[i], low_pages - 4 + i);
  for (size_t i = 4; i < 8; i++) assert_int_equal(p[i], PFN_4G + 8 + (i - 4));
  dl_physmem_free(a.pm);
}

static void test_hole_under_4g_reads_are_enotmapped(void **state) {
  (void)state;
  mem a;
  uint8_t buf[16] = {0};
  dl_range r[2] = {{0, GiB(3)}, {GiB(4), GiB(4)}};
  mem_open(&a, 9, r, 2);
  assert_int_equal(dl_physmem_read(a.pm, GiB(3), buf, 1), DL_ENOTMAPPED);
  assert_int_equal(dl_physmem_read(a.pm, GiB(3) + MiB(512), buf, 16), DL_ENOTMAPPED);
  assert_int_equal(dl_physmem_read(a.pm, GiB(3) - 8, buf, 16), DL_ENOTMAPPED);  /* straddles */
  assert_int_equal(dl_physmem_read(a.pm, GiB(4) - 8, buf, 16), DL_ENOTMAPPED);
  assert_int_equal(dl_physmem_write(a.pm, GiB(3), buf, 1), DL_ENOTMAPPED);
  assert_int_equal(dl_physmem_read(a.pm, GiB(8), buf, 1), DL_ENOTMAPPED);  /* past the end */
  assert_false(dl_physmem_is_ram(a.pm, GiB(3), 1));
  assert_true(dl_physmem_is_ram(a.pm, GiB(3) - 16, 16));
  assert_true(dl_physmem_is_ram(a.pm, GiB(4), 16));
  assert_false(dl_physmem_is_allocated(a.pm, GiB(3) / PS));
  dl_physmem_stats st;
  dl_physmem_get_stats(a.pm, &st);
  assert_int_equal(st.ram_pages, GiB(7) / PS);
  assert_int_equal(st.touched_pages, 0);  /* failed writes stored nothing */
  dl_physmem_free(a.pm);
}

static void test_overlapping_ranges_are_einval(void **state) {
  (void)state;
  dl_rng rng;
  dl_physmem *pm = NULL;
  dl_rng_seed(&rng, 1);
  dl_range over[2] = {{0, MiB(8)}, {MiB(4), MiB(8)}};
  assert_int_equal(dl_physmem_new(PS, over, 2, &rng, &pm), DL_EINVAL);
  dl_range inside[2] = {{MiB(16), MiB(1)}, {0, MiB(32)}};
  assert_int_equal(dl_physmem_new(PS, inside, 2, &rng, &pm), DL_EINVAL);
  dl_range same[2] = {{MiB(4), MiB(1)}, {MiB(4), MiB(1)}};
  assert_int_equal(dl_physmem_new(PS, same, 2, &rng, &pm), DL_EINVAL);
  assert_null(pm);
}

static void test_unaligned_or_empty_ranges_are_einval(void **state) {
  (void)state;
  dl_rng rng;
  dl_physmem *pm = NULL;
  dl_rng_seed(&rng, 1);
  dl_range base[1] = {{0x800, MiB(4)}};
  assert_int_equal(dl_physmem_new(PS, base, 1, &rng, &pm), DL_EINVAL);
  dl_range size[1] = {{0, MiB(4) + 1}};
  assert_int_equal(dl_physmem_new(PS, size, 1, &rng, &pm), DL_EINVAL);
  dl_range empty[1] = {{0, 0}};
  assert_int_equal(dl_physmem_new(PS, empty, 1, &rng, &pm), DL_EINVAL);
  dl_range wraps[1] = {{UINT64_MAX - MiB(1) + 1 - PS, MiB(1) + PS}};
  assert_int_equal(dl_physmem_new(PS, wraps, 1, &rng, &pm), DL_EINVAL);
  dl_range ok[1] = {{0, MiB(4)}};
  assert_int_equal(dl_physmem_new(3000, ok, 1, &rng, &pm), DL_EINVAL);
  assert_int_equal(dl_physmem_new(PS, ok, 0, &rng, &pm), DL_EINVAL);
  assert_null(pm);
}

static void test_adjacent_ranges_merge(void **state) {
  (void)state;
  mem a;
  dl_range r[3] = {{MiB(4), MiB(4)}, {0, MiB(4)}, {MiB(16), MiB(1)}};
  mem_open(&a, 1, r, 3);
  assert_int_equal(dl_physmem_range_count(a.pm), 2);
  dl_range got;
  dl_physmem_range(a.pm, 0, &got);
  assert_int_equal(got.base, 0);
  assert_int_equal(got.size, MiB(8));
  dl_physmem_range(a.pm, 1, &got);
  assert_int_equal(got.base, MiB(16));
  assert_int_equal(got.size, MiB(1));
  assert_true(dl_physmem_is_ram(a.pm, MiB(4) - 8, 16));  /* across the seam */
  dl_physmem_free(a.pm);
}

static void test_larger_page_size_is_honoured(void **state) {
  (void)state;
  dl_rng rng;
  dl_physmem *pm = NULL;
  dl_rng_seed(&rng, 1);
  dl_range r = {0, MiB(1)};
  assert_int_equal(dl_physmem_new(65536, &r, 1, &rng, &pm), DL_OK);
  assert_int_equal(dl_physmem_page_size(pm), 65536);
  dl_physmem_stats st;
  dl_physmem_get_stats(pm, &st);
  assert_int_equal(st.ram_pages, 16);
  dl_physmem_free(pm);
}

/* ---- page bytes ---------------------------------------------------------- */

static void test_bytes_written_read_back_across_pages(void **state) {
  (void)state;
  mem a;
  enum { LEN = 3 * PS + 500 };
  static uint8_t in[LEN], out[LEN];
  mem_open1(&a, 1, 0, MiB(64));
  for (size_t i = 0; i < LEN; i++) in[i] = (uint8_t)(i * 7 + 3);
  uint64_t pa = 5 * PS + 100;  /* starts mid-page, spans 5 pages */
  assert_int_equal(dl_physmem_write(a.pm, pa, in, LEN), DL_OK);
  assert_int_equal(dl_physmem_read(a.pm, pa, out, LEN), DL_OK);
  assert_memory_equal(in, out, LEN);
  uint8_t piece[300];  /* a read that starts elsewhere sees the same bytes */
  assert_int_equal(dl_physmem_read(a.pm, 6 * PS - 150, piece, 300), DL_OK);
  assert_memory_equal(piece, in + (PS - 250), 300);
  dl_physmem_free(a.pm);
}

static void test_never_written_ram_reads_as_zeros(void **state) {
  (void)state;
  mem a;
  uint8_t buf[2 * PS];
  uint8_t zero[2 * PS] = {0};
  mem_open1(&a, 1, 0, MiB(64));
  memset(buf, 0xAA, sizeof buf);
  assert_int_equal(dl_physmem_read(a.pm, MiB(32) + 17, buf, sizeof buf), DL_OK);
  assert_memory_equal(buf, zero, sizeof buf);
  /* a partly written page: the rest of it is still zeros */
  assert_int_equal(dl_physmem_write(a.pm, 10 * PS + 100, "abc", 3), DL_OK);
  memset(buf, 0xAA, sizeof buf);
  assert_int_equal(dl_physmem_read(a.pm, 10 * PS, buf, PS), DL_OK);
  assert_memory_equal(buf, zero, 100);
  assert_memory_equal(buf + 100, "abc", 3);
  assert_memory_equal(buf + 103, zero, PS - 103);
  dl_physmem_free(a.pm);
}

static void test_fill_sets_bytes(void **state) {
  (void)state;
  mem a;
  uint8_t buf[PS + 20];
  mem_open1(&a, 1, 0, MiB(1));
  assert_int_equal(dl_physmem_fill(a.pm, PS - 10, 0x1C5, PS + 20), DL_OK);  /* byte & 0xff */
  assert_int_equal(dl_physmem_read(a.pm, PS - 10, buf, sizeof buf), DL_OK);
  for (size_t i = 0; i < sizeof buf; i++) assert_int_equal(buf[i], 0xC5);
  dl_physmem_free(a.pm);
}

static void test_release_returns_pages_and_drops_bytes(void **state) {
  (void)state;
  mem a;
  static uint64_t p[1000];
  uint8_t page[PS];
  dl_physmem_stats before, full, after;
  mem_open1(&a, 3, 0, GiB(16));
  dl_physmem_get_stats(a.pm, &before);
  assert_int_equal(before.free_pages, before.ram_pages);
  assert_int_equal(dl_physmem_alloc(a.pm, 1000, DL_ALLOC_SCATTERED, p), DL_OK);
  memset(page, 0x5A, sizeof page);
  for (size_t i = 0; i < 1000; i++)
    assert_int_equal(dl_physmem_write(a.pm, p[i] * PS, page, PS), DL_OK);
  dl_physmem_get_stats(a.pm, &full);
  assert_int_equal(full.free_pages, before.ram_pages - 1000);
  assert_int_equal(full.touched_pages, 1000);
  assert_true(full.host_bytes >= before.host_bytes + 1000 * (uint64_t)PS);
  dl_physmem_release(a.pm, p, 1000);
  dl_physmem_get_stats(a.pm, &after);
  assert_int_equal(after.free_pages, before.ram_pages);
  assert_int_equal(after.touched_pages, 0);
  assert_true(after.host_bytes < full.host_bytes - 500 * (uint64_t)PS);
  for (size_t i = 0; i < 1000; i++) assert_false(dl_physmem_is_allocated(a.pm, p[i]));
  dl_physmem_free(a.pm);
}

static void test_reallocated_page_reads_zero(void **state) {
  (void)state;
  mem a;
  uint64_t p, q;
  uint8_t buf[PS], zero[PS] = {0};
  mem_open1(&a, 3, 0, MiB(16));
  assert_int_equal(dl_physmem_alloc(a.pm, 1, DL_ALLOC_LOW_FIRST, &p), DL_OK);
  memset(buf, 0xFF, sizeof buf);
  assert_int_equal(dl_physmem_write(a.pm, p * PS, buf, PS), DL_OK);
  dl_physmem_release(a.pm, &p, 1);
  assert_int_equal(dl_physmem_alloc(a.pm, 1, DL_ALLOC_LOW_FIRST, &q), DL_OK);
  assert_int_equal(q, p);
  /* another page written after the release reuses the host block: still zeros elsewhere */
  assert_int_equal(dl_physmem_write(a.pm, (q + 1) * PS, "x", 1), DL_OK);
  assert_int_equal(dl_physmem_read(a.pm, q * PS, buf, PS), DL_OK);
  assert_memory_equal(buf, zero, PS);
  assert_int_equal(dl_physmem_read(a.pm, (q + 1) * PS, buf, PS), DL_OK);
  assert_int_equal(buf[0], 'x');
  assert_memory_equal(buf + 1, zero, PS - 1);
  dl_physmem_free(a.pm);
}

static void test_release_ignores_pages_not_allocated(void **state) {
  (void)state;
  mem a;
  uint64_t p;
  mem_open1(&a, 3, 0, MiB(16));
  assert_int_equal(dl_physmem_alloc(a.pm, 1, DL_ALLOC_LOW_FIRST, &p), DL_OK);
  uint64_t bogus[3] = {p + 1, MiB(16) / PS + 5, p};
  dl_physmem_release(a.pm, bogus, 3);
  dl_physmem_release(a.pm, &p, 1);  /* a double release is harmless */
  assert_int_equal(free_pages(&a), MiB(16) / PS);
  dl_physmem_free(a.pm);
}

/* ---- contiguous runs ---------------------------------------------------- */

static void test_alloc_contiguous_honours_boundary(void **state) {
  (void)state;
  mem a;
  uint64_t p[5], first;
  mem_open1(&a, 1, 0, MiB(64));
  assert_int_equal(dl_physmem_alloc(a.pm, 5, DL_ALLOC_LOW_FIRST, p), DL_OK);  /* 0..4 */
  assert_int_equal(dl_physmem_alloc_contiguous(a.pm, 16, MiB(16) - 1, 0, &first), DL_OK);
  assert_int_equal(first, 5);  /* no boundary: lowest run, 5..20 */
  /* 16 pages below 16 MiB within one 64 KiB window: 21..31 is too short */
  assert_int_equal(dl_physmem_alloc_contiguous(a.pm, 16, MiB(16) - 1, KiB(64), &first), DL_OK);
  assert_int_equal(first, 32);
  assert_int_equal(first * PS / KiB(64), ((first + 15) * PS) / KiB(64));
  assert_true((first + 16) * PS - 1 <= MiB(16) - 1);
  for (uint64_t i = 0; i < 16; i++) assert_true(dl_physmem_is_allocated(a.pm, first + i));
  dl_physmem_free(a.pm);
}

static void test_alloc_contiguous_boundary_smaller_than_run_is_enospace(void **state) {
  (void)state;
  mem a;
  uint64_t first;
  mem_open1(&a, 1, 0, MiB(64));
  assert_int_equal(dl_physmem_alloc_contiguous(a.pm, 17, MiB(16) - 1, KiB(64), &first), DL_ENOSPACE);
  assert_int_equal(dl_physmem_alloc_contiguous(a.pm, 1, UINT64_MAX, 100, &first), DL_EINVAL);
  assert_int_equal(dl_physmem_alloc_contiguous(a.pm, 0, UINT64_MAX, 0, &first), DL_EINVAL);
  assert_int_equal(free_pages(&a), MiB(64) / PS);
  dl_physmem_free(a.pm);
}

static void test_alloc_contiguous_honours_max_address(void **state) {
  (void)state;
  mem a;
  uint64_t first;
  mem_open1(&a, 1, 0, MiB(64));
  uint64_t below = MiB(16) / PS;  /* 4096 pages under 16 MiB */
  assert_int_equal(dl_physmem_alloc_contiguous(a.pm, below - 10, UINT64_MAX, 0, &first), DL_OK);
  uint64_t free0 = free_pages(&a);
  assert_int_equal(dl_physmem_alloc_contiguous(a.pm, 16, MiB(16) - 1, 0, &first), DL_ENOSPACE);
  assert_int_equal(free_pages(&a), free0);
  assert_int_equal(dl_physmem_alloc_contiguous(a.pm, 11, MiB(16) - 1, 0, &first), DL_ENOSPACE);
  assert_int_equal(dl_physmem_alloc_contiguous(a.pm, 16, UINT64_MAX, 0, &first), DL_OK);
  assert_int_equal(first, below - 10);  /* without the ceiling it may cross 16 MiB */
  dl_physmem_release(a.pm, (uint64_t[]){first + 15}, 1);
  dl_physmem_release(a.pm, (uint64_t[]){first + 14}, 1);
  /* everything under 16 MiB is taken; pages below+4 and below+5 are free */
  assert_int_equal(dl_physmem_alloc_contiguous(a.pm, 1, MiB(16) - 1, 0, &first), DL_ENOSPACE);
  /* max_address is inclusive: the run's last byte must lie at or below it */
  assert_int_equal(dl_physmem_alloc_contiguous(a.pm, 2, MiB(16) + 6 * PS - 2, 0, &first), DL_ENOSPACE);
  assert_int_equal(dl_physmem_alloc_contiguous(a.pm, 2, MiB(16) + 6 * PS - 1, 0, &first), DL_OK);
  assert_int_equal(first, below + 4);
  dl_physmem_free(a.pm);
}

static void test_alloc_contiguous_ceiling_below_all_ram_is_enospace(void **state) {
  (void)state;
  mem a;
  uint64_t first;
  mem_open1(&a, 1, MiB(32), MiB(32));
  assert_int_equal(dl_physmem_alloc_contiguous(a.pm, 1, MiB(16) - 1, 0, &first), DL_ENOSPACE);
  assert_int_equal(dl_physmem_alloc_contiguous(a.pm, 1, 0, 0, &first), DL_ENOSPACE);
  assert_int_equal(dl_physmem_alloc_contiguous(a.pm, 1, MiB(32) + PS - 1, 0, &first), DL_OK);
  assert_int_equal(first, MiB(32) / PS);
  dl_physmem_free(a.pm);
}

/* ---- no space ------------------------------------------------------------ */

static void test_more_pages_than_free_is_enospace_and_changes_nothing(void **state) {
  (void)state;
  mem a;
  uint64_t p[64], q[64];
  mem_open1(&a, 11, 0, 64 * PS);
  assert_int_equal(dl_physmem_alloc(a.pm, 10, DL_ALLOC_SCATTERED, p), DL_OK);
  for (int pol = 0; pol < DL_ALLOC_POLICY_COUNT; pol++) {
    assert_int_equal(dl_physmem_alloc(a.pm, 55, (dl_alloc_policy)pol, q), DL_ENOSPACE);
    assert_int_equal(free_pages(&a), 54);
  }
  for (size_t i = 0; i < 10; i++) assert_true(dl_physmem_is_allocated(a.pm, p[i]));
  /* the 54 free pages are all still there */
  assert_int_equal(dl_physmem_alloc(a.pm, 54, DL_ALLOC_LOW_FIRST, q), DL_OK);
  assert_int_equal(free_pages(&a), 0);
  dl_physmem_free(a.pm);
}

static void test_fragmented_contiguous_is_enospace_and_changes_nothing(void **state) {
  (void)state;
  mem a;
  uint64_t p[64], q[2];
  mem_open1(&a, 11, 0, 64 * PS);
  assert_int_equal(dl_physmem_alloc(a.pm, 64, DL_ALLOC_LOW_FIRST, p), DL_OK);
  for (size_t i = 0; i < 64; i += 2) dl_physmem_release(a.pm, &p[i], 1);
  assert_int_equal(free_pages(&a), 32);
  assert_int_equal(dl_physmem_alloc(a.pm, 2, DL_ALLOC_CONTIGUOUS, q), DL_ENOSPACE);
  assert_int_equal(free_pages(&a), 32);
  for (size_t i = 0; i < 64; i++) assert_int_equal(dl_physmem_is_allocated(a.pm, i), (int)(i & 1));
  dl_physmem_free(a.pm);
}

static void test_small_memory_is_exhausted_by_scattered_then_enospace(void **state) {
  (void)state;
  mem a;
  uint64_t p[64], extra;
  mem_open1(&a, 13, 0, 64 * PS);
  /* one page at a time: once most pages are taken, random probes miss */
  for (size_t i = 0; i < 64; i++)
    assert_int_equal(dl_physmem_alloc(a.pm, 1, DL_ALLOC_SCATTERED, &p[i]), DL_OK);
  int seen[64] = {0};
  for (size_t i = 0; i < 64; i++) {
    assert_true(p[i] < 64);
    assert_int_equal(seen[p[i]]++, 0);
  }
  assert_int_equal(free_pages(&a), 0);
  assert_int_equal(dl_physmem_alloc(a.pm, 1, DL_ALLOC_SCATTERED, &extra), DL_ENOSPACE);
  assert_int_equal(dl_physmem_alloc(a.pm, 1, DL_ALLOC_LOW_FIRST, &extra), DL_ENOSPACE);
  dl_physmem_free(a.pm);
}

static void test_small_memory_whole_scattered_in_one_call(void **state) {
  (void)state;
  mem a;
  uint64_t p[48], extra;
  dl_range r[2] = {{0, 16 * PS}, {MiB(1), 32 * PS}};
  mem_open(&a, 17, r, 2);
  assert_int_equal(dl_physmem_alloc(a.pm, 48, DL_ALLOC_SCATTERED, p), DL_OK);
  assert_distinct(p, 48);
  for (size_t i = 0; i < 48; i++)
    assert_true(p[i] < 16 || (p[i] >= MiB(1) / PS && p[i] < MiB(1) / PS + 32));
  assert_int_equal(dl_physmem_alloc(a.pm, 1, DL_ALLOC_SCATTERED, &extra), DL_ENOSPACE);
  dl_physmem_free(a.pm);
}

/* ---- a 1 TiB memory ------------------------------------------------------ */

static void test_terabyte_memory_costs_only_what_it_touches(void **state) {
  (void)state;
  mem a;
  static uint64_t p[1000];
  uint8_t page[PS], back[PS];
  dl_physmem_stats st;
  mem_open1(&a, 21, 0, (uint64_t)1 << 40);
  dl_physmem_get_stats(a.pm, &st);
  assert_int_equal(st.ram_pages, ((uint64_t)1 << 40) / PS);
  assert_true(st.host_bytes < MiB(1));
  assert_int_equal(dl_physmem_alloc(a.pm, 1000, DL_ALLOC_SCATTERED, p), DL_OK);
  assert_distinct(p, 1000);
  for (size_t i = 0; i < 1000; i++) {
    memset(page, (int)(p[i] & 0xff), PS);
    memcpy(page, &p[i], sizeof p[i]);
    assert_int_equal(dl_physmem_write(a.pm, p[i] * PS, page, PS), DL_OK);
  }
  for (size_t i = 0; i < 1000; i += 97) {
    assert_int_equal(dl_physmem_read(a.pm, p[i] * PS, back, PS), DL_OK);
    assert_memory_equal(back, &p[i], sizeof p[i]);
    assert_int_equal(back[PS - 1], p[i] & 0xff);
  }
  dl_physmem_get_stats(a.pm, &st);
  assert_int_equal(st.touched_pages, 1000);
  assert_int_equal(st.free_pages, st.ram_pages - 1000);
  assert_true(st.host_bytes < MiB(16));
  dl_physmem_free(a.pm);
}

/* ---- physical copies ------------------------------------------------------ */

enum { CLEN = 10000 };

static void fill_pattern(uint8_t *b, size_t n, unsigned salt) {
  for (size_t i = 0; i < n; i++) b[i] = (uint8_t)((i * 131 + salt) ^ (i >> 8));
}

static void test_copy_disjoint_ranges(void **state) {
  (void)state;
  mem a;
  static uint8_t in[CLEN], out[CLEN];
  mem_open1(&a, 1, 0, MiB(16));
  fill_pattern(in, CLEN, 1);
  assert_int_equal(dl_physmem_write(a.pm, 3 * PS + 77, in, CLEN), DL_OK);
  assert_int_equal(dl_physmem_copy(a.pm, MiB(8) + 5, 3 * PS + 77, CLEN), DL_OK);
  assert_int_equal(dl_physmem_read(a.pm, MiB(8) + 5, out, CLEN), DL_OK);
  assert_memory_equal(in, out, CLEN);
  dl_physmem_free(a.pm);
}

/* Copies [src, src+CLEN) to dst in memory and in a host mirror, compares. */
static void check_overlapping_copy(int64_t shift) {
  mem a;
  static uint8_t mirror[CLEN + 4 * PS], out[CLEN + 4 * PS];
  mem_open1(&a, 1, 0, MiB(16));
  uint64_t base = 10 * PS + 33;
  fill_pattern(mirror, sizeof mirror, (unsigned)shift);
  assert_int_equal(dl_physmem_write(a.pm, base, mirror, sizeof mirror), DL_OK);
  uint64_t src = base + 2 * PS, dst = (uint64_t)((int64_t)src + shift);
  assert_int_equal(dl_physmem_copy(a.pm, dst, src, CLEN), DL_OK);
  memmove(mirror + (dst - base), mirror + (src - base), CLEN);
  assert_int_equal(dl_physmem_read(a.pm, base, out, sizeof out), DL_OK);
  assert_memory_equal(mirror, out, sizeof mirror);
  dl_physmem_free(a.pm);
}

static void test_copy_overlapping_forward_like_memmove(void **state) {
  (void)state;
  check_overlapping_copy(100);     /* dst above src, closer than a bounce chunk */
  check_overlapping_copy(PS + 1);  /* dst above src, by more than a chunk */
}

static void test_copy_overlapping_backward_like_memmove(void **state) {
  (void)state;
  check_overlapping_copy(-100);
  check_overlapping_copy(-(int64_t)PS - 1);
}

static void test_copy_onto_itself_and_zero_length(void **state) {
  (void)state;
  check_overlapping_copy(0);
  mem a;
  mem_open1(&a, 1, 0, MiB(1));
  assert_int_equal(dl_physmem_copy(a.pm, GiB(2), GiB(3), 0), DL_OK);
  dl_physmem_free(a.pm);
}

static void test_copy_outside_ram_is_enotmapped(void **state) {
  (void)state;
  mem a;
  uint8_t b[16] = "0123456789abcde";
  mem_open1(&a, 1, 0, MiB(1));
  assert_int_equal(dl_physmem_write(a.pm, 0, b, 16), DL_OK);
  assert_int_equal(dl_physmem_copy(a.pm, MiB(1) - 8, 0, 16), DL_ENOTMAPPED);
  assert_int_equal(dl_physmem_copy(a.pm, 0, MiB(1) - 8, 16), DL_ENOTMAPPED);
  uint8_t out[16];
  assert_int_equal(dl_physmem_read(a.pm, 0, out, 16), DL_OK);
  assert_memory_equal(out, b, 16);
  dl_physmem_free(a.pm);
}

/* Accesses alternate between two RAM ranges with a hole between them: the
** span remembered from the last access never lets an access into the hole
** or past the end (one page, several pages, straddling either edge). */
static void test_remembered_span_never_admits_the_hole(void **state) {
  (void)state;
  mem a;
  uint8_t buf[3 * PS], zero[3 * PS] = {0};
  dl_range r[3] = {{0, MiB(1)}, {MiB(2), MiB(1)}, {MiB(8), MiB(1)}};
  mem_open(&a, 9, r, 3);
  memset(buf, 0x33, sizeof buf);
  for (int round = 0; round < 2; round++) {
    assert_int_equal(dl_physmem_write(a.pm, MiB(1) - 8, buf, 8), DL_OK);  /* end of span 0 */
    assert_int_equal(dl_physmem_write(a.pm, MiB(1) - 8, buf, 16), DL_ENOTMAPPED);
    assert_int_equal(dl_physmem_read(a.pm, MiB(1), buf, 1), DL_ENOTMAPPED);
    assert_int_equal(dl_physmem_write(a.pm, MiB(1) - PS, buf, 2 * PS), DL_ENOTMAPPED);
    assert_int_equal(dl_physmem_write(a.pm, MiB(2), buf, 8), DL_OK);  /* start of span 1 */
    assert_int_equal(dl_physmem_read(a.pm, MiB(2) - 1, buf, 1), DL_ENOTMAPPED);
    assert_int_equal(dl_physmem_read(a.pm, MiB(2) - 8, buf, 16), DL_ENOTMAPPED);
    assert_int_equal(dl_physmem_write(a.pm, MiB(3) - PS, buf, PS), DL_OK);
    assert_int_equal(dl_physmem_write(a.pm, MiB(3), buf, 1), DL_ENOTMAPPED);
    assert_int_equal(dl_physmem_fill(a.pm, MiB(3) - PS, 0, 2 * PS), DL_ENOTMAPPED);
    assert_int_equal(dl_physmem_read(a.pm, MiB(9) - 8, buf, 8), DL_OK);  /* end of span 2 */
    assert_int_equal(dl_physmem_read(a.pm, MiB(9), buf, 8), DL_ENOTMAPPED);
    assert_int_equal(dl_physmem_read(a.pm, UINT64_MAX - 3, buf, 4), DL_ENOTMAPPED);
    assert_int_equal(dl_physmem_read(a.pm, UINT64_MAX - 3, buf, 8), DL_ENOTMAPPED);  /* wraps */
  }
  dl_physmem_stats st;
  dl_physmem_get_stats(a.pm, &st);
  assert_int_equal(st.touched_pages, 3);  /* failed accesses stored nothing */
  assert_int_equal(dl_physmem_read(a.pm, MiB(3) - PS, buf, sizeof buf), DL_ENOTMAPPED);
  assert_int_equal(dl_physmem_read(a.pm, MiB(2) + 8, buf, PS - 8), DL_OK);
  assert_memory_equal(buf, zero, PS - 8);
  dl_physmem_free(a.pm);
}

/* The page last accessed is looked up first; releasing it (every way a page
** is given back) must forget it, so it reads zeros when allocated again. */
static void test_released_page_is_forgotten_every_way(void **state) {
  (void)state;
  mem a;
  uint8_t buf[PS], fill[PS], zero[PS] = {0};
  memset(fill, 0x5A, sizeof fill);
  mem_open1(&a, 3, 0, MiB(16));
  for (int way = 0; way < 3; way++) {
    uint64_t p;
    dl_runs runs;
    if (way == 2) {
      assert_int_equal(dl_physmem_alloc_runs(a.pm, 1, DL_ALLOC_LOW_FIRST, &runs), DL_OK);
      p = runs.runs[0].pfn;
    } else {
      assert_int_equal(dl_physmem_alloc(a.pm, 1, DL_ALLOC_LOW_FIRST, &p), DL_OK);
    }
    assert_int_equal(dl_physmem_write(a.pm, p * PS, fill, PS), DL_OK);
    assert_int_equal(dl_physmem_read(a.pm, p * PS + 8, buf, 8), DL_OK);  /* remembered */
    assert_memory_equal(buf, fill, 8);
    if (way == 0) dl_physmem_release(a.pm, &p, 1);
    else if (way == 1) dl_physmem_release_run(a.pm, p, 1);
    else dl_physmem_release_runs(a.pm, &runs);
    assert_false(dl_physmem_is_allocated(a.pm, p));
    assert_int_equal(dl_physmem_read(a.pm, p * PS, buf, PS), DL_OK);
    assert_memory_equal(buf, zero, PS);
    dl_physmem_stats st;
    dl_physmem_get_stats(a.pm, &st);
    assert_int_equal(st.touched_pages, 0);
  }
  dl_physmem_free(a.pm);
}

/* A page zeroed whole stores nothing; a later read sees zeros and a later
** small write stores the page again with only that write in it, also when
** the page was the one last accessed. */
static void test_page_zeroed_whole_then_read_and_written(void **state) {
  (void)state;
  mem a;
  uint8_t buf[PS], fill[PS], zero[PS] = {0};
  memset(fill, 0xC3, sizeof fill);
  mem_open1(&a, 1, 0, MiB(16));
  dl_physmem_stats st;
  assert_int_equal(dl_physmem_write(a.pm, 4 * PS, fill, PS), DL_OK);
  assert_int_equal(dl_physmem_write(a.pm, 5 * PS, fill, PS), DL_OK);
  assert_int_equal(dl_physmem_read(a.pm, 4 * PS, buf, 4), DL_OK);  /* page 4 remembered */
  assert_int_equal(dl_physmem_fill(a.pm, 4 * PS, 0, PS), DL_OK);
  dl_physmem_get_stats(a.pm, &st);
  assert_int_equal(st.touched_pages, 1);
  assert_int_equal(dl_physmem_read(a.pm, 4 * PS, buf, PS), DL_OK);
  assert_memory_equal(buf, zero, PS);
  assert_int_equal(dl_physmem_read(a.pm, 5 * PS, buf, PS), DL_OK);  /* the neighbour kept */
  assert_memory_equal(buf, fill, PS);
  assert_int_equal(dl_physmem_write(a.pm, 4 * PS + 100, "hi", 2), DL_OK);
  dl_physmem_get_stats(a.pm, &st);
  assert_int_equal(st.touched_pages, 2);
  assert_int_equal(dl_physmem_read(a.pm, 4 * PS, buf, PS), DL_OK);
  assert_memory_equal(buf, zero, 100);
  assert_memory_equal(buf + 100, "hi", 2);
  assert_memory_equal(buf + 102, zero, PS - 102);
  /* zeroing several whole pages and a partial tail at once */
  assert_int_equal(dl_physmem_fill(a.pm, 4 * PS, 0, 2 * PS + 10), DL_OK);
  dl_physmem_get_stats(a.pm, &st);
  assert_int_equal(st.touched_pages, 0);  /* the tail's page was never stored */
  assert_int_equal(dl_physmem_read(a.pm, 5 * PS + 1, buf, 2), DL_OK);
  assert_int_equal(buf[0] | buf[1], 0);
  dl_physmem_free(a.pm);
}

/* The host cap counts exactly: one page's block fits, the next write to a
** new page is refused (counted, nothing stored) while writes to stored
** pages, the remembered one among them, cost nothing; a page zeroed whole
** leaves its block spare, which the next new page takes within the cap. */
static void test_host_cap_is_exact_with_remembered_pages(void **state) {
  (void)state;
  mem a;
  uint8_t buf[8] = {1, 2, 3, 4, 5, 6, 7, 8}, back[8];
  mem_open1(&a, 1, 0, MiB(16));
  dl_physmem_stats st;
  assert_int_equal(dl_physmem_write(a.pm, 1 * PS, buf, 8), DL_OK);  /* the table exists now */
  dl_physmem_get_stats(a.pm, &st);
  uint64_t cap = st.host_bytes + PS;
  dl_physmem_set_host_limit(a.pm, cap);
  assert_int_equal(dl_physmem_write(a.pm, 2 * PS, buf, 8), DL_OK);
  dl_physmem_get_stats(a.pm, &st);
  assert_int_equal(st.host_bytes, cap);
  assert_int_equal(dl_physmem_write(a.pm, 3 * PS, buf, 8), DL_ELIMIT);
  assert_int_equal(dl_physmem_limit_hits(a.pm), 1);
  assert_int_equal(dl_physmem_write(a.pm, 3 * PS + 8, buf, 8), DL_ELIMIT);  /* not remembered */
  assert_int_equal(dl_physmem_limit_hits(a.pm), 2);
  assert_int_equal(dl_physmem_read(a.pm, 3 * PS, back, 8), DL_OK);
  for (int i = 0; i < 8; i++) assert_int_equal(back[i], 0);
  assert_int_equal(dl_physmem_write(a.pm, 2 * PS + 8, buf, 8), DL_OK);
  assert_int_equal(dl_physmem_write(a.pm, 1 * PS + 8, buf, 8), DL_OK);
  dl_physmem_get_stats(a.pm, &st);
  assert_int_equal(st.host_bytes, cap);
  assert_int_equal(st.touched_pages, 2);
  assert_int_equal(dl_physmem_fill(a.pm, 2 * PS, 0, PS), DL_OK);  /* block kept as spare */
  dl_physmem_get_stats(a.pm, &st);
  assert_int_equal(st.host_bytes, cap);
  assert_int_equal(st.touched_pages, 1);
  assert_int_equal(dl_physmem_write(a.pm, 3 * PS, buf, 8), DL_OK);
  dl_physmem_get_stats(a.pm, &st);
  assert_int_equal(st.host_bytes, cap);
  assert_int_equal(dl_physmem_limit_hits(a.pm), 2);
  assert_int_equal(dl_physmem_read(a.pm, 3 * PS, back, 8), DL_OK);
  assert_memory_equal(back, buf, 8);
  assert_int_equal(dl_physmem_read(a.pm, 2 * PS + 8, back, 8), DL_OK);
  for (int i = 0; i < 8; i++) assert_int_equal(back[i], 0);
  dl_physmem_free(a.pm);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_scattered_same_seed_gives_same_pfns),
    cmocka_unit_test(test_scattered_other_seed_gives_other_pfns),
    cmocka_unit_test(test_scattered_pages_are_not_consecutive),
    cmocka_unit_test(test_contiguous_policy_gives_consecutive_pfns),
    cmocka_unit_test(test_low_first_gives_lowest_free_pages),
    cmocka_unit_test(test_high_first_takes_pages_above_4g_first),
    cmocka_unit_test(test_high_first_falls_back_below_4g_when_high_ram_runs_out),
    cmocka_unit_test(test_high_first_without_high_ram_uses_low_pages),
    cmocka_unit_test(test_bad_policy_and_zero_pages_are_einval),
    cmocka_unit_test(test_ram_only_above_4g_is_never_allocated_below),
    cmocka_unit_test(test_hole_under_4g_is_never_scattered_into),
    cmocka_unit_test(test_hole_under_4g_is_skipped_by_low_first_and_contiguous),
    cmocka_unit_test(test_hole_under_4g_reads_are_enotmapped),
    cmocka_unit_test(test_overlapping_ranges_are_einval),
    cmocka_unit_test(test_unaligned_or_empty_ranges_are_einval),
    cmocka_unit_test(test_adjacent_ranges_merge),
    cmocka_unit_test(test_larger_page_size_is_honoured),
    cmocka_unit_test(test_bytes_written_read_back_across_pages),
    cmocka_unit_test(test_never_written_ram_reads_as_zeros),
    cmocka_unit_test(test_fill_sets_bytes),
    cmocka_unit_test(test_release_returns_pages_and_drops_bytes),
    cmocka_unit_test(test_reallocated_page_reads_zero),
    cmocka_unit_test(test_release_ignores_pages_not_allocated),
    cmocka_unit_test(test_alloc_contiguous_honours_boundary),
    cmocka_unit_test(test_alloc_contiguous_boundary_smaller_than_run_is_enospace),
    cmocka_unit_test(test_alloc_contiguous_honours_max_address),
    cmocka_unit_test(test_alloc_contiguous_ceiling_below_all_ram_is_enospace),
    cmocka_unit_test(test_more_pages_than_free_is_enospace_and_changes_nothing),
    cmocka_unit_test(test_fragmented_contiguous_is_enospace_and_changes_nothing),
    cmocka_unit_test(test_small_memory_is_exhausted_by_scattered_then_enospace),
    cmocka_unit_test(test_small_memory_whole_scattered_in_one_call),
    cmocka_unit_test(test_terabyte_memory_costs_only_what_it_touches),
    cmocka_unit_test(test_copy_disjoint_ranges),
    cmocka_unit_test(test_copy_overlapping_forward_like_memmove),
    cmocka_unit_test(test_copy_overlapping_backward_like_memmove),
    cmocka_unit_test(test_copy_onto_itself_and_zero_length),
    cmocka_unit_test(test_copy_outside_ram_is_enotmapped),
    cmocka_unit_test(test_remembered_span_never_admits_the_hole),
    cmocka_unit_test(test_released_page_is_forgotten_every_way),
    cmocka_unit_test(test_page_zeroed_whole_then_read_and_written),
    cmocka_unit_test(test_host_cap_is_exact_with_remembered_pages),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
