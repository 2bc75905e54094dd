/* log.h -- one-line log records on stderr: "2026-11-22T12:00:00.000000Z level module: text".
 * Thread-safe (one write(2) per record). */
#ifndef LOG_H
#define LOG_H

enum { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

/* Records below `level` are dropped (default LOG_INFO; AS_LOG=debug in the environment lowers it). */
void log_set_level(int level);
void log_msg(int level, const char *module, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define log_debug(mod, ...) log_msg(LOG_DEBUG, mod, __VA_ARGS__)
#define log_info(mod, ...)  log_msg(LOG_INFO, mod, __VA_ARGS__)
#define log_warn(mod, ...)  log_msg(LOG_WARN, mod, __VA_ARGS__)
#define log_error(mod, ...) log_msg(LOG_ERROR, mod, __VA_ARGS__)

#endif
