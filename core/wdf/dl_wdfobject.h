/*
** dl_wdfobject.h: the framework object layer every KMDF object sits on
** (driver, device, queue, request, interrupt, DMA enabler, common buffer,
** transaction): the machine's object header plus a WDF part — a parent
** and children, WdfObjectDelete's order, EvtCleanupCallback /
** EvtDestroyCallback, and contexts as slots.
**
** Deleting an object deletes its descendants with it, in two passes (the
** order of "Framework Object Life Cycle"): first every EvtCleanupCallback,
** children before their parent and the last created child first, the
** objects still usable; then, in the same order, each object is disposed
** of (its class releases what it holds), its EvtDestroyCallback runs and it
** is gone. A delete reached again while the object is being deleted (a
** cleanup deleting its parent) does nothing.
**
** Misuse is a verifier report 0x10D decided here: WdfObjectDelete of an
** object the framework deletes itself (WDF_OBJECT_ERROR), above
** DISPATCH_LEVEL (0xE6/0x13 as every IRQL rule of the lab).
*/
#ifndef DL_WDFOBJECT_H
#define DL_WDFOBJECT_H

#include <stdint.h>

#include "base/dl_list.h"
#include "machine/dl_object.h"

typedef struct dl_wdf_object dl_wdf_object;

/* WDF_VIOLATION parameter 1 values the framework layer uses. */
#define DL_WDF_LOCK_HELD 0x2u          /* WDF_RECURSIVE_LOCK */
#define DL_WDF_OBJECT_ERROR 0x7u       /* WDF_OBJECT_ERROR */

/* EvtCleanupCallback / EvtDestroyCallback: ctx is what the binding gave. */
typedef void (*dl_wdf_object_fn)(void *ctx, dl_wdf_object *o);

/* May the driver delete an object of the class (WdfObjectDelete)? */
typedef enum dl_wdf_deletable {
  DL_WDF_DELETABLE,        /* yes */
  DL_WDF_NOT_DELETABLE,    /* no: report 0x10D/0x7, nothing happens */
  DL_WDF_FRAMEWORK_OWNED   /* no, refused with DL_ESTATE: the framework owns it (a request
                           ** it presented; the lab's scripts expect an error, not a report) */
} dl_wdf_deletable;

/* The family tag of every framework class (dl_object_type.family). */
extern const char dl_wdf_family;

/* A framework object class: `base` first, so o->type is the class. base.name
** is the WDF handle type ("WDFDEVICE"...); base.destroy frees memory only
** (machine teardown: newer objects are gone already). */
typedef struct dl_wdf_class {
  dl_object_type base;
  dl_wdf_deletable deletable;
  /* DL_OK, or a status refusing the delete before anything runs (a queue
  ** still holding requests); NULL: always DL_OK. */
  int (*may_delete)(dl_wdf_object *o);
  /* The framework's side of the deletion: releases what the object holds
  ** and frees it (now or, for a transaction an adapter still calls back,
  ** later). The object is off the machine's list already. */
  void (*dispose)(dl_wdf_object *o);
} dl_wdf_class;

/* One context: its type name and the slot the binding (or a C driver) fills. */
typedef struct dl_wdf_context {
  char type[48];
  void *slot;
} dl_wdf_context;

/* The WDF fields, after the common ones. */
#define DL_WDF_OBJECT_FIELDS                                                   \
  DL_OBJECT_FIELDS                                                             \
  dl_link wdf_children;          /* its children, oldest first */             \
  dl_link wdf_sibling;           /* on its parent's wdf_children */           \
  unsigned wdf_flags;            /* DELETING, CLEANED, BUSY (dl_wdfobject.c) */ \
  unsigned wdf_held;             /* framework callbacks on it running */       \
  dl_wdf_object_fn evt_cleanup, evt_destroy;                                   \
  void *evt_ctx;                                                               \
  dl_wdf_context *contexts;                                                    \
  uint32_t ncontexts;                                                          \
  uint32_t wdf_refs;             /* WdfObjectReference's, not yet released */

struct dl_wdf_object {
  DL_WDF_OBJECT_FIELDS
};

/* The WDF object header of any framework object struct. */
#define DL_WDF(p) ((dl_wdf_object *)(void *)(p))

/* Puts o on the machine (a fresh id) as a child of parent (NULL: none). */
void dl_wdf_object_init(dl_wdf_object *o, dl_machine *m, const dl_wdf_class *c,
                        dl_wdf_object *parent);

/* WDF_OBJECT_ATTRIBUTES.ParentObject: makes o a child of parent instead.
** DL_EINVAL if parent is o, one of its descendants, or of another machine;
** DL_ESTATE if parent is being deleted. Creating a child of an object
** being deleted fails as in KMDF (STATUS_DELETE_PENDING, or DL_ESTATE for
** the calls returning a dl_status): every create checks
** dl_wdf_object_deleting(parent) before it makes anything. */
int dl_wdf_object_set_parent(dl_wdf_object *o, dl_wdf_object *parent);

/* The WDF parent, or NULL. */
dl_wdf_object *dl_wdf_object_parent(const dl_wdf_object *o);

/* The handle type of o ("WDFQUEUE"...). */
const char *dl_wdf_object_type_name(const dl_wdf_object *o);

/* WDF_OBJECT_ATTRIBUTES' EvtCleanupCallback / EvtDestroyCallback (either
** may be NULL), called with ctx. */
void dl_wdf_object_set_callbacks(dl_wdf_object *o, dl_wdf_object_fn cleanup,
                                 dl_wdf_object_fn destroy, void *ctx);

/* WdfObjectDelete by the driver: the rules above, then the deletion.
** DL_ESTATE if the object may not be deleted by its driver (reported for
** DL_WDF_NOT_DELETABLE), DL_EBUSY if it is in use (dl_wdf_object_in_use),
** or may_delete's status; DL_OK otherwise (also when it is being deleted
** already). */
int dl_wdf_object_delete(dl_wdf_object *o);

/* The framework deletes o and its descendants (device removal, request
** completion, an enabler taking its transactions along): no checks.
** Returns 0 if o is on the path of a deletion under way, which will
** finish it, else 1 (o is gone). */
int dl_wdf_object_delete_framework(dl_wdf_object *o);

/* WdfObjectReference: one more reference the driver must release. The lab
** keeps the count only: a deleted object is gone whatever its references
** (KMDF keeps its memory until the last is released). */
void dl_wdf_object_reference(dl_wdf_object *o);

/* WdfObjectDereference: releasing a reference never taken is 0x10D/0x7
** (DL_ESTATE, nothing released). */
int dl_wdf_object_dereference(dl_wdf_object *o);

/* FxObject::AddChildObjectInternal's rule: STATUS_DELETE_PENDING if parent
** is being deleted (a child made now would outlive it), else
** STATUS_SUCCESS. Every creation of a child asks first. */
uint32_t dl_wdf_object_add_child_status(const dl_wdf_object *parent);

/* 1 while o is being deleted (cleanups running). */
int dl_wdf_object_deleting(const dl_wdf_object *o);

/* 1 once the deletion walk reached o: its EvtCleanupCallback runs or ran
** (KMDF has disposed of it by then). dl_wdf_object_deleting says 1 earlier,
** from the moment a deletion that takes o is decided (dl_wdf_mark_all at
** shutdown, before PnP powers the devices down). */
int dl_wdf_object_disposing(const dl_wdf_object *o);

/* Around a framework callback on o (a PnP/power event, an enabler's power
** callback, EvtInterruptEnable/Disable): while held, neither o nor an
** ancestor of it can be deleted (the framework still uses it when the
** callback returns). */
void dl_wdf_object_hold(dl_wdf_object *o);
void dl_wdf_object_unhold(dl_wdf_object *o);

/* 1 if o or one of its descendants is held: WdfObjectDelete of o is then
** refused (DL_EBUSY, nothing deleted), and so is a PnP change of a device. */
int dl_wdf_object_in_use(const dl_wdf_object *o);

/* WdfObjectAllocateContext / WdfObjectGetTypedContext: the slot of context
** `type` (created on first use with create; NULL if absent or out of memory). */
void **dl_wdf_object_context(dl_wdf_object *o, const char *type, int create);

/* Frees the WDF part's memory (contexts) and takes o off the machine's
** list: for a class's base.destroy. */
void dl_wdf_object_fini(dl_wdf_object *o);

/* A class's base.destroy for an object that owns nothing but its memory
** (machine teardown): dl_wdf_object_fini, then free. */
void dl_wdf_object_free(dl_object *o);

/* Deletes every framework object of the machine, root trees newest first,
** without calling the driver (a machine collected by Lua's GC). */
void dl_wdf_unload(dl_machine *m);

/* Marks every framework object of m as being deleted: nothing can be
** created under any of them any more (the start of dl_wdf_shutdown). */
void dl_wdf_mark_all(dl_machine *m);

/* Deletes every framework tree of m that exists now, root trees newest
** first, with their EvtCleanupCallback / EvtDestroyCallback; trees made
** meanwhile (a callback's WdfDriverCreate) go quietly after. */
void dl_wdf_delete_all(dl_machine *m);

/* Records WDF_VIOLATION 0x10D with parameters p1..p3 (printf-style message). */
void dl_wdf_report(dl_machine *m, uint32_t p1, uint64_t p2, uint64_t p3, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* The IRQL rule of a KMDF call (report 0xE6/0x13 naming `call`): 0 if broken. */
int dl_wdf_verify_irql(dl_machine *m, const char *call, int exact, uint8_t level);

#endif
