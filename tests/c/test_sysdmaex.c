/*
** test_sysdmaex.c: the version-3 DMA operations on system (slave) DMA
** adapters (core/hal/dl_slave_ex.c over dl_dmaex and dl_slave): an ISA
** 8237 channel and an SoC controller's request line feeding the UART.
** MapTransferEx programs the channel with one element (bounced below 16
** MiB on ISA), DeviceOffset selects the FIFO on the SoC controller, the
** DmaCompletionRoutine runs at terminal count (DmaComplete, DmaError when
** block mode lost units), after CancelMappedTransfer (DmaCancelled) and is
** dropped when the transfer is flushed early or its channel freed;
** FlushAdapterBuffersEx copies back only what moved; GetDmaAdapterInfo,
** ConfigureAdapterChannel, a looped (auto-initialize) transfer, and the
** verifier's reports for misuse.
*/
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "rig.h"
#include "rig_dmaex.h"
#include "devices/dl_uart.h"
#include "hal/dl_dmac8237.h"
#include "hal/dl_dmaex.h"
#include "hal/dl_slave.h"
#include "hal/dl_socdma.h"

/* A version-3 ISA description for channel ch. */
static dl_device_description isa3(uint32_t ch, uint64_t maxlen, int auto_init) {
  dl_device_description d;
  memset(&d, 0, sizeof d);
  d.version = 3;
  d.interface_type = DL_ISA;
  d.dma_channel = ch;
  d.dma_width = ch < 4 ? DL_WIDTH8 : DL_WIDTH16;
  d.address_width = 24;
  d.maximum_length = maxlen;
  d.auto_initialize = auto_init;
  return d;
}

static dl_mdl *buffer(rig *r, uint64_t at, uint32_t len, unsigned seed, uint64_t *va) {
  uint64_t first = rig_pages_at(r, (len + PS - 1) / PS, at), pfns[64];
  for (uint32_t i = 0; i < (len + PS - 1) / PS; i++) pfns[i] = first + i;
  dl_region *reg = rig_map(r, pfns, 0, len);
  rig_pattern(r, reg->va, len, seed);
  *va = reg->va;
  return rig_mdl(r, reg);
}

/* The adapter's drop function: which completion contexts were dropped. */
static void *dropped;
static int ndropped;
static void on_drop(dl_adapter *a, void *ctx) {
  (void)a;
  dropped = ctx;
  ndropped++;
}

/* MapTransferEx at DISPATCH_LEVEL with the default (NULL) buffer. */
static uint32_t mapex(rig *r, dl_adapter *a, dl_mdl *mdl, uint64_t base, uint32_t devoff,
                      uint32_t *len, int write, rig_done *d, const dl_sg_element **el) {
  uint32_t n = 0;
  uint32_t st = rig_mapex(r, a, mdl, base, 0, devoff, len, write, 0, d, el, &n);
  if (st == DL_STATUS_SUCCESS) assert_int_equal(n, 1);  /* a system channel: one element */
  return st;
}

/* Every byte the UART put on its wire is the buffer's. */
static void assert_sent(rig *r, dl_uart *u, uint64_t va, uint32_t len) {
  size_t n;
  dl_uart_sent(u, &n);
  assert_int_equal(n, len);
  rig_assert_sent(r, u, va, 0, len);
}

/* ---- ISA ------------------------------------------------------------------------- */

/* The public sample's path: a context, AllocateAdapterChannelEx, one
** MapTransferEx of the whole buffer (above 4 GiB: bounced below 16 MiB),
** the UART's pace, DmaComplete at terminal count at DISPATCH_LEVEL, then
** FlushAdapterBuffersEx and FreeAdapterObject. */
static void test_isa_transfer_completes(void **state) {
  rig *r = *state;
  dl_uart *u = rig_uart(r, 115200);
  assert_int_equal(dl_uart_connect(u, dl_dmac8237_of(r->m), 1, DL_UART_NO_LINE), DL_OK);
  rig_uart_enable(u, DL_UART_TX_DMA);
  uint32_t nmr, len = 3000;
  dl_adapter *a = rig_adapter(r, isa3(1, len, 0), &nmr);
  assert_int_equal(nmr, 2);
  uint64_t va, before = rig_reports(r);
  dl_mdl *mdl = buffer(r, GiB4, len, 7, &va);
  dl_dmactx *c = rig_dmactx(a);
  uint64_t base = rig_take(r, a, r->dev, c, nmr);
  rig_done d = {0};
  const dl_sg_element *el;
  uint32_t got = len;
  assert_int_equal(mapex(r, a, mdl, base, 8, &got, 1, &d, &el), DL_STATUS_INVALID_PARAMETER);
  assert_int_equal(mapex(r, a, mdl, base, 0, &got, 1, &d, &el), DL_STATUS_SUCCESS);  /* no FIFO offset on ISA */
  assert_int_equal(got, len);
  assert_true(el[0].address + len - 1 <= 0xFFFFFF);
  assert_int_equal(el[0].address / 0x10000, (el[0].address + len - 1) / 0x10000);
  assert_int_equal(dl_adapter_read_counter(a), len);
  uint64_t ch_ns = dl_uart_char_ns(u);
  dl_clock_run_until(rig_clock(r), 1000 * ch_ns);
  uint32_t left = dl_adapter_read_counter(a);
  assert_true(left > 0 && left < len);
  assert_int_equal(d.n, 0);
  dl_clock_run(rig_clock(r));
  assert_int_equal(d.n, 1);
  assert_int_equal(d.status, DL_DMA_COMPLETE);
  assert_int_equal(d.irql, DL_DISPATCH_LEVEL);
  assert_ptr_equal(d.dev, r->dev);
  /* terminal count when the last byte entered the FIFO: before the wire sent it */
  assert_true(d.at > (len - 20) * ch_ns && d.at <= dl_uart_last_sent_at(u));
  assert_sent(r, u, va, len);
  /* done or not, FlushAdapterBuffersEx comes before the next MapTransferEx (0x0D) */
  rig_done d2 = {0};
  got = len;
  assert_int_equal(mapex(r, a, mdl, base, 0, &got, 1, &d2, &el), DL_STATUS_INVALID_PARAMETER);
  rig_expect(r, before, DL_VF_NOT_FLUSHED);
  before = rig_reports(r);
  assert_int_equal(rig_flushex(r, a, mdl, base, 0, len, 1), DL_STATUS_SUCCESS);
  rig_free_object(r, a, DL_DEALLOCATE_OBJECT);
  dl_adapter_put(a);
  rig_expect_none(r, before);
}

/* A read flushed before terminal count without CancelMappedTransfer is
** 0xE6/0x23 ("cannot flush a channel that hasn't been completed or
** cancelled": P2 0, P3 the controller, P4 the channel) and done anyway, as
** the HAL does: the channel stops, only the bytes that moved come back, and
** the routine is dropped (it never runs). */
static void test_isa_early_flush_copies_back_what_moved(void **state) {
  rig *r = *state;
  dl_uart *u = rig_uart(r, 1000000);
  assert_int_equal(dl_uart_connect(u, dl_dmac8237_of(r->m), DL_UART_NO_LINE, 3), DL_OK);
  rig_uart_enable(u, DL_UART_RX_DMA);
  uint32_t nmr, len = 100;
  dl_adapter *a = rig_adapter(r, isa3(3, 4096, 0), &nmr);
  dl_adapter_set_drop(a, on_drop);
  uint64_t va;
  dl_mdl *mdl = buffer(r, GiB4, len, 3, &va);
  dl_dmactx *c = rig_dmactx(a);
  uint64_t base = rig_take(r, a, r->dev, c, nmr);
  rig_done d = {0};
  const dl_sg_element *el;
  uint32_t got = len;
  assert_int_equal(mapex(r, a, mdl, base, 0, &got, 0, &d, &el), DL_STATUS_SUCCESS);
  uint8_t in[60];
  for (int i = 0; i < 60; i++) in[i] = (uint8_t)(0x30 + i);
  assert_int_equal(dl_uart_receive(u, in, sizeof in), DL_OK);
  dl_clock_run(rig_clock(r));
  assert_int_equal(dl_adapter_read_counter(a), len - 60);
  ndropped = 0;
  uint64_t before = rig_reports(r);
  assert_int_equal(rig_flushex(r, a, mdl, base, 0, len, 0), DL_STATUS_SUCCESS);
  const dl_report *rep = rig_expect(r, before, 0x23);
  assert_int_equal(rep->p2, 0);
  assert_int_equal(rep->p3, 0);
  assert_int_equal(rep->p4, 3);
  assert_int_equal(d.n, 0);
  assert_int_equal(ndropped, 1);
  assert_ptr_equal(dropped, &d);
  uint32_t ch;
  dl_sysdma *ctl = dl_adapter_controller(a, &ch);
  assert_true(dl_sysdma_masked(ctl, ch));
  rig_free_object(r, a, DL_DEALLOCATE_OBJECT);
  uint8_t out[100];
  dl_machine_read_va(r->m, va, out, len);
  assert_memory_equal(out, in, 60);
  uint8_t tail;
  dl_machine_read_va(r->m, va + 60, &tail, 1);
  assert_int_equal(tail, (uint8_t)(60 * 31 + 3 * 7));  /* untouched: the pattern's byte */
  dl_adapter_put(a);
}

/* CancelMappedTransfer stops the channel and runs the routine with
** DmaCancelled, once; the next MapTransferEx under the context is
** STATUS_CANCELLED; the flush is still owed and copies nothing more. */
static void test_isa_cancel_while_mapped(void **state) {
  rig *r = *state;
  dl_uart *u = rig_uart(r, 115200);
  assert_int_equal(dl_uart_connect(u, dl_dmac8237_of(r->m), 1, DL_UART_NO_LINE), DL_OK);
  rig_uart_enable(u, DL_UART_TX_DMA);
  uint32_t nmr, len = 2000;
  dl_adapter *a = rig_adapter(r, isa3(1, len, 0), &nmr);
  uint64_t va, before = rig_reports(r);
  dl_mdl *mdl = buffer(r, 0, len, 9, &va);
  dl_dmactx *c = rig_dmactx(a);
  uint64_t base = rig_take(r, a, r->dev, c, nmr);
  rig_done d = {0};
  const dl_sg_element *el;
  uint32_t got = len;
  assert_int_equal(mapex(r, a, mdl, base, 0, &got, 1, &d, &el), DL_STATUS_SUCCESS);
  uint64_t ch_ns = dl_uart_char_ns(u);
  dl_clock_run_until(rig_clock(r), 500 * ch_ns);
  dl_machine_set_irql(r->m, DL_DISPATCH_LEVEL);
  assert_int_equal(dl_dmaex_cancel_mapped(a, c), DL_STATUS_SUCCESS);
  assert_int_equal(dl_dmaex_cancel_mapped(a, c), DL_STATUS_SUCCESS);  /* again: nothing more */
  dl_machine_set_irql(r->m, DL_PASSIVE_LEVEL);
  assert_int_equal(d.n, 1);
  assert_int_equal(d.status, DL_DMA_CANCELLED);
  assert_int_equal(d.irql, DL_DISPATCH_LEVEL);
  uint32_t left = dl_adapter_read_counter(a);
  assert_true(left > 0 && left < len - 400);
  dl_clock_run(rig_clock(r));
  assert_int_equal(dl_adapter_read_counter(a), left);  /* stopped */
  size_t n;
  dl_uart_sent(u, &n);
  assert_int_equal(n, len - left);  /* the FIFO drained what had moved */
  assert_int_equal(d.n, 1);
  got = len;
  assert_int_equal(mapex(r, a, mdl, base, 0, &got, 1, &d, &el), DL_STATUS_CANCELLED);
  assert_int_equal(rig_flushex(r, a, mdl, base, 0, len, 1), DL_STATUS_SUCCESS);
  rig_free_object(r, a, DL_DEALLOCATE_OBJECT);
  dl_adapter_put(a);
  rig_expect_none(r, before);
}

/* ConfigureAdapterChannel: the controller's functions; block mode set that
** way outruns the UART, and the lost units make terminal count DmaError. */
static void test_configure_block_mode_gives_dma_error(void **state) {
  rig *r = *state;
  dl_uart *u = rig_uart(r, 115200);
  assert_int_equal(dl_uart_connect(u, dl_dmac8237_of(r->m), 3, DL_UART_NO_LINE), DL_OK);
  rig_uart_enable(u, DL_UART_TX_DMA);
  uint32_t nmr, len = 64, v;
  dl_adapter *a = rig_adapter(r, isa3(3, 4096, 0), &nmr);
  dl_machine_set_irql(r->m, DL_DISPATCH_LEVEL);
  v = DL_SYSDMA_BLOCK + 1;
  assert_int_equal(dl_dmaex_configure(a, DL_SYSDMA_CONFIGURE_MODE, &v), DL_STATUS_INVALID_PARAMETER);
  assert_int_equal(dl_dmaex_configure(a, DL_SYSDMA_CONFIGURE_MODE, NULL), DL_STATUS_INVALID_PARAMETER);
  v = 100;
  assert_int_equal(dl_dmaex_configure(a, DL_SYSDMA_CONFIGURE_CYCLE, &v), DL_STATUS_NOT_IMPLEMENTED);  /* DmaSpeed's */
  assert_int_equal(dl_dmaex_configure(a, 77, &v), DL_STATUS_NOT_IMPLEMENTED);
  v = DL_SYSDMA_BLOCK;
  assert_int_equal(dl_dmaex_configure(a, DL_SYSDMA_CONFIGURE_MODE, &v), DL_STATUS_SUCCESS);
  dl_machine_set_irql(r->m, DL_PASSIVE_LEVEL);
  uint64_t va;
  dl_mdl *mdl = buffer(r, 0, len, 2, &va);
  dl_dmactx *c = rig_dmactx(a);
  uint64_t base = rig_take(r, a, r->dev, c, nmr);
  rig_done d = {0};
  const dl_sg_element *el;
  uint32_t got = len;
  assert_int_equal(mapex(r, a, mdl, base, 0, &got, 1, &d, &el), DL_STATUS_SUCCESS);
  uint32_t ch;
  dl_sysdma *ctl = dl_adapter_controller(a, &ch);
  assert_int_equal(dl_sysdma_programmed(ctl, ch)->mode, DL_SYSDMA_BLOCK);
  dl_clock_run(rig_clock(r));
  assert_int_equal(d.n, 1);
  assert_int_equal(d.status, DL_DMA_ERROR);
  assert_true(dl_sysdma_channel_overruns(ctl, ch) > 0);
  assert_int_equal(rig_flushex(r, a, mdl, base, 0, len, 1), DL_STATUS_SUCCESS);
  /* the next transfer in single mode completes */
  v = DL_SYSDMA_SINGLE;
  assert_int_equal(dl_dmaex_configure(a, DL_SYSDMA_CONFIGURE_MODE, &v), DL_STATUS_SUCCESS);
  rig_done d2 = {0};
  got = len;
  assert_int_equal(mapex(r, a, mdl, base, 0, &got, 1, &d2, &el), DL_STATUS_SUCCESS);
  dl_clock_run(rig_clock(r));
  assert_int_equal(d2.status, DL_DMA_COMPLETE);
  assert_int_equal(rig_flushex(r, a, mdl, base, 0, len, 1), DL_STATUS_SUCCESS);
  rig_free_object(r, a, DL_DEALLOCATE_OBJECT);
  dl_adapter_put(a);
}

/* A looped (auto-initialize) transfer never reaches its end: the routine
** runs only when it is cancelled. */
static void test_looped_transfer_completes_only_by_cancel(void **state) {
  rig *r = *state;
  dl_uart *u = rig_uart(r, 1000000);
  assert_int_equal(dl_uart_connect(u, dl_dmac8237_of(r->m), 1, DL_UART_NO_LINE), DL_OK);
  rig_uart_enable(u, DL_UART_TX_DMA);
  uint32_t nmr, len = 64;
  dl_adapter *a = rig_adapter(r, isa3(1, 4096, 1), &nmr);
  uint64_t va;
  dl_mdl *mdl = buffer(r, 0, len, 4, &va);
  dl_dmactx *c = rig_dmactx(a);
  uint64_t base = rig_take(r, a, r->dev, c, nmr);
  rig_done d = {0};
  const dl_sg_element *el;
  uint32_t got = len;
  assert_int_equal(mapex(r, a, mdl, base, 0, &got, 1, &d, &el), DL_STATUS_SUCCESS);
  dl_clock_run_until(rig_clock(r), 300 * dl_uart_char_ns(u));
  size_t n;
  dl_uart_sent(u, &n);
  assert_true(n > 2 * len);  /* the ring went round */
  assert_int_equal(d.n, 0);
  dl_machine_set_irql(r->m, DL_DISPATCH_LEVEL);
  assert_int_equal(dl_dmaex_cancel_mapped(a, c), DL_STATUS_SUCCESS);
  dl_machine_set_irql(r->m, DL_PASSIVE_LEVEL);
  assert_int_equal(d.n, 1);
  assert_int_equal(d.status, DL_DMA_CANCELLED);
  assert_int_equal(rig_flushex(r, a, mdl, base, 0, len, 1), DL_STATUS_SUCCESS);
  rig_free_object(r, a, DL_DEALLOCATE_OBJECT);
  dl_adapter_put(a);
}

/* ---- SoC ----------------------------------------------------------------------- */

/* On an SoC line DeviceAddress is the UART's base and DeviceOffset selects
** its DATA FIFO; another offset is no FIFO of the device (0xE6/0x00).
** GetDmaAdapterInfo: a counter, one element, the width, the unit. */
static void test_soc_device_offset_and_info(void **state) {
  rig *r = *state;
  dl_sysdma *ctl;
  assert_int_equal(dl_socdma_new(r->m, 0, 2, 8, 50, &ctl), DL_OK);
  dl_uart *u = rig_uart(r, 2000000);
  assert_int_equal(dl_uart_connect(u, ctl, 5, 6), DL_OK);
  rig_uart_enable(u, DL_UART_TX_DMA);
  dl_device_description d;
  memset(&d, 0, sizeof d);
  d.version = 3;
  d.interface_type = DL_ACPI_BUS;
  d.dma_request_line = 5;
  d.dma_width = DL_WIDTH16;
  d.address_width = 32;
  d.maximum_length = 8192;
  d.device_address = dl_devmodel_bar(dl_uart_model(u));  /* the base: MapTransferEx adds the offset */
  uint32_t nmr;
  dl_adapter *a = rig_adapter(r, d, &nmr);
  dl_dma_adapter_info info;
  assert_int_equal(dl_dmaex_adapter_info(a, DL_DMA_ADAPTER_INFO_VERSION1, &info), DL_STATUS_SUCCESS);
  assert_true(info.read_dma_counter_available);
  assert_int_equal(info.scatter_gather_limit, 1);
  assert_int_equal(info.dma_address_width, 32);
  assert_int_equal(info.minimum_transfer_unit, 2);
  assert_int_equal(info.flags, DL_ADAPTER_INFO_SYNCHRONOUS_CALLBACK);
  uint32_t v = 200;  /* a slower bus: 200 ns a unit */
  assert_int_equal(dl_dmaex_configure(a, DL_SYSDMA_CONFIGURE_CYCLE, &v), DL_STATUS_SUCCESS);
  uint64_t va, before = rig_reports(r);
  dl_mdl *mdl = buffer(r, GiB4, 1000, 5, &va);
  dl_dmactx *c = rig_dmactx(a);
  uint64_t base = rig_take(r, a, r->dev, c, nmr);
  rig_done dn = {0};
  const dl_sg_element *el;
  uint32_t got = 1000;
  assert_int_equal(mapex(r, a, mdl, base, DL_UART_DATA + 4, &got, 1, &dn, &el), DL_STATUS_INVALID_PARAMETER);
  rig_expect(r, before, DL_VF_MISC);
  assert_false(dl_dmactx_mapped(c));
  before = rig_reports(r);
  got = 999;  /* not whole 16-bit units: the controller refuses (0xE6/0x1F) */
  assert_int_equal(mapex(r, a, mdl, base, DL_UART_DATA, &got, 1, &dn, &el), DL_STATUS_INVALID_PARAMETER);
  rig_expect(r, before, DL_VF_INVALID_DMA_BUFFER);
  before = rig_reports(r);
  got = 1000;
  assert_int_equal(mapex(r, a, mdl, base, DL_UART_DATA, &got, 1, &dn, &el), DL_STATUS_SUCCESS);
  assert_true(el[0].address + 999 <= UINT32_MAX);  /* bounced below the 32-bit ceiling */
  assert_int_equal(dl_adapter_read_counter(a), 1000);
  dl_clock_run(rig_clock(r));
  assert_int_equal(dn.n, 1);
  assert_int_equal(dn.status, DL_DMA_COMPLETE);
  assert_sent(r, u, va, 1000);
  assert_int_equal(rig_flushex(r, a, mdl, base, 0, 1000, 1), DL_STATUS_SUCCESS);
  rig_free_object(r, a, DL_DEALLOCATE_OBJECT);
  dl_adapter_put(a);
  rig_expect_none(r, before);
}

/* ---- the channel and the verifier ----------------------------------------------- */

/* AllocateAdapterChannelEx with a routine that keeps the channel and maps
** inside it; DMA_SYNCHRONOUS_CALLBACK while another context holds the
** channel fails at once; a waiting allocation is cancellable. */
typedef struct inside { rig *r; dl_adapter *a; dl_mdl *mdl; rig_done d; uint64_t base; uint32_t st; } inside;
static int control(void *ctx, dl_device *dev, uint64_t base) {
  (void)dev;
  inside *x = ctx;
  x->base = base;
  uint32_t len = 100, n;
  const dl_sg_element *el;
  x->st = dl_dmaex_map_transfer(x->a, x->mdl, base, 0, 0, &len, 1, 0, rig_completion, &x->d, &el, &n);
  return DL_KEEP_OBJECT;
}

static void test_channel_with_routine_and_cancel(void **state) {
  rig *r = *state;
  dl_uart *u = rig_uart(r, 1000000);
  assert_int_equal(dl_uart_connect(u, dl_dmac8237_of(r->m), 1, DL_UART_NO_LINE), DL_OK);
  rig_uart_enable(u, DL_UART_TX_DMA);
  uint32_t nmr;
  dl_adapter *a = rig_adapter(r, isa3(1, 4096, 0), &nmr);
  uint64_t va, before = rig_reports(r);
  dl_mdl *mdl = buffer(r, 0, 100, 6, &va);
  dl_dmactx *c1 = rig_dmactx(a), *c2 = rig_dmactx(a), *c3 = rig_dmactx(a);
  inside x = {.r = r, .a = a, .mdl = mdl};
  dl_machine_set_irql(r->m, DL_DISPATCH_LEVEL);
  assert_int_equal(dl_dmaex_allocate_channel(a, r->dev, c1, nmr, 0, control, &x, NULL), DL_STATUS_SUCCESS);
  assert_int_equal(x.st, DL_STATUS_SUCCESS);  /* mapped and started inside AdapterControl */
  uint64_t b2 = 1;
  assert_int_equal(dl_dmaex_allocate_channel(a, r->dev, c2, nmr, DL_DMA_SYNCHRONOUS_CALLBACK,
                                             control, &x, &b2), DL_STATUS_INSUFFICIENT_RESOURCES);
  inside y = {.r = r, .a = a, .mdl = mdl};
  assert_int_equal(dl_dmaex_allocate_channel(a, r->dev, c3, nmr, 0, control, &y, NULL), DL_STATUS_SUCCESS);
  assert_true(dl_dmactx_pending(c3));
  assert_int_equal(dl_dmaex_cancel_channel(a, r->dev, c3), 1);  /* waiting: withdrawn */
  assert_int_equal(dl_dmaex_cancel_channel(a, r->dev, c1), 0);  /* granted */
  dl_machine_set_irql(r->m, DL_PASSIVE_LEVEL);
  dl_clock_run(rig_clock(r));
  assert_int_equal(x.d.n, 1);
  assert_int_equal(x.d.status, DL_DMA_COMPLETE);
  assert_int_equal(y.base, 0);  /* never ran */
  assert_sent(r, u, va, 100);
  assert_int_equal(rig_flushex(r, a, mdl, x.base, 0, 100, 1), DL_STATUS_SUCCESS);
  dl_machine_set_irql(r->m, DL_DISPATCH_LEVEL);
  dl_adapter_free_channel(a);
  dl_machine_set_irql(r->m, DL_PASSIVE_LEVEL);
  dl_adapter_put(a);
  rig_expect_none(r, before);
}

/* Misuse: MapTransferEx with a base AllocateAdapterChannel (no context)
** gave; an uninitialised context; the list routines ("do not call for a
** system DMA device"); freeing the channel with a transfer mapped (0x10:
** the channel stops and the routine is dropped). */
static void test_verifier_reports(void **state) {
  rig *r = *state;
  dl_uart *u = rig_uart(r, 115200);
  assert_int_equal(dl_uart_connect(u, dl_dmac8237_of(r->m), 1, DL_UART_NO_LINE), DL_OK);
  rig_uart_enable(u, DL_UART_TX_DMA);
  uint32_t nmr;
  dl_adapter *a = rig_adapter(r, isa3(1, 8192, 0), &nmr);
  dl_adapter_set_drop(a, on_drop);
  uint64_t va;
  dl_mdl *mdl = buffer(r, 0, 1000, 8, &va);
  const dl_sg_element *el;
  rig_done d = {0};
  /* a v1 allocation: no DMA transfer context behind its base */
  inside x = {.r = r, .a = a, .mdl = mdl};
  uint64_t before = rig_reports(r);
  dl_machine_set_irql(r->m, DL_DISPATCH_LEVEL);
  assert_int_equal(dl_adapter_allocate_channel(a, r->dev, nmr, control, &x), DL_STATUS_SUCCESS);
  dl_machine_set_irql(r->m, DL_PASSIVE_LEVEL);
  assert_int_equal(x.st, DL_STATUS_INVALID_PARAMETER);
  rig_expect(r, before, DL_VF_MISC);
  assert_non_null(strstr(rig_last(r)->message, "InitializeDmaTransferContext"));
  assert_int_equal(x.d.n, 0);
  dl_machine_set_irql(r->m, DL_DISPATCH_LEVEL);
  dl_adapter_free_channel(a);
  dl_machine_set_irql(r->m, DL_PASSIVE_LEVEL);
  /* an uninitialised context */
  dl_dmactx *raw;
  assert_int_equal(dl_dmactx_new(a, &raw), DL_OK);
  uint64_t base = 0;
  before = rig_reports(r);
  dl_machine_set_irql(r->m, DL_DISPATCH_LEVEL);
  assert_int_equal(dl_dmaex_allocate_channel(a, r->dev, raw, nmr, DL_DMA_SYNCHRONOUS_CALLBACK,
                                             NULL, NULL, &base), DL_STATUS_INVALID_PARAMETER);
  dl_machine_set_irql(r->m, DL_PASSIVE_LEVEL);
  rig_expect(r, before, DL_VF_MISC);
  /* the list routines */
  dl_dmactx *c = rig_dmactx(a);
  dl_sglist *sg;
  uint64_t id;
  before = rig_reports(r);
  dl_machine_set_irql(r->m, DL_DISPATCH_LEVEL);
  assert_int_equal(dl_dmaex_get_sglist(a, r->dev, c, mdl, 0, 1000, DL_DMA_SYNCHRONOUS_CALLBACK, NULL,
                                       NULL, 1, NULL, NULL, 0, &sg, &id), DL_STATUS_NOT_SUPPORTED);
  dl_machine_set_irql(r->m, DL_PASSIVE_LEVEL);
  rig_expect(r, before, DL_VF_MISC);
  assert_non_null(strstr(rig_last(r)->message, "system DMA"));
  /* freeing the channel with a transfer mapped */
  base = rig_take(r, a, r->dev, c, nmr);
  uint32_t got = 1000;
  assert_int_equal(mapex(r, a, mdl, base, 0, &got, 1, &d, &el), DL_STATUS_SUCCESS);
  dl_clock_run_until(rig_clock(r), dl_clock_now(rig_clock(r)) + 100 * dl_uart_char_ns(u));
  before = rig_reports(r);
  ndropped = 0;
  rig_free_object(r, a, DL_DEALLOCATE_OBJECT);
  rig_expect(r, before, DL_VF_FREED_WHILE_MAPPED);
  assert_int_equal(ndropped, 1);
  assert_ptr_equal(dropped, &d);
  assert_false(dl_dmactx_mapped(c));
  uint32_t left = dl_adapter_read_counter(a);
  dl_clock_run(rig_clock(r));
  assert_int_equal(dl_adapter_read_counter(a), left);  /* the channel was masked */
  assert_int_equal(d.n, 0);
  dl_adapter_put(a);
}

/* GetDmaTransferInfo counts the map registers MapTransferEx then takes;
** AllocateCommonBufferEx on an ISA channel stays below 16 MiB in one block. */
static void test_transfer_info_and_common_buffer(void **state) {
  rig *r = *state;
  uint32_t nmr;
  dl_adapter *a = rig_adapter(r, isa3(5, 8 * PS, 0), &nmr);  /* 16-bit: 128 KiB blocks */
  uint64_t va;
  dl_mdl *mdl = buffer(r, GiB4, 3 * PS, 1, &va);
  dl_dma_transfer_info ti;
  assert_int_equal(dl_dmaex_transfer_info(a, mdl, 0, 3 * PS, 1, DL_DMA_TRANSFER_INFO_VERSION1, &ti),
                   DL_STATUS_SUCCESS);
  assert_int_equal(ti.map_register_count, 3);
  dl_dma_adapter_info info;
  assert_int_equal(dl_dmaex_adapter_info(a, DL_DMA_ADAPTER_INFO_VERSION1, &info), DL_STATUS_SUCCESS);
  assert_int_equal(info.dma_address_width, 24);
  assert_int_equal(info.minimum_transfer_unit, 2);
  uint64_t cva, logical;
  assert_int_equal(dl_dmaex_alloc_common(a, 0, 2 * PS, 1, DL_MM_ANY_NODE_OK, &cva, &logical), DL_OK);
  assert_true(logical + 2 * PS - 1 <= 0xFFFFFF);
  assert_int_equal(logical / 0x20000, (logical + 2 * PS - 1) / 0x20000);
  dl_adapter_free_common(a, 2 * PS, logical, cva, 1);
  dl_adapter_put(a);
}

int main(void) {
#define T(f) cmocka_unit_test_setup_teardown(f, rig_setup, rig_teardown)
  const struct CMUnitTest tests[] = {
    T(test_isa_transfer_completes),
    T(test_isa_early_flush_copies_back_what_moved),
    T(test_isa_cancel_while_mapped),
    T(test_configure_block_mode_gives_dma_error),
    T(test_looped_transfer_completes_only_by_cancel),
    T(test_soc_device_offset_and_info),
    T(test_channel_with_routine_and_cancel),
    T(test_verifier_reports),
    T(test_transfer_info_and_common_buffer),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
