/*
** lwdfdma.h: what the KMDF DMA binding files (wdfdma.c: enablers, common
** buffers; wdftxn.c: transactions) share. Their objects follow the
** framework's object model (lwdf.h): a state table per object pins its
** handle and keeps its callbacks; WdfObjectDelete reaches the deleters
** registered here.
*/
#ifndef LWDFDMA_H
#define LWDFDMA_H

#include "wdf/dl_wdfdma.h"
#include "lwdf.h"

#define LDL_WDFDMAENABLER "WDFDMAENABLER"
#define LDL_WDFDMATRANSACTION "WDFDMATRANSACTION"
#define LDL_WDFCOMMONBUFFER "WDFCOMMONBUFFER"

/* The engine's calls into the driver. */
extern const dl_wdfdma_ops lwdfdma_ops;
int lwdfdma_program(void *data, dl_wdfdma_txn *t, dl_sglist *sg, const dl_sg_element *el);
void lwdfdma_reserve(void *data, dl_wdfdma_txn *t);
/* System profiles (wdfsys.c). */
int lwdfsys_configure_channel(void *data, dl_wdfdma_txn *t, dl_mdl *mdl, uint64_t offset, uint64_t length);
void lwdfsys_transfer_complete(void *data, dl_wdfdma_txn *t, int direction, int status);
void lwdfsys_open(lua_State *L);

/* The machine handle of the object at arg. */
lmachine *lwdfdma_enter(lua_State *L, int arg);

/* Fault injection (m:wdf_fail_allocations): 1 if this creation must fail. */
int lwdfdma_fail_creation(lua_State *L, lmachine *lm);

/* Starts a KMDF DMA object creation for the handle at arg: returns its
** machine inside an engine-call bracket c, or NULL when the lab's low-memory
** injection fails it (STATUS_INSUFFICIENT_RESOURCES is pushed then). */
lmachine *lwdfdma_begin_create(lua_State *L, int arg, ldl_call *c);

/* Raises unless arg is a WdfDmaDirection (0 or 1, or a boolean). */
int lwdfdma_checkdirection(lua_State *L, int arg);

/* Registers the transaction calls (wdftxn.c) in the module at -1. */
void lwdfdma_open_txn(lua_State *L);

#endif
