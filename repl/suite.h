/*
** suite.h: `dmalab test [options] [PATH...]`, the scenario suite runner
** (suite.c).
*/
#ifndef DL_SUITE_H
#define DL_SUITE_H

/* Runs the subcommand; argv[0] is "test". Returns the process exit code:
** 0 when every scenario passed, 1 when one failed, 2 on a usage error. */
int dl_suite_main(int argc, char **argv);

#endif
