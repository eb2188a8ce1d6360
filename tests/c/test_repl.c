/*
** test_repl.c: drives the dmalab binary ($DMALAB, default bin/dmalab)
** through a pseudo-terminal (REPL) and through pipes (batch mode).
** Every wait is bounded (poll with a 5 s deadline) and every child is
** killed and reaped, so a broken binary fails the tests but never hangs them.
*/
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TIMEOUT_MS 5000
#define OUTMAX (256 * 1024)

/* A REPL running on a pty, with everything it printed so far. */
struct session {
  pid_t pid;
  int fd;             /* pty master */
  char hist[64];      /* its DMALAB_HISTORY file */
  char out[OUTMAX];   /* output with '\r' dropped, NUL-terminated */
  size_t len;
  size_t seen;        /* expect() has consumed out[0..seen) */
};

/* The binary under test. */
static const char *dmalab(void) {
  const char *p = getenv("DMALAB");
  return (p != NULL && p[0] != '\0') ? p : "bin/dmalab";
}

/* Milliseconds on a monotonic clock. */
static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Writes all of `s` to `fd`. */
static void write_all(int fd, const char *s, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, s, n);
    if (w < 0 && errno == EINTR)
      continue;
    assert_true(w > 0);
    s += w;
    n -= (size_t)w;
  }
}

/* Waits up to `ms` for output of the session and appends it (without the
** '\r' the tty adds); returns 0 on timeout, -1 once the pty is closed. */
static int pump(struct session *s, int ms) {
  struct pollfd p = {.fd = s->fd, .events = POLLIN};
  int r = poll(&p, 1, ms < 0 ? 0 : ms);
  if (r <= 0)
    return 0;
  char buf[4096];
  ssize_t n = read(s->fd, buf, sizeof buf);
  if (n <= 0)  /* EIO: the child has gone and closed the slave */
    return (n < 0 && errno == EINTR) ? 0 : -1;
  for (ssize_t i = 0; i < n && s->len < OUTMAX - 1; i++)
    if (buf[i] != '\r')
      s->out[s->len++] = buf[i];
  s->out[s->len] = '\0';
  return 1;
}

/* Reads until `needle` shows up after what earlier calls consumed; fails
** the test (showing the output) after 5 s or at end of output. */
static void expect(struct session *s, const char *needle) {
  long long deadline = now_ms() + TIMEOUT_MS;
  for (;;) {
    const char *hit = strstr(s->out + s->seen, needle);
    if (hit != NULL) {
      s->seen = (size_t)(hit - s->out) + strlen(needle);
      return;
    }
    long long left = deadline - now_ms();
    if (left <= 0 || pump(s, (int)left) < 0)
      break;
  }
  print_error("expected \"%s\"; the REPL printed (after the part already "
              "matched):\n----\n%s\n----\n", needle, s->out + s->seen);
  fail_msg("timeout or end of output waiting for \"%s\"", needle);
}

/* Types `text` into the REPL. */
static void type_in(struct session *s, const char *text) {
  write_all(s->fd, text, strlen(text));
}

/* Waits (5 s at most) for the REPL to exit, draining its output, and
** returns the wait status. */
static int wait_exit(struct session *s) {
  long long deadline = now_ms() + TIMEOUT_MS;
  while (now_ms() < deadline) {
    int status;
    pid_t r = waitpid(s->pid, &status, WNOHANG);
    if (r == s->pid) {
      s->pid = 0;
      return status;
    }
    pump(s, 20);
  }
  print_error("REPL output:\n----\n%s\n----\n", s->out);
  fail_msg("dmalab did not exit within %d ms", TIMEOUT_MS);
  return -1;
}

/* Setup: starts `dmalab` on a pty with TERM=dumb, INPUTRC=/dev/null and a
** temporary history file. (The waiting is left to the tests: cmocka skips
** the teardown of a failed setup, which would leave the child running.) */
static int start_repl(void **state) {
  struct session *s = calloc(1, sizeof *s);
  assert_non_null(s);
  *state = s;
  s->fd = -1;
  strcpy(s->hist, "/tmp/dmalab_hist_XXXXXX");
  int hfd = mkstemp(s->hist);
  assert_true(hfd >= 0);
  close(hfd);
  struct winsize ws = {.ws_row = 24, .ws_col = 200};
  s->pid = forkpty(&s->fd, NULL, NULL, &ws);
  assert_true(s->pid >= 0);
  if (s->pid == 0) {
    setenv("TERM", "dumb", 1);
    setenv("DMALAB_HISTORY", s->hist, 1);
    setenv("INPUTRC", "/dev/null", 1);  /* no user key bindings */
    execl(dmalab(), dmalab(), (char *)NULL);
    _exit(127);
  }
  return 0;
}

/* The session of a test, once the banner and first prompt are out. */
static struct session *ready(void **state) {
  struct session *s = *state;
  expect(s, "dmalab ");  /* banner */
  expect(s, "> ");
  return s;
}

/* Teardown: kills and reaps the REPL, removes its history file. */
static int stop_repl(void **state) {
  struct session *s = *state;
  if (s == NULL)
    return 0;
  if (s->pid > 0) {
    kill(s->pid, SIGKILL);
    waitpid(s->pid, NULL, 0);
  }
  if (s->fd >= 0)
    close(s->fd);
  unlink(s->hist);
  free(s);
  return 0;
}

/* Result of a batch run. */
struct run {
  int status;
  char out[16384];
  char err[16384];
};

/* Appends what can be read from *fd to buf; closes and clears *fd at EOF. */
static void drain(int *fd, char *buf, size_t cap) {
  size_t len = strlen(buf);
  ssize_t n = read(*fd, buf + len, cap - 1 - len);
  if (n > 0) {
    buf[len + (size_t)n] = '\0';
  } else if (n == 0 || errno != EINTR || len + 1 >= cap) {
    close(*fd);
    *fd = -1;
  }
}

/* Runs dmalab with `args` (NULL-terminated), `input` on a stdin pipe and
** pipes for stdout/stderr, within 5 s. Its DMALAB_HISTORY points into a
** fresh directory, and the run must leave no history file behind. */
static void run_batch(struct run *r, const char *const *args, const char *input) {
  char dir[] = "/tmp/dmalab_batch_XXXXXX";
  assert_non_null(mkdtemp(dir));
  char hist[64];
  snprintf(hist, sizeof hist, "%s/history", dir);
  const char *argv[16] = {dmalab()};
  int argc = 1;
  for (; args[argc - 1] != NULL && argc < 15; argc++)
    argv[argc] = args[argc - 1];
  argv[argc] = NULL;
  int in[2], out[2], err[2];
  assert_int_equal(pipe(in), 0);
  assert_int_equal(pipe(out), 0);
  assert_int_equal(pipe(err), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    dup2(in[0], 0);
    dup2(out[1], 1);
    dup2(err[1], 2);
    close(in[0]); close(in[1]); close(out[0]); close(out[1]);
    close(err[0]); close(err[1]);
    setenv("DMALAB_HISTORY", hist, 1);
    execv(argv[0], (char *const *)argv);
    _exit(127);
  }
  close(in[0]); close(out[1]); close(err[1]);
  signal(SIGPIPE, SIG_IGN);  /* a child that ignores stdin must not kill us */
  if (input != NULL)
    write_all(in[1], input, strlen(input));
  close(in[1]);
  r->out[0] = r->err[0] = '\0';
  int fds[2] = {out[0], err[0]};
  long long deadline = now_ms() + TIMEOUT_MS;
  while ((fds[0] >= 0 || fds[1] >= 0) && now_ms() < deadline) {
    struct pollfd p[2] = {{.fd = fds[0], .events = POLLIN},
                          {.fd = fds[1], .events = POLLIN}};
    if (poll(p, 2, (int)(deadline - now_ms())) <= 0)
      continue;
    if (p[0].revents) drain(&fds[0], r->out, sizeof r->out);
    if (p[1].revents) drain(&fds[1], r->err, sizeof r->err);
  }
  int timed_out = fds[0] >= 0 || fds[1] >= 0;
  for (int i = 0; i < 2; i++)
    if (fds[i] >= 0) close(fds[i]);
  if (timed_out)
    kill(pid, SIGKILL);
  waitpid(pid, &r->status, 0);
  int left_history = access(hist, F_OK) == 0;
  unlink(hist);
  rmdir(dir);
  if (timed_out)
    fail_msg("dmalab %s did not finish within %d ms", args[0], TIMEOUT_MS);
  assert_false(left_history);  /* stdin was no tty: history is off limits */
}

/* Exit code of a finished batch run (-1 if it died from a signal). */
static int exit_code(const struct run *r) {
  return WIFEXITED(r->status) ? WEXITSTATUS(r->status) : -1;
}

/* Writes `text` to a new /tmp/dmalab_test_XXXXXX.lua, named in `path`. */
static void write_script(char path[64], const char *text) {
  strcpy(path, "/tmp/dmalab_test_XXXXXX.lua");
  int fd = mkstemps(path, 4);
  assert_true(fd >= 0);
  write_all(fd, text, strlen(text));
  close(fd);
}

/* Asserts that `hay` contains `needle`, showing `hay` otherwise. */
static void assert_contains(const char *hay, const char *needle) {
  if (strstr(hay, needle) == NULL) {
    print_error("expected \"%s\" in:\n----\n%s\n----\n", needle, hay);
    fail_msg("missing \"%s\"", needle);
  }
}


/* 1. Expressions print their values, "=expr" too. */
static void test_repl_eval(void **state) {
  struct session *s = ready(state);
  type_in(s, "1+1\n");
  expect(s, "\n2\n");
  expect(s, "> ");
  type_in(s, "=2*3\n");
  expect(s, "\n6\n");
}

/* 2. An unfinished chunk asks for more with ">> ". */
static void test_repl_multiline(void **state) {
  struct session *s = ready(state);
  type_in(s, "for i=1,3 do\n");
  expect(s, ">> ");
  type_in(s, "io.write(i*11, ' ') end\n");
  expect(s, "11 22 33");
  expect(s, "> ");
}

/* 3. An error is reported with a traceback and the state survives. */
static void test_repl_error_keeps_state(void **state) {
  struct session *s = ready(state);
  type_in(s, "x = 41\n");
  expect(s, "> ");
  type_in(s, "error('boom')\n");
  expect(s, "stdin:1: boom");  /* not the echo of the line typed */
  expect(s, "traceback");
  expect(s, "> ");
  type_in(s, "=x+1\n");
  expect(s, "\n42\n");
}

/* 4. On a tty, chunks go to $DMALAB_HISTORY; Ctrl-D exits with 0. */
static void test_repl_history(void **state) {
  struct session *s = ready(state);
  type_in(s, "histcheck = 'abc'\n");
  expect(s, "> ");
  type_in(s, "\x04");
  int status = wait_exit(s);
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
  FILE *f = fopen(s->hist, "r");
  assert_non_null(f);
  char text[4096];
  size_t n = fread(text, 1, sizeof text - 1, f);
  fclose(f);
  text[n] = '\0';
  assert_contains(text, "histcheck = 'abc'\n");
}

/* 6. Tab completes globals and fields, also through metatables. */
static void test_repl_completion(void **state) {
  struct session *s = ready(state);
  type_in(s, "zzfoo = {barbaz=1}\n");
  expect(s, "> ");
  type_in(s, "zzfoo.barb\t\n");
  expect(s, "\n1\n");  /* nil had the completion not happened */
  expect(s, "> ");
  type_in(s, "zzuniq_global = 5\n");
  expect(s, "> ");
  type_in(s, "zzuniq_g\t\n");
  expect(s, "\n5\n");
  expect(s, "> ");
  type_in(s, "zzobj = setmetatable({}, {__index = {methodzz = "
          "function() return 7 end}})\n");
  expect(s, "> ");
  type_in(s, "zzobj:meth\t()\n");
  expect(s, "\n7\n");
  expect(s, "> ");
  type_in(s, "do local mt = {__methods = {zzmeth = function() return 9 end}}; "
          "mt.__index = function(_, k) return mt.__methods[k] end; "
          "zzud = setmetatable({}, mt) end\n");
  expect(s, "> ");
  type_in(s, "zzud:zzm\t()\n");
  expect(s, "\n9\n");
}

/* 7. Ctrl-C stops a running chunk; the REPL and its state survive. */
static void test_repl_interrupt(void **state) {
  struct session *s = ready(state);
  type_in(s, "y = 7\n");
  expect(s, "> ");
  /* the chunk prints a marker once it runs: Ctrl-C is armed from then on */
  type_in(s, "io.write('spin', 'ning\\n') io.flush() while true do end\n");
  expect(s, "spinning\n");
  type_in(s, "\x03");
  expect(s, "interrupted!");
  expect(s, "> ");
  type_in(s, "=y*6\n");
  expect(s, "\n42\n");
}

/* 7b. Ctrl-C stops an m:run whose events call no Lua (a periodic timer
** without a DPC, no event limit): the clock stops, not a Lua hook, and no
** stale interrupt is left for the next line. */
static void test_repl_interrupt_in_c(void **state) {
  struct session *s = ready(state);
  type_in(s, "m = dma.machine{ limits = { run_events = 0 } } m:select() "
          "t = KeInitializeTimer(nil) KeSetTimerEx(t, -10, 1, nil)\n");
  expect(s, "> ");
  type_in(s, "io.write('run', 'ning\\n') io.flush() m:run()\n");
  expect(s, "running\n");
  usleep(100 * 1000);  /* into the clock's loop */
  type_in(s, "\x03");
  expect(s, "interrupted! (in m:run at t=");
  expect(s, "> ");
  type_in(s, "=KeCancelTimer(t) and m.now > 0\n");
  expect(s, "\ntrue\n");
  type_in(s, "for _ = 1, 100000 do end print(7*6)\n");
  expect(s, "\n42\n");
}


/* 8. Values: statuses named, addresses in hex, records aligned, tables
** nested and bounded, functions with their signatures. */
static void test_repl_pretty(void **state) {
  struct session *s = ready(state);
  type_in(s, "=STATUS_INVALID_PARAMETER\n");
  expect(s, "\nSTATUS_INVALID_PARAMETER (0xC000000D)\n");
  type_in(s, "m = dma.machine{ ram = { {\"1M\", \"256K\"}, {\"4G\", \"1G\"} } }\n");
  expect(s, "> ");
  type_in(s, "= m:stats()\n");
  expect(s, "map_registers_base  0x100000\n");
  type_in(s, "= m.ram\n");
  expect(s, "  #  base         size");
  expect(s, "  2  0x100000000");
  type_in(s, "b = m:buffer(100, { offset = 0x10 })\n");
  expect(s, "> ");
  type_in(s, "= b.va\n");
  expect(s, "\n0x");
  type_in(s, "= {1, {x = {y = {}}}, s = 'q'}\n");
  expect(s, "{ 1, { x = { y = {} } }, s = \"q\" }");
  type_in(s, "= {a = {b = {c = {d = {1}}}}}\n");
  expect(s, "{…}");
  type_in(s, "= IoGetDmaAdapter\n");
  expect(s, "function IoGetDmaAdapter(PhysicalDeviceObject, DeviceDescription) -> adapter");
}

/* 9. help() for names, objects and statuses. */
static void test_repl_help(void **state) {
  struct session *s = ready(state);
  type_in(s, "help(IoGetDmaAdapter)\n");
  expect(s, "IoGetDmaAdapter(PhysicalDeviceObject, DeviceDescription)");
  expect(s, "IRQL: PASSIVE_LEVEL");
  expect(s, "nf-wdm-iogetdmaadapter");
  type_in(s, "help(dma.machine{})\n");
  expect(s, "methods: after, buffer");
  type_in(s, "help()\n");
  expect(s, "names with help of");
}

/* 10. Tab completes fields an __index function computes, and paths
** through them (adapter.DmaOperations.X). */
static void test_repl_complete_computed(void **state) {
  struct session *s = ready(state);
  type_in(s, "m = dma.machine{ ram = { {\"1M\", \"256K\"}, {\"4G\", \"1G\"} } }; "
             "b = m:buffer(4321); mdl = IoAllocateMdl(b.va, b.length); dev = m:device{}\n");
  expect(s, "> ");
  type_in(s, "=b.leng\t\n");
  expect(s, "\n4321\n");
  type_in(s, "=mdl.ByteC\t\n");
  expect(s, "\n4321\n");
  type_in(s, "a = IoGetDmaAdapter(dev, { Version = 2, Master = TRUE, Dma32BitAddresses = TRUE, "
             "MaximumLength = 8192, InterfaceType = PCIBus })\n");
  expect(s, "> ");
  type_in(s, "=a.DmaOperations.MapTr\t\n");
  expect(s, "MapTransfer(AdapterObject, Mdl, MapRegisterBase, CurrentVa, Length, WriteToDevice)");
  type_in(s, "=a.NumberOfMap\t\n");
  expect(s, "\n3\n");
}

/* 11. An error at DISPATCH_LEVEL: the prompt is back at PASSIVE_LEVEL. */
static void test_repl_irql_reset(void **state) {
  struct session *s = ready(state);
  type_in(s, "m = dma.machine{}; KeRaiseIrql(DISPATCH_LEVEL); error('at dispatch')\n");
  expect(s, "at dispatch");
  expect(s, "the IRQL was DISPATCH_LEVEL (2) after the error: back to PASSIVE_LEVEL");
  type_in(s, "=KeGetCurrentIrql()\n");
  expect(s, "\n0\n");
}

/* 12. Ctrl-C at the prompt drops the line (and an unfinished chunk); the
** session goes on. */
static void test_repl_ctrl_c_at_prompt(void **state) {
  struct session *s = ready(state);
  type_in(s, "zz_never_run(");
  expect(s, "zz_never_run(");
  type_in(s, "\x03");
  expect(s, "^C");
  expect(s, "> ");
  type_in(s, "for i = 1, 2 do\n");
  expect(s, ">> ");
  type_in(s, "\x03");
  expect(s, "> ");
  type_in(s, "=6*7\n");
  expect(s, "\n42\n");
}

/* 13. A multi-line chunk is one history entry, also read back from the
** file by the next session (Ctrl-P brings the whole definition back). */
static void test_repl_history_multiline(void **state) {
  struct session *s = ready(state);
  type_in(s, "function zzf()\n");
  expect(s, ">> ");
  type_in(s, "  return 5 end\n");
  expect(s, "> ");
  type_in(s, "\x04");
  wait_exit(s);
  close(s->fd);
  s->fd = -1;
  s->len = s->seen = 0;
  s->out[0] = '\0';
  struct winsize ws = {.ws_row = 24, .ws_col = 200};
  s->pid = forkpty(&s->fd, NULL, NULL, &ws);
  assert_true(s->pid >= 0);
  if (s->pid == 0) {
    setenv("TERM", "dumb", 1);
    setenv("DMALAB_HISTORY", s->hist, 1);
    setenv("INPUTRC", "/dev/null", 1);
    execl(dmalab(), dmalab(), (char *)NULL);
    _exit(127);
  }
  ready(state);
  type_in(s, "\x10\n");  /* Ctrl-P: the previous entry, whole */
  expect(s, "> ");
  type_in(s, "=zzf()\n");
  expect(s, "\n5\n");
}

/* 14. Leaving the REPL runs the leak check of a batch run. */
static void test_repl_leaks_at_exit(void **state) {
  struct session *s = ready(state);
  type_in(s, "m = dma.machine{}; dev = m:device{}; a = IoGetDmaAdapter(dev, { Version = 2, "
             "Master = TRUE, Dma64BitAddresses = TRUE, MaximumLength = 8192, InterfaceType = PCIBus }); "
             "a:AllocateCommonBuffer(4096, FALSE)\n");
  expect(s, "> ");
  type_in(s, "\x04");
  expect(s, "verifier: leak");
  int status = wait_exit(s);
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 1);
}

/* 15. README's "A first session" runs as printed: its "> " lines are typed
** (<Tab> as a Tab), every other line must follow in the output ("…" ends
** what is compared). */
static void test_readme_session(void **state) {
  struct session *s = ready(state);
  FILE *f = fopen("README.md", "r");
  assert_non_null(f);
  char line[1024];
  int in_block = 0, marked = 0, typed = 0;
  while (fgets(line, sizeof line, f) != NULL) {
    line[strcspn(line, "\n")] = '\0';
    if (!in_block) {
      if (strncmp(line, "<!-- test: repl-transcript", 26) == 0) marked = 1;
      else if (marked && strcmp(line, "```") == 0) in_block = 1;
      continue;
    }
    if (strcmp(line, "```") == 0)
      break;
    if (line[0] == '$')
      continue;
    if (strncmp(line, "> ", 2) == 0) {
      char text[1100];
      size_t n = 0;
      for (const char *p = line + 2; *p && n < sizeof text - 2; p++) {
        if (strncmp(p, "<Tab>", 5) == 0) { text[n++] = '\t'; p += 4; }
        else text[n++] = *p;
      }
      text[n++] = '\n';
      text[n] = '\0';
      if (typed > 0)  /* ready() has seen the first prompt */
        expect(s, "> ");
      type_in(s, text);
      expect(s, "\n");  /* the echo of what was typed */
      typed++;
      continue;
    }
    char *cut = strstr(line, "\xe2\x80\xa6");  /* … */
    if (cut != NULL)
      *cut = '\0';
    if (line[0] != '\0')
      expect(s, line);
  }
  fclose(f);
  assert_true(typed >= 5);
}

/* 5a. -e runs a string. */
static void test_batch_e(void **state) {
  (void)state;
  struct run r;
  run_batch(&r, (const char *[]){"-e", "print(1+2)", NULL}, NULL);
  assert_string_equal(r.out, "3\n");
  assert_int_equal(exit_code(&r), 0);
}

/* 5b. A failing script exits 1 with file:line and a traceback. */
static void test_batch_script_error(void **state) {
  (void)state;
  char path[64], where[128];
  write_script(path, "local x = 1\nerror('kaboom ' .. x)\n");
  struct run r;
  run_batch(&r, (const char *[]){path, NULL}, NULL);
  unlink(path);
  snprintf(where, sizeof where, "dmalab: %s:2: kaboom 1", path);
  assert_int_equal(exit_code(&r), 1);
  assert_contains(r.err, where);
  assert_contains(r.err, "stack traceback");
}

/* 5c. `arg` and `...` as lua builds them. */
static void test_batch_arg(void **state) {
  (void)state;
  char path[64], want[200];
  write_script(path, "print(arg[-1], arg[0], arg[1], arg[2], "
                     "select('#', ...), ...)\n");
  struct run r;
  run_batch(&r, (const char *[]){path, "a", "b", NULL}, NULL);
  unlink(path);
  snprintf(want, sizeof want, "%s\t%s\ta\tb\t2\ta\tb\n", dmalab(), path);
  assert_int_equal(exit_code(&r), 0);
  assert_string_equal(r.out, want);
  /* without a script, arg[0] is the interpreter and options are positive */
  run_batch(&r, (const char *[]){"-e", "print(arg[-1], arg[0], arg[1])", NULL},
            NULL);
  snprintf(want, sizeof want, "nil\t%s\t-e\n", dmalab());
  assert_string_equal(r.out, want);
}

/* 5d. --version, -h, -l g=mod, and an unknown option. */
static void test_batch_options(void **state) {
  (void)state;
  struct run r;
  run_batch(&r, (const char *[]){"--version", NULL}, NULL);
  assert_int_equal(exit_code(&r), 0);
  assert_contains(r.out, "dmalab ");
  assert_contains(r.out, "Lua 5.4");
  run_batch(&r, (const char *[]){"-h", NULL}, NULL);
  assert_int_equal(exit_code(&r), 0);
  const char *opts[] = {"-e", "-i", "-l", "-v", "-h", "-E", "-W", "--", "-  "};
  for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++)
    assert_contains(r.out, opts[i]);
  run_batch(&r, (const char *[]){"-l", "s=string", "-e", "print(s.upper('x'))",
                                 NULL}, NULL);
  assert_int_equal(exit_code(&r), 0);
  assert_string_equal(r.out, "X\n");
  run_batch(&r, (const char *[]){"-Z", NULL}, NULL);
  assert_int_equal(exit_code(&r), 1);
  assert_contains(r.err, "'-Z'");
  assert_contains(r.err, "usage:");
  assert_string_equal(r.out, "");
}

/* 5e. No arguments and stdin not a tty: stdin is the script. */
static void test_batch_stdin(void **state) {
  (void)state;
  struct run r;
  run_batch(&r, (const char *[]){NULL}, "print('from stdin', 6*7)\n");
  assert_int_equal(exit_code(&r), 0);
  assert_string_equal(r.out, "from stdin\t42\n");
  run_batch(&r, (const char *[]){"-", "x", NULL}, "print(...)\nerror('e2')\n");
  assert_int_equal(exit_code(&r), 1);
  assert_string_equal(r.out, "x\n");
  assert_contains(r.err, "dmalab: stdin:2: e2");
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_repl_eval, start_repl, stop_repl),
    cmocka_unit_test_setup_teardown(test_repl_multiline, start_repl, stop_repl),
    cmocka_unit_test_setup_teardown(test_repl_error_keeps_state, start_repl,
                                    stop_repl),
    cmocka_unit_test_setup_teardown(test_repl_history, start_repl, stop_repl),
    cmocka_unit_test_setup_teardown(test_repl_completion, start_repl,
                                    stop_repl),
    cmocka_unit_test_setup_teardown(test_repl_interrupt, start_repl,
                                    stop_repl),
    cmocka_unit_test_setup_teardown(test_repl_interrupt_in_c, start_repl,
                                    stop_repl),
    cmocka_unit_test_setup_teardown(test_repl_pretty, start_repl, stop_repl),
    cmocka_unit_test_setup_teardown(test_repl_help, start_repl, stop_repl),
    cmocka_unit_test_setup_teardown(test_repl_complete_computed, start_repl,
                                    stop_repl),
    cmocka_unit_test_setup_teardown(test_repl_irql_reset, start_repl, stop_repl),
    cmocka_unit_test_setup_teardown(test_repl_ctrl_c_at_prompt, start_repl,
                                    stop_repl),
    cmocka_unit_test_setup_teardown(test_repl_history_multiline, start_repl,
                                    stop_repl),
    cmocka_unit_test_setup_teardown(test_repl_leaks_at_exit, start_repl,
                                    stop_repl),
    cmocka_unit_test_setup_teardown(test_readme_session, start_repl,
                                    stop_repl),
    cmocka_unit_test(test_batch_e),
    cmocka_unit_test(test_batch_script_error),
    cmocka_unit_test(test_batch_arg),
    cmocka_unit_test(test_batch_options),
    cmocka_unit_test(test_batch_stdin),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
