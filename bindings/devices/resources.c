/*
** resources.c: a device model's resources as a driver sees them: the
** lab's `hw.resources` table (memory/port/interrupt: the first of each;
** bars/ports/interrupts: every one, in declaration order) holding the
** CM_RESOURCE_LIST a WDM driver's IRP_MN_START_DEVICE carries
** (AllocatedResources, AllocatedResourcesTranslated), and the
** CM_PARTIAL_RESOURCE_DESCRIPTOR tables WdfCmResourceListGetDescriptor
** returns. Descriptors come from core (dl_cmres.h); arrays of WDK
** structures are 0-based as in C, the lab's lists 1-based as in Lua.
*/
#include "devices/dl_cmres.h"
#include "../ldl.h"

#define PCI_BUS 5  /* INTERFACE_TYPE PCIBus */

static void set_int(lua_State *L, const char *k, lua_Integer v) {
  lua_pushinteger(L, v);
  lua_setfield(L, -2, k);
}

/* Pushes {Level, Vector, Affinity} (one processor group: no Group). */
static void push_interrupt(lua_State *L, const dl_cm_descriptor *d) {
  lua_createtable(L, 0, 3);
  set_int(L, "Level", d->level);
  set_int(L, "Vector", d->vector);
  set_int(L, "Affinity", (lua_Integer)d->affinity);
}

/* Pushes one CM_PARTIAL_RESOURCE_DESCRIPTOR: Type, ShareDisposition, Flags
** and u.Memory / u.Port (and u.Generic) or u.Interrupt (and, for a message
** interrupt, u.MessageInterrupt.Raw / .Translated). */
void ldl_push_descriptor(lua_State *L, const dl_cm_descriptor *d) {
  lua_createtable(L, 0, 4);
  set_int(L, "Type", d->type);
  set_int(L, "ShareDisposition", d->share);
  set_int(L, "Flags", d->flags);
  lua_createtable(L, 0, 2);                                  /* u */
  if (d->type == DL_CM_INTERRUPT) {
    push_interrupt(L, d);
    lua_setfield(L, -2, "Interrupt");
    if (d->flags & DL_CM_INTERRUPT_MESSAGE) {
      lua_createtable(L, 0, 2);
      push_interrupt(L, d);
      lua_setfield(L, -2, "Translated");
      lua_createtable(L, 0, 3);
      set_int(L, "MessageCount", d->message_count);
      set_int(L, "Vector", d->vector);
      set_int(L, "Affinity", (lua_Integer)d->affinity);
      lua_setfield(L, -2, "Raw");
      lua_setfield(L, -2, "MessageInterrupt");
    }
  } else {
    lua_createtable(L, 0, 2);
    set_int(L, "Start", (lua_Integer)d->start);
    set_int(L, "Length", (lua_Integer)d->length);
    lua_pushvalue(L, -1);
    lua_setfield(L, -3, "Generic");
    lua_setfield(L, -2, d->type == DL_CM_PORT ? "Port" : "Memory");
  }
  lua_setfield(L, -2, "u");
}

/* Pushes the lab's short form of a descriptor: {start, length} or {vector,
** level}; `full` adds prefetchable, or latched and message (the lists'). */
static void push_short(lua_State *L, const dl_cm_descriptor *d, int full) {
  lua_createtable(L, 0, 4);
  if (d->type == DL_CM_INTERRUPT) {
    set_int(L, "vector", d->vector);
    set_int(L, "level", d->level);
    if (!full) return;
    lua_pushboolean(L, (d->flags & DL_CM_INTERRUPT_LATCHED) != 0);
    lua_setfield(L, -2, "latched");
    lua_pushboolean(L, (d->flags & DL_CM_INTERRUPT_MESSAGE) != 0);
    lua_setfield(L, -2, "message");
  } else {
    set_int(L, "start", (lua_Integer)d->start);
    set_int(L, "length", (lua_Integer)d->length);
    if (full && d->type == DL_CM_MEMORY) {
      lua_pushboolean(L, (d->flags & DL_CM_MEMORY_PREFETCHABLE) != 0);
      lua_setfield(L, -2, "prefetchable");
    }
  }
}

/* Pushes the CM_RESOURCE_LIST of n descriptors: one full descriptor of a
** PCI function, List[0].PartialResourceList.PartialDescriptors[0..n-1]. */
static void push_list(lua_State *L, const dl_cm_descriptor *d, size_t n) {
  lua_createtable(L, 0, 2);
  set_int(L, "Count", 1);
  lua_createtable(L, 0, 1);                                  /* List */
  lua_createtable(L, 0, 3);                                  /* List[0] */
  set_int(L, "InterfaceType", PCI_BUS);
  set_int(L, "BusNumber", 0);
  lua_createtable(L, 0, 4);                                  /* PartialResourceList */
  set_int(L, "Version", 1);
  set_int(L, "Revision", 1);
  set_int(L, "Count", (lua_Integer)n);
  lua_createtable(L, 0, (int)n);
  for (size_t i = 0; i < n; i++) {
    ldl_push_descriptor(L, &d[i]);
    lua_rawseti(L, -2, (lua_Integer)i);
  }
  lua_setfield(L, -2, "PartialDescriptors");
  lua_setfield(L, -2, "PartialResourceList");
  lua_rawseti(L, -2, 0);
  lua_setfield(L, -2, "List");
}

/* Pushes hw.resources of a model (see the file comment). */
void ldl_push_resources(lua_State *L, const dl_devmodel *dm) {
  dl_cm_descriptor d[DL_DEVMODEL_MAX_BARS + DL_DEVMODEL_MAX_PORTS + DL_DEVMODEL_MAX_INTERRUPTS];
  size_t n = dl_devmodel_resources(dm, d, sizeof d / sizeof d[0]);
  lua_createtable(L, 0, 8);
  static const struct { uint8_t type; const char *one, *all; } kinds[] = {
    {DL_CM_MEMORY, "memory", "bars"}, {DL_CM_PORT, "port", "ports"},
    {DL_CM_INTERRUPT, "interrupt", "interrupts"},
  };
  for (size_t k = 0; k < 3; k++) {
    lua_newtable(L);
    lua_Integer count = 0;
    for (size_t i = 0; i < n; i++) {
      if (d[i].type != kinds[k].type) continue;
      if (count == 0) {
        push_short(L, &d[i], 0);
        lua_setfield(L, -3, kinds[k].one);
      }
      push_short(L, &d[i], 1);
      lua_rawseti(L, -2, ++count);
    }
    lua_setfield(L, -2, kinds[k].all);
  }
  push_list(L, d, n);
  lua_pushvalue(L, -1);  /* no translation on the lab's bus: the same list */
  lua_setfield(L, -3, "AllocatedResources");
  lua_setfield(L, -2, "AllocatedResourcesTranslated");
  ldl_uart_resources(L, dm);  /* a UART's DMA lines: resources.dma */
}

/* Exports the CM_* values (dl_cmres.h) into the module at -1. */
void ldl_open_resources(lua_State *L) {
  size_t n;
  const dl_wdk_value *v = dl_wdk_cm_table(&n);
  ldl_setvalues(L, v, n);
}
