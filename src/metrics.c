/* metrics.c -- the /metrics registry and its Prometheus text writer (see metrics.h). */
#include "metrics.h"
#include "bytebuf.h"
#include <inttypes.h>
#include <stdlib.h>

typedef struct {
    metrics_collect_fn *fn;
    void *ud;
} collector_t;

struct metrics {
    collector_t *c;   /* owned array */
    size_t n, cap;
};

struct metrics_out {
    bytebuf_t text;
};

int metrics_new(metrics_t **out)
{
    *out = calloc(1, sizeof **out);
    return *out ? 0 : -1;
}

void metrics_free(metrics_t *m)
{
    if (!m)
        return;
    free(m->c);
    free(m);
}

int metrics_register(metrics_t *m, metrics_collect_fn *fn, void *ud)
{
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 8;
        collector_t *c = realloc(m->c, cap * sizeof *c);
        if (!c)
            return -1;
        m->c = c;
        m->cap = cap;
    }
    m->c[m->n++] = (collector_t){fn, ud};
    return 0;
}

char *metrics_render(metrics_t *m, size_t *len)
{
    metrics_out_t out = {0};
    for (size_t i = 0; i < m->n; i++)
        m->c[i].fn(&out, m->c[i].ud);
    if (out.text.len == 0)
        bytebuf_appends(&out.text, "");
    return bytebuf_take(&out.text, len);
}

void metrics_family(metrics_out_t *out, const char *name, const char *type, const char *help)
{
    bytebuf_printf(&out->text, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void metrics_counter(metrics_out_t *out, const char *name, const char *help, uint64_t value)
{
    metrics_family(out, name, "counter", help);
    bytebuf_printf(&out->text, "%s %" PRIu64 "\n", name, value);
}

void metrics_gauge(metrics_out_t *out, const char *name, const char *help, uint64_t value)
{
    metrics_family(out, name, "gauge", help);
    bytebuf_printf(&out->text, "%s %" PRIu64 "\n", name, value);
}

void metrics_gauge_double(metrics_out_t *out, const char *name, const char *help, double value)
{
    metrics_family(out, name, "gauge", help);
    bytebuf_printf(&out->text, "%s %.6g\n", name, value);
}

/* name{label="<escaped lvalue>"} -- backslash, double quote and newline are escaped. */
static void sample_head(metrics_out_t *out, const char *name, const char *label, const char *lvalue)
{
    bytebuf_printf(&out->text, "%s{%s=\"", name, label);
    for (const char *p = lvalue; *p; p++) {
        if (*p == '\\' || *p == '"')
            bytebuf_appendc(&out->text, '\\');
        if (*p == '\n')
            bytebuf_appends(&out->text, "\\n");
        else
            bytebuf_appendc(&out->text, *p);
    }
    bytebuf_appends(&out->text, "\"} ");
}

void metrics_sample(metrics_out_t *out, const char *name, const char *label, const char *lvalue,
                    uint64_t value)
{
    sample_head(out, name, label, lvalue);
    bytebuf_printf(&out->text, "%" PRIu64 "\n", value);
}

void metrics_sample_double(metrics_out_t *out, const char *name, const char *label,
                           const char *lvalue, double value)
{
    sample_head(out, name, label, lvalue);
    bytebuf_printf(&out->text, "%.6g\n", value);
}
