/* Optimizers and schedules against PyTorch (fixtures from tests/parity/optim_reference.py): every
 * optimizer and option over 20 steps on the same gradients, every schedule over 40 steps; plus
 * defaults, configuration errors, skipped gradients and state names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/optim.h"
#include "graph/schedule.h"
#include "runner/io/safetensors.h"
#include "tests/unit/testutil.h"

#define MAX_PARAMS 8

static const StTensor *need(const StFile *f, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static const StTensor *need(const StFile *f, const char *path, const char *fmt, ...)
{
    char name[192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    const StTensor *t = st_find(f, name);
    if (!t) fail_msg("%s: tensor '%s' missing", path, name);
    return t;
}

static double meta_num(const StFile *f, const char *key, double dflt)
{
    const char *v = st_meta(f, key);
    return v ? strtod(v, NULL) : dflt;
}

static bool meta_bool(const StFile *f, const char *key, bool dflt)
{
    const char *v = st_meta(f, key);
    return v ? strcmp(v, "true") == 0 : dflt;
}

/* Every metadata key of a fixture must be one the test understands, so a setting added to the
 * reference script cannot be silently ignored here. */
static void check_keys(const StFile *f, const char *path, const char *const *known)
{
    for (int i = 0; i < f->n_meta; i++) {
        bool ok = false;
        for (int k = 0; known[k] && !ok; k++) ok = strcmp(f->meta_keys[i], known[k]) == 0;
        if (!ok) fail_msg("%s: metadata key '%s' is not understood by the test", path, f->meta_keys[i]);
    }
}

/* Schedule from "sched_*" metadata; returns false when the fixture has none. */
static bool schedule_from_meta(const StFile *f, ScheduleConfig *s)
{
    const char *type = st_meta(f, "sched_type");
    if (!type) {
        schedule_config_defaults(s, SCHED_CONSTANT);
        return false;
    }
    Error err = {0};
    SchedType t;
    if (schedule_type_parse(type, &t, &err)) fail_msg("%s", tu_err(&err));
    schedule_config_defaults(s, t);
    const char *after = st_meta(f, "sched_after");
    if (after && schedule_type_parse(after, &s->after, &err)) fail_msg("%s", tu_err(&err));
    s->warmup_steps = (int64_t)meta_num(f, "sched_warmup_steps", (double)s->warmup_steps);
    s->start_factor = meta_num(f, "sched_start_factor", s->start_factor);
    s->step_size = (int64_t)meta_num(f, "sched_step_size", (double)s->step_size);
    s->gamma = meta_num(f, "sched_gamma", s->gamma);
    s->t_max = (int64_t)meta_num(f, "sched_t_max", (double)s->t_max);
    s->eta_min = meta_num(f, "sched_eta_min", s->eta_min);
    if (schedule_config_check(s, NULL, &err)) fail_msg("%s", tu_err(&err));
    return true;
}

static const char *const optim_keys[] = {
    "type", "steps", "n_params", "lr", "beta1", "beta2", "eps", "weight_decay", "momentum",
    "dampening", "nesterov", "alpha", "centered", "clip_weights", "clip_grad_norm", "sched_type",
    "sched_after", "sched_warmup_steps", "sched_start_factor", "sched_step_size", "sched_gamma",
    "sched_t_max", "sched_eta_min", NULL};

/* Only the arguments the reference passed to torch.optim are in the metadata: the rest must come
 * from our defaults, which therefore must be PyTorch's. */
static OptimConfig config_from_meta(const StFile *f, const char *path)
{
    check_keys(f, path, optim_keys);
    Error err = {0};
    OptimType t;
    const char *type = st_meta(f, "type");
    if (!type || optim_type_parse(type, &t, &err)) fail_msg("%s: %s", path, tu_err(&err));
    OptimConfig c;
    optim_config_defaults(&c, t);
    c.lr = meta_num(f, "lr", c.lr);
    c.beta1 = meta_num(f, "beta1", c.beta1);
    c.beta2 = meta_num(f, "beta2", c.beta2);
    c.eps = meta_num(f, "eps", c.eps);
    c.weight_decay = meta_num(f, "weight_decay", c.weight_decay);
    c.momentum = meta_num(f, "momentum", c.momentum);
    c.dampening = meta_num(f, "dampening", c.dampening);
    c.nesterov = meta_bool(f, "nesterov", c.nesterov);
    c.alpha = meta_num(f, "alpha", c.alpha);
    c.centered = meta_bool(f, "centered", c.centered);
    c.clip_weights = meta_num(f, "clip_weights", c.clip_weights);
    c.clip_grad_norm = meta_num(f, "clip_grad_norm", c.clip_grad_norm);
    return c;
}

typedef struct OptimRun {
    const Backend *be;
    bool seen[OPTIM_TYPE_COUNT];
} OptimRun;

/* Runs one fixture's optimizer for its steps on run->be and compares every step with PyTorch. */
static void run_optim_case(const char *path, void *ctx)
{
    OptimRun *run = ctx;
    StFile f;
    Error err = {0};
    if (st_read(path, &f, &err)) fail_msg("%s", tu_err(&err));
    OptimConfig cfg = config_from_meta(&f, path);
    run->seen[cfg.type] = true;
    ScheduleConfig sched;
    schedule_from_meta(&f, &sched);
    int n = (int)meta_num(&f, "n_params", 0), steps = (int)meta_num(&f, "steps", 0);
    assert_true(n > 0 && n <= MAX_PARAMS && steps > 0);

    const Backend *be = run->be;
    Param *params[MAX_PARAMS];
    float *grads[MAX_PARAMS], *host[MAX_PARAMS], *want[MAX_PARAMS];
    for (int i = 0; i < n; i++) {
        const StTensor *t = need(&f, path, "param.%d", i);
        char name[32];
        snprintf(name, sizeof name, "layer%d.weight", i);
        params[i] = param_new(name, &t->shape, be, &err);
        assert_non_null(params[i]);
        size_t len = tensor_numel(&params[i]->value);
        host[i] = malloc(len * sizeof(float));
        want[i] = malloc(len * sizeof(float));
        grads[i] = be->alloc(len * sizeof(float));
        if (st_to_f32(t, host[i], len, &err)) fail_msg("%s", tu_err(&err));
        be->upload(params[i]->value.data, host[i], len);
    }
    Optimizer *o = optim_new("net", &cfg, params, n, &err);
    if (!o) fail_msg("%s: %s", path, tu_err(&err));

    const StTensor *lrs = need(&f, path, "lr");
    double *lr_want = malloc((size_t)steps * sizeof(double));
    assert_int_equal(lrs->nbytes, (size_t)steps * sizeof(double));
    memcpy(lr_want, lrs->data, lrs->nbytes);
    char msg[512];
    for (int k = 0; k < steps; k++) {
        for (int i = 0; i < n; i++) {
            size_t len = tensor_numel(&params[i]->value);
            if (st_to_f32(need(&f, path, "grad.%d.%d", k, i), host[i], len, &err))
                fail_msg("%s", tu_err(&err));
            be->upload(grads[i], host[i], len);
        }
        double lr = schedule_lr(&sched, cfg.lr, o->steps);
        if (!(fabs(lr - lr_want[k]) <= 1e-12 + 1e-9 * fabs(lr_want[k])))
            fail_msg("%s: step %d: learning rate %.12g, PyTorch %.12g", path, k, lr, lr_want[k]);
        if (optim_step(o, grads, lr, &err)) fail_msg("%s: %s", path, tu_err(&err));
        for (int i = 0; i < n; i++) {
            size_t len = tensor_numel(&params[i]->value);
            be->download(host[i], params[i]->value.data, len);
            if (st_to_f32(need(&f, path, "after.%d.%d", k, i), want[i], len, &err))
                fail_msg("%s", tu_err(&err));
            char what[300];
            snprintf(what, sizeof what, "%s (%s): step %d, param %d", path, be->name, k, i);
            if (!tu_allclose(what, host[i], want[i], len, 2e-5, 1e-6, msg, sizeof msg))
                fail_msg("%s", msg);
        }
    }
    assert_int_equal(o->steps, steps);
    optim_free(o);
    for (int i = 0; i < n; i++) {
        param_free(params[i]);
        be->free(grads[i]);
        free(host[i]);
        free(want[i]);
    }
    free(lr_want);
    st_free(&f);
}

static bool has_suffix(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* Calls fn on every fixture in <fixtures>/optim whose name starts (or not) with "sched_". */
static int for_each_fixture(bool schedules, void (*fn)(const char *, void *), void *ctx)
{
    char dir[1024];
    tu_fixture_path(dir, sizeof dir, "optim");
    DIR *d = opendir(dir);
    if (!d) fail_msg("%s: cannot open (run `make fixtures`)", dir);
    int count = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!has_suffix(e->d_name, ".safetensors")) continue;
        if ((strncmp(e->d_name, "sched_", 6) == 0) != schedules) continue;
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        fn(path, ctx);
        count++;
    }
    closedir(d);
    return count;
}

/* On the CPU backend, and on CUDA too when it is built and a device is present. */
static void test_optimizers_match_pytorch(void **state)
{
    (void)state;
    char why[256];
    const Backend *backends[2] = {backend_cpu(), backend_cuda(why, sizeof why)};
    for (int b = 0; b < 2 && backends[b]; b++) {
        OptimRun run = {.be = backends[b]};
        int count = for_each_fixture(false, run_optim_case, &run);
        assert_true(count >= 19);
        for (int t = 0; t < OPTIM_TYPE_COUNT; t++)
            if (!run.seen[t]) fail_msg("no fixture exercises %s", optim_type_name((OptimType)t));
    }
}

static void run_sched_case(const char *path, void *ctx)
{
    bool *seen = ctx;
    StFile f;
    Error err = {0};
    if (st_read(path, &f, &err)) fail_msg("%s", tu_err(&err));
    const char *const keys[] = {"lr", "sched_type", "sched_after", "sched_warmup_steps",
                                "sched_start_factor", "sched_step_size", "sched_gamma",
                                "sched_t_max", "sched_eta_min", NULL};
    check_keys(&f, path, keys);
    ScheduleConfig s;
    assert_true(schedule_from_meta(&f, &s));
    seen[s.type] = true;
    if (s.type == SCHED_LINEAR_WARMUP) seen[SCHED_TYPE_COUNT + s.after] = true;
    double base = meta_num(&f, "lr", 0);
    const StTensor *t = need(&f, path, "lr");
    assert_int_equal(t->dtype, ST_F64);
    int steps = (int)(t->nbytes / sizeof(double));
    assert_true(steps >= 30);
    for (int k = 0; k < steps; k++) {
        double want;
        memcpy(&want, t->data + (size_t)k * sizeof want, sizeof want);
        double got = schedule_lr(&s, base, k);
        if (!(fabs(got - want) <= 1e-12 + 1e-9 * fabs(want)))
            fail_msg("%s: step %d: lr %.15g, PyTorch %.15g", path, k, got, want);
    }
    st_free(&f);
}

static void test_schedules_match_pytorch(void **state)
{
    (void)state;
    bool seen[2 * SCHED_TYPE_COUNT] = {0};
    int count = for_each_fixture(true, run_sched_case, seen);
    assert_true(count >= 6);
    for (int t = 0; t < SCHED_TYPE_COUNT; t++)
        if (!seen[t]) fail_msg("no fixture exercises schedule %s", schedule_type_name((SchedType)t));
    for (int t = 0; t < SCHED_LINEAR_WARMUP; t++)
        if (!seen[SCHED_TYPE_COUNT + t])
            fail_msg("no fixture exercises linear_warmup followed by %s",
                     schedule_type_name((SchedType)t));
}

static void test_defaults_are_pytorchs(void **state)
{
    (void)state;
    OptimConfig c;
    optim_config_defaults(&c, OPTIM_ADAM);
    assert_true(c.lr == 1e-3 && c.beta1 == 0.9 && c.beta2 == 0.999 && c.eps == 1e-8 &&
                c.weight_decay == 0);
    optim_config_defaults(&c, OPTIM_ADAMW);
    assert_true(c.lr == 1e-3 && c.weight_decay == 1e-2);
    optim_config_defaults(&c, OPTIM_RMSPROP);
    assert_true(c.lr == 1e-2 && c.alpha == 0.99 && c.eps == 1e-8 && c.momentum == 0 && !c.centered);
    optim_config_defaults(&c, OPTIM_SGD);
    assert_true(c.momentum == 0 && c.dampening == 0 && !c.nesterov && c.weight_decay == 0);
    assert_true(c.clip_weights == 0 && c.clip_grad_norm == 0);
}

static void expect_error(int rc, const Error *err, const char *part)
{
    assert_int_equal(rc, -1);
    if (!strstr(err->msg, part)) fail_msg("message '%s' lacks '%s'", tu_err(err), part);
}

static void test_config_errors(void **state)
{
    (void)state;
    Error err = {0};
    OptimType t;
    expect_error(optim_type_parse("adan", &t, &err), &err,
                 "unknown optimizer 'adan' (did you mean 'adam'?); expected one of sgd, adam, adamw, rmsprop");
    expect_error(optim_type_parse("lbfgs", &t, &err), &err,
                 "unknown optimizer 'lbfgs'; expected one of sgd, adam, adamw, rmsprop");
    OptimConfig c;
    optim_config_defaults(&c, OPTIM_SGD);
    c.nesterov = true;
    expect_error(optim_config_check(&c, "spec.yaml:3:5", &err), &err,
                 "spec.yaml:3:5: sgd: nesterov needs momentum > 0");
    optim_config_defaults(&c, OPTIM_ADAM);
    c.beta2 = 1.0;
    expect_error(optim_config_check(&c, NULL, &err), &err, "betas must be in [0, 1)");
    c.beta2 = 0.999;
    c.lr = -1;
    expect_error(optim_config_check(&c, NULL, &err), &err, "lr must be >= 0");
    c.lr = NAN;
    expect_error(optim_config_check(&c, NULL, &err), &err, "lr must be >= 0");
    c.lr = 1e-3;
    c.clip_weights = -0.01;
    expect_error(optim_config_check(&c, NULL, &err), &err, "clip_weights must be >= 0");
    c.clip_weights = 0;
    assert_int_equal(optim_config_check(&c, NULL, &err), 0);

    SchedType s;
    expect_error(schedule_type_parse("cosin", &s, &err), &err,
                 "unknown schedule 'cosin' (did you mean 'cosine'?); expected one of constant, step, cosine, "
                 "linear_warmup");
    ScheduleConfig sc;
    schedule_config_defaults(&sc, SCHED_LINEAR_WARMUP);
    sc.after = SCHED_LINEAR_WARMUP;
    expect_error(schedule_config_check(&sc, "s.yaml:1:1", &err), &err,
                 "s.yaml:1:1: linear_warmup: `after` must be constant, step or cosine");
    schedule_config_defaults(&sc, SCHED_COSINE);
    sc.t_max = 0;
    expect_error(schedule_config_check(&sc, NULL, &err), &err, "T_max must be >= 1");
    schedule_config_defaults(&sc, SCHED_STEP);
    sc.step_size = 0;
    expect_error(schedule_config_check(&sc, NULL, &err), &err, "step_size must be >= 1");
}

/* A parameter whose gradient is NULL keeps its value and its step count (PyTorch skips params
 * whose .grad is None); buffers are refused; state tensors carry PyTorch's names. */
static void test_skipped_grads_buffers_and_names(void **state)
{
    (void)state;
    const Backend *be = backend_cpu();
    Error err = {0};
    Shape sh = shape_of(1, (int64_t)3);
    Param *a = param_new("fc1.weight", &sh, be, &err), *b = param_new("fc1.bias", &sh, be, &err);
    const float one[3] = {1, 1, 1}, g[3] = {0.5f, -0.5f, 2};
    be->upload(a->value.data, one, 3);
    be->upload(b->value.data, one, 3);
    float *ga = be->alloc(sizeof g);
    be->upload(ga, g, 3);
    OptimConfig c;
    optim_config_defaults(&c, OPTIM_ADAM);
    Param *ps[2] = {a, b};
    Optimizer *o = optim_new("generator", &c, ps, 2, &err);
    assert_non_null(o);
    float *grads[2] = {ga, NULL};
    assert_int_equal(optim_step(o, grads, 1e-3, &err), 0);
    float got[3];
    be->download(got, b->value.data, 3);
    assert_memory_equal(got, one, sizeof one);
    be->download(got, a->value.data, 3);
    /* First Adam step moves each weight by lr against the gradient's sign. */
    for (int i = 0; i < 3; i++) assert_float_equal(got[i], 1 - 1e-3f * (g[i] > 0 ? 1 : -1), 1e-6);
    assert_int_equal(o->param_steps[0], 1);
    assert_int_equal(o->param_steps[1], 0);
    assert_int_equal(optim_state_count(o), 4);
    char name[192];
    int pi;
    assert_non_null(optim_state_at(o, 1, name, sizeof name, &pi));
    assert_string_equal(name, "optim.generator.fc1.weight.exp_avg_sq");
    assert_int_equal(pi, 0);
    assert_non_null(optim_state_at(o, 2, name, sizeof name, &pi));
    assert_string_equal(name, "optim.generator.fc1.bias.exp_avg");
    expect_error(optim_step(o, grads, NAN, &err), &err, "learning rate must be finite");
    optim_free(o);

    b->trainable = false;
    b->is_buffer = true;
    assert_null(optim_new("generator", &c, ps, 2, &err));
    expect_error(-1, &err, "'fc1.bias' is a buffer");
    be->free(ga);
    param_free(a);
    param_free(b);
}

TU_MAIN(NULL, NULL,
        cmocka_unit_test(test_optimizers_match_pytorch),
        cmocka_unit_test(test_schedules_match_pytorch),
        cmocka_unit_test(test_defaults_are_pytorchs),
        cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_skipped_grads_buffers_and_names))
