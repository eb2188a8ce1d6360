/*
** dl_traceout.h: the trace written for other tools.
**
** Chrome trace-event JSON (what Perfetto UI and chrome://tracing open),
** written record by record so that a run of any length streams to a file
** with bounded memory:
**   pid 1 "CPUs"      per CPU an ISR track (a slice from the interrupt's
**                     delivery... its ISR, at DIRQL) and a DPC track (a slice
**                     from the DPC's insertion to its run, at DISPATCH_LEVEL);
**   pid 2 "devices"   per device its DMA transfers (DMA start to end);
**   pid 3 "requests"  each request from IoCallDriver to IoCompleteRequest on
**                     the first free lane, args: its latency split;
**   pid 4 "adapters"  channel requests and grants, maps, flushes, S/G lists;
**   pid 5 "machine"   counters (map registers in use, DPC queue depth, bytes
**                     in flight, requests in flight) and instants (verifier
**                     reports, faults, the script's own records).
** Slices are complete events ("X", written when they end, so each track's
** timestamps never go back); flow events (v1: "s", "t", "f", bound to the
** enclosing slice, id = the IRP id) link a request to its transfers,
** interrupts, DPCs and its completion. Timestamps are in microseconds with
** nanosecond decimals.
**
** VCD (GTKWave): from the records kept, every interrupt vector as an event,
** each device's DMA busy line, each adapter's channel grant (held from grant
** to the freeing of its map registers), and the counters above as vectors;
** timescale 1 ns.
*/
#ifndef DL_TRACEOUT_H
#define DL_TRACEOUT_H

#include <stdint.h>

#include "machine/dl_trace.h"

typedef struct dl_chrome dl_chrome;

/* Opens path and writes the JSON header; DL_EIO if it cannot be created,
** DL_ENOMEM. */
int dl_chrome_open(const char *path, dl_chrome **out);

/* Writes what one record adds (records in emission order). */
void dl_chrome_record(dl_chrome *w, const dl_trace_record *r);

/* A DPC left its queue without running at time now. */
void dl_chrome_dpc_removed(dl_chrome *w, uint64_t now);

/* Bytes written so far. */
uint64_t dl_chrome_bytes(const dl_chrome *w);

/* Writes the trailer and closes; DL_EIO if a write failed. NULL is a no-op. */
int dl_chrome_close(dl_chrome *w);

/* Streams every record t emits from now on to path as Chrome JSON (the
** file is complete when the trace is freed). DL_EIO, DL_ENOMEM. */
int dl_trace_stream_chrome(dl_trace *t, const char *path);

/* Writes the records t keeps as Chrome JSON to path. */
int dl_trace_export_chrome(const dl_trace *t, const char *path);

/* Writes the records t keeps as VCD to path. */
int dl_trace_export_vcd(const dl_trace *t, const char *path);

#endif
