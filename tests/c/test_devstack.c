/*
** test_devstack.c: device stacks and a device object's life without Lua
** (core/io/dl_devstack.c, dl_irpstack.c): IoAttachDeviceToDeviceStack's
** StackSize and return, IoDetachDevice (0xC9/0x202 twice), IoDeleteDevice
** refused while the device is in use (0xC9/0x201 attached, 0xC7/1 its
** DpcForIsr queued, an IRP being processed, an adapter's waiting request:
** nothing changes), and an IRP passed down a stack with copy, skip and
** completion routines (STATUS_MORE_PROCESSING_REQUIRED, PendingReturned,
** 0xC9/0x212 and 0x228).
*/
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "rig.h"

#include "io/dl_devstack.h"
#include "io/dl_driver.h"
#include "io/dl_irpstack.h"
#include "io/dl_symlink.h"
#include "kernel/dl_cpu.h"
#include "machine/dl_clock.h"

/* A machine with a driver and two of its devices: a filter over a lower one. */
typedef struct stk {
  rig r;
  dl_driver *drv;
  dl_device *lower, *filter;
  /* what the routines do and saw */
  int copy, skip, set_routine, lower_pends, routine_mpr, routine_marks;
  int lower_calls, routine_calls, completions;
  dl_device *routine_dev;
  int routine_pending;
  dl_irp *held;  /* the IRP the lower driver keeps pending */
} stk;

static stk S;

static int setup(void **state) {
  memset(&S, 0, sizeof S);
  if (rig_open(&S.r, NULL)) return -1;
  if (dl_driver_new(S.r.m, "\\Driver\\s", &S.drv)) return -1;
  if (dl_io_create_device(S.drv, "lower", &S.lower)) return -1;
  if (dl_io_create_device(S.drv, "filter", &S.filter)) return -1;
  *state = &S;
  return 0;
}

static int teardown(void **state) {
  stk *s = *state;
  rig_close(&s->r);
  return 0;
}

static uint64_t reports(stk *s) { return rig_reports(&s->r); }

/* Asserts one report since before, with this bug check and P1. */
static void expect(stk *s, uint64_t before, uint32_t bugcheck, uint32_t p1) {
  assert_int_equal(reports(s), before + 1);
  const dl_report *rep = rig_last(&s->r);
  assert_int_equal(rep->bugcheck, bugcheck);
  assert_int_equal(rep->p1, p1);
}

static dl_irp *read_irp(stk *s) {
  dl_irp *irp;
  assert_int_equal(dl_irp_new(s->r.m, DL_IRP_MJ_READ, 0, 0, 0, &irp), DL_OK);
  return irp;
}

/* ---- IoAttachDeviceToDeviceStack / IoDetachDevice -------------------------- */

/* Attaching to a device in the middle of a stack attaches to its top;
** StackSize counts the devices beneath plus one; AttachedDevice/AttachedTo
** link them; a device already in a stack cannot attach again. */
static void test_attach(void **state) {
  stk *s = *state;
  dl_device *top, *lower;
  assert_int_equal(dl_device_stack_size(s->lower), 1);
  assert_int_equal(dl_io_attach_device_to_device_stack(s->filter, s->lower, &lower), DL_OK);
  assert_ptr_equal(lower, s->lower);
  assert_int_equal(dl_device_stack_size(s->filter), 2);
  assert_ptr_equal(dl_device_attached(s->lower), s->filter);
  assert_ptr_equal(dl_device_attached_to(s->filter), s->lower);
  assert_int_equal(dl_io_create_device(s->drv, "top", &top), DL_OK);
  assert_int_equal(dl_io_attach_device_to_device_stack(top, s->lower, &lower), DL_OK);
  assert_ptr_equal(lower, s->filter);  /* the top of the stack, not the target */
  assert_int_equal(dl_device_stack_size(top), 3);
  assert_ptr_equal(dl_io_get_attached_device(s->lower), top);
  assert_int_equal(dl_io_attach_device_to_device_stack(s->filter, top, &lower), DL_ESTATE);
  assert_null(lower);
  assert_int_equal(dl_io_attach_device_to_device_stack(top, top, &lower), DL_EINVAL);
}

/* IoAttachDevice finds the target by name (a link too); an unknown name
** is DL_ERANGE (STATUS_OBJECT_NAME_NOT_FOUND), a deleted device has none. */
static void test_attach_by_name(void **state) {
  stk *s = *state;
  dl_device *lower, *gone;
  assert_int_equal(dl_io_attach_device(s->filter, "nothing", &lower), DL_ERANGE);
  assert_null(lower);
  assert_int_equal(dl_io_create_symbolic_link(s->r.m, "\\DosDevices\\L", "lower"), DL_OK);
  assert_int_equal(dl_io_attach_device(s->filter, "\\DosDevices\\L", &lower), DL_OK);
  assert_ptr_equal(lower, s->lower);
  assert_int_equal(dl_io_create_device(s->drv, "gone", &gone), DL_OK);
  assert_int_equal(dl_io_delete_device(gone, NULL), DL_OK);
  assert_int_equal(dl_io_attach_device(gone, "lower", &lower), DL_ESTATE);  /* a deleted source */
  assert_int_equal(dl_io_attach_device(s->filter, "gone", &lower), DL_ERANGE);
}

/* IoDetachDevice(TargetDevice) takes the device on top away; a second one
** is 0xC9/0x202 and changes nothing. */
static void test_detach(void **state) {
  stk *s = *state;
  dl_device *lower;
  assert_int_equal(dl_io_attach_device_to_device_stack(s->filter, s->lower, &lower), DL_OK);
  uint64_t before = reports(s);
  assert_int_equal(dl_io_detach_device(s->lower), DL_OK);
  assert_null(dl_device_attached(s->lower));
  assert_null(dl_device_attached_to(s->filter));
  assert_int_equal(reports(s), before);
  assert_int_equal(dl_io_detach_device(s->lower), DL_ESTATE);
  expect(s, before, DL_BUGCHECK_IOMANAGER, DL_IOV_DETACH_NOT_ATTACHED);
}

/* ---- IoDeleteDevice ------------------------------------------------------ */

/* Deleting a device still in a stack (either end) is 0xC9/0x201 and deletes
** nothing; detached, it is deleted: out of its driver's list and the name
** space, IoCallDriver no longer reaches it, a second delete is refused. */
static void test_delete_attached(void **state) {
  stk *s = *state;
  dl_device *lower;
  dl_delete_refusal why;
  assert_int_equal(dl_io_attach_device_to_device_stack(s->filter, s->lower, &lower), DL_OK);
  uint64_t before = reports(s);
  assert_int_equal(dl_io_delete_device(s->filter, &why), DL_EBUSY);
  assert_int_equal(why, DL_DELETE_ATTACHED);
  expect(s, before, DL_BUGCHECK_IOMANAGER, DL_IOV_DELETE_WHILE_ATTACHED);
  assert_int_equal(dl_io_delete_device(s->lower, &why), DL_EBUSY);  /* the lower one too */
  expect(s, before + 1, DL_BUGCHECK_IOMANAGER, DL_IOV_DELETE_WHILE_ATTACHED);
  assert_false(dl_device_deleted(s->filter));
  assert_int_equal(dl_io_detach_device(s->lower), DL_OK);
  assert_int_equal(dl_io_delete_device(s->filter, &why), DL_OK);
  assert_true(dl_device_deleted(s->filter));
  assert_null(dl_device_driver(s->filter));
  assert_ptr_equal(dl_driver_next_device(s->drv, NULL), s->lower);
  assert_null(dl_driver_next_device(s->drv, s->lower));
  uint32_t st;
  assert_int_equal(dl_io_call_driver(s->filter, read_irp(s), &st), DL_EINVAL);
  assert_int_equal(dl_io_delete_device(s->filter, &why), DL_ESTATE);
  assert_int_equal(why, DL_DELETE_DELETED);
  assert_int_equal(reports(s), before + 2);
}

static void nop_dpc(void *ctx, dl_dpc *dpc, uint64_t a, uint64_t b) {
  (void)ctx, (void)dpc, (void)a, (void)b;
}

/* A DpcForIsr still queued: 0xC7 with P1 1 (a DPC in memory being freed);
** once it ran, the device goes and its DPC with it. */
static void test_delete_dpc_queued(void **state) {
  stk *s = *state;
  dl_delete_refusal why;
  assert_int_equal(dl_io_initialize_dpc_request(s->lower, nop_dpc, NULL), DL_OK);
  assert_int_equal(dl_dpc_insert(dl_device_dpc_for_isr(s->lower), 0, 0), 1);
  uint64_t before = reports(s);
  size_t dpcs = dl_machine_count(s->r.m, &dl_dpc_type);
  assert_int_equal(dl_io_delete_device(s->lower, &why), DL_EBUSY);
  assert_int_equal(why, DL_DELETE_DPC_QUEUED);
  expect(s, before, DL_BUGCHECK_TIMER_OR_DPC_INVALID, 1);
  assert_false(dl_device_deleted(s->lower));
  dl_clock_run(dl_machine_clock(s->r.m));
  assert_int_equal(dl_io_delete_device(s->lower, &why), DL_OK);
  assert_int_equal(dl_machine_count(s->r.m, &dl_dpc_type), dpcs - 1);
}

/* The lower driver: marks pending and keeps the IRP, or completes it. */
static int lower_dispatch(void *ctx, dl_device *dev, dl_irp *irp, uint32_t *status) {
  (void)dev;
  stk *s = ctx;
  s->lower_calls++;
  if (s->lower_pends) {
    dl_irp_mark_pending(irp);
    s->held = irp;
    *status = DL_STATUS_PENDING;
    return 1;
  }
  dl_irp_set_status(irp, DL_STATUS_SUCCESS);
  dl_io_complete_request(irp);
  *status = DL_STATUS_SUCCESS;
  return 1;
}

/* An IRP being processed (pending in the driver) keeps its device: no
** report, nothing deleted; completed, the device may go. */
static void test_delete_irp_pending(void **state) {
  stk *s = *state;
  dl_delete_refusal why;
  dl_driver_set_major(s->drv, DL_IRP_MJ_READ, lower_dispatch, s);
  s->lower_pends = 1;
  uint32_t st;
  dl_irp *irp = read_irp(s);
  assert_int_equal(dl_io_call_driver(s->lower, irp, &st), DL_OK);
  assert_int_equal(st, DL_STATUS_PENDING);
  uint64_t before = reports(s);
  assert_int_equal(dl_io_delete_device(s->lower, &why), DL_EBUSY);
  assert_int_equal(why, DL_DELETE_IRP);
  assert_ptr_equal(dl_device_user(s->lower), DL_OBJECT(irp));
  assert_int_equal(reports(s), before);
  dl_irp_set_status(irp, DL_STATUS_SUCCESS);
  assert_int_equal(dl_io_complete_request(irp), DL_OK);
  assert_int_equal(dl_io_delete_device(s->lower, &why), DL_OK);
}

static int keep_channel(void *ctx, dl_device *dev, uint64_t base) {
  (void)dev, (void)base;
  ++*(int *)ctx;
  return DL_KEEP_OBJECT;
}

/* A device whose channel request waits on an adapter, or which holds the
** channel, is needed by the adapter: refused without a report; after
** FreeAdapterChannel hands the channel on and releases it, both may go. */
static void test_delete_channel_waiting(void **state) {
  stk *s = *state;
  dl_delete_refusal why;
  dl_adapter *a = rig_adapter_for(&s->r, s->lower, rig_desc(0, 1, 0, 8192), NULL);
  int granted = 0;
  dl_machine_set_irql(s->r.m, DL_DISPATCH_LEVEL);
  assert_int_equal(dl_adapter_allocate_channel(a, s->lower, 1, keep_channel, &granted), 0);
  assert_int_equal(dl_adapter_allocate_channel(a, s->filter, 1, keep_channel, &granted), 0);
  dl_machine_set_irql(s->r.m, DL_PASSIVE_LEVEL);
  assert_int_equal(granted, 1);  /* the filter's request waits */
  uint64_t before = reports(s);
  assert_int_equal(dl_io_delete_device(s->filter, &why), DL_EBUSY);
  assert_int_equal(why, DL_DELETE_NEEDED);
  assert_ptr_equal(dl_device_user(s->filter), DL_OBJECT(a));
  assert_int_equal(dl_io_delete_device(s->lower, &why), DL_EBUSY);  /* holds the channel */
  assert_int_equal(why, DL_DELETE_NEEDED);
  assert_int_equal(reports(s), before);
  dl_machine_set_irql(s->r.m, DL_DISPATCH_LEVEL);
  dl_adapter_free_channel(a);  /* the filter's request gets it */
  assert_int_equal(granted, 2);
  assert_int_equal(dl_io_delete_device(s->lower, &why), DL_OK);
  dl_adapter_free_channel(a);
  dl_machine_set_irql(s->r.m, DL_PASSIVE_LEVEL);
  assert_int_equal(dl_io_delete_device(s->filter, &why), DL_OK);
  dl_adapter_put(a);
}

/* ---- an IRP down a stack ------------------------------------------------- */

static uint32_t routine(void *ctx, dl_device *dev, dl_irp *irp, int location) {
  (void)location;
  stk *s = ctx;
  s->routine_calls++;
  s->routine_dev = dev;
  s->routine_pending = dl_irp_pending_returned(irp);
  if (s->routine_marks && dl_irp_pending_returned(irp)) dl_irp_mark_pending(irp);
  return s->routine_mpr ? DL_STATUS_MORE_PROCESSING_REQUIRED : DL_STATUS_SUCCESS;
}

/* The filter: copies or skips, may set a routine, passes the IRP down. */
static int filter_dispatch(void *ctx, dl_device *dev, dl_irp *irp, uint32_t *status) {
  (void)dev;
  stk *s = ctx;
  if (s->skip) assert_int_equal(dl_irp_skip_current(irp), DL_OK);
  if (s->copy) assert_int_equal(dl_irp_copy_to_next(irp), DL_OK);
  if (s->set_routine)
    assert_int_equal(dl_irp_set_routine(irp, routine, s, DL_SL_INVOKE_ON_SUCCESS |
                                        DL_SL_INVOKE_ON_ERROR | DL_SL_INVOKE_ON_CANCEL), DL_OK);
  return dl_io_call_driver(s->lower, irp, status) == DL_OK;
}

static void on_complete(void *ctx, dl_irp *irp) {
  (void)irp;
  ((stk *)ctx)->completions++;
}

/* A filter driver with its own dispatch table over the lower device. */
static dl_irp *stack_and_irp(stk *s) {
  dl_driver *fdrv;
  dl_device *lower;
  assert_int_equal(dl_driver_new(s->r.m, "\\Driver\\f", &fdrv), DL_OK);
  dl_device_set_driver(s->filter, fdrv);
  dl_driver_set_major(fdrv, DL_IRP_MJ_READ, filter_dispatch, s);
  dl_driver_set_major(s->drv, DL_IRP_MJ_READ, lower_dispatch, s);
  assert_int_equal(dl_io_attach_device_to_device_stack(s->filter, s->lower, &lower), DL_OK);
  dl_irp *irp = read_irp(s);
  dl_irp_set_completion(irp, on_complete, s);
  return irp;
}

/* Copy + routine, the lower driver pends: its completion runs the routine
** with the filter's device and PendingReturned; MORE_PROCESSING_REQUIRED
** keeps the IRP with the filter, whose own IoCompleteRequest ends it. */
static void test_forward_with_routine(void **state) {
  stk *s = *state;
  dl_irp *irp = stack_and_irp(s);
  s->copy = s->set_routine = s->lower_pends = s->routine_mpr = s->routine_marks = 1;
  uint32_t st;
  uint64_t before = reports(s);
  assert_int_equal(dl_io_call_driver(s->filter, irp, &st), DL_OK);
  assert_int_equal(st, DL_STATUS_PENDING);
  assert_int_equal(dl_irp_stack_count(irp), 2);
  assert_int_equal(dl_irp_current_location(irp), 1);
  assert_ptr_equal(dl_irp_current_device(irp), s->lower);
  assert_true(dl_irp_uses_device(irp, s->filter));
  dl_irp_set_status(irp, DL_STATUS_SUCCESS);
  assert_int_equal(dl_io_complete_request(irp), DL_OK);
  assert_int_equal(s->routine_calls, 1);
  assert_ptr_equal(s->routine_dev, s->filter);
  assert_int_equal(s->routine_pending, 1);
  assert_false(dl_irp_completed(irp));  /* the filter has it back */
  assert_int_equal(s->completions, 0);
  assert_ptr_equal(dl_irp_current_device(irp), s->filter);
  assert_false(dl_irp_uses_device(irp, s->lower));
  assert_int_equal(dl_io_complete_request(irp), DL_OK);
  assert_true(dl_irp_completed(irp));
  assert_int_equal(s->completions, 1);
  assert_int_equal(s->routine_calls, 1);  /* runs once */
  assert_int_equal(reports(s), before);
}

/* A skip: the lower driver shares the filter's location and completes at
** once; the originator sees the completion, no routine, no report. */
static void test_forward_skip(void **state) {
  stk *s = *state;
  dl_irp *irp = stack_and_irp(s);
  s->skip = 1;
  uint32_t st;
  uint64_t before = reports(s);
  assert_int_equal(dl_io_call_driver(s->filter, irp, &st), DL_OK);
  assert_int_equal(st, DL_STATUS_SUCCESS);
  assert_int_equal(dl_irp_current_location(irp), 3);  /* past the top */
  assert_true(dl_irp_completed(irp));
  assert_int_equal(s->completions, 1);
  assert_int_equal(s->lower_calls, 1);
  assert_int_equal(reports(s), before);
}

/* Passing down without copy or skip is 0xC9/0x212 (the call goes on); a
** routine that ignores PendingReturned is 0xC9/0x228 (marked for it); the
** routine set for errors only does not run on success. */
static void test_forward_rules(void **state) {
  stk *s = *state;
  dl_irp *irp = stack_and_irp(s);
  s->set_routine = s->lower_pends = 1;
  uint32_t st;
  uint64_t before = reports(s);
  assert_int_equal(dl_io_call_driver(s->filter, irp, &st), DL_OK);
  expect(s, before, DL_BUGCHECK_IOMANAGER, DL_IOV_STACK_NOT_COPIED);
  assert_int_equal(s->lower_calls, 1);
  dl_irp_set_status(irp, DL_STATUS_SUCCESS);
  assert_int_equal(dl_io_complete_request(irp), DL_OK);
  expect(s, before + 1, DL_BUGCHECK_IOMANAGER, DL_IOV_ROUTINE_NOT_PENDING);
  assert_true(dl_irp_completed(irp));
  assert_true(dl_irp_pending(irp));  /* marked for the routine: the originator sees it */
  /* a routine for errors only */
  dl_irp *two = read_irp(s);
  s->set_routine = s->lower_pends = 0;
  s->copy = 1;
  assert_int_equal(dl_io_call_driver(s->filter, two, &st), DL_OK);
  assert_int_equal(dl_irp_set_routine(two, routine, s, DL_SL_INVOKE_ON_ERROR), DL_ESTATE);
  assert_true(dl_irp_completed(two));
  assert_int_equal(s->routine_calls, 1);
}

/* The lowest driver has no location below: it cannot pass the IRP on. */
static void test_forward_no_location(void **state) {
  stk *s = *state;
  dl_driver_set_major(s->drv, DL_IRP_MJ_READ, lower_dispatch, s);
  s->lower_pends = 1;
  uint32_t st;
  dl_irp *irp = read_irp(s);
  assert_int_equal(dl_io_call_driver(s->lower, irp, &st), DL_OK);
  assert_false(dl_irp_can_forward(irp));
  assert_int_equal(dl_irp_copy_to_next(irp), DL_ESTATE);
  assert_int_equal(dl_irp_set_routine(irp, routine, s, DL_SL_INVOKE_ON_SUCCESS), DL_ESTATE);
  assert_int_equal(dl_io_call_driver(s->filter, irp, &st), DL_ESTATE);
  assert_int_equal(s->lower_calls, 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_attach, setup, teardown),
    cmocka_unit_test_setup_teardown(test_attach_by_name, setup, teardown),
    cmocka_unit_test_setup_teardown(test_detach, setup, teardown),
    cmocka_unit_test_setup_teardown(test_delete_attached, setup, teardown),
    cmocka_unit_test_setup_teardown(test_delete_dpc_queued, setup, teardown),
    cmocka_unit_test_setup_teardown(test_delete_irp_pending, setup, teardown),
    cmocka_unit_test_setup_teardown(test_delete_channel_waiting, setup, teardown),
    cmocka_unit_test_setup_teardown(test_forward_with_routine, setup, teardown),
    cmocka_unit_test_setup_teardown(test_forward_skip, setup, teardown),
    cmocka_unit_test_setup_teardown(test_forward_rules, setup, teardown),
    cmocka_unit_test_setup_teardown(test_forward_no_location, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
