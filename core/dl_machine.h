/*
** dl_machine.h: a simulated machine: clock, seeded RNG, physical memory, a
** kernel virtual address space and the objects that live on it. Everything
** a scenario does happens on one machine; nothing in it reads the host's
** clock, so the same configuration and seed give the same run.
*/
#ifndef DL_MACHINE_H
#define DL_MACHINE_H

#include <stdint.h>

#include "dl_clock.h"
#include "dl_list.h"
#include "dl_physmem.h"
#include "dl_rng.h"
#include "dl_vspace.h"

typedef struct dl_machine dl_machine;

#define DL_MAX_RAM_RANGES 16

/* How to build a machine; dl_machine_config_init gives the defaults. */
typedef struct dl_machine_config {
  uint64_t seed;
  uint32_t page_size;                 /* default 4096 */
  dl_range ram[DL_MAX_RAM_RANGES];    /* default one range: 16 GiB at 0 */
  size_t nram;
  dl_alloc_policy alloc;              /* default policy for buffers */
} dl_machine_config;

/* Fills *cfg with the defaults. */
void dl_machine_config_init(dl_machine_config *cfg);

/* Builds a machine from *cfg. */
int dl_machine_new(const dl_machine_config *cfg, dl_machine **out);

/* Frees the machine and everything on it; NULL is a harmless no-op. */
void dl_machine_free(dl_machine *m);

/* The machine's parts. */
dl_clock *dl_machine_clock(dl_machine *m);
dl_physmem *dl_machine_physmem(dl_machine *m);
dl_vspace *dl_machine_vspace(dl_machine *m);
dl_rng *dl_machine_rng(dl_machine *m);
const dl_machine_config *dl_machine_config_of(const dl_machine *m);
uint32_t dl_machine_page_size(const dl_machine *m);

/* Returns a fresh object id (1, 2, ...): ids label objects in messages and
** traces, and counting per machine keeps them reproducible. */
uint64_t dl_machine_next_id(dl_machine *m);

/* Head of the list of live MDLs (owned by dl_mdl.c). */
dl_link *dl_machine_mdls(dl_machine *m);

/* Allocates a buffer: `length` bytes starting `offset` bytes into its first
** page, backed by pages chosen by `policy`, mapped as a region of `kind`. */
int dl_buffer_new(dl_machine *m, uint64_t length, uint32_t offset,
                  dl_alloc_policy policy, dl_region_kind kind, dl_region **out);

/* Frees a buffer and its pages; DL_EBUSY while an MDL holds it locked. */
int dl_buffer_free(dl_machine *m, dl_region *buf);

/* Copies len bytes at virtual address va into dst; the range must lie
** inside one region (DL_ENOTMAPPED otherwise). */
int dl_machine_read_va(dl_machine *m, uint64_t va, void *dst, uint64_t len);

/* Copies len bytes from src to virtual address va. */
int dl_machine_write_va(dl_machine *m, uint64_t va, const void *src, uint64_t len);

/* Sets len bytes at virtual address va to byte. */
int dl_machine_fill_va(dl_machine *m, uint64_t va, int byte, uint64_t len);

#endif
