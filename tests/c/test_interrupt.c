/*
** test_interrupt.c: interrupt lines and objects (core/kernel/dl_interrupt.c)
** without Lua, against reference section 3: the ISR runs interrupt_latency
** after the line rises, at its DIRQL on its CPU; shared lines run their ISRs
** in connection order until one claims; level lines are delivered again
** while held, edge lines once per rising edge; storms are masked;
** KeSynchronizeExecution raises to the SynchronizeIrql; an ISR requests its
** DPC (IoRequestDpc: the device's DpcForIsr queued with KeInsertQueueDpc's
** once-only rule), which runs later at DISPATCH_LEVEL.
*/
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "rig.h"
#include "io/dl_device.h"
#include "kernel/dl_cpu.h"
#include "kernel/dl_interrupt.h"
#include "machine/dl_machine.h"
#include "machine/dl_trace.h"
#include "machine/dl_verifier.h"
#include "base/dl_status.h"

/* An ISR's view of each call. */
typedef struct isr_log {
  int n;
  char name[64];
  uint64_t time[64];
  uint8_t irql[64];
  int cpu[64];
  dl_interrupt *running[64];
} isr_log;

typedef struct isr_ctx {
  isr_log *log;
  char name;
  dl_machine *m;
  int claim;                 /* what the ISR returns */
  uint32_t vector;
  int deassert;              /* quiets its device (drops the line) */
  int disconnect_self;
  dl_device *dev;            /* requests the device's DpcForIsr */
  int dpc_inserted;
} isr_ctx;

static int isr(void *ctx, dl_interrupt *intr) {
  isr_ctx *c = ctx;
  isr_log *l = c->log;
  if (l->n < 64) {
    l->name[l->n] = c->name;
    l->time[l->n] = dl_clock_now(dl_machine_clock(c->m));
    l->irql[l->n] = dl_machine_irql(c->m);
    l->cpu[l->n] = dl_machine_current_cpu(c->m);
    l->running[l->n] = dl_interrupt_running(c->m);
  }
  l->n++;
  if (c->deassert) dl_line_set(c->m, c->vector, 0, 77);
  if (c->disconnect_self) dl_interrupt_disconnect(intr);
  if (c->dev && dl_interrupt_running(c->m) == intr)  /* IoRequestDpc: only from the ISR */
    c->dpc_inserted += dl_dpc_insert(c->dev->dpc_for_isr, (uint64_t)l->n, 0);
  return c->claim;
}

static dl_interrupt *connect(dl_machine *m, uint32_t vector, uint8_t irql, int latched,
                             int shared, uint64_t affinity, isr_ctx *c) {
  dl_interrupt *intr = NULL;
  assert_int_equal(dl_interrupt_connect(m, vector, irql, irql, latched, shared, affinity, isr, c,
                                        &intr), DL_OK);
  return intr;
}

/* ---- connection ----------------------------------------------------------- */

/* IoConnectInterrupt refuses a vector out of range, a DIRQL at or below
** DISPATCH_LEVEL or above HIGH_LEVEL, a SynchronizeIrql below the DIRQL,
** and an affinity naming none of the machine's CPUs. */
static void test_connect_checks(void **state) {
  dl_machine *m = *state;
  isr_log l = {0};
  isr_ctx c = {&l, 'A', m, 1, 5, 0, 0, NULL, 0};
  dl_interrupt *i = NULL;
  assert_int_equal(dl_interrupt_connect(m, DL_MAX_VECTORS, 5, 5, 0, 0, 1, isr, &c, &i), DL_EINVAL);
  assert_int_equal(dl_interrupt_connect(m, 5, DL_DISPATCH_LEVEL, 5, 0, 0, 1, isr, &c, &i), DL_EINVAL);
  assert_int_equal(dl_interrupt_connect(m, 5, 16, 16, 0, 0, 1, isr, &c, &i), DL_EINVAL);
  assert_int_equal(dl_interrupt_connect(m, 5, 6, 5, 0, 0, 1, isr, &c, &i), DL_EINVAL);
  assert_int_equal(dl_interrupt_connect(m, 5, 5, 5, 0, 0, 0, isr, &c, &i), DL_EINVAL);
  assert_int_equal(dl_interrupt_connect(m, 5, 5, 5, 0, 0, UINT64_C(1) << 4, isr, &c, &i), DL_EINVAL);
  assert_null(i);
  assert_int_equal(dl_interrupt_connect(m, 5, 5, 8, 0, 0, 0xC, isr, &c, &i), DL_OK);
  assert_int_equal(i->cpu, 2);  /* the lowest CPU of the affinity */
  assert_int_equal(i->sync_irql, 8);
}

/* A line is exclusive unless every interrupt on it shares. */
static void test_exclusive_and_shared_lines(void **state) {
  dl_machine *m = *state;
  isr_log l = {0};
  isr_ctx c = {&l, 'A', m, 1, 9, 0, 0, NULL, 0};
  dl_interrupt *i = NULL;
  connect(m, 9, 5, 0, 0, 1, &c);
  assert_int_equal(dl_interrupt_connect(m, 9, 5, 5, 0, 1, 1, isr, &c, &i), DL_EBUSY);
  assert_int_equal(dl_interrupt_connect(m, 9, 5, 5, 0, 0, 1, isr, &c, &i), DL_EBUSY);
  connect(m, 10, 5, 0, 1, 1, &c);
  connect(m, 10, 6, 0, 1, 1, &c);
  assert_int_equal(dl_interrupt_connect(m, 10, 5, 5, 0, 0, 1, isr, &c, &i), DL_EBUSY);
}

/* ---- delivery ------------------------------------------------------------- */

/* The ISR runs interrupt_latency (1000 ns) after the line rises, at its
** DIRQL on its CPU, with dl_interrupt_running naming it; afterwards the
** CPU is back at its IRQL and no ISR is running. Traced: interrupt, isr. */
static void test_isr_after_latency_at_dirql(void **state) {
  dl_machine *m = *state;
  isr_log l = {0};
  isr_ctx c = {&l, 'A', m, 1, 7, 1, 0, NULL, 0};
  dl_interrupt *i = connect(m, 7, 9, 0, 0, 0x2, &c);
  dl_clock_run_until(dl_machine_clock(m), 300);
  dl_line_set(m, 7, 1, 77);
  assert_true(dl_line_asserted(m, 7));
  dl_clock_run_until(dl_machine_clock(m), 1299);
  assert_int_equal(l.n, 0);
  dl_clock_run(dl_machine_clock(m));
  assert_int_equal(l.n, 1);
  assert_int_equal(l.time[0], 1300);
  assert_int_equal(l.irql[0], 9);
  assert_int_equal(l.cpu[0], 1);
  assert_ptr_equal(l.running[0], i);
  assert_null(dl_interrupt_running(m));
  assert_int_equal(dl_machine_current_cpu(m), 0);
  assert_int_equal(dl_machine_cpu(m, 1)->irql, DL_PASSIVE_LEVEL);
  assert_int_equal(i->claimed, 1);
  dl_trace *t = dl_machine_trace(m);
  size_t n = dl_trace_count(t);
  assert_int_equal(dl_trace_at(t, n - 2)->kind, DL_TR_INTERRUPT);
  assert_int_equal(dl_trace_at(t, n - 2)->obj, 7);
  assert_int_equal(dl_trace_at(t, n - 2)->a, 77);
  assert_int_equal(dl_trace_at(t, n - 1)->kind, DL_TR_ISR);
  assert_int_equal(dl_trace_at(t, n - 1)->a, 1);
  assert_int_equal(dl_trace_stats(t)->interrupts, 1);
  assert_int_equal(dl_trace_stats(t)->isrs, 1);
}

/* A shared line runs its ISRs in connection order until one returns TRUE. */
static void test_shared_line_runs_isrs_until_claimed(void **state) {
  dl_machine *m = *state;
  isr_log l = {0};
  isr_ctx a = {&l, 'A', m, 0, 3, 0, 0, NULL, 0};
  isr_ctx b = {&l, 'B', m, 1, 3, 1, 0, NULL, 0};
  isr_ctx c = {&l, 'C', m, 1, 3, 1, 0, NULL, 0};
  connect(m, 3, 5, 0, 1, 1, &a);
  connect(m, 3, 5, 0, 1, 1, &b);
  connect(m, 3, 5, 0, 1, 1, &c);
  dl_line_set(m, 3, 1, 77);
  dl_clock_run(dl_machine_clock(m));
  assert_int_equal(l.n, 2);
  assert_memory_equal(l.name, "AB", 2);
  assert_int_equal(dl_trace_stats(dl_machine_trace(m))->interrupts_unclaimed, 0);
}

/* A level line still asserted after its ISR is delivered again, a latency
** later, until the ISR quiets the device. */
static void test_level_line_redelivered_while_held(void **state) {
  dl_machine *m = *state;
  isr_log l = {0};
  isr_ctx c = {&l, 'A', m, 1, 4, 0, 0, NULL, 0};
  connect(m, 4, 5, 0, 0, 1, &c);
  dl_line_set(m, 4, 1, 77);
  dl_clock_run_until(dl_machine_clock(m), 3000);
  assert_int_equal(l.n, 3);  /* 1000, 2000, 3000 */
  c.deassert = 1;
  dl_clock_run(dl_machine_clock(m));
  assert_int_equal(l.n, 4);
  assert_int_equal(l.time[3], 4000);
  assert_false(dl_line_asserted(m, 4));
}

/* A latched (edge) line is delivered once per rising edge, however long it
** is held; a line already high from one device gives no new edge when a
** second device asserts it (wired OR). */
static void test_edge_line_once_per_rising_edge(void **state) {
  dl_machine *m = *state;
  isr_log l = {0};
  isr_ctx c = {&l, 'E', m, 1, 6, 0, 0, NULL, 0};
  connect(m, 6, 5, 1, 0, 1, &c);
  dl_line_set(m, 6, 1, 1);
  dl_clock_run_until(dl_machine_clock(m), 10000);
  assert_int_equal(l.n, 1);
  dl_line_set(m, 6, 1, 2);  /* still high: no edge */
  dl_clock_run_until(dl_machine_clock(m), 20000);
  assert_int_equal(l.n, 1);
  dl_line_set(m, 6, 0, 1);
  assert_true(dl_line_asserted(m, 6));  /* device 2 still holds it */
  dl_line_set(m, 6, 0, 2);
  assert_false(dl_line_asserted(m, 6));
  dl_line_set(m, 6, 1, 1);  /* a new edge */
  dl_clock_run(dl_machine_clock(m));
  assert_int_equal(l.n, 2);
}

/* A level assertion withdrawn within the latency is never delivered. */
static void test_withdrawn_assertion_not_delivered(void **state) {
  dl_machine *m = *state;
  isr_log l = {0};
  isr_ctx c = {&l, 'A', m, 1, 8, 0, 0, NULL, 0};
  connect(m, 8, 5, 0, 0, 1, &c);
  dl_line_set(m, 8, 1, 77);
  dl_clock_run_until(dl_machine_clock(m), 500);
  dl_line_set(m, 8, 0, 77);
  dl_clock_run(dl_machine_clock(m));
  assert_int_equal(l.n, 0);
  assert_int_equal(dl_trace_stats(dl_machine_trace(m))->interrupts, 0);
}

/* A level interrupt no ISR claims storms: after DL_STORM_LIMIT unclaimed
** deliveries in a row the line is masked (trace fault); a new ISR
** connected to it unmasks it and gets the pending interrupt. */
static void test_unclaimed_storm_is_masked(void **state) {
  dl_machine *m = *state;
  isr_log l = {0};
  isr_ctx c = {&l, 'N', m, 0, 11, 0, 0, NULL, 0};
  connect(m, 11, 5, 0, 1, 1, &c);
  dl_line_set(m, 11, 1, 77);
  dl_clock_run(dl_machine_clock(m));  /* ends: the masked line schedules nothing */
  assert_int_equal(l.n, DL_STORM_LIMIT);
  assert_true(dl_line_masked(m, 11));
  assert_true(dl_line_asserted(m, 11));
  dl_trace *t = dl_machine_trace(m);
  assert_int_equal(dl_trace_stats(t)->interrupts_unclaimed, DL_STORM_LIMIT);
  const dl_trace_record *rec = dl_trace_at(t, dl_trace_count(t) - 1);
  assert_int_equal(rec->kind, DL_TR_FAULT);
  assert_int_equal(rec->obj, 77);
  assert_int_equal(rec->b, 11);
  isr_ctx fix = {&l, 'F', m, 1, 11, 1, 0, NULL, 0};
  connect(m, 11, 5, 0, 1, 1, &fix);
  assert_false(dl_line_masked(m, 11));
  dl_clock_run(dl_machine_clock(m));
  assert_int_equal(l.n, DL_STORM_LIMIT + 2);  /* N declines, F claims and quiets */
  assert_false(dl_line_asserted(m, 11));
}

/* An ISR that claims but never quiets its device is masked too, after
** DL_CLAIMED_STORM_LIMIT deliveries in a row. */
static void test_claimed_storm_is_masked(void **state) {
  dl_machine *m = *state;
  dl_trace_enable(dl_machine_trace(m), 0);
  isr_log l = {0};
  isr_ctx c = {&l, 'C', m, 1, 12, 0, 0, NULL, 0};
  connect(m, 12, 5, 0, 0, 1, &c);
  dl_line_set(m, 12, 1, 77);
  dl_clock_run(dl_machine_clock(m));
  assert_int_equal(l.n, DL_CLAIMED_STORM_LIMIT);
  assert_true(dl_line_masked(m, 12));
}

/* ---- synchronisation and DPCs ------------------------------------------------ */

typedef struct sync_probe { dl_machine *m; uint8_t irql; } sync_probe;

static int probe(void *ctx) {
  sync_probe *p = ctx;
  p->irql = dl_machine_irql(p->m);
  return 42;
}

/* KeSynchronizeExecution runs the routine at the SynchronizeIrql and
** restores the caller's IRQL; it never lowers it. */
static void test_synchronize_raises_to_sync_irql(void **state) {
  dl_machine *m = *state;
  isr_log l = {0};
  isr_ctx c = {&l, 'A', m, 1, 13, 0, 0, NULL, 0};
  dl_interrupt *i = NULL;
  assert_int_equal(dl_interrupt_connect(m, 13, 6, 8, 0, 0, 1, isr, &c, &i), DL_OK);
  sync_probe p = {m, 0};
  dl_machine_set_irql(m, DL_DISPATCH_LEVEL);
  assert_int_equal(dl_interrupt_synchronize(i, probe, &p), 42);
  assert_int_equal(p.irql, 8);
  assert_int_equal(dl_machine_irql(m), DL_DISPATCH_LEVEL);
  dl_machine_set_irql(m, 12);
  assert_int_equal(dl_interrupt_synchronize(i, probe, &p), 42);
  assert_int_equal(p.irql, 12);
  assert_int_equal(dl_machine_irql(m), 12);
  dl_machine_set_irql(m, DL_PASSIVE_LEVEL);
}

typedef struct dpc_seen { int n; uint64_t time[8], arg1[8]; uint8_t irql[8]; dl_machine *m; } dpc_seen;

static void dpc_for_isr(void *ctx, dl_dpc *dpc, uint64_t a1, uint64_t a2) {
  (void)dpc;
  (void)a2;
  dpc_seen *s = ctx;
  s->time[s->n] = dl_clock_now(dl_machine_clock(s->m));
  s->arg1[s->n] = a1;
  s->irql[s->n] = dl_machine_irql(s->m);
  s->n++;
}

/* The ISR requests its DPC (IoRequestDpc as its last action at DIRQL): the
** DPC runs after the ISR, a dispatch latency later, at DISPATCH_LEVEL.
** Interrupts while it is still queued do not queue it again. */
static void test_isr_requests_dpc(void **state) {
  dl_machine *m = *state;
  dl_device *dev = NULL;
  assert_int_equal(dl_device_new(m, "nic", &dev), DL_OK);
  dpc_seen s = {.m = m};
  assert_int_equal(dl_dpc_new(m, dpc_for_isr, &s, &dev->dpc_for_isr), DL_OK);
  isr_log l = {0};
  isr_ctx c = {&l, 'I', m, 1, 14, 1, 0, dev, 0};
  connect(m, 14, 5, 1, 0, 1, &c);
  dl_line_set(m, 14, 1, 77);   /* ISR at 1000, DPC queued */
  dl_clock_run_until(dl_machine_clock(m), 1500);
  dl_line_set(m, 14, 1, 77);   /* ISR at 2500: DPC still queued */
  dl_clock_run(dl_machine_clock(m));
  assert_int_equal(l.n, 2);
  assert_int_equal(c.dpc_inserted, 1);
  assert_int_equal(s.n, 1);
  assert_int_equal(s.time[0], 1000 + 2000);
  assert_int_equal(s.arg1[0], 1);  /* the first request's argument */
  assert_int_equal(s.irql[0], DL_DISPATCH_LEVEL);
  assert_int_equal(l.irql[0], 5);
}

/* An ISR may disconnect itself while its line is being delivered; it is
** freed after the chain and never called again (a line without ISRs is
** delivered as a level line, unclaimed). */
static void test_isr_disconnects_itself(void **state) {
  dl_machine *m = *state;
  isr_log l = {0};
  isr_ctx c = {&l, 'D', m, 1, 15, 1, 1, NULL, 0};
  connect(m, 15, 5, 1, 0, 1, &c);
  dl_line_set(m, 15, 1, 77);
  dl_clock_run(dl_machine_clock(m));
  assert_int_equal(l.n, 1);
  dl_line_set(m, 15, 1, 77);
  dl_clock_run(dl_machine_clock(m));
  assert_int_equal(l.n, 1);
  /* nobody quiets the device now: unclaimed until the storm mask */
  assert_int_equal(dl_trace_stats(dl_machine_trace(m))->interrupts_unclaimed, DL_STORM_LIMIT);
  assert_true(dl_line_masked(m, 15));
  dl_interrupt_disconnect(NULL);
}

/* IoConnectInterrupt and IoDisconnectInterrupt are PASSIVE_LEVEL calls:
** above it each is Driver Verifier's DDI compliance report (0xC4 with
** IrqlIoPassive2 and IrqlIoPassive4), and the call goes on. An ISR that
** disconnects itself (at DIRQL) gets the report too. */
static void test_connect_and_disconnect_at_passive_level(void **state) {
  dl_machine *m = *state;
  isr_log l = {0};
  isr_ctx c = {&l, 'P', m, 1, 16, 1, 0, NULL, 0};
  dl_interrupt *i = connect(m, 16, 5, 1, 0, 1, &c);  /* at PASSIVE_LEVEL: no report */
  dl_io_disconnect_interrupt(i);
  assert_int_equal(dl_verifier_count(m), 0);
  dl_machine_set_irql(m, DL_DISPATCH_LEVEL);
  i = connect(m, 16, 5, 1, 0, 1, &c);
  assert_int_equal(dl_verifier_count(m), 1);
  const dl_report *r = dl_verifier_at(m, 0);
  assert_int_equal(r->bugcheck, DL_BUGCHECK_DETECTED_VIOLATION);
  assert_int_equal(r->p1, DL_DDI_IRQL_IO_PASSIVE2);
  dl_io_disconnect_interrupt(i);
  assert_int_equal(dl_verifier_count(m), 2);
  assert_int_equal(dl_verifier_at(m, 1)->p1, DL_DDI_IRQL_IO_PASSIVE4);
  dl_machine_set_irql(m, DL_PASSIVE_LEVEL);
  dl_line_set(m, 16, 1, 77);  /* disconnected all the same: nobody runs */
  dl_clock_run(dl_machine_clock(m));
  assert_int_equal(l.n, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, rig_machine4_setup, rig_machine_teardown)
    T(test_connect_checks),
    T(test_exclusive_and_shared_lines),
    T(test_isr_after_latency_at_dirql),
    T(test_shared_line_runs_isrs_until_claimed),
    T(test_level_line_redelivered_while_held),
    T(test_edge_line_once_per_rising_edge),
    T(test_withdrawn_assertion_not_delivered),
    T(test_unclaimed_storm_is_masked),
    T(test_claimed_storm_is_masked),
    T(test_synchronize_raises_to_sync_irql),
    T(test_isr_requests_dpc),
    T(test_isr_disconnects_itself),
    T(test_connect_and_disconnect_at_passive_level),
#undef T
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
