"""PyTorch reference for a training step of the reference non-saturating GAN.

The networks are the reference generator and discriminator of experiments/nets/
pixelshuffle_generator.yaml and conv_discriminator.yaml.  Both are `layers:` chains, whose nodes
are named by position as nn.Sequential's, so a state_dict key `<index>.<param>` is our parameter
`<network>.<index>.<param>`.

One step (as the reference experiment trains): the generator is updated first with
mean(softplus(-D(G(z)))); then the discriminator, on the detached fake batch, with
mean(softplus(-D(real))) + mean(softplus(D(fake))).  Both use Adam lr 2e-4, betas (0.5, 0.999).

make(out_dir) writes into out_dir/gan_step/: init.safetensors (the initial weights and buffers,
named `<network>.<node>.<param>` as our checkpoints), after1.safetensors and after<STEPS>.safetensors
(the same after step 1 and after the last step) and steps.safetensors (per step k the inputs
`step<k>.z`, `step<k>.real` and the losses `step<k>.g_loss`, `step<k>.d_loss`; metadata steps,
batch, lr and rounding_driven: the tensors only rounding noise moves).
"""
import gzip
import os
import sys
from collections import OrderedDict

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st  # noqa: E402

Z_DIM = 64
BATCH = 64
STEPS = 3
LR = 2e-4
BETAS = (0.5, 0.999)


def generator():
    return nn.Sequential(
        nn.Linear(Z_DIM, 512), nn.BatchNorm1d(512), nn.ReLU(),
        nn.Linear(512, 64 * 7 * 7), nn.BatchNorm1d(64 * 7 * 7), nn.ReLU(),
        nn.Unflatten(1, (64, 7, 7)), nn.PixelShuffle(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.PixelShuffle(2),
        nn.Conv2d(8, 1, 3, padding=1))


def discriminator():
    return nn.Sequential(
        nn.Conv2d(1, 32, 4, stride=2, padding=1), nn.ReLU(),
        nn.Conv2d(32, 64, 4, stride=2, padding=1), nn.ReLU(),
        nn.Flatten(), nn.Linear(3136, 512), nn.ReLU(), nn.Linear(512, 1))


def adam(net):
    return torch.optim.Adam(net.parameters(), lr=LR, betas=BETAS)


def train_step(G, D, opt_g, opt_d, z, real):
    """One step, generator first; returns (g_loss, d_loss) as floats.

    D's weights are frozen during the generator's backward so that PyTorch, like our graph,
    computes no discriminator weight gradients that would be thrown away."""
    D.requires_grad_(False)
    fake = G(z)
    g_loss = F.softplus(-D(fake)).mean()
    opt_g.zero_grad(set_to_none=True)
    g_loss.backward()
    opt_g.step()
    D.requires_grad_(True)

    d_loss = F.softplus(-D(real)).mean() + F.softplus(D(fake.detach())).mean()
    opt_d.zero_grad(set_to_none=True)
    d_loss.backward()
    opt_d.step()
    return g_loss.item(), d_loss.item()


def mnist_batches(n, batch):
    """n batches of real MNIST test images in [-1, 1], or None when the file is absent."""
    here = os.path.dirname(os.path.abspath(__file__))
    for root in ("/work/shared/data/mnist", os.path.join(here, "..", "..", "..", "shared", "data", "mnist")):
        path = os.path.join(root, "t10k-images-idx3-ubyte.gz")
        if os.path.exists(path):
            with gzip.open(path, "rb") as f:
                raw = np.frombuffer(f.read(), dtype=np.uint8, offset=16)
            imgs = raw[: n * batch * 784].astype(np.float32) / 127.5 - 1.0
            return [torch.from_numpy(imgs[i * batch * 784:(i + 1) * batch * 784].reshape(batch, 1, 28, 28).copy())
                    for i in range(n)]
    return None


def rounding_driven(nets):
    """Tensors whose update is float rounding noise: a bias that feeds a batch norm has an exact
    gradient of zero (the norm subtracts the mean), so Adam turns rounding noise into updates of
    up to lr, and that norm's running mean follows the bias.  No two implementations agree on
    them closer than that."""
    out = []
    for name, net in nets:
        mods = list(net.named_children())
        for (mname, m), (nname, nxt) in zip(mods, mods[1:]):
            if isinstance(nxt, nn.modules.batchnorm._BatchNorm) and getattr(m, "bias", None) is not None:
                out += [f"{name}.{mname}.bias", f"{name}.{nname}.running_mean"]
    return out


def state(nets):
    out = OrderedDict()
    for name, net in nets:
        for k, v in net.state_dict().items():
            out[f"{name}.{k}"] = v.detach().clone()
    return out


def make(out_dir):
    out_dir = os.path.join(out_dir, "gan_step")
    os.makedirs(out_dir, exist_ok=True)
    torch.manual_seed(0)
    G, D = generator(), discriminator()
    G.train()
    D.train()
    nets = [("generator", G), ("discriminator", D)]
    opt_g, opt_d = adam(G), adam(D)
    reals = mnist_batches(STEPS, BATCH)
    if reals is None:
        reals = [torch.rand(BATCH, 1, 28, 28) * 2 - 1 for _ in range(STEPS)]

    st.save(os.path.join(out_dir, "init.safetensors"), state(nets))
    steps = OrderedDict()
    for k in range(1, STEPS + 1):
        z = torch.randn(BATCH, Z_DIM)
        real = reals[k - 1]
        g_loss, d_loss = train_step(G, D, opt_g, opt_d, z, real)
        steps[f"step{k}.z"] = z
        steps[f"step{k}.real"] = real
        steps[f"step{k}.g_loss"] = torch.tensor([g_loss])
        steps[f"step{k}.d_loss"] = torch.tensor([d_loss])
        if k == 1 or k == STEPS:
            st.save(os.path.join(out_dir, f"after{k}.safetensors"), state(nets))
    st.save(os.path.join(out_dir, "steps.safetensors"), steps,
            {"steps": STEPS, "batch": BATCH, "lr": LR,
             "rounding_driven": ",".join(rounding_driven(nets))})


if __name__ == "__main__":
    make(sys.argv[1] if len(sys.argv) > 1 else ".")
