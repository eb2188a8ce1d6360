/*
** test_wdfsync.c: the framework's locks, deferred work and memory
** (core/wdf/dl_wdfsync.c, dl_wdfdefer.c, dl_wdfmemory.c) without Lua:
** WDFSPINLOCK raises to DISPATCH_LEVEL and restores, recursive acquire is
** WDF_VIOLATION 0x2 and a release not held 0xB; WDFWAITLOCK tries with a
** zero timeout; a device's lock; WDFDPC queued once; WDFTIMER one-shot and
** periodic, stopped, and cancelled when deleted; WDFWORKITEM at
** PASSIVE_LEVEL, flushed; WDFMEMORY from pool (tracked, freed with the
** object), preallocated, copies checked against its size; lookaside
** memory as children of the list.
*/
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "rig_wdf.h"
#include "base/dl_ntstatus.h"
#include "base/dl_status.h"
#include "io/dl_device.h"
#include "kernel/dl_event.h"
#include "kernel/dl_pool.h"
#include "machine/dl_machine.h"
#include "machine/dl_verifier.h"
#include "wdf/dl_wdf.h"
#include "wdf/dl_wdfdefer.h"
#include "wdf/dl_wdfmemory.h"
#include "wdf/dl_wdfsync.h"

typedef struct rig {
  dl_machine *m;
  dl_wdf_driver *drv;
  dl_wdf_device *d;
  int calls;
  uint8_t irql;
  uint64_t at;
} rig;

static const dl_wdf_ops ops = {.event = NULL};

static int setup(void **state) {
  static rig r;
  memset(&r, 0, sizeof r);
  if (rig_wdf_open(&r.m, NULL, &r.drv, &ops, NULL, &r.d)) return -1;
  *state = &r;
  return 0;
}

static int teardown(void **state) {
  rig_wdf_close(((rig *)*state)->m);
  return 0;
}

static void expect_wdf(dl_machine *m, uint64_t before, uint32_t p1) {
  assert_int_equal(dl_verifier_count(m), before + 1);
  const dl_report *rep = dl_verifier_at(m, (size_t)before);
  assert_int_equal(rep->bugcheck, DL_BUGCHECK_WDF);
  assert_int_equal(rep->p1, p1);
}

static void test_spinlock(void **state) {
  rig *r = *state;
  dl_wdf_spinlock *s;
  assert_int_equal(dl_wdf_spinlock_new(r->m, DL_WDF(r->d), &s), DL_OK);
  dl_machine_set_irql(r->m, DL_APC_LEVEL);
  assert_int_equal(dl_wdf_spinlock_acquire(s), DL_OK);
  assert_int_equal(dl_machine_irql(r->m), DL_DISPATCH_LEVEL);
  assert_int_equal(dl_wdf_spinlock_acquire(s), DL_ESTATE);
  expect_wdf(r->m, 0, DL_WDF_LOCK_HELD);
  assert_int_equal(dl_wdf_spinlock_release(s), DL_OK);
  assert_int_equal(dl_machine_irql(r->m), DL_APC_LEVEL);
  assert_int_equal(dl_wdf_spinlock_release(s), DL_ESTATE);
  expect_wdf(r->m, 1, DL_WDF_INVALID_LOCK_OPERATION);
  assert_int_equal(dl_machine_irql(r->m), DL_APC_LEVEL);
}

static void test_waitlock_and_object_lock(void **state) {
  rig *r = *state;
  dl_wdf_waitlock *w;
  assert_int_equal(dl_wdf_waitlock_new(r->m, NULL, &w), DL_OK);
  uint32_t st;
  int64_t zero = 0;
  assert_int_equal(dl_wdf_waitlock_acquire(w, NULL, &st), DL_OK);
  assert_int_equal(st, 0);
  assert_int_equal(dl_machine_irql(r->m), DL_PASSIVE_LEVEL);  /* a wait lock does not raise */
  assert_int_equal(dl_wdf_waitlock_acquire(w, &zero, &st), DL_OK);
  assert_int_equal(st, DL_STATUS_TIMEOUT);
  assert_int_equal(dl_verifier_count(r->m), 0);
  assert_int_equal(dl_wdf_waitlock_acquire(w, NULL, &st), DL_ESTATE);
  expect_wdf(r->m, 0, DL_WDF_LOCK_HELD);
  assert_int_equal(dl_wdf_waitlock_release(w), DL_OK);
  /* the device's lock */
  assert_int_equal(dl_wdf_object_acquire_lock(DL_WDF(r->d)), DL_OK);
  assert_true(dl_wdf_object_lock_held(DL_WDF(r->d)));
  assert_int_equal(dl_machine_irql(r->m), DL_DISPATCH_LEVEL);
  assert_int_equal(dl_wdf_object_release_lock(DL_WDF(r->d)), DL_OK);
  assert_int_equal(dl_machine_irql(r->m), DL_PASSIVE_LEVEL);
  assert_int_equal(dl_wdf_object_release_lock(DL_WDF(r->d)), DL_ESTATE);
  expect_wdf(r->m, 1, DL_WDF_INVALID_LOCK_OPERATION);
  assert_int_equal(dl_wdf_object_acquire_lock(DL_WDF(w)), DL_ESTATE);  /* no lock */
  expect_wdf(r->m, 2, DL_WDF_INVALID_LOCK_OPERATION);
}

static void note(void *ctx, dl_wdf_object *o) {
  rig *r = ctx;
  r->calls++;
  r->irql = dl_machine_irql(o->m);
  r->at = dl_clock_now(dl_machine_clock(o->m));
}

static void test_dpc_and_timer(void **state) {
  rig *r = *state;
  dl_wdf_dpc *d;
  assert_int_equal(dl_wdf_dpc_new(r->m, NULL, note, r, &d), DL_EINVAL);  /* needs a parent */
  assert_int_equal(dl_wdf_dpc_new(r->m, DL_WDF(r->d), note, r, &d), DL_OK);
  assert_int_equal(dl_wdf_dpc_enqueue(d), 1);
  assert_int_equal(dl_wdf_dpc_enqueue(d), 0);
  dl_clock_run(dl_machine_clock(r->m));
  assert_int_equal(r->calls, 1);
  assert_int_equal(r->irql, DL_DISPATCH_LEVEL);
  dl_wdf_dpc_enqueue(d);
  assert_int_equal(dl_wdf_dpc_cancel(d, 1), 1);
  dl_wdf_timer *t;
  assert_int_equal(dl_wdf_timer_new(r->m, DL_WDF(r->d), 2, note, r, &t), DL_OK);  /* 2 ms period */
  uint64_t t0 = dl_clock_now(dl_machine_clock(r->m));
  assert_int_equal(dl_wdf_timer_start(t, -10000), 0);  /* first in 1 ms */
  dl_clock_run_until(dl_machine_clock(r->m), t0 + 5500000);
  assert_int_equal(r->calls, 1 + 3);  /* at 1, 3 and 5 ms */
  assert_int_equal(dl_wdf_timer_stop(t, 0), 1);
  dl_clock_run(dl_machine_clock(r->m));
  assert_int_equal(r->calls, 4);
  dl_wdf_timer_start(t, -10000);
  assert_int_equal(dl_wdf_object_delete(DL_WDF(t)), DL_OK);  /* goes with what is pending */
  dl_clock_run(dl_machine_clock(r->m));
  assert_int_equal(r->calls, 4);
  assert_int_equal(dl_verifier_count(r->m), 0);
}

static void test_workitem(void **state) {
  rig *r = *state;
  dl_wdf_workitem *w;
  assert_int_equal(dl_wdf_workitem_new(r->m, DL_WDF(r->d), note, r, &w), DL_OK);
  dl_machine_set_irql(r->m, DL_DISPATCH_LEVEL);
  dl_wdf_workitem_enqueue(w);
  dl_wdf_workitem_enqueue(w);
  dl_machine_set_irql(r->m, DL_PASSIVE_LEVEL);
  assert_int_equal(dl_wdf_workitem_flush(w), DL_OK);
  assert_int_equal(r->calls, 1);
  assert_int_equal(r->irql, DL_PASSIVE_LEVEL);
  assert_int_equal(r->at, DL_WORKER_LATENCY);
  dl_machine_set_irql(r->m, DL_DISPATCH_LEVEL);
  dl_wdf_workitem_flush(w);  /* must be PASSIVE_LEVEL */
  assert_int_equal(dl_verifier_count(r->m), 1);
  dl_machine_set_irql(r->m, DL_PASSIVE_LEVEL);
}

static void test_memory(void **state) {
  rig *r = *state;
  dl_wdf_memory *mem, *pre;
  assert_int_equal(dl_wdf_memory_new(r->m, NULL, 0, 0x6d656d31, 0, &mem), DL_EINVAL);
  assert_int_equal(dl_wdf_memory_new(r->m, NULL, 0, 0x6d656d31, 64, &mem), DL_OK);
  uint64_t size, va = dl_wdf_memory_buffer(mem, &size);
  assert_int_equal(size, 64);
  assert_non_null(dl_pool_at(r->m, va));
  assert_int_equal(dl_pool_live(r->m), 1);
  uint64_t other;
  assert_int_equal(dl_pool_alloc(r->m, 0, 16, 1, 1, &other, NULL), DL_OK);
  assert_int_equal(dl_wdf_memory_new_preallocated(r->m, NULL, other, 17, &pre), DL_ENOTMAPPED);
  assert_int_equal(dl_wdf_memory_new_preallocated(r->m, NULL, other, 16, &pre), DL_OK);
  assert_int_equal(dl_machine_write_va(r->m, other, "0123456789abcdef", 16), DL_OK);
  assert_int_equal(dl_wdf_memory_copy_from(mem, 60, other, 8), DL_ERANGE);
  assert_int_equal(dl_wdf_memory_copy_from(mem, 56, other, 8), DL_OK);
  char got[8];
  dl_machine_read_va(r->m, va + 56, got, 8);
  assert_memory_equal(got, "01234567", 8);
  assert_int_equal(dl_wdf_memory_copy_to(mem, 56, other + 8, 8), DL_OK);
  char all[16];
  dl_machine_read_va(r->m, other, all, 16);
  assert_memory_equal(all, "0123456701234567", 16);
  assert_int_equal(dl_wdf_memory_copy_to(mem, 0, 0x1234, 8), DL_ENOTMAPPED);
  assert_int_equal(dl_wdf_object_delete(DL_WDF(pre)), DL_OK);
  assert_non_null(dl_pool_at(r->m, other));  /* preallocated: the driver's buffer stays */
  assert_int_equal(dl_wdf_object_delete(DL_WDF(mem)), DL_OK);
  assert_null(dl_pool_at(r->m, va));
  assert_int_equal(dl_pool_free(r->m, other, 0, 0), DL_OK);
  assert_int_equal(dl_pool_live(r->m), 0);
  /* lookaside */
  dl_wdf_lookaside *la;
  assert_int_equal(dl_wdf_lookaside_new(r->m, DL_WDF(r->d), 32, 0, 2, &la), DL_OK);
  dl_wdf_memory *a, *b;
  assert_int_equal(dl_wdf_memory_from_lookaside(la, &a), DL_OK);
  assert_int_equal(dl_wdf_memory_from_lookaside(la, &b), DL_OK);
  assert_int_equal(b->size, 32);
  assert_ptr_equal(dl_wdf_object_parent(DL_WDF(a)), DL_WDF(la));
  assert_int_equal(dl_pool_live(r->m), 2);
  assert_int_equal(dl_wdf_object_delete(DL_WDF(la)), DL_OK);
  assert_int_equal(dl_pool_live(r->m), 0);
  assert_int_equal(dl_verifier_count(r->m), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    T(test_spinlock),
    T(test_waitlock_and_object_lock),
    T(test_dpc_and_timer),
    T(test_workitem),
    T(test_memory),
#undef T
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
