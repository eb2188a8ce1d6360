/*
** test_iommu.c: DMA remapping through the translation seam (dl_xlate.h,
** dl_iommu.h): domain isolation between devices, permission faults (with
** their record and report 0xE6/0x26), strict and deferred invalidation,
** the IOTLB (size, misses, stall), the HAL mapping high memory for a 32-bit
** device without bouncing and unmapping at flush, common buffers as IOVA
** ranges, and the DMA v3 domain operations.
*/
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "rig.h"
#include "machine/dl_dmamap.h"
#include "machine/dl_iommu.h"
#include "machine/dl_xlate.h"
#include "machine/dl_trace.h"

static rig r_;

static int open_with(void **state, int deferred, uint32_t iotlb, uint32_t batch) {
  dl_machine_config cfg;
  dl_machine_config_init(&cfg);
  cfg.platform.iommu = 1;
  cfg.platform.iommu_deferred = deferred;
  cfg.platform.iotlb_entries = iotlb;
  cfg.platform.iommu_flush_batch = batch;
  if (rig_open(&r_, &cfg)) return -1;
  *state = &r_;
  return 0;
}

static int setup(void **state) { return open_with(state, 0, 64, 32); }
static int setup_deferred(void **state) { return open_with(state, 1, 64, 4); }
static int setup_small_tlb(void **state) { return open_with(state, 0, 2, 32); }

static int teardown(void **state) {
  rig_close(*state);
  return 0;
}

static dl_iommu_stats stats(rig *r) {
  dl_iommu_stats st;
  dl_iommu_get_stats(dl_iommu_of(r->m), &st);
  return st;
}

/* Maps n pages at pfn for dev with perm; returns the IOVA. */
static uint64_t map_pages(rig *r, uint64_t dev, uint64_t pfn, uint32_t n, int perm, uint32_t *h) {
  uint64_t iova;
  assert_int_equal(dl_xlate_map(r->m, dev, pfn * PS, NULL, (uint64_t)n * PS, perm, UINT64_MAX,
                                &iova, h), DL_OK);
  return iova;
}

static void test_domains_isolate_devices(void **state) {
  rig *r = *state;
  dl_device *other = rig_device(r, "dev1");
  uint64_t pfn = rig_pages_at(r, 1, GiB4), before = rig_reports(r);
  uint8_t byte = 0x5A, got = 0;
  uint32_t h;
  assert_int_equal(dl_physmem_write(dl_machine_physmem(r->m), pfn * PS, &byte, 1), DL_OK);
  uint64_t iova = map_pages(r, r->dev->id, pfn, 1, DL_XLATE_RW, &h);
  assert_true(iova != pfn * PS);  /* an IOVA, not the physical address */
  assert_int_equal(dl_xlate_read(r->m, r->dev->id, "dev0", iova, &got, 1), DL_OK);
  assert_int_equal(got, 0x5A);
  /* the other device has its own domain: the same IOVA means nothing there */
  uint64_t ignore;
  map_pages(r, other->id, rig_pages_at(r, 1, 0), 1, DL_XLATE_RW, &h);
  assert_int_not_equal(dl_iommu_domain_of(dl_iommu_of(r->m), other->id),
                       dl_iommu_domain_of(dl_iommu_of(r->m), r->dev->id));
  (void)ignore;
  got = 0;
  uint64_t iova_other = iova + 64 * PS;  /* beyond what dev1 mapped */
  assert_int_equal(dl_xlate_read(r->m, other->id, "dev1", iova_other, &got, 1), DL_ENOTMAPPED);
  rig_expect(r, before, DL_VF_IOMMU_FAULT);
  /* a device of no known id has no domain at all */
  assert_int_equal(dl_dma_read(r->m, "nobody", iova, &got, 1), DL_ENOTMAPPED);
  rig_expect(r, before + 1, DL_VF_IOMMU_FAULT);
  const dl_iommu_fault *f = dl_iommu_fault_at(dl_iommu_of(r->m), 0);
  assert_int_equal(f->dev, other->id);
  assert_int_equal(f->iova, iova_other);
  assert_int_equal(f->access, DL_XLATE_READ);
  assert_int_equal(f->reason, DL_IOMMU_NOT_MAPPED);
  assert_int_equal(stats(r).faults, 2);
}

static void test_permission_faults_block_the_access(void **state) {
  rig *r = *state;
  uint64_t pfn = rig_pages_at(r, 1, 0), before = rig_reports(r);
  uint8_t byte = 0x11, now = 0x22;
  uint32_t h;
  dl_physmem_write(dl_machine_physmem(r->m), pfn * PS, &byte, 1);
  uint64_t iova = map_pages(r, r->dev->id, pfn, 1, DL_XLATE_READ, &h);  /* a transfer to the device */
  assert_int_equal(dl_xlate_write(r->m, r->dev->id, "dev0", iova, &now, 1), DL_ENOTMAPPED);
  const dl_report *rep = rig_expect(r, before, DL_VF_IOMMU_FAULT);
  assert_int_equal(rep->p2, r->dev->id);
  assert_int_equal(rep->p3, iova);
  dl_physmem_read(dl_machine_physmem(r->m), pfn * PS, &now, 1);
  assert_int_equal(now, 0x11);  /* blocked: memory unchanged */
  assert_int_equal(dl_iommu_fault_at(dl_iommu_of(r->m), 0)->reason, DL_IOMMU_NO_PERMISSION);
  assert_int_equal(dl_iommu_fault_at(dl_iommu_of(r->m), 0)->access, DL_XLATE_WRITE);
  assert_int_equal(dl_xlate_read(r->m, r->dev->id, "dev0", iova, &now, 1), DL_OK);
}

static void test_strict_invalidation_faults_at_once(void **state) {
  rig *r = *state;
  uint64_t pfn = rig_pages_at(r, 2, 0), before = rig_reports(r);
  uint8_t b[2];
  uint32_t h;
  uint64_t iova = map_pages(r, r->dev->id, pfn, 2, DL_XLATE_RW, &h);
  assert_int_equal(dl_xlate_read(r->m, r->dev->id, "dev0", iova, b, 2), DL_OK);  /* IOTLB filled */
  dl_xlate_unmap(r->m, r->dev->id, h);
  assert_int_equal(stats(r).invalidations, 1);
  assert_int_equal(dl_xlate_read(r->m, r->dev->id, "dev0", iova, b, 2), DL_ENOTMAPPED);
  rig_expect(r, before, DL_VF_IOMMU_FAULT);
  /* the IOVA can be handed out again */
  uint64_t again = map_pages(r, r->dev->id, pfn, 2, DL_XLATE_RW, &h);
  assert_true(again != 0);
}

static void test_deferred_invalidation_is_batched(void **state) {
  rig *r = *state;  /* flush_batch 4 */
  uint64_t pfn = rig_pages_at(r, 4, 0), before = rig_reports(r);
  uint8_t b;
  uint32_t h[4];
  uint64_t iova[4];
  for (int i = 0; i < 4; i++) iova[i] = map_pages(r, r->dev->id, pfn + i, 1, DL_XLATE_RW, &h[i]);
  assert_int_equal(dl_xlate_read(r->m, r->dev->id, "dev0", iova[0], &b, 1), DL_OK);
  dl_xlate_unmap(r->m, r->dev->id, h[0]);
  /* the stale IOTLB entry still translates until the batch is flushed */
  assert_int_equal(dl_xlate_read(r->m, r->dev->id, "dev0", iova[0], &b, 1), DL_OK);
  assert_int_equal(stats(r).invalidations, 0);
  assert_int_equal(stats(r).pending_unmaps, 1);
  /* and its IOVA is not reused meanwhile */
  uint32_t h5;
  uint64_t fresh = map_pages(r, r->dev->id, pfn, 1, DL_XLATE_RW, &h5);
  assert_true(fresh != iova[0]);
  rig_expect_none(r, before);
  for (int i = 1; i < 4; i++) dl_xlate_unmap(r->m, r->dev->id, h[i]);
  assert_int_equal(stats(r).invalidations, 1);  /* one flush for four unmaps */
  assert_int_equal(stats(r).pending_unmaps, 0);
  assert_int_equal(dl_xlate_read(r->m, r->dev->id, "dev0", iova[0], &b, 1), DL_ENOTMAPPED);
  rig_expect(r, before, DL_VF_IOMMU_FAULT);
}

static void test_iotlb_size_misses_and_stall(void **state) {
  rig *r = *state;  /* 2 entries, 500 ns a miss */
  uint64_t pfn = rig_pages_at(r, 3, 0);
  uint32_t h;
  uint8_t b;
  uint64_t iova = map_pages(r, r->dev->id, pfn, 3, DL_XLATE_RW, &h);
  for (int round = 0; round < 2; round++)
    for (int p = 0; p < 3; p++) dl_xlate_read(r->m, r->dev->id, "dev0", iova + p * PS, &b, 1);
  /* three pages through two entries, least recently used out: every lookup misses */
  assert_int_equal(stats(r).iotlb_misses, 6);
  assert_int_equal(stats(r).iotlb_hits, 0);
  dl_xlate_read(r->m, r->dev->id, "dev0", iova + 2 * PS, &b, 1);
  assert_int_equal(stats(r).iotlb_hits, 1);
  assert_int_equal(stats(r).stall_ns, 6 * 500);
  assert_int_equal(dl_xlate_take_stall(r->m, r->dev->id), 6 * 500);
  assert_int_equal(dl_xlate_take_stall(r->m, r->dev->id), 0);
}

static int keep_registers(void *ctx, dl_device *dev, uint64_t base) {
  (void)dev;
  *(uint64_t *)ctx = base;
  return DL_DEALLOCATE_OBJECT_KEEP_REGISTERS;
}

/* A 32-bit packet master and a buffer above 4 GiB in two separate runs:
** the IOMMU maps the pages themselves at one IOVA range below 4 GiB, so
** nothing bounces; FlushAdapterBuffers unmaps it. */
static void test_hal_maps_high_memory_without_bouncing(void **state) {
  rig *r = *state;
  uint64_t p1 = rig_pages_at(r, 1, GiB4);
  rig_pages_at(r, 1, GiB4);  /* a hole */
  uint64_t p2 = rig_pages_at(r, 1, GiB4), pfns[2] = {p1, p2}, before = rig_reports(r);
  dl_region *reg = rig_map(r, pfns, 0x100, 2 * PS - 0x100);
  dl_mdl *mdl = rig_mdl(r, reg);
  rig_pattern(r, reg->va, reg->length, 9);
  uint32_t nmr;
  dl_adapter *a = rig_adapter(r, rig_desc(0, 1, 0, 2 * PS), &nmr);
  uint64_t base = 0, logical;
  dl_machine_set_irql(r->m, DL_DISPATCH_LEVEL);
  assert_int_equal(dl_adapter_allocate_channel(a, r->dev, 3, keep_registers, &base), DL_STATUS_SUCCESS);
  uint32_t len = (uint32_t)reg->length;
  assert_int_equal(dl_adapter_map_transfer(a, mdl, base, reg->va, &len, 1, &logical), DL_OK);
  assert_int_equal(len, reg->length);
  assert_true(logical + len <= GiB4);
  assert_int_equal(logical % PS, 0x100);
  assert_int_equal(dl_adapter_get_stats(a)->bytes_bounced, 0);
  uint8_t got[2 * PS], want[2 * PS];
  assert_int_equal(dl_xlate_read(r->m, r->dev->id, "dev0", logical, got, len), DL_OK);
  dl_machine_read_va(r->m, reg->va, want, len);
  assert_memory_equal(got, want, len);
  assert_int_equal(dl_xlate_write(r->m, r->dev->id, "dev0", logical, got, 1), DL_ENOTMAPPED);
  rig_expect(r, before, DL_VF_IOMMU_FAULT);  /* to the device: read-only for it */
  assert_int_equal(dl_adapter_flush(a, mdl, base, reg->va, len, 1), 1);
  assert_int_equal(dl_xlate_read(r->m, r->dev->id, "dev0", logical, got, 1), DL_ENOTMAPPED);
  assert_int_equal(stats(r).unmaps, 1);
  assert_int_equal(dl_adapter_free_map_registers(a, base, 3), DL_OK);
  dl_machine_set_irql(r->m, DL_PASSIVE_LEVEL);
  dl_adapter_put(a);
}

static void test_common_buffer_is_an_iova_range(void **state) {
  rig *r = *state;
  dl_adapter *a = rig_adapter(r, rig_desc(1, 0, 1, 64 * 1024), NULL);
  uint64_t va, logical, before = rig_reports(r);
  assert_int_equal(dl_adapter_alloc_common(a, 2 * PS, 0, &va, &logical), DL_OK);
  uint8_t in[4] = {1, 2, 3, 4}, out[4];
  assert_int_equal(dl_xlate_write(r->m, r->dev->id, "dev0", logical + PS, in, 4), DL_OK);
  assert_int_equal(dl_machine_read_va(r->m, va + PS, out, 4), DL_OK);
  assert_memory_equal(in, out, 4);
  dl_adapter_free_common(a, 2 * PS, logical, va, 0);
  assert_int_equal(dl_xlate_read(r->m, r->dev->id, "dev0", logical, out, 1), DL_ENOTMAPPED);
  rig_expect(r, before, DL_VF_IOMMU_FAULT);
  dl_adapter_put(a);
}

static void test_v3_domain_operations(void **state) {
  rig *r = *state;
  dl_iommu *io = dl_iommu_of(r->m);
  uint64_t d, none, pfn = rig_pages_at(r, 2, 0), pfns[2] = {pfn, pfn + 1};
  uint8_t b = 0;
  assert_int_equal(dl_iommu_create_domain(io, DL_DOMAIN_TYPE_PASSTHROUGH, &none),
                   DL_STATUS_NOT_SUPPORTED);
  assert_int_equal(dl_iommu_create_domain(io, DL_DOMAIN_TYPE_TRANSLATE, &d), DL_STATUS_SUCCESS);
  assert_int_equal(dl_iommu_attach_device(io, d, r->dev->id), DL_STATUS_SUCCESS);
  assert_int_equal(dl_iommu_attach_device(io, d, r->dev->id), DL_STATUS_INVALID_PARAMETER);
  assert_int_equal(dl_iommu_domain_of(io, r->dev->id), d);
  assert_int_equal(dl_iommu_map_identity(io, d, DL_XLATE_READ, pfns, 2), DL_STATUS_SUCCESS);
  assert_int_equal(dl_xlate_read(r->m, r->dev->id, "dev0", pfn * PS + PS + 7, &b, 1), DL_OK);
  assert_int_equal(dl_iommu_delete_domain(io, d), DL_STATUS_INVALID_DEVICE_STATE);
  assert_int_equal(dl_iommu_unmap_identity(io, d, pfns, 2), DL_STATUS_SUCCESS);
  uint64_t before = rig_reports(r);
  assert_int_equal(dl_xlate_read(r->m, r->dev->id, "dev0", pfn * PS, &b, 1), DL_ENOTMAPPED);
  rig_expect(r, before, DL_VF_IOMMU_FAULT);
  assert_int_equal(dl_iommu_detach_device(io, r->dev->id), DL_STATUS_SUCCESS);
  assert_int_equal(dl_iommu_detach_device(io, r->dev->id), DL_STATUS_INVALID_PARAMETER);
  assert_int_equal(dl_iommu_delete_domain(io, d), DL_STATUS_SUCCESS);
  assert_int_equal(dl_iommu_flush_domain(io, d), DL_STATUS_INVALID_PARAMETER);
}

/* Without the IOMMU the seam is the identity: logical = physical. */
static void test_identity_is_the_default(void **state) {
  (void)state;
  rig r;
  assert_int_equal(rig_open(&r, NULL), 0);
  assert_string_equal(dl_xlate_name(r.m), "identity");
  assert_null(dl_iommu_of(r.m));
  uint64_t pfn = rig_pages_at(&r, 1, 0), addr;
  uint32_t h;
  assert_int_equal(dl_xlate_map(r.m, r.dev->id, pfn * PS + 5, NULL, 10, DL_XLATE_READ, UINT64_MAX,
                                &addr, &h), DL_OK);
  assert_int_equal(addr, pfn * PS + 5);
  dl_xlate_unmap(r.m, r.dev->id, h);
  rig_close(&r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_domains_isolate_devices, setup, teardown),
    cmocka_unit_test_setup_teardown(test_permission_faults_block_the_access, setup, teardown),
    cmocka_unit_test_setup_teardown(test_strict_invalidation_faults_at_once, setup, teardown),
    cmocka_unit_test_setup_teardown(test_deferred_invalidation_is_batched, setup_deferred, teardown),
    cmocka_unit_test_setup_teardown(test_iotlb_size_misses_and_stall, setup_small_tlb, teardown),
    cmocka_unit_test_setup_teardown(test_hal_maps_high_memory_without_bouncing, setup, teardown),
    cmocka_unit_test_setup_teardown(test_common_buffer_is_an_iova_range, setup, teardown),
    cmocka_unit_test_setup_teardown(test_v3_domain_operations, setup, teardown),
    cmocka_unit_test(test_identity_is_the_default),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
