/*
** test_dmaex.c: the version-3 DMA operations (core/hal/dl_dmaex.c,
** dl_dmaex_map.c) without Lua: the DMA transfer context and its checks,
** AllocateAdapterChannelEx with and without a routine and
** DMA_SYNCHRONOUS_CALLBACK, FreeAdapterObject, CancelAdapterChannel,
** MapTransferEx over chained MDLs (elements, the buffer and register limits,
** bounces with real bytes), FlushAdapterBuffersEx, CancelMappedTransfer,
** completion routines through an adapter kind, GetDmaTransferInfo against
** what MapTransferEx and BuildScatterGatherListEx then take, and
** AllocateCommonBufferEx; a v2 adapter lacks them all.
*/
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "rig.h"
#include "rig_dmaex.h"
#include "hal/dl_dmaex.h"

/* A version-3 adapter: width bits, scatter/gather or packet. */
static dl_adapter *v3(rig *r, dl_device *dev, int sg, uint32_t width) {
  dl_device_description d = rig_desc(sg, 0, 0, 64 * PS);
  d.version = 3;
  d.address_width = width;
  return rig_adapter_for(r, dev, d, NULL);
}

/* `n` low pages mapped in the order given (breaks where not consecutive). */
static dl_mdl *buffer(rig *r, const int *order, int n, uint32_t off, uint32_t trim,
                      dl_region **reg) {
  uint64_t p = rig_pages_at(r, 8, 0), pfns[8];
  for (int i = 0; i < n; i++) pfns[i] = p + (uint64_t)order[i];
  *reg = rig_map(r, pfns, off, (uint64_t)n * PS - off - trim);
  return rig_mdl(r, *reg);
}

typedef struct ran { int n; uint64_t base; uint8_t irql; int action; } ran;

static int control(void *ctx, dl_device *dev, uint64_t base) {
  ran *x = ctx;
  x->n++;
  x->base = base;
  x->irql = dl_machine_irql(dev->m);
  return x->action;
}

/* ---- availability and the context ---------------------------------------------- */

static void test_v2_adapter_lacks_the_ex_operations(void **state) {
  rig *r = *state;
  dl_adapter *a = rig_adapter(r, rig_desc(1, 1, 0, 16 * PS), NULL);
  dl_dmactx *c = NULL;
  assert_int_equal(dl_dmactx_new(a, &c), DL_OK);
  assert_false(dl_dmaex_available(a));
  assert_int_equal(dl_dmaex_initialize_context(a, c), DL_STATUS_NOT_SUPPORTED);
  uint64_t base;
  assert_int_equal(dl_dmaex_allocate_channel(a, r->dev, c, 1, DL_DMA_SYNCHRONOUS_CALLBACK, NULL,
                                             NULL, &base), DL_STATUS_NOT_SUPPORTED);
  dl_dma_adapter_info info;
  assert_int_equal(dl_dmaex_adapter_info(a, 1, &info), DL_STATUS_NOT_SUPPORTED);
}

static void test_uninitialised_context_is_refused(void **state) {
  rig *r = *state;
  dl_adapter *a = v3(r, r->dev, 0, 32);
  dl_dmactx *c = NULL;
  assert_int_equal(dl_dmactx_new(a, &c), DL_OK);
  uint64_t before = rig_reports(r), base = 1;
  dl_machine_set_irql(r->m, DL_DISPATCH_LEVEL);
  assert_int_equal(dl_dmaex_allocate_channel(a, r->dev, c, 1, DL_DMA_SYNCHRONOUS_CALLBACK, NULL,
                                             NULL, &base), DL_STATUS_INVALID_PARAMETER);
  dl_machine_set_irql(r->m, DL_PASSIVE_LEVEL);
  rig_expect(r, before, DL_VF_MISC);
  assert_non_null(strstr(rig_last(r)->message, "InitializeDmaTransferContext"));
  assert_int_equal(base, 0);
  assert_false(dl_adapter_channel_busy(a, r->dev));
}

static void test_context_must_be_unique_across_allocations(void **state) {
  rig *r = *state;
  dl_adapter *a = v3(r, r->dev, 0, 32);
  dl_dmactx *c = rig_dmactx(a);
  rig_take(r, a, r->dev, c, 2);
  uint64_t before = rig_reports(r);
  rig_free_object(r, a, DL_DEALLOCATE_OBJECT_KEEP_REGISTERS);  /* registers still held under c */
  dl_machine_set_irql(r->m, DL_DISPATCH_LEVEL);
  uint64_t base;
  assert_int_equal(dl_dmaex_allocate_channel(a, r->dev, c, 1, DL_DMA_SYNCHRONOUS_CALLBACK, NULL,
                                             NULL, &base), DL_STATUS_INVALID_PARAMETER);
  dl_machine_set_irql(r->m, DL_PASSIVE_LEVEL);
  rig_expect(r, before, DL_VF_MISC);
  assert_non_null(strstr(rig_last(r)->message, "unique"));
  assert_int_equal(dl_dmaex_initialize_context(a, c), DL_STATUS_INVALID_PARAMETER);
}

/* ---- AllocateAdapterChannelEx -------------------------------------------------- */

static void test_synchronous_without_routine_then_free_adapter_object(void **state) {
  rig *r = *state;
  dl_adapter *a = v3(r, r->dev, 0, 32);
  dl_dmactx *c = rig_dmactx(a);
  rig_take(r, a, r->dev, c, 3);
  assert_int_equal(dl_adapter_get_stats(a)->registers_held, 3);
  assert_true(dl_adapter_channel_busy(a, r->dev));
  rig_free_object(r, a, DL_KEEP_OBJECT);  /* no effect */
  assert_true(dl_adapter_channel_busy(a, r->dev));
  rig_free_object(r, a, DL_DEALLOCATE_OBJECT);
  assert_int_equal(dl_adapter_get_stats(a)->registers_held, 0);
  assert_false(dl_adapter_channel_busy(a, r->dev));
  uint64_t before = rig_reports(r);
  rig_free_object(r, a, DL_DEALLOCATE_OBJECT);  /* twice: no channel held */
  rig_expect(r, before, DL_VF_DOUBLE_FREE_CHANNEL);
  /* the context is free again: a new allocation under it is fine */
  assert_true(rig_take(r, a, r->dev, c, 1) != 0);
  assert_int_equal(dl_adapter_get_stats(a)->registers_held, 1);
  rig_free_object(r, a, DL_DEALLOCATE_OBJECT);
}

static void test_flags_and_routine_must_agree(void **state) {
  rig *r = *state;
  dl_adapter *a = v3(r, r->dev, 0, 32);
  dl_dmactx *c = rig_dmactx(a);
  uint64_t base;
  dl_machine_set_irql(r->m, DL_DISPATCH_LEVEL);
  assert_int_equal(dl_dmaex_allocate_channel(a, r->dev, c, 1, 0, NULL, NULL, &base),
                   DL_STATUS_INVALID_PARAMETER);
  assert_int_equal(dl_dmaex_allocate_channel(a, r->dev, c, 1, 0x10, NULL, NULL, &base),
                   DL_STATUS_INVALID_PARAMETER);
  dl_machine_set_irql(r->m, DL_PASSIVE_LEVEL);
  assert_int_equal(rig_reports(r), 0);
}

static void test_routine_runs_at_dispatch_and_its_action_applies(void **state) {
  rig *r = *state;
  dl_adapter *a = v3(r, r->dev, 0, 32);
  dl_dmactx *c = rig_dmactx(a);
  ran x = {.action = DL_DEALLOCATE_OBJECT};
  dl_machine_set_irql(r->m, DL_DISPATCH_LEVEL);
  assert_int_equal(dl_dmaex_allocate_channel(a, r->dev, c, 2, 0, control, &x, NULL),
                   DL_STATUS_SUCCESS);
  dl_machine_set_irql(r->m, DL_PASSIVE_LEVEL);
  assert_int_equal(x.n, 1);
  assert_int_equal(x.irql, DL_DISPATCH_LEVEL);
  assert_int_equal(dl_adapter_get_stats(a)->registers_held, 0);
  assert_int_equal(dl_dmaex_cancel_channel(a, r->dev, c), 0);  /* the routine ran: FALSE */
}

/* While dev0 holds the channel, dev1's asynchronous request waits; it can be
** cancelled (TRUE, never runs); a synchronous one fails at once. */
static void test_cancel_a_waiting_request_and_synchronous_refusal(void **state) {
  rig *r = *state;
  dl_adapter *a = v3(r, r->dev, 0, 32);
  dl_device *dev1 = rig_device(r, "dev1");
  dl_dmactx *c0 = rig_dmactx(a), *c1 = rig_dmactx(a), *c2 = rig_dmactx(a);
  rig_take(r, a, r->dev, c0, 1);
  ran x = {.action = DL_DEALLOCATE_OBJECT};
  dl_machine_set_irql(r->m, DL_DISPATCH_LEVEL);
  assert_int_equal(dl_dmaex_allocate_channel(a, dev1, c1, 1, 0, control, &x, NULL),
                   DL_STATUS_SUCCESS);
  assert_true(dl_dmactx_pending(c1));
  assert_int_equal(dl_dmaex_allocate_channel(a, r->dev, c2, 1, DL_DMA_SYNCHRONOUS_CALLBACK,
                                             control, &x, NULL), DL_STATUS_INSUFFICIENT_RESOURCES);
  assert_int_equal(dl_dmaex_cancel_channel(a, dev1, c1), 1);
  assert_false(dl_dmactx_pending(c1));
  assert_true(dl_dmactx_cancelled(c1));
  assert_false(dl_adapter_channel_busy(a, dev1));
  dl_machine_set_irql(r->m, DL_PASSIVE_LEVEL);
  rig_free_object(r, a, DL_DEALLOCATE_OBJECT);
  assert_int_equal(x.n, 0);  /* cancelled: never ran */
  dl_machine_set_irql(r->m, DL_DISPATCH_LEVEL);
  assert_int_equal(dl_dmaex_allocate_channel(a, dev1, c1, 1, 0, control, &x, NULL),
                   DL_STATUS_CANCELLED);  /* until re-initialised */
  dl_machine_set_irql(r->m, DL_PASSIVE_LEVEL);
  assert_int_equal(dl_dmaex_initialize_context(a, c1), DL_STATUS_SUCCESS);
  dl_machine_set_irql(r->m, DL_DISPATCH_LEVEL);
  assert_int_equal(dl_dmaex_allocate_channel(a, dev1, c1, 1, 0, control, &x, NULL),
                   DL_STATUS_SUCCESS);
  assert_int_equal(x.n, 1);
  assert_int_equal(dl_dmaex_cancel_channel(a, dev1, c1), 0);  /* ran: FALSE */
  dl_machine_set_irql(r->m, DL_PASSIVE_LEVEL);
}

/* A request waiting for map registers at the head of the master FIFO is
** withdrawn too, and the requests behind it are then served. */
static void test_cancel_a_request_waiting_for_registers(void **state) {
  rig *r = *state;
  dl_machine_config cfg;
  dl_machine_config_init(&cfg);
  cfg.map_registers = 8;
  rig_close(r);
  assert_int_equal(rig_open(r, &cfg), 0);
  dl_device *dev1 = rig_device(r, "dev1"), *dev2 = rig_device(r, "dev2");
  dl_adapter *a0 = v3(r, r->dev, 0, 32), *a1 = v3(r, dev1, 0, 32), *a2 = v3(r, dev2, 0, 32);
  dl_dmactx *c0 = rig_dmactx(a0), *c1 = rig_dmactx(a1), *c2 = rig_dmactx(a2);
  rig_take(r, a0, r->dev, c0, 6);
  ran x1 = {.action = DL_DEALLOCATE_OBJECT}, x2 = {.action = DL_DEALLOCATE_OBJECT};
  dl_machine_set_irql(r->m, DL_DISPATCH_LEVEL);
  assert_int_equal(dl_dmaex_allocate_channel(a1, dev1, c1, 4, 0, control, &x1, NULL), 0);
  assert_int_equal(dl_dmaex_allocate_channel(a2, dev2, c2, 2, 0, control, &x2, NULL), 0);
  assert_int_equal(x2.n, 0);  /* head-of-line: behind the 4-register request */
  assert_int_equal(dl_dmaex_cancel_channel(a1, dev1, c1), 1);
  dl_machine_set_irql(r->m, DL_PASSIVE_LEVEL);
  assert_int_equal(x1.n, 0);
  assert_int_equal(x2.n, 1);  /* served once the head went away */
  rig_free_object(r, a0, DL_DEALLOCATE_OBJECT);
  assert_int_equal(rig_reports(r), 0);
}

static void test_preemptive_cancel(void **state) {
  rig *r = *state;
  dl_adapter *a = v3(r, r->dev, 0, 32);
  dl_dmactx *c = rig_dmactx(a);
  assert_int_equal(dl_dmaex_cancel_channel(a, r->dev, c), 1);
  ran x = {.action = DL_DEALLOCATE_OBJECT};
  dl_machine_set_irql(r->m, DL_DISPATCH_LEVEL);
  assert_int_equal(dl_dmaex_allocate_channel(a, r->dev, c, 1, 0, control, &x, NULL),
                   DL_STATUS_CANCELLED);
  dl_machine_set_irql(r->m, DL_PASSIVE_LEVEL);
  assert_int_equal(x.n, 0);
}

static void test_allocate_ex_irql_and_register_rules_are_v1s(void **state) {
  rig *r = *state;
  uint32_t nmr = 0;
  dl_device_description d = rig_desc(0, 0, 0, 4 * PS);
  d.version = 3;
  d.address_width = 32;
  dl_adapter *a = rig_adapter(r, d, &nmr);
  dl_dmactx *c = rig_dmactx(a);
  uint64_t before = rig_reports(r), base;
  assert_int_equal(dl_dmaex_allocate_channel(a, r->dev, c, 1, DL_DMA_SYNCHRONOUS_CALLBACK, NULL,
                                             NULL, &base), DL_STATUS_SUCCESS);  /* at PASSIVE */
  rig_expect(r, before, DL_VF_WRONG_IRQL);
  assert_non_null(strstr(rig_last(r)->message, "AllocateAdapterChannelEx"));
  rig_free_object(r, a, DL_DEALLOCATE_OBJECT);
  before = rig_reports(r);
  dl_machine_set_irql(r->m, DL_DISPATCH_LEVEL);
  assert_int_equal(dl_dmaex_allocate_channel(a, r->dev, c, nmr + 1, DL_DMA_SYNCHRONOUS_CALLBACK,
                                             NULL, NULL, &base), DL_STATUS_INSUFFICIENT_RESOURCES);
  dl_machine_set_irql(r->m, DL_PASSIVE_LEVEL);
  rig_expect(r, before, DL_VF_TOO_MANY_MAP_REGISTERS_AT_ONCE);
}

/* ---- MapTransferEx --------------------------------------------------------------- */

/* MapTransferEx with a buffer of `el` elements; returns the status. */
static uint32_t mapex(rig *r, dl_adapter *a, dl_mdl *mdl, uint64_t base, uint64_t off,
                      uint32_t *len, int write, uint32_t el, const dl_sg_element **list,
                      uint32_t *n) {
  return rig_mapex(r, a, mdl, base, off, 0, len, write, el ? DL_SGLIST_SIZE(el) : 0, NULL, list, n);
}

/* A chain of two MDLs (3 pages with a break, then 2 contiguous) on a 64-bit
** S/G master: one call maps it all, one element per physical run, and
** GetDmaTransferInfo said exactly what it would take. */
static void test_map_transfer_ex_over_a_chain_matches_transfer_info(void **state) {
  rig *r = *state;
  dl_adapter *a = v3(r, r->dev, 1, 64);
  dl_region *r1, *r2;
  const int o1[] = {0, 1, 4}, o2[] = {0, 1};
  dl_mdl *m1 = buffer(r, o1, 3, 0x200, 0, &r1), *m2 = buffer(r, o2, 2, 0, 0x100, &r2);
  assert_int_equal(dl_mdl_set_next(m1, m2), DL_OK);
  uint32_t total = (uint32_t)(r1->length + r2->length);
  dl_dma_transfer_info ti;
  assert_int_equal(dl_dmaex_transfer_info(a, m1, 0x100, total - 0x100, 1, 1, &ti), 0);
  assert_int_equal(ti.sg_element_count, 3);
  assert_int_equal(ti.sg_list_size, DL_SGLIST_SIZE(3));
  assert_int_equal(ti.map_register_count, 0);  /* 64-bit S/G master: no registers */
  assert_int_equal(dl_dmaex_transfer_info(a, m1, 0, 1, 1, 2, &ti), DL_STATUS_NOT_SUPPORTED);
  assert_int_equal(dl_dmaex_transfer_info(a, m1, total, 1, 1, 1, &ti), DL_STATUS_INVALID_PARAMETER);
  dl_dmactx *c = rig_dmactx(a);
  uint64_t base = rig_take(r, a, r->dev, c, 0);
  uint32_t len = total - 0x100, n = 0;
  const dl_sg_element *el;
  assert_int_equal(mapex(r, a, m1, base, 0x100, &len, 1, 3, &el, &n), DL_STATUS_SUCCESS);
  assert_int_equal(len, total - 0x100);
  assert_int_equal(n, 3);
  assert_int_equal(el[0].address, dl_mdl_pa(m1, r1->va + 0x100));
  assert_int_equal(el[0].length, 2 * PS - 0x300);
  assert_int_equal(el[1].length, PS);
  assert_int_equal(el[2].address, dl_mdl_pa(m2, r2->va));
  assert_int_equal(el[2].length, r2->length);
  assert_true(dl_dmactx_mapped(c));
  assert_int_equal(rig_flushex(r, a, m1, base, 0x100, len, 1), DL_STATUS_SUCCESS);
  assert_false(dl_dmactx_mapped(c));
  /* a buffer for two elements: *Length stops after the second */
  len = total - 0x100;
  assert_int_equal(mapex(r, a, m1, base, 0x100, &len, 1, 2, &el, &n), DL_STATUS_SUCCESS);
  assert_int_equal(n, 2);
  assert_int_equal(len, 3 * PS - 0x300);
  assert_int_equal(rig_flushex(r, a, m1, base, 0x100, len, 1), DL_STATUS_SUCCESS);
  rig_free_object(r, a, DL_DEALLOCATE_OBJECT);
  assert_int_equal(rig_reports(r), 0);
}

/* A packet master above its ceiling bounces through the registers it was
** given; the registers bound *Length; a read's bytes come back at the flush. */
static void test_map_transfer_ex_packet_bounce_and_register_budget(void **state) {
  rig *r = *state;
  dl_adapter *a = v3(r, r->dev, 0, 32);
  uint64_t p = rig_pages_at(r, 4, GiB4), pfns[4] = {p, p + 1, p + 2, p + 3};
  dl_region *reg = rig_map(r, pfns, 0x80, 4 * PS - 0x80);
  dl_mdl *mdl = rig_mdl(r, reg);
  dl_dma_transfer_info ti;
  assert_int_equal(dl_dmaex_transfer_info(a, mdl, 0, (uint32_t)reg->length, 0, 1, &ti), 0);
  assert_int_equal(ti.map_register_count, 4);
  assert_int_equal(ti.sg_element_count, 1);
  dl_dmactx *c = rig_dmactx(a);
  uint64_t base = rig_take(r, a, r->dev, c, 2);  /* fewer registers than the transfer needs */
  uint32_t len = (uint32_t)reg->length, n;
  const dl_sg_element *el;
  assert_int_equal(mapex(r, a, mdl, base, 0, &len, 0, 1, &el, &n), DL_STATUS_SUCCESS);
  assert_int_equal(len, 2 * PS - 0x80);  /* what two registers hold from offset 0x80 */
  assert_int_equal(n, 1);
  assert_true(el[0].address + el[0].length - 1 <= UINT32_MAX);  /* bounced below 4 GiB */
  rig_pattern(r, reg->va, len, 9);  /* the device writes the bounce: copy the pattern there */
  uint8_t buf[2 * PS];
  assert_int_equal(dl_machine_read_va(r->m, reg->va, buf, len), DL_OK);
  dl_physmem_write(dl_machine_physmem(r->m), el[0].address, buf, len);
  memset(buf, 0, sizeof buf);
  assert_int_equal(dl_machine_write_va(r->m, reg->va, buf, len), DL_OK);
  assert_int_equal(rig_flushex(r, a, mdl, base, 0, len, 0), DL_STATUS_SUCCESS);
  assert_true(rig_has_pattern(r, reg->va, len, 9));
  rig_free_object(r, a, DL_DEALLOCATE_OBJECT);
  assert_int_equal(rig_reports(r), 0);
}

static void test_map_transfer_ex_misuse(void **state) {
  rig *r = *state;
  dl_adapter *a = v3(r, r->dev, 1, 64);
  dl_region *reg;
  const int o[] = {0, 1};
  dl_mdl *mdl = buffer(r, o, 2, 0, 0, &reg);
  const dl_sg_element *el;
  uint32_t n, len = PS;
  /* a MapRegisterBase from AllocateAdapterChannel: no context */
  ran x = {.action = DL_KEEP_OBJECT};
  dl_machine_set_irql(r->m, DL_DISPATCH_LEVEL);
  assert_int_equal(dl_adapter_allocate_channel(a, r->dev, 1, control, &x), DL_STATUS_SUCCESS);
  dl_machine_set_irql(r->m, DL_PASSIVE_LEVEL);
  uint64_t before = rig_reports(r);
  assert_int_equal(mapex(r, a, mdl, x.base, 0, &len, 1, 4, &el, &n), DL_STATUS_INVALID_PARAMETER);
  rig_expect(r, before, DL_VF_MISC);
  assert_non_null(strstr(rig_last(r)->message, "AllocateAdapterChannelEx"));
  dl_machine_set_irql(r->m, DL_DISPATCH_LEVEL);
  dl_adapter_free_channel(a);
  dl_machine_set_irql(r->m, DL_PASSIVE_LEVEL);
  dl_dmactx *c = rig_dmactx(a);
  uint64_t base = rig_take(r, a, r->dev, c, 1);
  /* bus master: no completion routine, no DeviceOffset, a buffer of one element at least */
  dl_machine_set_irql(r->m, DL_DISPATCH_LEVEL);
  len = PS;
  assert_int_equal(dl_dmaex_map_transfer(a, mdl, base, 0, 4, &len, 1, DL_SGLIST_SIZE(2), NULL,
                                         NULL, &el, &n), DL_STATUS_INVALID_PARAMETER);
  assert_int_equal(dl_dmaex_map_transfer(a, mdl, base, 0, 0, &len, 1, 0, NULL, NULL, &el, &n),
                   DL_STATUS_INVALID_PARAMETER);
  assert_int_equal(dl_dmaex_map_transfer(a, mdl, base, 0, 0, &len, 1, DL_SGLIST_SIZE(1) - 1, NULL,
                                         NULL, &el, &n), DL_STATUS_INVALID_PARAMETER);
  len = 3 * PS;  /* past the chain */
  assert_int_equal(dl_dmaex_map_transfer(a, mdl, base, 0, 0, &len, 1, DL_SGLIST_SIZE(2), NULL,
                                         NULL, &el, &n), DL_STATUS_INVALID_PARAMETER);
  dl_machine_set_irql(r->m, DL_PASSIVE_LEVEL);
  assert_int_equal(rig_reports(r), before + 1);
  /* a second MapTransferEx before the flush: 0x0D */
  len = PS;
  assert_int_equal(mapex(r, a, mdl, base, 0, &len, 1, 2, &el, &n), DL_STATUS_SUCCESS);
  before = rig_reports(r);
  assert_int_equal(mapex(r, a, mdl, base, PS, &len, 1, 2, &el, &n), DL_STATUS_INVALID_PARAMETER);
  rig_expect(r, before, DL_VF_NOT_FLUSHED);
  /* flushing what was not mapped there: 0x20; at > DISPATCH_LEVEL: 0x13 */
  before = rig_reports(r);
  assert_int_equal(rig_flushex(r, a, mdl, base, PS, PS, 1), DL_STATUS_INVALID_PARAMETER);
  rig_expect(r, before, DL_VF_FLUSH_UNMAPPED_REGISTER);
  before = rig_reports(r);
  dl_machine_set_irql(r->m, DL_DISPATCH_LEVEL + 1);
  assert_int_equal(dl_dmaex_flush(a, mdl, base, 0, PS, 1), DL_STATUS_SUCCESS);
  dl_machine_set_irql(r->m, DL_PASSIVE_LEVEL);
  rig_expect(r, before, DL_VF_WRONG_IRQL);
  rig_free_object(r, a, DL_DEALLOCATE_OBJECT);
}

/* Freeing the channel (FreeAdapterObject) with a transfer still mapped is
** 0x10, as FreeAdapterChannel's; so is FreeMapRegisters after KeepRegisters. */
static void test_freeing_with_a_mapped_transfer(void **state) {
  rig *r = *state;
  dl_adapter *a = v3(r, r->dev, 0, 32);
  dl_region *reg;
  const int o[] = {0, 1};
  dl_mdl *mdl = buffer(r, o, 2, 0, 0, &reg);
  dl_dmactx *c = rig_dmactx(a);
  uint64_t base = rig_take(r, a, r->dev, c, 2);
  uint32_t len = 2 * PS, n;
  const dl_sg_element *el;
  assert_int_equal(mapex(r, a, mdl, base, 0, &len, 1, 1, &el, &n), DL_STATUS_SUCCESS);
  uint64_t before = rig_reports(r);
  rig_free_object(r, a, DL_DEALLOCATE_OBJECT);
  rig_expect(r, before, DL_VF_FREED_WHILE_MAPPED);
  assert_non_null(strstr(rig_last(r)->message, "FreeAdapterObject"));
  /* the context is free again and the stale mapping is gone */
  base = rig_take(r, a, r->dev, c, 2);
  assert_false(dl_dmactx_mapped(c));
  assert_int_equal(mapex(r, a, mdl, base, 0, &len, 1, 1, &el, &n), DL_STATUS_SUCCESS);
  rig_free_object(r, a, DL_DEALLOCATE_OBJECT_KEEP_REGISTERS);
  before = rig_reports(r);
  dl_machine_set_irql(r->m, DL_DISPATCH_LEVEL);
  assert_int_equal(dl_adapter_free_map_registers(a, base, 2), DL_OK);
  dl_machine_set_irql(r->m, DL_PASSIVE_LEVEL);
  rig_expect(r, before, DL_VF_FREED_WHILE_MAPPED);
}

/* CancelMappedTransfer on a bus master: the context is cancelled (the next
** MapTransferEx under it is STATUS_CANCELLED); the flush is still owed. */
static void test_cancel_while_mapped(void **state) {
  rig *r = *state;
  dl_adapter *a = v3(r, r->dev, 1, 64);
  dl_region *reg;
  const int o[] = {0, 1};
  dl_mdl *mdl = buffer(r, o, 2, 0, 0, &reg);
  dl_dmactx *c = rig_dmactx(a);
  uint64_t base = rig_take(r, a, r->dev, c, 2);
  uint32_t len = 2 * PS, n;
  const dl_sg_element *el;
  assert_int_equal(mapex(r, a, mdl, base, 0, &len, 1, 1, &el, &n), DL_STATUS_SUCCESS);
  dl_machine_set_irql(r->m, DL_DISPATCH_LEVEL);
  assert_int_equal(dl_dmaex_cancel_mapped(a, c), DL_STATUS_SUCCESS);
  dl_machine_set_irql(r->m, DL_PASSIVE_LEVEL);
  assert_true(dl_dmactx_cancelled(c));
  assert_true(dl_dmactx_mapped(c));
  assert_int_equal(rig_flushex(r, a, mdl, base, 0, len, 1), DL_STATUS_SUCCESS);
  assert_int_equal(mapex(r, a, mdl, base, 0, &len, 1, 1, &el, &n), DL_STATUS_CANCELLED);
  rig_free_object(r, a, DL_DEALLOCATE_OBJECT);
  assert_int_equal(rig_reports(r), 0);
}

/* ---- completion routines, through a kind ---------------------------------------- */

/* A kind standing for a system DMA channel: it takes completion routines and
** remembers the transfer it was asked to start; cancelling ends it. */
static dl_dmactx *started;
static uint32_t start(dl_adapter *a, dl_dmactx *c) {
  (void)a;
  started = c;
  return DL_STATUS_SUCCESS;
}
static void cancel(dl_adapter *a, dl_dmactx *c) {
  (void)a;
  dl_dmaex_transfer_done(c, DL_DMA_CANCELLED);
}
static const dl_dmaex_kind test_kind = {.name = "test", .completion_routines = 1, .device_offsets = 1,
                                        .default_buffer = 1, .start = start, .cancel = cancel};

static void test_completion_routine_statuses(void **state) {
  rig *r = *state;
  dl_adapter *a = v3(r, r->dev, 1, 64);
  dl_dmaex_set_kind(a, &test_kind);
  dl_region *reg;
  const int o[] = {0, 1};
  dl_mdl *mdl = buffer(r, o, 2, 0, 0, &reg);
  dl_dmactx *c = rig_dmactx(a);
  uint64_t base = rig_take(r, a, r->dev, c, 2);
  const int statuses[] = {DL_DMA_COMPLETE, DL_DMA_ABORTED, DL_DMA_ERROR};
  for (int i = 0; i < 3; i++) {
    rig_done d = {0};
    uint32_t len = 2 * PS, n;
    const dl_sg_element *el;
    started = NULL;
    dl_machine_set_irql(r->m, DL_DISPATCH_LEVEL);
    assert_int_equal(dl_dmaex_map_transfer(a, mdl, base, 0, 8, &len, 0, 0, rig_completion, &d, &el, &n),
                     DL_STATUS_SUCCESS);  /* NULL buffer: the default, one element */
    dl_machine_set_irql(r->m, DL_PASSIVE_LEVEL);
    assert_ptr_equal(started, c);
    assert_int_equal(dl_dmactx_device_offset(c), 8);
    assert_int_equal(n, 1);
    assert_int_equal(d.n, 0);
    dl_dmaex_transfer_done(c, statuses[i]);
    dl_dmaex_transfer_done(c, DL_DMA_COMPLETE);  /* once only */
    assert_int_equal(d.n, 1);
    assert_int_equal(d.status, statuses[i]);
    assert_int_equal(d.irql, DL_DISPATCH_LEVEL);
    assert_ptr_equal(d.dev, r->dev);
    assert_int_equal(rig_flushex(r, a, mdl, base, 0, len, 0), DL_STATUS_SUCCESS);
  }
  rig_done d = {0};
  uint32_t len = PS, n;
  const dl_sg_element *el;
  assert_int_equal(dl_dmaex_map_transfer(a, mdl, base, 0, 0, &len, 0, 0, rig_completion, &d, &el, &n),
                   DL_STATUS_SUCCESS);
  assert_int_equal(dl_dmaex_cancel_mapped(a, c), DL_STATUS_SUCCESS);
  assert_int_equal(d.n, 1);
  assert_int_equal(d.status, DL_DMA_CANCELLED);
  assert_int_equal(rig_flushex(r, a, mdl, base, 0, len, 0), DL_STATUS_SUCCESS);
  rig_free_object(r, a, DL_DEALLOCATE_OBJECT);
  assert_int_equal(rig_reports(r), 0);
}

/* ---- lists, info, common buffers ----------------------------------------------- */

static void test_sglist_ex_synchronous_and_buffer_size(void **state) {
  rig *r = *state;
  dl_adapter *a = v3(r, r->dev, 1, 64);
  dl_region *reg;
  const int o[] = {0, 2, 4};
  dl_mdl *mdl = buffer(r, o, 3, 0, 0, &reg);
  dl_dma_transfer_info ti;
  assert_int_equal(dl_dmaex_transfer_info(a, mdl, PS / 2, 2 * PS, 1, 1, &ti), 0);
  assert_int_equal(ti.sg_element_count, 3);
  dl_dmactx *c = rig_dmactx(a);
  dl_sglist *sg;
  uint64_t id;
  dl_machine_set_irql(r->m, DL_DISPATCH_LEVEL);
  assert_int_equal(dl_dmaex_get_sglist(a, r->dev, c, mdl, PS / 2, 2 * PS,
                                       DL_DMA_SYNCHRONOUS_CALLBACK, NULL, NULL, 1, NULL, NULL,
                                       ti.sg_list_size - 1, &sg, &id), DL_STATUS_BUFFER_TOO_SMALL);
  assert_int_equal(dl_dmaex_get_sglist(a, r->dev, c, mdl, PS / 2, 2 * PS,
                                       DL_DMA_SYNCHRONOUS_CALLBACK, NULL, NULL, 1, NULL, NULL,
                                       ti.sg_list_size, &sg, &id), DL_STATUS_SUCCESS);
  assert_non_null(sg);
  assert_int_equal(dl_sglist_count(sg), ti.sg_element_count);
  assert_int_equal(dl_sglist_elements(sg)[0].length, PS / 2);
  assert_int_equal(dl_dmaex_cancel_channel(a, r->dev, c), 0);  /* granted */
  dl_adapter_put_sglist(a, sg, id, 1);
  dl_machine_set_irql(r->m, DL_PASSIVE_LEVEL);
  assert_int_equal(dl_dmaex_initialize_context(a, c), DL_STATUS_SUCCESS);  /* free again */
  assert_int_equal(rig_reports(r), 0);
}

static void test_adapter_info_configure_and_common_buffer_ex(void **state) {
  rig *r = *state;
  dl_adapter *a = v3(r, r->dev, 0, 32);
  dl_dma_adapter_info info;
  assert_int_equal(dl_dmaex_adapter_info(a, 1, &info), DL_STATUS_SUCCESS);
  assert_int_equal(info.dma_address_width, 32);
  assert_int_equal(info.scatter_gather_limit, 1);
  assert_false(info.read_dma_counter_available);
  assert_int_equal(info.flags, DL_ADAPTER_INFO_SYNCHRONOUS_CALLBACK);
  assert_int_equal(dl_dmaex_adapter_info(a, 2, &info), DL_STATUS_NOT_SUPPORTED);
  assert_int_equal(dl_dmaex_configure(a, 1, NULL), DL_STATUS_NOT_IMPLEMENTED);
  uint64_t va, logical, max = (UINT64_C(1) << 24) - 1;
  assert_int_equal(dl_dmaex_alloc_common(a, max, 3 * PS, 1, DL_MM_ANY_NODE_OK, &va, &logical), DL_OK);
  assert_true(logical + 3 * PS - 1 <= max);
  assert_int_equal(dl_dmaex_alloc_common(a, 0, PS, 1, 5, &va, &logical), DL_EINVAL);
  uint64_t before = rig_reports(r);
  dl_adapter_put(a);
  rig_expect(r, before, DL_VF_PUT_WITH_COMMON_BUFFERS);
}

static void test_common_buffer_ex_freed_by_free_common_buffer(void **state) {
  rig *r = *state;
  dl_adapter *a = v3(r, r->dev, 1, 64);
  uint64_t va, logical;
  assert_int_equal(dl_dmaex_alloc_common(a, UINT32_MAX, PS, 1, 0, &va, &logical), DL_OK);
  assert_true(logical < GiB4);
  dl_adapter_free_common(a, PS, logical, va, 1);
  dl_adapter_put(a);
  assert_int_equal(rig_reports(r), 0);
}

int main(void) {
#define T(f) cmocka_unit_test_setup_teardown(f, rig_setup, rig_teardown)
  const struct CMUnitTest tests[] = {
    T(test_v2_adapter_lacks_the_ex_operations),
    T(test_uninitialised_context_is_refused),
    T(test_context_must_be_unique_across_allocations),
    T(test_synchronous_without_routine_then_free_adapter_object),
    T(test_flags_and_routine_must_agree),
    T(test_routine_runs_at_dispatch_and_its_action_applies),
    T(test_cancel_a_waiting_request_and_synchronous_refusal),
    T(test_cancel_a_request_waiting_for_registers),
    T(test_preemptive_cancel),
    T(test_allocate_ex_irql_and_register_rules_are_v1s),
    T(test_map_transfer_ex_over_a_chain_matches_transfer_info),
    T(test_map_transfer_ex_packet_bounce_and_register_budget),
    T(test_map_transfer_ex_misuse),
    T(test_freeing_with_a_mapped_transfer),
    T(test_cancel_while_mapped),
    T(test_completion_routine_statuses),
    T(test_sglist_ex_synchronous_and_buffer_size),
    T(test_adapter_info_configure_and_common_buffer_ex),
    T(test_common_buffer_ex_freed_by_free_common_buffer),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
