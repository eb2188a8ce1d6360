/*
** dl_split.c: greedy splitting, each transfer as long as every limit allows.
** Greedy is also optimal: the furthest end each limit allows from a start
** never moves back when the start moves forward, so the longest piece that
** keeps every limit never stops a split that another choice would finish.
*/
#include "hal/dl_split.h"

#include <stdio.h>
#include <string.h>

#include "machine/dl_machine.h"
#include "base/dl_status.h"
#include "base/dl_wdk.h"

/* Bytes from va to the end of the physically contiguous run, at most max. */
static uint64_t run_from(const dl_mdl *mdl, uint64_t va, uint64_t max, uint64_t ps) {
  uint64_t pa = dl_mdl_pa(mdl, va), run = ps - va % ps;
  while (run < max && dl_mdl_pa(mdl, va + run) == pa + run) run += ps;
  return run < max ? run : max;
}

/* The longest transfer from va within the registers, max_bytes and
** max_elements; *limit names the limit that stopped it (NULL: the end). */
static uint64_t longest(const dl_mdl *mdl, uint64_t va, uint64_t left, const dl_split_limits *lim,
                        uint64_t ps, const char **limit) {
  uint64_t len = (uint64_t)lim->map_registers * ps - va % ps;  /* span <= registers */
  *limit = len < left ? "NumberOfMapRegisters" : NULL;
  if (len > left) len = left;
  if (lim->max_bytes && len > lim->max_bytes) {
    len = lim->max_bytes;
    *limit = "max_bytes";
  }
  uint64_t done = 0;
  uint32_t runs = 0;
  while (done < len && (!lim->max_elements || runs < lim->max_elements)) {
    done += run_from(mdl, va + done, len - done, ps);
    runs++;
  }
  if (done < len) *limit = "max_elements";
  return done;
}

/* The limit's value, for a message. */
static uint64_t limit_value(const dl_split_limits *lim, const char *limit) {
  if (strcmp(limit, "max_bytes") == 0) return lim->max_bytes;
  if (strcmp(limit, "max_elements") == 0) return lim->max_elements;
  return lim->map_registers;
}

/* The transfer from va: the longest that keeps every limit, cut to a
** multiple of the alignment unless it is the last; 0 (with *why) if the
** limits allow no piece of at least `alignment` bytes. */
static uint64_t piece_length(const dl_mdl *mdl, uint64_t va, uint64_t left,
                             const dl_split_limits *lim, uint64_t ps, char *why, size_t size) {
  const char *limit;
  uint64_t len = longest(mdl, va, left, lim, ps, &limit);
  if (!lim->alignment || len == left) return len;
  if (len >= lim->alignment) return len - len % lim->alignment;
  if (why)
    snprintf(why, size, "no split keeps alignment %u: from 0x%llx (BYTE_OFFSET 0x%llx) %s %llu "
             "allows only %llu bytes", lim->alignment, (unsigned long long)va,
             (unsigned long long)(va % ps), limit, (unsigned long long)limit_value(lim, limit),
             (unsigned long long)len);
  return 0;
}

/* Physically contiguous runs in [va, va+len). */
static uint32_t runs_in(const dl_mdl *mdl, uint64_t va, uint64_t len, uint64_t ps) {
  uint32_t n = 0;
  for (uint64_t at = 0; at < len; n++) at += run_from(mdl, va + at, len - at, ps);
  return n;
}

/* Splits [va, va+length) into transfers. */
int dl_split_transfer(const dl_mdl *mdl, uint64_t va, uint64_t length,
                      const dl_split_limits *lim, dl_split_piece *out, size_t cap, size_t *count,
                      char *why, size_t why_size) {
  uint64_t ps = dl_machine_page_size(dl_mdl_machine(mdl));
  uint64_t start = dl_mdl_virtual_address(mdl), end = start + dl_mdl_byte_count(mdl);
  if (lim->map_registers == 0 || va < start || va >= end || length > end - va || length == 0) {
    if (why) snprintf(why, why_size, "%s", lim->map_registers ? "range outside the MDL"
                                                               : "NumberOfMapRegisters must be > 0");
    return DL_EINVAL;
  }
  size_t n = 0;
  for (uint64_t at = va; at < va + length; n++) {
    uint64_t len = piece_length(mdl, at, va + length - at, lim, ps, why, why_size);
    if (len == 0) return DL_ERANGE;
    if (n < cap)
      out[n] = (dl_split_piece){at, (uint32_t)len, (uint32_t)dl_span_pages(at, len, ps),
                                runs_in(mdl, at, len, ps)};
    at += len;
  }
  *count = n;
  return DL_OK;
}
