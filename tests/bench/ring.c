/*
** ring.c: the C device path of `make bench`: the built-in bus master in
** ring mode with no Lua and no driver per transfer. A ring of descriptors
** in guest RAM (4 KiB each, writes and reads alternating over 1024 medium
** offsets, real bytes) is handed to the device again and again; every
** transfer is a full command (descriptor fetch, access check, copy, trace
** records, write-back, clock event). Host time is measured here only.
**
** Usage: ring TRANSFERS [ROUNDS]; prints one line per round
**   "ring transfers=N seconds=S rss1m_kib=A rssend_kib=B bytes=X end_ns=T
**    hash=H records=R inflight_mean=M series=Z"
** (the last four identify the run: trace hash, records emitted, the
** bytes-in-flight gauge's mean and a checksum of its series; an
** optimisation of the path must leave them unchanged).
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/dl_status.h"
#include "devices/dl_busmaster.h"
#include "machine/dl_clock.h"
#include "machine/dl_dmamap.h"
#include "machine/dl_machine.h"
#include "machine/dl_stats.h"
#include "machine/dl_trace.h"
#include "memory/dl_physmem.h"

#define RING 256u          /* descriptors */
#define XFER 4096u         /* bytes a descriptor */
#define DATA_PAGES 64u     /* RAM pages the descriptors cycle over */

/* Host CPU seconds used so far (the bench's own clock, never the
** simulation's): CPU time, as bench.lua's os.clock() for the Lua rows, so
** that other processes on the machine do not count against the engine. */
static double seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The process's resident set in KiB. */
static long rss_kib(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long kib = -1;
  while (f && fgets(line, sizeof line, f))
    if (sscanf(line, "VmRSS: %ld", &kib) == 1) break;
  if (f) fclose(f);
  return kib;
}

static void put_le(uint8_t *p, uint64_t v, int n) {
  for (int i = 0; i < n; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* Writes a 32-bit register. */
static void reg(dl_machine *m, uint64_t regs, uint64_t offset, uint32_t v) {
  if (dl_mmio_write(m, regs + offset, 4, v)) abort();
}

/* Fills descriptor i (logical = physical here) and gives it to the device. */
static void own(dl_physmem *pm, uint64_t ring, uint64_t data, uint64_t n) {
  uint8_t d[DL_BM_RING_DESC] = {0};
  uint32_t i = (uint32_t)(n % RING);
  uint32_t flags = DL_BM_DESC_OWNED | (n % 2 ? 0 : DL_BM_DESC_TO_DEVICE);
  put_le(d, data + (n % DATA_PAGES) * XFER, 8);
  put_le(d + 8, XFER, 4);
  put_le(d + 12, flags, 4);
  put_le(d + 16, (n % 1024) * XFER, 8);
  if (dl_physmem_write(pm, ring + (uint64_t)i * DL_BM_RING_DESC, d, sizeof d)) abort();
}

/* The run's identity: trace hash, records, and the bytes-in-flight gauge
** (mean, and a checksum of its series of means and maxima). */
static void fingerprint(dl_machine *m) {
  dl_trace *t = dl_machine_trace(m);
  dl_runstats *rs = dl_trace_runstats(t);
  uint64_t now = dl_clock_now(dl_machine_clock(m)), width = 0, sum = 0;
  static dl_sample s[DL_SERIES_BINS + 1];
  size_t n = dl_runstats_series(rs, DL_G_BYTES_IN_FLIGHT, now, s, DL_SERIES_BINS + 1, &width);
  for (size_t i = 0; i < n; i++) {
    uint64_t bits;
    memcpy(&bits, &s[i].mean, sizeof bits);
    sum = (sum ^ bits ^ s[i].max ^ s[i].start) * UINT64_C(0x100000001b3);
  }
  printf(" hash=0x%016llx records=%llu inflight_mean=%.9g series=0x%016llx/%zu/%llu\n",
         (unsigned long long)dl_trace_hash(t), (unsigned long long)dl_trace_emitted(t),
         dl_runstats_gauge_mean(rs, DL_G_BYTES_IN_FLIGHT, now), (unsigned long long)sum, n,
         (unsigned long long)width);
}

/* One round of `total` transfers on a fresh machine. */
static void round_of(uint64_t total) {
  dl_machine_config cfg;
  dl_machine_config_init(&cfg);
  cfg.ram[0].size = UINT64_C(4) << 30;
  cfg.trace_capacity = 1024;
  dl_machine *m;
  dl_busmaster *bm;
  dl_busmaster_config bc;
  dl_busmaster_config_init(&bc);
  bc.capacity = UINT64_C(16) << 20;
  if (dl_machine_new(&cfg, &m) || dl_busmaster_new(m, "ring0", 16, 5, &bc, &bm)) abort();
  dl_devmodel *dm = dl_busmaster_model(bm);
  uint64_t regs, ringpfn, datapfn;
  dl_physmem *pm = dl_machine_physmem(m);
  uint32_t ps = dl_machine_page_size(m), h1, h2;
  uint64_t ring_pages = (RING * DL_BM_RING_DESC + ps - 1) / ps;
  if (dl_mmio_map(m, dm->bar, dm->bar_size, &regs) ||
      dl_physmem_alloc_contiguous(pm, ring_pages, UINT64_MAX, 0, &ringpfn) ||
      dl_physmem_alloc_contiguous(pm, DATA_PAGES * XFER / ps, UINT64_MAX, 0, &datapfn))
    abort();
  uint64_t ring = ringpfn * ps, data = datapfn * ps;
  for (uint64_t i = 0; i < DATA_PAGES * XFER; i += 8) dl_physmem_write(pm, data + i, &i, 8);
  dl_dmamap *map = dl_machine_dmamap(m);
  if (dl_dmamap_add(map, ring, ring_pages * ps, &h1) || dl_dmamap_add(map, data, DATA_PAGES * XFER, &h2))
    abort();
  reg(m, regs, DL_BM_DESC_LO, (uint32_t)ring);
  reg(m, regs, DL_BM_DESC_HI, (uint32_t)(ring >> 32));
  reg(m, regs, DL_BM_DESC_COUNT, RING);
  reg(m, regs, DL_BM_CONTROL, DL_BM_START | DL_BM_MODE_RING);  /* no interrupts: no driver */
  long rss1m = -1;
  uint64_t done = 0, queued = 0;
  double t0 = seconds();
  while (done < total) {
    uint64_t batch = total - done < RING - 1 ? total - done : RING - 1;
    for (uint64_t k = 0; k < batch; k++) own(pm, ring, data, queued++);
    reg(m, regs, DL_BM_RING_TAIL, (uint32_t)(queued % RING));
    dl_clock_run(dl_machine_clock(m));
    uint64_t before = done;
    done += batch;
    if (before < 1000000 && done >= 1000000) rss1m = rss_kib();
  }
  double dt = seconds() - t0;
  dl_busmaster_stats st;
  dl_busmaster_stats_get(bm, &st);
  printf("ring transfers=%llu seconds=%.6f rss1m_kib=%ld rssend_kib=%ld bytes=%llu end_ns=%llu",
         (unsigned long long)st.commands, dt, rss1m, rss_kib(), (unsigned long long)st.bytes,
         (unsigned long long)dl_clock_now(dl_machine_clock(m)));
  fingerprint(m);
  if (st.commands != total || st.bytes != total * XFER || st.errors) {
    fprintf(stderr, "ring: %llu commands, %llu errors\n", (unsigned long long)st.commands,
            (unsigned long long)st.errors);
    exit(1);
  }
  dl_machine_free(m);
}

int main(int argc, char **argv) {
  uint64_t total = argc > 1 ? strtoull(argv[1], NULL, 0) : 1000000;
  int rounds = argc > 2 ? atoi(argv[2]) : 1;
  for (int r = 0; r < rounds; r++) round_of(total);
  return 0;
}
