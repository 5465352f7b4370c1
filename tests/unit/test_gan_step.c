/* A full training step of the reference GAN against PyTorch (tests/parity/gan_step_reference.py):
 * the same initial weights, noise and real MNIST batches, three steps of "generator first, then
 * the discriminator on the detached fake batch" with Adam; losses of every step and every weight
 * and buffer after steps 1 and 3 must match.
 *
 * Tolerances.  Losses: |ours - torch| <= 1e-4 * |torch|.  Weights and buffers, per tensor:
 * ||ours - torch||_2 <= 1e-4 * ||torch||_2.  Not elementwise, because Adam's first steps move
 * every weight by about lr * sign(gradient): where a gradient is within float32 rounding of
 * zero, PyTorch itself (float32 against float64) disagrees by up to 2 * lr on that element.
 * Biases that feed a batch norm have an exact gradient of zero, so all their updates are such
 * rounding noise, and the norm's running mean follows them (the fixture's metadata
 * "rounding_driven" lists both): for them |ours - torch| <= 2 * lr * step, elementwise (each side
 * moves at most about lr per step).  Counters (num_batches_tracked) must be equal. */
#include "runner/checkpoint.h"
#include "runner/gan_step.h"
#include "tests/unit/testutil.h"

#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <cmocka.h>

#define LOSS_RTOL 1e-4
#define WEIGHT_RTOL 1e-4

static void must(int rc, const Error *err)
{
    if (rc) fail_msg("%s", err->msg);
}

static void load_f32(const StFile *f, const char *name, float *dst, size_t n)
{
    Error err = {{0}};
    const StTensor *t = st_find(f, name);
    if (!t) fail_msg("fixture tensor '%s' is missing", name);
    must(st_to_f32(t, dst, n, &err), &err);
}

static bool in_list(const char *name, const char *comma_list)
{
    size_t len = strlen(name);
    for (const char *p = comma_list; p && *p;) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n == len && strncmp(p, name, n) == 0) return true;
        p = end ? end + 1 : NULL;
    }
    return false;
}

/* Compares every parameter and buffer of net with `after` (see the tolerances above). */
static void compare_network(const Network *net, const StFile *after, const char *noisy, double lr,
                            int step)
{
    for (int i = 0; i < net->params.n; i++) {
        const Param *p = net->params.items[i];
        char name[256], msg[512];
        snprintf(name, sizeof name, "%s.%s", net->def.name, p->name);
        size_t n = tensor_numel(&p->value);
        float *ours = malloc(n * sizeof *ours), *want = malloc(n * sizeof *want);
        assert_non_null(ours);
        assert_non_null(want);
        p->be->download(ours, p->value.data, n);
        load_f32(after, name, want, n);
        if (p->is_counter) {
            for (size_t k = 0; k < n; k++)
                if (ours[k] != want[k])
                    fail_msg("step %d: %s: got %g, want %g", step, name, ours[k], want[k]);
        } else if (in_list(name, noisy)) {
            if (!tu_allclose(name, ours, want, n, 0.0, 2.0 * lr * step, msg, sizeof msg))
                fail_msg("step %d: %s", step, msg);
        } else {
            double d2 = 0, w2 = 0;
            for (size_t k = 0; k < n; k++) {
                if (!isfinite(ours[k])) fail_msg("step %d: %s[%zu] is %g", step, name, k, ours[k]);
                d2 += ((double)ours[k] - want[k]) * ((double)ours[k] - want[k]);
                w2 += (double)want[k] * want[k];
            }
            if (sqrt(d2) > WEIGHT_RTOL * sqrt(w2))
                fail_msg("step %d: %s: relative L2 error %.3g > %.0e (max |torch| %.3g)", step, name,
                         sqrt(d2 / (w2 > 0 ? w2 : 1)), WEIGHT_RTOL, tu_max_abs(want, n));
        }
        free(ours);
        free(want);
    }
}

static void check_loss(const char *what, int step, float ours, float want)
{
    if (!(fabs((double)ours - want) <= LOSS_RTOL * fabs((double)want)))
        fail_msg("step %d: %s: got %.8g, PyTorch %.8g", step, what, ours, want);
}

static void test_three_steps_match_pytorch(void **state)
{
    (void)state;
    Error err = {{0}};
    char path[512];
    StFile steps = {0};
    must(st_read(tu_fixture_path(path, sizeof path, "gan_step/steps.safetensors"), &steps, &err), &err);
    const char *steps_text = st_meta(&steps, "steps"), *lr_text = st_meta(&steps, "lr");
    const char *noisy = st_meta(&steps, "rounding_driven");
    assert_non_null(steps_text);
    assert_non_null(lr_text);
    assert_non_null(noisy);
    int n_steps = atoi(steps_text);
    double lr = atof(lr_text);
    assert_true(n_steps >= 1);

    GanReference ref;
    must(gan_reference_load("experiments", &ref, &err), &err);
    /* The fixture's learning rate is the one the reference spec gives. */
    assert_true(fabs(ref.opt_g.lr - lr) < 1e-12 && fabs(ref.opt_d.lr - lr) < 1e-12);
    GanStep s;
    must(gan_step_init(&s, backend_cpu(), ref.gen, ref.disc, 64, 0, &ref.opt_g, &ref.opt_d, &err), &err);
    Network *nets[2] = {ref.gen, ref.disc};
    must(checkpoint_load(tu_fixture_path(path, sizeof path, "gan_step/init.safetensors"), nets, 2,
                         NULL, 0, true, &err), &err);

    size_t nz = (size_t)shape_numel(&s.z->out.shape), nx = (size_t)shape_numel(&s.real->out.shape);
    float *z = malloc(nz * sizeof *z), *real = malloc(nx * sizeof *real);
    assert_non_null(z);
    assert_non_null(real);
    for (int k = 1; k <= n_steps; k++) {
        char name[64];
        float g_loss, d_loss, want_g, want_d;
        snprintf(name, sizeof name, "step%d.z", k);
        load_f32(&steps, name, z, nz);
        snprintf(name, sizeof name, "step%d.real", k);
        load_f32(&steps, name, real, nx);
        must(gan_step_run(&s, z, real, &g_loss, &d_loss, &err), &err);
        snprintf(name, sizeof name, "step%d.g_loss", k);
        load_f32(&steps, name, &want_g, 1);
        snprintf(name, sizeof name, "step%d.d_loss", k);
        load_f32(&steps, name, &want_d, 1);
        check_loss("generator loss", k, g_loss, want_g);
        check_loss("discriminator loss", k, d_loss, want_d);

        if (k != 1 && k != n_steps) continue; /* weights are saved after the first and last */
        snprintf(name, sizeof name, "gan_step/after%d.safetensors", k);
        StFile after = {0};
        must(st_read(tu_fixture_path(path, sizeof path, name), &after, &err), &err);
        compare_network(ref.gen, &after, noisy, lr, k);
        compare_network(ref.disc, &after, noisy, lr, k);
        st_free(&after);
    }
    free(z);
    free(real);
    gan_step_free(&s);
    gan_reference_free(&ref);
    st_free(&steps);
}

/* A generator whose output the discriminator cannot take is refused with both shapes named. */
static void test_mismatched_networks_are_refused(void **state)
{
    (void)state;
    Error err = {{0}};
    GanReference ref;
    must(gan_reference_load("experiments", &ref, &err), &err);
    GanStep s;
    assert_int_equal(gan_step_init(&s, backend_cpu(), ref.gen, ref.gen, 8, 0, &ref.opt_g, &ref.opt_d, &err), -1);
    assert_non_null(strstr(err.msg, "makes (8, 1, 28, 28)"));
    assert_non_null(strstr(err.msg, "takes (8, 64)"));
    gan_reference_free(&ref);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_three_steps_match_pytorch),
        cmocka_unit_test(test_mismatched_networks_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
