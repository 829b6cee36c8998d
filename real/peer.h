/* The peer transport of coordd: the TCP connections between the servers of
 * an ensemble, run inside the event loop's epoll (one thread).
 *
 * It gives the core what env.h promises: while a peer is up, messages arrive
 * once and in order; when its connection breaks, a suffix of what was sent
 * may be lost, the core hears PEER_DOWN, and PEER_UP once a new connection
 * completed its handshake.
 *
 * Connections. One TCP connection per pair of servers: the server with the
 * higher id dials the lower one's peer port (the first port of its server.N
 * line) and retries every REAL_PEER_RETRY_MS while it is down; the lower one
 * only accepts. Each server listens on its peer port and on its election
 * port, and accepts the same handshake on both, so a zoo.cfg written for
 * ZooKeeper works; election messages are ordinary peer messages (first byte
 * 'E'). A new accepted connection from a peer replaces an older one still up
 * (PEER_DOWN for the old, then PEER_UP).
 *
 * Handshake (16 bytes each way, big-endian):
 *     4  magic "CRDP"   4  version (1)   4  sender id   4  receiver id
 * The dialer sends it first; the acceptor checks that the sender is a member
 * with a higher id than its own and that the receiver is itself, and answers
 * with its own header (sender and receiver swapped). Either side closes a
 * connection whose header is wrong, with a warning naming the remote
 * address; both report PEER_UP only once the handshake is complete.
 *
 * Frames: be32 length, then that many message bytes; the length is
 * 1..COORD_ZAB_MSG_MAX, anything else closes the connection with a warning.
 *
 * Events (PEER_UP, PEER_DOWN, PEER_MESSAGE) are queued, never delivered from
 * inside real_peers_send: the host drains them between core steps
 * (real_peers_drain), so the core is never re-entered. Output is buffered
 * per connection and written without blocking; a peer whose unsent output
 * passes REAL_PEER_OUT_MAX is disconnected rather than buffered forever. */
#ifndef COORD_REAL_PEER_H
#define COORD_REAL_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "coord/env.h"
#include "coord/server.h"
#include "coord/types.h"
#include "coord/util.h"

#define REAL_PEER_MAGIC 0x43524450u /* "CRDP" */
#define REAL_PEER_VERSION 1u
#define REAL_PEER_HEADER_LEN 16u
#define REAL_PEER_RETRY_MS 100
#define REAL_PEER_HANDSHAKE_MS 5000 /* A connection still without a handshake is closed. */
#define REAL_PEER_OUT_MAX ((size_t)256 << 20)
#define REAL_PEER_HOST_MAX 256
/* epoll user data: the peer transport's fds carry this bit, so the loop can
 * route their events here; client connections never have it. */
#define REAL_PEER_TAG_BIT (1ull << 62)

/* One member of the ensemble, as the transport needs it. */
struct real_peer_addr
{
    coord_id id;
    char host[REAL_PEER_HOST_MAX]; /* As configured: a name or a numeric address. */
    uint16_t peer_port;
    uint16_t election_port;
};

/* A queued event for the core. */
struct real_peer_event
{
    enum coord_event_type type; /* PEER_UP, PEER_DOWN, PEER_MESSAGE */
    coord_id peer;
    uint8_t *data; /* PEER_MESSAGE: owned by the queue. */
    size_t len;
};

struct real_peer_conn;

/* Per remote member: its address and what the transport knows of it. */
struct real_peer_member
{
    struct real_peer_addr addr;
    bool dialer;                 /* We dial it (our id is higher). */
    struct real_peer_conn *up;   /* The connection the core knows as up, or NULL. */
    struct real_peer_conn *dial; /* A dial in progress (connecting or handshaking). */
    int64_t next_dial_ms;        /* Earliest next attempt while down. */
    unsigned failures;           /* Dial attempts failed in a row (for the log). */
    bool resolved;
    struct sockaddr_storage sa; /* The peer port's address, once resolved. */
    socklen_t sa_len;
};

struct real_peers
{
    int epfd;
    coord_id self;
    struct real_peer_member members[COORD_ENSEMBLE_MAX]; /* Everyone but self. */
    size_t member_count;
    int listen_fd[2]; /* Peer port, election port. */
    char listen_desc[2][REAL_PEER_HOST_MAX + 16];
    struct coord_u64map conns; /* serial -> struct real_peer_conn */
    uint64_t next_serial;
    struct real_peer_conn *dirty; /* Connections with output to flush. */
    struct real_peer_conn *dead;  /* Closed connections, freed at the next collect. */
    /* Events for the core, FIFO. */
    struct real_peer_event *events;
    size_t ev_head;
    size_t ev_count;
    size_t ev_cap;
    uint8_t *ev_data;  /* The last popped message's bytes, freed at the next pop. */
    size_t pending_in; /* Inbound connections still in their handshake. */
    bool failed;       /* Out of memory queueing an event: the host should stop. */
    int64_t warn_window_ms;
    unsigned warn_count;
    unsigned warn_dropped;
    /* Counters for tests and the log. */
    uint64_t frames_in;
    uint64_t frames_out;
    uint64_t bytes_in;
    uint64_t bytes_out;
};

/* Open the listeners for member `self` (bind `host`, or every address when
 * listen_all) and prepare the dials. `members` lists the whole ensemble,
 * self included. Returns 0, or -1 with a message in err. On failure
 * real_peers_close still releases what was opened. */
int real_peers_init(struct real_peers *p,
                    int epfd,
                    coord_id self,
                    const struct real_peer_addr *members,
                    size_t count,
                    bool listen_all,
                    char *err,
                    size_t err_len);
void real_peers_close(struct real_peers *p);

/* env.peer_send: frame and queue `msg` for `to`. Dropped silently when `to`
 * is down (TCP's contract allows losing a suffix); never calls back. */
void real_peers_send(struct real_peers *p, coord_id to, const void *msg, size_t len);

/* An epoll event for a tag with REAL_PEER_TAG_BIT. */
void real_peers_handle(struct real_peers *p, uint64_t tag, uint32_t events);
/* Dials due, handshakes overdue: call after every epoll_wait. */
void real_peers_tick(struct real_peers *p, int64_t now_ms);
/* Write what the core queued; call before epoll_wait. */
void real_peers_flush(struct real_peers *p);
/* The earliest time real_peers_tick has work, or INT64_MAX. */
int64_t real_peers_next_deadline(const struct real_peers *p);

/* Pop the oldest queued event into *ev (its data stays valid until the next
 * call). False when none is queued. */
bool real_peers_next_event(struct real_peers *p, struct real_peer_event *ev);
bool real_peers_has_events(const struct real_peers *p);

/* Whether the connection to `id` is up (for the log and tests). */
bool real_peers_is_up(const struct real_peers *p, coord_id id);

int64_t real_peers_now_ms(void); /* CLOCK_MONOTONIC */

#endif /* COORD_REAL_PEER_H */
