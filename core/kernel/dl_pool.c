/*
** dl_pool.c: pool allocations and pool tracking (dl_pool.h).
*/
#include "kernel/dl_pool.h"

#include <stdlib.h>

#include "base/dl_status.h"
#include "machine/dl_machine.h"
#include "machine/dl_verifier.h"

/* The machine's pool bookkeeping: live count and recently freed addresses. */
typedef struct pool_part {
  uint64_t live;
  uint64_t freed[DL_POOL_FREED_MEMORY];
  size_t next;
} pool_part;

static void part_free(void *p) { free(p); }

static pool_part *part_of(dl_machine *m) {
  pool_part *pp = dl_machine_part(m, DL_PART_POOL);
  if (pp) return pp;
  pp = calloc(1, sizeof *pp);
  if (pp) dl_machine_set_part(m, DL_PART_POOL, pp, part_free);
  return pp;
}

/* The tag as text: the WDK writes tags as four characters, first in the low byte. */
const char *dl_pool_tag_text(uint32_t tag, char buf[5]) {
  for (int i = 0; i < 4; i++) {
    unsigned char c = (unsigned char)(tag >> (8 * i));
    buf[i] = c >= 32 && c < 127 ? (char)c : '.';
  }
  buf[4] = 0;
  return buf;
}

/* Allocates pool. */
int dl_pool_alloc(dl_machine *m, int paged, uint64_t size, uint32_t tag, int zero, uint64_t *va,
                  dl_pool **out) {
  uint8_t irql = dl_machine_irql(m);
  *va = 0;
  if (out) *out = NULL;
  if (size == 0) {
    dl_verify_fail(m, DL_BUGCHECK_DETECTED_VIOLATION, DL_C4_ZERO_ALLOC, irql, (uint64_t)paged, 0,
                   "pool allocation of zero bytes");
    return DL_EINVAL;
  }
  if (irql > (paged ? DL_APC_LEVEL : DL_DISPATCH_LEVEL))
    dl_verify_fail(m, DL_BUGCHECK_DETECTED_VIOLATION, paged ? DL_C4_PAGED_IRQL : DL_C4_NONPAGED_IRQL,
                   irql, (uint64_t)paged, size, "%s pool allocation of %llu bytes at IRQL %u "
                   "(at most %s)", paged ? "paged" : "nonpaged", (unsigned long long)size, irql,
                   paged ? "APC_LEVEL" : "DISPATCH_LEVEL");
  pool_part *pp = part_of(m);
  dl_pool *p = calloc(1, sizeof *p);
  if (!pp || !p) {
    free(p);
    return DL_ENOMEM;
  }
  int rc = dl_buffer_new(m, size, 0, dl_machine_config_of(m)->alloc,
                         paged ? DL_REGION_PAGED : DL_REGION_NONPAGED, &p->r);
  if (rc) {
    free(p);
    return rc;
  }
  if (zero) dl_machine_fill_va(m, p->r->va, 0, size);
  dl_object_init(DL_OBJECT(p), m, &dl_pool_type, NULL);
  p->r->data = p;
  p->size = size;
  p->tag = tag;
  p->paged = paged;
  pp->live++;
  *va = p->r->va;
  if (out) *out = p;
  return DL_OK;
}

/* The allocation at exactly va. */
dl_pool *dl_pool_at(dl_machine *m, uint64_t va) {
  dl_region *r = dl_vspace_find(dl_machine_vspace(m), va, 1);
  if (!r || r->va != va || !r->data) return NULL;
  dl_object *o = r->data;
  return o->type == &dl_pool_type ? (dl_pool *)o : NULL;
}

/* Frees the record and its pages (the region must be unlocked). */
static void release(dl_pool *p, int remember) {
  dl_machine *m = p->m;
  pool_part *pp = dl_machine_part(m, DL_PART_POOL);
  if (pp) {
    pp->live--;
    if (remember) {
      pp->freed[pp->next] = p->r->va;
      pp->next = (pp->next + 1) % DL_POOL_FREED_MEMORY;
    }
  }
  p->r->data = NULL;
  dl_buffer_free(m, p->r);
  dl_object_unlink(DL_OBJECT(p));
  free(p);
}

/* Whether va was freed recently. */
static int was_freed(dl_machine *m, uint64_t va) {
  pool_part *pp = dl_machine_part(m, DL_PART_POOL);
  for (size_t i = 0; pp && i < DL_POOL_FREED_MEMORY; i++)
    if (pp->freed[i] == va && va) return 1;
  return 0;
}

/* ExFreePool / ExFreePoolWithTag. */
int dl_pool_free(dl_machine *m, uint64_t va, int check_tag, uint32_t tag) {
  const char *call = check_tag ? "ExFreePoolWithTag" : "ExFreePool";
  uint8_t irql = dl_machine_irql(m);
  dl_pool *p = dl_pool_at(m, va);
  if (!p) {
    int twice = was_freed(m, va);
    dl_verify_fail(m, DL_BUGCHECK_DETECTED_VIOLATION, twice ? DL_C4_DOUBLE_FREE : DL_C4_BAD_FREE,
                   twice ? 0 : va, twice ? va : 0, 0, "%s(0x%llx): %s", call,
                   (unsigned long long)va, twice ? "that pool was freed already"
                                                 : "not an address a pool allocation returned");
    return DL_EINVAL;
  }
  if (irql > (p->paged ? DL_APC_LEVEL : DL_DISPATCH_LEVEL))
    dl_verify_fail(m, DL_BUGCHECK_DETECTED_VIOLATION,
                   p->paged ? DL_C4_FREE_PAGED_IRQL : DL_C4_FREE_NONPAGED_IRQL, irql,
                   (uint64_t)p->paged, va, "%s of %s pool at IRQL %u (at most %s)", call,
                   p->paged ? "paged" : "nonpaged", irql, p->paged ? "APC_LEVEL" : "DISPATCH_LEVEL");
  if (check_tag && tag != p->tag) {
    char a[5], b[5];
    dl_verify_fail(m, DL_BUGCHECK_BAD_POOL_CALLER, DL_C2_BAD_TAG, va, p->tag, tag,
                   "ExFreePoolWithTag(0x%llx, '%s'): the allocation's tag is '%s'",
                   (unsigned long long)va, dl_pool_tag_text(tag, a), dl_pool_tag_text(p->tag, b));
    return DL_EINVAL;
  }
  if (p->r->locks) return DL_EBUSY;
  release(p, 1);
  return DL_OK;
}

/* Frees a record for its owner. */
void dl_pool_release(dl_pool *p) {
  if (p) release(p, 0);
}

/* Live allocations. */
uint64_t dl_pool_live(dl_machine *m) {
  pool_part *pp = dl_machine_part(m, DL_PART_POOL);
  return pp ? pp->live : 0;
}

/* Machine teardown: the pages go with the machine. */
static void destroy(dl_object *o) {
  dl_pool *p = (dl_pool *)o;
  p->r->data = NULL;
  dl_object_unlink(o);
  free(p);
}

/* End of a run: bug check 0xC4/0x62 for each allocation not freed. */
static size_t leaks(dl_object *o) {
  dl_pool *p = (dl_pool *)o;
  char t[5];
  dl_verify_fail(o->m, DL_BUGCHECK_DETECTED_VIOLATION, DL_C4_POOL_LEAK, 0, 0, dl_pool_live(o->m),
                 "leak at end of run: pool allocation '%s' of %llu bytes at 0x%llx was never freed "
                 "(ExFreePool[WithTag] before unload)", dl_pool_tag_text(p->tag, t),
                 (unsigned long long)p->size, (unsigned long long)p->r->va);
  dl_verifier_mark_leak(o->m);
  return 1;
}

const dl_object_type dl_pool_type = { "POOL", destroy, leaks, NULL, NULL };
