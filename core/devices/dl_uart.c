/*
** dl_uart.c: the UART model. The TX shifter and the RX wire are one clock
** event each at a time; the FIFOs are fixed rings made with the device, so
** moving a byte allocates nothing (the sent-data log and the bytes still to
** arrive grow amortised).
*/
#include "devices/dl_uart.h"

#include <stdlib.h>
#include <string.h>

#include "base/dl_status.h"
#include "base/dl_vec.h"
#include "machine/dl_machine.h"

typedef struct ring { uint8_t *b; uint32_t head, n, cap; } ring;

struct dl_uart {
  dl_machine *m;
  dl_devmodel *dm;
  dl_uart_config cfg;
  ring tx, rx;
  uint32_t status, control;
  int line;                     /* the interrupt level driven */
  uint64_t ctrl_id;             /* the controller connected (object id), 0: none */
  uint32_t tx_line, rx_line;
  dl_sysdma_port tx_port, rx_port;
  int shifting, arriving;       /* a clock event is pending */
  uint64_t shift_event, arrive_event;
  uint8_t *in;                  /* bytes still to arrive on the wire */
  size_t in_head, in_n, in_cap;
  uint8_t *wire;                /* bytes sent */
  size_t wire_n, wire_cap;
  uint64_t last_sent_at;
  dl_uart_stats stats;
};

static const dl_devmodel_ops uart_ops;

static int ring_push(ring *r, uint8_t v) {
  if (r->n == r->cap) return 1;
  r->b[(r->head + r->n++) % r->cap] = v;
  return 0;
}
static int ring_pop(ring *r, uint8_t *v) {
  if (!r->n) return 1;
  *v = r->b[r->head];
  r->head = (r->head + 1) % r->cap;
  r->n--;
  return 0;
}

static dl_clock *clock_of(dl_uart *u) { return dl_machine_clock(u->m); }

/* The controller connected, if it still exists. */
static dl_sysdma *controller(dl_uart *u) {
  dl_object *o = u->ctrl_id ? dl_machine_find(u->m, u->ctrl_id) : NULL;
  return o && o->type == &dl_sysdma_type ? (dl_sysdma *)o : NULL;
}

/* Room the TX FIFO needs before it asks for more: one unit of the widest
** controller (4 bytes), so a 16- or 32-bit channel never overfills it. */
static uint32_t tx_trigger(const dl_uart *u) { return u->tx.cap < 4 ? u->tx.cap : 4; }

/* Drives DREQ on both lines and the interrupt line from the state. */
static void update(dl_uart *u) {
  dl_sysdma *c = controller(u);
  if (c && u->tx_line != DL_UART_NO_LINE)
    dl_sysdma_request(c, u->tx_line, (u->control & DL_UART_TX_DMA) && u->tx.cap - u->tx.n >= tx_trigger(u));
  if (c && u->rx_line != DL_UART_NO_LINE)
    dl_sysdma_request(c, u->rx_line, (u->control & DL_UART_RX_DMA) && u->rx.n > 0);
  int level = ((u->control & DL_UART_IRQ_TC) && (u->status & (DL_UART_TX_TC | DL_UART_RX_TC))) ||
              ((u->control & DL_UART_IRQ_RX) && u->rx.n > 0);
  if (level != u->line) {
    u->line = level;
    dl_devmodel_set_interrupt(u->dm, level);
  }
}

uint64_t dl_uart_char_ns(const dl_uart *u) {
  return (UINT64_C(10) * 1000000000 + u->cfg.baud - 1) / u->cfg.baud;
}

static void start_shift(dl_uart *u);

/* The shifter finished a character: it is on the wire. */
static void shifted(void *arg, uint64_t byte) {
  dl_uart *u = arg;
  u->shifting = 0;
  if (u->wire_n < u->cfg.wire_max && !dl_vec_reserve(u->wire, u->wire_cap, u->wire_n + 1))
    u->wire[u->wire_n++] = (uint8_t)byte;
  u->stats.sent++;
  u->last_sent_at = dl_clock_now(clock_of(u));
  start_shift(u);
  update(u);
}

/* Loads the shifter from the TX FIFO if it is idle. */
static void start_shift(dl_uart *u) {
  uint8_t v;
  if (u->shifting || ring_pop(&u->tx, &v)) return;
  if (!dl_clock_after(clock_of(u), dl_uart_char_ns(u), shifted, u, v, &u->shift_event)) u->shifting = 1;
}

static void start_arrive(dl_uart *u);

/* A character finished arriving: into the RX FIFO, or lost (overrun). */
static void arrived(void *arg, uint64_t byte) {
  dl_uart *u = arg;
  u->arriving = 0;
  if (ring_push(&u->rx, (uint8_t)byte)) {
    u->status |= DL_UART_RX_OVERRUN;
    u->stats.rx_overruns++;
  } else {
    u->stats.received++;
  }
  start_arrive(u);
  update(u);
}

static void start_arrive(dl_uart *u) {
  if (u->arriving || u->in_head == u->in_n) return;
  uint8_t v = u->in[u->in_head++];
  if (u->in_head == u->in_n) u->in_head = u->in_n = 0;
  if (!dl_clock_after(clock_of(u), dl_uart_char_ns(u), arrived, u, v, &u->arrive_event)) u->arriving = 1;
}

/* ---- the controller's side -------------------------------------------------- */

static int dma_put(void *ctx, const uint8_t *src, uint32_t n) {
  dl_uart *u = ctx;
  int lost = 0;
  for (uint32_t i = 0; i < n; i++) lost |= ring_push(&u->tx, src[i]);
  if (lost) u->stats.tx_dropped++;
  else u->stats.dma_put += n;
  start_shift(u);
  update(u);
  return lost;
}

static int dma_get(void *ctx, uint8_t *dst, uint32_t n) {
  dl_uart *u = ctx;
  int none = 0;
  for (uint32_t i = 0; i < n; i++) none |= ring_pop(&u->rx, &dst[i]);
  if (!none) u->stats.dma_get += n;
  update(u);
  return none;
}

static void tx_tc(void *ctx, uint32_t ch) {
  (void)ch;
  dl_uart *u = ctx;
  u->status |= DL_UART_TX_TC;
  u->stats.terminal_counts++;
  update(u);
}

/* The RX port's context is the UART too; its TC sets RX_TC. */
static void rx_tc(void *ctx, uint32_t ch) {
  (void)ch;
  dl_uart *u = ctx;
  u->status |= DL_UART_RX_TC;
  u->stats.terminal_counts++;
  update(u);
}

/* ---- registers -------------------------------------------------------------- */

static uint32_t status_now(const dl_uart *u) {
  uint32_t s = u->status & (DL_UART_RX_OVERRUN | DL_UART_TX_TC | DL_UART_RX_TC);
  if (!u->tx.n && !u->shifting) s |= DL_UART_TX_EMPTY;
  if (u->tx.n == u->tx.cap) s |= DL_UART_TX_FULL;
  if (u->rx.n) s |= DL_UART_RX_READY;
  return s;
}

static uint64_t uart_read(void *ctx, dl_space space, unsigned index, uint64_t off, uint32_t size) {
  (void)space;  /* one BAR: its registers */
  (void)index;
  (void)size;
  dl_uart *u = ctx;
  uint8_t v = 0;
  switch (off) {
    case DL_UART_DATA:
      if (ring_pop(&u->rx, &v)) return 0;
      update(u);
      return v;
    case DL_UART_STATUS: return status_now(u);
    case DL_UART_CONTROL: return u->control;
    case DL_UART_BAUD: return u->cfg.baud;
    case DL_UART_TX_LEVEL: return u->tx.n;
    case DL_UART_RX_LEVEL: return u->rx.n;
    default: return 0;
  }
}

static void uart_write(void *ctx, dl_space space, unsigned index, uint64_t off, uint32_t size,
                       uint64_t value) {
  (void)space;
  (void)index;
  (void)size;
  dl_uart *u = ctx;
  if (off == DL_UART_DATA) {
    if (ring_push(&u->tx, (uint8_t)value)) u->stats.tx_dropped++;
    start_shift(u);
  } else if (off == DL_UART_STATUS) {
    u->status &= ~((uint32_t)value & (DL_UART_RX_OVERRUN | DL_UART_TX_TC | DL_UART_RX_TC));
  } else if (off == DL_UART_CONTROL) {
    u->control = (uint32_t)value & 0x0F;
  }
  update(u);
}

static void uart_destroy(void *ctx) {
  dl_uart *u = ctx;
  dl_uart_connect(u, NULL, DL_UART_NO_LINE, DL_UART_NO_LINE);
  if (u->shifting) dl_clock_cancel(clock_of(u), u->shift_event);
  if (u->arriving) dl_clock_cancel(clock_of(u), u->arrive_event);
  free(u->tx.b);
  free(u->rx.b);
  free(u->in);
  free(u->wire);
  free(u);
}

static const dl_devmodel_ops uart_ops = {uart_read, uart_write, uart_destroy};

/* ---- the public API ------------------------------------------------------------ */

void dl_uart_config_init(dl_uart_config *cfg) {
  cfg->baud = 115200;
  cfg->fifo = 16;
  cfg->wire_max = 1u << 20;
}

int dl_uart_new(dl_machine *m, const char *name, uint32_t vector, uint8_t irql,
                const dl_uart_config *cfg, dl_uart **out) {
  if (!cfg->baud || cfg->baud > 100000000 || !cfg->fifo || cfg->fifo > 4096) return DL_EINVAL;
  dl_uart *u = calloc(1, sizeof *u);
  if (!u) return DL_ENOMEM;
  u->m = m;
  u->cfg = *cfg;
  u->tx.cap = u->rx.cap = cfg->fifo;
  u->tx.b = malloc(cfg->fifo);
  u->rx.b = malloc(cfg->fifo);
  u->tx_line = u->rx_line = DL_UART_NO_LINE;
  u->tx_port = (dl_sysdma_port){dma_put, dma_get, tx_tc, u, 0};
  u->rx_port = (dl_sysdma_port){dma_put, dma_get, rx_tc, u, 0};
  int rc = !u->tx.b || !u->rx.b ? DL_ENOMEM
                                : dl_devmodel_new(m, name, DL_UART_REGISTERS, vector, irql, &uart_ops, u, &u->dm);
  if (rc) {
    free(u->tx.b);
    free(u->rx.b);
    free(u);
    return rc;
  }
  u->tx_port.fifo = u->rx_port.fifo = dl_devmodel_bar(u->dm) + DL_UART_DATA;
  *out = u;
  return DL_OK;
}

void dl_uart_free(dl_uart *u) {
  if (u) dl_devmodel_free(u->dm);
}

dl_devmodel *dl_uart_model(dl_uart *u) { return u->dm; }
dl_uart *dl_uart_of(const dl_devmodel *dm) { return dm && dm->ops == &uart_ops ? dm->ctx : NULL; }
const dl_uart_config *dl_uart_config_of(const dl_uart *u) { return &u->cfg; }

/* Takes the UART's lines off its controller (if it still exists). */
static void disconnect(dl_uart *u) {
  dl_sysdma *c = controller(u);
  if (c && u->tx_line != DL_UART_NO_LINE) dl_sysdma_attach(c, u->tx_line, NULL);
  if (c && u->rx_line != DL_UART_NO_LINE) dl_sysdma_attach(c, u->rx_line, NULL);
  u->ctrl_id = 0;
  u->tx_line = u->rx_line = DL_UART_NO_LINE;
}

int dl_uart_connect(dl_uart *u, dl_sysdma *c, uint32_t tx_line, uint32_t rx_line) {
  uint32_t n = c ? dl_sysdma_lines(c) : 0;
  if (c && ((tx_line == rx_line && tx_line != DL_UART_NO_LINE) ||
            (tx_line != DL_UART_NO_LINE && tx_line >= n) || (rx_line != DL_UART_NO_LINE && rx_line >= n)))
    return DL_EINVAL;  /* checked first: a bad call leaves the connection as it was */
  disconnect(u);
  if (!c) return DL_OK;
  int rc = tx_line == DL_UART_NO_LINE ? DL_OK : dl_sysdma_attach(c, tx_line, &u->tx_port);
  if (!rc && rx_line != DL_UART_NO_LINE && (rc = dl_sysdma_attach(c, rx_line, &u->rx_port)) &&
      tx_line != DL_UART_NO_LINE)
    dl_sysdma_attach(c, tx_line, NULL);
  if (rc) return rc;
  u->ctrl_id = DL_OBJECT(c)->id;
  u->tx_line = tx_line;
  u->rx_line = rx_line;
  update(u);
  return DL_OK;
}

dl_sysdma *dl_uart_controller(dl_uart *u, uint32_t *tx_line, uint32_t *rx_line) {
  *tx_line = u->tx_line;
  *rx_line = u->rx_line;
  return controller(u);
}

int dl_uart_receive(dl_uart *u, const uint8_t *bytes, size_t n) {
  if (!n) return DL_OK;
  if (dl_vec_reserve(u->in, u->in_cap, u->in_n + n)) return DL_ENOMEM;
  memcpy(u->in + u->in_n, bytes, n);
  u->in_n += n;
  start_arrive(u);
  return DL_OK;
}

const uint8_t *dl_uart_sent(const dl_uart *u, size_t *n) {
  *n = u->wire_n;
  return u->wire;
}

uint64_t dl_uart_last_sent_at(const dl_uart *u) { return u->last_sent_at; }
void dl_uart_stats_get(const dl_uart *u, dl_uart_stats *out) { *out = u->stats; }
