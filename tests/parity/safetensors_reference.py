"""Safetensors interchange with PyTorch (tests/unit/test_safetensors.c).

make(out_dir) writes out_dir/safetensors/torch_written.safetensors with tests/parity/st.py: one
tensor per dtype holding known values (`values(n)` below), a scalar, an empty tensor and the
state_dict of Sequential(Linear(3, 4), BatchNorm1d(4)) after one training-mode forward, under
"net." (PyTorch layouts; num_batches_tracked is an I64 scalar).  When the `safetensors` package
is available (importable, or in the .venv that tools/setup.sh makes; $VENV overrides its
place), the same tensors are also written by safetensors.torch.save_file as
torch_written_official.safetensors, and st.py and safetensors must read each other's files
identically.

`safetensors_reference.py verify PATH` checks a file written by the C side (the tensors
test_safetensors.c writes) with st.py and, when available, safetensors.torch.load_file; exit
status 0 when it matches, 1 when not (or when torch or safetensors is missing: make setup installs
them).
"""
import os
import subprocess
import sys

try:
    import torch
except ImportError:
    sys.exit("safetensors_reference.py: torch is not installed: run make setup")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st  # noqa: E402

try:
    import safetensors.torch as official
except ImportError:
    official = None

HERE = os.path.dirname(os.path.abspath(__file__))
VENV_PYTHON = os.path.join(os.environ.get("VENV", os.path.join(HERE, "..", "..", ".venv")),
                           "bin", "python")


def in_venv(*args):
    """Runs this script under the venv's Python (which has safetensors); False if there is none."""
    if official is not None or not os.access(VENV_PYTHON, os.X_OK):
        return False
    return subprocess.run([VENV_PYTHON, os.path.abspath(__file__), *args]).returncode == 0


def values(n):
    """0, 0.5, -1, 1.5, -2, ...: exact in every dtype (bool: nonzero, u8: absolute value)."""
    return torch.tensor([(i * 0.5) * (-1) ** i for i in range(n)], dtype=torch.float64)


def reference_tensors():
    out = {
        "f32": values(6).reshape(2, 3).float(),
        "f64": values(6).reshape(3, 2),
        "f16": values(5).half(),
        "bf16": values(5).bfloat16(),
        "i64": (values(4) * 2).long(),
        "i32": (values(4) * 2).int(),
        "u8": (values(4) * 2).abs().to(torch.uint8),
        "bool": (values(4) != 0),
        "scalar": torch.tensor(7.25),
        "empty": torch.zeros(0, 3),
    }
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    net.train()
    net(torch.randn(5, 3))
    out.update({"net." + k: v.detach().clone() for k, v in net.state_dict().items()})
    return out


def same(a, b):
    return set(a) == set(b) and all(a[k].dtype == b[k].dtype and a[k].shape == b[k].shape
                                    and torch.equal(a[k], b[k]) for k in a)


def make(out_dir):
    d = os.path.join(out_dir, "safetensors")
    os.makedirs(d, exist_ok=True)
    tensors = reference_tensors()
    ours = os.path.join(d, "torch_written.safetensors")
    st.save(ours, tensors, {"format": "pt", "source": "st.py"})
    theirs = os.path.join(d, "torch_written_official.safetensors")
    if official is None:
        if os.path.exists(theirs):
            os.remove(theirs)
        if not os.access(VENV_PYTHON, os.X_OK):
            raise SystemExit(f"safetensors_reference.py: the safetensors package is not installed ({VENV_PYTHON} "
                             "is missing): run make setup")
        if not in_venv("official", out_dir):
            raise SystemExit("the safetensors interop check failed")
        return
    official.save_file(tensors, theirs, metadata={"format": "pt", "source": "safetensors"})
    if not same(official.load_file(ours), tensors) or not same(st.load(theirs)[0], tensors):
        raise SystemExit("st.py and the safetensors package disagree")


def expected_from_c():
    """What test_safetensors.c writes for `verify`."""
    return {
        "a": torch.tensor([i * 0.25 - 0.5 for i in range(6)], dtype=torch.float32).reshape(2, 3),
        "b": torch.tensor(42, dtype=torch.int64),
        "c": torch.zeros(0, dtype=torch.float32),
    }, {"k": "v"}


def verify(path):
    want, want_meta = expected_from_c()
    got, meta = st.load(path)
    ok = same(got, want) and meta == want_meta
    if official is not None:
        ok = ok and same(official.load_file(path), want)
    elif os.access(VENV_PYTHON, os.X_OK):
        ok = ok and in_venv("verify", path)
    else:
        sys.exit(f"safetensors_reference.py: the safetensors package is not installed ({VENV_PYTHON} is missing): "
                 "run make setup")
    print(f"{path}: {'matches' if ok else 'differs from'} the expected tensors"
          f"{' (st.py and safetensors)' if official else ' (st.py)'}")
    return 0 if ok else 1


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "verify":
        sys.exit(verify(sys.argv[2]))
    if len(sys.argv) == 3 and sys.argv[1] == "official" and official is not None:
        make(sys.argv[2])  # under the venv: writes both files and cross-checks them
        sys.exit(0)
    make(sys.argv[1] if len(sys.argv) > 1 else "build/fixtures")
