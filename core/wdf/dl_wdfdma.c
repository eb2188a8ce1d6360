/*
** dl_wdfdma.c: KMDF DMA enablers (reference 2.1), their power callbacks
** (2.6) and common buffers; transactions are in dl_wdftxn.c.
**
** An enabler is a DEVICE_DESCRIPTION turned into WDM adapters: one, or one
** per direction for the Duplex profiles. Its derived values are what the
** transactions split by: MaximumFragmentLength = min(MaximumLength,
** (NumberOfMapRegisters - 1) * PAGE_SIZE) per adapter, and MaxSGElements
** ((ULONG)-1 until the driver sets it).
*/
#include "wdf/dl_wdfdma_int.h"

#include <stdlib.h>
#include <string.h>

#include "base/dl_status.h"
#include "machine/dl_verifier.h"

static const char *const callback_names[DL_WDFDMA_EVT_COUNT] = {
  "EvtDmaEnablerFill", "EvtDmaEnablerFlush", "EvtDmaEnablerEnable", "EvtDmaEnablerDisable",
  "EvtDmaEnablerSelfManagedIoStart", "EvtDmaEnablerSelfManagedIoStop",
};

static const char *const state_names[] = {
  "Invalid", "Created", "Reserved", "Initialized", "Transfer",
  "TransferCompleted", "TransferFailed", "Released", "Deleted",
};

/* Name of a power callback. */
const char *dl_wdfdma_callback_name(int callback) {
  return callback >= 0 && callback < DL_WDFDMA_EVT_COUNT ? callback_names[callback] : "?";
}

/* Name of a transaction state. */
const char *dl_wdfdma_state_name(int state) {
  return state >= 0 && state <= DL_TXN_DELETED ? state_names[state] : "?";
}

/* IRQL rule of a KMDF call (the DMA verifier's report 0x13 when broken). */
int dl_wdfdma_irql(dl_machine *m, const char *call, int exact, uint8_t level) {
  return dl_verify_irql(m, call, exact, level);
}

/* Report 0x10D/0x8: P2 the transaction's id, P3 its state, as the framework's
** FxVerifierBugCheck(WDF_DMA_FATAL_ERROR, handle, m_State). */
void dl_wdfdma_wrong_state(dl_wdfdma_txn *t, const char *call, const char *allowed) {
  dl_verify_fail(t->e->m, DL_BUGCHECK_WDF, DL_WDF_DMA_FATAL_ERROR, t->id, (uint64_t)t->state, 0,
                 "%s: WDFDMATRANSACTION#%llu is in state %s; allowed in %s", call,
                 (unsigned long long)t->id, dl_wdfdma_state_name(t->state), allowed);
}

/* ---- creation ------------------------------------------------------------------ */

static void enabler_destroy(dl_object *o);
static void enabler_dispose(dl_wdf_object *o);

static const dl_wdf_class enabler_class = {
  {"WDFDMAENABLER", enabler_destroy, NULL, NULL, &dl_wdf_family}, DL_WDF_DELETABLE, NULL, enabler_dispose
};

/* Profile properties: 1 if valid (and modelled), with S/G, 64-bit, duplex. */
static int profile_of(int profile, int *sg, int *dma64, int *duplex) {
  static const struct { int sg, dma64, duplex; } p[] = {
    {0, 0, 0}, {0, 0, 0}, {1, 0, 0}, {0, 1, 0}, {1, 1, 0}, {1, 0, 1}, {1, 1, 1},
    {0, 0, 0}, {0, 0, 1},  /* System, SystemDuplex: packet-like, system adapters */
  };
  if (profile < DL_WDFDMA_PACKET || profile > DL_WDFDMA_SYSTEM_DUPLEX) return 0;
  *sg = p[profile].sg;
  *dma64 = p[profile].dma64;
  *duplex = p[profile].duplex;
  return 1;
}

/* Checks the config against reference 2.1; the DEVICE_DESCRIPTION in *desc. */
static uint32_t describe(const dl_wdfdma_config *c, dl_device_description *desc) {
  int sg, dma64, duplex;
  if (!profile_of(c->profile, &sg, &dma64, &duplex) || c->maximum_length == 0 ||
      c->maximum_length > UINT32_MAX)
    return DL_STATUS_INVALID_PARAMETER;
  if (c->version_override && c->version_override != 2 && c->version_override != 3)
    return DL_STATUS_INVALID_PARAMETER;
  uint32_t aw = c->address_width_override;
  int system = c->profile >= DL_WDFDMA_SYSTEM;
  if (aw && (system || aw < 24 || aw > 64 || (!dma64 && aw > 32))) return DL_STATUS_INVALID_PARAMETER;
  memset(desc, 0, sizeof *desc);
  desc->version = (c->version_override == 3 || aw) ? 3 : 2;  /* the override forces v3 */
  if ((c->flags & DL_WDFDMA_REQUIRE_SINGLE_TRANSFER) && desc->version < 3)
    return DL_STATUS_INVALID_PARAMETER;
  if (system) desc->version = 3;  /* the system profiles use DMA v3 */
  desc->master = !system;
  desc->scatter_gather = sg;
  desc->dma32 = 1;
  desc->dma64 = dma64;
  /* FxDmaEnabler::Initialize fills a v3 width from the flags: v3 takes it
  ** from DmaAddressWidth alone. */
  desc->address_width = aw || desc->version < 3 ? aw : dma64 ? 64 : 32;
  desc->interface_type = DL_PCI_BUS;
  desc->maximum_length = c->maximum_length;
  return DL_STATUS_SUCCESS;
}

/* Gets the adapter of one direction and its derived values. */
uint32_t dl_wdfdma_get_adapter(dl_wdfdma_enabler *e, const dl_device_description *desc, int dir) {
  uint32_t nmr = 0;
  if (dl_adapter_get(e->m, dl_wdf_device_pdo(e->d), desc, &e->adapters[dir], &nmr))
    return DL_STATUS_INSUFFICIENT_RESOURCES;
  dl_adapter_set_drop(e->adapters[dir], dl_wdftxn_dropped);
  dl_adapter_set_framework(e->adapters[dir], e);
  uint64_t ps = dl_machine_page_size(e->m), regs_len = (uint64_t)(nmr ? nmr - 1 : 0) * ps;
  e->nmr[dir] = nmr;
  e->max_frag[dir] = e->cfg.maximum_length < regs_len ? e->cfg.maximum_length : regs_len;
  return e->max_frag[dir] ? DL_STATUS_SUCCESS : DL_STATUS_INSUFFICIENT_RESOURCES;
}

/* WdfDmaEnablerCreate. */
uint32_t dl_wdfdma_enabler_create(dl_wdf_device *d, const dl_wdfdma_config *c,
                                  const dl_wdfdma_ops *ops, dl_wdfdma_enabler **out) {
  dl_machine *m = dl_wdf_device_machine(d);
  *out = NULL;
  dl_wdfdma_irql(m, "WdfDmaEnablerCreate", 1, DL_PASSIVE_LEVEL);
  dl_device_description desc;
  uint32_t st = describe(c, &desc);
  if (!st) st = dl_wdf_object_add_child_status(DL_WDF(d));
  if (st) return st;
  if (dl_wdf_object_deleting(DL_WDF(d))) return DL_STATUS_DELETE_PENDING;
  dl_wdfdma_enabler *e = calloc(1, sizeof *e);
  if (!e) return DL_STATUS_INSUFFICIENT_RESOURCES;
  dl_wdf_object_init(DL_WDF(e), m, &enabler_class, DL_WDF(d));
  e->d = d;
  e->cfg = *c;
  e->ops = ops;
  e->version = desc.version;
  e->packet = !desc.scatter_gather;
  e->duplex = c->profile == DL_WDFDMA_SCATTER_GATHER_DUPLEX ||
              c->profile == DL_WDFDMA_SCATTER_GATHER64_DUPLEX || c->profile == DL_WDFDMA_SYSTEM_DUPLEX;
  e->system = c->profile >= DL_WDFDMA_SYSTEM;  /* adapters come from ConfigureSystemProfile */
  e->max_sg = UINT32_MAX;
  dl_list_init(&e->txns);
  dl_list_init(&e->commons);
  dl_list_init(&e->zombies);
  dl_list_init(&e->chan_waiters);
  st = e->system ? DL_STATUS_SUCCESS : dl_wdfdma_get_adapter(e, &desc, DL_WDFDMA_READ_FROM_DEVICE);
  if (!st && e->duplex && !e->system) st = dl_wdfdma_get_adapter(e, &desc, DL_WDFDMA_WRITE_TO_DEVICE);
  else if (!st) {
    e->adapters[1] = e->adapters[0];
    e->nmr[1] = e->nmr[0];
    e->max_frag[1] = e->max_frag[0];
  }
  if (!st && dl_wdf_device_add_power_hook(d, dl_wdfdma_enabler_power, e))
    st = DL_STATUS_INSUFFICIENT_RESOURCES;
  if (st) {
    dl_wdf_object_delete_framework(DL_WDF(e));
    return st;
  }
  e->hooked = 1;
  *out = e;
  return DL_STATUS_SUCCESS;
}

/* Puts an adapter back, quietly dropping what it still holds: the
** framework frees everything of a deleted enabler. */
static void put_adapter(dl_adapter *a) {
  if (a && !dl_adapter_is_released(a)) {
    uint8_t irql = dl_machine_irql(dl_adapter_machine(a));
    dl_machine_set_irql(dl_adapter_machine(a), DL_PASSIVE_LEVEL);
    dl_adapter_put(a);
    dl_machine_set_irql(dl_adapter_machine(a), irql);
  }
}

/* Frees the enabler's memory once it is dead and has no zombies. */
void dl_wdfdma_enabler_reap(dl_wdfdma_enabler *e) {
  if (e->dead && dl_list_empty(&e->zombies)) free(e);
}

/* Machine teardown: memory only; its transactions and buffers (newer) went
** before, the zombies an adapter still held go now. */
static void enabler_destroy(dl_object *o) {
  dl_wdfdma_enabler *e = (dl_wdfdma_enabler *)o;
  dl_wdf_object_fini(DL_WDF(e));
  while (!dl_list_empty(&e->zombies)) {
    dl_link *l = e->zombies.next;
    dl_list_remove(l);
    dl_wdftxn_free_memory(DL_CONTAINER(l, dl_wdfdma_txn, link));
  }
  free(e);
}

/* The framework's deletion: its transactions and common buffers go with it
** (wherever ParentObject put them), the power hook, its adapters
** (PutDmaAdapter); transactions an adapter will still call back stay as
** zombies, and so does the enabler's memory. */
static void enabler_dispose(dl_wdf_object *o) {
  dl_wdfdma_enabler *e = (dl_wdfdma_enabler *)o;
  dl_link *lists[] = {&e->txns, &e->commons};
  for (int k = 0; k < 2; k++)
    for (dl_link *l = lists[k]->next; l != lists[k];) {
      dl_wdf_object *c = k ? DL_WDF(DL_CONTAINER(l, dl_wdfdma_common, link))
                           : DL_WDF(DL_CONTAINER(l, dl_wdfdma_txn, link));
      l = dl_wdf_object_delete_framework(c) ? lists[k]->next : l->next;
    }
  if (e->hooked) dl_wdf_device_remove_power_hook(e->d, e);
  put_adapter(e->adapters[0]);
  if (e->adapters[1] != e->adapters[0]) put_adapter(e->adapters[1]);
  e->dead = 1;
  dl_wdfdma_enabler_reap(e);
}

/* ---- power ----------------------------------------------------------------------- */

/* Runs one callback the driver gave (others succeed), logged on the device. */
static uint32_t run_callback(dl_wdfdma_enabler *e, int cb) {
  if (!(e->cfg.callbacks & (1u << cb)) || !e->ops || !e->ops->power) return DL_STATUS_SUCCESS;
  dl_wdf_device_log(e->d, callback_names[cb]);
  uint8_t irql = dl_machine_irql(e->m);
  dl_machine_set_irql(e->m, DL_PASSIVE_LEVEL);
  dl_wdf_object_hold(DL_WDF(e));  /* it cannot be deleted from its own callback */
  uint32_t st = e->ops->power(e->data, e, cb);
  dl_wdf_object_unhold(DL_WDF(e));
  dl_machine_set_irql(e->m, irql);
  return st;
}

/* FxDmaEnabler::PowerUp / PowerDown with the skip rules of reference 2.6. */
uint32_t dl_wdfdma_enabler_power(void *enabler, int up) {
  dl_wdfdma_enabler *e = enabler;
  uint32_t st;
  if (up) {
    e->fill_failed = e->enable_failed = 0;
    if ((st = run_callback(e, DL_WDFDMA_EVT_FILL))) {
      e->fill_failed = 1;
      return st;
    }
    if ((st = run_callback(e, DL_WDFDMA_EVT_ENABLE))) {
      e->enable_failed = 1;
      return st;
    }
    return run_callback(e, DL_WDFDMA_EVT_SELF_MANAGED_IO_START);
  }
  uint32_t first = run_callback(e, DL_WDFDMA_EVT_SELF_MANAGED_IO_STOP);
  if (!e->fill_failed && (st = run_callback(e, DL_WDFDMA_EVT_DISABLE)) && !first) first = st;
  if (!e->fill_failed && !e->enable_failed && (st = run_callback(e, DL_WDFDMA_EVT_FLUSH)) && !first)
    first = st;
  return first;
}

/* ---- accessors ------------------------------------------------------------------ */

static int dir_of(int direction) { return direction ? DL_WDFDMA_WRITE_TO_DEVICE : DL_WDFDMA_READ_FROM_DEVICE; }

dl_wdf_device *dl_wdfdma_enabler_device(const dl_wdfdma_enabler *e) { return e->d; }
dl_machine *dl_wdfdma_enabler_machine(const dl_wdfdma_enabler *e) { return e->m; }
uint64_t dl_wdfdma_enabler_id(const dl_wdfdma_enabler *e) { return e->id; }
int dl_wdfdma_enabler_profile(const dl_wdfdma_enabler *e) { return e->cfg.profile; }
uint32_t dl_wdfdma_enabler_version(const dl_wdfdma_enabler *e) { return e->version; }
uint64_t dl_wdfdma_enabler_maximum_length(const dl_wdfdma_enabler *e) { return e->cfg.maximum_length; }
uint64_t dl_wdfdma_enabler_fragment_length(const dl_wdfdma_enabler *e, int direction) {
  if (direction != DL_WDFDMA_READ_FROM_DEVICE && direction != DL_WDFDMA_WRITE_TO_DEVICE) return 0;
  return e->max_frag[direction];
}
dl_adapter *dl_wdfdma_enabler_adapter(const dl_wdfdma_enabler *e, int direction) {
  return e->adapters[dir_of(direction)];
}
uint32_t dl_wdfdma_enabler_max_sg_elements(const dl_wdfdma_enabler *e) { return e->max_sg; }
int dl_wdfdma_enabler_is_packet(const dl_wdfdma_enabler *e) { return e->packet; }

/* WdfDmaEnablerSetMaximumScatterGatherElements. */
void dl_wdfdma_enabler_set_max_sg_elements(dl_wdfdma_enabler *e, uint32_t n) {
  dl_wdfdma_irql(e->m, "WdfDmaEnablerSetMaximumScatterGatherElements", 1, DL_PASSIVE_LEVEL);
  if (n) e->max_sg = n;
}

/* ---- common buffers ------------------------------------------------------------ */

/* WdfCommonBufferCreate[WithConfig]: from the write adapter, realigned when
** the requirement exceeds a page (FxCommonBuffer::AllocateCommonBuffer). */
static void common_free(dl_wdfdma_common *cb) {
  dl_machine *m = dl_adapter_machine(cb->a);
  uint8_t irql = dl_machine_irql(m);
  dl_machine_set_irql(m, DL_PASSIVE_LEVEL);
  if (!dl_adapter_is_released(cb->a))
    dl_adapter_free_common(cb->a, cb->raw_length, cb->raw_logical, cb->raw_va, 1);
  dl_machine_set_irql(m, irql);
  dl_list_remove(&cb->link);
  free(cb);
}

static void common_dispose(dl_wdf_object *o) { common_free((dl_wdfdma_common *)o); }

/* Machine teardown: the adapter frees the memory itself. */
static void common_destroy(dl_object *o) {
  dl_wdfdma_common *cb = (dl_wdfdma_common *)o;
  dl_wdf_object_fini(DL_WDF(cb));
  dl_list_remove(&cb->link);
  free(cb);
}

static const dl_wdf_class common_class = {
  {"WDFCOMMONBUFFER", common_destroy, NULL, NULL, &dl_wdf_family}, DL_WDF_DELETABLE, NULL, common_dispose
};

uint32_t dl_wdfdma_common_create(dl_wdfdma_enabler *e, uint64_t length, uint32_t alignment,
                                 dl_wdfdma_common **out) {
  *out = NULL;
  dl_wdfdma_irql(e->m, "WdfCommonBufferCreate", 1, DL_PASSIVE_LEVEL);
  uint64_t ps = dl_machine_page_size(e->m);
  uint64_t extra = alignment > ps - 1 ? alignment : 0;
  if (length == 0 || length + extra > UINT32_MAX) return DL_STATUS_INVALID_PARAMETER;
  if (dl_wdf_object_add_child_status(DL_WDF(e))) return DL_STATUS_DELETE_PENDING;
  dl_wdfdma_common *cb = calloc(1, sizeof *cb);
  if (!cb) return DL_STATUS_INSUFFICIENT_RESOURCES;
  cb->e = e;
  cb->a = e->adapters[DL_WDFDMA_WRITE_TO_DEVICE];
  cb->raw_length = (uint32_t)(length + extra);
  if (dl_adapter_alloc_common(cb->a, cb->raw_length, 1, &cb->raw_va, &cb->raw_logical)) {
    free(cb);
    return DL_STATUS_INSUFFICIENT_RESOURCES;
  }
  uint64_t shift = extra ? ((cb->raw_logical + alignment) & ~(uint64_t)alignment) - cb->raw_logical : 0;
  cb->logical = cb->raw_logical + shift;
  cb->va = cb->raw_va + shift;
  cb->length = length;
  dl_wdf_object_init(DL_WDF(cb), e->m, &common_class, DL_WDF(e));
  dl_list_append(&e->commons, &cb->link);
  *out = cb;
  return DL_STATUS_SUCCESS;
}

uint64_t dl_wdfdma_common_va(const dl_wdfdma_common *cb) { return cb->va; }
uint64_t dl_wdfdma_common_logical(const dl_wdfdma_common *cb) { return cb->logical; }
uint64_t dl_wdfdma_common_length(const dl_wdfdma_common *cb) { return cb->length; }

