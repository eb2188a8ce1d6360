/*
** hostmem.c: the errors of the host_memory limit (dma.machine{ limits = {
** host_memory = } }, README "Limits and safety"): the cap on the host bytes
** a machine's simulated RAM may take, decided in core/memory/dl_physmem.c.
** A write, fill, DMA or allocation the cap refuses stores nothing more; the
** error names the limit and where it struck, and the machine stays usable.
*/
#include "base/dl_status.h"
#include "../ldl.h"

/* The error text of the cap, pushed. */
static const char *push_host_message(lua_State *L, dl_machine *m, const char *where) {
  dl_physmem *pm = dl_machine_physmem(m);
  dl_physmem_stats st;
  dl_physmem_get_stats(pm, &st);
  return lua_pushfstring(L, "limit: host_memory: simulated RAM may take at most %I bytes of "
                         "host memory (%I in use, in %s; free buffers, or raise it with "
                         "dma.machine{ limits = { host_memory = N } }, 0: no limit)",
                         (lua_Integer)dl_physmem_host_limit(pm), (lua_Integer)st.host_bytes,
                         where);
}

/* Remembers how often the cap struck, so only a new refusal raises. */
static int new_hits(dl_machine *m) {
  lmachine *lm = dl_machine_data(m);
  uint64_t hits = dl_physmem_limit_hits(dl_machine_physmem(m));
  if (!lm || hits == lm->host_hits) return 0;
  lm->host_hits = hits;
  return 1;
}

/* Raises the error of DL_ELIMIT returned to `fname` (argument arg): the
** host_memory cap if it struck, else the cap on the runs of one buffer. */
int ldl_limiterror(lua_State *L, dl_machine *m, int arg, const char *fname, uint64_t length) {
  if (new_hits(m)) return luaL_argerror(L, arg, push_host_message(L, m, fname));
  return luaL_argerror(L, arg, lua_pushfstring(L, "%s: %I bytes would form more than %I "
                       "physically separate runs of pages (DL_MAX_RUNS: the host keeps each); "
                       "use alloc = \"contiguous\" or \"low_first\"", fname, (lua_Integer)length,
                       (lua_Integer)DL_MAX_RUNS));
}

/* Raises the host_memory error if the cap refused memory during an engine
** call (a device's DMA, a bounce copy) since the last check. */
void ldl_checkhostlimit(lua_State *L, dl_machine *m) {
  if (m && new_hits(m)) luaL_error(L, "%s", push_host_message(L, m, "an engine call"));
}
