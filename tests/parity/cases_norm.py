"""Parity cases for batch normalisation (graph/ops/norm.c): BatchNorm1d on (N, C) and
(N, C, L), BatchNorm2d on non-square images, training (running statistics updated in place) and
evaluation, without affine or running statistics; and batchnorm_grad against autograd.  Then layer
normalisation (graph/ops/layernorm.c) and group normalisation (graph/ops/groupnorm.c: one group,
one group per channel, 2- to 5-d inputs, a group wider than the kernels' channel blocks)."""
import torch
import torch.nn.functional as F

BUFFERS = ["running_mean", "running_var", "num_batches_tracked"]


def params(C, affine=True, track=True):
    p = {}
    if affine:
        p.update(weight=(C,), bias=(C,))
    if track:
        p.update(running_mean=(C,), running_var=(C,), num_batches_tracked=())
    return p


def bn_ref(training, momentum=0.1, eps=1e-5):
    def ref(x, p):
        if training and "num_batches_tracked" in p:
            p["num_batches_tracked"].add_(1)
        return F.batch_norm(x[0], p.get("running_mean"), p.get("running_var"), p.get("weight"),
                            p.get("bias"), training or "running_mean" not in p, momentum, eps)
    return ref


def bn(name, op, shape, training=True, affine=True, track=True, attrs=None, momentum=0.1, eps=1e-5):
    attrs = dict(attrs or {})
    if not affine:
        attrs["affine"] = False
    if not track:
        attrs["track_running_stats"] = False
    return dict(name=name, op=op, attrs=attrs, inputs=[shape], params=params(shape[1], affine, track),
                training=training, ref=bn_ref(training, momentum, eps),
                buffers_after=BUFFERS if track else [])


def bn_grad(name, output, shape, training, affine=True):
    """batchnorm_grad(dy, x, [weight], running_mean, running_var): autograd of F.batch_norm."""
    C = shape[1]
    inputs = [shape, shape] + ([(C,)] if affine else []) + [(C,), (C,)]

    def ref(xs, p):
        dy, x = xs[0], xs[1].detach().requires_grad_()
        w = xs[2].detach().requires_grad_() if affine else None
        b = torch.zeros(C, dtype=torch.float64, requires_grad=True)
        rm, rv = xs[-2].clone(), xs[-1].clone()
        with torch.enable_grad():
            y = F.batch_norm(x, rm, rv, w, b, training, 0.1, 1e-5)
            want = {"input": x, "weight": w, "bias": b}[output]
            return torch.autograd.grad(y, want, dy)[0]
    return dict(name=name, op="batchnorm_grad", attrs={"output": output, "affine": affine},
                inputs=inputs, training=training, input_range=(0.5, 1.5),
                no_grad=list(range(len(inputs))), fd=False, ref=ref)


CASES = [
    bn("batchnorm1d_train", "batchnorm1d", (5, 13)),
    bn("batchnorm1d_train_batch3_len", "batchnorm1d", (3, 6, 5)),
    bn("batchnorm1d_eval", "batchnorm1d", (3, 10), training=False),
    bn("batchnorm1d_no_affine", "batchnorm1d", (4, 7), affine=False),
    bn("batchnorm1d_momentum", "batchnorm1d", (1, 3, 9), attrs={"momentum": 0.3, "eps": 1e-3},
       momentum=0.3, eps=1e-3),
    bn("batchnorm2d_train", "batchnorm2d", (3, 5, 6, 4)),
    bn("batchnorm2d_train_batch1", "batchnorm2d", (1, 3, 5, 7)),
    bn("batchnorm2d_eval", "batchnorm2d", (2, 6, 3, 5), training=False),
    bn("batchnorm2d_no_stats", "batchnorm2d", (3, 4, 3, 3), track=False),
    bn("batchnorm2d_no_stats_eval", "batchnorm2d", (3, 4, 3, 3), track=False, training=False),
    bn_grad("batchnorm_grad_input_train", "input", (3, 5, 4, 3), True),
    bn_grad("batchnorm_grad_weight_train", "weight", (3, 5, 4, 3), True),
    bn_grad("batchnorm_grad_bias_train", "bias", (3, 5, 4, 3), True),
    bn_grad("batchnorm_grad_input_eval", "input", (3, 6), False),
    bn_grad("batchnorm_grad_weight_eval", "weight", (3, 6, 2), False),
    bn_grad("batchnorm_grad_input_no_affine", "input", (4, 3), True, affine=False),
]


def ln(name, shape, k, affine=True, eps=1e-5):
    ns = list(shape[-k:])
    attrs = {"normalized_shape": ns}
    if not affine:
        attrs["elementwise_affine"] = False
    if eps != 1e-5:
        attrs["eps"] = eps
    return dict(name=name, op="layer_norm", attrs=attrs, inputs=[shape],
                params={"weight": tuple(ns), "bias": tuple(ns)} if affine else {},
                ref=lambda x, p: F.layer_norm(x[0], ns, p.get("weight"), p.get("bias"), eps))


def ln_grad(name, shape, k):
    """layer_norm_grad(g, x): autograd of F.layer_norm, kept differentiable (create_graph) so
    that its own gradients, the second derivatives of layer norm, are checked too."""
    ns = list(shape[-k:])

    def ref(xs, p):
        y = F.layer_norm(xs[1], ns, eps=1e-5)
        return torch.autograd.grad(y, xs[1], xs[0], create_graph=True)[0]
    return dict(name=name, op="layer_norm_grad", attrs={"dims": k}, inputs=[shape, shape], ref=ref)


def ln_rstd(name, shape, k):
    dims = list(range(len(shape) - k, len(shape)))
    return dict(name=name, op="layer_norm_rstd", attrs={"dims": k}, inputs=[shape],
                ref=lambda x, p: (x[0].var(dims, unbiased=False) + 1e-5).rsqrt())


def rows_sum_ref(k, axes, alpha):
    def ref(x, p):
        n = x[0].dim()
        dims = list(range(n - k, n)) if axes == "rows" else list(range(n - k))
        return alpha * x[0].sum(dims)
    return ref


def rows_expand_ref(k, axes, alpha, like):
    def ref(x, p):
        s = x[0]
        if axes == "rows":
            s = s.reshape(tuple(s.shape) + (1,) * k)
        return alpha * s.expand(like)
    return ref


CASES += [
    ln("layer_norm_2d", (3, 10), 1),
    ln("layer_norm_chw", (3, 4, 5, 3), 3),
    ln("layer_norm_hw_batch1", (1, 3, 5, 4), 2, eps=1e-3),
    ln("layer_norm_no_affine", (5, 2, 7), 1, affine=False),
    ln_grad("layer_norm_grad_2d", (3, 6), 1),
    ln_grad("layer_norm_grad_chw", (3, 2, 4, 3), 3),
    ln_rstd("layer_norm_rstd_2d", (3, 7), 1),
    ln_rstd("layer_norm_rstd_hw", (3, 2, 3, 4), 2),
    dict(name="row_sum_rows", op="row_sum", attrs={"dims": 2, "axes": "rows", "alpha": 0.5},
         inputs=[(3, 2, 4, 5)], ref=rows_sum_ref(2, "rows", 0.5)),
    dict(name="row_sum_cols", op="row_sum", attrs={"dims": 1, "axes": "cols"},
         inputs=[(3, 7)], ref=rows_sum_ref(1, "cols", 1.0)),
    dict(name="row_expand_rows", op="row_expand", attrs={"dims": 2, "axes": "rows", "alpha": -2.0},
         inputs=[(3, 2), (3, 2, 4, 5)], no_grad=[1], ref=rows_expand_ref(2, "rows", -2.0, (3, 2, 4, 5))),
    dict(name="row_expand_cols", op="row_expand", attrs={"dims": 3, "axes": "cols"},
         inputs=[(4, 3, 2), (3, 4, 3, 2)], no_grad=[1], ref=rows_expand_ref(3, "cols", 1.0, (3, 4, 3, 2))),
]


def gn(name, shape, groups, affine=True, eps=1e-5, no_grad=()):
    attrs = {"groups": groups}
    if not affine:
        attrs["affine"] = False
    if eps != 1e-5:
        attrs["eps"] = eps
    C = shape[1]
    return dict(name=name, op="group_norm", attrs=attrs, inputs=[shape], no_grad=list(no_grad),
                params={"weight": (C,), "bias": (C,)} if affine else {},
                ref=lambda x, p: F.group_norm(x[0], groups, p.get("weight"), p.get("bias"), eps))


def gn_grad(name, output, shape, groups, affine=True):
    """group_norm_grad(dy, x, [weight]) recomputing the statistics: autograd of F.group_norm."""
    C = shape[1]
    inputs = [shape, shape] + ([(C,)] if affine else [])

    def ref(xs, p):
        dy, x = xs[0], xs[1].detach().requires_grad_()
        w = xs[2].detach().requires_grad_() if affine else torch.ones(C, dtype=torch.float64, requires_grad=True)
        b = torch.zeros(C, dtype=torch.float64, requires_grad=True)
        with torch.enable_grad():
            y = F.group_norm(x, groups, w, b, 1e-5)
            return torch.autograd.grad(y, {"input": x, "weight": w, "bias": b}[output], dy)[0]
    return dict(name=name, op="group_norm_grad", attrs={"output": output, "groups": groups, "affine": affine},
                inputs=inputs, no_grad=list(range(len(inputs))), fd=False, ref=ref)


CASES += [
    gn("group_norm_4d", (3, 6, 5, 4), 3),
    gn("group_norm_groups1", (2, 5, 3, 7), 1),
    gn("group_norm_groups_c", (3, 4, 6, 5), 4),
    gn("group_norm_3d", (4, 6, 9), 2),
    gn("group_norm_vectors", (5, 8), 4),
    gn("group_norm_5d", (2, 4, 3, 2, 3), 2),
    gn("group_norm_no_affine", (2, 6, 4, 4), 3, affine=False, eps=1e-3),
    gn("group_norm_large", (4, 64, 12, 12), 8),
    gn("group_norm_wide_group", (2, 300, 1, 3), 1),
    gn("group_norm_params_only", (3, 6, 4, 2), 2, no_grad=[0]),  # no dx: each parameter's own pass
    gn_grad("group_norm_grad_input", "input", (3, 6, 4, 3), 3),
    gn_grad("group_norm_grad_weight", "weight", (2, 6, 5), 2),
    gn_grad("group_norm_grad_bias", "bias", (3, 8, 2, 3), 4),
    gn_grad("group_norm_grad_weight_wide_group", "weight", (2, 300, 1, 3), 1),
    gn_grad("group_norm_grad_input_no_affine", "input", (4, 4, 3), 4, affine=False),
]
