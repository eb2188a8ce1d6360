/*
** lab.c: the host side of what-if experiments, for bindings/lab/lab.lua
** (embedded in the module as `dma.lab`): a pool of worker processes that run
** sweep points, a SQLite store, and the few host facts the sweep needs (is
** stdout a terminal, a monotonic clock for the ETA, the number of CPUs).
** Nothing here touches a simulated machine; the host's clock only times
** the progress bar.
*/
#define _DEFAULT_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "../ldl.h"
#include "lab_lua.h"  /* generated from lab.lua: lab_lua[], lab_lua_len */

/* ---- host facts -------------------------------------------------------------- */

/* dma._isatty(fd) -> boolean */
static int l_isatty(lua_State *L) {
  lua_pushboolean(L, isatty((int)luaL_checkinteger(L, 1)));
  return 1;
}

/* dma._monotonic() -> seconds (host time, for ETAs only) */
static int l_monotonic(lua_State *L) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  lua_pushnumber(L, (double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
  return 1;
}

/* dma._cpus() -> online CPUs */
static int l_cpus(lua_State *L) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  lua_pushinteger(L, n > 0 ? n : 1);
  return 1;
}

/* ---- the worker pool ------------------------------------------------------------ */

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig) {
  (void)sig;
  interrupted = 1;
}

/* Writes all of buf; 0 on success. */
static int write_all(int fd, const void *buf, size_t n) {
  const char *p = buf;
  while (n) {
    ssize_t k = write(fd, p, n);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return -1;
    p += k;
    n -= (size_t)k;
  }
  return 0;
}

/* Reads exactly n bytes; 0 on success, -1 on EOF or error. */
static int read_all(int fd, void *buf, size_t n) {
  char *p = buf;
  while (n) {
    ssize_t k = read(fd, p, n);
    if (k < 0 && errno == EINTR) {
      if (interrupted) return -1;
      continue;
    }
    if (k <= 0) return -1;
    p += k;
    n -= (size_t)k;
  }
  return 0;
}

/* Calls work(i) (at index 1 of the pool's arguments) and returns its string. */
static const char *call_work(lua_State *L, int work, uint32_t i, size_t *len) {
  lua_pushvalue(L, work);
  lua_pushinteger(L, i);
  if (lua_pcall(L, 1, 1, 0) != LUA_OK || !lua_isstring(L, -1)) {
    const char *msg = lua_isstring(L, -1) ? lua_tostring(L, -1) : "work did not return a string";
    lua_pop(L, 1);
    lua_pushfstring(L, "return { status = 'error', error = [==[%s]==] }", msg);  /* work catches its own */
  }
  return lua_tolstring(L, -1, len);
}

/* A worker: reads indices, answers with work(i), until its pipe closes. */
static void worker(lua_State *L, int work, int in, int out) {
  signal(SIGINT, SIG_IGN);  /* Ctrl-C is the parent's to handle */
  uint32_t i;
  while (read_all(in, &i, sizeof i) == 0) {
    size_t len;
    const char *s = call_work(L, work, i, &len);
    uint32_t n = (uint32_t)len;
    if (write_all(out, &i, sizeof i) || write_all(out, &n, sizeof n) || write_all(out, s, len)) break;
    lua_pop(L, 1);
  }
  _exit(0);
}

typedef struct slot {
  pid_t pid;
  int cmd, res;          /* to the worker, from it; -1 when closed */
} slot;

/* Sends the next index to a worker, or closes its command pipe. */
static void feed(slot *w, uint32_t *next, uint32_t count) {
  if (*next <= count && !interrupted) {
    uint32_t i = (*next)++;
    if (write_all(w->cmd, &i, sizeof i) == 0) return;
  }
  if (w->cmd >= 0) close(w->cmd);
  w->cmd = -1;
}

/* Stops every worker (killed when interrupted) and reaps them. */
static void stop_workers(slot *w, int n, int kill_them) {
  for (int k = 0; k < n; k++) {
    if (w[k].cmd >= 0) close(w[k].cmd);
    if (w[k].res >= 0) close(w[k].res);
    if (kill_them && w[k].pid > 0) kill(w[k].pid, SIGTERM);
  }
  for (int k = 0; k < n; k++)
    if (w[k].pid > 0) waitpid(w[k].pid, NULL, 0);
}

/* Reads one answer from a worker and hands it to done(i, s); 0 on success,
** 1 when the worker is gone, -1 when done raised an error (left on the stack). */
static int collect(lua_State *L, int done, slot *w) {
  uint32_t i, n;
  if (read_all(w->res, &i, sizeof i) || read_all(w->res, &n, sizeof n)) return 1;
  char *buf = malloc(n ? n : 1);
  if (!buf || read_all(w->res, buf, n)) {
    free(buf);
    return 1;
  }
  lua_pushvalue(L, done);
  lua_pushinteger(L, i);
  lua_pushlstring(L, buf, n);
  free(buf);
  return lua_pcall(L, 2, 0, 0) == LUA_OK ? 0 : -1;
}

/* Runs points in-process (one job). */
static int run_here(lua_State *L, int work, int done, uint32_t count) {
  for (uint32_t i = 1; i <= count && !interrupted; i++) {
    size_t len;
    call_work(L, work, i, &len);
    lua_pushvalue(L, done);
    lua_pushinteger(L, i);
    lua_pushvalue(L, -3);
    if (lua_pcall(L, 2, 0, 0) != LUA_OK) return -1;
    lua_pop(L, 1);
  }
  return 0;
}

/* Forks the workers and serves them until every point is done. */
static int run_pool(lua_State *L, int work, int done, uint32_t count, int jobs, slot *w) {
  uint32_t next = 1;
  fflush(NULL);
  for (int k = 0; k < jobs; k++) {
    int cmd[2], res[2];
    if (pipe(cmd) || pipe(res)) return luaL_error(L, "sweep: pipe failed");
    pid_t pid = fork();
    if (pid < 0) return luaL_error(L, "sweep: fork failed");
    if (pid == 0) {
      close(cmd[1]);
      close(res[0]);
      for (int j = 0; j < k; j++) {  /* not the earlier workers' pipes */
        if (w[j].cmd >= 0) close(w[j].cmd);
        if (w[j].res >= 0) close(w[j].res);
      }
      worker(L, work, cmd[0], res[1]);
    }
    close(cmd[0]);
    close(res[1]);
    w[k] = (slot){pid, cmd[1], res[0]};
  }
  for (int k = 0; k < jobs; k++) feed(&w[k], &next, count);
  for (;;) {
    struct pollfd p[256];
    int n = 0, map[256];
    for (int k = 0; k < jobs; k++)
      if (w[k].res >= 0) {
        p[n] = (struct pollfd){w[k].res, POLLIN, 0};
        map[n++] = k;
      }
    if (n == 0 || interrupted) break;
    if (poll(p, (nfds_t)n, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int j = 0; j < n; j++) {
      if (!(p[j].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      slot *s = &w[map[j]];
      int rc = collect(L, done, s);
      if (rc < 0) return -1;
      if (rc > 0) {
        close(s->res);
        s->res = -1;
      } else {
        feed(s, &next, count);
      }
    }
  }
  return 0;
}

/* dma._pool(jobs, count, work, done) -> "done" | "interrupted": runs
** work(i) for i = 1..count (in `jobs` forked workers when jobs > 1, each on
** its own copy of the state) and done(i, result) in this process as results
** come. Ctrl-C stops feeding points, stops the workers and returns
** "interrupted"; what done has seen is kept. An error in done stops the
** workers and is raised. */
static int l_pool(lua_State *L) {
  lua_Integer jobs = luaL_checkinteger(L, 1), count = luaL_checkinteger(L, 2);
  luaL_checktype(L, 3, LUA_TFUNCTION);
  luaL_checktype(L, 4, LUA_TFUNCTION);
  luaL_argcheck(L, jobs >= 1 && jobs <= 256, 1, "jobs must be 1 to 256");
  luaL_argcheck(L, count >= 0 && count <= UINT32_MAX - 1, 2, "too many points");
  struct sigaction sa, old_int, old_pipe;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_sigint;
  sigemptyset(&sa.sa_mask);
  interrupted = 0;
  sigaction(SIGINT, &sa, &old_int);
  sa.sa_handler = SIG_IGN;
  sigaction(SIGPIPE, &sa, &old_pipe);
  if (jobs > count) jobs = count ? count : 1;
  slot w[256];
  memset(w, 0, sizeof w);
  for (int k = 0; k < 256; k++) w[k].cmd = w[k].res = -1;
  int rc = jobs == 1 ? run_here(L, 3, 4, (uint32_t)count)
                     : run_pool(L, 3, 4, (uint32_t)count, (int)jobs, w);
  if (jobs > 1) stop_workers(w, (int)jobs, rc < 0 || interrupted);
  sigaction(SIGINT, &old_int, NULL);
  sigaction(SIGPIPE, &old_pipe, NULL);
  if (rc < 0) return lua_error(L);
  lua_pushstring(L, interrupted ? "interrupted" : "done");
  return 1;
}

/* ---- SQLite ------------------------------------------------------------------ */

#define LDL_SQLITE "dma.sqlite"

static sqlite3 **checkdb(lua_State *L) {
  sqlite3 **db = luaL_checkudata(L, 1, LDL_SQLITE);
  if (!*db) luaL_error(L, "database is closed");
  return db;
}

/* dma._sqlite(path) -> db */
static int l_sqlite(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  sqlite3 **db = lua_newuserdatauv(L, sizeof *db, 0);
  *db = NULL;
  luaL_setmetatable(L, LDL_SQLITE);
  if (sqlite3_open(path, db) != SQLITE_OK) {
    lua_pushfstring(L, "cannot open %s: %s", path, *db ? sqlite3_errmsg(*db) : "out of memory");
    sqlite3_close(*db);
    *db = NULL;
    return lua_error(L);
  }
  sqlite3_busy_timeout(*db, 5000);
  return 1;
}

/* Binds the values of the table at idx to the statement's parameters. */
static void bind_values(lua_State *L, sqlite3_stmt *st, int idx) {
  int n = sqlite3_bind_parameter_count(st);
  for (int k = 1; k <= n; k++) {
    lua_rawgeti(L, idx, k);
    if (lua_isinteger(L, -1)) sqlite3_bind_int64(st, k, (sqlite3_int64)lua_tointeger(L, -1));
    else if (lua_type(L, -1) == LUA_TNUMBER) sqlite3_bind_double(st, k, lua_tonumber(L, -1));
    else if (lua_type(L, -1) == LUA_TBOOLEAN) sqlite3_bind_int(st, k, lua_toboolean(L, -1));
    else if (lua_isstring(L, -1)) {
      size_t len;
      const char *s = lua_tolstring(L, -1, &len);
      sqlite3_bind_text(st, k, s, (int)len, SQLITE_TRANSIENT);
    } else sqlite3_bind_null(st, k);
    lua_pop(L, 1);
  }
}

/* Pushes the current row as { column = value } (NULLs left out). */
static void push_row(lua_State *L, sqlite3_stmt *st) {
  int n = sqlite3_column_count(st);
  lua_createtable(L, 0, n);
  for (int k = 0; k < n; k++) {
    switch (sqlite3_column_type(st, k)) {
      case SQLITE_INTEGER: lua_pushinteger(L, (lua_Integer)sqlite3_column_int64(st, k)); break;
      case SQLITE_FLOAT: lua_pushnumber(L, sqlite3_column_double(st, k)); break;
      case SQLITE_NULL: continue;
      default:
        lua_pushlstring(L, (const char *)sqlite3_column_text(st, k), (size_t)sqlite3_column_bytes(st, k));
    }
    lua_setfield(L, -2, sqlite3_column_name(st, k));
  }
}

/* db:exec(sql [, values]) -> { row, ... }: one statement, its rows. */
static int db_exec(lua_State *L) {
  sqlite3 **db = checkdb(L);
  const char *sql = luaL_checkstring(L, 2);
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(*db, sql, -1, &st, NULL) != SQLITE_OK)
    return luaL_error(L, "%s: %s", sqlite3_errmsg(*db), sql);
  if (lua_istable(L, 3)) bind_values(L, st, 3);
  lua_newtable(L);
  int rc;
  lua_Integer n = 0;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    push_row(L, st);
    lua_rawseti(L, -2, ++n);
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) return luaL_error(L, "%s: %s", sqlite3_errmsg(*db), sql);
  return 1;
}

/* db:close() and __gc */
static int db_close(lua_State *L) {
  sqlite3 **db = luaL_checkudata(L, 1, LDL_SQLITE);
  sqlite3_close(*db);
  *db = NULL;
  return 0;
}

/* ---- the machine's plot, and the Lua half ---------------------------------------- */

/* m:plot{...}: calls dma.lab's plot_run(m, options). */
static int m_plot(lua_State *L) {
  ldl_checkmachine(L, 1);
  lua_settop(L, 2);
  lua_getglobal(L, "require");
  lua_pushliteral(L, "dma.lab");
  lua_call(L, 1, 1);
  lua_getfield(L, -1, "plot_run");
  lua_pushvalue(L, 1);
  lua_pushvalue(L, 2);
  lua_call(L, 2, 1);
  return 1;
}

/* package.preload["dma.lab"]: loads the embedded lab.lua. */
static int load_lab(lua_State *L) {
  if (luaL_loadbuffer(L, (const char *)lab_lua, lab_lua_len, "=dma.lab") != LUA_OK) return lua_error(L);
  lua_call(L, 0, 1);
  return 1;
}

/* dma.sweep{...}: require("dma.lab").sweep(spec). */
static int l_sweep(lua_State *L) {
  lua_settop(L, 1);
  lua_getglobal(L, "require");
  lua_pushliteral(L, "dma.lab");
  lua_call(L, 1, 1);
  lua_getfield(L, -1, "sweep");
  lua_pushvalue(L, 1);
  lua_call(L, 1, LUA_MULTRET);
  return lua_gettop(L) - 2;
}

static const luaL_Reg functions[] = {
  {"_isatty", l_isatty},
  {"_monotonic", l_monotonic},
  {"_cpus", l_cpus},
  {"_pool", l_pool},
  {"_sqlite", l_sqlite},
  {"sweep", l_sweep},
  {NULL, NULL}
};

static const luaL_Reg db_methods[] = {
  {"exec", db_exec},
  {"close", db_close},
  {"__gc", db_close},
  {NULL, NULL}
};

static const luaL_Reg machine_methods[] = {
  {"plot", m_plot},
  {NULL, NULL}
};

/* Adds the lab's functions to the module at -1, m:plot, and dma.lab to preload. */
void ldl_open_lab(lua_State *L) {
  luaL_setfuncs(L, functions, 0);
  luaL_newmetatable(L, LDL_SQLITE);
  luaL_setfuncs(L, db_methods, 0);
  lua_pushvalue(L, -1);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
  ldl_addmethods(L, LDL_MACHINE, machine_methods);
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  lua_pushcfunction(L, load_lab);
  lua_setfield(L, -2, "dma.lab");
  lua_pop(L, 1);
}
