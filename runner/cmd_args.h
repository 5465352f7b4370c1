/* Option values shared by the subcommands' argument parsers. */
#ifndef RUNNER_CMD_ARGS_H
#define RUNNER_CMD_ARGS_H

#include "graph/error.h"

/* The integer v given after option flag, in min..max, into *out; otherwise -1 with
 * "error: FLAG expects an integer in MIN..MAX, got 'V'" (v NULL: the flag ended the line). */
int cmd_parse_int(const char *flag, const char *v, long long min, long long max, long long *out, Error *err);

#endif
