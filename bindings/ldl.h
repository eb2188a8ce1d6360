/*
** ldl.h: what the binding files share: object handles, the current
** machine, argument checking and status-to-error conversion.
**
** Objects on a machine (buffers, MDLs, ...) belong to the machine, not to
** their Lua handles: a handle that is garbage-collected leaves its object
** in place, exactly as a kernel object outlives a forgotten pointer. That is
** what keeps leak reports and page allocation independent of when the
** collector runs, so the same script gives the same run.
*/
#ifndef LDL_H
#define LDL_H

#include <lauxlib.h>
#include <lua.h>
#include <stdint.h>

#include "base/dl_wdk.h"
#include "machine/dl_machine.h"

/* The most bytes one Lua string may take from simulated memory. */
#define LDL_MAX_STRING (UINT64_C(1) << 31)

/* The most pages b:pfns() lists. */
#define LDL_MAX_PFNS (UINT64_C(1) << 24)

/* The default of dma.machine{ limits = { host_memory = } }: the host bytes
** a machine's simulated RAM may take (page bytes, allocation bitmaps). */
#define LDL_HOST_MEMORY (UINT64_C(4) << 30)
/* The default of limits.lua_memory: the Lua heap, checked while callbacks run. */
#define LDL_LUA_MEMORY (UINT64_C(4) << 30)

/* Raises the error of DL_ELIMIT from `fname` at argument arg: the
** host_memory limit when it struck, else the run cap of one buffer
** (bindings/machine/hostmem.c). */
int ldl_limiterror(lua_State *L, dl_machine *m, int arg, const char *fname, uint64_t length);

/* Raises the host_memory limit error if the cap refused host memory since
** the last check (an engine call's DMA or bounce copy). */
void ldl_checkhostlimit(lua_State *L, dl_machine *m);

/* Raises the error of a free refused because another object still needs
** o (dl_machine_holder): names `call`, argument arg, o and its holder
** (bindings/machine/inuse.c). */
struct dl_object;
int ldl_inuse_error(lua_State *L, int arg, const char *call, const struct dl_object *o);

/* Pushes the text a verifier report raises ("DRIVER_VERIFIER_DMA_VIOLATION
** (0xE6, P1=0x0D): ..."), the one format of reports and leaks. */
struct dl_report;
const char *ldl_pushreporttext(lua_State *L, const struct dl_report *r);

/* Raises "<TYPE>[k]: a field name is a string, not a <type>" for the key
** at arg of the handle at 1 (bindings/ldl.c). */
const char *ldl_keyerror(lua_State *L, int arg);

/* The string key at arg of an __index/__newindex; any other key is an
** error naming the handle's type (ldl_keyerror). */
static inline const char *ldl_checkkey(lua_State *L, int arg) {
  return lua_type(L, arg) == LUA_TSTRING ? lua_tostring(L, arg) : ldl_keyerror(L, arg);
}

/* How the CPU reads and writes one view of simulated memory. */
typedef int (*ldl_reader)(dl_machine *m, uint64_t at, void *dst, uint64_t len);
typedef int (*ldl_writer)(dl_machine *m, uint64_t at, const void *src, uint64_t len);

/* Raises an error at argument `arg` if len bytes are more than one Lua
** string may take from simulated memory (LDL_MAX_STRING). */
void ldl_checkstringlen(lua_State *L, int arg, uint64_t len);

/* Pushes len bytes at `at` read by rd as a string; a status raises an
** error at argument `arg` (`miss` for DL_ENOTMAPPED). */
int ldl_pushread(lua_State *L, ldl_reader rd, dl_machine *m, uint64_t at, uint64_t len, int arg,
                 const char *miss);

/* Writes the string at `bytes` at `at` with wr; errors as ldl_pushread. */
int ldl_write(lua_State *L, ldl_writer wr, dl_machine *m, uint64_t at, int bytes, int arg,
              const char *miss);

/* Pushes a UNICODE_STRING table as RtlInitUnicodeString fills one: Buffer
** (the text), Length and MaximumLength in bytes (two a character). */
void ldl_pushunicode(lua_State *L, const char *s);

/* Metatable names; they read as type names in error messages. */
#define LDL_MACHINE "machine"
#define LDL_BUFFER "buffer"
#define LDL_MDL "MDL"
#define LDL_DEVICE "DEVICE_OBJECT"
#define LDL_ADAPTER "DMA_ADAPTER"
#define LDL_SGLIST "SCATTER_GATHER_LIST"
#define LDL_DPC "KDPC"
#define LDL_TIMER "KTIMER"
#define LDL_INTERRUPT "KINTERRUPT"
#define LDL_MODEL "device model"
#define LDL_DRIVER "DRIVER_OBJECT"
#define LDL_IRP "IRP"

/* A machine handle. */
typedef struct lmachine {
  dl_machine *m;        /* NULL once closed */
  lua_State *L;         /* the state running the clock, during a run */
  int error;            /* registry ref of an error raised by a callback */
  int record;           /* verifier = "record": reports do not raise */
  uint64_t raised;      /* reports up to this count were raised already */
  int depth;            /* Lua callbacks running: the machine may not close */
  int collecting;       /* closed by __gc: the close hooks call no Lua */
  struct lobject *gone; /* handles whose objects went away, to unpin */
  unsigned id;          /* machine#id in messages (ldl_newmachineid) */
  int self;             /* registry ref of a weak box holding this handle */
  /* Limits on Lua run on the engine's behalf (0: none), counted by a count
  ** hook that ldl_callback installs around each callback. */
  uint64_t limit_callback;  /* Lua instructions per callback */
  uint64_t limit_lua_memory; /* bytes of Lua heap while a callback runs */
  uint64_t limit_run;       /* Lua instructions per run (m:run, m:run_until,
                            ** m:step, or one call from the top level) */
  uint64_t run_count;       /* instructions counted in this run */
  int running;              /* a m:run/run_until/step is on */
  const char *where, *where_of;  /* what the next callback is (ldl_where) */
  uint64_t where_id;
  uint64_t host_hits;       /* host_memory refusals already raised */
} lmachine;

/* The defaults of dma.machine{ limits = {...} }. */
#define LDL_CALLBACK_INSTRUCTIONS UINT64_C(100000000)
#define LDL_RUN_INSTRUCTIONS UINT64_C(10000000000)
#define LDL_RUN_EVENTS UINT64_C(1000000000)

/* Names the callback the next ldl_callback/ldl_pcall on lm makes, for the
** message of a limit that strikes in it: `what` ("the DPC routine") of
** `of`#id ("KDPC", 3); of may be NULL. The strings must be constants. */
void ldl_where(lmachine *lm, const char *what, const char *of, uint64_t id);

/* A new machine id (a counter): errors name machines as machine#id. */
unsigned ldl_newmachineid(void);

/* Every object handle starts like this; uservalue 1 is the machine, 2 the
** object's Lua state (a table, made on first use: ldl_pushstate). A handle
** of a core object with the common header (machine/dl_object.h) is the one
** record of that object on the Lua side: the object's data slot points to
** it and the machine pins it (uservalue 1 of the machine handle) until the
** object goes away, so nothing keyed by addresses is needed. */
typedef struct lobject {
  lmachine *owner;
  void *obj;            /* core object; NULL once freed */
  struct lobject *gone; /* next on the owner's list of handles to unpin */
  int pin;              /* its key in the machine's pin table (0: none) */
} lobject;

/* One engine call made on behalf of Lua: ldl_enter before, ldl_leave after.
** The engine may call back into Lua meanwhile (on L). */
typedef struct ldl_call {
  lmachine *lm;
  uint64_t reports;     /* verifier reports before the call */
} ldl_call;

/* Starts an engine call on the machine of lm. */
void ldl_enter(lua_State *L, lmachine *lm, ldl_call *c);

/* Ends it: unpins the handles of objects that went away, then raises the
** error a callback left, else the first verifier report the call made
** (unless the machine records reports). */
void ldl_leave(lua_State *L, ldl_call *c);

/* Returns 1 if the engine call made a verifier report (seen when the
** machine records reports: ldl_leave raised none). */
int ldl_reported(const ldl_call *c);

/* Pins (pinned 1) or unpins the handle at `arg` of a core object with the
** common header. An unpinned handle lives as long as Lua holds it; its
** __gc must ldl_detach before freeing the object. */
void ldl_setpinned(lua_State *L, int arg, int pinned);

/* Detaches the handle at arg from its object and returns the object (NULL
** if none); its key in the machine's pin table is given back. */
void *ldl_detach(lua_State *L, int arg);

/* Pushes the one handle of a core object with the common header (creating
** and pinning it on first use), of class `name`; nil for NULL. */
struct dl_object;
void ldl_pushobject(lua_State *L, const char *name, struct dl_object *o);

/* Pushes the Lua state table of the object handle at `arg` (made on first use). */
void ldl_pushstate(lua_State *L, int arg);

/* Gives the machine handle at `arg` its Lua state: the pin table of the
** handles of its objects (uservalue 1), the table of pending callbacks
** (uservalue 2), and the core hook that tells it about objects going away. */
void ldl_initpins(lua_State *L, int arg);

/* Unpins the handles of objects that went away (see ldl_leave). */
void ldl_unpin(lua_State *L, lmachine *lm);

/* Creates a metatable `name` with metamethods and a method table; __index
** is `index` (a C function that gets the method table as upvalue 1) or,
** if NULL, the method table itself. Leaves nothing on the stack. */
void ldl_newclass(lua_State *L, const char *name, const luaL_Reg *meta,
                  const luaL_Reg *methods, lua_CFunction index);

/* Gives the handle at arg its own metatable, a copy of its class's whose
** __index is a plain table of the handle's data fields (no C call to read
** them; the binding keeps them current), falling back to the class
** __index for every other key. Pushes that field table. */
void ldl_pushownfields(lua_State *L, int arg);

/* Table pools, each keyed by a static address: a table the engine hands a
** driver per request (a stack location, request parameters) is taken from
** its pool and given back instead of made anew, so requests make no garbage.
** ldl_pool_take pushes one (a new one with room for nrec fields if the pool
** is empty) and returns 1 if it is new; ldl_pool_give pops the table at -1
** into the pool unless the pool already holds max. */
int ldl_pool_take(lua_State *L, const void *key, int nrec);
void ldl_pool_give(lua_State *L, const void *key, lua_Integer max);

/* Pushes the Parameters table of the stack location or WDF_REQUEST_PARAMETERS
** at -1: made when fresh (Read and Write one table, as they share storage in
** the WDK's union, and DeviceIoControl), else the one it has. */
void ldl_pushparameters(lua_State *L, int fresh);

/* One named counter of a statistics table. */
typedef struct ldl_int { const char *name; uint64_t v; } ldl_int;

/* Pushes a new table of the n counters f (room for `extra` more fields). */
void ldl_pushints(lua_State *L, const ldl_int *f, size_t n, int extra);

/* Sets field k of the table at -1 to the integer v. */
void ldl_setint(lua_State *L, const char *k, lua_Integer v);

/* Lists the fields an __index function of class `name` serves (a
** NULL-terminated list) as the metatable's __fields set, for the REPL's Tab
** completion and help. */
void ldl_setfields(lua_State *L, const char *name, const char *const fields[]);

/* An empty method list, for classes with fields only. */
extern const luaL_Reg ldl_no_methods[];

/* Adds methods to the method table of class `name` (a layer adds its
** m:xxx() calls to the machine this way). */
void ldl_addmethods(lua_State *L, const char *name, const luaL_Reg *methods);

/* Pushes a new handle of class `name` for obj, owned by the machine handle
** at index `machine`. Returns it. */
lobject *ldl_newobject(lua_State *L, const char *name, int machine, void *obj);

/* Checks that argument `arg` is a live object of class `name` (its machine
** open, the object not freed, and of the machine of the call: see
** ldl_checkowner) and returns the handle. */
lobject *ldl_checkobject(lua_State *L, int arg, const char *name, const char *what);

/* Every object belongs to one machine: raises "bad argument #arg to 'f'
** (<what> of machine#A, the call is on machine#B)" unless `owner` (the
** machine of the object at arg) is the machine of the first argument before
** arg that is a machine or an object handle (no such argument: no check).
** ldl_checkobject does it for every object argument. */
void ldl_checkowner(lua_State *L, int arg, const lmachine *owner, const char *what);

/* luaL_testudata and luaL_checkudata without a registry lookup by name on
** each call: the class metatable remembers its name (hot paths). */
void *ldl_testclass(lua_State *L, int arg, const char *name);
void *ldl_checkclass(lua_State *L, int arg, const char *name);

/* Pushes the current machine handle, or nil. */
void ldl_pushcurrentvalue(lua_State *L);

/* For a C __index(obj, key): pushes methods[key] (the table at index
** `methods`, e.g. lua_upvalueindex(1)) by a raw get; returns its type. */
int ldl_getmethod(lua_State *L, int methods);

/* Checks argument `arg` is an open machine. */
lmachine *ldl_checkmachine(lua_State *L, int arg);

/* Pushes the machine handle owning the object at `arg`. */
void ldl_pushowner(lua_State *L, int arg);

/* Pushes the current machine and returns it; raises an error naming
** `fname` if there is none. */
lmachine *ldl_current(lua_State *L, const char *fname);

/* Makes the machine at `arg` current (updates PAGE_SIZE where exported). */
void ldl_setcurrent(lua_State *L, int arg);

/* Checks argument `arg` is a non-negative integer (an address or count). */
uint64_t ldl_checkuint(lua_State *L, int arg);

/* Checks argument `arg` is a size: an integer or a string like "64G",
** "512M", "4KiB", "0x1000". */
uint64_t ldl_checksize(lua_State *L, int arg);

/* Parses a size string; returns 1 on success. */
int ldl_parsesize(const char *s, uint64_t *out);

/* Checks argument `arg` is a duration in ns: an integer or "5us", "2ms"... */
uint64_t ldl_checkduration(lua_State *L, int arg);

/* Raises "bad argument #arg to 'fname' (<status text>: detail)". */
int ldl_statuserror(lua_State *L, int arg, int status, const char *detail);

/* Makes the state's sentinel, whose finalizer clears the per-thread caches
** when the state closes (luaopen_dma calls it first). */
void ldl_initstate(lua_State *L);

/* The current machine (an error naming fname if there is none), without
** pushing it: the hot paths' ldl_current. */
lmachine *ldl_currentlm(lua_State *L, const char *fname);

/* Makes the machine handle at arg the one ldl_pushmachine finds for its
** core machine (again, after the collector cleared it, in __gc). */
void ldl_setmachinehandle(lua_State *L, int arg);

/* Forgets the machine handle of lm (when its machine is freed). */
void ldl_forgetmachinehandle(lua_State *L, lmachine *lm);

/* Pushes the set of tables that dma.export filled (weak keys). */
void ldl_pushenvs(lua_State *L);

/* Pushes the set of live machine handles (weak keys). */
void ldl_pushmachines(lua_State *L);

/* Pushes the handle of a core machine (nil if it has none). */
void ldl_pushmachine(lua_State *L, dl_machine *m);

/* Pushes the machine's table of pending Lua callbacks. */
void ldl_pushcallbacks(lua_State *L, lmachine *lm);

/* Remembers the function at fn and the value at ctx for a callback the
** engine will make; returns the reference the engine carries. */
int ldl_keepcallback(lua_State *L, lmachine *lm, int fn, int ctx);

/* Pushes the function and value kept under ref and forgets them. */
void ldl_takecallback(lua_State *L, lmachine *lm, int ref);

/* Calls the function under narg arguments (and the error handler) on behalf
** of the engine: an error is kept to be raised by ldl_rethrow once the
** engine call returns. Returns 1 if the call succeeded. The machine's
** instruction limits hold during the call: over one, the callback fails
** with "limit: callback exceeded N Lua instructions (in ...)". */
int ldl_callback(lua_State *L, lmachine *lm, int narg, int nres);

/* Like ldl_callback without the traceback: the error is kept as raised
** (for routines whose errors the caller sees as its own). */
int ldl_pcall(lua_State *L, lmachine *lm, int narg, int nres);

/* Raises the error a callback left, if any. */
void ldl_rethrow(lua_State *L, lmachine *lm);

/* Number of verifier reports so far (taken before an engine call). */
uint64_t ldl_reports(lmachine *lm);

/* After an engine call: raises the newest report if the call made one and
** the machine is not in record mode; then any callback error. */
void ldl_checkreports(lua_State *L, lmachine *lm, uint64_t before);

/* Pushes a verifier report as a table. */
struct dl_report;
void ldl_pushreport(lua_State *L, const struct dl_report *r);

/* S/G list handles (sglist.c): pushes a new handle for a list just built;
** checks one, returning the list and the id it was handed out with. */
struct dl_sglist;
void ldl_pushsglist(lua_State *L, int machine, struct dl_sglist *sg);
struct dl_sglist *ldl_checksglist(lua_State *L, int arg, uint64_t *id);

/* Pushes a SCATTER_GATHER_LIST's Elements: a table indexed from 0 of the n
** elements el[] as {Address=, Length=} (sglist.c). */
struct dl_sg_element;
void ldl_pushelements(lua_State *L, const struct dl_sg_element *el, uint32_t n);

/* The strict option reader: raises a bad-argument error for the first key of
** the table at arg that is not in `valid` (NULL-terminated; nothing happens
** if arg is not a table), as "<fname>: unknown field '<key>' [did you mean
** '<near>'?] (valid: <valid keys>)", so that a misspelt option is never
** silently ignored. */
void ldl_checkoptions(lua_State *L, int arg, const char *fname, const char *const valid[]);

/* The same for a table standing for a WDK structure, whose message reads
** as the structure's: fmt gets the key and the list of valid keys, e.g.
** "DEVICE_DESCRIPTION has no field '%s'" or "a request has no field '%s' (%s)". */
void ldl_checkfields(lua_State *L, int arg, const char *fmt, const char *const valid[]);

/* Sets table[i].name = table[i].value in the table at -1 for each row: the
** Windows values exported from core's tables (dl_ntstatus.h, dl_wdk.h). */
void ldl_setvalues(lua_State *L, const dl_wdk_value *table, size_t n);

/* Reads a BOOLEAN argument: true/false, or an integer (0 is FALSE). */
int ldl_checkbool(lua_State *L, int arg);

/* Reads a pool tag: an integer (a ULONG) or 1 to 4 characters, 'Tag1'
** read as C reads a multi-character constant (first character highest). */
uint32_t ldl_checktag(lua_State *L, int arg);

/* Reads a POOL_TYPE (NonPagedPool, PagedPool, NonPagedPoolNx...); returns
** 1 for paged pool. */
int ldl_checkpooltype(lua_State *L, int arg);

/* Raises an error naming fname unless the current IRQL is `level` (exact)
** or at most `level`. */
void ldl_checkirql(lua_State *L, lmachine *lm, const char *fname, int exact, uint8_t level);

/* DRIVER_OBJECTs (driver.c): hands the MajorFunction table of drv to the
** core before IoCallDriver; returns 0 if its entry for `major` is neither
** a function nor nil. */
struct dl_driver;
int ldl_syncdriver(lua_State *L, struct dl_driver *drv, uint8_t major);

/* Pushes the handle of a device's CurrentIrp (nil if none): irp.c keeps
** that handle pinned while the IRP is current. */
struct dl_device;
void ldl_pushcurrentirp(lua_State *L, struct dl_device *dev);

/* Teardown hooks: hook(machine) runs when a machine closes (close, __close,
** __gc), before anything is freed, newest hook first, so a layer built on
** another goes before it. */
void ldl_add_close_hook(lua_State *L, lua_CFunction hook);

/* Runs the close hooks for the machine handle at `arg`. */
void ldl_run_close_hooks(lua_State *L, int arg);

/* Registers each class; called by luaopen_dma with the module at -1. */
void ldl_open_machine(lua_State *L);
void ldl_open_buffer(lua_State *L);
void ldl_open_mdl(lua_State *L);
void ldl_open_device(lua_State *L);
void ldl_open_adapter(lua_State *L);
void ldl_open_sglist(lua_State *L);
void ldl_open_dmaex(lua_State *L);
void ldl_open_irql(lua_State *L);
void ldl_open_verifier(lua_State *L);
void ldl_open_dpc(lua_State *L);
void ldl_open_interrupt(lua_State *L);
void ldl_open_model(lua_State *L);
void ldl_open_mmio(lua_State *L);
void ldl_open_ioport(lua_State *L);

/* The register and port accessors (devices/access.c): how one kind reads
** and writes, the names its errors give, and whether the BUFFER forms step
** the address by the size (registers) or repeat it (ports: rep ins/outs). */
typedef struct ldl_access {
  int (*read)(dl_machine *m, uint64_t at, uint32_t size, uint64_t *value);
  int (*write)(dl_machine *m, uint64_t at, uint32_t size, uint64_t value);
  const char *read_name, *write_name, *read_buffer_name, *write_buffer_name;
  const char *miss;  /* the argument error of a failed access */
  int advance;       /* BUFFER forms: 1 steps the address by the size */
  int each;          /* BUFFER forms: 1 makes each access its own engine call */
} ldl_access;

/* One accessor: READ_REGISTER_ULONG is {name, 4, 0, 0}. */
typedef struct ldl_accessor { const char *name; int size, write, buffer; } ldl_accessor;

/* Sets the n accessors of `rows` in the module at -1, all going through
** `a` (static: the closures keep its address). */
void ldl_setaccessors(lua_State *L, const ldl_access *a, const ldl_accessor *rows, size_t n);
void ldl_open_resources(lua_State *L);

/* A device model's resources (resources.c): hw.resources, and one
** CM_PARTIAL_RESOURCE_DESCRIPTOR table. */
struct dl_devmodel;
struct dl_cm_descriptor;
void ldl_push_resources(lua_State *L, const struct dl_devmodel *dm);
void ldl_push_descriptor(lua_State *L, const struct dl_cm_descriptor *d);
void ldl_open_busmaster(lua_State *L);
void ldl_open_sysdma(lua_State *L);  /* system DMA controllers (devices/sysdma.c) */
void ldl_open_uart(lua_State *L);    /* after ldl_open_sysdma */
/* Adds resources.dma of a UART model to the resources table at -1. */
struct dl_devmodel;
void ldl_uart_resources(lua_State *L, const struct dl_devmodel *dm);
void ldl_open_trace(lua_State *L);
void ldl_open_driver(lua_State *L);
void ldl_open_devstack(lua_State *L);  /* io/devstack.c */
void ldl_open_irpstack(lua_State *L);  /* io/irpstack.c */
/* A DEVICE_OBJECT at arg that IoDeleteDevice has not deleted (io/devstack.c). */
struct dl_device *ldl_checklivedevice(lua_State *L, int arg);
void ldl_open_irp(lua_State *L);
void ldl_open_platform(lua_State *L);  /* after ldl_open_machine */
void ldl_open_sync(lua_State *L);      /* spin locks, events, IO_WORKITEM (kernel/sync.c) */
void ldl_open_pool(lua_State *L);      /* pool and Rtl memory routines (kernel/pool.c) */
void ldl_open_mdlpages(lua_State *L);  /* MDLs owning pages, system mappings (io/mdlpages.c) */
void ldl_open_struct(lua_State *L);    /* dma.struct: C layouts over simulated memory (lab/struct.c) */

/* platform.c: dma.machine's iommu/bounce_policy/swiotlb options, and the
** id of the device a script names (0: none). */
struct dl_platform_config;
void ldl_read_platform(lua_State *L, int arg, struct dl_platform_config *p);
uint64_t ldl_device_id(dl_machine *m, const char *who);

/* KMDF framework objects (wdf.c, wdfdevice.c, wdfqueue.c, wdfinterrupt.c): WDFDRIVER,
** WDFDEVICE, WDFQUEUE, WDFREQUEST, WDFINTERRUPT; after ldl_open_irp. */
void ldl_open_wdf(lua_State *L);
void ldl_open_wdfdma(lua_State *L);  /* after ldl_open_wdf: wraps its machine close */
void ldl_open_lab(lua_State *L);     /* sweeps, stores, plots (lab/lab.c, lab/lab.lua) */

/* Pushes the context table of any WDF object handle at arg (created on first use). */
void ldl_wdf_pushcontext(lua_State *L, int arg, const char *type_name);

#endif
