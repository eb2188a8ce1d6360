/*
** dl_unload.h: the I/O manager unloads a driver (the lab's m:unload), and
** Driver Verifier's checks when its image goes.
**
** A driver without a DriverUnload routine cannot be unloaded; nor one with
** a file still open on one of its devices (the I/O manager waits for the
** last handle). Otherwise DriverUnload runs at PASSIVE_LEVEL. A legacy
** driver deletes its devices there; a PnP driver's were removed before.
** A device of the driver still present when DriverUnload returns keeps the
** image in memory: the driver is marked unloaded (DriverUnload ran, it
** creates no device), the unload checks do not run, and the call says so.
**
** Then the verifier's unload checks run over the machine's objects when no
** other driver of the machine is still loaded (the lab does not know which
** driver's code a timer or an allocation belongs to): a KTIMER still set, a
** KDPC still queued or an IO_WORKITEM still queued is bug check 0xCE
** DRIVER_UNLOADED_WITHOUT_CANCELLING_PENDING_OPERATIONS; the other types
** report what they still hold with their own leak checks (pool: 0xC4/0x62;
** DMA adapters: 0xE6 with 0x07 common buffers, 0x08 channels, 0x09 map
** registers, 0x0A scatter/gather lists, 0x0D mappings not flushed).
*/
#ifndef DL_UNLOAD_H
#define DL_UNLOAD_H

#include <stddef.h>

#include "io/dl_driver.h"

#define DL_BUGCHECK_UNLOADED_WITH_PENDING 0xCEu

/* Why the driver was not (fully) unloaded. */
typedef enum dl_unload_refusal {
  DL_UNLOAD_OK,
  DL_UNLOAD_ALREADY,      /* unloaded before */
  DL_UNLOAD_NO_ROUTINE,   /* no DriverUnload: it cannot be unloaded */
  DL_UNLOAD_FILE_OPEN,    /* a file is open on one of its devices */
  DL_UNLOAD_DEVICES_LEFT  /* DriverUnload returned with a device left */
} dl_unload_refusal;

/* Unloads drv as the I/O manager does (above). DL_OK with *leaks the number
** of unload-check reports; DL_ESTATE (ALREADY, NO_ROUTINE, FILE_OPEN:
** nothing done) or DL_EBUSY (DEVICES_LEFT: DriverUnload ran, *device the
** first device left) with *why. */
int dl_io_unload_driver(dl_driver *drv, dl_unload_refusal *why, dl_device **device, size_t *leaks);

/* The unload checks alone, over every object of the machine; returns the
** number of reports. */
size_t dl_io_unload_checks(dl_machine *m);

#endif
