/*
** dl_devstack.c: device stacks and IoDeleteDevice (see dl_devstack.h).
*/
#include "io/dl_devstack.h"

#include "base/dl_status.h"
#include "io/dl_driver.h"
#include "io/dl_irpstack.h"
#include "io/dl_symlink.h"
#include "kernel/dl_cpu.h"
#include "machine/dl_machine.h"
#include "machine/dl_verifier.h"

/* The PASSIVE_LEVEL rule of the device-stack calls (0xC4; the call goes on). */
static void check_passive(dl_device *dev, const char *call) {
  uint8_t now = dl_machine_irql(dev->m);
  if (now == DL_PASSIVE_LEVEL) return;
  dl_verify_fail(dev->m, DL_BUGCHECK_DETECTED_VIOLATION, DL_DDI_MISC, now, dev->id, 0,
                 "%s: called at IRQL %u; it must be called at IRQL 0 (PASSIVE_LEVEL)", call,
                 (unsigned)now);
}

/* An IRP still being processed by dev, or an object that needs dev. */
dl_object *dl_device_user(dl_device *dev) {
  for (dl_object *o = dl_object_next(dev->m, NULL, &dl_irp_type); o;
       o = dl_object_next(dev->m, o, &dl_irp_type))
    if (dl_irp_uses_device((dl_irp *)o, dev)) return o;
  return dl_machine_needer(dev->m, DL_OBJECT(dev));
}

/* What stops dev from being deleted, reporting what the verifier catches. */
static dl_delete_refusal refusal(dl_device *dev) {
  unsigned long long id = (unsigned long long)dev->id;
  if (dev->attached || dev->attached_to) {
    dl_device *other = dev->attached_to ? dev->attached_to : dev->attached;
    dl_verify_fail(dev->m, DL_BUGCHECK_IOMANAGER, DL_IOV_DELETE_WHILE_ATTACHED, dev->id, other->id, 0,
                   "IoDeleteDevice: DEVICE_OBJECT#%llu is still attached %s DEVICE_OBJECT#%llu "
                   "(IoDetachDevice first); nothing was deleted", id,
                   dev->attached_to ? "to" : "beneath", (unsigned long long)other->id);
    return DL_DELETE_ATTACHED;
  }
  if (dev->dpc_for_isr && dev->dpc_for_isr->queued) {
    dl_verify_fail(dev->m, DL_BUGCHECK_TIMER_OR_DPC_INVALID, 1, dev->dpc_for_isr->id, dev->id, 0,
                   "IoDeleteDevice: the DpcForIsr (KDPC#%llu) of DEVICE_OBJECT#%llu is still queued "
                   "(TIMER_OR_DPC_INVALID: a DPC in memory being freed); nothing was deleted",
                   (unsigned long long)dev->dpc_for_isr->id, id);
    return DL_DELETE_DPC_QUEUED;
  }
  if (dev->current_irp || !dl_list_empty(&dev->irp_queue)) return DL_DELETE_IRP;
  if (dev->open_files) return DL_DELETE_FILE_OPEN;
  dl_object *user = dl_device_user(dev);
  if (user) return user->type == &dl_irp_type ? DL_DELETE_IRP : DL_DELETE_NEEDED;
  return DL_DELETE_OK;
}

/* IoDeleteDevice. */
int dl_io_delete_device(dl_device *dev, dl_delete_refusal *why) {
  dl_delete_refusal r = dev->deleted ? DL_DELETE_DELETED : DL_DELETE_OK;
  if (r == DL_DELETE_OK) {
    check_passive(dev, "IoDeleteDevice");
    r = refusal(dev);
  }
  if (why) *why = r;
  if (r == DL_DELETE_DELETED) return DL_ESTATE;
  if (r != DL_DELETE_OK) return DL_EBUSY;
  dl_dpc_free(dev->dpc_for_isr);  /* not queued (above): it goes with the object */
  dev->dpc_for_isr = NULL;
  dl_device_set_driver(dev, NULL);  /* out of DriverObject->DeviceObject's chain */
  dev->deleted = 1;
  return DL_OK;
}

/* IoGetAttachedDevice. */
dl_device *dl_io_get_attached_device(dl_device *dev) {
  while (dev->attached) dev = dev->attached;
  return dev;
}

/* IoGetAttachedDeviceReference. */
dl_device *dl_io_get_attached_device_reference(dl_device *dev) {
  dl_device *top = dl_io_get_attached_device(dev);
  dl_ob_reference_device(top);
  return top;
}

/* ObReferenceObject. */
void dl_ob_reference_device(dl_device *dev) {
  if (dev->references < UINT32_MAX) dev->references++;
}

/* ObDereferenceObject. */
int dl_ob_dereference_device(dl_device *dev) {
  if (dev->references) {
    dev->references--;
    return DL_OK;
  }
  dl_verify_fail(dev->m, DL_BUGCHECK_REFERENCE_BY_POINTER, 0, dev->id, 0, 0,
                 "ObDereferenceObject: DEVICE_OBJECT#%llu has no reference left to release "
                 "(REFERENCE_BY_POINTER)", (unsigned long long)dev->id);
  return DL_ESTATE;
}

/* IoAttachDeviceToDeviceStack. */
int dl_io_attach_device_to_device_stack(dl_device *source, dl_device *target, dl_device **lower) {
  *lower = NULL;
  if (source->m != target->m || source == target) return DL_EINVAL;
  check_passive(source, "IoAttachDeviceToDeviceStack");
  if (source->deleted || target->deleted || source->attached_to || source->attached)
    return DL_ESTATE;
  dl_device *top = dl_io_get_attached_device(target);
  if (top == source || top->stack_size >= DL_DEVSTACK_MAX) return DL_ESTATE;
  top->attached = source;
  source->attached_to = top;
  source->stack_size = (uint8_t)(top->stack_size + 1);
  *lower = top;
  return DL_OK;
}

/* IoAttachDevice. */
int dl_io_attach_device(dl_device *source, const char *target, dl_device **lower) {
  *lower = NULL;
  dl_device *dev = dl_io_find_device(source->m, target);
  return dev ? dl_io_attach_device_to_device_stack(source, dev, lower) : DL_ERANGE;
}

/* IoDetachDevice. */
int dl_io_detach_device(dl_device *target) {
  check_passive(target, "IoDetachDevice");
  dl_device *upper = target->attached;
  if (!upper) {
    dl_verify_fail(target->m, DL_BUGCHECK_IOMANAGER, DL_IOV_DETACH_NOT_ATTACHED, target->id, 0, 0,
                   "IoDetachDevice: nothing is attached to DEVICE_OBJECT#%llu (detached twice, or "
                   "never attached)", (unsigned long long)target->id);
    return DL_ESTATE;
  }
  upper->attached_to = NULL;
  target->attached = NULL;
  return DL_OK;
}

/* Accessors. */
int dl_device_deleted(const dl_device *dev) { return dev->deleted; }
dl_device *dl_device_attached(const dl_device *dev) { return dev->attached; }
dl_device *dl_device_attached_to(const dl_device *dev) { return dev->attached_to; }
uint8_t dl_device_stack_size(const dl_device *dev) { return dev->stack_size; }
