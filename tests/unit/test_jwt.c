/* test_jwt.c -- JWT verification: tokens signed here with OpenSSL (HS256, RS256, ES256; keys
 * generated per test), and every way a token can be wrong: alg none, algorithm confusion,
 * tampering, expiry, nbf, issuer, audience, truncation, size, malformed parts. */
#include "jwt.h"
#include "jwt_fixture.h"
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOW 1700000000
#define SECRET "0123456789abcdef0123456789abcdef-hs256"

static jwt_verifier_t *verifier(const char *secret, const char *pem, const char *iss, const char *aud)
{
    jwt_verifier_t *v = NULL;
    char err[256] = "";
    jwt_config_t c = {.hs256_secret = secret, .hs256_secret_len = secret ? strlen(secret) : 0,
                      .public_key_pem = pem, .public_key_pem_len = pem ? strlen(pem) : 0,
                      .issuer = iss, .audience = aud};
    cr_assert_eq(jwt_verifier_new(&v, &c, err, sizeof err), JWT_OK, "%s", err);
    return v;
}

/* An HS256 verifier that allows leeway_s of clock skew. */
static jwt_verifier_t *leeway_verifier(int64_t leeway_s)
{
    jwt_verifier_t *v = NULL;
    char err[256] = "";
    jwt_config_t c = {.hs256_secret = SECRET, .hs256_secret_len = strlen(SECRET), .leeway_s = leeway_s};
    cr_assert_eq(jwt_verifier_new(&v, &c, err, sizeof err), JWT_OK, "%s", err);
    return v;
}

/* Verify and release; returns the code (and the reason in *why when asked). */
static int verify(const jwt_verifier_t *v, const char *token, const char **why)
{
    jwt_claims_t c;
    int rc = jwt_verify(v, token, strlen(token), NOW, &c);
    cr_assert_not_null(c.why);
    if (why)
        *why = c.why;
    jwt_claims_release(&c);
    return rc;
}

static char *payload(const char *extra)
{
    char *p = malloc(512);
    snprintf(p, 512, "{\"sub\":\"reporting\",\"exp\":%d%s%s}", NOW + 600, *extra ? "," : "", extra);
    return p;
}

static int hs256(const jwt_verifier_t *v, const char *extra)
{
    char *p = payload(extra), *t = jwtfx_token("HS256", p, NULL, SECRET);
    int rc = verify(v, t, NULL);
    free(p);
    free(t);
    return rc;
}

/* An HS256 token of `payload` verified at `now`; *c holds its claims (release them). */
static int claims_of(const char *payload, int64_t now, jwt_claims_t *c)
{
    jwt_verifier_t *v = verifier(SECRET, NULL, NULL, NULL);
    char *t = jwtfx_token("HS256", payload, NULL, SECRET);
    int rc = jwt_verify(v, t, strlen(t), now, c);
    free(t);
    jwt_verifier_free(v);
    return rc;
}

/* ---- good tokens ---- */

Test(jwt, hs256_claims_are_returned)
{
    jwt_claims_t c;
    int rc = claims_of("{\"sub\":\"svc-a\",\"exp\":1700000600.9,\"nbf\":1699999000,\"feeds\":[\"crm\",\"events\"],"
                       "\"scope\":{\"term\":{\"type\":\"Create\"}},\"allow\":[\"stream\"],\"iat\":1}", NOW, &c);
    cr_assert_eq(rc, JWT_OK, "%s", c.why);
    cr_assert_str_eq(c.why, "ok");
    cr_assert_str_eq(c.sub, "svc-a");
    cr_assert_eq(c.exp, 1700000600);
    cr_assert_eq(c.nbf, 1699999000);
    cr_assert_eq(json_array_size(c.feeds), 2);
    cr_assert_str_eq(json_string_value(json_array_get(c.feeds, 1)), "events");
    cr_assert(json_is_object(c.scope));
    cr_assert_eq(json_array_size(c.allow), 1);
    jwt_claims_release(&c);
    jwt_claims_release(&c);    /* twice is harmless */
}

Test(jwt, optional_claims_absent)
{
    jwt_claims_t c;
    cr_assert_eq(claims_of("{\"sub\":\"x\",\"exp\":1700000600}", NOW, &c), JWT_OK);
    cr_assert_eq(c.nbf, 0);
    cr_assert_null(c.feeds);
    cr_assert_null(c.scope);
    cr_assert_null(c.allow);
    jwt_claims_release(&c);
}

/* A generated key, its public PEM, and a verifier of that key (and of `secret` when given). */
typedef struct {
    EVP_PKEY *key;
    char *pem;
    jwt_verifier_t *v;
} signer_t;

static signer_t signer(EVP_PKEY *key, const char *secret)
{
    signer_t s = {.key = key, .pem = jwtfx_public_pem(key)};
    s.v = verifier(secret, s.pem, NULL, NULL);
    return s;
}

static void signer_free(signer_t *s)
{
    jwt_verifier_free(s->v);
    free(s->pem);
    EVP_PKEY_free(s->key);
}

/* A token of the standard payload signed with `alg` (by `key`, or SECRET for HS256), checked by
 * s's verifier. */
static int check_signed(const signer_t *s, const char *alg, EVP_PKEY *key)
{
    char *p = payload(""), *t = jwtfx_token(alg, p, key, SECRET);
    int rc = verify(s->v, t, NULL);
    free(t);
    free(p);
    return rc;
}

Test(jwt, rs256_verifies_with_the_rsa_key)
{
    signer_t s = signer(jwtfx_rsa_key(2048), NULL);
    cr_assert_eq(check_signed(&s, "RS256", s.key), JWT_OK);
    /* the same token with one bit of the signature changed */
    char *p = payload(""), *t = jwtfx_token("RS256", p, s.key, NULL), *dot = strrchr(t, '.');
    dot[5] = dot[5] == 'A' ? 'B' : 'A';
    cr_assert_eq(verify(s.v, t, NULL), JWT_ERR_BAD_SIGNATURE);
    free(t);
    free(p);
    signer_free(&s);
}

Test(jwt, es256_verifies_with_the_p256_key)
{
    signer_t s = signer(jwtfx_ec_key("P-256"), NULL);
    cr_assert_eq(check_signed(&s, "ES256", s.key), JWT_OK);
    EVP_PKEY *other = jwtfx_ec_key("P-256");
    cr_assert_eq(check_signed(&s, "ES256", other), JWT_ERR_BAD_SIGNATURE, "another P-256 key's signature");
    EVP_PKEY_free(other);
    signer_free(&s);
}

Test(jwt, es256_der_signature_is_refused)
{
    /* JOSE wants r || s (64 bytes); a DER ECDSA-Sig-Value from a careless signer must fail */
    signer_t es = signer(jwtfx_ec_key("P-256"), NULL);
    EVP_PKEY *k = es.key;
    jwt_verifier_t *v = es.v;
    char *h = jwtfx_b64url("{\"alg\":\"ES256\"}", 15), *p = jwtfx_b64url("{\"sub\":\"a\",\"exp\":1700000600}", 28);
    char input[256], token[512];
    snprintf(input, sizeof input, "%s.%s", h, p);
    unsigned char der[128];
    size_t derlen = sizeof der;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    cr_assert(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, k) == 1);
    cr_assert(EVP_DigestSign(ctx, der, &derlen, (unsigned char *)input, strlen(input)) == 1);
    EVP_MD_CTX_free(ctx);
    char *s = jwtfx_b64url(der, derlen);
    snprintf(token, sizeof token, "%s.%s", input, s);
    cr_assert_eq(verify(v, token, NULL), JWT_ERR_BAD_SIGNATURE);
    free(s);
    free(h);
    free(p);
    signer_free(&es);
}

/* ---- algorithms ---- */

Test(jwt, alg_none_is_refused)
{
    jwt_verifier_t *v = verifier(SECRET, NULL, NULL, NULL);
    const char *headers[] = {"{\"alg\":\"none\"}", "{\"alg\":\"None\",\"typ\":\"JWT\"}", "{\"alg\":\"NONE\"}"};
    for (size_t i = 0; i < 3; i++) {
        char *t = jwtfx_sign("none", headers[i], "{\"sub\":\"a\",\"exp\":1700000600}", NULL, NULL, 0);
        const char *why;
        cr_assert_eq(verify(v, t, &why), JWT_ERR_BAD_ALGORITHM, "%s", t);
        cr_assert_str_eq(why, "alg none is refused");
        /* with a signature appended anyway */
        char *t2 = malloc(strlen(t) + 8);
        sprintf(t2, "%sAAAA", t);
        cr_assert_eq(verify(v, t2, NULL), JWT_ERR_BAD_ALGORITHM);
        free(t2);
        free(t);
    }
    jwt_verifier_free(v);
}

Test(jwt, other_algorithms_are_refused)
{
    jwt_verifier_t *v = verifier(SECRET, NULL, NULL, NULL);
    const char *algs[] = {"HS384", "HS512", "PS256", "ES384", "EdDSA", "hs256", ""};
    for (size_t i = 0; i < sizeof algs / sizeof algs[0]; i++) {
        char header[64];
        snprintf(header, sizeof header, "{\"alg\":\"%s\"}", algs[i]);
        char *t = jwtfx_sign("HS256", header, "{\"sub\":\"a\",\"exp\":1700000600}", NULL, SECRET, strlen(SECRET));
        cr_assert_eq(verify(v, t, NULL), JWT_ERR_BAD_ALGORITHM, "alg '%s'", algs[i]);
        free(t);
    }
    char *t = jwtfx_sign("HS256", "{\"alg\":256}", "{\"sub\":\"a\",\"exp\":1700000600}", NULL, SECRET, strlen(SECRET));
    cr_assert_eq(verify(v, t, NULL), JWT_ERR_MALFORMED);
    free(t);
    t = jwtfx_sign("HS256", "{\"typ\":\"JWT\"}", "{\"sub\":\"a\",\"exp\":1700000600}", NULL, SECRET, strlen(SECRET));
    cr_assert_eq(verify(v, t, NULL), JWT_ERR_MALFORMED);
    free(t);
    jwt_verifier_free(v);
}

Test(jwt, hs256_with_the_public_key_as_secret_fails)
{
    /* algorithm confusion: a token "signed" with HS256 keyed by the RSA public key PEM */
    signer_t only_key = signer(jwtfx_rsa_key(2048), NULL);
    char *p = payload("");
    char *forged = jwtfx_sign("HS256", "{\"alg\":\"HS256\",\"typ\":\"JWT\"}", p, NULL, only_key.pem,
                              strlen(only_key.pem));
    const char *why;
    cr_assert_eq(verify(only_key.v, forged, &why), JWT_ERR_BAD_ALGORITHM, "%s", why);
    jwt_verifier_t *both = verifier(SECRET, only_key.pem, NULL, NULL);
    cr_assert_eq(verify(both, forged, &why), JWT_ERR_BAD_SIGNATURE, "%s", why);
    char *good = jwtfx_token("RS256", p, only_key.key, NULL);
    cr_assert_eq(verify(both, good, &why), JWT_OK, "the real RS256 token still works: %s", why);
    free(good);
    jwt_verifier_free(both);
    free(forged);
    free(p);
    signer_free(&only_key);
}

Test(jwt, alg_is_bound_to_the_key_type)
{
    signer_t rsa = signer(jwtfx_rsa_key(2048), NULL), ec = signer(jwtfx_ec_key("P-256"), NULL);
    jwt_verifier_t *hs = verifier(SECRET, NULL, NULL, NULL);
    signer_t hs_only = {.v = hs};
    cr_assert_eq(check_signed(&rsa, "ES256", ec.key), JWT_ERR_BAD_ALGORITHM);
    cr_assert_eq(check_signed(&rsa, "HS256", NULL), JWT_ERR_BAD_ALGORITHM);
    cr_assert_eq(check_signed(&ec, "RS256", rsa.key), JWT_ERR_BAD_ALGORITHM);
    cr_assert_eq(check_signed(&ec, "HS256", NULL), JWT_ERR_BAD_ALGORITHM);
    cr_assert_eq(check_signed(&hs_only, "RS256", rsa.key), JWT_ERR_BAD_ALGORITHM);
    cr_assert_eq(check_signed(&hs_only, "ES256", ec.key), JWT_ERR_BAD_ALGORITHM);
    cr_assert_eq(check_signed(&rsa, "RS256", rsa.key), JWT_OK);
    cr_assert_eq(check_signed(&ec, "ES256", ec.key), JWT_OK);
    cr_assert_eq(check_signed(&hs_only, "HS256", NULL), JWT_OK);
    jwt_verifier_free(hs);
    signer_free(&rsa);
    signer_free(&ec);
}

Test(jwt, crit_header_is_refused)
{
    jwt_verifier_t *v = verifier(SECRET, NULL, NULL, NULL);
    char *t = jwtfx_sign("HS256", "{\"alg\":\"HS256\",\"crit\":[\"exp\"]}", "{\"sub\":\"a\",\"exp\":1700000600}",
                         NULL, SECRET, strlen(SECRET));
    const char *why;
    cr_assert_eq(verify(v, t, &why), JWT_ERR_MALFORMED);
    cr_assert(strstr(why, "crit"), "%s", why);
    free(t);
    jwt_verifier_free(v);
}

/* ---- tampering, truncation, size, malformed ---- */

Test(jwt, tampered_payload_fails)
{
    jwt_verifier_t *v = verifier(SECRET, NULL, NULL, NULL);
    char *t = jwtfx_token("HS256", "{\"sub\":\"a\",\"exp\":1700000600,\"feeds\":[\"crm\"]}", NULL, SECRET);
    char *p2 = jwtfx_b64url("{\"sub\":\"a\",\"exp\":1700000600,\"feeds\":[\"*\"]}", 44);
    char *d1 = strchr(t, '.'), *d2 = strrchr(t, '.');
    char forged[1024];
    snprintf(forged, sizeof forged, "%.*s.%s%s", (int)(d1 - t), t, p2, d2);
    const char *why;
    cr_assert_eq(verify(v, forged, &why), JWT_ERR_BAD_SIGNATURE, "%s", why);
    free(p2);
    free(t);
    jwt_verifier_free(v);
}

Test(jwt, every_truncation_fails_cleanly)
{
    signer_t es = signer(jwtfx_ec_key("P-256"), SECRET);
    jwt_verifier_t *v = es.v;
    char *p = payload("\"feeds\":[\"crm\"]");
    char *tokens[] = {jwtfx_token("HS256", p, NULL, SECRET), jwtfx_token("ES256", p, es.key, NULL)};
    for (size_t t = 0; t < 2; t++) {
        size_t len = strlen(tokens[t]);
        jwt_claims_t c;
        cr_assert_eq(jwt_verify(v, tokens[t], len, NOW, &c), JWT_OK);
        jwt_claims_release(&c);
        for (size_t n = 0; n < len; n++) {
            char *cut = strndup(tokens[t], n);    /* its own allocation: ASan sees any overread */
            int rc = jwt_verify(v, cut, n, NOW, &c);
            cr_assert_neq(rc, JWT_OK, "token %zu cut at %zu accepted", t, n);
            cr_assert(rc == JWT_ERR_MALFORMED || rc == JWT_ERR_BAD_SIGNATURE, "cut at %zu: %d", n, rc);
            jwt_claims_release(&c);
            free(cut);
        }
        free(tokens[t]);
    }
    free(p);
    signer_free(&es);
}

Test(jwt, huge_token_is_refused_before_any_work)
{
    jwt_verifier_t *v = verifier(SECRET, NULL, NULL, NULL);
    char pad[JWT_MAX_TOKEN];
    memset(pad, 'a', sizeof pad - 1);
    pad[sizeof pad - 1] = '\0';
    char *p = malloc(sizeof pad + 64);
    snprintf(p, sizeof pad + 64, "{\"sub\":\"a\",\"exp\":1700000600,\"x\":\"%s\"}", pad);
    char *t = jwtfx_token("HS256", p, NULL, SECRET);
    const char *why;
    cr_assert_eq(verify(v, t, &why), JWT_ERR_MALFORMED);
    cr_assert_str_eq(why, "the token is too long");
    free(t);
    free(p);
    jwt_verifier_free(v);
}

Test(jwt, malformed_tokens)
{
    jwt_verifier_t *v = verifier(SECRET, NULL, NULL, NULL);
    char *good = jwtfx_token("HS256", "{\"sub\":\"a\",\"exp\":1700000600}", NULL, SECRET);
    char *d1 = strchr(good, '.'), *d2 = strrchr(good, '.');
    char buf[1024];
    const char *cases[] = {"", ".", "..", "...", "a.b", "a.b.c.d", "e30.e30.", "e30.e30", "!!!.e30.AAAA",
                           "eyJhbGciOiJIUzI1NiJ9=.e30.AAAA", "WyJIUzI1NiJd.e30.AAAA" /* ["HS256"] */,
                           "bm90IGpzb24.e30.AAAA" /* not json */};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cr_assert_eq(verify(v, cases[i], NULL), JWT_ERR_MALFORMED, "'%s'", cases[i]);
    /* a good header and signature around payloads that are not objects */
    const char *payloads[] = {"", "e30=", "WzFd" /* [1] */, "bnVsbA" /* null */, "*"};
    for (size_t i = 0; i < sizeof payloads / sizeof payloads[0]; i++) {
        snprintf(buf, sizeof buf, "%.*s.%s%s", (int)(d1 - good), good, payloads[i], d2);
        int rc = verify(v, buf, NULL);
        cr_assert(rc == JWT_ERR_MALFORMED || rc == JWT_ERR_BAD_SIGNATURE, "'%s': %d", buf, rc);
    }
    /* a signature with a stray trailing bit, or with padding */
    snprintf(buf, sizeof buf, "%s", good);
    size_t n = strlen(buf);
    buf[n - 1] = buf[n - 1] == 'A' ? 'B' : 'A';
    int rc = verify(v, buf, NULL);
    cr_assert(rc == JWT_ERR_MALFORMED || rc == JWT_ERR_BAD_SIGNATURE);
    snprintf(buf, sizeof buf, "%s=", good);
    cr_assert_eq(verify(v, buf, NULL), JWT_ERR_MALFORMED);
    jwt_claims_t c;
    cr_assert_eq(jwt_verify(v, NULL, 0, NOW, &c), JWT_ERR_MALFORMED);
    jwt_claims_release(&c);
    free(good);
    jwt_verifier_free(v);
}

Test(jwt, duplicate_claims_are_refused)
{
    jwt_verifier_t *v = verifier(SECRET, NULL, NULL, NULL);
    char *t = jwtfx_token("HS256", "{\"sub\":\"a\",\"exp\":1700000600,\"sub\":\"admin\"}", NULL, SECRET);
    cr_assert_eq(verify(v, t, NULL), JWT_ERR_MALFORMED);
    free(t);
    t = jwtfx_sign("HS256", "{\"alg\":\"none\",\"alg\":\"HS256\"}", "{\"sub\":\"a\",\"exp\":1700000600}", NULL,
                   SECRET, strlen(SECRET));
    cr_assert_eq(verify(v, t, NULL), JWT_ERR_MALFORMED);
    free(t);
    jwt_verifier_free(v);
}

/* ---- time and registered claims ---- */

Test(jwt, exp_is_required_and_checked_with_leeway)
{
    jwt_verifier_t *v = verifier(SECRET, NULL, NULL, NULL);
    const struct { const char *payload; int rc; } cases[] = {
        {"{\"sub\":\"a\"}", JWT_ERR_BAD_CLAIMS},
        {"{\"sub\":\"a\",\"exp\":\"1700000600\"}", JWT_ERR_BAD_CLAIMS},
        {"{\"sub\":\"a\",\"exp\":null}", JWT_ERR_BAD_CLAIMS},
        {"{\"sub\":\"a\",\"exp\":-5}", JWT_ERR_BAD_CLAIMS},
        {"{\"sub\":\"a\",\"exp\":1e300}", JWT_ERR_BAD_CLAIMS},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *t = jwtfx_token("HS256", cases[i].payload, NULL, SECRET);
        cr_assert_eq(verify(v, t, NULL), cases[i].rc, "%s", cases[i].payload);
        free(t);
    }
    jwt_verifier_free(v);
}

/* exp is refused from that second on (RFC 7519 4.1.4), nbf accepted from it, each moved by the
 * leeway: none by default, 30 s here, and at most JWT_MAX_LEEWAY_S. */
Test(jwt, exp_and_nbf_with_and_without_leeway)
{
    static const int leeways[] = {0, 30};
    char p[128];
    for (size_t k = 0; k < sizeof leeways / sizeof leeways[0]; k++) {
        int l = leeways[k];
        jwt_verifier_t *v = leeway_verifier(l);
        const struct { const char *claim; int offset; int rc; } times[] = {
            {"exp", -l - 1, JWT_ERR_EXPIRED}, {"exp", -l, JWT_ERR_EXPIRED}, {"exp", -l + 1, JWT_OK},
            {"exp", 3600, JWT_OK},
            {"nbf", l + 1, JWT_ERR_NOT_YET_VALID}, {"nbf", l, JWT_OK}, {"nbf", -3600, JWT_OK},
        };
        for (size_t i = 0; i < sizeof times / sizeof times[0]; i++) {
            if (!strcmp(times[i].claim, "exp"))
                snprintf(p, sizeof p, "{\"sub\":\"a\",\"exp\":%d}", NOW + times[i].offset);
            else
                snprintf(p, sizeof p, "{\"sub\":\"a\",\"exp\":%d,\"nbf\":%d}", NOW + 7200, NOW + times[i].offset);
            char *t = jwtfx_token("HS256", p, NULL, SECRET);
            const char *why;
            cr_assert_eq(verify(v, t, &why), times[i].rc, "leeway %d: %s now%+d: %s", l, times[i].claim,
                         times[i].offset, why);
            free(t);
        }
        jwt_verifier_free(v);
    }
    jwt_verifier_t *v = (jwt_verifier_t *)1;
    char err[128] = "";
    jwt_config_t c = {.hs256_secret = SECRET, .hs256_secret_len = strlen(SECRET), .leeway_s = JWT_MAX_LEEWAY_S + 1};
    cr_assert_eq(jwt_verifier_new(&v, &c, err, sizeof err), JWT_ERR_KEY);
    cr_assert_null(v);
    cr_assert(strstr(err, "leeway"), "%s", err);
}

Test(jwt, expired_token_still_names_its_subject)
{
    jwt_claims_t c;
    cr_assert_eq(claims_of("{\"sub\":\"old-client\",\"exp\":1600000000}", NOW, &c), JWT_ERR_EXPIRED);
    cr_assert_str_eq(c.sub, "old-client");
    cr_assert_str_eq(c.why, "the token has expired");
    jwt_claims_release(&c);
}

Test(jwt, extreme_clocks_do_not_overflow)
{
    const char *p = "{\"sub\":\"a\",\"exp\":253402300799,\"nbf\":253402300799}";
    jwt_claims_t c;
    cr_assert_eq(claims_of(p, INT64_MIN, &c), JWT_ERR_NOT_YET_VALID);
    jwt_claims_release(&c);
    cr_assert_eq(claims_of(p, INT64_MAX, &c), JWT_ERR_EXPIRED);
    jwt_claims_release(&c);
}

#define ISS "https://auth.example.org"
#define AUD "activity-stream"

/* nbf, iss, aud and the application's claims, against verifiers with and without issuer and
 * audience (NOW is 1700000000, no leeway). */
Test(jwt, claims_checked_against_the_configuration)
{
    static const struct { const char *iss, *aud, *extra; int rc; } cases[] = {
        {NULL, NULL, "\"nbf\":1700000001", JWT_ERR_NOT_YET_VALID},
        {NULL, NULL, "\"nbf\":1700000000", JWT_OK},                     /* from that second on */
        {NULL, NULL, "\"nbf\":1699999900", JWT_OK},
        {NULL, NULL, "\"nbf\":\"soon\"", JWT_ERR_BAD_CLAIMS},
        {ISS, NULL, "\"iss\":\"" ISS "\"", JWT_OK},
        {ISS, NULL, "\"iss\":\"https://evil.example.org\"", JWT_ERR_WRONG_ISSUER},
        {ISS, NULL, "\"iss\":\"" ISS "/\"", JWT_ERR_WRONG_ISSUER},
        {ISS, NULL, "\"iss\":[\"" ISS "\"]", JWT_ERR_WRONG_ISSUER},
        {ISS, NULL, "", JWT_ERR_WRONG_ISSUER},                               /* missing */
        {NULL, NULL, "\"iss\":\"anyone\"", JWT_OK},                        /* not configured */
        {NULL, AUD, "\"aud\":\"" AUD "\"", JWT_OK},
        {NULL, AUD, "\"aud\":[\"other\",\"" AUD "\"]", JWT_OK},
        {NULL, AUD, "\"aud\":\"other\"", JWT_ERR_WRONG_AUDIENCE},
        {NULL, AUD, "\"aud\":[\"other\"]", JWT_ERR_WRONG_AUDIENCE},
        {NULL, AUD, "\"aud\":[]", JWT_ERR_WRONG_AUDIENCE},
        {NULL, AUD, "\"aud\":{\"" AUD "\":1}", JWT_ERR_WRONG_AUDIENCE},
        {NULL, AUD, "", JWT_ERR_WRONG_AUDIENCE},                             /* missing */
        {ISS, AUD, "\"iss\":\"" ISS "\",\"aud\":\"" AUD "\"", JWT_OK},
        {NULL, NULL, "\"feeds\":\"crm\"", JWT_ERR_BAD_CLAIMS},
        {NULL, NULL, "\"feeds\":[\"crm\",1]", JWT_ERR_BAD_CLAIMS},
        {NULL, NULL, "\"scope\":[]", JWT_ERR_BAD_CLAIMS},
        {NULL, NULL, "\"scope\":\"match_all\"", JWT_ERR_BAD_CLAIMS},
        {NULL, NULL, "\"allow\":\"stream\"", JWT_ERR_BAD_CLAIMS},
        {NULL, NULL, "\"allow\":[null]", JWT_ERR_BAD_CLAIMS},
        {NULL, NULL, "\"feeds\":[],\"allow\":[],\"scope\":{}", JWT_OK},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        jwt_verifier_t *v = verifier(SECRET, NULL, cases[i].iss, cases[i].aud);
        cr_assert_eq(hs256(v, cases[i].extra), cases[i].rc, "case %zu: %s", i, cases[i].extra);
        jwt_verifier_free(v);
    }
}

Test(jwt, sub_is_required_and_printable)
{
    jwt_verifier_t *v = verifier(SECRET, NULL, NULL, NULL);
    const char *bad[] = {"{\"exp\":1700000600}", "{\"sub\":\"\",\"exp\":1700000600}",
                         "{\"sub\":42,\"exp\":1700000600}", "{\"sub\":\"a\\nb\",\"exp\":1700000600}",
                         "{\"sub\":\"a\\u0000b\",\"exp\":1700000600}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *t = jwtfx_token("HS256", bad[i], NULL, SECRET);
        int rc = verify(v, t, NULL);
        cr_assert(rc == JWT_ERR_BAD_CLAIMS || rc == JWT_ERR_MALFORMED, "%s: %d", bad[i], rc);
        free(t);
    }
    char p[512], sub[JWT_SUB_MAX + 1];
    memset(sub, 's', JWT_SUB_MAX);
    sub[JWT_SUB_MAX] = '\0';
    snprintf(p, sizeof p, "{\"sub\":\"%s\",\"exp\":1700000600}", sub);
    char *t = jwtfx_token("HS256", p, NULL, SECRET);
    cr_assert_eq(verify(v, t, NULL), JWT_ERR_BAD_CLAIMS, "sub too long");
    free(t);
    jwt_verifier_free(v);
}

/* ---- keys ---- */

static void assert_key_error(const char *secret, const char *pem, const char *reason)
{
    jwt_verifier_t *v = (jwt_verifier_t *)1;
    char err[256] = "";
    jwt_config_t c = {.hs256_secret = secret, .hs256_secret_len = secret ? strlen(secret) : 0,
                      .public_key_pem = pem, .public_key_pem_len = pem ? strlen(pem) : 0};
    cr_assert_eq(jwt_verifier_new(&v, &c, err, sizeof err), JWT_ERR_KEY);
    cr_assert_null(v);
    cr_assert(strstr(err, reason), "'%s' lacks '%s'", err, reason);
}

Test(jwt, unusable_keys_are_refused)
{
    assert_key_error(NULL, NULL, "no key");
    assert_key_error("", NULL, "empty");
    assert_key_error(NULL, "not a pem", "not a PEM public key");
    assert_key_error(NULL, "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", "not a PEM public key");
    EVP_PKEY *small = jwtfx_rsa_key(1024), *p384 = jwtfx_ec_key("P-384"), *ec = jwtfx_ec_key("P-256");
    char *small_pem = jwtfx_public_pem(small), *p384_pem = jwtfx_public_pem(p384), *priv = jwtfx_private_pem(ec);
    assert_key_error(NULL, small_pem, "1024 bits");
    assert_key_error(NULL, p384_pem, "only P-256");
    assert_key_error(NULL, priv, "private key");
    free(small_pem);
    free(p384_pem);
    free(priv);
    EVP_PKEY_free(small);
    EVP_PKEY_free(p384);
    EVP_PKEY_free(ec);
}

Test(jwt, strerror_names_codes)
{
    cr_assert_str_eq(jwt_strerror(JWT_OK), "ok");
    cr_assert_str_eq(jwt_strerror(JWT_ERR_EXPIRED), "expired");
    cr_assert_str_eq(jwt_strerror(JWT_ERR_BAD_ALGORITHM), "algorithm not accepted");
    cr_assert_str_eq(jwt_strerror(99), "unknown error");
}
