/* The subcommands' argument parser: each command lists its options in a table, and one parser
 * reads them all the same way ("--flag value" or "--flag=value", options and positional words
 * in any order) with the same messages. */
#ifndef RUNNER_CMD_ARGS_H
#define RUNNER_CMD_ARGS_H

#include "graph/error.h"

#include <stdbool.h>

/* The program as the user started it (argv[0], "build/runner"; main.c sets it), for messages
 * that show a command to run. */
extern const char *cli_program;

typedef enum ArgKind {
    ARG_FLAG,  /* bool *: set to true, takes no value */
    ARG_INT,   /* int *: an integer in min..max */
    ARG_INT64, /* long long *: an integer in min..max */
    ARG_TEXT,  /* const char **: the value as given */
    ARG_LIST,  /* ArgList *: every occurrence's value, in order (--set) */
} ArgKind;

typedef struct ArgList {
    const char **items;
    int n, max;
} ArgList;

typedef struct ArgOption {
    const char *flag; /* "--threads" */
    ArgKind kind;
    void *dest;
    long long min, max; /* ARG_INT, ARG_INT64 */
} ArgOption;

/* Table rows, one per kind. */
#define OPTION_FLAG(flag, dest) {(flag), ARG_FLAG, (dest), 0, 0}
#define OPTION_TEXT(flag, dest) {(flag), ARG_TEXT, (dest), 0, 0}
#define OPTION_LIST(flag, dest) {(flag), ARG_LIST, (dest), 0, 0}
#define OPTION_INT(flag, dest, min, max) {(flag), ARG_INT, (dest), (min), (max)}
#define OPTION_INT64(flag, dest, min, max) {(flag), ARG_INT64, (dest), (min), (max)}

/* Words that are not options, such as the spec's path. */
typedef struct ArgPositionals {
    const char **items;
    int n, min, max;
    const char *what; /* "spec", "results folder", "image set" */
} ArgPositionals;

/* Parses argv into the options' destinations (left as they are when absent) and the positional
 * words; -1 with a message and the usage for an unknown option, a missing or bad value, or too
 * few or too many positional words. */
int cmd_parse(int argc, char **argv, const ArgOption *options, int n_options, ArgPositionals *positionals,
              const char *usage, Error *err);

/* The integer v given after option flag, in min..max, into *out; otherwise -1 with
 * "FLAG expects an integer in MIN..MAX, got 'V'" (v NULL: the flag ended the line). */
int cmd_parse_int(const char *flag, const char *v, long long min, long long max, long long *out, Error *err);

#endif
