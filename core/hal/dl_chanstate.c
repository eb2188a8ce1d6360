/*
** dl_chanstate.c: the adapter channel's state table (reference 1.3, the
** Driver Verifier DMA checks of 1.7): which channel calls each state allows.
*/
#include "hal/dl_chanstate.h"

#include "machine/dl_verifier.h"

#define A DL_CH_ALLOW
#define PUT DL_VF_ADAPTER_RELEASED
#define TWO DL_VF_TOO_MANY_CHANNELS
#define FREED DL_VF_DOUBLE_FREE_CHANNEL

/* table[row][call]. A request from inside AdapterControl would wait on the
** channel its own routine holds; FreeAdapterChannel frees only a channel
** kept with KeepObject; a put adapter takes no call. */
static const uint32_t table[DL_CHROW_COUNT][DL_CHCALL_COUNT] = {
  /*               Allocate  GetSGList  Free    Put */
  /* idle       */ { A,        A,         FREED,  A },
  /* waiting    */ { A,        A,         FREED,  A },
  /* in control */ { TWO,      A,         FREED,  A },
  /* kept       */ { A,        A,         A,      A },
  /* put        */ { PUT,      PUT,       PUT,    PUT },
};

static const char *const row_names[DL_CHROW_COUNT] = {
  "idle", "held by a request waiting for map registers", "in AdapterControl",
  "kept by KeepObject", "put (PutDmaAdapter)",
};

static const char *const call_names[DL_CHCALL_COUNT] = {
  "AllocateAdapterChannel", "GetScatterGatherList", "FreeAdapterChannel", "PutDmaAdapter",
};

uint32_t dl_adapter_channel_cell(int row, int call) {
  if (row < 0 || row >= DL_CHROW_COUNT || call < 0 || call >= DL_CHCALL_COUNT) return DL_VF_MISC + 0x100;
  return table[row][call];
}

const char *dl_adapter_channel_row_name(int row) {
  return row >= 0 && row < DL_CHROW_COUNT ? row_names[row] : "?";
}

const char *dl_adapter_channel_call_name(int call) {
  return call >= 0 && call < DL_CHCALL_COUNT ? call_names[call] : "?";
}

/* Consults the table once; a refused call is report 0xE6 with the cell's P1. */
int dl_chanstate_check(dl_machine *m, uint64_t adapter_id, int row, int call, const char *name) {
  uint32_t p1 = dl_adapter_channel_cell(row, call);
  if (p1 == DL_CH_ALLOW) return 1;
  unsigned long long id = (unsigned long long)adapter_id;
  if (!name) name = dl_adapter_channel_call_name(call);
  if (p1 == DL_VF_ADAPTER_RELEASED)
    dl_verify_fail(m, DL_BUGCHECK_DMA, p1, adapter_id, 0, 0,
                   "%s: adapter#%llu was already released by PutDmaAdapter", name, id);
  else if (p1 == DL_VF_TOO_MANY_CHANNELS)
    dl_verify_fail(m, DL_BUGCHECK_DMA, p1, 1, 0, 0,
                   "%s: adapter#%llu already has an adapter channel request outstanding "
                   "(called inside AdapterControl)", name, id);
  else
    dl_verify_fail(m, DL_BUGCHECK_DMA, p1, 1, 0, 0,
                   "%s: adapter#%llu holds no channel kept by KeepObject (freed twice?); its "
                   "channel is %s", name, id, row_names[row]);
  return 0;
}
