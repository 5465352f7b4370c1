"""References for the diffusion schedule and samplers (tests/unit/test_diffusion.c), from diffusers' own
DDPMScheduler and DDIMScheduler (the PyPI package in the .venv that tools/setup.sh makes; under another
Python this script re-runs itself there).

make(out_dir) writes out_dir/diffusion/schedulers.safetensors:
- `linear.betas`, `linear.abar`, `cosine.betas`, `cosine.abar` (F32): the schedulers' betas and
  alphas_cumprod for T = 1000 (beta_schedule linear 1e-4..0.02, and squaredcos_cap_v2).
- per step case: `<case>.x` (x_t), `<case>.eps` (the model's predicted noise), `<case>.z` (the random
  draw), all (2, 3, 5, 7) float32 with x_t in [-1.6, 1.6] so that clipping the predicted x_0 matters;
  `<case>.prev` = scheduler.step(eps, t, x).prev_sample with diffusers' float32 tables, and
  `<case>.prev64` = the same code on float64 tables and inputs (the formulas without float32's
  rounding).  The DDPM step's draw comes from randn_tensor, replaced by `z` for the call; DDIM takes it
  as variance_noise; `<case>.timesteps` (I64): the chain set_timesteps makes.  Metadata `cases` lists them; `<case>` holds "sampler,schedule,steps,t,variance,eta".
Cases: ancestral steps with both variances (fixed_large = beta, fixed_small = posterior) at a middle
timestep, at t = 1 and at the last step t = 0 (no draw), one with 50 inference steps (a skipping
step); DDIM with eta 0 and 1 at 50 steps, its last step (t = 0, where set_alpha_to_one gives
abar_prev = 1), and one on the cosine schedule.
"""
import os
import subprocess
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import st  # noqa: E402

VENV = os.environ.get("VENV", os.path.join(HERE, "..", "..", ".venv"))
VENV_PYTHON = os.path.join(VENV, "bin", "python")

try:
    import diffusers.schedulers.scheduling_ddpm as ddpm_module
    from diffusers import DDIMScheduler, DDPMScheduler
except ImportError:
    ddpm_module = None

SHAPE = (2, 3, 5, 7)
SCHEDULES = {"linear": "linear", "cosine": "squaredcos_cap_v2"}
# name: (sampler, schedule, inference steps, timestep, variance, eta)
CASES = {
    "ddpm_beta_mid": ("ddpm", "linear", 1000, 500, "beta", 0.0),
    "ddpm_posterior_mid": ("ddpm", "linear", 1000, 500, "posterior", 0.0),
    "ddpm_beta_t1": ("ddpm", "linear", 1000, 1, "beta", 0.0),
    "ddpm_posterior_t1": ("ddpm", "linear", 1000, 1, "posterior", 0.0),
    "ddpm_posterior_last": ("ddpm", "linear", 1000, 0, "posterior", 0.0),
    "ddpm_beta_last": ("ddpm", "linear", 1000, 0, "beta", 0.0),
    "ddpm_posterior_skip": ("ddpm", "linear", 50, 380, "posterior", 0.0),
    "ddim_eta0": ("ddim", "linear", 50, 500, "beta", 0.0),
    "ddim_eta1": ("ddim", "linear", 50, 500, "beta", 1.0),
    "ddim_eta0_last": ("ddim", "linear", 50, 0, "beta", 0.0),
    "ddim_eta1_cosine": ("ddim", "cosine", 50, 980, "beta", 1.0),
}


def scheduler(sampler, schedule, variance):
    if sampler == "ddpm":
        return DDPMScheduler(num_train_timesteps=1000, beta_schedule=SCHEDULES[schedule],
                             variance_type="fixed_large" if variance == "beta" else "fixed_small")
    return DDIMScheduler(num_train_timesteps=1000, beta_schedule=SCHEDULES[schedule])


def as_float64(sched):
    """The same scheduler with its tables in float64 (betas from diffusers' float32 definition of the
    schedule recomputed in double: linspace for linear, betas_for_alpha_bar's formula for cosine)."""
    if sched.config.beta_schedule == "linear":
        betas = torch.linspace(sched.config.beta_start, sched.config.beta_end, 1000, dtype=torch.float64)
    else:
        import math
        f = lambda u: math.cos((u + 0.008) / 1.008 * math.pi / 2) ** 2  # noqa: E731
        betas = torch.tensor([min(1 - f((i + 1) / 1000) / f(i / 1000), 0.999) for i in range(1000)],
                             dtype=torch.float64)
    sched.betas = betas
    sched.alphas = 1.0 - betas
    sched.alphas_cumprod = torch.cumprod(sched.alphas, dim=0)
    if hasattr(sched, "final_alpha_cumprod"):
        sched.final_alpha_cumprod = torch.tensor(1.0, dtype=torch.float64)
    if hasattr(sched, "one"):
        sched.one = torch.tensor(1.0, dtype=torch.float64)
    return sched


def step(sched, sampler, t, x, eps, z, eta):
    if sampler == "ddim":
        return sched.step(eps, t, x, eta=eta, variance_noise=z).prev_sample
    saved = ddpm_module.randn_tensor
    ddpm_module.randn_tensor = lambda *args, **kwargs: z
    try:
        return sched.step(eps, t, x).prev_sample
    finally:
        ddpm_module.randn_tensor = saved


def make(out_dir):
    if ddpm_module is None:
        if os.access(VENV_PYTHON, os.X_OK) and os.path.realpath(sys.prefix) != os.path.realpath(VENV):
            if subprocess.run([VENV_PYTHON, os.path.abspath(__file__), out_dir]).returncode != 0:
                raise SystemExit("diffusion_reference.py failed under " + VENV_PYTHON)
            return
        raise SystemExit(f"diffusion_reference.py: diffusers is not installed here nor in {VENV}: run make setup")
    d = os.path.join(out_dir, "diffusion")
    os.makedirs(d, exist_ok=True)
    torch.set_num_threads(1)
    tensors, meta = {}, {"cases": ",".join(CASES)}
    for name, kind in SCHEDULES.items():
        s = DDPMScheduler(num_train_timesteps=1000, beta_schedule=kind)
        tensors[f"{name}.betas"] = s.betas.float()
        tensors[f"{name}.abar"] = s.alphas_cumprod.float()
    gen = torch.Generator().manual_seed(12)
    for name, (sampler, schedule, steps, t, variance, eta) in CASES.items():
        x = (torch.rand(SHAPE, generator=gen) * 3.2 - 1.6).float()
        eps = torch.randn(SHAPE, generator=gen).float()
        z = torch.randn(SHAPE, generator=gen).float()
        results = []
        for wide in (False, True):
            sched = scheduler(sampler, schedule, variance)
            sched.set_timesteps(steps)
            assert t in sched.timesteps.tolist(), (name, t)
            if wide:
                sched = as_float64(sched)
                results.append(step(sched, sampler, t, x.double(), eps.double(), z.double(), eta))
            else:
                results.append(step(sched, sampler, t, x, eps, z, eta))
        tensors.update({f"{name}.timesteps": sched.timesteps.to(torch.int64).clone(),
                        f"{name}.x": x, f"{name}.eps": eps, f"{name}.z": z,
                        f"{name}.prev": results[0].float(), f"{name}.prev64": results[1].double()})
        meta[name] = f"{sampler},{schedule},{steps},{t},{variance},{eta}"
    st.save(os.path.join(d, "schedulers.safetensors"), tensors, meta)


if __name__ == "__main__":
    make(sys.argv[1] if len(sys.argv) > 1 else "build/fixtures")
