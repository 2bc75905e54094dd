/* jsontape.h -- JSON text read in one pass into a flat array of tokens (a "tape"), for reading
 * a few fields of many documents without building a tree.
 *
 * Layout. Tokens are in document order. An object's members follow it as key token, value
 * token, key, value...; an array's elements follow it. Every token's `end` is the index of the
 * first token after its subtree, so a value's next sibling is tok[i].end and the members of
 * object k are walked with `for (i = k + 1; i < tok[k].end; i = tok[i + 1].end)`. Nesting
 * depth is unlimited (the parser does not recurse).
 *
 * Ownership and lifetimes. Tokens do not copy text: strings and numbers are offsets into the
 * caller's text, which is BORROWED and must stay unchanged while the tape is read. A tape keeps
 * its first JSONTAPE_STACK tokens inside itself (no allocation for small documents) and grows
 * onto the heap beyond that; the heap array is OWNED by the tape and freed by
 * jsontape_release. Because of the inline array a tape must not be copied or moved once
 * initialized: pass it by pointer. Strings keep their escapes; jsontape_str decodes one.
 * A tape is not shared between threads while being parsed; reading it is. */
#ifndef JSONTAPE_H
#define JSONTAPE_H
#include <stddef.h>
#include <stdint.h>

/* Error codes (negative). */
enum {
    JSONTAPE_ERR_SYNTAX = -1,   /* not one well-formed JSON value (RFC 8259 structure) */
    JSONTAPE_ERR_NOMEM = -2,
    JSONTAPE_ERR_TOOBIG = -3,   /* text or token count does not fit the 32-bit offsets */
};

enum { JSONTAPE_OBJ, JSONTAPE_ARR, JSONTAPE_STR, JSONTAPE_NUM, JSONTAPE_TRUE, JSONTAPE_FALSE,
       JSONTAPE_NULL };

typedef struct {
    uint8_t type;        /* JSONTAPE_* */
    uint8_t esc;         /* JSONTAPE_STR: holds backslash escapes (jsontape_str decodes them) */
    uint8_t key;         /* JSONTAPE_STR: is an object member's key */
    uint32_t off, len;   /* JSONTAPE_STR: the bytes between the quotes, raw; JSONTAPE_NUM,
                            TRUE, FALSE, NULL: the literal's text; OBJ/ARR: off of the bracket */
    uint32_t end;        /* index of the first token after this value's subtree */
} jsontape_tok_t;

#define JSONTAPE_STACK 512

typedef struct {
    const char *s;               /* borrowed: the text last given to jsontape_parse */
    jsontape_tok_t *tok;         /* `stack` or an owned heap array; tok[0..n) are valid */
    uint32_t n, cap;
    jsontape_tok_t stack[JSONTAPE_STACK];
} jsontape_t;

/* Make an empty tape (no allocation). Call once before the first jsontape_parse. */
void jsontape_init(jsontape_t *t);

/* Tokenize s[0..len) (need not be NUL-terminated): exactly one JSON value, surrounded by
 * optional whitespace. The tape may be parsed into again (its heap array is reused). Checks
 * structure (brackets, commas, colons, string quoting, control characters in strings,
 * literals); number text and escape sequences are delimited, not validated. Returns 0, or
 * JSONTAPE_ERR_SYNTAX, JSONTAPE_ERR_NOMEM or JSONTAPE_ERR_TOOBIG; after an error the tokens are
 * meaningless but the tape may be parsed into again or released. */
int jsontape_parse(jsontape_t *t, const char *s, size_t len);

/* Free what the tape owns and make it empty again (as jsontape_init). */
void jsontape_release(jsontape_t *t);

/* Scratch space for decoding one string: start it as {.heap = NULL}. `heap` is owned (NULL
 * when unused); jsontape_scratch_release frees it once the decoded bytes are no longer needed,
 * after which the scratch may be used again. */
typedef struct { char buf[256]; char *heap; } jsontape_scratch_t;

void jsontape_scratch_release(jsontape_scratch_t *sc);

/* Decode escapes of string token k into sc; see jsontape_str. */
int jsontape_unescape(const jsontape_t *t, uint32_t k, jsontape_scratch_t *sc, const char **p,
                      size_t *n);

/* The bytes of string token k, escapes decoded (\uXXXX into UTF-8; surrogate pairs joined, a
 * lone surrogate becomes U+FFFD; an invalid escape keeps its byte). *p points into the tape's
 * text when the token has no escapes, else into sc; valid while both live and sc is not reused
 * or released. Returns 0, or JSONTAPE_ERR_NOMEM with *p = "" and *n = 0 (a string with escapes
 * longer than sc->buf needs a heap copy). Inline: most strings have no escapes and are read
 * in place, which the match loop of query.c does for every key of every document. */
static inline int jsontape_str(const jsontape_t *t, uint32_t k, jsontape_scratch_t *sc,
                               const char **p, size_t *n)
{
    const jsontape_tok_t *tk = &t->tok[k];
    if (tk->esc)
        return jsontape_unescape(t, k, sc, p, n);
    *p = t->s + tk->off;
    *n = tk->len;
    return 0;
}

#endif
