/*
** dl_cpu.h: simulated CPUs, their IRQL and their DPC queues, and DPC
** objects with the kernel's semantics (reference section 3): a DPC is queued
** at most once (KeInsertQueueDpc returns FALSE and drops the new arguments
** while it is queued), high importance goes to the head of the queue, the
** queued mark is cleared before the routine runs (so it may queue itself
** again), and each CPU drains its queue at DISPATCH_LEVEL a dispatch latency
** after the queue became non-empty.
*/
#ifndef DL_CPU_H
#define DL_CPU_H

#include <stdint.h>

#include "base/dl_list.h"
#include "machine/dl_machine.h"
#include "machine/dl_object.h"

typedef struct dl_machine dl_machine;
typedef struct dl_dpc dl_dpc;


/* KDPC importance. */
enum { DL_LOW_IMPORTANCE = 0, DL_MEDIUM_IMPORTANCE = 1, DL_HIGH_IMPORTANCE = 2,
       DL_MEDIUM_HIGH_IMPORTANCE = 3 };

/* A DPC routine: DeferredRoutine(Dpc, DeferredContext, SystemArgument1, SystemArgument2). */
typedef void (*dl_dpc_fn)(void *ctx, dl_dpc *dpc, uint64_t arg1, uint64_t arg2);


/* A DPC (KDPC), owned by its machine. */
struct dl_dpc {
  DL_OBJECT_FIELDS
  dl_link link;            /* on a CPU's queue while queued */
  dl_dpc_fn fn;
  void *ctx;
  uint8_t importance;
  int target;              /* CPU number, or -1 for the CPU that queues it */
  int queued;
  uint64_t arg1, arg2, queued_at;
};


/* KeInitializeDpc: a new DPC owned by the machine. */
int dl_dpc_new(dl_machine *m, dl_dpc_fn fn, void *ctx, dl_dpc **out);

/* Frees a DPC (removing it from its queue); NULL is a harmless no-op. */
void dl_dpc_free(dl_dpc *dpc);

/* KeInsertQueueDpc: 1 if queued now, 0 if it already was (arguments dropped). */
int dl_dpc_insert(dl_dpc *dpc, uint64_t arg1, uint64_t arg2);

/* KeRemoveQueueDpc: 1 if it was queued. */
int dl_dpc_remove(dl_dpc *dpc);

/* KeSetImportanceDpc and KeSetTargetProcessorDpc (-1: the queuing CPU). */
void dl_dpc_set_importance(dl_dpc *dpc, uint8_t importance);
int dl_dpc_set_target(dl_dpc *dpc, int cpu);

/* The KDPC type. */
extern const dl_object_type dl_dpc_type;

/* A kernel timer (KTIMER): when it expires it queues its DPC, if it has
** one, and again every period if it is periodic. */
typedef struct dl_timer {
  DL_OBJECT_FIELDS
  dl_dpc *dpc;
  int set, signaled;
  uint64_t event, due;
  uint64_t period;         /* ns, 0: one-shot */
} dl_timer;

/* KeInitializeTimer: a new timer owned by the machine. */
int dl_timer_new(dl_machine *m, dl_timer **out);

/* Frees a timer (cancelling it); NULL is a harmless no-op. */
void dl_timer_free(dl_timer *t);

/* KeSetTimerEx: expires at absolute time `due` (then every period ns),
** queuing dpc (may be NULL); returns 1 if it was already set (and is reset). */
int dl_timer_set(dl_timer *t, uint64_t due, uint64_t period, dl_dpc *dpc);

/* KeSetTimerEx with the kernel's DueTime: negative is relative to now,
** positive an absolute system time (the simulated clock from 0), both in
** 100 ns units; a time already past expires at once. Period in ms (0:
** one-shot). Returns 1 if the timer was already set (and is reset). */
int dl_timer_set_due(dl_timer *t, int64_t due_time, uint32_t period_ms, dl_dpc *dpc);

/* Converts a DueTime (100 ns units, negative relative) to simulated ns. */
uint64_t dl_due_time_ns(uint64_t now, int64_t due_time);

/* KeCancelTimer: returns 1 if it was set. */
int dl_timer_cancel(dl_timer *t);

/* KeReadStateTimer (signalled: expired since it was set), whether it is
** set, and when it expires next (ns). */
int dl_timer_signaled(const dl_timer *t);
int dl_timer_is_set(const dl_timer *t);
uint64_t dl_timer_due(const dl_timer *t);

/* The KTIMER type. */
extern const dl_object_type dl_timer_type;

/* Whether a DPC is queued, and its importance. */
int dl_dpc_queued(const dl_dpc *dpc);
uint8_t dl_dpc_importance(const dl_dpc *dpc);

/* KeRaiseIrql: *old is the IRQL before. Raising to a lower level is bug
** check 0x9 IRQL_NOT_GREATER_OR_EQUAL, which the kernel raises with or
** without the verifier: DL_EINVAL, the IRQL stays (the caller stops). */
int dl_ke_raise_irql(dl_machine *m, uint8_t level, uint8_t *old);

/* KeLowerIrql: lowering to a higher level is bug check 0xA
** IRQL_NOT_LESS_OR_EQUAL, with or without the verifier: DL_EINVAL, the
** IRQL stays. */
int dl_ke_lower_irql(dl_machine *m, uint8_t level);

#endif
