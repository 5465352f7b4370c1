/* The resolved length of a run (see run_plan.h). */
#include "runner/algo/run_plan.h"

int run_plan_resolve(Spec *spec, int64_t n_examples, RunPlan *plan, Error *err)
{
    int64_t b = spec->data.batch_size;
    if (b < 1) return err_set(err, "data.batch_size must be at least 1, got %lld", (long long)b);
    if (n_examples < 1) return err_set(err, "the dataset holds no examples");
    plan->per_epoch = batches_per_epoch(n_examples, b, spec->data.drop_last);
    if (plan->per_epoch < 1)
        return err_set(err, "data.batch_size %lld exceeds the dataset's %lld examples and data.drop_last is "
                            "set: no batch to train on (lower batch_size or unset drop_last)",
                       (long long)b, (long long)n_examples);
    plan->total_steps = spec->train.steps > 0 ? spec->train.steps : spec->train.epochs * plan->per_epoch;
    ScheduleConfig *s = &spec->schedule;
    bool cosine = s->type == SCHED_COSINE || (s->type == SCHED_LINEAR_WARMUP && s->after == SCHED_COSINE);
    if (cosine && s->t_max == 0) s->t_max = plan->total_steps;
    return 0;
}
