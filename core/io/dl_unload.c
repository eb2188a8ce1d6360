/*
** dl_unload.c: unloading a driver and the verifier's unload checks (see
** dl_unload.h).
*/
#include "io/dl_unload.h"

#include "base/dl_status.h"
#include "kernel/dl_cpu.h"
#include "kernel/dl_workitem.h"
#include "machine/dl_machine.h"
#include "machine/dl_verifier.h"

/* Reports a pending operation left at unload (0xCE). */
static size_t pending_left(dl_object *o, const char *what, const char *cancel) {
  dl_verify_fail(o->m, DL_BUGCHECK_UNLOADED_WITH_PENDING, (uint32_t)o->id, 0, 0, 0,  /* P1: what is referenced */
                 "DriverUnload: %s#%llu is still %s when the driver unloads "
                 "(DRIVER_UNLOADED_WITHOUT_CANCELLING_PENDING_OPERATIONS: %s first)", o->type->name,
                 (unsigned long long)o->id, what, cancel);
  dl_verifier_mark_leak(o->m);
  return 1;
}

/* One object's unload check: 0xCE for pending kernel operations, else the
** type's own leak check. */
static size_t check_one(dl_object *o) {
  if (o->type == &dl_timer_type)
    return ((dl_timer *)o)->set ? pending_left(o, "set", "KeCancelTimer") : 0;
  if (o->type == &dl_dpc_type)
    return ((dl_dpc *)o)->queued ? pending_left(o, "queued", "KeRemoveQueueDpc or let it run") : 0;
  if (o->type == &dl_workitem_type)
    return dl_workitem_queued((dl_workitem *)o) ? pending_left(o, "queued", "let it run") : 0;
  return o->type->check_leaks ? o->type->check_leaks(o) : 0;
}

/* The unload checks over every object. */
size_t dl_io_unload_checks(dl_machine *m) {
  size_t n = 0;
  for (dl_object *o = dl_object_next(m, NULL, NULL); o; o = dl_object_next(m, o, NULL))
    n += check_one(o);
  return n;
}

/* 1 if another driver of the machine is still loaded. */
static int others_loaded(dl_driver *drv) {
  dl_machine *m = DL_OBJECT(drv)->m;
  for (dl_object *o = dl_object_next(m, NULL, &dl_driver_type); o;
       o = dl_object_next(m, o, &dl_driver_type))
    if (o != DL_OBJECT(drv) && !dl_driver_unloaded((dl_driver *)o)) return 1;
  return 0;
}

/* What stops the unload before DriverUnload runs. */
static dl_unload_refusal before_unload(dl_driver *drv) {
  if (dl_driver_unloaded(drv)) return DL_UNLOAD_ALREADY;
  if (!dl_driver_has_unload(drv)) return DL_UNLOAD_NO_ROUTINE;
  for (dl_device *d = dl_driver_next_device(drv, NULL); d; d = dl_driver_next_device(drv, d))
    if (d->open_files) return DL_UNLOAD_FILE_OPEN;
  return DL_UNLOAD_OK;
}

/* Unloads drv. */
int dl_io_unload_driver(dl_driver *drv, dl_unload_refusal *why, dl_device **device, size_t *leaks) {
  *device = NULL;
  *leaks = 0;
  *why = before_unload(drv);
  if (*why != DL_UNLOAD_OK) return DL_ESTATE;
  dl_driver_set_unloaded(drv);  /* first: DriverUnload may not create devices */
  dl_driver_unload(drv);
  *device = dl_driver_next_device(drv, NULL);
  if (*device) {
    *why = DL_UNLOAD_DEVICES_LEFT;
    return DL_EBUSY;
  }
  if (!others_loaded(drv)) *leaks = dl_io_unload_checks(DL_OBJECT(drv)->m);
  return DL_OK;
}
