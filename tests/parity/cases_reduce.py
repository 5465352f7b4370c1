"""Parity cases for reductions (graph/ops/reduce.c): sum, mean and their adjoint expand_scalar."""
import torch


def expand(alpha, shape):
    return lambda x, p: (alpha * x[0]).reshape([1] * len(shape)).expand(shape)


CASES = [
    dict(name="sum_2d", op="sum", inputs=[(3, 7)], ref=lambda x, p: x[0].sum().reshape(1)),
    dict(name="sum_4d", op="sum", inputs=[(1, 3, 5, 2)], ref=lambda x, p: x[0].sum().reshape(1)),
    dict(name="mean_2d", op="mean", inputs=[(5, 1)], ref=lambda x, p: x[0].mean().reshape(1)),
    dict(name="mean_4d", op="mean", inputs=[(3, 2, 7, 3)], ref=lambda x, p: x[0].mean().reshape(1)),
    dict(name="expand_scalar_sum", op="expand_scalar", inputs=[(1,), (3, 4)], no_grad=[1],
         ref=expand(1.0, (3, 4))),
    dict(name="expand_scalar_mean", op="expand_scalar", attrs={"alpha": 0.125}, inputs=[(1,), (2, 2, 2)],
         no_grad=[1], ref=expand(0.125, (2, 2, 2))),
]
