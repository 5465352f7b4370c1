/* The table of training algorithms, by the spec's loss.type. */
#include "runner/algorithm.h"

#include "runner/adversarial.h"

#include <string.h>

static const Algorithm *const algorithms[] = {&algo_gan, &algo_wgan, &algo_wgan_gp};

const Algorithm *algorithm_find(const char *loss_type)
{
    for (size_t i = 0; i < sizeof algorithms / sizeof algorithms[0]; i++)
        if (!strcmp(algorithms[i]->name, loss_type)) return algorithms[i];
    return NULL;
}
