/*
** test_kernel.c: CPUs, IRQL, DPCs and timers (core/kernel/dl_cpu.c)
** without Lua, against reference section 3: KeInsertQueueDpc queues at most
** once and drops the second call's arguments, HighImportance goes to the
** head, the queued mark is cleared before the routine runs, each CPU drains
** its queue at DISPATCH_LEVEL a dispatch latency after it became non-empty,
** on the target CPU; KeSetTimerEx one-shot and periodic, KeCancelTimer, a
** reset returning TRUE, and the timer's DPC queued at expiry.
*/
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "rig.h"
#include "kernel/dl_cpu.h"
#include "machine/dl_machine.h"
#include "machine/dl_object.h"
#include "machine/dl_trace.h"
#include "machine/dl_verifier.h"
#include "base/dl_status.h"

static dl_machine *machine(uint32_t cpus) {
  dl_machine_config cfg;
  dl_machine_config_init(&cfg);
  cfg.cpus = cpus;
  dl_machine *m = NULL;
  assert_int_equal(dl_machine_new(&cfg, &m), DL_OK);
  return m;
}

/* What DPC routines saw, in the order they ran. */
typedef struct runs {
  int n;
  char name[16];
  uint64_t time[16], arg1[16], arg2[16];
  uint8_t irql[16];
  int cpu[16], queued[16];
  int requeue;              /* routines queue themselves again this many times */
  int requeued_ok;
} runs;

typedef struct dctx {
  runs *r;
  char name;
  dl_machine *m;
} dctx;

static void routine(void *ctx, dl_dpc *dpc, uint64_t a1, uint64_t a2) {
  dctx *c = ctx;
  runs *r = c->r;
  r->name[r->n] = c->name;
  r->time[r->n] = dl_clock_now(dl_machine_clock(c->m));
  r->arg1[r->n] = a1;
  r->arg2[r->n] = a2;
  r->irql[r->n] = dl_machine_irql(c->m);
  r->cpu[r->n] = dl_machine_current_cpu(c->m);
  r->queued[r->n] = dpc->queued;
  r->n++;
  if (r->requeue > 0) {
    r->requeue--;
    r->requeued_ok += dl_dpc_insert(dpc, a1 + 1, a2);
  }
}

static dl_dpc *dpc_new(dl_machine *m, dctx *c) {
  dl_dpc *d = NULL;
  assert_int_equal(dl_dpc_new(m, routine, c, &d), DL_OK);
  return d;
}

/* ---- CPUs and IRQL ---------------------------------------------------------- */

/* Every CPU starts at PASSIVE_LEVEL with an empty queue; the IRQL is per
** CPU: raising the current one leaves the others alone. */
static void test_cpus_start_passive_and_irql_is_per_cpu(void **state) {
  dl_machine *m = *state;
  for (int i = 0; i < 4; i++) {
    assert_int_equal(dl_machine_cpu(m, i)->irql, DL_PASSIVE_LEVEL);
    assert_true(dl_list_empty(&dl_machine_cpu(m, i)->dpcs));
  }
  assert_int_equal(dl_machine_current_cpu(m), 0);
  dl_machine_set_irql(m, DL_DISPATCH_LEVEL);
  dl_machine_set_current_cpu(m, 2);
  assert_int_equal(dl_machine_irql(m), DL_PASSIVE_LEVEL);
  dl_machine_set_irql(m, 12);
  dl_machine_set_current_cpu(m, 0);
  assert_int_equal(dl_machine_irql(m), DL_DISPATCH_LEVEL);
  assert_int_equal(dl_machine_cpu(m, 2)->irql, 12);
  dl_machine_set_irql(m, DL_PASSIVE_LEVEL);
  dl_machine_cpu(m, 2)->irql = DL_PASSIVE_LEVEL;
  dl_machine *bad = NULL;
  dl_machine_config cfg;
  dl_machine_config_init(&cfg);
  cfg.cpus = 0;
  assert_int_equal(dl_machine_new(&cfg, &bad), DL_EINVAL);
  cfg.cpus = DL_MAX_CPUS + 1;
  assert_int_equal(dl_machine_new(&cfg, &bad), DL_EINVAL);
  assert_null(bad);
}

/* ---- DPCs ------------------------------------------------------------------- */

/* Queued at most once: the second insert returns FALSE and its arguments
** are lost; the routine runs once, with the first call's arguments, at
** DISPATCH_LEVEL, dpc_latency (2000 ns) after the insert. */
static void test_dpc_queued_at_most_once(void **state) {
  dl_machine *m = *state;
  runs r = {0};
  dctx c = {&r, 'A', m};
  dl_dpc *d = dpc_new(m, &c);
  dl_clock_run_until(dl_machine_clock(m), 100);
  assert_int_equal(dl_dpc_insert(d, 1, 2), 1);
  assert_int_equal(dl_dpc_insert(d, 3, 4), 0);
  assert_true(d->queued);
  dl_clock_run(dl_machine_clock(m));
  assert_int_equal(r.n, 1);
  assert_int_equal(r.arg1[0], 1);
  assert_int_equal(r.arg2[0], 2);
  assert_int_equal(r.time[0], 2100);
  assert_int_equal(r.irql[0], DL_DISPATCH_LEVEL);
  assert_int_equal(dl_machine_irql(m), DL_PASSIVE_LEVEL);  /* restored after the drain */
  dl_trace *t = dl_machine_trace(m);
  const dl_trace_record *rec = dl_trace_at(t, dl_trace_count(t) - 1);
  assert_int_equal(rec->kind, DL_TR_DPC_RUN);
  assert_int_equal(rec->obj, d->id);
  assert_int_equal(rec->a, 2000);  /* latency */
  assert_int_equal(dl_trace_stats(t)->dpc_latency_max, 2000);
  /* once run it may be queued again */
  assert_int_equal(dl_dpc_insert(d, 5, 6), 1);
  dl_clock_run(dl_machine_clock(m));
  assert_int_equal(r.n, 2);
  assert_int_equal(r.arg1[1], 5);
}

/* HighImportance goes to the head of the queue, the others to the tail. */
static void test_high_importance_goes_to_the_head(void **state) {
  dl_machine *m = *state;
  runs r = {0};
  dctx ca = {&r, 'A', m}, cb = {&r, 'B', m}, cc = {&r, 'C', m}, cd = {&r, 'D', m};
  dl_dpc *a = dpc_new(m, &ca), *b = dpc_new(m, &cb), *c = dpc_new(m, &cc), *d = dpc_new(m, &cd);
  dl_dpc_set_importance(b, DL_LOW_IMPORTANCE);
  dl_dpc_set_importance(c, DL_HIGH_IMPORTANCE);
  dl_dpc_set_importance(d, DL_HIGH_IMPORTANCE);
  assert_int_equal(dl_dpc_insert(a, 0, 0), 1);
  assert_int_equal(dl_dpc_insert(b, 0, 0), 1);
  assert_int_equal(dl_dpc_insert(c, 0, 0), 1);
  assert_int_equal(dl_dpc_insert(d, 0, 0), 1);
  dl_clock_run(dl_machine_clock(m));
  assert_int_equal(r.n, 4);
  assert_memory_equal(r.name, "DCAB", 4);
}

/* The queued mark is cleared before the routine runs, so the routine may
** queue its own DPC again (and gets TRUE). */
static void test_queued_mark_cleared_before_routine(void **state) {
  dl_machine *m = *state;
  runs r = {.requeue = 1};
  dctx c = {&r, 'A', m};
  dl_dpc *d = dpc_new(m, &c);
  assert_int_equal(dl_dpc_insert(d, 10, 0), 1);
  dl_clock_run(dl_machine_clock(m));
  assert_int_equal(r.n, 2);
  assert_int_equal(r.queued[0], 0);
  assert_int_equal(r.requeued_ok, 1);
  assert_int_equal(r.arg1[1], 11);
  assert_false(d->queued);
}

/* The drain comes dpc_latency after the queue became non-empty: a DPC
** queued onto a non-empty queue runs in the same drain. */
static void test_drain_latency_counts_from_first_insert(void **state) {
  dl_machine *m = *state;
  runs r = {0};
  dctx ca = {&r, 'A', m}, cb = {&r, 'B', m};
  dl_dpc *a = dpc_new(m, &ca), *b = dpc_new(m, &cb);
  dl_clock *clk = dl_machine_clock(m);
  assert_int_equal(dl_dpc_insert(a, 0, 0), 1);
  dl_clock_run_until(clk, 1500);
  assert_int_equal(r.n, 0);
  assert_int_equal(dl_dpc_insert(b, 0, 0), 1);
  dl_clock_run(clk);
  assert_int_equal(r.n, 2);
  assert_int_equal(r.time[0], 2000);
  assert_int_equal(r.time[1], 2000);
  dl_trace *t = dl_machine_trace(m);
  assert_int_equal(dl_trace_stats(t)->dpc_latency_min, 500);
  assert_int_equal(dl_trace_stats(t)->dpc_latency_max, 2000);
}

/* KeRemoveQueueDpc: TRUE if it was queued; the routine never runs and the
** emptied queue's drain is abandoned. */
static void test_remove_queue_dpc(void **state) {
  dl_machine *m = *state;
  runs r = {0};
  dctx c = {&r, 'A', m};
  dl_dpc *d = dpc_new(m, &c);
  assert_int_equal(dl_dpc_remove(d), 0);
  assert_int_equal(dl_dpc_insert(d, 0, 0), 1);
  assert_int_equal(dl_clock_pending(dl_machine_clock(m)), 1);
  assert_int_equal(dl_dpc_remove(d), 1);
  assert_false(d->queued);
  assert_int_equal(dl_clock_pending(dl_machine_clock(m)), 0);
  dl_clock_run(dl_machine_clock(m));
  assert_int_equal(r.n, 0);
  /* a later insert waits a whole latency again */
  dl_clock_run_until(dl_machine_clock(m), 700);
  assert_int_equal(dl_dpc_insert(d, 0, 0), 1);
  dl_clock_run(dl_machine_clock(m));
  assert_int_equal(r.time[0], 2700);
}

/* A DPC runs on its target CPU (the queuing CPU by default), at
** DISPATCH_LEVEL there; the other CPUs' IRQL is untouched. */
static void test_target_cpu(void **state) {
  dl_machine *m = *state;
  runs r = {0};
  dctx ca = {&r, 'A', m}, cb = {&r, 'B', m};
  dl_dpc *a = dpc_new(m, &ca), *b = dpc_new(m, &cb);
  assert_int_equal(dl_dpc_set_target(a, 4), DL_EINVAL);
  assert_int_equal(dl_dpc_set_target(a, -2), DL_EINVAL);
  assert_int_equal(dl_dpc_set_target(a, 2), DL_OK);
  assert_int_equal(dl_dpc_insert(a, 0, 0), 1);
  assert_false(dl_list_empty(&dl_machine_cpu(m, 2)->dpcs));
  assert_true(dl_list_empty(&dl_machine_cpu(m, 0)->dpcs));
  dl_machine_set_current_cpu(m, 3);
  assert_int_equal(dl_dpc_insert(b, 0, 0), 1);  /* target -1: CPU 3 */
  dl_machine_set_current_cpu(m, 0);
  dl_clock_run(dl_machine_clock(m));
  assert_int_equal(r.n, 2);
  assert_int_equal(r.cpu[0], 2);
  assert_int_equal(r.cpu[1], 3);
  assert_int_equal(r.irql[0], DL_DISPATCH_LEVEL);
  assert_int_equal(dl_machine_current_cpu(m), 0);
  for (int i = 0; i < 4; i++) assert_int_equal(dl_machine_cpu(m, i)->irql, DL_PASSIVE_LEVEL);
  dl_trace *t = dl_machine_trace(m);
  int queued = 0;
  for (size_t i = 0; i < dl_trace_count(t); i++)
    if (dl_trace_at(t, i)->kind == DL_TR_DPC_QUEUED) queued += (int)dl_trace_at(t, i)->a;
  assert_int_equal(queued, 2 + 3);  /* the record names the CPU */
}

/* Freeing a queued DPC takes it off its queue; it never runs. */
static void test_free_queued_dpc(void **state) {
  dl_machine *m = *state;
  runs r = {0};
  dctx ca = {&r, 'A', m}, cb = {&r, 'B', m};
  dl_dpc *a = dpc_new(m, &ca), *b = dpc_new(m, &cb);
  assert_int_equal(dl_dpc_insert(a, 0, 0), 1);
  assert_int_equal(dl_dpc_insert(b, 0, 0), 1);
  dl_dpc_free(a);
  dl_dpc_free(NULL);
  dl_clock_run(dl_machine_clock(m));
  assert_int_equal(r.n, 1);
  assert_int_equal(r.name[0], 'B');
}

/* ---- timers ----------------------------------------------------------------- */

static dl_timer *timer_new(dl_machine *m) {
  dl_timer *t = NULL;
  assert_int_equal(dl_timer_new(m, &t), DL_OK);
  return t;
}

/* A one-shot timer is signalled at its due time and queues its DPC then;
** the DPC runs a dispatch latency later; the timer is no longer set. */
static void test_one_shot_timer_queues_dpc_at_expiry(void **state) {
  dl_machine *m = *state;
  runs r = {0};
  dctx c = {&r, 'T', m};
  dl_dpc *d = dpc_new(m, &c);
  dl_timer *t = timer_new(m);
  assert_int_equal(dl_timer_set(t, 5000, 0, d), 0);
  assert_true(t->set);
  dl_clock_run_until(dl_machine_clock(m), 4999);
  assert_false(t->signaled);
  dl_clock_run_until(dl_machine_clock(m), 5000);
  assert_true(t->signaled);
  assert_false(t->set);
  assert_true(d->queued);
  dl_clock_run(dl_machine_clock(m));
  assert_int_equal(r.n, 1);
  assert_int_equal(r.time[0], 7000);
  assert_int_equal(dl_timer_cancel(t), 0);
}

/* A periodic timer expires at due, due + period, ...; KeCancelTimer stops it. */
static void test_periodic_timer_and_cancel(void **state) {
  dl_machine *m = *state;
  runs r = {0};
  dctx c = {&r, 'P', m};
  dl_dpc *d = dpc_new(m, &c);
  dl_timer *t = timer_new(m);
  assert_int_equal(dl_timer_set(t, 1000, 3000, d), 0);
  dl_clock_run_until(dl_machine_clock(m), 10000);  /* expiries 1000, 4000, 7000, 10000 */
  assert_int_equal(r.n, 3);                         /* DPCs at 3000, 6000, 9000 */
  assert_int_equal(r.time[0], 3000);
  assert_int_equal(r.time[1], 6000);
  assert_int_equal(r.time[2], 9000);
  assert_true(t->set);
  assert_int_equal(dl_timer_cancel(t), 1);
  assert_int_equal(dl_timer_cancel(t), 0);
  dl_clock_run(dl_machine_clock(m));  /* the DPC queued at 10000 still runs */
  assert_int_equal(r.n, 4);
  assert_int_equal(r.time[3], 12000);
  dl_clock_run_until(dl_machine_clock(m), 50000);
  assert_int_equal(r.n, 4);
}

/* Setting a timer that is set resets it (KeSetTimer returns TRUE): only
** the new due time fires. A cancelled timer's DPC is never queued. */
static void test_reset_returns_true_and_replaces_due(void **state) {
  dl_machine *m = *state;
  runs r = {0};
  dctx c = {&r, 'R', m};
  dl_dpc *d = dpc_new(m, &c);
  dl_timer *t = timer_new(m);
  assert_int_equal(dl_timer_set(t, 1000, 0, d), 0);
  assert_int_equal(dl_timer_set(t, 4000, 0, d), 1);
  dl_clock_run(dl_machine_clock(m));
  assert_int_equal(r.n, 1);
  assert_int_equal(r.time[0], 6000);
  assert_int_equal(dl_timer_set(t, 9000, 0, d), 0);  /* expired: no longer set */
  assert_int_equal(dl_timer_cancel(t), 1);
  dl_clock_run(dl_machine_clock(m));
  assert_int_equal(r.n, 1);
}

/* A due time already past expires at once; a timer without a DPC is only
** signalled. */
static void test_past_due_and_timer_without_dpc(void **state) {
  dl_machine *m = *state;
  dl_clock_run_until(dl_machine_clock(m), 5000);
  dl_timer *t = timer_new(m);
  assert_int_equal(dl_timer_set(t, 10, 0, NULL), 0);
  assert_int_equal(t->due, 5000);
  dl_clock_run(dl_machine_clock(m));
  assert_true(t->signaled);
  assert_int_equal(dl_clock_now(dl_machine_clock(m)), 5000);
  dl_timer_free(NULL);
}

/* A periodic timer faster than the dispatch latency: its DPC is queued at
** most once, so expiries while it is queued are lost (no one-to-one
** mapping of expiries to DPC runs). */
static void test_fast_timer_coalesces_into_queued_dpc(void **state) {
  dl_machine *m = *state;
  runs r = {0};
  dctx c = {&r, 'F', m};
  dl_dpc *d = dpc_new(m, &c);
  dl_timer *t = timer_new(m);
  assert_int_equal(dl_timer_set(t, 500, 500, d), 0);
  dl_clock_run_until(dl_machine_clock(m), 4900);  /* 9 expiries: 500 .. 4500 */
  assert_int_equal(dl_timer_cancel(t), 1);
  dl_clock_run(dl_machine_clock(m));
  /* queued at 500, runs at 2500 (the expiries at 1000-2000 are lost);
  ** the expiry at 2500 comes after that drain (scheduled earlier) and
  ** queues it again: runs at 4500, and likewise at 6500. */
  assert_int_equal(r.n, 3);
  assert_int_equal(r.time[0], 2500);
  assert_int_equal(r.time[1], 4500);
  assert_int_equal(r.time[2], 6500);
}

/* Freeing a set timer cancels it; the machine frees what is left. */
static void test_free_set_timer(void **state) {
  (void)state;
  dl_machine *m = machine(1);
  runs r = {0};
  dctx c = {&r, 'X', m};
  dl_dpc *d = dpc_new(m, &c);
  dl_timer *t = timer_new(m);
  assert_int_equal(dl_timer_set(t, 1000, 100, d), 0);
  dl_timer_free(t);
  dl_clock_run(dl_machine_clock(m));
  assert_int_equal(r.n, 0);
  dl_timer *left = timer_new(m);
  assert_int_equal(dl_timer_set(left, 1000, 100, d), 0);
  assert_int_equal(dl_dpc_insert(d, 0, 0), 1);
  dl_machine_free(m);  /* set timer and queued DPC: no leak, nothing runs */
  assert_int_equal(r.n, 0);
}

/* The end-of-run leak check finds a timer still set: bug check 0xC7
** (TIMER_OR_DPC_INVALID) with P1 0 and the timer in P2, marked as a leak; a
** timer that expired or was cancelled is no leak. */
static void test_timer_still_set_is_a_leak(void **state) {
  dl_machine *m = *state;
  dl_timer *set = timer_new(m), *cancelled = timer_new(m), *expired = timer_new(m);
  dl_timer_set(set, 100000, 0, NULL);
  dl_timer_set(cancelled, 100000, 0, NULL);
  dl_timer_cancel(cancelled);
  dl_timer_set(expired, 10, 0, NULL);
  dl_clock_run_until(dl_machine_clock(m), 20);
  uint64_t before = dl_verifier_count(m);
  assert_int_equal(dl_machine_check_leaks(m), 1);
  const dl_report *r = dl_verifier_at(m, (size_t)before);
  assert_non_null(r);
  assert_int_equal(r->bugcheck, 0xC7);
  assert_int_equal(r->p1, 0);
  assert_int_equal(r->p2, set->id);
  assert_true(r->leak);
  assert_int_equal(dl_verifier_count(m), before + 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, rig_machine4_setup, rig_machine_teardown)
    T(test_cpus_start_passive_and_irql_is_per_cpu),
    T(test_dpc_queued_at_most_once),
    T(test_high_importance_goes_to_the_head),
    T(test_queued_mark_cleared_before_routine),
    T(test_drain_latency_counts_from_first_insert),
    T(test_remove_queue_dpc),
    T(test_target_cpu),
    T(test_free_queued_dpc),
    T(test_one_shot_timer_queues_dpc_at_expiry),
    T(test_periodic_timer_and_cancel),
    T(test_reset_returns_true_and_replaces_due),
    T(test_past_due_and_timer_without_dpc),
    T(test_fast_timer_coalesces_into_queued_dpc),
    cmocka_unit_test(test_free_set_timer),
    T(test_timer_still_set_is_a_leak),
#undef T
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
