/*
** dl_wdfmemory.h: WDFMEMORY and lookaside lists (WDFLOOKASIDE).
**
** A memory object owns a pool allocation (WdfMemoryCreate: tagged, on the
** pool's tracking, freed when the object is deleted) or describes a buffer
** the driver owns (WdfMemoryCreatePreallocated). Its buffer is a simulated
** virtual address. WdfMemoryCopyToBuffer / CopyFromBuffer check the
** offset and length against the object's size (STATUS_INVALID_BUFFER_SIZE
** otherwise: DL_ERANGE here). A lookaside list hands out memory objects of
** its buffer size, children of the list (WdfMemoryCreateFromLookaside).
**
** This is the API other framework parts build on (a request's input and
** output memory: dl_wdf_memory_new_preallocated over the IRP's buffer).
*/
#ifndef DL_WDFMEMORY_H
#define DL_WDFMEMORY_H

#include <stdint.h>

#include "wdf/dl_wdfobject.h"

typedef struct dl_machine dl_machine;
typedef struct dl_pool dl_pool;
typedef struct dl_wdf_lookaside dl_wdf_lookaside;

typedef struct dl_wdf_memory {
  DL_WDF_OBJECT_FIELDS
  dl_pool *pool;           /* owned allocation, or NULL (preallocated) */
  uint64_t va, size;
  dl_wdf_lookaside *from;  /* the list it came from, or NULL */
} dl_wdf_memory;

struct dl_wdf_lookaside {
  DL_WDF_OBJECT_FIELDS
  uint64_t size;
  int paged;
  uint32_t tag;
  uint64_t handed;         /* memory objects made from it */
};

/* WdfMemoryCreate: size bytes of paged or nonpaged pool with tag, under
** parent (may be NULL). DL_EINVAL for size 0; the pool's statuses. */
int dl_wdf_memory_new(dl_machine *m, dl_wdf_object *parent, int paged, uint32_t tag,
                      uint64_t size, dl_wdf_memory **out);

/* WdfMemoryCreatePreallocated: describes [va, va+size), which must be mapped
** (DL_ENOTMAPPED) and non-empty (DL_EINVAL); the object frees nothing. */
int dl_wdf_memory_new_preallocated(dl_machine *m, dl_wdf_object *parent, uint64_t va,
                                   uint64_t size, dl_wdf_memory **out);

/* A request's input or output buffer [va, va+size) as a WDFMEMORY child of
** the request, which its driver may not delete (the framework's). */
int dl_wdf_memory_new_request(dl_machine *m, dl_wdf_object *request, uint64_t va, uint64_t size,
                              dl_wdf_memory **out);

/* WdfMemoryGetBuffer: the address; *size (may be NULL) the size. */
uint64_t dl_wdf_memory_buffer(const dl_wdf_memory *mem, uint64_t *size);

/* WdfMemoryCopyToBuffer(SourceMemory, SourceOffset, Buffer, NumberOfBytesToCopy)
** and WdfMemoryCopyFromBuffer(DestinationMemory, DestinationOffset, Buffer,
** NumberOfBytesToCopy): DL_ERANGE past the object's end, DL_ENOTMAPPED for
** a buffer not mapped. */
int dl_wdf_memory_copy_to(dl_wdf_memory *mem, uint64_t offset, uint64_t buffer, uint64_t len);
int dl_wdf_memory_copy_from(dl_wdf_memory *mem, uint64_t offset, uint64_t buffer, uint64_t len);

/* WdfLookasideListCreate: buffers of size bytes, paged or not, tagged. */
int dl_wdf_lookaside_new(dl_machine *m, dl_wdf_object *parent, uint64_t size, int paged,
                         uint32_t tag, dl_wdf_lookaside **out);

/* WdfMemoryCreateFromLookaside. */
int dl_wdf_memory_from_lookaside(dl_wdf_lookaside *la, dl_wdf_memory **out);

#endif
