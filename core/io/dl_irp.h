/*
** dl_irp.h: I/O request packets: the request a scenario (standing for the
** I/O manager) sends to a driver, and completion. The parameters are the
** IRP's (one set, as a copy or skip passes them on); the stack locations
** keep what forwarding changes: the device, the completion routine and
** Control (dl_irpstack.h). The I/O manager's calls on IRPs (IoCallDriver,
** IoStartPacket, IoCompleteRequest) are in dl_driver.h.
**
** Direct I/O only: the I/O manager locks the caller's buffer with an MDL
** (MdlAddress) before the IRP reaches the driver and unlocks and frees it
** when the IRP completes. An IRP belongs to its machine: it lives after its
** completion until its user lets it go (dl_irp_free) or the machine does.
*/
#ifndef DL_IRP_H
#define DL_IRP_H

#include <stdint.h>

#include "base/dl_list.h"
#include "machine/dl_object.h"
#include "base/dl_wdk.h"  /* IRP_MJ_* codes, NTSTATUS values */

typedef struct dl_machine dl_machine;
typedef struct dl_mdl dl_mdl;
typedef struct dl_device dl_device;
typedef struct dl_irp dl_irp;

/* DriverStartIo(DeviceObject, Irp), called by the device queue. */
typedef void (*dl_start_io_fn)(void *ctx, dl_device *dev, dl_irp *irp);

/* The request's completion routine (the scenario's, standing for the
** originator's): called by IoCompleteRequest once the IRP is completed, at
** the completing caller's IRQL. */
typedef void (*dl_irp_completion_fn)(void *ctx, dl_irp *irp);

/* A cancel routine (the driver's, or the framework's for its queues),
** called by IoCancelIrp at DISPATCH_LEVEL once the IRP's Cancel is set. */
typedef void (*dl_irp_cancel_fn)(void *ctx, dl_irp *irp);

typedef struct dl_file dl_file;

/* A completion routine set by IoSetCompletionRoutine in a stack location
** (dl_irpstack.h): called as IoCompleteRequest passes the location on the
** way up, with DeviceObject the setter's device (the location above; NULL
** for the top location) and PendingReturned set for it; returns the
** NTSTATUS it returned (STATUS_MORE_PROCESSING_REQUIRED stops completion). */
typedef uint32_t (*dl_irp_routine_fn)(void *ctx, dl_device *dev, dl_irp *irp, int location);

/* The most stack locations an IRP has (a stack of this many devices). */
#define DL_IRP_STACK_MAX 8

/* One IO_STACK_LOCATION, reduced to what forwarding changes: the
** parameters are the IRP's (a copy or a skip keeps them). */
typedef struct dl_irp_location {
  dl_device *device;          /* DeviceObject of the driver at this location */
  dl_irp_routine_fn routine;  /* CompletionRoutine, set from the location above */
  void *routine_ctx;
  uint8_t control;            /* Control: SL_PENDING_RETURNED, SL_INVOKE_ON_* (dl_irpstack.h) */
} dl_irp_location;

/* How an IRP's buffers reach the driver (dl_iobuf.h). */
enum { DL_XFER_NONE, DL_XFER_BUFFERED, DL_XFER_DIRECT, DL_XFER_NEITHER };
struct dl_region;

/* The struct is public to core/ only (the I/O manager in dl_driver.c, the
** framework in core/wdf); bindings use the accessors below. */
struct dl_irp {
  DL_OBJECT_FIELDS
  dl_link entry;           /* on a device queue while queued (DeviceQueueEntry) */
  uint8_t major;
  uint32_t length;         /* Parameters.Read/Write.Length */
  uint64_t byte_offset;    /* Parameters.Read/Write.ByteOffset: where on the medium */
  uint32_t ioctl;          /* Parameters.DeviceIoControl.IoControlCode */
  uint32_t key;            /* sort key while queued by key */
  dl_mdl *mdl;             /* MdlAddress; NULL once completed, for 0 bytes, or freed */
  uint64_t mdl_id;         /* the id of the MDL the I/O manager made, 0 if none */
  uint32_t status;         /* IoStatus.Status */
  uint64_t information;    /* IoStatus.Information */
  int pending;             /* IoMarkIrpPending was called (PendingReturned) */
  int queued, completed;
  dl_device *device;       /* where it was sent; NULL until then */
  uint64_t sent_at, completed_at;
  dl_irp_completion_fn completion;
  void *completion_ctx;
  /* How the I/O manager carried the buffers (dl_iobuf.h). */
  uint8_t xfer;            /* DL_XFER_*: buffered, direct, neither, none */
  uint32_t in_length;      /* Parameters.DeviceIoControl.InputBufferLength */
  uint64_t in_va, out_va;  /* the originator's input and output buffers (0: none) */
  struct dl_region *system_buffer; /* the pages of AssociatedIrp.SystemBuffer */
  uint64_t system_va;      /* AssociatedIrp.SystemBuffer, 0 if none */
  uint64_t user_buffer;    /* UserBuffer */
  uint64_t type3_input;    /* Parameters.DeviceIoControl.Type3InputBuffer */
  uint64_t copied_back;    /* bytes copied to the output buffer at completion */
  dl_file *file;           /* FileObject, or NULL */
  int cancel;              /* Cancel: IoCancelIrp was called */
  dl_irp_cancel_fn cancel_routine;  /* CancelRoutine (IoSetCancelRoutine) */
  uint8_t cancel_irql;     /* CancelIrql: the IRQL IoCancelIrp was called at */
  void *cancel_ctx;
  /* The I/O manager's part of completion (completed 1: copy-back, the file's
  ** state) and of freeing (completed 0): set by dl_iobuf_irp_new. */
  void (*io_done)(dl_irp *irp, int completed);
  /* The stack (dl_irpstack.h): locations 1..stack_count, the top one the
  ** first device's; current is CurrentLocation (stack_count + 1 before the
  ** IRP is sent and once completion has passed the top). */
  uint8_t stack_count, current;
  uint8_t next_ready;      /* IoCopyCurrentIrpStackLocationToNext or a skip since the last send */
  uint8_t pending_returned; /* PendingReturned, as the running completion routine sees it */
  uint8_t in_routine;      /* a completion routine of its stack is running */
  uint32_t forwards;       /* IoCallDriver calls that passed it down */
  dl_irp_location stack[DL_IRP_STACK_MAX + 2];
};

/* The IRP type. */
extern const dl_object_type dl_irp_type;

/* Builds an IRP for `major` over the buffer
** [va, va+length), probed and locked for the access the device makes (it
** writes memory on a read or device control, reads it on a write); length
** 0 makes no MDL. DL_EINVAL for a length with a major other than READ,
** WRITE or DEVICE_CONTROL, a major beyond IRP_MJ_MAXIMUM_FUNCTION or a
** length beyond an MDL, DL_ENOTMAPPED if the range is not mapped. The I/O
** manager's own builder, with every buffer method, is dl_iobuf_irp_new. */
int dl_irp_new(dl_machine *m, uint8_t major, uint64_t va, uint64_t length,
               uint64_t byte_offset, dl_irp **out);

/* IoFreeIrp: frees the IRP (never sent, or completed); a device whose
** current IRP it was goes idle. An MDL it still has is left to the machine
** (a driver may have freed it). One still in use is not freed: 0xC9/0x20B
** (dl_irpstate.h). NULL is a harmless no-op. */
void dl_irp_free(dl_irp *irp);

/* IoCallDriver's part before the dispatch routine: records the request as
** sent to dev (trace request_start). DL_ESTATE if it was sent before. */
int dl_irp_send(dl_irp *irp, dl_device *dev);

/* IoMarkIrpPending: DL_ESTATE (nothing done) once the IRP is completed. */
int dl_irp_mark_pending(dl_irp *irp);

/* Sets the request's completion routine (NULL: none). */
void dl_irp_set_completion(dl_irp *irp, dl_irp_completion_fn fn, void *ctx);

/* Parameters.DeviceIoControl.IoControlCode, set by the originator before
** the IRP is sent: DL_ESTATE once sent, DL_EINVAL unless a device control. */
int dl_irp_set_ioctl(dl_irp *irp, uint32_t ioctl);

/* Irp->IoStatus.Status and .Information, set by the driver: DL_ESTATE
** (nothing done) once the IRP is completed. */
int dl_irp_set_status(dl_irp *irp, uint32_t status);
int dl_irp_set_information(dl_irp *irp, uint64_t information);

/* Accessors: the stack location, IoStatus, MdlAddress and where the request is. */
uint64_t dl_irp_id(const dl_irp *irp);
uint8_t dl_irp_major(const dl_irp *irp);
uint32_t dl_irp_length(const dl_irp *irp);
uint64_t dl_irp_byte_offset(const dl_irp *irp);
uint32_t dl_irp_ioctl(const dl_irp *irp);
uint32_t dl_irp_status(const dl_irp *irp);
uint64_t dl_irp_information(const dl_irp *irp);
dl_mdl *dl_irp_mdl(const dl_irp *irp);
int dl_irp_pending(const dl_irp *irp);
int dl_irp_queued(const dl_irp *irp);
int dl_irp_completed(const dl_irp *irp);
dl_device *dl_irp_device(const dl_irp *irp);   /* NULL until sent */
uint64_t dl_irp_sent_at(const dl_irp *irp);
uint64_t dl_irp_completed_at(const dl_irp *irp);

/* The IRP's row in the state table of dl_irpstate.h: the first state that
** holds of completed, not sent, in a completion routine, queued, current
** (with a cancel routine or not), with a cancel routine, marked pending,
** dispatched. */
int dl_irp_row(const dl_irp *irp);

/* Consults the state table for `call` (a DL_IRPCALL_*) on irp, reporting a
** refused or forced call; returns the cell's kind (DL_IRP_*). */
int dl_irp_check(dl_irp *irp, int call);

/* The cell's kind for `call` on irp, without a report (the I/O manager's
** own steps, which the driver's call before them checked). */
int dl_irp_check_kind(const dl_irp *irp, int call);

/* Returns 1 if the IRP is its device's current IRP. */
int dl_irp_is_current(const dl_irp *irp);

/* Returns the adapter id of a pending scatter/gather request that still
** needs the IRP's MDL, or 0: completing now would free it under the DMA. */
uint64_t dl_irp_mdl_awaited(const dl_irp *irp);

/* The completion itself (the rules are dl_io_complete_request's): walks the
** stack up running its completion routines (dl_irpstack.h; one returning
** STATUS_MORE_PROCESSING_REQUIRED stops there: DL_OK, not completed), then
** records it with IoStatus as set (trace request_complete, statistics),
** unlocks and frees the MDL, then calls the originator's completion routine. DL_ESTATE if not sent,
** still queued or already completed; DL_EBUSY (nothing done) if
** dl_irp_mdl_awaited. */
int dl_irp_complete(dl_irp *irp);


/* The I/O manager's part of the stack (implemented in dl_irpstack.c, whose
** header has what drivers call): */

/* First send: the stack gets dev's StackSize, dev the top location. */
void dl_irp_stack_start(dl_irp *irp, dl_device *dev);

/* Marks the current location pending (IoMarkIrpPending). */
void dl_irp_stack_mark_pending(dl_irp *irp);

/* 1 if the location's SL_PENDING_RETURNED is set. */
int dl_irp_location_pending(const dl_irp *irp, int location);

/* Walks completion up from the current location, running the routines;
** returns 1 if one returned STATUS_MORE_PROCESSING_REQUIRED (completion stops). */
int dl_irp_stack_complete(dl_irp *irp);

/* Name of a major function ("IRP_MJ_READ"...), or NULL. */
const char *dl_irp_major_name(uint8_t major);

#endif
