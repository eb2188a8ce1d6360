/*
** dl_wdfdma_int.h: the KMDF DMA objects' insides, shared by dl_wdfdma.c
** (enablers, common buffers, power) and dl_wdftxn.c (transactions). Not for
** use outside core/.
*/
#ifndef DL_WDFDMA_INT_H
#define DL_WDFDMA_INT_H

#include "hal/dl_adapter.h"
#include "machine/dl_machine.h"
#include "wdf/dl_wdfdma.h"

struct dl_wdfdma_enabler {
  DL_WDF_OBJECT_FIELDS
  dl_wdf_device *d;
  dl_wdfdma_config cfg;
  uint32_t version;             /* DEVICE_DESCRIPTION version: 2, or 3 */
  int packet, duplex;
  int system;                   /* System profiles: adapters from ConfigureSystemProfile */
  dl_wdfdma_system_config sys[2];
  dl_adapter *adapters[2];      /* by direction; the same one unless Duplex */
  uint32_t nmr[2];
  uint64_t max_frag[2];         /* MaximumFragmentLength per adapter */
  uint32_t max_sg;              /* MaxSGElements */
  int fill_failed, enable_failed;
  dl_wdfdma_txn *packet_busy;   /* v2: the packet transaction running */
  dl_link txns, commons;
  dl_link zombies;              /* deleted transactions an adapter still calls back */
  dl_link chan_waiters;         /* transactions waiting to ask for the channel */
  const dl_wdfdma_ops *ops;
  int hooked;
  int dead;                     /* deleted; freed when the last zombie goes */
};

struct dl_wdfdma_common {
  DL_WDF_OBJECT_FIELDS
  dl_link link;
  dl_wdfdma_enabler *e;
  dl_adapter *a;
  uint64_t va, logical, length;         /* what the driver sees (aligned) */
  uint64_t raw_va, raw_logical;         /* what AllocateCommonBuffer gave */
  uint32_t raw_length;
};


struct dl_wdfdma_txn {
  DL_WDF_OBJECT_FIELDS
  dl_link link;                 /* on its enabler's txns (or its zombies once deleted) */
  dl_link chan;                 /* on chan_waiters while waiting to ask */
  dl_wdfdma_enabler *e;
  int state;
  int direction;
  dl_adapter *a;
  dl_mdl *mdl;                  /* the buffer: start MDL, VA and length */
  uint64_t va, length;
  dl_wdf_request *request;
  uint64_t max_length;          /* SetMaximumLength (0: none) */
  uint64_t max_frag;            /* the fragment length of this transaction */
  int single, immediate;
  uint64_t transferred, remaining, cur_len;
  dl_mdl *cur_mdl;              /* where the current transfer starts */
  uint64_t cur_va;
  uint32_t mapped;              /* packet: bytes MapTransfer mapped */
  uint32_t prog_n;              /* packet: elements of the list EvtProgramDma gets */
  uint64_t base;                /* packet: MapRegisterBase of the transfer */
  uint32_t regs;
  int have_regs;
  dl_sglist *sg;                /* scatter/gather: the current list */
  uint64_t sg_id;
  int wait_kind;                /* WAIT_*: what the live pending request is for */
  uint32_t pending;             /* requests in the adapter's queues */
  uint32_t drop;                /* ...of which the next `drop` are dropped when granted */
  int queued;                   /* on chan_waiters */
  int busy;                     /* engine calls on the stack: delete waits for them */
  int zombie;                   /* deleted: freed when no longer busy or pending */
  uint32_t reserved;            /* registers reserved by AllocateResources */
  uint64_t reserved_base;
  int reserve_pending;          /* reservation asked, not granted yet */
  int staging, rerun;
  int sys_configure, sys_complete;  /* system: the driver's callbacks are set */
  uint64_t sys_offset;          /* system: SetDeviceAddressOffset */
  int sys_listening;            /* system: the adapter tells us of completion */
};

/* Returns 1 if the machine's IRQL is at most `level` (exact: equal), with
** report 0xE6/0x13 naming `call` otherwise. */
int dl_wdfdma_irql(dl_machine *m, const char *call, int exact, uint8_t level);

/* Records report 0x10D/0x8 for a call made in the wrong state. */
void dl_wdfdma_wrong_state(dl_wdfdma_txn *t, const char *call, const char *allowed);

/* Frees a transaction's memory only (machine teardown). */
void dl_wdftxn_free_memory(dl_wdfdma_txn *t);

/* The transaction class (dl_wdftxn.c). */
extern const dl_wdf_class dl_wdftxn_class;

/* Shared by the state machine (dl_wdftxn.c) and the controls (dl_wdftxnctl.c). */
enum { DL_WAIT_NONE = 0, DL_WAIT_TRANSFER = 1, DL_WAIT_RESERVE = 2 };
void dl_wdftxn_check_irql(const dl_wdfdma_txn *t, const char *call);
uint8_t dl_wdftxn_raise_dispatch(dl_machine *m);
uint64_t dl_wdftxn_chain_regs(dl_mdl *mdl, uint64_t va, uint64_t len, uint64_t ps);
uint32_t dl_wdftxn_elements_of(const dl_wdfdma_txn *t, dl_mdl *mdl, uint64_t va, uint64_t len);
int dl_wdftxn_grantable_now(const dl_wdfdma_txn *t, uint32_t regs, int channel);
void dl_wdftxn_finish(dl_wdfdma_txn *t, uint32_t st);
void dl_wdftxn_forget(dl_wdfdma_txn *t);
void dl_wdftxn_unqueue(dl_wdfdma_txn *t);
void dl_wdftxn_hold(dl_wdfdma_txn *t);
int dl_wdftxn_unhold(dl_wdfdma_txn *t);
uint32_t dl_wdftxn_request_channel(dl_wdfdma_txn *t, int kind, uint32_t n);

/* The short names the two transaction files use for the above. */
#ifdef DL_WDFTXN_SHORT_NAMES
#define WAIT_NONE DL_WAIT_NONE
#define WAIT_TRANSFER DL_WAIT_TRANSFER
#define WAIT_RESERVE DL_WAIT_RESERVE
#define check_irql dl_wdftxn_check_irql
#define raise_dispatch dl_wdftxn_raise_dispatch
#define chain_regs dl_wdftxn_chain_regs
#define elements_of dl_wdftxn_elements_of
#define grantable_now dl_wdftxn_grantable_now
#define finish dl_wdftxn_finish
#define forget dl_wdftxn_forget
#define unqueue dl_wdftxn_unqueue
#define hold dl_wdftxn_hold
#define unhold dl_wdftxn_unhold
#define request_channel dl_wdftxn_request_channel
#endif

/* Gets the adapter of one direction and its derived values (dl_wdfdma.c). */
uint32_t dl_wdfdma_get_adapter(dl_wdfdma_enabler *e, const dl_device_description *desc, int dir);

/* System profiles (dl_wdfsys.c): what AdapterControl returns (KeepObject:
** system DMA keeps the channel); freeing registers (the channel too);
** before and after MapTransfer (0 from pre_map: the driver's
** EvtDmaTransactionConfigureDmaChannel said FALSE); cancel (1 if it stopped
** a mapped transfer); the transaction stops listening to its adapter. */
int dl_wdfsys_action(const dl_wdfdma_txn *t);
void dl_wdfsys_free_registers(dl_wdfdma_txn *t, uint64_t base, uint32_t n);
int dl_wdfsys_pre_map(dl_wdfdma_txn *t, dl_mdl *mdl, uint64_t va, uint64_t len);
int dl_wdfsys_map(dl_wdfdma_txn *t, dl_mdl *mdl, uint64_t va, uint32_t *len, dl_sg_element *one,
                  const dl_sg_element **el, uint32_t *n);
void dl_wdfsys_post_map(dl_wdfdma_txn *t);
int dl_wdfsys_cancel(dl_wdfdma_txn *t);
int dl_wdfsys_stage_failed(dl_wdfdma_txn *t, uint32_t st);
void dl_wdfsys_unlisten(dl_wdfdma_txn *t);

/* Frees the enabler's memory once it is dead and has no zombies. */
void dl_wdfdma_enabler_reap(dl_wdfdma_enabler *e);

/* Asks for the channel for transactions waiting to, while the device may. */
void dl_wdftxn_kick(dl_wdfdma_enabler *e);

/* The adapter dropped a pending request of ctx (teardown or a failed list). */
void dl_wdftxn_dropped(dl_adapter *a, void *ctx);

#endif
