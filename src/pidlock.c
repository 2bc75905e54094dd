/* pidlock.c -- one server per data directory (see pidlock.h). */
#include "pidlock.h"
#include "errfmt.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

static pid_t read_pid(int fd)
{
    char buf[32] = "";
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    return n > 0 ? (pid_t)strtol(buf, NULL, 10) : 0;
}

int pidlock_acquire(const char *dir, pid_t *holder, char *err, size_t errlen)
{
    char path[4096];
    if (holder)
        *holder = 0;
    if ((size_t)snprintf(path, sizeof path, "%s/server.pid", dir) >= sizeof path)
        return errfmt(err, errlen, "%s: path too long", dir), PIDLOCK_ERR_IO;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return errfmt(err, errlen, "%s: %s", path, strerror(errno)), PIDLOCK_ERR_IO;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        if (holder)
            *holder = read_pid(fd);
        close(fd);
        if (e == EWOULDBLOCK)
            return PIDLOCK_ERR_HELD;
        return errfmt(err, errlen, "%s: cannot lock: %s", path, strerror(e)), PIDLOCK_ERR_IO;
    }
    char pid[32];
    int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)n, 0) != n) {
        int e = errno;
        close(fd);
        return errfmt(err, errlen, "%s: %s", path, strerror(e)), PIDLOCK_ERR_IO;
    }
    return fd;
}

void pidlock_release(int fd)
{
    if (fd >= 0)
        close(fd);
}
