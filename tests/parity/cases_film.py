"""Parity cases for FiLM conditioning (graph/ops/film.c): scale_shift in its three modes on
feature maps of 2 to 5 dimensions, one large enough for the kernels' threads."""


def film_ref(mode):
    def ref(x, p):
        h, e = x
        view = (e.shape[0], -1) + (1,) * (h.dim() - 2)
        if mode == "scale_shift":
            scale, shift = e.chunk(2, dim=1)
            return h * (1 + scale.reshape(view)) + shift.reshape(view)
        if mode == "shift":
            return h + e.reshape(view)
        return h * (1 + e.reshape(view))
    return ref


def film(name, h, mode=None):
    mode_ = mode or "scale_shift"
    e = (h[0], 2 * h[1] if mode_ == "scale_shift" else h[1])
    return dict(name=name, op="scale_shift", attrs={"mode": mode} if mode else {}, inputs=[h, e],
                ref=film_ref(mode_))


CASES = [
    film("scale_shift_4d", (3, 5, 4, 3)),
    film("scale_shift_vectors", (5, 4)),
    film("scale_shift_large", (4, 40, 16, 15)),
    film("scale_shift_shift_4d", (2, 6, 3, 5), "shift"),
    film("scale_shift_shift_5d", (2, 3, 2, 3, 2), "shift"),
    film("scale_shift_scale_3d", (4, 3, 7), "scale"),
    film("scale_shift_explicit_mode", (1, 2, 5, 5), "scale_shift"),
]
