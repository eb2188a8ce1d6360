/*
** test_adapter.c: DMA adapters (core/hal/dl_adapter.c) without Lua:
** IoGetDmaAdapter's NumberOfMapRegisters and address ceiling (reference
** 1.1, 5), AllocateAdapterChannel and its queue with the three
** IO_ALLOCATION_ACTION values, FreeAdapterChannel and FreeMapRegisters
** (1.3), the IRQL rules (3) and the verifier reports for misuse and leaks (4).
*/
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>

#include "rig.h"
#include "hal/dl_mapregs.h"
#include "machine/dl_trace.h"

/* What AdapterControl routines saw, in the order they ran. */
typedef struct log {
  char who[16][8];
  uint64_t base[16];
  uint8_t irql[16];
  uint32_t nfree[16];          /* free registers of the pool when it ran */
  int n;
  int action;                  /* what the routines return */
  dl_adapter *a;               /* for calls made from inside a routine */
  dl_device *other;            /* the device they are made for */
  uint32_t inner_status;
} log_t;

typedef struct ctl {
  log_t *log;
  const char *name;
} ctl;

static int control(void *ctx, dl_device *dev, uint64_t base) {
  (void)dev;
  ctl *c = ctx;
  log_t *l = c->log;
  dl_machine *m = dl_adapter_machine(l->a);
  snprintf(l->who[l->n], sizeof l->who[0], "%s", c->name);
  l->base[l->n] = base;
  l->irql[l->n] = dl_machine_irql(m);
  l->nfree[l->n] = dl_mapregs_of(m)->nfree;
  l->n++;
  return l->action;
}

/* Calls AllocateAdapterChannel again from inside the routine. */
static int control_reenters(void *ctx, dl_device *dev, uint64_t base) {
  log_t *l = ((ctl *)ctx)->log;
  l->inner_status = dl_adapter_allocate_channel(l->a, l->other, 1, control, ctx);
  (void)dev;
  (void)base;
  return DL_DEALLOCATE_OBJECT;
}

/* AllocateAdapterChannel at DISPATCH_LEVEL, as the rule wants. */
static uint32_t alloc_at_dispatch(rig *r, dl_adapter *a, dl_device *dev, uint32_t n, ctl *c) {
  dl_machine_set_irql(r->m, DL_DISPATCH_LEVEL);
  uint32_t st = dl_adapter_allocate_channel(a, dev, n, control, c);
  dl_machine_set_irql(r->m, DL_PASSIVE_LEVEL);
  return st;
}

static void free_channel_at_dispatch(rig *r, dl_adapter *a) {
  dl_machine_set_irql(r->m, DL_DISPATCH_LEVEL);
  dl_adapter_free_channel(a);
  dl_machine_set_irql(r->m, DL_PASSIVE_LEVEL);
}

static void free_regs_at_dispatch(rig *r, dl_adapter *a, uint64_t base, uint32_t n) {
  dl_machine_set_irql(r->m, DL_DISPATCH_LEVEL);
  assert_int_equal(dl_adapter_free_map_registers(a, base, n), DL_OK);
  dl_machine_set_irql(r->m, DL_PASSIVE_LEVEL);
}

/* ---- IoGetDmaAdapter (1.1) --------------------------------------------------- */

/* A packet master gets BYTES_TO_PAGES(MaximumLength) + 1 registers, capped
** at 16 per adapter. */
static void test_nmr_packet_master_is_pages_plus_one_capped_at_16(void **state) {
  rig *r = *state;
  static const struct { uint64_t maxlen; uint32_t nmr; } cases[] = {
    {0, 1}, {1, 2}, {4096, 2}, {4097, 3}, {8192, 3}, {15 * 4096, 16}, {15 * 4096 + 1, 16},
    {64 * 1024, 16}, {1 << 20, 16},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    uint32_t nmr;
    dl_adapter *a = rig_adapter(r, rig_desc(0, 0, 1, cases[i].maxlen), &nmr);
    assert_int_equal(nmr, cases[i].nmr);
    assert_int_equal(dl_adapter_map_registers(a), cases[i].nmr);
    assert_int_equal(dl_adapter_dma_alignment(a), 1);  /* GetDmaAlignment of a bus master */
    dl_adapter_destroy(a);
  }
}

/* The per-adapter cap is the machine's, and never more than the pool. */
static void test_nmr_cap_follows_config_and_pool(void **state) {
  (void)state;
  rig r;
  dl_machine_config cfg;
  dl_machine_config_init(&cfg);
  cfg.adapter_map_registers = 40;
  assert_int_equal(rig_open(&r, &cfg), 0);
  uint32_t nmr;
  rig_adapter(&r, rig_desc(0, 1, 0, 1 << 20), &nmr);
  assert_int_equal(nmr, 40);
  rig_close(&r);
  cfg.adapter_map_registers = 16;
  cfg.map_registers = 8;
  assert_int_equal(rig_open(&r, &cfg), 0);
  rig_adapter(&r, rig_desc(0, 1, 0, 1 << 20), &nmr);
  assert_int_equal(nmr, 8);
  rig_close(&r);
}

/* A 64-bit scatter/gather master needs no registers, but the reported
** value is still BYTES_TO_PAGES(MaximumLength & MAXLONG) + 1, uncapped. */
static void test_nmr_sg64_master_uncapped_and_maxlen_masked(void **state) {
  rig *r = *state;
  uint32_t nmr;
  rig_adapter(r, rig_desc(1, 0, 1, 1 << 20), &nmr);
  assert_int_equal(nmr, 257);
  rig_adapter(r, rig_desc(1, 0, 1, (UINT64_C(1) << 32) + 4096), &nmr);
  assert_int_equal(nmr, 2);   /* MaxLen &= MAXLONG leaves 4096 */
  rig_adapter(r, rig_desc(1, 0, 1, UINT64_C(0xFFFFFFFF)), &nmr);
  assert_int_equal(nmr, 0x80000 + 1);  /* 0x7FFFFFFF bytes */
  /* a 32-bit S/G master bounces, so it has registers and the cap */
  rig_adapter(r, rig_desc(1, 1, 0, 1 << 20), &nmr);
  assert_int_equal(nmr, 16);
}

/* Ceilings: 64-bit none, 32-bit 4 GiB, S/G on PCI implies 32-bit, else
** 16 MiB; Dma64 overrides Dma32; version 3's DmaAddressWidth replaces both. */
static void test_address_ceilings(void **state) {
  rig *r = *state;
  uint32_t nmr;
  assert_int_equal(dl_adapter_ceiling(rig_adapter(r, rig_desc(0, 0, 1, 4096), &nmr)), UINT64_MAX);
  assert_int_equal(dl_adapter_ceiling(rig_adapter(r, rig_desc(0, 1, 0, 4096), &nmr)),
                   UINT64_C(0xFFFFFFFF));
  assert_int_equal(dl_adapter_ceiling(rig_adapter(r, rig_desc(0, 1, 1, 4096), &nmr)), UINT64_MAX);
  assert_int_equal(dl_adapter_ceiling(rig_adapter(r, rig_desc(1, 0, 0, 4096), &nmr)),
                   UINT64_C(0xFFFFFFFF));
  assert_int_equal(dl_adapter_ceiling(rig_adapter(r, rig_desc(0, 0, 0, 4096), &nmr)),
                   UINT64_C(0xFFFFFF));
  dl_device_description isa = rig_desc(1, 0, 0, 4096);
  isa.interface_type = DL_ISA;
  assert_int_equal(dl_adapter_ceiling(rig_adapter(r, isa, &nmr)), UINT64_C(0xFFFFFF));
  dl_device_description v3 = rig_desc(0, 0, 0, 4096);
  v3.version = 3;
  v3.address_width = 40;
  assert_int_equal(dl_adapter_ceiling(rig_adapter(r, v3, &nmr)), (UINT64_C(1) << 40) - 1);
  v3.address_width = 64;
  assert_int_equal(dl_adapter_ceiling(rig_adapter(r, v3, &nmr)), UINT64_MAX);
  v3.address_width = 32;
  v3.dma64 = 1;  /* ignored: the width wins in version 3 */
  assert_int_equal(dl_adapter_ceiling(rig_adapter(r, v3, &nmr)), UINT64_C(0xFFFFFFFF));
}

/* An unsupported Version (4 and up) fails with report 0x25; Version 0
** (DEVICE_DESCRIPTION_VERSION) is valid; a slave fails without a report. */
static void test_get_refuses_bad_descriptions(void **state) {
  rig *r = *state;
  dl_adapter *a = NULL;
  uint32_t nmr = 99;
  dl_device_description d = rig_desc(0, 1, 0, 4096);
  uint64_t before = rig_reports(r);
  d.version = 4;
  assert_int_equal(dl_adapter_get(r->m, r->dev, &d, &a, &nmr), DL_EINVAL);
  const dl_report *rep = rig_expect(r, before, DL_VF_BAD_DESCRIPTION_VERSION);
  assert_int_equal(rep->p2, 4);
  d.version = 0;
  assert_int_equal(dl_adapter_get(r->m, r->dev, &d, &a, &nmr), DL_OK);
  rig_expect_none(r, before + 1);
  a = NULL;
  nmr = 99;
  d = rig_desc(0, 1, 0, 4096);
  d.master = 0;
  assert_int_equal(dl_adapter_get(r->m, r->dev, &d, &a, &nmr), DL_EINVAL);
  d = rig_desc(0, 0, 0, 4096);
  d.version = 3;
  d.address_width = 20;
  assert_int_equal(dl_adapter_get(r->m, r->dev, &d, &a, &nmr), DL_EINVAL);
  rig_expect_none(r, before + 1);
  assert_null(a);
  assert_int_equal(nmr, 99);
  assert_int_equal(dl_machine_count(r->m, &dl_adapter_type), 1);  /* the Version 0 one */
}

/* IoGetDmaAdapter is PASSIVE_LEVEL only: report 0x13 (P2 1: exact level,
** P3 the level wanted, P4 the level it ran at); the adapter is still made. */
static void test_get_at_dispatch_is_wrong_irql(void **state) {
  rig *r = *state;
  uint64_t before = rig_reports(r);
  dl_machine_set_irql(r->m, DL_DISPATCH_LEVEL);
  dl_adapter *a = rig_adapter(r, rig_desc(0, 1, 0, 4096), NULL);
  dl_machine_set_irql(r->m, DL_PASSIVE_LEVEL);
  const dl_report *rep = rig_expect(r, before, DL_VF_WRONG_IRQL);
  assert_int_equal(rep->p2, 1);
  assert_int_equal(rep->p3, DL_PASSIVE_LEVEL);
  assert_int_equal(rep->p4, DL_DISPATCH_LEVEL);
  assert_non_null(a);
}

/* ---- AllocateAdapterChannel (1.3) ------------------------------------------- */

/* With the channel and registers free, AdapterControl runs at once, at
** DISPATCH_LEVEL, with a non-NULL MapRegisterBase; n > NumberOfMapRegisters
** is STATUS_INSUFFICIENT_RESOURCES (report 0x0C) and never runs it. */
static void test_allocate_runs_now_at_dispatch_or_refuses_too_many(void **state) {
  rig *r = *state;
  uint32_t nmr;
  dl_adapter *a = rig_adapter(r, rig_desc(0, 1, 0, 8192), &nmr);
  assert_int_equal(nmr, 3);
  log_t l = {.action = DL_DEALLOCATE_OBJECT, .a = a};
  ctl c = {&l, "A"};
  uint64_t before = rig_reports(r);
  assert_int_equal(alloc_at_dispatch(r, a, r->dev, 4, &c), DL_STATUS_INSUFFICIENT_RESOURCES);
  const dl_report *rep = rig_expect(r, before, DL_VF_TOO_MANY_MAP_REGISTERS_AT_ONCE);
  assert_int_equal(rep->p2, 4);
  assert_int_equal(rep->p3, 3);
  assert_int_equal(l.n, 0);
  assert_int_equal(alloc_at_dispatch(r, a, r->dev, 3, &c), DL_STATUS_SUCCESS);
  assert_int_equal(l.n, 1);
  assert_int_equal(l.irql[0], DL_DISPATCH_LEVEL);
  assert_true(l.base[0] != 0);
  assert_int_equal(l.nfree[0], 64 - 3);  /* its three registers were taken */
  assert_int_equal(dl_mapregs_of(r->m)->nfree, 64);  /* DeallocateObject freed them */
  assert_int_equal(dl_machine_irql(r->m), DL_PASSIVE_LEVEL);
  rig_expect_none(r, before + 1);
}

/* The call is DISPATCH_LEVEL only: at PASSIVE it is report 0x13. */
static void test_allocate_at_passive_is_wrong_irql(void **state) {
  rig *r = *state;
  dl_adapter *a = rig_adapter(r, rig_desc(0, 1, 0, 8192), NULL);
  log_t l = {.action = DL_DEALLOCATE_OBJECT, .a = a};
  ctl c = {&l, "A"};
  uint64_t before = rig_reports(r);
  assert_int_equal(dl_adapter_allocate_channel(a, r->dev, 1, control, &c), DL_STATUS_SUCCESS);
  const dl_report *rep = rig_expect(r, before, DL_VF_WRONG_IRQL);
  assert_int_equal(rep->p3, DL_DISPATCH_LEVEL);
  assert_int_equal(rep->p4, DL_PASSIVE_LEVEL);
}

/* One request per device object at a time: a second one while the first
** holds the channel is report 0x0B (STATUS_DEVICE_BUSY); after
** FreeAdapterChannel the device may ask again. */
static void test_one_request_per_device(void **state) {
  rig *r = *state;
  dl_adapter *a = rig_adapter(r, rig_desc(0, 1, 0, 8192), NULL);
  log_t l = {.action = DL_KEEP_OBJECT, .a = a};
  ctl c = {&l, "A"};
  uint64_t before = rig_reports(r);
  assert_int_equal(alloc_at_dispatch(r, a, r->dev, 2, &c), DL_STATUS_SUCCESS);
  assert_int_equal(alloc_at_dispatch(r, a, r->dev, 2, &c), DL_STATUS_DEVICE_BUSY);
  rig_expect(r, before, DL_VF_TOO_MANY_CHANNELS);
  assert_int_equal(l.n, 1);
  free_channel_at_dispatch(r, a);
  l.action = DL_DEALLOCATE_OBJECT;
  assert_int_equal(alloc_at_dispatch(r, a, r->dev, 2, &c), DL_STATUS_SUCCESS);
  assert_int_equal(l.n, 2);
  rig_expect_none(r, before + 1);
}

/* The call may not be made from inside AdapterControl, even for another
** device: report 0x0B (STATUS_DEVICE_BUSY) and the routine never runs. */
static void test_allocate_inside_adapter_control(void **state) {
  rig *r = *state;
  dl_adapter *a = rig_adapter(r, rig_desc(0, 1, 0, 8192), NULL);
  dl_device *other = rig_device(r, "other");
  log_t l = {.a = a, .other = other};
  ctl c = {&l, "A"};
  uint64_t before = rig_reports(r);
  dl_machine_set_irql(r->m, DL_DISPATCH_LEVEL);
  assert_int_equal(dl_adapter_allocate_channel(a, r->dev, 1, control_reenters, &c),
                   DL_STATUS_SUCCESS);
  dl_machine_set_irql(r->m, DL_PASSIVE_LEVEL);
  assert_int_equal(l.inner_status, DL_STATUS_DEVICE_BUSY);
  rig_expect(r, before, DL_VF_TOO_MANY_CHANNELS);
  assert_int_equal(l.n, 0);
  assert_int_equal(other->channel_requests, 0);
}

/* Each adapter has one channel owner; waiters get it in FIFO order, each
** when the one before frees it. */
static void test_channel_grants_in_fifo_order(void **state) {
  rig *r = *state;
  dl_adapter *a = rig_adapter(r, rig_desc(0, 1, 0, 8192), NULL);
  dl_device *d2 = rig_device(r, "d2"), *d3 = rig_device(r, "d3");
  log_t l = {.action = DL_KEEP_OBJECT, .a = a};
  ctl c1 = {&l, "A"}, c2 = {&l, "B"}, c3 = {&l, "C"};
  assert_int_equal(alloc_at_dispatch(r, a, r->dev, 1, &c1), DL_STATUS_SUCCESS);
  assert_int_equal(alloc_at_dispatch(r, a, d2, 2, &c2), DL_STATUS_SUCCESS);
  assert_int_equal(alloc_at_dispatch(r, a, d3, 3, &c3), DL_STATUS_SUCCESS);
  assert_int_equal(l.n, 1);  /* B and C wait for the channel, not for registers */
  assert_int_equal(dl_mapregs_of(r->m)->nfree, 63);
  free_channel_at_dispatch(r, a);
  assert_int_equal(l.n, 2);
  assert_string_equal(l.who[1], "B");
  assert_int_equal(l.nfree[1], 64 - 2);  /* A's register was freed before B ran */
  free_channel_at_dispatch(r, a);
  assert_int_equal(l.n, 3);
  assert_string_equal(l.who[2], "C");
  free_channel_at_dispatch(r, a);
  assert_int_equal(dl_mapregs_of(r->m)->nfree, 64);
  const dl_adapter_stats *st = dl_adapter_get_stats(a);
  assert_int_equal(st->channel_grants, 3);
}

/* DeallocateObject frees channel and registers when the routine returns,
** and the next waiter runs in the same call. */
static void test_deallocate_object_frees_both_and_runs_next(void **state) {
  rig *r = *state;
  dl_adapter *a = rig_adapter(r, rig_desc(0, 1, 0, 8192), NULL);
  dl_device *d2 = rig_device(r, "d2");
  log_t l = {.action = DL_KEEP_OBJECT, .a = a};
  ctl c1 = {&l, "A"}, c2 = {&l, "B"}, c3 = {&l, "C"};
  assert_int_equal(alloc_at_dispatch(r, a, r->dev, 3, &c1), DL_STATUS_SUCCESS);
  assert_int_equal(alloc_at_dispatch(r, a, d2, 3, &c2), DL_STATUS_SUCCESS);
  l.action = DL_DEALLOCATE_OBJECT;
  free_channel_at_dispatch(r, a);  /* B runs and returns DeallocateObject */
  assert_int_equal(l.n, 2);
  assert_int_equal(dl_mapregs_of(r->m)->nfree, 64);
  /* the channel is free again: the next request runs at once */
  assert_int_equal(alloc_at_dispatch(r, a, r->dev, 1, &c3), DL_STATUS_SUCCESS);
  assert_int_equal(l.n, 3);
  assert_string_equal(l.who[2], "C");
}

/* DeallocateObjectKeepRegisters releases the channel (the next request
** runs) but the registers stay held until FreeMapRegisters. */
static void test_keep_registers_releases_only_the_channel(void **state) {
  rig *r = *state;
  dl_adapter *a = rig_adapter(r, rig_desc(0, 1, 0, 8192), NULL);
  dl_device *d2 = rig_device(r, "d2");
  log_t l = {.action = DL_KEEP_OBJECT, .a = a};
  ctl c1 = {&l, "A"}, c2 = {&l, "B"};
  assert_int_equal(alloc_at_dispatch(r, a, r->dev, 3, &c1), DL_STATUS_SUCCESS);
  assert_int_equal(alloc_at_dispatch(r, a, d2, 2, &c2), DL_STATUS_SUCCESS);
  l.action = DL_DEALLOCATE_OBJECT_KEEP_REGISTERS;
  free_channel_at_dispatch(r, a);  /* A's 3 freed; B runs, keeps its 2 */
  assert_int_equal(l.n, 2);
  assert_int_equal(dl_mapregs_of(r->m)->nfree, 62);
  assert_int_equal(dl_adapter_get_stats(a)->registers_held, 2);
  /* B's device may ask again: its channel request is over */
  assert_int_equal(alloc_at_dispatch(r, a, d2, 1, &c2), DL_STATUS_SUCCESS);
  assert_int_equal(l.n, 3);
  assert_int_equal(dl_mapregs_of(r->m)->nfree, 61);
  uint64_t before = rig_reports(r);
  free_regs_at_dispatch(r, a, l.base[1], 2);
  free_regs_at_dispatch(r, a, l.base[2], 1);
  rig_expect_none(r, before);
  assert_int_equal(dl_mapregs_of(r->m)->nfree, 64);
  assert_int_equal(dl_adapter_get_stats(a)->registers_held, 0);
  assert_int_equal(dl_adapter_get_stats(a)->registers_high_water, 3);
}

/* FreeAdapterChannel without a channel kept by KeepObject, or twice, is a
** double free (0x04). */
static void test_free_channel_twice_is_0x04(void **state) {
  rig *r = *state;
  dl_adapter *a = rig_adapter(r, rig_desc(0, 1, 0, 8192), NULL);
  log_t l = {.action = DL_KEEP_OBJECT, .a = a};
  ctl c = {&l, "A"};
  uint64_t before = rig_reports(r);
  free_channel_at_dispatch(r, a);
  rig_expect(r, before, DL_VF_DOUBLE_FREE_CHANNEL);
  assert_int_equal(alloc_at_dispatch(r, a, r->dev, 1, &c), DL_STATUS_SUCCESS);
  free_channel_at_dispatch(r, a);
  rig_expect_none(r, before + 1);
  free_channel_at_dispatch(r, a);
  rig_expect(r, before + 1, DL_VF_DOUBLE_FREE_CHANNEL);
  /* DeallocateKeepRegisters gave the channel back: freeing it is a double free */
  l.action = DL_DEALLOCATE_OBJECT_KEEP_REGISTERS;
  assert_int_equal(alloc_at_dispatch(r, a, r->dev, 1, &c), DL_STATUS_SUCCESS);
  free_channel_at_dispatch(r, a);
  rig_expect(r, before + 2, DL_VF_DOUBLE_FREE_CHANNEL);
  free_regs_at_dispatch(r, a, l.base[l.n - 1], 1);
}

/* FreeMapRegisters: the count must be the one allocated (0x05 with the
** excess), a second free is 0x05, a base that names nothing is 0x05 too
** (issue 16: not an argument error), and the call is DISPATCH_LEVEL only
** (0x13). */
static void test_free_map_registers_rules(void **state) {
  rig *r = *state;
  dl_adapter *a = rig_adapter(r, rig_desc(0, 1, 0, 8192), NULL);
  log_t l = {.action = DL_DEALLOCATE_OBJECT_KEEP_REGISTERS, .a = a};
  ctl c = {&l, "A"};
  assert_int_equal(alloc_at_dispatch(r, a, r->dev, 2, &c), DL_STATUS_SUCCESS);
  uint64_t base = l.base[0], before = rig_reports(r);
  dl_machine_set_irql(r->m, DL_DISPATCH_LEVEL);
  assert_int_equal(dl_adapter_free_map_registers(a, base, 3), DL_OK);
  const dl_report *rep = rig_expect(r, before, DL_VF_DOUBLE_FREE_MAP_REGISTERS);
  assert_int_equal(rep->p2, 1);
  assert_int_equal(dl_mapregs_of(r->m)->nfree, 64);  /* freed all the same */
  assert_int_equal(dl_adapter_free_map_registers(a, base, 2), DL_OK);
  rig_expect(r, before + 1, DL_VF_DOUBLE_FREE_MAP_REGISTERS);
  assert_int_equal(dl_adapter_free_map_registers(a, 0, 2), DL_OK);
  rep = rig_expect(r, before + 2, DL_VF_DOUBLE_FREE_MAP_REGISTERS);
  assert_non_null(strstr(rep->message, "names no map registers of adapter#"));
  assert_int_equal(dl_adapter_free_map_registers(a, 12345, 2), DL_OK);
  rig_expect(r, before + 3, DL_VF_DOUBLE_FREE_MAP_REGISTERS);
  rig_expect_none(r, before + 4);
  assert_int_equal(dl_mapregs_of(r->m)->nfree, 64);  /* nothing freed */
  dl_machine_set_irql(r->m, DL_PASSIVE_LEVEL);
  assert_int_equal(alloc_at_dispatch(r, a, r->dev, 1, &c), DL_STATUS_SUCCESS);
  assert_int_equal(dl_adapter_free_map_registers(a, l.base[1], 1), DL_OK);
  rig_expect(r, before + 4, DL_VF_WRONG_IRQL);
  assert_int_equal(dl_mapregs_of(r->m)->nfree, 64);
}

/* A MapRegisterBase of one adapter means nothing to another: 0x05, and
** nothing is freed. */
static void test_base_of_another_adapter_is_refused(void **state) {
  rig *r = *state;
  dl_adapter *a = rig_adapter(r, rig_desc(0, 1, 0, 8192), NULL);
  dl_adapter *b = rig_adapter_for(r, rig_device(r, "d2"), rig_desc(0, 1, 0, 8192), NULL);
  log_t l = {.action = DL_DEALLOCATE_OBJECT_KEEP_REGISTERS, .a = a};
  ctl c = {&l, "A"};
  assert_int_equal(alloc_at_dispatch(r, a, r->dev, 2, &c), DL_STATUS_SUCCESS);
  dl_machine_set_irql(r->m, DL_DISPATCH_LEVEL);
  uint64_t before = rig_reports(r);
  assert_int_equal(dl_adapter_free_map_registers(b, l.base[0], 2), DL_OK);
  rig_expect(r, before, DL_VF_DOUBLE_FREE_MAP_REGISTERS);
  assert_int_equal(dl_mapregs_of(r->m)->nfree, 62);
  assert_int_equal(dl_adapter_free_map_registers(a, l.base[0], 2), DL_OK);
  dl_machine_set_irql(r->m, DL_PASSIVE_LEVEL);
}

/* Channel grants are traced (request, then grant with the register count)
** and counted; a grant that had to wait counts as a channel wait. */
static void test_grants_are_traced_and_waits_counted(void **state) {
  rig *r = *state;
  dl_adapter *a = rig_adapter(r, rig_desc(0, 1, 0, 8192), NULL);
  dl_device *d2 = rig_device(r, "d2");
  log_t l = {.action = DL_KEEP_OBJECT, .a = a};
  ctl c1 = {&l, "A"}, c2 = {&l, "B"};
  dl_trace *t = dl_machine_trace(r->m);
  size_t first = dl_trace_count(t);
  assert_int_equal(alloc_at_dispatch(r, a, r->dev, 2, &c1), DL_STATUS_SUCCESS);
  assert_int_equal(alloc_at_dispatch(r, a, d2, 3, &c2), DL_STATUS_SUCCESS);
  dl_clock_run_until(dl_machine_clock(r->m), 500);
  free_channel_at_dispatch(r, a);
  const dl_trace_record *rec = dl_trace_at(t, first);
  assert_int_equal(rec->kind, DL_TR_CHANNEL_REQUEST);
  assert_int_equal(rec->obj, dl_adapter_id(a));
  assert_int_equal(rec->a, r->dev->id);
  assert_int_equal(rec->b, 2);
  rec = dl_trace_at(t, first + 1);
  assert_int_equal(rec->kind, DL_TR_CHANNEL_GRANT);
  assert_int_equal(rec->b, 2);
  assert_int_equal(dl_trace_at(t, first + 2)->kind, DL_TR_CHANNEL_REQUEST);
  assert_int_equal(dl_trace_at(t, first + 3)->kind, DL_TR_FREE_MAP_REGISTERS);
  rec = dl_trace_at(t, first + 4);
  assert_int_equal(rec->kind, DL_TR_CHANNEL_GRANT);
  assert_int_equal(rec->a, d2->id);
  assert_int_equal(rec->b, 3);
  dl_stats *st = dl_trace_stats(t);
  assert_int_equal(st->channel_waits, 1);
  assert_int_equal(st->channel_wait_ns, 500);
  free_channel_at_dispatch(r, a);
}

/* ---- PutDmaAdapter and leaks (4) ----------------------------------------------- */

/* PutDmaAdapter reports what is still held (0x08 channels, 0x09 map
** registers), and every later call on the adapter is 0x18. */
static void test_put_with_outstanding_then_use_after_release(void **state) {
  rig *r = *state;
  dl_adapter *a = rig_adapter(r, rig_desc(0, 1, 0, 8192), NULL);
  dl_device *d2 = rig_device(r, "d2");
  log_t l = {.action = DL_KEEP_OBJECT, .a = a};
  ctl c1 = {&l, "A"}, c2 = {&l, "B"};
  assert_int_equal(alloc_at_dispatch(r, a, r->dev, 2, &c1), DL_STATUS_SUCCESS);
  assert_int_equal(alloc_at_dispatch(r, a, d2, 1, &c2), DL_STATUS_SUCCESS);
  uint64_t before = rig_reports(r);
  dl_adapter_put(a);
  assert_int_equal(rig_reports(r), before + 2);
  const dl_report *ch = dl_verifier_at(r->m, (size_t)before);
  assert_int_equal(ch->p1, DL_VF_PUT_WITH_CHANNELS);
  assert_int_equal(ch->p2, dl_adapter_id(a));
  assert_int_equal(ch->p3, 2);  /* the owner and one waiting */
  assert_int_equal(ch->leak, 0);
  const dl_report *regs = rig_last(r);
  assert_int_equal(regs->p1, DL_VF_PUT_WITH_MAP_REGISTERS);
  assert_int_equal(regs->p3, 1);
  assert_true(dl_adapter_is_released(a));
  free_channel_at_dispatch(r, a);
  rig_expect(r, before + 2, DL_VF_ADAPTER_RELEASED);
  assert_int_equal(alloc_at_dispatch(r, a, r->dev, 1, &c1), DL_STATUS_INVALID_PARAMETER);
  rig_expect(r, before + 3, DL_VF_ADAPTER_RELEASED);
  dl_adapter_put(a);
  rig_expect(r, before + 4, DL_VF_ADAPTER_RELEASED);
  assert_int_equal(l.n, 1);
}

/* A clean adapter is put without a report. */
static void test_put_clean_adapter_reports_nothing(void **state) {
  rig *r = *state;
  dl_adapter *a = rig_adapter(r, rig_desc(0, 1, 0, 8192), NULL);
  log_t l = {.action = DL_DEALLOCATE_OBJECT, .a = a};
  ctl c = {&l, "A"};
  assert_int_equal(alloc_at_dispatch(r, a, r->dev, 2, &c), DL_STATUS_SUCCESS);
  uint64_t before = rig_reports(r);
  dl_adapter_put(a);
  rig_expect_none(r, before);
  assert_int_equal(dl_machine_check_leaks(r->m), 0);
}

/* PutDmaAdapter is <= DISPATCH_LEVEL: above it, report 0x13 (P2 2). */
static void test_put_above_dispatch_is_wrong_irql(void **state) {
  rig *r = *state;
  dl_adapter *a = rig_adapter(r, rig_desc(0, 1, 0, 8192), NULL);
  uint64_t before = rig_reports(r);
  dl_machine_set_irql(r->m, 5);
  dl_adapter_put(a);
  dl_machine_set_irql(r->m, DL_PASSIVE_LEVEL);
  const dl_report *rep = rig_expect(r, before, DL_VF_WRONG_IRQL);
  assert_int_equal(rep->p2, 2);
  assert_int_equal(rep->p4, 5);
}

/* The end-of-run check reports each adapter's held registers as a leak
** (0x09, marked leak) and counts the reports; freeing clears it. */
static void test_leak_check_at_teardown(void **state) {
  rig *r = *state;
  dl_adapter *a = rig_adapter(r, rig_desc(0, 1, 0, 8192), NULL);
  dl_adapter *b = rig_adapter_for(r, rig_device(r, "d2"), rig_desc(0, 1, 0, 8192), NULL);
  log_t l = {.action = DL_DEALLOCATE_OBJECT_KEEP_REGISTERS, .a = a};
  ctl c = {&l, "A"};
  assert_int_equal(alloc_at_dispatch(r, a, r->dev, 2, &c), DL_STATUS_SUCCESS);
  uint64_t before = rig_reports(r);
  assert_int_equal(dl_machine_check_leaks(r->m), 1);
  const dl_report *rep = rig_expect(r, before, DL_VF_PUT_WITH_MAP_REGISTERS);
  assert_int_equal(rep->leak, 1);
  assert_int_equal(rep->p2, dl_adapter_id(a));
  free_regs_at_dispatch(r, a, l.base[0], 2);
  assert_int_equal(dl_machine_check_leaks(r->m), 0);
  (void)b;
  /* destroying an adapter whatever it holds gives its registers back */
  assert_int_equal(alloc_at_dispatch(r, a, r->dev, 3, &c), DL_STATUS_SUCCESS);
  assert_int_equal(dl_mapregs_of(r->m)->nfree, 61);
  dl_adapter_destroy(a);
  assert_int_equal(dl_mapregs_of(r->m)->nfree, 64);
}

/* Requests still waiting when an adapter is destroyed are dropped and the
** drop function is told, with the request's context; none of them runs. */
static int drops;
static void on_drop(dl_adapter *a, void *ctx) {
  (void)a;
  (void)ctx;
  drops++;
}

static void test_destroy_drops_waiting_requests(void **state) {
  rig *r = *state;
  dl_adapter *a = rig_adapter(r, rig_desc(0, 1, 0, 8192), NULL);
  dl_adapter_set_drop(a, on_drop);
  log_t l = {.action = DL_KEEP_OBJECT, .a = a};
  ctl c1 = {&l, "A"}, c2 = {&l, "B"};
  assert_int_equal(alloc_at_dispatch(r, a, r->dev, 1, &c1), DL_STATUS_SUCCESS);
  assert_int_equal(alloc_at_dispatch(r, a, rig_device(r, "d2"), 1, &c2), DL_STATUS_SUCCESS);
  drops = 0;
  dl_adapter_destroy(a);
  assert_int_equal(drops, 1);
  assert_int_equal(l.n, 1);
  assert_int_equal(dl_mapregs_of(r->m)->nfree, 64);
}

int main(void) {
  const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, rig_setup, rig_teardown)
    T(test_nmr_packet_master_is_pages_plus_one_capped_at_16),
    cmocka_unit_test(test_nmr_cap_follows_config_and_pool),
    T(test_nmr_sg64_master_uncapped_and_maxlen_masked),
    T(test_address_ceilings),
    T(test_get_refuses_bad_descriptions),
    T(test_get_at_dispatch_is_wrong_irql),
    T(test_allocate_runs_now_at_dispatch_or_refuses_too_many),
    T(test_allocate_at_passive_is_wrong_irql),
    T(test_one_request_per_device),
    T(test_allocate_inside_adapter_control),
    T(test_channel_grants_in_fifo_order),
    T(test_deallocate_object_frees_both_and_runs_next),
    T(test_keep_registers_releases_only_the_channel),
    T(test_free_channel_twice_is_0x04),
    T(test_free_map_registers_rules),
    T(test_base_of_another_adapter_is_refused),
    T(test_grants_are_traced_and_waits_counted),
    T(test_put_with_outstanding_then_use_after_release),
    T(test_put_clean_adapter_reports_nothing),
    T(test_put_above_dispatch_is_wrong_irql),
    T(test_leak_check_at_teardown),
    T(test_destroy_drops_waiting_requests),
#undef T
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
