/*
** test_dmamap.c: what devices may address (core/machine/dl_dmamap.c) and
** the identity translation's device windows (dl_xlate_window_open/has in
** core/machine/dl_xlate.c): adjacent ranges cover together, a span found is
** remembered until a range is removed (which forgets it and bumps the
** epoch), more buffers than remembered spans still answer right, and a
** window opens only where every byte is mapped and RAM, on the identity
** translation, reports nothing, and closes when the map loses a range.
*/
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "base/dl_status.h"
#include "machine/dl_dmamap.h"
#include "machine/dl_machine.h"
#include "machine/dl_verifier.h"
#include "machine/dl_xlate.h"

/* Adjacent ranges cover an access across their seam; a span reaches from
** the base of the range holding the access to the end of the last one. */
static void adjacent_ranges(void **state) {
  (void)state;
  dl_dmamap *dm;
  uint32_t h1, h2;
  uint64_t lo, hi;
  assert_int_equal(dl_dmamap_new(&dm), DL_OK);
  assert_int_equal(dl_dmamap_add(dm, 0x1000, 0x1000, &h1), DL_OK);
  assert_int_equal(dl_dmamap_add(dm, 0x2000, 0x1000, &h2), DL_OK);
  assert_true(dl_dmamap_covers(dm, 0x1800, 0x1000));
  assert_true(dl_dmamap_span(dm, 0x1800, 0x1000, &lo, &hi));
  assert_int_equal(lo, 0x1000);
  assert_int_equal(hi, 0x3000);
  assert_false(dl_dmamap_covers(dm, 0x2800, 0x1000));
  assert_false(dl_dmamap_covers(dm, 0xFFF, 2));
  assert_true(dl_dmamap_covers(dm, 0x9000, 0));       /* nothing to cover */
  assert_false(dl_dmamap_span(dm, 0x1000, 0, &lo, &hi));
  assert_false(dl_dmamap_covers(dm, UINT64_MAX, 2));  /* wraps */
  dl_dmamap_free(dm);
  dl_dmamap_free(NULL);
}

/* A remembered span is forgotten when a range is removed: the access it
** answered is refused, what is still mapped is still covered, and the
** epoch counts the removal. Adding never forgets (it only widens). */
static void removal_forgets(void **state) {
  (void)state;
  dl_dmamap *dm;
  uint32_t h1, h2, h3;
  assert_int_equal(dl_dmamap_new(&dm), DL_OK);
  const uint64_t *epoch = dl_dmamap_epoch(dm);
  assert_int_equal(dl_dmamap_add(dm, 0x10000, 0x1000, &h1), DL_OK);
  assert_int_equal(dl_dmamap_add(dm, 0x11000, 0x1000, &h2), DL_OK);
  assert_true(dl_dmamap_covers(dm, 0x10000, 0x2000));
  assert_true(dl_dmamap_covers(dm, 0x10000, 0x2000));  /* from the span */
  assert_int_equal(*epoch, 0);
  assert_int_equal(dl_dmamap_add(dm, 0x12000, 0x1000, &h3), DL_OK);
  assert_int_equal(*epoch, 0);
  assert_true(dl_dmamap_covers(dm, 0x10000, 0x3000));
  dl_dmamap_remove(dm, h2);
  assert_int_equal(*epoch, 1);
  assert_false(dl_dmamap_covers(dm, 0x10000, 0x2000));
  assert_false(dl_dmamap_covers(dm, 0x11800, 8));
  assert_true(dl_dmamap_covers(dm, 0x10000, 0x1000));
  assert_true(dl_dmamap_covers(dm, 0x12000, 0x1000));
  dl_dmamap_remove(dm, h2);                            /* twice: nothing happens */
  assert_int_equal(*epoch, 1);
  assert_int_equal(dl_dmamap_count(dm), 2);
  dl_dmamap_free(dm);
}

/* More buffers in turn than spans remembered: every answer is still the
** walk's, and an unmapped gap between them never is covered. */
static void many_buffers(void **state) {
  (void)state;
  dl_dmamap *dm;
  uint32_t h[16];
  assert_int_equal(dl_dmamap_new(&dm), DL_OK);
  for (int i = 0; i < 16; i++)
    assert_int_equal(dl_dmamap_add(dm, 0x100000 * (uint64_t)(i + 1), 0x8000, &h[i]), DL_OK);
  for (int round = 0; round < 3; round++)
    for (int i = 0; i < 16; i++) {
      uint64_t base = 0x100000 * (uint64_t)(i + 1);
      assert_true(dl_dmamap_covers(dm, base + 0x100 * (uint64_t)round, 0x1000));
      assert_false(dl_dmamap_covers(dm, base + 0x7800, 0x1000));
      assert_false(dl_dmamap_covers(dm, base + 0x8000, 1));
    }
  dl_dmamap_remove(dm, h[3]);
  assert_false(dl_dmamap_covers(dm, 0x400000, 0x1000));
  assert_true(dl_dmamap_covers(dm, 0x500000, 0x1000));
  dl_dmamap_free(dm);
}

/* A machine with 1 MiB of RAM at 1 MiB (and none below). */
static dl_machine *small_machine(int iommu) {
  dl_machine_config cfg;
  dl_machine_config_init(&cfg);
  cfg.ram[0] = (dl_range){0x100000, 0x100000};
  cfg.nram = 1;
  cfg.platform.iommu = iommu;
  dl_machine *m = NULL;
  assert_int_equal(dl_machine_new(&cfg, &m), DL_OK);
  return m;
}

/* A window opens around a mapped RAM access, answers accesses inside the
** span and RAM, and closes (without a word) when a range is removed. */
static void window_identity(void **state) {
  (void)state;
  dl_machine *m = small_machine(0);
  dl_dmamap *dm = dl_machine_dmamap(m);
  dl_xlate_window w;
  uint32_t h1, h2;
  assert_int_equal(dl_dmamap_add(dm, 0x180000, 0x10000, &h1), DL_OK);
  assert_int_equal(dl_dmamap_add(dm, 0x1F8000, 0x10000, &h2), DL_OK);  /* past RAM's end */
  assert_true(dl_xlate_window_open(m, 0x180100, 32, &w));
  assert_true(dl_xlate_window_has(&w, 0x180000, 0x10000));
  assert_false(dl_xlate_window_has(&w, 0x17FFFF, 2));
  assert_false(dl_xlate_window_has(&w, 0x18FFFF, 2));
  assert_false(dl_xlate_window_has(&w, UINT64_MAX, 1));
  /* the window of the range crossing RAM's end stops there */
  assert_true(dl_xlate_window_open(m, 0x1F8000, 0x1000, &w));
  assert_true(dl_xlate_window_has(&w, 0x1FF000, 0x1000));
  assert_false(dl_xlate_window_has(&w, 0x1FF000, 0x1001));
  assert_false(dl_xlate_window_open(m, 0x1FF800, 0x1000, &w));  /* not all RAM */
  assert_false(dl_xlate_window_has(&w, 0x1F8000, 1));           /* a failed open closes */
  /* unmapped: no window, and no report (the checked path reports) */
  assert_false(dl_xlate_window_open(m, 0x1A0000, 8, &w));
  assert_int_equal(dl_verifier_count(m), 0);
  /* a removal closes every window */
  assert_true(dl_xlate_window_open(m, 0x180100, 32, &w));
  dl_dmamap_remove(dm, h2);
  assert_false(dl_xlate_window_has(&w, 0x180100, 32));
  assert_true(dl_xlate_window_open(m, 0x180100, 32, &w));        /* h1 is still mapped */
  dl_dmamap_remove(dm, h1);
  assert_false(dl_xlate_window_has(&w, 0x180100, 32));
  assert_false(dl_xlate_window_open(m, 0x180100, 32, &w));
  assert_int_equal(dl_verifier_count(m), 0);
  dl_machine_free(m);
}

/* An IOMMU never opens a window: each access goes through its IOTLB. */
static void window_iommu(void **state) {
  (void)state;
  dl_machine *m = small_machine(1);
  dl_xlate_window w;
  uint32_t h;
  assert_int_equal(dl_dmamap_add(dl_machine_dmamap(m), 0x180000, 0x1000, &h), DL_OK);
  assert_false(dl_xlate_window_open(m, 0x180000, 8, &w));
  assert_false(dl_xlate_window_has(&w, 0x180000, 8));
  dl_machine_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(adjacent_ranges),
    cmocka_unit_test(removal_forgets),
    cmocka_unit_test(many_buffers),
    cmocka_unit_test(window_identity),
    cmocka_unit_test(window_iommu),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
