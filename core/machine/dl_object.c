/*
** dl_object.c: the machine's object list: ids, the generic walk, leak
** checks and teardown.
*/
#include "machine/dl_object.h"

#include "machine/dl_context.h"

/* Gives o a fresh id and puts it on the machine's list. */
void dl_object_init(dl_object *o, dl_machine *m, const dl_object_type *t, dl_object *parent) {
  o->type = t;
  o->m = m;
  o->parent = parent;
  o->id = dl_machine_next_id(m);
  dl_list_append(dl_machine_objects(m), &o->objects);
}

/* Puts o on the machine's list under its parent's id. */
void dl_object_init_as(dl_object *o, const dl_object_type *t, dl_object *parent) {
  o->type = t;
  o->m = parent->m;
  o->parent = parent;
  o->id = parent->id;
  dl_list_append(dl_machine_objects(parent->m), &o->objects);
}

/* Takes o off the machine's list; harmless if it is not on it. */
void dl_object_unlink(dl_object *o) {
  if (!o->objects.next || o->objects.next == &o->objects) return;  /* self-linked once removed */
  dl_list_remove(&o->objects);
  dl_gone_fn gone = dl_machine_gone_hook(o->m);
  if (gone && o->data) gone(o);
  o->data = NULL;
}

/* The next object of type t after `after` in creation order. */
dl_object *dl_object_next(dl_machine *m, const dl_object *after, const dl_object_type *t) {
  dl_link *head = dl_machine_objects(m);
  for (dl_link *l = after ? after->objects.next : head->next; l != head; l = l->next) {
    dl_object *o = DL_CONTAINER(l, dl_object, objects);
    if (!t || o->type == t) return o;
  }
  return NULL;
}

/* Calls fn for each object of type t in creation order. */
int dl_machine_walk(dl_machine *m, const dl_object_type *t, dl_walk_fn fn, void *arg) {
  dl_link *head = dl_machine_objects(m);
  for (dl_link *l = head->next, *next; l != head; l = next) {
    next = l->next;  /* fn may free the object it is given */
    dl_object *o = DL_CONTAINER(l, dl_object, objects);
    if (t && o->type != t) continue;
    int rc = fn(o, arg);
    if (rc) return rc;
  }
  return 0;
}

/* The first object whose holds(other) is one of `kinds` (a bit set). */
static dl_object *holder_of(dl_machine *m, const dl_object *other, int kinds) {
  for (dl_object *o = dl_object_next(m, NULL, NULL); o; o = dl_object_next(m, o, NULL))
    if (o != other && o->type->holds && ((1 << o->type->holds(o, other)) & kinds)) return o;
  return NULL;
}

/* The first object that still needs or refers to `other`, or NULL. */
dl_object *dl_machine_holder(dl_machine *m, const dl_object *other) {
  return holder_of(m, other, 1 << DL_HOLDS_NEEDS | 1 << DL_HOLDS_REFERS);
}

/* The first object that still needs `other` to go on, or NULL. */
dl_object *dl_machine_needer(dl_machine *m, const dl_object *other) {
  return holder_of(m, other, 1 << DL_HOLDS_NEEDS);
}

/* How many live objects of type t there are. */
size_t dl_machine_count(dl_machine *m, const dl_object_type *t) {
  size_t n = 0;
  for (dl_object *o = dl_object_next(m, NULL, t); o; o = dl_object_next(m, o, t)) n++;
  return n;
}

/* The live object with this id, or NULL. */
dl_object *dl_machine_find(dl_machine *m, uint64_t id) {
  dl_link *head = dl_machine_objects(m);
  for (dl_link *l = head->prev; l != head; l = l->prev) {  /* recent ones are asked for most */
    dl_object *o = DL_CONTAINER(l, dl_object, objects);
    if (o->id == id) return o;
  }
  return NULL;
}

/* Runs every type's leak check over the machine's objects. */
size_t dl_machine_check_leaks(dl_machine *m) {
  size_t n = 0;
  for (dl_object *o = dl_object_next(m, NULL, NULL); o; o = dl_object_next(m, o, NULL))
    if (o->type->check_leaks) n += o->type->check_leaks(o);
  return n;
}

/* Destroys every object, newest first: children were made after their
** parents, so they go first. */
void dl_machine_destroy_objects(dl_machine *m) {
  dl_link *head = dl_machine_objects(m);
  while (!dl_list_empty(head)) {
    dl_object *o = DL_CONTAINER(head->prev, dl_object, objects);
    dl_object_unlink(o);
    o->type->destroy(o);
  }
}
