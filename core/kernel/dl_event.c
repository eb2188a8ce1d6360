/*
** dl_event.c: KEVENT and waits on the simulated clock (dl_event.h).
*/
#include "kernel/dl_event.h"

#include <stdlib.h>

#include "base/dl_ntstatus.h"
#include "base/dl_status.h"
#include "kernel/dl_cpu.h"
#include "machine/dl_machine.h"
#include "machine/dl_verifier.h"

/* KeInitializeEvent. */
int dl_kevent_new(dl_machine *m, int type, int state, dl_kevent **out) {
  if (type != DL_NOTIFICATION_EVENT && type != DL_SYNCHRONIZATION_EVENT) return DL_EINVAL;
  dl_kevent *e = calloc(1, sizeof *e);
  if (!e) return DL_ENOMEM;
  dl_object_init(DL_OBJECT(e), m, &dl_kevent_type, NULL);
  e->kind = type;
  e->signaled = state != 0;
  *out = e;
  return DL_OK;
}

/* Frees an event. */
void dl_kevent_free(dl_kevent *e) {
  if (!e) return;
  dl_object_unlink(DL_OBJECT(e));
  free(e);
}

static void destroy(dl_object *o) { dl_kevent_free((dl_kevent *)o); }

const dl_object_type dl_kevent_type = { "KEVENT", destroy, NULL, NULL, NULL };

/* KeSetEvent. */
int dl_kevent_set(dl_kevent *e) {
  uint8_t now = dl_machine_irql(e->m);
  if (now > DL_DISPATCH_LEVEL)
    dl_verify_fail(e->m, DL_BUGCHECK_DETECTED_VIOLATION, DL_C4_SET_EVENT_IRQL, now, e->id, 0,
                   "KeSetEvent on KEVENT#%llu at IRQL %u; it must be called at IRQL <= "
                   "DISPATCH_LEVEL", (unsigned long long)e->id, now);
  int was = e->signaled;
  e->signaled = 1;
  return was;
}

/* KeResetEvent / KeClearEvent. */
int dl_kevent_reset(dl_kevent *e) {
  dl_verify_irql(e->m, "KeResetEvent", 0, DL_DISPATCH_LEVEL);
  int was = e->signaled;
  e->signaled = 0;
  return was;
}

/* KeReadStateEvent. */
int dl_kevent_state(const dl_kevent *e) { return e->signaled; }

/* The most events a wait runs: the clock's run limit, and without a
** deadline at most DL_WAIT_EVENT_LIMIT. */
uint64_t dl_ke_wait_limit(dl_machine *m, int has_deadline) {
  uint64_t run = dl_clock_run_limit(dl_machine_clock(m));
  if (has_deadline) return run;
  return run && run < DL_WAIT_EVENT_LIMIT ? run : DL_WAIT_EVENT_LIMIT;
}

/* Runs the clock until done(ctx) or the deadline. */
int dl_ke_wait(dl_machine *m, dl_wait_fn done, void *ctx, int has_deadline, uint64_t deadline,
               int *satisfied) {
  dl_clock *c = dl_machine_clock(m);
  uint64_t n = 0, when, limit = dl_ke_wait_limit(m, has_deadline);
  *satisfied = 0;
  while (!done(ctx)) {
    if (dl_clock_stopping(c)) return DL_ESTATE;
    int pending = dl_clock_peek(c, &when);
    if (has_deadline && (!pending || when > deadline)) {
      dl_clock_advance(c, deadline);
      return DL_OK;
    }
    if (!pending) return DL_ESTATE;
    if (limit && ++n > limit) return DL_ELIMIT;  /* a periodic timer would go on for ever */
    dl_clock_step(c);
  }
  *satisfied = 1;
  return DL_OK;
}

static int never(void *ctx) {
  (void)ctx;
  return 0;
}

/* KeStallExecutionProcessor. */
int dl_ke_stall(dl_machine *m, uint32_t microseconds) {
  dl_cpu *cpu = dl_machine_cpu(m, dl_machine_current_cpu(m));
  uint64_t deadline = dl_clock_now(dl_machine_clock(m)) + (uint64_t)microseconds * 1000;
  int satisfied;
  cpu->stalling++;  /* drain() and deliver() look at the IRQL it spins at */
  int rc = dl_ke_wait(m, never, NULL, 1, deadline, &satisfied);
  cpu->stalling--;
  return rc;
}

static int signaled(void *ctx) { return ((dl_kevent *)ctx)->signaled; }

/* KeWaitForSingleObject on an event. */
int dl_kevent_wait(dl_kevent *e, const int64_t *timeout, uint32_t *status) {
  dl_machine *m = e->m;
  uint8_t now = dl_machine_irql(m);
  int poll = timeout && *timeout == 0;
  if (now > (poll ? DL_DISPATCH_LEVEL : DL_APC_LEVEL)) {
    dl_verify_fail(m, DL_BUGCHECK_IRQL_NOT_LESS_OR_EQUAL, 0, now, e->id, 0,
                   "KeWaitForSingleObject on KEVENT#%llu at IRQL %u: a wait %s must be at "
                   "IRQL <= %s", (unsigned long long)e->id, now,
                   poll ? "with a zero timeout" : "that may block",
                   poll ? "DISPATCH_LEVEL" : "APC_LEVEL");
    poll = 1;
  }
  int satisfied = e->signaled, rc = DL_OK;
  if (!satisfied && !poll) {
    uint64_t t = dl_clock_now(dl_machine_clock(m));
    rc = dl_ke_wait(m, signaled, e, timeout != NULL, timeout ? dl_due_time_ns(t, *timeout) : 0,
                    &satisfied);
  }
  if (satisfied && e->kind == DL_SYNCHRONIZATION_EVENT) e->signaled = 0;
  *status = satisfied ? 0 : DL_STATUS_TIMEOUT;
  return rc;
}
