/*
** dl_wdfobject.c: the framework object tree and WdfObjectDelete (see
** dl_wdfobject.h for the order).
**
** Both passes walk the tree again from the deleted object after every
** step instead of keeping a list: a callback may delete other objects (or
** the framework may take some along, as an enabler its transactions), and
** an object taken off the tree is then simply not found. Objects on the
** path being walked are BUSY: a framework delete reaching one of them
** leaves it to the walk.
*/
#include "wdf/dl_wdfobject.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/dl_status.h"
#include "machine/dl_context.h"
#include "machine/dl_verifier.h"

enum { DELETING = 1, CLEANED = 2, BUSY = 4, QUIET = 8 };

static const dl_wdf_class *class_of(const dl_wdf_object *o) { return (const dl_wdf_class *)o->type; }

/* Every class's name is its WDF handle type: "WDF...". */
const char dl_wdf_family = 'W';

static int is_wdf(const dl_object *o) { return o->type->family == &dl_wdf_family; }

/* Puts o on the machine as a child of parent. */
void dl_wdf_object_init(dl_wdf_object *o, dl_machine *m, const dl_wdf_class *c,
                        dl_wdf_object *parent) {
  dl_object_init(DL_OBJECT(o), m, &c->base, DL_OBJECT(parent));
  dl_list_init(&o->wdf_children);
  dl_list_init(&o->wdf_sibling);
  if (parent) {
    dl_list_append(&parent->wdf_children, &o->wdf_sibling);
    if (parent->wdf_flags & DELETING) o->wdf_flags |= DELETING | (parent->wdf_flags & QUIET);
  }
}

/* 1 if a is o or below it. */
static int within(const dl_wdf_object *a, const dl_wdf_object *o) {
  for (; a; a = dl_wdf_object_parent(a))
    if (a == o) return 1;
  return 0;
}

/* Moves o under parent (ParentObject). */
int dl_wdf_object_set_parent(dl_wdf_object *o, dl_wdf_object *parent) {
  if (!parent || parent->m != o->m || within(parent, o)) return DL_EINVAL;
  if (dl_wdf_object_add_child_status(parent)) return DL_ESTATE;  /* STATUS_DELETE_PENDING */
  dl_list_remove(&o->wdf_sibling);
  dl_list_append(&parent->wdf_children, &o->wdf_sibling);
  o->parent = DL_OBJECT(parent);
  return DL_OK;
}

dl_wdf_object *dl_wdf_object_parent(const dl_wdf_object *o) { return (dl_wdf_object *)o->parent; }
const char *dl_wdf_object_type_name(const dl_wdf_object *o) { return o->type->name; }
int dl_wdf_object_deleting(const dl_wdf_object *o) { return (o->wdf_flags & DELETING) != 0; }

/* The walk marks what it is on BUSY and what it cleaned up CLEANED. */
int dl_wdf_object_disposing(const dl_wdf_object *o) {
  return (o->wdf_flags & DELETING) && (o->wdf_flags & (BUSY | CLEANED));
}

/* STATUS_DELETE_PENDING while parent is being deleted. */
uint32_t dl_wdf_object_add_child_status(const dl_wdf_object *parent) {
  return parent && dl_wdf_object_deleting(parent) ? DL_STATUS_DELETE_PENDING : DL_STATUS_SUCCESS;
}

/* Sets the cleanup and destroy callbacks. */
void dl_wdf_object_set_callbacks(dl_wdf_object *o, dl_wdf_object_fn cleanup,
                                 dl_wdf_object_fn destroy, void *ctx) {
  o->evt_cleanup = cleanup;
  o->evt_destroy = destroy;
  o->evt_ctx = ctx;
}

/* ---- deletion ------------------------------------------------------------------- */

/* Marks o and its descendants as being deleted. */
static void mark(dl_wdf_object *o, unsigned how) {
  o->wdf_flags |= DELETING | how;
  for (dl_link *l = o->wdf_children.next; l != &o->wdf_children; l = l->next)
    mark(DL_CONTAINER(l, dl_wdf_object, wdf_sibling), how);
}

/* The newest child of o that `flag` does not mark yet (any child with flag 0). */
static dl_wdf_object *last_child(dl_wdf_object *o, unsigned flag) {
  for (dl_link *l = o->wdf_children.prev; l != &o->wdf_children; l = l->prev) {
    dl_wdf_object *c = DL_CONTAINER(l, dl_wdf_object, wdf_sibling);
    if (!(c->wdf_flags & flag)) return c;
  }
  return NULL;
}

/* Pass 1 on o's subtree: children first (newest first), then o's cleanup. */
static void cleanup_tree(dl_wdf_object *o) {
  unsigned busy = o->wdf_flags & BUSY;
  o->wdf_flags |= BUSY;
  for (dl_wdf_object *c; (c = last_child(o, CLEANED | BUSY));) cleanup_tree(c);
  if (!(o->wdf_flags & CLEANED)) {
    o->wdf_flags |= CLEANED;
    if (o->evt_cleanup && !(o->wdf_flags & QUIET)) {
      o->wdf_held++;  /* in use: its ancestors cannot be deleted from the callback */
      o->evt_cleanup(o->evt_ctx, o);
      o->wdf_held--;
    }
  }
  if (!busy) o->wdf_flags &= ~(unsigned)BUSY;
}

/* Pass 2 on o's subtree: each child's subtree, then o disposed of. */
static void destroy_tree(dl_wdf_object *o) {
  o->wdf_flags |= BUSY;
  for (dl_wdf_object *c; (c = last_child(o, BUSY));) destroy_tree(c);
  if (!(o->wdf_flags & CLEANED)) cleanup_tree(o);  /* made during pass 2 */
  dl_list_remove(&o->wdf_sibling);
  dl_list_init(&o->wdf_sibling);
  o->parent = NULL;
  if (o->evt_destroy && !(o->wdf_flags & QUIET)) {
    o->wdf_held++;
    o->evt_destroy(o->evt_ctx, o);
    o->wdf_held--;
  }
  dl_wdf_object_fini(o);
  class_of(o)->dispose(o);
}

/* Both passes on o, which is marked. */
static void delete_tree(dl_wdf_object *o) {
  o->wdf_flags |= BUSY;
  cleanup_tree(o);
  destroy_tree(o);
}

void dl_wdf_object_hold(dl_wdf_object *o) { o->wdf_held++; }
void dl_wdf_object_unhold(dl_wdf_object *o) { o->wdf_held--; }

/* 1 if o or a descendant is held. */
int dl_wdf_object_in_use(const dl_wdf_object *o) {
  if (o->wdf_held) return 1;
  for (const dl_link *l = o->wdf_children.next; l != &o->wdf_children; l = l->next)
    if (dl_wdf_object_in_use(DL_CONTAINER(l, dl_wdf_object, wdf_sibling))) return 1;
  return 0;
}

/* WdfObjectDelete. */
int dl_wdf_object_delete(dl_wdf_object *o) {
  dl_wdf_verify_irql(o->m, "WdfObjectDelete", 0, DL_DISPATCH_LEVEL);
  const dl_wdf_class *c = class_of(o);
  if (c->deletable != DL_WDF_DELETABLE) {
    if (c->deletable == DL_WDF_NOT_DELETABLE)
      dl_wdf_report(o->m, DL_WDF_OBJECT_ERROR, o->id, 0,
                    "WdfObjectDelete: a %s#%llu may not be deleted by its driver (the framework "
                    "deletes it)", o->type->name, (unsigned long long)o->id);
    return DL_ESTATE;
  }
  if (o->wdf_flags & DELETING) return DL_OK;
  if (dl_wdf_object_in_use(o)) return DL_EBUSY;  /* a callback on it is running */
  int rc = c->may_delete ? c->may_delete(o) : DL_OK;
  if (rc) return rc;
  mark(o, 0);
  delete_tree(o);
  return DL_OK;
}

/* The framework deletes o (left to the walk if o is on its path). */
int dl_wdf_object_delete_framework(dl_wdf_object *o) {
  if (o->wdf_flags & BUSY) return 0;
  if (!(o->wdf_flags & DELETING)) mark(o, 0);
  delete_tree(o);
  return 1;
}

/* WdfObjectReference. */
void dl_wdf_object_reference(dl_wdf_object *o) { o->wdf_refs++; }

/* WdfObjectDereference. */
int dl_wdf_object_dereference(dl_wdf_object *o) {
  dl_wdf_verify_irql(o->m, "WdfObjectDereference", 0, DL_DISPATCH_LEVEL);
  if (o->wdf_refs == 0) {
    dl_wdf_report(o->m, DL_WDF_OBJECT_ERROR, o->id, 0,
                  "WdfObjectDereference: %s#%llu has no reference left that the driver took "
                  "(WdfObjectReference, WdfIoQueueFindRequest)", o->type->name,
                  (unsigned long long)o->id);
    return DL_ESTATE;
  }
  o->wdf_refs--;
  return DL_OK;
}

/* ---- contexts -------------------------------------------------------------------- */

/* The slot of context `type`. */
void **dl_wdf_object_context(dl_wdf_object *o, const char *type, int create) {
  for (uint32_t i = 0; i < o->ncontexts; i++)
    if (strcmp(o->contexts[i].type, type) == 0) return &o->contexts[i].slot;
  if (!create) return NULL;
  dl_wdf_context *c = realloc(o->contexts, (o->ncontexts + 1) * sizeof *c);
  if (!c) return NULL;
  o->contexts = c;
  c = &c[o->ncontexts++];
  snprintf(c->type, sizeof c->type, "%s", type);
  c->slot = NULL;
  return &c->slot;
}

/* Frees the contexts and takes o off its parent and the machine's list. */
void dl_wdf_object_fini(dl_wdf_object *o) {
  dl_list_remove(&o->wdf_sibling);
  dl_list_init(&o->wdf_sibling);
  dl_object_unlink(DL_OBJECT(o));
  free(o->contexts);
  o->contexts = NULL;
  o->ncontexts = 0;
}

/* Machine teardown of an object that owns nothing but its memory. */
void dl_wdf_object_free(dl_object *o) {
  dl_wdf_object_fini((dl_wdf_object *)o);
  free(o);
}

/* ---- the whole machine ------------------------------------------------------------ */

/* The newest framework object of m with no framework parent, or NULL. */
static dl_wdf_object *newest_root(dl_machine *m) {
  dl_wdf_object *root = NULL;
  for (dl_object *o = dl_object_next(m, NULL, NULL); o; o = dl_object_next(m, o, NULL))
    if (is_wdf(o) && !o->parent) root = (dl_wdf_object *)o;
  return root;
}

/* Deletes every framework tree of the machine, quietly. */
void dl_wdf_unload(dl_machine *m) {
  for (dl_wdf_object *o; (o = newest_root(m));) {
    mark(o, QUIET);
    delete_tree(o);
  }
}

/* Marks every framework object of m as being deleted. */
void dl_wdf_mark_all(dl_machine *m) {
  for (dl_object *o = dl_object_next(m, NULL, NULL); o; o = dl_object_next(m, o, NULL))
    if (is_wdf(o) && !o->parent) mark((dl_wdf_object *)o, 0);
}

/* Deletes the trees there are now with their callbacks, then the rest quietly. */
void dl_wdf_delete_all(dl_machine *m) {
  size_t roots = 0;
  for (dl_object *o = dl_object_next(m, NULL, NULL); o; o = dl_object_next(m, o, NULL))
    roots += is_wdf(o) && !o->parent;
  for (dl_wdf_object *o; roots-- > 0 && (o = newest_root(m));) {
    if (!(o->wdf_flags & DELETING)) mark(o, 0);
    delete_tree(o);
  }
  dl_wdf_unload(m);  /* bounded: what the callbacks made goes without them */
}

/* ---- reports ---------------------------------------------------------------------- */

/* Records WDF_VIOLATION. */
void dl_wdf_report(dl_machine *m, uint32_t p1, uint64_t p2, uint64_t p3, const char *fmt, ...) {
  char text[sizeof ((dl_report *)0)->message];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  dl_verify_fail(m, DL_BUGCHECK_WDF, p1, p2, p3, 0, "%s", text);
}

/* The IRQL rule of a KMDF call. */
int dl_wdf_verify_irql(dl_machine *m, const char *call, int exact, uint8_t level) {
  return dl_verify_irql(m, call, exact, level);
}
