/*
** dl_socdma.c: SoC system DMA controller instances over the engine.
*/
#include "hal/dl_socdma.h"

#include <stdio.h>

#include "base/dl_status.h"

/* Controller instance n by name. */
dl_sysdma *dl_socdma_find(dl_machine *m, uint32_t instance) {
  char name[32];
  snprintf(name, sizeof name, "soc%u", instance);
  return dl_sysdma_find(m, name);
}

/* Creates instance n. */
int dl_socdma_new(dl_machine *m, uint32_t instance, uint32_t channels, uint32_t lines,
                  uint64_t cycle_ns, dl_sysdma **out) {
  if (dl_socdma_find(m, instance)) return DL_EBUSY;
  char name[32];
  snprintf(name, sizeof name, "soc%u", instance);
  return dl_sysdma_new(m, name, channels, lines, cycle_ns, out);
}
