/*
** lcall.h: the one way dmalab calls into Lua.
** Every call from C into Lua (REPL chunks, scripts, user callbacks from the
** engine) goes through dl_docall, so every error carries a traceback.
*/
#ifndef DL_LCALL_H
#define DL_LCALL_H

#include <lua.h>

/* Calls the function under `narg` arguments with a traceback handler;
** returns the lua_pcall status and leaves the results or the message. */
int dl_docall(lua_State *L, int narg, int nres);

/* Message handler: turns any error value into a string with a traceback. */
int dl_msghandler(lua_State *L);

#endif
