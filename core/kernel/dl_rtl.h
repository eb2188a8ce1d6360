/*
** dl_rtl.h: the run-time library's memory routines over simulated virtual
** addresses (RtlCopyMemory, RtlMoveMemory, RtlFillMemory, RtlZeroMemory,
** RtlCompareMemory), as the CPU does them: each range must lie inside one
** mapped region (DL_ENOTMAPPED otherwise: on Windows a page fault), and on
** a non-coherent machine they go through the CPU cache like any CPU access.
** RtlMoveMemory handles overlapping ranges; the lab's RtlCopyMemory does
** too (the WDK leaves overlap undefined for it: the lab picks the safe result).
*/
#ifndef DL_RTL_H
#define DL_RTL_H

#include <stdint.h>

typedef struct dl_machine dl_machine;

/* RtlMoveMemory / RtlCopyMemory: len bytes from src to dst. */
int dl_rtl_move(dl_machine *m, uint64_t dst, uint64_t src, uint64_t len);

/* RtlFillMemory (RtlZeroMemory: byte 0). */
int dl_rtl_fill(dl_machine *m, uint64_t dst, uint64_t len, int byte);

/* RtlCompareMemory: *equal gets the number of leading bytes that match. */
int dl_rtl_compare(dl_machine *m, uint64_t a, uint64_t b, uint64_t len, uint64_t *equal);

/* A typed CPU read of `size` bytes (1, 2, 4, 8) at va, little-endian, as a
** driver dereferences a ULONG of a descriptor; the write is its inverse.
** DL_ENOTMAPPED for memory not mapped, DL_EINVAL for another size. */
int dl_rtl_read_uint(dl_machine *m, uint64_t va, unsigned size, uint64_t *value);
int dl_rtl_write_uint(dl_machine *m, uint64_t va, unsigned size, uint64_t value);

#endif
