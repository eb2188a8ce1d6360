/*
** dl_slave.h: system (slave) DMA adapters: IoGetDmaAdapter with Master
** FALSE binds the adapter to a channel of a system DMA controller: the ISA
** 8237 (InterfaceType Isa/Eisa: DmaChannel, DmaWidth, DmaSpeed) or an SoC
** controller (version 3, any other InterfaceType: DmaControllerInstance,
** DmaRequestLine, DeviceAddress). MapTransfer then programs the channel
** (ISA: bouncing below 16 MiB and never across a 64/128 KiB block) and
** unmasks it; FlushAdapterBuffers masks it and, for a read, copies back
** only what the counter says moved; ReadDmaCounter reads the count;
** FreeAdapterChannel masks the channel.
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

/* FlushAdapterBuffers of a slave mapping: masks the channel; a read copies
** back only the bytes moved (unless IgnoreCount): trims mp->length. */
void dl_slave_flush(dl_adapter *a, dl_mapping *mp);

#endif
