/* test_query.c -- the query engine against a fixture set of activities built by hand (no store):
 * a table of queries with the ids Elasticsearch's documented semantics give for each clause,
 * and a table of invalid queries with the exact error each must produce. */
#include "query.h"
#include "timefmt.h"
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* ---- fixtures ----
 * Stored columns are what ingest would keep next to the record: types joined ('|' here, the
 * separator in the store), the actor id, the published time it indexes under (a06 has no
 * `published` in its JSON: the store uses `updated`), feed. a04 is a delete record carrying
 * the deleted version; a18's JSON is damaged. */
typedef struct {
    const char *feed, *id, *published, *types, *actor;
    int kind;
    const char *json;
} fx_t;

#define U STORE_REC_UPSERT
static const fx_t FX[] = {
    {"f1", "a01", "2024-01-01T00:00:00Z", "Create", "u1", U,
     "{\"id\":\"a01\",\"type\":\"Create\",\"published\":\"2024-01-01T00:00:00Z\",\"actor\":{\"id\":\"u1\","
     "\"name\":\"Alice Liddell\"},\"object\":{\"type\":\"Note\",\"content\":\"The quick brown fox\","
     "\"tag\":[\"red\",\"Green\"]},\"dit:application\":\"datahub\",\"count\":5}"},
    {"f1", "a02", "2024-01-01T12:00:00Z", "Update", "u2", U,
     "{\"id\":\"a02\",\"type\":\"Update\",\"published\":\"2024-01-01T12:00:00Z\",\"actor\":\"u2\","
     "\"object\":{\"type\":\"Article\",\"content\":\"Lazy dogs sleep all day\",\"name\":\"Dogs\"},\"count\":10}"},
    {"f2", "a03", "2024-01-02T00:00:00Z", "Create", "u1", U,
     "{\"id\":\"a03\",\"type\":\"Create\",\"published\":\"2024-01-02T00:00:00Z\",\"actor\":{\"id\":\"u1\"},"
     "\"object\":{\"type\":\"Note\",\"content\":\"Caf\xc3\xa9 au lait, tr\xc3\xa8s bon\"},\"count\":5.0}"},
    {"f2", "a04", "2024-01-03T00:00:00Z", "Create", "u3", STORE_REC_DELETE,
     "{\"id\":\"a04\",\"type\":\"Create\",\"published\":\"2024-01-03T00:00:00Z\",\"actor\":{\"id\":\"u3\"},"
     "\"object\":{\"type\":\"Note\",\"content\":\"a deleted fox\"}}"},
    {"f1", "a05", "2024-02-01T00:00:00.5Z", "Create|Announce", "u3", U,
     "{\"id\":\"a05\",\"type\":[\"Create\",\"Announce\"],\"published\":\"2024-02-01T00:00:00.5Z\","
     "\"actor\":{\"id\":\"u3\"},\"object\":[{\"type\":\"Note\",\"content\":\"first part\"},"
     "{\"type\":\"Image\",\"url\":\"http://example.com/i.png\"}]}"},
    {"f1", "a06", "2024-02-15T00:00:00Z", "Follow", "u2", U,
     "{\"id\":\"a06\",\"type\":\"Follow\",\"updated\":\"2024-02-15T00:00:00Z\",\"actor\":\"u2\","
     "\"object\":\"http://example.com/u1\"}"},
    {"f3", "a07", "2024-03-01T00:00:00Z", "Create", "u4", U,
     "{\"id\":\"a07\",\"type\":\"Create\",\"published\":\"2024-03-01T00:00:00Z\",\"actor\":{\"id\":\"u4\","
     "\"type\":\"Person\"},\"object\":{\"type\":\"Note\",\"attributedTo\":{\"name\":\"Bob Smith\"},"
     "\"content\":\"Brown bears and FOXES\"},\"score\":7.5,\"flag\":true}"},
    {"f3", "a08", "2024-03-02T00:00:00Z", "Create", "u4", U,
     "{\"id\":\"a08\",\"type\":\"Create\",\"published\":\"2024-03-02T00:00:00Z\",\"actor\":{\"id\":\"u4\"},"
     "\"object\":{\"type\":\"Note\",\"content\":\"\"},\"flag\":false,\"score\":null,\"tags\":[],\"labels\":[null]}"},
    {"f3", "a09", "2024-03-03T00:00:00Z", "Like", "u5", U,
     "{\"id\":\"a09\",\"type\":\"Like\",\"published\":\"2024-03-03T00:00:00Z\",\"actor\":{\"id\":\"u5\"},"
     "\"meta.source\":\"import\",\"object\":{\"id\":\"a07\"}}"},
    {"f2", "a10", "2024-03-04T00:00:00Z", "Create", "u5", U,
     "{\"id\":\"a10\",\"type\":\"Create\",\"published\":\"2024-03-04T00:00:00Z\",\"actor\":{\"id\":\"u5\"},"
     "\"meta\":{\"source\":\"api\"},\"numstr\":\"10\",\"big\":9007199254740993,"
     "\"object\":{\"type\":\"Note\",\"content\":\"ten 10\"}}"},
    {"f1", "a11", "2024-03-05T08:30:00Z", "Create", "u1", U,
     "{\"id\":\"a11\",\"type\":\"Create\",\"published\":\"2024-03-05T10:30:00+02:00\",\"actor\":{\"id\":\"u1\"},"
     "\"object\":{\"type\":\"Event\",\"startTime\":\"2024-03-10T09:00:00Z\"}}"},
    {"f2", "a12", "2024-03-06T00:00:00Z", "Note", "", U,
     "{\"id\":\"a12\",\"type\":\"Note\",\"published\":\"2024-03-06T00:00:00Z\","
     "\"name\":\"line\\nbreak \\\"quoted\\\" \\u00e9t\\u00e9 \\ud83d\\ude00\",\"\\u0074itle\":\"Escaped key\","
     "\"content\":\"\xc3\x89" "COLE \xc3\xa9" "cole\"}"},
    {"f1", "a13", "2024-03-07T00:00:00Z", "Create", "u2", U,
     "{\"id\":\"a13\",\"type\":\"Create\",\"published\":\"2024-03-07T00:00:00Z\",\"actor\":\"u2\","
     "\"grid\":[[1,2],[3,[4]]],\"object\":{\"type\":\"Note\",\"tag\":[{\"name\":\"alpha\"},"
     "{\"name\":\"beta\",\"rank\":2}]}}"},
    {"f3", "a14", "2024-03-08T00:00:00Z", "Delete", "u1", U,
     "{\"id\":\"a14\",\"type\":\"Delete\",\"published\":\"2024-03-08T00:00:00Z\",\"actor\":{\"id\":\"u1\"},"
     "\"object\":\"a01\"}"},
    {"f2", "a15", "2024-03-08T00:00:00Z", "Create", "u6", U,
     "{\"id\":\"a15\",\"type\":\"Create\",\"published\":\"2024-03-08T00:00:00Z\",\"actor\":[{\"id\":\"u6\"},"
     "{\"id\":\"u7\"}],\"object\":{\"type\":\"Note\",\"content\":\"two actors\"}}"},
    {"f1", "a16", "2024-03-09T00:00:00Z", "Create", "u1", U,
     "{\"id\":\"a16\",\"type\":\"Create\",\"published\":\"2024-03-09T00:00:00Z\",\"actor\":{\"id\":\"u1\"},"
     "\"object\":{\"type\":\"Note\",\"content\":\"zebra\",\"published\":\"2023-12-31T23:59:59Z\"},\"count\":-3}"},
    {"f1", "a17", "2024-03-09T00:00:00Z", "Create", "u2", U,
     "{\"id\":\"a17\",\"type\":\"Create\",\"published\":\"2024-03-09T00:00:00Z\",\"actor\":\"u2\","
     "\"object\":{\"type\":\"Note\",\"content\":[\"multi value\",\"array of strings\"]},\"count\":\"5\"}"},
    {"f3", "a18", "2024-03-09T12:00:00Z", "Create", "u9", U,
     "{\"id\":\"a18\",\"type\":\"Create\",\"object\":{\"type\":\"Note\",\"content\":\"trunc"},
    {"f2", "a19", "2024-03-10T00:00:00Z", "Create", "u8", U,
     "{\"id\":\"a19\",\"type\":\"Create\",\"published\":\"2024-03-10T00:00:00Z\",\"actor\":{\"id\":\"u8\"},"
     "\"object\":{\"type\":\"Note\",\"content\":\"Fox fox fox\"}}"},
    {"f1", "a20", "2024-04-01T00:00:00Z", "Create", "", U,
     "{\"id\":\"a20\",\"type\":\"Create\",\"published\":\"2024-04-01T00:00:00Z\","
     "\"items\":[{\"n\":1,\"c\":\"x\"},{\"n\":2,\"c\":\"y\"}]}"},
};
#define NFX (sizeof FX / sizeof FX[0])

static store_rec_t recs[NFX];
static char types_buf[NFX][64];

static void fixtures_init(void)
{
    for (size_t i = 0; i < NFX; i++) {
        const fx_t *f = &FX[i];
        size_t tl = strlen(f->types);
        memcpy(types_buf[i], f->types, tl + 1);
        for (size_t k = 0; k < tl; k++)
            if (types_buf[i][k] == '|')
                types_buf[i][k] = STORE_TYPE_SEP;
        int64_t us;
        cr_assert_eq(timefmt_parse_rfc3339(f->published, strlen(f->published), &us, NULL), 0);
        recs[i] = (store_rec_t){
            .seq = i + 1, .kind = f->kind, .published_us = us,
            .feed = f->feed, .feed_len = strlen(f->feed), .id = f->id, .id_len = strlen(f->id),
            .types = types_buf[i], .types_len = tl, .actor = f->actor, .actor_len = strlen(f->actor),
            .data = "{}", .data_len = 2, .json = f->json, .json_len = strlen(f->json),
        };
    }
}

/* Ids of the fixtures the query matches, space-separated. */
static void run_ids(const char *qtext, char *out, size_t outlen)
{
    char err[512];
    query_t *q;
    int r = query_compile_text(qtext, strlen(qtext), &q, err, sizeof err);
    cr_assert_eq(r, 0, "query %s failed to compile: %s", qtext, err);
    out[0] = '\0';
    for (size_t i = 0; i < NFX; i++) {
        if (!query_match(q, &recs[i]))
            continue;
        size_t n = strlen(out);
        snprintf(out + n, outlen - n, "%s%s", n ? " " : "", FX[i].id);
    }
    query_free(q);
}

#define ALL "a01 a02 a03 a04 a05 a06 a07 a08 a09 a10 a11 a12 a13 a14 a15 a16 a17 a18 a19 a20"
#define CREATES "a01 a03 a04 a05 a07 a08 a10 a11 a13 a15 a16 a17 a18 a19 a20"
#define NOTES "a01 a03 a04 a05 a07 a08 a10 a13 a15 a16 a17 a19"
#define F1 "a01 a02 a05 a06 a11 a13 a16 a17 a20"
#define MARCH "a07 a08 a09 a10 a11 a12 a13 a14 a15 a16 a17 a18 a19"

typedef struct { const char *query, *ids; } case_t;

static const case_t CASES[] = {
    /* match_all / match_none */
    {"{\"match_all\":{}}", ALL},
    {"{\"match_all\":{\"boost\":1.2}}", ALL},
    {"{\"match_none\":{}}", ""},
    /* term on stored columns: exact, case-sensitive unless case_insensitive */
    {"{\"term\":{\"type\":\"Create\"}}", CREATES},
    {"{\"term\":{\"type\":\"create\"}}", ""},
    {"{\"term\":{\"type\":{\"value\":\"create\",\"case_insensitive\":true}}}", CREATES},
    {"{\"term\":{\"type\":\"Announce\"}}", "a05"},
    {"{\"term\":{\"type.keyword\":\"Announce\"}}", "a05"},
    {"{\"terms\":{\"type\":[\"Follow\",\"Like\"]}}", "a06 a09"},
    {"{\"term\":{\"feed\":\"f3\"}}", "a07 a08 a09 a14 a18"},
    {"{\"term\":{\"_index\":\"f3\"}}", "a07 a08 a09 a14 a18"},
    {"{\"term\":{\"actor.id\":\"u1\"}}", "a01 a03 a11 a14 a16"},
    {"{\"term\":{\"actor\":\"u2\"}}", "a02 a06 a13 a17"},
    {"{\"term\":{\"id\":\"a05\"}}", "a05"},
    {"{\"term\":{\"_id\":{\"value\":\"a05\",\"boost\":2}}}", "a05"},
    {"{\"ids\":{\"values\":[\"a02\",\"a09\",\"zzz\"]}}", "a02 a09"},
    {"{\"ids\":{\"values\":[]}}", ""},
    /* term on JSON fields: nested objects, arrays of values and of objects, ':' in keys,
     * literal dotted keys, nested arrays, escaped strings and keys */
    {"{\"term\":{\"object.type\":\"Note\"}}", NOTES},
    {"{\"term\":{\"object.type.keyword\":\"Note\"}}", NOTES},
    {"{\"term\":{\"object.type\":\"Image\"}}", "a05"},
    {"{\"term\":{\"dit:application\":\"datahub\"}}", "a01"},
    {"{\"term\":{\"object.tag\":\"Green\"}}", "a01"},
    {"{\"term\":{\"object.tag.name\":\"beta\"}}", "a13"},
    {"{\"term\":{\"object.content\":\"Brown bears and FOXES\"}}", "a07"},
    {"{\"term\":{\"object.content\":\"brown bears and foxes\"}}", ""},
    {"{\"term\":{\"object.content\":\"array of strings\"}}", "a17"},
    {"{\"term\":{\"meta.source\":\"import\"}}", "a09"},
    {"{\"term\":{\"meta.source\":\"api\"}}", "a10"},
    {"{\"term\":{\"grid\":4}}", "a13"},
    {"{\"term\":{\"grid\":5}}", ""},
    {"{\"term\":{\"name\":\"line\\nbreak \\\"quoted\\\" \xc3\xa9t\xc3\xa9 \xf0\x9f\x98\x80\"}}", "a12"},
    {"{\"term\":{\"title\":\"Escaped key\"}}", "a12"},
    {"{\"term\":{\"actor.name\":\"Alice Liddell\"}}", "a01"},
    {"{\"term\":{\"object\":\"a01\"}}", "a14"},
    /* numbers, booleans and their conversions (the stored value's type decides) */
    {"{\"term\":{\"count\":5}}", "a01 a03 a17"},
    {"{\"term\":{\"count\":\"5\"}}", "a01 a03 a17"},
    {"{\"term\":{\"count\":5.0}}", "a01 a03 a17"},
    {"{\"term\":{\"count\":-3}}", "a16"},
    {"{\"terms\":{\"count\":[10,\"-3\"]}}", "a02 a16"},
    {"{\"term\":{\"big\":9007199254740993}}", "a10"},
    {"{\"term\":{\"big\":9007199254740992}}", ""},
    {"{\"term\":{\"flag\":true}}", "a07"},
    {"{\"term\":{\"flag\":\"false\"}}", "a08"},
    {"{\"term\":{\"score\":7.5}}", "a07"},
    /* dates: a date string matches the same instant written another way */
    {"{\"term\":{\"published\":\"2024-03-08\"}}", "a14 a15"},
    {"{\"term\":{\"published\":\"2024-03-05T10:30:00+02:00\"}}", "a11"},
    {"{\"term\":{\"published\":1709251200000}}", "a07"},
    {"{\"term\":{\"object.startTime\":\"2024-03-10T10:00:00+01:00\"}}", "a11"},
    {"{\"terms\":{\"published\":[\"2024-01-01T12:00:00Z\",\"2024-03-03T00:00:00.000Z\"]}}", "a02 a09"},
    /* prefix */
    {"{\"prefix\":{\"object.content\":\"The q\"}}", "a01"},
    {"{\"prefix\":{\"object.content\":\"the q\"}}", ""},
    {"{\"prefix\":{\"object.content\":{\"value\":\"the q\",\"case_insensitive\":true}}}", "a01"},
    {"{\"prefix\":{\"object.content\":\"multi\"}}", "a17"},
    {"{\"prefix\":{\"id\":\"a1\"}}", "a10 a11 a12 a13 a14 a15 a16 a17 a18 a19"},
    {"{\"prefix\":{\"type\":\"Ann\"}}", "a05"},
    {"{\"prefix\":{\"count\":\"5\"}}", "a17"},
    /* exists: null, [] and [null] are no value; "" is; an object exists through any value
     * inside, including one under a dotted key */
    {"{\"exists\":{\"field\":\"object\"}}",
     "a01 a02 a03 a04 a05 a06 a07 a08 a09 a10 a11 a13 a14 a15 a16 a17 a19"},
    {"{\"exists\":{\"field\":\"score\"}}", "a07"},
    {"{\"exists\":{\"field\":\"tags\"}}", ""},
    {"{\"exists\":{\"field\":\"labels\"}}", ""},
    {"{\"exists\":{\"field\":\"object.content\"}}",
     "a01 a02 a03 a04 a05 a07 a08 a10 a15 a16 a17 a19"},
    {"{\"exists\":{\"field\":\"actor\"}}",
     "a01 a02 a03 a04 a05 a06 a07 a08 a09 a10 a11 a13 a14 a15 a16 a17 a18 a19"},
    {"{\"exists\":{\"field\":\"actor.name\"}}", "a01"},
    {"{\"exists\":{\"field\":\"published\"}}", ALL},
    {"{\"exists\":{\"field\":\"meta\"}}", "a09 a10"},
    {"{\"exists\":{\"field\":\"feed\"}}", ALL},
    /* range on numbers, keywords (byte order), booleans */
    {"{\"range\":{\"count\":{\"gte\":5}}}", "a01 a02 a03 a17"},
    {"{\"range\":{\"count\":{\"gt\":5,\"lt\":10}}}", ""},
    {"{\"range\":{\"count\":{\"gt\":4.5,\"lte\":10}}}", "a01 a02 a03"},
    {"{\"range\":{\"count\":{\"gte\":null,\"lt\":0}}}", "a16"},
    {"{\"range\":{\"numstr\":{\"gte\":\"9\"}}}", ""},
    {"{\"range\":{\"numstr\":{\"gte\":\"1\",\"lt\":\"2\"}}}", "a10"},
    {"{\"range\":{\"score\":{\"gt\":7}}}", "a07"},
    {"{\"range\":{\"type\":{\"gte\":\"D\",\"lt\":\"G\"}}}", "a06 a14"},
    {"{\"range\":{\"flag\":{\"gt\":\"false\"}}}", "a07"},
    {"{\"range\":{\"score\":{}}}", "a07"},
    /* range on dates: date-only and second-precision bounds cover their whole unit */
    {"{\"range\":{\"published\":{\"gte\":\"2024-03-01\",\"lt\":\"2024-03-04\"}}}", "a07 a08 a09"},
    {"{\"range\":{\"published\":{\"gt\":\"2024-03-01\"}}}",
     "a08 a09 a10 a11 a12 a13 a14 a15 a16 a17 a18 a19 a20"},
    {"{\"range\":{\"published\":{\"lte\":\"2024-01-01\"}}}", "a01 a02"},
    {"{\"range\":{\"published\":{\"gte\":1709251200000,\"lt\":1709337600000}}}", "a07"},
    {"{\"range\":{\"published\":{\"gte\":\"1709251200000\",\"lt\":\"1709337600000\"}}}", "a07"},
    {"{\"range\":{\"published\":{\"gte\":1709251200,\"lt\":1709337600,\"format\":\"epoch_second\"}}}", "a07"},
    {"{\"range\":{\"published\":{\"gte\":\"2024-03-05T10:30:00+02:00\",\"lte\":\"2024-03-05T08:30:00Z\"}}}", "a11"},
    {"{\"range\":{\"published\":{\"gt\":\"2024-02-01T00:00:00Z\",\"lt\":\"2024-02-01T00:00:01Z\"}}}", ""},
    {"{\"range\":{\"published\":{\"gte\":\"2024-02-01T00:00:00Z\",\"lt\":\"2024-02-01T00:00:01Z\"}}}", "a05"},
    {"{\"range\":{\"published\":{\"gt\":\"2024-02-01T00:00:00.000Z\",\"lt\":\"2024-02-01T00:00:01Z\"}}}", "a05"},
    {"{\"range\":{\"object.published\":{\"lt\":\"2024-01-01T00:00:00Z\"}}}", "a16"},
    {"{\"range\":{\"object.startTime\":{\"gte\":\"2024-03-10\"}}}", "a11"},
    {"{\"range\":{\"published\":{\"gte\":\"now-100y\"}}}", ALL},
    {"{\"range\":{\"published\":{\"lt\":\"now-100y\"}}}", ""},
    {"{\"range\":{\"published\":{\"gte\":\"2024-03-17||/M\",\"lt\":\"2024-03-01||+1M/M\"}}}", MARCH},
    {"{\"range\":{\"published\":{\"gte\":\"2024-01-31||+1M\"}}}",
     "a07 a08 a09 a10 a11 a12 a13 a14 a15 a16 a17 a18 a19 a20"},
    {"{\"range\":{\"published\":{\"lte\":\"2024-02-01||/w\"}}}", "a01 a02 a03 a04 a05"},
    {"{\"range\":{\"published\":{\"gt\":\"2024-03-09T00:00:00Z||/d\"}}}", "a19 a20"},
    /* match: tokens, lowercase, or/and, minimum_should_match, zero_terms_query */
    {"{\"match\":{\"object.content\":\"fox\"}}", "a01 a04 a19"},
    {"{\"match\":{\"object.content\":\"BROWN dog\"}}", "a01 a07"},
    {"{\"match\":{\"object.content\":{\"query\":\"brown fox\",\"operator\":\"and\"}}}", "a01"},
    {"{\"match\":{\"object.content\":{\"query\":\"brown fox\",\"operator\":\"OR\"}}}", "a01 a04 a07 a19"},
    {"{\"match\":{\"object.content\":{\"query\":\"quick brown zebra\",\"minimum_should_match\":2}}}", "a01"},
    {"{\"match\":{\"object.content\":{\"query\":\"quick brown zebra\",\"minimum_should_match\":\"-1\"}}}", "a01"},
    {"{\"match\":{\"object.content\":{\"query\":\"quick brown zebra\",\"minimum_should_match\":\"34%\"}}}", "a01 a07 a16"},
    {"{\"match\":{\"object.content\":{\"query\":\"quick brown zebra\",\"minimum_should_match\":\"67%\"}}}", "a01"},
    {"{\"match\":{\"object.content\":{\"query\":\"quick brown\",\"minimum_should_match\":3}}}", ""},
    {"{\"match\":{\"object.content\":\"caf\xc3\xa9\"}}", "a03"},
    {"{\"match\":{\"content\":\"\xc3\xa9" "cole\"}}", "a12"},
    {"{\"match\":{\"object.content\":\"array\"}}", "a17"},
    {"{\"match\":{\"object.content\":{\"query\":\"multi strings\",\"operator\":\"and\"}}}", "a17"},
    {"{\"match\":{\"object.content\":\"10\"}}", "a10"},
    {"{\"match\":{\"count\":\"10\"}}", "a02"},
    {"{\"match\":{\"count\":5}}", "a01 a03 a17"},
    {"{\"match\":{\"type\":\"create\"}}", CREATES},
    {"{\"match\":{\"actor.name\":\"alice\"}}", "a01"},
    {"{\"match\":{\"object.content\":\"!!!\"}}", ""},
    {"{\"match\":{\"object.content\":{\"query\":\"!!!\",\"zero_terms_query\":\"all\"}}}", ALL},
    {"{\"match\":{\"published\":\"2024-03-01\"}}", "a07"},
    {"{\"match\":{\"object.content.keyword\":\"fox\"}}", ""},
    {"{\"match\":{\"object.content.keyword\":\"Fox fox fox\"}}", "a19"},
    /* bool */
    {"{\"bool\":{\"must\":[{\"term\":{\"type\":\"Create\"}},{\"term\":{\"feed\":\"f1\"}}]}}",
     "a01 a05 a11 a13 a16 a17 a20"},
    {"{\"bool\":{\"filter\":{\"term\":{\"actor.id\":\"u1\"}},\"must_not\":{\"term\":{\"feed\":\"f2\"}}}}",
     "a01 a11 a14 a16"},
    {"{\"bool\":{\"should\":[{\"term\":{\"type\":\"Follow\"}},{\"term\":{\"type\":\"Like\"}}]}}", "a06 a09"},
    {"{\"bool\":{\"must\":{\"term\":{\"feed\":\"f1\"}},\"should\":[{\"term\":{\"type\":\"Follow\"}},"
     "{\"term\":{\"type\":\"Like\"}}]}}", F1},
    {"{\"bool\":{\"must\":{\"term\":{\"feed\":\"f1\"}},\"should\":[{\"term\":{\"type\":\"Follow\"}},"
     "{\"term\":{\"type\":\"Like\"}}],\"minimum_should_match\":1}}", "a06"},
    {"{\"bool\":{\"should\":[{\"term\":{\"type\":\"Create\"}},{\"term\":{\"feed\":\"f3\"}},"
     "{\"term\":{\"actor.id\":\"u4\"}}],\"minimum_should_match\":2}}", "a07 a08 a18"},
    {"{\"bool\":{\"should\":[{\"term\":{\"type\":\"Create\"}},{\"term\":{\"feed\":\"f3\"}},"
     "{\"term\":{\"actor.id\":\"u4\"}}],\"minimum_should_match\":\"100%\"}}", "a07 a08"},
    {"{\"bool\":{\"should\":[{\"term\":{\"type\":\"Create\"}},{\"term\":{\"feed\":\"f3\"}},"
     "{\"term\":{\"actor.id\":\"u4\"}}],\"minimum_should_match\":\"-1\"}}", "a07 a08 a18"},
    {"{\"bool\":{\"should\":[{\"term\":{\"type\":\"Create\"}},{\"term\":{\"feed\":\"f3\"}},"
     "{\"term\":{\"actor.id\":\"u4\"}}],\"minimum_should_match\":4}}", ""},
    {"{\"bool\":{\"should\":[{\"term\":{\"type\":\"Follow\"}}],\"minimum_should_match\":0}}", "a06"},
    {"{\"bool\":{\"must\":[{\"match_all\":{}}],\"minimum_should_match\":1}}", ""},
    {"{\"bool\":{\"must_not\":{\"term\":{\"type\":\"Create\"}}}}", "a02 a06 a09 a12 a14"},
    {"{\"bool\":{}}", ALL},
    {"{\"bool\":{\"must\":[],\"should\":[],\"boost\":1}}", ALL},
    {"{\"bool\":{\"must\":[{\"bool\":{\"should\":[{\"term\":{\"actor.id\":\"u1\"}},{\"term\":{\"actor.id\":\"u2\"}}]}}],"
     "\"must_not\":[{\"bool\":{\"filter\":[{\"term\":{\"type\":\"Update\"}}]}}]}}",
     "a01 a03 a06 a11 a13 a14 a16 a17"},
    /* Elasticsearch indexes array-of-object fields flattened: both terms may hit different
     * elements (only the `nested` type, which is not supported here, keeps them apart) */
    {"{\"bool\":{\"must\":[{\"term\":{\"items.n\":1}},{\"term\":{\"items.c\":\"y\"}}]}}", "a20"},
};

Test(query, table_of_queries_over_fixtures)
{
    fixtures_init();
    char got[1024];
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        run_ids(CASES[i].query, got, sizeof got);
        cr_expect_str_eq(got, CASES[i].ids, "query %s\n  got:  %s\n  want: %s", CASES[i].query, got,
                         CASES[i].ids);
    }
}

/* ---- errors ---- */

static const case_t ERRORS[] = {
    {"{\"fuzzy\":{\"a\":\"b\"}}", "query: unknown query type 'fuzzy'"},
    {"{\"bool\":{\"must\":[{\"match_all\":{}},{\"fuzzy\":{\"a\":\"b\"}}]}}",
     "query.bool.must[1]: unknown query type 'fuzzy'"},
    {"{\"range\":{\"published\":{\"gt\":\"yesterday\"}}}", "query.range.published.gt: expected a date or number"},
    {"{\"bool\":{\"must\":[{\"term\":{\"a\":1}},{\"range\":{\"published\":{\"gtx\":1}}}]}}",
     "query.bool.must[1].range.published: unknown key 'gtx'"},
    {"{}", "query: empty query object (expected one query type)"},
    {"{\"term\":{\"a\":1},\"match_all\":{}}", "query: expected one query type, found 2 keys"},
    {"[]", "query: expected a query object, found an array"},
    {"\"term\"", "query: expected a query object, found a string"},
    {"{\"term\":{\"a\":[1,2]}}", "query.term.a: expected a string, number or boolean, found an array"},
    {"{\"term\":{\"a\":null}}", "query.term.a: expected a string, number or boolean, found null"},
    {"{\"term\":{\"a\":1,\"b\":2}}", "query.term: expected one field, found 'a' and 'b'"},
    {"{\"term\":{}}", "query.term: expected a field"},
    {"{\"term\":\"a\"}", "query.term: expected an object, found a string"},
    {"{\"term\":{\"a\":{\"value\":1,\"boost\":\"x\"}}}", "query.term.a.boost: expected a number, found a string"},
    {"{\"term\":{\"a\":{\"vale\":1}}}", "query.term.a: unknown key 'vale'"},
    {"{\"term\":{\"a\":{\"case_insensitive\":true}}}", "query.term.a: missing 'value'"},
    {"{\"term\":{\"a\":{\"value\":1,\"case_insensitive\":\"yes\"}}}",
     "query.term.a.case_insensitive: expected true or false, found a string"},
    {"{\"term\":{\"a\":{\"value\":{}}}}", "query.term.a.value: expected a string, number or boolean, found an object"},
    {"{\"term\":{\"published\":\"soon\"}}", "query.term.published: expected a date or number"},
    {"{\"term\":{\"a*\":1}}", "query.term.a*: wildcards in field names are not supported"},
    {"{\"term\":{\"a..b\":1}}", "query.term.a..b: invalid field name (empty path segment)"},
    {"{\"term\":{\".a\":1}}", "query.term..a: invalid field name (empty path segment)"},
    {"{\"term\":{\"\":1}}", "query.term.: invalid field name (empty or longer than 1024 bytes)"},
    {"{\"terms\":{\"a\":\"x\"}}", "query.terms.a: expected an array, found a string"},
    {"{\"terms\":{\"a\":{\"index\":\"i\",\"id\":\"1\",\"path\":\"p\"}}}",
     "query.terms.a: terms lookup is not supported; expected an array"},
    {"{\"terms\":{\"a\":[1,{}]}}", "query.terms.a[1]: expected a string, number or boolean, found an object"},
    {"{\"terms\":{\"boost\":1}}", "query.terms: expected a field"},
    {"{\"terms\":{\"a\":[1],\"b\":[2]}}", "query.terms: expected one field, found 'a' and 'b'"},
    {"{\"ids\":{\"values\":\"a\"}}", "query.ids.values: expected an array, found a string"},
    {"{\"ids\":{\"values\":[1]}}", "query.ids.values[0]: expected a string, found a number"},
    {"{\"ids\":{}}", "query.ids: missing 'values'"},
    {"{\"ids\":{\"values\":[],\"type\":\"x\"}}", "query.ids: unknown key 'type'"},
    {"{\"exists\":{\"field\":1}}", "query.exists: 'field' must be a string"},
    {"{\"exists\":{}}", "query.exists: missing 'field'"},
    {"{\"exists\":{\"fields\":\"a\"}}", "query.exists: unknown key 'fields'"},
    {"{\"exists\":{\"field\":\"a.*\"}}", "query.exists.field: wildcards in field names are not supported"},
    {"{\"range\":{\"a\":5}}", "query.range.a: expected an object with gt, gte, lt or lte, found a number"},
    {"{\"range\":{\"a\":{\"gt\":1,\"gte\":2}}}", "query.range.a: both 'gt' and 'gte' given"},
    {"{\"range\":{\"a\":{\"lte\":1,\"lt\":2}}}", "query.range.a: both 'lt' and 'lte' given"},
    {"{\"range\":{\"a\":{\"gt\":[1]}}}", "query.range.a.gt: expected a string or number, found an array"},
    {"{\"range\":{\"published\":{\"gt\":true}}}", "query.range.published.gt: expected a date or number, found a boolean"},
    {"{\"range\":{\"a\":{\"gte\":\"now-1x\"}}}", "query.range.a.gte: invalid date math 'now-1x' (units: y M w d h H m s)"},
    {"{\"range\":{\"a\":{\"gte\":\"2024-01-01||+\"}}}", "query.range.a.gte: invalid date math '2024-01-01||+' (units: y M w d h H m s)"},
    {"{\"range\":{\"a\":{\"gte\":1,\"format\":\"yyyy-MM-dd\"}}}",
     "query.range.a.format: unsupported date format 'yyyy-MM-dd' (supported: strict_date_optional_time, "
     "date_optional_time, strict_date_time, date_time, epoch_millis, epoch_second)"},
    {"{\"range\":{\"a\":{\"gte\":1,\"format\":7}}}", "query.range.a.format: expected a string, found a number"},
    {"{\"range\":{\"published\":{\"gte\":1,\"format\":\"strict_date_optional_time\"}}}",
     "query.range.published.gte: expected a date or number"},
    {"{\"range\":{\"a\":{\"gte\":1,\"time_zone\":\"+01:00\"}}}", "query.range.a: unknown key 'time_zone'"},
    {"{\"prefix\":{\"published\":\"2024\"}}", "query.prefix.published: prefix is not supported on the date field 'published'"},
    {"{\"prefix\":{\"a\":5}}", "query.prefix.a: expected a string"},
    {"{\"prefix\":{\"a\":{\"value\":\"x\",\"rewrite\":\"constant_score\"}}}", "query.prefix.a: unknown key 'rewrite'"},
    {"{\"match\":{\"a\":{\"query\":\"x\",\"operator\":\"xor\"}}}", "query.match.a.operator: expected \"or\" or \"and\""},
    {"{\"match\":{\"a\":{\"query\":\"x\",\"fuzziness\":\"AUTO\"}}}", "query.match.a: unknown key 'fuzziness'"},
    {"{\"match\":{\"a\":{\"operator\":\"and\"}}}", "query.match.a: missing 'query'"},
    {"{\"match\":{\"a\":{\"query\":[\"x\"]}}}", "query.match.a.query: expected a string, number or boolean, found an array"},
    {"{\"match\":{\"a\":{\"query\":\"x\",\"minimum_should_match\":\"3<90%\"}}}",
     "query.match.a.minimum_should_match: expected an integer or a percentage like \"75%\", found \"3<90%\""},
    {"{\"match\":{\"a\":{\"query\":\"x\",\"zero_terms_query\":\"some\"}}}",
     "query.match.a.zero_terms_query: expected \"none\" or \"all\""},
    {"{\"match\":{\"published\":\"yesterday\"}}", "query.match.published: expected a date or number"},
    {"{\"match_all\":{\"x\":1}}", "query.match_all: unknown key 'x'"},
    {"{\"match_none\":[]}", "query.match_none: expected an object, found an array"},
    {"{\"ids\":[\"a\"]}", "query.ids: expected an object, found an array"},
    {"{\"exists\":\"a\"}", "query.exists: expected an object, found a string"},
    {"{\"bool\":{\"must\":\"x\"}}", "query.bool.must: expected an object or an array, found a string"},
    {"{\"bool\":{\"must\":[1]}}", "query.bool.must[0]: expected a query object, found a number"},
    {"{\"bool\":{\"should\":[{}]}}", "query.bool.should[0]: empty query object (expected one query type)"},
    {"{\"bool\":{\"filter\":{\"term\":{\"a\":{}}}}}", "query.bool.filter.term.a: missing 'value'"},
    {"{\"bool\":{\"must_not\":[{\"match_all\":{}},{\"bool\":{\"must\":[{\"ids\":{\"values\":[2]}}]}}]}}",
     "query.bool.must_not[1].bool.must[0].ids.values[0]: expected a string, found a number"},
    {"{\"bool\":{\"minimum_should_match\":1.5,\"should\":[]}}",
     "query.bool.minimum_should_match: expected an integer or a percentage, found a number"},
    {"{\"bool\":{\"minimum_should_match\":\"x%\",\"should\":[]}}",
     "query.bool.minimum_should_match: expected an integer or a percentage like \"75%\", found \"x%\""},
    {"{\"bool\":{\"mustnot\":[]}}", "query.bool: unknown key 'mustnot'"},
    {"{\"bool\":[]}", "query.bool: expected an object, found an array"},
};

Test(query, errors_name_the_clause_and_its_path)
{
    for (size_t i = 0; i < sizeof ERRORS / sizeof ERRORS[0]; i++) {
        char err[512] = "";
        query_t *q = (query_t *)1;
        int r = query_compile_text(ERRORS[i].query, strlen(ERRORS[i].query), &q, err, sizeof err);
        cr_expect_eq(r, -1, "query %s compiled", ERRORS[i].query);
        cr_expect_null(q, "query %s: *out not NULL", ERRORS[i].query);
        cr_expect_str_eq(err, ERRORS[i].ids, "query %s\n  got:  %s\n  want: %s", ERRORS[i].query, err,
                         ERRORS[i].ids);
    }
}

Test(query, malformed_json_is_an_error)
{
    static const char *bad[] = {"{\"term\":", "", "nul", "{\"term\":{\"a\":1,\"a\":2}}", "{\"a\" 1}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char err[256] = "";
        query_t *q;
        cr_expect_eq(query_compile_text(bad[i], strlen(bad[i]), &q, err, sizeof err), -1, "%s", bad[i]);
        cr_expect(strncmp(err, "query is not valid JSON", 23) == 0, "%s -> %s", bad[i], err);
    }
}

Test(query, json_deeper_than_32_is_an_error)
{
    char text[256];
    size_t n = 0;
    n += (size_t)sprintf(text + n, "{\"term\":{\"a\":");
    for (int i = 0; i < 31; i++)
        text[n++] = '[';
    text[n++] = '1';
    for (int i = 0; i < 31; i++)
        text[n++] = ']';
    n += (size_t)sprintf(text + n, "}}");
    char err[256];
    query_t *q;
    cr_assert_eq(query_compile_text(text, n, &q, err, sizeof err), -1);
    cr_expect_str_eq(err, "query is nested deeper than 32");
    /* brackets inside strings do not count */
    const char *ok = "{\"term\":{\"a\":\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\"}}";
    cr_expect_eq(query_compile_text(ok, strlen(ok), &q, err, sizeof err), 0, "%s", err);
    query_free(q);
}

/* n nested bools around match_all, built as a tree (query_compile's own depth check). */
static json_t *nested_bool(int n)
{
    json_t *q = json_pack("{s:{}}", "match_all");
    for (int i = 0; i < n; i++)
        q = json_pack("{s:{s:o}}", "bool", "filter", q);
    return q;
}

Test(query, clauses_nested_deeper_than_32_are_an_error)
{
    char err[512];
    query_t *q;
    json_t *ok = nested_bool(31);   /* 31 bools + match_all = 32 levels */
    cr_assert_eq(query_compile(ok, &q, err, sizeof err), 0, "%s", err);
    cr_expect(query_match(q, &(store_rec_t){.id = "x", .id_len = 1}));
    query_free(q);
    json_decref(ok);
    json_t *deep = nested_bool(32);
    cr_assert_eq(query_compile(deep, &q, err, sizeof err), -1);
    cr_expect(strstr(err, ": query nested deeper than 32") != NULL, "%s", err);
    cr_expect(strncmp(err, "query.bool.filter.bool.filter.", 30) == 0, "%s", err);
    json_decref(deep);
}

Test(query, match_with_too_many_terms_is_an_error)
{
    size_t n = 1025 * 2;
    char *text = malloc(n + 64);
    size_t w = (size_t)sprintf(text, "{\"match\":{\"a\":\"");
    for (size_t i = 0; i < 1025; i++)
        w += (size_t)sprintf(text + w, "a ");
    w += (size_t)sprintf(text + w, "\"}}");
    char err[256];
    query_t *q;
    cr_expect_eq(query_compile_text(text, w, &q, err, sizeof err), -1);
    cr_expect_str_eq(err, "query.match.a: too many terms in the query text (at most 1024)");
    free(text);
}

Test(query, error_buffer_is_truncated_safely)
{
    char err[8];
    query_t *q;
    const char *t = "{\"fuzzy\":{}}";
    cr_expect_eq(query_compile_text(t, strlen(t), &q, err, sizeof err), -1);
    cr_expect_str_eq(err, "query: ");
    cr_expect_eq(query_compile_text(t, strlen(t), &q, NULL, 0), -1);
}

/* Clauses on stored columns never read the JSON: the record's JSON here is an unreadable
 * page, so touching it would crash. */
Test(query, stored_fields_never_read_the_json)
{
    long pg = sysconf(_SC_PAGESIZE);
    char *page = mmap(NULL, (size_t)pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(page, MAP_FAILED);
    char types[] = "Create\x1fNote";
    store_rec_t r = {.seq = 1, .kind = STORE_REC_UPSERT, .published_us = INT64_C(1709251200000000),
                     .feed = "f1", .feed_len = 2, .id = "x1", .id_len = 2, .types = types,
                     .types_len = sizeof types - 1, .actor = "u1", .actor_len = 2,
                     .json = page, .json_len = (size_t)pg};
    static const char *yes[] = {
        "{\"term\":{\"type\":\"Note\"}}", "{\"term\":{\"feed\":\"f1\"}}", "{\"term\":{\"_index\":\"f1\"}}",
        "{\"term\":{\"actor.id\":\"u1\"}}", "{\"terms\":{\"actor\":[\"u9\",\"u1\"]}}", "{\"ids\":{\"values\":[\"x1\"]}}",
        "{\"term\":{\"_id\":\"x1\"}}", "{\"range\":{\"published\":{\"gte\":\"2024-03-01\",\"lt\":\"2024-03-02\"}}}",
        "{\"prefix\":{\"type\":\"Cr\"}}", "{\"exists\":{\"field\":\"actor\"}}", "{\"match\":{\"type\":\"note\"}}",
        "{\"bool\":{\"filter\":[{\"term\":{\"type\":\"Create\"}}],\"must_not\":{\"term\":{\"feed\":\"f2\"}}}}",
    };
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        char err[256];
        query_t *q;
        cr_assert_eq(query_compile_text(yes[i], strlen(yes[i]), &q, err, sizeof err), 0, "%s", err);
        cr_expect(query_match(q, &r), "%s", yes[i]);
        query_free(q);
    }
    munmap(page, (size_t)pg);
}

/* A record whose JSON is not an object behaves as having no JSON fields. */
Test(query, unusable_json_has_no_fields)
{
    static const char *docs[] = {"", "[1,2]", "\"s\"", "{\"a\":1", "{\"a\":1}}", "{\"a\" 1}", "{\"a\":tru}",
                                 "{\"a\":[1,}", "{\"a\":\"\x01\"}", "{1:2}", "{\"a\":1,}"};
    char err[256];
    query_t *q;
    const char *t = "{\"bool\":{\"should\":[{\"exists\":{\"field\":\"a\"}},{\"term\":{\"type\":\"T\"}}]}}";
    cr_assert_eq(query_compile_text(t, strlen(t), &q, err, sizeof err), 0, "%s", err);
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
        store_rec_t r = {.types = "T", .types_len = 1, .json = docs[i], .json_len = strlen(docs[i])};
        cr_expect(query_match(q, &r), "type should still match for %s", docs[i]);
        r.types_len = 0;
        cr_expect(!query_match(q, &r), "exists a should fail for %s", docs[i]);
    }
    store_rec_t good = {.json = "{\"a\":1}", .json_len = 7};
    cr_expect(query_match(q, &good));
    query_free(q);
}

/* Big documents leave the stack tape for the heap; escapes longer than the scratch buffer. */
Test(query, large_documents)
{
    size_t n = 200000;
    char *doc = malloc(n + 256);
    size_t w = (size_t)sprintf(doc, "{\"list\":[");
    for (int i = 0; i < 20000; i++)
        w += (size_t)sprintf(doc + w, "%s%d", i ? "," : "", i);
    w += (size_t)sprintf(doc + w, "],\"s\":\"");
    for (int i = 0; i < 300; i++)
        w += (size_t)sprintf(doc + w, "\\u0041");
    w += (size_t)sprintf(doc + w, "\"}");
    store_rec_t r = {.json = doc, .json_len = w};
    char err[256], big[400];
    query_t *q;
    const char *t = "{\"term\":{\"list\":19999}}";
    cr_assert_eq(query_compile_text(t, strlen(t), &q, err, sizeof err), 0);
    cr_expect(query_match(q, &r));
    query_free(q);
    int bn = sprintf(big, "{\"term\":{\"s\":\"");
    memset(big + bn, 'A', 300);
    sprintf(big + bn + 300, "\"}}");
    cr_assert_eq(query_compile_text(big, strlen(big), &q, err, sizeof err), 0);
    cr_expect(query_match(q, &r));
    query_free(q);
    free(doc);
}

/* One compiled query, many threads. */
typedef struct { const query_t *q; int matches; } thr_t;

static void *thr_run(void *arg)
{
    thr_t *t = arg;
    for (int rep = 0; rep < 2000; rep++)
        for (size_t i = 0; i < NFX; i++)
            t->matches += query_match(t->q, &recs[i]);
    return NULL;
}

Test(query, concurrent_matching_on_one_query)
{
    fixtures_init();
    const char *text = "{\"bool\":{\"should\":[{\"match\":{\"object.content\":\"fox brown\"}},"
                       "{\"range\":{\"count\":{\"gte\":5}}}]}}";
    char err[256];
    query_t *q;
    cr_assert_eq(query_compile_text(text, strlen(text), &q, err, sizeof err), 0, "%s", err);
    thr_t t[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        t[i] = (thr_t){q, 0};
        pthread_create(&th[i], NULL, thr_run, &t[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        /* a01 a02 a03 a04 a07 a17 a19 */
        cr_expect_eq(t[i].matches, 2000 * 7);
    }
    query_free(q);
}

Test(query, free_null_is_a_noop)
{
    query_free(NULL);
}

/* ---- tombstones: three-valued scope evaluation ----
 * A tombstone of feed "crm", id "t1", type Create (and Note), published 2024-05-01: no actor,
 * no content. Clauses on feed, type, id and published decide; anything else is unknown and
 * admits unless a decided clause refuses. */
typedef struct { const char *query; int admits; } tomb_case_t;

static const tomb_case_t TOMB_CASES[] = {
    {"{\"match_all\":{}}", 1},
    {"{\"match_none\":{}}", 0},
    {"{\"term\":{\"feed\":\"crm\"}}", 1},
    {"{\"term\":{\"_index\":\"hr\"}}", 0},
    {"{\"terms\":{\"feed.keyword\":[\"hr\",\"crm\"]}}", 1},
    {"{\"term\":{\"type\":\"Note\"}}", 1},
    {"{\"term\":{\"type\":\"Like\"}}", 0},
    {"{\"match\":{\"type\":\"create\"}}", 1},
    {"{\"ids\":{\"values\":[\"t1\"]}}", 1},
    {"{\"ids\":{\"values\":[\"t2\"]}}", 0},
    {"{\"prefix\":{\"_id\":\"t\"}}", 1},
    {"{\"range\":{\"published\":{\"gte\":\"2024-05-01\"}}}", 1},
    {"{\"range\":{\"published\":{\"lt\":\"2024-05-01\"}}}", 0},
    {"{\"exists\":{\"field\":\"feed\"}}", 1},
    /* fields a tombstone does not have: unknown, so admitted */
    {"{\"term\":{\"actor.id\":\"u1\"}}", 1},
    {"{\"match\":{\"object.content\":\"secret\"}}", 1},
    {"{\"exists\":{\"field\":\"object.tag\"}}", 1},
    /* bool must/filter: no if any is no */
    {"{\"bool\":{\"filter\":[{\"term\":{\"feed\":\"crm\"}},{\"term\":{\"actor\":\"u1\"}}]}}", 1},
    {"{\"bool\":{\"filter\":[{\"term\":{\"feed\":\"hr\"}},{\"term\":{\"actor\":\"u1\"}}]}}", 0},
    {"{\"bool\":{\"must\":[{\"match\":{\"object.content\":\"x\"}},{\"term\":{\"type\":\"Like\"}}]}}", 0},
    /* must_not: no if any is yes; unknown admits */
    {"{\"bool\":{\"must_not\":{\"term\":{\"feed\":\"crm\"}}}}", 0},
    {"{\"bool\":{\"must_not\":{\"term\":{\"feed\":\"hr\"}}}}", 1},
    {"{\"bool\":{\"must_not\":{\"term\":{\"actor\":\"u1\"}}}}", 1},
    {"{\"bool\":{\"must_not\":{\"bool\":{\"must_not\":{\"term\":{\"actor\":\"u1\"}}}}}}", 1},
    {"{\"bool\":{\"must_not\":{\"bool\":{\"must_not\":{\"term\":{\"feed\":\"hr\"}}}}}}", 0},
    /* should: unknown counts as matching */
    {"{\"bool\":{\"should\":[{\"term\":{\"feed\":\"hr\"}},{\"term\":{\"actor\":\"u1\"}}]}}", 1},
    {"{\"bool\":{\"should\":[{\"term\":{\"feed\":\"hr\"}},{\"term\":{\"type\":\"Like\"}}]}}", 0},
    {"{\"bool\":{\"should\":[{\"term\":{\"feed\":\"hr\"}},{\"match\":{\"object.content\":\"a\"}},"
     "{\"term\":{\"type\":\"Like\"}}],\"minimum_should_match\":2}}", 0},
    {"{\"bool\":{\"should\":[{\"term\":{\"feed\":\"crm\"}},{\"match\":{\"object.content\":\"a\"}},"
     "{\"term\":{\"type\":\"Like\"}}],\"minimum_should_match\":2}}", 1},
    {"{\"bool\":{\"filter\":{\"term\":{\"feed\":\"crm\"}},\"should\":{\"term\":{\"type\":\"Like\"}}}}", 1},
    {"{\"bool\":{\"should\":[{\"term\":{\"feed\":\"crm\"}}],\"minimum_should_match\":2}}", 0},
    /* a typical client scope: its feeds, and only Creates by one actor */
    {"{\"bool\":{\"filter\":[{\"terms\":{\"feed\":[\"crm\",\"events\"]}},{\"term\":{\"type\":\"Create\"}},"
     "{\"term\":{\"actor.id\":\"u1\"}}]}}", 1},
    {"{\"bool\":{\"filter\":[{\"terms\":{\"feed\":[\"sales\",\"events\"]}},{\"term\":{\"actor.id\":\"u1\"}}]}}", 0},
};

static store_rec_t tombstone(void)
{
    static char types[] = "Create\x1fNote";
    int64_t us;
    cr_assert_eq(timefmt_parse_rfc3339("2024-05-01T12:00:00Z", 20, &us, NULL), 0);
    return (store_rec_t){.seq = 99, .kind = STORE_REC_DELETE, .published_us = us, .feed = "crm", .feed_len = 3,
                         .id = "t1", .id_len = 2, .types = types, .types_len = strlen(types),
                         .actor = "", .actor_len = 0, .data = "{}", .data_len = 2, .json = "", .json_len = 0};
}

Test(query, tombstones_are_judged_on_what_they_keep)
{
    store_rec_t t = tombstone();
    for (size_t i = 0; i < sizeof TOMB_CASES / sizeof TOMB_CASES[0]; i++) {
        const tomb_case_t *c = &TOMB_CASES[i];
        char err[512];
        query_t *q;
        cr_assert_eq(query_compile_text(c->query, strlen(c->query), &q, err, sizeof err), 0, "%s: %s", c->query, err);
        cr_expect_eq(query_admits_tombstone(q, &t), c->admits, "%s: expected %s", c->query,
                     c->admits ? "admitted" : "refused");
        query_free(q);
    }
}

Test(query, tombstone_evaluation_never_reads_json)
{
    store_rec_t t = tombstone();
    t.json = "{\"actor\":{\"id\":\"u1\"},\"object\":{\"content\":\"secret\"}}";   /* must be ignored */
    t.json_len = strlen(t.json);
    const char *text = "{\"bool\":{\"must_not\":{\"term\":{\"actor.id\":\"u1\"}}}}";
    char err[256];
    query_t *q;
    cr_assert_eq(query_compile_text(text, strlen(text), &q, err, sizeof err), 0, "%s", err);
    cr_expect_eq(query_admits_tombstone(q, &t), 1, "the unknown actor must not be read from the JSON");
    query_free(q);
}
