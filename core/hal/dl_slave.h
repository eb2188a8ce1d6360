/*
** dl_slave.h: system (slave) DMA adapters: IoGetDmaAdapter with Master
** FALSE binds the adapter to a channel of a system DMA controller: the ISA
** 8237 (InterfaceType Isa/Eisa: DmaChannel, DmaWidth, DmaSpeed) or an SoC
** controller (version 3, any other InterfaceType: DmaControllerInstance,
** DmaRequestLine, DeviceAddress). MapTransfer then programs the channel
** (ISA: bouncing below 16 MiB and never across a 64/128 KiB block) and
** unmasks it; FlushAdapterBuffers masks it and, for a read, copies back
** only what the counter says moved; ReadDmaCounter reads the count;
** FreeAdapterChannel masks the channel. An adapter on a scatter/gather SoC
** controller has its capability (dl_slave_sg_limit): contiguous runs mapped
** unbounced, several of them programmed as one transfer.
*/
#ifndef DL_SLAVE_H
#define DL_SLAVE_H

#include "hal/dl_adapter_int.h"
#include "hal/dl_sysdma.h"

/* DMA_WIDTH and DMA_SPEED (wdm.h). */
enum { DL_WIDTH8 = 0, DL_WIDTH16 = 1, DL_WIDTH32 = 2 };

/* 1 for a system (slave) DMA adapter. */
int dl_adapter_is_slave(const dl_adapter *a);

/* The controller and channel a slave adapter drives (NULL for a master,
** or once the controller is gone). */
dl_sysdma *dl_adapter_controller(const dl_adapter *a, uint32_t *channel);

/* ReadDmaCounter (<= DISPATCH_LEVEL): the bytes the channel has still to
** move in the current transfer; 0 on a bus-master adapter. */
uint32_t dl_adapter_read_counter(dl_adapter *a);

/* Who hears that the channel reached terminal count on a transfer that
** does not loop (fn(ctx, 0): DmaComplete); fn NULL: nobody. */
typedef void (*dl_slave_done_fn)(void *ctx, int status);
void dl_adapter_set_completion(dl_adapter *a, dl_slave_done_fn fn, void *ctx);

/* Added to DeviceAddress for the next MapTransfer (KMDF's
** WdfDmaTransactionSetDeviceAddressOffset). */
void dl_slave_set_device_offset(dl_adapter *a, uint64_t offset);

/* Masks the channel if the adapter programmed it (a cancel). */
void dl_slave_stop(dl_adapter *a);

/* Elements one transfer of the channel takes: the SoC controller's
** scatter/gather limit (dl_sysdma_set_max_elements), 1 on ISA. Above 1 the
** adapter maps as a scatter/gather one: MapTransfer gives a contiguous
** run (no bounce for a discontiguous buffer), MapTransferEx a list of up to
** this many elements the channel walks as one transfer. */
uint32_t dl_slave_sg_limit(const dl_adapter *a);

/* MapTransfer of [va, va+*length) as a scatter/gather channel's one
** transfer (what KMDF's system profile gets from MapTransferEx with its list
** of NumberOfMapRegisters elements): each physically contiguous run is one
** MapTransfer of the core (unbounced below the ceiling), up to
** dl_slave_sg_limit runs, and the channel is programmed once with them all;
** *length comes back as the bytes mapped, *logical the first run's address.
** On a channel without scatter/gather it is MapTransfer. Non-zero (after a
** report) if nothing was mapped. */
int dl_slave_map_list(dl_adapter *a, dl_mdl *mdl, uint64_t base, uint64_t va, uint32_t *length,
                      int write_to_device, uint64_t *logical);

/* Bytes a unit of the channel moves (DmaWidth: 1, 2 or 4). */
uint32_t dl_slave_unit(const dl_adapter *a);

/* ConfigureAdapterChannel's functions (the lab's controllers; the WDK
** leaves their numbers and Context to the controller and the driver).
** Both take a ULONG at Context and set the channel up for the transfers
** that follow: CONFIGURE_MODE 0 demand, 1 single, 2 block (DL_SYSDMA_*),
** over DemandMode; CONFIGURE_CYCLE the ns a unit takes (an SoC controller
** only: the 8237's timing is DmaSpeed's). */
enum { DL_SYSDMA_CONFIGURE_MODE = 1, DL_SYSDMA_CONFIGURE_CYCLE = 2 };

/* ConfigureAdapterChannel on a system adapter -> NTSTATUS:
** STATUS_NOT_IMPLEMENTED for a function the controller lacks,
** STATUS_INVALID_PARAMETER for a missing or out-of-range value. */
uint32_t dl_slave_configure(dl_adapter *a, uint32_t function, const void *context);

/* The version-3 operations' kind for an ISA (isa 1) or SoC system adapter
** (dl_slave_ex.c). */
struct dl_dmaex_kind;
const struct dl_dmaex_kind *dl_slave_ex_kind(int isa);

/* ---- used by dl_adapter.c, dl_maptransfer.c and dl_common.c ---------------- */

/* The block a transfer may not cross (64 KiB, 128 KiB), 0 for none. */
uint64_t dl_slave_boundary(const dl_adapter *a);

/* MapTransfer's rule for a slave: the adapter channel must be held (the
** base is the one AdapterControl kept with KeepObject); report otherwise. */
int dl_slave_check_map(dl_adapter *a, uint64_t base);

/* Programs and unmasks the channel for [pa, pa+len); a report and
** DL_EINVAL if the controller cannot take it. */
int dl_slave_program(dl_adapter *a, uint64_t pa, uint32_t len, int write_to_device);

/* The same with a list of n elements (1..dl_slave_sg_limit) moved as one
** transfer: terminal count at the end of the last; each element whole
** units (MinimumTransferUnit), else a report and DL_EINVAL. */
int dl_slave_program_list(dl_adapter *a, const dl_sg_element *el, uint32_t n, int write_to_device);

/* The slave's list (dl_slave_sg_limit entries): dl_slave_map_list builds
** its runs there. */
dl_sg_element *dl_slave_list(dl_adapter *a);

/* FlushAdapterBuffers of a slave mapping: masks the channel; a read copies
** back only the bytes moved (unless IgnoreCount): trims mp->length to what
** the counter says reached it (a piece of a chain: what moved past the
** pieces before it). */
void dl_slave_flush(dl_adapter *a, dl_mapping *mp);

#endif
