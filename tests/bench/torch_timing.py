"""What the PyTorch side of the benchmarks shares: their options and threads, the folder of the
parity references they time, and timing in the line format `runner bench` prints and tools/bench.sh
parses: `<what> torch VERSION threads T median_ms M min_ms M peak_rss_kib K count N`."""
import argparse
import os
import resource
import statistics
import time

import torch

PARITY_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "parity")


def bench_options(*flags, **counts):
    """Parses --threads (default 2), a true/false option per name in flags and an integer option
    per keyword (its value the default), and runs torch on that many threads, one inter-op thread,
    as the runner's OpenMP runs."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    for name in flags:
        ap.add_argument("--" + name, action="store_true")
    for name, default in counts.items():
        ap.add_argument("--" + name, type=int, default=default)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.set_num_interop_threads(1)
    return a


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
