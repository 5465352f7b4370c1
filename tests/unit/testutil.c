/* Shared test support (see testutil.h). */
#include "tests/unit/testutil.h"

#include <setjmp.h>
#include <stdarg.h>
#include <cmocka.h>

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

const char *tu_fixtures_dir(void)
{
    const char *dir = getenv("FIXTURES_DIR");
    return dir && *dir ? dir : "build/fixtures";
}

char *tu_fixture_path(char *buf, size_t len, const char *rel)
{
    snprintf(buf, len, "%s/%s", tu_fixtures_dir(), rel);
    return buf;
}

char tu_tmpdir[64];

int tu_group_setup(void **state)
{
    (void)state;
    extern char *program_invocation_short_name; /* glibc: the test program's name */
    return tu_make_tmpdir(tu_tmpdir, sizeof tu_tmpdir, program_invocation_short_name);
}

int tu_group_teardown(void **state)
{
    (void)state;
    return tu_remove_tree(tu_tmpdir);
}

char *tu_tmp(char *buf, size_t len, const char *name) { return tu_join(buf, len, tu_tmpdir, name); }

int tu_make_tmpdir(char *dir, size_t len, const char *name)
{
    snprintf(dir, len, "/tmp/%s.XXXXXX", name);
    return mkdtemp(dir) ? 0 : -1;
}

int tu_remove_tree(const char *dir)
{
    char cmd[1100];
    snprintf(cmd, sizeof cmd, "chmod -R u+w '%s' && rm -rf '%s'", dir, dir);
    return system(cmd) == 0 ? 0 : -1;
}

char *tu_join(char *buf, size_t len, const char *dir, const char *name)
{
    snprintf(buf, len, "%s/%s", dir, name);
    return buf;
}

void tu_write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    if (!f) fail_msg("cannot write %s", path);
    fputs(text, f);
    if (fclose(f) != 0) fail_msg("cannot write %s", path);
}

bool tu_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

const char *tu_runner(void)
{
    const char *r = getenv("RUNNER");
    return r && *r ? r : "build/runner";
}

const char *tu_mnist_dir(void)
{
    const char *d = getenv("MNIST_DIR");
    return d && *d ? d : "tests/data/mnist";
}

int tu_pclose_reading(FILE *p, char *out, size_t len)
{
    size_t n = fread(out, 1, len - 1, p);
    out[n] = '\0';
    /* Read what does not fit to the end: closing the pipe early would end the writer with SIGPIPE. */
    char rest[4096];
    while (fread(rest, 1, sizeof rest, p) > 0) {
    }
    return pclose(p);
}

int tu_run_runner(const char *prefix, const char *args, char *out, size_t len)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s '%s' %s 2>&1", prefix, tu_runner(), args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    int status = tu_pclose_reading(p, out, len);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

pid_t tu_start_runner(const char *args, const char *log)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "exec '%s' %s >'%s' 2>&1", tu_runner(), args, log);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    return pid;
}

int tu_wait_runner(pid_t pid)
{
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

void tu_kill_runner(pid_t *pid)
{
    if (*pid <= 0) return;
    kill(*pid, SIGKILL);
    waitpid(*pid, NULL, 0);
    *pid = 0;
}

void tu_expect_fixture_cases(const char *rel, const char *const *cases, int n_cases)
{
    char path[512], line[128];
    FILE *f = fopen(tu_fixture_path(path, sizeof path, rel), "r");
    if (!f) fail_msg("cannot open %s: run make fixtures", path);
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        bool known = false;
        for (int i = 0; i < n_cases; i++) known |= !strcmp(cases[i], line);
        if (!known) fail_msg("fixture case '%s' has no test here", line);
        n++;
    }
    fclose(f);
    assert_int_equal(n, n_cases);
}

const char *tu_err(const Error *err)
{
    static char text[ERROR_TEXT_MAX];
    return err_text(err, text, sizeof text);
}

unsigned char *tu_read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("cannot open %s (run make fixtures)", path);
    fseek(f, 0, SEEK_END);
    *size = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *data = malloc(*size ? *size : 1);
    assert_non_null(data);
    assert_int_equal(fread(data, 1, *size, f), *size);
    fclose(f);
    return data;
}

/* What test_every_fixture_case_is_tested checks: one program runs one set of cases. */
static struct {
    const char *list_rel;
    const char *const *cases;
    int n_cases;
} case_list;

static void test_every_fixture_case_is_tested(void **state)
{
    (void)state;
    tu_expect_fixture_cases(case_list.list_rel, case_list.cases, case_list.n_cases);
}

int tu_run_case_tests(const char *list_rel, const char *const *cases, int n_cases, void (*test_case)(void **state),
                      const struct CMUnitTest *more, int n_more)
{
    case_list.list_rel = list_rel, case_list.cases = cases, case_list.n_cases = n_cases;
    size_t n = 0;
    struct CMUnitTest *tests = calloc((size_t)n_cases + 1 + (size_t)n_more, sizeof *tests);
    if (!tests) return 1;
    for (int i = 0; i < n_cases; i++)
        tests[n++] = (struct CMUnitTest){.name = cases[i], .test_func = test_case, .initial_state = (void *)cases[i]};
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_every_fixture_case_is_tested);
    for (int i = 0; i < n_more; i++) tests[n++] = more[i];
    /* cmocka_run_group_tests needs an array of fixed size; the function it expands to takes the length. */
    int rc = _cmocka_run_group_tests("tests", tests, n, NULL, NULL);
    free(tests);
    return rc;
}

double tu_max_abs(const float *x, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        if (fabs((double)x[i]) > m) m = fabs((double)x[i]);
    return m;
}

double tu_l2(const float *a, size_t n)
{
    double s2 = 0;
    for (size_t k = 0; k < n; k++) s2 += (double)a[k] * a[k];
    return sqrt(s2);
}

double tu_l2_diff(const float *a, const float *b, size_t n)
{
    double d2 = 0;
    for (size_t k = 0; k < n; k++) d2 += ((double)a[k] - b[k]) * ((double)a[k] - b[k]);
    return sqrt(d2);
}

bool tu_allclose(const char *what, const float *got, const float *want, size_t n, double rtol,
                 double atol, char *msg, size_t msg_len)
{
    size_t bad = 0, worst = 0;
    double worst_excess = -1;
    for (size_t i = 0; i < n; i++) {
        double diff = fabs((double)got[i] - (double)want[i]);
        double tol = rtol * fabs((double)want[i]) + atol;
        if (!isfinite(got[i]) || diff > tol) {
            double excess = isfinite(got[i]) ? diff / tol : INFINITY;
            if (excess > worst_excess) worst_excess = excess, worst = i;
            bad++;
        }
    }
    if (!bad) return true;
    snprintf(msg, msg_len, "%s: %zu of %zu values differ; worst at [%zu]: got %.8g, want %.8g (tol %.3g)",
             what, bad, n, worst, got[worst], want[worst], rtol * fabs((double)want[worst]) + atol);
    return false;
}

void tu_fill_uniform(float *x, size_t n, float lo, float hi, uint64_t *state)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        z ^= z >> 31;
        x[i] = lo + (hi - lo) * (float)((double)(z >> 40) / (double)(1ull << 24));
    }
}

/* cmocka prints progress to stdout and verdicts to stderr; when both go to one pipe, a fully
 * buffered stdout would interleave them mid-line.  Every test program links this file. */
__attribute__((constructor)) static void tu_line_buffered_stdout(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
}
