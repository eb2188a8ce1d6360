/*
** dl_wdfio.h: the framework's I/O beyond presenting requests: manual
** queues (WdfIoQueueRetrieveNextRequest, ...ByFileObject, ReadyNotify),
** moving requests (WdfRequestForwardToIoQueue, WdfRequestRequeue), queue
** states (WdfIoQueueStart, Stop, Purge, Drain and their callbacks),
** cancellation (WdfRequestMarkCancelable / UnmarkCancelable with
** EvtRequestCancel, EvtIoCanceledOnQueue, IoCancelIrp on a queued
** request) and a request's buffers (WdfRequestRetrieveInput/OutputBuffer,
** ...WdmMdl) as FxIoQueue.cpp and FxRequest.cpp decide them.
**
** Statuses are the framework's. Misuse the KMDF verifier catches is a
** 0x10D report: P1 0x6 (WDF_REQUEST_FATAL_ERROR) with P2 0x4
** (INFORMATION_LENGTH_MISMATCH) when a request completes successfully
** with Information beyond its buffer (the framework's bug check); the
** misuses where KMDF's verifier breaks into the debugger
** (FxVerifierDbgBreakPoint: a request the driver does not own forwarded or
** requeued, a request forwarded to its own queue or to another device's,
** requeued on a queue that is not manual, marked cancelable twice,
** completed while still cancelable, retrieved from a sequential queue with
** none outstanding) are 0x10D reports with P1 0x6 and P2 0 naming the
** call; the call then returns what KMDF returns. Which call a request's or
** a queue's state allows is decided by their tables (dl_wdfreqstate.h,
** dl_wdfqueuestate.h: a queue's misuse is 0x10D/0xA, WDF_QUEUE_FATAL_ERROR).
*/
#ifndef DL_WDFIO_H
#define DL_WDFIO_H

#include "wdf/dl_wdf.h"

struct dl_mdl;

/* Queue state callbacks: WdfIoQueueStop's StopComplete, Purge's
** PurgeComplete, Drain's DrainComplete, ReadyNotify's QueueReady. */
enum { DL_WDF_QCB_STOP = 1, DL_WDF_QCB_PURGE, DL_WDF_QCB_DRAIN, DL_WDF_QCB_READY };

/* WDF_REQUEST_FATAL_ERROR_INFORMATION_LENGTH_MISMATCH (P2 of 0x10D/0x6). */
#define DL_WDF_INFORMATION_LENGTH_MISMATCH 0x4u

/* WdfIoQueueRetrieveNextRequest (file NULL) / ...RetrieveRequestByFileObject:
** the first waiting request (on that file) becomes the driver's.
** STATUS_INVALID_DEVICE_STATE on a parallel queue, STATUS_WDF_PAUSED if
** the queue is stopped or powered off, STATUS_NO_MORE_ENTRIES if none. */
uint32_t dl_wdf_queue_retrieve(dl_wdf_queue *q, const void *file, dl_wdf_request **out);

/* WdfIoQueueFindRequest: the waiting request after `found` (NULL: the
** first) on `file` (NULL: any), with a reference the driver must release
** (WdfObjectDereference); the driver does not own it. Manual queues only
** (STATUS_INVALID_DEVICE_REQUEST); STATUS_NOT_FOUND if `found` no longer
** waits in q, STATUS_NO_MORE_ENTRIES at the end. */
uint32_t dl_wdf_queue_find(dl_wdf_queue *q, dl_wdf_request *found, const void *file, dl_wdf_request **out);

/* WdfIoQueueRetrieveFoundRequest: `found`, still waiting in q, becomes the
** driver's (STATUS_NOT_FOUND if it left the queue, STATUS_WDF_PAUSED as
** for dl_wdf_queue_retrieve). */
uint32_t dl_wdf_queue_retrieve_found(dl_wdf_queue *q, dl_wdf_request *found, dl_wdf_request **out);

/* WdfRequestForwardToIoQueue: a request the driver owns joins dest's
** tail (dest presents it as it may). STATUS_INVALID_DEVICE_REQUEST for the
** misuses above, STATUS_WDF_BUSY if dest is not accepting requests (the
** driver keeps the request). */
uint32_t dl_wdf_request_forward(dl_wdf_request *r, dl_wdf_queue *dest);

/* WdfRequestRequeue: a request the driver owns goes back to the head of
** its manual queue (STATUS_INVALID_DEVICE_REQUEST otherwise); a purged
** queue cancels it instead and still answers STATUS_SUCCESS, as KMDF does. */
uint32_t dl_wdf_request_requeue(dl_wdf_request *r);

/* WdfIoQueueStart: the queue accepts and presents requests again. */
void dl_wdf_queue_start(dl_wdf_queue *q);

/* WdfIoQueueStop / Purge / Drain: stop presenting / stop accepting and
** cancel the waiting requests (and the driver's cancelable ones) / stop
** accepting and let the waiting ones be presented. With `callback` the
** driver's StopComplete / PurgeComplete / DrainComplete runs once the
** driver owns no request of the queue (and, for Drain, none waits).
** STATUS_SUCCESS, or the status of a refusal the queue's state table
** (dl_wdfqueuestate.h) reported: the queue is unchanged. */
uint32_t dl_wdf_queue_stop(dl_wdf_queue *q, int callback);
uint32_t dl_wdf_queue_purge(dl_wdf_queue *q, int callback);
uint32_t dl_wdf_queue_drain(dl_wdf_queue *q, int callback);

/* WdfIoQueueStopSynchronously / PurgeSynchronously / DrainSynchronously
** (op DL_WDF_QCB_STOP, PURGE, DRAIN): the change their wait starts with
** (the caller then calls dl_wdf_queue_wait_idle). 0, or -1 if the state
** table refused the call (reported, nothing changed: no wait). */
int dl_wdf_queue_change_sync(dl_wdf_queue *q, int op);

/* Is the queue idle for op (DL_WDF_QCB_STOP, PURGE, DRAIN)? */
int dl_wdf_queue_idle(const dl_wdf_queue *q, int op);

/* How long a ...Synchronously wait runs the simulated clock before the lab
** calls it endless (Windows would wait forever): 60 s of simulated time. */
#define DL_WDF_SYNC_WAIT_LIMIT UINT64_C(60000000000)

/* The ...Synchronously variants' wait, at PASSIVE_LEVEL (0xE6/0x13
** otherwise): runs the simulated clock until the queue is idle for op.
** Returns 1 once idle, 0 if no simulated event is left, or
** DL_WDF_SYNC_WAIT_LIMIT passed, while the driver still owns requests. */
int dl_wdf_queue_wait_idle(dl_wdf_queue *q, int op);

/* WdfIoQueueReadyNotify: on a manual queue only (STATUS_INVALID_DEVICE_REQUEST
** otherwise); on=1 registers (called now if requests wait), 0 unregisters
** (once registered, while the queue does not dispatch: dl_wdfqueuestate.h). */
uint32_t dl_wdf_queue_ready_notify(dl_wdf_queue *q, int on);

/* The framework completes a request itself with status and no information
** (through ops->complete_irp), then lets its queue go on. */
void dl_wdf_request_fail(dl_wdf_request *r, uint32_t status);

/* WdfRequestMarkCancelable (ex 0) / WdfRequestMarkCancelableEx (ex 1):
** STATUS_CANCELLED if the IRP was cancelled already; then MarkCancelable
** calls EvtRequestCancel at once, MarkCancelableEx leaves the completion
** to the driver. */
uint32_t dl_wdf_request_mark_cancelable(dl_wdf_request *r, int ex);

/* WdfRequestUnmarkCancelable: STATUS_CANCELLED if EvtRequestCancel ran or
** runs (the driver must not complete it but from there). */
uint32_t dl_wdf_request_unmark_cancelable(dl_wdf_request *r);

/* WdfRequestIsCanceled. */
int dl_wdf_request_is_canceled(dl_wdf_request *r);

/* Queue callbacks: whether EvtIoCanceledOnQueue is registered. */
void dl_wdf_queue_set_canceled_on_queue(dl_wdf_queue *q, int has);

/* WDF_IO_QUEUE_CONFIG.AllowZeroLengthRequests (default FALSE: a read or
** write of length 0 is completed by the framework with STATUS_SUCCESS and
** 0 bytes instead of being presented or retrieved). */
void dl_wdf_queue_set_allow_zero_length(dl_wdf_queue *q, int allow);

/* The queue took r for the driver (presented or retrieved): completes it
** instead and returns 1 if it is a zero-length read or write the queue does
** not allow. */
int dl_wdf_request_zero_length(dl_wdf_request *r);

/* WdfRequestRetrieveInputBuffer (output 0) / OutputBuffer (output 1): the
** buffer's system address and length, or STATUS_INVALID_DEVICE_REQUEST
** (wrong direction for the major, METHOD_NEITHER or neither I/O),
** STATUS_BUFFER_TOO_SMALL (no buffer, or shorter than `required`). */
uint32_t dl_wdf_request_buffer(dl_wdf_request *r, int output, uint64_t required, uint64_t *va,
                               uint64_t *len);

/* WdfRequestRetrieveInputWdmMdl / OutputWdmMdl: the IRP's MDL, or for a
** buffered request one the framework builds over the system buffer (freed
** at completion); statuses as dl_wdf_request_buffer. */
uint32_t dl_wdf_request_mdl(dl_wdf_request *r, int output, struct dl_mdl **out);

/* WdfRequestRetrieveInputMemory / OutputMemory: the buffer as a WDFMEMORY,
** made once (the same object again), a child of the request that its
** driver may not delete and that goes at completion; statuses as
** dl_wdf_request_buffer (any size). */
uint32_t dl_wdf_request_memory(dl_wdf_request *r, int output, struct dl_wdf_memory **out);

/* The completion rule dl_wdf_request_complete applies beside the state
** table (dl_wdfreqbuf.c): the information length (returned, cut to the
** buffer once reported). */
uint64_t dl_wdf_request_verify_complete(dl_wdf_request *r, uint32_t status, uint64_t information);

/* What completion releases: the framework's MDL, the IRP's cancel routine. */
void dl_wdf_request_release(dl_wdf_request *r);

/* After a presentation or completion: the queue's pending state callback
** and ReadyNotify (called by dl_wdf_queue_dispatch). */
void dl_wdf_queue_notify(dl_wdf_queue *q);

/* The framework cancels r waiting in its queue (a purge): EvtIoCanceledOnQueue
** gets it, or the framework completes it with STATUS_CANCELLED. */
void dl_wdf_request_cancel_waiting(dl_wdf_request *r);

/* While a request waits in its queue, IoCancelIrp reaches the framework. */
void dl_wdf_request_arm_queue_cancel(dl_wdf_request *r);

#endif
