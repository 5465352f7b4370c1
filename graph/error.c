#include "graph/error.h"

#include <stdio.h>
#include <string.h>

int err_set_kind(Error *err, const char *where, ErrorKind kind, const char *fmt, ...)
{
    if (!err) return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    snprintf(err->where, sizeof err->where, "%s", where ? where : "");
    err->kind = kind;
    return -1;
}

int err_prefix(Error *err, const char *fmt, ...)
{
    if (!err) return -1;
    char prefix[ERROR_MSG_MAX], old[ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    /* Truncation is acceptable: the start of a message says the most. */
    size_t len = strnlen(prefix, sizeof prefix - 1);
    memcpy(err->msg, prefix, len);
    size_t room = sizeof err->msg - len - 1;
    size_t tail = strnlen(old, sizeof old - 1);
    if (tail > room) tail = room;
    memcpy(err->msg + len, old, tail);
    err->msg[len + tail] = '\0';
    return -1;
}

int err_locate(Error *err, const char *where)
{
    if (err && !err->where[0] && where) snprintf(err->where, sizeof err->where, "%s", where);
    return -1;
}

static const char *severity(ErrorKind kind)
{
    switch (kind) {
    case ERR_INTERNAL: return "internal error";
    case ERR_WARNING: return "warning";
    case ERR_INTERRUPTED: return "interrupted";
    case ERR_FAILED:
    case ERR_NOT_FOUND: break;
    }
    return "error";
}

const char *err_text(const Error *err, char *buf, size_t len)
{
    const char *msg = err->msg[0] ? err->msg : "failed without a message";
    if (err->where[0])
        snprintf(buf, len, "%s: %s: %s", err->where, severity(err->kind), msg);
    else
        snprintf(buf, len, "%s: %s", severity(err->kind), msg);
    return buf;
}

void err_warn(const Error *why, const char *then)
{
    Error w = *why;
    w.kind = ERR_WARNING;
    char text[ERROR_TEXT_MAX];
    fprintf(stderr, "%s; %s\n", err_text(&w, text, sizeof text), then);
}
