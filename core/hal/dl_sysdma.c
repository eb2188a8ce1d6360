/*
** dl_sysdma.c: the system DMA controller engine (see dl_sysdma.h). Each
** channel has at most one bus cycle pending in the clock; a cycle moves one
** unit and re-arms itself while the channel may go on, so the transfer
** runs at the pace the peripheral's DREQ allows, in simulated time, and
** nothing is allocated per unit.
*/
#include "hal/dl_sysdma.h"

#include <stdlib.h>
#include <string.h>

#include "base/dl_status.h"
#include "machine/dl_machine.h"
#include "machine/dl_trace.h"

#define MAX_CHANNELS 64u

typedef struct channel {
  dl_sysdma_xfer base;         /* as programmed (auto-initialize reloads it) */
  uint64_t cur;                /* current address */
  uint32_t left;               /* units still to move */
  uint64_t cycle_ns;
  int masked, programmed, terminal, started;
  int pending;                 /* a bus cycle is in the clock */
  uint64_t event;
  uint64_t overruns;           /* units the device refused or lacked (block mode) */
  dl_sysdma_tc_fn listener;
  void *listener_ctx;
  dl_sysdma_desc one;          /* the chain of a controller without scatter/gather */
  dl_sysdma_desc *desc;        /* the chain: &one, or max_elements in c->chains */
  uint32_t nd, di;             /* its length, and the element being moved */
  uint32_t after;              /* units in the elements after di */
} channel;

typedef struct line {
  dl_sysdma_port port;
  int attached, asserted;
} line;

struct dl_sysdma {
  DL_OBJECT_FIELDS
  char name[32];
  uint32_t nch, nlines;
  channel *ch;
  line *lines;
  void *front;
  dl_sysdma_tc_fn tc;
  void (*front_free)(void *);
  dl_sysdma_stats stats;
  uint32_t max_elements;
  dl_sysdma_desc *chains;      /* max_elements a channel (scatter/gather), or NULL */
};

static void destroy(dl_object *o) { dl_sysdma_free((dl_sysdma *)o); }

const dl_object_type dl_sysdma_type = { "system DMA controller", destroy, NULL, NULL, NULL };

/* Creates a controller. */
int dl_sysdma_new(dl_machine *m, const char *name, uint32_t channels, uint32_t lines,
                  uint64_t cycle_ns, dl_sysdma **out) {
  if (!channels || channels > MAX_CHANNELS || !lines || lines > MAX_CHANNELS || !cycle_ns)
    return DL_EINVAL;
  dl_sysdma *c = calloc(1, sizeof *c);
  if (!c) return DL_ENOMEM;
  c->ch = calloc(channels, sizeof *c->ch);
  c->lines = calloc(lines, sizeof *c->lines);
  if (!c->ch || !c->lines) {
    free(c->ch);
    free(c->lines);
    free(c);
    return DL_ENOMEM;
  }
  dl_object_init(DL_OBJECT(c), m, &dl_sysdma_type, NULL);
  strncpy(c->name, name ? name : "sysdma", sizeof c->name - 1);
  c->nch = channels;
  c->nlines = lines;
  c->max_elements = 1;
  for (uint32_t i = 0; i < channels; i++) {
    c->ch[i].masked = 1;
    c->ch[i].cycle_ns = cycle_ns;
    c->ch[i].desc = &c->ch[i].one;
  }
  *out = c;
  return DL_OK;
}

/* Frees the controller; its pending cycles never run. */
void dl_sysdma_free(dl_sysdma *c) {
  if (!c) return;
  dl_clock *clk = dl_machine_clock(c->m);
  for (uint32_t i = 0; i < c->nch; i++)
    if (c->ch[i].pending) dl_clock_cancel(clk, c->ch[i].event);
  if (c->front_free) c->front_free(c->front);
  dl_object_unlink(DL_OBJECT(c));
  free(c->ch);
  free(c->lines);
  free(c->chains);
  free(c);
}

/* Gives each channel room for a chain of n elements (allocated once: the
** walk allocates nothing). */
int dl_sysdma_set_max_elements(dl_sysdma *c, uint32_t n) {
  if (!n || n > DL_SYSDMA_MAX_ELEMENTS) return DL_EINVAL;
  for (uint32_t i = 0; i < c->nch; i++)
    if (c->ch[i].programmed) return DL_EBUSY;
  dl_sysdma_desc *chains = n > 1 ? calloc((size_t)c->nch * n, sizeof *chains) : NULL;
  if (n > 1 && !chains) return DL_ENOMEM;
  free(c->chains);
  c->chains = chains;
  c->max_elements = n;
  for (uint32_t i = 0; i < c->nch; i++) c->ch[i].desc = chains ? chains + (size_t)i * n : &c->ch[i].one;
  return DL_OK;
}

uint32_t dl_sysdma_max_elements(const dl_sysdma *c) { return c->max_elements; }

/* The first controller with this name. */
dl_sysdma *dl_sysdma_find(dl_machine *m, const char *name) {
  for (dl_object *o = dl_object_next(m, NULL, &dl_sysdma_type); o;
       o = dl_object_next(m, o, &dl_sysdma_type))
    if (!strcmp(((dl_sysdma *)o)->name, name)) return (dl_sysdma *)o;
  return NULL;
}

void dl_sysdma_set_front(dl_sysdma *c, void *front, dl_sysdma_tc_fn tc, void (*front_free)(void *)) {
  c->front = front;
  c->tc = tc;
  c->front_free = front_free;
}
void *dl_sysdma_front(const dl_sysdma *c) { return c->front; }
const char *dl_sysdma_name(const dl_sysdma *c) { return c->name; }
uint32_t dl_sysdma_channels(const dl_sysdma *c) { return c->nch; }
uint32_t dl_sysdma_lines(const dl_sysdma *c) { return c->nlines; }
const dl_sysdma_stats *dl_sysdma_get_stats(const dl_sysdma *c) { return &c->stats; }

void dl_sysdma_set_cycle(dl_sysdma *c, uint32_t ch, uint64_t cycle_ns) {
  if (ch < c->nch && cycle_ns) c->ch[ch].cycle_ns = cycle_ns;
}

static void kick(dl_sysdma *c, uint32_t ch);

/* Programs base and current registers with a chain. */
int dl_sysdma_program_chain(dl_sysdma *c, uint32_t ch, const dl_sysdma_xfer *x,
                            const dl_sysdma_desc *d, uint32_t n) {
  if (ch >= c->nch || x->line >= c->nlines || !n || n > c->max_elements) return DL_EINVAL;
  if (x->unit != 1 && x->unit != 2 && x->unit != 4) return DL_EINVAL;
  if (x->mode < DL_SYSDMA_DEMAND || x->mode > DL_SYSDMA_BLOCK) return DL_EINVAL;
  if (x->boundary & (x->boundary - 1)) return DL_EINVAL;
  uint64_t total = 0;
  for (uint32_t i = 0; i < n; i++) {
    if (!d[i].count) return DL_EINVAL;
    total += d[i].count;
  }
  if (total > UINT32_MAX) return DL_EINVAL;
  channel *k = &c->ch[ch];
  memmove(k->desc, d, n * sizeof *d);  /* d may be the channel's own chain */
  k->nd = n;
  k->base = *x;
  k->base.address = d[0].address;
  k->base.count = (uint32_t)total;
  k->programmed = 1;
  k->started = 0;
  k->di = 0;
  k->cur = k->desc[0].address;
  k->left = k->desc[0].count;
  k->after = (uint32_t)total - k->left;
  kick(c, ch);
  return DL_OK;
}

/* Programs base and current registers: a chain of one. */
int dl_sysdma_program(dl_sysdma *c, uint32_t ch, const dl_sysdma_xfer *x) {
  dl_sysdma_desc one = {x->address, x->count};
  if (!x->count) return DL_EINVAL;
  return dl_sysdma_program_chain(c, ch, x, &one, 1);
}

uint32_t dl_sysdma_element(const dl_sysdma *c, uint32_t ch, uint32_t *n) {
  if (n) *n = ch < c->nch ? c->ch[ch].nd : 0;
  return ch < c->nch ? c->ch[ch].di : 0;
}

const dl_sysdma_xfer *dl_sysdma_programmed(const dl_sysdma *c, uint32_t ch) {
  return ch < c->nch && c->ch[ch].programmed ? &c->ch[ch].base : NULL;
}

/* Masks or unmasks a channel. */
void dl_sysdma_mask(dl_sysdma *c, uint32_t ch, int masked) {
  if (ch >= c->nch) return;
  c->ch[ch].masked = masked != 0;
  if (masked) c->ch[ch].started = 0;
  kick(c, ch);
}

int dl_sysdma_masked(const dl_sysdma *c, uint32_t ch) { return ch >= c->nch || c->ch[ch].masked; }
uint32_t dl_sysdma_remaining(const dl_sysdma *c, uint32_t ch) {
  return ch < c->nch ? c->ch[ch].left + c->ch[ch].after : 0;
}
uint64_t dl_sysdma_current(const dl_sysdma *c, uint32_t ch) { return ch < c->nch ? c->ch[ch].cur : 0; }
uint64_t dl_sysdma_channel_overruns(const dl_sysdma *c, uint32_t ch) {
  return ch < c->nch ? c->ch[ch].overruns : 0;
}

int dl_sysdma_take_terminal(dl_sysdma *c, uint32_t ch) {
  if (ch >= c->nch) return 0;
  int t = c->ch[ch].terminal;
  c->ch[ch].terminal = 0;
  return t;
}

/* Puts a peripheral on a line. */
int dl_sysdma_attach(dl_sysdma *c, uint32_t ln, const dl_sysdma_port *p) {
  if (ln >= c->nlines) return DL_EINVAL;
  line *l = &c->lines[ln];
  if (p && l->attached) return DL_EBUSY;
  memset(l, 0, sizeof *l);
  if (p) {
    l->port = *p;
    l->attached = 1;
  }
  return DL_OK;
}

uint64_t dl_sysdma_line_fifo(const dl_sysdma *c, uint32_t ln) {
  return ln < c->nlines && c->lines[ln].attached ? c->lines[ln].port.fifo : 0;
}

void dl_sysdma_set_listener(dl_sysdma *c, uint32_t ch, dl_sysdma_tc_fn fn, void *ctx) {
  if (ch >= c->nch) return;
  c->ch[ch].listener = fn;
  c->ch[ch].listener_ctx = ctx;
}

/* DREQ rises or falls. */
void dl_sysdma_request(dl_sysdma *c, uint32_t ln, int asserted) {
  if (ln >= c->nlines || c->lines[ln].asserted == (asserted != 0)) return;
  c->lines[ln].asserted = asserted != 0;
  for (uint32_t i = 0; asserted && i < c->nch; i++)
    if (c->ch[i].programmed && c->ch[i].base.line == ln) kick(c, i);
}

/* May the channel move a unit now? Block mode goes on once started. */
static int may_run(const dl_sysdma *c, const channel *k) {
  if (!k->programmed || k->masked || !k->left) return 0;
  const line *l = &c->lines[k->base.line];
  if (!l->attached) return 0;
  return l->asserted || (k->base.mode == DL_SYSDMA_BLOCK && k->started);
}

/* The next address, wrapping inside the boundary block (the 8237's page
** register does not count: a transfer never leaves its 64/128 KiB block). */
static uint64_t step(const dl_sysdma_xfer *x, uint64_t a, int *wrapped) {
  uint64_t n = x->decrement ? a - x->unit : a + x->unit;
  if (!x->boundary) return n;
  uint64_t mask = x->boundary - 1;
  *wrapped = ((n ^ a) & ~mask) != 0;
  return (a & ~mask) | (n & mask);
}

/* Terminal count: reload (auto-initialize) or mask; tell the peripheral
** and the front. */
static void terminal_count(dl_sysdma *c, uint32_t ch) {
  channel *k = &c->ch[ch];
  k->terminal = 1;
  k->started = 0;
  c->stats.terminal_counts++;
  if (k->base.auto_init) {  /* back to the first descriptor */
    k->di = 0;
    k->cur = k->desc[0].address;
    k->left = k->desc[0].count;
    k->after = k->base.count - k->left;
  } else {
    k->masked = 1;
  }
  dl_trace_emit(c->m, DL_TR_DMA_END, c->id, ch, k->base.count * (uint64_t)k->base.unit);
  line *l = &c->lines[k->base.line];
  if (l->attached && l->port.terminal_count) l->port.terminal_count(l->port.ctx, ch);
  if (c->tc) c->tc(c->front, ch);
  if (k->listener) k->listener(k->listener_ctx, ch);
}

/* Moves one unit between memory and the peripheral. */
static void move_unit(dl_sysdma *c, uint32_t ch) {
  channel *k = &c->ch[ch];
  line *l = &c->lines[k->base.line];
  dl_physmem *pm = dl_machine_physmem(c->m);
  uint8_t buf[4] = {0};
  uint32_t n = k->base.unit;
  int refused;
  if (k->base.to_device) {
    dl_physmem_read(pm, k->cur, buf, n);
    refused = l->port.put(l->port.ctx, buf, n);
  } else {
    refused = l->port.get(l->port.ctx, buf, n);
    if (!refused) dl_physmem_write(pm, k->cur, buf, n);
  }
  if (refused) {  /* block mode ran ahead of the device */
    c->stats.overruns++;
    k->overruns++;
  }
  int wrapped = 0;
  k->cur = step(&k->base, k->cur, &wrapped);
  c->stats.wraps += (uint64_t)wrapped;
  k->left--;
  c->stats.units++;
  c->stats.bytes += n;
  if (!k->left && k->di + 1 < k->nd) {  /* the next descriptor of the chain */
    const dl_sysdma_desc *d = &k->desc[++k->di];
    k->cur = d->address;
    k->left = d->count;
    k->after -= d->count;
    c->stats.descriptors++;
  }
}

/* One bus cycle of channel `data`. */
static void cycle(void *arg, uint64_t data) {
  dl_sysdma *c = arg;
  uint32_t ch = (uint32_t)data;
  channel *k = &c->ch[ch];
  k->pending = 0;
  if (!may_run(c, k)) return;
  if (!k->started) dl_trace_emit(c->m, DL_TR_DMA_START, c->id, k->cur, (uint64_t)k->left * k->base.unit);
  k->started = 1;
  move_unit(c, ch);
  if (!k->left) terminal_count(c, ch);
  kick(c, ch);
}

/* Arms the channel's next bus cycle if it may run and none is pending. */
static void kick(dl_sysdma *c, uint32_t ch) {
  channel *k = &c->ch[ch];
  if (k->pending || !may_run(c, k)) return;
  uint64_t cost = k->cycle_ns * (k->base.mode == DL_SYSDMA_SINGLE ? 2 : 1);
  if (!dl_clock_after(dl_machine_clock(c->m), cost, cycle, c, ch, &k->event)) k->pending = 1;
}
