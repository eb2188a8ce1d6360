/*
** dl_object.h: the header every object on a machine starts with, and the
** generic walk over them (the shape of libuv's uv_handle_t and uv_walk).
**
** A type puts DL_OBJECT_FIELDS first in its struct and describes itself
** with a dl_object_type: its name, how to destroy one, and how to report
** what one still holds at the end of a run. The machine keeps every object
** on one list in creation order, so it can tear them all down (newest
** first, so children go before their parents) and run the leak checks of
** every type without knowing any of them.
*/
#ifndef DL_OBJECT_H
#define DL_OBJECT_H

#include <stddef.h>
#include <stdint.h>

#include "base/dl_list.h"

typedef struct dl_machine dl_machine;
typedef struct dl_object dl_object;

/* What a type tells the machine about its objects. */
typedef struct dl_object_type {
  const char *name;                 /* the WDK's name: "DMA_ADAPTER", "MDL", ... */
  void (*destroy)(dl_object *o);    /* frees it (machine teardown); must unlink it */
  size_t (*check_leaks)(dl_object *o);  /* reports what it still holds; may be NULL */
  /* DL_HOLDS_NEEDS if o still needs `other` to go on (an adapter's waiting
  ** request needs its MDL, ...), DL_HOLDS_REFERS if o only refers to it
  ** until the driver ends something (a live mapping of the MDL), else 0:
  ** lower layers ask before freeing without knowing the upper ones. May be
  ** NULL. */
  int (*holds)(const dl_object *o, const dl_object *other);
  /* A tag the types of one family share (the KMDF classes), so a layer can
  ** find its own objects among all; NULL for none. */
  const void *family;
} dl_object_type;

/* What dl_object_type.holds answers. */
#define DL_HOLDS_NEEDS 1
#define DL_HOLDS_REFERS 2

/* The common fields, first in every object struct. */
#define DL_OBJECT_FIELDS                                                       \
  const dl_object_type *type;                                                  \
  dl_machine *m;                                                               \
  dl_object *parent;    /* the object it belongs to, or NULL */               \
  dl_link objects;      /* on the machine's list, in creation order */        \
  uint64_t id;          /* per machine, never reused */                        \
  void *data;           /* the binding's slot */

struct dl_object {
  DL_OBJECT_FIELDS
};

/* The object header of any object struct. */
#define DL_OBJECT(p) ((dl_object *)(void *)(p))

/* Gives o a fresh id and puts it on the machine's list; parent may be NULL. */
void dl_object_init(dl_object *o, dl_machine *m, const dl_object_type *t, dl_object *parent);

/* Like dl_object_init, for an object that is a second face of its parent
** (a device model is the hardware behind its PDO): it shares the parent's id. */
void dl_object_init_as(dl_object *o, const dl_object_type *t, dl_object *parent);

/* Tells the binding an object it holds a handle of (data != NULL) is
** going away: fn(o) runs as o leaves the machine's list, before it is freed. */
typedef void (*dl_gone_fn)(dl_object *o);
void dl_machine_on_gone(dl_machine *m, dl_gone_fn fn);

/* Takes o off the machine's list (telling the binding, see
** dl_machine_on_gone); harmless if it is not on it. */
void dl_object_unlink(dl_object *o);

/* The next object of type t after `after` (the first if after is NULL), in
** creation order; t NULL matches every type. NULL at the end. */
dl_object *dl_object_next(dl_machine *m, const dl_object *after, const dl_object_type *t);

/* A walk callback: returns nonzero to stop the walk. It may free the object
** it is given, no other. */
typedef int (*dl_walk_fn)(dl_object *o, void *arg);

/* Calls fn for each object of type t (every object if t is NULL) in
** creation order; returns the first nonzero value fn returned, else 0. */
int dl_machine_walk(dl_machine *m, const dl_object_type *t, dl_walk_fn fn, void *arg);

/* The first object that still needs or refers to `other` (a driver's free
** of it is refused), or NULL. */
dl_object *dl_machine_holder(dl_machine *m, const dl_object *other);

/* The first object that still needs `other` to go on (DL_HOLDS_NEEDS: what
** the I/O manager waits for before it frees an IRP's MDL), or NULL. */
dl_object *dl_machine_needer(dl_machine *m, const dl_object *other);

/* How many live objects of type t there are. */
size_t dl_machine_count(dl_machine *m, const dl_object_type *t);

/* The live object with this id, or NULL. */
dl_object *dl_machine_find(dl_machine *m, uint64_t id);

/* Runs every type's leak check over the machine's objects (end of a run);
** returns the number of leaks reported. */
size_t dl_machine_check_leaks(dl_machine *m);

/* Destroys every object, newest first (machine teardown). */
void dl_machine_destroy_objects(dl_machine *m);

#endif
