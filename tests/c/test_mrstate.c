/*
** test_mrstate.c: the MapRegisterBase's state table (core/hal/
** dl_mrstate.c, reference 1.4-1.6 and the Driver Verifier checks of 1.7):
** every map-register call on a base in every state, through the calls a
** driver makes. A refused call is one report 0xE6 with the table's P1 and
** changes nothing (the base's state, the free registers, the live
** mappings, the adapter's counters); a forced one (0x10) is one report and
** frees; an argument error is no report and changes nothing.
**
** The rig: a version-3 packet adapter (it has both the v1 calls and the
** ...Ex ones), a two-page buffer below 4 GiB; the row's base maps its
** first page, the calls under test use the second where they map.
*/
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "rig.h"
#include "hal/dl_chanstate.h"
#include "hal/dl_dmaex.h"
#include "hal/dl_mapregs.h"
#include "hal/dl_mrstate.h"
#include "machine/dl_dmamap.h"

enum { NREGS = 2 };

typedef struct cell_rig {
  rig r;
  dl_adapter *a;
  dl_dmactx *c;
  dl_mdl *mdl;
  uint64_t va, base;
  dl_sglist *sg;
} cell_rig;

static cell_rig G;

static int keep(void *ctx, dl_device *dev, uint64_t base) {
  (void)dev;
  ((cell_rig *)ctx)->base = base;
  return DL_KEEP_OBJECT;
}

static void list_control(void *ctx, dl_device *dev, dl_sglist *sg) {
  (void)dev;
  ((cell_rig *)ctx)->sg = sg;
}

static void up(cell_rig *g) {
  memset(g, 0, sizeof *g);
  assert_int_equal(rig_open(&g->r, NULL), 0);
  dl_device_description d = rig_desc(0, 0, 0, 8 * PS);
  d.version = 3;
  d.address_width = 32;
  g->a = rig_adapter(&g->r, d, NULL);
  uint64_t p = rig_pages_at(&g->r, 2, 0);
  dl_region *reg = rig_map(&g->r, (uint64_t[]){p, p + 1}, 0, 2 * PS);
  g->mdl = rig_mdl(&g->r, reg);
  g->va = reg->va;
  assert_int_equal(dl_dmactx_new(g->a, &g->c), DL_OK);
  assert_int_equal(dl_dmaex_initialize_context(g->a, g->c), DL_STATUS_SUCCESS);
  dl_machine_set_irql(g->r.m, DL_DISPATCH_LEVEL);  /* where the calls are made */
}

static void down(cell_rig *g) {
  dl_machine_set_irql(g->r.m, DL_PASSIVE_LEVEL);
  rig_close(&g->r);
}

/* The channel and NREGS registers, kept (KeepObject): v1 or under the context. */
static void grant(cell_rig *g, int ex) {
  if (ex)
    assert_int_equal(dl_dmaex_allocate_channel(g->a, g->r.dev, g->c, NREGS, DL_DMA_SYNCHRONOUS_CALLBACK,
                                               NULL, NULL, &g->base), DL_STATUS_SUCCESS);
  else
    assert_int_equal(dl_adapter_allocate_channel(g->a, g->r.dev, NREGS, keep, g), DL_STATUS_SUCCESS);
  assert_true(g->base != 0);
}

/* Maps the buffer's first page under the base (MapTransfer or MapTransferEx). */
static void map_first(cell_rig *g, int ex) {
  uint32_t len = PS;
  if (ex) {
    const dl_sg_element *el;
    uint32_t n;
    assert_int_equal(dl_dmaex_map_transfer(g->a, g->mdl, g->base, 0, 0, &len, 1, DL_SGLIST_SIZE(4),
                                           NULL, NULL, &el, &n), DL_STATUS_SUCCESS);
  } else {
    uint64_t logical;
    assert_int_equal(dl_adapter_map_transfer(g->a, g->mdl, g->base, g->va, &len, 1, &logical), DL_OK);
  }
  assert_int_equal(len, PS);
}

/* Puts a base of a in `row` (g->base). For the channel's column the base is
** the channel's: "unknown" is a kept channel whose registers
** FreeMapRegisters freed (it holds none any more). */
static void reach(cell_rig *g, int row, int call) {
  switch (row) {
    case DL_MRROW_UNKNOWN:
      if (call != DL_MRCALL_FREE_CHANNEL) {
        g->base = 0x1234;  /* made up */
        break;
      }
      /* fallthrough */
    case DL_MRROW_FREED:
      grant(g, 0);
      assert_int_equal(dl_adapter_free_map_registers(g->a, g->base, NREGS), DL_OK);
      if (row == DL_MRROW_UNKNOWN) g->base = 0;  /* what the channel holds now */
      break;
    case DL_MRROW_SGLIST:
      assert_int_equal(dl_adapter_get_sglist(g->a, g->r.dev, g->mdl, g->va, PS, list_control, g, 1, 0),
                       DL_STATUS_SUCCESS);
      assert_non_null(g->sg);
      g->base = dl_sglist_map_register_base(g->sg);
      break;
    case DL_MRROW_GRANTED: grant(g, 0); break;
    case DL_MRROW_MAPPED: grant(g, 0); map_first(g, 0); break;
    case DL_MRROW_GRANTED_EX: grant(g, 1); break;
    case DL_MRROW_MAPPED_EX: grant(g, 1); map_first(g, 1); break;
    default: fail();
  }
  assert_int_equal(dl_adapter_base_row(g->a, g->base), row);
}

/* 1 if the call answers (FreeMapRegisters and the channel's frees do not). */
static int answers(int call) { return call != DL_MRCALL_FREE && call != DL_MRCALL_FREE_CHANNEL; }

/* The call under test; its status (DL_OK / NTSTATUS success: 0). */
static int make_call(cell_rig *g, int call) {
  uint32_t len = PS, n;
  uint64_t logical;
  const dl_sg_element *el;
  switch (call) {
    case DL_MRCALL_MAP: return dl_adapter_map_transfer(g->a, g->mdl, g->base, g->va + PS, &len, 1, &logical);
    case DL_MRCALL_FLUSH: return !dl_adapter_flush(g->a, g->mdl, g->base, g->va, PS, 1);
    case DL_MRCALL_MAP_EX:
      return (int)dl_dmaex_map_transfer(g->a, g->mdl, g->base, PS, 0, &len, 1, DL_SGLIST_SIZE(4), NULL,
                                        NULL, &el, &n);
    case DL_MRCALL_FLUSH_EX: return (int)dl_dmaex_flush(g->a, g->mdl, g->base, 0, PS, 1);
    case DL_MRCALL_FREE: return dl_adapter_free_map_registers(g->a, g->base, NREGS);
    case DL_MRCALL_FREE_CHANNEL:
      if (dl_adapter_channel_row(g->a) != DL_CHROW_KEPT) return dl_dmaex_free_adapter_object(g->a, DL_DEALLOCATE_OBJECT);
      dl_adapter_free_channel(g->a);
      return 0;
    default: fail();
  }
  return -1;
}

/* What a refused call must leave as it was. */
typedef struct snapshot {
  int row;
  uint32_t nfree;
  size_t mappings;
  dl_adapter_stats stats;
} snapshot;

static snapshot snap(cell_rig *g) {
  return (snapshot){ dl_adapter_base_row(g->a, g->base), dl_mapregs_of(g->r.m)->nfree,
                     dl_dmamap_count(dl_machine_dmamap(g->r.m)), *dl_adapter_get_stats(g->a) };
}

#define A {DL_MR_ALLOW, 0}
#define INV {DL_MR_INVALID, 0}
#define R(p1) {DL_MR_REFUSE, p1}
#define F(p1) {DL_MR_FORCE, p1}

/* Reference 1.4-1.7, written out apart from the engine's table. */
static const dl_mr_cell expected[DL_MRROW_COUNT][DL_MRCALL_COUNT] = {
  /*                 Map  Flush     MapEx     FlushEx   Free      FreeChannel */
  /* unknown    */ { INV, R(0x20),  INV,      R(0x20),  R(0x05),  A },
  /* freed      */ { INV, R(0x20),  INV,      R(0x20),  R(0x05),  A },
  /* S/G list   */ { A,   R(0x20),  R(0x00),  R(0x20),  R(0x05),  INV },
  /* granted    */ { A,   R(0x20),  R(0x00),  R(0x20),  A,        A },
  /* mapped     */ { A,   A,        R(0x00),  R(0x20),  F(0x10),  F(0x10) },
  /* granted Ex */ { A,   R(0x20),  A,        R(0x20),  A,        A },
  /* mapped Ex  */ { A,   A,        R(0x0D),  A,        F(0x10),  F(0x10) },
};

/* A channel never holds a list's registers, nor a base FreeMapRegisters
** freed (it forgets it: the "unknown" row): these cells have no call. */
static int reachable(int row, int call) {
  return call != DL_MRCALL_FREE_CHANNEL || (row != DL_MRROW_FREED && row != DL_MRROW_SGLIST);
}

static void check_cell(cell_rig *g, int row, int call) {
  dl_mr_cell want = expected[row][call], got = dl_mr_cell_at(row, call);
  if (got.kind != want.kind || got.p1 != want.p1)
    fail_msg("%s on a base %s: table has %d/0x%02x, want %d/0x%02x", dl_mr_call_name(call),
             dl_mr_row_name(row), got.kind, got.p1, want.kind, want.p1);
  if (!reachable(row, call)) return;
  up(g);
  reach(g, row, call);
  snapshot before = snap(g);
  uint64_t reports = rig_reports(&g->r);
  int rc = make_call(g, call);
  uint64_t made = rig_reports(&g->r) - reports;
  const char *what = dl_mr_call_name(call), *where = dl_mr_row_name(row);
  if (want.kind == DL_MR_ALLOW || want.kind == DL_MR_INVALID) {
    if (made) fail_msg("%s on a base %s: reported %s", what, where, dl_verifier_at(g->r.m, (size_t)reports)->message);
    if (answers(call) && (rc == 0) != (want.kind == DL_MR_ALLOW)) fail_msg("%s on a base %s: returned %d", what, where, rc);
  } else {
    if (made != 1) fail_msg("%s on a base %s: %llu reports, want 1", what, where, (unsigned long long)made);
    const dl_report *rep = dl_verifier_at(g->r.m, (size_t)reports);
    assert_int_equal(rep->bugcheck, DL_BUGCHECK_DMA);
    assert_int_equal(rep->p1, want.p1);
    assert_non_null(strstr(rep->message, call == DL_MRCALL_FREE_CHANNEL ? "Free" : what));
  }
  snapshot after = snap(g);
  if (want.kind == DL_MR_REFUSE || want.kind == DL_MR_INVALID) {
    if (answers(call)) assert_true(rc != 0);
    assert_int_equal(after.row, before.row);
    assert_int_equal(after.nfree, before.nfree);
    assert_int_equal(after.mappings, before.mappings);
    assert_memory_equal(&after.stats, &before.stats, sizeof after.stats);
  } else if (want.kind == DL_MR_FORCE) {  /* reported, and the registers freed with their mapping */
    assert_int_equal(after.row, DL_MRROW_FREED);
    assert_int_equal(after.nfree, dl_mapregs_of(g->r.m)->count);
    assert_int_equal(after.mappings, 0);
    assert_int_equal(rig_last(&g->r)->p2, 1);  /* one register's worth still mapped */
  }
  down(g);
}

/* Every cell on a fresh machine. */
static void test_every_cell(void **state) {
  (void)state;
  for (int row = 0; row < DL_MRROW_COUNT; row++)
    for (int call = 0; call < DL_MRCALL_COUNT; call++) check_cell(&G, row, call);
}

/* The reports keep the parameters Driver Verifier gives them: 0x05 with
** the count and (a base naming nothing) the base; 0x20 with the base, the
** CurrentVa and the MDL; 0x0D with the bytes still mapped. */
static void test_report_parameters(void **state) {
  (void)state;
  cell_rig *g = &G;
  up(g);
  uint64_t before = rig_reports(&g->r);
  assert_int_equal(dl_adapter_free_map_registers(g->a, 0x1234, 3), DL_OK);
  const dl_report *rep = rig_expect(&g->r, before, DL_VF_DOUBLE_FREE_MAP_REGISTERS);
  assert_int_equal(rep->p2, 3);
  assert_int_equal(rep->p3, 0x1234);
  grant(g, 0);
  assert_int_equal(dl_adapter_flush(g->a, g->mdl, g->base, g->va + 8, PS, 1), 0);
  rep = rig_expect(&g->r, before + 1, DL_VF_FLUSH_UNMAPPED_REGISTER);
  assert_int_equal(rep->p2, g->base);
  assert_int_equal(rep->p3, g->va + 8);
  assert_int_equal(rep->p4, dl_mdl_id(g->mdl));
  dl_adapter_free_channel(g->a);
  g->base = 0;
  grant(g, 1);
  map_first(g, 1);
  assert_int_equal((uint32_t)make_call(g, DL_MRCALL_MAP_EX), DL_STATUS_INVALID_PARAMETER);
  rep = rig_expect(&g->r, before + 2, DL_VF_NOT_FLUSHED);
  assert_int_equal(rep->p3, PS);
  /* flushing elsewhere than what was mapped is "nothing mapped there" */
  assert_int_equal(dl_dmaex_flush(g->a, g->mdl, g->base, 8, PS, 1), DL_STATUS_INVALID_PARAMETER);
  rig_expect(&g->r, before + 3, DL_VF_FLUSH_UNMAPPED_REGISTER);
  assert_int_equal(dl_adapter_base_row(g->a, g->base), DL_MRROW_MAPPED_EX);
  down(g);
}

/* FreeMapRegisters with another count than allocated, on registers still
** mapped: the count's 0x05 (an argument's rule) first, then the state's
** 0x10, and the registers are freed. */
static void test_free_count_then_mapped(void **state) {
  (void)state;
  cell_rig *g = &G;
  up(g);
  grant(g, 0);
  map_first(g, 0);
  uint64_t before = rig_reports(&g->r);
  assert_int_equal(dl_adapter_free_map_registers(g->a, g->base, NREGS + 1), DL_OK);
  assert_int_equal(rig_reports(&g->r), before + 2);
  const dl_report *rep = dl_verifier_at(g->r.m, (size_t)before);
  assert_int_equal(rep->p1, DL_VF_DOUBLE_FREE_MAP_REGISTERS);
  assert_int_equal(rep->p2, 1);
  assert_int_equal(dl_verifier_at(g->r.m, (size_t)before + 1)->p1, DL_VF_FREED_WHILE_MAPPED);
  assert_int_equal(dl_adapter_base_row(g->a, g->base), DL_MRROW_FREED);
  down(g);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_every_cell),
    cmocka_unit_test(test_report_parameters),
    cmocka_unit_test(test_free_count_then_mapped),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
