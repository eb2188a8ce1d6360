/*
** rig_wdf.h: what the C tests of the KMDF layer share (each has its own
** rig struct): a machine with a framework device over a PDO, and the
** teardown that unloads the framework before freeing the machine.
*/
#ifndef DL_TEST_RIG_WDF_H
#define DL_TEST_RIG_WDF_H

#include "io/dl_device.h"
#include "machine/dl_machine.h"
#include "wdf/dl_wdf.h"

/* A default machine *m, a PDO "pdo" (into *pdo unless NULL) and a WDFDEVICE
** "fdo" over it with ops and context ctx, of a new framework driver made
** into *drv (drv NULL: of no driver). 0, or -1 if anything failed. */
static inline int rig_wdf_open(dl_machine **m, dl_device **pdo, dl_wdf_driver **drv,
                               const dl_wdf_ops *ops, void *ctx, dl_wdf_device **d) {
  dl_machine_config cfg;
  dl_machine_config_init(&cfg);
  dl_device *p;
  if (dl_machine_new(&cfg, m) || dl_device_new(*m, "pdo", &p)) return -1;
  if (pdo) *pdo = p;
  if (drv && dl_wdf_driver_new(*m, drv)) return -1;
  return dl_wdf_device_new(*m, drv ? *drv : NULL, p, "fdo", ops, ctx, d) ? -1 : 0;
}

/* Unloads the framework (its objects go first, as at driver unload), then
** frees the machine. */
static inline void rig_wdf_close(dl_machine *m) {
  dl_wdf_unload(m);
  dl_machine_free(m);
}

#endif
