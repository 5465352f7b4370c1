/* Errors that travel up to runner/cli/main.c: every fallible function takes an Error* and
 * returns -1 (or NULL) after filling it, so the message says where and why. */
#ifndef GRAPH_ERROR_H
#define GRAPH_ERROR_H

#include <stdarg.h>

#define ERROR_MSG_MAX 1024

typedef struct Error {
    char msg[ERROR_MSG_MAX];
} Error;

/* Sets err->msg (printf-style) and returns -1, so callers can `return err_set(...)`. */
int err_set(Error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prepends context ("while loading X: ") to an existing message; returns -1. */
int err_prefix(Error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
