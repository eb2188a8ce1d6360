/*
** test_wdf.c: the framework device of core/wdf/dl_wdf.c without Lua: the
** power hooks the DMA layer registers (order, the first failure stopping
** power-up, every hook on the way down), the self-managed I/O callbacks
** (Init once after the queues start, Suspend first on the way down,
** Restart, Flush and Cleanup after ReleaseHardware, a failed Init failing
** the device), the accessors of the contract, queue presentation, and the
** rules of WdfInterruptCreate with resources.
*/
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "rig_wdf.h"
#include <stdio.h>
#include <string.h>

#include "io/dl_device.h"
#include "io/dl_irp.h"
#include "machine/dl_machine.h"
#include "base/dl_status.h"
#include "machine/dl_verifier.h"
#include "wdf/dl_wdf.h"

/* What the callbacks saw, in order. */
typedef struct calls {
  char seen[32][48];
  int n;
  uint32_t fail_hook;         /* status of hook #2 going up */
  int fail_event;             /* 1 + the event that fails (0: none) */
  dl_wdf_request *presented[8];
  int npresented;
} calls;

static void note(calls *c, const char *what) {
  if (c->n < 32) snprintf(c->seen[c->n++], sizeof c->seen[0], "%s", what);
}

static uint32_t on_event(void *ctx, dl_wdf_device *d, dl_wdf_event ev, uint32_t state) {
  (void)d;
  (void)state;
  calls *c = ctx;
  note(c, dl_wdf_event_name(ev));
  return c->fail_event == (int)ev + 1 ? 0xC0000001u : 0;
}

static void on_present(void *ctx, dl_wdf_queue *q, dl_wdf_request *r) {
  (void)q;
  calls *c = ctx;
  c->presented[c->npresented++] = r;
}

static const dl_wdf_ops ops = {.event = on_event, .present = on_present};

/* A hook: ctx is "name" in a struct with the calls. */
typedef struct hook {
  calls *c;
  const char *name;
  uint32_t fail_up;
} hook;

static uint32_t on_power(void *ctx, int up) {
  hook *h = ctx;
  char text[48];
  snprintf(text, sizeof text, "%s %s", h->name, up ? "up" : "down");
  note(h->c, text);
  return up ? h->fail_up : 0;
}

typedef struct rig {
  dl_machine *m;
  dl_device *pdo;
  dl_wdf_device *d;
  calls c;
} rig;

static int setup(void **state) {
  static rig r;
  memset(&r, 0, sizeof r);
  if (rig_wdf_open(&r.m, &r.pdo, NULL, &ops, &r.c, &r.d)) return -1;
  dl_wdf_device_set_events(r.d, (1u << DL_WDF_EVENT_COUNT) - 1);
  *state = &r;
  return 0;
}

static int teardown(void **state) {
  rig_wdf_close(((rig *)*state)->m);
  return 0;
}

static void assert_seen(const calls *c, const char *const *want, int n) {
  assert_int_equal(n, c->n);
  for (int i = 0; i < n; i++) assert_string_equal(want[i], c->seen[i]);
}

/* The contract's accessors. */
static void test_accessors(void **state) {
  rig *r = *state;
  assert_ptr_equal(r->pdo, dl_wdf_device_pdo(r->d));
  assert_ptr_equal(r->m, dl_wdf_device_machine(r->d));
  assert_int_equal(0, dl_wdf_device_alignment(r->d));
  r->d->alignment = 7;
  assert_int_equal(7, dl_wdf_device_alignment(r->d));
  assert_string_equal("fdo", r->d->fdo->name);
  assert_int_equal(DL_EINVAL, dl_wdf_device_add_power_hook(r->d, NULL, NULL));
}

/* Hooks run up after PostInterruptsEnabled in order, down before PreInterruptsDisabled. */
static void test_hooks_order(void **state) {
  rig *r = *state;
  hook a = {&r->c, "a", 0}, b = {&r->c, "b", 0}, x = {&r->c, "x", 0};
  assert_int_equal(DL_OK, dl_wdf_device_add_power_hook(r->d, on_power, &a));
  assert_int_equal(DL_OK, dl_wdf_device_add_power_hook(r->d, on_power, &x));
  assert_int_equal(DL_OK, dl_wdf_device_add_power_hook(r->d, on_power, &b));
  dl_wdf_device_remove_power_hook(r->d, &x);
  assert_int_equal(0, dl_wdf_device_start(r->d, NULL, 0));
  assert_int_equal(0, dl_wdf_device_set_power(r->d, DL_WDF_POWER_D3));
  static const char *const want[] = {
    "EvtDevicePrepareHardware", "EvtDeviceD0Entry", "EvtDeviceD0EntryPostInterruptsEnabled",
    "a up", "b up", "EvtDeviceSelfManagedIoInit", "EvtDeviceSelfManagedIoSuspend", "a down", "b down",
    "EvtDeviceD0ExitPreInterruptsDisabled", "EvtDeviceD0Exit",
  };
  assert_seen(&r->c, want, 11);
  assert_int_equal(DL_WDF_STOPPED, r->d->state);
  assert_int_equal(DL_WDF_POWER_D3, r->d->power);
}

/* The first failing hook stops power-up; every hook goes down; the device fails. */
static void test_hook_failure(void **state) {
  rig *r = *state;
  hook a = {&r->c, "a", 0}, b = {&r->c, "b", 0xC000009Au}, c = {&r->c, "c", 0};
  dl_wdf_device_add_power_hook(r->d, on_power, &a);
  dl_wdf_device_add_power_hook(r->d, on_power, &b);
  dl_wdf_device_add_power_hook(r->d, on_power, &c);
  assert_int_equal(0xC000009Au, dl_wdf_device_start(r->d, NULL, 0));
  static const char *const want[] = {
    "EvtDevicePrepareHardware", "EvtDeviceD0Entry", "EvtDeviceD0EntryPostInterruptsEnabled",
    "a up", "b up", "a down", "b down", "c down", "EvtDeviceD0ExitPreInterruptsDisabled",
    "EvtDeviceD0Exit", "EvtDeviceReleaseHardware",
  };
  assert_seen(&r->c, want, 11);
  assert_int_equal(DL_WDF_FAILED, r->d->state);
  assert_int_equal(DL_STATUS_INVALID_DEVICE_STATE, dl_wdf_device_set_power(r->d, DL_WDF_POWER_D0));
}

/* Self-managed I/O: Init on the first power-up, Restart on the next,
** Suspend first on each power-down, Flush and Cleanup after removal. */
static void test_self_managed_io(void **state) {
  rig *r = *state;
  assert_int_equal(0, dl_wdf_device_start(r->d, NULL, 0));
  assert_int_equal(0, dl_wdf_device_set_power(r->d, DL_WDF_POWER_D3));
  assert_int_equal(0, dl_wdf_device_set_power(r->d, DL_WDF_POWER_D0));
  assert_int_equal(0, dl_wdf_device_remove(r->d));
  static const char *const want[] = {
    "EvtDevicePrepareHardware", "EvtDeviceD0Entry", "EvtDeviceD0EntryPostInterruptsEnabled",
    "EvtDeviceSelfManagedIoInit",
    "EvtDeviceSelfManagedIoSuspend", "EvtDeviceD0ExitPreInterruptsDisabled", "EvtDeviceD0Exit",
    "EvtDeviceD0Entry", "EvtDeviceD0EntryPostInterruptsEnabled", "EvtDeviceSelfManagedIoRestart",
    "EvtDeviceSelfManagedIoSuspend", "EvtDeviceD0ExitPreInterruptsDisabled", "EvtDeviceD0Exit",
    "EvtDeviceReleaseHardware", "EvtDeviceSelfManagedIoFlush", "EvtDeviceSelfManagedIoCleanup",
  };
  assert_seen(&r->c, want, 16);
}

/* A failed EvtDeviceSelfManagedIoInit powers the device down and fails it. */
static void test_self_managed_io_init_fails(void **state) {
  rig *r = *state;
  r->c.fail_event = DL_WDF_SELF_MANAGED_IO_INIT + 1;
  assert_int_equal(0xC0000001u, dl_wdf_device_start(r->d, NULL, 0));
  static const char *const want[] = {
    "EvtDevicePrepareHardware", "EvtDeviceD0Entry", "EvtDeviceD0EntryPostInterruptsEnabled",
    "EvtDeviceSelfManagedIoInit", "EvtDeviceD0ExitPreInterruptsDisabled", "EvtDeviceD0Exit",
    "EvtDeviceReleaseHardware",
  };
  assert_seen(&r->c, want, 7);
  assert_int_equal(DL_WDF_FAILED, r->d->state);
}

/* Sequential presentation, and a second completion refused. */
static void test_queue(void **state) {
  rig *r = *state;
  dl_wdf_queue *q;
  assert_int_equal(DL_OK, dl_wdf_queue_new(r->d, DL_WDF_DISPATCH_SEQUENTIAL, 1, &q));
  assert_int_equal(DL_EBUSY, dl_wdf_queue_new(r->d, DL_WDF_DISPATCH_PARALLEL, 1, &q));
  assert_int_equal(0, dl_wdf_device_start(r->d, NULL, 0));
  dl_irp *irp[2];
  dl_wdf_request *req[2];
  for (int i = 0; i < 2; i++) {
    assert_int_equal(DL_OK, dl_irp_new(r->m, DL_IRP_MJ_DEVICE_CONTROL, 0, 0, 0, &irp[i]));
    assert_int_equal(DL_OK, dl_wdf_queue_add(q, irp[i], &req[i]));
    dl_wdf_queue_dispatch(q);
  }
  assert_int_equal(1, r->c.npresented);
  assert_ptr_equal(irp[0], dl_wdf_request_irp(req[0]));
  assert_ptr_equal(r->d, dl_wdf_request_device(req[0]));
  uint64_t id0 = req[0]->id;
  assert_ptr_equal(irp[0], dl_wdf_request_complete(req[0], 0, 12));  /* the request is gone */
  assert_int_equal(12, irp[0]->information);
  assert_null(dl_machine_find(r->m, id0));
  assert_null(dl_wdf_request_complete(req[1], 0, 0));  /* not presented yet: 0x10D/0x6 */
  assert_int_equal(1, (int)dl_verifier_count(r->m));
  assert_int_equal(DL_WDF_REQUEST_FATAL_ERROR, dl_verifier_at(r->m, 0)->p1);
  dl_wdf_queue_dispatch(q);
  assert_int_equal(2, r->c.npresented);
  assert_ptr_equal(req[1], r->c.presented[1]);
}

/* WdfInterruptCreate in EvtDevicePrepareHardware: what each call returned. */
typedef struct prepare {
  uint32_t st[6];
  dl_wdf_interrupt *wi[6];
} prepare;

static uint32_t on_prepare(void *ctx, dl_wdf_device *d, dl_wdf_event ev, uint32_t state) {
  (void)state;
  prepare *p = ctx;
  if (ev != DL_WDF_PREPARE_HARDWARE) return 0;
  p->st[0] = dl_wdf_interrupt_create(d, 0, 0, -1, -1, 1, &p->wi[0]);  /* no descriptors */
  p->st[1] = dl_wdf_interrupt_create(d, 0, 0, 3, 3, 0, &p->wi[1]);    /* ShareVector not default */
  p->st[2] = dl_wdf_interrupt_create(d, 0, 0, 0, 0, 1, &p->wi[2]);    /* a memory descriptor */
  p->st[3] = dl_wdf_interrupt_create(d, 0, 0, -2, 3, 1, &p->wi[3]);   /* not the device's */
  p->st[4] = dl_wdf_interrupt_create(d, 0, 0, 3, 3, 1, &p->wi[4]);    /* the second interrupt */
  return 0;
}

static const dl_wdf_ops prepare_ops = {.event = on_prepare};

/* KMDF's rules for WdfInterruptCreate: in EvtDriverDeviceAdd without
** descriptors, taking them in order at start; in EvtDevicePrepareHardware
** with both descriptors (interrupt ones of the device) and ShareVector
** WdfUseDefault; never after. A chosen descriptor is kept; MessageIDs
** count the device's interrupts, for message interrupts only. */
static void test_interrupt_rules(void **state) {
  rig *r = *state;
  prepare p = {0};
  dl_wdf_device *d;
  assert_int_equal(DL_OK, dl_wdf_device_new(r->m, NULL, r->pdo, "fdo2", &prepare_ops, &p, &d));
  dl_wdf_device_set_events(d, 1u << DL_WDF_PREPARE_HARDWARE);
  dl_wdf_interrupt *early, *bad;
  assert_int_equal(DL_STATUS_INVALID_PARAMETER, dl_wdf_interrupt_create(d, 0, 0, 2, 2, 1, &bad));
  assert_int_equal(DL_STATUS_SUCCESS, dl_wdf_interrupt_create(d, 0, 0, -1, -1, 1, &early));
  dl_cm_descriptor res[4] = {
    {.type = DL_CM_MEMORY, .start = 0x100000000u, .length = 0x1000},
    {.type = DL_CM_PORT, .flags = DL_CM_PORT_IO, .start = 0x1000, .length = 0x20},
  };
  dl_cm_interrupt(&(dl_devmodel_irq){40, 7, 0, 0}, &res[2]);
  dl_cm_interrupt(&(dl_devmodel_irq){41, 8, 0, 1}, &res[3]);
  assert_int_equal(0, dl_wdf_device_start(d, res, 4));
  assert_int_equal(DL_STATUS_INVALID_DEVICE_STATE, p.st[0]);
  assert_int_equal(DL_STATUS_INVALID_DEVICE_STATE, p.st[1]);
  assert_int_equal(DL_STATUS_INVALID_PARAMETER, p.st[2]);
  assert_int_equal(DL_STATUS_INVALID_PARAMETER, p.st[3]);
  assert_int_equal(DL_STATUS_SUCCESS, p.st[4]);
  assert_int_equal(2, dl_wdf_interrupt_resource(early));
  assert_int_equal(40, dl_wdf_interrupt_vector(early));
  assert_int_equal(0, dl_wdf_interrupt_message_id(early));  /* a line */
  assert_int_equal(3, dl_wdf_interrupt_resource(p.wi[4]));
  assert_int_equal(8, dl_wdf_interrupt_level(p.wi[4]));
  assert_int_equal(1, dl_wdf_interrupt_message_id(p.wi[4]));  /* the device's second */
  assert_true(dl_wdf_interrupt_connected(early));
  assert_true(dl_wdf_interrupt_connected(p.wi[4]));
  assert_true(p.wi[4]->latched);
  assert_false(p.wi[4]->shared);
  assert_true(early->shared);
  dl_wdf_interrupt_info info;
  dl_wdf_interrupt_get_info(p.wi[4], &info);
  assert_int_equal(1, info.message_number);
  assert_true(info.message_signaled && info.latched);
  assert_int_equal(DL_CM_SHARE_DEVICE_EXCLUSIVE, info.share);
  dl_wdf_interrupt_get_info(early, &info);
  assert_int_equal(0, info.message_number);
  assert_int_equal(7, info.irql);
  assert_false(info.latched || info.message_signaled);
  assert_int_equal(DL_CM_SHARE_SHARED, info.share);
  assert_int_equal(DL_STATUS_INVALID_DEVICE_STATE, dl_wdf_interrupt_create(d, 0, 0, -1, -1, 1, &bad));
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_accessors, setup, teardown),
    cmocka_unit_test_setup_teardown(test_hooks_order, setup, teardown),
    cmocka_unit_test_setup_teardown(test_hook_failure, setup, teardown),
    cmocka_unit_test_setup_teardown(test_queue, setup, teardown),
    cmocka_unit_test_setup_teardown(test_self_managed_io, setup, teardown),
    cmocka_unit_test_setup_teardown(test_self_managed_io_init_fails, setup, teardown),
    cmocka_unit_test_setup_teardown(test_interrupt_rules, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
