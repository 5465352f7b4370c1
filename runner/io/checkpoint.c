/* Checkpoints as safetensors: every value to save or load becomes a Slot (name, kind, where it
 * lives), so saving, checking and loading walk one list. */
#include "runner/io/checkpoint.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum SlotKind {
    SLOT_F32,      /* float tensor in backend memory */
    SLOT_COUNTER,  /* one float in backend memory, saved as an I64 scalar */
    SLOT_STEP,     /* host int64, saved as an I64 scalar */
} SlotKind;

typedef struct Slot {
    char name[192];
    SlotKind kind;
    const Backend *be;
    float *dev;
    int64_t *step;
    Shape shape;              /* in the file */
    const StTensor *found;    /* loading: the file's tensor */
} Slot;

typedef struct Slots {
    Slot *s;
    int n, cap;
} Slots;

static Slot *slot_add(Slots *l, SlotKind kind, Error *err)
{
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 64;
        Slot *s = realloc(l->s, (size_t)cap * sizeof *s);
        if (!s) {
            err_set(err, "out of memory listing checkpoint tensors");
            return NULL;
        }
        l->s = s;
        l->cap = cap;
    }
    Slot *s = &l->s[l->n++];
    memset(s, 0, sizeof *s);
    s->kind = kind;
    return s;
}

/* Names longer than a safetensors name allows are an error, never silently cut. */
static int slot_name(Slot *s, Error *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int slot_name(Slot *s, Error *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(s->name, sizeof s->name, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof s->name)
        return err_set(err, "tensor name '%s...' is longer than %zu characters", s->name,
                       sizeof s->name - 1);
    return 0;
}

static int collect(Network *const *nets, int n_nets, Optimizer *const *opts, int n_opts,
                   Slots *l, Error *err)
{
    for (int k = 0; k < n_nets; k++) {
        const Network *net = nets[k];
        if (!net->params_ready && net->params.n == 0)
            return err_set(err, "network '%s' has no parameters yet (it was never applied)",
                           net->def.name);
        for (int i = 0; i < net->params.n; i++) {
            Param *p = net->params.items[i];
            Slot *s = slot_add(l, p->is_counter ? SLOT_COUNTER : SLOT_F32, err);
            if (!s) return -1;
            if (slot_name(s, err, "%s.%s", net->def.name, p->name)) return -1;
            s->be = p->be;
            s->dev = p->value.data;
            s->shape = p->is_counter ? shape_make(0, NULL) : p->value.shape;
            if (p->is_counter && tensor_numel(&p->value) != 1)
                return err_set(err, "counter '%s' holds %zu values, expected 1", s->name,
                               tensor_numel(&p->value));
        }
    }
    for (int k = 0; k < n_opts; k++) {
        Optimizer *o = opts[k];
        for (int j = 0; j < optim_state_count(o); j++) {
            Slot *s = slot_add(l, SLOT_F32, err);
            if (!s) return -1;
            int pi;
            s->dev = optim_state_at(o, j, s->name, sizeof s->name, &pi);
            if (!s->dev)
                return err_set(err, "tensor name '%s...' is longer than %zu characters", s->name,
                               sizeof s->name - 1);
            s->be = o->be;
            s->shape = o->params[pi]->value.shape;
        }
        for (int i = 0; i <= o->n; i++) {
            Slot *s = slot_add(l, SLOT_STEP, err);
            if (!s) return -1;
            if (i < o->n) {
                if (slot_name(s, err, "optim.%s.%s.step", o->name, o->params[i]->name)) return -1;
                s->step = &o->param_steps[i];
            } else {
                if (slot_name(s, err, "optim.%s.steps", o->name)) return -1;
                s->step = &o->steps;
            }
            s->shape = shape_make(0, NULL);
        }
    }
    return 0;
}

/* ---- saving ---- */

static int add_slot(StWriter *w, const Slot *s, Error *err)
{
    if (s->kind == SLOT_STEP) return st_writer_add_i64(w, s->name, &s->shape, s->step, err);
    if (s->kind == SLOT_COUNTER) {
        float v;
        s->be->download(&v, s->dev, 1);
        int64_t c = llroundf(v);
        return st_writer_add_i64(w, s->name, &s->shape, &c, err);
    }
    size_t n = (size_t)shape_numel(&s->shape);
    float *host = malloc((n ? n : 1) * sizeof *host);
    if (!host) return err_set(err, "out of memory saving '%s'", s->name);
    s->be->download(host, s->dev, n);
    int rc = st_writer_add_f32(w, s->name, &s->shape, host, err);
    free(host);
    return rc;
}

int checkpoint_save(const char *path, Network *const *nets, int n_nets, Optimizer *const *opts,
                    int n_opts, const char *const *meta_keys, const char *const *meta_values,
                    int n_meta, Error *err)
{
    Slots l = {0};
    StWriter *w = st_writer_new();
    int rc = -1;
    if (!w) {
        err_set(err, "out of memory");
        goto done;
    }
    if (collect(nets, n_nets, opts, n_opts, &l, err)) goto done;
    for (int i = 0; i < l.n; i++)
        if (add_slot(w, &l.s[i], err)) goto done;
    for (int i = 0; i < n_meta; i++)
        if (st_writer_meta(w, meta_keys[i], meta_values[i], err)) goto done;
    rc = st_writer_save(w, path, err); /* its messages name the path */
    st_writer_free(w);
    free(l.s);
    return rc;
done:
    err_prefix(err, "saving checkpoint %s: ", path);
    st_writer_free(w);
    free(l.s);
    return rc;
}

/* ---- loading ---- */

static bool is_float(StDtype d) { return d == ST_F32 || d == ST_F64 || d == ST_F16 || d == ST_BF16; }
static bool is_int(StDtype d) { return d == ST_I64 || d == ST_I32; }

/* Appends ", name" to a list message while it fits, counting what did not. */
static void list_add(char *buf, size_t len, int *listed, int *left, const char *name)
{
    size_t at = strlen(buf);
    if (at + strlen(name) + 40 < len) {
        snprintf(buf + at, len - at, "%s%s", *listed ? ", " : "", name);
        (*listed)++;
    } else {
        (*left)++;
    }
}

static int list_error(Error *err, const char *path, const char *what, int count, const char *list,
                      int left)
{
    if (left)
        return err_set(err, "%s: %d %s tensor%s: %s, and %d more", path, count, what,
                       count == 1 ? "" : "s", list, left);
    return err_set(err, "%s: %d %s tensor%s: %s", path, count, what, count == 1 ? "" : "s", list);
}

/* The slot's tensor exists: its dtype and shape must fit. */
static int check_slot(const char *path, const Slot *s, Error *err)
{
    const StTensor *t = s->found;
    char a[96], b[96];
    if (s->kind == SLOT_F32) {
        if (!is_float(t->dtype))
            return err_set(err, "%s: tensor '%s' has an integer or boolean dtype; expected F32",
                           path, s->name);
        if (!shape_equal(&t->shape, &s->shape))
            return err_set(err, "%s: tensor '%s' has shape %s in the file but %s here", path,
                           s->name, shape_format(&t->shape, a, sizeof a),
                           shape_format(&s->shape, b, sizeof b));
        return 0;
    }
    if (!is_int(t->dtype) && !is_float(t->dtype))
        return err_set(err, "%s: tensor '%s' must be a number (I64)", path, s->name);
    if (shape_numel(&t->shape) != 1)
        return err_set(err, "%s: tensor '%s' has shape %s in the file but is a scalar here", path,
                       s->name, shape_format(&t->shape, a, sizeof a));
    return 0;
}

static int64_t read_int(const StTensor *t)
{
    if (t->dtype == ST_I64) {
        int64_t v;
        memcpy(&v, t->data, 8);
        return v;
    }
    if (t->dtype == ST_I32) {
        int32_t v;
        memcpy(&v, t->data, 4);
        return v;
    }
    float v = 0;
    st_to_f32(t, &v, 1, NULL);
    return llroundf(v);
}

/* Does `name` belong to one of the networks or optimizers being loaded? */
static bool in_scope(const char *name, Network *const *nets, int n_nets, Optimizer *const *opts,
                     int n_opts)
{
    for (int k = 0; k < n_nets; k++) {
        size_t len = strlen(nets[k]->def.name);
        if (strncmp(name, nets[k]->def.name, len) == 0 && name[len] == '.') return true;
    }
    for (int k = 0; k < n_opts; k++) {
        size_t len = strlen(opts[k]->name);
        if (strncmp(name, "optim.", 6) == 0 && strncmp(name + 6, opts[k]->name, len) == 0 &&
            name[6 + len] == '.')
            return true;
    }
    return false;
}

static int find_all(const StFile *f, const char *path, Slots *l, Network *const *nets,
                    int n_nets, Optimizer *const *opts, int n_opts, bool strict, Error *err)
{
    char list[700] = "";
    int count = 0, listed = 0, left = 0;
    for (int i = 0; i < l->n; i++) {
        l->s[i].found = st_find(f, l->s[i].name);
        if (!l->s[i].found) {
            count++;
            list_add(list, sizeof list, &listed, &left, l->s[i].name);
        }
    }
    if (count) return list_error(err, path, "missing", count, list, left);
    for (int j = 0; j < f->n; j++) {
        const char *name = f->tensors[j].name;
        if (!strict && !in_scope(name, nets, n_nets, opts, n_opts)) continue;
        bool known = false;
        for (int i = 0; i < l->n && !known; i++) known = l->s[i].found == &f->tensors[j];
        if (!known) {
            count++;
            list_add(list, sizeof list, &listed, &left, name);
        }
    }
    if (count) return list_error(err, path, "unexpected", count, list, left);
    for (int i = 0; i < l->n; i++)
        if (check_slot(path, &l->s[i], err)) return -1;
    return 0;
}

static int load_slot(const Slot *s, Error *err)
{
    if (s->kind == SLOT_STEP) {
        *s->step = read_int(s->found);
        return 0;
    }
    if (s->kind == SLOT_COUNTER) {
        float v = (float)read_int(s->found);
        s->be->upload(s->dev, &v, 1);
        return 0;
    }
    size_t n = (size_t)shape_numel(&s->shape);
    float *host = malloc((n ? n : 1) * sizeof *host);
    if (!host) return err_set(err, "out of memory loading '%s'", s->name);
    int rc = st_to_f32(s->found, host, n, err);
    if (!rc) s->be->upload(s->dev, host, n);
    free(host);
    return rc;
}

int checkpoint_load_file(const StFile *f, const char *path, Network *const *nets, int n_nets,
                         Optimizer *const *opts, int n_opts, bool strict, Error *err)
{
    Slots l = {0};
    int rc = -1;
    if (collect(nets, n_nets, opts, n_opts, &l, err)) {
        err_prefix(err, "%s: ", path);
        goto done;
    }
    if (find_all(f, path, &l, nets, n_nets, opts, n_opts, strict, err)) goto done;
    for (int i = 0; i < l.n; i++)
        if (load_slot(&l.s[i], err)) goto done;
    rc = 0;
done:
    free(l.s);
    return rc;
}

int checkpoint_load(const char *path, Network *const *nets, int n_nets, Optimizer *const *opts,
                    int n_opts, bool strict, Error *err)
{
    StFile f;
    if (st_read(path, &f, err)) return -1;
    int rc = checkpoint_load_file(&f, path, nets, n_nets, opts, n_opts, strict, err);
    st_free(&f);
    return rc;
}
