/*
** dl_irp.c: IRPs, the device queue (KDEVICE_QUEUE) and completion.
*/
#include "io/dl_irp.h"

#include <stdlib.h>

#include "io/dl_device.h"
#include "machine/dl_machine.h"
#include "io/dl_mdl.h"
#include "base/dl_status.h"
#include "machine/dl_trace.h"

/* The access the device makes to the buffer decides the lock operation:
** on a read it writes memory (IoWriteAccess), on a write it reads it. */
static int lock_operation(uint8_t major) {
  return major == DL_IRP_MJ_WRITE ? DL_IO_READ_ACCESS : DL_IO_WRITE_ACCESS;
}

/* Builds an IRP with its MDL probed and locked. */
int dl_irp_new(dl_machine *m, uint8_t major, uint64_t va, uint64_t length,
               uint64_t byte_offset, dl_irp **out) {
  if (major != DL_IRP_MJ_READ && major != DL_IRP_MJ_WRITE && major != DL_IRP_MJ_DEVICE_CONTROL)
    return DL_EINVAL;
  if (length > UINT32_MAX) return DL_EINVAL;
  dl_irp *irp = calloc(1, sizeof *irp);
  if (!irp) return DL_ENOMEM;
  dl_object_init(DL_OBJECT(irp), m, &dl_irp_type, NULL);
  if (length) {
    int rc = dl_mdl_allocate(m, va, length, &irp->mdl);
    if (!rc && (rc = dl_mdl_probe_and_lock(irp->mdl, lock_operation(major))) != DL_OK)
      dl_mdl_free(irp->mdl);
    if (rc) {
      dl_object_unlink(DL_OBJECT(irp));
      free(irp);
      return rc;
    }
  }
  irp->major = major;
  irp->length = (uint32_t)length;
  irp->byte_offset = byte_offset;
  dl_list_init(&irp->entry);
  *out = irp;
  return DL_OK;
}

static void destroy(dl_object *o) { dl_irp_free((dl_irp *)o); }

const dl_object_type dl_irp_type = { "IRP", destroy, NULL, NULL };

/* Frees the IRP; its device forgets it. */
void dl_irp_free(dl_irp *irp) {
  if (!irp) return;
  dl_list_remove(&irp->entry);
  if (irp->device && irp->device->current_irp == irp) irp->device->current_irp = NULL;
  dl_object_unlink(DL_OBJECT(irp));
  free(irp);
}

/* Records the request as sent to dev. */
int dl_irp_send(dl_irp *irp, dl_device *dev) {
  if (irp->device || irp->completed || dev->m != irp->m) return DL_ESTATE;
  irp->device = dev;
  irp->sent_at = dl_clock_now(dl_machine_clock(irp->m));
  dl_trace_emit(irp->m, DL_TR_REQUEST_START, irp->id, irp->major, irp->length);
  return DL_OK;
}

/* IoMarkIrpPending. */
void dl_irp_mark_pending(dl_irp *irp) { irp->pending = 1; }

/* Returns 1 if the IRP is its device's current IRP. */
int dl_irp_is_current(const dl_irp *irp) {
  return irp->device && irp->device->current_irp == irp;
}

/* Makes irp current and calls StartIo at DISPATCH_LEVEL (raised if below). */
static void start_io(dl_device *dev, dl_irp *irp, dl_start_io_fn fn, void *ctx) {
  dl_machine *m = dev->m;
  dev->current_irp = irp;
  uint8_t irql = dl_machine_irql(m);
  if (irql < DL_DISPATCH_LEVEL) dl_machine_set_irql(m, DL_DISPATCH_LEVEL);
  fn(ctx, dev, irp);
  dl_machine_set_irql(m, irql);
}

/* Queues by key: after every entry whose key is <= key (KeInsertByKeyDeviceQueue). */
static void insert_by_key(dl_device *dev, dl_irp *irp, uint32_t key) {
  dl_link *l = dev->irp_queue.next;
  while (l != &dev->irp_queue && DL_CONTAINER(l, dl_irp, entry)->key <= key) l = l->next;
  irp->key = key;
  dl_list_append(l, &irp->entry);  /* appending before l is inserting there */
}

/* IoStartPacket. */
int dl_irp_start_packet(dl_device *dev, dl_irp *irp, const uint32_t *key,
                        dl_start_io_fn fn, void *ctx) {
  if (irp->device != dev || irp->queued || irp->completed || dl_irp_is_current(irp))
    return DL_ESTATE;
  if (!dev->current_irp) {
    start_io(dev, irp, fn, ctx);
    return DL_OK;
  }
  irp->queued = 1;
  if (key) insert_by_key(dev, irp, *key);
  else dl_list_append(&dev->irp_queue, &irp->entry);
  return DL_OK;
}

/* IoStartNextPacket. */
void dl_irp_start_next_packet(dl_device *dev, dl_start_io_fn fn, void *ctx) {
  dev->current_irp = NULL;
  if (dl_list_empty(&dev->irp_queue)) return;
  dl_irp *irp = DL_CONTAINER(dev->irp_queue.next, dl_irp, entry);
  dl_list_remove(&irp->entry);
  irp->queued = 0;
  start_io(dev, irp, fn, ctx);
}

/* The object (an adapter's waiting S/G request) that still needs the
** IRP's MDL: its id, or 0. */
uint64_t dl_irp_mdl_awaited(const dl_irp *irp) {
  if (!irp->mdl) return 0;
  dl_object *holder = dl_machine_holder(irp->m, DL_OBJECT(irp->mdl));
  return holder ? holder->id : 0;
}

/* IoCompleteRequest. */
int dl_irp_complete(dl_irp *irp) {
  if (!irp->device || irp->queued || irp->completed) return DL_ESTATE;
  if (dl_irp_mdl_awaited(irp)) return DL_EBUSY;
  dl_machine *m = irp->m;
  irp->completed = 1;
  irp->completed_at = dl_clock_now(dl_machine_clock(m));
  dl_trace_emit(m, DL_TR_REQUEST_COMPLETE, irp->id, irp->status, irp->information);
  dl_stats *s = dl_trace_stats(dl_machine_trace(m));
  s->requests++;
  if ((int32_t)irp->status < 0) s->requests_failed++;  /* !NT_SUCCESS */
  dl_mdl_destroy(irp->mdl);  /* unlocks first */
  irp->mdl = NULL;
  return DL_OK;
}


/* Name of a major function. */
const char *dl_irp_major_name(uint8_t major) {
  size_t n;
  const dl_wdk_value *t = dl_irp_major_table(&n);
  return dl_wdk_name(t, n - 1, major);  /* the last row, IRP_MJ_MAXIMUM_FUNCTION, is a bound */
}
