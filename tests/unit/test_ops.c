/* Every op in the table, checked three ways on every available backend:
 *  1. parity with PyTorch: the fixture (tests/parity/make_fixtures.py) holds inputs, parameters,
 *     the upstream gradient dy, and PyTorch's output, input and parameter gradients and updated
 *     buffers; we build the op with graph_op, take graph_backward of loss = sum(output * dy), and
 *     compare everything;
 *  2. a central finite-difference check of the same gradients on our own graph (CPU);
 *  3. each other backend against the CPU backend's results.
 * One cmocka test per op: an op without a fixture case fails, so no op goes untested. */
#include "graph/graph.h"
#include "runner/io/safetensors.h"
#include "tests/unit/testutil.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <cmocka.h>

/* Parity tolerance: |ours - reference| <= RTOL * |reference| + ATOL_FRAC * RTOL * max|reference|
 * + 1e-6.  float32 against float64 PyTorch: each value is a sum of a few hundred products at
 * most, whose rounding error stays well below 1e-4 of the largest value of the tensor; the
 * floor keeps values that cancel to nearly zero from demanding more than float32 can give. */
#define RTOL 1e-4
#define ATOL_FRAC 0.1
/* A case may raise the absolute floor (metadata "atol") where the reference itself rounds in
 * float32 (diffusers' timestep embedding); comparisons between our backends keep the default. */

/* Finite differences: step 2^-8 is exact in float32 for |x| <= 1.  Smaller steps drown in
 * float32 rounding of the outputs (about 1e-7 relative each, divided by 2*eps), larger ones add
 * truncation error eps^2 * f''' / 6.  The loss sum(out * dy) is accumulated in double on the
 * host, so outputs that the perturbation leaves unchanged cancel exactly.  Tolerance:
 * |fd - analytic| <= FD_RTOL * |analytic| + FD_ATOL * max(1, max|analytic|); the worst case of the
 * suite uses about 5% of it, while a wrong formula (a missing factor, a swapped index) is off by
 * far more than 0.5%. */
#define FD_EPS (1.0f / 256.0f)
#define FD_RTOL 5e-3
#define FD_ATOL 5e-4
#define FD_POINTS 8 /* elements checked per tensor */

#define MAX_CASES 1024
#define MAX_WRT (NODE_MAX_INPUTS + OP_MAX_PARAMS)
#define MAX_VALUES (1 + 2 * MAX_WRT)
#define MSG_MAX 4096

typedef struct Case {
    char name[128];
    StFile st;
    const Op *op;
    const char *op_name;
    AttrValue attr[OP_MAX_ATTRS];
    bool training, fd, has_ref;
    double atol; /* the case's own absolute floor for PyTorch comparisons, or 0 */
    int n_in;
    bool no_grad[NODE_MAX_INPUTS];
} Case;

/* A named host copy of something the graph computed ("output", "grad.param.weight", ...). */
typedef struct Value {
    char name[160];
    float *v;
    size_t n;
} Value;

typedef struct Values {
    Value item[MAX_VALUES];
    int n;
} Values;

/* One case instantiated on one backend. */
typedef struct Built {
    Graph *g;
    Node *in[NODE_MAX_INPUTS];
    float *in_host[NODE_MAX_INPUTS];
    int n_in;
    Param *param[OP_MAX_PARAMS];
    Node *pnode[OP_MAX_PARAMS];
    float *param_host[OP_MAX_PARAMS]; /* the fixture's values, restored before every run */
    int n_param;
    Node *out, *dy, *loss;
    float *dy_host;
    Node *wrt[MAX_WRT], *grad[MAX_WRT];
    float **wrt_host[MAX_WRT];        /* where wrt[k]'s values live on the host */
    char wrt_name[MAX_WRT][160];
    int n_wrt;
} Built;

static Case g_cases[MAX_CASES];
static int g_n_cases;
static char g_load_error[MSG_MAX];
static const Backend *g_cuda;
static char g_cuda_why[256];

/* Appends to a message buffer (failures of one op are collected, then reported together). */
static void msg_add(char *msg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void msg_add(char *msg, const char *fmt, ...)
{
    size_t used = strlen(msg);
    if (used + 2 >= MSG_MAX) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg + used, MSG_MAX - used, fmt, ap);
    va_end(ap);
}

static float *st_floats(const StFile *f, const char *name, size_t want, Error *err)
{
    const StTensor *t = st_find(f, name);
    if (!t) {
        err_set(err, "fixture has no tensor '%s'", name);
        return NULL;
    }
    size_t n = (size_t)shape_numel(&t->shape);
    if (want != (size_t)-1 && n != want) {
        err_set(err, "fixture tensor '%s' has %zu values, the graph %zu", name, n, want);
        return NULL;
    }
    float *v = malloc((n ? n : 1) * sizeof *v);
    if (!v) {
        err_set(err, "out of memory reading '%s'", name);
        return NULL;
    }
    if (st_to_f32(t, v, n, err)) {
        free(v);
        return NULL;
    }
    return v;
}

/* ---- loading the cases ------------------------------------------------------------------- */

/* Formats one JSON scalar as the text a spec would hold, for attr_parse. */
static int json_scalar_text(const cJSON *j, char *buf, size_t len, Error *err)
{
    if (cJSON_IsBool(j)) snprintf(buf, len, "%s", cJSON_IsTrue(j) ? "true" : "false");
    else if (cJSON_IsString(j)) snprintf(buf, len, "%s", j->valuestring);
    else if (cJSON_IsNumber(j) && j->valuedouble == floor(j->valuedouble) && fabs(j->valuedouble) < 1e15)
        snprintf(buf, len, "%lld", (long long)j->valuedouble);
    else if (cJSON_IsNumber(j)) snprintf(buf, len, "%.17g", j->valuedouble);
    else return err_set(err, "attribute values must be numbers, words, booleans or lists of integers");
    return 0;
}

static int attrs_from_json(const Op *op, const char *json, AttrValue *attr, Error *err)
{
    if (attr_defaults(op, attr, err)) return -1;
    cJSON *root = cJSON_Parse(json ? json : "{}");
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return err_set(err, "metadata 'attrs' is not a JSON object: %s", json);
    }
    int rc = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, root) {
        int k = attr_index(op, item->string);
        if (k < 0) {
            rc = err_set(err, "op '%s' has no attribute '%s'", op->name, item->string);
            break;
        }
        char text[ATTR_MAX_INTS][64];
        const char *items[ATTR_MAX_INTS];
        int n = 0;
        bool is_list = cJSON_IsArray(item);
        const cJSON *el;
        if (is_list) {
            cJSON_ArrayForEach(el, item) {
                if (n == ATTR_MAX_INTS) {
                    rc = err_set(err, "attribute '%s' has too many values", item->string);
                    break;
                }
                if ((rc = json_scalar_text(el, text[n], sizeof text[n], err))) break;
                items[n] = text[n];
                n++;
            }
        } else if (!(rc = json_scalar_text(item, text[0], sizeof text[0], err))) {
            items[n++] = text[0];
        }
        if (rc || (rc = attr_parse(&op->attrs[k], items, n, is_list, &attr[k], err))) break;
    }
    cJSON_Delete(root);
    return rc;
}

static int load_case(Case *c, const char *path, const char *file, Error *err)
{
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "%.*s", (int)(strlen(file) - strlen(".safetensors")), file);
    if (st_read(path, &c->st, err)) return -1;
    c->op_name = st_meta(&c->st, "op");
    if (!c->op_name) return err_set(err, "%s: no 'op' in the metadata", path);
    c->op = op_find(c->op_name);
    const char *t = st_meta(&c->st, "training"), *fd = st_meta(&c->st, "fd");
    const char *ref = st_meta(&c->st, "reference");
    c->training = !t || strcmp(t, "false") != 0;
    c->fd = !fd || strcmp(fd, "false") != 0;
    c->has_ref = !ref || strcmp(ref, "none") != 0;
    const char *atol = st_meta(&c->st, "atol");
    c->atol = atol ? strtod(atol, NULL) : 0.0;
    char key[32];
    while (c->n_in < NODE_MAX_INPUTS && (snprintf(key, sizeof key, "input.%d", c->n_in), st_find(&c->st, key)))
        c->n_in++;
    cJSON *ng = cJSON_Parse(st_meta(&c->st, "no_grad") ? st_meta(&c->st, "no_grad") : "[]");
    const cJSON *el;
    cJSON_ArrayForEach(el, ng) {
        if (cJSON_IsNumber(el) && el->valueint >= 0 && el->valueint < NODE_MAX_INPUTS)
            c->no_grad[el->valueint] = true;
    }
    cJSON_Delete(ng);
    if (c->op && attrs_from_json(c->op, st_meta(&c->st, "attrs"), c->attr, err))
        return err_prefix(err, "%s: ", path);
    return 0;
}

static int cmp_case(const void *a, const void *b)
{
    return strcmp(((const Case *)a)->name, ((const Case *)b)->name);
}

static int load_cases(Error *err)
{
    char dir[1024];
    tu_fixture_path(dir, sizeof dir, "ops");
    DIR *d = opendir(dir);
    if (!d)
        return err_set(err, "cannot open %s: generate the fixtures with `make fixtures` (FIXTURES_DIR=%s)",
                       dir, tu_fixtures_dir());
    const struct dirent *e;
    int rc = 0;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len <= 12 || strcmp(e->d_name + len - 12, ".safetensors") != 0) continue;
        if (g_n_cases == MAX_CASES) {
            rc = err_set(err, "more than %d op cases", MAX_CASES);
            break;
        }
        char path[1400];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if ((rc = load_case(&g_cases[g_n_cases], path, e->d_name, err))) break;
        g_n_cases++;
    }
    closedir(d);
    qsort(g_cases, (size_t)g_n_cases, sizeof g_cases[0], cmp_case);
    return rc;
}

/* ---- building and running one case -------------------------------------------------------- */

static void built_free(Built *b)
{
    graph_free(b->g);
    for (int i = 0; i < b->n_in; i++) free(b->in_host[i]);
    for (int i = 0; i < b->n_param; i++) {
        param_free(b->param[i]);
        free(b->param_host[i]);
    }
    free(b->dy_host);
    memset(b, 0, sizeof *b);
}

static int build_params(const Case *c, Built *b, Error *err)
{
    /* declare_params sees the node as graph_op will: data inputs and attributes set. */
    Node probe;
    memset(&probe, 0, sizeof probe);
    probe.kind = NODE_OP;
    probe.op = c->op;
    memcpy(probe.attr, c->attr, sizeof probe.attr);
    for (int i = 0; i < b->n_in; i++) probe.in[i] = b->in[i];
    probe.n_in = b->n_in;
    ParamDecl decl[OP_MAX_PARAMS];
    int n_decl = 0;
    if (c->op->declare_params && c->op->declare_params(&probe, decl, &n_decl, err)) return -1;

    const char *listed = st_meta(&c->st, "params");
    cJSON *names = cJSON_Parse(listed ? listed : "[]");
    int n_listed = cJSON_GetArraySize(names);
    cJSON_Delete(names);
    if (n_listed != n_decl)
        return err_set(err, "the op declares %d parameters, the case lists %d (%s)", n_decl, n_listed,
                       listed ? listed : "[]");

    for (int k = 0; k < n_decl; k++) {
        char key[64], s1[64], s2[64];
        snprintf(key, sizeof key, "param.%.40s", decl[k].name);
        const StTensor *t = st_find(&c->st, key);
        if (!t) return err_set(err, "the op declares parameter '%s', the case has none", decl[k].name);
        if (!shape_equal(&t->shape, &decl[k].shape))
            return err_set(err, "parameter '%s': the op declares %s, the case (PyTorch) has %s", decl[k].name,
                           shape_format(&decl[k].shape, s1, sizeof s1), shape_format(&t->shape, s2, sizeof s2));
        Param *p = param_new(decl[k].name, &decl[k].shape, b->g->be, err);
        if (!p) return -1;
        b->param[b->n_param] = p;
        p->trainable = !decl[k].is_buffer;
        p->is_buffer = decl[k].is_buffer;
        p->is_counter = decl[k].is_counter;
        b->param_host[b->n_param] = st_floats(&c->st, key, tensor_numel(&p->value), err);
        if (!b->param_host[b->n_param]) return -1;
        b->pnode[b->n_param] = graph_param(b->g, p, err);
        b->n_param++;
        if (!b->pnode[b->n_param - 1]) return -1;
    }
    return 0;
}

static void restore_params(Built *b)
{
    for (int k = 0; k < b->n_param; k++)
        b->g->be->upload(b->param[k]->value.data, b->param_host[k], tensor_numel(&b->param[k]->value));
}

static void set_inputs(Built *b)
{
    for (int i = 0; i < b->n_in; i++) graph_set_input(b->g, b->in[i], b->in_host[i]);
    graph_set_input(b->g, b->dy, b->dy_host);
}

/* batch_statistics: the training case run outside training with batch statistics (a PyTorch
 * model sampled without .eval()). */
static int build(const Case *c, const Backend *be, bool batch_statistics, Built *b, Error *err)
{
    memset(b, 0, sizeof *b);
    b->g = graph_new(be);
    if (!b->g) return err_set(err, "graph_new failed");
    b->g->training = c->training && !batch_statistics;
    b->g->batch_statistics = batch_statistics;
    b->g->seed = 1;
    for (int i = 0; i < c->n_in; i++) {
        char key[32];
        snprintf(key, sizeof key, "input.%d", i);
        const StTensor *t = st_find(&c->st, key);
        b->in_host[i] = st_floats(&c->st, key, (size_t)-1, err);
        if (!b->in_host[i]) return -1;
        b->n_in++;
        b->in[i] = graph_input(b->g, key, &t->shape, !c->no_grad[i], err);
        if (!b->in[i]) return -1;
    }
    if (build_params(c, b, err)) return -1;

    Node *args[NODE_MAX_INPUTS];
    int n_args = 0;
    for (int i = 0; i < b->n_in; i++) args[n_args++] = b->in[i];
    for (int k = 0; k < b->n_param && n_args < NODE_MAX_INPUTS; k++) args[n_args++] = b->pnode[k];
    b->out = graph_op(b->g, c->op->name, args, n_args, c->attr, c->name, err);
    if (!b->out) return -1;
    if (c->has_ref) {
        char s1[64], s2[64];
        const StTensor *ref = st_find(&c->st, "output");
        if (!ref) return err_set(err, "fixture has no 'output'");
        if (!shape_equal(&ref->shape, &b->out->out.shape))
            return err_set(err, "output shape %s, PyTorch gives %s", shape_format(&b->out->out.shape, s1, sizeof s1),
                           shape_format(&ref->shape, s2, sizeof s2));
    }

    size_t n_out = tensor_numel(&b->out->out);
    b->dy = graph_input(b->g, "dy", &b->out->out.shape, false, err);
    if (!b->dy) return -1;
    if (st_find(&c->st, "dy")) {
        b->dy_host = st_floats(&c->st, "dy", n_out, err);
        if (!b->dy_host) return -1;
    } else {
        uint64_t state = 12345;
        b->dy_host = malloc((n_out ? n_out : 1) * sizeof *b->dy_host);
        if (!b->dy_host) return err_set(err, "out of memory");
        tu_fill_uniform(b->dy_host, n_out, -1.0f, 1.0f, &state);
    }

    Node *outputs[1 + MAX_WRT];
    int n_outputs = 0;
    outputs[n_outputs++] = b->out;
    if (c->op->backward) {
        Node *prod = graph_op2(b->g, "mul", b->out, b->dy, err);
        b->loss = prod ? graph_op1(b->g, "sum", prod, err) : NULL;
        if (!b->loss) return err_prefix(err, "loss = sum(output * dy): ");
        for (int i = 0; i < b->n_in; i++) {
            if (c->no_grad[i]) continue;
            snprintf(b->wrt_name[b->n_wrt], sizeof b->wrt_name[0], "grad.input.%d", i);
            b->wrt_host[b->n_wrt] = &b->in_host[i];
            b->wrt[b->n_wrt++] = b->in[i];
        }
        for (int k = 0; k < b->n_param; k++) {
            if (!b->param[k]->trainable) continue;
            snprintf(b->wrt_name[b->n_wrt], sizeof b->wrt_name[0], "grad.param.%s", b->param[k]->name);
            b->wrt_host[b->n_wrt] = &b->param_host[k];
            b->wrt[b->n_wrt++] = b->pnode[k];
        }
        if (b->n_wrt && graph_backward(b->g, b->loss, b->wrt, b->n_wrt, b->grad, err)) return -1;
        for (int k = 0; k < b->n_wrt; k++)
            if (b->grad[k]) outputs[n_outputs++] = b->grad[k];
    }
    if (graph_plan(b->g, outputs, n_outputs, err)) return -1;
    return 0;
}

static float *download(Built *b, const Node *n)
{
    size_t count = tensor_numel(&n->out);
    float *v = malloc((count ? count : 1) * sizeof *v);
    if (v) graph_get(b->g, n, v);
    return v;
}

static void values_free(Values *v)
{
    for (int i = 0; i < v->n; i++) free(v->item[i].v);
    v->n = 0;
}

static Value *values_add(Values *vs, const char *name, size_t n)
{
    Value *v = &vs->item[vs->n++];
    snprintf(v->name, sizeof v->name, "%s", name);
    v->n = n;
    v->v = calloc(n ? n : 1, sizeof *v->v);
    return v;
}

/* Runs once from the fixture's state and collects the output, every gradient (zeros where the
 * graph says the input does not matter) and the buffers forward updated. */
static int run_values(Built *b, Values *vs, Error *err)
{
    restore_params(b);
    set_inputs(b);
    assert_int_equal(graph_run(b->g, NULL), 0);
    vs->n = 0;
    Value *v = values_add(vs, "output", tensor_numel(&b->out->out));
    if (!v->v) return err_set(err, "out of memory");
    graph_get(b->g, b->out, v->v);
    for (int k = 0; k < b->n_wrt; k++) {
        v = values_add(vs, b->wrt_name[k], tensor_numel(&b->wrt[k]->out));
        if (!v->v) return err_set(err, "out of memory");
        if (b->grad[k]) graph_get(b->g, b->grad[k], v->v);
    }
    for (int k = 0; k < b->n_param; k++) {
        if (!b->param[k]->is_buffer) continue;
        char name[160];
        snprintf(name, sizeof name, "buffer_after.%s", b->param[k]->name);
        v = values_add(vs, name, tensor_numel(&b->param[k]->value));
        if (!v->v) return err_set(err, "out of memory");
        b->g->be->download(v->v, b->param[k]->value.data, v->n);
    }
    return 0;
}

static bool close_to(const char *what, const float *got, const float *want, size_t n, double atol_floor,
                     char *msg)
{
    char line[512];
    double atol = fmax(ATOL_FRAC * RTOL * tu_max_abs(want, n) + 1e-6, atol_floor);
    if (tu_allclose(what, got, want, n, RTOL, atol, line, sizeof line)) return true;
    msg_add(msg, "\n    %s", line);
    return false;
}

/* Compares with PyTorch: every tensor the fixture holds must match, and every gradient PyTorch
 * computed must be one our graph computes. */
static bool check_fixture(const Case *c, const Values *vs, const char *be_name, char *msg)
{
    bool ok = true;
    char what[160];
    for (int i = 0; i < vs->n; i++) {
        Error err = {0};
        const Value *v = &vs->item[i];
        if (!st_find(&c->st, v->name)) continue;
        float *want = st_floats(&c->st, v->name, v->n, &err);
        if (!want) {
            msg_add(msg, "\n    %s: %s", be_name, tu_err(&err));
            ok = false;
            continue;
        }
        snprintf(what, sizeof what, "%s %s vs PyTorch", be_name, v->name);
        ok &= close_to(what, v->v, want, v->n, c->atol, msg);
        free(want);
    }
    for (int t = 0; t < c->st.n; t++) {
        const char *name = c->st.tensors[t].name;
        if (strncmp(name, "grad.", 5) != 0 && strncmp(name, "buffer_after.", 13) != 0) continue;
        bool found = false;
        for (int i = 0; i < vs->n; i++) found |= strcmp(vs->item[i].name, name) == 0;
        if (!found) {
            msg_add(msg, "\n    %s: PyTorch computes %s, our graph does not", be_name, name);
            ok = false;
        }
    }
    return ok;
}

/* sum(out * dy) in double on the host. */
static double host_loss(Built *b)
{
    set_inputs(b);
    assert_int_equal(graph_run(b->g, NULL), 0);
    float *out = download(b, b->out);
    double s = 0;
    for (size_t i = 0, n = tensor_numel(&b->out->out); i < n; i++) s += (double)out[i] * b->dy_host[i];
    free(out);
    return s;
}

/* Loss with element e of wrt[k] set to x (inputs via graph_set_input, parameters uploaded). */
static double loss_at(Built *b, int k, size_t e, float x)
{
    float *host = *b->wrt_host[k];
    float saved = host[e];
    host[e] = x;
    restore_params(b);
    double l = host_loss(b);
    host[e] = saved;
    return l;
}

static bool check_fd(Built *b, const Values *vs, char *msg, int *n_checked)
{
    bool ok = true;
    restore_params(b);
    double l0 = host_loss(b);
    for (int k = 0; k < b->n_wrt; k++) {
        const Value *an = &vs->item[1 + k];
        float *host = *b->wrt_host[k];
        double scale = fmax(1.0, tu_max_abs(an->v, an->n));
        int points = an->n < FD_POINTS ? (int)an->n : FD_POINTS;
        for (int j = 0; j < points; j++) {
            /* spread over the tensor: first, last and a stride that visits every part */
            size_t e = j == 0 ? 0 : j == 1 ? an->n - 1 : ((size_t)j * 2654435761u) % an->n;
            float x = host[e], xp = x + FD_EPS, xm = x - FD_EPS;
            double lp = loss_at(b, k, e, xp), lm = loss_at(b, k, e, xm);
            double dp = (lp - l0) / ((double)xp - x), dm = (l0 - lm) / ((double)x - xm);
            double tol = FD_RTOL * fabs(an->v[e]) + FD_ATOL * scale;
            /* One-sided slopes that disagree mean a kink (relu at 0) inside the step: the
             * derivative is not defined there, so that element says nothing. */
            if (fabs(dp - dm) > 0.1 * (fabs(dp) + fabs(dm)) + tol) continue;
            double fd = (lp - lm) / ((double)xp - xm);
            (*n_checked)++;
            if (fabs(fd - an->v[e]) > tol) {
                msg_add(msg, "\n    finite differences: %s[%zu]: analytic %.6g, numeric %.6g (tol %.2g)",
                        an->name, e, an->v[e], fd, tol);
                ok = false;
            }
        }
    }
    return ok;
}

/* A training case with buffers (batch norm's running statistics) run outside training with batch
 * statistics: the output training gives, and every buffer as it was. */
static bool check_batch_statistics(const Case *c, const Values *training, char *msg)
{
    Error err = {0};
    Built b;
    Values vs = {0};
    bool ok = true;
    if (build(c, backend_cpu(), true, &b, &err) || run_values(&b, &vs, &err)) {
        msg_add(msg, "\n    batch statistics: %s", tu_err(&err));
        ok = false;
    } else {
        ok &= close_to("batch statistics: output vs training", vs.item[0].v, training->item[0].v, vs.item[0].n,
                       0.0, msg);
        for (int k = 0, i = 1 + b.n_wrt; k < b.n_param; k++) {
            if (!b.param[k]->is_buffer) continue;
            char what[200];
            snprintf(what, sizeof what, "batch statistics: %s vs before", vs.item[i].name);
            ok &= close_to(what, vs.item[i].v, b.param_host[k], vs.item[i].n, 0.0, msg);
            i++;
        }
    }
    built_free(&b);
    values_free(&vs);
    return ok;
}

static bool has_buffers(const Built *b)
{
    for (int k = 0; k < b->n_param; k++)
        if (b->param[k]->is_buffer) return true;
    return false;
}

/* The whole check of one case; failures are appended to msg. */
static bool check_case(const Case *c, char *msg)
{
    Error err = {0};
    Built cpu;
    Values cpu_vals = {0};
    bool ok = true;
    if (build(c, backend_cpu(), false, &cpu, &err) || run_values(&cpu, &cpu_vals, &err)) {
        msg_add(msg, "\n  %s (op %s): cpu: %s", c->name, c->op->name, tu_err(&err));
        built_free(&cpu);
        values_free(&cpu_vals);
        return false;
    }
    char detail[MSG_MAX] = "";
    if (c->has_ref) ok &= check_fixture(c, &cpu_vals, "cpu", detail);
    if (c->training && has_buffers(&cpu)) ok &= check_batch_statistics(c, &cpu_vals, detail);
    int n_fd = 0;
    if (c->fd && cpu.n_wrt) {
        ok &= check_fd(&cpu, &cpu_vals, detail, &n_fd);
        if (n_fd == 0) {
            msg_add(detail, "\n    finite differences: every point sat on a kink; move input_range away from it");
            ok = false;
        }
    }

    if (g_cuda) {
        Built gpu;
        Values gpu_vals = {0};
        if (build(c, g_cuda, false, &gpu, &err) || run_values(&gpu, &gpu_vals, &err)) {
            msg_add(detail, "\n    %s: %s", g_cuda->name, tu_err(&err));
            ok = false;
        } else {
            if (c->has_ref) ok &= check_fixture(c, &gpu_vals, g_cuda->name, detail);
            for (int i = 0; i < gpu_vals.n && i < cpu_vals.n; i++) {
                char what[160];
                snprintf(what, sizeof what, "%s %s vs cpu", g_cuda->name, gpu_vals.item[i].name);
                ok &= close_to(what, gpu_vals.item[i].v, cpu_vals.item[i].v, gpu_vals.item[i].n, 0.0, detail);
            }
        }
        built_free(&gpu);
        values_free(&gpu_vals);
    }
    if (ok)
        print_message("  ok %-36s %s, %d gradient(s), %d finite-difference point(s)%s\n", c->name,
                      c->has_ref ? "PyTorch parity" : "no reference", cpu.n_wrt, n_fd,
                      g_cuda ? ", cuda agrees" : "");
    else
        msg_add(msg, "\n  %s (op %s):%s", c->name, c->op->name, detail);
    built_free(&cpu);
    values_free(&cpu_vals);
    return ok;
}

/* ---- cmocka tests ------------------------------------------------------------------------- */

static void test_op(void **state)
{
    const Op *op = *state;
    if (g_load_error[0]) fail_msg("%s", g_load_error);
    static char msg[MSG_MAX];
    msg[0] = '\0';
    int n = 0, failed = 0;
    for (int i = 0; i < g_n_cases; i++) {
        if (g_cases[i].op != op) continue;
        n++;
        failed += !check_case(&g_cases[i], msg);
    }
    if (n == 0)
        fail_msg("op '%s' has no test case: add one to tests/parity/cases_<family>.py", op->name);
    if (failed) fail_msg("op '%s': %d of %d case(s) failed:%s", op->name, failed, n, msg);
}

static void test_cases_name_known_ops(void **state)
{
    (void)state;
    if (g_load_error[0]) fail_msg("%s", g_load_error);
    char msg[MSG_MAX] = "";
    for (int i = 0; i < g_n_cases; i++) {
        if (g_cases[i].op) continue;
        const char *hint = op_suggest(g_cases[i].op_name);
        msg_add(msg, "\n  case %s: no op '%s'%s%s%s", g_cases[i].name, g_cases[i].op_name,
                hint ? " (did you mean '" : "", hint ? hint : "", hint ? "'?)" : "");
    }
    if (msg[0]) fail_msg("fixtures name ops that are not in the table:%s", msg);
}

static void test_cuda_backend(void **state)
{
    (void)state;
    if (!g_cuda) {
        print_message("skipped: %s\n", g_cuda_why);
        skip();
    }
}

int main(void)
{
    Error err = {0};
    if (load_cases(&err)) snprintf(g_load_error, sizeof g_load_error, "%s", tu_err(&err));
    g_cuda = backend_cuda(g_cuda_why, sizeof g_cuda_why);

    /* One test per op, so the count is dynamic: cmocka_run_group_tests needs a fixed array,
     * _cmocka_run_group_tests (what the macro expands to) takes the length. */
    int n_ops = op_count();
    struct CMUnitTest *tests = calloc((size_t)n_ops + 2, sizeof *tests);
    if (!tests) return 1;
    int n = 0;
    tests[n++] = (struct CMUnitTest){.name = "cases_name_known_ops", .test_func = test_cases_name_known_ops};
    tests[n++] = (struct CMUnitTest){.name = "cuda_backend", .test_func = test_cuda_backend};
    for (int i = 0; i < n_ops; i++)
        tests[n++] = (struct CMUnitTest){.name = op_at(i)->name, .test_func = test_op,
                                         .initial_state = (void *)op_at(i)};
    int rc = _cmocka_run_group_tests("ops", tests, (size_t)n, NULL, NULL);
    free(tests);
    for (int i = 0; i < g_n_cases; i++) st_free(&g_cases[i].st);
    return rc;
}
