/*
** test_allocfail.c: allocation failure (issue 16 item 6). A representative
** scenario -- machine, device, adapter, buffer, MDL, AllocateAdapterChannel
** with MapTransfer and FlushAdapterBuffers, an S/G list, a common buffer, a
** WDF device, DMA enabler and transaction executed to the end -- is run
** once to count its allocations, then again failing each one in turn
** (base/dl_alloc.h). Every run must end without a crash with a clear
** failure status from the step that could not allocate (or succeed, where
** the engine copes), free everything with the machine (no leak: ASan's
** leak checker under `make test-asan`), and leave the engine usable: the
** whole scenario succeeds right after.
*/
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "rig.h"
#include "base/dl_alloc.h"
#include "base/dl_ntstatus.h"
#include "wdf/dl_wdf.h"
#include "wdf/dl_wdfdma.h"
#include "wdf/dl_wdfobject.h"

#undef malloc  /* the test's own memory is not counted */
#undef calloc
#undef realloc

/* Where a run stopped: the step and the status it returned. */
typedef struct outcome {
  int step;       /* 0: finished */
  uint32_t status;
} outcome;

static int keep(void *ctx, dl_device *dev, uint64_t base) {
  (void)dev;
  *(uint64_t *)ctx = base;
  return DL_DEALLOCATE_OBJECT_KEEP_REGISTERS;
}

static void list_control(void *ctx, dl_device *dev, dl_sglist *sg) {
  (void)dev;
  *(dl_sglist **)ctx = sg;
}

static uint32_t no_event(void *ctx, dl_wdf_device *d, dl_wdf_event ev, uint32_t st) {
  (void)ctx, (void)d, (void)ev, (void)st;
  return 0;
}

static const dl_wdf_ops wdf_ops = {.event = no_event};

static int programs;

static int on_program(void *data, dl_wdfdma_txn *t, dl_sglist *sg, const dl_sg_element *el) {
  (void)data, (void)t, (void)sg, (void)el;
  programs++;
  return 1;
}

static const dl_wdfdma_ops dma_ops = {.program = on_program};

#define STEP(n, expr)                                                          \
  do {                                                                         \
    uint32_t st_ = (uint32_t)(expr);                                           \
    if (st_) return (outcome){n, st_};                                         \
  } while (0)

/* The WDM half on machine m (device dev): nonzero step on failure. */
static outcome wdm_half(dl_machine *m, dl_device *dev) {
  dl_device_description d = rig_desc(0, 1, 0, 64 * 1024);
  dl_adapter *a = NULL, *sg = NULL;
  uint32_t nmr = 0;
  STEP(10, dl_adapter_get(m, dev, &d, &a, &nmr));
  dl_region *b = NULL;
  STEP(11, dl_buffer_new(m, 3 * PS, 0x10, DL_ALLOC_SCATTERED, DL_REGION_NONPAGED, &b));
  dl_mdl *mdl = NULL;
  STEP(12, dl_mdl_allocate(m, b->va, b->length, &mdl));
  STEP(13, dl_mdl_build_for_nonpaged_pool(mdl));
  uint64_t base = 0, logical = 0;
  dl_machine_set_irql(m, DL_DISPATCH_LEVEL);
  STEP(14, dl_adapter_allocate_channel(a, dev, 4, keep, &base));
  if (!base) return (outcome){15, DL_STATUS_INSUFFICIENT_RESOURCES};  /* the grant failed */
  uint32_t len = (uint32_t)b->length;
  STEP(16, dl_adapter_map_transfer(a, mdl, base, b->va, &len, 1, &logical));
  if (!dl_adapter_flush(a, mdl, base, b->va, len, 1)) return (outcome){17, DL_EINVAL};
  STEP(18, dl_adapter_free_map_registers(a, base, 4));
  dl_device_description ds = rig_desc(1, 0, 1, 64 * 1024);
  dl_machine_set_irql(m, DL_PASSIVE_LEVEL);
  STEP(19, dl_adapter_get(m, dev, &ds, &sg, &nmr));
  dl_sglist *list = NULL;
  dl_machine_set_irql(m, DL_DISPATCH_LEVEL);
  STEP(20, dl_adapter_get_sglist(sg, dev, mdl, b->va, (uint32_t)b->length, list_control, &list, 1, 0));
  if (!list) return (outcome){21, DL_STATUS_INSUFFICIENT_RESOURCES};
  dl_adapter_put_sglist(sg, list, dl_sglist_id(list), 1);
  dl_machine_set_irql(m, DL_PASSIVE_LEVEL);
  uint64_t va = 0;
  STEP(22, dl_adapter_alloc_common(a, 2 * PS, 1, &va, &logical));
  dl_adapter_free_common(a, 2 * PS, logical, va, 1);
  STEP(23, dl_mdl_free(mdl));
  STEP(24, dl_buffer_free(m, b));
  dl_adapter_put(sg);
  dl_adapter_put(a);
  return (outcome){0, 0};
}

/* The KMDF half: a driver, device, enabler and a transaction run to the end. */
static outcome wdf_half(dl_machine *m, dl_device *pdo) {
  dl_wdf_driver *drv = NULL;
  dl_wdf_device *d = NULL;
  STEP(30, dl_wdf_driver_new(m, &drv));
  STEP(31, dl_wdf_device_new(m, drv, pdo, "fdo", &wdf_ops, NULL, &d));
  dl_wdfdma_config c = {DL_WDFDMA_SCATTER_GATHER64, 64 * 1024, 3, 0, 0, 0};
  dl_wdfdma_enabler *e = NULL;
  STEP(32, dl_wdfdma_enabler_create(d, &c, &dma_ops, &e));
  STEP(33, dl_wdf_device_start(d, NULL, 0));
  dl_wdfdma_txn *t = NULL;
  STEP(34, dl_wdfdma_txn_create(e, &t));
  dl_region *b = NULL;
  dl_mdl *mdl = NULL;
  STEP(35, dl_buffer_new(m, 5 * PS, 0, DL_ALLOC_SCATTERED, DL_REGION_NONPAGED, &b));
  STEP(36, dl_mdl_allocate(m, b->va, b->length, &mdl));
  STEP(37, dl_mdl_build_for_nonpaged_pool(mdl));
  STEP(38, dl_wdfdma_txn_initialize(t, DL_WDFDMA_WRITE_TO_DEVICE, mdl, b->va, b->length));
  programs = 0;
  STEP(39, dl_wdfdma_txn_execute(t));
  if (programs != 1) return (outcome){40, DL_STATUS_INSUFFICIENT_RESOURCES};
  uint32_t st = 0;
  if (!dl_wdfdma_txn_completed(t, 0, DL_WDFDMA_COMPLETE, &st)) return (outcome){41, DL_EINVAL};
  STEP(42, st);
  STEP(43, dl_wdfdma_txn_release(t));
  STEP(44, dl_mdl_free(mdl));
  return (outcome){0, 0};
}

/* The whole scenario on a fresh machine; the machine is freed whatever
** happened (dl_wdf_unload, then dl_machine_free), as a script's would be. */
static outcome scenario(void) {
  dl_machine_config cfg;
  dl_machine_config_init(&cfg);
  cfg.ram[0].base = 0;
  cfg.ram[0].size = UINT64_C(8) << 30;
  dl_machine *m = NULL;
  uint32_t st = (uint32_t)dl_machine_new(&cfg, &m);
  if (st) return (outcome){1, st};
  dl_device *dev = NULL, *pdo = NULL;
  outcome o = {0, 0};
  if ((st = (uint32_t)dl_device_new(m, "dev0", &dev))) o = (outcome){2, st};
  if (!o.step && (st = (uint32_t)dl_device_new(m, "pdo", &pdo))) o = (outcome){3, st};
  if (!o.step) o = wdm_half(m, dev);
  if (!o.step) o = wdf_half(m, pdo);
  dl_machine_set_irql(m, DL_PASSIVE_LEVEL);
  dl_wdf_unload(m);
  dl_machine_free(m);
  return o;
}

static void test_every_allocation_failing_in_turn(void **state) {
  (void)state;
  uint64_t before = dl_alloc_count();
  outcome clean = scenario();
  assert_int_equal(clean.step, 0);
  uint64_t sites = dl_alloc_count() - before;
  assert_true(sites > 50);
  uint64_t failed = 0, coped = 0;
  for (uint64_t n = 1; n <= sites; n++) {
    uint64_t failures = dl_alloc_failures();
    dl_alloc_fail_after(n);
    outcome o = scenario();
    dl_alloc_fail_after(0);
    assert_int_equal(dl_alloc_failures(), failures + 1);  /* the n-th allocation did fail */
    if (o.step) {
      failed++;
      /* a clear status: out of memory, in the engine's or Windows' words */
      if (o.status != DL_ENOMEM && o.status != DL_STATUS_INSUFFICIENT_RESOURCES &&
          o.status != DL_STATUS_NO_MEMORY)
        fail_msg("allocation %llu: step %d failed with status 0x%x, not out of memory",
                 (unsigned long long)n, o.step, (unsigned)o.status);
    } else {
      coped++;  /* the engine went on without that allocation (a cache, a pool to grow) */
    }
    outcome again = scenario();  /* the engine is still usable */
    assert_int_equal(again.step, 0);
  }
  printf("# allocation sites failed in turn: %llu (%llu failed a step cleanly, %llu coped)\n",
         (unsigned long long)sites, (unsigned long long)failed, (unsigned long long)coped);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_every_allocation_failing_in_turn),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
