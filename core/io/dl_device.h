/*
** dl_device.h: device objects (the WDK's DEVICE_OBJECT, reduced to what
** the DMA model needs): a name, an id, the device queue with the current
** IRP, and a user slot.
*/
#ifndef DL_DEVICE_H
#define DL_DEVICE_H

#include <stdint.h>

#include "base/dl_list.h"
#include "machine/dl_object.h"

typedef struct dl_machine dl_machine;

typedef struct dl_device {
  DL_OBJECT_FIELDS
  char name[48];
  uint32_t channel_requests; /* AllocateAdapterChannel requests not yet released */
  struct dl_dpc *dpc_for_isr; /* IoInitializeDpcRequest */
  dl_link irp_queue;       /* DeviceQueue: IRPs waiting for StartIo (dl_irp.c) */
  struct dl_irp *current_irp; /* CurrentIrp; non-NULL is the queue's Busy state */
} dl_device;

/* The DEVICE_OBJECT type. */
extern const dl_object_type dl_device_type;

/* Creates a device object named `name` (may be NULL). */
int dl_device_new(dl_machine *m, const char *name, dl_device **out);

/* Frees a device object; NULL is a harmless no-op. */
void dl_device_free(dl_device *dev);

#endif
