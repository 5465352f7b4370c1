/* Spec loading: YAML, includes and --set overrides.  The input is the spec's text, optionally
 * followed by sections that start with a line of their own:
 *   #@file NAME   the text up to the next section is written to NAME, which the spec may include
 *   #@set         each following line is one --set override
 * A spec that loads must write a resolved spec (defaults filled in) that loads again. */
#include "runner/spec/spec.h"
#include "tests/fuzz/harness.h"

#include <string.h>

#define MAX_FILES 4
#define MAX_SETS 8
#define MARK "\n#@"

/* A file name the harness may write: plain characters, no folder, not hidden. */
static bool plain_name(const char *s, size_t n)
{
    if (n == 0 || n >= 64 || s[0] == '.') return false;
    for (size_t i = 0; i < n; i++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-", s[i]) || !s[i]) return false;
    return true;
}

/* Loads the resolved form of a loaded spec again, as `runner run` does with a results folder's spec.yaml. */
static void check_resolved_reloads(const Spec *spec, const char *label)
{
    int budget = YAML_MAX_NODES;
    YNode *tree = ynode_copy(spec->tree, &budget);
    FUZZ_CHECK(tree);
    char *text = NULL;
    size_t len = 0;
    Error err = {0};
    char why[ERROR_TEXT_MAX];
    if (spec_fill_defaults(spec, tree, &err) == 0 && yaml_write(tree, &text, &len, &err) == 0) {
        Spec again;
        if (spec_load_text(label, text, NULL, 0, &again, &err)) {
            fprintf(stderr, "resolved spec does not load again: %s\n---\n%s---\n", err_text(&err, why, sizeof why),
                    text);
            FUZZ_CHECK(!"the resolved spec loads");
        }
        spec_free(&again);
    } else {
        fprintf(stderr, "cannot resolve a spec that loaded: %s\n", err_text(&err, why, sizeof why));
        FUZZ_CHECK(!"a loaded spec resolves");
    }
    free(text);
    ynode_free(tree);
}

FUZZ_TARGET(spec)
{
    char *text = malloc(size + 1);
    FUZZ_CHECK(text);
    memcpy(text, data, size);
    text[size] = '\0';

    char files[MAX_FILES][64];
    int n_files = 0, n_sets = 0;
    const char *sets[MAX_SETS];
    /* Cut the text at each section mark; the spec is what comes before the first. */
    char *mark = strstr(text, MARK);
    if (mark) *mark = '\0';
    while (mark) {
        char *head = mark + strlen(MARK);
        char *body = strchr(head, '\n');
        body = body ? body + 1 : head + strlen(head);
        char *next = strstr(body, MARK);
        if (next) *next = '\0';
        if (!strncmp(head, "set\n", 4)) {
            for (char *line = body; *line && n_sets < MAX_SETS;) {
                char *end = strchr(line, '\n');
                if (end) *end = '\0';
                sets[n_sets++] = line;
                if (!end) break;
                line = end + 1;
            }
        } else if (!strncmp(head, "file ", 5) && n_files < MAX_FILES) {
            const char *name = head + 5;
            size_t n = strcspn(name, "\n");
            if (plain_name(name, n) && strncmp(name, "spec.yaml", n)) {
                char path[1024];
                snprintf(files[n_files], sizeof files[0], "%.*s", (int)n, name);
                fuzz_write(path, sizeof path, files[n_files++], (const uint8_t *)body, strlen(body));
            }
        }
        mark = next;
    }

    char label[1024];
    fuzz_path(label, sizeof label, "spec.yaml");
    Spec spec;
    Error err = {0};
    if (spec_load_text(label, text, sets, n_sets, &spec, &err) == 0) {
        check_resolved_reloads(&spec, label);
        spec_free(&spec);
    } else {
        FUZZ_CHECK(err.msg[0] != '\0');
    }
    for (int i = 0; i < n_files; i++) fuzz_remove(files[i]);
    free(text);
    return 0;
}
