/*
** test_base.c: the base layer's Windows values and helpers: the NTSTATUS
** table (names and values unique, lookup both ways, NT_SUCCESS/NT_ERROR),
** the IRP_MJ_* and IRQL tables, the page-geometry macros with the WDK's
** documented examples, and the growable vector (doubling, failure leaves
** the array unchanged, NULL-safe free).
*/
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "base/dl_ntstatus.h"
#include "base/dl_rng.h"
#include "base/dl_status.h"
#include "base/dl_vec.h"
#include "base/dl_wdk.h"

/* ---- value tables --------------------------------------------------------- */

/* Every name and every value of a table appears once; names carry prefix. */
static void check_unique(const dl_wdk_value *t, size_t n, const char *prefix, int values_unique) {
  for (size_t i = 0; i < n; i++) {
    assert_non_null(t[i].name);
    assert_true(strstr(t[i].name, prefix) != NULL);
    for (size_t j = i + 1; j < n; j++) {
      assert_string_not_equal(t[i].name, t[j].name);
      if (values_unique) assert_int_not_equal(t[i].value, t[j].value);
    }
  }
}

static void ntstatus_table_unique(void **state) {
  (void)state;
  size_t n;
  const dl_wdk_value *t = dl_ntstatus_table(&n);
  assert_true(n >= 22);
  check_unique(t, n, "STATUS_", 1);
  for (size_t i = 0; i < n; i++) assert_ptr_equal(strstr(t[i].name, "STATUS_"), t[i].name);
}

static void ntstatus_lookup(void **state) {
  (void)state;
  size_t n;
  const dl_wdk_value *t = dl_ntstatus_table(&n);
  for (size_t i = 0; i < n; i++) assert_string_equal(dl_ntstatus_name(t[i].value), t[i].name);
  assert_string_equal(dl_ntstatus_name(0), "STATUS_SUCCESS");
  assert_string_equal(dl_ntstatus_name(0x103), "STATUS_PENDING");
  assert_string_equal(dl_ntstatus_name(0xC000009A), "STATUS_INSUFFICIENT_RESOURCES");
  assert_string_equal(dl_ntstatus_name(0xC020020A), "STATUS_WDF_TOO_FRAGMENTED");
  assert_string_equal(dl_ntstatus_name(0xC0000182), "STATUS_DEVICE_CONFIGURATION_ERROR");
  assert_null(dl_ntstatus_name(0xC000000E));  /* STATUS_NO_SUCH_DEVICE: not the lab's */
  assert_int_equal(DL_STATUS_DEVICE_BUSY, 0x80000011u);
  assert_int_equal(DL_STATUS_CANCELLED, 0xC0000120u);
}

/* NT_SUCCESS: severity 0 or 1; NT_ERROR: severity 3 only. */
static void ntstatus_severity(void **state) {
  (void)state;
  assert_true(dl_nt_success(DL_STATUS_SUCCESS));
  assert_true(dl_nt_success(DL_STATUS_PENDING));
  assert_false(dl_nt_success(DL_STATUS_DEVICE_BUSY));  /* a warning */
  assert_false(dl_nt_error(DL_STATUS_DEVICE_BUSY));
  assert_false(dl_nt_success(DL_STATUS_INSUFFICIENT_RESOURCES));
  assert_true(dl_nt_error(DL_STATUS_INSUFFICIENT_RESOURCES));
  assert_true(dl_nt_error(DL_STATUS_WDF_BUSY));
}

static void irp_major_table(void **state) {
  (void)state;
  size_t n;
  const dl_wdk_value *t = dl_irp_major_table(&n);
  assert_int_equal(n, 29);                   /* the 28 codes and the bound */
  check_unique(t, n - 1, "IRP_MJ_", 1);      /* the bound repeats IRP_MJ_PNP */
  assert_string_equal(t[n - 1].name, "IRP_MJ_MAXIMUM_FUNCTION");
  assert_string_equal(dl_wdk_name(t, n, 0x1b), "IRP_MJ_PNP");
  assert_int_equal(t[n - 1].value, 0x1b);
  assert_string_equal(dl_wdk_name(t, n, 0x03), "IRP_MJ_READ");
  assert_string_equal(dl_wdk_name(t, n, 0x0e), "IRP_MJ_DEVICE_CONTROL");
  for (size_t i = 0; i < n; i++) assert_true(t[i].value <= DL_IRP_MJ_MAXIMUM_FUNCTION);
}

/* Aliases (LOW_LEVEL, POWER_LEVEL, PROFILE_LEVEL) come after the usual name. */
static void irql_table(void **state) {
  (void)state;
  size_t n;
  const dl_wdk_value *t = dl_irql_table(&n);
  check_unique(t, n, "_LEVEL", 0);
  assert_string_equal(dl_irql_name(0), "PASSIVE_LEVEL");
  assert_string_equal(dl_irql_name(1), "APC_LEVEL");
  assert_string_equal(dl_irql_name(2), "DISPATCH_LEVEL");
  assert_string_equal(dl_irql_name(14), "IPI_LEVEL");
  assert_string_equal(dl_irql_name(15), "HIGH_LEVEL");
  assert_null(dl_irql_name(3));
  assert_int_equal(DL_PROFILE_LEVEL, DL_HIGH_LEVEL);
  for (size_t i = 0; i < n; i++) assert_true(t[i].value <= DL_HIGH_LEVEL);
}

/* ---- page geometry -------------------------------------------------------- */

/* The WDK's examples: a range spans the pages its first and last byte touch. */
static void span_pages_examples(void **state) {
  (void)state;
  assert_int_equal(dl_span_pages(0x1FFF, 2, 4096), 2);     /* crosses one boundary */
  assert_int_equal(dl_span_pages(0x1FFF, 1, 4096), 1);
  assert_int_equal(dl_span_pages(0x1000, 4096, 4096), 1);  /* exactly one page */
  assert_int_equal(dl_span_pages(0x1001, 4096, 4096), 2);
  assert_int_equal(dl_span_pages(0x1800, 0x2000, 4096), 3);
  assert_int_equal(dl_span_pages(0x1000, 0, 4096), 0);     /* the macro's quirk: */
  assert_int_equal(dl_span_pages(0x1234, 0, 4096), 1);     /* 0 bytes off a boundary span 1 */
  assert_int_equal(dl_span_pages(0x0, 0x10000, 0x10000), 1);  /* 64 KiB pages */
  assert_int_equal(dl_span_pages(0xFFFF, 2, 0x10000), 2);
}

/* No overflow near 2^64: compared with a 128-bit reference. */
static void span_pages_no_overflow(void **state) {
  (void)state;
  dl_rng rng;
  dl_rng_seed(&rng, 7);
  for (int i = 0; i < 10000; i++) {
    uint64_t ps = UINT64_C(4096) << (dl_rng_next(&rng) % 5);
    uint64_t va = dl_rng_next(&rng), len = i % 2 ? dl_rng_next(&rng) : dl_rng_next(&rng) % 100000;
    unsigned __int128 want = ((unsigned __int128)(va & (ps - 1)) + len + ps - 1) / ps;
    assert_true((unsigned __int128)dl_span_pages(va, len, ps) == want);
  }
  assert_int_equal(dl_span_pages(0xFFF, UINT64_MAX, 4096), (UINT64_MAX / 4096) + 2);
}

static void page_macros(void **state) {
  (void)state;
  assert_int_equal(dl_byte_offset(0x12345, 4096), 0x345);
  assert_int_equal(dl_page_align(0x12345, 4096), 0x12000);
  assert_int_equal(dl_bytes_to_pages(0, 4096), 0);
  assert_int_equal(dl_bytes_to_pages(1, 4096), 1);
  assert_int_equal(dl_bytes_to_pages(4096, 4096), 1);
  assert_int_equal(dl_bytes_to_pages(4097, 4096), 2);
  assert_int_equal(dl_bytes_to_pages(UINT64_MAX, 4096), UINT64_MAX / 4096 + 1);
  assert_int_equal(dl_round_to_pages(1, 4096), 4096);
  assert_int_equal(dl_round_to_pages(8192, 4096), 8192);
  assert_int_equal(dl_round_to_pages(8193, 0x10000), 0x10000);
}

/* ---- growable vector ------------------------------------------------------ */

typedef struct pair { uint64_t a, b; } pair;

/* From empty, the first growth is DL_VEC_MIN, then capacities double. */
static void vec_doubles(void **state) {
  (void)state;
  pair *items = NULL;
  uint32_t cap = 0, n = 0, growths = 0;
  for (uint32_t i = 0; i < 100000; i++) {
    uint32_t before = cap;
    assert_int_equal(dl_vec_reserve(items, cap, n + 1), DL_OK);
    if (cap != before) {
      growths++;
      assert_int_equal(cap, before ? 2 * before : DL_VEC_MIN);
    }
    items[n++] = (pair){i, ~(uint64_t)i};
  }
  assert_int_equal(growths, 15);  /* 8 << 14 = 131072 >= 100000: amortised O(1) */
  for (uint32_t i = 0; i < n; i++) assert_int_equal(items[i].a, i);
  dl_vec_free(items, cap);
  assert_null(items);
  assert_int_equal(cap, 0);
}

/* A reservation beyond double the capacity takes exactly what is asked. */
static void vec_big_reserve(void **state) {
  (void)state;
  uint64_t *items = NULL;
  size_t cap = 0;
  assert_int_equal(dl_vec_reserve(items, cap, 3), DL_OK);
  assert_int_equal(cap, DL_VEC_MIN);
  assert_int_equal(dl_vec_reserve(items, cap, 5), DL_OK);  /* room already: no change */
  assert_int_equal(cap, DL_VEC_MIN);
  assert_int_equal(dl_vec_reserve(items, cap, 1000), DL_OK);
  assert_int_equal(cap, 1000);
  items[999] = 42;
  dl_vec_free(items, cap);
}

/* Out of memory (or a capacity the counter cannot hold) leaves both unchanged. */
static void vec_failure_unchanged(void **state) {
  (void)state;
  uint64_t *items = NULL;
  size_t cap = 0;
  assert_int_equal(dl_vec_reserve(items, cap, 4), DL_OK);
  uint64_t *kept = items;
  items[0] = 7;
  assert_int_equal(dl_vec_reserve(items, cap, SIZE_MAX / 4), DL_ENOMEM);  /* bytes overflow */
  assert_ptr_equal(items, kept);
  assert_int_equal(cap, DL_VEC_MIN);
  assert_int_equal(items[0], 7);
  dl_vec_free(items, cap);

  uint8_t *bytes = NULL;
  uint32_t cap32 = 0;
  size_t beyond = (size_t)UINT32_MAX + 1;  /* more than a uint32_t capacity holds */
  assert_int_equal(dl_vec_reserve(bytes, cap32, beyond), DL_ENOMEM);
  assert_null(bytes);
  assert_int_equal(cap32, 0);
}

static void vec_free_null(void **state) {
  (void)state;
  char *items = NULL;
  unsigned long long cap = 0;
  dl_vec_free(items, cap);
  dl_vec_free(items, cap);
  assert_null(items);
  assert_int_equal(cap, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(ntstatus_table_unique),
    cmocka_unit_test(ntstatus_lookup),
    cmocka_unit_test(ntstatus_severity),
    cmocka_unit_test(irp_major_table),
    cmocka_unit_test(irql_table),
    cmocka_unit_test(span_pages_examples),
    cmocka_unit_test(span_pages_no_overflow),
    cmocka_unit_test(page_macros),
    cmocka_unit_test(vec_doubles),
    cmocka_unit_test(vec_big_reserve),
    cmocka_unit_test(vec_failure_unchanged),
    cmocka_unit_test(vec_free_null),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
