/*
** test_wdfio.c: the framework's I/O rules of core/wdf/dl_wdfmanual.c and
** dl_wdfreqbuf.c without Lua: manual queues and retrieval (FxIoQueue::
** GetRequest's statuses), finding a waiting request (referenced, not owned)
** and retrieving it, references released once (0x10D/0x7 beyond), forwarding
** and requeueing with their verifier
** breaks, Stop/Purge/Drain and their callbacks, ReadyNotify, cancellation
** of waiting and cancelable requests, a request's buffers and MDLs by I/O
** method, and the information-length rule at completion (0x10D/0x6/0x4).
*/
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "rig_wdf.h"
#include <string.h>

#include "base/dl_ntstatus.h"
#include "base/dl_status.h"
#include "io/dl_cancel.h"
#include "io/dl_driver.h"
#include "io/dl_file.h"
#include "io/dl_iobuf.h"
#include "io/dl_mdl.h"
#include "machine/dl_clock.h"
#include "machine/dl_machine.h"
#include "machine/dl_verifier.h"
#include "wdf/dl_wdfdevif.h"
#include "wdf/dl_wdffile.h"
#include "wdf/dl_wdfio.h"
#include "wdf/dl_wdfmemory.h"

typedef struct rig {
  dl_machine *m;
  dl_device *pdo;
  dl_wdf_device *d;
  dl_region *in, *out;
  int presented, cancels, on_queue, states[8], nstates;
  uint8_t cancel_irql;
  dl_wdf_request *last;
  int complete_in_cancel;   /* EvtRequestCancel / EvtIoCanceledOnQueue complete the request */
  int file_calls[4];        /* by DL_WDF_FILE_* */
  void *file_seen;
  dl_wdf_request *create_req;
} rig;

static void on_present(void *ctx, dl_wdf_queue *q, dl_wdf_request *r) {
  (void)q;
  rig *t = ctx;
  t->presented++;
  t->last = r;
}

static void complete_irp(void *ctx, dl_irp *irp) {
  (void)ctx;
  dl_io_complete_request(irp);
}

/* The driver's completion: the framework's part, then IoCompleteRequest. */
static void driver_complete(dl_wdf_request *r, uint32_t status, uint64_t info) {
  dl_wdf_queue *q = r->q;
  dl_irp *irp = dl_wdf_request_complete(r, status, info);
  if (irp) dl_io_complete_request(irp);
  dl_wdf_queue_dispatch(q);
}

static void request_cancel(void *ctx, dl_wdf_request *r) {
  rig *t = ctx;
  t->cancels++;
  t->cancel_irql = dl_machine_irql(t->m);
  if (t->complete_in_cancel) driver_complete(r, DL_STATUS_CANCELLED, 0);
}

static int canceled_on_queue(void *ctx, dl_wdf_queue *q, dl_wdf_request *r) {
  (void)q;
  rig *t = ctx;
  t->on_queue++;
  t->last = r;
  if (t->complete_in_cancel) driver_complete(r, DL_STATUS_CANCELLED, 0);
  return 1;
}

static void queue_state(void *ctx, dl_wdf_queue *q, int which) {
  (void)q;
  rig *t = ctx;
  t->states[t->nstates++] = which;
}

static int file_event(void *ctx, dl_wdf_device *d, int which, dl_wdf_request *r, void *file) {
  (void)d;
  rig *t = ctx;
  t->file_calls[which]++;
  t->file_seen = file;
  if (which == DL_WDF_FILE_CREATE) t->create_req = r;
  return 1;
}

static const dl_wdf_ops ops = {NULL, on_present, NULL, NULL, NULL, complete_irp, request_cancel,
                               canceled_on_queue, queue_state, file_event};

static int setup(void **state) {
  static rig t;
  memset(&t, 0, sizeof t);
  if (rig_wdf_open(&t.m, &t.pdo, NULL, &ops, &t, &t.d)) return -1;
  if (dl_wdf_device_start(t.d, NULL, 0)) return -1;
  if (dl_buffer_new(t.m, 64, 0, DL_ALLOC_LOW_FIRST, DL_REGION_NONPAGED, &t.in)) return -1;
  if (dl_buffer_new(t.m, 64, 0, DL_ALLOC_LOW_FIRST, DL_REGION_NONPAGED, &t.out)) return -1;
  *state = &t;
  return 0;
}

static int teardown(void **state) {
  rig_wdf_close(((rig *)*state)->m);
  return 0;
}

static dl_wdf_queue *queue(rig *t, int type) {
  dl_wdf_queue *q;
  assert_int_equal(dl_wdf_queue_new(t->d, type, 0, &q), DL_OK);
  return q;
}

/* An IRP as the I/O manager builds it, sent to the framework device. */
static dl_irp *irp_of(rig *t, uint8_t major, uint32_t method, uint64_t in, uint64_t out, dl_file *f) {
  dl_irp_params p = {0};
  p.major = major;
  p.file = f;
  if (major == DL_IRP_MJ_DEVICE_CONTROL) p.ioctl = dl_ctl_code(0x22, 0x900, method, 0);
  if (in) p.in_va = t->in->va, p.in_length = in;
  if (out) p.out_va = t->out->va, p.out_length = out;
  dl_irp *irp;
  assert_int_equal(dl_iobuf_irp_new(t->m, &p, &irp), DL_OK);
  assert_int_equal(dl_irp_send(irp, t->d->fdo), DL_OK);  /* IoCallDriver's part */
  dl_file_on_send(irp, t->d->fdo);
  return irp;
}

/* Sends irp's request to q. */
static dl_wdf_request *add(dl_wdf_queue *q, dl_irp *irp) {
  dl_wdf_request *r;
  assert_int_equal(dl_wdf_queue_add(q, irp, &r), DL_OK);
  dl_irp_mark_pending(irp);
  dl_wdf_queue_dispatch(q);
  return r;
}

static dl_wdf_request *read_to(rig *t, dl_wdf_queue *q) {
  return add(q, irp_of(t, DL_IRP_MJ_READ, 0, 0, 16, NULL));
}

static uint32_t last_p2(rig *t) {
  uint64_t n = dl_verifier_count(t->m);
  assert_true(n > 0);
  return (uint32_t)dl_verifier_at(t->m, (size_t)n - 1)->p2;
}

/* A manual queue presents nothing; the driver retrieves in order. */
static void test_manual_retrieve(void **state) {
  rig *t = *state;
  dl_wdf_queue *mq = queue(t, DL_WDF_DISPATCH_MANUAL);
  dl_wdf_request *a = read_to(t, mq), *b = read_to(t, mq), *got;
  assert_int_equal(t->presented, 0);
  assert_int_equal(dl_wdf_queue_retrieve(mq, NULL, &got), DL_STATUS_SUCCESS);
  assert_ptr_equal(got, a);
  assert_int_equal(mq->in_flight, 1);
  dl_wdf_queue_stop(mq, 0);
  assert_int_equal(dl_wdf_queue_retrieve(mq, NULL, &got), DL_STATUS_WDF_PAUSED);
  dl_wdf_queue_start(mq);
  assert_int_equal(dl_wdf_queue_retrieve(mq, NULL, &got), DL_STATUS_SUCCESS);
  assert_ptr_equal(got, b);
  assert_int_equal(dl_wdf_queue_retrieve(mq, NULL, &got), DL_STATUS_NO_MORE_ENTRIES);
  assert_null(got);
  driver_complete(a, 0, 16);
  driver_complete(b, 0, 0);
  assert_int_equal(mq->in_flight, 0);
  dl_wdf_queue *pq = queue(t, DL_WDF_DISPATCH_PARALLEL);
  assert_int_equal(dl_wdf_queue_retrieve(pq, NULL, &got), DL_STATUS_INVALID_DEVICE_STATE);
  dl_wdf_queue *sq = queue(t, DL_WDF_DISPATCH_SEQUENTIAL);
  assert_int_equal(dl_wdf_queue_retrieve(sq, NULL, &got), DL_STATUS_NO_MORE_ENTRIES);
  assert_int_equal(dl_verifier_count(t->m), 1);  /* a sequential queue with none outstanding */
  dl_wdf_device_set_power(t->d, DL_WDF_POWER_D3);
  assert_int_equal(dl_wdf_queue_retrieve(mq, NULL, &got), DL_STATUS_WDF_PAUSED);
}

/* ...ByFileObject: the first request on that file. */
static void test_retrieve_by_file(void **state) {
  rig *t = *state;
  dl_wdf_queue *mq = queue(t, DL_WDF_DISPATCH_MANUAL);
  dl_file *f1, *f2;
  dl_file_new(t->m, &f1);
  dl_file_new(t->m, &f2);
  add(mq, irp_of(t, DL_IRP_MJ_READ, 0, 0, 8, f1));
  dl_wdf_request *b = add(mq, irp_of(t, DL_IRP_MJ_READ, 0, 0, 8, f2)), *got;
  assert_int_equal(dl_wdf_queue_retrieve(mq, f2, &got), DL_STATUS_SUCCESS);
  assert_ptr_equal(got, b);
  assert_int_equal(dl_wdf_queue_retrieve(mq, f2, &got), DL_STATUS_NO_MORE_ENTRIES);
}

/* FindRequest walks the waiting requests (on a file) without taking them,
** each with a reference; RetrieveFoundRequest takes one out of the middle. */
static void test_find_request(void **state) {
  rig *t = *state;
  dl_wdf_queue *mq = queue(t, DL_WDF_DISPATCH_MANUAL);
  dl_file *f;
  dl_file_new(t->m, &f);
  dl_wdf_request *a = read_to(t, mq), *b = add(mq, irp_of(t, DL_IRP_MJ_READ, 0, 0, 8, f));
  dl_wdf_request *c = read_to(t, mq), *got, *taken;
  assert_int_equal(dl_wdf_queue_find(mq, NULL, NULL, &got), DL_STATUS_SUCCESS);
  assert_ptr_equal(got, a);
  assert_int_equal(dl_wdf_queue_find(mq, a, NULL, &got), DL_STATUS_SUCCESS);
  assert_ptr_equal(got, b);
  assert_int_equal(dl_wdf_queue_find(mq, NULL, f, &got), DL_STATUS_SUCCESS);  /* on the file */
  assert_ptr_equal(got, b);
  assert_int_equal(b->wdf_refs, 2);
  assert_int_equal(dl_wdf_queue_find(mq, b, f, &got), DL_STATUS_NO_MORE_ENTRIES);
  assert_null(got);
  assert_int_equal(mq->in_flight, 0);  /* found, not owned */
  assert_int_equal(dl_wdf_queue_retrieve_found(mq, b, &taken), DL_STATUS_SUCCESS);
  assert_ptr_equal(taken, b);
  assert_int_equal(mq->in_flight, 1);
  assert_int_equal(dl_wdf_queue_retrieve_found(mq, b, &taken), DL_STATUS_NOT_FOUND);  /* gone */
  assert_int_equal(dl_wdf_queue_find(mq, b, NULL, &got), DL_STATUS_NOT_FOUND);
  assert_int_equal(dl_wdf_object_dereference(DL_WDF(b)), DL_OK);
  assert_int_equal(dl_wdf_object_dereference(DL_WDF(b)), DL_OK);
  assert_int_equal(dl_verifier_count(t->m), 0);
  assert_int_equal(dl_wdf_object_dereference(DL_WDF(b)), DL_ESTATE);  /* none left */
  assert_int_equal(dl_verifier_count(t->m), 1);
  assert_int_equal(dl_verifier_at(t->m, 0)->p1, DL_WDF_OBJECT_ERROR);
  assert_int_equal(dl_wdf_queue_retrieve(mq, NULL, &got), DL_STATUS_SUCCESS);  /* a, then c */
  assert_ptr_equal(got, a);
  dl_wdf_queue_stop(mq, 0);
  assert_int_equal(dl_wdf_queue_retrieve_found(mq, c, &taken), DL_STATUS_WDF_PAUSED);
  dl_wdf_queue_start(mq);
  dl_wdf_queue *pq = queue(t, DL_WDF_DISPATCH_PARALLEL);
  assert_int_equal(dl_wdf_queue_find(pq, NULL, NULL, &got), DL_STATUS_INVALID_DEVICE_REQUEST);
  driver_complete(a, 0, 0);
  driver_complete(b, 0, 0);
}

/* Forwarding: to another queue of the device; the misuses KMDF's verifier breaks on. */
static void test_forward(void **state) {
  rig *t = *state;
  dl_wdf_queue *pq = queue(t, DL_WDF_DISPATCH_PARALLEL), *mq = queue(t, DL_WDF_DISPATCH_MANUAL);
  dl_wdf_request *r = read_to(t, pq), *got;
  assert_int_equal(t->presented, 1);
  assert_int_equal(dl_wdf_request_forward(r, pq), DL_STATUS_INVALID_DEVICE_REQUEST);  /* own queue */
  assert_int_equal(dl_verifier_count(t->m), 1);
  dl_device *pdo2;
  dl_wdf_device *d2;
  dl_device_new(t->m, "pdo2", &pdo2);
  dl_wdf_device_new(t->m, NULL, pdo2, "fdo2", &ops, t, &d2);
  dl_wdf_queue *other;
  dl_wdf_queue_new(d2, DL_WDF_DISPATCH_MANUAL, 0, &other);
  assert_int_equal(dl_wdf_request_forward(r, other), DL_STATUS_INVALID_DEVICE_REQUEST);
  assert_int_equal(dl_verifier_count(t->m), 2);
  assert_int_equal(dl_wdf_request_forward(r, mq), DL_STATUS_SUCCESS);
  assert_int_equal(pq->in_flight, 0);
  assert_ptr_equal(r->q, mq);
  assert_int_equal(dl_wdf_request_forward(r, pq), DL_STATUS_INVALID_DEVICE_REQUEST);  /* not owned */
  assert_int_equal(dl_verifier_count(t->m), 3);
  dl_wdf_queue_drain(pq, 0);  /* refusing */
  assert_int_equal(dl_wdf_queue_retrieve(mq, NULL, &got), DL_STATUS_SUCCESS);
  assert_int_equal(dl_wdf_request_forward(got, pq), DL_STATUS_WDF_BUSY);
  assert_int_equal(dl_verifier_count(t->m), 3);
  driver_complete(got, 0, 0);
}

/* Requeue: back at the head of a manual queue; on another queue a break. */
static void test_requeue(void **state) {
  rig *t = *state;
  dl_wdf_queue *mq = queue(t, DL_WDF_DISPATCH_MANUAL);
  dl_wdf_request *a = read_to(t, mq), *b = read_to(t, mq), *got;
  dl_wdf_queue_retrieve(mq, NULL, &got);
  assert_int_equal(dl_wdf_request_requeue(a), DL_STATUS_SUCCESS);
  assert_int_equal(dl_wdf_request_requeue(a), DL_STATUS_INVALID_DEVICE_REQUEST);  /* not owned */
  dl_wdf_queue_retrieve(mq, NULL, &got);
  assert_ptr_equal(got, a);  /* order kept */
  (void)b;
  dl_wdf_queue *sq = queue(t, DL_WDF_DISPATCH_SEQUENTIAL);
  dl_wdf_request *s = read_to(t, sq);
  uint64_t before = dl_verifier_count(t->m);
  assert_int_equal(dl_wdf_request_requeue(s), DL_STATUS_INVALID_DEVICE_REQUEST);
  assert_int_equal(dl_verifier_count(t->m), before + 1);
}

/* Stop and Drain call back once idle; Purge cancels what waits. */
static void test_queue_states(void **state) {
  rig *t = *state;
  dl_wdf_queue *q = queue(t, DL_WDF_DISPATCH_SEQUENTIAL);
  dl_wdf_request *a = read_to(t, q);
  read_to(t, q);
  dl_wdf_queue_stop(q, 1);
  assert_int_equal(t->nstates, 0);
  driver_complete(a, 0, 0);
  assert_int_equal(t->nstates, 1);
  assert_int_equal(t->states[0], DL_WDF_QCB_STOP);
  assert_int_equal(t->presented, 1);  /* stopped: the second waits */
  dl_wdf_queue_drain(q, 1);
  assert_int_equal(t->nstates, 1);
  dl_wdf_queue_start(q);
  assert_int_equal(t->presented, 2);
  dl_wdf_queue_drain(q, 1);
  driver_complete(t->last, 0, 0);
  assert_int_equal(t->nstates, 2);
  assert_int_equal(t->states[1], DL_WDF_QCB_DRAIN);
  dl_wdf_request *r;
  dl_irp *late = irp_of(t, DL_IRP_MJ_READ, 0, 0, 8, NULL);
  assert_int_equal(dl_wdf_queue_add(q, late, &r), DL_EBUSY);  /* drained: refused */
  dl_irp_free(late);
  /* Purge: waiting requests cancelled, the driver's cancelable ones too. */
  dl_wdf_queue *mq = queue(t, DL_WDF_DISPATCH_MANUAL);
  dl_wdf_request *w = read_to(t, mq), *own;
  dl_irp *wirp = w->irp;
  read_to(t, mq);
  dl_wdf_queue_retrieve(mq, NULL, &own);
  assert_int_equal(dl_wdf_request_mark_cancelable(own, 1), DL_STATUS_SUCCESS);
  t->complete_in_cancel = 1;
  dl_wdf_queue_purge(mq, 1);
  assert_true(dl_irp_completed(wirp));
  assert_int_equal(dl_irp_status(wirp), DL_STATUS_CANCELLED);
  assert_int_equal(t->cancels, 1);
  assert_int_equal(mq->in_flight, 0);
  assert_int_equal(t->states[t->nstates - 1], DL_WDF_QCB_PURGE);
}

static void tick(void *arg, uint64_t data) {
  (void)data;
  rig *t = arg;
  dl_clock_after(dl_machine_clock(t->m), 1000000, tick, t, 0, NULL);  /* forever */
}

static void finish_later(void *arg, uint64_t data) {
  (void)data;
  driver_complete(arg, 0, 0);
}

/* A wait that could never end; one that ends when a simulated event
** completes the request. */
static void test_wait_idle(void **state) {
  rig *t = *state;
  dl_wdf_queue *q = queue(t, DL_WDF_DISPATCH_PARALLEL);
  dl_wdf_request *a = read_to(t, q);
  dl_wdf_queue_stop(q, 0);
  assert_int_equal(dl_wdf_queue_wait_idle(q, DL_WDF_QCB_STOP), 0);  /* nothing left to run */
  tick(t, 0);
  uint64_t t0 = dl_clock_now(dl_machine_clock(t->m));
  assert_int_equal(dl_wdf_queue_wait_idle(q, DL_WDF_QCB_STOP), 0);  /* a periodic event: bounded */
  assert_true(dl_clock_now(dl_machine_clock(t->m)) - t0 > DL_WDF_SYNC_WAIT_LIMIT);
  dl_clock_after(dl_machine_clock(t->m), 5000, finish_later, a, 0, NULL);
  assert_int_equal(dl_wdf_queue_wait_idle(q, DL_WDF_QCB_STOP), 1);
  dl_wdf_request *b = read_to(t, q);
  (void)b;
  assert_int_equal(t->presented, 1);  /* stopped */
  assert_int_equal(dl_wdf_queue_wait_idle(q, DL_WDF_QCB_STOP), 1);
}

/* ReadyNotify: when the empty manual queue gets a request. */
static void test_ready_notify(void **state) {
  rig *t = *state;
  dl_wdf_queue *pq = queue(t, DL_WDF_DISPATCH_PARALLEL), *mq = queue(t, DL_WDF_DISPATCH_MANUAL);
  assert_int_equal(dl_wdf_queue_ready_notify(pq, 1), DL_STATUS_INVALID_DEVICE_REQUEST);
  assert_int_equal(dl_wdf_queue_ready_notify(mq, 1), DL_STATUS_SUCCESS);
  assert_int_equal(t->nstates, 0);
  read_to(t, mq);
  assert_int_equal(t->nstates, 1);
  assert_int_equal(t->states[0], DL_WDF_QCB_READY);
  read_to(t, mq);  /* not empty before: no call */
  assert_int_equal(t->nstates, 1);
}

/* IoCancelIrp: a waiting request is cancelled by the framework, or given
** to EvtIoCanceledOnQueue; a cancelable one goes to EvtRequestCancel. */
static void test_cancel(void **state) {
  rig *t = *state;
  dl_wdf_queue *mq = queue(t, DL_WDF_DISPATCH_MANUAL);
  dl_wdf_request *w = read_to(t, mq), *got;
  dl_irp *irp = w->irp;
  assert_int_equal(dl_io_cancel_irp(irp), 1);
  assert_true(dl_irp_completed(irp));
  assert_int_equal(dl_irp_status(irp), DL_STATUS_CANCELLED);
  dl_wdf_queue_set_canceled_on_queue(mq, 1);
  w = read_to(t, mq);
  dl_io_cancel_irp(w->irp);
  assert_int_equal(t->on_queue, 1);
  assert_ptr_equal(t->last, w);
  assert_int_equal(mq->in_flight, 1);  /* the driver's now */
  driver_complete(w, DL_STATUS_CANCELLED, 0);
  /* Cancelable: EvtRequestCancel once the framework released the cancel
  ** spin lock (at IoCancelIrp's caller's IRQL); Unmark then says so. */
  read_to(t, mq);
  dl_wdf_queue_retrieve(mq, NULL, &got);
  assert_int_equal(dl_wdf_request_mark_cancelable(got, 0), DL_STATUS_SUCCESS);
  assert_int_equal(dl_wdf_request_mark_cancelable(got, 0), DL_STATUS_INVALID_DEVICE_REQUEST);
  uint64_t reports = dl_verifier_count(t->m);
  assert_int_equal(reports, 1);
  dl_io_cancel_irp(got->irp);
  assert_int_equal(t->cancels, 1);
  assert_int_equal(t->cancel_irql, DL_PASSIVE_LEVEL);
  assert_false(dl_io_cancel_spin_lock_held(t->m));
  assert_true(dl_wdf_request_is_canceled(got));
  assert_int_equal(dl_wdf_request_unmark_cancelable(got), DL_STATUS_CANCELLED);
  driver_complete(got, DL_STATUS_CANCELLED, 0);
  assert_int_equal(dl_verifier_count(t->m), reports);
  /* Unmarked in time: success; completing while cancelable is a break. */
  read_to(t, mq);
  dl_wdf_queue_retrieve(mq, NULL, &got);
  dl_wdf_request_mark_cancelable(got, 0);
  assert_int_equal(dl_wdf_request_unmark_cancelable(got), DL_STATUS_SUCCESS);
  assert_int_equal(dl_io_cancel_irp(got->irp), 0);  /* no routine any more */
  dl_wdf_request_mark_cancelable(got, 1);  /* cancelled already: Ex says so */
  assert_int_equal(t->cancels, 1);
  driver_complete(got, 0, 0);
  read_to(t, mq);
  dl_wdf_queue_retrieve(mq, NULL, &got);
  dl_wdf_request_mark_cancelable(got, 0);
  driver_complete(got, 0, 0);
  assert_int_equal(dl_verifier_count(t->m), reports + 1);
  /* MarkCancelable (not Ex) on a cancelled IRP calls EvtRequestCancel at once. */
  read_to(t, mq);
  dl_wdf_queue_retrieve(mq, NULL, &got);
  got->irp->cancel = 1;
  t->complete_in_cancel = 1;
  assert_int_equal(dl_wdf_request_mark_cancelable(got, 0), DL_STATUS_CANCELLED);
  assert_int_equal(t->cancels, 2);
}

/* Buffers by method; STATUS_BUFFER_TOO_SMALL under the minimum. */
static void test_buffers(void **state) {
  rig *t = *state;
  dl_wdf_queue *mq = queue(t, DL_WDF_DISPATCH_MANUAL);
  uint64_t va, len;
  dl_wdf_request *r = add(mq, irp_of(t, DL_IRP_MJ_DEVICE_CONTROL, DL_METHOD_BUFFERED, 4, 16, NULL));
  dl_wdf_queue_retrieve(mq, NULL, &r);
  assert_int_equal(dl_wdf_request_buffer(r, 0, 4, &va, &len), DL_STATUS_SUCCESS);
  assert_int_equal(va, r->irp->system_va);
  assert_int_equal(len, 4);
  assert_int_equal(dl_wdf_request_buffer(r, 0, 5, &va, &len), DL_STATUS_BUFFER_TOO_SMALL);
  assert_int_equal(dl_wdf_request_buffer(r, 1, 16, &va, &len), DL_STATUS_SUCCESS);
  assert_int_equal(len, 16);
  dl_mdl *mdl;
  assert_int_equal(dl_wdf_request_mdl(r, 1, &mdl), DL_STATUS_SUCCESS);
  assert_int_equal(dl_mdl_byte_count(mdl), 16);
  assert_int_equal(dl_mdl_virtual_address(mdl), r->irp->system_va);
  uint64_t mdl_id = dl_mdl_id(mdl);
  driver_complete(r, 0, 17);  /* beyond the buffer: 0x10D/0x6/0x4, cut to 16 */
  assert_int_equal(last_p2(t), DL_WDF_INFORMATION_LENGTH_MISMATCH);
  assert_null(dl_machine_find(t->m, mdl_id));  /* the framework's MDL went at completion */
  /* OUT_DIRECT: the output is the IRP's MDL, mapped. */
  add(mq, irp_of(t, DL_IRP_MJ_DEVICE_CONTROL, DL_METHOD_OUT_DIRECT, 0, 16, NULL));
  dl_wdf_queue_retrieve(mq, NULL, &r);
  assert_int_equal(dl_wdf_request_buffer(r, 1, 0, &va, &len), DL_STATUS_SUCCESS);
  assert_int_equal(va, t->out->va);
  assert_int_equal(dl_wdf_request_buffer(r, 0, 0, &va, &len), DL_STATUS_BUFFER_TOO_SMALL);  /* no input */
  assert_int_equal(dl_wdf_request_mdl(r, 1, &mdl), DL_STATUS_SUCCESS);
  assert_ptr_equal(mdl, r->irp->mdl);
  driver_complete(r, 0, 16);
  /* METHOD_NEITHER: no buffer the framework can hand out. */
  add(mq, irp_of(t, DL_IRP_MJ_DEVICE_CONTROL, DL_METHOD_NEITHER, 4, 16, NULL));
  dl_wdf_queue_retrieve(mq, NULL, &r);
  assert_int_equal(dl_wdf_request_buffer(r, 0, 0, &va, &len), DL_STATUS_INVALID_DEVICE_REQUEST);
  assert_int_equal(dl_wdf_request_buffer(r, 1, 0, &va, &len), DL_STATUS_INVALID_DEVICE_REQUEST);
  driver_complete(r, 0, 0);
  /* A read: output only; direct by default. */
  add(mq, irp_of(t, DL_IRP_MJ_READ, 0, 0, 16, NULL));
  dl_wdf_queue_retrieve(mq, NULL, &r);
  assert_int_equal(dl_wdf_request_buffer(r, 0, 0, &va, &len), DL_STATUS_INVALID_DEVICE_REQUEST);
  assert_int_equal(dl_wdf_request_buffer(r, 1, 16, &va, &len), DL_STATUS_SUCCESS);
  assert_int_equal(va, t->out->va);
  driver_complete(r, 0, 16);
}

/* WdfRequestRetrieve{Input,Output}Memory: one WDFMEMORY a buffer, the same
** each time, that the driver may not delete (0x10D/0x7) and that goes with
** the request at completion; NEITHER has none. */
static void test_request_memory(void **state) {
  rig *t = *state;
  dl_wdf_queue *mq = queue(t, DL_WDF_DISPATCH_MANUAL);
  dl_wdf_request *r = add(mq, irp_of(t, DL_IRP_MJ_DEVICE_CONTROL, DL_METHOD_BUFFERED, 4, 16, NULL));
  dl_wdf_queue_retrieve(mq, NULL, &r);
  dl_wdf_memory *in, *out, *again;
  assert_int_equal(dl_wdf_request_memory(r, 0, &in), DL_STATUS_SUCCESS);
  assert_int_equal(dl_wdf_request_memory(r, 1, &out), DL_STATUS_SUCCESS);
  assert_int_equal(dl_wdf_request_memory(r, 0, &again), DL_STATUS_SUCCESS);
  assert_ptr_equal(in, again);
  uint64_t size;
  assert_int_equal(dl_wdf_memory_buffer(in, &size), r->irp->system_va);
  assert_int_equal(size, 4);
  assert_int_equal(dl_wdf_memory_buffer(out, &size), r->irp->system_va);
  assert_int_equal(size, 16);
  uint64_t reports = dl_verifier_count(t->m), in_id = DL_OBJECT(in)->id, out_id = DL_OBJECT(out)->id;
  assert_int_equal(dl_wdf_object_delete(DL_WDF(in)), DL_ESTATE);  /* the framework's */
  assert_int_equal(dl_verifier_count(t->m), reports + 1);
  assert_non_null(dl_machine_find(t->m, in_id));
  driver_complete(r, 0, 0);
  assert_null(dl_machine_find(t->m, in_id));  /* gone with the request */
  assert_null(dl_machine_find(t->m, out_id));
  add(mq, irp_of(t, DL_IRP_MJ_DEVICE_CONTROL, DL_METHOD_NEITHER, 4, 16, NULL));
  dl_wdf_queue_retrieve(mq, NULL, &r);
  assert_int_equal(dl_wdf_request_memory(r, 0, &in), DL_STATUS_INVALID_DEVICE_REQUEST);
  assert_null(in);
  driver_complete(r, 0, 0);
}

/* Creates get a WDFFILEOBJECT; EvtDeviceFileCreate gets the create as a
** request; cleanup and close call theirs, close deletes the WDFFILEOBJECT. */
static void test_files(void **state) {
  rig *t = *state;
  dl_file *f;
  dl_file_new(t->m, &f);
  dl_wdf_request *r;
  dl_irp *c = irp_of(t, DL_IRP_MJ_CREATE, 0, 0, 0, f);
  assert_int_equal(dl_wdf_device_file_dispatch(t->d, c, &r), DL_STATUS_SUCCESS);  /* no callback */
  dl_wdf_file *wf = dl_wdf_file_of(f);
  assert_non_null(wf);
  assert_ptr_equal(wf->file, f);
  assert_int_equal(t->file_calls[DL_WDF_FILE_CREATE], 0);
  dl_wdf_device_set_file_events(t->d, 1u << DL_WDF_FILE_CREATE | 1u << DL_WDF_FILE_CLEANUP |
                                      1u << DL_WDF_FILE_CLOSE);
  dl_file *g;
  dl_file_new(t->m, &g);
  dl_irp *c2 = irp_of(t, DL_IRP_MJ_CREATE, 0, 0, 0, g);
  assert_int_equal(dl_wdf_device_file_dispatch(t->d, c2, &r), DL_STATUS_PENDING);
  assert_int_equal(t->file_calls[DL_WDF_FILE_CREATE], 1);
  assert_ptr_equal(t->create_req, r);
  assert_ptr_equal(t->file_seen, dl_wdf_file_of(g));
  assert_true(dl_irp_pending(c2));
  driver_complete(r, DL_STATUS_SUCCESS, 0);
  assert_int_equal(dl_file_get_state(g), DL_FILE_OPEN);
  dl_irp *cl = irp_of(t, DL_IRP_MJ_CLEANUP, 0, 0, 0, g);
  assert_int_equal(dl_wdf_device_file_dispatch(t->d, cl, &r), DL_STATUS_SUCCESS);
  assert_int_equal(t->file_calls[DL_WDF_FILE_CLEANUP], 1);
  uint64_t id = DL_OBJECT(dl_wdf_file_of(g))->id;
  dl_irp *cs = irp_of(t, DL_IRP_MJ_CLOSE, 0, 0, 0, g);
  assert_int_equal(dl_wdf_device_file_dispatch(t->d, cs, &r), DL_STATUS_SUCCESS);
  assert_int_equal(t->file_calls[DL_WDF_FILE_CLOSE], 1);
  assert_null(dl_wdf_file_of(g));
  assert_null(dl_machine_find(t->m, id));
  dl_wdf_device_remove(t->d);
  dl_irp *late = irp_of(t, DL_IRP_MJ_CREATE, 0, 0, 0, NULL);
  assert_int_equal(dl_wdf_device_file_dispatch(t->d, late, &r), DL_STATUS_INVALID_DEVICE_STATE);
  dl_irp_free(c), dl_irp_free(c2), dl_irp_free(cl), dl_irp_free(cs), dl_irp_free(late);
}

/* A file's FileName (the path past the device's name) is set before its
** create is sent and read back by WdfFileObjectGetFileName at
** PASSIVE_LEVEL only; an empty one has Length 0. */
static void test_file_names(void **state) {
  rig *t = *state;
  dl_file *f, *g;
  dl_file_new(t->m, &f);
  dl_file_new(t->m, &g);
  assert_int_equal(dl_file_set_name(f, "h2c_0"), DL_EINVAL);     /* no leading backslash */
  assert_int_equal(dl_file_set_name(f, "\\c2h_1"), DL_OK);
  assert_int_equal(dl_file_set_name(f, "\\h2c_0"), DL_OK);      /* replaced before the create */
  assert_string_equal(dl_file_name(g), "");
  dl_wdf_request *r;
  dl_irp *c = irp_of(t, DL_IRP_MJ_CREATE, 0, 0, 0, f), *c2 = irp_of(t, DL_IRP_MJ_CREATE, 0, 0, 0, g);
  assert_int_equal(dl_wdf_device_file_dispatch(t->d, c, &r), DL_STATUS_SUCCESS);
  assert_int_equal(dl_wdf_device_file_dispatch(t->d, c2, &r), DL_STATUS_SUCCESS);
  assert_string_equal(dl_wdf_file_get_name(dl_wdf_file_of(f), DL_PASSIVE_LEVEL), "\\h2c_0");
  assert_null(dl_wdf_file_get_name(dl_wdf_file_of(f), DL_DISPATCH_LEVEL));
  assert_string_equal(dl_wdf_file_get_name(dl_wdf_file_of(g), DL_PASSIVE_LEVEL), "");
  assert_null(dl_wdf_file_get_name(NULL, DL_PASSIVE_LEVEL));
  assert_int_equal(dl_file_set_name(f, "\\other"), DL_ESTATE);  /* its create was sent */
  dl_irp_free(c), dl_irp_free(c2);
}

/* Zero-length reads and writes: completed by the framework unless allowed. */
static void test_zero_length(void **state) {
  rig *t = *state;
  dl_wdf_queue *pq = queue(t, DL_WDF_DISPATCH_PARALLEL), *mq = queue(t, DL_WDF_DISPATCH_MANUAL);
  dl_irp *z = irp_of(t, DL_IRP_MJ_READ, 0, 0, 0, NULL);
  add(pq, z);
  assert_int_equal(t->presented, 0);
  assert_true(dl_irp_completed(z));
  assert_int_equal(dl_irp_status(z), DL_STATUS_SUCCESS);
  assert_int_equal(pq->in_flight, 0);
  dl_wdf_queue_set_allow_zero_length(pq, 1);
  add(pq, irp_of(t, DL_IRP_MJ_WRITE, 0, 0, 0, NULL));
  assert_int_equal(t->presented, 1);
  driver_complete(t->last, 0, 0);
  dl_irp *z2 = irp_of(t, DL_IRP_MJ_WRITE, 0, 0, 0, NULL);
  add(mq, z2);
  dl_wdf_request *b = read_to(t, mq), *got;
  assert_int_equal(dl_wdf_queue_retrieve(mq, NULL, &got), DL_STATUS_SUCCESS);
  assert_ptr_equal(got, b);  /* the zero-length write went by */
  assert_true(dl_irp_completed(z2));
  driver_complete(got, 0, 0);
  dl_irp_free(z);
  dl_irp_free(z2);
}

/* A framework device's interfaces: enabled at start (at once once started),
** disabled at removal. */
static void test_interfaces(void **state) {
  rig *t = *state;
  const char *g = "{6d1a2b3c-0000-4e5f-8a9b-0123456789ab}";
  dl_device *pdo2;
  dl_wdf_device *d2;
  dl_device_new(t->m, "pdo2", &pdo2);
  dl_wdf_device_new(t->m, NULL, pdo2, "fdo2", &ops, t, &d2);
  dl_devif *f, *late;
  assert_int_equal(dl_wdf_device_create_interface(d2, g, NULL, &f), DL_OK);
  assert_false(f->enabled);
  assert_ptr_equal(f->dev, d2->fdo);
  dl_wdf_device_start(d2, NULL, 0);
  assert_true(f->enabled);
  assert_int_equal(dl_wdf_device_create_interface(d2, g, "late", &late), DL_OK);
  assert_true(late->enabled);
  assert_int_equal(dl_wdf_device_set_interface_state(d2, g, "late", 0), DL_OK);
  assert_false(late->enabled);
  assert_true(f->enabled);
  assert_int_equal(dl_wdf_device_set_interface_state(d2, g, "other", 0), DL_ERANGE);
  dl_wdf_device_remove(d2);
  assert_false(f->enabled);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_manual_retrieve, setup, teardown),
    cmocka_unit_test_setup_teardown(test_retrieve_by_file, setup, teardown),
    cmocka_unit_test_setup_teardown(test_find_request, setup, teardown),
    cmocka_unit_test_setup_teardown(test_forward, setup, teardown),
    cmocka_unit_test_setup_teardown(test_requeue, setup, teardown),
    cmocka_unit_test_setup_teardown(test_queue_states, setup, teardown),
    cmocka_unit_test_setup_teardown(test_wait_idle, setup, teardown),
    cmocka_unit_test_setup_teardown(test_ready_notify, setup, teardown),
    cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
    cmocka_unit_test_setup_teardown(test_buffers, setup, teardown),
    cmocka_unit_test_setup_teardown(test_request_memory, setup, teardown),
    cmocka_unit_test_setup_teardown(test_files, setup, teardown),
    cmocka_unit_test_setup_teardown(test_file_names, setup, teardown),
    cmocka_unit_test_setup_teardown(test_zero_length, setup, teardown),
    cmocka_unit_test_setup_teardown(test_interfaces, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
