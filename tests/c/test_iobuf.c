/*
** test_iobuf.c: the I/O manager's buffer methods (core/io/dl_iobuf.c),
** file objects (dl_file.c) and IoCancelIrp (dl_cancel.c) without Lua:
** METHOD_BUFFERED's SystemBuffer sized max(in, out) with the input in it
** and Information bytes copied back unless NT_ERROR; IN/OUT_DIRECT's
** input SystemBuffer and output MDL; METHOD_NEITHER's Type3InputBuffer
** and UserBuffer; reads and writes by DO_BUFFERED_IO / DO_DIRECT_IO /
** neither; create/cleanup/close with an exclusive device; cancellation.
** Reference: "Buffer Descriptions for I/O Control Codes", "Methods for
** Accessing Data Buffers", IoCancelIrp.
*/
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "rig_io.h"
#include <string.h>

#include "base/dl_ntstatus.h"
#include "base/dl_status.h"
#include "io/dl_cancel.h"
#include "io/dl_driver.h"
#include "io/dl_file.h"
#include "io/dl_iobuf.h"
#include "io/dl_mdl.h"
#include "io/dl_symlink.h"
#include "io/dl_devif.h"
#include "machine/dl_machine.h"
#include "machine/dl_verifier.h"

typedef struct rig {
  dl_machine *m;
  dl_driver *drv;
  dl_device *dev;
  dl_region *in, *out;
  /* What the dispatch routine does: writes `reply` (n bytes) to the
  ** system buffer, sets Information and Status and completes. */
  const char *reply;
  uint64_t info;
  uint32_t status;
  int pend;               /* pend instead of completing */
  dl_irp *seen;
  char got_in[32];        /* what the routine read from the SystemBuffer */
  uint8_t cancel_irql;
  int cancels;
  int keep_lock;          /* the cancel routine forgets IoReleaseCancelSpinLock */
} rig;

static rig R;

static int dispatch(void *ctx, dl_device *dev, dl_irp *irp, uint32_t *status) {
  (void)dev;
  rig *r = ctx;
  r->seen = irp;
  if (r->pend) {
    dl_irp_mark_pending(irp);
    *status = DL_STATUS_PENDING;
    return 1;
  }
  uint64_t sb = dl_irp_system_buffer(irp);
  if (sb && dl_irp_input_length(irp))
    dl_machine_read_va(r->m, sb, r->got_in, dl_irp_input_length(irp) < 31 ? dl_irp_input_length(irp) : 31);
  if (sb && r->reply) dl_machine_write_va(r->m, sb, r->reply, strlen(r->reply));
  dl_irp_set_status(irp, r->status);
  dl_irp_set_information(irp, r->info);
  dl_io_complete_request(irp);
  *status = r->status;
  return 1;
}

static int setup(void **state) {
  R = (rig){0};
  if (rig_io_open(&R.m, &R.drv, &R.dev)) return -1;
  static const uint8_t majors[] = {DL_IRP_MJ_CREATE, DL_IRP_MJ_CLOSE, DL_IRP_MJ_CLEANUP,
                                   DL_IRP_MJ_READ, DL_IRP_MJ_WRITE, DL_IRP_MJ_DEVICE_CONTROL};
  for (size_t i = 0; i < sizeof majors; i++) dl_driver_set_major(R.drv, majors[i], dispatch, &R);
  if (dl_buffer_new(R.m, 64, 0, DL_ALLOC_LOW_FIRST, DL_REGION_NONPAGED, &R.in)) return -1;
  if (dl_buffer_new(R.m, 64, 0, DL_ALLOC_LOW_FIRST, DL_REGION_NONPAGED, &R.out)) return -1;
  dl_machine_write_va(R.m, R.in->va, "abcd", 4);
  dl_machine_fill_va(R.m, R.out->va, '.', 64);
  *state = &R;
  return 0;
}

static int teardown(void **state) {
  rig *r = *state;
  dl_machine_free(r->m);
  return 0;
}

/* An IOCTL of `method` with 4 input and 16 output bytes. */
static dl_irp *ioctl_irp(rig *r, uint32_t method, uint64_t in_len, uint64_t out_len) {
  dl_irp_params p = {0};
  p.major = DL_IRP_MJ_DEVICE_CONTROL;
  p.ioctl = dl_ctl_code(0x22, 0x800, method, DL_FILE_ANY_ACCESS);
  p.in_va = r->in->va;
  p.in_length = in_len;
  p.out_va = r->out->va;
  p.out_length = out_len;
  dl_irp *irp = NULL;
  assert_int_equal(dl_iobuf_irp_new(r->m, &p, &irp), DL_OK);
  return irp;
}

static void out_is(rig *r, const char *want) {
  char got[17] = {0};
  dl_machine_read_va(r->m, r->out->va, got, 16);
  assert_string_equal(got, want);
}

/* METHOD_BUFFERED: one system buffer of max(in, out) bytes holding the
** input; Information bytes go back to the output buffer. */
static void test_method_buffered(void **state) {
  rig *r = *state;
  dl_irp *irp = ioctl_irp(r, DL_METHOD_BUFFERED, 4, 16);
  assert_int_equal(dl_irp_xfer(irp), DL_XFER_BUFFERED);
  assert_int_not_equal(dl_irp_system_buffer(irp), 0);
  assert_true(irp->system_buffer->length == 16);
  assert_null(dl_irp_mdl(irp));
  assert_int_equal(dl_irp_input_length(irp), 4);
  assert_int_equal(dl_irp_output_length(irp), 16);
  assert_int_equal(dl_irp_user_buffer(irp), r->out->va);
  r->reply = "XYZW";
  r->info = 3;
  r->status = DL_STATUS_SUCCESS;
  uint32_t st;
  assert_int_equal(dl_io_call_driver(r->dev, irp, &st), DL_OK);
  assert_string_equal(r->got_in, "abcd");
  assert_true(dl_irp_completed(irp));
  assert_int_equal(dl_irp_copied_back(irp), 3);
  out_is(r, "XYZ.............");
  assert_int_equal(dl_irp_system_buffer(irp), 0);  /* freed at completion */
  assert_int_equal(dl_verifier_count(r->m), 0);
  dl_irp_free(irp);
}

/* NT_ERROR: nothing copied back; a warning (STATUS_BUFFER_OVERFLOW) copies. */
static void test_buffered_error_no_copy(void **state) {
  rig *r = *state;
  dl_irp *irp = ioctl_irp(r, DL_METHOD_BUFFERED, 4, 16);
  r->reply = "XYZW";
  r->info = 4;
  r->status = DL_STATUS_INVALID_PARAMETER;
  uint32_t st;
  dl_io_call_driver(r->dev, irp, &st);
  assert_int_equal(dl_irp_copied_back(irp), 0);
  out_is(r, "................");
  dl_irp_free(irp);
  irp = ioctl_irp(r, DL_METHOD_BUFFERED, 4, 16);
  r->status = DL_STATUS_BUFFER_OVERFLOW;
  dl_io_call_driver(r->dev, irp, &st);
  assert_int_equal(dl_irp_copied_back(irp), 4);
  out_is(r, "XYZW............");
  dl_irp_free(irp);
}

/* Information beyond the output buffer: 0xC9, the copy cut to the buffer. */
static void test_buffered_information_overrun(void **state) {
  rig *r = *state;
  dl_irp *irp = ioctl_irp(r, DL_METHOD_BUFFERED, 4, 2);
  r->reply = "XYZW";
  r->info = 4;
  r->status = DL_STATUS_SUCCESS;
  uint32_t st;
  dl_io_call_driver(r->dev, irp, &st);
  assert_int_equal(dl_verifier_count(r->m), 1);
  assert_int_equal(dl_verifier_at(r->m, 0)->bugcheck, DL_BUGCHECK_IOMANAGER);
  assert_int_equal(dl_irp_copied_back(irp), 2);
  out_is(r, "XY..............");
  dl_irp_free(irp);
}

/* IN_DIRECT / OUT_DIRECT: the input buffered, the output in an MDL. */
static void test_method_direct(void **state) {
  rig *r = *state;
  for (uint32_t method = DL_METHOD_IN_DIRECT; method <= DL_METHOD_OUT_DIRECT; method++) {
    dl_irp *irp = ioctl_irp(r, method, 4, 16);
    assert_int_equal(dl_irp_xfer(irp), DL_XFER_DIRECT);
    assert_true(irp->system_buffer->length == 4);  /* the input only */
    assert_non_null(dl_irp_mdl(irp));
    assert_int_equal(dl_mdl_byte_count(dl_irp_mdl(irp)), 16);
    assert_int_equal(dl_mdl_start_va(dl_irp_mdl(irp)) + dl_mdl_byte_offset(dl_irp_mdl(irp)),
                     r->out->va);
    r->reply = NULL;
    r->info = 16;
    r->status = DL_STATUS_SUCCESS;
    uint32_t st;
    dl_io_call_driver(r->dev, irp, &st);
    assert_string_equal(r->got_in, "abcd");
    assert_int_equal(dl_irp_copied_back(irp), 0);  /* the driver wrote in place */
    assert_null(dl_irp_mdl(irp));
    dl_irp_free(irp);
  }
  /* No input: no system buffer at all. */
  dl_irp *irp = ioctl_irp(r, DL_METHOD_OUT_DIRECT, 0, 16);
  assert_int_equal(dl_irp_system_buffer(irp), 0);
  dl_irp_free(irp);
}

/* METHOD_NEITHER: the originator's addresses, nothing locked or copied. */
static void test_method_neither(void **state) {
  rig *r = *state;
  dl_irp *irp = ioctl_irp(r, DL_METHOD_NEITHER, 4, 16);
  assert_int_equal(dl_irp_xfer(irp), DL_XFER_NEITHER);
  assert_int_equal(dl_irp_type3_input(irp), r->in->va);
  assert_int_equal(dl_irp_user_buffer(irp), r->out->va);
  assert_int_equal(dl_irp_system_buffer(irp), 0);
  assert_null(dl_irp_mdl(irp));
  dl_irp_free(irp);
}

static dl_irp *rw_irp(rig *r, uint8_t major, uint64_t len) {
  dl_irp_params p = {0};
  p.major = major;
  if (major == DL_IRP_MJ_WRITE) {
    p.in_va = r->in->va;
    p.in_length = len;
  } else {
    p.out_va = r->out->va;
    p.out_length = len;
  }
  dl_irp *irp = NULL;
  assert_int_equal(dl_iobuf_irp_new(r->m, &p, &irp), DL_OK);
  return irp;
}

/* Reads and writes follow the device's Flags at IoCallDriver. */
static void test_read_write_by_flags(void **state) {
  rig *r = *state;
  uint32_t st;
  r->status = DL_STATUS_SUCCESS;
  /* direct (the lab's default): the MDL stays */
  dl_irp *irp = rw_irp(r, DL_IRP_MJ_READ, 8);
  r->pend = 1;
  dl_io_call_driver(r->dev, irp, &st);
  assert_int_equal(dl_irp_xfer(irp), DL_XFER_DIRECT);
  assert_non_null(dl_irp_mdl(irp));
  dl_irp_set_status(irp, 0);
  dl_io_complete_request(irp);
  dl_irp_free(irp);
  r->pend = 0;
  /* buffered (wins over direct): a read copies Information bytes out */
  dl_device_set_flags(r->dev, DL_DO_BUFFERED_IO | DL_DO_DIRECT_IO);
  irp = rw_irp(r, DL_IRP_MJ_READ, 8);
  r->reply = "readdata";
  r->info = 5;
  dl_io_call_driver(r->dev, irp, &st);
  assert_int_equal(dl_irp_xfer(irp), DL_XFER_BUFFERED);
  assert_int_equal(dl_irp_copied_back(irp), 5);
  out_is(r, "readd...........");
  dl_irp_free(irp);
  /* a buffered write hands the driver a copy; nothing comes back */
  irp = rw_irp(r, DL_IRP_MJ_WRITE, 4);
  r->reply = NULL;
  r->info = 4;
  memset(r->got_in, 0, sizeof r->got_in);
  dl_io_call_driver(r->dev, irp, &st);
  assert_int_equal(dl_irp_copied_back(irp), 0);
  dl_irp_free(irp);
  /* neither: UserBuffer, no MDL */
  dl_device_set_flags(r->dev, 0);
  irp = rw_irp(r, DL_IRP_MJ_READ, 8);
  r->pend = 1;
  dl_io_call_driver(r->dev, irp, &st);
  assert_int_equal(dl_irp_xfer(irp), DL_XFER_NEITHER);
  assert_null(dl_irp_mdl(irp));
  assert_int_equal(dl_irp_user_buffer(irp), r->out->va);
  dl_io_complete_request(irp);
  dl_irp_free(irp);
}

/* What the originator may not build. */
static void test_invalid_params(void **state) {
  rig *r = *state;
  dl_irp *irp = NULL;
  dl_irp_params p = {0};
  p.major = DL_IRP_MJ_CREATE;
  p.in_length = 4;
  p.in_va = r->in->va;
  assert_int_equal(dl_iobuf_irp_new(r->m, &p, &irp), DL_EINVAL);
  p.major = DL_IRP_MJ_PNP;
  p.in_length = 0;
  assert_int_equal(dl_iobuf_irp_new(r->m, &p, &irp), DL_EINVAL);
  p.major = DL_IRP_MJ_DEVICE_CONTROL;
  p.in_va = 0x1000;  /* not mapped */
  p.in_length = 4;
  assert_int_equal(dl_iobuf_irp_new(r->m, &p, &irp), DL_ENOTMAPPED);
}

static dl_irp *file_irp(rig *r, uint8_t major, dl_file *f) {
  dl_irp_params p = {0};
  p.major = major;
  p.file = f;
  dl_irp *irp = NULL;
  assert_int_equal(dl_iobuf_irp_new(r->m, &p, &irp), DL_OK);
  return irp;
}

/* A file's life: create, cleanup, close; an exclusive device's second open. */
static void test_files(void **state) {
  rig *r = *state;
  r->status = DL_STATUS_SUCCESS;
  r->info = 0;
  dl_device_set_type(r->dev, 0x22, 0x100, 1);
  dl_file *f1, *f2;
  assert_int_equal(dl_file_new(r->m, &f1), DL_OK);
  assert_int_equal(dl_file_new(r->m, &f2), DL_OK);
  uint32_t st;
  dl_irp *c1 = file_irp(r, DL_IRP_MJ_CREATE, f1);
  assert_int_equal(dl_io_call_driver(r->dev, c1, &st), DL_OK);
  assert_int_equal(dl_file_get_state(f1), DL_FILE_OPEN);
  assert_ptr_equal(dl_file_device(f1), r->dev);
  r->seen = NULL;
  dl_irp *c2 = file_irp(r, DL_IRP_MJ_CREATE, f2);
  assert_int_equal(dl_io_call_driver(r->dev, c2, &st), DL_OK);
  assert_null(r->seen);  /* the I/O manager refused it */
  assert_int_equal(st, DL_STATUS_ACCESS_DENIED);
  assert_int_equal(dl_file_get_state(f2), DL_FILE_CLOSED);
  dl_irp *again = file_irp(r, DL_IRP_MJ_CREATE, f1);
  assert_int_equal(dl_io_call_driver(r->dev, again, &st), DL_ESTATE);
  dl_irp *cl = file_irp(r, DL_IRP_MJ_CLEANUP, f1);
  dl_io_call_driver(r->dev, cl, &st);
  assert_int_equal(dl_file_get_state(f1), DL_FILE_CLEANED_UP);
  dl_irp *rd = file_irp(r, DL_IRP_MJ_DEVICE_CONTROL, f1);
  assert_int_equal(dl_io_call_driver(r->dev, rd, &st), DL_ESTATE);  /* after cleanup */
  dl_irp *cs = file_irp(r, DL_IRP_MJ_CLOSE, f1);
  dl_io_call_driver(r->dev, cs, &st);
  assert_int_equal(dl_file_get_state(f1), DL_FILE_CLOSED);
  assert_int_equal(r->dev->open_files, 0);
  dl_irp *c3 = file_irp(r, DL_IRP_MJ_CREATE, NULL);  /* no file: no rule */
  assert_int_equal(dl_io_call_driver(r->dev, c3, &st), DL_OK);
  dl_irp_free(c1), dl_irp_free(c2), dl_irp_free(again), dl_irp_free(cl);
  dl_irp_free(rd), dl_irp_free(cs), dl_irp_free(c3);
}

static void on_cancel(void *ctx, dl_irp *irp) {
  rig *r = ctx;
  r->cancels++;
  r->cancel_irql = dl_machine_irql(r->m);
  assert_true(dl_irp_cancelled(irp));
  assert_true(dl_io_cancel_spin_lock_held(r->m));
  assert_int_equal(irp->cancel_irql, DL_PASSIVE_LEVEL);
  if (!r->keep_lock) dl_io_release_cancel_spin_lock(r->m, irp->cancel_irql);
  assert_int_equal(dl_machine_irql(r->m), r->keep_lock ? DL_DISPATCH_LEVEL : DL_PASSIVE_LEVEL);
  dl_irp_set_status(irp, DL_STATUS_CANCELLED);
  dl_io_complete_request(irp);
}

/* IoCancelIrp: the routine once, at DISPATCH_LEVEL; none: Cancel only. */
static void test_cancel(void **state) {
  rig *r = *state;
  uint32_t st;
  r->pend = 1;
  dl_irp *irp = rw_irp(r, DL_IRP_MJ_READ, 8);
  assert_int_equal(dl_io_cancel_irp(irp), 0);  /* not sent: nothing */
  assert_false(dl_irp_cancelled(irp));
  dl_io_call_driver(r->dev, irp, &st);
  assert_int_equal(dl_io_set_cancel_routine(irp, on_cancel, r), 0);
  assert_int_equal(dl_io_cancel_irp(irp), 1);
  assert_int_equal(r->cancels, 1);
  assert_int_equal(r->cancel_irql, DL_DISPATCH_LEVEL);
  assert_int_equal(dl_machine_irql(r->m), DL_PASSIVE_LEVEL);
  assert_true(dl_irp_completed(irp));
  assert_int_equal(dl_io_cancel_irp(irp), 0);  /* completed: left alone */
  dl_irp_free(irp);
  irp = rw_irp(r, DL_IRP_MJ_READ, 8);
  dl_io_call_driver(r->dev, irp, &st);
  assert_int_equal(dl_io_cancel_irp(irp), 0);
  assert_true(dl_irp_cancelled(irp));
  dl_irp_set_status(irp, DL_STATUS_CANCELLED);
  dl_io_complete_request(irp);
  dl_irp_free(irp);
  assert_int_equal(dl_verifier_count(r->m), 0);
  /* A routine returning with the lock held: 0xC4/0x4000B, released for it. */
  r->keep_lock = 1;
  irp = rw_irp(r, DL_IRP_MJ_READ, 8);
  dl_io_call_driver(r->dev, irp, &st);
  dl_io_set_cancel_routine(irp, on_cancel, r);
  assert_int_equal(dl_io_cancel_irp(irp), 1);
  assert_int_equal(dl_verifier_count(r->m), 1);
  assert_int_equal(dl_verifier_at(r->m, 0)->bugcheck, DL_BUGCHECK_DETECTED_VIOLATION);
  assert_int_equal(dl_verifier_at(r->m, 0)->p1, DL_CANCEL_LOCK_ALTERNATION);
  assert_false(dl_io_cancel_spin_lock_held(r->m));
  assert_int_equal(dl_machine_irql(r->m), DL_PASSIVE_LEVEL);
  dl_irp_free(irp);
}

/* IoAcquire/ReleaseCancelSpinLock: DISPATCH_LEVEL while held; misuse 0xC4. */
static void test_cancel_spin_lock(void **state) {
  rig *r = *state;
  uint8_t old;
  dl_io_release_cancel_spin_lock(r->m, 0);  /* not held */
  assert_int_equal(dl_verifier_at(r->m, 0)->p1, DL_CANCEL_LOCK_ALTERNATION);
  dl_io_acquire_cancel_spin_lock(r->m, &old);
  assert_int_equal(old, DL_PASSIVE_LEVEL);
  assert_int_equal(dl_machine_irql(r->m), DL_DISPATCH_LEVEL);
  dl_io_acquire_cancel_spin_lock(r->m, &old);  /* held: a deadlock */
  assert_int_equal(dl_verifier_count(r->m), 2);
  dl_io_release_cancel_spin_lock(r->m, DL_PASSIVE_LEVEL);
  assert_int_equal(dl_machine_irql(r->m), DL_PASSIVE_LEVEL);
  assert_int_equal(dl_verifier_count(r->m), 2);
  dl_machine_set_irql(r->m, 5);
  dl_io_acquire_cancel_spin_lock(r->m, &old);  /* above DISPATCH_LEVEL */
  assert_int_equal(dl_verifier_at(r->m, 2)->p1, DL_CANCEL_LOCK_ACQUIRE_IRQL);
  dl_io_release_cancel_spin_lock(r->m, old);  /* not at DISPATCH_LEVEL */
  assert_int_equal(dl_verifier_at(r->m, 3)->p1, DL_CANCEL_LOCK_RELEASE_IRQL);
  dl_machine_set_irql(r->m, DL_PASSIVE_LEVEL);
}

/* Symbolic links: a collision, a lookup through one, case-blind names. */
static void test_symlinks(void **state) {
  rig *r = *state;
  assert_int_equal(dl_io_create_symbolic_link(r->m, "\\DosDevices\\T", "t0"), DL_OK);
  assert_int_equal(dl_io_create_symbolic_link(r->m, "\\dosdevices\\t", "t0"), DL_EBUSY);
  assert_ptr_equal(dl_io_find_device(r->m, "\\DOSDEVICES\\T"), r->dev);
  assert_ptr_equal(dl_io_find_device(r->m, "T0"), r->dev);
  assert_null(dl_io_find_device(r->m, "nothing"));
  assert_int_equal(dl_io_delete_symbolic_link(r->m, "\\DosDevices\\T"), DL_OK);
  assert_int_equal(dl_io_delete_symbolic_link(r->m, "\\DosDevices\\T"), DL_ERANGE);
  assert_null(dl_io_find_device(r->m, "\\DosDevices\\T"));
  assert_int_equal(dl_io_create_symbolic_link(r->m, "", "t0"), DL_EINVAL);
}

/* Device interfaces: one link per class and reference string, found by
** class and opened through while enabled. */
static void test_device_interfaces(void **state) {
  rig *r = *state;
  const char *g = "{6d1a2b3c-0000-4e5f-8a9b-0123456789ab}";
  dl_devif *a, *b, *again;
  assert_int_equal(dl_io_register_device_interface(r->dev, g, NULL, &a), DL_OK);
  assert_int_equal(dl_io_register_device_interface(r->dev, g, "ref", &b), DL_OK);
  assert_int_equal(dl_io_register_device_interface(r->dev, g, NULL, &again), DL_OK);
  assert_ptr_equal(a, again);
  assert_non_null(strstr(a->link, g));
  assert_string_equal(b->link + strlen(b->link) - 4, "\\ref");
  assert_int_equal(dl_io_register_device_interface(r->dev, "{6d1a2b3c}", NULL, &again), DL_EINVAL);
  assert_int_equal(dl_io_register_device_interface(r->dev, g, "a\\b", &again), DL_EINVAL);
  assert_null(dl_io_device_interface_at(r->m, g, NULL, 0, 0));  /* disabled */
  assert_ptr_equal(dl_io_device_interface_at(r->m, g, NULL, 1, 1), b);
  assert_null(dl_io_find_device(r->m, a->link));
  assert_int_equal(dl_io_set_device_interface_state(r->m, a->link, 1), DL_OK);
  assert_ptr_equal(dl_io_device_interface_at(r->m, g, r->dev, 0, 0), a);
  assert_null(dl_io_device_interface_at(r->m, g, r->dev, 0, 1));
  assert_ptr_equal(dl_io_find_device(r->m, a->link), r->dev);
  assert_int_equal(dl_io_set_device_interface_state(r->m, "\\??\\nothing", 1), DL_ERANGE);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_method_buffered, setup, teardown),
    cmocka_unit_test_setup_teardown(test_buffered_error_no_copy, setup, teardown),
    cmocka_unit_test_setup_teardown(test_buffered_information_overrun, setup, teardown),
    cmocka_unit_test_setup_teardown(test_method_direct, setup, teardown),
    cmocka_unit_test_setup_teardown(test_method_neither, setup, teardown),
    cmocka_unit_test_setup_teardown(test_read_write_by_flags, setup, teardown),
    cmocka_unit_test_setup_teardown(test_invalid_params, setup, teardown),
    cmocka_unit_test_setup_teardown(test_files, setup, teardown),
    cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
    cmocka_unit_test_setup_teardown(test_symlinks, setup, teardown),
    cmocka_unit_test_setup_teardown(test_cancel_spin_lock, setup, teardown),
    cmocka_unit_test_setup_teardown(test_device_interfaces, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
