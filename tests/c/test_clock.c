/*
** test_clock.c: the event queue of core/machine/dl_clock.c: time order, deterministic
** ties, cancellation, run_until, handlers that schedule or stop, counters, and
** a 100000-event stress run with cancels mixed in.
*/
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "machine/dl_clock.h"
#include "base/dl_rng.h"
#include "base/dl_status.h"

/* ---- a recorder: every handler run appends (now, data) ------------------- */

#define LOG_MAX 64

typedef struct recorder {
  dl_clock *c;
  size_t n;
  uint64_t when[LOG_MAX];
  uint64_t data[LOG_MAX];
  uint64_t stop_on;        /* data value whose handler calls dl_clock_stop */
  int stop_armed;
} recorder;

static void record(void *arg, uint64_t data) {
  recorder *r = arg;
  assert_true(r->n < LOG_MAX);
  r->when[r->n] = dl_clock_now(r->c);
  r->data[r->n] = data;
  r->n++;
  if (r->stop_armed && data == r->stop_on) dl_clock_stop(r->c);
}

static int setup(void **state) {
  recorder *r = calloc(1, sizeof *r);
  if (!r) return -1;
  r->c = dl_clock_new();
  if (!r->c) { free(r); return -1; }
  *state = r;
  return 0;
}

static int teardown(void **state) {
  recorder *r = *state;
  dl_clock_free(r->c);
  free(r);
  return 0;
}

static void at(recorder *r, uint64_t when, uint64_t data) {
  assert_int_equal(dl_clock_at(r->c, when, record, r, data, NULL), DL_OK);
}

/* ---- tests --------------------------------------------------------------- */

static void test_new_clock_is_empty_at_time_zero(void **state) {
  recorder *r = *state;
  assert_int_equal(dl_clock_now(r->c), 0);
  assert_int_equal(dl_clock_pending(r->c), 0);
  assert_int_equal(dl_clock_dispatched(r->c), 0);
  assert_int_equal(dl_clock_peek(r->c, NULL), 0);
  assert_int_equal(dl_clock_step(r->c), 0);
  assert_int_equal(dl_clock_run(r->c), 0);
}

static void test_events_run_in_time_order(void **state) {
  recorder *r = *state;
  at(r, 30, 3);
  at(r, 10, 1);
  at(r, 50, 5);
  at(r, 20, 2);
  at(r, 40, 4);
  assert_int_equal(dl_clock_run(r->c), 5);
  assert_int_equal(r->n, 5);
  for (size_t i = 0; i < 5; i++) {
    assert_int_equal(r->data[i], i + 1);
    assert_int_equal(r->when[i], (i + 1) * 10);  /* time advanced to each event */
  }
  assert_int_equal(dl_clock_now(r->c), 50);
}

static void test_same_time_ties_run_in_insertion_order(void **state) {
  recorder *r = *state;
  /* 20 events at two instants, interleaved, in an order a heap would shuffle */
  for (uint64_t i = 0; i < 20; i++) at(r, (i % 2) ? 7 : 5, i);
  assert_int_equal(dl_clock_run(r->c), 20);
  for (size_t i = 0; i < 10; i++) {
    assert_int_equal(r->when[i], 5);
    assert_int_equal(r->data[i], 2 * i);
    assert_int_equal(r->when[10 + i], 7);
    assert_int_equal(r->data[10 + i], 2 * i + 1);
  }
}

static void test_peek_reports_earliest_pending_time(void **state) {
  recorder *r = *state;
  uint64_t when = 0;
  at(r, 300, 0);
  at(r, 100, 1);
  at(r, 200, 2);
  assert_int_equal(dl_clock_peek(r->c, &when), 1);
  assert_int_equal(when, 100);
  assert_int_equal(dl_clock_now(r->c), 0);  /* peeking does not move time */
  assert_int_equal(dl_clock_step(r->c), 1);
  assert_int_equal(dl_clock_peek(r->c, &when), 1);
  assert_int_equal(when, 200);
}

static void test_cancel_pending_event_prevents_it(void **state) {
  recorder *r = *state;
  uint64_t a, b, c;
  assert_int_equal(dl_clock_at(r->c, 10, record, r, 1, &a), DL_OK);
  assert_int_equal(dl_clock_at(r->c, 20, record, r, 2, &b), DL_OK);
  assert_int_equal(dl_clock_at(r->c, 30, record, r, 3, &c), DL_OK);
  assert_int_equal(dl_clock_cancel(r->c, b), DL_OK);
  assert_int_equal(dl_clock_pending(r->c), 2);
  assert_int_equal(dl_clock_run(r->c), 2);
  assert_int_equal(r->n, 2);
  assert_int_equal(r->data[0], 1);
  assert_int_equal(r->data[1], 3);
}

static void test_cancel_of_earliest_event_keeps_order(void **state) {
  recorder *r = *state;
  uint64_t ids[8];
  for (uint64_t i = 0; i < 8; i++)
    assert_int_equal(dl_clock_at(r->c, 100 - i * 10, record, r, i, &ids[i]), DL_OK);
  assert_int_equal(dl_clock_cancel(r->c, ids[7]), DL_OK);  /* the heap's root */
  assert_int_equal(dl_clock_cancel(r->c, ids[3]), DL_OK);  /* an inner node */
  assert_int_equal(dl_clock_run(r->c), 6);
  const uint64_t want[6] = {6, 5, 4, 2, 1, 0};
  for (size_t i = 0; i < 6; i++) assert_int_equal(r->data[i], want[i]);
}

static void test_cancel_twice_is_einval(void **state) {
  recorder *r = *state;
  uint64_t id;
  assert_int_equal(dl_clock_at(r->c, 10, record, r, 1, &id), DL_OK);
  assert_int_equal(dl_clock_cancel(r->c, id), DL_OK);
  assert_int_equal(dl_clock_cancel(r->c, id), DL_EINVAL);
  assert_int_equal(dl_clock_pending(r->c), 0);
}

static void test_cancel_of_run_event_is_einval(void **state) {
  recorder *r = *state;
  uint64_t id;
  assert_int_equal(dl_clock_at(r->c, 10, record, r, 1, &id), DL_OK);
  assert_int_equal(dl_clock_run(r->c), 1);
  assert_int_equal(dl_clock_cancel(r->c, id), DL_EINVAL);
}

static void test_stale_id_does_not_cancel_reused_slot(void **state) {
  recorder *r = *state;
  uint64_t old, fresh;
  assert_int_equal(dl_clock_at(r->c, 10, record, r, 1, &old), DL_OK);
  assert_int_equal(dl_clock_run(r->c), 1);
  /* the next event takes the pooled record the first one used */
  assert_int_equal(dl_clock_at(r->c, 20, record, r, 2, &fresh), DL_OK);
  assert_true(fresh != old);
  assert_int_equal(dl_clock_cancel(r->c, old), DL_EINVAL);
  assert_int_equal(dl_clock_pending(r->c), 1);
  assert_int_equal(dl_clock_run(r->c), 1);
  assert_int_equal(r->data[1], 2);
}

static void test_cancel_of_unknown_id_is_einval(void **state) {
  recorder *r = *state;
  assert_int_equal(dl_clock_cancel(r->c, 0), DL_EINVAL);
  assert_int_equal(dl_clock_cancel(r->c, 12345), DL_EINVAL);
  assert_int_equal(dl_clock_cancel(r->c, UINT64_MAX), DL_EINVAL);
}

static void test_schedule_in_the_past_is_einval(void **state) {
  recorder *r = *state;
  assert_int_equal(dl_clock_run_until(r->c, 100), 0);
  assert_int_equal(dl_clock_now(r->c), 100);
  assert_int_equal(dl_clock_at(r->c, 99, record, r, 1, NULL), DL_EINVAL);
  assert_int_equal(dl_clock_at(r->c, 0, record, r, 1, NULL), DL_EINVAL);
  assert_int_equal(dl_clock_pending(r->c), 0);
  assert_int_equal(dl_clock_at(r->c, 100, record, r, 2, NULL), DL_OK);  /* now is fine */
  assert_int_equal(dl_clock_run(r->c), 1);
  assert_int_equal(r->data[0], 2);
}

static void test_after_is_relative_to_now(void **state) {
  recorder *r = *state;
  uint64_t when;
  dl_clock_run_until(r->c, 1000);
  assert_int_equal(dl_clock_after(r->c, 25, record, r, 1, NULL), DL_OK);
  assert_int_equal(dl_clock_peek(r->c, &when), 1);
  assert_int_equal(when, 1025);
}

/* Time ends at INT64_MAX ns (what a Lua integer holds): an event due
** later, however it was asked for, happens at the end of time, and the
** time never passes it (it used to wrap to negative in Lua). */
static void test_events_past_the_end_of_time_happen_at_it(void **state) {
  recorder *r = *state;
  uint64_t when;
  dl_clock_run_until(r->c, 1000);
  assert_int_equal(dl_clock_after(r->c, UINT64_MAX - 999, record, r, 1, NULL), DL_OK);
  assert_int_equal(dl_clock_peek(r->c, &when), 1);
  assert_int_equal(when, DL_TIME_END);
  assert_int_equal(dl_clock_at(r->c, UINT64_MAX, record, r, 2, NULL), DL_OK);
  assert_int_equal(dl_clock_after(r->c, DL_TIME_END - 1000, record, r, 3, NULL), DL_OK);  /* exactly the end */
  assert_int_equal(dl_clock_run(r->c), 3);
  assert_int_equal(dl_clock_now(r->c), DL_TIME_END);
  assert_int_equal(r->n, 3);
  assert_int_equal(r->data[0], 1);  /* in the order asked for */
  assert_int_equal(r->data[2], 3);
  assert_int_equal(dl_clock_after(r->c, 5, record, r, 4, NULL), DL_OK);  /* at the end, still the end */
  assert_int_equal(dl_clock_run(r->c), 1);
  assert_int_equal(dl_clock_now(r->c), DL_TIME_END);
  dl_clock_run_until(r->c, UINT64_MAX);
  assert_int_equal(dl_clock_now(r->c), DL_TIME_END);
  assert_int_equal(dl_clock_advance(r->c, UINT64_MAX), DL_OK);
  assert_int_equal(dl_clock_now(r->c), DL_TIME_END);
}

static void test_run_until_runs_only_due_events_and_sets_now(void **state) {
  recorder *r = *state;
  at(r, 10, 1);
  at(r, 20, 2);
  at(r, 21, 3);
  assert_int_equal(dl_clock_run_until(r->c, 20), 2);
  assert_int_equal(r->n, 2);
  assert_int_equal(dl_clock_now(r->c), 20);
  assert_int_equal(dl_clock_pending(r->c), 1);
  assert_int_equal(dl_clock_run_until(r->c, 20), 0);  /* nothing more is due */
  assert_int_equal(dl_clock_run_until(r->c, 5000), 1);
  assert_int_equal(r->when[2], 21);
  assert_int_equal(dl_clock_now(r->c), 5000);  /* idle time is skipped to t */
}

static void test_run_until_never_moves_time_backwards(void **state) {
  recorder *r = *state;
  dl_clock_run_until(r->c, 500);
  assert_int_equal(dl_clock_run_until(r->c, 100), 0);
  assert_int_equal(dl_clock_now(r->c), 500);
}

/* A handler that schedules: data 1 adds an event at the same instant (data
** 100) and one 5 ns later (data 101). */
static void spawner(void *arg, uint64_t data) {
  recorder *r = arg;
  record(r, data);
  if (data == 1) {
    uint64_t now = dl_clock_now(r->c);
    assert_int_equal(dl_clock_at(r->c, now, record, r, 100, NULL), DL_OK);
    assert_int_equal(dl_clock_after(r->c, 5, record, r, 101, NULL), DL_OK);
    assert_int_equal(dl_clock_at(r->c, now - 1, record, r, 999, NULL), DL_EINVAL);
  }
}

static void test_handler_can_schedule_at_same_instant_and_later(void **state) {
  recorder *r = *state;
  assert_int_equal(dl_clock_at(r->c, 10, spawner, r, 1, NULL), DL_OK);
  at(r, 10, 2);   /* scheduled before the spawned tie: runs before it */
  at(r, 11, 3);
  at(r, 20, 4);
  assert_int_equal(dl_clock_run_until(r->c, 15), 5);
  const uint64_t want_data[5] = {1, 2, 100, 3, 101};
  const uint64_t want_when[5] = {10, 10, 10, 11, 15};
  for (size_t i = 0; i < 5; i++) {
    assert_int_equal(r->data[i], want_data[i]);
    assert_int_equal(r->when[i], want_when[i]);
  }
  assert_int_equal(dl_clock_pending(r->c), 1);
}

/* A handler that keeps rescheduling itself at the same instant n times. */
static void chain_same_instant(void *arg, uint64_t data) {
  recorder *r = arg;
  record(r, data);
  if (data < 40) assert_int_equal(dl_clock_after(r->c, 0, chain_same_instant, r, data + 1, NULL), DL_OK);
}

static void test_handler_chain_at_same_instant_drains(void **state) {
  recorder *r = *state;
  assert_int_equal(dl_clock_at(r->c, 7, chain_same_instant, r, 0, NULL), DL_OK);
  assert_int_equal(dl_clock_run_until(r->c, 7), 41);
  for (size_t i = 0; i < 41; i++) {
    assert_int_equal(r->data[i], i);
    assert_int_equal(r->when[i], 7);
  }
  assert_int_equal(dl_clock_pending(r->c), 0);
}

static void test_stop_from_handler_ends_run_early(void **state) {
  recorder *r = *state;
  for (uint64_t i = 1; i <= 5; i++) at(r, i * 10, i);
  r->stop_on = 3;
  r->stop_armed = 1;
  assert_int_equal(dl_clock_run(r->c), 3);
  assert_int_equal(r->n, 3);
  assert_int_equal(dl_clock_now(r->c), 30);
  assert_int_equal(dl_clock_pending(r->c), 2);
  r->stop_armed = 0;
  assert_int_equal(dl_clock_run(r->c), 2);  /* a later run resumes */
  assert_int_equal(r->data[4], 5);
}

static void test_stop_from_handler_ends_run_until_early(void **state) {
  recorder *r = *state;
  for (uint64_t i = 1; i <= 5; i++) at(r, i * 10, i);
  r->stop_on = 2;
  r->stop_armed = 1;
  assert_int_equal(dl_clock_run_until(r->c, 45), 2);
  /* time stays at the stopping event: events still due before 45 are pending */
  assert_int_equal(dl_clock_now(r->c), 20);
  assert_int_equal(dl_clock_pending(r->c), 3);
  r->stop_armed = 0;
  assert_int_equal(dl_clock_run_until(r->c, 45), 2);
  assert_int_equal(dl_clock_now(r->c), 45);
}

static void test_pending_and_dispatched_counters(void **state) {
  recorder *r = *state;
  uint64_t id;
  at(r, 1, 1);
  at(r, 2, 2);
  assert_int_equal(dl_clock_at(r->c, 3, record, r, 3, &id), DL_OK);
  assert_int_equal(dl_clock_pending(r->c), 3);
  assert_int_equal(dl_clock_step(r->c), 1);
  assert_int_equal(dl_clock_pending(r->c), 2);
  assert_int_equal(dl_clock_dispatched(r->c), 1);
  assert_int_equal(dl_clock_cancel(r->c, id), DL_OK);
  assert_int_equal(dl_clock_pending(r->c), 1);
  assert_int_equal(dl_clock_dispatched(r->c), 1);  /* a cancel is not a dispatch */
  assert_int_equal(dl_clock_run(r->c), 1);
  assert_int_equal(dl_clock_pending(r->c), 0);
  assert_int_equal(dl_clock_dispatched(r->c), 2);
  at(r, 10, 4);
  dl_clock_run_until(r->c, 100);
  assert_int_equal(dl_clock_dispatched(r->c), 3);  /* cumulative across runs */
}

static void set_flag(void *arg, uint64_t data) { *(int *)arg = (int)data; }

static void test_free_with_pending_events_runs_no_handler(void **state) {
  (void)state;
  int flag = 0;
  dl_clock *c = dl_clock_new();
  assert_non_null(c);
  for (int i = 0; i < 1000; i++)
    assert_int_equal(dl_clock_at(c, (uint64_t)i, set_flag, &flag, 1, NULL), DL_OK);
  dl_clock_free(c);
  dl_clock_free(NULL);
  assert_int_equal(flag, 0);
}

/* ---- stress: 100000 events with random times and random cancels --------- */

#define STRESS_N 100000
enum { EV_PENDING, EV_RAN, EV_CANCELLED };

typedef struct stress {
  dl_clock *c;
  dl_rng rng;
  uint64_t *ids, *when;
  uint8_t *st;
  uint64_t last_when, last_data, ran, cancelled;
  int started;
} stress;

/* Runs event `data`: checks (time, insertion) order, then sometimes cancels a
** random event, which must succeed exactly when that event is still pending. */
static void stress_event(void *arg, uint64_t data) {
  stress *s = arg;
  uint64_t now = dl_clock_now(s->c);
  assert_int_equal(now, s->when[data]);
  assert_int_equal(s->st[data], EV_PENDING);
  if (s->started) {
    assert_true(now >= s->last_when);
    if (now == s->last_when) assert_true(data > s->last_data);
  }
  s->started = 1;
  s->last_when = now;
  s->last_data = data;
  s->st[data] = EV_RAN;
  s->ran++;
  if (dl_rng_below(&s->rng, 8) == 0) {
    uint64_t k = dl_rng_below(&s->rng, STRESS_N);
    int want = s->st[k] == EV_PENDING ? DL_OK : DL_EINVAL;
    assert_int_equal(dl_clock_cancel(s->c, s->ids[k]), want);
    if (want == DL_OK) { s->st[k] = EV_CANCELLED; s->cancelled++; }
  }
}

static void test_stress_random_times_pop_in_time_then_insertion_order(void **state) {
  (void)state;
  stress s;
  memset(&s, 0, sizeof s);
  s.c = dl_clock_new();
  s.ids = calloc(STRESS_N, sizeof *s.ids);
  s.when = calloc(STRESS_N, sizeof *s.when);
  s.st = calloc(STRESS_N, 1);
  assert_non_null(s.c);
  assert_non_null(s.ids);
  assert_non_null(s.when);
  assert_non_null(s.st);
  dl_rng_seed(&s.rng, 2024);
  for (uint64_t i = 0; i < STRESS_N; i++) {
    s.when[i] = dl_rng_below(&s.rng, STRESS_N / 4);  /* about 4 events per instant */
    assert_int_equal(dl_clock_at(s.c, s.when[i], stress_event, &s, i, &s.ids[i]), DL_OK);
    if (i % 10 == 9) {  /* cancel a random earlier event, sometimes twice */
      uint64_t k = dl_rng_below(&s.rng, i + 1);
      int want = s.st[k] == EV_PENDING ? DL_OK : DL_EINVAL;
      assert_int_equal(dl_clock_cancel(s.c, s.ids[k]), want);
      if (want == DL_OK) { s.st[k] = EV_CANCELLED; s.cancelled++; }
    }
  }
  assert_int_equal(dl_clock_pending(s.c), STRESS_N - s.cancelled);
  uint64_t cancelled_before_run = s.cancelled;
  uint64_t n = dl_clock_run(s.c);
  assert_true(s.cancelled > cancelled_before_run);  /* handlers did cancel too */
  assert_int_equal(n, s.ran);
  assert_int_equal(s.ran + s.cancelled, STRESS_N);
  assert_int_equal(dl_clock_pending(s.c), 0);
  assert_int_equal(dl_clock_dispatched(s.c), s.ran);
  for (size_t i = 0; i < STRESS_N; i++) assert_int_not_equal(s.st[i], EV_PENDING);
  dl_clock_free(s.c);
  free(s.ids);
  free(s.when);
  free(s.st);
}

/* ---- the stall limit: events in a row without time advancing ------------- */

typedef struct rearm {
  dl_clock *c;
  uint64_t delay;   /* how far ahead each run re-arms */
  uint64_t ran;
  uint64_t until;   /* stop re-arming after this many runs (0: never) */
} rearm;

static void rearm_handler(void *arg, uint64_t data) {
  rearm *a = arg;
  a->ran++;
  if (!a->until || a->ran < a->until)
    assert_int_equal(dl_clock_after(a->c, a->delay, rearm_handler, a, data, NULL), DL_OK);
}

static void test_stall_limit_default_is_generous(void **state) {
  recorder *r = *state;
  assert_int_equal(dl_clock_stall_limit(r->c), DL_CLOCK_STALL_LIMIT);
  assert_true(DL_CLOCK_STALL_LIMIT >= 1000000);
  assert_int_equal(dl_clock_run_status(r->c), DL_OK);
}

/* An event that re-arms itself at delay 0 stops at the limit with DL_ELIMIT;
** its next run stays pending, time stays where it was, and the clock runs
** on normally once the loop is broken. */
static void test_zero_delay_rearm_stops_at_the_limit(void **state) {
  recorder *r = *state;
  rearm a = { r->c, 0, 0, 0 };
  dl_clock_set_stall_limit(r->c, 1000);
  assert_int_equal(dl_clock_after(r->c, 5, rearm_handler, &a, 0, NULL), DL_OK);
  uint64_t n = dl_clock_run(r->c);
  assert_int_equal(dl_clock_run_status(r->c), DL_ELIMIT);
  assert_int_equal(n, 1001);            /* the one that moved time to 5, then 1000 */
  assert_int_equal(a.ran, 1001);
  assert_int_equal(dl_clock_now(r->c), 5);
  assert_int_equal(dl_clock_pending(r->c), 1);
  a.until = a.ran + 1;                  /* the next run is its last */
  at(r, 9, 42);
  assert_int_equal(dl_clock_run(r->c), 2);
  assert_int_equal(dl_clock_run_status(r->c), DL_OK);
  assert_int_equal(dl_clock_now(r->c), 9);
  assert_int_equal(r->n, 1);
}

/* run_until stops the same way and does not move time to `t`. */
static void test_stall_limit_stops_run_until_without_moving_time(void **state) {
  recorder *r = *state;
  rearm a = { r->c, 0, 0, 0 };
  dl_clock_set_stall_limit(r->c, 100);
  assert_int_equal(dl_clock_after(r->c, 0, rearm_handler, &a, 0, NULL), DL_OK);
  assert_int_equal(dl_clock_run_until(r->c, 1000), 100);  /* none moved time */
  assert_int_equal(dl_clock_run_status(r->c), DL_ELIMIT);
  assert_int_equal(dl_clock_now(r->c), 0);
}

/* Time that advances, even by 1 ns per event, is never a stall; nor is a
** limit of 0 (none). */
static void test_stall_limit_spares_advancing_time_and_zero_means_none(void **state) {
  recorder *r = *state;
  rearm a = { r->c, 1, 0, 5000 };
  dl_clock_set_stall_limit(r->c, 10);
  assert_int_equal(dl_clock_after(r->c, 1, rearm_handler, &a, 0, NULL), DL_OK);
  assert_int_equal(dl_clock_run(r->c), 5000);
  assert_int_equal(dl_clock_run_status(r->c), DL_OK);
  rearm b = { r->c, 0, 0, 5000 };
  dl_clock_set_stall_limit(r->c, 0);
  assert_int_equal(dl_clock_stall_limit(r->c), 0);
  assert_int_equal(dl_clock_after(r->c, 0, rearm_handler, &b, 0, NULL), DL_OK);
  assert_int_equal(dl_clock_run(r->c), 5000);
  assert_int_equal(dl_clock_run_status(r->c), DL_OK);
}

/* The count is per run and per instant: a burst just under the limit at
** each of several instants, or over several runs, passes. */
static void test_stall_count_restarts_at_each_instant_and_run(void **state) {
  recorder *r = *state;
  dl_clock_set_stall_limit(r->c, 3);
  for (uint64_t t = 1; t <= 3; t++)
    for (uint64_t k = 0; k < 4; k++) at(r, t * 10, t * 10 + k);  /* 1 + 3 each */
  assert_int_equal(dl_clock_run(r->c), 12);
  assert_int_equal(dl_clock_run_status(r->c), DL_OK);
  r->n = 0;
  for (uint64_t k = 0; k < 5; k++) at(r, 30, k);  /* at now: 5 in a row */
  assert_int_equal(dl_clock_run(r->c), 3);
  assert_int_equal(dl_clock_run_status(r->c), DL_ELIMIT);
  assert_int_equal(dl_clock_run(r->c), 2);        /* a new run, a new count */
  assert_int_equal(dl_clock_run_status(r->c), DL_OK);
}

/* Work counted inside one event (a DPC drain's loop) counts toward the
** stall limit: over it the run stops with DL_ELIMIT. */
typedef struct looper {
  dl_clock *c;
  uint64_t done;
} looper;

static void loop_handler(void *arg, uint64_t data) {
  (void)data;
  looper *l = arg;
  while (dl_clock_count_work(l->c) == DL_OK) l->done++;
}

static void test_work_inside_an_event_counts_toward_the_stall_limit(void **state) {
  recorder *r = *state;
  looper l = { r->c, 0 };
  dl_clock_set_stall_limit(r->c, 500);
  assert_int_equal(dl_clock_after(r->c, 7, loop_handler, &l, 0, NULL), DL_OK);
  at(r, 8, 1);
  assert_int_equal(dl_clock_run(r->c), 1);  /* the looping event; the next never ran */
  assert_int_equal(dl_clock_run_status(r->c), DL_ELIMIT);
  assert_int_equal(l.done, 500);
  assert_int_equal(r->n, 0);
  assert_int_equal(dl_clock_run(r->c), 1);
  assert_int_equal(dl_clock_run_status(r->c), DL_OK);
  assert_int_equal(r->n, 1);
}

/* The run limit counts every event of one run, time advancing or not: an
** event that re-arms itself 1 ns later stops there with DL_ELIMIT and
** DL_CLOCK_LIMIT_RUN, its next run pending, time at the last one run. */
static void test_run_limit_stops_a_run_whose_time_advances(void **state) {
  recorder *r = *state;
  assert_int_equal(dl_clock_run_limit(r->c), 0);  /* none by default in the core */
  rearm a = { r->c, 1, 0, 0 };
  dl_clock_set_run_limit(r->c, 250);
  assert_int_equal(dl_clock_run_limit(r->c), 250);
  assert_int_equal(dl_clock_after(r->c, 1, rearm_handler, &a, 0, NULL), DL_OK);
  assert_int_equal(dl_clock_run(r->c), 250);
  assert_int_equal(dl_clock_run_status(r->c), DL_ELIMIT);
  assert_int_equal(dl_clock_limit_struck(r->c), DL_CLOCK_LIMIT_RUN);
  assert_int_equal(dl_clock_now(r->c), 250);
  assert_int_equal(dl_clock_pending(r->c), 1);
  assert_int_equal(dl_clock_run_until(r->c, 100000), 250);  /* a new run, a new count */
  assert_int_equal(dl_clock_limit_struck(r->c), DL_CLOCK_LIMIT_RUN);
  assert_int_equal(dl_clock_now(r->c), 500);       /* not moved to 100000 */
  a.until = a.ran + 3;
  dl_clock_set_run_limit(r->c, 0);
  assert_int_equal(dl_clock_run(r->c), 3);
  assert_int_equal(dl_clock_run_status(r->c), DL_OK);
  assert_int_equal(dl_clock_limit_struck(r->c), DL_CLOCK_LIMIT_NONE);
}

/* The stall limit, when it strikes first, says so. */
static void test_limit_struck_names_the_stall_limit(void **state) {
  recorder *r = *state;
  rearm a = { r->c, 0, 0, 0 };
  dl_clock_set_stall_limit(r->c, 10);
  dl_clock_set_run_limit(r->c, 1000);
  assert_int_equal(dl_clock_after(r->c, 0, rearm_handler, &a, 0, NULL), DL_OK);
  dl_clock_run(r->c);
  assert_int_equal(dl_clock_limit_struck(r->c), DL_CLOCK_LIMIT_STALL);
}

/* dl_clock_interrupt (a SIGINT handler's call) stops the running run before
** its next event, once: the next run goes on; a taken one stops nothing. */
typedef struct interrupter {
  dl_clock *c;
  uint64_t ran;
} interrupter;

static void interrupt_handler(void *arg, uint64_t data) {
  interrupter *i = arg;
  if (++i->ran == 3) dl_clock_interrupt();
  assert_int_equal(dl_clock_after(i->c, 1, interrupt_handler, i, data, NULL), DL_OK);
}

static void test_interrupt_stops_the_run_once(void **state) {
  recorder *r = *state;
  interrupter i = { r->c, 0 };
  assert_int_equal(dl_clock_after(r->c, 1, interrupt_handler, &i, 0, NULL), DL_OK);
  assert_int_equal(dl_clock_run(r->c), 3);
  assert_int_equal(dl_clock_run_status(r->c), DL_ELIMIT);
  assert_int_equal(dl_clock_limit_struck(r->c), DL_CLOCK_LIMIT_INTERRUPT);
  assert_int_equal(dl_clock_pending(r->c), 1);
  assert_int_equal(dl_clock_run_until(r->c, 10), 7);  /* consumed: this run is not stopped */
  assert_int_equal(dl_clock_run_status(r->c), DL_OK);
  assert_int_equal(dl_clock_interrupt_take(), 0);  /* the run took it */
  dl_clock_interrupt();
  assert_int_equal(dl_clock_interrupt_take(), 1);
  assert_int_equal(dl_clock_run_until(r->c, 12), 2);
  assert_int_equal(dl_clock_run_status(r->c), DL_OK);
}

int main(void) {
  const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    T(test_new_clock_is_empty_at_time_zero),
    T(test_events_run_in_time_order),
    T(test_same_time_ties_run_in_insertion_order),
    T(test_peek_reports_earliest_pending_time),
    T(test_cancel_pending_event_prevents_it),
    T(test_cancel_of_earliest_event_keeps_order),
    T(test_cancel_twice_is_einval),
    T(test_cancel_of_run_event_is_einval),
    T(test_stale_id_does_not_cancel_reused_slot),
    T(test_cancel_of_unknown_id_is_einval),
    T(test_schedule_in_the_past_is_einval),
    T(test_after_is_relative_to_now),
    T(test_events_past_the_end_of_time_happen_at_it),
    T(test_run_until_runs_only_due_events_and_sets_now),
    T(test_run_until_never_moves_time_backwards),
    T(test_handler_can_schedule_at_same_instant_and_later),
    T(test_handler_chain_at_same_instant_drains),
    T(test_stop_from_handler_ends_run_early),
    T(test_stop_from_handler_ends_run_until_early),
    T(test_pending_and_dispatched_counters),
    T(test_stall_limit_default_is_generous),
    T(test_zero_delay_rearm_stops_at_the_limit),
    T(test_stall_limit_stops_run_until_without_moving_time),
    T(test_stall_limit_spares_advancing_time_and_zero_means_none),
    T(test_stall_count_restarts_at_each_instant_and_run),
    T(test_work_inside_an_event_counts_toward_the_stall_limit),
    T(test_run_limit_stops_a_run_whose_time_advances),
    T(test_limit_struck_names_the_stall_limit),
    T(test_interrupt_stops_the_run_once),
#undef T
    cmocka_unit_test(test_free_with_pending_events_runs_no_handler),
    cmocka_unit_test(test_stress_random_times_pop_in_time_then_insertion_order),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
