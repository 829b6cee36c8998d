/* The peer transport (see peer.h): dials, accepts, handshakes, frames. */
#define _GNU_SOURCE
#include "peer.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "coord/zab_msg.h"
#include "log.h"

#define PEER_READ_CHUNK 65536
#define PEER_READ_ROUNDS 16
#define PEER_PENDING_IN_MAX 64 /* Inbound connections allowed in their handshake at once. */
#define PEER_WARN_WINDOW_MS 10000
#define PEER_WARN_BURST 20 /* Warnings per window before they are counted instead. */
#define PEER_COMPACT_BYTES (1u << 20)
#define PEER_RESOLVE_RETRY_MS 2000 /* A member's name that did not resolve. */

/* epoll tags below REAL_PEER_TAG_BIT: the listeners, then connection serials. */
enum { PEER_TAG_LISTEN_PEER = 1, PEER_TAG_LISTEN_ELECTION = 2, PEER_FIRST_SERIAL = 16 };

enum peer_conn_state {
    PEER_CONNECTING = 1, /* Dialer: connect() in progress. */
    PEER_HELLO_SENT,     /* Dialer: our header is out, waiting for the answer. */
    PEER_AWAIT_HELLO,    /* Acceptor: waiting for the dialer's header. */
    PEER_UP,             /* Handshake done: frames both ways. */
};

struct real_peer_conn
{
    uint64_t serial;
    int fd;
    enum peer_conn_state state;
    bool inbound;
    struct real_peer_member *member; /* Dialer: from the start; acceptor: once known. */
    char addr[80];                   /* The remote "ip:port", for messages. */
    int64_t deadline_ms;             /* Handshake deadline while not up. */
    struct coord_buf in;
    size_t in_off;
    struct coord_buf out;
    size_t out_off;
    bool want_out;
    bool on_dirty;
    struct real_peer_conn *dirty_next;
    bool gone;
    struct real_peer_conn *dead_next;
};

int64_t real_peers_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Warnings about what remote hosts do are rate-limited: a misconfigured
 * server retrying ten times a second must not flood the log. */
__attribute__((format(printf, 2, 3))) static void peer_warn(struct real_peers *p,
                                                            const char *fmt,
                                                            ...)
{
    int64_t now = real_peers_now_ms();
    if (now - p->warn_window_ms >= PEER_WARN_WINDOW_MS) {
        if (p->warn_dropped > 0) {
            REAL_WARN("peer transport: %u similar warnings suppressed", p->warn_dropped);
        }
        p->warn_window_ms = now;
        p->warn_count = 0;
        p->warn_dropped = 0;
    }
    if (p->warn_count >= PEER_WARN_BURST) {
        p->warn_dropped++;
        return;
    }
    p->warn_count++;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    REAL_WARN("%s", line);
}

static void peer_addr_text(const struct sockaddr_storage *sa, char *out, size_t len)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    if (sa->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip);
        port = ntohs(in->sin_port);
        snprintf(out, len, "%s:%u", ip, port);
    } else if (sa->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip);
        port = ntohs(in6->sin6_port);
        snprintf(out, len, "[%s]:%u", ip, port);
    } else {
        snprintf(out, len, "?");
    }
}

static struct real_peer_member *peer_member_of(struct real_peers *p, coord_id id)
{
    for (size_t i = 0; i < p->member_count; i++) {
        if (p->members[i].addr.id == id) {
            return &p->members[i];
        }
    }
    return NULL;
}

/* ---- events for the core ------------------------------------------------------------ */

static void peer_event_push(struct real_peers *p,
                            enum coord_event_type type,
                            coord_id peer,
                            const uint8_t *data,
                            size_t len)
{
    if (p->ev_count == p->ev_cap) {
        size_t cap = p->ev_cap == 0 ? 64 : p->ev_cap * 2;
        struct real_peer_event *v = malloc(cap * sizeof *v);
        if (v == NULL) {
            p->failed = true;
            return;
        }
        for (size_t i = 0; i < p->ev_count; i++) {
            v[i] = p->events[(p->ev_head + i) % p->ev_cap];
        }
        free(p->events);
        p->events = v;
        p->ev_cap = cap;
        p->ev_head = 0;
    }
    struct real_peer_event *ev = &p->events[(p->ev_head + p->ev_count) % p->ev_cap];
    memset(ev, 0, sizeof *ev);
    ev->type = type;
    ev->peer = peer;
    if (len > 0) {
        ev->data = malloc(len);
        if (ev->data == NULL) {
            p->failed = true;
            return;
        }
        memcpy(ev->data, data, len);
        ev->len = len;
    }
    p->ev_count++;
}

bool real_peers_next_event(struct real_peers *p, struct real_peer_event *ev)
{
    free(p->ev_data);
    p->ev_data = NULL;
    if (p->ev_count == 0) {
        return false;
    }
    *ev = p->events[p->ev_head];
    p->ev_data = ev->data;
    p->ev_head = (p->ev_head + 1) % p->ev_cap;
    p->ev_count--;
    return true;
}

bool real_peers_has_events(const struct real_peers *p)
{
    return p->ev_count > 0;
}

/* ---- connections ----------------------------------------------------------------------- */

static void conn_mark_dirty(struct real_peers *p, struct real_peer_conn *c)
{
    if (!c->on_dirty) {
        c->on_dirty = true;
        c->dirty_next = p->dirty;
        p->dirty = c;
    }
}

static int conn_watch(struct real_peers *p, struct real_peer_conn *c, uint32_t events, int op)
{
    struct epoll_event ev = {.events = events, .data.u64 = REAL_PEER_TAG_BIT | c->serial};
    return epoll_ctl(p->epfd, op, c->fd, &ev);
}

static void conn_want_out(struct real_peers *p, struct real_peer_conn *c, bool want)
{
    if (c->want_out != want) {
        c->want_out = want;
        conn_watch(p, c, EPOLLIN | (want ? EPOLLOUT : 0u), EPOLL_CTL_MOD);
    }
}

/* When a dialer may try again: at most one attempt per REAL_PEER_RETRY_MS. */
static void peer_schedule_dial(struct real_peer_member *m)
{
    int64_t now = real_peers_now_ms();
    if (m->next_dial_ms < now) {
        m->next_dial_ms = now;
    }
}

/* Close c now (the struct is freed at the next flush). An up connection
 * going away is PEER_DOWN for the core; a dialer tries again later. */
static void conn_close(struct real_peers *p, struct real_peer_conn *c)
{
    if (c->gone) {
        return;
    }
    c->gone = true;
    struct real_peer_member *m = c->member;
    if (m != NULL && m->up == c) {
        m->up = NULL;
        peer_event_push(p, COORD_EVENT_PEER_DOWN, m->addr.id, NULL, 0);
        REAL_INFO("peer connection to server %u (%s) closed", m->addr.id, c->addr);
    }
    if (m != NULL && m->dial == c) {
        m->dial = NULL;
    }
    if (m != NULL && m->dialer && m->up == NULL) {
        peer_schedule_dial(m);
    }
    if (c->inbound && c->state == PEER_AWAIT_HELLO) {
        p->pending_in--;
    }
    epoll_ctl(p->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    coord_u64map_del(&p->conns, c->serial);
    c->dead_next = p->dead;
    p->dead = c;
}

static void conn_free(struct real_peer_conn *c)
{
    coord_buf_free(&c->in);
    coord_buf_free(&c->out);
    free(c);
}

static struct real_peer_conn *conn_new(struct real_peers *p, int fd, bool inbound)
{
    struct real_peer_conn *c = calloc(1, sizeof *c);
    if (c == NULL) {
        return NULL;
    }
    c->serial = p->next_serial++;
    c->fd = fd;
    c->inbound = inbound;
    c->deadline_ms = real_peers_now_ms() + REAL_PEER_HANDSHAKE_MS;
    coord_buf_init(&c->in);
    coord_buf_init(&c->out);
    if (coord_u64map_put(&p->conns, c->serial, c) != COORD_OK) {
        free(c);
        return NULL;
    }
    return c;
}

static void peer_set_nodelay(int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static void peer_header_put(struct coord_buf *out, coord_id sender, coord_id receiver)
{
    coord_buf_be32(out, REAL_PEER_MAGIC);
    coord_buf_be32(out, REAL_PEER_VERSION);
    coord_buf_be32(out, sender);
    coord_buf_be32(out, receiver);
}

/* Write what is queued. False when the connection broke (and is closed). */
static bool conn_write(struct real_peers *p, struct real_peer_conn *c)
{
    while (c->out_off < c->out.len) {
        ssize_t n = send(c->fd, c->out.data + c->out_off, c->out.len - c->out_off, MSG_NOSIGNAL);
        if (n > 0) {
            c->out_off += (size_t)n;
            p->bytes_out += (uint64_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            conn_want_out(p, c, true);
            if (c->out_off >= PEER_COMPACT_BYTES && c->out_off * 2 >= c->out.len) {
                coord_buf_consume(&c->out, c->out_off);
                c->out_off = 0;
            }
            return true;
        }
        REAL_DEBUG("peer connection %s: write failed: %s", c->addr, strerror(errno));
        conn_close(p, c);
        return false;
    }
    coord_buf_reset(&c->out);
    c->out_off = 0;
    conn_want_out(p, c, false);
    return true;
}

/* ---- handshake -------------------------------------------------------------------------- */

static void conn_up(struct real_peers *p, struct real_peer_conn *c, struct real_peer_member *m)
{
    if (c->inbound) {
        p->pending_in--;
    }
    c->state = PEER_UP;
    c->member = m;
    if (m->dial == c) {
        m->dial = NULL;
    }
    if (m->up != NULL) {
        /* The peer reconnected while we still held its old connection (it
         * restarted, or the old one died silently): the new one wins. */
        REAL_INFO("server %u reconnected from %s: replacing its connection from %s", m->addr.id,
                  c->addr, m->up->addr);
        conn_close(p, m->up);
    }
    m->up = c;
    m->failures = 0;
    peer_event_push(p, COORD_EVENT_PEER_UP, m->addr.id, NULL, 0);
    REAL_INFO("peer connection to server %u (%s) up", m->addr.id, c->addr);
}

/* Why a header is unacceptable, or NULL. `sender` must be `want_sender` when
 * that is nonzero (dialer), else a member with a higher id (acceptor). */
static const char *peer_header_check(struct real_peers *p,
                                     const uint8_t *h,
                                     coord_id want_sender,
                                     struct real_peer_member **from,
                                     char *why,
                                     size_t why_len)
{
    uint32_t magic = coord_load_be32(h);
    uint32_t version = coord_load_be32(h + 4);
    uint32_t sender = coord_load_be32(h + 8);
    uint32_t receiver = coord_load_be32(h + 12);
    if (magic != REAL_PEER_MAGIC) {
        snprintf(why, why_len, "not a coord peer handshake (magic 0x%08x)", magic);
        return why;
    }
    if (version != REAL_PEER_VERSION) {
        snprintf(why, why_len, "peer protocol version %u, we speak %u", version, REAL_PEER_VERSION);
        return why;
    }
    if (receiver != p->self) {
        snprintf(why, why_len, "it addressed server %u, but we are server %u", receiver, p->self);
        return why;
    }
    if (sender == p->self) {
        snprintf(why, why_len, "it claims our own id %u (two servers with one myid?)", sender);
        return why;
    }
    struct real_peer_member *m = peer_member_of(p, sender);
    if (m == NULL) {
        snprintf(why, why_len, "server %u is not a member of our ensemble", sender);
        return why;
    }
    if (want_sender != 0 && sender != want_sender) {
        snprintf(why, why_len, "it says it is server %u, but we dialed server %u", sender,
                 want_sender);
        return why;
    }
    if (want_sender == 0 && sender < p->self) {
        snprintf(why, why_len,
                 "server %u has a lower id than ours (%u): we dial it, it must not dial us", sender,
                 p->self);
        return why;
    }
    *from = m;
    return NULL;
}

/* The first 16 bytes of c's input are a header: check and act on it.
 * False when the connection was closed. */
static bool conn_on_header(struct real_peers *p, struct real_peer_conn *c)
{
    char why[160];
    struct real_peer_member *m = NULL;
    coord_id want = c->inbound ? 0 : c->member->addr.id;
    if (peer_header_check(p, c->in.data + c->in_off, want, &m, why, sizeof why) != NULL) {
        peer_warn(p, "peer connection %s %s: %s; closing", c->inbound ? "from" : "to", c->addr,
                  why);
        conn_close(p, c);
        return false;
    }
    c->in_off += REAL_PEER_HEADER_LEN;
    if (c->inbound) {
        peer_header_put(&c->out, p->self, m->addr.id);
        if (c->out.failed) {
            conn_close(p, c);
            return false;
        }
        c->member = m;
        conn_up(p, c, m);
        return conn_write(p, c);
    }
    conn_up(p, c, m);
    return true;
}

/* ---- input ---------------------------------------------------------------------------------- */

/* Queue every whole frame in c's input. False when the connection was closed. */
static bool conn_parse(struct real_peers *p, struct real_peer_conn *c)
{
    for (;;) {
        size_t avail = c->in.len - c->in_off;
        if (c->state != PEER_UP) {
            if (avail < REAL_PEER_HEADER_LEN) {
                break;
            }
            if (!conn_on_header(p, c)) {
                return false;
            }
            continue;
        }
        if (avail < 4) {
            break;
        }
        uint32_t len = coord_load_be32(c->in.data + c->in_off);
        if (len == 0 || len > COORD_ZAB_MSG_MAX) {
            peer_warn(p,
                      "peer connection %s (server %u): frame length %u is outside 1..%u; "
                      "closing",
                      c->addr, c->member->addr.id, len, COORD_ZAB_MSG_MAX);
            conn_close(p, c);
            return false;
        }
        if (avail - 4 < len) {
            break;
        }
        REAL_DEBUG("peer message from server %u: type 0x%02x, %u bytes", c->member->addr.id,
                   c->in.data[c->in_off + 4], len);
        peer_event_push(p, COORD_EVENT_PEER_MESSAGE, c->member->addr.id, c->in.data + c->in_off + 4,
                        len);
        p->frames_in++;
        c->in_off += 4 + (size_t)len;
    }
    if (c->in_off == c->in.len) {
        coord_buf_reset(&c->in);
        c->in_off = 0;
    } else if (c->in_off >= PEER_COMPACT_BYTES || c->in_off * 2 >= c->in.len) {
        coord_buf_consume(&c->in, c->in_off);
        c->in_off = 0;
    }
    return true;
}

static void conn_readable(struct real_peers *p, struct real_peer_conn *c)
{
    for (int round = 0; round < PEER_READ_ROUNDS && !c->gone; round++) {
        if (!coord_buf_reserve(&c->in, PEER_READ_CHUNK)) {
            p->failed = true;
            conn_close(p, c);
            return;
        }
        ssize_t n = recv(c->fd, c->in.data + c->in.len, c->in.cap - c->in.len, 0);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return;
        }
        if (n <= 0) {
            if (c->state != PEER_UP && c->inbound) {
                peer_warn(p, "peer connection from %s closed before its handshake", c->addr);
            } else {
                REAL_DEBUG("peer connection %s: %s", c->addr,
                           n == 0 ? "closed by the remote side" : strerror(errno));
            }
            conn_close(p, c);
            return;
        }
        c->in.len += (size_t)n;
        p->bytes_in += (uint64_t)n;
        if (!conn_parse(p, c)) {
            return;
        }
    }
}

/* ---- dialing ----------------------------------------------------------------------------------
 */

static bool peer_resolve(struct real_peers *p, struct real_peer_member *m)
{
    (void)p;
    char port[8];
    snprintf(port, sizeof port, "%u", m->addr.peer_port);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(m->addr.host, port, &hints, &res);
    if (rc != 0 || res == NULL) {
        if (m->failures == 0) {
            REAL_WARN("server %u: cannot resolve %s: %s; will retry", m->addr.id, m->addr.host,
                      gai_strerror(rc));
        }
        return false;
    }
    memcpy(&m->sa, res->ai_addr, res->ai_addrlen);
    m->sa_len = res->ai_addrlen;
    m->resolved = true;
    freeaddrinfo(res);
    return true;
}

static void peer_dial_failed(struct real_peers *p, struct real_peer_conn *c, const char *why)
{
    struct real_peer_member *m = c->member;
    m->failures++;
    /* The first failure and then one in a hundred: a peer that is down is
     * normal while an ensemble starts or restarts. */
    if (m->failures == 1 || m->failures % 100 == 0) {
        REAL_INFO("cannot connect to server %u at %s: %s (attempt %u; retrying every %d ms)",
                  m->addr.id, c->addr, why, m->failures, REAL_PEER_RETRY_MS);
    }
    conn_close(p, c);
}

static void peer_dial(struct real_peers *p, struct real_peer_member *m, int64_t now)
{
    m->next_dial_ms = now + REAL_PEER_RETRY_MS;
    if (!m->resolved && !peer_resolve(p, m)) {
        /* getaddrinfo blocks the loop: ask the resolver far less often. */
        m->next_dial_ms = now + PEER_RESOLVE_RETRY_MS;
        m->failures++;
        return;
    }
    int fd = socket(m->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        REAL_WARN("peer socket: %s", strerror(errno));
        return;
    }
    peer_set_nodelay(fd);
    struct real_peer_conn *c = conn_new(p, fd, false);
    if (c == NULL) {
        close(fd);
        return;
    }
    c->member = m;
    c->state = PEER_CONNECTING;
    peer_addr_text(&m->sa, c->addr, sizeof c->addr);
    m->dial = c;
    if (conn_watch(p, c, EPOLLIN | EPOLLOUT, EPOLL_CTL_ADD) != 0) {
        REAL_WARN("peer connection %s: epoll: %s", c->addr, strerror(errno));
        conn_close(p, c);
        return;
    }
    c->want_out = true;
    int rc;
    do {
        rc = connect(fd, (const struct sockaddr *)&m->sa, m->sa_len);
    } while (rc != 0 && errno == EINTR);
    if (rc != 0 && errno != EINPROGRESS) {
        peer_dial_failed(p, c, strerror(errno));
    }
    /* Otherwise EPOLLOUT tells when connect() finished. */
}

static void peer_dial_connected(struct real_peers *p, struct real_peer_conn *c)
{
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) {
        err = errno;
    }
    if (err != 0) {
        peer_dial_failed(p, c, strerror(err));
        return;
    }
    c->state = PEER_HELLO_SENT;
    peer_header_put(&c->out, p->self, c->member->addr.id);
    if (c->out.failed) {
        conn_close(p, c);
        return;
    }
    conn_write(p, c);
}

/* ---- accepting ------------------------------------------------------------------------------ */

static void peer_accept_all(struct real_peers *p, int lfd)
{
    for (;;) {
        struct sockaddr_storage sa;
        socklen_t sl = sizeof sa;
        int fd = accept4(lfd, (struct sockaddr *)&sa, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                peer_warn(p, "peer accept: %s", strerror(errno));
            }
            return;
        }
        char addr[80];
        peer_addr_text(&sa, addr, sizeof addr);
        if (p->pending_in >= PEER_PENDING_IN_MAX) {
            peer_warn(p,
                      "peer connection from %s refused: %u connections already wait for "
                      "their handshake",
                      addr, PEER_PENDING_IN_MAX);
            close(fd);
            continue;
        }
        peer_set_nodelay(fd);
        struct real_peer_conn *c = conn_new(p, fd, true);
        if (c == NULL) {
            close(fd);
            continue;
        }
        snprintf(c->addr, sizeof c->addr, "%s", addr);
        c->state = PEER_AWAIT_HELLO;
        p->pending_in++;
        if (conn_watch(p, c, EPOLLIN, EPOLL_CTL_ADD) != 0) {
            conn_close(p, c);
            continue;
        }
        REAL_DEBUG("peer connection from %s accepted", addr);
    }
}

/* ---- the host's calls ------------------------------------------------------------------------ */

void real_peers_send(struct real_peers *p, coord_id to, const void *msg, size_t len)
{
    struct real_peer_member *m = peer_member_of(p, to);
    if (m == NULL || m->up == NULL) {
        REAL_DEBUG("peer message for server %u dropped: not connected", to);
        return; /* Down: the suffix TCP may lose. */
    }
    REAL_DEBUG("peer message for server %u: type 0x%02x, %zu bytes", to,
               len > 0 ? ((const uint8_t *)msg)[0] : 0, len);
    struct real_peer_conn *c = m->up;
    if (len == 0 || len > COORD_ZAB_MSG_MAX) {
        REAL_WARN("peer message of %zu bytes for server %u not sent: outside 1..%u", len, to,
                  COORD_ZAB_MSG_MAX);
        return;
    }
    coord_buf_be32(&c->out, (uint32_t)len);
    coord_buf_put(&c->out, msg, len);
    p->frames_out++;
    if (c->out.failed || c->out.len - c->out_off > REAL_PEER_OUT_MAX) {
        peer_warn(p, "peer connection to server %u (%s): %zu bytes unsent; disconnecting", to,
                  c->addr, c->out.len - c->out_off);
        conn_close(p, c);
        return;
    }
    conn_mark_dirty(p, c);
}

void real_peers_handle(struct real_peers *p, uint64_t tag, uint32_t events)
{
    uint64_t id = tag & ~REAL_PEER_TAG_BIT;
    if (id == PEER_TAG_LISTEN_PEER || id == PEER_TAG_LISTEN_ELECTION) {
        peer_accept_all(p, p->listen_fd[id - PEER_TAG_LISTEN_PEER]);
        return;
    }
    struct real_peer_conn *c = coord_u64map_get(&p->conns, id);
    if (c == NULL || c->gone) {
        return;
    }
    if (c->state == PEER_CONNECTING) {
        if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) {
            peer_dial_connected(p, c);
        }
        return;
    }
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
        conn_readable(p, c);
    }
    if (!c->gone && (events & EPOLLOUT)) {
        conn_write(p, c);
    }
}

void real_peers_tick(struct real_peers *p, int64_t now_ms)
{
    size_t pos = 0;
    uint64_t key;
    void *value;
    struct real_peer_conn *late[64];
    size_t late_count = 0;
    while (late_count < 64 && coord_u64map_next(&p->conns, &pos, &key, &value)) {
        struct real_peer_conn *c = value;
        if (c->state != PEER_UP && now_ms >= c->deadline_ms) {
            late[late_count++] = c; /* Closed after the walk: closing edits the map. */
        }
    }
    for (size_t i = 0; i < late_count; i++) {
        struct real_peer_conn *c = late[i];
        if (c->inbound) {
            peer_warn(p, "peer connection from %s: no handshake within %d ms; closing", c->addr,
                      REAL_PEER_HANDSHAKE_MS);
            conn_close(p, c);
        } else {
            peer_dial_failed(p, c, "no handshake answer in time");
        }
    }
    for (size_t i = 0; i < p->member_count; i++) {
        struct real_peer_member *m = &p->members[i];
        if (m->dialer && m->up == NULL && m->dial == NULL && now_ms >= m->next_dial_ms) {
            peer_dial(p, m, now_ms);
        }
    }
}

void real_peers_flush(struct real_peers *p)
{
    while (p->dirty != NULL) {
        struct real_peer_conn *c = p->dirty;
        p->dirty = c->dirty_next;
        c->on_dirty = false;
        if (!c->gone) {
            conn_write(p, c);
        }
    }
    while (p->dead != NULL) {
        struct real_peer_conn *c = p->dead;
        p->dead = c->dead_next;
        conn_free(c);
    }
}

int64_t real_peers_next_deadline(const struct real_peers *p)
{
    int64_t next = INT64_MAX;
    for (size_t i = 0; i < p->member_count; i++) {
        const struct real_peer_member *m = &p->members[i];
        if (m->dialer && m->up == NULL && m->dial == NULL && m->next_dial_ms < next) {
            next = m->next_dial_ms;
        }
    }
    size_t pos = 0;
    uint64_t key;
    void *value;
    while (coord_u64map_next(&p->conns, &pos, &key, &value)) {
        const struct real_peer_conn *c = value;
        if (c->state != PEER_UP && c->deadline_ms < next) {
            next = c->deadline_ms;
        }
    }
    return next;
}

bool real_peers_is_up(const struct real_peers *p, coord_id id)
{
    for (size_t i = 0; i < p->member_count; i++) {
        if (p->members[i].addr.id == id) {
            return p->members[i].up != NULL;
        }
    }
    return false;
}

/* ---- setup ----------------------------------------------------------------------------------- */

static int peer_listen(struct real_peers *p,
                       int slot,
                       const char *host,
                       uint16_t port,
                       bool listen_all,
                       char *err,
                       size_t err_len)
{
    char portstr[8];
    snprintf(portstr, sizeof portstr, "%u", port);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV | AI_PASSIVE};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(host, portstr, &hints, &res);
    if (rc != 0 || res == NULL) {
        snprintf(err, err_len, "cannot resolve this server's address %s: %s", host,
                 gai_strerror(rc));
        return -1;
    }
    struct sockaddr_storage sa;
    memcpy(&sa, res->ai_addr, res->ai_addrlen);
    socklen_t sl = res->ai_addrlen;
    freeaddrinfo(res);
    if (listen_all && sa.ss_family == AF_INET) {
        ((struct sockaddr_in *)&sa)->sin_addr.s_addr = htonl(INADDR_ANY);
    } else if (listen_all && sa.ss_family == AF_INET6) {
        ((struct sockaddr_in6 *)&sa)->sin6_addr = in6addr_any;
    }
    peer_addr_text(&sa, p->listen_desc[slot], sizeof p->listen_desc[slot]);
    int fd = socket(sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, err_len, "socket: %s", strerror(errno));
        return -1;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&sa, sl) != 0 || listen(fd, 128) != 0) {
        snprintf(err, err_len, "cannot listen on %s (the %s port of this server's line): %s",
                 p->listen_desc[slot], slot == 0 ? "peer" : "election", strerror(errno));
        close(fd);
        return -1;
    }
    p->listen_fd[slot] = fd;
    struct epoll_event ev = {
        .events = EPOLLIN, .data.u64 = REAL_PEER_TAG_BIT | (uint64_t)(PEER_TAG_LISTEN_PEER + slot)};
    if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
        snprintf(err, err_len, "epoll_ctl: %s", strerror(errno));
        return -1;
    }
    return 0;
}

int real_peers_init(struct real_peers *p,
                    int epfd,
                    coord_id self,
                    const struct real_peer_addr *members,
                    size_t count,
                    bool listen_all,
                    char *err,
                    size_t err_len)
{
    memset(p, 0, sizeof *p);
    p->epfd = epfd;
    p->self = self;
    p->listen_fd[0] = p->listen_fd[1] = -1;
    p->next_serial = PEER_FIRST_SERIAL;
    coord_u64map_init(&p->conns);
    const struct real_peer_addr *own = NULL;
    int64_t now = real_peers_now_ms();
    for (size_t i = 0; i < count; i++) {
        if (members[i].id == self) {
            own = &members[i];
            continue;
        }
        if (p->member_count == COORD_ENSEMBLE_MAX) {
            snprintf(err, err_len, "more than %d peers", COORD_ENSEMBLE_MAX);
            return -1;
        }
        struct real_peer_member *m = &p->members[p->member_count++];
        m->addr = members[i];
        m->dialer = self > m->addr.id;
        m->next_dial_ms = now;
    }
    if (own == NULL) {
        snprintf(err, err_len, "server %u is not in the ensemble", self);
        return -1;
    }
    if (peer_listen(p, 0, own->host, own->peer_port, listen_all, err, err_len) != 0 ||
        peer_listen(p, 1, own->host, own->election_port, listen_all, err, err_len) != 0) {
        return -1;
    }
    for (size_t i = 0; i < p->member_count; i++) {
        peer_resolve(p, &p->members[i]);
    }
    REAL_INFO("server %u: peer connections on %s (election port %s)", self, p->listen_desc[0],
              p->listen_desc[1]);
    return 0;
}

void real_peers_close(struct real_peers *p)
{
    size_t pos = 0;
    uint64_t key;
    void *value;
    while (coord_u64map_next(&p->conns, &pos, &key, &value)) {
        struct real_peer_conn *c = value;
        if (c->fd >= 0) {
            close(c->fd);
        }
        conn_free(c);
    }
    coord_u64map_free(&p->conns);
    while (p->dead != NULL) {
        struct real_peer_conn *c = p->dead;
        p->dead = c->dead_next;
        conn_free(c);
    }
    for (int i = 0; i < 2; i++) {
        if (p->listen_fd[i] >= 0) {
            close(p->listen_fd[i]);
            p->listen_fd[i] = -1;
        }
    }
    for (size_t i = 0; i < p->ev_count; i++) {
        free(p->events[(p->ev_head + i) % p->ev_cap].data);
    }
    free(p->events);
    free(p->ev_data);
    memset(p, 0, sizeof *p);
    p->listen_fd[0] = p->listen_fd[1] = -1;
}
