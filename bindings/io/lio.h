/*
** lio.h: what irp.c shares with iobuf.c (the I/O manager's buffer methods,
** file objects, cancellation) and names.c (symbolic links, interfaces).
*/
#ifndef LIO_H
#define LIO_H

#include "io/dl_iobuf.h"
#include "../ldl.h"

#define LDL_FILE "FILE_OBJECT"

/* Raises unless major is one m:irp builds (argument arg). */
void lio_checkmajor(lua_State *L, int arg, uint64_t major);

/* Reads the non-negative integer field `name` of the table at arg (def if
** absent); anything else raises an error at arg naming the field. */
uint64_t lio_uintfield(lua_State *L, int arg, const char *name, uint64_t def);

/* Reads m:irp's `input`, `input_offset`, `input_length` (an IOCTL's input
** buffer) and `file` fields of the table at arg into p; an IRP_MJ_CREATE
** without `file` gets a new FILE_OBJECT. */
void lio_params(lua_State *L, int arg, lmachine *lm, dl_irp_params *p);

/* Pushes an IRP field irp.c does not know (AssociatedIrp, UserBuffer,
** FileObject, Cancel...), or nil. */
void lio_pushfield(lua_State *L, int arg, dl_irp *irp, const char *key);

/* Sets the buffer-method fields of the stack location at -1 (InputBufferLength,
** Type3InputBuffer) for irp. */
void lio_fillstack(lua_State *L, dl_irp *irp);

/* The IRP methods (irp:result()). */
extern const luaL_Reg lio_irp_methods[];

/* Registers FILE_OBJECT and the cancellation calls (iobuf.c), then the
** names (names.c: lio_open_names) in the module at -1. */
void lio_open(lua_State *L);
void lio_open_names(lua_State *L);

#endif
