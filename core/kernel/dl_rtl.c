/*
** dl_rtl.c: Rtl memory routines over virtual addresses (dl_rtl.h).
*/
#include "kernel/dl_rtl.h"

#include <string.h>

#include "base/dl_layout.h"
#include "base/dl_status.h"
#include "machine/dl_machine.h"

#define CHUNK 4096u

/* Both ranges must be mapped before a byte moves (no half-done copy). */
static int mapped(dl_machine *m, uint64_t va, uint64_t len) {
  if (len == 0) return 1;
  if (va + len < va) return 0;
  return dl_vspace_find(dl_machine_vspace(m), va, len) != NULL;
}

/* RtlMoveMemory: chunks copied from the end when dst lies above src. */
int dl_rtl_move(dl_machine *m, uint64_t dst, uint64_t src, uint64_t len) {
  if (!mapped(m, dst, len) || !mapped(m, src, len)) return DL_ENOTMAPPED;
  unsigned char buf[CHUNK];
  int backward = dst > src && dst - src < len;
  for (uint64_t done = 0; done < len;) {
    uint64_t n = len - done < CHUNK ? len - done : CHUNK;
    uint64_t at = backward ? len - done - n : done;
    int rc = dl_machine_read_va(m, src + at, buf, n);
    if (!rc) rc = dl_machine_write_va(m, dst + at, buf, n);
    if (rc) return rc;
    done += n;
  }
  return DL_OK;
}

/* RtlFillMemory. */
int dl_rtl_fill(dl_machine *m, uint64_t dst, uint64_t len, int byte) {
  if (!mapped(m, dst, len)) return DL_ENOTMAPPED;
  return len ? dl_machine_fill_va(m, dst, byte, len) : DL_OK;
}

/* RtlCompareMemory. */
int dl_rtl_compare(dl_machine *m, uint64_t a, uint64_t b, uint64_t len, uint64_t *equal) {
  *equal = 0;
  if (!mapped(m, a, len) || !mapped(m, b, len)) return DL_ENOTMAPPED;
  unsigned char x[CHUNK], y[CHUNK];
  for (uint64_t done = 0; done < len;) {
    uint64_t n = len - done < CHUNK ? len - done : CHUNK;
    dl_machine_read_va(m, a + done, x, n);
    dl_machine_read_va(m, b + done, y, n);
    if (memcmp(x, y, n) != 0) {
      uint64_t i = 0;
      while (x[i] == y[i]) i++;
      *equal = done + i;
      return DL_OK;
    }
    done += n;
  }
  *equal = len;
  return DL_OK;
}

/* A typed read. */
int dl_rtl_read_uint(dl_machine *m, uint64_t va, unsigned size, uint64_t *value) {
  unsigned char b[8];
  if (size != 1 && size != 2 && size != 4 && size != 8) return DL_EINVAL;
  int rc = dl_machine_read_va(m, va, b, size);
  *value = rc ? 0 : dl_ctype_decode(b, size, 0);
  return rc;
}

/* A typed write. */
int dl_rtl_write_uint(dl_machine *m, uint64_t va, unsigned size, uint64_t value) {
  unsigned char b[8];
  if (size != 1 && size != 2 && size != 4 && size != 8) return DL_EINVAL;
  dl_ctype_encode(b, size, value);
  return dl_machine_write_va(m, va, b, size);
}
