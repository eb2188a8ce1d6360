/*
** dl_wdfdefer.c: WDFDPC, WDFTIMER, WDFWORKITEM (dl_wdfdefer.h).
*/
#include "wdf/dl_wdfdefer.h"

#include <stdlib.h>

#include "base/dl_status.h"
#include "machine/dl_machine.h"

/* Machine teardown frees memory only (dl_wdf_object_free): the KDPC, KTIMER
** and work item are newer objects, gone already. */

/* The framework deletes one: what it has pending goes with it. */
static void dpc_dispose(dl_wdf_object *o) {
  dl_dpc_free(((dl_wdf_dpc *)o)->dpc);
  free(o);
}
static void timer_dispose(dl_wdf_object *o) {
  dl_wdf_timer *t = (dl_wdf_timer *)o;
  dl_timer_free(t->timer);
  dl_dpc_free(t->dpc);
  free(o);
}
static void workitem_dispose(dl_wdf_object *o) {
  dl_workitem_free(((dl_wdf_workitem *)o)->w);
  free(o);
}

static const dl_wdf_class dpc_class = {
  {"WDFDPC", dl_wdf_object_free, NULL, NULL, &dl_wdf_family}, DL_WDF_DELETABLE, NULL, dpc_dispose
};
static const dl_wdf_class timer_class = {
  {"WDFTIMER", dl_wdf_object_free, NULL, NULL, &dl_wdf_family}, DL_WDF_DELETABLE, NULL, timer_dispose
};
static const dl_wdf_class workitem_class = {
  {"WDFWORKITEM", dl_wdf_object_free, NULL, NULL, &dl_wdf_family}, DL_WDF_DELETABLE, NULL, workitem_dispose
};

static void on_dpc(void *ctx, dl_dpc *dpc, uint64_t a, uint64_t b) {
  (void)dpc, (void)a, (void)b;
  dl_wdf_dpc *d = ctx;
  d->fn(d->ctx, DL_WDF(d));
}

static void on_timer(void *ctx, dl_dpc *dpc, uint64_t a, uint64_t b) {
  (void)dpc, (void)a, (void)b;
  dl_wdf_timer *t = ctx;
  t->fn(t->ctx, DL_WDF(t));
}

static void on_work(void *ctx, dl_workitem *w) {
  (void)w;
  dl_wdf_workitem *wi = ctx;
  wi->fn(wi->ctx, DL_WDF(wi));
}

/* WdfDpcCreate. */
int dl_wdf_dpc_new(dl_machine *m, dl_wdf_object *parent, dl_wdf_defer_fn fn, void *ctx,
                   dl_wdf_dpc **out) {
  dl_wdf_verify_irql(m, "WdfDpcCreate", 0, DL_DISPATCH_LEVEL);
  if (!parent || !fn) return DL_EINVAL;
  dl_wdf_dpc *d = calloc(1, sizeof *d);
  if (!d) return DL_ENOMEM;
  dl_wdf_object_init(DL_WDF(d), m, &dpc_class, parent);
  d->fn = fn;
  d->ctx = ctx;
  int rc = dl_dpc_new(m, on_dpc, d, &d->dpc);
  if (rc) {
    dl_wdf_object_free(DL_OBJECT(d));
    return rc;
  }
  *out = d;
  return DL_OK;
}

/* WdfDpcEnqueue. */
int dl_wdf_dpc_enqueue(dl_wdf_dpc *d) {
  dl_wdf_verify_irql(d->m, "WdfDpcEnqueue", 0, DL_HIGH_LEVEL);
  return dl_dpc_insert(d->dpc, 0, 0);
}

/* WdfDpcCancel: with Wait, the lab's DPC is never running concurrently:
** a removed DPC is all there is to wait for. */
int dl_wdf_dpc_cancel(dl_wdf_dpc *d, int wait) {
  dl_wdf_verify_irql(d->m, "WdfDpcCancel", 0, wait ? DL_PASSIVE_LEVEL : DL_HIGH_LEVEL);
  return dl_dpc_remove(d->dpc);
}

/* WdfTimerCreate. */
int dl_wdf_timer_new(dl_machine *m, dl_wdf_object *parent, uint32_t period_ms, dl_wdf_defer_fn fn,
                     void *ctx, dl_wdf_timer **out) {
  dl_wdf_verify_irql(m, "WdfTimerCreate", 0, DL_DISPATCH_LEVEL);
  if (!parent || !fn) return DL_EINVAL;
  dl_wdf_timer *t = calloc(1, sizeof *t);
  if (!t) return DL_ENOMEM;
  dl_wdf_object_init(DL_WDF(t), m, &timer_class, parent);
  t->fn = fn;
  t->ctx = ctx;
  t->period_ms = period_ms;
  int rc = dl_timer_new(m, &t->timer);
  if (!rc) rc = dl_dpc_new(m, on_timer, t, &t->dpc);
  if (rc) {
    dl_timer_free(t->timer);
    dl_wdf_object_free(DL_OBJECT(t));
    return rc;
  }
  *out = t;
  return DL_OK;
}

/* WdfTimerStart. */
int dl_wdf_timer_start(dl_wdf_timer *t, int64_t due_time) {
  dl_wdf_verify_irql(t->m, "WdfTimerStart", 0, DL_DISPATCH_LEVEL);
  return dl_timer_set_due(t->timer, due_time, t->period_ms, t->dpc);
}

/* WdfTimerStop. */
int dl_wdf_timer_stop(dl_wdf_timer *t, int wait) {
  dl_wdf_verify_irql(t->m, "WdfTimerStop", 0, wait ? DL_PASSIVE_LEVEL : DL_DISPATCH_LEVEL);
  int was = dl_timer_cancel(t->timer);
  dl_dpc_remove(t->dpc);
  return was;
}

/* WdfWorkItemCreate. */
int dl_wdf_workitem_new(dl_machine *m, dl_wdf_object *parent, dl_wdf_defer_fn fn, void *ctx,
                        dl_wdf_workitem **out) {
  dl_wdf_verify_irql(m, "WdfWorkItemCreate", 0, DL_DISPATCH_LEVEL);
  if (!parent || !fn) return DL_EINVAL;
  dl_wdf_workitem *w = calloc(1, sizeof *w);
  if (!w) return DL_ENOMEM;
  dl_wdf_object_init(DL_WDF(w), m, &workitem_class, parent);
  w->fn = fn;
  w->ctx = ctx;
  int rc = dl_workitem_new(m, on_work, w, &w->w);
  if (rc) {
    dl_wdf_object_free(DL_OBJECT(w));
    return rc;
  }
  *out = w;
  return DL_OK;
}

/* WdfWorkItemEnqueue. */
void dl_wdf_workitem_enqueue(dl_wdf_workitem *w) {
  dl_wdf_verify_irql(w->m, "WdfWorkItemEnqueue", 0, DL_DISPATCH_LEVEL);
  dl_workitem_queue(w->w);
}

/* WdfWorkItemFlush. */
int dl_wdf_workitem_flush(dl_wdf_workitem *w) {
  dl_wdf_verify_irql(w->m, "WdfWorkItemFlush", 1, DL_PASSIVE_LEVEL);
  return dl_workitem_flush(w->w);
}
