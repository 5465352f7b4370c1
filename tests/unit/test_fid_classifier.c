/* The classifier distance end to end, through the built program ($RUNNER): a LeNet trained for one
 * epoch on MNIST's test split gives fd_lenet between image sets, the reference statistics cache,
 * and the spec's `fid:` section computed by the run loop (fid.csv, summary.csv), including the
 * failure before training when Inception weights are missing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "tests/unit/testutil.h"

static char lenet_dir[128], env[256];
static int lenet_rc = -1;

/* Runs RUNNER args (two threads, the cache in the temporary folder) with stdout and stderr into
 * out; returns the exit status. */
static int run(const char *args, char *out, size_t len) { return tu_run_runner(env, args, out, len); }

/* The value of the line "name: value" in out; NAN when absent. */
static double value_of(const char *out, const char *name)
{
    char key[64];
    snprintf(key, sizeof key, "\n%s: ", name);
    const char *at = strncmp(out, key + 1, strlen(key + 1)) == 0 ? out - 1 : strstr(out, key);
    return at ? strtod(at + strlen(key), NULL) : NAN;
}

static double fd_lenet(const char *a, const char *b, char *out, size_t len)
{
    char args[2048];
    snprintf(args, sizeof args, "fid --features '%s' --threads 2 '%s' '%s'", lenet_dir, a, b);
    int rc = run(args, out, len);
    if (rc != 0) fprintf(stderr, "%s\n", out);
    assert_int_equal(rc, 0);
    return value_of(out, "fd_lenet");
}

static int setup(void **state)
{
    (void)state;
    if (tu_group_setup(state) != 0) return -1;
    snprintf(env, sizeof env, "XDG_CACHE_HOME='%s/cache' OMP_NUM_THREADS=2", tu_tmpdir);
    snprintf(lenet_dir, sizeof lenet_dir, "%s/lenet", tu_tmpdir);
    char args[2048], out[16384];
    /* One epoch (157 steps) on the test split: about 99% train accuracy, a few seconds. */
    snprintf(args, sizeof args,
             "run experiments/lenet_mnist.yaml --set data.split=test --set data.root=%s --set train.epochs=1 "
             "--threads 2 --out '%s'", tu_mnist_dir(), lenet_dir);
    if ((lenet_rc = run(args, out, sizeof out)) != 0) fprintf(stderr, "lenet run failed:\n%s\n", out);
    return 0;
}

/* Two halves of MNIST's test split are the same distribution: fd_lenet 14.25 with this LeNet
 * (only sampling noise of 5000 images in 128 dimensions).  MNIST against Fashion-MNIST are
 * different domains: 430.1.  The bounds sit far from both (30 and 200) so that another BLAS or
 * thread count cannot flip them, and the ratio must stay above 10. */
static void test_halves_small_fashion_large(void **state)
{
    (void)state;
    assert_int_equal(lenet_rc, 0);
    char a[512], b[512], out[16384];
    snprintf(a, sizeof a, "mnist:test:0-5000@%s", tu_mnist_dir());
    snprintf(b, sizeof b, "mnist:test:5000-10000@%s", tu_mnist_dir());
    double halves = fd_lenet(a, b, out, sizeof out);
    snprintf(a, sizeof a, "mnist:test@%s", tu_mnist_dir());
    double domains = fd_lenet(a, "fashion_mnist:test", out, sizeof out);
    fprintf(stderr, "fd_lenet: MNIST halves %.4f, MNIST vs Fashion-MNIST %.4f\n", halves, domains);
    assert_true(halves > 0 && halves < 30);
    assert_true(domains > 200);
    assert_true(domains > 10 * halves);
}

/* Statistics of a dataset side come from the cache on the second call; changed pixels miss it. */
static void test_cache_hit_and_invalidation(void **state)
{
    (void)state;
    assert_int_equal(lenet_rc, 0);
    char a[512], b[512], out[16384], copy[256], cmd[2048];
    snprintf(a, sizeof a, "mnist:test:0-1000@%s", tu_mnist_dir());
    snprintf(b, sizeof b, "mnist:test:1000-2000@%s", tu_mnist_dir());
    double first = fd_lenet(a, b, out, sizeof out);
    assert_null(strstr(out, "from the cache"));
    double second = fd_lenet(a, b, out, sizeof out);
    assert_non_null(strstr(out, "A: mnist-test:0-1000, 1000 images of 1x28x28 (statistics from the cache)"));
    assert_non_null(strstr(out, "B: mnist-test:1000-2000, 1000 images of 1x28x28 (statistics from the cache)"));
    assert_true(fabs(first - second) <= 1e-9 * first);
    /* A copy of the split with one pixel of image 1 changed. */
    snprintf(copy, sizeof copy, "%s/mnist_changed", tu_tmpdir);
    snprintf(cmd, sizeof cmd,
             "mkdir -p '%s' && cp '%s/t10k-labels-idx1-ubyte.gz' '%s/' && zcat '%s/t10k-images-idx3-ubyte.gz' > '%s/raw' "
             "&& printf '\\377' | dd of='%s/raw' bs=1 seek=1000 conv=notrunc status=none "
             "&& gzip -c '%s/raw' > '%s/t10k-images-idx3-ubyte.gz'",
             copy, tu_mnist_dir(), copy, tu_mnist_dir(), copy, copy, copy, copy);
    assert_int_equal(system(cmd), 0);
    snprintf(a, sizeof a, "mnist:test:0-1000@%s", copy);
    double changed = fd_lenet(a, b, out, sizeof out);
    assert_non_null(strstr(out, "A: mnist-test:0-1000, 1000 images of 1x28x28\n"));
    assert_non_null(strstr(out, "(statistics from the cache)")); /* B is unchanged */
    assert_true(changed != first);
}

static void read_file(const char *path, char *buf, size_t len)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(buf, 1, len - 1, f);
    buf[n] = '\0';
    fclose(f);
}

/* A short GAN run with `fid:` naming the LeNet, evaluated after every epoch (157 steps of 64) and at
 * the end against the test split's first 2,000 images: the rows land in fid.csv, the last values
 * in summary.csv. */
static void test_fid_during_training(void **state)
{
    (void)state;
    assert_int_equal(lenet_rc, 0);
    char args[2048], out[16384], path[256], text[8192];
    snprintf(args, sizeof args,
             "run experiments/gan_mnist.yaml --set data.split=test --set data.root=%s --set train.steps=160 "
             "--set fid.features='%s' --set fid.samples=500 --set fid.every_epochs=1 --set 'fid.also=[kid]' "
             "--set fid.reference.count=2000 --set log.every_steps=80 --set samples.every_epochs=0 --threads 2 "
             "--out '%s/gan'",
             tu_mnist_dir(), lenet_dir, tu_tmpdir);
    int rc = run(args, out, sizeof out);
    if (rc != 0) fprintf(stderr, "%s\n", out);
    assert_int_equal(rc, 0);
    if (!strstr(out, "step 160, fd_lenet: ") || !strstr(out, " (500 samples vs 2000 images of mnist test)\n"))
        fail_msg("no FID line against 2000 reference images in:\n%s", out);
    snprintf(path, sizeof path, "%s/gan/fid.csv", tu_tmpdir);
    read_file(path, text, sizeof text);
    const char *header = "epoch,step,fd_lenet,kid_mean,kid_std\n";
    assert_memory_equal(text, header, strlen(header));
    double fd[2], kid[2], kid_std[2];
    int epoch[2], step[2], used = 0;
    const char *row = text + strlen(header);
    for (int i = 0; i < 2; i++, row += used)
        assert_int_equal(sscanf(row, "%d,%d,%lf,%lf,%lf\n%n", &epoch[i], &step[i], &fd[i], &kid[i], &kid_std[i], &used), 5);
    assert_string_equal(row, "");
    assert_int_equal(epoch[0], 1);
    assert_int_equal(step[0], 157);
    assert_int_equal(epoch[1], 2);
    assert_int_equal(step[1], 160);
    /* 160 steps make blurred strokes, nothing like digits yet: far above the halves' 14. */
    for (int i = 0; i < 2; i++) assert_true(isfinite(fd[i]) && fd[i] > 30 && isfinite(kid[i]) && kid_std[i] >= 0);
    snprintf(path, sizeof path, "%s/gan/summary.csv", tu_tmpdir);
    read_file(path, text, sizeof text);
    assert_non_null(strstr(text, ",fd_lenet,kid_mean,kid_std,"));
}

/* Without Inception weights the run stops before anything is written, saying how to get them. */
static void test_missing_inception_fails_before_training(void **state)
{
    (void)state;
    char args[2048], out[16384], path[256];
    snprintf(args, sizeof args,
             "run experiments/gan_mnist.yaml --set data.split=test --set data.root=%s --set train.steps=20 "
             "--set fid.features=inception --set fid.weights='%s/absent.safetensors' --threads 2 --out '%s/nofid'",
             tu_mnist_dir(), tu_tmpdir, tu_tmpdir);
    assert_int_not_equal(run(args, out, sizeof out), 0);
    assert_non_null(strstr(out, "FID Inception weights not found at"));
    assert_non_null(strstr(out, "tools/convert_fid_inception.py"));
    assert_non_null(strstr(out, "`make setup` installs them at data/fid/pt_inception-2015-12-05-6726825d.safetensors"));
    snprintf(path, sizeof path, "%s/nofid", tu_tmpdir);
    assert_false(tu_exists(path));
    /* A folder given as the weights is named as such. */
    snprintf(args, sizeof args, "fid mnist:test:0-10@%s mnist:test:10-20@%s --weights '%s'", tu_mnist_dir(),
             tu_mnist_dir(), tu_tmpdir);
    assert_int_not_equal(run(args, out, sizeof out), 0);
    if (!strstr(out, "is a directory, not a safetensors file")) fail_msg("%s", out);
}

TU_MAIN(setup, tu_group_teardown,
        cmocka_unit_test(test_halves_small_fashion_large),
        cmocka_unit_test(test_cache_hit_and_invalidation),
        cmocka_unit_test(test_fid_during_training),
        cmocka_unit_test(test_missing_inception_fails_before_training))
