/*
** test_sgstate.c: the SCATTER_GATHER_LIST's state table (core/hal/
** dl_sgstate.c, reference 1.5 and the Driver Verifier checks of 1.7):
** PutScatterGatherList and reading the elements on a list in every state,
** through the calls a driver makes. A refused put is one report 0xE6/0x06
** that changes nothing (the list, its registers, its mappings); a put
** list's elements are refused without a report (the binding's argument
** error).
**
** The rig: a 32-bit scatter/gather adapter "a" that builds the lists
** (they bounce: a page above 4 GiB) and another adapter "b".
*/
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "rig.h"
#include "hal/dl_mapregs.h"
#include "hal/dl_sgstate.h"
#include "machine/dl_dmamap.h"

typedef struct cell_rig {
  rig r;
  dl_adapter *a, *b;
  dl_mdl *mdl;
  uint64_t va;
  dl_sglist *sg;
  uint64_t id;
  int call;                     /* the call made inside AdapterListControl (-1: none) */
  int row_inside, result;
  uint64_t reports_inside;
} cell_rig;

static cell_rig G;

static int make_call(cell_rig *g, int call, dl_adapter *on);

static void list_control(void *ctx, dl_device *dev, dl_sglist *sg) {
  (void)dev;
  cell_rig *g = ctx;
  g->sg = sg;
  g->id = dl_sglist_id(sg);
  if (g->call < 0) return;
  g->row_inside = dl_sglist_row(sg, g->a, g->id);
  g->reports_inside = rig_reports(&g->r);
  g->result = make_call(g, g->call, g->a);
}

static void up(cell_rig *g) {
  memset(g, 0, sizeof *g);
  assert_int_equal(rig_open(&g->r, NULL), 0);
  g->a = rig_adapter(&g->r, rig_desc(1, 1, 0, 4 * PS), NULL);
  g->b = rig_adapter(&g->r, rig_desc(1, 1, 0, 4 * PS), NULL);
  dl_region *reg = rig_map(&g->r, (uint64_t[]){rig_pages_at(&g->r, 1, GiB4)}, 0, PS);
  g->mdl = rig_mdl(&g->r, reg);
  g->va = reg->va;
  g->call = -1;
  dl_machine_set_irql(g->r.m, DL_DISPATCH_LEVEL);
}

static void down(cell_rig *g) {
  dl_machine_set_irql(g->r.m, DL_PASSIVE_LEVEL);
  rig_close(&g->r);
}

static void build(cell_rig *g) {
  assert_int_equal(dl_adapter_get_sglist(g->a, g->r.dev, g->mdl, g->va, PS, list_control, g, 1, 0),
                   DL_STATUS_SUCCESS);
  assert_non_null(g->sg);
}

/* The call under test: 1 if it went on (put: no report; elements: readable). */
static int make_call(cell_rig *g, int call, dl_adapter *on) {
  uint64_t before = rig_reports(&g->r);
  switch (call) {
    case DL_SGCALL_PUT:
      dl_adapter_put_sglist(on, g->sg, g->id, 1);
      return rig_reports(&g->r) == before;
    case DL_SGCALL_ELEMENTS: return dl_sglist_check_elements(g->sg, g->id);
    default: fail();
  }
  return -1;
}

/* A list's state: what a refused call leaves as it was. */
typedef struct snapshot {
  int row;
  uint32_t nfree;
  size_t mappings;
  uint32_t count;
} snapshot;

static snapshot snap(cell_rig *g) {
  return (snapshot){ dl_sglist_row(g->sg, g->a, g->id), dl_mapregs_of(g->r.m)->nfree,
                     dl_dmamap_count(dl_machine_dmamap(g->r.m)), dl_sglist_count(g->sg) };
}

#define A {DL_SG_ALLOW, 0}
#define INV {DL_SG_INVALID, 0}

/* Reference 1.5 / 1.7, written out apart from the engine's table: one put,
** on the list's adapter, in its routine or later (else 0x06); the elements
** are readable until then. */
static const dl_sg_cell expected[DL_SGROW_COUNT][DL_SGCALL_COUNT] = {
  /*                 Put                   Elements */
  /* other      */ { {DL_SG_REFUSE, 0x06}, A },
  /* delivering */ { A,                    A },
  /* held       */ { A,                    A },
  /* put        */ { {DL_SG_REFUSE, 0x06}, INV },
};

static void check_cell(cell_rig *g, int row, int call) {
  dl_sg_cell want = expected[row][call], got = dl_sg_cell_at(row, call);
  if (got.kind != want.kind || got.p1 != want.p1)
    fail_msg("%s on a list %s: table has %d/0x%02x", dl_sg_call_name(call), dl_sg_row_name(row),
             got.kind, got.p1);
  if (row == DL_SGROW_OTHER && call == DL_SGCALL_ELEMENTS) return;  /* names no adapter */
  up(g);
  int ok;
  uint64_t before;
  snapshot was = {0};
  if (row == DL_SGROW_DELIVERING) {
    g->call = call;
    build(g);
    assert_int_equal(g->row_inside, row);
    ok = g->result;
    before = g->reports_inside;
  } else {
    build(g);
    if (row == DL_SGROW_PUT) dl_adapter_put_sglist(g->a, g->sg, g->id, 1);
    assert_int_equal(dl_sglist_row(g->sg, row == DL_SGROW_OTHER ? g->b : g->a, g->id), row);
    was = snap(g);
    before = rig_reports(&g->r);
    ok = make_call(g, call, row == DL_SGROW_OTHER ? g->b : g->a);
  }
  const char *what = dl_sg_call_name(call), *where = dl_sg_row_name(row);
  if (ok != (want.kind == DL_SG_ALLOW)) fail_msg("%s on a list %s: %s", what, where, ok ? "went on" : "refused");
  if (want.kind == DL_SG_REFUSE) {
    if (rig_reports(&g->r) != before + 1) fail_msg("%s on a list %s: no single report", what, where);
    const dl_report *rep = dl_verifier_at(g->r.m, (size_t)before);
    assert_int_equal(rep->p1, want.p1);
    assert_non_null(strstr(rep->message, row == DL_SGROW_OTHER ? "another adapter" : "already put"));
  } else if (rig_reports(&g->r) != before) {
    fail_msg("%s on a list %s: reported %s", what, where, dl_verifier_at(g->r.m, (size_t)before)->message);
  }
  if (want.kind != DL_SG_ALLOW && row != DL_SGROW_DELIVERING) {
    snapshot now = snap(g);
    assert_int_equal(now.row, was.row);
    assert_int_equal(now.nfree, was.nfree);
    assert_int_equal(now.mappings, was.mappings);
    assert_int_equal(now.count, was.count);
  }
  if (row == DL_SGROW_OTHER || (row == DL_SGROW_HELD && call == DL_SGCALL_ELEMENTS) ||
      (row == DL_SGROW_DELIVERING && call == DL_SGCALL_ELEMENTS)) {
    dl_adapter_put_sglist(g->a, g->sg, g->id, 1);  /* still the driver's: it puts it */
    assert_int_equal(rig_reports(&g->r), before + (want.kind == DL_SG_REFUSE));
  }
  assert_int_equal(dl_mapregs_of(g->r.m)->nfree, dl_mapregs_of(g->r.m)->count);  /* nothing held */
  down(g);
}

/* Every cell on a fresh machine. */
static void test_every_cell(void **state) {
  (void)state;
  for (int row = 0; row < DL_SGROW_COUNT; row++)
    for (int call = 0; call < DL_SGCALL_COUNT; call++) check_cell(&G, row, call);
}

/* A list record is reused: the handle of a put list names the put row even
** once its record serves a new list, whose own handle is held. */
static void test_reused_record(void **state) {
  (void)state;
  cell_rig *g = &G;
  up(g);
  build(g);
  dl_sglist *first = g->sg;
  uint64_t old = g->id;
  dl_adapter_put_sglist(g->a, g->sg, g->id, 1);
  build(g);
  assert_ptr_equal(g->sg, first);
  assert_int_equal(dl_sglist_row(first, g->a, old), DL_SGROW_PUT);
  assert_int_equal(dl_sglist_row(g->sg, g->a, g->id), DL_SGROW_HELD);
  uint64_t before = rig_reports(&g->r);
  dl_adapter_put_sglist(g->a, first, old, 1);  /* the old handle: 0x06, the new list stays */
  rig_expect(&g->r, before, DL_VF_DOUBLE_FREE_SG_LIST);
  assert_true(dl_sglist_check_elements(g->sg, g->id));
  dl_adapter_put_sglist(g->a, g->sg, g->id, 1);
  rig_expect_none(&g->r, before + 1);
  down(g);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_every_cell),
    cmocka_unit_test(test_reused_record),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
