/*
** dl_vec.c: the growth step behind dl_vec_reserve. The array pointer is
** passed by address as void * and copied with memcpy, so one function
** serves every element type.
*/
#include "base/dl_vec.h"

#include <stdlib.h>
#include <string.h>

/* Grows an array by doubling to hold want elements. */
int dl_vec_grow_(void *pitems, size_t elem, size_t cap, size_t want, size_t max, size_t *newcap) {
  size_t n = cap < DL_VEC_MIN / 2 ? DL_VEC_MIN : cap <= SIZE_MAX / 2 ? 2 * cap : SIZE_MAX;
  if (n < want) n = want;
  if (n > max) n = max;
  if (n < want || elem == 0 || n > SIZE_MAX / elem) return DL_ENOMEM;
  void *items;
  memcpy(&items, pitems, sizeof items);
  void *grown = realloc(items, n * elem);
  if (!grown) return DL_ENOMEM;
  memcpy(pitems, &grown, sizeof grown);
  *newcap = n;
  return DL_OK;
}

/* Frees an array and sets its pointer to NULL. */
void dl_vec_free_(void *pitems) {
  void *items;
  memcpy(&items, pitems, sizeof items);
  free(items);
  items = NULL;
  memcpy(pitems, &items, sizeof items);
}
