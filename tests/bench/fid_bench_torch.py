"""PyTorch's side of `runner fid --bench`: images per second of pytorch-fid's FID Inception feature
extraction (28x28 gray images repeated to RGB, resized to 299x299 inside the model, as pytorch-fid
runs them) and the time of pytorch-fid's calculate_frechet_distance (scipy's sqrtm) on 2048-d
statistics.

    .venv/bin/python tests/bench/fid_bench_torch.py [--threads N] [--batch N] [--images N]

Runs under the .venv of tools/setup.sh (pytorch-fid), with random weights: the time does not depend
on the values.  Prints lines in the same form as `runner fid --bench`.
"""
import sys
import time

import numpy as np
import torch

from torch_timing import PARITY_DIR, bench_options

sys.path.insert(0, PARITY_DIR)


def main():
    a = bench_options(batch=16, images=64)
    import pytorch_fid.fid_score as fid_score
    import pytorch_fid.inception as pfid
    import fid_reference

    gen = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (a.images, 1, 28, 28), generator=gen, dtype=torch.uint8)
    state = fid_reference.random_fid_inception(fid_reference.preprocess(images[:4]))
    state = {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
    saved = pfid.load_state_dict_from_url
    pfid.load_state_dict_from_url = lambda *args, **kwargs: state
    try:
        model = pfid.InceptionV3([pfid.InceptionV3.BLOCK_INDEX_BY_DIM[2048]]).eval()
    finally:
        pfid.load_state_dict_from_url = saved

    def run(x):
        with torch.no_grad():
            for i in range(0, len(x), a.batch):
                model(fid_reference.preprocess(x[i:i + a.batch]).float())

    run(images[:a.batch])  # warm-up
    t0 = time.perf_counter()
    run(images)
    t_feat = time.perf_counter() - t0

    rng = np.random.RandomState(0)
    feats = rng.rand(10000, 2048).astype(np.float32)
    t0 = time.perf_counter()
    mu1, s1 = np.mean(feats, axis=0), np.cov(feats, rowvar=False)
    t_stats = time.perf_counter() - t0
    mu2, s2 = np.mean(feats[:5000], axis=0), np.cov(feats[:5000], rowvar=False)
    t0 = time.perf_counter()
    fid_score.calculate_frechet_distance(mu1, s1, mu2, s2)
    t_fd = time.perf_counter() - t0
    print(f"fid_bench_torch: torch {torch.__version__}, {a.threads} threads")
    print(f"inception_images_per_s: {a.images / t_feat:.2f} ({a.images} images 28x28 gray -> 299x299, batch {a.batch})")
    print(f"stats_10000x2048_ms: {1e3 * t_stats:.1f}")
    print(f"frechet_2048d_ms: {1e3 * t_fd:.1f}")


if __name__ == "__main__":
    main()
