/* pidlock.h -- one server per data directory: an exclusive flock(2) on <dir>/server.pid, held
 * for the life of the process and released by the kernel however it ends (a crash included),
 * with the holder's pid written inside for messages. Used by the server (two servers writing
 * one store would assign the same seqs) and by maintenance commands that need the store to
 * themselves (compact). */
#ifndef PIDLOCK_H
#define PIDLOCK_H
#include <stddef.h>
#include <sys/types.h>

/* Error codes (negative). */
enum {
    PIDLOCK_ERR_HELD = -1,   /* another process holds it; *holder is its pid (0: unknown) */
    PIDLOCK_ERR_IO = -2,     /* the file cannot be created or locked (message in err) */
};

/* Take the lock of `dir` (which must exist). Returns a descriptor to keep open (closing it, or
 * exiting, releases the lock), or PIDLOCK_ERR_HELD (*holder set, may be NULL) or
 * PIDLOCK_ERR_IO with one line in err. */
int pidlock_acquire(const char *dir, pid_t *holder, char *err, size_t errlen);

/* Release a lock taken by pidlock_acquire (the file stays). fd < 0 is a no-op. */
void pidlock_release(int fd);

#endif
