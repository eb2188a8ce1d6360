/*
** dl_slave_map.c: several runs of a buffer mapped as one transfer of a
** scatter/gather system DMA channel (dl_slave_map_list, dl_slave.h). The
** core's MapTransfer maps each run (on a scatter/gather channel it ends at
** a physical break and bounces only what lies above the ceiling) without
** programming the channel; the runs are then programmed together. A
** failure ends the runs already mapped, so nothing stays mapped.
*/
#include "hal/dl_slave.h"

#include "base/dl_status.h"

/* Ends the mappings of [va, va+len) of mdl under grant gi, copying nothing. */
static void unmap(dl_adapter *a, uint32_t gi, dl_mdl *mdl, uint64_t va, uint32_t len) {
  for (uint32_t i = 0; i < a->nmaps; i++) {
    const dl_mapping *mp = &a->maps[i];
    if (mp->live && mp->grant == gi && mp->mdl == mdl && mp->va >= va && mp->va - va < len)
      dl_adapter_end_mapping(a, i, 0);
  }
}

/* MapTransfer of several runs, programmed once. */
int dl_slave_map_list(dl_adapter *a, dl_mdl *mdl, uint64_t base, uint64_t va, uint32_t *length,
                      int write, uint64_t *logical) {
  uint32_t limit = dl_slave_sg_limit(a), want = *length, done = 0, n = 0;
  if (limit <= 1) return dl_adapter_map_transfer(a, mdl, base, va, length, write, logical);
  dl_sg_element *el = dl_slave_list(a);
  dl_grant *g = dl_adapter_grant(a, base);
  *length = 0;
  *logical = 0;
  int rc = DL_OK;
  a->ex_mapping = 1;  /* map only: the list is programmed below */
  while (done < want && n < limit) {
    uint32_t len = want - done;
    if ((rc = dl_adapter_map_transfer(a, mdl, base, va + done, &len, write, &el[n].address))) break;
    el[n++].length = len;
    done += len;
  }
  a->ex_mapping = 0;
  if (!rc && n) rc = dl_slave_program_list(a, el, n, write);
  else if (!rc) rc = DL_EINVAL;
  if (rc) {
    if (g) unmap(a, (uint32_t)(g - a->grants), mdl, va, done);
    return rc;
  }
  *length = done;
  *logical = el[0].address;
  return DL_OK;
}
