/*
** lcall.c: pcall with a traceback handler (after lua.c's docall/msghandler).
*/
#include "lcall.h"

#include <lauxlib.h>

/* Message handler: strings get a traceback; other values are shown through
** their __tostring or their type, so no error is ever reported as nil. */
int dl_msghandler(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  if (msg == NULL) {
    if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
      return 1;  /* that is the message */
    msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
  }
  luaL_traceback(L, L, msg, 1);
  return 1;
}

/* Calls the function below `narg` arguments under dl_msghandler. */
int dl_docall(lua_State *L, int narg, int nres) {
  int base = lua_gettop(L) - narg;  /* function index */
  lua_pushcfunction(L, dl_msghandler);
  lua_insert(L, base);  /* put it under function and args */
  int status = lua_pcall(L, narg, nres, base);
  lua_remove(L, base);  /* remove message handler from the stack */
  return status;
}
