/*
** dl_busmaster.c: the bus-master DMA device. A command is latched when it
** starts (its elements read from registers, the S/G table or a ring
** descriptor, and checked against the device's limits), then completes in
** one clock event, where the bytes move straight between RAM and the
** medium's sectors (one copy; the access check per chunk as before):
** nothing on the DMA path allocates, except the medium's first touch of a
** sector.
*/
#include "devices/dl_busmaster.h"

#include <stdlib.h>
#include <string.h>

#include "machine/dl_dmamap.h"
#include "machine/dl_xlate.h"
#include "machine/dl_machine.h"
#include "memory/dl_pagemap.h"
#include "memory/dl_physmem.h"
#include "base/dl_status.h"
#include "machine/dl_trace.h"
#include "base/dl_vec.h"

#define CHUNK 16384
#define NS_PER_S UINT64_C(1000000000)
#define STATUS_STICKY (DL_BM_DONE | DL_BM_ERROR | DL_BM_SHORT)
#define CONTROL_KEPT (DL_BM_TO_DEVICE | DL_BM_IRQ_ENABLE | DL_BM_MODE_MASK)
#define FAULT_BIT(k) (1u << (k))

typedef struct element { uint64_t addr, len; } element;

/* A scheduled fault and whether a one-shot trigger has fired. */
typedef struct fault_slot { dl_bm_fault f; int fired; } fault_slot;

/* The command in flight, latched when it started. */
typedef struct command {
  uint64_t number;           /* 1, 2, ... */
  int ring, to_device;
  int interrupt;             /* raise the line at completion (ring: flag bit) */
  int stop_ring;             /* the descriptor could not be fetched */
  uint64_t offset, total;    /* medium offset, bytes asked */
  uint32_t nelem;
  uint32_t index, ring_count;
  uint64_t ring_base;
  uint32_t flags;            /* ring descriptor flags as fetched */
  uint32_t error;            /* found when the command started */
  unsigned faults;           /* FAULT_BIT(kind) of the faults that fired */
} command;

struct dl_busmaster {
  dl_machine *m;
  dl_physmem *pm;            /* the machine's parts, fixed for its life */
  dl_clock *clock;
  dl_stats *run;
  dl_devmodel *dm;
  dl_busmaster_config cfg;
  uint32_t control, status, length, bytes_done, desc_count, error_code, ring_tail, ring_head;
  uint64_t addr, offset, desc;
  int busy;
  int intr;                  /* the last completion asked for an interrupt */
  int spurious;              /* a spurious interrupt holds the line */
  int line;                  /* the level the device drives */
  uint64_t done_event, spurious_event;
  int done_pending, spurious_pending;
  command cmd;
  element *elem;             /* cfg.max_sg entries */
  fault_slot *faults;
  size_t nfaults, cap_faults;
  dl_pagemap medium;         /* sector -> bytes */
  unsigned sector_shift;     /* log2 of the sector size: no division per piece */
  uint64_t top;              /* the highest address the device drives */
  uint64_t ns_bytes, ns;     /* the last transfer_ns asked and its answer */
  dl_xlate_window desc_win;  /* where descriptors, S/G tables, were read (identity only) */
  dl_xlate_window data_win;  /* where data last moved */
  dl_busmaster_stats stats;
};

static const dl_devmodel_ops bm_ops;

/* ---- helpers -------------------------------------------------------------- */

/* Little-endian fields of descriptors in memory, independent of the host
** (on a little-endian host the compiler makes each one load). */
static uint64_t get_le(const uint8_t *p, int n) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  if (n == 8) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
  }
  if (n == 4) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
  }
#endif
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; i--) v = v << 8 | p[i];
  return v;
}

/* Stores a little-endian field. */
static void put_le(uint8_t *p, uint64_t v, int n) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  if (n == 8) {
    memcpy(p, &v, 8);
    return;
  }
  if (n == 4) {
    uint32_t w = (uint32_t)v;
    memcpy(p, &w, 4);
    return;
  }
#endif
  for (int i = 0; i < n; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* ceil(bytes * 1e9 / bandwidth) without overflow for any 64-bit sizes; the
** last answer is kept, since a device's commands are mostly one size and
** the 128-bit division is the dearest arithmetic of a command. */
static uint64_t transfer_ns(dl_busmaster *bm, uint64_t bytes) {
  if (bytes == bm->ns_bytes) return bm->ns;
  unsigned __int128 n = (unsigned __int128)bytes * NS_PER_S;
  unsigned __int128 t = (n + bm->cfg.bandwidth - 1) / bm->cfg.bandwidth;
  bm->ns_bytes = bytes;
  bm->ns = t > UINT64_MAX ? UINT64_MAX : (uint64_t)t;
  return bm->ns;
}

/* a + b, or UINT64_MAX: a device configured absurdly slow waits forever
** rather than wrapping around to a completion in the past. */
static uint64_t sat_add(uint64_t a, uint64_t b) { return a > UINT64_MAX - b ? UINT64_MAX : a + b; }

/* The machine's run statistics. */
static dl_stats *run_stats(dl_busmaster *bm) { return bm->run; }

/* Simulated time now. */
static uint64_t now(dl_busmaster *bm) { return dl_clock_now(bm->clock); }

/* Drives the line to its level: a spurious interrupt, or a completion that
** asked for one while DONE or ERROR is set and interrupts are enabled. Only
** changes are driven, so a script's own raise_interrupt is left alone. */
static void update_line(dl_busmaster *bm) {
  int level = bm->spurious || ((bm->control & DL_BM_IRQ_ENABLE) && bm->intr &&
                               (bm->status & (DL_BM_DONE | DL_BM_ERROR)));
  if (level == bm->line) return;
  bm->line = level;
  if (level) bm->stats.interrupts++;
  dl_devmodel_set_interrupt(bm->dm, level);
}

/* ---- device-side access ---------------------------------------------------- */

/* 1 if [addr, addr+len) is in window w, opening w around it if it is not:
** then the access is mapped and RAM at physical address addr. Else (an
** IOMMU, or not all mapped) the caller takes the checked path, which
** reports what it must. */
static int in_window(dl_busmaster *bm, dl_xlate_window *w, uint64_t addr, uint64_t len) {
  return dl_xlate_window_has(w, addr, len) || dl_xlate_window_open(bm->m, addr, len, w);
}

/* The device reads descriptor bytes: directly inside the ring's window,
** else through the translation seam (the same check, report and IOTLB). */
static int desc_read(dl_busmaster *bm, uint64_t addr, void *dst, size_t len) {
  if (in_window(bm, &bm->desc_win, addr, len))
    return dl_physmem_read(bm->pm, addr, dst, len);
  return dl_devmodel_dma_read(bm->dm, addr, dst, len);
}

/* The device writes descriptor bytes back. */
static int desc_write(dl_busmaster *bm, uint64_t addr, const void *src, size_t len) {
  if (in_window(bm, &bm->desc_win, addr, len))
    return dl_physmem_write(bm->pm, addr, src, len);
  return dl_devmodel_dma_write(bm->dm, addr, src, len);
}

/* ---- the medium ----------------------------------------------------------- */

/* Reads the medium sector by sector; a sector never written reads zeros. */
static void medium_get(dl_busmaster *bm, uint64_t off, uint8_t *dst, uint64_t len) {
  uint64_t ss = bm->cfg.sector_size;
  while (len) {
    uint64_t in = off & (ss - 1), n = ss - in < len ? ss - in : len;
    const uint8_t *b = dl_pagemap_get(&bm->medium, off >> bm->sector_shift);
    if (b) memcpy(dst, b + in, (size_t)n);
    else memset(dst, 0, (size_t)n);
    off += n;
    dst += n;
    len -= n;
  }
}

/* Writes the medium sector by sector, creating sectors on first touch. */
static int medium_put(dl_busmaster *bm, uint64_t off, const uint8_t *src, uint64_t len) {
  uint64_t ss = bm->cfg.sector_size;
  while (len) {
    uint64_t in = off & (ss - 1), n = ss - in < len ? ss - in : len;
    uint8_t *b = dl_pagemap_get_or_create(&bm->medium, off >> bm->sector_shift);
    if (!b) return DL_ENOMEM;
    memcpy(b + in, src, (size_t)n);
    off += n;
    src += n;
    len -= n;
  }
  return DL_OK;
}

/* DMA from RAM at pa straight into the medium: each sector piece is one
** copy out of guest RAM (no staging buffer). The caller checked that the
** whole range is RAM. */
static int medium_from_ram(dl_busmaster *bm, dl_physmem *pm, uint64_t off, uint64_t pa,
                           uint64_t len) {
  uint64_t ss = bm->cfg.sector_size;
  while (len) {
    uint64_t in = off & (ss - 1), n = ss - in < len ? ss - in : len;
    uint8_t *b = dl_pagemap_get_or_create(&bm->medium, off >> bm->sector_shift);
    if (!b || dl_physmem_read(pm, pa, b + in, (size_t)n)) return DL_ENOMEM;
    off += n;
    pa += n;
    len -= n;
  }
  return DL_OK;
}

/* DMA from the medium straight into RAM at pa; a sector never written
** reads as zeros. The caller checked that the whole range is RAM. */
static int medium_to_ram(dl_busmaster *bm, dl_physmem *pm, uint64_t off, uint64_t pa,
                         uint64_t len) {
  uint64_t ss = bm->cfg.sector_size;
  while (len) {
    uint64_t in = off & (ss - 1), n = ss - in < len ? ss - in : len;
    const uint8_t *b = dl_pagemap_get(&bm->medium, off >> bm->sector_shift);
    int rc = b ? dl_physmem_write(pm, pa, b + in, (size_t)n) : dl_physmem_fill(pm, pa, 0, (size_t)n);
    if (rc) return rc;
    off += n;
    pa += n;
    len -= n;
  }
  return DL_OK;
}

/* Returns 1 if [off, off+len) lies on the medium. */
static int on_medium(const dl_busmaster *bm, uint64_t off, uint64_t len) {
  return off <= bm->cfg.capacity && len <= bm->cfg.capacity - off;
}

/* ---- faults --------------------------------------------------------------- */

/* Records a fault that fired. */
static void fault_fired(dl_busmaster *bm, dl_bm_fault_kind kind) {
  bm->stats.faults++;
  dl_trace_emit(bm->m, DL_TR_FAULT, bm->dm->id, (uint64_t)kind, bm->cmd.number);
}

/* Applies a fault to the command in flight; returns the latency it adds. */
static uint64_t apply_fault(dl_busmaster *bm, const dl_bm_fault *f) {
  fault_fired(bm, f->kind);
  bm->cmd.faults |= FAULT_BIT(f->kind);
  return f->kind == DL_BM_FAULT_LATENCY ? f->extra : 0;
}

/* A uniform draw in [0, 1) from the machine's RNG. */
static double draw(dl_busmaster *bm) {
  return (double)(dl_rng_next(dl_machine_rng(bm->m)) >> 11) * 0x1.0p-53;
}

/* Faults decided when a command starts: by command number and by chance.
** Every probability fault draws once per command, matched or not, so the
** same seed gives the same faults. Returns the latency they add. */
static uint64_t start_faults(dl_busmaster *bm) {
  uint64_t extra = 0;
  for (size_t i = 0; i < bm->nfaults; i++) {
    fault_slot *s = &bm->faults[i];
    int hit = 0;
    if (s->f.trigger == DL_BM_PROBABILITY) hit = draw(bm) < s->f.probability;
    else if (s->f.trigger == DL_BM_AT_COMMAND && !s->fired && s->f.at == bm->cmd.number)
      hit = s->fired = 1;
    if (hit) extra += apply_fault(bm, &s->f);
  }
  return extra;
}

/* Faults by time, checked at a completion: each fires at the first
** completion at or after its time. Returns the latency they add. */
static uint64_t completion_faults(dl_busmaster *bm) {
  if (!bm->nfaults) return 0;
  uint64_t extra = 0, t = now(bm);
  for (size_t i = 0; i < bm->nfaults; i++) {
    fault_slot *s = &bm->faults[i];
    if (s->f.trigger != DL_BM_AT_TIME || s->fired || s->f.at > t ||
        s->f.kind == DL_BM_FAULT_SPURIOUS_INTERRUPT)
      continue;
    s->fired = 1;
    extra += apply_fault(bm, &s->f);
  }
  return extra;
}

static void on_spurious_end(void *arg, uint64_t data);

/* Raises the line with no status bit set, and lowers it once the ISR has
** had its chance: the lowering is scheduled after the delivery the rising
** edge scheduled, at the same instant, so the ISR sees the line up once. */
static void spurious_raise(dl_busmaster *bm) {
  if (bm->spurious) return;
  bm->spurious = 1;
  update_line(bm);
  uint64_t latency = dl_machine_config_of(bm->m)->interrupt_latency;
  if (dl_clock_after(bm->clock, latency, on_spurious_end, bm, 0,
                     &bm->spurious_event) == DL_OK)
    bm->spurious_pending = 1;
}

/* The spurious interrupt ends. */
static void on_spurious_end(void *arg, uint64_t data) {
  dl_busmaster *bm = arg;
  (void)data;
  bm->spurious_pending = 0;
  bm->spurious = 0;
  update_line(bm);
}

/* A spurious interrupt scheduled by time (it belongs to no command). */
static void on_timed_spurious(void *arg, uint64_t index) {
  dl_busmaster *bm = arg;
  if (index >= bm->nfaults || bm->faults[index].fired) return;
  bm->faults[index].fired = 1;
  fault_fired(bm, DL_BM_FAULT_SPURIOUS_INTERRUPT);
  spurious_raise(bm);
}

/* ---- starting a command --------------------------------------------------- */

/* Returns 1 if [addr, addr+len) is beyond the device's address width. */
static int beyond_width(const dl_busmaster *bm, uint64_t addr, uint64_t len) {
  return addr > bm->top || (len && len - 1 > bm->top - addr);
}

/* Checks the latched elements against the device's limits. */
static uint32_t check_limits(const dl_busmaster *bm) {
  const command *c = &bm->cmd;
  if (c->total > bm->cfg.max_transfer || !on_medium(bm, c->offset, c->total))
    return DL_BM_ERR_LIMIT;
  for (uint32_t i = 0; i < c->nelem; i++)
    if (beyond_width(bm, bm->elem[i].addr, bm->elem[i].len)) return DL_BM_ERR_WIDTH;
  for (uint32_t i = 0; i < c->nelem; i++)
    if ((bm->elem[i].addr | bm->elem[i].len) & (bm->cfg.alignment - 1))  /* a power of two */
      return DL_BM_ERR_ALIGN;
  return DL_BM_ERR_NONE;
}

/* Single mode: one element from ADDR and LENGTH. */
static uint32_t latch_single(dl_busmaster *bm) {
  bm->elem[0] = (element){bm->addr, bm->length};
  bm->cmd.nelem = 1;
  bm->cmd.total = bm->length;
  return check_limits(bm);
}

/* S/G mode: DESC_COUNT entries of the table at DESC. */
static uint32_t latch_sg(dl_busmaster *bm) {
  command *c = &bm->cmd;
  if (bm->desc_count > bm->cfg.max_sg) return DL_BM_ERR_LIMIT;
  if (beyond_width(bm, bm->desc, (uint64_t)bm->desc_count * DL_BM_SG_ENTRY)) return DL_BM_ERR_WIDTH;
  for (uint32_t i = 0; i < bm->desc_count; i++) {
    uint8_t e[DL_BM_SG_ENTRY];
    if (desc_read(bm, bm->desc + (uint64_t)i * DL_BM_SG_ENTRY, e, sizeof e))
      return DL_BM_ERR_UNMAPPED;
    bm->elem[i] = (element){get_le(e, 8), get_le(e + 8, 4)};
    c->nelem = i + 1;
    c->total += bm->elem[i].len;
  }
  return check_limits(bm);
}

/* Ring mode: the descriptor at RING_HEAD. Returns -1 if the driver does not
** own it (the device stops there, as hardware polling OWNED does). */
static int latch_ring(dl_busmaster *bm) {
  command *c = &bm->cmd;
  c->ring = 1;
  c->ring_count = bm->desc_count;
  c->ring_base = bm->desc;
  c->index = bm->ring_head < c->ring_count ? bm->ring_head : bm->ring_head % c->ring_count;
  uint64_t at = c->ring_base + (uint64_t)c->index * DL_BM_RING_DESC;
  uint8_t d[DL_BM_RING_DESC];
  c->stop_ring = 1;  /* until the descriptor is in hand */
  if (beyond_width(bm, at, sizeof d)) return DL_BM_ERR_WIDTH;
  if (desc_read(bm, at, d, sizeof d)) return DL_BM_ERR_UNMAPPED;
  c->stop_ring = 0;
  c->flags = (uint32_t)get_le(d + 12, 4);
  if (!(c->flags & DL_BM_DESC_OWNED)) return -1;
  bm->elem[0] = (element){get_le(d, 8), get_le(d + 8, 4)};
  c->nelem = 1;
  c->total = bm->elem[0].len;
  c->offset = get_le(d + 16, 8);
  c->to_device = (c->flags & DL_BM_DESC_TO_DEVICE) != 0;
  c->interrupt = (c->flags & DL_BM_DESC_INTERRUPT) != 0;
  return (int)check_limits(bm);
}

static void on_complete(void *arg, uint64_t data);

/* Schedules the completion of the command in flight. */
static void schedule_completion(dl_busmaster *bm, uint64_t delay) {
  if (dl_clock_after(bm->clock, delay, on_complete, bm, 0, &bm->done_event) == DL_OK)
    bm->done_pending = 1;
}

/* Starts the latched command: faults, trace, and its completion event
** after setup_latency + bytes/bandwidth (setup only when it already failed). */
static void launch(dl_busmaster *bm, uint32_t error) {
  command *c = &bm->cmd;
  c->error = error;
  bm->busy = 1;
  bm->status |= DL_BM_BUSY;
  c->number = ++bm->stats.commands;
  dl_trace_emit(bm->m, DL_TR_DMA_START, bm->dm->id, c->nelem ? bm->elem[0].addr : 0, c->total);
  uint64_t extra = start_faults(bm);
  if (c->faults & FAULT_BIT(DL_BM_FAULT_SPURIOUS_INTERRUPT)) spurious_raise(bm);
  if (c->faults & FAULT_BIT(DL_BM_FAULT_HANG)) return;  /* BUSY until RESET */
  uint64_t d = sat_add(bm->cfg.setup_latency, error ? 0 : transfer_ns(bm, c->total));
  d = sat_add(d, dl_devmodel_take_stall(bm->dm));  /* IOTLB misses so far (IOMMU only) */
  schedule_completion(bm, sat_add(d, extra));
}

/* Clears the latched command. */
static void new_command(dl_busmaster *bm, int to_device) {
  bm->cmd = (command){.to_device = to_device, .interrupt = 1, .offset = bm->offset};
}

/* Starts the next ring descriptor if the driver has queued one. */
static void ring_kick(dl_busmaster *bm) {
  if (bm->busy || (bm->control & DL_BM_MODE_MASK) != DL_BM_MODE_RING || !bm->desc_count ||
      (bm->ring_head < bm->desc_count ? bm->ring_head : bm->ring_head % bm->desc_count) ==
          bm->ring_tail)
    return;
  new_command(bm, 0);
  int r = latch_ring(bm);
  if (r < 0) return;  /* not owned: the device waits for the next doorbell */
  launch(bm, (uint32_t)r);
}

/* START in single or S/G mode. */
static void start(dl_busmaster *bm) {
  uint32_t mode = bm->control & DL_BM_MODE_MASK;
  if (mode == DL_BM_MODE_RING) {
    ring_kick(bm);
    return;
  }
  if (mode != DL_BM_MODE_SINGLE && mode != DL_BM_MODE_SG) return;  /* reserved mode */
  new_command(bm, (bm->control & DL_BM_TO_DEVICE) != 0);
  launch(bm, mode == DL_BM_MODE_SG ? latch_sg(bm) : latch_single(bm));
}

/* ---- completing a command ------------------------------------------------- */

/* Moves up to `want` bytes element by element, CHUNK bytes at a time (less
** where the device-side translation breaks the run), each piece translated
** as the device's access (dl_xlate_resolve: the same check, report and
** IOTLB as a read or write through the seam) and then copied straight
** between RAM and the medium; stops at the first piece that does not
** translate (the engine has reported it). */
static uint32_t move(dl_busmaster *bm, uint64_t want, uint64_t *moved) {
  command *c = &bm->cmd;
  dl_physmem *pm = bm->pm;
  int access = c->to_device ? DL_XLATE_READ : DL_XLATE_WRITE;
  uint64_t off = c->offset;
  for (uint32_t i = 0; i < c->nelem && *moved < want; i++) {
    uint64_t addr = bm->elem[i].addr, left = bm->elem[i].len;
    if (left > want - *moved) left = want - *moved;
    while (left) {
      size_t n = left < CHUNK ? (size_t)left : CHUNK;
      uint64_t pa = addr, run;
      if (!in_window(bm, &bm->data_win, addr, n)) {  /* the checked path */
        const dl_device *pdo = dl_devmodel_pdo(bm->dm);
        if (dl_xlate_resolve(bm->m, pdo->id, pdo->name, addr, n, access, &pa, &run))
          return DL_BM_ERR_UNMAPPED;
        if (run < n) n = (size_t)run;
        if (!dl_physmem_is_ram(pm, pa, n)) return DL_BM_ERR_UNMAPPED;
      }
      if (c->to_device) {
        if (medium_from_ram(bm, pm, off, pa, n)) return DL_BM_ERR_DEVICE;  /* host memory */
      } else if (medium_to_ram(bm, pm, off, pa, n)) {
        return DL_BM_ERR_DEVICE;
      }
      addr += n;
      off += n;
      left -= n;
      *moved += n;
    }
  }
  return DL_BM_ERR_NONE;
}

/* Ring: writes bytes_done and status back, then gives the descriptor back
** to the driver (OWNED cleared last, as hardware does). */
static uint32_t write_back(dl_busmaster *bm, uint64_t moved, uint32_t error) {
  command *c = &bm->cmd;
  uint64_t at = c->ring_base + (uint64_t)c->index * DL_BM_RING_DESC;
  uint8_t wb[8], fl[4];
  put_le(wb, (moved & UINT32_MAX) | (uint64_t)error << 32, 8);  /* one store: the copy
                                                                   loads it whole */
  put_le(fl, c->flags & ~DL_BM_DESC_OWNED, 4);
  if (desc_write(bm, at + 24, wb, sizeof wb) || desc_write(bm, at + 12, fl, sizeof fl))
    return DL_BM_ERR_UNMAPPED;
  return DL_BM_ERR_NONE;
}

/* Moves the bytes and posts the result: registers, trace, statistics,
** descriptor write-back, the line; then the ring goes on. */
static void finish(dl_busmaster *bm) {
  command *c = &bm->cmd;
  uint32_t err = c->error;
  uint64_t moved = 0;
  int shortened = 0;
  if (!err && (c->faults & FAULT_BIT(DL_BM_FAULT_ERROR))) err = DL_BM_ERR_DEVICE;
  if (!err) {
    shortened = (c->faults & FAULT_BIT(DL_BM_FAULT_SHORT)) != 0;
    err = move(bm, shortened ? c->total / 2 : c->total, &moved);
  }
  if (c->ring && !c->stop_ring && write_back(bm, moved, err)) {
    err = DL_BM_ERR_UNMAPPED;
    c->stop_ring = 1;
  }
  bm->bytes_done = (uint32_t)moved;
  bm->error_code = err;
  bm->stats.bytes += moved;
  bm->stats.errors += err != 0;
  dl_stats *st = run_stats(bm);
  st->transfers++;
  st->bytes_moved += moved;
  dl_trace_emit(bm->m, DL_TR_DMA_END, bm->dm->id, moved, err);
  bm->busy = 0;
  bm->status &= ~(uint32_t)DL_BM_BUSY;
  bm->status |= err ? DL_BM_ERROR : DL_BM_DONE | (shortened ? DL_BM_SHORT : 0);
  if (!(c->faults & FAULT_BIT(DL_BM_FAULT_DROP_INTERRUPT)) && (c->interrupt || err)) bm->intr = 1;
  if (c->ring && !c->stop_ring) {
    bm->ring_head = c->index + 1 < c->ring_count ? c->index + 1 : 0;  /* index < ring_count */
    ring_kick(bm);
  }
  update_line(bm);
}

/* The completion event: faults by time may delay it or hang the device. */
static void on_complete(void *arg, uint64_t data) {
  dl_busmaster *bm = arg;
  (void)data;
  bm->done_pending = 0;
  uint64_t extra = completion_faults(bm);
  if (bm->cmd.faults & FAULT_BIT(DL_BM_FAULT_HANG)) return;  /* BUSY until RESET */
  if (extra) {
    schedule_completion(bm, extra);
    return;
  }
  finish(bm);
}

/* ---- registers ------------------------------------------------------------ */

/* RESET: aborts the command, clears STATUS and the ring, lowers the line. */
static void reset(dl_busmaster *bm, uint32_t control) {
  dl_clock *clk = dl_machine_clock(bm->m);
  if (bm->done_pending) dl_clock_cancel(clk, bm->done_event);
  if (bm->spurious_pending) dl_clock_cancel(clk, bm->spurious_event);
  bm->done_pending = bm->spurious_pending = 0;
  bm->busy = bm->intr = bm->spurious = 0;
  bm->status = bm->error_code = bm->bytes_done = 0;
  bm->ring_head = bm->ring_tail = 0;
  bm->control = control & CONTROL_KEPT;
  update_line(bm);
}

/* The doorbell: a tail outside the ring is an error the driver must see. */
static void ring_doorbell(dl_busmaster *bm, uint32_t tail) {
  bm->ring_tail = tail;
  if ((bm->control & DL_BM_MODE_MASK) != DL_BM_MODE_RING) return;
  if (tail >= bm->desc_count) {
    bm->status |= DL_BM_ERROR;
    bm->error_code = DL_BM_ERR_LIMIT;
    bm->stats.errors++;
    bm->intr = 1;
    update_line(bm);
    return;
  }
  ring_kick(bm);
}

/* Reads a 32-bit register. */
static uint32_t reg_read(const dl_busmaster *bm, uint64_t reg) {
  switch (reg) {
  case DL_BM_CONTROL: return bm->control | (bm->busy ? DL_BM_START : 0);
  case DL_BM_STATUS: return bm->status;
  case DL_BM_ADDR_LO: return (uint32_t)bm->addr;
  case DL_BM_ADDR_HI: return (uint32_t)(bm->addr >> 32);
  case DL_BM_LENGTH: return bm->length;
  case DL_BM_OFFSET_LO: return (uint32_t)bm->offset;
  case DL_BM_OFFSET_HI: return (uint32_t)(bm->offset >> 32);
  case DL_BM_BYTES_DONE: return bm->bytes_done;
  case DL_BM_DESC_LO: return (uint32_t)bm->desc;
  case DL_BM_DESC_HI: return (uint32_t)(bm->desc >> 32);
  case DL_BM_DESC_COUNT: return bm->desc_count;
  case DL_BM_ERROR_CODE: return bm->error_code;
  case DL_BM_RING_TAIL: return bm->ring_tail;
  case DL_BM_RING_HEAD: return bm->ring_head;
  case DL_BM_MAX_TRANSFER:
    return bm->cfg.max_transfer > UINT32_MAX ? UINT32_MAX : (uint32_t)bm->cfg.max_transfer;
  case DL_BM_MAX_SG: return bm->cfg.max_sg;
  default: return 0;
  }
}

/* Replaces one 32-bit half of a 64-bit register. */
static void set_half(uint64_t *r, int high, uint32_t v) {
  *r = high ? (*r & UINT32_MAX) | (uint64_t)v << 32 : (*r & ~(uint64_t)UINT32_MAX) | v;
}

/* Writes a 32-bit register, with its side effects. */
static void reg_write(dl_busmaster *bm, uint64_t reg, uint32_t v) {
  switch (reg) {
  case DL_BM_CONTROL:
    if (v & DL_BM_RESET) {
      reset(bm, v);
      return;
    }
    bm->control = v & CONTROL_KEPT;
    if ((v & DL_BM_START) && !bm->busy) start(bm);
    update_line(bm);
    return;
  case DL_BM_STATUS:
    bm->status &= ~(v & STATUS_STICKY);
    if (!(bm->status & (DL_BM_DONE | DL_BM_ERROR))) bm->intr = 0;
    update_line(bm);
    return;
  case DL_BM_ADDR_LO: set_half(&bm->addr, 0, v); return;
  case DL_BM_ADDR_HI: set_half(&bm->addr, 1, v); return;
  case DL_BM_LENGTH: bm->length = v; return;
  case DL_BM_OFFSET_LO: set_half(&bm->offset, 0, v); return;
  case DL_BM_OFFSET_HI: set_half(&bm->offset, 1, v); return;
  case DL_BM_DESC_LO: set_half(&bm->desc, 0, v); return;
  case DL_BM_DESC_HI: set_half(&bm->desc, 1, v); return;
  case DL_BM_DESC_COUNT: bm->desc_count = v; return;
  case DL_BM_RING_TAIL: ring_doorbell(bm, v); return;
  default: return;  /* read-only or unassigned */
  }
}

/* A register read of any size: the bytes of the 32-bit registers it covers. */
static uint64_t bm_read(void *ctx, dl_space space, unsigned index, uint64_t offset, uint32_t size) {
  (void)space;  /* one BAR: its registers */
  (void)index;
  uint64_t v = 0;
  for (uint32_t i = size; i-- > 0;) {
    uint64_t at = offset + i;
    v = v << 8 | ((reg_read(ctx, at & ~UINT64_C(3)) >> (8 * (at & 3))) & 0xFF);
  }
  return v;
}

/* A register write: 32-bit, or 64-bit as two halves (low first). */
static void bm_write(void *ctx, dl_space space, unsigned index, uint64_t offset, uint32_t size,
                     uint64_t value) {
  (void)space;
  (void)index;
  if (offset % 4) return;
  if (size == 4 || size == 8) reg_write(ctx, offset, (uint32_t)value);
  if (size == 8) reg_write(ctx, offset + 4, (uint32_t)(value >> 32));
}

/* Frees the device. Its pending clock events are left: the machine frees
** its models before its clock, which never runs them. */
static void bm_destroy(void *ctx) {
  dl_busmaster *bm = ctx;
  dl_pagemap_clear(&bm->medium);
  free(bm->elem);
  free(bm->faults);
  free(bm);
}

static const dl_devmodel_ops bm_ops = {bm_read, bm_write, bm_destroy};

/* ---- the public API ------------------------------------------------------- */

/* Fills *cfg with the defaults. */
void dl_busmaster_config_init(dl_busmaster_config *cfg) {
  cfg->bandwidth = UINT64_C(1) << 30;
  cfg->setup_latency = 2000;
  cfg->max_transfer = UINT64_C(1) << 20;
  cfg->max_sg = 64;
  cfg->address_width = 64;
  cfg->alignment = 1;
  cfg->capacity = UINT64_C(1) << 30;
  cfg->sector_size = 4096;
}

/* Returns 1 for 1, 2, 4, ... */
static int is_pow2(uint64_t v) { return v && !(v & (v - 1)); }

/* Returns 1 if every field of cfg is in its range. */
static int config_ok(const dl_busmaster_config *cfg) {
  return cfg->bandwidth > 0 && cfg->max_transfer > 0 && cfg->max_sg >= 1 &&
         cfg->max_sg <= DL_BM_MAX_SG_LIMIT && cfg->address_width >= 1 &&
         cfg->address_width <= 64 && is_pow2(cfg->alignment) && cfg->capacity > 0 &&
         is_pow2(cfg->sector_size) && cfg->sector_size >= 512 && cfg->sector_size <= 65536;
}

/* Creates the device and its model. */
int dl_busmaster_new(dl_machine *m, const char *name, uint32_t vector, uint8_t irql,
                     const dl_busmaster_config *cfg, dl_busmaster **out) {
  if (!config_ok(cfg)) return DL_EINVAL;
  dl_busmaster *bm = calloc(1, sizeof *bm);
  if (!bm) return DL_ENOMEM;
  bm->elem = calloc(cfg->max_sg, sizeof *bm->elem);
  if (!bm->elem) {
    free(bm);
    return DL_ENOMEM;
  }
  bm->m = m;
  bm->pm = dl_machine_physmem(m);
  bm->clock = dl_machine_clock(m);
  bm->run = dl_trace_stats(dl_machine_trace(m));
  bm->cfg = *cfg;
  dl_pagemap_init(&bm->medium, cfg->sector_size);
  bm->sector_shift = (unsigned)__builtin_ctz(cfg->sector_size);
  bm->top = cfg->address_width >= 64 ? UINT64_MAX : (UINT64_C(1) << cfg->address_width) - 1;
  int rc = dl_devmodel_new(m, name, DL_BM_REGISTERS, vector, irql, &bm_ops, bm, &bm->dm);
  if (rc) {
    bm_destroy(bm);
    return rc;
  }
  *out = bm;
  return DL_OK;
}

/* Frees the device and its model. */
void dl_busmaster_free(dl_busmaster *bm) {
  if (bm) dl_devmodel_free(bm->dm);
}

/* The device's model. */
dl_devmodel *dl_busmaster_model(dl_busmaster *bm) { return bm->dm; }

/* The busmaster behind a model, or NULL. */
dl_busmaster *dl_busmaster_of(dl_devmodel *dm) {
  return dm && dm->ops == &bm_ops ? dm->ctx : NULL;
}

/* The configuration. */
const dl_busmaster_config *dl_busmaster_config_of(const dl_busmaster *bm) { return &bm->cfg; }

/* Adds a fault; a spurious interrupt by time gets its own clock event. */
int dl_busmaster_inject(dl_busmaster *bm, const dl_bm_fault *f) {
  if (f->kind < DL_BM_FAULT_ERROR || f->kind >= DL_BM_FAULT_KIND_COUNT ||
      f->trigger > DL_BM_PROBABILITY || !(f->probability >= 0 && f->probability <= 1) ||
      (f->trigger == DL_BM_AT_COMMAND && f->at == 0))
    return DL_EINVAL;
  if (dl_vec_reserve(bm->faults, bm->cap_faults, bm->nfaults + 1)) return DL_ENOMEM;
  size_t i = bm->nfaults;
  if (f->trigger == DL_BM_AT_TIME && f->kind == DL_BM_FAULT_SPURIOUS_INTERRUPT) {
    uint64_t t = f->at > now(bm) ? f->at : now(bm);
    int rc = dl_clock_at(dl_machine_clock(bm->m), t, on_timed_spurious, bm, i, NULL);
    if (rc) return rc;
  }
  bm->faults[i] = (fault_slot){*f, 0};
  bm->nfaults++;
  return DL_OK;
}

/* Reads the medium. */
int dl_busmaster_medium_read(dl_busmaster *bm, uint64_t offset, void *dst, uint64_t len) {
  if (!on_medium(bm, offset, len)) return DL_ERANGE;
  medium_get(bm, offset, dst, len);
  return DL_OK;
}

/* Writes the medium. */
int dl_busmaster_medium_write(dl_busmaster *bm, uint64_t offset, const void *src, uint64_t len) {
  if (!on_medium(bm, offset, len)) return DL_ERANGE;
  return medium_put(bm, offset, src, len);
}

/* The device's counters. */
void dl_busmaster_stats_get(const dl_busmaster *bm, dl_busmaster_stats *out) { *out = bm->stats; }

/* Name of a fault kind. */
const char *dl_bm_fault_name(dl_bm_fault_kind kind) {
  static const char *const names[] = {NULL, "error", "short", "drop_interrupt",
                                      "spurious_interrupt", "latency", "hang"};
  return kind >= DL_BM_FAULT_ERROR && kind < DL_BM_FAULT_KIND_COUNT ? names[kind] : NULL;
}
