/*
** test_tracering.c: the trace ring (core/machine/dl_trace.c). A bounded
** ring keeps the newest `trace` records in order whether it has grown to
** its size yet or not (it is allocated as records come); an unbounded one
** keeps every record; changing the capacity keeps the newest; the hash
** covers every record, kept or not.
*/
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "machine/dl_machine.h"
#include "machine/dl_record.h"
#include "machine/dl_trace.h"
#include "base/dl_status.h"

static dl_machine *machine(size_t capacity) {
  dl_machine_config cfg;
  dl_machine_config_init(&cfg);
  cfg.trace_capacity = capacity;
  dl_machine *m = NULL;
  assert_int_equal(dl_machine_new(&cfg, &m), DL_OK);
  return m;
}

static void emit(dl_machine *m, uint64_t from, uint64_t to) {
  for (uint64_t i = from; i < to; i++) dl_trace_emit(m, DL_TR_USER, i, 0, 0);
}

/* The user records kept, oldest first, are exactly [first, last). */
static void assert_kept(dl_machine *m, uint64_t first, uint64_t last) {
  const dl_trace *t = dl_machine_trace(m);
  size_t n = dl_trace_count(t), seen = 0;
  for (size_t i = 0; i < n; i++) {
    const dl_trace_record *r = dl_trace_at(t, i);
    if (r->kind != DL_TR_USER) continue;
    assert_int_equal(r->obj, first + seen);
    seen++;
  }
  assert_int_equal(seen, last - first);
}

static void test_bounded_ring_grows_then_wraps(void **state) {
  (void)state;
  dl_machine *m = machine(1000);
  size_t before = dl_trace_count(dl_machine_trace(m));
  emit(m, 0, 70);  /* past the first allocation */
  assert_int_equal(dl_trace_count(dl_machine_trace(m)), before + 70);
  assert_kept(m, 0, 70);
  emit(m, 70, 2500);  /* past the capacity: the oldest go */
  assert_int_equal(dl_trace_count(dl_machine_trace(m)), 1000);
  assert_kept(m, 1500, 2500);
  dl_machine_free(m);
}

static void test_unbounded_keeps_everything(void **state) {
  (void)state;
  dl_machine *m = machine(0);
  size_t before = dl_trace_count(dl_machine_trace(m));
  emit(m, 0, 5000);
  assert_int_equal(dl_trace_count(dl_machine_trace(m)), before + 5000);
  assert_kept(m, 0, 5000);
  dl_machine_free(m);
}

static void test_set_capacity_keeps_the_newest(void **state) {
  (void)state;
  dl_machine *m = machine(0);
  dl_trace *t = dl_machine_trace(m);
  emit(m, 0, 300);
  assert_int_equal(dl_trace_set_capacity(t, 100), DL_OK);
  assert_int_equal(dl_trace_count(t), 100);
  assert_kept(m, 200, 300);
  emit(m, 300, 350);
  assert_kept(m, 250, 350);
  assert_int_equal(dl_trace_set_capacity(t, 500), DL_OK);  /* grows again from what it keeps */
  emit(m, 350, 700);
  assert_int_equal(dl_trace_count(t), 450);
  assert_kept(m, 250, 700);
  assert_int_equal(dl_trace_set_capacity(t, DL_TRACE_MAX_CAPACITY + 1), DL_ELIMIT);
  assert_kept(m, 250, 700);
  dl_machine_free(m);
}

static void test_hash_covers_dropped_records(void **state) {
  (void)state;
  dl_machine *a = machine(10), *b = machine(0), *c = machine(10);
  emit(a, 0, 100);
  emit(b, 0, 100);
  emit(c, 1, 101);  /* the same last 10 records, different earlier ones */
  assert_int_equal(dl_trace_hash(dl_machine_trace(a)), dl_trace_hash(dl_machine_trace(b)));
  assert_int_not_equal(dl_trace_hash(dl_machine_trace(a)), dl_trace_hash(dl_machine_trace(c)));
  dl_machine_free(a);
  dl_machine_free(b);
  dl_machine_free(c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_bounded_ring_grows_then_wraps),
    cmocka_unit_test(test_unbounded_keeps_everything),
    cmocka_unit_test(test_set_capacity_keeps_the_newest),
    cmocka_unit_test(test_hash_covers_dropped_records),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
