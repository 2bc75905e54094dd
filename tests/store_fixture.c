/* store_fixture.c -- the store tests' shared fixture (see store_fixture.h). */
#include "store_fixture.h"
#include <criterion/criterion.h>
#include <ftw.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

char *g_dir;          /* owned */
store_t *g_st;        /* owned; NULL when a test closed it */
store_batch_t *g_b;   /* owned */

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb; (void)flag; (void)ftw;
    return remove(path);
}

/* The bytes of one data line of a dump (" <hex>" in bytevalue format) into *out (malloc'd). */
static size_t dump_bytes(const char *line, unsigned char **out)
{
    size_t n = strcspn(line + 1, "\r\n");
    cr_assert(line[0] == ' ' && n % 2 == 0, "not a bytevalue data line: %s", line);
    *out = malloc(n / 2 + 1);
    cr_assert_not_null(*out);
    for (size_t i = 0; i < n / 2; i++) {
        unsigned v;
        cr_assert_eq(sscanf(line + 1 + 2 * i, "%2x", &v), 1, "bad hex: %s", line);
        (*out)[i] = (unsigned char)v;
    }
    return n / 2;
}

void load_store_dump(const char *dump, const char *dir)
{
    FILE *f = fopen(dump, "r");
    cr_assert_not_null(f, "cannot open %s", dump);
    MDB_env *env;
    cr_assert_eq(mdb_env_create(&env), 0);
    cr_assert_eq(mdb_env_set_maxdbs(env, 32), 0);
    cr_assert_eq(mdb_env_set_mapsize(env, 64u << 20), 0);
    cr_assert_eq(mdb_env_open(env, dir, 0, 0644), 0, "cannot create a store in %s", dir);
    char *line = NULL, name[256] = "";
    size_t cap = 0;
    int in_header = 1;
    MDB_txn *txn = NULL;
    MDB_dbi dbi = 0;
    while (getline(&line, &cap, f) > 0) {
        if (in_header) {
            cr_assert(strncmp(line, "format=print", 12) != 0, "%s: use mdb_dump without -p", dump);
            cr_assert(strstr(line, "duplicates=") == NULL && strstr(line, "integerkey=") == NULL,
                      "%s: database flags are not supported: %s", dump, line);
            if (sscanf(line, "database=%255[^\r\n]", name) == 1)
                continue;
            if (strncmp(line, "HEADER=END", 10) == 0) {
                cr_assert(name[0], "%s: a section without database=", dump);
                cr_assert_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
                cr_assert_eq(mdb_dbi_open(txn, name, MDB_CREATE, &dbi), 0);
                in_header = 0;
            }
            continue;
        }
        if (strncmp(line, "DATA=END", 8) == 0) {
            cr_assert_eq(mdb_txn_commit(txn), 0);
            in_header = 1;
            name[0] = '\0';
            continue;
        }
        char *value = NULL;
        cr_assert(getline(&value, &(size_t){0}, f) > 0, "%s: a key without a value", dump);
        unsigned char *k, *v;
        MDB_val key = {dump_bytes(line, &k), NULL}, val = {dump_bytes(value, &v), NULL};
        key.mv_data = k;
        val.mv_data = v;
        cr_assert_eq(mdb_put(txn, dbi, &key, &val, 0), 0);
        free(k);
        free(v);
        free(value);
    }
    cr_assert(in_header, "%s ends inside a database", dump);
    free(line);
    fclose(f);
    mdb_env_close(env);
}

void rm_tree(const char *path)
{
    nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

store_t *open_ok(const char *dir, uint64_t map)
{
    char err[512] = "";
    store_t *st = NULL;
    int rc = store_open(&st, dir, map, err, sizeof err);
    cr_assert_eq(rc, 0, "store_open(%s): %d %s", dir, rc, err);
    cr_assert_not_null(st);
    return st;
}

void store_fixture_setup(void)
{
    char tmpl[] = "/tmp/test_store.XXXXXX";
    cr_assert_not_null(mkdtemp(tmpl));
    g_dir = strdup(tmpl);
    g_st = open_ok(g_dir, 0);
    cr_assert_eq(store_batch_new(g_st, &g_b), 0);
}

void store_fixture_teardown(void)
{
    store_batch_free(g_b);
    store_close(g_st);
    if (g_dir)
        rm_tree(g_dir);
    free(g_dir);
    g_b = NULL;
    g_st = NULL;
    g_dir = NULL;
}


/* Close and reopen the fixture's store (the batch is rebuilt for the new handle). */
void reopen(uint64_t map)
{
    store_batch_free(g_b);
    store_close(g_st);
    g_st = open_ok(g_dir, map);
    cr_assert_eq(store_batch_new(g_st, &g_b), 0);
}

/* ---- building activities ---- */

store_activity_t act(const char *feed, const char *id, int64_t pub, const char *json)
{
    return (store_activity_t){
        .feed = feed, .feed_len = strlen(feed), .id = id, .id_len = strlen(id),
        .published_us = pub, .types = "Create\x1fNote", .types_len = 11,
        .actor = "https://a.example/u/alice", .actor_len = 25, .json = json, .json_len = strlen(json),
    };
}

void upsert(store_batch_t *b, const char *feed, const char *id, int64_t pub, const char *json,
                   uint64_t gen)
{
    store_activity_t a = act(feed, id, pub, json);
    cr_assert_eq(store_batch_upsert(b, &a, gen), 0);
}

store_batch_stats_t commit_ok(store_batch_t *b)
{
    store_batch_stats_t s;
    memset(&s, 0xff, sizeof s);
    int rc = store_batch_commit(b, &s);
    cr_assert_eq(rc, 0, "commit: %s", store_strerror(rc));
    return s;
}

/* ---- collecting scan results (copies; records are borrowed) ---- */


char *dupn(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    cr_assert_not_null(p);
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

int collect(const store_rec_t *rec, void *ud)
{
    coll_t *c = ud;
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 16;
        c->r = realloc(c->r, c->cap * sizeof *c->r);
        cr_assert_not_null(c->r);
    }
    c->r[c->n++] = (crec_t){
        rec->seq, rec->kind, rec->published_us, dupn(rec->feed, rec->feed_len),
        dupn(rec->id, rec->id_len), dupn(rec->types, rec->types_len),
        dupn(rec->actor, rec->actor_len), dupn(rec->data, rec->data_len),
        dupn(rec->json, rec->json_len), rec->superseded,
    };
    return c->stop_at && c->n == c->stop_at ? 42 : 0;
}

void coll_free(coll_t *c)
{
    for (size_t i = 0; i < c->n; i++) {
        crec_t *r = &c->r[i];
        free(r->feed); free(r->id); free(r->types); free(r->actor); free(r->data); free(r->json);
    }
    free(c->r);
    memset(c, 0, sizeof *c);
}

const store_tpos_t T_START = {INT64_MIN, 0};
const store_tpos_t T_END = {INT64_MAX, UINT64_MAX};

void scan_all_time(coll_t *c)
{
    cr_assert_eq(store_scan_time(g_st, T_START, INT64_MAX, 0, 0, collect, c, NULL), 0);
}

void scan_all_changes(coll_t *c)
{
    cr_assert_eq(store_scan_changes(g_st, 0, 0, 0, collect, c, NULL), 0);
}


void pad_json(char *buf, size_t cap, const char *id, int n)
{
    int len = snprintf(buf, cap, "{\"id\":\"%s\",\"n\":%d,\"content\":\"", id, n);
    for (; len < 380; len++)
        buf[len] = (char)('a' + (n + len) % 26);
    snprintf(buf + len, cap - (size_t)len, "\"}");
}

void write_numbered(store_batch_t *b, int from, int count)
{
    char id[32], json[512];
    for (int i = from; i < from + count; i++) {
        snprintf(id, sizeof id, "n%06d", i);
        pad_json(json, sizeof json, id, i);
        upsert(b, "g", id, i, json, 1);
    }
}

void verify_numbered(int total)
{
    coll_t c = {0};
    scan_all_time(&c);
    cr_assert_eq(c.n, (size_t)total);
    char id[32], json[512];
    for (int i = 0; i < total; i++) {
        snprintf(id, sizeof id, "n%06d", i);
        pad_json(json, sizeof json, id, i);
        cr_assert_str_eq(c.r[i].id, id);
        cr_assert_str_eq(c.r[i].json, json);
    }
    coll_free(&c);
    cr_assert_eq(store_feed_count(g_st, "g"), (uint64_t)total);
    cr_assert_eq(store_head(g_st), (uint64_t)total);
}

/* Both stores' change logs and time indexes, record by record. */
void assert_same_stores(store_t *x, store_t *y)
{
    coll_t cx = {0}, cy = {0};
    cr_assert_eq(store_head(x), store_head(y));
    uint64_t hx, hy;
    cr_assert_eq(store_chain(x, &hx), store_chain(y, &hy), "chains differ");
    cr_assert_eq(store_scan_changes(x, 0, 0, 0, collect, &cx, NULL), 0);
    cr_assert_eq(store_scan_changes(y, 0, 0, 0, collect, &cy, NULL), 0);
    cr_assert_eq(cx.n, cy.n, "change logs of %zu and %zu entries", cx.n, cy.n);
    for (size_t i = 0; i < cx.n; i++) {
        cr_assert_eq(cx.r[i].seq, cy.r[i].seq);
        cr_assert_str_eq(cx.r[i].data, cy.r[i].data);
        cr_assert_eq(cx.r[i].superseded, cy.r[i].superseded);
    }
    coll_free(&cx);
    coll_free(&cy);
    cr_assert_eq(store_scan_time(x, T_START, INT64_MAX, 0, 0, collect, &cx, NULL), 0);
    cr_assert_eq(store_scan_time(y, T_START, INT64_MAX, 0, 0, collect, &cy, NULL), 0);
    cr_assert_eq(cx.n, cy.n);
    for (size_t i = 0; i < cx.n; i++)
        cr_assert_str_eq(cx.r[i].data, cy.r[i].data);
    coll_free(&cx);
    coll_free(&cy);
    cr_assert_eq(store_low_water(x), store_low_water(y));
    cr_assert_eq(store_tombstone_horizon(x), store_tombstone_horizon(y));
}

store_t *second_store(char *dir, size_t len)
{
    snprintf(dir, len, "%s/replica", g_dir);
    return open_ok(dir, 0);
}
