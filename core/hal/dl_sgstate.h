/*
** dl_sgstate.h: the SCATTER_GATHER_LIST's state machine (reference 1.5)
** written down as one table: a row per state of a list (as seen by the
** adapter a call names), a column per call that depends on it, and in each
** cell whether the call is allowed, refused with the Driver Verifier's
** report (0xE6/0x06: the call then does nothing) or refused without one (a
** put list's elements: the binding's argument error). Each of those calls
** consults the table once, first.
*/
#ifndef DL_SGSTATE_H
#define DL_SGSTATE_H

#include <stdint.h>

#include "machine/dl_machine.h"

/* The rows. */
enum {
  DL_SGROW_OTHER,       /* another adapter's list */
  DL_SGROW_DELIVERING,  /* being handed to its AdapterListControl (ExecutionRoutine) */
  DL_SGROW_HELD,        /* the driver's, since its routine returned */
  DL_SGROW_PUT,         /* put by PutScatterGatherList (its record may serve another list) */
  DL_SGROW_COUNT
};

/* The columns. */
enum {
  DL_SGCALL_PUT,        /* PutScatterGatherList (a second one is the "put" row) */
  DL_SGCALL_ELEMENTS,   /* its Elements read, to program the device */
  DL_SGCALL_COUNT
};

/* What a cell does. */
enum { DL_SG_ALLOW, DL_SG_REFUSE, DL_SG_INVALID };

typedef struct dl_sg_cell {
  unsigned char kind;   /* DL_SG_* */
  unsigned char p1;     /* the report's P1 (DL_SG_REFUSE) */
} dl_sg_cell;

/* What a report says beside the state. */
typedef struct dl_sg_args {
  const char *name;     /* the call as the driver made it; NULL: the column's */
  uint64_t id;          /* the list's id when it was handed out */
  uint64_t p2, p3;      /* the report's P2 and P3 (lists built, lists put) */
} dl_sg_args;

/* The table's cell (DL_SG_REFUSE, P1 0, outside it). */
dl_sg_cell dl_sg_cell_at(int row, int call);

/* Consults the table for `call` on a list in `row` (dl_sglist_row,
** hal/dl_adapter.h, computes it); a refused call is reported here. Returns
** the cell's kind. */
int dl_sgstate_check(dl_machine *m, int row, int call, const dl_sg_args *args);

/* Names of a row and a column. */
const char *dl_sg_row_name(int row);
const char *dl_sg_call_name(int call);

#endif
