/*
** test_wdftxnstate.c: the KMDF DMA transaction's state table
** (core/wdf/dl_wdftxnstate.c, reference 2.2-2.5): every call in every state
** (row), each refused call a report 0x10D/0x8 (P2 the transaction, P3 its
** framework state) that changes nothing, each allowed call unreported; and
** the reproducer of issue 16 class 3 (DmaCompletedFinal on a packet
** transaction still waiting for map registers, then Release, then the grant).
**
** The rig: a machine with a pool of 4 map registers and two started WDF
** devices, each with a v3 packet enabler; a transaction of device 1 that
** holds the whole pool makes a transaction of device 2 wait.
*/
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "base/dl_status.h"
#include "io/dl_device.h"
#include "io/dl_mdl.h"
#include "machine/dl_machine.h"
#include "machine/dl_object.h"
#include "machine/dl_verifier.h"
#include "wdf/dl_wdf.h"
#include "wdf/dl_wdfdma.h"
#include "wdf/dl_wdfobject.h"
#include "wdf/dl_wdftxnstate.h"

#define PS 4096u
#define WR DL_WDFDMA_WRITE_TO_DEVICE

/* EvtProgramDma calls, per transaction (its binding slot points here). */
typedef struct rec {
  int n;
} rec;

static int on_program(void *data, dl_wdfdma_txn *t, dl_sglist *sg, const dl_sg_element *el) {
  (void)t, (void)sg, (void)el;
  ((rec *)data)->n++;
  return 1;
}

static void on_reserve(void *data, dl_wdfdma_txn *t) { (void)data, (void)t; }

static uint32_t on_power(void *data, dl_wdfdma_enabler *e, int cb) {
  (void)data, (void)e, (void)cb;
  return 0;
}

static const dl_wdfdma_ops dma_ops = {.program = on_program, .reserve = on_reserve, .power = on_power};

static uint32_t no_event(void *ctx, dl_wdf_device *d, dl_wdf_event ev, uint32_t st) {
  (void)ctx, (void)d, (void)ev, (void)st;
  return 0;
}

static const dl_wdf_ops wdf_ops = {.event = no_event};

typedef struct rig {
  dl_machine *m;
  dl_wdfdma_enabler *e1, *e2;
  dl_mdl *big, *small;          /* 16 KiB (the whole pool), 8 KiB */
  rec r0, r;
  dl_wdfdma_txn *t0, *t;        /* t0: device 1's; t: the one under test, device 2's */
} rig;

static rig the_rig;

/* A started WDF device of its own with a v3 packet enabler. */
static dl_wdfdma_enabler *device_enabler(dl_machine *m, dl_wdf_driver *drv, const char *name) {
  dl_device *pdo = NULL;
  dl_wdf_device *d = NULL;
  dl_wdfdma_enabler *e = NULL;
  assert_int_equal(dl_device_new(m, name, &pdo), DL_OK);
  assert_int_equal(dl_wdf_device_new(m, drv, pdo, name, &wdf_ops, NULL, &d), DL_OK);
  dl_wdfdma_config c = {DL_WDFDMA_PACKET, 65536, 3, 0, 0, 0};
  assert_int_equal(dl_wdfdma_enabler_create(d, &c, &dma_ops, &e), DL_STATUS_SUCCESS);
  assert_int_equal(dl_wdf_device_start(d, NULL, 0), 0);
  return e;
}

static dl_mdl *buffer(dl_machine *m, uint64_t len) {
  dl_region *reg = NULL;
  dl_mdl *mdl = NULL;
  assert_int_equal(dl_buffer_new(m, len, 0, DL_ALLOC_CONTIGUOUS, DL_REGION_NONPAGED, &reg), DL_OK);
  assert_int_equal(dl_mdl_allocate(m, reg->va, reg->length, &mdl), DL_OK);
  assert_int_equal(dl_mdl_build_for_nonpaged_pool(mdl), DL_OK);
  return mdl;
}

static dl_wdfdma_txn *txn(dl_wdfdma_enabler *e, rec *r) {
  dl_wdfdma_txn *t = NULL;
  assert_int_equal(dl_wdfdma_txn_create(e, &t), DL_STATUS_SUCCESS);
  DL_WDF(t)->data = r;
  return t;
}

static int setup(void **state) {
  rig *g = &the_rig;
  memset(g, 0, sizeof *g);
  dl_machine_config cfg;
  dl_machine_config_init(&cfg);
  cfg.map_registers = 4;
  assert_int_equal(dl_machine_new(&cfg, &g->m), DL_OK);
  dl_wdf_driver *drv = NULL;
  assert_int_equal(dl_wdf_driver_new(g->m, &drv), DL_OK);
  g->e1 = device_enabler(g->m, drv, "one");
  g->e2 = device_enabler(g->m, drv, "two");
  g->big = buffer(g->m, 4 * PS);
  g->small = buffer(g->m, 2 * PS);
  g->t0 = txn(g->e1, &g->r0);
  g->t = txn(g->e2, &g->r);
  *state = g;
  return 0;
}

static int teardown(void **state) {
  rig *g = *state;
  dl_wdf_unload(g->m);
  dl_machine_free(g->m);
  return 0;
}

static uint64_t reports(rig *g) { return dl_verifier_count(g->m); }

static void init(dl_wdfdma_txn *t, dl_mdl *mdl) {
  assert_int_equal(dl_wdfdma_txn_initialize(t, WR, mdl, dl_mdl_virtual_address(mdl),
                                            dl_mdl_byte_count(mdl)), DL_STATUS_SUCCESS);
}

/* Completes every transfer of t. */
static void run_to_end(dl_wdfdma_txn *t) {
  uint32_t st = 0;
  for (int i = 0; i < 100; i++)
    if (dl_wdfdma_txn_completed(t, 0, DL_WDFDMA_COMPLETE, &st)) break;
  assert_int_equal(st, DL_STATUS_SUCCESS);
}

/* t0 takes the whole pool: t's Execute waits for map registers. */
static void exhaust(rig *g) {
  init(g->t0, g->big);
  assert_int_equal(dl_wdfdma_txn_execute(g->t0), DL_STATUS_SUCCESS);
  assert_int_equal(g->r0.n, 1);
}

/* ---- the reproducer ------------------------------------------------------------ */

/* Issue 16 class 3: a packet transaction executed while the pool is
** exhausted waits; DmaCompletedFinal and Release there are refused (0x10D/
** 0x8, P3 Transfer) and change nothing, so when the registers free, the
** grant programs the transfer as if nothing happened. */
static void test_completed_final_while_waiting(void **state) {
  rig *g = *state;
  exhaust(g);
  init(g->t, g->small);
  assert_int_equal(dl_wdfdma_txn_execute(g->t), DL_STATUS_SUCCESS);
  assert_int_equal(g->r.n, 0);
  assert_int_equal(dl_wdftxn_row(g->t), DL_TXNROW_TRANSFER_WAITING);
  uint32_t st = 0;
  assert_int_equal(dl_wdfdma_txn_completed(g->t, 0, DL_WDFDMA_COMPLETE_FINAL, &st), 1);
  assert_int_equal(st, DL_STATUS_INVALID_DEVICE_STATE);
  assert_int_equal(reports(g), 1);
  const dl_report *rep = dl_verifier_at(g->m, 0);
  assert_int_equal(rep->bugcheck, DL_BUGCHECK_WDF);
  assert_int_equal(rep->p1, DL_WDF_DMA_FATAL_ERROR);
  assert_int_equal(rep->p2, dl_wdfdma_txn_id(g->t));
  assert_int_equal(rep->p3, DL_TXN_TRANSFER);
  assert_non_null(strstr(rep->message, "WdfDmaTransactionDmaCompletedFinal"));
  assert_non_null(strstr(rep->message, "allowed in Transfer (programmed)"));
  assert_int_equal(dl_wdfdma_txn_release(g->t), DL_STATUS_INVALID_DEVICE_STATE);
  assert_int_equal(reports(g), 2);
  assert_int_equal(dl_wdfdma_txn_state(g->t), DL_TXN_TRANSFER);
  run_to_end(g->t0);  /* the registers free: the grant goes to t, still waiting */
  assert_int_equal(g->r.n, 1);
  assert_int_equal(dl_wdftxn_row(g->t), DL_TXNROW_TRANSFER_PROGRAMMED);
  run_to_end(g->t);
  assert_int_equal(dl_wdfdma_txn_bytes_transferred(g->t), 2 * PS);
  assert_int_equal(dl_wdfdma_txn_release(g->t), DL_STATUS_SUCCESS);
  assert_int_equal(dl_wdfdma_txn_release(g->t0), DL_STATUS_SUCCESS);
  assert_int_equal(dl_machine_check_leaks(g->m), 0);
  assert_int_equal(reports(g), 2);
}

/* ---- every cell ------------------------------------------------------------------ */

/* Puts t (device 2's) in `row`. */
static void reach(rig *g, int row) {
  dl_wdfdma_txn *t = g->t;
  uint32_t st = 0;
  switch (row) {
    case DL_TXNROW_CREATED: break;
    case DL_TXNROW_RESERVED:
      assert_int_equal(dl_wdfdma_txn_allocate_resources(t, WR, 2), DL_STATUS_SUCCESS);
      break;
    case DL_TXNROW_INITIALIZED: init(t, g->small); break;
    case DL_TXNROW_TRANSFER_WAITING:
    case DL_TXNROW_DELETED:
      exhaust(g);
      init(t, g->small);
      assert_int_equal(dl_wdfdma_txn_execute(t), DL_STATUS_SUCCESS);
      assert_int_equal(g->r.n, 0);
      if (row == DL_TXNROW_DELETED) {  /* deleted while its request waits: a zombie until the grant */
        dl_wdfdma_txn_delete(t);
        assert_int_equal(dl_wdfdma_txn_state(t), DL_TXN_DELETED);
      }
      break;
    case DL_TXNROW_TRANSFER_PROGRAMMED:
      init(t, g->small);
      assert_int_equal(dl_wdfdma_txn_execute(t), DL_STATUS_SUCCESS);
      assert_int_equal(g->r.n, 1);
      break;
    case DL_TXNROW_TRANSFER_COMPLETED:
      init(t, g->small);
      assert_int_equal(dl_wdfdma_txn_execute(t), DL_STATUS_SUCCESS);
      run_to_end(t);
      break;
    case DL_TXNROW_TRANSFER_FAILED:  /* a length beyond the transfer fails it */
      init(t, g->small);
      assert_int_equal(dl_wdfdma_txn_execute(t), DL_STATUS_SUCCESS);
      assert_int_equal(dl_wdfdma_txn_completed(t, 3 * PS, DL_WDFDMA_COMPLETE_PARTIAL, &st), 1);
      assert_int_equal(st, DL_STATUS_INVALID_PARAMETER);
      break;
    case DL_TXNROW_RELEASED:
      assert_int_equal(dl_wdfdma_txn_release(t), DL_STATUS_SUCCESS);
      break;
    default: fail();
  }
  assert_int_equal(dl_wdftxn_row(t), row);
}

/* Makes call `call` on t. */
static void make_call(rig *g, int call, int row) {
  dl_wdfdma_txn *t = g->t;
  uint32_t st, a, b;
  switch (call) {
    case DL_TXNCALL_INITIALIZE:
      dl_wdfdma_txn_initialize(t, WR, g->small, dl_mdl_virtual_address(g->small), 2 * PS);
      break;
    case DL_TXNCALL_EXECUTE: dl_wdfdma_txn_execute(t); break;
    case DL_TXNCALL_DMA_COMPLETED: dl_wdfdma_txn_completed(t, 0, DL_WDFDMA_COMPLETE, &st); break;
    case DL_TXNCALL_RELEASE: dl_wdfdma_txn_release(t); break;
    case DL_TXNCALL_ALLOCATE_RESOURCES: dl_wdfdma_txn_allocate_resources(t, WR, 2); break;
    case DL_TXNCALL_ALLOCATE_RESOURCES_0: dl_wdfdma_txn_allocate_resources(t, WR, 0); break;
    case DL_TXNCALL_FREE_RESOURCES: dl_wdfdma_txn_free_resources(t); break;
    case DL_TXNCALL_GET_TRANSFER_INFO: dl_wdfdma_txn_transfer_info(t, &a, &b); break;
    case DL_TXNCALL_SET_MAXIMUM_LENGTH: dl_wdfdma_txn_set_maximum_length(t, PS); break;
    case DL_TXNCALL_SET_SINGLE_TRANSFER: dl_wdfdma_txn_set_single_transfer(t, 1); break;
    case DL_TXNCALL_SET_IMMEDIATE: dl_wdfdma_txn_set_immediate(t, 1); break;
    case DL_TXNCALL_CANCEL: dl_wdfdma_txn_cancel(t); break;
    case DL_TXNCALL_DELETE:
      if (row == DL_TXNROW_DELETED) dl_wdfdma_txn_delete(t);  /* the handle is dead: the framework's side */
      else dl_wdf_object_delete(DL_WDF(t));
      break;
    default: fail();
  }
}

#define A DL_TXN_ALLOW
#define R DL_TXN_REFUSE
#define N DL_TXN_NOOP

/* What reference 2.2-2.5 allows, written out independently of the engine's
** table: Initialize in Created/Reserved/Released; Execute, GetTransferInfo,
** SetMaximumLength in Initialized; DmaCompleted* once EvtProgramDma ran;
** Release anywhere but Transfer (again in Released: benign); AllocateResources
** before Initialize or after Release (0 registers: Initialized only);
** FreeResources after AllocateResources could have run; SetSingleTransfer
** before Initialize; SetImmediateExecution before AllocateResources or
** Execute; Cancel from Reserved on; Delete anywhere (in Transfer reported). */
static const int expected[DL_TXNROW_COUNT][DL_TXNCALL_COUNT] = {
  /*                    Ini Exe Cmp Rel AlN Al0 Fre Inf Max Sgl Imm Can Del */
  /* Created        */ { A,  R,  R,  A,  A,  R,  R,  R,  R,  A,  A,  R,  A },
  /* Reserved       */ { A,  R,  R,  A,  R,  R,  A,  R,  R,  A,  R,  A,  A },
  /* Initialized    */ { R,  A,  R,  A,  A,  A,  A,  A,  A,  R,  A,  A,  A },
  /* Transfer, wait */ { R,  R,  R,  R,  R,  R,  R,  R,  R,  R,  R,  A,  R },
  /* Transfer, prog */ { R,  R,  A,  R,  R,  R,  R,  R,  R,  R,  R,  A,  R },
  /* TransferCompl. */ { R,  R,  R,  A,  R,  R,  A,  R,  R,  R,  A,  A,  A },
  /* TransferFailed */ { R,  R,  R,  A,  R,  R,  A,  R,  R,  R,  A,  A,  A },
  /* Released       */ { A,  R,  R,  N,  A,  R,  A,  R,  R,  A,  A,  R,  A },
  /* Deleted        */ { R,  R,  R,  R,  R,  R,  R,  R,  R,  R,  R,  R,  N },
};

/* Every cell on a fresh rig: the table says what reference 2.2-2.5 says; a
** refused call is one report 0x10D/0x8 (P2 the transaction, P3 its state)
** and leaves the state; an allowed call is not reported; and whatever was
** called, the rig tears down without a crash or a leak. */
static void test_every_cell(void **state) {
  (void)state;
  for (int row = 0; row < DL_TXNROW_COUNT; row++) {
    for (int call = 0; call < DL_TXNCALL_COUNT; call++) {
      void *st = NULL;
      setup(&st);
      rig *g = st;
      reach(g, row);
      assert_int_equal(dl_wdftxn_cell(row, call), expected[row][call]);
      uint64_t before = reports(g);
      int fw_state = dl_wdfdma_txn_state(g->t);
      uint64_t id = dl_wdfdma_txn_id(g->t);
      make_call(g, call, row);
      if (expected[row][call] == R) {
        if (reports(g) != before + 1)
          fail_msg("%s in %s: %llu reports, want 1", dl_wdftxn_call_name(call), dl_wdftxn_row_name(row),
                   (unsigned long long)(reports(g) - before));
        const dl_report *rep = dl_verifier_at(g->m, (size_t)before);
        assert_int_equal(rep->bugcheck, DL_BUGCHECK_WDF);
        assert_int_equal(rep->p1, DL_WDF_DMA_FATAL_ERROR);
        assert_int_equal(rep->p2, id);
        assert_int_equal(rep->p3, (uint64_t)fw_state);
        if (call != DL_TXNCALL_DELETE) assert_int_equal(dl_wdfdma_txn_state(g->t), fw_state);
      } else if (reports(g) != before) {
        fail_msg("%s in %s: reported (%s)", dl_wdftxn_call_name(call), dl_wdftxn_row_name(row),
                 dl_verifier_at(g->m, (size_t)before)->message);
      }
      if (g->r0.n) {  /* let the waiting grant (if any) go, then finish t0 */
        run_to_end(g->t0);
      }
      teardown(&st);
    }
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_completed_final_while_waiting, setup, teardown),
    cmocka_unit_test(test_every_cell),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
