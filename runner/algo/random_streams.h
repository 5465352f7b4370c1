/* The seeds of an algorithm's random streams: one per (spec seed, step, purpose), so a run is
 * reproducible, resumable from its step, and independent of how draws are split or threaded
 * (every stream is the backend's counter-based generator under that seed). */
#ifndef RUNNER_RANDOM_STREAMS_H
#define RUNNER_RANDOM_STREAMS_H

#include <stdint.h>

/* The seed of stream `stream` (0 to 3) at `step`. */
uint64_t stream_seed(uint64_t seed, int64_t step, int stream);

#endif
