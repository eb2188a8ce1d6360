/*
** dl_ioport.h: the machine's I/O-port space (x86: 64 KiB of port addresses,
** no mapping step): where device models' port ranges go, and the driver's
** READ_PORT_* / WRITE_PORT_* reaching the model whose range holds the port
** (the models place their ranges: dl_devmodel.c).
*/
#ifndef DL_IOPORT_H
#define DL_IOPORT_H

#include <stdint.h>

typedef struct dl_machine dl_machine;

/* READ_PORT_*: size 1, 2 or 4 at a port address. DL_EINVAL for another
** size, DL_ENOTMAPPED if [port, port+size) is not inside one device's
** port range. */
int dl_port_read(dl_machine *m, uint64_t port, uint32_t size, uint64_t *value);

/* WRITE_PORT_*. */
int dl_port_write(dl_machine *m, uint64_t port, uint32_t size, uint64_t value);

#endif
