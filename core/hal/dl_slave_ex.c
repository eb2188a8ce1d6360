/*
** dl_slave_ex.c: the version-3 DMA operations on a system (slave) DMA
** adapter (the dl_dmaex_kind of dl_dmaex.h). MapTransferEx maps one element
** (a system DMA channel moves one contiguous block a transfer; the HAL
** bounces the rest into map registers, as for MapTransfer), or on a
** scatter/gather SoC controller up to its ScatterGatherLimit elements (the
** buffer's contiguous runs, unbounced), and then this kind programs the
** channel with them as one transfer, toward DeviceAddress + DeviceOffset on
** an SoC controller (an 8237 addresses no FIFO: its transfers are fly-by,
** the device answers DACK, so DeviceOffset must be 0 there); the channel's
** terminal count runs the DmaCompletionRoutine with DmaComplete, or
** DmaError if the channel lost units on the way. DmaAborted is "not used"
** (DMA_COMPLETION_STATUS), and never given. GetDmaAdapterInfo tells what the
** controller is; ConfigureAdapterChannel reaches its functions
** (dl_slave.h).
*/
#include "hal/dl_dmaex.h"

#include "base/dl_ntstatus.h"
#include "hal/dl_slave.h"

/* The channel's terminal count for the transfer mapped under ctx. */
static void on_done(void *ctx, int status) { dl_dmaex_transfer_done(ctx, status); }

/* Programs the channel with the element MapTransferEx mapped. */
static uint32_t start(dl_adapter *a, dl_dmactx *c) {
  uint32_t n = 0;
  const dl_sg_element *el = dl_dmactx_elements(c, &n);
  if (n == 0 || n > dl_slave_sg_limit(a)) return DL_STATUS_INVALID_PARAMETER;
  dl_slave_set_device_offset(a, dl_dmactx_device_offset(c));
  int rc = dl_slave_program_list(a, el, n, dl_dmactx_write(c));
  dl_slave_set_device_offset(a, 0);
  if (rc) return DL_STATUS_INVALID_PARAMETER;  /* reported: the controller cannot take it */
  dl_adapter_set_completion(a, on_done, c);
  return DL_STATUS_SUCCESS;
}

/* Stops the channel; nobody hears its terminal count any more. */
static void cancel(dl_adapter *a, dl_dmactx *c) {
  (void)c;
  dl_slave_stop(a);
  dl_adapter_set_completion(a, NULL, NULL);
}

static uint32_t configure(dl_adapter *a, uint32_t function, void *context) {
  return dl_slave_configure(a, function, context);
}

/* DMA_ADAPTER_INFO_V1 of a system DMA channel: a counter the CPU reads, the
** elements the controller walks in one transfer (1 on the 8237 and an SoC
** controller without scatter/gather), the controller's address width (24
** bits for ISA), units of DmaWidth. */
static void info(const dl_adapter *a, dl_dma_adapter_info *out) {
  out->read_dma_counter_available = 1;
  out->scatter_gather_limit = dl_slave_sg_limit(a);
  out->dma_address_width = (uint32_t)__builtin_popcountll(dl_adapter_ceiling(a));
  out->flags = DL_ADAPTER_INFO_SYNCHRONOUS_CALLBACK;
  out->minimum_transfer_unit = dl_slave_unit(a);
}

static const dl_dmaex_kind isa_kind = {
  .name = "ISA system DMA", .completion_routines = 1, .device_offsets = 0, .default_buffer = 1,
  .max_elements = 1, .no_lists = 1, .start = start, .cancel = cancel, .configure = configure,
  .info = info,
};

static const dl_dmaex_kind soc_kind = {
  .name = "SoC system DMA", .completion_routines = 1, .device_offsets = 1, .default_buffer = 1,
  .max_elements = 0, .no_lists = 1, .start = start, .cancel = cancel, .configure = configure,
  .info = info,
};

const struct dl_dmaex_kind *dl_slave_ex_kind(int isa) { return isa ? &isa_kind : &soc_kind; }
