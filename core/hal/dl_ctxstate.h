/*
** dl_ctxstate.h: the DMA_TRANSFER_CONTEXT's state machine (the version-3
** operations of hal/dl_dmaex.h, reference 1.3-1.6) written down as one
** table: a row per state of a context, a column per call that takes a
** context or acts on its allocation, and in each cell what the call does
** there: allowed; refused with the Driver Verifier's report (0xE6 P1 0x00,
** "miscellaneous DMA error": the Bug Check 0xE6 page documents no P1 of
** its own for a context; P2 the adapter, P3 the lab's sub-code) and an
** NTSTATUS; refused with an NTSTATUS only; a no-op (CancelAdapterChannel
** answers FALSE); or reported and done anyway (0x23: FlushAdapterBuffersEx
** of a system transfer neither completed nor cancelled stops the channel,
** as the HAL does). A refused call changes nothing. Each of those calls
** consults the table once, first.
**
** MapTransferEx, FlushAdapterBuffersEx and the frees name a MapRegisterBase
** or the adapter's channel, not the context: they reach the context only
** through a base granted under it (rows holding an allocation). Elsewhere
** the cell is "another table": the MapRegisterBase's (hal/dl_mrstate.h:
** a base naming nothing, 0x0D, 0x10, 0x20) or the channel's
** (hal/dl_chanstate.h: 0x04) decides, as those rules are theirs.
** GetDmaTransferInfo, GetDmaAdapterInfo and ConfigureAdapterChannel take no
** context: no column.
*/
#ifndef DL_CTXSTATE_H
#define DL_CTXSTATE_H

#include <stdint.h>

#include "machine/dl_machine.h"

/* The rows (dl_dmactx_row, hal/dl_dmaex.h, computes a context's). */
enum {
  DL_CTXROW_UNINIT,          /* not initialised by InitializeDmaTransferContext */
  DL_CTXROW_READY,           /* initialised, nothing asked under it yet */
  DL_CTXROW_PENDING,         /* its allocation waits for the channel or map registers */
  DL_CTXROW_GRANTED,         /* holds the channel, map registers or a list; nothing mapped */
  DL_CTXROW_MAPPED,          /* ...and a MapTransferEx under it not flushed yet (a bus
                                master's, or a system transfer that ended) */
  DL_CTXROW_IN_FLIGHT,       /* ...a system transfer MapTransferEx started, not ended yet */
  DL_CTXROW_RELEASED,        /* its allocation was granted and freed since */
  DL_CTXROW_CANCELLED,       /* cancelled before anything was granted under it */
  DL_CTXROW_CANCELLED_HELD,  /* cancelled (CancelMappedTransfer) while holding its allocation */
  DL_CTXROW_CANCELLED_DONE,  /* cancelled after its allocation was freed */
  DL_CTXROW_COUNT
};

/* The columns. */
enum {
  DL_CTXCALL_INIT,            /* InitializeDmaTransferContext */
  DL_CTXCALL_ALLOCATE,        /* AllocateAdapterChannelEx */
  DL_CTXCALL_GET_SGLIST,      /* GetScatterGatherListEx, BuildScatterGatherListEx */
  DL_CTXCALL_MAP,             /* MapTransferEx (with a base granted under it) */
  DL_CTXCALL_FLUSH,           /* FlushAdapterBuffersEx (likewise) */
  DL_CTXCALL_CANCEL_CHANNEL,  /* CancelAdapterChannel */
  DL_CTXCALL_CANCEL_MAPPED,   /* CancelMappedTransfer */
  DL_CTXCALL_FREE,            /* FreeAdapterObject, FreeAdapterChannel, FreeMapRegisters of its allocation */
  DL_CTXCALL_DESTROY,         /* the context's storage goes away (machine teardown) */
  DL_CTXCALL_COUNT
};

/* What a cell does. */
enum {
  DL_CTX_ALLOW,    /* the call goes on */
  DL_CTX_REFUSE,   /* reported (0xE6, the cell's P1 and sub-code), returns the cell's status */
  DL_CTX_STATUS,   /* returns the cell's status, no report */
  DL_CTX_NOOP,     /* does nothing (CancelAdapterChannel: FALSE) */
  DL_CTX_FORCE,    /* reported (0xE6 with the cell's P1), then the call goes on */
  DL_CTX_ELSEWHERE /* the context is not what the call names: another table decides */
};

typedef struct dl_ctx_cell {
  unsigned char kind;   /* DL_CTX_* */
  unsigned char p1;     /* the report's P1 (DL_CTX_REFUSE, DL_CTX_FORCE) */
  unsigned char sub;    /* P1 0x00's P3: which rule (DL_CTX_REFUSE) */
  uint32_t status;      /* the NTSTATUS returned (DL_CTX_REFUSE, DL_CTX_STATUS) */
} dl_ctx_cell;

/* The refusals' sub-codes (P3 of the 0x00 report). */
enum { DL_CTX_SUB_UNINIT = 0, DL_CTX_SUB_IN_USE = 1, DL_CTX_SUB_INIT_IN_USE = 2 };

/* The table's cell (DL_CTX_REFUSE, P1 0, outside it). */
dl_ctx_cell dl_ctx_cell_at(int row, int call);

/* What a report says beside the state. */
typedef struct dl_ctx_args {
  const char *name;     /* the call as the driver made it; NULL: the column's */
  uint64_t adapter_id;
  uint64_t controller, channel;  /* a system adapter's DmaControllerInstance and channel */
} dl_ctx_args;

/* Consults the table for `call` on a context in `row`; a refused or forced
** call is reported here. Returns the cell. */
dl_ctx_cell dl_ctxstate_check(dl_machine *m, int row, int call, const dl_ctx_args *args);

/* Names of a row and a column. */
const char *dl_ctx_row_name(int row);
const char *dl_ctx_call_name(int call);

#endif
