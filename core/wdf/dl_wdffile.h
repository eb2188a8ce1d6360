/*
** dl_wdffile.h: the framework's file objects (WDFFILEOBJECT) and its
** handling of IRP_MJ_CREATE, IRP_MJ_CLEANUP and IRP_MJ_CLOSE
** (WdfDeviceInitSetFileObjectConfig; FxPkgGeneral in the KMDF source):
** every create on a framework device gets a WDFFILEOBJECT (a child of the
** device); with EvtDeviceFileCreate the create becomes a request the
** driver completes (EvtDeviceFileCreate(Device, Request, FileObject)),
** without it the framework completes it with STATUS_SUCCESS. A cleanup
** calls EvtFileCleanup(FileObject), a close EvtFileClose(FileObject); the
** framework completes both with STATUS_SUCCESS, and the close deletes the
** WDFFILEOBJECT.
*/
#ifndef DL_WDFFILE_H
#define DL_WDFFILE_H

#include "io/dl_file.h"
#include "wdf/dl_wdf.h"

/* The file callbacks (the bits of dl_wdf_device.file_events). */
enum { DL_WDF_FILE_CREATE = 1, DL_WDF_FILE_CLEANUP, DL_WDF_FILE_CLOSE };

typedef struct dl_wdf_file {
  DL_WDF_OBJECT_FIELDS
  dl_wdf_device *d;
  dl_file *file;       /* the FILE_OBJECT (WdfFileObjectWdmGetFileObject) */
} dl_wdf_file;

/* Which file callbacks the driver gave: bits (1 << DL_WDF_FILE_*). */
void dl_wdf_device_set_file_events(dl_wdf_device *d, uint32_t events);

/* The framework's dispatch of a create, cleanup or close sent to the
** device: STATUS_PENDING when the driver got the create as a request
** (*out), else the status for the caller to complete the IRP with
** (STATUS_SUCCESS; INVALID_DEVICE_STATE for a failed, removed or deleted
** device, d NULL; INSUFFICIENT_RESOURCES). */
uint32_t dl_wdf_device_file_dispatch(dl_wdf_device *d, dl_irp *irp, dl_wdf_request **out);

/* WdfFileObjectGetFileName: the FileName of the WDM file object (no
** device name; "" when the device itself was opened), or NULL when the
** file object has no WDM file object or irql is above PASSIVE_LEVEL. */
const char *dl_wdf_file_get_name(const dl_wdf_file *wf, uint8_t irql);

/* The WDFFILEOBJECT of a file, or NULL. */
dl_wdf_file *dl_wdf_file_of(const dl_file *f);

#endif
