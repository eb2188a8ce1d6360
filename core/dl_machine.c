/*
** dl_machine.c: building a machine, and buffers on it.
*/
#include "dl_machine.h"

#include <stdlib.h>
#include <string.h>

#include "dl_mdl.h"
#include "dl_status.h"

/* Where kernel buffers start: an address well away from 0 that stays
** positive as a Lua integer, so scripts can compare and add addresses. */
#define VA_BASE UINT64_C(0x00000A0000000000)

struct dl_machine {
  dl_machine_config cfg;
  dl_rng rng;
  dl_clock *clock;
  dl_physmem *mem;
  dl_vspace *vs;
  dl_link mdls;
  uint64_t next_id;
};

/* Fills *cfg with the defaults. */
void dl_machine_config_init(dl_machine_config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  cfg->page_size = 4096;
  cfg->ram[0].base = 0;
  cfg->ram[0].size = UINT64_C(16) << 30;
  cfg->nram = 1;
  cfg->alloc = DL_ALLOC_SCATTERED;
}

/* Builds a machine from *cfg. */
int dl_machine_new(const dl_machine_config *cfg, dl_machine **out) {
  if (!cfg || !out || cfg->nram == 0 || cfg->nram > DL_MAX_RAM_RANGES) return DL_EINVAL;
  if (cfg->alloc >= DL_ALLOC_POLICY_COUNT) return DL_EINVAL;
  dl_machine *m = calloc(1, sizeof *m);
  if (!m) return DL_ENOMEM;
  m->cfg = *cfg;
  dl_rng_seed(&m->rng, cfg->seed);
  dl_list_init(&m->mdls);
  int rc = DL_OK;
  if (!(m->clock = dl_clock_new())) rc = DL_ENOMEM;
  if (!rc) rc = dl_physmem_new(cfg->page_size, cfg->ram, cfg->nram, &m->rng, &m->mem);
  if (!rc) rc = dl_vspace_new(cfg->page_size, VA_BASE, &m->vs);
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
  while (!dl_list_empty(&m->mdls)) dl_mdl_destroy(dl_mdl_from_link(m->mdls.next));
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
uint32_t dl_machine_page_size(const dl_machine *m) { return m->cfg.page_size; }
dl_link *dl_machine_mdls(dl_machine *m) { return &m->mdls; }

/* Returns a fresh object id. */
uint64_t dl_machine_next_id(dl_machine *m) { return ++m->next_id; }

/* Allocates pages by policy and maps them as a new region. */
int dl_buffer_new(dl_machine *m, uint64_t length, uint32_t offset,
                  dl_alloc_policy policy, dl_region_kind kind, dl_region **out) {
  uint64_t ps = m->cfg.page_size;
  if (length == 0 || offset >= ps || length > UINT64_MAX - ps - offset) return DL_EINVAL;
  uint64_t npages = (offset + length + ps - 1) / ps;
  uint64_t *pfns = malloc(npages * sizeof *pfns);
  if (!pfns) return DL_ENOMEM;
  int rc = dl_physmem_alloc(m->mem, npages, policy, pfns);
  if (!rc) {
    rc = dl_vspace_map(m->vs, length, offset, pfns, npages, kind, out);
    if (rc) dl_physmem_release(m->mem, pfns, npages);
  }
  free(pfns);
  return rc;
}

/* Frees a buffer and its pages; DL_EBUSY while an MDL holds it locked. */
int dl_buffer_free(dl_machine *m, dl_region *buf) {
  if (buf->locks) return DL_EBUSY;
  dl_physmem_release(m->mem, buf->pfns, buf->npages);
  return dl_vspace_unmap(m->vs, buf);
}

/* Visits each physical piece of [va, va+len) inside one region. */
typedef int (*va_piece_fn)(dl_physmem *pm, uint64_t pa, uint64_t done, uint64_t n, void *ctx);

static int for_va_pieces(dl_machine *m, uint64_t va, uint64_t len, va_piece_fn fn, void *ctx) {
  if (len == 0) return DL_OK;
  dl_region *r = dl_vspace_find(m->vs, va, len);
  if (!r) return DL_ENOTMAPPED;
  uint64_t ps = m->cfg.page_size, done = 0;
  while (done < len) {
    uint64_t at = va + done;
    uint64_t n = ps - (at & (ps - 1));
    if (n > len - done) n = len - done;
    int rc = fn(m->mem, dl_region_pa(r, at, (uint32_t)ps), done, n, ctx);
    if (rc) return rc;
    done += n;
  }
  return DL_OK;
}

static int read_piece(dl_physmem *pm, uint64_t pa, uint64_t done, uint64_t n, void *ctx) {
  return dl_physmem_read(pm, pa, (uint8_t *)ctx + done, n);
}

static int write_piece(dl_physmem *pm, uint64_t pa, uint64_t done, uint64_t n, void *ctx) {
  return dl_physmem_write(pm, pa, (const uint8_t *)ctx + done, n);
}

static int fill_piece(dl_physmem *pm, uint64_t pa, uint64_t done, uint64_t n, void *ctx) {
  (void)done;
  return dl_physmem_fill(pm, pa, *(int *)ctx, n);
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
  return for_va_pieces(m, va, len, fill_piece, &byte);
}
