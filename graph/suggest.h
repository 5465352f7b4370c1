/* "Did you mean": the closest of a list of names to a misspelt one, for every message that
 * names accepted choices (op names, attribute choices, spec keys, optimizer and schedule types,
 * commands). */
#ifndef GRAPH_SUGGEST_H
#define GRAPH_SUGGEST_H

#include "graph/error.h"

/* Levenshtein distance with adjacent transpositions. */
int edit_distance(const char *a, const char *b);
/* The candidate closest to `word` within a typo's distance (a third of its letters, 1 to 3), or
 * NULL. */
const char *suggest_word(const char *word, const char *const *candidates, int n);
/* The index of `word` among choices[0..n); else -1 with "unknown <what> '<word>' (did you mean
 * '<closest>'?); expected one of <the choices>". */
int choice_index(const char *word, const char *const *choices, int n, const char *what, Error *err);

/* Defines the two functions of an enum named by words (its values 0..count-1 in order):
 *   const char *<prefix>_name(Type t)       names[t], or "?" out of range
 *   int <prefix>_parse(const char *word, Type *out, Error *err)   through choice_index
 * `what` names the kind of word in messages ("optimizer"). */
#define CHOICE_FUNCTIONS(prefix, Type, names, count, what)                                       \
    const char *prefix##_name(Type t) { return (t >= 0 && t < (count)) ? names[t] : "?"; }       \
    int prefix##_parse(const char *word, Type *out, Error *err)                                  \
    {                                                                                            \
        int t = choice_index(word, names, (count), what, err);                                   \
        if (t < 0) return -1;                                                                    \
        *out = (Type)t;                                                                          \
        return 0;                                                                                \
    }

#endif
