/*
** dl_dmaex_map.c: MapTransferEx, FlushAdapterBuffersEx, CancelMappedTransfer
** and the DmaCompletionRoutine.
**
** MapTransferEx is MapTransfer run over the MDL chain from Offset: each
** piece (a run MapTransfer maps: a contiguous run for a scatter/gather
** master, up to the MDL's end for a packet master) is one MapTransfer of the
** core (dl_maptransfer.c: its bounces, copies, IOMMU mappings and reports)
** and one element of the list. It stops early, with *Length shortened, when
** the caller's ScatterGatherBuffer is full or the MapRegisterBase's
** registers are used up, as the DDI page says. FlushAdapterBuffersEx ends
** those mappings (copying read bounces back). The v3 operations also do the
** cache work v1 drivers did with KeFlushIoBuffers: MapTransferEx writes back
** before a write, FlushAdapterBuffersEx discards after a read.
*/
#include "hal/dl_dmaex_int.h"
#include "hal/dl_mrstate.h"

#include "hal/dl_slave.h"
#include "memory/dl_cache.h"
#include "base/dl_status.h"
#include "machine/dl_trace.h"
#include "machine/dl_verifier.h"
#include "base/dl_wdk.h"
#include "base/dl_vec.h"

/* The one place a context call is decided (here, beside the system
** channel's calls: a 0x23 report names the controller and the channel). */
dl_ctx_cell dl_dmaex_check_ctx(dl_adapter *a, const dl_dmactx *c, int call, const char *name) {
  uint32_t channel = 0;
  if (a->slave) dl_adapter_controller(a, &channel);
  dl_ctx_args x = {name, a->id, a->desc.dma_controller_instance, channel};
  return dl_ctxstate_check(a->m, dl_dmactx_row(c), call, &x);
}

/* Writes back and discards the cached lines of a piece's pages. */
static void cache_flush(dl_adapter *a, const dl_dmaex_piece *p) {
  dl_cache *cache = dl_machine_cache(a->m);
  if (!cache) return;
  uint64_t ps = dl_machine_page_size(a->m);
  for (uint32_t done = 0; done < p->length;) {
    uint32_t n = (uint32_t)(ps - (p->va + done) % ps);
    if (n > p->length - done) n = p->length - done;
    dl_cache_flush(cache, dl_mdl_pa(p->mdl, p->va + done), n);
    done += n;
  }
}

/* Ends the mappings of c's pieces under grant gi (copying read bounces back
** if asked: on a system channel only what its counter says moved, as
** FlushAdapterBuffers does). */
static void end_pieces(dl_adapter *a, dl_dmactx *c, uint32_t gi, int copy_back) {
  for (uint32_t i = 0; i < a->nmaps; i++) {
    dl_mapping *mp = &a->maps[i];
    if (!mp->live || mp->grant != gi) continue;
    for (uint32_t k = 0; k < c->npieces; k++)
      if (mp->mdl == c->pieces[k].mdl && mp->va == c->pieces[k].va) {
        if (copy_back && a->slave) dl_slave_flush(a, mp);
        dl_adapter_end_mapping(a, i, copy_back);
        break;
      }
  }
}

/* The status for a MapTransfer failure of the core. */
static uint32_t status_of(int rc) {
  return rc == DL_ENOSPACE || rc == DL_ENOMEM ? DL_STATUS_INSUFFICIENT_RESOURCES
                                              : DL_STATUS_INVALID_PARAMETER;
}

/* Records one mapped piece and its element; DL_ENOMEM if out of memory. */
static int keep_piece(dl_dmactx *c, dl_mdl *mdl, uint64_t va, uint32_t len, uint64_t logical) {
  if (dl_vec_reserve(c->pieces, c->pieces_cap, c->npieces + 1) ||
      dl_vec_reserve(c->el, c->el_cap, c->nel + 1))
    return DL_ENOMEM;
  c->pieces[c->npieces++] = (dl_dmaex_piece){mdl, va, len};
  c->el[c->nel++] = (dl_sg_element){logical, len};
  return DL_OK;
}

/* Maps up to `want` bytes from (cur, va) into at most max_el elements
** within `budget` registers (UINT32_MAX: no limit); *mapped: the bytes. */
static int map_pieces(dl_adapter *a, dl_dmactx *c, dl_mdl *cur, uint64_t va, uint32_t want,
                      uint64_t base, uint32_t max_el, uint32_t budget, uint32_t *mapped) {
  uint64_t ps = dl_machine_page_size(a->m);
  uint32_t done = 0, used = 0;
  while (cur && done < want && c->nel < max_el) {
    uint64_t end = dl_mdl_virtual_address(cur) + dl_mdl_byte_count(cur);
    uint32_t len = (uint32_t)(end - va < want - done ? end - va : want - done);
    if (budget != UINT32_MAX) {  /* the registers left cover this many bytes from va */
      uint64_t fit = (uint64_t)(budget - used) * ps - (budget > used ? va % ps : 0);
      if (budget <= used || fit == 0) break;
      if (len > fit) len = (uint32_t)fit;
    }
    uint64_t logical;
    int rc = dl_adapter_map_transfer(a, cur, base, va, &len, c->write, &logical);
    if (rc) return rc;
    if ((rc = keep_piece(c, cur, va, len, logical))) return rc;
    used += (uint32_t)dl_span_pages(va, len, ps);
    done += len;
    va += len;
    if (va == end && (cur = dl_mdl_next(cur))) va = dl_mdl_virtual_address(cur);
  }
  *mapped = done;
  return DL_OK;
}

/* The MapRegisterBase's context in *c: one granted under a context and
** flushed since its last map; else a status (after a report, or for a bad
** base). The context's table decides first (a cancelled one answers
** STATUS_CANCELLED), then the base's. */
static uint32_t context_of(dl_adapter *a, uint64_t base, dl_dmactx **c, uint32_t *gi) {
  dl_grant *g = dl_adapter_grant(a, base);
  if (g && g->ex && !g->sg) {  /* a channel's base granted under a context: its table first */
    dl_ctx_cell cell = dl_dmaex_check_ctx(a, g->ex, DL_CTXCALL_MAP, NULL);
    if (cell.kind != DL_CTX_ALLOW) return cell.status;
  }
  if (dl_adapter_check_base(a, base, DL_MRCALL_MAP_EX, NULL, NULL, 0) != DL_MR_ALLOW)
    return DL_STATUS_INVALID_PARAMETER;
  *gi = (uint32_t)(g - a->grants);
  *c = g->ex;
  return DL_STATUS_SUCCESS;
}

/* The argument rules of MapTransferEx that depend on the adapter's kind. */
static uint32_t check_kind_args(dl_adapter *a, uint32_t device_offset, uint64_t sg_buffer_length,
                                dl_dma_completion_fn fn, uint32_t *max_el) {
  const dl_dmaex_kind *kind = DL_DMAEX_KIND(a);
  if (fn && !(kind && kind->completion_routines)) return DL_STATUS_INVALID_PARAMETER;
  if (device_offset && !(kind && kind->device_offsets)) return DL_STATUS_INVALID_PARAMETER;
  if (sg_buffer_length == 0) {  /* NULL buffer: a system adapter's default, one element */
    *max_el = 1;
    return kind && kind->default_buffer ? DL_STATUS_SUCCESS : DL_STATUS_INVALID_PARAMETER;
  }
  if (sg_buffer_length < DL_SGLIST_SIZE(1)) return DL_STATUS_INVALID_PARAMETER;
  uint64_t n = (sg_buffer_length - DL_SGLIST_SIZE(0)) / (DL_SGLIST_SIZE(1) - DL_SGLIST_SIZE(0));
  if (kind && kind->max_elements && n > kind->max_elements) n = kind->max_elements;
  if (kind && kind->info) {  /* no more than the controller walks in one transfer */
    dl_dma_adapter_info info;
    kind->info(a, &info);
    if (n > info.scatter_gather_limit) n = info.scatter_gather_limit;
  }
  *max_el = n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
  return DL_STATUS_SUCCESS;
}

/* Stops c's started transfer that has not ended and drops its routine:
** it will never run (the binding forgets it). */
static void stop_transfer(dl_adapter *a, dl_dmactx *c) {
  if (!c->started || c->done) return;
  const dl_dmaex_kind *kind = DL_DMAEX_KIND(a);
  if (kind && kind->cancel) kind->cancel(a, c);
  c->done = 1;
  if (c->fn && a->drop) a->drop(a, c->fn_ctx);
}

/* MapTransferEx. */
uint32_t dl_dmaex_map_transfer(dl_adapter *a, dl_mdl *mdl, uint64_t base, uint64_t offset,
                               uint32_t device_offset, uint32_t *length, int write,
                               uint64_t sg_buffer_length, dl_dma_completion_fn fn, void *fn_ctx,
                               const dl_sg_element **list, uint32_t *count) {
  uint32_t want = *length, gi = 0, max_el = 0;
  *list = NULL;
  *count = 0;
  if (!dl_dmaex_available(a)) return DL_STATUS_NOT_SUPPORTED;
  if (!dl_adapter_usable(a, "MapTransferEx")) return DL_STATUS_INVALID_PARAMETER;
  dl_verify_irql(a->m, "MapTransferEx", 0, DL_DISPATCH_LEVEL);
  dl_dmactx *c = NULL;
  uint32_t st = context_of(a, base, &c, &gi);
  if (!st) st = check_kind_args(a, device_offset, sg_buffer_length, fn, &max_el);
  if (st) return st;
  uint64_t va = 0, total = 0;
  dl_mdl *cur = dl_dmaex_locate(mdl, offset, &va, &total);
  if (!cur || want > total - offset) return DL_STATUS_INVALID_PARAMETER;
  dl_grant *g = &a->grants[gi];
  uint32_t budget = a->needs_registers ? g->asked : UINT32_MAX, mapped = 0;
  c->npieces = c->nel = 0;
  c->write = write;
  const dl_dmaex_kind *kind = DL_DMAEX_KIND(a);
  a->ex_mapping = kind && kind->start;  /* the kind programs the channel once all is mapped */
  int rc = map_pieces(a, c, cur, va, want, base, max_el, budget, &mapped);
  a->ex_mapping = 0;
  if (rc || mapped == 0) {
    end_pieces(a, c, gi, 0);
    return rc ? status_of(rc) : DL_STATUS_INSUFFICIENT_RESOURCES;
  }
  c->mapped = 1;
  c->started = c->done = 0;
  c->mdl = mdl;
  c->offset = offset;
  c->length = mapped;
  c->device_offset = device_offset;
  c->fn = fn;
  c->fn_ctx = fn_ctx;
  if (write)
    for (uint32_t k = 0; k < c->npieces; k++) cache_flush(a, &c->pieces[k]);
  if (kind && kind->start) {
    c->started = 1;
    if ((st = kind->start(a, c)) != DL_STATUS_SUCCESS) {
      end_pieces(a, c, gi, 0);
      c->mapped = c->started = 0;
      return st;
    }
  }
  *length = mapped;
  *list = c->el;
  *count = c->nel;
  return DL_STATUS_SUCCESS;
}

/* FlushAdapterBuffersEx. */
uint32_t dl_dmaex_flush(dl_adapter *a, dl_mdl *mdl, uint64_t base, uint64_t offset,
                        uint32_t length, int write) {
  (void)write;  /* the transfer remembers its direction */
  if (!dl_dmaex_available(a)) return DL_STATUS_NOT_SUPPORTED;
  if (!dl_adapter_usable(a, "FlushAdapterBuffersEx")) return DL_STATUS_INVALID_PARAMETER;
  dl_verify_irql(a->m, "FlushAdapterBuffersEx", 0, DL_DISPATCH_LEVEL);
  dl_mr_place at = {mdl, offset, 1};  /* MapTransferEx's transfer from Offset of mdl */
  if (dl_adapter_check_base(a, base, DL_MRCALL_FLUSH_EX, NULL, &at, 0) != DL_MR_ALLOW)
    return DL_STATUS_INVALID_PARAMETER;
  dl_grant *g = dl_adapter_grant(a, base);
  dl_dmactx *c = g->ex;
  dl_ctx_cell cell = dl_dmaex_check_ctx(a, c, DL_CTXCALL_FLUSH, NULL);  /* 0x23: reported, done */
  if (cell.kind != DL_CTX_ALLOW && cell.kind != DL_CTX_FORCE) return cell.status;
  if (length != c->length)
    dl_verify_fail(a->m, DL_BUGCHECK_DMA, DL_VF_MISC, a->id, length, c->length,
                   "FlushAdapterBuffersEx: Length %u differs from the %u bytes MapTransferEx mapped",
                   length, c->length);
  stop_transfer(a, c);  /* flushed before it ended: stopped, its routine dropped */
  end_pieces(a, c, (uint32_t)(g - a->grants), 1);
  if (!c->write)
    for (uint32_t k = 0; k < c->npieces; k++) cache_flush(a, &c->pieces[k]);
  c->mapped = c->started = 0;
  a->stats.flushes++;
  dl_trace_emit(a->m, DL_TR_FLUSH, a->id, offset, c->length);
  return DL_STATUS_SUCCESS;
}

/* CancelMappedTransfer. */
uint32_t dl_dmaex_cancel_mapped(dl_adapter *a, dl_dmactx *c) {
  if (!dl_dmaex_available(a)) return DL_STATUS_NOT_SUPPORTED;
  if (!dl_adapter_usable(a, "CancelMappedTransfer")) return DL_STATUS_INVALID_PARAMETER;
  dl_verify_irql(a->m, "CancelMappedTransfer", 0, DL_DISPATCH_LEVEL);
  if (!c || c->a != a) return DL_STATUS_INVALID_PARAMETER;
  dl_ctx_cell cell = dl_dmaex_check_ctx(a, c, DL_CTXCALL_CANCEL_MAPPED, NULL);
  if (cell.kind != DL_CTX_ALLOW) return cell.status;
  c->cancelled = 1;
  const dl_dmaex_kind *kind = DL_DMAEX_KIND(a);
  if (c->mapped && c->started && !c->done && kind && kind->cancel) {
    kind->cancel(a, c);
    dl_dmaex_transfer_done(c, DL_DMA_CANCELLED);  /* "its completion routine is called" */
  }
  return DL_STATUS_SUCCESS;
}

/* The grant under c is being freed (FreeAdapterObject, FreeAdapterChannel,
** FreeMapRegisters, teardown): a mapped transfer ends without its routine. */
void dl_dmaex_released(void *ex) {
  dl_dmactx *c = ex;
  if (!c->mapped) return;
  stop_transfer(c->a, c);
  c->mapped = c->started = 0;
}

/* What c mapped and has not flushed (the MapRegisterBase's row, dl_mrbase.c). */
int dl_dmaex_mapped_at(const void *ex, const dl_mdl **mdl, uint64_t *offset, uint32_t *length) {
  const dl_dmactx *c = ex;
  *mdl = c->mapped ? c->mdl : NULL;
  *offset = c->mapped ? c->offset : 0;
  *length = c->mapped ? c->length : 0;
  return c->mapped;
}

/* The kind's transfer under c ended: the completion routine, once, at DISPATCH_LEVEL. */
void dl_dmaex_transfer_done(dl_dmactx *c, int status) {
  if (!c->mapped || !c->started || c->done) return;
  c->done = 1;
  if (!c->fn) return;
  dl_machine *m = c->a->m;
  uint8_t irql = dl_machine_irql(m);
  dl_machine_set_irql(m, DL_DISPATCH_LEVEL);
  c->fn(c->fn_ctx, c->a, c->dev, status);
  dl_machine_set_irql(m, irql);
}
