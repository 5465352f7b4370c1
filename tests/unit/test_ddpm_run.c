/* A diffusion run end to end through the built program ($RUNNER): tests/specs/good/ddpm_tiny.yaml for
 * 40 steps on Fashion-MNIST writes every file (metrics.csv and epochs.csv with the validation loss,
 * the sample grids, forward.png and reverse.png, the loss plot, a checkpoint holding the weight
 * average, summary.csv); the same spec twice gives the same grids; `runner sample` with DDIM and
 * eta 0 gives byte-identical grids for a seed, other grids for another seed, eta or sampler; and
 * its sampler options are checked as the spec's values are. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runner/algo/experiment.h"
#include "runner/data/dataset.h"
#include "runner/io/metrics_csv.h"
#include "runner/io/png_image.h"
#include "tests/unit/results_files.h"
#include "tests/unit/testutil.h"

#define SPEC "tests/specs/good/ddpm_tiny.yaml"

static char run_dir[128], again_dir[128];
static int run_rc = -1, again_rc = -1;

static int run(const char *args, char *out, size_t len) { return tu_run_runner("", args, out, len); }

static int setup(void **state)
{
    if (tu_group_setup(state) != 0) return -1;
    Dataset probe;
    Error err = {0};
    if (dataset_load_mnist_like("fashion_mnist", DATASET_FASHION_MNIST_ROOT, "test", &probe, &err)) {
        fprintf(stderr, "%s (make setup installs dataset-fashion-mnist)\n", tu_err(&err));
        return -1;
    }
    dataset_free(&probe);
    char args[1024], out[16384];
    char *dirs[2] = {run_dir, again_dir};
    int *rcs[2] = {&run_rc, &again_rc};
    for (int i = 0; i < 2; i++) {
        tu_tmp(dirs[i], sizeof run_dir, i ? "again" : "ddpm");
        snprintf(args, sizeof args, "run " SPEC " --threads 2 --out '%s'", dirs[i]);
        if ((*rcs[i] = run(args, out, sizeof out)) != 0) fprintf(stderr, "ddpm run failed:\n%s\n", out);
    }
    return 0;
}

static void expect_header(const MetricsTable *t, const char *const *cols, int n)
{
    assert_int_equal(t->n_cols, n);
    for (int c = 0; c < n; c++) assert_string_equal(t->header[c], cols[c]);
}

static const char *cell(const MetricsTable *t, int row, const char *col)
{
    int c = metrics_table_col(t, col);
    if (c < 0) fail_msg("no column '%s'", col);
    return metrics_table_get(t, row, c);
}

static void test_metrics_and_epochs(void **state)
{
    (void)state;
    assert_int_equal(run_rc, 0);
    MetricsTable t;
    tu_read_table(run_dir, "metrics.csv", &t);
    static const char *const cols[] = {"step", "epoch", "time_s", "lr_denoiser", "loss", "val_loss"};
    expect_header(&t, cols, 6);
    assert_int_equal(t.n_rows, 4); /* every 10 of 40 steps */
    for (int r = 0; r < 4; r++) {
        assert_int_equal((int)tu_num(&t, r, "step"), 10 * (r + 1));
        double loss = tu_num(&t, r, "loss");
        assert_true(loss > 0.1 && loss < 10);
    }
    assert_string_equal(cell(&t, 0, "val_loss"), ""); /* the test split after the last step only */
    char val[64];
    snprintf(val, sizeof val, "%s", cell(&t, 3, "val_loss"));
    double v = tu_num(&t, 3, "val_loss");
    assert_true(v > 0.1 && v < 10);
    metrics_table_free(&t);
    /* One row: the run ends within its first epoch, with the mean loss of its 40 steps. */
    tu_read_table(run_dir, "epochs.csv", &t);
    static const char *const ecols[] = {"epoch", "step", "loss", "val_loss"};
    expect_header(&t, ecols, 4);
    assert_int_equal(t.n_rows, 1);
    assert_int_equal((int)tu_num(&t, 0, "epoch"), 1);
    assert_int_equal((int)tu_num(&t, 0, "step"), 40);
    assert_true(tu_num(&t, 0, "loss") > 0.1);
    assert_string_equal(cell(&t, 0, "val_loss"), val);
    metrics_table_free(&t);
    tu_read_table(run_dir, "summary.csv", &t);
    assert_string_equal(cell(&t, 0, "algorithm"), "ddpm");
    assert_true(tu_num(&t, 0, "final_val_loss") == v);
    metrics_table_free(&t);
}

static void test_pictures(void **state)
{
    (void)state;
    assert_int_equal(run_rc, 0);
    /* 16 samples, 4 a row, of 28x28 with padding 2: (28 + 2) * 4 + 2 = 122. */
    tu_expect_png(run_dir, "samples/epoch_0000.png", 122, 122);
    tu_expect_png(run_dir, "samples/final.png", 122, 122);
    /* forward: 3 images and the chain row (4 rows) at 5 timesteps; reverse: 4 samples with x_T and
     * a snapshot every 5 of the 20 DDIM steps (5 columns). */
    tu_expect_png(run_dir, "samples/forward.png", 152, 122);
    tu_expect_png(run_dir, "samples/reverse.png", 152, 122);
    tu_expect_png(run_dir, "plots/losses.png", 800, 500);
}

/* The checkpoint holds the denoiser, its weight average and the optimizer, nothing else, and the
 * average (decay 0.9 from step 5) is not the weights. */
static void test_checkpoint_holds_average(void **state)
{
    (void)state;
    assert_int_equal(run_rc, 0);
    char spec_path[512], ckpt[512];
    snprintf(spec_path, sizeof spec_path, "%s/spec.yaml", run_dir);
    snprintf(ckpt, sizeof ckpt, "%s/checkpoints/last.safetensors", run_dir);
    Spec spec;
    Experiment x;
    StFile f;
    Error err = {0};
    if (spec_load(spec_path, NULL, 0, &spec, &err)) fail_msg("%s", tu_err(&err));
    assert_true(spec.ema.enabled);
    Shape shape = shape_of(3, (int64_t)1, (int64_t)28, (int64_t)28);
    if (experiment_build(&x, &spec, backend_cpu(), spec.data.batch_size, &shape, &err) || st_read(ckpt, &f, &err))
        fail_msg("%s", tu_err(&err));
    if (experiment_load_checkpoint(&x, &f, ckpt, &err)) fail_msg("%s", tu_err(&err));
    assert_string_equal(st_meta(&f, "step"), "40");
    const StTensor *w = st_find(&f, "denoiser.conv1.weight"), *a = st_find(&f, "ema.denoiser.conv1.weight");
    assert_non_null(w);
    assert_non_null(a);
    assert_int_equal(w->nbytes, a->nbytes);
    assert_true(memcmp(w->data, a->data, w->nbytes) != 0);
    st_free(&f);
    experiment_free(&x);
    spec_free(&spec);
}

/* The same spec and seed: the same weights, so the same grids. */
static void test_runs_repeat(void **state)
{
    (void)state;
    assert_int_equal(run_rc, 0);
    assert_int_equal(again_rc, 0);
    const char *files[] = {"samples/final.png", "samples/reverse.png", "samples/forward.png", "epochs.csv"};
    for (int i = 0; i < 4; i++) {
        char a[600], b[600];
        snprintf(a, sizeof a, "%s/%s", run_dir, files[i]);
        snprintf(b, sizeof b, "%s/%s", again_dir, files[i]);
        if (!tu_same_file(a, b)) fail_msg("%s differs between two runs of the same spec", files[i]);
    }
}

static void sample(const char *name, const char *options, char *path, size_t len)
{
    char args[1024], out[4096];
    tu_tmp(path, len, name);
    snprintf(args, sizeof args, "sample '%s' --count 9 --nrow 3 %s --out '%s'", run_dir, options, path);
    int rc = run(args, out, sizeof out);
    if (rc != 0) fail_msg("runner %s failed:\n%s", args, out);
}

static void test_sample_ddim_deterministic(void **state)
{
    (void)state;
    assert_int_equal(run_rc, 0);
    char a[256], b[256], c[256], d[256], e[256];
    sample("a.png", "--sampler ddim --steps 10 --eta 0 --seed 5", a, sizeof a);
    sample("b.png", "--sampler ddim --steps 10 --eta 0 --seed 5", b, sizeof b);
    sample("c.png", "--sampler ddim --steps 10 --eta 0 --seed 6", c, sizeof c);
    sample("d.png", "--sampler ddim --steps 10 --eta 1 --seed 5", d, sizeof d);
    sample("e.png", "--sampler ddpm --steps 10 --seed 5", e, sizeof e);
    tu_expect_png(tu_tmpdir, "a.png", 92, 92);
    assert_true(tu_same_file(a, b));
    assert_false(tu_same_file(a, c));
    assert_false(tu_same_file(a, d));
    assert_false(tu_same_file(a, e));
}

static void expect_sample_error(const char *options, const char *want)
{
    char args[1024], out[4096];
    snprintf(args, sizeof args, "sample '%s' %s --out '%s/never.png'", run_dir, options, tu_tmpdir);
    assert_int_not_equal(run(args, out, sizeof out), 0);
    if (!strstr(out, want)) fail_msg("expected '%s' in:\n%s", want, out);
}

static void test_sample_options_checked(void **state)
{
    (void)state;
    assert_int_equal(run_rc, 0);
    expect_sample_error("--sampler ddmi", "--sampler ddmi: error: 'sampler' must be one of ddpm, ddim, found 'ddmi' "
                                          "(did you mean 'ddim'?)");
    expect_sample_error("--steps 101", "--steps 101: error: 'steps' (101) must be at most loss.timesteps (100)");
    expect_sample_error("--eta 1.5", "--eta 1.5: error: 'eta' is out of range: found 1.5, expected a number from 0 to 1");
    char want[1024];
    snprintf(want, sizeof want, "error: --batchnorm does not apply to %s: it trains a ddpm, whose samples have no 'batchnorm'",
             run_dir);
    expect_sample_error("--batchnorm batch", want);
}

/* `runner check` states what the run will do. */
static void test_check_summary(void **state)
{
    (void)state;
    char out[16384];
    assert_int_equal(run("check " SPEC, out, sizeof out), 0);
    const char *want = "ddpm: denoiser 'denoiser' predicts the noise of x [1, 28, 28] at t; T = 100, linear betas 0.0001 "
                       "to 0.02; sampler ddim, 20 steps; samples from the weight average (ema)";
    if (!strstr(out, want)) fail_msg("expected '%s' in:\n%s", want, out);
}

TU_MAIN(setup, tu_group_teardown,
        cmocka_unit_test(test_metrics_and_epochs),
        cmocka_unit_test(test_pictures),
        cmocka_unit_test(test_checkpoint_holds_average),
        cmocka_unit_test(test_runs_repeat),
        cmocka_unit_test(test_sample_ddim_deterministic),
        cmocka_unit_test(test_sample_options_checked),
        cmocka_unit_test(test_check_summary))
