/*
** rig_io.h: what the C tests of WDM drivers and the I/O manager share (each
** has its own rig struct): a default machine with a driver "\Driver\t"
** and its device "t0".
*/
#ifndef DL_TEST_RIG_IO_H
#define DL_TEST_RIG_IO_H

#include "io/dl_driver.h"
#include "machine/dl_machine.h"

/* A default machine *m, a DRIVER_OBJECT "\Driver\t" and its device "t0".
** 0, or -1 if anything failed. */
static inline int rig_io_open(dl_machine **m, dl_driver **drv, dl_device **dev) {
  dl_machine_config cfg;
  dl_machine_config_init(&cfg);
  if (dl_machine_new(&cfg, m)) return -1;
  if (dl_driver_new(*m, "\\Driver\\t", drv)) return -1;
  return dl_io_create_device(*drv, "t0", dev) ? -1 : 0;
}

#endif
