/* The CPU backend's table: every primitive's cpu_<name> (kernels/cpu/cpu_kernels.h). */
#include "kernels/cpu/cpu_kernels.h"

#include <omp.h>

static const Backend cpu_backend = {
    .name = "cpu",
#define CPU_ENTRY(ret, fn, params) .fn = cpu_##fn,
    BACKEND_PRIMITIVES(CPU_ENTRY)
#undef CPU_ENTRY
};

const Backend *backend_cpu(void)
{
    /* The default thread count under the same rules as an explicit one (cpu_set_threads). */
    static bool threads_set;
    if (!threads_set) cpu_set_threads(omp_get_max_threads());
    threads_set = true;
    return &cpu_backend;
}
