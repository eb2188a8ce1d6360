/*
** dl_machine.c: building a machine, and buffers on it.
*/
#include "machine/dl_machine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/dl_status.h"
#include "machine/dl_dmamap.h"
#include "machine/dl_object.h"
#include "machine/dl_trace.h"
#include "machine/dl_verifier.h"
#include "memory/dl_cache.h"
#include "base/dl_wdk.h"

/* Where kernel buffers start: an address well away from 0 that stays
** positive as a Lua integer, so scripts can compare and add addresses. */
#define VA_BASE UINT64_C(0x00000A0000000000)

struct dl_machine {
  dl_machine_config cfg;
  dl_rng rng;
  dl_clock *clock;
  dl_physmem *mem;
  dl_vspace *vs;
  dl_link objects;      /* every object on the machine, in creation order */
  uint64_t next_id;
  dl_cpu cpus[DL_MAX_CPUS];
  int current_cpu;
  dl_trace *trace;
  dl_verifier *verifier;
  uint64_t mapregs_first;       /* pages reserved for the HAL's map registers... */
  uint32_t mapregs_count;       /* ...and how many (0: none) */
  uint64_t swiotlb_first;       /* pages reserved for the swiotlb pool, and how many */
  uint32_t swiotlb_count;
  void *parts[DL_PART_COUNT];
  void (*part_destroy[DL_PART_COUNT])(void *part);
  dl_dmamap *dmamap;
  dl_cache *cache;
  void *data;
  void (*gone)(dl_object *o);   /* the binding's hook, see dl_machine_on_gone */
  size_t holding;               /* requests that may hold an object (dl_machine_holding) */
};

/* Fills *cfg with the defaults. */
void dl_machine_config_init(dl_machine_config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  cfg->page_size = 4096;
  cfg->ram[0].base = 0;
  cfg->ram[0].size = UINT64_C(16) << 30;
  cfg->nram = 1;
  cfg->alloc = DL_ALLOC_SCATTERED;
  cfg->coherent = 1;
  cfg->map_registers = 64;
  cfg->adapter_map_registers = 16;
  cfg->cpus = 1;
  cfg->dpc_latency = 2000;
  cfg->interrupt_latency = 1000;
  cfg->trace_capacity = 65536;
  dl_platform_config_init(&cfg->platform);
}

/* Checks the options that have a range (RAM ranges are checked by
** physmem); DL_EINVAL with the option and its valid range in why. */
int dl_machine_config_check(const dl_machine_config *cfg, char *why, size_t size) {
  uint32_t ps = cfg->page_size, most = ps >= 4096 ? DL_MAP_REGISTER_BYTES / ps : 0;
  if (ps < 4096 || ps > 65536 || (ps & (ps - 1))) {
    snprintf(why, size, "page_size must be a power of two from 4096 to 65536 (not %u)", ps);
  } else if (cfg->map_registers > most) {
    snprintf(why, size, "map_registers must be from 0 to %u with %u KiB pages (16 MiB of map "
             "registers at most), not %u", most, ps / 1024, cfg->map_registers);
  } else if (cfg->adapter_map_registers < 1 || cfg->adapter_map_registers > DL_MAX_MAP_REGISTERS) {
    snprintf(why, size, "adapter_map_registers must be from 1 to %u, not %u", DL_MAX_MAP_REGISTERS,
             cfg->adapter_map_registers);
  } else if (cfg->cpus < 1 || cfg->cpus > DL_MAX_CPUS) {
    snprintf(why, size, "cpus must be from 1 to %d, not %u", DL_MAX_CPUS, cfg->cpus);
  } else if (cfg->nram < 1 || cfg->nram > DL_MAX_RAM_RANGES) {
    snprintf(why, size, "ram needs 1 to %d ranges", DL_MAX_RAM_RANGES);
  } else if (cfg->alloc >= DL_ALLOC_POLICY_COUNT) {
    snprintf(why, size, "alloc must be contiguous, scattered, high_first or low_first");
  } else {
    return dl_platform_config_check(&cfg->platform, ps, why, size);
  }
  return DL_EINVAL;
}

/* Reserves the map register pool at boot, as the HAL does: the highest
** run of RAM below 16 MiB that holds it (below every device's ceiling),
** else below 4 GiB, else the lowest run; no pool if the RAM cannot hold it. */
static int reserve_map_registers(dl_machine *m) {
  uint32_t n = m->cfg.map_registers;
  uint64_t first;
  if (n == 0) return DL_OK;
  if (dl_physmem_alloc_contiguous_top(m->mem, n, UINT64_C(0xFFFFFF), &first) &&
      dl_physmem_alloc_contiguous_top(m->mem, n, UINT64_C(0xFFFFFFFF), &first) &&
      dl_physmem_alloc_contiguous(m->mem, n, UINT64_MAX, 0, &first))
    return DL_OK;
  m->mapregs_first = first;
  m->mapregs_count = n;
  return DL_OK;
}

/* Reserves the swiotlb pool at boot, as Linux does: below 4 GiB, where
** every 32-bit device reaches it; DL_ENOSPACE if no run holds it. */
static int reserve_swiotlb(dl_machine *m) {
  const dl_platform_config *p = &m->cfg.platform;
  if (p->bounce_policy != DL_BOUNCE_SWIOTLB) return DL_OK;
  uint64_t bytes = (uint64_t)p->swiotlb_slots * p->swiotlb_slot_size, ps = m->cfg.page_size;
  uint32_t n = (uint32_t)((bytes + ps - 1) / ps);
  if (dl_physmem_alloc_contiguous_top(m->mem, n, UINT64_C(0xFFFFFFFF), &m->swiotlb_first))
    return DL_ENOSPACE;
  m->swiotlb_count = n;
  return DL_OK;
}

/* Builds a machine from *cfg. */
int dl_machine_new(const dl_machine_config *cfg, dl_machine **out) {
  char why[160];
  if (!cfg || !out || dl_machine_config_check(cfg, why, sizeof why)) return DL_EINVAL;
  dl_machine *m = calloc(1, sizeof *m);
  if (!m) return DL_ENOMEM;
  m->cfg = *cfg;
  dl_rng_seed(&m->rng, cfg->seed);
  dl_list_init(&m->objects);
  for (uint32_t i = 0; i < cfg->cpus; i++) dl_list_init(&m->cpus[i].dpcs);
  int rc = DL_OK;
  if (!(m->clock = dl_clock_new()) || !(m->verifier = dl_verifier_new()) ||
      !(m->trace = dl_trace_new(cfg->trace_capacity)))
    rc = DL_ENOMEM;
  if (!rc) rc = dl_physmem_new(cfg->page_size, cfg->ram, cfg->nram, &m->rng, &m->mem);
  if (!rc) rc = dl_vspace_new(cfg->page_size, VA_BASE, &m->vs);
  if (!rc) rc = dl_dmamap_new(&m->dmamap);
  if (!rc && !cfg->coherent) rc = dl_cache_new(m->mem, &m->cache);
  if (!rc) rc = reserve_map_registers(m);
  if (!rc) rc = reserve_swiotlb(m);
  if (rc) {
    dl_machine_free(m);
    return rc;
  }
  *out = m;
  return DL_OK;
}

/* Frees the machine and everything on it; NULL is a harmless no-op. */
void dl_machine_free(dl_machine *m) {
  if (!m) return;
  if (m->objects.next) dl_machine_destroy_objects(m);
  for (int i = 0; i < DL_PART_COUNT; i++)
    if (m->parts[i]) m->part_destroy[i](m->parts[i]);
  dl_trace_free(m->trace);
  dl_dmamap_free(m->dmamap);
  dl_cache_free(m->cache);
  dl_verifier_free(m->verifier);
  dl_vspace_free(m->vs);
  dl_physmem_free(m->mem);
  dl_clock_free(m->clock);
  free(m);
}

dl_clock *dl_machine_clock(dl_machine *m) { return m->clock; }
dl_physmem *dl_machine_physmem(dl_machine *m) { return m->mem; }
dl_vspace *dl_machine_vspace(dl_machine *m) { return m->vs; }
dl_rng *dl_machine_rng(dl_machine *m) { return &m->rng; }
const dl_machine_config *dl_machine_config_of(const dl_machine *m) { return &m->cfg; }
const dl_platform_config *dl_machine_platform(const dl_machine *m) { return &m->cfg.platform; }
uint32_t dl_machine_page_size(const dl_machine *m) { return m->cfg.page_size; }

void *dl_machine_data(const dl_machine *m) { return m->data; }
void dl_machine_set_data(dl_machine *m, void *data) { m->data = data; }
dl_verifier *dl_machine_verifier(dl_machine *m) { return m->verifier; }
dl_dmamap *dl_machine_dmamap(dl_machine *m) { return m->dmamap; }
dl_cache *dl_machine_cache(dl_machine *m) { return m->cache; }
uint8_t dl_machine_irql(const dl_machine *m) { return m->cpus[m->current_cpu].irql; }
void dl_machine_set_irql(dl_machine *m, uint8_t irql) { m->cpus[m->current_cpu].irql = irql; }
int dl_machine_current_cpu(const dl_machine *m) { return m->current_cpu; }
void dl_machine_set_current_cpu(dl_machine *m, int n) { m->current_cpu = n; }
dl_cpu *dl_machine_cpu(dl_machine *m, int n) { return &m->cpus[n]; }
dl_trace *dl_machine_trace(dl_machine *m) { return m->trace; }

/* The part in `slot`, or NULL. */
void *dl_machine_part(const dl_machine *m, int slot) { return m->parts[slot]; }

/* Hands the machine a part to free with it. */
void dl_machine_set_part(dl_machine *m, int slot, void *part, void (*destroy)(void *part)) {
  m->parts[slot] = part;
  m->part_destroy[slot] = destroy;
}

/* The pages reserved for the HAL's map registers. */
uint32_t dl_machine_map_register_pages(const dl_machine *m, uint64_t *first_pfn) {
  *first_pfn = m->mapregs_first;
  return m->mapregs_count;
}

/* The pages reserved for the swiotlb pool. */
uint32_t dl_machine_swiotlb_pages(const dl_machine *m, uint64_t *first_pfn) {
  *first_pfn = m->swiotlb_first;
  return m->swiotlb_count;
}

/* The list of every object on the machine (dl_object.c walks it). */
dl_link *dl_machine_objects(dl_machine *m) { return &m->objects; }

/* The binding's hook for objects going away. */
void dl_machine_on_gone(dl_machine *m, dl_gone_fn fn) { m->gone = fn; }
void (*dl_machine_gone_hook(const dl_machine *m))(dl_object *o) { return m->gone; }

/* Returns a fresh object id. */
uint64_t dl_machine_next_id(dl_machine *m) { return ++m->next_id; }

/* The count of waiting requests that may hold an object. */
size_t *dl_machine_holding(dl_machine *m) { return &m->holding; }

/* Allocates pages by policy and maps them as a new region. */
int dl_buffer_new(dl_machine *m, uint64_t length, uint32_t offset,
                  dl_alloc_policy policy, dl_region_kind kind, dl_region **out) {
  uint64_t ps = m->cfg.page_size;
  if (length == 0 || offset >= ps || length > UINT64_MAX - ps - offset) return DL_EINVAL;
  uint64_t npages = dl_span_pages(offset, length, ps);
  dl_runs runs;
  int rc = dl_physmem_alloc_runs(m->mem, npages, policy, &runs);
  if (!rc) {
    rc = dl_vspace_map_runs(m->vs, length, offset, runs.runs, runs.n, kind, out);
    if (rc) dl_physmem_release_runs(m->mem, &runs);
  }
  free(runs.runs);
  return rc;
}

/* Frees a buffer and its pages; DL_EBUSY while an MDL holds it locked. */
int dl_buffer_free(dl_machine *m, dl_region *buf) {
  if (buf->locks || buf->dma_maps) return DL_EBUSY;  /* a device may still write its pages */
  for (size_t i = 0; i < buf->nruns; i++)
    dl_physmem_release_run(m->mem, buf->runs[i].pfn, buf->runs[i].count);
  return dl_vspace_unmap(m->vs, buf);
}

/* Visits each physical piece of [va, va+len) inside one region. */
typedef int (*va_piece_fn)(dl_machine *m, uint64_t pa, uint64_t done, uint64_t n, void *ctx);

static int for_va_pieces(dl_machine *m, uint64_t va, uint64_t len, va_piece_fn fn, void *ctx) {
  if (len == 0) return DL_OK;
  dl_region *r = dl_vspace_find(m->vs, va, len);
  if (!r) return DL_ENOTMAPPED;
  uint64_t ps = m->cfg.page_size, done = 0;
  while (done < len) {
    uint64_t at = va + done;
    uint64_t n = ps - (at & (ps - 1));
    if (n > len - done) n = len - done;
    int rc = fn(m, dl_region_pa(r, at, (uint32_t)ps), done, n, ctx);
    if (rc) return rc;
    done += n;
  }
  return DL_OK;
}

/* CPU read by physical address (through the cache when non-coherent). */
int dl_machine_cpu_read(dl_machine *m, uint64_t pa, void *dst, uint64_t len) {
  return m->cache ? dl_cache_read(m->cache, pa, dst, len) : dl_physmem_read(m->mem, pa, dst, len);
}

/* CPU write by physical address (through the cache when non-coherent). */
int dl_machine_cpu_write(dl_machine *m, uint64_t pa, const void *src, uint64_t len) {
  return m->cache ? dl_cache_write(m->cache, pa, src, len) : dl_physmem_write(m->mem, pa, src, len);
}

static int read_piece(dl_machine *m, uint64_t pa, uint64_t done, uint64_t n, void *ctx) {
  return dl_machine_cpu_read(m, pa, (uint8_t *)ctx + done, n);
}

static int write_piece(dl_machine *m, uint64_t pa, uint64_t done, uint64_t n, void *ctx) {
  return dl_machine_cpu_write(m, pa, (const uint8_t *)ctx + done, n);
}

static int fill_piece(dl_machine *m, uint64_t pa, uint64_t done, uint64_t n, void *ctx) {
  (void)done;
  uint8_t bytes[4096];
  memset(bytes, *(int *)ctx, n < sizeof bytes ? n : sizeof bytes);
  for (uint64_t at = 0; at < n; at += sizeof bytes) {
    int rc = dl_machine_cpu_write(m, pa + at, bytes, n - at < sizeof bytes ? n - at : sizeof bytes);
    if (rc) return rc;
  }
  return DL_OK;
}

/* Fills [va, va+len) of one region a physically contiguous run at a time,
** straight into physical memory (no cache to go through): zeros store
** nothing, and a huge buffer takes one call a run, not a page. */
static int fill_runs(dl_machine *m, uint64_t va, int byte, uint64_t len) {
  if (len == 0) return DL_OK;
  dl_region *r = dl_vspace_find(m->vs, va, len);
  if (!r) return DL_ENOTMAPPED;
  uint64_t ps = m->cfg.page_size, page0 = r->va & ~(ps - 1);
  while (len) {
    uint64_t at = va - page0, left, pfn = dl_region_run_at(r, at / ps, &left);
    uint64_t n = left * ps - at % ps;
    if (n > len) n = len;
    int rc = dl_physmem_fill(m->mem, pfn * ps + at % ps, byte, (size_t)n);
    if (rc) return rc;
    va += n;
    len -= n;
  }
  return DL_OK;
}

/* Copies len bytes at virtual address va into dst. */
int dl_machine_read_va(dl_machine *m, uint64_t va, void *dst, uint64_t len) {
  return for_va_pieces(m, va, len, read_piece, dst);
}

/* Copies len bytes from src to virtual address va. */
int dl_machine_write_va(dl_machine *m, uint64_t va, const void *src, uint64_t len) {
  return for_va_pieces(m, va, len, write_piece, (void *)src);
}

/* Sets len bytes at virtual address va to byte. */
int dl_machine_fill_va(dl_machine *m, uint64_t va, int byte, uint64_t len) {
  if (!m->cache) return fill_runs(m, va, byte, len);
  return for_va_pieces(m, va, len, fill_piece, &byte);
}
