/*
** dl_irp.c: IRPs and their completion. The device queue (KDEVICE_QUEUE)
** and the I/O manager's rules are in dl_driver.c.
*/
#include "io/dl_irp.h"

#include <stdlib.h>

#include "io/dl_device.h"
#include "machine/dl_machine.h"
#include "io/dl_irpstate.h"
#include "io/dl_mdl.h"
#include "base/dl_status.h"
#include "machine/dl_trace.h"
#include "machine/dl_verifier.h"

/* The access the device makes to the buffer decides the lock operation:
** on a read it writes memory (IoWriteAccess), on a write it reads it. */
static int lock_operation(uint8_t major) {
  return major == DL_IRP_MJ_WRITE ? DL_IO_READ_ACCESS : DL_IO_WRITE_ACCESS;
}

/* Builds an IRP with its MDL probed and locked. */
int dl_irp_new(dl_machine *m, uint8_t major, uint64_t va, uint64_t length,
               uint64_t byte_offset, dl_irp **out) {
  if (major > DL_IRP_MJ_MAXIMUM_FUNCTION) return DL_EINVAL;
  if (length && major != DL_IRP_MJ_READ && major != DL_IRP_MJ_WRITE &&
      major != DL_IRP_MJ_DEVICE_CONTROL)
    return DL_EINVAL;
  if (length > UINT32_MAX) return DL_EINVAL;
  dl_irp *irp = calloc(1, sizeof *irp);
  if (!irp) return DL_ENOMEM;
  dl_object_init(DL_OBJECT(irp), m, &dl_irp_type, NULL);
  if (length) {
    int rc = dl_mdl_allocate(m, va, length, &irp->mdl);
    if (!rc && (rc = dl_mdl_probe_and_lock(irp->mdl, lock_operation(major))) != DL_OK)
      dl_mdl_free(irp->mdl);
    if (rc) {
      dl_object_unlink(DL_OBJECT(irp));
      free(irp);
      return rc;
    }
    irp->mdl_id = DL_OBJECT(irp->mdl)->id;
    dl_mdl_set_owner_ref(irp->mdl, &irp->mdl);  /* a driver that frees it is caught */
  }
  irp->major = major;
  irp->xfer = length ? DL_XFER_DIRECT : DL_XFER_NONE;
  irp->user_buffer = length ? va : 0;
  irp->length = (uint32_t)length;
  irp->byte_offset = byte_offset;
  dl_list_init(&irp->entry);
  *out = irp;
  return DL_OK;
}

/* Machine teardown: the memory only. Objects go newest first, so the
** device it was sent to (and the queue it is on) may be gone already; the
** MDL clears irp->mdl when it goes first. */
static void destroy(dl_object *o) {
  dl_irp *irp = (dl_irp *)o;
  if (irp->mdl) dl_mdl_set_owner_ref(irp->mdl, NULL);
  dl_object_unlink(o);
  free(irp);
}

const dl_object_type dl_irp_type = { "IRP", destroy, NULL, NULL, NULL };

/* Frees the IRP; its device forgets it. */
void dl_irp_free(dl_irp *irp) {
  if (!irp || dl_irp_check(irp, DL_IRPCALL_FREE) != DL_IRP_ALLOW) return;
  dl_list_remove(&irp->entry);
  for (int i = 1; irp->device && i <= irp->stack_count; i++)  /* each device of its stack */
    if (irp->stack[i].device && irp->stack[i].device->current_irp == irp)
      irp->stack[i].device->current_irp = NULL;
  if (irp->mdl) dl_mdl_set_owner_ref(irp->mdl, NULL);  /* left to the machine */
  if (irp->io_done) irp->io_done(irp, 0);  /* the system buffer */
  dl_object_unlink(DL_OBJECT(irp));
  free(irp);
}

/* Records the request as sent to dev. */
int dl_irp_send(dl_irp *irp, dl_device *dev) {
  if (irp->device || irp->completed || dev->m != irp->m) return DL_ESTATE;
  irp->device = dev;
  dl_irp_stack_start(irp, dev);
  irp->sent_at = dl_clock_now(dl_machine_clock(irp->m));
  dl_trace_emit(irp->m, DL_TR_REQUEST_START, irp->id, irp->major, irp->length);
  return DL_OK;
}

/* IoMarkIrpPending. */
int dl_irp_mark_pending(dl_irp *irp) {
  if (dl_irp_check(irp, DL_IRPCALL_MARK_PENDING) != DL_IRP_ALLOW) return DL_ESTATE;
  if (irp->device) dl_irp_stack_mark_pending(irp);  /* the driver's own location */
  else irp->pending = 1;
  return DL_OK;
}

/* Sets the completion routine. */
void dl_irp_set_completion(dl_irp *irp, dl_irp_completion_fn fn, void *ctx) {
  irp->completion = fn;
  irp->completion_ctx = ctx;
}

/* IoControlCode, before the IRP is sent. */
int dl_irp_set_ioctl(dl_irp *irp, uint32_t ioctl) {
  if (irp->device || irp->completed) return DL_ESTATE;
  if (irp->major != DL_IRP_MJ_DEVICE_CONTROL && ioctl) return DL_EINVAL;
  irp->ioctl = ioctl;
  return DL_OK;
}

/* IoStatus.Status, until completion. */
int dl_irp_set_status(dl_irp *irp, uint32_t status) {
  if (irp->completed) return DL_ESTATE;
  irp->status = status;
  return DL_OK;
}

/* IoStatus.Information, until completion. */
int dl_irp_set_information(dl_irp *irp, uint64_t information) {
  if (irp->completed) return DL_ESTATE;
  irp->information = information;
  return DL_OK;
}

/* Accessors. */
uint64_t dl_irp_id(const dl_irp *irp) { return irp->id; }
uint8_t dl_irp_major(const dl_irp *irp) { return irp->major; }
uint32_t dl_irp_length(const dl_irp *irp) { return irp->length; }
uint64_t dl_irp_byte_offset(const dl_irp *irp) { return irp->byte_offset; }
uint32_t dl_irp_ioctl(const dl_irp *irp) { return irp->ioctl; }
uint32_t dl_irp_status(const dl_irp *irp) { return irp->status; }
uint64_t dl_irp_information(const dl_irp *irp) { return irp->information; }
dl_mdl *dl_irp_mdl(const dl_irp *irp) { return irp->mdl; }
int dl_irp_pending(const dl_irp *irp) {  /* the current location's, or the originator's */
  return irp->pending || dl_irp_location_pending(irp, irp->current);
}
int dl_irp_queued(const dl_irp *irp) { return irp->queued; }
int dl_irp_completed(const dl_irp *irp) { return irp->completed; }
dl_device *dl_irp_device(const dl_irp *irp) { return irp->device; }
uint64_t dl_irp_sent_at(const dl_irp *irp) { return irp->sent_at; }
uint64_t dl_irp_completed_at(const dl_irp *irp) { return irp->completed_at; }

/* The row: the first state that holds. */
int dl_irp_row(const dl_irp *irp) {
  if (irp->completed) return DL_IRPROW_COMPLETED;
  if (!irp->device) return DL_IRPROW_NOT_SENT;
  if (irp->in_routine) return DL_IRPROW_COMPLETING;
  if (irp->queued) return DL_IRPROW_QUEUED;
  if (dl_irp_is_current(irp)) return irp->cancel_routine ? DL_IRPROW_CURRENT_CANCELABLE : DL_IRPROW_CURRENT;
  if (irp->cancel_routine) return DL_IRPROW_CANCELABLE;
  return dl_irp_location_pending(irp, irp->current) ? DL_IRPROW_PENDING : DL_IRPROW_DISPATCHED;
}

/* Consults the state table once. */
int dl_irp_check(dl_irp *irp, int call) {
  return dl_irpstate_check(irp->m, irp->id, dl_irp_row(irp), call, NULL);
}

/* The cell's kind, without a report. */
int dl_irp_check_kind(const dl_irp *irp, int call) {
  return dl_irp_cell_at(dl_irp_row(irp), call).kind;
}

/* Returns 1 if the IRP is the current IRP of a device of its stack. */
int dl_irp_is_current(const dl_irp *irp) {
  for (int i = 1; irp->device && i <= irp->stack_count; i++)
    if (irp->stack[i].device && irp->stack[i].device->current_irp == irp) return 1;
  return 0;
}

/* The object (an adapter's waiting S/G request) that still needs the
** IRP's MDL: its id, or 0. */
uint64_t dl_irp_mdl_awaited(const dl_irp *irp) {
  if (!irp->mdl || *dl_machine_holding(irp->m) == 0) return 0;  /* no S/G request waits */
  dl_object *holder = dl_machine_needer(irp->m, DL_OBJECT(irp->mdl));
  return holder ? holder->id : 0;
}

/* IoCompleteRequest. */
int dl_irp_complete(dl_irp *irp) {
  int kind = dl_irp_check_kind(irp, DL_IRPCALL_COMPLETE);  /* the caller's call reported */
  if (kind != DL_IRP_ALLOW && kind != DL_IRP_FORCE) return DL_ESTATE;
  if (dl_irp_mdl_awaited(irp)) return DL_EBUSY;
  dl_machine *m = irp->m;
  if (dl_irp_stack_complete(irp)) return DL_OK;  /* a routine took it back (MORE_PROCESSING_REQUIRED) */
  if (irp->completed) {  /* a routine completed it again and returned another status */
    dl_verify_fail(m, DL_BUGCHECK_MULTIPLE_IRP_COMPLETE, 0, irp->id, 0, 0,
                   "IoCompleteRequest: MULTIPLE_IRP_COMPLETE_REQUESTS (0x44): IRP#%llu was completed "
                   "inside its completion routine, which then did not return "
                   "STATUS_MORE_PROCESSING_REQUIRED", (unsigned long long)irp->id);
    return DL_ESTATE;
  }
  irp->completed = 1;
  irp->completed_at = dl_clock_now(dl_machine_clock(m));
  dl_trace_emit(m, DL_TR_REQUEST_COMPLETE, irp->id, irp->status, irp->information);
  dl_stats *s = dl_trace_stats(dl_machine_trace(m));
  s->requests++;
  if ((int32_t)irp->status < 0) s->requests_failed++;  /* !NT_SUCCESS */
  if (irp->io_done) irp->io_done(irp, 1);  /* copy-back, the system buffer, the file */
  dl_mdl_destroy(irp->mdl);  /* unlocks first; clears irp->mdl */
  irp->mdl = NULL;
  irp->mdl_id = 0;
  if (irp->completion) irp->completion(irp->completion_ctx, irp);
  return DL_OK;
}


/* Name of a major function. */
const char *dl_irp_major_name(uint8_t major) {
  size_t n;
  const dl_wdk_value *t = dl_irp_major_table(&n);
  return dl_wdk_name(t, n - 1, major);  /* the last row, IRP_MJ_MAXIMUM_FUNCTION, is a bound */
}
