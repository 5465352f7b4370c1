/* Shared test support (see testutil.h). */
#include "tests/unit/testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

const char *tu_fixtures_dir(void)
{
    const char *dir = getenv("FIXTURES_DIR");
    return dir && *dir ? dir : "build/fixtures";
}

char *tu_fixture_path(char *buf, size_t len, const char *rel)
{
    snprintf(buf, len, "%s/%s", tu_fixtures_dir(), rel);
    return buf;
}

double tu_max_abs(const float *x, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        if (fabs((double)x[i]) > m) m = fabs((double)x[i]);
    return m;
}

bool tu_allclose(const char *what, const float *got, const float *want, size_t n, double rtol,
                 double atol, char *msg, size_t msg_len)
{
    size_t bad = 0, worst = 0;
    double worst_excess = -1;
    for (size_t i = 0; i < n; i++) {
        double diff = fabs((double)got[i] - (double)want[i]);
        double tol = rtol * fabs((double)want[i]) + atol;
        if (!isfinite(got[i]) || diff > tol) {
            double excess = isfinite(got[i]) ? diff / tol : INFINITY;
            if (excess > worst_excess) worst_excess = excess, worst = i;
            bad++;
        }
    }
    if (!bad) return true;
    snprintf(msg, msg_len, "%s: %zu of %zu values differ; worst at [%zu]: got %.8g, want %.8g (tol %.3g)",
             what, bad, n, worst, got[worst], want[worst], rtol * fabs((double)want[worst]) + atol);
    return false;
}

void tu_fill_uniform(float *x, size_t n, float lo, float hi, uint64_t *state)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        z ^= z >> 31;
        x[i] = lo + (hi - lo) * (float)((double)(z >> 40) / (double)(1ull << 24));
    }
}

/* cmocka prints progress to stdout and verdicts to stderr; when both go to one pipe, a fully
 * buffered stdout would interleave them mid-line.  Every test program links this file. */
__attribute__((constructor)) static void tu_line_buffered_stdout(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
}
