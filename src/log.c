/* log.c -- one-line log records on stderr, one write(2) each so threads never interleave. */
#include "log.h"
#include "timefmt.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static int min_level = -1;
static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log_set_level(int level) { min_level = level; }

static int current_level(void)
{
    if (min_level < 0) {
        const char *env = getenv("AS_LOG");
        int found = !env || !*env;
        min_level = LOG_INFO;
        for (int i = 0; env && i <= LOG_ERROR; i++)
            if (strcasecmp(env, level_names[i]) == 0) {
                min_level = i;
                found = 1;
            }
        if (!found)   /* said once, at the first record */
            log_msg(LOG_WARN, "log", "AS_LOG=%.32s is not a level (debug, info, warn or error): logging from info on",
                    env);
    }
    return min_level;
}

void log_msg(int level, const char *module, const char *fmt, ...)
{
    if (level < current_level())
        return;
    char line[2048], ts[TIMEFMT_RFC3339_MAX];
    timefmt_format_rfc3339(timefmt_now_us(), ts);
    int n = snprintf(line, sizeof line, "%s %s %s: ", ts, level_names[level], module);
    va_list ap;
    va_start(ap, fmt);
    n += vsnprintf(line + n, sizeof line - n - 1, fmt, ap);
    va_end(ap);
    if (n > (int)sizeof line - 2)
        n = sizeof line - 2;
    line[n++] = '\n';
    ssize_t unused = write(STDERR_FILENO, line, n);
    (void)unused;
}
