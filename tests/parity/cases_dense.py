"""Parity cases for linear and the internal ops behind its gradients (graph/ops/dense.c)."""
import torch
import torch.nn.functional as F


def linear(name, shape, out, bias=True):
    params = {"weight": (out, shape[-1])}
    if bias:
        params["bias"] = (out,)
    return dict(name=name, op="linear", attrs={"out": out, "bias": bias}, inputs=[shape], params=params,
                ref=lambda x, p: F.linear(x[0], p["weight"], p.get("bias")))


def mat(t, trans):
    m = t.reshape(-1, t.shape[-1])  # the op reads every operand as (numel / last, last)
    return m.t() if trans else m


def matmul(name, a, b, ta=False, tb=False, like=None):
    inputs = [a, b] + ([like] if like else [])

    def ref(x, p):
        y = mat(x[0], ta) @ mat(x[1], tb)
        if like:
            return y.reshape(like)
        return y.reshape(*a[:-1], y.shape[-1]) if not ta else y
    return dict(name=name, op="matmul", attrs={"trans_a": ta, "trans_b": tb}, inputs=inputs,
                no_grad=[2] if like else [], ref=ref)


def channel_dims(ndim, axis):
    return tuple(d for d in range(ndim) if d != axis % ndim)


def channel_sum(name, shape, axis=None):
    attrs = {} if axis is None else {"axis": axis}
    keep = 1 if axis is None else axis
    return dict(name=name, op="channel_sum", attrs=attrs, inputs=[shape],
                ref=lambda x, p: x[0].sum(channel_dims(len(shape), keep)))


def channel_broadcast(name, shape, axis=None):
    attrs = {} if axis is None else {"axis": axis}
    keep = (1 if axis is None else axis) % len(shape)
    view = [1] * len(shape)
    view[keep] = shape[keep]
    return dict(name=name, op="channel_broadcast", attrs=attrs, inputs=[(shape[keep],), shape],
                no_grad=[1], ref=lambda x, p: x[0].reshape(view).expand(shape).contiguous())


CASES = [
    linear("linear_basic", (4, 7), 5),
    linear("linear_batch1", (1, 3), 2),
    linear("linear_odd_nobias", (3, 6), 9, bias=False),
    linear("linear_3d_input", (2, 3, 5), 4),
    linear("linear_wide", (5, 37), 13),
    matmul("matmul_nn", (4, 3), (3, 5)),
    matmul("matmul_nt", (4, 3), (5, 3), tb=True),
    matmul("matmul_tn", (3, 4), (3, 5), ta=True),
    matmul("matmul_tt", (3, 4), (5, 3), ta=True, tb=True),
    matmul("matmul_3d_a", (2, 3, 4), (4, 5)),
    matmul("matmul_3d_a_trans", (2, 3, 4), (6, 5), ta=True),
    matmul("matmul_like", (6, 5), (5, 2), like=(3, 2, 2)),
    channel_sum("channel_sum_4d", (3, 5, 4, 2)),
    channel_sum("channel_sum_2d", (5, 7)),
    channel_sum("channel_sum_last", (2, 3, 4), axis=-1),
    channel_broadcast("channel_broadcast_4d", (3, 5, 2, 3)),
    channel_broadcast("channel_broadcast_last", (2, 3, 4), axis=-1),
]
