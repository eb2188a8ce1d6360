/*
** dl_wdfmemory.c: WDFMEMORY and WDFLOOKASIDE (dl_wdfmemory.h).
*/
#include "wdf/dl_wdfmemory.h"

#include <stdlib.h>

#include "base/dl_status.h"
#include "kernel/dl_pool.h"
#include "kernel/dl_rtl.h"
#include "machine/dl_machine.h"
#include "wdf/dl_wdf.h"

/* Machine teardown frees memory only (dl_wdf_object_free): the pool record
** goes with the machine. */

/* The framework deletes the object: its own buffer goes back to the pool. */
static void memory_dispose(dl_wdf_object *o) {
  dl_pool_release(((dl_wdf_memory *)o)->pool);
  free(o);
}
static void lookaside_dispose(dl_wdf_object *o) { free(o); }

static const dl_wdf_class memory_class = {
  {"WDFMEMORY", dl_wdf_object_free, NULL, NULL, &dl_wdf_family}, DL_WDF_DELETABLE, NULL, memory_dispose
};
/* A request's buffer as a WDFMEMORY (FxRequestMemory): the framework's, so
** its driver may not delete it (0x10D/0x7); it goes with its request. */
static const dl_wdf_class request_memory_class = {
  {"WDFMEMORY", dl_wdf_object_free, NULL, NULL, &dl_wdf_family}, DL_WDF_NOT_DELETABLE, NULL, memory_dispose
};
static const dl_wdf_class lookaside_class = {
  {"WDFLOOKASIDE", dl_wdf_object_free, NULL, NULL, &dl_wdf_family}, DL_WDF_DELETABLE, NULL,
  lookaside_dispose
};

static int make_as(const dl_wdf_class *c, dl_machine *m, dl_wdf_object *parent, dl_pool *pool,
                   uint64_t va, uint64_t size, dl_wdf_memory **out) {
  dl_wdf_memory *mem = calloc(1, sizeof *mem);
  if (!mem) return DL_ENOMEM;
  dl_wdf_object_init(DL_WDF(mem), m, c, dl_wdf_default_parent(m, parent));
  mem->pool = pool;
  mem->va = va;
  mem->size = size;
  *out = mem;
  return DL_OK;
}

static int make(dl_machine *m, dl_wdf_object *parent, dl_pool *pool, uint64_t va, uint64_t size,
                dl_wdf_memory **out) {
  return make_as(&memory_class, m, parent, pool, va, size, out);
}

/* The memory object of a request's buffer (dl_wdfio.h's dl_wdf_request_memory). */
int dl_wdf_memory_new_request(dl_machine *m, dl_wdf_object *request, uint64_t va, uint64_t size,
                              dl_wdf_memory **out) {
  return make_as(&request_memory_class, m, request, NULL, va, size, out);
}

/* WdfMemoryCreate. */
int dl_wdf_memory_new(dl_machine *m, dl_wdf_object *parent, int paged, uint32_t tag,
                      uint64_t size, dl_wdf_memory **out) {
  dl_wdf_verify_irql(m, "WdfMemoryCreate", 0, paged ? DL_APC_LEVEL : DL_DISPATCH_LEVEL);
  if (size == 0) return DL_EINVAL;
  uint64_t va;
  dl_pool *p;
  int rc = dl_pool_alloc(m, paged, size, tag, 0, &va, &p);
  if (rc) return rc;
  rc = make(m, parent, p, va, size, out);
  if (rc) dl_pool_release(p);
  return rc;
}

/* WdfMemoryCreatePreallocated. */
int dl_wdf_memory_new_preallocated(dl_machine *m, dl_wdf_object *parent, uint64_t va,
                                   uint64_t size, dl_wdf_memory **out) {
  dl_wdf_verify_irql(m, "WdfMemoryCreatePreallocated", 0, DL_DISPATCH_LEVEL);
  if (size == 0) return DL_EINVAL;
  if (!dl_vspace_find(dl_machine_vspace(m), va, size)) return DL_ENOTMAPPED;
  return make(m, parent, NULL, va, size, out);
}

/* WdfMemoryGetBuffer. */
uint64_t dl_wdf_memory_buffer(const dl_wdf_memory *mem, uint64_t *size) {
  if (size) *size = mem->size;
  return mem->va;
}

/* Whether [offset, offset+len) lies in the object. */
static int inside(const dl_wdf_memory *mem, uint64_t offset, uint64_t len) {
  return offset <= mem->size && len <= mem->size - offset;
}

/* WdfMemoryCopyToBuffer. */
int dl_wdf_memory_copy_to(dl_wdf_memory *mem, uint64_t offset, uint64_t buffer, uint64_t len) {
  dl_wdf_verify_irql(mem->m, "WdfMemoryCopyToBuffer", 0, DL_DISPATCH_LEVEL);
  if (!inside(mem, offset, len)) return DL_ERANGE;
  return dl_rtl_move(mem->m, buffer, mem->va + offset, len);
}

/* WdfMemoryCopyFromBuffer. */
int dl_wdf_memory_copy_from(dl_wdf_memory *mem, uint64_t offset, uint64_t buffer, uint64_t len) {
  dl_wdf_verify_irql(mem->m, "WdfMemoryCopyFromBuffer", 0, DL_DISPATCH_LEVEL);
  if (!inside(mem, offset, len)) return DL_ERANGE;
  return dl_rtl_move(mem->m, mem->va + offset, buffer, len);
}

/* WdfLookasideListCreate. */
int dl_wdf_lookaside_new(dl_machine *m, dl_wdf_object *parent, uint64_t size, int paged,
                         uint32_t tag, dl_wdf_lookaside **out) {
  dl_wdf_verify_irql(m, "WdfLookasideListCreate", 0, paged ? DL_APC_LEVEL : DL_DISPATCH_LEVEL);
  if (size == 0) return DL_EINVAL;
  dl_wdf_lookaside *la = calloc(1, sizeof *la);
  if (!la) return DL_ENOMEM;
  dl_wdf_object_init(DL_WDF(la), m, &lookaside_class, dl_wdf_default_parent(m, parent));
  la->size = size;
  la->paged = paged;
  la->tag = tag;
  *out = la;
  return DL_OK;
}

/* WdfMemoryCreateFromLookaside. */
int dl_wdf_memory_from_lookaside(dl_wdf_lookaside *la, dl_wdf_memory **out) {
  dl_wdf_verify_irql(la->m, "WdfMemoryCreateFromLookaside", 0,
                     la->paged ? DL_APC_LEVEL : DL_DISPATCH_LEVEL);
  uint64_t va;
  dl_pool *p;
  int rc = dl_pool_alloc(la->m, la->paged, la->size, la->tag, 0, &va, &p);
  if (rc) return rc;
  rc = make(la->m, DL_WDF(la), p, va, la->size, out);
  if (rc) {
    dl_pool_release(p);
    return rc;
  }
  (*out)->from = la;
  la->handed++;
  return DL_OK;
}
