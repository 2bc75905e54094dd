/* metrics.h -- GET /metrics (Prometheus text format 0.0.4) as a registry: each module that has
 * something to report registers one collector at start, and owns its metric names, help texts
 * and values; rendering calls the collectors in registration order, and each writes its
 * families through the helpers below. No h2o here: this renders text, the API module serves it.
 *
 * A new metric is one line in its module's collector, e.g.
 *     metrics_gauge(out, "as_store_low_water_seq", "Below this seq versions may be pruned.", v);
 * Labelled families: metrics_family() once, then metrics_sample() per label value.
 * Registration happens before the server starts; rendering may then run on any thread, at the
 * same time as other renders (collectors must read their data thread-safely). */
#ifndef METRICS_H
#define METRICS_H
#include <stddef.h>
#include <stdint.h>

typedef struct metrics metrics_t;
typedef struct metrics_out metrics_out_t;   /* the text being rendered; valid during the call */

/* Write this module's families into `out`. `ud` is what was registered. */
typedef void metrics_collect_fn(metrics_out_t *out, void *ud);

/* A new, empty registry. Returns 0, or -1 when out of memory (*out NULL). */
int metrics_new(metrics_t **out);
void metrics_free(metrics_t *m);   /* NULL is a no-op */

/* Add a collector (called at each render, after those registered before it). Not thread-safe:
 * register everything before the first render. Returns 0, or -1 when out of memory. */
int metrics_register(metrics_t *m, metrics_collect_fn *fn, void *ud);

/* Render every collector. Returns a malloc'd NUL-terminated text (caller frees; *len its
 * length, may be NULL), or NULL when out of memory. */
char *metrics_render(metrics_t *m, size_t *len);

/* ---- inside a collector ---- */

/* One unlabelled sample with its HELP and TYPE lines. */
void metrics_counter(metrics_out_t *out, const char *name, const char *help, uint64_t value);
void metrics_gauge(metrics_out_t *out, const char *name, const char *help, uint64_t value);
void metrics_gauge_double(metrics_out_t *out, const char *name, const char *help, double value);

/* The HELP and TYPE lines of a labelled family; `type` is "counter" or "gauge". */
void metrics_family(metrics_out_t *out, const char *name, const char *type, const char *help);

/* One sample name{label="lvalue"} value; lvalue is escaped as the format requires. */
void metrics_sample(metrics_out_t *out, const char *name, const char *label, const char *lvalue,
                    uint64_t value);
void metrics_sample_double(metrics_out_t *out, const char *name, const char *label,
                           const char *lvalue, double value);

#endif
