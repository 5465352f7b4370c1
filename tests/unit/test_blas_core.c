/* The choice of OpenBLAS kernels (kernels/cpu/blas_core.c): the library's core name against the
 * CPU's vector level, as (name, level) pairs that users' machines give, the CPU detection
 * against the kernel's own account in /proc/cpuinfo, and what `runner version` reports. */
#include "kernels/backend.h"
#include "kernels/cpu/blas_core.h"
#include "tests/unit/testutil.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

typedef struct Pair {
    const char *machine, *core; /* what OpenBLAS 0.3.21 answers there */
    CpuIsa isa;
    const char *want;           /* the OPENBLAS_CORETYPE to restart with, or NULL */
} Pair;

static const Pair pairs[] = {
    /* Models newer than the library fall back to SSE3 kernels. */
    {"Intel Emerald Rapids (model 207)", "Prescott", CPU_ISA_AVX512, "SkylakeX"},
    {"Intel Granite Rapids", "Prescott", CPU_ISA_AVX512, "SkylakeX"},
    {"a new AVX2-only model", "Prescott", CPU_ISA_AVX2, "Haswell"},
    {"a new AVX-only model", "Core2", CPU_ISA_AVX, "Sandybridge"},
    {"AMD Zen 4 (AVX-512 under the Zen name)", "Zen", CPU_ISA_AVX512, "SkylakeX"},
    {"an older library on Sandy Bridge's successor", "Sandybridge", CPU_ISA_AVX2, "Haswell"},
    /* The library already fits. */
    {"Intel Skylake-SP", "SkylakeX", CPU_ISA_AVX512, NULL},
    {"Intel Cooper Lake, AMD Zen 5", "Cooperlake", CPU_ISA_AVX512, NULL},
    {"AMD Zen 2", "Zen", CPU_ISA_AVX2, NULL},
    {"Intel Haswell", "Haswell", CPU_ISA_AVX2, NULL},
    {"a CPU without AVX", "Prescott", CPU_ISA_SSE, NULL},
    {"Intel Nehalem", "Nehalem", CPU_ISA_SSE, NULL},
    /* A user's forced core above the CPU is the user's business, not an upgrade. */
    {"SkylakeX forced on an AVX2 CPU", "SkylakeX", CPU_ISA_AVX2, NULL},
    /* Names are compared without case; a name the table lacks is a newer library's: trusted. */
    {"upper case", "PRESCOTT", CPU_ISA_AVX512, "SkylakeX"},
    {"a newer library's name", "Zen5", CPU_ISA_AVX512, NULL},
    {"no name", "", CPU_ISA_AVX512, NULL},
};

static void test_upgrade_decisions(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        const Pair *p = &pairs[i];
        const char *got = blas_core_upgrade(p->core, p->isa);
        if ((got == NULL) != (p->want == NULL) || (got && strcmp(got, p->want)))
            fail_msg("%s: core %s on %s: got %s, want %s", p->machine, p->core, cpu_isa_name(p->isa),
                     got ? got : "no change", p->want ? p->want : "no change");
    }
    assert_null(blas_core_upgrade(NULL, CPU_ISA_AVX512));
}

/* Every core the upgrade picks is one the table places at that level. */
static void test_upgrades_are_known_cores(void **state)
{
    (void)state;
    for (int isa = CPU_ISA_AVX; isa <= CPU_ISA_AVX512; isa++) {
        const char *core = blas_core_upgrade("Prescott", (CpuIsa)isa);
        assert_non_null(core);
        assert_int_equal(blas_core_isa(core), isa);
    }
}

static bool cpuinfo_has(const char *flags, const char *flag)
{
    size_t n = strlen(flag);
    for (const char *p = flags; (p = strstr(p, flag)); p += n)
        if ((p == flags || p[-1] == ' ' || p[-1] == '\t') && (p[n] == ' ' || p[n] == '\n' || !p[n])) return true;
    return false;
}

/* The detected level agrees with the kernel's flags (which also reflect what the OS enables). */
static void test_detection_matches_cpuinfo(void **state)
{
    (void)state;
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) fail_msg("/proc/cpuinfo is not readable");
    char line[8192] = "";
    while (fgets(line, sizeof line, f) && strncmp(line, "flags", 5) != 0) {}
    fclose(f);
    assert_true(strncmp(line, "flags", 5) == 0);
    CpuIsa want = CPU_ISA_SSE;
    if (cpuinfo_has(line, "avx")) want = CPU_ISA_AVX;
    if (cpuinfo_has(line, "avx2") && cpuinfo_has(line, "fma")) want = CPU_ISA_AVX2;
    if (cpuinfo_has(line, "avx512f") && cpuinfo_has(line, "avx512cd") && cpuinfo_has(line, "avx512bw") &&
        cpuinfo_has(line, "avx512dq") && cpuinfo_has(line, "avx512vl"))
        want = CPU_ISA_AVX512;
    assert_string_equal(cpu_isa_name(cpu_isa_detect()), cpu_isa_name(want));
}

/* `runner version` says which kernels run, who chose them, and how fast sgemm is. */
static void test_version_reports_the_kernels(void **state)
{
    (void)state;
    char out[4096];
    int rc = tu_run_runner("", "version --threads 1", out, sizeof out);
    if (rc != 0) fail_msg("runner version failed:\n%s", out);
    const char *want[] = {"runner ", "\ncpu: ", "wait policy ", "\nblas: OpenBLAS ", "; kernels ", " GFLOP/s on 1 thread",
                          "\nonednn: ", "\ncuda: "};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (!strstr(out, want[i])) fail_msg("'%s' missing from:\n%s", want[i], out);
    /* A user's OPENBLAS_CORETYPE is kept and named. */
    rc = tu_run_runner("OPENBLAS_CORETYPE=Haswell", "version --threads 1", out, sizeof out);
    assert_int_equal(rc, 0);
    if (!strstr(out, "kernels Haswell (OPENBLAS_CORETYPE=Haswell)")) fail_msg("forced core not reported:\n%s", out);
    /* Idle threads spin briefly unless the user chose a wait policy, which is kept. */
    rc = tu_run_runner("env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT", "version --threads 1", out, sizeof out);
    assert_int_equal(rc, 0);
    if (!strstr(out, "wait policy spin count " OMP_SPIN_COUNT "\n")) fail_msg("default wait not reported:\n%s", out);
    rc = tu_run_runner("env -u GOMP_SPINCOUNT OMP_WAIT_POLICY=passive", "version --threads 1", out, sizeof out);
    assert_int_equal(rc, 0);
    if (!strstr(out, "wait policy passive\n")) fail_msg("the user's wait policy not kept:\n%s", out);
    assert_int_not_equal(tu_run_runner("", "version --threads 0", out, sizeof out), 0);
    assert_non_null(strstr(out, "--threads"));
}

TU_MAIN(NULL, NULL,
        cmocka_unit_test(test_upgrade_decisions),
        cmocka_unit_test(test_upgrades_are_known_cores),
        cmocka_unit_test(test_detection_matches_cpuinfo),
        cmocka_unit_test(test_version_reports_the_kernels))
