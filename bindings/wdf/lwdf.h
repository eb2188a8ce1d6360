/*
** lwdf.h: what the KMDF binding files (wdf.c, wdfqueue.c, wdfinterrupt.c)
** share.
**
** Every framework object is a core object (wdf/dl_wdfobject.h) with one
** pinned handle (ldl_pushobject); its Lua state table (ldl_pushstate) keeps
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

/* Pushes the one handle of a core object with the common header (its
** class is the core type's name; nil for NULL). */
void lwdf_pushhandle(lua_State *L, void *obj);

/* Pushes the Lua state table of a live core object (callbacks, config...). */
void lwdf_pushstate(lua_State *L, void *obj);

/* Pushes the handle of a new framework object obj and applies the
** WDF_OBJECT_ATTRIBUTES at `attributes` (0 or nil: none): ParentObject,
** ContextTypeInfo, EvtCleanupCallback. */
void lwdf_newobject(lua_State *L, lmachine *lm, void *obj, int attributes);

/* Keeps the values at indexes v1 and v2 (0: none) under k1 and k2 in the
** Lua state of the new handle at -1 (its config, its device...). */
void lwdf_keep(lua_State *L, const char *k1, int v1, const char *k2, int v2);

/* Puts STATUS_SUCCESS under the new handle at -1: returns 2 (status, handle). */
int lwdf_created(lua_State *L);

/* __tostring of a WDF class with nothing more to show: "<class>#id", or
** "<class> (deleted)" (wdf.c). */
int lwdf_tostring(lua_State *L);

/* Registers a WDF class (a metatable whose handles WdfObjectDelete takes). */
void lwdf_newclass(lua_State *L, const char *name, const luaL_Reg *meta, const luaL_Reg *methods);

/* The framework deletes the live object of the handle at arg (an engine call). */
void lwdf_delete(lua_State *L, int arg);

/* Checks arg is a live framework object handle of this machine; raises if not. */
lobject *lwdf_checkobject(lua_State *L, int arg);

/* Reads an NTSTATUS a driver callback returned at idx; raises naming fname otherwise. */
uint32_t lwdf_checkstatus(lua_State *L, int idx, const char *fname);

/* The engine's calls into the driver (wdfqueue.c, wdfinterrupt.c). */
void lwdf_present(void *ctx, dl_wdf_queue *q, dl_wdf_request *r);
int lwdf_isr(void *ctx, dl_wdf_interrupt *wi);
void lwdf_dpc(void *ctx, dl_wdf_interrupt *wi);
uint32_t lwdf_interrupt_enable(void *ctx, dl_wdf_interrupt *wi, int on);
/* ...and wdfio.c's: the framework's own completions, EvtRequestCancel,
** EvtIoCanceledOnQueue, the queue state callbacks. */
void lwdf_complete_irp(void *ctx, dl_irp *irp);
void lwdf_request_cancel(void *ctx, dl_wdf_request *r);
int lwdf_canceled_on_queue(void *ctx, dl_wdf_queue *q, dl_wdf_request *r);
void lwdf_queue_state(void *ctx, dl_wdf_queue *q, int which);

/* wdfqueue.c's, for wdfio.c: pushes the handle of a request the framework
** hands the driver (giving it its state on first use); a request's handle
** at h is completed with status and information. */
void lwdf_push_request(lua_State *L, dl_wdf_request *r);
void lwdf_finish(lua_State *L, lmachine *lm, int h, dl_wdf_request *r, uint32_t status,
                 uint64_t info);
/* Checks a request the driver still owns (not completed). */
dl_wdf_request *lwdf_checkrequest(lua_State *L, int arg);

/* Fills the table at -1 as WdfRequestGetParameters' of irp (new inner tables). */
void lwdf_fill_parameters(lua_State *L, dl_irp *irp);

/* The framework's IRP dispatch routine (wdfqueue.c), installed in the
** MajorFunction table of every WDF driver's DRIVER_OBJECT. */
int lwdf_dispatch(lua_State *L);

/* Registers the classes of the other files (called by ldl_open_wdf). */
void lwdf_open_device(lua_State *L);
void lwdf_open_queue(lua_State *L);
void lwdf_open_interrupt(lua_State *L);
void lwdf_open_sync(lua_State *L);    /* wdfsync.c: locks, WDFDPC, WDFTIMER, WDFWORKITEM */
void lwdf_open_memory(lua_State *L);  /* wdfmemory.c: WDFMEMORY, WDFLOOKASIDE */

/* Appends CmResourceTypeDma descriptors of hw.resources.dma (the resources
** table at res) to the descriptor list at `list` (wdfsys.c). */
void lwdfsys_add_dma_resources(lua_State *L, int res, int list);
void lwdf_open_io(lua_State *L);
void lwdf_open_file(lua_State *L);

/* wdffile.c's: the DeviceInit table at init applied to the new device d
** (its handle at dev): I/O type, exclusivity, file callbacks. */
void lwdf_apply_init(lua_State *L, int init, int dev, dl_wdf_device *d);
/* The framework's create/cleanup/close for lwdf_dispatch (FDO at 1, Irp at 2). */
int lwdf_file_dispatch(lua_State *L, lmachine *lm, dl_wdf_device *d, dl_irp *irp);
/* The file callbacks for the engine. */
int lwdf_file_event(void *ctx, dl_wdf_device *d, int which, dl_wdf_request *r, void *file);
/* The index of descriptor table `arg` in the device's resource list
** (wdfdevice.c): -1 for nil, -2 for a value not in the list. */
long lwdf_descriptor_index(lua_State *L, int dev, int arg);

#endif
