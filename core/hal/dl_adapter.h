/*
** dl_adapter.h: DMA adapters, with the WDM semantics of the reference
** (sections 1.1-1.6): IoGetDmaAdapter's NumberOfMapRegisters and address
** ceiling, the adapter channel and its queue, map registers shared through
** one strict FIFO, MapTransfer with real bounce copies, FlushAdapterBuffers,
** scatter/gather lists and common buffers. Misuse is recorded as Driver
** Verifier reports (dl_verifier.h) and the call then does what is sensible.
*/
#ifndef DL_ADAPTER_H
#define DL_ADAPTER_H

#include <stddef.h>
#include <stdint.h>

#include "io/dl_device.h"
#include "base/dl_list.h"
#include "base/dl_ntstatus.h"
#include "io/dl_mdl.h"

typedef struct dl_adapter dl_adapter;
typedef struct dl_sglist dl_sglist;

/* IO_ALLOCATION_ACTION. */
enum { DL_KEEP_OBJECT = 1, DL_DEALLOCATE_OBJECT = 2, DL_DEALLOCATE_OBJECT_KEEP_REGISTERS = 3 };

/* INTERFACE_TYPE values that matter here. */
enum { DL_INTERNAL = 0, DL_ISA = 1, DL_EISA = 2, DL_PCI_BUS = 5, DL_ACPI_BUS = 17 };

/* DEVICE_DESCRIPTION: the fields that matter for bus-master DMA. */
typedef struct dl_device_description {
  uint32_t version;          /* 0 (DEVICE_DESCRIPTION_VERSION, as 1), 1, 2 or 3 */
  int master, scatter_gather, dma32, dma64;
  uint32_t address_width;    /* version 3: replaces dma32/dma64; must be 24 to 64 */
  uint32_t interface_type;
  uint64_t maximum_length;
  /* system (slave) DMA (dl_slave.h) */
  int demand_mode, auto_initialize, ignore_count;
  uint32_t dma_channel, dma_port, dma_width, dma_speed;
  uint32_t dma_request_line, dma_controller_instance;  /* version 3 */
  uint64_t device_address;                              /* version 3 */
} dl_device_description;

/* One element of a scatter/gather list. */
typedef struct dl_sg_element { uint64_t address; uint32_t length; } dl_sg_element;

/* Counters kept per adapter. */
typedef struct dl_adapter_stats {
  uint64_t map_transfers, bytes_mapped, bytes_bounced, flushes;
  uint64_t channel_grants, channel_waits, sg_lists;
  uint32_t registers_held, registers_high_water;
} dl_adapter_stats;

/* AdapterControl: runs at DISPATCH_LEVEL when the channel and registers are
** granted; `base` is the MapRegisterBase. Returns an IO_ALLOCATION_ACTION. */
typedef int (*dl_adapter_control_fn)(void *ctx, dl_device *dev, uint64_t base);

/* AdapterListControl: runs at DISPATCH_LEVEL with the built list. */
typedef void (*dl_list_control_fn)(void *ctx, dl_device *dev, dl_sglist *sg);

/* Called when a pending request is dropped without running (teardown). */
typedef void (*dl_request_drop_fn)(dl_adapter *a, void *ctx);

/* Why IoGetDmaAdapter returned NULL: the `a` of its DL_TR_ADAPTER_REFUSED
** trace record (`b` is the value named). */
typedef enum dl_adapter_refusal {
  DL_REFUSE_VERSION = 1,       /* Version not 0-3 (b: Version); also report 0x25 */
  DL_REFUSE_SLAVE,             /* Master FALSE: no such system DMA channel (b: DmaChannel,
                                  or the request line) */
  DL_REFUSE_WIDTH_ZERO,        /* v3 DmaAddressWidth 0 */
  DL_REFUSE_WIDTH_OVER_64,     /* v3 DmaAddressWidth above 64 (b: the width) */
  DL_REFUSE_WIDTH_UNDER_24,    /* v3 DmaAddressWidth 1-23 (b: the width) */
  DL_REFUSE_NO_MAP_REGISTERS,  /* needs map registers: none (b: the machine's map_registers) */
  DL_REFUSE_POOL_ABOVE_CEILING,/* needs map registers: the pool's RAM is above the
                                  ceiling (b: the pool's last byte) */
  DL_REFUSE_SLAVE_WIDTH,       /* ISA: DmaWidth does not fit the channel (b: DmaWidth) */
  DL_REFUSE_SLAVE_BUSY         /* system DMA: every channel of the controller is taken */
} dl_adapter_refusal;

/* IoGetDmaAdapter (PASSIVE_LEVEL). Where the WDK returns NULL this returns
** DL_EINVAL (an invalid DEVICE_DESCRIPTION; Version above 3 is also report
** 0x25) or DL_ENOSPACE (map registers needed and none below the ceiling),
** after a DL_TR_ADAPTER_REFUSED record naming the reason. */
int dl_adapter_get(dl_machine *m, dl_device *dev, const dl_device_description *d,
                   dl_adapter **out, uint32_t *number_of_map_registers);

/* The rule behind a refusal as a sentence, in buf (always terminated). */
void dl_adapter_refusal_text(uint64_t reason, uint64_t value, char *buf, size_t size);

/* The row of the adapter channel's state (DL_CHROW_* of hal/dl_chanstate.h). */
int dl_adapter_channel_row(const dl_adapter *a);

/* The row of a MapRegisterBase's state on a (DL_MRROW_* of hal/dl_mrstate.h). */
int dl_adapter_base_row(const dl_adapter *a, uint64_t base);

/* Consults the channel's state table (hal/dl_chanstate.h) for DL_CHCALL_*
** `call`, named `name` in a report (NULL: the call's name): 1 if allowed,
** else 0 after the report. */
int dl_adapter_check_channel(dl_adapter *a, int call, const char *name);

/* PutDmaAdapter: reports what is still outstanding (0x07-0x0A), cancels
** the requests still waiting for the channel or map registers (their
** routines never run); the adapter then refuses every call (0x18). */
void dl_adapter_put(dl_adapter *a);

/* Frees an adapter whatever it holds (teardown; pending requests dropped). */
void dl_adapter_destroy(dl_adapter *a);

/* Gives each channel request its own wait block (DMA v3's transfer
** contexts) rather than the device object's one: a device may then have a
** request outstanding on each of its adapters (KMDF's system profiles). */
void dl_adapter_set_transfer_contexts(dl_adapter *a, int on);

/* Sets the function told about requests dropped at teardown. */
void dl_adapter_set_drop(dl_adapter *a, dl_request_drop_fn drop);

/* The DMA_ADAPTER type (its leak check reports what an adapter still holds). */
extern const dl_object_type dl_adapter_type;
dl_machine *dl_adapter_machine(const dl_adapter *a);
dl_device *dl_adapter_device(const dl_adapter *a);
uint64_t dl_adapter_id(const dl_adapter *a);
uint64_t dl_adapter_ceiling(const dl_adapter *a);
uint32_t dl_adapter_map_registers(const dl_adapter *a);
int dl_adapter_is_scatter_gather(const dl_adapter *a);
int dl_adapter_is_released(const dl_adapter *a);
const dl_device_description *dl_adapter_description(const dl_adapter *a);
const dl_adapter_stats *dl_adapter_get_stats(const dl_adapter *a);
void *dl_adapter_framework(const dl_adapter *a);
/* 1 if its transfers go through map registers (not a 64-bit S/G master). */
int dl_adapter_needs_registers(const dl_adapter *a);
/* 1 while dev has a channel request outstanding or the adapter runs an
** AdapterControl: a framework asking for the channel then waits its turn. */
int dl_adapter_channel_busy(const dl_adapter *a, const dl_device *dev);
/* 1 if a request for n registers (with the channel: channel 1) would be
** granted at once rather than queued (KMDF's immediate execution). */
int dl_adapter_grantable_now(const dl_adapter *a, const dl_device *dev, uint32_t n, int channel);
void dl_adapter_set_framework(dl_adapter *a, void *fw);

/* AllocateAdapterChannel (DISPATCH_LEVEL): returns an NTSTATUS. `control`
** runs now or later, in order, when the channel and n registers are free.
** A device of another machine is STATUS_INVALID_PARAMETER. */
uint32_t dl_adapter_allocate_channel(dl_adapter *a, dl_device *dev, uint32_t n,
                                     dl_adapter_control_fn control, void *ctx);

/* FreeAdapterChannel (DISPATCH_LEVEL), after AdapterControl kept the object. */
void dl_adapter_free_channel(dl_adapter *a);

/* FreeMapRegisters (DISPATCH_LEVEL). A base that names no registers of the
** adapter (never allocated, another adapter's, freed) is report 0x05. */
int dl_adapter_free_map_registers(dl_adapter *a, uint64_t base, uint32_t n);

/* MapTransfer (<= DISPATCH_LEVEL): maps [va, va+*length) of mdl, shortening
** *length at a physical break for scatter/gather masters, bouncing through
** map registers when needed; returns the logical address in *logical.
** Non-zero (with a report, or DL_EINVAL for a bad base) if nothing mapped. */
int dl_adapter_map_transfer(dl_adapter *a, dl_mdl *mdl, uint64_t base, uint64_t va,
                            uint32_t *length, int write_to_device, uint64_t *logical);

/* FlushAdapterBuffers (<= DISPATCH_LEVEL): ends the mappings made from va
** with this base, copying bounced data back for reads; returns 1 (TRUE), or
** 0 with a report when nothing was mapped there. A Length past the mapped
** bytes is 0x00 (P2 1); a WriteToDevice opposite to the mapping's is
** reported and nothing is copied back. */
int dl_adapter_flush(dl_adapter *a, dl_mdl *mdl, uint64_t base, uint64_t va, uint32_t length,
                     int write_to_device);

/* KeFlushIoBuffers: writes back and discards cached lines of the MDL's range
** (a no-op on a coherent machine, as on x86). */
void dl_ke_flush_io_buffers(dl_mdl *mdl, int read_operation, int dma_operation);

/* CalculateScatterGatherList: the list size in bytes and the map registers
** a transfer needs (mdl NULL: the worst case for [va, va+length)).
** STATUS_BUFFER_TOO_SMALL if Length runs past the MDL chain's end,
** STATUS_INVALID_PARAMETER if CurrentVa is outside the first MDL. */
uint32_t dl_adapter_calculate_sglist(dl_adapter *a, dl_mdl *mdl, uint64_t va, uint32_t length,
                                     uint32_t *list_size, uint32_t *map_registers);

/* GetScatterGatherList / BuildScatterGatherList (buffer_length > 0):
** returns an NTSTATUS; `control` runs now or later with the list. A device
** or an MDL of another machine is STATUS_INVALID_PARAMETER. */
uint32_t dl_adapter_get_sglist(dl_adapter *a, dl_device *dev, dl_mdl *mdl, uint64_t va,
                               uint32_t length, dl_list_control_fn control, void *ctx,
                               int write_to_device, uint64_t buffer_length);

/* PutScatterGatherList (DISPATCH_LEVEL): flushes, frees the registers and
** the list. `id` is the list's id when it was handed out: list records are
** reused, so a second put of the same list is recognised (report 0x06). */
void dl_adapter_put_sglist(dl_adapter *a, dl_sglist *sg, uint64_t id, int write_to_device);

/* Scatter/gather list accessors. */
uint32_t dl_sglist_count(const dl_sglist *sg);
const dl_sg_element *dl_sglist_elements(const dl_sglist *sg);
uint64_t dl_sglist_id(const dl_sglist *sg);
int dl_sglist_is_live(const dl_sglist *sg);
/* The MapRegisterBase of the registers the list holds (the HAL keeps it in
** the list's private part; PutScatterGatherList frees them). */
uint64_t dl_sglist_map_register_base(const dl_sglist *sg);
/* The row of sg, handed out as `id`, in the table of hal/dl_sgstate.h for
** a call on adapter a (NULL: a call naming none). */
int dl_sglist_row(const dl_sglist *sg, const dl_adapter *a, uint64_t id);
/* Consults that table for reading sg's elements: 1 if they may be (it was
** not put), else 0 (no report: an argument error to the binding). */
int dl_sglist_check_elements(const dl_sglist *sg, uint64_t id);
void *dl_sglist_data(const dl_sglist *sg);
void dl_sglist_set_data(dl_sglist *sg, void *data);

/* Byte size of a SCATTER_GATHER_LIST with n elements (x64 layout). */
#define DL_SGLIST_SIZE(n) (16u + 24u * (uint32_t)(n))

/* AllocateCommonBuffer (PASSIVE_LEVEL): contiguous memory below the ceiling,
** not crossing 4 GiB, mapped at *va and at *logical for the device.
** DL_ENOSPACE if there is no such memory. */
int dl_adapter_alloc_common(dl_adapter *a, uint32_t length, int cache_enabled, uint64_t *va,
                            uint64_t *logical);

/* FreeCommonBuffer (PASSIVE_LEVEL); an unknown buffer is report 0x03. */
/* GetDmaAlignment: the bytes a DMA buffer's start and length must be a
** multiple of: 1 for a bus master, the channel's unit (DmaWidth) for
** system DMA, whose controller moves whole units. */
uint32_t dl_adapter_dma_alignment(const dl_adapter *a);

void dl_adapter_free_common(dl_adapter *a, uint32_t length, uint64_t logical, uint64_t va,
                            int cache_enabled);


#endif
