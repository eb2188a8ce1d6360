/*
** fuzz_api.c: the libFuzzer harness of the API fuzzer (`make fuzz`). The
** embedded interpreter (tests/fuzz/driver.lua) reads each input's bytes as
** a program of dmalab calls, each under pcall. A Lua error is a fine
** outcome; a crash, an ASan/UBSan report, a leak or a hang is a finding.
**
** A Lua state with the `dma` module and the interpreter loaded serves
** FRESH_EVERY inputs, then is closed and made anew: loading them costs more
** than most inputs do. Nothing of an input outlives it (the interpreter
** closes every machine it made and collects the garbage), so an input's
** outcome does not depend on the ones before; tests/fuzz/run.lua replays a
** finding in a state of its own.
*/
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "dma.h"
#include "fuzz_driver_lua.h"

#define FRESH_EVERY 1000

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static lua_State *state;  /* with the interpreter's run function at index 1 */
static unsigned inputs;   /* run in this state */

/* The driver pcalls every step: an error out of it is the driver's bug. */
static void fail(lua_State *L) {
  fprintf(stderr, "fuzz driver failed: %s\n", lua_tostring(L, -1));
  abort();
}

/* A new state with `dma` loaded and the interpreter's run function pushed. */
static lua_State *fresh_state(void) {
  lua_State *L = luaL_newstate();
  if (L == NULL) return NULL;
  luaL_openlibs(L);
  luaL_requiref(L, "dma", luaopen_dma, 1);
  lua_pop(L, 1);
  if (luaL_loadbufferx(L, (const char *)fuzz_driver_lua, fuzz_driver_lua_len, "=driver.lua", "t") ||
      lua_pcall(L, 0, 1, 0))
    fail(L);
  return L;
}

/* Runs one input; always returns 0 (libFuzzer's "keep going"). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (state != NULL && inputs == FRESH_EVERY) {
    lua_close(state);
    state = NULL;
  }
  if (state == NULL) {
    if ((state = fresh_state()) == NULL) return 0;
    inputs = 0;
  }
  inputs++;
  lua_pushvalue(state, 1);
  lua_pushlstring(state, (const char *)data, size);
  if (lua_pcall(state, 1, 0, 0) != LUA_OK) fail(state);
  return 0;
}
