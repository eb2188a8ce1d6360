/*
** complete.h: Tab completion in the dmalab REPL (complete.c).
*/
#ifndef DL_COMPLETE_H
#define DL_COMPLETE_H

#include <lua.h>

/* Makes readline's Tab complete globals, keywords and the fields of tables
** and userdata, looked up in the state L. */
void dl_completion_init(lua_State *L);

#endif
