/*
** dl_adapter.c: adapters, the adapter channel and map registers
** (MapTransfer and FlushAdapterBuffers are in dl_maptransfer.c).
**
** Requests for the channel queue per adapter; a request that owns the
** channel and needs registers the pool cannot give at once waits in the
** master FIFO, which is served from its head only, so a large request at the
** head blocks smaller ones behind it (head-of-line blocking, as the HAL does).
*/
#include "hal/dl_adapter_int.h"
#include "hal/dl_chanstate.h"
#include "hal/dl_mrstate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/dl_status.h"
#include "machine/dl_trace.h"
#include "machine/dl_verifier.h"
#include "base/dl_wdk.h"
#include "base/dl_vec.h"

static void start_channel(dl_adapter *a);
static void serve_waiters(dl_machine *m);

/* ---- creation ------------------------------------------------------------ */

/* The highest address the device can reach (reference 1.1); version 3
** takes the width alone (checked by check_description first). */
static uint64_t ceiling_of(const dl_device_description *d) {
  if (d->version >= 3)
    return d->address_width >= 64 ? UINT64_MAX : (UINT64_C(1) << d->address_width) - 1;
  if (d->dma64) return UINT64_MAX;
  if (d->dma32 || (d->scatter_gather && d->interface_type == DL_PCI_BUS)) return UINT64_C(0xFFFFFFFF);
  return UINT64_C(0xFFFFFF);
}

/* Records why IoGetDmaAdapter returns NULL; returns rc. */
static int refuse(dl_machine *m, dl_device *dev, dl_adapter_refusal why, uint64_t value, int rc) {
  dl_trace_emit(m, DL_TR_ADAPTER_REFUSED, dev ? dev->id : 0, why, value);
  return rc;
}

/* The DEVICE_DESCRIPTION rules IoGetDmaAdapter answers with NULL
** (DEVICE_DESCRIPTION page): 0 if the description is valid. An unknown
** Version is also what Driver Verifier bug-checks (0xE6/0x25). */
static int check_description(dl_machine *m, dl_device *dev, const dl_device_description *d) {
  if (d->version > 3) {
    dl_verify_fail(m, DL_BUGCHECK_DMA, DL_VF_BAD_DESCRIPTION_VERSION, d->version, 0, 0,
                   "IoGetDmaAdapter: DEVICE_DESCRIPTION Version %u is unknown: it must be "
                   "DEVICE_DESCRIPTION_VERSION (0), 1, 2 or 3", d->version);
    return refuse(m, dev, DL_REFUSE_VERSION, d->version, DL_EINVAL);
  }
  if (!d->master) return dl_slave_check(m, dev, d);  /* system DMA (dl_slave.c) */
  if (d->version < 3) return DL_OK;  /* Dma32/64BitAddresses: any combination is valid */
  if (d->address_width == 0) return refuse(m, dev, DL_REFUSE_WIDTH_ZERO, 0, DL_EINVAL);
  if (d->address_width > 64)
    return refuse(m, dev, DL_REFUSE_WIDTH_OVER_64, d->address_width, DL_EINVAL);
  if (d->address_width < 24)
    return refuse(m, dev, DL_REFUSE_WIDTH_UNDER_24, d->address_width, DL_EINVAL);
  return DL_OK;
}

/* The rule behind a refusal as a sentence. */
void dl_adapter_refusal_text(uint64_t reason, uint64_t value, char *buf, size_t size) {
  unsigned long long v = (unsigned long long)value;
  switch (reason) {
    case DL_REFUSE_VERSION:
      snprintf(buf, size, "DEVICE_DESCRIPTION Version %llu is unknown: it must be "
                          "DEVICE_DESCRIPTION_VERSION (0), 1, 2 or 3", v);
      break;
    case DL_REFUSE_SLAVE:
      snprintf(buf, size, "Master is FALSE and the machine has no system DMA channel for it "
                          "(ISA DmaChannel 0-3 or 5-7; version 3: a DmaControllerInstance the "
                          "machine has and a DmaRequestLine it decodes): %llu", v);
      break;
    case DL_REFUSE_SLAVE_WIDTH:
      snprintf(buf, size, "DmaWidth %llu does not fit the channel (ISA: Width8Bits on 0-3, "
                          "Width16Bits on 5-7)", v);
      break;
    case DL_REFUSE_SLAVE_BUSY:
      snprintf(buf, size, "every one of the system DMA controller's %llu channels is taken", v);
      break;
    case DL_REFUSE_WIDTH_ZERO:
      snprintf(buf, size, "DmaAddressWidth is 0: version 3 takes the width from DmaAddressWidth "
                          "alone, which must be nonzero");
      break;
    case DL_REFUSE_WIDTH_OVER_64:
      snprintf(buf, size, "DmaAddressWidth %llu exceeds 64", v);
      break;
    case DL_REFUSE_WIDTH_UNDER_24:
      snprintf(buf, size, "DmaAddressWidth %llu is below 24, which DMA version 3 refuses", v);
      break;
    case DL_REFUSE_NO_MAP_REGISTERS:
      snprintf(buf, size, "the device needs map registers and the machine has none "
                          "(map_registers = %llu, or no run of RAM holds them)", v);
      break;
    case DL_REFUSE_POOL_ABOVE_CEILING:
      snprintf(buf, size, "the device needs map registers and no RAM below its ceiling holds "
                          "them (the map registers end at 0x%llx)", v);
      break;
    default:
      snprintf(buf, size, "unknown reason %llu", (unsigned long long)reason);
  }
}

/* The map registers an adapter gets: BYTES_TO_PAGES(MaximumLength) + 1,
** capped per adapter and by the pool; DL_ENOSPACE (with the reason traced)
** if it needs registers and the pool is empty or beyond its ceiling. */
static int size_registers(dl_adapter *a, const dl_device_description *d) {
  uint64_t ps = dl_machine_page_size(a->m), maxlen = d->maximum_length & 0x7FFFFFFF;
  uint64_t want = (maxlen + ps - 1) / ps + 1;  /* BYTES_TO_PAGES(MaximumLength) + 1 */
  a->nmr = (uint32_t)want;
  if (!a->needs_registers) return DL_OK;
  dl_mapregs *mr = dl_mapregs_of(a->m);
  uint64_t first;
  if (!mr && dl_machine_map_register_pages(a->m, &first)) return DL_ENOMEM;  /* pool not made */
  if (!mr || mr->count == 0)
    return refuse(a->m, a->dev, DL_REFUSE_NO_MAP_REGISTERS,
                  dl_machine_config_of(a->m)->map_registers, DL_ENOSPACE);
  uint64_t last = dl_mapregs_pa(mr, mr->count - 1, (uint32_t)ps) + ps - 1;
  if (last > a->ceiling) return refuse(a->m, a->dev, DL_REFUSE_POOL_ABOVE_CEILING, last, DL_ENOSPACE);
  uint32_t cap = dl_machine_config_of(a->m)->adapter_map_registers;
  if (cap > mr->count) cap = mr->count;
  if (a->nmr > cap) a->nmr = cap;
  return DL_OK;
}

/* IoGetDmaAdapter. */
int dl_adapter_get(dl_machine *m, dl_device *dev, const dl_device_description *d,
                   dl_adapter **out, uint32_t *nmr) {
  dl_verify_irql(m, "IoGetDmaAdapter", 1, DL_PASSIVE_LEVEL);
  int rc = check_description(m, dev, d);
  if (rc) return rc;
  dl_adapter *a = calloc(1, sizeof *a);
  if (!a) return DL_ENOMEM;
  dl_object_init(DL_OBJECT(a), m, &dl_adapter_type, DL_OBJECT(dev));
  a->dev = dev;
  a->desc = *d;
  if (a->desc.version == 0) a->desc.version = 1;  /* DEVICE_DESCRIPTION_VERSION */
  a->ceiling = d->master ? ceiling_of(d) : dl_slave_ceiling(d);
  a->sg = d->master && d->scatter_gather;
  a->needs_registers = !(a->sg && a->ceiling == UINT64_MAX);
  if ((rc = size_registers(a, d)) || (!d->master && (rc = dl_slave_attach(a)))) {
    dl_object_unlink(DL_OBJECT(a));
    free(a);
    return rc;
  }
  a->id = dl_machine_next_id(m);
  a->free_grant = a->free_map = NO_SLOT;
  dl_list_init(&a->channel_queue);
  dl_list_init(&a->free_requests);
  dl_list_init(&a->sglists);
  dl_list_init(&a->free_sglists);
  dl_list_init(&a->commons);
  *out = a;
  *nmr = a->nmr;
  return DL_OK;
}

/* Reports each kind of resource the adapter still holds; returns how many. */
static size_t report_outstanding(dl_adapter *a, const char *when, int leak) {
  size_t n = 0;
  uint32_t queued = 0, grants = 0;
  for (dl_link *l = a->channel_queue.next; l != &a->channel_queue; l = l->next) queued++;
  for (uint32_t i = 0; i < a->ngrants; i++) grants += a->grants[i].live && !a->grants[i].sg;
  struct { int live; uint32_t p1, count; const char *what; } kinds[] = {
    {a->live_commons > 0, DL_VF_PUT_WITH_COMMON_BUFFERS, a->live_commons, "common buffer(s)"},
    {a->owner || queued, DL_VF_PUT_WITH_CHANNELS, (a->owner != NULL) + queued, "adapter channel(s)"},
    {grants > 0, DL_VF_PUT_WITH_MAP_REGISTERS, grants, "map register allocation(s)"},
    {a->live_sglists > 0, DL_VF_PUT_WITH_SG_LISTS, a->live_sglists, "scatter/gather list(s)"},
  };
  for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
    if (!kinds[k].live) continue;
    dl_verify_fail(a->m, DL_BUGCHECK_DMA, kinds[k].p1, a->id, kinds[k].count, 0,
                   "%s: adapter#%llu of %s still holds %u %s", when, (unsigned long long)a->id,
                   a->dev ? a->dev->name : "?", kinds[k].count, kinds[k].what);
    if (leak) dl_verifier_mark_leak(a->m);
    n++;
  }
  uint32_t unflushed = 0;
  for (uint32_t i = 0; i < a->nmaps; i++) unflushed += a->maps[i].live && a->grants[a->maps[i].grant].sg == NULL;
  if (leak && unflushed) {
    dl_verify_fail(a->m, DL_BUGCHECK_DMA, DL_VF_NOT_FLUSHED, unflushed, 0, 0,
                   "%s: adapter#%llu has %u MapTransfer(s) never flushed with FlushAdapterBuffers",
                   when, (unsigned long long)a->id, unflushed);
    dl_verifier_mark_leak(a->m);
    n++;
  }
  return n;
}

static void drop_request(dl_adapter *a, dl_request *r);

/* Requests still waiting for the channel or for map registers are
** cancelled with the adapter: their routines never run (the put reports
** them), and their devices may ask again. */
static void cancel_waiting(dl_adapter *a) {
  while (!dl_list_empty(&a->channel_queue)) {
    dl_request *r = DL_CONTAINER(a->channel_queue.next, dl_request, link);
    if (r->kind == REQ_CHANNEL && r->dev->channel_requests) r->dev->channel_requests--;
    drop_request(a, r);
  }
  dl_request *r = a->owner;
  if (r && !a->in_control && !a->owner_keeps && r->link.next != &r->link) {  /* in the master FIFO */
    a->owner = NULL;
    if (r->kind == REQ_CHANNEL && r->dev->channel_requests) r->dev->channel_requests--;
    drop_request(a, r);
  }
}

/* PutDmaAdapter. */
void dl_adapter_put(dl_adapter *a) {
  if (!dl_adapter_check_channel(a, DL_CHCALL_PUT, NULL)) return;
  dl_verify_irql(a->m, "PutDmaAdapter", 0, DL_DISPATCH_LEVEL);
  report_outstanding(a, "PutDmaAdapter", 0);
  cancel_waiting(a);
  a->released = 1;
}

/* The adapter's leak check (end of a run): what it still holds. */
static size_t check_leaks(dl_object *o) {
  return report_outstanding((dl_adapter *)o, "leak at end of run", 1);
}

/* Returns 1 if `mdl` is in the chain starting at `head`. */
static int in_chain(const dl_mdl *head, const dl_mdl *mdl) {
  for (const dl_mdl *cur = head; cur; cur = dl_mdl_next(cur))
    if (cur == mdl) return 1;
  return 0;
}

/* Returns 1 if the request is a scatter/gather request still to be built
** over a chain that holds mdl. */
static int request_needs(const dl_request *r, const dl_mdl *mdl) {
  return r && r->kind == REQ_SGLIST && in_chain(r->mdl, mdl);
}

/* DL_HOLDS_NEEDS if a request of dev waits on the adapter or holds its
** channel (IoDeleteDevice must not free the wait block in the DEVICE_OBJECT). */
static int device_needed(const dl_adapter *a, const dl_device *dev) {
  if (a->owner && a->owner->dev == dev) return DL_HOLDS_NEEDS;
  for (const dl_link *q = a->channel_queue.next; q != &a->channel_queue; q = q->next)
    if (DL_CONTAINER(q, dl_request, link)->dev == dev) return DL_HOLDS_NEEDS;
  return 0;
}

/* 1 if a waiting request of the adapter (its channel queue, or the owner
** still waiting for registers) or a live mapping (MapTransfer not flushed,
** an S/G list not put) needs the MDL `other`. */
static int holds(const dl_object *o, const dl_object *other) {
  const dl_adapter *a = (const dl_adapter *)o;
  if (other->type == &dl_device_type) return device_needed(a, (const dl_device *)other);
  if (other->type != &dl_mdl_type) return 0;
  const dl_mdl *mdl = (const dl_mdl *)other;
  if (request_needs(a->owner, mdl)) return DL_HOLDS_NEEDS;
  for (const dl_link *q = a->channel_queue.next; q != &a->channel_queue; q = q->next)
    if (request_needs(DL_CONTAINER(q, dl_request, link), mdl)) return DL_HOLDS_NEEDS;
  for (uint32_t i = 0; a->live_maps && i < a->nmaps; i++)
    if (a->maps[i].live && a->maps[i].mdl == mdl) return DL_HOLDS_REFERS;
  return 0;
}

static void destroy(dl_object *o) { dl_adapter_destroy((dl_adapter *)o); }

const dl_object_type dl_adapter_type = { "DMA_ADAPTER", destroy, check_leaks, holds, NULL };

/* Drops a queued request without running it (teardown). */
static void drop_request(dl_adapter *a, dl_request *r) {
  dl_list_remove(&r->link);
  if (r->kind == REQ_SGLIST) --*dl_machine_holding(a->m);
  dl_adapter_dropped(a, r);
  free(r);
}

/* Frees an adapter whatever it holds. */
void dl_adapter_destroy(dl_adapter *a) {
  if (!a) return;
  dl_mapregs *mr = dl_mapregs_of(a->m);
  while (!dl_list_empty(&a->channel_queue))
    drop_request(a, DL_CONTAINER(a->channel_queue.next, dl_request, link));
  if (a->owner && a->owner->link.next != &a->owner->link)
    drop_request(a, a->owner);  /* still waiting for registers: its routine never ran */
  else
    free(a->owner);
  a->owner = NULL;
  while (!dl_list_empty(&a->free_requests)) {
    dl_link *l = a->free_requests.next;
    dl_list_remove(l);
    free(DL_CONTAINER(l, dl_request, link));
  }
  for (uint32_t i = 0; i < a->nmaps; i++) {
    if (a->maps[i].live) dl_adapter_end_mapping(a, i, 0);
    free(a->maps[i].pfns);
  }
  for (uint32_t i = 0; mr && i < a->ngrants; i++)
    if (a->grants[i].live && a->grants[i].count) dl_mapregs_give(mr, a->grants[i].first, a->grants[i].count);
  dl_sglist_destroy_all(a);
  dl_common_destroy_all(a);
  dl_slave_destroy(a);
  free(a->maps);
  free(a->grants);
  dl_object_unlink(DL_OBJECT(a));
  free(a);
}

/* ---- accessors ------------------------------------------------------------ */

dl_machine *dl_adapter_machine(const dl_adapter *a) { return a->m; }
dl_device *dl_adapter_device(const dl_adapter *a) { return a->dev; }
uint64_t dl_adapter_id(const dl_adapter *a) { return a->id; }
uint64_t dl_adapter_ceiling(const dl_adapter *a) { return a->ceiling; }
uint32_t dl_adapter_map_registers(const dl_adapter *a) { return a->nmr; }
int dl_adapter_is_scatter_gather(const dl_adapter *a) { return a->sg; }
int dl_adapter_is_released(const dl_adapter *a) { return a->released; }
const dl_device_description *dl_adapter_description(const dl_adapter *a) { return &a->desc; }
const dl_adapter_stats *dl_adapter_get_stats(const dl_adapter *a) { return &a->stats; }
void *dl_adapter_framework(const dl_adapter *a) { return a->framework; }
void dl_adapter_set_framework(dl_adapter *a, void *fw) { a->framework = fw; }
int dl_adapter_needs_registers(const dl_adapter *a) { return a->needs_registers; }

/* Is the channel taken for dev (a request of its own outstanding, or a control routine running)? */
int dl_adapter_channel_busy(const dl_adapter *a, const dl_device *dev) {
  if ((!a->contexts && dev->channel_requests) || a->in_control) return 1;
  if (a->owner && a->owner->ex && a->owner->dev == dev) return 1;  /* ...Ex requests: */
  for (const dl_link *l = a->channel_queue.next; l != &a->channel_queue; l = l->next) {
    const dl_request *r = DL_CONTAINER(l, dl_request, link);  /* their own wait blocks */
    if (r->ex && r->dev == dev) return 1;
  }
  return 0;
}

/* Would a request be granted now: channel free, nobody queued, registers free? */
int dl_adapter_grantable_now(const dl_adapter *a, const dl_device *dev, uint32_t n, int channel) {
  if (a->owner || !dl_list_empty(&a->channel_queue)) return 0;
  if (channel && dl_adapter_channel_busy(a, dev)) return 0;
  if (!a->needs_registers || n == 0 || dl_adapter_swiotlb(a)) return 1;
  dl_mapregs *mr = dl_mapregs_of(a->m);
  return mr && dl_mapregs_can_take(mr, n);
}
void dl_adapter_set_drop(dl_adapter *a, dl_request_drop_fn drop) { a->drop = drop; }
void dl_adapter_set_transfer_contexts(dl_adapter *a, int on) { a->contexts = on != 0; }

/* 1 under the swiotlb bounce policy. */
int dl_adapter_swiotlb(const dl_adapter *a) {
  return dl_machine_platform(a->m)->bounce_policy == DL_BOUNCE_SWIOTLB;
}

/* The row of a's channel in the table of hal/dl_chanstate.h. */
int dl_adapter_channel_row(const dl_adapter *a) {
  if (a->released) return DL_CHROW_PUT;
  if (a->in_control) return DL_CHROW_IN_CONTROL;
  if (a->owner && a->owner_keeps) return DL_CHROW_KEPT;
  if (a->owner) return DL_CHROW_WAITING;
  return DL_CHROW_IDLE;
}

/* Consults the channel's state table for `call`: 1 if allowed. */
int dl_adapter_check_channel(dl_adapter *a, int call, const char *name) {
  return dl_chanstate_check(a->m, a->id, dl_adapter_channel_row(a), call, name);
}

/* Returns 0 (after report 0x18) if the adapter was put. */
int dl_adapter_usable(dl_adapter *a, const char *call) {
  if (!a->released) return 1;
  dl_verify_fail(a->m, DL_BUGCHECK_DMA, DL_VF_ADAPTER_RELEASED, a->id, 0, 0,
                 "%s: adapter#%llu was already released by PutDmaAdapter", call,
                 (unsigned long long)a->id);
  return 0;
}

/* ---- grants (MapRegisterBase) --------------------------------------------- */

static uint64_t token_of(const dl_adapter *a, uint32_t i) {
  return ((a->id & 0xFFFF) << 48) | ((uint64_t)(a->grants[i].gen & 0xFFFF) << 32) | (i + 1);
}

/* The grant slot a token names (live or not), or NO_SLOT. */
uint32_t dl_adapter_slot(const dl_adapter *a, uint64_t base) {
  uint32_t i = (uint32_t)(base & 0xFFFFFFFF) - 1;
  if (base == 0 || i >= a->ngrants || (base >> 48) != (a->id & 0xFFFF)) return NO_SLOT;
  if (((base >> 32) & 0xFFFF) != (a->grants[i].gen & 0xFFFF)) return NO_SLOT;
  return i;
}

/* The live grant a MapRegisterBase names, or NULL. */
dl_grant *dl_adapter_grant(dl_adapter *a, uint64_t base) {
  uint32_t i = dl_adapter_slot(a, base);
  return (i != NO_SLOT && a->grants[i].live) ? &a->grants[i] : NULL;
}

/* Records a grant of registers [first, first+count); returns its token, 0 if
** out of memory. */
static uint64_t new_grant(dl_adapter *a, dl_device *dev, uint32_t first, uint32_t count,
                          uint32_t asked) {
  uint32_t i = a->free_grant;
  if (i != NO_SLOT) {
    a->free_grant = a->grants[i].next_free;
  } else {
    if (dl_vec_reserve(a->grants, a->grants_cap, a->ngrants + 1)) return 0;
    i = a->ngrants++;
    a->grants[i].gen = 0;
  }
  dl_grant *g = &a->grants[i];
  g->live = 1;
  g->first = first;
  g->count = count;
  g->asked = asked;
  g->dev = dev;
  g->sg = NULL;
  g->ex = NULL;
  g->mapped = g->still = 0;
  a->live_grants++;
  dl_stats_map_registers(dl_machine_trace(a->m), count, dl_clock_now(dl_machine_clock(a->m)));
  a->stats.registers_held += count;
  if (a->stats.registers_held > a->stats.registers_high_water)
    a->stats.registers_high_water = a->stats.registers_held;
  return token_of(a, i);
}

/* Frees a grant's registers and mappings, then serves the waiters (the
** caller consulted the table: 0x10 for mappings still live). */
static void release_grant(dl_adapter *a, uint64_t base) {
  uint32_t i = dl_adapter_slot(a, base);
  if (i == NO_SLOT || !a->grants[i].live) return;
  dl_grant *g = &a->grants[i];
  if (g->ex) dl_dmaex_released(g->ex);  /* a system transfer stops first */
  for (uint32_t k = 0; k < a->nmaps; k++)
    if (a->maps[k].live && a->maps[k].grant == i) dl_adapter_end_mapping(a, k, 0);
  if (g->count) dl_mapregs_give(dl_mapregs_of(a->m), g->first, g->count);
  dl_stats_map_registers(dl_machine_trace(a->m), -(int64_t)g->count,
                         dl_clock_now(dl_machine_clock(a->m)));
  dl_trace_emit(a->m, DL_TR_FREE_MAP_REGISTERS, a->id, g->count, 0);
  a->stats.registers_held -= g->count;
  g->live = 0;
  g->gen++;
  g->next_free = a->free_grant;
  a->free_grant = i;
  a->live_grants--;
  serve_waiters(a->m);
}

/* Frees a grant's registers and mappings. Serves the waiters afterwards. */
void dl_adapter_release_grant(dl_adapter *a, uint64_t base) { release_grant(a, base); }

/* ---- the adapter channel ----------------------------------------------------- */

/* Takes a request record (pooled). */
dl_request *dl_adapter_new_request(dl_adapter *a) {
  dl_request *r;
  if (!dl_list_empty(&a->free_requests)) {
    r = DL_CONTAINER(a->free_requests.next, dl_request, link);
    dl_list_remove(&r->link);
  } else if (!(r = malloc(sizeof *r))) {
    return NULL;
  }
  memset(r, 0, sizeof *r);
  dl_list_init(&r->link);
  r->a = a;
  return r;
}

static void recycle_request(dl_adapter *a, dl_request *r) {
  dl_list_append(&a->free_requests, &r->link);
}

/* Releases the channel held by the owner and starts the next request. */
static void release_channel(dl_adapter *a) {
  dl_request *r = a->owner;
  a->owner = NULL;
  a->owner_keeps = 0;
  a->owner_base = 0;
  if (r->kind == REQ_CHANNEL && !a->contexts && !r->ex && r->dev->channel_requests)
    r->dev->channel_requests--;
  recycle_request(a, r);
  start_channel(a);
}

/* Traces a grant; a request that could not be granted when it was made
** counts as a channel wait, for as long as it waited. */
static void note_grant(dl_adapter *a, const dl_request *r) {
  dl_stats *st = dl_trace_stats(dl_machine_trace(a->m));
  uint64_t now = dl_clock_now(dl_machine_clock(a->m));
  if (r->waited) {
    st->channel_waits++;
    st->channel_wait_ns += now - r->queued_at;
  }
  dl_trace_emit(a->m, DL_TR_CHANNEL_GRANT, a->id, r->dev ? r->dev->id : 0, r->regs);
}

/* Runs the driver's routine for a request granted registers (at DISPATCH_LEVEL)
** and acts on what it returns; any other value means the routine failed (a
** script error): its registers are freed without a report of their own. */
static void run_granted(dl_adapter *a, dl_request *r, uint32_t first) {
  uint64_t base = new_grant(a, r->dev, first, r->regs, r->asked);
  a->stats.channel_grants++;
  dl_machine *m = a->m;
  note_grant(a, r);
  uint8_t irql = dl_machine_irql(m);
  dl_machine_set_irql(m, DL_DISPATCH_LEVEL);
  if (r->kind == REQ_SGLIST) {
    dl_sglist_granted(r, base);  /* keeps the registers, frees the channel */
    dl_machine_set_irql(m, irql);
    release_channel(a);
    return;
  }
  a->owner_base = base;  /* the channel's registers while AdapterControl runs */
  a->in_control++;
  int action = r->control(r->ctx, r->dev, base);
  a->in_control--;
  dl_machine_set_irql(m, irql);
  if (action == DL_KEEP_OBJECT) {
    a->owner_keeps = 1;
    a->owner_base = base;
    return;
  }
  int cell = action != DL_DEALLOCATE_OBJECT ? DL_MR_ALLOW  /* the registers go with the channel */
             : dl_adapter_check_base(a, base, DL_MRCALL_FREE_CHANNEL,
                                     "AdapterControl (DeallocateObject)", NULL, 0);
  if (action != DL_DEALLOCATE_OBJECT_KEEP_REGISTERS && cell != DL_MR_INVALID) release_grant(a, base);
  release_channel(a);
}

/* Gives the channel to the next request; it runs now if its registers are
** free and nobody waits before it, else it joins the master FIFO. */
static void start_channel(dl_adapter *a) {
  if (a->owner || dl_list_empty(&a->channel_queue)) return;
  dl_request *r = DL_CONTAINER(a->channel_queue.next, dl_request, link);
  dl_list_remove(&r->link);
  a->owner = r;
  uint32_t first = 0;
  dl_mapregs *mr = dl_mapregs_of(a->m);
  if (r->regs == 0 || (dl_list_empty(&mr->waiters) && !dl_mapregs_take(mr, r->regs, &first))) {
    run_granted(a, r, first);
    return;
  }
  a->stats.channel_waits++;
  r->waited = 1;
  dl_list_append(&mr->waiters, &r->link);
}

/* Serves the master FIFO from its head while the head's registers are free.
** Re-entrant calls (a routine freeing registers) only ask for another pass. */
static void serve_waiters(dl_machine *m) {
  dl_mapregs *mr = dl_mapregs_of(m);
  if (!mr) return;
  if (mr->serving) {
    mr->rerun = 1;
    return;
  }
  mr->serving = 1;
  do {
    mr->rerun = 0;
    while (!dl_list_empty(&mr->waiters)) {
      dl_request *r = DL_CONTAINER(mr->waiters.next, dl_request, link);
      uint32_t first;
      if (dl_mapregs_take(mr, r->regs, &first)) break;  /* head-of-line blocking */
      dl_list_remove(&r->link);
      run_granted(r->a, r, first);
    }
  } while (mr->rerun);
  mr->serving = 0;
}

/* Queues a request for the channel and starts it if the channel is free. */
void dl_adapter_queue_request(dl_adapter *a, dl_request *r) {
  r->queued_at = dl_clock_now(dl_machine_clock(a->m));
  r->waited = a->owner != NULL;  /* behind another request for the channel */
  dl_trace_emit(a->m, DL_TR_CHANNEL_REQUEST, a->id, r->dev ? r->dev->id : 0, r->regs);
  dl_list_append(&a->channel_queue, &r->link);
  start_channel(a);
}

/* AllocateAdapterChannel. */
uint32_t dl_adapter_allocate_channel(dl_adapter *a, dl_device *dev, uint32_t n,
                                     dl_adapter_control_fn control, void *ctx) {
  return dl_adapter_channel_request(a, dev, n, control, ctx, "AllocateAdapterChannel", NULL);
}

/* AllocateAdapterChannel's rules and queueing (also AllocateAdapterChannelEx's). */
uint32_t dl_adapter_channel_request(dl_adapter *a, dl_device *dev, uint32_t n,
                                    dl_adapter_control_fn control, void *ctx, const char *call,
                                    void *ex) {
  if (!dl_adapter_check_channel(a, DL_CHCALL_ALLOCATE, call))  /* put, or inside AdapterControl */
    return a->released ? DL_STATUS_INVALID_PARAMETER : DL_STATUS_DEVICE_BUSY;
  if (dev->m != a->m) return DL_STATUS_INVALID_PARAMETER;  /* a device of another machine */
  dl_verify_irql(a->m, call, 1, DL_DISPATCH_LEVEL);
  if (n > a->nmr) {
    dl_verify_fail(a->m, DL_BUGCHECK_DMA, DL_VF_TOO_MANY_MAP_REGISTERS_AT_ONCE, n, a->nmr, 0,
                   "%s: %s asks adapter#%llu for %u map registers; "
                   "IoGetDmaAdapter gave it %u", call, dev->name, (unsigned long long)a->id, n,
                   a->nmr);
    return DL_STATUS_INSUFFICIENT_RESOURCES;
  }
  /* per device (inside AdapterControl: the table refused it); an ...Ex
  ** request waits in its DMA transfer context, not the device's wait block */
  if (!a->contexts && !ex && dev->channel_requests) {
    dl_verify_fail(a->m, DL_BUGCHECK_DMA, DL_VF_TOO_MANY_CHANNELS, dev->channel_requests + 1, 0, 0,
                   "%s: %s already has an adapter channel request outstanding", call, dev->name);
    return DL_STATUS_DEVICE_BUSY;
  }
  dl_request *r = dl_adapter_new_request(a);
  if (!r) return DL_STATUS_INSUFFICIENT_RESOURCES;
  r->dev = dev;
  r->kind = REQ_CHANNEL;
  r->asked = n;
  r->regs = a->needs_registers && !dl_adapter_swiotlb(a) ? n : 0;  /* swiotlb: no register wait */
  r->control = control;
  r->ctx = ctx;
  r->ex = ex;
  if (!a->contexts && !ex) dev->channel_requests++;  /* one wait block per device object */
  dl_adapter_queue_request(a, r);
  return DL_STATUS_SUCCESS;
}

/* FreeAdapterChannel: frees the registers first, then gives the channel to
** the next request (the order of the reference, 1.3). */
void dl_adapter_free_channel(dl_adapter *a) {
  dl_adapter_release_owner(a, "FreeAdapterChannel", 1, 0);
}

/* Frees the channel kept by KeepObject, with its registers unless kept. */
void dl_adapter_release_owner(dl_adapter *a, const char *call, int exact, int keep_registers) {
  if (!dl_adapter_check_channel(a, DL_CHCALL_FREE, call)) return;  /* kept by KeepObject only */
  dl_verify_irql(a->m, call, exact, DL_DISPATCH_LEVEL);
  uint64_t base = a->owner_base;
  a->owner_keeps = 0;
  a->owner_base = 0;
  dl_slave_channel_freed(a);  /* a system DMA channel is masked */
  if (!keep_registers &&
      dl_adapter_check_base(a, base, DL_MRCALL_FREE_CHANNEL, call, NULL, 0) != DL_MR_INVALID)
    release_grant(a, base);
  release_channel(a);
}

/* Forgets a request that was never granted. */
static void forget_request(dl_adapter *a, dl_request *r) {
  if (r->kind == REQ_SGLIST) --*dl_machine_holding(a->m);
  else if (!a->contexts && !r->ex && r->dev->channel_requests) r->dev->channel_requests--;
  recycle_request(a, r);
}

/* Withdraws the waiting request of DMA transfer context ex. */
int dl_adapter_withdraw(dl_adapter *a, const void *ex) {
  for (dl_link *l = a->channel_queue.next; l != &a->channel_queue; l = l->next) {
    dl_request *r = DL_CONTAINER(l, dl_request, link);
    if (r->ex != ex) continue;
    dl_list_remove(&r->link);
    forget_request(a, r);
    return 1;
  }
  dl_request *r = a->owner;
  if (!r || r->ex != ex || r->link.next == &r->link) return 0;  /* granted (or running) */
  dl_list_remove(&r->link);  /* it owned the channel, waiting in the master FIFO */
  a->owner = NULL;
  a->owner_keeps = 0;
  a->owner_base = 0;
  forget_request(a, r);
  start_channel(a);
  serve_waiters(a->m);  /* it may have blocked the head of the FIFO */
  return 1;
}

/* Tells the maker of a request that it will never run. */
void dl_adapter_dropped(dl_adapter *a, dl_request *r) {
  if (r->ex) dl_dmaex_dropped(r->ex);
  else if (a->drop) a->drop(a, r->ctx);
}

/* FreeMapRegisters. */
int dl_adapter_free_map_registers(dl_adapter *a, uint64_t base, uint32_t n) {
  if (!dl_adapter_usable(a, "FreeMapRegisters")) return DL_OK;
  int irql_ok = dl_verify_irql(a->m, "FreeMapRegisters", 1, DL_DISPATCH_LEVEL);
  /* one report a call: a bug check stops at the first */
  if (!irql_ok && dl_adapter_base_row(a, base) == DL_MRROW_UNKNOWN) return DL_OK;
  dl_grant *g = dl_adapter_grant(a, base);
  if (g && !g->sg && n != g->asked)  /* the argument's rule, reported before the state's 0x10 */
    dl_verify_fail(a->m, DL_BUGCHECK_DMA, DL_VF_DOUBLE_FREE_MAP_REGISTERS,
                   n > g->asked ? n - g->asked : 0, n, g->asked,
                   "FreeMapRegisters: adapter#%llu frees %u map registers but %u were allocated",
                   (unsigned long long)a->id, n, g->asked);
  if (dl_adapter_check_base(a, base, DL_MRCALL_FREE, NULL, NULL, n) == DL_MR_REFUSE) return DL_OK;
  if (a->owner && a->owner_base == base) a->owner_base = 0;  /* KeepObject: the channel stays
                                                               until FreeAdapterChannel */
  release_grant(a, base);
  return DL_OK;
}
