/*
** ladapter.h: what adapter.c (the DMA_ADAPTER class) and dmaex.c (its
** version-3 operations) share inside the bindings.
*/
#ifndef LADAPTER_H
#define LADAPTER_H

#include <stdint.h>

#include "hal/dl_adapter.h"
#include "../ldl.h"

/* The engine's AdapterControl: calls the Lua routine kept under ctx. */
int ladapter_control(void *ctx, dl_device *dev, uint64_t base);

/* The engine's AdapterListControl: likewise. */
void ladapter_list_control(void *ctx, dl_device *dev, dl_sglist *sg);

/* For the adapter's __index: 1 if the method at -1 is a version-3 operation
** and the adapter at `arg` is older (the WDK's DMA_OPERATIONS lack it). */
int ladapter_hidden(lua_State *L, int arg);

#endif
