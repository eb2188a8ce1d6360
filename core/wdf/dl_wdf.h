/*
** dl_wdf.h: the KMDF framework objects the DMA model needs: the framework
** device (WDFDEVICE) with its PnP/power sequence, I/O queues that present
** requests (WDFQUEUE, WDFREQUEST) and framework interrupts (WDFINTERRUPT).
**
** The engine runs the framework's sequences and calls the driver through
** the device's ops (the binding's functions, which call the Lua driver):
**   start:  EvtDevicePrepareHardware, then power-up
**   up:     EvtDeviceD0Entry, interrupts connected and enabled
**           (EvtInterruptEnable at DIRQL), EvtDeviceD0EntryPostInterruptsEnabled,
**           the power hooks in registration order (reference 2.6), the
**           queues started, EvtDeviceSelfManagedIoInit (the first time) or
**           EvtDeviceSelfManagedIoRestart
**   down:   EvtDeviceSelfManagedIoSuspend, the power hooks (all, errors
**           ignored), EvtDeviceD0ExitPreInterruptsDisabled, interrupts
**           disabled (EvtInterruptDisable) and disconnected, EvtDeviceD0Exit
**   remove: power-down to D3Final, EvtDeviceReleaseHardware, then
**           EvtDeviceSelfManagedIoFlush and EvtDeviceSelfManagedIoCleanup
** A failing step of power-up stops it; what already succeeded is undone in
** reverse (a failed EvtDeviceD0Entry gets no EvtDeviceD0Exit, as the docs
** say) and the device fails: EvtDeviceReleaseHardware runs and the device
** takes no more power changes. A failed PrepareHardware also gets its
** ReleaseHardware (the framework's "failed own hardware" path).
**
** Framework objects sit on the object layer (dl_wdfobject.h): the device
** is a child of its driver, queues and interrupts of their device, requests
** of their queue; they go with their parents, or at dl_wdf_unload.
*/
#ifndef DL_WDF_H
#define DL_WDF_H

#include <stddef.h>
#include <stdint.h>

#include "base/dl_list.h"
#include "base/dl_ntstatus.h"
#include "devices/dl_cmres.h"
#include "wdf/dl_wdfobject.h"

typedef struct dl_machine dl_machine;
typedef struct dl_device dl_device;
typedef struct dl_driver dl_driver;
typedef struct dl_irp dl_irp;
typedef struct dl_dpc dl_dpc;
typedef struct dl_interrupt dl_interrupt;

typedef struct dl_wdf_driver dl_wdf_driver;
typedef struct dl_wdf_device dl_wdf_device;
typedef struct dl_wdf_queue dl_wdf_queue;
typedef struct dl_wdf_request dl_wdf_request;
typedef struct dl_wdf_interrupt dl_wdf_interrupt;

/* WDF_POWER_DEVICE_STATE, with the WDK's values. */
enum {
  DL_WDF_POWER_INVALID = 0,
  DL_WDF_POWER_D0 = 1,
  DL_WDF_POWER_D1 = 2,
  DL_WDF_POWER_D2 = 3,
  DL_WDF_POWER_D3 = 4,
  DL_WDF_POWER_D3_FINAL = 5
};


/* WDF_IO_QUEUE_DISPATCH_TYPE. */
enum { DL_WDF_DISPATCH_SEQUENTIAL = 1, DL_WDF_DISPATCH_PARALLEL = 2, DL_WDF_DISPATCH_MANUAL = 3 };

/* Parameter 1 of bug check 0x10D for a request misused (WDF_REQUEST_FATAL_ERROR). */
#define DL_WDF_REQUEST_FATAL_ERROR 0x6u

/* IRP major functions the framework dispatches: slots of the dispatching table. */
#define DL_WDF_MAJOR_COUNT 28

/* One CM_PARTIAL_RESOURCE_DESCRIPTOR (devices/dl_cmres.h). */
typedef dl_cm_descriptor dl_wdf_resource;

/* The device callbacks (WDF_PNPPOWER_EVENT_CALLBACKS), in the order of the
** names dl_wdf_event_name gives. */
typedef enum dl_wdf_event {
  DL_WDF_PREPARE_HARDWARE,
  DL_WDF_RELEASE_HARDWARE,
  DL_WDF_D0_ENTRY,
  DL_WDF_D0_EXIT,
  DL_WDF_D0_ENTRY_POST_INTERRUPTS_ENABLED,
  DL_WDF_D0_EXIT_PRE_INTERRUPTS_DISABLED,
  DL_WDF_SELF_MANAGED_IO_INIT,      /* the first power-up, after the queues started */
  DL_WDF_SELF_MANAGED_IO_RESTART,   /* each later power-up */
  DL_WDF_SELF_MANAGED_IO_SUSPEND,   /* each power-down, first */
  DL_WDF_SELF_MANAGED_IO_FLUSH,     /* removal, after EvtDeviceReleaseHardware (no status) */
  DL_WDF_SELF_MANAGED_IO_CLEANUP,   /* removal, last (no status) */
  DL_WDF_EVENT_COUNT
} dl_wdf_event;

/* How the framework calls the driver (the binding supplies these). */
typedef struct dl_wdf_ops {
  /* A device callback; `state` is PreviousState or TargetState. Called only
  ** for events whose bit is set in the device's `events`. */
  uint32_t (*event)(void *ctx, dl_wdf_device *d, dl_wdf_event ev, uint32_t state);
  /* EvtIoRead/Write/DeviceControl for a request the queue presents. */
  void (*present)(void *ctx, dl_wdf_queue *q, dl_wdf_request *r);
  /* EvtInterruptIsr at DIRQL: 1 if the interrupt was the device's. */
  int (*isr)(void *ctx, dl_wdf_interrupt *wi);
  /* EvtInterruptDpc at DISPATCH_LEVEL. */
  void (*dpc)(void *ctx, dl_wdf_interrupt *wi);
  /* EvtInterruptEnable (on=1) / EvtInterruptDisable (on=0) at DIRQL, for
  ** interrupts with has_enable set; NULL is fine. */
  uint32_t (*interrupt_enable)(void *ctx, dl_wdf_interrupt *wi, int on);
  /* The framework completes an IRP itself (a request cancelled in its
  ** queue, purged, refused): IoCompleteRequest on it. NULL: the core does. */
  void (*complete_irp)(void *ctx, dl_irp *irp);
  /* EvtRequestCancel(Request) for a request marked cancelable. */
  void (*request_cancel)(void *ctx, dl_wdf_request *r);
  /* EvtIoCanceledOnQueue(Queue, Request): returns 0 if the queue has none
  ** (the framework then completes the request with STATUS_CANCELLED). */
  int (*canceled_on_queue)(void *ctx, dl_wdf_queue *q, dl_wdf_request *r);
  /* A queue state callback (dl_wdfio.h: DL_WDF_QCB_*) the driver asked for. */
  void (*queue_state)(void *ctx, dl_wdf_queue *q, int which);
  /* The framework's file callbacks (dl_wdfio.h: DL_WDF_FILE_*): a create
  ** returns nonzero once the driver handled it (it completes the request);
  ** cleanup and close are notifications. NULL: none. */
  int (*file_event)(void *ctx, dl_wdf_device *d, int which, dl_wdf_request *r, void *file);
} dl_wdf_ops;

/* Device life: added (DeviceAdd done), started (D0), stopped (D3),
** failed (a start or power-up failed), removed; stopping: a power-down
** waits for the requests its power-managed queues had presented. */
typedef enum dl_wdf_state {
  DL_WDF_ADDED, DL_WDF_STARTED, DL_WDF_STOPPED, DL_WDF_FAILED, DL_WDF_REMOVED, DL_WDF_STOPPING
} dl_wdf_state;

/* Power hooks (the DMA layer's enablers): see dl_wdf_device_add_power_hook. */
typedef uint32_t (*dl_wdf_power_fn)(void *ctx, int up);

typedef struct dl_wdf_hook {
  dl_wdf_power_fn fn;
  void *ctx;
} dl_wdf_hook;

/* WDFDRIVER: the root of a driver's objects (WdfDriverCreate). */
struct dl_wdf_driver {
  DL_WDF_OBJECT_FIELDS
};

struct dl_wdf_device {
  DL_WDF_OBJECT_FIELDS
  dl_device *pdo;              /* the hardware's DEVICE_OBJECT */
  dl_device *fdo;              /* the framework's own (WdfDeviceWdmGetDeviceObject) */
  uint32_t alignment;          /* WdfDeviceSetAlignmentRequirement */
  uint32_t events;             /* bit (1 << dl_wdf_event): the driver has that callback */
  const dl_wdf_ops *ops;
  void *ctx;
  dl_wdf_state state;
  uint32_t power;              /* WDF_POWER_DEVICE_STATE now */
  uint32_t power_target;       /* while stopping: the Dx to go to */
  int power_event_set;         /* the drained power-down is scheduled... */
  uint64_t power_event;        /* ...as this clock event */
  int smio;                    /* self-managed I/O: 0 never started, 1 running, 2 suspended */
  dl_wdf_resource *res;        /* the resource list given at start */
  size_t nres;
  int in_prepare;              /* EvtDevicePrepareHardware is running */
  uint32_t ninterrupts;        /* WDFINTERRUPTs created (the next MessageID) */
  dl_wdf_hook *hooks;
  size_t nhooks, hooks_cap;
  const char **log;            /* power_log: static strings, in order */
  size_t nlog, log_cap;
  dl_link queues, interrupts;
  dl_wdf_queue *default_queue;
  dl_wdf_queue *dispatching[DL_WDF_MAJOR_COUNT];  /* WdfDeviceConfigureRequestDispatching */
  uint32_t file_events;        /* bit (1 << DL_WDF_FILE_*): EvtDeviceFileCreate... (dl_wdffile.h) */
  dl_wdf_queue *create_queue;  /* the framework's own queue for create requests */
};

struct dl_wdf_queue {
  DL_WDF_OBJECT_FIELDS
  dl_link link;                /* on its device's list */
  dl_wdf_device *d;
  int dispatch;                /* DL_WDF_DISPATCH_* */
  int is_default;
  dl_link waiting;             /* requests not yet presented, FIFO */
  dl_link requests;            /* every live request of the queue */
  uint32_t in_flight;          /* presented, not completed */
  int presenting, again;       /* re-entrancy guard of dl_wdf_queue_dispatch */
  uint64_t presented, completed;
  int refusing;                /* not accepting requests (Purge, Drain; dl_wdfio.h) */
  int stopped;                 /* not presenting requests (Stop, Purge) */
  int pending_stop;            /* a StopComplete waits for the driver's requests */
  int pending_op;              /* a PurgeComplete / DrainComplete (DL_WDF_QCB_*) waits, or 0 */
  int ready_notify;            /* WdfIoQueueReadyNotify registered (manual queues) */
  int has_canceled_on_queue;   /* EvtIoCanceledOnQueue registered */
  int allow_zero_length;       /* AllowZeroLengthRequests: else the framework completes them */
};

struct dl_wdf_request {
  DL_WDF_OBJECT_FIELDS
  dl_link link;                /* on its queue's `requests` */
  dl_link wait;                /* on `waiting` until presented */
  dl_wdf_queue *q;
  dl_irp *irp;
  int presented, completed;
  uint64_t information;        /* WdfRequestSetInformation */
  int cancelable;              /* WdfRequestMarkCancelable, not yet unmarked or cancelled */
  int cancel_called;           /* EvtRequestCancel ran (or runs) */
  struct dl_mdl *fx_mdl[2];    /* MDLs the framework built over the system buffer (in, out) */
  struct dl_wdf_memory *fx_mem[2]; /* WDFMEMORY objects of the buffers (in, out), its children */
};

struct dl_wdf_interrupt {
  DL_WDF_OBJECT_FIELDS
  dl_link link;                /* on its device's list */
  dl_wdf_device *d;
  int has_resource;            /* assigned an interrupt descriptor at start */
  long res_index;              /* which (index in the device's list), -1 none yet */
  int chosen;                  /* the driver chose it (InterruptRaw/Translated) */
  uint32_t vector;
  uint8_t level;
  int latched, shared, message;/* from the descriptor's Flags and ShareDisposition */
  uint32_t message_id;         /* its MessageID: the device's interrupts before it */
  int has_enable;              /* EvtInterruptEnable/Disable registered */
  int has_dpc;                 /* EvtInterruptDpc registered */
  dl_interrupt *intr;          /* connected while the device is in D0 */
  dl_dpc *dpc;                 /* the DPC for WdfInterruptQueueDpcForIsr */
  uint8_t lock_old_irql;       /* WdfInterruptAcquireLock */
  int locked;
};

/* ---- drivers and devices ---------------------------------------------------- */

/* WdfDriverCreate (PASSIVE_LEVEL): the driver object, root of its devices. */
int dl_wdf_driver_new(dl_machine *m, dl_wdf_driver **out);

/* WdfGetDriver: the WDFDRIVER of the calling driver. A driver image
** creates one WDFDRIVER; the lab runs every driver of a machine in one
** Lua state, so the caller is known only when the machine holds exactly
** one: DL_ESTATE if it holds none, DL_EBUSY if several (*count says how
** many). */
int dl_wdf_get_driver(dl_machine *m, dl_wdf_driver **out, size_t *count);

/* The parent of an object created without one whose default parent KMDF
** says is the driver (WDFMEMORY, WDFLOOKASIDE, WDFSPINLOCK, WDFWAITLOCK:
** "by default, the parent is the framework driver object"): the machine's
** WDFDRIVER, or `parent` itself if given or if the machine has none or
** several (then the driver is not known: the object stays a root). */
dl_wdf_object *dl_wdf_default_parent(dl_machine *m, dl_wdf_object *parent);

/* The framework's DriverUnload, as the driver goes (the I/O manager's
** unload, io/dl_unload.h): first the PnP manager removes each device of the
** driver still there (dl_wdf_device_remove: power-down, then
** EvtDeviceReleaseHardware; then the device and its descendants are
** deleted with their cleanup callbacks), then evt_unload(ctx) runs
** (EvtDriverUnload; may be NULL), then the driver and its other objects
** are deleted, their EvtCleanupCallback and EvtDestroyCallback running,
** children first; last, the framework deletes the device objects of wdm
** (the driver's DRIVER_OBJECT, may be NULL): the FDOs, which the lab keeps
** after each removal (IoDeleteDevice; one still in use stays). */
void dl_wdf_driver_unload(dl_wdf_driver *drv, dl_driver *wdm, void (*evt_unload)(void *ctx),
                          void *ctx);

/* WdfDeviceCreate (PASSIVE_LEVEL): a framework device of driver (NULL:
** none) over the hardware's PDO, with an FDO of its own named after it.
** The driver may not delete it: m:wdf_remove_device (dl_wdf_device_remove,
** then dl_wdf_object_delete_framework) does. */
int dl_wdf_device_new(dl_machine *m, dl_wdf_driver *driver, dl_device *pdo, const char *name,
                      const dl_wdf_ops *ops, void *ctx, dl_wdf_device **out);

/* Accessors of the device. */
dl_device *dl_wdf_device_fdo(const dl_wdf_device *d);
dl_wdf_state dl_wdf_device_state(const dl_wdf_device *d);
uint32_t dl_wdf_device_power(const dl_wdf_device *d);
dl_wdf_queue *dl_wdf_device_default_queue(const dl_wdf_device *d);
/* The power log: n names (static strings), in order. */
const char *const *dl_wdf_device_power_log(const dl_wdf_device *d, size_t *n);
/* Which callbacks the driver gave: bit (1 << dl_wdf_event). */
void dl_wdf_device_set_events(dl_wdf_device *d, uint32_t events);
/* WdfDeviceSetAlignmentRequirement: a FILE_*_ALIGNMENT value (2^n - 1, at
** most 511); DL_EINVAL otherwise. */
int dl_wdf_device_set_alignment(dl_wdf_device *d, uint32_t alignment);

/* WdfDeviceConfigureRequestDispatching: requests of IRP major `major`
** (READ, WRITE, DEVICE_CONTROL or INTERNAL_DEVICE_CONTROL) go to q, a queue
** of the device. DL_EINVAL otherwise. */
int dl_wdf_device_configure_dispatching(dl_wdf_device *d, dl_wdf_queue *q, uint8_t major);

/* The framework's dispatch routine for an IRP sent to the device's FDO
** (d NULL: the device was deleted): the IRP goes as a request to the queue
** configured for its major, else the default queue, is marked pending and
** presented as the queue may (STATUS_PENDING, the request in *out). The
** failure statuses, for the caller to complete the IRP with:
** INVALID_DEVICE_STATE (device failed, removed or gone),
** INVALID_DEVICE_REQUEST (no queue), INSUFFICIENT_RESOURCES. */
uint32_t dl_wdf_device_dispatch(dl_wdf_device *d, dl_irp *irp, dl_wdf_request **out);

/* The contract with the DMA layer. */
dl_device *dl_wdf_device_pdo(const dl_wdf_device *d);
uint32_t dl_wdf_device_alignment(const dl_wdf_device *d);
dl_machine *dl_wdf_device_machine(const dl_wdf_device *d);

/* Power hooks: up runs after EvtDeviceD0EntryPostInterruptsEnabled, in
** registration order, and the first non-zero (failure) status stops the
** sequence and fails the power-up; down runs before
** EvtDeviceD0ExitPreInterruptsDisabled for every hook, errors ignored.
** DL_ENOMEM, or DL_EINVAL for a NULL fn. */
int dl_wdf_device_add_power_hook(dl_wdf_device *d, dl_wdf_power_fn fn, void *ctx);
void dl_wdf_device_remove_power_hook(dl_wdf_device *d, void *ctx);

/* Appends a name (a static string) to the device's power log. */
void dl_wdf_device_log(dl_wdf_device *d, const char *name);

/* The lab as PnP manager: starts the device with its resources (copied):
** PrepareHardware, then power-up from D3Final. Returns the first failure's
** NTSTATUS (the device is then failed), or STATUS_SUCCESS. DL_ESTATE-like
** misuse (not in state added) returns STATUS_INVALID_DEVICE_STATE. */
uint32_t dl_wdf_device_start(dl_wdf_device *d, const dl_wdf_resource *res, size_t nres);

/* Powers a started device down to `target` (D1..D3) or a stopped one up
** to D0. Returns the first failure's NTSTATUS. */
uint32_t dl_wdf_device_set_power(dl_wdf_device *d, uint32_t target);

/* Tells the device one of its requests completed (a draining power-down
** may then proceed). */
void dl_wdf_device_request_done(dl_wdf_device *d);

/* Surprise-free removal: power-down to D3Final if in D0, then
** ReleaseHardware; the device is removed. */
uint32_t dl_wdf_device_remove(dl_wdf_device *d);

/* The machine's WDF drivers unload as Windows unloads them (an explicit
** m:close): PnP removes every device first (power-down, ReleaseHardware,
** then the device and its children are deleted with their
** EvtCleanupCallbacks, children first), then every remaining framework
** object goes with its callbacks, the driver objects last created first.
** Nothing can be created meanwhile (STATUS_DELETE_PENDING); at
** PASSIVE_LEVEL, as an unload. */
void dl_wdf_shutdown(dl_machine *m);

/* Name of a device event ("EvtDeviceD0Entry"...). */
const char *dl_wdf_event_name(dl_wdf_event ev);

/* ---- queues and requests ---------------------------------------------------- */

/* WdfIoQueueCreate: a queue of the device; the default queue if is_default
** (DL_EBUSY if the device has one already; DL_ESTATE, STATUS_DELETE_PENDING
** to the driver, while the device is being deleted). */
int dl_wdf_queue_new(dl_wdf_device *d, int dispatch, int is_default, dl_wdf_queue **out);

/* Queue accessors; `waiting` counts requests not yet presented. */
dl_wdf_device *dl_wdf_queue_device(const dl_wdf_queue *q);
int dl_wdf_queue_dispatch_type(const dl_wdf_queue *q);
int dl_wdf_queue_is_default(const dl_wdf_queue *q);
void dl_wdf_queue_stats(const dl_wdf_queue *q, uint64_t *presented, uint64_t *completed,
                        uint32_t *in_flight, uint32_t *waiting);

/* A request for irp joins the queue's tail; the caller then sets up its
** side of the request and calls dl_wdf_queue_dispatch. DL_EBUSY if the
** queue is not accepting requests (dl_wdfio.h). */
int dl_wdf_queue_add(dl_wdf_queue *q, dl_irp *irp, dl_wdf_request **out);

/* Presents waiting requests through ops->present: a sequential queue one
** at a time (the next when the last presented completes), a parallel queue
** all of them. Safe to call from inside a presentation. */
void dl_wdf_queue_dispatch(dl_wdf_queue *q);

/* WdfRequestComplete[WithInformation] (<= DISPATCH_LEVEL): sets the IRP's
** IoStatus (status, information) and the framework deletes the request
** (its EvtCleanupCallback runs). Returns the IRP for the caller to complete
** (IoCompleteRequest), then it calls dl_wdf_queue_dispatch on the queue it
** got from dl_wdf_request_queue before. NULL if the request was never
** presented (DL_ESTATE-like misuse, reported 0x10D/0x6). */
dl_irp *dl_wdf_request_complete(dl_wdf_request *r, uint32_t status, uint64_t information);

/* A call on a request the driver completed already (its object is gone):
** report 0x10D/0x6 naming `call` and the request's id. */
void dl_wdf_request_report_completed(dl_machine *m, uint64_t id, const char *call);

/* Request accessors: its queue; WdfRequestSet/GetInformation. */
dl_wdf_queue *dl_wdf_request_queue(const dl_wdf_request *r);
void dl_wdf_request_set_information(dl_wdf_request *r, uint64_t information);
uint64_t dl_wdf_request_information(const dl_wdf_request *r);

/* The contract with the DMA layer. */
dl_irp *dl_wdf_request_irp(const dl_wdf_request *r);
dl_wdf_device *dl_wdf_request_device(const dl_wdf_request *r);

/* ---- interrupts ------------------------------------------------------------- */

/* WdfInterruptCreate: an interrupt of the device, connected at power-up to
** the interrupt resource it is given at start (in creation order); one
** created while the device runs takes the next unused resource at once and
** connects if the device is in D0. DL_ENOMEM; DL_ESTATE (STATUS_DELETE_PENDING)
** while the device is being deleted. */
int dl_wdf_interrupt_new(dl_wdf_device *d, int has_dpc, int has_enable, dl_wdf_interrupt **out);

/* WdfInterruptCreate with its rules (fxinterruptapi.cpp), an NTSTATUS:
** only in EvtDriverDeviceAdd (before the start) or in
** EvtDevicePrepareHardware, else STATUS_INVALID_DEVICE_STATE; in
** EvtDriverDeviceAdd InterruptRaw/InterruptTranslated must be NULL (-1;
** -2 or above: given),
** else STATUS_INVALID_PARAMETER; in EvtDevicePrepareHardware both must be
** given, with ShareVector WdfUseDefault (share_default), else
** STATUS_INVALID_DEVICE_STATE; each must be an interrupt descriptor of the
** device's list (an index), else STATUS_INVALID_PARAMETER (the framework's
** verifier check). The interrupt then uses `translated`; one created
** without takes the first interrupt descriptor no other has taken. */
uint32_t dl_wdf_interrupt_create(dl_wdf_device *d, int has_dpc, int has_enable, long raw,
                                 long translated, int share_default, dl_wdf_interrupt **out);
/* WdfInterruptQueueDpcForIsr: KeInsertQueueDpc's result (0 if queued already). */
int dl_wdf_interrupt_queue_dpc(dl_wdf_interrupt *wi);

/* WdfInterruptAcquireLock / ReleaseLock: raise to / restore from the
** interrupt's synchronize IRQL (its DIRQL). DL_ESTATE if already held / not held. */
int dl_wdf_interrupt_acquire(dl_wdf_interrupt *wi);
int dl_wdf_interrupt_release(dl_wdf_interrupt *wi);

/* Interrupt accessors. */
dl_wdf_device *dl_wdf_interrupt_device(const dl_wdf_interrupt *wi);
int dl_wdf_interrupt_has_dpc(const dl_wdf_interrupt *wi);
int dl_wdf_interrupt_connected(const dl_wdf_interrupt *wi);
int dl_wdf_interrupt_locked(const dl_wdf_interrupt *wi);
uint8_t dl_wdf_interrupt_level(const dl_wdf_interrupt *wi);
uint32_t dl_wdf_interrupt_vector(const dl_wdf_interrupt *wi);
long dl_wdf_interrupt_resource(const dl_wdf_interrupt *wi);
/* The MessageID EvtInterruptIsr gets: its message number for a message
** interrupt, 0 for a line-based one. */
uint32_t dl_wdf_interrupt_message_id(const dl_wdf_interrupt *wi);

/* WDF_INTERRUPT_INFO, as WdfInterruptGetInfo fills it: MessageNumber is the
** count of the device's interrupts created before this one (KMDF's
** m_InterruptObjectCount), the rest from its descriptor (zeros before it
** has one). */
typedef struct dl_wdf_interrupt_info {
  uint32_t message_number, vector;
  uint8_t irql, share;
  int latched, message_signaled;
} dl_wdf_interrupt_info;
void dl_wdf_interrupt_get_info(const dl_wdf_interrupt *wi, dl_wdf_interrupt_info *out);

/* WdfInterruptAcquireLock by the driver: IRQL <= DIRQL (0xE6/0x13), a lock
** already held is WDF_VIOLATION 0x2 (then nothing happens). */
void dl_wdf_interrupt_acquire_lock(dl_wdf_interrupt *wi);

#endif
