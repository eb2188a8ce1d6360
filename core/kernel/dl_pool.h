/*
** dl_pool.h: the executive's pool (ExAllocatePool2, ExAllocatePoolWithTag,
** ExFreePool[WithTag]) with Driver Verifier's pool tracking. Each
** allocation is a region of the machine's virtual address space (its own
** pages, a guard page after it), tagged, on the machine's object list.
**
** Rules, as bug check 0xC4 DRIVER_VERIFIER_DETECTED_VIOLATION with the
** documented parameter 1: 0x00 a zero-byte allocation, 0x01 paged pool
** above APC_LEVEL, 0x02 nonpaged pool above DISPATCH_LEVEL, 0x10 a free of
** an address no allocation returned, 0x11/0x12 a free above APC_LEVEL /
** DISPATCH_LEVEL, 0x13 a free of pool already freed, and 0x62 at the end of
** the run for each allocation still held (parameter 4: how many). A free
** whose tag is not the allocation's is bug check 0xC2 BAD_POOL_CALLER with
** parameter 1 0x0A.
*/
#ifndef DL_POOL_H
#define DL_POOL_H

#include <stdint.h>

#include "machine/dl_object.h"
#include "memory/dl_vspace.h"

typedef struct dl_machine dl_machine;

/* Parameter 1 values of bug check 0xC4 for the pool. */
enum {
  DL_C4_ZERO_ALLOC = 0x00, DL_C4_PAGED_IRQL = 0x01, DL_C4_NONPAGED_IRQL = 0x02,
  DL_C4_BAD_FREE = 0x10, DL_C4_FREE_PAGED_IRQL = 0x11, DL_C4_FREE_NONPAGED_IRQL = 0x12,
  DL_C4_DOUBLE_FREE = 0x13, DL_C4_POOL_LEAK = 0x62
};
#define DL_BUGCHECK_BAD_POOL_CALLER 0xC2u
#define DL_C2_BAD_TAG 0x0Au

/* How many freed addresses the pool remembers to tell a double free. */
#define DL_POOL_FREED_MEMORY 1024

/* One allocation. */
typedef struct dl_pool {
  DL_OBJECT_FIELDS
  dl_region *r;
  uint64_t size;
  uint32_t tag;
  int paged;
} dl_pool;

extern const dl_object_type dl_pool_type;

/* Allocates size bytes of paged (paged != 0) or nonpaged pool with a tag,
** zeroed if zero; *va gets the address, 0 if the allocation failed (a
** zero-byte request is reported and fails). *out (may be NULL) the record.
** DL_ENOSPACE/DL_ELIMIT as dl_buffer_new. */
int dl_pool_alloc(dl_machine *m, int paged, uint64_t size, uint32_t tag, int zero, uint64_t *va,
                  dl_pool **out);

/* ExFreePool (check_tag 0) / ExFreePoolWithTag: frees the allocation at va,
** or reports why it cannot (DL_EINVAL then; DL_EBUSY while an MDL holds
** its pages locked). */
int dl_pool_free(dl_machine *m, uint64_t va, int check_tag, uint32_t tag);

/* The allocation at exactly va, or NULL. */
dl_pool *dl_pool_at(dl_machine *m, uint64_t va);

/* Frees a record without the driver's rules (its owner goes: a WDFMEMORY);
** NULL is a harmless no-op. */
void dl_pool_release(dl_pool *p);

/* Allocations live now. */
uint64_t dl_pool_live(dl_machine *m);

/* The four characters of a tag, for messages ("Tag1"): buf of 5 bytes. */
const char *dl_pool_tag_text(uint32_t tag, char buf[5]);

#endif
