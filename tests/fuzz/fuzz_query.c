/* fuzz_query.c -- libFuzzer target for the query engine: compiles the input as a query
 * (query_compile_text) and evaluates it against fixed records; when the input holds a NUL
 * byte, what follows it is also used as an activity's JSON, so the activity reader is fuzzed
 * too. Built and run by tests/fuzz/run (`make fuzz`). */
#include "query.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char rich[] =
    "{\"id\":\"a1\",\"type\":[\"Create\",\"Announce\"],\"published\":\"2024-03-05T10:30:00+02:00\","
    "\"actor\":{\"id\":\"u1\",\"name\":\"Alice \\u00e9 \\ud83d\\ude00\"},\"dit:application\":\"x\","
    "\"object\":[{\"type\":\"Note\",\"content\":\"The quick brown fox\",\"tag\":[\"a\",[\"b\",null]],"
    "\"n\":5},{\"type\":\"Image\",\"url\":\"http://e/x\",\"n\":-2.5e3}],\"meta.source\":\"api\","
    "\"flag\":true,\"none\":null,\"empty\":{},\"list\":[],\"when\":\"2023-12-31T23:59:59Z\"}";

static const char types[] = "Create\x1f" "Announce";

static int match_all_records(const query_t *q, const char *doc, size_t doc_len)
{
    store_rec_t recs[3] = {
        {.seq = 1, .kind = STORE_REC_UPSERT, .published_us = INT64_C(1709627400000000),
         .feed = "f1", .feed_len = 2, .id = "a1", .id_len = 2, .types = types,
         .types_len = sizeof types - 1, .actor = "u1", .actor_len = 2, .json = rich,
         .json_len = sizeof rich - 1},
        {.seq = 2, .kind = STORE_REC_DELETE, .published_us = -1, .feed = "f2", .feed_len = 2,
         .id = "", .id_len = 0, .types = "", .types_len = 0, .actor = NULL, .actor_len = 0,
         .json = "{\"a\":1", .json_len = 6},
        {.seq = 3, .kind = STORE_REC_UPSERT, .published_us = 0, .feed = "f3", .feed_len = 2,
         .id = "d", .id_len = 1, .types = "Note", .types_len = 4, .actor = "u2", .actor_len = 2,
         .json = doc, .json_len = doc_len},
    };
    int n = 0;
    for (int i = 0; i < 3; i++)
        n += query_match(q, &recs[i]);
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    const char *nul = memchr(text, '\0', size);
    size_t qlen = nul ? (size_t)(nul - text) : size;
    /* the document gets its own allocation so ASan sees reads past its end */
    size_t dlen = nul ? size - qlen - 1 : 0;
    char *doc = malloc(dlen ? dlen : 1);
    if (!doc)
        return 0;
    if (dlen)
        memcpy(doc, nul + 1, dlen);
    char err[256];
    query_t *q = NULL;
    if (query_compile_text(text, qlen, &q, err, sizeof err) == 0) {
        match_all_records(q, doc, dlen);
        query_free(q);
    } else if (q != NULL || err[0] == '\0') {
        abort();   /* a failed compile must leave *out NULL and say why */
    }
    free(doc);
    return 0;
}
