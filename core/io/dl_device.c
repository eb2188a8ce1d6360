/*
** dl_device.c: device objects.
*/
#include "io/dl_device.h"

#include <stdio.h>
#include <stdlib.h>

#include "machine/dl_machine.h"
#include "base/dl_status.h"

/* Creates a device object named `name`. */
int dl_device_new(dl_machine *m, const char *name, dl_device **out) {
  dl_device *dev = calloc(1, sizeof *dev);
  if (!dev) return DL_ENOMEM;
  dev->m = m;
  dev->id = dl_machine_next_id(m);
  dl_list_init(&dev->irp_queue);
  if (name) snprintf(dev->name, sizeof dev->name, "%s", name);
  else snprintf(dev->name, sizeof dev->name, "device%llu", (unsigned long long)dev->id);
  dl_list_append(dl_machine_devices(m), &dev->link);
  *out = dev;
  return DL_OK;
}

/* Frees a device object. */
void dl_device_free(dl_device *dev) {
  if (!dev) return;
  dl_list_remove(&dev->link);
  free(dev);
}
