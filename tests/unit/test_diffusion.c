/* Diffusion: the schedule (runner/algo/diffusion_schedule.c) against its formulas in long double and
 * against diffusers' tables; one ancestral step (both variances) and one DDIM step (eta 0 and 1) against
 * diffusers' DDPMScheduler.step and DDIMScheduler.step on the same x_t, predicted noise and draw
 * (tests/parity/diffusion_reference.py), and the chains of timesteps their set_timesteps makes; weight
 * averages (graph/ema.c) against a reference loop, through a checkpoint and back; the ddpm
 * algorithm's loss against the formula on the host, its validation loss fixed across calls; and what
 * `check` refuses.
 *
 * Tolerances.  Schedule vs formulas: 1e-12 relative (double vs long double over at most 1000
 * products; near t = 0, 1 - abar = 1 - (1 - 1e-4) keeps 12 of double's 16 digits).  Steps vs
 * diffusers' float64 run of its own code: |d| <= 1e-5 |want| + 1e-6 (our float32 arithmetic on
 * exact coefficients); vs its float32 tables: 1e-4 + 1e-4 (float32's cumulative product and
 * 1 - abar_t/abar_prev lose up to 5e-5 near t = 0).  EMA: 1e-6 relative to the reference
 * loop in double (one float rounding per update).  Loss: 1e-5 relative (a float32 mean). */
#include "graph/ema.h"
#include "runner/algo/ddpm.h"
#include "runner/algo/experiment.h"
#include "runner/algo/random_streams.h"
#include "runner/io/checkpoint.h"
#include "tests/unit/testutil.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

static void must(int rc, const Error *err)
{
    if (rc) fail_msg("%s", tu_err(err));
}

static double rel_err(long double got, long double want)
{
    long double d = fabsl(got - want), m = fabsl(want);
    return (double)(m > 0 ? d / m : d);
}

/* ---- the schedule ---- */

static void expect_linear(int T, double b0, double b1)
{
    DiffusionSchedule s;
    Error err = {0};
    must(diffusion_schedule_init(&s, BETAS_LINEAR, T, b0, b1, &err), &err);
    long double abar = 1.0L;
    for (int t = 0; t < T; t++) {
        long double beta = T == 1 ? b0 : b0 + ((long double)b1 - b0) * t / (T - 1);
        long double prev = abar;
        abar *= 1.0L - beta;
        long double var = (1.0L - prev) / (1.0L - abar) * beta;
        long double c0 = sqrtl(prev) * beta / (1.0L - abar), ct = sqrtl(1.0L - beta) * (1.0L - prev) / (1.0L - abar);
        double worst = fmax(fmax(rel_err(s.betas[t], beta), rel_err(s.abar[t], abar)),
                            fmax(rel_err(s.abar_prev[t], prev), rel_err(s.alphas[t], 1.0L - beta)));
        worst = fmax(worst, fmax(rel_err(s.posterior_variance[t], var),
                                 fmax(rel_err(s.posterior_x0[t], c0), rel_err(s.posterior_xt[t], ct))));
        if (worst > 1e-12) fail_msg("linear T=%d, t=%d: relative error %g", T, t, worst);
    }
    diffusion_schedule_free(&s);
}

/* Cosine: abar(t) = f(t + 1) / f(0) with f(u) = cos(((u/T + s)/(1 + s)) pi/2)^2 while no beta is
 * capped (the product telescopes), and the last beta capped at 0.999. */
static long double cosine_f(int t, int T)
{
    const long double pi = 3.141592653589793238462643383279503L, sc = 0.008L;
    long double c = cosl(((long double)t / T + sc) / (1.0L + sc) * pi / 2.0L);
    return c * c;
}

static void expect_cosine(int T)
{
    DiffusionSchedule s;
    Error err = {0};
    must(diffusion_schedule_init(&s, BETAS_COSINE, T, 0, 0, &err), &err);
    for (int t = 0; t < T - 1; t++) {
        long double abar = cosine_f(t + 1, T) / cosine_f(0, T), beta = 1.0L - cosine_f(t + 1, T) / cosine_f(t, T);
        if (rel_err(s.abar[t], abar) > 1e-12 || rel_err(s.betas[t], beta) > 1e-11)
            fail_msg("cosine T=%d, t=%d: abar %.17g vs %.17Lg, beta %.17g vs %.17Lg", T, t, s.abar[t], abar, s.betas[t],
                     beta);
    }
    assert_true(s.betas[T - 1] == 0.999);
    diffusion_schedule_free(&s);
}

static void test_schedule_formulas(void **state)
{
    (void)state;
    expect_linear(1000, 1e-4, 0.02);
    expect_linear(7, 1e-3, 0.3);
    expect_linear(1, 0.25, 0.5);
    expect_cosine(1000);
    expect_cosine(9);
    DiffusionSchedule s;
    Error err = {0};
    assert_int_not_equal(diffusion_schedule_init(&s, BETAS_LINEAR, 0, 1e-4, 0.02, &err), 0);
    assert_string_equal(tu_err(&err), "error: a diffusion needs at least one timestep, got 0");
}

/* ---- against diffusers ---- */

static StFile fixture;

static int load_fixture(void **state)
{
    (void)state;
    char path[512];
    Error err = {0};
    if (st_read(tu_fixture_path(path, sizeof path, "diffusion/schedulers.safetensors"), &fixture, &err)) {
        fprintf(stderr, "%s (make fixtures writes it, with diffusers from make setup)\n", tu_err(&err));
        return -1;
    }
    return 0;
}

static int free_fixture(void **state)
{
    (void)state;
    st_free(&fixture);
    return 0;
}

static void fixture_f64(const char *name, double *out, size_t n)
{
    const StTensor *t = st_find(&fixture, name);
    if (!t) fail_msg("fixture tensor '%s' is missing", name);
    float *f = malloc(n * sizeof *f);
    Error err = {0};
    assert_non_null(f);
    if (t->dtype == ST_F64) must(st_to_f64(t, out, n, &err), &err);
    else must(st_to_f32(t, f, n, &err), &err);
    if (t->dtype != ST_F64)
        for (size_t i = 0; i < n; i++) out[i] = f[i];
    free(f);
}

static void test_schedule_matches_diffusers(void **state)
{
    (void)state;
    const char *names[2] = {"linear", "cosine"};
    double want[1000];
    for (int k = 0; k < 2; k++) {
        DiffusionSchedule s;
        Error err = {0};
        must(diffusion_schedule_init(&s, k ? BETAS_COSINE : BETAS_LINEAR, 1000, 1e-4, 0.02, &err), &err);
        char name[64];
        snprintf(name, sizeof name, "%s.betas", names[k]);
        fixture_f64(name, want, 1000);
        for (int t = 0; t < 1000; t++)
            if (fabs(s.betas[t] - want[t]) > 1e-6 * want[t]) fail_msg("%s t=%d: %.9g vs diffusers %.9g", name, t, s.betas[t], want[t]);
        snprintf(name, sizeof name, "%s.abar", names[k]);
        fixture_f64(name, want, 1000);
        for (int t = 0; t < 1000; t++)
            if (fabs(s.abar[t] - want[t]) > 2e-5 * want[t] + 1e-9)
                fail_msg("%s t=%d: %.9g vs diffusers %.9g", name, t, s.abar[t], want[t]);
        diffusion_schedule_free(&s);
    }
}

#define STEP_N (2 * 3 * 5 * 7)

static void run_case(const char *name)
{
    char key[64], sampler[16], schedule[16], variance[16];
    int steps, t;
    double eta;
    const char *m = st_meta(&fixture, name);
    if (!m || sscanf(m, "%15[^,],%15[^,],%d,%d,%15[^,],%lf", sampler, schedule, &steps, &t, variance, &eta) != 6)
        fail_msg("fixture case '%s' has no description", name);
    DiffusionSchedule s;
    Error err = {0};
    must(diffusion_schedule_init(&s, strcmp(schedule, "cosine") ? BETAS_LINEAR : BETAS_COSINE, 1000, 1e-4, 0.02, &err),
         &err);
    SamplerConfig c = {.kind = strcmp(sampler, "ddim") ? SAMPLER_DDPM : SAMPLER_DDIM, .steps = steps,
                       .posterior = !strcmp(variance, "posterior"), .eta = eta, .clip = true, .lo = -1, .hi = 1};
    /* The chain: diffusers' set_timesteps. */
    int *ts = malloc((size_t)steps * sizeof *ts);
    double *want_ts = malloc((size_t)steps * sizeof *want_ts);
    assert_non_null(ts);
    assert_non_null(want_ts);
    diffusion_timesteps(1000, steps, ts);
    snprintf(key, sizeof key, "%s.timesteps", name);
    fixture_f64(key, want_ts, (size_t)steps);
    for (int i = 0; i < steps; i++)
        if (ts[i] != (int)want_ts[i]) fail_msg("%s: timestep %d is %d, diffusers %d", name, i, ts[i], (int)want_ts[i]);
    free(ts), free(want_ts);
    /* One step. */
    float x[STEP_N], eps[STEP_N], z[STEP_N], x0[STEP_N], want[STEP_N];
    double x64[STEP_N], want64[STEP_N];
    const char *parts[3] = {"x", "eps", "z"};
    float *bufs[3] = {x, eps, z};
    for (int i = 0; i < 3; i++) {
        snprintf(key, sizeof key, "%s.%s", name, parts[i]);
        fixture_f64(key, x64, STEP_N);
        for (int k = 0; k < STEP_N; k++) bufs[i][k] = (float)x64[k];
    }
    ReverseStep r = diffusion_reverse_step(&s, &c, t);
    ddpm_apply_step(backend_cpu(), &c, &r, STEP_N, x, eps, z, x0);
    snprintf(key, sizeof key, "%s.prev64", name);
    fixture_f64(key, want64, STEP_N);
    for (int k = 0; k < STEP_N; k++) want[k] = (float)want64[k];
    char msg[512];
    snprintf(key, sizeof key, "%s vs diffusers (float64)", name);
    if (!tu_allclose(key, x, want, STEP_N, 1e-5, 1e-6, msg, sizeof msg)) fail_msg("%s", msg);
    snprintf(key, sizeof key, "%s.prev", name);
    fixture_f64(key, want64, STEP_N);
    for (int k = 0; k < STEP_N; k++) want[k] = (float)want64[k];
    snprintf(key, sizeof key, "%s vs diffusers (float32 tables)", name);
    if (!tu_allclose(key, x, want, STEP_N, 1e-4, 1e-4, msg, sizeof msg)) fail_msg("%s", msg);
    diffusion_schedule_free(&s);
}

static void test_steps_match_diffusers(void **state)
{
    (void)state;
    const char *cases = st_meta(&fixture, "cases");
    assert_non_null(cases);
    /* Every kind of step the samplers take must be there. */
    const char *required[] = {"ddpm_beta_mid", "ddpm_posterior_mid", "ddpm_posterior_last", "ddpm_beta_last", "ddpm_posterior_skip",
                              "ddim_eta0", "ddim_eta1", "ddim_eta0_last", "ddim_eta1_cosine"};
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++)
        if (!strstr(cases, required[i])) fail_msg("fixture lacks case %s", required[i]);
    char list[1024];
    snprintf(list, sizeof list, "%s", cases);
    int n = 0;
    for (char *save = NULL, *c = strtok_r(list, ",", &save); c; c = strtok_r(NULL, ",", &save), n++) run_case(c);
    assert_true(n >= 8);
}

/* ---- experiments from small specs ---- */

static const char *const denoiser_spec =
    "data: {dataset: mnist, batch_size: 6}\n"
    "models:\n"
    "  den:\n"
    "    inputs: {x: [1, 4, 4], t: [1]}\n"
    "    nodes:\n"
    "      - {name: c, op: conv2d, in: x, out: 1, kernel: 1, init: zeros, bias_init: zeros}\n"
    "      - {name: o, op: add, in: [x, c]}\n"
    "loss: {type: ddpm, timesteps: 100}\n"
    "seed: 7\n";

static void build(const char *text, Experiment *x, Spec *spec, int batch)
{
    Error err = {0};
    must(spec_load_text("ddpm_test.yaml", text, NULL, 0, spec, &err), &err);
    Shape shape = shape_of(3, (int64_t)1, (int64_t)4, (int64_t)4);
    must(experiment_build(x, spec, backend_cpu(), batch, &shape, &err), &err);
}

/* mean((x_t - eps)^2) over n examples: the loss of a denoiser that returns its input, with the
 * timestep of example i element i + offset of stream t_seed and its noise elements (i + offset) D..
 * of stream eps_seed. */
static double identity_loss(const float *x0, int n, int D, uint64_t t_seed, uint64_t eps_seed, int T)
{
    float *u = malloc((size_t)n * sizeof *u), *eps = malloc((size_t)n * D * sizeof *eps);
    assert_non_null(u);
    assert_non_null(eps);
    backend_cpu()->rng_uniform(u, (size_t)n, 0.0f, 1.0f, t_seed, 0);
    backend_cpu()->rng_normal(eps, (size_t)n * D, 0.0f, 1.0f, eps_seed, 0);
    DiffusionSchedule s;
    Error err = {0};
    must(diffusion_schedule_init(&s, BETAS_LINEAR, T, 1e-4, 0.02, &err), &err);
    double sum = 0;
    for (int i = 0; i < n; i++) {
        int t = (int)((double)u[i] * T);
        for (int k = 0; k < D; k++) {
            double e = eps[(size_t)i * D + k], xt = sqrt(s.abar[t]) * x0[(size_t)i * D + k] + sqrt(1 - s.abar[t]) * e;
            sum += (xt - e) * (xt - e);
        }
    }
    diffusion_schedule_free(&s);
    free(u), free(eps);
    return sum / ((double)n * D);
}

/* The loss of the first training step and the validation loss: the formula with the streams
 * ddpm.h states.  Validation gives example i the same timestep and noise whatever the chunking (15
 * examples in chunks of the batch, 6, with a remainder of 3), so every call gives the same loss. */
static void test_losses_match_formula(void **state)
{
    (void)state;
    Spec spec;
    Experiment x;
    build(denoiser_spec, &x, &spec, 6);
    enum { B = 6, N = 15, D = 16 };
    float images[N * D];
    uint64_t seed = 9;
    tu_fill_uniform(images, N * D, -1, 1, &seed);
    Error err = {0};
    double a[ALGO_MAX_METRICS], b[ALGO_MAX_METRICS];
    must(x.algo->evaluate(x.state, images, NULL, N, a, &err), &err);
    must(x.algo->evaluate(x.state, images, NULL, N, b, &err), &err);
    assert_true(a[0] == b[0]);
    double want = identity_loss(images, N, D, stream_seed(7, 0, DDPM_STREAM_VALIDATION),
                                stream_seed(7, 1, DDPM_STREAM_VALIDATION), 100);
    if (fabs(a[0] - want) > 1e-5 * want) fail_msg("val_loss %.9g, formula %.9g", a[0], want);
    want = identity_loss(images, B, D, stream_seed(7, 0, DDPM_STREAM_TIMESTEPS), stream_seed(7, 0, DDPM_STREAM_NOISE), 100);
    must(x.algo->step(x.state, images, NULL, 0, a, &err), &err);
    if (fabs(a[0] - want) > 1e-5 * want) fail_msg("loss %.9g, formula %.9g", a[0], want);
    experiment_free(&x);
    spec_free(&spec);
}

/* ---- weight averages ---- */

static const char *const ema_spec =
    "data: {dataset: mnist}\n"
    "models:\n"
    "  net:\n"
    "    input: [1, 4, 4]\n"
    "    layers: [flatten, {linear: 5}, {batchnorm1d: {}}, {linear: 3}]\n"
    "loss: {type: classifier}\n"
    "ema: {decay: 0.9, start_step: 2}\n";

static void read_param(const Param *p, float *out) { p->be->download(out, p->value.data, tensor_numel(&p->value)); }

static void test_ema_reference_loop(void **state)
{
    (void)state;
    Spec spec;
    Experiment x;
    build(ema_spec, &x, &spec, 4);
    Ema *e = x.emas[0];
    assert_non_null(e);
    assert_string_equal(e->shadow->def.name, "ema.net");
    assert_null(x.emas[1]);
    assert_ptr_equal(x.ctx.ema[0], e->shadow);
    const Network *net = x.nets[0];
    int np = net->params.n;
    double *ref[64];
    assert_true(np < 64);
    float buf[4096];
    for (int i = 0; i < np; i++) { /* starts as the weights */
        const Param *p = net->params.items[i];
        size_t n = tensor_numel(&p->value);
        assert_true(n <= 4096);
        ref[i] = malloc(n * sizeof *ref[i]);
        read_param(p, buf);
        for (size_t k = 0; k < n; k++) ref[i][k] = buf[k];
    }
    uint64_t seed = 11;
    for (int u = 1; u <= 6; u++) {
        for (int i = 0; i < np; i++) { /* an "update": new weights and statistics */
            const Param *p = net->params.items[i];
            size_t n = tensor_numel(&p->value);
            tu_fill_uniform(buf, n, -1, 1, &seed);
            if (p->is_counter) buf[0] = (float)u;
            p->be->upload(p->value.data, buf, n);
            for (size_t k = 0; k < n; k++)
                ref[i][k] = u <= 2 || !p->trainable ? buf[k] : 0.9 * ref[i][k] + (1 - 0.9) * buf[k];
        }
        ema_update(e, u);
        for (int i = 0; i < np; i++) {
            const Param *a = e->shadow->params.items[i];
            size_t n = tensor_numel(&a->value);
            read_param(a, buf);
            for (size_t k = 0; k < n; k++)
                if (fabs(buf[k] - ref[i][k]) > 1e-6 * fabs(ref[i][k]) + 1e-7)
                    fail_msg("update %d, %s[%zu]: %.9g vs reference %.9g", u, a->name, k, buf[k], ref[i][k]);
        }
    }
    /* Through a checkpoint: ema.net.* saved and loaded back into a fresh experiment. */
    char path[512];
    tu_tmp(path, sizeof path, "ema.safetensors");
    Network *nets[2 * SPEC_MAX_MODELS];
    Optimizer *opts[SPEC_MAX_MODELS];
    Error err = {0};
    int n_nets = experiment_checkpoint_nets(&x, nets), n_opts = experiment_optimizers(&x, opts);
    assert_int_equal(n_nets, 2);
    must(checkpoint_save(path, nets, n_nets, opts, n_opts, NULL, NULL, 0, &err), &err);
    Spec spec2;
    Experiment y;
    build(ema_spec, &y, &spec2, 4);
    StFile f;
    must(st_read(path, &f, &err), &err);
    assert_non_null(st_find(&f, "ema.net.1.weight"));
    must(experiment_load_checkpoint(&y, &f, path, &err), &err);
    for (int i = 0; i < np; i++) {
        const Param *a = y.emas[0]->shadow->params.items[i];
        read_param(a, buf);
        for (size_t k = 0; k < tensor_numel(&a->value); k++)
            if (fabs(buf[k] - ref[i][k]) > 1e-6 * fabs(ref[i][k]) + 1e-7) fail_msg("reloaded %s differs", a->name);
        free(ref[i]);
    }
    st_free(&f);
    experiment_free(&y);
    spec_free(&spec2);
    experiment_free(&x);
    spec_free(&spec);
}

/* ---- what check refuses ---- */

static void expect_check_error(const char *text, const char *want)
{
    Spec spec;
    Error err = {0};
    must(spec_load_text("ddpm_test.yaml", text, NULL, 0, &spec, &err), &err);
    char summary[256] = "";
    assert_int_not_equal(algo_ddpm.check(&spec, 4, summary, sizeof summary, &err), 0);
    assert_string_equal(tu_err(&err), want);
    spec_free(&spec);
}

static void test_check_refuses(void **state)
{
    (void)state;
    expect_check_error("models:\n"
                       "  den: {inputs: {x: [1, 4, 4], t: [1]}, nodes: [{name: o, op: add, in: [x, x]}]}\n"
                       "  other: {input: [3], layers: [relu]}\n"
                       "loss: {type: ddpm, model: den}\n",
                       "ddpm_test.yaml:2:3: error: loss type 'ddpm' trains one model, the denoiser; the spec defines 2 "
                       "('den', 'other')");
    expect_check_error("models:\n"
                       "  den: {inputs: {x: [1, 4, 4], t: [4]}, nodes: [{name: o, op: add, in: [x, x]}]}\n"
                       "loss: {type: ddpm}\n",
                       "ddpm_test.yaml:2:35: error: the denoiser 'den' must declare inputs {x: <the data's shape>, t: "
                       "[1]}; it declares {x: [1, 4, 4], t: [4]}");
    expect_check_error("models:\n"
                       "  den: {input: [1, 4, 4], layers: [relu]}\n"
                       "loss: {type: ddpm}\n",
                       "ddpm_test.yaml:2:16: error: the denoiser 'den' must declare inputs {x: <the data's shape>, t: "
                       "[1]}; it declares {input: [1, 4, 4]}");
    expect_check_error("models:\n"
                       "  den:\n"
                       "    inputs: {x: [1, 4, 4], t: [1]}\n"
                       "    nodes: [{name: o, op: conv2d, in: x, out: 2, kernel: 1}]\n"
                       "loss: {type: ddpm}\n",
                       "ddpm_test.yaml:4:13: error: the denoiser 'den' outputs (-1, 2, 4, 4) for x of (-1, 1, 4, 4): it "
                       "predicts the noise added to x, so both shapes must be the same");
    /* And what it says of a good one. */
    Spec spec;
    Error err = {0};
    must(spec_load_text("ddpm_test.yaml", denoiser_spec, NULL, 0, &spec, &err), &err);
    char summary[256] = "";
    must(algo_ddpm.check(&spec, 4, summary, sizeof summary, &err), &err);
    assert_string_equal(summary, "ddpm: denoiser 'den' predicts the noise of x [1, 4, 4] at t; T = 100, linear betas "
                                 "0.0001 to 0.02; sampler ddpm, 100 steps");
    spec_free(&spec);
}

/* The data must fit the denoiser's x. */
static void test_data_shape_refused(void **state)
{
    (void)state;
    Spec spec;
    Experiment x;
    Error err = {0};
    must(spec_load_text("ddpm_test.yaml", denoiser_spec, NULL, 0, &spec, &err), &err);
    Shape shape = shape_of(3, (int64_t)1, (int64_t)28, (int64_t)28);
    assert_int_not_equal(experiment_build(&x, &spec, backend_cpu(), 4, &shape, &err), 0);
    assert_string_equal(tu_err(&err), "ddpm_test.yaml:4:17: error: the data's examples are [1, 28, 28] but the denoiser "
                                 "'den' takes x of [1, 4, 4]");
    spec_free(&spec);
}

int main(void)
{
    const struct CMUnitTest pure[] = {
        cmocka_unit_test(test_schedule_formulas), cmocka_unit_test(test_losses_match_formula),
        cmocka_unit_test(test_ema_reference_loop),
        cmocka_unit_test(test_check_refuses),     cmocka_unit_test(test_data_shape_refused),
    };
    const struct CMUnitTest reference[] = {
        cmocka_unit_test(test_schedule_matches_diffusers),
        cmocka_unit_test(test_steps_match_diffusers),
    };
    int failed = cmocka_run_group_tests_name("diffusion", pure, tu_group_setup, tu_group_teardown);
    return failed + cmocka_run_group_tests_name("diffusion vs diffusers", reference, load_fixture, free_fixture);
}
