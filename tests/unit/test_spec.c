/* Specs: every malformed file in tests/specs/bad gives exactly the error its first line states;
 * valid files parse to the values they say (defaults, overrides, includes, DAGs, aliases); no
 * input crashes the loader (every truncation of every valid spec, random junk); and the runner's
 * `check`, `ops` and `keys` commands print what the docs and PyTorch say. */
#include "graph/graph.h"
#include "graph/network.h"
#include "runner/algo/algorithm.h"
#include "runner/spec/spec.h"
#include "tests/unit/testutil.h"

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#define BAD_DIR "tests/specs/bad"
#define GOOD_DIR "tests/specs/good"

static char *read_text(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    size_t got = buf ? fread(buf, 1, (size_t)n, f) : 0;
    fclose(f);
    if (!buf) return NULL;
    buf[got] = '\0';
    if (len) *len = got;
    return buf;
}

static void load_ok(const char *path, const char *const *sets, int n_sets, Spec *spec)
{
    Error err = {0};
    if (spec_load(path, sets, n_sets, spec, &err)) fail_msg("%s: %s", path, tu_err(&err));
}

/* Builds every model on the CPU backend, as `runner check` does; shape errors surface here. */
static int build_models(const Spec *spec, Error *err)
{
    for (int i = 0; i < spec->n_models; i++) {
        const NetDef *def = &spec->models[i];
        Network *net = network_new(def, err);
        Graph *g = graph_new(backend_cpu());
        Node *in[NET_MAX_INPUTS], *out;
        int rc = net && g ? 0 : -1;
        for (int k = 0; rc == 0 && k < def->n_inputs; k++) {
            Shape s = {.ndim = def->inputs[k].shape.ndim + 1, .dim = {spec->data.batch_size}};
            for (int d = 0; d < def->inputs[k].shape.ndim; d++) s.dim[d + 1] = def->inputs[k].shape.dim[d];
            if (!(in[k] = graph_input(g, def->inputs[k].name, &s, false, err))) rc = -1;
        }
        if (rc == 0) rc = network_apply(net, g, in, def->n_inputs, spec->seed, &out, NULL, err);
        if (rc == 0) rc = spec_check_inits(net, err);
        graph_free(g);
        network_free(net);
        if (rc) return -1;
    }
    return 0;
}

/* ---- malformed specs ---- */

static void test_bad_specs(void **state)
{
    (void)state;
    DIR *dir = opendir(BAD_DIR);
    assert_non_null(dir);
    int checked = 0, failures = 0;
    for (struct dirent *e; (e = readdir(dir));) {
        size_t n = strlen(e->d_name);
        if (n < 6 || strcmp(e->d_name + n - 5, ".yaml")) continue;
        char path[512], *text;
        snprintf(path, sizeof path, "%s/%s", BAD_DIR, e->d_name);
        assert_non_null(text = read_text(path, NULL));
        /* "# expect: MESSAGE" (file-relative: the directory is prefixed), then optional "# set: k=v". */
        char want[1024] = "", set[256] = "";
        const char *p = strstr(text, "# expect: ");
        const char *q = strstr(text, "# set: ");
        assert_non_null(p);
        p += strlen("# expect: ");
        int len = (int)strcspn(p, "\n");
        if (!strncmp(p, "--set", 5))
            snprintf(want, sizeof want, "%.*s", len, p);
        else
            snprintf(want, sizeof want, "%s/%.*s", BAD_DIR, len, p);
        if (q) snprintf(set, sizeof set, "%.*s", (int)strcspn(q + 7, "\n"), q + 7);
        free(text);

        const char *sets[1] = {set};
        Spec spec;
        Error err = {0};
        int rc = spec_load(path, sets, set[0] ? 1 : 0, &spec, &err);
        if (rc == 0) {
            rc = build_models(&spec, &err);
            spec_free(&spec);
        }
        if (rc == 0) {
            print_error("%s: loaded without error; expected:\n  %s\n", path, want);
            failures++;
        } else if (strcmp(tu_err(&err), want) != 0) {
            print_error("%s:\n  want: %s\n  got:  %s\n", path, want, tu_err(&err));
            failures++;
        }
        checked++;
    }
    closedir(dir);
    assert_int_equal(failures, 0);
    assert_true(checked >= 25);
}

/* ---- valid specs ---- */

static void test_defaults(void **state)
{
    (void)state;
    Spec s;
    load_ok(GOOD_DIR "/minimal.yaml", NULL, 0, &s);
    assert_string_equal(s.name, "minimal");
    assert_int_equal(s.seed, 0);
    assert_string_equal(s.backend, "auto");
    assert_string_equal(s.data.dataset, "fashion_mnist");
    assert_string_equal(s.data.root, "/usr/share/datasets/fashion-mnist");
    assert_string_equal(s.data.split, "train");
    assert_int_equal(s.data.batch_size, 64);
    assert_true(s.data.shuffle);
    assert_false(s.data.drop_last);
    assert_true(s.data.normalize[0] == -1 && s.data.normalize[1] == 1);
    assert_int_equal(s.data.channels, 0);
    assert_true(s.data.resize[0] == 0 && s.data.resize[1] == 0);
    assert_string_equal(s.data.fit, "crop");
    assert_int_equal(s.data.pad, 0);
    assert_string_equal(s.data.flip, "none");
    assert_string_equal(s.loss.type, "");
    assert_int_equal(s.n_optimizers, 0);
    assert_int_equal(s.schedule.type, SCHED_CONSTANT);
    assert_int_equal(s.train.epochs, 1);
    assert_int_equal(s.train.steps, 0);
    assert_int_equal(s.train.checkpoint_every, 500);
    assert_int_equal(s.train.threads, 0);
    assert_int_equal(s.log.every_steps, 50);
    assert_int_equal(s.samples.every_epochs, 1);
    assert_int_equal(s.samples.count, 100);
    assert_int_equal(s.samples.nrow, 10);
    assert_false(s.fid.enabled);
    assert_int_equal(s.n_models, 1);
    assert_string_equal(s.models[0].name, "net");
    assert_int_equal(s.models[0].n_inputs, 1);
    assert_string_equal(s.models[0].inputs[0].name, "input");
    assert_int_equal(s.models[0].inputs[0].shape.dim[0], 8);
    assert_string_equal(s.models[0].nodes[0].name, "0");
    assert_string_equal(s.models[0].nodes[0].op->name, "relu");
    spec_free(&s);
}

static void test_full(void **state)
{
    (void)state;
    Spec s;
    load_ok(GOOD_DIR "/full.yaml", NULL, 0, &s);
    assert_string_equal(s.name, "full_run");
    assert_int_equal(s.seed, 42);
    assert_string_equal(s.backend, "cpu");
    assert_string_equal(s.data.dataset, "mnist");
    assert_string_equal(s.data.root, "/data/mnist");
    assert_string_equal(s.data.split, "test");
    assert_int_equal(s.data.batch_size, 32);
    assert_false(s.data.shuffle);
    assert_true(s.data.drop_last);
    assert_true(s.data.normalize[0] == 0 && s.data.normalize[1] == 1);
    assert_int_equal(s.data.channels, 3);
    assert_true(s.data.resize[0] == 30 && s.data.resize[1] == 24);
    assert_string_equal(s.data.fit, "stretch");
    assert_int_equal(s.data.pad, 1);
    assert_string_equal(s.data.flip, "horizontal");
    assert_string_equal(s.loss.type, "wgan");
    assert_true(s.loss.clip == 0.02);
    assert_int_equal(s.loss.n_critic, 3);
    assert_string_equal(s.loss.discriminator, "critic");
    assert_string_equal(s.loss.order, "discriminator_first");
    const SpecOptimizer *g = spec_optimizer(&s, "generator"), *c = spec_optimizer(&s, "critic");
    assert_non_null(g);
    assert_non_null(c);
    assert_int_equal(g->cfg.type, OPTIM_RMSPROP);
    assert_true(g->cfg.lr == 5e-5 && g->cfg.alpha == 0.9 && g->cfg.centered && g->cfg.eps == 1e-8);
    assert_int_equal(c->cfg.type, OPTIM_SGD);
    assert_true(c->cfg.lr == 0.1 && c->cfg.momentum == 0.9 && c->cfg.nesterov);
    assert_true(c->cfg.clip_weights == 0.01 && c->cfg.clip_grad_norm == 1.5);
    assert_int_equal(s.schedule.type, SCHED_LINEAR_WARMUP);
    assert_int_equal(s.schedule.after, SCHED_COSINE);
    assert_int_equal(s.schedule.warmup_steps, 100);
    assert_true(s.schedule.start_factor == 0.5 && s.schedule.eta_min == 1e-6);
    assert_int_equal(s.schedule.t_max, 1000);
    assert_int_equal(s.train.epochs, 7);
    assert_int_equal(s.train.steps, 300);
    assert_int_equal(s.train.checkpoint_every, 50);
    assert_int_equal(s.train.threads, 2);
    assert_int_equal(s.log.every_steps, 10);
    assert_int_equal(s.samples.every_epochs, 2);
    assert_int_equal(s.samples.count, 64);
    assert_int_equal(s.samples.nrow, 8);
    assert_true(s.fid.enabled);
    assert_string_equal(s.fid.features, "results/lenet_mnist");
    assert_int_equal(s.fid.samples, 2000);
    assert_string_equal(s.fid.ref_dataset, "mnist");
    assert_string_equal(s.fid.ref_split, "train");
    assert_int_equal(s.fid.every_epochs, 5);
    assert_false(s.fid.at_end);
    assert_int_equal(s.fid.also, 3u);
    assert_string_equal(s.fid.weights, "w.safetensors");
    assert_int_equal(s.fid.batch_size, 50);
    /* The include's parameter reached the network. */
    const NetDef *gen = spec_model(&s, "generator");
    assert_non_null(gen);
    assert_int_equal(gen->inputs[0].shape.dim[0], 100);
    char where[256];
    assert_string_equal(spec_where(&s, "optimizers.critic.lr", where, sizeof where), GOOD_DIR "/full.yaml:12:27");
    spec_free(&s);
}

/* The spec's tables give the same defaults as the optimizers themselves (graph/optim.c). */
static void test_optimizer_defaults_match(void **state)
{
    (void)state;
    const char *types[] = {"sgd", "adam", "adamw", "rmsprop"};
    for (int t = 0; t < 4; t++) {
        char text[256];
        snprintf(text, sizeof text, "models: {g: {input: [2], layers: [relu]}}\noptimizers: {g: {type: %s}}\n", types[t]);
        Spec s;
        Error err = {0};
        if (spec_load_text("inline.yaml", text, NULL, 0, &s, &err)) fail_msg("%s", tu_err(&err));
        OptimConfig want;
        optim_config_defaults(&want, (OptimType)t);
        const OptimConfig *got = &s.optimizers[0].cfg;
        assert_int_equal(got->type, want.type);
        assert_true(got->lr == want.lr && got->beta1 == want.beta1 && got->beta2 == want.beta2);
        assert_true(got->eps == want.eps && got->weight_decay == want.weight_decay && got->alpha == want.alpha);
        assert_true(got->momentum == want.momentum && got->dampening == want.dampening);
        assert_true(got->nesterov == want.nesterov && got->centered == want.centered);
        spec_free(&s);
    }
}

static void test_loss_defaults(void **state)
{
    (void)state;
    Spec s;
    Error err = {0};
    const char *text = "models: {generator: {input: [2], layers: [relu]}, discriminator: {input: [2], layers: [relu]}}\n"
                       "loss: {type: wgan}\n";
    if (spec_load_text("inline.yaml", text, NULL, 0, &s, &err)) fail_msg("%s", tu_err(&err));
    assert_true(s.loss.clip == 0.01);
    assert_int_equal(s.loss.n_critic, 5);
    assert_string_equal(s.loss.generator, "generator");
    assert_string_equal(s.loss.order, "generator_first");
    /* Trained models without an entry in optimizers get Adam's defaults. */
    assert_int_equal(s.n_optimizers, 2);
    assert_int_equal(spec_optimizer(&s, "discriminator")->cfg.type, OPTIM_ADAM);
    spec_free(&s);
}

/* The spec takes its loss types from the algorithm table: each row's type loads, with the models
 * it trains getting optimizers, names that algorithm, and says which report table it goes in. */
static void test_loss_types_are_the_algorithms(void **state)
{
    (void)state;
    const SpecLossKind *k;
    int n = 0;
    for (; (k = spec_loss_kind(n)); n++) {
        const Algorithm *a = algorithm_find(k->type);
        assert_non_null(a);
        assert_ptr_equal(&a->loss, k);
        static const char *const families[] = {"adversarial", "diffusion", "classifier"};
        bool known = false;
        for (int f = 0; f < 3; f++) known |= k->family && !strcmp(k->family, families[f]);
        if (!known) fail_msg("loss type %s declares no report family", k->type);
        assert_int_equal(k->adversarial, !strcmp(k->family, "adversarial"));
        char text[256];
        snprintf(text, sizeof text, "models: {generator: {input: [2], layers: [relu]}%s}\nloss: {type: %s}\n",
                 k->adversarial ? ", discriminator: {input: [2], layers: [relu]}" : "", k->type);
        Spec s;
        Error err = {0};
        if (spec_load_text("inline.yaml", text, NULL, 0, &s, &err)) fail_msg("%s: %s", k->type, tu_err(&err));
        assert_string_equal(s.loss.type, k->type);
        assert_int_equal(s.n_optimizers, k->adversarial ? 2 : 1);
        spec_free(&s);
    }
    assert_true(n >= 4);
    assert_null(algorithm_find("no_such_loss"));
}

/* A diffusion spec: the loss's defaults, the samples keys ddpm adds and `ema:`; the resolved spec
 * (defaults written out, the timestep list too) loads back to the same values. */
static void test_ddpm_defaults(void **state)
{
    (void)state;
    Spec s, b;
    Error err = {0};
    const char *text = "models: {den: {inputs: {x: [1, 4, 4], t: [1]}, nodes: [{name: o, op: add, in: [x, x]}]}}\n"
                       "loss: {type: ddpm}\n";
    if (spec_load_text("inline.yaml", text, NULL, 0, &s, &err)) fail_msg("%s", tu_err(&err));
    assert_int_equal(s.loss.timesteps, 1000);
    assert_string_equal(s.loss.schedule, "linear");
    assert_true(s.loss.beta_start == 1e-4 && s.loss.beta_end == 0.02);
    assert_string_equal(s.loss.prediction, "epsilon");
    assert_string_equal(s.loss.model, "den");
    assert_string_equal(s.samples.sampler, "ddpm");
    assert_int_equal(s.samples.steps, 0);
    assert_true(s.samples.eta == 0 && s.samples.clip);
    assert_string_equal(s.samples.variance, "beta");
    assert_int_equal(s.samples.forward_timesteps.n, 4);
    assert_int_equal(s.samples.forward_timesteps.v[3], 60);
    assert_false(s.ema.enabled);
    spec_free(&s);
    load_ok(GOOD_DIR "/ddpm_tiny.yaml", NULL, 0, &s);
    assert_true(s.ema.enabled && s.ema.decay == 0.9 && s.ema.start_step == 5);
    assert_string_equal(s.samples.sampler, "ddim");
    assert_int_equal(s.samples.forward_timesteps.n, 5);
    assert_int_equal(s.samples.forward_timesteps.v[4], 99);
    int budget = YAML_MAX_NODES;
    YNode *resolved = ynode_copy(s.tree, &budget);
    char *out;
    size_t len;
    assert_non_null(resolved);
    if (spec_fill_defaults(&s, resolved, &err) || yaml_write(resolved, &out, &len, &err)) fail_msg("%s", tu_err(&err));
    if (spec_load_text(GOOD_DIR "/resolved.yaml", out, NULL, 0, &b, &err)) fail_msg("%s\n%s", tu_err(&err), out);
    assert_memory_equal(&b.samples, &s.samples, sizeof s.samples);
    assert_memory_equal(&b.ema, &s.ema, sizeof s.ema);
    assert_non_null(strstr(out, "reverse_images: 4"));
    free(out);
    ynode_free(resolved);
    spec_free(&b);
    spec_free(&s);
    /* The timestep list is checked element by element. */
    const char *bad[] = {"samples.forward_timesteps=[1, x]", "samples.forward_timesteps=[0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16]"};
    const char *want[] = {"--set samples.forward_timesteps=[1, x]: error: 'forward_timesteps' expects an integer, found 'x'",
                          "--set samples.forward_timesteps=[0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16]: error: "
                          "'forward_timesteps' holds at most 16 values, found 17"};
    for (int i = 0; i < 2; i++) {
        assert_int_not_equal(spec_load(GOOD_DIR "/ddpm_tiny.yaml", &bad[i], 1, &s, &err), 0);
        assert_string_equal(tu_err(&err), want[i]);
    }
}

static void test_overrides(void **state)
{
    (void)state;
    const char *sets[] = {"data.batch_size=16", "optimizers.generator.alpha=0.5", "models.generator.z_dim=32",
                          "train.steps=40", "loss.n_critic=2", "seed=7", "models.discriminator.channels=3",
                          "fid.also=[kid]"};
    Spec s;
    load_ok("experiments/wgan_mnist.yaml", sets, 8, &s);
    assert_int_equal(s.data.batch_size, 16);
    const SpecOptimizer *g = spec_optimizer(&s, "generator");
    assert_true(g->cfg.alpha == 0.5 && g->cfg.lr == 5e-5);
    assert_int_equal(spec_model(&s, "generator")->inputs[0].shape.dim[0], 32);
    assert_int_equal(spec_model(&s, "discriminator")->inputs[0].shape.dim[0], 3);
    assert_int_equal(s.train.steps, 40);
    assert_int_equal(s.train.epochs, 50);
    assert_int_equal(s.loss.n_critic, 2);
    assert_int_equal(s.seed, 7);
    assert_int_equal(s.fid.also, 1u);
    char where[256];
    assert_string_equal(spec_where(&s, "train.steps", where, sizeof where), "--set train.steps=40");
    spec_free(&s);

    /* A list entry by index, and the last of two overrides of one path wins. */
    const char *sets2[] = {"models.discriminator.layers.0.linear.out=3", "models.discriminator.layers.0.linear.out=5"};
    load_ok(GOOD_DIR "/aliases.yaml", sets2, 2, &s);
    assert_int_equal(spec_model(&s, "discriminator")->nodes[0].attr[attr_index(op_find("linear"), "out")].ints[0], 5);
    spec_free(&s);

    Error err = {0};
    const char *bad[] = {"optimizers.generator.lr=abc"};
    assert_int_equal(spec_load("experiments/gan_mnist.yaml", bad, 1, &s, &err), -1);
    assert_string_equal(tu_err(&err), "--set optimizers.generator.lr=abc: error: 'lr' expects a number, found 'abc'");
    const char *bad2[] = {"optimizers.generatr.lr=1"};
    assert_int_equal(spec_load("experiments/gan_mnist.yaml", bad2, 1, &s, &err), -1);
    assert_string_equal(tu_err(&err), "--set optimizers.generatr.lr=1: error: 'optimizers' names model 'generatr', "
                                      "which is not in models (did you mean 'generator'?)");
    const char *bad3[] = {"models.discriminator.layers.9.relu=1"};
    assert_int_equal(spec_load(GOOD_DIR "/aliases.yaml", bad3, 1, &s, &err), -1);
    assert_string_equal(tu_err(&err), "--set models.discriminator.layers.9.relu=1: error: 'models.discriminator.layers' "
                                      "is a list of 1 entries; '9' is not an index from 0 to 0");
    const char *bad4[] = {"train"};
    assert_int_equal(spec_load(GOOD_DIR "/minimal.yaml", bad4, 1, &s, &err), -1);
    assert_string_equal(tu_err(&err),
                        "--set train: error: expected --set dotted.path=value, e.g. --set train.steps=100");
}

static void test_includes(void **state)
{
    (void)state;
    Spec s;
    load_ok(GOOD_DIR "/include.yaml", NULL, 0, &s);
    const NetDef *a = spec_model(&s, "a"), *b = spec_model(&s, "b");
    assert_int_equal(a->inputs[0].shape.dim[0], 16);
    assert_int_equal(b->inputs[0].shape.dim[0], 8);
    assert_string_equal(a->nodes[1].op->name, "relu");
    assert_string_equal(b->nodes[1].op->name, "tanh");
    assert_string_equal(b->nodes[1].name, "act");
    assert_int_equal(b->nodes[0].attr[attr_index(b->nodes[0].op, "out")].ints[0], 8);
    /* Nodes point into the net file; the substituted value points where it was given. */
    assert_string_equal(a->nodes[0].where, GOOD_DIR "/nets/block.yaml:7:5");
    char where[256];
    assert_string_equal(spec_where(&s, "models.b.input.0", where, sizeof where), GOOD_DIR "/include.yaml:4:40");
    spec_free(&s);

    Error err = {0};
    assert_int_equal(spec_load_text(GOOD_DIR "/x.yaml", "models: {a: {include: nets/block.yaml}}\n", NULL, 0, &s, &err), -1);
    assert_string_equal(tu_err(&err),
                        GOOD_DIR "/x.yaml:1:13: error: model 'a' must give parameter 'width' of nets/block.yaml");
}

static void test_dag(void **state)
{
    (void)state;
    Spec s;
    load_ok(GOOD_DIR "/dag.yaml", NULL, 0, &s);
    const NetDef *u = spec_model(&s, "unet");
    assert_int_equal(u->n_inputs, 2);
    assert_string_equal(u->inputs[0].name, "x");
    assert_string_equal(u->inputs[1].name, "t");
    assert_int_equal(u->n_nodes, 7);
    assert_string_equal(u->nodes[0].name, "h1");
    assert_int_equal(u->nodes[0].n_inputs, 1);
    assert_string_equal(u->nodes[0].inputs[0], "x");
    assert_int_equal(u->nodes[0].weight_init.kind, INIT_NORMAL);
    assert_true(u->nodes[0].weight_init.a == 0.5 && u->nodes[0].weight_init.b == 0.02);
    assert_int_equal(u->nodes[0].bias_init.kind, INIT_ZEROS);
    assert_int_equal(u->nodes[1].n_inputs, 2);
    assert_string_equal(u->nodes[1].inputs[1], "t");
    assert_string_equal(u->nodes[2].name, "h2");
    assert_int_equal(u->nodes[2].n_inputs, 0); /* reads the previous node */
    const AttrValue *k = &u->nodes[2].attr[attr_index(u->nodes[2].op, "kernel")];
    assert_true(k->n == 2 && k->ints[0] == 1 && k->ints[1] == 3);
    assert_int_equal(u->nodes[2].weight_init.kind, INIT_KAIMING_NORMAL);
    assert_true(u->nodes[2].weight_init.a == 0.2 && u->nodes[2].weight_init.b == 1);
    assert_int_equal(u->nodes[3].n_inputs, 3);
    assert_string_equal(u->nodes[4].name, "4");
    assert_true(u->nodes[4].attr[0].f == 0.2);
    assert_int_equal(u->nodes[5].weight_init.kind, INIT_XAVIER_UNIFORM);
    assert_true(u->nodes[5].weight_init.a == 1);
    assert_int_equal(u->nodes[5].bias_init.kind, INIT_CONSTANT);
    assert_true(u->nodes[5].bias_init.a == 0.1);
    assert_string_equal(u->output, "cat");
    Error err = {0};
    if (build_models(&s, &err)) fail_msg("%s", tu_err(&err));
    spec_free(&s);
}

/* The ops of a diffusion UNet from YAML: timestep and class embeddings, group norm, FiLM. */
static void test_time_conditioned(void **state)
{
    (void)state;
    Spec s;
    load_ok(GOOD_DIR "/time_conditioned.yaml", NULL, 0, &s);
    const NetDef *d = spec_model(&s, "denoiser");
    assert_int_equal(d->n_inputs, 3);
    assert_int_equal(d->inputs[1].shape.ndim, 1);
    const NodeDef *temb = &d->nodes[0], *shifted = &d->nodes[12];
    assert_string_equal(temb->op->name, "time_embedding");
    assert_true(temb->attr[attr_index(temb->op, "flip_sin_to_cos")].ints[0] == 1);
    assert_true(temb->attr[attr_index(temb->op, "downscale_freq_shift")].f == 0.0);
    assert_string_equal(shifted->attr[attr_index(shifted->op, "mode")].s, "shift");
    Error err = {0};
    if (build_models(&s, &err)) fail_msg("%s", err.msg);
    spec_free(&s);
}

static void test_aliases(void **state)
{
    (void)state;
    Spec s;
    load_ok(GOOD_DIR "/aliases.yaml", NULL, 0, &s);
    const SpecOptimizer *d = spec_optimizer(&s, "discriminator");
    assert_true(d->cfg.lr == 2e-4 && d->cfg.beta1 == 0.5);
    spec_free(&s);
}

/* The resolved tree written back as YAML loads to the same spec. */
static void test_round_trip(void **state)
{
    (void)state;
    Spec a, b;
    const char *sets[] = {"train.steps=12"};
    load_ok(GOOD_DIR "/full.yaml", sets, 1, &a);
    char *text;
    size_t len;
    Error err = {0};
    if (yaml_write(a.tree, &text, &len, &err)) fail_msg("%s", tu_err(&err));
    if (spec_load_text(GOOD_DIR "/resolved.yaml", text, NULL, 0, &b, &err)) fail_msg("%s\n%s", tu_err(&err), text);
    assert_int_equal(b.train.steps, 12);
    assert_string_equal(b.name, a.name);
    assert_int_equal(b.n_models, a.n_models);
    for (int i = 0; i < a.n_models; i++) {
        assert_int_equal(b.models[i].n_nodes, a.models[i].n_nodes);
        for (int k = 0; k < a.models[i].n_nodes; k++)
            assert_memory_equal(b.models[i].nodes[k].attr, a.models[i].nodes[k].attr, sizeof a.models[i].nodes[k].attr);
    }
    assert_memory_equal(&b.optimizers[1].cfg, &a.optimizers[1].cfg, sizeof a.optimizers[1].cfg);
    assert_memory_equal(&b.schedule, &a.schedule, sizeof a.schedule);
    free(text);
    spec_free(&a);
    spec_free(&b);
}

/* ---- robustness ---- */

/* Every valid spec and network file in the tree. */
static int valid_files(char paths[][256], int max)
{
    static const char *const dirs[] = {"experiments", "experiments/nets", GOOD_DIR, GOOD_DIR "/nets"};
    int n = 0;
    for (int d = 0; d < 4; d++) {
        DIR *dir = opendir(dirs[d]);
        assert_non_null(dir);
        for (struct dirent *e; (e = readdir(dir)) && n < max;) {
            size_t l = strlen(e->d_name);
            if (l > 5 && !strcmp(e->d_name + l - 5, ".yaml"))
                assert_true(snprintf(paths[n++], 256, "%s/%s", dirs[d], e->d_name) < 256);
        }
        closedir(dir);
    }
    return n;
}

/* Loading must end in success or a located message, never a crash (ASan watches the rest). */
static void must_not_crash(const char *label, const char *text, size_t len)
{
    YPool pool = {0};
    YNode *root = NULL;
    Error err = {0};
    if (yaml_load_text(&pool, label, text, len, false, &root, &err))
        assert_true(err.msg[0] != '\0');
    ynode_free(root);
    ypool_free(&pool);
    if (memchr(text, '\0', len)) return; /* specs are text: the spec loader reads up to a NUL */
    Spec s;
    if (spec_load_text(label, text, NULL, 0, &s, &err) == 0)
        spec_free(&s);
    else
        assert_true(err.msg[0] != '\0');
}

static void test_truncations(void **state)
{
    (void)state;
    char files[64][256];
    int n_files = valid_files(files, 64);
    assert_true(n_files >= 10);
    for (int f = 0; f < n_files; f++) {
        size_t len;
        char *text = read_text(files[f], &len);
        assert_non_null(text);
        char *cut = malloc(len + 1);
        for (size_t n = 0; n <= len; n++) {
            memcpy(cut, text, n);
            cut[n] = '\0';
            must_not_crash(files[f], cut, n);
        }
        free(cut);
        free(text);
    }
}

static void test_junk(void **state)
{
    (void)state;
    uint64_t rng = 0x9E3779B97F4A7C15ull;
    char buf[2048];
    for (int round = 0; round < 3000; round++) {
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        size_t len = (size_t)(rng >> 33) % sizeof buf;
        /* Half pure noise, half YAML punctuation (which reaches deeper into the parser). */
        static const char punct[] = "{}[]:,-&*!|>'\"#%@` \n\tab01.$~?";
        for (size_t i = 0; i < len; i++) {
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            unsigned r = (unsigned)(rng >> 40);
            buf[i] = round % 2 ? (char)r : punct[r % (sizeof punct - 1)];
        }
        buf[len] = '\0';
        must_not_crash("junk.yaml", buf, len);
    }
    /* Mutations of a valid spec: flip bytes, keep the rest. */
    size_t len;
    char *text = read_text(GOOD_DIR "/full.yaml", &len);
    for (int round = 0; round < 2000; round++) {
        char *m = malloc(len + 1);
        memcpy(m, text, len + 1);
        for (int k = 0; k < 3; k++) {
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            m[(rng >> 33) % len] = "{}[]:,-&* \n'#$0x"[(rng >> 20) % 16];
        }
        must_not_crash(GOOD_DIR "/full.yaml", m, len);
        free(m);
    }
    free(text);
}

static void test_limits(void **state)
{
    (void)state;
    /* Size: just over the limit. */
    size_t big = YAML_MAX_BYTES + 10;
    char *text = malloc(big + 1);
    memset(text, ' ', big);
    memcpy(text, "a: 1\n", 5);
    text[big] = '\0';
    YPool pool = {0};
    YNode *root;
    Error err = {0};
    assert_int_equal(yaml_load_text(&pool, "big.yaml", text, big, false, &root, &err), -1);
    assert_non_null(strstr(tu_err(&err), "big.yaml: error: file too large"));
    /* Nodes: a flat list of many values. */
    size_t n = 0;
    n += (size_t)sprintf(text, "a: [");
    for (int i = 0; i < YAML_MAX_NODES + 5; i++) n += (size_t)sprintf(text + n, "1,");
    n += (size_t)sprintf(text + n, "1]\n");
    assert_int_equal(yaml_load_text(&pool, "many.yaml", text, n, false, &root, &err), -1);
    assert_non_null(strstr(err.msg, "document too large"));
    /* Exponential aliases stop at the node budget. */
    n = (size_t)sprintf(text, "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for (int i = 1; i < 12; i++)
        n += (size_t)sprintf(text + n, "a%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d]\n", i, i,
                             i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1);
    assert_int_equal(yaml_load_text(&pool, "laughs.yaml", text, n, false, &root, &err), -1);
    assert_non_null(strstr(err.msg, "exceeds 100000 nodes"));
    /* A NUL inside the text is an error, not a silently shorter file. */
    assert_int_equal(yaml_load_text(&pool, "nul.yaml", "a: b\0c\n", 7, false, &root, &err), -1);
    assert_non_null(strstr(tu_err(&err), "nul.yaml:1:"));
    free(text);
    ypool_free(&pool);
}

/* ---- the runner itself ---- */

static const char *runner(void)
{
    const char *r = getenv("RUNNER");
    return r && r[0] ? r : "build/runner";
}

/* Runs `runner ARGS`, capturing stdout (and stderr into the same text when merge). */
static char *run_runner(const char *args, bool merge, int *status)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s %s%s", runner(), args, merge ? " 2>&1" : " 2>/dev/null");
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t cap = 1 << 16, len = 0;
    char *out = malloc(cap);
    for (size_t got; (got = fread(out + len, 1, cap - len - 1, p)) > 0;) {
        len += got;
        if (len + 1 == cap) out = realloc(out, cap *= 2);
    }
    out[len] = '\0';
    int st = pclose(p);
    *status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return out;
}

static void test_check_reference_counts(void **state)
{
    (void)state;
    int st;
    char *out = run_runner("check experiments/nets/pixelshuffle_generator.yaml", false, &st);
    assert_int_equal(st, 0);
    assert_non_null(strstr(out, "trainable parameters: 1,654,121\n"));
    free(out);
    out = run_runner("check experiments/nets/conv_discriminator.yaml", false, &st);
    assert_int_equal(st, 0);
    assert_non_null(strstr(out, "trainable parameters: 1,640,033\n"));
    free(out);
    out = run_runner("check experiments/gan_mnist.yaml", false, &st);
    assert_int_equal(st, 0);
    assert_non_null(strstr(out, "trainable parameters: 1,654,121\n"));
    assert_non_null(strstr(out, "trainable parameters: 1,640,033\n"));
    assert_non_null(strstr(out, "generator -> discriminator: (-1, 1, 28, 28) -> (-1, 1)\n"));
    free(out);
    /* z = 100: only the first linear layer grows, by 36 * 512 weights. */
    out = run_runner("check experiments/wgan_mnist.yaml", false, &st);
    assert_int_equal(st, 0);
    assert_non_null(strstr(out, "trainable parameters: 1,672,553\n"));
    free(out);
}

/* `runner check` says what the networks will be given: the examples after the data's transforms. */
static void test_check_data_shape(void **state)
{
    (void)state;
    int st;
    char *out = run_runner("check " GOOD_DIR "/padded_classifier.yaml", false, &st);
    assert_int_equal(st, 0);
    assert_non_null(strstr(out, "data: fashion_mnist train: examples of 1x32x32 (padded by 2, mirrored at random)\n"));
    free(out);
    out = run_runner("check " GOOD_DIR "/padded_classifier.yaml --set data.pad=0 --set data.resize=[30,24] "
                     "--set data.channels=3 --set data.flip=none", false, &st);
    assert_int_equal(st, 0);
    assert_non_null(strstr(out, "data: fashion_mnist train: examples of 3x30x24 (converted to RGB, resized to 30x24 "
                                "with fit crop)\n"));
    free(out);
    out = run_runner("check " GOOD_DIR "/padded_classifier.yaml --set data.dataset=idx --set data.images=/nonexistent",
                     true, &st);
    assert_int_equal(st, 1);
    assert_string_equal(out, "error: data: /nonexistent: cannot open: No such file or directory\n");
    free(out);
}

static void test_check_every_experiment(void **state)
{
    (void)state;
    DIR *dir = opendir("experiments");
    assert_non_null(dir);
    int n = 0;
    for (struct dirent *e; (e = readdir(dir));) {
        size_t l = strlen(e->d_name);
        if (l < 6 || strcmp(e->d_name + l - 5, ".yaml")) continue;
        char args[512];
        snprintf(args, sizeof args, "check experiments/%s", e->d_name);
        int st;
        char *out = run_runner(args, true, &st);
        if (st != 0) fail_msg("runner %s failed:\n%s", args, out);
        free(out);
        n++;
    }
    closedir(dir);
    assert_true(n >= 5);
}

static void test_check_errors(void **state)
{
    (void)state;
    int st;
    char *out = run_runner("check " BAD_DIR "/bad_key.yaml", true, &st);
    assert_int_equal(st, 1);
    assert_string_equal(out, BAD_DIR "/bad_key.yaml:5:5: error: unknown key 'lyers' in model 'generator' (did you mean "
                             "'layers'?)\n");
    free(out);
    out = run_runner("check experiments/gan_mnist.yaml --set optimizers.generator.lr=abc", true, &st);
    assert_int_equal(st, 1);
    assert_string_equal(out, "--set optimizers.generator.lr=abc: error: 'lr' expects a number, found 'abc'\n");
    free(out);
    /* The generator must fit the discriminator. */
    out = run_runner("check experiments/gan_mnist.yaml --set models.discriminator.channels=3", true, &st);
    assert_int_equal(st, 1);
    assert_non_null(strstr(out, "the generator's output does not fit the discriminator"));
    free(out);
    out = run_runner("check /nonexistent/spec.yaml", true, &st);
    assert_int_equal(st, 1);
    assert_non_null(strstr(out, "/nonexistent/spec.yaml: error: cannot open"));
    free(out);
}

/* docs/SPEC.md carries `runner ops` and `runner keys` verbatim between markers. */
static void check_doc_section(const char *command, const char *begin, const char *end)
{
    int st;
    char *out = run_runner(command, false, &st);
    assert_int_equal(st, 0);
    char *doc = read_text("docs/SPEC.md", NULL);
    assert_non_null(doc);
    char *b = strstr(doc, begin), *e = strstr(doc, end);
    assert_non_null(b);
    assert_non_null(e);
    b += strlen(begin);
    if (*b == '\n') b++;
    *e = '\0';
    bool same = strcmp(b, out) == 0;
    free(doc);
    free(out);
    if (!same)
        fail_msg("docs/SPEC.md is out of date: replace the text between %s and %s with the output of `runner %s`", begin,
                 end, command);
}

static void test_docs_up_to_date(void **state)
{
    (void)state;
    check_doc_section("ops", "<!-- ops:begin -->", "<!-- ops:end -->");
    check_doc_section("keys", "<!-- keys:begin -->", "<!-- keys:end -->");
}

TU_MAIN(NULL, NULL,
        cmocka_unit_test(test_bad_specs),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_full),
        cmocka_unit_test(test_optimizer_defaults_match),
        cmocka_unit_test(test_loss_defaults),
        cmocka_unit_test(test_loss_types_are_the_algorithms),
        cmocka_unit_test(test_ddpm_defaults),
        cmocka_unit_test(test_overrides),
        cmocka_unit_test(test_includes),
        cmocka_unit_test(test_dag),
        cmocka_unit_test(test_time_conditioned),
        cmocka_unit_test(test_aliases),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_truncations),
        cmocka_unit_test(test_junk),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_check_reference_counts),
        cmocka_unit_test(test_check_data_shape),
        cmocka_unit_test(test_check_every_experiment),
        cmocka_unit_test(test_check_errors),
        cmocka_unit_test(test_docs_up_to_date))
