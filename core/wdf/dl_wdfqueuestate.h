/*
** dl_wdfqueuestate.h: the KMDF I/O queue's state machine written down as
** one table: a row per state of a WDFQUEUE (FxIoQueue's AcceptRequests and
** DispatchRequests flags, its power state, its deletion), a column per call
** that depends on it, and in each cell what the framework does:
**
**   allowed; a no-op; refused with a status and nothing else (STATUS_WDF_PAUSED
**   from a retrieval, STATUS_WDF_BUSY to a forward, STATUS_INVALID_DEVICE_STATE
**   to an IRP the framework completes, STATUS_DELETE_PENDING); accepted but
**   the request is cancelled (a requeue into a purged queue); or refused with
**   report 0x10D, P1 0xA (WDF_QUEUE_FATAL_ERROR: FxIoQueue::FatalError, whose
**   WDF_QUEUE_FATAL_ERROR_DATA the lab spells as P2 the queue's id, P3 the
**   status), e.g. WdfIoQueueStop on a queue being deleted.
**
** Two registrations are checked beside the table, as FxIoQueue does after
** its m_Deleted test: one StopComplete (StopSynchronously waits through the
** same slot) and one PurgeComplete or DrainComplete (the ...Synchronously
** variants too) may be outstanding at a time, a second is 0x10D/0xA with
** STATUS_INVALID_DEVICE_REQUEST and changes nothing; ReadyNotify may be
** registered once and unregistered only while registered (the same report).
** The dispatch type's rules (a parallel queue is never retrieved from,
** ReadyNotify/Find only on manual queues) are not states: they stay with
** the calls, checked first as in the framework.
*/
#ifndef DL_WDFQUEUESTATE_H
#define DL_WDFQUEUESTATE_H

#include <stdint.h>

#include "wdf/dl_wdf.h"

/* WDF_VIOLATION parameter 1 of FxIoQueue::FatalError (WDF_QUEUE_FATAL_ERROR). */
#define DL_WDF_QUEUE_FATAL_ERROR 0xAu

/* The rows. */
enum {
  DL_QROW_STARTED,      /* accepting and dispatching, the device in D0 */
  DL_QROW_STARTED_OFF,  /* accepting and dispatching, the device not in D0 (power-managed) */
  DL_QROW_STOPPED,      /* accepting, not dispatching (WdfIoQueueStop) */
  DL_QROW_DRAINED,      /* dispatching, not accepting (WdfIoQueueDrain), in D0 */
  DL_QROW_DRAINED_OFF,  /* the same, the device not in D0 */
  DL_QROW_PURGED,       /* neither (WdfIoQueuePurge) */
  DL_QROW_DELETING,     /* its deletion reached it: its (or its device's) EvtCleanupCallback runs */
  DL_QROW_COUNT
};

/* The columns. */
enum {
  DL_QCALL_START,
  DL_QCALL_STOP,              /* WdfIoQueueStop(Queue, NULL, NULL) */
  DL_QCALL_STOP_CB,           /* with a StopComplete */
  DL_QCALL_STOP_SYNC,         /* WdfIoQueueStopSynchronously */
  DL_QCALL_PURGE,
  DL_QCALL_PURGE_CB,
  DL_QCALL_PURGE_SYNC,
  DL_QCALL_DRAIN,
  DL_QCALL_DRAIN_CB,
  DL_QCALL_DRAIN_SYNC,
  DL_QCALL_READY_ON,          /* WdfIoQueueReadyNotify(Queue, QueueReady, ...) */
  DL_QCALL_READY_OFF,         /* WdfIoQueueReadyNotify(Queue, NULL, NULL) */
  DL_QCALL_RETRIEVE,          /* WdfIoQueueRetrieveNextRequest */
  DL_QCALL_RETRIEVE_BY_FILE,  /* WdfIoQueueRetrieveRequestByFileObject */
  DL_QCALL_FIND,              /* WdfIoQueueFindRequest */
  DL_QCALL_RETRIEVE_FOUND,    /* WdfIoQueueRetrieveFoundRequest */
  DL_QCALL_ARRIVAL,           /* an IRP the I/O manager sends becomes a request here */
  DL_QCALL_FORWARD_IN,        /* WdfRequestForwardToIoQueue with this queue as the destination */
  DL_QCALL_REQUEUE_IN,        /* WdfRequestRequeue of one of its requests */
  DL_QCALL_DELETE,            /* WdfObjectDelete (a queue holding requests is refused apart) */
  DL_QCALL_COUNT
};

/* What a cell says. */
enum {
  DL_QS_ALLOW,   /* the call does its work */
  DL_QS_NOOP,    /* harmless: nothing happens */
  DL_QS_STATUS,  /* refused with `status`, nothing changes, no report */
  DL_QS_REPORT,  /* refused with report 0x10D/0xA (P3 `status`), nothing changes */
  DL_QS_CANCEL,  /* accepted, but the framework completes the request with STATUS_CANCELLED */
  DL_QS_NONE     /* cannot happen (no request of a queue being deleted is the driver's) */
};

/* A cell. */
typedef struct dl_wdfqueue_cell {
  uint8_t kind;     /* DL_QS_* */
  uint32_t status;  /* the NTSTATUS of a refusal */
} dl_wdfqueue_cell;

/* The row q is in. */
int dl_wdfqueue_row(const dl_wdf_queue *q);

/* The table's cell ({DL_QS_NONE} outside it). */
dl_wdfqueue_cell dl_wdfqueue_cell_at(int row, int call);

/* Consults the table (and the registrations above) for `call` on q: a
** refusal with a report is reported here. Returns the cell that applies. */
dl_wdfqueue_cell dl_wdfqueue_check(dl_wdf_queue *q, int call);

/* Names of a row and of a column, for messages and tests. */
const char *dl_wdfqueue_row_name(int row);
const char *dl_wdfqueue_call_name(int call);

#endif
