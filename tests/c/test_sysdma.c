/*
** test_sysdma.c: system (slave) DMA without Lua: the 8237 through its ports
** (64/128 KiB blocks, 16 MiB, the flip-flop, terminal count, auto-initialize),
** the UART pacing transfers at its baud rate, IoGetDmaAdapter with Master
** FALSE (ISA and SoC), MapTransfer programming the controller (bouncing
** below 16 MiB and inside one block), ReadDmaCounter mid-transfer,
** FlushAdapterBuffers, FreeAdapterChannel and the verifier's reports.
*/
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "rig.h"
#include "devices/dl_uart.h"
#include "hal/dl_dmac8237.h"
#include "hal/dl_slave.h"
#include "hal/dl_socdma.h"
#include "kernel/dl_cpu.h"

/* The ISA slave description for a channel. */
static dl_device_description isa_desc(uint32_t ch, uint64_t maxlen, int auto_init) {
  dl_device_description d;
  memset(&d, 0, sizeof d);
  d.version = 2;
  d.interface_type = DL_ISA;
  d.dma_channel = ch;
  d.dma_width = ch < 4 ? DL_WIDTH8 : DL_WIDTH16;
  d.maximum_length = maxlen;
  d.auto_initialize = auto_init;
  return d;
}

/* AdapterControl: keeps the channel, remembers the base. */
static int keep(void *ctx, dl_device *dev, uint64_t base) {
  (void)dev;
  *(uint64_t *)ctx = base;
  return DL_KEEP_OBJECT;
}
static int keep_registers_only(void *ctx, dl_device *dev, uint64_t base) {
  (void)dev;
  *(uint64_t *)ctx = base;
  return DL_DEALLOCATE_OBJECT_KEEP_REGISTERS;
}

/* AllocateAdapterChannel at DISPATCH_LEVEL with routine fn; the base. */
static uint64_t allocate(rig *r, dl_adapter *a, uint32_t n, dl_adapter_control_fn fn) {
  uint64_t base = 0;
  dl_machine_set_irql(r->m, DL_DISPATCH_LEVEL);
  assert_int_equal(dl_adapter_allocate_channel(a, r->dev, n, fn, &base), DL_STATUS_SUCCESS);
  dl_machine_set_irql(r->m, DL_PASSIVE_LEVEL);
  assert_true(base != 0);
  return base;
}

/* A buffer of len bytes over n pages at or above `at` (0 or 4 GiB), with an MDL. */
static dl_mdl *buffer(rig *r, uint64_t at, uint32_t len, unsigned seed, uint64_t *va) {
  uint64_t first = rig_pages_at(r, (len + PS - 1) / PS, at), pfns[64];
  for (uint32_t i = 0; i < (len + PS - 1) / PS; i++) pfns[i] = first + i;
  dl_region *reg = rig_map(r, pfns, 0, len);
  rig_pattern(r, reg->va, len, seed);
  *va = reg->va;
  return rig_mdl(r, reg);
}

/* ---- the 8237 on its own ------------------------------------------------------- */

/* The HAL's setup refuses what the 8237 cannot address: above 16 MiB, across
** a 64 KiB block (128 KiB for 16-bit channels), odd words, channel 4. */
static void test_8237_limits(void **state) {
  rig *r = *state;
  dl_sysdma *c = dl_dmac8237_of(r->m);
  assert_non_null(c);
  assert_ptr_equal(dl_dmac8237_of(r->m), c);  /* one per machine */
  assert_int_equal(dl_dmac8237_setup(c, 1, 0x1000000, 16, DL_8237_READ), DL_ERANGE);
  assert_int_equal(dl_dmac8237_setup(c, 1, 0xFFFFF0, 16, DL_8237_READ), DL_OK);
  assert_int_equal(dl_dmac8237_setup(c, 1, 0x1FFF0, 0x20, DL_8237_READ), DL_ERANGE);
  assert_int_equal(dl_dmac8237_setup(c, 1, 0x10000, 0x10000, DL_8237_READ), DL_OK);
  assert_int_equal(dl_dmac8237_setup(c, 5, 0x20000, 0x20000, DL_8237_READ), DL_OK);
  assert_int_equal(dl_dmac8237_setup(c, 5, 0x3FFF0, 0x20, DL_8237_READ), DL_ERANGE);
  assert_int_equal(dl_dmac8237_setup(c, 5, 0x20001, 0x20, DL_8237_READ), DL_ERANGE);
  assert_int_equal(dl_dmac8237_setup(c, 4, 0x20000, 0x20, DL_8237_READ), DL_EINVAL);
  /* what the HAL wrote reads back through the ports (flip-flop: low, high) */
  assert_int_equal(dl_dmac8237_setup(c, 2, 0x123456, 0x100, DL_8237_WRITE), DL_OK);
  uint8_t lo, hi, page;
  dl_dmac8237_port_write(c, 0x0C, 0);
  dl_dmac8237_port_read(c, 0x04, &lo);
  dl_dmac8237_port_read(c, 0x04, &hi);
  dl_dmac8237_port_read(c, 0x81, &page);
  assert_int_equal(lo | hi << 8, 0x3456);
  assert_int_equal(page, 0x12);
  dl_dmac8237_port_read(c, 0x05, &lo);
  dl_dmac8237_port_read(c, 0x05, &hi);
  assert_int_equal(lo | hi << 8, 0xFF);  /* units - 1 */
  assert_int_equal(dl_dmac8237_read_counter(c, 2), 0x100);
  assert_int_equal(dl_dmac8237_port_write(c, 0x90, 0), DL_EINVAL);
}

/* A transfer programmed through the ports at the end of a 64 KiB block
** wraps to the block's start (the page register does not count), moves at
** the UART's pace, and ends in terminal count: status bit, count 0xFFFF,
** channel masked. */
static void test_8237_wraps_inside_block(void **state) {
  rig *r = *state;
  dl_uart *u = rig_uart(r, 1000000);  /* 10 us a character */
  dl_sysdma *c = dl_dmac8237_of(r->m);
  assert_int_equal(dl_uart_connect(u, c, 1, DL_UART_NO_LINE), DL_OK);
  dl_physmem *pm = dl_machine_physmem(r->m);
  uint8_t bytes[32];
  for (int i = 0; i < 32; i++) bytes[i] = (uint8_t)(0xA0 + i);
  dl_physmem_write(pm, 0x1FFF0, bytes, 16);
  dl_physmem_write(pm, 0x10000, bytes + 16, 16);
  dl_physmem_fill(pm, 0x20000, 0xEE, 16);
  dl_dmac8237_port_write(c, 0x0A, 0x05);                 /* mask 1 */
  dl_dmac8237_port_write(c, 0x0B, 0x49);                 /* single, read, channel 1 */
  dl_dmac8237_port_write(c, 0x0C, 0);
  dl_dmac8237_port_write(c, 0x02, 0xF0);
  dl_dmac8237_port_write(c, 0x02, 0xFF);
  dl_dmac8237_port_write(c, 0x83, 0x01);
  dl_dmac8237_port_write(c, 0x03, 31);
  dl_dmac8237_port_write(c, 0x03, 0);
  rig_uart_enable(u, DL_UART_TX_DMA);
  dl_dmac8237_port_write(c, 0x0A, 0x01);                 /* unmask 1 */
  dl_clock_run(rig_clock(r));
  size_t n;
  const uint8_t *sent = dl_uart_sent(u, &n);
  assert_int_equal(n, 32);
  assert_memory_equal(sent, bytes, 32);
  assert_int_equal(dl_sysdma_get_stats(c)->wraps, 1);
  assert_int_equal(dl_uart_last_sent_at(u) >= 32 * dl_uart_char_ns(u), 1);
  uint8_t st;
  dl_dmac8237_port_read(c, 0x08, &st);
  assert_int_equal(st & 0x02, 0x02);                     /* TC of channel 1 */
  dl_dmac8237_port_read(c, 0x08, &st);
  assert_int_equal(st & 0x02, 0);                        /* cleared by the read */
  assert_true(dl_sysdma_masked(c, 1));
  assert_int_equal(dl_dmac8237_read_counter(c, 1), 0);   /* 0xFFFF + 1 */
}

/* Block mode does not wait for DREQ once started: a UART with a 16-byte
** FIFO loses what the controller pushes into a full FIFO (overruns). */
static void test_8237_block_mode_overruns(void **state) {
  rig *r = *state;
  dl_uart *u = rig_uart(r, 115200);
  dl_sysdma *c = dl_dmac8237_of(r->m);
  assert_int_equal(dl_uart_connect(u, c, 3, DL_UART_NO_LINE), DL_OK);
  assert_int_equal(dl_dmac8237_setup(c, 3, 0x40000, 64, DL_8237_READ | DL_8237_BLOCK), DL_OK);
  rig_uart_enable(u, DL_UART_TX_DMA);
  dl_dmac8237_mask(c, 3, 0);
  dl_clock_run(rig_clock(r));
  dl_uart_stats st;
  dl_uart_stats_get(u, &st);
  assert_true(dl_sysdma_get_stats(c)->overruns > 0);
  assert_true(st.sent < 64);
  assert_int_equal(st.sent + dl_sysdma_get_stats(c)->overruns, 64);
}

/* ---- IoGetDmaAdapter with Master FALSE ----------------------------------------- */

static void test_slave_description_rules(void **state) {
  rig *r = *state;
  dl_adapter *a;
  uint32_t nmr = 0;
  dl_device_description d = isa_desc(4, 4096, 0);
  assert_int_equal(dl_adapter_get(r->m, r->dev, &d, &a, &nmr), DL_EINVAL);  /* the cascade */
  d = isa_desc(1, 4096, 0);
  d.dma_width = DL_WIDTH16;
  assert_int_equal(dl_adapter_get(r->m, r->dev, &d, &a, &nmr), DL_EINVAL);
  d = isa_desc(6, 4096, 0);
  d.dma_width = DL_WIDTH8;
  assert_int_equal(dl_adapter_get(r->m, r->dev, &d, &a, &nmr), DL_EINVAL);
  /* BYTES_TO_PAGES(MaximumLength) + 1, MaximumLength capped at the block, at most 16 */
  a = rig_adapter(r, isa_desc(1, 8192, 0), &nmr);
  assert_int_equal(nmr, 3);
  assert_true(dl_adapter_is_slave(a));
  assert_int_equal(dl_adapter_ceiling(a), 0xFFFFFF);
  dl_adapter_put(a);
  a = rig_adapter(r, isa_desc(5, 1 << 20, 0), &nmr);
  assert_int_equal(nmr, 16);
  dl_adapter_put(a);
  d = isa_desc(2, 1 << 20, 0);
  d.scatter_gather = 1;
  a = rig_adapter(r, d, &nmr);
  assert_int_equal(nmr, 1);  /* ScatterGather on a slave */
  dl_adapter_put(a);
  /* version 3, not ISA: an SoC controller instance the machine lacks */
  memset(&d, 0, sizeof d);
  d.version = 3;
  d.interface_type = DL_ACPI_BUS;
  d.dma_controller_instance = 7;
  assert_int_equal(dl_adapter_get(r->m, r->dev, &d, &a, &nmr), DL_EINVAL);
}

/* The full WDM sequence on ISA channel 1 from a buffer above 16 MiB: the
** HAL bounces below 16 MiB, programs the 8237, the UART paces the bytes,
** ReadDmaCounter falls as it consumes, terminal count ends the transfer. */
static void test_slave_transfer_to_uart(void **state) {
  rig *r = *state;
  dl_uart *u = rig_uart(r, 115200);
  assert_int_equal(dl_uart_connect(u, dl_dmac8237_of(r->m), 1, DL_UART_NO_LINE), DL_OK);
  rig_uart_enable(u, DL_UART_TX_DMA | DL_UART_IRQ_TC);
  uint32_t nmr, len = 3000;
  dl_adapter *a = rig_adapter(r, isa_desc(1, len, 0), &nmr);
  uint64_t va;
  dl_mdl *mdl = buffer(r, GiB4, len, 7, &va);
  uint64_t base = allocate(r, a, nmr, keep);
  uint64_t logical = 0, before = rig_reports(r);
  uint32_t got = len;
  assert_int_equal(dl_adapter_map_transfer(a, mdl, base, va, &got, 1, &logical), DL_OK);
  assert_int_equal(got, len);
  assert_true(logical + len - 1 <= 0xFFFFFF);               /* bounced below 16 MiB */
  assert_int_equal(logical / 0x10000, (logical + len - 1) / 0x10000);  /* inside one block */
  assert_int_equal(dl_adapter_get_stats(a)->bytes_bounced, len);
  assert_int_equal(dl_adapter_read_counter(a), len);
  uint64_t ch_ns = dl_uart_char_ns(u);
  dl_clock_run_until(rig_clock(r), 1000 * ch_ns);
  uint32_t left = dl_adapter_read_counter(a);
  assert_true(left > 0 && left < len);
  size_t n;
  dl_uart_sent(u, &n);
  assert_true(n >= 990 && n <= 1000);
  assert_true(len - left >= n && len - left <= n + 18);  /* FIFO and shifter hold the rest */
  dl_clock_run(rig_clock(r));
  assert_int_equal(dl_adapter_read_counter(a), 0);
  const uint8_t *sent = dl_uart_sent(u, &n);
  assert_int_equal(n, len);
  for (uint32_t i = 0; i < len; i++) {
    uint8_t b;
    dl_machine_read_va(r->m, va + i, &b, 1);
    if (sent[i] != b) fail_msg("byte %u: sent 0x%02x, buffer 0x%02x", i, sent[i], b);
  }
  uint64_t t = dl_uart_last_sent_at(u);
  assert_true(t >= len * ch_ns && t <= (len + 2) * ch_ns);  /* the device's pace */
  dl_machine_set_irql(r->m, DL_DISPATCH_LEVEL);
  assert_int_equal(dl_adapter_flush(a, mdl, base, va, len, 1), 1);
  dl_adapter_free_channel(a);
  dl_machine_set_irql(r->m, DL_PASSIVE_LEVEL);
  dl_adapter_put(a);
  rig_expect_none(r, before);
}

/* A read (device -> memory) through a bounce: FlushAdapterBuffers copies
** back only what the counter says moved. */
static void test_slave_receive_copies_back_what_moved(void **state) {
  rig *r = *state;
  dl_uart *u = rig_uart(r, 1000000);
  assert_int_equal(dl_uart_connect(u, dl_dmac8237_of(r->m), DL_UART_NO_LINE, 3), DL_OK);
  rig_uart_enable(u, DL_UART_RX_DMA);
  uint32_t nmr, len = 100;
  dl_adapter *a = rig_adapter(r, isa_desc(3, 4096, 0), &nmr);
  uint64_t va;
  dl_mdl *mdl = buffer(r, GiB4, len, 3, &va);
  uint64_t base = allocate(r, a, nmr, keep), logical;
  uint32_t got = len;
  assert_int_equal(dl_adapter_map_transfer(a, mdl, base, va, &got, 0, &logical), DL_OK);
  uint8_t in[60];
  for (int i = 0; i < 60; i++) in[i] = (uint8_t)(0x30 + i);
  assert_int_equal(dl_uart_receive(u, in, sizeof in), DL_OK);
  dl_clock_run(rig_clock(r));
  assert_int_equal(dl_adapter_read_counter(a), len - 60);
  dl_machine_set_irql(r->m, DL_DISPATCH_LEVEL);
  assert_int_equal(dl_adapter_flush(a, mdl, base, va, len, 0), 1);
  dl_adapter_free_channel(a);
  dl_machine_set_irql(r->m, DL_PASSIVE_LEVEL);
  uint8_t out[100];
  dl_machine_read_va(r->m, va, out, len);
  assert_memory_equal(out, in, 60);
  assert_true(rig_has_pattern(r, va + 60, 0, 3));
  uint8_t tail;
  dl_machine_read_va(r->m, va + 60, &tail, 1);
  assert_int_equal(tail, (uint8_t)(60 * 31 + 3 * 7));  /* untouched: the pattern's byte */
  dl_adapter_put(a);
}

/* Auto-initialize: one MapTransfer of a 64-byte ring loops; the device
** sees the ring again and again and ReadDmaCounter wraps back up. */
static void test_slave_auto_initialize_wraps(void **state) {
  rig *r = *state;
  dl_uart *u = rig_uart(r, 115200);
  assert_int_equal(dl_uart_connect(u, dl_dmac8237_of(r->m), 2, DL_UART_NO_LINE), DL_OK);
  rig_uart_enable(u, DL_UART_TX_DMA);
  uint32_t nmr, ring = 64;
  dl_adapter *a = rig_adapter(r, isa_desc(2, ring, 1), &nmr);
  uint64_t va;
  dl_mdl *mdl = buffer(r, 0, ring, 9, &va);
  uint64_t base = allocate(r, a, nmr, keep), logical;
  uint32_t got = ring;
  assert_int_equal(dl_adapter_map_transfer(a, mdl, base, va, &got, 1, &logical), DL_OK);
  assert_int_equal(dl_adapter_get_stats(a)->bytes_bounced, 0);  /* low, contiguous: no bounce */
  uint64_t ch_ns = dl_uart_char_ns(u);
  uint32_t prev = dl_adapter_read_counter(a), rises = 0;
  for (int i = 1; i <= 200; i++) {
    dl_clock_run_until(rig_clock(r), (uint64_t)i * ch_ns);
    uint32_t now = dl_adapter_read_counter(a);
    if (now > prev) rises++;
    prev = now;
  }
  assert_true(rises >= 2);                      /* the counter wrapped */
  dl_sysdma *c = dl_dmac8237_of(r->m);
  assert_true(dl_sysdma_get_stats(c)->terminal_counts >= 3);
  assert_false(dl_sysdma_masked(c, 2));         /* still running */
  size_t n;
  const uint8_t *sent = dl_uart_sent(u, &n);
  assert_true(n >= 195);
  for (size_t i = 0; i < n; i++) {
    uint8_t b;
    dl_machine_read_va(r->m, va + i % ring, &b, 1);
    assert_int_equal(sent[i], b);
  }
  dl_machine_set_irql(r->m, DL_DISPATCH_LEVEL);
  dl_adapter_flush(a, mdl, base, va, ring, 1);
  assert_true(dl_sysdma_masked(c, 2));          /* the flush stopped it */
  dl_adapter_free_channel(a);
  dl_machine_set_irql(r->m, DL_PASSIVE_LEVEL);
  dl_adapter_put(a);
}

/* Misuse: MapTransfer without holding the channel (0xE6/0x00), freeing the
** channel with a transfer still mapped (0xE6/0x10). */
static void test_slave_verifier(void **state) {
  rig *r = *state;
  uint32_t nmr;
  dl_adapter *a = rig_adapter(r, isa_desc(1, 4096, 0), &nmr);
  uint64_t va;
  dl_mdl *mdl = buffer(r, 0, 512, 1, &va);
  uint64_t base = allocate(r, a, 1, keep_registers_only), logical;
  uint32_t got = 512;
  uint64_t before = rig_reports(r);
  dl_machine_set_irql(r->m, DL_DISPATCH_LEVEL);
  assert_int_equal(dl_adapter_map_transfer(a, mdl, base, va, &got, 1, &logical), DL_ESTATE);
  rig_expect(r, before, DL_VF_MISC);
  dl_adapter_free_map_registers(a, base, 1);
  dl_machine_set_irql(r->m, DL_PASSIVE_LEVEL);
  base = allocate(r, a, 1, keep);
  got = 512;
  dl_machine_set_irql(r->m, DL_DISPATCH_LEVEL);
  assert_int_equal(dl_adapter_map_transfer(a, mdl, base, va, &got, 1, &logical), DL_OK);
  before = rig_reports(r);
  dl_adapter_free_channel(a);
  rig_expect(r, before, DL_VF_FREED_WHILE_MAPPED);
  dl_machine_set_irql(r->m, DL_PASSIVE_LEVEL);
  assert_true(dl_sysdma_masked(dl_dmac8237_of(r->m), 1));
  dl_adapter_put(a);
}

/* An SoC controller: version 3, request line and DeviceAddress; 16-bit
** units; a DeviceAddress that is not the peripheral's FIFO is reported. */
static void test_soc_transfer(void **state) {
  rig *r = *state;
  dl_sysdma *c;
  assert_int_equal(dl_socdma_new(r->m, 0, 2, 8, 50, &c), DL_OK);
  assert_int_equal(dl_socdma_new(r->m, 0, 2, 8, 50, &c), DL_EBUSY);
  dl_uart *u = rig_uart(r, 2000000);
  assert_int_equal(dl_uart_connect(u, c, 5, 6), DL_OK);
  rig_uart_enable(u, DL_UART_TX_DMA);
  dl_device_description d;
  memset(&d, 0, sizeof d);
  d.version = 3;
  d.interface_type = DL_ACPI_BUS;
  d.dma_request_line = 5;
  d.dma_width = DL_WIDTH16;
  d.address_width = 32;
  d.maximum_length = 8192;
  d.device_address = dl_devmodel_bar(dl_uart_model(u)) + DL_UART_DATA;
  uint32_t nmr;
  dl_adapter *a = rig_adapter(r, d, &nmr), *b = rig_adapter(r, d, &nmr), *x;
  uint32_t cha, chb;
  dl_adapter_controller(a, &cha);
  dl_adapter_controller(b, &chb);
  assert_int_not_equal(cha, chb);
  assert_int_equal(dl_adapter_get(r->m, r->dev, &d, &x, &nmr), DL_ENOSPACE);  /* 2 channels */
  dl_adapter_put(b);
  uint64_t va;
  dl_mdl *mdl = buffer(r, GiB4, 1000, 5, &va);  /* above 4 GiB: bounced below the 32-bit ceiling */
  uint64_t base = allocate(r, a, nmr, keep), logical;
  uint32_t got = 1000;
  uint64_t before = rig_reports(r);
  assert_int_equal(dl_adapter_map_transfer(a, mdl, base, va, &got, 1, &logical), DL_OK);
  assert_int_equal(dl_adapter_read_counter(a), 1000);
  dl_clock_run(rig_clock(r));
  size_t n;
  const uint8_t *sent = dl_uart_sent(u, &n);
  assert_int_equal(n, 1000);
  for (uint32_t i = 0; i < 1000; i++) {
    uint8_t bt;
    dl_machine_read_va(r->m, va + i, &bt, 1);
    assert_int_equal(sent[i], bt);
  }
  dl_machine_set_irql(r->m, DL_DISPATCH_LEVEL);
  dl_adapter_flush(a, mdl, base, va, 1000, 1);
  dl_adapter_free_channel(a);
  dl_machine_set_irql(r->m, DL_PASSIVE_LEVEL);
  rig_expect_none(r, before);
  dl_adapter_put(a);
  d.device_address += 4;  /* not the FIFO */
  a = rig_adapter(r, d, &nmr);
  base = allocate(r, a, nmr, keep);
  got = 1000;
  dl_machine_set_irql(r->m, DL_DISPATCH_LEVEL);
  assert_int_equal(dl_adapter_map_transfer(a, mdl, base, va, &got, 1, &logical), DL_EINVAL);
  rig_expect(r, before, DL_VF_MISC);
  dl_adapter_free_channel(a);
  dl_machine_set_irql(r->m, DL_PASSIVE_LEVEL);
  dl_adapter_put(a);
}

/* A 16-bit channel (5) moves words: the count register holds words - 1,
** ReadDmaCounter doubles it; an odd length cannot be programmed (0xE6/0x1F). */
static void test_slave_16bit_channel(void **state) {
  rig *r = *state;
  dl_uart *u = rig_uart(r, 1000000);
  assert_int_equal(dl_uart_connect(u, dl_dmac8237_of(r->m), 5, DL_UART_NO_LINE), DL_OK);
  rig_uart_enable(u, DL_UART_TX_DMA);
  uint32_t nmr;
  dl_adapter *a = rig_adapter(r, isa_desc(5, 8192, 0), &nmr);
  assert_int_equal(dl_adapter_dma_alignment(a), 2);  /* GetDmaAlignment: whole words */
  uint64_t va;
  dl_mdl *mdl = buffer(r, GiB4, 1000, 11, &va);
  uint64_t base = allocate(r, a, nmr, keep), logical;
  uint32_t got = 1000;
  assert_int_equal(dl_adapter_map_transfer(a, mdl, base, va, &got, 1, &logical), DL_OK);
  uint8_t lo, hi;
  dl_sysdma *c = dl_dmac8237_of(r->m);
  dl_dmac8237_port_write(c, 0xD8, 0);
  dl_dmac8237_port_read(c, 0xC6, &lo);  /* channel 5's count register */
  dl_dmac8237_port_read(c, 0xC6, &hi);
  assert_int_equal(lo | hi << 8, 499);
  assert_int_equal(dl_adapter_read_counter(a), 1000);
  dl_clock_run_until(rig_clock(r), 100 * dl_uart_char_ns(u));
  assert_int_equal(dl_adapter_read_counter(a) % 2, 0);
  dl_clock_run(rig_clock(r));
  size_t n;
  const uint8_t *sent = dl_uart_sent(u, &n);
  assert_int_equal(n, 1000);
  for (uint32_t i = 0; i < 1000; i++) {
    uint8_t b;
    dl_machine_read_va(r->m, va + i, &b, 1);
    assert_int_equal(sent[i], b);
  }
  dl_machine_set_irql(r->m, DL_DISPATCH_LEVEL);
  dl_adapter_flush(a, mdl, base, va, 1000, 1);
  uint64_t before = rig_reports(r);
  got = 999;
  assert_int_equal(dl_adapter_map_transfer(a, mdl, base, va, &got, 1, &logical), DL_EINVAL);
  rig_expect(r, before, DL_VF_INVALID_DMA_BUFFER);
  dl_adapter_free_channel(a);
  dl_machine_set_irql(r->m, DL_PASSIVE_LEVEL);
  dl_adapter_put(a);
}

/* A slave's common buffer lies below 16 MiB inside one 64 KiB block. */
static void test_slave_common_buffer(void **state) {
  rig *r = *state;
  uint32_t nmr;
  dl_adapter *a = rig_adapter(r, isa_desc(1, 16384, 1), &nmr);
  uint64_t va, logical;
  assert_int_equal(dl_adapter_alloc_common(a, 16384, 0, &va, &logical), DL_OK);
  assert_true(logical + 16383 <= 0xFFFFFF);
  assert_int_equal(logical / 0x10000, (logical + 16383) / 0x10000);
  dl_adapter_free_common(a, 16384, logical, va, 0);
  dl_adapter_put(a);
}

int main(void) {
#define T(f) cmocka_unit_test_setup_teardown(f, rig_setup, rig_teardown)
  const struct CMUnitTest tests[] = {
    T(test_8237_limits),
    T(test_8237_wraps_inside_block),
    T(test_8237_block_mode_overruns),
    T(test_slave_description_rules),
    T(test_slave_transfer_to_uart),
    T(test_slave_receive_copies_back_what_moved),
    T(test_slave_auto_initialize_wraps),
    T(test_slave_verifier),
    T(test_soc_transfer),
    T(test_slave_common_buffer),
    T(test_slave_16bit_channel),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
