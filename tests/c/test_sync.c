/*
** test_sync.c: spin locks, events and waits, work items and the pool
** (core/kernel/dl_spinlock.c, dl_event.c, dl_workitem.c, dl_pool.c) without
** Lua: KeAcquireSpinLock raises to DISPATCH_LEVEL and KeReleaseSpinLock
** restores, the 0xC4 reports (0x42, 0x32, 0x40, 0x41, 0x4000B); events'
** notification and synchronization kinds, a wait at PASSIVE_LEVEL running
** the clock until a timer's DPC signals the event or the timeout passes, a
** blocking wait at DISPATCH_LEVEL reported 0xA; KeStallExecutionProcessor
** running the clock through its time (a device event in the spin runs, an
** ISR above the spin's IRQL preempts it, a DPC for a CPU spinning at
** DISPATCH_LEVEL waits until the spin is over, an ISR at or below the
** spin's IRQL too); a work item running at
** PASSIVE_LEVEL after the worker latency, queued once, flushed; pool tags,
** zeroing, bad, double and wrongly tagged frees, IRQL rules and leaks.
*/
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "rig.h"
#include "base/dl_ntstatus.h"
#include "base/dl_status.h"
#include "kernel/dl_cpu.h"
#include "kernel/dl_event.h"
#include "kernel/dl_interrupt.h"
#include "kernel/dl_pool.h"
#include "kernel/dl_spinlock.h"
#include "kernel/dl_workitem.h"
#include "machine/dl_machine.h"
#include "machine/dl_verifier.h"

/* The last report, checked to be new since `before` with this bug check and P1. */
static void expect(dl_machine *m, uint64_t before, uint32_t bugcheck, uint32_t p1) {
  assert_int_equal(dl_verifier_count(m), before + 1);
  const dl_report *r = dl_verifier_at(m, (size_t)before);
  assert_non_null(r);
  assert_int_equal(r->bugcheck, bugcheck);
  assert_int_equal(r->p1, p1);
}

static void test_spinlock_raises_and_restores(void **state) {
  dl_machine *m = *state;
  dl_spinlock *s;
  assert_int_equal(dl_spinlock_new(m, &s), DL_OK);
  uint8_t old = 99;
  assert_int_equal(dl_spinlock_acquire(s, &old), DL_OK);
  assert_int_equal(old, DL_PASSIVE_LEVEL);
  assert_int_equal(dl_machine_irql(m), DL_DISPATCH_LEVEL);
  assert_true(dl_spinlock_held(s));
  assert_int_equal(dl_spinlock_release(s, old), DL_OK);
  assert_int_equal(dl_machine_irql(m), DL_PASSIVE_LEVEL);
  assert_false(dl_spinlock_held(s));
  /* at DISPATCH_LEVEL: the AtDpcLevel forms leave the IRQL */
  dl_machine_set_irql(m, DL_DISPATCH_LEVEL);
  assert_int_equal(dl_spinlock_acquire_at_dpc(s), DL_OK);
  assert_int_equal(dl_spinlock_release_from_dpc(s), DL_OK);
  assert_int_equal(dl_machine_irql(m), DL_DISPATCH_LEVEL);
  assert_int_equal(dl_verifier_count(m), 0);
}

static void test_spinlock_misuse_reports(void **state) {
  dl_machine *m = *state;
  dl_spinlock *s;
  assert_int_equal(dl_spinlock_new(m, &s), DL_OK);
  uint8_t old;
  uint64_t n = dl_verifier_count(m);
  assert_int_equal(dl_spinlock_release(s, DL_PASSIVE_LEVEL), DL_ESTATE);  /* never acquired */
  expect(m, n++, DL_BUGCHECK_DETECTED_VIOLATION, DL_C4_SPINLOCK_ALTERNATION);
  assert_int_equal(dl_machine_irql(m), DL_PASSIVE_LEVEL);
  assert_int_equal(dl_spinlock_acquire(s, &old), DL_OK);
  assert_int_equal(dl_spinlock_acquire(s, &old), DL_ESTATE);  /* recursive */
  expect(m, n++, DL_BUGCHECK_DETECTED_VIOLATION, DL_C4_SPINLOCK_ALTERNATION);
  assert_int_equal(old, DL_DISPATCH_LEVEL);
  dl_machine_set_irql(m, DL_APC_LEVEL);  /* the driver lowered while holding it */
  assert_int_equal(dl_spinlock_release(s, DL_PASSIVE_LEVEL), DL_OK);
  expect(m, n++, DL_BUGCHECK_DETECTED_VIOLATION, DL_C4_RELEASE_IRQL);
  assert_false(dl_spinlock_held(s));
  dl_machine_set_irql(m, DL_HIGH_LEVEL);
  assert_int_equal(dl_spinlock_acquire(s, &old), DL_OK);
  expect(m, n++, DL_BUGCHECK_DETECTED_VIOLATION, DL_C4_ACQUIRE_IRQL);
  assert_int_equal(dl_machine_irql(m), DL_HIGH_LEVEL);  /* never lowered by an acquire */
  dl_machine_set_irql(m, DL_DISPATCH_LEVEL);
  dl_spinlock_release(s, DL_DISPATCH_LEVEL);
  dl_machine_set_irql(m, DL_PASSIVE_LEVEL);
  dl_spinlock_acquire_at_dpc(s);
  expect(m, n++, DL_BUGCHECK_DETECTED_VIOLATION, DL_C4_ACQUIRE_DPC_IRQL);
  dl_spinlock_release_from_dpc(s);
  expect(m, n++, DL_BUGCHECK_DETECTED_VIOLATION, DL_C4_RELEASE_DPC_IRQL);
}

static void test_event_kinds(void **state) {
  dl_machine *m = *state;
  dl_kevent *ne, *se;
  assert_int_equal(dl_kevent_new(m, 7, 0, &ne), DL_EINVAL);
  assert_int_equal(dl_kevent_new(m, DL_NOTIFICATION_EVENT, 0, &ne), DL_OK);
  assert_int_equal(dl_kevent_new(m, DL_SYNCHRONIZATION_EVENT, 1, &se), DL_OK);
  assert_int_equal(dl_kevent_set(ne), 0);
  assert_int_equal(dl_kevent_set(ne), 1);
  uint32_t st;
  int64_t zero = 0;
  assert_int_equal(dl_kevent_wait(ne, &zero, &st), DL_OK);
  assert_int_equal(st, 0);
  assert_true(dl_kevent_state(ne));  /* a notification event stays signalled */
  assert_int_equal(dl_kevent_wait(se, &zero, &st), DL_OK);
  assert_int_equal(st, 0);
  assert_false(dl_kevent_state(se));  /* a synchronization event satisfies one wait */
  assert_int_equal(dl_kevent_wait(se, &zero, &st), DL_OK);
  assert_int_equal(st, DL_STATUS_TIMEOUT);
  assert_int_equal(dl_kevent_reset(ne), 1);
  assert_false(dl_kevent_state(ne));
  assert_int_equal(dl_verifier_count(m), 0);
}

static void signal_dpc(void *ctx, dl_dpc *dpc, uint64_t a, uint64_t b) {
  (void)dpc, (void)a, (void)b;
  dl_kevent_set(ctx);
}

static void test_wait_runs_the_clock(void **state) {
  dl_machine *m = *state;
  dl_kevent *e;
  dl_dpc *dpc;
  dl_timer *t;
  assert_int_equal(dl_kevent_new(m, DL_NOTIFICATION_EVENT, 0, &e), DL_OK);
  assert_int_equal(dl_dpc_new(m, signal_dpc, e, &dpc), DL_OK);
  assert_int_equal(dl_timer_new(m, &t), DL_OK);
  dl_timer_set_due(t, -10000, 0, dpc);  /* 1 ms */
  uint32_t st;
  int64_t timeout = -1000;  /* 100 us: times out first */
  assert_int_equal(dl_kevent_wait(e, &timeout, &st), DL_OK);
  assert_int_equal(st, DL_STATUS_TIMEOUT);
  assert_int_equal(dl_clock_now(dl_machine_clock(m)), 100000);
  assert_int_equal(dl_kevent_wait(e, NULL, &st), DL_OK);  /* for ever: the DPC signals it */
  assert_int_equal(st, 0);
  uint64_t now = dl_clock_now(dl_machine_clock(m));
  assert_true(now >= 1000000 && now < 1100000);  /* 1 ms plus the DPC latency */
  dl_kevent_reset(e);
  assert_int_equal(dl_kevent_wait(e, NULL, &st), DL_ESTATE);  /* nothing can signal it */
  assert_int_equal(dl_verifier_count(m), 0);
}

static void test_blocking_wait_at_dispatch_is_reported(void **state) {
  dl_machine *m = *state;
  dl_kevent *e;
  assert_int_equal(dl_kevent_new(m, DL_NOTIFICATION_EVENT, 0, &e), DL_OK);
  dl_machine_set_irql(m, DL_DISPATCH_LEVEL);
  uint32_t st;
  int64_t timeout = -1000, zero = 0;
  assert_int_equal(dl_kevent_wait(e, &zero, &st), DL_OK);  /* a poll is fine */
  assert_int_equal(dl_verifier_count(m), 0);
  assert_int_equal(dl_kevent_wait(e, &timeout, &st), DL_OK);
  expect(m, 0, DL_BUGCHECK_IRQL_NOT_LESS_OR_EQUAL, 0);
  assert_int_equal(dl_verifier_at(m, 0)->p2, DL_DISPATCH_LEVEL);  /* 0xA's P2: the IRQL */
  assert_int_equal(st, DL_STATUS_TIMEOUT);
  assert_int_equal(dl_clock_now(dl_machine_clock(m)), 0);  /* polled, no time ran */
  dl_machine_set_irql(m, DL_HIGH_LEVEL);
  dl_kevent_set(e);
  expect(m, 1, DL_BUGCHECK_DETECTED_VIOLATION, DL_C4_SET_EVENT_IRQL);
}

typedef struct stall_log {
  dl_machine *m;
  dl_dpc *dpc;
  uint64_t device_at, isr_at, dpc_at;
  uint8_t isr_irql;
} stall_log;

static void device_event(void *arg, uint64_t data) {
  stall_log *log = arg;
  log->device_at = dl_clock_now(dl_machine_clock(log->m));
  dl_line_set(log->m, (uint32_t)data, 1, 0);
}

static int stall_isr(void *ctx, dl_interrupt *intr) {
  stall_log *log = ctx;
  log->isr_at = dl_clock_now(dl_machine_clock(log->m));
  log->isr_irql = dl_machine_irql(log->m);
  dl_line_set(log->m, intr->vector, 0, 0);
  dl_dpc_insert(log->dpc, 0, 0);
  return 1;
}

static void stall_dpc(void *ctx, dl_dpc *dpc, uint64_t a, uint64_t b) {
  (void)dpc, (void)a, (void)b;
  stall_log *log = ctx;
  log->dpc_at = dl_clock_now(dl_machine_clock(log->m));
}

/* A stall of `us` at `irql` with the device raising its line after 2 us. */
static void stall_at(dl_machine *m, stall_log *log, dl_interrupt *intr, uint8_t irql, uint32_t us) {
  uint64_t t0 = dl_clock_now(dl_machine_clock(m));
  log->device_at = log->isr_at = log->dpc_at = 0;
  dl_clock_after(dl_machine_clock(m), 2000, device_event, log, intr->vector, NULL);
  dl_machine_set_irql(m, irql);
  assert_int_equal(dl_ke_stall(m, us), DL_OK);
  assert_int_equal(dl_clock_now(dl_machine_clock(m)), t0 + us * 1000);  /* the spin's time */
  assert_int_equal(dl_machine_irql(m), irql);
  dl_machine_set_irql(m, DL_PASSIVE_LEVEL);
  assert_int_equal(log->device_at, t0 + 2000);  /* the device progressed during the spin */
}

static void test_stall_runs_the_clock(void **state) {
  dl_machine *m = *state;
  stall_log log = { .m = m };
  dl_interrupt *intr;
  assert_int_equal(dl_dpc_new(m, stall_dpc, &log, &log.dpc), DL_OK);
  assert_int_equal(dl_interrupt_connect(m, 40, 7, 7, 0, 0, 1, stall_isr, &log, &intr), DL_OK);
  /* at PASSIVE_LEVEL: the ISR and then the DPC run inside the spin */
  stall_at(m, &log, intr, DL_PASSIVE_LEVEL, 100);
  assert_true(log.isr_at > log.device_at && log.dpc_at > log.isr_at);
  assert_int_equal(log.isr_irql, 7);
  /* at DISPATCH_LEVEL: the ISR preempts the spin, the DPC waits for its end */
  stall_at(m, &log, intr, DL_DISPATCH_LEVEL, 100);
  assert_true(log.isr_at > log.device_at && log.isr_at < log.device_at + 100000);
  assert_int_equal(log.dpc_at, 0);
  uint64_t end = dl_clock_now(dl_machine_clock(m));
  dl_clock_run(dl_machine_clock(m));
  assert_true(log.dpc_at >= end);
  /* at the interrupt's DIRQL: the ISR waits too */
  stall_at(m, &log, intr, 7, 100);
  assert_int_equal(log.isr_at, 0);
  end = dl_clock_now(dl_machine_clock(m));
  dl_clock_run(dl_machine_clock(m));
  assert_true(log.isr_at >= end && log.dpc_at > log.isr_at);
  assert_int_equal(dl_ke_stall(m, 0), DL_OK);  /* zero: no time */
  assert_int_equal(dl_clock_now(dl_machine_clock(m)) >= end, 1);
  dl_interrupt_disconnect(intr);
  assert_int_equal(dl_verifier_count(m), 0);
}

typedef struct work_log { int runs; uint8_t irql; uint64_t at; } work_log;

static void work(void *ctx, dl_workitem *w) {
  work_log *log = ctx;
  log->runs++;
  log->irql = dl_machine_irql(w->m);
  log->at = dl_clock_now(dl_machine_clock(w->m));
}

static void test_workitem_runs_at_passive(void **state) {
  dl_machine *m = *state;
  work_log log = {0};
  dl_workitem *w;
  assert_int_equal(dl_workitem_new(m, work, &log, &w), DL_OK);
  dl_machine_set_irql(m, DL_DISPATCH_LEVEL);  /* queued from a DPC */
  assert_int_equal(dl_workitem_queue(w), 1);
  assert_int_equal(dl_workitem_queue(w), 0);
  dl_machine_set_irql(m, DL_PASSIVE_LEVEL);
  dl_clock_run(dl_machine_clock(m));
  assert_int_equal(log.runs, 1);
  assert_int_equal(log.irql, DL_PASSIVE_LEVEL);
  assert_int_equal(log.at, DL_WORKER_LATENCY);
  assert_int_equal(dl_workitem_queue(w), 1);
  assert_int_equal(dl_workitem_flush(w), DL_OK);
  assert_int_equal(log.runs, 2);
  assert_int_equal(log.at, 2 * DL_WORKER_LATENCY);
  assert_int_equal(dl_workitem_flush(w), DL_OK);  /* idle: nothing to wait for */
  dl_workitem_queue(w);
  dl_workitem_free(w);  /* a queued item freed: its run is dropped */
  dl_clock_run(dl_machine_clock(m));
  assert_int_equal(log.runs, 2);
}

static void test_pool_rules(void **state) {
  dl_machine *m = *state;
  uint64_t va, vb;
  dl_pool *p;
  uint32_t tag = 'g' << 24 | 'a' << 16 | 'T' << 8 | 'x';
  assert_int_equal(dl_pool_alloc(m, 0, 100, tag, 1, &va, &p), DL_OK);
  assert_true(va != 0);
  assert_ptr_equal(dl_pool_at(m, va), p);
  char b[5];
  assert_string_equal(dl_pool_tag_text(tag, b), "xTag");
  unsigned char bytes[100];
  assert_int_equal(dl_machine_read_va(m, va, bytes, sizeof bytes), DL_OK);
  for (size_t i = 0; i < sizeof bytes; i++) assert_int_equal(bytes[i], 0);
  assert_int_equal(dl_pool_live(m), 1);
  uint64_t n = dl_verifier_count(m);
  assert_int_equal(dl_pool_free(m, va + 8, 0, 0), DL_EINVAL);
  expect(m, n++, DL_BUGCHECK_DETECTED_VIOLATION, DL_C4_BAD_FREE);
  assert_int_equal(dl_pool_free(m, va, 1, tag + 1), DL_EINVAL);
  expect(m, n++, DL_BUGCHECK_BAD_POOL_CALLER, DL_C2_BAD_TAG);
  assert_int_equal(dl_pool_free(m, va, 1, tag), DL_OK);
  assert_int_equal(dl_pool_live(m), 0);
  assert_int_equal(dl_pool_free(m, va, 0, 0), DL_EINVAL);
  expect(m, n++, DL_BUGCHECK_DETECTED_VIOLATION, DL_C4_DOUBLE_FREE);
  assert_int_equal(dl_pool_alloc(m, 0, 0, tag, 0, &vb, NULL), DL_EINVAL);
  expect(m, n++, DL_BUGCHECK_DETECTED_VIOLATION, DL_C4_ZERO_ALLOC);
  assert_int_equal(vb, 0);
  dl_machine_set_irql(m, DL_DISPATCH_LEVEL);
  assert_int_equal(dl_pool_alloc(m, 1, 64, tag, 0, &vb, NULL), DL_OK);
  expect(m, n++, DL_BUGCHECK_DETECTED_VIOLATION, DL_C4_PAGED_IRQL);
  assert_int_equal(dl_pool_free(m, vb, 0, 0), DL_OK);
  expect(m, n++, DL_BUGCHECK_DETECTED_VIOLATION, DL_C4_FREE_PAGED_IRQL);
  assert_int_equal(dl_pool_alloc(m, 0, 64, tag, 0, &vb, NULL), DL_OK);  /* nonpaged: fine */
  assert_int_equal(dl_verifier_count(m), n);
  dl_machine_set_irql(m, DL_PASSIVE_LEVEL);
  assert_int_equal(dl_pool_alloc(m, 0, 64, tag, 0, &va, NULL), DL_OK);
  assert_int_equal(dl_machine_check_leaks(m), 2);  /* two never freed */
  const dl_report *r = dl_verifier_at(m, (size_t)n);
  assert_int_equal(r->p1, DL_C4_POOL_LEAK);
  assert_int_equal(r->p4, 2);
  assert_true(r->leak);
}

int main(void) {
  const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, rig_machine_setup, rig_machine_teardown)
    T(test_spinlock_raises_and_restores),
    T(test_spinlock_misuse_reports),
    T(test_event_kinds),
    T(test_wait_runs_the_clock),
    T(test_blocking_wait_at_dispatch_is_reported),
    T(test_stall_runs_the_clock),
    T(test_workitem_runs_at_passive),
    T(test_pool_rules),
#undef T
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
