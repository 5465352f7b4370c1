/* The runner's subcommands: one line here and one runner/cli/cmd_<name>.c defining
 * `int cmd_<name>(int argc, char **argv, Error *err)`, which receives the arguments after the
 * command's name and returns 0, or -1 with a message in err (runner/cli/main.c prints it and exits 1). */
#ifndef RUNNER_COMMANDS_H
#define RUNNER_COMMANDS_H

#include "graph/error.h"

/* COMMAND(name, usage, one-line help): the usage is what follows "usage: runner " in messages and
 * `runner COMMAND --help` (command_usage). */
#define RUNNER_COMMANDS(COMMAND)                                                                    \
    COMMAND(check, "check SPEC.yaml [--set key=value ...]",                                         \
            "validate a spec and print each network's nodes, output shapes and parameter counts")    \
    COMMAND(ops, "ops", "print the op reference (attributes, defaults, inputs) as Markdown")         \
    COMMAND(keys, "keys", "print the spec key reference (types, defaults) as Markdown")              \
    COMMAND(run, "run SPEC.yaml [--set key=value ...] [--out DIR] [--force | --resume] [--threads N]",  \
            "train an experiment and write results/<name>/ (metrics, samples, plots, checkpoints); " \
            "--resume continues an interrupted run from its last checkpoint")                      \
    COMMAND(resume, "resume RESULTS_DIR [--threads N]",                                              \
            "continue an interrupted run from its last checkpoint with the spec it ran with")       \
    COMMAND(sweep, "sweep FILE.yaml [-j N] [--threads N] [--out DIR] [--emit slurm]",                   \
            "run every point of a sweep file (a grid and/or a list of overrides of a base spec) "    \
            "into results/<sweep>/<point>/, skipping finished points")                             \
    COMMAND(report, "report [RESULTS ...] [--out DIR]",                                             \
            "write REPORT.md, report.csv and index.html: the finished runs' tables per family")     \
    COMMAND(ls, "ls [RESULTS]", "list the runs under a results folder: state, progress, headline metric, age") \
    COMMAND(sample, "sample RESULTS_DIR [--count 64] [--nrow 8] [--seed 1] [--out FILE.png] [--threads N]\n" \
                    "                     [--images DIR] [--range LO,HI] [--sampler ddpm|ddim] [--steps N] [--eta X]\n" \
                    "                     [--batchnorm running|batch]",                                  \
            "draw a grid of samples from a run's last checkpoint into --out, by default "           \
            "RESULTS_DIR/samples/sample_seed<N>.png")                                                 \
    COMMAND(bench, "bench [--spec FILE] [--threads N] [--steps N] [--warmup N] [--batch N] "        \
                   "[--samples N] [--backend cpu|cuda|auto] [--profile]",                           \
            "time a GAN spec's training step and sampling (default: the reference GAN; "            \
            "--profile: time per op kind)")                                                         \
    COMMAND(fid, "fid A B [--features inception|RESULTS_DIR] [--weights FILE] [--samples N] [--kid] [--is]\n" \
                 "                      [--node NAME] [--batch N] [--threads N] [--seed N] [--backend cpu|cuda|auto] [--cache DIR] [--no-cache]\n" \
                 "       runner fid --bench [--weights FILE] [--images N] [--batch N] [--threads N] [--backend ...]\n" \
                 "  A, B: a results folder, a folder of PNG images, or a dataset split DATASET:SPLIT[:FIRST-END][@ROOT]\n" \
                 "        such as mnist:test or mnist:test:0-5000@data/mnist (images 0..4999 from the files in data/mnist)\n" \
                 "  --features RESULTS_DIR: a trained classifier's features (node --node, default features): fd_<its name up to _>", \
            "Frechet distance (pytorch-fid's FID) between two image sets: results folders, PNG "     \
            "folders or dataset splits (mnist:test)")                                               \
    COMMAND(version, "version [--threads N]",                                                       \
            "print the version, the backends' libraries and kernels, and the measured sgemm speed")

/* "usage: runner <the command's usage>", for its messages; NULL for an unknown name. */
const char *command_usage(const char *name);

#define COMMAND_DECLARE(name, usage, help) int cmd_##name(int argc, char **argv, Error *err);
RUNNER_COMMANDS(COMMAND_DECLARE)
#undef COMMAND_DECLARE

#endif
