/*
** test_sglist.c: scatter/gather lists (core/hal/dl_sglist.c) without Lua:
** Get/Build/Calculate/PutScatterGatherList (reference 1.5) over buffers
** whose physical pages the test chooses: one element per physically
** contiguous run, adjacent pages merged, one element for a packet master,
** bounces for pages above the ceiling (with real bytes), waiting for map
** registers, the channel freed once the list is built, chained MDLs, and
** the 0xE6 reports (section 4).
*/
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "rig.h"
#include "machine/dl_dmamap.h"
#include "hal/dl_mapregs.h"
#include "machine/dl_trace.h"

/* What AdapterListControl got. */
typedef struct got {
  int n;
  dl_sglist *sg[4];
  uint64_t id[4];
  uint8_t irql[4];
} got;

static void list_control(void *ctx, dl_device *dev, dl_sglist *sg) {
  got *g = ctx;
  g->sg[g->n] = sg;
  g->id[g->n] = dl_sglist_id(sg);
  g->irql[g->n] = dl_machine_irql(dev->m);
  g->n++;
}

/* GetScatterGatherList (buffer_length 0) or Build at DISPATCH_LEVEL. */
static uint32_t get_list(rig *r, dl_adapter *a, dl_mdl *mdl, uint64_t va, uint32_t len, int write,
                         got *g, uint64_t buffer_length) {
  dl_machine_set_irql(r->m, DL_DISPATCH_LEVEL);
  uint32_t st = dl_adapter_get_sglist(a, r->dev, mdl, va, len, list_control, g, write,
                                      buffer_length);
  dl_machine_set_irql(r->m, DL_PASSIVE_LEVEL);
  return st;
}

static void put_list(rig *r, dl_adapter *a, got *g, int i, int write) {
  dl_machine_set_irql(r->m, DL_DISPATCH_LEVEL);
  dl_adapter_put_sglist(a, g->sg[i], g->id[i], write);
  dl_machine_set_irql(r->m, DL_PASSIVE_LEVEL);
}

/* A buffer over the given page offsets from a fresh low run of `span`
** pages (offset 0x100 into the first page, 0x80 short of the last). */
static dl_region *laid_out(rig *r, const uint64_t *order, int n, uint64_t span, uint64_t *p) {
  uint64_t pfns[16];
  *p = rig_pages_at(r, span, 0);
  for (int i = 0; i < n; i++) pfns[i] = *p + order[i];
  return rig_map(r, pfns, 0x100, (uint64_t)n * PS - 0x180);
}

/* ---- elements ------------------------------------------------------------ */

/* A scatter/gather master's list has one element per physically contiguous
** run, at the buffer's own addresses; AdapterListControl runs at
** DISPATCH_LEVEL; CalculateScatterGatherList with the MDL agrees. */
static void test_elements_are_physical_runs(void **state) {
  rig *r = *state;
  static const uint64_t order[5] = {0, 1, 4, 5, 2};
  uint64_t p;
  dl_region *reg = laid_out(r, order, 5, 6, &p);
  dl_mdl *mdl = rig_mdl(r, reg);
  dl_adapter *a = rig_adapter(r, rig_desc(1, 0, 1, 1 << 20), NULL);
  uint32_t size, regs;
  assert_int_equal(dl_adapter_calculate_sglist(a, mdl, reg->va, (uint32_t)reg->length, &size, &regs),
                   DL_STATUS_SUCCESS);
  assert_int_equal(size, DL_SGLIST_SIZE(3));
  assert_int_equal(regs, 0);  /* a 64-bit S/G master needs none */
  got g = {0};
  assert_int_equal(get_list(r, a, mdl, reg->va, (uint32_t)reg->length, 1, &g, 0), DL_STATUS_SUCCESS);
  assert_int_equal(g.n, 1);
  assert_int_equal(g.irql[0], DL_DISPATCH_LEVEL);
  assert_int_equal(dl_machine_irql(r->m), DL_PASSIVE_LEVEL);
  const dl_sg_element *el = dl_sglist_elements(g.sg[0]);
  assert_int_equal(dl_sglist_count(g.sg[0]), 3);
  assert_int_equal(el[0].address, p * PS + 0x100);
  assert_int_equal(el[0].length, 2 * PS - 0x100);
  assert_int_equal(el[1].address, (p + 4) * PS);
  assert_int_equal(el[1].length, 2 * PS);
  assert_int_equal(el[2].address, (p + 2) * PS);
  assert_int_equal(el[2].length, PS - 0x80);
  assert_true(dl_sglist_is_live(g.sg[0]));
  const dl_trace_record *rec = dl_trace_at(dl_machine_trace(r->m),
                                           dl_trace_count(dl_machine_trace(r->m)) - 1);
  assert_int_equal(rec->kind, DL_TR_SG_LIST);
  assert_int_equal(rec->a, g.id[0]);
  assert_int_equal(rec->b, 3);
  put_list(r, a, &g, 0, 1);
  assert_false(dl_sglist_is_live(g.sg[0]));
}

/* Physically adjacent pages merge into one element however many they are. */
static void test_adjacent_pages_merge(void **state) {
  rig *r = *state;
  static const uint64_t order[8] = {0, 1, 2, 3, 4, 5, 6, 7};
  uint64_t p;
  dl_region *reg = laid_out(r, order, 8, 8, &p);
  dl_mdl *mdl = rig_mdl(r, reg);
  dl_adapter *a = rig_adapter(r, rig_desc(1, 0, 1, 1 << 20), NULL);
  got g = {0};
  assert_int_equal(get_list(r, a, mdl, reg->va, (uint32_t)reg->length, 0, &g, 0), DL_STATUS_SUCCESS);
  assert_int_equal(dl_sglist_count(g.sg[0]), 1);
  assert_int_equal(dl_sglist_elements(g.sg[0])[0].address, p * PS + 0x100);
  assert_int_equal(dl_sglist_elements(g.sg[0])[0].length, reg->length);
  put_list(r, a, &g, 0, 0);
}

/* CalculateScatterGatherList without an MDL gives the worst case: one
** element a spanned page (one in all for a packet master) and a register a
** spanned page, none for a 64-bit S/G master. */
static void test_calculate_worst_case(void **state) {
  rig *r = *state;
  uint32_t size, regs, len = 8 * PS;
  uint64_t va = 0x7000234;  /* spans 9 pages; need not be mapped */
  dl_adapter *sg64 = rig_adapter(r, rig_desc(1, 0, 1, 1 << 20), NULL);
  dl_adapter *sg32 = rig_adapter(r, rig_desc(1, 1, 0, 1 << 20), NULL);
  dl_adapter *packet = rig_adapter(r, rig_desc(0, 0, 1, 1 << 20), NULL);
  assert_int_equal(dl_adapter_calculate_sglist(sg64, NULL, va, len, &size, &regs), DL_STATUS_SUCCESS);
  assert_int_equal(size, DL_SGLIST_SIZE(9));
  assert_int_equal(regs, 0);
  assert_int_equal(dl_adapter_calculate_sglist(sg32, NULL, va, len, &size, &regs), DL_STATUS_SUCCESS);
  assert_int_equal(size, DL_SGLIST_SIZE(9));
  assert_int_equal(regs, 9);
  assert_int_equal(dl_adapter_calculate_sglist(packet, NULL, va, len, &size, &regs),
                   DL_STATUS_SUCCESS);
  assert_int_equal(size, DL_SGLIST_SIZE(1));
  assert_int_equal(regs, 9);
  assert_int_equal(DL_SGLIST_SIZE(1), 40);  /* x64: 16-byte header, 24-byte elements */
  /* any IRQL: no report at DIRQL */
  uint64_t before = rig_reports(r);
  dl_machine_set_irql(r->m, 9);
  assert_int_equal(dl_adapter_calculate_sglist(sg32, NULL, va, len, &size, &regs), DL_STATUS_SUCCESS);
  dl_machine_set_irql(r->m, DL_PASSIVE_LEVEL);
  rig_expect_none(r, before);
}

/* A device without scatter/gather gets a one-element list: a broken buffer
** bounced whole into contiguous map registers. */
static void test_packet_master_gets_one_element(void **state) {
  rig *r = *state;
  static const uint64_t order[3] = {2, 0, 1};
  uint64_t p;
  dl_region *reg = laid_out(r, order, 3, 3, &p);
  dl_mdl *mdl = rig_mdl(r, reg);
  rig_pattern(r, reg->va, reg->length, 4);
  dl_adapter *a = rig_adapter(r, rig_desc(0, 0, 1, 4 * PS), NULL);
  got g = {0};
  assert_int_equal(get_list(r, a, mdl, reg->va, (uint32_t)reg->length, 1, &g, 0), DL_STATUS_SUCCESS);
  assert_int_equal(dl_sglist_count(g.sg[0]), 1);
  const dl_sg_element *el = dl_sglist_elements(g.sg[0]);
  assert_int_equal(el[0].length, reg->length);
  dl_mapregs *mr = dl_mapregs_of(r->m);
  assert_true(el[0].address >= dl_mapregs_pa(mr, 0, PS));
  assert_true(el[0].address < dl_mapregs_pa(mr, mr->count, PS));
  uint8_t dev[3 * PS], cpu[3 * PS];
  assert_int_equal(dl_dma_read(r->m, "test", el[0].address, dev, el[0].length), DL_OK);
  assert_int_equal(dl_machine_read_va(r->m, reg->va, cpu, reg->length), DL_OK);
  assert_memory_equal(dev, cpu, reg->length);
  assert_int_equal(mr->nfree, 64 - 3);
  put_list(r, a, &g, 0, 1);
  assert_int_equal(mr->nfree, 64);
}

/* A 32-bit S/G master: runs below 4 GiB are used in place, runs above are
** bounced (below 4 GiB); for a read the device's bytes reach the buffer at
** PutScatterGatherList. */
static void test_32bit_master_bounces_pages_above_4g(void **state) {
  rig *r = *state;
  uint64_t lo = rig_pages_at(r, 2, 0), hi = rig_pages_at(r, 2, GiB4);
  uint64_t pfns[4] = {lo, lo + 1, hi, hi + 1};
  dl_region *reg = rig_map(r, pfns, 0x200, 4 * PS - 0x200);
  dl_mdl *mdl = rig_mdl(r, reg);
  dl_adapter *a = rig_adapter(r, rig_desc(1, 1, 0, 1 << 20), NULL);
  got g = {0};
  assert_int_equal(get_list(r, a, mdl, reg->va, (uint32_t)reg->length, 0, &g, 0), DL_STATUS_SUCCESS);
  const dl_sg_element *el = dl_sglist_elements(g.sg[0]);
  assert_int_equal(dl_sglist_count(g.sg[0]), 2);
  assert_int_equal(el[0].address, lo * PS + 0x200);
  assert_int_equal(el[0].length, 2 * PS - 0x200);
  assert_true(el[1].address + el[1].length <= GiB4);
  assert_int_equal(el[1].length, 2 * PS);
  uint8_t data[2 * PS];
  for (uint32_t i = 0; i < sizeof data; i++) data[i] = (uint8_t)(i ^ 0x3C);
  assert_int_equal(dl_dma_write(r->m, "test", el[1].address, data, sizeof data), DL_OK);
  uint8_t back[2 * PS];
  put_list(r, a, &g, 0, 0);
  assert_int_equal(dl_machine_read_va(r->m, reg->va + el[0].length, back, sizeof back), DL_OK);
  assert_memory_equal(back, data, sizeof data);
  assert_int_equal(dl_adapter_get_stats(a)->bytes_bounced, 2 * PS);
  assert_int_equal(dl_dmamap_count(dl_machine_dmamap(r->m)), 0);
}

/* Chained MDLs: the list covers the chain, each MDL's runs in turn. */
static void test_chained_mdls(void **state) {
  rig *r = *state;
  uint64_t p = rig_pages_at(r, 4, 0), q = rig_pages_at(r, 2, 0);
  uint64_t first[2] = {p, p + 1}, second[2] = {q, q + 1};
  dl_region *r1 = rig_map(r, first, 0, 2 * PS), *r2 = rig_map(r, second, 0x40, PS);
  dl_mdl *m1 = rig_mdl(r, r1), *m2 = rig_mdl(r, r2);
  assert_int_equal(dl_mdl_set_next(m1, m2), DL_OK);
  dl_adapter *a = rig_adapter(r, rig_desc(1, 0, 1, 1 << 20), NULL);
  got g = {0};
  assert_int_equal(get_list(r, a, m1, r1->va, 3 * PS, 1, &g, 0), DL_STATUS_SUCCESS);
  const dl_sg_element *el = dl_sglist_elements(g.sg[0]);
  assert_int_equal(dl_sglist_count(g.sg[0]), 2);
  assert_int_equal(el[0].address, p * PS);
  assert_int_equal(el[0].length, 2 * PS);
  assert_int_equal(el[1].address, q * PS + 0x40);
  assert_int_equal(el[1].length, PS);
  put_list(r, a, &g, 0, 1);
  /* more than the chain holds is refused */
  assert_int_equal(get_list(r, a, m1, r1->va, 3 * PS + 1, 1, &g, 0), DL_STATUS_INVALID_PARAMETER);
}

/* ---- waiting and the channel ------------------------------------------------- */

static int keep_registers(void *ctx, dl_device *dev, uint64_t base) {
  (void)dev;
  *(uint64_t *)ctx = base;
  return DL_DEALLOCATE_OBJECT_KEEP_REGISTERS;
}

/* When the registers are short the request waits (SUCCESS now, the list
** later) and is built when they are freed. */
static void test_waits_when_registers_are_short(void **state) {
  (void)state;
  rig r;
  dl_machine_config cfg;
  dl_machine_config_init(&cfg);
  cfg.map_registers = 8;
  cfg.adapter_map_registers = 8;
  assert_int_equal(rig_open(&r, &cfg), 0);
  dl_adapter *hog = rig_adapter_for(&r, rig_device(&r, "hog"), rig_desc(0, 1, 0, 1 << 20), NULL);
  uint64_t base = 0;
  dl_machine_set_irql(r.m, DL_DISPATCH_LEVEL);
  assert_int_equal(dl_adapter_allocate_channel(hog, dl_adapter_device(hog), 6, keep_registers, &base),
                   DL_STATUS_SUCCESS);
  dl_machine_set_irql(r.m, DL_PASSIVE_LEVEL);
  uint64_t p = rig_pages_at(&r, 4, GiB4), pfns[4] = {p, p + 1, p + 2, p + 3};
  dl_region *reg = rig_map(&r, pfns, 0, 4 * PS);
  dl_mdl *mdl = rig_mdl(&r, reg);
  rig_pattern(&r, reg->va, reg->length, 8);
  dl_adapter *a = rig_adapter(&r, rig_desc(1, 1, 0, 1 << 20), NULL);
  got g = {0};
  assert_int_equal(get_list(&r, a, mdl, reg->va, 4 * PS, 1, &g, 0), DL_STATUS_SUCCESS);
  assert_int_equal(g.n, 0);
  assert_int_equal(dl_adapter_get_stats(a)->channel_waits, 1);
  dl_machine_set_irql(r.m, DL_DISPATCH_LEVEL);
  assert_int_equal(dl_adapter_free_map_registers(hog, base, 6), DL_OK);
  dl_machine_set_irql(r.m, DL_PASSIVE_LEVEL);
  assert_int_equal(g.n, 1);
  assert_int_equal(dl_sglist_count(g.sg[0]), 1);
  const dl_sg_element *el = dl_sglist_elements(g.sg[0]);
  uint8_t dev[4 * PS], cpu[4 * PS];
  assert_int_equal(dl_dma_read(r.m, "test", el[0].address, dev, el[0].length), DL_OK);
  assert_int_equal(dl_machine_read_va(r.m, reg->va, cpu, reg->length), DL_OK);
  assert_memory_equal(dev, cpu, 4 * PS);  /* copied in when built, after the wait */
  put_list(&r, a, &g, 0, 1);
  assert_int_equal(dl_mapregs_of(r.m)->nfree, 8);
  rig_close(&r);
}

/* The channel is freed once the list is built: one device may hold several
** lists at once (no 0x0B), and may still allocate the adapter channel. */
static void test_several_lists_per_device(void **state) {
  rig *r = *state;
  uint64_t p = rig_pages_at(r, 2, GiB4), pfns[2] = {p, p + 1};
  dl_region *reg = rig_map(r, pfns, 0, 2 * PS);
  dl_mdl *mdl = rig_mdl(r, reg);
  dl_adapter *a = rig_adapter(r, rig_desc(1, 1, 0, 1 << 20), NULL);
  got g = {0};
  uint64_t before = rig_reports(r);
  assert_int_equal(get_list(r, a, mdl, reg->va, PS, 1, &g, 0), DL_STATUS_SUCCESS);
  assert_int_equal(get_list(r, a, mdl, reg->va + PS, PS, 1, &g, 0), DL_STATUS_SUCCESS);
  assert_int_equal(g.n, 2);
  assert_true(g.id[0] != g.id[1]);
  assert_int_equal(dl_mapregs_of(r->m)->nfree, 62);
  uint64_t base = 0;
  dl_machine_set_irql(r->m, DL_DISPATCH_LEVEL);
  assert_int_equal(dl_adapter_allocate_channel(a, r->dev, 1, keep_registers, &base),
                   DL_STATUS_SUCCESS);
  assert_true(base != 0);
  assert_int_equal(dl_adapter_free_map_registers(a, base, 1), DL_OK);
  dl_machine_set_irql(r->m, DL_PASSIVE_LEVEL);
  rig_expect_none(r, before);
  put_list(r, a, &g, 1, 1);
  put_list(r, a, &g, 0, 1);
  assert_int_equal(dl_mapregs_of(r->m)->nfree, 64);
}

/* ---- errors and reports ------------------------------------------------------ */

/* Length 0 or a range outside the MDL is STATUS_INVALID_PARAMETER; more
** registers than NumberOfMapRegisters is STATUS_INSUFFICIENT_RESOURCES;
** the routine never runs. The call is DISPATCH_LEVEL only (0x13). */
static void test_get_errors_and_irql(void **state) {
  rig *r = *state;
  uint64_t p = rig_pages_at(r, 4, GiB4), pfns[4] = {p, p + 1, p + 2, p + 3};
  dl_region *reg = rig_map(r, pfns, 0, 4 * PS);
  dl_mdl *mdl = rig_mdl(r, reg);
  uint32_t nmr;
  dl_adapter *a = rig_adapter(r, rig_desc(1, 1, 0, 2 * PS), &nmr);
  assert_int_equal(nmr, 3);
  got g = {0};
  assert_int_equal(get_list(r, a, mdl, reg->va, 0, 1, &g, 0), DL_STATUS_INVALID_PARAMETER);
  assert_int_equal(get_list(r, a, mdl, reg->va - 1, 16, 1, &g, 0), DL_STATUS_INVALID_PARAMETER);
  assert_int_equal(get_list(r, a, mdl, reg->va, 4 * PS, 1, &g, 0), DL_STATUS_INSUFFICIENT_RESOURCES);
  assert_int_equal(g.n, 0);
  uint64_t before = rig_reports(r);
  assert_int_equal(dl_adapter_get_sglist(a, r->dev, mdl, reg->va, PS, list_control, &g, 1, 0),
                   DL_STATUS_SUCCESS);  /* at PASSIVE_LEVEL */
  const dl_report *rep = rig_expect(r, before, DL_VF_WRONG_IRQL);
  assert_int_equal(rep->p3, DL_DISPATCH_LEVEL);
  assert_int_equal(g.n, 1);
  put_list(r, a, &g, 0, 1);
}

/* BuildScatterGatherList with a caller buffer smaller than the list is
** STATUS_BUFFER_TOO_SMALL; exactly the calculated size is enough. */
static void test_build_needs_the_calculated_size(void **state) {
  rig *r = *state;
  static const uint64_t order[3] = {0, 2, 4};
  uint64_t p;
  dl_region *reg = laid_out(r, order, 3, 5, &p);
  dl_mdl *mdl = rig_mdl(r, reg);
  dl_adapter *a = rig_adapter(r, rig_desc(1, 0, 1, 1 << 20), NULL);
  uint32_t size, regs;
  assert_int_equal(dl_adapter_calculate_sglist(a, mdl, reg->va, (uint32_t)reg->length, &size, &regs),
                   DL_STATUS_SUCCESS);
  assert_int_equal(size, DL_SGLIST_SIZE(3));
  got g = {0};
  assert_int_equal(get_list(r, a, mdl, reg->va, (uint32_t)reg->length, 1, &g, size - 1),
                   DL_STATUS_BUFFER_TOO_SMALL);
  assert_int_equal(g.n, 0);
  assert_int_equal(get_list(r, a, mdl, reg->va, (uint32_t)reg->length, 1, &g, size),
                   DL_STATUS_SUCCESS);
  assert_int_equal(dl_sglist_count(g.sg[0]), 3);
  put_list(r, a, &g, 0, 1);
}

/* PutScatterGatherList ends the mappings and frees the registers; a second
** put of the same list, even after its record was reused, is 0x06. */
static void test_put_twice_is_0x06(void **state) {
  rig *r = *state;
  uint64_t p = rig_pages_at(r, 2, GiB4), pfns[2] = {p, p + 1};
  dl_region *reg = rig_map(r, pfns, 0, 2 * PS);
  dl_mdl *mdl = rig_mdl(r, reg);
  dl_adapter *a = rig_adapter(r, rig_desc(1, 1, 0, 1 << 20), NULL);
  got g = {0};
  assert_int_equal(get_list(r, a, mdl, reg->va, 2 * PS, 1, &g, 0), DL_STATUS_SUCCESS);
  assert_int_equal(dl_dmamap_count(dl_machine_dmamap(r->m)), 1);
  uint64_t before = rig_reports(r);
  put_list(r, a, &g, 0, 1);
  rig_expect_none(r, before);
  assert_int_equal(dl_dmamap_count(dl_machine_dmamap(r->m)), 0);
  assert_int_equal(dl_mapregs_of(r->m)->nfree, 64);
  put_list(r, a, &g, 0, 1);
  rig_expect(r, before, DL_VF_DOUBLE_FREE_SG_LIST);
  assert_int_equal(get_list(r, a, mdl, reg->va, PS, 1, &g, 0), DL_STATUS_SUCCESS);
  assert_ptr_equal(g.sg[1], g.sg[0]);  /* the record is reused... */
  put_list(r, a, &g, 0, 1);            /* ...but the old id names the old list */
  rig_expect(r, before + 1, DL_VF_DOUBLE_FREE_SG_LIST);
  assert_true(dl_sglist_is_live(g.sg[1]));
  put_list(r, a, &g, 1, 1);
  rig_expect_none(r, before + 2);
}

/* PutDmaAdapter with a list outstanding is 0x0A (not 0x09: the list owns
** its registers); the leak check says the same, marked as a leak. */
static void test_put_adapter_with_list_is_0x0A(void **state) {
  rig *r = *state;
  uint64_t p = rig_pages_at(r, 1, GiB4);
  dl_region *reg = rig_map(r, &p, 0, PS);
  dl_mdl *mdl = rig_mdl(r, reg);
  dl_adapter *a = rig_adapter(r, rig_desc(1, 1, 0, 1 << 20), NULL);
  got g = {0};
  assert_int_equal(get_list(r, a, mdl, reg->va, PS, 1, &g, 0), DL_STATUS_SUCCESS);
  uint64_t before = rig_reports(r);
  assert_int_equal(dl_machine_check_leaks(r->m), 1);
  const dl_report *rep = rig_expect(r, before, DL_VF_PUT_WITH_SG_LISTS);
  assert_int_equal(rep->leak, 1);
  dl_adapter_put(a);
  rep = rig_expect(r, before + 1, DL_VF_PUT_WITH_SG_LISTS);
  assert_int_equal(rep->p3, 1);
  assert_int_equal(rep->leak, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, rig_setup, rig_teardown)
    T(test_elements_are_physical_runs),
    T(test_adjacent_pages_merge),
    T(test_calculate_worst_case),
    T(test_packet_master_gets_one_element),
    T(test_32bit_master_bounces_pages_above_4g),
    T(test_chained_mdls),
    cmocka_unit_test(test_waits_when_registers_are_short),
    T(test_several_lists_per_device),
    T(test_get_errors_and_irql),
    T(test_build_needs_the_calculated_size),
    T(test_put_twice_is_0x06),
    T(test_put_adapter_with_list_is_0x0A),
#undef T
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
