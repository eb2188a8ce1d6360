/*
** dl_wdfqueue.c: framework I/O queues and requests, and framework
** interrupts (their connection at power-up, the DPC for the ISR, the lock).
*/
#include <stdlib.h>

#include "kernel/dl_cpu.h"
#include "kernel/dl_interrupt.h"
#include "io/dl_irp.h"
#include "machine/dl_machine.h"
#include "base/dl_status.h"
#include "wdf/dl_wdf.h"
#include "wdf/dl_wdfio.h"
#include "wdf/dl_wdfqueuestate.h"
#include "wdf/dl_wdfreqstate.h"
#include "io/dl_cancel.h"
#include "hal/dl_adapter.h"

/* Used by dl_wdf.c. */
void dl_wdf_interrupts_assign(dl_wdf_device *d);
int dl_wdf_interrupt_connect(dl_wdf_interrupt *wi);
void dl_wdf_interrupt_disconnect(dl_wdf_interrupt *wi);

/* ---- queues ----------------------------------------------------------------- */

/* Machine teardown: its requests (newer) went before. */
static void queue_destroy(dl_object *o) {
  dl_wdf_queue *q = (dl_wdf_queue *)o;
  dl_wdf_object_fini(DL_WDF(q));
  dl_list_remove(&q->link);
  free(q);
}

/* A queue is deleted only once its requests are completed (the lab's
** rule: KMDF would purge it and wait); its state table is asked first. */
static int queue_may_delete(dl_wdf_object *o) {
  dl_wdf_queue *q = (dl_wdf_queue *)o;
  if (dl_wdfqueue_check(q, DL_QCALL_DELETE).kind != DL_QS_ALLOW) return DL_ESTATE;
  return dl_list_empty(&q->requests) ? DL_OK : DL_EBUSY;
}

/* The framework's deletion: off the device's tables, its requests with it. */
static void queue_dispose(dl_wdf_object *o) {
  dl_wdf_queue *q = (dl_wdf_queue *)o;
  while (!dl_list_empty(&q->requests))
    dl_wdf_object_delete_framework(DL_WDF(DL_CONTAINER(q->requests.next, dl_wdf_request, link)));
  if (q->d->default_queue == q) q->d->default_queue = NULL;
  for (int i = 0; i < DL_WDF_MAJOR_COUNT; i++)
    if (q->d->dispatching[i] == q) q->d->dispatching[i] = NULL;
  dl_list_remove(&q->link);
  free(q);
}

static const dl_wdf_class queue_class = {
  {"WDFQUEUE", queue_destroy, NULL, NULL, &dl_wdf_family}, DL_WDF_DELETABLE, queue_may_delete, queue_dispose
};

/* Creates a queue of the device. */
int dl_wdf_queue_new(dl_wdf_device *d, int dispatch, int is_default, dl_wdf_queue **out) {
  if (dispatch != DL_WDF_DISPATCH_SEQUENTIAL && dispatch != DL_WDF_DISPATCH_PARALLEL &&
      dispatch != DL_WDF_DISPATCH_MANUAL)
    return DL_EINVAL;
  if (is_default && d->default_queue) return DL_EBUSY;
  if (dl_wdf_object_add_child_status(DL_WDF(d))) return DL_ESTATE;  /* STATUS_DELETE_PENDING */
  dl_wdf_queue *q = calloc(1, sizeof *q);
  if (!q) return DL_ENOMEM;
  dl_wdf_object_init(DL_WDF(q), d->m, &queue_class, DL_WDF(d));
  q->d = d;
  q->dispatch = dispatch;
  q->is_default = is_default;
  dl_list_init(&q->waiting);
  dl_list_init(&q->requests);
  dl_list_append(&d->queues, &q->link);
  if (is_default) d->default_queue = q;
  *out = q;
  return DL_OK;
}

/* Queue accessors. */
dl_wdf_device *dl_wdf_queue_device(const dl_wdf_queue *q) { return q->d; }
int dl_wdf_queue_dispatch_type(const dl_wdf_queue *q) { return q->dispatch; }
int dl_wdf_queue_is_default(const dl_wdf_queue *q) { return q->is_default; }
void dl_wdf_queue_stats(const dl_wdf_queue *q, uint64_t *presented, uint64_t *completed,
                        uint32_t *in_flight, uint32_t *waiting) {
  *presented = q->presented;
  *completed = q->completed;
  *in_flight = q->in_flight;
  *waiting = 0;
  for (const dl_link *l = q->waiting.next; l != &q->waiting; l = l->next) (*waiting)++;
}

/* Takes a request off its queue and frees it. */
static void request_free(dl_wdf_request *r) {
  dl_wdf_request_release(r);
  if (r->presented && !r->completed) r->q->in_flight--;
  dl_list_remove(&r->wait);
  dl_list_remove(&r->link);
  free(r);
}

static void request_destroy(dl_object *o) {
  dl_wdf_object_fini((dl_wdf_object *)o);
  request_free((dl_wdf_request *)o);
}
static void request_dispose(dl_wdf_object *o) { request_free((dl_wdf_request *)o); }

static const dl_wdf_class request_class = {
  {"WDFREQUEST", request_destroy, NULL, NULL, &dl_wdf_family}, DL_WDF_FRAMEWORK_OWNED, NULL, request_dispose
};

/* Queues a request for irp (presented by the next dl_wdf_queue_dispatch);
** DL_EBUSY if the queue is not accepting requests (purged, drained). */
int dl_wdf_queue_add(dl_wdf_queue *q, dl_irp *irp, dl_wdf_request **out) {
  if (dl_wdfqueue_check(q, DL_QCALL_ARRIVAL).kind != DL_QS_ALLOW) return DL_EBUSY;
  dl_wdf_request *r = calloc(1, sizeof *r);
  if (!r) return DL_ENOMEM;
  dl_wdf_object_init(DL_WDF(r), q->d->m, &request_class, DL_WDF(q));
  r->q = q;
  r->irp = irp;
  dl_list_append(&q->requests, &r->link);
  if (q->ready_notify && dl_list_empty(&q->waiting)) q->ready_notify = 2;  /* empty -> not */
  dl_list_append(&q->waiting, &r->wait);
  dl_wdf_request_arm_queue_cancel(r);
  *out = r;
  return DL_OK;
}

/* May the queue present its next request now? Power-managed: only in D0. */
static int may_present(const dl_wdf_queue *q) {
  if (dl_list_empty(&q->waiting)) return 0;
  if (q->dispatch == DL_WDF_DISPATCH_MANUAL) return 0;  /* the driver retrieves them */
  /* The framework presents when the driver could retrieve (dispatching, in D0:
  ** FxIoQueue's DispatchEvents and GetRequest share the gate): the table says. */
  if (dl_wdfqueue_cell_at(dl_wdfqueue_row(q), DL_QCALL_RETRIEVE).kind != DL_QS_ALLOW) return 0;
  return q->dispatch == DL_WDF_DISPATCH_PARALLEL || q->in_flight == 0;
}

/* Presents waiting requests; a call made while presenting (a completion
** inside EvtIoRead) only asks the outer loop to look again, so requests are
** presented in order and the driver's callbacks never nest. */
void dl_wdf_queue_dispatch(dl_wdf_queue *q) {
  if (q->presenting) {
    q->again = 1;
    return;
  }
  q->presenting = 1;
  do {
    q->again = 0;
    while (may_present(q)) {
      dl_wdf_request *r = DL_CONTAINER(q->waiting.next, dl_wdf_request, wait);
      dl_list_remove(&r->wait);
      if (r->irp) dl_io_set_cancel_routine(r->irp, NULL, NULL);  /* the driver's now */
      r->presented = 1;
      q->in_flight++;
      q->presented++;
      if (dl_wdf_request_zero_length(r)) continue;  /* the framework completed it */
      if (q->d->ops && q->d->ops->present) q->d->ops->present(q->d->ctx, q, r);
    }
  } while (q->again);
  q->presenting = 0;
  dl_wdf_queue_notify(q);
}

/* ---- the framework's dispatch routine ------------------------------------------- */

/* Routes IRPs of `major` to q. */
int dl_wdf_device_configure_dispatching(dl_wdf_device *d, dl_wdf_queue *q, uint8_t major) {
  if (q->d != d || (major != DL_IRP_MJ_READ && major != DL_IRP_MJ_WRITE &&
                    major != DL_IRP_MJ_DEVICE_CONTROL && major != DL_IRP_MJ_INTERNAL_DEVICE_CONTROL))
    return DL_EINVAL;
  d->dispatching[major] = q;
  return DL_OK;
}

/* An IRP reaches the device: queued as a request and presented, or refused. */
uint32_t dl_wdf_device_dispatch(dl_wdf_device *d, dl_irp *irp, dl_wdf_request **out) {
  *out = NULL;
  if (!d || d->state == DL_WDF_FAILED || d->state == DL_WDF_REMOVED)
    return DL_STATUS_INVALID_DEVICE_STATE;
  dl_wdf_queue *q = irp->major < DL_WDF_MAJOR_COUNT ? d->dispatching[irp->major] : NULL;
  if (!q) q = d->default_queue;
  if (!q) return DL_STATUS_INVALID_DEVICE_REQUEST;
  int rc = dl_wdf_queue_add(q, irp, out);
  if (rc) return rc == DL_EBUSY ? DL_STATUS_INVALID_DEVICE_STATE : DL_STATUS_INSUFFICIENT_RESOURCES;
  dl_irp_mark_pending(irp);
  dl_wdf_queue_dispatch(q);
  return DL_STATUS_PENDING;
}

/* ---- requests ----------------------------------------------------------------- */

/* WdfRequestComplete: IoStatus set, the request deleted by the framework. */
dl_irp *dl_wdf_request_complete(dl_wdf_request *r, uint32_t status, uint64_t information) {
  dl_machine *m = r->m;
  dl_wdf_verify_irql(m, "WdfRequestComplete", 0, DL_DISPATCH_LEVEL);
  if (dl_wdfreq_check(r, DL_RCALL_COMPLETE, NULL).kind == DL_RS_REPORT) return NULL;
  information = dl_wdf_request_verify_complete(r, status, information);
  dl_wdf_request_release(r);
  r->completed = 1;
  r->q->in_flight--;
  r->q->completed++;
  dl_wdf_device_request_done(r->q->d);
  dl_irp *irp = r->irp;
  if (irp) {
    irp->status = status;
    irp->information = information;
  }
  dl_wdf_object_delete_framework(DL_WDF(r));
  return irp;
}

/* A call on a request completed already. */
void dl_wdf_request_report_completed(dl_machine *m, uint64_t id, const char *call) {
  dl_wdfreq_report_gone(m, id, call);
}

/* Request accessors. */
dl_irp *dl_wdf_request_irp(const dl_wdf_request *r) { return r->irp; }
dl_wdf_device *dl_wdf_request_device(const dl_wdf_request *r) { return r->q->d; }
dl_wdf_queue *dl_wdf_request_queue(const dl_wdf_request *r) { return r->q; }

/* WdfRequestSetInformation, as the state table allows; GetInformation
** (no state rule in KMDF: FxRequest::GetInformation reads the IRP). */
void dl_wdf_request_set_information(dl_wdf_request *r, uint64_t n) {
  if (dl_wdfreq_check(r, DL_RCALL_SET_INFORMATION, NULL).kind == DL_RS_ALLOW) r->information = n;
}
uint64_t dl_wdf_request_information(const dl_wdf_request *r) { return r->information; }

/* ---- interrupts ------------------------------------------------------------- */

/* The ISR the kernel calls: the driver's EvtInterruptIsr. */
static int on_isr(void *ctx, dl_interrupt *intr) {
  (void)intr;
  dl_wdf_interrupt *wi = ctx;
  const dl_wdf_ops *ops = wi->d->ops;
  return ops && ops->isr ? ops->isr(wi->d->ctx, wi) : 0;
}

/* The DPC for the ISR: the driver's EvtInterruptDpc. */
static void on_dpc(void *ctx, dl_dpc *dpc, uint64_t arg1, uint64_t arg2) {
  (void)dpc;
  (void)arg1;
  (void)arg2;
  dl_wdf_interrupt *wi = ctx;
  const dl_wdf_ops *ops = wi->d->ops;
  if (ops && ops->dpc) ops->dpc(wi->d->ctx, wi);
}

/* Gives wi descriptor i of its device. */
static void take(dl_wdf_interrupt *wi, size_t i) {
  const dl_wdf_resource *r = &wi->d->res[i];
  wi->has_resource = 1;
  wi->res_index = (long)i;
  wi->vector = r->vector;
  wi->level = r->level;
  wi->latched = (r->flags & DL_CM_INTERRUPT_LATCHED) != 0;
  wi->message = (r->flags & DL_CM_INTERRUPT_MESSAGE) != 0;
  wi->shared = r->share == DL_CM_SHARE_SHARED;
}

/* Returns 1 if another interrupt of d has descriptor i. */
static int taken(const dl_wdf_device *d, const dl_wdf_interrupt *wi, size_t i) {
  for (const dl_link *l = d->interrupts.next; l != &d->interrupts; l = l->next) {
    const dl_wdf_interrupt *o = DL_CONTAINER(l, dl_wdf_interrupt, link);
    if (o != wi && o->has_resource && o->res_index == (long)i) return 1;
  }
  return 0;
}

/* Gives wi the first interrupt descriptor no other interrupt has taken
** (those a driver chose in EvtDevicePrepareHardware included). */
static void assign(dl_wdf_device *d, dl_wdf_interrupt *wi) {
  for (size_t i = 0; i < d->nres; i++)
    if (d->res[i].type == DL_CM_INTERRUPT && !taken(d, wi, i)) {
      take(wi, i);
      return;
    }
}

/* At start: interrupts get the interrupt descriptors in creation order. */
void dl_wdf_interrupts_assign(dl_wdf_device *d) {
  for (dl_link *l = d->interrupts.next; l != &d->interrupts; l = l->next) {
    dl_wdf_interrupt *wi = DL_CONTAINER(l, dl_wdf_interrupt, link);
    if (!wi->has_resource) assign(d, wi);
  }
}

/* Machine teardown: its DPC and connection (newer) went before. */
static void interrupt_destroy(dl_object *o) {
  dl_wdf_interrupt *wi = (dl_wdf_interrupt *)o;
  dl_wdf_object_fini(DL_WDF(wi));
  dl_list_remove(&wi->link);
  free(wi);
}

/* The framework's deletion: disconnected, its DPC freed. */
static void interrupt_dispose(dl_wdf_object *o) {
  dl_wdf_interrupt *wi = (dl_wdf_interrupt *)o;
  dl_wdf_interrupt_disconnect(wi);
  dl_dpc_free(wi->dpc);
  dl_list_remove(&wi->link);
  free(wi);
}

static const dl_wdf_class interrupt_class = {
  /* the framework deletes interrupts (FxInterrupt marks itself no-delete-DDI) */
  {"WDFINTERRUPT", interrupt_destroy, NULL, NULL, &dl_wdf_family}, DL_WDF_NOT_DELETABLE, NULL,
  interrupt_dispose
};

/* Creates an interrupt of the device (and its DPC), with descriptor
** `chosen` (-1: the next free one). */
static int interrupt_new(dl_wdf_device *d, int has_dpc, int has_enable, long chosen,
                         dl_wdf_interrupt **out) {
  if (dl_wdf_object_add_child_status(DL_WDF(d))) return DL_ESTATE;  /* STATUS_DELETE_PENDING */
  dl_wdf_interrupt *wi = calloc(1, sizeof *wi);
  if (!wi) return DL_ENOMEM;
  dl_wdf_object_init(DL_WDF(wi), d->m, &interrupt_class, DL_WDF(d));
  wi->d = d;
  wi->res_index = -1;
  wi->message_id = d->ninterrupts;
  wi->has_dpc = has_dpc;
  wi->has_enable = has_enable;
  if (has_dpc) {
    int rc = dl_dpc_new(d->m, on_dpc, wi, &wi->dpc);
    if (rc) {
      dl_wdf_object_fini(DL_WDF(wi));
      free(wi);
      return rc;
    }
  }
  dl_list_append(&d->interrupts, &wi->link);
  d->ninterrupts++;
  if (chosen >= 0) {
    wi->chosen = 1;
    take(wi, (size_t)chosen);
  } else if (d->res) {
    assign(d, wi);  /* created after the start (in PrepareHardware) */
  }
  if (d->state == DL_WDF_STARTED) dl_wdf_interrupt_connect(wi);
  *out = wi;
  return DL_OK;
}

/* Creates an interrupt of the device that takes the next free descriptor. */
int dl_wdf_interrupt_new(dl_wdf_device *d, int has_dpc, int has_enable, dl_wdf_interrupt **out) {
  return interrupt_new(d, has_dpc, has_enable, -1, out);
}

/* Returns 1 if i is an interrupt descriptor of d. */
static int interrupt_descriptor(const dl_wdf_device *d, long i) {
  return i >= 0 && (size_t)i < d->nres && d->res[i].type == DL_CM_INTERRUPT;
}

/* WdfInterruptCreate with the framework's rules. */
uint32_t dl_wdf_interrupt_create(dl_wdf_device *d, int has_dpc, int has_enable, long raw,
                                 long translated, int share_default, dl_wdf_interrupt **out) {
  int before_start = d->state == DL_WDF_ADDED && !d->in_prepare;
  if (!before_start && !d->in_prepare) return DL_STATUS_INVALID_DEVICE_STATE;
  if (before_start && (raw != -1 || translated != -1)) return DL_STATUS_INVALID_PARAMETER;
  if (d->in_prepare && (raw == -1 || translated == -1 || !share_default)) return DL_STATUS_INVALID_DEVICE_STATE;
  if (d->in_prepare && (!interrupt_descriptor(d, raw) || !interrupt_descriptor(d, translated)))
    return DL_STATUS_INVALID_PARAMETER;
  int rc = interrupt_new(d, has_dpc, has_enable, translated, out);
  if (rc == DL_ESTATE) return DL_STATUS_DELETE_PENDING;
  return rc ? DL_STATUS_INSUFFICIENT_RESOURCES : DL_STATUS_SUCCESS;
}

/* Connects an interrupt to its resource (latched or level, shared or not, as
** its descriptor says). An
** interrupt without a resource stays unconnected. */
int dl_wdf_interrupt_connect(dl_wdf_interrupt *wi) {
  if (wi->intr || !wi->has_resource) return DL_OK;
  return dl_interrupt_connect(wi->d->m, wi->vector, wi->level, wi->level, wi->latched, wi->shared, 1,
                              on_isr, wi, &wi->intr);
}

/* Disconnects it (power-down). */
void dl_wdf_interrupt_disconnect(dl_wdf_interrupt *wi) {
  dl_interrupt_disconnect(wi->intr);
  wi->intr = NULL;
}

/* Interrupt accessors. */
dl_wdf_device *dl_wdf_interrupt_device(const dl_wdf_interrupt *wi) { return wi->d; }
int dl_wdf_interrupt_has_dpc(const dl_wdf_interrupt *wi) { return wi->dpc != NULL; }
int dl_wdf_interrupt_connected(const dl_wdf_interrupt *wi) { return wi->intr != NULL; }
int dl_wdf_interrupt_locked(const dl_wdf_interrupt *wi) { return wi->locked; }
uint8_t dl_wdf_interrupt_level(const dl_wdf_interrupt *wi) { return wi->level; }
uint32_t dl_wdf_interrupt_vector(const dl_wdf_interrupt *wi) { return wi->vector; }
long dl_wdf_interrupt_resource(const dl_wdf_interrupt *wi) { return wi->has_resource ? wi->res_index : -1; }
uint32_t dl_wdf_interrupt_message_id(const dl_wdf_interrupt *wi) { return wi->message ? wi->message_id : 0; }

/* WdfInterruptGetInfo. */
void dl_wdf_interrupt_get_info(const dl_wdf_interrupt *wi, dl_wdf_interrupt_info *out) {
  *out = (dl_wdf_interrupt_info){.message_number = wi->message_id};
  if (!wi->has_resource) return;
  out->vector = wi->vector;
  out->irql = wi->level;
  out->share = wi->shared ? DL_CM_SHARE_SHARED : DL_CM_SHARE_DEVICE_EXCLUSIVE;
  out->latched = wi->latched;
  out->message_signaled = wi->message;
}

/* WdfInterruptAcquireLock by the driver, with its rules. */
void dl_wdf_interrupt_acquire_lock(dl_wdf_interrupt *wi) {
  dl_wdf_verify_irql(wi->m, "WdfInterruptAcquireLock", 0, wi->level > 2 ? wi->level : 2);
  if (dl_wdf_interrupt_acquire(wi) != DL_OK)
    dl_wdf_report(wi->m, DL_WDF_LOCK_HELD, 0, wi->id,
                  "WdfInterruptAcquireLock: the lock of WDFINTERRUPT#%llu is already held",
                  (unsigned long long)wi->id);
}

/* KeInsertQueueDpc on the interrupt's DPC. */
int dl_wdf_interrupt_queue_dpc(dl_wdf_interrupt *wi) {
  return wi->dpc ? dl_dpc_insert(wi->dpc, 0, 0) : 0;
}

/* Raises to the interrupt's DIRQL, remembering the IRQL to restore. */
int dl_wdf_interrupt_acquire(dl_wdf_interrupt *wi) {
  if (wi->locked) return DL_ESTATE;
  dl_machine *m = wi->d->m;
  wi->lock_old_irql = dl_machine_irql(m);
  if (wi->level > wi->lock_old_irql) dl_machine_set_irql(m, wi->level);
  wi->locked = 1;
  dl_wdf_object_hold(DL_WDF(wi));  /* nothing deletes it while its lock is held */
  return DL_OK;
}

/* Restores the IRQL the lock was acquired at. */
int dl_wdf_interrupt_release(dl_wdf_interrupt *wi) {
  if (!wi->locked) return DL_ESTATE;
  wi->locked = 0;
  dl_wdf_object_unhold(DL_WDF(wi));
  dl_machine_set_irql(wi->d->m, wi->lock_old_irql);
  return DL_OK;
}
