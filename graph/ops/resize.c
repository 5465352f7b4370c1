/* Resampling as PyTorch's F.interpolate(x, size or scale_factor, mode, align_corners) for modes
 * nearest and bilinear (no antialias), and its gradient op:
 *   resize(x):                (N, C, H, W) -> (N, C, OH, OW)
 *   resize_grad(dy, x_like):  the adjoint, shaped like x_like
 * Both modes are linear in x, so each op and its adjoint are the other's backward. */
#include "graph/ops/adjoint.h"

#include <math.h>
#include <string.h>

extern const Op op_resize, op_resize_grad;

static const char *const resize_modes[] = {"nearest", "bilinear", NULL};

static const AttrSchema resize_attrs[] = {
    {"mode", ATTR_STRING, 0, "nearest", 1, 0, resize_modes,
     "nearest (PyTorch's legacy 'nearest') or bilinear"},
    {"size", ATTR_INTS, 2, "0", 0, 65536, NULL,
     "output [height, width] (a scalar: square); 0: given by scale_factor"},
    {"scale_factor", ATTR_FLOAT, 0, "0", 0, 1024, NULL,
     "output = floor(input * scale_factor) on both axes, sampled at steps 1/scale_factor; 0: size is given"},
    {"align_corners", ATTR_BOOL, 0, "false", 1, 0, NULL,
     "bilinear only: corner pixels of input and output coincide (PyTorch's align_corners)"},
};


/* PyTorch's source step per output pixel (area_pixel_compute_scale). */
static float axis_scale(int in, int out, double factor, bool align_corners)
{
    if (align_corners) return out > 1 ? (float)(in - 1) / (float)(out - 1) : 0.0f;
    return factor > 0 ? (float)(1.0 / factor) : (float)in / (float)out;
}

/* The resampling of input shape x that node n (either op) describes. */
static int resize_geom(const Node *n, const Shape *x, ResizeGeom *g, Error *err)
{
    char s[96];
    memset(g, 0, sizeof *g);
    if (x->ndim != 4 || shape_numel(x) == 0)
        return err_set(err, "%s expects a non-empty input (N, C, H, W), got %s", n->op->name,
                       shape_format(x, s, sizeof s));
    const AttrValue *size = attr_get(n, "size");
    double factor = attr_float(n, "scale_factor");
    g->mode = strcmp(attr_get(n, "mode")->s, "bilinear") == 0 ? RESIZE_BILINEAR : RESIZE_NEAREST;
    g->align_corners = attr_int(n, "align_corners") != 0;
    bool sized = size->ints[0] > 0 || size->ints[1] > 0;
    if (sized == (factor > 0) || (sized && (size->ints[0] == 0 || size->ints[1] == 0)))
        return err_set(err, "%s expects either size [height, width] or scale_factor, not both nor neither",
                       n->op->name);
    if (g->align_corners && g->mode == RESIZE_NEAREST)
        return err_set(err, "%s: align_corners applies to mode bilinear only", n->op->name);
    g->N = (int)x->dim[0], g->C = (int)x->dim[1], g->H = (int)x->dim[2], g->W = (int)x->dim[3];
    g->OH = sized ? (int)size->ints[0] : (int)floor((double)g->H * factor);
    g->OW = sized ? (int)size->ints[1] : (int)floor((double)g->W * factor);
    if (g->OH < 1 || g->OW < 1)
        return err_set(err, "%s: scale_factor %g leaves no output for input %s", n->op->name, factor,
                       shape_format(x, s, sizeof s));
    g->scale_h = axis_scale(g->H, g->OH, factor, g->align_corners);
    g->scale_w = axis_scale(g->W, g->OW, factor, g->align_corners);
    return 0;
}

/* The resampling behind either op (validated by infer): resize reads x, resize_grad x_like. */
static ResizeGeom node_geom(const Node *n)
{
    ResizeGeom g;
    Error unused;
    resize_geom(n, &n->in[n->op == &op_resize_grad ? 1 : 0]->out.shape, &g, &unused);
    return g;
}

static Shape output_shape(const ResizeGeom *g)
{
    return shape_of(4, (int64_t)g->N, (int64_t)g->C, (int64_t)g->OH, (int64_t)g->OW);
}

/* ---- resize ------------------------------------------------------------------------------ */

static int resize_infer(Node *n, Error *err)
{
    ResizeGeom g;
    if (resize_geom(n, &n->in[0]->out.shape, &g, err)) return -1;
    n->out.shape = output_shape(&g);
    return 0;
}

static void resize_forward(Graph *gr, Node *n)
{
    ResizeGeom g = node_geom(n);
    gr->be->resize_forward(&g, n->in[0]->out.data, n->out.data);
}

/* ---- resize_grad(dy, x_like) --------------------------------------------------------------- */

static int resize_grad_infer(Node *n, Error *err)
{
    ResizeGeom g;
    if (resize_geom(n, &n->in[1]->out.shape, &g, err)) return -1;
    Shape y = output_shape(&g);
    return grad_op_infer(n, &y, "resized", err);
}

static void resize_grad_forward(Graph *gr, Node *n)
{
    ResizeGeom g = node_geom(n);
    gr->be->resize_backward(&g, n->in[0]->out.data, n->out.data);
}

ADJOINT_PAIR(resize, resize_attrs, "resampling as PyTorch's F.interpolate: mode nearest or bilinear, size or scale_factor",
             resize_infer, resize_forward, resize_grad_infer, resize_grad_forward);
