"""Times experiments/ddpm_fashion.yaml's DDPM UNet in PyTorch on the CPU (the `make bench` baseline
for `runner bench --spec experiments/ddpm_fashion.yaml`): diffusers' UNet2DModel built as
tests/parity/unet_reference.py's SMALL_CONFIG: ddpm_fashion's network (block_out_channels 16, 32,
32, 32), whose training step test_unet.c checks ours against.

train:  one training iteration as the runner's ddpm Algorithm makes it: timesteps and noise drawn,
        x_t formed, forward at --batch, the noise MSE, backward, gradient clipping to norm 1 and
        the AdamW update (ddpm_fashion's optimizer); the image batch is drawn once before.
sample: one reverse step of the DDIM sampler on --samples images: x_T drawn, the network in
        evaluation mode under torch.inference_mode(), the step's update and the final clamp.
Prints one line per measurement, as `runner bench` does:
`<train|sample> torch VERSION threads T median_ms M min_ms M peak_rss_kib K count N`;
with --params, only the network's trainable parameter count (tools/bench.sh checks that it is
ours).  Needs diffusers (tools/bench.sh installs it into .venv-bench).
"""
import sys

import torch
import torch.nn.functional as F

from torch_timing import PARITY_DIR, bench_options, report, timed

sys.path.insert(0, PARITY_DIR)
import unet_reference as ref  # noqa: E402

T = 1000
BETAS = torch.linspace(1e-4, 0.02, T, dtype=torch.float64)  # ddpm_fashion's linear schedule
ABAR = torch.cumprod(1 - BETAS, 0).float()


def main():
    a = bench_options("params", steps=10, warmup=2, batch=32, samples=100)
    if ref.diffusers is None:
        raise SystemExit("unet_torch.py: diffusers is not importable here (tools/bench.sh installs it into .venv-bench)")
    ref.diffusers.utils.logging.set_verbosity_error()
    model = ref.build(ref.SMALL_CONFIG, 0)
    if a.params:
        print(sum(p.numel() for p in model.parameters() if p.requires_grad))
        return
    c, s = ref.SMALL_CONFIG["in_channels"], ref.SMALL_CONFIG["sample_size"]
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)

    model.train()
    x0 = torch.rand(a.batch, c, s, s) * 2 - 1

    def train_step(_):
        t = torch.randint(0, T, (a.batch,))
        eps = torch.randn(a.batch, c, s, s)
        ab = ABAR[t].view(-1, 1, 1, 1)
        xt = ab.sqrt() * x0 + (1 - ab).sqrt() * eps
        opt.zero_grad(set_to_none=True)
        F.mse_loss(model(xt, t).sample, eps).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    report("train", timed(train_step, a.warmup, a.steps), a.threads, a.batch)

    model.eval()
    ts = torch.zeros(a.samples, dtype=torch.long)  # a one-step DDIM chain runs at t = 0
    ab, ab_prev = ABAR[0], torch.tensor(1.0)  # set_alpha_to_one

    def sample(_):
        with torch.inference_mode():
            x = torch.randn(a.samples, c, s, s)
            eps = model(x, ts).sample
            x0_pred = ((x - (1 - ab).sqrt() * eps) / ab.sqrt()).clamp(-1, 1)
            x = ab_prev.sqrt() * x0_pred + (1 - ab_prev).sqrt() * eps
            x.clamp_(-1, 1)
    report("sample", timed(sample, a.warmup, a.steps), a.threads, a.samples)


if __name__ == "__main__":
    main()
