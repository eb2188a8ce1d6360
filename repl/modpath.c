/*
** modpath.c: dmalab's Lua modules (dma.help, dma.pretty, dma.scenario, the
** drivers as dma.drivers.*) come from Lua's path once installed, and from
** the source tree when bin/dmalab runs uninstalled, so both behave alike.
*/
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>

#include "modpath.h"

/* The source tree this executable was built in, or "" (computed once). */
static char source_root[PATH_MAX];
static int root_known = 0;

/* Finds the root as the nearest ancestor of the executable's directory
** (bin/dmalab, build/asan/bin/dmalab) that holds repl/lua/scenario.lua. */
static const char *find_root(void) {
  if (root_known)
    return source_root[0] ? source_root : NULL;
  root_known = 1;
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0)
    return NULL;
  exe[n] = '\0';
  for (int up = 0; up < 4; up++) {
    char *slash = strrchr(exe, '/');
    if (slash == NULL || slash == exe)
      return NULL;
    *slash = '\0';
    char probe[PATH_MAX + 32];
    snprintf(probe, sizeof probe, "%s/repl/lua/scenario.lua", exe);
    if (up > 0 && access(probe, R_OK) == 0) {
      snprintf(source_root, sizeof source_root, "%s", exe);
      return source_root;
    }
  }
  return NULL;
}

/* The searcher, in Lua: dma.X is X under scripts/ or repl/lua/; the chunk
** gets the full name as `...`, so drivers can require their siblings. */
static const char searcher[] =
  "local root = ...\n"
  "local searchpath, loadfile = package.searchpath, loadfile\n"
  "local path = root .. '/scripts/?.lua;' .. root .. '/repl/lua/?.lua'\n"
  "table.insert(package.searchers, 2, function(name)\n"
  "  local rest = name:match('^dma%.(.+)$')\n"
  "  if not rest then return nil end\n"
  "  local file = searchpath(rest, path)\n"
  "  if not file then return '\\n\\tno dmalab source for ' .. rest end\n"
  "  local chunk, err = loadfile(file)\n"
  "  if not chunk then error(err, 0) end\n"
  "  return chunk, file\n"
  "end)\n";

const char *dl_modpath_init(lua_State *L) {
  const char *root = find_root();
  if (root == NULL)
    return NULL;
  if (luaL_loadbuffer(L, searcher, sizeof searcher - 1, "=modpath") == LUA_OK) {
    lua_pushstring(L, root);
    if (lua_pcall(L, 1, 0, 0) == LUA_OK) {
      lua_pushstring(L, root);
      lua_setfield(L, LUA_REGISTRYINDEX, "dma.source_root");
      return root;
    }
  }
  lua_pop(L, 1);
  return NULL;
}
