/*
** dl_driver.c: DRIVER_OBJECTs and the I/O manager's calls on devices and
** IRPs, with their rules (see dl_driver.h).
*/
#include "io/dl_driver.h"

#include <stdio.h>
#include <stdlib.h>

#include "base/dl_status.h"
#include "io/dl_file.h"
#include "io/dl_iobuf.h"
#include "io/dl_irpstack.h"
#include "io/dl_irpstate.h"
#include "kernel/dl_interrupt.h"
#include "machine/dl_machine.h"
#include "machine/dl_verifier.h"

#define MAJORS (DL_IRP_MJ_MAXIMUM_FUNCTION + 1)

typedef struct dispatch_entry {
  dl_dispatch_fn fn;
  void *ctx;
} dispatch_entry;

struct dl_driver {
  DL_OBJECT_FIELDS
  char name[64];
  dispatch_entry major[MAJORS];  /* MajorFunction */
  dl_start_io_fn start_io;       /* DriverStartIo */
  void *start_io_ctx;
  dl_unload_fn unload;           /* DriverUnload */
  void *unload_ctx;
  dl_link devices;               /* DeviceObject and its NextDevice chain */
  int unloaded;                  /* the I/O manager ran DriverUnload (dl_unload.h) */
};

static void destroy(dl_object *o) { dl_driver_free((dl_driver *)o); }

const dl_object_type dl_driver_type = { "DRIVER_OBJECT", destroy, NULL, NULL, NULL };

/* A major function's name, for messages. */
static const char *major_name(uint8_t major) {
  const char *name = dl_irp_major_name(major);
  return name ? name : "IRP_MJ_?";
}

/* The IRQL rule of an I/O manager call: exactly `level` (exact) or at most
** `level`; reports bug check `bugcheck` with p1 (P2 the current IRQL, P3
** p3) naming the call, and returns 0, when it is broken. */
static int check_irql(dl_machine *m, uint32_t bugcheck, uint32_t p1, uint64_t p3,
                      const char *call, int exact, uint8_t level) {
  uint8_t now = dl_machine_irql(m);
  if (exact ? now == level : now <= level) return 1;
  dl_verify_fail(m, bugcheck, p1, now, p3, level,
                 "%s: called at IRQL %u; it must be called at IRQL %s%u", call, (unsigned)now,
                 exact ? "" : "<= ", (unsigned)level);
  return 0;
}

/* ---- DRIVER_OBJECT --------------------------------------------------------- */

/* A new DRIVER_OBJECT. */
int dl_driver_new(dl_machine *m, const char *name, dl_driver **out) {
  dl_driver *drv = calloc(1, sizeof *drv);
  if (!drv) return DL_ENOMEM;
  dl_object_init(DL_OBJECT(drv), m, &dl_driver_type, NULL);
  snprintf(drv->name, sizeof drv->name, "%s", name ? name : "\\Driver\\driver");
  dl_list_init(&drv->devices);
  *out = drv;
  return DL_OK;
}

/* Frees a DRIVER_OBJECT; its devices lose their DriverObject. */
void dl_driver_free(dl_driver *drv) {
  if (!drv) return;
  while (!dl_list_empty(&drv->devices)) {
    dl_device *dev = DL_CONTAINER(drv->devices.next, dl_device, driver_link);
    dl_list_remove(&dev->driver_link);
    dev->driver = NULL;
  }
  dl_object_unlink(DL_OBJECT(drv));
  free(drv);
}

/* MajorFunction[major] = fn. */
int dl_driver_set_major(dl_driver *drv, uint8_t major, dl_dispatch_fn fn, void *ctx) {
  if (major >= MAJORS) return DL_EINVAL;
  drv->major[major].fn = fn;
  drv->major[major].ctx = ctx;
  return DL_OK;
}

/* Returns 1 if the driver has a routine for major. */
int dl_driver_has_major(const dl_driver *drv, uint8_t major) {
  return major < MAJORS && drv->major[major].fn != NULL;
}

/* DriverStartIo. */
void dl_driver_set_start_io(dl_driver *drv, dl_start_io_fn fn, void *ctx) {
  drv->start_io = fn;
  drv->start_io_ctx = ctx;
}

/* Returns 1 if the driver has a DriverStartIo. */
int dl_driver_has_start_io(const dl_driver *drv) { return drv->start_io != NULL; }

/* DriverUnload. */
void dl_driver_set_unload(dl_driver *drv, dl_unload_fn fn, void *ctx) {
  drv->unload = fn;
  drv->unload_ctx = ctx;
}

/* DriverName. */
const char *dl_driver_name(const dl_driver *drv) { return drv->name; }

/* The driver's device after `after`. */
dl_device *dl_driver_next_device(const dl_driver *drv, const dl_device *after) {
  const dl_link *l = after ? after->driver_link.next : drv->devices.next;
  return l == &drv->devices ? NULL : DL_CONTAINER(l, dl_device, driver_link);
}

/* Returns 1 if the driver has a DriverUnload. */
int dl_driver_has_unload(const dl_driver *drv) { return drv->unload != NULL; }

/* Whether the driver was unloaded; marks it so. */
int dl_driver_unloaded(const dl_driver *drv) { return drv->unloaded; }
void dl_driver_set_unloaded(dl_driver *drv) { drv->unloaded = 1; }

/* Runs DriverUnload at PASSIVE_LEVEL. */
int dl_driver_unload(dl_driver *drv) {
  if (!drv->unload) return 0;
  uint8_t irql = dl_machine_irql(drv->m);
  dl_machine_set_irql(drv->m, DL_PASSIVE_LEVEL);
  drv->unload(drv->unload_ctx, drv);
  dl_machine_set_irql(drv->m, irql);
  return 1;
}

/* DeviceObject->DriverObject = drv. */
void dl_device_set_driver(dl_device *dev, dl_driver *drv) {
  dl_list_remove(&dev->driver_link);
  dev->driver = drv;
  if (drv) dl_list_append(&drv->devices, &dev->driver_link);
}

/* IoCreateDevice. */
int dl_io_create_device(dl_driver *drv, const char *name, dl_device **out) {
  check_irql(drv->m, DL_BUGCHECK_DETECTED_VIOLATION, DL_DDI_IRQL_IO_PASSIVE1, 0, "IoCreateDevice",
             1, DL_PASSIVE_LEVEL);
  if (drv->unloaded) return DL_ESTATE;
  int rc = dl_device_new(drv->m, name, out);
  if (rc == DL_OK) dl_device_set_driver(*out, drv);
  return rc;
}

/* ---- IoCallDriver and IoCompleteRequest ------------------------------------- */

/* The MarkIrpPending rules on what the dispatch routine at stack location
** `location` returned (one that passed the IRP down returns what the driver
** beneath did: its own routine was checked, and a completion routine may
** mark the IRP pending later). */
static void check_dispatch_return(dl_irp *irp, int location, uint32_t status) {
  const char *mj = major_name(irp->major);
  unsigned long long id = (unsigned long long)irp->id;
  int pending = dl_irp_location_pending(irp, location);
  if (status == DL_STATUS_PENDING && !pending)
    dl_verify_fail(irp->m, DL_BUGCHECK_DETECTED_VIOLATION, DL_DDI_MISC, id, status, 0,
                   "IoCallDriver: the %s dispatch routine returned STATUS_PENDING for IRP#%llu "
                   "without calling IoMarkIrpPending", mj, id);
  else if (status != DL_STATUS_PENDING && pending)
    dl_verify_fail(irp->m, DL_BUGCHECK_DETECTED_VIOLATION, DL_DDI_MISC, id, status, 0,
                   "IoCallDriver: the %s dispatch routine called IoMarkIrpPending for IRP#%llu "
                   "but returned 0x%08X, not STATUS_PENDING", mj, id, (unsigned)status);
  else if (status != DL_STATUS_PENDING && !irp->completed)
    dl_verify_fail(irp->m, DL_BUGCHECK_DETECTED_VIOLATION, DL_DDI_MISC, id, status, 0,
                   "IoCallDriver: the %s dispatch routine returned 0x%08X for IRP#%llu without "
                   "completing it (IoCompleteRequest) or returning STATUS_PENDING", mj,
                   (unsigned)status, id);
}

/* Calls the dispatch routine for irp at its current location and checks
** what it returned, unless it passed the IRP down. */
static void dispatch(dispatch_entry e, dl_device *dev, dl_irp *irp, uint32_t *status) {
  int location = dl_irp_current_location(irp);
  uint32_t forwards = irp->forwards;
  if (e.fn(e.ctx, dev, irp, status) && irp->forwards == forwards)
    check_dispatch_return(irp, location, *status);
}

/* IoCallDriver of an IRP a driver has: down its stack to dev. */
static int call_lower(dl_device *dev, dl_irp *irp, uint32_t *status) {
  if (dl_irp_stack_forward(irp, dev)) return DL_ESTATE;
  check_irql(dev->m, DL_BUGCHECK_IOMANAGER, DL_IOV_CALL_DRIVER_IRQL, irp->id, "IoCallDriver", 0,
             DL_DISPATCH_LEVEL);
  dispatch_entry e = dev->driver->major[irp->major];
  if (!e.fn) {  /* the default routine */
    irp->status = DL_STATUS_INVALID_DEVICE_REQUEST;
    irp->information = 0;
    *status = irp->status;
    dl_irp_complete(irp);
    return DL_OK;
  }
  dispatch(e, dev, irp, status);
  return DL_OK;
}

/* IoCallDriver. */
int dl_io_call_driver(dl_device *dev, dl_irp *irp, uint32_t *status) {
  dl_machine *m = dev->m;
  *status = DL_STATUS_INVALID_DEVICE_REQUEST;
  if (!dev->driver) return DL_EINVAL;
  if (irp->m != m || dl_irp_check(irp, DL_IRPCALL_CALL_DRIVER) != DL_IRP_ALLOW)
    return DL_ESTATE;
  if (irp->device) return call_lower(dev, irp, status);
  int files = dl_file_check_send(irp, dev);
  if (files == DL_ESTATE) return DL_ESTATE;
  check_irql(m, DL_BUGCHECK_IOMANAGER, DL_IOV_CALL_DRIVER_IRQL, irp->id, "IoCallDriver", 0,
             DL_DISPATCH_LEVEL);
  int rc = dl_iobuf_send(irp, dev);
  if (rc) return rc;
  dl_irp_send(irp, dev);
  dl_file_on_send(irp, dev);
  dispatch_entry e = dev->driver->major[irp->major];
  if (!e.fn || files == DL_EBUSY) {  /* the default routine; an exclusive device's second open */
    irp->status = files == DL_EBUSY ? DL_STATUS_ACCESS_DENIED : DL_STATUS_INVALID_DEVICE_REQUEST;
    irp->information = 0;
    *status = irp->status;
    dl_irp_complete(irp);
    return DL_OK;
  }
  dispatch(e, dev, irp, status);
  return DL_OK;
}

/* Reports an IRP whose MDL cannot go at completion; returns the status. */
static int mdl_not_completable(dl_irp *irp) {
  unsigned long long id = (unsigned long long)irp->id;
  if (irp->mdl_id && !irp->mdl) {
    dl_verify_fail(irp->m, DL_BUGCHECK_IOMANAGER, DL_IOV_MISC, id, irp->mdl_id, 0,
                   "IoCompleteRequest: the driver freed Irp.MdlAddress of IRP#%llu; the I/O "
                   "manager owns it and frees it at completion", id);
    irp->mdl_id = 0;  /* nothing left to free: the next completion goes through */
    return DL_ESTATE;
  }
  uint64_t adapter = dl_irp_mdl_awaited(irp);
  if (adapter) {
    dl_verify_fail(irp->m, DL_BUGCHECK_IOMANAGER, DL_IOV_MISC, id, adapter, 0,
                   "IoCompleteRequest: IRP#%llu's MDL is still needed by a scatter/gather "
                   "request waiting on DMA_ADAPTER#%llu", id, (unsigned long long)adapter);
    return DL_EBUSY;
  }
  return DL_OK;
}

/* IoCompleteRequest. */
int dl_io_complete_request(dl_irp *irp) {
  check_irql(irp->m, DL_BUGCHECK_IOMANAGER, DL_IOV_COMPLETE_IRQL, irp->id, "IoCompleteRequest", 0,
             DL_DISPATCH_LEVEL);
  if ((irp->status == DL_STATUS_PENDING || irp->status == 0xFFFFFFFFu) && !irp->completed) {
    /* Windows stops here; the lab reports and completes nothing, so the
    ** driver may set the final status and complete again */
    dl_verify_fail(irp->m, DL_BUGCHECK_IOMANAGER, DL_IOV_COMPLETE_PENDING, irp->status, irp->id, 0,
                   "IoCompleteRequest: IRP#%llu completed with IoStatus.Status 0x%08X, which is "
                   "not a final status (set it before completing)",
                   (unsigned long long)irp->id, (unsigned)irp->status);
    return DL_ESTATE;
  }
  int kind = dl_irp_check(irp, DL_IRPCALL_COMPLETE);
  if (kind != DL_IRP_ALLOW && kind != DL_IRP_FORCE) return DL_ESTATE;
  int rc = mdl_not_completable(irp);
  return rc ? rc : dl_irp_complete(irp);
}

/* ---- the device queue ------------------------------------------------------ */

/* Makes irp current and calls StartIo at DISPATCH_LEVEL (raised if below). */
static void start_io(dl_device *dev, dl_irp *irp) {
  dl_machine *m = dev->m;
  dl_driver *drv = dev->driver;
  dev->current_irp = irp;
  uint8_t irql = dl_machine_irql(m);
  if (irql < DL_DISPATCH_LEVEL) dl_machine_set_irql(m, DL_DISPATCH_LEVEL);
  drv->start_io(drv->start_io_ctx, dev, irp);
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
int dl_io_start_packet(dl_device *dev, dl_irp *irp, const uint32_t *key) {
  if (!dev->driver || !dev->driver->start_io) return DL_EINVAL;
  if (dl_irp_check(irp, DL_IRPCALL_START_PACKET) != DL_IRP_ALLOW ||
      dl_irp_current_device(irp) != dev)
    return DL_ESTATE;
  check_irql(dev->m, DL_BUGCHECK_DETECTED_VIOLATION, DL_DDI_MISC, irp->id, "IoStartPacket", 0,
             DL_DISPATCH_LEVEL);
  if (!dev->current_irp) {
    start_io(dev, irp);
    return DL_OK;
  }
  irp->queued = 1;
  if (key) insert_by_key(dev, irp, *key);
  else dl_list_append(&dev->irp_queue, &irp->entry);
  return DL_OK;
}

/* IoStartNextPacket. */
int dl_io_start_next_packet(dl_device *dev) {
  if (!dev->driver || !dev->driver->start_io) return DL_EINVAL;
  check_irql(dev->m, DL_BUGCHECK_DETECTED_VIOLATION, DL_DDI_MISC, 0, "IoStartNextPacket", 1,
             DL_DISPATCH_LEVEL);
  dev->current_irp = NULL;
  if (dl_list_empty(&dev->irp_queue)) return DL_OK;
  dl_irp *irp = DL_CONTAINER(dev->irp_queue.next, dl_irp, entry);
  if (dl_irp_check(irp, DL_IRPCALL_START_NEXT) != DL_IRP_ALLOW) return DL_ESTATE;
  dl_list_remove(&irp->entry);
  irp->queued = 0;
  start_io(dev, irp);
  return DL_OK;
}

/* ---- the DpcForIsr ---------------------------------------------------------- */

/* IoInitializeDpcRequest. */
int dl_io_initialize_dpc_request(dl_device *dev, dl_dpc_fn fn, void *ctx) {
  dl_dpc *dpc;
  int rc = dl_dpc_new(dev->m, fn, ctx, &dpc);
  if (rc) return rc;
  dl_dpc_free(dev->dpc_for_isr);  /* may be the running DPC: its routine returns first */
  dev->dpc_for_isr = dpc;
  return DL_OK;
}

/* IoRequestDpc. */
int dl_io_request_dpc(dl_device *dev, uint64_t irp, uint64_t context, int *queued) {
  *queued = 0;
  if (!dl_interrupt_running(dev->m)) {
    uint8_t irql = dl_machine_irql(dev->m);
    dl_verify_fail(dev->m, DL_BUGCHECK_DETECTED_VIOLATION, DL_DDI_MISC, irql, dev->id, 0,
                   "IoRequestDpc: legal only at DIRQL from an ISR (IRQL is %u)", (unsigned)irql);
    return DL_ESTATE;
  }
  if (!dev->dpc_for_isr) return DL_EINVAL;
  *queued = dl_dpc_insert(dev->dpc_for_isr, irp, context);
  return DL_OK;
}
