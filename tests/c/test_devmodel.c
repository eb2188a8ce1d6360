/*
** test_devmodel.c: device models of core/devices without Lua: several
** memory BARs and I/O-port ranges (placement, which range an access
** reaches, accesses across a range's end), interrupts driven by index, the
** configuration's limits, the CM resource list a model yields, and what
** IoConnectInterruptEx connects for a PDO.
*/
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "devices/dl_cmres.h"
#include "devices/dl_devmodel.h"
#include "devices/dl_intconnect.h"
#include "devices/dl_ioport.h"
#include "kernel/dl_interrupt.h"
#include "machine/dl_machine.h"
#include "base/dl_status.h"

/* The last access a model saw. */
typedef struct seen {
  int n;
  dl_space space;
  unsigned index;
  uint64_t offset, value;
  uint32_t size;
} seen;

static uint64_t on_read(void *ctx, dl_space space, unsigned index, uint64_t offset, uint32_t size) {
  seen *s = ctx;
  *s = (seen){s->n + 1, space, index, offset, 0, size};
  return 0x1122334455667788u + index;
}

static void on_write(void *ctx, dl_space space, unsigned index, uint64_t offset, uint32_t size,
                     uint64_t value) {
  seen *s = ctx;
  *s = (seen){s->n + 1, space, index, offset, value, size};
}

static const dl_devmodel_ops ops = {on_read, on_write, NULL};

static dl_machine *machine(void) {
  dl_machine_config cfg;
  dl_machine_config_init(&cfg);
  dl_machine *m;
  assert_int_equal(DL_OK, dl_machine_new(&cfg, &m));
  return m;
}

/* Three BARs, two port ranges, two interrupts. */
static dl_devmodel_config nic(void) {
  dl_devmodel_config cfg;
  dl_devmodel_config_init(&cfg);
  cfg.bar_size[0] = 0x20000;
  cfg.bar_size[1] = 100;  /* rounded up to a page */
  cfg.bar_size[2] = 0x4000;
  cfg.prefetchable[2] = 1;
  cfg.nbars = 3;
  cfg.port_size[0] = 0x20;
  cfg.port_size[1] = 3;   /* aligned to 4 */
  cfg.nports = 2;
  cfg.irq[0] = (dl_devmodel_irq){40, 7, 0, 0};
  cfg.irq[1] = (dl_devmodel_irq){41, 8, 0, 1};
  cfg.nirqs = 2;
  return cfg;
}

/* BARs lie above 4 GiB, page-rounded, one after another and after another
** model's; each access reaches the handler with its BAR and offset. */
static void test_bars(void **state) {
  (void)state;
  dl_machine *m = machine();
  seen s = {0};
  dl_devmodel *one, *dm;
  assert_int_equal(DL_OK, dl_devmodel_new(m, "one", 0x1000, 16, 5, &ops, &s, &one));
  dl_devmodel_config cfg = nic();
  assert_int_equal(DL_OK, dl_devmodel_new_config(m, "nic", &cfg, &ops, &s, &dm));
  assert_int_equal(3, (int)dm->nbars);
  assert_true(one->bar >= (UINT64_C(1) << 32));
  assert_int_equal(one->bar + 0x1000, dm->bars[0].start);
  assert_int_equal(0x1000, dm->bars[1].size);
  assert_int_equal(dm->bars[1].start + 0x1000, dm->bars[2].start);
  assert_int_equal(dm->bars[0].start, dm->bar);  /* BAR 0 as the single-BAR fields */
  uint64_t va, v;
  assert_int_equal(DL_OK, dl_mmio_map(m, dm->bars[2].start, 0x4000, &va));
  assert_int_equal(DL_OK, dl_mmio_write(m, va + 0x10, 4, 0xfeedbeefcafe));
  assert_int_equal(DL_SPACE_MEMORY, s.space);
  assert_int_equal(2, s.index);
  assert_int_equal(0x10, s.offset);
  assert_int_equal(0xbeefcafe, s.value);  /* cut to the access size */
  assert_int_equal(DL_OK, dl_mmio_read(m, va + 0x3ffe, 2, &v));
  assert_int_equal(0x778a, v);            /* index 2 added, cut to 2 bytes */
  assert_int_equal(0x3ffe, s.offset);
  assert_int_equal(DL_OK, dl_mmio_map(m, dm->bars[1].start + 0x800, 0x10, &va));
  assert_int_equal(DL_OK, dl_mmio_read(m, va, 4, &v));
  assert_int_equal(1, s.index);
  assert_int_equal(0x800, s.offset);
  /* a mapping may not span two BARs, even adjacent ones */
  assert_int_equal(DL_ENOTMAPPED, dl_mmio_map(m, dm->bars[1].start + 0xff0, 0x20, &va));
  assert_int_equal(DL_OK, dl_mmio_map(m, one->bar, 0x1000, &va));
  assert_int_equal(DL_OK, dl_mmio_read(m, va + 8, 4, &v));
  assert_int_equal(0, s.index);
  dl_machine_free(m);
}

/* Port ranges start at 0x1000, aligned to their size rounded up to a power
** of 2; an access reaches its range's handler; one crossing the end of a
** range, at no range or of 8 bytes is refused. */
static void test_ports(void **state) {
  (void)state;
  dl_machine *m = machine();
  seen s = {0};
  dl_devmodel *dm, *two;
  dl_devmodel_config cfg = nic();
  assert_int_equal(DL_OK, dl_devmodel_new_config(m, "nic", &cfg, &ops, &s, &dm));
  assert_int_equal(0x1000, dm->ports[0].start);
  assert_int_equal(0x1020, dm->ports[1].start);
  assert_int_equal(3, dm->ports[1].size);
  dl_devmodel_config_init(&cfg);
  cfg.port_size[0] = 0x100;
  cfg.nports = 1;
  assert_int_equal(DL_OK, dl_devmodel_new_config(m, "serial", &cfg, &ops, &s, &two));
  assert_int_equal(0, (int)two->nbars);  /* ports only */
  assert_int_equal(0, (int)two->nirqs);
  assert_int_equal(0x1100, two->ports[0].start);
  uint64_t v;
  assert_int_equal(DL_OK, dl_port_write(m, 0x1021, 2, 0x12345));
  assert_int_equal(DL_SPACE_PORT, s.space);
  assert_int_equal(1, s.index);
  assert_int_equal(1, s.offset);
  assert_int_equal(0x2345, s.value);
  assert_int_equal(DL_OK, dl_port_read(m, 0x1104, 1, &v));
  assert_int_equal(0x88, v);
  assert_int_equal(0, s.index);
  assert_int_equal(4, s.offset);
  int n = s.n;
  assert_int_equal(DL_ENOTMAPPED, dl_port_read(m, 0x1022, 2, &v));   /* past the end of 3 bytes */
  assert_int_equal(DL_ENOTMAPPED, dl_port_read(m, 0x0cf8, 4, &v));   /* nobody's */
  assert_int_equal(DL_EINVAL, dl_port_write(m, 0x1000, 8, 0));
  assert_int_equal(n, s.n);  /* no handler ran */
  dl_machine_free(m);
}

/* Counts, sizes, vectors and IRQLs out of range are refused; the port
** space fills up (64 KiB from 0x1000 in 256-byte ranges: 240). */
static void test_limits(void **state) {
  (void)state;
  dl_machine *m = machine();
  dl_devmodel *dm;
  dl_devmodel_config cfg = nic();
  cfg.nbars = 7;
  assert_int_equal(DL_EINVAL, dl_devmodel_new_config(m, "x", &cfg, &ops, NULL, &dm));
  cfg = nic();
  cfg.port_size[1] = 257;
  assert_int_equal(DL_EINVAL, dl_devmodel_new_config(m, "x", &cfg, &ops, NULL, &dm));
  cfg = nic();
  cfg.irq[1].irql = 2;
  assert_int_equal(DL_EINVAL, dl_devmodel_new_config(m, "x", &cfg, &ops, NULL, &dm));
  cfg = nic();
  cfg.irq[0].vector = 256;
  assert_int_equal(DL_EINVAL, dl_devmodel_new_config(m, "x", &cfg, &ops, NULL, &dm));
  cfg = nic();
  cfg.bar_size[1] = 0;
  assert_int_equal(DL_EINVAL, dl_devmodel_new_config(m, "x", &cfg, &ops, NULL, &dm));
  dl_devmodel_config_init(&cfg);
  cfg.nports = 6;
  for (int i = 0; i < 6; i++) cfg.port_size[i] = 256;
  int made = 0;
  while (dl_devmodel_new_config(m, "p", &cfg, &ops, NULL, &dm) == DL_OK) made++;
  assert_int_equal(40, made);
  assert_int_equal(DL_ENOSPACE, dl_devmodel_new_config(m, "p", &cfg, &ops, NULL, &dm));
  dl_machine_free(m);
}

/* The descriptors: memory BARs (prefetchable flagged), ports (I/O), then
** interrupts (a line level-sensitive and shared, a message latched and
** exclusive); a short array gets what fits and the whole count. */
static void test_resources(void **state) {
  (void)state;
  dl_machine *m = machine();
  dl_devmodel *dm;
  dl_devmodel_config cfg = nic();
  assert_int_equal(DL_OK, dl_devmodel_new_config(m, "nic", &cfg, &ops, NULL, &dm));
  dl_cm_descriptor d[8];
  assert_int_equal(7, (int)dl_devmodel_resources(dm, d, 8));
  static const uint8_t types[] = {DL_CM_MEMORY, DL_CM_MEMORY, DL_CM_MEMORY, DL_CM_PORT, DL_CM_PORT,
                                  DL_CM_INTERRUPT, DL_CM_INTERRUPT};
  for (int i = 0; i < 7; i++) assert_int_equal(types[i], d[i].type);
  assert_int_equal(dm->bars[1].start, d[1].start);
  assert_int_equal(0x1000, d[1].length);
  assert_int_equal(DL_CM_MEMORY_READ_WRITE, d[0].flags);
  assert_int_equal(DL_CM_MEMORY_PREFETCHABLE, d[2].flags);
  assert_int_equal(DL_CM_SHARE_DEVICE_EXCLUSIVE, d[2].share);
  assert_int_equal(0x1020, d[4].start);
  assert_int_equal(3, d[4].length);
  assert_true(d[3].flags & DL_CM_PORT_IO);
  assert_int_equal(40, d[5].vector);
  assert_int_equal(7, d[5].level);
  assert_int_equal(DL_CM_INTERRUPT_LEVEL_SENSITIVE, d[5].flags);
  assert_int_equal(DL_CM_SHARE_SHARED, d[5].share);
  assert_int_equal(DL_CM_INTERRUPT_LATCHED | DL_CM_INTERRUPT_MESSAGE, d[6].flags);
  assert_int_equal(DL_CM_SHARE_DEVICE_EXCLUSIVE, d[6].share);
  assert_int_equal(1, d[6].message_count);
  assert_int_equal(1, dm->irqs[1].latched);  /* a message is an edge */
  dl_cm_descriptor few[2] = {0};
  assert_int_equal(7, (int)dl_devmodel_resources(dm, few, 2));
  assert_int_equal(dm->bars[1].start, few[1].start);
  dl_machine_free(m);
}

/* Each interrupt drives its own line; an index past the last is refused. */
static void test_lines(void **state) {
  (void)state;
  dl_machine *m = machine();
  dl_devmodel *dm;
  dl_devmodel_config cfg = nic();
  assert_int_equal(DL_OK, dl_devmodel_new_config(m, "nic", &cfg, &ops, NULL, &dm));
  assert_int_equal(DL_OK, dl_devmodel_set_line(dm, 1, 1));
  assert_true(dl_line_asserted(m, 41));
  assert_false(dl_line_asserted(m, 40));
  dl_devmodel_set_interrupt(dm, 1);  /* interrupt 0 */
  assert_true(dl_line_asserted(m, 40));
  assert_int_equal(DL_OK, dl_devmodel_set_line(dm, 1, 0));
  assert_false(dl_line_asserted(m, 41));
  assert_int_equal(DL_EINVAL, dl_devmodel_set_line(dm, 2, 1));
  dl_machine_free(m);
}

/* IoConnectInterruptEx's plan: LINE_BASED takes the first line,
** MESSAGE_BASED every message in order (or the line with a fallback), with
** the highest IRQL as the unified one; the WDK's statuses otherwise. */
static void test_connect_plan(void **state) {
  (void)state;
  dl_machine *m = machine();
  dl_devmodel *dm, *legacy;
  dl_devmodel_config cfg = nic();
  cfg.irq[2] = (dl_devmodel_irq){42, 9, 0, 1};
  cfg.nirqs = 3;
  assert_int_equal(DL_OK, dl_devmodel_new_config(m, "nic", &cfg, &ops, NULL, &dm));
  assert_int_equal(DL_OK, dl_devmodel_new(m, "legacy", 0x1000, 16, 5, &ops, NULL, &legacy));
  assert_ptr_equal(dm, dl_devmodel_of_pdo(m, dm->pdo));
  assert_null(dl_devmodel_of_pdo(m, NULL));
  dl_connect_plan p;
  assert_int_equal(DL_STATUS_SUCCESS, dl_connect_plan_for(m, dm->pdo, DL_CONNECT_LINE_BASED, 0, &p));
  assert_int_equal(1, (int)p.n);
  assert_int_equal(40, p.irq[0].vector);
  assert_int_equal(DL_STATUS_SUCCESS, dl_connect_plan_for(m, dm->pdo, DL_CONNECT_MESSAGE_BASED, 1, &p));
  assert_int_equal(DL_CONNECT_MESSAGE_BASED, p.version);
  assert_int_equal(2, (int)p.n);
  assert_int_equal(41, p.irq[0].vector);
  assert_int_equal(42, p.irq[1].vector);
  assert_int_equal(9, p.unified_irql);
  assert_int_equal(DL_STATUS_INVALID_DEVICE_REQUEST,
                   dl_connect_plan_for(m, legacy->pdo, DL_CONNECT_MESSAGE_BASED, 0, &p));
  assert_int_equal(DL_STATUS_SUCCESS, dl_connect_plan_for(m, legacy->pdo, DL_CONNECT_MESSAGE_BASED, 1, &p));
  assert_int_equal(DL_CONNECT_LINE_BASED, p.version);
  assert_int_equal(16, p.irq[0].vector);
  dl_devmodel_config_init(&cfg);
  cfg.irq[0] = (dl_devmodel_irq){60, 6, 0, 1};
  cfg.nirqs = 1;
  assert_int_equal(DL_OK, dl_devmodel_new_config(m, "msi", &cfg, &ops, NULL, &dm));
  assert_int_equal(DL_STATUS_INVALID_DEVICE_REQUEST, dl_connect_plan_for(m, dm->pdo, DL_CONNECT_LINE_BASED, 0, &p));
  assert_int_equal(DL_STATUS_INVALID_PARAMETER, dl_connect_plan_for(m, NULL, DL_CONNECT_LINE_BASED, 0, &p));
  assert_int_equal(DL_STATUS_INVALID_PARAMETER_1, dl_connect_plan_for(m, dm->pdo, DL_CONNECT_FULLY_SPECIFIED, 0, &p));
  assert_int_equal(DL_STATUS_INVALID_PARAMETER_1, dl_connect_plan_for(m, dm->pdo, 9, 0, &p));
  dl_machine_free(m);
}

/* MmMapIoSpaceEx's Protect: one access protection, at most one cache flag. */
static void test_protect(void **state) {
  (void)state;
  assert_true(dl_mmio_protect_ok(DL_PAGE_READWRITE | DL_PAGE_NOCACHE));
  assert_true(dl_mmio_protect_ok(DL_PAGE_READONLY));
  assert_true(dl_mmio_protect_ok(DL_PAGE_EXECUTE_READWRITE | DL_PAGE_WRITECOMBINE));
  assert_false(dl_mmio_protect_ok(DL_PAGE_NOCACHE));                        /* no access protection */
  assert_false(dl_mmio_protect_ok(DL_PAGE_READWRITE | DL_PAGE_READONLY));   /* two */
  assert_false(dl_mmio_protect_ok(DL_PAGE_READWRITE | DL_PAGE_NOCACHE | DL_PAGE_WRITECOMBINE));
  assert_false(dl_mmio_protect_ok(DL_PAGE_NOACCESS));
  assert_false(dl_mmio_protect_ok(0));
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_bars),
    cmocka_unit_test(test_ports),
    cmocka_unit_test(test_limits),
    cmocka_unit_test(test_resources),
    cmocka_unit_test(test_lines),
    cmocka_unit_test(test_connect_plan),
    cmocka_unit_test(test_protect),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
