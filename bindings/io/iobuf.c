/*
** iobuf.c: the I/O manager's buffer methods, file objects, cancellation
** and names in Lua: what m:irp{...} reads besides its buffer (an IOCTL's
** `input`, the `file`), the IRP fields of the buffer methods
** (AssociatedIrp.SystemBuffer, UserBuffer, FileObject, Cancel), the stack
** location's InputBufferLength and Type3InputBuffer, irp:result() (what
** the originator gets back), FILE_OBJECT handles, IoCancelIrp,
** IoSetCancelRoutine and the cancel spin lock. The rules are the core's
** (io/dl_iobuf.h, dl_file.h, dl_cancel.h); names are in names.c.
*/
#include <string.h>

#include "base/dl_ntstatus.h"
#include "base/dl_status.h"
#include "io/dl_cancel.h"
#include "io/dl_driver.h"
#include "io/dl_file.h"
#include "lio.h"

/* ---- m:irp{...}'s other fields ------------------------------------------- */

/* Raises unless m:irp builds major. */
void lio_checkmajor(lua_State *L, int arg, uint64_t major) {
  switch (major) {
  case DL_IRP_MJ_CREATE: case DL_IRP_MJ_CLOSE: case DL_IRP_MJ_CLEANUP: case DL_IRP_MJ_READ:
  case DL_IRP_MJ_WRITE: case DL_IRP_MJ_DEVICE_CONTROL: case DL_IRP_MJ_INTERNAL_DEVICE_CONTROL:
    return;
  default:
    luaL_argerror(L, arg, "major must be IRP_MJ_CREATE, IRP_MJ_CLOSE, IRP_MJ_CLEANUP, IRP_MJ_READ, "
                          "IRP_MJ_WRITE, IRP_MJ_DEVICE_CONTROL or IRP_MJ_INTERNAL_DEVICE_CONTROL");
  }
}

/* A non-negative integer field of the table at arg (def if absent). */
uint64_t lio_uintfield(lua_State *L, int arg, const char *name, uint64_t def) {
  int t = lua_getfield(L, arg, name);
  int ok = 0;
  lua_Integer v = lua_tointegerx(L, -1, &ok);
  lua_pop(L, 1);
  if (t == LUA_TNIL) return def;
  if (!ok || v < 0)
    luaL_argerror(L, arg, lua_pushfstring(L, "field '%s' must be a non-negative integer", name));
  return (uint64_t)v;
}

/* The input buffer: `input` (a buffer of lm), `input_offset`, `input_length`. */
static void input_field(lua_State *L, int arg, lmachine *lm, dl_irp_params *p) {
  if (lua_getfield(L, arg, "input") == LUA_TNIL) {
    lua_pop(L, 1);
    luaL_argcheck(L, lio_uintfield(L, arg, "input_length", 0) == 0, arg,
                  "field 'input_length' needs a field 'input' (a buffer)");
    return;
  }
  lobject *b = ldl_testclass(L, -1, LDL_BUFFER);
  if (!b) luaL_argerror(L, arg, "field 'input' must be a buffer (m:buffer(...))");
  if (!b->obj) luaL_argerror(L, arg, "field 'input' has been freed");
  if (b->owner != lm) luaL_argerror(L, arg, "field 'input' belongs to another machine");
  lua_pop(L, 1);
  luaL_argcheck(L, p->major == DL_IRP_MJ_DEVICE_CONTROL ||
                   p->major == DL_IRP_MJ_INTERNAL_DEVICE_CONTROL, arg,
                "field 'input' is an IOCTL's input buffer (a write's data is field 'buffer')");
  dl_region *r = b->obj;
  uint64_t off = lio_uintfield(L, arg, "input_offset", 0);
  uint64_t len = lio_uintfield(L, arg, "input_length", off <= r->length ? r->length - off : 0);
  if (off > r->length || len > r->length - off)
    luaL_argerror(L, arg, lua_pushfstring(L, "input range [%I, %I) outside the buffer of %I bytes",
                                          (lua_Integer)off, (lua_Integer)(off + len),
                                          (lua_Integer)r->length));
  luaL_argcheck(L, len <= UINT32_MAX, arg, "input_length must fit in a ULONG");
  p->in_va = r->va + off;
  p->in_length = len;
}

/* The file: `file` (a FILE_OBJECT of lm); a create without one gets a new one. */
static void file_field(lua_State *L, int arg, lmachine *lm, dl_irp_params *p) {
  if (lua_getfield(L, arg, "file") != LUA_TNIL) {
    lobject *f = ldl_testclass(L, -1, LDL_FILE);
    if (!f) luaL_argerror(L, arg, "field 'file' must be a FILE_OBJECT (irp.FileObject of a create)");
    if (f->owner != lm) luaL_argerror(L, arg, "field 'file' belongs to another machine");
    p->file = f->obj;
  } else if (p->major == DL_IRP_MJ_CREATE) {
    int rc = dl_file_new(lm->m, &p->file);
    if (rc) ldl_statuserror(L, arg, rc, NULL);
  }
  lua_pop(L, 1);
  if (lua_getfield(L, arg, "file_name") != LUA_TNIL) {
    const char *name = lua_tostring(L, -1);
    if (!name || lua_type(L, -1) != LUA_TSTRING) luaL_argerror(L, arg, "field 'file_name' must be a string");
    if (p->major != DL_IRP_MJ_CREATE) luaL_argerror(L, arg, "field 'file_name' is a create's (IRP_MJ_CREATE)");
    int rc = dl_file_set_name(p->file, name);
    if (rc == DL_ESTATE) luaL_argerror(L, arg, "field 'file_name': the file's create was sent already");
    if (rc == DL_EINVAL)
      luaL_argerror(L, arg, "field 'file_name' must be empty or start with a backslash (\\h2c_0), "
                            "at most 32767 characters");
    if (rc) ldl_statuserror(L, arg, rc, NULL);
  }
  lua_pop(L, 1);
}

/* Reads the fields m:irp leaves to this file. */
void lio_params(lua_State *L, int arg, lmachine *lm, dl_irp_params *p) {
  input_field(L, arg, lm, p);
  file_field(L, arg, lm, p);
}

/* ---- IRP fields and the stack location ---------------------------------- */

/* Pushes an address field: an integer, nil for 0 (NULL). */
static void push_va(lua_State *L, uint64_t va) {
  if (va) lua_pushinteger(L, (lua_Integer)va);
  else lua_pushnil(L);
}

/* AssociatedIrp, UserBuffer, FileObject, Cancel, CancelIrql; nil for another key. */
void lio_pushfield(lua_State *L, int arg, dl_irp *irp, const char *key) {
  (void)arg;
  if (strcmp(key, "AssociatedIrp") == 0) {
    lua_createtable(L, 0, 1);
    push_va(L, dl_irp_system_buffer(irp));
    lua_setfield(L, -2, "SystemBuffer");
  } else if (strcmp(key, "UserBuffer") == 0) {
    push_va(L, dl_irp_user_buffer(irp));
  } else if (strcmp(key, "FileObject") == 0) {
    ldl_pushobject(L, LDL_FILE, (dl_object *)irp->file);
  } else if (strcmp(key, "Cancel") == 0) {
    lua_pushboolean(L, dl_irp_cancelled(irp));
  } else if (strcmp(key, "CancelIrql") == 0) {
    lua_pushinteger(L, irp->cancel_irql);
  } else {
    lua_pushnil(L);
  }
}

/* InputBufferLength and Type3InputBuffer of Parameters.DeviceIoControl,
** and the stack location's FileObject. */
void lio_fillstack(lua_State *L, dl_irp *irp) {
  lua_getfield(L, -1, "Parameters");
  lua_getfield(L, -1, "DeviceIoControl");
  ldl_setint(L, "InputBufferLength", dl_irp_input_length(irp));
  push_va(L, dl_irp_type3_input(irp));
  lua_setfield(L, -2, "Type3InputBuffer");
  lua_pop(L, 2);
  ldl_pushobject(L, LDL_FILE, (dl_object *)irp->file);
  lua_setfield(L, -2, "FileObject");
}

/* irp:result() -> { Status, Information, output } once completed (nil
** before): IoStatus and the bytes the originator's output buffer holds
** (its first Information bytes: what a buffered request copied back, what
** a direct or neither request wrote in place). */
static int irp_result(lua_State *L) {
  lobject *h = ldl_checkobject(L, 1, LDL_IRP, "IRP");
  dl_irp *irp = h->obj;
  if (!dl_irp_completed(irp)) {
    lua_pushnil(L);
    return 1;
  }
  lua_createtable(L, 0, 3);
  ldl_setint(L, "Status", dl_irp_status(irp));
  ldl_setint(L, "Information", (lua_Integer)dl_irp_information(irp));
  uint64_t va = dl_irp_output_va(irp), n = dl_irp_information(irp);
  if (n > dl_irp_output_length(irp)) n = dl_irp_output_length(irp);
  if (dl_irp_xfer(irp) == DL_XFER_BUFFERED) n = dl_irp_copied_back(irp);
  if (va && n) {
    ldl_pushread(L, dl_machine_read_va, h->owner->m, va, n, 1, "output");
  } else {
    lua_pushliteral(L, "");
  }
  lua_setfield(L, -2, "output");
  return 1;
}

const luaL_Reg lio_irp_methods[] = {
  {"result", irp_result},
  {NULL, NULL}
};

/* ---- FILE_OBJECT ---------------------------------------------------------- */

static const char *const file_states[] = {"new", "open", "cleaned_up", "closed"};

/* Fields: the lab's id, state, device; FsContext and FsContext2 (any Lua
** value a driver keeps there) live in the handle's state. */
static int file_index(lua_State *L) {
  const char *key = luaL_checkstring(L, 2);
  if (ldl_getmethod(L, lua_upvalueindex(1)) != LUA_TNIL) return 1;
  dl_file *f = ldl_checkobject(L, 1, LDL_FILE, "FILE_OBJECT")->obj;
  if (strcmp(key, "id") == 0) lua_pushinteger(L, (lua_Integer)DL_OBJECT(f)->id);
  else if (strcmp(key, "state") == 0) lua_pushstring(L, file_states[dl_file_get_state(f)]);
  else if (strcmp(key, "DeviceObject") == 0)
    ldl_pushobject(L, LDL_DEVICE, DL_OBJECT(dl_file_device(f)));
  else if (strcmp(key, "FileName") == 0) ldl_pushunicode(L, dl_file_name(f));
  else if (strcmp(key, "FsContext") == 0 || strcmp(key, "FsContext2") == 0) {
    ldl_pushstate(L, 1);
    lua_getfield(L, -1, key);
  } else lua_pushnil(L);
  return 1;
}

/* file.FsContext = v, file.FsContext2 = v; the rest is read-only. */
static int file_newindex(lua_State *L) {
  ldl_checkobject(L, 1, LDL_FILE, "FILE_OBJECT");
  const char *key = luaL_checkstring(L, 2);
  if (strcmp(key, "FsContext") != 0 && strcmp(key, "FsContext2") != 0)
    return luaL_error(L, "field '%s' of FILE_OBJECT is read-only (FsContext and FsContext2 may be set)",
                      key);
  ldl_pushstate(L, 1);
  lua_pushvalue(L, 3);
  lua_setfield(L, -2, key);
  return 0;
}

static int file_tostring(lua_State *L) {
  lobject *h = ldl_checkclass(L, 1, LDL_FILE);
  if (!h->owner->m || !h->obj) {
    lua_pushliteral(L, "FILE_OBJECT (gone)");
    return 1;
  }
  dl_file *f = h->obj;
  lua_pushfstring(L, "FILE_OBJECT#%I %s", (lua_Integer)DL_OBJECT(f)->id,
                  file_states[dl_file_get_state(f)]);
  return 1;
}

/* ---- cancellation --------------------------------------------------------- */

/* IoCancelIrp(Irp) -> BOOLEAN: Irp.Cancel is set; the cancel routine, if
** the IRP has one, runs at DISPATCH_LEVEL (the framework's cancels a
** request waiting in a queue or marked cancelable). */
static int l_IoCancelIrp(lua_State *L) {
  lobject *h = ldl_checkobject(L, 1, LDL_IRP, "IRP");
  lua_settop(L, 1);
  ldl_call c;
  ldl_enter(L, h->owner, &c);
  int called = dl_io_cancel_irp(h->obj);
  ldl_leave(L, &c);
  lua_pushboolean(L, called);
  return 1;
}

/* The core's cancel routine for a Lua one: routine(DeviceObject, Irp). */
static void on_cancel(void *ctx, dl_irp *irp) {
  (void)ctx;
  lmachine *lm = dl_machine_data(DL_OBJECT(irp)->m);
  lua_State *L = lm->L;
  ldl_pushobject(L, LDL_IRP, DL_OBJECT(irp));
  ldl_pushstate(L, -1);
  lua_getfield(L, -1, "CancelRoutine");
  lua_pushnil(L);
  lua_setfield(L, -3, "CancelRoutine");
  ldl_pushobject(L, LDL_DEVICE, DL_OBJECT(dl_irp_device(irp)));
  lua_pushvalue(L, -4);
  lua_remove(L, -5);
  lua_remove(L, -4);
  ldl_callback(L, lm, 2, 0);
}

/* IoSetCancelRoutine(Irp, CancelRoutine) -> the previous routine or nil:
** CancelRoutine(DeviceObject, Irp) runs at DISPATCH_LEVEL holding the
** cancel spin lock (it calls IoReleaseCancelSpinLock(Irp.CancelIrql)) when
** the IRP is cancelled (IoCancelIrp) while set; nil clears it. */
static int l_IoSetCancelRoutine(lua_State *L) {
  dl_irp *irp = ldl_checkobject(L, 1, LDL_IRP, "IRP")->obj;
  luaL_argcheck(L, lua_isnoneornil(L, 2) || lua_isfunction(L, 2), 2, "a function or nil expected");
  lua_settop(L, 2);
  int had = dl_io_set_cancel_routine(irp, lua_isnil(L, 2) ? NULL : on_cancel, NULL);
  luaL_argcheck(L, had >= 0, 1, "IRP was already completed");
  ldl_pushstate(L, 1);
  lua_getfield(L, 3, "CancelRoutine");
  if (!had) {  /* taken by IoCancelIrp, or never set */
    lua_pop(L, 1);
    lua_pushnil(L);
  }
  lua_pushvalue(L, 2);
  lua_setfield(L, 3, "CancelRoutine");
  return 1;
}

/* IoAcquireCancelSpinLock() -> Irql: raises to DISPATCH_LEVEL (on the current machine). */
static int l_IoAcquireCancelSpinLock(lua_State *L) {
  lmachine *lm = ldl_current(L, "IoAcquireCancelSpinLock");
  uint8_t irql;
  ldl_call c;
  ldl_enter(L, lm, &c);
  dl_io_acquire_cancel_spin_lock(lm->m, &irql);
  ldl_leave(L, &c);
  lua_pushinteger(L, irql);
  return 1;
}

/* IoReleaseCancelSpinLock(Irql): lowers to Irql (a cancel routine passes Irp.CancelIrql). */
static int l_IoReleaseCancelSpinLock(lua_State *L) {
  lua_Integer irql = luaL_checkinteger(L, 1);
  luaL_argcheck(L, irql >= 0 && irql <= DL_HIGH_LEVEL, 1, "an IRQL expected");
  lmachine *lm = ldl_current(L, "IoReleaseCancelSpinLock");
  ldl_call c;
  ldl_enter(L, lm, &c);
  dl_io_release_cancel_spin_lock(lm->m, (uint8_t)irql);
  ldl_leave(L, &c);
  return 0;
}

/* ---- registration ----------------------------------------------------------- */

static const luaL_Reg file_meta[] = {
  {"__tostring", file_tostring},
  {"__newindex", file_newindex},
  {NULL, NULL}
};

static const luaL_Reg functions[] = {
  {"IoCancelIrp", l_IoCancelIrp},
  {"IoSetCancelRoutine", l_IoSetCancelRoutine},
  {"IoAcquireCancelSpinLock", l_IoAcquireCancelSpinLock},
  {"IoReleaseCancelSpinLock", l_IoReleaseCancelSpinLock},
  {NULL, NULL}
};

static const struct { const char *name; lua_Integer value; } constants[] = {
  {"DO_BUFFERED_IO", DL_DO_BUFFERED_IO}, {"DO_EXCLUSIVE", DL_DO_EXCLUSIVE},
  {"DO_DIRECT_IO", DL_DO_DIRECT_IO},
};

/* Registers FILE_OBJECT, the calls, the DO_* flags, and names.c's. */
void lio_open(lua_State *L) {
  ldl_newclass(L, LDL_FILE, file_meta, ldl_no_methods, file_index);
  static const char *const fields[] = {"id", "state", "DeviceObject", "FsContext", "FsContext2", NULL};
  ldl_setfields(L, LDL_FILE, fields);
  luaL_setfuncs(L, functions, 0);
  for (size_t i = 0; i < sizeof constants / sizeof constants[0]; i++) {
    lua_pushinteger(L, constants[i].value);
    lua_setfield(L, -2, constants[i].name);
  }
  lio_open_names(L);
}
