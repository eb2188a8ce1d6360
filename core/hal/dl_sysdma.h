/*
** dl_sysdma.h: a system (slave) DMA controller: the engine an ISA 8237
** (dl_dmac8237.h) and an SoC system DMA controller (dl_socdma.h) share.
** The controller owns the channels; peripherals sit on request lines and
** raise DREQ when their FIFO has room (toward the device) or data (from
** it). A channel that is unmasked, has units left and sees its line
** asserted moves one unit per bus cycle, in clock events, between physical
** memory and the peripheral's FIFO: the device sets the pace. When its count
** runs out the channel reaches terminal count: it reloads its base address
** and count (auto-initialize) or masks itself, and the peripheral and the
** controller's front are told.
**
** Modes (8237A): demand moves units while DREQ stays asserted; single
** gives the bus back after each unit (one more cycle a unit); block runs to
** terminal count once started, whatever DREQ says (a device whose FIFO is
** full then loses the unit: an overrun counted by the controller).
**
** Scatter/gather (dl_sysdma_set_max_elements): a channel may be programmed
** with a chain of descriptors (address, count), as the linked-list items of
** an SoC controller: it moves each element's units in turn, at the same
** pace, loading the next descriptor with the last unit of the one before
** (no extra bus cycle), and reaches terminal count only at the end of the
** last; its counter is the units left over the whole chain, and
** auto-initialize reloads the first descriptor.
*/
#ifndef DL_SYSDMA_H
#define DL_SYSDMA_H

#include <stdint.h>

#include "machine/dl_object.h"

typedef struct dl_sysdma dl_sysdma;

/* Transfer modes (the 8237A mode register's bits 6-7). */
enum { DL_SYSDMA_DEMAND = 0, DL_SYSDMA_SINGLE = 1, DL_SYSDMA_BLOCK = 2 };

/* What a peripheral on a request line does when the controller serves it. */
typedef struct dl_sysdma_port {
  /* toward the device: takes n bytes into its FIFO; nonzero if it had no room */
  int (*put)(void *ctx, const uint8_t *src, uint32_t n);
  /* from the device: gives n bytes from its FIFO; nonzero if it had none */
  int (*get)(void *ctx, uint8_t *dst, uint32_t n);
  /* the channel serving this line reached terminal count (may be NULL) */
  void (*terminal_count)(void *ctx, uint32_t channel);
  void *ctx;
  uint64_t fifo;        /* the FIFO's physical (register) address, 0: none */
} dl_sysdma_port;

/* One channel's transfer, as programmed. */
typedef struct dl_sysdma_xfer {
  uint64_t address;     /* physical address of the first unit */
  uint32_t count;       /* units (1..) */
  uint32_t unit;        /* bytes a unit: 1, 2 or 4 */
  uint32_t line;        /* the request line it serves */
  int to_device;        /* memory -> device (an 8237 "read transfer") */
  int mode;             /* DL_SYSDMA_DEMAND, _SINGLE, _BLOCK */
  int auto_init;        /* reload base address and count at terminal count */
  int decrement;        /* addresses go down */
  uint64_t boundary;    /* the address wraps inside aligned blocks of this
                           many bytes (8237: 64 KiB, 128 KiB); 0: never */
} dl_sysdma_xfer;

/* One element of a scatter/gather chain. */
typedef struct dl_sysdma_desc {
  uint64_t address;     /* physical address of its first unit */
  uint32_t count;       /* units (1..) */
} dl_sysdma_desc;

/* Most elements a chain may have (dl_sysdma_set_max_elements). */
#define DL_SYSDMA_MAX_ELEMENTS 1024u

/* What the controller did (descriptors: chain elements loaded after the first). */
typedef struct dl_sysdma_stats {
  uint64_t units, bytes, terminal_counts, overruns, wraps, descriptors;
} dl_sysdma_stats;

/* Told when a channel reaches terminal count (the front's interrupt). */
typedef void (*dl_sysdma_tc_fn)(void *front, uint32_t channel);

/* The controller type (a machine object, torn down with the machine). */
extern const dl_object_type dl_sysdma_type;

/* Creates a controller with `channels` channels and `lines` request lines,
** moving a unit every cycle_ns; DL_EINVAL for counts of 0 or above 64. */
int dl_sysdma_new(dl_machine *m, const char *name, uint32_t channels, uint32_t lines,
                  uint64_t cycle_ns, dl_sysdma **out);

/* Frees the controller (pending cycles cancelled); NULL is harmless. */
void dl_sysdma_free(dl_sysdma *c);

/* The first controller with this name on the machine, or NULL. */
dl_sysdma *dl_sysdma_find(dl_machine *m, const char *name);

/* Sets the front (an 8237 or SoC face) and its terminal-count hook; the
** front is freed with front_free when the controller goes. */
void dl_sysdma_set_front(dl_sysdma *c, void *front, dl_sysdma_tc_fn tc, void (*front_free)(void *));
void *dl_sysdma_front(const dl_sysdma *c);

const char *dl_sysdma_name(const dl_sysdma *c);
uint32_t dl_sysdma_channels(const dl_sysdma *c);
uint32_t dl_sysdma_lines(const dl_sysdma *c);

/* Sets the bus cycle of one channel (ns a unit; the DmaSpeed of ISA). */
void dl_sysdma_set_cycle(dl_sysdma *c, uint32_t ch, uint64_t cycle_ns);

/* Programs a channel's base and current address and count; the channel
** stays masked as it was. DL_EINVAL for a bad channel, unit, line or count. */
int dl_sysdma_program(dl_sysdma *c, uint32_t ch, const dl_sysdma_xfer *x);

/* Makes the controller scatter/gather capable: each channel takes chains of
** up to n elements (1: none, the default). DL_EINVAL for n of 0 or above
** DL_SYSDMA_MAX_ELEMENTS, DL_EBUSY once a channel was programmed,
** DL_ENOMEM. */
int dl_sysdma_set_max_elements(dl_sysdma *c, uint32_t n);

/* Elements a chain may have: 1 without scatter/gather. */
uint32_t dl_sysdma_max_elements(const dl_sysdma *c);

/* Programs a channel with a chain of n descriptors (x's address and count
** are ignored; its other fields apply to every element); the channel stays
** masked as it was. DL_EINVAL as dl_sysdma_program, or for n of 0, more
** elements than the controller takes, an element of 0 units or a chain of
** more than UINT32_MAX units. */
int dl_sysdma_program_chain(dl_sysdma *c, uint32_t ch, const dl_sysdma_xfer *x,
                            const dl_sysdma_desc *d, uint32_t n);

/* The element channel ch is on (0-based) and the chain's length. */
uint32_t dl_sysdma_element(const dl_sysdma *c, uint32_t ch, uint32_t *n);

/* The transfer last programmed into ch (NULL for a bad channel); for a
** chain, address is its first element's and count the units of all. */
const dl_sysdma_xfer *dl_sysdma_programmed(const dl_sysdma *c, uint32_t ch);

/* Masks (stops) or unmasks (enables) a channel; an unmasked channel whose
** line is asserted starts moving. */
void dl_sysdma_mask(dl_sysdma *c, uint32_t ch, int masked);
int dl_sysdma_masked(const dl_sysdma *c, uint32_t ch);

/* Units the channel still has to move (over the rest of its chain), and
** its current address: what the CPU reads back from the controller (0
** after terminal count without auto-initialize). */
uint32_t dl_sysdma_remaining(const dl_sysdma *c, uint32_t ch);
uint64_t dl_sysdma_current(const dl_sysdma *c, uint32_t ch);

/* Units channel ch lost so far: moved while its device had no room or no
** data (block mode); the HAL reports a transfer that lost any as DmaError. */
uint64_t dl_sysdma_channel_overruns(const dl_sysdma *c, uint32_t ch);

/* Returns 1 if ch reached terminal count since the last call, and clears
** it (the 8237's status register clears on read). */
int dl_sysdma_take_terminal(dl_sysdma *c, uint32_t ch);

/* Puts a peripheral on a request line (NULL: takes it off). DL_EINVAL for a
** bad line, DL_EBUSY if another peripheral is on it. */
int dl_sysdma_attach(dl_sysdma *c, uint32_t line, const dl_sysdma_port *p);

/* The peripheral on `line` raises or drops its DMA request. */
void dl_sysdma_request(dl_sysdma *c, uint32_t line, int asserted);

/* The FIFO address of the peripheral on `line` (0: none attached). */
uint64_t dl_sysdma_line_fifo(const dl_sysdma *c, uint32_t line);

/* Sets who is told when channel ch reaches terminal count (the HAL's
** adapter, for its completion); fn NULL: nobody. */
void dl_sysdma_set_listener(dl_sysdma *c, uint32_t ch, dl_sysdma_tc_fn fn, void *ctx);

/* The controller's counters. */
const dl_sysdma_stats *dl_sysdma_get_stats(const dl_sysdma *c);

#endif
