/* testenv.h -- the integration tests' usual setup: feedsim serving one activity-stream feed
 * ("sim": `count` activities one second apart from FEEDSIM_START, pages of 50) and the real
 * server (AS_SERVER) reading it, each on a free loopback port, in a temporary directory; and
 * helpers that talk to both. One environment per test process (Criterion forks each test).
 * The helpers assert (Criterion): call them from tests. */
#ifndef TESTENV_H
#define TESTENV_H
#include "harness.h"
#include <jansson.h>
#include <stddef.h>
#include <sys/types.h>
#include <unistd.h>

#define FEEDSIM_START "2024-01-01T00:00:00Z"

typedef struct {
    char *dir;                          /* owned: the temporary directory */
    int port, sim_port;
    pid_t server, sim;
    char base[64], sim_base[64];        /* http://127.0.0.1:<port> of each */
    char log[512], conf[8192];          /* both processes' log file; the server's config */
} env_t;

extern env_t E;

typedef struct {
    int count;                 /* activities feedsim starts with */
    int seed;                  /* feedsim --seed (0: 1); ids are urn:feedsim:<seed>:<n> */
    const char *full_sync;     /* the feed's full_sync_interval (NULL: 10m) */
    const char *heartbeat;     /* heartbeat_interval (NULL: 15s) */
    int max_streams;           /* 0: 100 */
    const char *extra;         /* more top-level YAML lines, e.g. "version_retention: 0s\n" */
    int twin;                  /* also a second feed, "sim2", reading the same feedsim */
} env_opts_t;

/* Start both; env_up is the short form. */
void env_up_opts(const env_opts_t *o);
void env_up(int count, const char *full_sync, const char *heartbeat, int max_streams);
/* Stop the server with SIGTERM (it must exit 0) and start it again on the same store. */
void env_restart_server(void);
/* Stop both and remove the directory; also a suite's .fini, so a failed assertion leaves no
 * process behind. */
void env_down(void);

/* E.base + the path `fmt` with one %s filled from arg (static buffer: until the next call). */
char *url(const char *fmt, const char *arg);
/* POST path to feedsim (asserts 200); the _later form does it from a child after delay_us,
 * while the test reads a stream, and sim_post_done waits for it and asserts it was taken. */
void sim_post(const char *path);
pid_t sim_post_later(const char *path, useconds_t delay_us);
void sim_post_done(pid_t pid);
/* Headers resuming after event `id` (static storage: valid until the next call). */
const char *const *resume_headers(const char *id);
/* Wait until /feeds reports `n` activities for feed sim (asserts within 20 s). */
void wait_count(long n);
/* The activity id and feedsim version of an event of feed sim. */
void event_activity(const h_event_t *e, char *id, size_t idlen, int *version);

/* ---- a client's view of the feed, built from events ---- */

/* The source's current state: {"<activity id>": version, ...} from feedsim's /_control/ids
 * (a new reference). */
json_t *source_state(void);

/* Apply the events of `s` to a client's state {"<id>": version}, as a client following the
 * README does: `activity` sets the id's version, `delete` removes it, `reset` drops everything
 * (then counts into *resets, may be NULL). Asserts that no (id, version) arrives twice between
 * resets, using `seen` (a JSON object kept by the caller across reads, cleared on reset). */
void state_apply(json_t *state, json_t *seen, const h_sse_t *s, int *resets);

/* Assert that two states are equal (same ids, same versions). */
void state_assert_equal(json_t *got, json_t *want, const char *what);

#endif
