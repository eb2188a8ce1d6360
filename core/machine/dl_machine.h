/*
** dl_machine.h: a simulated machine: clock, seeded RNG, physical memory, a
** kernel virtual address space and the objects that live on it. Everything
** a scenario does happens on one machine; nothing in it reads the host's
** clock, so the same configuration and seed give the same run.
*/
#ifndef DL_MACHINE_H
#define DL_MACHINE_H

#include <stdint.h>

#include "machine/dl_clock.h"
#include "base/dl_list.h"
#include "machine/dl_context.h"
#include "memory/dl_physmem.h"
#include "base/dl_rng.h"
#include "base/dl_wdk.h"  /* IRQL values */
#include "memory/dl_vspace.h"
#include "machine/dl_platform.h"

typedef struct dl_machine dl_machine;

#define DL_MAX_RAM_RANGES 16

/* The map register pool is at most 16 MiB of RAM (4096 registers of 4 KiB,
** 256 of 64 KiB), the most the HAL keeps; an adapter's cap is at most 4096. */
#define DL_MAP_REGISTER_BYTES (UINT32_C(16) << 20)
#define DL_MAX_MAP_REGISTERS 4096u

/* How to build a machine; dl_machine_config_init gives the defaults. */
typedef struct dl_machine_config {
  uint64_t seed;
  uint32_t page_size;                 /* default 4096 */
  dl_range ram[DL_MAX_RAM_RANGES];    /* default one range: 16 GiB at 0 */
  size_t nram;
  dl_alloc_policy alloc;              /* default policy for buffers */
  int coherent;                       /* DMA snoops CPU caches (default 1, as x86) */
  uint32_t map_registers;             /* system-wide map register pool (64; at most
                                         DL_MAP_REGISTER_BYTES / page_size) */
  uint32_t adapter_map_registers;     /* cap per adapter (16; 1 to DL_MAX_MAP_REGISTERS) */
  uint32_t cpus;                      /* simulated CPUs (1; 1 to DL_MAX_CPUS) */
  uint64_t dpc_latency;               /* ns from an empty queue's first insert to its drain (2000) */
  uint64_t interrupt_latency;         /* ns from line assertion to ISR (1000) */
  size_t trace_capacity;              /* trace records kept (65536; 0: all) */
  dl_platform_config platform;        /* IOMMU and bounce policy (README "Platforms") */
} dl_machine_config;


#define DL_MAX_CPUS 64

/* One CPU's state: its IRQL, the ISR running on it, and its DPC queue
** (kernel/dl_cpu.c runs the queue). */
typedef struct dl_cpu {
  uint8_t irql;
  void *isr;               /* the interrupt whose ISR runs on it, or NULL */
  dl_link dpcs;            /* queued DPCs, in the order they will run */
  int drain_scheduled;     /* a drain event is pending... */
  uint64_t drain_event;    /* ...with this clock id */
  int stalling;            /* KeStallExecutionProcessor runs the clock (depth) */
} dl_cpu;


/* How the machine was built. */
const dl_machine_config *dl_machine_config_of(const dl_machine *m);

/* CPU n (the current one is dl_machine_current_cpu). */
dl_cpu *dl_machine_cpu(dl_machine *m, int n);

/* Machine-wide parts (DL_PART_*) are listed in dl_context.h. */

/* Fills *cfg with the defaults. */
void dl_machine_config_init(dl_machine_config *cfg);

/* Checks the options that have a range; DL_EINVAL with a sentence naming
** the option and its valid range in why (RAM ranges: dl_physmem_new). */
int dl_machine_config_check(const dl_machine_config *cfg, char *why, size_t size);

/* Builds a machine from *cfg; DL_EINVAL if an option is out of range. */
int dl_machine_new(const dl_machine_config *cfg, dl_machine **out);

/* Frees the machine and everything on it; NULL is a harmless no-op. */
void dl_machine_free(dl_machine *m);


/* The pages reserved for the HAL's map registers when the machine was
** built: the highest run of map_registers pages below 16 MiB, else below
** 4 GiB, else the lowest run. Returns the count (0: map_registers is 0 or
** no run holds them) and sets *first_pfn. */
uint32_t dl_machine_map_register_pages(const dl_machine *m, uint64_t *first_pfn);

/* The pages reserved at boot for the swiotlb pool (bounce_policy swiotlb):
** the highest run below 4 GiB that holds it. Returns the count (0: none). */
uint32_t dl_machine_swiotlb_pages(const dl_machine *m, uint64_t *first_pfn);


/* The user slot, for the binding. */
void *dl_machine_data(const dl_machine *m);
void dl_machine_set_data(dl_machine *m, void *data);



/* Allocates a buffer: `length` bytes starting `offset` bytes into its first
** page, backed by pages chosen by `policy`, mapped as a region of `kind`;
** DL_EINVAL for an empty or overflowing length, DL_ENOSPACE when the RAM
** (or the virtual address space) cannot hold it, DL_ELIMIT beyond
** DL_MAX_RUNS physically contiguous runs or the host cap. The buffer keeps
** its pages as runs and page bytes exist only once written, so a 1 TiB
** buffer is made in microseconds and costs nothing until touched. */
int dl_buffer_new(dl_machine *m, uint64_t length, uint32_t offset,
                  dl_alloc_policy policy, dl_region_kind kind, dl_region **out);

/* Frees a buffer and its pages; DL_EBUSY (nothing freed) while an MDL holds
** it locked or its pages are mapped for DMA (dl_region.dma_maps). */
int dl_buffer_free(dl_machine *m, dl_region *buf);

/* CPU access by virtual address. The range must lie inside one region
** (DL_ENOTMAPPED otherwise). On a non-coherent machine these go through the
** CPU cache, so a device sees CPU writes only after KeFlushIoBuffers. */

/* Copies len bytes at virtual address va into dst. */
int dl_machine_read_va(dl_machine *m, uint64_t va, void *dst, uint64_t len);

/* Copies len bytes from src to virtual address va. */
int dl_machine_write_va(dl_machine *m, uint64_t va, const void *src, uint64_t len);

/* Sets len bytes at virtual address va to byte. */
int dl_machine_fill_va(dl_machine *m, uint64_t va, int byte, uint64_t len);

/* CPU access by physical address (through the cache when non-coherent). */
int dl_machine_cpu_read(dl_machine *m, uint64_t pa, void *dst, uint64_t len);
int dl_machine_cpu_write(dl_machine *m, uint64_t pa, const void *src, uint64_t len);

#endif
