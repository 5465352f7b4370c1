/* The subcommands' argument parser (runner/cli/cmd_args.c): every option kind, both value forms,
 * positional words among options, and the message of each mistake. */
#include "runner/cli/cmd_args.h"
#include "tests/unit/testutil.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

typedef struct Parsed {
    const char *out, *words[2], *sets[3];
    int threads;
    long long seed;
    bool force;
    ArgList set_list;
    ArgPositionals positionals;
} Parsed;

#define USAGE "usage: runner demo WORD [WORD] [--out FILE] [--threads N] [--seed N] [--force] [--set k=v ...]"

/* Parses a space-separated command line; returns cmd_parse's result with the message in err. */
static int parse(const char *line, Parsed *p, Error *err)
{
    static char buf[512];
    char *argv[32];
    int argc = 0;
    snprintf(buf, sizeof buf, "%s", line);
    for (char *t = strtok(buf, " "); t && argc < 32; t = strtok(NULL, " ")) argv[argc++] = t;
    *p = (Parsed){.threads = 2, .set_list = {.items = p->sets, .max = 3}};
    p->positionals = (ArgPositionals){.items = p->words, .min = 1, .max = 2, .what = "word"};
    const ArgOption options[] = {
        OPTION_TEXT("--out", &p->out),         OPTION_INT("--threads", &p->threads, 1, 64),
        OPTION_INT64("--seed", &p->seed, 0, 1ll << 40), OPTION_FLAG("--force", &p->force),
        OPTION_LIST("--set", &p->set_list),
    };
    memset(err, 0, sizeof *err);
    return cmd_parse(argc, argv, options, sizeof options / sizeof options[0], &p->positionals, USAGE, err);
}

static void test_every_kind_and_form(void **state)
{
    (void)state;
    Parsed p;
    Error err;
    assert_int_equal(parse("--set a=1 spec.yaml --threads=8 --out x.png --force --seed 1099511627776 --set=b=2 two", &p, &err), 0);
    assert_string_equal(p.words[0], "spec.yaml");
    assert_string_equal(p.words[1], "two");
    assert_int_equal(p.positionals.n, 2);
    assert_int_equal(p.threads, 8);
    assert_string_equal(p.out, "x.png");
    assert_true(p.force);
    assert_true(p.seed == 1ll << 40);
    assert_int_equal(p.set_list.n, 2);
    assert_string_equal(p.sets[0], "a=1");
    assert_string_equal(p.sets[1], "b=2"); /* only the first '=' separates the value */
    /* Absent options keep their defaults; "-" is a word (standard input). */
    assert_int_equal(parse("-", &p, &err), 0);
    assert_int_equal(p.threads, 2);
    assert_false(p.force);
    assert_null(p.out);
}

static void expect(const char *line, const char *message)
{
    Parsed p;
    Error err;
    assert_int_equal(parse(line, &p, &err), -1);
    char want[512];
    snprintf(want, sizeof want, "%s\n" USAGE, message);
    assert_string_equal(tu_err(&err), want);
}

static void test_mistakes_are_named(void **state)
{
    (void)state;
    expect("w --thread 2", "error: unknown option '--thread' (did you mean '--threads'?)");
    expect("w --colour red", "error: unknown option '--colour'");
    expect("w --out", "error: --out needs a value");
    expect("w --threads 0", "error: --threads expects an integer in 1..64, got '0'");
    expect("w --threads 2x", "error: --threads expects an integer in 1..64, got '2x'");
    expect("w --threads=", "error: --threads expects an integer in 1..64, got ''");
    expect("w --seed 99999999999999999999", "error: --seed expects an integer in 0..1099511627776, got '99999999999999999999'");
    expect("w --force=yes", "error: --force takes no value");
    expect("w --set a --set b --set c --set d", "error: at most 3 --set options");
    expect("a b c", "error: at most 2 words (also given: 'c')");
    expect("--force", "error: no word given");
}

/* With room for one word, the message names both. */
static void test_one_word_at_a_time(void **state)
{
    (void)state;
    char *argv[] = {"a.yaml", "b.yaml"};
    const char *word = NULL;
    ArgPositionals one = {.items = &word, .min = 1, .max = 1, .what = "spec"};
    Error err = {0};
    assert_int_equal(cmd_parse(2, argv, NULL, 0, &one, "usage: runner run SPEC.yaml", &err), -1);
    assert_string_equal(tu_err(&err),
                        "error: one spec at a time ('a.yaml' and 'b.yaml' given)\nusage: runner run SPEC.yaml");
}

/* A command without options or words refuses any. */
static void test_no_arguments(void **state)
{
    (void)state;
    char *argv[] = {"extra"};
    Error err = {0};
    assert_int_equal(cmd_parse(0, argv, NULL, 0, NULL, "usage: runner ops", &err), 0);
    assert_int_equal(cmd_parse(1, argv, NULL, 0, NULL, "usage: runner ops", &err), -1);
    assert_string_equal(tu_err(&err), "error: unexpected argument 'extra'\nusage: runner ops");
}

/* `runner COMMAND --help`, `-h` and `runner help COMMAND` print the command's help and usage and
 * succeed, whatever else is on the line; an unknown command after `help` is named. */
static void test_command_help(void **state)
{
    (void)state;
    const char *lines[] = {"sample --help", "sample results/x -h", "help sample"};
    for (int i = 0; i < 3; i++) {
        char out[4096];
        assert_int_equal(tu_run_runner("", lines[i], out, sizeof out), 0);
        if (strncmp(out, "runner sample: ", 15) != 0 || !strstr(out, "\nusage: runner sample RESULTS_DIR") ||
            !strstr(out, "[--batchnorm running|batch]"))
            fail_msg("runner %s printed:\n%s", lines[i], out);
    }
    char out[4096];
    assert_int_equal(tu_run_runner("", "help smaple", out, sizeof out), 2);
    assert_string_equal(out, "error: unknown command 'smaple' (did you mean 'sample'?); `runner help` lists them\n");
}

TU_MAIN(NULL, NULL,
        cmocka_unit_test(test_command_help),
        cmocka_unit_test(test_every_kind_and_form),
        cmocka_unit_test(test_mistakes_are_named),
        cmocka_unit_test(test_one_word_at_a_time),
        cmocka_unit_test(test_no_arguments))
