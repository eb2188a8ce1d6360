/*
** test_object.c: the machine's one object model (core/machine/dl_object.c):
** ids, the generic walk, teardown order, leak checks over every type, the
** holder query lower layers use, and the hook that tells the binding an
** object it has a handle of is going away.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/dl_status.h"
#include "io/dl_device.h"
#include "io/dl_mdl.h"
#include "machine/dl_machine.h"
#include "machine/dl_object.h"

/* A test type: records the order objects are destroyed in. */
typedef struct thing {
  DL_OBJECT_FIELDS
  int leaks;              /* what its leak check reports */
  const dl_object *needs; /* what it holds (see holds) */
} thing;

static uint64_t destroyed[16];
static int ndestroyed;

static void thing_destroy(dl_object *o) {
  destroyed[ndestroyed++] = o->id;
  dl_object_unlink(o);
  free(o);
}

static size_t thing_leaks(dl_object *o) { return (size_t)((thing *)o)->leaks; }

static int thing_holds(const dl_object *o, const dl_object *other) {
  return ((const thing *)o)->needs == other;
}

static const dl_object_type thing_type = { "thing", thing_destroy, thing_leaks, thing_holds, NULL };
static const dl_object_type other_type = { "other", thing_destroy, NULL, NULL, NULL };

static thing *new_thing(dl_machine *m, const dl_object_type *t, dl_object *parent) {
  thing *x = calloc(1, sizeof *x);
  assert_non_null(x);
  dl_object_init(DL_OBJECT(x), m, t, parent);
  return x;
}

static int setup(void **state) {
  dl_machine_config cfg;
  dl_machine_config_init(&cfg);
  cfg.ram[0].size = UINT64_C(64) << 20;
  dl_machine *m;
  if (dl_machine_new(&cfg, &m) != DL_OK) return -1;
  ndestroyed = 0;
  *state = m;
  return 0;
}

static int teardown(void **state) {
  dl_machine_free(*state);
  return 0;
}

/* Ids count up per machine and are never handed out again after a free,
** so a stale id can never name a new object. */
static void test_ids_are_never_reused(void **state) {
  dl_machine *m = *state;
  thing *a = new_thing(m, &thing_type, NULL);
  uint64_t first = a->id;
  thing_destroy(DL_OBJECT(a));
  thing *b = new_thing(m, &thing_type, NULL);
  assert_true(b->id > first);
  assert_null(dl_machine_find(m, first));
  assert_ptr_equal(dl_machine_find(m, b->id), b);
}

typedef struct seen { uint64_t ids[8]; int n; } seen;

static int record(dl_object *o, void *arg) {
  seen *s = arg;
  s->ids[s->n++] = o->id;
  return 0;
}

static int stop_at_second(dl_object *o, void *arg) {
  seen *s = arg;
  s->ids[s->n++] = o->id;
  return s->n == 2 ? 7 : 0;
}

/* The walk visits objects in creation order, filtered by type, and stops
** with the callback's value. */
static void test_walk_in_creation_order_by_type(void **state) {
  dl_machine *m = *state;
  thing *a = new_thing(m, &thing_type, NULL);
  thing *b = new_thing(m, &other_type, NULL);
  thing *c = new_thing(m, &thing_type, NULL);
  seen all = {{0}, 0}, things = {{0}, 0}, some = {{0}, 0};
  assert_int_equal(dl_machine_walk(m, NULL, record, &all), 0);
  assert_int_equal(all.n, 3);
  assert_int_equal(all.ids[0], a->id);
  assert_int_equal(all.ids[1], b->id);
  assert_int_equal(all.ids[2], c->id);
  dl_machine_walk(m, &thing_type, record, &things);
  assert_int_equal(things.n, 2);
  assert_int_equal(things.ids[1], c->id);
  assert_int_equal(dl_machine_walk(m, NULL, stop_at_second, &some), 7);
  assert_int_equal(some.n, 2);
  assert_int_equal(dl_machine_count(m, &thing_type), 2);
  assert_int_equal(dl_machine_count(m, &other_type), 1);
}

static int free_each(dl_object *o, void *arg) {
  (void)arg;
  thing_destroy(o);
  return 0;
}

/* A walk callback may free the object it is given. */
static void test_walk_may_free_the_current_object(void **state) {
  dl_machine *m = *state;
  for (int i = 0; i < 4; i++) new_thing(m, &thing_type, NULL);
  dl_machine_walk(m, NULL, free_each, NULL);
  assert_int_equal(ndestroyed, 4);
  assert_int_equal(dl_machine_count(m, NULL), 0);
}

/* Teardown destroys every object newest first, so a child (made after its
** parent) always goes before it, whatever the types. */
static void test_teardown_newest_first_children_before_parents(void **state) {
  dl_machine *m = *state;
  thing *parent = new_thing(m, &thing_type, NULL);
  thing *child = new_thing(m, &other_type, DL_OBJECT(parent));
  thing *grandchild = new_thing(m, &thing_type, DL_OBJECT(child));
  assert_ptr_equal(grandchild->parent, DL_OBJECT(child));
  uint64_t ids[3] = {grandchild->id, child->id, parent->id};
  dl_machine_destroy_objects(m);
  assert_int_equal(ndestroyed, 3);
  assert_memory_equal(destroyed, ids, sizeof ids);
}

/* The leak check runs each type's own check and adds them up; types
** without one are skipped. */
static void test_leak_checks_cover_every_type(void **state) {
  dl_machine *m = *state;
  new_thing(m, &thing_type, NULL)->leaks = 2;
  new_thing(m, &other_type, NULL)->leaks = 5;  /* no check_leaks: not counted */
  new_thing(m, &thing_type, NULL)->leaks = 1;
  assert_int_equal(dl_machine_check_leaks(m), 3);
}

/* A lower layer asks who still needs an object without knowing the types
** above it (an IRP asks whether an adapter's waiting request needs its MDL). */
static void test_holder_is_found_through_the_types(void **state) {
  dl_machine *m = *state;
  thing *target = new_thing(m, &other_type, NULL);
  thing *user = new_thing(m, &thing_type, NULL);
  assert_null(dl_machine_holder(m, DL_OBJECT(target)));
  user->needs = DL_OBJECT(target);
  assert_ptr_equal(dl_machine_holder(m, DL_OBJECT(target)), user);
}

static int gone_calls;
static uint64_t gone_id;
static void on_gone(dl_object *o) {
  gone_calls++;
  gone_id = o->id;
}

/* The binding hears of an object going away only if it holds a handle of
** it (data set), once, and the slot is cleared. */
static void test_gone_hook_only_for_objects_with_a_handle(void **state) {
  dl_machine *m = *state;
  gone_calls = 0;
  dl_machine_on_gone(m, on_gone);
  thing *quiet = new_thing(m, &thing_type, NULL);
  thing *seen_by_lua = new_thing(m, &thing_type, NULL);
  seen_by_lua->data = &gone_calls;
  uint64_t id = seen_by_lua->id;
  thing_destroy(DL_OBJECT(quiet));
  assert_int_equal(gone_calls, 0);
  dl_object_unlink(DL_OBJECT(seen_by_lua));
  assert_int_equal(gone_calls, 1);
  assert_int_equal(gone_id, id);
  assert_null(seen_by_lua->data);
  dl_object_unlink(DL_OBJECT(seen_by_lua));  /* harmless again */
  assert_int_equal(gone_calls, 1);
  free(seen_by_lua);
}

/* A second face of an object (a device model is the hardware behind its
** PDO) shares its parent's id. */
static void test_init_as_shares_the_parent_id(void **state) {
  dl_machine *m = *state;
  thing *pdo = new_thing(m, &other_type, NULL);
  thing *model = calloc(1, sizeof *model);
  dl_object_init_as(DL_OBJECT(model), &thing_type, DL_OBJECT(pdo));
  assert_int_equal(model->id, pdo->id);
  assert_ptr_equal(model->parent, DL_OBJECT(pdo));
  assert_int_equal(dl_machine_count(m, NULL), 2);
}

/* The real types sit on the same list: devices and MDLs are counted and
** torn down by the machine without it knowing them. */
static void test_core_types_are_objects(void **state) {
  dl_machine *m = *state;
  dl_device *dev;
  dl_mdl *mdl;
  assert_int_equal(dl_device_new(m, "dev", &dev), DL_OK);
  assert_int_equal(dl_mdl_allocate(m, UINT64_C(0x10000), 100, &mdl), DL_OK);
  assert_int_equal(dl_machine_count(m, &dl_device_type), 1);
  assert_int_equal(dl_machine_count(m, &dl_mdl_type), 1);
  assert_ptr_equal(dl_machine_find(m, dev->id), dev);
  assert_string_equal(DL_OBJECT(mdl)->type->name, "MDL");
  assert_true(dl_mdl_id(mdl) > dev->id);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_ids_are_never_reused, setup, teardown),
    cmocka_unit_test_setup_teardown(test_walk_in_creation_order_by_type, setup, teardown),
    cmocka_unit_test_setup_teardown(test_walk_may_free_the_current_object, setup, teardown),
    cmocka_unit_test_setup_teardown(test_teardown_newest_first_children_before_parents, setup,
                                    teardown),
    cmocka_unit_test_setup_teardown(test_leak_checks_cover_every_type, setup, teardown),
    cmocka_unit_test_setup_teardown(test_holder_is_found_through_the_types, setup, teardown),
    cmocka_unit_test_setup_teardown(test_gone_hook_only_for_objects_with_a_handle, setup, teardown),
    cmocka_unit_test_setup_teardown(test_init_as_shares_the_parent_id, setup, teardown),
    cmocka_unit_test_setup_teardown(test_core_types_are_objects, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
