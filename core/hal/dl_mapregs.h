/*
** dl_mapregs.h: the map register file of the master adapter.
** Each register is one page of RAM reserved when the machine is built
** (dl_mapregs_of: below 16 MiB when the RAM has room there, so below
** the ceiling of every device), used as a bounce page; an adapter that
** needs registers and whose ceiling is below them gets none (IoGetDmaAdapter
** returns NULL). Allocation takes a contiguous run of
** registers (first fit), as the HAL's RtlFindClearBitsAndSet does. Requests
** that cannot be served wait in one FIFO, which the adapter code serves from
** its head only (head-of-line blocking).
*/
#ifndef DL_MAPREGS_H
#define DL_MAPREGS_H

#include <stdint.h>

#include "base/dl_list.h"
#include "memory/dl_physmem.h"

typedef struct dl_mapregs {
  uint32_t count, nfree, high_water;
  uint64_t first_pfn;      /* registers are pages first_pfn .. first_pfn+count-1 */
  uint8_t *allocated;      /* per register: held by some allocation */
  uint8_t *mapped;         /* per register: holds a mapping not yet flushed */
  dl_link waiters;         /* requests waiting for registers, oldest first */
  int serving, rerun;      /* re-entrancy guard of the waiter loop */
} dl_mapregs;

/* Makes a register file over pages already reserved from first_pfn. */
int dl_mapregs_new_at(uint64_t first_pfn, uint32_t count, dl_mapregs **out);

/* Frees the register file; NULL is a harmless no-op. */
void dl_mapregs_free(dl_mapregs *mr);

/* The machine's pool, made on first use (from the pages the machine set
** aside, else from RAM below 16 MiB); NULL if none can be made. */
typedef struct dl_machine dl_machine;
dl_mapregs *dl_mapregs_of(dl_machine *m);

/* Takes the first run of n free registers; DL_ENOSPACE if there is none. */
int dl_mapregs_take(dl_mapregs *mr, uint32_t n, uint32_t *first);

/* 1 if a request for n registers would be granted at once: no request
** waits before it and a run of n is free (the run search of take). */
int dl_mapregs_can_take(const dl_mapregs *mr, uint32_t n);

/* Returns n registers from first. */
void dl_mapregs_give(dl_mapregs *mr, uint32_t first, uint32_t n);

/* Finds the first run of n registers in [lo, hi) not holding a mapping. */
int dl_mapregs_find_unmapped(const dl_mapregs *mr, uint32_t lo, uint32_t hi, uint32_t n,
                             uint32_t *first);

/* Physical address of register i. */
uint64_t dl_mapregs_pa(const dl_mapregs *mr, uint32_t i, uint32_t page_size);

#endif
