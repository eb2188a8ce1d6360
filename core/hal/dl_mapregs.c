/*
** dl_mapregs.c: the register file; bytes per register keep it simple and
** the file is small (64 registers by default).
*/
#include "hal/dl_mapregs.h"

#include <stdlib.h>
#include <string.h>

#include "base/dl_status.h"
#include "machine/dl_machine.h"

/* Makes a register file over pages already reserved from first_pfn. */
int dl_mapregs_new_at(uint64_t first_pfn, uint32_t count, dl_mapregs **out) {
  dl_mapregs *mr = calloc(1, sizeof *mr);
  if (!mr) return DL_ENOMEM;
  mr->allocated = calloc(count ? count : 1, 1);
  mr->mapped = calloc(count ? count : 1, 1);
  if (!mr->allocated || !mr->mapped) {
    dl_mapregs_free(mr);
    return DL_ENOMEM;
  }
  mr->first_pfn = first_pfn;
  mr->count = mr->nfree = count;
  dl_list_init(&mr->waiters);
  *out = mr;
  return DL_OK;
}

/* Frees the register file; NULL is a harmless no-op. */
void dl_mapregs_free(dl_mapregs *mr) {
  if (!mr) return;
  free(mr->allocated);
  free(mr->mapped);
  free(mr);
}

/* First run of n zero bytes of flags in [lo, hi). */
static int find_run(const uint8_t *flags, uint32_t lo, uint32_t hi, uint32_t n, uint32_t *first) {
  uint32_t run = 0;
  for (uint32_t i = lo; i < hi; i++) {
    run = flags[i] ? 0 : run + 1;
    if (run == n) {
      *first = i + 1 - n;
      return DL_OK;
    }
  }
  return DL_ENOSPACE;
}

/* Takes the first run of n free registers. */
int dl_mapregs_take(dl_mapregs *mr, uint32_t n, uint32_t *first) {
  if (n == 0 || n > mr->nfree || find_run(mr->allocated, 0, mr->count, n, first))
    return DL_ENOSPACE;
  memset(mr->allocated + *first, 1, n);
  mr->nfree -= n;
  if (mr->count - mr->nfree > mr->high_water) mr->high_water = mr->count - mr->nfree;
  return DL_OK;
}

/* 1 if n registers could be taken at once: nobody waits and a run is free. */
int dl_mapregs_can_take(const dl_mapregs *mr, uint32_t n) {
  uint32_t first;
  return dl_list_empty(&mr->waiters) && (n == 0 || find_run(mr->allocated, 0, mr->count, n, &first) == DL_OK);
}

/* Returns n registers from first. */
void dl_mapregs_give(dl_mapregs *mr, uint32_t first, uint32_t n) {
  memset(mr->allocated + first, 0, n);
  memset(mr->mapped + first, 0, n);
  mr->nfree += n;
}

/* First run of n registers in [lo, hi) holding no mapping. */
int dl_mapregs_find_unmapped(const dl_mapregs *mr, uint32_t lo, uint32_t hi, uint32_t n,
                             uint32_t *first) {
  return find_run(mr->mapped, lo, hi, n, first);
}

/* Physical address of register i. */
uint64_t dl_mapregs_pa(const dl_mapregs *mr, uint32_t i, uint32_t page_size) {
  return (mr->first_pfn + i) * page_size;
}

static void free_part(void *part) { dl_mapregs_free(part); }

/* The machine's pool, made on first use. */
dl_mapregs *dl_mapregs_of(dl_machine *m) {
  dl_mapregs *mr = dl_machine_part(m, DL_PART_MAPREGS);
  if (mr) return mr;
  uint64_t first;
  uint32_t count = dl_machine_map_register_pages(m, &first);
  if (!count || dl_mapregs_new_at(first, count, &mr)) return NULL;
  dl_machine_set_part(m, DL_PART_MAPREGS, mr, free_part);
  return mr;
}
