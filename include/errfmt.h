/* errfmt.h -- one-line error messages into a caller's buffer: the shape every module that
 * reports "what went wrong" to its caller uses (`char *err, size_t errlen` parameters). */
#ifndef ERRFMT_H
#define ERRFMT_H
#include <stdarg.h>
#include <stddef.h>

/* Format into err (errlen bytes, always NUL-terminated, truncated if needed). err may be NULL
 * or errlen 0: nothing is written. Returns -1, so that a failing function can
 * `return errfmt(err, errlen, "...")`. */
int errfmt(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int verrfmt(char *err, size_t errlen, const char *fmt, va_list ap);

#endif
