/* The classifier algorithm (loss type `classifier`): one iteration is forward, mean cross-entropy
 * against the batch's labels (with the spec's label smoothing, as PyTorch's F.cross_entropy),
 * backward and one optimizer step.  Metrics: the batch's loss and accuracy before the update.
 * evaluate() gives test_loss and test_accuracy of any number of held-out examples through an
 * evaluation-mode graph (batch norms on running statistics, no dropout), EVAL_CHUNK at a time.
 * Labels travel to the graph as floats: class indices are exact in float32 far beyond any class
 * count. */
#include "runner/algo/algorithm.h"
#include "runner/algo/random_streams.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EVAL_CHUNK 500 /* examples per evaluation pass: bounds the evaluation graph's memory */

/* One planned graph: x -> logits -> cross_entropy(logits, target). */
typedef struct ClsGraph {
    Graph *g;
    Node *x, *target, *logits, *loss;
    int batch;
} ClsGraph;

typedef struct Classifier {
    const Backend *be;
    const Spec *spec;
    Network *net;
    Optimizer *opt;
    int classes;
    ClsGraph train;
    float **grads;          /* the optimizer's gradients, in its parameter order (NULL: none) */
    ClsGraph eval[2];       /* full chunks and one remainder, built on first use */
    float *host_logits;     /* max(batch, EVAL_CHUNK) x classes */
    float *host_target;
} Classifier;

static int find_model(const TrainContext *ctx, int *index, Error *err)
{
    const char *want = ctx->spec->loss.model;
    if (!want[0] && ctx->n_nets != 1)
        return err_set(err, "loss type 'classifier' trains one model, the spec defines %d: name it with loss.model",
                       ctx->n_nets);
    for (int i = 0; i < ctx->n_nets; i++) {
        Network *net = ctx->nets[i];
        if (want[0] && strcmp(net->def.name, want) != 0) continue;
        if (!ctx->optims[i])
            return err_set(err, "classifier '%s' has no optimizer (add optimizers.%s)", net->def.name, net->def.name);
        if (net->def.n_inputs != 1)
            return err_set(err, "classifier '%s' must take one input, it takes %d", net->def.name, net->def.n_inputs);
        if (!shape_equal(&net->def.inputs[0].shape, &ctx->data_shape)) {
            char a[96], b[96];
            return err_set(err, "the data's examples are %s but classifier '%s' takes %s",
                           shape_format(&ctx->data_shape, a, sizeof a), net->def.name,
                           shape_format(&net->def.inputs[0].shape, b, sizeof b));
        }
        *index = i;
        return 0;
    }
    return err_set(err, "loss.model names model '%s', which the spec does not define", want);
}

static int build_graph(Classifier *s, ClsGraph *cg, int batch, bool training, Error *err)
{
    Graph *g = cg->g = graph_new(s->be);
    if (!g) return err_set(err, "out of memory");
    g->training = training;
    cg->batch = batch;
    const Shape *ex = &s->net->def.inputs[0].shape;
    Shape xs = shape_batched(batch, ex), ts = shape_of(1, (int64_t)batch);
    if (!(cg->x = graph_input(g, "images", &xs, false, err)) || !(cg->target = graph_input(g, "labels", &ts, false, err)) ||
        network_apply(s->net, g, &cg->x, 1, s->spec->seed, &cg->logits, NULL, err))
        return -1;
    const Shape *ls = &cg->logits->out.shape;
    if (ls->ndim != 2) {
        char a[96];
        return err_set(err, "classifier '%s' must output logits shaped (batch, classes), it outputs %s "
                       "(end it with a linear layer)", s->net->def.name, shape_format(ls, a, sizeof a));
    }
    s->classes = (int)ls->dim[1];
    AttrValue v[OP_MAX_ATTRS];
    const Op *ce = op_find("cross_entropy");
    if (attr_defaults(ce, v, err)) return -1;
    attr_set_float(ce, v, "label_smoothing", s->spec->loss.label_smoothing);
    Node *in[2] = {cg->logits, cg->target};
    cg->loss = graph_op(g, "cross_entropy", in, 2, v, "loss", err);
    return cg->loss ? 0 : -1;
}

/* The training graph: loss, logits and every gradient the optimizer needs, planned together. */
static int build_train(Classifier *s, int batch, Error *err)
{
    if (build_graph(s, &s->train, batch, true, err)) return -1;
    return algorithm_plan_training(s->train.g, s->net, s->opt, s->train.loss, &s->train.logits, 1, "classifier",
                                   &s->grads, err);
}

static void cls_destroy(void *state)
{
    Classifier *s = state;
    if (!s) return;
    graph_free(s->train.g);
    for (int i = 0; i < 2; i++) graph_free(s->eval[i].g);
    free(s->grads);
    free(s->host_logits);
    free(s->host_target);
    free(s);
}

static int cls_create(const TrainContext *ctx, void **state, Error *err)
{
    *state = NULL;
    if (ctx->batch < 1) return err_set(err, "batch size must be at least 1, got %d", ctx->batch);
    Classifier *s = calloc(1, sizeof *s);
    if (!s) return err_set(err, "out of memory");
    s->be = ctx->be;
    s->spec = ctx->spec;
    int i = 0;
    if (find_model(ctx, &i, err)) goto fail;
    s->net = ctx->nets[i];
    s->opt = ctx->optims[i];
    if (build_train(s, ctx->batch, err)) goto fail;
    int rows = ctx->batch > EVAL_CHUNK ? ctx->batch : EVAL_CHUNK;
    s->host_logits = malloc((size_t)rows * (size_t)s->classes * sizeof *s->host_logits);
    s->host_target = malloc((size_t)rows * sizeof *s->host_target);
    if (!s->host_logits || !s->host_target) {
        err_set(err, "out of memory");
        goto fail;
    }
    *state = s;
    return 0;
fail:
    cls_destroy(s);
    return -1;
}

/* Runs cg on n examples; returns its mean loss and adds the correct predictions to *correct. */
static int run_graph(Classifier *s, ClsGraph *cg, const float *images, const int32_t *labels, int n,
                     double *loss, int64_t *correct, Error *err)
{
    if (!labels) return err_set(err, "the classifier needs labels, and the dataset has none");
    int K = s->classes;
    for (int i = 0; i < n; i++) {
        if (labels[i] < 0 || labels[i] >= K)
            return err_set(err, "label %d of example %d is not a class of the classifier's %d outputs (0 to %d)",
                           labels[i], i, K, K - 1);
        s->host_target[i] = (float)labels[i];
    }
    graph_set_input(cg->g, cg->x, images);
    graph_set_input(cg->g, cg->target, s->host_target);
    if (graph_run(cg->g, err)) return -1;
    float l = 0;
    graph_get(cg->g, cg->loss, &l);
    graph_get(cg->g, cg->logits, s->host_logits);
    *loss = l;
    for (int i = 0; i < n; i++) {
        const float *row = s->host_logits + (size_t)i * K;
        int best = 0;
        for (int k = 1; k < K; k++)
            if (row[k] > row[best]) best = k;
        *correct += best == labels[i];
    }
    return 0;
}

static int cls_step(void *state, const float *batch, const int32_t *labels, int64_t step, double *metrics,
                    Error *err)
{
    Classifier *s = state;
    if (!batch) return err_internal(err, "the classifier step needs a data batch");
    int64_t correct = 0;
    stream_seed_graph(s->train.g, s->spec->seed, step, 0); /* dropout's masks */
    if (run_graph(s, &s->train, batch, labels, s->train.batch, &metrics[0], &correct, err))
        return err_prefix(err, "training step %lld: ", (long long)step);
    metrics[1] = (double)correct / s->train.batch;
    return algorithm_update(s->spec, s->opt, s->grads, err);
}

static int cls_evaluate(void *state, const float *images, const int32_t *labels, int count, double *metrics,
                        Error *err)
{
    Classifier *s = state;
    if (count < 1) return err_set(err, "evaluation needs at least one example, got %d", count);
    if (!labels) return err_set(err, "evaluating the classifier needs labels, and the dataset has none");
    size_t per = (size_t)shape_numel(&s->net->def.inputs[0].shape);
    double loss_sum = 0.0;
    int64_t correct = 0;
    for (int start = 0; start < count; start += EVAL_CHUNK) {
        int n = count - start < EVAL_CHUNK ? count - start : EVAL_CHUNK;
        ClsGraph *cg = &s->eval[n == EVAL_CHUNK || count < EVAL_CHUNK ? 0 : 1];
        if (cg->g && cg->batch != n) {
            graph_free(cg->g);
            memset(cg, 0, sizeof *cg);
        }
        if (!cg->g && (build_graph(s, cg, n, false, err) || graph_plan(cg->g, (Node *[]){cg->loss, cg->logits}, 2, err)))
            return err_prefix(err, "evaluating classifier '%s': ", s->net->def.name);
        double loss = 0;
        if (run_graph(s, cg, images + (size_t)start * per, labels + start, n, &loss, &correct, err))
            return err_prefix(err, "evaluating examples %d to %d: ", start, start + n - 1);
        loss_sum += loss * n;
    }
    metrics[0] = loss_sum / count;
    metrics[1] = (double)correct / count;
    return 0;
}

static int cls_graphs(void *state, Graph **out, int max)
{
    Classifier *s = state;
    if (max < 1) return 0;
    out[0] = s->train.g;
    return 1;
}

static const Field classifier_f[] = {
    {"model", F_TEXT, offsetof(SpecLoss, model), "", 1, 0, NULL, "the classifier (empty: the only model)"},
    {"label_smoothing", F_FLOAT, offsetof(SpecLoss, label_smoothing), "0", 0, 1, NULL, "cross-entropy label smoothing"},
};
static const FieldTable classifier_keys = {"loss (classifier)", classifier_f,
                                           sizeof classifier_f / sizeof classifier_f[0]};

const Algorithm algo_classifier = {
    .loss = {"classifier", {&classifier_keys, NULL}, false, "classifier"},
    .create = cls_create, .metrics = {"loss", "accuracy"}, .step = cls_step,
    .sample = NULL, .destroy = cls_destroy, .graphs = cls_graphs,
    .eval_metrics = {"test_loss", "test_accuracy"}, .evaluate = cls_evaluate,
};
