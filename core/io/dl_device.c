/*
** dl_device.c: device objects.
*/
#include "io/dl_device.h"

#include <stdio.h>
#include <stdlib.h>

#include "machine/dl_machine.h"
#include "base/dl_status.h"

static void destroy(dl_object *o) { dl_device_free((dl_device *)o); }

const dl_object_type dl_device_type = { "DEVICE_OBJECT", destroy, NULL, NULL, NULL };

/* Creates a device object named `name`. */
int dl_device_new(dl_machine *m, const char *name, dl_device **out) {
  dl_device *dev = calloc(1, sizeof *dev);
  if (!dev) return DL_ENOMEM;
  dl_object_init(DL_OBJECT(dev), m, &dl_device_type, NULL);
  dl_list_init(&dev->irp_queue);
  dl_list_init(&dev->driver_link);
  dev->flags = DL_DO_DIRECT_IO;  /* the lab's default (see dl_iobuf.h) */
  dev->device_type = 0x22;       /* FILE_DEVICE_UNKNOWN */
  dev->stack_size = 1;           /* IoCreateDevice: one location, its own */
  if (name) snprintf(dev->name, sizeof dev->name, "%s", name);
  else snprintf(dev->name, sizeof dev->name, "device%llu", (unsigned long long)dev->id);
  *out = dev;
  return DL_OK;
}

/* Frees a device object; it leaves its driver's list. */
void dl_device_free(dl_device *dev) {
  if (!dev) return;
  dl_list_remove(&dev->driver_link);
  dl_object_unlink(DL_OBJECT(dev));
  free(dev);
}

/* Accessors. */
const char *dl_device_name(const dl_device *dev) { return dev->name; }
dl_driver *dl_device_driver(const dl_device *dev) { return dev->driver; }
struct dl_irp *dl_device_current_irp(const dl_device *dev) { return dev->current_irp; }
struct dl_dpc *dl_device_dpc_for_isr(const dl_device *dev) { return dev->dpc_for_isr; }

/* IoCreateDevice's type, characteristics and exclusivity. */
void dl_device_set_type(dl_device *dev, uint32_t type, uint32_t characteristics, int exclusive) {
  dev->device_type = type;
  dev->characteristics = characteristics;
  dev->flags = exclusive ? dev->flags | DL_DO_EXCLUSIVE : dev->flags & ~(uint32_t)DL_DO_EXCLUSIVE;
}

/* Flags. */
void dl_device_set_flags(dl_device *dev, uint32_t flags) { dev->flags = flags; }
uint32_t dl_device_flags(const dl_device *dev) { return dev->flags; }
