/* `runner ls [RESULTS]`: one line per results folder at or below RESULTS (default results/):
 * its path, state (running, finished, interrupted, failed), progress (step/total), headline
 * metric and how long ago it last wrote (runner/io/results_state.h). */
#include "runner/cli/cmd_args.h"
#include "runner/cli/commands.h"
#include "runner/io/results_state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define USAGE command_usage("ls")

static void age_text(time_t since, char *buf, size_t len)
{
    long s = (long)(time(NULL) - since);
    if (s < 0) s = 0;
    if (s < 60) snprintf(buf, len, "%lds ago", s);
    else if (s < 3600) snprintf(buf, len, "%ldm ago", s / 60);
    else if (s < 86400) snprintf(buf, len, "%ldh ago", s / 3600);
    else snprintf(buf, len, "%ldd ago", s / 86400);
}

typedef struct Line {
    char progress[48], metric[96], age[32];
    RunStatus st;
} Line;

int cmd_ls(int argc, char **argv, Error *err)
{
    const char *root = "results";
    ArgPositionals pos = {.items = &root, .min = 0, .max = 1, .what = "results folder"};
    if (cmd_parse(argc, argv, NULL, 0, &pos, USAGE, err)) return -1;
    char **dirs;
    int n;
    if (results_find(root, &dirs, &n, err)) return -1;
    if (n == 0) {
        printf("no runs under %s\n", root);
        results_list_free(dirs, n);
        return 0;
    }
    Line *lines = calloc((size_t)n, sizeof *lines);
    if (!lines) {
        results_list_free(dirs, n);
        return err_set(err, "out of memory");
    }
    int wd = 0, wp = 0, wm = 0;
    for (int i = 0; i < n; i++) {
        Line *l = &lines[i];
        Error ignored = {0};
        if (results_status(dirs[i], &l->st, &ignored)) l->st.state = RUN_INTERRUPTED;
        if (l->st.total >= 0) snprintf(l->progress, sizeof l->progress, "%lld/%lld", (long long)(l->st.step > 0 ? l->st.step : 0), (long long)l->st.total);
        else snprintf(l->progress, sizeof l->progress, "%lld/?", (long long)(l->st.step > 0 ? l->st.step : 0));
        if (l->st.metric[0]) snprintf(l->metric, sizeof l->metric, "%s %.4g", l->st.metric, l->st.value);
        else snprintf(l->metric, sizeof l->metric, "-");
        age_text(l->st.updated, l->age, sizeof l->age);
        int d = (int)strlen(dirs[i]), p = (int)strlen(l->progress), m = (int)strlen(l->metric);
        wd = d > wd ? d : wd, wp = p > wp ? p : wp, wm = m > wm ? m : wm;
    }
    for (int i = 0; i < n; i++)
        printf("%-*s  %-11s  %*s  %-*s  %s\n", wd, dirs[i], run_state_name(lines[i].st.state), wp, lines[i].progress, wm,
               lines[i].metric, lines[i].age);
    free(lines);
    results_list_free(dirs, n);
    return 0;
}
