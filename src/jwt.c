/* jwt.c -- JWT (compact JWS) verification with OpenSSL: HS256, RS256, ES256 (see jwt.h).
 *
 * The order is fixed: size, shape, header and algorithm (bound to its key), signature, and only
 * then the claims, so nothing in an unverified payload is ever interpreted. Decoding happens in
 * one stack buffer of JWT_MAX_TOKEN bytes; jansson copies what it parses. OpenSSL's error queue
 * is cleared after every failed call so that no stale error reaches another module. */
#include "jwt.h"
#include "errfmt.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#define ES256_PART 32          /* r and s of a P-256 signature, each */
#define MAX_TIME 253402300799  /* 9999-12-31T23:59:59Z: beyond it a NumericDate is nonsense */

enum { ALG_HS256 = 1, ALG_RS256, ALG_ES256 };

struct jwt_verifier {
    unsigned char *secret;     /* owned; NULL: no HS256 */
    size_t secret_len;
    EVP_PKEY *pkey;            /* owned; NULL: no RS256/ES256 */
    int pkey_alg;              /* ALG_RS256 or ALG_ES256 when pkey is set */
    char *issuer, *audience;   /* owned; NULL: not checked */
    int64_t leeway_s;          /* clock skew allowed for exp and nbf */
};

/* ---- keys -------------------------------------------------------------------------------- */

/* The algorithm key `k` serves (ALG_RS256, ALG_ES256), or -1 with the reason in err. */
static int key_alg(EVP_PKEY *k, char *err, size_t errlen)
{
    char group[64] = "";
    switch (EVP_PKEY_get_base_id(k)) {
    case EVP_PKEY_RSA:
        if (EVP_PKEY_get_bits(k) < JWT_MIN_RSA_BITS)
            return errfmt(err, errlen, "the RSA key has %d bits; at least %d are required",
                          EVP_PKEY_get_bits(k), JWT_MIN_RSA_BITS);
        return ALG_RS256;
    case EVP_PKEY_EC:
        if (EVP_PKEY_get_group_name(k, group, sizeof group, NULL) != 1
            || (strcmp(group, "prime256v1") != 0 && strcmp(group, "P-256") != 0))
            return errfmt(err, errlen, "the EC key is on curve '%s'; only P-256 (ES256) is accepted", group);
        return ALG_ES256;
    default:
        return errfmt(err, errlen, "unsupported key type: expected an RSA or an EC P-256 public key");
    }
}

static int load_public_key(jwt_verifier_t *v, const char *pem, size_t len, char *err, size_t errlen)
{
    if (len > INT32_MAX)
        return errfmt(err, errlen, "the public key file is too large");
    if (memmem(pem, len, "PRIVATE KEY-----", 16))
        return errfmt(err, errlen, "this is a private key; give the public key (-----BEGIN PUBLIC KEY-----)");
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    EVP_PKEY *k = bio ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    ERR_clear_error();
    if (!k)
        return errfmt(err, errlen, "not a PEM public key (expected -----BEGIN PUBLIC KEY-----)");
    v->pkey = k;
    v->pkey_alg = key_alg(k, err, errlen);
    return v->pkey_alg < 0 ? -1 : 0;
}

static int copy_str(char **dst, const char *src)
{
    return !src || (*dst = strdup(src)) ? 0 : -1;
}

int jwt_verifier_new(jwt_verifier_t **out, const jwt_config_t *cfg, char *err, size_t errlen)
{
    *out = NULL;
    if (!cfg->hs256_secret && !cfg->public_key_pem) {
        errfmt(err, errlen, "no key: give an HS256 secret or a public key");
        return JWT_ERR_KEY;
    }
    if (cfg->leeway_s < 0 || cfg->leeway_s > JWT_MAX_LEEWAY_S) {
        errfmt(err, errlen, "the leeway must be from 0 to %d seconds", JWT_MAX_LEEWAY_S);
        return JWT_ERR_KEY;
    }
    if (cfg->hs256_secret && cfg->hs256_secret_len == 0) {
        errfmt(err, errlen, "the HS256 secret is empty");
        return JWT_ERR_KEY;
    }
    int rc = JWT_ERR_NOMEM;
    jwt_verifier_t *v = calloc(1, sizeof *v);
    if (!v)
        goto fail;
    if (cfg->hs256_secret) {
        if (!(v->secret = malloc(cfg->hs256_secret_len)))
            goto fail;
        memcpy(v->secret, cfg->hs256_secret, cfg->hs256_secret_len);
        v->secret_len = cfg->hs256_secret_len;
    }
    v->leeway_s = cfg->leeway_s;
    if (copy_str(&v->issuer, cfg->issuer) < 0 || copy_str(&v->audience, cfg->audience) < 0)
        goto fail;
    if (cfg->public_key_pem
        && load_public_key(v, cfg->public_key_pem, cfg->public_key_pem_len, err, errlen) < 0) {
        rc = JWT_ERR_KEY;
        goto fail;
    }
    *out = v;
    return JWT_OK;
fail:
    if (rc == JWT_ERR_NOMEM)
        errfmt(err, errlen, "out of memory");
    jwt_verifier_free(v);
    return rc;
}

void jwt_verifier_free(jwt_verifier_t *v)
{
    if (!v)
        return;
    if (v->secret)
        OPENSSL_cleanse(v->secret, v->secret_len);
    free(v->secret);
    EVP_PKEY_free(v->pkey);
    free(v->issuer);
    free(v->audience);
    free(v);
}

/* ---- encoding ------------------------------------------------------------------------------ */

static int b64url_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    return c == '-' ? 62 : c == '_' ? 63 : -1;
}

/* Strict base64url without padding: in[0..n) into out (at least n * 3 / 4 bytes). The bits left
 * over after the last whole byte must be zero, so each byte string has exactly one encoding. */
static int b64url_decode(const char *in, size_t n, unsigned char *out, size_t *outlen)
{
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;
    if (n % 4 == 1)
        return -1;
    for (size_t i = 0; i < n; i++) {
        int v = b64url_value((unsigned char)in[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (acc != 0)
        return -1;
    *outlen = o;
    return 0;
}

/* A base64url part holding a JSON object; NULL when it is not one (or repeats a key). */
static json_t *decode_object(const char *in, size_t n, unsigned char *buf)
{
    size_t len;
    if (n == 0 || b64url_decode(in, n, buf, &len) < 0)
        return NULL;
    json_t *j = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, NULL);
    if (j && !json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    return j;
}

/* ---- signatures ---------------------------------------------------------------------------- */

static int verify_hs256(const jwt_verifier_t *v, const unsigned char *sig, size_t siglen,
                        const char *data, size_t n)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (!HMAC(EVP_sha256(), v->secret, (int)v->secret_len, (const unsigned char *)data, n, md, &mdlen))
        return -1;
    return siglen == mdlen && CRYPTO_memcmp(md, sig, mdlen) == 0 ? 0 : -1;
}

static int digest_verify(EVP_PKEY *k, const unsigned char *sig, size_t siglen, const char *data, size_t n)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx && EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, k) == 1
             && EVP_DigestVerify(ctx, sig, siglen, (const unsigned char *)data, n) == 1;
    EVP_MD_CTX_free(ctx);
    return ok ? 0 : -1;
}

/* JOSE's ES256 signature is r || s, 32 bytes each; OpenSSL verifies the DER of ECDSA-Sig-Value. */
static int verify_es256(EVP_PKEY *k, const unsigned char *sig, size_t siglen, const char *data, size_t n)
{
    unsigned char *der = NULL;
    int rc = -1;
    if (siglen != 2 * ES256_PART)
        return -1;
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(sig, ES256_PART, NULL), *s = BN_bin2bn(sig + ES256_PART, ES256_PART, NULL);
    if (!es || !r || !s || ECDSA_SIG_set0(es, r, s) != 1) {
        BN_free(r);
        BN_free(s);
        goto done;
    }
    int derlen = i2d_ECDSA_SIG(es, &der);
    if (derlen > 0)
        rc = digest_verify(k, der, (size_t)derlen, data, n);
done:
    OPENSSL_free(der);
    ECDSA_SIG_free(es);
    return rc;
}

static int verify_signature(const jwt_verifier_t *v, int alg, const unsigned char *sig, size_t siglen,
                            const char *data, size_t n)
{
    int rc = -1;
    if (alg == ALG_HS256)
        rc = verify_hs256(v, sig, siglen, data, n);
    else if (alg == ALG_RS256)
        rc = siglen == (size_t)EVP_PKEY_get_size(v->pkey) ? digest_verify(v->pkey, sig, siglen, data, n) : -1;
    else if (alg == ALG_ES256)
        rc = verify_es256(v->pkey, sig, siglen, data, n);
    ERR_clear_error();
    return rc;
}

/* ---- header -------------------------------------------------------------------------------- */

/* Record why verification stopped; returns `code`. */
static int failed(jwt_claims_t *out, int code, const char *why)
{
    out->why = why;
    return code;
}

/* The algorithm the header names, if this verifier has the key for it. */
static int header_alg(const jwt_verifier_t *v, json_t *hdr, jwt_claims_t *out)
{
    const char *alg = json_string_value(json_object_get(hdr, "alg"));
    if (!alg)
        return failed(out, JWT_ERR_MALFORMED, "the header has no alg");
    if (json_object_get(hdr, "crit"))
        return failed(out, JWT_ERR_MALFORMED, "the header has crit extensions");
    if (!strcmp(alg, "HS256") && v->secret)
        return ALG_HS256;
    if (!strcmp(alg, "RS256") && v->pkey && v->pkey_alg == ALG_RS256)
        return ALG_RS256;
    if (!strcmp(alg, "ES256") && v->pkey && v->pkey_alg == ALG_ES256)
        return ALG_ES256;
    if (!strcmp(alg, "HS256") || !strcmp(alg, "RS256") || !strcmp(alg, "ES256"))
        return failed(out, JWT_ERR_BAD_ALGORITHM, "no key is configured for the token's alg");
    if (strcasecmp(alg, "none") == 0)
        return failed(out, JWT_ERR_BAD_ALGORITHM, "alg none is refused");
    return failed(out, JWT_ERR_BAD_ALGORITHM, "alg is not HS256, RS256 or ES256");
}

/* ---- claims -------------------------------------------------------------------------------- */

/* A NumericDate claim: 1 and *out when present and valid, 0 when absent, -1 when invalid. */
static int numeric_date(json_t *claims, const char *name, int64_t *out)
{
    json_t *j = json_object_get(claims, name);
    if (!j)
        return 0;
    if (!json_is_number(j))
        return -1;
    double d = json_number_value(j);
    if (!isfinite(d) || d < 0 || d > (double)MAX_TIME)
        return -1;
    *out = (int64_t)floor(d);
    return 1;
}

/* later - earlier, exactly, for later > earlier (any int64_t values). */
static uint64_t gap(int64_t later, int64_t earlier)
{
    return (uint64_t)later - (uint64_t)earlier;
}

static int is_string_array(const json_t *j)
{
    size_t i;
    json_t *e;
    if (!json_is_array(j))
        return 0;
    json_array_foreach(j, i, e)
        if (!json_is_string(e))
            return 0;
    return 1;
}

static int audience_ok(json_t *aud, const char *want)
{
    size_t i;
    json_t *e;
    if (json_is_string(aud))
        return !strcmp(json_string_value(aud), want);
    json_array_foreach(aud, i, e)
        if (json_is_string(e) && !strcmp(json_string_value(e), want))
            return 1;
    return 0;
}

static int sub_ok(json_t *sub)
{
    const char *s = json_string_value(sub);
    size_t n = s ? strlen(s) : 0;
    if (!s || n == 0 || n >= JWT_SUB_MAX || n != json_string_length(sub))
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return 0;
    return 1;
}

/* The application's claims: feeds, scope, allow (each optional here; auth decides what it needs). */
static int app_claims(jwt_claims_t *out)
{
    json_t *c = out->claims, *feeds = json_object_get(c, "feeds"), *scope = json_object_get(c, "scope"),
           *allow = json_object_get(c, "allow");
    if (feeds && !is_string_array(feeds))
        return failed(out, JWT_ERR_BAD_CLAIMS, "feeds is not an array of strings");
    if (scope && !json_is_object(scope))
        return failed(out, JWT_ERR_BAD_CLAIMS, "scope is not an object");
    if (allow && !is_string_array(allow))
        return failed(out, JWT_ERR_BAD_CLAIMS, "allow is not an array of strings");
    out->feeds = feeds;
    out->scope = scope;
    out->allow = allow;
    return JWT_OK;
}

static int check_claims(const jwt_verifier_t *v, int64_t now_s, jwt_claims_t *out)
{
    json_t *c = out->claims, *sub = json_object_get(c, "sub");
    int has_exp = numeric_date(c, "exp", &out->exp), has_nbf = numeric_date(c, "nbf", &out->nbf);
    if (!sub_ok(sub))
        return failed(out, JWT_ERR_BAD_CLAIMS, "sub is missing or not a short printable string");
    out->sub = json_string_value(sub);
    if (has_exp <= 0)
        return failed(out, JWT_ERR_BAD_CLAIMS, has_exp ? "exp is not a valid time" : "exp is missing");
    if (has_nbf < 0)
        return failed(out, JWT_ERR_BAD_CLAIMS, "nbf is not a valid time");
    out->refused_from = out->exp + v->leeway_s;   /* exp is at most MAX_TIME: no overflow */
    if (now_s >= out->exp && gap(now_s, out->exp) >= (uint64_t)v->leeway_s)
        return failed(out, JWT_ERR_EXPIRED, "the token has expired");
    if (has_nbf && out->nbf > now_s && gap(out->nbf, now_s) > (uint64_t)v->leeway_s)
        return failed(out, JWT_ERR_NOT_YET_VALID, "the token is not valid yet (nbf)");
    if (v->issuer && !(json_is_string(json_object_get(c, "iss"))
                       && !strcmp(json_string_value(json_object_get(c, "iss")), v->issuer)))
        return failed(out, JWT_ERR_WRONG_ISSUER, "iss is not the configured issuer");
    if (v->audience && !audience_ok(json_object_get(c, "aud"), v->audience))
        return failed(out, JWT_ERR_WRONG_AUDIENCE, "aud does not name the configured audience");
    return app_claims(out);
}

/* ---- verify ---------------------------------------------------------------------------------- */

/* token = header "." payload "." signature: the two dots, or -1. */
static int split(const char *token, size_t len, size_t *dot1, size_t *dot2)
{
    const char *a = memchr(token, '.', len);
    const char *b = a ? memchr(a + 1, '.', len - (size_t)(a + 1 - token)) : NULL;
    if (!b || memchr(b + 1, '.', len - (size_t)(b + 1 - token)))
        return -1;
    *dot1 = (size_t)(a - token);
    *dot2 = (size_t)(b - token);
    return 0;
}

static int verify(const jwt_verifier_t *v, const char *token, size_t len, int64_t now_s, jwt_claims_t *out)
{
    unsigned char buf[JWT_MAX_TOKEN];
    size_t dot1, dot2, siglen;
    if (len == 0 || len > JWT_MAX_TOKEN)
        return failed(out, JWT_ERR_MALFORMED, len ? "the token is too long" : "the token is empty");
    if (split(token, len, &dot1, &dot2) < 0)
        return failed(out, JWT_ERR_MALFORMED, "the token is not three dot-separated parts");
    json_t *hdr = decode_object(token, dot1, buf);
    if (!hdr)
        return failed(out, JWT_ERR_MALFORMED, "the header is not a base64url JSON object");
    int alg = header_alg(v, hdr, out);
    json_decref(hdr);
    if (alg < 0)
        return alg;
    const char *sig = token + dot2 + 1;
    if (sig == token + len || b64url_decode(sig, len - dot2 - 1, buf, &siglen) < 0)
        return failed(out, JWT_ERR_MALFORMED, "the signature is missing or not base64url");
    if (verify_signature(v, alg, buf, siglen, token, dot2) < 0)
        return failed(out, JWT_ERR_BAD_SIGNATURE, "the signature does not verify");
    if (!(out->claims = decode_object(token + dot1 + 1, dot2 - dot1 - 1, buf)))
        return failed(out, JWT_ERR_MALFORMED, "the payload is not a base64url JSON object");
    return check_claims(v, now_s, out);
}

int jwt_verify(const jwt_verifier_t *v, const char *token, size_t len, int64_t now_s, jwt_claims_t *out)
{
    memset(out, 0, sizeof *out);
    int rc = token ? verify(v, token, len, now_s, out) : failed(out, JWT_ERR_MALFORMED, "no token");
    if (rc == JWT_OK)
        out->why = "ok";
    return rc;
}

void jwt_claims_release(jwt_claims_t *c)
{
    json_decref(c->claims);
    memset(c, 0, sizeof *c);
}

const char *jwt_strerror(int code)
{
    switch (code) {
    case JWT_OK: return "ok";
    case JWT_ERR_MALFORMED: return "malformed token";
    case JWT_ERR_BAD_ALGORITHM: return "algorithm not accepted";
    case JWT_ERR_BAD_SIGNATURE: return "bad signature";
    case JWT_ERR_EXPIRED: return "expired";
    case JWT_ERR_NOT_YET_VALID: return "not yet valid";
    case JWT_ERR_WRONG_ISSUER: return "wrong issuer";
    case JWT_ERR_WRONG_AUDIENCE: return "wrong audience";
    case JWT_ERR_BAD_CLAIMS: return "bad claims";
    case JWT_ERR_NOMEM: return "out of memory";
    case JWT_ERR_KEY: return "unusable key";
    default: return "unknown error";
    }
}
