/* bench_query.c -- filtered history: a store of 1,000,000 ~400-byte activities (written in
 * batches of 1,000 into a temporary directory), then the whole time index scanned with
 * query_match for
 *   query.term_type      {"term":{"type":"Create"}}              (target >= 1,000,000/s)
 *   query.match_content  {"match":{"object.content":"some word"}} (target >= 300,000/s)
 * and, for reference, the bare scan (store.scan_all). Rates are activities scanned per second
 * of wall time, best of 3 passes; the match counts are checked against what was written.
 * Exit status 0 unless something failed. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "bench.h"
#include "harness.h"
#include "query.h"
#include "store.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_ACTS 1000000
#define BASE_US 1700000000000000LL

static const char *const words[] = {
    "lorem", "ipsum", "dolor", "sit", "amet", "consectetur", "adipiscing", "elit", "sed", "do",
    "eiusmod", "tempor", "incididunt", "labore", "dolore", "magna", "aliqua", "enim", "minim",
    "veniam", "quis", "nostrud", "exercitation", "ullamco", "laboris", "nisi", "aliquip", "ex",
    "ea", "commodo", "consequat", "duis", "aute", "irure", "reprehenderit", "voluptate",
    "velit", "esse", "cillum", "fugiat", "nulla", "pariatur", "excepteur", "sint", "occaecat",
    "cupidatat", "non", "proident", "sunt", "culpa", "qui", "officia", "deserunt", "mollit",
    "anim", "id", "est", "laborum", "some", "word", "Words", "SOME", "wordy", "awesome",
};
#define N_WORDS (sizeof words / sizeof words[0])

static uint64_t rng = 0x9E3779B97F4A7C15ULL;
static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

typedef struct { long creates, some_word; } truth_t;

/* A ~400-byte activity; 3 in 4 are Create. Counts what the two queries must find. */
static size_t make_json(char *buf, size_t cap, long i, char *id, size_t *id_len, const char **type,
                        truth_t *t)
{
    char content[256];
    size_t w = 0;
    int hit = 0;
    for (int k = 0; k < 14; k++) {
        const char *word = words[next_rand() % N_WORDS];
        hit |= !strcmp(word, "some") || !strcmp(word, "word") || !strcmp(word, "SOME");
        w += (size_t)snprintf(content + w, sizeof content - w, "%s%s", k ? " " : "", word);
    }
    *type = i % 4 == 3 ? "Update" : "Create";
    t->creates += i % 4 != 3;
    t->some_word += hit;
    *id_len = bench_activity_id(id, i);
    return (size_t)snprintf(buf, cap,
        "{\"@context\":\"https://www.w3.org/ns/activitystreams\",\"type\":\"%s\",\"id\":\"%s\","
        "\"actor\":{\"id\":\"https://bench.example/users/u%ld\",\"type\":\"Person\"},"
        "\"published\":\"2023-11-14T22:13:20.%06ldZ\",\"object\":{\"type\":\"Note\","
        "\"id\":\"https://bench.example/notes/%08ld\",\"content\":\"%s.\"}}",
        *type, id, i % 97, i % 1000000, i, content);
}

static int make_activity(long i, store_activity_t *a, void *ud)
{
    static char json[640], id[96], actor[64];
    size_t id_len;
    const char *type;
    size_t len = make_json(json, sizeof json, i, id, &id_len, &type, ud);
    int alen = snprintf(actor, sizeof actor, "https://bench.example/users/u%ld", i % 97);
    *a = (store_activity_t){
        .feed = "bench", .feed_len = 5, .id = id, .id_len = id_len,
        .published_us = BASE_US + i * 1000, .types = type, .types_len = strlen(type),
        .actor = actor, .actor_len = (size_t)alen, .json = json, .json_len = len,
    };
    return 0;
}

static int build(store_t *st, truth_t *t)
{
    return bench_fill_store(st, N_ACTS, make_activity, t, "query.setup");
}

typedef struct { const query_t *q; long n, matched; } scan_st_t;

static int on_rec(const store_rec_t *r, void *ud)
{
    scan_st_t *s = ud;
    s->n++;
    if (s->q)
        s->matched += query_match(s->q, r);
    return 0;
}

/* Scan everything with the query (NULL: none), best of 3; checks the match count. */
static int bench_one(store_t *st, const char *label, const char *text, long want, const char *target)
{
    query_t *q = NULL;
    char err[256];
    if (text && query_compile_text(text, strlen(text), &q, err, sizeof err)) {
        fprintf(stderr, "%s: %s\n", label, err);
        return -1;
    }
    double best = 0;
    for (int round = 0; round < 3; round++) {
        scan_st_t s = {q, 0, 0};
        double t0 = bench_now_s();
        int rc = store_scan_time(st, (store_tpos_t){INT64_MIN, 0}, INT64_MAX, 0, 0, on_rec, &s, NULL);
        double rate = s.n / (bench_now_s() - t0);
        if (rc || s.n != N_ACTS || (q && s.matched != want)) {
            fprintf(stderr, "%s: rc %d, %ld scanned, %ld matched (want %ld)\n", label, rc, s.n,
                    s.matched, want);
            query_free(q);
            return -1;
        }
        if (rate > best)
            best = rate;
    }
    printf("%s  %.0f activities/s%s  [%s; %ld of %d match; best of 3]\n", label, best, target,
           text ? text : "no query", q ? want : (long)N_ACTS, N_ACTS);
    query_free(q);
    return 0;
}

int main(void)
{
    /* the store's write speed is bench_store's business: build in memory when there is room */
    const char *tmp = bench_shm_has_room(4e9) ? "/dev/shm" : bench_tmp_parent();
    bench_print_machine();
    char dir[4096], err[512];
    if (bench_mkdtemp(dir, sizeof dir, tmp, "bench_query") != 0)
        return 1;
    store_t *st = NULL;
    truth_t t = {0, 0};
    int rc = store_open(&st, dir, 0, err, sizeof err);
    if (rc)
        fprintf(stderr, "store_open: %s\n", err);
    if (rc == 0)
        rc = build(st, &t);
    if (rc == 0)
        rc = bench_one(st, "store.scan_all", NULL, 0, "");
    if (rc == 0)
        rc = bench_one(st, "query.term_type", "{\"term\":{\"type\":\"Create\"}}", t.creates,
                       " (target >= 1000000)");
    if (rc == 0)
        rc = bench_one(st, "query.match_content", "{\"match\":{\"object.content\":\"some word\"}}",
                       t.some_word, " (target >= 300000)");
    store_close(st);
    h_rmdir(dir);
    return rc ? 1 : 0;
}
