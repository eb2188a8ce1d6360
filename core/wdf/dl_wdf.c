/*
** dl_wdf.c: framework devices: creation, the power hooks, and the PnP and
** power sequences of reference section 2.6 (see dl_wdf.h for the order and
** the failure rules). Queues, requests and interrupts are in dl_wdfqueue.c.
*/
#include "wdf/dl_wdf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/dl_device.h"
#include "io/dl_devstack.h"
#include "io/dl_driver.h"
#include "kernel/dl_interrupt.h"
#include "machine/dl_machine.h"
#include "base/dl_status.h"
#include "base/dl_vec.h"

/* NT_SUCCESS: severity bits 0 (success) or 1 (informational). */
#define NT_SUCCESS(s) dl_nt_success((uint32_t)(s))

/* Helpers of dl_wdfqueue.c the sequences need. */
void dl_wdf_interrupts_assign(dl_wdf_device *d);
int dl_wdf_interrupt_connect(dl_wdf_interrupt *wi);
void dl_wdf_interrupt_disconnect(dl_wdf_interrupt *wi);

/* Of dl_wdfdevif.c: the device's interfaces enabled at start, disabled at removal. */
void dl_wdf_device_interfaces_enable(dl_wdf_device *d, int on);

static const char *const event_names[DL_WDF_EVENT_COUNT] = {
  "EvtDevicePrepareHardware", "EvtDeviceReleaseHardware", "EvtDeviceD0Entry", "EvtDeviceD0Exit",
  "EvtDeviceD0EntryPostInterruptsEnabled", "EvtDeviceD0ExitPreInterruptsDisabled",
  "EvtDeviceSelfManagedIoInit", "EvtDeviceSelfManagedIoRestart", "EvtDeviceSelfManagedIoSuspend",
  "EvtDeviceSelfManagedIoFlush", "EvtDeviceSelfManagedIoCleanup",
};

/* Name of a device event. */
const char *dl_wdf_event_name(dl_wdf_event ev) {
  return (unsigned)ev < DL_WDF_EVENT_COUNT ? event_names[ev] : "?";
}

/* ---- drivers -------------------------------------------------------------------- */

static void driver_free(dl_wdf_object *o) {
  dl_wdf_object_fini(o);
  free(o);
}
static void driver_destroy(dl_object *o) { driver_free((dl_wdf_object *)o); }

static const dl_wdf_class driver_class = {
  {"WDFDRIVER", driver_destroy, NULL, NULL, &dl_wdf_family}, DL_WDF_NOT_DELETABLE, NULL, driver_free
};

/* WdfDriverCreate. */
int dl_wdf_driver_new(dl_machine *m, dl_wdf_driver **out) {
  dl_wdf_verify_irql(m, "WdfDriverCreate", 1, DL_PASSIVE_LEVEL);
  dl_wdf_driver *drv = calloc(1, sizeof *drv);
  if (!drv) return DL_ENOMEM;
  /* The driver takes no id of its own (0): the ids the lab prints stay those
  ** of the objects a driver makes. */
  dl_object anchor = {.m = m, .id = 0};
  dl_object_init_as(DL_OBJECT(drv), &driver_class.base, &anchor);
  drv->parent = NULL;
  dl_list_init(&drv->wdf_children);
  dl_list_init(&drv->wdf_sibling);
  *out = drv;
  return DL_OK;
}

/* WdfGetDriver. */
int dl_wdf_get_driver(dl_machine *m, dl_wdf_driver **out, size_t *count) {
  *count = dl_machine_count(m, &driver_class.base);
  *out = NULL;
  if (*count == 0) return DL_ESTATE;
  if (*count > 1) return DL_EBUSY;
  *out = (dl_wdf_driver *)dl_object_next(m, NULL, &driver_class.base);
  return DL_OK;
}

/* The parent of an object whose default parent is the driver. */
dl_wdf_object *dl_wdf_default_parent(dl_machine *m, dl_wdf_object *parent) {
  dl_wdf_driver *drv;
  size_t n;
  if (parent || dl_wdf_get_driver(m, &drv, &n)) return parent;
  return DL_WDF(drv);
}

/* ---- devices -------------------------------------------------------------------- */

/* Frees the device's memory; its FDO, like every device object, is the
** machine's (IRPs sent to it still point at it). */
static void device_free_memory(dl_wdf_device *d) {
  dl_wdf_object_fini(DL_WDF(d));
  free(d->res);
  free(d->hooks);
  free(d->log);
  free(d);
}

/* Machine teardown: the queues and interrupts went before (newer). */
static void device_destroy(dl_object *o) { device_free_memory((dl_wdf_device *)o); }

/* The framework's deletion: what is still on the device's lists goes too. */
static void device_dispose(dl_wdf_object *o) {
  dl_wdf_device *d = (dl_wdf_device *)o;
  if (d->power_event_set) dl_clock_cancel(dl_machine_clock(d->m), d->power_event);
  while (!dl_list_empty(&d->queues))
    dl_wdf_object_delete_framework(DL_WDF(DL_CONTAINER(d->queues.next, dl_wdf_queue, link)));
  while (!dl_list_empty(&d->interrupts))
    dl_wdf_object_delete_framework(DL_WDF(DL_CONTAINER(d->interrupts.next, dl_wdf_interrupt, link)));
  device_free_memory(d);
}

/* The framework device uses its FDO and the hardware's PDO until it goes:
** IoDeleteDevice of either is refused (dl_devstack.h). */
static int device_holds(const dl_object *o, const dl_object *other) {
  const dl_wdf_device *d = (const dl_wdf_device *)o;
  return other == DL_OBJECT(d->fdo) || other == DL_OBJECT(d->pdo) ? DL_HOLDS_NEEDS : 0;
}

static const dl_wdf_class device_class = {
  {"WDFDEVICE", device_destroy, NULL, device_holds, &dl_wdf_family}, DL_WDF_NOT_DELETABLE, NULL,
  device_dispose
};

/* The oldest device among drv's children, or NULL. */
static dl_wdf_device *first_device(dl_wdf_driver *drv) {
  for (dl_link *l = drv->wdf_children.next; l != &drv->wdf_children; l = l->next) {
    dl_wdf_object *c = DL_CONTAINER(l, dl_wdf_object, wdf_sibling);
    if (DL_OBJECT(c)->type == &device_class.base) return (dl_wdf_device *)c;
  }
  return NULL;
}

/* The framework's DriverUnload: devices removed, EvtDriverUnload, then the tree. */
void dl_wdf_driver_unload(dl_wdf_driver *drv, dl_driver *wdm, void (*evt_unload)(void *ctx),
                          void *ctx) {
  for (dl_wdf_device *d; (d = first_device(drv));) {
    dl_wdf_device_remove(d);
    if (!dl_wdf_object_delete_framework(DL_WDF(d))) break;  /* being deleted already: its walk ends it */
  }
  if (evt_unload) evt_unload(ctx);
  dl_wdf_object_delete_framework(DL_WDF(drv));
  for (dl_device *dev = wdm ? dl_driver_next_device(wdm, NULL) : NULL, *next; dev; dev = next) {
    next = dl_driver_next_device(wdm, dev);
    dl_io_delete_device(dev, NULL);
  }
}

/* Creates a framework device and its FDO. */
int dl_wdf_device_new(dl_machine *m, dl_wdf_driver *driver, dl_device *pdo, const char *name,
                      const dl_wdf_ops *ops, void *ctx, dl_wdf_device **out) {
  dl_wdf_verify_irql(m, "WdfDeviceCreate", 1, DL_PASSIVE_LEVEL);
  if (driver && dl_wdf_object_deleting(DL_WDF(driver))) return DL_ESTATE;  /* STATUS_DELETE_PENDING */
  dl_wdf_device *d = calloc(1, sizeof *d);
  if (!d) return DL_ENOMEM;
  char fdo_name[48];
  snprintf(fdo_name, sizeof fdo_name, "%s", name ? name : pdo ? pdo->name : "wdfdevice");
  int rc = dl_device_new(m, fdo_name, &d->fdo);
  if (rc) {
    free(d);
    return rc;
  }
  dl_wdf_object_init(DL_WDF(d), m, &device_class, DL_WDF(driver));
  d->pdo = pdo;
  d->ops = ops;
  d->ctx = ctx;
  d->state = DL_WDF_ADDED;
  d->power = DL_WDF_POWER_D3_FINAL;
  dl_list_init(&d->queues);
  dl_list_init(&d->interrupts);
  *out = d;
  return DL_OK;
}

/* Device accessors. */
dl_device *dl_wdf_device_fdo(const dl_wdf_device *d) { return d->fdo; }
dl_wdf_state dl_wdf_device_state(const dl_wdf_device *d) { return d->state; }
uint32_t dl_wdf_device_power(const dl_wdf_device *d) { return d->power; }
dl_wdf_queue *dl_wdf_device_default_queue(const dl_wdf_device *d) { return d->default_queue; }
void dl_wdf_device_set_events(dl_wdf_device *d, uint32_t events) { d->events = events; }
const char *const *dl_wdf_device_power_log(const dl_wdf_device *d, size_t *n) {
  *n = d->nlog;
  return d->log;
}

/* WdfDeviceSetAlignmentRequirement. */
int dl_wdf_device_set_alignment(dl_wdf_device *d, uint32_t a) {
  if (a > 0x1ff || (a & (a + 1)) != 0) return DL_EINVAL;
  d->alignment = a;
  return DL_OK;
}

/* The DMA layer's accessors. */
dl_device *dl_wdf_device_pdo(const dl_wdf_device *d) { return d->pdo; }
uint32_t dl_wdf_device_alignment(const dl_wdf_device *d) { return d->alignment; }
dl_machine *dl_wdf_device_machine(const dl_wdf_device *d) { return d->m; }

/* Registers a power hook at the end of the list. */
int dl_wdf_device_add_power_hook(dl_wdf_device *d, dl_wdf_power_fn fn, void *ctx) {
  if (!fn) return DL_EINVAL;
  if (dl_vec_reserve(d->hooks, d->hooks_cap, d->nhooks + 1)) return DL_ENOMEM;
  d->hooks[d->nhooks++] = (dl_wdf_hook){fn, ctx};
  return DL_OK;
}

/* Removes every hook registered with ctx, keeping the order of the rest. */
void dl_wdf_device_remove_power_hook(dl_wdf_device *d, void *ctx) {
  size_t j = 0;
  for (size_t i = 0; i < d->nhooks; i++)
    if (d->hooks[i].ctx != ctx) d->hooks[j++] = d->hooks[i];
  d->nhooks = j;
}

/* Appends a static name to the power log (dropped if out of memory: the
** log is a test aid, not part of the run). */
void dl_wdf_device_log(dl_wdf_device *d, const char *name) {
  if (dl_vec_reserve(d->log, d->log_cap, d->nlog + 1)) return;
  d->log[d->nlog++] = name;
}

/* Calls a device callback if the driver has it; logs it. */
static uint32_t event(dl_wdf_device *d, dl_wdf_event ev, uint32_t state) {
  if (!(d->events & (1u << ev)) || !d->ops || !d->ops->event) return DL_STATUS_SUCCESS;
  dl_wdf_device_log(d, event_names[ev]);
  dl_wdf_object_hold(DL_WDF(d));  /* not deleted (removed) from its own callback */
  uint32_t st = d->ops->event(d->ctx, d, ev, state);
  dl_wdf_object_unhold(DL_WDF(d));
  return st;
}

/* Connects and enables every interrupt; returns the first failure. */
static uint32_t interrupts_on(dl_wdf_device *d) {
  for (dl_link *l = d->interrupts.next; l != &d->interrupts; l = l->next) {
    dl_wdf_interrupt *wi = DL_CONTAINER(l, dl_wdf_interrupt, link);
    if (dl_wdf_interrupt_connect(wi)) return DL_STATUS_INSUFFICIENT_RESOURCES;
    if (!wi->has_enable || !d->ops->interrupt_enable) continue;
    uint8_t irql = dl_machine_irql(d->m);
    dl_machine_set_irql(d->m, wi->level);  /* EvtInterruptEnable runs at DIRQL */
    dl_wdf_device_log(d, "EvtInterruptEnable");
    dl_wdf_object_hold(DL_WDF(wi));
    uint32_t st = d->ops->interrupt_enable(d->ctx, wi, 1);
    dl_wdf_object_unhold(DL_WDF(wi));
    dl_machine_set_irql(d->m, irql);
    if (!NT_SUCCESS(st)) return st;
  }
  dl_wdf_device_log(d, "interrupts_enabled");
  return DL_STATUS_SUCCESS;
}

/* Disables and disconnects every interrupt (errors ignored). */
static void interrupts_off(dl_wdf_device *d) {
  for (dl_link *l = d->interrupts.next; l != &d->interrupts; l = l->next) {
    dl_wdf_interrupt *wi = DL_CONTAINER(l, dl_wdf_interrupt, link);
    if (wi->intr && wi->has_enable && d->ops->interrupt_enable) {
      uint8_t irql = dl_machine_irql(d->m);
      dl_machine_set_irql(d->m, wi->level);
      dl_wdf_device_log(d, "EvtInterruptDisable");
      dl_wdf_object_hold(DL_WDF(wi));
      d->ops->interrupt_enable(d->ctx, wi, 0);
      dl_wdf_object_unhold(DL_WDF(wi));
      dl_machine_set_irql(d->m, irql);
    }
    dl_wdf_interrupt_disconnect(wi);
  }
  dl_wdf_device_log(d, "interrupts_disabled");
}

/* Runs the hooks down in registration order, errors ignored. */
static void hooks_down(dl_wdf_device *d) {
  for (size_t i = 0; i < d->nhooks; i++) d->hooks[i].fn(d->hooks[i].ctx, 0);
}

/* Self-managed I/O stops first when the device leaves D0 (a failure of
** EvtDeviceSelfManagedIoSuspend is ignored, as the power hooks' are). */
static void smio_suspend(dl_wdf_device *d) {
  if (d->smio != 1) return;
  event(d, DL_WDF_SELF_MANAGED_IO_SUSPEND, 0);
  d->smio = 2;
}

/* The power-down steps from `stage` (3: hooks, 2: pre-interrupts, 1:
** interrupts, 0: D0Exit) down; returns the first failure of a callback. */
static uint32_t power_down_from(dl_wdf_device *d, int stage, uint32_t target) {
  uint32_t first = DL_STATUS_SUCCESS, st;
  if (stage >= 3) hooks_down(d);
  if (stage >= 2 && !NT_SUCCESS(st = event(d, DL_WDF_D0_EXIT_PRE_INTERRUPTS_DISABLED, target)))
    first = st;
  if (stage >= 1) interrupts_off(d);
  st = event(d, DL_WDF_D0_EXIT, target);
  if (!NT_SUCCESS(st) && NT_SUCCESS(first)) first = st;
  d->power = target;
  return first;
}

/* The device fails: hardware released, no more power changes. */
static uint32_t fail(dl_wdf_device *d, uint32_t status) {
  event(d, DL_WDF_RELEASE_HARDWARE, DL_WDF_POWER_D3_FINAL);
  d->power = DL_WDF_POWER_D3_FINAL;
  d->state = DL_WDF_FAILED;
  return status;
}

/* Presents what the device's queues hold (power-managed queues wait in Dx). */
static void queues_resume(dl_wdf_device *d) {
  for (dl_link *l = d->queues.next; l != &d->queues;) {
    dl_wdf_queue *q = DL_CONTAINER(l, dl_wdf_queue, link);
    l = l->next;
    dl_wdf_queue_dispatch(q);
  }
}

/* Power-up from `previous`; a failure undoes what succeeded and fails the device. */
static uint32_t power_up(dl_wdf_device *d, uint32_t previous) {
  uint32_t st = event(d, DL_WDF_D0_ENTRY, previous);
  if (!NT_SUCCESS(st)) return fail(d, st);  /* no D0Exit after a failed D0Entry */
  d->power = DL_WDF_POWER_D0;
  st = interrupts_on(d);
  if (!NT_SUCCESS(st)) {
    power_down_from(d, 1, DL_WDF_POWER_D3_FINAL);
    return fail(d, st);
  }
  st = event(d, DL_WDF_D0_ENTRY_POST_INTERRUPTS_ENABLED, previous);
  if (!NT_SUCCESS(st)) {
    power_down_from(d, 1, DL_WDF_POWER_D3_FINAL);
    return fail(d, st);
  }
  for (size_t i = 0; i < d->nhooks; i++) {
    st = d->hooks[i].fn(d->hooks[i].ctx, 1);
    if (st) {
      power_down_from(d, 3, DL_WDF_POWER_D3_FINAL);
      return fail(d, st);
    }
  }
  d->state = DL_WDF_STARTED;
  queues_resume(d);
  st = event(d, d->smio ? DL_WDF_SELF_MANAGED_IO_RESTART : DL_WDF_SELF_MANAGED_IO_INIT, 0);
  if (!NT_SUCCESS(st)) {
    power_down_from(d, 3, DL_WDF_POWER_D3_FINAL);
    return fail(d, st);
  }
  d->smio = 1;
  return DL_STATUS_SUCCESS;
}

/* Starts the device: PrepareHardware with the resources, then power-up. */
uint32_t dl_wdf_device_start(dl_wdf_device *d, const dl_wdf_resource *res, size_t nres) {
  if (d->state != DL_WDF_ADDED) return DL_STATUS_INVALID_DEVICE_STATE;
  if (nres) {
    d->res = malloc(nres * sizeof *res);
    if (!d->res) return DL_STATUS_INSUFFICIENT_RESOURCES;
    memcpy(d->res, res, nres * sizeof *res);
  }
  d->nres = nres;
  dl_wdf_interrupts_assign(d);
  d->in_prepare = 1;  /* WdfInterruptCreate may take its descriptors now */
  uint32_t st = event(d, DL_WDF_PREPARE_HARDWARE, 0);
  d->in_prepare = 0;
  if (!NT_SUCCESS(st)) return fail(d, st);
  st = power_up(d, DL_WDF_POWER_D3_FINAL);
  if (NT_SUCCESS(st)) dl_wdf_device_interfaces_enable(d, 1);  /* started: its interfaces */
  return st;
}

static uint32_t in_flight(const dl_wdf_device *d);

/* Moves a started device to Dx or a stopped one back to D0; a device with
** requests in flight drains them first (STATUS_PENDING: the power-down
** happens when the last completes). D0 while draining cancels it. */
uint32_t dl_wdf_device_set_power(dl_wdf_device *d, uint32_t target) {
  if (target == DL_WDF_POWER_D0) {
    if (d->state == DL_WDF_STOPPING) d->state = DL_WDF_STARTED;
    if (d->state == DL_WDF_STARTED) {
      queues_resume(d);
      return DL_STATUS_SUCCESS;
    }
    if (d->state != DL_WDF_STOPPED) return DL_STATUS_INVALID_DEVICE_STATE;
    return power_up(d, d->power);
  }
  if (target < DL_WDF_POWER_D1 || target > DL_WDF_POWER_D3) return DL_STATUS_INVALID_PARAMETER;
  if (d->state == DL_WDF_STOPPED || d->state == DL_WDF_STOPPING) return DL_STATUS_SUCCESS;
  if (d->state != DL_WDF_STARTED) return DL_STATUS_INVALID_DEVICE_STATE;
  if (in_flight(d)) {  /* power-managed queues drain first, as KMDF's do */
    d->state = DL_WDF_STOPPING;
    d->power_target = target;
    return DL_STATUS_PENDING;
  }
  d->state = DL_WDF_STOPPED;
  smio_suspend(d);
  return power_down_from(d, 3, target);
}

/* Requests the device's queues presented and the driver has not completed. */
static uint32_t in_flight(const dl_wdf_device *d) {
  uint32_t n = 0;
  for (const dl_link *l = d->queues.next; l != &d->queues; l = l->next)
    n += DL_CONTAINER(l, dl_wdf_queue, link)->in_flight;
  return n;
}

/* The power-down a draining device waited for (a clock event: power
** callbacks run at PASSIVE_LEVEL, not inside the completing driver's DPC). */
static void finish_power_down(void *arg, uint64_t unused) {
  (void)unused;
  dl_wdf_device *d = arg;
  d->power_event_set = 0;
  if (d->state != DL_WDF_STOPPING || in_flight(d)) return;
  d->state = DL_WDF_STOPPED;
  smio_suspend(d);
  power_down_from(d, 3, d->power_target);
}

/* A request of the device completed: a draining device may power down now. */
void dl_wdf_device_request_done(dl_wdf_device *d) {
  if (d->state == DL_WDF_STOPPING && !in_flight(d) && !d->power_event_set)
    d->power_event_set = dl_clock_after(dl_machine_clock(d->m), 0, finish_power_down, d, 0,
                                        &d->power_event) == DL_OK;
}

/* Removes the device: power-down if in D0, then ReleaseHardware. */
/* A framework device of m PnP has not removed yet, or NULL. */
static dl_wdf_device *live_device(dl_machine *m) {
  for (dl_object *o = dl_object_next(m, NULL, NULL); o; o = dl_object_next(m, o, NULL))
    if (o->type == &device_class.base && ((dl_wdf_device *)o)->state != DL_WDF_REMOVED)
      return (dl_wdf_device *)o;
  return NULL;
}

/* Unloads the machine's WDF drivers with their callbacks. */
void dl_wdf_shutdown(dl_machine *m) {
  uint8_t irql = dl_machine_irql(m);
  dl_machine_set_irql(m, DL_PASSIVE_LEVEL);
  dl_wdf_mark_all(m);
  for (dl_wdf_device *d; (d = live_device(m));) {  /* each pass removes one */
    dl_wdf_device_remove(d);
    dl_wdf_object_delete_framework(DL_WDF(d));
  }
  dl_wdf_delete_all(m);
  dl_machine_set_irql(m, irql);
}

uint32_t dl_wdf_device_remove(dl_wdf_device *d) {
  uint32_t st = DL_STATUS_SUCCESS;
  if (d->state == DL_WDF_REMOVED || d->state == DL_WDF_FAILED || d->state == DL_WDF_ADDED) {
    d->state = DL_WDF_REMOVED;
    return st;
  }
  if (d->state == DL_WDF_STARTED || d->state == DL_WDF_STOPPING) {
    smio_suspend(d);
    st = power_down_from(d, 3, DL_WDF_POWER_D3_FINAL);
  }
  uint32_t rel = event(d, DL_WDF_RELEASE_HARDWARE, DL_WDF_POWER_D3_FINAL);
  if (d->smio) {  /* it ran: flushed and cleaned up once the hardware is released */
    event(d, DL_WDF_SELF_MANAGED_IO_FLUSH, 0);
    event(d, DL_WDF_SELF_MANAGED_IO_CLEANUP, 0);
    d->smio = 0;
  }
  d->power = DL_WDF_POWER_D3_FINAL;
  d->state = DL_WDF_REMOVED;
  dl_wdf_device_interfaces_enable(d, 0);
  return NT_SUCCESS(st) ? rel : st;
}
