/*
** dl_uart.h: a UART with transmit and receive FIFOs at a baud rate, as the
** peripheral of a system DMA controller (dl_sysdma.h). It raises DREQ on
** its transmit line while its TX FIFO has room (and TX DMA is enabled) and
** on its receive line while its RX FIFO holds data (RX DMA enabled); the
** shifter sends one byte every character time (start + 8 data + stop bits:
** 10 bits at the baud rate) and bytes arrive on the wire at the same pace.
** What went out on the wire is kept, so a script can check every byte.
**
** Register map (offsets in the BAR, 32-bit):
**   0x00 DATA     W: push TX FIFO   R: pop RX FIFO   (the DMA FIFO address)
**   0x04 STATUS   R/W1C  TX_EMPTY, TX_FULL, RX_READY, RX_OVERRUN, TX_TC, RX_TC
**   0x08 CONTROL  RW  TX_DMA, RX_DMA, IRQ_TC, IRQ_RX
**   0x0C BAUD     R   0x10 TX_LEVEL R   0x14 RX_LEVEL R
*/
#ifndef DL_UART_H
#define DL_UART_H

#include <stddef.h>
#include <stdint.h>

#include "devices/dl_devmodel.h"
#include "hal/dl_sysdma.h"

typedef struct dl_uart dl_uart;

enum {
  DL_UART_DATA = 0x00, DL_UART_STATUS = 0x04, DL_UART_CONTROL = 0x08, DL_UART_BAUD = 0x0C,
  DL_UART_TX_LEVEL = 0x10, DL_UART_RX_LEVEL = 0x14, DL_UART_REGISTERS = 0x18
};
enum {
  DL_UART_TX_EMPTY = 0x01, DL_UART_TX_FULL = 0x02, DL_UART_RX_READY = 0x04,
  DL_UART_RX_OVERRUN = 0x08, DL_UART_TX_TC = 0x10, DL_UART_RX_TC = 0x20,
  DL_UART_TX_DMA = 0x01, DL_UART_RX_DMA = 0x02, DL_UART_IRQ_TC = 0x04, DL_UART_IRQ_RX = 0x08
};

/* No request line. */
#define DL_UART_NO_LINE UINT32_MAX

typedef struct dl_uart_config {
  uint32_t baud;          /* bits per second (115200) */
  uint32_t fifo;          /* bytes in each FIFO, 1..4096 (16, as a 16550A) */
  uint32_t wire_max;      /* bytes of sent data kept for checking (1 MiB) */
} dl_uart_config;

typedef struct dl_uart_stats {
  uint64_t sent, received, rx_overruns, tx_dropped, dma_put, dma_get, terminal_counts;
} dl_uart_stats;

void dl_uart_config_init(dl_uart_config *cfg);

/* Creates the UART and its model; DL_EINVAL for a configuration out of range. */
int dl_uart_new(dl_machine *m, const char *name, uint32_t vector, uint8_t irql,
                const dl_uart_config *cfg, dl_uart **out);

/* Frees the UART and its model; NULL is harmless. */
void dl_uart_free(dl_uart *u);

dl_devmodel *dl_uart_model(dl_uart *u);
dl_uart *dl_uart_of(const dl_devmodel *dm);
const dl_uart_config *dl_uart_config_of(const dl_uart *u);

/* Nanoseconds one character takes on the wire (10 bits). */
uint64_t dl_uart_char_ns(const dl_uart *u);

/* Puts the UART's transmit and receive DMA requests on lines of controller
** c (DL_UART_NO_LINE: none); c NULL disconnects. DL_EBUSY if a line is
** taken, DL_EINVAL for a line the controller lacks. */
int dl_uart_connect(dl_uart *u, dl_sysdma *c, uint32_t tx_line, uint32_t rx_line);

/* The controller the UART is connected to (NULL: none) and its lines. */
dl_sysdma *dl_uart_controller(dl_uart *u, uint32_t *tx_line, uint32_t *rx_line);

/* Bytes arrive on the wire, one per character time from now (after any
** still arriving). DL_ENOMEM if out of memory. */
int dl_uart_receive(dl_uart *u, const uint8_t *bytes, size_t n);

/* What went out on the wire so far (up to wire_max bytes), and its length. */
const uint8_t *dl_uart_sent(const dl_uart *u, size_t *n);

/* Simulated time the last byte finished leaving the wire (0: none yet). */
uint64_t dl_uart_last_sent_at(const dl_uart *u);

void dl_uart_stats_get(const dl_uart *u, dl_uart_stats *out);

#endif
