/*
** dmalab.c: the dmalab executable, a Lua 5.4 REPL and batch runner with the
** `dma` module preloaded and its WDK names exported as globals.
**
** The structure follows Lua 5.4's own lua.c (pmain under a protected call,
** docall, loadline/addreturn/multiline, `=expr`), so the command line behaves
** like `lua`'s. On top of that: readline editing, a history file
** (history.c), and tab completion of globals and of table/userdata fields
** (complete.c).
*/
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <readline/readline.h>

#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

#include "../bindings/dma.h"
#include "../bindings/lcall.h"
#include "complete.h"
#include "history.h"

#ifndef DMALAB_VERSION
#define DMALAB_VERSION "0.1.0"
#endif

#define PROGNAME "dmalab"
#define PROMPT1 "> "
#define PROMPT2 ">> "
#define EOFMARK "<eof>"      /* how the parser says "chunk not finished" */

/* Option bits gathered by collectargs. */
enum { HAS_ERROR = 1, HAS_I = 2, HAS_V = 4, HAS_E = 8, HAS_NOENV = 16, HAS_H = 32 };

/* The state, for the SIGINT handler, which cannot be given a pointer. */
static lua_State *globalL = NULL;

/* Prefix of error messages; NULL in the REPL, as in lua.c. */
static const char *progname = PROGNAME;


/* ------------------------------------------------------------------------
** Messages
** --------------------------------------------------------------------- */

/* Prints an error message, prefixed by `pname` unless it is NULL. */
static void l_message(const char *pname, const char *msg) {
  if (pname != NULL)
    fprintf(stderr, "%s: ", pname);
  fprintf(stderr, "%s\n", msg);
  fflush(stderr);
}

/* Reports (and pops) the error message left by a failed call. */
static int report(lua_State *L, int status) {
  if (status != LUA_OK) {
    const char *msg = lua_tostring(L, -1);
    l_message(progname, msg != NULL ? msg : "(error object is not a string)");
    lua_pop(L, 1);
  }
  return status;
}

/* Prints the one-line version used by -v. */
static void print_version(void) {
  printf("%s %s (%s)\n", PROGNAME, DMALAB_VERSION, LUA_RELEASE);
  fflush(stdout);
}

/* Prints the usage to `f`, after a complaint about `badopt` if not NULL. */
static void print_usage(FILE *f, const char *badopt) {
  if (badopt != NULL) {
    if ((badopt[1] == 'e' || badopt[1] == 'l') && badopt[2] == '\0')
      fprintf(f, "%s: '%s' needs argument\n", PROGNAME, badopt);
    else
      fprintf(f, "%s: unrecognized option '%s'\n", PROGNAME, badopt);
  }
  fprintf(f,
    "usage: %s [options] [script [args]]\n"
    "Available options are:\n"
    "  -e stat        execute string 'stat'\n"
    "  -i             enter interactive mode after executing 'script'\n"
    "  -l mod         require library 'mod' into global 'mod'\n"
    "  -l g=mod       require library 'mod' into global 'g'\n"
    "  -v, --version  show version information\n"
    "  -h, --help     show this help\n"
    "  -E             ignore environment variables (LUA_PATH, LUA_CPATH)\n"
    "  -W             turn warnings on\n"
    "  --             stop handling options\n"
    "  -              stop handling options and execute stdin\n"
    "With no script and no -e/-v, runs the REPL if stdin is a terminal,\n"
    "else runs stdin as a script.\n",
    PROGNAME);
  fflush(f);
}


/* ------------------------------------------------------------------------
** Calling Lua, with Ctrl-C interrupting the running chunk
** --------------------------------------------------------------------- */

/* Installs `handler` for `sig` (no SA_RESTART: nothing here blocks). */
static void setsignal(int sig, void (*handler)(int)) {
  struct sigaction sa;
  sa.sa_handler = handler;
  sa.sa_flags = 0;
  sigemptyset(&sa.sa_mask);
  sigaction(sig, &sa, NULL);
}

/* Hook set by the SIGINT handler: raises the error at the next Lua step. */
static void lstop(lua_State *L, lua_Debug *ar) {
  (void)ar;
  lua_sethook(L, NULL, 0, 0);
  luaL_error(L, "interrupted!");
}

/* SIGINT handler: Lua cannot be unwound from a signal handler, but setting
** a hook is async-signal-safe, so the hook raises the error instead. The
** default action comes back so a second Ctrl-C kills a process stuck in C. */
static void on_sigint(int sig) {
  setsignal(sig, SIG_DFL);
  lua_sethook(globalL, lstop,
              LUA_MASKCALL | LUA_MASKRET | LUA_MASKLINE | LUA_MASKCOUNT, 1);
}

/* dl_docall with Ctrl-C armed for the duration of the call. */
static int docall(lua_State *L, int narg, int nres) {
  globalL = L;
  setsignal(SIGINT, on_sigint);
  int status = dl_docall(L, narg, nres);
  setsignal(SIGINT, SIG_DFL);
  return status;
}

/* Runs the chunk `s` (an -e argument). */
static int dostring(lua_State *L, const char *s, const char *name) {
  int status = luaL_loadbuffer(L, s, strlen(s), name);
  if (status == LUA_OK)
    status = docall(L, 0, 0);
  return report(L, status);
}

/* Runs the file `name`, or stdin if NULL. */
static int dofile(lua_State *L, const char *name) {
  int status = luaL_loadfile(L, name);
  if (status == LUA_OK)
    status = docall(L, 0, 0);
  return report(L, status);
}

/* -l spec: `g = require "mod"` for "g=mod", `mod = require "mod"` else. */
static int dolibrary(lua_State *L, const char *spec) {
  const char *eq = strchr(spec, '=');
  const char *modname = (eq != NULL) ? eq + 1 : spec;
  size_t globlen = (eq != NULL) ? (size_t)(eq - spec) : strlen(spec);
  lua_getglobal(L, "require");
  lua_pushstring(L, modname);
  int status = docall(L, 1, 1);
  if (status == LUA_OK) {
    /* argv is not ours to cut at '=', so the name is copied */
    const char *globname = lua_pushlstring(L, spec, globlen);
    lua_pushvalue(L, -2);
    lua_setglobal(L, globname);
    lua_pop(L, 2);
  }
  return report(L, status);
}

/* Pushes arg[1..n] (the script's `...`) and returns n. */
static int pushargs(lua_State *L) {
  if (lua_getglobal(L, "arg") != LUA_TTABLE)
    luaL_error(L, "'arg' is not a table");
  int n = (int)luaL_len(L, -1);
  luaL_checkstack(L, n + 3, "too many arguments to script");
  for (int i = 1; i <= n; i++)
    lua_rawgeti(L, -i, i);
  lua_remove(L, -n - 1);
  return n;
}

/* Runs the script argv[0] ("-" is stdin unless it came after "--"). */
static int handle_script(lua_State *L, char **argv) {
  const char *fname = argv[0];
  if (strcmp(fname, "-") == 0 && strcmp(argv[-1], "--") != 0)
    fname = NULL;
  int status = luaL_loadfile(L, fname);
  if (status == LUA_OK) {
    int n = pushargs(L);
    status = docall(L, n, LUA_MULTRET);
  }
  return report(L, status);
}


/* ------------------------------------------------------------------------
** Command line
** --------------------------------------------------------------------- */

/* Scans the options: sets *script to the index of the script (0 if none;
** the offending option on error) and returns the HAS_* bits. */
static int collectargs(char **argv, int *script) {
  int args = 0;
  *script = 0;
  if (argv[0] == NULL)
    return 0;
  for (int i = 1; argv[i] != NULL; i++) {
    const char *a = argv[i];
    *script = i;
    if (a[0] != '-')
      return args;  /* the script name */
    switch (a[1]) {
      case '\0':  /* "-": stdin is the script */
        return args;
      case '-':
        if (a[2] == '\0') {  /* "--": what follows is the script */
          *script = (argv[i + 1] != NULL) ? i + 1 : 0;
          return args;
        }
        if (strcmp(a, "--version") == 0) args |= HAS_V;
        else if (strcmp(a, "--help") == 0) args |= HAS_H;
        else return HAS_ERROR;
        break;
      case 'e': case 'l':  /* both take an argument, glued or next */
        if (a[1] == 'e') args |= HAS_E;
        if (a[2] == '\0') {
          i++;
          if (argv[i] == NULL || argv[i][0] == '-')
            return HAS_ERROR;
        }
        break;
      case 'i': case 'v': case 'h': case 'E': case 'W':
        if (a[2] != '\0')
          return HAS_ERROR;
        if (a[1] == 'i') args |= HAS_I;
        if (a[1] == 'v') args |= HAS_V;
        if (a[1] == 'h') args |= HAS_H;
        if (a[1] == 'E') args |= HAS_NOENV;
        break;
      default:
        return HAS_ERROR;
    }
  }
  *script = 0;
  return args;
}

/* Builds global `arg` as lua does: arg[0] is the script (the interpreter
** when there is none), script arguments are positive, the rest negative. */
static void createargtable(lua_State *L, char **argv, int argc, int script) {
  int narg = argc - (script + 1);
  lua_createtable(L, narg > 0 ? narg : 0, script + 1);
  for (int i = 0; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i - script);
  }
  lua_setglobal(L, "arg");
}

/* Runs the -e and -l options in order, plus -W; 0 if one failed. */
static int runargs(lua_State *L, char **argv, int optlim) {
  for (int i = 1; i < optlim; i++) {
    char opt = argv[i][1];
    if (opt == 'e' || opt == 'l') {
      const char *extra = argv[i] + 2;
      if (*extra == '\0')
        extra = argv[++i];
      int status = (opt == 'e') ? dostring(L, extra, "=(command line)")
                                : dolibrary(L, extra);
      if (status != LUA_OK)
        return 0;
    } else if (opt == 'W') {
      lua_warning(L, "@on", 0);
    }
  }
  return 1;
}


/* ------------------------------------------------------------------------
** REPL
** --------------------------------------------------------------------- */

/* Pushes and returns the prompt: _PROMPT/_PROMPT2 if a string or number,
** else the default. Raw access, so a strict-mode _G cannot kill the REPL. */
static const char *push_prompt(lua_State *L, int firstline) {
  lua_pushglobaltable(L);
  lua_pushstring(L, firstline ? "_PROMPT" : "_PROMPT2");
  int t = lua_rawget(L, -2);
  lua_remove(L, -2);
  if (t != LUA_TSTRING && t != LUA_TNUMBER) {
    lua_pop(L, 1);
    lua_pushstring(L, firstline ? PROMPT1 : PROMPT2);
  }
  return lua_tostring(L, -1);
}

/* Reads a line and pushes it ("=e" as "return e" on a first line); 0 at
** end of input. */
static int pushline(lua_State *L, int firstline) {
  char *line = readline(push_prompt(L, firstline));
  lua_pop(L, 1);  /* prompt */
  if (line == NULL)
    return 0;
  if (firstline && line[0] == '=')
    lua_pushfstring(L, "return %s", line + 1);
  else
    lua_pushstring(L, line);
  free(line);
  return 1;
}

/* Is the status a syntax error that more input could fix? Pops it if so. */
static int incomplete(lua_State *L, int status) {
  if (status != LUA_ERRSYNTAX)
    return 0;
  size_t len;
  const char *msg = lua_tolstring(L, -1, &len);
  size_t mlen = sizeof(EOFMARK) - 1;
  if (len < mlen || strcmp(msg + len - mlen, EOFMARK) != 0)
    return 0;
  lua_pop(L, 1);
  return 1;
}

/* Tries the line on top as "return <line>;", so that expressions print
** their values; leaves the chunk on success, nothing on failure. */
static int addreturn(lua_State *L) {
  const char *line = lua_tostring(L, -1);
  const char *retline = lua_pushfstring(L, "return %s;", line);
  int status = luaL_loadbuffer(L, retline, strlen(retline), "=stdin");
  if (status == LUA_OK) {
    lua_remove(L, -2);  /* modified line */
    dl_history_add(line);
  } else {
    lua_pop(L, 2);  /* error message and modified line */
  }
  return status;
}

/* Compiles the line at index 1 as a statement, reading continuation lines
** while the parser only complains about the end of input. */
static int multiline(lua_State *L) {
  for (;;) {
    size_t len;
    const char *chunk = lua_tolstring(L, 1, &len);
    int status = luaL_loadbuffer(L, chunk, len, "=stdin");
    if (!incomplete(L, status) || !pushline(L, 0)) {
      dl_history_add(chunk);
      return status;
    }
    lua_pushliteral(L, "\n");
    lua_insert(L, -2);
    lua_concat(L, 3);  /* chunk .. "\n" .. newline, at index 1 */
  }
}

/* Reads and compiles one chunk; leaves the function or the error message
** alone on the stack and returns the status, or -1 at end of input. */
static int loadline(lua_State *L) {
  lua_settop(L, 0);
  if (!pushline(L, 1))
    return -1;
  int status = addreturn(L);
  if (status != LUA_OK)
    status = multiline(L);
  lua_remove(L, 1);  /* the source line */
  return status;
}

/* Prints whatever is on the stack through the global `print`, so userdata
** show their __tostring. */
static void l_print(lua_State *L) {
  int n = lua_gettop(L);
  if (n == 0)
    return;
  luaL_checkstack(L, LUA_MINSTACK, "too many results to print");
  lua_pushglobaltable(L);
  lua_pushliteral(L, "print");
  lua_rawget(L, -2);
  lua_remove(L, -2);
  lua_insert(L, 1);
  if (docall(L, n, 0) != LUA_OK)
    l_message(progname, lua_pushfstring(L, "error calling 'print' (%s)",
                                        lua_tostring(L, -1)));
}

/* Sets up readline: name for ~/.inputrc, completion, history. */
static void repl_init(lua_State *L) {
  rl_readline_name = PROGNAME;
  dl_completion_init(L);
  dl_history_open();
}

/* The read-eval-print loop, until end of input. */
static void dorepl(lua_State *L) {
  const char *oldprogname = progname;
  progname = NULL;
  printf("%s %s (%s) \u2014 WDK DMA simulator; Ctrl-D to exit\n",
         PROGNAME, DMALAB_VERSION, LUA_RELEASE);
  fflush(stdout);
  repl_init(L);
  int status;
  while ((status = loadline(L)) != -1) {
    if (status == LUA_OK)
      status = docall(L, 0, LUA_MULTRET);
    if (status == LUA_OK)
      l_print(L);
    else
      report(L, status);
    fflush(stdout);  /* io.write output must show before the next prompt */
  }
  lua_settop(L, 0);
  dl_history_close();
  putchar('\n');
  fflush(stdout);
  progname = oldprogname;
}


/* ------------------------------------------------------------------------
** Main
** --------------------------------------------------------------------- */

/* Opens `dma` (global and package.loaded) and exports its WDK names to _G. */
static int open_dma(lua_State *L) {
  luaL_requiref(L, "dma", luaopen_dma, 1);
  lua_getfield(L, -1, "export");
  lua_remove(L, -2);
  return report(L, docall(L, 0, 0));
}

/* After a script: what the machines' adapters still hold is reported as
** Driver Verifier leaks (on stderr); a leak on a machine whose verifier
** raises fails the run, as the real verifier stops the system at unload. */
static int check_leaks(lua_State *L) {
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
  lua_getfield(L, -1, "dma");
  lua_getfield(L, -1, "check_leaks");
  lua_remove(L, -2);
  lua_remove(L, -2);
  if (report(L, docall(L, 0, 2)) != LUA_OK) return 0;
  int fatal = (int)lua_tointeger(L, -1);
  lua_pop(L, 2);
  return fatal == 0;
}

/* Subcommands: `dmalab NAME args...` runs require(module).main(NAME, args...),
** whose integer result is the exit status. */
static const struct subcommand { const char *name, *module; } subcommands[] = {
  {"sweep", "dma.lab"},  /* parameter sweeps (bindings/lab/lab.lua) */
  {"plot", "dma.lab"},   /* plots of sweep results */
  {NULL, NULL}
};

/* Runs argv[1] as a subcommand if it names one; *status gets the exit
** status. Returns 0 when argv[1] is not a subcommand. */
static int run_subcommand(lua_State *L, int argc, char **argv, int *status) {
  const struct subcommand *c = subcommands;
  while (c->name && (argc < 2 || strcmp(argv[1], c->name) != 0)) c++;
  if (!c->name) return 0;
  luaL_openlibs(L);
  *status = EXIT_FAILURE;
  if (open_dma(L) != LUA_OK) return 1;
  createargtable(L, argv, argc, 1);
  lua_gc(L, LUA_GCRESTART);
  lua_getglobal(L, "require");
  lua_pushstring(L, c->module);
  if (report(L, docall(L, 1, 1)) != LUA_OK) return 1;
  lua_getfield(L, -1, "main");
  luaL_checkstack(L, argc, "too many arguments");
  for (int i = 1; i < argc; i++) lua_pushstring(L, argv[i]);
  if (report(L, docall(L, argc - 1, 1)) != LUA_OK) return 1;
  *status = (int)luaL_optinteger(L, -1, 0);
  if (*status == 0 && !check_leaks(L)) *status = EXIT_FAILURE;
  return 1;
}

/* The whole program, run under a protected call so that every error
** (even out of memory) is reported; returns true on success. */
static int pmain(lua_State *L) {
  int argc = (int)lua_tointeger(L, 1);
  char **argv = (char **)lua_touserdata(L, 2);
  int script;
  int args = collectargs(argv, &script);
  int optlim = (script > 0) ? script : argc;
  luaL_checkversion(L);
  int sub_status;
  if (run_subcommand(L, argc, argv, &sub_status)) {
    lua_pushinteger(L, sub_status);
    return 1;
  }
  if (args == HAS_ERROR) {
    print_usage(stderr, argv[script]);
    return 0;
  }
  if (args & HAS_H) {
    print_usage(stdout, NULL);
    lua_pushboolean(L, 1);
    return 1;
  }
  if (args & HAS_NOENV) {  /* makes the package library ignore LUA_PATH... */
    lua_pushboolean(L, 1);
    lua_setfield(L, LUA_REGISTRYINDEX, "LUA_NOENV");
  }
  luaL_openlibs(L);
  if (open_dma(L) != LUA_OK)
    return 0;
  createargtable(L, argv, argc, script);
  lua_gc(L, LUA_GCRESTART);
  lua_gc(L, LUA_GCGEN, 0, 0);
  /* LUA_INIT is deliberately ignored: a scenario must behave the same on
  ** every machine, whatever the user's environment runs before it. */
  if ((args & HAS_V) && !(args & HAS_I))  /* the REPL has its own banner */
    print_version();
  if (!runargs(L, argv, optlim))
    return 0;
  if (script > 0 && (handle_script(L, argv + script) != LUA_OK || !check_leaks(L)))
    return 0;
  if (args & HAS_I) {
    dorepl(L);
  } else if (script == 0 && !(args & (HAS_E | HAS_V))) {
    if (isatty(STDIN_FILENO))
      dorepl(L);
    else if (dofile(L, NULL) != LUA_OK)
      return 0;
  }
  lua_pushboolean(L, 1);
  return 1;
}

/* Creates the state, runs pmain protected, and exits 0 on success. */
int main(int argc, char **argv) {
  lua_State *L = luaL_newstate();
  if (L == NULL) {
    l_message(PROGNAME, "cannot create state: not enough memory");
    return EXIT_FAILURE;
  }
  lua_gc(L, LUA_GCSTOP);  /* no collections while the state is being built */
  lua_pushcfunction(L, pmain);
  lua_pushinteger(L, argc);
  lua_pushlightuserdata(L, argv);
  int status = dl_docall(L, 2, 1);
  int ok = (status == LUA_OK) && lua_toboolean(L, -1);
  int code = ok ? EXIT_SUCCESS : EXIT_FAILURE;
  if (status == LUA_OK && lua_isinteger(L, -1)) code = (int)lua_tointeger(L, -1);  /* a subcommand's */
  report(L, status);
  lua_close(L);
  return code;
}
