/* jwt_fixture.c -- tokens signed with OpenSSL for the tests (see jwt_fixture.h). */
#include "jwt_fixture.h"
#include "jwtmint.h"
#include <criterion/criterion.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

EVP_PKEY *jwtfx_rsa_key(unsigned bits)
{
    EVP_PKEY *k = EVP_RSA_gen(bits);
    cr_assert_not_null(k);
    return k;
}

EVP_PKEY *jwtfx_ec_key(const char *curve)
{
    EVP_PKEY *k = EVP_EC_gen(curve);
    cr_assert_not_null(k);
    return k;
}

static char *bio_text(BIO *bio)
{
    char *data;
    long n = BIO_get_mem_data(bio, &data);
    char *out = malloc((size_t)n + 1);
    cr_assert_not_null(out);
    memcpy(out, data, (size_t)n);
    out[n] = '\0';
    BIO_free(bio);
    return out;
}

char *jwtfx_public_pem(EVP_PKEY *key)
{
    BIO *bio = BIO_new(BIO_s_mem());
    cr_assert(bio && PEM_write_bio_PUBKEY(bio, key) == 1);
    return bio_text(bio);
}

char *jwtfx_private_pem(EVP_PKEY *key)
{
    BIO *bio = BIO_new(BIO_s_mem());
    cr_assert(bio && PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) == 1);
    return bio_text(bio);
}

char *jwtfx_b64url(const void *p, size_t n)
{
    char *out = jwtmint_b64url(p, n);
    cr_assert_not_null(out);
    return out;
}

static size_t digest_sign(EVP_PKEY *key, const char *data, unsigned char *sig, size_t cap)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    size_t len = cap;
    cr_assert(ctx && EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key) == 1);
    cr_assert_eq(EVP_DigestSign(ctx, sig, &len, (const unsigned char *)data, strlen(data)), 1);
    EVP_MD_CTX_free(ctx);
    return len;
}

/* DER ECDSA-Sig-Value to JOSE's fixed-size r || s. */
static size_t der_to_jose(unsigned char *sig, size_t len)
{
    const unsigned char *p = sig;
    ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)len);
    cr_assert_not_null(es);
    const BIGNUM *r, *s;
    ECDSA_SIG_get0(es, &r, &s);
    cr_assert(BN_bn2binpad(r, sig, 32) == 32 && BN_bn2binpad(s, sig + 32, 32) == 32);
    ECDSA_SIG_free(es);
    return 64;
}

static size_t signature(const char *alg, const char *input, EVP_PKEY *key, const void *secret,
                        size_t secret_len, unsigned char *sig)
{
    unsigned int n = 0;
    if (!strcmp(alg, "HS256")) {
        cr_assert_not_null(HMAC(EVP_sha256(), secret, (int)secret_len, (const unsigned char *)input,
                                strlen(input), sig, &n));
        return n;
    }
    if (!strcmp(alg, "RS256"))
        return digest_sign(key, input, sig, 1024);
    if (!strcmp(alg, "ES256"))
        return der_to_jose(sig, digest_sign(key, input, sig, 1024));
    return 0;
}

char *jwtfx_sign(const char *alg, const char *header, const char *payload, EVP_PKEY *key,
                 const void *secret, size_t secret_len)
{
    unsigned char sig[1024];
    char *h = jwtfx_b64url(header, strlen(header)), *p = jwtfx_b64url(payload, strlen(payload));
    size_t n = strlen(h) + strlen(p) + 2;
    char *input = malloc(n);
    cr_assert_not_null(input);
    snprintf(input, n, "%s.%s", h, p);
    size_t siglen = signature(alg, input, key, secret, secret_len, sig);
    char *s = jwtfx_b64url(sig, siglen);
    char *token = malloc(n + strlen(s) + 1);
    cr_assert_not_null(token);
    sprintf(token, "%s.%s", input, s);
    free(h);
    free(p);
    free(s);
    free(input);
    return token;
}

char *jwtfx_token(const char *alg, const char *payload, EVP_PKEY *key, const char *secret)
{
    char header[64];
    snprintf(header, sizeof header, "{\"alg\":\"%s\",\"typ\":\"JWT\"}", alg);
    return jwtfx_sign(alg, header, payload, key, secret, secret ? strlen(secret) : 0);
}

char *jwtfx_temp_file(const char *text)
{
    char *path = strdup("/tmp/test_jwt_XXXXXX");
    cr_assert_not_null(path);
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    size_t len = strlen(text);
    cr_assert_eq(write(fd, text, len), (ssize_t)len);
    close(fd);
    return path;
}
