/*
** dl_sglist.c: Calculate/Get/Build/PutScatterGatherList. A list is built by
** MapTransfer calls over the MDL chain once the registers are granted; it
** keeps the registers and its mappings until PutScatterGatherList, while the
** channel is freed at once, so a device may have several lists outstanding.
*/
#include <stdlib.h>
#include <string.h>

#include "hal/dl_adapter_int.h"
#include "hal/dl_chanstate.h"
#include "hal/dl_sgstate.h"
#include "base/dl_status.h"
#include "machine/dl_trace.h"
#include "machine/dl_verifier.h"
#include "base/dl_wdk.h"
#include "base/dl_vec.h"

/* Registers a transfer of [va, va+length) over the MDL chain needs. */
uint32_t dl_sglist_registers_needed(dl_adapter *a, dl_mdl *mdl, uint64_t va, uint32_t length) {
  if (!a->needs_registers) return 0;
  uint64_t ps = dl_machine_page_size(a->m), need = 0;
  for (dl_mdl *cur = mdl; cur && length; cur = dl_mdl_next(cur)) {
    uint64_t start = cur == mdl ? va : dl_mdl_virtual_address(cur);
    uint64_t end = dl_mdl_virtual_address(cur) + dl_mdl_byte_count(cur);
    uint32_t n = start < end ? (uint32_t)(end - start < length ? end - start : length) : 0;
    need += dl_span_pages(start, n, ps);
    length -= n;
  }
  return (uint32_t)need;
}

/* Elements the list will have: physically contiguous runs for S/G masters
** (a run is also cut where it would bounce), one per MDL otherwise. */
static uint32_t elements_needed(dl_adapter *a, dl_mdl *mdl, uint64_t va, uint32_t length) {
  uint64_t ps = dl_machine_page_size(a->m);
  uint32_t n = 0;
  for (dl_mdl *cur = mdl; cur && length; cur = dl_mdl_next(cur)) {
    uint64_t at = cur == mdl ? va : dl_mdl_virtual_address(cur);
    uint64_t end = dl_mdl_virtual_address(cur) + dl_mdl_byte_count(cur);
    uint32_t here = at < end ? (uint32_t)(end - at < length ? end - at : length) : 0;
    length -= here;
    if (!a->sg) {
      n += here > 0;
      continue;
    }
    while (here) {
      uint64_t pa = dl_mdl_pa(cur, at), run = ps - at % ps;
      while (run < here && dl_mdl_pa(cur, at + run) == pa + run) run += ps;
      if (run > here) run = here;
      n++;
      at += run;
      here -= (uint32_t)run;
    }
  }
  return n;
}

/* Checks the MDL chain covers [va, va+length): DL_STATUS_INVALID_PARAMETER
** if va is outside the first MDL (our choice: the page is silent),
** DL_STATUS_BUFFER_TOO_SMALL if Length runs past the chain's end (the page:
** "too big to fit within the buffer"). */
static uint32_t chain_covers(dl_mdl *mdl, uint64_t va, uint32_t length) {
  uint64_t start = dl_mdl_virtual_address(mdl);
  if (va < start || va >= start + dl_mdl_byte_count(mdl)) return DL_STATUS_INVALID_PARAMETER;
  uint64_t have = start + dl_mdl_byte_count(mdl) - va;
  for (dl_mdl *cur = dl_mdl_next(mdl); cur && have < length; cur = dl_mdl_next(cur))
    have += dl_mdl_byte_count(cur);
  return have >= length ? DL_STATUS_SUCCESS : DL_STATUS_BUFFER_TOO_SMALL;
}

/* CalculateScatterGatherList. */
uint32_t dl_adapter_calculate_sglist(dl_adapter *a, dl_mdl *mdl, uint64_t va, uint32_t length,
                                     uint32_t *list_size, uint32_t *map_registers) {
  if (!dl_adapter_usable(a, "CalculateScatterGatherList")) return DL_STATUS_INVALID_PARAMETER;
  uint64_t ps = dl_machine_page_size(a->m);
  uint32_t span = (uint32_t)dl_span_pages(va, length, ps), elements = span;
  if (mdl) {
    uint32_t status = chain_covers(mdl, va, length);
    if (status != DL_STATUS_SUCCESS) return status;
    span = dl_sglist_registers_needed(a, mdl, va, length);
    elements = dl_mdl_pages_valid(mdl) ? elements_needed(a, mdl, va, length) : span;
  } else if (!a->needs_registers) {
    span = 0;
  } else if (!a->sg) {
    elements = 1;
  }
  *list_size = DL_SGLIST_SIZE(elements);
  *map_registers = span;
  return DL_STATUS_SUCCESS;
}

static dl_sglist *new_sglist(dl_adapter *a) {
  dl_sglist *sg;
  if (!dl_list_empty(&a->free_sglists)) {
    sg = DL_CONTAINER(a->free_sglists.next, dl_sglist, link);
    dl_list_remove(&sg->link);
  } else if (!(sg = calloc(1, sizeof *sg))) {
    return NULL;
  }
  sg->a = a;
  sg->id = dl_machine_next_id(a->m);
  sg->live = 1;
  sg->delivering = 0;
  sg->n = 0;
  sg->data = NULL;
  dl_list_append(&a->sglists, &sg->link);
  a->live_sglists++;
  return sg;
}

static int push_element(dl_sglist *sg, uint64_t address, uint32_t length) {
  if (dl_vec_reserve(sg->el, sg->cap, sg->n + 1)) return DL_ENOMEM;
  sg->el[sg->n++] = (dl_sg_element){address, length};
  return DL_OK;
}

static void retire_sglist(dl_adapter *a, dl_sglist *sg) {
  sg->live = 0;
  dl_list_remove(&sg->link);
  dl_list_append(&a->free_sglists, &sg->link);
  a->live_sglists--;
}

/* Maps the whole transfer into the list; 0 on success. */
static int map_chain(dl_adapter *a, dl_sglist *sg, dl_request *r) {
  uint32_t left = r->length;
  uint64_t at = r->va;
  for (dl_mdl *cur = r->mdl; cur && left;) {
    uint64_t end = dl_mdl_virtual_address(cur) + dl_mdl_byte_count(cur);
    uint32_t len = (uint32_t)(end - at < left ? end - at : left), logical_len = len;
    uint64_t logical;
    int rc = dl_adapter_map_transfer(a, cur, sg->base, at, &logical_len, r->write, &logical);
    if (rc || push_element(sg, logical, logical_len)) return rc ? rc : DL_ENOMEM;
    at += logical_len;
    left -= logical_len;
    if (at == end && (cur = dl_mdl_next(cur))) at = dl_mdl_virtual_address(cur);
  }
  return left ? DL_ERANGE : DL_OK;
}

/* Returns 1 if mdl is still one of the machine's MDLs: a request waiting
** for registers keeps a pointer the driver may have freed meanwhile. */
static int mdl_alive(dl_machine *m, const dl_mdl *mdl) {
  for (const dl_mdl *p = dl_mdl_next_live(m, NULL); p; p = dl_mdl_next_live(m, p))
    if (p == mdl) return 1;
  return 0;
}

/* The registers of an S/G request were granted: build the list and hand it
** to AdapterListControl. */
void dl_sglist_granted(dl_request *r, uint64_t base) {
  dl_adapter *a = r->a;
  --*dl_machine_holding(a->m);
  /* a request granted at once was made by a caller holding the MDL */
  if (r->waited && !mdl_alive(a->m, r->mdl)) {
    dl_verify_fail(a->m, DL_BUGCHECK_DMA, DL_VF_UNLOCKED_BUFFER, 0, r->va, r->length,
                   "GetScatterGatherList: the MDL of a request waiting for map registers was "
                   "freed before its list was built (IoFreeMdl before PutScatterGatherList)");
    dl_adapter_release_grant(a, base);
    dl_adapter_dropped(a, r);
    return;
  }
  dl_sglist *sg = new_sglist(a);
  dl_grant *g = dl_adapter_grant(a, base);
  if (!sg || !g) {
    if (sg) retire_sglist(a, sg);
    dl_adapter_release_grant(a, base);
    dl_adapter_dropped(a, r);
    return;
  }
  sg->base = base;
  g->sg = sg;
  a->stats.sg_lists++;
  if (map_chain(a, sg, r)) {  /* a verifier report or a full swiotlb pool explains why */
    dl_adapter_release_grant(a, base);
    retire_sglist(a, sg);
    if (!(a->building_now && a->failed_fast)) dl_adapter_dropped(a, r);
    return;
  }
  dl_trace_emit(a->m, DL_TR_SG_LIST, a->id, sg->id, sg->n);
  sg->delivering = 1;
  r->list_control(r->ctx, r->dev, sg);
  sg->delivering = 0;  /* (put meanwhile, the record may serve a list delivered since) */
}

/* GetScatterGatherList / BuildScatterGatherList. */
uint32_t dl_adapter_get_sglist(dl_adapter *a, dl_device *dev, dl_mdl *mdl, uint64_t va,
                               uint32_t length, dl_list_control_fn control, void *ctx,
                               int write, uint64_t buffer_length) {
  return dl_sglist_request(a, dev, mdl, va, length, control, ctx, write, buffer_length,
                           buffer_length ? "BuildScatterGatherList" : "GetScatterGatherList", NULL);
}

/* Get/BuildScatterGatherList's rules and queueing (also their ...Ex forms'). */
uint32_t dl_sglist_request(dl_adapter *a, dl_device *dev, dl_mdl *mdl, uint64_t va,
                           uint32_t length, dl_list_control_fn control, void *ctx, int write,
                           uint64_t buffer_length, const char *call, void *ex) {
  if (!dl_adapter_check_channel(a, DL_CHCALL_GET_SGLIST, call)) return DL_STATUS_INVALID_PARAMETER;
  if (dev->m != a->m || (mdl && DL_OBJECT(mdl)->m != a->m))
    return DL_STATUS_INVALID_PARAMETER;  /* a device or an MDL of another machine */
  dl_verify_irql(a->m, call, 1, DL_DISPATCH_LEVEL);
  if (length == 0) {
    dl_verify_fail(a->m, DL_BUGCHECK_DMA, DL_VF_ZERO_LENGTH_MAP, 0, va, mdl ? dl_mdl_id(mdl) : 0,
                   "%s: zero-length map (Length 0) of MDL#%llu", call,
                   (unsigned long long)(mdl ? dl_mdl_id(mdl) : 0));
    return DL_STATUS_INVALID_PARAMETER;
  }
  if (chain_covers(mdl, va, length) != DL_STATUS_SUCCESS) return DL_STATUS_INVALID_PARAMETER;
  uint32_t regs = dl_sglist_registers_needed(a, mdl, va, length);
  uint64_t ps = dl_machine_page_size(a->m);
  uint32_t asked = (uint32_t)dl_span_pages(va, length, ps);
  if (regs > a->nmr || (a->needs_registers && asked > a->nmr)) return DL_STATUS_INSUFFICIENT_RESOURCES;
  if (buffer_length && dl_mdl_pages_valid(mdl) &&
      buffer_length < DL_SGLIST_SIZE(elements_needed(a, mdl, va, length)))
    return DL_STATUS_BUFFER_TOO_SMALL;
  dl_request *r = dl_adapter_new_request(a);
  if (!r) return DL_STATUS_INSUFFICIENT_RESOURCES;
  int pool = dl_adapter_swiotlb(a);  /* swiotlb: no register wait; bounces fail fast */
  *r = (dl_request){ .link = r->link, .a = a, .dev = dev, .kind = REQ_SGLIST, .asked = regs,
                     .regs = pool ? 0 : regs, .list_control = control, .ctx = ctx, .mdl = mdl,
                     .va = va, .length = length, .write = write, .ex = ex };
  a->building_now = 1;
  a->failed_fast = 0;
  ++*dl_machine_holding(a->m);  /* needs the MDL until its list is built (dl_irp_complete) */
  dl_adapter_queue_request(a, r);
  a->building_now = 0;
  /* the list was built in the call and a bounce found the pool full: what
  ** dma_map_sg's failure is to a Linux driver, this is to a Windows one */
  return a->failed_fast ? DL_STATUS_INSUFFICIENT_RESOURCES : DL_STATUS_SUCCESS;
}

/* PutScatterGatherList. */
void dl_adapter_put_sglist(dl_adapter *a, dl_sglist *sg, uint64_t id, int write) {
  (void)write;
  if (!dl_adapter_usable(a, "PutScatterGatherList")) return;
  dl_verify_irql(a->m, "PutScatterGatherList", 1, DL_DISPATCH_LEVEL);
  dl_sg_args x = {"PutScatterGatherList", id, a->stats.sg_lists,
                  a->stats.sg_lists - a->live_sglists + 1};
  if (dl_sgstate_check(a->m, dl_sglist_row(sg, a, id), DL_SGCALL_PUT, &x) != DL_SG_ALLOW) return;
  dl_grant *g = dl_adapter_grant(a, sg->base);
  uint32_t gi = g ? (uint32_t)(g - a->grants) : NO_SLOT;
  for (uint32_t i = 0; g && i < a->nmaps; i++)
    if (a->maps[i].live && a->maps[i].grant == gi) dl_adapter_end_mapping(a, i, 1);
  retire_sglist(a, sg);
  if (g) {
    g->sg = NULL;
    dl_adapter_release_grant(a, sg->base);
  }
}

/* Frees every S/G list record (teardown). */
void dl_sglist_destroy_all(dl_adapter *a) {
  dl_link *lists[] = {&a->sglists, &a->free_sglists};
  for (int k = 0; k < 2; k++)
    while (!dl_list_empty(lists[k])) {
      dl_sglist *sg = DL_CONTAINER(lists[k]->next, dl_sglist, link);
      dl_list_remove(&sg->link);
      free(sg->el);
      free(sg);
    }
}

uint32_t dl_sglist_count(const dl_sglist *sg) { return sg->n; }
const dl_sg_element *dl_sglist_elements(const dl_sglist *sg) { return sg->el; }
uint64_t dl_sglist_id(const dl_sglist *sg) { return sg->id; }
int dl_sglist_is_live(const dl_sglist *sg) { return sg->live; }
uint64_t dl_sglist_map_register_base(const dl_sglist *sg) { return sg->base; }

/* The row of sg, handed out as `id`, for a call on adapter a (NULL: none). */
int dl_sglist_row(const dl_sglist *sg, const dl_adapter *a, uint64_t id) {
  if (a && sg->a != a) return DL_SGROW_OTHER;
  if (!sg->live || sg->id != id) return DL_SGROW_PUT;
  return sg->delivering ? DL_SGROW_DELIVERING : DL_SGROW_HELD;
}

/* 1 if the elements of sg, handed out as `id`, may be read. */
int dl_sglist_check_elements(const dl_sglist *sg, uint64_t id) {
  return dl_sg_cell_at(dl_sglist_row(sg, NULL, id), DL_SGCALL_ELEMENTS).kind == DL_SG_ALLOW;
}
void *dl_sglist_data(const dl_sglist *sg) { return sg->data; }
void dl_sglist_set_data(dl_sglist *sg, void *data) { sg->data = data; }
