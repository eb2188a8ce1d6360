/*
** dl_list.h: an intrusive doubly linked list, for the objects a machine
** owns (MDLs, and later adapters, buffers...), so that it can walk them for
** leak reports and free them all when it goes away.
*/
#ifndef DL_LIST_H
#define DL_LIST_H

#include <stddef.h>

typedef struct dl_link { struct dl_link *prev, *next; } dl_link;

/* Makes `head` an empty list. */
static inline void dl_list_init(dl_link *head) { head->prev = head->next = head; }

/* Returns 1 if the list is empty. */
static inline int dl_list_empty(const dl_link *head) { return head->next == head; }

/* Appends `l` at the tail of `head`. */
static inline void dl_list_append(dl_link *head, dl_link *l) {
  l->prev = head->prev;
  l->next = head;
  head->prev->next = l;
  head->prev = l;
}

/* Unlinks `l` from whatever list holds it. */
static inline void dl_list_remove(dl_link *l) {
  l->prev->next = l->next;
  l->next->prev = l->prev;
  l->prev = l->next = l;
}

/* The structure that contains link `l` as member `field`. */
#define DL_CONTAINER(l, type, field) ((type *)(void *)((char *)(l) - offsetof(type, field)))

#endif
