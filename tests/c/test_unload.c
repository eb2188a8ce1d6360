/*
** test_unload.c: the I/O manager unloading a driver without Lua
** (core/io/dl_unload.c): no DriverUnload or an open file refuses it,
** DriverUnload runs at PASSIVE_LEVEL and a legacy driver deletes its
** devices there; a device left keeps the image (no checks); then the
** verifier's unload checks: 0xCE for a timer set or a DPC queued, 0xC4/0x62
** for pool, nothing while another driver is loaded.
*/
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "rig.h"

#include "io/dl_devstack.h"
#include "io/dl_unload.h"
#include "kernel/dl_cpu.h"
#include "kernel/dl_pool.h"

typedef struct un {
  rig r;
  dl_driver *drv;
  dl_device *dev;
  int calls;
  uint8_t irql;
  int delete_devices;
  dl_timer *timer;  /* cancelled by DriverUnload if cancel_timer */
  int cancel_timer;
} un;

static un U;

static int setup(void **state) {
  memset(&U, 0, sizeof U);
  if (rig_open(&U.r, NULL)) return -1;
  if (dl_driver_new(U.r.m, "\\Driver\\u", &U.drv)) return -1;
  if (dl_io_create_device(U.drv, "u0", &U.dev)) return -1;
  *state = &U;
  return 0;
}

static int teardown(void **state) {
  un *u = *state;
  rig_close(&u->r);
  return 0;
}

/* A legacy DriverUnload: deletes its devices (if told to), cancels its timer. */
static void driver_unload(void *ctx, dl_driver *drv) {
  un *u = ctx;
  u->calls++;
  u->irql = dl_machine_irql(u->r.m);
  if (u->cancel_timer && u->timer) dl_timer_cancel(u->timer);
  for (dl_device *d; u->delete_devices && (d = dl_driver_next_device(drv, NULL));)
    assert_int_equal(dl_io_delete_device(d, NULL), DL_OK);
}

/* No DriverUnload: it cannot be unloaded; a file open on a device: not now. */
static void test_refused(void **state) {
  un *u = *state;
  dl_unload_refusal why;
  dl_device *left;
  size_t leaks;
  assert_int_equal(dl_io_unload_driver(u->drv, &why, &left, &leaks), DL_ESTATE);
  assert_int_equal(why, DL_UNLOAD_NO_ROUTINE);
  dl_driver_set_unload(u->drv, driver_unload, u);
  u->dev->open_files = 1;
  assert_int_equal(dl_io_unload_driver(u->drv, &why, &left, &leaks), DL_ESTATE);
  assert_int_equal(why, DL_UNLOAD_FILE_OPEN);
  assert_int_equal(u->calls, 0);
  assert_false(dl_driver_unloaded(u->drv));
  u->dev->open_files = 0;
}

/* A legacy driver deletes its devices in DriverUnload (run at PASSIVE_LEVEL
** whatever the caller's IRQL); then nothing is left to report; the driver
** makes no device afterwards and cannot be unloaded twice. */
static void test_legacy_unload(void **state) {
  un *u = *state;
  dl_unload_refusal why;
  dl_device *left, *more;
  size_t leaks = 99;
  dl_driver_set_unload(u->drv, driver_unload, u);
  u->delete_devices = 1;
  uint64_t before = rig_reports(&u->r);
  dl_machine_set_irql(u->r.m, DL_DISPATCH_LEVEL);
  assert_int_equal(dl_io_unload_driver(u->drv, &why, &left, &leaks), DL_OK);
  dl_machine_set_irql(u->r.m, DL_PASSIVE_LEVEL);
  assert_int_equal(u->calls, 1);
  assert_int_equal(u->irql, DL_PASSIVE_LEVEL);
  assert_int_equal(leaks, 0);
  assert_true(dl_device_deleted(u->dev));
  assert_true(dl_driver_unloaded(u->drv));
  assert_int_equal(rig_reports(&u->r), before);
  assert_int_equal(dl_io_create_device(u->drv, "late", &more), DL_ESTATE);
  assert_int_equal(dl_io_unload_driver(u->drv, &why, &left, &leaks), DL_ESTATE);
  assert_int_equal(why, DL_UNLOAD_ALREADY);
  assert_int_equal(u->calls, 1);
}

/* DriverUnload returns with a device left: the image stays, no checks. */
static void test_device_left(void **state) {
  un *u = *state;
  dl_unload_refusal why;
  dl_device *left;
  size_t leaks = 99;
  uint64_t va;
  dl_driver_set_unload(u->drv, driver_unload, u);
  assert_int_equal(dl_pool_alloc(u->r.m, 0, 64, 0x41414141, 1, &va, NULL), DL_OK);
  uint64_t before = rig_reports(&u->r);
  assert_int_equal(dl_io_unload_driver(u->drv, &why, &left, &leaks), DL_EBUSY);
  assert_int_equal(why, DL_UNLOAD_DEVICES_LEFT);
  assert_ptr_equal(left, u->dev);
  assert_int_equal(leaks, 0);
  assert_int_equal(rig_reports(&u->r), before);  /* the pool is not checked */
  assert_true(dl_driver_unloaded(u->drv));
  assert_int_equal(dl_pool_free(u->r.m, va, 0, 0), DL_OK);
}

static void nop_dpc(void *ctx, dl_dpc *dpc, uint64_t a, uint64_t b) {
  (void)ctx, (void)dpc, (void)a, (void)b;
}

/* The unload checks: a timer still set and a DPC still queued are 0xCE, an
** allocation not freed 0xC4/0x62; a cancelled timer is fine; while another
** driver is loaded, nothing is checked. */
static void test_unload_checks(void **state) {
  un *u = *state;
  dl_unload_refusal why;
  dl_device *left;
  size_t leaks;
  dl_driver_set_unload(u->drv, driver_unload, u);
  u->delete_devices = 1;
  dl_timer *set, *cancelled;
  dl_dpc *dpc;
  uint64_t va;
  assert_int_equal(dl_timer_new(u->r.m, &set), DL_OK);
  assert_int_equal(dl_timer_new(u->r.m, &cancelled), DL_OK);
  dl_timer_set(set, 1000000, 0, NULL);
  dl_timer_set(cancelled, 1000000, 0, NULL);
  u->timer = cancelled;
  u->cancel_timer = 1;
  assert_int_equal(dl_dpc_new(u->r.m, nop_dpc, NULL, &dpc), DL_OK);
  dl_dpc_insert(dpc, 0, 0);
  assert_int_equal(dl_pool_alloc(u->r.m, 0, 64, 0x41414141, 1, &va, NULL), DL_OK);
  dl_driver *other;
  assert_int_equal(dl_driver_new(u->r.m, "\\Driver\\other", &other), DL_OK);
  dl_driver_set_unload(other, driver_unload, u);
  uint64_t before = rig_reports(&u->r);
  assert_int_equal(dl_io_unload_driver(other, &why, &left, &leaks), DL_OK);
  assert_int_equal(leaks, 0);  /* \Driver\u is still loaded */
  assert_int_equal(rig_reports(&u->r), before);
  assert_int_equal(dl_io_unload_driver(u->drv, &why, &left, &leaks), DL_OK);
  assert_int_equal(leaks, 3);
  assert_int_equal(rig_reports(&u->r), before + 3);
  const dl_report *r0 = dl_verifier_at(u->r.m, (size_t)before);
  const dl_report *r1 = dl_verifier_at(u->r.m, (size_t)before + 1);
  const dl_report *r2 = dl_verifier_at(u->r.m, (size_t)before + 2);
  assert_int_equal(r0->bugcheck, DL_BUGCHECK_UNLOADED_WITH_PENDING);  /* the timer set */
  assert_int_equal(r0->p1, DL_OBJECT(set)->id);
  assert_int_equal(r1->bugcheck, DL_BUGCHECK_UNLOADED_WITH_PENDING);  /* the DPC */
  assert_int_equal(r1->p1, DL_OBJECT(dpc)->id);
  assert_int_equal(r2->bugcheck, DL_BUGCHECK_DETECTED_VIOLATION);
  assert_int_equal(r2->p1, DL_C4_POOL_LEAK);
  assert_true(r0->leak && r1->leak && r2->leak);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
    cmocka_unit_test_setup_teardown(test_legacy_unload, setup, teardown),
    cmocka_unit_test_setup_teardown(test_device_left, setup, teardown),
    cmocka_unit_test_setup_teardown(test_unload_checks, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
