/*
** fuzz_api.c: the libFuzzer harness of the API fuzzer (`make fuzz`). Each
** input runs in a fresh Lua state with the `dma` module linked in: the
** embedded interpreter (tests/fuzz/driver.lua) reads the bytes as a program
** of dmalab calls, each under pcall. A Lua error is a fine outcome; a crash,
** an ASan/UBSan report, a leak or a hang is a finding.
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Runs one input; always returns 0 (libFuzzer's "keep going"). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  lua_State *L = luaL_newstate();
  if (L == NULL) return 0;
  luaL_openlibs(L);
  luaL_requiref(L, "dma", luaopen_dma, 1);
  lua_pop(L, 1);
  int status = luaL_loadbufferx(L, (const char *)fuzz_driver_lua, fuzz_driver_lua_len,
                                "=driver.lua", "t");
  if (status == LUA_OK) {
    lua_pushlstring(L, (const char *)data, size);
    status = lua_pcall(L, 1, 0, 0);
  }
  if (status != LUA_OK) {  /* the driver pcalls every step: an error here is the driver's bug */
    fprintf(stderr, "fuzz driver failed: %s\n", lua_tostring(L, -1));
    abort();
  }
  lua_close(L);
  return 0;
}
