/* Checkpoints: networks' parameters and buffers, and optimizers' state, in one safetensors file.
 *   <network>.<node>.<param>              F32, PyTorch's layout (a state_dict with the network's
 *                                         name as prefix); num_batches_tracked as an I64 scalar
 *   optim.<network>.<node>.<param>.<slot> F32 (exp_avg, exp_avg_sq, momentum_buffer, ...)
 *   optim.<network>.<node>.<param>.step   I64 scalar: updates applied to that parameter
 *   optim.<network>.steps                 I64 scalar: optimizer steps taken (drives the schedule)
 * plus string metadata.  Loading checks every name, dtype and shape before changing anything. */
#ifndef RUNNER_CHECKPOINT_H
#define RUNNER_CHECKPOINT_H

#include "graph/network.h"
#include "graph/optim.h"
#include "runner/io/safetensors.h"

#include <stdbool.h>

/* Writes path (through path.tmp and a rename).  meta_keys/meta_values: n_meta strings each. */
int checkpoint_save(const char *path, Network *const *nets, int n_nets, Optimizer *const *opts,
                    int n_opts, const char *const *meta_keys, const char *const *meta_values,
                    int n_meta, Error *err);

/* Loads into the networks (whose parameters must exist) and optimizers from a file already
 * read (path names it in messages).  Every tensor of the given networks and optimizers must be
 * present with its shape; with `strict`, any other tensor in the file is an error too (without
 * it, other networks' tensors and optimizer state are ignored: importing weights only). */
int checkpoint_load_file(const StFile *f, const char *path, Network *const *nets, int n_nets,
                         Optimizer *const *opts, int n_opts, bool strict, Error *err);
/* Reads path, then checkpoint_load_file. */
int checkpoint_load(const char *path, Network *const *nets, int n_nets, Optimizer *const *opts,
                    int n_opts, bool strict, Error *err);

#endif
