"""Times one training step of the reference GAN in PyTorch on the CPU (the `make bench` baseline).

The step is tests/parity/gan_step_reference.py's (the same networks and update order as the
runner's parity test): forward and backward of both networks and both Adam updates, batch 64.
Noise and the real batch are drawn before the timed region, as the runner's bench does.
Prints one line: `torch VERSION threads T median_ms M min_ms M peak_rss_kib K`.
"""
import argparse
import os
import resource
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "parity"))
import gan_step_reference as ref  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--batch", type=int, default=ref.BATCH)
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    torch.set_num_interop_threads(1)
    torch.manual_seed(0)
    G, D = ref.generator(), ref.discriminator()
    opt_g, opt_d = ref.adam(G), ref.adam(D)
    z = torch.randn(a.batch, ref.Z_DIM)
    real = torch.rand(a.batch, 1, 28, 28) * 2 - 1

    times = []
    for i in range(a.warmup + a.steps):
        t0 = time.perf_counter()
        ref.train_step(G, D, opt_g, opt_d, z, real)
        t1 = time.perf_counter()
        if i >= a.warmup:
            times.append((t1 - t0) * 1e3)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"torch {torch.__version__} threads {torch.get_num_threads()} "
          f"median_ms {statistics.median(times):.3f} min_ms {min(times):.3f} peak_rss_kib {rss}")


if __name__ == "__main__":
    main()
