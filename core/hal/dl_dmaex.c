/*
** dl_dmaex.c: the version-3 operations around the DMA transfer context: the
** context itself, AllocateAdapterChannelEx / FreeAdapterObject /
** CancelAdapterChannel, Get/BuildScatterGatherListEx, GetDmaTransferInfo,
** GetDmaAdapterInfo, ConfigureAdapterChannel and AllocateCommonBufferEx
** (MapTransferEx and its flush are in dl_dmaex_map.c).
**
** An ...Ex allocation is the v1 request (dl_adapter.c, dl_sglist.c: the same
** rules, reports and queues) carrying its context; the context's routine
** runs in between, records the MapRegisterBase (its grant remembers the
** context, so MapTransferEx finds it from the base) and then calls the
** driver's routine, or, without one, keeps the channel for the driver.
*/
#include "hal/dl_dmaex_int.h"

#include <stdlib.h>

#include "base/dl_status.h"
#include "machine/dl_verifier.h"
#include "base/dl_wdk.h"

/* ---- contexts --------------------------------------------------------------- */

void dl_dmaex_set_kind(dl_adapter *a, const dl_dmaex_kind *kind) { a->ex_kind = kind; }
int dl_dmaex_available(const dl_adapter *a) { return a->desc.version >= 3; }
dl_adapter *dl_dmactx_adapter(const dl_dmactx *c) { return c->a; }
int dl_dmactx_initialized(const dl_dmactx *c) { return c->initialized; }
int dl_dmactx_pending(const dl_dmactx *c) { return c->pending; }
int dl_dmactx_cancelled(const dl_dmactx *c) { return c->cancelled; }
int dl_dmactx_mapped(const dl_dmactx *c) { return c->mapped; }
uint32_t dl_dmactx_device_offset(const dl_dmactx *c) { return c->device_offset; }
int dl_dmactx_write(const dl_dmactx *c) { return c->write; }

const dl_sg_element *dl_dmactx_elements(const dl_dmactx *c, uint32_t *n) {
  *n = c->mapped ? c->nel : 0;
  return c->el;
}

/* 1 while an allocation under c waits or holds what it was granted. */
static int in_use(const dl_dmactx *c) {
  if (c->pending) return 1;
  dl_grant *g = c->base ? dl_adapter_grant(c->a, c->base) : NULL;
  return g && g->ex == c;
}

/* Tells the driver its routine will not run (the binding forgets it). */
static void tell_dropped(dl_dmactx *c) {
  c->pending = 0;
  if ((c->control || c->list_control) && c->a->drop) c->a->drop(c->a, c->user_ctx);
}

/* A waiting request of c was dropped (teardown, or its MDL went away). */
void dl_dmaex_dropped(void *ex) { tell_dropped(ex); }

/* Frees a context (machine teardown): a waiting allocation is withdrawn. */
static void destroy(dl_object *o) {
  dl_dmactx *c = (dl_dmactx *)o;
  if (c->pending && dl_adapter_withdraw(c->a, c)) tell_dropped(c);
  dl_dmaex_released(c);  /* a system transfer still running stops */
  for (uint32_t i = 0; i < c->a->ngrants; i++)
    if (c->a->grants[i].ex == c) c->a->grants[i].ex = NULL;
  free(c->pieces);
  free(c->el);
  dl_object_unlink(o);
  free(c);
}

const dl_object_type dl_dmactx_type = { "DMA_TRANSFER_CONTEXT", destroy, NULL, NULL, NULL };

/* The caller's storage for a context. */
int dl_dmactx_new(dl_adapter *a, dl_dmactx **out) {
  dl_dmactx *c = calloc(1, sizeof *c);
  if (!c) return DL_ENOMEM;
  dl_object_init(DL_OBJECT(c), a->m, &dl_dmactx_type, DL_OBJECT(a));
  c->a = a;
  *out = c;
  return DL_OK;
}

/* The context's row in the state table of hal/dl_ctxstate.h. */
int dl_dmactx_row(const dl_dmactx *c) {
  if (!c->initialized) return DL_CTXROW_UNINIT;
  if (c->pending) return DL_CTXROW_PENDING;
  if (in_use(c)) {
    if (c->cancelled) return DL_CTXROW_CANCELLED_HELD;
    if (!c->mapped) return DL_CTXROW_GRANTED;
    return c->started && !c->done ? DL_CTXROW_IN_FLIGHT : DL_CTXROW_MAPPED;
  }
  if (c->cancelled) return c->granted ? DL_CTXROW_CANCELLED_DONE : DL_CTXROW_CANCELLED;
  return c->granted ? DL_CTXROW_RELEASED : DL_CTXROW_READY;
}

/* Checks an ...Ex call may use c for a new allocation. */
uint32_t dl_dmaex_check_context(dl_adapter *a, dl_dmactx *c, int call, const char *name) {
  if (!c || c->a != a) return DL_STATUS_INVALID_PARAMETER;
  dl_ctx_cell cell = dl_dmaex_check_ctx(a, c, call, name);
  return cell.kind == DL_CTX_ALLOW ? DL_STATUS_SUCCESS : cell.status;
}

/* InitializeDmaTransferContext. */
uint32_t dl_dmaex_initialize_context(dl_adapter *a, dl_dmactx *c) {
  if (!dl_dmaex_available(a)) return DL_STATUS_NOT_SUPPORTED;
  if (!dl_adapter_usable(a, "InitializeDmaTransferContext")) return DL_STATUS_INVALID_PARAMETER;
  dl_verify_irql(a->m, "InitializeDmaTransferContext", 0, DL_DISPATCH_LEVEL);
  if (!c || c->a != a) return DL_STATUS_INVALID_PARAMETER;
  dl_ctx_cell cell = dl_dmaex_check_ctx(a, c, DL_CTXCALL_INIT, NULL);
  if (cell.kind != DL_CTX_ALLOW) return cell.status;
  c->initialized = 1;
  c->cancelled = c->granted = c->mapped = c->started = c->done = 0;
  c->base = 0;
  c->sg = NULL;
  return DL_STATUS_SUCCESS;
}

/* ---- AllocateAdapterChannelEx ------------------------------------------------- */

/* The context's AdapterControl: records the grant, then the driver's routine. */
static int ex_control(void *ctx, dl_device *dev, uint64_t base) {
  dl_dmactx *c = ctx;
  c->pending = 0;
  c->granted = 1;
  c->base = base;
  c->mapped = 0;
  dl_grant *g = dl_adapter_grant(c->a, base);
  if (g) g->ex = c;
  if (!c->control) return DL_KEEP_OBJECT;  /* the driver's until FreeAdapterObject */
  return c->control(c->user_ctx, dev, base);
}

/* Flags, routine and MapRegisterBase must agree (the DDI page's rules). */
static uint32_t check_flags(uint32_t flags, int has_routine) {
  if (flags & ~(uint32_t)DL_DMA_SYNCHRONOUS_CALLBACK) return DL_STATUS_INVALID_PARAMETER;
  if (!has_routine && !(flags & DL_DMA_SYNCHRONOUS_CALLBACK)) return DL_STATUS_INVALID_PARAMETER;
  return DL_STATUS_SUCCESS;
}

/* AllocateAdapterChannelEx. */
uint32_t dl_dmaex_allocate_channel(dl_adapter *a, dl_device *dev, dl_dmactx *c, uint32_t n,
                                   uint32_t flags, dl_adapter_control_fn control, void *ctx,
                                   uint64_t *base) {
  const char *call = "AllocateAdapterChannelEx";
  if (base) *base = 0;
  if (!dl_dmaex_available(a)) return DL_STATUS_NOT_SUPPORTED;
  if (!dl_adapter_usable(a, call)) return DL_STATUS_INVALID_PARAMETER;
  uint32_t st = check_flags(flags, control != NULL);
  if (st || (st = dl_dmaex_check_context(a, c, DL_CTXCALL_ALLOCATE, call))) return st;
  if ((flags & DL_DMA_SYNCHRONOUS_CALLBACK) && n <= a->nmr && !dl_adapter_grantable_now(a, dev, n, 1))
    return DL_STATUS_INSUFFICIENT_RESOURCES;  /* it would have to wait */
  c->control = control;
  c->list_control = NULL;
  c->user_ctx = ctx;
  c->dev = dev;
  c->base = 0;
  c->pending = 1;
  st = dl_adapter_channel_request(a, dev, n, ex_control, c, call, c);
  if (st != DL_STATUS_SUCCESS) c->pending = 0;
  else if (base && !control) *base = c->base;  /* synchronous: granted in the call */
  return st;
}

/* FreeAdapterObject. */
int dl_dmaex_free_adapter_object(dl_adapter *a, int action) {
  if (action == DL_KEEP_OBJECT) return DL_OK;  /* "has no effect" */
  if (action != DL_DEALLOCATE_OBJECT && action != DL_DEALLOCATE_OBJECT_KEEP_REGISTERS)
    return DL_EINVAL;
  dl_adapter_release_owner(a, "FreeAdapterObject", 0, action == DL_DEALLOCATE_OBJECT_KEEP_REGISTERS);
  return DL_OK;
}

/* CancelAdapterChannel. */
int dl_dmaex_cancel_channel(dl_adapter *a, dl_device *dev, dl_dmactx *c) {
  (void)dev;  /* the context names the request */
  if (!dl_dmaex_available(a) || !dl_adapter_usable(a, "CancelAdapterChannel")) return 0;
  dl_verify_irql(a->m, "CancelAdapterChannel", 0, DL_DISPATCH_LEVEL);
  if (!c || c->a != a) return 0;
  if (dl_dmaex_check_ctx(a, c, DL_CTXCALL_CANCEL_CHANNEL, NULL).kind != DL_CTX_ALLOW)
    return 0;  /* something was granted under c (or it is not initialised) */
  if (c->pending) {
    if (!dl_adapter_withdraw(a, c)) return 0;  /* its routine is running */
    tell_dropped(c);
  }
  c->cancelled = 1;  /* withdrawn, or nothing asked yet: later allocations under c are cancelled */
  return 1;
}

/* ---- Get/BuildScatterGatherListEx ---------------------------------------------- */

/* The context's AdapterListControl: records the list, then the driver's routine. */
static void ex_list_control(void *ctx, dl_device *dev, dl_sglist *sg) {
  dl_dmactx *c = ctx;
  c->pending = 0;
  c->granted = 1;
  c->sg = sg;
  c->sg_id = sg->id;
  c->base = sg->base;
  dl_grant *g = dl_adapter_grant(c->a, sg->base);
  if (g) g->ex = c;
  if (c->list_control) c->list_control(c->user_ctx, dev, sg);
}

/* The MDL holding byte `offset` of the chain, and its virtual address there. */
dl_mdl *dl_dmaex_locate(dl_mdl *mdl, uint64_t offset, uint64_t *va, uint64_t *total) {
  dl_mdl *found = NULL;
  uint64_t at = 0;
  for (dl_mdl *cur = mdl; cur; cur = dl_mdl_next(cur)) {
    uint64_t n = dl_mdl_byte_count(cur);
    if (!found && offset < at + n) {
      found = cur;
      *va = dl_mdl_virtual_address(cur) + (offset - at);
    }
    at += n;
  }
  *total = at;
  return found;
}

/* Get/BuildScatterGatherListEx. */
uint32_t dl_dmaex_get_sglist(dl_adapter *a, dl_device *dev, dl_dmactx *c, dl_mdl *mdl,
                             uint64_t offset, uint32_t length, uint32_t flags,
                             dl_list_control_fn control, void *ctx, int write,
                             dl_dma_completion_fn fn, void *fn_ctx, uint64_t buffer_length,
                             dl_sglist **out, uint64_t *out_id) {
  const char *call = buffer_length ? "BuildScatterGatherListEx" : "GetScatterGatherListEx";
  if (out) *out = NULL;
  if (!dl_dmaex_available(a)) return DL_STATUS_NOT_SUPPORTED;
  if (!dl_adapter_usable(a, call)) return DL_STATUS_INVALID_PARAMETER;
  const dl_dmaex_kind *kind = DL_DMAEX_KIND(a);
  if (kind && kind->no_lists) {
    dl_verify_fail(a->m, DL_BUGCHECK_DMA, DL_VF_MISC, a->id, 4, 0,
                   "%s: adapter#%llu is a system DMA channel (do not call this routine for a "
                   "system DMA device: MapTransferEx programs the channel)", call,
                   (unsigned long long)a->id);
    return DL_STATUS_NOT_SUPPORTED;
  }
  uint32_t st = check_flags(flags, control != NULL);
  if (!st && fn && !(kind && kind->completion_routines)) st = DL_STATUS_INVALID_PARAMETER;
  if (st || (st = dl_dmaex_check_context(a, c, DL_CTXCALL_GET_SGLIST, call))) return st;
  uint64_t va = 0, total = 0;
  dl_mdl *cur = dl_dmaex_locate(mdl, offset, &va, &total);
  if (!cur || length == 0 || length > total - offset) return DL_STATUS_INVALID_PARAMETER;
  if ((flags & DL_DMA_SYNCHRONOUS_CALLBACK) &&
      !dl_adapter_grantable_now(a, dev, dl_sglist_registers_needed(a, cur, va, length), 0))
    return DL_STATUS_INSUFFICIENT_RESOURCES;
  c->control = NULL;
  c->list_control = control;
  c->user_ctx = ctx;
  c->dev = dev;
  c->fn = fn;
  c->fn_ctx = fn_ctx;
  c->base = 0;
  c->sg = NULL;
  c->pending = 1;
  st = dl_sglist_request(a, dev, cur, va, length, ex_list_control, c, write, buffer_length, call, c);
  if (st != DL_STATUS_SUCCESS) c->pending = 0;
  else if (out && !control) {  /* synchronous: built in the call */
    *out = c->sg;
    *out_id = c->sg_id;
  }
  return st;
}

/* ---- queries ------------------------------------------------------------------ */

/* GetDmaTransferInfo: CalculateScatterGatherList's rule over the same MDL
** run (the registers MapTransfer will take, the elements the list will have). */
uint32_t dl_dmaex_transfer_info(dl_adapter *a, dl_mdl *mdl, uint64_t offset, uint32_t length,
                                int write_only, uint32_t version, dl_dma_transfer_info *out) {
  (void)write_only;  /* coherent machine: no extra cache work at the buffer's ends */
  if (!dl_dmaex_available(a)) return DL_STATUS_NOT_SUPPORTED;
  if (!dl_adapter_usable(a, "GetDmaTransferInfo")) return DL_STATUS_INVALID_PARAMETER;
  dl_verify_irql(a->m, "GetDmaTransferInfo", 0, DL_DISPATCH_LEVEL);
  if (version != DL_DMA_TRANSFER_INFO_VERSION1) return DL_STATUS_NOT_SUPPORTED;
  uint64_t va = 0, total = 0;
  dl_mdl *cur = dl_dmaex_locate(mdl, offset, &va, &total);
  if (!cur || length == 0 || length > total - offset) return DL_STATUS_INVALID_PARAMETER;
  uint32_t size = 0, regs = 0;
  uint32_t st = dl_adapter_calculate_sglist(a, cur, va, length, &size, &regs);
  if (st != DL_STATUS_SUCCESS) return st;
  out->map_register_count = regs;
  out->sg_element_count = (size - DL_SGLIST_SIZE(0)) / (DL_SGLIST_SIZE(1) - DL_SGLIST_SIZE(0));
  out->sg_list_size = size;
  return DL_STATUS_SUCCESS;
}

/* GetDmaAdapterInfo. A bus master's answer is the lab's: the HAL puts no
** element limit of its own on a scatter/gather master's lists (a packet
** master gets one element per mapping), the width is the adapter's
** ceiling, there is no DMA counter, and DMA_SYNCHRONOUS_CALLBACK works. */
uint32_t dl_dmaex_adapter_info(dl_adapter *a, uint32_t version, dl_dma_adapter_info *out) {
  if (!dl_dmaex_available(a)) return DL_STATUS_NOT_SUPPORTED;
  if (!dl_adapter_usable(a, "GetDmaAdapterInfo")) return DL_STATUS_INVALID_PARAMETER;
  dl_verify_irql(a->m, "GetDmaAdapterInfo", 0, DL_DISPATCH_LEVEL);
  if (version != DL_DMA_ADAPTER_INFO_VERSION1) return DL_STATUS_NOT_SUPPORTED;
  const dl_dmaex_kind *kind = DL_DMAEX_KIND(a);
  if (kind && kind->info) {
    kind->info(a, out);
    return DL_STATUS_SUCCESS;
  }
  out->read_dma_counter_available = 0;
  out->scatter_gather_limit = a->sg ? UINT32_MAX : 1;
  out->dma_address_width = (uint32_t)__builtin_popcountll(a->ceiling);
  out->flags = DL_ADAPTER_INFO_SYNCHRONOUS_CALLBACK;
  out->minimum_transfer_unit = 1;
  return DL_STATUS_SUCCESS;
}

/* ConfigureAdapterChannel: "only for system DMA adapters". */
uint32_t dl_dmaex_configure(dl_adapter *a, uint32_t function, void *context) {
  if (!dl_dmaex_available(a)) return DL_STATUS_NOT_SUPPORTED;
  if (!dl_adapter_usable(a, "ConfigureAdapterChannel")) return DL_STATUS_INVALID_PARAMETER;
  dl_verify_irql(a->m, "ConfigureAdapterChannel", 0, DL_DISPATCH_LEVEL);
  const dl_dmaex_kind *kind = DL_DMAEX_KIND(a);
  if (!kind || !kind->configure) return DL_STATUS_NOT_IMPLEMENTED;
  return kind->configure(a, function, context);
}

/* AllocateCommonBufferEx: AllocateCommonBuffer below a lower ceiling. */
int dl_dmaex_alloc_common(dl_adapter *a, uint64_t max_address, uint32_t length, int cache_enabled,
                          uint32_t preferred_node, uint64_t *va, uint64_t *logical) {
  (void)cache_enabled;  /* ignored on x86/x64, as for AllocateCommonBuffer */
  *va = *logical = 0;
  if (!dl_dmaex_available(a)) return DL_ESTATE;
  if (preferred_node != DL_MM_ANY_NODE_OK && preferred_node != 0) return DL_EINVAL;  /* one node */
  return dl_common_alloc(a, length, max_address ? max_address : a->ceiling,
                         "AllocateCommonBufferEx", va, logical);
}
