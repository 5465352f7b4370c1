"""diffusers' UNet2DModel against experiments/nets/unet.yaml (tests/unit/test_unet.c).

make(out_dir) writes out_dir/unet/:
- count.safetensors: no tensors; metadata `parameters`, the trainable parameter count of Ho et
  al.'s CIFAR-10 network as diffusers builds it (HO_CONFIG), which `runner check` must print for
  tests/specs/good/unet_ho.yaml.
- step.safetensors: one training step's loss and gradients of the small UNet that
  ddpm_fashion uses (SMALL_CONFIG; the spec text is the metadata `spec`):
    weights: `denoiser.<our name>` (NAME_RULES maps our names onto diffusers'; the q, k, v and
      output projections, Linear (C, C) there, are our 1x1 convolutions (C, C, 1, 1));
    x (B, 1, 32, 32) noisy images, t (B, 1) timesteps (0, 1, 500, 999), eps (B, 1, 32, 32) noise;
    loss = F.mse_loss(model(x, t).sample, eps) (F64) and `grad.denoiser.<our name>` for every
      parameter.
  Weights are diffusers' own initialisation from a seed, with GroupNorm's affine parameters
  drawn away from (1, 0) so that their gradients are tested off the identity; the reference runs
  in float64 from float32-representable weights and inputs (diffusers itself computes the
  timestep embedding in float32, as the runner does).

diffusers lives in the .venv that tools/setup.sh makes; under another Python this script re-runs
itself there.  Without diffusers no unet fixtures are written and test_unet.c fails, saying so.
"""
import os
import re
import sys

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import reference_venv  # noqa: E402
import st  # noqa: E402


try:
    import diffusers
    from diffusers import UNet2DModel
except ImportError:
    diffusers = None

# UNet2DModel's arguments for the DDPM UNet; the spec's parameters follow from them.
DDPM_BLOCKS = dict(layers_per_block=2, down_block_types=("DownBlock2D", "AttnDownBlock2D", "DownBlock2D", "DownBlock2D"),
                   up_block_types=("UpBlock2D", "UpBlock2D", "AttnUpBlock2D", "UpBlock2D"),
                   attention_head_dim=None, flip_sin_to_cos=False, freq_shift=1)
HO_CONFIG = dict(DDPM_BLOCKS, sample_size=32, in_channels=3, out_channels=3, block_out_channels=(128, 256, 256, 256),
                 norm_num_groups=32, dropout=0.1)
SMALL_CONFIG = dict(DDPM_BLOCKS, sample_size=32, in_channels=1, out_channels=1, block_out_channels=(16, 32, 32, 32),
                    norm_num_groups=8, dropout=0.0)


def _fashion_denoiser():
    """experiments/ddpm_fashion.yaml's `denoiser:` line, so the step test checks the shipped network."""
    with open(os.path.join(HERE, "..", "..", "experiments", "ddpm_fashion.yaml")) as f:
        lines = [line for line in f if line.startswith("  denoiser: {include: nets/unet.yaml")]
    if len(lines) != 1:
        raise SystemExit("unet_reference.py: experiments/ddpm_fashion.yaml has no single `denoiser: {include: ...}` line")
    return lines[0]


SPEC = "name: unet_step\nmodels:\n" + _fashion_denoiser()
NETWORK = "denoiser"
TIMESTEPS = (0, 1, 500, 999)

# Our node names -> UNet2DModel's module paths; {} is a number, the same on both sides.
NAME_RULES = [
    ("time_linear_{}", "time_embedding.linear_{}"),
    ("down{}_res{}", "down_blocks.{}.resnets.{}"),
    ("down{}_attn{}", "down_blocks.{}.attentions.{}"),
    ("down{}_down", "down_blocks.{}.downsamplers.0"),
    ("mid_res{}", "mid_block.resnets.{}"),
    ("mid_attn{}", "mid_block.attentions.{}"),
    ("up{}_res{}", "up_blocks.{}.resnets.{}"),
    ("up{}_attn{}", "up_blocks.{}.attentions.{}"),
    ("up{}_up", "up_blocks.{}.upsamplers.0"),
]
OUT_PROJECTION = (".to_out.", ".to_out.0.")  # diffusers' to_out is (Linear, Dropout)
PROJECTIONS = re.compile(r"\.(to_q|to_k|to_v|to_out)\.weight$")


def _rename(name, rules):
    for src, dst in rules:
        pattern = "^" + r"(\d+)".join(re.escape(part) for part in src.split("{}")) + r"(?=\.)"
        name, n = re.subn(pattern, lambda m: dst.format(*m.groups()), name)
        if n:
            break
    return name


def diffusers_name(ours):
    """diffusers' parameter name for one of ours (without the network prefix)."""
    return _rename(ours, NAME_RULES).replace(*OUT_PROJECTION)


def our_name(theirs):
    return _rename(theirs.replace(OUT_PROJECTION[1], OUT_PROJECTION[0]), [(d, s) for s, d in NAME_RULES])


def to_ours(theirs, t):
    """A diffusers tensor under our name and in our layout."""
    name = our_name(theirs)
    if diffusers_name(name) != theirs:
        raise SystemExit(f"unet_reference.py: NAME_RULES do not map {theirs!r} back and forth (got {name!r})")
    if PROJECTIONS.search(name):
        t = t.reshape(*t.shape, 1, 1)
    return f"{NETWORK}.{name}", t


def build(config, seed):
    torch.manual_seed(seed)
    return UNet2DModel(**config)


def count_fixture(path):
    n = sum(p.numel() for p in build(HO_CONFIG, 0).parameters() if p.requires_grad)
    st.save(path, {}, {"parameters": str(n), "config": repr(HO_CONFIG)})


def f32(t):
    return t.float().double()


def step_fixture(path):
    model = build(SMALL_CONFIG, 1)
    gen = torch.Generator().manual_seed(2)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name:  # GroupNorm weight and bias (norm1, norm2, group_norm, conv_norm_out)
                p.copy_(torch.rand(p.shape, generator=gen) + 0.5 if name.endswith("weight")
                        else torch.rand(p.shape, generator=gen) * 0.4 - 0.2)
    model.double().train()
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(f32(p))
    b, c, s = len(TIMESTEPS), SMALL_CONFIG["in_channels"], SMALL_CONFIG["sample_size"]
    x = f32(torch.randn((b, c, s, s), generator=gen, dtype=torch.float64))
    eps = f32(torch.randn((b, c, s, s), generator=gen, dtype=torch.float64))
    t = torch.tensor(TIMESTEPS, dtype=torch.long)
    loss = F.mse_loss(model(x, t).sample, eps)
    loss.backward()
    tensors = {}
    for theirs, p in model.named_parameters():
        name, value = to_ours(theirs, p.detach())
        tensors[name] = value.float()
    for theirs, p in model.named_parameters():
        name, grad = to_ours(theirs, p.grad)
        tensors["grad." + name] = grad.float()
    tensors.update(x=x.float(), t=t.double().reshape(b, 1).float(), eps=eps.float(), loss=loss.detach().reshape(1))
    st.save(path, tensors, {"spec": SPEC, "network": NETWORK, "diffusers": diffusers.__version__})


def make(out_dir):
    d = os.path.join(out_dir, "unet")
    if diffusers is None:
        reference_venv.make_there(__file__, out_dir, "diffusers is")
        return
    diffusers.utils.logging.set_verbosity_error()  # attention_head_dim=None is what Ho et al.'s network needs
    os.makedirs(d, exist_ok=True)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    count_fixture(os.path.join(d, "count.safetensors"))
    step_fixture(os.path.join(d, "step.safetensors"))


if __name__ == "__main__":
    make(sys.argv[1] if len(sys.argv) > 1 else "build/fixtures")
