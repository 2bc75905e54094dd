/* test_http2.c -- the same /stream over HTTP/2: cleartext with prior knowledge (h2c) and TLS
 * with ALPN, against the real server with a throwaway self-signed certificate. */
#include "harness.h"
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    size_t bytes, activities, ends;
} count_t;

/* GET url with the given HTTP version, count its events; returns the negotiated version. */
static long fetch(const char *url, long version, count_t *c)
{
    h_resp_t r;
    long got = 0;
    cr_assert_eq(h_http_ex("GET", url, NULL, NULL, &r, 20000, version, &got), 0, "%s", url);
    cr_assert_eq(r.status, 200);
    for (char *p = r.body; (p = strstr(p, "\nevent: ")) != NULL; p += 8) {
        c->activities += strncmp(p + 8, "activity\n", 9) == 0;
        c->ends += strncmp(p + 8, "end\n", 4) == 0;
    }
    c->bytes = r.len;
    h_resp_free(&r);
    return got;
}

static pid_t start(const char *dir, int port, int sim_port, const char *tls)
{
    char conf[2048], log[512];
    snprintf(conf, sizeof conf,
             "listen: 127.0.0.1:%d\ndata_dir: %s/data\nthreads: 1\n%s"
             "feeds:\n  - id: sim\n    url: http://127.0.0.1:%d/feed\n    poll_interval: 100ms\n",
             port, dir, tls, sim_port);
    snprintf(log, sizeof log, "%s/log", dir);
    return h_start_server(dir, conf, port, log);
}

static void wait_for_history(const char *base)
{
    char u[256];
    snprintf(u, sizeof u, "%s/feeds", base);
    cr_assert_eq(h_wait_body_contains(u, "\"activities\":120", 20000), 0, "feed never synced");
}

Test(http2, h2c_prior_knowledge_and_tls_alpn_stream_the_same_history, .timeout = 60)
{
    char *dir = h_tmpdir(), cmd[1024], tls[1024], u[256], base[64];
    int sim_port, port = h_free_port(), tport = h_free_port();
    pid_t sim = h_start_feedsim(&sim_port, NULL, "--count", "120", "--page-size", "40", NULL);
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost -days 1 -keyout %s/key.pem "
             "-out %s/cert.pem >/dev/null 2>&1", dir, dir);
    cr_assert_eq(system(cmd), 0, "openssl could not make a certificate");

    pid_t plain = start(dir, port, sim_port, "");
    cr_assert_gt(plain, 0);
    snprintf(base, sizeof base, "http://127.0.0.1:%d", port);
    wait_for_history(base);
    snprintf(u, sizeof u, "%s/stream?start=2024-01-01T00:00:00Z&end=now", base);
    count_t h1 = {0}, h2c = {0}, h2 = {0};
    cr_assert_eq(fetch(u, CURL_HTTP_VERSION_1_1, &h1), CURL_HTTP_VERSION_1_1);
    cr_assert_eq(fetch(u, CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE, &h2c), CURL_HTTP_VERSION_2_0);
    cr_assert_eq(h1.activities, 120);
    cr_assert_eq(h2c.activities, 120);
    cr_assert_eq(h2c.ends, 1);
    cr_assert_eq(h2c.bytes, h1.bytes);
    h_stop(plain, SIGTERM, 6000);

    char *tdir = h_tmpdir();
    snprintf(cmd, sizeof cmd, "cp -r %s/data %s/ && cp %s/*.pem %s/", dir, tdir, dir, tdir);
    cr_assert_eq(system(cmd), 0);
    snprintf(tls, sizeof tls, "tls: {cert: %s/cert.pem, key: %s/key.pem}\n", tdir, tdir);
    pid_t secure = start(tdir, tport, sim_port, tls);
    cr_assert_gt(secure, 0);
    snprintf(u, sizeof u, "https://127.0.0.1:%d/stream?start=2024-01-01T00:00:00Z&end=now", tport);
    cr_assert_eq(fetch(u, CURL_HTTP_VERSION_2TLS, &h2), CURL_HTTP_VERSION_2_0, "ALPN did not choose h2");
    cr_assert_eq(h2.activities, 120);
    h_stop(secure, SIGTERM, 6000);
    h_stop(sim, SIGTERM, 3000);
    h_rmdir(dir);
    h_rmdir(tdir);
    free(dir);
    free(tdir);
}

Test(http2, tls_with_a_missing_certificate_refuses_to_start, .timeout = 30)
{
    char *dir = h_tmpdir(), conf[1024], path[512], log[512];
    int port = h_free_port();
    snprintf(conf, sizeof conf, "listen: 127.0.0.1:%d\ndata_dir: %s/data\ntls: {cert: %s/none.pem, key: %s/none.pem}\n",
             port, dir, dir, dir);
    snprintf(path, sizeof path, "%s/server.conf", dir);
    snprintf(log, sizeof log, "%s/log", dir);
    h_write_file(path, conf);
    char *argv[] = {(char *)h_server_bin(), "--config", path, NULL};
    pid_t pid = h_spawn(argv, log);
    int status = h_stop(pid, 0, 5000); /* signal 0: just wait for it to exit */
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 1, "status %d", status);
    h_resp_t r = {0};
    FILE *f = fopen(log, "r");
    char line[512] = "";
    int found = 0;
    while (!found && fgets(line, sizeof line, f))
        found = strstr(line, "tls.cert") && strstr(line, "none.pem");
    fclose(f);
    cr_assert(found, "no line names tls.cert and the file");
    h_resp_free(&r);
    h_rmdir(dir);
    free(dir);
}

/* Ingest over HTTPS: the real server, with TLS, serves a static AS2 page from its web_root; a
 * second server pulls it once with the certificate as its CA bundle (verified: ok) and once
 * with the system bundle (refused, with a clear feed error). */
Test(http2, ingest_verifies_tls_against_the_configured_ca_bundle, .timeout = 60)
{
    char *dir = h_tmpdir(), cmd[1024], conf[2048], log[512], u[256];
    int tport = h_free_port(), port = h_free_port();
    snprintf(cmd, sizeof cmd,
             "mkdir -p %s/www %s/a %s/b && openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 "
             "-addext subjectAltName=IP:127.0.0.1 -days 1 -keyout %s/key.pem -out %s/cert.pem >/dev/null 2>&1",
             dir, dir, dir, dir, dir);
    cr_assert_eq(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "%s/www/page.json", dir);
    h_write_file(cmd, "{\"type\":\"OrderedCollectionPage\",\"orderedItems\":["
                      "{\"id\":\"urn:tls:1\",\"type\":\"Create\",\"published\":\"2024-01-01T00:00:00Z\"},"
                      "{\"id\":\"urn:tls:2\",\"type\":\"Create\",\"published\":\"2024-01-01T00:00:01Z\"}]}");
    snprintf(conf, sizeof conf, "listen: 127.0.0.1:%d\ndata_dir: %s/a/data\nweb_root: %s/www\n"
             "tls: {cert: %s/cert.pem, key: %s/key.pem}\n", tport, dir, dir, dir, dir);
    snprintf(log, sizeof log, "%s/a/log", dir);
    snprintf(cmd, sizeof cmd, "%s/a", dir);
    pid_t source = h_start_server(cmd, conf, tport, log);
    cr_assert_gt(source, 0);
    snprintf(conf, sizeof conf,
             "listen: 127.0.0.1:%d\ndata_dir: %s/b/data\nfeeds:\n"
             "  - {id: verified, url: \"https://127.0.0.1:%d/page.json\", ca_file: %s/cert.pem}\n"
             "  - {id: strict, url: \"https://127.0.0.1:%d/page.json\"}\n",
             port, dir, tport, dir, tport);
    snprintf(log, sizeof log, "%s/b/log", dir);
    snprintf(cmd, sizeof cmd, "%s/b", dir);
    pid_t puller = h_start_server(cmd, conf, port, log);
    cr_assert_gt(puller, 0);
    snprintf(u, sizeof u, "http://127.0.0.1:%d/feeds", port);
    cr_assert_eq(h_wait_body_contains(u, "certificate", 10000), 0, "no certificate error for the strict feed");
    cr_assert_eq(h_wait_body_contains(u, "\"activities\":2", 10000), 0, "the verified feed did not sync");
    h_resp_t r;
    h_get(u, &r);
    json_t *feeds = json_loads(r.body, 0, NULL);
    json_t *verified = json_array_get(feeds, 0), *strict = json_array_get(feeds, 1);
    cr_assert_str_eq(json_string_value(json_object_get(verified, "state")), "ok", "%s", r.body);
    cr_assert_str_eq(json_string_value(json_object_get(strict, "state")), "failing", "%s", r.body);
    json_decref(feeds);
    h_resp_free(&r);
    h_stop(puller, SIGTERM, 6000);
    h_stop(source, SIGTERM, 6000);
    h_rmdir(dir);
    free(dir);
}
