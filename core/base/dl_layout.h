/*
** dl_layout.h: C structure layout as the WDK's compilers lay it out on x64
** (natural alignment, no packing): each field at the next offset that is a
** multiple of its alignment, arrays of elements back to back, the
** structure's size rounded up to its largest alignment. The scalar types a
** driver's descriptors use are named as in the WDK (UCHAR, USHORT, ULONG,
** ULONG64, PHYSICAL_ADDRESS...), each with its size, alignment and sign.
*/
#ifndef DL_LAYOUT_H
#define DL_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

/* A scalar type: name, size = alignment (1, 2, 4 or 8), signed or not. */
typedef struct dl_ctype {
  const char *name;
  uint8_t size;
  uint8_t is_signed;
} dl_ctype;

/* The scalar type called `name` ("ULONG"...), or NULL. */
const dl_ctype *dl_ctype_find(const char *name);

/* The i-th known scalar type, or NULL past the last (for listings). */
const dl_ctype *dl_ctype_at(size_t i);

/* A layout being built: its running size and largest alignment. */
typedef struct dl_layout {
  uint64_t size;
  uint32_t align;
} dl_layout;

/* An empty layout (size 0, alignment 1). */
void dl_layout_init(dl_layout *l);

/* Places a field of `count` elements of elem_size bytes aligned to
** elem_align (a power of two) and returns its offset in *offset. DL_EINVAL
** for a zero count or size, a bad alignment or a size past 4 GiB. */
int dl_layout_add(dl_layout *l, uint64_t elem_size, uint32_t elem_align, uint64_t count,
                  uint64_t *offset);

/* Ends the layout: the size rounded up to the alignment (sizeof). */
uint64_t dl_layout_finish(dl_layout *l);

/* Little-endian integer of `size` bytes at p (sign-extended if is_signed),
** and its inverse; the wire format of every x64 structure. */
uint64_t dl_ctype_decode(const unsigned char *p, unsigned size, int is_signed);
void dl_ctype_encode(unsigned char *p, unsigned size, uint64_t v);

#endif
