"""References for the FID family (tests/unit/test_fid.c), computed with the field's own code.

make(out_dir) writes out_dir/fid/:
- inception.safetensors: pytorch-fid's FID InceptionV3 (pytorch_fid.inception.InceptionV3, the real
  package's code) with RANDOM weights, whose BatchNorm statistics are calibrated on the test images so
  that activations keep a useful scale through all 94 convolutions.  Holds the weights under our names
  (tools/convert_fid_inception.py's mapping), `gray.images` (2, 1, 28, 28) and `rgb.images`
  (2, 3, 32, 32) as bytes 0..255, and per set `<set>.pool` (N, 2048) and `<set>.logits` (N, 1008):
  pytorch-fid's preprocessing (gray repeated to 3 channels, x/255, bilinear resize to 299x299 with
  align_corners=False, 2x-1), run in float64 on the float32-rounded weights.
- frechet.safetensors: per case `<case>.mu1`, `.sigma1`, `.mu2`, `.sigma2` (F64) and
  `<case>.fd_pytorch_fid` (pytorch-fid's calculate_frechet_distance, scipy's sqrtm), plus
  `<case>.fd_exact` where an exact value is known by another route; `<case>.features1/2` (F32) when
  the statistics come from features (np.mean, np.cov rowvar=False).  Cases: `random` (well
  conditioned), `few_samples` (40 samples of 64-d features: singular covariances; exact value from
  the n x n problem X1 s2 X1^T / (n-1), which has the same nonzero eigenvalues as s1 s2) and
  `commuting` (eigenvalues from 1e-13 to 1e2 and exact zeros in shared eigenvectors, where
  tr sqrt(s1 s2) = sum sqrt(l1 l2)).
- kid_is.safetensors: `kid.features1` (130, 256), `kid.features2` (120, 256) and torch-fidelity's
  kid_features_to_metric with 100 subsets of 50 (`kid.mean`, `kid.std`, in float32 as torch-fidelity
  computes it, and `kid.mean64`, `kid.std64` from the same code on float64 features);
  `kid.mmd2_first` (polynomial_mmd of the first 50 rows of each, float64); `is.logits` (253, 1008)
  with isc_features_to_metric's `is.mean`, `is.std` (10 splits, shuffled with seed 2020) and
  `is.mean_noshuffle`, `is.std_noshuffle`.

pytorch-fid and torch-fidelity live in the .venv that tools/setup.sh makes; under another Python this
script re-runs itself there.  Without them no fid fixtures are written and test_fid.c skips the
reference checks, saying why.
"""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools"))
import st  # noqa: E402
import convert_fid_inception  # noqa: E402
import reference_venv  # noqa: E402


try:
    import pytorch_fid.fid_score as pfid_score
    import pytorch_fid.inception as pfid
    from torch_fidelity.metric_isc import isc_features_to_metric
    from torch_fidelity.metric_kid import kid_features_to_metric, polynomial_mmd
except ImportError:
    pfid = None


def preprocess(images):
    """pytorch-fid's input path from bytes: [0, 1], 3 channels (the 2x-1 and resize are the model's)."""
    x = images.double() / 255.0
    return x.repeat(1, 3, 1, 1) if x.shape[1] == 1 else x


def random_fid_inception(calibration):
    """fid_inception_v3() minus the download, with random weights and calibrated BatchNorm."""
    net = pfid._inception_v3(num_classes=1008, aux_logits=False, weights=None)
    net.Mixed_5b = pfid.FIDInceptionA(192, pool_features=32)
    net.Mixed_5c = pfid.FIDInceptionA(256, pool_features=64)
    net.Mixed_5d = pfid.FIDInceptionA(288, pool_features=64)
    net.Mixed_6b = pfid.FIDInceptionC(768, channels_7x7=128)
    net.Mixed_6c = pfid.FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6d = pfid.FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6e = pfid.FIDInceptionC(768, channels_7x7=192)
    net.Mixed_7b = pfid.FIDInceptionE_1(1280)
    net.Mixed_7c = pfid.FIDInceptionE_2(2048)
    gen = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for name, p in net.named_parameters():
            if name.endswith("bn.weight"):
                p.copy_(torch.rand(p.shape, generator=gen) + 0.5)
            elif name.endswith("bn.bias"):
                p.copy_(torch.rand(p.shape, generator=gen) * 0.4 - 0.1)
            else:  # conv and fc weights, fc bias: PyTorch's default ranges
                fan_in = p[0].numel() if p.dim() > 1 else 2048
                p.copy_((torch.rand(p.shape, generator=gen) * 2 - 1) / fan_in ** 0.5)
    # Running statistics = the statistics of the calibration batch at every layer (momentum None:
    # a cumulative average, which after one batch is that batch's).
    net.double().train()
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.momentum = None
    with torch.no_grad():
        x = F.interpolate(calibration, size=(299, 299), mode="bilinear", align_corners=False)
        net(2 * x - 1)
    # The runner computes in float32: the reference uses exactly the float32 weights.
    return {k: (v.float().double() if v.is_floating_point() else v) for k, v in net.state_dict().items()}


def inception_fixture(path):
    gen = torch.Generator().manual_seed(7)
    sets = {"gray": torch.randint(0, 256, (2, 1, 28, 28), generator=gen, dtype=torch.uint8),
            "rgb": torch.randint(0, 256, (2, 3, 32, 32), generator=gen, dtype=torch.uint8)}
    # Smooth images, as real ones are: a blurred copy of the noise keeps the values in 0..255.
    for k, v in sets.items():
        blurred = F.avg_pool2d(v.double(), 3, stride=1, padding=1, count_include_pad=False)
        sets[k] = blurred.round().to(torch.uint8)
    calibration = torch.cat([F.interpolate(preprocess(v), size=(32, 32), mode="bilinear", align_corners=False)
                             for v in sets.values()])
    state = random_fid_inception(calibration)
    saved_loader = pfid.load_state_dict_from_url
    pfid.load_state_dict_from_url = lambda *args, **kwargs: state  # the real constructor, our weights
    try:
        model = pfid.InceptionV3([pfid.InceptionV3.BLOCK_INDEX_BY_DIM[2048]], resize_input=True,
                                 normalize_input=True)
    finally:
        pfid.load_state_dict_from_url = saved_loader
    model.double().eval()
    tensors = convert_fid_inception.convert_state_dict({k: v.float() if v.is_floating_point() else v
                                                        for k, v in state.items()})
    with torch.no_grad():
        for name, images in sets.items():
            pool = model(preprocess(images))[0].flatten(1)
            tensors[f"{name}.images"] = images
            tensors[f"{name}.pool"] = pool
            tensors[f"{name}.logits"] = F.linear(pool, state["fc.weight"], state["fc.bias"])
    st.save(path, tensors, {"sets": "gray,rgb", "prefix": convert_fid_inception.PREFIX})


def stats(features):
    f = features.double().numpy()
    return np.mean(f, axis=0), np.cov(f, rowvar=False)


def frechet_fixture(path):
    rng = np.random.RandomState(11)
    tensors = {}

    def add(case, mu1, s1, mu2, s2, exact=None, f1=None, f2=None):
        for k, v in (("mu1", mu1), ("sigma1", s1), ("mu2", mu2), ("sigma2", s2)):
            tensors[f"{case}.{k}"] = torch.from_numpy(np.ascontiguousarray(v, dtype=np.float64))
        fd = pfid_score.calculate_frechet_distance(mu1, s1, mu2, s2)
        tensors[f"{case}.fd_pytorch_fid"] = torch.tensor(float(fd), dtype=torch.float64)
        if exact is not None:
            tensors[f"{case}.fd_exact"] = torch.tensor(float(exact), dtype=torch.float64)
        if f1 is not None:
            tensors[f"{case}.features1"], tensors[f"{case}.features2"] = f1, f2

    def features(n, d, shift):
        mix = rng.randn(d, d) / np.sqrt(d)
        return torch.from_numpy((rng.randn(n, d) @ mix + shift).astype(np.float32))

    d = 64
    f1, f2 = features(500, d, 0.5), features(400, d, 0.3 + 0.1 * rng.randn(d))
    add("random", *stats(f1), *stats(f2), f1=f1, f2=f2)

    f1, f2 = features(40, d, 0.2), features(40, d, 0.0)
    (mu1, s1), (mu2, s2) = stats(f1), stats(f2)
    x1 = f1.double().numpy() - mu1
    small = x1 @ s2 @ x1.T / (len(x1) - 1)
    tr = np.sqrt(np.clip(np.linalg.eigvalsh((small + small.T) / 2), 0, None)).sum()
    exact = ((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * tr
    add("few_samples", mu1, s1, mu2, s2, exact=exact, f1=f1, f2=f2)

    q, _ = np.linalg.qr(rng.randn(d, d))
    l1 = np.logspace(-13, 2, d)
    l2 = rng.permutation(np.logspace(-13, 2, d))
    l1[:3] = 0
    l2[-3:] = 0
    mu1, mu2 = rng.randn(d), rng.randn(d)
    exact = ((mu1 - mu2) ** 2).sum() + ((np.sqrt(l1) - np.sqrt(l2)) ** 2).sum()
    s1, s2 = (q * l1) @ q.T, (q * l2) @ q.T
    add("commuting", mu1, (s1 + s1.T) / 2, mu2, (s2 + s2.T) / 2, exact=exact)
    st.save(path, tensors, {"cases": "random,few_samples,commuting"})


def kid_is_fixture(path):
    gen = torch.Generator().manual_seed(13)
    f1 = torch.rand(130, 256, generator=gen)
    f2 = torch.rand(120, 256, generator=gen) * 0.9 + 0.08
    kw = dict(kid_subsets=100, kid_subset_size=50, kid_degree=3, kid_gamma=None, kid_coef0=1,
              verbose=False, rng_seed=2020)
    k32 = kid_features_to_metric(f1, f2, **kw)
    k64 = kid_features_to_metric(f1.double(), f2.double(), **kw)
    first = polynomial_mmd(f1[:50].double().numpy(), f2[:50].double().numpy(), 3, None, 1)
    logits = torch.randn(253, 1008, generator=gen) * 3
    shuffled = isc_features_to_metric(logits, splits=10, shuffle=True, rng_seed=2020)
    ordered = isc_features_to_metric(logits, splits=10, shuffle=False)
    scalar = lambda v: torch.tensor(float(v), dtype=torch.float64)  # noqa: E731
    st.save(path, {
        "kid.features1": f1, "kid.features2": f2,
        "kid.mean": scalar(k32["kernel_inception_distance_mean"]),
        "kid.std": scalar(k32["kernel_inception_distance_std"]),
        "kid.mean64": scalar(k64["kernel_inception_distance_mean"]),
        "kid.std64": scalar(k64["kernel_inception_distance_std"]),
        "kid.mmd2_first": scalar(first),
        "is.logits": logits,
        "is.mean": scalar(shuffled["inception_score_mean"]), "is.std": scalar(shuffled["inception_score_std"]),
        "is.mean_noshuffle": scalar(ordered["inception_score_mean"]),
        "is.std_noshuffle": scalar(ordered["inception_score_std"]),
    }, {"kid_subsets": "100", "kid_subset_size": "50", "seed": "2020", "is_splits": "10"})


def make(out_dir):
    d = os.path.join(out_dir, "fid")
    if pfid is None:
        reference_venv.make_there(__file__, out_dir, "pytorch-fid and torch-fidelity are")
        return
    os.makedirs(d, exist_ok=True)
    torch.set_num_threads(1)
    frechet_fixture(os.path.join(d, "frechet.safetensors"))
    kid_is_fixture(os.path.join(d, "kid_is.safetensors"))
    inception_fixture(os.path.join(d, "inception.safetensors"))


if __name__ == "__main__":
    make(sys.argv[1] if len(sys.argv) > 1 else "build/fixtures")
