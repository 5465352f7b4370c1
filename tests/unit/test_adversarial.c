/* The adversarial algorithms (runner/algo/algo_adversarial.c) against PyTorch
 * (tests/parity/adversarial_reference.py): for each loss type and variant, whole iterations (for
 * n_critic > 1 at least a generator step's worth) from the same initial weights, batches and noise
 * (fed through the backend table: see scripted_backend) must give PyTorch's gradients, metrics
 * and weights.
 *
 * The reference runs in float64, so it is the exact answer up to float32 rounding; what differs
 * between machines is only the summation order of the BLAS and convolution kernels, and each
 * check is as tight as the mathematics allows under any order:
 *   Gradients of the first iteration's updates (well conditioned), per tensor:
 *     ||ours - torch||_2 <= GRAD_RTOL * ||torch||_2 + GRAD_NET_RTOL * ||the network's gradient||_2.
 *     The second term covers gradients that are sums cancelling to far below their terms (the
 *     last bias of a GAN discriminator sums sigmoids of about +-0.5 to about 1e-4) or to exactly
 *     zero (a bias feeding a batch norm: the fixture's "rounding_driven"), where float32 leaves
 *     rounding noise of the terms' size.
 *   Metrics of every iteration: |ours - torch| <= METRIC_RTOL * |torch| + METRIC_ATOL; a NaN
 *     loss_g (no generator step yet) must be NaN on both sides.
 *   Weights after the last iteration, per element, with `move` = lr * the network's updates (about
 *     how far its optimizer can have moved an element):
 *     |ours - torch| <= WEIGHT_RTOL * |torch| + MOVE_RTOL * move.  Adam's and RMSprop's first
 *     updates are about lr * sign(gradient) (RMSprop's 1/sqrt(1 - alpha) times that), so an
 *     element whose gradient is within rounding of zero can legitimately go the other way: up to
 *     FLIP_FRACTION of a tensor's elements (at least one) may be farther apart, but never more
 *     than FLIP_BOUND * move.  A rounding-driven tensor moves by rounding noise alone: every
 *     element within 2 * move.
 *   Buffers (batch-norm running statistics), per tensor: ||ours - torch||_2 <= WEIGHT_RTOL *
 *     ||torch||_2, or elementwise within 2 * move for a running mean that follows a
 *     rounding-driven bias.  Counters must be equal. */
#include "runner/algo/adversarial.h"
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

#define GRAD_RTOL 1e-4
#define GRAD_NET_RTOL 1e-6
#define METRIC_RTOL 1e-4
#define METRIC_ATOL 1e-7
#define WEIGHT_RTOL 1e-4
#define MOVE_RTOL 1e-2
#define FLIP_FRACTION 1e-3 /* seen: 150 of 1.6 million with OpenBLAS's generic kernels */
#define FLIP_BOUND 20.0    /* RMSprop's first update (alpha 0.99) is 10 * lr, either way */

/* The cases of adversarial_reference.py, in its order. */
static const char *const cases[] = {
    "gan_non_saturating", "gan_minimax", "gan_hinge", "gan_least_squares", "wgan_clip",
    "wgan_gp_layer_norm", "wgan_gp_conv", "gan_reference", "wgan_gp_reference",
};
#define N_CASES ((int)(sizeof cases / sizeof cases[0]))

static void must(int rc, const Error *err)
{
    if (rc) fail_msg("%s", tu_err(err));
}

static float *load_f32(const StFile *f, const char *name, size_t n, bool required)
{
    Error err = {0};
    const StTensor *t = st_find(f, name);
    if (!t) {
        if (required) fail_msg("fixture tensor '%s' is missing", name);
        return NULL;
    }
    float *x = malloc(n * sizeof *x);
    assert_non_null(x);
    must(st_to_f32(t, x, n, &err), &err);
    return x;
}

static bool in_list(const char *name, const char *comma_list)
{
    size_t len = strlen(name);
    for (const char *p = comma_list; p && *p;) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n == len && strncmp(p, name, n) == 0) return true;
        p = end ? end + 1 : NULL;
    }
    return false;
}

static float *download(const Param *p, const float *backend_data, size_t n)
{
    float *x = malloc(n * sizeof *x);
    assert_non_null(x);
    p->be->download(x, backend_data, n);
    for (size_t k = 0; k < n; k++)
        if (!isfinite(x[k])) fail_msg("%s[%zu] is %g", p->name, k, x[k]);
    return x;
}

/* The gradients the first iteration's update of `o` applied, against PyTorch's. */
static void compare_gradients(const char *what, const Optimizer *o, const StFile *grads)
{
    char name[256];
    double net_norm2 = 0;
    for (int i = 0; i < o->n; i++) {
        snprintf(name, sizeof name, "%s.%s", o->name, o->params[i]->name);
        const StTensor *t = st_find(grads, name);
        bool ours = o->last_grads && o->last_grads[i];
        if (!t != !ours) fail_msg("%s: %s: %s has a first-iteration gradient", what, name, t ? "only PyTorch" : "only ours");
        if (t) {
            float *want = load_f32(grads, name, tensor_numel(&o->params[i]->value), true);
            double w = tu_l2(want, tensor_numel(&o->params[i]->value));
            net_norm2 += w * w;
            free(want);
        }
    }
    for (int i = 0; o->last_grads && i < o->n; i++) {
        const Param *p = o->params[i];
        if (!o->last_grads[i]) continue;
        size_t n = tensor_numel(&p->value);
        snprintf(name, sizeof name, "%s.%s", o->name, p->name);
        float *got = download(p, o->last_grads[i], n), *want = load_f32(grads, name, n, true);
        double err = tu_l2_diff(got, want, n), own = tu_l2(want, n), net = sqrt(net_norm2);
        if (!(err <= GRAD_RTOL * own + GRAD_NET_RTOL * net))
            fail_msg("%s: gradient of %s: L2 error %.3g > %.0e x its norm %.3g + %.0e x the network's %.3g", what,
                     name, err, GRAD_RTOL, own, GRAD_NET_RTOL, net);
        free(got);
        free(want);
    }
}

/* Weights and buffers after the last iteration (see the tolerances above). */
static void compare_network(const char *what, const Network *net, const StFile *after, const char *noisy,
                            double move)
{
    for (int i = 0; i < net->params.n; i++) {
        const Param *p = net->params.items[i];
        char name[256], msg[512];
        snprintf(name, sizeof name, "%s.%s", net->def.name, p->name);
        size_t n = tensor_numel(&p->value);
        float *ours = download(p, p->value.data, n), *want = load_f32(after, name, n, true);
        if (p->is_counter) {
            for (size_t k = 0; k < n; k++)
                if (ours[k] != want[k]) fail_msg("%s: %s: got %g, want %g", what, name, ours[k], want[k]);
        } else if (in_list(name, noisy)) {
            if (!tu_allclose(name, ours, want, n, 0.0, 2.0 * move, msg, sizeof msg))
                fail_msg("%s: %s", what, msg);
        } else if (p->is_buffer) {
            if (tu_l2_diff(ours, want, n) > WEIGHT_RTOL * tu_l2(want, n))
                fail_msg("%s: %s: relative L2 error %.3g > %.0e", what, name,
                         tu_l2_diff(ours, want, n) / fmax(tu_l2(want, n), 1e-30), WEIGHT_RTOL);
        } else {
            size_t far = 0, worst = 0;
            for (size_t k = 0; k < n; k++) {
                double d = fabs((double)ours[k] - want[k]);
                if (d > WEIGHT_RTOL * fabs(want[k]) + MOVE_RTOL * move) {
                    if (far++ == 0 || d > fabs((double)ours[worst] - want[worst])) worst = k;
                }
            }
            size_t allowed = (size_t)ceil(FLIP_FRACTION * (double)n);
            double worst_d = far ? fabs((double)ours[worst] - want[worst]) : 0;
            if (far > allowed || worst_d > FLIP_BOUND * move)
                fail_msg("%s: %s: %zu of %zu elements differ by more than %.0e x |torch| + %.0e x lr x updates "
                         "(at most %zu may, by at most %.0f x lr x updates); the worst, [%zu], %.9g against %.9g",
                         what, name, far, n, WEIGHT_RTOL, MOVE_RTOL, allowed, FLIP_BOUND, worst, ours[worst],
                         want[worst]);
        }
        free(ours);
        free(want);
    }
}

static void check_metrics(const char *what, int k, const char *const *names, int n, const double *ours,
                          const float *want)
{
    for (int i = 0; i < n; i++) {
        if (isnan(want[i]) || isnan(ours[i])) {
            if (!(isnan(want[i]) && isnan(ours[i])))
                fail_msg("%s: iteration %d: %s: got %.8g, PyTorch %.8g", what, k, names[i], ours[i], want[i]);
            continue;
        }
        if (!(fabs(ours[i] - want[i]) <= METRIC_RTOL * fabs(want[i]) + METRIC_ATOL))
            fail_msg("%s: iteration %d: %s: got %.8g, PyTorch %.8g", what, k, names[i], ours[i], want[i]);
    }
}

/* Builds the experiment of a spec text for batches of `batch` on backend `be`. */
static void build_on(Experiment *x, Spec *spec, const char *label, const char *text, int batch, const Backend *be)
{
    Error err = {0};
    must(spec_load_text(label, text, NULL, 0, spec, &err), &err);
    const NetDef *d = spec_model(spec, spec->loss.discriminator);
    assert_non_null(d);
    must(experiment_build(x, spec, be, batch, &d->inputs[0].shape, &err), &err);
}

static void build(Experiment *x, Spec *spec, const char *label, const char *text, int batch)
{
    build_on(x, spec, label, text, batch, backend_cpu());
}

/* The CPU backend, except that while a script is set its random draws return PyTorch's noise
 * in the order the algorithm draws it (normals: the critic's batch noise, then the generator
 * step's under discriminator_first; uniforms: wgan_gp's interpolation weights).  The noise
 * reaches the algorithm through the backend table, as drawn noise does, with no hook in the
 * library. */
typedef struct NoiseScript {
    const float *normal[2], *uniform;
    size_t n_normal_values, n_uniform_values;
    int n_normal, next_normal, next_uniform;
} NoiseScript;
static NoiseScript script;

static void scripted_normal(float *y, size_t n, float mean, float std, uint64_t seed, uint64_t offset)
{
    if (!script.n_normal) {
        backend_cpu()->rng_normal(y, n, mean, std, seed, offset); /* initialisation, before the script */
        return;
    }
    if (script.next_normal == script.n_normal) fail_msg("the algorithm drew more normal noise than PyTorch");
    if (n != script.n_normal_values) fail_msg("the algorithm drew %zu normals, PyTorch %zu", n, script.n_normal_values);
    memcpy(y, script.normal[script.next_normal++], n * sizeof *y);
}

static void scripted_uniform(float *y, size_t n, float lo, float hi, uint64_t seed, uint64_t offset)
{
    if (!script.n_normal) {
        backend_cpu()->rng_uniform(y, n, lo, hi, seed, offset);
        return;
    }
    if (!script.uniform || script.next_uniform) fail_msg("the algorithm drew uniforms PyTorch did not");
    if (n != script.n_uniform_values) fail_msg("the algorithm drew %zu uniforms, PyTorch %zu", n, script.n_uniform_values);
    memcpy(y, script.uniform, n * sizeof *y);
    script.next_uniform++;
}

static const Backend *scripted_backend(void)
{
    static Backend be;
    be = *backend_cpu();
    be.rng_normal = scripted_normal;
    be.rng_uniform = scripted_uniform;
    return &be;
}

static void expect_script_used(void)
{
    if (script.next_normal != script.n_normal || (script.uniform && !script.next_uniform))
        fail_msg("the algorithm drew less noise than PyTorch");
}

/* One iteration's noise; the previous iteration's must all have been drawn. */
static void set_script(const float *z_critic, const float *z_gen, size_t nz, const float *eps, size_t n_eps)
{
    expect_script_used();
    script = (NoiseScript){.normal = {z_critic, z_gen}, .n_normal = z_gen ? 2 : 1, .n_normal_values = nz,
                           .uniform = eps, .n_uniform_values = n_eps};
}

static void test_case_matches_pytorch(void **state)
{
    const char *name = *state;
    Error err = {0};
    char rel[256], path[512], label[256];
    StFile steps = {0}, after = {0}, grads = {0};
    snprintf(rel, sizeof rel, "adversarial/%s/steps.safetensors", name);
    must(st_read(tu_fixture_path(path, sizeof path, rel), &steps, &err), &err);
    const char *text = st_meta(&steps, "spec"), *noisy = st_meta(&steps, "rounding_driven");
    assert_non_null(text);
    assert_non_null(noisy);
    int iterations = atoi(st_meta(&steps, "iterations")), batch = atoi(st_meta(&steps, "batch"));
    double lr = atof(st_meta(&steps, "lr"));
    double generator_move = lr * atoi(st_meta(&steps, "generator_steps")), critic_move = lr * iterations;

    /* Includes resolve against experiments/, where the reference networks live. */
    snprintf(label, sizeof label, "experiments/adversarial_%s.yaml", name);
    Spec spec;
    Experiment x;
    script = (NoiseScript){0};
    build_on(&x, &spec, label, text, batch, scripted_backend());
    snprintf(rel, sizeof rel, "adversarial/%s/init.safetensors", name);
    must(checkpoint_load(tu_fixture_path(path, sizeof path, rel), x.nets, x.n_nets, NULL, 0, true, &err), &err);

    const NetDef *gd = spec_model(&spec, spec.loss.generator), *dd = spec_model(&spec, spec.loss.discriminator);
    const Network *gen = NULL;
    for (int i = 0; i < x.n_nets; i++)
        if (!strcmp(x.nets[i]->def.name, spec.loss.generator)) gen = x.nets[i];
    assert_non_null(gen);
    size_t nz = (size_t)batch * (size_t)shape_numel(&gd->inputs[0].shape);
    size_t nx = (size_t)batch * (size_t)shape_numel(&dd->inputs[0].shape);
    /* The caller carries metrics from one iteration to the next (loss_g between generator steps). */
    double metrics[ALGO_MAX_METRICS];
    for (int i = 0; i < ALGO_MAX_METRICS; i++) metrics[i] = NAN;
    for (int k = 0; k < iterations; k++) {
        char key[64];
        snprintf(key, sizeof key, "iter%d.real", k);
        float *real = load_f32(&steps, key, nx, true);
        snprintf(key, sizeof key, "iter%d.z_critic", k);
        float *zc = load_f32(&steps, key, nz, true);
        snprintf(key, sizeof key, "iter%d.z_gen", k);
        float *zg = load_f32(&steps, key, nz, false);
        snprintf(key, sizeof key, "iter%d.eps", k);
        float *eps = load_f32(&steps, key, (size_t)batch, false);
        snprintf(key, sizeof key, "iter%d.metrics", k);
        float *want = load_f32(&steps, key, (size_t)x.n_metrics, true);

        set_script(zc, zg, nz, eps, (size_t)batch);
        must(x.algo->step(x.state, real, NULL, k, metrics, &err), &err);
        check_metrics(name, k, x.metrics, x.n_metrics, metrics, want);
        free(real), free(zc), free(zg), free(eps), free(want);
        if (k == 0) {
            snprintf(rel, sizeof rel, "adversarial/%s/grads.safetensors", name);
            must(st_read(tu_fixture_path(path, sizeof path, rel), &grads, &err), &err);
            for (int i = 0; i < x.n_nets; i++) compare_gradients(name, x.optims[i], &grads);
        }
    }
    expect_script_used();
    script = (NoiseScript){0};
    snprintf(rel, sizeof rel, "adversarial/%s/after.safetensors", name);
    must(st_read(tu_fixture_path(path, sizeof path, rel), &after, &err), &err);
    for (int i = 0; i < x.n_nets; i++)
        compare_network(name, x.nets[i], &after, noisy, x.nets[i] == gen ? generator_move : critic_move);
    st_free(&grads);
    st_free(&after);
    st_free(&steps);
    experiment_free(&x);
    spec_free(&spec);
}

static const char small_nets[] =
    "models:\n"
    "  generator:\n"
    "    input: [4]\n"
    "    layers: [{linear: {out: 9}}, tanh, {reshape: [1, 3, 3]}]\n"
    "  discriminator:\n"
    "    input: [1, 3, 3]\n"
    "    layers: [flatten, {linear: {out: 6}}, %s, {linear: {out: 1}}]\n"
    "optimizers:\n"
    "  generator: {type: adam, lr: 1.0e-3}\n"
    "  discriminator: {type: adam, lr: 1.0e-3%s}\n";

static void small_spec(char *buf, size_t len, const char *loss, const char *hidden, const char *d_extra)
{
    int n = snprintf(buf, len, "name: small\nseed: 7\nloss: %s\n", loss);
    snprintf(buf + n, len - (size_t)n, small_nets, hidden, d_extra);
}

/* Noise comes from (seed, step): two runs of the same spec give identical metrics, and samples
 * depend on the sampling seed only. */
static void test_runs_are_reproducible(void **state)
{
    (void)state;
    const char *losses[] = {"{type: gan, variant: hinge}", "{type: wgan, n_critic: 3}",
                            "{type: wgan_gp, n_critic: 2, order: discriminator_first}"};
    Error err = {0};
    for (int l = 0; l < 3; l++) {
        char text[2048];
        small_spec(text, sizeof text, losses[l], "relu", "");
        double m[2][6][ALGO_MAX_METRICS] = {{{0}}};
        float img[2][5 * 9];
        for (int run = 0; run < 2; run++) {
            Spec spec;
            Experiment x;
            build(&x, &spec, "small.yaml", text, 4);
            float batch[4 * 9];
            uint64_t rng = 3;
            for (int k = 0; k < 6; k++) {
                tu_fill_uniform(batch, 36, -1, 1, &rng);
                for (int i = 0; i < ALGO_MAX_METRICS; i++) m[run][k][i] = k ? m[run][k - 1][i] : NAN;
                must(x.algo->step(x.state, batch, NULL, k, m[run][k], &err), &err);
                for (int i = 0; i < x.n_metrics; i++)
                    if (i != 1 || k > 0 || l != 2) assert_true(isfinite(m[run][k][i]));
            }
            must(x.algo->sample(x.state, 5, 11, img[run], &err), &err);
            experiment_free(&x);
            spec_free(&spec);
        }
        assert_memory_equal(m[0], m[1], sizeof m[0]);
        assert_memory_equal(img[0], img[1], sizeof img[0]);
    }
}

/* A batch of samples is the same whether drawn at once or as the start of a larger draw, and
 * another seed draws other samples. */
static void test_samples_depend_on_the_seed_only(void **state)
{
    (void)state;
    Error err = {0};
    char text[2048];
    small_spec(text, sizeof text, "{type: gan}", "relu", "");
    Spec spec;
    Experiment x;
    build(&x, &spec, "small.yaml", text, 4);
    float a[3 * 9], b[7 * 9], c[3 * 9];
    must(x.algo->sample(x.state, 3, 5, a, &err), &err);
    must(x.algo->sample(x.state, 7, 5, b, &err), &err);
    must(x.algo->sample(x.state, 3, 6, c, &err), &err);
    assert_memory_equal(a, b, sizeof a);
    assert_memory_not_equal(a, c, sizeof a);
    assert_int_equal(x.algo->sample(x.state, 0, 5, a, &err), -1);
    assert_non_null(strstr(err.msg, "at least 1"));
    experiment_free(&x);
    spec_free(&spec);
}

/* The metric columns per loss type. */
static void test_metric_names(void **state)
{
    (void)state;
    const char *losses[] = {"{type: gan}", "{type: wgan}", "{type: wgan_gp}"};
    const char *want[] = {"loss_d,loss_g,d_real,d_fake", "loss_d,loss_g,wasserstein",
                          "loss_d,loss_g,wasserstein,gp"};
    for (int l = 0; l < 3; l++) {
        char text[2048], got[128] = "";
        small_spec(text, sizeof text, losses[l], "relu", "");
        Spec spec;
        Experiment x;
        build(&x, &spec, "small.yaml", text, 2);
        for (int i = 0; i < x.n_metrics; i++) {
            if (i) strcat(got, ",");
            strcat(got, x.metrics[i]);
        }
        assert_string_equal(got, want[l]);
        experiment_free(&x);
        spec_free(&spec);
    }
}

static void expect_build_error(const char *text, const char *const *parts, int n_parts)
{
    Error err = {0};
    Spec spec;
    Experiment x;
    must(spec_load_text("small.yaml", text, NULL, 0, &spec, &err), &err);
    const NetDef *d = spec_model(&spec, spec.loss.discriminator);
    assert_int_equal(experiment_build(&x, &spec, backend_cpu(), 2, &d->inputs[0].shape, &err), -1);
    for (int i = 0; i < n_parts; i++)
        if (!strstr(err.msg, parts[i])) fail_msg("message lacks '%s': %s", parts[i], tu_err(&err));
    spec_free(&spec);
}

/* A critic op without a second-order gradient is named; clip set twice is refused. */
static void test_errors_name_the_cause(void **state)
{
    (void)state;
    char text[2048];
    small_spec(text, sizeof text, "{type: wgan_gp}", "batchnorm1d", "");
    const char *second[] = {"second-order gradient", "batchnorm_grad"};
    expect_build_error(text, second, 2);

    small_spec(text, sizeof text, "{type: wgan, clip: 0.01}", "relu", ", clip_weights: 0.02");
    const char *clip[] = {"loss.clip is 0.01", "clip_weights is 0.02"};
    expect_build_error(text, clip, 2);
}

int main(void)
{
    const struct CMUnitTest more[] = {
        cmocka_unit_test(test_runs_are_reproducible),
        cmocka_unit_test(test_samples_depend_on_the_seed_only),
        cmocka_unit_test(test_metric_names),
        cmocka_unit_test(test_errors_name_the_cause),
    };
    return tu_run_case_tests("adversarial/cases.txt", cases, N_CASES, test_case_matches_pytorch, more,
                             (int)(sizeof more / sizeof more[0]));
}
