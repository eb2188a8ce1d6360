/*
** dma.c: the module `dma`: WDK constants and macros, the lab's module-level
** helpers, and the registration of every class.
**
** Naming: whatever the WDK has keeps its WDK name (capitalised: IoAllocateMdl,
** PAGE_SIZE, STATUS_SUCCESS); the lab's own API is snake_case. dma.export
** copies exactly the capitalised names into a table, normally _G, so a
** driver written in Lua reads like the C driver it stands for.
*/
#include "dma.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/dl_ntstatus.h"
#include "base/dl_rng.h"
#include "base/dl_wdk.h"
#include "ldl.h"

#define DMA_VERSION "0.1.0"

/* Page size of the current machine, or the x86/x64 4096 when there is none. */
static uint64_t page_size(lua_State *L) {
  uint64_t ps = 4096;
  ldl_pushcurrentvalue(L);
  lmachine *lm = ldl_testclass(L, -1, LDL_MACHINE);
  if (lm && lm->m) ps = dl_machine_page_size(lm->m);
  lua_pop(L, 1);
  return ps;
}

/* BYTES_TO_PAGES(Size) */
static int l_BYTES_TO_PAGES(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)dl_bytes_to_pages(ldl_checkuint(L, 1), page_size(L)));
  return 1;
}

/* ADDRESS_AND_SIZE_TO_SPAN_PAGES(Va, Size) = (BYTE_OFFSET(Va) + Size + PAGE_SIZE - 1) >> PAGE_SHIFT */
static int l_ADDRESS_AND_SIZE_TO_SPAN_PAGES(lua_State *L) {
  uint64_t va = ldl_checkuint(L, 1), n = ldl_checkuint(L, 2), ps = page_size(L);
  lua_pushinteger(L, (lua_Integer)dl_span_pages(va, n, ps));
  return 1;
}

/* BYTE_OFFSET(Va) */
static int l_BYTE_OFFSET(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)dl_byte_offset(ldl_checkuint(L, 1), page_size(L)));
  return 1;
}

/* PAGE_ALIGN(Va) */
static int l_PAGE_ALIGN(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)dl_page_align(ldl_checkuint(L, 1), page_size(L)));
  return 1;
}

/* ROUND_TO_PAGES(Size) */
static int l_ROUND_TO_PAGES(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)dl_round_to_pages(ldl_checkuint(L, 1), page_size(L)));
  return 1;
}

/* NT_SUCCESS(Status): true for success and informational codes. */
static int l_NT_SUCCESS(lua_State *L) {
  lua_pushboolean(L, dl_nt_success((uint32_t)luaL_checkinteger(L, 1)));
  return 1;
}

/* CTL_CODE(DeviceType, Function, Method, Access): an IOCTL code. */
static int l_CTL_CODE(lua_State *L) {
  uint32_t v[4];
  for (int i = 0; i < 4; i++) {
    lua_Integer x = luaL_checkinteger(L, i + 1);
    static const lua_Integer max[4] = {0xFFFF, 0xFFF, 3, 3};  /* the field widths */
    luaL_argcheck(L, x >= 0 && x <= max[i], i + 1, "out of the field's range");
    v[i] = (uint32_t)x;
  }
  lua_pushinteger(L, (lua_Integer)dl_ctl_code(v[0], v[1], v[2], v[3]));
  return 1;
}

/* The __index of the module and of the tables dma.export fills: a name the
** lab does not provide that reads as a WDK routine or value is an error
** saying so (not a nil a driver would call or pass on); NULL-valued WDK
** names and every other name are nil. Upvalue 1: the table's previous
** __index (a table or function), consulted first; false when none. */
static int wdk_index(lua_State *L) {
  if (lua_toboolean(L, lua_upvalueindex(1))) {
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_pushvalue(L, 2);
    if (lua_isfunction(L, -2)) {
      lua_pushvalue(L, 1);
      lua_insert(L, -2);
      lua_call(L, 2, 1);
    } else {
      lua_gettable(L, -2);
    }
    if (!lua_isnil(L, -1)) return 1;
  }
  if (lua_type(L, 2) != LUA_TSTRING) return 0;
  const char *name = lua_tostring(L, 2);
  switch (dl_wdk_classify(name)) {
  case DL_WDK_ROUTINE:
    return luaL_error(L, "%s is a WDK routine dmalab does not model yet", name);
  case DL_WDK_CONSTANT:
    return luaL_error(L, "%s is a WDK constant dmalab does not model yet", name);
  default:
    return 0;
  }
}

/* Gives the table at idx wdk_index as __index, chained after the __index
** it has (once: a table that has it already is left alone). */
static void set_wdk_index(lua_State *L, int idx) {
  idx = lua_absindex(L, idx);
  if (!lua_getmetatable(L, idx)) {
    lua_createtable(L, 0, 1);
    lua_pushvalue(L, -1);
    lua_setmetatable(L, idx);
  }
  int t = lua_getfield(L, -1, "__index");
  if (t == LUA_TFUNCTION && lua_tocfunction(L, -1) == wdk_index) {
    lua_pop(L, 2);
    return;
  }
  if (t == LUA_TNIL) {
    lua_pop(L, 1);
    lua_pushboolean(L, 0);
  }
  lua_pushcclosure(L, wdk_index, 1);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
}

/* dma.export([env]) -> env: copies the WDK-named API (capitalised names)
** into env (default _G), keeps its PAGE_SIZE in step with the current
** machine and makes a WDK name the lab lacks an error there. */
static int l_export(lua_State *L) {
  if (lua_isnoneornil(L, 1)) {
    lua_settop(L, 0);
    lua_pushglobaltable(L);
  }
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  lua_pushvalue(L, lua_upvalueindex(1));  /* the module */
  for (lua_pushnil(L); lua_next(L, 2); lua_pop(L, 1)) {
    if (lua_type(L, -2) != LUA_TSTRING || !isupper((unsigned char)*lua_tostring(L, -2)))
      continue;
    lua_pushvalue(L, -2);
    lua_pushvalue(L, -2);
    lua_rawset(L, 1);
  }
  lua_pop(L, 1);
  ldl_pushenvs(L);
  lua_pushvalue(L, 1);
  lua_pushboolean(L, 1);
  lua_rawset(L, -3);
  lua_pop(L, 1);
  lua_pushinteger(L, (lua_Integer)page_size(L));
  lua_setfield(L, 1, "PAGE_SIZE");
  lua_pushinteger(L, __builtin_ctzll(page_size(L)));
  lua_setfield(L, 1, "PAGE_SHIFT");
  set_wdk_index(L, 1);
  return 1;
}

/* dma.current() -> the machine WDK calls act on, or nil */
static int l_current(lua_State *L) {
  ldl_pushcurrentvalue(L);
  return 1;
}

/* dma.hex(n) -> "0x..." */
static int l_hex(lua_State *L) {
  char text[24];
  snprintf(text, sizeof text, "0x%llx", (unsigned long long)luaL_checkinteger(L, 1));
  lua_pushstring(L, text);
  return 1;
}

/* dma.status_name(status) -> "STATUS_..." or nil: the NTSTATUS name of a
** value (also given as a negative 32-bit integer). */
static int l_status_name(lua_State *L) {
  lua_Integer x = luaL_checkinteger(L, 1);
  uint32_t v = (uint32_t)x;
  size_t n;
  const dl_wdk_value *statuses = dl_ntstatus_table(&n);
  lua_pushnil(L);
  for (size_t i = 0; i < n && x >= -0x80000000LL && x <= 0xFFFFFFFFLL; i++)
    if (statuses[i].value == v) {
      lua_pushstring(L, statuses[i].name);
      break;
    }
  return 1;
}

/* dma.size(s) -> bytes: parses "64G", "4KiB", "0x1000"... */
static int l_size(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)ldl_checksize(L, 1));
  return 1;
}

/* dma.pattern(length [, seed]) -> string of reproducible pseudo-random bytes,
** for filling buffers whose DMA is then checked byte for byte. */
static int l_pattern(lua_State *L) {
  uint64_t len = ldl_checksize(L, 1);
  ldl_checkstringlen(L, 1, len);
  dl_rng rng;
  dl_rng_seed(&rng, (uint64_t)luaL_optinteger(L, 2, 0));
  luaL_Buffer b;
  char *p = luaL_buffinitsize(L, &b, (size_t)len);
  for (uint64_t i = 0; i < len; i += 8) {
    uint64_t r = dl_rng_next(&rng);
    for (uint64_t k = 0; k < 8 && i + k < len; k++) p[i + k] = (char)(r >> (8 * k));
  }
  luaL_pushresultsize(&b, (size_t)len);
  return 1;
}

/* ---- make bench's probes (host figures only: no scenario sees them) ---- */

/* The allocation counter wrapped around a state's allocator. */
typedef struct counting {
  lua_Alloc f;
  void *ud;
  lua_Integer blocks;  /* new blocks: objects, strings, table parts */
} counting;

static void *counting_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  counting *c = ud;
  if (ptr == NULL && nsize) c->blocks++;
  return c->f(c->ud, ptr, osize, nsize);
}

/* The counter's finalizer: puts the state's own allocator back (and frees
** the counter) before the state closes. In stock lua5.4 the module is a
** shared library that lua_close unloads after every finalizer made before
** it ran; this one is made after the library was loaded, so it runs first
** and the state never calls counting_alloc in an unloaded library. */
static int restore_alloc(lua_State *L) {
  void *ud;
  if (lua_getallocf(L, &ud) != counting_alloc) return 0;
  counting *c = ud;
  lua_setallocf(L, c->f, c->ud);
  c->f(c->ud, c, sizeof *c, 0);
  return 0;
}

/* dma.allocations() -> blocks the Lua state allocated since the first call
** (the first call installs the counter and returns 0); for make bench's
** "Lua objects per request". */
static int l_allocations(lua_State *L) {
  void *ud;
  lua_Alloc f = lua_getallocf(L, &ud);
  if (f == counting_alloc) {
    lua_pushinteger(L, ((counting *)ud)->blocks);
    return 1;
  }
  counting *c = f(ud, NULL, 0, sizeof *c);  /* lives as long as the state */
  if (!c) return luaL_error(L, "allocations: out of memory");
  c->f = f;
  c->ud = ud;
  c->blocks = 0;
  lua_newuserdatauv(L, 0, 0);                     /* the sentinel that restores it */
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, restore_alloc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  lua_rawsetp(L, LUA_REGISTRYINDEX, (void *)restore_alloc);  /* lives until the state closes */
  lua_setallocf(L, counting_alloc, c);
  lua_pushinteger(L, 0);
  return 1;
}

/* dma.memcpy_bench(bytes, count): `count` host memcpys of `bytes` between
** two buffers, the bandwidth make bench compares the engine's with. */
static int l_memcpy_bench(lua_State *L) {
  size_t n = (size_t)ldl_checksize(L, 1);
  lua_Integer count = luaL_checkinteger(L, 2);
  char *a = malloc(n ? n : 1), *b = malloc(n ? n : 1);
  if (!a || !b) {
    free(a);
    free(b);
    return luaL_error(L, "memcpy_bench: out of memory");
  }
  memset(a, 1, n);
  memset(b, 2, n);
  unsigned sum = 0;
  for (lua_Integer i = 0; i < count; i++) {
    memcpy(i % 2 ? a : b, i % 2 ? b : a, n);
    sum += (unsigned char)a[i % (n ? n : 1)];  /* keeps the copies */
  }
  free(a);
  free(b);
  lua_pushinteger(L, sum);
  return 1;
}

static const luaL_Reg functions[] = {
  {"allocations", l_allocations},
  {"memcpy_bench", l_memcpy_bench},
  {"BYTES_TO_PAGES", l_BYTES_TO_PAGES},
  {"ADDRESS_AND_SIZE_TO_SPAN_PAGES", l_ADDRESS_AND_SIZE_TO_SPAN_PAGES},
  {"BYTE_OFFSET", l_BYTE_OFFSET},
  {"PAGE_ALIGN", l_PAGE_ALIGN},
  {"ROUND_TO_PAGES", l_ROUND_TO_PAGES},
  {"NT_SUCCESS", l_NT_SUCCESS},
  {"CTL_CODE", l_CTL_CODE},
  {"current", l_current},
  {"hex", l_hex},
  {"status_name", l_status_name},
  {"size", l_size},
  {"pattern", l_pattern},
  {NULL, NULL}
};

static const struct { const char *name; lua_Integer value; } constants[] = {
  {"KernelMode", 0}, {"UserMode", 1},
  {"IoReadAccess", 0}, {"IoWriteAccess", 1}, {"IoModifyAccess", 2},
  {"LowPagePriority", 0}, {"NormalPagePriority", 16}, {"HighPagePriority", 32},
  {"MDL_MAPPED_TO_SYSTEM_VA", 0x0001}, {"MDL_PAGES_LOCKED", 0x0002},
  {"MDL_SOURCE_IS_NONPAGED_POOL", 0x0004}, {"MDL_ALLOCATED_FIXED_SIZE", 0x0008},
  {"MDL_PARTIAL", 0x0010}, {"MDL_PARTIAL_HAS_BEEN_MAPPED", 0x0020},
  {"MDL_IO_PAGE_READ", 0x0040}, {"MDL_WRITE_OPERATION", 0x0080},
};

/* Opens the module `dma`. */
int luaopen_dma(lua_State *L) {
  luaL_checkversion(L);
  ldl_initstate(L);
  luaL_newlib(L, functions);
  for (size_t i = 0; i < sizeof constants / sizeof constants[0]; i++) {
    lua_pushinteger(L, constants[i].value);
    lua_setfield(L, -2, constants[i].name);
  }
  size_t nstatus;
  const dl_wdk_value *statuses = dl_ntstatus_table(&nstatus);
  ldl_setvalues(L, statuses, nstatus);  /* STATUS_*: core's one table */
  size_t nio;
  const dl_wdk_value *io = dl_wdk_io_table(&nio);
  ldl_setvalues(L, io, nio);  /* FILE_DEVICE_*, METHOD_*, pool and WDF I/O types */
  lua_pushboolean(L, 1);
  lua_setfield(L, -2, "TRUE");
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "FALSE");
  lua_pushliteral(L, DMA_VERSION);
  lua_setfield(L, -2, "version");
  lua_pushvalue(L, -1);
  lua_pushcclosure(L, l_export, 1);
  lua_setfield(L, -2, "export");
  ldl_open_machine(L);
  ldl_open_platform(L);
  ldl_open_buffer(L);
  ldl_open_mdl(L);
  ldl_open_mdlpages(L);
  ldl_open_device(L);
  ldl_open_adapter(L);
  ldl_open_sglist(L);
  ldl_open_dmaex(L);
  ldl_open_irql(L);
  ldl_open_verifier(L);
  ldl_open_dpc(L);
  ldl_open_sync(L);
  ldl_open_pool(L);
  ldl_open_interrupt(L);
  ldl_open_model(L);
  ldl_open_mmio(L);
  ldl_open_ioport(L);
  ldl_open_resources(L);
  ldl_open_busmaster(L);
  ldl_open_sysdma(L);
  ldl_open_uart(L);
  ldl_open_trace(L);
  ldl_open_driver(L);
  ldl_open_irp(L);
  ldl_open_wdf(L);  /* KMDF framework objects; before the KMDF DMA layer */
  ldl_open_wdfdma(L);
  ldl_open_lab(L);
  ldl_open_struct(L);
  ldl_pushenvs(L);  /* the module keeps its own PAGE_SIZE in step too */
  lua_pushvalue(L, -2);
  lua_pushboolean(L, 1);
  lua_rawset(L, -3);
  lua_pop(L, 1);
  lua_pushinteger(L, 4096);
  lua_setfield(L, -2, "PAGE_SIZE");
  lua_pushinteger(L, 12);
  lua_setfield(L, -2, "PAGE_SHIFT");
  set_wdk_index(L, -1);
  return 1;
}
