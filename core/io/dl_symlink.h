/*
** dl_symlink.h: the object manager's symbolic links to devices
** (IoCreateSymbolicLink, IoDeleteSymbolicLink) and name lookup: a link
** names a target ("\DosDevices\X" -> "\Device\X"); names compare without
** case, as the object manager's do. A link lives until deleted or until
** its machine goes.
*/
#ifndef DL_SYMLINK_H
#define DL_SYMLINK_H

#include "io/dl_device.h"

/* The longest name kept (the rest is refused: DL_EINVAL). */
#define DL_NAME_MAX 127

/* The symbolic link type. */
extern const dl_object_type dl_symlink_type;

/* IoCreateSymbolicLink: DL_EBUSY if the link name exists already
** (STATUS_OBJECT_NAME_COLLISION), DL_EINVAL for an empty or too long name. */
int dl_io_create_symbolic_link(dl_machine *m, const char *link, const char *target);

/* The same for a device object itself (WdfDeviceCreateSymbolicLink: the
** framework names its own device object, whose name may be shared). */
int dl_io_create_symbolic_link_to(dl_machine *m, const char *link, dl_device *dev);

/* IoDeleteSymbolicLink: DL_ERANGE if there is no such link
** (STATUS_OBJECT_NAME_NOT_FOUND). */
int dl_io_delete_symbolic_link(dl_machine *m, const char *link);

/* The device named `name`, directly, through one symbolic link or an
** enabled device interface's link (dl_devif.h); NULL if none. */
dl_device *dl_io_find_device(dl_machine *m, const char *name);

#endif
