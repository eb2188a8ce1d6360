/*
** dl_stats.h: what a what-if experiment measures, decided from the trace
** records as they are emitted (so it never changes a run's hash):
**
**  - per-request latency, split into queueing (sent until the driver first
**    works on it: a channel request, an S/G list, a map, a device program
**    or a DMA start), channel wait (AllocateAdapterChannel or
**    GetScatterGatherList until the grant), transfer (the device moving the
**    bytes: DMA start to DMA end) and completion (the rest: device setup,
**    interrupt and DPC delivery, the driver's own work), the four adding up
**    to the total; each with count, min, max, mean, p50/p90/p99 (from a
**    histogram of 64 buckets per power of two: within 1/128 of the true
**    value, exact below 128 ns and for min and max) and a power-of-two
**    histogram;
**  - gauges over time: map registers in use, DPC queue depth, bytes in
**    flight (DMA started, not ended), requests in flight; each with its
**    current value, maximum, time-weighted mean, and a series of at most
**    DL_SERIES_BINS bins (mean and max per bin, bins doubling in width as the
**    run grows, so memory stays bounded however long the run).
**
** Attribution: device-side records (channel, map, S/G, program, DMA) belong
** to the oldest request still in flight: requests are served in order, as
** StartIo and sequential queues serve them. With several devices or
** parallel queues the split is an approximation; totals never are.
*/
#ifndef DL_STATS_H
#define DL_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "machine/dl_record.h"

typedef struct dl_runstats dl_runstats;

/* The parts of a request's latency (DL_LAT_TOTAL is their sum). */
typedef enum dl_phase {
  DL_LAT_TOTAL, DL_LAT_QUEUE, DL_LAT_CHANNEL, DL_LAT_TRANSFER, DL_LAT_COMPLETION, DL_LAT_COUNT
} dl_phase;

/* Quantities that change over time. */
typedef enum dl_gauge {
  DL_G_MAP_REGISTERS, DL_G_DPC_QUEUE, DL_G_BYTES_IN_FLIGHT, DL_G_REQUESTS_IN_FLIGHT, DL_G_COUNT
} dl_gauge;

#define DL_SERIES_BINS 512
#define DL_HIST_POW2 64

/* A distribution's summary. */
typedef struct dl_dist {
  uint64_t count, min, max, sum, p50, p90, p99;
} dl_dist;

/* One bin of a gauge's series: [start, start + width). */
typedef struct dl_sample {
  uint64_t start;
  double mean;
  uint64_t max;
} dl_sample;

/* The latency of one completed request, by phase (ns). */
typedef struct dl_request_times {
  uint64_t id, sent, done, status;
  uint64_t ns[DL_LAT_COUNT];
} dl_request_times;

/* Creates an empty tracker; NULL when out of memory. */
dl_runstats *dl_runstats_new(void);

/* Frees it; NULL is a harmless no-op. */
void dl_runstats_free(dl_runstats *s);

/* Follows one record (in emission order). */
void dl_runstats_observe(dl_runstats *s, const dl_trace_record *r);

/* A DPC left its queue without running (KeRemoveQueueDpc) at time now. */
void dl_runstats_dpc_removed(dl_runstats *s, uint64_t now);

/* The request the last observed record was attributed to (its IRP id), 0
** for none. */
uint64_t dl_runstats_owner(const dl_runstats *s);

/* The request the last observed request_complete record ended, or NULL. */
const dl_request_times *dl_runstats_last_completed(const dl_runstats *s);

/* Requests completed, and how many failed. */
uint64_t dl_runstats_completed(const dl_runstats *s);

/* Summary of one latency phase. */
void dl_runstats_latency(const dl_runstats *s, dl_phase p, dl_dist *out);

/* Power-of-two histogram of a phase: counts[k] is the number of requests
** whose latency v has 2^(k-1) <= v < 2^k (counts[0]: v = 0). Returns the
** number of buckets up to the last non-empty one. */
size_t dl_runstats_histogram(const dl_runstats *s, dl_phase p, uint64_t counts[DL_HIST_POW2]);

/* A gauge's current value and its maximum so far. */
uint64_t dl_runstats_gauge(const dl_runstats *s, dl_gauge g);
uint64_t dl_runstats_gauge_max(const dl_runstats *s, dl_gauge g);

/* A gauge's time-weighted mean over [0, now]. */
double dl_runstats_gauge_mean(const dl_runstats *s, dl_gauge g, uint64_t now);

/* A gauge's series up to now: fills at most cap samples, returns the count
** and sets *width to the bins' width in ns. */
size_t dl_runstats_series(const dl_runstats *s, dl_gauge g, uint64_t now, dl_sample *out,
                          size_t cap, uint64_t *width);

/* Name of a phase ("queue"...) and of a gauge ("map_registers"...). */
const char *dl_phase_name(dl_phase p);
const char *dl_gauge_name(dl_gauge g);

#endif
