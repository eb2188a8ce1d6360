/*
** test_teardown.c: teardown order in the KMDF layer (issue 16, class 4):
** creating a child of a framework object whose deletion has begun (from an
** EvtCleanupCallback run by the device's removal, or by WdfObjectDelete of
** an enabler) fails with STATUS_DELETE_PENDING, as FxObject's
** AddChildObjectInternal / AssignParentObject do once the parent left
** FxObjectStateCreated, and nothing is created; the removal then finishes
** with nothing left of the tree.
*/
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "base/dl_ntstatus.h"
#include "base/dl_status.h"
#include "io/dl_device.h"
#include "io/dl_irp.h"
#include "machine/dl_machine.h"
#include "machine/dl_object.h"
#include "machine/dl_verifier.h"
#include "wdf/dl_wdf.h"
#include "wdf/dl_wdfdma.h"
#include "wdf/dl_wdfobject.h"

static int on_program(void *data, dl_wdfdma_txn *t, dl_sglist *sg, const dl_sg_element *el) {
  (void)data, (void)t, (void)sg, (void)el;
  return 1;
}
static uint32_t on_power(void *data, dl_wdfdma_enabler *e, int cb) {
  (void)data, (void)e, (void)cb;
  return 0;
}
static const dl_wdfdma_ops dma_ops = {.program = on_program, .power = on_power};

static uint32_t no_event(void *ctx, dl_wdf_device *d, dl_wdf_event ev, uint32_t st) {
  (void)ctx, (void)d, (void)ev, (void)st;
  return 0;
}
static const dl_wdf_ops wdf_ops = {.event = no_event};

/* What the cleanup callbacks tried while their object was being deleted. */
static struct {
  dl_wdf_device *d;
  dl_wdfdma_enabler *e;
  uint32_t enabler_st, txn_st, common_st;
  int queue_rc, interrupt_rc, reparent_rc;
  void *made[5];
  int calls;
} seen;

static void device_cleanup(void *ctx, dl_wdf_object *o) {
  (void)ctx, (void)o;
  seen.calls++;
  dl_wdfdma_config c = {DL_WDFDMA_PACKET, 65536, 0, 0, 0, 0};
  dl_wdfdma_enabler *e = NULL;
  seen.enabler_st = dl_wdfdma_enabler_create(seen.d, &c, &dma_ops, &e);
  seen.made[0] = e;
  dl_wdf_queue *q = NULL;
  seen.queue_rc = dl_wdf_queue_new(seen.d, DL_WDF_DISPATCH_PARALLEL, 0, &q);
  seen.made[1] = q;
  dl_wdf_interrupt *wi = NULL;
  seen.interrupt_rc = dl_wdf_interrupt_new(seen.d, 0, 0, &wi);
  seen.made[2] = wi;
}

static void enabler_cleanup(void *ctx, dl_wdf_object *o) {
  (void)ctx, (void)o;
  seen.calls++;
  dl_wdfdma_txn *t = NULL;
  seen.txn_st = dl_wdfdma_txn_create(seen.e, &t);
  seen.made[3] = t;
  dl_wdfdma_common *cb = NULL;
  seen.common_st = dl_wdfdma_common_create(seen.e, 4096, 0, &cb);
  seen.made[4] = cb;
}

typedef struct rig {
  dl_machine *m;
  dl_wdf_driver *drv;
} rig;

static int setup(void **state) {
  static rig r;
  memset(&r, 0, sizeof r);
  memset(&seen, 0, sizeof seen);
  dl_machine_config cfg;
  dl_machine_config_init(&cfg);
  if (dl_machine_new(&cfg, &r.m)) return -1;
  dl_device *pdo = NULL;
  if (dl_device_new(r.m, "pdo", &pdo) || dl_wdf_driver_new(r.m, &r.drv)) return -1;
  if (dl_wdf_device_new(r.m, r.drv, pdo, "fdo", &wdf_ops, NULL, &seen.d)) return -1;
  dl_wdfdma_config c = {DL_WDFDMA_PACKET, 65536, 0, 0, 0, 0};
  if (dl_wdfdma_enabler_create(seen.d, &c, &dma_ops, &seen.e)) return -1;
  if (dl_wdf_device_start(seen.d, NULL, 0)) return -1;
  *state = &r;
  return 0;
}

static int teardown(void **state) {
  rig *r = *state;
  dl_wdf_unload(r->m);
  dl_machine_free(r->m);
  return 0;
}

/* Counts the machine's objects. */
static int objects(dl_machine *m) {
  int n = 0;
  for (dl_object *o = dl_object_next(m, NULL, NULL); o; o = dl_object_next(m, o, NULL)) n++;
  return n;
}

/* A device's EvtCleanupCallback during its removal: no enabler, queue or
** interrupt can be created under it (STATUS_DELETE_PENDING / DL_ESTATE),
** and the removal leaves no framework object of the device. */
static void test_child_of_removed_device(void **state) {
  rig *r = *state;
  dl_wdf_object_set_callbacks(DL_WDF(seen.d), device_cleanup, NULL, NULL);
  int before = objects(r->m);
  dl_wdf_device_remove(seen.d);  /* as m:wdf_remove_device: then the framework deletes it */
  assert_int_equal(dl_wdf_object_delete_framework(DL_WDF(seen.d)), 1);
  assert_int_equal(seen.calls, 1);
  assert_int_equal(seen.enabler_st, DL_STATUS_DELETE_PENDING);
  assert_int_equal(seen.queue_rc, DL_ESTATE);
  assert_int_equal(seen.interrupt_rc, DL_ESTATE);
  for (int i = 0; i < 3; i++) assert_null(seen.made[i]);
  assert_true(objects(r->m) < before);  /* the device and its enabler are gone */
  for (dl_object *o = dl_object_next(r->m, NULL, NULL); o; o = dl_object_next(r->m, o, NULL))
    assert_true(strcmp(o->type->name, "WDFDMAENABLER") != 0 && strcmp(o->type->name, "WDFDEVICE") != 0);
}

/* An enabler's EvtCleanupCallback during WdfObjectDelete: no transaction
** or common buffer can be created under it. */
static void test_child_of_deleted_enabler(void **state) {
  rig *r = *state;
  dl_wdf_object_set_callbacks(DL_WDF(seen.e), enabler_cleanup, NULL, NULL);
  assert_int_equal(dl_wdf_object_delete(DL_WDF(seen.e)), DL_OK);
  assert_int_equal(seen.calls, 1);
  assert_int_equal(seen.txn_st, DL_STATUS_DELETE_PENDING);
  assert_int_equal(seen.common_st, DL_STATUS_DELETE_PENDING);
  assert_null(seen.made[3]);
  assert_null(seen.made[4]);
  (void)r;
}

/* ParentObject: an object cannot be put under one being deleted. */
static void reparent_cleanup(void *ctx, dl_wdf_object *o) {
  (void)o;
  seen.reparent_rc = dl_wdf_object_set_parent(ctx, DL_WDF(seen.e));
}

static void test_reparent_under_deleted(void **state) {
  rig *r = *state;
  dl_wdfdma_txn *t = NULL;
  dl_wdfdma_config c = {DL_WDFDMA_PACKET, 65536, 0, 0, 0, 0};
  dl_wdfdma_enabler *other = NULL;
  assert_int_equal(dl_wdfdma_enabler_create(seen.d, &c, &dma_ops, &other), DL_STATUS_SUCCESS);
  assert_int_equal(dl_wdfdma_txn_create(other, &t), DL_STATUS_SUCCESS);
  dl_wdf_object_set_callbacks(DL_WDF(seen.e), reparent_cleanup, NULL, t);
  assert_int_equal(dl_wdf_object_delete(DL_WDF(seen.e)), DL_OK);
  assert_int_equal(seen.reparent_rc, DL_ESTATE);
  assert_ptr_equal(dl_wdf_object_parent(DL_WDF(t)), DL_WDF(other));
  (void)r;
}

/* ---- the machine's shutdown (an explicit m:close) ------------------------------------ */

static struct {
  char seen[16][32];
  int n;
  dl_wdf_device *d;
  uint32_t late_st;
} shut;

static void note(const char *what) {
  if (shut.n < 16) snprintf(shut.seen[shut.n++], sizeof shut.seen[0], "%s", what);
}

static uint32_t log_event(void *ctx, dl_wdf_device *d, dl_wdf_event ev, uint32_t st) {
  (void)ctx, (void)d, (void)st;
  note(dl_wdf_event_name(ev));
  return 0;
}
static const dl_wdf_ops log_ops = {.event = log_event};

static void log_cleanup(void *ctx, dl_wdf_object *o) {
  (void)o;
  note(ctx);
  if (strcmp(ctx, "device") == 0) {  /* too late for a new child */
    dl_wdfdma_config c = {DL_WDFDMA_PACKET, 65536, 0, 0, 0, 0};
    dl_wdfdma_enabler *e = NULL;
    shut.late_st = dl_wdfdma_enabler_create(shut.d, &c, &dma_ops, &e);
  }
}

/* Unload as Windows does it (PnP removes each device before the driver
** goes): each started device is powered down (D0Exit), its hardware
** released, its tree deleted with every EvtCleanupCallback (children
** first), then the driver's own; nothing can be created meanwhile. */
static void test_shutdown_runs_the_callbacks(void **state) {
  (void)state;
  memset(&shut, 0, sizeof shut);
  dl_machine *m = NULL;
  dl_machine_config cfg;
  dl_machine_config_init(&cfg);
  assert_int_equal(dl_machine_new(&cfg, &m), DL_OK);
  dl_device *pdo = NULL;
  dl_wdf_driver *drv = NULL;
  assert_int_equal(dl_device_new(m, "pdo", &pdo), DL_OK);
  assert_int_equal(dl_wdf_driver_new(m, &drv), DL_OK);
  dl_wdf_object_set_callbacks(DL_WDF(drv), log_cleanup, NULL, "driver");
  assert_int_equal(dl_wdf_device_new(m, drv, pdo, "fdo", &log_ops, NULL, &shut.d), DL_OK);
  dl_wdf_device_set_events(shut.d, (1u << DL_WDF_D0_EXIT) | (1u << DL_WDF_RELEASE_HARDWARE));
  dl_wdf_object_set_callbacks(DL_WDF(shut.d), log_cleanup, NULL, "device");
  dl_wdfdma_config c = {DL_WDFDMA_PACKET, 65536, 0, 0, 0, 0};
  dl_wdfdma_enabler *e = NULL;
  assert_int_equal(dl_wdfdma_enabler_create(shut.d, &c, &dma_ops, &e), DL_STATUS_SUCCESS);
  dl_wdf_object_set_callbacks(DL_WDF(e), log_cleanup, NULL, "enabler");
  dl_wdfdma_txn *t = NULL;
  assert_int_equal(dl_wdfdma_txn_create(e, &t), DL_STATUS_SUCCESS);
  dl_wdf_object_set_callbacks(DL_WDF(t), log_cleanup, NULL, "txn");
  assert_int_equal(dl_wdf_device_start(shut.d, NULL, 0), 0);
  dl_wdf_shutdown(m);
  const char *want[] = {"EvtDeviceD0Exit", "EvtDeviceReleaseHardware", "txn", "enabler", "device", "driver"};
  assert_int_equal(shut.n, 6);
  for (int i = 0; i < 6; i++) assert_string_equal(shut.seen[i], want[i]);
  assert_int_equal(shut.late_st, DL_STATUS_DELETE_PENDING);
  for (dl_object *o = dl_object_next(m, NULL, NULL); o; o = dl_object_next(m, o, NULL))
    assert_true(o->type->name[0] != 'W' || strncmp(o->type->name, "WDF", 3) != 0);
  assert_int_equal(dl_verifier_count(m), 0);
  dl_machine_free(m);
}

/* ---- objects in use by a framework callback ------------------------------------------- */

static struct {
  int rc_self, rc_device, calls;
  dl_wdf_device *d;
} held;

static uint32_t delete_in_power(void *data, dl_wdfdma_enabler *e, int cb) {
  (void)data;
  if (cb != DL_WDFDMA_EVT_DISABLE) return 0;
  held.calls++;
  assert_true(dl_wdf_object_in_use(DL_WDF(e)));
  assert_true(dl_wdf_object_in_use(DL_WDF(held.d)));  /* an ancestor of a held object */
  held.rc_self = dl_wdf_object_delete(DL_WDF(e));
  return 0;
}
static const dl_wdfdma_ops delete_ops = {.program = on_program, .power = delete_in_power};

/* An enabler's power callback (EvtDmaEnablerDisable here) deleting its
** enabler: refused (DL_EBUSY), the enabler stays and the power-down goes
** on; outside the callback nothing is held. */
static void test_delete_from_own_power_callback(void **state) {
  rig *r = *state;
  memset(&held, 0, sizeof held);
  held.d = seen.d;
  dl_wdfdma_config c = {DL_WDFDMA_PACKET, 65536, 0, 0, 0, 1u << DL_WDFDMA_EVT_DISABLE};
  dl_wdfdma_enabler *e = NULL;
  assert_int_equal(dl_wdfdma_enabler_create(seen.d, &c, &delete_ops, &e), DL_STATUS_SUCCESS);
  assert_int_equal(dl_wdf_device_set_power(seen.d, DL_WDF_POWER_D3), DL_STATUS_SUCCESS);
  assert_int_equal(held.calls, 1);
  assert_int_equal(held.rc_self, DL_EBUSY);
  assert_false(dl_wdf_object_in_use(DL_WDF(seen.d)));
  assert_int_equal(dl_wdfdma_enabler_maximum_length(e), 65536);
  assert_int_equal(dl_wdf_object_delete(DL_WDF(e)), DL_OK);  /* now it may go */
  (void)r;
}

/* ---- machine teardown order ------------------------------------------------------------ */

/* An IRP sent to a device made after it: the machine goes newest first, so
** the device is freed before the IRP, whose teardown must not touch it (a
** use-after-free found by a random run of the fuzz driver under ASan;
** valgrind and ASan builds see it here). */
static void test_irp_older_than_its_device(void **state) {
  (void)state;
  dl_machine *m = NULL;
  dl_machine_config cfg;
  dl_machine_config_init(&cfg);
  assert_int_equal(dl_machine_new(&cfg, &m), DL_OK);
  dl_region *reg = NULL;
  assert_int_equal(dl_buffer_new(m, 4096, 0, DL_ALLOC_CONTIGUOUS, DL_REGION_NONPAGED, &reg), DL_OK);
  dl_irp *irp = NULL, *queued = NULL;
  assert_int_equal(dl_irp_new(m, DL_IRP_MJ_READ, reg->va, 4096, 0, &irp), DL_OK);
  assert_int_equal(dl_irp_new(m, DL_IRP_MJ_READ, reg->va, 4096, 0, &queued), DL_OK);
  dl_device *dev = NULL;
  assert_int_equal(dl_device_new(m, "newer", &dev), DL_OK);
  assert_int_equal(dl_irp_send(irp, dev), DL_OK);
  assert_int_equal(dl_irp_send(queued, dev), DL_OK);
  dl_machine_free(m);  /* the device goes first, then both IRPs */
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_child_of_removed_device, setup, teardown),
    cmocka_unit_test_setup_teardown(test_child_of_deleted_enabler, setup, teardown),
    cmocka_unit_test_setup_teardown(test_reparent_under_deleted, setup, teardown),
    cmocka_unit_test(test_shutdown_runs_the_callbacks),
    cmocka_unit_test_setup_teardown(test_delete_from_own_power_callback, setup, teardown),
    cmocka_unit_test(test_irp_older_than_its_device),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
