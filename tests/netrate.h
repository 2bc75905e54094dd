/* netrate.h -- the physical limit of a transfer on this machine, for benchmarks to put their
 * rates in proportion: how fast a file crosses a loopback TCP connection when a thread
 * sendfile()s it to a reader that only counts the bytes. No output; nothing global. */
#ifndef NETRATE_H
#define NETRATE_H
#include <stddef.h>
#include <stdint.h>

/* Send the first `size` bytes of the file at `path` from a helper thread (sendfile) over one
 * 127.0.0.1 connection to this thread, which read()s them with a buffer of `read_buf` bytes and
 * discards them; timed from connect to EOF. Returns bytes per second, or -1 when anything failed
 * (a socket call, the thread, the file shorter than `size`, an allocation). */
double netrate_loopback(const char *path, uint64_t size, size_t read_buf);

#endif
