/*
** devstack.c: a device object's life in its stack (io/dl_devstack.h):
** IoAttachDeviceToDeviceStack, IoDetachDevice, IoGetAttachedDeviceReference,
** ObReferenceObject/ObDereferenceObject on devices, IoDeleteDevice (refused,
** with the reason, while the device is in use), and the check every call
** taking a device makes that it was not deleted.
*/
#include <string.h>

#include "io/dl_devstack.h"
#include "base/dl_ntstatus.h"
#include "base/dl_status.h"
#include "../ldl.h"

/* Checks a DEVICE_OBJECT at arg that IoDeleteDevice has not deleted. */
dl_device *ldl_checklivedevice(lua_State *L, int arg) {
  dl_device *dev = ldl_checkobject(L, arg, LDL_DEVICE, "DEVICE_OBJECT")->obj;
  if (dl_device_deleted(dev))
    luaL_argerror(L, arg, lua_pushfstring(L, "DEVICE_OBJECT#%I was deleted (IoDeleteDevice)",
                                          (lua_Integer)DL_OBJECT(dev)->id));
  return dev;
}

/* IoAttachDeviceToDeviceStack(SourceDevice, TargetDevice) -> the device
** attached to (the top of TargetDevice's stack), or nil. */
static int l_IoAttachDeviceToDeviceStack(lua_State *L) {
  lobject *h = ldl_checkobject(L, 1, LDL_DEVICE, "DEVICE_OBJECT");
  ldl_checkobject(L, 2, LDL_DEVICE, "DEVICE_OBJECT");
  dl_device *source = ldl_checklivedevice(L, 1), *target = ldl_checklivedevice(L, 2);
  luaL_argcheck(L, source != target, 2, "a device cannot attach to itself");
  luaL_argcheck(L, !dl_device_attached_to(source) && !dl_device_attached(source), 1,
                "SourceDevice is already in a device stack (IoDetachDevice first)");
  dl_device *lower;
  ldl_call c;
  ldl_enter(L, h->owner, &c);
  int rc = dl_io_attach_device_to_device_stack(source, target, &lower);
  ldl_leave(L, &c);
  if (rc == DL_ESTATE && !lower)
    return luaL_argerror(L, 2, lua_pushfstring(L, "the stack is %d devices deep already (the lab's "
                                                  "limit)", DL_DEVSTACK_MAX));
  if (rc) return ldl_statuserror(L, 2, rc, NULL);
  ldl_pushobject(L, LDL_DEVICE, DL_OBJECT(lower));
  return 1;
}

/* IoAttachDevice(SourceDevice, TargetDevice) -> status, AttachedDevice:
** TargetDevice is a name (a UNICODE_STRING or a string). */
static int l_IoAttachDevice(lua_State *L) {
  lobject *h = ldl_checkobject(L, 1, LDL_DEVICE, "DEVICE_OBJECT");
  dl_device *source = ldl_checklivedevice(L, 1);
  if (lua_istable(L, 2)) lua_getfield(L, 2, "Buffer"), lua_replace(L, 2);  /* a UNICODE_STRING */
  const char *name = luaL_checkstring(L, 2);
  luaL_argcheck(L, !dl_device_attached_to(source) && !dl_device_attached(source), 1,
                "SourceDevice is already in a device stack (IoDetachDevice first)");
  dl_device *lower;
  ldl_call c;
  ldl_enter(L, h->owner, &c);
  int rc = dl_io_attach_device(source, name, &lower);
  ldl_leave(L, &c);
  if (rc == DL_ERANGE) {
    lua_pushinteger(L, DL_STATUS_OBJECT_NAME_NOT_FOUND);
    return 1;
  }
  if (rc == DL_EINVAL) return luaL_argerror(L, 2, "a device cannot attach to itself");
  if (rc) return luaL_argerror(L, 2, lua_pushfstring(L, "the stack is %d devices deep already (the "
                                                        "lab's limit)", DL_DEVSTACK_MAX));
  lua_pushinteger(L, DL_STATUS_SUCCESS);
  ldl_pushobject(L, LDL_DEVICE, DL_OBJECT(lower));
  return 2;
}

/* IoDetachDevice(TargetDevice): the device on top of TargetDevice leaves it. */
static int l_IoDetachDevice(lua_State *L) {
  lobject *h = ldl_checkobject(L, 1, LDL_DEVICE, "DEVICE_OBJECT");
  ldl_call c;
  ldl_enter(L, h->owner, &c);
  int rc = dl_io_detach_device(h->obj);
  ldl_leave(L, &c);
  if (rc && !ldl_reported(&c)) return ldl_statuserror(L, 1, rc, NULL);
  return 0;
}

/* IoGetAttachedDeviceReference(DeviceObject) -> the top of its stack, referenced. */
static int l_IoGetAttachedDeviceReference(lua_State *L) {
  dl_device *dev = ldl_checklivedevice(L, 1);
  ldl_pushobject(L, LDL_DEVICE, DL_OBJECT(dl_io_get_attached_device_reference(dev)));
  return 1;
}

/* ObReferenceObject(DeviceObject) */
static int l_ObReferenceObject(lua_State *L) {
  dl_ob_reference_device(ldl_checkobject(L, 1, LDL_DEVICE, "DEVICE_OBJECT")->obj);
  return 0;
}

/* ObDereferenceObject(DeviceObject): 0x18 with no reference left. */
static int l_ObDereferenceObject(lua_State *L) {
  lobject *h = ldl_checkobject(L, 1, LDL_DEVICE, "DEVICE_OBJECT");
  ldl_call c;
  ldl_enter(L, h->owner, &c);
  dl_ob_dereference_device(h->obj);
  ldl_leave(L, &c);
  return 0;
}

/* What the object that needs a device does with it. */
static const char *why_needed(const dl_object *user) {
  const char *t = user ? user->type->name : "";
  if (strcmp(t, "DMA_ADAPTER") == 0)
    return "a channel request (AllocateAdapterChannel, GetScatterGatherList) waits for it or holds "
           "the adapter channel (FreeAdapterChannel first)";
  if (strcmp(t, "WDFDEVICE") == 0)
    return "it is the framework device's FDO or PDO (the framework deletes it at removal)";
  if (strcmp(t, "device model") == 0)
    return "it is the hardware's PDO, which its bus driver (the lab) owns";
  return "it is still in use";
}

/* Raises why IoDeleteDevice refused dev (nothing was deleted). */
static int delete_refused(lua_State *L, dl_device *dev, dl_delete_refusal why) {
  lua_Integer id = (lua_Integer)DL_OBJECT(dev)->id;
  dl_object *user = why == DL_DELETE_NEEDED || why == DL_DELETE_IRP ? dl_device_user(dev) : NULL;
  switch (why) {
  case DL_DELETE_DELETED:
    return luaL_argerror(L, 1, lua_pushfstring(L, "DEVICE_OBJECT#%I was deleted already", id));
  case DL_DELETE_FILE_OPEN:
    return luaL_argerror(L, 1, lua_pushfstring(L, "IoDeleteDevice: a file is still open on "
                         "DEVICE_OBJECT#%I (IRP_MJ_CLOSE first); nothing was deleted", id));
  case DL_DELETE_IRP:
    if (!user || dl_device_current_irp(dev))
      return luaL_argerror(L, 1, lua_pushfstring(L, "IoDeleteDevice: DEVICE_OBJECT#%I still has "
                           "IRPs in its device queue (CurrentIrp, or waiting for StartIo): "
                           "complete them first; nothing was deleted", id));
    return luaL_argerror(L, 1, lua_pushfstring(L, "IoDeleteDevice: IRP#%I sent to DEVICE_OBJECT#%I "
                         "is still being processed (complete it first); nothing was deleted",
                         (lua_Integer)user->id, id));
  case DL_DELETE_NEEDED:
    return luaL_argerror(L, 1, lua_pushfstring(L, "IoDeleteDevice: DEVICE_OBJECT#%I is still in "
                         "use by %s#%I: %s; nothing was deleted", id,
                         user ? user->type->name : "?", user ? (lua_Integer)user->id : 0,
                         why_needed(user)));
  default:  /* the reported ones, in record mode */
    return 0;
  }
}

/* IoDeleteDevice(DeviceObject) */
static int l_IoDeleteDevice(lua_State *L) {
  lobject *h = ldl_checkobject(L, 1, LDL_DEVICE, "DEVICE_OBJECT");
  dl_delete_refusal why;
  ldl_call c;
  ldl_enter(L, h->owner, &c);
  int rc = dl_io_delete_device(h->obj, &why);
  ldl_leave(L, &c);
  if (rc) return delete_refused(L, h->obj, why);
  return 0;
}

static const luaL_Reg functions[] = {
  {"IoAttachDeviceToDeviceStack", l_IoAttachDeviceToDeviceStack},
  {"IoAttachDevice", l_IoAttachDevice},
  {"IoDetachDevice", l_IoDetachDevice},
  {"IoGetAttachedDeviceReference", l_IoGetAttachedDeviceReference},
  {"ObReferenceObject", l_ObReferenceObject},
  {"ObDereferenceObject", l_ObDereferenceObject},
  {"IoDeleteDevice", l_IoDeleteDevice},
  {NULL, NULL}
};

/* Registers the device-stack calls in the module at -1. */
void ldl_open_devstack(lua_State *L) { luaL_setfuncs(L, functions, 0); }
