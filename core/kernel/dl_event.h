/*
** dl_event.h: kernel events (KEVENT) and waiting on the simulated clock.
**
** The lab runs one driver thread: a wait at PASSIVE_LEVEL (or APC_LEVEL)
** runs the machine's clock, event by event (DPCs, timers, interrupts, work
** items, device models), until what it waits for happens or its timeout
** passes, so the time a wait takes is simulated time. A notification event
** stays signalled until cleared; a synchronization event satisfies one wait
** and resets itself.
**
** IRQL rules: KeSetEvent above DISPATCH_LEVEL is bug check 0xC4 with
** parameter 1 0x80 (its documented value); KeWaitForSingleObject with no
** timeout or a nonzero one must run at IRQL <= APC_LEVEL (a zero timeout, a
** poll, at <= DISPATCH_LEVEL): waiting at DISPATCH_LEVEL would switch
** threads on a CPU that may not, bug check 0xA IRQL_NOT_LESS_OR_EQUAL; the
** lab records it and polls instead.
*/
#ifndef DL_EVENT_H
#define DL_EVENT_H

#include <stdint.h>

#include "machine/dl_object.h"

typedef struct dl_machine dl_machine;

/* EVENT_TYPE (wdm.h). */
enum { DL_NOTIFICATION_EVENT = 0, DL_SYNCHRONIZATION_EVENT = 1 };

/* Parameter 1 of bug check 0xC4 for KeSetEvent above DISPATCH_LEVEL. */
#define DL_C4_SET_EVENT_IRQL 0x80u

/* The most clock events a wait without a timeout runs before it gives up
** (DL_ELIMIT): a periodic timer would otherwise keep it going forever. */
#define DL_WAIT_EVENT_LIMIT UINT64_C(1000000)

/* A KEVENT, owned by its machine. */
typedef struct dl_kevent {
  DL_OBJECT_FIELDS
  int kind;                /* DL_*_EVENT */
  int signaled;
} dl_kevent;

extern const dl_object_type dl_kevent_type;

/* KeInitializeEvent(Event, Type, State). DL_EINVAL for an unknown type. */
int dl_kevent_new(dl_machine *m, int type, int state, dl_kevent **out);

/* Frees an event; NULL is a harmless no-op. */
void dl_kevent_free(dl_kevent *e);

/* KeSetEvent: signals it; returns the previous state. */
int dl_kevent_set(dl_kevent *e);

/* KeResetEvent (returns the previous state) and KeClearEvent. */
int dl_kevent_reset(dl_kevent *e);

/* KeReadStateEvent. */
int dl_kevent_state(const dl_kevent *e);

/* The most clock events a wait runs before it gives up (0: no limit): the
** clock's run limit (dl_clock_set_run_limit), and for a wait without a
** deadline at most DL_WAIT_EVENT_LIMIT. */
uint64_t dl_ke_wait_limit(dl_machine *m, int has_deadline);

/* What a wait waits for: nonzero when it is satisfied. */
typedef int (*dl_wait_fn)(void *ctx);

/* Runs the clock until done(ctx) or, if has_deadline, until simulated time
** `deadline` (ns) passes; *satisfied says which. DL_ESTATE if nothing is
** pending that could ever satisfy a wait without deadline (or the run was
** stopped), DL_ELIMIT after dl_ke_wait_limit events without one. */
int dl_ke_wait(dl_machine *m, dl_wait_fn done, void *ctx, int has_deadline, uint64_t deadline,
               int *satisfied);

/* KeStallExecutionProcessor: the current CPU spins `microseconds` at its
** IRQL (any). The clock runs through that time: devices progress, and
** interrupts and DPCs run as the spinning CPU's IRQL lets them (an ISR
** whose DIRQL is above it preempts the spin; a DPC for this CPU, if the
** spin is at DISPATCH_LEVEL or above, waits until it is over). The return
** is dl_ke_wait's (DL_ESTATE if the run was stopped). */
int dl_ke_stall(dl_machine *m, uint32_t microseconds);

/* KeWaitForSingleObject on an event: Timeout NULL waits for ever, else
** *timeout in the kernel's units (100 ns, negative relative, positive
** absolute). *status gets STATUS_SUCCESS or STATUS_TIMEOUT; the return is
** dl_ke_wait's. */
int dl_kevent_wait(dl_kevent *e, const int64_t *timeout, uint32_t *status);

#endif
