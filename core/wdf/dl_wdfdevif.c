/*
** dl_wdfdevif.c: a framework device's interfaces (see dl_wdfdevif.h).
*/
#include "wdf/dl_wdfdevif.h"

#include <string.h>

#include "base/dl_status.h"
#include "io/dl_device.h"
#include "machine/dl_machine.h"

/* Is the device running, so that its interfaces are enabled? */
static int running(const dl_wdf_device *d) {
  return d->state == DL_WDF_STARTED || d->state == DL_WDF_STOPPED || d->state == DL_WDF_STOPPING;
}

/* WdfDeviceCreateDeviceInterface. */
int dl_wdf_device_create_interface(dl_wdf_device *d, const char *guid, const char *ref,
                                   dl_devif **out) {
  dl_wdf_verify_irql(d->m, "WdfDeviceCreateDeviceInterface", 1, DL_PASSIVE_LEVEL);
  int rc = dl_io_register_device_interface(d->fdo, guid, ref, out);
  if (rc == DL_OK && running(d)) (*out)->enabled = 1;
  return rc;
}

/* WdfDeviceSetDeviceInterfaceState. */
int dl_wdf_device_set_interface_state(dl_wdf_device *d, const char *guid, const char *ref, int on) {
  dl_devif *f;
  for (size_t i = 0; (f = dl_io_device_interface_at(d->m, guid, d->fdo, 1, i)) != NULL; i++) {
    const char *tail = f->link + strlen(f->link);
    size_t n = ref ? strlen(ref) : 0;
    int match = n ? (strlen(f->link) > n && tail[-(long)n - 1] == '\\' && strcmp(tail - n, ref) == 0)
                  : tail[-1] == '}';
    if (match) {
      f->enabled = on != 0;
      return DL_OK;
    }
  }
  return DL_ERANGE;
}

/* Start and removal. */
void dl_wdf_device_interfaces_enable(dl_wdf_device *d, int on) {
  dl_devif *f;
  for (size_t i = 0; (f = dl_io_device_interface_at(d->m, NULL, d->fdo, 1, i)) != NULL; i++)
    f->enabled = on;
}
