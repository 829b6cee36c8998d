/* The epoll event loop that hosts one coord server (see loop.h). */
#define _GNU_SOURCE
#include "loop.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "admin.h"
#include "coord/wire.h"
#include "log.h"

#define LOOP_READ_CHUNK 65536
#define LOOP_OUT_MAX_DEFAULT (64u << 20)
#define LOOP_LINGER_MS 2000

/* epoll user data: small tags for the fixed fds, connection ids above them. */
enum { TAG_LISTEN = 1, TAG_SIGNAL = 2, TAG_DISK = 3, TAG_FIRST_CONN = 16 };

struct real_conn
{
    uint64_t id;
    int fd;
    char addr[64]; /* "ip:port" */
    char ip[48];
    struct coord_buf out;
    size_t out_off;
    uint8_t first[4]; /* The first bytes, to spot a four-letter word. */
    size_t first_len;
    bool decided;   /* Four-letter word or not: known. */
    bool in_core;   /* CONN_OPEN was delivered to the server. */
    bool closing;   /* Close once the output is flushed. */
    bool gone;      /* The fd is closed; free at the end of the iteration. */
    bool want_out;  /* EPOLLOUT registered. */
    bool lingering; /* Output done and write side shut: draining input until EOF. */
    int64_t linger_until_ms;
    bool on_dirty;
    struct real_conn *dirty_next;
    uint64_t received;
    uint64_t sent;
};

int64_t real_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t real_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- stepping the core ------------------------------------------------------ */

static void loop_fatal(struct real_loop *l, const char *what, int rc)
{
    REAL_ERROR("server stopped: %s: %s", what, coord_strerror(rc));
    l->stopping = true;
    l->exit_code = 1;
}

static void loop_step(struct real_loop *l, struct coord_event *ev)
{
    if (!l->server_ready || l->stopping) {
        return;
    }
    ev->now_ms = real_now_ms();
    ev->wall_ms = real_wall_ms();
    int rc = coord_server_step(&l->server, ev);
    if (rc != COORD_OK) {
        loop_fatal(l, "coord_server_step", rc);
    }
}

/* ---- connections ------------------------------------------------------------- */

static void mark_dirty(struct real_loop *l, struct real_conn *c)
{
    if (!c->on_dirty) {
        c->on_dirty = true;
        c->dirty_next = l->dirty;
        l->dirty = c;
    }
}

static void conn_note_closed(struct real_loop *l, struct real_conn *c)
{
    if (!c->in_core) {
        return;
    }
    c->in_core = false;
    if (l->closed_count == l->closed_cap) {
        size_t cap = l->closed_cap == 0 ? 16 : l->closed_cap * 2;
        uint64_t *v = realloc(l->closed, cap * sizeof *v);
        if (v == NULL) {
            loop_fatal(l, "out of memory", COORD_ENOMEM);
            return;
        }
        l->closed = v;
        l->closed_cap = cap;
    }
    l->closed[l->closed_count++] = c->id;
}

/* Close the socket now (the struct lives until the end of the iteration). */
static void conn_drop(struct real_loop *l, struct real_conn *c)
{
    if (c->gone) {
        return;
    }
    c->gone = true;
    if (c->lingering) {
        l->lingering--;
    }
    epoll_ctl(l->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    conn_note_closed(l, c);
    mark_dirty(l, c);
}

static void conn_free(struct real_loop *l, struct real_conn *c)
{
    coord_u64map_del(&l->conns, c->id);
    coord_buf_free(&c->out);
    free(c);
}

static void conn_flush(struct real_loop *l, struct real_conn *c)
{
    while (!c->gone && c->out_off < c->out.len) {
        ssize_t n = write(c->fd, c->out.data + c->out_off, c->out.len - c->out_off);
        if (n > 0) {
            c->out_off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!c->want_out) {
                struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.u64 = c->id};
                epoll_ctl(l->epfd, EPOLL_CTL_MOD, c->fd, &ev);
                c->want_out = true;
            }
            return;
        }
        REAL_DEBUG("connection %s: write failed: %s", c->addr, strerror(errno));
        conn_drop(l, c);
        return;
    }
    if (c->gone) {
        return;
    }
    coord_buf_reset(&c->out);
    c->out_off = 0;
    if (c->want_out) {
        struct epoll_event ev = {.events = EPOLLIN, .data.u64 = c->id};
        epoll_ctl(l->epfd, EPOLL_CTL_MOD, c->fd, &ev);
        c->want_out = false;
    }
    if (c->closing && !c->lingering) {
        /* Lingering close: shut our side, then read until the client closes
         * (or a deadline). Closing at once while the client's next bytes sit
         * unread would make the kernel send RST, and a client that has not
         * yet read our last reply (an AUTHFAILED, a closeSession answer)
         * would lose it. */
        shutdown(c->fd, SHUT_WR);
        c->lingering = true;
        c->linger_until_ms = real_now_ms() + LOOP_LINGER_MS;
        l->lingering++;
        conn_note_closed(l, c); /* For the core the connection is gone now. */
    }
}

static void linger_expire(struct real_loop *l)
{
    if (l->lingering == 0) {
        return;
    }
    int64_t now = real_now_ms();
    size_t pos = 0;
    uint64_t key;
    void *value;
    while (coord_u64map_next(&l->conns, &pos, &key, &value)) {
        struct real_conn *c = value;
        if (c->lingering && !c->gone && now >= c->linger_until_ms) {
            conn_drop(l, c);
        }
    }
}

static void flush_dirty(struct real_loop *l)
{
    while (l->dirty != NULL) {
        struct real_conn *c = l->dirty;
        l->dirty = c->dirty_next;
        c->on_dirty = false;
        if (!c->gone) {
            conn_flush(l, c);
        }
        if (c->gone && !c->on_dirty) {
            conn_free(l, c);
        }
    }
}

static void deliver_closed(struct real_loop *l)
{
    /* Reporting a closure can make the core write or close other
     * connections, which may add closures: loop until none are left. */
    while (l->closed_count > 0) {
        uint64_t id = l->closed[--l->closed_count];
        struct coord_event ev = {.type = COORD_EVENT_CONN_CLOSED, .conn = id};
        loop_step(l, &ev);
    }
}

/* ---- env methods (they only enqueue) ------------------------------------------- */

static void env_conn_write(void *ctx, uint64_t conn, const void *buf, size_t len)
{
    struct real_loop *l = ctx;
    struct real_conn *c = coord_u64map_get(&l->conns, conn);
    if (c == NULL || c->gone || c->closing) {
        return;
    }
    coord_buf_put(&c->out, buf, len);
    c->sent++;
    if (c->out.failed || c->out.len - c->out_off > l->out_max_bytes) {
        /* A reader that lets its output pile up is cut off, so it cannot
         * make the server buffer without bound. */
        REAL_WARN("connection %s: %zu bytes unread: disconnecting", c->addr,
                  c->out.len - c->out_off);
        conn_drop(l, c);
        return;
    }
    mark_dirty(l, c);
}

static void env_conn_close(void *ctx, uint64_t conn)
{
    struct real_loop *l = ctx;
    struct real_conn *c = coord_u64map_get(&l->conns, conn);
    if (c == NULL || c->gone) {
        return;
    }
    c->closing = true;
    mark_dirty(l, c);
}

static void env_peer_send(void *ctx, coord_id to, const void *msg, size_t len)
{
    struct real_loop *l = ctx;
    if (l->peers_on) {
        real_peers_send(&l->peers, to, msg, len); /* Queued: written before the next wait. */
    }
}

static void env_log_append(void *ctx, const void *rec, size_t len, uint64_t token)
{
    struct real_loop *l = ctx;
    real_disk_append(l->disk, rec, len, token);
}

static void env_log_truncate(void *ctx, coord_zxid last_kept)
{
    struct real_loop *l = ctx;
    real_disk_truncate(l->disk, last_kept);
}

static void env_snapshot_write(void *ctx, const void *buf, size_t len, coord_zxid zxid)
{
    struct real_loop *l = ctx;
    real_disk_snapshot(l->disk, buf, len, zxid);
}

static void env_meta_write(void *ctx, const void *buf, size_t len, uint64_t token)
{
    struct real_loop *l = ctx;
    real_disk_meta(l->disk, buf, len, token);
}

static void env_wake_at(void *ctx, coord_time_ms deadline_ms)
{
    struct real_loop *l = ctx;
    l->wake_ms = deadline_ms;
}

static const char *role_word(int64_t role)
{
    switch (role) {
        case COORD_ROLE_LEADING:
            return "leading";
        case COORD_ROLE_FOLLOWING:
            return "following";
        case COORD_ROLE_OBSERVING:
            return "observing";
        case COORD_ROLE_LOOKING:
            return "looking";
        default:
            return "standalone";
    }
}

static void trace_role(struct real_loop *l, const struct coord_trace *ev)
{
    l->leading_since_ms = ev->a == COORD_ROLE_LEADING ? real_now_ms() : 0;
    if (ev->a == COORD_ROLE_LOOKING) {
        REAL_INFO("role: looking (%.*s)", (int)ev->text_len, ev->text != NULL ? ev->text : "");
    } else {
        REAL_INFO("role: %s, epoch %lld, leader %lld%s%.*s", role_word(ev->a), (long long)ev->b,
                  (long long)ev->c, ev->text_len > 0 ? ": " : "", (int)ev->text_len,
                  ev->text != NULL ? ev->text : "");
    }
}

static void env_trace(void *ctx, const struct coord_trace *ev)
{
    struct real_loop *l = ctx;
    switch (ev->type) {
        case COORD_TRACE_SESSION_CREATED:
            REAL_DEBUG("session 0x%llx created, timeout %lld ms", (unsigned long long)ev->a,
                       (long long)ev->b);
            break;
        case COORD_TRACE_SESSION_EXPIRED:
            REAL_INFO("session 0x%llx expired", (unsigned long long)ev->a);
            break;
        case COORD_TRACE_SESSION_CLOSED:
            REAL_DEBUG("session 0x%llx closed", (unsigned long long)ev->a);
            break;
        case COORD_TRACE_SNAPSHOT:
            REAL_INFO("snapshot at zxid 0x%llx, %lld bytes", (unsigned long long)ev->a,
                      (long long)ev->b);
            break;
        case COORD_TRACE_RECOVERED:
            if (ev->c > ev->a) {
                /* Quorum mode: the log's tail waits for a leader's word. */
                REAL_INFO(
                    "recovered: state at zxid 0x%llx, log up to zxid 0x%llx (%lld records "
                    "kept until a leader says what is committed)",
                    (unsigned long long)ev->a, (unsigned long long)ev->c, (long long)ev->b);
            } else {
                REAL_INFO("recovered to zxid 0x%llx (%lld log records replayed)",
                          (unsigned long long)ev->a, (long long)ev->b);
            }
            break;
        case COORD_TRACE_CONN_REJECTED:
            REAL_DEBUG("connection %llu closed by the server: %.*s", (unsigned long long)ev->a,
                       (int)ev->text_len, ev->text != NULL ? ev->text : "");
            break;
        case COORD_TRACE_ROLE:
            trace_role(l, ev);
            break;
        case COORD_TRACE_ELECTION:
            REAL_INFO("election: voting for server %lld (zxid 0x%llx, epoch %lld)",
                      (long long)ev->a, (unsigned long long)ev->b, (long long)ev->c);
            break;
        case COORD_TRACE_SYNC:
            REAL_INFO("syncing server %lld by %s: its last zxid 0x%llx, from 0x%llx",
                      (long long)ev->a, ev->b == 0 ? "DIFF" : (ev->b == 1 ? "TRUNC" : "SNAP"),
                      (unsigned long long)ev->c, (unsigned long long)ev->d);
            break;
        case COORD_TRACE_TRUNCATED:
            REAL_INFO("log truncated after zxid 0x%llx (%lld records dropped)",
                      (unsigned long long)ev->a, (long long)ev->b);
            break;
        default:
            break;
    }
}

/* ---- accepting and reading --------------------------------------------------------- */

static size_t conns_from_ip(struct real_loop *l, const char *ip)
{
    size_t n = 0, pos = 0;
    uint64_t key;
    void *value;
    while (coord_u64map_next(&l->conns, &pos, &key, &value)) {
        const struct real_conn *c = value;
        if (!c->gone && strcmp(c->ip, ip) == 0) {
            n++;
        }
    }
    return n;
}

static void accept_all(struct real_loop *l)
{
    for (;;) {
        struct sockaddr_storage sa;
        socklen_t sl = sizeof sa;
        int fd = accept4(l->listen_fd, (struct sockaddr *)&sa, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                REAL_WARN("accept: %s", strerror(errno));
            }
            return;
        }
        char ip[48] = "?";
        unsigned port = 0;
        if (sa.ss_family == AF_INET) {
            struct sockaddr_in *in = (struct sockaddr_in *)&sa;
            inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip);
            port = ntohs(in->sin_port);
        } else if (sa.ss_family == AF_INET6) {
            struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&sa;
            inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip);
            port = ntohs(in6->sin6_port);
        }
        int max = l->cfg->max_client_cnxns;
        if (max > 0 && conns_from_ip(l, ip) >= (size_t)max) {
            REAL_WARN("too many connections from %s (max %d): refused", ip, max);
            close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct real_conn *c = calloc(1, sizeof *c);
        if (c == NULL) {
            close(fd);
            continue;
        }
        c->id = l->next_conn_id++;
        c->fd = fd;
        snprintf(c->ip, sizeof c->ip, "%s", ip);
        snprintf(c->addr, sizeof c->addr, "%s:%u", ip, port);
        coord_buf_init(&c->out);
        struct epoll_event ev = {.events = EPOLLIN, .data.u64 = c->id};
        if (coord_u64map_put(&l->conns, c->id, c) != COORD_OK ||
            epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
            coord_u64map_del(&l->conns, c->id);
            close(fd);
            free(c);
            continue;
        }
        REAL_DEBUG("connection %s accepted", c->addr);
    }
}

/* Hand bytes to the core, telling it about the connection first. */
static void conn_feed(struct real_loop *l, struct real_conn *c, const uint8_t *data, size_t len)
{
    if (!c->in_core) {
        struct coord_event open = {.type = COORD_EVENT_CONN_OPEN, .conn = c->id};
        open.data = c->ip;
        open.len = strlen(c->ip);
        c->in_core = true;
        loop_step(l, &open);
    }
    if (len > 0 && !c->gone && !c->closing) {
        struct coord_event ev = {.type = COORD_EVENT_CONN_DATA, .conn = c->id};
        ev.data = data;
        ev.len = len;
        loop_step(l, &ev);
    }
}

static void conn_readable(struct real_loop *l, struct real_conn *c)
{
    uint8_t buf[LOOP_READ_CHUNK];
    for (int rounds = 0; rounds < 16 && !c->gone; rounds++) {
        ssize_t n = read(c->fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return;
        }
        if (n == 0 && c->lingering) {
            conn_drop(l, c); /* The client closed its side too: done. */
            return;
        }
        if (n == 0 && c->closing) {
            /* The client half-closed a connection we are closing anyway (a
             * four-letter word from zktop, a closeSession): stop reading, and
             * let what we still owe it go out before the close. */
            struct epoll_event ev = {.events = c->want_out ? EPOLLOUT : 0, .data.u64 = c->id};
            epoll_ctl(l->epfd, EPOLL_CTL_MOD, c->fd, &ev);
            mark_dirty(l, c);
            return;
        }
        if (n <= 0) {
            conn_drop(l, c); /* EOF or reset: the core hears CONN_CLOSED. */
            return;
        }
        if (c->closing) {
            continue; /* We are closing it: drain and ignore what else it sends. */
        }
        c->received++;
        const uint8_t *p = buf;
        size_t left = (size_t)n;
        if (!c->decided) {
            size_t take = COORD_MIN(left, 4 - c->first_len);
            memcpy(c->first + c->first_len, p, take);
            c->first_len += take;
            p += take;
            left -= take;
            if (c->first_len < 4) {
                continue;
            }
            c->decided = true;
            char word[5];
            if (coord_wire_is_4lw(c->first, word)) {
                struct coord_buf out;
                coord_buf_init(&out);
                real_admin_answer(l, word, &out);
                if (out.len > 0) {
                    coord_buf_put(&c->out, out.data, out.len);
                }
                coord_buf_free(&out);
                c->closing = true;
                mark_dirty(l, c);
                continue;
            }
            conn_feed(l, c, c->first, 4);
        }
        if (left > 0) {
            conn_feed(l, c, p, left);
        }
    }
}

/* ---- setup --------------------------------------------------------------------------- */

static int open_listener(struct real_loop *l)
{
    const char *host = l->cfg->client_host[0] != '\0' ? l->cfg->client_host : "0.0.0.0";
    struct sockaddr_storage sa;
    socklen_t sl;
    memset(&sa, 0, sizeof sa);
    struct sockaddr_in *in = (struct sockaddr_in *)&sa;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&sa;
    if (inet_pton(AF_INET, host, &in->sin_addr) == 1) {
        in->sin_family = AF_INET;
        in->sin_port = htons(l->cfg->client_port);
        sl = sizeof *in;
    } else if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(l->cfg->client_port);
        sl = sizeof *in6;
    } else if (strcmp(host, "localhost") == 0) {
        in->sin_family = AF_INET;
        in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        in->sin_port = htons(l->cfg->client_port);
        sl = sizeof *in;
    } else {
        snprintf(l->errmsg, sizeof l->errmsg,
                 "clientPortAddress %s: not a numeric address (use an IP address)", host);
        return -1;
    }
    int fd = socket(sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(l->errmsg, sizeof l->errmsg, "socket: %s", strerror(errno));
        return -1;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&sa, sl) != 0 || listen(fd, 1024) != 0) {
        snprintf(l->errmsg, sizeof l->errmsg, "cannot listen on %s:%u: %s", host,
                 l->cfg->client_port, strerror(errno));
        close(fd);
        return -1;
    }
    l->listen_fd = fd;
    return 0;
}

static int add_fd(struct real_loop *l, int fd, uint64_t tag)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = tag};
    return epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev);
}

/* Quorum mode: listen for the other servers and start dialing them. */
static int start_peers(struct real_loop *l)
{
    const struct real_config *cfg = l->cfg;
    struct real_peer_addr *members = calloc(cfg->server_count, sizeof *members);
    if (members == NULL) {
        snprintf(l->errmsg, sizeof l->errmsg, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < cfg->server_count; i++) {
        const struct real_server_entry *e = &cfg->servers[i];
        members[i].id = e->id;
        snprintf(members[i].host, sizeof members[i].host, "%s", e->host);
        members[i].peer_port = e->peer_port;
        members[i].election_port = e->election_port;
    }
    char err[400] = "";
    int rc = real_peers_init(&l->peers, l->epfd, cfg->server_id, members, cfg->server_count,
                             cfg->quorum_listen_on_all_ips, err, sizeof err);
    free(members);
    l->peers_on = true; /* Even on failure: real_peers_close releases what was opened. */
    if (rc != 0) {
        snprintf(l->errmsg, sizeof l->errmsg, "peer transport: %s", err);
        return -1;
    }
    return 0;
}

int real_loop_init(struct real_loop *l,
                   struct real_config *cfg,
                   struct real_disk *disk,
                   const struct coord_storage *storage,
                   uint64_t seed)
{
    memset(l, 0, sizeof *l);
    l->cfg = cfg;
    l->disk = disk;
    l->listen_fd = -1;
    l->signal_fd = -1;
    l->next_conn_id = TAG_FIRST_CONN;
    l->wake_ms = INT64_MAX;
    l->out_max_bytes =
        cfg->client_out_max_bytes > 0 ? cfg->client_out_max_bytes : LOOP_OUT_MAX_DEFAULT;
    l->started_ms = real_wall_ms();
    coord_u64map_init(&l->conns);
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (l->epfd < 0) {
        snprintf(l->errmsg, sizeof l->errmsg, "epoll_create1: %s", strerror(errno));
        return -1;
    }
    signal(SIGPIPE, SIG_IGN);
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    l->signal_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    if (l->signal_fd < 0 || add_fd(l, l->signal_fd, TAG_SIGNAL) != 0 ||
        add_fd(l, real_disk_notify_fd(disk), TAG_DISK) != 0) {
        snprintf(l->errmsg, sizeof l->errmsg, "signalfd/epoll: %s", strerror(errno));
        return -1;
    }
    if (!cfg->standalone && start_peers(l) != 0) {
        return -1;
    }
    struct coord_env env = {
        .ctx = l,
        .peer_send = env_peer_send,
        .conn_write = env_conn_write,
        .conn_close = env_conn_close,
        .log_append = env_log_append,
        .log_truncate = env_log_truncate,
        .snapshot_write = env_snapshot_write,
        .meta_write = env_meta_write,
        .wake_at = env_wake_at,
        .trace = env_trace,
    };
    char err[200] = "";
    int rc = coord_server_init(&l->server, &cfg->core, seed, &env, storage, err, sizeof err);
    if (rc != COORD_OK) {
        snprintf(l->errmsg, sizeof l->errmsg, "cannot recover the server state: %s (%s)", err,
                 coord_strerror(rc));
        return -1;
    }
    l->server_ready = true;
    if (open_listener(l) != 0 || add_fd(l, l->listen_fd, TAG_LISTEN) != 0) {
        if (l->errmsg[0] == '\0') {
            snprintf(l->errmsg, sizeof l->errmsg, "epoll_ctl: %s", strerror(errno));
        }
        return -1;
    }
    return 0;
}

static void on_synced(struct real_loop *l)
{
    uint64_t token;
    while (real_disk_take_synced(l->disk, &token)) {
        struct coord_event ev = {.type = COORD_EVENT_SYNCED, .token = token};
        loop_step(l, &ev);
    }
}

static void on_signal(struct real_loop *l)
{
    struct signalfd_siginfo si;
    while (read(l->signal_fd, &si, sizeof si) == (ssize_t)sizeof si) {
        REAL_INFO("signal %u: shutting down", si.ssi_signo);
        l->stopping = true;
    }
}

/* Hand the core what the peer transport queued, one event per step. */
static void deliver_peer_events(struct real_loop *l)
{
    if (!l->peers_on) {
        return;
    }
    struct real_peer_event pe;
    while (!l->stopping && real_peers_next_event(&l->peers, &pe)) {
        struct coord_event ev = {.type = pe.type, .peer = pe.peer, .data = pe.data, .len = pe.len};
        loop_step(l, &ev);
    }
    if (l->peers.failed) {
        loop_fatal(l, "peer transport", COORD_ENOMEM);
    }
}

/* Deliver what is queued for the core and write what it produced, until
 * neither side has anything left (a failed write may queue a closure). */
static void loop_settle(struct real_loop *l)
{
    do {
        deliver_peer_events(l);
        deliver_closed(l);
        flush_dirty(l);
        deliver_closed(l);
        if (l->peers_on) {
            real_peers_flush(&l->peers);
        }
    } while (!l->stopping &&
             (l->closed_count > 0 || (l->peers_on && real_peers_has_events(&l->peers))));
}

static int wait_timeout(const struct real_loop *l)
{
    int64_t deadline = l->wake_ms;
    if (l->peers_on) {
        int64_t peers = real_peers_next_deadline(&l->peers);
        deadline = peers < deadline ? peers : deadline;
    }
    if (deadline == INT64_MAX) {
        return 1000;
    }
    int64_t wait = deadline - real_now_ms();
    return wait <= 0 ? 0 : (wait < 1000 ? (int)wait : 1000);
}

int real_loop_run(struct real_loop *l)
{
    struct epoll_event events[256];
    REAL_INFO("serving clients on %s:%u", l->cfg->client_host[0] ? l->cfg->client_host : "0.0.0.0",
              l->cfg->client_port);
    while (!l->stopping) {
        loop_settle(l);
        if (l->stopping) {
            break;
        }
        int timeout = wait_timeout(l);
        int n = epoll_wait(l->epfd, events, 256, timeout);
        if (n < 0 && errno != EINTR) {
            REAL_ERROR("epoll_wait: %s", strerror(errno));
            l->exit_code = 1;
            break;
        }
        for (int i = 0; i < n && !l->stopping; i++) {
            uint64_t tag = events[i].data.u64;
            if (tag == TAG_LISTEN) {
                accept_all(l);
            } else if (tag == TAG_SIGNAL) {
                on_signal(l);
            } else if (tag == TAG_DISK) {
                on_synced(l);
            } else if (tag & REAL_PEER_TAG_BIT) {
                real_peers_handle(&l->peers, tag, events[i].events);
                deliver_peer_events(l);
            } else {
                struct real_conn *c = coord_u64map_get(&l->conns, tag);
                if (c == NULL || c->gone) {
                    continue;
                }
                if (events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
                    conn_readable(l, c);
                }
                if (!c->gone && (events[i].events & EPOLLOUT)) {
                    mark_dirty(l, c);
                }
            }
        }
        linger_expire(l);
        if (l->peers_on) {
            real_peers_tick(&l->peers, real_now_ms());
            deliver_peer_events(l);
        }
        if (real_disk_failed(l->disk)) {
            REAL_ERROR("storage failed: %s", real_disk_error(l->disk));
            l->exit_code = 1;
            break;
        }
        if (l->wake_ms != INT64_MAX && real_now_ms() >= l->wake_ms) {
            l->wake_ms = INT64_MAX;
            struct coord_event ev = {.type = COORD_EVENT_TIMEOUT};
            loop_step(l, &ev);
        }
    }
    flush_dirty(l);
    return l->exit_code;
}

void real_loop_close(struct real_loop *l)
{
    size_t pos = 0;
    uint64_t key;
    void *value;
    while (coord_u64map_next(&l->conns, &pos, &key, &value)) {
        struct real_conn *c = value;
        if (c->fd >= 0) {
            close(c->fd);
        }
        coord_buf_free(&c->out);
        free(c);
    }
    coord_u64map_free(&l->conns);
    if (l->peers_on) {
        real_peers_close(&l->peers);
        l->peers_on = false;
    }
    if (l->server_ready) {
        coord_server_close(&l->server);
        l->server_ready = false;
    }
    if (l->listen_fd >= 0) {
        close(l->listen_fd);
    }
    if (l->signal_fd >= 0) {
        close(l->signal_fd);
    }
    if (l->epfd >= 0) {
        close(l->epfd);
    }
    free(l->closed);
}

void real_loop_foreach_conn(struct real_loop *l,
                            void (*cb)(void *arg, const struct real_conn_info *),
                            void *arg)
{
    size_t pos = 0;
    uint64_t key;
    void *value;
    while (coord_u64map_next(&l->conns, &pos, &key, &value)) {
        const struct real_conn *c = value;
        if (c->gone || !c->in_core) {
            continue;
        }
        struct real_conn_info info;
        memset(&info, 0, sizeof info);
        info.id = c->id;
        snprintf(info.addr, sizeof info.addr, "%s", c->addr);
        info.received = c->received;
        info.sent = c->sent;
        info.queued_bytes = c->out.len - c->out_off;
        cb(arg, &info);
    }
}

size_t real_loop_conn_count(const struct real_loop *l)
{
    size_t n = 0, pos = 0;
    uint64_t key;
    void *value;
    while (coord_u64map_next(&l->conns, &pos, &key, &value)) {
        const struct real_conn *c = value;
        if (!c->gone && c->in_core) {
            n++;
        }
    }
    return n;
}
