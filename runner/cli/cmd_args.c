/* The subcommands' argument parser (see cmd_args.h). */
#include "runner/cli/cmd_args.h"

#include "graph/suggest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *cli_program = "runner"; /* main.c sets it from argv[0] */

#define MAX_OPTIONS 32

int cmd_parse_int(const char *flag, const char *v, long long min, long long max, long long *out, Error *err)
{
    char *end;
    long long x = v && *v ? strtoll(v, &end, 10) : 0;
    if (!v || !*v || *end || x < min || x > max)
        return err_set(err, "%s expects an integer in %lld..%lld, got '%s'", flag, min, max, v ? v : "");
    *out = x;
    return 0;
}

static const ArgOption *find(const ArgOption *options, int n, const char *word, size_t len)
{
    for (int i = 0; i < n; i++)
        if (strlen(options[i].flag) == len && !strncmp(options[i].flag, word, len)) return &options[i];
    return NULL;
}

static int unknown(const char *word, const ArgOption *options, int n, const char *usage, Error *err)
{
    const char *flags[MAX_OPTIONS];
    for (int i = 0; i < n && i < MAX_OPTIONS; i++) flags[i] = options[i].flag;
    const char *hint = suggest_word(word, flags, n < MAX_OPTIONS ? n : MAX_OPTIONS);
    if (hint) return err_set(err, "unknown option '%s' (did you mean '%s'?)\n%s", word, hint, usage);
    return err_set(err, "unknown option '%s'\n%s", word, usage);
}

static int take_value(const ArgOption *o, const char *v, const char *usage, Error *err)
{
    long long x = 0;
    switch (o->kind) {
    case ARG_FLAG: *(bool *)o->dest = true; return 0;
    case ARG_TEXT: *(const char **)o->dest = v; return 0;
    case ARG_INT:
    case ARG_INT64:
        if (cmd_parse_int(o->flag, v, o->min, o->max, &x, err)) {
            char msg[ERROR_MSG_MAX];
            snprintf(msg, sizeof msg, "%s", err->msg);
            return err_set(err, "%s\n%s", msg, usage);
        }
        if (o->kind == ARG_INT) *(int *)o->dest = (int)x;
        else *(long long *)o->dest = x;
        return 0;
    case ARG_LIST: {
        ArgList *l = o->dest;
        if (l->n == l->max) return err_set(err, "at most %d %s options\n%s", l->max, o->flag, usage);
        l->items[l->n++] = v;
        return 0;
    }
    }
    return err_internal(err, "option %s has no kind", o->flag);
}

int cmd_parse(int argc, char **argv, const ArgOption *options, int n_options, ArgPositionals *positionals,
              const char *usage, Error *err)
{
    if (positionals) positionals->n = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-' || a[1] == '\0') { /* a word ("-" alone is a word too: standard input) */
            if (!positionals || positionals->n == positionals->max) {
                if (!positionals || positionals->max == 0)
                    return err_set(err, "unexpected argument '%s'\n%s", a, usage);
                if (positionals->max == 1)
                    return err_set(err, "one %s at a time ('%s' and '%s' given)\n%s", positionals->what,
                                   positionals->items[0], a, usage);
                return err_set(err, "at most %d %s%s (also given: '%s')\n%s", positionals->max,
                               positionals->what, positionals->max == 1 ? "" : "s", a, usage);
            }
            positionals->items[positionals->n++] = a;
            continue;
        }
        const char *eq = strchr(a, '=');
        size_t len = eq ? (size_t)(eq - a) : strlen(a);
        const ArgOption *o = find(options, n_options, a, len);
        if (!o) return unknown(a, options, n_options, usage, err);
        const char *v = NULL;
        if (o->kind == ARG_FLAG) {
            if (eq) return err_set(err, "%s takes no value\n%s", o->flag, usage);
        } else if (eq) {
            v = eq + 1;
        } else if (i + 1 < argc) {
            v = argv[++i];
        } else {
            return err_set(err, "%s needs a value\n%s", o->flag, usage);
        }
        if (take_value(o, v, usage, err)) return -1;
    }
    if (positionals && positionals->n < positionals->min)
        return err_set(err, "no %s given\n%s", positionals->what, usage);
    return 0;
}
