/* `runner check SPEC.yaml [--set key=value ...]`: validates a spec, says what shape its data's
 * examples have (after the data section's channels, resize and pad), builds each network on the CPU
 * backend to infer every shape, and prints a torchsummary-like table per network, then runs the
 * training algorithm's own check (for the GAN family: the generator's output fed to the
 * discriminator), so a mismatch is found before a run. */
#include "graph/graph.h"
#include "graph/network.h"
#include "runner/algo/algorithm.h"
#include "runner/cli/cmd_args.h"
#include "runner/cli/commands.h"
#include "runner/data/dataset.h"
#include "runner/spec/spec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SETS 64

static const char *with_commas(int64_t v, char *buf, size_t len)
{
    char digits[32];
    int n = snprintf(digits, sizeof digits, "%lld", (long long)v);
    size_t o = 0;
    for (int i = 0; i < n && o + 1 < len; i++) {
        if (i > 0 && digits[i - 1] != '-' && (n - i) % 3 == 0 && o + 2 < len) buf[o++] = ',';
        buf[o++] = digits[i];
    }
    buf[o] = '\0';
    return buf;
}

/* Shapes print with -1 for the batch, as torchsummary does. */
static const char *batch_shape(const Shape *s, char *buf, size_t len)
{
    Shape t = *s;
    if (t.ndim > 0) t.dim[0] = -1;
    return shape_format(&t, buf, len);
}

static void print_table(const NetDef *def, Node *const *made, Node *const *in)
{
    char a[96], b[32];
    int wn = 4, wo = 2, ws = 12;
    for (int k = 0; k < def->n_nodes; k++) {
        int l = (int)strlen(def->nodes[k].name), o = (int)strlen(def->nodes[k].op->name);
        int s = (int)strlen(batch_shape(&made[k]->out.shape, a, sizeof a));
        wn = l > wn ? l : wn, wo = o > wo ? o : wo, ws = s > ws ? s : ws;
    }
    for (int i = 0; i < def->n_inputs; i++) {
        int l = (int)strlen(def->inputs[i].name);
        wn = l > wn ? l : wn;
    }
    printf("model '%s' (%s)\n", def->name, def->where);
    printf("  %-*s  %-*s  %-*s  %13s\n", wn, "node", wo, "op", ws, "output shape", "params");
    for (int i = 0; i < def->n_inputs; i++)
        printf("  %-*s  %-*s  %-*s  %13s\n", wn, def->inputs[i].name, wo, "input", ws,
               batch_shape(&in[i]->out.shape, a, sizeof a), "0");
    int64_t trainable = 0, buffers = 0;
    for (int k = 0; k < def->n_nodes; k++) {
        int64_t count = 0;
        for (int j = 0; j < made[k]->n_in; j++) {
            const Node *p = made[k]->in[j];
            if (p->kind != NODE_PARAM) continue;
            if (p->param->trainable)
                count += shape_numel(&p->param->value.shape);
            else
                buffers += shape_numel(&p->param->value.shape);
        }
        trainable += count;
        printf("  %-*s  %-*s  %-*s  %13s\n", wn, def->nodes[k].name, wo, def->nodes[k].op->name, ws,
               batch_shape(&made[k]->out.shape, a, sizeof a), with_commas(count, b, sizeof b));
        if (made[k]->op->describe) { /* what the node costs beyond its output (self_attention) */
            char note[256];
            made[k]->op->describe(made[k], note, sizeof note);
            printf("  %-*s  %s\n", wn, "", note);
        }
    }
    printf("  trainable parameters: %s\n", with_commas(trainable, b, sizeof b));
    printf("  buffers: %s (running statistics, not trained)\n\n", with_commas(buffers, b, sizeof b));
}

static int check_model(const NetDef *def, int batch, uint64_t seed, Error *err)
{
    Network *net = network_new(def, err);
    Graph *g = graph_new(backend_cpu());
    Node *in[NET_MAX_INPUTS], *out = NULL;
    Node **made = calloc((size_t)def->n_nodes, sizeof *made);
    int rc = -1;
    if (!net) goto done;
    if (!g || !made) {
        err_set(err, "out of memory");
        goto done;
    }
    if (network_input_leaves(g, def, batch, in, err) || network_apply(net, g, in, def->n_inputs, seed, &out, made, err) ||
        spec_check_inits(net, err))
        goto done;
    print_table(def, made, in);
    rc = 0;
done:
    free(made);
    graph_free(g);
    network_free(net);
    return rc;
}

/* The examples the networks will be given, from the dataset's format or its files' headers. */
static int print_data(const SpecData *d, Error *err)
{
    int shape[3];
    if (dataset_example_shape(d, shape, err)) return err_prefix(err, "data: ");
    DataTransform t = data_transform_of(d);
    char how[200], split[40] = "";
    data_transform_describe(&t, how, sizeof how);
    size_t n = strlen(how);
    if (!strcmp(d->flip, "horizontal")) snprintf(how + n, sizeof how - n, "%smirrored at random", n ? ", " : "");
    if (dataset_has_splits(d->dataset)) snprintf(split, sizeof split, " %s", d->split);
    printf("data: %s%s: examples of %dx%dx%d%s%s%s\n\n", d->dataset, split, shape[0], shape[1], shape[2],
           how[0] ? " (" : "", how, how[0] ? ")" : "");
    return 0;
}

int cmd_check(int argc, char **argv, Error *err)
{
    const char *path = NULL, *sets[MAX_SETS];
    ArgList set_list = {.items = sets, .max = MAX_SETS};
    const ArgOption options[] = {OPTION_LIST("--set", &set_list)};
    ArgPositionals spec_path = {.items = &path, .min = 1, .max = 1, .what = "spec"};
    if (cmd_parse(argc, argv, options, 1, &spec_path, command_usage("check"), err))
        return -1;
    int n_sets = set_list.n;
    Spec spec;
    if (spec_load(path, sets, n_sets, &spec, err)) return -1;
    int rc = print_data(&spec.data, err);
    int batch = spec.data.batch_size;
    for (int i = 0; i < spec.n_models && rc == 0; i++) rc = check_model(&spec.models[i], batch, spec.seed, err);
    /* What the training algorithm asks of the networks together (a GAN's G output fits D). */
    const Algorithm *algo = algorithm_find(spec.loss.type);
    char summary[256] = "";
    if (rc == 0 && algo && algo->check) rc = algo->check(&spec, batch, summary, sizeof summary, err);
    if (rc == 0 && summary[0]) printf("%s\n", summary);
    if (rc == 0) printf("%s: ok (%d model%s)\n", path, spec.n_models, spec.n_models == 1 ? "" : "s");
    spec_free(&spec);
    return rc;
}
