/* The runner's entry point: dispatches to a subcommand (runner/cli/commands.h), prints its error and
 * turns the result into the exit status (1 for an error, INTERRUPT_EXIT_STATUS for a run stopped by
 * Ctrl-C).  The only place that exits (but for a second Ctrl-C: runner/cli/interrupt.c), and the
 * one that prints errors (err_text: "WHERE: error: MSG"). */
#include "graph/suggest.h"
#include "runner/cli/cmd_args.h"
#include "runner/cli/commands.h"
#include "runner/cli/interrupt.h"

#include "kernels/backend.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct Command {
    const char *name, *usage, *help;
    int (*run)(int argc, char **argv, Error *err);
} Command;

static const Command commands[] = {
#define COMMAND_ENTRY(name, usage, help) {#name, usage, help, cmd_##name},
    RUNNER_COMMANDS(COMMAND_ENTRY)
#undef COMMAND_ENTRY
};
#define N_COMMANDS (int)(sizeof commands / sizeof commands[0])

static void report(const Error *err)
{
    char text[ERROR_TEXT_MAX];
    fprintf(stderr, "%s\n", err_text(err, text, sizeof text));
}

static void usage(FILE *out)
{
    fprintf(out, "usage: runner COMMAND [ARGS]\n\ncommands:\n");
    for (int i = 0; i < N_COMMANDS; i++) fprintf(out, "  %-10s %s\n      runner %s\n", commands[i].name, commands[i].help,
                                                 commands[i].usage);
}

/* `runner COMMAND --help` (or -h) and `runner help COMMAND`: the command's line of help and usage. */
static bool asks_for_help(int argc, char **argv)
{
    for (int i = 2; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return true;
    return false;
}

static void command_help(const Command *c)
{
    printf("runner %s: %s\n%s\n", c->name, c->help, command_usage(c->name));
}

/* Starts the program again with the settings its libraries read only when they load
 * (backend_cpu_load_time_env: OpenBLAS's kernels, OpenMP's wait policy), where the user has not
 * set them.  The restarted program finds them set and goes on. */
static void apply_load_time_settings(char **argv)
{
    EnvSetting set[4];
    int n = backend_cpu_load_time_env(set, 4);
    if (n == 0) return;
    bool all_set = true;
    for (int i = 0; i < n; i++) all_set = all_set && setenv(set[i].name, set[i].value, 1) == 0;
    if (all_set) execv("/proc/self/exe", argv);
    /* Not restarted (no memory, no /proc): go on as loaded; `runner version` shows what runs. */
    for (int i = 0; i < n; i++) unsetenv(set[i].name);
}

int main(int argc, char **argv)
{
    apply_load_time_settings(argv);
    if (argc >= 1 && argv[0][0]) cli_program = argv[0];
    if (argc >= 2 && !strcmp(argv[1], "--version")) argv[1] = "version";
    bool help = argc >= 2 && (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"));
    if (argc < 2 || (help && argc == 2)) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (help) argv++, argc--; /* `runner help COMMAND` */
    const char *names[N_COMMANDS];
    for (int i = 0; i < N_COMMANDS; i++) {
        names[i] = commands[i].name;
        if (strcmp(argv[1], commands[i].name) != 0) continue;
        if (help || asks_for_help(argc, argv)) {
            command_help(&commands[i]);
            return 0;
        }
        Error err = {0};
        if (commands[i].run(argc - 2, argv + 2, &err) == 0) return 0;
        report(&err);
        return err.kind == ERR_INTERRUPTED ? INTERRUPT_EXIT_STATUS : 1;
    }
    Error err = {0};
    const char *hint = suggest_word(argv[1], names, N_COMMANDS);
    if (hint)
        err_set(&err, "unknown command '%s' (did you mean '%s'?); `runner help` lists them", argv[1], hint);
    else
        err_set(&err, "unknown command '%s'; `runner help` lists them", argv[1]);
    report(&err);
    return 2;
}
