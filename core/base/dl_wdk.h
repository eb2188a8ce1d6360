/*
** dl_wdk.h: the other Windows values the lab uses, each defined once with
** the WDK's value: IRP major function codes (wdm.h), IRQLs (x64 wdm.h) and
** the page-geometry macros (BYTE_OFFSET, PAGE_ALIGN, BYTES_TO_PAGES,
** ROUND_TO_PAGES, ADDRESS_AND_SIZE_TO_SPAN_PAGES) as functions of the
** page size, which is a machine's and always a power of two. The tables
** list the values by WDK name, so the Lua module exports exactly these.
*/
#ifndef DL_WDK_H
#define DL_WDK_H

#include <stddef.h>
#include <stdint.h>

#include "base/dl_ntstatus.h"

/* Major function codes, with the WDK's values. */
enum {
  DL_IRP_MJ_CREATE = 0x00,
  DL_IRP_MJ_CLOSE = 0x02,
  DL_IRP_MJ_READ = 0x03,
  DL_IRP_MJ_WRITE = 0x04,
  DL_IRP_MJ_DEVICE_CONTROL = 0x0e,
  DL_IRP_MJ_MAXIMUM_FUNCTION = 0x1b
};

/* IRQL values (x64). */
enum {
  DL_PASSIVE_LEVEL = 0,
  DL_LOW_LEVEL = 0,
  DL_APC_LEVEL = 1,
  DL_DISPATCH_LEVEL = 2,
  DL_CMCI_LEVEL = 5,
  DL_CLOCK_LEVEL = 13,
  DL_IPI_LEVEL = 14,
  DL_POWER_LEVEL = 14,
  DL_PROFILE_LEVEL = 15,
  DL_HIGH_LEVEL = 15
};

/* The IRP_MJ_* codes, IRP_MJ_MAXIMUM_FUNCTION last; *count gets the length. */
const dl_wdk_value *dl_irp_major_table(size_t *count);

/* The IRQL names, the usual name of a level first; *count gets the length. */
const dl_wdk_value *dl_irql_table(size_t *count);

/* The usual name of an IRQL ("DISPATCH_LEVEL"), or NULL for an unnamed level. */
const char *dl_irql_name(uint32_t irql);

/* BYTE_OFFSET(Va): the offset of va in its page. */
static inline uint64_t dl_byte_offset(uint64_t va, uint64_t page_size) {
  return va & (page_size - 1);
}

/* PAGE_ALIGN(Va): the start of va's page. */
static inline uint64_t dl_page_align(uint64_t va, uint64_t page_size) {
  return va & ~(page_size - 1);
}

/* BYTES_TO_PAGES(Size): pages to hold size bytes (no overflow near 2^64). */
static inline uint64_t dl_bytes_to_pages(uint64_t size, uint64_t page_size) {
  return size / page_size + (size % page_size != 0);
}

/* ROUND_TO_PAGES(Size): size rounded up to whole pages. */
static inline uint64_t dl_round_to_pages(uint64_t size, uint64_t page_size) {
  return (size + page_size - 1) & ~(page_size - 1);
}

/* ADDRESS_AND_SIZE_TO_SPAN_PAGES(Va, Size): the pages [va, va+size) touches,
** (BYTE_OFFSET(Va) + Size + PAGE_SIZE - 1) / PAGE_SIZE, written so that it
** does not overflow: (0x1FFF, 2) spans 2 pages of 4096, (0x1000, 4096) 1;
** as in the WDK, a size of 0 gives 0 on a page boundary and 1 elsewhere. */
static inline uint64_t dl_span_pages(uint64_t va, uint64_t size, uint64_t page_size) {
  return size / page_size + (dl_byte_offset(va, page_size) + size % page_size + page_size - 1) / page_size;
}

#endif
