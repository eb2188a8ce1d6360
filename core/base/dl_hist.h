/*
** dl_hist.h: the log-linear histogram buckets the statistics use (DPC
** latency, request latency): exact below 128, then 64 buckets per power
** of two, so a bucket's middle is within 1/128 of any value in it.
*/
#ifndef DL_HIST_H
#define DL_HIST_H

#include <stddef.h>
#include <stdint.h>

#define DL_HIST_SUB 64                              /* buckets per power of two */
#define DL_HIST_BUCKETS (DL_HIST_SUB + 59 * DL_HIST_SUB)

/* The bucket of v: e * 64 + (v >> e), where v >> e is in [64, 128). */
static inline size_t dl_hist_bucket(uint64_t v) {
  if (v < 2 * DL_HIST_SUB) return (size_t)v;
  int e = 63 - __builtin_clzll(v) - 6;
  return (size_t)e * DL_HIST_SUB + (size_t)(v >> e);
}

/* The lowest value of bucket b. */
static inline uint64_t dl_hist_low(size_t b) {
  if (b < 2 * DL_HIST_SUB) return b;
  int e = (int)(b / DL_HIST_SUB) - 1;
  return (uint64_t)(DL_HIST_SUB + b % DL_HIST_SUB) << e;
}

/* The middle of bucket b's range. */
static inline uint64_t dl_hist_value(size_t b) {
  if (b < 2 * DL_HIST_SUB) return b;
  int e = (int)(b / DL_HIST_SUB) - 1;
  return dl_hist_low(b) + ((UINT64_C(1) << e) >> 1);
}

#endif
