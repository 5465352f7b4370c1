/* `runner resume RESULTS_DIR [--threads N]`: continues the unfinished run in RESULTS_DIR from its
 * last checkpoint with the spec it ran with (RESULTS_DIR/spec.yaml, the resolved spec): the same
 * as `runner run SPEC --out RESULTS_DIR --resume` with that run's own spec and overrides. */
#include "runner/cli/cmd_args.h"
#include "runner/cli/cmd_run.h"
#include "runner/cli/commands.h"
#include "runner/io/results_state.h"

#include <stdio.h>
#include <string.h>

#define USAGE command_usage("resume")

int cmd_resume(int argc, char **argv, Error *err)
{
    RunOptions o;
    memset(&o, 0, sizeof o);
    const char *dir = NULL;
    const ArgOption options[] = {OPTION_INT("--threads", &o.threads, 1, 1024)};
    ArgPositionals pos = {.items = &dir, .min = 1, .max = 1, .what = "results folder"};
    if (cmd_parse(argc, argv, options, 1, &pos, USAGE, err)) return -1;
    char spec[RESULTS_PATH_MAX + 16];
    if (snprintf(spec, sizeof spec, "%s/spec.yaml", dir) >= (int)sizeof spec)
        return err_set(err, "results folder name '%s' is too long", dir);
    /* "not a results folder" says more than a missing spec.yaml would. */
    if (results_check_resumable(dir, err)) return -1;
    o.spec = spec, o.out = dir, o.resume = true;
    return run_training(&o, err);
}
