#include "graph/error.h"

#include <stdio.h>
#include <string.h>

int err_set(Error *err, const char *fmt, ...)
{
    if (!err) return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
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
