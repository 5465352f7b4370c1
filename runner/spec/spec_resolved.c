/* The resolved spec a run leaves in its results folder: the spec's tree (includes expanded,
 * --set overrides applied) with every default made explicit, loadable again by `runner sample`
 * and `runner run`. */
#include "runner/io/atomic_file.h"
#include "runner/spec/spec.h"

#include <stdlib.h>

int spec_resolved_text(const Spec *spec, char **text, size_t *len, Error *err)
{
    int budget = YAML_MAX_NODES;
    YNode *tree = ynode_copy(spec->tree, &budget);
    if (!tree) return err_set(err, "out of memory copying the spec");
    *text = NULL;
    *len = 0;
    int rc = spec_fill_defaults(spec, tree, err);
    if (rc == 0) rc = yaml_write(tree, text, len, err);
    ynode_free(tree);
    return rc;
}

int spec_write_resolved(const Spec *spec, const char *path, const char *version, Error *err)
{
    char *text;
    size_t len;
    if (spec_resolved_text(spec, &text, &len, err)) return err_prefix(err, "writing %s: ", path);

    AtomicFile af;
    if (atomic_open(&af, path, err)) {
        free(text);
        return -1;
    }
    fprintf(af.f, "# The resolved spec of '%s' (defaults filled in, overrides applied), seed %llu,\n"
                  "# written by runner %s from %s.\n",
            spec->name, (unsigned long long)spec->seed, version, spec->path);
    fwrite(text, 1, len, af.f);
    if (len == 0 || text[len - 1] != '\n') fputc('\n', af.f);
    free(text);
    if (ferror(af.f)) {
        atomic_abort(&af);
        return err_set(err, "cannot write %s", path);
    }
    return atomic_commit(&af, err);
}
