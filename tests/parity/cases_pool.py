"""Parity cases for max_pool2d, avg_pool2d, adaptive_avg_pool2d and their gradient ops
(graph/ops/pool.c): odd and non-square sizes, batch 1 and 3, channels not multiples of 8, padding,
dilation, ceil_mode, count_include_pad both ways, and the FID Inception's pools (max k3 s2,
max k3 s1 p1, avg k3 s1 p1 without padding in the count, adaptive to 1x1).  Random inputs have
no ties, so every window has one argmax, except in max_pool2d_ties_grad, whose integer inputs
check that the first maximum in window order takes the gradient."""
import torch
import torch.nn.functional as F


def pair(v):
    return tuple(v) if isinstance(v, (list, tuple)) else (v, v)


def max_args(attrs):
    k = pair(attrs["kernel"])
    s = pair(attrs.get("stride", 0))
    return dict(kernel_size=k, stride=tuple(s[i] or k[i] for i in range(2)), padding=pair(attrs.get("padding", 0)),
                dilation=pair(attrs.get("dilation", 1)), ceil_mode=attrs.get("ceil_mode", False))


def avg_args(attrs):
    a = max_args(attrs)
    del a["dilation"]
    a["count_include_pad"] = attrs.get("count_include_pad", True)
    return a


def pooled_shape(fn, x):
    return tuple(fn(torch.zeros(x, dtype=torch.float64)).shape)


def input_grad(fn, x_of):
    """Reference of a gradient op (dy, x or x_like): autograd of fn at x, differentiable in dy."""
    def ref(xs, p):
        z = x_of(xs).detach().requires_grad_()
        with torch.enable_grad():
            return torch.autograd.grad(fn(z), z, xs[0], create_graph=True)[0]
    return ref


def max_pool(name, x, attrs):
    fn = lambda t: F.max_pool2d(t, **max_args(attrs))  # noqa: E731
    return [dict(name=name, op="max_pool2d", attrs=attrs, inputs=[x], ref=lambda xs, p: fn(xs[0])),
            dict(name=name + "_grad", op="max_pool2d_grad", attrs=attrs, inputs=[pooled_shape(fn, x), x],
                 no_grad=[0, 1], fd=False, ref=input_grad(fn, lambda xs: xs[1]))]


def linear_pool(name, op, fn, x, attrs):
    """A linear pool and its adjoint (dy, x_like); the adjoint's own gradient is the pool."""
    zeros = lambda xs: torch.zeros(x, dtype=torch.float64)  # noqa: E731  (linear: any point will do)
    return [dict(name=name, op=op, attrs=attrs, inputs=[x], ref=lambda xs, p: fn(xs[0])),
            dict(name=name + "_grad", op=op + "_grad", attrs=attrs, inputs=[pooled_shape(fn, x), x],
                 no_grad=[1], ref=input_grad(fn, zeros))]


def avg_pool(name, x, attrs):
    return linear_pool(name, "avg_pool2d", lambda t: F.avg_pool2d(t, **avg_args(attrs)), x, attrs)


def adaptive(name, x, size):
    return linear_pool(name, "adaptive_avg_pool2d", lambda t: F.adaptive_avg_pool2d(t, pair(size)), x,
                       {"output_size": size})


CASES = (
    max_pool("max_pool2d_k2", (3, 5, 8, 6), {"kernel": 2})
    + max_pool("max_pool2d_k3_s2_odd", (2, 3, 9, 7), {"kernel": 3, "stride": 2})
    + max_pool("max_pool2d_k3_s1_p1", (1, 4, 7, 5), {"kernel": 3, "stride": 1, "padding": 1})
    + max_pool("max_pool2d_ceil", (3, 3, 8, 7), {"kernel": 3, "stride": 2, "ceil_mode": True})
    + max_pool("max_pool2d_ceil_pad_nonsquare", (1, 3, 6, 9),
               {"kernel": [2, 3], "stride": 2, "padding": 1, "ceil_mode": True})
    + max_pool("max_pool2d_dilation", (2, 5, 9, 10),
               {"kernel": [3, 2], "stride": [2, 1], "padding": 1, "dilation": [2, 1]})
    + [dict(name="max_pool2d_ties_grad", op="max_pool2d_grad", attrs={"kernel": 3, "stride": 1, "padding": 1},
            inputs=[(2, 3, 6, 5), (2, 3, 6, 5)], int_inputs=[1], input_range=(-2, 2), no_grad=[0], fd=False,
            ref=input_grad(lambda t: F.max_pool2d(t, 3, 1, 1), lambda xs: xs[1]))]
    + avg_pool("avg_pool2d_k2", (3, 5, 8, 6), {"kernel": 2})
    + avg_pool("avg_pool2d_k3_s1_p1_exclude_pad", (2, 3, 7, 5),
               {"kernel": 3, "stride": 1, "padding": 1, "count_include_pad": False})
    + avg_pool("avg_pool2d_k3_s1_p1_include_pad", (1, 4, 6, 7), {"kernel": 3, "stride": 1, "padding": 1})
    + avg_pool("avg_pool2d_ceil_exclude_pad", (3, 3, 8, 7),
               {"kernel": 3, "stride": 2, "padding": 1, "ceil_mode": True, "count_include_pad": False})
    + avg_pool("avg_pool2d_ceil_include_pad_nonsquare", (1, 5, 9, 10),
               {"kernel": [3, 2], "stride": [2, 3], "padding": 1, "ceil_mode": True})
    + avg_pool("avg_pool2d_ceil_overhang", (2, 3, 5, 6), {"kernel": 3, "stride": 2, "ceil_mode": True})
    + adaptive("adaptive_avg_pool2d_global", (3, 5, 8, 6), 1)
    + adaptive("adaptive_avg_pool2d_uneven", (2, 3, 9, 7), [4, 3])
    + adaptive("adaptive_avg_pool2d_larger", (1, 4, 5, 5), [7, 6])
    + adaptive("adaptive_avg_pool2d_divisible", (3, 2, 10, 10), 5)
)
