/*
** dl_context.h: the machine as the services inside it see it (the clock,
** trace, verifier, device-side map, object list, CPUs' IRQL, parts). The
** services include this, not dl_machine.h, so that building a machine
** (dl_machine.c, which makes those services) and using one stay apart and
** the machine layer has no include cycle.
*/
#ifndef DL_CONTEXT_H
#define DL_CONTEXT_H

#include <stdint.h>

#include "base/dl_list.h"
#include "base/dl_wdk.h"  /* IRQL values */

typedef struct dl_machine dl_machine;
typedef struct dl_clock dl_clock;
typedef struct dl_physmem dl_physmem;
typedef struct dl_vspace dl_vspace;
typedef struct dl_rng dl_rng;
typedef struct dl_verifier dl_verifier;
typedef struct dl_trace dl_trace;
typedef struct dl_dmamap dl_dmamap;
typedef struct dl_cache dl_cache;
typedef struct dl_platform_config dl_platform_config;

/* The machine's parts. */
dl_clock *dl_machine_clock(dl_machine *m);
dl_physmem *dl_machine_physmem(dl_machine *m);
dl_vspace *dl_machine_vspace(dl_machine *m);
dl_rng *dl_machine_rng(dl_machine *m);
uint32_t dl_machine_page_size(const dl_machine *m);

/* The verifier's report log. */
dl_verifier *dl_machine_verifier(dl_machine *m);

/* The trace and statistics. */
dl_trace *dl_machine_trace(dl_machine *m);

/* Logical address ranges mapped for devices. */
dl_dmamap *dl_machine_dmamap(dl_machine *m);

/* The platform options: IOMMU, bounce policy (dl_platform.h). */
const dl_platform_config *dl_machine_platform(const dl_machine *m);

/* The CPU cache model (non-coherent machines only; NULL when coherent). */
dl_cache *dl_machine_cache(dl_machine *m);

/* The current IRQL: that of the CPU running driver code now. */
uint8_t dl_machine_irql(const dl_machine *m);
void dl_machine_set_irql(dl_machine *m, uint8_t irql);

/* The CPU running driver code now. */
int dl_machine_current_cpu(const dl_machine *m);
void dl_machine_set_current_cpu(dl_machine *m, int n);

/* Machine-wide parts that upper layers own (the interrupt lines, the map
** register pool, the device-side translation, the swiotlb pool): a layer makes its part on first use and hands it to the
** machine, which frees it after every object. */
enum { DL_PART_LINES, DL_PART_MAPREGS, DL_PART_XLATE, DL_PART_SWIOTLB, DL_PART_POOL, DL_PART_COUNT };

/* The part in `slot` (DL_PART_*), or NULL if its layer made none yet. */
void *dl_machine_part(const dl_machine *m, int slot);

/* Hands the machine a part; destroy(part) runs when the machine is freed. */
void dl_machine_set_part(dl_machine *m, int slot, void *part, void (*destroy)(void *part));

/* The list of every object on the machine, in creation order (dl_object.c
** walks it; nothing else should). */
dl_link *dl_machine_objects(dl_machine *m);

/* The binding's hook for objects going away (dl_object.h), or NULL. */
typedef struct dl_object dl_object;
void (*dl_machine_gone_hook(const dl_machine *m))(dl_object *o);

/* The count of waiting requests that hold an MDL (an adapter's S/G request
** whose list is not built yet; the HAL keeps it): while it is 0, nothing
** can hold an IRP's MDL (dl_irp_mdl_awaited) and completing an IRP need not
** walk the object list, however many objects the machine has. */
size_t *dl_machine_holding(dl_machine *m);

/* Returns a fresh object id (1, 2, ...): ids label objects in messages and
** traces, and counting per machine keeps them reproducible. */
uint64_t dl_machine_next_id(dl_machine *m);

#endif
