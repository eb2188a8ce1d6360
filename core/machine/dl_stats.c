/*
** dl_stats.c: request latency by phase, gauges over time (see dl_stats.h).
*/
#include "machine/dl_stats.h"

#include <stdlib.h>
#include <string.h>

#include "base/dl_hist.h"
#include "base/dl_vec.h"

#define FIRST_WIDTH 1000                 /* ns: the series' first bin width */

typedef struct gauge {
  uint64_t value, max, last;             /* last: when value last changed */
  size_t last_bin;                       /* the bin holding `last` at the current width */
  uint64_t bin_end;                      /* where that bin ends */
  double area;                           /* integral of value over [0, last) */
  double bin_area[DL_SERIES_BINS];
  uint64_t bin_max[DL_SERIES_BINS];
} gauge;

typedef struct req {
  uint64_t id, sent, started, chan_since, dma_since, channel, transfer;
  int has_started, chan_open, dma_open;
} req;

typedef struct dist {
  uint64_t count, min, max, sum;
  uint64_t *hist;                        /* DL_HIST_BUCKETS counts, made on first use */
} dist;

typedef struct dma_open {
  uint64_t dev, bytes;
} dma_open;

struct dl_runstats {                    /* what every record touches first, together */
  uint64_t width;                        /* the bins' width, ns */
  uint64_t limit;                        /* width * DL_SERIES_BINS, or UINT64_MAX */
  uint64_t owner;
  req *inflight;                         /* in the order they were sent */
  size_t n;
  dma_open *dma;
  size_t ndma;
  size_t cap, dma_cap;
  gauge g[DL_G_COUNT];
  dist d[DL_LAT_COUNT];
  uint64_t completed;
  dl_request_times last;
  int has_last;
};

static const char *const phase_names[DL_LAT_COUNT] = {"latency", "queue", "channel_wait",
                                                      "transfer", "completion"};
static const char *const gauge_names[DL_G_COUNT] = {"map_registers", "dpc_queue",
                                                    "bytes_in_flight", "requests_in_flight"};

const char *dl_phase_name(dl_phase p) { return p < DL_LAT_COUNT ? phase_names[p] : "?"; }
const char *dl_gauge_name(dl_gauge g) { return g < DL_G_COUNT ? gauge_names[g] : "?"; }

/* Creates an empty tracker. */
dl_runstats *dl_runstats_new(void) {
  dl_runstats *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  s->width = FIRST_WIDTH;
  s->limit = FIRST_WIDTH * DL_SERIES_BINS;
  for (int k = 0; k < DL_G_COUNT; k++) s->g[k].bin_end = FIRST_WIDTH;
  for (int p = 0; p < DL_LAT_COUNT; p++) s->d[p].min = UINT64_MAX;
  return s;
}

/* Frees it; NULL is a harmless no-op. */
void dl_runstats_free(dl_runstats *s) {
  if (!s) return;
  for (int p = 0; p < DL_LAT_COUNT; p++) free(s->d[p].hist);
  free(s->inflight);
  free(s->dma);
  free(s);
}

/* ---- gauges ---------------------------------------------------------------- */

/* Halves the bins' count by merging pairs; the width doubles (so the bin
** of `last` halves too: floor(t / 2w) = floor(floor(t / w) / 2)). */
static void rescale(gauge *g) {
  g->last_bin /= 2;
  for (size_t i = 0; i < DL_SERIES_BINS / 2; i++) {
    g->bin_area[i] = g->bin_area[2 * i] + g->bin_area[2 * i + 1];
    uint64_t a = g->bin_max[2 * i], b = g->bin_max[2 * i + 1];
    g->bin_max[i] = a > b ? a : b;
  }
  memset(g->bin_area + DL_SERIES_BINS / 2, 0, DL_SERIES_BINS / 2 * sizeof g->bin_area[0]);
  memset(g->bin_max + DL_SERIES_BINS / 2, 0, DL_SERIES_BINS / 2 * sizeof g->bin_max[0]);
}

/* The end of bin i: (i + 1) * width, or the end of time where that
** overflows (a clock at 2^64 - 1 ns, found by the API fuzzer). */
static uint64_t bin_end(size_t i, uint64_t width) {
  return (uint64_t)(i + 1) <= UINT64_MAX / width ? (uint64_t)(i + 1) * width : UINT64_MAX;
}

/* Adds the gauge's value over [last, now) to its bins (width must hold now).
** The bins are walked from last_bin on, each the next: no division on the
** way (a gauge changes a few times per transfer). */
static void advance(gauge *g, uint64_t width, uint64_t now) {
  if (now < g->last) return;
  size_t i = g->last_bin;
  for (uint64_t t = g->last;;) {
    if (i >= DL_SERIES_BINS) {
      i = (size_t)(now / width);
      break;
    }
    uint64_t end = bin_end(i, width), stop = end > now ? now : end;
    g->bin_area[i] += (double)g->value * (double)(stop - t);
    if (g->value > g->bin_max[i]) g->bin_max[i] = g->value;
    if (now < end) break;  /* now lies inside bin i */
    t = end;
    i++;
    if (t == now) break;   /* now begins bin i */
  }
  g->area += (double)g->value * (double)(now - g->last);
  g->last = now;
  g->last_bin = i;
  g->bin_end = bin_end(i, width);
}

/* Makes the bins wide enough for time now (every gauge at once); below
** `limit` they are, without a division. */
static void fit(dl_runstats *s, uint64_t now) {
  while (now >= s->limit && now / s->width >= DL_SERIES_BINS) {
    for (int k = 0; k < DL_G_COUNT; k++) rescale(&s->g[k]);
    s->width *= 2;
    s->limit = s->width > UINT64_MAX / DL_SERIES_BINS ? UINT64_MAX : s->width * DL_SERIES_BINS;
    for (int k = 0; k < DL_G_COUNT; k++) s->g[k].bin_end = (uint64_t)(s->g[k].last_bin + 1) * s->width;
  }
}

/* Changes a gauge by delta at time now (never below 0). */
static void gauge_add(dl_runstats *s, dl_gauge k, int64_t delta, uint64_t now) {
  gauge *g = &s->g[k];
  if (now >= g->last && now < g->bin_end) {  /* in the bin of the last change: what
                                                 fit and advance do, without the walk
                                                 (the bin's max took the value when it
                                                 was set) */
    double held = (double)g->value * (double)(now - g->last);
    g->bin_area[g->last_bin] += held;
    g->area += held;
    g->last = now;
  } else {
    fit(s, now);
    advance(g, s->width, now);
  }
  if (delta < 0 && (uint64_t)-delta > g->value) g->value = 0;
  else g->value = (uint64_t)((int64_t)g->value + delta);
  if (g->value > g->max) g->max = g->value;
  size_t i = g->last == now ? g->last_bin : (size_t)(now / s->width);  /* advance set last = now */
  if (g->value > g->bin_max[i]) g->bin_max[i] = g->value;
}

uint64_t dl_runstats_gauge(const dl_runstats *s, dl_gauge g) { return s->g[g].value; }
uint64_t dl_runstats_gauge_max(const dl_runstats *s, dl_gauge g) { return s->g[g].max; }

/* A gauge's time-weighted mean over [0, now]. */
double dl_runstats_gauge_mean(const dl_runstats *s, dl_gauge k, uint64_t now) {
  const gauge *g = &s->g[k];
  if (now == 0) return 0.0;
  double area = g->area + (now > g->last ? (double)g->value * (double)(now - g->last) : 0.0);
  return area / (double)now;
}

/* A gauge's series up to now, from a copy brought up to now. */
size_t dl_runstats_series(const dl_runstats *s, dl_gauge k, uint64_t now, dl_sample *out,
                          size_t cap, uint64_t *width) {
  gauge *g = malloc(sizeof *g);
  if (!g) return 0;
  *g = s->g[k];
  uint64_t w = s->width;
  while (now / w >= DL_SERIES_BINS) {
    rescale(g);
    w *= 2;
  }
  g->last_bin = (size_t)(g->last / w);
  advance(g, w, now);
  size_t n = 0, bins = (size_t)(now / w) + 1;
  for (size_t i = 0; i < bins && n < cap; i++) {
    uint64_t start = (uint64_t)i * w, covered = now - start < w ? now - start : w;
    if (covered == 0 && i > 0) break;
    out[n].start = start;
    out[n].mean = covered ? g->bin_area[i] / (double)covered : (double)g->value;
    out[n].max = g->bin_max[i];
    n++;
  }
  free(g);
  *width = w;
  return n;
}

/* ---- latency distributions ------------------------------------------------------ */


static void dist_add(dist *d, uint64_t v) {
  if (!d->hist && !(d->hist = calloc(DL_HIST_BUCKETS, sizeof *d->hist))) return;
  d->count++;
  d->sum += v;
  if (v < d->min) d->min = v;
  if (v > d->max) d->max = v;
  d->hist[dl_hist_bucket(v)]++;
}

/* The nearest-rank percentile q/100: the smallest value with at least
** ceil(q * n / 100) samples at or below it, within its bucket. */
static uint64_t percentile(const dist *d, unsigned q) {
  if (!d->count) return 0;
  uint64_t rank = (d->count * q + 99) / 100, seen = 0;
  if (rank == 0) rank = 1;
  for (size_t b = 0; b < DL_HIST_BUCKETS; b++) {
    seen += d->hist[b];
    if (seen >= rank) {
      uint64_t v = dl_hist_value(b);
      if (v < d->min) v = d->min;
      return v > d->max ? d->max : v;
    }
  }
  return d->max;
}

/* Summary of one latency phase. */
void dl_runstats_latency(const dl_runstats *s, dl_phase p, dl_dist *out) {
  const dist *d = &s->d[p];
  memset(out, 0, sizeof *out);
  if (!d->count) return;
  out->count = d->count;
  out->min = d->min;
  out->max = d->max;
  out->sum = d->sum;
  out->p50 = percentile(d, 50);
  out->p90 = percentile(d, 90);
  out->p99 = percentile(d, 99);
}

/* Power-of-two histogram of a phase, from the fine one. */
size_t dl_runstats_histogram(const dl_runstats *s, dl_phase p, uint64_t counts[DL_HIST_POW2]) {
  const dist *d = &s->d[p];
  size_t used = 0;
  memset(counts, 0, DL_HIST_POW2 * sizeof counts[0]);
  if (!d->hist) return 0;
  for (size_t b = 0; b < DL_HIST_BUCKETS; b++) {
    if (!d->hist[b]) continue;
    uint64_t low = dl_hist_low(b);
    size_t k = low ? (size_t)(64 - __builtin_clzll(low)) : 0;
    counts[k] += d->hist[b];
    if (k + 1 > used) used = k + 1;
  }
  return used;
}

uint64_t dl_runstats_completed(const dl_runstats *s) { return s->completed; }
uint64_t dl_runstats_owner(const dl_runstats *s) { return s->owner; }

const dl_request_times *dl_runstats_last_completed(const dl_runstats *s) {
  return s->has_last ? &s->last : NULL;
}

/* ---- requests ------------------------------------------------------------------ */

static void request_start(dl_runstats *s, uint64_t id, uint64_t now) {
  if (dl_vec_reserve(s->inflight, s->cap, s->n + 1)) return;
  req *r = &s->inflight[s->n++];
  memset(r, 0, sizeof *r);
  r->id = id;
  r->sent = now;
  gauge_add(s, DL_G_REQUESTS_IN_FLIGHT, 1, now);
}

/* Ends a request: its phases go to the distributions. */
static void request_complete(dl_runstats *s, uint64_t id, uint64_t status, uint64_t now) {
  size_t i = 0;
  while (i < s->n && s->inflight[i].id != id) i++;
  if (i == s->n) return;  /* sent before the tracker was there */
  req *r = &s->inflight[i];
  uint64_t total = now - r->sent, started = r->has_started ? r->started : now;
  if (r->chan_open) r->channel += now - r->chan_since;
  if (r->dma_open) r->transfer += now - r->dma_since;
  dl_request_times *t = &s->last;
  t->id = id;
  t->sent = r->sent;
  t->done = now;
  t->status = status;
  t->ns[DL_LAT_TOTAL] = total;
  t->ns[DL_LAT_QUEUE] = started - r->sent;
  uint64_t rest = total - t->ns[DL_LAT_QUEUE];
  t->ns[DL_LAT_CHANNEL] = r->channel < rest ? r->channel : rest;
  rest -= t->ns[DL_LAT_CHANNEL];
  t->ns[DL_LAT_TRANSFER] = r->transfer < rest ? r->transfer : rest;
  t->ns[DL_LAT_COMPLETION] = rest - t->ns[DL_LAT_TRANSFER];
  s->has_last = 1;
  for (int p = 0; p < DL_LAT_COUNT; p++) dist_add(&s->d[p], t->ns[p]);
  s->completed++;
  s->owner = id;
  memmove(r, r + 1, (s->n - i - 1) * sizeof *r);
  s->n--;
  gauge_add(s, DL_G_REQUESTS_IN_FLIGHT, -1, now);
}

/* Device-side work for the request being served (the oldest in flight). */
static void device_work(dl_runstats *s, const dl_trace_record *rec) {
  if (!s->n) return;
  req *r = &s->inflight[0];
  uint64_t now = rec->time;
  s->owner = r->id;
  int begins = rec->kind == DL_TR_CHANNEL_REQUEST || rec->kind == DL_TR_SG_LIST ||
               rec->kind == DL_TR_MAP || rec->kind == DL_TR_DEVICE_PROGRAM ||
               rec->kind == DL_TR_DMA_START;
  if (!r->has_started && begins) {
    r->has_started = 1;
    r->started = now;
  }
  switch (rec->kind) {
    case DL_TR_CHANNEL_REQUEST:
      if (!r->chan_open) r->chan_since = now;
      r->chan_open = 1;
      break;
    case DL_TR_CHANNEL_GRANT:
      if (r->chan_open) r->channel += now - r->chan_since;
      r->chan_open = 0;
      break;
    case DL_TR_DMA_START:
      if (!r->dma_open++) r->dma_since = now;
      break;
    case DL_TR_DMA_END:
      if (r->dma_open && --r->dma_open == 0) r->transfer += now - r->dma_since;
      break;
    default:
      break;
  }
}

/* Bytes a device has in flight: added at DMA start, taken at DMA end. */
static void dma_bytes(dl_runstats *s, uint64_t dev, uint64_t bytes, int start, uint64_t now) {
  size_t i = 0;
  while (i < s->ndma && s->dma[i].dev != dev) i++;
  if (start) {
    if (i == s->ndma) {
      if (dl_vec_reserve(s->dma, s->dma_cap, s->ndma + 1)) return;
      s->dma[s->ndma++] = (dma_open){dev, 0};
    }
    s->dma[i].bytes += bytes;
    gauge_add(s, DL_G_BYTES_IN_FLIGHT, (int64_t)bytes, now);
  } else if (i < s->ndma) {
    gauge_add(s, DL_G_BYTES_IN_FLIGHT, -(int64_t)s->dma[i].bytes, now);
    s->dma[i].bytes = 0;
  }
}

/* Follows one record. */
void dl_runstats_observe(dl_runstats *s, const dl_trace_record *r) {
  uint64_t now = r->time;
  s->owner = 0;
  if (r->kind == DL_TR_DMA_START || r->kind == DL_TR_DMA_END) {  /* a device's every command */
    dma_bytes(s, r->obj, r->b, r->kind == DL_TR_DMA_START, now);
    device_work(s, r);
    return;
  }
  switch (r->kind) {
    case DL_TR_REQUEST_START:
      request_start(s, r->obj, now);
      s->owner = r->obj;
      return;
    case DL_TR_REQUEST_COMPLETE:
      request_complete(s, r->obj, r->a, now);
      return;
    case DL_TR_CHANNEL_GRANT:
      gauge_add(s, DL_G_MAP_REGISTERS, (int64_t)r->b, now);
      break;
    case DL_TR_FREE_MAP_REGISTERS:
      gauge_add(s, DL_G_MAP_REGISTERS, -(int64_t)r->a, now);
      break;
    case DL_TR_DPC_QUEUED:
      gauge_add(s, DL_G_DPC_QUEUE, 1, now);
      break;
    case DL_TR_DPC_RUN:
      gauge_add(s, DL_G_DPC_QUEUE, -1, now);
      break;
    default:
      break;
  }
  switch (r->kind) {
    case DL_TR_CHANNEL_REQUEST: case DL_TR_CHANNEL_GRANT: case DL_TR_MAP: case DL_TR_FLUSH:
    case DL_TR_FREE_MAP_REGISTERS: case DL_TR_SG_LIST: case DL_TR_DEVICE_PROGRAM:
    case DL_TR_INTERRUPT: case DL_TR_ISR:
    case DL_TR_DPC_QUEUED: case DL_TR_DPC_RUN:
      device_work(s, r);
      break;
    default:
      break;
  }
}

/* A DPC left its queue without running. */
void dl_runstats_dpc_removed(dl_runstats *s, uint64_t now) {
  gauge_add(s, DL_G_DPC_QUEUE, -1, now);
}
