/*
** dl_iobuf.c: the I/O manager's buffer methods (see dl_iobuf.h).
*/
#include "io/dl_iobuf.h"

#include "base/dl_ntstatus.h"
#include "base/dl_status.h"
#include "io/dl_device.h"
#include "io/dl_file.h"
#include "io/dl_irpstate.h"
#include "io/dl_mdl.h"
#include "machine/dl_machine.h"
#include "machine/dl_verifier.h"

/* Copies n bytes between virtual addresses, as the CPU does (RtlCopyMemory). */
static int copy_va(dl_machine *m, uint64_t dst, uint64_t src, uint64_t n) {
  uint8_t chunk[256];
  int rc = DL_OK;
  for (uint64_t done = 0; done < n && rc == DL_OK; done += sizeof chunk) {
    uint64_t k = n - done < sizeof chunk ? n - done : sizeof chunk;
    rc = dl_machine_read_va(m, src + done, chunk, k);
    if (!rc) rc = dl_machine_write_va(m, dst + done, chunk, k);
  }
  return rc;
}

/* Allocates the system buffer (nonpaged pool) of n bytes, filled with the
** first `copy` bytes at `from`. */
static int system_buffer(dl_irp *irp, uint64_t n, uint64_t from, uint64_t copy) {
  int rc = dl_buffer_new(irp->m, n, 0, DL_ALLOC_LOW_FIRST, DL_REGION_NONPAGED, &irp->system_buffer);
  if (rc) return rc;
  irp->system_va = irp->system_buffer->va;
  return copy_va(irp->m, irp->system_va, from, copy);
}

/* Locks [va, va+n) in the IRP's MDL for `operation`. */
static int lock_mdl(dl_irp *irp, uint64_t va, uint64_t n, int operation) {
  int rc = dl_mdl_allocate(irp->m, va, n, &irp->mdl);
  if (!rc && (rc = dl_mdl_probe_and_lock(irp->mdl, operation)) != DL_OK) {
    dl_mdl_free(irp->mdl);
    irp->mdl = NULL;
  }
  if (rc) return rc;
  irp->mdl_id = DL_OBJECT(irp->mdl)->id;
  dl_mdl_set_owner_ref(irp->mdl, &irp->mdl);
  return DL_OK;
}

/* An IOCTL's buffers by the method of its code. */
static int build_ioctl(dl_irp *irp, const dl_irp_params *p) {
  uint32_t method = dl_ioctl_method(p->ioctl);
  irp->user_buffer = p->out_va;
  if (method == DL_METHOD_NEITHER) {
    irp->xfer = DL_XFER_NEITHER;
    irp->type3_input = p->in_va;
    return DL_OK;
  }
  irp->xfer = method == DL_METHOD_BUFFERED ? DL_XFER_BUFFERED : DL_XFER_DIRECT;
  uint64_t n = p->in_length;
  if (method == DL_METHOD_BUFFERED && p->out_length > n) n = p->out_length;
  int rc = n ? system_buffer(irp, n, p->in_va, p->in_length) : DL_OK;
  if (rc || method == DL_METHOD_BUFFERED || !p->out_length) return rc;
  return lock_mdl(irp, p->out_va, p->out_length,
                  method == DL_METHOD_IN_DIRECT ? DL_IO_READ_ACCESS : DL_IO_WRITE_ACCESS);
}

/* Does the I/O manager send this major with these buffers? */
static int valid(const dl_irp_params *p) {
  if (p->in_length > UINT32_MAX || p->out_length > UINT32_MAX) return 0;
  switch (p->major) {
  case DL_IRP_MJ_CREATE: case DL_IRP_MJ_CLOSE: case DL_IRP_MJ_CLEANUP:
    return p->in_length == 0 && p->out_length == 0 && p->ioctl == 0;
  case DL_IRP_MJ_READ: return p->in_length == 0 && p->ioctl == 0;
  case DL_IRP_MJ_WRITE: return p->out_length == 0 && p->ioctl == 0;
  case DL_IRP_MJ_DEVICE_CONTROL: case DL_IRP_MJ_INTERNAL_DEVICE_CONTROL: return 1;
  default: return 0;
  }
}

/* The IRP's io_done hook: completion's and freeing's part. */
static void io_done(dl_irp *irp, int completed) {
  if (completed) {
    dl_iobuf_complete(irp);
    dl_file_on_complete(irp);
  } else {
    dl_iobuf_release(irp);
  }
}

/* Builds an IRP as the I/O manager does. */
int dl_iobuf_irp_new(dl_machine *m, const dl_irp_params *p, dl_irp **out) {
  if (!valid(p)) return DL_EINVAL;
  int rw = p->major == DL_IRP_MJ_READ || p->major == DL_IRP_MJ_WRITE;
  uint64_t va = p->major == DL_IRP_MJ_WRITE ? p->in_va : p->out_va;
  uint64_t len = p->major == DL_IRP_MJ_WRITE ? p->in_length : p->out_length;
  dl_irp *irp;
  int rc = dl_irp_new(m, p->major, rw ? va : 0, rw ? len : 0, p->byte_offset, &irp);
  if (rc) return rc;
  irp->file = p->file;
  irp->io_done = io_done;
  irp->in_va = p->major == DL_IRP_MJ_READ ? 0 : p->in_va;
  irp->out_va = p->major == DL_IRP_MJ_WRITE ? 0 : p->out_va;
  if (!rw && p->major != DL_IRP_MJ_CREATE && p->major != DL_IRP_MJ_CLOSE &&
      p->major != DL_IRP_MJ_CLEANUP) {
    irp->ioctl = p->ioctl;
    irp->length = (uint32_t)p->out_length;
    irp->in_length = (uint32_t)p->in_length;
    rc = build_ioctl(irp, p);
  }
  if (rc) {
    if (irp->mdl) dl_mdl_destroy(irp->mdl);
    irp->mdl = NULL;
    dl_irp_free(irp);
    return rc;
  }
  *out = irp;
  return DL_OK;
}

/* Replaces a read's or write's direct MDL by what dev's Flags ask for. */
int dl_iobuf_send(dl_irp *irp, const dl_device *dev) {
  if ((irp->major != DL_IRP_MJ_READ && irp->major != DL_IRP_MJ_WRITE) || irp->xfer != DL_XFER_DIRECT)
    return DL_OK;  /* nothing to move (or an IRP built without buffers) */
  int xfer = dev->flags & DL_DO_BUFFERED_IO ? DL_XFER_BUFFERED
           : dev->flags & DL_DO_DIRECT_IO ? DL_XFER_DIRECT : DL_XFER_NEITHER;
  if (xfer == DL_XFER_DIRECT) return DL_OK;
  uint64_t va = irp->user_buffer;
  if (xfer == DL_XFER_BUFFERED) {
    int write = irp->major == DL_IRP_MJ_WRITE;
    int rc = system_buffer(irp, irp->length, va, write ? irp->length : 0);
    if (rc) return rc;
  }
  dl_mdl_destroy(irp->mdl);
  irp->mdl = NULL;
  irp->mdl_id = 0;
  irp->xfer = (uint8_t)xfer;
  return DL_OK;
}

/* Does a buffered request's output go back to the originator? */
static int copies_back(const dl_irp *irp) {
  if (irp->xfer != DL_XFER_BUFFERED || dl_nt_error(irp->status)) return 0;
  if (irp->major == DL_IRP_MJ_READ) return 1;
  return (irp->major == DL_IRP_MJ_DEVICE_CONTROL || irp->major == DL_IRP_MJ_INTERNAL_DEVICE_CONTROL) &&
         dl_ioctl_method(irp->ioctl) == DL_METHOD_BUFFERED;
}

/* Copy-back and the system buffer's release. */
int dl_iobuf_complete(dl_irp *irp) {
  if (dl_irp_check(irp, DL_IRPCALL_COPY_BACK) != DL_IRP_ALLOW) return DL_ESTATE;
  if (!irp->system_buffer) return DL_OK;
  uint64_t n = irp->information;
  if (copies_back(irp) && n > irp->length) {
    unsigned long long id = (unsigned long long)irp->id;
    dl_verify_fail(irp->m, DL_BUGCHECK_IOMANAGER, 0 /* the lab's rule: no documented P1 */, id, n,
                   irp->length,
                   "IoCompleteRequest: IoStatus.Information of IRP#%llu is %llu, beyond its "
                   "%u-byte output buffer: the I/O manager would copy past it", id,
                   (unsigned long long)n, (unsigned)irp->length);
    n = irp->length;
  }
  if (copies_back(irp) && n && copy_va(irp->m, irp->user_buffer, irp->system_va, n) == DL_OK)
    irp->copied_back = n;
  dl_iobuf_release(irp);
  return DL_OK;
}

/* Frees the system buffer. */
void dl_iobuf_release(dl_irp *irp) {
  if (!irp->system_buffer) return;
  dl_buffer_free(irp->m, irp->system_buffer);
  irp->system_buffer = NULL;
  irp->system_va = 0;
}

/* Accessors. */
uint32_t dl_irp_input_length(const dl_irp *irp) { return irp->in_length; }
uint32_t dl_irp_output_length(const dl_irp *irp) {
  return irp->major == DL_IRP_MJ_WRITE ? 0 : irp->length;
}
uint64_t dl_irp_system_buffer(const dl_irp *irp) { return irp->system_va; }
uint64_t dl_irp_user_buffer(const dl_irp *irp) { return irp->user_buffer; }
uint64_t dl_irp_type3_input(const dl_irp *irp) { return irp->type3_input; }
int dl_irp_xfer(const dl_irp *irp) { return irp->xfer; }
uint64_t dl_irp_copied_back(const dl_irp *irp) { return irp->copied_back; }
uint64_t dl_irp_input_va(const dl_irp *irp) { return irp->in_va; }
uint64_t dl_irp_output_va(const dl_irp *irp) { return irp->out_va; }
