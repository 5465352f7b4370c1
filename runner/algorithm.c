/* The table of training algorithms, by the spec's loss.type. */
#include "runner/algorithm.h"

#include "runner/adversarial.h"

#include <string.h>

extern const Algorithm algo_classifier; /* runner/algo_classifier.c */

static const Algorithm *const algorithms[] = {&algo_gan, &algo_wgan, &algo_wgan_gp, &algo_classifier};

const Algorithm *algorithm_find(const char *loss_type)
{
    for (size_t i = 0; i < sizeof algorithms / sizeof algorithms[0]; i++)
        if (!strcmp(algorithms[i]->name, loss_type)) return algorithms[i];
    return NULL;
}
