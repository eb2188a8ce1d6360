/*
** test_wdfdma.c: the KMDF DMA layer of core/wdf (dl_wdfdma.c, dl_wdftxn.c,
** dl_wdftxnctl.c on dl_wdfobject.c and dl_wdf.c) without Lua, each test
** asserting a rule of /work/shared/reference/windows-dma.md section 2 (its
** subsection named in the test's comment): enablers and the DEVICE_DESCRIPTION
** they build, fragment lengths, Duplex adapters; transactions split into
** transfers, EvtProgramDma's arguments, the DmaCompleted* results; the state
** machine and its 0x10D/0x8 reports; reservations (seeds 000/003); the object
** tree and common buffers.
**
** The test is the driver: a recorder (struct rec) in each transaction's
** binding slot logs every EvtProgramDma and EvtReserveDma the engine makes.
*/
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "base/dl_status.h"
#include "base/dl_wdk.h"
#include "hal/dl_adapter.h"
#include "io/dl_device.h"
#include "io/dl_mdl.h"
#include "machine/dl_context.h"
#include "machine/dl_dmamap.h"
#include "machine/dl_machine.h"
#include "machine/dl_object.h"
#include "machine/dl_verifier.h"
#include "wdf/dl_wdf.h"
#include "wdf/dl_wdfdma.h"
#include "wdf/dl_wdfobject.h"

#define KiB(n) ((uint64_t)(n) << 10)
#define PS 4096u
#define RD DL_WDFDMA_READ_FROM_DEVICE
#define WR DL_WDFDMA_WRITE_TO_DEVICE
#define MAXREC 64

/* ---- the driver: what EvtProgramDma / EvtReserveDma / power callbacks saw ---- */

typedef struct rec {
  dl_machine *m;
  int n;                        /* EvtProgramDma calls */
  uint64_t len[MAXREC];         /* bytes of the transfer (sum of its elements) */
  uint64_t cur[MAXREC];         /* WdfDmaTransactionGetCurrentDmaTransferLength then */
  uint32_t count[MAXREC];       /* elements */
  uint64_t addr[MAXREC];        /* first element's address */
  uint8_t irql[MAXREC];
  int inside[MAXREC];           /* ran inside a DmaCompleted* call */
  int sg[MAXREC];               /* got a list (1) or the packet element (0) */
  int completing;
  int complete_in_program;      /* EvtProgramDma completes its transfer at once */
  int done_in_program;          /* ...and a DmaCompleted there returned TRUE */
  uint32_t status_in_program;
  /* EvtReserveDma: how many, in which state and IRQL; what it initializes */
  int reserves, reserve_state;
  uint8_t reserve_irql;
  dl_mdl *mdl;
  uint64_t va, length;
  int dir;
  uint32_t init_status;
} rec;

static int on_program(void *data, dl_wdfdma_txn *t, dl_sglist *sg, const dl_sg_element *el) {
  rec *r = data;
  assert_non_null(r);
  assert_true((sg == NULL) != (el == NULL));
  int i = r->n++;
  assert_true(i < MAXREC);
  uint32_t n = sg ? dl_sglist_count(sg) : 1;
  const dl_sg_element *els = sg ? dl_sglist_elements(sg) : el;
  uint64_t total = 0;
  for (uint32_t k = 0; k < n; k++) total += els[k].length;
  r->len[i] = total;
  r->cur[i] = dl_wdfdma_txn_current_length(t);
  r->count[i] = n;
  r->addr[i] = els[0].address;
  r->irql[i] = dl_machine_irql(r->m);
  r->inside[i] = r->completing;
  r->sg[i] = sg != NULL;
  if (r->complete_in_program) {  /* a device that finishes before the driver returns */
    r->completing = 1;
    r->done_in_program = dl_wdfdma_txn_completed(t, 0, DL_WDFDMA_COMPLETE, &r->status_in_program);
    r->completing = 0;
  }
  return 1;
}

static void on_reserve(void *data, dl_wdfdma_txn *t) {
  rec *r = data;
  r->reserves++;
  r->reserve_state = dl_wdfdma_txn_state(t);
  r->reserve_irql = dl_machine_irql(r->m);
  if (r->mdl) r->init_status = dl_wdfdma_txn_initialize(t, r->dir, r->mdl, r->va, r->length);
}

/* The power callbacks: names in order, and the status each returns. */
static struct {
  int seen[16];
  int n;
  uint32_t fail[DL_WDFDMA_EVT_COUNT];
  uint8_t irql;
} power_log;

static uint32_t on_power(void *data, dl_wdfdma_enabler *e, int cb) {
  (void)data;
  power_log.irql = dl_machine_irql(dl_wdfdma_enabler_machine(e));
  if (power_log.n < 16) power_log.seen[power_log.n++] = cb;
  return power_log.fail[cb];
}

static const dl_wdfdma_ops dma_ops = {on_program, on_reserve, on_power, NULL, NULL};

/* Object callbacks of the tree tests: "cleanup <id>" / "destroy <id>". */
static struct {
  char seen[32][32];
  int n;
} tree_log;

static void tree_note(const char *what, dl_wdf_object *o) {
  if (tree_log.n < 32)
    snprintf(tree_log.seen[tree_log.n++], sizeof tree_log.seen[0], "%s %llu", what,
             (unsigned long long)o->id);
}
static void on_cleanup(void *ctx, dl_wdf_object *o) { (void)ctx, tree_note("cleanup", o); }
static void on_destroy(void *ctx, dl_wdf_object *o) { (void)ctx, tree_note("destroy", o); }

/* ---- the rig: a machine, a WDF driver and device, enablers and transactions ---- */

static uint32_t no_event(void *ctx, dl_wdf_device *d, dl_wdf_event ev, uint32_t st) {
  (void)ctx, (void)d, (void)ev, (void)st;
  return 0;
}

static const dl_wdf_ops wdf_ops = {.event = no_event};

typedef struct kmdf {
  dl_machine *m;
  dl_device *pdo;
  dl_wdf_driver *drv;
  dl_wdf_device *d;
} kmdf;

static kmdf the_rig;

static int setup(void **state) {
  memset(&the_rig, 0, sizeof the_rig);
  memset(&power_log, 0, sizeof power_log);
  memset(&tree_log, 0, sizeof tree_log);
  *state = &the_rig;
  return 0;
}

static int teardown(void **state) {
  kmdf *k = *state;
  if (k->m) {
    dl_wdf_unload(k->m);  /* the device, its enablers, transactions, buffers */
    dl_machine_free(k->m);
  }
  return 0;
}

/* The machine (map_registers and adapter_map_registers 0: the defaults, 64
** and 16) with a WDF driver and a device not yet started. */
static kmdf *up_with(void **state, uint32_t map_registers, uint32_t adapter_map_registers) {
  kmdf *k = *state;
  dl_machine_config cfg;
  dl_machine_config_init(&cfg);
  if (map_registers) cfg.map_registers = map_registers;
  if (adapter_map_registers) cfg.adapter_map_registers = adapter_map_registers;
  assert_int_equal(dl_machine_new(&cfg, &k->m), DL_OK);
  assert_int_equal(dl_device_new(k->m, "pdo", &k->pdo), DL_OK);
  assert_int_equal(dl_wdf_driver_new(k->m, &k->drv), DL_OK);
  assert_int_equal(dl_wdf_device_new(k->m, k->drv, k->pdo, "fdo", &wdf_ops, NULL, &k->d), DL_OK);
  return k;
}

static kmdf *up(void **state) { return up_with(state, 0, 0); }

/* WdfDmaEnablerCreate, which must succeed; the device is started after it. */
static dl_wdfdma_enabler *enabler(kmdf *k, int profile, uint64_t maxlen, uint32_t version,
                                  uint32_t flags) {
  dl_wdfdma_config c = {profile, maxlen, version, flags, 0, 0};
  dl_wdfdma_enabler *e = NULL;
  assert_int_equal(dl_wdfdma_enabler_create(k->d, &c, &dma_ops, &e), DL_STATUS_SUCCESS);
  assert_non_null(e);
  if (dl_wdf_device_state(k->d) != DL_WDF_STARTED)
    assert_int_equal(dl_wdf_device_start(k->d, NULL, 0), 0);
  return e;
}

/* WdfDmaTransactionCreate with the recorder r in its slot. */
static dl_wdfdma_txn *txn(kmdf *k, dl_wdfdma_enabler *e, rec *r) {
  memset(r, 0, sizeof *r);
  r->m = k->m;
  dl_wdfdma_txn *t = NULL;
  assert_int_equal(dl_wdfdma_txn_create(e, &t), DL_STATUS_SUCCESS);
  assert_non_null(t);
  assert_int_equal(dl_wdfdma_txn_state(t), DL_TXN_CREATED);
  DL_WDF(t)->data = r;
  return t;
}

/* A nonpaged buffer of len bytes `off` into its first page, and its MDL. */
static dl_mdl *buffer(kmdf *k, uint64_t len, uint32_t off, dl_alloc_policy p) {
  dl_region *reg = NULL;
  dl_mdl *mdl = NULL;
  assert_int_equal(dl_buffer_new(k->m, len, off, p, DL_REGION_NONPAGED, &reg), DL_OK);
  assert_int_equal(dl_mdl_allocate(k->m, reg->va, reg->length, &mdl), DL_OK);
  assert_int_equal(dl_mdl_build_for_nonpaged_pool(mdl), DL_OK);
  return mdl;
}

static uint64_t va_of(dl_mdl *mdl) { return dl_mdl_virtual_address(mdl); }

/* Initialize over [va, va+len) of mdl, which must succeed. */
static void init(dl_wdfdma_txn *t, int dir, dl_mdl *mdl, uint64_t va, uint64_t len) {
  assert_int_equal(dl_wdfdma_txn_initialize(t, dir, mdl, va, len), DL_STATUS_SUCCESS);
  assert_int_equal(dl_wdfdma_txn_state(t), DL_TXN_INITIALIZED);
}

/* A DmaCompleted* call, marking EvtProgramDma calls made inside it. */
static int completed(dl_wdfdma_txn *t, rec *r, uint64_t n, int kind, uint32_t *st) {
  r->completing = 1;
  int done = dl_wdfdma_txn_completed(t, n, kind, st);
  r->completing = 0;
  return done;
}

/* Completes every transfer with DmaCompleted; the calls made. The last must
** be TRUE with SUCCESS, every other FALSE with MORE_PROCESSING_REQUIRED. */
static int run_to_end(dl_wdfdma_txn *t, rec *r) {
  uint32_t st = 0;
  int calls = 0;
  for (;;) {
    int done = completed(t, r, 0, DL_WDFDMA_COMPLETE, &st);
    calls++;
    if (done) break;
    assert_int_equal(st, DL_STATUS_MORE_PROCESSING_REQUIRED);
    assert_true(calls < 100);
  }
  assert_int_equal(st, DL_STATUS_SUCCESS);
  assert_int_equal(dl_wdfdma_txn_state(t), DL_TXN_TRANSFER_COMPLETED);
  return calls;
}

static const dl_adapter_stats *stats(dl_wdfdma_enabler *e, int dir) {
  return dl_adapter_get_stats(dl_wdfdma_enabler_adapter(e, dir));
}

static uint64_t reports(kmdf *k) { return dl_verifier_count(k->m); }

/* Asserts one report since `before`: 0x10D with p1, p2, p3; returns it. */
static const dl_report *expect_wdf(kmdf *k, uint64_t before, uint32_t p1, uint64_t p2, uint64_t p3) {
  if (reports(k) != before + 1)
    fail_msg("%llu reports, want %llu", (unsigned long long)reports(k),
             (unsigned long long)before + 1);
  const dl_report *rep = dl_verifier_at(k->m, (size_t)before);
  assert_non_null(rep);
  assert_int_equal(rep->bugcheck, DL_BUGCHECK_WDF);
  assert_int_equal(rep->p1, p1);
  assert_int_equal(rep->p2, p2);
  assert_int_equal(rep->p3, p3);
  return rep;
}

static void expect_none(kmdf *k, uint64_t before) {
  if (reports(k) != before)
    fail_msg("unexpected report: %s", dl_verifier_at(k->m, (size_t)(reports(k) - 1))->message);
}

/* ==== enablers (reference 2.1) ================================================== */

/* 2.1 "Base DEVICE_DESCRIPTION: Master=1, Dma32=1, PCIBus, Version 2" and the
** per-profile table: ScatterGather and 64-bit by profile, MaximumLength
** passed on; a non-Duplex enabler has one adapter for both directions. */
static void test_enabler_description_per_profile(void **state) {
  kmdf *k = up(state);
  static const struct { int profile, sg, dma64; } cases[] = {
    {DL_WDFDMA_PACKET, 0, 0}, {DL_WDFDMA_PACKET64, 0, 1},
    {DL_WDFDMA_SCATTER_GATHER, 1, 0}, {DL_WDFDMA_SCATTER_GATHER64, 1, 1},
    {DL_WDFDMA_SCATTER_GATHER_DUPLEX, 1, 0}, {DL_WDFDMA_SCATTER_GATHER64_DUPLEX, 1, 1},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    dl_wdfdma_enabler *e = enabler(k, cases[i].profile, KiB(64), 0, 0);
    assert_int_equal(dl_wdfdma_enabler_profile(e), cases[i].profile);
    assert_int_equal(dl_wdfdma_enabler_version(e), 2);
    assert_int_equal(dl_wdfdma_enabler_is_packet(e), !cases[i].sg);
    assert_ptr_equal(dl_wdfdma_enabler_device(e), k->d);
    for (int dir = RD; dir <= WR; dir++) {
      const dl_device_description *d = dl_adapter_description(dl_wdfdma_enabler_adapter(e, dir));
      assert_int_equal(d->version, 2);
      assert_int_equal(d->master, 1);
      assert_int_equal(d->dma32, 1);
      assert_int_equal(d->interface_type, DL_PCI_BUS);
      assert_int_equal(d->scatter_gather, cases[i].sg);
      assert_int_equal(d->dma64, cases[i].dma64);
      assert_int_equal(d->maximum_length, KiB(64));
      assert_int_equal(d->address_width, 0);
      assert_ptr_equal(dl_adapter_device(dl_wdfdma_enabler_adapter(e, dir)), k->pdo);
    }
    int duplex = cases[i].profile >= DL_WDFDMA_SCATTER_GATHER_DUPLEX;
    assert_int_equal(dl_wdfdma_enabler_adapter(e, RD) != dl_wdfdma_enabler_adapter(e, WR), duplex);
    /* 64-bit: no ceiling; 32-bit: 4 GiB (1.1 "Address ceiling") */
    assert_true(dl_adapter_ceiling(dl_wdfdma_enabler_adapter(e, RD)) ==
                (cases[i].dma64 ? UINT64_MAX : 0xFFFFFFFFu));
  }
  expect_none(k, 0);
}

/* 2.1 WDF_DMA_ENABLER_CONFIG: WdmDmaVersionOverride 3 gives a v3 description
** (its width from the profile), AddressWidthOverride forces v3 with that width. */
static void test_enabler_version_and_width_overrides(void **state) {
  kmdf *k = up(state);
  dl_wdfdma_enabler *v3 = enabler(k, DL_WDFDMA_PACKET, KiB(64), 3, 0);
  const dl_device_description *d = dl_adapter_description(dl_wdfdma_enabler_adapter(v3, RD));
  assert_int_equal(dl_wdfdma_enabler_version(v3), 3);
  assert_int_equal(d->version, 3);
  assert_int_equal(d->address_width, 32);
  dl_wdfdma_config c = {DL_WDFDMA_PACKET64, KiB(64), 0, 0, 40, 0};
  dl_wdfdma_enabler *aw;
  assert_int_equal(dl_wdfdma_enabler_create(k->d, &c, &dma_ops, &aw), DL_STATUS_SUCCESS);
  d = dl_adapter_description(dl_wdfdma_enabler_adapter(aw, WR));
  assert_int_equal(dl_wdfdma_enabler_version(aw), 3);
  assert_int_equal(d->version, 3);
  assert_int_equal(d->address_width, 40);
  assert_true(dl_adapter_ceiling(dl_wdfdma_enabler_adapter(aw, WR)) == (UINT64_C(1) << 40) - 1);
}

/* 2.1: MaximumLength 0 is invalid; AddressWidthOverride <= 32 on 32-bit
** profiles; WdmDmaVersionOverride 0, 2 or 3; REQUIRE_SINGLE_TRANSFER needs v3;
** the System profiles take no AddressWidthOverride; no enabler then. */
static void test_enabler_bad_configs(void **state) {
  kmdf *k = up(state);
  static const dl_wdfdma_config bad[] = {
    {DL_WDFDMA_PACKET, 0, 0, 0, 0, 0},
    {DL_WDFDMA_PACKET, 4096, 0, 0, 40, 0},
    {DL_WDFDMA_PACKET64, 4096, 0, 0, 65, 0},
    {DL_WDFDMA_PACKET64, 4096, 0, 0, 16, 0},
    {DL_WDFDMA_PACKET, 4096, 4, 0, 0, 0},
    {DL_WDFDMA_PACKET, 4096, 1, 0, 0, 0},
    {DL_WDFDMA_PACKET, 4096, 0, DL_WDFDMA_REQUIRE_SINGLE_TRANSFER, 0, 0},
    {DL_WDFDMA_PROFILE_INVALID, 4096, 0, 0, 0, 0},
    {DL_WDFDMA_SYSTEM, 4096, 0, 0, 32, 0},
    {DL_WDFDMA_SYSTEM_DUPLEX, 4096, 0, 0, 24, 0},
    {9, 4096, 0, 0, 0, 0},
  };
  size_t before = dl_machine_count(k->m, NULL);
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    dl_wdfdma_enabler *e = (dl_wdfdma_enabler *)&the_rig;  /* must be cleared */
    assert_int_equal(dl_wdfdma_enabler_create(k->d, &bad[i], &dma_ops, &e),
                     DL_STATUS_INVALID_PARAMETER);
    assert_null(e);
  }
  assert_int_equal(dl_machine_count(k->m, NULL), before);  /* no object, no adapter */
  /* ...and the valid neighbours of those */
  dl_wdfdma_config ok = {DL_WDFDMA_PACKET, 4096, 3, DL_WDFDMA_REQUIRE_SINGLE_TRANSFER, 32, 0};
  dl_wdfdma_enabler *e;
  assert_int_equal(dl_wdfdma_enabler_create(k->d, &ok, &dma_ops, &e), DL_STATUS_SUCCESS);
  expect_none(k, 0);
}

/* 2.1 "MaximumFragmentLength = min(MaximumLength, (NMR-1)*PAGE_SIZE)", with
** the NMR of the enabler's adapter (1.1: BYTES_TO_PAGES(MaxLen)+1, capped at
** the adapter's 16; no registers needed for a 64-bit S/G master). */
static void test_enabler_fragment_length(void **state) {
  kmdf *k = up(state);
  static const struct { int profile; uint64_t maxlen, frag; uint32_t nmr; } cases[] = {
    {DL_WDFDMA_PACKET, KiB(64), 15 * PS, 16},           /* 17 capped to 16 */
    {DL_WDFDMA_PACKET, KiB(16), KiB(16), 5},            /* (5-1) pages */
    {DL_WDFDMA_PACKET, 10000, 10000, 4},                /* 3 pages > 10000 */
    {DL_WDFDMA_PACKET, 4096, 4096, 2},
    {DL_WDFDMA_SCATTER_GATHER, KiB(1024), 15 * PS, 16},
    {DL_WDFDMA_SCATTER_GATHER64, KiB(1024), KiB(1024), 257},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    dl_wdfdma_enabler *e = enabler(k, cases[i].profile, cases[i].maxlen, 0, 0);
    assert_int_equal(dl_adapter_map_registers(dl_wdfdma_enabler_adapter(e, RD)), cases[i].nmr);
    assert_int_equal(dl_wdfdma_enabler_fragment_length(e, RD), cases[i].frag);
    assert_int_equal(dl_wdfdma_enabler_fragment_length(e, WR), cases[i].frag);
    assert_int_equal(dl_wdfdma_enabler_maximum_length(e), cases[i].maxlen);
    /* GetFragmentLength: 0 for a direction that is neither */
    assert_int_equal(dl_wdfdma_enabler_fragment_length(e, 2), 0);
    assert_int_equal(dl_wdfdma_enabler_fragment_length(e, -1), 0);
  }
}

/* 2.1 with 1.1: "drivers must use the returned value": an adapter capped at
** 4 registers gives (4-1) pages whatever MaximumLength asks. */
static void test_enabler_follows_adapter_registers(void **state) {
  kmdf *k = up_with(state, 0, 4);
  dl_wdfdma_enabler *e = enabler(k, DL_WDFDMA_PACKET, KiB(64), 0, 0);
  assert_int_equal(dl_adapter_map_registers(dl_wdfdma_enabler_adapter(e, WR)), 4);
  assert_int_equal(dl_wdfdma_enabler_fragment_length(e, WR), 3 * PS);
  assert_int_equal(dl_wdfdma_enabler_fragment_length(e, RD), 3 * PS);
}

/* 2.1 "...Duplex: separate read and write adapters", each with its own NMR
** and fragment length; a transaction uses its direction's adapter; deleting
** the enabler puts both (PutDmaAdapter). */
static void test_enabler_duplex(void **state) {
  kmdf *k = up(state);
  dl_wdfdma_enabler *e = enabler(k, DL_WDFDMA_SCATTER_GATHER_DUPLEX, KiB(32), 0, 0);
  dl_adapter *ra = dl_wdfdma_enabler_adapter(e, RD), *wa = dl_wdfdma_enabler_adapter(e, WR);
  assert_ptr_not_equal(ra, wa);
  assert_int_equal(dl_adapter_map_registers(ra), 9);
  assert_int_equal(dl_adapter_map_registers(wa), 9);
  assert_int_equal(dl_wdfdma_enabler_fragment_length(e, RD), KiB(32));
  assert_int_equal(dl_wdfdma_enabler_fragment_length(e, WR), KiB(32));
  rec r;
  dl_wdfdma_txn *t = txn(k, e, &r);
  dl_mdl *mdl = buffer(k, 8192, 0, DL_ALLOC_CONTIGUOUS);
  for (int dir = RD; dir <= WR; dir++) {
    init(t, dir, mdl, va_of(mdl), 8192);
    assert_int_equal(dl_wdfdma_txn_direction(t), dir);
    assert_int_equal(dl_wdfdma_txn_execute(t), DL_STATUS_SUCCESS);
    run_to_end(t, &r);
    assert_int_equal(dl_wdfdma_txn_release(t), DL_STATUS_SUCCESS);
    assert_int_equal(dl_adapter_get_stats(dir == RD ? ra : wa)->sg_lists, 1);
  }
  assert_int_equal(r.n, 2);
  assert_int_equal(dl_wdf_object_delete(DL_WDF(e)), DL_OK);
  assert_true(dl_adapter_is_released(ra));
  assert_true(dl_adapter_is_released(wa));
  expect_none(k, 0);
  assert_int_equal(dl_machine_check_leaks(k->m), 0);
}

/* 2.1 "MaxSGElements defaults to (ULONG)-1"; SetMaximumScatterGatherElements
** (PASSIVE_LEVEL: 0xE6/0x13 above) lowers it, 0 is ignored; 2.2 a fragment
** needing more elements fails Initialize with TOO_FRAGMENTED, -> Released. */
static void test_enabler_max_sg_elements(void **state) {
  kmdf *k = up(state);
  dl_wdfdma_enabler *e = enabler(k, DL_WDFDMA_SCATTER_GATHER64, KiB(64), 0, 0);
  assert_int_equal(dl_wdfdma_enabler_max_sg_elements(e), UINT32_MAX);
  dl_wdfdma_enabler_set_max_sg_elements(e, 3);
  assert_int_equal(dl_wdfdma_enabler_max_sg_elements(e), 3);
  dl_wdfdma_enabler_set_max_sg_elements(e, 0);
  assert_int_equal(dl_wdfdma_enabler_max_sg_elements(e), 3);
  dl_machine_set_irql(k->m, DL_DISPATCH_LEVEL);
  dl_wdfdma_enabler_set_max_sg_elements(e, 2);
  dl_machine_set_irql(k->m, DL_PASSIVE_LEVEL);
  assert_int_equal(reports(k), 1);
  assert_int_equal(dl_verifier_at(k->m, 0)->bugcheck, DL_BUGCHECK_DMA);
  assert_int_equal(dl_verifier_at(k->m, 0)->p1, DL_VF_WRONG_IRQL);
  dl_wdfdma_enabler_set_max_sg_elements(e, 2);
  assert_int_equal(dl_wdfdma_enabler_max_sg_elements(e), 2);
  rec r;
  dl_wdfdma_txn *t = txn(k, e, &r);
  /* 4 pages where no two are physically adjacent: 4 elements */
  dl_mdl *mdl = buffer(k, 4 * PS, 0, DL_ALLOC_SCATTERED);
  const uint64_t *pfn = dl_mdl_pfns(mdl);
  int runs = 1;
  for (int i = 1; i < 4; i++) runs += pfn[i] != pfn[i - 1] + 1;
  assert_true(runs > 2);
  assert_int_equal(dl_wdfdma_txn_initialize(t, RD, mdl, va_of(mdl), 4 * PS),
                   DL_STATUS_WDF_TOO_FRAGMENTED);
  assert_int_equal(dl_wdfdma_txn_state(t), DL_TXN_RELEASED);
  dl_wdfdma_enabler_set_max_sg_elements(e, 4);
  init(t, RD, mdl, va_of(mdl), 4 * PS);
  assert_int_equal(dl_wdfdma_txn_execute(t), DL_STATUS_SUCCESS);
  assert_int_equal(r.count[0], (uint32_t)runs);
  run_to_end(t, &r);
  assert_int_equal(reports(k), 1);
}

/* 2.6: up runs Fill, Enable, SelfManagedIoStart at PASSIVE_LEVEL; a failing
** Fill stops the power-up (its status returned) and going down then skips
** Disable and Flush; a failing Enable skips only Flush. */
static void test_enabler_power_callbacks(void **state) {
  kmdf *k = up(state);
  dl_wdfdma_config c = {DL_WDFDMA_PACKET, KiB(64), 0, 0, 0, (1u << DL_WDFDMA_EVT_COUNT) - 1};
  dl_wdfdma_enabler *e;
  assert_int_equal(dl_wdfdma_enabler_create(k->d, &c, &dma_ops, &e), DL_STATUS_SUCCESS);
  assert_int_equal(dl_wdf_device_start(k->d, NULL, 0), 0);
  static const int up_order[] = {DL_WDFDMA_EVT_FILL, DL_WDFDMA_EVT_ENABLE,
                                 DL_WDFDMA_EVT_SELF_MANAGED_IO_START};
  assert_int_equal(power_log.n, 3);
  for (int i = 0; i < 3; i++) assert_int_equal(power_log.seen[i], up_order[i]);
  assert_int_equal(power_log.irql, DL_PASSIVE_LEVEL);
  static const struct { int fail; uint32_t st; int n; int seen[4]; } cases[] = {
    {DL_WDFDMA_EVT_FILL, DL_STATUS_INSUFFICIENT_RESOURCES, 2,
     {DL_WDFDMA_EVT_FILL, DL_WDFDMA_EVT_SELF_MANAGED_IO_STOP}},
    {DL_WDFDMA_EVT_ENABLE, 0xC000009Cu, 4,
     {DL_WDFDMA_EVT_FILL, DL_WDFDMA_EVT_ENABLE, DL_WDFDMA_EVT_SELF_MANAGED_IO_STOP,
      DL_WDFDMA_EVT_DISABLE}},
  };
  for (size_t i = 0; i < 2; i++) {
    memset(&power_log, 0, sizeof power_log);
    power_log.fail[cases[i].fail] = cases[i].st;
    assert_int_equal(dl_wdfdma_enabler_power(e, 1), cases[i].st);
    assert_int_equal(dl_wdfdma_enabler_power(e, 0), 0);
    assert_int_equal(power_log.n, cases[i].n);
    for (int j = 0; j < cases[i].n; j++) assert_int_equal(power_log.seen[j], cases[i].seen[j]);
  }
  assert_string_equal(dl_wdfdma_callback_name(DL_WDFDMA_EVT_FILL), "EvtDmaEnablerFill");
}

/* ==== transactions: splitting and completion (reference 2.3) ====================== */

/* 2.3 packet profile: the first transfer is min(Remaining, MaxFrag) capped by
** the registers; EvtProgramDma gets one element at DISPATCH_LEVEL; the next
** transfer is programmed inside DmaCompleted (FALSE, MORE_PROCESSING_REQUIRED)
** with the same registers; the last returns TRUE/SUCCESS and frees them. */
static void test_packet_splits_inside_completed(void **state) {
  kmdf *k = up(state);
  dl_wdfdma_enabler *e = enabler(k, DL_WDFDMA_PACKET, KiB(64), 0, 0);
  rec r;
  dl_wdfdma_txn *t = txn(k, e, &r);
  dl_mdl *mdl = buffer(k, 100000, 0x10, DL_ALLOC_SCATTERED);
  init(t, RD, mdl, va_of(mdl), 100000);
  assert_int_equal(dl_wdfdma_txn_execute(t), DL_STATUS_SUCCESS);
  assert_int_equal(dl_wdfdma_txn_state(t), DL_TXN_TRANSFER);
  assert_int_equal(r.n, 1);
  assert_int_equal(r.len[0], 61440);
  assert_int_equal(r.cur[0], 61440);
  assert_int_equal(r.count[0], 1);
  assert_int_equal(r.sg[0], 0);
  assert_int_equal(r.irql[0], DL_DISPATCH_LEVEL);
  assert_int_equal(r.inside[0], 0);
  assert_int_equal(dl_machine_irql(k->m), DL_PASSIVE_LEVEL);  /* restored */
  uint32_t held = stats(e, RD)->registers_held;
  assert_int_equal(held, 16);  /* SPAN_PAGES(PAGE_SIZE-1, 61440): not the only fragment */
  uint32_t st;
  assert_int_equal(completed(t, &r, 0, DL_WDFDMA_COMPLETE, &st), 0);
  assert_int_equal(st, DL_STATUS_MORE_PROCESSING_REQUIRED);
  assert_int_equal(r.n, 2);
  assert_int_equal(r.inside[1], 1);
  assert_int_equal(r.len[1], 100000 - 61440);
  assert_int_equal(dl_wdfdma_txn_bytes_transferred(t), 61440);
  assert_int_equal(stats(e, RD)->registers_held, held);
  assert_int_equal(stats(e, RD)->channel_grants, 1);
  assert_int_equal(completed(t, &r, 0, DL_WDFDMA_COMPLETE, &st), 1);
  assert_int_equal(st, DL_STATUS_SUCCESS);
  assert_int_equal(dl_wdfdma_txn_state(t), DL_TXN_TRANSFER_COMPLETED);
  assert_int_equal(dl_wdfdma_txn_bytes_transferred(t), 100000);
  assert_int_equal(stats(e, RD)->registers_held, 0);
  assert_int_equal(r.n, 2);
  expect_none(k, 0);
}

/* 2.3 packet start: "Registers needed = SPAN_PAGES(real start, fragLen) if
** this is the only fragment, otherwise SPAN_PAGES(PAGE_SIZE-1, fragLen)
** (worst-case alignment)"; all of them free at the end. */
static void test_packet_register_count(void **state) {
  kmdf *k = up(state);
  dl_wdfdma_enabler *e = enabler(k, DL_WDFDMA_PACKET, KiB(16), 0, 0);
  static const struct { uint64_t len; uint32_t off, regs; } cases[] = {
    {8192, 0, 2}, {8192, 0x10, 3}, {KiB(16), 0, 4}, {40000, 0, 5}, {40000, 0x10, 5},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    rec r;
    dl_wdfdma_txn *t = txn(k, e, &r);
    dl_mdl *mdl = buffer(k, cases[i].len, cases[i].off, DL_ALLOC_CONTIGUOUS);
    init(t, WR, mdl, va_of(mdl), cases[i].len);
    assert_int_equal(dl_wdfdma_txn_execute(t), DL_STATUS_SUCCESS);
    assert_int_equal(stats(e, WR)->registers_held, cases[i].regs);
    run_to_end(t, &r);
    assert_int_equal(stats(e, WR)->registers_held, 0);
    assert_int_equal(dl_wdf_object_delete(DL_WDF(t)), DL_OK);
  }
  expect_none(k, 0);
}

/* 2.3 "Nested or concurrent staging and completion are serialized with
** RerunStaging": a device that completes each transfer inside EvtProgramDma
** (DmaCompleted called from it) still gets every transfer, in order, and the
** last DmaCompleted returns TRUE with SUCCESS. Both profiles. */
static void test_completed_inside_program(void **state) {
  kmdf *k = up(state);
  static const int profiles[] = {DL_WDFDMA_PACKET, DL_WDFDMA_SCATTER_GATHER};
  for (int p = 0; p < 2; p++) {
    dl_wdfdma_enabler *e = enabler(k, profiles[p], KiB(16), 0, 0);
    rec r;
    dl_wdfdma_txn *t = txn(k, e, &r);
    r.complete_in_program = 1;
    dl_mdl *mdl = buffer(k, KiB(40), 0, DL_ALLOC_CONTIGUOUS);
    init(t, WR, mdl, va_of(mdl), KiB(40));
    assert_int_equal(dl_wdfdma_txn_execute(t), DL_STATUS_SUCCESS);
    assert_int_equal(r.n, 3);
    assert_int_equal(r.len[0], KiB(16));
    assert_int_equal(r.len[1], KiB(16));
    assert_int_equal(r.len[2], KiB(8));
    assert_int_equal(r.done_in_program, 1);
    assert_int_equal(r.status_in_program, DL_STATUS_SUCCESS);
    assert_int_equal(dl_wdfdma_txn_state(t), DL_TXN_TRANSFER_COMPLETED);
    assert_int_equal(dl_wdfdma_txn_bytes_transferred(t), KiB(40));
    assert_int_equal(stats(e, WR)->registers_held, 0);
    assert_int_equal(dl_wdfdma_txn_release(t), DL_STATUS_SUCCESS);
  }
  expect_none(k, 0);
  assert_int_equal(dl_machine_check_leaks(k->m), 0);
}

/* 2.3 scatter/gather profile: one list per transfer (registers taken and
** freed per transfer); the elements are the buffer's physical runs (a 64-bit
** master maps nothing) and add up to the transfer's length. */
static void test_sg_program_elements(void **state) {
  kmdf *k = up(state);
  dl_wdfdma_enabler *e = enabler(k, DL_WDFDMA_SCATTER_GATHER64, KiB(16), 0, 0);
  rec r;
  dl_wdfdma_txn *t = txn(k, e, &r);
  dl_mdl *one = buffer(k, 3 * PS, 0x200, DL_ALLOC_CONTIGUOUS);
  init(t, WR, one, va_of(one), 3 * PS);
  assert_int_equal(dl_wdfdma_txn_execute(t), DL_STATUS_SUCCESS);
  assert_int_equal(r.n, 1);
  assert_int_equal(r.sg[0], 1);
  assert_int_equal(r.count[0], 1);
  assert_int_equal(r.len[0], 3 * PS);
  assert_int_equal(r.addr[0], dl_mdl_pa(one, va_of(one)));
  assert_int_equal(r.irql[0], DL_DISPATCH_LEVEL);
  assert_int_equal(run_to_end(t, &r), 1);
  assert_int_equal(dl_wdfdma_txn_release(t), DL_STATUS_SUCCESS);
  /* scattered, 40000 bytes in 16 KiB transfers */
  dl_mdl *mdl = buffer(k, 40000, 0, DL_ALLOC_SCATTERED);
  init(t, WR, mdl, va_of(mdl), 40000);
  assert_int_equal(dl_wdfdma_txn_execute(t), DL_STATUS_SUCCESS);
  assert_int_equal(run_to_end(t, &r), 3);
  static const uint64_t want[] = {KiB(16), KiB(16), 40000 - KiB(32)};
  const uint64_t *pfn = dl_mdl_pfns(mdl);
  for (int i = 0; i < 3; i++) {
    int at = 1 + i;
    assert_int_equal(r.len[at], want[i]);
    assert_int_equal(r.cur[at], want[i]);
    assert_int_equal(r.addr[at], pfn[i * 4] * PS);
    uint32_t runs = 1;
    for (int p = i * 4 + 1; p < i * 4 + 4 && p < 10; p++) runs += pfn[p] != pfn[p - 1] + 1;
    assert_int_equal(r.count[at], runs);
    assert_int_equal(r.inside[at], i > 0);
  }
  assert_int_equal(stats(e, WR)->sg_lists, 4);
  assert_int_equal(dl_wdfdma_txn_bytes_transferred(t), 40000);
  expect_none(k, 0);
}

/* 2.3 scatter/gather: "registers are allocated and freed per transfer, so the
** next EvtProgramDma may be deferred while registers are short"; each
** transfer is capped to the adapter's registers. */
static void test_sg_deferred_while_registers_short(void **state) {
  kmdf *k = up_with(state, 8, 0);
  dl_wdfdma_enabler *e = enabler(k, DL_WDFDMA_SCATTER_GATHER, KiB(64), 0, 0);
  assert_int_equal(dl_wdfdma_enabler_fragment_length(e, WR), 7 * PS);
  rec r1, r2;
  dl_wdfdma_txn *t1 = txn(k, e, &r1), *t2 = txn(k, e, &r2);
  dl_mdl *m1 = buffer(k, 6 * PS, 0, DL_ALLOC_CONTIGUOUS), *m2 = buffer(k, 5 * PS, 0, DL_ALLOC_CONTIGUOUS);
  init(t1, WR, m1, va_of(m1), 6 * PS);
  init(t2, WR, m2, va_of(m2), 5 * PS);
  assert_int_equal(dl_wdfdma_txn_execute(t1), DL_STATUS_SUCCESS);
  assert_int_equal(dl_wdfdma_txn_execute(t2), DL_STATUS_SUCCESS);
  assert_int_equal(r1.n, 1);
  assert_int_equal(r2.n, 0);  /* 6 + 5 > 8 registers: t2 waits */
  assert_int_equal(dl_wdfdma_txn_state(t2), DL_TXN_TRANSFER);
  assert_int_equal(run_to_end(t1, &r1), 1);
  assert_int_equal(r2.n, 1);  /* PutScatterGatherList freed t1's registers */
  assert_int_equal(r2.len[0], 5 * PS);
  assert_int_equal(run_to_end(t2, &r2), 1);
  assert_int_equal(stats(e, WR)->registers_held, 0);
  /* 64 KiB at 0x800 into its page: every transfer spans at most 8 pages */
  assert_int_equal(dl_wdfdma_txn_release(t1), DL_STATUS_SUCCESS);
  dl_mdl *big = buffer(k, KiB(64), 0x800, DL_ALLOC_SCATTERED);
  init(t1, RD, big, va_of(big), KiB(64));
  assert_int_equal(dl_wdfdma_txn_execute(t1), DL_STATUS_SUCCESS);
  int calls = run_to_end(t1, &r1);
  uint64_t total = 0;
  for (int i = 1; i <= calls; i++) {
    assert_true(dl_span_pages(va_of(big) + total, r1.len[i], PS) <= 8);
    assert_true(r1.len[i] <= 7 * PS);
    total += r1.len[i];
  }
  assert_int_equal(total, KiB(64));
  expect_none(k, 0);
}

/* 2.3 "...WithLength(n): n > fragLen -> INVALID_PARAMETER and the transaction
** fails (TRUE); otherwise Transferred += n, Remaining += fragLen-n; n=0
** retries the same transfer". */
static void test_completed_with_length(void **state) {
  kmdf *k = up(state);
  dl_wdfdma_enabler *e = enabler(k, DL_WDFDMA_PACKET, KiB(16), 0, 0);
  rec r;
  dl_wdfdma_txn *t = txn(k, e, &r);
  dl_mdl *mdl = buffer(k, KiB(40), 0, DL_ALLOC_CONTIGUOUS);
  init(t, WR, mdl, va_of(mdl), KiB(40));
  assert_int_equal(dl_wdfdma_txn_execute(t), DL_STATUS_SUCCESS);
  assert_int_equal(r.len[0], KiB(16));
  uint32_t st;
  assert_int_equal(completed(t, &r, 0, DL_WDFDMA_COMPLETE_PARTIAL, &st), 0);
  assert_int_equal(st, DL_STATUS_MORE_PROCESSING_REQUIRED);
  assert_int_equal(r.n, 2);
  assert_int_equal(r.len[1], KiB(16));  /* the same transfer again */
  assert_int_equal(r.addr[1], r.addr[0]);
  assert_int_equal(r.inside[1], 1);
  assert_int_equal(dl_wdfdma_txn_bytes_transferred(t), 0);
  assert_int_equal(completed(t, &r, 1000, DL_WDFDMA_COMPLETE_PARTIAL, &st), 0);
  assert_int_equal(dl_wdfdma_txn_bytes_transferred(t), 1000);
  assert_int_equal(r.len[2], KiB(16));  /* 40 KiB - 1000 left: a full fragment */
  assert_int_equal(completed(t, &r, KiB(16) + 1, DL_WDFDMA_COMPLETE_PARTIAL, &st), 1);
  assert_int_equal(st, DL_STATUS_INVALID_PARAMETER);
  assert_int_equal(dl_wdfdma_txn_state(t), DL_TXN_TRANSFER_FAILED);
  assert_int_equal(stats(e, WR)->registers_held, 0);
  assert_int_equal(r.n, 3);
  /* exact lengths add up to the whole transaction */
  assert_int_equal(dl_wdfdma_txn_release(t), DL_STATUS_SUCCESS);
  init(t, WR, mdl, va_of(mdl), KiB(40));
  assert_int_equal(dl_wdfdma_txn_execute(t), DL_STATUS_SUCCESS);
  int done = 0;
  for (int i = 0; i < 10 && !done; i++)
    done = completed(t, &r, r.len[r.n - 1], DL_WDFDMA_COMPLETE_PARTIAL, &st);
  assert_int_equal(st, DL_STATUS_SUCCESS);
  assert_int_equal(dl_wdfdma_txn_bytes_transferred(t), KiB(40));
  expect_none(k, 0);
}

/* 2.3 "...Final(n): Transferred += n and the transaction ends -> TRUE with
** STATUS_SUCCESS", with bytes left and no further EvtProgramDma. */
static void test_completed_final(void **state) {
  kmdf *k = up(state);
  static const int profiles[] = {DL_WDFDMA_PACKET, DL_WDFDMA_SCATTER_GATHER};
  for (int p = 0; p < 2; p++) {
    dl_wdfdma_enabler *e = enabler(k, profiles[p], KiB(16), 0, 0);
    rec r;
    dl_wdfdma_txn *t = txn(k, e, &r);
    dl_mdl *mdl = buffer(k, KiB(40), 0, DL_ALLOC_CONTIGUOUS);
    init(t, WR, mdl, va_of(mdl), KiB(40));
    assert_int_equal(dl_wdfdma_txn_execute(t), DL_STATUS_SUCCESS);
    uint32_t st;
    assert_int_equal(completed(t, &r, 100, DL_WDFDMA_COMPLETE_FINAL, &st), 1);
    assert_int_equal(st, DL_STATUS_SUCCESS);
    assert_int_equal(dl_wdfdma_txn_bytes_transferred(t), 100);
    assert_int_equal(r.n, 1);
    assert_int_equal(dl_wdfdma_txn_state(t), DL_TXN_TRANSFER_COMPLETED);
    assert_int_equal(stats(e, WR)->registers_held, 0);
  }
  expect_none(k, 0);
}

/* 2.3 "Release keeps the object for reuse"; 2.2 "a double Release is
** benign"; Release forgets the buffer and request, and the reused
** transaction runs a new buffer from its start. */
static void test_release_and_reuse(void **state) {
  kmdf *k = up(state);
  dl_wdfdma_enabler *e = enabler(k, DL_WDFDMA_PACKET, KiB(64), 0, 0);
  rec r;
  dl_wdfdma_txn *t = txn(k, e, &r);
  dl_mdl *mdl = buffer(k, 20000, 0, DL_ALLOC_CONTIGUOUS);
  for (int round = 0; round < 3; round++) {
    uint64_t off = 10 * (uint64_t)round, len = 5000 + 1000 * (uint64_t)round;
    init(t, round & 1 ? RD : WR, mdl, va_of(mdl) + off, len);
    assert_int_equal(dl_wdfdma_txn_execute(t), DL_STATUS_SUCCESS);
    assert_int_equal(r.len[r.n - 1], len);
    assert_int_equal(r.addr[r.n - 1] % PS, off);  /* not bounced: its own offset */
    assert_int_equal(run_to_end(t, &r), 1);
    assert_int_equal(dl_wdfdma_txn_bytes_transferred(t), len);
    assert_int_equal(dl_wdfdma_txn_release(t), DL_STATUS_SUCCESS);
    assert_int_equal(dl_wdfdma_txn_state(t), DL_TXN_RELEASED);
    assert_int_equal(dl_wdfdma_txn_release(t), DL_STATUS_SUCCESS);
    assert_null(dl_wdfdma_txn_request(t));
  }
  assert_int_equal(r.n, 3);
  assert_int_equal(stats(e, WR)->registers_held, 0);
  /* Release straight after Initialize (no Execute) is fine too */
  init(t, WR, mdl, va_of(mdl), 100);
  assert_int_equal(dl_wdfdma_txn_release(t), DL_STATUS_SUCCESS);
  expect_none(k, 0);
}

/* 2.3 "SetMaximumLength is called after Initialize and can only lower the
** limit": each call is compared with the enabler's fragment length, not with
** an earlier call (Set(8192) then Set(16384) leaves 16384); a larger value
** or 0 is ignored; Release forgets it. */
static void test_set_maximum_length(void **state) {
  kmdf *k = up(state);
  dl_wdfdma_enabler *e = enabler(k, DL_WDFDMA_PACKET, KiB(64), 0, 0);
  rec r;
  dl_wdfdma_txn *t = txn(k, e, &r);
  dl_mdl *mdl = buffer(k, 40000, 0, DL_ALLOC_CONTIGUOUS);
  static const struct { uint64_t first, second; uint64_t want[5]; } cases[] = {
    {8192, KiB(1024), {8192, 8192, 8192, 8192, 40000 - 32768}},
    {8192, 16384, {16384, 16384, 40000 - 32768, 0, 0}},
    {16384, 8192, {8192, 8192, 8192, 8192, 40000 - 32768}},
    {12000, 0, {12000, 12000, 12000, 40000 - 36000, 0}},
    {15 * PS, 0, {40000, 0, 0, 0, 0}},  /* not below the fragment length: ignored */
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    init(t, WR, mdl, va_of(mdl), 40000);
    dl_wdfdma_txn_set_maximum_length(t, cases[c].first);
    dl_wdfdma_txn_set_maximum_length(t, cases[c].second);
    int first = r.n;
    assert_int_equal(dl_wdfdma_txn_execute(t), DL_STATUS_SUCCESS);
    run_to_end(t, &r);
    int n = 0;
    while (n < 5 && cases[c].want[n]) n++;
    assert_int_equal(r.n - first, n);
    for (int i = 0; i < n; i++) assert_int_equal(r.len[first + i], cases[c].want[i]);
    assert_int_equal(dl_wdfdma_txn_release(t), DL_STATUS_SUCCESS);
  }
  /* Release forgot the limit */
  init(t, WR, mdl, va_of(mdl), 40000);
  assert_int_equal(dl_wdfdma_txn_execute(t), DL_STATUS_SUCCESS);
  assert_int_equal(r.len[r.n - 1], 40000);
  run_to_end(t, &r);
  expect_none(k, 0);
  /* outside Initialized: 0x10D/0x8 with the state */
  dl_wdfdma_txn_set_maximum_length(t, 4096);
  expect_wdf(k, 0, DL_WDF_DMA_FATAL_ERROR, dl_wdfdma_txn_id(t), DL_TXN_TRANSFER_COMPLETED);
}

/* 2.5 GetTransferInfo (Initialized only): v2 gives the worst case
** Σ SPAN_PAGES for both counts; v3 asks the HAL (one contiguous run is one
** element; a 64-bit S/G master needs no map registers). */
static void test_transfer_info(void **state) {
  kmdf *k = up(state);
  dl_mdl *mdl = buffer(k, 3 * PS, 0x10, DL_ALLOC_CONTIGUOUS);
  static const struct { int profile; uint32_t version, regs, elements; } cases[] = {
    {DL_WDFDMA_SCATTER_GATHER, 0, 4, 4},
    {DL_WDFDMA_SCATTER_GATHER, 3, 4, 1},
    {DL_WDFDMA_SCATTER_GATHER64, 0, 4, 4},
    {DL_WDFDMA_SCATTER_GATHER64, 3, 0, 1},
    {DL_WDFDMA_PACKET, 0, 4, 4},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    dl_wdfdma_enabler *e = enabler(k, cases[i].profile, KiB(64), cases[i].version, 0);
    rec r;
    dl_wdfdma_txn *t = txn(k, e, &r);
    uint32_t regs = 99, els = 99;
    init(t, WR, mdl, va_of(mdl), 3 * PS);
    dl_wdfdma_txn_transfer_info(t, &regs, &els);
    assert_int_equal(regs, cases[i].regs);
    assert_int_equal(els, cases[i].elements);
  }
  expect_none(k, 0);
  /* a scattered buffer with v3: one element per physical run */
  dl_wdfdma_enabler *e = enabler(k, DL_WDFDMA_SCATTER_GATHER64, KiB(64), 3, 0);
  rec r;
  dl_wdfdma_txn *t = txn(k, e, &r);
  uint32_t regs, els;
  dl_wdfdma_txn_transfer_info(t, &regs, &els);  /* Created: a report, zeros */
  assert_int_equal(regs, 0);
  assert_int_equal(els, 0);
  expect_wdf(k, 0, DL_WDF_DMA_FATAL_ERROR, dl_wdfdma_txn_id(t), DL_TXN_CREATED);
  dl_mdl *sc = buffer(k, 4 * PS, 0, DL_ALLOC_SCATTERED);
  const uint64_t *pfn = dl_mdl_pfns(sc);
  uint32_t runs = 1;
  for (int i = 1; i < 4; i++) runs += pfn[i] != pfn[i - 1] + 1;
  init(t, RD, sc, va_of(sc), 4 * PS);
  dl_wdfdma_txn_transfer_info(t, &regs, &els);
  assert_int_equal(els, runs);
}

/* 2.3 packet start: "with v2, only one packet transaction per device may run
** at a time; otherwise STATUS_WDF_BUSY" (-> TransferFailed: the driver must
** Release); v3 queues the second, which runs once the first ends. */
static void test_packet_busy_v2_queues_v3(void **state) {
  kmdf *k = up(state);
  for (uint32_t v = 2; v <= 3; v++) {
    dl_wdfdma_enabler *e = enabler(k, DL_WDFDMA_PACKET, KiB(16), v, 0);
    rec r1, r2;
    dl_wdfdma_txn *t1 = txn(k, e, &r1), *t2 = txn(k, e, &r2);
    dl_mdl *mdl = buffer(k, KiB(32), 0, DL_ALLOC_CONTIGUOUS);
    dl_mdl *mdl2 = buffer(k, 4096, 0, DL_ALLOC_CONTIGUOUS);  /* one buffer mapped twice: 0x1D */
    init(t1, WR, mdl, va_of(mdl), KiB(32));
    init(t2, WR, mdl2, va_of(mdl2), 4096);
    assert_int_equal(dl_wdfdma_txn_execute(t1), DL_STATUS_SUCCESS);
    if (v == 2) {
      assert_int_equal(dl_wdfdma_txn_execute(t2), DL_STATUS_WDF_BUSY);
      assert_int_equal(dl_wdfdma_txn_state(t2), DL_TXN_TRANSFER_FAILED);
      assert_int_equal(r2.n, 0);
      assert_int_equal(dl_wdfdma_txn_release(t2), DL_STATUS_SUCCESS);
    } else {
      assert_int_equal(dl_wdfdma_txn_execute(t2), DL_STATUS_SUCCESS);
      assert_int_equal(r2.n, 1);
      assert_int_equal(run_to_end(t2, &r2), 1);
    }
    assert_int_equal(run_to_end(t1, &r1), 2);
    assert_int_equal(dl_wdfdma_txn_bytes_transferred(t1), KiB(32));
    assert_int_equal(stats(e, WR)->registers_held, 0);
  }
  expect_none(k, 0);
}

/* 2.2 Initialize checks: length 0 and a VA outside the first MDL are
** invalid; packet with v2 takes no MDL chain; a failure leaves Released.
** 1.7: KMDF walks a chain by ByteCount (v3 packet). */
static void test_initialize_checks_and_chains(void **state) {
  kmdf *k = up(state);
  dl_mdl *m1 = buffer(k, 6000, 0, DL_ALLOC_CONTIGUOUS), *m2 = buffer(k, 9000, 0, DL_ALLOC_CONTIGUOUS);
  assert_int_equal(dl_mdl_set_next(m1, m2), DL_OK);
  rec r;
  dl_wdfdma_txn *v2 = txn(k, enabler(k, DL_WDFDMA_PACKET, KiB(64), 0, 0), &r);
  assert_int_equal(dl_wdfdma_txn_initialize(v2, WR, m1, va_of(m1), 15000), DL_STATUS_INVALID_PARAMETER);
  assert_int_equal(dl_wdfdma_txn_state(v2), DL_TXN_RELEASED);
  assert_int_equal(dl_wdfdma_txn_initialize(v2, WR, m2, va_of(m2), 0), DL_STATUS_INVALID_PARAMETER);
  assert_int_equal(dl_wdfdma_txn_initialize(v2, WR, m2, va_of(m2) + 9000, 1),
                   DL_STATUS_INVALID_PARAMETER);
  assert_int_equal(dl_wdfdma_txn_initialize(v2, WR, m2, va_of(m2) + 100, 9000),
                   DL_STATUS_INVALID_PARAMETER);  /* runs past the MDL */
  assert_int_equal(dl_wdfdma_txn_state(v2), DL_TXN_RELEASED);
  rec r3;
  dl_wdfdma_txn *t = txn(k, enabler(k, DL_WDFDMA_PACKET, KiB(64), 3, 0), &r3);
  assert_int_equal(dl_wdfdma_txn_initialize(t, WR, m1, va_of(m2), 100), DL_STATUS_INVALID_PARAMETER);
  init(t, WR, m1, va_of(m1) + 1000, 14000);
  assert_int_equal(dl_wdfdma_txn_execute(t), DL_STATUS_SUCCESS);
  assert_int_equal(run_to_end(t, &r3), 2);
  assert_int_equal(r3.len[0], 5000);
  assert_int_equal(r3.len[1], 9000);
  assert_int_equal(dl_wdfdma_txn_bytes_transferred(t), 14000);
  expect_none(k, 0);
}

/* 2.2 single-transfer mode (v3): TOO_MANY_TRANSFERS beyond MaximumLength,
** NOT_ENOUGH_MAP_REGISTERS beyond the adapter's; one transfer, and a
** completion with bytes left ends with TOO_MANY_TRANSFERS (2.3). */
static void test_single_transfer(void **state) {
  kmdf *k = up(state);
  dl_wdfdma_enabler *e = enabler(k, DL_WDFDMA_PACKET, KiB(128), 3, 0);
  rec r;
  dl_wdfdma_txn *t = txn(k, e, &r);
  dl_mdl *mdl = buffer(k, KiB(256), 0, DL_ALLOC_CONTIGUOUS);
  dl_wdfdma_txn_set_single_transfer(t, 1);
  assert_int_equal(dl_wdfdma_txn_initialize(t, WR, mdl, va_of(mdl), KiB(200)),
                   DL_STATUS_WDF_TOO_MANY_TRANSFERS);
  dl_wdfdma_txn_set_single_transfer(t, 1);  /* the failure released it */
  assert_int_equal(dl_wdfdma_txn_initialize(t, WR, mdl, va_of(mdl), KiB(100)),
                   DL_STATUS_WDF_NOT_ENOUGH_MAP_REGISTERS);
  dl_wdfdma_txn_set_single_transfer(t, 1);
  init(t, WR, mdl, va_of(mdl), KiB(60));
  assert_int_equal(dl_wdfdma_txn_execute(t), DL_STATUS_SUCCESS);
  assert_int_equal(r.len[0], KiB(60));
  uint32_t st;
  assert_int_equal(completed(t, &r, 1000, DL_WDFDMA_COMPLETE_PARTIAL, &st), 1);
  assert_int_equal(st, DL_STATUS_WDF_TOO_MANY_TRANSFERS);
  assert_int_equal(dl_wdfdma_txn_state(t), DL_TXN_TRANSFER_FAILED);
  assert_int_equal(r.n, 1);
  /* SetSingleTransferRequirement(FALSE) drops it: split, not refused */
  assert_int_equal(dl_wdfdma_txn_release(t), DL_STATUS_SUCCESS);
  dl_wdfdma_txn_set_single_transfer(t, 1);
  dl_wdfdma_txn_set_single_transfer(t, 0);
  init(t, WR, mdl, va_of(mdl), KiB(200));
  expect_none(k, 0);
}

/* 2.5 Cancel (v3): TRUE for a transfer still waiting for its list (->
** TransferFailed, EvtProgramDma never runs), FALSE once programmed. */
static void test_cancel(void **state) {
  kmdf *k = up_with(state, 8, 0);
  dl_wdfdma_enabler *e = enabler(k, DL_WDFDMA_SCATTER_GATHER, KiB(64), 3, 0);
  rec r1, r2;
  dl_wdfdma_txn *t1 = txn(k, e, &r1), *t2 = txn(k, e, &r2);
  dl_mdl *mdl = buffer(k, 6 * PS, 0, DL_ALLOC_CONTIGUOUS);
  init(t1, WR, mdl, va_of(mdl), 6 * PS);
  init(t2, WR, mdl, va_of(mdl), 6 * PS);
  assert_int_equal(dl_wdfdma_txn_execute(t1), DL_STATUS_SUCCESS);
  assert_int_equal(dl_wdfdma_txn_execute(t2), DL_STATUS_SUCCESS);
  assert_int_equal(dl_wdfdma_txn_cancel(t1), 0);
  assert_int_equal(dl_wdfdma_txn_cancel(t2), 1);
  assert_int_equal(dl_wdfdma_txn_state(t2), DL_TXN_TRANSFER_FAILED);
  run_to_end(t1, &r1);
  assert_int_equal(r2.n, 0);
  assert_int_equal(stats(e, WR)->registers_held, 0);
  assert_int_equal(dl_wdfdma_txn_release(t2), DL_STATUS_SUCCESS);
  expect_none(k, 0);
}

/* ==== reservations (reference 2.4; seeds 000/003) ================================= */

/* Seeds 000/003 steps 3-8 and 2.4: AllocateResources -> EvtReserveDma (at
** DISPATCH_LEVEL, state Reserved) once the registers are reserved; the
** driver initializes there; every Execute then runs EvtProgramDma at once;
** completion and Release keep the reservation over many cycles (one channel
** grant); FreeResources gives the registers back. */
static void test_reserve_cycles(void **state) {
  kmdf *k = up(state);
  dl_wdfdma_enabler *e = enabler(k, DL_WDFDMA_PACKET, KiB(64), 3, 0);
  rec r;
  dl_wdfdma_txn *t = txn(k, e, &r);
  dl_mdl *mdl = buffer(k, KiB(16), 0, DL_ALLOC_CONTIGUOUS);
  r.mdl = mdl, r.va = va_of(mdl), r.length = KiB(16), r.dir = WR;
  assert_int_equal(dl_wdfdma_txn_allocate_resources(t, WR, 5), DL_STATUS_SUCCESS);
  assert_int_equal(r.reserves, 1);
  assert_int_equal(r.reserve_state, DL_TXN_RESERVED);
  assert_int_equal(r.reserve_irql, DL_DISPATCH_LEVEL);
  assert_int_equal(r.init_status, DL_STATUS_SUCCESS);
  assert_true(dl_wdfdma_txn_reserved(t));
  assert_int_equal(stats(e, WR)->registers_held, 5);
  for (int round = 0; round < 6; round++) {
    if (round) init(t, WR, mdl, va_of(mdl), KiB(16));
    int before = r.n;
    assert_int_equal(dl_wdfdma_txn_execute(t), DL_STATUS_SUCCESS);
    assert_int_equal(r.n, before + 1);  /* at once */
    assert_int_equal(r.len[r.n - 1], KiB(16));
    assert_int_equal(run_to_end(t, &r), 1);
    assert_int_equal(dl_wdfdma_txn_bytes_transferred(t), KiB(16));
    assert_int_equal(dl_wdfdma_txn_release(t), DL_STATUS_SUCCESS);
    assert_int_equal(stats(e, WR)->registers_held, 5);
    assert_true(dl_wdfdma_txn_reserved(t));
  }
  assert_int_equal(r.reserves, 1);
  assert_int_equal(stats(e, WR)->channel_grants, 1);
  dl_wdfdma_txn_free_resources(t);
  assert_false(dl_wdfdma_txn_reserved(t));
  assert_int_equal(stats(e, WR)->registers_held, 0);
  /* FreeResources with nothing reserved (Released) does nothing */
  dl_wdfdma_txn_free_resources(t);
  expect_none(k, 0);
  assert_int_equal(dl_machine_check_leaks(k->m), 0);
}

/* 2.4 "Reserving twice -> bug check": a second AllocateResources is 0x10D/0x8
** (P2 the transaction, P3 its state) and changes nothing. */
static void test_reserve_twice(void **state) {
  kmdf *k = up(state);
  dl_wdfdma_enabler *e = enabler(k, DL_WDFDMA_PACKET, KiB(64), 3, 0);
  rec r;
  dl_wdfdma_txn *t = txn(k, e, &r);
  assert_int_equal(dl_wdfdma_txn_allocate_resources(t, WR, 3), DL_STATUS_SUCCESS);
  assert_int_equal(r.reserves, 1);
  assert_int_equal(dl_wdfdma_txn_allocate_resources(t, WR, 2), DL_STATUS_INVALID_DEVICE_STATE);
  expect_wdf(k, 0, DL_WDF_DMA_FATAL_ERROR, dl_wdfdma_txn_id(t), DL_TXN_RESERVED);
  assert_int_equal(r.reserves, 1);
  assert_int_equal(stats(e, WR)->registers_held, 3);
  dl_wdfdma_txn_free_resources(t);
  assert_int_equal(stats(e, WR)->registers_held, 0);
}

/* 2.3 Stage: "the length is capped to PAGE_SIZE*(R-1) + PAGE_SIZE - pageOffset
** when R registers are reserved". */
static void test_reserve_caps_transfers(void **state) {
  kmdf *k = up(state);
  dl_wdfdma_enabler *e = enabler(k, DL_WDFDMA_PACKET, KiB(64), 3, 0);
  rec r;
  dl_wdfdma_txn *t = txn(k, e, &r);
  dl_mdl *mdl = buffer(k, 20000, 0x100, DL_ALLOC_CONTIGUOUS);
  r.mdl = mdl, r.va = va_of(mdl), r.length = 20000, r.dir = RD;
  assert_int_equal(dl_wdfdma_txn_allocate_resources(t, RD, 2), DL_STATUS_SUCCESS);
  assert_int_equal(dl_wdfdma_txn_execute(t), DL_STATUS_SUCCESS);
  int calls = run_to_end(t, &r);
  assert_int_equal(r.len[0], 8192 - 0x100);
  uint64_t total = 0;
  for (int i = 0; i < calls; i++) {
    assert_true(r.len[i] <= 8192);
    total += r.len[i];
  }
  assert_int_equal(total, 20000);
  assert_int_equal(dl_wdfdma_txn_bytes_transferred(t), 20000);
  assert_int_equal(stats(e, RD)->registers_held, 2);
  expect_none(k, 0);
}

/* 2.4 "Only for v3 and Packet or System profiles; otherwise
** STATUS_INVALID_DEVICE_REQUEST" (no report); more registers than the
** adapter's NMR is INVALID_PARAMETER. */
static void test_reserve_only_v3_packet(void **state) {
  kmdf *k = up(state);
  rec r;
  dl_wdfdma_txn *v2 = txn(k, enabler(k, DL_WDFDMA_PACKET, KiB(64), 0, 0), &r);
  assert_int_equal(dl_wdfdma_txn_allocate_resources(v2, WR, 2), DL_STATUS_INVALID_DEVICE_REQUEST);
  dl_wdfdma_txn *sg = txn(k, enabler(k, DL_WDFDMA_SCATTER_GATHER, KiB(64), 3, 0), &r);
  assert_int_equal(dl_wdfdma_txn_allocate_resources(sg, WR, 2), DL_STATUS_INVALID_DEVICE_REQUEST);
  dl_wdfdma_txn *t = txn(k, enabler(k, DL_WDFDMA_PACKET, KiB(64), 3, 0), &r);
  assert_int_equal(dl_wdfdma_txn_allocate_resources(t, WR, 17), DL_STATUS_INVALID_PARAMETER);
  assert_int_equal(dl_wdfdma_txn_state(t), DL_TXN_CREATED);
  assert_int_equal(r.reserves, 0);
  expect_none(k, 0);
}

/* 2.4 "Required=0 -> the transaction must be Initialized, and the count is
** derived (_CalculateRequiredMapRegisters)"; "The MDL is then cleared, so the
** driver must re-initialize in EvtReserveDma": an Execute without it is
** 0x10D in state Reserved. */
static void test_reserve_required_zero(void **state) {
  kmdf *k = up(state);
  dl_wdfdma_enabler *e = enabler(k, DL_WDFDMA_PACKET, KiB(64), 3, 0);
  rec r;
  dl_wdfdma_txn *t = txn(k, e, &r);
  assert_int_equal(dl_wdfdma_txn_allocate_resources(t, WR, 0), DL_STATUS_INVALID_DEVICE_STATE);
  expect_wdf(k, 0, DL_WDF_DMA_FATAL_ERROR, dl_wdfdma_txn_id(t), DL_TXN_CREATED);
  dl_mdl *mdl = buffer(k, 3 * PS, 0x10, DL_ALLOC_CONTIGUOUS);
  init(t, WR, mdl, va_of(mdl), 3 * PS);
  assert_int_equal(dl_wdfdma_txn_allocate_resources(t, WR, 0), DL_STATUS_SUCCESS);
  assert_int_equal(r.reserves, 1);
  assert_int_equal(stats(e, WR)->registers_held, 4);  /* SPAN_PAGES(0x10, 3 pages) */
  assert_int_equal(dl_wdfdma_txn_state(t), DL_TXN_RESERVED);
  assert_int_equal(dl_wdfdma_txn_execute(t), DL_STATUS_INVALID_DEVICE_STATE);
  expect_wdf(k, 1, DL_WDF_DMA_FATAL_ERROR, dl_wdfdma_txn_id(t), DL_TXN_RESERVED);
  assert_int_equal(r.n, 0);
  init(t, WR, mdl, va_of(mdl), 3 * PS);
  assert_int_equal(dl_wdfdma_txn_execute(t), DL_STATUS_SUCCESS);
  assert_int_equal(r.n, 1);
  assert_int_equal(r.len[0], 3 * PS);
  run_to_end(t, &r);
  dl_wdfdma_txn_free_resources(t);
  assert_int_equal(stats(e, WR)->registers_held, 0);
  assert_int_equal(reports(k), 2);
}

/* 2.4 with 1.3: EvtReserveDma runs "once the map registers are reserved":
** while another reservation holds them it waits, and runs when
** FreeResources gives them back. */
static void test_reserve_waits_for_registers(void **state) {
  kmdf *k = up_with(state, 8, 0);
  dl_wdfdma_enabler *e = enabler(k, DL_WDFDMA_PACKET, KiB(64), 3, 0);
  rec r1, r2;
  dl_wdfdma_txn *t1 = txn(k, e, &r1), *t2 = txn(k, e, &r2);
  assert_int_equal(dl_wdfdma_txn_allocate_resources(t1, WR, 6), DL_STATUS_SUCCESS);
  assert_int_equal(r1.reserves, 1);
  assert_int_equal(dl_wdfdma_txn_allocate_resources(t2, WR, 6), DL_STATUS_SUCCESS);
  assert_int_equal(r2.reserves, 0);
  assert_int_equal(dl_wdfdma_txn_state(t2), DL_TXN_RESERVED);
  dl_wdfdma_txn_free_resources(t1);
  assert_int_equal(r2.reserves, 1);
  assert_int_equal(r2.reserve_irql, DL_DISPATCH_LEVEL);
  assert_int_equal(stats(e, WR)->registers_held, 6);
  dl_wdfdma_txn_free_resources(t2);
  assert_int_equal(stats(e, WR)->registers_held, 0);
  /* FreeResources while the reservation still waits: EvtReserveDma never runs
  ** (both are still Reserved: Release first, AllocateResources takes Released) */
  assert_int_equal(dl_wdfdma_txn_release(t1), DL_STATUS_SUCCESS);
  assert_int_equal(dl_wdfdma_txn_release(t2), DL_STATUS_SUCCESS);
  assert_int_equal(dl_wdfdma_txn_allocate_resources(t1, WR, 6), DL_STATUS_SUCCESS);
  assert_int_equal(dl_wdfdma_txn_allocate_resources(t2, WR, 6), DL_STATUS_SUCCESS);
  assert_int_equal(r2.reserves, 1);
  dl_wdfdma_txn_free_resources(t2);
  assert_false(dl_wdfdma_txn_reserved(t2));
  dl_wdfdma_txn_free_resources(t1);
  assert_int_equal(r2.reserves, 1);
  assert_int_equal(stats(e, WR)->registers_held, 0);
  /* ...and the transaction may reserve again */
  assert_int_equal(dl_wdfdma_txn_release(t2), DL_STATUS_SUCCESS);
  assert_int_equal(dl_wdfdma_txn_allocate_resources(t2, WR, 6), DL_STATUS_SUCCESS);
  assert_int_equal(r2.reserves, 2);
  dl_wdfdma_txn_free_resources(t2);
  assert_int_equal(stats(e, WR)->registers_held, 0);
  expect_none(k, 0);
  assert_int_equal(dl_machine_check_leaks(k->m), 0);
}

/* 2.4 "FreeResources ... is illegal in Created, Transfer or Deleted": 0x10D/0x8
** with the state as P3. */
static void test_free_resources_wrong_state(void **state) {
  kmdf *k = up(state);
  dl_wdfdma_enabler *e = enabler(k, DL_WDFDMA_PACKET, KiB(64), 3, 0);
  rec r;
  dl_wdfdma_txn *t = txn(k, e, &r);
  dl_wdfdma_txn_free_resources(t);
  expect_wdf(k, 0, DL_WDF_DMA_FATAL_ERROR, dl_wdfdma_txn_id(t), DL_TXN_CREATED);
  dl_mdl *mdl = buffer(k, 8192, 0, DL_ALLOC_CONTIGUOUS);
  r.mdl = mdl, r.va = va_of(mdl), r.length = 8192, r.dir = WR;
  assert_int_equal(dl_wdfdma_txn_allocate_resources(t, WR, 3), DL_STATUS_SUCCESS);
  assert_int_equal(dl_wdfdma_txn_execute(t), DL_STATUS_SUCCESS);
  dl_wdfdma_txn_free_resources(t);
  expect_wdf(k, 1, DL_WDF_DMA_FATAL_ERROR, dl_wdfdma_txn_id(t), DL_TXN_TRANSFER);
  assert_int_equal(stats(e, WR)->registers_held, 3);  /* nothing freed */
  run_to_end(t, &r);
  dl_wdfdma_txn_free_resources(t);  /* TransferCompleted: fine */
  assert_int_equal(stats(e, WR)->registers_held, 0);
  assert_int_equal(reports(k), 2);
}

/* 2.5 SetImmediateExecution (v3): Execute fails with INSUFFICIENT_RESOURCES
** instead of queueing (-> TransferFailed); Release clears the setting. */
static void test_immediate_execution(void **state) {
  kmdf *k = up_with(state, 8, 0);
  dl_wdfdma_enabler *e = enabler(k, DL_WDFDMA_PACKET, KiB(16), 3, 0);
  rec rh, r;
  dl_wdfdma_txn *holder = txn(k, e, &rh), *t = txn(k, e, &r);
  assert_int_equal(dl_wdfdma_txn_allocate_resources(holder, WR, 5), DL_STATUS_SUCCESS);
  dl_mdl *mdl = buffer(k, KiB(16), 0, DL_ALLOC_CONTIGUOUS);
  init(t, WR, mdl, va_of(mdl), KiB(16));
  dl_wdfdma_txn_set_immediate(t, 1);
  assert_int_equal(dl_wdfdma_txn_execute(t), DL_STATUS_INSUFFICIENT_RESOURCES);
  assert_int_equal(dl_wdfdma_txn_state(t), DL_TXN_TRANSFER_FAILED);
  assert_int_equal(dl_wdfdma_txn_release(t), DL_STATUS_SUCCESS);
  init(t, WR, mdl, va_of(mdl), KiB(16));
  assert_int_equal(dl_wdfdma_txn_execute(t), DL_STATUS_SUCCESS);
  assert_int_equal(r.n, 0);  /* queued */
  dl_wdfdma_txn_free_resources(holder);
  assert_int_equal(r.n, 1);
  run_to_end(t, &r);
  expect_none(k, 0);
}

/* 2.2 "Delete: everything is released by force", a reservation (2.4)
** included: deleting a reserved transaction gives its registers back, and
** one whose EvtReserveDma has not run yet never gets it. */
static void test_delete_reserved(void **state) {
  kmdf *k = up_with(state, 8, 0);
  dl_wdfdma_enabler *e = enabler(k, DL_WDFDMA_PACKET, KiB(64), 3, 0);
  rec r1, r2;
  dl_wdfdma_txn *t1 = txn(k, e, &r1), *t2 = txn(k, e, &r2);
  assert_int_equal(dl_wdfdma_txn_allocate_resources(t1, WR, 6), DL_STATUS_SUCCESS);
  assert_int_equal(dl_wdfdma_txn_allocate_resources(t2, WR, 6), DL_STATUS_SUCCESS);
  assert_int_equal(r2.reserves, 0);
  assert_int_equal(dl_wdf_object_delete(DL_WDF(t2)), DL_OK);  /* waiting */
  assert_int_equal(stats(e, WR)->registers_held, 6);
  assert_int_equal(dl_wdf_object_delete(DL_WDF(t1)), DL_OK);  /* holding */
  assert_int_equal(r2.reserves, 0);
  assert_int_equal(stats(e, WR)->registers_held, 0);
  expect_none(k, 0);
  assert_int_equal(dl_machine_check_leaks(k->m), 0);
}

/* ==== state-machine misuse (reference 2.2) ======================================== */

/* 2.2 "A call in the wrong state raises 0x10D with P1=0x8": P2 the
** transaction, P3 its state (FxVerifierBugCheck(WDF_DMA_FATAL_ERROR, handle,
** m_State)); DmaCompleted* in the wrong state returns TRUE. */
static void test_wrong_state_reports(void **state) {
  kmdf *k = up(state);
  dl_wdfdma_enabler *e = enabler(k, DL_WDFDMA_PACKET, KiB(64), 3, 0);
  rec r;
  dl_wdfdma_txn *t = txn(k, e, &r);
  uint64_t id = dl_wdfdma_txn_id(t);
  dl_mdl *mdl = buffer(k, 8192, 0, DL_ALLOC_CONTIGUOUS);
  uint32_t st, a, b;
  uint64_t n = 0;
  /* Created */
  assert_int_equal(dl_wdfdma_txn_execute(t), DL_STATUS_INVALID_DEVICE_STATE);
  expect_wdf(k, n++, DL_WDF_DMA_FATAL_ERROR, id, DL_TXN_CREATED);
  assert_int_equal(dl_wdfdma_txn_completed(t, 0, DL_WDFDMA_COMPLETE, &st), 1);
  assert_int_equal(st, DL_STATUS_INVALID_DEVICE_STATE);
  expect_wdf(k, n++, DL_WDF_DMA_FATAL_ERROR, id, DL_TXN_CREATED);
  dl_wdfdma_txn_transfer_info(t, &a, &b);
  expect_wdf(k, n++, DL_WDF_DMA_FATAL_ERROR, id, DL_TXN_CREATED);
  assert_int_equal(dl_wdfdma_txn_cancel(t), 0);
  expect_wdf(k, n++, DL_WDF_DMA_FATAL_ERROR, id, DL_TXN_CREATED);
  /* Initialized */
  init(t, WR, mdl, va_of(mdl), 8192);
  assert_int_equal(dl_wdfdma_txn_initialize(t, WR, mdl, va_of(mdl), 8192),
                   DL_STATUS_INVALID_DEVICE_STATE);
  expect_wdf(k, n++, DL_WDF_DMA_FATAL_ERROR, id, DL_TXN_INITIALIZED);
  assert_int_equal(dl_wdfdma_txn_state(t), DL_TXN_INITIALIZED);
  assert_int_equal(dl_wdfdma_txn_completed(t, 1, DL_WDFDMA_COMPLETE_PARTIAL, &st), 1);
  assert_int_equal(st, DL_STATUS_INVALID_DEVICE_STATE);
  const dl_report *rep = expect_wdf(k, n++, DL_WDF_DMA_FATAL_ERROR, id, DL_TXN_INITIALIZED);
  char want[96];
  snprintf(want, sizeof want, "WdfDmaTransactionDmaCompletedWithLength: WDFDMATRANSACTION#%llu "
           "is in state Initialized", (unsigned long long)id);
  assert_memory_equal(rep->message, want, strlen(want));
  /* Transfer */
  assert_int_equal(dl_wdfdma_txn_execute(t), DL_STATUS_SUCCESS);
  dl_wdfdma_txn_set_immediate(t, 1);
  expect_wdf(k, n++, DL_WDF_DMA_FATAL_ERROR, id, DL_TXN_TRANSFER);
  dl_wdfdma_txn_set_single_transfer(t, 1);
  expect_wdf(k, n++, DL_WDF_DMA_FATAL_ERROR, id, DL_TXN_TRANSFER);
  assert_int_equal(run_to_end(t, &r), 1);
  /* TransferCompleted */
  assert_int_equal(dl_wdfdma_txn_completed(t, 0, DL_WDFDMA_COMPLETE_FINAL, &st), 1);
  assert_int_equal(st, DL_STATUS_INVALID_DEVICE_STATE);
  expect_wdf(k, n++, DL_WDF_DMA_FATAL_ERROR, id, DL_TXN_TRANSFER_COMPLETED);
  assert_int_equal(dl_wdfdma_txn_execute(t), DL_STATUS_INVALID_DEVICE_STATE);
  expect_wdf(k, n++, DL_WDF_DMA_FATAL_ERROR, id, DL_TXN_TRANSFER_COMPLETED);
  assert_int_equal(dl_wdfdma_txn_state(t), DL_TXN_TRANSFER_COMPLETED);
  assert_int_equal(r.n, 1);
  assert_string_equal(dl_wdfdma_state_name(DL_TXN_TRANSFER_COMPLETED), "TransferCompleted");
}

/* 2.2 Execute is allowed in Initialized only: a second Execute during the
** transfer is 0x10D/0x8 (P3 Transfer), programs nothing, and the transfer
** goes on. */
static void test_execute_twice(void **state) {
  kmdf *k = up(state);
  static const int profiles[] = {DL_WDFDMA_PACKET, DL_WDFDMA_SCATTER_GATHER};
  for (int p = 0; p < 2; p++) {
    dl_wdfdma_enabler *e = enabler(k, profiles[p], KiB(16), 0, 0);
    rec r;
    dl_wdfdma_txn *t = txn(k, e, &r);
    dl_mdl *mdl = buffer(k, KiB(20), 0, DL_ALLOC_CONTIGUOUS);
    init(t, WR, mdl, va_of(mdl), KiB(20));
    assert_int_equal(dl_wdfdma_txn_execute(t), DL_STATUS_SUCCESS);
    uint64_t before = reports(k);
    assert_int_equal(dl_wdfdma_txn_execute(t), DL_STATUS_INVALID_DEVICE_STATE);
    expect_wdf(k, before, DL_WDF_DMA_FATAL_ERROR, dl_wdfdma_txn_id(t), DL_TXN_TRANSFER);
    assert_int_equal(r.n, 1);
    assert_int_equal(dl_wdfdma_txn_state(t), DL_TXN_TRANSFER);
    assert_int_equal(run_to_end(t, &r), 2);
    assert_int_equal(dl_wdfdma_txn_bytes_transferred(t), KiB(20));
  }
}

/* 2.2 Release: "anything except Transfer": in Transfer it is 0x10D/0x8, the
** transaction keeps its registers and finishes normally. */
static void test_release_in_transfer(void **state) {
  kmdf *k = up(state);
  dl_wdfdma_enabler *e = enabler(k, DL_WDFDMA_PACKET, KiB(64), 0, 0);
  rec r;
  dl_wdfdma_txn *t = txn(k, e, &r);
  dl_mdl *mdl = buffer(k, 8192, 0, DL_ALLOC_CONTIGUOUS);
  init(t, WR, mdl, va_of(mdl), 8192);
  assert_int_equal(dl_wdfdma_txn_execute(t), DL_STATUS_SUCCESS);
  uint32_t held = stats(e, WR)->registers_held;
  assert_true(held > 0);
  assert_int_equal(dl_wdfdma_txn_release(t), DL_STATUS_INVALID_DEVICE_STATE);
  expect_wdf(k, 0, DL_WDF_DMA_FATAL_ERROR, dl_wdfdma_txn_id(t), DL_TXN_TRANSFER);
  assert_int_equal(dl_wdfdma_txn_state(t), DL_TXN_TRANSFER);
  assert_int_equal(stats(e, WR)->registers_held, held);
  assert_int_equal(run_to_end(t, &r), 1);
  assert_int_equal(dl_wdfdma_txn_release(t), DL_STATUS_SUCCESS);
  assert_int_equal(reports(k), 1);
}

/* 2.2 Delete: "a Dispose in Transfer bug-checks when verifier is on;
** everything is released by force": 0x10D/0x8 (P3 Transfer), the registers
** back, the object gone, no leak. */
static void test_delete_in_transfer(void **state) {
  kmdf *k = up(state);
  dl_wdfdma_enabler *e = enabler(k, DL_WDFDMA_PACKET, KiB(64), 0, 0);
  rec r;
  dl_wdfdma_txn *t = txn(k, e, &r);
  uint64_t id = dl_wdfdma_txn_id(t);
  dl_mdl *mdl = buffer(k, 8192, 0, DL_ALLOC_CONTIGUOUS);
  init(t, WR, mdl, va_of(mdl), 8192);
  assert_int_equal(dl_wdfdma_txn_execute(t), DL_STATUS_SUCCESS);
  assert_int_equal(dl_wdf_object_delete(DL_WDF(t)), DL_OK);
  expect_wdf(k, 0, DL_WDF_DMA_FATAL_ERROR, id, DL_TXN_TRANSFER);
  assert_null(dl_machine_find(k->m, id));
  assert_int_equal(stats(e, WR)->registers_held, 0);
  /* a v2 packet transaction no longer runs: the next one may */
  rec r2;
  dl_wdfdma_txn *t2 = txn(k, e, &r2);
  init(t2, WR, mdl, va_of(mdl), 8192);
  assert_int_equal(dl_wdfdma_txn_execute(t2), DL_STATUS_SUCCESS);
  run_to_end(t2, &r2);
  assert_int_equal(dl_machine_check_leaks(k->m), 0);
  assert_int_equal(reports(k), 1);
}

/* 2.2 Delete of a transaction still waiting for its list (scatter/gather,
** registers short): reported, and the list granted later is put unseen
** (EvtProgramDma never runs for it). */
static void test_delete_while_waiting(void **state) {
  kmdf *k = up_with(state, 8, 0);
  dl_wdfdma_enabler *e = enabler(k, DL_WDFDMA_SCATTER_GATHER, KiB(64), 0, 0);
  rec r1, r2;
  dl_wdfdma_txn *t1 = txn(k, e, &r1), *t2 = txn(k, e, &r2);
  dl_mdl *mdl = buffer(k, 6 * PS, 0, DL_ALLOC_CONTIGUOUS);
  init(t1, WR, mdl, va_of(mdl), 6 * PS);
  init(t2, WR, mdl, va_of(mdl), 6 * PS);
  assert_int_equal(dl_wdfdma_txn_execute(t1), DL_STATUS_SUCCESS);
  assert_int_equal(dl_wdfdma_txn_execute(t2), DL_STATUS_SUCCESS);
  assert_int_equal(r2.n, 0);
  uint64_t id2 = dl_wdfdma_txn_id(t2);
  assert_int_equal(dl_wdf_object_delete(DL_WDF(t2)), DL_OK);
  expect_wdf(k, 0, DL_WDF_DMA_FATAL_ERROR, id2, DL_TXN_TRANSFER);
  assert_null(dl_machine_find(k->m, id2));
  run_to_end(t1, &r1);
  assert_int_equal(r2.n, 0);
  assert_int_equal(stats(e, WR)->registers_held, 0);
  assert_int_equal(dl_machine_check_leaks(k->m), 0);
  assert_int_equal(reports(k), 1);
}

/* ==== the object tree and common buffers (reference 2.1, 1.6) ===================== */

/* Deleting an enabler deletes its transactions and common buffers (their
** EvtCleanupCallback before any EvtDestroyCallback, the newest child first),
** also a transaction ParentObject put elsewhere; its adapters are put. */
static void test_enabler_delete_takes_children(void **state) {
  kmdf *k = up(state);
  dl_wdfdma_enabler *e = enabler(k, DL_WDFDMA_PACKET, KiB(64), 0, 0);
  dl_adapter *a = dl_wdfdma_enabler_adapter(e, WR);
  rec r1, r2, r3;
  dl_wdfdma_txn *t1 = txn(k, e, &r1);
  dl_wdfdma_common *cb;
  assert_int_equal(dl_wdfdma_common_create(e, 4096, 0, &cb), DL_STATUS_SUCCESS);
  dl_wdfdma_txn *t2 = txn(k, e, &r2);
  dl_wdfdma_txn *moved = txn(k, e, &r3);
  assert_int_equal(dl_wdf_object_set_parent(DL_WDF(moved), DL_WDF(k->d)), DL_OK);
  assert_ptr_equal(dl_wdf_object_parent(DL_WDF(t1)), DL_WDF(e));
  assert_ptr_equal(dl_wdf_object_parent(DL_WDF(cb)), DL_WDF(e));
  assert_string_equal(dl_wdf_object_type_name(DL_WDF(cb)), "WDFCOMMONBUFFER");
  assert_string_equal(dl_wdf_object_type_name(DL_WDF(t1)), "WDFDMATRANSACTION");
  assert_string_equal(dl_wdf_object_type_name(DL_WDF(e)), "WDFDMAENABLER");
  dl_wdf_object *objs[] = {DL_WDF(t1), DL_WDF(cb), DL_WDF(t2), DL_WDF(moved), DL_WDF(e)};
  uint64_t ids[5];
  for (int i = 0; i < 5; i++) {
    ids[i] = objs[i]->id;
    dl_wdf_object_set_callbacks(objs[i], on_cleanup, on_destroy, NULL);
  }
  dl_mdl *mdl = buffer(k, 8192, 0, DL_ALLOC_CONTIGUOUS);
  init(t1, WR, mdl, va_of(mdl), 8192);  /* Initialized holds nothing yet */
  assert_int_equal(dl_wdf_object_delete(DL_WDF(e)), DL_OK);
  for (int i = 0; i < 5; i++) assert_null(dl_machine_find(k->m, ids[i]));
  /* the enabler's tree: every cleanup (t2, cb, t1: newest first, then the
  ** enabler) before any destroy, in the same order; `moved`, outside the
  ** tree, is taken along with its own cleanup before its destroy */
  char want[8][32], moved_cleanup[32], moved_destroy[32];
  static const int order[] = {2, 1, 0, 4};
  for (int i = 0; i < 4; i++) {
    snprintf(want[i], 32, "cleanup %llu", (unsigned long long)ids[order[i]]);
    snprintf(want[4 + i], 32, "destroy %llu", (unsigned long long)ids[order[i]]);
  }
  snprintf(moved_cleanup, 32, "cleanup %llu", (unsigned long long)ids[3]);
  snprintf(moved_destroy, 32, "destroy %llu", (unsigned long long)ids[3]);
  assert_int_equal(tree_log.n, 10);
  int n = 0, at_cleanup = -1, at_destroy = -1;
  for (int i = 0; i < tree_log.n; i++) {
    if (strcmp(tree_log.seen[i], moved_cleanup) == 0) at_cleanup = i;
    else if (strcmp(tree_log.seen[i], moved_destroy) == 0) at_destroy = i;
    else assert_string_equal(tree_log.seen[i], want[n++]);
  }
  assert_int_equal(n, 8);
  assert_true(at_cleanup >= 0 && at_cleanup < at_destroy);
  assert_true(dl_adapter_is_released(a));
  expect_none(k, 0);
  assert_int_equal(dl_machine_check_leaks(k->m), 0);
}

/* Deleting an enabler while one of its transactions is in Transfer: that
** transaction's delete is the one report (2.2), everything is released by
** force and the adapter put without an outstanding-resource report. */
static void test_enabler_delete_during_transfer(void **state) {
  kmdf *k = up(state);
  dl_wdfdma_enabler *e = enabler(k, DL_WDFDMA_SCATTER_GATHER, KiB(64), 0, 0);
  dl_adapter *a = dl_wdfdma_enabler_adapter(e, WR);
  rec r;
  dl_wdfdma_txn *t = txn(k, e, &r);
  uint64_t id = dl_wdfdma_txn_id(t);
  dl_wdfdma_common *cb;
  assert_int_equal(dl_wdfdma_common_create(e, 8192, 0, &cb), DL_STATUS_SUCCESS);
  dl_mdl *mdl = buffer(k, KiB(20), 0, DL_ALLOC_CONTIGUOUS);
  init(t, WR, mdl, va_of(mdl), KiB(20));
  assert_int_equal(dl_wdfdma_txn_execute(t), DL_STATUS_SUCCESS);
  assert_true(dl_adapter_get_stats(a)->registers_held > 0);
  assert_int_equal(dl_wdf_object_delete(DL_WDF(e)), DL_OK);
  expect_wdf(k, 0, DL_WDF_DMA_FATAL_ERROR, id, DL_TXN_TRANSFER);
  assert_true(dl_adapter_is_released(a));
  assert_int_equal(dl_adapter_get_stats(a)->registers_held, 0);
  assert_int_equal(dl_machine_check_leaks(k->m), 0);
  assert_int_equal(reports(k), 1);
}

/* 1.6 common buffers: at least the length asked, page-aligned logical
** address by default, the device sees at the logical address what the CPU
** wrote at the VA; "if the alignment mask is greater than PAGE_SIZE-1, it
** allocates Length+align, aligns the logical address, and shifts the VA by
** the same amount"; length 0 is invalid; deleting one frees it. */
static void test_common_buffers(void **state) {
  kmdf *k = up(state);
  dl_wdfdma_enabler *e = enabler(k, DL_WDFDMA_SCATTER_GATHER, KiB(64), 0, 0);
  dl_wdfdma_common *cb;
  assert_int_equal(dl_wdfdma_common_create(e, 6000, 0, &cb), DL_STATUS_SUCCESS);
  assert_int_equal(dl_wdfdma_common_length(cb), 6000);
  assert_int_equal(dl_wdfdma_common_logical(cb) % PS, 0);
  assert_true(dl_wdfdma_common_logical(cb) + 6000 <= 0x100000000u);  /* 32-bit device */
  char got[8] = {0};
  assert_int_equal(dl_machine_write_va(k->m, dl_wdfdma_common_va(cb) + 5990, "hello", 5), DL_OK);
  assert_int_equal(dl_dma_read(k->m, "test", dl_wdfdma_common_logical(cb) + 5990, got, 5), DL_OK);
  assert_string_equal(got, "hello");
  for (int i = 0; i < 4; i++) {
    dl_wdfdma_common *al, *filler;
    assert_int_equal(dl_wdfdma_common_create(e, 100, 0x3FFF, &al), DL_STATUS_SUCCESS);
    uint64_t logical = dl_wdfdma_common_logical(al);
    assert_int_equal(logical % 0x4000, 0);
    assert_int_equal(dl_wdfdma_common_length(al), 100);
    memset(got, 0, sizeof got);
    assert_int_equal(dl_machine_write_va(k->m, dl_wdfdma_common_va(al) + 99, "x", 1), DL_OK);
    assert_int_equal(dl_dma_read(k->m, "test", logical + 99, got, 1), DL_OK);
    assert_string_equal(got, "x");
    assert_int_equal(dl_wdfdma_common_create(e, 4096, 0, &filler), DL_STATUS_SUCCESS);
  }
  dl_wdfdma_common *none = (dl_wdfdma_common *)&the_rig;
  assert_int_equal(dl_wdfdma_common_create(e, 0, 0, &none), DL_STATUS_INVALID_PARAMETER);
  assert_null(none);
  uint64_t id = DL_WDF(cb)->id;
  assert_int_equal(dl_wdf_object_delete(DL_WDF(cb)), DL_OK);
  assert_null(dl_machine_find(k->m, id));
  assert_int_equal(dl_wdf_object_delete(DL_WDF(e)), DL_OK);
  expect_none(k, 0);
  assert_int_equal(dl_machine_check_leaks(k->m), 0);
}

int main(void) {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
  const struct CMUnitTest tests[] = {
    T(test_enabler_description_per_profile),
    T(test_enabler_version_and_width_overrides),
    T(test_enabler_bad_configs),
    T(test_enabler_fragment_length),
    T(test_enabler_follows_adapter_registers),
    T(test_enabler_duplex),
    T(test_enabler_max_sg_elements),
    T(test_enabler_power_callbacks),
    T(test_packet_splits_inside_completed),
    T(test_packet_register_count),
    T(test_completed_inside_program),
    T(test_sg_program_elements),
    T(test_sg_deferred_while_registers_short),
    T(test_completed_with_length),
    T(test_completed_final),
    T(test_release_and_reuse),
    T(test_set_maximum_length),
    T(test_transfer_info),
    T(test_packet_busy_v2_queues_v3),
    T(test_initialize_checks_and_chains),
    T(test_single_transfer),
    T(test_cancel),
    T(test_reserve_cycles),
    T(test_reserve_twice),
    T(test_reserve_caps_transfers),
    T(test_reserve_only_v3_packet),
    T(test_reserve_required_zero),
    T(test_reserve_waits_for_registers),
    T(test_free_resources_wrong_state),
    T(test_immediate_execution),
    T(test_delete_reserved),
    T(test_wrong_state_reports),
    T(test_execute_twice),
    T(test_release_in_transfer),
    T(test_delete_in_transfer),
    T(test_delete_while_waiting),
    T(test_enabler_delete_takes_children),
    T(test_enabler_delete_during_transfer),
    T(test_common_buffers),
  };
#undef T
  return cmocka_run_group_tests(tests, NULL, NULL);
}
