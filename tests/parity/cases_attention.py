"""Parity cases for self_attention and self_attention_grad (graph/ops/attention.c): one head with
the default 1/sqrt(d) scale (Ho et al.'s DDPM block), several heads, a head of one channel, a given
scale, P = H W not a multiple of 8 (5 x 7), rows longer than a CUDA warp (9 x 9), one position,
inputs without gradients (so backward asks for a subset of q, k, v), and the gradient op alone.
Two formulations of the same attention serve as references, and each case checks that they agree:
batched matrix products over (N heads, d, P) blocks as the op computes them, and diffusers'
token layout (N, heads, P, d) with softmax(scale Q K^T) V; torch 1.13 has no
scaled_dot_product_attention to compare with."""
import math

import torch


def blocks_ref(q, k, v, heads, scale):
    n, c, h, w = q.shape
    b = [t.reshape(n * heads, c // heads, h * w) for t in (q, k, v)]
    a = torch.softmax(scale * torch.bmm(b[0].transpose(1, 2), b[1]), dim=-1)  # (B, P, P)
    return torch.bmm(b[2], a.transpose(1, 2)).reshape(n, c, h, w)


def tokens_ref(q, k, v, heads, scale):
    n, c, h, w = q.shape
    t = [x.reshape(n, heads, c // heads, h * w).transpose(2, 3) for x in (q, k, v)]  # (N, heads, P, d)
    a = torch.softmax(scale * t[0] @ t[1].transpose(2, 3), dim=-1)
    return (a @ t[2]).transpose(2, 3).reshape(n, c, h, w)


def attention(q, k, v, heads, scale):
    s = scale if scale else 1.0 / math.sqrt(q.shape[1] // heads)
    out = blocks_ref(q, k, v, heads, s)
    other = tokens_ref(q, k, v, heads, s)
    if not torch.allclose(out, other, rtol=1e-12, atol=1e-12):
        raise SystemExit("cases_attention.py: the two reference formulations disagree")
    return out


def attrs_of(heads, scale):
    return {"heads": heads, **({"scale": scale} if scale else {})}


def self_attention(name, shape, heads=1, scale=0.0, no_grad=()):
    return dict(name=name, op="self_attention", attrs=attrs_of(heads, scale), inputs=[shape] * 3,
                no_grad=list(no_grad), ref=lambda x, p: attention(x[0], x[1], x[2], heads, scale))


def self_attention_grad(name, shape, grads, heads=1, scale=0.0):
    def ref(x, p):  # dy, q, k, v -> the gradients `grads` names, stacked along the batch
        with torch.enable_grad():
            qkv = [t.detach().requires_grad_() for t in x[1:]]
            out = attention(*qkv, heads, scale)
            wrt = [qkv["qkv".index(c)] for c in grads]
            return torch.cat(torch.autograd.grad(out, wrt, x[0]), 0).detach()

    return dict(name=name, op="self_attention_grad", attrs={**attrs_of(heads, scale), "grads": grads},
                inputs=[shape] * 4, no_grad=[0, 1, 2, 3], ref=ref)


CASES = [
    self_attention("self_attention_one_head", (2, 6, 5, 7)),
    self_attention("self_attention_heads", (2, 8, 3, 5), heads=4),
    self_attention("self_attention_head_dim1_scale", (1, 3, 4, 3), heads=3, scale=0.7),
    self_attention("self_attention_long_rows", (1, 4, 9, 9), heads=2),
    self_attention("self_attention_one_position", (3, 4, 1, 1), heads=2),
    self_attention("self_attention_no_k_grad", (2, 4, 3, 3), heads=2, no_grad=[1]),
    self_attention("self_attention_only_v_grad", (2, 4, 2, 3), no_grad=[0, 1]),
    self_attention_grad("self_attention_grad_qkv", (2, 6, 5, 7), "qkv", heads=2),
    self_attention_grad("self_attention_grad_k", (1, 4, 3, 5), "k", scale=0.3),
    self_attention_grad("self_attention_grad_qv", (2, 2, 4, 5), "qv"),
]
