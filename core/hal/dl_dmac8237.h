/*
** dl_dmac8237.h: the PC's ISA DMA controllers, two cascaded Intel 8237A
** (channels 0-3 move bytes, 5-7 move 16-bit words, 4 is the cascade), seen
** through their I/O ports as the HAL programs them: per channel a 16-bit
** address and count register (reached low byte then high through the
** byte-pointer flip-flop) and a page register holding A16-A23 (A17-A23 for
** 16-bit channels), so addresses are 24 bits (16 MiB) and a transfer wraps
** inside its 64 KiB (128 KiB) block instead of crossing it. The count
** register holds units - 1; it reads 0xFFFF after terminal count. The
** engine underneath is dl_sysdma.h; DREQ n is channel n's request line.
*/
#ifndef DL_DMAC8237_H
#define DL_DMAC8237_H

#include <stdint.h>

#include "hal/dl_sysdma.h"

/* Mode register bits. */
enum {
  DL_8237_VERIFY = 0x00, DL_8237_WRITE = 0x04,  /* write: device -> memory */
  DL_8237_READ = 0x08,                          /* read: memory -> device */
  DL_8237_AUTO_INIT = 0x10, DL_8237_DECREMENT = 0x20,
  DL_8237_DEMAND = 0x00, DL_8237_SINGLE = 0x40, DL_8237_BLOCK = 0x80, DL_8237_CASCADE = 0xC0
};

/* Bus cycle of the ISA DMA speeds (DMA_SPEED: Compatible, TypeA, TypeB,
** TypeC, TypeF) in ns: 8, 6, 4, 1 and 1 EISA BCLKs of 120 ns. */
uint64_t dl_dmac8237_cycle_ns(uint32_t dma_speed);

/* The machine's ISA DMA controller ("isa"), made on first use; NULL if out
** of memory. */
dl_sysdma *dl_dmac8237_of(dl_machine *m);

/* 1 if c is the ISA controller (an 8237 face). */
int dl_dmac8237_is(const dl_sysdma *c);

/* OUT to an I/O port of the controllers or page registers; DL_EINVAL for a
** port they do not decode. */
int dl_dmac8237_port_write(dl_sysdma *c, uint16_t port, uint8_t value);

/* IN from a port; DL_EINVAL for a port they do not decode. Reading the
** status register clears its terminal-count bits. */
int dl_dmac8237_port_read(dl_sysdma *c, uint16_t port, uint8_t *value);

/* Programs channel ch as the HAL's IoMapTransfer does, through the ports:
** mask, mode, clear flip-flop, address, page, count (units - 1); the
** channel stays masked. `mode` is DL_8237_* (the channel bits are added).
** DL_EINVAL for channel 4 or above 7, DL_ERANGE if [pa, pa+bytes) is above
** 16 MiB, crosses its 64 KiB (128 KiB) block or is not whole words. */
int dl_dmac8237_setup(dl_sysdma *c, uint32_t ch, uint64_t pa, uint32_t bytes, uint8_t mode);

/* Unmasks or masks channel ch through the single mask register. */
void dl_dmac8237_mask(dl_sysdma *c, uint32_t ch, int masked);

/* HalReadDmaCounter: reads the count register through the ports until two
** reads agree, and returns the bytes still to move ((count + 1) & 0xFFFF,
** doubled on 16-bit channels). */
uint32_t dl_dmac8237_read_counter(dl_sysdma *c, uint32_t ch);

#endif
