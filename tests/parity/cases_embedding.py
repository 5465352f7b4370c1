"""Parity cases for the embeddings (graph/ops/embedding.c): time_embedding against diffusers' own
get_timestep_embedding (run under the .venv: tests/parity/diffusers_call.py) at timesteps up to
999, odd and even sizes, both orders, both frequency shifts; embedding against F.embedding with
repeated ids, and its table gradient embedding_grad."""
import torch
import torch.nn.functional as F

from diffusers_call import call

# diffusers computes t * f_i in float32 after a float32 exp that may be an ulp from the correctly
# rounded value ours uses: near t = 999 each of the two moves the argument by up to 6e-5.
TIME_ATOL = 2e-4


def time_embedding(name, n, dim, flat=False, **kw):
    attrs = dict(dim=dim, **kw)

    def ref(x, p):
        return call("get_timestep_embedding", x[0].reshape(-1), embedding_dim=dim, **kw).double()
    return dict(name=name, op="time_embedding", attrs=attrs, inputs=[(n,) if flat else (n, 1)],
                int_inputs=[0], input_range=(0, 999), atol=TIME_ATOL, ref=ref)


def embedding(name, n, num, dim, flat=False):
    def ref(x, p):
        return F.embedding(x[0].reshape(-1).long(), p["weight"])
    return dict(name=name, op="embedding", attrs={"num": num, "dim": dim}, inputs=[(n,) if flat else (n, 1)],
                params={"weight": (num, dim)}, int_inputs=[0], input_range=(0, num - 1), ref=ref)


def embedding_grad(name, n, num, dim):
    """The table's gradient for ids and dy: autograd of F.embedding, differentiable in dy."""
    def ref(x, p):
        table = torch.zeros(num, dim, dtype=torch.float64, requires_grad=True)
        y = F.embedding(x[0].reshape(-1).long(), table)
        return torch.autograd.grad(y, table, x[1], create_graph=True)[0]
    return dict(name=name, op="embedding_grad", attrs={"num": num}, inputs=[(n, 1), (n, dim)],
                int_inputs=[0], input_range=(0, num - 1), ref=ref)


CASES = [
    time_embedding("time_embedding_ddpm", 5, 32),
    time_embedding("time_embedding_odd_flip_shift0", 7, 17, flip_sin_to_cos=True, downscale_freq_shift=0),
    time_embedding("time_embedding_flat_t", 3, 130, flat=True),
    time_embedding("time_embedding_period_scale", 4, 21, max_period=1000, scale=0.5),
    time_embedding("time_embedding_dim2", 3, 2, downscale_freq_shift=0),
    time_embedding("time_embedding_dim1", 2, 1),
    embedding("embedding_classes", 9, 10, 7),
    embedding("embedding_repeated_ids_flat", 11, 3, 5, flat=True),
    embedding("embedding_one_class", 4, 1, 6),
    embedding_grad("embedding_grad_table", 8, 4, 3),
]
