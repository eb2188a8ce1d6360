/*
** test_wdfqueuestate.c: the KMDF I/O queue's state table
** (core/wdf/dl_wdfqueuestate.c): a real manual queue driven into every row
** and every column called on it, each refusal checked for its status, its
** report (0x10D/0xA, P2 the queue, P3 the status) and that it changed
** nothing, each allowed call for its effect; then the registrations checked
** beside the table (one StopComplete, one PurgeComplete/DrainComplete, one
** ReadyNotify), and the two callback slots kept apart.
**
** The rig: a started framework device with a manual queue q under test and
** a manual queue src of the same device. Before the row is reached, q has a
** waiting request w (not in the Deleting row: a queue holding requests is
** not deleted) and, for the requeue column, a request oq the driver
** retrieved from it; src has a request o the driver owns (to forward into
** q) and a waiting one s. The rows "device not in D0" are reached by
** powering the device down while o is the driver's (the power-down waits).
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
#include "io/dl_driver.h"
#include "io/dl_file.h"
#include "io/dl_iobuf.h"
#include "io/dl_irp.h"
#include "machine/dl_verifier.h"
#include "wdf/dl_wdfio.h"
#include "wdf/dl_wdfobject.h"
#include "wdf/dl_wdfqueuestate.h"

typedef struct rig {
  dl_machine *m;
  dl_wdf_device *d;
  dl_region *buf;
  dl_wdf_queue *q, *src;
  dl_wdf_request *w, *oq, *o, *s;
  dl_irp *oq_irp;       /* oq's IRP: it outlives oq once cancelled */
  int states[8], nstates;
  int call;             /* the column made from q's EvtCleanupCallback (Deleting row) */
  int cleanups;
  int d0_exit_row;      /* q's row in EvtDeviceD0Exit, -1 before it ran */
  uint32_t d0_exit_status;
} rig;

static rig the_rig;

static void on_present(void *ctx, dl_wdf_queue *q, dl_wdf_request *r) { (void)ctx, (void)q, (void)r; }

static void complete_irp(void *ctx, dl_irp *irp) {
  (void)ctx;
  dl_io_complete_request(irp);
}

static void queue_state(void *ctx, dl_wdf_queue *q, int which) {
  (void)q;
  rig *g = ctx;
  if (g->nstates < 8) g->states[g->nstates++] = which;
}

/* EvtDeviceD0Exit stops q (a driver's usual power-down). */
static uint32_t on_event(void *ctx, dl_wdf_device *d, dl_wdf_event ev, uint32_t st) {
  (void)d, (void)st;
  rig *g = ctx;
  if (ev == DL_WDF_D0_EXIT && g->q) {
    g->d0_exit_row = dl_wdfqueue_row(g->q);
    g->d0_exit_status = dl_wdf_queue_stop(g->q, 0);
  }
  return DL_STATUS_SUCCESS;
}

static const dl_wdf_ops ops = {.event = on_event, .present = on_present, .complete_irp = complete_irp,
                               .queue_state = queue_state};

/* A read sent to the device (it reaches the queue configured for reads). */
static dl_irp *read_irp(rig *g) {
  dl_irp_params p = {0};
  p.major = DL_IRP_MJ_READ;
  p.out_va = g->buf->va, p.out_length = 16;
  dl_irp *irp;
  assert_int_equal(dl_iobuf_irp_new(g->m, &p, &irp), DL_OK);
  assert_int_equal(dl_irp_send(irp, g->d->fdo), DL_OK);
  return irp;
}

static dl_wdf_request *add(rig *g, dl_wdf_queue *q) {
  dl_wdf_request *r;
  dl_irp *irp = read_irp(g);
  assert_int_equal(dl_wdf_queue_add(q, irp, &r), DL_OK);
  dl_irp_mark_pending(irp);
  return r;
}

/* The driver completes r. */
static void complete(dl_wdf_request *r) {
  dl_wdf_queue *q = r->q;
  dl_irp *irp = dl_wdf_request_complete(r, DL_STATUS_SUCCESS, 0);
  assert_non_null(irp);
  dl_io_complete_request(irp);
  dl_wdf_queue_dispatch(q);
}

static void open_rig(rig *g) {
  memset(g, 0, sizeof *g);
  assert_int_equal(rig_wdf_open(&g->m, NULL, NULL, &ops, g, &g->d), 0);
  assert_int_equal(dl_wdf_device_start(g->d, NULL, 0), DL_STATUS_SUCCESS);
  assert_int_equal(dl_buffer_new(g->m, 64, 0, DL_ALLOC_LOW_FIRST, DL_REGION_NONPAGED, &g->buf), DL_OK);
  assert_int_equal(dl_wdf_queue_new(g->d, DL_WDF_DISPATCH_MANUAL, 0, &g->q), DL_OK);
  assert_int_equal(dl_wdf_queue_new(g->d, DL_WDF_DISPATCH_MANUAL, 0, &g->src), DL_OK);
  assert_int_equal(dl_wdf_device_configure_dispatching(g->d, g->q, DL_IRP_MJ_READ), DL_OK);
}

static uint64_t reports(rig *g) { return dl_verifier_count(g->m); }

/* ---- a row and a call ------------------------------------------------------------ */

/* What the queue is: compared before and after a refusal. */
typedef struct snap {
  int row, refusing, stopped, pending_stop, pending_op, ready_notify;
  uint32_t in_flight, waiting;
  uint64_t presented, completed;
} snap;

static snap snapshot(const dl_wdf_queue *q) {
  snap s;
  memset(&s, 0, sizeof s);  /* padding too: snapshots are compared with memcmp */
  s.row = dl_wdfqueue_row(q);
  s.refusing = q->refusing;
  s.stopped = q->stopped;
  s.pending_stop = q->pending_stop;
  s.pending_op = q->pending_op;
  s.ready_notify = q->ready_notify;
  dl_wdf_queue_stats(q, &s.presented, &s.completed, &s.in_flight, &s.waiting);
  return s;
}

/* Makes column `call` on g->q; returns the status it answered (0 for Start). */
static uint32_t make_call(rig *g, int call) {
  dl_wdf_queue *q = g->q;
  dl_wdf_request *r = NULL;
  uint32_t st = 0;
  switch (call) {
    case DL_QCALL_START: dl_wdf_queue_start(q); break;
    case DL_QCALL_STOP: st = dl_wdf_queue_stop(q, 0); break;
    case DL_QCALL_STOP_CB: st = dl_wdf_queue_stop(q, 1); break;
    case DL_QCALL_PURGE: st = dl_wdf_queue_purge(q, 0); break;
    case DL_QCALL_PURGE_CB: st = dl_wdf_queue_purge(q, 1); break;
    case DL_QCALL_DRAIN: st = dl_wdf_queue_drain(q, 0); break;
    case DL_QCALL_DRAIN_CB: st = dl_wdf_queue_drain(q, 1); break;
    case DL_QCALL_STOP_SYNC: st = (uint32_t)dl_wdf_queue_change_sync(q, DL_WDF_QCB_STOP); break;
    case DL_QCALL_PURGE_SYNC: st = (uint32_t)dl_wdf_queue_change_sync(q, DL_WDF_QCB_PURGE); break;
    case DL_QCALL_DRAIN_SYNC: st = (uint32_t)dl_wdf_queue_change_sync(q, DL_WDF_QCB_DRAIN); break;
    case DL_QCALL_READY_ON: st = dl_wdf_queue_ready_notify(q, 1); break;
    case DL_QCALL_READY_OFF: st = dl_wdf_queue_ready_notify(q, 0); break;
    case DL_QCALL_RETRIEVE: st = dl_wdf_queue_retrieve(q, NULL, &r); break;
    case DL_QCALL_RETRIEVE_BY_FILE: st = dl_wdf_queue_retrieve(q, g, &r); break;  /* no IRP is on it */
    case DL_QCALL_FIND:
      st = dl_wdf_queue_find(q, NULL, NULL, &r);
      if (r) dl_wdf_object_dereference(DL_WDF(r));
      break;
    case DL_QCALL_RETRIEVE_FOUND: {
      dl_wdf_request *found = g->w ? g->w : g->s;  /* w waits in q, s in src */
      st = dl_wdf_queue_retrieve_found(q, found, &r);
      break;
    }
    case DL_QCALL_ARRIVAL: {
      dl_irp *irp = read_irp(g);
      st = dl_wdf_device_dispatch(g->d, irp, &r);
      if (st != DL_STATUS_PENDING) {  /* refused: the dispatch routine completes it */
        dl_irp_set_status(irp, st);
        assert_int_equal(dl_io_complete_request(irp), DL_OK);
        dl_irp_free(irp);
      }
      break;
    }
    case DL_QCALL_FORWARD_IN: st = dl_wdf_request_forward(g->o, q); break;
    case DL_QCALL_REQUEUE_IN: st = dl_wdf_request_requeue(g->oq); break;
    case DL_QCALL_DELETE: st = (uint32_t)dl_wdf_object_delete(DL_WDF(q)); break;
    default: fail();
  }
  return st;
}

#define A {DL_QS_ALLOW, 0}
#define N {DL_QS_NOOP, 0}
#define PAU {DL_QS_STATUS, DL_STATUS_WDF_PAUSED}
#define BSY {DL_QS_STATUS, DL_STATUS_WDF_BUSY}
#define IDS {DL_QS_STATUS, DL_STATUS_INVALID_DEVICE_STATE}
#define DPS {DL_QS_STATUS, DL_STATUS_DELETE_PENDING}
#define BRK {DL_QS_REPORT, DL_STATUS_INVALID_DEVICE_REQUEST}
#define DEL {DL_QS_REPORT, DL_STATUS_DELETE_PENDING}
#define CXL {DL_QS_CANCEL, 0}
#define NON {DL_QS_NONE, 0}

/* What FxIoQueue does, written out independently of the engine's table:
** state changes are refused on a deleted queue (FatalError, STATUS_DELETE_PENDING)
** and are harmless anywhere else; unregistering ReadyNotify needs a queue
** that does not dispatch; retrievals need D0 and dispatching
** (STATUS_WDF_PAUSED); a queue that does not accept completes new IRPs with
** STATUS_INVALID_DEVICE_STATE and answers a forward STATUS_WDF_BUSY; a
** purged queue cancels what is requeued; FindRequest only peeks. */
static const dl_wdfqueue_cell expected[DL_QROW_COUNT][DL_QCALL_COUNT] = {
  /*              Sta Stp StC StS Prg PrC PrS Drn DrC DrS RdOn RdOff Ret  RBF  Fnd RFd  Arr  Fwd  Rqu  Del */
  /* Started    */ {A, A,  A,  A,  A,  A,  A,  A,  A,  A,  A,   BRK,  A,   A,   A,  A,   A,   A,   A,   A},
  /* Started,off*/ {A, A,  A,  A,  A,  A,  A,  A,  A,  A,  A,   BRK,  PAU, PAU, A,  PAU, A,   A,   A,   A},
  /* Stopped    */ {A, A,  A,  A,  A,  A,  A,  A,  A,  A,  A,   A,    PAU, PAU, A,  PAU, A,   A,   A,   A},
  /* Drained    */ {A, A,  A,  A,  A,  A,  A,  A,  A,  A,  A,   BRK,  A,   A,   A,  A,   IDS, BSY, A,   A},
  /* Drained,off*/ {A, A,  A,  A,  A,  A,  A,  A,  A,  A,  A,   BRK,  PAU, PAU, A,  PAU, IDS, BSY, A,   A},
  /* Purged     */ {A, A,  A,  A,  A,  A,  A,  A,  A,  A,  A,   A,    PAU, PAU, A,  PAU, IDS, BSY, CXL, A},
  /* Deleting   */ {N, DEL,DEL,DEL,DEL,DEL,DEL,DEL,DEL,DEL,DPS, DPS,  PAU, PAU, A,  PAU, IDS, BSY, NON, N},
};

/* Checks the outcome of column `call` made in `row`: st its answer, before
** the queue and report count before it. */
static void check_outcome(rig *g, int row, int call, uint32_t st, snap before, uint64_t nrep) {
  dl_wdfqueue_cell want = expected[row][call];
  const char *rn = dl_wdfqueue_row_name(row), *cn = dl_wdfqueue_call_name(call);
  if (want.kind == DL_QS_STATUS || want.kind == DL_QS_REPORT) {
    int sync = call == DL_QCALL_STOP_SYNC || call == DL_QCALL_PURGE_SYNC || call == DL_QCALL_DRAIN_SYNC;
    if (sync) assert_int_equal(st, (uint32_t)-1);
    else if (st != want.status) fail_msg("%s in %s: 0x%08X, want 0x%08X", cn, rn, st, want.status);
    snap after = snapshot(g->q);
    if (memcmp(&before, &after, sizeof before) != 0) fail_msg("%s in %s changed the queue", cn, rn);
  }
  uint64_t want_reports = want.kind == DL_QS_REPORT ? 1 : 0;
  if (reports(g) != nrep + want_reports)
    fail_msg("%s in %s: %llu reports, want %llu", cn, rn, (unsigned long long)(reports(g) - nrep),
             (unsigned long long)want_reports);
  if (want.kind == DL_QS_REPORT) {
    const dl_report *rep = dl_verifier_at(g->m, (size_t)nrep);
    assert_int_equal(rep->bugcheck, DL_BUGCHECK_WDF);
    assert_int_equal(rep->p1, DL_WDF_QUEUE_FATAL_ERROR);
    assert_int_equal(rep->p2, g->q->id);
    assert_int_equal(rep->p3, want.status);
  }
  if (want.kind == DL_QS_CANCEL) {  /* requeued into a purged queue: cancelled, STATUS_SUCCESS */
    assert_int_equal(st, DL_STATUS_SUCCESS);
    assert_true(dl_irp_completed(g->oq_irp));
    assert_int_equal(dl_irp_status(g->oq_irp), DL_STATUS_CANCELLED);
  }
}

/* The Deleting row: the call made from q's EvtCleanupCallback. */
static void cleanup_call(void *ctx, dl_wdf_object *o) {
  rig *g = ctx;
  (void)o;
  g->cleanups++;
  assert_int_equal(dl_wdfqueue_row(g->q), DL_QROW_DELETING);
  snap before = snapshot(g->q);
  uint64_t n = reports(g);
  uint32_t st = make_call(g, g->call);
  check_outcome(g, DL_QROW_DELETING, g->call, st, before, n);
}

/* The requests the columns need, then the row. */
static void reach(rig *g, int row, int call) {
  g->o = add(g, g->src);
  dl_wdf_request *got;
  assert_int_equal(dl_wdf_queue_retrieve(g->src, NULL, &got), DL_STATUS_SUCCESS);
  assert_ptr_equal(got, g->o);
  g->s = add(g, g->src);
  if (call == DL_QCALL_READY_OFF) assert_int_equal(dl_wdf_queue_ready_notify(g->q, 1), DL_STATUS_SUCCESS);
  if (row != DL_QROW_DELETING) {
    if (call == DL_QCALL_REQUEUE_IN) {
      g->oq = add(g, g->q);
      g->oq_irp = dl_wdf_request_irp(g->oq);
      assert_int_equal(dl_wdf_queue_retrieve(g->q, NULL, &got), DL_STATUS_SUCCESS);
    }
    g->w = add(g, g->q);
  }
  if (row == DL_QROW_STARTED_OFF || row == DL_QROW_DRAINED_OFF)  /* o is the driver's: it waits */
    assert_int_equal(dl_wdf_device_set_power(g->d, DL_WDF_POWER_D3), DL_STATUS_PENDING);
  if (row == DL_QROW_STOPPED) assert_int_equal(dl_wdf_queue_stop(g->q, 0), DL_STATUS_SUCCESS);
  if (row == DL_QROW_DRAINED || row == DL_QROW_DRAINED_OFF)
    assert_int_equal(dl_wdf_queue_drain(g->q, 0), DL_STATUS_SUCCESS);
  if (row == DL_QROW_PURGED) {
    assert_int_equal(dl_wdf_queue_purge(g->q, 0), DL_STATUS_SUCCESS);
    g->w = NULL;  /* cancelled: completed and gone */
  }
  if (row != DL_QROW_DELETING) assert_int_equal(dl_wdfqueue_row(g->q), row);
}

/* ---- every cell ------------------------------------------------------------------- */

/* Every cell on a fresh rig: the engine's table says what FxIoQueue does; a
** refusal answers its status, is reported (0x10D/0xA) only where the cell
** says so, and leaves the queue as it was; an allowed call is not reported;
** the one cell that cannot happen cannot be built. */
static void test_every_cell(void **state) {
  (void)state;
  for (int row = 0; row < DL_QROW_COUNT; row++) {
    for (int call = 0; call < DL_QCALL_COUNT; call++) {
      rig *g = &the_rig;
      open_rig(g);
      dl_wdfqueue_cell cell = dl_wdfqueue_cell_at(row, call);
      assert_int_equal(cell.kind, expected[row][call].kind);
      assert_int_equal(cell.status, expected[row][call].status);
      reach(g, row, call);
      if (row == DL_QROW_DELETING && cell.kind == DL_QS_NONE) {
        /* Requeue into a queue being deleted: no request of it can be the
        ** driver's then, since a queue holding one is not deleted. */
        dl_wdf_request *got;
        add(g, g->q);
        assert_int_equal(dl_wdf_queue_retrieve(g->q, NULL, &got), DL_STATUS_SUCCESS);
        assert_int_equal(dl_wdf_object_delete(DL_WDF(g->q)), DL_EBUSY);
        assert_int_equal(dl_wdfqueue_row(g->q), DL_QROW_STARTED);
      } else if (row == DL_QROW_DELETING) {
        g->call = call;
        dl_wdf_object_set_callbacks(DL_WDF(g->q), cleanup_call, NULL, g);
        assert_int_equal(dl_wdf_object_delete(DL_WDF(g->q)), DL_OK);
        assert_int_equal(g->cleanups, 1);  /* a second delete (the Delete column) is a no-op */
      } else {
        snap before = snapshot(g->q);
        uint64_t n = reports(g);
        uint32_t st = make_call(g, call);
        check_outcome(g, row, call, st, before, n);
      }
      rig_wdf_close(g->m);
    }
  }
}

/* ---- what the allowed calls did ---------------------------------------------------- */

/* Allowed calls do their work: a stopped queue presents nothing until
** started, a drained one takes no new IRP but lets the driver retrieve, a
** forward lands in the queue, retrieval in a stopped queue waits. */
static void test_allowed_effects(void **state) {
  (void)state;
  rig *g = &the_rig;
  open_rig(g);
  reach(g, DL_QROW_STARTED, DL_QCALL_REQUEUE_IN);
  dl_wdf_request *got;
  assert_int_equal(dl_wdf_queue_stop(g->q, 0), DL_STATUS_SUCCESS);
  assert_int_equal(dl_wdf_queue_retrieve(g->q, NULL, &got), DL_STATUS_WDF_PAUSED);
  assert_int_equal(dl_wdf_request_forward(g->o, g->q), DL_STATUS_SUCCESS);  /* a stopped queue accepts */
  assert_ptr_equal(g->o->q, g->q);
  dl_wdf_queue_start(g->q);
  assert_int_equal(dl_wdf_queue_retrieve(g->q, NULL, &got), DL_STATUS_SUCCESS);
  assert_ptr_equal(got, g->w);
  assert_int_equal(dl_wdf_queue_drain(g->q, 0), DL_STATUS_SUCCESS);
  /* Drained: still dispatching. */
  assert_int_equal(dl_wdf_queue_retrieve(g->q, NULL, &got), DL_STATUS_SUCCESS);
  assert_ptr_equal(got, g->o);
  assert_int_equal(dl_wdf_request_requeue(g->oq), DL_STATUS_SUCCESS);  /* a drained queue takes it back */
  assert_false(dl_irp_completed(g->oq_irp));
  assert_int_equal(reports(g), 0);
  rig_wdf_close(g->m);
}

/* ---- the registrations beside the table ------------------------------------------- */

/* One StopComplete and one PurgeComplete/DrainComplete outstanding: a
** second of the same slot is 0x10D/0xA (STATUS_INVALID_DEVICE_REQUEST) and
** changes nothing; the two slots are apart, so Stop with a callback, then
** Purge with one, calls both once the driver's request completes (the
** lab's single slot lost the StopComplete before: a hole the table closed),
** and a Stop without a callback leaves an outstanding one alone. */
static void test_callback_slots(void **state) {
  (void)state;
  rig *g = &the_rig;
  open_rig(g);
  dl_wdf_request *own = add(g, g->q), *got;
  assert_int_equal(dl_wdf_queue_retrieve(g->q, NULL, &got), DL_STATUS_SUCCESS);
  assert_int_equal(dl_wdf_queue_stop(g->q, 1), DL_STATUS_SUCCESS);
  snap before = snapshot(g->q);
  assert_int_equal(dl_wdf_queue_stop(g->q, 1), DL_STATUS_INVALID_DEVICE_REQUEST);
  assert_int_equal(dl_wdf_queue_change_sync(g->q, DL_WDF_QCB_STOP), -1);
  snap after = snapshot(g->q);
  assert_memory_equal(&before, &after, sizeof before);
  assert_int_equal(reports(g), 2);
  const dl_report *rep = dl_verifier_at(g->m, 0);
  assert_int_equal(rep->p1, DL_WDF_QUEUE_FATAL_ERROR);
  assert_int_equal(rep->p2, g->q->id);
  assert_int_equal(rep->p3, DL_STATUS_INVALID_DEVICE_REQUEST);
  assert_non_null(strstr(rep->message, "StopComplete"));
  assert_int_equal(dl_wdf_queue_stop(g->q, 0), DL_STATUS_SUCCESS);  /* no callback: allowed */
  assert_int_equal(dl_wdf_queue_purge(g->q, 1), DL_STATUS_SUCCESS);  /* the other slot */
  assert_int_equal(dl_wdf_queue_purge(g->q, 1), DL_STATUS_INVALID_DEVICE_REQUEST);
  assert_int_equal(dl_wdf_queue_drain(g->q, 1), DL_STATUS_INVALID_DEVICE_REQUEST);
  assert_int_equal(dl_wdf_queue_change_sync(g->q, DL_WDF_QCB_PURGE), -1);
  assert_int_equal(dl_wdf_queue_change_sync(g->q, DL_WDF_QCB_DRAIN), -1);
  assert_int_equal(reports(g), 6);
  assert_int_equal(g->nstates, 0);
  complete(own);
  assert_int_equal(g->nstates, 2);
  assert_int_equal(g->states[0], DL_WDF_QCB_STOP);
  assert_int_equal(g->states[1], DL_WDF_QCB_PURGE);
  assert_int_equal(dl_wdf_queue_stop(g->q, 1), DL_STATUS_SUCCESS);  /* free again: called at once */
  assert_int_equal(g->nstates, 3);
  rig_wdf_close(g->m);
}

/* ReadyNotify registers once and unregisters only what it registered, and
** only while the queue does not dispatch (FxIoQueue::ReadyNotify's breaks). */
static void test_ready_notify_registration(void **state) {
  (void)state;
  rig *g = &the_rig;
  open_rig(g);
  assert_int_equal(dl_wdf_queue_ready_notify(g->q, 0), DL_STATUS_INVALID_DEVICE_REQUEST);
  assert_int_equal(reports(g), 1);
  assert_non_null(strstr(dl_verifier_at(g->m, 0)->message, "no ReadyNotify callback"));
  assert_int_equal(dl_wdf_queue_ready_notify(g->q, 1), DL_STATUS_SUCCESS);
  assert_int_equal(dl_wdf_queue_ready_notify(g->q, 1), DL_STATUS_INVALID_DEVICE_REQUEST);
  assert_int_equal(dl_wdf_queue_ready_notify(g->q, 0), DL_STATUS_INVALID_DEVICE_REQUEST);  /* dispatching */
  assert_int_equal(reports(g), 3);
  assert_int_not_equal(g->q->ready_notify, 0);
  assert_int_equal(dl_wdf_queue_stop(g->q, 0), DL_STATUS_SUCCESS);
  assert_int_equal(dl_wdf_queue_ready_notify(g->q, 0), DL_STATUS_SUCCESS);
  assert_int_equal(g->q->ready_notify, 0);
  assert_int_equal(reports(g), 3);
  rig_wdf_close(g->m);
}

/* At m:close() the framework marks every object as going before PnP powers
** the devices down: a queue is in the Deleting row only once its deletion
** reached it, so EvtDeviceD0Exit may still stop it. */
static void test_shutdown_power_down(void **state) {
  (void)state;
  rig *g = &the_rig;
  open_rig(g);
  g->d0_exit_row = -1;
  dl_wdf_device_set_events(g->d, 1u << DL_WDF_D0_EXIT);
  g->call = DL_QCALL_STOP;
  dl_wdf_object_set_callbacks(DL_WDF(g->q), cleanup_call, NULL, g);
  dl_wdf_shutdown(g->m);
  assert_int_equal(g->d0_exit_row, DL_QROW_STARTED);
  assert_int_equal(g->d0_exit_status, DL_STATUS_SUCCESS);
  assert_int_equal(g->cleanups, 1);  /* then, in its cleanup, the Deleting row: Stop reported */
  assert_int_equal(reports(g), 1);
  assert_int_equal(dl_verifier_at(g->m, 0)->p1, DL_WDF_QUEUE_FATAL_ERROR);
  rig_wdf_close(g->m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_every_cell),
    cmocka_unit_test(test_allowed_effects),
    cmocka_unit_test(test_callback_slots),
    cmocka_unit_test(test_ready_notify_registration),
    cmocka_unit_test(test_shutdown_power_down),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
