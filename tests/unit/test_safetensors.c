/* Safetensors files and checkpoints: round trips, files PyTorch wrote (every dtype, a state_dict),
 * our files read by Python, corrupt files rejected with messages naming the path, and checkpoint
 * loading that checks names, shapes and dtypes before touching anything. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runner/io/checkpoint.h"
#include "runner/io/safetensors.h"
#include "tests/unit/testutil.h"

static void expect_error(int rc, const Error *err, const char *part)
{
    assert_int_equal(rc, -1);
    if (!strstr(err->msg, part)) fail_msg("message '%s' lacks '%s'", tu_err(err), part);
}

/* The file test_safetensors writes and safetensors_reference.py's `verify` expects. */
static int write_known(const char *path, Error *err)
{
    float a[6];
    for (int i = 0; i < 6; i++) a[i] = i * 0.25f - 0.5f;
    int64_t b = 42;
    Shape sa = shape_of(2, (int64_t)2, (int64_t)3), sb = shape_make(0, NULL),
          sc = shape_of(1, (int64_t)0);
    StWriter *w = st_writer_new();
    int rc = st_writer_add_f32(w, "a", &sa, a, err) || st_writer_add_i64(w, "b", &sb, &b, err) ||
             st_writer_add_f32(w, "c", &sc, NULL, err) || st_writer_meta(w, "k", "v", err) ||
             st_writer_save(w, path, err);
    st_writer_free(w);
    return rc ? -1 : 0;
}

static void test_round_trip(void **state)
{
    (void)state;
    char path[512], tmp[600];
    Error err = {0};
    tu_tmp(path, sizeof path, "round.safetensors");
    assert_int_equal(write_known(path, &err), 0);
    assert_int_equal(write_known(path, &err), 0); /* replaces an existing file */
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    assert_int_equal(access(tmp, F_OK), -1);     /* nothing left behind */

    StFile f;
    if (st_read(path, &f, &err)) fail_msg("%s", tu_err(&err));
    assert_int_equal(f.n, 3);
    assert_int_equal((long)(f.size % 8), 0);     /* header padded: data stays aligned */
    const StTensor *a = st_find(&f, "a"), *b = st_find(&f, "b"), *c = st_find(&f, "c");
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(c);
    assert_null(st_find(&f, "d"));
    assert_int_equal(a->dtype, ST_F32);
    assert_int_equal(a->shape.ndim, 2);
    assert_int_equal(a->shape.dim[1], 3);
    float got[6];
    assert_int_equal(st_to_f32(a, got, 6, &err), 0);
    for (int i = 0; i < 6; i++) assert_float_equal(got[i], i * 0.25f - 0.5f, 0);
    assert_int_equal(b->dtype, ST_I64);
    assert_int_equal(b->shape.ndim, 0);
    assert_int_equal(st_to_f32(b, got, 1, &err), 0);
    assert_float_equal(got[0], 42, 0);
    assert_int_equal(c->nbytes, 0);
    assert_string_equal(st_meta(&f, "k"), "v");
    assert_null(st_meta(&f, "missing"));
    expect_error(st_to_f32(a, got, 5, &err), &err, "tensor 'a' (2, 3) has 6 elements, expected 5");
    st_free(&f);
}

static void test_writer_rejects_bad_names(void **state)
{
    (void)state;
    Error err = {0};
    StWriter *w = st_writer_new();
    Shape s = shape_of(1, (int64_t)1);
    float x = 1;
    assert_int_equal(st_writer_add_f32(w, "x", &s, &x, &err), 0);
    expect_error(st_writer_add_f32(w, "x", &s, &x, &err), &err, "tensor 'x' added twice");
    expect_error(st_writer_add_f32(w, "__metadata__", &s, &x, &err), &err, "invalid tensor name");
    expect_error(st_writer_save(w, "/nonexistent-dir/x.safetensors", &err), &err,
                 "/nonexistent-dir/x.safetensors");
    st_writer_free(w);
}

/* Reads the fixture PyTorch wrote (safetensors_reference.py) and checks every dtype. */
static void check_torch_file(const char *path)
{
    StFile f;
    Error err = {0};
    if (st_read(path, &f, &err)) fail_msg("%s", tu_err(&err));
    assert_string_equal(st_meta(&f, "format"), "pt");
    static const struct {
        const char *name;
        StDtype dtype;
        int n;
        int kind; /* 0: values(i); 1: integers 2*values(i); 2: |..|; 3: != 0 */
    } cases[] = {
        {"f32", ST_F32, 6, 0}, {"f64", ST_F64, 6, 0}, {"f16", ST_F16, 5, 0},
        {"bf16", ST_BF16, 5, 0}, {"i64", ST_I64, 4, 1}, {"i32", ST_I32, 4, 1},
        {"u8", ST_U8, 4, 2}, {"bool", ST_BOOL, 4, 3},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const StTensor *t = st_find(&f, cases[c].name);
        if (!t) fail_msg("%s: no tensor '%s'", path, cases[c].name);
        assert_int_equal(t->dtype, cases[c].dtype);
        float got[8];
        if (st_to_f32(t, got, (size_t)cases[c].n, &err)) fail_msg("%s", tu_err(&err));
        for (int i = 0; i < cases[c].n; i++) {
            double v = i * 0.5 * (i % 2 ? -1 : 1), want = v;
            if (cases[c].kind == 1) want = 2 * v;
            if (cases[c].kind == 2) want = fabs(2 * v);
            if (cases[c].kind == 3) want = v != 0;
            if (got[i] != (float)want)
                fail_msg("%s: %s[%d] = %g, expected %g", path, cases[c].name, i, got[i], want);
        }
    }
    const StTensor *s = st_find(&f, "scalar"), *e = st_find(&f, "empty");
    assert_non_null(s);
    assert_non_null(e);
    assert_int_equal(s->shape.ndim, 0);
    float v;
    assert_int_equal(st_to_f32(s, &v, 1, &err), 0);
    assert_float_equal(v, 7.25f, 0);
    assert_int_equal(e->shape.ndim, 2);
    assert_int_equal(e->shape.dim[0], 0);
    assert_int_equal(e->nbytes, 0);
    st_free(&f);
}

static void test_reads_pytorch_files(void **state)
{
    (void)state;
    char path[1024];
    check_torch_file(tu_fixture_path(path, sizeof path, "safetensors/torch_written.safetensors"));
    /* Written by the safetensors package itself (tools/setup.sh installs it). */
    check_torch_file(tu_fixture_path(path, sizeof path, "safetensors/torch_written_official.safetensors"));
}

static void test_python_reads_ours(void **state)
{
    (void)state;
    const char *script = "tests/parity/safetensors_reference.py";
    if (access("/usr/bin/python3", X_OK) != 0) fail_msg("/usr/bin/python3 is missing: run make setup");
    char path[512], cmd[1200];
    Error err = {0};
    tu_tmp(path, sizeof path, "ours.safetensors");
    assert_int_equal(write_known(path, &err), 0);
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s verify '%s'", script, path);
    int rc = system(cmd);
    assert_true(WIFEXITED(rc));
    assert_int_equal(WEXITSTATUS(rc), 0);
}

/* Writes 8-byte length + header + n_data zero bytes (length as given, so it can lie). */
static void write_raw(const char *path, uint64_t hlen, const char *header, size_t n_data)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    unsigned char len[8];
    for (int i = 0; i < 8; i++) len[i] = (unsigned char)(hlen >> (8 * i));
    fwrite(len, 1, 8, f);
    fwrite(header, 1, strlen(header), f);
    for (size_t i = 0; i < n_data; i++) fputc(0, f);
    fclose(f);
}

static void expect_corrupt(const char *name, uint64_t hlen, const char *header, size_t n_data,
                           const char *part)
{
    char path[512];
    tu_tmp(path, sizeof path, name);
    write_raw(path, hlen == UINT64_MAX ? strlen(header) : hlen, header, n_data);
    StFile f;
    Error err = {0};
    int rc = st_read(path, &f, &err);
    if (rc == 0) fail_msg("%s was accepted", name);
    if (strncmp(err.msg, path, strlen(path)) != 0) fail_msg("message '%s' does not name %s", tu_err(&err), path);
    expect_error(rc, &err, part);
    assert_null(f.data); /* nothing left to free */
}

static void test_corrupt_files(void **state)
{
    (void)state;
    const uint64_t H = UINT64_MAX; /* the header's true length */
    const char *one = "{\"x\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}}";
    expect_corrupt("truncated", H, one, 20, "truncated: the tensors need 24 bytes of data but only 20 follow");
    expect_corrupt("padded", H, one, 30, "30 bytes of data follow the header but the tensors use only 24");
    expect_corrupt("bad_length", 1u << 20, one, 24, "header length 1048576 does not fit");
    expect_corrupt("huge_length", 0xffffffffffffull, one, 24, "does not fit");
    expect_corrupt("bad_json", H, "{\"x\":{\"dtype\":\"F32\",", 24, "header is not valid JSON");
    expect_corrupt("not_object", H, "[1, 2]", 0, "header must be a JSON object");
    expect_corrupt("trailing", H, "{}xyz", 0, "extra bytes after its JSON object");
    expect_corrupt("overlap", H,
                   "{\"x\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
                   "\"y\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}",
                   16, "overlap tensor 'x'");
    expect_corrupt("gap", H,
                   "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                   "\"y\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[12,20]}}",
                   20, "leave a gap after byte 8");
    expect_corrupt("shape_mismatch", H,
                   "{\"x\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,20]}}", 20,
                   "tensor 'x': F32 (2, 3) needs 24 bytes but data_offsets [0, 20] hold 20");
    expect_corrupt("dtype_mismatch", H,
                   "{\"x\":{\"dtype\":\"F64\",\"shape\":[3],\"data_offsets\":[0,12]}}", 12,
                   "F64 (3,) needs 24 bytes");
    expect_corrupt("unknown_dtype", H,
                   "{\"x\":{\"dtype\":\"F8\",\"shape\":[3],\"data_offsets\":[0,3]}}", 3,
                   "dtype must be one of F32");
    expect_corrupt("negative_dim", H,
                   "{\"x\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,0]}}", 0,
                   "shape[0] is not a valid size");
    expect_corrupt("reversed_offsets", H,
                   "{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", 4,
                   "data_offsets must be [begin, end]");
    expect_corrupt("duplicate", H,
                   "{\"x\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
                   "\"x\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}",
                   2, "tensor 'x' appears twice");
    expect_corrupt("bad_meta", H, "{\"__metadata__\":{\"k\":1}}", 0, "__metadata__ value of 'k'");

    char path[512];
    Error err = {0};
    StFile f;
    tu_tmp(path, sizeof path, "short");
    FILE *fp = fopen(path, "wb");
    fputs("abc", fp);
    fclose(fp);
    expect_error(st_read(path, &f, &err), &err, "too short for a safetensors file");
    tu_tmp(path, sizeof path, "does_not_exist");
    expect_error(st_read(path, &f, &err), &err, "does_not_exist: cannot open");
}

/* Sizes read from a file never wrap around: each product is checked before it is taken. */
static void test_sizes_that_would_overflow(void **state)
{
    (void)state;
    const uint64_t H = UINT64_MAX;
    expect_corrupt("numel_2_64", H, "{\"x\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,0]}}",
                   0, "tensor 'x': shape has more than 2^50 elements");
    expect_corrupt("numel_2_51", H, "{\"x\":{\"dtype\":\"U8\",\"shape\":[67108864,33554432],\"data_offsets\":[0,0]}}", 0,
                   "shape has more than 2^50 elements");
    /* As the reference: the running product is checked, even when a later size is 0. */
    expect_corrupt("numel_then_zero", H,
                   "{\"x\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,0],\"data_offsets\":[0,0]}}", 0,
                   "shape has more than 2^50 elements");
    expect_corrupt("dim_2_51", H, "{\"x\":{\"dtype\":\"F32\",\"shape\":[2251799813685248],\"data_offsets\":[0,0]}}", 0,
                   "shape[0] is not a valid size");
    expect_corrupt("bytes_2_53", H,
                   "{\"x\":{\"dtype\":\"F64\",\"shape\":[1125899906842624],\"data_offsets\":[0,8]}}", 8,
                   "needs 9007199254740992 bytes but data_offsets [0, 8] hold 8");
    expect_corrupt("offsets_past_2_53", H,
                   "{\"x\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[18446744073709551615,0]}}", 1,
                   "data_offsets must be [begin, end]");
    expect_corrupt("end_past_data", H,
                   "{\"x\":{\"dtype\":\"U8\",\"shape\":[8],\"data_offsets\":[9007199254740984,9007199254740992]}}", 8,
                   "leave a gap after byte 0");
    expect_corrupt("header_length_2_64", UINT64_MAX - 1, "{}", 0, "does not fit");

    /* A zero-size tensor with large sizes is valid, and holds nothing. */
    char path[512];
    tu_tmp(path, sizeof path, "zero_numel");
    write_raw(path, strlen("{\"x\":{\"dtype\":\"F32\",\"shape\":[0,1099511627776],\"data_offsets\":[0,0]}}"),
              "{\"x\":{\"dtype\":\"F32\",\"shape\":[0,1099511627776],\"data_offsets\":[0,0]}}", 0);
    StFile f;
    Error err = {0};
    if (st_read(path, &f, &err)) fail_msg("%s", tu_err(&err));
    assert_int_equal(f.tensors[0].nbytes, 0);
    st_free(&f);
}

/* Paths that are no file to read say so, for plain files and for checkpoints. */
static void test_directory_and_empty_paths(void **state)
{
    (void)state;
    StFile f;
    Error err = {0};
    char path[512];
    expect_error(st_read(tu_tmpdir, &f, &err), &err, "is a directory, not a safetensors file");
    assert_null(strstr(err.msg, "out of memory"));
    expect_error(checkpoint_load(tu_tmpdir, NULL, 0, NULL, 0, true, &err), &err, "is a directory");
    tu_tmp(path, sizeof path, "empty.safetensors");
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    fclose(fp);
    expect_error(st_read(path, &f, &err), &err, "empty.safetensors: is empty, not a safetensors file");
    expect_error(st_read("/dev/null", &f, &err), &err, "/dev/null: is not a regular file");
}

/* ---- checkpoints ---- */

static Network *make_net(const char *name, int in, int out)
{
    NetDef def;
    memset(&def, 0, sizeof def);
    snprintf(def.name, sizeof def.name, "%s", name);
    Error err = {0};
    Network *net = network_new(&def, &err);
    assert_non_null(net);
    const Backend *be = backend_cpu();
    Shape w = shape_of(2, (int64_t)out, (int64_t)in), b = shape_of(1, (int64_t)out),
          c = shape_make(0, NULL);
    Param *ps[4] = {param_new("0.weight", &w, be, &err), param_new("0.bias", &b, be, &err),
                    param_new("1.running_mean", &b, be, &err),
                    param_new("1.num_batches_tracked", &c, be, &err)};
    for (int i = 2; i < 4; i++) {
        ps[i]->trainable = false;
        ps[i]->is_buffer = true;
    }
    ps[3]->is_counter = true;
    for (int i = 0; i < 4; i++) {
        assert_non_null(ps[i]);
        size_t n = tensor_numel(&ps[i]->value);
        float vals[64];
        for (size_t k = 0; k < n; k++) vals[k] = (float)(i * 100 + (int)k) * 0.01f;
        if (i == 3) vals[0] = 3;
        be->upload(ps[i]->value.data, vals, n);
        assert_int_equal(paramset_add(&net->params, ps[i], &err), 0);
    }
    net->params_ready = true;
    return net;
}

static void fill_param(Param *p, float v)
{
    p->be->fill(p->value.data, tensor_numel(&p->value), v);
}

static bool param_equals(const Param *a, const Param *b)
{
    float x[64], y[64];
    size_t n = tensor_numel(&a->value);
    a->be->download(x, a->value.data, n);
    b->be->download(y, b->value.data, n);
    return memcmp(x, y, n * sizeof *x) == 0;
}

static Optimizer *make_opt(Network *net)
{
    OptimConfig c;
    optim_config_defaults(&c, OPTIM_ADAM);
    Error err = {0};
    Optimizer *o = optim_new(net->def.name, &c, net->params.items, 2, &err);
    assert_non_null(o);
    return o;
}

static void test_checkpoint_round_trip(void **state)
{
    (void)state;
    Error err = {0};
    char path[512];
    tu_tmp(path, sizeof path, "ckpt.safetensors");
    Network *g = make_net("generator", 3, 4), *d = make_net("discriminator", 4, 1);
    Optimizer *og = make_opt(g), *od = make_opt(d);
    float grad[12];
    for (int i = 0; i < 12; i++) grad[i] = (float)i - 5;
    float *grads[2] = {grad, grad}; /* CPU backend memory is host memory */
    assert_int_equal(optim_step(og, grads, 1e-2, &err), 0);
    assert_int_equal(optim_step(og, grads, 1e-2, &err), 0);
    Network *nets[2] = {g, d};
    Optimizer *opts[2] = {og, od};
    const char *keys[1] = {"step"}, *vals[1] = {"2"};
    if (checkpoint_save(path, nets, 2, opts, 2, keys, vals, 1, &err)) fail_msg("%s", tu_err(&err));

    StFile f;
    assert_int_equal(st_read(path, &f, &err), 0);
    const StTensor *nbt = st_find(&f, "generator.1.num_batches_tracked");
    assert_non_null(nbt);
    assert_int_equal(nbt->dtype, ST_I64);
    assert_int_equal(nbt->shape.ndim, 0);
    assert_non_null(st_find(&f, "optim.generator.0.weight.exp_avg_sq"));
    const StTensor *steps = st_find(&f, "optim.generator.steps");
    assert_non_null(steps);
    assert_int_equal(*(const int64_t *)(const void *)steps->data, 2);
    assert_string_equal(st_meta(&f, "step"), "2");
    st_free(&f);

    Network *g2 = make_net("generator", 3, 4), *d2 = make_net("discriminator", 4, 1);
    Optimizer *og2 = make_opt(g2), *od2 = make_opt(d2);
    for (int i = 0; i < 4; i++) fill_param(g2->params.items[i], -9);
    Network *nets2[2] = {g2, d2};
    Optimizer *opts2[2] = {og2, od2};
    if (checkpoint_load(path, nets2, 2, opts2, 2, true, &err)) fail_msg("%s", tu_err(&err));
    for (int i = 0; i < 4; i++) assert_true(param_equals(g->params.items[i], g2->params.items[i]));
    assert_int_equal(og2->steps, 2);
    assert_int_equal(og2->param_steps[1], 2);
    assert_memory_equal(og2->state[1], og->state[1], 12 * sizeof(float));
    /* Further steps continue exactly as the original would. */
    assert_int_equal(optim_step(og, grads, 1e-2, &err), 0);
    assert_int_equal(optim_step(og2, grads, 1e-2, &err), 0);
    assert_true(param_equals(g->params.items[0], g2->params.items[0]));

    /* Weights only: optimizer state and other networks in the file are ignored unless strict. */
    Network *only[1] = {g2};
    if (checkpoint_load(path, only, 1, NULL, 0, false, &err)) fail_msg("%s", tu_err(&err));
    expect_error(checkpoint_load(path, only, 1, NULL, 0, true, &err), &err, "unexpected tensors:");

    optim_free(og); optim_free(od); optim_free(og2); optim_free(od2);
    network_free(g); network_free(d); network_free(g2); network_free(d2);
}

static void test_checkpoint_mismatches(void **state)
{
    (void)state;
    Error err = {0};
    char path[512];
    tu_tmp(path, sizeof path, "small.safetensors");
    Network *g = make_net("generator", 3, 4);
    Network *nets[1] = {g};
    assert_int_equal(checkpoint_save(path, nets, 1, NULL, 0, NULL, NULL, 0, &err), 0);

    Network *wide = make_net("generator", 5, 4);
    fill_param(wide->params.items[1], -9);
    Network *w1[1] = {wide};
    char want[700];
    snprintf(want, sizeof want, "%s: tensor 'generator.0.weight' has shape (4, 3) in the file but "
             "(4, 5) here", path);
    expect_error(checkpoint_load(path, w1, 1, NULL, 0, true, &err), &err, want);
    float b[4];
    wide->params.items[1]->be->download(b, wide->params.items[1]->value.data, 4);
    assert_float_equal(b[0], -9, 0); /* nothing was loaded */

    Network *other = make_net("critic", 3, 4);
    Network *o1[1] = {other};
    expect_error(checkpoint_load(path, o1, 1, NULL, 0, false, &err), &err,
                 "4 missing tensors: critic.0.weight, critic.0.bias, critic.1.running_mean, "
                 "critic.1.num_batches_tracked");
    expect_error(checkpoint_load(path, o1, 1, NULL, 0, true, &err), &err, "missing tensors");

    /* A network with a parameter the file lacks, and the converse. */
    Error e2 = {0};
    Shape s = shape_of(1, (int64_t)2);
    Param *extra = param_new("2.weight", &s, backend_cpu(), &e2);
    assert_int_equal(paramset_add(&g->params, extra, &e2), 0);
    expect_error(checkpoint_load(path, nets, 1, NULL, 0, true, &err), &err,
                 "1 missing tensor: generator.2.weight");
    assert_int_equal(checkpoint_save(path, nets, 1, NULL, 0, NULL, NULL, 0, &err), 0);
    Network *small = make_net("generator", 3, 4);
    Network *s1[1] = {small};
    expect_error(checkpoint_load(path, s1, 1, NULL, 0, false, &err), &err,
                 "1 unexpected tensor: generator.2.weight");
    network_free(g); network_free(wide); network_free(other); network_free(small);
}

/* A PyTorch state_dict (Linear + BatchNorm1d, prefixed "net.") loads into our parameters. */
static void test_checkpoint_loads_pytorch_state_dict(void **state)
{
    (void)state;
    char path[1024];
    tu_fixture_path(path, sizeof path, "safetensors/torch_written.safetensors");
    StFile f;
    Error err = {0};
    if (st_read(path, &f, &err)) fail_msg("%s", tu_err(&err));
    Network *net = make_net("net", 3, 4);
    /* The BatchNorm's other tensors, as our batchnorm1d declares them. */
    Shape c = shape_of(1, (int64_t)4);
    const char *more[3] = {"1.weight", "1.bias", "1.running_var"};
    for (int i = 0; i < 3; i++) {
        Param *p = param_new(more[i], &c, backend_cpu(), &err);
        p->trainable = i < 2;
        p->is_buffer = i == 2;
        assert_int_equal(paramset_add(&net->params, p, &err), 0);
    }
    Network *nets[1] = {net};
    if (checkpoint_load_file(&f, path, nets, 1, NULL, 0, false, &err)) fail_msg("%s", tu_err(&err));
    float got[12], want[12];
    Param *w = paramset_find(&net->params, "0.weight");
    w->be->download(got, w->value.data, 12);
    assert_int_equal(st_to_f32(st_find(&f, "net.0.weight"), want, 12, &err), 0);
    assert_memory_equal(got, want, sizeof got);
    Param *nbt = paramset_find(&net->params, "1.num_batches_tracked");
    nbt->be->download(got, nbt->value.data, 1);
    assert_float_equal(got[0], 1, 0); /* one training forward in the reference */
    expect_error(checkpoint_load_file(&f, path, nets, 1, NULL, 0, true, &err), &err,
                 "unexpected tensors: f32, f64");
    network_free(net);
    st_free(&f);
}

TU_MAIN(tu_group_setup, tu_group_teardown,
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_writer_rejects_bad_names),
        cmocka_unit_test(test_reads_pytorch_files),
        cmocka_unit_test(test_python_reads_ours),
        cmocka_unit_test(test_corrupt_files),
        cmocka_unit_test(test_sizes_that_would_overflow),
        cmocka_unit_test(test_directory_and_empty_paths),
        cmocka_unit_test(test_checkpoint_round_trip),
        cmocka_unit_test(test_checkpoint_mismatches),
        cmocka_unit_test(test_checkpoint_loads_pytorch_state_dict))
