"""Times the small DDPM UNet in PyTorch on the CPU: diffusers' UNet2DModel built as
tests/parity/unet_reference.py's SMALL_CONFIG (experiments/nets/unet.yaml at ddpm_fashion's
size, whose training step test_unet.c checks against this model).

train:   one training step without the optimizer: forward at --batch, the noise MSE, backward;
forward: the network in evaluation mode on --samples images (one sampling step's network call).
Prints one line per measurement, as `runner bench` does:
`<train|forward> torch VERSION threads T median_ms M min_ms M peak_rss_kib K count N`.
Needs diffusers (the .venv of tools/setup.sh): .venv/bin/python tests/bench/unet_torch.py.
"""
import sys

import torch
import torch.nn.functional as F

from torch_timing import PARITY_DIR, bench_options, report, timed

sys.path.insert(0, PARITY_DIR)
import unet_reference as ref  # noqa: E402


def main():
    a = bench_options(steps=10, warmup=2, batch=32, samples=100)
    if ref.diffusers is None:
        raise SystemExit("unet_torch.py: diffusers is not importable here: run it with .venv/bin/python")
    ref.diffusers.utils.logging.set_verbosity_error()
    model = ref.build(ref.SMALL_CONFIG, 0)
    c, s = ref.SMALL_CONFIG["in_channels"], ref.SMALL_CONFIG["sample_size"]

    model.train()
    x, eps = torch.randn(a.batch, c, s, s), torch.randn(a.batch, c, s, s)
    t = torch.randint(0, 1000, (a.batch,))

    def train_step(_):
        model.zero_grad(set_to_none=True)
        F.mse_loss(model(x, t).sample, eps).backward()
    report("train", timed(train_step, a.warmup, a.steps), a.threads, a.batch)

    model.eval()
    xs, ts = torch.randn(a.samples, c, s, s), torch.full((a.samples,), 500)

    def forward(_):
        with torch.no_grad():
            model(xs, ts)
    report("forward", timed(forward, a.warmup, a.steps), a.threads, a.samples)


if __name__ == "__main__":
    main()
