/* version.h -- the server's version, used in the User-Agent of feed requests and in /health. */
#ifndef VERSION_H
#define VERSION_H

#define AS_VERSION "0.1.0"
#define AS_USER_AGENT "activity-stream/" AS_VERSION

#endif
