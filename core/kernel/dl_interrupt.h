/*
** dl_interrupt.h: interrupt lines and interrupt objects (IoConnectInterrupt).
** A device asserts its line; after the machine's interrupt latency the
** ISRs connected to the line run on their CPU at their DIRQL, in connection
** order, until one returns TRUE ("mine"); FALSE means "not mine" (shared
** lines). A level-sensitive line still asserted after its ISR is delivered
** again; one that no ISR claims 1000 times in a row, or that stays asserted
** through 100000 deliveries in a row although claimed, is masked as a storm. A
** latched (edge) line is delivered once per rising edge.
*/
#ifndef DL_INTERRUPT_H
#define DL_INTERRUPT_H

#include <stdint.h>

#include "base/dl_list.h"
#include "machine/dl_object.h"

typedef struct dl_machine dl_machine;
typedef struct dl_lines dl_lines;
typedef struct dl_interrupt dl_interrupt;

#define DL_MAX_VECTORS 256
#define DL_STORM_LIMIT 1000
#define DL_CLAIMED_STORM_LIMIT 100000

/* The ISR: returns 1 if the interrupt was its device's. */
typedef int (*dl_isr_fn)(void *ctx, dl_interrupt *intr);

struct dl_interrupt {
  DL_OBJECT_FIELDS
  dl_link link;              /* on its line's list */
  uint32_t vector;
  uint8_t irql, sync_irql;
  int latched, shared;
  int cpu;                   /* CPU the ISR runs on */
  dl_isr_fn isr;
  void *ctx;
  uint64_t claimed;          /* interrupts this ISR claimed */
};

/* The KINTERRUPT type. */
extern const dl_object_type dl_interrupt_type;

/* Parameter 1 of 0xC4 (DDI compliance): the IRQL rules of connecting and
** disconnecting, PASSIVE_LEVEL calls. */
#define DL_DDI_IRQL_IO_PASSIVE2 0x2000Bu  /* IrqlIoPassive2: IoConnectInterrupt */
#define DL_DDI_IRQL_IO_PASSIVE4 0x2000Du  /* IrqlIoPassive4: IoDisconnectInterrupt */

/* IoConnectInterrupt: DL_EINVAL for a bad vector/IRQL, DL_EBUSY if the line
** is taken by an interrupt that does not share (or this one does not).
** Above PASSIVE_LEVEL it is reported (0xC4, IrqlIoPassive2) and goes on. */
int dl_interrupt_connect(dl_machine *m, uint32_t vector, uint8_t irql, uint8_t sync_irql,
                         int latched, int shared, uint64_t affinity, dl_isr_fn isr, void *ctx,
                         dl_interrupt **out);

/* Disconnects the interrupt (the engine's teardown, an ISR of the engine);
** NULL is a harmless no-op. */
void dl_interrupt_disconnect(dl_interrupt *intr);

/* IoDisconnectInterrupt(Ex) by a driver: above PASSIVE_LEVEL it is reported
** (0xC4, IrqlIoPassive4), then the interrupt is disconnected. */
void dl_io_disconnect_interrupt(dl_interrupt *intr);

/* KeSynchronizeExecution: runs fn(ctx) at the interrupt's SynchronizeIrql. */
int dl_interrupt_synchronize(dl_interrupt *intr, int (*fn)(void *ctx), void *ctx);

/* A device drives its line: asserted (1) or not (0). `source` names it in traces. */
void dl_line_set(dl_machine *m, uint32_t vector, int asserted, uint64_t source);

/* Returns 1 if the line is asserted. */
int dl_line_asserted(const dl_machine *m, uint32_t vector);

/* Returns 1 if the line was masked as an interrupt storm. */
int dl_line_masked(const dl_machine *m, uint32_t vector);

/* Accessors: the vector, DIRQL, mode, sharing and how many it claimed. */
uint32_t dl_interrupt_vector(const dl_interrupt *intr);
uint8_t dl_interrupt_irql(const dl_interrupt *intr);
int dl_interrupt_latched(const dl_interrupt *intr);
int dl_interrupt_shared(const dl_interrupt *intr);
uint64_t dl_interrupt_claimed(const dl_interrupt *intr);

/* The interrupt whose ISR is running on the current CPU, or NULL. */
dl_interrupt *dl_interrupt_running(dl_machine *m);

#endif
