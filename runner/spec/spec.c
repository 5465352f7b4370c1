/* Loading a spec: read the YAML, apply --set overrides, expand includes, then validate every
 * section into the plain structs of spec.h. */
#include "runner/spec/spec.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const top_keys[] = {"name",       "seed",     "backend", "data", "models", "loss",
                                       "optimizers", "schedule", "train",   "log",  "samples", "ema",    "fid"};
#define N_TOP (int)(sizeof top_keys / sizeof top_keys[0])

void spec_free(Spec *spec)
{
    for (int i = 0; i < spec->n_models; i++) netdef_free(&spec->models[i]);
    ynode_free(spec->tree);
    ypool_free(&spec->pool);
    memset(spec, 0, sizeof *spec);
}

static int parse_top(Spec *spec, YNode *root, Error *err)
{
    char buf[96];
    if (root->kind != Y_MAP)
        return yerr(err, root, "a spec is a mapping of sections (name, models, data, ...), found %s",
                    ynode_describe(root, buf, sizeof buf));
    for (int i = 0; i < root->n; i++) {
        bool known = false;
        for (int k = 0; k < N_TOP; k++) known |= !strcmp(root->keys[i]->text, top_keys[k]);
        if (!known) return fields_unknown_key(err, root->keys[i], "the spec", top_keys, N_TOP);
    }
    if (spec_parse_top_values(spec, root, err)) return -1;

    YNode *models = ymap_get(root, "models");
    if (!models) return yerr(err, root, "missing required key 'models' in the spec (the networks to build)");
    return spec_parse_models(spec, models, err);
}

/* A network file given where a spec is expected (`runner check nets/x.yaml`) becomes a spec with
 * one model that includes it with its default parameters. */
static int wrap_network_file(Spec *spec, Error *err)
{
    YNode *root = spec->tree;
    if (root->kind != Y_MAP || ymap_get(root, "models") || (!ymap_get(root, "layers") && !ymap_get(root, "nodes")))
        return 0;
    char name[NET_NAME_MAX];
    const char *base = strrchr(spec->path, '/');
    base = base ? base + 1 : spec->path;
    snprintf(name, sizeof name, "%.*s", (int)strcspn(base, "."), base);
    for (char *c = name; *c; c++)
        if (!(isalnum((unsigned char)*c) || *c == '_')) *c = '_';
    const char *file = root->file;
    YNode *inc = ynode_new_scalar(base, file, 1, 1), *entry = ynode_new_map(file, 1, 1);
    if (!inc || !entry || ynode_map_add(entry, "include", inc, file, 1, 1)) {
        ynode_free(inc), ynode_free(entry);
        return err_set(err, "out of memory");
    }
    YNode *models = ynode_new_map(file, 1, 1);
    if (!models || ynode_map_add(models, name, entry, file, 1, 1)) {
        ynode_free(entry), ynode_free(models);
        return err_set(err, "out of memory");
    }
    YNode *top = ynode_new_map(file, 1, 1);
    if (!top || ynode_map_add(top, "models", models, file, 1, 1)) {
        ynode_free(models), ynode_free(top);
        return err_set(err, "out of memory");
    }
    ynode_free(root);
    spec->tree = top;
    return 0;
}

/* The overrides of a load: command-line texts, or located values (SpecSet). */
typedef struct Overrides {
    const char *const *texts;
    const SpecSet *sets;
    int n;
} Overrides;

static int apply_overrides(Spec *spec, const Overrides *o, Error *err)
{
    for (int i = 0; i < o->n; i++) {
        if (o->texts) {
            if (spec_apply_override(&spec->pool, spec->tree, o->texts[i], err)) return -1;
            continue;
        }
        int budget = YAML_MAX_NODES;
        YNode *value = ynode_copy(o->sets[i].value, &budget);
        if (!value) return err_set(err, "out of memory copying an override");
        if (spec_apply_set(&spec->pool, spec->tree, o->sets[i].path, value, o->sets[i].at, err)) return -1;
    }
    return 0;
}

static int load(Spec *spec, const char *label, const char *text, size_t len, const Overrides *o, Error *err)
{
    memset(spec, 0, sizeof *spec);
    snprintf(spec->path, sizeof spec->path, "%s", label);
    int rc = text ? yaml_load_text(&spec->pool, label, text, len, false, &spec->tree, err)
                  : yaml_load_file(&spec->pool, label, &spec->tree, err);
    if (rc == 0) rc = wrap_network_file(spec, err);
    if (rc == 0 && spec->tree->kind == Y_MAP)
        rc = apply_overrides(spec, o, err);
    if (rc == 0) rc = parse_top(spec, spec->tree, err);
    if (rc == 0) rc = spec_parse_sections(spec, spec->tree, err);
    if (rc) spec_free(spec);
    return rc;
}

int spec_load(const char *path, const char *const *sets, int n_sets, Spec *spec, Error *err)
{
    return load(spec, path, NULL, 0, &(Overrides){.texts = sets, .n = n_sets}, err);
}

int spec_load_sets(const char *path, const SpecSet *sets, int n_sets, Spec *spec, Error *err)
{
    return load(spec, path, NULL, 0, &(Overrides){.sets = sets, .n = n_sets}, err);
}

int spec_load_text(const char *label, const char *text, const char *const *sets, int n_sets, Spec *spec, Error *err)
{
    return load(spec, label, text, strlen(text), &(Overrides){.texts = sets, .n = n_sets}, err);
}

const NetDef *spec_model(const Spec *spec, const char *name)
{
    for (int i = 0; i < spec->n_models; i++)
        if (!strcmp(spec->models[i].name, name)) return &spec->models[i];
    return NULL;
}

const SpecOptimizer *spec_optimizer(const Spec *spec, const char *model)
{
    for (int i = 0; i < spec->n_optimizers; i++)
        if (!strcmp(spec->optimizers[i].model, model)) return &spec->optimizers[i];
    return NULL;
}

const char *spec_where(const Spec *spec, const char *dotted, char *buf, size_t len)
{
    buf[0] = '\0';
    const YNode *n = spec->tree;
    char path[SPEC_TEXT_MAX];
    snprintf(path, sizeof path, "%s", dotted);
    char *save = NULL;
    for (char *seg = strtok_r(path, ".", &save); seg && n; seg = strtok_r(NULL, ".", &save)) {
        if (n->kind == Y_SEQ) {
            int i = atoi(seg);
            n = i >= 0 && i < n->n ? n->vals[i] : NULL;
        } else {
            n = ymap_get(n, seg);
        }
    }
    return n ? ynode_where(n, buf, len) : buf;
}
