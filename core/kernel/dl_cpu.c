/*
** dl_cpu.c: DPC queues and their draining.
*/
#include "kernel/dl_cpu.h"

#include <stdlib.h>

#include "machine/dl_machine.h"
#include "base/dl_status.h"
#include "machine/dl_verifier.h"
#include "machine/dl_trace.h"

/* KeInitializeDpc. */
int dl_dpc_new(dl_machine *m, dl_dpc_fn fn, void *ctx, dl_dpc **out) {
  dl_dpc *dpc = malloc(sizeof *dpc);
  if (!dpc) return DL_ENOMEM;
  *dpc = (dl_dpc){ .fn = fn, .ctx = ctx, .importance = DL_MEDIUM_IMPORTANCE, .target = -1 };
  dl_object_init(DL_OBJECT(dpc), m, &dl_dpc_type, NULL);
  dl_list_init(&dpc->link);
  *out = dpc;
  return DL_OK;
}

/* Frees a DPC. */
void dl_dpc_free(dl_dpc *dpc) {
  if (!dpc) return;
  if (dpc->queued) dl_list_remove(&dpc->link);
  dl_object_unlink(DL_OBJECT(dpc));
  free(dpc);
}

/* Cancels the pending drain of a CPU whose queue became empty, so the next
** insert waits a whole dispatch latency again. */
static void abandon_if_empty(dl_machine *m, dl_cpu *cpu) {
  if (!cpu->drain_scheduled || !dl_list_empty(&cpu->dpcs)) return;
  dl_clock_cancel(dl_machine_clock(m), cpu->drain_event);
  cpu->drain_scheduled = 0;
}

/* Runs every DPC queued on one CPU, at DISPATCH_LEVEL (a clock event). */
static void drain(void *arg, uint64_t data) {
  dl_machine *m = arg;
  int cpu_index = (int)data;
  dl_cpu *cpu = dl_machine_cpu(m, cpu_index);
  if (cpu->stalling && cpu->irql >= DL_DISPATCH_LEVEL) {
    /* the CPU spins in KeStallExecutionProcessor at DISPATCH_LEVEL or
    ** above: its DPCs wait (the DPC it may be running drains the queue
    ** when it returns, else this drain runs once the spin is over) */
    dl_clock_after(dl_machine_clock(m), dl_machine_config_of(m)->dpc_latency, drain, m, data,
                   &cpu->drain_event);
    return;
  }
  int prev_cpu = dl_machine_current_cpu(m);
  dl_machine_set_current_cpu(m, cpu_index);
  uint8_t irql = cpu->irql;
  cpu->drain_scheduled = 0;
  dl_trace *t = dl_machine_trace(m);
  while (!dl_list_empty(&cpu->dpcs)) {
    dl_dpc *dpc = DL_CONTAINER(cpu->dpcs.next, dl_dpc, link);
    dl_list_remove(&dpc->link);
    dpc->queued = 0;  /* cleared first: the routine may queue it again */
    uint64_t latency = dl_clock_now(dl_machine_clock(m)) - dpc->queued_at;
    cpu->irql = DL_DISPATCH_LEVEL;
    dl_stats_dpc_latency(t, latency);
    dl_trace_emit(m, DL_TR_DPC_RUN, dpc->id, latency, 0);
    dpc->fn(dpc->ctx, dpc, dpc->arg1, dpc->arg2);
    if (dl_clock_count_work(dl_machine_clock(m)) && !dl_list_empty(&cpu->dpcs)) {
      /* a DPC that queues itself forever: the run stops, the rest waits */
      if (!cpu->drain_scheduled) {  /* (the routine's insert may have scheduled one) */
        cpu->drain_scheduled = 1;
        dl_clock_after(dl_machine_clock(m), 0, drain, m, data, &cpu->drain_event);
      }
      break;
    }
  }
  abandon_if_empty(m, cpu);  /* what the routines queued ran in this drain */
  cpu->irql = irql;
  dl_machine_set_current_cpu(m, prev_cpu);
}

/* KeInsertQueueDpc. */
int dl_dpc_insert(dl_dpc *dpc, uint64_t arg1, uint64_t arg2) {
  if (dpc->queued) return 0;
  dl_machine *m = dpc->m;
  int n = dpc->target >= 0 ? dpc->target : dl_machine_current_cpu(m);
  dl_cpu *cpu = dl_machine_cpu(m, n);
  dpc->queued = 1;
  dpc->arg1 = arg1;
  dpc->arg2 = arg2;
  dpc->queued_at = dl_clock_now(dl_machine_clock(m));
  if (dpc->importance == DL_HIGH_IMPORTANCE) {
    dl_link *head = &cpu->dpcs;  /* insert after the head sentinel */
    dpc->link.prev = head;
    dpc->link.next = head->next;
    head->next->prev = &dpc->link;
    head->next = &dpc->link;
  } else {
    dl_list_append(&cpu->dpcs, &dpc->link);
  }
  dl_trace_emit(m, DL_TR_DPC_QUEUED, dpc->id, (uint64_t)n, 0);
  if (!cpu->drain_scheduled) {
    cpu->drain_scheduled = 1;
    dl_clock_after(dl_machine_clock(m), dl_machine_config_of(m)->dpc_latency, drain, m,
                   (uint64_t)n, &cpu->drain_event);
  }
  return 1;
}

/* KeRemoveQueueDpc; a queue it empties abandons its pending drain. */
int dl_dpc_remove(dl_dpc *dpc) {
  if (!dpc->queued) return 0;
  dl_list_remove(&dpc->link);
  dpc->queued = 0;
  dl_trace_dpc_removed(dpc->m);
  for (int i = 0; i < (int)dl_machine_config_of(dpc->m)->cpus; i++)
    abandon_if_empty(dpc->m, dl_machine_cpu(dpc->m, i));  /* the one it was on, if now empty */
  return 1;
}

/* KeSetImportanceDpc. */
void dl_dpc_set_importance(dl_dpc *dpc, uint8_t importance) { dpc->importance = importance; }

/* KeSetTargetProcessorDpc; DL_EINVAL for a CPU the machine lacks. */
int dl_dpc_set_target(dl_dpc *dpc, int cpu) {
  if (cpu >= (int)dl_machine_config_of(dpc->m)->cpus || cpu < -1) return DL_EINVAL;
  dpc->target = cpu;
  return DL_OK;
}

static void destroy_dpc(dl_object *o) { dl_dpc_free((dl_dpc *)o); }

const dl_object_type dl_dpc_type = { "KDPC", destroy_dpc, NULL, NULL, NULL };

/* KeInitializeTimer. */
int dl_timer_new(dl_machine *m, dl_timer **out) {
  dl_timer *t = calloc(1, sizeof *t);
  if (!t) return DL_ENOMEM;
  dl_object_init(DL_OBJECT(t), m, &dl_timer_type, NULL);
  *out = t;
  return DL_OK;
}

/* Frees a timer. */
void dl_timer_free(dl_timer *t) {
  if (!t) return;
  dl_timer_cancel(t);
  dl_object_unlink(DL_OBJECT(t));
  free(t);
}

/* A timer expires (a clock event): signalled, its DPC queued, re-armed if
** periodic. */
static void expire(void *arg, uint64_t unused) {
  (void)unused;
  dl_timer *t = arg;
  t->set = 0;
  t->signaled = 1;
  if (t->period) {
    t->due = t->period > DL_TIME_END - t->due ? DL_TIME_END : t->due + t->period;
    t->set = 1;
    dl_clock_at(dl_machine_clock(t->m), t->due, expire, t, 0, &t->event);
  }
  if (t->dpc) dl_dpc_insert(t->dpc, 0, 0);
}

/* KeSetTimerEx. */
int dl_timer_set(dl_timer *t, uint64_t due, uint64_t period, dl_dpc *dpc) {
  int was = dl_timer_cancel(t);
  uint64_t now = dl_clock_now(dl_machine_clock(t->m));
  t->due = due < now ? now : due;
  t->period = period;
  t->dpc = dpc;
  t->signaled = 0;
  t->set = dl_clock_at(dl_machine_clock(t->m), t->due, expire, t, 0, &t->event) == DL_OK;
  return was;
}

/* KeCancelTimer. */
int dl_timer_cancel(dl_timer *t) {
  if (!t->set) return 0;
  dl_clock_cancel(dl_machine_clock(t->m), t->event);
  t->set = 0;
  return 1;
}

static void destroy_timer(dl_object *o) { dl_timer_free((dl_timer *)o); }

/* End of a run with the timer still set: bug check 0xC7 with P1 0 on Windows
** when the memory holding it is freed. */
static size_t timer_leaks(dl_object *o) {
  dl_timer *t = (dl_timer *)o;
  if (!t->set) return 0;
  dl_verify_fail(o->m, DL_BUGCHECK_TIMER_OR_DPC_INVALID, 0, o->id, 0, 0,
                 "leak at end of run: KTIMER#%llu is still set (KeCancelTimer before unload)",
                 (unsigned long long)o->id);
  dl_verifier_mark_leak(o->m);
  return 1;
}

const dl_object_type dl_timer_type = { "KTIMER", destroy_timer, timer_leaks, NULL, NULL };

/* DueTime to ns: negative relative, positive absolute, in 100 ns units;
** saturates at the end of simulated time instead of wrapping. */
uint64_t dl_due_time_ns(uint64_t now, int64_t due_time) {
  if (due_time >= 0)
    return (uint64_t)due_time > DL_TIME_END / 100 ? DL_TIME_END : (uint64_t)due_time * 100;
  uint64_t rel = due_time == INT64_MIN ? (uint64_t)INT64_MAX + 1 : (uint64_t)-due_time;
  uint64_t ns = rel > DL_TIME_END / 100 ? DL_TIME_END : rel * 100;
  return ns > DL_TIME_END - now ? DL_TIME_END : now + ns;
}

/* KeSetTimerEx with the kernel's units. */
int dl_timer_set_due(dl_timer *t, int64_t due_time, uint32_t period_ms, dl_dpc *dpc) {
  uint64_t now = dl_clock_now(dl_machine_clock(t->m));
  return dl_timer_set(t, dl_due_time_ns(now, due_time), (uint64_t)period_ms * 1000000, dpc);
}

/* Timer state. */
int dl_timer_signaled(const dl_timer *t) { return t->signaled; }
int dl_timer_is_set(const dl_timer *t) { return t->set; }
uint64_t dl_timer_due(const dl_timer *t) { return t->due; }

/* DPC state. */
int dl_dpc_queued(const dl_dpc *dpc) { return dpc->queued; }
uint8_t dl_dpc_importance(const dl_dpc *dpc) { return dpc->importance; }

/* KeRaiseIrql. */
int dl_ke_raise_irql(dl_machine *m, uint8_t level, uint8_t *old) {
  *old = dl_machine_irql(m);
  if (level < *old) return DL_EINVAL;
  dl_machine_set_irql(m, level);
  return DL_OK;
}

/* KeLowerIrql. */
int dl_ke_lower_irql(dl_machine *m, uint8_t level) {
  if (level > dl_machine_irql(m)) return DL_EINVAL;
  dl_machine_set_irql(m, level);
  return DL_OK;
}
