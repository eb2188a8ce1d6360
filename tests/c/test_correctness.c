/*
** test_correctness.c: the documented rules issue 15 found answered wrongly,
** without Lua: IoGetDmaAdapter's NULL answers and their traced reasons,
** map registers as RAM reserved below the ceiling, machine option ranges,
** CalculateScatterGatherList's STATUS_BUFFER_TOO_SMALL, split_transfer's
** alignment, MapTransfer's 0x15 message, and the KMDF fragment rules.
*/
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "base/dl_status.h"
#include "hal/dl_adapter.h"
#include "hal/dl_mapregs.h"
#include "hal/dl_split.h"
#include "io/dl_device.h"
#include "io/dl_mdl.h"
#include "machine/dl_machine.h"
#include "machine/dl_trace.h"
#include "machine/dl_verifier.h"
#include "wdf/dl_wdf.h"
#include "wdf/dl_wdfdma.h"

#define KiB(n) ((uint64_t)(n) << 10)
#define MiB(n) ((uint64_t)(n) << 20)
#define GiB(n) ((uint64_t)(n) << 30)
#define PS 4096u

/* A machine with RAM ranges {base, size}... (n of them), map_registers. */
static dl_machine *machine(const dl_range *ram, size_t n, uint32_t map_registers) {
  dl_machine_config cfg;
  dl_machine_config_init(&cfg);
  for (size_t i = 0; i < n; i++) cfg.ram[i] = ram[i];
  if (n) cfg.nram = n;
  cfg.map_registers = map_registers;
  dl_machine *m = NULL;
  assert_int_equal(dl_machine_new(&cfg, &m), DL_OK);
  return m;
}

static dl_device *device(dl_machine *m) {
  dl_device *dev = NULL;
  assert_int_equal(dl_device_new(m, "dev", &dev), DL_OK);
  return dev;
}

/* A v2 PCI bus-master description: sg, 32 or 64 bits, 64 KiB. */
static dl_device_description desc(int sg, int bits) {
  dl_device_description d = {.version = 2, .master = 1, .scatter_gather = sg, .dma32 = bits >= 32,
                             .dma64 = bits == 64, .interface_type = DL_PCI_BUS, .maximum_length = KiB(64)};
  return d;
}

/* The newest trace record of `kind`, or NULL. */
static const dl_trace_record *last_record(dl_machine *m, dl_trace_kind kind) {
  dl_trace *t = dl_machine_trace(m);
  for (size_t i = dl_trace_count(t); i-- > 0;)
    if (dl_trace_at(t, i)->kind == kind) return dl_trace_at(t, i);
  return NULL;
}

/* IoGetDmaAdapter fails with rc and traces `reason`. */
static void refused(dl_machine *m, const dl_device_description *d, int rc, uint64_t reason) {
  dl_device *dev = device(m);
  dl_adapter *a = NULL;
  uint32_t nmr = 77;
  assert_int_equal(dl_adapter_get(m, dev, d, &a, &nmr), rc);
  assert_null(a);
  const dl_trace_record *r = last_record(m, DL_TR_ADAPTER_REFUSED);
  assert_non_null(r);
  assert_int_equal(r->obj, dev->id);
  assert_int_equal(r->a, reason);
}

/* A nonpaged buffer and an MDL built over it. */
static dl_mdl *buffer_mdl(dl_machine *m, uint64_t len, uint32_t off, dl_alloc_policy policy,
                          dl_region **out) {
  dl_region *r = NULL;
  dl_mdl *mdl = NULL;
  assert_int_equal(dl_buffer_new(m, len, off, policy, DL_REGION_NONPAGED, &r), DL_OK);
  assert_int_equal(dl_mdl_allocate(m, r->va, r->length, &mdl), DL_OK);
  assert_int_equal(dl_mdl_build_for_nonpaged_pool(mdl), DL_OK);
  if (out) *out = r;
  return mdl;
}

/* 2, 3 and 8: every invalid description is NULL with its reason traced;
** only an unknown Version is also a verifier report (0xE6/0x25). */
static void test_invalid_descriptions(void **state) {
  (void)state;
  dl_machine *m = machine(NULL, 0, 64);
  dl_device_description d = desc(1, 32);
  d.version = 3;
  for (uint32_t w = 65; w <= 80; w++) {
    d.address_width = w;
    refused(m, &d, DL_EINVAL, DL_REFUSE_WIDTH_OVER_64);
    assert_int_equal(last_record(m, DL_TR_ADAPTER_REFUSED)->b, w);
  }
  d.address_width = 0;  /* v3: the flags are not used */
  refused(m, &d, DL_EINVAL, DL_REFUSE_WIDTH_ZERO);
  d.address_width = 23;
  refused(m, &d, DL_EINVAL, DL_REFUSE_WIDTH_UNDER_24);
  assert_int_equal(dl_verifier_count(m), 0);
  d.version = 4;
  refused(m, &d, DL_EINVAL, DL_REFUSE_VERSION);
  assert_int_equal(dl_verifier_count(m), 1);
  const dl_report *rep = dl_verifier_at(m, 0);
  assert_int_equal(rep->p1, DL_VF_BAD_DESCRIPTION_VERSION);
  assert_non_null(strstr(rep->message, "DEVICE_DESCRIPTION_VERSION (0), 1, 2 or 3"));
  char why[160];
  dl_adapter_refusal_text(DL_REFUSE_WIDTH_OVER_64, 65, why, sizeof why);
  assert_string_equal(why, "DmaAddressWidth 65 exceeds 64");
  /* the edges that are valid */
  d.version = 3;
  uint32_t nmr;
  dl_adapter *a;
  d.address_width = 64;
  assert_int_equal(dl_adapter_get(m, device(m), &d, &a, &nmr), DL_OK);
  assert_true(dl_adapter_ceiling(a) == UINT64_MAX);
  d.address_width = 24;
  assert_int_equal(dl_adapter_get(m, device(m), &d, &a, &nmr), DL_OK);
  assert_true(dl_adapter_ceiling(a) == 0xFFFFFF);
  d.version = 0;  /* DEVICE_DESCRIPTION_VERSION */
  assert_int_equal(dl_adapter_get(m, device(m), &d, &a, &nmr), DL_OK);
  dl_machine_free(m);
}

/* 6 and 8: no map registers at all is NULL for a device that needs them,
** never an error later; a 64-bit scatter/gather master needs none. */
static void test_no_map_registers(void **state) {
  (void)state;
  dl_machine *m = machine(NULL, 0, 0);
  dl_device_description d = desc(0, 64);
  refused(m, &d, DL_ENOSPACE, DL_REFUSE_NO_MAP_REGISTERS);
  d = desc(1, 64);
  dl_adapter *a;
  uint32_t nmr;
  assert_int_equal(dl_adapter_get(m, device(m), &d, &a, &nmr), DL_OK);
  dl_machine_free(m);
}

/* 6: map_registers beyond 16 MiB of pages is refused when the machine is
** built, with the valid range in the message; at the limit it works. */
static void test_machine_option_ranges(void **state) {
  (void)state;
  dl_machine_config cfg;
  dl_machine_config_init(&cfg);
  cfg.ram[0].size = GiB(8);
  cfg.page_size = 16384;
  cfg.map_registers = 1025;
  char why[160];
  dl_machine *m = NULL;
  assert_int_equal(dl_machine_config_check(&cfg, why, sizeof why), DL_EINVAL);
  assert_non_null(strstr(why, "map_registers must be from 0 to 1024 with 16 KiB pages"));
  assert_int_equal(dl_machine_new(&cfg, &m), DL_EINVAL);
  assert_null(m);
  cfg.map_registers = 1024;
  assert_int_equal(dl_machine_new(&cfg, &m), DL_OK);
  dl_device_description d = desc(0, 64);  /* a 64-bit packet master */
  dl_adapter *a;
  uint32_t nmr;
  assert_int_equal(dl_adapter_get(m, device(m), &d, &a, &nmr), DL_OK);
  assert_int_equal(nmr, 5);  /* 64 KiB in 16 KiB pages, + 1 */
  dl_machine_free(m);
  struct { uint32_t *field; uint32_t bad; const char *says; } cases[] = {
    {&cfg.adapter_map_registers, 0, "adapter_map_registers must be from 1 to 4096"},
    {&cfg.adapter_map_registers, 4097, "adapter_map_registers must be from 1 to 4096"},
    {&cfg.cpus, 65, "cpus must be from 1 to 64"},
    {&cfg.page_size, 8192 + 4096, "page_size must be a power of two from 4096 to 65536"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    dl_machine_config_init(&cfg);
    *cases[i].field = cases[i].bad;
    assert_int_equal(dl_machine_config_check(&cfg, why, sizeof why), DL_EINVAL);
    assert_non_null(strstr(why, cases[i].says));
  }
}

/* Also: the pool is RAM taken from the RAM map below 16 MiB when it can be;
** with RAM only above 4 GiB it lies there and a 32-bit device that needs
** map registers gets NULL; a low range the pool fits is used. */
static void test_map_registers_are_ram(void **state) {
  (void)state;
  dl_machine *m = machine(NULL, 0, 64);  /* 16 GiB at 0 */
  const dl_mapregs *mr = dl_mapregs_of(m);
  assert_non_null(mr);
  assert_int_equal(dl_mapregs_pa(mr, 0, PS), MiB(16) - 64 * PS);  /* the top of 16 MiB */
  dl_physmem_stats st;
  dl_physmem_get_stats(dl_machine_physmem(m), &st);
  assert_int_equal(st.ram_pages - st.free_pages, 64);
  dl_machine_free(m);

  dl_range high[] = {{GiB(4), GiB(8)}};
  m = machine(high, 1, 64);
  mr = dl_mapregs_of(m);
  assert_int_equal(dl_mapregs_pa(mr, 0, PS), GiB(4));
  assert_true(dl_physmem_is_ram(dl_machine_physmem(m), dl_mapregs_pa(mr, 0, PS), 64 * PS));
  assert_false(dl_physmem_is_ram(dl_machine_physmem(m), 0x100000, 1));
  dl_device_description d = desc(0, 32);
  refused(m, &d, DL_ENOSPACE, DL_REFUSE_POOL_ABOVE_CEILING);
  assert_int_equal(last_record(m, DL_TR_ADAPTER_REFUSED)->b, GiB(4) + 64 * PS - 1);
  d = desc(1, 32);  /* a 32-bit scatter/gather master needs them too */
  refused(m, &d, DL_ENOSPACE, DL_REFUSE_POOL_ABOVE_CEILING);
  d = desc(0, 64);
  dl_adapter *a;
  uint32_t nmr;
  assert_int_equal(dl_adapter_get(m, device(m), &d, &a, &nmr), DL_OK);
  dl_machine_free(m);

  dl_range low_high[] = {{MiB(1), KiB(256)}, {GiB(4), GiB(8)}};
  m = machine(low_high, 2, 64);
  assert_int_equal(dl_mapregs_pa(dl_mapregs_of(m), 0, PS), MiB(1));
  d = desc(0, 32);
  assert_int_equal(dl_adapter_get(m, device(m), &d, &a, &nmr), DL_OK);
  dl_machine_free(m);

  dl_range tiny[] = {{0, KiB(64)}};  /* too small for 64 registers: no pool */
  m = machine(tiny, 1, 64);
  assert_null(dl_mapregs_of(m));
  refused(m, &d, DL_ENOSPACE, DL_REFUSE_NO_MAP_REGISTERS);
  dl_machine_free(m);
}

/* The highest free run at or below a limit, around used pages and holes. */
static void test_alloc_contiguous_top(void **state) {
  (void)state;
  dl_range ram[] = {{0, MiB(1)}, {MiB(2), KiB(64)}};
  dl_machine *m = machine(ram, 2, 0);
  dl_physmem *pm = dl_machine_physmem(m);
  uint64_t first;
  assert_int_equal(dl_physmem_alloc_contiguous_top(pm, 4, UINT64_MAX, &first), DL_OK);
  assert_int_equal(first, (MiB(2) + KiB(64)) / PS - 4);
  assert_int_equal(dl_physmem_alloc_contiguous_top(pm, 16, UINT64_MAX, &first), DL_OK);
  assert_int_equal(first, MiB(1) / PS - 16);  /* 12 left above 2 MiB: too few */
  assert_int_equal(dl_physmem_alloc_contiguous_top(pm, 2, MiB(1) - 1, &first), DL_OK);
  assert_int_equal(first, MiB(1) / PS - 18);
  assert_int_equal(dl_physmem_alloc_contiguous_top(pm, 300, UINT64_MAX, &first), DL_ENOSPACE);
  assert_int_equal(dl_physmem_alloc_contiguous_top(pm, 0, UINT64_MAX, &first), DL_EINVAL);
  dl_machine_free(m);
}

/* 1: a Length past the end of the MDL is STATUS_BUFFER_TOO_SMALL for every
** adapter kind; a CurrentVa outside it stays STATUS_INVALID_PARAMETER. */
static void test_calculate_too_small(void **state) {
  (void)state;
  dl_machine *m = machine(NULL, 0, 64);
  dl_region *r;
  dl_mdl *mdl = buffer_mdl(m, 3 * PS + 100, 0x10, DL_ALLOC_SCATTERED, &r);
  int kinds[][2] = {{0, 32}, {0, 64}, {1, 32}, {1, 64}, {0, 24}};
  for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
    dl_device_description d = desc(kinds[k][0], kinds[k][1]);
    dl_adapter *a;
    uint32_t nmr, size = 0, regs = 0;
    assert_int_equal(dl_adapter_get(m, device(m), &d, &a, &nmr), DL_OK);
    assert_int_equal(dl_adapter_calculate_sglist(a, mdl, r->va, (uint32_t)r->length + 1, &size, &regs),
                     DL_STATUS_BUFFER_TOO_SMALL);
    assert_int_equal(dl_adapter_calculate_sglist(a, mdl, r->va + 1, (uint32_t)r->length, &size, &regs),
                     DL_STATUS_BUFFER_TOO_SMALL);
    assert_int_equal(dl_adapter_calculate_sglist(a, mdl, r->va - 1, 10, &size, &regs),
                     DL_STATUS_INVALID_PARAMETER);
    assert_int_equal(dl_adapter_calculate_sglist(a, mdl, r->va, (uint32_t)r->length, &size, &regs),
                     DL_STATUS_SUCCESS);
  }
  dl_machine_free(m);
}

/* 7: an alignment no split can keep is an error naming the limit; one that
** can be kept makes every piece but the last a multiple of it. */
static void test_split_alignment(void **state) {
  (void)state;
  dl_machine *m = machine(NULL, 0, 64);
  dl_region *r;
  dl_mdl *mdl = buffer_mdl(m, 11 * PS, 0x100, DL_ALLOC_SCATTERED, &r);
  dl_split_piece p[64];
  size_t n = 0;
  char why[200];
  dl_split_limits lim = {16, 907, 4096, 0};
  assert_int_equal(dl_split_transfer(mdl, r->va, r->length, &lim, p, 64, &n, why, sizeof why),
                   DL_ERANGE);
  assert_non_null(strstr(why, "alignment 4096"));
  assert_non_null(strstr(why, "max_bytes 907"));
  lim = (dl_split_limits){1, 0, 512, 0};
  assert_int_equal(dl_split_transfer(mdl, r->va, r->length, &lim, p, 64, &n, why, sizeof why),
                   DL_ERANGE);
  assert_non_null(strstr(why, "NumberOfMapRegisters 1 allows only 256 bytes"));
  lim = (dl_split_limits){1, 0, 256, 0};  /* 256 divides what one page leaves */
  assert_int_equal(dl_split_transfer(mdl, r->va, r->length, &lim, p, 64, &n, why, sizeof why), DL_OK);
  uint64_t at = r->va;
  for (size_t i = 0; i < n; i++) {
    assert_int_equal(p[i].va, at);
    assert_int_equal((p[i].va - r->va) % 256, 0);
    if (i + 1 < n) assert_int_equal(p[i].length % 256, 0);
    assert_true(p[i].map_registers <= 1);
    at += p[i].length;
  }
  assert_int_equal(at, r->va + r->length);
  lim = (dl_split_limits){4, 0, 0, 1};  /* max_elements counts contiguous runs */
  assert_int_equal(dl_split_transfer(mdl, r->va, r->length, &lim, p, 64, &n, NULL, 0), DL_OK);
  for (size_t i = 0; i < n; i++) assert_int_equal(p[i].elements, 1);
  lim = (dl_split_limits){4, 0, 8192, 1};  /* scattered pages: one run is one page */
  assert_int_equal(dl_split_transfer(mdl, r->va, r->length, &lim, p, 64, &n, why, sizeof why),
                   DL_ERANGE);
  assert_non_null(strstr(why, "max_elements 1 allows only 3840 bytes"));
  lim = (dl_split_limits){0, 0, 0, 0};
  assert_int_equal(dl_split_transfer(mdl, r->va, r->length, &lim, p, 64, &n, why, sizeof why),
                   DL_EINVAL);
  dl_machine_free(m);
}

/* Also: MapTransfer past the registers stays report 0x15 and Length 0, and
** the message says how many bytes fit: NMR x PAGE_SIZE - BYTE_OFFSET. */
static int keep_registers(void *ctx, dl_device *dev, uint64_t base) {
  (void)dev;
  *(uint64_t *)ctx = base;
  return DL_DEALLOCATE_OBJECT_KEEP_REGISTERS;
}

static void test_maptransfer_message(void **state) {
  (void)state;
  dl_range ram[] = {{MiB(1), KiB(256)}, {GiB(4), GiB(8)}};
  dl_machine *m = machine(ram, 2, 64);
  dl_region *r;
  dl_mdl *mdl = buffer_mdl(m, 8 * PS, 0, DL_ALLOC_HIGH_FIRST, &r);
  dl_device_description d = desc(0, 32);
  d.maximum_length = 3 * PS;  /* 4 registers */
  dl_adapter *a;
  uint32_t nmr;
  dl_device *dev = device(m);
  assert_int_equal(dl_adapter_get(m, dev, &d, &a, &nmr), DL_OK);
  assert_int_equal(nmr, 4);
  uint64_t base = 0, logical = 0;
  dl_machine_set_irql(m, DL_DISPATCH_LEVEL);
  assert_int_equal(dl_adapter_allocate_channel(a, dev, nmr, keep_registers, &base), DL_STATUS_SUCCESS);
  uint32_t len = nmr * PS;  /* the documented min(remaining, PAGE_SIZE x NMR) */
  dl_adapter_map_transfer(a, mdl, base, r->va + 0x100, &len, 1, &logical);
  assert_int_equal(len, 0);
  assert_int_equal(dl_verifier_count(m), 1);
  const dl_report *rep = dl_verifier_at(m, 0);
  assert_int_equal(rep->p1, DL_VF_TOO_MANY_MAP_REGISTERS);
  assert_non_null(strstr(rep->message, "16128 bytes fit"));  /* 4 x 4096 - 0x100 */
  len = 4 * PS - 0x100;
  assert_int_equal(dl_adapter_map_transfer(a, mdl, base, r->va + 0x100, &len, 1, &logical), DL_OK);
  assert_int_equal(len, 4 * PS - 0x100);
  assert_true(dl_physmem_is_ram(dl_machine_physmem(m), logical, len));
  assert_true(logical + len <= MiB(1) + KiB(256));
  dl_adapter_flush(a, mdl, base, r->va + 0x100, len, 1);
  assert_int_equal(dl_adapter_free_map_registers(a, base, nmr), DL_OK);
  dl_machine_set_irql(m, DL_PASSIVE_LEVEL);
  dl_machine_free(m);
}

/* ---- KMDF: 4 and 5 ------------------------------------------------------------ */

typedef struct kmdf {
  dl_machine *m;
  dl_device *pdo;
  dl_wdf_driver *drv;
  dl_wdf_device *d;
  dl_wdfdma_enabler *e;
  uint64_t lengths[16];
  int n;
} kmdf;

static uint32_t no_event(void *ctx, dl_wdf_device *d, dl_wdf_event ev, uint32_t st) {
  (void)ctx, (void)d, (void)ev, (void)st;
  return 0;
}

static const dl_wdf_ops wdf_ops = {.event = no_event};

static kmdf *current;  /* the rig EvtProgramDma records into */

static int on_program(void *data, dl_wdfdma_txn *t, dl_sglist *sg, const dl_sg_element *el) {
  (void)data, (void)sg, (void)el;
  if (current->n < 16) current->lengths[current->n++] = dl_wdfdma_txn_current_length(t);
  return 1;
}

static const dl_wdfdma_ops dma_ops = {on_program, NULL, NULL, NULL, NULL};

static void kmdf_up(kmdf *k, int profile, uint64_t maxlen) {
  memset(k, 0, sizeof *k);
  k->m = machine(NULL, 0, 64);
  assert_int_equal(dl_device_new(k->m, "pdo", &k->pdo), DL_OK);
  assert_int_equal(dl_wdf_driver_new(k->m, &k->drv), DL_OK);
  assert_int_equal(dl_wdf_device_new(k->m, k->drv, k->pdo, "fdo", &wdf_ops, NULL, &k->d), DL_OK);
  dl_wdfdma_config c = {profile, maxlen, 0, 0, 0, 0};
  assert_int_equal(dl_wdfdma_enabler_create(k->d, &c, &dma_ops, &k->e), DL_STATUS_SUCCESS);
  current = k;
  assert_int_equal(dl_wdf_device_start(k->d, NULL, 0), 0);
}

static void kmdf_down(kmdf *k) {
  dl_wdf_unload(k->m);  /* the device, its enabler and transactions */
  dl_machine_free(k->m);
}

/* 4: each SetMaximumLength is compared with the enabler's fragment length:
** Set(8192) then Set(16384) leaves 16384; a larger one is still ignored. */
static void test_set_maximum_length_twice(void **state) {
  (void)state;
  static const struct { uint64_t first, second, want[4]; } cases[] = {
    {8192, 16384, {16384, 16384, 40000 - 32768, 0}},
    {8192, KiB(1024), {8192, 8192, 8192, 8192}},  /* larger: ignored, 8192 stays */
    {16384, 8192, {8192, 8192, 8192, 8192}},
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    kmdf k;
    kmdf_up(&k, DL_WDFDMA_SCATTER_GATHER64, KiB(64));
    dl_mdl *mdl = buffer_mdl(k.m, 40000, 0, DL_ALLOC_SCATTERED, NULL);
    dl_wdfdma_txn *t;
    assert_int_equal(dl_wdfdma_txn_create(k.e, &t), DL_STATUS_SUCCESS);
    assert_int_equal(dl_wdfdma_txn_initialize(t, DL_WDFDMA_WRITE_TO_DEVICE, mdl,
                                              dl_mdl_virtual_address(mdl), 40000), DL_STATUS_SUCCESS);
    dl_wdfdma_txn_set_maximum_length(t, cases[c].first);
    dl_wdfdma_txn_set_maximum_length(t, cases[c].second);
    assert_int_equal(dl_wdfdma_txn_execute(t), DL_STATUS_SUCCESS);
    uint32_t st;
    dl_machine_set_irql(k.m, DL_DISPATCH_LEVEL);
    for (int i = 0; i < 8 && !dl_wdfdma_txn_completed(t, 0, DL_WDFDMA_COMPLETE, &st); i++) {}
    dl_machine_set_irql(k.m, DL_PASSIVE_LEVEL);
    for (int i = 0; i < 4 && cases[c].want[i]; i++) assert_int_equal(k.lengths[i], cases[c].want[i]);
    assert_int_equal(dl_verifier_count(k.m), 0);
    kmdf_down(&k);
  }
}

/* 5: WdfDmaEnablerGetFragmentLength is 0 for an invalid direction. */
static void test_fragment_length_direction(void **state) {
  (void)state;
  kmdf k;
  kmdf_up(&k, DL_WDFDMA_SCATTER_GATHER64, KiB(64));
  assert_int_equal(dl_wdfdma_enabler_fragment_length(k.e, DL_WDFDMA_READ_FROM_DEVICE), KiB(64));
  assert_int_equal(dl_wdfdma_enabler_fragment_length(k.e, DL_WDFDMA_WRITE_TO_DEVICE), KiB(64));
  assert_int_equal(dl_wdfdma_enabler_fragment_length(k.e, 2), 0);
  assert_int_equal(dl_wdfdma_enabler_fragment_length(k.e, -1), 0);
  kmdf_down(&k);
}

/* KMDF's enabler fills a v3 width from its profile (FxDmaEnabler::Initialize),
** so a version override alone still gets an adapter. */
static void test_kmdf_v3_width(void **state) {
  (void)state;
  dl_machine *m = machine(NULL, 0, 64);
  dl_device *pdo;
  dl_wdf_driver *drv;
  dl_wdf_device *d;
  assert_int_equal(dl_device_new(m, "pdo", &pdo), DL_OK);
  assert_int_equal(dl_wdf_driver_new(m, &drv), DL_OK);
  assert_int_equal(dl_wdf_device_new(m, drv, pdo, "fdo", &wdf_ops, NULL, &d), DL_OK);
  static const struct { int profile; uint64_t ceiling; } cases[] = {
    {DL_WDFDMA_PACKET, 0xFFFFFFFF}, {DL_WDFDMA_SCATTER_GATHER64, UINT64_MAX},
  };
  for (size_t i = 0; i < 2; i++) {
    dl_wdfdma_config c = {cases[i].profile, KiB(64), 3, 0, 0, 0};
    dl_wdfdma_enabler *e;
    assert_int_equal(dl_wdfdma_enabler_create(d, &c, &dma_ops, &e), DL_STATUS_SUCCESS);
    dl_adapter *a = dl_wdfdma_enabler_adapter(e, 0);
    assert_int_equal(dl_adapter_description(a)->version, 3);
    assert_true(dl_adapter_ceiling(a) == cases[i].ceiling);
    assert_int_equal(dl_wdf_object_delete(DL_WDF(e)), DL_OK);
  }
  dl_wdf_unload(m);
  dl_machine_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_invalid_descriptions),
    cmocka_unit_test(test_no_map_registers),
    cmocka_unit_test(test_machine_option_ranges),
    cmocka_unit_test(test_map_registers_are_ram),
    cmocka_unit_test(test_alloc_contiguous_top),
    cmocka_unit_test(test_calculate_too_small),
    cmocka_unit_test(test_split_alignment),
    cmocka_unit_test(test_maptransfer_message),
    cmocka_unit_test(test_set_maximum_length_twice),
    cmocka_unit_test(test_fragment_length_direction),
    cmocka_unit_test(test_kmdf_v3_width),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
