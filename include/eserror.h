/* eserror.h -- error bodies in Elasticsearch's shape, the one every response of the
 * Elasticsearch API uses for its errors:
 *   {"error":{"root_cause":[{"type":T,"reason":R,<extra>}],"type":T,"reason":R,<extra>},
 *    "status":N}
 * Pure: appends to a caller's buffer (bytebuf.h; out of memory sets its failure flag). */
#ifndef ESERROR_H
#define ESERROR_H
#include <stdarg.h>
#include "bytebuf.h"

/* Append the error body. `type` is Elasticsearch's exception name ("parsing_exception",
 * "illegal_argument_exception", ...); `reason` one line (any bytes: JSON-escaped); `extra`
 * (may be NULL) more members of the cause, as JSON text starting with a comma
 * (",\"index\":\"x\""). Returns `status`, so that a caller may `return eserror_put(...)`. */
int eserror_put(bytebuf_t *b, int status, const char *type, const char *reason, const char *extra);

/* The same with a printf-style reason (at most 1 KiB), for callers with their own varargs. */
int eserror_vputf(bytebuf_t *b, int status, const char *type, const char *fmt, va_list ap);

/* 404 index_not_found_exception for the index expression `name` ("no such index [name]", with
 * the resource.type, resource.id, index_uuid and index members Elasticsearch adds). */
int eserror_index_missing(bytebuf_t *b, const char *name);

#endif
