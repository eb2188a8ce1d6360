/*
** dl_driver.h: the I/O manager: DRIVER_OBJECTs (the dispatch table,
** DriverStartIo, DriverUnload), IoCreateDevice, IoCallDriver, the device
** queue that serialises a packet-based driver's StartIo (IoStartPacket,
** IoStartNextPacket), IoCompleteRequest, IoMarkIrpPending's rules with the
** dispatch routine's return, and the DpcForIsr (IoInitializeDpcRequest,
** IoRequestDpc).
**
** Every rule is decided here once; what an IRP's state allows is decided
** by the state table of dl_irpstate.h, which every call on an IRP consults
** first. A misuse a driver makes is a verifier
** report carrying the bug check the WDK documents (0xC9 I/O verification,
** 0xC4 DDI compliance, 0x44 for a second completion) and a message that
** starts with the call's name; the call then does what the system would do
** without the verifier (it goes on), or nothing when that would corrupt
** the model (the call returns DL_ESTATE or DL_EBUSY).
*/
#ifndef DL_DRIVER_H
#define DL_DRIVER_H

#include <stdint.h>

#include "io/dl_device.h"
#include "io/dl_irp.h"
#include "kernel/dl_cpu.h"

typedef struct dl_machine dl_machine;

/* Parameter 1 of bug check 0xC9 (DRIVER_VERIFIER_IOMANAGER_VIOLATION). */
enum {
  DL_IOV_MISC = 0x00,                  /* the lab's own rule: no documented P1 */
  DL_IOV_COMPLETE_PENDING = 0x06,      /* IoCompleteRequest with STATUS_PENDING or -1 */
  DL_IOV_COMPLETE_IRQL = 0x0E,         /* IoCompleteRequest above DISPATCH_LEVEL */
  DL_IOV_CALL_DRIVER_IRQL = 0x10       /* IoCallDriver above DISPATCH_LEVEL */
};

/* Parameter 1 of bug check 0xC4 (DRIVER_VERIFIER_DETECTED_VIOLATION): DDI
** compliance rules. */
enum {
  DL_DDI_MISC = 0x00,                  /* a rule the WDK checks statically only */
  DL_DDI_IRQL_IO_PASSIVE1 = 0x2000A    /* IrqlIoPassive1: IoCreateDevice at PASSIVE_LEVEL */
};

#define DL_STATUS_SUCCESS 0x00000000u

/* A dispatch routine, MajorFunction[major](DeviceObject, Irp): stores the
** NTSTATUS it returns in *status and returns 1, or returns 0 if it failed
** without returning one (a binding's routine raised an error). */
typedef int (*dl_dispatch_fn)(void *ctx, dl_device *dev, dl_irp *irp, uint32_t *status);

/* DriverUnload(DriverObject). */
typedef void (*dl_unload_fn)(void *ctx, dl_driver *drv);

/* The DRIVER_OBJECT type. */
extern const dl_object_type dl_driver_type;

/* A new DRIVER_OBJECT named `name` (NULL: "\Driver\driver"), as the I/O
** manager hands DriverEntry one: no dispatch routines, no devices. */
int dl_driver_new(dl_machine *m, const char *name, dl_driver **out);

/* Frees a DRIVER_OBJECT; its devices lose their DriverObject. NULL is a
** harmless no-op. */
void dl_driver_free(dl_driver *drv);

/* DriverObject->MajorFunction[major] = fn (NULL: none); DL_EINVAL for a
** major beyond IRP_MJ_MAXIMUM_FUNCTION. */
int dl_driver_set_major(dl_driver *drv, uint8_t major, dl_dispatch_fn fn, void *ctx);

/* Returns 1 if the driver has a routine for major. */
int dl_driver_has_major(const dl_driver *drv, uint8_t major);

/* DriverObject->DriverStartIo and ->DriverUnload (NULL: none). */
void dl_driver_set_start_io(dl_driver *drv, dl_start_io_fn fn, void *ctx);
int dl_driver_has_start_io(const dl_driver *drv);
void dl_driver_set_unload(dl_driver *drv, dl_unload_fn fn, void *ctx);

/* DriverName. */
const char *dl_driver_name(const dl_driver *drv);

/* The driver's devices in creation order: the one after `after` (the first
** if NULL), NULL at the end. */
dl_device *dl_driver_next_device(const dl_driver *drv, const dl_device *after);

/* Calls DriverUnload at PASSIVE_LEVEL (the I/O manager's own IRQL).
** Returns 1 if it had one. The unload itself, with its rules, is
** dl_io_unload_driver (dl_unload.h). */
int dl_driver_unload(dl_driver *drv);

/* Returns 1 if the driver has a DriverUnload. */
int dl_driver_has_unload(const dl_driver *drv);

/* Whether the driver was unloaded (dl_io_unload_driver); marks it so. */
int dl_driver_unloaded(const dl_driver *drv);
void dl_driver_set_unloaded(dl_driver *drv);

/* DeviceObject->DriverObject = drv (NULL: none): the device leaves its old
** driver's list and joins the tail of drv's. */
void dl_device_set_driver(dl_device *dev, dl_driver *drv);

/* IoCreateDevice: a device of drv named `name` (NULL: "device<id>"). Must
** be called at PASSIVE_LEVEL (0xC4/IrqlIoPassive1; the device is made).
** DL_ESTATE for a driver that was unloaded. */
int dl_io_create_device(dl_driver *drv, const char *name, dl_device **out);

/* IoCallDriver: sends irp to dev's driver and calls MajorFunction[major]
** at the caller's IRQL, which must be <= DISPATCH_LEVEL (0xC9/0x10; the
** call goes on). A driver without a routine for the major function fails
** the IRP with STATUS_INVALID_DEVICE_REQUEST, completing it, as the I/O
** manager's default routine does. *status is what the routine returned.
** The routine's return is checked (0xC4, the WDK's MarkIrpPending rules):
** STATUS_PENDING needs IoMarkIrpPending; IoMarkIrpPending needs
** STATUS_PENDING; any other status needs the IRP completed.
** The I/O manager's part comes first: a read's or write's buffers follow
** the device's Flags (dl_iobuf.h), the file rules are checked (dl_file.h:
** a create on an exclusive device with an open file is completed with
** STATUS_ACCESS_DENIED without reaching the driver).
** An IRP already sent is passed down its stack instead (a driver's
** IoCallDriver to the device beneath, dl_irpstack.h): the next location
** becomes dev's, and only the dispatch rules apply; a dispatch routine that
** passed the IRP down is not held to the MarkIrpPending rules (the driver
** beneath was).
** An IRP in its device queue is not passed down (0xC9/0x205), nor one
** whose cancel routine is still set (0xC9/0x203): nothing done, DL_ESTATE.
** DL_EINVAL if dev has no driver (or was deleted), DL_ESTATE if the IRP
** was completed, has no stack location left, or may not go on its file to
** dev (nothing done),
** DL_ENOMEM/DL_ENOSPACE if no system buffer could be had. */
int dl_io_call_driver(dl_device *dev, dl_irp *irp, uint32_t *status);

/* IoCompleteRequest: at IRQL <= DISPATCH_LEVEL (0xC9/0x0E; goes on).
** Completing twice is bug check 0x44 MULTIPLE_IRP_COMPLETE_REQUESTS;
** completing with a cancel routine still set is 0xC9/0x07 (completion goes
** on, as without the verifier: a completed IRP is never cancelled); an IRP
** whose MDL the driver freed, or whose MDL a waiting scatter/gather request
** still needs, is reported (0xC9) and not completed (DL_ESTATE, DL_EBUSY).
** IoStatus.Status STATUS_PENDING (or -1) is 0xC9/0x06 (P2 the status, P3
** the IRP) and nothing is completed (DL_ESTATE). DL_ESTATE without a
** report: never sent, or still queued. */
int dl_io_complete_request(dl_irp *irp);

/* IoStartPacket: at IRQL <= DISPATCH_LEVEL (0xC4; goes on). If the
** device's queue is busy, queues irp (at the tail, or after the entries
** whose key is <= *key when key is not NULL); else makes it CurrentIrp and
** calls DriverStartIo at DISPATCH_LEVEL. DL_EINVAL (nothing done) if the
** driver has no DriverStartIo; DL_ESTATE if irp is not sent to dev, is
** queued, current, being completed (a completion routine of its stack is
** running) or completed. */
int dl_io_start_packet(dl_device *dev, dl_irp *irp, const uint32_t *key);

/* IoStartNextPacket: at DISPATCH_LEVEL exactly (0xC4; goes on). The head
** of the queue becomes CurrentIrp and goes to DriverStartIo; with an empty
** queue the device goes idle (no CurrentIrp). DL_EINVAL (nothing done) if
** the driver has no DriverStartIo. */
int dl_io_start_next_packet(dl_device *dev);

/* IoInitializeDpcRequest: the device's DpcForIsr becomes a new DPC running
** fn(ctx, dpc, Irp, Context); one it had before is freed. */
int dl_io_initialize_dpc_request(dl_device *dev, dl_dpc_fn fn, void *ctx);

/* IoRequestDpc(DeviceObject, Irp, Context): queues the DpcForIsr with Irp
** and Context as its arguments; *queued is KeInsertQueueDpc's result (0:
** it was queued already and the arguments are lost). Legal only from the
** device's ISR (0xC4; nothing queued, DL_ESTATE); DL_EINVAL without a
** DpcForIsr. */
int dl_io_request_dpc(dl_device *dev, uint64_t irp, uint64_t context, int *queued);

#endif
