/*
** dl_devif.h: device interfaces (IoRegisterDeviceInterface,
** IoSetDeviceInterfaceState, IoGetDeviceInterfaces): a device exposes an
** interface class (a GUID, "{xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx}") under
** a symbolic link name the PnP manager makes,
** "\??\DMALAB#<device name>#<device id>#{guid}[\<reference string>]"; the
** originator finds it by class while it is enabled and opens the device
** through it (dl_io_find_device follows an enabled interface's link).
** Registering the same class and reference string again returns the same
** link. An interface lives as long as its machine.
*/
#ifndef DL_DEVIF_H
#define DL_DEVIF_H

#include <stddef.h>

#include "io/dl_device.h"

/* The interface type. */
extern const dl_object_type dl_devif_type;

typedef struct dl_devif {
  DL_OBJECT_FIELDS
  dl_device *dev;          /* the device it opens */
  char guid[39];           /* the class, "{...}" as given */
  char link[200];          /* SymbolicLinkName */
  int enabled;
} dl_devif;

/* Whether s is a GUID in registry form ("{8-4-4-4-12 hex digits}"). */
int dl_guid_valid(const char *s);

/* IoRegisterDeviceInterface: the interface of dev for class guid with an
** optional reference string (NULL or ""); DL_EINVAL for a malformed GUID
** or a reference string with a '\' or past 63 characters. */
int dl_io_register_device_interface(dl_device *dev, const char *guid, const char *ref,
                                    dl_devif **out);

/* IoSetDeviceInterfaceState: DL_ERANGE if no interface has that link
** (STATUS_OBJECT_NAME_NOT_FOUND). */
int dl_io_set_device_interface_state(dl_machine *m, const char *link, int enable);

/* IoGetDeviceInterfaces: the i-th interface of class guid (any class if
** NULL; of dev if not NULL; disabled ones too if all), NULL past the last. */
dl_devif *dl_io_device_interface_at(dl_machine *m, const char *guid, const dl_device *dev, int all,
                                    size_t i);

/* The enabled interface whose link is `link` (case-blind), or NULL. */
dl_devif *dl_io_find_device_interface(dl_machine *m, const char *link);

#endif
