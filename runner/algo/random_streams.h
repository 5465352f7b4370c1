/* The seeds of an algorithm's random streams: one per (spec seed, step, purpose), so a run is
 * reproducible, resumable from its step, and independent of how draws are split or threaded
 * (every stream is the backend's counter-based generator under that seed). */
#ifndef RUNNER_RANDOM_STREAMS_H
#define RUNNER_RANDOM_STREAMS_H

#include "graph/graph.h"

#include <stdint.h>

/* The seed of stream `stream` (0 to 3) at `step`. */
uint64_t stream_seed(uint64_t seed, int64_t step, int stream);
/* Restarts a training graph's own random stream (dropout's masks) for `step`: a key apart from
 * stream_seed's for the same (seed, step, stream), and offset 0.  Without it the graph's stream
 * would run on from wherever the process's earlier steps left it, which a resumed run cannot
 * know. */
void stream_seed_graph(Graph *g, uint64_t seed, int64_t step, int stream);

#endif
