/*
** test_irpstate.c: the IRP's state table (core/io/dl_irpstate.c): every
** IRP call core models in every state of a real IRP. A refused call is one
** report (0x44, or 0xC9 with the WDK's P1) and changes nothing; a forced
** one is reported and goes on; one refused with a status returns DL_ESTATE
** without a report and changes nothing; an allowed one reports nothing.
**
** The rig: a driver with StartIo and two devices, "top" (StackSize 2) and
** "low" beneath it. A METHOD_BUFFERED IOCTL (a system buffer to copy back)
** is driven into each row; the calls are made at DISPATCH_LEVEL (where
** IoStartNextPacket must be called), from inside the dispatch routine for
** the row "dispatched" and from inside the completion routine for
** "completing".
*/
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "rig_io.h"
#include <string.h>

#include "base/dl_status.h"
#include "io/dl_cancel.h"
#include "io/dl_iobuf.h"
#include "io/dl_irpstack.h"
#include "io/dl_irpstate.h"
#include "machine/dl_verifier.h"

/* What the top device's dispatch routine does with the IRP under test. */
enum { HOLD, PEND, CANCELABLE, QUEUE, FORWARD };

/* What a refusal must leave as it was. */
typedef struct snap {
  int row, current, queued, completed, cancel, cancelable, pending, next_ready, routine;
  uint64_t system_va;
  void *device_current;
} snap;

typedef struct cell_rig {
  dl_machine *m;
  dl_driver *drv;
  dl_device *top, *low;
  dl_region *in, *out;
  dl_irp *irp, *first;     /* the IRP under test; the one StartIo holds before it */
  int mode;                /* HOLD... */
  int call;                /* the call made from inside a routine (-1: none) */
  int started;             /* StartIo calls with the IRP under test */
  int freed;               /* the call freed the IRP under test */
  int row_inside, rc;      /* the row, and the call's result, seen inside a routine */
  uint64_t before, after;  /* reports before and after the call */
  int changed;             /* a call made inside a routine changed the IRP */
} cell_rig;

static cell_rig G;

static snap take(const cell_rig *g) {
  const dl_irp *irp = g->irp;
  snap s;
  memset(&s, 0, sizeof s);  /* padding too: compared with memcmp */
  s.row = dl_irp_row(irp);
  s.current = irp->current;
  s.queued = irp->queued;
  s.completed = irp->completed;
  s.cancel = irp->cancel;
  s.cancelable = irp->cancel_routine != NULL;
  s.pending = dl_irp_pending(irp);
  s.next_ready = irp->next_ready;
  s.system_va = irp->system_va;
  s.device_current = g->top->current_irp;
  if (irp->current >= 2 && irp->current <= irp->stack_count)
    s.routine = irp->stack[irp->current - 1].routine != NULL;
  return s;
}

static void cancel_routine(void *ctx, dl_irp *irp) {
  (void)ctx, (void)irp;
  dl_io_release_cancel_spin_lock(G.m, irp->cancel_irql);
}

static uint32_t noop_routine(void *ctx, dl_device *dev, dl_irp *irp, int location) {
  (void)ctx, (void)dev, (void)irp, (void)location;
  return DL_STATUS_SUCCESS;
}

static int make_call(cell_rig *g, int call);

/* What IoCallDriver down the stack needs first: the next location set up
** (refused where the IRP may not be forwarded, without a report). */
static void prepare(cell_rig *g, int call) {
  if (call == DL_IRPCALL_CALL_DRIVER && dl_irp_device(g->irp)) dl_irp_copy_to_next(g->irp);
}

/* The call under test made from inside a routine: its row, result and
** reports, and whether a refused call changed the IRP. */
static void call_inside(cell_rig *g) {
  prepare(g, g->call);
  g->row_inside = dl_irp_row(g->irp);
  snap was = take(g);
  g->before = dl_verifier_count(g->m);
  g->rc = make_call(g, g->call);
  g->after = dl_verifier_count(g->m);
  if (g->rc != DL_OK && !g->freed) {
    snap now = take(g);
    g->changed = memcmp(&was, &now, sizeof now) != 0;
  }
}

/* The routine set by "top" when it forwards: the call under test, made
** while completion walks the stack; the IRP is then kept (more processing). */
static uint32_t completing_routine(void *ctx, dl_device *dev, dl_irp *irp, int location) {
  (void)dev, (void)irp, (void)location;
  call_inside(ctx);
  return DL_STATUS_MORE_PROCESSING_REQUIRED;
}

static void start_io(void *ctx, dl_device *dev, dl_irp *irp) {
  (void)dev;
  cell_rig *g = ctx;
  if (irp == g->irp) g->started++;
}

static int dispatch(void *ctx, dl_device *dev, dl_irp *irp, uint32_t *status) {
  cell_rig *g = ctx;
  *status = DL_STATUS_PENDING;
  if (dev == g->low) return dl_irp_mark_pending(irp) == DL_OK;
  if (irp != g->irp) {  /* the IRP StartIo has before ours */
    dl_irp_mark_pending(irp);
    return dl_io_start_packet(dev, irp, NULL) == DL_OK;
  }
  switch (g->mode) {
    case HOLD:  /* the call under test, made while the dispatch routine has the IRP */
      call_inside(g);
      if (g->freed || dl_irp_completed(irp)) *status = DL_STATUS_SUCCESS;
      else dl_irp_mark_pending(irp);
      break;
    case PEND: dl_irp_mark_pending(irp); break;
    case CANCELABLE:
      dl_irp_mark_pending(irp);
      dl_io_set_cancel_routine(irp, cancel_routine, g);
      break;
    case QUEUE:
      dl_irp_mark_pending(irp);
      dl_io_start_packet(dev, irp, NULL);
      break;
    case FORWARD:
      dl_irp_copy_to_next(irp);
      dl_irp_set_routine(irp, completing_routine, g, DL_SL_INVOKE_ON_SUCCESS);
      dl_io_call_driver(g->low, irp, status);
      *status = DL_STATUS_PENDING;
      break;
    default: break;
  }
  return 1;
}

/* A METHOD_BUFFERED IOCTL of 4 input and 16 output bytes. */
static dl_irp *new_irp(cell_rig *g) {
  dl_irp_params p = {0};
  p.major = DL_IRP_MJ_DEVICE_CONTROL;
  p.ioctl = dl_ctl_code(0x22, 0x800, DL_METHOD_BUFFERED, DL_FILE_ANY_ACCESS);
  p.in_va = g->in->va;
  p.in_length = 4;
  p.out_va = g->out->va;
  p.out_length = 16;
  dl_irp *irp = NULL;
  assert_int_equal(dl_iobuf_irp_new(g->m, &p, &irp), DL_OK);
  return irp;
}

static void up(cell_rig *g) {
  memset(g, 0, sizeof *g);
  g->call = -1;
  assert_int_equal(rig_io_open(&g->m, &g->drv, &g->top), 0);
  assert_int_equal(dl_io_create_device(g->drv, "low", &g->low), DL_OK);
  g->top->stack_size = 2;
  dl_driver_set_start_io(g->drv, start_io, g);
  dl_driver_set_major(g->drv, DL_IRP_MJ_DEVICE_CONTROL, dispatch, g);
  assert_int_equal(dl_buffer_new(g->m, 16, 0, DL_ALLOC_LOW_FIRST, DL_REGION_NONPAGED, &g->in), DL_OK);
  assert_int_equal(dl_buffer_new(g->m, 16, 0, DL_ALLOC_LOW_FIRST, DL_REGION_NONPAGED, &g->out), DL_OK);
  g->irp = new_irp(g);
  dl_machine_set_irql(g->m, DL_DISPATCH_LEVEL);
}

static void down(cell_rig *g) {
  dl_machine_set_irql(g->m, DL_PASSIVE_LEVEL);
  dl_machine_free(g->m);
}

static uint32_t send(cell_rig *g, dl_irp *irp) {
  uint32_t st = 0;
  assert_int_equal(dl_io_call_driver(g->top, irp, &st), DL_OK);
  return st;
}

/* The call under test; its result (DL_OK, DL_ESTATE...; IoSetCancelRoutine's
** -1 is DL_ESTATE, IoCancelIrp's 0 is DL_ESTATE). */
static int make_call(cell_rig *g, int call) {
  dl_irp *irp = g->irp;
  uint32_t st;
  switch (call) {
    case DL_IRPCALL_CALL_DRIVER:  /* the first send, or down the stack (prepare) */
      return dl_io_call_driver(dl_irp_device(irp) ? g->low : g->top, irp, &st);
    case DL_IRPCALL_COMPLETE:
      dl_irp_set_status(irp, DL_STATUS_SUCCESS);
      return dl_io_complete_request(irp);
    case DL_IRPCALL_MARK_PENDING: return dl_irp_mark_pending(irp);
    case DL_IRPCALL_START_PACKET: return dl_io_start_packet(g->top, irp, NULL);
    case DL_IRPCALL_START_NEXT: {
      int before = g->started;
      int rc = dl_io_start_next_packet(g->top);
      return rc ? rc : g->started > before ? DL_OK : DL_ESTATE;  /* picked or not */
    }
    case DL_IRPCALL_GET_LOCATION:  /* a read, allowed in every state */
      return dl_irp_current_location(irp) <= DL_IRP_STACK_MAX + 1 ? DL_OK : DL_ESTATE;
    case DL_IRPCALL_SKIP: return dl_irp_skip_current(irp);
    case DL_IRPCALL_COPY: return dl_irp_copy_to_next(irp);
    case DL_IRPCALL_SET_COMPLETION:
      return dl_irp_set_routine(irp, noop_routine, NULL, DL_SL_INVOKE_ON_SUCCESS);
    case DL_IRPCALL_SET_CANCEL:
      return dl_io_set_cancel_routine(irp, cancel_routine, g) < 0 ? DL_ESTATE : DL_OK;
    case DL_IRPCALL_CANCEL: return dl_io_cancel_irp(irp) || irp->cancel ? DL_OK : DL_ESTATE;
    case DL_IRPCALL_FREE: {
      uint64_t n = dl_verifier_count(g->m);
      dl_irp_free(irp);
      if (dl_verifier_count(g->m) != n) return DL_ESTATE;
      g->freed = 1;
      return DL_OK;
    }
    case DL_IRPCALL_COPY_BACK: return dl_iobuf_complete(irp);
    default: fail();
  }
  return DL_EINVAL;
}

/* Drives g->irp into `row`; for "dispatched" and "completing" the call is
** made from the routine (g->rc, g->row_inside). */
static void reach(cell_rig *g, int row, int call) {
  switch (row) {
    case DL_IRPROW_NOT_SENT: g->mode = PEND; return;
    case DL_IRPROW_DISPATCHED: g->mode = HOLD; g->call = call; send(g, g->irp); return;
    case DL_IRPROW_PENDING: g->mode = PEND; break;
    case DL_IRPROW_CANCELABLE: g->mode = CANCELABLE; break;
    case DL_IRPROW_QUEUED:
    case DL_IRPROW_CURRENT:
    case DL_IRPROW_CURRENT_CANCELABLE:
      g->mode = QUEUE;
      if (row == DL_IRPROW_QUEUED) {  /* another IRP has StartIo first */
        g->first = new_irp(g);
        send(g, g->first);
      }
      break;
    case DL_IRPROW_COMPLETING: g->mode = FORWARD; g->call = call; break;
    case DL_IRPROW_COMPLETED: g->mode = PEND; break;
    default: fail();
  }
  assert_int_equal(send(g, g->irp), DL_STATUS_PENDING);
  if (row == DL_IRPROW_CURRENT_CANCELABLE) dl_io_set_cancel_routine(g->irp, cancel_routine, g);
  if (row == DL_IRPROW_COMPLETING || row == DL_IRPROW_COMPLETED) {
    dl_irp_set_status(g->irp, DL_STATUS_SUCCESS);
    assert_int_equal(dl_io_complete_request(g->irp), DL_OK);
  }
  if (row != DL_IRPROW_COMPLETING) assert_int_equal(dl_irp_row(g->irp), row);
}

#define A {DL_IRP_ALLOW, 0, 0}
#define S {DL_IRP_STATUS, 0, 0}
#define N {DL_IRP_NOOP, 0, 0}
#define R44 {DL_IRP_REFUSE, 0x44, 0}
#define R203 {DL_IRP_REFUSE, 0xC9, 0x203}
#define R205 {DL_IRP_REFUSE, 0xC9, 0x205}
#define R20B {DL_IRP_REFUSE, 0xC9, 0x20B}
#define F07 {DL_IRP_FORCE, 0xC9, 0x07}

/* The WDK's rules, written out apart from the engine's table: a second
** completion is 0x44; IoCallDriver or IoCompleteRequest with a cancel
** routine set 0xC9/0x203 (refused) and 0x07 (completion goes on);
** forwarding a queued IRP 0x205; freeing an IRP in use 0x20B. The rest
** are the lab's statuses: the stack calls need a driver that has the IRP,
** IoStartPacket an IRP a dispatch routine has, only the queue's head is
** picked, the copy-back happens once the IRP is completed. */
static const dl_irp_cell expected[DL_IRPROW_COUNT][DL_IRPCALL_COUNT] = {
  /*                 Call  Compl Mark Start Next Get Skip Copy Rout Canc Cancel Free  Back */
  /* not sent   */ { A,    S,    A,   S,    S,   A,  S,   S,   S,   A,   N,     A,    S },
  /* dispatched */ { A,    A,    A,   A,    S,   A,  A,   A,   A,   A,   A,     R20B, S },
  /* pending    */ { A,    A,    A,   A,    S,   A,  A,   A,   A,   A,   A,     R20B, S },
  /* cancelable */ { R203, F07,  A,   A,    S,   A,  A,   A,   A,   A,   A,     R20B, S },
  /* queued     */ { R205, S,    A,   S,    A,   A,  S,   S,   S,   A,   A,     R20B, S },
  /* current    */ { A,    A,    A,   S,    S,   A,  A,   A,   A,   A,   A,     R20B, S },
  /* current+cr */ { R203, F07,  A,   S,    S,   A,  A,   A,   A,   A,   A,     R20B, S },
  /* completing */ { A,    A,    A,   S,    S,   A,  A,   A,   A,   A,   A,     R20B, S },
  /* completed  */ { S,    R44,  S,   S,    S,   A,  S,   S,   S,   S,   N,     A,    A },
};

/* One cell on a fresh machine. */
static void check_cell(int row, int call) {
  cell_rig *g = &G;
  up(g);
  dl_irp_cell want = expected[row][call];
  dl_irp_cell got = dl_irp_cell_at(row, call);
  assert_int_equal(got.kind, want.kind);
  assert_int_equal(got.p1, want.p1);
  if (want.kind == DL_IRP_REFUSE || want.kind == DL_IRP_FORCE) assert_int_equal(got.bugcheck, want.bugcheck);
  const char *what = dl_irp_call_name(call), *where = dl_irp_row_name(row);
  snap was;
  memset(&was, 0, sizeof was);
  int rc, inside = row == DL_IRPROW_DISPATCHED || row == DL_IRPROW_COMPLETING;
  reach(g, row, call);
  if (inside) {
    if (g->row_inside != row) fail_msg("%s: reached %s, not %s", what, dl_irp_row_name(g->row_inside), where);
    rc = g->rc;
  } else {
    prepare(g, call);
    was = take(g);
    g->before = dl_verifier_count(g->m);
    rc = make_call(g, call);
    g->after = dl_verifier_count(g->m);
  }
  uint64_t reports = g->after - g->before;
  if (want.kind == DL_IRP_REFUSE || want.kind == DL_IRP_FORCE) {
    if (reports != 1) fail_msg("%s on an IRP %s: %llu reports, want 1", what, where, (unsigned long long)reports);
    const dl_report *rep = dl_verifier_at(g->m, (size_t)g->before);
    assert_int_equal(rep->bugcheck, want.bugcheck);
    assert_int_equal(rep->p1, want.p1);
  } else if (reports) {
    fail_msg("%s on an IRP %s: reported %s", what, where, dl_verifier_at(g->m, (size_t)g->before)->message);
  }
  if (want.kind == DL_IRP_ALLOW) {
    if (rc != DL_OK) fail_msg("%s on an IRP %s: refused (%d)", what, where, rc);
  } else if (want.kind == DL_IRP_FORCE) {
    assert_int_equal(rc, DL_OK);
    assert_true(dl_irp_completed(g->irp));  /* 0x07: completion went on */
  } else {
    if (rc == DL_OK) fail_msg("%s on an IRP %s: allowed", what, where);
    int changed = inside ? g->changed : 0;
    if (!inside && call != DL_IRPCALL_START_NEXT) {  /* the pick lets the current IRP go */
      snap now = take(g);
      changed = memcmp(&now, &was, sizeof now) != 0;
    }
    if (changed) fail_msg("%s on an IRP %s: changed it", what, where);
  }
  down(g);
}

/* Every cell, each on a fresh machine. */
static void test_every_cell(void **state) {
  (void)state;
  for (int row = 0; row < DL_IRPROW_COUNT; row++)
    for (int call = 0; call < DL_IRPCALL_COUNT; call++) check_cell(row, call);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_every_cell),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
