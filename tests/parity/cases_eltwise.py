"""Parity cases for elementwise ops (graph/ops/eltwise.c, graph/ops/activation.c): add, sub, mul,
scale, full_like, every activation and their gradient op unary_grad (whose own gradients are
checked against PyTorch's second derivatives)."""
import torch
import torch.nn.functional as F

POSITIVE = (0.5, 2.0)  # log and sqrt (and their derivatives) need x > 0

ACTIVATIONS = {
    "relu": (torch.relu, None),
    "leaky_relu": (lambda x: F.leaky_relu(x, 0.01), None),
    "tanh": (torch.tanh, None),
    "sigmoid": (torch.sigmoid, None),
    "silu": (F.silu, (-3.0, 3.0)),
    "gelu": (F.gelu, (-3.0, 3.0)),
    "softplus": (F.softplus, (-4.0, 4.0)),
    "exp": (torch.exp, None),
    "log": (torch.log, POSITIVE),
    "square": (torch.square, None),
    "sqrt": (torch.sqrt, POSITIVE),
    "abs": (torch.abs, None),
}

# unary_grad(dy, x, y) = dy * f'(.), written from x or from y exactly as the op computes it.
GRADS = {
    "relu": lambda dy, x, y: dy * (x > 0).double(),
    "leaky_relu": lambda dy, x, y: torch.where(x > 0, dy, 0.2 * dy),
    "abs": lambda dy, x, y: dy * torch.sign(x),
    "tanh": lambda dy, x, y: dy * (1 - y * y),
    "sigmoid": lambda dy, x, y: dy * y * (1 - y),
    "exp": lambda dy, x, y: dy * y,
    "sqrt": lambda dy, x, y: dy / (2 * y),
    "square": lambda dy, x, y: 2 * x * dy,
    "log": lambda dy, x, y: dy / x,
    "softplus": lambda dy, x, y: dy * torch.sigmoid(x),
    "silu": lambda dy, x, y: dy * torch.sigmoid(x) * (1 + x * (1 - torch.sigmoid(x))),
}


def activation_cases():
    shapes = [(3, 7), (1, 5, 4, 3)]
    out = []
    for op, (fn, rng) in ACTIVATIONS.items():
        for k, shape in enumerate(shapes):
            case = dict(name=f"{op}_{k}", op=op, inputs=[shape], ref=lambda x, p, fn=fn: fn(x[0]))
            if rng:
                case["input_range"] = rng
            out.append(case)
    out.append(dict(name="leaky_relu_slope", op="leaky_relu", attrs={"negative_slope": 0.2},
                    inputs=[(2, 9)], ref=lambda x, p: F.leaky_relu(x[0], 0.2)))
    for kind, fn in GRADS.items():
        rng = ACTIVATIONS[kind][1]
        attrs = {"kind": kind}
        if kind == "leaky_relu":
            attrs["alpha"] = 0.2
        case = dict(name=f"unary_grad_{kind}", op="unary_grad", attrs=attrs,
                    inputs=[(3, 5), (3, 5), (3, 5)], ref=lambda x, p, fn=fn: fn(*x))
        if rng:
            case["input_range"] = rng
        out.append(case)
    return out


CASES = [
    dict(name="add_2d", op="add", inputs=[(3, 17), (3, 17)], ref=lambda x, p: x[0] + x[1]),
    dict(name="add_4d", op="add", inputs=[(1, 3, 5, 4), (1, 3, 5, 4)], ref=lambda x, p: x[0] + x[1]),
    dict(name="sub_3d", op="sub", inputs=[(3, 2, 7), (3, 2, 7)], ref=lambda x, p: x[0] - x[1]),
    dict(name="mul_2d", op="mul", inputs=[(5, 11), (5, 11)], ref=lambda x, p: x[0] * x[1]),
    dict(name="mul_4d", op="mul", inputs=[(3, 3, 2, 5), (3, 3, 2, 5)], ref=lambda x, p: x[0] * x[1]),
    dict(name="scale_alpha", op="scale", attrs={"alpha": -2.5}, inputs=[(3, 6)],
         ref=lambda x, p: -2.5 * x[0]),
    dict(name="scale_shift", op="scale", attrs={"alpha": 0.5, "shift": 1.25}, inputs=[(1, 2, 3, 5)],
         ref=lambda x, p: 0.5 * x[0] + 1.25),
    dict(name="full_like_value", op="full_like", attrs={"value": 1.5}, inputs=[(3, 4)],
         ref=lambda x, p: torch.full_like(x[0], 1.5)),
] + activation_cases()
