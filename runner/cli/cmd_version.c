/* `runner version [--threads N]`: the program's version and what its backends run on: the CPU's
 * vector level, OpenBLAS's kernels and who chose them, sgemm's measured speed on N threads (default:
 * what OpenMP would use), oneDNN's instruction set, and the CUDA device when there is one. */
#include "kernels/backend.h"
#include "runner/cli/cmd_args.h"
#include "runner/cli/commands.h"
#include "runner/io/results.h"

#include <omp.h>
#include <stdio.h>

int cmd_version(int argc, char **argv, Error *err)
{
    int threads = omp_get_max_threads();
    const ArgOption options[] = {OPTION_INT("--threads", &threads, 1, 1024)};
    if (cmd_parse(argc, argv, options, 1, NULL, command_usage("version"), err)) return -1;
    char buf[1024], why[256];
    backend_cpu()->describe(buf, sizeof buf, threads);
    printf("runner %s\n%s\n", RUNNER_VERSION, buf);
    const Backend *cuda = backend_cuda(why, sizeof why);
    if (cuda) cuda->describe(buf, sizeof buf, 0);
    else snprintf(buf, sizeof buf, "cuda: not available (%s)", why);
    printf("%s\n", buf);
    return 0;
}
