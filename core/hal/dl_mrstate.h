/*
** dl_mrstate.h: the state machine of a MapRegisterBase (the token a grant
** of map registers gives, reference 1.4-1.6) written down as one table: a
** row per state of the registers the base names (as seen by the adapter the
** call is made on), a column per call that depends on it, and in each cell
** what the call does there: allowed; refused with the Driver Verifier's
** report (0xE6 and its P1; the call then does nothing); reported and done
** anyway (0x10: freeing registers a MapTransfer still maps ends the
** mapping with them, as the HAL would); or refused without a report (a
** base that names nothing of the adapter given to MapTransfer, where the
** Verifier has no check: the binding's argument error). Each of those
** calls consults the table once, first.
**
** The same buffer range mapped twice under one base, the registers of a
** base used up (0x0D from MapTransfer), a Length or WriteToDevice that
** does not match what was mapped (0x00) and a FreeMapRegisters count
** other than the one allocated (0x05) are rules on the call's arguments,
** not on the state: they stay with the calls.
*/
#ifndef DL_MRSTATE_H
#define DL_MRSTATE_H

#include <stdint.h>

#include "machine/dl_machine.h"

/* The rows. */
enum {
  DL_MRROW_UNKNOWN,    /* names no registers of the adapter (0, never allocated, another adapter's) */
  DL_MRROW_FREED,      /* named registers of the adapter that were freed since */
  DL_MRROW_SGLIST,     /* held by a scatter/gather list (PutScatterGatherList frees them) */
  DL_MRROW_GRANTED,    /* AllocateAdapterChannel's, nothing mapped (at the place flushed) */
  DL_MRROW_MAPPED,     /* ...a MapTransfer under it not flushed yet (at the place flushed) */
  DL_MRROW_GRANTED_EX, /* AllocateAdapterChannelEx's (a DMA transfer context), nothing mapped */
  DL_MRROW_MAPPED_EX,  /* ...a MapTransferEx (or MapTransfer) under it not flushed yet */
  DL_MRROW_COUNT
};

/* The columns. */
enum {
  DL_MRCALL_MAP,           /* MapTransfer */
  DL_MRCALL_FLUSH,         /* FlushAdapterBuffers */
  DL_MRCALL_MAP_EX,        /* MapTransferEx */
  DL_MRCALL_FLUSH_EX,      /* FlushAdapterBuffersEx */
  DL_MRCALL_FREE,          /* FreeMapRegisters */
  DL_MRCALL_FREE_CHANNEL,  /* FreeAdapterChannel, FreeAdapterObject, AdapterControl's
                              DeallocateObject: the channel's registers with it */
  DL_MRCALL_COUNT
};

/* What a cell does. */
enum {
  DL_MR_ALLOW,    /* the call goes on */
  DL_MR_REFUSE,   /* reported (0xE6 with the cell's P1); the call does nothing */
  DL_MR_FORCE,    /* reported, then the call goes on */
  DL_MR_INVALID,  /* no report: the call does nothing (an argument error to the binding) */
};

typedef struct dl_mr_cell {
  unsigned char kind;   /* DL_MR_* */
  unsigned char p1;     /* the report's P1 (DL_MR_REFUSE, DL_MR_FORCE) */
} dl_mr_cell;

/* What a report says beside the state: the call's arguments. */
typedef struct dl_mr_args {
  const char *name;     /* the call as the driver made it; NULL: the column's */
  uint64_t adapter_id, base;
  uint32_t count;       /* FreeMapRegisters' NumberOfMapRegisters */
  uint64_t at;          /* CurrentVa (Offset for FlushAdapterBuffersEx) */
  uint64_t mdl_id;
  uint32_t still;       /* registers still mapped under the base */
  uint32_t mapped;      /* bytes MapTransferEx mapped under it */
} dl_mr_args;

/* The table's cell (DL_MR_REFUSE, P1 0, outside it). */
dl_mr_cell dl_mr_cell_at(int row, int call);

/* Consults the table for `call` on a base in `row` (the adapter computes
** its rows: dl_adapter_check_base, hal/dl_adapter_int.h); a refused or forced
** call is reported here. Returns the cell's kind. */
int dl_mrstate_check(dl_machine *m, int row, int call, const dl_mr_args *args);

/* Names of a row and a column. */
const char *dl_mr_row_name(int row);
const char *dl_mr_call_name(int call);

#endif
