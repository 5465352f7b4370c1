"""Parity cases for conv2d, conv_transpose2d and the internal convolution gradients
(graph/ops/conv.c): odd batches, channels not multiples of 8, non-square images and kernels,
stride, padding, dilation, groups, output_padding."""
import torch
import torch.nn.functional as F


def pair(v):
    return tuple(v) if isinstance(v, (list, tuple)) else (v, v)


def conv_out(size, k, s, p, d):
    return tuple((size[i] + 2 * p[i] - d[i] * (k[i] - 1) - 1) // s[i] + 1 for i in range(2))


def geometry(attrs):
    return (pair(attrs["kernel"]), pair(attrs.get("stride", 1)), pair(attrs.get("padding", 0)),
            pair(attrs.get("dilation", 1)), attrs.get("groups", 1))


def conv2d(name, x, attrs):
    k, s, p, d, g = geometry(attrs)
    params = {"weight": (attrs["out"], x[1] // g) + k}
    if attrs.get("bias", True):
        params["bias"] = (attrs["out"],)
    return dict(name=name, op="conv2d", attrs=attrs, inputs=[x], params=params,
                ref=lambda xs, ps: F.conv2d(xs[0], ps["weight"], ps.get("bias"), s, p, d, g))


def conv_transpose2d(name, x, attrs):
    k, s, p, d, g = geometry(attrs)
    op = pair(attrs.get("output_padding", 0))
    params = {"weight": (x[1], attrs["out"] // g) + k}
    if attrs.get("bias", True):
        params["bias"] = (attrs["out"],)
    return dict(name=name, op="conv_transpose2d", attrs=attrs, inputs=[x], params=params,
                ref=lambda xs, ps: F.conv_transpose2d(xs[0], ps["weight"], ps.get("bias"), s, p, op, g, d))


def conv_grads(name, x, attrs):
    """conv2d_grad_input(dy, w, x_like) and conv2d_grad_weight(x, dy, w_like) of one geometry."""
    k, s, p, d, g = geometry(attrs)
    w = (attrs["out"], x[1] // g) + k
    y = (x[0], attrs["out"]) + conv_out(x[2:], k, s, p, d)
    return [
        dict(name=name + "_input", op="conv2d_grad_input", attrs=attrs, inputs=[y, w, x], no_grad=[2],
             ref=lambda xs, ps: torch.nn.grad.conv2d_input(x, xs[1], xs[0], s, p, d, g)),
        dict(name=name + "_weight", op="conv2d_grad_weight", attrs=attrs, inputs=[x, y, w], no_grad=[2],
             ref=lambda xs, ps: torch.nn.grad.conv2d_weight(xs[0], w, xs[1], s, p, d, g)),
    ]


CASES = [
    conv2d("conv2d_basic", (2, 3, 8, 8), {"out": 4, "kernel": 3, "padding": 1}),
    conv2d("conv2d_s2_odd", (3, 4, 9, 7), {"out": 5, "kernel": [3, 2], "stride": 2, "padding": 1}),
    conv2d("conv2d_batch1_nonsquare", (1, 5, 6, 11),
           {"out": 3, "kernel": [2, 4], "stride": [1, 2], "padding": [0, 1]}),
    conv2d("conv2d_groups_dilation", (2, 6, 9, 8),
           {"out": 9, "kernel": 3, "dilation": [2, 1], "padding": 2, "groups": 3}),
    conv2d("conv2d_depthwise_nobias", (3, 4, 7, 7),
           {"out": 4, "kernel": 3, "padding": 1, "groups": 4, "bias": False}),
    conv2d("conv2d_pointwise", (3, 5, 4, 6), {"out": 7, "kernel": 1}),
    conv2d("conv2d_pointwise_strided", (2, 3, 5, 7), {"out": 2, "kernel": 1, "stride": 2, "padding": 1}),
    conv2d("conv2d_k4_s2", (2, 1, 12, 10), {"out": 6, "kernel": 4, "stride": 2, "padding": 1}),
    conv_transpose2d("conv_transpose2d_basic", (2, 4, 5, 5),
                     {"out": 3, "kernel": 3, "stride": 2, "padding": 1, "output_padding": 1}),
    conv_transpose2d("conv_transpose2d_groups", (3, 6, 4, 5),
                     {"out": 4, "kernel": [3, 2], "stride": [2, 3], "padding": [1, 0],
                      "dilation": [1, 2], "output_padding": [1, 2], "groups": 2}),
    conv_transpose2d("conv_transpose2d_batch1_nobias", (1, 3, 3, 4),
                     {"out": 5, "kernel": 2, "stride": 2, "bias": False}),
    conv_transpose2d("conv_transpose2d_stride1", (2, 2, 6, 3), {"out": 3, "kernel": [3, 1], "padding": [1, 0]}),
] + conv_grads("conv2d_grad_s2", (3, 4, 9, 7), {"out": 5, "kernel": [3, 2], "stride": 2, "padding": 1}) \
  + conv_grads("conv2d_grad_groups", (2, 6, 8, 9),
               {"out": 4, "kernel": 3, "dilation": [1, 2], "padding": [1, 2], "groups": 2}) \
  + conv_grads("conv2d_grad_pointwise", (1, 5, 3, 4), {"out": 3, "kernel": 1})
