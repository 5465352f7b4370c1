/* Training progress (see progress.h). */
#include "runner/algo/progress.h"

#include <string.h>
#include <time.h>
#include <unistd.h>

/* A terminal redraws at most this often: printing is not free at thousands of steps a second. */
#define REDRAW_S 0.1

double progress_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void progress_init(Progress *p, FILE *out, int64_t total, int64_t every, int64_t first_step)
{
    memset(p, 0, sizeof *p);
    p->out = out;
    p->tty = isatty(fileno(out)) == 1;
    p->total = total;
    p->every = every > 0 ? every : 1;
    p->first_step = first_step;
    p->t_start = progress_now();
}

static void format_eta(double s, char *buf, size_t len)
{
    long t = s > 0 && s < 1e8 ? (long)(s + 0.5) : 0;
    if (t >= 3600)
        snprintf(buf, len, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(buf, len, "%ld:%02ld", t / 60, t % 60);
}

void progress_update(Progress *p, int64_t step, int64_t epoch, const char *const *names,
                     const double *values, int n)
{
    bool last = step >= p->total;
    double now = progress_now();
    if (p->tty ? (!last && now - p->t_last_draw < REDRAW_S) : (!last && step % p->every != 0)) return;
    p->t_last_draw = now;
    double elapsed = now - p->t_start;
    double rate = elapsed > 0 ? (double)(step - p->first_step) / elapsed : 0;
    char eta[32];
    format_eta(rate > 0 ? (double)(p->total - step) / rate : 0, eta, sizeof eta);
    char line[512];
    int len = snprintf(line, sizeof line, "step %lld/%lld (%3.0f%%) epoch %lld  %.1f it/s  ETA %s", (long long)step,
                       (long long)p->total, p->total > 0 ? 100.0 * (double)step / (double)p->total : 100.0,
                       (long long)epoch + 1, rate, eta);
    for (int i = 0; i < n && len > 0 && (size_t)len < sizeof line; i++)
        len += snprintf(line + len, sizeof line - (size_t)len, "  %s %.4g", names[i], values[i]);
    if (p->tty) {
        /* \033[K clears what a longer previous line left on the right. */
        fprintf(p->out, "\r%s\033[K", line);
        p->drawn = true;
        if (last) progress_break(p);
    } else {
        fprintf(p->out, "%s\n", line);
    }
    fflush(p->out);
}

void progress_break(Progress *p)
{
    if (p->tty && p->drawn) fputc('\n', p->out);
    p->drawn = false;
    fflush(p->out);
}
