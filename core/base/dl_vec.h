/*
** dl_vec.h: growing the arrays the engine appends to (slot pools, S/G
** elements, reports...). An array is a `T *items` and an unsigned capacity
** kept wherever its owner likes; dl_vec_reserve grows it by doubling
** (amortised O(1) appends), from DL_VEC_MIN, and leaves it untouched when
** out of memory, so the owner stays consistent:
**
**   if (dl_vec_reserve(sg->el, sg->cap, sg->n + 1)) return DL_ENOMEM;
**   sg->el[sg->n++] = element;
*/
#ifndef DL_VEC_H
#define DL_VEC_H

#include <stddef.h>
#include <stdint.h>

#include "base/dl_status.h"

/* The capacity of an array's first allocation. */
#define DL_VEC_MIN 8

/* Grows the array whose pointer is at pitems (elements of elem bytes,
** capacity cap, at most max) to hold want elements; stores the new capacity
** in *newcap. DL_OK, or DL_ENOMEM with the array unchanged. Use the macro. */
int dl_vec_grow_(void *pitems, size_t elem, size_t cap, size_t want, size_t max, size_t *newcap);

#define DL_VEC_GROW_AS(name, T)                                                  \
  static inline int name(void *pitems, size_t elem, T *cap, size_t want) {        \
    size_t n;                                                                     \
    int rc = dl_vec_grow_(pitems, elem, *cap, want, (T)-1, &n);                   \
    if (rc == DL_OK) *cap = (T)n;                                                 \
    return rc;                                                                    \
  }
DL_VEC_GROW_AS(dl_vec_grow_u, unsigned)
DL_VEC_GROW_AS(dl_vec_grow_ul, unsigned long)
DL_VEC_GROW_AS(dl_vec_grow_ull, unsigned long long)
#undef DL_VEC_GROW_AS

/* dl_vec_reserve(items, cap, want): makes the array `items` (a T * lvalue,
** NULL when empty) with capacity `cap` (an unsigned lvalue of any width)
** hold at least `want` elements. Evaluates to DL_OK, or DL_ENOMEM with both
** unchanged. */
#define dl_vec_reserve(items, cap, want)                                          \
  ((size_t)(want) <= (size_t)(cap) ? DL_OK                                        \
   : _Generic(&(cap), unsigned *: dl_vec_grow_u, unsigned long *: dl_vec_grow_ul, \
              unsigned long long *: dl_vec_grow_ull)(                             \
         (void *)&(items), sizeof *(items), &(cap), (size_t)(want)))

/* dl_vec_free(items, cap): frees the array (NULL is fine) and empties it. */
#define dl_vec_free(items, cap) (dl_vec_free_((void *)&(items)), (cap) = 0)
void dl_vec_free_(void *pitems);

#endif
