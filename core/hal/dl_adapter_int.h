/*
** dl_adapter_int.h: the adapter's insides, shared by dl_adapter.c (channels,
** map registers), dl_maptransfer.c (MapTransfer, FlushAdapterBuffers),
** dl_sglist.c and dl_common.c. Not for use outside core/.
*/
#ifndef DL_ADAPTER_INT_H
#define DL_ADAPTER_INT_H

#include "hal/dl_adapter.h"
#include "machine/dl_machine.h"
#include "hal/dl_mapregs.h"

enum { REQ_CHANNEL, REQ_SGLIST };

/* A wait context block: one AllocateAdapterChannel or Get/BuildScatterGatherList. */
typedef struct dl_request {
  dl_link link;                /* on the channel queue, the master FIFO, or the free list */
  dl_adapter *a;
  dl_device *dev;
  int kind;
  uint32_t asked;              /* registers the driver asked for */
  uint32_t regs;               /* registers actually taken (0 for 64-bit S/G masters) */
  dl_adapter_control_fn control;
  dl_list_control_fn list_control;
  void *ctx;
  dl_mdl *mdl;                 /* S/G requests */
  uint64_t va;
  uint32_t length;
  int write;
  uint64_t queued_at;          /* when the driver asked: channel wait statistics */
  int waited;                  /* it could not be granted at once */
  void *ex;                    /* its DMA transfer context (version-3 ...Ex calls), or NULL */
} dl_request;

/* A map register allocation; its MapRegisterBase is a token naming it. */
typedef struct dl_grant {
  uint32_t gen;
  int live;
  uint32_t first, count, asked;
  dl_device *dev;
  dl_sglist *sg;               /* owned by a scatter/gather list, if any */
  void *ex;                    /* the DMA transfer context it was granted under, or NULL */
  uint32_t mapped;             /* its MapTransfers not flushed yet */
  uint32_t still;              /* ...the registers they hold (1 for one that holds none) */
  uint32_t next_free;
} dl_grant;

/* One MapTransfer not yet flushed. */
typedef struct dl_mapping {
  int live;
  uint32_t grant;
  const dl_mdl *mdl;           /* compared, never dereferenced */
  uint64_t va;
  uint32_t length;
  uint64_t logical;
  int bounced, write;
  uint32_t reg_first, reg_count; /* map registers, or swiotlb slot (reg_count 0) */
  int swiotlb;                 /* bounced through the swiotlb pool */
  uint32_t dm_handle;          /* the device-side mapping (dl_xlate.h) */
  uint64_t *pfns;              /* buffer pages, for copying a bounce back */
  uint32_t npfns, pfns_cap;
  uint32_t next_free;
} dl_mapping;

struct dl_sglist {
  dl_link link;                /* on the adapter's live or free list */
  dl_adapter *a;
  uint64_t id;
  int live;
  int delivering;              /* in its AdapterListControl */
  uint64_t base;
  dl_sg_element *el;
  uint32_t n, cap;
  void *data;
};

/* A common buffer. */
typedef struct dl_common {
  dl_link link;
  uint64_t va, logical;
  uint32_t length, npages;
  uint64_t first_pfn;
  dl_region *region;
  uint32_t dm_handle;          /* the device-side mapping (dl_xlate.h) */
} dl_common;

struct dl_adapter {
  DL_OBJECT_FIELDS
  dl_device *dev;
  dl_device_description desc;
  uint64_t ceiling;
  uint32_t nmr;
  int sg, needs_registers, released, in_control;
  dl_request *owner;           /* holds the adapter channel */
  int owner_keeps;             /* ...because its AdapterControl returned KeepObject */
  uint64_t owner_base;
  dl_link channel_queue;       /* requests waiting for the channel */
  dl_link free_requests;
  dl_grant *grants;
  uint32_t ngrants, grants_cap, free_grant, live_grants;
  dl_mapping *maps;
  uint32_t nmaps, maps_cap, free_map, live_maps;
  dl_link sglists, free_sglists;
  uint32_t live_sglists;
  dl_link commons;
  uint32_t live_commons;
  dl_request_drop_fn drop;
  dl_adapter_stats stats;
  void *framework;             /* the KMDF DMA enabler that made it, or NULL */
  int building_now;            /* Get/BuildScatterGatherList is building its list in the call */
  int failed_fast;             /* ...and a swiotlb mapping failed (no AdapterListControl) */
  const struct dl_dmaex_kind *ex_kind; /* how ...Ex transfers run (dl_dmaex.h); NULL: bus master */
  struct dl_slave *slave;      /* system (slave) DMA: its controller channel (dl_slave.c) */
  int contexts;                /* wait blocks per transfer, not per device (DMA v3) */
  int ex_mapping;              /* MapTransferEx maps: its kind programs the channel after */
};

/* The device whose domain the adapter's mappings go into (dl_xlate.h). */
/* 0xE6/0x1D if [va, va+len) of a buffer is already mapped for DMA by any
** adapter under another MapRegisterBase than grant `grant` of `a`: DL_EBUSY
** after the report (dl_dmaoverlap.c). */
int dl_dma_check_unmapped(dl_adapter *a, uint32_t grant, const char *call, uint64_t va,
                          uint64_t len);

/* Counts a mapping of [va, va+len) in its buffer's region: +1 as it starts,
** -1 as it ends. */
void dl_dma_count_mapping(dl_machine *m, uint64_t va, uint64_t len, int delta);

/* FlushAdapterBuffers' reports: a Length past what grant gi mapped from va
** (0x00, P2 1), a WriteToDevice opposite to the mapping's (0x00, P2 0). */
void dl_flush_check(dl_adapter *a, uint32_t gi, const dl_mdl *mdl, uint64_t va, uint32_t length,
                    int write);

#define DL_ADAPTER_DEV(a) ((a)->dev ? (a)->dev->id : 0)

/* 1 under the swiotlb bounce policy: bounces come from the pool, fail fast
** when it is full, and no request waits for map registers. */
int dl_adapter_swiotlb(const dl_adapter *a);

#define NO_SLOT UINT32_MAX

/* Returns 0 (after report 0x18) if the adapter was put. */
int dl_adapter_usable(dl_adapter *a, const char *call);

/* The live grant a MapRegisterBase names, or NULL. */
dl_grant *dl_adapter_grant(dl_adapter *a, uint64_t base);

/* The grant slot a MapRegisterBase names (live or not), or NO_SLOT. */
uint32_t dl_adapter_slot(const dl_adapter *a, uint64_t base);

/* Where a flush looks for what it flushes: MapTransfer's CurrentVa `at` of
** mdl, or (offset) MapTransferEx's Offset `at` into the chain at mdl. */
typedef struct dl_mr_place {
  const dl_mdl *mdl;
  uint64_t at;
  int offset;
} dl_mr_place;

/* Consults the MapRegisterBase's state table (hal/dl_mrstate.h) for
** DL_MRCALL_* `call` on base (at the place w, NULL: anywhere; count:
** FreeMapRegisters' NumberOfMapRegisters), reports named `name` (NULL: the
** call's name): returns the cell's DL_MR_* kind, reported if refused or
** forced (dl_mrbase.c). */
int dl_adapter_check_base(dl_adapter *a, uint64_t base, int call, const char *name,
                          const dl_mr_place *w, uint32_t count);

/* Takes a request record (pooled); NULL if out of memory. */
dl_request *dl_adapter_new_request(dl_adapter *a);

/* Queues a request for the channel and starts it if the channel is free. */
void dl_adapter_queue_request(dl_adapter *a, dl_request *r);

/* Frees a grant's registers and mappings (no report: the calls that free
** consult the table of hal/dl_mrstate.h first). Serves the waiters afterwards. */
void dl_adapter_release_grant(dl_adapter *a, uint64_t base);

/* Ends one mapping: copies a read bounce back if `copy_back`. */
void dl_adapter_end_mapping(dl_adapter *a, uint32_t index, int copy_back);

/* AllocateAdapterChannel's rules and queueing, reports naming `call`;
** `ex` is the DMA transfer context of an ...Ex request (NULL for v1). */
uint32_t dl_adapter_channel_request(dl_adapter *a, dl_device *dev, uint32_t n,
                                    dl_adapter_control_fn control, void *ctx, const char *call,
                                    void *ex);

/* Get/BuildScatterGatherList's rules and queueing, likewise. */
uint32_t dl_sglist_request(dl_adapter *a, dl_device *dev, dl_mdl *mdl, uint64_t va,
                           uint32_t length, dl_list_control_fn control, void *ctx, int write,
                           uint64_t buffer_length, const char *call, void *ex);

/* Frees the channel held after KeepObject (FreeAdapterChannel, and
** FreeAdapterObject with `keep_registers` for DeallocateObjectKeepRegisters);
** `exact`: the call's IRQL is exactly DISPATCH_LEVEL, else at most. */
void dl_adapter_release_owner(dl_adapter *a, const char *call, int exact, int keep_registers);

/* Withdraws the request of DMA transfer context `ex` still waiting for the
** channel or for registers (CancelAdapterChannel); 1 if there was one. */
int dl_adapter_withdraw(dl_adapter *a, const void *ex);

/* Tells whoever made a request that it will never run (its routine is dropped). */
void dl_adapter_dropped(dl_adapter *a, dl_request *r);

/* dl_dmaex.c: the request of DMA transfer context `ex` will never run. */
void dl_dmaex_dropped(void *ex);

/* dl_dmaex_map.c: 1 while context `ex` has a MapTransferEx not flushed
** (its MDL, Offset and bytes in *mdl, *offset, *length), else 0. */
int dl_dmaex_mapped_at(const void *ex, const dl_mdl **mdl, uint64_t *offset, uint32_t *length);

/* dl_dmaex_map.c: the grant of context `ex` is being freed: a transfer
** still mapped under it stops, and its completion routine is dropped. */
void dl_dmaex_released(void *ex);

/* AllocateCommonBuffer(Ex)'s allocation below `ceiling` (reports name `call`). */
int dl_common_alloc(dl_adapter *a, uint32_t length, uint64_t ceiling, const char *call,
                    uint64_t *va, uint64_t *logical);

/* Called by dl_adapter.c when an S/G request is granted its registers. */
void dl_sglist_granted(dl_request *r, uint64_t base);

/* Registers a S/G request needs (0 for 64-bit S/G masters). */
uint32_t dl_sglist_registers_needed(dl_adapter *a, dl_mdl *mdl, uint64_t va, uint32_t length);

/* Frees every S/G list record (teardown). */
void dl_sglist_destroy_all(dl_adapter *a);

/* Frees every common buffer (teardown). */
void dl_common_destroy_all(dl_adapter *a);

/* System (slave) DMA (dl_slave.c; its other calls are in dl_slave.h). */
/* The DEVICE_DESCRIPTION rules of a slave adapter: DL_OK, or a refusal
** (traced) IoGetDmaAdapter answers with NULL. */
int dl_slave_check(dl_machine *m, dl_device *dev, const dl_device_description *d);
/* The highest address a slave adapter's controller reaches: 16 MiB on
** ISA; an SoC controller's DmaAddressWidth (32 bits when 0). */
uint64_t dl_slave_ceiling(const dl_device_description *d);
/* Binds a new adapter to its channel and sets its ceiling and map
** registers; DL_ENOSPACE (traced) when the controller has no free channel. */
int dl_slave_attach(dl_adapter *a);
/* Masks the channel if the adapter still programs it, frees its state. */
void dl_slave_destroy(dl_adapter *a);
/* FreeAdapterChannel: masks the channel. */
void dl_slave_channel_freed(dl_adapter *a);

#endif
