/*
** history.c: the dmalab REPL's line history, kept in memory by readline and
** in a file ($DMALAB_HISTORY, else ~/.dmalab_history) for terminal sessions,
** appended to as each chunk is entered and trimmed at the end. A chunk of
** several lines stays one entry (Up brings back the whole definition).
*/
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <readline/history.h>

#include "history.h"

#define HISTORY_MAX 1000     /* lines kept in memory and in the file */

/* History file of this REPL session, or NULL when history is not saved. */
static char *histfile = NULL;

/* The history file name ($DMALAB_HISTORY, else ~/.dmalab_history), malloc'ed,
** or NULL if there is none. */
static char *history_name(void) {
  const char *env = getenv("DMALAB_HISTORY");
  if (env != NULL && env[0] != '\0')
    return strdup(env);
  const char *home = getenv("HOME");
  if (home == NULL || home[0] == '\0')
    return NULL;
  size_t len = strlen(home) + sizeof("/.dmalab_history");
  char *name = malloc(len);
  if (name != NULL)
    snprintf(name, len, "%s/.dmalab_history", home);
  return name;
}

/* Loads the history file (terminal sessions only: piped runs must not
** leave traces), creating it so that dl_history_add can append to it. */
void dl_history_open(void) {
  stifle_history(HISTORY_MAX);
  /* a chunk of several lines is one entry: with timestamps ("#<time>"
  ** lines) in the file, readline reads the lines between two back whole */
  history_write_timestamps = 1;
  history_comment_char = '#';
  history_multiline_entries = 1;
  if (!isatty(STDIN_FILENO) || (histfile = history_name()) == NULL)
    return;
  int fd = open(histfile, O_WRONLY | O_CREAT | O_APPEND, 0600);
  if (fd < 0) {
    free(histfile);
    histfile = NULL;
    return;
  }
  close(fd);
  read_history(histfile);
}

/* Adds a complete chunk to the history and appends it to the file at once,
** so that os.exit or a fatal Ctrl-C at the prompt does not lose it. */
void dl_history_add(const char *chunk) {
  if (chunk[0] == '\0')
    return;
  HIST_ENTRY *last = history_get(history_base + history_length - 1);
  if (last != NULL && strcmp(last->line, chunk) == 0)
    return;  /* a repeated line is not worth a second entry */
  add_history(chunk);
  if (histfile != NULL)
    append_history(1, histfile);
}

/* Trims the history file to HISTORY_MAX lines and frees the history. */
void dl_history_close(void) {
  if (histfile != NULL) {
    history_truncate_file(histfile, HISTORY_MAX);
    free(histfile);
    histfile = NULL;
  }
  clear_history();
}
