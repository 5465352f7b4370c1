/* Shared support for the unit tests: where fixtures live, reading them, tolerant comparisons and
 * reproducible random data. */
#ifndef TESTS_UNIT_TESTUTIL_H
#define TESTS_UNIT_TESTUTIL_H

#include "graph/error.h"
#include "graph/tensor.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

struct CMUnitTest;

/* A test program's main(): runs the cmocka tests listed (cmocka_unit_test(..) entries) as one
 * group with the given group setup and teardown (NULL: none; tu_group_setup and tu_group_teardown
 * give the program its scratch folder). */
#define TU_MAIN(group_setup, group_teardown, ...)                                                  \
    int main(void)                                                                                 \
    {                                                                                              \
        const struct CMUnitTest tests[] = {__VA_ARGS__};                                           \
        return cmocka_run_group_tests(tests, group_setup, group_teardown);                         \
    }

/* $FIXTURES_DIR (set by tests/run_tests.sh), else build/fixtures. */
const char *tu_fixtures_dir(void);
/* Writes "<fixtures dir>/<rel>" into buf; returns buf. */
char *tu_fixture_path(char *buf, size_t len, const char *rel);

/* Elementwise check |got - want| <= rtol * |want| + atol; NaN or Inf in got always fails.
 * On failure writes "<what>: K of N values differ; worst at [i]: got .., want .., tol .." to msg
 * and returns false. */
bool tu_allclose(const char *what, const float *got, const float *want, size_t n, double rtol,
                 double atol, char *msg, size_t msg_len);
/* err as the runner prints it (err_text: "WHERE: error: MSG"); the text lasts until the next call. */
const char *tu_err(const Error *err);

/* max_i |x_i| (0 for n = 0). */
double tu_max_abs(const float *x, size_t n);
/* ||a||_2 and ||a - b||_2 over n values, summed in double. */
double tu_l2(const float *a, size_t n);
double tu_l2_diff(const float *a, const float *b, size_t n);

/* The test program's scratch folder, /tmp/<program>.XXXXXX: tu_group_setup makes it (a cmocka
 * group setup), tu_group_teardown removes it, tu_tmp joins a name to it. */
extern char tu_tmpdir[64];
int tu_group_setup(void **state);
int tu_group_teardown(void **state);
char *tu_tmp(char *buf, size_t len, const char *name);

/* Creates a fresh folder /tmp/<name>.XXXXXX into dir; 0, or -1 on failure. */
int tu_make_tmpdir(char *dir, size_t len, const char *name);
/* Removes dir and everything below it, read-only parts included; 0, or -1 on failure. */
int tu_remove_tree(const char *dir);
/* Writes "<dir>/<name>" into buf; returns buf. */
char *tu_join(char *buf, size_t len, const char *dir, const char *name);

/* Writes text to path (replacing it); fails the test when it cannot. */
void tu_write_text(const char *path, const char *text);
/* Whether something (a link too) stands at path. */
bool tu_exists(const char *path);

/* The built program: $RUNNER, else build/runner. */
const char *tu_runner(void);
/* $MNIST_DIR, else the MNIST test split committed in tests/data/mnist. */
const char *tu_mnist_dir(void);
/* Reads a popen'ed command's output into out (NUL-terminated, cut at len - 1, the rest read and
 * dropped so that the command runs to its end), then pcloses it: pclose's status. */
int tu_pclose_reading(FILE *p, char *out, size_t len);
/* Runs `prefix RUNNER args` with stdout and stderr into out (NUL-terminated, cut at len - 1);
 * returns the exit status, 128 when killed by a signal. */
int tu_run_runner(const char *prefix, const char *args, char *out, size_t len);

/* Starts `RUNNER args` (words split by /bin/sh, which then becomes the runner, so the pid is the
 * runner's) with stdout and stderr into the file `log`; returns its pid. */
pid_t tu_start_runner(const char *args, const char *log);
/* Waits for a started runner: its exit status, or 128 + the signal that ended it. */
int tu_wait_runner(pid_t pid);
/* Kills a started runner (SIGKILL) and waits for it; *pid becomes 0.  Nothing when *pid is 0. */
void tu_kill_runner(pid_t *pid);

/* The whole of a file (a fixture) in a malloc'd buffer; fails the test when it cannot be read. */
unsigned char *tu_read_file(const char *path, size_t *size);
/* Fails unless the fixture list <fixtures dir>/<rel> (one case a line) names exactly the n
 * cases given. */
void tu_expect_fixture_cases(const char *rel, const char *const *cases, int n);
/* Runs as one group: a test per fixture case (test_case, named after the case and given it as its
 * state), test_every_fixture_case_is_tested (tu_expect_fixture_cases on list_rel), then the n_more
 * tests in `more`.  Returns cmocka's result, for main. */
int tu_run_case_tests(const char *list_rel, const char *const *cases, int n_cases, void (*test_case)(void **state),
                      const struct CMUnitTest *more, int n_more);

/* Reproducible uniform numbers in [lo, hi) from a 64-bit state (splitmix64). */
void tu_fill_uniform(float *x, size_t n, float lo, float hi, uint64_t *state);

#endif
