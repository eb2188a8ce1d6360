/*
** dl_chanstate.h: the WDM adapter channel's state machine (reference 1.3)
** written down as one table: a row per state of an adapter's channel, a
** column per call that depends on it, and in each cell whether the call is
** allowed or refused with the Driver Verifier's report (0xE6 and its P1:
** 0x18 on a put adapter, 0x0B for a second request from inside
** AdapterControl, 0x04 for freeing a channel not kept). A refused call does
** nothing. Each of those calls consults the table once, first.
*/
#ifndef DL_CHANSTATE_H
#define DL_CHANSTATE_H

#include <stdint.h>

#include "machine/dl_machine.h"

/* The rows. */
enum {
  DL_CHROW_IDLE,        /* no request holds the channel */
  DL_CHROW_WAITING,     /* a request holds it and waits for map registers */
  DL_CHROW_IN_CONTROL,  /* AdapterControl is running */
  DL_CHROW_KEPT,        /* AdapterControl returned KeepObject: FreeAdapterChannel ends it */
  DL_CHROW_PUT,         /* PutDmaAdapter gave the adapter back */
  DL_CHROW_COUNT
};

/* The columns. */
enum {
  DL_CHCALL_ALLOCATE,   /* AllocateAdapterChannel, IoAllocateAdapterChannel */
  DL_CHCALL_GET_SGLIST, /* GetScatterGatherList, BuildScatterGatherList */
  DL_CHCALL_FREE,       /* FreeAdapterChannel */
  DL_CHCALL_PUT,        /* PutDmaAdapter (what the adapter still holds is reported as a leak) */
  DL_CHCALL_COUNT
};

/* A cell: 0 allowed, else the P1 of the report that refuses the call. */
#define DL_CH_ALLOW 0u

/* The table's cell (never 0 outside it). The adapter computes its row
** (dl_adapter_channel_row) and consults the table through
** dl_adapter_check_channel (hal/dl_adapter.h). */
uint32_t dl_adapter_channel_cell(int row, int call);

/* Consults the table for `call` (named `name` in the report; NULL: the
** column's name) on adapter#id of m in `row`: 1 if allowed, else 0 after
** the report. */
int dl_chanstate_check(dl_machine *m, uint64_t id, int row, int call, const char *name);

/* Names of a row and a column. */
const char *dl_adapter_channel_row_name(int row);
const char *dl_adapter_channel_call_name(int call);

#endif
