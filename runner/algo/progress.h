/* Training progress on stderr: on a terminal one line rewritten in place (step/total, it/s, ETA,
 * latest metrics); otherwise (CI, pipes) one plain line every `every` steps and at the last. */
#ifndef RUNNER_PROGRESS_H
#define RUNNER_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef struct Progress {
    FILE *out;
    bool tty;
    int64_t total;        /* steps of the whole run */
    int64_t every;        /* plain mode: steps between lines */
    int64_t first_step;   /* where timing started (a resumed run does not start at 0) */
    double t_start, t_last_draw;
    bool drawn;           /* tty: a line is on screen and needs a newline before other output */
} Progress;

/* Monotonic seconds. */
double progress_now(void);

void progress_init(Progress *p, FILE *out, int64_t total, int64_t every, int64_t first_step);
/* After step `step` (1-based count of completed steps) of epoch `epoch`. */
void progress_update(Progress *p, int64_t step, int64_t epoch, const char *const *names,
                     const double *values, int n);
/* Ends the updating line so that other messages start on a fresh one. */
void progress_break(Progress *p);

#endif
