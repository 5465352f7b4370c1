/* Checkpoints: a safetensors file loaded into a small network ("fuzz": a linear layer 3 -> 4 and a
 * batch norm's running mean and batch counter) with its Adam optimizer as a resumed run does, and
 * without it as importing weights does.
 * Whatever the file holds, loading either succeeds or leaves a message; it never crashes. */
#include "graph/network.h"
#include "graph/optim.h"
#include "graph/param.h"
#include "runner/io/checkpoint.h"
#include "tests/fuzz/harness.h"

#include <string.h>

static Network *net;
static Optimizer *opt;

static Param *add_param(const char *name, const Shape *shape, bool buffer)
{
    Error err = {0};
    Param *p = param_new(name, shape, backend_cpu(), &err);
    FUZZ_CHECK(p && paramset_add(&net->params, p, &err) == 0);
    p->trainable = !buffer;
    p->is_buffer = buffer;
    return p;
}

/* Built once: the same network and optimizer serve every input (loading overwrites their values). */
static void build(void)
{
    NetDef def;
    memset(&def, 0, sizeof def);
    snprintf(def.name, sizeof def.name, "fuzz");
    Error err = {0};
    FUZZ_CHECK((net = network_new(&def, &err)));
    Shape w = shape_of(2, (int64_t)4, (int64_t)3), b = shape_of(1, (int64_t)4), scalar = shape_make(0, NULL);
    add_param("0.weight", &w, false);
    add_param("0.bias", &b, false);
    add_param("1.running_mean", &b, true);
    add_param("1.num_batches_tracked", &scalar, true)->is_counter = true;
    net->params_ready = true;
    OptimConfig c;
    optim_config_defaults(&c, OPTIM_ADAM);
    FUZZ_CHECK((opt = optim_new("fuzz", &c, net->params.items, 2, &err)));
}

FUZZ_TARGET(checkpoint)
{
    if (!net) build();
    char path[1024];
    fuzz_write(path, sizeof path, "checkpoint.safetensors", data, size);
    /* Resuming a run (strict, with the optimizer), and importing weights alone (lenient). */
    for (int resume = 0; resume < 2; resume++) {
        Error err = {0};
        if (checkpoint_load(path, &net, 1, resume ? &opt : NULL, resume, resume, &err) != 0)
            FUZZ_CHECK(err.msg[0] != '\0');
    }
    return 0;
}
