/* fuzz_pagescan.c -- libFuzzer target for the reader of source pages (untrusted input).
 * Every input goes through pagescan_run, whose acceptance must equal json_loadb's (pagescan.h
 * promises it, but for one documented jansson quirk). An accepted input must give an envelope
 * jansson parses, items that are valid compact JSON without raw CR or LF (the store refuses
 * those), and stand-ins that as2_read_activity reads exactly as it reads the whole item. Then
 * the input goes through pagebatch_read (envelope, as2_read_page, as2_read_activity, embedded
 * pages, next links) into a batch of a store opened once in a temporary directory (reset, never
 * committed), which must not report an internal disagreement or a refused activity. Any broken
 * promise aborts. Built and run by tests/fuzz/run (`make fuzz`). */
#include "as2.h"
#include "pagebatch.h"
#include "pagescan.h"
#include "store.h"
#include <ftw.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define URL "https://src.example/feed/page1.json"
#define BASE "https://src.example/feed/moved/page1.json"
#define NOW INT64_C(1717236000000000)

static char g_dir[] = "/tmp/fuzz_pagescan.XXXXXX";
static store_t *g_st;
static store_batch_t *g_batch;
static pagebatch_t *g_pb;
static pagescan_t g_scan;

static void fail(const char *what, const uint8_t *data, size_t size)
{
    fprintf(stderr, "fuzz_pagescan: %s: '%.*s'\n", what, (int)(size > 300 ? 300 : size),
            (const char *)data);
    abort();
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb; (void)flag; (void)ftw;
    return remove(path);
}

static void cleanup(void)
{
    store_batch_free(g_batch);
    store_close(g_st);
    pagebatch_free(g_pb);
    pagescan_free(&g_scan);
    nftw(g_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char err[512];
    (void)argc; (void)argv;
    if (!mkdtemp(g_dir) || store_open(&g_st, g_dir, 64u << 20, err, sizeof err) < 0 ||
        store_batch_new(g_st, &g_batch) < 0 || pagebatch_new(&g_pb) < 0) {
        fprintf(stderr, "fuzz_pagescan: setup failed (%s)\n", g_dir);
        exit(1);
    }
    pagescan_init(&g_scan);
    atexit(cleanup);
    return 0;
}

/* as2_read_activity on the stand-in and on the whole item must agree. */
static int same_reading(json_t *standin, json_t *whole)
{
    as2_activity_t a, b;
    char ea[200] = "", eb[200] = "";
    int ra = as2_read_activity(standin, NOW, &a, ea, sizeof ea);
    int rb = as2_read_activity(whole, NOW, &b, eb, sizeof eb);
    if (ra != rb || strcmp(ea, eb) != 0)
        return 0;
    if (ra < 0)
        return 1;
    if (strcmp(a.id, b.id) != 0 || a.published_us != b.published_us ||
        a.time_source != b.time_source || a.ntypes != b.ntypes ||
        (!a.actor != !b.actor) || (a.actor && strcmp(a.actor, b.actor) != 0))
        return 0;
    for (size_t i = 0; i < a.ntypes; i++)
        if (strcmp(a.types[i], b.types[i]) != 0)
            return 0;
    return 1;
}

/* The promises about one scanned item. */
static void check_item(size_t i, const uint8_t *data, size_t size)
{
    const pagescan_item_t *it = &g_scan.item[i];
    if ((size_t)it->json.off + it->json.len > g_scan.items.len || it->json.len == 0)
        fail("item outside the items buffer", data, size);
    const char *p = g_scan.items.p + it->json.off;
    if (memchr(p, '\n', it->json.len) || memchr(p, '\r', it->json.len))
        fail("compact item holds a raw CR or LF", data, size);
    json_t *whole = json_loadb(p, it->json.len, JSON_DECODE_ANY, NULL);
    if (!whole)
        fail("compact item is not JSON", data, size);
    json_t *standin = pagescan_standin(&g_scan, i);
    if (!standin)
        fail("no stand-in", data, size);
    if (!same_reading(standin, whole))
        fail("the stand-in reads unlike the whole item", data, size);
    json_decref(standin);
    json_decref(whole);
}

/* The documented exception (pagescan.h): jansson skips a NUL byte right after a number or
 * true/false/null, which pagescan refuses at that byte. */
static int jansson_quirk(const uint8_t *data, size_t pos)
{
    if (pos == 0 || data[pos] != '\0')
        return 0;
    uint8_t c = data[pos - 1];
    return (c >= '0' && c <= '9') || c == 'e' || c == 'l';   /* 1, 1.5, 1e5, true, false, null */
}

/* Returns the number of items scanned (0 for a refused input), or SIZE_MAX when out of memory. */
static size_t check_scan(const uint8_t *data, size_t size)
{
    int rc = pagescan_run(&g_scan, (const char *)data, size);
    if (rc == PAGESCAN_NOMEM)
        return SIZE_MAX;
    json_t *doc = json_loadb((const char *)data, size, 0, NULL);
    if (rc == PAGESCAN_OK && !doc)
        fail("pagescan accepts what jansson refuses", data, size);
    if (rc != PAGESCAN_OK && doc && !jansson_quirk(data, g_scan.err_pos))
        fail("pagescan refuses what jansson accepts", data, size);
    json_decref(doc);
    if (rc != PAGESCAN_OK)
        return 0;
    json_t *env = json_loadb(g_scan.env.p, g_scan.env.len, 0, NULL);
    if (!env)
        fail("the envelope is not JSON", data, size);
    json_decref(env);
    for (size_t i = 0; i < g_scan.nitems; i++)
        check_item(i, data, size);
    return g_scan.nitems;
}

/* `nitems`: how many items pagescan found in the same input. */
static void check_batch(const uint8_t *data, size_t size, size_t nitems)
{
    pagebatch_result_t res;
    char err[512];
    int rc = pagebatch_read(g_pb, (const char *)data, size, URL, BASE, "fuzz", 1, NOW, g_batch,
                            &res, err, sizeof err);
    store_batch_reset(g_batch);
    if (rc == PAGEBATCH_ERR_INTERNAL || rc == PAGEBATCH_ERR_STORE)
        fail(err, data, size);
    if (rc < 0 && (res.next || err[0] == '\0'))
        fail("a failed read must leave no next link and say why", data, size);
    if (rc < 0)
        return;
    if (res.valid + res.skipped > nitems)
        fail("more items read than scanned", data, size);
    if (res.next && strncasecmp(res.next, "http://", 7) != 0 &&
        strncasecmp(res.next, "https://", 8) != 0)
        fail("next is not an http(s) URL", data, size);
    if (res.skipped && strncmp(res.reason, "item ", 5) != 0)
        fail("a skip without its reason", data, size);
    pagebatch_result_free(&res);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t nitems = check_scan(data, size);
    check_batch(data, size, nitems);
    return 0;
}
