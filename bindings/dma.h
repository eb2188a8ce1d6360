/*
** dma.h: the Lua 5.4 module `dma`, the only Lua entry point of dmalab.
*/
#ifndef DMA_H
#define DMA_H

#include <lua.h>

/* Opens the module: returns the table with the WDK-named API and the lab's
** own (dma.machine, dma.export, ...). */
int luaopen_dma(lua_State *L);

#endif
