/* Replays every fuzz input kept in the tree (tests/fuzz/<target>/corpus and .../regressions)
 * through the gcc-built harnesses of tests/fuzz/: each must return without a crash, a sanitizer
 * report (make asan) or a failed harness check.  A new target is one line in TARGETS. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TARGETS(X) \
    X(spec)        \
    X(idx)         \
    X(cifar)       \
    X(png)         \
    X(safetensors) \
    X(checkpoint)  \
    X(fid_cache)

#define DECLARE(name) int fuzz_##name(const uint8_t *data, size_t size);
TARGETS(DECLARE)

typedef int (*Harness)(const uint8_t *data, size_t size);

/* The input being replayed, named on stderr when a harness check aborts. */
static char current[640];

static void name_input(int sig)
{
    static const char what[] = "fuzz replay: failing input: ";
    if (write(2, what, sizeof what - 1) < 0 || write(2, current, strlen(current)) < 0) {}
    signal(sig, SIG_DFL);
    raise(sig);
}

static uint8_t *read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0, got;
    do {
        if (len == cap) {
            cap = cap ? 2 * cap : 4096;
            uint8_t *more = realloc(buf, cap);
            if (!more) break;
            buf = more;
        }
        got = fread(buf + len, 1, cap - len, f);
        len += got;
    } while (got > 0);
    fclose(f);
    *size = len;
    return buf;
}

/* Runs the harness on every file of tests/fuzz/<target>/<kind> (a missing folder holds none). */
static int replay_folder(const char *target, const char *kind, Harness run)
{
    char dir[256];
    snprintf(dir, sizeof dir, "tests/fuzz/%s/%s", target, kind);
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        char path[600];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        size_t size = 0;
        uint8_t *data = read_file(path, &size);
        if (!data) fail_msg("cannot read %s", path);
        snprintf(current, sizeof current, "%s\n", path);
        run(data, size);
        free(data);
        n++;
    }
    closedir(d);
    return n;
}

static void replay(const char *target, Harness run)
{
    int seeds = replay_folder(target, "corpus", run);
    int regressions = replay_folder(target, "regressions", run);
    print_message("%s: %d seeds, %d regression inputs\n", target, seeds, regressions);
    assert_true(seeds > 0);
}

#define TEST(name) \
    static void test_##name(void **state) { (void)state; replay(#name, fuzz_##name); }
TARGETS(TEST)

int main(void)
{
    signal(SIGABRT, name_input);
#define ENTRY(name) cmocka_unit_test(test_##name),
    const struct CMUnitTest tests[] = {TARGETS(ENTRY)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
