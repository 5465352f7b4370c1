/* Closed forms of PyTorch's schedulers (each scheduler's _get_closed_form_lr). */
#include "graph/schedule.h"

#include "graph/suggest.h"

#include <math.h>
#include <string.h>

static const char *const type_names[SCHED_TYPE_COUNT] = {"constant", "step", "cosine",
                                                         "linear_warmup"};

CHOICE_FUNCTIONS(schedule_type, SchedType, type_names, SCHED_TYPE_COUNT, "schedule")

void schedule_config_defaults(ScheduleConfig *s, SchedType type)
{
    memset(s, 0, sizeof *s);
    s->type = type;
    s->after = SCHED_CONSTANT;
    s->start_factor = 1.0 / 3.0;
    s->step_size = 1;
    s->gamma = 0.1;
    s->t_max = 1;
}

int schedule_config_check(const ScheduleConfig *s, const char *where, Error *err)
{
    const char *w = where ? where : "";
    const char *sep = where ? ": " : "";
    if (s->type < 0 || s->type >= SCHED_TYPE_COUNT)
        return err_set(err, "%s%sunknown schedule type %d", w, sep, (int)s->type);
    SchedType base = s->type;
    if (s->type == SCHED_LINEAR_WARMUP) {
        if (s->after == SCHED_LINEAR_WARMUP || s->after < 0 || s->after >= SCHED_TYPE_COUNT)
            return err_set(err, "%s%slinear_warmup: `after` must be constant, step or cosine",
                           w, sep);
        if (s->warmup_steps < 0)
            return err_set(err, "%s%slinear_warmup: warmup_steps must be >= 0, got %lld", w, sep,
                           (long long)s->warmup_steps);
        if (!(s->start_factor > 0 && s->start_factor <= 1))
            return err_set(err, "%s%slinear_warmup: start_factor must be in (0, 1], got %g", w,
                           sep, s->start_factor);
        base = s->after;
    }
    if (base == SCHED_STEP && (s->step_size < 1 || !(s->gamma > 0)))
        return err_set(err, "%s%sstep: step_size must be >= 1 and gamma > 0, got step_size %lld, "
                       "gamma %g", w, sep, (long long)s->step_size, s->gamma);
    if (base == SCHED_COSINE && (s->t_max < 1 || !(s->eta_min >= 0)))
        return err_set(err, "%s%scosine: T_max must be >= 1 and eta_min >= 0, got T_max %lld, "
                       "eta_min %g", w, sep, (long long)s->t_max, s->eta_min);
    return 0;
}

static double base_lr_at(const ScheduleConfig *s, SchedType type, double lr, int64_t t)
{
    switch (type) {
    case SCHED_STEP: return lr * pow(s->gamma, (double)(t / s->step_size));
    case SCHED_COSINE:
        return s->eta_min +
               (lr - s->eta_min) * (1.0 + cos(M_PI * (double)t / (double)s->t_max)) / 2.0;
    default: return lr;
    }
}

double schedule_lr(const ScheduleConfig *s, double base_lr, int64_t step)
{
    if (s->type != SCHED_LINEAR_WARMUP) return base_lr_at(s, s->type, base_lr, step);
    /* SequentialLR restarts the following scheduler at 0 on the milestone. */
    if (step >= s->warmup_steps) return base_lr_at(s, s->after, base_lr, step - s->warmup_steps);
    return base_lr * (s->start_factor +
                      (1.0 - s->start_factor) * (double)step / (double)s->warmup_steps);
}
