/*
** modpath.h: where dmalab finds its own Lua modules (modpath.c).
*/
#ifndef DL_MODPATH_H
#define DL_MODPATH_H

#include <lua.h>

/* Makes `require "dma.X"` find dmalab's Lua modules: installed ones are on
** Lua's default path already; when this dmalab runs from a source tree
** (bin/dmalab next to repl/lua), a searcher maps dma.drivers.X to
** scripts/drivers/X.lua and dma.X to repl/lua/X.lua. Returns the module
** directory in use (a source tree's root, or NULL when installed). */
const char *dl_modpath_init(lua_State *L);

#endif
