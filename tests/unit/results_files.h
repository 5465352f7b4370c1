/* Test support for the files a run writes: PNG sizes, CSV tables and byte-for-byte comparisons,
 * each failing the calling cmocka test with the reason. */
#ifndef TESTS_UNIT_RESULTS_FILES_H
#define TESTS_UNIT_RESULTS_FILES_H

#include "runner/io/metrics_csv.h"

#include <stdbool.h>

/* dir/rel is a PNG of width x height. */
void tu_expect_png(const char *dir, const char *rel, int width, int height);
/* Reads the CSV dir/rel into t (metrics_table_free it). */
void tu_read_table(const char *dir, const char *rel, MetricsTable *t);
/* The number in column `col` of row `row`. */
double tu_num(const MetricsTable *t, int row, const char *col);
/* Whether two files hold the same bytes (each at most 1 MiB). */
bool tu_same_file(const char *a, const char *b);

#endif
