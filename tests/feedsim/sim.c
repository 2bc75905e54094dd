/* sim.c -- feedsim's model: the ordered log of synthetic activities and their JSON.
 *
 * The log is an array of entries in mseq order. Updates and deletes leave dead slots behind
 * (so mseq cursors stay a binary search away); the array is compacted when dead slots
 * outnumber live ones. pos[n] maps an activity number to its slot. An entry's JSON is
 * rendered once, on first use, and kept until the entry changes. */
#include "sim.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NO_POS SIZE_MAX
#define COMPACT_MIN_DEAD 4096

typedef struct {
    uint64_t n, mseq;
    int64_t published_us, updated_us;   /* updated_us 0: never updated */
    uint32_t version;
    uint32_t len;                       /* of json */
    char *json;                         /* owned; NULL until rendered and in dead slots */
    int live;
} entry_t;

struct sim {
    sim_opts_t o;
    entry_t *log;           /* owned, mseq order */
    size_t len, cap, live;
    size_t *pos;            /* owned; pos[n] = slot of activity n or NO_POS */
    size_t npos, poscap;    /* npos: next activity number */
    uint64_t mseq;
    uint64_t rng;           /* state for *_random */
};

/* ---- deterministic randomness ---- */

static uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static uint64_t next_rand(uint64_t *state)
{
    *state += 0x9e3779b97f4a7c15ULL;
    return mix64(*state);
}

/* ---- rendering ---- */

static const char *const activity_types[] = {"Create", "Update", "Announce", "Like", "Follow"};
static const char *const first_names[] = {"Ada", "Grace", "Alan", "Barbara", "Edsger",
                                          "Frances", "Donald", "Margaret", "Ken", "Radia"};
/* JSON-ready words: some need escaping or are multi-byte, so clients' decoders get exercised. */
static const char *const words[] = {
    "lorem", "ipsum", "dolor", "sit", "amet", "consectetur", "adipiscing", "elit", "sed", "do",
    "eiusmod", "tempor", "incididunt", "ut", "labore", "et", "dolore", "magna", "aliqua",
    "caf\\u00e9", "na\xc3\xafve", "\\\"quoted\\\"", "<em>markup</em>", "a&b", "back\\\\slash",
    "tab\\there", "\xe2\x9c\x93", "\xf0\x9f\x8c\x8d", "line\\nbreak", "enim", "minim", "veniam"};
#define NWORDS (sizeof words / sizeof words[0])

static size_t fmt_time(int64_t us, char *buf, size_t len)
{
    time_t secs = (time_t)(us / 1000000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
    if (us % 1000000 == 0)
        return n + (size_t)snprintf(buf + n, len - n, "Z");
    return n + (size_t)snprintf(buf + n, len - n, ".%03dZ", (int)(us % 1000000 / 1000));
}

/* Lorem words filling about `target` bytes, appended at buf (room for target + 64). */
static size_t lorem(char *buf, size_t target, uint64_t seed)
{
    size_t n = 0;
    uint64_t st = seed;
    do {
        const char *w = words[next_rand(&st) % NWORDS];
        size_t wl = strlen(w);
        if (n > 0 && n + 1 + wl > target)
            break;
        if (n > 0)
            buf[n++] = ' ';
        memcpy(buf + n, w, wl);
        n += wl;
    } while (n < target);
    return n;
}

static int render(sim_t *s, entry_t *e)
{
    char pub[48], upd[80] = "", head[768], tail[64];
    uint64_t seed = s->o.seed, h = mix64(seed ^ mix64(e->n));
    unsigned actor = (unsigned)(h % 97);

    fmt_time(e->published_us, pub, sizeof pub);
    if (e->updated_us) {
        char t[48];
        fmt_time(e->updated_us, t, sizeof t);
        snprintf(upd, sizeof upd, "\"updated\":\"%s\",", t);
    }
    int hl = snprintf(head, sizeof head,
                      "{\"id\":\"urn:feedsim:%" PRIu64 ":%" PRIu64 "\",\"type\":\"%s\",\"published\":\"%s\",%s"
                      "\"actor\":{\"id\":\"urn:feedsim:actor:%u\",\"type\":\"Person\",\"name\":\"%s %u\"},"
                      "\"object\":{\"id\":\"urn:feedsim:%" PRIu64 ":%" PRIu64 ":note\",\"type\":\"Note\","
                      "\"name\":\"Note %" PRIu64 " v%u\",\"content\":\"",
                      seed, e->n, activity_types[(h >> 8) % 5], pub, upd, actor,
                      first_names[actor % 10], actor, seed, e->n, e->n, e->version);
    int tl = snprintf(tail, sizeof tail, "\"},\"feedsim:version\":%u}", e->version);
    size_t target = s->o.size > (size_t)(hl + tl) + 16 ? s->o.size - (size_t)(hl + tl) : 16;
    char *buf = malloc((size_t)hl + target + 64 + (size_t)tl + 1);
    if (!buf)
        return -ENOMEM;
    memcpy(buf, head, (size_t)hl);
    size_t n = (size_t)hl + lorem(buf + hl, target, mix64(h ^ e->version));
    memcpy(buf + n, tail, (size_t)tl + 1);
    e->json = buf;
    e->len = (uint32_t)(n + (size_t)tl);
    return 0;
}

/* ---- the log ---- */

static int grow_log(sim_t *s)
{
    if (s->len < s->cap)
        return 0;
    size_t cap = s->cap ? s->cap * 2 : 1024;
    entry_t *p = realloc(s->log, cap * sizeof *p);
    if (!p)
        return -ENOMEM;
    s->log = p;
    s->cap = cap;
    return 0;
}

static int grow_pos(sim_t *s)
{
    if (s->npos < s->poscap)
        return 0;
    size_t cap = s->poscap ? s->poscap * 2 : 1024;
    size_t *p = realloc(s->pos, cap * sizeof *p);
    if (!p)
        return -ENOMEM;
    s->pos = p;
    s->poscap = cap;
    return 0;
}

/* Append entry n at the end of the log with the next mseq. */
static int append(sim_t *s, uint64_t n, uint32_t version, int64_t published_us, int64_t updated_us)
{
    if (grow_log(s) < 0)
        return -ENOMEM;
    s->log[s->len] = (entry_t){.n = n, .mseq = ++s->mseq, .published_us = published_us,
                               .updated_us = updated_us, .version = version, .live = 1};
    s->pos[n] = s->len++;
    s->live++;
    return 0;
}

static int add_one(sim_t *s, int64_t published_us)
{
    if (grow_pos(s) < 0)
        return -ENOMEM;
    uint64_t n = s->npos++;
    s->pos[n] = NO_POS;
    if (append(s, n, 1, published_us, 0) < 0) {
        s->npos--;
        return -ENOMEM;
    }
    return 0;
}

static void kill_slot(sim_t *s, size_t i)
{
    entry_t *e = &s->log[i];
    free(e->json);
    e->json = NULL;
    e->live = 0;
    s->pos[e->n] = NO_POS;
    s->live--;
}

static void compact(sim_t *s)
{
    size_t dead = s->len - s->live, j = 0;
    if (dead < COMPACT_MIN_DEAD || dead < s->live)
        return;
    for (size_t i = 0; i < s->len; i++) {
        if (!s->log[i].live)
            continue;
        s->log[j] = s->log[i];
        s->pos[s->log[j].n] = j;
        j++;
    }
    s->len = j;
}

static int update_slot(sim_t *s, size_t i, int64_t now_us)
{
    entry_t e = s->log[i];
    if (grow_log(s) < 0)
        return -ENOMEM;
    kill_slot(s, i);
    return append(s, e.n, e.version + 1, e.published_us, now_us);
}

static void delete_slot(sim_t *s, size_t i)
{
    kill_slot(s, i);
    s->mseq++;
}

/* First live slot at or after i, wrapping once; NO_POS when none is live. */
static size_t live_from(const sim_t *s, size_t i)
{
    for (size_t k = 0; k < s->len; k++, i++) {
        if (i >= s->len)
            i = 0;
        if (s->log[i].live)
            return i;
    }
    return NO_POS;
}

static size_t random_slot(sim_t *s)
{
    if (s->live == 0)
        return NO_POS;
    return live_from(s, (size_t)(next_rand(&s->rng) % s->len));
}

/* Slot of "urn:feedsim:<seed>:<n>" if live, else NO_POS. */
static size_t slot_of(const sim_t *s, const char *urn)
{
    char prefix[48];
    int pl = snprintf(prefix, sizeof prefix, "urn:feedsim:%" PRIu64 ":", s->o.seed);
    if (strncmp(urn, prefix, (size_t)pl) != 0)
        return NO_POS;
    const char *d = urn + pl;
    if (*d < '0' || *d > '9' || strlen(d) > 19)
        return NO_POS;
    char *end;
    unsigned long long n = strtoull(d, &end, 10);
    if (*end || n >= s->npos)
        return NO_POS;
    return s->pos[n];
}

/* ---- public ---- */

int sim_create(sim_t **out, const sim_opts_t *o)
{
    sim_t *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    s->o = *o;
    s->rng = mix64(o->seed ^ 0x5eed5eedULL);
    for (size_t i = 0; i < o->count; i++) {
        if (add_one(s, o->start_us + (int64_t)i * 1000000) < 0) {
            sim_destroy(s);
            return -ENOMEM;
        }
    }
    *out = s;
    return 0;
}

void sim_destroy(sim_t *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->len; i++)
        free(s->log[i].json);
    free(s->log);
    free(s->pos);
    free(s);
}

size_t sim_count(const sim_t *s) { return s->live; }
uint64_t sim_mseq(const sim_t *s) { return s->mseq; }
uint64_t sim_seed(const sim_t *s) { return s->o.seed; }

int sim_add(sim_t *s, size_t k, int64_t now_us)
{
    for (size_t i = 0; i < k; i++)
        if (add_one(s, now_us) < 0)
            return -ENOMEM;
    return 0;
}

int sim_update_oldest(sim_t *s, size_t k, int64_t now_us)
{
    size_t done = 0, end = s->len;   /* entries appended by this call are past `end` */
    for (size_t i = 0; i < end && done < k; i++) {
        if (!s->log[i].live)
            continue;
        if (update_slot(s, i, now_us) < 0)
            return -ENOMEM;
        done++;
    }
    compact(s);
    return (int)done;
}

int sim_update_random(sim_t *s, size_t k, int64_t now_us)
{
    size_t done = 0;
    for (; done < k; done++) {
        size_t i = random_slot(s);
        if (i == NO_POS)
            break;
        if (update_slot(s, i, now_us) < 0)
            return -ENOMEM;
        compact(s);
    }
    return (int)done;
}

int sim_delete_oldest(sim_t *s, size_t k)
{
    size_t done = 0;
    for (size_t i = 0; i < s->len && done < k; i++) {
        if (!s->log[i].live)
            continue;
        delete_slot(s, i);
        done++;
    }
    compact(s);
    return (int)done;
}

int sim_delete_random(sim_t *s, size_t k)
{
    size_t done = 0;
    for (; done < k; done++) {
        size_t i = random_slot(s);
        if (i == NO_POS)
            break;
        delete_slot(s, i);
    }
    compact(s);
    return (int)done;
}

int sim_update_id(sim_t *s, const char *urn, int64_t now_us)
{
    size_t i = slot_of(s, urn);
    if (i == NO_POS)
        return -ENOENT;
    int rc = update_slot(s, i, now_us);
    compact(s);
    return rc;
}

int sim_delete_id(sim_t *s, const char *urn)
{
    size_t i = slot_of(s, urn);
    if (i == NO_POS)
        return -ENOENT;
    delete_slot(s, i);
    compact(s);
    return 0;
}

/* Index of the first slot with mseq > m. */
static size_t first_after(const sim_t *s, uint64_t m)
{
    size_t lo = 0, hi = s->len;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->log[mid].mseq <= m)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int fill_item(sim_t *s, entry_t *e, sim_item_t *it)
{
    if (!e->json && render(s, e) < 0)
        return -ENOMEM;
    *it = (sim_item_t){.n = e->n, .mseq = e->mseq, .version = e->version, .json = e->json, .len = e->len};
    return 0;
}

long sim_after(sim_t *s, uint64_t after, size_t max, sim_item_t *items)
{
    size_t k = 0;
    for (size_t i = first_after(s, after); i < s->len && k < max; i++) {
        if (!s->log[i].live)
            continue;
        if (fill_item(s, &s->log[i], &items[k]) < 0)
            return -ENOMEM;
        k++;
    }
    return (long)k;
}

/* One past the last slot with mseq < before (before 0: the end). */
static size_t end_before(const sim_t *s, uint64_t before)
{
    return before ? first_after(s, before - 1) : s->len;
}

long sim_before(sim_t *s, uint64_t before, size_t max, sim_item_t *items)
{
    size_t k = 0;
    for (size_t i = end_before(s, before); i > 0 && k < max; i--) {
        if (!s->log[i - 1].live)
            continue;
        if (fill_item(s, &s->log[i - 1], &items[k]) < 0)
            return -ENOMEM;
        k++;
    }
    return (long)k;
}

int sim_has_before(const sim_t *s, uint64_t before)
{
    for (size_t i = end_before(s, before); i > 0; i--)
        if (s->log[i - 1].live)
            return 1;
    return 0;
}

void sim_each(const sim_t *s, sim_each_fn *fn, void *ud)
{
    for (size_t i = 0; i < s->len; i++)
        if (s->log[i].live)
            fn(s->log[i].n, s->log[i].version, ud);
}
