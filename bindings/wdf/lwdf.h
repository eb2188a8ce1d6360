/*
** lwdf.h: what the KMDF binding files (wdf.c, wdfqueue.c, wdfinterrupt.c)
** share.
**
** Every framework object has a state table in its machine's WDF table,
** keyed by the core object: the handle (pinned while the object lives),
** its contexts, its EvtCleanupCallback and what its class keeps (the
** device's callbacks, a queue's configuration, a request's IRP handle...).
*/
#ifndef LWDF_H
#define LWDF_H

#include "wdf/dl_wdf.h"
#include "../ldl.h"

#define LDL_WDFDRIVER "WDFDRIVER"
#define LDL_WDFDEVICE "WDFDEVICE"
#define LDL_WDFQUEUE "WDFQUEUE"
#define LDL_WDFREQUEST "WDFREQUEST"
#define LDL_WDFINTERRUPT "WDFINTERRUPT"
#define LDL_IRP "IRP"  /* irp.c's class */

/* A request handle: a handle that remembers its request was completed
** (the core request is freed then), so a second completion is reported. */
typedef struct lrequest {
  lobject h;
  int done;
  uint64_t id;
} lrequest;

/* Pushes the state table of core object obj of machine lm (nil if none;
** with create, a new one). */
void lwdf_pushstate(lua_State *L, lmachine *lm, void *obj, int create);

/* Drops the state table of obj (the object is gone). */
void lwdf_dropstate(lua_State *L, lmachine *lm, void *obj);

/* Registers a new object handle at -1 for obj: a state table pinning it,
** then applies the attributes at `attributes` (0 or nil: none); the object
** becomes a child of attributes.ParentObject if set, else of parent (a
** core object with a state table; NULL: none). */
void lwdf_register(lua_State *L, lmachine *lm, void *obj, int attributes, void *parent);

/* Deletes the live object of the handle at idx: its children (the last
** created first, each with its descendants), its EvtCleanupCallback, then
** del (NULL: its class's deleter). */
void lwdf_delete(lua_State *L, int idx, lua_CFunction del);

/* Drops a deleted framework device from its machine's list. */
void lwdf_dropdevice(lua_State *L, lmachine *lm, dl_wdf_device *d);

/* Pushes the handle of obj from its state table (nil if none). */
void lwdf_pushhandle(lua_State *L, lmachine *lm, void *obj);

/* Reads an NTSTATUS a driver callback returned at idx; raises naming fname otherwise. */
uint32_t lwdf_checkstatus(lua_State *L, int idx, const char *fname);

/* The deleter of classes the driver may not delete. */
int lwdf_reject_delete(lua_State *L);

/* The engine's calls into the driver (wdfqueue.c, wdfinterrupt.c). */
void lwdf_present(void *ctx, dl_wdf_queue *q, dl_wdf_request *r);
int lwdf_isr(void *ctx, dl_wdf_interrupt *wi);
void lwdf_dpc(void *ctx, dl_wdf_interrupt *wi);
uint32_t lwdf_interrupt_enable(void *ctx, dl_wdf_interrupt *wi, int on);

/* The framework's IRP dispatch routine (wdfqueue.c), installed in the
** MajorFunction table of every WDF driver's DRIVER_OBJECT. */
int lwdf_dispatch(lua_State *L);

/* Adds a framework device to its machine's list (freed with the machine). */
void lwdf_adddevice(lua_State *L, lmachine *lm, dl_wdf_device *d);

/* Registers the classes of the other files (called by ldl_open_wdf). */
void lwdf_open_device(lua_State *L);
void lwdf_open_queue(lua_State *L);
void lwdf_open_interrupt(lua_State *L);

#endif
