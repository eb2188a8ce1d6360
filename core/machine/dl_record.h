/*
** dl_record.h: one trace record and the kinds of events (dl_trace.h keeps
** them, dl_stats.h and dl_traceout.h read them).
*/
#ifndef DL_RECORD_H
#define DL_RECORD_H

#include <stdint.h>

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

#endif
