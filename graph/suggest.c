/* "Did you mean" (see suggest.h). */
#include "graph/suggest.h"

#include <stdio.h>
#include <string.h>

/* Edit distance with adjacent transpositions (optimal string alignment), so "adma" suggests "adam". */
int edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63) return 64;
    int d[64][64];
    for (size_t i = 0; i <= la; i++) d[i][0] = (int)i;
    for (size_t j = 0; j <= lb; j++) d[0][j] = (int)j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            int best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            if (d[i - 1][j] + 1 < best) best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best) best = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    return d[la][lb];
}

const char *suggest_word(const char *word, const char *const *candidates, int n)
{
    const char *best = NULL;
    int best_d = 1 << 30;
    for (int i = 0; i < n; i++) {
        int d = edit_distance(word, candidates[i]);
        if (d < best_d) best_d = d, best = candidates[i];
    }
    /* Close enough to be a typo: at most a third of the word's letters, and at least one. */
    int limit = (int)strlen(word) / 3;
    if (limit < 1) limit = 1;
    if (limit > 3) limit = 3;
    return best_d <= limit ? best : NULL;
}

int choice_index(const char *word, const char *const *choices, int n, const char *what, Error *err)
{
    char list[256] = "", hint[128] = "";
    for (int i = 0; i < n; i++) {
        if (strcmp(word, choices[i]) == 0) return i;
        size_t at = strlen(list);
        snprintf(list + at, sizeof list - at, "%s%s", i ? ", " : "", choices[i]);
    }
    const char *close = suggest_word(word, choices, n);
    if (close) snprintf(hint, sizeof hint, " (did you mean '%s'?)", close);
    return err_set(err, "unknown %s '%s'%s; expected one of %s", what, word, hint, list);
}
