/*
** test_maptransfer.c: MapTransfer and FlushAdapterBuffers
** (core/hal/dl_maptransfer.c) without Lua, over buffers whose physical
** pages the test chooses: Length shortened only for scatter/gather masters,
** the register limit, bouncing with real bytes (copied in at MapTransfer for
** a write, back at FlushAdapterBuffers for a read; reference 1.4), the
** logical addresses devices may reach (dl_dmamap.h), and the 0xE6 reports
** for misuse (section 4) and wrong IRQL (3).
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

static int keep_registers(void *ctx, dl_device *dev, uint64_t base) {
  (void)dev;
  *(uint64_t *)ctx = base;
  return DL_DEALLOCATE_OBJECT_KEEP_REGISTERS;
}

/* AllocateAdapterChannel for n registers; returns the MapRegisterBase. */
static uint64_t grant(rig *r, dl_adapter *a, uint32_t n) {
  uint64_t base = 0;
  dl_machine_set_irql(r->m, DL_DISPATCH_LEVEL);
  assert_int_equal(dl_adapter_allocate_channel(a, r->dev, n, keep_registers, &base),
                   DL_STATUS_SUCCESS);
  dl_machine_set_irql(r->m, DL_PASSIVE_LEVEL);
  assert_true(base != 0);
  return base;
}

static void free_regs(rig *r, dl_adapter *a, uint64_t base, uint32_t n) {
  dl_machine_set_irql(r->m, DL_DISPATCH_LEVEL);
  assert_int_equal(dl_adapter_free_map_registers(a, base, n), DL_OK);
  dl_machine_set_irql(r->m, DL_PASSIVE_LEVEL);
}

/* MapTransfer that must succeed; returns the length mapped. */
static uint32_t map(dl_adapter *a, dl_mdl *mdl, uint64_t base, uint64_t va, uint32_t len,
                    int write, uint64_t *logical) {
  assert_int_equal(dl_adapter_map_transfer(a, mdl, base, va, &len, write, logical), DL_OK);
  return len;
}

static int bounced_last(rig *r) {
  dl_trace *t = dl_machine_trace(r->m);
  const dl_trace_record *rec = dl_trace_at(t, dl_trace_count(t) - 1);
  assert_int_equal(rec->kind, DL_TR_MAP);
  return (int)(rec->b >> 63);
}

/* Six low pages p..p+5 mapped as p, p+1, p+4, p+5, p+2: three physical
** runs. The buffer starts 0x100 into its first page and ends 0x80 before
** the end of its last. */
typedef struct broken { uint64_t p, pfns[5]; dl_region *reg; dl_mdl *mdl; } broken;

static void broken_buffer(rig *r, broken *b) {
  b->p = rig_pages_at(r, 6, 0);
  uint64_t order[5] = {0, 1, 4, 5, 2};
  for (int i = 0; i < 5; i++) b->pfns[i] = b->p + order[i];
  b->reg = rig_map(r, b->pfns, 0x100, 5 * PS - 0x100 - 0x80);
  b->mdl = rig_mdl(r, b->reg);
}

/* ---- Length and logical addresses ---------------------------------------------- */

/* A scatter/gather master gets *Length cut at each physical break, the
** buffer's own addresses, no bounce; CurrentVa += Length walks the MDL. */
static void test_sg_master_length_ends_at_physical_break(void **state) {
  rig *r = *state;
  broken b;
  broken_buffer(r, &b);
  dl_adapter *a = rig_adapter(r, rig_desc(1, 0, 1, 1 << 20), NULL);
  uint64_t base = grant(r, a, 5), va = b.reg->va, logical;
  uint32_t left = (uint32_t)b.reg->length;
  uint32_t len = map(a, b.mdl, base, va, left, 1, &logical);
  assert_int_equal(len, 2 * PS - 0x100);
  assert_int_equal(logical, b.p * PS + 0x100);
  assert_false(bounced_last(r));
  va += len, left -= len;
  len = map(a, b.mdl, base, va, left, 1, &logical);
  assert_int_equal(len, 2 * PS);
  assert_int_equal(logical, (b.p + 4) * PS);
  va += len, left -= len;
  len = map(a, b.mdl, base, va, left, 1, &logical);
  assert_int_equal(len, PS - 0x80);
  assert_int_equal(logical, (b.p + 2) * PS);
  assert_int_equal(left, len);
  assert_int_equal(dl_adapter_flush(a, b.mdl, base, b.reg->va, (uint32_t)b.reg->length, 1), 1);
  assert_int_equal(dl_adapter_get_stats(a)->bytes_bounced, 0);
  assert_int_equal(dl_adapter_get_stats(a)->map_transfers, 3);
  free_regs(r, a, base, 5);
}

/* A packet master's *Length comes back as asked: a buffer that is not
** physically contiguous is bounced whole into map registers, one
** contiguous logical range starting at the same byte offset. */
static void test_packet_master_bounces_whole_length_across_breaks(void **state) {
  rig *r = *state;
  broken b;
  broken_buffer(r, &b);
  rig_pattern(r, b.reg->va, b.reg->length, 3);
  uint32_t nmr;
  dl_adapter *a = rig_adapter(r, rig_desc(0, 0, 1, 5 * PS), &nmr);
  assert_int_equal(nmr, 6);
  uint64_t base = grant(r, a, 5), logical;
  uint32_t len = map(a, b.mdl, base, b.reg->va, (uint32_t)b.reg->length, 1, &logical);
  assert_int_equal(len, b.reg->length);
  assert_true(bounced_last(r));
  dl_mapregs *mr = dl_mapregs_of(r->m);
  assert_true(logical >= dl_mapregs_pa(mr, 0, PS));
  assert_true(logical + len <= dl_mapregs_pa(mr, mr->count, PS));
  assert_int_equal(logical % PS, 0x100);
  /* write to device: the bounce pages hold the data now */
  uint8_t got[5 * PS];
  assert_int_equal(dl_dma_read(r->m, "test", logical, got, len), DL_OK);
  uint8_t want[5 * PS];
  assert_int_equal(dl_machine_read_va(r->m, b.reg->va, want, len), DL_OK);
  assert_memory_equal(got, want, len);
  assert_int_equal(dl_adapter_get_stats(a)->bytes_bounced, len);
  assert_int_equal(dl_adapter_flush(a, b.mdl, base, b.reg->va, len, 1), 1);
  free_regs(r, a, base, 5);
}

/* A contiguous buffer below the ceiling is not bounced: the logical
** address is the physical one, and no register is marked mapped. */
static void test_contiguous_below_ceiling_is_direct(void **state) {
  rig *r = *state;
  uint64_t p = rig_pages_at(r, 3, 0), pfns[3] = {p, p + 1, p + 2};
  dl_region *reg = rig_map(r, pfns, 0x234, 2 * PS);
  dl_mdl *mdl = rig_mdl(r, reg);
  dl_adapter *a = rig_adapter(r, rig_desc(0, 1, 0, 4 * PS), NULL);
  uint64_t base = grant(r, a, 3), logical;
  assert_int_equal(map(a, mdl, base, reg->va, 2 * PS, 0, &logical), 2 * PS);
  assert_int_equal(logical, p * PS + 0x234);
  assert_false(bounced_last(r));
  dl_mapregs *mr = dl_mapregs_of(r->m);
  for (uint32_t i = 0; i < mr->count; i++) assert_int_equal(mr->mapped[i], 0);
  assert_int_equal(dl_adapter_flush(a, mdl, base, reg->va, 2 * PS, 0), 1);
  free_regs(r, a, base, 3);
}

/* ---- bouncing with real bytes (1.4, performing DMA in 64-bit Windows) ---------- */

/* A 32-bit device over RAM above 4 GiB, memory to device: the bytes are in
** the bounce pages (below 4 GiB) when MapTransfer returns; the flush copies
** nothing back. */
static void test_32bit_write_bounces_at_map(void **state) {
  rig *r = *state;
  uint64_t p = rig_pages_at(r, 3, GiB4), pfns[3] = {p, p + 1, p + 2};
  dl_region *reg = rig_map(r, pfns, 0x234, 2 * PS + 100);
  dl_mdl *mdl = rig_mdl(r, reg);
  rig_pattern(r, reg->va, reg->length, 5);
  dl_adapter *a = rig_adapter(r, rig_desc(1, 1, 0, 4 * PS), NULL);
  uint64_t base = grant(r, a, 3), logical;
  uint32_t len = map(a, mdl, base, reg->va, (uint32_t)reg->length, 1, &logical);
  assert_int_equal(len, reg->length);  /* contiguous: one element */
  assert_true(bounced_last(r));
  assert_true(logical + len - 1 <= UINT64_C(0xFFFFFFFF));
  assert_int_equal(logical % PS, 0x234);
  uint8_t got[3 * PS], want[3 * PS];
  assert_int_equal(dl_dma_read(r->m, "test", logical, got, len), DL_OK);
  assert_int_equal(dl_machine_read_va(r->m, reg->va, want, len), DL_OK);
  assert_memory_equal(got, want, len);
  /* the device scribbles on the bounce; a write's flush does not copy back */
  memset(got, 0xEE, len);
  assert_int_equal(dl_dma_write(r->m, "test", logical, got, len), DL_OK);
  assert_int_equal(dl_adapter_flush(a, mdl, base, reg->va, len, 1), 1);
  assert_true(rig_has_pattern(r, reg->va, reg->length, 5));
  assert_int_equal(dl_trace_stats(dl_machine_trace(r->m))->bytes_bounced, len);
  free_regs(r, a, base, 3);
}

/* Device to memory: what the device writes into the bounce reaches the
** buffer at FlushAdapterBuffers, not before. */
static void test_32bit_read_copies_back_at_flush(void **state) {
  rig *r = *state;
  uint64_t p = rig_pages_at(r, 3, GiB4), pfns[3] = {p, p + 1, p + 2};
  dl_region *reg = rig_map(r, pfns, 0x10, 3 * PS - 0x20);
  dl_mdl *mdl = rig_mdl(r, reg);
  rig_pattern(r, reg->va, reg->length, 1);
  dl_adapter *a = rig_adapter(r, rig_desc(0, 1, 0, 4 * PS), NULL);
  uint64_t base = grant(r, a, 3), logical;
  uint32_t len = map(a, mdl, base, reg->va, (uint32_t)reg->length, 0, &logical);
  assert_true(bounced_last(r));
  uint8_t data[3 * PS];
  for (uint32_t i = 0; i < len; i++) data[i] = (uint8_t)(i * 13 + 9);
  assert_int_equal(dl_dma_write(r->m, "test", logical, data, len), DL_OK);
  assert_true(rig_has_pattern(r, reg->va, reg->length, 1));  /* not yet */
  assert_int_equal(dl_adapter_flush(a, mdl, base, reg->va, len, 0), 1);
  uint8_t back[3 * PS];
  assert_int_equal(dl_machine_read_va(r->m, reg->va, back, len), DL_OK);
  assert_memory_equal(back, data, len);
  free_regs(r, a, base, 3);
}

/* A scatter/gather 32-bit master bounces only the runs above its ceiling. */
static void test_only_runs_above_the_ceiling_bounce(void **state) {
  rig *r = *state;
  uint64_t lo = rig_pages_at(r, 2, 0), hi = rig_pages_at(r, 2, GiB4);
  uint64_t pfns[4] = {lo, lo + 1, hi, hi + 1};
  dl_region *reg = rig_map(r, pfns, 0, 4 * PS);
  dl_mdl *mdl = rig_mdl(r, reg);
  dl_adapter *a = rig_adapter(r, rig_desc(1, 1, 0, 4 * PS), NULL);
  uint64_t base = grant(r, a, 4), logical;
  assert_int_equal(map(a, mdl, base, reg->va, 4 * PS, 1, &logical), 2 * PS);
  assert_int_equal(logical, lo * PS);
  assert_false(bounced_last(r));
  assert_int_equal(map(a, mdl, base, reg->va + 2 * PS, 2 * PS, 1, &logical), 2 * PS);
  assert_true(bounced_last(r));
  assert_true(logical < GiB4);
  assert_int_equal(dl_adapter_flush(a, mdl, base, reg->va, 4 * PS, 1), 1);
  assert_int_equal(dl_dmamap_count(dl_machine_dmamap(r->m)), 0);  /* both ended */
  free_regs(r, a, base, 4);
}

/* ---- the register limit (1.4: at most PAGE_SIZE * NMR bytes a call) ----------- */

/* A bounce may use NMR pages: NMR * PAGE_SIZE - BYTE_OFFSET(CurrentVa)
** bytes fit, one more byte needs NMR + 1 registers: report 0x15 and
** nothing is mapped. */
static void test_bounce_limit_is_nmr_pages_minus_offset(void **state) {
  rig *r = *state;
  uint64_t p = rig_pages_at(r, 6, GiB4), pfns[6];
  for (int i = 0; i < 6; i++) pfns[i] = p + (uint64_t)i;
  dl_region *reg = rig_map(r, pfns, 0x234, 6 * PS - 0x234);
  dl_mdl *mdl = rig_mdl(r, reg);
  uint32_t nmr;
  dl_adapter *a = rig_adapter(r, rig_desc(0, 1, 0, 3 * PS), &nmr);
  assert_int_equal(nmr, 4);
  uint64_t base = grant(r, a, nmr), logical;
  uint32_t fit = nmr * PS - 0x234;
  assert_int_equal(map(a, mdl, base, reg->va, fit, 1, &logical), fit);
  assert_int_equal(dl_adapter_flush(a, mdl, base, reg->va, fit, 1), 1);
  uint64_t before = rig_reports(r);
  size_t ranges = dl_dmamap_count(dl_machine_dmamap(r->m));
  uint32_t len = fit + 1;
  assert_true(dl_adapter_map_transfer(a, mdl, base, reg->va, &len, 1, &logical) != DL_OK);
  const dl_report *rep = rig_expect(r, before, DL_VF_TOO_MANY_MAP_REGISTERS);
  assert_int_equal(rep->p2, nmr + 1);
  assert_int_equal(rep->p3, nmr);
  assert_int_equal(len, 0);
  assert_int_equal(logical, 0);
  assert_int_equal(dl_dmamap_count(dl_machine_dmamap(r->m)), ranges);
  free_regs(r, a, base, nmr);
}

/* The same limit holds when nothing bounces: the documented rule is on the
** call ("at most PAGE_SIZE * NumberOfMapRegisters bytes can be mapped per
** call"; DDI nc-wdm-pmap_transfer: the map registers set up cannot exceed
** the IoGetDmaAdapter maximum), not on whether registers were needed. */
static void test_direct_map_over_the_limit_is_reported(void **state) {
  rig *r = *state;
  uint64_t p = rig_pages_at(r, 6, 0), pfns[6];
  for (int i = 0; i < 6; i++) pfns[i] = p + (uint64_t)i;
  dl_region *reg = rig_map(r, pfns, 0x234, 6 * PS - 0x234);
  dl_mdl *mdl = rig_mdl(r, reg);
  uint32_t nmr;
  dl_adapter *a = rig_adapter(r, rig_desc(0, 0, 1, 3 * PS), &nmr);
  uint64_t base = grant(r, a, nmr), logical;
  uint32_t len = nmr * PS - 0x234 + 1;
  uint64_t before = rig_reports(r);
  assert_true(dl_adapter_map_transfer(a, mdl, base, reg->va, &len, 1, &logical) != DL_OK);
  rig_expect(r, before, DL_VF_TOO_MANY_MAP_REGISTERS);
  assert_int_equal(len, 0);
  free_regs(r, a, base, nmr);
}

/* ---- misuse (section 4) ------------------------------------------------------ */

/* Zero length (0x21), CurrentVa outside the MDL (0x1B), a length past its
** end (0x1F, then mapped up to the end), an unlocked MDL (0x0E), and a base
** that names no allocation (DL_EINVAL). */
static void test_map_argument_checks(void **state) {
  rig *r = *state;
  uint64_t p = rig_pages_at(r, 2, 0), pfns[2] = {p, p + 1};
  dl_region *reg = rig_map(r, pfns, 0, 2 * PS);
  dl_mdl *mdl = rig_mdl(r, reg);
  dl_adapter *a = rig_adapter(r, rig_desc(0, 1, 0, 4 * PS), NULL);
  uint64_t base = grant(r, a, 3), logical, before = rig_reports(r);
  uint32_t len = 0;
  assert_int_equal(dl_adapter_map_transfer(a, mdl, base, reg->va, &len, 1, &logical), DL_EINVAL);
  rig_expect(r, before++, DL_VF_ZERO_LENGTH_MAP);
  len = 16;
  assert_int_equal(dl_adapter_map_transfer(a, mdl, base, reg->va - 1, &len, 1, &logical),
                   DL_ERANGE);
  rig_expect(r, before++, DL_VF_ADDRESS_OUTSIDE_MDL);
  len = 16;
  assert_int_equal(dl_adapter_map_transfer(a, mdl, base, reg->va + 2 * PS, &len, 1, &logical),
                   DL_ERANGE);
  rig_expect(r, before++, DL_VF_ADDRESS_OUTSIDE_MDL);
  assert_int_equal(len, 0);
  len = 2 * PS;
  assert_int_equal(dl_adapter_map_transfer(a, mdl, base, reg->va + 100, &len, 1, &logical),
                   DL_OK);
  const dl_report *rep = rig_expect(r, before++, DL_VF_INVALID_DMA_BUFFER);
  assert_int_equal(rep->p4, 2 * PS);
  assert_int_equal(len, 2 * PS - 100);
  assert_int_equal(dl_adapter_flush(a, mdl, base, reg->va + 100, len, 1), 1);
  len = 16;
  assert_int_equal(dl_adapter_map_transfer(a, mdl, 0, reg->va, &len, 1, &logical), DL_EINVAL);
  assert_int_equal(dl_adapter_map_transfer(a, mdl, base + 7, reg->va, &len, 1, &logical),
                   DL_EINVAL);
  rig_expect_none(r, before);
  /* a paged buffer whose MDL was never probed and locked */
  dl_region *paged = NULL;
  assert_int_equal(dl_buffer_new(r->m, PS, 0, DL_ALLOC_LOW_FIRST, DL_REGION_PAGED, &paged), DL_OK);
  dl_mdl *unlocked = NULL;
  assert_int_equal(dl_mdl_allocate(r->m, paged->va, PS, &unlocked), DL_OK);
  len = PS;
  assert_int_equal(dl_adapter_map_transfer(a, unlocked, base, paged->va, &len, 1, &logical),
                   DL_ESTATE);
  rig_expect(r, before, DL_VF_UNLOCKED_BUFFER);
  free_regs(r, a, base, 3);
}

/* FlushAdapterBuffers needs the CurrentVa given to MapTransfer; a flush of
** what is not mapped (again, or elsewhere) is 0x20 and returns FALSE. */
static void test_flush_of_unmapped_is_0x20(void **state) {
  rig *r = *state;
  uint64_t p = rig_pages_at(r, 2, GiB4), pfns[2] = {p, p + 1};
  dl_region *reg = rig_map(r, pfns, 0, 2 * PS);
  dl_mdl *mdl = rig_mdl(r, reg);
  dl_adapter *a = rig_adapter(r, rig_desc(0, 1, 0, 4 * PS), NULL);
  uint64_t base = grant(r, a, 2), logical, before = rig_reports(r);
  map(a, mdl, base, reg->va, 2 * PS, 0, &logical);
  assert_int_equal(dl_adapter_flush(a, mdl, base, reg->va + PS, PS, 0), 0);
  const dl_report *rep = rig_expect(r, before, DL_VF_FLUSH_UNMAPPED_REGISTER);
  assert_int_equal(rep->p3, reg->va + PS);
  assert_int_equal(dl_adapter_flush(a, mdl, base, reg->va, 2 * PS, 0), 1);
  rig_expect_none(r, before + 1);
  assert_int_equal(dl_adapter_flush(a, mdl, base, reg->va, 2 * PS, 0), 0);
  rig_expect(r, before + 1, DL_VF_FLUSH_UNMAPPED_REGISTER);
  free_regs(r, a, base, 2);
}

/* Mapping into registers still holding an unflushed transfer is 0x0D;
** freeing them while mapped is 0x10 (with the count still mapped). */
static void test_not_flushed_and_freed_while_mapped(void **state) {
  rig *r = *state;
  uint64_t p = rig_pages_at(r, 4, GiB4), pfns[4] = {p, p + 1, p + 2, p + 3};
  dl_region *reg = rig_map(r, pfns, 0, 4 * PS);
  dl_mdl *mdl = rig_mdl(r, reg);
  dl_adapter *a = rig_adapter(r, rig_desc(0, 1, 0, 4 * PS), NULL);
  uint64_t base = grant(r, a, 3), logical, before = rig_reports(r);
  map(a, mdl, base, reg->va, 2 * PS, 1, &logical);
  uint32_t len = 2 * PS;
  assert_true(dl_adapter_map_transfer(a, mdl, base, reg->va + 2 * PS, &len, 1, &logical) != DL_OK);
  rig_expect(r, before, DL_VF_NOT_FLUSHED);
  assert_int_equal(len, 0);
  assert_int_equal(map(a, mdl, base, reg->va + 2 * PS, PS, 1, &logical), PS);  /* one left */
  free_regs(r, a, base, 3);
  const dl_report *rep = rig_expect(r, before + 1, DL_VF_FREED_WHILE_MAPPED);
  assert_int_equal(rep->p2, 3);
  assert_int_equal(dl_dmamap_count(dl_machine_dmamap(r->m)), 0);
  assert_int_equal(dl_mapregs_of(r->m)->nfree, 64);
}

/* MapTransfer and FlushAdapterBuffers are <= DISPATCH_LEVEL: 0x13 at DIRQL. */
static void test_map_and_flush_above_dispatch(void **state) {
  rig *r = *state;
  uint64_t p = rig_pages_at(r, 1, 0);
  dl_region *reg = rig_map(r, &p, 0, PS);
  dl_mdl *mdl = rig_mdl(r, reg);
  dl_adapter *a = rig_adapter(r, rig_desc(0, 1, 0, 4 * PS), NULL);
  uint64_t base = grant(r, a, 1), logical, before = rig_reports(r);
  dl_machine_set_irql(r->m, DL_DISPATCH_LEVEL);
  map(a, mdl, base, reg->va, PS, 1, &logical);
  assert_int_equal(dl_adapter_flush(a, mdl, base, reg->va, PS, 1), 1);
  rig_expect_none(r, before);
  dl_machine_set_irql(r->m, 7);
  map(a, mdl, base, reg->va, PS, 1, &logical);
  const dl_report *rep = rig_expect(r, before, DL_VF_WRONG_IRQL);
  assert_int_equal(rep->p2, 2);
  assert_int_equal(rep->p3, DL_DISPATCH_LEVEL);
  assert_int_equal(rep->p4, 7);
  assert_int_equal(dl_adapter_flush(a, mdl, base, reg->va, PS, 1), 1);
  rig_expect(r, before + 1, DL_VF_WRONG_IRQL);
  dl_machine_set_irql(r->m, DL_PASSIVE_LEVEL);
  free_regs(r, a, base, 1);
}

/* The device may reach a logical range only while it is mapped: after the
** flush an access is an IOMMU fault (0x26) and is not performed. */
static void test_device_access_only_while_mapped(void **state) {
  rig *r = *state;
  uint64_t p = rig_pages_at(r, 1, 0);
  dl_region *reg = rig_map(r, &p, 0, PS);
  dl_mdl *mdl = rig_mdl(r, reg);
  dl_adapter *a = rig_adapter(r, rig_desc(1, 0, 1, 4 * PS), NULL);
  uint64_t base = grant(r, a, 1), logical, before = rig_reports(r);
  map(a, mdl, base, reg->va, PS, 0, &logical);
  assert_true(dl_dmamap_covers(dl_machine_dmamap(r->m), logical, PS));
  assert_false(dl_dmamap_covers(dl_machine_dmamap(r->m), logical, PS + 1));
  uint8_t byte = 0x5A;
  assert_int_equal(dl_dma_write(r->m, "test", logical + 10, &byte, 1), DL_OK);
  assert_int_equal(dl_adapter_flush(a, mdl, base, reg->va, PS, 0), 1);
  assert_false(dl_dmamap_covers(dl_machine_dmamap(r->m), logical, 1));
  byte = 0xA5;
  assert_int_equal(dl_dma_write(r->m, "test", logical + 10, &byte, 1), DL_ENOTMAPPED);
  rig_expect(r, before, DL_VF_IOMMU_FAULT);
  assert_int_equal(dl_machine_read_va(r->m, reg->va + 10, &byte, 1), DL_OK);
  assert_int_equal(byte, 0x5A);
  free_regs(r, a, base, 1);
}

/* After PutDmaAdapter, MapTransfer and FlushAdapterBuffers are 0x18. */
static void test_map_after_put_is_0x18(void **state) {
  rig *r = *state;
  uint64_t p = rig_pages_at(r, 1, 0);
  dl_region *reg = rig_map(r, &p, 0, PS);
  dl_mdl *mdl = rig_mdl(r, reg);
  dl_adapter *a = rig_adapter(r, rig_desc(0, 1, 0, 4 * PS), NULL);
  uint64_t base = grant(r, a, 1), logical, before = rig_reports(r);
  dl_adapter_put(a);  /* with registers held: 0x09 */
  rig_expect(r, before, DL_VF_PUT_WITH_MAP_REGISTERS);
  uint32_t len = PS;
  assert_int_equal(dl_adapter_map_transfer(a, mdl, base, reg->va, &len, 1, &logical), DL_ESTATE);
  rig_expect(r, before + 1, DL_VF_ADAPTER_RELEASED);
  assert_int_equal(len, 0);
  assert_int_equal(dl_adapter_flush(a, mdl, base, reg->va, PS, 1), 0);
  rig_expect(r, before + 2, DL_VF_ADAPTER_RELEASED);
}

int main(void) {
  const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, rig_setup, rig_teardown)
    T(test_sg_master_length_ends_at_physical_break),
    T(test_packet_master_bounces_whole_length_across_breaks),
    T(test_contiguous_below_ceiling_is_direct),
    T(test_32bit_write_bounces_at_map),
    T(test_32bit_read_copies_back_at_flush),
    T(test_only_runs_above_the_ceiling_bounce),
    T(test_bounce_limit_is_nmr_pages_minus_offset),
    T(test_direct_map_over_the_limit_is_reported),
    T(test_map_argument_checks),
    T(test_flush_of_unmapped_is_0x20),
    T(test_not_flushed_and_freed_while_mapped),
    T(test_map_and_flush_above_dispatch),
    T(test_device_access_only_while_mapped),
    T(test_map_after_put_is_0x18),
#undef T
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
