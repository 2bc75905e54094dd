/* test_sockwatch.c -- the hang-up watcher on a real h2o event loop, with loopback TCP pairs: a
 * peer that closes (FIN), resets (RST) or shuts down its sending side is reported once; bytes
 * from a peer are not a hang-up; a removed watch reports nothing; a peer gone before the watch
 * began is reported too. (Sockets, so not a unit test.) */
#include "clock.h"
#include "sockwatch.h"
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct {
    int hangups[4];   /* per watch tag */
} seen_t;

static seen_t seen;

static void on_hangup(void *ud)
{
    seen.hangups[(intptr_t)ud]++;
}

/* A connected loopback TCP pair: p[0] the "server" side, p[1] the "client" side. */
static void tcp_pair(int p[2])
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    int l = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_eq(bind(l, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(listen(l, 1), 0);
    cr_assert_eq(getsockname(l, (struct sockaddr *)&a, &alen), 0);
    p[1] = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_eq(connect(p[1], (struct sockaddr *)&a, sizeof a), 0);
    p[0] = accept(l, NULL, NULL);
    cr_assert_geq(p[0], 0);
    close(l);
}

static void run_loop(h2o_evloop_t *loop, int ms)
{
    int64_t end = clock_mono_ms() + ms;
    while (clock_mono_ms() < end)
        h2o_evloop_run(loop, 10);
}

static void reset_close(int fd)
{
    struct linger l = {.l_onoff = 1, .l_linger = 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    close(fd);
}

Test(sockwatch, fin_reset_and_half_close_are_reported_once_each)
{
    h2o_evloop_t *loop = h2o_evloop_create();
    sockwatch_t *w;
    int fin[2], rst[2], half[2];
    cr_assert_eq(sockwatch_new(&w, loop, on_hangup), 0);
    tcp_pair(fin);
    tcp_pair(rst);
    tcp_pair(half);
    cr_assert_eq(sockwatch_add(w, fin[0], (void *)1), 0);
    cr_assert_eq(sockwatch_add(w, rst[0], (void *)2), 0);
    cr_assert_eq(sockwatch_add(w, half[0], (void *)3), 0);
    cr_assert_eq(sockwatch_count(w), 3);
    run_loop(loop, 50);
    cr_assert_eq(seen.hangups[1] + seen.hangups[2] + seen.hangups[3], 0, "nobody left yet");

    close(fin[1]);
    reset_close(rst[1]);
    shutdown(half[1], SHUT_WR);
    run_loop(loop, 100);
    cr_assert_eq(seen.hangups[1], 1);
    cr_assert_eq(seen.hangups[2], 1);
    cr_assert_eq(seen.hangups[3], 1);
    run_loop(loop, 50);
    cr_assert_eq(seen.hangups[1] + seen.hangups[2] + seen.hangups[3], 3, "a hang-up is reported once");
    cr_assert_eq(sockwatch_count(w), 3, "watches stay until removed");
    sockwatch_remove(w, fin[0]);
    sockwatch_remove(w, rst[0]);
    sockwatch_remove(w, half[0]);
    sockwatch_remove(w, half[0]);   /* not watched any more: nothing happens */
    cr_assert_eq(sockwatch_count(w), 0);
    close(fin[0]);
    close(rst[0]);
    close(half[0]);
    close(half[1]);
    sockwatch_free(w);
    run_loop(loop, 10);   /* the loop frees the watcher's socket */
}

Test(sockwatch, input_is_not_a_hangup_and_a_removed_watch_is_silent)
{
    h2o_evloop_t *loop = h2o_evloop_create();
    sockwatch_t *w;
    int talk[2], gone[2];
    cr_assert_eq(sockwatch_new(&w, loop, on_hangup), 0);
    tcp_pair(talk);
    tcp_pair(gone);
    cr_assert_eq(sockwatch_add(w, talk[0], (void *)1), 0);
    cr_assert_eq(sockwatch_add(w, gone[0], (void *)2), 0);
    cr_assert_eq(write(talk[1], "GET / HTTP/1.1\r\n\r\n", 18), 18);
    sockwatch_remove(w, gone[0]);
    close(gone[1]);
    run_loop(loop, 100);
    cr_assert_eq(seen.hangups[1], 0, "bytes from the client are not a hang-up");
    cr_assert_eq(seen.hangups[2], 0, "a removed watch reports nothing");
    cr_assert_eq(sockwatch_add(w, talk[0], (void *)1), SOCKWATCH_ERR_SYS, "already watched");
    sockwatch_remove(w, talk[0]);
    close(talk[0]);
    close(talk[1]);
    close(gone[0]);
    sockwatch_free(w);
    run_loop(loop, 10);
}

Test(sockwatch, a_peer_gone_before_the_watch_began_is_reported)
{
    h2o_evloop_t *loop = h2o_evloop_create();
    sockwatch_t *w;
    int p[2];
    cr_assert_eq(sockwatch_new(&w, loop, on_hangup), 0);
    tcp_pair(p);
    close(p[1]);
    usleep(10000);
    cr_assert_eq(sockwatch_add(w, p[0], (void *)1), 0);
    run_loop(loop, 50);
    cr_assert_eq(seen.hangups[1], 1);
    sockwatch_remove(w, p[0]);
    close(p[0]);
    sockwatch_free(w);
    run_loop(loop, 10);
}
