/*
** test_busmaster.c: the bus-master device of core/devices/dl_busmaster.c without
** Lua: configuration checks, the sparse medium, register decoding, one
** command's timing, bytes, trace records and counters, and a ring whose
** data and then descriptors lose their mapping while the device runs (the
** device's remembered windows close: each access is refused and reported).
*/
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "devices/dl_busmaster.h"
#include "machine/dl_dmamap.h"
#include "machine/dl_machine.h"
#include "base/dl_status.h"
#include "machine/dl_trace.h"
#include "machine/dl_verifier.h"
#include "memory/dl_physmem.h"

/* A machine with a busmaster and its registers mapped. */
typedef struct rig {
  dl_machine *m;
  dl_busmaster *bm;
  uint64_t regs;
} rig;

static int setup(void **state) {
  static rig r;
  dl_machine_config cfg;
  dl_machine_config_init(&cfg);
  if (dl_machine_new(&cfg, &r.m)) return -1;
  dl_busmaster_config bc;
  dl_busmaster_config_init(&bc);
  bc.capacity = UINT64_C(1) << 40;
  if (dl_busmaster_new(r.m, "bm", 16, 5, &bc, &r.bm)) return -1;
  dl_devmodel *dm = dl_busmaster_model(r.bm);
  if (dl_mmio_map(r.m, dm->bar, dm->bar_size, &r.regs)) return -1;
  *state = &r;
  return 0;
}

static int teardown(void **state) {
  rig *r = *state;
  dl_machine_free(r->m);
  return 0;
}

static uint64_t rd(rig *r, uint64_t reg, uint32_t size) {
  uint64_t v = 0;
  assert_int_equal(dl_mmio_read(r->m, r->regs + reg, size, &v), DL_OK);
  return v;
}

static void wr(rig *r, uint64_t reg, uint32_t size, uint64_t v) {
  assert_int_equal(dl_mmio_write(r->m, r->regs + reg, size, v), DL_OK);
}

/* Every field out of range is refused; NULL frees harmlessly. */
static void test_config_ranges(void **state) {
  rig *r = *state;
  dl_busmaster_config good, bad;
  dl_busmaster_config_init(&good);
  dl_busmaster *bm;
  bad = good, bad.bandwidth = 0;
  assert_int_equal(dl_busmaster_new(r->m, NULL, 17, 5, &bad, &bm), DL_EINVAL);
  bad = good, bad.max_sg = 0;
  assert_int_equal(dl_busmaster_new(r->m, NULL, 17, 5, &bad, &bm), DL_EINVAL);
  bad = good, bad.max_sg = DL_BM_MAX_SG_LIMIT + 1;
  assert_int_equal(dl_busmaster_new(r->m, NULL, 17, 5, &bad, &bm), DL_EINVAL);
  bad = good, bad.address_width = 65;
  assert_int_equal(dl_busmaster_new(r->m, NULL, 17, 5, &bad, &bm), DL_EINVAL);
  bad = good, bad.alignment = 24;
  assert_int_equal(dl_busmaster_new(r->m, NULL, 17, 5, &bad, &bm), DL_EINVAL);
  bad = good, bad.sector_size = 256;
  assert_int_equal(dl_busmaster_new(r->m, NULL, 17, 5, &bad, &bm), DL_EINVAL);
  assert_int_equal(dl_busmaster_new(r->m, NULL, 17, 2, &good, &bm), DL_EINVAL);  /* IRQL */
  assert_int_equal(dl_busmaster_new(r->m, "extra", 17, 5, &good, &bm), DL_OK);
  assert_ptr_equal(dl_busmaster_of(dl_busmaster_model(bm)), bm);
  dl_busmaster_free(bm);
  dl_busmaster_free(NULL);
  assert_null(dl_busmaster_of(NULL));
}

/* The medium reads zeros until written, across sector boundaries. */
static void test_medium_sparse(void **state) {
  rig *r = *state;
  uint8_t buf[1500], back[1500];
  for (size_t i = 0; i < sizeof buf; i++) buf[i] = (uint8_t)(i * 7 + 1);
  uint64_t far = (UINT64_C(1) << 39) + 300;
  memset(back, 0xAA, sizeof back);
  assert_int_equal(dl_busmaster_medium_read(r->bm, far, back, sizeof back), DL_OK);
  for (size_t i = 0; i < sizeof back; i++) assert_int_equal(back[i], 0);
  assert_int_equal(dl_busmaster_medium_write(r->bm, far, buf, sizeof buf), DL_OK);
  assert_int_equal(dl_busmaster_medium_read(r->bm, far, back, sizeof back), DL_OK);
  assert_memory_equal(buf, back, sizeof buf);
  assert_int_equal(dl_busmaster_medium_read(r->bm, far - 1, back, 2), DL_OK);
  assert_int_equal(back[0], 0);
  assert_int_equal(back[1], buf[0]);
  uint64_t cap = dl_busmaster_config_of(r->bm)->capacity;
  assert_int_equal(dl_busmaster_medium_write(r->bm, cap - 1, buf, 2), DL_ERANGE);
  assert_int_equal(dl_busmaster_medium_read(r->bm, UINT64_MAX, back, 2), DL_ERANGE);
}

/* 32-bit registers; 64-bit accesses are both halves; narrow reads assemble
** bytes, narrow writes are ignored; read-only registers keep their value. */
static void test_register_decoding(void **state) {
  rig *r = *state;
  wr(r, DL_BM_OFFSET_LO, 8, UINT64_C(0x0123456789abcdef));
  assert_int_equal(rd(r, DL_BM_OFFSET_LO, 4), 0x89abcdef);
  assert_int_equal(rd(r, DL_BM_OFFSET_HI, 4), 0x01234567);
  assert_int_equal(rd(r, DL_BM_OFFSET_LO, 8), UINT64_C(0x0123456789abcdef));
  assert_int_equal(rd(r, DL_BM_OFFSET_LO + 1, 2), 0xabcd);  /* bytes ef cd ab 89 */
  wr(r, DL_BM_LENGTH, 1, 0xFF);
  assert_int_equal(rd(r, DL_BM_LENGTH, 4), 0);
  wr(r, DL_BM_MAX_SG, 4, 5);
  assert_int_equal(rd(r, DL_BM_MAX_SG, 4), 64);
  assert_int_equal(rd(r, DL_BM_MAX_TRANSFER, 4), 1 << 20);
  assert_int_equal(rd(r, 0x100, 4), 0);
}

/* One write command: timing, bytes on the medium, trace and counters. */
static void test_single_write(void **state) {
  rig *r = *state;
  uint64_t pa = 0x100000, len = 5000;
  uint8_t data[5000], back[5000];
  for (size_t i = 0; i < len; i++) data[i] = (uint8_t)(i ^ 0x5A);
  assert_int_equal(dl_physmem_write(dl_machine_physmem(r->m), pa, data, len), DL_OK);
  uint32_t handle;
  assert_int_equal(dl_dmamap_add(dl_machine_dmamap(r->m), pa, len, &handle), DL_OK);
  wr(r, DL_BM_ADDR_LO, 8, pa);
  wr(r, DL_BM_LENGTH, 4, len);
  wr(r, DL_BM_OFFSET_LO, 8, 4096);
  wr(r, DL_BM_CONTROL, 4, DL_BM_START | DL_BM_TO_DEVICE);
  assert_int_equal(rd(r, DL_BM_STATUS, 4), DL_BM_BUSY);
  dl_clock *c = dl_machine_clock(r->m);
  dl_clock_run(c);
  /* 2000 ns setup + ceil(5000e9 / 2^30) = 4657 ns */
  assert_int_equal(dl_clock_now(c), 2000 + 4657);
  assert_int_equal(rd(r, DL_BM_STATUS, 4), DL_BM_DONE);
  assert_int_equal(rd(r, DL_BM_BYTES_DONE, 4), len);
  assert_int_equal(dl_busmaster_medium_read(r->bm, 4096, back, len), DL_OK);
  assert_memory_equal(data, back, len);
  dl_busmaster_stats st;
  dl_busmaster_stats_get(r->bm, &st);
  assert_int_equal(st.commands, 1);
  assert_int_equal(st.bytes, len);
  assert_int_equal(st.interrupts, 0);  /* IRQ_ENABLE was off */
  dl_trace *t = dl_machine_trace(r->m);
  assert_int_equal(dl_trace_stats(t)->transfers, 1);
  assert_int_equal(dl_trace_stats(t)->bytes_moved, len);
  const dl_trace_record *end = dl_trace_at(t, dl_trace_count(t) - 1);
  assert_int_equal(end->kind, DL_TR_DMA_END);
  assert_int_equal(end->a, len);
  assert_int_equal(end->b, 0);
  wr(r, DL_BM_STATUS, 4, DL_BM_DONE);
  assert_int_equal(rd(r, DL_BM_STATUS, 4), 0);
  dl_dmamap_remove(dl_machine_dmamap(r->m), handle);
}

/* A fault must name a kind, a trigger and a probability in [0, 1]. */
static void test_inject_checks(void **state) {
  rig *r = *state;
  dl_bm_fault f = {DL_BM_FAULT_SHORT, DL_BM_PROBABILITY, 0, 1.5, 0};
  assert_int_equal(dl_busmaster_inject(r->bm, &f), DL_EINVAL);
  f.probability = 0.5, f.kind = DL_BM_FAULT_KIND_COUNT;
  assert_int_equal(dl_busmaster_inject(r->bm, &f), DL_EINVAL);
  f.kind = DL_BM_FAULT_HANG, f.trigger = DL_BM_AT_COMMAND, f.at = 0;
  assert_int_equal(dl_busmaster_inject(r->bm, &f), DL_EINVAL);
  f.at = 3;
  assert_int_equal(dl_busmaster_inject(r->bm, &f), DL_OK);
  assert_string_equal(dl_bm_fault_name(DL_BM_FAULT_DROP_INTERRUPT), "drop_interrupt");
  assert_null(dl_bm_fault_name(DL_BM_FAULT_KIND_COUNT));
}

/* Writes ring descriptor i at ring: data at pa, len bytes, medium offset. */
static void put_desc(rig *r, uint64_t ring, uint32_t i, uint64_t pa, uint32_t len, uint32_t flags,
                     uint64_t offset) {
  uint8_t d[DL_BM_RING_DESC] = {0};
  for (int k = 0; k < 8; k++) d[k] = (uint8_t)(pa >> (8 * k));
  for (int k = 0; k < 4; k++) d[8 + k] = (uint8_t)(len >> (8 * k));
  for (int k = 0; k < 4; k++) d[12 + k] = (uint8_t)(flags >> (8 * k));
  for (int k = 0; k < 8; k++) d[16 + k] = (uint8_t)(offset >> (8 * k));
  assert_int_equal(dl_physmem_write(dl_machine_physmem(r->m), ring + i * DL_BM_RING_DESC, d,
                                    sizeof d), DL_OK);
}

/* A little-endian u32 of descriptor i at byte `at`. */
static uint32_t desc_u32(rig *r, uint64_t ring, uint32_t i, uint32_t at) {
  uint8_t b[4];
  assert_int_equal(dl_physmem_read(dl_machine_physmem(r->m), ring + i * DL_BM_RING_DESC + at, b,
                                   4), DL_OK);
  return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

/* Ring mode: writes then reads move real bytes (a never-written sector
** reads as zeros); once the data pages are unmapped the next descriptors
** end with ERROR_CODE 1 and a 0xE6/0x26 report each, nothing moved; once
** the ring itself is unmapped the device cannot fetch and stops with a
** report, the descriptor left owned. */
static void test_ring_loses_mappings(void **state) {
  rig *r = *state;
  dl_physmem *pm = dl_machine_physmem(r->m);
  dl_dmamap *map = dl_machine_dmamap(r->m);
  dl_clock *c = dl_machine_clock(r->m);
  uint64_t ring = 0x200000, data = 0x201000;  /* adjacent: one span */
  uint8_t bytes[4096], back[4096], zero[4096] = {0};
  for (size_t i = 0; i < sizeof bytes; i++) bytes[i] = (uint8_t)(i * 7 + 1);
  assert_int_equal(dl_physmem_write(pm, data, bytes, sizeof bytes), DL_OK);
  uint32_t hring, hdata;
  assert_int_equal(dl_dmamap_add(map, ring, 0x1000, &hring), DL_OK);
  assert_int_equal(dl_dmamap_add(map, data, 0x3000, &hdata), DL_OK);
  wr(r, DL_BM_DESC_LO, 8, ring);
  wr(r, DL_BM_DESC_COUNT, 4, 8);
  wr(r, DL_BM_CONTROL, 4, DL_BM_START | DL_BM_MODE_RING);
  put_desc(r, ring, 0, data, 4096, DL_BM_DESC_OWNED | DL_BM_DESC_TO_DEVICE, 0);
  put_desc(r, ring, 1, data + 0x1000, 4096, DL_BM_DESC_OWNED, 0);
  put_desc(r, ring, 2, data + 0x2000, 4096, DL_BM_DESC_OWNED, 0x10000);  /* never written */
  assert_int_equal(dl_physmem_write(pm, data + 0x2000, bytes, sizeof bytes), DL_OK);
  wr(r, DL_BM_RING_TAIL, 4, 3);
  dl_clock_run(c);
  for (uint32_t i = 0; i < 3; i++) {
    assert_int_equal(desc_u32(r, ring, i, 12) & DL_BM_DESC_OWNED, 0);
    assert_int_equal(desc_u32(r, ring, i, 24), 4096);
    assert_int_equal(desc_u32(r, ring, i, 28), DL_BM_ERR_NONE);
  }
  assert_int_equal(dl_busmaster_medium_read(r->bm, 0, back, sizeof back), DL_OK);
  assert_memory_equal(back, bytes, sizeof back);
  assert_int_equal(dl_physmem_read(pm, data + 0x1000, back, sizeof back), DL_OK);
  assert_memory_equal(back, bytes, sizeof back);
  assert_int_equal(dl_physmem_read(pm, data + 0x2000, back, sizeof back), DL_OK);
  assert_memory_equal(back, zero, sizeof back);
  assert_int_equal(dl_verifier_count(r->m), 0);

  dl_dmamap_remove(map, hdata);  /* the data pages go; the ring stays */
  assert_int_equal(dl_physmem_write(pm, data + 0x1000, bytes, sizeof bytes), DL_OK);
  put_desc(r, ring, 3, data, 4096, DL_BM_DESC_OWNED | DL_BM_DESC_TO_DEVICE, 0x20000);
  put_desc(r, ring, 4, data + 0x1000, 4096, DL_BM_DESC_OWNED, 0x30000);
  wr(r, DL_BM_RING_TAIL, 4, 5);
  dl_clock_run(c);
  for (uint32_t i = 3; i < 5; i++) {
    assert_int_equal(desc_u32(r, ring, i, 12) & DL_BM_DESC_OWNED, 0);
    assert_int_equal(desc_u32(r, ring, i, 24), 0);
    assert_int_equal(desc_u32(r, ring, i, 28), DL_BM_ERR_UNMAPPED);
  }
  assert_int_equal(dl_verifier_count(r->m), 2);
  for (size_t i = 0; i < 2; i++) {
    assert_int_equal(dl_verifier_at(r->m, i)->bugcheck, 0xE6);
    assert_int_equal(dl_verifier_at(r->m, i)->p1, 0x26);
  }
  assert_int_equal(dl_physmem_read(pm, data + 0x1000, back, sizeof back), DL_OK);
  assert_memory_equal(back, bytes, sizeof back);  /* the refused read wrote nothing */
  assert_int_equal(dl_busmaster_medium_read(r->bm, 0x20000, back, sizeof back), DL_OK);
  assert_memory_equal(back, zero, sizeof back);   /* nor did the refused write */

  dl_dmamap_remove(map, hring);  /* now the descriptors themselves */
  put_desc(r, ring, 5, data, 4096, DL_BM_DESC_OWNED, 0);
  wr(r, DL_BM_RING_TAIL, 4, 6);
  dl_clock_run(c);
  assert_int_equal(desc_u32(r, ring, 5, 12) & DL_BM_DESC_OWNED, DL_BM_DESC_OWNED);
  assert_int_equal(rd(r, DL_BM_ERROR_CODE, 4), DL_BM_ERR_UNMAPPED);
  assert_true(rd(r, DL_BM_STATUS, 4) & DL_BM_ERROR);
  assert_int_equal(dl_verifier_count(r->m), 3);
  assert_int_equal(dl_verifier_at(r->m, 2)->p1, 0x26);
  dl_busmaster_stats st;
  dl_busmaster_stats_get(r->bm, &st);
  assert_int_equal(st.commands, 6);
  assert_int_equal(st.bytes, 3 * 4096);
  assert_int_equal(st.errors, 3);
}

int main(void) {
  const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    T(test_config_ranges),
    T(test_medium_sparse),
    T(test_register_decoding),
    T(test_single_write),
    T(test_inject_checks),
    T(test_ring_loses_mappings),
#undef T
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
