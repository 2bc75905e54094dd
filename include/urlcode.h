/* urlcode.h -- percent-decoding of URL query components (application/x-www-form-urlencoded:
 * `+` is a space) and of path segments (`+` is itself). Pure; no allocation. */
#ifndef URLCODE_H
#define URLCODE_H
#include <stddef.h>

/* Decode s[0..len) into out (outlen bytes, NUL-terminated). Returns the decoded length, or -1
 * on a malformed escape, an encoded NUL (%00), or when out is too small (it needs at most
 * len + 1 bytes). */
long urlcode_decode(const char *s, size_t len, char *out, size_t outlen);

/* The same for a path segment (RFC 3986): `+` stays `+`; errors as urlcode_decode. */
long urlcode_decode_path(const char *s, size_t len, char *out, size_t outlen);

#endif
