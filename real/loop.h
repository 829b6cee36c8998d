/* The real backend's event loop: one thread, epoll, one coord server.
 *
 * It implements env.h over sockets and files: client connections with
 * per-connection output buffers (a slow reader never stalls the others, and
 * one whose unsent output passes a limit is disconnected), the one timer by
 * CLOCK_MONOTONIC, and storage through real/disk.c, whose fsync runs on a
 * helper thread and comes back here as COORD_EVENT_SYNCED (group commit).
 * In quorum mode the peer transport (real/peer.c) runs in the same epoll;
 * its events reach the core between steps, like client closures.
 * Four-letter words are answered here, before the core sees the connection. */
#ifndef COORD_REAL_LOOP_H
#define COORD_REAL_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "coord/server.h"
#include "coord/util.h"
#include "disk.h"
#include "peer.h"

struct real_conn;

struct real_loop
{
    int epfd;
    int listen_fd;
    int signal_fd;
    struct real_config *cfg;
    struct real_disk *disk;
    struct coord_server server;
    bool server_ready;
    struct coord_u64map conns; /* id -> struct real_conn */
    uint64_t next_conn_id;
    struct real_conn *dirty; /* Connections with output to flush or to close. */
    size_t lingering;        /* Connections in a lingering close. */
    int64_t wake_ms;         /* Monotonic deadline asked for by the core. */
    bool stopping;
    int exit_code;
    int64_t started_ms;
    /* Closures to report to the core after the current step (no re-entrancy). */
    uint64_t *closed;
    size_t closed_count;
    size_t closed_cap;
    size_t out_max_bytes;
    /* Quorum mode: the connections to the other servers. */
    struct real_peers peers;
    bool peers_on;
    int64_t leading_since_ms; /* Monotonic time this server last became leader; 0 = not. */
    char errmsg[512];
};

/* Open the client port and build the server from the disk. Returns 0, or -1
 * with a message in l->errmsg. */
int real_loop_init(struct real_loop *l,
                   struct real_config *cfg,
                   struct real_disk *disk,
                   const struct coord_storage *storage,
                   uint64_t seed);
/* Run until SIGTERM/SIGINT or a fatal error. Returns the process exit code. */
int real_loop_run(struct real_loop *l);
void real_loop_close(struct real_loop *l);

int64_t real_now_ms(void);  /* CLOCK_MONOTONIC */
int64_t real_wall_ms(void); /* CLOCK_REALTIME */

/* The loop's view of one client connection, for the four-letter words. */
struct real_conn_info
{
    uint64_t id;
    char addr[64];
    uint64_t received;
    uint64_t sent;
    size_t queued_bytes;
};
void real_loop_foreach_conn(struct real_loop *l,
                            void (*cb)(void *arg, const struct real_conn_info *),
                            void *arg);
size_t real_loop_conn_count(const struct real_loop *l);

#endif /* COORD_REAL_LOOP_H */
