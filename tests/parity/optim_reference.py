"""PyTorch references for the optimizers and learning-rate schedules (tests/unit/test_optim.c).

make(out_dir) writes
  out_dir/optim/<case>.safetensors   param.<i> (initial values), grad.<k>.<i> and after.<k>.<i>
                                     (step k's gradient and the parameters after it), lr (F64, the
                                     rate each step used); metadata: the optimizer's torch.optim
                                     arguments under our config names (only those given, so our
                                     defaults must equal PyTorch's), clip_weights, clip_grad_norm,
                                     steps, n_params and the schedule (sched_*), if any
  out_dir/optim/sched_<case>.safetensors
                                     lr (F64, the rate of each of 40 steps); metadata: lr (base) and
                                     the schedule's settings
Each step sets .grad, clips the gradient norm (torch.nn.utils.clip_grad_norm_), steps the
optimizer, clamps every parameter (WGAN) and steps the scheduler, in the order the runner uses.
"""
import os
import sys
import warnings
import zlib

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st  # noqa: E402

STEPS = 20
SHAPES = [(4, 3), (5,), (2, 3, 3)]
LARGE = [(40000,)]  # above the CPU kernels' threshold for running in parallel

OPTIM_CASES = [
    dict(name="sgd_plain", type="sgd", kw=dict(lr=0.1)),
    dict(name="sgd_momentum", type="sgd", kw=dict(lr=0.05, momentum=0.9, dampening=0.1,
                                                  weight_decay=0.01)),
    dict(name="sgd_nesterov", type="sgd", kw=dict(lr=0.05, momentum=0.8, nesterov=True,
                                                  weight_decay=1e-3)),
    dict(name="sgd_clip_grad_norm", type="sgd", kw=dict(lr=0.1, momentum=0.5), clip_grad_norm=0.5),
    dict(name="adam_default", type="adam", kw=dict()),
    dict(name="adam_gan", type="adam", kw=dict(lr=2e-4, betas=(0.5, 0.999))),
    dict(name="adam_weight_decay", type="adam", kw=dict(lr=2e-3, weight_decay=0.1)),
    dict(name="adam_clip_grad_norm", type="adam", kw=dict(lr=1e-2), clip_grad_norm=1.0),
    dict(name="adam_large", type="adam", kw=dict(lr=1e-2, betas=(0.0, 0.9)), shapes=SHAPES + LARGE),
    dict(name="adamw_default", type="adamw", kw=dict()),
    dict(name="adamw_ddpm", type="adamw", kw=dict(lr=2e-2, weight_decay=0.3), clip_grad_norm=1.0),
    dict(name="rmsprop_default", type="rmsprop", kw=dict()),
    dict(name="rmsprop_wgan", type="rmsprop", kw=dict(lr=5e-3), clip_weights=0.05, init_scale=0.08),
    dict(name="rmsprop_weight_decay", type="rmsprop", kw=dict(lr=1e-3, alpha=0.9, eps=1e-6,
                                                              weight_decay=0.05)),
    dict(name="rmsprop_momentum", type="rmsprop", kw=dict(lr=1e-3, momentum=0.9)),
    dict(name="rmsprop_centered", type="rmsprop", kw=dict(lr=1e-3, centered=True,
                                                          weight_decay=0.01)),
    dict(name="rmsprop_momentum_centered_large", type="rmsprop",
         kw=dict(lr=1e-3, momentum=0.5, centered=True), shapes=SHAPES + LARGE),
    dict(name="adam_warmup_cosine", type="adam", kw=dict(lr=1e-2),
         sched=dict(type="linear_warmup", after="cosine", warmup_steps=5, start_factor=0.1,
                    t_max=15, eta_min=1e-4)),
    dict(name="sgd_step_schedule", type="sgd", kw=dict(lr=0.1, momentum=0.9),
         sched=dict(type="step", step_size=6, gamma=0.3)),
]

SCHED_STEPS = 40
SCHED_CASES = [
    dict(name="constant", type="constant"),
    dict(name="step", type="step", step_size=7, gamma=0.5),
    dict(name="cosine", type="cosine", t_max=15, eta_min=1e-3),
    dict(name="warmup_constant", type="linear_warmup", after="constant", warmup_steps=5,
         start_factor=0.1),
    dict(name="warmup_step", type="linear_warmup", after="step", warmup_steps=4, start_factor=0.25,
         step_size=5, gamma=0.5),
    dict(name="warmup_cosine", type="linear_warmup", after="cosine", warmup_steps=6,
         start_factor=0.01, t_max=20, eta_min=0.0),
]

TORCH_OPTIM = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW,
               "rmsprop": torch.optim.RMSprop}


def make_scheduler(opt, s):
    """Our schedule as PyTorch's schedulers; None for constant."""
    def base(kind):
        if kind == "step":
            return torch.optim.lr_scheduler.StepLR(opt, step_size=s["step_size"], gamma=s["gamma"])
        if kind == "cosine":
            return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=s["t_max"],
                                                              eta_min=s["eta_min"])
        return torch.optim.lr_scheduler.ConstantLR(opt, factor=1.0, total_iters=0)
    if s["type"] != "linear_warmup":
        return None if s["type"] == "constant" else base(s["type"])
    warm = torch.optim.lr_scheduler.LinearLR(opt, start_factor=s["start_factor"], end_factor=1.0,
                                             total_iters=s["warmup_steps"])
    return torch.optim.lr_scheduler.SequentialLR(opt, [warm, base(s["after"])],
                                                 milestones=[s["warmup_steps"]])


def sched_meta(s):
    return {("sched_" + k): str(v) for k, v in s.items() if k != "name"}


def optim_meta(case):
    meta = {"type": case["type"], "steps": str(STEPS)}
    for k, v in case["kw"].items():
        if k == "betas":
            meta["beta1"], meta["beta2"] = repr(float(v[0])), repr(float(v[1]))
        elif isinstance(v, bool):
            meta[k] = "true" if v else "false"
        else:
            meta[k] = repr(float(v))
    for k in ("clip_weights", "clip_grad_norm"):
        if k in case:
            meta[k] = repr(float(case[k]))
    if "sched" in case:
        meta.update(sched_meta(case["sched"]))
    return meta


def run_optim(case):
    gen = torch.Generator().manual_seed(zlib.crc32(case["name"].encode()))
    shapes = case.get("shapes", SHAPES)
    scale = case.get("init_scale", 1.0)
    params = [((torch.rand(s, generator=gen) * 2 - 1) * scale).requires_grad_() for s in shapes]
    tensors = {f"param.{i}": p.detach().clone() for i, p in enumerate(params)}
    opt = TORCH_OPTIM[case["type"]](params, **case["kw"])
    sched = make_scheduler(opt, case["sched"]) if "sched" in case else None
    lrs = []
    for k in range(STEPS):
        for i, p in enumerate(params):
            g = torch.randn(p.shape, generator=gen)
            tensors[f"grad.{k}.{i}"] = g.clone()
            p.grad = g
        if "clip_grad_norm" in case:
            torch.nn.utils.clip_grad_norm_(params, case["clip_grad_norm"])
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        if "clip_weights" in case:
            with torch.no_grad():
                for p in params:
                    p.clamp_(-case["clip_weights"], case["clip_weights"])
        if sched is not None:
            sched.step()
        for i, p in enumerate(params):
            tensors[f"after.{k}.{i}"] = p.detach().clone()
    tensors["lr"] = torch.tensor(lrs, dtype=torch.float64)
    meta = optim_meta(case)
    meta["n_params"] = str(len(params))
    return tensors, meta


def run_sched(case):
    base_lr = 0.1
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=base_lr)
    sched = make_scheduler(opt, case)
    lrs = []
    for _ in range(SCHED_STEPS):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        if sched is not None:
            sched.step()
    meta = sched_meta(case)
    meta["lr"] = repr(base_lr)
    return {"lr": torch.tensor(lrs, dtype=torch.float64)}, meta


def make(out_dir):
    # SequentialLR restarts the following scheduler with step(0), which warns about itself.
    warnings.filterwarnings("ignore", message="The epoch parameter")
    d = os.path.join(out_dir, "optim")
    os.makedirs(d, exist_ok=True)
    for case in OPTIM_CASES:
        tensors, meta = run_optim(case)
        st.save(os.path.join(d, case["name"] + ".safetensors"), tensors, meta)
    for case in SCHED_CASES:
        tensors, meta = run_sched(case)
        st.save(os.path.join(d, "sched_" + case["name"] + ".safetensors"), tensors, meta)


if __name__ == "__main__":
    make(sys.argv[1] if len(sys.argv) > 1 else "build/fixtures")
