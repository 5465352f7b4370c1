/* The results folder as something to protect: --force replaces only a folder the runner made
 * (never the current directory, a parent of it or the home directory, whatever the spelling), a
 * run that cannot start leaves the old results as they were, a folder in use is locked (the
 * refusal names the holder's process id), weights that are not finite draw no grid, and `sample`
 * writes where it says.  Short runs (2 steps) through the built program ($RUNNER). */
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
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runner/io/results.h"
#include "tests/unit/testutil.h"

/* "run <spec> <data options> <short run>": absolute paths, so it works from any directory. */
static char run_args[2048];

static void expect_text(const char *path, const char *text)
{
    char buf[256] = {0};
    FILE *f = fopen(path, "r");
    if (!f) fail_msg("%s is gone", path);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    assert_string_equal(buf, text);
}

static void expect_in(const char *out, const char *want)
{
    if (!strstr(out, want)) fail_msg("expected '%s' in:\n%s", want, out);
}

/* `cd cwd && env RUNNER args`; cwd and env may be NULL.  A sanitizer's report fails the test even
 * where the run was meant to fail. */
static int run_in(const char *cwd, const char *env, const char *args, char *out, size_t len)
{
    char prefix[1024];
    snprintf(prefix, sizeof prefix, "%s%s%s %s", cwd ? "cd '" : "", cwd ? cwd : "", cwd ? "' &&" : "", env ? env : "");
    int rc = tu_run_runner(prefix, args, out, len);
    if (strstr(out, "Sanitizer")) fail_msg("runner %s:\n%s", args, out);
    return rc;
}

/* A short run into `dir` (extra options appended); returns the exit status. */
static int short_run(const char *cwd, const char *env, const char *dir, const char *extra, char *out, size_t len)
{
    char args[4096];
    snprintf(args, sizeof args, "%s --out '%s' %s", run_args, dir, extra ? extra : "");
    return run_in(cwd, env, args, out, len);
}

/* One finished run, made in setup; tests take copies of it. */
static char base_dir[128];
static int base_rc = -1;
static char base_out[16384];

/* A copy of the finished run in tu_tmpdir/name, with a file of ours added to tell it apart from its
 * replacement. */
static void make_results(char *dir, size_t len, const char *name)
{
    char cmd[1200], extra[600];
    if (base_rc != 0) fail_msg("the run in setup failed (%d):\n%s", base_rc, base_out);
    tu_tmp(dir, len, name);
    snprintf(cmd, sizeof cmd, "cp -a '%s' '%s'", base_dir, dir);
    assert_int_equal(system(cmd), 0);
    tu_write_text(tu_join(extra, sizeof extra, dir, "old.txt"), "old results\n");
}

/* A folder of the user's: a file and a subfolder with a file. */
static void make_user_folder(const char *dir)
{
    char path[600];
    assert_int_equal(mkdir(dir, 0777), 0);
    tu_write_text(tu_join(path, sizeof path, dir, "notes.txt"), "mine\n");
    assert_int_equal(mkdir(tu_join(path, sizeof path, dir, "data"), 0777), 0);
    tu_write_text(tu_join(path, sizeof path, dir, "data/table.csv"), "a,b\n");
}

static void expect_user_folder(const char *dir)
{
    char path[600];
    expect_text(tu_join(path, sizeof path, dir, "notes.txt"), "mine\n");
    expect_text(tu_join(path, sizeof path, dir, "data/table.csv"), "a,b\n");
}

/* No staging folder (".<name>.runner-...") left in `parent`. */
static void expect_no_staging(const char *parent)
{
    DIR *d = opendir(parent);
    assert_non_null(d);
    for (struct dirent *e; (e = readdir(d));)
        if (strstr(e->d_name, ".runner-")) fail_msg("left behind in %s: %s", parent, e->d_name);
    closedir(d);
}

static int setup(void **state)
{
    (void)state;
    if (tu_group_setup(state) != 0) return -1;
    signal(SIGPIPE, SIG_IGN);
    /* The tests change directory before running it. */
    char *runner = realpath(tu_runner(), NULL), *cwd = getcwd(NULL, 0);
    if (!runner || !cwd) return -1;
    setenv("RUNNER", runner, 1);
    /* MNIST's test split where the repository has it, else Debian's Fashion-MNIST. */
    char *mnist = realpath(tu_mnist_dir(), NULL), probe[4200] = "";
    if (mnist) snprintf(probe, sizeof probe, "%s/t10k-images-idx3-ubyte.gz", mnist);
    if (mnist && tu_exists(probe))
        snprintf(run_args, sizeof run_args, "run '%s/experiments/gan_mnist.yaml' --set data.root='%s' --set fid.at_end=false",
                 cwd, mnist);
    else
        snprintf(run_args, sizeof run_args, "run '%s/experiments/gan_fashion.yaml'", cwd);
    strcat(run_args, " --set data.split=test --set train.steps=2 --set samples.count=4 --set samples.nrow=2 --set data.batch_size=8 --threads 1");
    free(runner), free(cwd), free(mnist);
    tu_tmp(base_dir, sizeof base_dir, "base");
    base_rc = short_run(NULL, NULL, base_dir, NULL, base_out, sizeof base_out);
    return 0;
}

/* The report of issue 9: `--out . --force` emptied the current directory. */
static void test_force_on_current_directory(void **state)
{
    (void)state;
    char dir[512], out[16384];
    make_user_folder(tu_tmp(dir, sizeof dir, "cwd"));
    int rc = short_run(dir, NULL, ".", "--force", out, sizeof out);
    assert_int_not_equal(rc, 0);
    expect_in(out, "refusing to replace '.'");
    expect_in(out, "current directory");
    expect_user_folder(dir);
    /* Other spellings of the same folder: a trailing slash, a detour through a subfolder. */
    short_run(dir, NULL, "./", "--force", out, sizeof out);
    expect_in(out, "current directory");
    short_run(dir, NULL, "data/..", "--force", out, sizeof out);
    expect_in(out, "current directory");
    expect_user_folder(dir);
    expect_no_staging(dir);
}

/* A folder that is not a results folder, even one holding a spec.yaml, is the user's. */
static void test_force_on_other_folder(void **state)
{
    (void)state;
    char dir[512], path[600], out[16384];
    make_user_folder(tu_tmp(dir, sizeof dir, "other"));
    tu_write_text(tu_join(path, sizeof path, dir, "spec.yaml"), "name: mine\n");
    assert_int_not_equal(short_run(NULL, NULL, dir, "--force", out, sizeof out), 0);
    expect_in(out, "not a results folder");
    expect_in(out, RESULTS_MARKER);
    expect_user_folder(dir);
    expect_text(path, "name: mine\n");
    expect_no_staging(tu_tmpdir);
}

/* The home directory and the parents of the current one, even when they look like results. */
static void test_force_on_home_and_parent(void **state)
{
    (void)state;
    char home[512], child[600], path[700], env[600], out[16384];
    make_user_folder(tu_tmp(home, sizeof home, "home"));
    tu_write_text(tu_join(path, sizeof path, home, "spec.yaml"), "name: mine\n");
    tu_write_text(tu_join(path, sizeof path, home, RESULTS_MARKER), "\n");
    snprintf(env, sizeof env, "HOME='%s'", home);
    assert_int_not_equal(short_run(NULL, env, home, "--force", out, sizeof out), 0);
    expect_in(out, "home directory");
    expect_user_folder(home);

    /* From home/data: '..' and home's absolute path are both a parent of the current directory. */
    tu_join(child, sizeof child, home, "data");
    assert_int_not_equal(short_run(child, NULL, "..", "--force", out, sizeof out), 0);
    expect_in(out, "one of its parents");
    assert_int_not_equal(short_run(child, NULL, home, "--force", out, sizeof out), 0);
    expect_in(out, "one of its parents");
    assert_int_not_equal(short_run(child, NULL, "/", "--force", out, sizeof out), 0);
    expect_in(out, "one of its parents");
    expect_user_folder(home);
}

/* A results folder the runner made is replaced whole, with nothing left beside it. */
static void test_force_replaces_results(void **state)
{
    (void)state;
    char dir[512], path[600], out[16384];
    make_results(dir, sizeof dir, "replaced");
    int rc = short_run(NULL, NULL, dir, "--force", out, sizeof out);
    if (rc != 0) fail_msg("run --force failed (%d):\n%s", rc, out);
    assert_false(tu_exists(tu_join(path, sizeof path, dir, "old.txt")));
    assert_true(tu_exists(tu_join(path, sizeof path, dir, "metrics.csv")));
    assert_true(tu_exists(tu_join(path, sizeof path, dir, RESULTS_MARKER)));
    expect_no_staging(tu_tmpdir);
    /* Without --force an existing folder is never touched. */
    assert_int_not_equal(short_run(NULL, NULL, dir, NULL, out, sizeof out), 0);
    expect_in(out, "already exists");
}

/* A run that fails a check (drop_last with fewer examples than a batch) leaves the old results. */
static void test_failed_start_keeps_old_results(void **state)
{
    (void)state;
    char dir[512], path[600], out[16384];
    make_results(dir, sizeof dir, "kept");
    /* Ten blank 28x28 images in an IDX file, batches of 16. */
    char images[512], extra[1024];
    tu_tmp(images, sizeof images, "ten-images-idx3-ubyte");
    static uint8_t idx[16 + 10 * 28 * 28] = {0, 0, 8, 3, 0, 0, 0, 10, 0, 0, 0, 28, 0, 0, 0, 28};
    FILE *f = fopen(images, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(idx, 1, sizeof idx, f), sizeof idx);
    assert_int_equal(fclose(f), 0);
    snprintf(extra, sizeof extra, "--force --set data.drop_last=true --set data.batch_size=16 --set data.dataset=idx --set data.images='%s'", images);
    int rc = short_run(NULL, NULL, dir, extra, out, sizeof out);
    assert_int_not_equal(rc, 0);
    expect_in(out, "drop_last");
    expect_text(tu_join(path, sizeof path, dir, "old.txt"), "old results\n");
    assert_true(tu_exists(tu_join(path, sizeof path, dir, "checkpoints/last.safetensors")));
    expect_no_staging(tu_tmpdir);
}

/* A second process that holds the lock (taken through the library, as a run takes it): the run is
 * refused with that process's id, and goes ahead once the holder is gone. */
static void test_lock_refuses_second_run(void **state)
{
    (void)state;
    char dir[512], out[16384], want[64];
    make_results(dir, sizeof dir, "locked");
    int ready[2], release[2];
    assert_int_equal(pipe(ready), 0);
    assert_int_equal(pipe(release), 0);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        close(ready[0]), close(release[1]);
        Error err = {0};
        char ok = results_lock(dir, &err) >= 0 ? 'y' : 'n';
        if (write(ready[1], &ok, 1) != 1) _exit(2);
        char c;
        (void)!read(release[0], &c, 1); /* until the parent closes its end */
        _exit(0);
    }
    close(ready[1]), close(release[0]);
    char ok = 0;
    assert_int_equal(read(ready[0], &ok, 1), 1);
    assert_int_equal(ok, 'y');
    assert_int_not_equal(short_run(NULL, NULL, dir, "--force", out, sizeof out), 0);
    snprintf(want, sizeof want, "process %ld", (long)child);
    expect_in(out, "in use by another run");
    expect_in(out, want);
    char path[600];
    expect_text(tu_join(path, sizeof path, dir, "old.txt"), "old results\n");
    close(release[1]);
    int status;
    assert_int_equal(waitpid(child, &status, 0), child);
    close(ready[0]);
    int rc = short_run(NULL, NULL, dir, "--force", out, sizeof out);
    if (rc != 0) fail_msg("run --force after the holder ended failed (%d):\n%s", rc, out);
}

/* A folder being written (results_open holds its lock from before it is in place until
 * results_close): another run cannot replace it, and nothing appears at its place before publish. */
static void test_open_folder_is_locked(void **state)
{
    (void)state;
    char dir[512], out[16384], want[64], path[600];
    tu_tmp(dir, sizeof dir, "in-use");
    Results r;
    Error err = {0};
    if (results_open(&r, dir, false, &err)) fail_msg("%s", tu_err(&err));
    assert_false(tu_exists(dir));
    if (results_path(&r, "spec.yaml", path, sizeof path, &err)) fail_msg("%s", tu_err(&err));
    tu_write_text(path, "name: in-use\n");
    if (results_publish(&r, &err)) fail_msg("%s", tu_err(&err));
    assert_string_equal(r.dir, dir);
    assert_true(tu_exists(tu_join(path, sizeof path, dir, RESULTS_MARKER)));
    assert_int_not_equal(short_run(NULL, NULL, dir, "--force", out, sizeof out), 0);
    snprintf(want, sizeof want, "process %ld", (long)getpid());
    expect_in(out, want);
    /* A second open of a folder that exists is refused, without --force too. */
    Results again;
    assert_int_not_equal(results_open(&again, dir, false, &err), 0);
    expect_in(err.msg, "already exists");
    results_close(&again);
    results_close(&r);
    assert_true(tu_exists(dir));
    expect_no_staging(tu_tmpdir);
}

/* Two runs that start together into a folder that does not exist yet: both build theirs, the
 * first to publish gets the place, the second is refused and leaves nothing. */
static void test_racing_creation(void **state)
{
    (void)state;
    char dir[512], path[600];
    tu_tmp(dir, sizeof dir, "raced");
    Results a, b;
    Error err = {0};
    if (results_open(&a, dir, false, &err) || results_open(&b, dir, false, &err)) fail_msg("%s", tu_err(&err));
    if (results_publish(&a, &err)) fail_msg("%s", tu_err(&err));
    assert_int_not_equal(results_publish(&b, &err), 0);
    expect_in(err.msg, "already exists (another run created it meanwhile)");
    results_close(&b);
    results_close(&a);
    assert_true(tu_exists(tu_join(path, sizeof path, dir, RESULTS_MARKER)));
    expect_no_staging(tu_tmpdir);
}

/* Every weight NaN: `sample` says how many values are not finite, exits non-zero, writes nothing. */
static void test_nan_weights(void **state)
{
    (void)state;
    char dir[512], ckpt[600], png[600], args[2048], out[16384];
    make_results(dir, sizeof dir, "nan");
    /* safetensors: an 8-byte header length, the JSON header, then the tensors: all 0xff, a NaN. */
    tu_join(ckpt, sizeof ckpt, dir, "checkpoints/last.safetensors");
    FILE *f = fopen(ckpt, "r+b");
    assert_non_null(f);
    uint64_t header = 0;
    assert_int_equal(fread(&header, 8, 1, f), 1);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long end = ftell(f), start = 8 + (long)header;
    assert_true(start < end);
    assert_int_equal(fseek(f, start, SEEK_SET), 0);
    for (long i = start; i < end; i++) fputc(0xff, f);
    assert_int_equal(fclose(f), 0);
    tu_tmp(png, sizeof png, "nan.png");
    snprintf(args, sizeof args, "sample '%s' --count 4 --nrow 2 --out '%s'", dir, png);
    assert_int_not_equal(run_in(NULL, NULL, args, out, sizeof out), 0);
    expect_in(out, "of 4 samples are not finite");
    expect_in(out, "no grid written");
    assert_false(tu_exists(png));
}

/* Without --out, `sample` writes into the run's samples/ folder, not the current directory, and
 * says so; with --out, where asked. */
static void test_sample_location(void **state)
{
    (void)state;
    char dir[512], cwd[512], path[700], args[2048], out[16384];
    make_results(dir, sizeof dir, "sampled");
    make_user_folder(tu_tmp(cwd, sizeof cwd, "elsewhere"));
    snprintf(args, sizeof args, "sample '%s' --count 4 --nrow 2 --seed 3", dir);
    int rc = run_in(cwd, NULL, args, out, sizeof out);
    if (rc != 0) fail_msg("sample failed (%d):\n%s", rc, out);
    tu_join(path, sizeof path, dir, "samples/sample_seed3.png");
    assert_true(tu_exists(path));
    char said[800];
    snprintf(said, sizeof said, "written to %s", path);
    expect_in(out, said);
    assert_false(tu_exists(tu_join(path, sizeof path, cwd, "samples.png")));
    snprintf(args, sizeof args, "sample '%s' --count 4 --nrow 2 --out grid.png", dir);
    rc = run_in(cwd, NULL, args, out, sizeof out);
    if (rc != 0) fail_msg("sample --out failed (%d):\n%s", rc, out);
    expect_in(out, "written to grid.png");
    assert_true(tu_exists(tu_join(path, sizeof path, cwd, "grid.png")));
}

TU_MAIN(setup, tu_group_teardown,
        cmocka_unit_test(test_force_on_current_directory),
        cmocka_unit_test(test_force_on_other_folder),
        cmocka_unit_test(test_force_on_home_and_parent),
        cmocka_unit_test(test_force_replaces_results),
        cmocka_unit_test(test_failed_start_keeps_old_results),
        cmocka_unit_test(test_lock_refuses_second_run),
        cmocka_unit_test(test_open_folder_is_locked),
        cmocka_unit_test(test_racing_creation),
        cmocka_unit_test(test_nan_weights),
        cmocka_unit_test(test_sample_location))
