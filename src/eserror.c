/* eserror.c -- error bodies in Elasticsearch's shape. See eserror.h. */
#include "eserror.h"
#include <stdio.h>
#include <string.h>

/* "type":T,"reason":R<extra> */
static void put_cause(bytebuf_t *b, const char *type, const char *reason, const char *extra)
{
    bytebuf_appends(b, "\"type\":");
    bytebuf_append_json_str(b, type, strlen(type));
    bytebuf_appends(b, ",\"reason\":");
    bytebuf_append_json_str(b, reason, strlen(reason));
    if (extra)
        bytebuf_appends(b, extra);
}

int eserror_put(bytebuf_t *b, int status, const char *type, const char *reason, const char *extra)
{
    bytebuf_appends(b, "{\"error\":{\"root_cause\":[{");
    put_cause(b, type, reason, extra);
    bytebuf_appends(b, "}],");
    put_cause(b, type, reason, extra);
    bytebuf_printf(b, "},\"status\":%d}", status);
    return status;
}

int eserror_vputf(bytebuf_t *b, int status, const char *type, const char *fmt, va_list ap)
{
    char reason[1024];
    vsnprintf(reason, sizeof reason, fmt, ap);
    return eserror_put(b, status, type, reason, NULL);
}

int eserror_index_missing(bytebuf_t *b, const char *name)
{
    bytebuf_t extra = {0}, reason = {0};
    size_t n = strlen(name);
    bytebuf_appends(&extra, ",\"resource.type\":\"index_or_alias\",\"resource.id\":");
    bytebuf_append_json_str(&extra, name, n);
    bytebuf_appends(&extra, ",\"index_uuid\":\"_na_\",\"index\":");
    bytebuf_append_json_str(&extra, name, n);
    bytebuf_printf(&reason, "no such index [%s]", name);
    if (extra.failed || reason.failed)
        b->failed = 1;
    else
        eserror_put(b, 404, "index_not_found_exception", reason.p, extra.p);
    bytebuf_free(&extra);
    bytebuf_free(&reason);
    return 404;
}
