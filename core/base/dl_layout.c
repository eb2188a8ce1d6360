/*
** dl_layout.c: C structure layout and the scalar types (dl_layout.h).
*/
#include "base/dl_layout.h"

#include <string.h>

#include "base/dl_status.h"

static const dl_ctype types[] = {
  {"UCHAR", 1, 0}, {"BOOLEAN", 1, 0}, {"CHAR", 1, 1}, {"BYTE", 1, 0}, {"UINT8", 1, 0},
  {"USHORT", 2, 0}, {"SHORT", 2, 1}, {"WORD", 2, 0}, {"UINT16", 2, 0},
  {"ULONG", 4, 0}, {"LONG", 4, 1}, {"DWORD", 4, 0}, {"UINT32", 4, 0}, {"NTSTATUS", 4, 1},
  {"ULONG64", 8, 0}, {"ULONGLONG", 8, 0}, {"LONG64", 8, 1}, {"LONGLONG", 8, 1}, {"UINT64", 8, 0},
  {"PHYSICAL_ADDRESS", 8, 1}, {"LARGE_INTEGER", 8, 1}, {"ULONG_PTR", 8, 0}, {"SIZE_T", 8, 0},
  {"PVOID", 8, 0},
};

/* The scalar type called name. */
const dl_ctype *dl_ctype_find(const char *name) {
  for (size_t i = 0; name && i < sizeof types / sizeof types[0]; i++)
    if (strcmp(types[i].name, name) == 0) return &types[i];
  return NULL;
}

/* The i-th scalar type. */
const dl_ctype *dl_ctype_at(size_t i) { return i < sizeof types / sizeof types[0] ? &types[i] : NULL; }

/* An empty layout. */
void dl_layout_init(dl_layout *l) {
  l->size = 0;
  l->align = 1;
}

#define LAYOUT_MAX (UINT64_C(1) << 32)

/* Places a field at the next offset its alignment allows. */
int dl_layout_add(dl_layout *l, uint64_t elem_size, uint32_t elem_align, uint64_t count,
                  uint64_t *offset) {
  if (!count || !elem_size || !elem_align || (elem_align & (elem_align - 1))) return DL_EINVAL;
  if (elem_size > LAYOUT_MAX || count > LAYOUT_MAX / elem_size) return DL_EINVAL;
  uint64_t at = (l->size + elem_align - 1) & ~(uint64_t)(elem_align - 1);
  if (at + elem_size * count > LAYOUT_MAX) return DL_EINVAL;
  *offset = at;
  l->size = at + elem_size * count;
  if (elem_align > l->align) l->align = elem_align;
  return DL_OK;
}

/* sizeof: padded to the alignment. */
uint64_t dl_layout_finish(dl_layout *l) {
  l->size = (l->size + l->align - 1) & ~(uint64_t)(l->align - 1);
  return l->size;
}

/* Little-endian decode. */
uint64_t dl_ctype_decode(const unsigned char *p, unsigned size, int is_signed) {
  uint64_t v = 0;
  for (unsigned i = size; i-- > 0;) v = v << 8 | p[i];
  if (is_signed && size < 8 && (v >> (8 * size - 1)) & 1) v |= ~UINT64_C(0) << (8 * size);
  return v;
}

/* Little-endian encode. */
void dl_ctype_encode(unsigned char *p, unsigned size, uint64_t v) {
  for (unsigned i = 0; i < size; i++, v >>= 8) p[i] = (unsigned char)v;
}
