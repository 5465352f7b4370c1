/* The classifier algorithm (runner/algo/algo_classifier.c) against PyTorch
 * (tests/parity/classifier_reference.py): from the same initial weights and batches, each
 * iteration's loss and accuracy, the updated weights and buffers, and the evaluation metrics of
 * held-out examples afterwards must be PyTorch's.  Also the errors a user can cause.
 *
 * Tolerances (the reference runs in float64, so these bound our float32 error).
 *   Losses: |ours - torch| <= 1e-4 * |torch| + 1e-7.  Accuracies: equal (a count of argmaxes).
 *   Weights and buffers, per tensor: ||ours - torch||_2 <= 1e-4 * ||torch||_2 (Adam's first steps
 *   move each weight by about lr * sign(gradient), so elementwise bounds would be about
 *   rounding of near-zero gradients); the SGD case also bounds the update itself,
 *   ||(ours - init) - (torch - init)||_2 <= 1e-4 * ||torch - init||_2, so a wrong gradient cannot
 *   hide behind a small learning rate.  Counters must be equal. */
#include "runner/io/checkpoint.h"
#include "runner/algo/experiment.h"
#include "tests/unit/testutil.h"

#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <cmocka.h>

#define LOSS_RTOL 1e-4
#define LOSS_ATOL 1e-7
#define WEIGHT_RTOL 1e-4

/* The cases of classifier_reference.py, in its order. */
static const char *const cases[] = {"sgd_smoothing", "adam_batchnorm"};
#define N_CASES ((int)(sizeof cases / sizeof cases[0]))

static void must(int rc, const Error *err)
{
    if (rc) fail_msg("%s", tu_err(err));
}

static float *load_f32(const StFile *f, const char *name, size_t n)
{
    Error err = {0};
    const StTensor *t = st_find(f, name);
    if (!t) fail_msg("fixture tensor '%s' is missing", name);
    float *x = malloc((n ? n : 1) * sizeof *x);
    assert_non_null(x);
    must(st_to_f32(t, x, n, &err), &err);
    return x;
}

static int32_t *load_labels(const StFile *f, const char *name, size_t n)
{
    float *v = load_f32(f, name, n);
    int32_t *l = malloc((n ? n : 1) * sizeof *l);
    assert_non_null(l);
    for (size_t i = 0; i < n; i++) l[i] = (int32_t)v[i];
    free(v);
    return l;
}

/* ||a - b||_2 and ||b||_2 over n values (a - base and b - base when base is not NULL). */
static void l2_error(const float *a, const float *b, const float *base, size_t n, double *diff, double *norm)
{
    double d2 = 0, w2 = 0;
    for (size_t k = 0; k < n; k++) {
        double x = a[k], y = b[k];
        if (base) x -= base[k], y -= base[k];
        d2 += (x - y) * (x - y);
        w2 += y * y;
    }
    *diff = sqrt(d2), *norm = sqrt(w2);
}

static void compare_network(const char *what, const Network *net, const StFile *after, const StFile *init,
                            bool updates)
{
    for (int i = 0; i < net->params.n; i++) {
        const Param *p = net->params.items[i];
        char name[256];
        snprintf(name, sizeof name, "%s.%s", net->def.name, p->name);
        size_t n = tensor_numel(&p->value);
        float *ours = malloc(n * sizeof *ours), *want = load_f32(after, name, n), *before = load_f32(init, name, n);
        assert_non_null(ours);
        p->be->download(ours, p->value.data, n);
        for (size_t k = 0; k < n; k++)
            if (!isfinite(ours[k])) fail_msg("%s: %s[%zu] is %g", what, name, k, ours[k]);
        double diff, norm;
        if (p->is_counter) {
            for (size_t k = 0; k < n; k++)
                if (ours[k] != want[k]) fail_msg("%s: %s: got %g, want %g", what, name, ours[k], want[k]);
        } else {
            l2_error(ours, want, NULL, n, &diff, &norm);
            if (diff > WEIGHT_RTOL * norm)
                fail_msg("%s: %s: relative L2 error %.3g > %.0e", what, name, diff / (norm > 0 ? norm : 1), WEIGHT_RTOL);
            l2_error(ours, want, before, n, &diff, &norm);
            if (updates && p->trainable && diff > WEIGHT_RTOL * norm)
                fail_msg("%s: %s: the update's relative L2 error is %.3g > %.0e", what, name,
                         diff / (norm > 0 ? norm : 1), WEIGHT_RTOL);
        }
        free(ours), free(want), free(before);
    }
}

static void check_metrics(const char *what, const char *const *names, const double *ours, const float *want)
{
    if (!(fabs(ours[0] - want[0]) <= LOSS_RTOL * fabs(want[0]) + LOSS_ATOL))
        fail_msg("%s: %s: got %.8g, PyTorch %.8g", what, names[0], ours[0], want[0]);
    if (fabs(ours[1] - want[1]) > 1e-6)
        fail_msg("%s: %s: got %.8g, PyTorch %.8g", what, names[1], ours[1], want[1]);
}

static int build(Experiment *x, Spec *spec, const char *text, int batch, Error *err)
{
    if (spec_load_text("classifier_test.yaml", text, NULL, 0, spec, err)) return -1;
    Shape example = shape_of(3, (int64_t)1, (int64_t)8, (int64_t)8);
    if (experiment_build(x, spec, backend_cpu(), batch, &example, err)) {
        spec_free(spec);
        return -1;
    }
    return 0;
}

static void test_case_matches_pytorch(void **state)
{
    const char *name = *state;
    Error err = {0};
    char rel[256], path[512];
    StFile steps = {0}, after = {0}, init = {0};
    snprintf(rel, sizeof rel, "classifier/%s/steps.safetensors", name);
    must(st_read(tu_fixture_path(path, sizeof path, rel), &steps, &err), &err);
    const char *text = st_meta(&steps, "spec");
    assert_non_null(text);
    int iterations = atoi(st_meta(&steps, "iterations")), batch = atoi(st_meta(&steps, "batch"));
    int eval_count = atoi(st_meta(&steps, "eval_count"));
    Spec spec;
    Experiment x;
    must(build(&x, &spec, text, batch, &err), &err);
    assert_string_equal(x.metrics[0], "loss");
    assert_string_equal(x.metrics[1], "accuracy");
    snprintf(rel, sizeof rel, "classifier/%s/init.safetensors", name);
    must(st_read(tu_fixture_path(path, sizeof path, rel), &init, &err), &err);
    must(checkpoint_load_file(&init, path, x.nets, x.n_nets, NULL, 0, true, &err), &err);

    for (int k = 0; k < iterations; k++) {
        char key[64], what[128];
        double metrics[ALGO_MAX_METRICS];
        snprintf(key, sizeof key, "iter%d.images", k);
        float *images = load_f32(&steps, key, (size_t)batch * 64);
        snprintf(key, sizeof key, "iter%d.labels", k);
        int32_t *labels = load_labels(&steps, key, (size_t)batch);
        snprintf(key, sizeof key, "iter%d.metrics", k);
        float *want = load_f32(&steps, key, 2);
        must(x.algo->step(x.state, images, labels, k, metrics, &err), &err);
        snprintf(what, sizeof what, "%s: iteration %d", name, k);
        check_metrics(what, x.metrics, metrics, want);
        free(images), free(labels), free(want);
    }
    snprintf(rel, sizeof rel, "classifier/%s/after.safetensors", name);
    must(st_read(tu_fixture_path(path, sizeof path, rel), &after, &err), &err);
    compare_network(name, x.nets[0], &after, &init, iterations == 1);

    const char *const *eval_names = x.algo->eval_metrics;
    assert_int_equal(algorithm_count_names(eval_names), 2);
    assert_string_equal(eval_names[0], "test_loss");
    assert_string_equal(eval_names[1], "test_accuracy");
    float *images = load_f32(&steps, "eval.images", (size_t)eval_count * 64), *want = load_f32(&steps, "eval.metrics", 2);
    int32_t *labels = load_labels(&steps, "eval.labels", (size_t)eval_count);
    double metrics[ALGO_MAX_METRICS];
    char what[128];
    snprintf(what, sizeof what, "%s: evaluation", name);
    must(x.algo->evaluate(x.state, images, labels, eval_count, metrics, &err), &err);
    check_metrics(what, eval_names, metrics, want);
    /* Evaluation changes nothing: the weights and running statistics are still PyTorch's. */
    compare_network(what, x.nets[0], &after, &init, false);
    free(images), free(labels), free(want);
    st_free(&after), st_free(&init), st_free(&steps);
    experiment_free(&x);
    spec_free(&spec);
}

static const char small_spec[] =
    "name: small\n"
    "models:\n"
    "  classifier:\n"
    "    input: [1, 8, 8]\n"
    "    layers: [flatten, {linear: {out: %d}}%s]\n"
    "%s"
    "loss: {type: classifier%s}\n"
    "optimizers:\n"
    "  classifier: {type: sgd, lr: 0.1}\n";

static void expect_build_error(const char *text, const char *want)
{
    Spec spec;
    Experiment x;
    Error err = {0};
    if (build(&x, &spec, text, 4, &err) == 0) {
        experiment_free(&x);
        spec_free(&spec);
        fail_msg("built, expected an error containing \"%s\"", want);
    }
    if (!strstr(err.msg, want)) fail_msg("error \"%s\" does not contain \"%s\"", tu_err(&err), want);
}

static void test_errors_name_the_problem(void **state)
{
    (void)state;
    char text[1024];
    snprintf(text, sizeof text, small_spec, 3, ", {reshape: [3, 1]}", "", "");
    expect_build_error(text, "classifier 'classifier' must output logits shaped (batch, classes), it outputs (4, 3, 1)");
    snprintf(text, sizeof text, small_spec, 3, "", "  other: {input: [2], layers: [{linear: {out: 1}}]}\n", "");
    expect_build_error(text, "missing required key 'model' in loss: the spec has 2 models");

    /* A label outside the classes is an error naming it, as is a dataset without labels. */
    snprintf(text, sizeof text, small_spec, 3, "", "", ", label_smoothing: 0.2");
    Spec spec;
    Experiment x;
    Error err = {0};
    must(build(&x, &spec, text, 4, &err), &err);
    float images[4 * 64] = {0};
    int32_t labels[4] = {0, 2, 3, 1};
    double m[ALGO_MAX_METRICS];
    assert_int_equal(x.algo->step(x.state, images, labels, 0, m, &err), -1);
    assert_non_null(strstr(err.msg, "label 3 of example 2 is not a class of the classifier's 3 outputs (0 to 2)"));
    assert_int_equal(x.algo->step(x.state, images, NULL, 0, m, &err), -1);
    assert_non_null(strstr(err.msg, "needs labels"));
    assert_int_equal(x.algo->evaluate(x.state, images, NULL, 4, m, &err), -1);
    labels[2] = 2;
    must(x.algo->step(x.state, images, labels, 0, m, &err), &err);
    /* With valid labels the same batch trains: a finite loss, an accuracy in quarters. */
    assert_true(isfinite(m[0]));
    assert_true(fabs(m[1] * 4 - round(m[1] * 4)) < 1e-9);
    experiment_free(&x);
    spec_free(&spec);
}

int main(void)
{
    const struct CMUnitTest more[] = {
        cmocka_unit_test(test_errors_name_the_problem),
    };
    return tu_run_case_tests("classifier/cases.txt", cases, N_CASES, test_case_matches_pytorch, more,
                             (int)(sizeof more / sizeof more[0]));
}
