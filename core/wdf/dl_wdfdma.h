/*
** dl_wdfdma.h: KMDF DMA (reference section 2): DMA enablers over WDM
** adapters, common buffers, and DMA transactions with the framework's state
** machine, per-profile splitting, completion rules, reservations
** (EvtReserveDma), immediate execution and cancel.
**
** The engine calls the driver through the enabler's ops (the binding's
** functions, which call the Lua driver). A call in the wrong state is a
** verifier report 0x10D with P1 0x8 (WDF_DMA_FATAL_ERROR), P2 the object's
** id and P3 its state; the call then does what is sensible (nothing).
*/
#ifndef DL_WDFDMA_H
#define DL_WDFDMA_H

#include <stdint.h>

#include "hal/dl_adapter.h"
#include "wdf/dl_wdf.h"

typedef struct dl_wdfdma_enabler dl_wdfdma_enabler;
typedef struct dl_wdfdma_txn dl_wdfdma_txn;
typedef struct dl_wdfdma_common dl_wdfdma_common;

/* WDF_DMA_PROFILE, with the WDK's values. */
enum {
  DL_WDFDMA_PROFILE_INVALID = 0,
  DL_WDFDMA_PACKET = 1,
  DL_WDFDMA_SCATTER_GATHER = 2,
  DL_WDFDMA_PACKET64 = 3,
  DL_WDFDMA_SCATTER_GATHER64 = 4,
  DL_WDFDMA_SCATTER_GATHER_DUPLEX = 5,
  DL_WDFDMA_SCATTER_GATHER64_DUPLEX = 6,
  DL_WDFDMA_SYSTEM = 7,
  DL_WDFDMA_SYSTEM_DUPLEX = 8
};

/* WDF_DMA_DIRECTION. */
enum { DL_WDFDMA_READ_FROM_DEVICE = 0, DL_WDFDMA_WRITE_TO_DEVICE = 1 };

/* WDF_DMA_ENABLER_CONFIG_FLAGS. */
enum { DL_WDFDMA_NO_SGLIST_PREALLOCATION = 1, DL_WDFDMA_REQUIRE_SINGLE_TRANSFER = 2 };

/* The enabler's power callbacks, in the order of dl_wdfdma_callback_name. */
enum {
  DL_WDFDMA_EVT_FILL, DL_WDFDMA_EVT_FLUSH, DL_WDFDMA_EVT_ENABLE, DL_WDFDMA_EVT_DISABLE,
  DL_WDFDMA_EVT_SELF_MANAGED_IO_START, DL_WDFDMA_EVT_SELF_MANAGED_IO_STOP, DL_WDFDMA_EVT_COUNT
};

/* FxDmaTransactionState, with the framework's values (P3 of the reports). */
enum {
  DL_TXN_CREATED = 1, DL_TXN_RESERVED, DL_TXN_INITIALIZED, DL_TXN_TRANSFER,
  DL_TXN_TRANSFER_COMPLETED, DL_TXN_TRANSFER_FAILED, DL_TXN_RELEASED, DL_TXN_DELETED
};

/* How DmaCompleted* ended the transfer (FxDmaCompletionType). */
enum { DL_WDFDMA_COMPLETE = 0, DL_WDFDMA_COMPLETE_PARTIAL = 1, DL_WDFDMA_COMPLETE_FINAL = 2 };

/* WDF_DMA_ENABLER_CONFIG; `callbacks` has bit (1 << DL_WDFDMA_EVT_*) for
** each power callback the driver gave. */
typedef struct dl_wdfdma_config {
  int profile;
  uint64_t maximum_length;
  uint32_t version_override;       /* WdmDmaVersionOverride: 0, 2 or 3 */
  uint32_t flags;
  uint32_t address_width_override; /* 0: none */
  uint32_t callbacks;
} dl_wdfdma_config;

/* How the engine calls the driver; `data` is the object's binding slot. */
typedef struct dl_wdfdma_ops {
  /* EvtProgramDma at DISPATCH_LEVEL: a scatter/gather profile passes the
  ** list (sg), the packet profile its one element (el; a system profile on a
  ** scatter/gather controller dl_wdfdma_txn_program_count elements); the
  ** result is ignored. */
  int (*program)(void *data, dl_wdfdma_txn *t, dl_sglist *sg, const dl_sg_element *el);
  /* EvtReserveDma at DISPATCH_LEVEL. */
  void (*reserve)(void *data, dl_wdfdma_txn *t);
  /* One enabler power callback (DL_WDFDMA_EVT_*) at PASSIVE_LEVEL: NTSTATUS. */
  uint32_t (*power)(void *data, dl_wdfdma_enabler *e, int callback);
  /* System profiles (dl_wdfsys.c), at DISPATCH_LEVEL: EvtDmaTransactionConfigureDmaChannel
  ** (0: FALSE, the driver ended the transaction) and EvtDmaTransactionDmaTransferComplete
  ** (status a DMA_COMPLETION_STATUS). */
  int (*configure_channel)(void *data, dl_wdfdma_txn *t, dl_mdl *mdl, uint64_t offset, uint64_t length);
  void (*transfer_complete)(void *data, dl_wdfdma_txn *t, int direction, int status);
} dl_wdfdma_ops;

/* DMA_COMPLETION_STATUS. */
enum { DL_DMA_COMPLETE = 0, DL_DMA_ABORTED = 1, DL_DMA_ERROR = 2, DL_DMA_CANCELLED = 3 };

/* WDF_DMA_SYSTEM_PROFILE_CONFIG, its DmaDescriptor reduced to what the HAL
** reads: a v1 descriptor (Dma.Channel, Dma.Port: the ISA 8237) or a v3 one
** (DmaV3.RequestLine on SoC controller instance `controller`). */
typedef struct dl_wdfdma_system_config {
  int demand_mode, looped;
  uint32_t dma_width;
  uint64_t device_address;
  int v3;
  uint32_t channel, port, request_line, controller;
} dl_wdfdma_system_config;

/* WdfDmaEnablerConfigureSystemProfile (PASSIVE_LEVEL): the system DMA
** adapter of `direction` (both for WdfDmaProfileSystem) from the DMA
** resource; INVALID_DEVICE_REQUEST on a bus-master enabler,
** INSUFFICIENT_RESOURCES if IoGetDmaAdapter refuses it. */
uint32_t dl_wdfdma_enabler_configure_system(dl_wdfdma_enabler *e, const dl_wdfdma_system_config *c,
                                            int direction);

/* 1 for WdfDmaProfileSystem and WdfDmaProfileSystemDuplex. */
int dl_wdfdma_enabler_is_system(const dl_wdfdma_enabler *e);

/* WdfDmaTransactionSetChannelConfigurationCallback and ...SetTransferCompleteCallback
** (system profiles; the binding keeps the functions): set or cleared. */
void dl_wdfdma_txn_set_configure_channel(dl_wdfdma_txn *t, int set);
void dl_wdfdma_txn_set_transfer_complete(dl_wdfdma_txn *t, int set);

/* WdfDmaTransactionSetDeviceAddressOffset: added to the profile's DeviceAddress. */
void dl_wdfdma_txn_set_device_address_offset(dl_wdfdma_txn *t, uint64_t offset);

/* ---- enablers ----------------------------------------------------------------- */

/* WdfDmaEnablerCreate (PASSIVE_LEVEL): builds the DEVICE_DESCRIPTION of
** reference 2.1, one adapter (two for Duplex profiles), registers the power
** hook. Returns an NTSTATUS: INVALID_PARAMETER for a bad config (System
** profiles included: not modelled), INSUFFICIENT_RESOURCES if no adapter. */
uint32_t dl_wdfdma_enabler_create(dl_wdf_device *d, const dl_wdfdma_config *c,
                                  const dl_wdfdma_ops *ops, dl_wdfdma_enabler **out);

/* Enablers, common buffers and transactions are framework objects
** (dl_wdfobject.h): children of their device / enabler unless ParentObject
** says otherwise, deleted with dl_wdf_object_delete. Deleting an enabler
** takes its transactions and common buffers along, removes the power hook
** and puts its adapters (PutDmaAdapter). */

/* The power hook (dl_wdf_power_fn): up runs Fill, Enable, SelfManagedIoStart
** (the first failure stops and is returned); down runs SelfManagedIoStop,
** Disable (not if Fill failed), Flush (not if Fill or Enable failed), errors
** not stopping it (the first is returned). */
uint32_t dl_wdfdma_enabler_power(void *enabler, int up);

/* Accessors; direction selects the adapter of a Duplex profile. */
dl_wdf_device *dl_wdfdma_enabler_device(const dl_wdfdma_enabler *e);
dl_machine *dl_wdfdma_enabler_machine(const dl_wdfdma_enabler *e);
uint64_t dl_wdfdma_enabler_id(const dl_wdfdma_enabler *e);
int dl_wdfdma_enabler_profile(const dl_wdfdma_enabler *e);
uint32_t dl_wdfdma_enabler_version(const dl_wdfdma_enabler *e);
uint64_t dl_wdfdma_enabler_maximum_length(const dl_wdfdma_enabler *e);
uint64_t dl_wdfdma_enabler_fragment_length(const dl_wdfdma_enabler *e, int direction);
/* ...GetFragmentLength is 0 for a direction other than 0 (ReadFromDevice)
** or 1 (WriteToDevice), as its page says. */
dl_adapter *dl_wdfdma_enabler_adapter(const dl_wdfdma_enabler *e, int direction);
uint32_t dl_wdfdma_enabler_max_sg_elements(const dl_wdfdma_enabler *e);
int dl_wdfdma_enabler_is_packet(const dl_wdfdma_enabler *e);

/* WdfDmaEnablerSetMaximumScatterGatherElements (PASSIVE_LEVEL); 0 is ignored. */
void dl_wdfdma_enabler_set_max_sg_elements(dl_wdfdma_enabler *e, uint32_t n);

/* Name of a power callback ("EvtDmaEnablerFill"...). */
const char *dl_wdfdma_callback_name(int callback);

/* ---- common buffers ------------------------------------------------------------ */

/* WdfCommonBufferCreate[WithConfig] (PASSIVE_LEVEL): `alignment` is the
** alignment requirement (a mask, FILE_xxx_ALIGNMENT); above PAGE_SIZE-1 the
** buffer is over-allocated and both addresses shifted (reference 1.6). */
uint32_t dl_wdfdma_common_create(dl_wdfdma_enabler *e, uint64_t length, uint32_t alignment,
                                 dl_wdfdma_common **out);

uint64_t dl_wdfdma_common_va(const dl_wdfdma_common *cb);
uint64_t dl_wdfdma_common_logical(const dl_wdfdma_common *cb);
uint64_t dl_wdfdma_common_length(const dl_wdfdma_common *cb);

/* ---- transactions ------------------------------------------------------------- */

/* WdfDmaTransactionCreate: a transaction in state Created. */
uint32_t dl_wdfdma_txn_create(dl_wdfdma_enabler *e, dl_wdfdma_txn **out);

/* The framework's side of its deletion (the class's dispose: delete with
** dl_wdf_object_delete): everything is released by force (a delete in
** Transfer is a report); a transaction waiting for its adapter is freed
** when the wait ends. NULL is a harmless no-op. */
void dl_wdfdma_txn_delete(dl_wdfdma_txn *t);

/* WdfDmaTransactionInitialize: [va, va+length) of the MDL chain. */
uint32_t dl_wdfdma_txn_initialize(dl_wdfdma_txn *t, int direction, dl_mdl *mdl, uint64_t va,
                                  uint64_t length);

/* WdfDmaTransactionInitializeUsingRequest: the request's MDL; the
** direction must match its major function (or the IOCTL's method). */
uint32_t dl_wdfdma_txn_initialize_request(dl_wdfdma_txn *t, dl_wdf_request *r, int direction);

/* WdfDmaTransactionExecute. */
uint32_t dl_wdfdma_txn_execute(dl_wdfdma_txn *t);

/* WdfDmaTransactionDmaCompleted / ...WithLength / ...Final (kind
** DL_WDFDMA_COMPLETE*): returns 1 (TRUE: the transaction ended) or 0, and
** the status in *status. */
int dl_wdfdma_txn_completed(dl_wdfdma_txn *t, uint64_t length, int kind, uint32_t *status);

/* WdfDmaTransactionRelease. */
uint32_t dl_wdfdma_txn_release(dl_wdfdma_txn *t);

/* WdfDmaTransactionSetMaximumLength (Initialized only): a length below the
** enabler's fragment length replaces the transaction's limit (a later call
** may raise it again up to that length); a larger length, or 0, is ignored. */
void dl_wdfdma_txn_set_maximum_length(dl_wdfdma_txn *t, uint64_t length);

/* WdfDmaTransactionSetSingleTransferRequirement (v3, before Initialize). */
void dl_wdfdma_txn_set_single_transfer(dl_wdfdma_txn *t, int require);

/* WdfDmaTransactionSetImmediateExecution (v3). */
void dl_wdfdma_txn_set_immediate(dl_wdfdma_txn *t, int on);

/* WdfDmaTransactionAllocateResources: reserves `required` map registers
** (0: what the initialized transaction needs); ops->reserve runs once they
** are granted. */
uint32_t dl_wdfdma_txn_allocate_resources(dl_wdfdma_txn *t, int direction, uint32_t required);

/* WdfDmaTransactionFreeResources. */
void dl_wdfdma_txn_free_resources(dl_wdfdma_txn *t);

/* WdfDmaTransactionGetTransferInfo (Initialized only). */
void dl_wdfdma_txn_transfer_info(dl_wdfdma_txn *t, uint32_t *map_registers, uint32_t *elements);

/* WdfDmaTransactionCancel (v3): 1 if the transfer was stopped before its
** EvtProgramDma (the transaction failed), else 0. */
int dl_wdfdma_txn_cancel(dl_wdfdma_txn *t);

/* Accessors. */
dl_wdfdma_enabler *dl_wdfdma_txn_enabler(const dl_wdfdma_txn *t);
uint64_t dl_wdfdma_txn_id(const dl_wdfdma_txn *t);
int dl_wdfdma_txn_state(const dl_wdfdma_txn *t);
int dl_wdfdma_txn_direction(const dl_wdfdma_txn *t);
uint64_t dl_wdfdma_txn_bytes_transferred(const dl_wdfdma_txn *t);
uint64_t dl_wdfdma_txn_current_length(const dl_wdfdma_txn *t);
/* Elements of the list EvtProgramDma's `el` points to (packet and system
** profiles: 1, or the runs a scatter/gather system channel takes at once). */
uint32_t dl_wdfdma_txn_program_count(const dl_wdfdma_txn *t);
dl_wdf_request *dl_wdfdma_txn_request(const dl_wdfdma_txn *t);
int dl_wdfdma_txn_reserved(const dl_wdfdma_txn *t);

/* Name of a transaction state ("Created"...). */
const char *dl_wdfdma_state_name(int state);

#endif
