/*
** dl_clock.h: simulated time and the event queue.
** Time is in nanoseconds from 0. Events run in (time, insertion sequence)
** order, so events scheduled for the same instant run in the order they were
** scheduled: ties are deterministic. Event records are pooled; scheduling
** allocates only when the pool grows (amortised, never per event).
*/
#ifndef DL_CLOCK_H
#define DL_CLOCK_H

#include <stddef.h>
#include <stdint.h>

typedef struct dl_clock dl_clock;

/* The end of simulated time: INT64_MAX ns (about 292 years), the last
** instant a Lua integer holds. An event due later happens at it, so the
** time never passes it. */
#define DL_TIME_END ((uint64_t)INT64_MAX)

/* An event handler: `arg` and `data` are what was given to dl_clock_at. */
typedef void (*dl_event_fn)(void *arg, uint64_t data);

/* Creates a clock at time 0 with no pending events; NULL if out of memory. */
dl_clock *dl_clock_new(void);

/* Frees the clock and its pending events (their handlers never run);
** NULL is a harmless no-op. */
void dl_clock_free(dl_clock *c);

/* Returns the current simulated time in nanoseconds. */
uint64_t dl_clock_now(const dl_clock *c);

/* Schedules fn(arg, data) at absolute time `when` (>= now; past
** DL_TIME_END: at it) and stores the event's id in *id (may be NULL);
** DL_EINVAL for a time in the past. */
int dl_clock_at(dl_clock *c, uint64_t when, dl_event_fn fn, void *arg,
                uint64_t data, uint64_t *id);

/* Schedules fn(arg, data) `delay` nanoseconds from now (at DL_TIME_END at the latest). */
int dl_clock_after(dl_clock *c, uint64_t delay, dl_event_fn fn, void *arg,
                   uint64_t data, uint64_t *id);

/* Cancels a pending event; DL_EINVAL if it already ran or was cancelled. */
int dl_clock_cancel(dl_clock *c, uint64_t id);

/* Returns 1 and stores its time if an event is pending, else 0. */
int dl_clock_peek(const dl_clock *c, uint64_t *when);

/* Runs the next event, advancing time to it; returns 1, or 0 if none. */
int dl_clock_step(dl_clock *c);

/* Runs every event due at or before `t`, then sets the time to `t` (if it is
** later than now); returns the number of events run. A handler may call
** dl_clock_stop to end the run early. */
uint64_t dl_clock_run_until(dl_clock *c, uint64_t t);

/* Runs events until none is pending or dl_clock_stop is called; returns the
** number run. */
uint64_t dl_clock_run(dl_clock *c);

/* Asks the running dl_clock_run/run_until to return after the current event. */
void dl_clock_stop(dl_clock *c);

/* Whether dl_clock_stop was called in the current run (a wait inside an
** event gives up then, as the run will). */
int dl_clock_stopping(const dl_clock *c);

/* Moves the time to t (a wait that timed out) if no event is due before t;
** DL_EINVAL otherwise (run the events first). */
int dl_clock_advance(dl_clock *c, uint64_t t);

/* The default of dl_clock_set_stall_limit: far above any real scenario
** (a burst of work at one instant is thousands of events, not millions). */
#define DL_CLOCK_STALL_LIMIT UINT64_C(1000000)

/* Sets how many events one dl_clock_run/run_until may run in a row without
** simulated time advancing (0: no limit). A zero-delay event that re-arms
** itself, a DPC that re-queues itself or an interrupt storm would otherwise
** run forever at one instant; over the limit the run stops before the next
** event (which stays pending) and dl_clock_run_status says DL_ELIMIT. */
void dl_clock_set_stall_limit(dl_clock *c, uint64_t limit);

/* Returns the limit set by dl_clock_set_stall_limit. */
uint64_t dl_clock_stall_limit(const dl_clock *c);

/* Counts one piece of work an event does in a loop of its own (each DPC a
** drain runs: a DPC may queue itself again) as one more event at this
** instant; over the stall limit it stops the run and returns DL_ELIMIT, and
** the event must leave the rest of its work for an event at delay 0. */
int dl_clock_count_work(dl_clock *c);

/* Sets how many events one dl_clock_run/run_until may run in all (0: no
** limit, the default). Time may advance all along and the run still never
** end: a periodic timer keeps one event pending for ever. Over the limit the
** run stops before the next event (which stays pending) and
** dl_clock_run_status says DL_ELIMIT. */
void dl_clock_set_run_limit(dl_clock *c, uint64_t limit);

/* Returns the limit set by dl_clock_set_run_limit. */
uint64_t dl_clock_run_limit(const dl_clock *c);

/* Returns DL_ELIMIT if the last dl_clock_run/run_until/step stopped at the
** stall limit or the run limit, else DL_OK. */
int dl_clock_run_status(const dl_clock *c);

/* Which limit stopped the last run, if one did. */
enum { DL_CLOCK_LIMIT_NONE, DL_CLOCK_LIMIT_STALL, DL_CLOCK_LIMIT_RUN, DL_CLOCK_LIMIT_INTERRUPT };

/* Returns the DL_CLOCK_LIMIT_* that stopped the last run. */
int dl_clock_limit_struck(const dl_clock *c);

/* Asks whichever dl_clock_run/run_until is running (or the next one) to stop
** before its next event, with status DL_ELIMIT and DL_CLOCK_LIMIT_INTERRUPT;
** async-signal-safe, for a SIGINT handler: a run of events that call no Lua
** gives a Lua hook nothing to stop. Process-wide; one run consumes it. */
void dl_clock_interrupt(void);

/* Withdraws a dl_clock_interrupt that no run consumed, for the code that
** stops the interrupted work elsewhere (a Lua hook); returns 1 if there was
** one, 0 if a run already acted on it. */
int dl_clock_interrupt_take(void);

/* Returns the number of pending events. */
size_t dl_clock_pending(const dl_clock *c);

/* Returns the number of events run since the clock was created. */
uint64_t dl_clock_dispatched(const dl_clock *c);

#endif
