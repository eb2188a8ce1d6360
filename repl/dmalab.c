/*
** dmalab.c: the dmalab executable, a Lua 5.4 REPL and batch runner with the
** `dma` module preloaded and its WDK names exported as globals.
**
** The structure follows Lua 5.4's own lua.c (pmain under a protected call,
** docall, loadline/addreturn/multiline, `=expr`), so the command line behaves
** like `lua`'s. On top of that: readline editing, a history file that keeps
** multi-line chunks whole (history.c), tab completion of globals and of
** table/userdata fields (complete.c), Ctrl-C at the prompt clearing the
** line, values shown through dma.pretty, help() from dma.help, the IRQL
** put back to PASSIVE_LEVEL after an error, leaks reported at exit, and
** subcommands (`dmalab test`: suite.c).
*/
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <unistd.h>

#include <readline/readline.h>

#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

#include "../bindings/dma.h"
#include "../bindings/lcall.h"
#include "../bindings/ldl.h"
#include "machine/dl_clock.h"
#include "machine/dl_context.h"
#include "complete.h"
#include "history.h"
#include "modpath.h"
#include "suite.h"

#ifndef DMALAB_VERSION
#define DMALAB_VERSION "0.1.0"
#endif

#define PROGNAME "dmalab"
#define PROMPT1 "> "
#define PROMPT2 ">> "
#define EOFMARK "<eof>"      /* how the parser says "chunk not finished" */
#define NOTHING (-2)         /* loadline: Ctrl-C dropped the line */

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
    "else runs stdin as a script.\n"
    "Subcommands: %s test [options] [PATH...]  run scenario suites (test --help)\n",
    PROGNAME, PROGNAME);
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

/* Hook set by the SIGINT handler: raises the error at the next Lua step,
** unless the clock's run already stopped for this Ctrl-C (its error is on
** its way: the hook then fires in the message handler). */
static void lstop(lua_State *L, lua_Debug *ar) {
  (void)ar;
  lua_sethook(L, NULL, 0, 0);
  if (dl_clock_interrupt_take()) luaL_error(L, "interrupted!");
}

/* SIGINT handler: Lua cannot be unwound from a signal handler, but setting
** a hook is async-signal-safe, so the hook raises the error instead. The
** default action comes back so a second Ctrl-C kills a process stuck in C.
** A run of events that call no Lua is stopped by the clock instead. */
static void on_sigint(int sig) {
  setsignal(sig, SIG_DFL);
  dl_clock_interrupt();
  lua_sethook(globalL, lstop,
              LUA_MASKCALL | LUA_MASKRET | LUA_MASKLINE | LUA_MASKCOUNT, 1);
}

/* dl_docall with Ctrl-C armed for the duration of the call. */
static int docall(lua_State *L, int narg, int nres) {
  globalL = L;
  setsignal(SIGINT, on_sigint);
  int status = dl_docall(L, narg, nres);
  setsignal(SIGINT, SIG_DFL);
  dl_clock_interrupt_take();  /* a Ctrl-C that came as the call ended */
  if (lua_gethook(L) == lstop) lua_sethook(L, NULL, 0, 0);
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

/* The line readline's callback interface handed over, and whether it did. */
static char *got_line;
static int line_done;
static volatile sig_atomic_t prompt_interrupted;

/* readline's line handler: keeps the line (NULL at end of input). */
static void on_line(char *line) {
  got_line = line;
  line_done = 1;
  rl_callback_handler_remove();
}

/* SIGINT while at the prompt: noted, acted on by read_line. */
static void on_prompt_sigint(int sig) {
  (void)sig;
  prompt_interrupted = 1;
}

/* Reads a line with readline's callback interface, so that Ctrl-C at the
** prompt drops the line being typed instead of ending the session (SIGINT
** is only let through inside pselect, so none is missed). Returns 1 with
** *out malloc'ed, 0 at end of input, -1 when interrupted. */
static int read_line(const char *prompt, char **out) {
  FILE *in = rl_instream ? rl_instream : stdin;
  sigset_t block, orig;
  sigemptyset(&block);
  sigaddset(&block, SIGINT);
  sigprocmask(SIG_BLOCK, &block, &orig);
  got_line = NULL;
  line_done = 0;
  prompt_interrupted = 0;
  setsignal(SIGINT, on_prompt_sigint);
  rl_callback_handler_install(prompt, on_line);
  while (!line_done && !prompt_interrupted) {
    fd_set fds;
    FD_ZERO(&fds);
    FD_SET(fileno(in), &fds);
    int r = pselect(fileno(in) + 1, &fds, NULL, NULL, NULL, &orig);
    if (r > 0 && !prompt_interrupted)
      rl_callback_read_char();
    else if (r < 0 && errno != EINTR)
      break;
  }
  if (prompt_interrupted && !line_done) {
    rl_free_line_state();
    rl_callback_sigcleanup();
    rl_callback_handler_remove();
    fputs("^C\n", rl_outstream ? rl_outstream : stdout);
  } else if (!line_done) {
    rl_callback_handler_remove();
  }
  setsignal(SIGINT, SIG_DFL);
  sigprocmask(SIG_SETMASK, &orig, NULL);
  *out = got_line;
  if (!line_done)
    return (prompt_interrupted) ? -1 : 0;
  return got_line != NULL;
}

/* The expression of the last "return <expr>" chunk, for dma.pretty's hints. */
static char last_expr[256];

/* Reads a line and pushes it ("=e" as "return e" on a first line); 0 at
** end of input, -1 when Ctrl-C dropped it. */
static int pushline(lua_State *L, int firstline) {
  char *line;
  int got = read_line(push_prompt(L, firstline), &line);
  lua_pop(L, 1);  /* prompt */
  if (got <= 0)
    return got;
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
    snprintf(last_expr, sizeof last_expr, "%s", line[0] == 'r' && strncmp(line, "return ", 7) == 0
                                                 ? line + 7 : line);
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
  last_expr[0] = '\0';
  for (;;) {
    size_t len;
    const char *chunk = lua_tolstring(L, 1, &len);
    int status = luaL_loadbuffer(L, chunk, len, "=stdin");
    if (!incomplete(L, status)) {
      if (status == LUA_OK && strncmp(chunk, "return ", 7) == 0)  /* "= e" */
        snprintf(last_expr, sizeof last_expr, "%s", chunk + 7);
      dl_history_add(chunk);
      return status;
    }
    int more = pushline(L, 0);
    if (more < 0)
      return NOTHING;  /* Ctrl-C: the unfinished chunk is dropped */
    if (more == 0) {
      dl_history_add(chunk);
      return status;
    }
    lua_pushliteral(L, "\n");
    lua_insert(L, -2);
    lua_concat(L, 3);  /* chunk .. "\n" .. newline, at index 1 */
  }
}

/* Reads and compiles one chunk; leaves the function or the error message
** alone on the stack and returns the status, -1 at end of input, or
** NOTHING when Ctrl-C dropped the line. */
static int loadline(lua_State *L) {
  lua_settop(L, 0);
  int got = pushline(L, 1);
  if (got <= 0)
    return got < 0 ? NOTHING : -1;
  int status = addreturn(L);
  if (status != LUA_OK)
    status = multiline(L);
  lua_remove(L, 1);  /* the source line */
  return status;
}

/* Prints whatever is on the stack through dma.pretty's show(hint, ...)
** (tables nested, statuses named, addresses in hex; the hint is the
** expression typed), or the global `print` without it. */
static void l_print(lua_State *L) {
  int n = lua_gettop(L);
  if (n == 0)
    return;
  luaL_checkstack(L, LUA_MINSTACK, "too many results to print");
  if (lua_getfield(L, LUA_REGISTRYINDEX, "dmalab.show") == LUA_TFUNCTION) {
    lua_insert(L, 1);
    lua_pushstring(L, last_expr);
    lua_insert(L, 2);
    n++;
  } else {
    lua_pop(L, 1);
    lua_pushglobaltable(L);
    lua_pushliteral(L, "print");
    lua_rawget(L, -2);
    lua_remove(L, -2);
    lua_insert(L, 1);
  }
  if (docall(L, n, 0) != LUA_OK)
    l_message(progname, lua_pushfstring(L, "error calling 'print' (%s)",
                                        lua_tostring(L, -1)));
}

/* Sets up readline: name for ~/.inputrc, completion, history, and our own
** SIGINT handling; and dma.pretty for showing values. */
static void repl_init(lua_State *L) {
  rl_readline_name = PROGNAME;
  rl_catch_signals = 0;  /* read_line handles Ctrl-C */
  dl_completion_init(L);
  dl_history_open();
  static const char find_show[] =
    "local ok, pretty = pcall(require, 'dma.pretty')\n"
    "if ok then debug.getregistry()['dmalab.show'] = pretty.show end\n";
  if (luaL_loadbuffer(L, find_show, sizeof find_show - 1, "=repl") == LUA_OK)
    report(L, docall(L, 0, 0));
  else
    lua_pop(L, 1);
}

/* After an error: a machine left above PASSIVE_LEVEL (an error raised in a
** DPC or with the IRQL raised) would make the next call fail, so the
** current machine's IRQL goes back to PASSIVE_LEVEL, and the REPL says so. */
static void reset_irql(lua_State *L) {
  ldl_pushcurrentvalue(L);
  lmachine *lm = luaL_testudata(L, -1, LDL_MACHINE);
  lua_pop(L, 1);
  if (lm == NULL || lm->m == NULL || lm->depth > 0 || dl_machine_irql(lm->m) == DL_PASSIVE_LEVEL)
    return;
  uint8_t irql = dl_machine_irql(lm->m);
  size_t n;
  const dl_wdk_value *levels = dl_irql_table(&n);
  const char *name = "?";
  for (size_t i = 0; i < n; i++)
    if (levels[i].value == irql)
      name = levels[i].name;
  dl_machine_set_irql(lm->m, DL_PASSIVE_LEVEL);
  fprintf(stderr, "(the IRQL was %s (%d) after the error: back to PASSIVE_LEVEL)\n", name, irql);
  fflush(stderr);
}

static int check_leaks(lua_State *L);

/* The read-eval-print loop, until end of input; then the leak check of a
** batch run. Returns 0 if that found leaks that fail a run. */
static int dorepl(lua_State *L) {
  const char *oldprogname = progname;
  progname = NULL;
  printf("%s %s (%s) \u2014 WDK DMA simulator; Ctrl-D to exit\n",
         PROGNAME, DMALAB_VERSION, LUA_RELEASE);
  fflush(stdout);
  repl_init(L);
  int status;
  while ((status = loadline(L)) != -1) {
    if (status == NOTHING)
      continue;
    if (status == LUA_OK)
      status = docall(L, 0, LUA_MULTRET);
    if (status == LUA_OK) {
      l_print(L);
    } else {
      report(L, status);
      reset_irql(L);
    }
    fflush(stdout);  /* io.write output must show before the next prompt */
  }
  lua_settop(L, 0);
  dl_history_close();
  putchar('\n');
  fflush(stdout);
  progname = oldprogname;
  return check_leaks(L);
}


/* ------------------------------------------------------------------------
** Main
** --------------------------------------------------------------------- */

/* help([name or value]): dma.help's, loaded on first use. */
static int l_help(lua_State *L) {
  int n = lua_gettop(L);
  lua_getglobal(L, "require");
  lua_pushliteral(L, "dma.help");
  lua_call(L, 1, 1);
  lua_getfield(L, -1, "help");
  lua_insert(L, 1);
  lua_pop(L, 1);
  lua_call(L, n, LUA_MULTRET);
  return lua_gettop(L);
}

/* Opens `dma` (global and package.loaded), exports its WDK names to _G and
** defines help(). */
static int open_dma(lua_State *L) {
  luaL_requiref(L, "dma", luaopen_dma, 1);
  lua_getfield(L, -1, "export");
  lua_remove(L, -2);
  lua_pushcfunction(L, l_help);
  lua_setglobal(L, "help");
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

/* Subcommands: `dmalab NAME args...`. A C one runs its main with argv[0] =
** NAME before any Lua state exists and exits with what it returns; a Lua one
** runs require(module).main(NAME, args...) in the state pmain builds, its
** integer result the exit status. A script named like one runs as ./NAME. */
static const struct subcommand {
  const char *name;
  int (*main)(int argc, char **argv);
  const char *module;
} subcommands[] = {
  {"test", dl_suite_main, NULL},  /* scenario suites: repl/suite.c */
  {"sweep", NULL, "dma.lab"},     /* parameter sweeps: bindings/lab/lab.lua */
  {"plot", NULL, "dma.lab"},      /* plots of sweep results */
  {NULL, NULL, NULL},
};

/* Runs argv[1] as a subcommand if it names one; *status gets the exit
** status. Returns 0 when argv[1] is not a subcommand. */
static int run_subcommand(lua_State *L, int argc, char **argv, int *status) {
  const struct subcommand *c = subcommands;
  while (c->name && (!c->module || argc < 2 || strcmp(argv[1], c->name) != 0)) c++;
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
  dl_modpath_init(L);
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
    if (!dorepl(L))
      return 0;
  } else if (script == 0 && !(args & (HAS_E | HAS_V))) {
    if (isatty(STDIN_FILENO)) {
      if (!dorepl(L))
        return 0;
    } else if (dofile(L, NULL) != LUA_OK)
      return 0;
  }
  lua_pushboolean(L, 1);
  return 1;
}

/* Creates the state, runs pmain protected, and exits 0 on success. */
int main(int argc, char **argv) {
  for (const struct subcommand *c = subcommands; argc > 1 && c->name; c++)
    if (c->main && strcmp(argv[1], c->name) == 0)
      return c->main(argc - 1, argv + 1);
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
