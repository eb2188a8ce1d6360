/*
** dl_cpu.c: DPC queues and their draining.
*/
#include "dl_cpu.h"

#include <stdlib.h>

#include "dl_machine.h"
#include "dl_status.h"
#include "dl_trace.h"

/* Initialises the machine's CPUs. */
void dl_cpus_init(dl_cpu *cpus, int n) {
  for (int i = 0; i < n; i++) {
    cpus[i].irql = DL_PASSIVE_LEVEL;
    cpus[i].isr = NULL;
    cpus[i].drain_scheduled = 0;
    dl_list_init(&cpus[i].dpcs);
  }
}

/* KeInitializeDpc. */
int dl_dpc_new(dl_machine *m, dl_dpc_fn fn, void *ctx, dl_dpc **out) {
  dl_dpc *dpc = calloc(1, sizeof *dpc);
  if (!dpc) return DL_ENOMEM;
  dpc->m = m;
  dpc->id = dl_machine_next_id(m);
  dpc->fn = fn;
  dpc->ctx = ctx;
  dpc->importance = DL_MEDIUM_IMPORTANCE;
  dpc->target = -1;
  dl_list_init(&dpc->link);
  dl_list_append(dl_machine_dpcs(m), &dpc->all);
  *out = dpc;
  return DL_OK;
}

/* Frees a DPC. */
void dl_dpc_free(dl_dpc *dpc) {
  if (!dpc) return;
  if (dpc->queued) dl_list_remove(&dpc->link);
  dl_list_remove(&dpc->all);
  free(dpc);
}

/* A CPU's drain_scheduled is the generation of its pending drain event
** (> 0), or minus the last one (<= 0) when none is pending: a drain whose
** queue KeRemoveQueueDpc emptied is abandoned that way, so the next insert
** waits a whole dispatch latency again. The event carries its generation
** above the CPU number. */
#define DRAIN_CPU_BITS 8

/* Abandons the pending drain of a CPU whose queue is empty. */
static void abandon_if_empty(dl_cpu *cpu) {
  if (cpu->drain_scheduled > 0 && dl_list_empty(&cpu->dpcs)) cpu->drain_scheduled = -cpu->drain_scheduled;
}

/* Runs every DPC queued on one CPU, at DISPATCH_LEVEL (a clock event). */
static void drain(void *arg, uint64_t data) {
  dl_machine *m = arg;
  int cpu_index = (int)(data & ((1u << DRAIN_CPU_BITS) - 1));
  dl_cpu *cpu = dl_machine_cpu(m, cpu_index);
  if (cpu->drain_scheduled != (int)(data >> DRAIN_CPU_BITS)) return;  /* abandoned */
  int prev_cpu = dl_machine_current_cpu(m);
  dl_machine_set_current_cpu(m, cpu_index);
  uint8_t irql = cpu->irql;
  cpu->drain_scheduled = -cpu->drain_scheduled;
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
  }
  abandon_if_empty(cpu);  /* what the routines queued ran in this drain */
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
  if (cpu->drain_scheduled <= 0) {
    int gen = (-cpu->drain_scheduled + 1) & 0x3fffffff;
    cpu->drain_scheduled = gen ? gen : 1;
    uint64_t data = (uint64_t)cpu->drain_scheduled << DRAIN_CPU_BITS | (uint64_t)n;
    dl_clock_after(dl_machine_clock(m), dl_machine_config_of(m)->dpc_latency, drain, m, data, NULL);
  }
  return 1;
}

/* KeRemoveQueueDpc; a queue it empties abandons its pending drain. */
int dl_dpc_remove(dl_dpc *dpc) {
  if (!dpc->queued) return 0;
  dl_list_remove(&dpc->link);
  dpc->queued = 0;
  for (int i = 0; i < (int)dl_machine_config_of(dpc->m)->cpus; i++)
    abandon_if_empty(dl_machine_cpu(dpc->m, i));  /* the one it was on, if now empty */
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

/* The DPC that owns a link of the machine's DPC list. */
dl_dpc *dl_dpc_from_all(dl_link *l) { return DL_CONTAINER(l, dl_dpc, all); }
