/*
** dl_symlink.c: symbolic links and device lookup by name (see dl_symlink.h).
*/
#include "io/dl_symlink.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/dl_status.h"
#include "io/dl_devif.h"
#include "machine/dl_machine.h"

typedef struct dl_symlink {
  DL_OBJECT_FIELDS
  char link[DL_NAME_MAX + 1];
  char target[DL_NAME_MAX + 1];
  dl_device *dev;        /* a link to a device object itself, or NULL */
} dl_symlink;

static void destroy(dl_object *o) {
  dl_object_unlink(o);
  free(o);
}

const dl_object_type dl_symlink_type = { "SYMBOLIC_LINK", destroy, NULL, NULL, NULL };

/* The machine's object after `o` of type t (the first if o is NULL), or NULL. */
static dl_object *next_of(dl_machine *m, dl_object *o, const dl_object_type *t) {
  dl_link *head = dl_machine_objects(m);
  for (dl_link *l = o ? o->objects.next : head->next; l != head; l = l->next) {
    dl_object *x = DL_CONTAINER(l, dl_object, objects);
    if (x->type == t) return x;
  }
  return NULL;
}

/* The link named `link`, or NULL. */
static dl_symlink *find_link(dl_machine *m, const char *link) {
  for (dl_object *o = next_of(m, NULL, &dl_symlink_type); o; o = next_of(m, o, &dl_symlink_type))
    if (strcasecmp(((dl_symlink *)o)->link, link) == 0) return (dl_symlink *)o;
  return NULL;
}

/* IoCreateSymbolicLink. */
int dl_io_create_symbolic_link(dl_machine *m, const char *link, const char *target) {
  if (!*link || !*target || strlen(link) > DL_NAME_MAX || strlen(target) > DL_NAME_MAX)
    return DL_EINVAL;
  if (find_link(m, link)) return DL_EBUSY;
  dl_symlink *s = calloc(1, sizeof *s);
  if (!s) return DL_ENOMEM;
  dl_object_init(DL_OBJECT(s), m, &dl_symlink_type, NULL);
  snprintf(s->link, sizeof s->link, "%s", link);
  snprintf(s->target, sizeof s->target, "%s", target);
  return DL_OK;
}

/* A link to a device object. */
int dl_io_create_symbolic_link_to(dl_machine *m, const char *link, dl_device *dev) {
  int rc = dl_io_create_symbolic_link(m, link, dev->name);
  if (rc == DL_OK) find_link(m, link)->dev = dev;
  return rc;
}

/* IoDeleteSymbolicLink. */
int dl_io_delete_symbolic_link(dl_machine *m, const char *link) {
  dl_symlink *s = find_link(m, link);
  if (!s) return DL_ERANGE;
  destroy(DL_OBJECT(s));
  return DL_OK;
}

/* The device named name, through one link at most. */
dl_device *dl_io_find_device(dl_machine *m, const char *name) {
  dl_devif *f = dl_io_find_device_interface(m, name);
  if (f) return f->dev && !f->dev->deleted ? f->dev : NULL;
  dl_symlink *s = find_link(m, name);
  if (s && s->dev) return s->dev->deleted ? NULL : s->dev;  /* a link to a deleted device dangles */
  if (s) name = s->target;
  for (dl_object *o = next_of(m, NULL, &dl_device_type); o; o = next_of(m, o, &dl_device_type))
    if (!((dl_device *)o)->deleted && strcasecmp(((dl_device *)o)->name, name) == 0)
      return (dl_device *)o;
  return NULL;
}
