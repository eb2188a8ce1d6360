/*
** dl_dmac8237.c: the two 8237A controllers' I/O ports over the engine
** (dl_sysdma.c). The front keeps the registers the engine does not need:
** base registers, page, mode, the flip-flop, and turns a programmed channel
** into an engine transfer whenever one of them is written.
*/
#include "hal/dl_dmac8237.h"

#include <stdlib.h>

#include "base/dl_status.h"

#define NAME "isa"
#define CHANNELS 8u

typedef struct regs {
  uint16_t address, count;     /* base registers as written */
  uint8_t page, mode;
} regs;

typedef struct front {
  regs r[CHANNELS];
  int flip[2];                 /* byte-pointer flip-flop of each chip */
  uint8_t command[2];
} front;

/* Page register port of each channel (0: none, channel 4 is the cascade). */
static const uint16_t page_port[CHANNELS] = { 0x87, 0x83, 0x81, 0x82, 0, 0x8B, 0x89, 0x8A };

/* ns a bus cycle at each DMA_SPEED (8, 6, 4, 1, 1 BCLKs of 120 ns). */
uint64_t dl_dmac8237_cycle_ns(uint32_t speed) {
  static const uint64_t ns[] = { 960, 720, 480, 120, 120 };
  return speed < sizeof ns / sizeof ns[0] ? ns[speed] : ns[0];
}

static void free_front(void *f) { free(f); }

/* The machine's ISA controller. */
dl_sysdma *dl_dmac8237_of(dl_machine *m) {
  dl_sysdma *c = dl_sysdma_find(m, NAME);
  if (c) return c;
  front *f = calloc(1, sizeof *f);
  if (!f) return NULL;
  if (dl_sysdma_new(m, NAME, CHANNELS, CHANNELS, dl_dmac8237_cycle_ns(0), &c)) {
    free(f);
    return NULL;
  }
  dl_sysdma_set_front(c, f, NULL, free_front);
  return c;
}

int dl_dmac8237_is(const dl_sysdma *c) {
  return c && dl_sysdma_channels(c) == CHANNELS && dl_sysdma_front(c) &&
         c == dl_sysdma_find(DL_OBJECT(c)->m, NAME);
}

static int wide(uint32_t ch) { return ch >= 4; }

/* Hands the engine the transfer the registers describe (unmasked channels
** start moving; the mask stays as it is). */
static void sync(dl_sysdma *c, uint32_t ch) {
  const regs *r = &((front *)dl_sysdma_front(c))->r[ch];
  uint8_t type = r->mode & 0x0C, mode = r->mode >> 6;
  if (ch == 4 || mode == 3 || type == 0x0C) return;  /* cascade or illegal */
  dl_sysdma_xfer x = {
    .count = (uint32_t)r->count + 1, .unit = wide(ch) ? 2 : 1, .line = ch,
    .to_device = type == DL_8237_READ, .mode = mode, .auto_init = (r->mode & DL_8237_AUTO_INIT) != 0,
    .decrement = (r->mode & DL_8237_DECREMENT) != 0,
    .boundary = wide(ch) ? 0x20000 : 0x10000,
  };
  x.address = wide(ch) ? ((uint64_t)(r->page & 0xFE) << 16) | ((uint64_t)r->address << 1)
                       : ((uint64_t)r->page << 16) | r->address;
  dl_sysdma_program(c, ch, &x);
}

/* Writes the low or high byte of a 16-bit register, as the flip-flop says. */
static void write_half(front *f, int chip, uint16_t *reg, uint8_t v) {
  if (f->flip[chip]) *reg = (uint16_t)((*reg & 0x00FF) | v << 8);
  else *reg = (uint16_t)((*reg & 0xFF00) | v);
  f->flip[chip] ^= 1;
}

static uint8_t read_half(front *f, int chip, uint16_t v) {
  uint8_t b = f->flip[chip] ? (uint8_t)(v >> 8) : (uint8_t)v;
  f->flip[chip] ^= 1;
  return b;
}

/* Decodes a port: chip 0 (0x00-0x0F) or 1 (0xC0-0xDE, even); reg 0-15. */
static int decode(uint16_t port, int *chip, int *reg) {
  if (port <= 0x0F) {
    *chip = 0;
    *reg = port;
    return 1;
  }
  if (port >= 0xC0 && port <= 0xDE && !(port & 1)) {
    *chip = 1;
    *reg = (port - 0xC0) / 2;
    return 1;
  }
  return 0;
}

static int page_channel(uint16_t port) {
  for (uint32_t i = 0; i < CHANNELS; i++)
    if (page_port[i] && page_port[i] == port) return (int)i;
  return -1;
}

/* A control register write (reg 8-15). */
static void control_write(dl_sysdma *c, front *f, int chip, int reg, uint8_t v) {
  uint32_t first = (uint32_t)chip * 4, ch = first + (v & 3);
  switch (reg) {
    case 8: f->command[chip] = v; break;
    case 10: dl_sysdma_mask(c, ch, (v & 4) != 0); break;
    case 11: f->r[ch].mode = v; sync(c, ch); break;
    case 12: f->flip[chip] = 0; break;
    case 13:  /* master clear: all masked, flip-flop cleared */
      f->flip[chip] = 0;
      for (uint32_t i = 0; i < 4; i++) dl_sysdma_mask(c, first + i, 1);
      break;
    case 14: for (uint32_t i = 0; i < 4; i++) dl_sysdma_mask(c, first + i, 0); break;
    case 15: for (uint32_t i = 0; i < 4; i++) dl_sysdma_mask(c, first + i, (v >> i) & 1); break;
    default: break;  /* 9: software DREQ is not modelled */
  }
}

/* OUT. */
int dl_dmac8237_port_write(dl_sysdma *c, uint16_t port, uint8_t v) {
  front *f = dl_sysdma_front(c);
  int chip, reg, pc = page_channel(port);
  if (pc >= 0) {
    f->r[pc].page = v;
    sync(c, (uint32_t)pc);
    return DL_OK;
  }
  if (!decode(port, &chip, &reg)) return DL_EINVAL;
  if (reg >= 8) {
    control_write(c, f, chip, reg, v);
    return DL_OK;
  }
  uint32_t ch = (uint32_t)chip * 4 + (uint32_t)reg / 2;
  write_half(f, chip, reg & 1 ? &f->r[ch].count : &f->r[ch].address, v);
  sync(c, ch);
  return DL_OK;
}

/* The current address and count registers as the CPU reads them. */
static uint16_t current_address(dl_sysdma *c, uint32_t ch) {
  uint64_t a = dl_sysdma_current(c, ch);
  return (uint16_t)(wide(ch) ? a >> 1 : a);
}
static uint16_t current_count(dl_sysdma *c, uint32_t ch) {
  return (uint16_t)(dl_sysdma_remaining(c, ch) - 1);  /* 0xFFFF after terminal count */
}

/* IN. */
int dl_dmac8237_port_read(dl_sysdma *c, uint16_t port, uint8_t *v) {
  front *f = dl_sysdma_front(c);
  int chip, reg, pc = page_channel(port);
  if (pc >= 0) {
    *v = f->r[pc].page;
    return DL_OK;
  }
  if (!decode(port, &chip, &reg)) return DL_EINVAL;
  uint32_t ch = (uint32_t)chip * 4 + (uint32_t)reg / 2;
  if (reg < 8) {
    *v = read_half(f, chip, reg & 1 ? current_count(c, ch) : current_address(c, ch));
    return DL_OK;
  }
  *v = 0;
  if (reg == 8)  /* status: terminal counts (cleared by the read) */
    for (uint32_t i = 0; i < 4; i++) *v |= (uint8_t)(dl_sysdma_take_terminal(c, (uint32_t)chip * 4 + i) << i);
  return DL_OK;
}

/* Port numbers of a channel's registers. */
static uint16_t reg_port(uint32_t ch, int reg) {
  return ch < 4 ? (uint16_t)reg : (uint16_t)(0xC0 + 2 * reg);
}

/* Programs a channel through its ports, as IoMapTransfer does. */
int dl_dmac8237_setup(dl_sysdma *c, uint32_t ch, uint64_t pa, uint32_t bytes, uint8_t mode) {
  if (ch == 4 || ch >= CHANNELS) return DL_EINVAL;
  uint64_t block = wide(ch) ? 0x20000 : 0x10000;
  if (!bytes || pa + bytes - 1 > 0xFFFFFF || pa / block != (pa + bytes - 1) / block ||
      (wide(ch) && ((pa | bytes) & 1)))
    return DL_ERANGE;
  uint32_t sub = ch & 3, units = wide(ch) ? bytes / 2 : bytes;
  uint16_t addr = (uint16_t)(wide(ch) ? pa >> 1 : pa), count = (uint16_t)(units - 1);
  dl_dmac8237_mask(c, ch, 1);
  dl_dmac8237_port_write(c, reg_port(ch, 11), (uint8_t)((mode & 0xFC) | sub));
  dl_dmac8237_port_write(c, reg_port(ch, 12), 0);
  dl_dmac8237_port_write(c, reg_port(ch, (int)sub * 2), (uint8_t)addr);
  dl_dmac8237_port_write(c, reg_port(ch, (int)sub * 2), (uint8_t)(addr >> 8));
  dl_dmac8237_port_write(c, page_port[ch], (uint8_t)(pa >> 16));
  dl_dmac8237_port_write(c, reg_port(ch, (int)sub * 2 + 1), (uint8_t)count);
  dl_dmac8237_port_write(c, reg_port(ch, (int)sub * 2 + 1), (uint8_t)(count >> 8));
  return DL_OK;
}

/* The single mask register. */
void dl_dmac8237_mask(dl_sysdma *c, uint32_t ch, int masked) {
  if (ch == 4 || ch >= CHANNELS) return;
  dl_dmac8237_port_write(c, reg_port(ch, 10), (uint8_t)((ch & 3) | (masked ? 4 : 0)));
}

/* HalReadDmaCounter. */
uint32_t dl_dmac8237_read_counter(dl_sysdma *c, uint32_t ch) {
  if (ch == 4 || ch >= CHANNELS) return 0;
  uint16_t port = reg_port(ch, (int)(ch & 3) * 2 + 1);
  uint32_t count = 0, old;
  do {  /* the counter may move between the two byte reads */
    old = count;
    uint8_t lo, hi;
    dl_dmac8237_port_write(c, reg_port(ch, 12), 0);
    dl_dmac8237_port_read(c, port, &lo);
    dl_dmac8237_port_read(c, port, &hi);
    count = (uint32_t)lo | (uint32_t)hi << 8;
  } while (((old - count) & 0xFFFF) > 0x10);
  count = (count + 1) & 0xFFFF;
  return wide(ch) ? count << 1 : count;
}
