/*
** test_chanstate.c: the adapter channel's state table (core/hal/
** dl_chanstate.c, reference 1.3 and the Driver Verifier checks of 1.7):
** every channel call in every state of the channel, a refused call one
** report 0xE6 with the table's P1 that changes nothing; and a request still
** waiting when its adapter is put is cancelled with it (its routine never
** runs, its device may ask again).
**
** The rig: a pool of 4 map registers; a "hog" adapter that can take all of
** them, the adapter under test (device dev0) and a device "other" that the
** calls under test are made for.
*/
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "rig.h"
#include "hal/dl_chanstate.h"

typedef struct cell_rig {
  rig r;
  dl_device *other, *hog_dev;
  dl_adapter *a, *hog;
  dl_mdl *mdl;
  uint64_t hog_base;
  int ran;                      /* AdapterControl / AdapterListControl calls on a */
  int call;                     /* the call made from inside AdapterControl (-1: none) */
  int action;                   /* what a's routine returns */
  int row_inside;
} cell_rig;

static cell_rig G;

static int hog_control(void *ctx, dl_device *dev, uint64_t base) {
  (void)dev;
  ((cell_rig *)ctx)->hog_base = base;
  return DL_DEALLOCATE_OBJECT_KEEP_REGISTERS;
}

static void list_control(void *ctx, dl_device *dev, dl_sglist *sg) {
  (void)dev, (void)sg;
  ((cell_rig *)ctx)->ran++;
}

static int plain_control(void *ctx, dl_device *dev, uint64_t base) {
  (void)dev, (void)base;
  ((cell_rig *)ctx)->ran++;
  return DL_DEALLOCATE_OBJECT;
}

static void make_call(cell_rig *g, int call);

/* a's routine: makes the call under test when asked to (row "in control"). */
static int a_control(void *ctx, dl_device *dev, uint64_t base) {
  (void)dev, (void)base;
  cell_rig *g = ctx;
  g->ran++;
  if (g->call >= 0) {
    g->row_inside = dl_adapter_channel_row(g->a);
    make_call(g, g->call);
  }
  return g->action;
}

static void up(cell_rig *g) {
  memset(g, 0, sizeof *g);
  dl_machine_config cfg;
  dl_machine_config_init(&cfg);
  cfg.map_registers = 4;
  assert_int_equal(rig_open(&g->r, &cfg), 0);
  g->other = rig_device(&g->r, "other");
  g->hog_dev = rig_device(&g->r, "hog");
  g->a = rig_adapter(&g->r, rig_desc(0, 1, 0, 4 * PS), NULL);
  g->hog = rig_adapter_for(&g->r, g->hog_dev, rig_desc(0, 1, 0, 4 * PS), NULL);
  g->mdl = rig_mdl(&g->r, rig_map(&g->r, (uint64_t[]){rig_pages_at(&g->r, 1, 0)}, 0, PS));
  g->call = -1;
  dl_machine_set_irql(g->r.m, DL_DISPATCH_LEVEL);  /* where the channel calls are made */
}

static void down(cell_rig *g) {
  dl_machine_set_irql(g->r.m, DL_PASSIVE_LEVEL);
  rig_close(&g->r);
}

/* The pool goes to the hog: the next request for registers waits. */
static void exhaust(cell_rig *g) {
  assert_int_equal(dl_adapter_allocate_channel(g->hog, g->hog_dev, 4, hog_control, g), DL_STATUS_SUCCESS);
  assert_true(g->hog_base != 0);
}

static void make_call(cell_rig *g, int call) {
  switch (call) {
    case DL_CHCALL_ALLOCATE: dl_adapter_allocate_channel(g->a, g->other, 1, plain_control, g); break;
    case DL_CHCALL_GET_SGLIST:
      dl_adapter_get_sglist(g->a, g->other, g->mdl, dl_mdl_virtual_address(g->mdl), PS, list_control, g, 1, 0);
      break;
    case DL_CHCALL_FREE: dl_adapter_free_channel(g->a); break;
    case DL_CHCALL_PUT: dl_adapter_put(g->a); break;
    default: fail();
  }
}

/* Puts a's channel in `row`; for "in control" the call is made from the routine. */
static void reach(cell_rig *g, int row, int call) {
  switch (row) {
    case DL_CHROW_IDLE: break;
    case DL_CHROW_WAITING:
      exhaust(g);
      g->action = DL_DEALLOCATE_OBJECT;
      assert_int_equal(dl_adapter_allocate_channel(g->a, g->r.dev, 2, a_control, g), DL_STATUS_SUCCESS);
      assert_int_equal(g->ran, 0);
      break;
    case DL_CHROW_IN_CONTROL:
      g->call = call;
      g->action = DL_DEALLOCATE_OBJECT;
      assert_int_equal(dl_adapter_allocate_channel(g->a, g->r.dev, 1, a_control, g), DL_STATUS_SUCCESS);
      assert_int_equal(g->row_inside, DL_CHROW_IN_CONTROL);
      return;
    case DL_CHROW_KEPT:
      g->action = DL_KEEP_OBJECT;
      assert_int_equal(dl_adapter_allocate_channel(g->a, g->r.dev, 1, a_control, g), DL_STATUS_SUCCESS);
      break;
    case DL_CHROW_PUT: dl_adapter_put(g->a); break;
    default: fail();
  }
  assert_int_equal(dl_adapter_channel_row(g->a), row);
}

#define A DL_CH_ALLOW

/* Reference 1.3 / 1.7, written out apart from the engine's table: a put
** adapter takes nothing (0x18); a second request from inside AdapterControl
** is 0x0B; FreeAdapterChannel needs a channel kept by KeepObject (else
** 0x04); PutDmaAdapter is always taken (what is held is reported as such). */
static const uint32_t expected[DL_CHROW_COUNT][DL_CHCALL_COUNT] = {
  /*               Allocate  GetSGList  Free  Put */
  /* idle       */ { A,        A,         0x04, A },
  /* waiting    */ { A,        A,         0x04, A },
  /* in control */ { 0x0B,     A,         0x04, A },
  /* kept       */ { A,        A,         A,    A },
  /* put        */ { 0x18,     0x18,      0x18, 0x18 },
};

/* Every cell on a fresh machine. */
static void test_every_cell(void **state) {
  (void)state;
  for (int row = 0; row < DL_CHROW_COUNT; row++)
    for (int call = 0; call < DL_CHCALL_COUNT; call++) {
      cell_rig *g = &G;
      up(g);
      uint64_t before;
      assert_int_equal(dl_adapter_channel_cell(row, call), expected[row][call]);
      if (row == DL_CHROW_IN_CONTROL) {
        before = rig_reports(&g->r);
        reach(g, row, call);
      } else {
        reach(g, row, call);
        before = rig_reports(&g->r);
        make_call(g, call);
        if (expected[row][call] != A) assert_int_equal(dl_adapter_channel_row(g->a), row);
      }
      uint32_t want = expected[row][call];
      if (want != A) {
        if (rig_reports(&g->r) != before + 1)
          fail_msg("%s with the channel %s: %llu reports, want 1", dl_adapter_channel_call_name(call),
                   dl_adapter_channel_row_name(row), (unsigned long long)(rig_reports(&g->r) - before));
        const dl_report *rep = dl_verifier_at(g->r.m, (size_t)before);
        assert_int_equal(rep->bugcheck, DL_BUGCHECK_DMA);
        assert_int_equal(rep->p1, want);
      } else {
        for (uint64_t i = before; i < rig_reports(&g->r); i++) {
          const dl_report *rep = dl_verifier_at(g->r.m, (size_t)i);
          /* PutDmaAdapter reports what the adapter still holds: no refusal */
          if (call != DL_CHCALL_PUT || rep->p1 == DL_VF_ADAPTER_RELEASED)
            fail_msg("%s with the channel %s: reported %s", dl_adapter_channel_call_name(call),
                     dl_adapter_channel_row_name(row), rep->message);
        }
      }
      down(g);
    }
}

/* A request still waiting for map registers when its adapter is put is
** cancelled: the put is reported (0x08, the channel it held), the routine
** never runs when the registers free, and the device may ask again on
** another adapter. */
static void test_put_cancels_waiting_requests(void **state) {
  (void)state;
  cell_rig *g = &G;
  up(g);
  exhaust(g);
  g->action = DL_DEALLOCATE_OBJECT;
  assert_int_equal(dl_adapter_allocate_channel(g->a, g->r.dev, 2, a_control, g), DL_STATUS_SUCCESS);
  assert_int_equal(dl_adapter_get_sglist(g->a, g->other, g->mdl, dl_mdl_virtual_address(g->mdl), PS,
                                         list_control, g, 1, 0), DL_STATUS_SUCCESS);
  uint64_t before = rig_reports(&g->r);
  dl_adapter_put(g->a);
  const dl_report *rep = rig_expect(&g->r, before, DL_VF_PUT_WITH_CHANNELS);
  assert_int_equal(rep->p2, dl_adapter_id(g->a));
  assert_int_equal(dl_adapter_free_map_registers(g->hog, g->hog_base, 4), DL_OK);
  assert_int_equal(g->ran, 0);  /* neither AdapterControl nor AdapterListControl ran */
  dl_machine_set_irql(g->r.m, DL_PASSIVE_LEVEL);  /* IoGetDmaAdapter's */
  dl_adapter *again = rig_adapter_for(&g->r, g->r.dev, rig_desc(0, 1, 0, 4 * PS), NULL);
  dl_machine_set_irql(g->r.m, DL_DISPATCH_LEVEL);
  assert_int_equal(dl_adapter_allocate_channel(again, g->r.dev, 2, plain_control, g), DL_STATUS_SUCCESS);
  assert_int_equal(g->ran, 1);
  assert_int_equal(rig_reports(&g->r), before + 1);
  down(g);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_every_cell),
    cmocka_unit_test(test_put_cancels_waiting_requests),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
