/* Every point of a sweep validated before any runs: its spec loaded with the point's overrides
 * placed at the sweep file's lines (so a missing key, a wrong type or a value out of range points
 * there), the training algorithm's own check of the networks, and the command line the point's
 * run will be given read back to the same resolved spec. */
#include "runner/sweep/sweep.h"

#include "runner/algo/algorithm.h"

#include <stdlib.h>
#include <string.h>

static int resolved(const Spec *spec, char **text, Error *err)
{
    size_t len;
    return spec_resolved_text(spec, text, &len, err);
}

/* The run reads its overrides back from "path=value" texts: they must say what the file says. */
static int same_as_command_line(const SweepPoint *p, const Spec *spec, Error *err)
{
    Spec again;
    if (spec_load(p->spec, (const char *const *)p->args, p->n_sets, &again, err)) return -1;
    char *a = NULL, *b = NULL;
    int rc = resolved(spec, &a, err) || resolved(&again, &b, err) ? -1 : 0;
    if (rc == 0 && strcmp(a, b) != 0)
        rc = err_internal(err, "the command line of point '%s' does not reproduce its sweep values", p->name);
    free(a);
    free(b);
    spec_free(&again);
    return rc;
}

static int check_point(const SweepPoint *p, Error *err)
{
    Spec spec;
    if (spec_load_sets(p->spec, p->sets, p->n_sets, &spec, err)) return -1;
    const Algorithm *algo = algorithm_find(spec.loss.type);
    char summary[256];
    int rc = 0;
    if (!algo) rc = err_set(err, "loss type '%s' has no training algorithm", spec.loss.type);
    if (rc == 0 && algo->check) rc = algo->check(&spec, spec.data.batch_size, summary, sizeof summary, err);
    if (rc == 0) rc = same_as_command_line(p, &spec, err);
    spec_free(&spec);
    return rc;
}

int sweep_check(const Sweep *s, Error *err)
{
    for (int i = 0; i < s->n_points; i++)
        if (check_point(&s->points[i], err)) return err_prefix(err, "point '%s': ", s->points[i].name);
    return 0;
}
