/* jwtmint.h -- HS256 JSON Web Tokens minted with OpenSSL, for programs that are not Criterion
 * tests (the streaming benchmark mints one per stream) and for the tests' fixture
 * (jwt_fixture.h, which builds on jwtmint_b64url). Nothing asserts; every returned string is
 * malloc'd (the caller frees it), NULL when out of memory. */
#ifndef JWTMINT_H
#define JWTMINT_H
#include <stddef.h>

/* base64url without padding of p[0..n). */
char *jwtmint_b64url(const void *p, size_t n);

/* header.payload.signature with the header {"alg":"HS256","typ":"JWT"}, `payload` (a JSON text)
 * as given, signed with HMAC-SHA256 under `secret`. */
char *jwtmint_hs256(const char *payload, const char *secret);

#endif
