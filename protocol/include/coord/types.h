/* coord — basic types, error codes, assertions and the allocator hook shared by
 * every module of the pure protocol core.
 *
 * Error codes are Apache ZooKeeper's own (KeeperException.Code): 0 is OK and
 * every failure is negative, so a code can go on the wire unchanged. A few
 * codes that only live inside the process (out of memory, a full buffer) sit
 * below -1000 and are never sent to a client: the server maps them to
 * SYSTEMERROR first (coord_err_wire). */
#ifndef COORD_TYPES_H
#define COORD_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint32_t coord_id;     /* A server's id (myid), 1..COORD_SERVER_ID_MAX. */
typedef int64_t coord_time_ms; /* A node's own clock, in milliseconds. */
typedef int64_t coord_zxid;    /* epoch << 32 | counter. */
typedef int64_t coord_session_id;

#define COORD_SERVER_ID_MAX 127 /* The id is the top byte of session ids, top bit clear. */

/* X(name, value, text). ZooKeeper's codes first, then process-internal ones. */
#define COORD_ERR_TABLE(X)                                                        \
    X(COORD_OK, 0, "ok")                                                          \
    X(COORD_ESYSTEM, -1, "system error")                                          \
    X(COORD_ERUNTIMEINCONSISTENCY, -2, "runtime inconsistency")                   \
    X(COORD_EDATAINCONSISTENCY, -3, "data inconsistency")                         \
    X(COORD_ECONNECTIONLOSS, -4, "connection loss")                               \
    X(COORD_EMARSHALLING, -5, "marshalling error")                                \
    X(COORD_EUNIMPLEMENTED, -6, "unimplemented")                                  \
    X(COORD_EOPERATIONTIMEOUT, -7, "operation timeout")                           \
    X(COORD_EBADARGUMENTS, -8, "bad arguments")                                   \
    X(COORD_EUNKNOWNSESSION, -12, "unknown session")                              \
    X(COORD_ENEWCONFIGNOQUORUM, -13, "new config has no quorum")                  \
    X(COORD_ERECONFIGINPROGRESS, -14, "reconfig in progress")                     \
    X(COORD_EAPI, -100, "api error")                                              \
    X(COORD_ENONODE, -101, "no node")                                             \
    X(COORD_ENOAUTH, -102, "not authenticated")                                   \
    X(COORD_EBADVERSION, -103, "bad version")                                     \
    X(COORD_ENOCHILDRENFOREPHEMERALS, -108, "no children for ephemerals")         \
    X(COORD_ENODEEXISTS, -110, "node exists")                                     \
    X(COORD_ENOTEMPTY, -111, "not empty")                                         \
    X(COORD_ESESSIONEXPIRED, -112, "session expired")                             \
    X(COORD_EINVALIDCALLBACK, -113, "invalid callback")                           \
    X(COORD_EINVALIDACL, -114, "invalid acl")                                     \
    X(COORD_EAUTHFAILED, -115, "authentication failed")                           \
    X(COORD_ESESSIONMOVED, -118, "session moved")                                 \
    X(COORD_ENOTREADONLY, -119, "not a read-only call")                           \
    X(COORD_EEPHEMERALONLOCALSESSION, -120, "ephemeral on local session")         \
    X(COORD_ENOWATCHER, -121, "no watcher")                                       \
    X(COORD_EREQUESTTIMEOUT, -122, "request timeout")                             \
    X(COORD_ERECONFIGDISABLED, -123, "reconfig disabled")                         \
    X(COORD_ESESSIONCLOSEDREQUIRESASLAUTH, -124, "session closed, requires sasl") \
    X(COORD_EQUOTAEXCEEDED, -125, "quota exceeded")                               \
    X(COORD_ETHROTTLEDOP, -127, "throttled op")                                   \
    X(COORD_ENOMEM, -1001, "out of memory")                                       \
    X(COORD_EFULL, -1002, "buffer full")                                          \
    X(COORD_ECORRUPT, -1003, "corrupt record")

enum coord_err {
#define COORD_ERR_ENUM_(name, value, text) name = (value),
    COORD_ERR_TABLE(COORD_ERR_ENUM_)
#undef COORD_ERR_ENUM_
};

/* The text of an error code; "unknown error" for a value not in the table. */
const char *coord_strerror(int err);
/* The symbolic name ("COORD_ENONODE"), or NULL for an unknown value. */
const char *coord_errname(int err);
/* The code to put on the wire: internal codes (below -1000) become ESYSTEM. */
int coord_err_wire(int err);

/* Provided by the host (sim/, real/, tests/), never by protocol/. Called on a
 * broken invariant: a programmer error, never bad input. */
_Noreturn void coord_panic(const char *file, int line, const char *expr);
#define COORD_ASSERT(X) ((X) ? (void)0 : coord_panic(__FILE__, __LINE__, #X))

/* The one allocator hook. Every allocation of the core goes through these; the
 * defaults are the C library's, and a host (or a test injecting allocation
 * failure) may replace them before creating any object. */
struct coord_heap
{
    void *(*malloc)(size_t size);
    void *(*realloc)(void *ptr, size_t size);
    void (*free)(void *ptr);
};
void coord_heap_set(const struct coord_heap *heap); /* NULL restores the defaults. */
void *coord_malloc(size_t size);
void *coord_calloc(size_t count, size_t size);
void *coord_realloc(void *ptr, size_t size);
void coord_free(void *ptr);

#define COORD_MIN(a, b) ((a) < (b) ? (a) : (b))
#define COORD_MAX(a, b) ((a) > (b) ? (a) : (b))

#endif /* COORD_TYPES_H */
