"""Times PyTorch's CPU convolutions (oneDNN inside) on the geometries of conv_shapes.txt.

For each geometry: forward (with bias where the line asks), backward-data and backward-filter
(aten.convolution_backward with one output each), the median of --reps calls after a warm-up.
Prints `torch <name> <pass> threads T ms M min_ms L` lines (median and fastest), the format
tests/bench/conv_bench.c prints.
"""
import argparse
import os
import statistics
import time

import torch


def shapes(path):
    with open(path) as f:
        for line in f:
            line = line.split("#")[0].split()
            if line:
                yield line[0], [int(v) for v in line[1:]]


def timed(fn, reps):
    for _ in range(3):
        fn()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(ts), min(ts)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--shapes", default=os.path.join(here, "conv_shapes.txt"))
    ap.add_argument("--only", default="", help="time only the geometries whose name starts with this")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.set_num_interop_threads(1)
    conv_bwd = torch.ops.aten.convolution_backward
    with torch.no_grad():
        for name, (N, C, H, W, K, R, S, st, ph, pw, bias) in shapes(a.shapes):
            if not name.startswith(a.only):
                continue
            x = torch.randn(N, C, H, W)
            w = torch.randn(K, C, R, S)
            b = torch.randn(K) if bias else None
            y = torch.nn.functional.conv2d(x, w, b, st, (ph, pw))
            dy = torch.randn_like(y)
            args = ([K] if bias else None, [st, st], [ph, pw], [1, 1], False, [0, 0], 1)
            runs = {
                "forward": lambda: torch.nn.functional.conv2d(x, w, b, st, (ph, pw)),
                "backward_data": lambda: conv_bwd(dy, x, w, *args, [True, False, False]),
                "backward_filter": lambda: conv_bwd(dy, x, w, *args, [False, True, False]),
            }
            for what, fn in runs.items():
                median, fastest = timed(fn, a.reps)
                print(f"torch {name} {what} threads {a.threads} ms {median:.3f} min_ms {fastest:.3f}",
                      flush=True)


if __name__ == "__main__":
    main()
