/*
** history.h: the dmalab REPL's line history and its file (history.c).
*/
#ifndef DL_HISTORY_H
#define DL_HISTORY_H

/* Limits the history and, in a terminal session, loads the history file
** ($DMALAB_HISTORY, else ~/.dmalab_history), creating it if needed. */
void dl_history_open(void);

/* Adds a complete chunk to the history (not an empty or repeated one) and
** appends it to the file at once. */
void dl_history_add(const char *chunk);

/* Trims the history file and frees the history. */
void dl_history_close(void);

#endif
