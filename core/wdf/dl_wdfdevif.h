/*
** dl_wdfdevif.h: a framework device's interfaces (WdfDeviceCreateDeviceInterface,
** WdfDeviceSetDeviceInterfaceState; FxDeviceInterface in the KMDF source):
** registered for the device's FDO (io/dl_devif.h), enabled by the
** framework when the device starts (at once if it has started) and
** disabled when it is removed.
*/
#ifndef DL_WDFDEVIF_H
#define DL_WDFDEVIF_H

#include "io/dl_devif.h"
#include "wdf/dl_wdf.h"

/* WdfDeviceCreateDeviceInterface (PASSIVE_LEVEL, 0xE6/0x13 otherwise):
** DL_EINVAL for a malformed GUID or reference string; *out the interface. */
int dl_wdf_device_create_interface(dl_wdf_device *d, const char *guid, const char *ref,
                                   dl_devif **out);

/* WdfDeviceSetDeviceInterfaceState: DL_ERANGE if the device has no such interface. */
int dl_wdf_device_set_interface_state(dl_wdf_device *d, const char *guid, const char *ref, int on);

/* The framework enables (on 1) or disables (0) every interface of the device. */
void dl_wdf_device_interfaces_enable(dl_wdf_device *d, int on);

#endif
