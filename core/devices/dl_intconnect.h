/*
** dl_intconnect.h: what IoConnectInterruptEx connects for a device's PDO
** (wdm.h, IO_CONNECT_INTERRUPT_PARAMETERS): CONNECT_FULLY_SPECIFIED takes
** the caller's vector and IRQL (no lookup here); CONNECT_LINE_BASED the
** device's line-based interrupt (the first; a driver with several lines
** uses CONNECT_FULLY_SPECIFIED, as the WDK advises); CONNECT_MESSAGE_BASED
** every message interrupt, in message order, or, when the device has none
** and the caller gave a FallBackServiceRoutine, its line-based interrupt
** (the call then reports CONNECT_LINE_BASED).
*/
#ifndef DL_INTCONNECT_H
#define DL_INTCONNECT_H

#include <stddef.h>
#include <stdint.h>

#include "devices/dl_devmodel.h"

/* IO_CONNECT_INTERRUPT_PARAMETERS.Version (wdm.h). */
enum {
  DL_CONNECT_FULLY_SPECIFIED = 1,
  DL_CONNECT_LINE_BASED = 2,
  DL_CONNECT_MESSAGE_BASED = 3,
  DL_CONNECT_FULLY_SPECIFIED_GROUP = 4,
  DL_CONNECT_MESSAGE_BASED_PASSIVE = 5
};

/* The interrupts to connect and the version that applies. */
typedef struct dl_connect_plan {
  uint32_t version;                    /* DL_CONNECT_LINE_BASED or _MESSAGE_BASED */
  size_t n;
  dl_devmodel_irq irq[DL_DEVMODEL_MAX_INTERRUPTS];
  uint8_t unified_irql;                /* the highest IRQL among them */
} dl_connect_plan;

/* The device model whose PDO is pdo, or NULL. */
dl_devmodel *dl_devmodel_of_pdo(dl_machine *m, const dl_device *pdo);

/* Plans a CONNECT_LINE_BASED or CONNECT_MESSAGE_BASED connection for pdo:
** STATUS_SUCCESS; STATUS_INVALID_PARAMETER for a PDO no device model has;
** STATUS_INVALID_PARAMETER_1 for another version; and
** STATUS_INVALID_DEVICE_REQUEST when the device has no interrupt of the
** kind (no line for LINE_BASED; no message and no fallback for
** MESSAGE_BASED). */
uint32_t dl_connect_plan_for(dl_machine *m, const dl_device *pdo, uint32_t version, int fallback,
                             dl_connect_plan *out);

#endif
