/*
** dl_device.c: device objects.
*/
#include "io/dl_device.h"

#include <stdio.h>
#include <stdlib.h>

#include "machine/dl_machine.h"
#include "base/dl_status.h"

static void destroy(dl_object *o) { dl_device_free((dl_device *)o); }

const dl_object_type dl_device_type = { "DEVICE_OBJECT", destroy, NULL, NULL };

/* Creates a device object named `name`. */
int dl_device_new(dl_machine *m, const char *name, dl_device **out) {
  dl_device *dev = calloc(1, sizeof *dev);
  if (!dev) return DL_ENOMEM;
  dl_object_init(DL_OBJECT(dev), m, &dl_device_type, NULL);
  dl_list_init(&dev->irp_queue);
  if (name) snprintf(dev->name, sizeof dev->name, "%s", name);
  else snprintf(dev->name, sizeof dev->name, "device%llu", (unsigned long long)dev->id);
  *out = dev;
  return DL_OK;
}

/* Frees a device object. */
void dl_device_free(dl_device *dev) {
  if (!dev) return;
  dl_object_unlink(DL_OBJECT(dev));
  free(dev);
}
