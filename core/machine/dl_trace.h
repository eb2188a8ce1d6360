/*
** dl_trace.h: the machine's event trace and run statistics.
** Every notable event (request start/complete, channel grant, map, flush,
** device program, DMA start/end, interrupt, ISR, DPC queued/run, verifier
** report, injected fault) is recorded with its time, CPU, IRQL and object
** ids, in a ring of fixed capacity or growing without bound (capacity 0).
** A running hash over every record ever emitted (a multiply-xorshift of
** each 64-bit field, so independent of the ring's capacity) identifies a
** run: same script and seed, same hash. With recording off
** (dl_trace_enable(t, 0)) records are only counted: no record, no hash.
*/
#ifndef DL_TRACE_H
#define DL_TRACE_H

#include <stddef.h>
#include <stdint.h>

#include "machine/dl_record.h"
#include "machine/dl_stats.h"

typedef struct dl_machine dl_machine;
typedef struct dl_trace dl_trace;

/* Run statistics. */
typedef struct dl_stats {
  uint64_t requests, requests_failed, transfers, bytes_moved, bytes_bounced;
  uint64_t interrupts, interrupts_unclaimed, isrs, dpcs;
  uint64_t dpc_latency_min, dpc_latency_max, dpc_latency_sum;
  uint64_t channel_waits, channel_wait_ns;
  uint32_t map_registers_in_use, map_registers_high_water;
  double map_register_ns;          /* integral of registers in use over time */
  uint64_t occupancy_since, occupancy_last;
} dl_stats;

/* Creates a trace keeping the last `capacity` records (0: all of them). */
dl_trace *dl_trace_new(size_t capacity);

/* Frees the trace; NULL is a harmless no-op. */
void dl_trace_free(dl_trace *t);

/* Records an event on the machine (cpu and irql are the current ones). */
void dl_trace_emit(dl_machine *m, dl_trace_kind kind, uint64_t obj, uint64_t a, uint64_t b);

/* Turns recording on or off; off, records are counted only (no ring, no
** hash); statistics go on. */
void dl_trace_enable(dl_trace *t, int on);

/* The most records a bounded ring may keep (48 bytes each: 3 GiB). */
#define DL_TRACE_MAX_CAPACITY ((size_t)1 << 26)

/* Changes the ring capacity (0: unbounded); keeps the newest records.
** DL_ELIMIT above DL_TRACE_MAX_CAPACITY, DL_ENOMEM without memory. */
int dl_trace_set_capacity(dl_trace *t, size_t capacity);

/* Records kept, and record i of them (0 is the oldest kept). */
size_t dl_trace_count(const dl_trace *t);
const dl_trace_record *dl_trace_at(const dl_trace *t, size_t i);

/* Records ever emitted, and the running hash over all of them. */
uint64_t dl_trace_emitted(const dl_trace *t);
uint64_t dl_trace_hash(const dl_trace *t);

/* Name of a kind ("dpc_run"...). */
const char *dl_trace_kind_name(dl_trace_kind kind);

/* The statistics, updated by the engine as it runs. */
dl_stats *dl_trace_stats(dl_trace *t);

/* Records a DPC latency sample. */
void dl_stats_dpc_latency(dl_trace *t, uint64_t ns);

/* Median DPC latency (from a histogram with 1/64 relative precision). */
uint64_t dl_stats_dpc_latency_median(const dl_trace *t);

/* The request latency and gauges (dl_stats.h) of the run. */
dl_runstats *dl_trace_runstats(dl_trace *t);

/* A sink that sees every record as it is emitted (a streamed trace file):
** record(ctx, r) for each, dpc_removed(ctx, now) for KeRemoveQueueDpc, and
** close(ctx) when the trace is freed or another sink replaces it. */
typedef struct dl_trace_sink {
  void (*record)(void *ctx, const dl_trace_record *r);
  void (*dpc_removed)(void *ctx, uint64_t now);
  void (*close)(void *ctx);
  void *ctx;
} dl_trace_sink;

/* Attaches a sink (NULL: none); the previous one is closed. */
void dl_trace_set_sink(dl_trace *t, const dl_trace_sink *sink);

/* KeRemoveQueueDpc took a DPC off its queue (no record: the hash stays). */
void dl_trace_dpc_removed(dl_machine *m);

/* Map registers in use changed by delta at time now. */
void dl_stats_map_registers(dl_trace *t, int64_t delta, uint64_t now);

/* Time-weighted mean of map registers in use up to now. */
double dl_stats_map_registers_mean(const dl_trace *t, uint64_t now);

#endif
