/*
** suite.c: `dmalab test [options] [PATH...]`, the scenario suite runner.
**
** Each scenario file runs in its own process (fork) with a fresh Lua state
** and its own machines, so a crash, an error, a hang or a leak fails that
** scenario only. In the child, three limits hold: Lua instructions (a count
** hook), host memory (the Lua allocator) and simulated time (the hook reads
** the clocks of the scenario's machines); crossing one ends the scenario
** with a message naming it. The child's Lua side (repl/lua/scenario.lua)
** gives the scenario scenario{}/describe/it and checks its verifier
** reports and leaks at the end; it sends records (cases, failures, "end")
** to the runner on a pipe, and its output goes to a second pipe. The runner
** prints TAP on a pipe or a summary on a terminal, and writes JUnit XML.
*/
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <ftw.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lualib.h>

#include "../bindings/dma.h"
#include "../bindings/lcall.h"
#include "../bindings/ldl.h"
#include "modpath.h"
#include "suite.h"

#define HOOK_EVERY 1000        /* Lua instructions between two hook calls */
#define TIME_EVERY 16          /* hook calls between two clock checks */
#define OUTPUT_MAX (64 * 1024) /* output kept per scenario */

/* The per-scenario limits. */
typedef struct limits {
  long long instructions;
  unsigned long long memory;   /* bytes allocated by Lua */
  unsigned long long time_ns;  /* simulated time on any machine */
} limits;

/* The command line. */
typedef struct options {
  int jobs;
  int tap;                     /* TAP, else the terminal summary */
  int sandbox;
  int timeout_s;               /* wall-clock backstop per scenario */
  const char *junit;
  const char *pattern;
  limits lim;
} options;

/* A growing byte buffer. */
typedef struct sbuf {
  char *p;
  size_t len, cap;
} sbuf;

/* One scenario: its process while it runs, what it reported after. */
typedef struct scenario {
  char *path;
  pid_t pid;
  int rfd, ofd;                /* records, output */
  int state;                   /* 0 waiting, 1 running, 2 done */
  double started, seconds;
  int status, timed_out;
  sbuf records, output;
  int passed;
} scenario;


/* ------------------------------------------------------------------------
** Small helpers
** --------------------------------------------------------------------- */

static void sbuf_add(sbuf *b, const char *s, size_t n) {
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n + 1)
      cap *= 2;
    char *p = realloc(b->p, cap);
    if (p == NULL)
      return;
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}

static void sbuf_printf(sbuf *b, const char *fmt, ...) {
  char text[1024];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  if (n > 0)
    sbuf_add(b, text, (size_t)n < sizeof text ? (size_t)n : sizeof text - 1);
}

/* Seconds on a monotonic clock (the runner's own timing, not simulated). */
static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Parses "1500", "250ns", "5us", "2ms", "1s" into ns; 1 on success. */
static int parse_duration(const char *s, unsigned long long *out) {
  static const struct { const char *name; double ns; } units[] = {
    {"", 1}, {"ns", 1}, {"us", 1e3}, {"ms", 1e6}, {"s", 1e9},
  };
  char *end;
  double v = strtod(s, &end);
  if (end == s || v < 0)
    return 0;
  for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
    if (strcmp(end, units[i].name) == 0) {
      *out = (unsigned long long)(v * units[i].ns + 0.5);
      return 1;
    }
  return 0;
}


/* ------------------------------------------------------------------------
** The child: one scenario in a fresh state
** --------------------------------------------------------------------- */

static int child_fd = -1;            /* records go here */
static limits child_lim, child_cap;  /* the limits, and the runner's caps */
static int child_sandbox;
static unsigned long long child_mem; /* bytes Lua holds */
static long long child_count;        /* instructions run (by HOOK_EVERY) */
static lua_State *child_L;           /* kept reachable for leak checkers */

/* Writes s with '\\', '\t', '\n' escaped. */
static void put_escaped(sbuf *b, const char *s) {
  for (; *s; s++) {
    if (*s == '\\') sbuf_add(b, "\\\\", 2);
    else if (*s == '\t') sbuf_add(b, "\\t", 2);
    else if (*s == '\n') sbuf_add(b, "\\n", 2);
    else sbuf_add(b, s, 1);
  }
}

/* Sends one record: kind and fields, tab-separated, one line. */
static void send_record(const char *kind, const char *const *fields, int n) {
  sbuf b = {0};
  sbuf_add(&b, kind, strlen(kind));
  for (int i = 0; i < n; i++) {
    sbuf_add(&b, "\t", 1);
    put_escaped(&b, fields[i] ? fields[i] : "");
  }
  sbuf_add(&b, "\n", 1);
  for (size_t off = 0; b.p != NULL && off < b.len;) {
    ssize_t w = write(child_fd, b.p + off, b.len - off);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      break;
    off += (size_t)w;
  }
  free(b.p);
}

/* A limit was crossed: says which and ends the scenario's process at once,
** so no pcall in the scenario can swallow it. */
static void limit_exceeded(const char *fmt, unsigned long long value) {
  char text[200];
  snprintf(text, sizeof text, fmt, value);
  const char *fields[] = {text};
  send_record("fail", fields, 1);
  fflush(stdout);
  fflush(stderr);
  _exit(3);
}

/* The Lua allocator, counting what Lua holds against the memory limit. */
static void *limited_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  (void)ud;
  if (ptr == NULL)
    osize = 0;
  if (nsize == 0) {
    free(ptr);
    child_mem -= osize;
    return NULL;
  }
  if (nsize > osize && child_mem + (nsize - osize) > child_lim.memory)
    limit_exceeded("scenario exceeded the host memory limit of %llu bytes", child_lim.memory);
  void *p = realloc(ptr, nsize);
  if (p != NULL)
    child_mem = child_mem - osize + nsize;
  return p;
}

/* Ends the scenario if one of its machines' clocks passed the limit. */
static void check_time(lua_State *L) {
  if (!lua_checkstack(L, 4))
    return;
  ldl_pushmachines(L);
  for (lua_pushnil(L); lua_next(L, -2); lua_pop(L, 1)) {
    lmachine *lm = luaL_testudata(L, -2, LDL_MACHINE);
    if (lm && lm->m && dl_clock_now(dl_machine_clock(lm->m)) > child_lim.time_ns)
      limit_exceeded("scenario exceeded %llu ns of simulated time", child_lim.time_ns);
  }
  lua_pop(L, 1);
}

/* Count hook: the instruction limit, and now and then the time limit. */
static void count_hook(lua_State *L, lua_Debug *ar) {
  (void)ar;
  child_count += HOOK_EVERY;
  if (child_count > child_lim.instructions)
    limit_exceeded("scenario exceeded %llu instructions", (unsigned long long)child_lim.instructions);
  if ((child_count / HOOK_EVERY) % TIME_EVERY == 0)
    check_time(L);
}

/* emit(kind, ...): a record for the runner (from scenario.lua). */
static int l_emit(lua_State *L) {
  const char *kind = luaL_checkstring(L, 1);
  const char *fields[8];
  int n = lua_gettop(L) - 1;
  if (n > 8)
    n = 8;
  for (int i = 0; i < n; i++)
    fields[i] = luaL_tolstring(L, i + 2, NULL);
  send_record(kind, fields, n);
  return 0;
}

/* setlimits(instructions, memory, time): a scenario's own limits; under
** --sandbox they may only be lower than the runner's. */
static int l_setlimits(lua_State *L) {
  limits want = child_lim;
  if (!lua_isnoneornil(L, 1)) want.instructions = (long long)ldl_checkuint(L, 1);
  if (!lua_isnoneornil(L, 2)) want.memory = ldl_checksize(L, 2);
  if (!lua_isnoneornil(L, 3)) want.time_ns = ldl_checkduration(L, 3);
  if (child_sandbox && (want.instructions > child_cap.instructions ||
                        want.memory > child_cap.memory || want.time_ns > child_cap.time_ns))
    return luaL_error(L, "scenario: under --sandbox a scenario may only lower its limits");
  child_lim = want;
  return 0;
}

/* The child's protected body: state, modules, scenario, checks. */
static int child_main(lua_State *L) {
  const char *path = lua_touserdata(L, 1);
  luaL_openlibs(L);
  dl_modpath_init(L);
  luaL_requiref(L, "dma", luaopen_dma, 1);
  lua_getfield(L, -1, "export");
  lua_call(L, 0, 0);
  lua_pop(L, 1);
  lua_getglobal(L, "require");
  lua_pushliteral(L, "dma.scenario");
  lua_call(L, 1, 1);
  int S = lua_gettop(L);
  lua_getfield(L, S, "start");
  lua_pushcfunction(L, l_emit);
  lua_pushcfunction(L, l_setlimits);
  lua_pushstring(L, path);
  lua_pushboolean(L, child_sandbox);
  lua_call(L, 4, 0);
  lua_sethook(L, count_hook, LUA_MASKCOUNT, HOOK_EVERY);
  int status = luaL_loadfilex(L, path, child_sandbox ? "t" : NULL);
  if (status == LUA_OK)
    status = dl_docall(L, 0, 0);
  lua_getfield(L, S, "finish");
  lua_pushboolean(L, status == LUA_OK);
  if (status == LUA_OK)
    lua_pushnil(L);
  else
    lua_pushvalue(L, -3);
  lua_call(L, 2, 0);
  check_time(L);
  return 0;
}

/* Runs the scenario `path` in this (forked) process; never returns. */
static void run_child(const char *path, const options *o, int rfd, int ofd) {
  child_fd = rfd;
  dup2(ofd, STDOUT_FILENO);
  dup2(ofd, STDERR_FILENO);
  close(ofd);
  int devnull = open("/dev/null", O_RDONLY);
  if (devnull >= 0) {
    dup2(devnull, STDIN_FILENO);
    close(devnull);
  }
  signal(SIGPIPE, SIG_DFL);
  child_lim = child_cap = o->lim;
  child_sandbox = o->sandbox;
  lua_State *L = child_L = lua_newstate(limited_alloc, NULL);
  if (L == NULL)
    limit_exceeded("cannot create a Lua state within %llu bytes", o->lim.memory);
  lua_gc(L, LUA_GCGEN, 0, 0);
  lua_pushcfunction(L, child_main);
  lua_pushlightuserdata(L, (void *)path);
  if (dl_docall(L, 1, 0) != LUA_OK) {
    const char *fields[] = {lua_tostring(L, -1)};
    send_record("fail", fields, 1);
  }
  send_record("end", NULL, 0);
  lua_close(L);
  child_L = NULL;
  fflush(stdout);
  exit(0);
}


/* ------------------------------------------------------------------------
** The runner: finding, starting and collecting scenarios
** --------------------------------------------------------------------- */

static scenario *list = NULL;
static size_t nlist = 0, caplist = 0;
static const char *walk_pattern;

static void add_scenario(const char *path) {
  if (nlist == caplist) {
    caplist = caplist ? caplist * 2 : 16;
    list = realloc(list, caplist * sizeof *list);
  }
  memset(&list[nlist], 0, sizeof *list);
  list[nlist].path = strdup(path);
  list[nlist].rfd = list[nlist].ofd = -1;
  nlist++;
}

/* nftw callback: a regular file whose name matches the pattern. */
static int on_file(const char *path, const struct stat *st, int type, struct FTW *ftw) {
  (void)st;
  if (type == FTW_F && fnmatch(walk_pattern, path + ftw->base, 0) == 0)
    add_scenario(path);
  return 0;
}

static int by_path(const void *a, const void *b) {
  return strcmp(((const scenario *)a)->path, ((const scenario *)b)->path);
}

/* Adds the scenarios under `arg` (a file, or a directory searched for the
** pattern); 0 if it does not exist. */
static int collect(const char *arg, const char *pattern) {
  struct stat st;
  if (stat(arg, &st) != 0)
    return 0;
  if (!S_ISDIR(st.st_mode)) {
    add_scenario(arg);
    return 1;
  }
  size_t first = nlist;
  walk_pattern = pattern;
  nftw(arg, on_file, 16, FTW_PHYS);
  qsort(list + first, nlist - first, sizeof *list, by_path);
  return 1;
}

/* Forks the child of scenario s. */
static void start(scenario *s, const options *o) {
  int r[2], out[2];
  if (pipe(r) != 0 || pipe(out) != 0) {
    perror("dmalab test: pipe");
    exit(2);
  }
  fflush(stdout);
  fflush(stderr);
  s->started = now_s();
  s->pid = fork();
  if (s->pid == 0) {
    close(r[0]);
    close(out[0]);
    for (size_t i = 0; i < nlist; i++) {  /* other scenarios' pipes */
      if (list[i].rfd >= 0) close(list[i].rfd);
      if (list[i].ofd >= 0) close(list[i].ofd);
    }
    run_child(s->path, o, r[1], out[1]);
  }
  close(r[1]);
  close(out[1]);
  s->rfd = r[0];
  s->ofd = out[0];
  s->state = 1;
  if (s->pid < 0) {
    perror("dmalab test: fork");
    exit(2);
  }
}

/* Reads what is there on *fd into b (output beyond OUTPUT_MAX is read and
** dropped); closes *fd at end of file. */
static void drain(int *fd, sbuf *b, size_t max) {
  char buf[4096];
  ssize_t n = read(*fd, buf, sizeof buf);
  if (n > 0) {
    if (b->len < max)
      sbuf_add(b, buf, (size_t)n < max - b->len ? (size_t)n : max - b->len);
  } else if (n == 0 || errno != EINTR) {
    close(*fd);
    *fd = -1;
  }
}

/* Waits for output of the running scenarios, up to 100 ms; reaps those
** whose pipes closed, kills those past the wall-clock timeout. */
static void pump(const options *o) {
  struct pollfd p[512];
  scenario *owner[512];
  int n = 0;
  for (size_t i = 0; i < nlist && n < 510; i++) {
    scenario *s = &list[i];
    if (s->state != 1) continue;
    if (s->rfd >= 0) { p[n] = (struct pollfd){.fd = s->rfd, .events = POLLIN}; owner[n++] = s; }
    if (s->ofd >= 0) { p[n] = (struct pollfd){.fd = s->ofd, .events = POLLIN}; owner[n++] = s; }
  }
  if (n > 0 && poll(p, (nfds_t)n, 100) > 0) {
    for (int i = 0; i < n; i++) {
      if (!p[i].revents) continue;
      scenario *s = owner[i];
      if (p[i].fd == s->rfd) drain(&s->rfd, &s->records, (size_t)-1);
      else drain(&s->ofd, &s->output, OUTPUT_MAX);
    }
  }
  for (size_t i = 0; i < nlist; i++) {
    scenario *s = &list[i];
    if (s->state != 1) continue;
    if (s->rfd < 0 && s->ofd < 0) {
      waitpid(s->pid, &s->status, 0);
      s->seconds = now_s() - s->started;
      s->state = 2;
    } else if (now_s() - s->started > o->timeout_s && !s->timed_out) {
      kill(s->pid, SIGKILL);
      s->timed_out = 1;
    }
  }
}


/* ------------------------------------------------------------------------
** Results
** --------------------------------------------------------------------- */

/* One record read back: kind and up to 3 fields (unescaped in place). */
typedef struct record {
  char *kind, *f[3];
} record;

static void unescape(char *s) {
  char *o = s;
  for (; *s; s++) {
    if (*s == '\\' && s[1]) {
      s++;
      *o++ = (*s == 'n') ? '\n' : (*s == 't') ? '\t' : *s;
    } else {
      *o++ = *s;
    }
  }
  *o = '\0';
}

/* Splits the records in text (in place); returns how many. */
static int parse_records(char *text, record *out, int max) {
  int n = 0;
  char *line = text;
  while (line != NULL && *line && n < max) {
    char *next = strchr(line, '\n');
    if (next) *next++ = '\0';
    record *r = &out[n++];
    memset(r, 0, sizeof *r);
    r->kind = line;
    char *field = strchr(line, '\t');
    for (int i = 0; field && i < 3; i++) {
      *field++ = '\0';
      r->f[i] = field;
      field = strchr(field, '\t');
      if (field && i == 2) *field = '\0';
    }
    for (int i = 0; i < 3; i++)
      if (r->f[i]) unescape(r->f[i]);
    line = next;
  }
  return n;
}

/* A scenario's outcome, built from its records and exit status. */
typedef struct outcome {
  record rec[1024];
  int n;
  int cases, failed_cases;
  char *copy;                  /* the records, split */
  sbuf why;                    /* the scenario-level failures */
} outcome;

static void judge(scenario *s, outcome *oc) {
  memset(&oc->why, 0, sizeof oc->why);
  oc->copy = strdup(s->records.p ? s->records.p : "");
  oc->n = parse_records(oc->copy, oc->rec, 1024);
  oc->cases = oc->failed_cases = 0;
  int ended = 0;
  for (int i = 0; i < oc->n; i++) {
    record *r = &oc->rec[i];
    if (strcmp(r->kind, "case") == 0) {
      oc->cases++;
      oc->failed_cases += r->f[0] == NULL || strcmp(r->f[0], "1") != 0;
    } else if (strcmp(r->kind, "fail") == 0) {
      sbuf_printf(&oc->why, "%s%s", oc->why.len ? "\n" : "", r->f[0] ? r->f[0] : "");
    } else if (strcmp(r->kind, "end") == 0) {
      ended = 1;
    }
  }
  if (s->timed_out)
    sbuf_printf(&oc->why, "%sscenario ran longer than the wall-clock --timeout and was killed",
                oc->why.len ? "\n" : "");
  else if (WIFSIGNALED(s->status))
    sbuf_printf(&oc->why, "%sscenario crashed: %s (signal %d)", oc->why.len ? "\n" : "",
                strsignal(WTERMSIG(s->status)), WTERMSIG(s->status));
  else if (!ended && !(WIFEXITED(s->status) && WEXITSTATUS(s->status) == 3))
    sbuf_printf(&oc->why, "%sscenario ended its process (exit status %d) before it finished",
                oc->why.len ? "\n" : "", WIFEXITED(s->status) ? WEXITSTATUS(s->status) : -1);
  s->passed = oc->why.len == 0 && oc->failed_cases == 0;
}

/* Prints `text` with each line prefixed by `prefix`. */
static void print_lines(FILE *f, const char *prefix, const char *text, int max) {
  int n = 0;
  while (text && *text && n < max) {
    const char *nl = strchr(text, '\n');
    int len = nl ? (int)(nl - text) : (int)strlen(text);
    fprintf(f, "%s%.*s\n", prefix, len, text);
    n++;
    text = nl ? nl + 1 : NULL;
  }
}

/* The TAP line (and diagnostics) or summary lines of scenario number i. */
static void report(size_t i, int tap, int *failed) {
  scenario *s = &list[i];
  outcome *oc = malloc(sizeof *oc);
  judge(s, oc);
  *failed += !s->passed;
  if (tap) {
    printf("%s %zu - %s\n", s->passed ? "ok" : "not ok", i + 1, s->path);
  } else {
    printf("%-5s %s", s->passed ? "PASS" : "FAIL", s->path);
    if (oc->cases) printf("  (%d case%s%s)", oc->cases, oc->cases == 1 ? "" : "s",
                          oc->failed_cases ? ", some failed" : "");
    printf("  %.2f s\n", s->seconds);
  }
  const char *pre = tap ? "# " : "      ";
  const char *pre2 = tap ? "#   " : "        ";
  for (int k = 0; k < oc->n; k++) {
    record *r = &oc->rec[k];
    if (strcmp(r->kind, "case") == 0 && r->f[0] && strcmp(r->f[0], "1") != 0) {
      printf("%scase failed: %s\n", pre, r->f[1] ? r->f[1] : "");
      print_lines(stdout, pre2, r->f[2], 12);
    }
  }
  print_lines(stdout, pre, oc->why.p, 40);
  if (!s->passed && s->output.len) {
    printf("%soutput:\n", pre);
    print_lines(stdout, pre2, s->output.p, 20);
  }
  free(oc->why.p);
  free(oc->copy);
  free(oc);
  fflush(stdout);
}


/* ------------------------------------------------------------------------
** JUnit XML
** --------------------------------------------------------------------- */

/* Writes s escaped for XML: markup characters as entities, control
** characters XML forbids and bytes that are not UTF-8 as '?'. */
static void xml_text(FILE *f, const char *s) {
  const unsigned char *p = (const unsigned char *)(s ? s : "");
  while (*p) {
    unsigned char c = *p;
    int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    int ok = len > 0;
    for (int k = 1; ok && k < len; k++)
      ok = (p[k] >> 6) == 2;
    if (!ok) { fputc('?', f); p++; continue; }
    if (len > 1) { fwrite(p, 1, (size_t)len, f); p += len; continue; }
    if (c == '&') fputs("&amp;", f);
    else if (c == '<') fputs("&lt;", f);
    else if (c == '>') fputs("&gt;", f);
    else if (c == '"') fputs("&quot;", f);
    else if (c < 0x20 && c != '\n' && c != '\t' && c != '\r') fputc('?', f);
    else fputc(c, f);
    p++;
  }
}

/* The JUnit class name of a path: without ".lua", '/' as '.'. */
static void xml_classname(FILE *f, const char *path) {
  size_t len = strlen(path);
  if (len > 4 && strcmp(path + len - 4, ".lua") == 0) len -= 4;
  while (len > 0 && path[0] == '.' && path[1] == '/') { path += 2; len -= 2; }
  for (size_t i = 0; i < len; i++) {
    char c[2] = {path[i] == '/' ? '.' : path[i], '\0'};
    xml_text(f, c);
  }
}

/* Writes a <testcase>, failed when `failure` is not NULL. */
static void xml_case(FILE *f, const char *path, const char *name, const char *failure, double t) {
  fputs("    <testcase classname=\"", f);
  xml_classname(f, path);
  fputs("\" name=\"", f);
  xml_text(f, name);
  fprintf(f, "\" time=\"%.3f\"", t);
  if (failure == NULL) {
    fputs("/>\n", f);
    return;
  }
  fputs(">\n      <failure message=\"", f);
  const char *nl = strchr(failure, '\n');
  char first[300];
  snprintf(first, sizeof first, "%.*s", nl ? (int)(nl - failure) : (int)strlen(failure), failure);
  xml_text(f, first);
  fputs("\" type=\"failure\">", f);
  xml_text(f, failure);
  fputs("</failure>\n    </testcase>\n", f);
}

/* Writes the JUnit report of every scenario to `file`; 0 on failure. */
static int write_junit(const char *file, double total) {
  FILE *f = fopen(file, "w");
  if (f == NULL) {
    fprintf(stderr, "dmalab test: cannot write %s: %s\n", file, strerror(errno));
    return 0;
  }
  outcome *oc = malloc(sizeof *oc);
  int tests = 0, failures = 0;
  fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", f);
  /* totals first: count in a first pass */
  for (size_t i = 0; i < nlist; i++) {
    scenario *s = &list[i];
    judge(s, oc);
    int cases = oc->cases + (oc->cases == 0 || oc->why.len > 0);
    tests += cases;
    failures += oc->failed_cases + (oc->why.len > 0 || (oc->cases == 0 && !s->passed));
    free(oc->why.p);
    free(oc->copy);
  }
  fprintf(f, "<testsuites name=\"dmalab test\" tests=\"%d\" failures=\"%d\" errors=\"0\" time=\"%.3f\">\n",
          tests, failures, total);
  for (size_t i = 0; i < nlist; i++) {
    scenario *s = &list[i];
    judge(s, oc);
    int cases = oc->cases + (oc->cases == 0 || oc->why.len > 0);
    int fails = oc->failed_cases + (oc->why.len > 0);
    fputs("  <testsuite name=\"", f);
    xml_text(f, s->path);
    fprintf(f, "\" tests=\"%d\" failures=\"%d\" errors=\"0\" skipped=\"0\" time=\"%.3f\">\n",
            cases, fails, s->seconds);
    for (int k = 0; k < oc->n; k++) {
      record *r = &oc->rec[k];
      if (strcmp(r->kind, "case") != 0) continue;
      int ok = r->f[0] && strcmp(r->f[0], "1") == 0;
      xml_case(f, s->path, r->f[1] ? r->f[1] : "", ok ? NULL : (r->f[2] ? r->f[2] : ""), 0);
    }
    if (oc->cases == 0 || oc->why.len > 0) {
      const char *base = strrchr(s->path, '/');
      xml_case(f, s->path, oc->cases ? "(scenario)" : (base ? base + 1 : s->path),
               oc->why.len ? oc->why.p : NULL, s->seconds);
    }
    if (s->output.len) {
      fputs("    <system-out>", f);
      xml_text(f, s->output.p);
      fputs("</system-out>\n", f);
    }
    fputs("  </testsuite>\n", f);
    free(oc->why.p);
    free(oc->copy);
  }
  fputs("</testsuites>\n", f);
  free(oc);
  return fclose(f) == 0;
}


/* ------------------------------------------------------------------------
** Command line
** --------------------------------------------------------------------- */

static void usage(FILE *f) {
  fprintf(f,
    "usage: dmalab test [options] [PATH...]\n"
    "Runs scenario files, each in its own process, Lua state and machines.\n"
    "A directory PATH is searched for files matching the pattern (default\n"
    "*_scenario.lua); no PATH means the current directory.\n"
    "  -j, --jobs N             run N scenarios at a time (default 1)\n"
    "      --junit FILE         also write a JUnit XML report to FILE\n"
    "      --tap, --summary     output format (default: TAP on a pipe,\n"
    "                           a summary on a terminal)\n"
    "      --pattern GLOB       file names searched for in directories\n"
    "      --sandbox            no io, os.execute, debug or file loading; require\n"
    "                           only dma modules and the scenario's directory\n"
    "      --max-instructions N Lua instructions per scenario (default 100000000)\n"
    "      --max-memory SIZE    Lua memory per scenario (default 256M)\n"
    "      --max-time DURATION  simulated time per machine (default 60s)\n"
    "      --timeout SECONDS    wall-clock backstop per scenario (default 300)\n"
    "  -h, --help               show this help\n"
    "A scenario may declare scenario{ expect_leaks =, expect_reports =,\n"
    "max_instructions =, max_memory =, max_time = } and group cases with\n"
    "describe(name, fn) and it(name, fn). Exit status: 0 when all pass.\n");
}

/* Parses the options into o; returns the index of the first PATH, or -1. */
static int parse_options(int argc, char **argv, options *o) {
  static const struct option longopts[] = {
    {"jobs", required_argument, NULL, 'j'},
    {"junit", required_argument, NULL, 'J'},
    {"tap", no_argument, NULL, 'T'},
    {"summary", no_argument, NULL, 'S'},
    {"pattern", required_argument, NULL, 'p'},
    {"sandbox", no_argument, NULL, 'x'},
    {"max-instructions", required_argument, NULL, 'I'},
    {"max-memory", required_argument, NULL, 'M'},
    {"max-time", required_argument, NULL, 'D'},
    {"timeout", required_argument, NULL, 'W'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
  };
  optind = 1;
  opterr = 0;
  int c;
  uint64_t size;
  while ((c = getopt_long(argc, argv, "j:h", longopts, NULL)) != -1) {
    switch (c) {
      case 'j': o->jobs = atoi(optarg); if (o->jobs < 1 || o->jobs > 64) goto bad; break;
      case 'J': o->junit = optarg; break;
      case 'T': o->tap = 1; break;
      case 'S': o->tap = 0; break;
      case 'p': o->pattern = optarg; break;
      case 'x': o->sandbox = 1; break;
      case 'I': o->lim.instructions = atoll(optarg); if (o->lim.instructions <= 0) goto bad; break;
      case 'M': if (!ldl_parsesize(optarg, &size) || size < (1 << 20)) goto bad;
                o->lim.memory = size; break;
      case 'D': if (!parse_duration(optarg, &o->lim.time_ns)) goto bad; break;
      case 'W': o->timeout_s = atoi(optarg); if (o->timeout_s < 1) goto bad; break;
      case 'h': usage(stdout); exit(0);
      default: goto bad;
    }
  }
  return optind;
bad:
  fprintf(stderr, "dmalab test: bad option '%s'\n", argv[optind - 1 > 0 ? optind - 1 : 1]);
  usage(stderr);
  return -1;
}

int dl_suite_main(int argc, char **argv) {
  options o = {.jobs = 1, .tap = !isatty(STDOUT_FILENO), .timeout_s = 300,
               .pattern = "*_scenario.lua",
               .lim = {100000000LL, 256ULL << 20, 60ULL * 1000000000ULL}};
  int first = parse_options(argc, argv, &o);
  if (first < 0)
    return 2;
  if (first == argc && !collect(".", o.pattern))
    return 2;
  for (int i = first; i < argc; i++)
    if (!collect(argv[i], o.pattern)) {
      fprintf(stderr, "dmalab test: no such file or directory: %s\n", argv[i]);
      return 2;
    }
  signal(SIGPIPE, SIG_IGN);
  double t0 = now_s();
  if (o.tap)
    printf("TAP version 13\n1..%zu\n", nlist);
  fflush(stdout);
  size_t next = 0, reported = 0;
  int running = 0, failed = 0;
  while (reported < nlist) {
    while (next < nlist && running < o.jobs) {
      start(&list[next++], &o);
      running++;
    }
    pump(&o);
    running = 0;
    for (size_t i = 0; i < nlist; i++)
      running += list[i].state == 1;
    while (reported < nlist && list[reported].state == 2)
      report(reported++, o.tap, &failed);
  }
  double total = now_s() - t0;
  if (!o.tap)
    printf("%zu scenario%s: %zu passed, %d failed (%.2f s)\n", nlist, nlist == 1 ? "" : "s",
           nlist - (size_t)failed, failed, total);
  int junit_ok = o.junit == NULL || write_junit(o.junit, total);
  for (size_t i = 0; i < nlist; i++) {
    free(list[i].path);
    free(list[i].records.p);
    free(list[i].output.p);
  }
  free(list);
  list = NULL;
  nlist = caplist = 0;
  return (failed == 0 && junit_ok) ? 0 : 1;
}
