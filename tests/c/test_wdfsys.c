/*
** test_wdfsys.c: KMDF's system profiles (core/wdf/dl_wdfsys.c) without Lua:
** WdfDmaEnablerConfigureSystemProfile and the adapters it makes (one, or
** one per direction for SystemDuplex), the order of
** EvtDmaTransactionConfigureDmaChannel, EvtProgramDma and
** EvtDmaTransactionDmaTransferComplete across the transfers of a
** transaction, a FALSE from the configure callback, partial completion,
** WdfDmaTransactionCancel of a looped transfer, reservation with a system
** profile, and SetDeviceAddressOffset. The device is a UART on an SoC
** system DMA controller; the test is the driver.
*/
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "base/dl_status.h"
#include "devices/dl_uart.h"
#include "hal/dl_slave.h"
#include "hal/dl_socdma.h"
#include "machine/dl_machine.h"
#include "memory/dl_vspace.h"
#include "memory/dl_physmem.h"
#include "machine/dl_verifier.h"
#include "wdf/dl_wdf.h"
#include "wdf/dl_wdfdma.h"
#include "wdf/dl_wdfobject.h"

#define RD DL_WDFDMA_READ_FROM_DEVICE
#define WR DL_WDFDMA_WRITE_TO_DEVICE
#define TX_LINE 3
#define RX_LINE 4

/* ---- the driver: a log of its callbacks ------------------------------------------ */

typedef struct drv {
  char log[64][32];
  int n;
  int refuse_configure;         /* EvtDmaTransactionConfigureDmaChannel returns FALSE */
  int complete_on_done;         /* TransferComplete calls WdfDmaTransactionDmaCompleted */
  uint64_t partial;             /* ...WithLength of this many bytes, once */
  int done;                     /* a DmaCompleted* returned TRUE */
  uint32_t status;
  int reserves;
  uint32_t prog_n;              /* elements of the last EvtProgramDma list */
  uint64_t prog_bytes;          /* and their bytes */
  dl_sg_element prog_el[8];
} drv;

static drv D;

static void note(const char *fmt, unsigned long long a, unsigned long long b) {
  if (D.n < 64) snprintf(D.log[D.n++], sizeof D.log[0], fmt, a, b);
}

static int on_program(void *data, dl_wdfdma_txn *t, dl_sglist *sg, const dl_sg_element *el) {
  (void)data, (void)sg;
  note("program %llu%.0llu", el->length, 0);
  D.prog_n = dl_wdfdma_txn_program_count(t);
  D.prog_bytes = 0;
  for (uint32_t i = 0; i < D.prog_n; i++) {
    D.prog_bytes += el[i].length;
    if (i < 8) D.prog_el[i] = el[i];
  }
  return 1;
}

static void on_reserve(void *data, dl_wdfdma_txn *t) {
  (void)data, (void)t;
  D.reserves++;
}

static uint32_t on_power(void *data, dl_wdfdma_enabler *e, int cb) {
  (void)data, (void)e, (void)cb;
  return 0;
}

static int on_configure(void *data, dl_wdfdma_txn *t, dl_mdl *mdl, uint64_t offset, uint64_t length) {
  (void)data, (void)t, (void)mdl;
  note("configure %llu %llu", offset, length);
  return !D.refuse_configure;
}

static void on_complete(void *data, dl_wdfdma_txn *t, int direction, int status) {
  (void)data;
  note("complete %llu %llu", (unsigned long long)direction, (unsigned long long)status);
  if (!D.complete_on_done) return;
  if (D.partial) {
    uint64_t n = D.partial;
    D.partial = 0;
    D.done = dl_wdfdma_txn_completed(t, n, DL_WDFDMA_COMPLETE_PARTIAL, &D.status);
  } else {
    D.done = dl_wdfdma_txn_completed(t, 0, status == DL_DMA_COMPLETE ? DL_WDFDMA_COMPLETE
                                                                      : DL_WDFDMA_COMPLETE_FINAL, &D.status);
  }
}

static const dl_wdfdma_ops ops = {on_program, on_reserve, on_power, on_configure, on_complete};

static uint32_t no_event(void *ctx, dl_wdf_device *d, dl_wdf_event ev, uint32_t st) {
  (void)ctx, (void)d, (void)ev, (void)st;
  return 0;
}
static const dl_wdf_ops wdf_ops = {.event = no_event};

/* ---- the rig ----------------------------------------------------------------------- */

typedef struct rig {
  dl_machine *m;
  dl_sysdma *soc;
  dl_uart *u;
  dl_wdf_driver *drv;
  dl_wdf_device *d;
} rig;

static rig R;

static int setup(void **state) {
  memset(&R, 0, sizeof R);
  memset(&D, 0, sizeof D);
  dl_machine_config cfg;
  dl_machine_config_init(&cfg);
  if (dl_machine_new(&cfg, &R.m)) return -1;
  if (dl_socdma_new(R.m, 0, 4, 16, 50, &R.soc)) return -1;
  dl_uart_config uc;
  dl_uart_config_init(&uc);
  uc.baud = 1000000;
  if (dl_uart_new(R.m, "uart0", 40, 5, &uc, &R.u) || dl_uart_connect(R.u, R.soc, TX_LINE, RX_LINE)) return -1;
  dl_devmodel *dm = dl_uart_model(R.u);
  dm->ops->write(dm->ctx, DL_SPACE_MEMORY, 0, DL_UART_CONTROL, 4, DL_UART_TX_DMA | DL_UART_RX_DMA);
  if (dl_wdf_driver_new(R.m, &R.drv)) return -1;
  if (dl_wdf_device_new(R.m, R.drv, dl_devmodel_pdo(dm), "fdo", &wdf_ops, NULL, &R.d)) return -1;
  *state = &R;
  return 0;
}

static int teardown(void **state) {
  (void)state;
  dl_wdf_unload(R.m);
  dl_machine_free(R.m);
  return 0;
}

static uint64_t fifo(void) { return dl_devmodel_bar(dl_uart_model(R.u)) + DL_UART_DATA; }

static dl_wdfdma_system_config sys_config(uint32_t line, int looped) {
  dl_wdfdma_system_config c;
  memset(&c, 0, sizeof c);
  c.v3 = 1;
  c.request_line = line;
  c.demand_mode = 1;
  c.looped = looped;
  c.device_address = fifo();
  return c;
}

/* A System or SystemDuplex enabler, configured (TX line 3, RX line 4 looped). */
static dl_wdfdma_enabler *enabler(int profile) {
  dl_wdfdma_config c = {profile, 4 * 4096, 0, 0, 0, 0};
  dl_wdfdma_enabler *e = NULL;
  assert_int_equal(dl_wdfdma_enabler_create(R.d, &c, &ops, &e), DL_STATUS_SUCCESS);
  dl_wdfdma_system_config tx = sys_config(TX_LINE, 0), rx = sys_config(RX_LINE, 1);
  assert_int_equal(dl_wdfdma_enabler_configure_system(e, &tx, WR), DL_STATUS_SUCCESS);
  if (profile == DL_WDFDMA_SYSTEM_DUPLEX)
    assert_int_equal(dl_wdfdma_enabler_configure_system(e, &rx, RD), DL_STATUS_SUCCESS);
  assert_int_equal(dl_wdf_device_start(R.d, NULL, 0), 0);
  return e;
}

static dl_mdl *buffer(uint64_t len, unsigned seed, uint64_t *va) {
  dl_region *reg = NULL;
  dl_mdl *mdl = NULL;
  assert_int_equal(dl_buffer_new(R.m, len, 0, DL_ALLOC_CONTIGUOUS, DL_REGION_NONPAGED, &reg), DL_OK);
  for (uint64_t i = 0; i < len; i++) {
    uint8_t b = (uint8_t)(i * 13 + seed);
    dl_machine_write_va(R.m, reg->va + i, &b, 1);
  }
  assert_int_equal(dl_mdl_allocate(R.m, reg->va, reg->length, &mdl), DL_OK);
  assert_int_equal(dl_mdl_build_for_nonpaged_pool(mdl), DL_OK);
  *va = reg->va;
  return mdl;
}

static dl_wdfdma_txn *txn(dl_wdfdma_enabler *e) {
  dl_wdfdma_txn *t = NULL;
  assert_int_equal(dl_wdfdma_txn_create(e, &t), DL_STATUS_SUCCESS);
  return t;
}

/* The UART sent exactly the len bytes at va. */
static void sent_is(uint64_t va, size_t len) {
  size_t n;
  const uint8_t *s = dl_uart_sent(R.u, &n);
  assert_int_equal(n, len);
  for (size_t i = 0; i < len; i++) {
    uint8_t b;
    dl_machine_read_va(R.m, va + i, &b, 1);
    assert_int_equal(s[i], b);
  }
}

/* ---- tests --------------------------------------------------------------------------- */

/* The profiles: no adapter until ConfigureSystemProfile (Initialize fails
** then); a bus-master enabler refuses it; a direction is configured once;
** System shares one adapter, SystemDuplex has one per direction, each a
** system adapter on its own channel of the controller. */
static void test_configure_system_profile(void **state) {
  (void)state;
  dl_wdfdma_config c = {DL_WDFDMA_SYSTEM_DUPLEX, 8192, 0, 0, 0, 0};
  dl_wdfdma_enabler *e = NULL, *p = NULL;
  assert_int_equal(dl_wdfdma_enabler_create(R.d, &c, &ops, &e), DL_STATUS_SUCCESS);
  assert_true(dl_wdfdma_enabler_is_system(e));
  uint64_t va;
  dl_mdl *mdl = buffer(100, 1, &va);
  dl_wdfdma_txn *t = txn(e);
  assert_int_equal(dl_wdfdma_txn_initialize(t, WR, mdl, va, 100), DL_STATUS_INVALID_DEVICE_STATE);
  dl_wdfdma_system_config tx = sys_config(TX_LINE, 0), rx = sys_config(RX_LINE, 1);
  assert_int_equal(dl_wdfdma_enabler_configure_system(e, &tx, WR), DL_STATUS_SUCCESS);
  assert_int_equal(dl_wdfdma_enabler_configure_system(e, &tx, WR), DL_STATUS_INVALID_DEVICE_REQUEST);
  assert_int_equal(dl_wdfdma_enabler_configure_system(e, &rx, RD), DL_STATUS_SUCCESS);
  dl_adapter *ar = dl_wdfdma_enabler_adapter(e, RD), *aw = dl_wdfdma_enabler_adapter(e, WR);
  assert_ptr_not_equal(ar, aw);
  assert_true(dl_adapter_is_slave(ar) && dl_adapter_is_slave(aw));
  uint32_t chr, chw;
  assert_ptr_equal(dl_adapter_controller(ar, &chr), R.soc);
  assert_ptr_equal(dl_adapter_controller(aw, &chw), R.soc);
  assert_int_not_equal(chr, chw);
  assert_true(dl_adapter_description(aw)->version == 3 && !dl_adapter_description(aw)->master);
  assert_true(dl_adapter_description(ar)->auto_initialize);  /* LoopedTransfer */
  dl_wdfdma_config pc = {DL_WDFDMA_PACKET, 8192, 0, 0, 0, 0};
  assert_int_equal(dl_wdfdma_enabler_create(R.d, &pc, &ops, &p), DL_STATUS_SUCCESS);
  assert_int_equal(dl_wdfdma_enabler_configure_system(p, &tx, WR), DL_STATUS_INVALID_DEVICE_REQUEST);
  dl_wdfdma_config sc = {DL_WDFDMA_SYSTEM, 8192, 0, 0, 0, 0};
  dl_wdfdma_enabler *s = NULL;
  assert_int_equal(dl_wdfdma_enabler_create(R.d, &sc, &ops, &s), DL_STATUS_SUCCESS);
  dl_wdfdma_system_config tx2 = sys_config(5, 0);
  assert_int_equal(dl_wdfdma_enabler_configure_system(s, &tx2, RD), DL_STATUS_SUCCESS);
  assert_ptr_equal(dl_wdfdma_enabler_adapter(s, RD), dl_wdfdma_enabler_adapter(s, WR));
  dl_mdl_free(mdl);
}

/* Per transfer: ConfigureDmaChannel (offset, length), EvtProgramDma, then
** TransferComplete at the controller's terminal count; the driver's
** DmaCompleted maps the next piece (configure first again); every byte
** reaches the UART at its pace. */
static void test_callback_order(void **state) {
  (void)state;
  dl_wdfdma_enabler *e = enabler(DL_WDFDMA_SYSTEM_DUPLEX);
  uint64_t frag = dl_wdfdma_enabler_fragment_length(e, WR), va;
  assert_int_equal(frag, 4 * 4096);  /* MaximumLength, below (NMR - 1) pages */
  dl_mdl *mdl = buffer(frag + 100, 7, &va);
  dl_wdfdma_txn *t = txn(e);
  assert_int_equal(dl_wdfdma_txn_initialize(t, WR, mdl, va, frag + 100), DL_STATUS_SUCCESS);
  dl_wdfdma_txn_set_configure_channel(t, 1);
  dl_wdfdma_txn_set_transfer_complete(t, 1);
  D.complete_on_done = 1;
  assert_int_equal(dl_wdfdma_txn_execute(t), DL_STATUS_SUCCESS);
  dl_clock_run(dl_machine_clock(R.m));
  char want[6][32];
  snprintf(want[0], 32, "configure 0 %llu", (unsigned long long)frag);
  snprintf(want[1], 32, "program %llu", (unsigned long long)frag);
  snprintf(want[2], 32, "complete 1 0");
  snprintf(want[3], 32, "configure %llu 100", (unsigned long long)frag);
  snprintf(want[4], 32, "program 100");
  snprintf(want[5], 32, "complete 1 0");
  assert_int_equal(D.n, 6);
  for (int i = 0; i < 6; i++) assert_string_equal(D.log[i], want[i]);
  assert_true(D.done);
  assert_int_equal(D.status, DL_STATUS_SUCCESS);
  assert_int_equal(dl_wdfdma_txn_bytes_transferred(t), frag + 100);
  sent_is(va, frag + 100);
  assert_int_equal(dl_wdfdma_txn_release(t), DL_STATUS_SUCCESS);
  assert_int_equal(dl_verifier_count(R.m), 0);
  dl_mdl_free(mdl);
}

/* A FALSE from ConfigureDmaChannel: nothing mapped, no EvtProgramDma, no
** byte moves (the driver ended the transaction itself). */
static void test_configure_false(void **state) {
  (void)state;
  dl_wdfdma_enabler *e = enabler(DL_WDFDMA_SYSTEM);
  uint64_t va;
  dl_mdl *mdl = buffer(64, 3, &va);
  dl_wdfdma_txn *t = txn(e);
  assert_int_equal(dl_wdfdma_txn_initialize(t, WR, mdl, va, 64), DL_STATUS_SUCCESS);
  dl_wdfdma_txn_set_configure_channel(t, 1);
  D.refuse_configure = 1;
  assert_int_equal(dl_wdfdma_txn_execute(t), DL_STATUS_SUCCESS);
  dl_clock_run(dl_machine_clock(R.m));
  assert_int_equal(D.n, 1);
  assert_string_equal(D.log[0], "configure 0 64");
  assert_int_equal(dl_adapter_get_stats(dl_wdfdma_enabler_adapter(e, WR))->map_transfers, 0);
  uint32_t st;
  assert_int_equal(dl_wdfdma_txn_completed(t, 0, DL_WDFDMA_COMPLETE_FINAL, &st), 1);
  dl_wdfdma_txn_release(t);
  dl_mdl_free(mdl);
}

/* DmaCompletedWithLength: the next transfer starts after the bytes the
** driver says moved. */
static void test_partial_completion(void **state) {
  (void)state;
  dl_wdfdma_enabler *e = enabler(DL_WDFDMA_SYSTEM);
  uint64_t va;
  dl_mdl *mdl = buffer(300, 5, &va);
  dl_wdfdma_txn *t = txn(e);
  assert_int_equal(dl_wdfdma_txn_initialize(t, WR, mdl, va, 300), DL_STATUS_SUCCESS);
  dl_wdfdma_txn_set_configure_channel(t, 1);
  dl_wdfdma_txn_set_transfer_complete(t, 1);
  D.complete_on_done = 1;
  D.partial = 120;
  assert_int_equal(dl_wdfdma_txn_execute(t), DL_STATUS_SUCCESS);
  dl_clock_run(dl_machine_clock(R.m));
  assert_string_equal(D.log[0], "configure 0 300");
  assert_string_equal(D.log[3], "configure 120 180");
  assert_true(D.done);
  assert_int_equal(dl_wdfdma_txn_bytes_transferred(t), 300);
  dl_wdfdma_txn_release(t);
  dl_mdl_free(mdl);
}

/* A looped receive never completes on its own: the counter wraps; Cancel
** stops the channel and the driver hears DmaCancelled. */
static void test_looped_cancel(void **state) {
  (void)state;
  dl_wdfdma_enabler *e = enabler(DL_WDFDMA_SYSTEM_DUPLEX);
  uint64_t va;
  dl_mdl *mdl = buffer(64, 0, &va);
  dl_wdfdma_txn *t = txn(e);
  assert_int_equal(dl_wdfdma_txn_initialize(t, RD, mdl, va, 64), DL_STATUS_SUCCESS);
  dl_wdfdma_txn_set_transfer_complete(t, 1);
  D.complete_on_done = 1;
  assert_int_equal(dl_wdfdma_txn_execute(t), DL_STATUS_SUCCESS);
  uint8_t in[200];
  for (int i = 0; i < 200; i++) in[i] = (uint8_t)(i + 1);
  assert_int_equal(dl_uart_receive(R.u, in, sizeof in), DL_OK);
  dl_clock_run(dl_machine_clock(R.m));
  assert_int_equal(D.n, 1);  /* program only: no completion while it loops */
  dl_adapter *a = dl_wdfdma_enabler_adapter(e, RD);
  uint32_t ch;
  dl_sysdma *c = dl_adapter_controller(a, &ch);
  assert_int_equal(dl_adapter_read_counter(a), 64 - 200 % 64);
  assert_true(dl_sysdma_get_stats(c)->terminal_counts >= 3);
  uint8_t ring[64];
  dl_machine_read_va(R.m, va, ring, 64);
  for (int i = 0; i < 64; i++) assert_int_equal(ring[i], in[i < 200 % 64 ? 192 + i : 128 + i]);
  assert_int_equal(dl_wdfdma_txn_cancel(t), 1);
  assert_string_equal(D.log[1], "complete 0 3");  /* ReadFromDevice, DmaCancelled */
  assert_true(dl_sysdma_masked(c, ch));
  assert_true(D.done);
  dl_wdfdma_txn_release(t);
  dl_mdl_free(mdl);
}

/* Reservation with a system profile: the channel is reserved once
** (EvtReserveDma) and kept across transactions; FreeResources gives it back. */
static void test_reservation(void **state) {
  (void)state;
  dl_wdfdma_enabler *e = enabler(DL_WDFDMA_SYSTEM);
  dl_adapter *a = dl_wdfdma_enabler_adapter(e, WR);
  uint64_t va;
  dl_mdl *mdl = buffer(100, 9, &va);
  dl_wdfdma_txn *t = txn(e);
  assert_int_equal(dl_wdfdma_txn_allocate_resources(t, WR, 0), DL_STATUS_INVALID_DEVICE_STATE);
  assert_int_equal(dl_verifier_count(R.m), 1);  /* 0x10D/8: 0 registers needs Initialized */
  assert_int_equal(dl_wdfdma_txn_allocate_resources(t, WR, dl_adapter_map_registers(a)), DL_STATUS_SUCCESS);
  assert_int_equal(D.reserves, 1);
  D.complete_on_done = 1;
  dl_wdfdma_txn_set_transfer_complete(t, 1);
  for (int k = 0; k < 2; k++) {
    assert_int_equal(dl_wdfdma_txn_initialize(t, WR, mdl, va, 100), DL_STATUS_SUCCESS);
    assert_int_equal(dl_wdfdma_txn_execute(t), DL_STATUS_SUCCESS);
    dl_clock_run(dl_machine_clock(R.m));
    assert_true(D.done);
    assert_int_equal(dl_wdfdma_txn_release(t), DL_STATUS_SUCCESS);
  }
  assert_int_equal(dl_adapter_get_stats(a)->channel_grants, 1);
  dl_wdfdma_txn_free_resources(t);
  assert_int_equal(dl_adapter_get_stats(a)->registers_held, 0);
  assert_int_equal(dl_verifier_count(R.m), 1);
  dl_mdl_free(mdl);
}

/* SetDeviceAddressOffset moves the device address away from the FIFO:
** MapTransfer's report (0xE6/0x00); as KMDF does for a staging failure in
** AdapterControl, the driver hears DmaError and ends the transaction. */
static void test_device_address_offset(void **state) {
  (void)state;
  dl_wdfdma_enabler *e = enabler(DL_WDFDMA_SYSTEM);
  uint64_t va;
  dl_mdl *mdl = buffer(16, 2, &va);
  dl_wdfdma_txn *t = txn(e);
  assert_int_equal(dl_wdfdma_txn_initialize(t, WR, mdl, va, 16), DL_STATUS_SUCCESS);
  dl_wdfdma_txn_set_device_address_offset(t, 8);
  dl_wdfdma_txn_set_transfer_complete(t, 1);
  D.complete_on_done = 1;
  assert_int_equal(dl_wdfdma_txn_execute(t), DL_STATUS_SUCCESS);
  assert_int_equal(dl_verifier_count(R.m), 1);
  assert_int_equal(dl_verifier_at(R.m, 0)->p1, DL_VF_MISC);
  assert_string_equal(D.log[D.n - 1], "complete 1 2");  /* DmaError */
  assert_true(D.done);
  assert_int_equal(dl_wdfdma_txn_state(t), DL_TXN_TRANSFER_COMPLETED);
  size_t n;
  dl_uart_sent(R.u, &n);
  assert_int_equal(n, 0);
  dl_wdfdma_txn_set_device_address_offset(t, 0);  /* the FIFO itself: fine */
  dl_wdfdma_txn_release(t);
  assert_int_equal(dl_wdfdma_txn_initialize(t, WR, mdl, va, 16), DL_STATUS_SUCCESS);
  assert_int_equal(dl_wdfdma_txn_execute(t), DL_STATUS_SUCCESS);
  dl_clock_run(dl_machine_clock(R.m));
  sent_is(va, 16);
  assert_int_equal(dl_verifier_count(R.m), 1);
  dl_wdfdma_txn_release(t);
  dl_mdl_free(mdl);
}

/* On a scatter/gather controller a transaction's fragment over
** discontiguous pages moves in one transfer: one mapping of its runs (the
** buffer's own pages, no bounce), EvtProgramDma sees every run, one
** TransferComplete at the last element's terminal count, every byte sent. */
static void test_scatter_gather_controller(void **state) {
  (void)state;
  assert_int_equal(dl_sysdma_set_max_elements(R.soc, 8), DL_OK);
  dl_wdfdma_enabler *e = enabler(DL_WDFDMA_SYSTEM);
  uint64_t first, pfns[3], len = 2 * 4096 + 500;
  assert_int_equal(dl_physmem_alloc_contiguous(dl_machine_physmem(R.m), 6, UINT32_MAX, 0, &first), DL_OK);
  for (int i = 0; i < 3; i++) pfns[i] = first + 2 * (uint64_t)i;  /* no two adjacent */
  dl_region *reg = NULL;
  assert_int_equal(dl_vspace_map(dl_machine_vspace(R.m), len, 0, pfns, 3, DL_REGION_NONPAGED, &reg), DL_OK);
  for (uint64_t i = 0; i < len; i++) {
    uint8_t b = (uint8_t)(i * 13 + 9);
    dl_machine_write_va(R.m, reg->va + i, &b, 1);
  }
  dl_mdl *mdl = NULL;
  assert_int_equal(dl_mdl_allocate(R.m, reg->va, len, &mdl), DL_OK);
  assert_int_equal(dl_mdl_build_for_nonpaged_pool(mdl), DL_OK);
  dl_wdfdma_txn *t = txn(e);
  assert_int_equal(dl_wdfdma_txn_initialize(t, WR, mdl, reg->va, len), DL_STATUS_SUCCESS);
  dl_wdfdma_txn_set_transfer_complete(t, 1);
  D.complete_on_done = 1;
  assert_int_equal(dl_wdfdma_txn_execute(t), DL_STATUS_SUCCESS);
  assert_int_equal(D.prog_n, 3);
  assert_int_equal(D.prog_bytes, len);
  for (int i = 0; i < 3; i++) assert_int_equal(D.prog_el[i].address, pfns[i] * 4096);
  dl_adapter *a = dl_wdfdma_enabler_adapter(e, WR);
  assert_int_equal(dl_adapter_read_counter(a), len);
  dl_clock_run(dl_machine_clock(R.m));
  assert_int_equal(D.n, 2);
  assert_string_equal(D.log[1], "complete 1 0");
  assert_true(D.done);
  assert_int_equal(D.status, DL_STATUS_SUCCESS);
  assert_int_equal(dl_wdfdma_txn_bytes_transferred(t), len);
  assert_int_equal(dl_adapter_get_stats(a)->bytes_bounced, 0);
  assert_int_equal(dl_sysdma_get_stats(R.soc)->terminal_counts, 1);
  assert_int_equal(dl_sysdma_get_stats(R.soc)->descriptors, 2);
  sent_is(reg->va, len);
  assert_int_equal(dl_wdfdma_txn_release(t), DL_STATUS_SUCCESS);
  assert_int_equal(dl_verifier_count(R.m), 0);
  dl_mdl_free(mdl);
}

int main(void) {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
  const struct CMUnitTest tests[] = {
    T(test_configure_system_profile), T(test_callback_order), T(test_configure_false),
    T(test_partial_completion), T(test_looped_cancel), T(test_reservation),
    T(test_device_address_offset), T(test_scatter_gather_controller),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
