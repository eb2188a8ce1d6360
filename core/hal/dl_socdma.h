/*
** dl_socdma.h: a generic SoC system DMA controller (as on ARM SoCs: a
** controller instance with channels and request lines). Peripherals put
** their FIFOs on request lines (dl_sysdma_attach); a system DMA adapter of
** version 3 names the instance (DmaControllerInstance), the line
** (DmaRequestLine) and the FIFO (DeviceAddress), and the HAL gives it a
** free channel. The engine is dl_sysdma.h: units of the DmaWidth move at
** the device's pace; the listener of a channel hears its terminal count.
** Made scatter/gather capable (dl_sysdma_set_max_elements) its channels
** walk descriptor chains, and its adapters get that capability
** (hal/dl_slave.h: ScatterGatherLimit, MapTransferEx lists).
*/
#ifndef DL_SOCDMA_H
#define DL_SOCDMA_H

#include <stdint.h>

#include "hal/dl_sysdma.h"

/* Creates controller instance `instance` ("soc<instance>"); DL_EBUSY if
** the machine has it already, DL_EINVAL for counts out of range. */
int dl_socdma_new(dl_machine *m, uint32_t instance, uint32_t channels, uint32_t lines,
                  uint64_t cycle_ns, dl_sysdma **out);

/* Controller instance `instance`, or NULL. */
dl_sysdma *dl_socdma_find(dl_machine *m, uint32_t instance);

#endif
