/*
** dl_trace.c: the record ring, the run hash and the statistics.
*/
#include "machine/dl_trace.h"

#include <stdlib.h>
#include <string.h>

#include "base/dl_hist.h"
#include "base/dl_status.h"
#include "machine/dl_clock.h"
#include "machine/dl_context.h"
#include "base/dl_vec.h"


struct dl_trace {
  dl_trace_record *ring;
  size_t cap, len, head;                 /* head: index of the oldest */
  size_t limit;                          /* records kept at most (0: all) */
  int enabled;
  uint64_t emitted, hash;
  dl_stats stats;
  uint64_t *hist;                        /* DPC latency histogram */
  dl_runstats *rs;                       /* request latency, gauges */
  dl_trace_sink sink;                    /* a streamed trace, if any */
  int has_sink;
};

static const char *const kind_names[DL_TR_KIND_COUNT] = {
  "request_start", "request_complete", "channel_request", "channel_grant", "map", "flush",
  "free_map_registers", "sg_list", "device_program", "dma_start", "dma_end", "interrupt",
  "isr", "dpc_queued", "dpc_run", "verifier", "fault", "user",
  "adapter_refused", "swiotlb_full",
};

/* Creates a trace keeping the last `capacity` records (0: all of them). */
dl_trace *dl_trace_new(size_t capacity) {
  dl_trace *t = calloc(1, sizeof *t);
  if (!t) return NULL;
  t->hist = calloc(DL_HIST_BUCKETS, sizeof *t->hist);
  t->rs = dl_runstats_new();
  if (!t->hist || !t->rs) {
    free(t->hist);
    dl_runstats_free(t->rs);
    free(t);
    return NULL;
  }
  t->enabled = 1;
  t->hash = UINT64_C(0xcbf29ce484222325);
  t->stats.dpc_latency_min = UINT64_MAX;
  if (dl_trace_set_capacity(t, capacity)) {
    dl_trace_free(t);
    return NULL;
  }
  return t;
}

/* Frees the trace; NULL is a harmless no-op. */
void dl_trace_free(dl_trace *t) {
  if (!t) return;
  dl_trace_set_sink(t, NULL);
  dl_runstats_free(t->rs);
  free(t->ring);
  free(t->hist);
  free(t);
}

/* Changes the ring capacity (0: unbounded); keeps the newest records. The
** ring is allocated as records come, not up front: a machine keeping the
** last 65 536 records costs a few KiB until it has run that far. */
int dl_trace_set_capacity(dl_trace *t, size_t capacity) {
  if (capacity > DL_TRACE_MAX_CAPACITY) return DL_ELIMIT;
  size_t keep = t->len, cap = keep > 64 ? keep : 64;
  if (capacity && keep > capacity) keep = capacity;
  if (capacity && cap > capacity) cap = capacity;
  dl_trace_record *ring = malloc(cap * sizeof *ring);
  if (!ring) return DL_ENOMEM;
  for (size_t i = 0; i < keep; i++) ring[i] = *dl_trace_at(t, t->len - keep + i);
  free(t->ring);
  t->ring = ring;
  t->cap = cap;
  t->len = keep;
  t->head = 0;
  t->limit = capacity;
  return 0;
}

/* Turns recording (records and hash) on or off. */
void dl_trace_enable(dl_trace *t, int on) { t->enabled = on; }

/* One 64-bit word into the running hash: a multiply per word, not per
** byte (the record's five words cost five multiplies). The rotation
** carries the high bits of each product down, so order and every bit of
** every word count. */
static uint64_t mix(uint64_t h, uint64_t v) {
  h = (h ^ v) * UINT64_C(0x9e3779b97f4a7c15);
  return h ^ (h >> 29);
}

/* Appends to the ring, growing it up to the limit (until then the oldest
** record is at index 0, so growing keeps the order); drops the oldest when
** full. Out of memory, a bounded ring stays at the size it has. */
static void store(dl_trace *t, const dl_trace_record *r) {
  if (t->len == t->cap && t->head == 0 && (t->limit == 0 || t->cap < t->limit)) {
    size_t n;
    if (!dl_vec_grow_(&t->ring, sizeof *t->ring, t->cap, t->len + 1, t->limit ? t->limit : SIZE_MAX, &n))
      t->cap = n;
    else if (t->limit == 0)
      return;  /* the record is lost; the hash still has it */
  }
  if (t->len < t->cap) {  /* head < cap and len < cap: one subtraction wraps */
    size_t i = t->head + t->len++;
    t->ring[i >= t->cap ? i - t->cap : i] = *r;
  } else {
    t->ring[t->head] = *r;
    if (++t->head == t->cap) t->head = 0;
  }
}

/* Records an event on the machine: the run statistics and a sink (a
** streamed trace file) see every record; with recording off the ring and
** the hash cost nothing. */
void dl_trace_emit(dl_machine *m, dl_trace_kind kind, uint64_t obj, uint64_t a, uint64_t b) {
  dl_trace *t = dl_machine_trace(m);
  dl_trace_record r = {++t->emitted, dl_clock_now(dl_machine_clock(m)),
                       (uint8_t)dl_machine_current_cpu(m), dl_machine_irql(m), (uint16_t)kind,
                       obj, a, b};
  dl_runstats_observe(t->rs, &r);
  if (t->has_sink) t->sink.record(t->sink.ctx, &r);
  if (!t->enabled) return;
  uint64_t h = t->hash;
  h = mix(h, r.time);
  h = mix(h, ((uint64_t)r.cpu << 24) | ((uint64_t)r.irql << 16) | r.kind);
  h = mix(h, obj);
  h = mix(h, a);
  t->hash = mix(h, b);
  store(t, &r);
}

/* The request latency and gauges of the run. */
dl_runstats *dl_trace_runstats(dl_trace *t) { return t->rs; }

/* Attaches a sink (NULL: none); the previous one is closed. */
void dl_trace_set_sink(dl_trace *t, const dl_trace_sink *sink) {
  if (t->has_sink && t->sink.close) t->sink.close(t->sink.ctx);
  t->has_sink = sink != NULL;
  if (sink) t->sink = *sink;
}

/* KeRemoveQueueDpc took a DPC off its queue. */
void dl_trace_dpc_removed(dl_machine *m) {
  dl_trace *t = dl_machine_trace(m);
  uint64_t now = dl_clock_now(dl_machine_clock(m));
  dl_runstats_dpc_removed(t->rs, now);
  if (t->has_sink && t->sink.dpc_removed) t->sink.dpc_removed(t->sink.ctx, now);
}

/* Records kept. */
size_t dl_trace_count(const dl_trace *t) { return t->len; }

/* Record i of those kept (0 is the oldest). */
const dl_trace_record *dl_trace_at(const dl_trace *t, size_t i) {
  return i < t->len ? &t->ring[(t->head + i) % t->cap] : NULL;
}

uint64_t dl_trace_emitted(const dl_trace *t) { return t->emitted; }
uint64_t dl_trace_hash(const dl_trace *t) { return t->hash; }
dl_stats *dl_trace_stats(dl_trace *t) { return &t->stats; }

/* Name of a kind. */
const char *dl_trace_kind_name(dl_trace_kind kind) {
  return kind < DL_TR_KIND_COUNT ? kind_names[kind] : "?";
}

/* Records a DPC latency sample. */
void dl_stats_dpc_latency(dl_trace *t, uint64_t ns) {
  dl_stats *s = &t->stats;
  s->dpcs++;
  s->dpc_latency_sum += ns;
  if (ns < s->dpc_latency_min) s->dpc_latency_min = ns;
  if (ns > s->dpc_latency_max) s->dpc_latency_max = ns;
  t->hist[dl_hist_bucket(ns)]++;
}

/* Median DPC latency. */
uint64_t dl_stats_dpc_latency_median(const dl_trace *t) {
  uint64_t n = t->stats.dpcs, seen = 0;
  if (n == 0) return 0;
  for (size_t b = 0; b < DL_HIST_BUCKETS; b++) {
    seen += t->hist[b];
    if (seen * 2 >= n) {  /* the bucket's middle, kept within what was seen */
      uint64_t v = dl_hist_value(b);
      if (v < t->stats.dpc_latency_min) v = t->stats.dpc_latency_min;
      return v > t->stats.dpc_latency_max ? t->stats.dpc_latency_max : v;
    }
  }
  return t->stats.dpc_latency_max;
}

/* Map registers in use changed by delta at time now. */
void dl_stats_map_registers(dl_trace *t, int64_t delta, uint64_t now) {
  dl_stats *s = &t->stats;
  s->map_register_ns += (double)s->map_registers_in_use * (double)(now - s->occupancy_last);
  s->occupancy_last = now;
  s->map_registers_in_use = (uint32_t)((int64_t)s->map_registers_in_use + delta);
  if (s->map_registers_in_use > s->map_registers_high_water)
    s->map_registers_high_water = s->map_registers_in_use;
}

/* Time-weighted mean of map registers in use up to now. */
double dl_stats_map_registers_mean(const dl_trace *t, uint64_t now) {
  const dl_stats *s = &t->stats;
  double total = s->map_register_ns + (double)s->map_registers_in_use * (double)(now - s->occupancy_last);
  return now ? total / (double)now : 0.0;
}
