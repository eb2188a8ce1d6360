/*
** dl_device.h: device objects (the WDK's DEVICE_OBJECT, reduced to what
** the DMA model needs): a name, an id, the driver it belongs to, the device
** queue with the current IRP, the DpcForIsr, its place in a device stack
** and whether IoDeleteDevice ran (dl_devstack.h), and a user slot.
**
** The struct is public to core/ only (the I/O manager in dl_driver.c and
** dl_irp.c, the adapters); bindings use the accessors.
*/
#ifndef DL_DEVICE_H
#define DL_DEVICE_H

#include <stdint.h>

#include "base/dl_list.h"
#include "machine/dl_object.h"

typedef struct dl_machine dl_machine;
typedef struct dl_driver dl_driver;

/* DEVICE_OBJECT Flags the I/O manager reads (wdm.h values). */
enum { DL_DO_BUFFERED_IO = 0x4, DL_DO_EXCLUSIVE = 0x8, DL_DO_DIRECT_IO = 0x10 };

typedef struct dl_device {
  DL_OBJECT_FIELDS
  char name[48];
  uint32_t channel_requests; /* AllocateAdapterChannel requests not yet released */
  struct dl_dpc *dpc_for_isr; /* IoInitializeDpcRequest */
  dl_link irp_queue;       /* DeviceQueue: IRPs waiting for StartIo (dl_driver.c) */
  struct dl_irp *current_irp; /* CurrentIrp; non-NULL is the queue's Busy state */
  dl_driver *driver;       /* DriverObject, or NULL (dl_driver.c) */
  dl_link driver_link;     /* on its driver's device list (DeviceObject/NextDevice) */
  uint32_t flags;          /* Flags: DO_BUFFERED_IO, DO_DIRECT_IO... (dl_iobuf.h) */
  uint32_t device_type;    /* DeviceType (FILE_DEVICE_*) */
  uint32_t characteristics; /* Characteristics (FILE_DEVICE_SECURE_OPEN...) */
  int exclusive;           /* IoCreateDevice's Exclusive: one open file at a time */
  uint32_t open_files;     /* files open on it (IRP_MJ_CREATE succeeded, not yet closed) */
  /* The device stack and the object's life (dl_devstack.h). */
  uint8_t stack_size;      /* StackSize: IRP stack locations a request to it needs */
  struct dl_device *attached;    /* AttachedDevice: the device attached on top of it */
  struct dl_device *attached_to; /* DeviceObjectExtension->AttachedTo: the one beneath */
  int deleted;             /* IoDeleteDevice ran: out of its driver and the name space */
  uint32_t references;     /* ObReferenceObject / IoGetAttachedDeviceReference not yet dereferenced */
} dl_device;

/* The DEVICE_OBJECT type. */
extern const dl_object_type dl_device_type;

/* Creates a device object named `name` (may be NULL) of no driver. */
int dl_device_new(dl_machine *m, const char *name, dl_device **out);

/* Frees a device object (it leaves its driver); NULL is a harmless no-op. */
void dl_device_free(dl_device *dev);

/* IoCreateDevice's DeviceType, DeviceCharacteristics and Exclusive
** (DO_EXCLUSIVE in Flags). */
void dl_device_set_type(dl_device *dev, uint32_t type, uint32_t characteristics, int exclusive);

/* DEVICE_OBJECT.Flags, which a driver may set (DO_BUFFERED_IO...). */
void dl_device_set_flags(dl_device *dev, uint32_t flags);
uint32_t dl_device_flags(const dl_device *dev);

/* Accessors: the name, DriverObject, CurrentIrp and the DpcForIsr. */
const char *dl_device_name(const dl_device *dev);
dl_driver *dl_device_driver(const dl_device *dev);
struct dl_irp *dl_device_current_irp(const dl_device *dev);
struct dl_dpc *dl_device_dpc_for_isr(const dl_device *dev);

#endif
