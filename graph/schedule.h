/* Learning-rate schedules as closed forms of the step count, equal to PyTorch's schedulers
 * stepped once per optimizer step: constant, StepLR, CosineAnnealingLR, and
 * linear_warmup = SequentialLR([LinearLR(start_factor, total_iters=warmup_steps), after],
 * milestones=[warmup_steps]). */
#ifndef GRAPH_SCHEDULE_H
#define GRAPH_SCHEDULE_H

#include "graph/error.h"

#include <stdint.h>

typedef enum SchedType {
    SCHED_CONSTANT,
    SCHED_STEP,           /* lr * gamma^(t / step_size) */
    SCHED_COSINE,         /* eta_min + (lr - eta_min) * (1 + cos(pi * t / t_max)) / 2 */
    SCHED_LINEAR_WARMUP,  /* lr * (start_factor + (1 - start_factor) * t / warmup_steps), then `after` */
    SCHED_TYPE_COUNT
} SchedType;

/* What a spec's `schedule:` says; schedule_config_defaults fills the defaults. */
typedef struct ScheduleConfig {
    SchedType type;
    SchedType after;          /* linear_warmup: the schedule that follows (not linear_warmup) */
    int64_t warmup_steps;     /* linear_warmup */
    double start_factor;      /* linear_warmup, in (0, 1] */
    int64_t step_size;        /* step */
    double gamma;             /* step */
    int64_t t_max;            /* cosine: half period in steps */
    double eta_min;           /* cosine */
} ScheduleConfig;

/* "constant", "step", "cosine", "linear_warmup". */
const char *schedule_type_name(SchedType t);
int schedule_type_parse(const char *name, SchedType *out, Error *err);
/* constant; linear_warmup: 0 steps, start_factor 1/3 (LinearLR's), then constant; step: gamma 0.1,
 * step_size 1; cosine: eta_min 0, t_max 1 (a spec sets it to the run's length). */
void schedule_config_defaults(ScheduleConfig *s, SchedType type);
/* Checks ranges; the message starts with `where` when it is not NULL. */
int schedule_config_check(const ScheduleConfig *s, const char *where, Error *err);

/* The learning rate of the optimizer step that follows `step` completed steps (step 0: the
 * first update), for base learning rate base_lr. */
double schedule_lr(const ScheduleConfig *s, double base_lr, int64_t step);

#endif
