/*
** dl_intconnect.c: IoConnectInterruptEx's choice of interrupts.
*/
#include "devices/dl_intconnect.h"

#include "machine/dl_machine.h"
#include "base/dl_ntstatus.h"

/* The device model whose PDO is pdo, or NULL. */
dl_devmodel *dl_devmodel_of_pdo(dl_machine *m, const dl_device *pdo) {
  for (dl_object *o = dl_object_next(m, NULL, &dl_devmodel_type); o && pdo;
       o = dl_object_next(m, o, &dl_devmodel_type))
    if (((dl_devmodel *)o)->pdo == pdo) return (dl_devmodel *)o;
  return NULL;
}

/* Adds the model's interrupts that are (message 1) or are not (0) messages;
** only the first when `first`. */
static void add(const dl_devmodel *dm, int message, int first, dl_connect_plan *p) {
  for (size_t i = 0; i < dm->nirqs && !(first && p->n); i++) {
    if ((dm->irqs[i].message != 0) != message) continue;
    p->irq[p->n++] = dm->irqs[i];
    if (dm->irqs[i].irql > p->unified_irql) p->unified_irql = dm->irqs[i].irql;
  }
}

/* Plans a line- or message-based connection. */
uint32_t dl_connect_plan_for(dl_machine *m, const dl_device *pdo, uint32_t version, int fallback,
                             dl_connect_plan *out) {
  *out = (dl_connect_plan){0};
  if (version != DL_CONNECT_LINE_BASED && version != DL_CONNECT_MESSAGE_BASED)
    return DL_STATUS_INVALID_PARAMETER_1;
  const dl_devmodel *dm = dl_devmodel_of_pdo(m, pdo);
  if (!dm) return DL_STATUS_INVALID_PARAMETER;
  out->version = version;
  if (version == DL_CONNECT_MESSAGE_BASED) add(dm, 1, 0, out);
  if (version == DL_CONNECT_MESSAGE_BASED && out->n == 0 && fallback) {
    out->version = DL_CONNECT_LINE_BASED;
    add(dm, 0, 1, out);
  }
  if (version == DL_CONNECT_LINE_BASED) add(dm, 0, 1, out);
  return out->n ? DL_STATUS_SUCCESS : DL_STATUS_INVALID_DEVICE_REQUEST;
}
