/*
** dl_dmaex_int.h: the DMA transfer context's insides, shared by dl_dmaex.c
** (contexts, the channel, lists, queries) and dl_dmaex_map.c (MapTransferEx,
** FlushAdapterBuffersEx, CancelMappedTransfer). Not for use outside core/.
*/
#ifndef DL_DMAEX_INT_H
#define DL_DMAEX_INT_H

#include "hal/dl_adapter_int.h"
#include "hal/dl_ctxstate.h"
#include "hal/dl_dmaex.h"

/* One piece of a MapTransferEx: a MapTransfer of one run of one MDL. */
typedef struct dl_dmaex_piece {
  dl_mdl *mdl;
  uint64_t va;
  uint32_t length;
} dl_dmaex_piece;

struct dl_dmactx {
  DL_OBJECT_FIELDS
  dl_adapter *a;
  int initialized, pending, cancelled;
  int granted;                       /* an allocation under it was granted since initialised */
  dl_device *dev;                    /* of the allocation */
  uint64_t base;                     /* MapRegisterBase granted under it, 0 if none */
  dl_adapter_control_fn control;     /* the driver's AdapterControl, or NULL */
  dl_list_control_fn list_control;   /* the driver's AdapterListControl, or NULL */
  void *user_ctx;                    /* their Context */
  dl_sglist *sg;                     /* the list a synchronous ...ListEx built */
  uint64_t sg_id;
  /* the transfer MapTransferEx mapped, until FlushAdapterBuffersEx */
  int mapped, started, done, write;
  dl_mdl *mdl;
  uint64_t offset;
  uint32_t length, device_offset;
  dl_dma_completion_fn fn;
  void *fn_ctx;
  dl_dmaex_piece *pieces;            /* kept between transfers: no allocation per map */
  uint32_t npieces, pieces_cap;
  dl_sg_element *el;
  uint32_t nel, el_cap;
};

/* The kind's operations, or NULL for a bus master. */
#define DL_DMAEX_KIND(a) ((a)->ex_kind)

/* The MDL of the chain at `mdl` holding byte `offset` of the chain, and its
** virtual address there; NULL if the chain is shorter. *total: the chain's bytes. */
dl_mdl *dl_dmaex_locate(dl_mdl *mdl, uint64_t offset, uint64_t *va, uint64_t *total);

/* Consults the context's state table (hal/dl_ctxstate.h) for DL_CTXCALL_*
** `call` (named `name` in a report; NULL: the column's) on c of adapter a:
** the cell, after the report of a refusal. */
dl_ctx_cell dl_dmaex_check_ctx(dl_adapter *a, const dl_dmactx *c, int call, const char *name);

/* Checks an ...Ex allocation call (DL_CTXCALL_ALLOCATE, DL_CTXCALL_GET_SGLIST)
** may use c (of this adapter, and the table allows it); 0 or the NTSTATUS to
** return (after a report where the verifier has one). */
uint32_t dl_dmaex_check_context(dl_adapter *a, dl_dmactx *c, int call, const char *name);

#endif
