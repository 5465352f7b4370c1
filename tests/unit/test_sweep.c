/* Sweeps, reports and `runner ls` end to end, through the built program ($RUNNER), on the MNIST
 * test split: a two-point sweep runs both points and a second invocation skips them; a point left
 * unfinished runs again; a sweep over seeds; the report lists the points with their swept values,
 * averages seeds, and regenerating it changes no byte; index.html in headless chromium (every
 * image loaded, clicking a header sorts the rows); the Slurm script runs what is left; sweeps
 * naming a missing key, a wrong type or a value out of range are refused before anything runs;
 * `runner ls` says running, interrupted, failed and finished; the shipped sweeps validate. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runner/io/metrics_csv.h"
#include "tests/unit/testutil.h"

static char results[256], lr_dir[300], seeds_dir[300], lr_sweep[300];
static pid_t long_run; /* test_ls_states's run in progress, stopped by the teardown if a check fails */

/* The whole file, malloc'ed (fails the test when it cannot be read). */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static int runner(const char *args, char *out, size_t len) { return tu_run_runner("", args, out, len); }

/* A sweep file in the scratch folder over the MNIST GAN, three steps a point, no FID. */
static void write_sweep(const char *path, const char *varied)
{
    char cwd[512], text[2048];
    assert_non_null(getcwd(cwd, sizeof cwd));
    snprintf(text, sizeof text,
             "spec: %s/experiments/gan_mnist.yaml\n"
             "set:\n"
             "  data.root: %s\n"
             "  data.split: test\n"
             "  train.steps: 3\n"
             "  log.every_steps: 1\n"
             "  fid.at_end: false\n"
             "%s",
             cwd, tu_mnist_dir(), varied);
    tu_write_text(path, text);
}

static int count(const char *text, const char *what)
{
    int n = 0;
    for (const char *p = text; (p = strstr(p, what)); p += strlen(what)) n++;
    return n;
}

/* The state, progress and headline metric `runner ls` printed for the folder dir. */
static void expect_ls(const char *out, const char *dir, const char *state, const char *progress, const char *metric)
{
    char s[32] = "", p[64] = "", m[64] = "", start[520];
    snprintf(start, sizeof start, "%s ", dir);
    const char *line = strstr(out, start);
    while (line && line != out && line[-1] != '\n') line = strstr(line + 1, start);
    if (!line) fail_msg("no line for %s in:\n%s", dir, out);
    sscanf(line + strlen(dir), "%31s %63s %63s", s, p, m);
    assert_string_equal(s, state);
    if (progress[0] == '/') assert_non_null(strstr(p, progress));
    else assert_string_equal(p, progress);
    assert_string_equal(m, metric);
}

static int cores(void)
{
    cpu_set_t set;
    return sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
}

static int setup(void **state)
{
    if (tu_group_setup(state)) return -1;
    tu_tmp(results, sizeof results, "results");
    snprintf(lr_dir, sizeof lr_dir, "%s/lr", results);
    snprintf(seeds_dir, sizeof seeds_dir, "%s/seeds", results);
    tu_tmp(lr_sweep, sizeof lr_sweep, "lr.yaml");
    write_sweep(lr_sweep, "grid:\n  optimizers.generator.lr: [1.0e-4, 2.0e-4]\n");
    return 0;
}

static int teardown(void **state)
{
    tu_kill_runner(&long_run);
    return tu_group_teardown(state);
}

static void expect_finished(const char *dir, const char *point)
{
    char path[700];
    snprintf(path, sizeof path, "%s/%s/summary.csv", dir, point);
    MetricsTable t;
    Error err = {0};
    if (metrics_table_read(path, &t, &err)) fail_msg("%s", err.msg);
    assert_int_equal(t.n_rows, 1);
    assert_string_equal(metrics_table_get(&t, 0, metrics_table_col(&t, "steps")), "3");
    metrics_table_free(&t);
}

/* Both points run, each as its own process with the machine's cores divided between the two. */
static void test_two_points_run(void **state)
{
    (void)state;
    char args[1024], out[16384], want[128];
    snprintf(args, sizeof args, "sweep '%s' -j 2 --out '%s'", lr_sweep, lr_dir);
    if (runner(args, out, sizeof out) != 0) fail_msg("%s", out);
    int threads = cores() / 2 > 0 ? cores() / 2 : 1;
    snprintf(want, sizeof want, "2 points, 0 finished before, 2 to run, 2 at a time with %d thread%s each", threads,
             threads == 1 ? "" : "s");
    if (!strstr(out, want)) fail_msg("no '%s' in:\n%s", want, out);
    assert_int_equal(count(out, "  finished  "), 2);
    expect_finished(lr_dir, "lr=1.0e-4");
    expect_finished(lr_dir, "lr=2.0e-4");
    char path[512];
    snprintf(path, sizeof path, "%s/sweep.csv", lr_dir);
    char *record = slurp(path);
    assert_string_equal(record, "point,group,optimizers.generator.lr\n"
                                "lr=1.0e-4,lr=1.0e-4,1.0e-4\n"
                                "lr=2.0e-4,lr=2.0e-4,2.0e-4\n");
    free(record);
    /* Each run got its point's value. */
    snprintf(path, sizeof path, "%s/lr=2.0e-4/spec.yaml", lr_dir);
    char *spec = slurp(path);
    assert_non_null(strstr(spec, "lr: 2.0e-4"));
    free(spec);
}

/* A second invocation finds both finished and runs nothing. */
static void test_second_invocation_skips(void **state)
{
    (void)state;
    char args[1024], out[16384], path[512];
    snprintf(path, sizeof path, "%s/lr=1.0e-4/metrics.csv", lr_dir);
    struct stat before, after;
    assert_int_equal(stat(path, &before), 0);
    snprintf(args, sizeof args, "sweep '%s' -j 2 --out '%s'", lr_sweep, lr_dir);
    if (runner(args, out, sizeof out) != 0) fail_msg("%s", out);
    assert_non_null(strstr(out, "2 points, 2 finished before, 0 to run"));
    assert_int_equal(count(out, "  skipped  "), 2);
    assert_non_null(strstr(out, "0 run, 2 skipped, 0 failed"));
    assert_int_equal(stat(path, &after), 0);
    assert_true(before.st_ino == after.st_ino && before.st_mtime == after.st_mtime);
}

/* Points whose runs stopped before their summary run again: one with a checkpoint resumes from
 * it (its logged rows stay, none twice), one without starts over. */
static void test_unfinished_point_runs_again(void **state)
{
    (void)state;
    char args[1024], out[16384], path[512];
    snprintf(path, sizeof path, "%s/lr=2.0e-4/summary.csv", lr_dir);
    assert_int_equal(unlink(path), 0);
    snprintf(path, sizeof path, "%s/lr=2.0e-4/metrics.csv", lr_dir);
    char *rows = slurp(path);
    snprintf(path, sizeof path, "%s/lr=1.0e-4/summary.csv", lr_dir);
    assert_int_equal(unlink(path), 0);
    snprintf(path, sizeof path, "%s/lr=1.0e-4/checkpoints/last.safetensors", lr_dir);
    assert_int_equal(unlink(path), 0);
    snprintf(args, sizeof args, "ls '%s'", lr_dir);
    assert_int_equal(runner(args, out, sizeof out), 0);
    snprintf(path, sizeof path, "%s/lr=2.0e-4", lr_dir);
    expect_ls(out, path, "interrupted", "3/3", "loss_d");
    snprintf(args, sizeof args, "sweep '%s' --out '%s'", lr_sweep, lr_dir);
    if (runner(args, out, sizeof out) != 0) fail_msg("%s", out);
    assert_non_null(strstr(out, "0 finished before, 2 to run"));
    assert_non_null(strstr(out, "was interrupted: resumed from its checkpoint"));
    assert_non_null(strstr(out, "was interrupted before its first checkpoint: ran again from the start"));
    expect_finished(lr_dir, "lr=1.0e-4");
    expect_finished(lr_dir, "lr=2.0e-4");
    snprintf(path, sizeof path, "%s/lr=2.0e-4/metrics.csv", lr_dir);
    char *after = slurp(path);
    assert_string_equal(after, rows);
    free(after);
    free(rows);
}

static void test_seeds_sweep(void **state)
{
    (void)state;
    char path[300], args[1024], out[16384];
    tu_tmp(path, sizeof path, "seeds.yaml");
    write_sweep(path, "grid:\n  seed: [0, 1]\n");
    snprintf(args, sizeof args, "sweep '%s' --threads 1 --out '%s'", path, seeds_dir);
    if (runner(args, out, sizeof out) != 0) fail_msg("%s", out);
    assert_non_null(strstr(out, "1 at a time with 1 thread each"));
    expect_finished(seeds_dir, "seed=0");
    expect_finished(seeds_dir, "seed=1");
}

/* A classifier run of its own (not a sweep's point): the report's classifier table. */
static void test_classifier_run(void **state)
{
    (void)state;
    char args[1024], out[16384];
    snprintf(args, sizeof args,
             "run experiments/lenet_mnist.yaml --set data.split=test --set data.root=%s --set train.steps=3 "
             "--threads 1 --out '%s/lenet'",
             tu_mnist_dir(), results);
    if (runner(args, out, sizeof out) != 0) fail_msg("%s", out);
}

static double summary_value(const char *dir, const char *col)
{
    char path[700];
    snprintf(path, sizeof path, "%s/summary.csv", dir);
    MetricsTable t;
    Error err = {0};
    double v;
    if (metrics_table_read(path, &t, &err) || metrics_table_num(&t, 0, metrics_table_col(&t, col), &v, &err))
        fail_msg("%s", err.msg);
    metrics_table_free(&t);
    return v;
}

/* The cells of the Markdown table row whose point (second column) is `point`. */
static int md_row(const char *md, const char *point, char cells[][128], int max)
{
    for (const char *line = md; line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        if (strncmp(line, "| ", 2) != 0) continue;
        int n = 0;
        for (const char *c = line + 2; *c && *c != '\n' && n < max; n++) {
            const char *end = strstr(c, " |");
            snprintf(cells[n], 128, "%.*s", (int)(end - c), c);
            c = end + 2 + (end[2] == ' ');
        }
        if (n > 1 && !strcmp(cells[1], point)) return n;
    }
    fail_msg("no row for %s in:\n%s", point, md);
    return 0;
}

static int md_col(const char *md, const char *name)
{
    char cells[64][128];
    int n = md_row(md, "point", cells, 64);
    for (int i = 0; i < n; i++)
        if (!strcmp(cells[i], name)) return i;
    fail_msg("no column %s", name);
    return -1;
}

/* REPORT.md: both points with their swept values, the seeds averaged; report.csv: every run. */
static void test_report(void **state)
{
    (void)state;
    char args[1024], out[16384], path[512];
    snprintf(args, sizeof args, "report '%s'", results);
    if (runner(args, out, sizeof out) != 0) fail_msg("%s", out);
    assert_non_null(strstr(out, "5 finished runs, 0 not finished"));
    snprintf(path, sizeof path, "%s/REPORT.md", results);
    char *md = slurp(path);
    char cells[64][128];
    int lr = md_col(md, "optimizers.generator.lr"), loss = md_col(md, "final_loss_d"), seeds = md_col(md, "seeds");
    int grid = md_col(md, "grid");
    md_row(md, "lr=1.0e-4", cells, 64);
    assert_string_equal(cells[0], "lr");
    assert_string_equal(cells[lr], "1.0e-4");
    assert_string_equal(cells[grid], "[grid](lr/lr=1.0e-4/samples/final.png)");
    md_row(md, "lr=2.0e-4", cells, 64);
    assert_string_equal(cells[lr], "2.0e-4");
    /* The two seeds: one row, mean ± standard deviation (n - 1). */
    md_row(md, "gan_mnist", cells, 64);
    assert_string_equal(cells[0], "seeds");
    assert_string_equal(cells[seeds], "0, 1");
    char d0[400], d1[400];
    snprintf(d0, sizeof d0, "%s/seed=0", seeds_dir);
    snprintf(d1, sizeof d1, "%s/seed=1", seeds_dir);
    double a = summary_value(d0, "final_loss_d"), b = summary_value(d1, "final_loss_d");
    double mean, sd;
    if (sscanf(cells[loss], "%lf ± %lf", &mean, &sd) != 2) fail_msg("'%s' is not mean ± sd", cells[loss]);
    assert_true(fabs(mean - (a + b) / 2) < 1e-3 * fabs(mean));
    assert_true(fabs(sd - fabs(a - b) / sqrt(2.0)) < 0.06 * sd);
    /* The classifier in a table of its own, with its loss and no grid. */
    const char *classifier = strstr(md, "\n## Classifier\n");
    assert_non_null(classifier);
    assert_true(classifier > strstr(md, "\n## Adversarial\n"));
    assert_non_null(strstr(classifier, " | final_loss | "));
    md_row(classifier, "lenet", cells, 64);
    assert_string_equal(cells[0], "");
    assert_string_equal(cells[2], "lenet_mnist");
    assert_string_equal(cells[md_col(classifier, "grid")], "-");
    assert_string_equal(cells[md_col(classifier, "losses")], "[losses](lenet/plots/losses.png)");
    free(md);
    snprintf(path, sizeof path, "%s/report.csv", results);
    MetricsTable t;
    Error err = {0};
    if (metrics_table_read(path, &t, &err)) fail_msg("%s", err.msg);
    assert_int_equal(t.n_rows, 5);
    assert_string_equal(metrics_table_get(&t, 0, metrics_table_col(&t, "family")), "classifier");
    assert_string_equal(metrics_table_get(&t, 2, metrics_table_col(&t, "point")), "lr=2.0e-4");
    assert_string_equal(metrics_table_get(&t, 2, metrics_table_col(&t, "optimizers.generator.lr")), "2.0e-4");
    assert_string_equal(metrics_table_get(&t, 4, metrics_table_col(&t, "seed")), "1");
    metrics_table_free(&t);
}

/* The same results give the same bytes. */
static void test_report_is_reproducible(void **state)
{
    (void)state;
    static const char *const files[] = {"REPORT.md", "report.csv", "index.html"};
    char *before[3], args[1024], out[4096], path[512];
    for (int i = 0; i < 3; i++) before[i] = slurp(tu_join(path, sizeof path, results, files[i]));
    snprintf(args, sizeof args, "report '%s'", results);
    if (runner(args, out, sizeof out) != 0) fail_msg("%s", out);
    for (int i = 0; i < 3; i++) {
        char *after = slurp(tu_join(path, sizeof path, results, files[i]));
        if (strcmp(before[i], after) != 0) fail_msg("%s changed when regenerated", files[i]);
        free(after);
        free(before[i]);
    }
}

/* index.html in a real browser: a script appended to a copy records, after the page has loaded,
 * how many images decoded and the order of the point column before and after clicking its header
 * (once: ascending, twice: descending). */
static void test_index_html_in_chromium(void **state)
{
    (void)state;
    if (system("command -v chromium >/dev/null 2>&1") != 0) fail_msg("chromium is missing: run make setup");
    static const char probe[] =
        "<script>window.addEventListener('load', function () {\n"
        "  var imgs = document.images, ok = 0;\n"
        "  for (var i = 0; i < imgs.length; i++) if (imgs[i].complete && imgs[i].naturalWidth > 0) ok++;\n"
        "  var table = document.querySelector('table.sortable'), heads = table.tHead.rows[0].cells, col = -1;\n"
        "  for (var j = 0; j < heads.length; j++) if (heads[j].textContent === 'point') col = j;\n"
        "  function order() { return Array.prototype.map.call(table.tBodies[0].rows,\n"
        "    function (r) { return r.cells[col].textContent; }).join('|'); }\n"
        "  var lines = ['images ' + ok + ' of ' + imgs.length, 'before ' + order()];\n"
        "  heads[col].click(); lines.push('once ' + order());\n"
        "  heads[col].click(); lines.push('twice ' + order());\n"
        "  var pre = document.createElement('pre'); pre.id = 'probe'; pre.textContent = lines.join(';');\n"
        "  document.body.appendChild(pre);\n"
        "});</script>\n</body>";
    char path[512], copy[512], profile[512], cmd[2048], out[8192];
    char *html = slurp(tu_join(path, sizeof path, results, "index.html"));
    char *end = strstr(html, "</body>");
    assert_non_null(end);
    *end = '\0';
    FILE *f = fopen(tu_tmp(copy, sizeof copy, "probe.html"), "w");
    assert_non_null(f);
    fprintf(f, "%s%s</html>\n", html, probe);
    fclose(f);
    free(html);
    tu_tmp(profile, sizeof profile, "chromium-profile");
    snprintf(cmd, sizeof cmd,
             "timeout 120 chromium --headless --no-sandbox --disable-gpu --user-data-dir='%s' --dump-dom 'file://%s' "
             "2>/dev/null", profile, copy);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    /* The page comes back whole, images and all; the probe's line is near its end. */
    out[0] = '\0';
    for (char line[4096]; fgets(line, sizeof line, p);)
        if (strstr(line, "<pre id=\"probe\">")) snprintf(out, sizeof out, "%s", line);
    assert_int_equal(pclose(p), 0);
    const char *result = strstr(out, "<pre id=\"probe\">");
    if (!result) fail_msg("the probe left no result in the page chromium loaded (%s)", copy);
    /* Two runs of lr and two seeds, a grid and a loss plot each; the classifier's plot. */
    assert_non_null(strstr(result, "images 9 of 9;"));
    assert_non_null(strstr(result, "before lr=1.0e-4|lr=2.0e-4|gan_mnist;"));
    assert_non_null(strstr(result, "once gan_mnist|lr=1.0e-4|lr=2.0e-4;"));
    assert_non_null(strstr(result, "twice lr=2.0e-4|lr=1.0e-4|gan_mnist<"));
}

/* --emit slurm: one array task per point left to run, the command the sweep would run (resuming
 * an interrupted point); the script run as array task 0 finishes that point. */
static void test_slurm_script(void **state)
{
    (void)state;
    char args[1024], out[16384], path[512], script[512];
    snprintf(args, sizeof args, "sweep '%s' --emit slurm --out '%s'", lr_sweep, lr_dir);
    assert_int_equal(runner(args, out, sizeof out), 0);
    assert_non_null(strstr(out, "every point has finished; no script written"));
    snprintf(path, sizeof path, "%s/lr=1.0e-4/summary.csv", lr_dir);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(runner(args, out, sizeof out), 0);
    snprintf(script, sizeof script, "%s/sweep.slurm", lr_dir);
    char *text = slurp(script);
    assert_non_null(strstr(text, "#SBATCH --array=0-0\n"));
    assert_non_null(strstr(text, "'--set' 'optimizers.generator.lr=1.0e-4' '--out'"));
    assert_non_null(strstr(text, "/lr=1.0e-4' '--resume' --threads \"$threads\""));
    assert_null(strstr(text, "lr=2.0e-4"));
    free(text);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "SLURM_ARRAY_TASK_ID=0 bash '%s'", script);
    assert_int_equal(system(cmd), 0);
    expect_finished(lr_dir, "lr=1.0e-4");
}

/* A point that fails does not stop the others; the sweep says which and exits 1, and the next
 * sweep runs it again. */
static void test_failing_point(void **state)
{
    (void)state;
    char path[300], dir[300], args[1024], out[16384];
    tu_tmp(path, sizeof path, "failing.yaml");
    tu_tmp(dir, sizeof dir, "failing");
    /* Adam's steps are about lr in size: 1e30 overflows at once. */
    write_sweep(path, "points:\n  - name: diverges\n    set: {optimizers.generator.lr: 1e30, "
                      "optimizers.discriminator.lr: 1e30}\n  - name: fine\n");
    snprintf(args, sizeof args, "sweep '%s' --out '%s'", path, dir);
    assert_int_equal(runner(args, out, sizeof out), 1);
    assert_non_null(strstr(out, "diverges  failed "));
    assert_non_null(strstr(out, "error: step 2: loss_d is")); /* the run's last line, under its row */
    assert_non_null(strstr(out, "fine      finished "));
    assert_non_null(strstr(out, "error: 1 of 2 points failed: 'diverges'"));
    expect_finished(dir, "fine");
    assert_int_equal(runner(args, out, sizeof out), 1);
    assert_non_null(strstr(out, "1 finished before, 1 to run"));
    assert_non_null(strstr(out, "fine      skipped "));
    assert_non_null(strstr(out, "diverges  failed "));
}

/* Each bad sweep is refused with its file:line:column and the point, before anything runs. */
static void test_bad_sweeps_refused(void **state)
{
    (void)state;
    static const struct {
        const char *grid, *message;
    } cases[] = {
        {"grid:\n  train.stepz: [1, 2]\n",
         "%s:9:3: error: point 'stepz=1': unknown key 'stepz' in train (did you mean 'steps'?)"},
        {"grid:\n  train.steps: [1, abc]\n",
         "%s:9:20: error: point 'steps=abc': 'steps' expects an integer, found 'abc'"},
        {"points:\n  - set: {optimizers.discriminator.lr: 1.0e-3}\n  - set: {optimizers.discriminator.lr: -1}\n",
         "%s:10:40: error: point 'lr=-1': 'lr' is out of range: found -1, expected a number of at least 0"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[300], dir[300], args[1024], out[4096], want[1024];
        tu_tmp(path, sizeof path, "bad.yaml");
        tu_tmp(dir, sizeof dir, "bad");
        write_sweep(path, cases[i].grid);
        snprintf(args, sizeof args, "sweep '%s' --out '%s'", path, dir);
        assert_int_equal(runner(args, out, sizeof out), 1);
        snprintf(want, sizeof want, cases[i].message, path);
        strcat(want, "\n");
        assert_string_equal(out, want);
        assert_false(tu_exists(dir));
    }
}

/* `runner ls`: a run in progress, the same killed, one that diverged, and finished ones. */
static void test_ls_states(void **state)
{
    (void)state;
    char dir[300], failed[300], cmd[2048], out[16384], args[512], path[512];
    snprintf(dir, sizeof dir, "%s/long", results);
    snprintf(failed, sizeof failed, "%s/diverged", results);
    snprintf(cmd, sizeof cmd,
             "run experiments/gan_mnist.yaml --set data.split=test --set data.root=%s --threads 1 "
             "--set fid.at_end=false --set train.steps=100000 --set log.every_steps=1 --out '%s'",
             tu_mnist_dir(), dir);
    long_run = tu_start_runner(cmd, "/dev/null");
    /* Wait until it has logged a step (no time limit here: the suite's timeout bounds it). */
    snprintf(path, sizeof path, "%s/metrics.csv", dir);
    for (;;) {
        FILE *f = fopen(path, "r");
        int lines = 0;
        for (int c; f && (c = fgetc(f)) != EOF;) lines += c == '\n';
        if (f) fclose(f);
        if (lines >= 2) break;
        usleep(50000);
    }
    snprintf(args, sizeof args, "ls '%s'", results);
    assert_int_equal(runner(args, out, sizeof out), 0);
    expect_ls(out, dir, "running", "/100000", "loss_d");
    /* A sweep whose point is that folder is refused before anything runs. */
    char sweep[300], want[700];
    tu_tmp(sweep, sizeof sweep, "busy.yaml");
    write_sweep(sweep, "points:\n  - name: long\n");
    snprintf(cmd, sizeof cmd, "sweep '%s' --out '%s'", sweep, results);
    assert_int_equal(runner(cmd, out, sizeof out), 1);
    snprintf(want, sizeof want, "error: point 'long': '%s' is in use by a run (process %ld)", dir, (long)long_run);
    if (!strstr(out, want)) fail_msg("no '%s' in:\n%s", want, out);
    snprintf(path, sizeof path, "%s/sweep.csv", results);
    assert_false(tu_exists(path));
    tu_kill_runner(&long_run);

    snprintf(cmd, sizeof cmd,
             "run experiments/gan_mnist.yaml --set data.split=test --set data.root=%s --threads 1 --set fid.at_end=false "
             "--set train.steps=20 --set log.every_steps=1 --set optimizers.generator.lr=1e30 "
             "--set optimizers.discriminator.lr=1e30 --out '%s'",
             tu_mnist_dir(), failed);
    assert_int_equal(runner(cmd, out, sizeof out), 1);
    assert_int_equal(runner(args, out, sizeof out), 0);
    expect_ls(out, dir, "interrupted", "/100000", "loss_d");
    expect_ls(out, failed, "failed", "1/20", "loss_d");
    snprintf(path, sizeof path, "%s/lr=1.0e-4", lr_dir);
    expect_ls(out, path, "finished", "3/3", "final_loss_d");
    snprintf(path, sizeof path, "%s/failed.txt", failed);
    char *why = slurp(path);
    assert_non_null(strstr(why, "error: step 2: loss_d is"));
    free(why);
    /* The report leaves both out of its tables and lists them. */
    snprintf(args, sizeof args, "report '%s'", results);
    assert_int_equal(runner(args, out, sizeof out), 0);
    assert_non_null(strstr(out, "5 finished runs, 2 not finished"));
}

/* The sweeps shipped in experiments/sweeps/ expand and validate (every point's spec). */
static void test_shipped_sweeps_validate(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        int points;
    } sweeps[] = {{"gan_variants", 10}, {"seeds", 3}};
    for (size_t i = 0; i < sizeof sweeps / sizeof sweeps[0]; i++) {
        char dir[300], args[1024], out[4096], want[128];
        tu_tmp(dir, sizeof dir, sweeps[i].name);
        snprintf(args, sizeof args, "sweep experiments/sweeps/%s.yaml --emit slurm --out '%s'", sweeps[i].name, dir);
        if (runner(args, out, sizeof out) != 0) fail_msg("%s", out);
        snprintf(want, sizeof want, "%d array tasks", sweeps[i].points);
        if (!strstr(out, want)) fail_msg("no '%s' in:\n%s", want, out);
    }
}

TU_MAIN(setup, teardown,
        cmocka_unit_test(test_two_points_run),
        cmocka_unit_test(test_second_invocation_skips),
        cmocka_unit_test(test_unfinished_point_runs_again),
        cmocka_unit_test(test_seeds_sweep),
        cmocka_unit_test(test_classifier_run),
        cmocka_unit_test(test_report),
        cmocka_unit_test(test_report_is_reproducible),
        cmocka_unit_test(test_index_html_in_chromium),
        cmocka_unit_test(test_slurm_script),
        cmocka_unit_test(test_failing_point),
        cmocka_unit_test(test_bad_sweeps_refused),
        cmocka_unit_test(test_ls_states),
        cmocka_unit_test(test_shipped_sweeps_validate))
