/*
** dl_workitem.c: work items on the simulated worker (dl_workitem.h).
*/
#include "kernel/dl_workitem.h"

#include <stdlib.h>

#include "base/dl_status.h"
#include "kernel/dl_event.h"
#include "machine/dl_machine.h"

/* A new work item. */
int dl_workitem_new(dl_machine *m, dl_workitem_fn fn, void *ctx, dl_workitem **out) {
  dl_workitem *w = calloc(1, sizeof *w);
  if (!w) return DL_ENOMEM;
  dl_object_init(DL_OBJECT(w), m, &dl_workitem_type, NULL);
  w->fn = fn;
  w->ctx = ctx;
  *out = w;
  return DL_OK;
}

/* Frees it. */
void dl_workitem_free(dl_workitem *w) {
  if (!w || w->dead) return;
  if (w->queued) dl_clock_cancel(dl_machine_clock(w->m), w->event);
  w->queued = 0;
  dl_object_unlink(DL_OBJECT(w));
  if (w->running) w->dead = 1;  /* freed by its own routine: run() frees it after */
  else free(w);
}

static void destroy(dl_object *o) { dl_workitem_free((dl_workitem *)o); }

const dl_object_type dl_workitem_type = { "IO_WORKITEM", destroy, NULL, NULL, NULL };

/* The worker runs the item at PASSIVE_LEVEL (a clock event). The routine
** may free the item (IoFreeWorkItem in its own routine). */
static void run(void *arg, uint64_t unused) {
  (void)unused;
  dl_workitem *w = arg;
  dl_machine *m = w->m;
  uint8_t irql = dl_machine_irql(m);
  w->queued = 0;
  w->running = 1;
  w->runs++;
  dl_machine_set_irql(m, DL_PASSIVE_LEVEL);
  w->fn(w->ctx, w);
  dl_machine_set_irql(m, irql);
  w->running = 0;
  if (w->dead) free(w);
}

/* Queues it once. */
int dl_workitem_queue(dl_workitem *w) {
  if (w->queued) return 0;
  if (dl_clock_after(dl_machine_clock(w->m), DL_WORKER_LATENCY, run, w, 0, &w->event)) return 0;
  w->queued = 1;
  return 1;
}

static int idle(void *ctx) {
  dl_workitem *w = ctx;
  return !w->queued && !w->running;
}

/* WdfWorkItemFlush. */
int dl_workitem_flush(dl_workitem *w) {
  int done;
  return dl_ke_wait(w->m, idle, w, 0, 0, &done);
}

int dl_workitem_queued(const dl_workitem *w) { return w->queued; }
uint64_t dl_workitem_runs(const dl_workitem *w) { return w->runs; }
