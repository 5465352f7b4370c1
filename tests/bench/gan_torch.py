"""Times the reference GAN in PyTorch on the CPU (the `make bench` baseline for `runner bench`).

The networks, optimizers and training iteration are tests/parity/adversarial_reference.py's
gan_reference case (loss type gan, generator first, then the discriminator on the detached fake
batch, both with Adam), the code whose results the parity test checks ours against.  Like the
runner's Algorithm, each step draws its noise inside the timed region; the real batch is drawn
once before it.  Then the trained generator draws batches of samples in evaluation mode.
Prints one line per measurement, as `runner bench` does:
`<train|sample> torch VERSION threads T median_ms M min_ms M peak_rss_kib K count N`.
"""
import sys

import torch

from torch_timing import PARITY_DIR, bench_options, report, timed

sys.path.insert(0, PARITY_DIR)
import adversarial_reference as ref  # noqa: E402

CASE = next(c for c in ref.CASES if c[0] == "gan_reference")
_, REF_G, REF_D, LOSS, OPT = CASE[:5]
Z_DIM = REF_G[2][0]


def main():
    a = bench_options(steps=30, warmup=5, batch=64, samples=1000)
    torch.manual_seed(0)
    G, D = REF_G[1](), REF_D[1]()
    G.train()
    D.train()
    opt_g, opt_d = OPT[1](G.parameters()), OPT[1](D.parameters())
    loss = ref.parse_loss(LOSS)
    real = torch.rand(a.batch, *REF_D[2]) * 2 - 1

    def train_step(_):
        z = torch.randn(a.batch, Z_DIM)
        _, fake = ref.generator_step(G, D, opt_g, loss, z)
        ref.critic_step(D, opt_d, loss, real, fake, None)

    report("train", timed(train_step, a.warmup, a.steps), torch.get_num_threads(), a.batch)
    if a.samples > 0:
        G.eval()

        def sample(_):
            with torch.inference_mode():
                G(torch.randn(a.samples, Z_DIM))

        report("sample", timed(sample, a.warmup, a.steps), torch.get_num_threads(), a.samples)


if __name__ == "__main__":
    main()
