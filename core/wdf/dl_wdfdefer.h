/*
** dl_wdfdefer.h: the framework's deferred work: WDFDPC (a KDPC whose
** EvtDpcFunc gets the WDFDPC), WDFTIMER (a KTIMER with its DPC: one-shot,
** or periodic with WDF_TIMER_CONFIG's Period in ms; EvtTimerFunc at
** DISPATCH_LEVEL) and WDFWORKITEM (a work item the simulated worker runs at
** PASSIVE_LEVEL; enqueuing a queued one does nothing, as in KMDF).
**
** Each needs a parent (WDF_OBJECT_ATTRIBUTES.ParentObject: a device or a
** queue in KMDF) and goes with it: deleting one cancels what it has pending.
** IRQL rules (0xE6/0x13, the lab's): WdfDpcCancel / WdfTimerStop with Wait
** TRUE and WdfWorkItemFlush at PASSIVE_LEVEL, the rest at <= DISPATCH_LEVEL.
*/
#ifndef DL_WDFDEFER_H
#define DL_WDFDEFER_H

#include <stdint.h>

#include "kernel/dl_cpu.h"
#include "kernel/dl_workitem.h"
#include "wdf/dl_wdfobject.h"

typedef struct dl_machine dl_machine;

/* EvtDpcFunc / EvtTimerFunc / EvtWorkItem(Object): ctx is the binding's. */
typedef dl_wdf_object_fn dl_wdf_defer_fn;

typedef struct dl_wdf_dpc {
  DL_WDF_OBJECT_FIELDS
  dl_dpc *dpc;
  dl_wdf_defer_fn fn;
  void *ctx;
} dl_wdf_dpc;

typedef struct dl_wdf_timer {
  DL_WDF_OBJECT_FIELDS
  dl_timer *timer;
  dl_dpc *dpc;
  uint32_t period_ms;
  dl_wdf_defer_fn fn;
  void *ctx;
} dl_wdf_timer;

typedef struct dl_wdf_workitem {
  DL_WDF_OBJECT_FIELDS
  dl_workitem *w;
  dl_wdf_defer_fn fn;
  void *ctx;
} dl_wdf_workitem;

/* WdfDpcCreate / WdfTimerCreate / WdfWorkItemCreate under parent (DL_EINVAL
** without one). */
int dl_wdf_dpc_new(dl_machine *m, dl_wdf_object *parent, dl_wdf_defer_fn fn, void *ctx,
                   dl_wdf_dpc **out);
int dl_wdf_timer_new(dl_machine *m, dl_wdf_object *parent, uint32_t period_ms, dl_wdf_defer_fn fn,
                     void *ctx, dl_wdf_timer **out);
int dl_wdf_workitem_new(dl_machine *m, dl_wdf_object *parent, dl_wdf_defer_fn fn, void *ctx,
                        dl_wdf_workitem **out);

/* WdfDpcEnqueue: 1 if queued now, 0 if it was queued. */
int dl_wdf_dpc_enqueue(dl_wdf_dpc *d);

/* WdfDpcCancel(Dpc, Wait): 1 if it was queued (and is no more). */
int dl_wdf_dpc_cancel(dl_wdf_dpc *d, int wait);

/* WdfTimerStart(Timer, DueTime): DueTime in 100 ns units (negative
** relative); 1 if the timer was set already (it is reset). */
int dl_wdf_timer_start(dl_wdf_timer *t, int64_t due_time);

/* WdfTimerStop(Timer, Wait): 1 if the timer was set (its DPC is dropped too). */
int dl_wdf_timer_stop(dl_wdf_timer *t, int wait);

/* WdfWorkItemEnqueue; WdfWorkItemFlush (dl_ke_wait's status). */
void dl_wdf_workitem_enqueue(dl_wdf_workitem *w);
int dl_wdf_workitem_flush(dl_wdf_workitem *w);

#endif
