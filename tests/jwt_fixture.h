/* jwt_fixture.h -- JSON Web Tokens signed inside the tests with OpenSSL (tests/unit/test_jwt.c,
 * test_auth.c, test_config.c): keys generated per test, PEM export, compact tokens for any
 * header and payload. Criterion helpers: they assert, so call them from tests only. Every
 * returned string is malloc'd; the caller frees it. */
#ifndef JWT_FIXTURE_H
#define JWT_FIXTURE_H
#include <openssl/evp.h>
#include <stddef.h>

/* A fresh RSA key of `bits`, or an EC key on `curve` ("P-256", "P-384"). EVP_PKEY_free them. */
EVP_PKEY *jwtfx_rsa_key(unsigned bits);
EVP_PKEY *jwtfx_ec_key(const char *curve);

/* The public half as "-----BEGIN PUBLIC KEY-----" PEM; the private half as PKCS#8 PEM. */
char *jwtfx_public_pem(EVP_PKEY *key);
char *jwtfx_private_pem(EVP_PKEY *key);

/* base64url without padding. */
char *jwtfx_b64url(const void *p, size_t n);

/* header.payload.signature, the JSON texts used as given. `alg` chooses the signature:
 * "HS256" (HMAC-SHA256 with secret[0..secret_len)), "RS256" (key: RSA, PKCS#1 v1.5),
 * "ES256" (key: EC, JOSE r||s), anything else an empty signature. */
char *jwtfx_sign(const char *alg, const char *header, const char *payload, EVP_PKEY *key,
                 const void *secret, size_t secret_len);

/* The usual header {"alg":"<alg>","typ":"JWT"} and a payload. */
char *jwtfx_token(const char *alg, const char *payload, EVP_PKEY *key, const char *secret);

/* A file holding `text` under /tmp; its path (free it, unlink it). */
char *jwtfx_temp_file(const char *text);

#endif
