/*
** dl_workitem.h: work items on a simulated system worker thread
** (IoQueueWorkItem, WdfWorkItemEnqueue): a queued item runs at
** PASSIVE_LEVEL, DL_WORKER_LATENCY ns after it was queued, on the worker
** (the CPU that queued it, lowered to PASSIVE_LEVEL for the call). An item
** is queued at most once: queuing a queued item does nothing and says so.
*/
#ifndef DL_WORKITEM_H
#define DL_WORKITEM_H

#include <stdint.h>

#include "machine/dl_object.h"

typedef struct dl_machine dl_machine;
typedef struct dl_workitem dl_workitem;

/* ns from queuing to the worker running the item. */
#define DL_WORKER_LATENCY UINT64_C(10000)

/* The item's routine, at PASSIVE_LEVEL. */
typedef void (*dl_workitem_fn)(void *ctx, dl_workitem *w);

struct dl_workitem {
  DL_OBJECT_FIELDS
  dl_workitem_fn fn;
  void *ctx;
  int queued, running, dead;
  uint64_t event;
  uint64_t runs;
};

extern const dl_object_type dl_workitem_type;

/* A new idle work item (IoAllocateWorkItem / WdfWorkItemCreate's). */
int dl_workitem_new(dl_machine *m, dl_workitem_fn fn, void *ctx, dl_workitem **out);

/* Frees it, dropping a pending run; NULL is a harmless no-op. */
void dl_workitem_free(dl_workitem *w);

/* Queues it: 1 if queued now, 0 if it already was. */
int dl_workitem_queue(dl_workitem *w);

/* Runs the clock until the item is neither queued nor running
** (WdfWorkItemFlush); dl_ke_wait's status. */
int dl_workitem_flush(dl_workitem *w);

/* Whether it is queued, and how many times it ran. */
int dl_workitem_queued(const dl_workitem *w);
uint64_t dl_workitem_runs(const dl_workitem *w);

#endif
