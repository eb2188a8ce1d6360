/*
** dl_wdftxn.c: KMDF DMA transactions (reference 2.2-2.5): the state
** machine, Initialize's checks, splitting into transfers and the
** completion rules.
**
** Packet profile: the map registers of the whole transaction are taken
** once (AllocateAdapterChannel) and kept; each transfer is one MapTransfer
** into a one-element list, and DmaCompleted* flushes and stages the next
** transfer with the same registers, so the next EvtProgramDma runs inside
** DmaCompleted*. Scatter/gather profile: each transfer is one
** GetScatterGatherList whose registers are freed by PutScatterGatherList
** at its completion, so the next EvtProgramDma waits while registers are
** short. A device has one channel request outstanding at a time: further
** transactions wait in the enabler's queue (chan_waiters) and ask when the
** device may, at the next call into this layer. Reservations and the other
** controls are in dl_wdftxnctl.c.
*/
#define DL_WDFTXN_SHORT_NAMES
#include "wdf/dl_wdfdma_int.h"

#include <stdlib.h>

#include "io/dl_irp.h"
#include "base/dl_status.h"
#include "machine/dl_verifier.h"
#include "base/dl_wdk.h"
#include "wdf/dl_wdftxnstate.h"

#define NT_ERROR(st) dl_nt_error(st)

static uint64_t min64(uint64_t a, uint64_t b) { return a < b ? a : b; }
static uint64_t psize(const dl_wdfdma_txn *t) { return dl_machine_page_size(t->e->m); }
static dl_device *pdo(const dl_wdfdma_txn *t) { return dl_wdf_device_pdo(t->e->d); }
static uint64_t mdl_end(const dl_mdl *m) { return dl_mdl_virtual_address(m) + dl_mdl_byte_count(m); }
static int is_write(const dl_wdfdma_txn *t) { return t->direction == DL_WDFDMA_WRITE_TO_DEVICE; }


/* Raises to DISPATCH_LEVEL around a HAL call, as KMDF does; returns the old IRQL. */
uint8_t raise_dispatch(dl_machine *m) {
  uint8_t old = dl_machine_irql(m);
  if (old < DL_DISPATCH_LEVEL) dl_machine_set_irql(m, DL_DISPATCH_LEVEL);
  return old;
}

/* Every WdfDmaTransaction* call is legal at <= DISPATCH_LEVEL. */
void check_irql(const dl_wdfdma_txn *t, const char *call) {
  dl_wdfdma_irql(t->e->m, call, 0, DL_DISPATCH_LEVEL);
}

/* ---- lifetime ------------------------------------------------------------------- */

/* Frees a transaction's memory only. */
void dl_wdftxn_free_memory(dl_wdfdma_txn *t) { free(t); }

/* Frees a zombie once nothing refers to it any more; 0 if it is gone. */
static int reap(dl_wdfdma_txn *t) {
  if (!t->zombie || t->busy || t->pending) return 1;
  dl_wdfdma_enabler *e = t->e;
  dl_list_remove(&t->link);
  free(t);
  dl_wdfdma_enabler_reap(e);
  return 0;
}

void hold(dl_wdfdma_txn *t) { t->busy++; }

/* Ends an engine call on t; 0 if t was freed. */
int unhold(dl_wdfdma_txn *t) {
  t->busy--;
  return reap(t);
}

static void txn_dispose(dl_wdf_object *o) { dl_wdfdma_txn_delete((dl_wdfdma_txn *)o); }

/* Machine teardown: the memory only (the adapters drop what they hold). */
static void txn_destroy(dl_object *o) {
  dl_wdfdma_txn *t = (dl_wdfdma_txn *)o;
  dl_wdf_object_fini(DL_WDF(t));
  dl_list_remove(&t->link);
  free(t);
}

/* 1 if an initialized or executing transaction needs the MDL `other`
** (Execute and each DmaCompleted read its chain until the transaction ends). */
static int txn_holds(const dl_object *o, const dl_object *other) {
  const dl_wdfdma_txn *t = (const dl_wdfdma_txn *)o;
  if (other->type != &dl_mdl_type || (t->state != DL_TXN_INITIALIZED && t->state != DL_TXN_TRANSFER))
    return 0;
  for (const dl_mdl *cur = t->mdl; cur; cur = dl_mdl_next(cur))
    if (cur == (const dl_mdl *)other) return DL_HOLDS_NEEDS;
  return 0;
}

const dl_wdf_class dl_wdftxn_class = {
  {"WDFDMATRANSACTION", txn_destroy, NULL, txn_holds, &dl_wdf_family}, DL_WDF_DELETABLE, NULL,
  txn_dispose
};

/* WdfDmaTransactionCreate. */
uint32_t dl_wdfdma_txn_create(dl_wdfdma_enabler *e, dl_wdfdma_txn **out) {
  dl_wdfdma_irql(e->m, "WdfDmaTransactionCreate", 0, DL_DISPATCH_LEVEL);
  uint32_t st = dl_wdf_object_add_child_status(DL_WDF(e));
  if (st) return st;
  dl_wdfdma_txn *t = calloc(1, sizeof *t);
  if (!t) return DL_STATUS_INSUFFICIENT_RESOURCES;
  dl_wdf_object_init(DL_WDF(t), e->m, &dl_wdftxn_class, DL_WDF(e));
  t->e = e;
  t->state = DL_TXN_CREATED;
  t->a = e->adapters[0];
  t->single = (e->cfg.flags & DL_WDFDMA_REQUIRE_SINGLE_TRANSFER) != 0;
  dl_list_init(&t->chan);
  dl_list_append(&e->txns, &t->link);
  *out = t;
  return DL_STATUS_SUCCESS;
}

/* ---- geometry ------------------------------------------------------------------- */

/* The MDL and VA `offset` bytes into the transaction (walking the chain). */
static void locate(const dl_wdfdma_txn *t, uint64_t offset, dl_mdl **mdl, uint64_t *va) {
  dl_mdl *cur = t->mdl;
  uint64_t at = t->va;
  while (offset >= mdl_end(cur) - at && dl_mdl_next(cur)) {
    offset -= mdl_end(cur) - at;
    cur = dl_mdl_next(cur);
    at = dl_mdl_virtual_address(cur);
  }
  *mdl = cur;
  *va = at + offset;
}

/* Registers [va, va+len) over the chain needs: the span of each piece. */
uint64_t chain_regs(dl_mdl *mdl, uint64_t va, uint64_t len, uint64_t ps) {
  uint64_t n = 0;
  for (dl_mdl *cur = mdl; cur && len; cur = dl_mdl_next(cur)) {
    uint64_t at = cur == mdl ? va : dl_mdl_virtual_address(cur), here = min64(mdl_end(cur) - at, len);
    n += dl_span_pages(at, here, ps);
    len -= here;
  }
  return n;
}

/* The longest prefix of [va, va+len) whose registers fit in nmr
** (_CalculateRequiredMapRegisters used to cap a fragment). */
static uint64_t fit_registers(dl_mdl *mdl, uint64_t va, uint64_t len, uint64_t nmr, uint64_t ps) {
  uint64_t used = 0, taken = 0;
  for (dl_mdl *cur = mdl; cur && taken < len; cur = dl_mdl_next(cur)) {
    uint64_t at = cur == mdl ? va : dl_mdl_virtual_address(cur);
    uint64_t here = min64(mdl_end(cur) - at, len - taken), pages = dl_span_pages(at, here, ps);
    if (used + pages <= nmr) {
      used += pages;
      taken += here;
      continue;
    }
    if (nmr > used && (nmr - used) * ps > at % ps) taken += min64(here, (nmr - used) * ps - at % ps);
    break;
  }
  return taken;
}

/* Scatter/gather elements of one transfer, as CalculateScatterGatherList counts them. */
uint32_t elements_of(const dl_wdfdma_txn *t, dl_mdl *mdl, uint64_t va, uint64_t len) {
  uint32_t size = 0, regs = 0;
  if (dl_adapter_calculate_sglist(t->a, mdl, va, (uint32_t)len, &size, &regs)) return UINT32_MAX;
  (void)regs;
  return (size - DL_SGLIST_SIZE(0)) / (DL_SGLIST_SIZE(1) - DL_SGLIST_SIZE(0));
}

/* Length of the scatter/gather transfer at [mdl, va): the fragment length,
** capped so its registers fit the adapter's. */
static uint64_t sg_fragment(const dl_wdfdma_txn *t, dl_mdl *mdl, uint64_t va, uint64_t left) {
  uint64_t len = min64(left, t->max_frag);
  if (dl_adapter_needs_registers(t->a))
    len = fit_registers(mdl, va, len, dl_adapter_map_registers(t->a), psize(t));
  return len;
}

/* Returns 1 if a request for regs registers would be granted at once
** (SetImmediateExecution: otherwise it fails instead of queueing). */
int grantable_now(const dl_wdfdma_txn *t, uint32_t regs, int channel) {
  if (!dl_list_empty(&t->e->chan_waiters)) return 0;
  return dl_adapter_grantable_now(t->a, pdo(t), regs, channel);
}

/* ---- the driver's callbacks ----------------------------------------------------- */

/* EvtProgramDma at DISPATCH_LEVEL. */
static void program(dl_wdfdma_txn *t, dl_sglist *sg, const dl_sg_element *el) {
  dl_machine *m = t->e->m;
  uint8_t irql = raise_dispatch(m);
  if (t->e->ops && t->e->ops->program) t->e->ops->program(t->data, t, sg, el);
  dl_machine_set_irql(m, irql);
}

/* ---- releasing ------------------------------------------------------------------ */

/* Ends the current transfer: flushes the packet mapping or puts the list. */
static void end_transfer(dl_wdfdma_txn *t) {
  uint8_t irql = raise_dispatch(t->e->m);
  if (t->mapped) {
    dl_adapter_flush(t->a, t->cur_mdl, t->base, t->cur_va, t->mapped, is_write(t));
    t->mapped = 0;
  }
  if (t->sg) {
    dl_adapter_put_sglist(t->a, t->sg, t->sg_id, is_write(t));
    t->sg = NULL;
  }
  dl_machine_set_irql(t->e->m, irql);
}

/* Frees what the transfer holds (not a reservation: it survives). */
static void release_resources(dl_wdfdma_txn *t) {
  end_transfer(t);
  dl_wdfsys_unlisten(t);
  if (t->have_regs && !t->reserved) {
    uint8_t irql = raise_dispatch(t->e->m);
    dl_wdfsys_free_registers(t, t->base, t->regs);
    dl_machine_set_irql(t->e->m, irql);
  }
  t->have_regs = 0;
  if (t->e->packet_busy == t) t->e->packet_busy = NULL;
}

/* The transaction ends with st: TransferCompleted or TransferFailed. */
void finish(dl_wdfdma_txn *t, uint32_t st) {
  t->state = NT_ERROR(st) ? DL_TXN_TRANSFER_FAILED : DL_TXN_TRANSFER_COMPLETED;
  release_resources(t);
  t->cur_len = 0;
}

/* Forgets the buffer and per-use settings (ReleaseForReuse). */
void forget(dl_wdfdma_txn *t) {
  t->mdl = NULL;
  t->request = NULL;
  t->va = t->length = 0;
  t->immediate = 0;
  t->single = (t->e->cfg.flags & DL_WDFDMA_REQUIRE_SINGLE_TRANSFER) != 0;
}

/* Takes t off the enabler's queue of channel waiters. */
void unqueue(dl_wdfdma_txn *t) {
  if (!t->queued) return;
  dl_list_remove(&t->chan);
  dl_list_init(&t->chan);
  t->queued = 0;
}

/* ---- the adapter's callbacks ---------------------------------------------------- */

static uint32_t stage(dl_wdfdma_txn *t);

/* Takes a grant: 0 if it is one to drop (cancelled, freed, deleted). */
static int take_grant(dl_wdfdma_txn *t) {
  t->pending--;
  if (t->drop) {
    t->drop--;
    return 0;
  }
  return !t->zombie;
}

/* AdapterControl of the packet profile: the transfer's registers (kept
** across its transfers) or a reservation (EvtReserveDma). */
static int packet_control(void *ctx, dl_device *dev, uint64_t base) {
  dl_wdfdma_txn *t = ctx;
  (void)dev;
  hold(t);
  int kind = t->wait_kind;
  if (!take_grant(t)) {
    unhold(t);
    return DL_DEALLOCATE_OBJECT;
  }
  t->wait_kind = WAIT_NONE;
  if (kind == WAIT_RESERVE) {
    t->reserved_base = base;
    if (t->e->ops && t->e->ops->reserve) t->e->ops->reserve(t->data, t);
  } else {
    t->base = base;
    t->have_regs = 1;
    uint32_t st = stage(t);
    if (st && t->state == DL_TXN_TRANSFER && !dl_wdfsys_stage_failed(t, st)) finish(t, st);
  }
  int action = dl_wdfsys_action(t);  /* system DMA keeps the channel */
  unhold(t);
  return action;
}

/* AdapterListControl of the scatter/gather profile. */
static void sg_control(void *ctx, dl_device *dev, dl_sglist *sg) {
  dl_wdfdma_txn *t = ctx;
  (void)dev;
  hold(t);
  if (!take_grant(t)) {
    dl_adapter_put_sglist(t->a, sg, dl_sglist_id(sg), is_write(t));
    unhold(t);
    return;
  }
  t->wait_kind = WAIT_NONE;
  t->sg = sg;
  t->sg_id = dl_sglist_id(sg);
  program(t, sg, NULL);
  unhold(t);
}

/* The adapter dropped a pending request (teardown, or a list it could not build). */
void dl_wdftxn_dropped(dl_adapter *a, void *ctx) {
  dl_wdfdma_enabler *e = dl_adapter_framework(a);
  if (!e) return;
  dl_link *lists[] = {&e->txns, &e->zombies};
  for (int k = 0; k < 2; k++)
    for (dl_link *l = lists[k]->next; l != lists[k]; l = l->next) {
      dl_wdfdma_txn *t = DL_CONTAINER(l, dl_wdfdma_txn, link);
      if (t != ctx) continue;
      if (t->pending) t->pending--;
      if (t->drop) t->drop--;
      else t->wait_kind = WAIT_NONE;
      reap(t);
      return;
    }
}

/* Asks for the channel: n registers for a transfer or a reservation. */
static uint32_t ask_channel(dl_wdfdma_txn *t, int kind, uint32_t n) {
  uint8_t irql = raise_dispatch(t->e->m);
  t->wait_kind = kind;
  t->pending++;
  uint32_t st = dl_adapter_allocate_channel(t->a, pdo(t), n, packet_control, t);
  if (st) {
    t->pending--;
    t->wait_kind = WAIT_NONE;
  }
  dl_machine_set_irql(t->e->m, irql);
  return st;
}

/* Asks now, or joins the enabler's queue while the device has a request out. */
uint32_t request_channel(dl_wdfdma_txn *t, int kind, uint32_t n) {
  if (!dl_list_empty(&t->e->chan_waiters) || dl_adapter_channel_busy(t->a, pdo(t))) {
    t->wait_kind = kind;
    t->regs = n;
    t->queued = 1;
    dl_list_append(&t->e->chan_waiters, &t->chan);
    return DL_STATUS_SUCCESS;
  }
  return ask_channel(t, kind, n);
}

/* Asks for the channel for queued transactions while the device may. */
void dl_wdftxn_kick(dl_wdfdma_enabler *e) {
  while (!dl_list_empty(&e->chan_waiters)) {
    dl_wdfdma_txn *t = DL_CONTAINER(e->chan_waiters.next, dl_wdfdma_txn, chan);
    if (dl_adapter_channel_busy(t->a, pdo(t))) return;
    unqueue(t);
    int kind = t->wait_kind;
    uint32_t n = kind == WAIT_RESERVE ? t->reserved : t->regs;
    if (ask_channel(t, kind, n) && kind == WAIT_TRANSFER && t->state == DL_TXN_TRANSFER)
      finish(t, DL_STATUS_INSUFFICIENT_RESOURCES);
  }
}

/* ---- staging ---------------------------------------------------------------------- */

/* Packet: maps the next transfer with the registers held and programs it. */
static uint32_t stage_packet(dl_wdfdma_txn *t) {
  dl_mdl *mdl;
  uint64_t va, ps = psize(t);
  locate(t, t->transferred, &mdl, &va);
  uint64_t len = min64(min64(t->remaining, t->max_frag), mdl_end(mdl) - va);
  len = min64(len, (uint64_t)t->regs * ps - va % ps);  /* PAGE_SIZE*(R-1) + PAGE_SIZE - offset */
  uint32_t mapped = (uint32_t)len;
  dl_sg_element one;
  const dl_sg_element *el = &one;
  if (!dl_wdfsys_pre_map(t, mdl, va, len)) return DL_STATUS_SUCCESS;  /* ConfigureDmaChannel: FALSE */
  uint8_t irql = raise_dispatch(t->e->m);
  int rc = dl_wdfsys_map(t, mdl, va, &mapped, &one, &el, &t->prog_n);
  if (!rc) dl_wdfsys_post_map(t);
  dl_machine_set_irql(t->e->m, irql);
  if (rc) return DL_STATUS_INSUFFICIENT_RESOURCES;  /* a report says why */
  t->cur_mdl = mdl;
  t->cur_va = va;
  t->mapped = mapped;
  t->cur_len = mapped;
  t->remaining -= mapped;  /* a shorter mapping leaves the rest remaining */
  program(t, NULL, el);
  return DL_STATUS_SUCCESS;
}

/* Scatter/gather: asks for the next transfer's list (now or later). */
static uint32_t stage_sg(dl_wdfdma_txn *t) {
  dl_mdl *mdl;
  uint64_t va;
  locate(t, t->transferred, &mdl, &va);
  uint64_t len = sg_fragment(t, mdl, va, t->remaining);
  if (len == 0) return DL_STATUS_INSUFFICIENT_RESOURCES;
  if (elements_of(t, mdl, va, len) > t->e->max_sg) return DL_STATUS_WDF_TOO_FRAGMENTED;
  uint32_t regs = dl_adapter_needs_registers(t->a) ? (uint32_t)chain_regs(mdl, va, len, psize(t)) : 0;
  if (t->immediate && !grantable_now(t, regs, 0)) return DL_STATUS_INSUFFICIENT_RESOURCES;
  t->cur_mdl = mdl;
  t->cur_va = va;
  t->cur_len = len;
  t->remaining -= len;
  t->wait_kind = WAIT_TRANSFER;
  t->pending++;
  uint8_t irql = raise_dispatch(t->e->m);
  uint32_t st = dl_adapter_get_sglist(t->a, pdo(t), mdl, va, (uint32_t)len, sg_control, t,
                                      is_write(t), 0);
  dl_machine_set_irql(t->e->m, irql);
  if (st) {
    t->pending--;
    t->wait_kind = WAIT_NONE;
    t->remaining += len;
    t->cur_len = 0;
  }
  return st;
}

/* Stages the next transfer; a call made while staging (a DmaCompleted*
** inside EvtProgramDma) only asks for another round (RerunStaging). */
static uint32_t stage(dl_wdfdma_txn *t) {
  if (t->staging) {
    t->rerun = 1;
    return DL_STATUS_SUCCESS;
  }
  t->staging = 1;
  uint32_t st;
  do {
    t->rerun = 0;
    st = t->e->packet ? stage_packet(t) : stage_sg(t);
  } while (!st && t->rerun && t->state == DL_TXN_TRANSFER && t->remaining && !t->zombie);
  t->staging = 0;
  return st;
}

/* ---- Initialize ---------------------------------------------------------------- */

/* The single-transfer checks (PrepareForSingleTransfer). */
static uint32_t check_single(dl_wdfdma_txn *t) {
  dl_wdfdma_enabler *e = t->e;
  if (t->length > t->max_frag) return DL_STATUS_WDF_TOO_MANY_TRANSFERS;
  uint64_t regs = dl_adapter_needs_registers(t->a) ? chain_regs(t->mdl, t->va, t->length, psize(t)) : 0;
  if (regs > (t->reserved ? t->reserved : dl_adapter_map_registers(t->a)))
    return DL_STATUS_WDF_NOT_ENOUGH_MAP_REGISTERS;
  uint32_t el = elements_of(t, t->mdl, t->va, t->length);
  if (el > e->max_sg || (e->packet && el > 1)) return DL_STATUS_WDF_TOO_FRAGMENTED;
  return DL_STATUS_SUCCESS;
}

/* Scatter/gather: pre-splits the transaction; a transfer needing more than
** MaxSGElements is STATUS_WDF_TOO_FRAGMENTED. */
static uint32_t check_fragments(dl_wdfdma_txn *t) {
  for (uint64_t off = 0; off < t->length;) {
    dl_mdl *mdl;
    uint64_t va;
    locate(t, off, &mdl, &va);
    uint64_t len = sg_fragment(t, mdl, va, t->length - off);
    if (len == 0) return DL_STATUS_INSUFFICIENT_RESOURCES;
    if (elements_of(t, mdl, va, len) > t->e->max_sg) return DL_STATUS_WDF_TOO_FRAGMENTED;
    off += len;
  }
  return DL_STATUS_SUCCESS;
}

/* Initialize's checks of reference 2.2, on the fields just set. */
static uint32_t check_buffer(dl_wdfdma_txn *t) {
  dl_mdl *mdl = t->mdl;
  if (!mdl || t->length == 0 || t->length > UINT32_MAX) return DL_STATUS_INVALID_PARAMETER;
  if (t->va < dl_mdl_virtual_address(mdl) || t->va >= mdl_end(mdl)) return DL_STATUS_INVALID_PARAMETER;
  if (t->e->packet && t->e->version < 3 && dl_mdl_next(mdl)) return DL_STATUS_INVALID_PARAMETER;
  uint64_t have = mdl_end(mdl) - t->va;
  for (dl_mdl *cur = dl_mdl_next(mdl); cur && have < t->length; cur = dl_mdl_next(cur))
    have += dl_mdl_byte_count(cur);
  if (have < t->length) return DL_STATUS_INVALID_PARAMETER;
  if (t->single) return check_single(t);
  return t->e->packet ? DL_STATUS_SUCCESS : check_fragments(t);
}

/* Shared by both Initialize calls. */
static uint32_t initialize(dl_wdfdma_txn *t, const char *call, int direction, dl_mdl *mdl,
                           uint64_t va, uint64_t length, dl_wdf_request *r) {
  check_irql(t, call);
  if (dl_wdftxn_check_state(t, DL_TXNCALL_INITIALIZE, call) != DL_TXN_ALLOW)
    return DL_STATUS_INVALID_DEVICE_STATE;
  t->direction = direction ? DL_WDFDMA_WRITE_TO_DEVICE : DL_WDFDMA_READ_FROM_DEVICE;
  t->a = t->e->adapters[t->direction];
  if (!t->a) return DL_STATUS_INVALID_DEVICE_STATE;  /* a system profile not configured yet */
  t->mdl = mdl;
  t->va = va;
  t->length = length;
  t->request = r;
  t->transferred = t->cur_len = 0;
  t->max_frag = t->e->max_frag[t->direction];
  if (t->single && t->max_frag < t->e->cfg.maximum_length) t->max_frag = t->e->cfg.maximum_length;
  uint32_t st = check_buffer(t);
  if (st) {
    forget(t);
    t->state = DL_TXN_RELEASED;
    return st;
  }
  t->state = DL_TXN_INITIALIZED;
  return DL_STATUS_SUCCESS;
}

/* WdfDmaTransactionInitialize. */
uint32_t dl_wdfdma_txn_initialize(dl_wdfdma_txn *t, int direction, dl_mdl *mdl, uint64_t va,
                                  uint64_t length) {
  return initialize(t, "WdfDmaTransactionInitialize", direction, mdl, va, length, NULL);
}

/* The direction a request's major function (or IOCTL method) implies; -1 if none. */
static int request_direction(const dl_irp *irp) {
  if (irp->major == DL_IRP_MJ_READ) return DL_WDFDMA_READ_FROM_DEVICE;
  if (irp->major == DL_IRP_MJ_WRITE) return DL_WDFDMA_WRITE_TO_DEVICE;
  if (irp->major != DL_IRP_MJ_DEVICE_CONTROL) return -1;
  uint32_t method = irp->ioctl & 3;  /* METHOD_IN_DIRECT 1: to the device; METHOD_OUT_DIRECT 2 */
  return method == 1 ? DL_WDFDMA_WRITE_TO_DEVICE : method == 2 ? DL_WDFDMA_READ_FROM_DEVICE : -1;
}

/* WdfDmaTransactionInitializeUsingRequest. */
uint32_t dl_wdfdma_txn_initialize_request(dl_wdfdma_txn *t, dl_wdf_request *r, int direction) {
  const char *call = "WdfDmaTransactionInitializeUsingRequest";
  dl_irp *irp = dl_wdf_request_irp(r);
  int want = request_direction(irp);
  int dir = direction ? DL_WDFDMA_WRITE_TO_DEVICE : DL_WDFDMA_READ_FROM_DEVICE;
  if (want < 0 || want != dir || !irp->mdl) {
    check_irql(t, call);
    dl_wdftxn_check_state(t, DL_TXNCALL_INITIALIZE, call);  /* a wrong state is reported too */
    return want < 0 || want != dir ? DL_STATUS_INVALID_DEVICE_REQUEST : DL_STATUS_INVALID_PARAMETER;
  }
  return initialize(t, call, dir, irp->mdl, dl_mdl_virtual_address(irp->mdl),
                    dl_mdl_byte_count(irp->mdl), r);
}

/* ---- Execute and completion ---------------------------------------------------- */

/* Packet: takes the registers (or the reservation's) and stages. */
static uint32_t start_packet(dl_wdfdma_txn *t) {
  dl_wdfdma_enabler *e = t->e;
  if (e->version < 3) {
    if (e->packet_busy && e->packet_busy != t) return DL_STATUS_WDF_BUSY;
    e->packet_busy = t;
  }
  if (t->reserved) {
    if (t->pending) return DL_STATUS_INVALID_DEVICE_STATE;  /* EvtReserveDma has not run */
    t->base = t->reserved_base;
    t->regs = t->reserved;
    t->have_regs = 1;
    return stage(t);
  }
  uint64_t ps = psize(t), frag = min64(t->remaining, t->max_frag);
  uint64_t regs = frag == t->remaining ? chain_regs(t->mdl, t->va, frag, ps) : dl_span_pages(ps - 1, frag, ps);
  if (regs > dl_adapter_map_registers(t->a) || e->system) regs = dl_adapter_map_registers(t->a);
  if (t->immediate && !grantable_now(t, (uint32_t)regs, 1)) return DL_STATUS_INSUFFICIENT_RESOURCES;
  t->regs = (uint32_t)regs;
  return request_channel(t, WAIT_TRANSFER, t->regs);
}

/* WdfDmaTransactionExecute. */
uint32_t dl_wdfdma_txn_execute(dl_wdfdma_txn *t) {
  check_irql(t, "WdfDmaTransactionExecute");
  if (dl_wdftxn_check_state(t, DL_TXNCALL_EXECUTE, NULL) != DL_TXN_ALLOW)
    return DL_STATUS_INVALID_DEVICE_STATE;
  hold(t);
  t->state = DL_TXN_TRANSFER;
  t->transferred = t->cur_len = 0;
  t->remaining = t->length;
  uint32_t st = t->e->packet ? start_packet(t) : stage(t);
  if (st && t->state == DL_TXN_TRANSFER) finish(t, st);
  dl_wdftxn_kick(t->e);
  unhold(t);
  return st;
}

static const char *const completed_names[] = {
  "WdfDmaTransactionDmaCompleted", "WdfDmaTransactionDmaCompletedWithLength",
  "WdfDmaTransactionDmaCompletedFinal",
};

/* The accounting and next step of DmaCompleted* (FxDmaTransactionBase::DmaCompleted). */
static uint32_t complete_transfer(dl_wdfdma_txn *t, uint64_t n, int kind) {
  if (kind != DL_WDFDMA_COMPLETE && n > t->cur_len) return DL_STATUS_INVALID_PARAMETER;
  if (kind != DL_WDFDMA_COMPLETE) {
    t->transferred += n;
    t->remaining += t->cur_len - n;  /* n = 0: the same transfer again */
    t->cur_len = n;
  } else {
    t->transferred += t->cur_len;
  }
  end_transfer(t);
  if (t->single && t->remaining > 0) return DL_STATUS_WDF_TOO_MANY_TRANSFERS;
  if (t->remaining == 0 || kind == DL_WDFDMA_COMPLETE_FINAL) return DL_STATUS_SUCCESS;
  uint32_t st = stage(t);
  return st ? st : DL_STATUS_MORE_PROCESSING_REQUIRED;
}

/* WdfDmaTransactionDmaCompleted*. */
int dl_wdfdma_txn_completed(dl_wdfdma_txn *t, uint64_t length, int kind, uint32_t *status) {
  const char *call = completed_names[kind < 0 || kind > 2 ? 0 : kind];
  check_irql(t, call);
  if (dl_wdftxn_check_state(t, DL_TXNCALL_DMA_COMPLETED, call) != DL_TXN_ALLOW) {
    *status = DL_STATUS_INVALID_DEVICE_STATE;  /* e.g. no EvtProgramDma ran for the transfer */
    return 1;
  }
  hold(t);
  uint32_t st = complete_transfer(t, length, kind);
  int done = st != DL_STATUS_MORE_PROCESSING_REQUIRED;
  if (done && t->state == DL_TXN_TRANSFER) finish(t, st);
  *status = st;
  dl_wdftxn_kick(t->e);
  unhold(t);
  return done;
}

/* WdfDmaTransactionRelease: a double Release is benign. */
uint32_t dl_wdfdma_txn_release(dl_wdfdma_txn *t) {
  check_irql(t, "WdfDmaTransactionRelease");
  int cell = dl_wdftxn_check_state(t, DL_TXNCALL_RELEASE, NULL);
  if (cell == DL_TXN_NOOP) return DL_STATUS_SUCCESS;
  if (cell == DL_TXN_REFUSE) return DL_STATUS_INVALID_DEVICE_STATE;
  release_resources(t);
  forget(t);
  t->state = DL_TXN_RELEASED;
  return DL_STATUS_SUCCESS;
}

/* The framework's side of WdfObjectDelete: everything released by force; a
** Dispose in Transfer is reported. Use dl_wdf_object_delete to delete. */
void dl_wdfdma_txn_delete(dl_wdfdma_txn *t) {
  if (!t || dl_wdftxn_check_state(t, DL_TXNCALL_DELETE, NULL) == DL_TXN_NOOP) return;
  /* refused (in Transfer) is reported, and the delete goes on by force */
  unqueue(t);
  t->drop = t->pending;
  release_resources(t);
  if (t->reserved && !t->pending) {
    uint8_t irql = raise_dispatch(t->e->m);
    dl_wdfsys_free_registers(t, t->reserved_base, t->reserved);
    dl_machine_set_irql(t->e->m, irql);
  }
  t->reserved = 0;
  t->state = DL_TXN_DELETED;
  t->zombie = 1;
  dl_wdf_object_fini(DL_WDF(t));  /* its handle is dead; the memory waits for the adapter */
  dl_list_remove(&t->link);
  dl_list_append(&t->e->zombies, &t->link);
  dl_wdfdma_enabler *e = t->e;
  reap(t);
  dl_wdftxn_kick(e);
}

/* ---- accessors ------------------------------------------------------------------ */

dl_wdfdma_enabler *dl_wdfdma_txn_enabler(const dl_wdfdma_txn *t) { return t->e; }
uint64_t dl_wdfdma_txn_id(const dl_wdfdma_txn *t) { return t->id; }
int dl_wdfdma_txn_state(const dl_wdfdma_txn *t) { return t->state; }
int dl_wdfdma_txn_direction(const dl_wdfdma_txn *t) { return t->direction; }
uint64_t dl_wdfdma_txn_bytes_transferred(const dl_wdfdma_txn *t) { return t->transferred; }
uint64_t dl_wdfdma_txn_current_length(const dl_wdfdma_txn *t) { return t->cur_len; }
uint32_t dl_wdfdma_txn_program_count(const dl_wdfdma_txn *t) { return t->prog_n ? t->prog_n : 1; }
dl_wdf_request *dl_wdfdma_txn_request(const dl_wdfdma_txn *t) { return t->request; }
int dl_wdfdma_txn_reserved(const dl_wdfdma_txn *t) { return t->reserved != 0; }
