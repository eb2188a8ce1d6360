/*
** rig.h: helpers shared by the C tests of the kernel and HAL layers: a
** machine with a device, buffers over pages the test chooses (so that the
** physical layout, and with it every run, bounce and S/G element, is known),
** MDLs over them, and checks of the verifier's reports. Include after
** <cmocka.h>; everything here is static inline, so a test uses what it needs.
*/
#ifndef DL_TEST_RIG_H
#define DL_TEST_RIG_H

#include <stdint.h>
#include <string.h>

#include "base/dl_status.h"
#include "devices/dl_uart.h"
#include "hal/dl_adapter.h"
#include "io/dl_device.h"
#include "io/dl_mdl.h"
#include "machine/dl_machine.h"
#include "machine/dl_verifier.h"
#include "memory/dl_physmem.h"
#include "memory/dl_vspace.h"

#define PS 4096u
#define GiB4 (UINT64_C(1) << 32)

/* A machine and one device on it. */
typedef struct rig {
  dl_machine *m;
  dl_device *dev;
} rig;

/* Builds a machine from cfg (NULL: the defaults) with a device "dev0". */
static inline int rig_open(rig *r, const dl_machine_config *cfg) {
  dl_machine_config def;
  if (!cfg) {
    dl_machine_config_init(&def);
    cfg = &def;
  }
  memset(r, 0, sizeof *r);
  if (dl_machine_new(cfg, &r->m)) return -1;
  return dl_device_new(r->m, "dev0", &r->dev) ? -1 : 0;
}

static inline void rig_close(rig *r) { dl_machine_free(r->m); }

/* cmocka setup and teardown: each test gets a fresh default rig as *state. */
static inline int rig_setup(void **state) {
  static rig r;
  if (rig_open(&r, NULL)) return -1;
  *state = &r;
  return 0;
}

static inline int rig_teardown(void **state) {
  rig_close(*state);
  return 0;
}

/* cmocka setup and teardown for tests of a bare machine (no device) as
** *state: the default machine, or one of 4 CPUs. */
static inline int rig_machine_open(void **state, uint32_t cpus) {
  dl_machine_config cfg;
  dl_machine_config_init(&cfg);
  if (cpus) cfg.cpus = cpus;
  dl_machine *m = NULL;
  if (dl_machine_new(&cfg, &m)) return -1;
  *state = m;
  return 0;
}

static inline int rig_machine_setup(void **state) { return rig_machine_open(state, 0); }
static inline int rig_machine4_setup(void **state) { return rig_machine_open(state, 4); }

static inline int rig_machine_teardown(void **state) {
  dl_machine_free(*state);
  return 0;
}

/* The machine's clock. */
static inline dl_clock *rig_clock(rig *r) { return dl_machine_clock(r->m); }

/* A UART "uart0" at `baud` on the machine (the device system DMA feeds). */
static inline dl_uart *rig_uart(rig *r, uint32_t baud) {
  dl_uart_config cfg;
  dl_uart_config_init(&cfg);
  cfg.baud = baud;
  dl_uart *u = NULL;
  assert_int_equal(dl_uart_new(r->m, "uart0", 40, 5, &cfg, &u), DL_OK);
  return u;
}

/* Enables the UART's DMA requests (its CONTROL register). */
static inline void rig_uart_enable(dl_uart *u, uint32_t bits) {
  dl_devmodel *dm = dl_uart_model(u);
  dm->ops->write(dm->ctx, DL_SPACE_MEMORY, 0, DL_UART_CONTROL, 4, bits);
}

/* A second device on the machine. */
static inline dl_device *rig_device(rig *r, const char *name) {
  dl_device *d = NULL;
  assert_int_equal(dl_device_new(r->m, name, &d), DL_OK);
  return d;
}

/* `n` pages taken from physical memory, contiguous, the lowest run whose
** pages all lie at or above `at_least` (allocated, so nothing else gets them). */
static inline uint64_t rig_pages_at(rig *r, uint64_t n, uint64_t at_least) {
  dl_physmem *pm = dl_machine_physmem(r->m);
  uint64_t pfns[512];
  assert_true(n <= 512);
  if (at_least == 0) {
    uint64_t first;
    assert_int_equal(dl_physmem_alloc_contiguous(pm, n, UINT64_MAX, 0, &first), DL_OK);
    return first;
  }
  /* HIGH_FIRST takes consecutive free pages from 4 GiB up. */
  assert_int_equal(at_least, GiB4);
  assert_int_equal(dl_physmem_alloc(pm, n, DL_ALLOC_HIGH_FIRST, pfns), DL_OK);
  for (uint64_t i = 1; i < n; i++) assert_int_equal(pfns[i], pfns[0] + i);
  assert_true(pfns[0] * PS >= GiB4);
  return pfns[0];
}

/* A nonpaged buffer of `len` bytes starting `off` into its first page,
** mapped over exactly the pages pfns[0..] (they must be allocated). */
static inline dl_region *rig_map(rig *r, const uint64_t *pfns, uint32_t off, uint64_t len) {
  dl_region *reg = NULL;
  uint64_t npages = (off + len + PS - 1) / PS;
  assert_int_equal(dl_vspace_map(dl_machine_vspace(r->m), len, off, pfns, npages,
                                 DL_REGION_NONPAGED, &reg), DL_OK);
  return reg;
}

/* An MDL over a whole region, built for nonpaged pool. */
static inline dl_mdl *rig_mdl(rig *r, const dl_region *reg) {
  dl_mdl *mdl = NULL;
  assert_int_equal(dl_mdl_allocate(r->m, reg->va, reg->length, &mdl), DL_OK);
  assert_int_equal(dl_mdl_build_for_nonpaged_pool(mdl), DL_OK);
  return mdl;
}

/* Fills len bytes at va with a pattern seeded by `seed`. */
static inline void rig_pattern(rig *r, uint64_t va, uint64_t len, unsigned seed) {
  for (uint64_t i = 0; i < len; i++) {
    uint8_t b = (uint8_t)(i * 31 + seed * 7 + (i >> 8));
    assert_int_equal(dl_machine_write_va(r->m, va + i, &b, 1), DL_OK);
  }
}

/* Returns 1 if len bytes at va hold the pattern of `seed`. */
static inline int rig_has_pattern(rig *r, uint64_t va, uint64_t len, unsigned seed) {
  for (uint64_t i = 0; i < len; i++) {
    uint8_t b;
    assert_int_equal(dl_machine_read_va(r->m, va + i, &b, 1), DL_OK);
    if (b != (uint8_t)(i * 31 + seed * 7 + (i >> 8))) return 0;
  }
  return 1;
}

/* The default bus-master description: version 2, PCI, MaximumLength `maxlen`. */
static inline dl_device_description rig_desc(int sg, int dma32, int dma64, uint64_t maxlen) {
  dl_device_description d;
  memset(&d, 0, sizeof d);
  d.version = 2;
  d.master = 1;
  d.scatter_gather = sg;
  d.dma32 = dma32;
  d.dma64 = dma64;
  d.interface_type = DL_PCI_BUS;
  d.maximum_length = maxlen;
  return d;
}

/* IoGetDmaAdapter for dev, which must succeed. */
static inline dl_adapter *rig_adapter_for(rig *r, dl_device *dev, dl_device_description d,
                                          uint32_t *nmr) {
  dl_adapter *a = NULL;
  uint32_t n = 0;
  assert_int_equal(dl_adapter_get(r->m, dev, &d, &a, &n), DL_OK);
  if (nmr) *nmr = n;
  return a;
}

static inline dl_adapter *rig_adapter(rig *r, dl_device_description d, uint32_t *nmr) {
  return rig_adapter_for(r, r->dev, d, nmr);
}

/* Reports made so far. */
static inline uint64_t rig_reports(rig *r) { return dl_verifier_count(r->m); }

/* The report made last. */
static inline const dl_report *rig_last(rig *r) {
  uint64_t n = dl_verifier_count(r->m);
  assert_true(n > 0);
  const dl_report *rep = dl_verifier_at(r->m, (size_t)(n - 1));
  assert_non_null(rep);
  return rep;
}

/* Asserts that exactly one report was made since `before`: 0xE6 with p1. */
static inline const dl_report *rig_expect(rig *r, uint64_t before, uint32_t p1) {
  assert_int_equal(rig_reports(r), before + 1);
  const dl_report *rep = rig_last(r);
  assert_int_equal(rep->bugcheck, DL_BUGCHECK_DMA);
  assert_int_equal(rep->p1, p1);
  return rep;
}

/* Asserts that no report was made since `before`. */
static inline void rig_expect_none(rig *r, uint64_t before) {
  if (rig_reports(r) != before) fail_msg("unexpected report: %s", rig_last(r)->message);
}

#endif
