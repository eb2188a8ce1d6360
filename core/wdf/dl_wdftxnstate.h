/*
** dl_wdftxnstate.h: the KMDF DMA transaction's state machine written down
** as one table: a row per state, a column per WdfDmaTransaction* call, and
** in each cell whether the call is allowed, refused (report 0x10D with P1
** 0x8, WDF_DMA_FATAL_ERROR, P2 the transaction's id, P3 its framework state;
** the call then does nothing) or a harmless no-op. Every call consults the
** table once, before it does anything.
**
** The framework's Transfer state is two rows: the transfer is waiting for
** its adapter (map registers, the channel or a list: no EvtProgramDma has
** run for it) or it was programmed. DmaCompleted* is legal only in the
** second: completing a transfer the device never got would hand a later
** grant to a transaction that finished or was released.
*/
#ifndef DL_WDFTXNSTATE_H
#define DL_WDFTXNSTATE_H

#include "wdf/dl_wdfdma.h"

/* The rows. */
enum {
  DL_TXNROW_CREATED, DL_TXNROW_RESERVED, DL_TXNROW_INITIALIZED, DL_TXNROW_TRANSFER_WAITING,
  DL_TXNROW_TRANSFER_PROGRAMMED, DL_TXNROW_TRANSFER_COMPLETED, DL_TXNROW_TRANSFER_FAILED,
  DL_TXNROW_RELEASED, DL_TXNROW_DELETED, DL_TXNROW_COUNT
};

/* The columns: the calls that depend on the state. */
enum {
  DL_TXNCALL_INITIALIZE,          /* Initialize, InitializeUsingRequest */
  DL_TXNCALL_EXECUTE,
  DL_TXNCALL_DMA_COMPLETED,       /* DmaCompleted, ...WithLength, ...Final */
  DL_TXNCALL_RELEASE,
  DL_TXNCALL_ALLOCATE_RESOURCES,  /* with RequiredMapRegisters > 0 */
  DL_TXNCALL_ALLOCATE_RESOURCES_0,/* RequiredMapRegisters 0: from the initialized buffer */
  DL_TXNCALL_FREE_RESOURCES,
  DL_TXNCALL_GET_TRANSFER_INFO,
  DL_TXNCALL_SET_MAXIMUM_LENGTH,
  DL_TXNCALL_SET_SINGLE_TRANSFER,
  DL_TXNCALL_SET_IMMEDIATE,
  DL_TXNCALL_CANCEL,
  DL_TXNCALL_DELETE,              /* WdfObjectDelete: refused is reported, then done by force */
  DL_TXNCALL_COUNT
};

/* A cell. */
enum { DL_TXN_ALLOW = 0, DL_TXN_REFUSE = 1, DL_TXN_NOOP = 2 };

/* The row the transaction is in. */
int dl_wdftxn_row(const dl_wdfdma_txn *t);

/* The cell of the table (DL_TXN_REFUSE outside it). */
int dl_wdftxn_cell(int row, int call);

/* Consults the table for `call` (named `name` in the report: the variant
** the driver made) on t: a refused call is reported here. Returns the cell. */
int dl_wdftxn_check_state(dl_wdfdma_txn *t, int call, const char *name);

/* Names of a row and of a column, for messages and tests. */
const char *dl_wdftxn_row_name(int row);
const char *dl_wdftxn_call_name(int call);

#endif
