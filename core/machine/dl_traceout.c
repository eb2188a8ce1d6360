/*
** dl_traceout.c: Chrome trace-event JSON (streamed) and VCD (see dl_traceout.h).
*/
#include "machine/dl_traceout.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/dl_status.h"
#include "base/dl_vec.h"
#include "machine/dl_stats.h"

enum { PID_CPU = 1, PID_DEVICE, PID_REQUEST, PID_ADAPTER, PID_MACHINE };

/* Something open: a request on a lane, a DMA on a device, an interrupt on a
** vector, a DPC in a queue. key identifies it; owner is the request it is
** for (0: none). */
typedef struct open_item {
  uint64_t key, since, owner, a, b;
  uint64_t first_step, last_step;      /* requests: their flow's steps (ns) */
} open_item;

typedef struct items {
  open_item *v;
  size_t n, cap;
} items;

struct dl_chrome {
  FILE *f;
  int failed, first;
  uint64_t bytes;
  dl_runstats *rs;                       /* attribution and the counters */
  uint64_t shown[DL_G_COUNT];            /* counter values last written */
  items lanes, dmas, irqs, dpcs;         /* lanes: index + 1 is the tid */
  items named;                           /* tracks already named: key pid << 32 | tid */
};

/* ---- writing ----------------------------------------------------------------- */

static void out(dl_chrome *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void out(dl_chrome *w, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vfprintf(w->f, fmt, ap);
  va_end(ap);
  if (n < 0) w->failed = 1;
  else w->bytes += (uint64_t)n;
}

/* Starts an event: the separator, then '{'. */
static void begin(dl_chrome *w) {
  out(w, w->first ? "{" : ",\n{");
  w->first = 0;
}

/* Microseconds with nanosecond decimals. */
#define TS_FMT "%" PRIu64 ".%03u"
#define TS(ns) (ns) / 1000, (unsigned)((ns) % 1000)

static open_item *find(items *s, uint64_t key) {
  for (size_t i = 0; i < s->n; i++)
    if (s->v[i].key == key) return &s->v[i];
  return NULL;
}

static open_item *add(items *s, uint64_t key) {
  if (dl_vec_reserve(s->v, s->cap, s->n + 1)) return NULL;
  open_item *it = &s->v[s->n++];
  memset(it, 0, sizeof *it);
  it->key = key;
  return it;
}

static void drop(items *s, open_item *it) {
  *it = s->v[--s->n];
}

/* Names a process and a track the first time they are used. */
static void name_track(dl_chrome *w, int pid, uint64_t tid, const char *fmt, uint64_t n) {
  static const char *const procs[] = {"", "CPUs", "devices", "requests", "adapters", "machine"};
  if (!find(&w->named, (uint64_t)pid << 32)) {
    add(&w->named, (uint64_t)pid << 32);
    begin(w);
    out(w, "\"ph\":\"M\",\"name\":\"process_name\",\"pid\":%d,\"tid\":0,\"args\":{\"name\":\"%s\"}}",
        pid, procs[pid]);
    begin(w);
    out(w, "\"ph\":\"M\",\"name\":\"process_sort_index\",\"pid\":%d,\"tid\":0,"
        "\"args\":{\"sort_index\":%d}}", pid, pid);
  }
  uint64_t key = (uint64_t)pid << 32 | (tid + 1);
  if (find(&w->named, key)) return;
  add(&w->named, key);
  char name[64];
  snprintf(name, sizeof name, fmt, n);
  begin(w);
  out(w, "\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":%d,\"tid\":%" PRIu64 ",\"args\":{\"name\":\"%s\"}}",
      pid, tid, name);
}

/* A complete slice [since, until] with its args (a JSON object body or ""). */
static void slice(dl_chrome *w, int pid, uint64_t tid, const char *name, uint64_t since,
                  uint64_t until, const char *args) {
  uint64_t dur = until - since;
  begin(w);
  out(w, "\"ph\":\"X\",\"name\":\"%s\",\"pid\":%d,\"tid\":%" PRIu64 ",\"ts\":" TS_FMT
      ",\"dur\":" TS_FMT ",\"args\":{%s}}", name, pid, tid, TS(since), TS(dur), args);
}

/* One step of a request's flow ("s", "t" or "f"), bound to the enclosing slice. */
static void flow(dl_chrome *w, char ph, uint64_t id, int pid, uint64_t tid, uint64_t at) {
  begin(w);
  out(w, "\"ph\":\"%c\",\"name\":\"request\",\"cat\":\"request\",\"id\":%" PRIu64
      ",\"pid\":%d,\"tid\":%" PRIu64 ",\"ts\":" TS_FMT "%s}", ph, id, pid, tid, TS(at),
      ph == 's' ? "" : ",\"bp\":\"e\"");
}

/* A step of request `owner` inside the slice [since, until] (at its middle). */
static void step(dl_chrome *w, uint64_t owner, int pid, uint64_t tid, uint64_t since, uint64_t until) {
  if (!owner) return;
  for (size_t i = 0; i < w->lanes.n; i++) {
    open_item *lane = &w->lanes.v[i];
    if (lane->key != owner) continue;
    uint64_t at = since + (until - since) / 2;
    if (at < lane->last_step) return;  /* keeps the flow in time order */
    if (!lane->first_step) lane->first_step = at;
    lane->last_step = at;
    flow(w, 't', owner, pid, tid, at);
    return;
  }
}

static void instant(dl_chrome *w, int pid, uint64_t tid, const char *name, uint64_t at,
                    const char *args) {
  begin(w);
  out(w, "\"ph\":\"i\",\"s\":\"t\",\"name\":\"%s\",\"pid\":%d,\"tid\":%" PRIu64 ",\"ts\":" TS_FMT
      ",\"args\":{%s}}", name, pid, tid, TS(at), args);
}

/* Writes the counters that changed. */
static void counters(dl_chrome *w, uint64_t now) {
  static const char *const names[DL_G_COUNT] = {"map registers in use", "DPC queue depth",
                                                "bytes in flight", "requests in flight"};
  for (int g = 0; g < DL_G_COUNT; g++) {
    uint64_t v = dl_runstats_gauge(w->rs, (dl_gauge)g);
    if (v == w->shown[g]) continue;
    w->shown[g] = v;
    name_track(w, PID_MACHINE, 0, "events", 0);
    begin(w);
    out(w, "\"ph\":\"C\",\"name\":\"%s\",\"pid\":%d,\"tid\":0,\"ts\":" TS_FMT
        ",\"args\":{\"value\":%" PRIu64 "}}", names[g], PID_MACHINE, TS(now), v);
  }
}

/* ---- the records ---------------------------------------------------------------- */

static void request_start(dl_chrome *w, const dl_trace_record *r) {
  size_t lane = 0;
  while (lane < w->lanes.n && w->lanes.v[lane].key) lane++;
  if (lane == w->lanes.n && !add(&w->lanes, 0)) return;
  open_item *it = &w->lanes.v[lane];
  memset(it, 0, sizeof *it);
  it->key = r->obj;
  it->since = r->time;
  it->a = r->a;
  it->b = r->b;
}

static void request_complete(dl_chrome *w, const dl_trace_record *r) {
  size_t lane = 0;
  while (lane < w->lanes.n && w->lanes.v[lane].key != r->obj) lane++;
  if (lane == w->lanes.n) return;
  open_item *it = &w->lanes.v[lane];
  const dl_request_times *t = dl_runstats_last_completed(w->rs);
  char name[48], args[320];
  snprintf(name, sizeof name, "%s #%" PRIu64, it->a == 3 ? "read" : it->a == 4 ? "write" : "IRP",
           r->obj);
  snprintf(args, sizeof args, "\"irp\":%" PRIu64 ",\"major\":%" PRIu64 ",\"length\":%" PRIu64
           ",\"status\":\"0x%08" PRIx64 "\",\"information\":%" PRIu64, r->obj, it->a, it->b,
           r->a, r->b);
  if (t && t->id == r->obj) {
    size_t n = strlen(args);
    snprintf(args + n, sizeof args - n, ",\"queue_ns\":%" PRIu64 ",\"channel_wait_ns\":%" PRIu64
             ",\"transfer_ns\":%" PRIu64 ",\"completion_ns\":%" PRIu64, t->ns[DL_LAT_QUEUE],
             t->ns[DL_LAT_CHANNEL], t->ns[DL_LAT_TRANSFER], t->ns[DL_LAT_COMPLETION]);
  }
  name_track(w, PID_REQUEST, lane + 1, "lane %" PRIu64, lane + 1);
  slice(w, PID_REQUEST, lane + 1, name, it->since, r->time, args);
  uint64_t first = it->first_step ? it->first_step : r->time;
  uint64_t last = it->last_step ? it->last_step : it->since;
  flow(w, 's', r->obj, PID_REQUEST, lane + 1, it->since + (first - it->since) / 2);
  flow(w, 'f', r->obj, PID_REQUEST, lane + 1, last + (r->time - last + 1) / 2);
  it->key = 0;
}

static void dma(dl_chrome *w, const dl_trace_record *r, uint64_t owner) {
  if (r->kind == DL_TR_DMA_START) {
    open_item *it = find(&w->dmas, r->obj);
    if (!it && !(it = add(&w->dmas, r->obj))) return;
    it->since = r->time;
    it->owner = owner;
    it->a = r->a;
    it->b = r->b;
    return;
  }
  open_item *it = find(&w->dmas, r->obj);
  if (!it) return;
  char args[200];
  snprintf(args, sizeof args, "\"logical\":\"0x%" PRIx64 "\",\"length\":%" PRIu64
           ",\"moved\":%" PRIu64 ",\"status\":%" PRIu64, it->a, it->b, r->a, r->b);
  name_track(w, PID_DEVICE, r->obj, "device #%" PRIu64, r->obj);
  slice(w, PID_DEVICE, r->obj, "DMA", it->since, r->time, args);
  step(w, it->owner, PID_DEVICE, r->obj, it->since, r->time);
  drop(&w->dmas, it);
}

/* ISR track of CPU n is tid 2n + 1, its DPC track 2n + 2. */
static void isr(dl_chrome *w, const dl_trace_record *r, uint64_t owner) {
  open_item *it = find(&w->irqs, r->obj);
  uint64_t since = it ? it->since : r->time;
  if (it) drop(&w->irqs, it);
  char name[40], args[120];
  snprintf(name, sizeof name, "ISR vector %" PRIu64, r->obj);
  snprintf(args, sizeof args, "\"irql\":%u,\"claimed\":%" PRIu64 ",\"interrupt\":%" PRIu64,
           r->irql, r->a, r->b);
  uint64_t tid = 2u * r->cpu + 1;
  name_track(w, PID_CPU, tid, "CPU %" PRIu64 " ISR", r->cpu);
  slice(w, PID_CPU, tid, name, since, r->time, args);
  step(w, owner, PID_CPU, tid, since, r->time);
}

static void dpc(dl_chrome *w, const dl_trace_record *r, uint64_t owner) {
  if (r->kind == DL_TR_DPC_QUEUED) {
    open_item *it = find(&w->dpcs, r->obj);
    if (!it && !(it = add(&w->dpcs, r->obj))) return;
    it->since = r->time;
    return;
  }
  open_item *it = find(&w->dpcs, r->obj);
  uint64_t since = it ? it->since : r->time;
  if (it) drop(&w->dpcs, it);
  char name[40], args[80];
  snprintf(name, sizeof name, "DPC #%" PRIu64, r->obj);
  snprintf(args, sizeof args, "\"irql\":%u,\"latency_ns\":%" PRIu64, r->irql, r->a);
  uint64_t tid = 2u * r->cpu + 2;
  name_track(w, PID_CPU, tid, "CPU %" PRIu64 " DPC", r->cpu);
  slice(w, PID_CPU, tid, name, since, r->time, args);
  step(w, owner, PID_CPU, tid, since, r->time);
}

/* Adapter and machine events as instants. */
static void other(dl_chrome *w, const dl_trace_record *r) {
  char args[160];
  snprintf(args, sizeof args, "\"obj\":%" PRIu64 ",\"a\":\"0x%" PRIx64 "\",\"b\":\"0x%" PRIx64 "\"",
           r->obj, r->a, r->b);
  const char *name = dl_trace_kind_name((dl_trace_kind)r->kind);
  switch (r->kind) {
    case DL_TR_CHANNEL_REQUEST: case DL_TR_CHANNEL_GRANT: case DL_TR_MAP: case DL_TR_FLUSH:
    case DL_TR_FREE_MAP_REGISTERS: case DL_TR_SG_LIST:
      name_track(w, PID_ADAPTER, r->obj, "adapter #%" PRIu64, r->obj);
      instant(w, PID_ADAPTER, r->obj, name, r->time, args);
      break;
    case DL_TR_DEVICE_PROGRAM:
      name_track(w, PID_DEVICE, r->obj, "device #%" PRIu64, r->obj);
      instant(w, PID_DEVICE, r->obj, name, r->time, args);
      break;
    case DL_TR_VERIFIER: case DL_TR_FAULT: case DL_TR_USER: case DL_TR_ADAPTER_REFUSED:
      name_track(w, PID_MACHINE, 0, "events", 0);
      instant(w, PID_MACHINE, 0, name, r->time, args);
      break;
    default:
      break;
  }
}

/* Writes what one record adds. */
void dl_chrome_record(dl_chrome *w, const dl_trace_record *r) {
  dl_runstats_observe(w->rs, r);
  uint64_t owner = dl_runstats_owner(w->rs);
  switch (r->kind) {
    case DL_TR_REQUEST_START: request_start(w, r); break;
    case DL_TR_REQUEST_COMPLETE: request_complete(w, r); break;
    case DL_TR_DMA_START: case DL_TR_DMA_END: dma(w, r, owner); break;
    case DL_TR_INTERRUPT: {
      open_item *it = find(&w->irqs, r->obj);
      if (!it) it = add(&w->irqs, r->obj);
      if (it) it->since = r->time;
      break;
    }
    case DL_TR_ISR: isr(w, r, owner); break;
    case DL_TR_DPC_QUEUED: case DL_TR_DPC_RUN: dpc(w, r, owner); break;
    default: other(w, r); break;
  }
  counters(w, r->time);
}

/* A DPC left its queue without running. */
void dl_chrome_dpc_removed(dl_chrome *w, uint64_t now) {
  dl_runstats_dpc_removed(w->rs, now);
  counters(w, now);
}

uint64_t dl_chrome_bytes(const dl_chrome *w) { return w->bytes; }

/* Opens path and writes the JSON header. */
int dl_chrome_open(const char *path, dl_chrome **out_w) {
  dl_chrome *w = calloc(1, sizeof *w);
  if (!w) return DL_ENOMEM;
  if (!(w->rs = dl_runstats_new())) {
    free(w);
    return DL_ENOMEM;
  }
  if (!(w->f = fopen(path, "w"))) {
    dl_runstats_free(w->rs);
    free(w);
    return DL_EIO;
  }
  w->first = 1;
  out(w, "{\"displayTimeUnit\":\"ns\",\"otherData\":{\"generator\":\"dmalab\"},\"traceEvents\":[\n");
  *out_w = w;
  return DL_OK;
}

/* Writes the trailer and closes. */
int dl_chrome_close(dl_chrome *w) {
  if (!w) return DL_OK;
  out(w, "\n]}\n");
  if (fclose(w->f)) w->failed = 1;
  int rc = w->failed ? DL_EIO : DL_OK;
  dl_runstats_free(w->rs);
  free(w->lanes.v);
  free(w->dmas.v);
  free(w->irqs.v);
  free(w->dpcs.v);
  free(w->named.v);
  free(w);
  return rc;
}

static void sink_record(void *ctx, const dl_trace_record *r) { dl_chrome_record(ctx, r); }
static void sink_dpc_removed(void *ctx, uint64_t now) { dl_chrome_dpc_removed(ctx, now); }
static void sink_close(void *ctx) { dl_chrome_close(ctx); }

/* Streams every record t emits from now on to path as Chrome JSON. */
int dl_trace_stream_chrome(dl_trace *t, const char *path) {
  dl_chrome *w;
  int rc = dl_chrome_open(path, &w);
  if (rc) return rc;
  dl_trace_sink sink = {sink_record, sink_dpc_removed, sink_close, w};
  dl_trace_set_sink(t, &sink);
  return DL_OK;
}

/* Writes the records t keeps as Chrome JSON. */
int dl_trace_export_chrome(const dl_trace *t, const char *path) {
  dl_chrome *w;
  int rc = dl_chrome_open(path, &w);
  if (rc) return rc;
  for (size_t i = 0; i < dl_trace_count(t); i++) dl_chrome_record(w, dl_trace_at(t, i));
  return dl_chrome_close(w);
}

/* ---- VCD ---------------------------------------------------------------------- */

/* A VCD signal: what it follows and its identifier. */
typedef struct signal {
  int kind;                              /* 0 irq event, 1 device busy, 2 adapter grant */
  uint64_t obj;
  uint64_t value;
} signal;

typedef struct vcd {
  FILE *f;
  signal *sig;
  size_t n, cap;
  uint64_t shown[DL_G_COUNT];
} vcd;

/* Identifier of signal i (counters come after the signals). */
static void vcd_id(size_t i, char id[8]) {
  int k = 0;
  do {
    id[k++] = (char)('!' + i % 94);
    i /= 94;
  } while (i && k < 7);
  id[k] = 0;
}

static size_t vcd_signal(vcd *v, int kind, uint64_t obj) {
  for (size_t i = 0; i < v->n; i++)
    if (v->sig[i].kind == kind && v->sig[i].obj == obj) return i;
  if (dl_vec_reserve(v->sig, v->cap, v->n + 1)) return SIZE_MAX;
  v->sig[v->n] = (signal){kind, obj, 0};
  return v->n++;
}

/* Collects the signals the records touch. */
static void vcd_collect(vcd *v, const dl_trace *t) {
  for (size_t i = 0; i < dl_trace_count(t); i++) {
    const dl_trace_record *r = dl_trace_at(t, i);
    if (r->kind == DL_TR_INTERRUPT) vcd_signal(v, 0, r->obj);
    if (r->kind == DL_TR_DMA_START) vcd_signal(v, 1, r->obj);
    if (r->kind == DL_TR_CHANNEL_GRANT) vcd_signal(v, 2, r->obj);
  }
}

static void vcd_header(vcd *v) {
  static const char *const kinds[] = {"irq_vector_", "device_busy_", "adapter_grant_"};
  static const int widths[DL_G_COUNT] = {32, 32, 64, 32};
  char id[8];
  fprintf(v->f, "$version dmalab $end\n$timescale 1ns $end\n$scope module dmalab $end\n");
  for (size_t i = 0; i < v->n; i++) {
    vcd_id(i, id);
    fprintf(v->f, "$var %s 1 %s %s%" PRIu64 " $end\n", v->sig[i].kind ? "wire" : "event", id,
            kinds[v->sig[i].kind], v->sig[i].obj);
  }
  for (int g = 0; g < DL_G_COUNT; g++) {
    vcd_id(v->n + (size_t)g, id);
    fprintf(v->f, "$var wire %d %s %s $end\n", widths[g], id, dl_gauge_name((dl_gauge)g));
  }
  fprintf(v->f, "$upscope $end\n$enddefinitions $end\n#0\n$dumpvars\n");
  for (size_t i = 0; i < v->n; i++) {
    vcd_id(i, id);
    if (v->sig[i].kind) fprintf(v->f, "0%s\n", id);
  }
  for (int g = 0; g < DL_G_COUNT; g++) {
    vcd_id(v->n + (size_t)g, id);
    fprintf(v->f, "b0 %s\n", id);
  }
  fprintf(v->f, "$end\n");
}

/* Writes a vector value in binary. */
static void vcd_vector(FILE *f, uint64_t x, const char *id) {
  char bits[65];
  int k = 64;
  bits[k] = 0;
  do {
    bits[--k] = (char)('0' + (x & 1));
    x >>= 1;
  } while (x);
  fprintf(f, "b%s %s\n", bits + k, id);
}

/* Writes the changes one record makes. */
static void vcd_record(vcd *v, dl_runstats *rs, const dl_trace_record *r, uint64_t *last_time) {
  char id[8];
  dl_runstats_observe(rs, r);
  if (r->time != *last_time) {
    fprintf(v->f, "#%" PRIu64 "\n", r->time);
    *last_time = r->time;
  }
  int kind = r->kind == DL_TR_INTERRUPT ? 0 : r->kind == DL_TR_DMA_START || r->kind == DL_TR_DMA_END ? 1
           : r->kind == DL_TR_CHANNEL_GRANT || r->kind == DL_TR_FREE_MAP_REGISTERS ? 2 : -1;
  if (kind >= 0) {
    size_t i = vcd_signal(v, kind, r->obj);
    if (i != SIZE_MAX) {
      vcd_id(i, id);
      signal *s = &v->sig[i];
      if (kind == 0) fprintf(v->f, "1%s\n", id);
      if (kind == 1) fprintf(v->f, "%d%s\n", r->kind == DL_TR_DMA_START, id);
      if (kind == 2) {
        uint64_t was = s->value;
        s->value = r->kind == DL_TR_CHANNEL_GRANT ? s->value + 1 : s->value ? s->value - 1 : 0;
        if (!was != !s->value) fprintf(v->f, "%d%s\n", s->value != 0, id);
      }
    }
  }
  for (int g = 0; g < DL_G_COUNT; g++) {
    uint64_t x = dl_runstats_gauge(rs, (dl_gauge)g);
    if (x == v->shown[g]) continue;
    v->shown[g] = x;
    vcd_id(v->n + (size_t)g, id);
    vcd_vector(v->f, x, id);
  }
}

/* Writes the records t keeps as VCD. */
int dl_trace_export_vcd(const dl_trace *t, const char *path) {
  vcd v = {0};
  dl_runstats *rs = dl_runstats_new();
  if (!rs) return DL_ENOMEM;
  if (!(v.f = fopen(path, "w"))) {
    dl_runstats_free(rs);
    return DL_EIO;
  }
  vcd_collect(&v, t);
  size_t declared = v.n;
  vcd_header(&v);
  uint64_t last_time = 0;
  for (size_t i = 0; i < dl_trace_count(t); i++) vcd_record(&v, rs, dl_trace_at(t, i), &last_time);
  v.n = declared;
  int rc = ferror(v.f) ? DL_EIO : DL_OK;
  if (fclose(v.f)) rc = DL_EIO;
  free(v.sig);
  dl_runstats_free(rs);
  return rc;
}
