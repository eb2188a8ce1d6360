/*
** test_ctxstate.c: the DMA transfer context's state table (core/hal/
** dl_ctxstate.c; the version-3 operations of reference 1.3-1.6 and the
** Driver Verifier checks of 1.7): a real context driven into every row,
** every column called there, and what the driver sees asserted against a
** table written out apart from the engine's: the report (0xE6 and its P1,
** and P3 for the context's own refusals), the status or BOOLEAN returned,
** and the row the context is in afterwards (a refused call changes
** nothing). Cells where another table decides (the MapRegisterBase's, the
** channel's) are asserted end to end too.
**
** The rig: a pool of 4 map registers; a "hog" adapter that can take all of
** them (so an allocation waits), and the version-3 packet adapter under
** test with its device; for the row of a system transfer in flight, a
** version-3 ISA adapter on 8237 channel 1 feeding a UART instead.
*/
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "rig.h"
#include "rig_dmaex.h"
#include "devices/dl_uart.h"
#include "hal/dl_ctxstate.h"
#include "hal/dl_dmac8237.h"
#include "hal/dl_slave.h"

typedef struct ctx_rig {
  rig r;
  dl_device *hog_dev;
  dl_adapter *a, *hog;
  dl_dmactx *c;
  dl_mdl *mdl;
  uint64_t base;       /* the last MapRegisterBase granted under c (0: none) */
  uint64_t hog_base;
  int ran;             /* c's AdapterControl runs */
} ctx_rig;

static ctx_rig G;

static int hog_control(void *ctx, dl_device *dev, uint64_t base) {
  (void)dev;
  ((ctx_rig *)ctx)->hog_base = base;
  return DL_DEALLOCATE_OBJECT_KEEP_REGISTERS;
}

static int control(void *ctx, dl_device *dev, uint64_t base) {
  (void)dev;
  ctx_rig *g = ctx;
  g->ran++;
  g->base = base;
  return DL_KEEP_OBJECT;
}

/* A version-3 ISA description for 8237 channel 1. */
static dl_device_description isa3(void) {
  dl_device_description d;
  memset(&d, 0, sizeof d);
  d.version = 3;
  d.interface_type = DL_ISA;
  d.dma_channel = 1;
  d.dma_width = DL_WIDTH8;
  d.address_width = 24;
  d.maximum_length = PS;
  return d;
}

/* The machine; the adapter under test a system one if `isa`. */
static void up(ctx_rig *g, int isa) {
  memset(g, 0, sizeof *g);
  dl_machine_config cfg;
  dl_machine_config_init(&cfg);
  cfg.map_registers = 4;
  assert_int_equal(rig_open(&g->r, &cfg), 0);
  g->hog_dev = rig_device(&g->r, "hog");
  dl_device_description d = rig_desc(0, 0, 0, 4 * PS);
  d.version = 3;
  d.address_width = 32;
  if (isa) {
    dl_uart *u = rig_uart(&g->r, 115200);
    assert_int_equal(dl_uart_connect(u, dl_dmac8237_of(g->r.m), 1, DL_UART_NO_LINE), DL_OK);
    rig_uart_enable(u, DL_UART_TX_DMA);
    d = isa3();
  }
  g->a = rig_adapter(&g->r, d, NULL);
  g->hog = rig_adapter_for(&g->r, g->hog_dev, rig_desc(0, 1, 0, 4 * PS), NULL);
  g->mdl = rig_mdl(&g->r, rig_map(&g->r, (uint64_t[]){rig_pages_at(&g->r, 1, 0)}, 0, PS));
  assert_int_equal(dl_dmactx_new(g->a, &g->c), DL_OK);
  dl_machine_set_irql(g->r.m, DL_DISPATCH_LEVEL);  /* where the context calls are made */
}

static void down(ctx_rig *g) {
  dl_machine_set_irql(g->r.m, DL_PASSIVE_LEVEL);
  rig_close(&g->r);
}

/* A call's result: an NTSTATUS, CancelAdapterChannel's BOOLEAN, or nothing. */
#define NONE 0xFFFFFFFFu

/* Makes `call` on g's context; its result. */
static uint32_t make_call(ctx_rig *g, int call) {
  dl_adapter *a = g->a;
  dl_device *dev = g->r.dev;
  uint64_t base = 0, id = 0;
  uint32_t len = PS, n = 0;
  const dl_sg_element *el = NULL;
  dl_sglist *sg = NULL;
  switch (call) {
    case DL_CTXCALL_INIT: return dl_dmaex_initialize_context(a, g->c);
    case DL_CTXCALL_ALLOCATE: {
      uint32_t st = dl_dmaex_allocate_channel(a, dev, g->c, 1, DL_DMA_SYNCHRONOUS_CALLBACK, NULL,
                                              NULL, &base);
      if (base) g->base = base;
      return st;
    }
    case DL_CTXCALL_GET_SGLIST:
      return dl_dmaex_get_sglist(a, dev, g->c, g->mdl, 0, PS, DL_DMA_SYNCHRONOUS_CALLBACK, NULL,
                                 NULL, 1, NULL, NULL, 0, &sg, &id);
    case DL_CTXCALL_MAP:
      return dl_dmaex_map_transfer(a, g->mdl, g->base, 0, 0, &len, 1, DL_SGLIST_SIZE(4), NULL,
                                   NULL, &el, &n);
    case DL_CTXCALL_FLUSH: return dl_dmaex_flush(a, g->mdl, g->base, 0, PS, 1);
    case DL_CTXCALL_CANCEL_CHANNEL: return (uint32_t)dl_dmaex_cancel_channel(a, dev, g->c);
    case DL_CTXCALL_CANCEL_MAPPED: return dl_dmaex_cancel_mapped(a, g->c);
    case DL_CTXCALL_FREE:
      assert_int_equal(dl_dmaex_free_adapter_object(a, DL_DEALLOCATE_OBJECT), DL_OK);
      return NONE;
    case DL_CTXCALL_DESTROY:
      dl_dmactx_type.destroy(DL_OBJECT(g->c));
      g->c = NULL;
      return NONE;
    default: fail();
  }
  return NONE;
}

/* The pool goes to the hog: the next request for registers waits. */
static void exhaust(ctx_rig *g) {
  assert_int_equal(dl_adapter_allocate_channel(g->hog, g->hog_dev, 4, hog_control, g), DL_STATUS_SUCCESS);
  assert_true(g->hog_base != 0);
}

static void init(ctx_rig *g) { assert_int_equal(make_call(g, DL_CTXCALL_INIT), DL_STATUS_SUCCESS); }
static void take(ctx_rig *g) { assert_int_equal(make_call(g, DL_CTXCALL_ALLOCATE), DL_STATUS_SUCCESS); }
static void map(ctx_rig *g) { assert_int_equal(make_call(g, DL_CTXCALL_MAP), DL_STATUS_SUCCESS); }
static void cancel_mapped(ctx_rig *g) {
  assert_int_equal(make_call(g, DL_CTXCALL_CANCEL_MAPPED), DL_STATUS_SUCCESS);
}
static void free_object(ctx_rig *g) { make_call(g, DL_CTXCALL_FREE); }

/* Puts g's context in `row`, by the calls a driver makes. */
static void reach(ctx_rig *g, int row) {
  switch (row) {
    case DL_CTXROW_UNINIT: break;
    case DL_CTXROW_READY: init(g); break;
    case DL_CTXROW_PENDING:
      init(g);
      exhaust(g);
      assert_int_equal(dl_dmaex_allocate_channel(g->a, g->r.dev, g->c, 2, 0, control, g, NULL),
                       DL_STATUS_SUCCESS);
      assert_int_equal(g->ran, 0);
      break;
    case DL_CTXROW_GRANTED: init(g), take(g); break;
    case DL_CTXROW_MAPPED: init(g), take(g), map(g); break;
    case DL_CTXROW_IN_FLIGHT: init(g), take(g), map(g); break;  /* on the ISA rig: started */
    case DL_CTXROW_RELEASED: init(g), take(g), free_object(g); break;
    case DL_CTXROW_CANCELLED:
      init(g);
      assert_int_equal(make_call(g, DL_CTXCALL_CANCEL_CHANNEL), 1);
      break;
    case DL_CTXROW_CANCELLED_HELD: init(g), take(g), map(g), cancel_mapped(g); break;
    case DL_CTXROW_CANCELLED_DONE: init(g), take(g), free_object(g), cancel_mapped(g); break;
    default: fail();
  }
  assert_int_equal(dl_dmactx_row(g->c), row);
}

/* What the driver sees: the report's P1 (or NOREP), its P3 where the
** context's own table refused, the result, and the row after. */
#define NOREP 0xFFu
#define ANY 0xFFu
typedef struct outcome { uint8_t p1, p3; uint32_t result; int8_t after; } outcome;

#define OK DL_STATUS_SUCCESS
#define INVAL DL_STATUS_INVALID_PARAMETER
#define CANC DL_STATUS_CANCELLED
#define U DL_CTXROW_UNINIT
#define R DL_CTXROW_READY
#define P DL_CTXROW_PENDING
#define G_ DL_CTXROW_GRANTED
#define M DL_CTXROW_MAPPED
#define F DL_CTXROW_IN_FLIGHT
#define D DL_CTXROW_RELEASED
#define C DL_CTXROW_CANCELLED
#define CH DL_CTXROW_CANCELLED_HELD
#define CD DL_CTXROW_CANCELLED_DONE
#define GONE (-1)
#define ALLOWED(res, row) {NOREP, ANY, res, row}
#define MISC(sub, row) {0x00, sub, INVAL, row}          /* the context's 0x00 refusal */
#define REP(p1, res, row) {p1, ANY, res, row}           /* another table's report */

/* The v3 rules, written out apart from the engine's table: a context is
** initialised before use (0x00, P3 0) and serves one allocation at a time
** (0x00 P3 1; initialised again only when free, P3 2); cancelled, it
** refuses later allocations and transfers (STATUS_CANCELLED) but its
** mapping is still flushed and freed; CancelAdapterChannel is TRUE until
** something was granted under it; MapTransferEx twice without a flush is
** 0x0D, a flush of nothing mapped 0x20, of a system transfer neither
** completed nor cancelled 0x23 (and done: the channel stops), a free of a channel not held 0x04,
** of registers still mapped 0x10 (and done); a base naming nothing is
** STATUS_INVALID_PARAMETER without a report. */
static const outcome expected[DL_CTXROW_COUNT][DL_CTXCALL_COUNT] = {
  /* uninit */
  { ALLOWED(OK, R), MISC(0, U), MISC(0, U), ALLOWED(INVAL, U), REP(0x20, INVAL, U),
    ALLOWED(0, U), ALLOWED(INVAL, U), REP(0x04, NONE, U), ALLOWED(NONE, GONE) },
  /* ready */
  { ALLOWED(OK, R), ALLOWED(OK, G_), ALLOWED(OK, G_), ALLOWED(INVAL, R), REP(0x20, INVAL, R),
    ALLOWED(1, C), ALLOWED(OK, C), REP(0x04, NONE, R), ALLOWED(NONE, GONE) },
  /* pending */
  { MISC(2, P), MISC(1, P), MISC(1, P), ALLOWED(INVAL, P), REP(0x20, INVAL, P),
    ALLOWED(1, C), ALLOWED(OK, P), REP(0x04, NONE, P), ALLOWED(NONE, GONE) },
  /* granted */
  { MISC(2, G_), MISC(1, G_), MISC(1, G_), ALLOWED(OK, M), REP(0x20, INVAL, G_),
    ALLOWED(0, G_), ALLOWED(OK, CH), ALLOWED(NONE, D), ALLOWED(NONE, GONE) },
  /* mapped */
  { MISC(2, M), MISC(1, M), MISC(1, M), REP(0x0D, INVAL, M), ALLOWED(OK, G_),
    ALLOWED(0, M), ALLOWED(OK, CH), REP(0x10, NONE, D), ALLOWED(NONE, GONE) },
  /* in flight (ISA: the list routines are refused first, 0x00 P3 4, for a system adapter) */
  { MISC(2, F), MISC(1, F), {0x00, 4, DL_STATUS_NOT_SUPPORTED, F}, REP(0x0D, INVAL, F),
    REP(0x23, OK, G_), ALLOWED(0, F), ALLOWED(OK, CH), REP(0x10, NONE, D), ALLOWED(NONE, GONE) },
  /* released */
  { ALLOWED(OK, R), ALLOWED(OK, G_), ALLOWED(OK, G_), ALLOWED(INVAL, D), REP(0x20, INVAL, D),
    ALLOWED(0, D), ALLOWED(OK, CD), REP(0x04, NONE, D), ALLOWED(NONE, GONE) },
  /* cancelled */
  { ALLOWED(OK, R), ALLOWED(CANC, C), ALLOWED(CANC, C), ALLOWED(INVAL, C), REP(0x20, INVAL, C),
    ALLOWED(1, C), ALLOWED(OK, C), REP(0x04, NONE, C), ALLOWED(NONE, GONE) },
  /* cancelled, held (mapped) */
  { MISC(2, CH), MISC(1, CH), MISC(1, CH), ALLOWED(CANC, CH), ALLOWED(OK, CH),
    ALLOWED(0, CH), ALLOWED(OK, CH), REP(0x10, NONE, CD), ALLOWED(NONE, GONE) },
  /* cancelled, done */
  { ALLOWED(OK, R), ALLOWED(CANC, CD), ALLOWED(CANC, CD), ALLOWED(INVAL, CD), REP(0x20, INVAL, CD),
    ALLOWED(0, CD), ALLOWED(OK, CD), REP(0x04, NONE, CD), ALLOWED(NONE, GONE) },
};

/* Every cell on a fresh machine. */
static void test_every_cell(void **state) {
  (void)state;
  for (int row = 0; row < DL_CTXROW_COUNT; row++)
    for (int call = 0; call < DL_CTXCALL_COUNT; call++) {
      ctx_rig *g = &G;
      up(g, row == DL_CTXROW_IN_FLIGHT);
      reach(g, row);
      const outcome *want = &expected[row][call];
      const char *rn = dl_ctx_row_name(row), *cn = dl_ctx_call_name(call);
      uint64_t before = rig_reports(&g->r);
      uint32_t got = make_call(g, call);
      uint64_t reports = rig_reports(&g->r) - before;
      if (reports != (want->p1 == NOREP ? 0u : 1u))
        fail_msg("%s on a context %s: %llu reports%s%s", cn, rn, (unsigned long long)reports,
                 reports ? ": " : "", reports ? rig_last(&g->r)->message : "");
      if (want->p1 != NOREP) {
        const dl_report *rep = rig_last(&g->r);
        assert_int_equal(rep->bugcheck, DL_BUGCHECK_DMA);
        if (rep->p1 != want->p1) fail_msg("%s on a context %s: %s", cn, rn, rep->message);
        if (want->p3 != ANY) {
          assert_int_equal(rep->p2, dl_adapter_id(g->a));
          assert_int_equal(rep->p3, want->p3);
        }
      }
      if (want->result != NONE && got != want->result)
        fail_msg("%s on a context %s: 0x%x, want 0x%x", cn, rn, got, want->result);
      if (want->after != GONE && dl_dmactx_row(g->c) != want->after)
        fail_msg("%s on a context %s: now %s, want %s", cn, rn, dl_ctx_row_name(dl_dmactx_row(g->c)),
                 dl_ctx_row_name(want->after));
      down(g);
    }
}

/* The engine's table says the same: a refusal where the driver sees the
** context's report, a status or FALSE where it sees those without one. */
static void test_table_matches(void **state) {
  (void)state;
  for (int row = 0; row < DL_CTXROW_COUNT; row++)
    for (int call = 0; call < DL_CTXCALL_COUNT; call++) {
      dl_ctx_cell c = dl_ctx_cell_at(row, call);
      const outcome *want = &expected[row][call];
      if (row == DL_CTXROW_IN_FLIGHT && call == DL_CTXCALL_GET_SGLIST) continue;  /* the kind's */
      if (want->p3 != ANY) {
        assert_int_equal(c.kind, DL_CTX_REFUSE);
        assert_int_equal(c.p1, want->p1);
        assert_int_equal(c.sub, want->p3);
        assert_int_equal(c.status, want->result);
      } else if (c.kind == DL_CTX_STATUS) {
        assert_int_equal(c.status, want->result);
        assert_int_equal(want->p1, NOREP);
      } else if (c.kind == DL_CTX_NOOP) {
        assert_int_equal(want->result, 0);
      }
    }
  assert_int_equal(dl_ctx_cell_at(-1, 0).kind, DL_CTX_REFUSE);
  assert_int_equal(dl_ctx_cell_at(0, DL_CTXCALL_COUNT).kind, DL_CTX_REFUSE);
  assert_string_equal(dl_ctx_row_name(DL_CTXROW_COUNT), "?");
}

/* A context torn down while its allocation waits: the request is withdrawn,
** its routine never runs when the registers free, and the channel is free
** for another context. */
static void test_teardown_withdraws_a_waiting_allocation(void **state) {
  (void)state;
  ctx_rig *g = &G;
  up(g, 0);
  reach(g, DL_CTXROW_PENDING);
  uint64_t before = rig_reports(&g->r);
  make_call(g, DL_CTXCALL_DESTROY);
  assert_int_equal(dl_adapter_free_map_registers(g->hog, g->hog_base, 4), DL_OK);
  assert_int_equal(g->ran, 0);
  assert_false(dl_adapter_channel_busy(g->a, g->r.dev));
  dl_dmactx *c = rig_dmactx(g->a);
  uint64_t base = 0;
  assert_int_equal(dl_dmaex_allocate_channel(g->a, g->r.dev, c, 2, DL_DMA_SYNCHRONOUS_CALLBACK,
                                             NULL, NULL, &base), DL_STATUS_SUCCESS);
  assert_true(base != 0);
  rig_expect_none(&g->r, before);
  down(g);
}

/* A list built under a context holds it as a channel does (the "holding"
** rows): initialised again 0x00 P3 2, a second allocation 0x00 P3 1,
** CancelAdapterChannel FALSE, MapTransferEx on the list's base 0x00 (not
** AllocateAdapterChannelEx's); PutScatterGatherList frees it. */
static void test_a_list_holds_its_context(void **state) {
  (void)state;
  ctx_rig *g = &G;
  up(g, 0);
  init(g);
  dl_sglist *sg = NULL;
  uint64_t id = 0;
  assert_int_equal(dl_dmaex_get_sglist(g->a, g->r.dev, g->c, g->mdl, 0, PS, DL_DMA_SYNCHRONOUS_CALLBACK,
                                       NULL, NULL, 1, NULL, NULL, 0, &sg, &id), DL_STATUS_SUCCESS);
  assert_non_null(sg);
  assert_int_equal(dl_dmactx_row(g->c), DL_CTXROW_GRANTED);
  uint64_t before = rig_reports(&g->r);
  assert_int_equal(make_call(g, DL_CTXCALL_INIT), DL_STATUS_INVALID_PARAMETER);
  assert_int_equal(rig_expect(&g->r, before, DL_VF_MISC)->p3, DL_CTX_SUB_INIT_IN_USE);
  before = rig_reports(&g->r);
  assert_int_equal(make_call(g, DL_CTXCALL_ALLOCATE), DL_STATUS_INVALID_PARAMETER);
  assert_int_equal(rig_expect(&g->r, before, DL_VF_MISC)->p3, DL_CTX_SUB_IN_USE);
  before = rig_reports(&g->r);
  assert_int_equal(make_call(g, DL_CTXCALL_CANCEL_CHANNEL), 0);
  rig_expect_none(&g->r, before);
  g->base = dl_sglist_map_register_base(sg);
  assert_int_equal(make_call(g, DL_CTXCALL_MAP), DL_STATUS_INVALID_PARAMETER);
  assert_non_null(strstr(rig_expect(&g->r, before, DL_VF_MISC)->message, "AllocateAdapterChannelEx"));
  assert_int_equal(dl_dmactx_row(g->c), DL_CTXROW_GRANTED);
  before = rig_reports(&g->r);
  dl_adapter_put_sglist(g->a, sg, id, 1);
  assert_int_equal(dl_dmactx_row(g->c), DL_CTXROW_RELEASED);
  assert_int_equal(make_call(g, DL_CTXCALL_ALLOCATE), DL_STATUS_SUCCESS);
  assert_int_equal(dl_dmactx_row(g->c), DL_CTXROW_GRANTED);
  make_call(g, DL_CTXCALL_FREE);
  rig_expect_none(&g->r, before);
  down(g);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_every_cell),
    cmocka_unit_test(test_table_matches),
    cmocka_unit_test(test_teardown_withdraws_a_waiting_allocation),
    cmocka_unit_test(test_a_list_holds_its_context),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
