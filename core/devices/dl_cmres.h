/*
** dl_cmres.h: the resources the PnP manager hands a driver at start, as
** CM_PARTIAL_RESOURCE_DESCRIPTORs (wdm.h): a device model's memory BARs,
** then its port ranges, then its interrupts, each with the Type,
** ShareDisposition and Flags Windows gives a PCI function's.
** The lab's bus does no translation: the raw and the translated lists are
** the same (bus addresses are CPU physical addresses, an interrupt's Level
** is its DIRQL, ports stay I/O ports as on x86).
*/
#ifndef DL_CMRES_H
#define DL_CMRES_H

#include <stddef.h>
#include <stdint.h>

#include "base/dl_wdk.h"
#include "devices/dl_devmodel.h"

/* One CM_PARTIAL_RESOURCE_DESCRIPTOR. */
typedef struct dl_cm_descriptor {
  uint8_t type;            /* DL_CM_* */
  uint8_t share;           /* DL_CM_SHARE_* */
  uint16_t flags;
  uint8_t level;           /* interrupt: DIRQL */
  uint32_t vector;         /* interrupt */
  uint64_t affinity;       /* interrupt */
  uint16_t message_count;  /* message interrupt: 1 */
  uint64_t start, length;  /* memory or port */
} dl_cm_descriptor;

/* The model's descriptors, at most cap into out; returns how many it has
** (more than cap: the rest left out). */
size_t dl_devmodel_resources(const dl_devmodel *dm, dl_cm_descriptor *out, size_t cap);

/* Fills the interrupt descriptor of one model interrupt. */
void dl_cm_interrupt(const dl_devmodel_irq *q, dl_cm_descriptor *out);

#endif
