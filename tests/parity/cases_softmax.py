"""Parity cases for softmax, log_softmax, cross_entropy and their gradient ops (graph/ops/softmax.c):
the last dimension and inner ones, negative dims, batch 1, odd sizes, lines longer than a CUDA warp
(D = 70), label smoothing.  Targets are class indices drawn as integers; the logits share their
range (0 .. K-1), which keeps the probabilities away from 0 and 1."""
import torch
import torch.nn.functional as F


def softmax_cases(name, op, shape, dim):
    log = op == "log_softmax"
    fn = F.log_softmax if log else F.softmax
    backward = torch._log_softmax_backward_data if log else torch._softmax_backward_data
    return [dict(name=name, op=op, attrs={"dim": dim}, inputs=[shape], ref=lambda x, p: fn(x[0], dim=dim)),
            # (dy, y): PyTorch's own backward kernel, whose double backward is PyTorch's too
            dict(name=name + "_grad", op="softmax_grad", attrs={"dim": dim, "log": log}, inputs=[shape, shape],
                 ref=lambda x, p: backward(x[0], x[1], dim, torch.float64))]


def cross_entropy_cases(name, n, k, smoothing):
    attrs = {"label_smoothing": smoothing}
    loss = lambda x, t: F.cross_entropy(x, t.long(), label_smoothing=smoothing)  # noqa: E731

    def grad_ref(x, p):  # d(loss)/d(logits) scaled by the upstream dy, differentiable in both
        return torch.autograd.grad(loss(x[1], x[2]), x[1], x[0].reshape(()), create_graph=True)[0]

    return [dict(name=name, op="cross_entropy", attrs=attrs, inputs=[(n, k), (n,)], int_inputs=[1],
                 input_range=(0, k - 1), ref=lambda x, p: loss(x[0], x[1]).reshape(1)),
            dict(name=name + "_grad", op="cross_entropy_grad", attrs=attrs, inputs=[(1,), (n, k), (n,)],
                 int_inputs=[2], input_range=(0, k - 1), ref=grad_ref)]


def dim_sum(name, shape, dim):
    return dict(name=name, op="dim_sum", attrs={"dim": dim}, inputs=[shape],
                ref=lambda x, p: x[0].sum(dim, keepdim=True).expand_as(x[0]))


CASES = (
    softmax_cases("softmax_last", "softmax", (5, 7), -1)
    + softmax_cases("softmax_batch1", "softmax", (1, 10), 1)
    + softmax_cases("softmax_channels", "softmax", (2, 5, 3, 4), 1)
    + softmax_cases("softmax_long_lines", "softmax", (3, 70), -1)
    + softmax_cases("log_softmax_last", "log_softmax", (5, 7), -1)
    + softmax_cases("log_softmax_middle_neg", "log_softmax", (3, 4, 5), -2)
    + softmax_cases("log_softmax_long_lines", "log_softmax", (2, 70, 3), 1)
    + cross_entropy_cases("cross_entropy_plain", 6, 7, 0.0)
    + cross_entropy_cases("cross_entropy_batch1", 1, 3, 0.0)
    + cross_entropy_cases("cross_entropy_smoothing", 9, 10, 0.1)
    + cross_entropy_cases("cross_entropy_many_classes", 4, 70, 0.25)
    + [dim_sum("dim_sum_last", (3, 5), -1), dim_sum("dim_sum_middle", (2, 3, 4), 1),
       dim_sum("dim_sum_batch", (5, 2, 3), 0)]
)
