/* clientcap.h -- how many streams each client holds, in one table that every event loop shares,
 * and the cap on that number (max_streams_per_client).
 *
 * A client is whatever key the endpoint layer names it by (today the peer address; once
 * authentication exists, the client id, or the address resolved through trusted proxies): this
 * module only counts strings. A key is copied when its client takes a first stream and freed
 * with its last one, and the table shrinks as clients leave, so its memory follows the clients
 * that hold streams now.
 *
 * Thread-safe: one mutex, held by each call for one hash-table lookup. */
#ifndef CLIENTCAP_H
#define CLIENTCAP_H
#include <stddef.h>

typedef struct clientcap clientcap_t;

/* Error codes (negative). */
enum {
    CLIENTCAP_ERR_NOMEM = -1,   /* an allocation failed; nothing was counted */
    CLIENTCAP_ERR_FULL = -2,    /* the client holds `limit` streams already */
};

/* A table capping each client at `limit` streams (limit >= 1). Returns 0 and sets *out, or
 * CLIENTCAP_ERR_NOMEM (*out NULL). */
int clientcap_new(clientcap_t **out, size_t limit);

/* Free the table and its keys. NULL is a no-op. */
void clientcap_free(clientcap_t *cc);

/* Count one more stream for client `key` (NUL-terminated, BORROWED: copied when new). Returns
 * 0, CLIENTCAP_ERR_FULL (the client is at the limit: nothing changes) or CLIENTCAP_ERR_NOMEM. */
int clientcap_acquire(clientcap_t *cc, const char *key);

/* Count one stream less for `key`, which must have been acquired; its last stream forgets the
 * client. A key not in the table is ignored. */
void clientcap_release(clientcap_t *cc, const char *key);

/* Streams `key` holds now (0: none). */
size_t clientcap_held(clientcap_t *cc, const char *key);

/* Clients holding at least one stream now. */
size_t clientcap_clients(clientcap_t *cc);

#endif
