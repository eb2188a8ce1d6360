/*
** test_socsg.c: scatter/gather on the SoC system DMA controller. The
** engine walks a chain of descriptors as one transfer, unit by unit at the
** peripheral's pace (terminal count at the end of the last, the counter over
** the whole chain, auto-initialize back to the first); a version-3 system
** adapter on it has the controller's capability (DEVICE_DESCRIPTION's
** ScatterGather is "not used" for a subordinate device): GetDmaAdapterInfo's
** ScatterGatherLimit, MapTransferEx mapping the buffer's contiguous runs
** unbounced into one programmed transfer (up to the limit and the caller's
** buffer; the default NULL buffer holds one element), GetDmaTransferInfo
** counting the same runs, MapTransfer giving one run, FlushAdapterBuffersEx
** copying back only what reached each bounced piece, whole units per element.
*/
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "rig.h"
#include "rig_dmaex.h"
#include "devices/dl_uart.h"
#include "hal/dl_dmaex.h"
#include "hal/dl_slave.h"
#include "hal/dl_socdma.h"

/* SoC controller 0 with 2 channels, 8 lines, 50 ns a unit, `limit` elements. */
static dl_sysdma *soc(rig *r, uint32_t limit) {
  dl_sysdma *c;
  assert_int_equal(dl_socdma_new(r->m, 0, 2, 8, 50, &c), DL_OK);
  if (limit > 1) assert_int_equal(dl_sysdma_set_max_elements(c, limit), DL_OK);
  return c;
}

/* A version-3 description of request line `line` (ACPIBus), `width`. */
static dl_device_description soc3(uint32_t line, int width, uint64_t maxlen, dl_uart *u) {
  dl_device_description d;
  memset(&d, 0, sizeof d);
  d.version = 3;
  d.interface_type = DL_ACPI_BUS;
  d.scatter_gather = 1;
  d.dma_request_line = line;
  d.dma_width = width;
  d.address_width = 32;
  d.maximum_length = maxlen;
  d.device_address = dl_devmodel_bar(dl_uart_model(u));
  return d;
}

/* A buffer of len bytes from `off` into its first page over `n` pages: page
** i is pfns[i]. */
static dl_mdl *buffer_over(rig *r, const uint64_t *pfns, uint32_t off, uint32_t len, unsigned seed,
                           uint64_t *va) {
  dl_region *reg = rig_map(r, pfns, off, len);
  rig_pattern(r, reg->va, len, seed);
  *va = reg->va;
  return rig_mdl(r, reg);
}

/* n pages below 4 GiB, every other one of a contiguous run: no two adjacent. */
static void scattered(rig *r, uint32_t n, uint64_t *pfns) {
  uint64_t first = rig_pages_at(r, 2 * n, 0);
  for (uint32_t i = 0; i < n; i++) pfns[i] = first + 2 * i;
}

/* MapTransferEx at DISPATCH_LEVEL from `offset` toward the UART's DATA FIFO,
** with a buffer of sg_len bytes (0: the default). */
static uint32_t mapex(rig *r, dl_adapter *a, dl_mdl *mdl, uint64_t base, uint64_t offset,
                      uint32_t *len, int write, uint64_t sg_len, rig_done *d,
                      const dl_sg_element **el, uint32_t *n) {
  return rig_mapex(r, a, mdl, base, offset, DL_UART_DATA, len, write, sg_len, d, el, n);
}

/* ---- the engine ------------------------------------------------------------------ */

/* A chain of three discontiguous blocks moves as one transfer at the UART's
** pace: the counter covers the whole chain, the element index advances,
** terminal count comes once, at the end of the last; the bytes reach the
** wire in chain order; each descriptor after the first is counted. */
static void test_engine_walks_chain(void **state) {
  rig *r = *state;
  dl_sysdma *c = soc(r, 4);
  assert_int_equal(dl_sysdma_max_elements(c), 4);
  dl_uart *u = rig_uart(r, 2000000);  /* 5000 ns a character */
  assert_int_equal(dl_uart_connect(u, c, 1, DL_UART_NO_LINE), DL_OK);
  uint64_t p = rig_pages_at(r, 6, 0) * PS;
  uint8_t src[300];
  for (int i = 0; i < 300; i++) src[i] = (uint8_t)(i * 7 + 1);
  dl_sysdma_desc d[3] = {{p + 5 * PS + 10, 100}, {p + 2 * PS, 120}, {p + 100, 80}};
  uint32_t at = 0;
  for (int i = 0; i < 3; i++) {
    assert_int_equal(dl_physmem_write(dl_machine_physmem(r->m), d[i].address, src + at, d[i].count), DL_OK);
    at += d[i].count;
  }
  dl_sysdma_xfer x = {.unit = 1, .line = 1, .to_device = 1};
  assert_int_equal(dl_sysdma_program_chain(c, 0, &x, d, 3), DL_OK);
  assert_int_equal(dl_sysdma_remaining(c, 0), 300);
  assert_int_equal(dl_sysdma_programmed(c, 0)->count, 300);
  assert_int_equal(dl_sysdma_programmed(c, 0)->address, d[0].address);
  uint32_t n, i = dl_sysdma_element(c, 0, &n);
  assert_int_equal(i, 0);
  assert_int_equal(n, 3);
  rig_uart_enable(u, DL_UART_TX_DMA);
  dl_sysdma_mask(c, 0, 0);
  uint64_t ch_ns = dl_uart_char_ns(u);
  dl_clock_run_until(rig_clock(r), 150 * ch_ns);  /* ~150 on the wire, the FIFO a little ahead */
  uint32_t left = dl_sysdma_remaining(c, 0);
  assert_true(left > 300 - 180 && left < 300 - 150);
  assert_int_equal(dl_sysdma_element(c, 0, NULL), 1);
  assert_int_equal(dl_sysdma_current(c, 0), d[1].address + (300 - left - 100));
  assert_int_equal(dl_sysdma_get_stats(c)->terminal_counts, 0);
  dl_clock_run(rig_clock(r));
  assert_int_equal(dl_sysdma_remaining(c, 0), 0);
  assert_true(dl_sysdma_masked(c, 0));
  const dl_sysdma_stats *st = dl_sysdma_get_stats(c);
  assert_int_equal(st->terminal_counts, 1);
  assert_int_equal(st->descriptors, 2);
  assert_int_equal(st->units, 300);
  size_t sent;
  const uint8_t *w = dl_uart_sent(u, &sent);
  assert_int_equal(sent, 300);
  assert_memory_equal(w, src, 300);
  assert_true(dl_uart_last_sent_at(u) >= 300 * ch_ns && dl_uart_last_sent_at(u) < 301 * ch_ns);
}

/* Auto-initialize reloads the first descriptor: the counter is the whole
** chain again after each terminal count, and the chain repeats. */
static void test_engine_auto_init_chain(void **state) {
  rig *r = *state;
  dl_sysdma *c = soc(r, 2);
  dl_uart *u = rig_uart(r, 2000000);
  assert_int_equal(dl_uart_connect(u, c, 1, DL_UART_NO_LINE), DL_OK);
  uint64_t p = rig_pages_at(r, 3, 0) * PS;
  dl_sysdma_desc d[2] = {{p + 2 * PS, 8}, {p, 8}};
  uint8_t a8[8] = "ABCDEFGH", b8[8] = "abcdefgh";
  dl_physmem_write(dl_machine_physmem(r->m), d[0].address, a8, 8);
  dl_physmem_write(dl_machine_physmem(r->m), d[1].address, b8, 8);
  dl_sysdma_xfer x = {.unit = 1, .line = 1, .to_device = 1, .auto_init = 1};
  assert_int_equal(dl_sysdma_program_chain(c, 0, &x, d, 2), DL_OK);
  rig_uart_enable(u, DL_UART_TX_DMA);
  dl_sysdma_mask(c, 0, 0);
  uint64_t ch_ns = dl_uart_char_ns(u);
  dl_clock_run_until(rig_clock(r), 40 * ch_ns);
  dl_sysdma_mask(c, 0, 1);
  dl_clock_run(rig_clock(r));
  assert_true(dl_sysdma_get_stats(c)->terminal_counts >= 2);
  assert_int_equal(dl_sysdma_get_stats(c)->descriptors, dl_sysdma_get_stats(c)->terminal_counts +
                   (dl_sysdma_element(c, 0, NULL) == 1));
  size_t sent;
  const uint8_t *w = dl_uart_sent(u, &sent);
  assert_true(sent >= 32);
  assert_memory_equal(w, "ABCDEFGHabcdefghABCDEFGHabcdefgh", 32);
  /* mid-chain: what the pass has left; at a pass's end: the whole chain again */
  assert_int_equal(dl_sysdma_remaining(c, 0), 16 - dl_sysdma_get_stats(c)->units % 16);
}

/* The limits: 1..DL_SYSDMA_MAX_ELEMENTS elements, set before any channel
** is programmed; a chain longer than the controller takes, with an empty
** element or on a controller without scatter/gather is refused. */
static void test_engine_limits(void **state) {
  rig *r = *state;
  dl_sysdma *c = soc(r, 1);
  assert_int_equal(dl_sysdma_max_elements(c), 1);
  dl_sysdma_desc d[3] = {{0x10000, 4}, {0x20000, 4}, {0x30000, 4}};
  dl_sysdma_xfer x = {.unit = 1, .line = 0};
  assert_int_equal(dl_sysdma_program_chain(c, 0, &x, d, 2), DL_EINVAL);  /* no S/G */
  assert_int_equal(dl_sysdma_set_max_elements(c, 0), DL_EINVAL);
  assert_int_equal(dl_sysdma_set_max_elements(c, DL_SYSDMA_MAX_ELEMENTS + 1), DL_EINVAL);
  assert_int_equal(dl_sysdma_set_max_elements(c, 2), DL_OK);
  assert_int_equal(dl_sysdma_program_chain(c, 0, &x, d, 3), DL_EINVAL);  /* above the limit */
  assert_int_equal(dl_sysdma_program_chain(c, 0, &x, d, 0), DL_EINVAL);
  d[1].count = 0;
  assert_int_equal(dl_sysdma_program_chain(c, 0, &x, d, 2), DL_EINVAL);
  d[1].count = 4;
  assert_int_equal(dl_sysdma_program_chain(c, 0, &x, d, 2), DL_OK);
  assert_int_equal(dl_sysdma_remaining(c, 0), 8);
  assert_int_equal(dl_sysdma_set_max_elements(c, 8), DL_EBUSY);  /* a channel is programmed */
  x.count = 5;
  x.address = 0x40000;
  assert_int_equal(dl_sysdma_program(c, 1, &x), DL_OK);  /* a plain transfer: a chain of one */
  uint32_t n;
  dl_sysdma_element(c, 1, &n);
  assert_int_equal(n, 1);
  assert_int_equal(dl_sysdma_remaining(c, 1), 5);
}

/* ---- the adapter ------------------------------------------------------------------ */

/* "For a subordinate DMA device, the ScatterGather value is not used":
** the controller decides. An S/G controller's adapter reports its limit
** and takes NumberOfMapRegisters by the same rule; a plain controller's
** reports 1 even with ScatterGather TRUE. */
static void test_capability_is_the_controller_s(void **state) {
  rig *r = *state;
  dl_sysdma *c = soc(r, 16);
  dl_uart *u = rig_uart(r, 2000000);
  assert_int_equal(dl_uart_connect(u, c, 1, DL_UART_NO_LINE), DL_OK);
  dl_device_description d = soc3(1, DL_WIDTH8, 8192, u);
  d.scatter_gather = 0;
  uint32_t nmr;
  dl_adapter *a = rig_adapter(r, d, &nmr);
  assert_int_equal(nmr, 3);  /* BYTES_TO_PAGES(8192) + 1 */
  assert_int_equal(dl_slave_sg_limit(a), 16);
  dl_dma_adapter_info info;
  assert_int_equal(dl_dmaex_adapter_info(a, DL_DMA_ADAPTER_INFO_VERSION1, &info), DL_STATUS_SUCCESS);
  assert_int_equal(info.scatter_gather_limit, 16);
  assert_true(info.read_dma_counter_available);
  assert_int_equal(info.minimum_transfer_unit, 1);
  dl_adapter_put(a);
  dl_sysdma *plain;
  assert_int_equal(dl_socdma_new(r->m, 1, 2, 8, 50, &plain), DL_OK);
  d.dma_controller_instance = 1;
  d.scatter_gather = 1;
  a = rig_adapter(r, d, &nmr);
  assert_int_equal(nmr, 3);
  assert_int_equal(dl_dmaex_adapter_info(a, DL_DMA_ADAPTER_INFO_VERSION1, &info), DL_STATUS_SUCCESS);
  assert_int_equal(info.scatter_gather_limit, 1);
  dl_adapter_put(a);
}

/* The whole discontiguous buffer in one MapTransferEx: one element per
** page (GetDmaTransferInfo says as many), the buffer's own addresses (no
** bounce), one programmed transfer at the UART's pace, the counter over
** all of it, DmaComplete once at the last element's terminal count. */
static void test_mapex_chain_one_transfer(void **state) {
  rig *r = *state;
  dl_sysdma *c = soc(r, 8);
  dl_uart *u = rig_uart(r, 2000000);
  assert_int_equal(dl_uart_connect(u, c, 1, DL_UART_NO_LINE), DL_OK);
  rig_uart_enable(u, DL_UART_TX_DMA);
  uint32_t nmr, len = 3 * PS + 400, off = 0x300;
  dl_adapter *a = rig_adapter(r, soc3(1, DL_WIDTH8, 5 * PS, u), &nmr);
  uint64_t pfns[4], va, before = rig_reports(r);
  scattered(r, 4, pfns);
  dl_mdl *mdl = buffer_over(r, pfns, off, len, 4, &va);
  dl_dma_transfer_info ti;
  assert_int_equal(dl_dmaex_transfer_info(a, mdl, 0, len, 1, DL_DMA_TRANSFER_INFO_VERSION1, &ti),
                   DL_STATUS_SUCCESS);
  assert_int_equal(ti.sg_element_count, 4);
  assert_int_equal(ti.map_register_count, 4);
  assert_int_equal(ti.sg_list_size, DL_SGLIST_SIZE(4));
  dl_dmactx *ctx = rig_dmactx(a);
  uint64_t base = rig_take(r, a, r->dev, ctx, ti.map_register_count);
  rig_done dn = {0};
  const dl_sg_element *el;
  uint32_t n = 0, got = len;
  assert_int_equal(mapex(r, a, mdl, base, 0, &got, 1, ti.sg_list_size, &dn, &el, &n), DL_STATUS_SUCCESS);
  assert_int_equal(got, len);
  assert_int_equal(n, 4);
  assert_int_equal(el[0].address, pfns[0] * PS + off);
  assert_int_equal(el[0].length, PS - off);
  for (uint32_t i = 1; i < 4; i++) assert_int_equal(el[i].address, pfns[i] * PS);
  assert_int_equal(el[3].length, len - (PS - off) - 2 * PS);
  assert_int_equal(dl_adapter_get_stats(a)->bytes_bounced, 0);
  assert_int_equal(dl_adapter_read_counter(a), len);
  uint32_t ch;
  assert_ptr_equal(dl_adapter_controller(a, &ch), c);
  uint64_t ch_ns = dl_uart_char_ns(u);
  dl_clock_run_until(rig_clock(r), (PS + 500) * ch_ns);  /* well into the second page's element */
  uint32_t left = dl_adapter_read_counter(a);
  assert_true(left < len - (PS - off) && left > len - (PS - off) - PS);
  assert_int_equal(dl_sysdma_element(c, ch, NULL), 1);
  assert_int_equal(dn.n, 0);
  dl_clock_run(rig_clock(r));
  assert_int_equal(dn.n, 1);
  assert_int_equal(dn.status, DL_DMA_COMPLETE);
  assert_true(dn.at >= (len - 20) * ch_ns && dn.at <= dl_uart_last_sent_at(u));
  assert_int_equal(dl_sysdma_get_stats(c)->terminal_counts, 1);
  assert_int_equal(dl_sysdma_get_stats(c)->descriptors, 3);
  rig_assert_sent(r, u, va, 0, len);
  assert_int_equal(rig_flushex(r, a, mdl, base, 0, len, 1), DL_STATUS_SUCCESS);
  rig_free_object(r, a, DL_DEALLOCATE_OBJECT);
  dl_adapter_put(a);
  rig_expect_none(r, before);
}

/* The controller's limit and the caller's buffer cap the elements:
** *Length comes back at the end of the last run mapped; the next
** MapTransferEx, after the flush, goes on from there. The default (NULL)
** buffer holds one element: one run, unbounced. */
static void test_limit_and_buffer_cap_elements(void **state) {
  rig *r = *state;
  dl_sysdma *c = soc(r, 2);
  dl_uart *u = rig_uart(r, 2000000);
  assert_int_equal(dl_uart_connect(u, c, 1, DL_UART_NO_LINE), DL_OK);
  rig_uart_enable(u, DL_UART_TX_DMA);
  uint32_t nmr, len = 4 * PS;
  dl_adapter *a = rig_adapter(r, soc3(1, DL_WIDTH8, len, u), &nmr);
  uint64_t pfns[4], va, before = rig_reports(r);
  scattered(r, 4, pfns);
  dl_mdl *mdl = buffer_over(r, pfns, 0, len, 6, &va);
  dl_dmactx *ctx = rig_dmactx(a);
  uint64_t base = rig_take(r, a, r->dev, ctx, nmr);
  rig_done dn = {0};
  const dl_sg_element *el;
  uint32_t n = 0, got = len;
  /* room for 4 in the buffer, the controller walks 2 */
  assert_int_equal(mapex(r, a, mdl, base, 0, &got, 1, DL_SGLIST_SIZE(4), &dn, &el, &n), DL_STATUS_SUCCESS);
  assert_int_equal(n, 2);
  assert_int_equal(got, 2 * PS);
  assert_int_equal(el[1].address, pfns[1] * PS);
  dl_clock_run(rig_clock(r));
  assert_int_equal(dn.n, 1);
  assert_int_equal(rig_flushex(r, a, mdl, base, 0, got, 1), DL_STATUS_SUCCESS);
  /* the default buffer: one element, the contiguous run, not bounced */
  got = len - 2 * PS;
  rig_done dn2 = {0};
  assert_int_equal(mapex(r, a, mdl, base, 2 * PS, &got, 1, 0, &dn2, &el, &n), DL_STATUS_SUCCESS);
  assert_int_equal(n, 1);
  assert_int_equal(got, PS);
  assert_int_equal(el[0].address, pfns[2] * PS);
  dl_clock_run(rig_clock(r));
  assert_int_equal(dn2.status, DL_DMA_COMPLETE);
  assert_int_equal(rig_flushex(r, a, mdl, base, 2 * PS, got, 1), DL_STATUS_SUCCESS);
  /* a buffer of one element: the same */
  got = PS;
  rig_done dn3 = {0};
  assert_int_equal(mapex(r, a, mdl, base, 3 * PS, &got, 1, DL_SGLIST_SIZE(1), &dn3, &el, &n),
                   DL_STATUS_SUCCESS);
  assert_int_equal(n, 1);
  dl_clock_run(rig_clock(r));
  assert_int_equal(rig_flushex(r, a, mdl, base, 3 * PS, got, 1), DL_STATUS_SUCCESS);
  assert_int_equal(dl_adapter_get_stats(a)->bytes_bounced, 0);
  rig_assert_sent(r, u, va, 0, len);
  rig_free_object(r, a, DL_DEALLOCATE_OBJECT);
  dl_adapter_put(a);
  rig_expect_none(r, before);
}

/* MapTransfer (version 1's operation) maps one contiguous block a call:
** on a scatter/gather controller the run at CurrentVa, unbounced, *Length
** shortened as for a scatter/gather master, programmed as one transfer. */
static int keep(void *ctx, dl_device *dev, uint64_t base) {
  (void)dev;
  *(uint64_t *)ctx = base;
  return DL_KEEP_OBJECT;
}

static void test_maptransfer_maps_one_run(void **state) {
  rig *r = *state;
  dl_sysdma *c = soc(r, 4);
  dl_uart *u = rig_uart(r, 2000000);
  assert_int_equal(dl_uart_connect(u, c, 1, DL_UART_NO_LINE), DL_OK);
  rig_uart_enable(u, DL_UART_TX_DMA);
  uint32_t nmr, len = 2 * PS;
  dl_adapter *a = rig_adapter(r, soc3(1, DL_WIDTH8, len, u), &nmr);
  uint64_t pfns[2], va, base = 0, logical = 0, before = rig_reports(r);
  scattered(r, 2, pfns);
  dl_mdl *mdl = buffer_over(r, pfns, 0, len, 8, &va);
  dl_machine_set_irql(r->m, DL_DISPATCH_LEVEL);
  assert_int_equal(dl_adapter_allocate_channel(a, r->dev, nmr, keep, &base), DL_STATUS_SUCCESS);
  uint32_t got = len;
  assert_int_equal(dl_adapter_map_transfer(a, mdl, base, va, &got, 1, &logical), DL_OK);
  dl_machine_set_irql(r->m, DL_PASSIVE_LEVEL);
  assert_int_equal(got, PS);
  assert_int_equal(logical, pfns[0] * PS);
  assert_int_equal(dl_adapter_read_counter(a), PS);
  dl_clock_run(rig_clock(r));
  assert_int_equal(dl_adapter_read_counter(a), 0);
  dl_machine_set_irql(r->m, DL_DISPATCH_LEVEL);
  assert_int_equal(dl_adapter_flush(a, mdl, base, va, got, 1), 1);
  dl_adapter_free_channel(a);
  dl_machine_set_irql(r->m, DL_PASSIVE_LEVEL);
  assert_int_equal(dl_adapter_get_stats(a)->bytes_bounced, 0);
  rig_assert_sent(r, u, va, 0, PS);
  dl_adapter_put(a);
  rig_expect_none(r, before);
}

/* A read over pages below and above the 32-bit ceiling: the high ones
** bounce (each its own element), the low one does not; cancelled early
** (CancelMappedTransfer: DmaCancelled, then the flush it owes; a flush
** alone would be 0xE6/0x23), each bounced piece gets back only what
** reached it. */
static void test_read_flush_copies_back_per_piece(void **state) {
  rig *r = *state;
  dl_sysdma *c = soc(r, 4);
  dl_uart *u = rig_uart(r, 2000000);
  assert_int_equal(dl_uart_connect(u, c, DL_UART_NO_LINE, 2), DL_OK);
  rig_uart_enable(u, DL_UART_RX_DMA);
  uint32_t nmr, len = 3 * PS;
  dl_adapter *a = rig_adapter(r, soc3(2, DL_WIDTH8, len, u), &nmr);
  uint64_t pfns[3], va, before = rig_reports(r);
  pfns[0] = rig_pages_at(r, 1, 0);
  uint64_t high = rig_pages_at(r, 2, GiB4);
  pfns[1] = high;
  pfns[2] = high + 1;
  dl_mdl *mdl = buffer_over(r, pfns, 0, len, 2, &va);
  dl_dmactx *ctx = rig_dmactx(a);
  uint64_t base = rig_take(r, a, r->dev, ctx, nmr);
  rig_done dn = {0};
  const dl_sg_element *el;
  uint32_t n = 0, got = len;
  assert_int_equal(mapex(r, a, mdl, base, 0, &got, 0, DL_SGLIST_SIZE(4), &dn, &el, &n), DL_STATUS_SUCCESS);
  assert_int_equal(got, len);
  assert_int_equal(n, 2);  /* the low page, then the two high ones bounced together */
  assert_int_equal(el[0].address, pfns[0] * PS);
  assert_true(el[1].address + 2 * PS - 1 <= UINT32_MAX);
  assert_int_equal(dl_adapter_get_stats(a)->bytes_bounced, 2 * PS);
  uint32_t in_len = PS + 100;
  static uint8_t in[PS + 100];
  for (uint32_t i = 0; i < in_len; i++) in[i] = (uint8_t)(i * 13 + 5);
  assert_int_equal(dl_uart_receive(u, in, in_len), DL_OK);
  dl_clock_run(rig_clock(r));
  assert_int_equal(dl_adapter_read_counter(a), len - in_len);
  dl_machine_set_irql(r->m, DL_DISPATCH_LEVEL);
  assert_int_equal(dl_dmaex_cancel_mapped(a, ctx), DL_STATUS_SUCCESS);
  dl_machine_set_irql(r->m, DL_PASSIVE_LEVEL);
  assert_int_equal(dn.n, 1);
  assert_int_equal(dn.status, DL_DMA_CANCELLED);
  assert_int_equal(rig_flushex(r, a, mdl, base, 0, len, 0), DL_STATUS_SUCCESS);
  static uint8_t out[3 * PS];
  dl_machine_read_va(r->m, va, out, len);
  assert_memory_equal(out, in, in_len);
  /* the rest of the bounced piece did not come back: the pattern is still there */
  for (uint32_t i = in_len; i < len; i++)
    if (out[i] != (uint8_t)(i * 31 + 2 * 7 + (i >> 8))) fail_msg("byte %u overwritten", i);
  assert_int_equal(dn.n, 1);
  rig_free_object(r, a, DL_DEALLOCATE_OBJECT);
  dl_adapter_put(a);
  rig_expect_none(r, before);
}

/* Each element is whole units of DmaWidth (MinimumTransferUnit): a 16-bit
** channel refuses a chain whose first run is an odd number of bytes
** (0xE6/0x1F), and nothing stays mapped. */
static void test_elements_are_whole_units(void **state) {
  rig *r = *state;
  dl_sysdma *c = soc(r, 4);
  dl_uart *u = rig_uart(r, 2000000);
  assert_int_equal(dl_uart_connect(u, c, 1, DL_UART_NO_LINE), DL_OK);
  uint32_t nmr, len = 2 * PS;
  dl_adapter *a = rig_adapter(r, soc3(1, DL_WIDTH16, 3 * PS, u), &nmr);
  uint64_t pfns[3], va, before = rig_reports(r);
  scattered(r, 3, pfns);
  dl_mdl *mdl = buffer_over(r, pfns, 1, len, 1, &va);  /* runs of 4095, 4096, 1 */
  dl_dmactx *ctx = rig_dmactx(a);
  uint64_t base = rig_take(r, a, r->dev, ctx, nmr);
  const dl_sg_element *el;
  uint32_t n = 0, got = len;
  assert_int_equal(mapex(r, a, mdl, base, 0, &got, 1, DL_SGLIST_SIZE(4), NULL, &el, &n),
                   DL_STATUS_INVALID_PARAMETER);
  rig_expect(r, before, DL_VF_INVALID_DMA_BUFFER);
  assert_false(dl_dmactx_mapped(ctx));
  rig_free_object(r, a, DL_DEALLOCATE_OBJECT);
  dl_adapter_put(a);
}

#define T(f) cmocka_unit_test_setup_teardown(f, rig_setup, rig_teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
    T(test_engine_walks_chain),
    T(test_engine_auto_init_chain),
    T(test_engine_limits),
    T(test_capability_is_the_controller_s),
    T(test_mapex_chain_one_transfer),
    T(test_limit_and_buffer_cap_elements),
    T(test_maptransfer_maps_one_run),
    T(test_read_flush_copies_back_per_piece),
    T(test_elements_are_whole_units),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
