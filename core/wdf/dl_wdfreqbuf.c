/*
** dl_wdfreqbuf.c: a request's buffers and MDLs as the framework hands them
** to the driver, cancelable requests, and the rules checked at completion
** (see dl_wdfio.h; FxRequest.cpp's GetMemoryObject,
** GetDeviceControlOutputMemoryObject, GetMdl, VerifyCompleteInternal).
*/
#include "base/dl_status.h"
#include "io/dl_cancel.h"
#include "io/dl_iobuf.h"
#include "io/dl_irp.h"
#include "io/dl_mdl.h"
#include "wdf/dl_wdfio.h"
#include "wdf/dl_wdfmemory.h"
#include "wdf/dl_wdfreqstate.h"

/* The KMDF verifier's debugger break on a misuse: a 0x10D/0x6 report. */
static void verifier_break(dl_wdf_request *r, const char *call, const char *why) {
  dl_wdf_report(r->m, DL_WDF_REQUEST_FATAL_ERROR, 0, r->id, "%s: WDFREQUEST#%llu %s", call,
                (unsigned long long)r->id, why);
}

static int is_ioctl(const dl_irp *irp) {
  return irp->major == DL_IRP_MJ_DEVICE_CONTROL || irp->major == DL_IRP_MJ_INTERNAL_DEVICE_CONTROL;
}

/* ---- buffers ------------------------------------------------------------------- */

/* The system address of a direct request's MDL, 0 if it has none. */
static uint64_t mdl_address(dl_irp *irp) { return irp->mdl ? dl_mdl_system_address(irp->mdl) : 0; }

/* A read's or write's buffer (the device's I/O type decided its method). */
static uint32_t rw_buffer(dl_wdf_request *r, const char *call, uint64_t *va, uint64_t *len) {
  dl_irp *irp = r->irp;
  *len = irp->length;
  if (irp->xfer == DL_XFER_NEITHER) {
    verifier_break(r, call, "uses neither I/O: the framework has no system address for its "
                            "buffer (use buffered or direct I/O)");
    return DL_STATUS_INVALID_DEVICE_REQUEST;
  }
  *va = irp->xfer == DL_XFER_BUFFERED ? irp->system_va : mdl_address(irp);
  return DL_STATUS_SUCCESS;
}

/* An IOCTL's input buffer: the system buffer but for METHOD_NEITHER. */
static uint32_t ioctl_input(dl_irp *irp, uint64_t *va, uint64_t *len) {
  *len = irp->in_length;
  if (*len == 0) return DL_STATUS_BUFFER_TOO_SMALL;
  if (dl_ioctl_method(irp->ioctl) == DL_METHOD_NEITHER) {
    if (irp->major != DL_IRP_MJ_INTERNAL_DEVICE_CONTROL) return DL_STATUS_INVALID_DEVICE_REQUEST;
    *va = irp->type3_input;
  } else {
    *va = irp->system_va;
  }
  return DL_STATUS_SUCCESS;
}

/* An IOCTL's output buffer: system buffer, the MDL's address, or none for METHOD_NEITHER. */
static uint32_t ioctl_output(dl_irp *irp, uint64_t *va, uint64_t *len) {
  *len = irp->length;
  if (*len == 0) return DL_STATUS_BUFFER_TOO_SMALL;
  switch (dl_ioctl_method(irp->ioctl)) {
  case DL_METHOD_BUFFERED: *va = irp->system_va; break;
  case DL_METHOD_NEITHER:
    if (irp->major != DL_IRP_MJ_INTERNAL_DEVICE_CONTROL) return DL_STATUS_INVALID_DEVICE_REQUEST;
    *va = irp->user_buffer;
    break;
  default: *va = mdl_address(irp);
  }
  return DL_STATUS_SUCCESS;
}

/* The state table's word on a buffer call `call`: 0 if allowed, else its status. */
static uint32_t buffer_refused(dl_wdf_request *r, const char *call) {
  dl_wdfreq_cell c = dl_wdfreq_check(r, DL_RCALL_BUFFER, call);
  return c.kind == DL_RS_ALLOW ? 0 : c.status;
}

/* The buffer of r by its I/O method (no state check). */
static uint32_t buffer_of(dl_wdf_request *r, int output, uint64_t required, uint64_t *va, uint64_t *len) {
  const char *call = output ? "WdfRequestRetrieveOutputBuffer" : "WdfRequestRetrieveInputBuffer";
  dl_irp *irp = r->irp;
  uint32_t st;
  if (!irp) return DL_STATUS_INVALID_DEVICE_REQUEST;
  if (is_ioctl(irp)) st = output ? ioctl_output(irp, va, len) : ioctl_input(irp, va, len);
  else if (irp->major == (output ? DL_IRP_MJ_READ : DL_IRP_MJ_WRITE)) st = rw_buffer(r, call, va, len);
  else return DL_STATUS_INVALID_DEVICE_REQUEST;  /* a write's output, a read's input, a create */
  if (st != DL_STATUS_SUCCESS) {
    *len = 0;
    return st;
  }
  if (!*va || !*len || *len < required) {
    *va = 0;
    return DL_STATUS_BUFFER_TOO_SMALL;
  }
  return DL_STATUS_SUCCESS;
}

/* WdfRequestRetrieveInputBuffer / OutputBuffer. */
uint32_t dl_wdf_request_buffer(dl_wdf_request *r, int output, uint64_t required, uint64_t *va,
                               uint64_t *len) {
  *va = 0;
  *len = 0;
  uint32_t st = buffer_refused(r, output ? "WdfRequestRetrieveOutputBuffer"
                                         : "WdfRequestRetrieveInputBuffer");
  return st ? st : buffer_of(r, output, required, va, len);
}

/* An MDL the framework builds over [va, va+len) of the system buffer. */
static uint32_t fx_mdl(dl_wdf_request *r, int output, uint64_t va, uint64_t len, dl_mdl **out) {
  if (!va || !len) return DL_STATUS_BUFFER_TOO_SMALL;
  if (!r->fx_mdl[output]) {
    dl_mdl *mdl;
    if (dl_mdl_allocate(r->m, va, len, &mdl)) return DL_STATUS_INSUFFICIENT_RESOURCES;
    dl_mdl_build_for_nonpaged_pool(mdl);
    r->fx_mdl[output] = mdl;
    dl_mdl_set_owner_ref(mdl, &r->fx_mdl[output]);
  }
  *out = r->fx_mdl[output];
  return DL_STATUS_SUCCESS;
}

/* WdfRequestRetrieveInputWdmMdl / OutputWdmMdl. */
uint32_t dl_wdf_request_mdl(dl_wdf_request *r, int output, dl_mdl **out) {
  dl_irp *irp = r->irp;
  *out = NULL;
  uint64_t va = 0, len = 0;
  uint32_t refused = buffer_refused(r, output ? "WdfRequestRetrieveOutputWdmMdl"
                                              : "WdfRequestRetrieveInputWdmMdl");
  if (refused) return refused;
  if (!irp) return DL_STATUS_INVALID_DEVICE_REQUEST;
  if (is_ioctl(irp)) {
    uint32_t method = dl_ioctl_method(irp->ioctl);
    if (method == DL_METHOD_NEITHER) return DL_STATUS_INVALID_DEVICE_REQUEST;
    if (output && method != DL_METHOD_BUFFERED) {
      *out = irp->mdl;
      return irp->mdl ? DL_STATUS_SUCCESS : DL_STATUS_BUFFER_TOO_SMALL;
    }
    return fx_mdl(r, output, irp->system_va, output ? irp->length : irp->in_length, out);
  }
  if (irp->major != (output ? DL_IRP_MJ_READ : DL_IRP_MJ_WRITE)) return DL_STATUS_INVALID_DEVICE_REQUEST;
  if (irp->xfer == DL_XFER_DIRECT) {
    *out = irp->mdl;
    return irp->mdl ? DL_STATUS_SUCCESS : DL_STATUS_BUFFER_TOO_SMALL;
  }
  uint32_t st = rw_buffer(r, output ? "WdfRequestRetrieveOutputWdmMdl" : "WdfRequestRetrieveInputWdmMdl",
                          &va, &len);
  return st ? st : fx_mdl(r, output, va, len, out);
}

/* ---- cancelable requests -------------------------------------------------------- */

/* IoCancelIrp on a request the driver marked cancelable: EvtRequestCancel. */
static void on_request_cancel(void *ctx, dl_irp *irp) {
  dl_wdf_request *r = ctx;
  if (irp && dl_io_cancel_spin_lock_held(r->m)) dl_io_release_cancel_spin_lock(r->m, irp->cancel_irql);
  r->cancelable = 0;
  r->cancel_called = 1;
  const dl_wdf_ops *ops = r->q->d->ops;
  if (ops && ops->request_cancel) ops->request_cancel(r->q->d->ctx, r);
}

/* WdfRequestMarkCancelable(Ex). */
uint32_t dl_wdf_request_mark_cancelable(dl_wdf_request *r, int ex) {
  dl_wdfreq_cell c = dl_wdfreq_check(r, ex ? DL_RCALL_MARK_EX : DL_RCALL_MARK, NULL);
  if (c.kind != DL_RS_ALLOW) return c.status;
  if (!r->irp) return DL_STATUS_INVALID_DEVICE_REQUEST;
  if (r->irp->cancel) {  /* Ex: the driver completes it; else EvtRequestCancel now */
    if (!ex) on_request_cancel(r, r->irp);
    return DL_STATUS_CANCELLED;
  }
  r->cancelable = 1;
  dl_io_set_cancel_routine(r->irp, on_request_cancel, r);
  return DL_STATUS_SUCCESS;
}

/* WdfRequestUnmarkCancelable. */
uint32_t dl_wdf_request_unmark_cancelable(dl_wdf_request *r) {
  dl_wdfreq_cell c = dl_wdfreq_check(r, DL_RCALL_UNMARK, NULL);
  if (c.kind != DL_RS_ALLOW) return c.status;  /* STATUS_CANCELLED once EvtRequestCancel ran */
  r->cancelable = 0;
  dl_io_set_cancel_routine(r->irp, NULL, NULL);
  return DL_STATUS_SUCCESS;
}

/* WdfRequestIsCanceled: FALSE where the state table refuses it. */
int dl_wdf_request_is_canceled(dl_wdf_request *r) {
  if (dl_wdfreq_check(r, DL_RCALL_IS_CANCELED, NULL).kind != DL_RS_ALLOW) return 0;
  return r->irp && r->irp->cancel;
}

/* ---- completion ----------------------------------------------------------------- */

/* The buffer length Information is checked against, or -1 for none. */
static int64_t checked_length(const dl_irp *irp) {
  if (irp->major == DL_IRP_MJ_READ || irp->major == DL_IRP_MJ_WRITE) return irp->length;
  if (irp->major == DL_IRP_MJ_DEVICE_CONTROL && irp->length) return irp->length;
  return -1;  /* internal IOCTLs, an IOCTL's Information about its input, creates */
}

/* The rules checked when the driver completes r. */
uint64_t dl_wdf_request_verify_complete(dl_wdf_request *r, uint32_t status, uint64_t information) {
  int64_t len = r->irp ? checked_length(r->irp) : -1;
  if (len >= 0 && dl_nt_success(status) && information > (uint64_t)len) {
    dl_wdf_report(r->m, DL_WDF_REQUEST_FATAL_ERROR, DL_WDF_INFORMATION_LENGTH_MISMATCH, r->id,
                  "WdfRequestComplete: WDFREQUEST#%llu completes with Information %llu, beyond its "
                  "%lld-byte buffer (WDF_REQUEST_FATAL_ERROR_INFORMATION_LENGTH_MISMATCH)",
                  (unsigned long long)r->id, (unsigned long long)information, (long long)len);
    information = (uint64_t)len;
  }
  return information;
}

/* WdfRequestRetrieveInputMemory / OutputMemory. */
uint32_t dl_wdf_request_memory(dl_wdf_request *r, int output, dl_wdf_memory **out) {
  *out = NULL;
  uint64_t va = 0, len = 0;
  uint32_t st = buffer_refused(r, output ? "WdfRequestRetrieveOutputMemory"
                                         : "WdfRequestRetrieveInputMemory");
  if (!st) st = buffer_of(r, output, 0, &va, &len);
  if (st != DL_STATUS_SUCCESS) return st;
  if (!len) return DL_STATUS_BUFFER_TOO_SMALL;
  if (!r->fx_mem[output] &&
      dl_wdf_memory_new_request(r->m, DL_WDF(r), va, len, &r->fx_mem[output]))
    return DL_STATUS_INSUFFICIENT_RESOURCES;
  *out = r->fx_mem[output];
  return DL_STATUS_SUCCESS;
}

/* Frees the framework's MDLs and takes the cancel routine off the IRP. */
void dl_wdf_request_release(dl_wdf_request *r) {
  r->fx_mem[0] = r->fx_mem[1] = NULL;  /* children: they go with the request */
  for (int i = 0; i < 2; i++) {
    dl_mdl *mdl = r->fx_mdl[i];
    r->fx_mdl[i] = NULL;
    if (mdl) {
      dl_mdl_set_owner_ref(mdl, NULL);
      dl_mdl_free(mdl);
    }
  }
  if (r->irp && !r->irp->completed) dl_io_set_cancel_routine(r->irp, NULL, NULL);
  r->cancelable = 0;
}
