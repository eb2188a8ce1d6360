/*
** rig_dmaex.h: helpers shared by the C tests of the version-3 DMA
** operations (hal/dl_dmaex.h): a DMA_ADAPTER_CONTEXT, the synchronous
** AllocateAdapterChannelEx, MapTransferEx, FlushAdapterBuffersEx and
** FreeAdapterObject at DISPATCH_LEVEL, and a DmaCompletionRoutine that
** records what it saw. Include after rig.h.
*/
#ifndef DL_TEST_RIG_DMAEX_H
#define DL_TEST_RIG_DMAEX_H

#include "hal/dl_dmaex.h"

/* A context initialised for a. */
static inline dl_dmactx *rig_dmactx(dl_adapter *a) {
  dl_dmactx *c = NULL;
  assert_int_equal(dl_dmactx_new(a, &c), DL_OK);
  assert_int_equal(dl_dmaex_initialize_context(a, c), DL_STATUS_SUCCESS);
  return c;
}

/* AllocateAdapterChannelEx for dev synchronously without a routine
** (DMA_SYNCHRONOUS_CALLBACK): the base. */
static inline uint64_t rig_take(rig *r, dl_adapter *a, dl_device *dev, dl_dmactx *c, uint32_t n) {
  uint64_t base = 0;
  dl_machine_set_irql(r->m, DL_DISPATCH_LEVEL);
  assert_int_equal(dl_dmaex_allocate_channel(a, dev, c, n, DL_DMA_SYNCHRONOUS_CALLBACK, NULL,
                                             NULL, &base), DL_STATUS_SUCCESS);
  dl_machine_set_irql(r->m, DL_PASSIVE_LEVEL);
  assert_true(base != 0);
  return base;
}

/* What a DmaCompletionRoutine saw: how often it ran, the last status, the
** IRQL and device it ran with, and when (simulated ns). */
typedef struct rig_done { int n, status; uint8_t irql; dl_device *dev; uint64_t at; } rig_done;

/* A DmaCompletionRoutine recording into the rig_done at ctx. */
static inline void rig_completion(void *ctx, dl_adapter *a, dl_device *dev, int status) {
  rig_done *d = ctx;
  d->n++;
  d->status = status;
  d->irql = dl_machine_irql(dl_adapter_machine(a));
  d->dev = dev;
  d->at = dl_clock_now(dl_machine_clock(dl_adapter_machine(a)));
}

/* MapTransferEx at DISPATCH_LEVEL with a buffer of sg_len bytes (0: the
** default) and, when d is not NULL, rig_completion recording into d. */
static inline uint32_t rig_mapex(rig *r, dl_adapter *a, dl_mdl *mdl, uint64_t base, uint64_t off,
                                 uint32_t devoff, uint32_t *len, int write, uint64_t sg_len,
                                 rig_done *d, const dl_sg_element **el, uint32_t *n) {
  dl_machine_set_irql(r->m, DL_DISPATCH_LEVEL);
  uint32_t st = dl_dmaex_map_transfer(a, mdl, base, off, devoff, len, write, sg_len,
                                      d ? rig_completion : NULL, d, el, n);
  dl_machine_set_irql(r->m, DL_PASSIVE_LEVEL);
  return st;
}

/* FlushAdapterBuffersEx at DISPATCH_LEVEL: the status. */
static inline uint32_t rig_flushex(rig *r, dl_adapter *a, dl_mdl *mdl, uint64_t base, uint64_t off,
                                   uint32_t len, int write) {
  dl_machine_set_irql(r->m, DL_DISPATCH_LEVEL);
  uint32_t st = dl_dmaex_flush(a, mdl, base, off, len, write);
  dl_machine_set_irql(r->m, DL_PASSIVE_LEVEL);
  return st;
}

/* FreeAdapterObject(a, action) at DISPATCH_LEVEL. */
static inline void rig_free_object(rig *r, dl_adapter *a, int action) {
  dl_machine_set_irql(r->m, DL_DISPATCH_LEVEL);
  assert_int_equal(dl_dmaex_free_adapter_object(a, action), DL_OK);
  dl_machine_set_irql(r->m, DL_PASSIVE_LEVEL);
}

/* Asserts the UART's wire holds len bytes of the buffer at va from its byte `from`. */
static inline void rig_assert_sent(rig *r, dl_uart *u, uint64_t va, uint32_t from, uint32_t len) {
  size_t n;
  const uint8_t *sent = dl_uart_sent(u, &n);
  assert_true(n >= from + len);
  for (uint32_t i = 0; i < len; i++) {
    uint8_t b;
    dl_machine_read_va(r->m, va + from + i, &b, 1);
    if (sent[from + i] != b) fail_msg("byte %u: sent 0x%02x, buffer 0x%02x", from + i, sent[from + i], b);
  }
}

#endif
