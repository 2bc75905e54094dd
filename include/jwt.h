/* jwt.h -- verification of JSON Web Tokens (compact JWS, RFC 7515/7519) minted by another
 * service, with OpenSSL. Pure; thread-safe (a verifier is read-only after jwt_verifier_new).
 *
 * Algorithms: HS256, RS256 and ES256 only, each bound to one configured key: an HS256 token
 * verifies only with the HS256 secret, an RS256 token only with an RSA public key, an ES256
 * token only with a P-256 public key. `none`, any other algorithm, and an algorithm whose key
 * is not configured are refused before any signature is computed, so a token "signed" with
 * HS256 using the RSA public key as the secret (algorithm confusion) never verifies.
 *
 * Checks after the signature: `exp` required (refused from that second on, RFC 7519 4.1.4),
 * `nbf` when present, each with the configured leeway for clock skew (default none); `iss`
 * equal to the configured issuer and `aud` (a string or an array of strings) containing the
 * configured audience, when those are configured; `sub` required (a
 * non-empty string without control characters, under JWT_SUB_MAX bytes). The header must not
 * carry `crit`. Base64url is strict (no padding, no stray bits) and JSON objects with a repeated
 * key are refused, so one token has one reading. */
#ifndef JWT_H
#define JWT_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define JWT_MAX_TOKEN 8192     /* a longer token is refused (JWT_ERR_MALFORMED) */
#define JWT_MIN_HS256_SECRET 32   /* RFC 7518 3.2: a key as long as the hash output; a shorter
                                     one verifies, and the configuration warns about it */
#define JWT_MAX_LEEWAY_S 300   /* the most clock skew a verifier may allow (RFC 7519: "a few minutes") */
#define JWT_SUB_MAX 128        /* sub is shorter than this */
#define JWT_MIN_RSA_BITS 2048

/* Error codes (negative); jwt_strerror names them. */
enum {
    JWT_OK = 0,
    JWT_ERR_MALFORMED = -1,       /* not three base64url parts, not JSON objects, bad header, too long */
    JWT_ERR_BAD_ALGORITHM = -2,   /* alg none, unknown, or with no key configured for it */
    JWT_ERR_BAD_SIGNATURE = -3,
    JWT_ERR_EXPIRED = -4,
    JWT_ERR_NOT_YET_VALID = -5,
    JWT_ERR_WRONG_ISSUER = -6,
    JWT_ERR_WRONG_AUDIENCE = -7,
    JWT_ERR_BAD_CLAIMS = -8,      /* exp or sub missing or of the wrong type; feeds, scope or allow
                                     of the wrong shape */
    JWT_ERR_NOMEM = -9,
    JWT_ERR_KEY = -10,            /* jwt_verifier_new: no key, or the PEM is not a usable public key */
};

typedef struct jwt_verifier jwt_verifier_t;

/* What a verifier accepts. Everything is copied by jwt_verifier_new. */
typedef struct {
    const void *hs256_secret;     /* NULL: HS256 tokens are refused */
    size_t hs256_secret_len;
    const char *public_key_pem;   /* NULL: RS256/ES256 refused. "-----BEGIN PUBLIC KEY-----": an
                                     RSA key (>= JWT_MIN_RSA_BITS) enables RS256, a P-256 key ES256 */
    size_t public_key_pem_len;
    const char *issuer;           /* NULL: iss is not checked */
    const char *audience;         /* NULL: aud is not checked */
    int64_t leeway_s;             /* clock skew allowed for exp and nbf, 0 to JWT_MAX_LEEWAY_S: a
                                     token is refused from exp + leeway_s on, and accepted from
                                     nbf - leeway_s */
} jwt_config_t;

/* Build a verifier. Returns JWT_OK and *out (free with jwt_verifier_free); JWT_ERR_KEY with a
 * reason in err (no key at all; an empty HS256 secret; the PEM is not a public key, is a private
 * key, is RSA under 2048 bits, or an EC key on another curve; a leeway out of range); or
 * JWT_ERR_NOMEM. */
int jwt_verifier_new(jwt_verifier_t **out, const jwt_config_t *cfg, char *err, size_t errlen);
void jwt_verifier_free(jwt_verifier_t *v);   /* NULL is a no-op */

/* A verified token. The pointers borrow from `claims` and live as long as it. */
typedef struct {
    json_t *claims;               /* owned reference (jwt_claims_release): the claim set; set once
                                     the signature verified, even when a later check failed */
    const char *sub;              /* the subject; NULL before the signature verified */
    int64_t exp;                  /* seconds since the epoch */
    int64_t refused_from;         /* exp plus the leeway: the first second jwt_verify refuses it */
    int64_t nbf;                  /* 0 when absent */
    const json_t *feeds;          /* an array of strings, or NULL when absent */
    const json_t *scope;          /* an object, or NULL when absent */
    const json_t *allow;          /* an array of strings, or NULL when absent */
    const char *why;              /* static: what failed, for logs ("exp is missing"); "ok" */
} jwt_claims_t;

/* Verify token[0..len) at time now_s (seconds since the epoch). Returns JWT_OK with *out filled,
 * or a JWT_ERR_* code with out->why set (and out->claims, out->sub when the signature verified,
 * so a log can name the subject of an expired token). Call jwt_claims_release(out) afterwards
 * in every case. */
int jwt_verify(const jwt_verifier_t *v, const char *token, size_t len, int64_t now_s, jwt_claims_t *out);

void jwt_claims_release(jwt_claims_t *c);   /* drops claims and clears *c; safe twice */

/* A static name for a JWT_* code ("expired", ...). */
const char *jwt_strerror(int code);

#endif
