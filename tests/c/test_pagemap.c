/*
** test_pagemap.c: the PFN -> block map (core/memory/dl_pagemap.c) and the
** block it remembers for the next lookup: found or created blocks are
** remembered, and a remembered block that is dropped (one, a range by key
** or by scan, the whole map) is forgotten, even when its host memory is at
** once reused for another PFN; growing the table keeps every block.
*/
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "memory/dl_pagemap.h"

#define BS 64u

static void test_created_block_is_found_and_others_are_not(void **state) {
  (void)state;
  dl_pagemap pm;
  dl_pagemap_init(&pm, BS);
  assert_null(dl_pagemap_get(&pm, 7));  /* an empty map has no table yet */
  uint8_t *a = dl_pagemap_get_or_create(&pm, 7);
  assert_non_null(a);
  for (size_t i = 0; i < BS; i++) assert_int_equal(a[i], 0);
  assert_ptr_equal(dl_pagemap_get(&pm, 7), a);
  assert_null(dl_pagemap_get(&pm, 8));
  assert_null(dl_pagemap_get(&pm, 6));
  uint8_t *b = dl_pagemap_get_or_create(&pm, 8);
  assert_ptr_not_equal(a, b);
  assert_ptr_equal(dl_pagemap_get_or_create(&pm, 7), a);  /* found, not made again */
  assert_ptr_equal(dl_pagemap_get(&pm, 8), b);
  assert_ptr_equal(dl_pagemap_get(&pm, 7), a);
  assert_int_equal(pm.len, 2);
  dl_pagemap_clear(&pm);
}

/* Dropping the remembered block and creating another PFN at once reuses the
** same host block: the dropped PFN must not find it. */
static void test_dropped_block_is_forgotten_though_reused(void **state) {
  (void)state;
  dl_pagemap pm;
  dl_pagemap_init(&pm, BS);
  uint8_t *a = dl_pagemap_get_or_create(&pm, 100);
  memset(a, 0x5A, BS);
  assert_ptr_equal(dl_pagemap_get(&pm, 100), a);  /* remembered */
  dl_pagemap_drop(&pm, 100);
  assert_null(dl_pagemap_get(&pm, 100));
  uint8_t *b = dl_pagemap_get_or_create(&pm, 200);
  assert_ptr_equal(b, a);  /* the spare block, zeroed */
  for (size_t i = 0; i < BS; i++) assert_int_equal(b[i], 0);
  assert_null(dl_pagemap_get(&pm, 100));
  assert_ptr_equal(dl_pagemap_get(&pm, 200), b);
  dl_pagemap_drop(&pm, 100);  /* absent: nothing happens */
  assert_ptr_equal(dl_pagemap_get(&pm, 200), b);
  assert_int_equal(pm.len, 1);
  dl_pagemap_clear(&pm);
}

/* Dropping another block leaves the remembered one in place. */
static void test_dropping_another_block_keeps_the_remembered_one(void **state) {
  (void)state;
  dl_pagemap pm;
  dl_pagemap_init(&pm, BS);
  uint8_t *a = dl_pagemap_get_or_create(&pm, 1);
  uint8_t *b = dl_pagemap_get_or_create(&pm, 2);
  assert_ptr_equal(dl_pagemap_get(&pm, 2), b);
  dl_pagemap_drop(&pm, 1);
  assert_ptr_equal(dl_pagemap_get(&pm, 2), b);
  assert_null(dl_pagemap_get(&pm, 1));
  (void)a;
  dl_pagemap_clear(&pm);
}

static void test_drop_range_forgets_by_key_and_by_scan(void **state) {
  (void)state;
  dl_pagemap pm;
  dl_pagemap_init(&pm, BS);
  for (uint64_t p = 10; p < 20; p++) assert_non_null(dl_pagemap_get_or_create(&pm, p));
  assert_non_null(dl_pagemap_get(&pm, 15));
  dl_pagemap_drop_range(&pm, 14, 3);  /* short range: by key */
  for (uint64_t p = 14; p < 17; p++) assert_null(dl_pagemap_get(&pm, p));
  assert_non_null(dl_pagemap_get(&pm, 17));
  assert_non_null(dl_pagemap_get(&pm, 19));  /* remembered now */
  dl_pagemap_drop_range(&pm, 0, UINT64_C(1) << 40);  /* longer than the table: by scan */
  assert_int_equal(pm.len, 0);
  for (uint64_t p = 10; p < 20; p++) assert_null(dl_pagemap_get(&pm, p));
  dl_pagemap_clear(&pm);
}

static void test_clear_forgets(void **state) {
  (void)state;
  dl_pagemap pm;
  dl_pagemap_init(&pm, BS);
  assert_non_null(dl_pagemap_get_or_create(&pm, 3));
  assert_non_null(dl_pagemap_get(&pm, 3));
  dl_pagemap_clear(&pm);
  assert_null(dl_pagemap_get(&pm, 3));
  assert_non_null(dl_pagemap_get_or_create(&pm, 4));  /* usable again */
  assert_null(dl_pagemap_get(&pm, 3));
  dl_pagemap_clear(&pm);
}

/* The table doubles several times; blocks do not move, so the remembered one
** stays right and every block is found with its own bytes. */
static void test_growth_keeps_every_block(void **state) {
  (void)state;
  enum { N = 5000 };
  dl_pagemap pm;
  dl_pagemap_init(&pm, BS);
  for (uint64_t p = 0; p < N; p++) {
    uint8_t *b = dl_pagemap_get_or_create(&pm, p * 3);
    assert_non_null(b);
    memcpy(b, &p, sizeof p);
  }
  assert_true(pm.cap >= 4096);
  for (uint64_t p = 0; p < N; p++) {
    uint8_t *b = dl_pagemap_get(&pm, p * 3);
    assert_non_null(b);
    uint64_t v;
    memcpy(&v, b, sizeof v);
    assert_int_equal(v, p);
    assert_null(dl_pagemap_get(&pm, p * 3 + 1));
  }
  assert_int_equal(pm.len, N);
  dl_pagemap_clear(&pm);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_created_block_is_found_and_others_are_not),
    cmocka_unit_test(test_dropped_block_is_forgotten_though_reused),
    cmocka_unit_test(test_dropping_another_block_keeps_the_remembered_one),
    cmocka_unit_test(test_drop_range_forgets_by_key_and_by_scan),
    cmocka_unit_test(test_clear_forgets),
    cmocka_unit_test(test_growth_keeps_every_block),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
