/*
** test_wdfunload.c: the framework's side of unloading without Lua
** (core/wdf/dl_wdf.c): a WDFDEVICE holds its FDO and PDO (IoDeleteDevice
** refused, naming it), and the framework's DriverUnload removes each device
** (EvtDeviceReleaseHardware), then runs EvtDriverUnload, then deletes the
** driver's objects and its device objects.
*/
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "rig_wdf.h"
#include <stdio.h>
#include <string.h>

#include "base/dl_status.h"
#include "io/dl_devstack.h"
#include "io/dl_driver.h"
#include "machine/dl_machine.h"
#include "machine/dl_verifier.h"
#include "wdf/dl_wdf.h"

typedef struct rig {
  dl_machine *m;
  dl_driver *wdm;
  dl_device *pdo;
  dl_wdf_driver *drv;
  dl_wdf_device *d;
  char seen[8][40];
  int n;
} rig;

static void note(rig *r, const char *what) {
  if (r->n < 8) snprintf(r->seen[r->n++], sizeof r->seen[0], "%s", what);
}

static uint32_t on_event(void *ctx, dl_wdf_device *d, dl_wdf_event ev, uint32_t state) {
  (void)d, (void)state;
  if (ev == DL_WDF_RELEASE_HARDWARE) note(ctx, "EvtDeviceReleaseHardware");
  return 0;
}

static const dl_wdf_ops ops = {.event = on_event};

static int setup(void **state) {
  static rig r;
  memset(&r, 0, sizeof r);
  dl_machine_config cfg;
  dl_machine_config_init(&cfg);
  if (dl_machine_new(&cfg, &r.m)) return -1;
  if (dl_driver_new(r.m, "\\Driver\\wdf", &r.wdm)) return -1;
  if (dl_device_new(r.m, "pdo", &r.pdo)) return -1;
  if (dl_wdf_driver_new(r.m, &r.drv)) return -1;
  if (dl_wdf_device_new(r.m, r.drv, r.pdo, "fdo", &ops, &r, &r.d)) return -1;
  dl_wdf_device_set_events(r.d, (1u << DL_WDF_EVENT_COUNT) - 1);
  dl_device_set_driver(dl_wdf_device_fdo(r.d), r.wdm);  /* FDO.DriverObject, as the binding sets it */
  *state = &r;
  return 0;
}

static int teardown(void **state) {
  rig_wdf_close(((rig *)*state)->m);
  return 0;
}

/* The framework device needs its FDO and the PDO: IoDeleteDevice refuses
** both without a report, naming the WDFDEVICE. */
static void test_device_holds_its_objects(void **state) {
  rig *r = *state;
  dl_delete_refusal why;
  uint64_t before = dl_verifier_count(r->m);
  dl_device *fdo = dl_wdf_device_fdo(r->d);
  assert_int_equal(dl_io_delete_device(fdo, &why), DL_EBUSY);
  assert_int_equal(why, DL_DELETE_NEEDED);
  assert_ptr_equal(dl_device_user(fdo), DL_OBJECT(r->d));
  assert_int_equal(dl_io_delete_device(r->pdo, &why), DL_EBUSY);
  assert_ptr_equal(dl_device_user(r->pdo), DL_OBJECT(r->d));
  assert_false(dl_device_deleted(fdo));
  assert_int_equal(dl_verifier_count(r->m), before);
}

static void evt_unload(void *ctx) { note(ctx, "EvtDriverUnload"); }

/* Unloading: the started device is removed (ReleaseHardware) before
** EvtDriverUnload; then every framework object and the FDO are gone. */
static void test_driver_unload(void **state) {
  rig *r = *state;
  dl_device *fdo = dl_wdf_device_fdo(r->d);
  assert_int_equal(dl_wdf_device_start(r->d, NULL, 0), DL_STATUS_SUCCESS);
  dl_wdf_driver_unload(r->drv, r->wdm, evt_unload, r);
  assert_int_equal(r->n, 2);
  assert_string_equal(r->seen[0], "EvtDeviceReleaseHardware");
  assert_string_equal(r->seen[1], "EvtDriverUnload");
  assert_true(dl_device_deleted(fdo));
  assert_null(dl_driver_next_device(r->wdm, NULL));
  assert_false(dl_device_deleted(r->pdo));  /* the bus driver's */
  size_t wdf = 0;
  for (dl_object *o = dl_object_next(r->m, NULL, NULL); o; o = dl_object_next(r->m, o, NULL))
    wdf += o->type->family != NULL;
  assert_int_equal(wdf, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_device_holds_its_objects, setup, teardown),
    cmocka_unit_test_setup_teardown(test_driver_unload, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
