/* The CPU backend's table: every primitive's cpu_<name> (kernels/cpu/cpu_kernels.h). */
#include "kernels/cpu/cpu_kernels.h"

static const Backend cpu_backend = {
    .name = "cpu",
#define CPU_ENTRY(ret, fn, params) .fn = cpu_##fn,
    BACKEND_PRIMITIVES(CPU_ENTRY)
#undef CPU_ENTRY
};

const Backend *backend_cpu(void) { return &cpu_backend; }
