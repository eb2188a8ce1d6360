/*
** dl_interrupt.c: line state and ISR delivery as clock events.
*/
#include "kernel/dl_interrupt.h"

#include <stdlib.h>

#include "kernel/dl_cpu.h"
#include "machine/dl_machine.h"
#include "base/dl_status.h"
#include "machine/dl_trace.h"
#include "machine/dl_verifier.h"
#include "base/dl_vec.h"

typedef struct line {
  dl_link isrs;              /* connected interrupts, in connection order */
  int latched_edge, delivery_pending, masked;
  int delivering;            /* its ISRs are running: disconnects are deferred */
  uint32_t unclaimed_run;
  uint64_t asserted_run;       /* deliveries in a row with the line still held */
  uint64_t source;           /* the device that raised it last */
  uint64_t *holders;         /* devices asserting it (a wired OR), oldest first */
  uint32_t nholders, cap;
} line;

struct dl_lines { line v[DL_MAX_VECTORS]; };

/* Frees the line table (its interrupts, objects of the machine, went first). */
static void lines_free(void *part) {
  dl_lines *lines = part;
  for (int i = 0; i < DL_MAX_VECTORS; i++) free(lines->v[i].holders);
  free(lines);
}

/* The machine's line table, made on first use; NULL without memory. */
static dl_lines *lines_of(dl_machine *m) {
  dl_lines *lines = dl_machine_part(m, DL_PART_LINES);
  if (lines) return lines;
  if (!(lines = calloc(1, sizeof *lines))) return NULL;
  for (int i = 0; i < DL_MAX_VECTORS; i++) dl_list_init(&lines->v[i].isrs);
  dl_machine_set_part(m, DL_PART_LINES, lines, lines_free);
  return lines;
}

static void schedule_delivery(dl_machine *m, uint32_t vector);

/* Reports a call made above PASSIVE_LEVEL (0xC4 with `rule`); the call goes on. */
static void at_passive(dl_machine *m, uint32_t rule, const char *call) {
  uint8_t now = dl_machine_irql(m);
  if (now != DL_PASSIVE_LEVEL)
    dl_verify_fail(m, DL_BUGCHECK_DETECTED_VIOLATION, rule, now, 0, DL_PASSIVE_LEVEL,
                   "%s: called at IRQL %u; it must be called at IRQL 0", call, (unsigned)now);
}

/* IoConnectInterrupt. */
int dl_interrupt_connect(dl_machine *m, uint32_t vector, uint8_t irql, uint8_t sync_irql,
                         int latched, int shared, uint64_t affinity, dl_isr_fn isr, void *ctx,
                         dl_interrupt **out) {
  at_passive(m, DL_DDI_IRQL_IO_PASSIVE2, "IoConnectInterrupt");
  if (vector >= DL_MAX_VECTORS || irql <= DL_DISPATCH_LEVEL || irql > DL_HIGH_LEVEL ||
      sync_irql < irql || sync_irql > DL_HIGH_LEVEL)
    return DL_EINVAL;
  uint32_t cpus = dl_machine_config_of(m)->cpus;
  if (cpus < 64) affinity &= (UINT64_C(1) << cpus) - 1;
  if (!affinity) return DL_EINVAL;  /* none of the machine's CPUs, as in the kernel */
  dl_lines *lines = lines_of(m);
  if (!lines) return DL_ENOMEM;
  line *ln = &lines->v[vector];
  for (dl_link *l = ln->isrs.next; l != &ln->isrs; l = l->next) {
    dl_interrupt *other = DL_CONTAINER(l, dl_interrupt, link);
    if (other->isr && (!shared || !other->shared)) return DL_EBUSY;  /* isr NULL: going away */
  }
  dl_interrupt *intr = calloc(1, sizeof *intr);
  if (!intr) return DL_ENOMEM;
  dl_object_init(DL_OBJECT(intr), m, &dl_interrupt_type, NULL);
  intr->vector = vector;
  intr->irql = irql;
  intr->sync_irql = sync_irql;
  intr->latched = latched;
  intr->shared = shared;
  intr->cpu = __builtin_ctzll(affinity);  /* the lowest CPU of the affinity */
  intr->isr = isr;
  intr->ctx = ctx;
  dl_list_append(&ln->isrs, &intr->link);
  if (ln->masked) {  /* a storm on a line nobody served: a new ISR gets it afresh */
    ln->masked = 0;
    ln->unclaimed_run = 0;
    ln->asserted_run = 0;
    if (ln->nholders) schedule_delivery(m, vector);
  }
  *out = intr;
  return DL_OK;
}

/* IoDisconnectInterrupt. While its line's ISRs run (an ISR may disconnect
** itself or another on the line) the interrupt only loses its ISR; the
** delivery frees it once they are done. */
void dl_interrupt_disconnect(dl_interrupt *intr) {
  if (!intr) return;
  if (lines_of(intr->m)->v[intr->vector].delivering) {
    intr->isr = NULL;
    return;
  }
  dl_list_remove(&intr->link);
  dl_object_unlink(DL_OBJECT(intr));
  free(intr);
}

/* IoDisconnectInterrupt(Ex) by a driver. */
void dl_io_disconnect_interrupt(dl_interrupt *intr) {
  if (!intr) return;
  at_passive(intr->m, DL_DDI_IRQL_IO_PASSIVE4, "IoDisconnectInterrupt");
  dl_interrupt_disconnect(intr);
}

/* Machine teardown: nothing is being delivered any more. */
static void destroy(dl_object *o) {
  dl_interrupt *intr = (dl_interrupt *)o;
  lines_of(o->m)->v[intr->vector].delivering = 0;
  dl_interrupt_disconnect(intr);
}

const dl_object_type dl_interrupt_type = { "KINTERRUPT", destroy, NULL, NULL, NULL };

/* KeSynchronizeExecution: raise to SynchronizeIrql, run, restore. */
int dl_interrupt_synchronize(dl_interrupt *intr, int (*fn)(void *ctx), void *ctx) {
  dl_machine *m = intr->m;
  uint8_t irql = dl_machine_irql(m);
  if (intr->sync_irql > irql) dl_machine_set_irql(m, intr->sync_irql);
  int result = fn(ctx);
  dl_machine_set_irql(m, irql);
  return result;
}


/* The fault kind of the record a masked storm leaves: obj = the device
** holding the line, b = the vector (kinds below it are injected faults). */
#define DL_FAULT_INTERRUPT_STORM 0xFFFF

/* Runs the ISR chain of a line on the CPU of its first interrupt. */
static int run_isrs(dl_machine *m, line *ln, uint32_t vector) {
  int claimed = 0, prev_cpu = dl_machine_current_cpu(m);
  ln->delivering++;  /* disconnects wait until the chain is done */
  for (dl_link *l = ln->isrs.next; !claimed && l != &ln->isrs; l = l->next) {
    dl_interrupt *intr = DL_CONTAINER(l, dl_interrupt, link);
    if (!intr->isr) continue;  /* disconnected by an ISR before it */
    dl_machine_set_current_cpu(m, intr->cpu);
    dl_cpu *cpu = dl_machine_cpu(m, intr->cpu);
    uint8_t irql = cpu->irql;
    void *outer = cpu->isr;
    cpu->irql = intr->irql;
    cpu->isr = intr;
    dl_trace_stats(dl_machine_trace(m))->isrs++;
    claimed = intr->isr(intr->ctx, intr);
    dl_trace_emit(m, DL_TR_ISR, vector, (uint64_t)claimed, intr->id);
    cpu->isr = outer;
    cpu->irql = irql;
    if (claimed) intr->claimed++;
  }
  if (--ln->delivering == 0)
    for (dl_link *l = ln->isrs.next, *next; l != &ln->isrs; l = next) {
      next = l->next;
      dl_interrupt *intr = DL_CONTAINER(l, dl_interrupt, link);
      if (!intr->isr) dl_interrupt_disconnect(intr);
    }
  dl_machine_set_current_cpu(m, prev_cpu);
  return claimed;
}

/* Delivers a line's interrupt (a clock event). */
static void deliver(void *arg, uint64_t vector) {
  dl_machine *m = arg;
  line *ln = &lines_of(m)->v[vector];
  ln->delivery_pending = 0;
  if (!dl_list_empty(&ln->isrs)) {
    dl_interrupt *first = DL_CONTAINER(ln->isrs.next, dl_interrupt, link);
    dl_cpu *cpu = dl_machine_cpu(m, first->cpu);
    if (cpu->stalling && cpu->irql >= first->irql) {  /* masked by the spin's IRQL */
      schedule_delivery(m, (uint32_t)vector);
      return;
    }
  }
  int level = dl_list_empty(&ln->isrs) ||
              !DL_CONTAINER(ln->isrs.next, dl_interrupt, link)->latched;
  int edge = ln->latched_edge;
  ln->latched_edge = 0;
  if (ln->masked || !(level ? ln->nholders > 0 : edge)) return;  /* withdrawn in time */
  dl_stats *st = dl_trace_stats(dl_machine_trace(m));
  st->interrupts++;
  uint64_t device = level ? ln->holders[0] : ln->source;
  dl_trace_emit(m, DL_TR_INTERRUPT, vector, device, 0);
  int claimed = !dl_list_empty(&ln->isrs) && run_isrs(m, ln, (uint32_t)vector);
  if (!claimed) st->interrupts_unclaimed++;
  ln->unclaimed_run = claimed ? 0 : ln->unclaimed_run + 1;
  if (ln->unclaimed_run >= DL_STORM_LIMIT) {
    ln->masked = 1;  /* an unclaimed level interrupt would storm forever */
    dl_trace_emit(m, DL_TR_FAULT, device, DL_FAULT_INTERRUPT_STORM, vector);
    return;
  }
  if (!(level && ln->nholders)) {
    ln->asserted_run = 0;
    return;
  }
  /* An ISR that claims but never quiets its device storms just the same;
  ** masking it keeps m:run() from spinning forever. */
  if (++ln->asserted_run >= DL_CLAIMED_STORM_LIMIT) {
    ln->masked = 1;
    dl_trace_emit(m, DL_TR_FAULT, device, DL_FAULT_INTERRUPT_STORM, vector);
    return;
  }
  schedule_delivery(m, (uint32_t)vector);
}

static void schedule_delivery(dl_machine *m, uint32_t vector) {
  line *ln = &lines_of(m)->v[vector];
  if (ln->delivery_pending || ln->masked) return;
  ln->delivery_pending = 1;
  dl_clock_after(dl_machine_clock(m), dl_machine_config_of(m)->interrupt_latency, deliver, m,
                 vector, NULL);
}

/* A device drives its line. The line is the wired OR of its devices: it
** stays asserted while any of them asserts it, and rises when the first does. */
void dl_line_set(dl_machine *m, uint32_t vector, int asserted, uint64_t source) {
  dl_lines *lines = lines_of(m);
  if (vector >= DL_MAX_VECTORS || !lines) return;  /* out of memory: the assertion is lost */
  line *ln = &lines->v[vector];
  uint32_t i = 0;
  while (i < ln->nholders && ln->holders[i] != source) i++;
  if (!asserted) {
    if (i == ln->nholders) return;
    for (; i + 1 < ln->nholders; i++) ln->holders[i] = ln->holders[i + 1];
    ln->nholders--;
    return;
  }
  if (i < ln->nholders) return;  /* this device holds it already */
  if (dl_vec_reserve(ln->holders, ln->cap, ln->nholders + 1)) return;  /* out of memory: the assertion is lost */
  ln->holders[ln->nholders++] = source;
  if (ln->nholders > 1) return;  /* no edge: the line was high already */
  ln->latched_edge = 1;
  ln->source = source;
  schedule_delivery(m, vector);
}

/* Returns 1 if the line is asserted. */
int dl_line_asserted(const dl_machine *m, uint32_t vector) {
  const dl_lines *lines = dl_machine_part(m, DL_PART_LINES);
  return vector < DL_MAX_VECTORS && lines && lines->v[vector].nholders > 0;
}

/* Returns 1 if the line was masked as an interrupt storm. */
int dl_line_masked(const dl_machine *m, uint32_t vector) {
  const dl_lines *lines = dl_machine_part(m, DL_PART_LINES);
  return vector < DL_MAX_VECTORS && lines && lines->v[vector].masked;
}

/* The interrupt whose ISR runs on the current CPU, or NULL. */
dl_interrupt *dl_interrupt_running(dl_machine *m) {
  return dl_machine_cpu(m, dl_machine_current_cpu(m))->isr;
}

/* Accessors. */
uint32_t dl_interrupt_vector(const dl_interrupt *intr) { return intr->vector; }
uint8_t dl_interrupt_irql(const dl_interrupt *intr) { return intr->irql; }
int dl_interrupt_latched(const dl_interrupt *intr) { return intr->latched; }
int dl_interrupt_shared(const dl_interrupt *intr) { return intr->shared; }
uint64_t dl_interrupt_claimed(const dl_interrupt *intr) { return intr->claimed; }
