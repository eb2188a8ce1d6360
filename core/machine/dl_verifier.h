/*
** dl_verifier.h: Driver Verifier reports.
** A driver's misuse of the DMA rules is recorded as a report carrying the
** bug check the real verifier would raise (0xE6 DRIVER_VERIFIER_DMA_VIOLATION
** with its parameter 1, or 0x10D WDF_VIOLATION) and a message naming the call
** and the objects. The engine records and carries on with the sensible
** outcome; whether a report stops the script is the binding's choice.
*/
#ifndef DL_VERIFIER_H
#define DL_VERIFIER_H

#include <stddef.h>
#include <stdint.h>

typedef struct dl_machine dl_machine;
typedef struct dl_verifier dl_verifier;

#define DL_BUGCHECK_DMA 0xE6u
#define DL_BUGCHECK_WDF 0x10Du
#define DL_BUGCHECK_TIMER_OR_DPC_INVALID 0xC7u  /* P1 0: a timer still set, 1: a DPC still queued */
/* The kernel's and the I/O manager's (io/dl_driver.h has their P1 values). */
#define DL_BUGCHECK_IRQL_NOT_GREATER_OR_EQUAL 0x09u
#define DL_BUGCHECK_IRQL_NOT_LESS_OR_EQUAL 0x0Au
#define DL_BUGCHECK_MULTIPLE_IRP_COMPLETE 0x44u
#define DL_BUGCHECK_DETECTED_VIOLATION 0xC4u  /* DRIVER_VERIFIER_DETECTED_VIOLATION */
#define DL_BUGCHECK_IOMANAGER 0xC9u           /* DRIVER_VERIFIER_IOMANAGER_VIOLATION */

/* Parameter 1 values of bug check 0xE6 (the documented table). */
enum {
  DL_VF_MISC = 0x00,
  DL_VF_DOUBLE_FREE_COMMON_BUFFER = 0x03,
  DL_VF_DOUBLE_FREE_CHANNEL = 0x04,
  DL_VF_DOUBLE_FREE_MAP_REGISTERS = 0x05,
  DL_VF_DOUBLE_FREE_SG_LIST = 0x06,
  DL_VF_PUT_WITH_COMMON_BUFFERS = 0x07,
  DL_VF_PUT_WITH_CHANNELS = 0x08,
  DL_VF_PUT_WITH_MAP_REGISTERS = 0x09,
  DL_VF_PUT_WITH_SG_LISTS = 0x0A,
  DL_VF_TOO_MANY_CHANNELS = 0x0B,
  DL_VF_TOO_MANY_MAP_REGISTERS_AT_ONCE = 0x0C,
  DL_VF_NOT_FLUSHED = 0x0D,
  DL_VF_UNLOCKED_BUFFER = 0x0E,
  DL_VF_FREED_WHILE_MAPPED = 0x10,
  DL_VF_WRONG_IRQL = 0x13,
  DL_VF_TOO_MANY_MAP_REGISTERS = 0x15,
  DL_VF_FLUSH_UNMAPPED_BUFFER = 0x16,
  DL_VF_ADAPTER_RELEASED = 0x18,
  DL_VF_ADDRESS_OUTSIDE_MDL = 0x1B,
  DL_VF_MAPPED_TWICE = 0x1D,
  DL_VF_INVALID_DMA_BUFFER = 0x1F,
  DL_VF_FLUSH_UNMAPPED_REGISTER = 0x20,
  DL_VF_ZERO_LENGTH_MAP = 0x21,
  DL_VF_ILLEGAL_CHANNEL_FLUSH = 0x23,
  DL_VF_BAD_DESCRIPTION_VERSION = 0x25,
  DL_VF_IOMMU_FAULT = 0x26
};

/* WDF_VIOLATION parameter 1 for DMA misuse. */
#define DL_WDF_DMA_FATAL_ERROR 0x8u

/* One report. */
typedef struct dl_report {
  uint64_t seq;        /* 1, 2, ... in the order they were made */
  uint64_t time;       /* simulated ns */
  uint32_t bugcheck;   /* 0xE6, 0x10D, or a DL_BUGCHECK_* of the kernel/I/O manager */
  uint32_t p1;
  uint64_t p2, p3, p4;
  int leak;            /* found by the end-of-run leak check */
  char message[240];
} dl_report;

/* Creates an empty report log; NULL if out of memory. */
dl_verifier *dl_verifier_new(void);

/* Frees the log; NULL is a harmless no-op. */
void dl_verifier_free(dl_verifier *v);

/* Records a report on the machine (printf-style message); returns it. The
** log keeps the first 10000 reports and counts the rest. */
const dl_report *dl_verify_fail(dl_machine *m, uint32_t bugcheck, uint32_t p1, uint64_t p2,
                                uint64_t p3, uint64_t p4, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));

/* Marks the last report as found by a leak check. */
void dl_verifier_mark_leak(dl_machine *m);

/* Reports made so far (including those not kept). */
uint64_t dl_verifier_count(const dl_machine *m);

/* Report i (0-based) of those kept, or NULL. */
const dl_report *dl_verifier_at(const dl_machine *m, size_t i);

/* IRQL rule of a call: exactly `level` (exact) or at most `level`. Records
** 0xE6/0x13 naming `call` and returns 0 when the rule is broken. */
int dl_verify_irql(dl_machine *m, const char *call, int exact, uint8_t level);

#endif
