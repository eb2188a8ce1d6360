/*
** dl_clock.c: a binary min-heap of pooled event records keyed by
** (time, sequence). Ids carry the slot and a generation, so a stale id
** (event already run or cancelled) is recognised instead of hitting a reused
** slot.
*/
#include "machine/dl_clock.h"

#include <signal.h>
#include <stdlib.h>

#include "base/dl_status.h"
#include "base/dl_vec.h"

typedef struct event {
  uint64_t when;
  uint64_t seq;
  dl_event_fn fn;
  void *arg;
  uint64_t data;
  uint32_t gen;        /* bumped each time the slot is released */
  uint32_t heap_pos;   /* index in heap, or FREE_SLOT */
  uint32_t next_free;
} event;

#define FREE_SLOT UINT32_MAX

/* Set by dl_clock_interrupt (from a signal handler): the one process-wide
** state here, since a handler cannot be told which clock is running. */
static volatile sig_atomic_t interrupt_requested;

struct dl_clock {
  uint64_t now;
  uint64_t next_seq;
  uint64_t dispatched;
  event *slots;
  uint32_t nslots, cap;
  uint32_t free_head;
  uint32_t *heap;      /* slot indices */
  uint32_t heap_len;
  int stop;
  int status;          /* of the last run: DL_OK or DL_ELIMIT */
  int running;         /* in dl_clock_run/run_until */
  uint64_t still;      /* events and work in a row at this instant, this run */
  uint64_t stall_limit;  /* events in a row at one instant a run may run */
  uint64_t run_limit;    /* events one run may run in all */
  int struck;            /* which limit stopped the last run: DL_CLOCK_LIMIT_* */
};

/* Creates a clock at time 0 with no pending events; NULL if out of memory. */
dl_clock *dl_clock_new(void) {
  dl_clock *c = calloc(1, sizeof *c);
  if (c) {
    c->free_head = FREE_SLOT;
    c->stall_limit = DL_CLOCK_STALL_LIMIT;
  }
  return c;
}

/* Frees the clock and its pending events; NULL is a harmless no-op. */
void dl_clock_free(dl_clock *c) {
  if (!c) return;
  free(c->slots);
  free(c->heap);
  free(c);
}

/* Returns the current simulated time in nanoseconds. */
uint64_t dl_clock_now(const dl_clock *c) { return c->now; }

static int earlier(const dl_clock *c, uint32_t a, uint32_t b) {
  const event *x = &c->slots[a], *y = &c->slots[b];
  return x->when < y->when || (x->when == y->when && x->seq < y->seq);
}

static void heap_place(dl_clock *c, uint32_t pos, uint32_t slot) {
  c->heap[pos] = slot;
  c->slots[slot].heap_pos = pos;
}

static void sift_up(dl_clock *c, uint32_t pos) {
  uint32_t slot = c->heap[pos];
  while (pos > 0) {
    uint32_t parent = (pos - 1) / 2;
    if (!earlier(c, slot, c->heap[parent])) break;
    heap_place(c, pos, c->heap[parent]);
    pos = parent;
  }
  heap_place(c, pos, slot);
}

static void sift_down(dl_clock *c, uint32_t pos) {
  uint32_t slot = c->heap[pos];
  for (;;) {
    uint32_t child = 2 * pos + 1;
    if (child >= c->heap_len) break;
    if (child + 1 < c->heap_len && earlier(c, c->heap[child + 1], c->heap[child]))
      child++;
    if (!earlier(c, c->heap[child], slot)) break;
    heap_place(c, pos, c->heap[child]);
    pos = child;
  }
  heap_place(c, pos, slot);
}

/* Removes the heap entry at `pos`, keeping the heap ordered. */
static void heap_remove(dl_clock *c, uint32_t pos) {
  uint32_t last = c->heap[--c->heap_len];
  if (pos == c->heap_len) return;
  heap_place(c, pos, last);
  sift_down(c, pos);
  sift_up(c, c->slots[last].heap_pos);
}

/* Doubles the slot pool and heap; the only allocation on the event path. */
static int grow(dl_clock *c) {
  uint32_t cap = c->cap, heap_cap = c->cap;  /* the heap grows to the slots' size */
  if (dl_vec_reserve(c->slots, cap, c->cap + 1) || dl_vec_reserve(c->heap, heap_cap, cap))
    return DL_ENOMEM;
  c->cap = cap;
  return DL_OK;
}

static int take_slot(dl_clock *c, uint32_t *slot) {
  if (c->free_head != FREE_SLOT) {
    *slot = c->free_head;
    c->free_head = c->slots[*slot].next_free;
    return DL_OK;
  }
  if (c->nslots == c->cap) {
    int rc = grow(c);
    if (rc) return rc;
  }
  *slot = c->nslots++;
  c->slots[*slot].gen = 0;
  return DL_OK;
}

static void release_slot(dl_clock *c, uint32_t slot) {
  event *e = &c->slots[slot];
  e->gen++;
  e->heap_pos = FREE_SLOT;
  e->next_free = c->free_head;
  c->free_head = slot;
}

/* Schedules fn(arg, data) at absolute time `when`. */
int dl_clock_at(dl_clock *c, uint64_t when, dl_event_fn fn, void *arg,
                uint64_t data, uint64_t *id) {
  if (when < c->now || fn == NULL) return DL_EINVAL;
  if (when > DL_TIME_END) when = DL_TIME_END;
  uint32_t slot;
  int rc = take_slot(c, &slot);
  if (rc) return rc;
  event *e = &c->slots[slot];
  e->when = when;
  e->seq = c->next_seq++;
  e->fn = fn;
  e->arg = arg;
  e->data = data;
  c->heap[c->heap_len++] = slot;
  if (c->heap_len > 1) sift_up(c, c->heap_len - 1);
  else e->heap_pos = 0;  /* the only one: sift_up would place it at 0 */
  if (id) *id = ((uint64_t)e->gen << 32) | slot;
  return DL_OK;
}

/* Schedules fn(arg, data) `delay` nanoseconds from now. */
int dl_clock_after(dl_clock *c, uint64_t delay, dl_event_fn fn, void *arg,
                   uint64_t data, uint64_t *id) {
  return dl_clock_at(c, delay > DL_TIME_END - c->now ? DL_TIME_END : c->now + delay, fn, arg, data, id);
}

/* Cancels a pending event; DL_EINVAL if it already ran or was cancelled. */
int dl_clock_cancel(dl_clock *c, uint64_t id) {
  uint32_t slot = (uint32_t)id, gen = (uint32_t)(id >> 32);
  if (slot >= c->nslots) return DL_EINVAL;
  event *e = &c->slots[slot];
  if (e->gen != gen || e->heap_pos == FREE_SLOT) return DL_EINVAL;
  heap_remove(c, e->heap_pos);
  release_slot(c, slot);
  return DL_OK;
}

/* Returns 1 and stores its time if an event is pending, else 0. */
int dl_clock_peek(const dl_clock *c, uint64_t *when) {
  if (c->heap_len == 0) return 0;
  if (when) *when = c->slots[c->heap[0]].when;
  return 1;
}

/* Runs the next event, advancing time to it; returns 1, or 0 if none. */
static int step_one(dl_clock *c) {
  if (c->heap_len == 0) return 0;
  uint32_t slot = c->heap[0];
  event e = c->slots[slot];  /* copy: the handler may grow the pool */
  heap_remove(c, 0);
  release_slot(c, slot);
  c->now = e.when;
  c->dispatched++;
  e.fn(e.arg, e.data);
  return 1;
}

/* Runs the next event on its own (a run of one): stop, stall count and
** status start afresh. */
int dl_clock_step(dl_clock *c) {
  if (!c->running) {
    c->stop = 0;
    c->status = DL_OK;
    c->still = 0;
    c->struck = DL_CLOCK_LIMIT_NONE;
  }
  return step_one(c);
}

/* Stops the run at limit `which`: the next event stays pending. */
static void strike(dl_clock *c, int which) {
  c->status = DL_ELIMIT;
  c->struck = which;
}

/* Runs events due at or before `t` until none is left, dl_clock_stop is
** called or a limit strikes; returns the number run. */
static uint64_t run_to(dl_clock *c, uint64_t t) {
  uint64_t n = 0, when;
  c->stop = 0;
  c->status = DL_OK;
  c->struck = DL_CLOCK_LIMIT_NONE;
  c->still = 0;
  c->running = 1;
  while (!c->stop && c->heap_len && (when = c->slots[c->heap[0]].when) <= t) {
    c->still = when == c->now ? c->still + 1 : 0;  /* the first at a new instant moves time */
    if (c->stall_limit && c->still > c->stall_limit) {
      strike(c, DL_CLOCK_LIMIT_STALL);
      break;
    }
    if (c->run_limit && n >= c->run_limit) {  /* time moves, but the run would never end */
      strike(c, DL_CLOCK_LIMIT_RUN);
      break;
    }
    if (interrupt_requested) {  /* Ctrl-C: no Lua runs here for a hook to stop */
      interrupt_requested = 0;
      strike(c, DL_CLOCK_LIMIT_INTERRUPT);
      break;
    }
    step_one(c);
    n++;
  }
  c->running = 0;
  return n;
}

/* Counts work done inside an event as one more event at this instant. */
int dl_clock_count_work(dl_clock *c) {
  if (c->status == DL_ELIMIT) return DL_ELIMIT;
  if (c->stall_limit && ++c->still > c->stall_limit) {
    strike(c, DL_CLOCK_LIMIT_STALL);
    c->stop = 1;
    return DL_ELIMIT;
  }
  return DL_OK;
}

/* Runs every event due at or before `t`, then moves the time to `t`. */
uint64_t dl_clock_run_until(dl_clock *c, uint64_t t) {
  if (t > DL_TIME_END) t = DL_TIME_END;
  uint64_t n = run_to(c, t);
  if (!c->stop && c->status == DL_OK && t > c->now) c->now = t;
  return n;
}

/* Runs events until none is pending or dl_clock_stop is called. */
uint64_t dl_clock_run(dl_clock *c) { return run_to(c, UINT64_MAX); }

/* Sets how many events a run may run in a row at one instant (0: no limit). */
void dl_clock_set_stall_limit(dl_clock *c, uint64_t limit) { c->stall_limit = limit; }

/* Returns the stall limit. */
uint64_t dl_clock_stall_limit(const dl_clock *c) { return c->stall_limit; }

/* Sets how many events one run may run in all (0: no limit). */
void dl_clock_set_run_limit(dl_clock *c, uint64_t limit) { c->run_limit = limit; }

/* Returns the run limit. */
uint64_t dl_clock_run_limit(const dl_clock *c) { return c->run_limit; }

/* Returns DL_ELIMIT if the last run stopped at a limit, else DL_OK. */
int dl_clock_run_status(const dl_clock *c) { return c->status; }

/* Asks the running run, or the next, to stop before its next event;
** async-signal-safe. */
void dl_clock_interrupt(void) { interrupt_requested = 1; }

/* Withdraws a dl_clock_interrupt no run has acted on; says if there was one. */
int dl_clock_interrupt_take(void) {
  int was = interrupt_requested != 0;
  interrupt_requested = 0;
  return was;
}

/* Returns which limit stopped the last run (DL_CLOCK_LIMIT_NONE if none). */
int dl_clock_limit_struck(const dl_clock *c) { return c->struck; }

/* Asks the running dl_clock_run/run_until to return after this event. */
void dl_clock_stop(dl_clock *c) { c->stop = 1; }

/* Whether the current run was asked to stop. */
int dl_clock_stopping(const dl_clock *c) { return c->stop; }

/* Moves the time to t when nothing is due before it. */
int dl_clock_advance(dl_clock *c, uint64_t t) {
  uint64_t when;
  if (t > DL_TIME_END) t = DL_TIME_END;
  if (dl_clock_peek(c, &when) && when < t) return DL_EINVAL;
  if (t > c->now) c->now = t;
  return DL_OK;
}

/* Returns the number of pending events. */
size_t dl_clock_pending(const dl_clock *c) { return c->heap_len; }

/* Returns the number of events run since the clock was created. */
uint64_t dl_clock_dispatched(const dl_clock *c) { return c->dispatched; }
