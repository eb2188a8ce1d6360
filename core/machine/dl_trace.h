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

typedef struct dl_machine dl_machine;
typedef struct dl_trace dl_trace;

typedef enum dl_trace_kind {
  DL_TR_REQUEST_START,     /* obj = irp, a = major function, b = length */
  DL_TR_REQUEST_COMPLETE,  /* obj = irp, a = status, b = information */
  DL_TR_CHANNEL_REQUEST,   /* obj = adapter, a = device, b = registers */
  DL_TR_CHANNEL_GRANT,     /* obj = adapter, a = device, b = registers */
  DL_TR_MAP,               /* obj = adapter, a = logical, b = length (bounced: bit 63) */
  DL_TR_FLUSH,             /* obj = adapter, a = va, b = length */
  DL_TR_FREE_MAP_REGISTERS,/* obj = adapter, a = count */
  DL_TR_SG_LIST,           /* obj = adapter, a = list id, b = elements */
  DL_TR_DEVICE_PROGRAM,    /* obj = device, a = register offset, b = value */
  DL_TR_DMA_START,         /* obj = device, a = logical, b = length */
  DL_TR_DMA_END,           /* obj = device, a = bytes moved, b = status */
  DL_TR_INTERRUPT,         /* obj = vector, a = device */
  DL_TR_ISR,               /* obj = vector, a = claimed */
  DL_TR_DPC_QUEUED,        /* obj = dpc, a = cpu */
  DL_TR_DPC_RUN,           /* obj = dpc, a = latency ns */
  DL_TR_VERIFIER,          /* obj = bug check, a = p1, b = report seq */
  DL_TR_FAULT,             /* obj = device, a = fault kind */
  DL_TR_USER,              /* obj, a, b from a script */
  DL_TR_ADAPTER_REFUSED,   /* obj = device, a = reason (dl_adapter_refusal), b = value */
  DL_TR_SWIOTLB_FULL,      /* obj = adapter, a = size, b = total slots << 32 | used slots */
  DL_TR_KIND_COUNT
} dl_trace_kind;

typedef struct dl_trace_record {
  uint64_t seq, time;
  uint8_t cpu, irql;
  uint16_t kind;
  uint64_t obj, a, b;
} dl_trace_record;

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

/* Changes the ring capacity (0: unbounded); keeps the newest records. */
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

/* Map registers in use changed by delta at time now. */
void dl_stats_map_registers(dl_trace *t, int64_t delta, uint64_t now);

/* Time-weighted mean of map registers in use up to now. */
double dl_stats_map_registers_mean(const dl_trace *t, uint64_t now);

#endif
