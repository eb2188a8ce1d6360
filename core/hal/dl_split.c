/*
** dl_split.c: greedy splitting, each transfer as long as every limit allows.
*/
#include "hal/dl_split.h"

#include "machine/dl_machine.h"
#include "base/dl_status.h"
#include "base/dl_wdk.h"

/* Bytes from va to the end of the physically contiguous run, at most max. */
static uint64_t run_from(const dl_mdl *mdl, uint64_t va, uint64_t max, uint64_t ps) {
  uint64_t pa = dl_mdl_pa(mdl, va), run = ps - va % ps;
  while (run < max && dl_mdl_pa(mdl, va + run) == pa + run) run += ps;
  return run < max ? run : max;
}

/* The longest transfer from va that keeps within every limit. */
static uint64_t piece_length(const dl_mdl *mdl, uint64_t va, uint64_t left,
                             const dl_split_limits *lim, uint64_t ps, uint32_t *elements) {
  uint64_t len = (uint64_t)lim->map_registers * ps - va % ps;  /* span <= registers */
  if (len > left) len = left;
  if (lim->max_bytes && len > lim->max_bytes) len = lim->max_bytes;
  uint64_t done = 0;
  uint32_t runs = 0;
  while (done < len && (!lim->max_elements || runs < lim->max_elements)) {
    done += run_from(mdl, va + done, len - done, ps);
    runs++;
  }
  len = done;
  if (lim->alignment && len < left && len >= lim->alignment) len -= len % lim->alignment;
  *elements = 0;
  for (uint64_t at = 0; at < len; (*elements)++) at += run_from(mdl, va + at, len - at, ps);
  return len;
}

/* Splits [va, va+length) into transfers. */
int dl_split_transfer(const dl_mdl *mdl, uint64_t va, uint64_t length,
                      const dl_split_limits *lim, dl_split_piece *out, size_t cap, size_t *count) {
  uint64_t ps = dl_machine_page_size(dl_mdl_machine(mdl));
  uint64_t start = dl_mdl_virtual_address(mdl), end = start + dl_mdl_byte_count(mdl);
  if (lim->map_registers == 0 || va < start || length > end - va || length == 0) return DL_EINVAL;
  size_t n = 0;
  for (uint64_t at = va; at < va + length; n++) {
    uint32_t elements;
    uint64_t len = piece_length(mdl, at, va + length - at, lim, ps, &elements);
    if (len == 0) return DL_EINVAL;
    if (n < cap)
      out[n] = (dl_split_piece){at, (uint32_t)len, (uint32_t)dl_span_pages(at, len, ps), elements};
    at += len;
  }
  *count = n;
  return DL_OK;
}
