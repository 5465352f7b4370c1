"""PyTorch reference for the adversarial training algorithms (loss types gan, wgan, wgan_gp).

Each case is a spec (YAML text, stored in the fixture's metadata so that the C test builds exactly
these networks) and the same networks in PyTorch.  Layer chains are nn.Sequential, whose state_dict
key `<index>.<param>` is our parameter `<network>.<index>.<param>`.

One iteration, as runner/algo/algo_adversarial.c defines it: one discriminator (critic) step per
iteration; the generator steps every n_critic iterations, first in the iteration under
generator_first (then the discriminator trains on the detached fake batch made before the
generator's update), last under discriminator_first (on fresh noise).  wgan clamps every critic
parameter to [-clip, clip] after each critic step; wgan_gp adds
lambda * mean((||grad_x D(x_hat)||_2 - 1)^2), x_hat = e*real + (1-e)*fake, e ~ U[0,1] per sample,
with the gradient from torch.autograd.grad(create_graph=True).

gan_reference is the reference experiment's step (experiments/gan_mnist.yaml) over three
iterations on real MNIST test images ($MNIST_DIR, else the test split committed in
tests/data/mnist); the other cases draw uniform [-1, 1] batches.

The reference runs in float64 from float32-representable weights and inputs, so it is the exact
answer up to float32 rounding of the outputs.

make(out_dir) writes out_dir/adversarial/<case>/: init.safetensors (initial weights and buffers,
named as our checkpoints), after.safetensors (the same after the last iteration), grads.safetensors
(the gradients of the first iteration's updates, float64 results rounded to float32) and
steps.safetensors (per iteration k: iter<k>.real, iter<k>.z_critic, iter<k>.z_gen when a
discriminator_first generator step draws noise, iter<k>.eps for wgan_gp, iter<k>.metrics in the
algorithm's metric order with loss_g the last generator loss, NaN before the first; metadata:
spec, iterations, batch, lr, rounding_driven).
"""
import gzip
import math
import os
import sys
from collections import OrderedDict

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st  # noqa: E402
from case_list import write_cases  # noqa: E402

# ---- networks: (YAML of the model, PyTorch constructor, input shape without the batch) ----

SMALL_Z = 8
SMALL_G = ("""
    input: [8]
    layers:
      - linear: {out: 32, bias: false}
      - batchnorm1d
      - relu
      - linear: {out: 36}
      - tanh
      - reshape: [1, 6, 6]""",
           lambda: nn.Sequential(nn.Linear(SMALL_Z, 32, bias=False), nn.BatchNorm1d(32), nn.ReLU(),
                                 nn.Linear(32, 36), nn.Tanh(), nn.Unflatten(1, (1, 6, 6))),
           (SMALL_Z,))
MLP_D = ("""
    input: [1, 6, 6]
    layers:
      - flatten
      - linear: {out: 16}
      - leaky_relu: 0.2
      - linear: {out: 1}""",
         lambda: nn.Sequential(nn.Flatten(), nn.Linear(36, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1)),
         (1, 6, 6))
LN_D = ("""
    input: [1, 6, 6]
    layers:
      - flatten
      - linear: {out: 16}
      - layer_norm: [16]
      - leaky_relu: 0.2
      - linear: {out: 1}""",
        lambda: nn.Sequential(nn.Flatten(), nn.Linear(36, 16), nn.LayerNorm(16), nn.LeakyReLU(0.2),
                              nn.Linear(16, 1)),
        (1, 6, 6))
CONV_D = ("""
    input: [1, 6, 6]
    layers:
      - conv2d: {out: 4, kernel: 3, stride: 2, padding: 1}
      - leaky_relu: 0.2
      - flatten
      - linear: {out: 1}""",
          lambda: nn.Sequential(nn.Conv2d(1, 4, 3, stride=2, padding=1), nn.LeakyReLU(0.2), nn.Flatten(),
                                nn.Linear(36, 1)),
          (1, 6, 6))
REF_G = ("{include: nets/pixelshuffle_generator.yaml, z_dim: 64}",
         lambda: nn.Sequential(
             nn.Linear(64, 512), nn.BatchNorm1d(512), nn.ReLU(),
             nn.Linear(512, 64 * 7 * 7), nn.BatchNorm1d(64 * 7 * 7), nn.ReLU(),
             nn.Unflatten(1, (64, 7, 7)), nn.PixelShuffle(2),
             nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.PixelShuffle(2),
             nn.Conv2d(8, 1, 3, padding=1)),
         (64,))
REF_D = ("{include: nets/conv_discriminator.yaml}",
         lambda: nn.Sequential(
             nn.Conv2d(1, 32, 4, stride=2, padding=1), nn.ReLU(),
             nn.Conv2d(32, 64, 4, stride=2, padding=1), nn.ReLU(),
             nn.Flatten(), nn.Linear(3136, 512), nn.ReLU(), nn.Linear(512, 1)),
         (1, 28, 28))
# The critic of experiments/wgan_gp_mnist.yaml.
GP_CRITIC = ("""
    input: [1, 28, 28]
    layers:
      - conv2d: {out: 32, kernel: 4, stride: 2, padding: 1}
      - leaky_relu: 0.2
      - conv2d: {out: 64, kernel: 4, stride: 2, padding: 1}
      - layer_norm: [64, 7, 7]
      - leaky_relu: 0.2
      - flatten
      - linear: {out: 512}
      - layer_norm: [512]
      - leaky_relu: 0.2
      - linear: {out: 1}""",
             lambda: nn.Sequential(
                 nn.Conv2d(1, 32, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
                 nn.Conv2d(32, 64, 4, stride=2, padding=1), nn.LayerNorm([64, 7, 7]), nn.LeakyReLU(0.2),
                 nn.Flatten(), nn.Linear(3136, 512), nn.LayerNorm(512), nn.LeakyReLU(0.2), nn.Linear(512, 1)),
             (1, 28, 28))

UNIFORM, MNIST = "uniform", "mnist"

# Optimizers: (YAML, PyTorch constructor over parameters).
ADAM_GAN = ("{type: adam, lr: 2.0e-4, betas: [0.5, 0.999]}", lambda p: torch.optim.Adam(p, lr=2e-4, betas=(0.5, 0.999)))
ADAM_GP = ("{type: adam, lr: 1.0e-4, betas: [0.0, 0.9]}", lambda p: torch.optim.Adam(p, lr=1e-4, betas=(0.0, 0.9)))
RMSPROP = ("{type: rmsprop, lr: 5.0e-5}", lambda p: torch.optim.RMSprop(p, lr=5e-5))

# name, G, D, loss section, optimizer, batch, iterations, uniform range of D's initial weights
# (None: PyTorch's default initialisation)[, real batches: MNIST for the MNIST test split, default
# uniform in [-1, 1]].
CASES = [
    ("gan_non_saturating", SMALL_G, MLP_D, "{type: gan, variant: non_saturating}", ADAM_GAN, 8, 2, None),
    ("gan_minimax", SMALL_G, MLP_D, "{type: gan, variant: minimax, order: discriminator_first}", ADAM_GAN, 8, 2, None),
    ("gan_hinge", SMALL_G, MLP_D, "{type: gan, variant: hinge}", ADAM_GAN, 8, 2, None),
    ("gan_least_squares", SMALL_G, MLP_D, "{type: gan, variant: least_squares}", ADAM_GAN, 8, 2, None),
    # Critic weights start within 1.5 * clip so that some leave [-clip, clip] and are clamped.
    ("wgan_clip", SMALL_G, MLP_D, "{type: wgan, clip: 0.01, n_critic: 2}", RMSPROP, 8, 4, 0.015),
    ("wgan_gp_layer_norm", SMALL_G, LN_D, "{type: wgan_gp, lambda: 10, n_critic: 2, order: discriminator_first}",
     ADAM_GP, 8, 2, None),
    ("wgan_gp_conv", SMALL_G, CONV_D, "{type: wgan_gp, lambda: 10, n_critic: 1}", ADAM_GP, 8, 2, None),
    ("gan_reference", REF_G, REF_D, "{type: gan}", ADAM_GAN, 64, 3, None, MNIST),
    ("wgan_gp_reference", REF_G, GP_CRITIC, "{type: wgan_gp, lambda: 10, n_critic: 2, order: discriminator_first}",
     ADAM_GP, 8, 2, None),
]

# c * mean(fn(a*x + b)) per term: (d_real, d_fake, g); see runner/algo/adversarial_losses.c.
SOFTPLUS, RELU, SQUARE, IDENT = F.softplus, F.relu, torch.square, (lambda x: x)
OBJECTIVES = {
    "non_saturating": ((-1, 0, SOFTPLUS, 1), (1, 0, SOFTPLUS, 1), (-1, 0, SOFTPLUS, 1)),
    "minimax": ((-1, 0, SOFTPLUS, 1), (1, 0, SOFTPLUS, 1), (1, 0, SOFTPLUS, -1)),
    "hinge": ((-1, 1, RELU, 1), (1, 1, RELU, 1), (1, 0, IDENT, -1)),
    "least_squares": ((1, -1, SQUARE, 0.5), (1, 0, SQUARE, 0.5), (1, -1, SQUARE, 0.5)),
    "wgan": ((1, 0, IDENT, -1), (1, 0, IDENT, 1), (1, 0, IDENT, -1)),
}


def term(t, x):
    a, b, fn, c = t
    return c * fn(a * x + b).mean()


def parse_loss(text):
    """The few keys of a flow-style loss map the cases use."""
    out = {}
    for item in text.strip("{} ").split(","):
        k, v = (s.strip() for s in item.split(":"))
        out[k] = v
    out.setdefault("variant", "non_saturating")
    out.setdefault("order", "generator_first")
    out.setdefault("n_critic", "1" if out["type"] == "gan" else "5")
    return out


def indent(yaml_net):
    return yaml_net if yaml_net.startswith("{") else "\n" + "\n".join("  " + l for l in yaml_net.strip("\n").split("\n"))


def spec_text(name, g, d, loss, opt):
    return (f"name: adversarial_{name}\nseed: 0\nmodels:\n  generator: {indent(g[0])}\n"
            f"  discriminator: {indent(d[0])}\nloss: {loss}\n"
            f"optimizers:\n  generator: {opt[0]}\n  discriminator: {opt[0]}\n")


def generator_turn(k, n_critic, gen_first):
    """Whether iteration k makes a generator step."""
    return k % n_critic == 0 if gen_first else (k + 1) % n_critic == 0


def f32(t):
    """float32-representable float64: both sides start from the same numbers."""
    return t.float().double()


def critic_step(D, opt_d, loss, real, fake, eps):
    kind = loss["type"]
    obj = OBJECTIVES["wgan" if kind.startswith("wgan") else loss["variant"]]
    r, f = D(real), D(fake)
    d_loss = term(obj[0], r) + term(obj[1], f)
    if kind == "gan":
        metrics = [torch.sigmoid(r).mean().item(), torch.sigmoid(f).mean().item()]
    else:
        metrics = [(r.mean() - f.mean()).item()]
    if kind == "wgan_gp":
        e = eps.view(-1, *([1] * (real.dim() - 1)))
        x_hat = (e * real + (1 - e) * fake).requires_grad_(True)
        grad, = torch.autograd.grad(D(x_hat).sum(), x_hat, create_graph=True)
        gp = float(loss["lambda"]) * ((grad.flatten(1).norm(2, dim=1) - 1) ** 2).mean()
        d_loss = d_loss + gp
        metrics.append(gp.item())
    opt_d.zero_grad(set_to_none=True)
    d_loss.backward()
    opt_d.step()
    if kind == "wgan":
        with torch.no_grad():
            for p in D.parameters():
                p.clamp_(-float(loss["clip"]), float(loss["clip"]))
    return d_loss.item(), metrics


def generator_step(G, D, opt_g, loss, z):
    obj = OBJECTIVES["wgan" if loss["type"].startswith("wgan") else loss["variant"]]
    D.requires_grad_(False)  # no critic gradients from the generator's loss
    fake = G(z)
    g_loss = term(obj[2], D(fake))
    opt_g.zero_grad(set_to_none=True)
    g_loss.backward()
    opt_g.step()
    D.requires_grad_(True)
    return g_loss.item(), fake.detach()


def mnist_test_images(n, shape):
    """The first n images of the MNIST test split in [-1, 1] (data.normalize [-1, 1]), float32."""
    root = os.environ.get("MNIST_DIR") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "mnist")
    path = os.path.join(root, "t10k-images-idx3-ubyte.gz")
    if not os.path.exists(path):
        raise SystemExit(f"adversarial_reference.py: {path} not found: set MNIST_DIR to the folder of the MNIST files")
    with gzip.open(path, "rb") as f:
        raw = f.read()
    count = int.from_bytes(raw[4:8], "big")
    if count < n:
        raise SystemExit(f"adversarial_reference.py: {path} holds {count} images, {n} needed")
    pixels = torch.frombuffer(bytearray(raw[16:16 + n * 784]), dtype=torch.uint8)
    return (pixels.float() / 127.5 - 1.0).reshape((n,) + shape)


def rounding_driven(nets):
    """A bias that feeds a batch norm has an exact gradient of zero, so Adam turns float32 rounding
    noise into updates of up to lr, and the norm's running mean follows it: no two
    implementations agree on those closer than that."""
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
            out[f"{name}.{k}"] = v.detach().float().clone() if v.is_floating_point() else v.detach().clone()
    return out


def gradients(nets):
    """The gradient each parameter's last update applied: after the first iteration, that
    iteration's (the critic step's for D, the generator step's for G, if it stepped)."""
    out = OrderedDict()
    for name, net in nets:
        for k, p in net.named_parameters():
            if p.grad is not None:
                out[f"{name}.{k}"] = p.grad.detach().float().clone()
    return out


def run_case(out_dir, name, g, d, loss_text, opt, batch, iterations, d_init, data=UNIFORM):
    case_dir = os.path.join(out_dir, name)
    os.makedirs(case_dir, exist_ok=True)
    torch.manual_seed(0)
    G, D = g[1](), d[1]()
    if d_init is not None:
        with torch.no_grad():
            for p in D.parameters():
                p.uniform_(-d_init, d_init)
    nets = [("generator", G), ("discriminator", D)]
    with torch.no_grad():
        for _, net in nets:
            for t in net.state_dict().values():
                if t.is_floating_point():
                    t.copy_(f32(t))
    st.save(os.path.join(case_dir, "init.safetensors"), state(nets))
    G.double().train()
    D.double().train()
    opt_g, opt_d = opt[1](G.parameters()), opt[1](D.parameters())
    loss = parse_loss(loss_text)
    n_critic, gen_first = int(loss["n_critic"]), loss["order"] == "generator_first"
    z_shape, x_shape = (batch,) + g[2], (batch,) + d[2]

    reals = mnist_test_images(batch * iterations, d[2]).double().split(batch) if data == MNIST else None
    steps, last_g = OrderedDict(), math.nan
    for k in range(iterations):
        real = reals[k] if reals is not None else f32(torch.rand(x_shape) * 2 - 1)
        z_critic = f32(torch.randn(z_shape))
        eps = f32(torch.rand(batch)) if loss["type"] == "wgan_gp" else None
        steps[f"iter{k}.real"], steps[f"iter{k}.z_critic"] = real.float(), z_critic.float()
        if eps is not None:
            steps[f"iter{k}.eps"] = eps.float()
        gen_turn = generator_turn(k, n_critic, gen_first)
        if gen_first and gen_turn:
            last_g, fake = generator_step(G, D, opt_g, loss, z_critic)
        else:
            with torch.no_grad():
                fake = G(z_critic)
        d_loss, metrics = critic_step(D, opt_d, loss, real, fake, eps)
        if gen_turn and not gen_first:
            z_gen = f32(torch.randn(z_shape))
            steps[f"iter{k}.z_gen"] = z_gen.float()
            last_g, _ = generator_step(G, D, opt_g, loss, z_gen)
        steps[f"iter{k}.metrics"] = torch.tensor([d_loss, last_g] + metrics, dtype=torch.float64)
        if k == 0:
            first_grads = gradients(nets)
    st.save(os.path.join(case_dir, "after.safetensors"), state(nets))
    st.save(os.path.join(case_dir, "grads.safetensors"), first_grads)
    lr = opt_g.param_groups[0]["lr"]
    st.save(os.path.join(case_dir, "steps.safetensors"), steps,
            {"spec": spec_text(name, g, d, loss_text, opt), "iterations": iterations, "batch": batch,
             "lr": lr, "generator_steps": sum(generator_turn(k, n_critic, gen_first) for k in range(iterations)),
             "rounding_driven": ",".join(rounding_driven(nets))})


def make(out_dir):
    write_cases(out_dir, "adversarial", CASES, run_case)


if __name__ == "__main__":
    make(sys.argv[1] if len(sys.argv) > 1 else ".")
