/*
** test_wdfobject.c: the WDF object layer of core/wdf/dl_wdfobject.c without
** Lua: WdfObjectDelete deletes children first (the last created first),
** every EvtCleanupCallback runs before any EvtDestroyCallback, a deleted
** parent takes its children along, ParentObject moves an object, contexts
** are slots, the objects a driver may not delete are 0x10D reports, and
** WdfGetDriver finds the machine's one WDFDRIVER (none or several: an error).
*/
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "rig_wdf.h"
#include <stdio.h>
#include <string.h>

#include "io/dl_device.h"
#include "machine/dl_machine.h"
#include "machine/dl_verifier.h"
#include "base/dl_status.h"
#include "io/dl_irp.h"
#include "wdf/dl_wdf.h"

typedef struct log {
  char seen[32][32];
  int n;
  dl_wdf_object *delete_in_cleanup;  /* a cleanup that deletes this (its ancestor) */
  int delete_rc;                     /* and what that delete returned */
} log_t;

static log_t the_log;

static void note(const char *what, dl_wdf_object *o) {
  if (the_log.n < 32)
    snprintf(the_log.seen[the_log.n++], sizeof the_log.seen[0], "%s %llu", what,
             (unsigned long long)o->id);
}
static void on_cleanup(void *ctx, dl_wdf_object *o) {
  (void)ctx;
  note("cleanup", o);
  if (the_log.delete_in_cleanup) the_log.delete_rc = dl_wdf_object_delete(the_log.delete_in_cleanup);
}
static void on_destroy(void *ctx, dl_wdf_object *o) {
  (void)ctx;
  note("destroy", o);
}

static const dl_wdf_ops ops = {.event = NULL};

typedef struct rig {
  dl_machine *m;
  dl_wdf_driver *drv;
  dl_wdf_device *d;
} rig;

static int setup(void **state) {
  static rig r;
  memset(&r, 0, sizeof r);
  memset(&the_log, 0, sizeof the_log);
  if (rig_wdf_open(&r.m, NULL, &r.drv, &ops, NULL, &r.d)) return -1;
  *state = &r;
  return 0;
}

static int teardown(void **state) {
  rig_wdf_close(((rig *)*state)->m);
  return 0;
}

static dl_wdf_queue *queue(rig *r) {
  dl_wdf_queue *q;
  assert_int_equal(DL_OK, dl_wdf_queue_new(r->d, DL_WDF_DISPATCH_PARALLEL, 0, &q));
  dl_wdf_object_set_callbacks(DL_WDF(q), on_cleanup, on_destroy, NULL);
  return q;
}

static dl_wdf_interrupt *interrupt(rig *r) {
  dl_wdf_interrupt *wi;
  assert_int_equal(DL_OK, dl_wdf_interrupt_new(r->d, 0, 0, &wi));
  dl_wdf_object_set_callbacks(DL_WDF(wi), on_cleanup, on_destroy, NULL);
  return wi;
}

static void expect(const char *const *want, int n) {
  assert_int_equal(n, the_log.n);
  for (int i = 0; i < n; i++) assert_string_equal(want[i], the_log.seen[i]);
}

/* Children first, the last created first; every cleanup before any destroy. */
static void test_order(void **state) {
  rig *r = *state;
  dl_wdf_queue *q1 = queue(r), *q2 = queue(r);
  dl_wdf_interrupt *i3 = interrupt(r);
  assert_int_equal(DL_OK, dl_wdf_object_set_parent(DL_WDF(i3), DL_WDF(q1)));  /* ParentObject */
  assert_int_equal(DL_EINVAL, dl_wdf_object_set_parent(DL_WDF(q1), DL_WDF(i3)));  /* a cycle */
  dl_wdf_object_set_callbacks(DL_WDF(r->d), on_cleanup, on_destroy, NULL);
  uint64_t dq1 = q1->id, dq2 = q2->id, di3 = i3->id, dd = r->d->id;
  assert_int_equal(DL_OK, dl_wdf_device_remove(r->d));
  assert_int_equal(1, dl_wdf_object_delete_framework(DL_WDF(r->d)));
  char w[8][32];
  const char *p[8];
  uint64_t order[4] = {dq2, di3, dq1, dd};  /* q2 (newest child), then q1's subtree: i3, q1; the device */
  for (int i = 0; i < 4; i++) {
    snprintf(w[i], 32, "cleanup %llu", (unsigned long long)order[i]);
    snprintf(w[4 + i], 32, "destroy %llu", (unsigned long long)order[i]);
  }
  for (int i = 0; i < 8; i++) p[i] = w[i];
  expect(p, 8);
  assert_null(dl_machine_find(r->m, dd));
  assert_null(dl_machine_find(r->m, di3));
}

/* Deleting a parent deletes its children; a cleanup deleting its ancestor is ignored. */
static void test_parent_takes_children(void **state) {
  rig *r = *state;
  dl_wdf_queue *q = queue(r);
  dl_wdf_interrupt *wi = interrupt(r);
  assert_int_equal(DL_OK, dl_wdf_object_set_parent(DL_WDF(wi), DL_WDF(q)));
  uint64_t id = wi->id;
  the_log.delete_in_cleanup = DL_WDF(q);
  assert_int_equal(DL_OK, dl_wdf_object_delete(DL_WDF(q)));
  assert_int_equal(4, the_log.n);  /* each cleanup and destroy once */
  assert_null(dl_machine_find(r->m, id));
  assert_int_equal(0, (int)dl_verifier_count(r->m));
}

/* A child deleted on its own whose cleanup deletes its parent: the parent
** is in use (the child's callback is running) and stays; it used to be
** freed under the child, whose unlinking then wrote into it (found by the
** fuzzer). */
static void test_cleanup_deleting_the_parent_of_a_child_being_deleted(void **state) {
  rig *r = *state;
  dl_wdf_queue *parent = queue(r), *child = queue(r);
  assert_int_equal(DL_OK, dl_wdf_object_set_parent(DL_WDF(child), DL_WDF(parent)));
  uint64_t pid = parent->id, cid = child->id;
  the_log.delete_in_cleanup = DL_WDF(parent);
  assert_int_equal(DL_OK, dl_wdf_object_delete(DL_WDF(child)));
  assert_int_equal(DL_EBUSY, the_log.delete_rc);
  assert_null(dl_machine_find(r->m, cid));
  assert_non_null(dl_machine_find(r->m, pid));
  the_log.delete_in_cleanup = NULL;
  assert_int_equal(DL_OK, dl_wdf_object_delete(DL_WDF(parent)));  /* afterwards it goes */
  assert_null(dl_machine_find(r->m, pid));
  assert_int_equal(0, (int)dl_verifier_count(r->m));
}

/* Contexts are slots, one per type name. */
static void test_contexts(void **state) {
  rig *r = *state;
  dl_wdf_queue *q = queue(r);
  assert_null(dl_wdf_object_context(DL_WDF(q), "QUEUE_CONTEXT", 0));
  void **slot = dl_wdf_object_context(DL_WDF(q), "QUEUE_CONTEXT", 1);
  int value = 42;
  *slot = &value;
  assert_ptr_equal(&value, *dl_wdf_object_context(DL_WDF(q), "QUEUE_CONTEXT", 0));
  assert_ptr_not_equal(slot, dl_wdf_object_context(DL_WDF(q), "OTHER", 1));
}

/* The device and the driver are the framework's to delete: 0x10D/0x7, nothing deleted. */
static void test_not_deletable(void **state) {
  rig *r = *state;
  assert_int_equal(DL_ESTATE, dl_wdf_object_delete(DL_WDF(r->d)));
  assert_int_equal(DL_ESTATE, dl_wdf_object_delete(DL_WDF(r->drv)));
  assert_int_equal(2, (int)dl_verifier_count(r->m));
  const dl_report *rep = dl_verifier_at(r->m, 0);
  assert_int_equal(DL_BUGCHECK_WDF, rep->bugcheck);
  assert_int_equal(DL_WDF_OBJECT_ERROR, rep->p1);
  assert_int_equal(r->d->id, rep->p2);
  assert_non_null(dl_machine_find(r->m, r->d->id));
  /* a queue holding requests is refused before anything runs */
  dl_wdf_queue *q = queue(r);
  dl_irp *irp;
  dl_wdf_request *req;
  assert_int_equal(DL_OK, dl_irp_new(r->m, DL_IRP_MJ_READ, 0, 0, 0, &irp));
  assert_int_equal(DL_OK, dl_wdf_queue_add(q, irp, &req));
  assert_int_equal(DL_EBUSY, dl_wdf_object_delete(DL_WDF(q)));
  assert_int_equal(0, the_log.n);
  /* a request the framework presented is refused without a report */
  assert_int_equal(DL_ESTATE, dl_wdf_object_delete(DL_WDF(req)));
  assert_int_equal(2, (int)dl_verifier_count(r->m));
  /* WdfObjectDelete above DISPATCH_LEVEL is an IRQL report */
  dl_machine_set_irql(r->m, 5);
  dl_wdf_interrupt *wi = interrupt(r);
  dl_wdf_object_delete(DL_WDF(wi));
  dl_machine_set_irql(r->m, DL_PASSIVE_LEVEL);
  assert_int_equal(DL_VF_WRONG_IRQL, dl_verifier_at(r->m, 2)->p1);
}

/* WdfGetDriver: the machine's one WDFDRIVER; none or several is ambiguous. */
static void test_get_driver(void **state) {
  rig *r = *state;
  dl_wdf_driver *got, *second;
  size_t n;
  assert_int_equal(dl_wdf_get_driver(r->m, &got, &n), DL_OK);
  assert_ptr_equal(got, r->drv);
  assert_int_equal(n, 1);
  assert_int_equal(dl_wdf_driver_new(r->m, &second), DL_OK);
  assert_int_equal(dl_wdf_get_driver(r->m, &got, &n), DL_EBUSY);
  assert_null(got);
  assert_int_equal(n, 2);
  dl_machine_config cfg;
  dl_machine_config_init(&cfg);
  dl_machine *empty;
  assert_int_equal(dl_machine_new(&cfg, &empty), DL_OK);
  assert_int_equal(dl_wdf_get_driver(empty, &got, &n), DL_ESTATE);
  assert_int_equal(n, 0);
  dl_machine_free(empty);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_order, setup, teardown),
    cmocka_unit_test_setup_teardown(test_parent_takes_children, setup, teardown),
    cmocka_unit_test_setup_teardown(test_cleanup_deleting_the_parent_of_a_child_being_deleted, setup, teardown),
    cmocka_unit_test_setup_teardown(test_contexts, setup, teardown),
    cmocka_unit_test_setup_teardown(test_not_deletable, setup, teardown),
    cmocka_unit_test_setup_teardown(test_get_driver, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
