/* Errors that travel up to runner/cli/main.c: every fallible function takes an Error* and
 * returns -1 (or NULL) after filling it, so the message says where and why.  An error carries its
 * place and its kind apart from its message: main.c prints them all one way ("WHERE: error: MSG",
 * or "error: MSG" without a place), and callers test the kind, never the text. */
#ifndef GRAPH_ERROR_H
#define GRAPH_ERROR_H

#include <stdarg.h>
#include <stddef.h>

#define ERROR_MSG_MAX 1024
#define ERROR_WHERE_MAX 512
/* Room for err_text: the place, the severity and the message. */
#define ERROR_TEXT_MAX (ERROR_WHERE_MAX + ERROR_MSG_MAX + 32)

typedef enum ErrorKind {
    ERR_FAILED = 0, /* bad input, a resource that does not work, no memory: "error" */
    ERR_NOT_FOUND,  /* a file to read does not exist (callers may say what it was for): "error" */
    ERR_INTERNAL,   /* a bug: the program broke a rule of its own: "internal error" */
    ERR_WARNING,    /* a problem the program works around and reports (err_warn): "warning" */
    ERR_INTERRUPTED,/* stopped on the user's request (Ctrl-C), not a failure: "interrupted" */
} ErrorKind;

typedef struct Error {
    char msg[ERROR_MSG_MAX];     /* what went wrong and why, without the place or the severity */
    char where[ERROR_WHERE_MAX]; /* "file:line:col", a file, "--set k=v"; "" when the message says it */
    ErrorKind kind;
} Error;

/* Sets the message (printf-style), the place (NULL: none) and the kind; returns -1, so callers
 * can `return err_set(...)`.  Called through the four forms below. */
int err_set_kind(Error *err, const char *where, ErrorKind kind, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* err_set(err, fmt, ...): no place, kind ERR_FAILED. */
#define err_set(err, ...) err_set_kind(err, NULL, ERR_FAILED, __VA_ARGS__)
/* Same, at a place: "file:line:col" of a spec value, a file's path, "--set k=v". */
#define err_set_at(err, where, ...) err_set_kind(err, where, ERR_FAILED, __VA_ARGS__)
/* Same as err_set, kind ERR_INTERNAL: a check that only a bug can fail. */
#define err_internal(err, ...) err_set_kind(err, NULL, ERR_INTERNAL, __VA_ARGS__)
/* Same as err_set, kind ERR_INTERRUPTED: the work stopped because the user asked it to. */
#define err_interrupted(err, ...) err_set_kind(err, NULL, ERR_INTERRUPTED, __VA_ARGS__)
/* Prepends context ("while loading X: ") to the message, keeping place and kind; returns -1. */
int err_prefix(Error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Gives the error a place unless it has one (the innermost place is the most precise); -1. */
int err_locate(Error *err, const char *where);

/* The error as the user reads it: "WHERE: SEVERITY: MSG", or "SEVERITY: MSG" without a place;
 * returns buf. */
const char *err_text(const Error *err, char *buf, size_t len);
/* Prints a problem the program goes on after on stderr, as a warning: "WHERE: warning: MSG; THEN". */
void err_warn(const Error *why, const char *then);

#endif
