"""Converts pytorch-fid's FID Inception weights to the runner's safetensors layout.

    /usr/bin/python3 tools/convert_fid_inception.py pt_inception-2015-12-05-6726825d.pth OUT.safetensors

IN is the plain state_dict pytorch-fid distributes (download it yourself from
https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth;
nothing here downloads).  experiments/nets/inception_v3_fid.yaml names its nodes after pytorch-fid's
modules (Mixed_5b.branch1x1.conv, ...), so each parameter keeps its name, prefixed by the network's name
(`inception.`, as the runner's checkpoints are).  Every name and shape is checked against torchvision's
InceptionV3 with 1008 classes and no auxiliary head (the FID variants of its blocks have the same
parameters); BatchNorm's num_batches_tracked, absent from old state_dicts, is written as 0.
Needs only Debian's python3-torch and python3-torchvision.
"""
import hashlib
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "parity"))
import st  # noqa: E402  (a dependency-free safetensors writer)

PREFIX = "inception"


def expected_shapes():
    """name -> shape of every tensor pytorch-fid's FID Inception holds."""
    import torchvision
    net = torchvision.models.inception_v3(weights=None, num_classes=1008, aux_logits=False,
                                          init_weights=False)
    return {k: tuple(v.shape) for k, v in net.state_dict().items()}


def convert_state_dict(state_dict, prefix=PREFIX):
    """pytorch-fid's state_dict -> the runner's tensors (float32, num_batches_tracked int64)."""
    want = expected_shapes()
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


def main(argv):
    if len(argv) != 3:
        raise SystemExit("usage: convert_fid_inception.py IN.pth OUT.safetensors")
    src, dst = argv[1], argv[2]
    if not os.path.exists(src):
        raise SystemExit(f"{src}: no such file (pytorch-fid's pt_inception-2015-12-05-6726825d.pth)")
    state_dict = torch.load(src, map_location="cpu")
    if not isinstance(state_dict, dict):
        raise SystemExit(f"{src}: expected a state_dict (a dict of tensors), found {type(state_dict).__name__}")
    try:
        tensors = convert_state_dict(state_dict)
    except ValueError as e:
        raise SystemExit(f"{src}: {e}")
    with open(src, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    st.save(dst, tensors, {"format": "pt", "source": os.path.basename(src), "source_sha256": digest,
                           "network": "inception_v3_fid"})
    print(f"{dst}: {len(tensors)} tensors from {src}")


if __name__ == "__main__":
    main(sys.argv)
