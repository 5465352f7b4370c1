/* `runner run` and `runner sample` end to end, through the built program ($RUNNER): short GAN and
 * WGAN runs on the real MNIST test split with every file of the results folder checked, epochs with
 * a smaller last batch, determinism, refusing to overwrite, damaged or missing data and a
 * read-only folder (clear errors, nothing left behind), a diverging run, a classifier's held-out
 * evaluation, and one epoch on Fashion-MNIST that must visibly learn. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runner/io/checkpoint.h"
#include "runner/data/dataset.h"
#include "runner/algo/experiment.h"
#include "runner/io/metrics_csv.h"
#include "runner/io/png_image.h"
#include "runner/io/results.h"
#include "tests/unit/results_files.h"
#include "tests/unit/testutil.h"

static char gan_dir[128], wgan_dir[128];
static int gan_rc = -1, wgan_rc = -1;

static int run(const char *args, char *out, size_t len) { return tu_run_runner("", args, out, len); }

/* The spec's FID needs Inception weights these machines lack (tests/unit/test_fid_classifier.c
 * covers it): no evaluation scheduled, nothing loaded. */
#define NO_FID "--set fid.at_end=false"

/* The options of every short MNIST run: the real test split, two threads. */
static void mnist_args(char *buf, size_t len, const char *spec, const char *extra, const char *out_dir)
{
    snprintf(buf, len,
             "run experiments/%s.yaml --set data.split=test --set data.root=%s --threads 2 " NO_FID " --out '%s' %s",
             spec, tu_mnist_dir(), out_dir, extra);
}

#define SHORT_RUN "--set train.steps=30 --set log.every_steps=10 --set train.checkpoint_every=20"

static int setup(void **state)
{
    (void)state;
    if (tu_group_setup(state) != 0) return -1;
    char args[2048], out[16384];
    tu_tmp(gan_dir, sizeof gan_dir, "gan");
    tu_tmp(wgan_dir, sizeof wgan_dir, "wgan");
    mnist_args(args, sizeof args, "gan_mnist", SHORT_RUN, gan_dir);
    if ((gan_rc = run(args, out, sizeof out)) != 0) fprintf(stderr, "gan run failed:\n%s\n", out);
    mnist_args(args, sizeof args, "wgan_mnist", SHORT_RUN, wgan_dir);
    if ((wgan_rc = run(args, out, sizeof out)) != 0) fprintf(stderr, "wgan run failed:\n%s\n", out);
    return 0;
}

/* metrics.csv: the header, one row per log.every_steps steps, every metric numeric. */
static void expect_metrics(const char *dir, const char *const *header, int n_cols, const int *steps, int n_rows,
                           double lr)
{
    MetricsTable t;
    tu_read_table(dir, "metrics.csv", &t);
    assert_int_equal(t.n_cols, n_cols);
    for (int c = 0; c < n_cols; c++) assert_string_equal(t.header[c], header[c]);
    assert_int_equal(t.n_rows, n_rows);
    for (int r = 0; r < n_rows; r++) {
        assert_int_equal((int)tu_num(&t, r, "step"), steps[r]);
        assert_true(tu_num(&t, r, "time_s") >= 0);
        assert_true(tu_num(&t, r, "lr_generator") == lr && tu_num(&t, r, "lr_discriminator") == lr);
        for (int c = 5; c < n_cols; c++) assert_true(isfinite(tu_num(&t, r, header[c])));
    }
    metrics_table_free(&t);
}

/* Rebuilds the run's networks from its resolved spec and loads the checkpoint into them (every
 * tensor present with its shape, nothing extra); returns the trainable parameter counts. */
static void load_checkpoint(const char *dir, const char *want_step, int64_t *params, int *n_nets)
{
    char spec_path[1024], ckpt[1024];
    snprintf(spec_path, sizeof spec_path, "%s/spec.yaml", dir);
    snprintf(ckpt, sizeof ckpt, "%s/checkpoints/last.safetensors", dir);
    Spec spec;
    Experiment x;
    Error err = {0};
    if (spec_load(spec_path, NULL, 0, &spec, &err)) fail_msg("%s", tu_err(&err));
    Shape shape = {.ndim = 3, .dim = {1, 28, 28}};
    if (experiment_build(&x, &spec, backend_cpu(), spec.data.batch_size, &shape, &err)) fail_msg("%s", tu_err(&err));
    Optimizer *opts[SPEC_MAX_MODELS];
    int n_opts = experiment_optimizers(&x, opts);
    StFile f;
    if (st_read(ckpt, &f, &err)) fail_msg("%s", tu_err(&err));
    if (checkpoint_load_file(&f, ckpt, x.nets, x.n_nets, opts, n_opts, true, &err)) fail_msg("%s", tu_err(&err));
    assert_string_equal(st_meta(&f, "step"), want_step);
    assert_string_equal(st_meta(&f, "data_shape"), "1,28,28");
    assert_non_null(st_meta(&f, "seed"));
    assert_non_null(st_meta(&f, "epoch"));
    for (int i = 0; i < x.n_nets; i++) params[i] = experiment_param_count(&x, i);
    *n_nets = x.n_nets;
    st_free(&f);
    experiment_free(&x);
    spec_free(&spec);
}

/* summary.csv: one complete row that agrees with the run. */
static void expect_summary(const char *dir, const char *name, const char *algo, int steps, const int64_t *params,
                           int n_params)
{
    MetricsTable t;
    tu_read_table(dir, "summary.csv", &t);
    assert_int_equal(t.n_rows, 1);
    for (int c = 0; c < t.n_cols; c++) {
        if (metrics_table_get(&t, 0, c)[0] == '\0') fail_msg("summary column '%s' is empty", t.header[c]);
    }
    assert_string_equal(metrics_table_get(&t, 0, metrics_table_col(&t, "name")), name);
    assert_string_equal(metrics_table_get(&t, 0, metrics_table_col(&t, "algorithm")), algo);
    assert_string_equal(metrics_table_get(&t, 0, metrics_table_col(&t, "dataset")), "mnist");
    assert_int_equal((int)tu_num(&t, 0, "steps"), steps);
    assert_true(fabs(tu_num(&t, 0, "epochs") - steps / 157.0) < 1e-6); /* 10000 / 64: 157 batches */
    assert_int_equal((int64_t)tu_num(&t, 0, "params_generator"), params[0]);
    assert_int_equal((int64_t)tu_num(&t, 0, "params_discriminator"), params[1]);
    assert_true(n_params == 2);
    assert_true(isfinite(tu_num(&t, 0, "final_loss_d")) && isfinite(tu_num(&t, 0, "final_loss_g")));
    assert_true(tu_num(&t, 0, "wall_time_s") > 0 && tu_num(&t, 0, "steps_per_s") > 0 && tu_num(&t, 0, "samples_per_s") > 0);
    metrics_table_free(&t);
}

/* No temporary file of an atomic write is left anywhere in the folder. */
static void expect_no_temporaries(const char *dir)
{
    char cmd[600], out[256];
    snprintf(cmd, sizeof cmd, "find '%s' -name '*.tmp*' | head -1", dir);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(out, 1, sizeof out - 1, p);
    pclose(p);
    out[n] = '\0';
    if (n) fail_msg("temporary file left behind: %s", out);
}

/* The results folder of a short adversarial run of experiments/<spec>.yaml (30 steps, metrics
 * every 10, a checkpoint at the end): metric rows under `header` at the spec's learning rate
 * `lr`, a 10x10 grid of 28x28 samples with padding 2 at the start and the end (a WGAN's grids
 * every 10 epochs fall outside 30 steps), the loss plot, the checkpoint and the summary. */
static void expect_adversarial_results(const char *dir, const char *spec, const char *loss,
                                       const char *const *header, int n_header, double lr)
{
    static const int steps[] = {10, 20, 30};
    expect_metrics(dir, header, n_header, steps, 3, lr);
    tu_expect_png(dir, "samples/epoch_0000.png", 302, 302);
    tu_expect_png(dir, "samples/final.png", 302, 302);
    tu_expect_png(dir, "plots/losses.png", 800, 500);
    int64_t params[SPEC_MAX_MODELS];
    int n = 0;
    load_checkpoint(dir, "30", params, &n);
    expect_summary(dir, spec, loss, 30, params, n);
    expect_no_temporaries(dir);
}

static void test_gan_results(void **state)
{
    (void)state;
    assert_int_equal(gan_rc, 0);
    static const char *const header[] = {"step", "epoch", "time_s", "lr_generator", "lr_discriminator",
                                         "loss_d", "loss_g", "d_real", "d_fake"};
    expect_adversarial_results(gan_dir, "gan_mnist", "gan", header, 9, 2e-4);
}

static void test_wgan_results(void **state)
{
    (void)state;
    assert_int_equal(wgan_rc, 0);
    static const char *const header[] = {"step", "epoch", "time_s", "lr_generator", "lr_discriminator",
                                         "loss_d", "loss_g", "wasserstein"};
    expect_adversarial_results(wgan_dir, "wgan_mnist", "wgan", header, 8, 5e-5);
}

/* spec.yaml loads again and says what ran: overrides applied, defaults explicit, the version. */
static void test_resolved_spec(void **state)
{
    (void)state;
    assert_int_equal(gan_rc, 0);
    char path[512], text[16384];
    snprintf(path, sizeof path, "%s/spec.yaml", gan_dir);
    Spec spec;
    Error err = {0};
    if (spec_load(path, NULL, 0, &spec, &err)) fail_msg("%s", tu_err(&err));
    assert_string_equal(spec.name, "gan_mnist");
    assert_int_equal(spec.train.steps, 30);
    assert_int_equal(spec.train.checkpoint_every, 20);
    assert_string_equal(spec.data.split, "test");
    assert_string_equal(spec.data.root, tu_mnist_dir());
    assert_int_equal(spec.log.every_steps, 10);
    spec_free(&spec);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    assert_non_null(strstr(text, "runner " RUNNER_VERSION));
    assert_non_null(strstr(text, "\nseed: 0\n"));
    assert_non_null(strstr(text, "drop_last: false")); /* a default the file never wrote */
    assert_non_null(strstr(text, "eps: 1e-08"));
}

/* A 100-image IDX dataset: epochs of a full batch of 64 and a last batch of 36, a grid per epoch. */
static void test_epochs_and_last_batch(void **state)
{
    (void)state;
    Dataset ds;
    Error err = {0};
    if (dataset_load_mnist_like("mnist", tu_mnist_dir(), "test", &ds, &err)) fail_msg("%s", tu_err(&err));
    char images[512], dir[512], args[2048], out[16384];
    tu_tmp(images, sizeof images, "hundred-images-idx3-ubyte");
    FILE *f = fopen(images, "wb");
    assert_non_null(f);
    const uint8_t head[16] = {0, 0, 8, 3, 0, 0, 0, 100, 0, 0, 0, 28, 0, 0, 0, 28};
    assert_int_equal(fwrite(head, 1, 16, f), 16);
    assert_int_equal(fwrite(ds.pixels, 1, 100 * 28 * 28, f), 100 * 28 * 28);
    assert_int_equal(fclose(f), 0);
    dataset_free(&ds);
    tu_tmp(dir, sizeof dir, "epochs");
    snprintf(args, sizeof args,
             "run experiments/gan_mnist.yaml --set data.dataset=idx --set data.images=%s --set train.epochs=3 "
             "--set log.every_steps=1 --set samples.count=16 --set samples.nrow=4 --threads 2 " NO_FID " --out '%s'",
             images, dir);
    int rc = run(args, out, sizeof out);
    if (rc != 0) fail_msg("run failed (%d):\n%s", rc, out);
    MetricsTable t, e;
    tu_read_table(dir, "metrics.csv", &t);
    assert_int_equal(t.n_rows, 6);
    for (int r = 0; r < 6; r++) {
        assert_int_equal((int)tu_num(&t, r, "step"), r + 1);
        assert_int_equal((int)tu_num(&t, r, "epoch"), r / 2 + 1);
        assert_true(isfinite(tu_num(&t, r, "loss_d")));
    }
    /* epochs.csv: one row per epoch with the mean of its two steps' metrics. */
    tu_read_table(dir, "epochs.csv", &e);
    assert_int_equal(e.n_rows, 3);
    assert_int_equal(e.n_cols, 6); /* epoch, step, loss_d, loss_g, d_real, d_fake */
    for (int r = 0; r < 3; r++) {
        assert_int_equal((int)tu_num(&e, r, "epoch"), r + 1);
        assert_int_equal((int)tu_num(&e, r, "step"), 2 * (r + 1));
        double want = (tu_num(&t, 2 * r, "loss_d") + tu_num(&t, 2 * r + 1, "loss_d")) / 2;
        assert_true(fabs(tu_num(&e, r, "loss_d") - want) <= 1e-6 * fabs(want));
    }
    metrics_table_free(&e);
    metrics_table_free(&t);
    /* 16 samples, 4 per row: (28 + 2) * 4 + 2 = 122. */
    const char *grids[] = {"samples/epoch_0000.png", "samples/epoch_0001.png", "samples/epoch_0002.png",
                           "samples/epoch_0003.png", "samples/final.png"};
    for (int i = 0; i < 5; i++) tu_expect_png(dir, grids[i], 122, 122);
    assert_false(tu_exists(strcat(dir, "/samples/epoch_0004.png")));
}

/* The same spec twice: identical metrics.csv apart from time_s. */
static void test_determinism(void **state)
{
    (void)state;
    char dirs[2][512], args[2048], out[16384];
    MetricsTable t[2];
    for (int i = 0; i < 2; i++) {
        tu_tmp(dirs[i], sizeof dirs[i], i ? "same2" : "same1");
        mnist_args(args, sizeof args, "gan_mnist", "--set train.steps=12 --set log.every_steps=3", dirs[i]);
        int rc = run(args, out, sizeof out);
        if (rc != 0) fail_msg("run %d failed:\n%s", i, out);
        tu_read_table(dirs[i], "metrics.csv", &t[i]);
    }
    assert_int_equal(t[0].n_rows, 4);
    assert_int_equal(t[1].n_rows, t[0].n_rows);
    assert_int_equal(t[1].n_cols, t[0].n_cols);
    int time_col = metrics_table_col(&t[0], "time_s");
    for (int r = 0; r < t[0].n_rows; r++)
        for (int c = 0; c < t[0].n_cols; c++)
            if (c != time_col) assert_string_equal(metrics_table_get(&t[0], r, c), metrics_table_get(&t[1], r, c));
    metrics_table_free(&t[0]);
    metrics_table_free(&t[1]);
}

/* `runner sample`: the asked-for grid, the same for the same seed, different for another. */
static void test_sample(void **state)
{
    (void)state;
    assert_int_equal(gan_rc, 0);
    char png[3][512], args[2048], out[4096];
    for (int i = 0; i < 3; i++) {
        char name[32];
        snprintf(name, sizeof name, "sample%d.png", i);
        tu_tmp(png[i], sizeof png[i], name);
        snprintf(args, sizeof args, "sample '%s' --count 64 --nrow 8 --seed %d --out '%s'", gan_dir, i < 2 ? 1 : 2,
                 png[i]);
        int rc = run(args, out, sizeof out);
        if (rc != 0) fail_msg("sample failed:\n%s", out);
    }
    /* 8 x 8 grid of 28x28 with padding 2: (28 + 2) * 8 + 2 = 242. */
    tu_expect_png(tu_tmpdir, "sample0.png", 242, 242);
    assert_true(tu_same_file(png[0], png[1]));
    assert_false(tu_same_file(png[0], png[2]));
}

/* `runner sample --batchnorm batch`: the generator's batch norms on each sampling batch's own
 * statistics (as a PyTorch script that never calls G.eval()) draw other images from the same
 * noise, the same again for the same seed, and leave the checkpoint as it was; a mode that does
 * not exist is refused. */
static void test_sample_batch_statistics(void **state)
{
    (void)state;
    assert_int_equal(gan_rc, 0);
    char png[3][512], ckpt[512], before[512], args[2048], out[4096];
    snprintf(ckpt, sizeof ckpt, "%s/checkpoints/last.safetensors", gan_dir);
    tu_tmp(before, sizeof before, "checkpoint_before.safetensors");
    snprintf(args, sizeof args, "cp '%s' '%s'", ckpt, before);
    assert_int_equal(system(args), 0);
    const char *mode[] = {"--batchnorm running", "--batchnorm batch", "--batchnorm batch"};
    for (int i = 0; i < 3; i++) {
        char name[32];
        snprintf(name, sizeof name, "batchnorm%d.png", i);
        tu_tmp(png[i], sizeof png[i], name);
        snprintf(args, sizeof args, "sample '%s' --count 16 --seed 1 %s --out '%s'", gan_dir, mode[i], png[i]);
        if (run(args, out, sizeof out) != 0) fail_msg("sample %s failed:\n%s", mode[i], out);
    }
    assert_false(tu_same_file(png[0], png[1]));
    assert_true(tu_same_file(png[1], png[2]));
    assert_true(tu_same_file(ckpt, before));
    snprintf(args, sizeof args, "sample '%s' --batchnorm training --out '%s/never.png'", gan_dir, tu_tmpdir);
    assert_int_not_equal(run(args, out, sizeof out), 0);
    const char *want = "--batchnorm training: error: 'batchnorm' must be one of running, batch, found 'training'";
    if (!strstr(out, want)) fail_msg("expected '%s' in:\n%s", want, out);
}

/* `runner sample --images`: one PNG per sample as save_image writes a single image (28x28, gray
 * repeated to RGB, no padding); --range 0,1 maps the same samples as save_image does raw [-1, 1]
 * outputs: everything at or below the middle grey of the run's own mapping becomes black, and a
 * folder that exists is never written into. */
static void test_sample_images(void **state)
{
    (void)state;
    assert_int_equal(gan_rc, 0);
    char dir[2][512], args[2048], out[4096];
    const char *range[] = {"", "--range 0,1"};
    for (int i = 0; i < 2; i++) {
        tu_tmp(dir[i], sizeof dir[i], i ? "images_unit" : "images_data");
        snprintf(args, sizeof args, "sample '%s' --count 5 --seed 3 --images '%s' %s", gan_dir, dir[i], range[i]);
        int rc = run(args, out, sizeof out);
        if (rc != 0) fail_msg("sample --images failed:\n%s", out);
    }
    int black = 0;
    for (int k = 0; k < 5; k++) {
        Image img[2] = {{0}};
        for (int i = 0; i < 2; i++) {
            char path[1100];
            Error err;
            snprintf(path, sizeof path, "%s/%06d.png", dir[i], k);
            if (png_read(path, &img[i], &err)) fail_msg("%s", tu_err(&err));
            assert_int_equal(img[i].width, 28);
            assert_int_equal(img[i].height, 28);
            assert_int_equal(img[i].channels, 3);
        }
        for (int p = 0; p < 28 * 28; p++) {
            const uint8_t *d = img[0].pixels + 3 * p, *u = img[1].pixels + 3 * p;
            assert_true(d[0] == d[1] && d[1] == d[2] && u[0] == u[1] && u[1] == u[2]);
            /* data range: (x + 1) / 2 * 255; 0,1: x * 255, clamped at 0. */
            if (d[0] <= 127) assert_int_equal(u[0], 0), black++;
            if (d[0] >= 129) assert_true(u[0] > 0 && abs((int)u[0] - (2 * d[0] - 255)) <= 2);
        }
        image_free(&img[0]);
        image_free(&img[1]);
    }
    assert_true(black > 0);
    char missing[1100];
    snprintf(missing, sizeof missing, "%s/%06d.png", dir[0], 5);
    assert_false(tu_exists(missing));
    snprintf(args, sizeof args, "sample '%s' --count 5 --images '%s'", gan_dir, dir[0]);
    assert_int_not_equal(run(args, out, sizeof out), 0);
    assert_non_null(strstr(out, "already exists"));
}

/* An existing folder is never overwritten without --force, nor with it when the runner did not
 * make it (tests/unit/test_results_folder.c covers replacing a results folder). */
static void test_refuses_overwrite(void **state)
{
    (void)state;
    char dir[512], marker[600], args[2048], out[16384];
    tu_tmp(dir, sizeof dir, "taken");
    assert_int_equal(mkdir(dir, 0777), 0);
    snprintf(marker, sizeof marker, "%s/keep.txt", dir);
    FILE *f = fopen(marker, "w");
    assert_non_null(f);
    fclose(f);
    mnist_args(args, sizeof args, "gan_mnist", "--set train.steps=2", dir);
    assert_int_not_equal(run(args, out, sizeof out), 0);
    assert_non_null(strstr(out, "already exists"));
    assert_non_null(strstr(out, "--force"));
    assert_true(tu_exists(marker));
    strcat(args, " --force");
    assert_int_not_equal(run(args, out, sizeof out), 0);
    assert_non_null(strstr(out, "not a results folder"));
    assert_true(tu_exists(marker));
}

/* A run that must fail before training: the message names `want` (and `want2`), nothing is left. */
static void expect_clean_failure(const char *prefix, const char *extra, const char *out_dir, const char *want,
                                 const char *want2)
{
    char args[2048], out[16384];
    mnist_args(args, sizeof args, "gan_mnist", extra, out_dir);
    int rc = tu_run_runner(prefix, args, out, sizeof out);
    assert_int_not_equal(rc, 0);
    if (!strstr(out, want) || (want2 && !strstr(out, want2)))
        fail_msg("expected '%s'%s%s in:\n%s", want, want2 ? " and " : "", want2 ? want2 : "", out);
    assert_null(strstr(out, "Sanitizer"));
    assert_false(tu_exists(out_dir));
}

static void write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static void test_bad_data(void **state)
{
    (void)state;
    char path[512], extra[1024], out_dir[512];
    /* Results would go two levels down: neither level may appear. */
    tu_tmp(out_dir, sizeof out_dir, "bad/run");
    char parent[512];
    tu_tmp(parent, sizeof parent, "bad");

    /* Corrupt: a JPEG's first bytes where the IDX magic number belongs. */
    static const uint8_t junk[64] = {0xff, 0xd8, 0xff, 0xe0, 0, 0x10, 'J', 'F', 'I', 'F'};
    tu_tmp(path, sizeof path, "corrupt-idx3-ubyte");
    write_file(path, junk, sizeof junk);
    snprintf(extra, sizeof extra, "--set data.dataset=idx --set data.images=%s", path);
    expect_clean_failure("", extra, out_dir, path, "magic number");
    assert_false(tu_exists(parent));

    /* Truncated: the header promises 100 images of 28x28, the file holds 1000 bytes of them. */
    static uint8_t cut[16 + 1000] = {0, 0, 8, 3, 0, 0, 0, 100, 0, 0, 0, 28, 0, 0, 0, 28};
    tu_tmp(path, sizeof path, "truncated-idx3-ubyte");
    write_file(path, cut, sizeof cut);
    snprintf(extra, sizeof extra, "--set data.dataset=idx --set data.images=%s", path);
    expect_clean_failure("", extra, out_dir, path, "truncated");
    assert_false(tu_exists(parent));

    /* Missing: a root without the standard files. */
    tu_tmp(path, sizeof path, "no-such-folder");
    snprintf(extra, sizeof extra, "--set data.root=%s", path);
    expect_clean_failure("", extra, out_dir, path, "not found");
    assert_false(tu_exists(parent));
}

/* A results folder that cannot be created: the reason, and nothing left behind.  Root may write
 * anywhere, so as root the run drops to an unprivileged user for this case. */
static void test_read_only_folder(void **state)
{
    (void)state;
    char ro[512], out_dir[600];
    tu_tmp(ro, sizeof ro, "read-only");
    assert_int_equal(mkdir(ro, 0777), 0);
    assert_int_equal(chmod(ro, 0555), 0);
    /* The temporary folder must be enterable by that user too. */
    assert_int_equal(chmod(tu_tmpdir, 0755), 0);
    snprintf(out_dir, sizeof out_dir, "%s/nested/run", ro);
    const char *prefix = geteuid() == 0 ? "setpriv --reuid=65534 --regid=65534 --clear-groups" : "";
    expect_clean_failure(prefix, "--set train.steps=2", out_dir, "cannot create results folder", "Permission denied");
    char nested[600];
    snprintf(nested, sizeof nested, "%s/nested", ro);
    assert_false(tu_exists(nested));
}

/* A loss that stops being finite ends the run with the step and keeps the last good checkpoint. */
static void test_divergence(void **state)
{
    (void)state;
    char dir[512], args[2048], out[16384];
    tu_tmp(dir, sizeof dir, "diverged");
    /* Adam's steps are about lr in size whatever the gradient: 1e30 overflows at once. */
    mnist_args(args, sizeof args, "gan_mnist",
               "--set train.steps=20 --set log.every_steps=1 --set train.checkpoint_every=1 "
               "--set optimizers.generator.lr=1e30 --set optimizers.discriminator.lr=1e30",
               dir);
    assert_int_not_equal(run(args, out, sizeof out), 0);
    assert_non_null(strstr(out, "error: step 2: "));
    assert_non_null(strstr(out, "training stopped"));
    assert_non_null(strstr(out, "last good checkpoint (step 1)"));
    int64_t params[SPEC_MAX_MODELS];
    int n = 0;
    load_checkpoint(dir, "1", params, &n);
    MetricsTable t;
    tu_read_table(dir, "metrics.csv", &t);
    assert_int_equal(t.n_rows, 1);
    metrics_table_free(&t);
}

/* An algorithm that evaluates (the classifier): the test split after the last step, in metrics.csv
 * and summary.csv; no sample grids, and `sample` says why it has nothing to draw. */
static void test_classifier_evaluates(void **state)
{
    (void)state;
    Dataset probe;
    Error err = {0};
    if (dataset_load_mnist_like("fashion_mnist", DATASET_FASHION_MNIST_ROOT, "test", &probe, &err))
        fail_msg("%s (make setup installs dataset-fashion-mnist)", tu_err(&err));
    dataset_free(&probe);
    char dir[512], args[2048], out[16384];
    tu_tmp(dir, sizeof dir, "classifier");
    snprintf(args, sizeof args,
             "run experiments/lenet_fashion.yaml --set train.steps=12 --set log.every_steps=5 --threads 2 --out '%s'", dir);
    int rc = run(args, out, sizeof out);
    if (rc != 0) fail_msg("run failed:\n%s", out);
    MetricsTable t;
    tu_read_table(dir, "metrics.csv", &t);
    assert_int_equal(t.n_rows, 3); /* steps 5, 10 and the last, 12 */
    int acc = metrics_table_col(&t, "test_accuracy");
    assert_true(acc >= 0);
    assert_string_equal(metrics_table_get(&t, 0, acc), "");
    double a = tu_num(&t, 2, "test_accuracy");
    assert_true(a >= 0 && a <= 1);
    metrics_table_free(&t);
    tu_read_table(dir, "summary.csv", &t);
    assert_true(tu_num(&t, 0, "final_test_accuracy") == a);
    metrics_table_free(&t);
    char final[600];
    snprintf(final, sizeof final, "%s/samples/final.png", dir);
    assert_false(tu_exists(final));
    snprintf(args, sizeof args, "sample '%s' --out '%s/none.png'", dir, tu_tmpdir);
    assert_int_not_equal(run(args, out, sizeof out), 0);
    assert_non_null(strstr(out, "generates no samples"));
}

/* data.pad reaches every part of a run: the networks, the held-out split, the checkpoint's shape and
 * the resolved spec; the same networks on unpadded data are refused before anything is written. */
static void test_padded_data(void **state)
{
    (void)state;
    char dir[512], args[2048], out[16384], path[700];
    tu_tmp(dir, sizeof dir, "padded");
    snprintf(args, sizeof args, "run tests/specs/good/padded_classifier.yaml --threads 2 --out '%s'", dir);
    if (run(args, out, sizeof out) != 0) fail_msg("run failed:\n%s", out);
    assert_non_null(strstr(out, "fashion_mnist train: 60000 images of 1x32x32\n"));
    MetricsTable t;
    tu_read_table(dir, "metrics.csv", &t);
    double a = tu_num(&t, t.n_rows - 1, "test_accuracy"); /* the test split, padded as well */
    assert_true(a >= 0 && a <= 1);
    metrics_table_free(&t);
    StFile f;
    Error err = {0};
    if (st_read(tu_join(path, sizeof path, dir, "checkpoints/last.safetensors"), &f, &err)) fail_msg("%s", err.msg);
    assert_string_equal(st_meta(&f, "data_shape"), "1,32,32");
    st_free(&f);
    Spec spec;
    if (spec_load(tu_join(path, sizeof path, dir, "spec.yaml"), NULL, 0, &spec, &err)) fail_msg("%s", err.msg);
    assert_int_equal(spec.data.pad, 2);
    assert_string_equal(spec.data.flip, "horizontal");
    spec_free(&spec);

    tu_tmp(dir, sizeof dir, "unpadded");
    snprintf(args, sizeof args, "run tests/specs/good/padded_classifier.yaml --set data.pad=0 --threads 2 --out '%s'",
             dir);
    assert_int_equal(run(args, out, sizeof out), 1);
    assert_non_null(strstr(out, "error: the data's examples are (1, 28, 28) but classifier 'classifier' takes (1, 32, "
                                "32)\n"));
    assert_false(tu_exists(dir));

    /* `runner fid` beside a results folder: the dataset side is padded as that run's data, or the
     * classifier (which takes 1x32x32) could not embed it. */
    char gan[512], classifier[512];
    tu_tmp(classifier, sizeof classifier, "padded");
    tu_tmp(gan, sizeof gan, "padded_gan");
    snprintf(args, sizeof args, "run tests/specs/good/padded_gan.yaml --threads 2 --out '%s'", gan);
    if (run(args, out, sizeof out) != 0) fail_msg("run failed:\n%s", out);
    snprintf(args, sizeof args, "fid '%s' fashion_mnist:test:0-40 --samples 40 --features '%s' --node 3 --threads 2 "
             "--no-cache", gan, classifier);
    if (run(args, out, sizeof out) != 0) fail_msg("fid failed:\n%s", out);
    assert_non_null(strstr(out, "B: fashion_mnist-test:0-40-1x32x32, 40 images of 1x32x32\n"));
}

/* Mean over the samples of a grid (n images of 28x28, nrow per row, padding 2) of each pixel, 0..255. */
static void grid_mean_image(const char *path, int n, int nrow, double *mean)
{
    Image img = {0};
    Error err = {0};
    if (png_read(path, &img, &err)) fail_msg("%s", tu_err(&err));
    memset(mean, 0, 28 * 28 * sizeof *mean);
    for (int i = 0; i < n; i++) {
        int x0 = 2 + (i % nrow) * 30, y0 = 2 + (i / nrow) * 30;
        for (int y = 0; y < 28; y++)
            for (int x = 0; x < 28; x++)
                mean[y * 28 + x] += img.pixels[((size_t)(y0 + y) * (size_t)img.width + (size_t)(x0 + x)) * (size_t)img.channels] / (double)n;
    }
    image_free(&img);
}

static double mean_abs_diff(const double *a, const double *b)
{
    double s = 0;
    for (int i = 0; i < 28 * 28; i++) s += fabs(a[i] - b[i]);
    return s / (28 * 28);
}

/* One epoch of the default experiment on Fashion-MNIST must learn what garments look like on
 * average.  The statistic: the mean absolute difference, in grey levels, between the mean image
 * of the 100 grid samples and the mean image of the training data.  At step 0 the generator puts
 * out near-constant grey (about 50 levels away from the data's mean image, whose background is
 * black); a generator that has learned the data's layout (dark background, bright garment in the
 * middle) gets within a few levels.  Thresholds: below a third of the step-0 value and below 20
 * levels, far from both the untrained value and the spread between seeds. */
static void test_learns_fashion(void **state)
{
    (void)state;
    if (getenv("VALGRIND_QUICK")) {
        print_message("skipped under valgrind (VALGRIND_QUICK): a full epoch is too slow there\n");
        skip();
    }
#if defined(__SANITIZE_ADDRESS__)
    /* 938 steps under AddressSanitizer take longer than a test may; the short runs above cover the
     * same code under the sanitizers. */
    print_message("skipped under AddressSanitizer: a full epoch is too slow there\n");
    skip();
#endif
    Dataset ds;
    Error err = {0};
    if (dataset_load_mnist_like("fashion_mnist", DATASET_FASHION_MNIST_ROOT, "train", &ds, &err))
        fail_msg("%s (make setup installs dataset-fashion-mnist)", tu_err(&err));
    double data_mean[28 * 28] = {0};
    for (int i = 0; i < ds.n; i++)
        for (int k = 0; k < 28 * 28; k++) data_mean[k] += ds.pixels[(size_t)i * 28 * 28 + (size_t)k];
    for (int k = 0; k < 28 * 28; k++) data_mean[k] /= ds.n;
    dataset_free(&ds);

    char dir[512], args[2048], out[65536], path[600];
    tu_tmp(dir, sizeof dir, "fashion");
    snprintf(args, sizeof args,
             "run experiments/gan_fashion.yaml --set train.epochs=1 --set samples.every_epochs=1 --set log.every_steps=200 "
             "--threads 2 --out '%s'",
             dir);
    int rc = run(args, out, sizeof out);
    if (rc != 0) fail_msg("run failed:\n%s", out);
    double before[28 * 28], after[28 * 28];
    snprintf(path, sizeof path, "%s/samples/epoch_0000.png", dir);
    grid_mean_image(path, 100, 10, before);
    snprintf(path, sizeof path, "%s/samples/epoch_0001.png", dir);
    grid_mean_image(path, 100, 10, after);
    double d0 = mean_abs_diff(before, data_mean), d1 = mean_abs_diff(after, data_mean);
    print_message("mean |sample mean image - data mean image|: step 0 %.2f, after one epoch %.2f grey levels\n", d0, d1);
    assert_true(d1 < d0 / 3);
    assert_true(d1 < 20);
}

TU_MAIN(setup, tu_group_teardown,
        cmocka_unit_test(test_gan_results),
        cmocka_unit_test(test_wgan_results),
        cmocka_unit_test(test_resolved_spec),
        cmocka_unit_test(test_epochs_and_last_batch),
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_sample),
        cmocka_unit_test(test_sample_images),
        cmocka_unit_test(test_sample_batch_statistics),
        cmocka_unit_test(test_refuses_overwrite),
        cmocka_unit_test(test_bad_data),
        cmocka_unit_test(test_read_only_folder),
        cmocka_unit_test(test_divergence),
        cmocka_unit_test(test_classifier_evaluates),
        cmocka_unit_test(test_padded_data),
        cmocka_unit_test(test_learns_fashion))
