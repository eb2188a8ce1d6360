/*
** test_mapregs.c: the map register file (core/hal/dl_mapregs.c) and the
** machine's pool: one page below 16 MiB per register, allocation of a
** contiguous run found first-fit as RtlFindClearBitsAndSet does (reference
** 1.2), and, through adapters, exhaustion, the strict FIFO of waiters with
** head-of-line blocking, and freeing (1.3 FreeMapRegisters).
*/
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>

#include "rig.h"
#include "hal/dl_mapregs.h"
#include "machine/dl_trace.h"

static int setup(void **state) {
  static dl_mapregs *mr;
  if (dl_mapregs_new_at(0x200, 16, &mr)) return -1;
  *state = mr;
  return 0;
}

static int teardown(void **state) {
  dl_mapregs_free(*state);
  return 0;
}

/* ---- the register file ------------------------------------------------------- */

/* A new file: every register free, register i is page first_pfn + i. */
static void test_new_file_geometry(void **state) {
  dl_mapregs *mr = *state;
  assert_int_equal(mr->count, 16);
  assert_int_equal(mr->nfree, 16);
  assert_int_equal(mr->high_water, 0);
  assert_int_equal(dl_mapregs_pa(mr, 0, PS), 0x200 * PS);
  assert_int_equal(dl_mapregs_pa(mr, 15, PS), 0x20F * PS);
  assert_true(dl_list_empty(&mr->waiters));
  dl_mapregs_free(NULL);
}

/* Runs are taken first-fit from the lowest register. */
static void test_take_is_first_fit(void **state) {
  dl_mapregs *mr = *state;
  uint32_t a, b, c, d;
  assert_int_equal(dl_mapregs_take(mr, 3, &a), DL_OK);
  assert_int_equal(dl_mapregs_take(mr, 2, &b), DL_OK);
  assert_int_equal(dl_mapregs_take(mr, 4, &c), DL_OK);
  assert_int_equal(a, 0);
  assert_int_equal(b, 3);
  assert_int_equal(c, 5);
  assert_int_equal(mr->nfree, 7);
  dl_mapregs_give(mr, a, 3);         /* hole [0, 3) */
  assert_int_equal(dl_mapregs_take(mr, 2, &d), DL_OK);
  assert_int_equal(d, 0);            /* the first hole that fits */
  assert_int_equal(dl_mapregs_take(mr, 2, &d), DL_OK);
  assert_int_equal(d, 9);            /* [2, 3) is too small: after c */
  assert_int_equal(dl_mapregs_take(mr, 1, &d), DL_OK);
  assert_int_equal(d, 2);
}

/* A request needs a contiguous run: enough free registers in pieces is
** not enough, and a failed take changes nothing. */
static void test_take_needs_a_contiguous_run(void **state) {
  dl_mapregs *mr = *state;
  uint32_t first;
  for (uint32_t i = 0; i < 16; i++) assert_int_equal(dl_mapregs_take(mr, 1, &first), DL_OK);
  for (uint32_t i = 0; i < 16; i += 2) dl_mapregs_give(mr, i, 1);  /* 8 free, none adjacent */
  assert_int_equal(mr->nfree, 8);
  first = 77;
  assert_int_equal(dl_mapregs_take(mr, 2, &first), DL_ENOSPACE);
  assert_int_equal(mr->nfree, 8);
  for (uint32_t i = 0; i < 16; i++) assert_int_equal(mr->allocated[i], i % 2);
  dl_mapregs_give(mr, 3, 1);         /* 2, 3, 4 now free */
  assert_int_equal(dl_mapregs_take(mr, 3, &first), DL_OK);
  assert_int_equal(first, 2);
}

/* Zero registers, or more than the file has free, is DL_ENOSPACE. */
static void test_take_limits(void **state) {
  dl_mapregs *mr = *state;
  uint32_t first;
  assert_int_equal(dl_mapregs_take(mr, 0, &first), DL_ENOSPACE);
  assert_int_equal(dl_mapregs_take(mr, 17, &first), DL_ENOSPACE);
  assert_int_equal(dl_mapregs_take(mr, 16, &first), DL_OK);
  assert_int_equal(first, 0);
  assert_int_equal(mr->nfree, 0);
  assert_int_equal(dl_mapregs_take(mr, 1, &first), DL_ENOSPACE);
  dl_mapregs_give(mr, 0, 16);
  assert_int_equal(mr->nfree, 16);
}

/* The high-water mark is the most registers ever held at once. */
static void test_high_water(void **state) {
  dl_mapregs *mr = *state;
  uint32_t a, b;
  assert_int_equal(dl_mapregs_take(mr, 5, &a), DL_OK);
  assert_int_equal(dl_mapregs_take(mr, 6, &b), DL_OK);
  assert_int_equal(mr->high_water, 11);
  dl_mapregs_give(mr, a, 5);
  dl_mapregs_give(mr, b, 6);
  assert_int_equal(dl_mapregs_take(mr, 4, &a), DL_OK);
  assert_int_equal(mr->high_water, 11);
}

/* Registers holding a mapping are skipped when a bounce looks for room
** inside a grant; giving registers back clears their mapping marks. */
static void test_find_unmapped_and_give_clears_marks(void **state) {
  dl_mapregs *mr = *state;
  uint32_t first, at;
  assert_int_equal(dl_mapregs_take(mr, 6, &first), DL_OK);
  mr->mapped[first + 1] = 1;
  assert_int_equal(dl_mapregs_find_unmapped(mr, first, first + 6, 3, &at), DL_OK);
  assert_int_equal(at, first + 2);
  assert_int_equal(dl_mapregs_find_unmapped(mr, first, first + 6, 5, &at), DL_ENOSPACE);
  assert_int_equal(dl_mapregs_find_unmapped(mr, first, first + 2, 1, &at), DL_OK);
  assert_int_equal(at, first);
  dl_mapregs_give(mr, first, 6);
  assert_int_equal(mr->mapped[first + 1], 0);
  assert_int_equal(dl_mapregs_find_unmapped(mr, first, first + 6, 6, &at), DL_OK);
}

/* ---- the machine's pool ------------------------------------------------------ */

/* The pool has the configured count of contiguous pages, all below 16 MiB
** (every device's ceiling) and taken from physical memory. */
static void test_pool_pages_below_16m(void **state) {
  (void)state;
  rig r;
  dl_machine_config cfg;
  dl_machine_config_init(&cfg);
  cfg.map_registers = 48;
  assert_int_equal(rig_open(&r, &cfg), 0);
  dl_mapregs *mr = dl_mapregs_of(r.m);
  assert_non_null(mr);
  assert_ptr_equal(dl_mapregs_of(r.m), mr);  /* one pool per machine */
  assert_int_equal(mr->count, 48);
  assert_true(dl_mapregs_pa(mr, 47, PS) + PS - 1 <= UINT64_C(0xFFFFFF));
  for (uint32_t i = 0; i < 48; i++)
    assert_true(dl_physmem_is_allocated(dl_machine_physmem(r.m), mr->first_pfn + i));
  rig_close(&r);
}

/* RAM only above 4 GiB: the pool is reserved from the machine's own RAM
** (the lowest run, as no run lies below 16 MiB or 4 GiB), never outside it. */
static void test_pool_with_no_low_ram(void **state) {
  (void)state;
  rig r;
  dl_machine_config cfg;
  dl_machine_config_init(&cfg);
  cfg.ram[0].base = UINT64_C(4) << 30;
  cfg.ram[0].size = UINT64_C(1) << 30;
  assert_int_equal(rig_open(&r, &cfg), 0);
  dl_mapregs *mr = dl_mapregs_of(r.m);
  assert_non_null(mr);
  assert_int_equal(mr->count, 64);
  assert_int_equal(dl_mapregs_pa(mr, 0, PS), UINT64_C(0x100000000));
  assert_int_equal(dl_mapregs_pa(mr, 63, PS), UINT64_C(0x100000000) + 63 * PS);
  rig_close(&r);
}

/* ---- exhaustion, waiting and freeing through adapters (1.3) ------------------- */

typedef struct grants {
  char who[8][8];
  uint64_t base[8];
  int n;
} grants;

typedef struct req {
  grants *g;
  const char *name;
} req;

static int keep_registers(void *ctx, dl_device *dev, uint64_t base) {
  (void)dev;
  req *q = ctx;
  snprintf(q->g->who[q->g->n], sizeof q->g->who[0], "%s", q->name);
  q->g->base[q->g->n++] = base;
  return DL_DEALLOCATE_OBJECT_KEEP_REGISTERS;
}

/* A machine with an 8-register pool, every adapter allowed all 8. */
static void small_pool(rig *r) {
  dl_machine_config cfg;
  dl_machine_config_init(&cfg);
  cfg.map_registers = 8;
  cfg.adapter_map_registers = 8;
  assert_int_equal(rig_open(r, &cfg), 0);
}

static dl_adapter *adapter_on(rig *r, const char *dev) {
  uint32_t nmr;
  dl_adapter *a = rig_adapter_for(r, rig_device(r, dev), rig_desc(0, 1, 0, 1 << 20), &nmr);
  assert_int_equal(nmr, 8);
  return a;
}

static void ask(rig *r, dl_adapter *a, uint32_t n, req *q) {
  dl_machine_set_irql(r->m, DL_DISPATCH_LEVEL);
  assert_int_equal(dl_adapter_allocate_channel(a, dl_adapter_device(a), n, keep_registers, q),
                   DL_STATUS_SUCCESS);
  dl_machine_set_irql(r->m, DL_PASSIVE_LEVEL);
}

static void give(rig *r, dl_adapter *a, uint64_t base, uint32_t n) {
  dl_machine_set_irql(r->m, DL_DISPATCH_LEVEL);
  assert_int_equal(dl_adapter_free_map_registers(a, base, n), DL_OK);
  dl_machine_set_irql(r->m, DL_PASSIVE_LEVEL);
}

/* A request the pool cannot serve waits (its routine does not run) and is
** served, in order, when registers come back. */
static void test_exhaustion_waits_then_is_served(void **state) {
  (void)state;
  rig r;
  small_pool(&r);
  dl_adapter *a = adapter_on(&r, "a"), *b = adapter_on(&r, "b");
  grants g = {0};
  req qa = {&g, "A"}, qb = {&g, "B"};
  ask(&r, a, 6, &qa);
  ask(&r, b, 4, &qb);
  assert_int_equal(g.n, 1);
  dl_mapregs *mr = dl_mapregs_of(r.m);
  assert_int_equal(mr->nfree, 2);
  assert_false(dl_list_empty(&mr->waiters));
  assert_int_equal(dl_adapter_get_stats(b)->channel_waits, 1);
  give(&r, a, g.base[0], 6);
  assert_int_equal(g.n, 2);
  assert_string_equal(g.who[1], "B");
  assert_int_equal(mr->nfree, 4);
  assert_true(dl_list_empty(&mr->waiters));
  give(&r, b, g.base[1], 4);
  assert_int_equal(mr->nfree, 8);
  assert_int_equal(mr->high_water, 6);
  rig_close(&r);
}

/* The waiters form one strict FIFO served from its head only: a small
** request behind a large one waits although its registers are free. */
static void test_head_of_line_blocking(void **state) {
  (void)state;
  rig r;
  small_pool(&r);
  dl_adapter *a = adapter_on(&r, "a"), *b = adapter_on(&r, "b"), *c = adapter_on(&r, "c");
  grants g = {0};
  req qa = {&g, "A"}, qb = {&g, "B"}, qc = {&g, "C"};
  ask(&r, a, 5, &qa);   /* 3 left */
  ask(&r, b, 4, &qb);   /* waits */
  ask(&r, c, 1, &qc);   /* would fit, but B is ahead */
  assert_int_equal(g.n, 1);
  assert_int_equal(dl_mapregs_of(r.m)->nfree, 3);
  give(&r, a, g.base[0], 5);  /* B then C, in order, in this one call */
  assert_int_equal(g.n, 3);
  assert_string_equal(g.who[1], "B");
  assert_string_equal(g.who[2], "C");
  assert_int_equal(dl_mapregs_of(r.m)->nfree, 3);
  give(&r, b, g.base[1], 4);
  give(&r, c, g.base[2], 1);
  rig_close(&r);
}

/* When the FIFO is not empty a new request joins its tail even if its
** registers are free (the master queue must be empty to take them now). */
static void test_new_request_queues_behind_waiters(void **state) {
  (void)state;
  rig r;
  small_pool(&r);
  dl_adapter *a = adapter_on(&r, "a"), *b = adapter_on(&r, "b"), *c = adapter_on(&r, "c");
  grants g = {0};
  req qa = {&g, "A"}, qb = {&g, "B"}, qc = {&g, "C"};
  ask(&r, a, 7, &qa);
  ask(&r, b, 2, &qb);   /* waits: 1 free */
  ask(&r, c, 1, &qc);   /* 1 free, yet behind B */
  assert_int_equal(g.n, 1);
  give(&r, a, g.base[0], 7);
  assert_int_equal(g.n, 3);
  assert_string_equal(g.who[1], "B");
  assert_string_equal(g.who[2], "C");
  rig_close(&r);
}

/* Freeing is traced with the count, and the pool's occupancy statistics
** follow the registers in use over simulated time. */
static void test_free_is_traced_and_occupancy_tracked(void **state) {
  (void)state;
  rig r;
  small_pool(&r);
  dl_adapter *a = adapter_on(&r, "a");
  grants g = {0};
  req qa = {&g, "A"};
  dl_trace *t = dl_machine_trace(r.m);
  ask(&r, a, 4, &qa);
  assert_int_equal(dl_trace_stats(t)->map_registers_in_use, 4);
  dl_clock_run_until(dl_machine_clock(r.m), 1000);
  give(&r, a, g.base[0], 4);
  const dl_trace_record *rec = dl_trace_at(t, dl_trace_count(t) - 1);
  assert_int_equal(rec->kind, DL_TR_FREE_MAP_REGISTERS);
  assert_int_equal(rec->obj, dl_adapter_id(a));
  assert_int_equal(rec->a, 4);
  assert_int_equal(dl_trace_stats(t)->map_registers_in_use, 0);
  assert_int_equal(dl_trace_stats(t)->map_registers_high_water, 4);
  dl_clock_run_until(dl_machine_clock(r.m), 2000);
  /* 4 registers for 1000 ns of 2000: a mean of 2 */
  assert_true(dl_stats_map_registers_mean(t, 2000) > 1.99);
  assert_true(dl_stats_map_registers_mean(t, 2000) < 2.01);
  rig_close(&r);
}

/* A 64-bit scatter/gather master takes no registers at all, even from an
** exhausted pool. */
static void test_sg64_master_uses_no_registers(void **state) {
  (void)state;
  rig r;
  small_pool(&r);
  dl_adapter *a = adapter_on(&r, "a");
  grants g = {0};
  req qa = {&g, "A"}, qs = {&g, "S"};
  ask(&r, a, 8, &qa);
  assert_int_equal(dl_mapregs_of(r.m)->nfree, 0);
  uint32_t nmr;
  dl_adapter *s = rig_adapter_for(&r, rig_device(&r, "s"), rig_desc(1, 0, 1, 1 << 16), &nmr);
  assert_int_equal(nmr, 17);
  ask(&r, s, 17, &qs);
  assert_int_equal(g.n, 2);
  assert_int_equal(dl_mapregs_of(r.m)->nfree, 0);
  give(&r, s, g.base[1], 17);
  give(&r, a, g.base[0], 8);
  rig_close(&r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    T(test_new_file_geometry),
    T(test_take_is_first_fit),
    T(test_take_needs_a_contiguous_run),
    T(test_take_limits),
    T(test_high_water),
    T(test_find_unmapped_and_give_clears_marks),
    cmocka_unit_test(test_pool_pages_below_16m),
    cmocka_unit_test(test_pool_with_no_low_ram),
    cmocka_unit_test(test_exhaustion_waits_then_is_served),
    cmocka_unit_test(test_head_of_line_blocking),
    cmocka_unit_test(test_new_request_queues_behind_waiters),
    cmocka_unit_test(test_free_is_traced_and_occupancy_tracked),
    cmocka_unit_test(test_sg64_master_uses_no_registers),
#undef T
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
