/*
** dl_wdfsys.c: KMDF's system profiles (WdfDmaProfileSystem and
** ...SystemDuplex, FxDmaSystemTransaction): the enabler gets its adapters
** from WdfDmaEnablerConfigureSystemProfile (a system DMA adapter over the
** DMA resource: the 8237 for a v1 descriptor, an SoC controller's request
** line for a v3 one); a transaction runs as a packet transaction that keeps
** the adapter channel (KeepObject), calls EvtDmaTransactionConfigureDmaChannel
** before each MapTransfer (FALSE: the driver ended the transaction there),
** and hears the controller's terminal count as
** EvtDmaTransactionDmaTransferComplete(DmaComplete); WdfDmaTransactionCancel
** stops a mapped transfer and reports DmaCancelled. On Windows the framework
** reaches the HAL through the version-3 operations; here it drives the
** system adapter (hal/dl_slave.h) directly, with the same effects.
*/
#define DL_WDFTXN_SHORT_NAMES
#include "wdf/dl_wdfdma_int.h"

#include <string.h>

#include "base/dl_status.h"
#include "hal/dl_slave.h"

int dl_wdfdma_enabler_is_system(const dl_wdfdma_enabler *e) { return e->system; }

/* The DEVICE_DESCRIPTION ConfigureSystemProfile builds (FxDmaEnabler::
** ConfigureSystemAdapter): version 3, not a master, the resource's channel. */
static void describe(const dl_wdfdma_enabler *e, const dl_wdfdma_system_config *c,
                     dl_device_description *d) {
  memset(d, 0, sizeof *d);
  d->version = 3;
  d->master = 0;
  d->interface_type = c->v3 ? DL_INTERNAL : DL_ISA;
  d->dma_channel = c->channel;
  d->dma_port = c->port;
  d->dma_request_line = c->request_line;
  d->dma_controller_instance = c->controller;
  d->dma_width = c->dma_width;
  d->demand_mode = c->demand_mode;
  d->auto_initialize = c->looped;
  d->device_address = c->device_address;
  d->address_width = c->v3 ? 32 : 24;
  d->maximum_length = e->cfg.maximum_length;
}

/* WdfDmaEnablerConfigureSystemProfile. */
uint32_t dl_wdfdma_enabler_configure_system(dl_wdfdma_enabler *e, const dl_wdfdma_system_config *c,
                                            int direction) {
  dl_wdfdma_irql(e->m, "WdfDmaEnablerConfigureSystemProfile", 1, DL_PASSIVE_LEVEL);
  if (!e->system) return DL_STATUS_INVALID_DEVICE_REQUEST;
  int dir = direction ? DL_WDFDMA_WRITE_TO_DEVICE : DL_WDFDMA_READ_FROM_DEVICE;
  if (!e->duplex) dir = DL_WDFDMA_READ_FROM_DEVICE;  /* one adapter for both */
  if (e->adapters[dir]) return DL_STATUS_INVALID_DEVICE_REQUEST;  /* configured already */
  dl_device_description d;
  describe(e, c, &d);
  uint32_t st = dl_wdfdma_get_adapter(e, &d, dir);
  if (st) return st;
  dl_adapter_set_transfer_contexts(e->adapters[dir], 1);  /* the framework uses DMA v3 here */
  e->sys[dir] = *c;
  if (!e->duplex) {
    e->adapters[1] = e->adapters[0];
    e->nmr[1] = e->nmr[0];
    e->max_frag[1] = e->max_frag[0];
    e->sys[1] = *c;
  }
  return DL_STATUS_SUCCESS;
}

void dl_wdfdma_txn_set_configure_channel(dl_wdfdma_txn *t, int set) { t->sys_configure = set != 0; }
void dl_wdfdma_txn_set_transfer_complete(dl_wdfdma_txn *t, int set) { t->sys_complete = set != 0; }
void dl_wdfdma_txn_set_device_address_offset(dl_wdfdma_txn *t, uint64_t offset) { t->sys_offset = offset; }

/* What the packet AdapterControl returns: system DMA keeps the channel
** while the transaction holds it (a transfer or a reservation); one that
** ended inside the routine gives it back by returning DeallocateObject. */
int dl_wdfsys_action(const dl_wdfdma_txn *t) {
  if (!t->e->system) return DL_DEALLOCATE_OBJECT_KEEP_REGISTERS;
  return t->have_regs || t->reserved ? DL_KEEP_OBJECT : DL_DEALLOCATE_OBJECT;
}

/* Frees the registers of a transfer or reservation; system DMA kept the
** channel with them, which FreeAdapterChannel gives back (not from inside
** AdapterControl: its return value does it then). */
void dl_wdfsys_free_registers(dl_wdfdma_txn *t, uint64_t base, uint32_t n) {
  if (!t->e->system) dl_adapter_free_map_registers(t->a, base, n);
  else if (!dl_adapter_channel_busy(t->a, dl_wdf_device_pdo(t->e->d))) dl_adapter_free_channel(t->a);
}

/* EvtDmaTransactionConfigureDmaChannel (PreMapTransfer), then the device
** address for this transfer. */
int dl_wdfsys_pre_map(dl_wdfdma_txn *t, dl_mdl *mdl, uint64_t va, uint64_t len) {
  if (!t->e->system) return 1;
  dl_slave_set_device_offset(t->a, t->sys_offset);
  if (!t->sys_configure || !t->e->ops || !t->e->ops->configure_channel) return 1;
  uint8_t irql = raise_dispatch(t->e->m);
  int go = t->e->ops->configure_channel(t->data, t, mdl, va - dl_mdl_virtual_address(mdl), len);
  dl_machine_set_irql(t->e->m, irql);
  return go;
}

/* MapTransfer of the staged fragment. A system profile on a scatter/gather
** controller maps it as one transfer of its runs (on Windows: MapTransferEx
** with the framework's list of NumberOfMapRegisters elements), and
** EvtProgramDma sees them; otherwise one element, as MapTransfer gives. */
int dl_wdfsys_map(dl_wdfdma_txn *t, dl_mdl *mdl, uint64_t va, uint32_t *len, dl_sg_element *one,
                  const dl_sg_element **el, uint32_t *n) {
  int write = t->direction == DL_WDFDMA_WRITE_TO_DEVICE;
  *el = one;
  *n = 1;
  if (!t->e->system || dl_slave_sg_limit(t->a) <= 1) {
    one->length = *len;
    int rc = dl_adapter_map_transfer(t->a, mdl, t->base, va, &one->length, write, &one->address);
    *len = one->length;
    return rc;
  }
  uint64_t first;
  int rc = dl_slave_map_list(t->a, mdl, t->base, va, len, write, &first);
  if (rc) return rc;
  *el = dl_slave_list(t->a);
  uint32_t at = 0;
  for (*n = 0; at < *len; (*n)++) at += (*el)[*n].length;
  return DL_OK;
}

/* The controller reached terminal count for the transaction's transfer. */
static void on_complete(void *ctx, int status) {
  dl_wdfdma_txn *t = ctx;
  if (t->zombie || t->state != DL_TXN_TRANSFER || !t->sys_complete || !t->e->ops->transfer_complete)
    return;
  hold(t);
  uint8_t irql = raise_dispatch(t->e->m);
  t->e->ops->transfer_complete(t->data, t, t->direction, status);
  dl_machine_set_irql(t->e->m, irql);
  unhold(t);
}

/* After MapTransfer: listen for the transfer's completion. */
void dl_wdfsys_post_map(dl_wdfdma_txn *t) {
  if (!t->e->system) return;
  dl_adapter_set_completion(t->a, on_complete, t);
  t->sys_listening = 1;
}

void dl_wdfsys_unlisten(dl_wdfdma_txn *t) {
  if (!t->sys_listening) return;
  dl_adapter_set_completion(t->a, NULL, NULL);
  t->sys_listening = 0;
}

/* A staging that failed in AdapterControl (MapTransfer refused): KMDF fakes
** a completion, DmaError (DmaCancelled for a cancel), and the driver ends
** the transaction from its callback; 1 if the driver was told. */
int dl_wdfsys_stage_failed(dl_wdfdma_txn *t, uint32_t st) {
  if (!t->e->system || !t->sys_complete) return 0;
  on_complete(t, st == DL_STATUS_CANCELLED ? DL_DMA_CANCELLED : DL_DMA_ERROR);
  return 1;
}

/* WdfDmaTransactionCancel of a mapped system transfer (StopTransfer): the
** channel stops and the driver hears DmaCancelled; it then ends the
** transaction with DmaCompleted* as for any completion. */
int dl_wdfsys_cancel(dl_wdfdma_txn *t) {
  dl_slave_stop(t->a);
  on_complete(t, DL_DMA_CANCELLED);
  return 1;
}
