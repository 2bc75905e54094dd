/* streamreq.c -- parse and validate GET /stream parameters; evaluate the filter they
 * describe against stored records. See streamreq.h. */
#include "streamreq.h"
#include "errfmt.h"
#include "sse.h"
#include "timefmt.h"
#include "urlcode.h"
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct {
    char *err, *param;
    size_t errlen, paramlen;
} fail_t;

static int fail(fail_t *f, const char *param, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(fail_t *f, const char *param, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    verrfmt(f->err, f->errlen, fmt, ap);
    va_end(ap);
    snprintf(f->param, f->paramlen, "%s", param);
    return -1;
}

/* Percent-decode into a new NUL-terminated string; NULL on a bad escape, an encoded NUL or
 * out of memory. */
static char *url_decode(const char *s, size_t len)
{
    char *out = malloc(len + 1);
    if (out && urlcode_decode(s, len, out, len + 1) < 0) {
        free(out);
        out = NULL;
    }
    return out;
}

/* `now`, Unix milliseconds (optionally negative), or RFC 3339. */
static int parse_time(const char *v, int64_t now_us, int64_t *out)
{
    if (strcmp(v, "now") == 0) {
        *out = now_us;
        return 0;
    }
    const char *p = v + (*v == '-');
    if (*p && strspn(p, "0123456789") == strlen(p)) {
        if (strlen(p) > 15) /* beyond year 33658: not a time anyone means */
            return -1;
        *out = strtoll(v, NULL, 10) * 1000;
        return 0;
    }
    return timefmt_parse_rfc3339(v, strlen(v), out, NULL);
}

/* Split a comma-separated list into owned strings (empty elements are skipped). */
static int add_list(streamreq_list_t *l, const char *v)
{
    for (const char *p = v; *p;) {
        size_t n = strcspn(p, ",");
        if (n) {
            char **items = realloc(l->items, (l->n + 1) * sizeof *items);
            if (!items)
                return -1;
            l->items = items;
            if (!(l->items[l->n] = strndup(p, n)))
                return -1;
            l->n++;
        }
        p += n + (p[n] == ',');
    }
    return 0;
}

static int set_query(streamreq_t *r, json_t *q, fail_t *f)
{
    /* Accept the Elasticsearch request-body form {"query": {...}} as well as the bare query. */
    if (json_is_object(q) && json_object_size(q) == 1 && json_object_get(q, "query"))
        q = json_object_get(q, "query");
    char msg[512];
    if (query_compile(q, &r->query, msg, sizeof msg) != 0)
        return fail(f, "q", "%s", msg);
    return 0;
}

static int parse_query_text(streamreq_t *r, const char *text, size_t len, const char *what, fail_t *f)
{
    json_t *q;
    char msg[400];
    if (query_parse_text(text, len, what, &q, msg, sizeof msg) < 0)
        return fail(f, "q", "%s", msg);
    int rc = set_query(r, q, f);
    json_decref(q);
    return rc;
}

typedef struct {
    int seen_start, seen_end, seen_lei, seen_format, seen_q;
    char *lei;  /* owned */
} seen_t;

static int once(int *flag, const char *name, fail_t *f)
{
    if ((*flag)++)
        return fail(f, name, "%s is given more than once", name);
    return 0;
}

static int apply_param(streamreq_t *r, seen_t *s, const char *name, const char *v, int64_t now_us, fail_t *f)
{
    if (strcmp(name, "start") == 0) {
        if (once(&s->seen_start, "start", f))
            return -1;
        if (*v && parse_time(v, now_us, &r->start_us) != 0)
            return fail(f, "start", "start must be an RFC 3339 time, Unix milliseconds or now, got '%s'", v);
    } else if (strcmp(name, "end") == 0) {
        if (once(&s->seen_end, "end", f))
            return -1;
        if (*v && parse_time(v, now_us, &r->end_us) != 0)
            return fail(f, "end", "end must be an RFC 3339 time, Unix milliseconds or now, got '%s'", v);
        r->has_end = *v != '\0';
    } else if (strcmp(name, "feed") == 0 || strcmp(name, "type") == 0 || strcmp(name, "actor") == 0) {
        streamreq_list_t *l = name[0] == 'f' ? &r->feeds : name[0] == 't' ? &r->types : &r->actors;
        if (add_list(l, v) != 0)
            return fail(f, name[0] == 'f' ? "feed" : name[0] == 't' ? "type" : "actor", "out of memory");
    } else if (strcmp(name, "last_event_id") == 0) {
        if (once(&s->seen_lei, "last_event_id", f))
            return -1;
        free(s->lei);
        s->lei = strdup(v);
    } else if (strcmp(name, "format") == 0) {
        if (once(&s->seen_format, "format", f))
            return -1;
        if (strcmp(v, "ndjson") == 0)
            r->format = SSE_FORMAT_NDJSON;
        else if (*v && strcmp(v, "sse") != 0)
            return fail(f, "format", "format must be sse or ndjson, got '%s'", v);
    } else if (strcmp(name, "q") == 0) {
        if (once(&s->seen_q, "q", f))
            return -1;
        if (*v && parse_query_text(r, v, strlen(v), "q", f) != 0)
            return -1;
    } else {
        return fail(f, name, "unknown parameter '%s' (known: start, end, feed, type, actor, q, last_event_id, format)", name);
    }
    return 0;
}

static int parse_pairs(streamreq_t *r, seen_t *s, const char *qs, size_t len, int64_t now_us, fail_t *f)
{
    const char *end = qs + len;
    for (const char *p = qs; p < end;) {
        const char *amp = memchr(p, '&', end - p);
        if (!amp)
            amp = end;
        const char *eq = memchr(p, '=', amp - p);
        if (amp > p) {
            char *name = url_decode(p, (eq ? eq : amp) - p);
            char *val = eq ? url_decode(eq + 1, amp - eq - 1) : strdup("");
            int rc = !name || !val ? fail(f, "query", "malformed percent-encoding in the query string")
                                   : apply_param(r, s, name, val, now_us, f);
            free(name);
            free(val);
            if (rc != 0)
                return -1;
        }
        p = amp + 1;
    }
    return 0;
}

static int parse_resume(streamreq_t *r, const char *lei, size_t len, fail_t *f)
{
    if (len == 0)
        return 0;
    if (eventid_parse(lei, len, &r->resume) != 0) {
        char shown[80];
        snprintf(shown, sizeof shown, "%.*s", (int)(len > 64 ? 64 : len), lei);
        return fail(f, "last_event_id", "last_event_id '%s' is not an event id of this server", shown);
    }
    r->has_resume = 1;
    return 0;
}

int streamreq_parse(streamreq_t *out, const char *query_string, size_t qs_len,
                    const char *last_event_id, size_t lei_len, const char *accept, size_t accept_len,
                    const char *body, size_t body_len, int64_t now_us,
                    char *err, size_t errlen, char *param, size_t paramlen)
{
    fail_t f = {err, param, errlen, paramlen};
    seen_t s = {0};
    param[0] = '\0';
    memset(out, 0, sizeof *out);
    out->start_us = now_us;
    out->end_us = INT64_MAX;
    int rc = parse_pairs(out, &s, query_string ? query_string : "", query_string ? qs_len : 0, now_us, &f);
    if (!s.seen_format && accept && accept_len && memmem(accept, accept_len, "application/x-ndjson", 20))
        out->format = SSE_FORMAT_NDJSON;
    if (rc == 0 && body_len && s.seen_q)
        rc = fail(&f, "q", "give the query either in q or in the request body, not both");
    else if (rc == 0 && body_len)
        rc = parse_query_text(out, body, body_len, "the request body", &f);
    if (rc == 0 && out->has_end && out->end_us < out->start_us)
        rc = fail(&f, "end", "end is before start");
    /* The header wins: EventSource sends it on reconnect, with the original URL. */
    if (rc == 0 && last_event_id && lei_len)
        rc = parse_resume(out, last_event_id, lei_len, &f);
    else if (rc == 0 && s.lei)
        rc = parse_resume(out, s.lei, strlen(s.lei), &f);
    free(s.lei);
    if (rc != 0)
        streamreq_free(out);
    return rc;
}

static void free_list(streamreq_list_t *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->items[i]);
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

void streamreq_free(streamreq_t *r)
{
    free_list(&r->feeds);
    free_list(&r->types);
    free_list(&r->actors);
    query_free(r->query);
    r->query = NULL;
}

static int list_has(const streamreq_list_t *l, const char *s, size_t len)
{
    for (size_t i = 0; i < l->n; i++)
        if (strlen(l->items[i]) == len && memcmp(l->items[i], s, len) == 0)
            return 1;
    return 0;
}

static int types_match(const streamreq_list_t *l, const store_rec_t *rec)
{
    for (size_t i = 0; i < l->n; i++)
        if (store_rec_has_type(rec, l->items[i], strlen(l->items[i])))
            return 1;
    return 0;
}

int streamreq_match(const streamreq_t *r, const store_rec_t *rec)
{
    if (r->feeds.n && !list_has(&r->feeds, rec->feed, rec->feed_len))
        return 0;
    if (r->types.n && !types_match(&r->types, rec))
        return 0;
    /* A tombstone keeps no actor and no content: the actor and query filters cannot judge it,
     * so a delete reaches every stream whose feed and type filters admit it, and whose scope
     * may have admitted the activity. */
    if (rec->kind == STORE_REC_DELETE)
        return !r->scope || query_admits_tombstone(r->scope, rec);
    if (r->actors.n && !list_has(&r->actors, rec->actor, rec->actor_len))
        return 0;
    return (!r->query || query_match(r->query, rec)) && (!r->scope || query_match(r->scope, rec));
}
