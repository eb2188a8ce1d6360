/*
** test_driver.c: the I/O manager of core/io/dl_driver.c without Lua:
** DRIVER_OBJECT dispatch, IoCallDriver to a missing major function, StartIo
** serialisation, IoRequestDpc, KeSetTimer's units and the verifier reports
** of IRQL misuse (reference: windows-dma.md; the WDK's bug checks 0xC9,
** 0xC4 and 0x44).
*/
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "rig_io.h"
#include <string.h>

#include "base/dl_status.h"
#include "io/dl_driver.h"
#include "kernel/dl_interrupt.h"
#include "machine/dl_clock.h"
#include "machine/dl_machine.h"
#include "machine/dl_verifier.h"

/* A machine, a driver, its device and what the routines saw. */
typedef struct rig {
  dl_machine *m;
  dl_driver *drv;
  dl_device *dev;
  dl_irp *started[8];      /* StartIo's IRPs, in order */
  uint8_t start_irql[8];
  int nstarted;
  int dispatched;          /* dispatch routine calls */
  uint8_t dispatch_irql;
  int completions;
  uint64_t dpc_args[2];
  int dpcs;
} rig;

static rig R;

static int setup(void **state) {
  R = (rig){0};
  if (rig_io_open(&R.m, &R.drv, &R.dev)) return -1;
  *state = &R;
  return 0;
}

static int teardown(void **state) {
  rig *r = *state;
  dl_machine_free(r->m);
  return 0;
}

static void start_io(void *ctx, dl_device *dev, dl_irp *irp) {
  rig *r = ctx;
  assert_ptr_equal(dl_device_current_irp(dev), irp);  /* CurrentIrp is the one StartIo gets */
  r->start_irql[r->nstarted] = dl_machine_irql(r->m);
  r->started[r->nstarted++] = irp;
}

/* Queues every IRP for StartIo, as a packet-based driver does. */
static int queue_dispatch(void *ctx, dl_device *dev, dl_irp *irp, uint32_t *status) {
  rig *r = ctx;
  r->dispatched++;
  r->dispatch_irql = dl_machine_irql(r->m);
  dl_irp_mark_pending(irp);
  dl_io_start_packet(dev, irp, NULL);
  *status = DL_STATUS_PENDING;
  return 1;
}

/* Completes at once with STATUS_SUCCESS. */
static int complete_dispatch(void *ctx, dl_device *dev, dl_irp *irp, uint32_t *status) {
  (void)dev;
  rig *r = ctx;
  r->dispatched++;
  dl_irp_set_status(irp, DL_STATUS_SUCCESS);
  dl_io_complete_request(irp);
  *status = DL_STATUS_SUCCESS;
  return 1;
}

static void on_complete(void *ctx, dl_irp *irp) {
  (void)irp;
  ((rig *)ctx)->completions++;
}

/* An IRP_MJ_DEVICE_CONTROL of no buffer (no MDL needed). */
static dl_irp *ioctl_irp(rig *r) {
  dl_irp *irp;
  assert_int_equal(dl_irp_new(r->m, DL_IRP_MJ_DEVICE_CONTROL, 0, 0, 0, &irp), DL_OK);
  dl_irp_set_completion(irp, on_complete, r);
  return irp;
}

static const dl_report *last_report(rig *r) {
  uint64_t n = dl_verifier_count(r->m);
  return n ? dl_verifier_at(r->m, (size_t)n - 1) : NULL;
}

/* IoCreateDevice links device and driver; IoCallDriver calls
** MajorFunction[major] at the caller's IRQL and returns its status. */
static void test_dispatch(void **state) {
  rig *r = *state;
  assert_ptr_equal(dl_device_driver(r->dev), r->drv);
  assert_ptr_equal(dl_driver_next_device(r->drv, NULL), r->dev);
  assert_null(dl_driver_next_device(r->drv, r->dev));
  assert_int_equal(dl_driver_set_major(r->drv, DL_IRP_MJ_MAXIMUM_FUNCTION + 1, complete_dispatch, r),
                   DL_EINVAL);
  dl_driver_set_major(r->drv, DL_IRP_MJ_DEVICE_CONTROL, complete_dispatch, r);
  dl_irp *irp = ioctl_irp(r);
  uint32_t status = 1;
  assert_int_equal(dl_io_call_driver(r->dev, irp, &status), DL_OK);
  assert_int_equal(status, DL_STATUS_SUCCESS);
  assert_int_equal(r->dispatched, 1);
  assert_int_equal(r->dispatch_irql, DL_PASSIVE_LEVEL);
  assert_true(dl_irp_completed(irp));
  assert_int_equal(r->completions, 1);
  assert_int_equal(dl_io_call_driver(r->dev, irp, &status), DL_ESTATE);  /* sent once */
  assert_int_equal(dl_verifier_count(r->m), 0);
  dl_device *orphan;
  assert_int_equal(dl_device_new(r->m, "orphan", &orphan), DL_OK);
  assert_int_equal(dl_io_call_driver(orphan, ioctl_irp(r), &status), DL_EINVAL);
}

/* A major function without a routine: the I/O manager completes the IRP
** with STATUS_INVALID_DEVICE_REQUEST. */
static void test_missing_major(void **state) {
  rig *r = *state;
  dl_irp *irp = ioctl_irp(r);
  uint32_t status = 0;
  assert_int_equal(dl_io_call_driver(r->dev, irp, &status), DL_OK);
  assert_int_equal(status, DL_STATUS_INVALID_DEVICE_REQUEST);
  assert_int_equal(dl_irp_status(irp), DL_STATUS_INVALID_DEVICE_REQUEST);
  assert_true(dl_irp_completed(irp));
  assert_int_equal(r->completions, 1);
  assert_int_equal(dl_verifier_count(r->m), 0);
}

/* Pends a device-control IRP and keeps it (the test completes it). */
static int pend_dispatch(void *ctx, dl_device *dev, dl_irp *irp, uint32_t *status) {
  (void)dev;
  ((rig *)ctx)->dispatched++;
  dl_irp_mark_pending(irp);
  *status = DL_STATUS_PENDING;
  return 1;
}

/* IoCompleteRequest with IoStatus.Status STATUS_PENDING or -1 is 0xC9/0x06
** (P2 the status, P3 the IRP); nothing is completed, and with a final
** status the same IRP completes once. */
static void test_complete_with_pending_status(void **state) {
  rig *r = *state;
  dl_driver_set_major(r->drv, DL_IRP_MJ_DEVICE_CONTROL, pend_dispatch, r);
  dl_irp *irp = ioctl_irp(r);
  uint32_t status;
  assert_int_equal(dl_io_call_driver(r->dev, irp, &status), DL_OK);
  const uint32_t bad[] = {DL_STATUS_PENDING, 0xFFFFFFFFu};
  for (int i = 0; i < 2; i++) {
    dl_irp_set_status(irp, bad[i]);
    assert_int_equal(dl_io_complete_request(irp), DL_ESTATE);
    assert_int_equal(dl_verifier_count(r->m), (uint64_t)i + 1);
    const dl_report *rep = last_report(r);
    assert_int_equal(rep->bugcheck, DL_BUGCHECK_IOMANAGER);
    assert_int_equal(rep->p1, DL_IOV_COMPLETE_PENDING);
    assert_int_equal(rep->p2, bad[i]);
    assert_int_equal(rep->p3, dl_irp_id(irp));
    assert_false(dl_irp_completed(irp));
    assert_int_equal(r->completions, 0);
  }
  dl_irp_set_status(irp, DL_STATUS_SUCCESS);
  assert_int_equal(dl_io_complete_request(irp), DL_OK);
  assert_true(dl_irp_completed(irp));
  assert_int_equal(r->completions, 1);
  assert_int_equal(dl_verifier_count(r->m), 2);
}

/* The device queue: one IRP in StartIo at a time, at DISPATCH_LEVEL, the
** rest FIFO until IoStartNextPacket; keyed inserts go after equal keys. */
static void test_start_io_serialisation(void **state) {
  rig *r = *state;
  dl_driver_set_major(r->drv, DL_IRP_MJ_DEVICE_CONTROL, queue_dispatch, r);
  dl_irp *irp[3];
  uint32_t status;
  assert_int_equal(dl_io_start_packet(r->dev, ioctl_irp(r), NULL), DL_EINVAL);  /* no StartIo */
  dl_driver_set_start_io(r->drv, start_io, r);
  for (int i = 0; i < 3; i++) {
    irp[i] = ioctl_irp(r);
    assert_int_equal(dl_io_call_driver(r->dev, irp[i], &status), DL_OK);
    assert_int_equal(status, DL_STATUS_PENDING);
  }
  assert_int_equal(r->nstarted, 1);
  assert_ptr_equal(r->started[0], irp[0]);
  assert_int_equal(r->start_irql[0], DL_DISPATCH_LEVEL);
  assert_int_equal(dl_machine_irql(r->m), DL_PASSIVE_LEVEL);  /* restored */
  assert_true(dl_irp_queued(irp[1]) && dl_irp_queued(irp[2]));
  assert_int_equal(dl_io_start_packet(r->dev, irp[1], NULL), DL_ESTATE);  /* already queued */
  dl_machine_set_irql(r->m, DL_DISPATCH_LEVEL);
  for (int i = 0; i < 3; i++) {
    dl_irp_set_status(irp[i], DL_STATUS_SUCCESS);
    assert_int_equal(dl_io_complete_request(irp[i]), DL_OK);
    assert_int_equal(dl_io_start_next_packet(r->dev), DL_OK);
  }
  dl_machine_set_irql(r->m, DL_PASSIVE_LEVEL);
  assert_int_equal(r->nstarted, 3);
  for (int i = 0; i < 3; i++) assert_ptr_equal(r->started[i], irp[i]);
  assert_null(dl_device_current_irp(r->dev));  /* the queue ran dry: idle */
  assert_int_equal(r->completions, 3);
  assert_int_equal(dl_verifier_count(r->m), 0);
}

/* IoStartPacket with keys: after every entry whose key is not greater. */
static void test_start_packet_keys(void **state) {
  rig *r = *state;
  dl_driver_set_start_io(r->drv, start_io, r);
  static const uint32_t keys[] = {9, 7, 3, 7, 5};
  dl_irp *irp[5];
  for (int i = 0; i < 5; i++) {
    irp[i] = ioctl_irp(r);
    assert_int_equal(dl_irp_send(irp[i], r->dev), DL_OK);
    assert_int_equal(dl_io_start_packet(r->dev, irp[i], &keys[i]), DL_OK);
  }
  dl_machine_set_irql(r->m, DL_DISPATCH_LEVEL);
  for (int i = 0; i < 4; i++) dl_io_start_next_packet(r->dev);
  static const int order[] = {0, 2, 4, 1, 3};  /* 9 first (idle), then 3, 5, 7, 7 */
  for (int i = 0; i < 5; i++) assert_ptr_equal(r->started[i], irp[order[i]]);
}

/* IRQL misuse: a report with the documented bug check, the call going on. */
static void test_irql_reports(void **state) {
  rig *r = *state;
  dl_driver_set_major(r->drv, DL_IRP_MJ_DEVICE_CONTROL, complete_dispatch, r);
  dl_driver_set_start_io(r->drv, start_io, r);
  dl_machine_set_irql(r->m, DL_DISPATCH_LEVEL);
  dl_device *dev;
  assert_int_equal(dl_io_create_device(r->drv, NULL, &dev), DL_OK);  /* made anyway */
  const dl_report *rep = last_report(r);
  assert_int_equal(rep->bugcheck, 0xC4);
  assert_int_equal(rep->p1, 0x2000A);  /* IrqlIoPassive1 */
  assert_string_equal(rep->message, "IoCreateDevice: called at IRQL 2; it must be called at IRQL 0");
  dl_machine_set_irql(r->m, DL_HIGH_LEVEL);
  uint32_t status;
  dl_irp *irp = ioctl_irp(r);
  assert_int_equal(dl_io_call_driver(r->dev, irp, &status), DL_OK);
  assert_int_equal(dl_verifier_count(r->m), 3);  /* IoCallDriver, then IoCompleteRequest */
  rep = dl_verifier_at(r->m, 1);
  assert_int_equal(rep->bugcheck, 0xC9);
  assert_int_equal(rep->p1, 0x10);
  assert_int_equal(rep->p2, DL_HIGH_LEVEL);
  rep = dl_verifier_at(r->m, 2);
  assert_int_equal(rep->bugcheck, 0xC9);
  assert_int_equal(rep->p1, 0x0E);
  assert_string_equal(rep->message,
                      "IoCompleteRequest: called at IRQL 15; it must be called at IRQL <= 2");
  assert_true(dl_irp_completed(irp));
  dl_machine_set_irql(r->m, DL_PASSIVE_LEVEL);
  assert_int_equal(dl_io_start_next_packet(r->dev), DL_OK);
  rep = last_report(r);
  assert_int_equal(rep->bugcheck, 0xC4);
  assert_string_equal(rep->message,
                      "IoStartNextPacket: called at IRQL 0; it must be called at IRQL 2");
  assert_int_equal(dl_io_complete_request(irp), DL_ESTATE);  /* a second completion: 0x44 */
  assert_int_equal(last_report(r)->bugcheck, 0x44);
  assert_int_equal(dl_verifier_count(r->m), 5);
}

/* The dispatch routine's return: STATUS_PENDING needs IoMarkIrpPending. */
static int pending_unmarked(void *ctx, dl_device *dev, dl_irp *irp, uint32_t *status) {
  (void)ctx;
  (void)dev;
  (void)irp;
  *status = DL_STATUS_PENDING;
  return 1;
}

static void test_dispatch_return_rules(void **state) {
  rig *r = *state;
  dl_driver_set_major(r->drv, DL_IRP_MJ_DEVICE_CONTROL, pending_unmarked, r);
  uint32_t status;
  dl_io_call_driver(r->dev, ioctl_irp(r), &status);
  const dl_report *rep = last_report(r);
  assert_non_null(rep);
  assert_int_equal(rep->bugcheck, 0xC4);
  assert_non_null(strstr(rep->message, "without calling IoMarkIrpPending"));
}

/* The ISR queues the device's DpcForIsr with Irp and Context. */
static void dpc_for_isr(void *ctx, dl_dpc *dpc, uint64_t a1, uint64_t a2) {
  (void)dpc;
  rig *r = ctx;
  r->dpc_args[0] = a1;
  r->dpc_args[1] = a2;
  r->dpcs++;
}

static int isr(void *ctx, dl_interrupt *intr) {
  (void)intr;
  rig *r = ctx;
  int queued;
  assert_int_equal(dl_io_request_dpc(r->dev, 11, 22, &queued), DL_OK);
  assert_true(queued);
  dl_line_set(r->m, 40, 0, 0);
  return 1;
}

static void test_request_dpc(void **state) {
  rig *r = *state;
  int queued;
  assert_int_equal(dl_io_request_dpc(r->dev, 1, 2, &queued), DL_ESTATE);  /* not from an ISR */
  assert_int_equal(last_report(r)->bugcheck, 0xC4);
  assert_string_equal(last_report(r)->message,
                      "IoRequestDpc: legal only at DIRQL from an ISR (IRQL is 0)");
  assert_false(queued);
  assert_int_equal(dl_io_initialize_dpc_request(r->dev, dpc_for_isr, r), DL_OK);
  dl_interrupt *intr;
  assert_int_equal(dl_interrupt_connect(r->m, 40, 6, 6, 0, 0, 1, isr, r, &intr), DL_OK);
  dl_line_set(r->m, 40, 1, 0);
  while (dl_clock_step(dl_machine_clock(r->m))) {}
  assert_int_equal(r->dpcs, 1);
  assert_int_equal(r->dpc_args[0], 11);
  assert_int_equal(r->dpc_args[1], 22);
}

/* KeSetTimer's DueTime: negative relative, positive absolute, in 100 ns. */
static void test_timer_units(void **state) {
  rig *r = *state;
  assert_int_equal(dl_due_time_ns(5000, -10), 5000 + 1000);  /* 10 x 100 ns from now */
  assert_int_equal(dl_due_time_ns(5000, 30), 3000);           /* absolute 3 us: in the past */
  assert_int_equal(dl_due_time_ns(0, INT64_MIN), DL_TIME_END);  /* saturates at the end of time */
  assert_int_equal(dl_due_time_ns(DL_TIME_END - 5, -1), DL_TIME_END);
  assert_int_equal(dl_due_time_ns(0, INT64_MAX), DL_TIME_END);
  dl_timer *t;
  assert_int_equal(dl_timer_new(r->m, &t), DL_OK);
  dl_clock *c = dl_machine_clock(r->m);
  uint64_t now = dl_clock_now(c);
  assert_int_equal(dl_timer_set_due(t, -10000, 0, NULL), 0);  /* 1 ms relative */
  assert_int_equal(dl_timer_due(t), now + 1000000);
  assert_int_equal(dl_timer_set_due(t, (int64_t)(now / 100) + 20000, 0, NULL), 1);  /* was set */
  assert_int_equal(dl_timer_due(t), (now / 100 + 20000) * 100);
  while (dl_clock_step(c)) {}
  assert_true(dl_timer_signaled(t));
  assert_int_equal(dl_clock_now(c), (now / 100 + 20000) * 100);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_dispatch, setup, teardown),
    cmocka_unit_test_setup_teardown(test_missing_major, setup, teardown),
    cmocka_unit_test_setup_teardown(test_complete_with_pending_status, setup, teardown),
    cmocka_unit_test_setup_teardown(test_start_io_serialisation, setup, teardown),
    cmocka_unit_test_setup_teardown(test_start_packet_keys, setup, teardown),
    cmocka_unit_test_setup_teardown(test_irql_reports, setup, teardown),
    cmocka_unit_test_setup_teardown(test_dispatch_return_rules, setup, teardown),
    cmocka_unit_test_setup_teardown(test_request_dpc, setup, teardown),
    cmocka_unit_test_setup_teardown(test_timer_units, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
