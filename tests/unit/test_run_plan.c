/* The resolved length of a run (runner/algo/run_plan.c): batches per epoch, total steps and the
 * schedule's whole-run t_max, which run, bench and the training loop all take from it. */
#include "runner/algo/run_plan.h"
#include "tests/unit/testutil.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

static const char nets[] =
    "models:\n"
    "  generator: {input: [4], layers: [{linear: {out: 9}}, tanh, {reshape: [1, 3, 3]}]}\n"
    "  discriminator: {input: [1, 3, 3], layers: [flatten, {linear: {out: 1}}]}\n"
    "optimizers:\n"
    "  generator: {type: adam, lr: 1.0e-3}\n"
    "  discriminator: {type: adam, lr: 1.0e-3}\n"
    "loss: {type: gan}\n";

static void load(Spec *spec, const char *extra)
{
    char text[2048];
    snprintf(text, sizeof text, "name: plan\n%s%s", nets, extra);
    Error err = {0};
    if (spec_load_text("plan.yaml", text, NULL, 0, spec, &err)) fail_msg("%s", tu_err(&err));
}

static void test_plans(void **state)
{
    (void)state;
    assert_int_equal(batches_per_epoch(10, 4, false), 3);
    assert_int_equal(batches_per_epoch(10, 4, true), 2);
    assert_int_equal(batches_per_epoch(8, 4, true), 2);
    Spec spec;
    RunPlan plan;
    Error err = {0};
    load(&spec, "data: {batch_size: 4}\ntrain: {epochs: 3}\nschedule: {type: cosine}\n");
    assert_int_equal(run_plan_resolve(&spec, 10, &plan, &err), 0);
    assert_int_equal(plan.per_epoch, 3);
    assert_int_equal(plan.total_steps, 9);
    assert_int_equal(spec.schedule.t_max, 9); /* the whole run */
    spec_free(&spec);
    /* train.steps wins over epochs; a t_max given is kept; other schedules are left alone. */
    load(&spec, "data: {batch_size: 4, drop_last: true}\ntrain: {steps: 5}\nschedule: {type: cosine, t_max: 7}\n");
    assert_int_equal(run_plan_resolve(&spec, 10, &plan, &err), 0);
    assert_int_equal(plan.per_epoch, 2);
    assert_int_equal(plan.total_steps, 5);
    assert_int_equal(spec.schedule.t_max, 7);
    spec_free(&spec);
    load(&spec, "data: {batch_size: 4}\ntrain: {epochs: 1}\nschedule: {type: step, step_size: 2}\n");
    assert_int_equal(run_plan_resolve(&spec, 10, &plan, &err), 0);
    assert_int_equal(spec.schedule.t_max, 0);
    spec_free(&spec);
    /* drop_last with fewer examples than a batch makes no batch. */
    load(&spec, "data: {batch_size: 64, drop_last: true}\n");
    assert_int_equal(run_plan_resolve(&spec, 10, &plan, &err), -1);
    assert_non_null(strstr(err.msg, "no batch to train on"));
    spec_free(&spec);
}

/* bench on a cosine spec uses the plan's t_max (it used to keep 0 and fail on a NaN rate). */
static void test_bench_resolves_the_schedule(void **state)
{
    (void)state;
    char path[] = "/tmp/test_run_plan.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fprintf(f, "name: cosine_bench\n%sdata: {batch_size: 4}\nschedule: {type: cosine}\n", nets);
    fclose(f);
    char args[512], out[8192];
    snprintf(args, sizeof args, "bench --spec %s --steps 3 --warmup 1 --samples 0 --threads 1", path);
    int rc = tu_run_runner("", args, out, sizeof out);
    unlink(path);
    if (rc != 0) fail_msg("bench on a cosine spec failed:\n%s", out);
    assert_non_null(strstr(out, "train runner cpu threads 1"));
}

TU_MAIN(NULL, NULL,
        cmocka_unit_test(test_plans),
        cmocka_unit_test(test_bench_resolves_the_schedule))
