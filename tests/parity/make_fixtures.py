"""Writes every PyTorch reference fixture: `python3 tests/parity/make_fixtures.py OUT_DIR`.

Op fixtures come from the CASES lists of tests/parity/cases_<family>.py, one dict per case:
    dict(name="conv2d_s2_odd",            # unique, [a-z0-9_]; the fixture's file name
         op="conv2d",                     # our op name
         attrs={"out": 5, "kernel": [3, 2], "stride": 2, "padding": 1},  # as a spec writes them
         inputs=[(3, 4, 9, 7)],           # data-input shapes (batch first)
         params={"weight": (5, 4, 3, 2), "bias": (5,)},  # our ParamDecl names, PyTorch layouts
         ref=lambda x, p: F.conv2d(x[0], p["weight"], p["bias"], stride=2, padding=1),
         training=True,                   # graph mode (batchnorm, dropout); default True
         no_grad=[],                      # inputs that get no gradient
         input_range=(-1.0, 1.0),         # uniform range of the inputs (keep away from kinks)
         int_inputs=[],                   # inputs drawn as integers in input_range (indices)
         param_range={},                  # name -> (lo, hi); default (-1, 1), running_var (0.5, 1.5)
         fd=True,                         # run the finite-difference check
         atol=0.0,                        # absolute tolerance floor against a reference that is
                                          # itself only that precise (diffusers rounds in float32)
         buffers_after=["running_mean"])  # params that forward updates in place
`ref(x, p)` gets the inputs (float64 leaves) and a dict of parameters and returns the output: it is
the PyTorch specification of the op.  ref=None (random ops such as dropout) writes only the
inputs and parameters, for the finite-difference check.  Parameters named running_* or listed in
buffers_after are buffers: no gradient.  Each case runs in float64 on inputs and parameters drawn from a seed derived
from the case's name and rounded to float32 (so the C side starts from exactly the same numbers),
with a random upstream gradient dy, and becomes OUT_DIR/ops/<name>.safetensors holding
input.<i>, param.<name>, output, dy, grad.input.<i>, grad.param.<name>, buffer_after.<name>
and metadata (op, attrs as JSON, training, fd, no_grad, params, atol when given).

Every other tests/parity/*_reference.py module contributes its own files through make(OUT_DIR).
Output is deterministic: the same script gives byte-identical files.
"""
import glob
import importlib
import json
import os
import re
import sys
import zlib

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import st  # noqa: E402  (tests/parity/st.py: a dependency-free safetensors writer)

CASE_KEYS = {"name", "op", "attrs", "inputs", "params", "ref", "training", "no_grad", "input_range",
             "fd", "buffers_after", "int_inputs", "param_range", "atol"}
# Statistics buffers must stay in their valid range (a running variance is positive).
DEFAULT_PARAM_RANGE = {"running_var": (0.5, 1.5), "num_batches_tracked": (0, 0)}


def case_error(origin, case, msg):
    raise SystemExit(f"{origin}: case {case.get('name', '?')!r}: {msg}")


def check_case(origin, case, seen):
    unknown = set(case) - CASE_KEYS
    if unknown:
        case_error(origin, case, f"unknown keys {sorted(unknown)} (known: {sorted(CASE_KEYS)})")
    for key in ("name", "op", "inputs"):
        if key not in case:
            case_error(origin, case, f"missing '{key}'")
    if not re.fullmatch(r"[a-z0-9_]+", case["name"]):
        case_error(origin, case, "name must match [a-z0-9_]+")
    if case["name"] in seen:
        case_error(origin, case, f"name already used in {seen[case['name']]}")
    seen[case["name"]] = origin


def is_buffer(case, pname):
    return pname in case.get("buffers_after", []) or pname.startswith("running_") \
        or pname == "num_batches_tracked"


def draw(gen, shape, lo, hi, integer=False):
    if integer:
        return torch.randint(int(lo), int(hi) + 1, shape, generator=gen).double()
    # float32-representable float64 values, so both sides see the same inputs
    return (torch.rand(shape, generator=gen, dtype=torch.float64) * (hi - lo) + lo).float().double()


def run_case(case):
    gen = torch.Generator().manual_seed(zlib.crc32(case["name"].encode()))
    lo, hi = case.get("input_range", (-1.0, 1.0))
    int_inputs = set(case.get("int_inputs", []))
    no_grad = set(case.get("no_grad", [])) | int_inputs
    xs = []
    for i, shape in enumerate(case["inputs"]):
        x = draw(gen, tuple(shape), lo, hi, integer=i in int_inputs)
        xs.append(x.requires_grad_(i not in no_grad))
    ranges = dict(DEFAULT_PARAM_RANGE, **case.get("param_range", {}))
    ps = {}
    for pname, shape in case.get("params", {}).items():
        plo, phi = ranges.get(pname, (-1.0, 1.0))
        p = draw(gen, tuple(shape), plo, phi, integer=pname == "num_batches_tracked")
        ps[pname] = p.requires_grad_(not is_buffer(case, pname))

    tensors = {f"input.{i}": x.detach().clone() for i, x in enumerate(xs)}
    tensors.update({f"param.{k}": p.detach().clone() for k, p in ps.items()})
    ref = case.get("ref")
    if ref is not None:
        out = ref(xs, ps)
        dy = draw(gen, tuple(out.shape), -1.0, 1.0)
        tensors["output"] = out.detach()
        tensors["dy"] = dy
        leaves = [(f"grad.input.{i}", x) for i, x in enumerate(xs) if x.requires_grad]
        leaves += [(f"grad.param.{k}", p) for k, p in ps.items() if p.requires_grad]
        if leaves and out.requires_grad:
            grads = torch.autograd.grad(out, [t for _, t in leaves], dy, allow_unused=True)
            for (name, t), g in zip(leaves, grads):
                tensors[name] = torch.zeros_like(t) if g is None else g
        for pname in case.get("buffers_after", []):
            tensors[f"buffer_after.{pname}"] = ps[pname].detach().clone()
    meta = {
        "op": case["op"],
        "attrs": json.dumps(case.get("attrs", {}), sort_keys=True),
        "training": "true" if case.get("training", True) else "false",
        "fd": "true" if case.get("fd", True) else "false",
        "no_grad": json.dumps(sorted(no_grad)),
        "params": json.dumps(list(case.get("params", {}))),
        "buffers": json.dumps([k for k in ps if is_buffer(case, k)]),
        "reference": "pytorch" if ref is not None else "none",
    }
    if "atol" in case:
        meta["atol"] = repr(float(case["atol"]))
    return tensors, meta


def op_fixtures(out_dir):
    ops_dir = os.path.join(out_dir, "ops")
    os.makedirs(ops_dir, exist_ok=True)
    for old in glob.glob(os.path.join(ops_dir, "*.safetensors")):
        os.remove(old)  # a renamed or deleted case must not leave a stale fixture behind
    seen = {}
    for path in sorted(glob.glob(os.path.join(HERE, "cases_*.py"))):
        module = importlib.import_module(os.path.basename(path)[:-3])
        origin = os.path.relpath(path)
        for case in module.CASES:
            check_case(origin, case, seen)
            tensors, meta = run_case(case)
            st.save(os.path.join(ops_dir, case["name"] + ".safetensors"), tensors, meta)
    return len(seen)


def main():
    if len(sys.argv) != 2:
        raise SystemExit("usage: make_fixtures.py OUT_DIR")
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)  # float64 sums in a fixed order: identical files on every run
    n = op_fixtures(out_dir)
    print(f"make_fixtures: {n} op cases -> {out_dir}/ops")
    for path in sorted(glob.glob(os.path.join(HERE, "*_reference.py"))):
        name = os.path.basename(path)[:-3]
        importlib.import_module(name).make(out_dir)
        print(f"make_fixtures: {name}.make done")


if __name__ == "__main__":
    main()
