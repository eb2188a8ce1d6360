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

/* Used by dl_wdf.c. */
void dl_wdf_interrupts_assign(dl_wdf_device *d);
int dl_wdf_interrupt_connect(dl_wdf_interrupt *wi);
void dl_wdf_interrupt_disconnect(dl_wdf_interrupt *wi);

/* ---- queues ----------------------------------------------------------------- */

/* Creates a queue of the device. */
int dl_wdf_queue_new(dl_wdf_device *d, int dispatch, int is_default, dl_wdf_queue **out) {
  if (dispatch != DL_WDF_DISPATCH_SEQUENTIAL && dispatch != DL_WDF_DISPATCH_PARALLEL)
    return DL_EINVAL;
  if (is_default && d->default_queue) return DL_EBUSY;
  dl_wdf_queue *q = calloc(1, sizeof *q);
  if (!q) return DL_ENOMEM;
  q->d = d;
  q->id = dl_machine_next_id(d->m);
  q->dispatch = dispatch;
  q->is_default = is_default;
  dl_list_init(&q->waiting);
  dl_list_init(&q->requests);
  dl_list_append(&d->queues, &q->link);
  if (is_default) d->default_queue = q;
  *out = q;
  return DL_OK;
}

/* Frees a queue and its requests. */
void dl_wdf_queue_free(dl_wdf_queue *q) {
  if (!q) return;
  while (!dl_list_empty(&q->requests))
    dl_wdf_request_free(DL_CONTAINER(q->requests.next, dl_wdf_request, link));
  if (q->d->default_queue == q) q->d->default_queue = NULL;
  dl_list_remove(&q->link);
  free(q);
}

/* Queues a request for irp (presented by the next dl_wdf_queue_dispatch). */
int dl_wdf_queue_add(dl_wdf_queue *q, dl_irp *irp, dl_wdf_request **out) {
  dl_wdf_request *r = calloc(1, sizeof *r);
  if (!r) return DL_ENOMEM;
  r->q = q;
  r->id = dl_machine_next_id(q->d->m);
  r->irp = irp;
  dl_list_append(&q->requests, &r->link);
  dl_list_append(&q->waiting, &r->wait);
  *out = r;
  return DL_OK;
}

/* May the queue present its next request now? Power-managed: only in D0. */
static int may_present(const dl_wdf_queue *q) {
  if (dl_list_empty(&q->waiting) || q->d->state != DL_WDF_STARTED) return 0;
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
      r->presented = 1;
      q->in_flight++;
      q->presented++;
      if (q->d->ops && q->d->ops->present) q->d->ops->present(q->d->ctx, q, r);
    }
  } while (q->again);
  q->presenting = 0;
}

/* Records the completion of a presented request. */
int dl_wdf_request_complete(dl_wdf_request *r, uint32_t status, uint64_t information) {
  if (r->completed || !r->presented) return DL_ESTATE;
  r->completed = 1;
  r->q->in_flight--;
  r->q->completed++;
  dl_wdf_device_request_done(r->q->d);
  if (r->irp) {
    r->irp->status = status;
    r->irp->information = information;
  }
  return DL_OK;
}

/* Frees a request. */
void dl_wdf_request_free(dl_wdf_request *r) {
  if (!r) return;
  if (r->presented && !r->completed) r->q->in_flight--;
  dl_list_remove(&r->wait);
  dl_list_remove(&r->link);
  free(r);
}

/* The DMA layer's accessors. */
dl_irp *dl_wdf_request_irp(const dl_wdf_request *r) { return r->irp; }
dl_wdf_device *dl_wdf_request_device(const dl_wdf_request *r) { return r->q->d; }

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

/* Gives wi the next interrupt descriptor no other interrupt has taken. */
static void assign(dl_wdf_device *d, dl_wdf_interrupt *wi) {
  size_t taken = 0;
  for (dl_link *l = d->interrupts.next; l != &d->interrupts; l = l->next) {
    dl_wdf_interrupt *o = DL_CONTAINER(l, dl_wdf_interrupt, link);
    if (o != wi && o->has_resource) taken++;
  }
  for (size_t i = 0; i < d->nres; i++) {
    if (d->res[i].type != DL_CM_INTERRUPT || taken-- > 0) continue;
    wi->has_resource = 1;
    wi->vector = d->res[i].vector;
    wi->level = d->res[i].level;
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

/* Creates an interrupt of the device (and its DPC). */
int dl_wdf_interrupt_new(dl_wdf_device *d, int has_dpc, int has_enable, dl_wdf_interrupt **out) {
  dl_wdf_interrupt *wi = calloc(1, sizeof *wi);
  if (!wi) return DL_ENOMEM;
  wi->d = d;
  wi->id = dl_machine_next_id(d->m);
  wi->has_dpc = has_dpc;
  wi->has_enable = has_enable;
  if (has_dpc) {
    int rc = dl_dpc_new(d->m, on_dpc, wi, &wi->dpc);
    if (rc) {
      free(wi);
      return rc;
    }
  }
  dl_list_append(&d->interrupts, &wi->link);
  if (d->res) assign(d, wi);  /* created after the start (in PrepareHardware) */
  if (d->state == DL_WDF_STARTED) dl_wdf_interrupt_connect(wi);
  *out = wi;
  return DL_OK;
}

/* Connects an interrupt to its resource (level-sensitive, shareable). An
** interrupt without a resource stays unconnected. */
int dl_wdf_interrupt_connect(dl_wdf_interrupt *wi) {
  if (wi->intr || !wi->has_resource) return DL_OK;
  return dl_interrupt_connect(wi->d->m, wi->vector, wi->level, wi->level, 0, 1, 1, on_isr, wi,
                              &wi->intr);
}

/* Disconnects it (power-down). */
void dl_wdf_interrupt_disconnect(dl_wdf_interrupt *wi) {
  dl_interrupt_disconnect(wi->intr);
  wi->intr = NULL;
}

/* Frees an interrupt, disconnecting it and freeing its DPC. */
void dl_wdf_interrupt_free(dl_wdf_interrupt *wi, int machine_alive) {
  if (!wi) return;
  if (machine_alive) {
    dl_wdf_interrupt_disconnect(wi);
    dl_dpc_free(wi->dpc);
  }
  dl_list_remove(&wi->link);
  free(wi);
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
  return DL_OK;
}

/* Restores the IRQL the lock was acquired at. */
int dl_wdf_interrupt_release(dl_wdf_interrupt *wi) {
  if (!wi->locked) return DL_ESTATE;
  wi->locked = 0;
  dl_machine_set_irql(wi->d->m, wi->lock_old_irql);
  return DL_OK;
}
