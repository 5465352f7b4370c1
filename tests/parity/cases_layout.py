"""Parity cases for layout ops (graph/ops/layout.c, graph/ops/concat.c, graph/ops/dropout.c):
views, pixel_shuffle/pixel_unshuffle, concat and slice, and dropout (random: only p = 0, the identity,
and evaluation have a reference; tests/unit/test_kernels_misc.c checks its statistics)."""
import torch
import torch.nn.functional as F

CASES = [
    dict(name="reshape_gan", op="reshape", attrs={"shape": [16, 7, 7]}, inputs=[(3, 784)],
         ref=lambda x, p: x[0].reshape(3, 16, 7, 7)),
    dict(name="reshape_infer", op="reshape", attrs={"shape": [-1, 5]}, inputs=[(1, 2, 3, 5)],
         ref=lambda x, p: x[0].reshape(1, -1, 5)),
    dict(name="flatten_default", op="flatten", inputs=[(3, 4, 5, 2)], ref=lambda x, p: x[0].flatten(1)),
    dict(name="flatten_middle", op="flatten", attrs={"start_dim": 2, "end_dim": 3}, inputs=[(1, 3, 2, 5, 2)],
         ref=lambda x, p: x[0].flatten(2, 3)),
    dict(name="detach_values", op="detach", inputs=[(3, 5)], no_grad=[0], ref=lambda x, p: x[0]),
    dict(name="pixel_shuffle_2", op="pixel_shuffle", attrs={"upscale_factor": 2}, inputs=[(3, 12, 5, 7)],
         ref=lambda x, p: F.pixel_shuffle(x[0], 2)),
    dict(name="pixel_shuffle_3_batch1", op="pixel_shuffle", attrs={"upscale_factor": 3}, inputs=[(1, 18, 2, 3)],
         ref=lambda x, p: F.pixel_shuffle(x[0], 3)),
    dict(name="pixel_unshuffle_2", op="pixel_unshuffle", attrs={"downscale_factor": 2},
         inputs=[(3, 5, 6, 10)], ref=lambda x, p: F.pixel_unshuffle(x[0], 2)),
    dict(name="concat_channels", op="concat", inputs=[(3, 5, 4, 3), (3, 2, 4, 3), (3, 7, 4, 3)],
         ref=lambda x, p: torch.cat(x, 1)),
    dict(name="concat_last", op="concat", attrs={"dim": -1}, inputs=[(1, 3, 5), (1, 3, 2)],
         ref=lambda x, p: torch.cat(x, -1)),
    dict(name="concat_batch", op="concat", attrs={"dim": 0}, inputs=[(3, 6), (1, 6)],
         ref=lambda x, p: torch.cat(x, 0)),
    dict(name="slice_middle", op="slice", attrs={"dim": 1, "start": 2, "length": 3}, inputs=[(3, 7, 2)],
         ref=lambda x, p: x[0].narrow(1, 2, 3)),
    dict(name="slice_tail", op="slice", attrs={"dim": 3, "start": 4, "length": 1}, inputs=[(1, 2, 3, 5)],
         ref=lambda x, p: x[0].narrow(3, 4, 1)),
    dict(name="slice_all", op="slice", attrs={"dim": 1, "start": 0, "length": 4}, inputs=[(2, 4)],
         ref=lambda x, p: x[0].narrow(1, 0, 4)),
    dict(name="dropout_p0", op="dropout", attrs={"p": 0.0}, inputs=[(3, 17)],
         ref=lambda x, p: F.dropout(x[0], 0.0, training=True)),
    dict(name="dropout_eval", op="dropout", attrs={"p": 0.5}, inputs=[(3, 4, 5)], training=False,
         ref=lambda x, p: F.dropout(x[0], 0.5, training=False)),
]
