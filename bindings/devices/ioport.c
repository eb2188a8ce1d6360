/*
** ioport.c: the driver's side of I/O ports: READ_PORT_UCHAR/USHORT/ULONG,
** WRITE_PORT_*, and their BUFFER forms, on the port address a port
** resource gives (u.Port.Start, Flags CM_RESOURCE_PORT_IO): no mapping
** step, as on x86.
*/
#include "devices/dl_ioport.h"
#include "base/dl_status.h"
#include "../ldl.h"

/* Ports: no mapping step; a BUFFER form repeats one port (rep ins / rep
** outs), each access its own engine call. */
static const ldl_access ports_access = {
  dl_port_read, dl_port_write, "READ_PORT", "WRITE_PORT", "READ_PORT_BUFFER", "WRITE_PORT_BUFFER",
  "not a device's I/O port (u.Port.Start of a CmResourceTypePort resource)", 0, 1,
};

/* Registers the port accessors in the module at -1. */
void ldl_open_ioport(lua_State *L) {
  /* spelled out, so that .luacheckrc finds the names as WDK globals */
  static const ldl_accessor ports[] = {
    {"READ_PORT_UCHAR", 1, 0, 0}, {"READ_PORT_USHORT", 2, 0, 0}, {"READ_PORT_ULONG", 4, 0, 0},
    {"WRITE_PORT_UCHAR", 1, 1, 0}, {"WRITE_PORT_USHORT", 2, 1, 0}, {"WRITE_PORT_ULONG", 4, 1, 0},
    {"READ_PORT_BUFFER_UCHAR", 1, 0, 1}, {"READ_PORT_BUFFER_USHORT", 2, 0, 1},
    {"READ_PORT_BUFFER_ULONG", 4, 0, 1}, {"WRITE_PORT_BUFFER_UCHAR", 1, 1, 1},
    {"WRITE_PORT_BUFFER_USHORT", 2, 1, 1}, {"WRITE_PORT_BUFFER_ULONG", 4, 1, 1},
  };
  ldl_setaccessors(L, &ports_access, ports, sizeof ports / sizeof ports[0]);
}
