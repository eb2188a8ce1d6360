/*
** test_busmaster.c: the bus-master device of core/devices/dl_busmaster.c without
** Lua: configuration checks, the sparse medium, register decoding, and one
** command's timing, bytes, trace records and counters.
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

int main(void) {
  const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    T(test_config_ranges),
    T(test_medium_sparse),
    T(test_register_decoding),
    T(test_single_write),
    T(test_inject_checks),
#undef T
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
