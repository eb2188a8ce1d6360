/*
** dl_iommu.c: domains, page tables, the IOTLB, invalidation and faults.
** A page table is kept as runs of PTEs (one per mapping: its first IOVA,
** its pages and one permission) in a pooled array tagged by domain; the
** IOTLB is a small fully associative cache with LRU replacement, tagged by
** domain, so attaching a device elsewhere needs no flush.
*/
#include "machine/dl_iommu.h"

#include <stdlib.h>
#include <string.h>

#include "base/dl_ntstatus.h"
#include "base/dl_status.h"
#include "base/dl_vec.h"
#include "machine/dl_clock.h"
#include "machine/dl_context.h"
#include "machine/dl_verifier.h"

#define NONE UINT32_MAX
#define IOVA_BASE UINT64_C(0x100000)  /* IOVAs start at 1 MiB: 0 is never handed out */
#define MAX_FAULTS 10000

typedef struct run {
  uint64_t iova;          /* page-aligned first IOVA */
  uint64_t *pfns;
  uint32_t npages, pfns_cap, domain, next_free;
  uint8_t perm, live, pending;  /* pending: unmapped, invalidation deferred */
} run;

typedef struct domain {
  uint64_t cursor;        /* next-fit IOVA allocation */
  int type, live, attached;
} domain;

typedef struct binding {
  uint64_t dev, stall;
  uint32_t own;           /* the device's default domain */
  uint32_t domain;        /* the one its DMA goes through (own unless attached) */
} binding;

typedef struct tlb_entry {
  uint64_t page, pfn, used;
  uint32_t domain;
  uint8_t perm, valid;
} tlb_entry;

struct dl_iommu {
  dl_platform_config cfg;
  uint64_t ps;
  domain *doms;
  uint32_t ndoms, doms_cap;
  binding *binds;
  uint32_t nbinds, binds_cap;
  run *runs;
  uint32_t nruns, runs_cap, free_run;
  uint32_t *pending;
  uint32_t npending, pending_cap;
  dl_iommu_fault *faults;
  uint32_t nfaults, faults_cap;
  tlb_entry *tlb;
  uint64_t tick;
  dl_iommu_stats st;
};

/* Makes an IOMMU with the platform's IOTLB and invalidation options. */
dl_iommu *dl_iommu_new(const dl_platform_config *p, uint32_t page_size) {
  dl_iommu *io = calloc(1, sizeof *io);
  if (!io) return NULL;
  io->cfg = *p;
  io->ps = page_size;
  io->free_run = NONE;
  io->tlb = calloc(p->iotlb_entries, sizeof *io->tlb);
  if (!io->tlb) {
    free(io);
    return NULL;
  }
  return io;
}

static void destroy(void *self) {
  dl_iommu *io = self;
  if (!io) return;
  for (uint32_t i = 0; i < io->nruns; i++) free(io->runs[i].pfns);
  free(io->runs);
  free(io->doms);
  free(io->binds);
  free(io->pending);
  free(io->faults);
  free(io->tlb);
  free(io);
}

/* ---- domains --------------------------------------------------------------- */

/* Domain ids handed out are index + 1. */
static domain *domain_at(dl_iommu *io, uint64_t id) {
  return id >= 1 && id <= io->ndoms && io->doms[id - 1].live ? &io->doms[id - 1] : NULL;
}

static uint32_t new_domain(dl_iommu *io, int type) {
  if (dl_vec_reserve(io->doms, io->doms_cap, io->ndoms + 1)) return NONE;
  io->doms[io->ndoms] = (domain){ .cursor = IOVA_BASE, .type = type, .live = 1 };
  io->st.domains++;
  return io->ndoms++;
}

static binding *binding_of(dl_iommu *io, uint64_t dev) {
  for (uint32_t i = 0; i < io->nbinds; i++)
    if (io->binds[i].dev == dev) return &io->binds[i];
  return NULL;
}

/* The device's binding, with its default domain made on first use. */
static binding *bind(dl_iommu *io, uint64_t dev) {
  binding *b = binding_of(io, dev);
  if (b) return b;
  uint32_t d = new_domain(io, DL_DOMAIN_TYPE_TRANSLATE);
  if (d == NONE || dl_vec_reserve(io->binds, io->binds_cap, io->nbinds + 1)) return NULL;
  io->binds[io->nbinds] = (binding){ .dev = dev, .own = d, .domain = d };
  return &io->binds[io->nbinds++];
}

/* ---- page tables ------------------------------------------------------------ */

static int overlaps(const run *r, uint32_t d, uint64_t iova, uint64_t n, uint64_t ps) {
  return (r->live || r->pending) && r->domain == d && iova < r->iova + r->npages * ps &&
         r->iova < iova + n * ps;
}

/* Finds n free IOVA pages in domain d ending at or below ceiling (next
** fit from the domain's cursor, once around). Pending runs stay taken. */
static int alloc_iova(dl_iommu *io, uint32_t d, uint64_t n, uint64_t ceiling, uint64_t *iova) {
  uint64_t at = io->doms[d].cursor, ps = io->ps;
  int wrapped = 0;
  for (;;) {
    if (at + n * ps - 1 > ceiling || at + n * ps < at) {
      if (wrapped++) return DL_ENOSPACE;
      at = IOVA_BASE;
      continue;
    }
    uint32_t i = 0;
    while (i < io->nruns && !overlaps(&io->runs[i], d, at, n, ps)) i++;
    if (i == io->nruns) break;
    at = io->runs[i].iova + io->runs[i].npages * ps;
  }
  *iova = at;
  io->doms[d].cursor = at + n * ps;
  return DL_OK;
}

/* Takes a run record (pooled, keeps its PFN array); NONE if out of memory. */
static uint32_t new_run(dl_iommu *io) {
  uint32_t i = io->free_run;
  if (i != NONE) {
    io->free_run = io->runs[i].next_free;
    return i;
  }
  if (dl_vec_reserve(io->runs, io->runs_cap, io->nruns + 1)) return NONE;
  memset(&io->runs[io->nruns], 0, sizeof io->runs[0]);
  return io->nruns++;
}

static void free_run(dl_iommu *io, uint32_t i) {
  io->runs[i].live = io->runs[i].pending = 0;
  io->runs[i].next_free = io->free_run;
  io->free_run = i;
}

/* Installs PTEs for n pages at iova in domain d. */
static int install(dl_iommu *io, uint32_t d, uint64_t iova, const uint64_t *pfns, uint64_t first,
                   uint32_t n, int perm, uint32_t *handle) {
  uint32_t i = new_run(io);
  if (i == NONE) return DL_ENOMEM;
  run *r = &io->runs[i];
  if (dl_vec_reserve(r->pfns, r->pfns_cap, n)) {
    free_run(io, i);
    return DL_ENOMEM;
  }
  for (uint32_t k = 0; k < n; k++) r->pfns[k] = pfns ? pfns[k] : first + k;
  r->iova = iova;
  r->npages = n;
  r->domain = d;
  r->perm = (uint8_t)perm;
  r->live = 1;
  io->st.mappings++;
  io->st.live_mappings++;
  *handle = i;
  return DL_OK;
}

/* The live run of domain d holding IOVA page `page`, or NULL. */
static const run *walk(const dl_iommu *io, uint32_t d, uint64_t iova) {
  for (uint32_t i = 0; i < io->nruns; i++) {
    const run *r = &io->runs[i];
    if (r->live && r->domain == d && iova >= r->iova && iova - r->iova < r->npages * io->ps)
      return r;
  }
  return NULL;
}

/* ---- the IOTLB and invalidation ------------------------------------------------ */

static void tlb_drop(dl_iommu *io, uint32_t d, uint64_t first, uint64_t n) {
  for (uint32_t i = 0; i < io->cfg.iotlb_entries; i++) {
    tlb_entry *e = &io->tlb[i];
    if (e->valid && (d == NONE || (e->domain == d && e->page >= first && e->page - first < n)))
      e->valid = 0;
  }
}

/* Ends deferred invalidations of domain d (NONE: all): one IOTLB flush,
** then their IOVAs may be reused. */
static void flush_pending(dl_iommu *io, uint32_t d) {
  uint32_t kept = 0;
  for (uint32_t i = 0; i < io->npending; i++) {
    uint32_t k = io->pending[i];
    if (d == NONE || io->runs[k].domain == d) free_run(io, k);
    else io->pending[kept++] = k;
  }
  io->npending = kept;
  io->st.pending_unmaps = kept;
  tlb_drop(io, d, 0, UINT64_MAX);
  io->st.invalidations++;
}

/* Removes run i: strict drops its IOTLB entries now; deferred queues it
** and flushes every flush_batch unmaps. */
static void remove_run(dl_iommu *io, uint32_t i) {
  run *r = &io->runs[i];
  if (!r->live) return;
  r->live = 0;
  io->st.unmaps++;
  io->st.live_mappings--;
  if (!io->cfg.iommu_deferred ||
      dl_vec_reserve(io->pending, io->pending_cap, io->npending + 1)) {
    tlb_drop(io, r->domain, r->iova / io->ps, r->npages);
    io->st.invalidations++;
    free_run(io, i);
    return;
  }
  r->pending = 1;
  io->pending[io->npending++] = i;
  io->st.pending_unmaps = io->npending;
  if (io->npending >= io->cfg.iommu_flush_batch) flush_pending(io, NONE);
}

/* Looks a page up: the IOTLB, else a walk that fills it (evicting the
** least recently used entry). NULL entry if the page has no PTE. */
static const tlb_entry *lookup(dl_iommu *io, binding *b, uint64_t page) {
  tlb_entry *victim = &io->tlb[0];
  io->tick++;
  for (uint32_t i = 0; i < io->cfg.iotlb_entries; i++) {
    tlb_entry *e = &io->tlb[i];
    if (e->valid && e->domain == b->domain && e->page == page) {
      io->st.iotlb_hits++;
      e->used = io->tick;
      return e;
    }
    if (!e->valid ? victim->valid : victim->valid && e->used < victim->used) victim = e;
  }
  io->st.iotlb_misses++;
  io->st.stall_ns += io->cfg.iotlb_miss_latency;
  b->stall += io->cfg.iotlb_miss_latency;
  const run *r = walk(io, b->domain, page * io->ps);
  if (!r) return NULL;
  *victim = (tlb_entry){ .page = page, .pfn = r->pfns[page - r->iova / io->ps], .used = io->tick,
                         .domain = b->domain, .perm = r->perm, .valid = 1 };
  return victim;
}

/* ---- the xlate interface ----------------------------------------------------- */

static int map(void *self, dl_machine *m, uint64_t dev, uint64_t pa, const uint64_t *pfns,
               uint64_t len, int perm, uint64_t ceiling, uint64_t *addr, uint32_t *handle) {
  (void)m;
  dl_iommu *io = self;
  binding *b = bind(io, dev);
  if (!b) return DL_ENOMEM;
  uint64_t ps = io->ps, off = pa % ps, n = (off + len + ps - 1) / ps, iova;
  if (len == 0 || n > UINT32_MAX) return DL_EINVAL;
  int rc = alloc_iova(io, b->domain, n, ceiling, &iova);
  if (!rc) rc = install(io, b->domain, iova, pfns, pa / ps, (uint32_t)n, perm, handle);
  if (rc) return rc;
  *addr = iova + off;
  return DL_OK;
}

static void unmap(void *self, dl_machine *m, uint64_t dev, uint32_t handle) {
  (void)m, (void)dev;
  dl_iommu *io = self;
  if (handle < io->nruns) remove_run(io, handle);
}

/* Blocks and records a fault; reports 0xE6/0x26. */
static int fault(dl_iommu *io, dl_machine *m, uint64_t dev, uint64_t domain, const char *who,
                 uint64_t iova, int access, int reason) {
  io->st.faults++;
  uint64_t now = dl_clock_now(dl_machine_clock(m));
  if (io->nfaults < MAX_FAULTS && !dl_vec_reserve(io->faults, io->faults_cap, io->nfaults + 1))
    io->faults[io->nfaults++] = (dl_iommu_fault){ dev, iova, now, domain, access, reason };
  dl_verify_fail(m, DL_BUGCHECK_DMA, DL_VF_IOMMU_FAULT, dev, iova, (uint64_t)access,
                 "IOMMU translation fault: %s %ss IOVA 0x%llx (domain %llu): %s; the access is "
                 "blocked", who ? who : "a device", access == DL_XLATE_WRITE ? "write" : "read",
                 (unsigned long long)iova, (unsigned long long)domain, dl_iommu_reason_text(reason));
  return DL_ENOTMAPPED;
}

static int resolve(void *self, dl_machine *m, uint64_t dev, const char *who, uint64_t addr,
                   uint64_t len, int access, uint64_t *pa, uint64_t *run_len) {
  dl_iommu *io = self;
  uint64_t ps = io->ps, in_page = ps - addr % ps;
  *run_len = len < in_page ? len : in_page;
  *pa = 0;
  if (len == 0) return DL_OK;
  binding *b = binding_of(io, dev);
  if (!b) return fault(io, m, dev, 0, who, addr, access, DL_IOMMU_NO_DOMAIN);
  const tlb_entry *e = lookup(io, b, addr / ps);
  if (!e) return fault(io, m, dev, b->domain + 1, who, addr, access, DL_IOMMU_NOT_MAPPED);
  if ((e->perm & access) != access)
    return fault(io, m, dev, b->domain + 1, who, addr, access, DL_IOMMU_NO_PERMISSION);
  *pa = e->pfn * ps + addr % ps;
  return DL_OK;
}

static uint64_t take_stall(void *self, uint64_t dev) {
  binding *b = binding_of(self, dev);
  uint64_t s = b ? b->stall : 0;
  if (b) b->stall = 0;
  return s;
}

const dl_xlate_ops dl_iommu_ops = { "iommu", 1, map, unmap, resolve, take_stall, destroy };

/* ---- queries -------------------------------------------------------------------- */

void dl_iommu_get_stats(const dl_iommu *io, dl_iommu_stats *st) { *st = io->st; }
size_t dl_iommu_fault_count(const dl_iommu *io) { return io->nfaults; }
const dl_iommu_fault *dl_iommu_fault_at(const dl_iommu *io, size_t i) {
  return i < io->nfaults ? &io->faults[i] : NULL;
}

const char *dl_iommu_reason_text(int reason) {
  switch (reason) {
    case DL_IOMMU_NOT_MAPPED: return "no mapping (never mapped, or unmapped)";
    case DL_IOMMU_NO_PERMISSION: return "the mapping does not permit this access";
    case DL_IOMMU_NO_DOMAIN: return "the device has no domain (nothing was ever mapped for it)";
    default: return "unknown";
  }
}

uint64_t dl_iommu_domain_of(const dl_iommu *io, uint64_t dev) {
  for (uint32_t i = 0; i < io->nbinds; i++)
    if (io->binds[i].dev == dev) return io->binds[i].domain + 1;
  return 0;
}

/* ---- DMA v3 domain operations ------------------------------------------------------ */

/* CreateDomainEx. */
uint32_t dl_iommu_create_domain(dl_iommu *io, int type, uint64_t *out) {
  *out = 0;
  if (type == DL_DOMAIN_TYPE_PASSTHROUGH) return DL_STATUS_NOT_SUPPORTED;
  if (type != DL_DOMAIN_TYPE_TRANSLATE && type != DL_DOMAIN_TYPE_UNMANAGED)
    return DL_STATUS_INVALID_PARAMETER;
  uint32_t d = new_domain(io, type);
  if (d == NONE) return DL_STATUS_INSUFFICIENT_RESOURCES;
  *out = d + 1;
  return DL_STATUS_SUCCESS;
}

/* DeleteDomain: its mappings go with it. */
uint32_t dl_iommu_delete_domain(dl_iommu *io, uint64_t id) {
  domain *dm = domain_at(io, id);
  if (!dm) return DL_STATUS_INVALID_PARAMETER;
  if (dm->attached) return DL_STATUS_INVALID_DEVICE_STATE;
  uint32_t d = (uint32_t)(id - 1);
  for (uint32_t i = 0; i < io->nruns; i++)
    if (io->runs[i].live && io->runs[i].domain == d) remove_run(io, i);
  flush_pending(io, d);
  dm->live = 0;
  return DL_STATUS_SUCCESS;
}

/* AttachDeviceEx. */
uint32_t dl_iommu_attach_device(dl_iommu *io, uint64_t id, uint64_t dev) {
  domain *dm = domain_at(io, id);
  binding *b = dm ? bind(io, dev) : NULL;
  if (!dm) return DL_STATUS_INVALID_PARAMETER;
  if (!b) return DL_STATUS_INSUFFICIENT_RESOURCES;
  if (b->domain != b->own) return DL_STATUS_INVALID_PARAMETER;  /* already attached */
  b->domain = (uint32_t)(id - 1);
  dm->attached++;
  return DL_STATUS_SUCCESS;
}

/* DetachDeviceEx. */
uint32_t dl_iommu_detach_device(dl_iommu *io, uint64_t dev) {
  binding *b = binding_of(io, dev);
  if (!b || b->domain == b->own) return DL_STATUS_INVALID_PARAMETER;
  io->doms[b->domain].attached--;
  b->domain = b->own;
  return DL_STATUS_SUCCESS;
}

/* MapIdentityRangeEx: one run per physically contiguous stretch. */
uint32_t dl_iommu_map_identity(dl_iommu *io, uint64_t id, int perm, const uint64_t *pfns,
                               uint32_t npages) {
  if (!domain_at(io, id) || !npages || !(perm & DL_XLATE_RW)) return DL_STATUS_INVALID_PARAMETER;
  uint32_t d = (uint32_t)(id - 1);
  for (uint32_t k = 0; k < npages; k++)
    for (uint32_t i = 0; i < io->nruns; i++)
      if (overlaps(&io->runs[i], d, pfns[k] * io->ps, 1, io->ps)) return DL_STATUS_INVALID_PARAMETER;
  for (uint32_t k = 0, n; k < npages; k += n) {
    for (n = 1; k + n < npages && pfns[k + n] == pfns[k] + n;) n++;
    uint32_t h;
    if (install(io, d, pfns[k] * io->ps, NULL, pfns[k], n, perm & DL_XLATE_RW, &h))
      return DL_STATUS_INSUFFICIENT_RESOURCES;
  }
  return DL_STATUS_SUCCESS;
}

/* UnmapIdentityRangeEx. */
uint32_t dl_iommu_unmap_identity(dl_iommu *io, uint64_t id, const uint64_t *pfns,
                                 uint32_t npages) {
  if (!domain_at(io, id)) return DL_STATUS_INVALID_PARAMETER;
  uint32_t d = (uint32_t)(id - 1), found = 0;
  for (uint32_t k = 0; k < npages; k++)
    for (uint32_t i = 0; i < io->nruns; i++) {
      run *r = &io->runs[i];
      if (r->live && r->domain == d && r->iova == pfns[k] * io->ps && r->pfns[0] == pfns[k]) {
        remove_run(io, i);
        found++;
      }
    }
  return found ? DL_STATUS_SUCCESS : DL_STATUS_INVALID_PARAMETER;
}

/* FlushDomain. */
uint32_t dl_iommu_flush_domain(dl_iommu *io, uint64_t id) {
  if (!domain_at(io, id)) return DL_STATUS_INVALID_PARAMETER;
  flush_pending(io, (uint32_t)(id - 1));
  return DL_STATUS_SUCCESS;
}
