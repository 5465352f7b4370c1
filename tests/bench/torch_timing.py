"""Timing for the PyTorch side of the benchmarks, in the line format `runner bench` prints and
tools/bench.sh parses: `<what> torch VERSION threads T median_ms M min_ms M peak_rss_kib K count N`."""
import resource
import statistics
import time

import torch


def timed(fn, warmup, steps):
    """Milliseconds of fn(i) for each of `steps` calls after `warmup` untimed ones."""
    times = []
    for i in range(warmup + steps):
        t0 = time.perf_counter()
        fn(i)
        t1 = time.perf_counter()
        if i >= warmup:
            times.append((t1 - t0) * 1e3)
    return times


def report(what, times, threads, count):
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"{what} torch {torch.__version__} threads {threads} median_ms {statistics.median(times):.3f} "
          f"min_ms {min(times):.3f} peak_rss_kib {rss} count {count}", flush=True)
