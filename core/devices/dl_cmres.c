/*
** dl_cmres.c: a model's resource list.
*/
#include "devices/dl_cmres.h"

#include <string.h>

/* Fills the interrupt descriptor of one model interrupt: a line-based one is
** level-sensitive and shared (PCI INTx), a latched or message one exclusive. */
void dl_cm_interrupt(const dl_devmodel_irq *q, dl_cm_descriptor *out) {
  memset(out, 0, sizeof *out);
  out->type = DL_CM_INTERRUPT;
  out->level = q->irql;
  out->vector = q->vector;
  out->affinity = 1;
  if (q->message) {
    out->flags = DL_CM_INTERRUPT_LATCHED | DL_CM_INTERRUPT_MESSAGE;
    out->message_count = 1;
  } else if (q->latched) {
    out->flags = DL_CM_INTERRUPT_LATCHED;
  }
  out->share = out->flags ? DL_CM_SHARE_DEVICE_EXCLUSIVE : DL_CM_SHARE_SHARED;
}

/* Appends d to out if there is room; counts it either way. */
static void add(dl_cm_descriptor *out, size_t cap, size_t *n, const dl_cm_descriptor *d) {
  if (*n < cap) out[*n] = *d;
  (*n)++;
}

/* The model's descriptors: memory BARs, ports, interrupts. */
size_t dl_devmodel_resources(const dl_devmodel *dm, dl_cm_descriptor *out, size_t cap) {
  size_t n = 0;
  for (size_t i = 0; i < dm->nbars; i++) {
    dl_cm_descriptor d = {.type = DL_CM_MEMORY, .share = DL_CM_SHARE_DEVICE_EXCLUSIVE,
                          .start = dm->bars[i].start, .length = dm->bars[i].size};
    d.flags = DL_CM_MEMORY_READ_WRITE | (dm->bars[i].prefetchable ? DL_CM_MEMORY_PREFETCHABLE : 0);
    add(out, cap, &n, &d);
  }
  for (size_t i = 0; i < dm->nports; i++) {
    dl_cm_descriptor d = {.type = DL_CM_PORT, .share = DL_CM_SHARE_DEVICE_EXCLUSIVE,
                          .flags = DL_CM_PORT_IO | DL_CM_PORT_16_BIT_DECODE,
                          .start = dm->ports[i].start, .length = dm->ports[i].size};
    add(out, cap, &n, &d);
  }
  for (size_t i = 0; i < dm->nirqs; i++) {
    dl_cm_descriptor d;
    dl_cm_interrupt(&dm->irqs[i], &d);
    add(out, cap, &n, &d);
  }
  return n;
}
