/*
** inuse.c: the error of a free the engine refused because another object
** still needs what is freed (dl_machine_holder, core/machine/dl_object.h):
** it names the call, the argument, the object and who holds it; nothing
** was freed.
*/
#include <string.h>

#include "machine/dl_object.h"
#include "../ldl.h"

/* What a holder of each type is doing with the object, and what ends it. */
static const char *why_held(const dl_object *holder) {
  const char *t = holder->type->name;
  if (strcmp(t, "DMA_ADAPTER") == 0)
    return "a GetScatterGatherList request waiting for map registers, or a mapping not yet "
           "ended (FlushAdapterBuffers, PutScatterGatherList)";
  if (strcmp(t, "WDFDMATRANSACTION") == 0)
    return "an initialized transaction (WdfDmaTransactionRelease or DmaCompletedFinal first)";
  return "it is still in use";
}

/* Raises "<call>: <TYPE>#id is still in use by <TYPE>#id (...); nothing was
** freed" at argument arg, for the object o whose free was refused. */
int ldl_inuse_error(lua_State *L, int arg, const char *call, const dl_object *o) {
  dl_object *holder = dl_machine_holder(o->m, o);
  if (!holder)
    return luaL_argerror(L, arg, lua_pushfstring(L, "%s: %s#%I is still in use; nothing was "
                         "freed", call, o->type->name, (lua_Integer)o->id));
  return luaL_argerror(L, arg, lua_pushfstring(L, "%s: %s#%I is still in use by %s#%I: %s; "
                       "nothing was freed", call, o->type->name, (lua_Integer)o->id,
                       holder->type->name, (lua_Integer)holder->id, why_held(holder)));
}
