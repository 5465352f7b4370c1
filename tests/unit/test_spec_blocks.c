/* Blocks in network specs: a use expands into the block's nodes named `<use>.<node>`, with the
 * use's parameters substituted, nested blocks expanded, inputs wired through the block's scope
 * and later entries reading the block's output; the names give PyTorch's state_dict keys.  The
 * malformed block specs (tests/specs/bad/block_*.yaml) are checked with the others by test_spec. */
#include "graph/graph.h"
#include "graph/network.h"
#include "runner/spec/spec.h"
#include "tests/unit/testutil.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#define GOOD_DIR "tests/specs/good"

static void load_ok(const char *path, const char *const *sets, int n_sets, Spec *spec)
{
    Error err = {0};
    if (spec_load(path, sets, n_sets, spec, &err)) fail_msg("%s: %s", path, tu_err(&err));
}

static const NodeDef *node(const NetDef *def, const char *name)
{
    for (int i = 0; i < def->n_nodes; i++)
        if (!strcmp(def->nodes[i].name, name)) return &def->nodes[i];
    fail_msg("model '%s' has no node '%s'", def->name, name);
    return NULL;
}

static int64_t def_int(const NodeDef *d, const char *attr) { return d->attr[attr_index(d->op, attr)].ints[0]; }

/* Applies the network to a batch of 2 on the CPU; made[i] is def->nodes[i]'s graph node. */
typedef struct Built {
    Network *net;
    Graph *g;
    Node **made, *out;
} Built;

static void build(const NetDef *def, Built *b)
{
    Error err = {0};
    b->net = network_new(def, &err);
    b->g = graph_new(backend_cpu());
    b->made = calloc((size_t)def->n_nodes, sizeof *b->made);
    assert_non_null(b->net);
    Node *in[NET_MAX_INPUTS];
    for (int k = 0; k < def->n_inputs; k++) {
        Shape s = {.ndim = def->inputs[k].shape.ndim + 1, .dim = {2}};
        for (int d = 0; d < def->inputs[k].shape.ndim; d++) s.dim[d + 1] = def->inputs[k].shape.dim[d];
        assert_non_null(in[k] = graph_input(b->g, def->inputs[k].name, &s, false, &err));
    }
    if (network_apply(b->net, b->g, in, def->n_inputs, 0, &b->out, b->made, &err)) fail_msg("%s", tu_err(&err));
}

static void built_free(Built *b)
{
    free(b->made);
    graph_free(b->g);
    network_free(b->net);
}

static int index_of(const NetDef *def, const char *name) { return (int)(node(def, name) - def->nodes); }

static void assert_shape(const Node *n, int ndim, int64_t d1, int64_t d2, int64_t d3)
{
    const int64_t want[4] = {2, d1, d2, d3};
    assert_int_equal(n->out.shape.ndim, ndim);
    for (int i = 0; i < ndim; i++) assert_int_equal(n->out.shape.dim[i], want[i]);
}

static void test_expansion(void **state)
{
    (void)state;
    Spec s;
    load_ok(GOOD_DIR "/blocks.yaml", NULL, 0, &s);
    const NetDef *u = spec_model(&s, "unet");
    /* stem: 3 nodes; each resblock: 2 x conv_norm (3) + proj, sum, skip, out, unused; head. */
    assert_int_equal(u->n_nodes, 3 + 2 * 11 + 1);
    static const char *const res1[] = {"res1.c1.conv", "res1.c1.norm", "res1.c1.act", "res1.proj", "res1.sum", "res1.c2.conv",
                                       "res1.c2.norm", "res1.c2.act", "res1.skip",    "res1.out",  "res1.unused"};
    for (int i = 0; i < 11; i++) assert_string_equal(u->nodes[3 + i].name, res1[i]);
    assert_string_equal(u->nodes[0].name, "stem.conv");
    assert_string_equal(u->nodes[25].name, "head");

    /* Parameters substituted: the use's value, else the block's default. */
    assert_int_equal(def_int(node(u, "stem.conv"), "out"), 8);
    assert_int_equal(def_int(node(u, "res2.c1.conv"), "out"), 12);
    assert_int_equal(def_int(node(u, "res2.proj"), "out"), 12);
    assert_int_equal(def_int(node(u, "res2.c2.conv"), "kernel"), 3);
    assert_int_equal(def_int(node(u, "res2.c2.conv"), "padding"), 1);
    assert_false(node(u, "res1.c1.conv")->attr[attr_index(op_find("conv2d"), "bias")].ints[0]);
    assert_true(node(u, "res1.c1.norm")->attr[attr_index(op_find("batchnorm2d"), "eps")].f == 0.001);

    /* Inputs go through the block's scope: `h` is the instance's first input, `temb` the second. */
    const NodeDef *c1 = node(u, "res1.c1.conv"), *proj = node(u, "res2.proj"), *skip = node(u, "res2.skip");
    assert_int_equal(c1->n_inputs, 0); /* reads stem.act, the node just before it */
    assert_int_equal(proj->n_inputs, 1);
    assert_string_equal(proj->inputs[0], "temb");
    assert_string_equal(skip->inputs[0], "res1.out"); /* h of res2 is res1's output, not its last node */
    assert_string_equal(node(u, "res2.c1.conv")->inputs[0], "res1.out");
    assert_string_equal(node(u, "head")->inputs[0], "res2.out");
    assert_string_equal(u->output, ""); /* head, the last node */
    /* A node keeps the position of its definition inside the block. */
    assert_string_equal(node(u, "res2.proj")->where, GOOD_DIR "/blocks.yaml:19:13");

    Built b;
    build(u, &b);
    assert_ptr_equal(b.out, b.made[25]);
    /* A block used without `in:` reads the entry before it. */
    assert_ptr_equal(b.made[index_of(u, "res1.c2.conv")]->in[0], b.made[index_of(u, "res1.sum")]);
    assert_ptr_equal(b.made[index_of(u, "res2.skip")]->in[0], b.made[index_of(u, "res1.out")]);
    assert_shape(b.made[25], 4, 3, 8, 8);
    assert_shape(b.made[14 + 9], 4, 12, 8, 8); /* res2.out */
    assert_int_equal(b.net->params.n, 6 + 2 * (12 + 2 + 2) + 2); /* conv_norm: weight + 5 of batch norm */
    built_free(&b);

    /* In a `layers:` chain a block reads the previous entry; unnamed entries are numbered. */
    const NetDef *c = spec_model(&s, "chain");
    assert_int_equal(c->n_nodes, 5);
    static const char *const chain[] = {"0.0", "0.1", "1.0", "1.1", "2"};
    for (int i = 0; i < 5; i++) assert_string_equal(c->nodes[i].name, chain[i]);
    assert_int_equal(def_int(&c->nodes[0], "out"), 4);
    assert_int_equal(def_int(&c->nodes[2], "out"), 2);
    build(c, &b);
    assert_shape(b.out, 2, 72, 0, 0);
    built_free(&b);
    spec_free(&s);
}

/* A block whose output is not its last node, used last: the network returns that output. */
static void test_output_not_last(void **state)
{
    (void)state;
    const char *text = "models:\n"
                       "  m:\n"
                       "    input: [4]\n"
                       "    blocks:\n"
                       "      fork:\n"
                       "        nodes: [{name: a, op: linear, out: 3}, {name: b, op: linear, in: input, out: 5}]\n"
                       "        output: a\n"
                       "    layers: [{block: fork}, {block: fork}]\n";
    Spec s;
    Error err = {0};
    if (spec_load_text("inline.yaml", text, NULL, 0, &s, &err)) fail_msg("%s", tu_err(&err));
    const NetDef *m = spec_model(&s, "m");
    assert_string_equal(m->output, "1.a");
    assert_string_equal(node(m, "1.a")->inputs[0], "0.a");
    assert_string_equal(node(m, "1.b")->inputs[0], "0.a");
    Built b;
    build(m, &b);
    assert_shape(b.out, 2, 3, 0, 0);
    assert_shape(b.made[3], 2, 5, 0, 0);
    built_free(&b);
    spec_free(&s);
}

/* The parameter names and counts of a ResNet-like net are those of the same PyTorch model
 * (`nn.Module`s named stem, layer1.conv1, ... each holding conv and bn; state_dict order). */
static void test_resnet_matches_pytorch(void **state)
{
    (void)state;
    Spec s;
    load_ok("experiments/nets/resnet_mini.yaml", NULL, 0, &s);
    Built b;
    build(&s.models[0], &b);
    static const char *const conv_bn[] = {"stem",         "layer1.conv1", "layer1.conv2",    "layer2.conv1",
                                          "layer2.conv2", "layer2.shortcut", "layer3.conv1", "layer3.conv2"};
    static const char *const leaves[] = {"conv.weight",     "bn.weight",      "bn.bias",
                                         "bn.running_mean", "bn.running_var", "bn.num_batches_tracked"};
    const ParamSet *ps = &b.net->params;
    assert_int_equal(ps->n, 8 * 6 + 2);
    int64_t trainable = 0;
    for (int i = 0; i < ps->n; i++) {
        char want[128];
        if (i < 48)
            snprintf(want, sizeof want, "%s.%s", conv_bn[i / 6], leaves[i % 6]);
        else
            snprintf(want, sizeof want, "fc.%s", i == 48 ? "weight" : "bias");
        assert_string_equal(ps->items[i]->name, want);
        if (ps->items[i]->trainable) trainable += shape_numel(&ps->items[i]->value.shape);
    }
    assert_int_equal(trainable, 38266); /* sum(p.numel() for p in model.parameters()) */
    built_free(&b);
    spec_free(&s);
}

/* Two FID Inception modules: nested blocks, branches joined by concat, a whole node given as a
 * parameter; names and count as pytorch-fid's modules (BasicConv2d: conv, bn) in PyTorch. */
static void test_inception_modules(void **state)
{
    (void)state;
    Spec s;
    load_ok(GOOD_DIR "/inception_blocks.yaml", NULL, 0, &s);
    const NetDef *def = &s.models[0];
    assert_string_equal(node(def, "Mixed_5b.pool")->op->name, "avg_pool2d");
    assert_string_equal(node(def, "Mixed_5b.pool")->inputs[0], "input");
    assert_string_equal(node(def, "Mixed_7c.pool")->op->name, "max_pool2d");
    assert_string_equal(node(def, "Mixed_7c.pool")->inputs[0], "Mixed_5b.cat");
    assert_string_equal(node(def, "Mixed_7c.branch3x3_2b.conv")->inputs[0], "Mixed_7c.branch3x3_1.relu");
    Built b;
    build(def, &b);
    assert_shape(b.out, 4, 2048, 9, 9);
    const ParamSet *ps = &b.net->params;
    assert_int_equal(ps->n, 16 * 6); /* 16 BasicConv2d, 6 state_dict entries each */
    assert_string_equal(ps->items[0]->name, "Mixed_5b.branch1x1.conv.weight");
    assert_string_equal(ps->items[3]->name, "Mixed_5b.branch1x1.bn.running_mean");
    assert_string_equal(ps->items[6]->name, "Mixed_5b.branch5x5_1.conv.weight");
    assert_string_equal(ps->items[ps->n - 6]->name, "Mixed_7c.branch_pool.conv.weight");
    int64_t trainable = 0;
    for (int i = 0; i < ps->n; i++)
        if (ps->items[i]->trainable) trainable += shape_numel(&ps->items[i]->value.shape);
    assert_int_equal(trainable, 3924256); /* the PyTorch modules' sum(p.numel()) */
    built_free(&b);
    spec_free(&s);
}

static void test_include_and_overrides(void **state)
{
    (void)state;
    Spec s;
    Error err = {0};
    const char *text = "models: {n: {include: nets/stage.yaml, width: 5}}\n";
    if (spec_load_text(GOOD_DIR "/inline.yaml", text, NULL, 0, &s, &err)) fail_msg("%s", tu_err(&err));
    const NetDef *n = spec_model(&s, "n");
    assert_int_equal(def_int(node(n, "u1.conv"), "out"), 5);   /* the block's default is the file's $width */
    assert_int_equal(def_int(node(n, "u1.extra"), "out"), 5);  /* the file's $width inside the block */
    assert_string_equal(node(n, "u1.act")->op->name, "tanh");   /* the block's own $act */
    assert_int_equal(def_int(node(n, "u2.conv"), "out"), 6);
    assert_string_equal(node(n, "u2.act")->op->name, "sigmoid");
    assert_string_equal(node(n, "last")->op->name, "relu");     /* the file's $act outside the block */
    spec_free(&s);

    /* --set reaches a use's parameter and a block's default. */
    const char *sets[] = {"models.unet.nodes.2.ch=16", "models.unet.blocks.conv_norm.params.kernel=5"};
    load_ok(GOOD_DIR "/blocks.yaml", sets, 2, &s);
    const NetDef *u = spec_model(&s, "unet");
    assert_int_equal(def_int(node(u, "res2.c1.conv"), "out"), 16);
    assert_int_equal(def_int(node(u, "res1.c1.conv"), "out"), 8);
    assert_int_equal(def_int(node(u, "res1.c2.conv"), "kernel"), 5);
    spec_free(&s);
}

/* The resolved tree keeps the uses and loads back to the same nodes. */
static void test_round_trip(void **state)
{
    (void)state;
    Spec a, b;
    load_ok(GOOD_DIR "/blocks.yaml", NULL, 0, &a);
    char *text;
    size_t len;
    Error err = {0};
    if (yaml_write(a.tree, &text, &len, &err)) fail_msg("%s", tu_err(&err));
    assert_non_null(strstr(text, "block: resblock"));
    if (spec_load_text(GOOD_DIR "/resolved.yaml", text, NULL, 0, &b, &err)) fail_msg("%s\n%s", tu_err(&err), text);
    for (int m = 0; m < a.n_models; m++) {
        assert_int_equal(b.models[m].n_nodes, a.models[m].n_nodes);
        for (int k = 0; k < a.models[m].n_nodes; k++) {
            const NodeDef *x = &a.models[m].nodes[k], *y = &b.models[m].nodes[k];
            assert_string_equal(x->name, y->name);
            assert_int_equal(x->n_inputs, y->n_inputs);
            assert_memory_equal(x->attr, y->attr, sizeof x->attr);
        }
    }
    free(text);
    spec_free(&a);
    spec_free(&b);
}

static void expect_error(const char *text, const char *want)
{
    Spec s;
    Error err = {0};
    if (spec_load_text(GOOD_DIR "/inline.yaml", text, NULL, 0, &s, &err) == 0) {
        spec_free(&s);
        fail_msg("loaded without error; expected %s", want);
    }
    assert_string_equal(tu_err(&err), want);
}

static void test_errors(void **state)
{
    (void)state;
    /* Doubling at every level: 2^20 nodes stop at the limit instead of exhausting memory. */
    char text[4096];
    int n = snprintf(text, sizeof text, "models:\n  m:\n    input: [2]\n    blocks:\n      b0: {nodes: [relu]}\n");
    for (int i = 1; i <= 20; i++)
        n += snprintf(text + n, sizeof text - (size_t)n, "      b%d: {nodes: [{block: b%d}, {block: b%d}]}\n", i, i - 1, i - 1);
    snprintf(text + n, sizeof text - (size_t)n, "    layers: [{block: b20}]\n");
    Spec s;
    Error err = {0};
    assert_int_equal(spec_load_text(GOOD_DIR "/inline.yaml", text, NULL, 0, &s, &err), -1);
    assert_non_null(strstr(tu_err(&err), "error: model 'm' has more than 16384 nodes after expanding blocks"));

    /* Hierarchical names must fit. */
    expect_error("models:\n  m:\n    input: [2]\n    blocks: {b: {nodes: [{name: a_rather_long_node_name_inside, op: relu}]}}\n"
                 "    layers: [{name: an_instance_name_that_is_long_too, block: b}]\n",
                 GOOD_DIR "/inline.yaml:4:33: error: node name 'an_instance_name_that_is_long_too.a_rather_long_node_name_"
                          "inside' is longer than 63 characters; use shorter names; in block 'b' used at " GOOD_DIR
                          "/inline.yaml:5:14");
    expect_error("models:\n  m:\n    input: [2]\n    blocks: {b: {params: {name: 1}, nodes: [relu]}}\n    layers: [relu]\n",
                 GOOD_DIR "/inline.yaml:4:27: error: parameter 'name' of block 'b' would clash with the 'name' of a use; "
                          "rename it");
    expect_error("models:\n  m:\n    input: [2]\n    layers: [{block: b}]\n",
                 GOOD_DIR "/inline.yaml:4:22: error: unknown block 'b': model 'm' defines no blocks (define them under "
                          "'blocks:')");
    expect_error("models:\n  m:\n    inputs: {x: [2], y: [2]}\n    blocks: {b: {nodes: [relu]}}\n    nodes: [{block: b}]\n",
                 GOOD_DIR "/inline.yaml:5:21: error: the first node of model 'm' must say which input it reads ('in:'), "
                          "as the model has several");
}

/* The output of `runner check SPEC`, which must succeed. */
static const char *check_output(const char *spec)
{
    const char *r = getenv("RUNNER");
    char cmd[512];
    snprintf(cmd, sizeof cmd, "%s check %s 2>&1", r && r[0] ? r : "build/runner", spec);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    static char out[1 << 16];
    size_t len = fread(out, 1, sizeof out - 1, p);
    out[len] = '\0';
    int st = pclose(p);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) fail_msg("runner check %s failed:\n%s", spec, out);
    return out;
}

/* `runner check` lists the expanded nodes under their hierarchical names. */
static void test_check_shows_expansion(void **state)
{
    (void)state;
    const char *out = check_output("experiments/nets/resnet_mini.yaml");
    assert_non_null(strstr(out, "  layer2.shortcut.conv  conv2d "));
    assert_non_null(strstr(out, "(-1, 32, 14, 14)"));
    assert_non_null(strstr(out, "trainable parameters: 38,266\n"));
}

/* `runner check` states what each self_attention's P x P matrices cost. */
static void test_check_states_attention_memory(void **state)
{
    (void)state;
    const char *out = check_output(GOOD_DIR "/attention.yaml");
    assert_non_null(strstr(out, "  attn1.attn  self_attention  (-1, 16, 8, 8)  "));
    assert_non_null(strstr(out, "attention: 4 heads x 64 x 64 floats = 64.0 KiB per sample, 256.0 KiB at batch 4"));
    assert_non_null(strstr(out, "attention: 1 head x 64 x 64 floats = 16.0 KiB per sample, 64.0 KiB at batch 4"));
    assert_non_null(strstr(out, "trainable parameters: 2,675\n"));
}

TU_MAIN(NULL, NULL,
        cmocka_unit_test(test_expansion),
        cmocka_unit_test(test_output_not_last),
        cmocka_unit_test(test_resnet_matches_pytorch),
        cmocka_unit_test(test_inception_modules),
        cmocka_unit_test(test_include_and_overrides),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_check_shows_expansion),
        cmocka_unit_test(test_check_states_attention_memory))
