/*
** dl_verifier.c: the report log.
*/
#include "machine/dl_verifier.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "machine/dl_clock.h"
#include "machine/dl_context.h"
#include "machine/dl_trace.h"
#include "base/dl_vec.h"

#define KEEP_MAX 10000

struct dl_verifier {
  dl_report *reports;
  size_t len, cap;
  uint64_t count;
};

/* Creates an empty report log. */
dl_verifier *dl_verifier_new(void) { return calloc(1, sizeof(dl_verifier)); }

/* Frees the log; NULL is a harmless no-op. */
void dl_verifier_free(dl_verifier *v) {
  if (!v) return;
  free(v->reports);
  free(v);
}

static dl_report *next_slot(dl_verifier *v) {
  static dl_report overflow;  /* reports beyond the kept ones are counted only */
  if (v->len == KEEP_MAX) return &overflow;
  if (dl_vec_reserve(v->reports, v->cap, v->len + 1)) return &overflow;
  return &v->reports[v->len++];
}

/* Records a report on the machine. */
const dl_report *dl_verify_fail(dl_machine *m, uint32_t bugcheck, uint32_t p1, uint64_t p2,
                                uint64_t p3, uint64_t p4, const char *fmt, ...) {
  dl_verifier *v = dl_machine_verifier(m);
  dl_report *r = next_slot(v);
  r->seq = ++v->count;
  r->time = dl_clock_now(dl_machine_clock(m));
  r->bugcheck = bugcheck;
  r->p1 = p1;
  r->p2 = p2;
  r->p3 = p3;
  r->p4 = p4;
  r->leak = 0;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(r->message, sizeof r->message, fmt, ap);
  va_end(ap);
  dl_trace_emit(m, DL_TR_VERIFIER, bugcheck, p1, r->seq);
  return r;
}

/* Marks the last report as found by a leak check. */
void dl_verifier_mark_leak(dl_machine *m) {
  dl_verifier *v = dl_machine_verifier(m);
  if (v->len) v->reports[v->len - 1].leak = 1;
}

/* Reports made so far. */
uint64_t dl_verifier_count(const dl_machine *m) {
  return dl_machine_verifier((dl_machine *)m)->count;
}

/* Report i of those kept, or NULL. */
const dl_report *dl_verifier_at(const dl_machine *m, size_t i) {
  dl_verifier *v = dl_machine_verifier((dl_machine *)m);
  return i < v->len ? &v->reports[i] : NULL;
}

/* Checks a call's IRQL rule; records 0xE6/0x13 when it is broken. */
int dl_verify_irql(dl_machine *m, const char *call, int exact, uint8_t level) {
  uint8_t now = dl_machine_irql(m);
  if (exact ? now == level : now <= level) return 1;
  dl_verify_fail(m, DL_BUGCHECK_DMA, DL_VF_WRONG_IRQL, exact ? 1 : 2, level, now,
                 "%s called at IRQL %u; it must be called at %s %u", call, now,
                 exact ? "IRQL" : "IRQL <=", level);
  return 0;
}
