/*
** test_stats.c: core/machine/dl_stats.c against hand-computed runs: the
** latency split of one request, the queueing of the one behind it, exact
** percentiles (values below 128 ns are exact), the power-of-two histogram,
** the gauges' time-weighted means and series, and attribution to the
** oldest request in flight; the series' bin walk (no division per change)
** against a reference that divides for every bin, over many rescales.
*/
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "machine/dl_stats.h"

static uint64_t seq;

/* Feeds one record at time t. */
static void rec(dl_runstats *s, uint64_t t, dl_trace_kind kind, uint64_t obj, uint64_t a, uint64_t b) {
  dl_trace_record r = {++seq, t, 0, 0, (uint16_t)kind, obj, a, b};
  dl_runstats_observe(s, &r);
}

/* One request: sent at 0, channel asked at 100 and granted at 300 (4 map
** registers), DMA 400..1400, DPC queued 1400 and run 3400, complete 3500. */
static void one_request(dl_runstats *s, uint64_t id, uint64_t t0) {
  rec(s, t0 + 100, DL_TR_CHANNEL_REQUEST, 7, 1, 4);
  rec(s, t0 + 300, DL_TR_CHANNEL_GRANT, 7, 1, 4);
  rec(s, t0 + 350, DL_TR_MAP, 7, 0x1000, 4096);
  rec(s, t0 + 400, DL_TR_DMA_START, 9, 0x1000, 4096);
  rec(s, t0 + 1400, DL_TR_DMA_END, 9, 4096, 0);
  rec(s, t0 + 1400, DL_TR_DPC_QUEUED, 11, 0, 0);
  rec(s, t0 + 3400, DL_TR_DPC_RUN, 11, 2000, 0);
  rec(s, t0 + 3400, DL_TR_FREE_MAP_REGISTERS, 7, 4, 0);
  rec(s, t0 + 3500, DL_TR_REQUEST_COMPLETE, id, 0, 4096);
}

static void split_of_one_request(void **state) {
  (void)state;
  dl_runstats *s = dl_runstats_new();
  rec(s, 0, DL_TR_REQUEST_START, 1, 3, 4096);
  one_request(s, 1, 0);
  const dl_request_times *t = dl_runstats_last_completed(s);
  assert_non_null(t);
  assert_int_equal(t->ns[DL_LAT_TOTAL], 3500);
  assert_int_equal(t->ns[DL_LAT_QUEUE], 100);
  assert_int_equal(t->ns[DL_LAT_CHANNEL], 200);
  assert_int_equal(t->ns[DL_LAT_TRANSFER], 1000);
  assert_int_equal(t->ns[DL_LAT_COMPLETION], 2200);
  /* map registers: 4 from 300 to 3400 of 3500 ns; DPC queue: 1 for 2000 ns */
  assert_int_equal(dl_runstats_gauge_max(s, DL_G_MAP_REGISTERS), 4);
  assert_true(dl_runstats_gauge_mean(s, DL_G_MAP_REGISTERS, 3500) == 4.0 * 3100 / 3500);
  assert_true(dl_runstats_gauge_mean(s, DL_G_DPC_QUEUE, 3500) == 2000.0 / 3500);
  assert_true(dl_runstats_gauge_mean(s, DL_G_BYTES_IN_FLIGHT, 3500) == 4096.0 * 1000 / 3500);
  assert_int_equal(dl_runstats_gauge(s, DL_G_REQUESTS_IN_FLIGHT), 0);
  dl_runstats_free(s);
}

/* Two requests sent together: the second queues for the whole first. */
static void second_request_queues(void **state) {
  (void)state;
  dl_runstats *s = dl_runstats_new();
  rec(s, 0, DL_TR_REQUEST_START, 1, 3, 4096);
  rec(s, 0, DL_TR_REQUEST_START, 2, 3, 4096);
  one_request(s, 1, 0);
  one_request(s, 2, 3500);
  const dl_request_times *t = dl_runstats_last_completed(s);
  assert_int_equal(t->id, 2);
  assert_int_equal(t->ns[DL_LAT_TOTAL], 7000);
  assert_int_equal(t->ns[DL_LAT_QUEUE], 3600);
  assert_int_equal(t->ns[DL_LAT_CHANNEL], 200);
  dl_dist d;
  dl_runstats_latency(s, DL_LAT_QUEUE, &d);
  assert_int_equal(d.count, 2);
  assert_int_equal(d.min, 100);
  assert_int_equal(d.max, 3600);
  assert_int_equal(d.sum, 3700);
  assert_int_equal(dl_runstats_gauge_max(s, DL_G_REQUESTS_IN_FLIGHT), 2);
  dl_runstats_free(s);
}

/* 100 requests of 10..109 ns: nearest-rank p50 = 59, p90 = 99, p99 = 108. */
static void percentiles(void **state) {
  (void)state;
  dl_runstats *s = dl_runstats_new();
  for (uint64_t i = 0; i < 100; i++) {
    rec(s, 1000 * i, DL_TR_REQUEST_START, i + 1, 3, 1);
    rec(s, 1000 * i + 10 + i, DL_TR_REQUEST_COMPLETE, i + 1, 0, 1);
  }
  dl_dist d;
  dl_runstats_latency(s, DL_LAT_TOTAL, &d);
  assert_int_equal(d.count, 100);
  assert_int_equal(d.p50, 59);
  assert_int_equal(d.p90, 99);
  assert_int_equal(d.p99, 108);
  assert_int_equal(d.max, 109);
  assert_int_equal(d.min, 10);
  uint64_t h[DL_HIST_POW2];
  size_t used = dl_runstats_histogram(s, DL_LAT_TOTAL, h);
  assert_int_equal(used, 8);       /* 64..127 is bucket 7 */
  assert_int_equal(h[4], 6);       /* 10..15 */
  assert_int_equal(h[5], 16);      /* 16..31 */
  assert_int_equal(h[6], 32);      /* 32..63 */
  assert_int_equal(h[7], 46);      /* 64..109 */
  /* large values stay within 1/128 */
  dl_runstats_free(s);
  s = dl_runstats_new();
  rec(s, 0, DL_TR_REQUEST_START, 1, 3, 1);
  rec(s, 0, DL_TR_REQUEST_START, 2, 3, 1);
  rec(s, 1000000, DL_TR_REQUEST_COMPLETE, 1, 0, 1);
  rec(s, 3000000, DL_TR_REQUEST_COMPLETE, 2, 0, 1);
  dl_runstats_latency(s, DL_LAT_TOTAL, &d);
  assert_true(d.p50 >= 1000000 - 1000000 / 128 && d.p50 <= 1000000 + 1000000 / 128);
  assert_true(d.p99 >= 3000000 - 3000000 / 128 && d.p99 <= 3000000);
  assert_int_equal(d.max, 3000000);
  dl_runstats_free(s);
}

/* The series: bins of 1 us, doubling once the run passes 512 bins. */
static void series(void **state) {
  (void)state;
  dl_runstats *s = dl_runstats_new();
  rec(s, 0, DL_TR_CHANNEL_GRANT, 7, 1, 2);
  rec(s, 1500, DL_TR_FREE_MAP_REGISTERS, 7, 2, 0);
  dl_sample out[DL_SERIES_BINS];
  uint64_t width;
  size_t n = dl_runstats_series(s, DL_G_MAP_REGISTERS, 3000, out, DL_SERIES_BINS, &width);
  assert_int_equal(width, 1000);
  assert_int_equal(n, 3);
  assert_true(out[0].mean == 2.0 && out[0].max == 2);
  assert_true(out[1].mean == 1.0 && out[1].max == 2);
  assert_true(out[2].mean == 0.0 && out[2].max == 0);
  rec(s, 1000000, DL_TR_CHANNEL_GRANT, 7, 1, 1);  /* 1 ms: bins of 2 us */
  n = dl_runstats_series(s, DL_G_MAP_REGISTERS, 1000000, out, DL_SERIES_BINS, &width);
  assert_int_equal(width, 2000);
  assert_true(out[0].mean == 3000.0 / 2000 && out[0].max == 2);
  assert_true(n <= DL_SERIES_BINS);
  assert_true(dl_runstats_gauge_mean(s, DL_G_MAP_REGISTERS, 1000000) == 3000.0 / 1000000);
  dl_runstats_free(s);
}

/* Device work belongs to the oldest request in flight; a DMA end after its
** request completed is nobody's. */
static void attribution(void **state) {
  (void)state;
  dl_runstats *s = dl_runstats_new();
  rec(s, 0, DL_TR_REQUEST_START, 5, 3, 1);
  rec(s, 0, DL_TR_REQUEST_START, 6, 3, 1);
  rec(s, 10, DL_TR_DMA_START, 9, 0, 100);
  assert_int_equal(dl_runstats_owner(s), 5);
  rec(s, 20, DL_TR_REQUEST_COMPLETE, 5, 0xC0000001, 0);
  rec(s, 30, DL_TR_DMA_END, 9, 100, 0);
  assert_int_equal(dl_runstats_owner(s), 6);
  rec(s, 40, DL_TR_REQUEST_COMPLETE, 6, 0, 1);
  const dl_request_times *t = dl_runstats_last_completed(s);
  assert_int_equal(t->ns[DL_LAT_TRANSFER], 0);
  assert_int_equal(t->ns[DL_LAT_QUEUE], 40);
  assert_int_equal(dl_runstats_completed(s), 2);
  assert_int_equal(dl_runstats_gauge(s, DL_G_BYTES_IN_FLIGHT), 0);
  dl_runstats_free(s);
  dl_runstats_free(NULL);
}

/* ---- a reference gauge: every bin found by dividing time by the width ---- */

typedef struct ref_gauge {
  uint64_t width, value, last;
  double area, bin_area[DL_SERIES_BINS];
  uint64_t bin_max[DL_SERIES_BINS];
} ref_gauge;

static void ref_rescale(ref_gauge *g) {
  for (size_t i = 0; i < DL_SERIES_BINS / 2; i++) {
    g->bin_area[i] = g->bin_area[2 * i] + g->bin_area[2 * i + 1];
    uint64_t a = g->bin_max[2 * i], b = g->bin_max[2 * i + 1];
    g->bin_max[i] = a > b ? a : b;
  }
  memset(g->bin_area + DL_SERIES_BINS / 2, 0, DL_SERIES_BINS / 2 * sizeof g->bin_area[0]);
  memset(g->bin_max + DL_SERIES_BINS / 2, 0, DL_SERIES_BINS / 2 * sizeof g->bin_max[0]);
  g->width *= 2;
}

static void ref_advance(ref_gauge *g, uint64_t now) {
  while (now / g->width >= DL_SERIES_BINS) ref_rescale(g);
  for (uint64_t t = g->last; t < now || (t == now && t == g->last);) {
    size_t i = (size_t)(t / g->width);
    uint64_t end = (uint64_t)(i + 1) * g->width;
    if (end > now) end = now;
    g->bin_area[i] += (double)g->value * (double)(end - t);
    if (g->value > g->bin_max[i]) g->bin_max[i] = g->value;
    if (end == t) break;
    t = end;
  }
  g->area += (double)g->value * (double)(now - g->last);
  g->last = now;
}

static void ref_add(ref_gauge *g, int64_t delta, uint64_t now) {
  ref_advance(g, now);
  if (delta < 0 && (uint64_t)-delta > g->value) g->value = 0;
  else g->value = (uint64_t)((int64_t)g->value + delta);
  size_t i = (size_t)(now / g->width);
  if (g->value > g->bin_max[i]) g->bin_max[i] = g->value;
}

/* The series of the map-register gauge equals the reference's, bin for bin,
** at every step of a run whose changes fall inside bins, on their edges, at
** the same instant and many bins apart (the bins double 10 times). Values
** and times are small integers, so every sum is exact in any order. */
static void series_matches_reference(void **state) {
  (void)state;
  dl_runstats *s = dl_runstats_new();
  static ref_gauge g;
  memset(&g, 0, sizeof g);
  g.width = 1000;
  uint64_t t = 0, x = 12345;
  static dl_sample out[DL_SERIES_BINS];
  for (int step = 0; step < 4000; step++) {
    x = x * UINT64_C(6364136223846793005) + UINT64_C(1442695040888963407);
    uint64_t r = x >> 33;
    switch (r % 6) {
      case 0: break;                                        /* the same instant */
      case 1: t += 1 + r % 300; break;                      /* inside a bin, mostly */
      case 2: t += g.width - t % g.width; break;            /* onto the next edge */
      case 3: t += g.width * (1 + r % 5); break;            /* a few bins on */
      case 4: t += (r % 64) * 97; break;
      default: if (step % 97 == 0) t += g.width * 300; break;  /* past the end: rescale */
    }
    int64_t d = (int64_t)(r % 7) - 3;
    if (d >= 0) rec(s, t, DL_TR_CHANNEL_GRANT, 7, 1, (uint64_t)d);
    else rec(s, t, DL_TR_FREE_MAP_REGISTERS, 7, (uint64_t)-d, 0);
    ref_add(&g, d, t);
    assert_int_equal(dl_runstats_gauge(s, DL_G_MAP_REGISTERS), g.value);
    if (step % 50 && step != 3999) continue;
    uint64_t now = t + r % 2000, width;
    size_t n = dl_runstats_series(s, DL_G_MAP_REGISTERS, now, out, DL_SERIES_BINS, &width);
    ref_gauge c = g;
    ref_advance(&c, now);
    assert_int_equal(width, c.width);
    size_t bins = (size_t)(now / c.width) + 1;
    for (size_t i = 0; i < n; i++) {
      uint64_t start = (uint64_t)i * c.width, covered = now - start < c.width ? now - start : c.width;
      assert_int_equal(out[i].start, start);
      assert_int_equal(out[i].max, c.bin_max[i]);
      assert_true(out[i].mean == (covered ? c.bin_area[i] / (double)covered : (double)c.value));
    }
    assert_true(n == bins || (n == bins - 1 && now % c.width == 0));
    assert_true(dl_runstats_gauge_mean(s, DL_G_MAP_REGISTERS, now) ==
                (now ? (c.area) / (double)now : 0.0));
  }
  assert_true(g.width >= 1000 << 10);
  dl_runstats_free(s);
}

/* The gauges at the end of time (found by the API fuzzer: two m:after of
** math.maxinteger ns put the clock at 2^64 - 1, where a bin's end
** overflowed and the gauge never finished advancing): each change there
** returns, and the series keeps its bins. */
static void end_of_time(void **state) {
  (void)state;
  dl_runstats *s = dl_runstats_new();
  rec(s, 0, DL_TR_DPC_QUEUED, 11, 0, 0);
  rec(s, UINT64_MAX / 2, DL_TR_DPC_RUN, 11, 0, 0);
  rec(s, UINT64_MAX - 1, DL_TR_DPC_QUEUED, 11, 0, 0);
  rec(s, UINT64_MAX, DL_TR_DPC_QUEUED, 12, 0, 0);
  rec(s, UINT64_MAX, DL_TR_DPC_RUN, 12, 0, 0);
  assert_int_equal(dl_runstats_gauge(s, DL_G_DPC_QUEUE), 1);
  assert_int_equal(dl_runstats_gauge_max(s, DL_G_DPC_QUEUE), 2);
  dl_runstats_free(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(split_of_one_request),
    cmocka_unit_test(second_request_queues),
    cmocka_unit_test(percentiles),
    cmocka_unit_test(series),
    cmocka_unit_test(series_matches_reference),
    cmocka_unit_test(attribution),
    cmocka_unit_test(end_of_time),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
