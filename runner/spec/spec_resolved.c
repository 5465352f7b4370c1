/* The resolved spec a run leaves in its results folder: the spec's tree (includes expanded,
 * --set overrides applied) with every default made explicit, loadable again by `runner sample`
 * and `runner run`. */
#include "runner/io/atomic_file.h"
#include "runner/spec/spec.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* The whole file, NUL-terminated and malloc'ed; NULL with err. */
static char *read_text(const char *path, Error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        err_set(err, "cannot read %s: %s", path, strerror(errno));
        return NULL;
    }
    long n = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    char *text = n >= 0 && fseek(f, 0, SEEK_SET) == 0 ? malloc((size_t)n + 1) : NULL;
    if (text && fread(text, 1, (size_t)n, f) == (size_t)n) {
        text[n] = '\0';
    } else {
        free(text);
        text = NULL;
        err_set(err, "cannot read %s whole", path);
    }
    fclose(f);
    return text;
}

/* One line of `at` for a message: without its indentation, at most 120 characters. */
static void quote_line(const char *at, char *buf, size_t len)
{
    if (!*at) {
        snprintf(buf, len, "(nothing: the file ends)");
        return;
    }
    at += strspn(at, " ");
    int n = (int)strcspn(at, "\n");
    snprintf(buf, len, "'%.*s%s'", n > 120 ? 117 : n, at, n > 120 ? "..." : "");
}

int spec_check_resolved(const Spec *spec, const char *path, Error *err)
{
    char *now;
    size_t len;
    if (spec_resolved_text(spec, &now, &len, err)) return -1;
    char *was = read_text(path, err);
    if (!was) {
        free(now);
        return -1;
    }
    int line = 1;
    const char *a = was, *b = now;
    for (; *a == '#'; line++) a += strcspn(a, "\n") + (a[strcspn(a, "\n")] == '\n');
    /* Line by line; a missing last line break counts as none. */
    while (*a || *b) {
        size_t na = strcspn(a, "\n"), nb = strcspn(b, "\n");
        if (na != nb || memcmp(a, b, na) != 0) break;
        a += na + (a[na] == '\n'), b += nb + (b[nb] == '\n'), line++;
    }
    int rc = 0;
    if (*a || *b) {
        char then[160], today[160];
        quote_line(a, then, sizeof then);
        quote_line(b, today, sizeof today);
        rc = err_set(err, "the spec differs from the one the run started with, at line %d of %s: it has %s, the spec "
                     "now has %s", line, path, then, today);
    }
    free(was);
    free(now);
    return rc;
}
