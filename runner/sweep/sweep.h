/* Sweeps: a YAML file (docs/SWEEPS.md) that names a base spec and the overrides of each point, as
 * a list of entries and/or a grid, expanded into points that each become one `runner run` of the
 * base spec with the point's --set overrides, into <sweep folder>/<point name>/.
 *
 *   sweep_file.c   reading the file and expanding it into points
 *   sweep_names.c  the points' folder names and the columns of sweep.csv
 *   sweep_check.c  every point's spec validated before any runs
 *   sweep_exec.c   running the points (in parallel), skipping finished ones, the table
 *   sweep_slurm.c  the same commands as a Slurm array script */
#ifndef RUNNER_SWEEP_H
#define RUNNER_SWEEP_H

#include "runner/spec/spec.h"

#include <stdbool.h>
#include <stdio.h>

#define SWEEP_NAME_MAX 128   /* a point's folder name */
#define SWEEP_MAX_POINTS 4096
#define SWEEP_MAX_SETS 64    /* overrides of one point */
#define SWEEP_MAX_KEYS 32    /* keys the points vary (sweep.csv's columns) */
/* The record of a sweep's points in its folder: point, group, then the varied keys' values. */
#define SWEEP_RECORD "sweep.csv"

typedef struct SweepPoint {
    char name[SWEEP_NAME_MAX];  /* its folder under the sweep's folder: "lr=1e-4,seed=1" */
    char group[SWEEP_NAME_MAX]; /* the name without its seed: the points a report averages */
    char spec[SPEC_TEXT_MAX];   /* the base spec's path, as `runner run` is given it */
    const YNode *entry;         /* the `points:` entry it comes from, or NULL */
    const YNode *where;         /* the entry or the first grid value that made it, for messages */
    SpecSet sets[SWEEP_MAX_SETS]; /* the sweep's `set:`, the entry's, then the grid's, in order */
    char *args[SWEEP_MAX_SETS];   /* the same as "path=value" for --set (malloc'ed) */
    int n_sets;
    int n_own;                  /* sets[n_sets - n_own ...]: the entry's and the grid's, which name it */
    const char *variant;        /* the entry's name:, or NULL */
} SweepPoint;

typedef struct Sweep {
    char path[SPEC_TEXT_MAX];   /* the sweep file */
    char name[SWEEP_NAME_MAX];  /* name:, or the file's name without .yaml */
    YPool pool;
    YNode *root;
    SweepPoint *points;
    int n_points;
    /* The columns of sweep.csv besides point and group: "variant" when entries are named,
     * "spec" when points use several base specs, then every key an unnamed entry or the grid
     * sets, in the file's order. */
    const char *keys[SWEEP_MAX_KEYS];
    int n_keys;
} Sweep;

/* Reads and expands a sweep file; every problem is reported at its file:line:column.  On error
 * *s is left empty (sweep_free is safe). */
int sweep_load(const char *path, Sweep *s, Error *err);
void sweep_free(Sweep *s);

/* sweep_names.c: gives every point its folder name and group (unique, or an error naming both
 * points) and fills s->keys. */
int sweep_name_points(Sweep *s, Error *err);
/* The text of point p's column `key` in sweep.csv ("" when it leaves the key alone), malloc'ed. */
char *sweep_point_value(const Sweep *s, const SweepPoint *p, const char *key, Error *err);

/* sweep_check.c: loads the spec of every point as its run will (an error names the sweep file's
 * line and the point), runs the training algorithm's own check, and makes sure the command line
 * it will be given reads back as the same spec. */
int sweep_check(const Sweep *s, Error *err);

/* sweep_exec.c */
typedef struct SweepOptions {
    const char *out;   /* the sweep's folder (results/<name>) */
    int jobs;          /* points at once */
    int threads;       /* per point; 0: the machine's cores divided between the jobs */
} SweepOptions;
/* Runs every point that has not finished, `jobs` at a time, each as its own process with its
 * output in <out>/<point>.log, printing a line of `table` as each finishes; refuses before running
 * anything when a point's folder is in use or is not a results folder.  -1 when any point failed
 * (after all have run). */
int sweep_run(const Sweep *s, const SweepOptions *o, FILE *table, Error *err);
/* The threads each of `jobs` parallel points gets on this machine (at least 1). */
int sweep_threads_per_point(int jobs);

/* What a point's folder asks of the sweep: nothing (finished before), a fresh run, or a run
 * with `flag` for the unfinished folder there (sweep_exec.c's continue_unfinished decides). */
typedef struct PointPlan {
    bool run;
    const char *flag; /* an option of `runner run` the folder needs, or NULL */
    const char *note; /* what the table says about the folder found; "" for a new point */
} PointPlan;
/* The plan of every point (plans: s->n_points) and how many run; an error for a folder in use by
 * a run or one that is not a results folder. */
int sweep_plan(const Sweep *s, const SweepOptions *o, PointPlan *plans, int *to_run, Error *err);
/* The folder of point p in the sweep's folder. */
int sweep_point_dir(const SweepOptions *o, const SweepPoint *p, char *buf, size_t len, Error *err);
/* The sweep's folder, created with its parents where missing. */
int sweep_make_folder(const char *dir, Error *err);
/* The path of this program, which every point's run executes. */
int sweep_runner_program(char *buf, size_t len, Error *err);
#define SWEEP_ARGV_MAX (2 * SWEEP_MAX_SETS + 12)
/* The argv of point p's `runner run` (NULL-terminated; pointers into p, dir and threads; no
 * --threads when threads is NULL). */
void sweep_point_argv(const char *runner, const SweepPoint *p, const char *dir, const PointPlan *plan,
                      const char *threads, const char **argv);

/* sweep_slurm.c: writes <out>/sweep.slurm, one array task per point left to run, each the command
 * sweep_run would run; *n_tasks says how many. */
int sweep_write_slurm(const Sweep *s, const SweepOptions *o, char *path, size_t len, int *n_tasks, Error *err);

#endif
