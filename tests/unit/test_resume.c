/* Resuming runs end to end, through the built program ($RUNNER), on the MNIST test split with two
 * threads: a run stopped by Ctrl-C (SIGINT) and one killed (SIGKILL) after a periodic checkpoint,
 * each resumed, end with the files of an uninterrupted run of the same spec: metrics.csv (time_s
 * aside), epochs.csv, fid.csv, summary.csv (its times aside), the sample grids, the loss plot and the final
 * checkpoint's tensors, byte for byte.  The spec exercises every stream a resumed run must
 * restore: shuffled data with flips and an epoch's smaller last batch, dropout, WGAN-GP's
 * interpolation noise, a critic stepping three times per generator step (loss_g carried between
 * generator steps), Adam's moments and a cosine schedule, and FID during training; so does a run
 * resumed between its final checkpoint and its summary, and a diffusion run (ddpm_tiny: its
 * timesteps and noise, a weight average, epochs.csv's means over an epoch cut by the kill).  Also: a second interrupt exits at once, resuming is refused with exact messages (a changed spec, no
 * checkpoint, a finished run, a folder that is not a results folder), and `runner ls` says
 * interrupted, then finished. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runner/io/metrics_csv.h"
#include "runner/io/safetensors.h"
#include "tests/unit/testutil.h"

#define TOTAL_STEPS 150
#define CHECKPOINT_EVERY 20

#define DDPM_STEPS 200

static char spec_path[300], gan_args[400], gan_ref[300], ddpm_args[1024], ddpm_ref[300];
static int ref_rc = -1, ddpm_rc = -1;
static pid_t running; /* a run a failed check left going: the teardown stops it */

/* The whole file, NUL-terminated and malloc'ed (fails the test when it cannot be read). */
static char *slurp_file(const char *path, size_t *size)
{
    size_t n;
    unsigned char *bytes = tu_read_file(path, &n);
    char *text = realloc(bytes, n + 1);
    assert_non_null(text);
    text[n] = '\0';
    if (size) *size = n;
    return text;
}

static char *slurp(const char *dir, const char *rel, size_t *size)
{
    char path[700];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    return slurp_file(path, size);
}

static int runner(const char *args, char *out, size_t len) { return tu_run_runner("", args, out, len); }

/* The spec under test: small MLPs, 27 batches an epoch (the last of 16), five and a half epochs. */
static void write_spec(const char *path, const char *probe)
{
    char text[4096];
    snprintf(text, sizeof text,
             "name: resume_probe\n"
             "seed: 5\n"
             "backend: cpu\n"
             "data: {dataset: mnist, root: %s, split: test, batch_size: 384, flip: horizontal}\n"
             "models:\n"
             "  generator:\n"
             "    input: [16]\n"
             "    layers: [{linear: {out: 64}}, batchnorm1d, relu, {linear: {out: 784}}, tanh, {reshape: [1, 28, 28]}]\n"
             "  discriminator:\n"
             "    input: [1, 28, 28]\n"
             "    layers: [flatten, {linear: {out: 64}}, relu, {dropout: 0.3}, {linear: {out: 1}}]\n"
             "loss: {type: wgan_gp, n_critic: 3, order: discriminator_first}\n"
             "optimizers:\n"
             "  generator: {type: adam, lr: 1.0e-3, betas: [0.5, 0.9]}\n"
             "  discriminator: {type: adam, lr: 2.0e-3, betas: [0.5, 0.9]}\n"
             "schedule: {type: cosine}\n"
             "train: {steps: %d, checkpoint_every: %d}\n"
             "log: {every_steps: 1}\n"
             "samples: {every_epochs: 1, count: 16, nrow: 4}\n"
             "fid: {features: %s, samples: 200, every_epochs: 2, at_end: true}\n",
             tu_mnist_dir(), TOTAL_STEPS, CHECKPOINT_EVERY, probe);
    tu_write_text(path, text);
}

/* The feature network of the spec's FID: a small classifier trained for a few steps. */
static int train_probe(const char *dir)
{
    char path[300], text[2048], args[1024], out[16384];
    tu_tmp(path, sizeof path, "probe.yaml");
    snprintf(text, sizeof text,
             "name: probe\n"
             "backend: cpu\n"
             "data: {dataset: mnist, root: %s, split: test, batch_size: 256}\n"
             "models:\n"
             "  classifier:\n"
             "    input: [1, 28, 28]\n"
             "    layers: [flatten, {linear: {out: 32}}, {op: relu, name: features}, {linear: {out: 10}}]\n"
             "loss: {type: classifier}\n"
             "train: {steps: 20}\n"
             "samples: {every_epochs: 0}\n"
             "fid: {at_end: false}\n",
             tu_mnist_dir());
    tu_write_text(path, text);
    snprintf(args, sizeof args, "run '%s' --threads 2 --out '%s'", path, dir);
    int rc = runner(args, out, sizeof out);
    if (rc) fprintf(stderr, "the probe classifier failed:\n%s\n", out);
    return rc;
}

static int setup(void **state)
{
    if (tu_group_setup(state)) return -1;
    char cache[300], probe[300], args[2048], out[16384];
    setenv("XDG_CACHE_HOME", tu_tmp(cache, sizeof cache, "cache"), 1); /* FID's reference statistics */
    tu_tmp(probe, sizeof probe, "probe");
    tu_tmp(spec_path, sizeof spec_path, "spec.yaml");
    tu_tmp(gan_ref, sizeof gan_ref, "uninterrupted");
    write_spec(spec_path, probe);
    if (train_probe(probe)) return 0;
    snprintf(gan_args, sizeof gan_args, "'%s' --threads 2", spec_path);
    snprintf(args, sizeof args, "run %s --out '%s'", gan_args, gan_ref);
    if ((ref_rc = runner(args, out, sizeof out)) != 0) fprintf(stderr, "the uninterrupted run failed:\n%s\n", out);
    /* A diffusion run: its timesteps and noise, a weight average and epochs.csv's running means. */
    tu_tmp(ddpm_ref, sizeof ddpm_ref, "ddpm_uninterrupted");
    snprintf(ddpm_args, sizeof ddpm_args,
             "tests/specs/good/ddpm_tiny.yaml --set data.dataset=mnist --set data.root=%s --set data.split=test "
             "--set train.steps=%d --set log.every_steps=1 --set fid.at_end=false --threads 2",
             tu_mnist_dir(), DDPM_STEPS);
    snprintf(args, sizeof args, "run %s --out '%s'", ddpm_args, ddpm_ref);
    if ((ddpm_rc = runner(args, out, sizeof out)) != 0) fprintf(stderr, "the uninterrupted ddpm run failed:\n%s\n", out);
    return 0;
}

static int teardown(void **state)
{
    tu_kill_runner(&running);
    return tu_group_teardown(state);
}

/* The step of metrics.csv's last complete row; 0 before the first. */
static long last_logged_step(const char *dir)
{
    char path[400], line[4096];
    snprintf(path, sizeof path, "%s/metrics.csv", dir);
    FILE *f = fopen(path, "r");
    long step = 0;
    while (f && fgets(line, sizeof line, f))
        if (strchr(line, '\n') && line[0] >= '0' && line[0] <= '9') step = strtol(line, NULL, 10);
    if (f) fclose(f);
    return step;
}

/* Starts `runner run run_args --out dir` and returns once it has logged step `step` (no time limit
 * here: the suite's timeout bounds it). */
static pid_t start_until(const char *run_args, const char *dir, const char *log, long step)
{
    char args[2048];
    snprintf(args, sizeof args, "run %s --out '%s'", run_args, dir);
    running = tu_start_runner(args, log);
    while (last_logged_step(dir) < step) {
        if (waitpid(running, NULL, WNOHANG) == running) fail_msg("the run ended before step %ld", step);
        usleep(5000);
    }
    return running;
}

/* Waits for the started run to end: its exit status (128 + the signal that ended it). */
static int wait_running(void)
{
    int rc = tu_wait_runner(running);
    running = 0;
    return rc;
}

/* `runner resume dir --threads 2`, which must succeed. */
static void resume(const char *dir)
{
    char args[512], out[16384];
    snprintf(args, sizeof args, "resume '%s' --threads 2", dir);
    if (runner(args, out, sizeof out) != 0) fail_msg("resuming %s failed:\n%s", dir, out);
}

static long checkpoint_step(const char *dir)
{
    char path[400];
    snprintf(path, sizeof path, "%s/checkpoints/last.safetensors", dir);
    StFile f;
    Error err = {0};
    if (st_read(path, &f, &err)) fail_msg("%s", tu_err(&err));
    const char *step = st_meta(&f, "step");
    assert_non_null(step);
    long v = strtol(step, NULL, 10);
    st_free(&f);
    return v;
}

/* The state and progress (NULL: any) `runner ls` gives dir. */
static void expect_ls(const char *dir, const char *state, const char *progress)
{
    char args[512], out[4096];
    snprintf(args, sizeof args, "ls '%s'", dir);
    assert_int_equal(runner(args, out, sizeof out), 0);
    char s[32] = "", p[64] = "";
    assert_int_equal(strncmp(out, dir, strlen(dir)), 0);
    assert_int_equal(sscanf(out + strlen(dir), "%31s %63s", s, p), 2);
    assert_string_equal(s, state);
    if (progress) assert_string_equal(p, progress);
}

/* A CSV file of both runs, equal cell for cell but in the columns named in `skip`. */
static void expect_same_table(const char *ref, const char *dir, const char *rel, const char *const *skip, int n_skip)
{
    char a_path[700], b_path[700];
    snprintf(a_path, sizeof a_path, "%s/%s", ref, rel);
    snprintf(b_path, sizeof b_path, "%s/%s", dir, rel);
    MetricsTable a, b;
    Error err = {0};
    if (metrics_table_read(a_path, &a, &err) || metrics_table_read(b_path, &b, &err)) fail_msg("%s", tu_err(&err));
    assert_int_equal(b.n_cols, a.n_cols);
    if (b.n_rows != a.n_rows) fail_msg("%s: %d rows, the uninterrupted run's has %d", b_path, b.n_rows, a.n_rows);
    for (int c = 0; c < a.n_cols; c++) {
        assert_string_equal(b.header[c], a.header[c]);
        bool skipped = false;
        for (int k = 0; k < n_skip; k++) skipped |= !strcmp(a.header[c], skip[k]);
        for (int r = 0; r < a.n_rows && !skipped; r++)
            if (strcmp(metrics_table_get(&a, r, c), metrics_table_get(&b, r, c)) != 0)
                fail_msg("%s row %d, %s: %s, the uninterrupted run's: %s", b_path, r + 1, a.header[c],
                         metrics_table_get(&b, r, c), metrics_table_get(&a, r, c));
    }
    metrics_table_free(&a);
    metrics_table_free(&b);
}

static void expect_same_bytes(const char *ref, const char *dir, const char *rel)
{
    size_t na, nb;
    char *a = slurp(ref, rel, &na), *b = slurp(dir, rel, &nb);
    if (na != nb || memcmp(a, b, na) != 0) fail_msg("%s/%s differs from the uninterrupted run's", dir, rel);
    free(a);
    free(b);
}

/* Every tensor of the final checkpoint, name, dtype, shape and bytes. */
static void expect_same_checkpoint(const char *ref, const char *dir)
{
    char a_path[700], b_path[700];
    snprintf(a_path, sizeof a_path, "%s/checkpoints/last.safetensors", ref);
    snprintf(b_path, sizeof b_path, "%s/checkpoints/last.safetensors", dir);
    StFile a, b;
    Error err = {0};
    if (st_read(a_path, &a, &err) || st_read(b_path, &b, &err)) fail_msg("%s", tu_err(&err));
    assert_int_equal(b.n, a.n);
    for (int i = 0; i < a.n; i++) {
        const StTensor *t = &a.tensors[i], *u = st_find(&b, t->name);
        if (!u) fail_msg("%s has no tensor %s", b_path, t->name);
        assert_int_equal(u->dtype, t->dtype);
        assert_true(shape_equal(&u->shape, &t->shape));
        if (u->nbytes != t->nbytes || memcmp(u->data, t->data, t->nbytes) != 0)
            fail_msg("%s: tensor %s differs from the uninterrupted run's", b_path, t->name);
    }
    assert_string_equal(st_meta(&b, "step"), st_meta(&a, "step"));
    st_free(&a);
    st_free(&b);
}

/* Everything the resumed run in dir wrote is what the uninterrupted run in ref wrote: the tables,
 * the final checkpoint's tensors and `files` (NULL-terminated) byte for byte. */
static void expect_same_run(const char *ref, const char *dir, const char *const *files)
{
    static const char *const time_cols[] = {"time_s"};
    static const char *const summary_times[] = {"wall_time_s", "steps_per_s", "samples_per_s"};
    expect_same_table(ref, dir, "metrics.csv", time_cols, 1);
    expect_same_table(ref, dir, "summary.csv", summary_times, 3);
    expect_same_bytes(ref, dir, "epochs.csv");
    expect_same_checkpoint(ref, dir);
    for (int i = 0; files[i]; i++) expect_same_bytes(ref, dir, files[i]);
}

/* The GAN spec's other files. */
static const char *const gan_files[] = {"fid.csv",           "samples/epoch_0000.png", "samples/epoch_0003.png",
                                        "samples/epoch_0005.png", "samples/final.png",  "plots/losses.png",
                                        NULL};

/* `RUNNER args` exits 1 printing exactly `want`. */
static void expect_refused(const char *args, const char *want)
{
    char out[4096];
    assert_int_equal(runner(args, out, sizeof out), 1);
    assert_string_equal(out, want);
}

/* The line of spec.yaml in dir whose text (indentation aside) is `text`; fails unless exactly one. */
static int line_of(const char *dir, const char *text)
{
    char *spec = slurp(dir, "spec.yaml", NULL);
    int found = 0, line = 1;
    for (char *p = spec; *p; line++) {
        size_t n = strcspn(p, "\n");
        const char *s = p + strspn(p, " ");
        if ((size_t)(s - p) + strlen(text) == n && !strncmp(s, text, strlen(text))) {
            assert_int_equal(found, 0);
            found = line;
        }
        p += n + (p[n] == '\n');
    }
    free(spec);
    assert_int_not_equal(found, 0);
    return found;
}

/* Ctrl-C: the run finishes its step, writes its checkpoint, says how to resume and exits with 130;
 * `runner ls` says interrupted; a changed spec is refused without touching anything; the command
 * it printed continues it to the uninterrupted run's results. */
static void test_interrupt_and_resume(void **state)
{
    (void)state;
    assert_int_equal(ref_rc, 0);
    char dir[300], log[300], args[2048], out[16384], want[2048];
    tu_tmp(dir, sizeof dir, "interrupted");
    tu_tmp(log, sizeof log, "interrupted.log");
    kill(start_until(gan_args, dir, log, 8), SIGINT);
    assert_int_equal(wait_running(), 130);
    long step = checkpoint_step(dir);
    assert_true(step >= 8 && step < TOTAL_STEPS);
    assert_int_equal(last_logged_step(dir), step);
    char *said = slurp_file(log, NULL);
    snprintf(want, sizeof want,
             "interrupted: stopped after step %ld of %d; its checkpoint is %s/checkpoints/last.safetensors\n"
             "resume it with: %s resume %s --threads 2\n",
             step, TOTAL_STEPS, dir, tu_runner(), dir);
    size_t n = strlen(said), w = strlen(want);
    if (n < w || strcmp(said + n - w, want) != 0) fail_msg("the run's output does not end with\n%s:\n%s", want, said);
    free(said);
    snprintf(args, sizeof args, "%s/failed.txt", dir);
    assert_false(tu_exists(args));
    snprintf(want, sizeof want, "%ld/%d", step, TOTAL_STEPS);
    expect_ls(dir, "interrupted", want);

    /* Another learning rate is another run: refused, and nothing in the folder changes. */
    char *before = slurp(dir, "metrics.csv", NULL);
    snprintf(args, sizeof args, "run '%s' --set optimizers.generator.lr=5.0e-4 --threads 2 --out '%s' --resume",
             spec_path, dir);
    snprintf(want, sizeof want,
             "error: cannot resume '%s': the spec differs from the one the run started with, at line %d of "
             "%s/spec.yaml: it has 'lr: 1.0e-3', the spec now has 'lr: 5.0e-4'; run it again from the start with "
             "--force, or write elsewhere with --out DIR\n",
             dir, line_of(dir, "lr: 1.0e-3"), dir);
    expect_refused(args, want);
    char *after = slurp(dir, "metrics.csv", NULL);
    assert_string_equal(after, before);
    free(before);
    free(after);

    /* The command it printed, as printed. */
    snprintf(args, sizeof args, "%s resume %s --threads 2 2>&1", tu_runner(), dir);
    FILE *p = popen(args, "r");
    assert_non_null(p);
    if (tu_pclose_reading(p, out, sizeof out) != 0) fail_msg("resuming failed:\n%s", out);
    snprintf(want, sizeof want, "resume_probe: resuming %s/ after step %ld of %d\n", dir, step, TOTAL_STEPS);
    if (!strstr(out, want)) fail_msg("no '%s' in:\n%s", want, out);
    expect_same_run(gan_ref, dir, gan_files);
    expect_ls(dir, "finished", "150/150");
}

/* SIGKILL after a periodic checkpoint: the resumed run starts from that checkpoint, drops the rows
 * logged after it and a row cut short, removes the temporary files of unfinished writes, and ends
 * as the uninterrupted run. */
static void test_kill_and_resume(void **state)
{
    (void)state;
    assert_int_equal(ref_rc, 0);
    char dir[300], log[300], args[2048], out[16384], want[1024], path[700];
    tu_tmp(dir, sizeof dir, "killed");
    tu_tmp(log, sizeof log, "killed.log");
    /* After the evaluation of epoch 4 (step 108) and the checkpoint of step 100: fid.csv keeps one
     * row, metrics.csv loses the steps after the checkpoint. */
    kill(start_until(gan_args, dir, log, 5 * CHECKPOINT_EVERY + 15), SIGKILL);
    assert_int_equal(wait_running(), 128 + SIGKILL);
    long step = checkpoint_step(dir);
    assert_true(step >= 5 * CHECKPOINT_EVERY && step % CHECKPOINT_EVERY == 0 && step < TOTAL_STEPS);
    assert_true(last_logged_step(dir) >= step);
    expect_ls(dir, "interrupted", NULL);
    /* What a kill in the middle of writes leaves. */
    snprintf(path, sizeof path, "%s/metrics.csv", dir);
    FILE *f = fopen(path, "a");
    assert_non_null(f);
    fputs("9999,1,0.5,0.00", f);
    fclose(f);
    static const char *const partial[] = {"checkpoints/last.safetensors.tmp.4242", "samples/epoch_0004.png.tmp.4242"};
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, partial[i]);
        tu_write_text(path, "half a file");
    }
    snprintf(args, sizeof args, "run '%s' --threads 2 --out '%s' --resume", spec_path, dir);
    if (runner(args, out, sizeof out) != 0) fail_msg("resuming failed:\n%s", out);
    snprintf(want, sizeof want, "resume_probe: resuming %s/ after step %ld of %d (removed 2 partial files)\n", dir,
             step, TOTAL_STEPS);
    if (!strstr(out, want)) fail_msg("no '%s' in:\n%s", want, out);
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, partial[i]);
        assert_false(tu_exists(path));
    }
    expect_same_run(gan_ref, dir, gan_files);
}

/* A run stopped after its final checkpoint but before its summary: resuming evaluates nothing
 * twice (fid.csv keeps its one row of the last step) and writes the summary it would have. */
static void test_resume_at_the_end(void **state)
{
    (void)state;
    assert_int_equal(ref_rc, 0);
    char dir[300], cmd[1024], path[400];
    tu_tmp(dir, sizeof dir, "at_end");
    snprintf(cmd, sizeof cmd, "cp -r '%s' '%s'", gan_ref, dir);
    assert_int_equal(system(cmd), 0);
    snprintf(path, sizeof path, "%s/summary.csv", dir);
    assert_int_equal(unlink(path), 0);
    resume(dir);
    expect_same_run(gan_ref, dir, gan_files);
}

/* A diffusion run killed after its checkpoint of step 100 ends as the uninterrupted one: its
 * weight average too, and the pictures drawn at the end. */
static void test_ddpm_kill_and_resume(void **state)
{
    (void)state;
    assert_int_equal(ddpm_rc, 0);
    char dir[300], log[300];
    tu_tmp(dir, sizeof dir, "ddpm_killed");
    tu_tmp(log, sizeof log, "ddpm_killed.log");
    kill(start_until(ddpm_args, dir, log, 115), SIGKILL);
    assert_int_equal(wait_running(), 128 + SIGKILL);
    long step = checkpoint_step(dir);
    assert_true(step >= 100 && step < DDPM_STEPS);
    resume(dir);
    static const char *const files[] = {"samples/epoch_0000.png", "samples/final.png", "samples/forward.png",
                                        "samples/reverse.png", "plots/losses.png", NULL};
    expect_same_run(ddpm_ref, dir, files);
}

/* A second interrupt (here SIGTERM, then SIGINT) exits at once with 130: no checkpoint of the step
 * under way, no failure recorded.  Without a checkpoint the run cannot resume, and says so. */
static void test_second_interrupt_exits_at_once(void **state)
{
    (void)state;
    char dir[300], log[300], args[2048], want[1024];
    tu_tmp(dir, sizeof dir, "twice");
    tu_tmp(log, sizeof log, "twice.log");
    /* Steps of 2000 examples through the reference GAN: seconds each, time for both signals. */
    snprintf(args, sizeof args,
             "run experiments/gan_mnist.yaml --set data.split=test --set data.root=%s --set data.batch_size=2000 "
             "--set fid.at_end=false --set samples.every_epochs=0 --threads 2 --out '%s'",
             tu_mnist_dir(), dir);
    running = tu_start_runner(args, log);
    char metrics[400];
    snprintf(metrics, sizeof metrics, "%s/metrics.csv", dir);
    while (!tu_exists(metrics)) usleep(5000); /* training has started */
    kill(running, SIGTERM);
    for (bool heard = false; !heard; usleep(5000)) {
        char *said = slurp_file(log, NULL);
        heard = strstr(said, "interrupted: stopping after this step") != NULL;
        free(said);
    }
    kill(running, SIGINT);
    assert_int_equal(wait_running(), 130);
    char *said = slurp_file(log, NULL);
    if (!strstr(said, "\ninterrupted again: stopping at once; the run can resume from its last checkpoint\n") ||
        strstr(said, "resume it with"))
        fail_msg("not stopped at once:\n%s", said);
    free(said);
    expect_ls(dir, "interrupted", "0/15");
    snprintf(args, sizeof args, "resume '%s'", dir);
    snprintf(want, sizeof want,
             "error: cannot resume '%s': it has no checkpoint (checkpoints/last.safetensors), as the run stopped "
             "before writing its first; run it again from the start with --force\n",
             dir);
    expect_refused(args, want);
}

/* What cannot be resumed, each with its message. */
static void test_resume_refused(void **state)
{
    (void)state;
    assert_int_equal(ref_rc, 0);
    char plain[300], args[1024], want[1024];
    tu_tmp(plain, sizeof plain, "plain");
    assert_int_equal(mkdir(plain, 0777), 0);
    snprintf(args, sizeof args, "resume '%s'", plain);
    snprintf(want, sizeof want,
             "error: cannot resume '%s': it is not a results folder written by `runner run` (it has no "
             ".runner-results)\n",
             plain);
    expect_refused(args, want);
    snprintf(args, sizeof args, "run '%s' --out '%s/absent' --resume", spec_path, plain);
    snprintf(want, sizeof want, "error: cannot resume '%s/absent': there is no such folder\n", plain);
    expect_refused(args, want);
    snprintf(args, sizeof args, "resume '%s'", gan_ref);
    snprintf(want, sizeof want,
             "error: cannot resume '%s': its run has finished (it has summary.csv); run it again from the start "
             "with --force\n",
             gan_ref);
    expect_refused(args, want);
    snprintf(args, sizeof args, "run '%s' --out '%s' --resume --force", spec_path, gan_ref);
    snprintf(want, sizeof want, "error: --force starts the run over and --resume continues it: give one\n%s\n",
             "usage: runner run SPEC.yaml [--set key=value ...] [--out DIR] [--force | --resume] [--threads N]");
    expect_refused(args, want);
}

TU_MAIN(setup, teardown,
        cmocka_unit_test(test_interrupt_and_resume),
        cmocka_unit_test(test_kill_and_resume),
        cmocka_unit_test(test_resume_at_the_end),
        cmocka_unit_test(test_ddpm_kill_and_resume),
        cmocka_unit_test(test_second_interrupt_exits_at_once),
        cmocka_unit_test(test_resume_refused))
