/*
** dl_alloc.h: the one allocator of the engine, with a failure hook (as Lua's
** ltests.c counts and fails allocations). Every core .c file is compiled
** with this header forced in first (`-include base/dl_alloc.h`, Makefile),
** so malloc, calloc and realloc in core/ are these wrappers; a test sets
** dl_alloc_fail_after(n) and the n-th allocation after it fails, once, to
** drive every out-of-memory path in turn (tests/c/test_allocfail.c).
*/
#ifndef DL_ALLOC_H
#define DL_ALLOC_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

/* malloc, calloc and realloc, counted; NULL for the allocation chosen to
** fail. realloc(p, 0) is not used by the engine. */
void *dl_malloc(size_t size);
void *dl_calloc(size_t n, size_t size);
void *dl_realloc(void *p, size_t size);

/* Makes the n-th allocation from now fail (1: the next one), once;
** 0 turns failing off. */
void dl_alloc_fail_after(uint64_t n);

/* Allocations made so far (failed ones included), and how many failed. */
uint64_t dl_alloc_count(void);
uint64_t dl_alloc_failures(void);

#define malloc(size) dl_malloc(size)
#define calloc(n, size) dl_calloc(n, size)
#define realloc(p, size) dl_realloc(p, size)

#endif
