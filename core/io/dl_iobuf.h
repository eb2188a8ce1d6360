/*
** dl_iobuf.h: how the I/O manager carries a request's buffers to the
** driver ("Methods for Accessing Data Buffers", "Buffer Descriptions for
** I/O Control Codes"), and IRPs of every major function the lab's
** originator sends (IRP_MJ_CREATE, CLOSE, CLEANUP, READ, WRITE,
** DEVICE_CONTROL, INTERNAL_DEVICE_CONTROL).
**
** IOCTLs by the method in their CTL_CODE, decided when the IRP is built:
**   METHOD_BUFFERED:  AssociatedIrp.SystemBuffer, max(in, out) bytes of
**                     nonpaged pool holding the input; at completion the
**                     I/O manager copies IoStatus.Information bytes back to
**                     the output buffer (unless NT_ERROR) and frees it.
**   METHOD_IN_DIRECT / METHOD_OUT_DIRECT: the input in SystemBuffer as
**                     above; the output buffer locked in MdlAddress (for
**                     IoReadAccess / IoWriteAccess).
**   METHOD_NEITHER:   Parameters.DeviceIoControl.Type3InputBuffer and
**                     Irp->UserBuffer are the originator's addresses.
** Reads and writes by the target device's Flags, decided by IoCallDriver:
** DO_BUFFERED_IO (wins over DO_DIRECT_IO, as in NtReadFile): SystemBuffer
** (a write's data copied in, a read's Information bytes copied out);
** DO_DIRECT_IO: MdlAddress; neither flag: Irp->UserBuffer. The lab's
** devices start with DO_DIRECT_IO, the bus-master DMA driver's choice
** (IoCreateDevice's start with neither): clear it for neither I/O.
** UserBuffer is the originator's output (read) buffer whatever the method.
*/
#ifndef DL_IOBUF_H
#define DL_IOBUF_H

#include <stdint.h>

#include "io/dl_device.h"
#include "io/dl_irp.h"

/* What the originator asks for (NtCreateFile, NtReadFile, NtWriteFile,
** NtDeviceIoControlFile...): a read's buffer is the output, a write's the
** input. */
typedef struct dl_irp_params {
  uint8_t major;
  uint64_t in_va, in_length;    /* write: the data; IOCTL: the input buffer */
  uint64_t out_va, out_length;  /* read: the buffer; IOCTL: the output buffer */
  uint64_t byte_offset;         /* read and write */
  uint32_t ioctl;               /* IOCTL: IoControlCode */
  dl_file *file;                /* FileObject (NULL: none) */
} dl_irp_params;

/* The transfer method of an IOCTL code (METHOD_FROM_CTL_CODE). */
static inline uint32_t dl_ioctl_method(uint32_t code) { return code & 3u; }

/* Builds an IRP as the I/O manager does for p: DL_EINVAL for a major the
** lab's originator does not send, buffers given to a major that takes none
** or lengths beyond a ULONG; DL_ENOTMAPPED if a buffer is not mapped. */
int dl_iobuf_irp_new(dl_machine *m, const dl_irp_params *p, dl_irp **out);

/* IoCallDriver's part for a read or write sent to dev: the buffers follow
** dev's Flags (the MDL built for direct I/O is replaced). DL_ENOMEM. */
int dl_iobuf_send(dl_irp *irp, const dl_device *dev);

/* IoCompleteRequest's part: a buffered request's output copied back
** (IoStatus.Information bytes, unless NT_ERROR(Status); more than the
** output buffer is reported, 0xC9, and cut to it), the system buffer freed.
** DL_ESTATE (nothing done) before the IRP is completed (dl_irpstate.h). */
int dl_iobuf_complete(dl_irp *irp);

/* Frees the system buffer of an IRP freed without completion. */
void dl_iobuf_release(dl_irp *irp);

/* (dl_irp.c calls both through the IRP's io_done hook, which
** dl_iobuf_irp_new sets, so that dl_irp needs no include of this file.) */

/* Accessors: Parameters.DeviceIoControl.InputBufferLength and
** OutputBufferLength, AssociatedIrp.SystemBuffer, UserBuffer,
** Type3InputBuffer, the transfer method (DL_XFER_*), the bytes copied back. */
uint32_t dl_irp_input_length(const dl_irp *irp);
uint32_t dl_irp_output_length(const dl_irp *irp);
uint64_t dl_irp_system_buffer(const dl_irp *irp);
uint64_t dl_irp_user_buffer(const dl_irp *irp);
uint64_t dl_irp_type3_input(const dl_irp *irp);
int dl_irp_xfer(const dl_irp *irp);
uint64_t dl_irp_copied_back(const dl_irp *irp);
uint64_t dl_irp_input_va(const dl_irp *irp);   /* the originator's input buffer */
uint64_t dl_irp_output_va(const dl_irp *irp);  /* the originator's output buffer */

#endif
