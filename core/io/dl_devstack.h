/*
** dl_devstack.h: a device object's life in its stack, as AddDevice,
** RemoveDevice and DriverUnload drive it: IoAttachDeviceToDeviceStack,
** IoDetachDevice, IoGetAttachedDevice(Reference) and IoDeleteDevice.
**
** A stack is a chain of device objects: each one's AttachedDevice is the
** device on top of it, each one's AttachedTo (DeviceObjectExtension) the
** device beneath; StackSize counts the IRP stack locations a request sent
** to it needs (its own, plus those of the devices beneath).
**
** IoDeleteDevice never frees what another object still uses: a device
** still attached (above or beneath) is bug check 0xC9 with P1 0x201, a
** DpcForIsr still queued is bug check 0xC7 with P1 1 (a DPC in memory
** being freed: the DEVICE_OBJECT holds it); a device with an IRP being
** processed (sent and not completed: CurrentIrp, queued for StartIo,
** pending), with a file open on it, or needed by another object (an
** adapter's waiting AllocateAdapterChannel or GetScatterGatherList request,
** or the channel it holds: dl_machine_needer) is refused without a report
** (the WDK has no code for it). A refused call changes nothing.
**
** A deleted device leaves its driver's device list and the name space
** (DOE_DELETE_PENDING); its memory stays with the machine, as the object
** manager keeps an object while references remain, so a stale pointer
** reads a deleted device, never freed memory.
*/
#ifndef DL_DEVSTACK_H
#define DL_DEVSTACK_H

#include "io/dl_device.h"

/* Parameter 1 of bug check 0xC9 for the device stack. */
enum {
  DL_IOV_DELETE_WHILE_ATTACHED = 0x201,  /* IoDeleteDevice of a device still in a stack */
  DL_IOV_DETACH_NOT_ATTACHED = 0x202     /* IoDetachDevice of a device nothing is attached to */
};

/* The deepest stack the lab builds (StackSize is a CCHAR on Windows). */
#define DL_DEVSTACK_MAX 8

/* Why IoDeleteDevice refused (dl_io_delete_device's *why). */
typedef enum dl_delete_refusal {
  DL_DELETE_OK,
  DL_DELETE_DELETED,      /* deleted already */
  DL_DELETE_ATTACHED,     /* still attached (0xC9/0x201) */
  DL_DELETE_DPC_QUEUED,   /* its DpcForIsr is queued (0xC7/1) */
  DL_DELETE_IRP,          /* an IRP sent to it is not completed */
  DL_DELETE_FILE_OPEN,    /* a file is open on it */
  DL_DELETE_NEEDED        /* another object needs it (dl_machine_needer) */
} dl_delete_refusal;

/* IoDeleteDevice at PASSIVE_LEVEL (0xC4 otherwise; goes on): DL_OK, or
** DL_EBUSY (DL_ESTATE if deleted already) with *why (may be NULL) saying
** what stops it; then nothing changed. */
int dl_io_delete_device(dl_device *dev, dl_delete_refusal *why);

/* The object IoDeleteDevice found still needing dev (DL_DELETE_NEEDED,
** DL_DELETE_IRP), or NULL. */
dl_object *dl_device_user(dl_device *dev);

/* IoAttachDeviceToDeviceStack(SourceDevice, TargetDevice): source goes on
** top of target's stack; *lower is the device it attached to (the top of
** the stack before, not necessarily target), its StackSize becomes that
** device's plus one. DL_ESTATE (*lower NULL) if either device is deleted,
** source is already in a stack, or target's stack is DL_DEVSTACK_MAX deep;
** DL_EINVAL for two machines or source == target. */
int dl_io_attach_device_to_device_stack(dl_device *source, dl_device *target, dl_device **lower);

/* IoAttachDevice(SourceDevice, TargetDevice): the same by the target's
** name (directly or through a symbolic link); DL_ERANGE
** (STATUS_OBJECT_NAME_NOT_FOUND) if no live device has it. */
int dl_io_attach_device(dl_device *source, const char *target, dl_device **lower);

/* IoDetachDevice(TargetDevice): the device attached on top of target
** leaves it. Nothing attached is bug check 0xC9/0x202 (DL_ESTATE). */
int dl_io_detach_device(dl_device *target);

/* IoGetAttachedDevice: the top of dev's stack (dev if nothing is on it). */
dl_device *dl_io_get_attached_device(dl_device *dev);

/* Bug check 0x18 REFERENCE_BY_POINTER: a reference count going below zero. */
#define DL_BUGCHECK_REFERENCE_BY_POINTER 0x18u

/* IoGetAttachedDeviceReference: the top of dev's stack, referenced. */
dl_device *dl_io_get_attached_device_reference(dl_device *dev);

/* ObReferenceObject / ObDereferenceObject on a device object; dereferencing
** one with no reference left is bug check 0x18 (DL_ESTATE, nothing done). */
void dl_ob_reference_device(dl_device *dev);
int dl_ob_dereference_device(dl_device *dev);

/* Whether IoDeleteDevice ran, and the AttachedDevice / AttachedTo links. */
int dl_device_deleted(const dl_device *dev);
dl_device *dl_device_attached(const dl_device *dev);
dl_device *dl_device_attached_to(const dl_device *dev);
uint8_t dl_device_stack_size(const dl_device *dev);

#endif
