/* test_store_crash.c -- the store under process death and full disks, in child processes: a
 * writer SIGKILLed at random moments leaves whole batches only; a commit that hits the file-size
 * limit fails cleanly and loses nothing; a store cannot be created without room; a pruning
 * writer SIGKILLed at random moments leaves a consistent store. */
#include "store_fixture.h"
#include "timefmt.h"
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

TestSuite(store_crash, .init = store_fixture_setup, .fini = store_fixture_teardown, .timeout = 120);

/* ---- crash safety ---- */

#define CRASH_BATCH 100
#define CRASH_UPDATES 10   /* activities of the previous batch that each batch updates */

static uint64_t crash_state(store_t *st)
{
    void *p;
    size_t len;
    uint64_t n = 0;
    int rc = store_get_feed_state(st, "crash", &p, &len);
    if (rc == STORE_ERR_NOTFOUND)
        return 0;
    cr_assert_eq(rc, 0);
    cr_assert_eq(len, sizeof n);
    memcpy(&n, p, sizeof n);
    free(p);
    return n;
}

/* The child: commit batches of 100 new activities, updates of 10 of the previous batch's (same
 * published, new content: their old records move into the change log) and the batch number as
 * feed state, forever. */
static void crash_child(const char *dir)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    alarm(60);
    store_t *st;
    store_batch_t *b;
    char err[256], id[48], json[512];
    if (store_open(&st, dir, 1 << 20, err, sizeof err) || store_batch_new(st, &b))
        _exit(2);
    for (uint64_t batch = crash_state(st) + 1;; batch++) {
        for (int i = 0; i < CRASH_BATCH; i++) {
            snprintf(id, sizeof id, "b%llu-%d", (unsigned long long)batch, i);
            pad_json(json, sizeof json, id, i);
            store_activity_t a = act("crash", id, (int64_t)batch * 1000 + i, json);
            if (store_batch_upsert(b, &a, 1))
                _exit(3);
        }
        for (int i = 0; batch > 1 && i < CRASH_BATCH; i += CRASH_BATCH / CRASH_UPDATES) {
            snprintf(id, sizeof id, "b%llu-%d", (unsigned long long)batch - 1, i);
            pad_json(json, sizeof json, id, i + 1);
            store_activity_t a = act("crash", id, (int64_t)(batch - 1) * 1000 + i, json);
            if (store_batch_upsert(b, &a, 1))
                _exit(3);
        }
        if (store_batch_put_feed_state(b, "crash", &batch, sizeof batch) || store_batch_commit(b, NULL))
            _exit(4);
    }
}

static void crash_verify(const char *dir, uint64_t *batches)
{
    store_t *st = open_ok(dir, 1 << 20);
    uint64_t n = crash_state(st);
    cr_assert_eq(store_feed_count(st, "crash"), n * CRASH_BATCH,
                 "count %llu but state says %llu whole batches",
                 (unsigned long long)store_feed_count(st, "crash"), (unsigned long long)n);
    store_stats_t s;
    store_stats(st, &s);
    uint64_t head = n * CRASH_BATCH + (n ? n - 1 : 0) * CRASH_UPDATES;
    cr_assert_eq(s.activities, n * CRASH_BATCH);
    cr_assert_eq(s.changes, head);
    cr_assert_eq(s.head, head);
    coll_t c = {0};
    cr_assert_eq(store_scan_changes(st, 0, 0, 0, collect, &c, NULL), 0);   /* every version */
    cr_assert_eq(c.n, head);
    for (size_t i = 0; i < c.n; i++)
        cr_assert_eq(c.r[i].seq, i + 1);
    coll_free(&c);
    cr_assert_eq(store_scan_time(st, T_START, INT64_MAX, 0, 0, collect, &c, NULL), 0);
    cr_assert_eq(c.n, n * CRASH_BATCH);
    for (size_t i = 0; i < c.n; i++)   /* exactly batches 1..n, each whole, in order */
        cr_assert_eq(c.r[i].pub, (int64_t)(i / CRASH_BATCH + 1) * 1000 + (int64_t)(i % CRASH_BATCH));
    coll_free(&c);
    store_close(st);
    *batches = n;
}

Test(store_crash, crash_safety)
{
    store_batch_free(g_b);
    g_b = NULL;
    store_close(g_st);
    g_st = NULL;
    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    uint64_t batches = 0, prev = 0;
    for (int round = 0; round < 6; round++) {
        pid_t pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0)
            crash_child(g_dir);
        usleep(30000 + (useconds_t)(rand() % 200000));
        cr_assert_eq(kill(pid, SIGKILL), 0);
        int status;
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
                  "child ended on its own (status %d): it failed to write", status);
        crash_verify(g_dir, &batches);
        cr_assert_geq(batches, prev);
        prev = batches;
    }
    cr_assert_gt(batches, 0, "no batch was ever committed");
}

/* ---- a full disk at commit (file size limit in a child process) ---- */

Test(store_crash, full_disk_fails_commit_cleanly)
{
    write_numbered(g_b, 0, 100);
    commit_ok(g_b);
    store_batch_free(g_b);
    g_b = NULL;
    store_close(g_st);
    g_st = NULL;
    char path[4096];
    snprintf(path, sizeof path, "%s/data.mdb", g_dir);
    struct stat sb;
    cr_assert_eq(stat(path, &sb), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        store_t *st;
        store_batch_t *b;
        char err[256], id[32], json[512];
        if (store_open(&st, g_dir, 0, err, sizeof err) || store_batch_new(st, &b))
            _exit(10);
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = {(rlim_t)sb.st_size + 8192, (rlim_t)sb.st_size + 8192};
        setrlimit(RLIMIT_FSIZE, &rl);
        for (int i = 100; i < 1100; i++) {
            snprintf(id, sizeof id, "n%06d", i);
            pad_json(json, sizeof json, id, i);
            store_activity_t a = act("g", id, i, json);
            store_batch_upsert(b, &a, 1);
        }
        store_batch_stats_t s;
        int rc = store_batch_commit(b, &s);
        _exit(rc == STORE_ERR_FULL && s.inserted == 0 && store_head(st) == 100 ? 0 : 11);
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
    g_st = open_ok(g_dir, 0);
    cr_assert_eq(store_batch_new(g_st, &g_b), 0);
    verify_numbered(100);   /* nothing of the failed batch, nothing lost */
    write_numbered(g_b, 100, 10);
    store_batch_stats_t s = commit_ok(g_b);
    cr_assert_eq(s.first_seq, 101);
}

/* ---- store_open error paths ---- */

Test(store_crash, open_on_full_disk_fails_cleanly)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/new", g_dir);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {   /* no room for any file: the store cannot even be created */
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = {0, 0};
        setrlimit(RLIMIT_FSIZE, &rl);
        char err[512] = "";
        store_t *st = (store_t *)1;
        int rc = store_open(&st, dir, 0, err, sizeof err);
        _exit(rc == STORE_ERR_FULL && st == NULL && strstr(err, dir) && strstr(err, "disk full")
              ? 0 : 1);
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
    store_t *st = open_ok(dir, 0);   /* with room again, the same directory works */
    store_close(st);
}


/* ---- kill -9 while pruning ---- */

#define PRUNE_IDS 200

/* The child: rewrite the same 200 activities again and again, pruning after every commit with a
 * retention of 1 ms and a tiny budget (many short transactions), forever. */
static void prune_child(const char *dir)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    alarm(60);
    store_t *st;
    store_batch_t *b;
    char err[256], id[32], json[512];
    if (store_open(&st, dir, 1 << 20, err, sizeof err) || store_batch_new(st, &b))
        _exit(2);
    store_set_retention(st, 1, 1);
    for (int round = 0;; round++) {
        for (int i = 0; i < PRUNE_IDS; i++) {
            snprintf(id, sizeof id, "p%03d", i);
            pad_json(json, sizeof json, id, round * 1000 + i);
            store_activity_t a = act("prune", id, i, json);
            if (store_batch_upsert(b, &a, 1))
                _exit(3);
        }
        if (round % 5 == 4 && store_batch_delete(b, "prune", "p000", 4))
            _exit(3);
        if (store_batch_commit(b, NULL) || store_prune(st, timefmt_now_us() + 1000000, 200, 0, NULL) < 0)
            _exit(4);
    }
}

static int count_rec(const store_rec_t *rec, void *ud)
{
    (*(size_t *)ud)++;
    return 0;
}

/* After a crash: the store opens, every change-log pointer resolves (a dangling one would be
 * reported as corruption), the current versions are whole, and the marks are below the head. */
static void prune_verify(const char *dir)
{
    store_t *st = open_ok(dir, 1 << 20);
    size_t changes = 0, current = 0;
    cr_assert_eq(store_scan_changes(st, 0, 0, 0, count_rec, &changes, NULL), 0, "change log unreadable after a crash");
    cr_assert_eq(store_scan_time(st, T_START, INT64_MAX, 0, 0, count_rec, &current, NULL), 0);
    cr_assert(current == PRUNE_IDS || current == PRUNE_IDS - 1 || current == 0, "%zu current versions", current);
    cr_assert_geq(changes, current);
    cr_assert_leq(store_low_water(st), store_head(st));
    cr_assert_leq(store_tombstone_horizon(st), store_head(st));
    store_close(st);
}

Test(store_crash, kill_9_while_pruning_leaves_a_consistent_store)
{
    store_batch_free(g_b);
    g_b = NULL;
    store_close(g_st);
    g_st = NULL;
    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    for (int round = 0; round < 6; round++) {
        pid_t pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0)
            prune_child(g_dir);
        usleep(50000 + (useconds_t)(rand() % 250000));
        cr_assert_eq(kill(pid, SIGKILL), 0);
        int status;
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "child ended on its own (status %d)", status);
        prune_verify(g_dir);
    }
    store_t *st = open_ok(g_dir, 1 << 20);
    cr_assert_gt(store_low_water(st), 0, "the child never pruned");
    store_close(st);
}
