/*
** dl_alloc.c: counting allocation wrappers with a one-shot failure. The
** state is process-wide, as the engine's allocations are: a test that
** fails allocations runs one machine at a time. The check is one compare,
** so the wrappers cost nothing measurable where failing is off.
*/
#include "base/dl_alloc.h"

#undef malloc  /* here they are the C library's (the header is forced in first) */
#undef calloc
#undef realloc

static uint64_t count, fail_at, failures;

/* 1 if this allocation is the one to fail. */
static int failing(void) {
  ++count;
  if (fail_at == 0 || count != fail_at) return 0;
  fail_at = 0;
  failures++;
  return 1;
}

/* malloc, counted. */
void *dl_malloc(size_t size) { return failing() ? NULL : malloc(size); }

/* calloc, counted. */
void *dl_calloc(size_t n, size_t size) { return failing() ? NULL : calloc(n, size); }

/* realloc, counted: a failure leaves p allocated, as realloc's does. */
void *dl_realloc(void *p, size_t size) { return failing() ? NULL : realloc(p, size); }

/* The n-th allocation from now fails (0: none). */
void dl_alloc_fail_after(uint64_t n) { fail_at = n ? count + n : 0; }

uint64_t dl_alloc_count(void) { return count; }
uint64_t dl_alloc_failures(void) { return failures; }
