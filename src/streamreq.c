/* streamreq.c -- parse and validate /stream parameters (URL, headers, JSON body); evaluate the
 * filter they describe against stored records. See streamreq.h. */
#include "streamreq.h"
#include "bytebuf.h"
#include "datemath.h"
#include "errfmt.h"
#include "sse.h"
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

/* A time as start and end take it, into *out: `now` and date math (now-1h, now-1d/d,
 * 2024-01-01||+1M; rounding takes the start of the unit), an RFC 3339 time or a date, or Unix
 * milliseconds. Returns 0, -1 when it is none of these, -2 when it is a bare number that looks
 * like Unix seconds. */
static int parse_time(const char *v, int64_t now_us, int64_t *out)
{
    size_t len = strlen(v);
    const char *digits = v + (*v == '-');
    datemath_span_t span;
    if (*digits && strspn(digits, "0123456789") == strlen(digits)) {
        if (strlen(digits) > 15) /* beyond year 33658: not a time anyone means */
            return -1;
        long long ms = strtoll(v, NULL, 10);
        if (ms >= 1 && ms <= STREAMREQ_MAX_SECONDS_LIKE)
            return -2;
        *out = ms * 1000;
        return 0;
    }
    int rc = datemath_parse(v, len, now_us, &span);
    if (rc == DATEMATH_ERR_NOTMATH)
        rc = datemath_parse_date(v, len, &span);
    if (rc != 0)
        return -1;
    *out = span.lo;
    return 0;
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

static int time_param(int64_t *dst, const char *name, const char *v, int64_t now_us, fail_t *f)
{
    int rc = parse_time(v, now_us, dst);
    if (rc == -2)
        return fail(f, name, "%s=%s looks like Unix seconds; give Unix milliseconds (%s000), an RFC 3339 "
                    "time or date math such as now-1h", name, v, v);
    if (rc != 0)
        return fail(f, name, "%s must be an RFC 3339 time, Unix milliseconds, now or date math such as "
                    "now-1h or now-1d/d, got '%s'", name, v);
    return 0;
}

static int apply_param(streamreq_t *r, seen_t *s, const char *name, const char *v, int64_t now_us, fail_t *f)
{
    if (strcmp(name, "start") == 0) {
        if (once(&s->seen_start, "start", f) || (*v && time_param(&r->start_us, "start", v, now_us, f)))
            return -1;
    } else if (strcmp(name, "end") == 0) {
        if (once(&s->seen_end, "end", f) || (*v && time_param(&r->end_us, "end", v, now_us, f)))
            return -1;
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

/* ---- the body ---- */

static const char *const body_params[] = {"query", "start", "end", "feed", "type", "actor", "last_event_id",
                                          "format"};
#define NBODY_PARAMS (sizeof body_params / sizeof body_params[0])

static int is_body_param(const char *key)
{
    for (size_t i = 0; i < NBODY_PARAMS; i++)
        if (strcmp(key, body_params[i]) == 0)
            return 1;
    return 0;
}

/* An object of parameters rather than a bare query: it has a key that is a parameter name. */
static int is_param_object(json_t *body)
{
    const char *key;
    json_t *v;
    json_object_foreach(body, key, v)
        if (is_body_param(key))
            return 1;
    return 0;
}

static int body_query(streamreq_t *r, seen_t *s, json_t *q, fail_t *f)
{
    if (s->seen_q++)
        return fail(f, "q", "give the query either in q or in the request body, not both");
    return set_query(r, q, f);
}

/* One value of a body parameter: a string, or a whole number of milliseconds for start and end. */
static int body_value(streamreq_t *r, seen_t *s, const char *key, json_t *v, int64_t now_us, fail_t *f)
{
    char num[32];
    if (json_is_integer(v) && (strcmp(key, "start") == 0 || strcmp(key, "end") == 0)) {
        snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return apply_param(r, s, key, num, now_us, f);
    }
    if (!json_is_string(v))
        return fail(f, key, "%s in the request body must be a string", key);
    return apply_param(r, s, key, json_string_value(v), now_us, f);
}

static int body_param(streamreq_t *r, seen_t *s, const char *key, json_t *v, int64_t now_us, fail_t *f)
{
    if (!is_body_param(key))
        return fail(f, key, "unknown field '%s' in the request body (known: query, start, end, feed, type, "
                    "actor, last_event_id, format)", key);
    if (strcmp(key, "query") == 0)
        return body_query(r, s, v, f);
    int listy = !strcmp(key, "feed") || !strcmp(key, "type") || !strcmp(key, "actor");
    if (!listy || !json_is_array(v))
        return body_value(r, s, key, v, now_us, f);
    size_t i;
    json_t *item;
    json_array_foreach(v, i, item)
        if (body_value(r, s, key, item, now_us, f) != 0)
            return -1;
    return 0;
}

static int parse_body(streamreq_t *r, seen_t *s, const char *body, size_t len, int64_t now_us, fail_t *f)
{
    json_t *j;
    char msg[400];
    if (query_parse_text(body, len, "the request body", &j, msg, sizeof msg) < 0)
        return fail(f, "body", "%s", msg);
    int rc = 0;
    if (!json_is_object(j) || !is_param_object(j)) {
        rc = body_query(r, s, j, f);
    } else {
        const char *key;
        json_t *v;
        json_object_foreach(j, key, v)
            if (rc == 0)
                rc = body_param(r, s, key, v, now_us, f);
    }
    json_decref(j);
    return rc;
}

/* ---- after the parameters ---- */

static int known_feed(const streamreq_in_t *in, const char *id)
{
    for (size_t i = 0; i < in->nfeed_ids; i++)
        if (strcmp(in->feed_ids[i], id) == 0)
            return 1;
    return 0;
}

static int check_feeds(const streamreq_t *r, const streamreq_in_t *in, fail_t *f)
{
    for (size_t i = 0; in->check_feeds && i < r->feeds.n; i++) {
        if (known_feed(in, r->feeds.items[i]))
            continue;
        if (in->nfeed_ids == 0)
            return fail(f, "feed", "unknown feed '%s': this server has no feeds configured", r->feeds.items[i]);
        const char *const *ids = in->readable_ids ? in->readable_ids : in->feed_ids;
        size_t n = in->readable_ids ? in->nreadable_ids : in->nfeed_ids;
        bytebuf_t known = {0};
        for (size_t k = 0; k < n; k++)
            bytebuf_printf(&known, "%s%s", k ? ", " : "", ids[k]);
        fail(f, "feed", "unknown feed '%s'; %s: %s", r->feeds.items[i],
             in->readable_ids ? "the feeds these credentials may read are" : "the configured feeds are",
             known.p ? known.p : n ? "(out of memory)" : "none");
        bytebuf_free(&known);
        return -1;
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

static int parse_all(streamreq_t *out, seen_t *s, const streamreq_in_t *in, fail_t *f)
{
    int rc = parse_pairs(out, s, in->query_string ? in->query_string : "", in->query_string ? in->qs_len : 0,
                         in->now_us, f);
    if (!s->seen_format && in->accept && in->accept_len &&
        memmem(in->accept, in->accept_len, "application/x-ndjson", 20))
        out->format = SSE_FORMAT_NDJSON;
    if (rc == 0 && in->body && in->body_len)
        rc = parse_body(out, s, in->body, in->body_len, in->now_us, f);
    if (rc == 0 && out->has_end && out->end_us < out->start_us)
        rc = fail(f, "end", "end is before start");
    if (rc == 0)
        rc = check_feeds(out, in, f);
    /* The header wins: EventSource sends it on reconnect, with the original URL. */
    if (rc == 0 && in->last_event_id && in->lei_len)
        rc = parse_resume(out, in->last_event_id, in->lei_len, f);
    else if (rc == 0 && s->lei)
        rc = parse_resume(out, s->lei, strlen(s->lei), f);
    return rc;
}

int streamreq_parse(streamreq_t *out, const streamreq_in_t *in, char *err, size_t errlen, char *param,
                    size_t paramlen)
{
    fail_t f = {err, param, errlen, paramlen};
    seen_t s = {0};
    param[0] = '\0';
    memset(out, 0, sizeof *out);
    out->start_us = in->now_us;
    out->end_us = INT64_MAX;
    int rc = parse_all(out, &s, in, &f);
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
