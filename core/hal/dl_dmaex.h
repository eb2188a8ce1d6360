/*
** dl_dmaex.h: the version-3 DMA operations (DMA_OPERATIONS members a
** DEVICE_DESCRIPTION_VERSION3 adapter has and earlier ones lack):
** InitializeDmaTransferContext, AllocateAdapterChannelEx (DMA_SYNCHRONOUS_
** CALLBACK, with or without an AdapterControl), FreeAdapterObject,
** CancelAdapterChannel, MapTransferEx, FlushAdapterBuffersEx,
** CancelMappedTransfer, GetDmaTransferInfo, GetDmaAdapterInfo,
** ConfigureAdapterChannel, Get/BuildScatterGatherListEx and
** AllocateCommonBufferEx. They keep the rules of their v1/v2 forms (the same
** core code runs: the channel queue, map registers, bounces, lists, common
** buffers) and add the DMA transfer context that tracks each allocation.
**
** What depends on the adapter's kind (bus master, or a system DMA channel)
** goes through a dl_dmaex_kind: a system adapter programs its controller
** after MapTransferEx and reports the end of the transfer with
** dl_dmaex_transfer_done, which runs the DmaCompletionRoutine. A bus-master
** adapter has no kind (NULL): its device reads the list itself, so it takes
** no completion routine and no DeviceOffset (the DDI pages: "For a
** bus-master adapter, set this parameter to NULL / to zero").
*/
#ifndef DL_DMAEX_H
#define DL_DMAEX_H

#include <stdint.h>

#include "hal/dl_adapter.h"

typedef struct dl_dmactx dl_dmactx;

/* AllocateAdapterChannelEx / Get/BuildScatterGatherListEx Flags. */
enum { DL_DMA_SYNCHRONOUS_CALLBACK = 0x1 };

/* DMA_COMPLETION_STATUS. */
enum { DL_DMA_COMPLETE = 0, DL_DMA_ABORTED = 1, DL_DMA_ERROR = 2, DL_DMA_CANCELLED = 3 };

/* Structure versions the lab answers (others: STATUS_NOT_SUPPORTED). */
enum { DL_DMA_TRANSFER_INFO_VERSION1 = 1, DL_DMA_ADAPTER_INFO_VERSION1 = 1 };

/* DMA_ADAPTER_INFO_V1 Flags. */
enum { DL_ADAPTER_INFO_SYNCHRONOUS_CALLBACK = 0x1, DL_ADAPTER_INFO_API_BYPASS = 0x2 };

/* MM_ANY_NODE_OK: AllocateCommonBufferEx's PreferredNode for "any node". */
#define DL_MM_ANY_NODE_OK 0x80000000u

/* DmaCompletionRoutine(DmaAdapter, DeviceObject, CompletionContext, Status),
** called at DISPATCH_LEVEL. */
typedef void (*dl_dma_completion_fn)(void *ctx, dl_adapter *a, dl_device *dev, int status);

/* DMA_TRANSFER_INFO_V1. */
typedef struct dl_dma_transfer_info {
  uint32_t map_register_count, sg_element_count, sg_list_size;
} dl_dma_transfer_info;

/* DMA_ADAPTER_INFO_V1. */
typedef struct dl_dma_adapter_info {
  int read_dma_counter_available;
  uint64_t scatter_gather_limit;
  uint32_t dma_address_width, flags, minimum_transfer_unit;
} dl_dma_adapter_info;

/* What a kind of adapter (a system DMA channel) does in the ...Ex calls;
** NULL members: as a bus master. */
typedef struct dl_dmaex_kind {
  const char *name;
  int completion_routines;  /* MapTransferEx may take a DmaCompletionRoutine */
  int device_offsets;       /* DeviceOffset selects a FIFO of the device */
  int default_buffer;       /* ScatterGatherBuffer may be NULL (a one-element list) */
  uint32_t max_elements;    /* elements one MapTransferEx maps (0: as many as fit and
                               the info's ScatterGatherLimit allows) */
  int no_lists;             /* Get/BuildScatterGatherListEx refused: "do not call this
                               routine for a system DMA device" */
  /* After MapTransferEx mapped c's elements: program the controller. Returns
  ** an NTSTATUS; on failure the mapping is undone. */
  uint32_t (*start)(dl_adapter *a, dl_dmactx *c);
  /* Stops c's started transfer (CancelMappedTransfer, FlushAdapterBuffersEx
  ** before it ended, the channel freed under it); the core then runs the
  ** routine with DmaCancelled (a cancel) or drops it (the others). */
  void (*cancel)(dl_adapter *a, dl_dmactx *c);
  /* ConfigureAdapterChannel(FunctionNumber, Context) -> NTSTATUS. */
  uint32_t (*configure)(dl_adapter *a, uint32_t function, void *context);
  /* GetDmaAdapterInfo's answer. */
  void (*info)(const dl_adapter *a, dl_dma_adapter_info *out);
} dl_dmaex_kind;

/* Sets the adapter's kind (NULL: bus master). */
void dl_dmaex_set_kind(dl_adapter *a, const dl_dmaex_kind *kind);

/* 1 if the adapter has the ...Ex operations (DEVICE_DESCRIPTION_VERSION3);
** on another the core calls return STATUS_NOT_SUPPORTED. */
int dl_dmaex_available(const dl_adapter *a);

/* ---- DMA transfer contexts ------------------------------------------------ */

/* The caller's DMA_TRANSFER_CONTEXT_SIZE_V1 bytes for adapter a, not yet
** initialised (a machine object, freed with its machine). */
int dl_dmactx_new(dl_adapter *a, dl_dmactx **out);
extern const dl_object_type dl_dmactx_type;
dl_adapter *dl_dmactx_adapter(const dl_dmactx *c);
int dl_dmactx_initialized(const dl_dmactx *c);
/* 1 while its allocation waits for the channel or registers. */
int dl_dmactx_pending(const dl_dmactx *c);
/* 1 after CancelAdapterChannel or CancelMappedTransfer (until re-initialised). */
int dl_dmactx_cancelled(const dl_dmactx *c);
/* 1 while a MapTransferEx under it is not flushed. */
int dl_dmactx_mapped(const dl_dmactx *c);
/* Its row in the context's state table (DL_CTXROW_* of hal/dl_ctxstate.h). */
int dl_dmactx_row(const dl_dmactx *c);
/* The elements its last MapTransferEx mapped (count in *n); a kind programs these. */
const dl_sg_element *dl_dmactx_elements(const dl_dmactx *c, uint32_t *n);
/* DeviceOffset and WriteToDevice of the mapped transfer. */
uint32_t dl_dmactx_device_offset(const dl_dmactx *c);
int dl_dmactx_write(const dl_dmactx *c);

/* InitializeDmaTransferContext (<= DISPATCH_LEVEL) -> NTSTATUS. */
uint32_t dl_dmaex_initialize_context(dl_adapter *a, dl_dmactx *c);

/* ---- the adapter channel ---------------------------------------------------- */

/* AllocateAdapterChannelEx (DISPATCH_LEVEL) -> NTSTATUS. With `control`, it
** runs as AllocateAdapterChannel's (DMA_SYNCHRONOUS_CALLBACK: in the call,
** or STATUS_INSUFFICIENT_RESOURCES if it cannot be at once). Without it
** (only with DMA_SYNCHRONOUS_CALLBACK) the channel and registers are the
** caller's at once, *base their MapRegisterBase, until FreeAdapterObject. */
uint32_t dl_dmaex_allocate_channel(dl_adapter *a, dl_device *dev, dl_dmactx *c, uint32_t n,
                                   uint32_t flags, dl_adapter_control_fn control, void *ctx,
                                   uint64_t *base);

/* FreeAdapterObject (<= DISPATCH_LEVEL): DeallocateObject frees the channel
** and its registers, DeallocateObjectKeepRegisters the channel only,
** KeepObject nothing. DL_EINVAL for another action. */
int dl_dmaex_free_adapter_object(dl_adapter *a, int action);

/* CancelAdapterChannel (<= DISPATCH_LEVEL) -> BOOLEAN: 1 if c's allocation
** was still waiting (its routine will not run) or nothing is allocated under
** c (later allocations under it are cancelled); 0 once it was granted. */
int dl_dmaex_cancel_channel(dl_adapter *a, dl_device *dev, dl_dmactx *c);

/* ---- MapTransferEx ------------------------------------------------------------ */

/* MapTransferEx (<= DISPATCH_LEVEL) -> NTSTATUS: maps [Offset, Offset+*length)
** of the MDL chain under `base` (from AllocateAdapterChannelEx), as many
** elements as a buffer of sg_buffer_length bytes holds and the registers
** allow; *length comes back as the bytes mapped, *list / *count the elements. */
uint32_t dl_dmaex_map_transfer(dl_adapter *a, dl_mdl *mdl, uint64_t base, uint64_t offset,
                               uint32_t device_offset, uint32_t *length, int write,
                               uint64_t sg_buffer_length, dl_dma_completion_fn fn, void *fn_ctx,
                               const dl_sg_element **list, uint32_t *count);

/* FlushAdapterBuffersEx (<= DISPATCH_LEVEL) -> NTSTATUS. */
uint32_t dl_dmaex_flush(dl_adapter *a, dl_mdl *mdl, uint64_t base, uint64_t offset,
                        uint32_t length, int write);

/* CancelMappedTransfer (<= DISPATCH_LEVEL) -> NTSTATUS: c is cancelled (its
** next MapTransferEx is STATUS_CANCELLED); a started system transfer is
** stopped and its DmaCompletionRoutine runs with DmaCancelled. */
uint32_t dl_dmaex_cancel_mapped(dl_adapter *a, dl_dmactx *c);

/* For a kind: the transfer mapped under c ended with `status`
** (DL_DMA_*): runs its DmaCompletionRoutine at DISPATCH_LEVEL, once. A
** routine that cannot run any more (the transfer flushed before it ended,
** its channel or registers freed under it, the machine torn down) is
** dropped instead: the adapter's drop function (dl_adapter_set_drop) hears
** its CompletionContext. */
void dl_dmaex_transfer_done(dl_dmactx *c, int status);

/* ---- queries ------------------------------------------------------------------ */

/* GetDmaTransferInfo (<= DISPATCH_LEVEL) -> NTSTATUS: what a transfer of
** [Offset, Offset+Length) needs, by the rules MapTransfer and the lists use. */
uint32_t dl_dmaex_transfer_info(dl_adapter *a, dl_mdl *mdl, uint64_t offset, uint32_t length,
                                int write_only, uint32_t version, dl_dma_transfer_info *out);

/* GetDmaAdapterInfo (<= DISPATCH_LEVEL) -> NTSTATUS. */
uint32_t dl_dmaex_adapter_info(dl_adapter *a, uint32_t version, dl_dma_adapter_info *out);

/* ConfigureAdapterChannel (<= DISPATCH_LEVEL) -> NTSTATUS: the kind's custom
** function; STATUS_NOT_IMPLEMENTED on a bus master. */
uint32_t dl_dmaex_configure(dl_adapter *a, uint32_t function, void *context);

/* ---- lists and common buffers ------------------------------------------------- */

/* GetScatterGatherListEx (buffer_length 0) / BuildScatterGatherListEx
** (DISPATCH_LEVEL) -> NTSTATUS. `control` may be NULL with
** DMA_SYNCHRONOUS_CALLBACK: the list is then *out (id *out_id), the
** caller's until PutScatterGatherList. */
uint32_t dl_dmaex_get_sglist(dl_adapter *a, dl_device *dev, dl_dmactx *c, dl_mdl *mdl,
                             uint64_t offset, uint32_t length, uint32_t flags,
                             dl_list_control_fn control, void *ctx, int write,
                             dl_dma_completion_fn fn, void *fn_ctx, uint64_t buffer_length,
                             dl_sglist **out, uint64_t *out_id);

/* AllocateCommonBufferEx (PASSIVE_LEVEL): a common buffer whose logical
** address lies at or below max_address (0: the adapter's ceiling), freed by
** FreeCommonBuffer. DL_EINVAL for a NUMA node the machine lacks. */
int dl_dmaex_alloc_common(dl_adapter *a, uint64_t max_address, uint32_t length, int cache_enabled,
                          uint32_t preferred_node, uint64_t *va, uint64_t *logical);

#endif
