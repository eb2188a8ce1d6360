/*
** dl_ioport.c: port placement and port I/O.
*/
#include "devices/dl_ioport.h"

#include "devices/dl_devmodel.h"
#include "machine/dl_machine.h"
#include "base/dl_status.h"
#include "machine/dl_trace.h"

/* The model and range holding [port, port+size), or NULL. */
static dl_devmodel *port_at(dl_machine *m, uint64_t port, uint32_t size, unsigned *index) {
  for (dl_object *o = dl_object_next(m, NULL, &dl_devmodel_type); o;
       o = dl_object_next(m, o, &dl_devmodel_type)) {
    dl_devmodel *dm = (dl_devmodel *)o;
    for (size_t i = 0; i < dm->nports; i++) {
      const dl_devmodel_range *r = &dm->ports[i];
      if (port >= r->start && port - r->start < r->size && size <= r->size - (port - r->start)) {
        *index = (unsigned)i;
        return dm;
      }
    }
  }
  return NULL;
}

/* Checks the size and finds the range; 0 or a DL_E* code. */
static int lookup(dl_machine *m, uint64_t port, uint32_t size, dl_devmodel **dm, unsigned *index) {
  if (size != 1 && size != 2 && size != 4) return DL_EINVAL;
  *dm = port_at(m, port, size, index);
  return *dm ? DL_OK : DL_ENOTMAPPED;
}

/* READ_PORT_*. */
int dl_port_read(dl_machine *m, uint64_t port, uint32_t size, uint64_t *value) {
  dl_devmodel *dm;
  unsigned i;
  int rc = lookup(m, port, size, &dm, &i);
  if (rc) return rc;
  uint64_t off = port - dm->ports[i].start;
  *value = dm->ops && dm->ops->read ? dm->ops->read(dm->ctx, DL_SPACE_PORT, i, off, size) : 0;
  *value &= (UINT64_C(1) << (8 * size)) - 1;
  return DL_OK;
}

/* WRITE_PORT_*. */
int dl_port_write(dl_machine *m, uint64_t port, uint32_t size, uint64_t value) {
  dl_devmodel *dm;
  unsigned i;
  int rc = lookup(m, port, size, &dm, &i);
  if (rc) return rc;
  uint64_t off = port - dm->ports[i].start;
  value &= (UINT64_C(1) << (8 * size)) - 1;
  dl_trace_emit(m, DL_TR_DEVICE_PROGRAM, dm->id, off, value);
  if (dm->ops && dm->ops->write) dm->ops->write(dm->ctx, DL_SPACE_PORT, i, off, size, value);
  return DL_OK;
}
