/*
** dl_slave.c: system (slave) DMA adapters (see dl_slave.h). The facts of
** the ISA path follow ReactOS hal/halx86/generic/dma.c: channel 4 is the
** cascade, 8-bit transfers on channels 0-3 and 16-bit on 5-7 only, the
** map registers BYTES_TO_PAGES(MaximumLength) + 1 capped at 16, the mode
** register from DemandMode and AutoInitialize, the residual from the count
** register trimming a read's copy-back unless IgnoreCount.
*/
#include "hal/dl_slave.h"

#include <stdlib.h>
#include <string.h>

#include "base/dl_status.h"
#include "base/dl_wdk.h"
#include "hal/dl_dmaex.h"
#include "hal/dl_dmac8237.h"
#include "hal/dl_socdma.h"
#include "machine/dl_trace.h"
#include "machine/dl_verifier.h"

#define ISA_MAX_REGISTERS 16u

typedef struct dl_slave {
  uint64_t ctrl_id;            /* the controller (object id: it may go first) */
  uint32_t channel, line;
  int isa, programmed;
  uint32_t unit;               /* bytes a unit: DmaWidth */
  uint64_t device_offset;      /* added to DeviceAddress */
  int mode;                    /* DL_SYSDMA_* set by ConfigureAdapterChannel, -1: DemandMode's */
  uint64_t overruns_at;        /* the channel's lost units when it was programmed */
  dl_slave_done_fn done;       /* told of terminal count */
  void *done_ctx;
  uint32_t limit;              /* elements one transfer takes (the controller's) */
  dl_sysdma_desc *chain;       /* the controller's chain (limit entries, kept) */
  dl_sg_element *list;         /* the transfer programmed, in bytes (limit entries) */
  uint32_t nlist;
} dl_slave;

static int is_isa(const dl_device_description *d) {
  return d->interface_type == DL_ISA || d->interface_type == DL_EISA;
}

int dl_adapter_is_slave(const dl_adapter *a) { return a->slave != NULL; }

/* The controller, if it still exists. */
static dl_sysdma *ctrl_of(const dl_adapter *a) {
  if (!a->slave) return NULL;
  dl_object *o = dl_machine_find(a->m, a->slave->ctrl_id);
  return o && o->type == &dl_sysdma_type ? (dl_sysdma *)o : NULL;
}

dl_sysdma *dl_adapter_controller(const dl_adapter *a, uint32_t *channel) {
  if (channel) *channel = a->slave ? a->slave->channel : 0;
  return ctrl_of(a);
}

static int refuse(dl_machine *m, dl_device *dev, int why, uint64_t value, int rc) {
  dl_trace_emit(m, DL_TR_ADAPTER_REFUSED, dev ? dev->id : 0, (uint64_t)why, value);
  return rc;
}

/* The DEVICE_DESCRIPTION rules of system DMA. */
int dl_slave_check(dl_machine *m, dl_device *dev, const dl_device_description *d) {
  if (is_isa(d)) {
    if (d->dma_channel == 4 || d->dma_channel > 7)
      return refuse(m, dev, DL_REFUSE_SLAVE, d->dma_channel, DL_EINVAL);
    if (d->dma_width != (d->dma_channel < 4 ? DL_WIDTH8 : DL_WIDTH16))
      return refuse(m, dev, DL_REFUSE_SLAVE_WIDTH, d->dma_width, DL_EINVAL);
    return DL_OK;
  }
  dl_sysdma *c = d->version >= 3 ? dl_socdma_find(m, d->dma_controller_instance) : NULL;
  if (!c || d->dma_request_line >= dl_sysdma_lines(c))
    return refuse(m, dev, DL_REFUSE_SLAVE, d->dma_request_line, DL_EINVAL);
  if (d->dma_width > DL_WIDTH32) return refuse(m, dev, DL_REFUSE_SLAVE_WIDTH, d->dma_width, DL_EINVAL);
  return DL_OK;
}

/* 1 if another adapter not yet put drives channel ch of controller id. */
static int channel_taken(dl_machine *m, const dl_adapter *self, uint64_t id, uint32_t ch) {
  for (dl_object *o = dl_object_next(m, NULL, &dl_adapter_type); o;
       o = dl_object_next(m, o, &dl_adapter_type)) {
    const dl_adapter *b = (const dl_adapter *)o;
    if (b != self && !b->released && b->slave && b->slave->ctrl_id == id && b->slave->channel == ch)
      return 1;
  }
  return 0;
}

/* An SoC adapter gets the lowest channel no other adapter drives. */
static int pick_channel(dl_adapter *a, dl_sysdma *c, uint32_t *ch) {
  for (uint32_t i = 0; i < dl_sysdma_channels(c); i++)
    if (!channel_taken(a->m, a, DL_OBJECT(c)->id, i)) {
      *ch = i;
      return DL_OK;
    }
  return refuse(a->m, a->dev, DL_REFUSE_SLAVE_BUSY, dl_sysdma_channels(c), DL_ENOSPACE);
}

uint64_t dl_slave_ceiling(const dl_device_description *d) {
  if (is_isa(d)) return UINT64_C(0xFFFFFF);
  uint32_t w = d->address_width ? d->address_width : 32;
  return w >= 64 ? UINT64_MAX : (UINT64_C(1) << w) - 1;
}

/* Binds the adapter. */
int dl_slave_attach(dl_adapter *a) {
  const dl_device_description *d = &a->desc;
  dl_slave *s = calloc(1, sizeof *s);
  if (!s) return DL_ENOMEM;
  s->isa = is_isa(d);
  s->mode = -1;
  s->unit = 1u << (d->dma_width > DL_WIDTH32 ? 0 : d->dma_width);
  dl_sysdma *c = s->isa ? dl_dmac8237_of(a->m) : dl_socdma_find(a->m, d->dma_controller_instance);
  if (!c) {
    free(s);
    return DL_ENOMEM;
  }
  s->ctrl_id = DL_OBJECT(c)->id;
  int rc = DL_OK;
  if (s->isa) {
    s->channel = s->line = d->dma_channel;
  } else {
    s->line = d->dma_request_line;
    rc = pick_channel(a, c, &s->channel);
  }
  s->limit = s->isa ? 1 : dl_sysdma_max_elements(c);
  if (!rc && (!(s->chain = calloc(s->limit, sizeof *s->chain)) ||
              !(s->list = calloc(s->limit, sizeof *s->list))))
    rc = DL_ENOMEM;
  if (rc) {
    free(s->chain);
    free(s->list);
    free(s);
    return rc;
  }
  a->slave = s;
  /* "IoGetDmaAdapter assumes that the scatter/gather capability of a
  ** subordinate DMA device is the same as that of the underlying system DMA
  ** controller" (DEVICE_DESCRIPTION): MapTransfer then maps contiguous runs
  ** without bouncing them together, as for a scatter/gather master */
  a->sg = s->limit > 1;
  a->needs_registers = 1;
  if (d->version >= 3) dl_dmaex_set_kind(a, dl_slave_ex_kind(s->isa));  /* the ...Ex operations */
  if (s->isa) {
    uint64_t ps = dl_machine_page_size(a->m), block = dl_slave_boundary(a);
    uint64_t maxlen = d->maximum_length & 0x7FFFFFFF;
    if (maxlen > block) maxlen = block;
    uint32_t n = (uint32_t)((maxlen + ps - 1) / ps + 1);
    if (n > ISA_MAX_REGISTERS) n = ISA_MAX_REGISTERS;
    if (d->scatter_gather) n = 1;  /* ScatterGather on a slave: one register (ReactOS) */
    if (n < a->nmr) a->nmr = n;
    a->ceiling = UINT64_C(0xFFFFFF);  /* 24-bit ISA addresses */
    dl_sysdma_set_cycle(c, s->channel, dl_dmac8237_cycle_ns(d->dma_speed));
  }
  return DL_OK;
}

void dl_adapter_set_completion(dl_adapter *a, dl_slave_done_fn fn, void *ctx) {
  if (!a->slave) return;
  a->slave->done = fn;
  a->slave->done_ctx = ctx;
}

void dl_slave_set_device_offset(dl_adapter *a, uint64_t offset) {
  if (a->slave) a->slave->device_offset = offset;
}

/* The controller's terminal count on the adapter's channel: DmaComplete,
** or DmaError if the channel lost units on the way (block mode overran). */
static void on_terminal_count(void *ctx, uint32_t ch) {
  dl_adapter *a = ctx;
  dl_slave *s = a->slave;
  if (!s || !s->programmed || a->desc.auto_initialize || !s->done) return;
  dl_sysdma *c = ctrl_of(a);
  int lost = c && dl_sysdma_channel_overruns(c, ch) != s->overruns_at;
  s->done(s->done_ctx, lost ? DL_DMA_ERROR : DL_DMA_COMPLETE);
}

/* Masks the channel if this adapter left it programmed. */
static void stop(dl_adapter *a) {
  dl_sysdma *c = ctrl_of(a);
  if (!c || !a->slave->programmed) return;
  if (a->slave->isa) dl_dmac8237_mask(c, a->slave->channel, 1);
  else dl_sysdma_mask(c, a->slave->channel, 1);
  a->slave->programmed = 0;
}

void dl_slave_stop(dl_adapter *a) { stop(a); }

void dl_slave_destroy(dl_adapter *a) {
  if (!a->slave) return;
  stop(a);
  dl_sysdma *c = ctrl_of(a);
  if (c) dl_sysdma_set_listener(c, a->slave->channel, NULL, NULL);
  free(a->slave->chain);
  free(a->slave->list);
  free(a->slave);
  a->slave = NULL;
}

uint64_t dl_slave_boundary(const dl_adapter *a) {
  if (!a->slave || !a->slave->isa) return 0;
  return a->slave->channel < 4 ? 0x10000 : 0x20000;
}

/* MapTransfer needs the adapter channel. */
int dl_slave_check_map(dl_adapter *a, uint64_t base) {
  if (a->owner && a->owner_base == base && (a->owner_keeps || a->in_control)) return DL_OK;
  dl_verify_fail(a->m, DL_BUGCHECK_DMA, DL_VF_MISC, a->id, 0, 0,
                 "MapTransfer: system DMA adapter#%llu does not hold its adapter channel: "
                 "AllocateAdapterChannel's AdapterControl must return KeepObject and "
                 "MapTransfer use its MapRegisterBase before FreeAdapterChannel",
                 (unsigned long long)a->id);
  return DL_ESTATE;
}

/* The transfer mode: ConfigureAdapterChannel's, else DemandMode's. */
static int mode_of(const dl_adapter *a) {
  if (a->slave->mode >= 0) return a->slave->mode;
  return a->desc.demand_mode ? DL_SYSDMA_DEMAND : DL_SYSDMA_SINGLE;
}

/* The report for a transfer the channel cannot take (element i of n). */
static int cannot_take(dl_adapter *a, const dl_sg_element *el, uint32_t i, uint32_t n) {
  dl_slave *s = a->slave;
  dl_verify_fail(a->m, DL_BUGCHECK_DMA, DL_VF_INVALID_DMA_BUFFER, a->id, el[i].address, el[i].length,
                 "MapTransfer: system DMA channel %u cannot take %u bytes at 0x%llx%s (a %u-byte "
                 "channel moves whole units%s)", s->channel, el[i].length,
                 (unsigned long long)el[i].address, n > 1 ? " (an element of its list)" : "",
                 s->unit, s->isa ? " inside one 64/128 KiB block below 16 MiB" : "");
  return DL_EINVAL;
}

/* An SoC channel's transfer toward DeviceAddress + offset: checks the FIFO,
** builds the chain and programs it (masked). */
static int program_soc(dl_adapter *a, dl_sysdma *c, const dl_sg_element *el, uint32_t n, int write) {
  dl_slave *s = a->slave;
  const dl_device_description *d = &a->desc;
  uint64_t fifo = dl_sysdma_line_fifo(c, s->line), dev = d->device_address + s->device_offset;
  if (dev && fifo && dev != fifo) {
    dl_verify_fail(a->m, DL_BUGCHECK_DMA, DL_VF_MISC, a->id, dev, fifo,
                   "MapTransfer: DeviceAddress 0x%llx + offset 0x%llx is not the FIFO of the "
                   "peripheral on request line %u (0x%llx)", (unsigned long long)d->device_address,
                   (unsigned long long)s->device_offset, s->line, (unsigned long long)fifo);
    return DL_EINVAL;
  }
  for (uint32_t i = 0; i < n; i++) {
    if (el[i].length % s->unit || el[i].length < s->unit) return cannot_take(a, el, i, n);
    s->chain[i] = (dl_sysdma_desc){el[i].address, el[i].length / s->unit};
  }
  dl_sysdma_xfer x = { .unit = s->unit, .line = s->line, .to_device = write, .mode = mode_of(a),
                       .auto_init = d->auto_initialize };
  dl_sysdma_mask(c, s->channel, 1);
  return dl_sysdma_program_chain(c, s->channel, &x, s->chain, n) ? cannot_take(a, el, 0, n) : DL_OK;
}

/* Programs and unmasks the channel with a list of n elements. */
int dl_slave_program_list(dl_adapter *a, const dl_sg_element *el, uint32_t n, int write) {
  dl_slave *s = a->slave;
  const dl_device_description *d = &a->desc;
  dl_sysdma *c = ctrl_of(a);
  if (!c) return DL_ESTATE;
  if (n == 0 || n > s->limit) return DL_EINVAL;
  int rc;
  if (s->isa) {
    static const uint8_t bits[] = {DL_8237_DEMAND, DL_8237_SINGLE, DL_8237_BLOCK};
    uint8_t mode = (uint8_t)((write ? DL_8237_READ : DL_8237_WRITE) |
                             (d->auto_initialize ? DL_8237_AUTO_INIT : 0) | bits[mode_of(a)]);
    if (dl_dmac8237_setup(c, s->channel, el[0].address, el[0].length, mode))
      return cannot_take(a, el, 0, 1);
  } else if ((rc = program_soc(a, c, el, n, write))) {
    return rc;
  }
  memmove(s->list, el, n * sizeof *el);  /* el may be s->list (dl_slave_map_list) */
  s->nlist = n;
  s->programmed = 1;
  s->overruns_at = dl_sysdma_channel_overruns(c, s->channel);
  dl_sysdma_set_listener(c, s->channel, on_terminal_count, a);
  if (s->isa) dl_dmac8237_mask(c, s->channel, 0);
  else dl_sysdma_mask(c, s->channel, 0);
  return DL_OK;
}

/* Programs and unmasks the channel for one block. */
int dl_slave_program(dl_adapter *a, uint64_t pa, uint32_t len, int write) {
  dl_sg_element el = {pa, len};
  return dl_slave_program_list(a, &el, 1, write);
}

uint32_t dl_slave_sg_limit(const dl_adapter *a) { return a->slave ? a->slave->limit : 1; }

dl_sg_element *dl_slave_list(dl_adapter *a) { return a->slave ? a->slave->list : NULL; }

/* ReadDmaCounter. */
uint32_t dl_adapter_read_counter(dl_adapter *a) {
  if (!dl_adapter_usable(a, "ReadDmaCounter")) return 0;
  dl_verify_irql(a->m, "ReadDmaCounter", 0, DL_DISPATCH_LEVEL);
  dl_sysdma *c = ctrl_of(a);
  if (!c) return 0;
  if (a->slave->isa) return dl_dmac8237_read_counter(c, a->slave->channel);
  return dl_sysdma_remaining(c, a->slave->channel) * a->slave->unit;
}

/* Bytes of the programmed transfer before the element at `logical` (its
** whole length if no element starts there). */
static uint64_t offset_of(const dl_slave *s, uint64_t logical, uint64_t *total) {
  uint64_t off = 0, at = UINT64_MAX;
  for (uint32_t i = 0; i < s->nlist; i++) {
    if (s->list[i].address == logical && at == UINT64_MAX) at = off;
    off += s->list[i].length;
  }
  *total = off;
  return at == UINT64_MAX ? off : at;
}

/* FlushAdapterBuffers of a slave mapping: the bytes moved went through the
** chain's elements in order, so a bounced piece got what moved past its
** offset, up to its length. */
void dl_slave_flush(dl_adapter *a, dl_mapping *mp) {
  dl_slave *s = a->slave;
  uint32_t left = dl_adapter_read_counter(a);
  stop(a);
  if (!mp->bounced || mp->write || a->desc.ignore_count || a->desc.auto_initialize) return;
  uint64_t total, off = offset_of(s, mp->logical, &total);
  uint64_t moved = left < total ? total - left : 0;
  uint64_t here = moved > off ? moved - off : 0;
  if (here < mp->length) mp->length = (uint32_t)here;  /* copy back what moved */
}

void dl_slave_channel_freed(dl_adapter *a) { stop(a); }

uint32_t dl_slave_unit(const dl_adapter *a) { return a->slave ? a->slave->unit : 1; }

/* GetDmaAlignment (dl_adapter.h). */
uint32_t dl_adapter_dma_alignment(const dl_adapter *a) { return dl_slave_unit(a); }

/* ConfigureAdapterChannel's controller functions (see dl_slave.h). */
uint32_t dl_slave_configure(dl_adapter *a, uint32_t function, const void *context) {
  dl_slave *s = a->slave;
  dl_sysdma *c = ctrl_of(a);
  if (!s || !c) return DL_STATUS_INVALID_DEVICE_REQUEST;
  if (function != DL_SYSDMA_CONFIGURE_MODE && (function != DL_SYSDMA_CONFIGURE_CYCLE || s->isa))
    return DL_STATUS_NOT_IMPLEMENTED;  /* the 8237's bus cycle is DmaSpeed's */
  if (!context) return DL_STATUS_INVALID_PARAMETER;
  uint32_t v = *(const uint32_t *)context;
  if (function == DL_SYSDMA_CONFIGURE_MODE) {
    if (v > DL_SYSDMA_BLOCK) return DL_STATUS_INVALID_PARAMETER;
    s->mode = (int)v;
  } else {
    if (v == 0) return DL_STATUS_INVALID_PARAMETER;
    dl_sysdma_set_cycle(c, s->channel, v);
  }
  return DL_STATUS_SUCCESS;
}
