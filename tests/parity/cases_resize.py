"""Parity cases for resize and resize_grad (graph/ops/resize.c) against F.interpolate: bilinear
(align_corners false and true) by size and by scale_factor, up and down, including the FID
Inception's 28x28 and 32x32 -> 299x299; nearest (PyTorch's legacy mode) by scale_factor 2 (the
DDPM upsample), by non-integer factors and sizes, up and down."""
import torch
import torch.nn.functional as F


def interpolate(attrs):
    size, factor = attrs.get("size"), attrs.get("scale_factor")
    mode = attrs.get("mode", "nearest")
    corners = attrs.get("align_corners", False) if mode == "bilinear" else None
    size = tuple(size) if isinstance(size, list) else (size, size) if size else None
    return lambda t: F.interpolate(t, size=size, scale_factor=factor, mode=mode, align_corners=corners)


def resize(name, x, attrs):
    fn = interpolate(attrs)
    y = tuple(fn(torch.zeros(x, dtype=torch.float64)).shape)

    def adjoint(xs, p):
        z = torch.zeros(x, dtype=torch.float64, requires_grad=True)  # linear: any point will do
        with torch.enable_grad():
            return torch.autograd.grad(fn(z), z, xs[0], create_graph=True)[0]
    return [dict(name=name, op="resize", attrs=attrs, inputs=[x], ref=lambda xs, p: fn(xs[0])),
            dict(name=name + "_grad", op="resize_grad", attrs=attrs, inputs=[y, x], no_grad=[1], ref=adjoint)]


CASES = (
    resize("resize_bilinear_fid_mnist", (3, 1, 28, 28), {"mode": "bilinear", "size": 299})
    + resize("resize_bilinear_fid_cifar", (1, 3, 32, 32), {"mode": "bilinear", "size": [299, 299]})
    + resize("resize_bilinear_down", (3, 5, 9, 7), {"mode": "bilinear", "size": [4, 5]})
    + resize("resize_bilinear_mixed", (2, 3, 6, 11), {"mode": "bilinear", "size": [13, 4]})
    + resize("resize_bilinear_scale2", (2, 3, 5, 4), {"mode": "bilinear", "scale_factor": 2})
    + resize("resize_bilinear_scale1_5", (1, 2, 5, 7), {"mode": "bilinear", "scale_factor": 1.5})
    + resize("resize_bilinear_scale0_6", (3, 3, 9, 11), {"mode": "bilinear", "scale_factor": 0.6})
    + resize("resize_bilinear_corners", (2, 3, 4, 6), {"mode": "bilinear", "size": [7, 9], "align_corners": True})
    + resize("resize_bilinear_corners_down", (1, 5, 9, 8),
             {"mode": "bilinear", "size": [4, 1], "align_corners": True})
    + resize("resize_nearest_scale2", (3, 4, 5, 6), {"mode": "nearest", "scale_factor": 2})
    + resize("resize_nearest_size", (2, 3, 5, 4), {"mode": "nearest", "size": [7, 10]})
    + resize("resize_nearest_down", (1, 3, 9, 8), {"mode": "nearest", "size": [4, 3]})
    + resize("resize_nearest_scale1_7", (1, 2, 5, 3), {"mode": "nearest", "scale_factor": 1.7})
    + resize("resize_nearest_default_mode", (3, 5, 3, 4), {"size": [6, 8]})
)
