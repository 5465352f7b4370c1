/* Reductions, accumulated in double so that sums over millions of floats keep float accuracy. */
#include "kernels/cpu/cpu_kernels.h"

#define PAR_MIN 32768

CPU_HOT double cpu_sum(const float *x, size_t n)
{
    double s = 0.0;
#pragma omp parallel for simd reduction(+ : s) if (n > PAR_MIN)
    for (size_t i = 0; i < n; i++) s += x[i];
    return s;
}

CPU_HOT double cpu_sum_squares(const float *x, size_t n)
{
    double s = 0.0;
#pragma omp parallel for simd reduction(+ : s) if (n > PAR_MIN)
    for (size_t i = 0; i < n; i++) s += (double)x[i] * x[i];
    return s;
}

CPU_HOT void cpu_sum_to_scalar(const float *x, size_t n, float alpha, float *y)
{
    y[0] = (float)(alpha * cpu_sum(x, n));
}
