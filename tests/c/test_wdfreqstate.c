/*
** test_wdfreqstate.c: the KMDF request's state table
** (core/wdf/dl_wdfreqstate.c): a real request driven into every row and
** every column called on it, each refusal checked for its status, its report
** (0x10D, P1 0x6 WDF_REQUEST_FATAL_ERROR, P2 0, P3 the request's id) and
** that it changed nothing; completing a request still cancelable reported
** and carried out; and the holes the table closed: WdfRequestIsCanceled on a
** request marked cancelable or not the driver's, buffers and the
** information of a completed request (its EvtCleanupCallback), and a
** request completed twice.
**
** The rig: a started framework device, a manual queue q whose request r is
** under test (a read of 16 bytes, direct I/O) and a manual queue q2
** to forward to. The Completed row is reached inside r's EvtCleanupCallback,
** which the completion runs.
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
#include "io/dl_iobuf.h"
#include "io/dl_irp.h"
#include "io/dl_mdl.h"
#include "machine/dl_verifier.h"
#include "wdf/dl_wdfio.h"
#include "wdf/dl_wdfmemory.h"
#include "wdf/dl_wdfobject.h"
#include "wdf/dl_wdfreqstate.h"

typedef struct rig {
  dl_machine *m;
  dl_wdf_device *d;
  dl_region *buf;
  dl_wdf_queue *q, *q2;
  dl_wdf_request *r;
  dl_irp *irp;
  int cancels;
  int call, cleanups;
} rig;

static rig the_rig;

static void on_present(void *ctx, dl_wdf_queue *q, dl_wdf_request *r) { (void)ctx, (void)q, (void)r; }

static void complete_irp(void *ctx, dl_irp *irp) {
  (void)ctx;
  dl_io_complete_request(irp);
}

static void request_cancel(void *ctx, dl_wdf_request *r) {
  (void)r;
  ((rig *)ctx)->cancels++;  /* the driver completes it later */
}

static const dl_wdf_ops ops = {.present = on_present, .complete_irp = complete_irp,
                               .request_cancel = request_cancel};

static void open_rig(rig *g) {
  memset(g, 0, sizeof *g);
  assert_int_equal(rig_wdf_open(&g->m, NULL, NULL, &ops, g, &g->d), 0);
  assert_int_equal(dl_wdf_device_start(g->d, NULL, 0), DL_STATUS_SUCCESS);
  assert_int_equal(dl_buffer_new(g->m, 64, 0, DL_ALLOC_LOW_FIRST, DL_REGION_NONPAGED, &g->buf), DL_OK);
  assert_int_equal(dl_wdf_queue_new(g->d, DL_WDF_DISPATCH_MANUAL, 0, &g->q), DL_OK);
  assert_int_equal(dl_wdf_queue_new(g->d, DL_WDF_DISPATCH_MANUAL, 0, &g->q2), DL_OK);
  dl_irp_params p = {0};
  p.major = DL_IRP_MJ_READ;
  p.out_va = g->buf->va, p.out_length = 16;
  assert_int_equal(dl_iobuf_irp_new(g->m, &p, &g->irp), DL_OK);
  assert_int_equal(dl_irp_send(g->irp, g->d->fdo), DL_OK);
  assert_int_equal(dl_wdf_queue_add(g->q, g->irp, &g->r), DL_OK);
  dl_irp_mark_pending(g->irp);
}

static uint64_t reports(rig *g) { return dl_verifier_count(g->m); }

/* What the request is: compared before and after a refusal. */
typedef struct snap {
  int row, presented, cancelable, cancel_called, irp_done;
  dl_wdf_queue *q;
  uint64_t information;
} snap;

static snap snapshot(rig *g) {
  const dl_wdf_request *r = g->r;
  snap s;
  memset(&s, 0, sizeof s);  /* padding too: snapshots are compared with memcmp */
  s.row = dl_wdfreq_row(r);
  s.presented = r->presented;
  s.cancelable = r->cancelable;
  s.cancel_called = r->cancel_called;
  s.irp_done = dl_irp_completed(g->irp);
  s.q = r->q;
  s.information = r->information;
  return s;
}

/* The calls of a column (the buffer column has three), each a report when refused. */
static int calls_in(int call) { return call == DL_RCALL_BUFFER ? 3 : 1; }

/* Makes column `call` on g->r; returns the status it answered (0 where
** the call has none; IsCanceled's answer; WdfObjectDelete's dl_status). */
static uint32_t make_call(rig *g, int call) {
  dl_wdf_request *r = g->r;
  uint32_t st = 0;
  switch (call) {
    case DL_RCALL_COMPLETE: {
      dl_wdf_queue *q = r->q;
      dl_irp *irp = dl_wdf_request_complete(r, DL_STATUS_SUCCESS, 0);
      st = irp ? DL_STATUS_SUCCESS : DL_STATUS_INVALID_DEVICE_REQUEST;
      if (irp) {
        dl_io_complete_request(irp);
        dl_wdf_queue_dispatch(q);
        g->r = NULL;
      }
      break;
    }
    case DL_RCALL_MARK: st = dl_wdf_request_mark_cancelable(r, 0); break;
    case DL_RCALL_MARK_EX: st = dl_wdf_request_mark_cancelable(r, 1); break;
    case DL_RCALL_UNMARK: st = dl_wdf_request_unmark_cancelable(r); break;
    case DL_RCALL_FORWARD: st = dl_wdf_request_forward(r, g->q2); break;
    case DL_RCALL_REQUEUE: st = dl_wdf_request_requeue(r); break;
    case DL_RCALL_BUFFER: {
      uint64_t va, len;
      dl_mdl *mdl;
      dl_wdf_memory *mem;
      uint32_t a = dl_wdf_request_buffer(r, 1, 0, &va, &len);
      uint32_t b = dl_wdf_request_mdl(r, 1, &mdl);
      uint32_t c = dl_wdf_request_memory(r, 1, &mem);
      assert_int_equal(a, b);
      assert_int_equal(b, c);
      st = a;
      break;
    }
    case DL_RCALL_SET_INFORMATION:
      dl_wdf_request_set_information(r, 7);
      st = r->information == 7 ? DL_STATUS_SUCCESS : DL_STATUS_INTERNAL_ERROR;
      break;
    case DL_RCALL_IS_CANCELED: st = (uint32_t)dl_wdf_request_is_canceled(r); break;
    case DL_RCALL_DELETE: st = (uint32_t)dl_wdf_object_delete(DL_WDF(r)); break;
    default: fail();
  }
  return st;
}

#define A {DL_RS_ALLOW, 0}
#define NOW {DL_RS_REPORT, DL_STATUS_INVALID_DEVICE_REQUEST}
#define DON {DL_RS_REPORT, DL_STATUS_INTERNAL_ERROR}
#define WRN {DL_RS_WARN, 0}
#define CXL {DL_RS_STATUS, DL_STATUS_CANCELLED}
#define OBJ {DL_RS_OBJECT, 0}

/* What FxRequest's verifier does, written out independently of the
** engine's table: a request waiting in its queue is not the driver's
** (every call that needs ownership breaks), marking needs one not yet
** marked and unmarking one marked (or answers STATUS_CANCELLED once
** EvtRequestCancel ran), a marked request is neither forwarded, requeued
** nor asked IsCanceled, completing it breaks and completes it, a completed
** request breaks every call (STATUS_INTERNAL_ERROR), and the driver never
** deletes a request the framework presented. */
static const dl_wdfreq_cell expected[DL_RROW_COUNT][DL_RCALL_COUNT] = {
  /*                    Cmp  Mrk  MrX  Unm  Fwd  Rqu  Buf  Set  IsC  Del */
  /* Queued         */ {NOW, NOW, NOW, NOW, NOW, NOW, A,   A,   NOW, OBJ},
  /* Owned          */ {A,   A,   A,   NOW, A,   A,   A,   A,   A,   OBJ},
  /* Owned, IRP cxl */ {A,   A,   A,   NOW, A,   A,   A,   A,   A,   OBJ},
  /* Cancelable     */ {WRN, NOW, NOW, A,   NOW, NOW, A,   A,   NOW, OBJ},
  /* Cancel called  */ {A,   A,   A,   CXL, A,   A,   A,   A,   A,   OBJ},
  /* Completed      */ {DON, DON, DON, DON, DON, DON, DON, DON, DON, OBJ},
};

/* Checks column `call` made in `row`. */
static void check_outcome(rig *g, int row, int call, uint32_t st, snap before, uint64_t nrep) {
  dl_wdfreq_cell want = expected[row][call];
  const char *rn = dl_wdfreq_row_name(row), *cn = dl_wdfreq_call_name(call);
  uint64_t want_reports = want.kind == DL_RS_REPORT || want.kind == DL_RS_WARN ? (uint64_t)calls_in(call) : 0;
  if (reports(g) != nrep + want_reports)
    fail_msg("%s in %s: %llu reports, want %llu", cn, rn, (unsigned long long)(reports(g) - nrep),
             (unsigned long long)want_reports);
  for (uint64_t i = 0; i < want_reports; i++) {
    const dl_report *rep = dl_verifier_at(g->m, (size_t)(nrep + i));
    assert_int_equal(rep->bugcheck, DL_BUGCHECK_WDF);
    assert_int_equal(rep->p1, DL_WDF_REQUEST_FATAL_ERROR);
    assert_int_equal(rep->p2, 0);
  }
  switch (want.kind) {
    case DL_RS_REPORT:
    case DL_RS_STATUS:
      if (call == DL_RCALL_IS_CANCELED) assert_int_equal(st, 0);  /* FALSE */
      else if (call != DL_RCALL_COMPLETE && st != want.status)
        fail_msg("%s in %s: 0x%08X, want 0x%08X", cn, rn, st, want.status);
      if (call == DL_RCALL_COMPLETE) assert_int_equal(st, DL_STATUS_INVALID_DEVICE_REQUEST);  /* not done */
      snap after = snapshot(g);
      if (memcmp(&before, &after, sizeof before) != 0) fail_msg("%s in %s changed the request", cn, rn);
      break;
    case DL_RS_OBJECT:
      assert_int_equal(st, DL_ESTATE);
      break;
    case DL_RS_WARN:  /* reported, then completed */
      assert_int_equal(st, DL_STATUS_SUCCESS);
      assert_true(dl_irp_completed(g->irp));
      break;
    default:
      if (call == DL_RCALL_COMPLETE) assert_true(dl_irp_completed(g->irp));
      if (call == DL_RCALL_SET_INFORMATION || call == DL_RCALL_FORWARD || call == DL_RCALL_REQUEUE ||
          call == DL_RCALL_BUFFER || (call == DL_RCALL_MARK_EX && row == DL_RROW_OWNED))
        assert_int_equal(st, DL_STATUS_SUCCESS);
      if (call == DL_RCALL_IS_CANCELED) assert_int_equal(st, (uint32_t)(g->irp->cancel != 0));
  }
}

/* The Completed row: the call made from r's EvtCleanupCallback. */
static void cleanup_call(void *ctx, dl_wdf_object *o) {
  rig *g = ctx;
  (void)o;
  g->cleanups++;
  assert_int_equal(dl_wdfreq_row(g->r), DL_RROW_COMPLETED);
  snap before = snapshot(g);
  uint64_t n = reports(g);
  uint32_t st = make_call(g, g->call);
  check_outcome(g, DL_RROW_COMPLETED, g->call, st, before, n);
}

/* Puts r in `row` (the Completed row: sets the cleanup up and completes it). */
static void reach(rig *g, int row) {
  dl_wdf_request *got = NULL;
  if (row != DL_RROW_QUEUED) {
    assert_int_equal(dl_wdf_queue_retrieve(g->q, NULL, &got), DL_STATUS_SUCCESS);
    assert_ptr_equal(got, g->r);
  }
  switch (row) {
    case DL_RROW_OWNED_CANCELLED: assert_int_equal(dl_io_cancel_irp(g->irp), 0); break;  /* no routine */
    case DL_RROW_CANCELABLE:
      assert_int_equal(dl_wdf_request_mark_cancelable(g->r, 1), DL_STATUS_SUCCESS);
      break;
    case DL_RROW_CANCEL_CALLED:
      assert_int_equal(dl_wdf_request_mark_cancelable(g->r, 0), DL_STATUS_SUCCESS);
      assert_int_equal(dl_io_cancel_irp(g->irp), 1);
      assert_int_equal(g->cancels, 1);
      break;
    default: break;
  }
  if (row != DL_RROW_COMPLETED) assert_int_equal(dl_wdfreq_row(g->r), row);
}

/* ---- every cell ------------------------------------------------------------------ */

/* Every cell on a fresh rig: the engine's table says what FxRequest's
** verifier does; a refusal is reported 0x10D/0x6/0 once per call, answers
** its status and leaves the request as it was; a warned completion is
** reported and done; an allowed call is not reported and does its work. */
static void test_every_cell(void **state) {
  (void)state;
  for (int row = 0; row < DL_RROW_COUNT; row++) {
    for (int call = 0; call < DL_RCALL_COUNT; call++) {
      rig *g = &the_rig;
      open_rig(g);
      dl_wdfreq_cell cell = dl_wdfreq_cell_at(row, call);
      assert_int_equal(cell.kind, expected[row][call].kind);
      assert_int_equal(cell.status, expected[row][call].status);
      reach(g, row);
      if (row == DL_RROW_COMPLETED) {
        g->call = call;
        dl_wdf_object_set_callbacks(DL_WDF(g->r), cleanup_call, NULL, g);
        uint64_t id = g->r->id;
        dl_irp *irp = dl_wdf_request_complete(g->r, DL_STATUS_SUCCESS, 0);
        assert_ptr_equal(irp, g->irp);
        assert_int_equal(g->cleanups, 1);
        for (uint64_t i = 0; i < dl_verifier_count(g->m); i++)
          assert_int_equal(dl_verifier_at(g->m, (size_t)i)->p3, id);
        dl_io_complete_request(irp);
      } else {
        snap before = snapshot(g);
        uint64_t n = reports(g), id = g->r->id;
        uint32_t st = make_call(g, call);
        check_outcome(g, row, call, st, before, n);
        for (uint64_t i = n; i < dl_verifier_count(g->m); i++)
          assert_int_equal(dl_verifier_at(g->m, (size_t)i)->p3, id);
      }
      rig_wdf_close(g->m);
    }
  }
}

/* ---- the request that is gone ------------------------------------------------------ */

/* Once completed the request is gone; its handle keeps its id, and
** WdfRequestComplete on it is the Completed row's report (0x10D/0x6/0,
** P3 the id, "already completed"). */
static void test_completed_twice(void **state) {
  (void)state;
  rig *g = &the_rig;
  open_rig(g);
  reach(g, DL_RROW_OWNED);
  uint64_t id = g->r->id;
  assert_int_equal(make_call(g, DL_RCALL_COMPLETE), DL_STATUS_SUCCESS);
  assert_int_equal(reports(g), 0);
  dl_wdf_request_report_completed(g->m, id, "WdfRequestCompleteWithInformation");
  assert_int_equal(reports(g), 1);
  const dl_report *rep = dl_verifier_at(g->m, 0);
  assert_int_equal(rep->p1, DL_WDF_REQUEST_FATAL_ERROR);
  assert_int_equal(rep->p2, 0);
  assert_int_equal(rep->p3, id);
  assert_non_null(strstr(rep->message, "WdfRequestCompleteWithInformation"));
  assert_non_null(strstr(rep->message, "already completed"));
  rig_wdf_close(g->m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_every_cell),
    cmocka_unit_test(test_completed_twice),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
