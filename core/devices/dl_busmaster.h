/*
** dl_busmaster.h: the built-in bus-master DMA device: a device model (see
** dl_devmodel.h) with a 32-bit register block, a storage medium, device
** limits and deterministic fault injection. A driver programs it through
** its registers; each command (or ring descriptor) completes over simulated
** time, moving its bytes by logical address at completion, so bounce pages
** and unmapped addresses behave as the adapter layer made them.
**
** Register map (offsets in the BAR, 32-bit, little-endian):
**   0x00 CONTROL   RW  START, TO_DEVICE, IRQ_ENABLE, RESET, MODE (bits 4-5)
**   0x04 STATUS    R/W1C BUSY, DONE, ERROR, SHORT
**   0x08/0x0C ADDR, 0x10 LENGTH (single mode), 0x14/0x18 OFFSET (medium)
**   0x1C BYTES_DONE, 0x20/0x24 DESC, 0x28 DESC_COUNT, 0x2C ERROR_CODE
**   0x30 RING_TAIL (doorbell), 0x34 RING_HEAD, 0x38 MAX_TRANSFER, 0x3C MAX_SG
** The device decodes 32-bit accesses; a 64-bit access is the two halves,
** low first. Narrower or misaligned writes are ignored (reads assemble).
*/
#ifndef DL_BUSMASTER_H
#define DL_BUSMASTER_H

#include <stdint.h>

#include "devices/dl_devmodel.h"

typedef struct dl_busmaster dl_busmaster;

/* Register offsets. */
enum {
  DL_BM_CONTROL = 0x00, DL_BM_STATUS = 0x04, DL_BM_ADDR_LO = 0x08, DL_BM_ADDR_HI = 0x0C,
  DL_BM_LENGTH = 0x10, DL_BM_OFFSET_LO = 0x14, DL_BM_OFFSET_HI = 0x18,
  DL_BM_BYTES_DONE = 0x1C, DL_BM_DESC_LO = 0x20, DL_BM_DESC_HI = 0x24,
  DL_BM_DESC_COUNT = 0x28, DL_BM_ERROR_CODE = 0x2C, DL_BM_RING_TAIL = 0x30,
  DL_BM_RING_HEAD = 0x34, DL_BM_MAX_TRANSFER = 0x38, DL_BM_MAX_SG = 0x3C,
  DL_BM_REGISTERS = 0x40
};

/* CONTROL and STATUS bits, modes, descriptor flags. */
enum {
  DL_BM_START = 0x1, DL_BM_TO_DEVICE = 0x2, DL_BM_IRQ_ENABLE = 0x4, DL_BM_RESET = 0x8,
  DL_BM_MODE_MASK = 0x30, DL_BM_MODE_SINGLE = 0x00, DL_BM_MODE_SG = 0x10, DL_BM_MODE_RING = 0x20,
  DL_BM_BUSY = 0x1, DL_BM_DONE = 0x2, DL_BM_ERROR = 0x4, DL_BM_SHORT = 0x8,
  DL_BM_DESC_TO_DEVICE = 0x1, DL_BM_DESC_INTERRUPT = 0x2
};
#define DL_BM_DESC_OWNED 0x80000000u

/* ERROR_CODE values. */
enum {
  DL_BM_ERR_NONE = 0,
  DL_BM_ERR_UNMAPPED = 1,   /* DMA to an address no one mapped (report 0x26 too) */
  DL_BM_ERR_DEVICE = 2,     /* injected device error */
  DL_BM_ERR_LIMIT = 3,      /* over max transfer, max S/G elements or capacity */
  DL_BM_ERR_WIDTH = 4,      /* address beyond the device's address width */
  DL_BM_ERR_ALIGN = 5       /* address or length not a multiple of the alignment */
};

/* Sizes of the in-memory structures the device reads. */
#define DL_BM_SG_ENTRY 16u     /* u64 address, u32 length, u32 reserved */
#define DL_BM_RING_DESC 32u    /* u64 address, u32 length, u32 flags, u64 offset,
                                  u32 bytes_done, u32 status */
#define DL_BM_MAX_SG_LIMIT 65536u

/* What the device is; dl_busmaster_config_init gives the defaults. */
typedef struct dl_busmaster_config {
  uint64_t bandwidth;        /* bytes per second (1 GiB/s) */
  uint64_t setup_latency;    /* ns before the first byte moves (2000) */
  uint64_t max_transfer;     /* bytes per command (1 MiB) */
  uint32_t max_sg;           /* S/G elements per command (64) */
  uint32_t address_width;    /* bits of logical address the device drives (64) */
  uint64_t alignment;        /* of addresses and lengths, a power of two (1) */
  uint64_t capacity;         /* medium bytes (1 GiB) */
  uint32_t sector_size;      /* medium block, a power of two 512..65536 (4096:
                                Advanced Format disks and NVMe SSDs, the devices
                                a bus master with S/G stands for) */
} dl_busmaster_config;

/* Injected fault kinds (the number a DL_TR_FAULT record carries). */
typedef enum dl_bm_fault_kind {
  DL_BM_FAULT_ERROR = 1,         /* ERROR, code 2, nothing moved */
  DL_BM_FAULT_SHORT,             /* half the bytes move, SHORT set */
  DL_BM_FAULT_DROP_INTERRUPT,    /* completes without raising the line */
  DL_BM_FAULT_SPURIOUS_INTERRUPT,/* the line rises with no status bit set */
  DL_BM_FAULT_LATENCY,           /* completion `extra` ns later */
  DL_BM_FAULT_HANG,              /* never completes; RESET recovers */
  DL_BM_FAULT_KIND_COUNT
} dl_bm_fault_kind;

/* When a fault fires. */
typedef enum dl_bm_trigger {
  DL_BM_AT_COMMAND,    /* the n-th command (1-based), once */
  DL_BM_AT_TIME,       /* the first completion at or after a time, once;
                          a spurious interrupt fires at that time itself */
  DL_BM_PROBABILITY    /* each command, with the machine's seeded RNG */
} dl_bm_trigger;

typedef struct dl_bm_fault {
  dl_bm_fault_kind kind;
  dl_bm_trigger trigger;
  uint64_t at;         /* command number or time in ns */
  double probability;  /* 0..1 */
  uint64_t extra;      /* ns added by a latency fault */
} dl_bm_fault;

/* What the device did. */
typedef struct dl_busmaster_stats {
  uint64_t commands;    /* commands and ring descriptors started */
  uint64_t bytes;       /* bytes moved */
  uint64_t errors;      /* completions with an ERROR_CODE */
  uint64_t faults;      /* injected faults that fired */
  uint64_t interrupts;  /* times the device raised its line */
} dl_busmaster_stats;

/* Fills *cfg with the defaults. */
void dl_busmaster_config_init(dl_busmaster_config *cfg);

/* Creates the device on the machine with its register block, interrupt on
** `vector` at `irql`; DL_EINVAL for a configuration out of range. The
** device lives as long as its model (dl_devmodel_free frees both). */
int dl_busmaster_new(dl_machine *m, const char *name, uint32_t vector, uint8_t irql,
                     const dl_busmaster_config *cfg, dl_busmaster **out);

/* Frees the device and its model; NULL is a harmless no-op. */
void dl_busmaster_free(dl_busmaster *bm);

/* The device's model (register block, line, PDO). */
dl_devmodel *dl_busmaster_model(dl_busmaster *bm);

/* The busmaster behind a model, or NULL if the model is another kind. */
dl_busmaster *dl_busmaster_of(dl_devmodel *dm);

/* The configuration the device was made with. */
const dl_busmaster_config *dl_busmaster_config_of(const dl_busmaster *bm);

/* Adds a fault to the schedule; DL_EINVAL for a bad kind or probability. */
int dl_busmaster_inject(dl_busmaster *bm, const dl_bm_fault *f);

/* Reads or writes the medium directly (as if taken out of the machine);
** DL_ERANGE beyond the capacity. Never-written bytes read as zeros. */
int dl_busmaster_medium_read(dl_busmaster *bm, uint64_t offset, void *dst, uint64_t len);
int dl_busmaster_medium_write(dl_busmaster *bm, uint64_t offset, const void *src, uint64_t len);

/* The device's counters. */
void dl_busmaster_stats_get(const dl_busmaster *bm, dl_busmaster_stats *out);

/* Name of a fault kind ("short"...), or NULL. */
const char *dl_bm_fault_name(dl_bm_fault_kind kind);

#endif
