/* jwtmint.c -- HS256 JSON Web Tokens minted with OpenSSL (see jwtmint.h). */
#include "jwtmint.h"
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *jwtmint_b64url(const void *p, size_t n)
{
    char *out = malloc(4 * ((n + 2) / 3) + 1);
    if (!out)
        return NULL;
    int len = EVP_EncodeBlock((unsigned char *)out, p, (int)n);
    for (int i = 0; i < len; i++)
        out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
    while (len > 0 && out[len - 1] == '=')
        len--;
    out[len] = '\0';
    return out;
}

char *jwtmint_hs256(const char *payload, const char *secret)
{
    static const char header[] = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";   /* {"alg":"HS256","typ":"JWT"} */
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    char *body = jwtmint_b64url(payload, strlen(payload)), *sig = NULL, *token = NULL;
    size_t len = sizeof header + (body ? strlen(body) : 0) + 1;
    char *input = body ? malloc(len) : NULL;
    if (input) {
        snprintf(input, len, "%s.%s", header, body);
        if (HMAC(EVP_sha256(), secret, (int)strlen(secret), (unsigned char *)input, strlen(input), mac, &maclen))
            sig = jwtmint_b64url(mac, maclen);
    }
    if (sig && (token = malloc(len + strlen(sig) + 1)))
        sprintf(token, "%s.%s", input, sig);
    free(body);
    free(input);
    free(sig);
    return token;
}
