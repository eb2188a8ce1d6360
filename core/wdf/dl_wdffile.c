/*
** dl_wdffile.c: WDFFILEOBJECTs and the framework's create, cleanup and
** close (see dl_wdffile.h).
*/
#include "wdf/dl_wdffile.h"

#include <stdlib.h>

#include "base/dl_status.h"
#include "base/dl_wdk.h"
#include "io/dl_cancel.h"
#include "io/dl_irp.h"
#include "wdf/dl_wdfio.h"

/* Machine teardown. */
static void file_destroy(dl_object *o) {
  dl_wdf_file *wf = (dl_wdf_file *)o;
  if (wf->file && wf->file->fx == wf) wf->file->fx = NULL;
  dl_wdf_object_fini(DL_WDF(wf));
  free(wf);
}

/* The framework's deletion. */
static void file_dispose(dl_wdf_object *o) {
  dl_wdf_file *wf = (dl_wdf_file *)o;
  if (wf->file && wf->file->fx == wf) wf->file->fx = NULL;
  free(wf);
}

static const dl_wdf_class file_class = {
  {"WDFFILEOBJECT", file_destroy, NULL, NULL, &dl_wdf_family}, DL_WDF_FRAMEWORK_OWNED, NULL, file_dispose
};

/* Which file callbacks the driver gave. */
void dl_wdf_device_set_file_events(dl_wdf_device *d, uint32_t events) { d->file_events = events; }

/* The WDFFILEOBJECT of a file. */
dl_wdf_file *dl_wdf_file_of(const dl_file *f) { return f ? f->fx : NULL; }

/* WdfFileObjectGetFileName. */
const char *dl_wdf_file_get_name(const dl_wdf_file *wf, uint8_t irql) {
  if (!wf || !wf->file || irql > DL_PASSIVE_LEVEL) return NULL;
  return dl_file_name(wf->file);
}

/* Calls a file callback the driver gave. */
static int file_event(dl_wdf_device *d, int which, dl_wdf_request *r, dl_wdf_file *wf) {
  if (!(d->file_events & (1u << which)) || !d->ops || !d->ops->file_event) return 0;
  return d->ops->file_event(d->ctx, d, which, r, wf);
}

/* A create: its WDFFILEOBJECT, then EvtDeviceFileCreate with a request. */
static uint32_t create(dl_wdf_device *d, dl_irp *irp, dl_wdf_request **out) {
  dl_wdf_file *wf = NULL;
  if (irp->file) {
    wf = calloc(1, sizeof *wf);
    if (!wf) return DL_STATUS_INSUFFICIENT_RESOURCES;
    dl_wdf_object_init(DL_WDF(wf), d->m, &file_class, DL_WDF(d));
    wf->d = d;
    wf->file = irp->file;
    irp->file->fx = wf;
  }
  if (!(d->file_events & (1u << DL_WDF_FILE_CREATE))) return DL_STATUS_SUCCESS;
  if (!d->create_queue && dl_wdf_queue_new(d, DL_WDF_DISPATCH_PARALLEL, 0, &d->create_queue))
    return DL_STATUS_INSUFFICIENT_RESOURCES;
  if (dl_wdf_queue_add(d->create_queue, irp, out)) return DL_STATUS_INSUFFICIENT_RESOURCES;
  dl_wdf_request *r = *out;
  dl_list_remove(&r->wait);  /* the driver's at once: never presented as I/O */
  dl_io_set_cancel_routine(irp, NULL, NULL);
  r->presented = 1;
  d->create_queue->in_flight++;
  d->create_queue->presented++;
  dl_irp_mark_pending(irp);
  file_event(d, DL_WDF_FILE_CREATE, r, wf);
  return DL_STATUS_PENDING;
}

/* The framework's create, cleanup and close. */
uint32_t dl_wdf_device_file_dispatch(dl_wdf_device *d, dl_irp *irp, dl_wdf_request **out) {
  *out = NULL;
  if (!d || d->state == DL_WDF_FAILED || d->state == DL_WDF_REMOVED)
    return DL_STATUS_INVALID_DEVICE_STATE;
  dl_wdf_file *wf = dl_wdf_file_of(irp->file);
  switch (irp->major) {
  case DL_IRP_MJ_CREATE: return create(d, irp, out);
  case DL_IRP_MJ_CLEANUP: file_event(d, DL_WDF_FILE_CLEANUP, NULL, wf); return DL_STATUS_SUCCESS;
  case DL_IRP_MJ_CLOSE:
    file_event(d, DL_WDF_FILE_CLOSE, NULL, wf);
    if (wf) dl_wdf_object_delete_framework(DL_WDF(wf));
    return DL_STATUS_SUCCESS;
  default: return DL_STATUS_INVALID_DEVICE_REQUEST;
  }
}
