/*
** dl_irp.h: I/O request packets, reduced to one stack location: the
** read, write or device control a scenario (standing for the I/O manager)
** sends to a driver, the device queue that serialises a packet-based
** driver's StartIo, and completion.
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

struct dl_irp {
  DL_OBJECT_FIELDS
  dl_link entry;           /* on a device queue while queued (DeviceQueueEntry) */
  uint8_t major;
  uint32_t length;         /* Parameters.Read/Write.Length */
  uint64_t byte_offset;    /* Parameters.Read/Write.ByteOffset: where on the medium */
  uint32_t ioctl;          /* Parameters.DeviceIoControl.IoControlCode */
  uint32_t key;            /* sort key while queued by key */
  dl_mdl *mdl;             /* MdlAddress; NULL once completed or for 0 bytes */
  uint32_t status;         /* IoStatus.Status */
  uint64_t information;    /* IoStatus.Information */
  int pending;             /* IoMarkIrpPending was called (PendingReturned) */
  int queued, completed;
  dl_device *device;       /* where it was sent; NULL until then */
  uint64_t sent_at, completed_at;
};

/* The IRP type. */
extern const dl_object_type dl_irp_type;

/* Builds an IRP for `major` (READ, WRITE or DEVICE_CONTROL) over the buffer
** [va, va+length), probed and locked for the access the device makes (it
** writes memory on a read or device control, reads it on a write); length
** 0 makes no MDL. DL_EINVAL for another major or a length beyond an MDL,
** DL_ENOTMAPPED if the range is not mapped. */
int dl_irp_new(dl_machine *m, uint8_t major, uint64_t va, uint64_t length,
               uint64_t byte_offset, dl_irp **out);

/* Frees the IRP, taking it off any device queue; a device whose current IRP
** it was goes idle. An MDL it still has is left to the machine (a driver
** may have freed it). NULL is a harmless no-op. */
void dl_irp_free(dl_irp *irp);

/* IoCallDriver's part before the dispatch routine: records the request as
** sent to dev (trace request_start). DL_ESTATE if it was sent before. */
int dl_irp_send(dl_irp *irp, dl_device *dev);

/* IoMarkIrpPending. */
void dl_irp_mark_pending(dl_irp *irp);

/* IoStartPacket: if dev's queue is busy, queues irp (at the tail, or after
** the entries whose key is <= *key when key is not NULL); else makes it the
** current IRP and calls fn at DISPATCH_LEVEL. DL_ESTATE if irp is not sent
** to dev, is queued, current or completed. */
int dl_irp_start_packet(dl_device *dev, dl_irp *irp, const uint32_t *key,
                        dl_start_io_fn fn, void *ctx);

/* IoStartNextPacket: the head of the queue becomes current and goes to fn
** (at the current IRQL, DISPATCH_LEVEL for the caller); with an empty queue
** the device goes idle (no current IRP). */
void dl_irp_start_next_packet(dl_device *dev, dl_start_io_fn fn, void *ctx);

/* Returns 1 if the IRP is its device's current IRP. */
int dl_irp_is_current(const dl_irp *irp);

/* Returns the adapter id of a pending scatter/gather request that still
** needs the IRP's MDL, or 0: completing now would free it under the DMA. */
uint64_t dl_irp_mdl_awaited(const dl_irp *irp);

/* IoCompleteRequest: records the completion with IoStatus as set (trace
** request_complete, statistics) and unlocks and frees the MDL. DL_ESTATE if not sent, still queued or already completed;
** DL_EBUSY (nothing done) if dl_irp_mdl_awaited. */
int dl_irp_complete(dl_irp *irp);


/* Name of a major function ("IRP_MJ_READ"...), or NULL. */
const char *dl_irp_major_name(uint8_t major);

#endif
