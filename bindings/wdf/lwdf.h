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

/* Registers a WDF class (a metatable whose handles WdfObjectDelete takes). */
void lwdf_newclass(lua_State *L, const char *name, const luaL_Reg *meta, const luaL_Reg *methods);

/* The framework deletes the live object of the handle at arg (an engine call). */
void lwdf_delete(lua_State *L, int arg);

/* Reads an NTSTATUS a driver callback returned at idx; raises naming fname otherwise. */
uint32_t lwdf_checkstatus(lua_State *L, int idx, const char *fname);

/* The engine's calls into the driver (wdfqueue.c, wdfinterrupt.c). */
void lwdf_present(void *ctx, dl_wdf_queue *q, dl_wdf_request *r);
int lwdf_isr(void *ctx, dl_wdf_interrupt *wi);
void lwdf_dpc(void *ctx, dl_wdf_interrupt *wi);
uint32_t lwdf_interrupt_enable(void *ctx, dl_wdf_interrupt *wi, int on);

/* The framework's IRP dispatch routine (wdfqueue.c), installed in the
** MajorFunction table of every WDF driver's DRIVER_OBJECT. */
int lwdf_dispatch(lua_State *L);

/* Registers the classes of the other files (called by ldl_open_wdf). */
void lwdf_open_device(lua_State *L);
void lwdf_open_queue(lua_State *L);
void lwdf_open_interrupt(lua_State *L);
void lwdf_open_sync(lua_State *L);    /* wdfsync.c: locks, WDFDPC, WDFTIMER, WDFWORKITEM */
void lwdf_open_memory(lua_State *L);  /* wdfmemory.c: WDFMEMORY, WDFLOOKASIDE */

/* The index of descriptor table `arg` in the device's resource list
** (wdfdevice.c): -1 for nil, -2 for a value not in the list. */
long lwdf_descriptor_index(lua_State *L, int dev, int arg);

#endif
