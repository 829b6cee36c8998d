/* coordctl: a command-line client for coord (or any ZooKeeper server).
 *
 *   coordctl -s host:port[,host:port...] [-t timeout_ms] [-a scheme:cred] [COMMAND ARGS]
 *
 * The protocol is protocol/client.c, the pure client core; this file is its
 * host: one TCP connection at a time over non-blocking sockets and poll(),
 * CLOCK_MONOTONIC for the core's clock, and the command line around it.
 *
 * With a command, it runs that one command and exits. Without one, it reads
 * commands from stdin, one per line, with the same syntax (a prompt only when
 * stdin is a terminal), until EOF or `quit`; watch events set with -w are
 * printed as they come, as `EVENT_TYPE path`.
 *
 * Exit status: 0 ok; 1 a ZooKeeper error (`coordctl: <path>: <NAME>` on
 * stderr, NAME as in NONODE); 2 a usage error; 3 connection failure (no
 * server reachable for timeout_ms, or the connection lost under a request).
 * In interactive mode, the status is the last command's. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "coord/client.h"

#define EXIT_ZK 1
#define EXIT_USAGE 2
#define EXIT_CONN 3

#define CTL_AUTH_TAG (UINT64_C(1) << 63) /* Tags of credentials; requests count from 1. */
#define CTL_ARGS_MAX 64
#define CTL_EVENTS_MAX 256
#define CTL_CLOSE_WAIT_MS 2000

_Noreturn void coord_panic(const char *file, int line, const char *expr)
{
    fprintf(stderr, "coordctl: internal error: assertion failed at %s:%d: %s\n", file, line, expr);
    abort();
}

static const char usage_text[] =
    "usage: coordctl -s host:port[,host:port...] [-t timeout_ms] [-a scheme:cred] [COMMAND ARGS]\n"
    "commands:\n"
    "  create [-e] [-s] [-c] [-t ttl] path [data]   print the created path\n"
    "  get [-w] path                                data to stdout, raw\n"
    "  set [-v version] path data\n"
    "  ls [-w] path                                 one child per line, sorted\n"
    "  stat path\n"
    "  rm [-v version] path\n"
    "  rmr path                                     delete a subtree, children first\n"
    "  watch path                                   wait for one event: EVENT_TYPE path\n"
    "  getacl path                                  one scheme:id:perms per line\n"
    "  setacl [-v version] path acl                 acl: world:anyone:cdrwa,digest:u:h:r\n"
    "  exists path\n"
    "  sync path\n"
    "  whoami                                       one scheme:user per line\n"
    "With -w, get and ls then wait for the watch and print EVENT_TYPE path.\n"
    "Without a command, commands are read from stdin until EOF or quit.\n"
    "Exit status: 0 ok, 1 ZooKeeper error, 2 usage error, 3 connection failure.\n";

/* ---- what a request came to (copied out of the completion) ------------------- */

struct ctl_acl
{
    int32_t perms;
    char *scheme;
    char *id;
};

struct ctl_result
{
    bool done;
    int err;
    bool has_stat;
    struct coord_stat stat;
    char *path;
    uint8_t *data;
    int32_t data_len; /* -1 = null */
    char **items;     /* Children, ephemerals, or whoAmI's scheme, user, scheme, user... */
    size_t item_count;
    struct ctl_acl *acl;
    size_t acl_count;
};

struct ctl_event
{
    int32_t type;
    char *path;
};

struct ctl_server
{
    char host[256];
    char port[32];
};

struct ctl
{
    struct ctl_server *servers;
    size_t server_count;
    int32_t timeout_ms;
    struct coord_client client;
    bool started;
    /* The one connection. */
    int fd;
    bool connecting;
    struct addrinfo *ai_list;
    struct addrinfo *ai_next;
    /* What the core asked for during its last call. */
    bool want_close;
    bool want_connect;
    uint32_t connect_index;
    bool connect_failed;
    uint8_t *out;
    size_t out_len;
    size_t out_cap;
    int64_t wake_ms;
    int64_t disconnected_ms; /* When the client last stopped being connected. */
    /* Results. */
    uint64_t next_tag;
    uint64_t waiting_tag;
    struct ctl_result *waiting;
    struct ctl_event events[CTL_EVENTS_MAX];
    size_t event_count;
    bool interactive;
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n == 0 ? 1 : n);
    if (p == NULL) {
        fprintf(stderr, "coordctl: out of memory\n");
        exit(EXIT_FAILURE);
    }
    return p;
}

static char *xstrndup(const char *s, size_t n)
{
    char *p = xmalloc(n + 1);
    if (n > 0) {
        memcpy(p, s, n);
    }
    p[n] = '\0';
    return p;
}

static char *str_dup(struct coord_str s)
{
    return xstrndup(s.ptr, s.len < 0 ? 0 : (size_t)s.len);
}

/* "NONODE" for COORD_ENONODE. */
static const char *err_name(int err)
{
    const char *name = coord_errname(err);
    if (name == NULL) {
        return "UNKNOWN";
    }
    if (strncmp(name, "COORD_E", 7) == 0) {
        return name + 7;
    }
    return name + 6; /* COORD_OK */
}

static const char *event_name(int32_t type)
{
    switch (type) {
        case COORD_EV_CREATED:
            return "NodeCreated";
        case COORD_EV_DELETED:
            return "NodeDeleted";
        case COORD_EV_DATA_CHANGED:
            return "NodeDataChanged";
        case COORD_EV_CHILDREN_CHANGED:
            return "NodeChildrenChanged";
        default:
            return "None";
    }
}

static void result_free(struct ctl_result *r)
{
    free(r->path);
    free(r->data);
    for (size_t i = 0; i < r->item_count; i++) {
        free(r->items[i]);
    }
    free(r->items);
    for (size_t i = 0; i < r->acl_count; i++) {
        free(r->acl[i].scheme);
        free(r->acl[i].id);
    }
    free(r->acl);
    memset(r, 0, sizeof *r);
}

static void copy_strvec(struct ctl_result *r, const struct coord_strvec *v)
{
    if (v->count <= 0) {
        return;
    }
    r->items = xmalloc((size_t)v->count * sizeof *r->items);
    struct coord_strvec_iter it;
    struct coord_str s;
    coord_strvec_iter_init(&it, v);
    while (coord_strvec_next(&it, &s)) {
        r->items[r->item_count++] = str_dup(s);
    }
}

static void copy_result(struct ctl_result *r, const struct coord_client_result *res)
{
    r->done = true;
    r->err = res->err;
    r->has_stat = res->has_stat;
    r->stat = res->stat;
    if (res->path.ptr != NULL) {
        r->path = str_dup(res->path);
    }
    r->data_len = res->data_len;
    if (res->data_len >= 0) {
        r->data = xmalloc((size_t)res->data_len);
        memcpy(r->data, res->data, (size_t)res->data_len);
    }
    copy_strvec(r, res->children.count > 0 ? &res->children : &res->idents);
    if (res->acl_count > 0) {
        r->acl = xmalloc((size_t)res->acl_count * sizeof *r->acl);
        for (int32_t i = 0; i < res->acl_count; i++) {
            r->acl[i].perms = res->acl[i].perms;
            r->acl[i].scheme = str_dup(res->acl[i].ident.scheme);
            r->acl[i].id = str_dup(res->acl[i].ident.id);
        }
        r->acl_count = (size_t)res->acl_count;
    }
}

/* ---- the client env ------------------------------------------------------------ */

static void env_connect(void *ctx, uint32_t index)
{
    struct ctl *ctl = ctx;
    ctl->want_connect = true;
    ctl->connect_index = index;
}

static void env_write(void *ctx, const void *buf, size_t len)
{
    struct ctl *ctl = ctx;
    if (ctl->out_len + len > ctl->out_cap) {
        size_t cap = ctl->out_cap == 0 ? 4096 : ctl->out_cap;
        while (cap < ctl->out_len + len) {
            cap *= 2;
        }
        uint8_t *p = realloc(ctl->out, cap);
        if (p == NULL) {
            fprintf(stderr, "coordctl: out of memory\n");
            exit(EXIT_FAILURE);
        }
        ctl->out = p;
        ctl->out_cap = cap;
    }
    memcpy(ctl->out + ctl->out_len, buf, len);
    ctl->out_len += len;
}

static void env_close(void *ctx)
{
    struct ctl *ctl = ctx;
    ctl->want_close = true;
}

static void env_wake_at(void *ctx, coord_time_ms deadline)
{
    struct ctl *ctl = ctx;
    ctl->wake_ms = deadline;
}

static void env_complete(void *ctx, const struct coord_client_result *res)
{
    struct ctl *ctl = ctx;
    if ((res->tag & CTL_AUTH_TAG) != 0) {
        if (res->err != COORD_OK) {
            fprintf(stderr, "coordctl: auth: %s\n", err_name(res->err));
        }
        return;
    }
    if (ctl->waiting != NULL && res->tag == ctl->waiting_tag) {
        copy_result(ctl->waiting, res);
    }
}

static void env_watch(void *ctx, const struct coord_watcher_event *ev)
{
    struct ctl *ctl = ctx;
    if (ev->type == COORD_EV_NONE) {
        if (ev->state == COORD_KEEPER_EXPIRED) {
            fprintf(stderr, "coordctl: session expired\n");
        }
        return;
    }
    if (ctl->event_count == CTL_EVENTS_MAX) {
        return; /* Nobody is reading them: keep the oldest. */
    }
    struct ctl_event *e = &ctl->events[ctl->event_count++];
    e->type = ev->type;
    e->path = str_dup(ev->path);
}

/* ---- the connection --------------------------------------------------------------- */

static void conn_close(struct ctl *ctl)
{
    if (ctl->fd >= 0) {
        close(ctl->fd);
    }
    ctl->fd = -1;
    ctl->connecting = false;
    ctl->out_len = 0;
    if (ctl->ai_list != NULL) {
        freeaddrinfo(ctl->ai_list);
    }
    ctl->ai_list = ctl->ai_next = NULL;
}

/* Start a non-blocking connect to the next address left; false when none is. */
static bool conn_try_next(struct ctl *ctl)
{
    while (ctl->ai_next != NULL) {
        struct addrinfo *ai = ctl->ai_next;
        ctl->ai_next = ai->ai_next;
        if (ctl->fd >= 0) {
            close(ctl->fd);
        }
        ctl->fd =
            socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (ctl->fd < 0) {
            continue;
        }
        int one = 1;
        setsockopt(ctl->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (connect(ctl->fd, ai->ai_addr, ai->ai_addrlen) == 0 || errno == EINPROGRESS) {
            ctl->connecting = true;
            return true;
        }
        close(ctl->fd);
        ctl->fd = -1;
    }
    return false;
}

static void conn_start(struct ctl *ctl, uint32_t index)
{
    conn_close(ctl);
    const struct ctl_server *sv = &ctl->servers[index];
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(sv->host, sv->port, &hints, &ctl->ai_list) != 0) {
        ctl->ai_list = NULL;
    }
    ctl->ai_next = ctl->ai_list;
    if (!conn_try_next(ctl)) {
        conn_close(ctl);
        ctl->connect_failed = true;
    }
}

static void conn_flush(struct ctl *ctl)
{
    size_t off = 0;
    while (off < ctl->out_len) {
        ssize_t n = send(ctl->fd, ctl->out + off, ctl->out_len - off, MSG_NOSIGNAL);
        if (n <= 0) {
            break; /* EAGAIN: later. Errors show up as a failed read. */
        }
        off += (size_t)n;
    }
    memmove(ctl->out, ctl->out + off, ctl->out_len - off);
    ctl->out_len -= off;
}

/* Carry out what the core asked for, and report what follows from it. */
static void ctl_actions(struct ctl *ctl)
{
    for (;;) {
        if (ctl->want_close) {
            ctl->want_close = false;
            if (ctl->fd >= 0 && !ctl->connecting) {
                conn_flush(ctl);
            }
            conn_close(ctl);
            continue;
        }
        if (ctl->want_connect) {
            ctl->want_connect = false;
            conn_start(ctl, ctl->connect_index);
            continue;
        }
        if (ctl->connect_failed) {
            ctl->connect_failed = false;
            coord_client_on_closed(&ctl->client, now_ms());
            continue;
        }
        break;
    }
    if (ctl->fd >= 0 && !ctl->connecting && ctl->out_len > 0) {
        conn_flush(ctl);
    }
    if (ctl->client.state != COORD_CLIENT_CONNECTED && ctl->disconnected_ms == 0) {
        ctl->disconnected_ms = now_ms();
    } else if (ctl->client.state == COORD_CLIENT_CONNECTED) {
        ctl->disconnected_ms = 0;
    }
}

static void conn_lost(struct ctl *ctl)
{
    conn_close(ctl);
    coord_client_on_closed(&ctl->client, now_ms());
}

static void conn_on_writable(struct ctl *ctl)
{
    if (!ctl->connecting) {
        conn_flush(ctl);
        return;
    }
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(ctl->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) {
        err = errno;
    }
    if (err == 0) {
        ctl->connecting = false;
        coord_client_on_connected(&ctl->client, now_ms());
        return;
    }
    if (!conn_try_next(ctl)) {
        conn_lost(ctl);
    }
}

static void conn_on_readable(struct ctl *ctl)
{
    uint8_t buf[65536];
    ssize_t n = recv(ctl->fd, buf, sizeof buf, 0);
    if (n > 0) {
        coord_client_on_data(&ctl->client, now_ms(), buf, (size_t)n);
    } else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        conn_lost(ctl);
    }
}

/* ---- the loop ------------------------------------------------------------------------ */

enum run_result {
    RUN_DONE = 0,
    RUN_INPUT,   /* input_fd is readable */
    RUN_TIMEOUT, /* the deadline passed, or no connection for timeout_ms */
};

static void ctl_start(struct ctl *ctl)
{
    if (!ctl->started) {
        ctl->started = true;
        coord_client_start(&ctl->client, now_ms());
        ctl_actions(ctl);
    }
}

/* How long ctl_run runs: until done(ctl, arg) holds, input_fd (-1: none) is
 * readable, the deadline passes, or, with give_up, the client has been
 * without a connection for timeout_ms since `since`. */
struct run_opts
{
    bool (*done)(struct ctl *ctl, void *arg);
    void *arg;
    int input_fd;
    int64_t deadline;
    bool give_up;
    int64_t since;
};

static int64_t run_deadline(const struct ctl *ctl, const struct run_opts *o)
{
    int64_t deadline = o->deadline;
    if (o->give_up && ctl->disconnected_ms != 0) {
        deadline = COORD_MIN(deadline, COORD_MAX(ctl->disconnected_ms, o->since) + ctl->timeout_ms);
    }
    return deadline;
}

/* Wait for the socket (and input) until `until`, then handle what is ready.
 * Returns true when the input is readable. */
static bool ctl_poll(struct ctl *ctl, int input_fd, int64_t until, int64_t now)
{
    struct pollfd fds[2];
    nfds_t nfds = 0;
    if (ctl->fd >= 0) {
        short events = POLLIN;
        if (ctl->connecting) {
            events = POLLOUT;
        } else if (ctl->out_len > 0) {
            events = POLLIN | POLLOUT;
        }
        fds[nfds++] = (struct pollfd){ctl->fd, events, 0};
    }
    if (input_fd >= 0) {
        fds[nfds++] = (struct pollfd){input_fd, POLLIN, 0};
    }
    int timeout = until == INT64_MAX ? -1 : (int)COORD_MIN(until - now, 60000);
    int n = poll(fds, nfds, timeout);
    if (n < 0 && errno != EINTR) {
        fprintf(stderr, "coordctl: poll: %s\n", strerror(errno));
        exit(EXIT_FAILURE);
    }
    if (n <= 0) {
        return false;
    }
    if (input_fd >= 0 && fds[nfds - 1].revents != 0) {
        return true;
    }
    if (ctl->fd >= 0 && fds[0].revents != 0) {
        short rev = fds[0].revents;
        if (ctl->connecting) {
            conn_on_writable(ctl);
            return false;
        }
        if ((rev & POLLOUT) != 0) {
            conn_flush(ctl);
        }
        if ((rev & (POLLIN | POLLHUP | POLLERR)) != 0) {
            conn_on_readable(ctl);
        }
    }
    return false;
}

static enum run_result ctl_run(struct ctl *ctl, const struct run_opts *o)
{
    for (;;) {
        ctl_actions(ctl);
        if (o->done != NULL && o->done(ctl, o->arg)) {
            return RUN_DONE;
        }
        int64_t now = now_ms();
        int64_t deadline = run_deadline(ctl, o);
        if (now >= deadline) {
            return RUN_TIMEOUT;
        }
        if (ctl->wake_ms <= now) {
            ctl->wake_ms = INT64_MAX;
            coord_client_on_timeout(&ctl->client, now);
            continue;
        }
        if (ctl_poll(ctl, o->input_fd, COORD_MIN(ctl->wake_ms, deadline), now)) {
            return RUN_INPUT;
        }
    }
}

static bool result_done(struct ctl *ctl, void *arg)
{
    (void)ctl;
    return ((struct ctl_result *)arg)->done;
}

/* Hand an op (or a multi of count ops; count 0 = a single op) to the core
 * and wait for its outcome in *res. Returns 0, or EXIT_CONN. */
static int ctl_call(struct ctl *ctl, const struct coord_op *op, struct ctl_result *res)
{
    memset(res, 0, sizeof *res);
    res->data_len = -1;
    ctl_start(ctl);
    uint64_t tag = ++ctl->next_tag;
    int rc = coord_client_submit(&ctl->client, op, tag, now_ms());
    if (rc != COORD_OK) {
        res->done = true;
        res->err = rc;
        return 0;
    }
    ctl->waiting = res;
    ctl->waiting_tag = tag;
    struct run_opts o = {result_done, res, -1, INT64_MAX, true, now_ms()};
    enum run_result rr = ctl_run(ctl, &o);
    ctl->waiting = NULL;
    if (rr != RUN_DONE) {
        res->done = true;
        res->err = COORD_ECONNECTIONLOSS;
        fprintf(stderr, "coordctl: %s: cannot reach any server\n",
                op->path.ptr != NULL ? op->path.ptr : "whoami");
        return EXIT_CONN;
    }
    return 0;
}

/* ---- reporting ---------------------------------------------------------------------------- */

static int report(const char *path, int err)
{
    if (err == COORD_OK) {
        return 0;
    }
    fprintf(stderr, "coordctl: %s: %s\n", path, err_name(err));
    return err == COORD_ECONNECTIONLOSS ? EXIT_CONN : EXIT_ZK;
}

/* A call whose only interest is its error code. */
static int call_report(struct ctl *ctl, const struct coord_op *op, struct ctl_result *res)
{
    int rc = ctl_call(ctl, op, res);
    return rc != 0 ? rc : report(op->path.ptr, res->err);
}

static void print_events(struct ctl *ctl)
{
    for (size_t i = 0; i < ctl->event_count; i++) {
        printf("%s %s\n", event_name(ctl->events[i].type), ctl->events[i].path);
        free(ctl->events[i].path);
    }
    ctl->event_count = 0;
    fflush(stdout);
}

struct event_wait
{
    const char *path;
};

static bool event_arrived(struct ctl *ctl, void *arg)
{
    const struct event_wait *w = arg;
    for (size_t i = 0; i < ctl->event_count; i++) {
        if (strcmp(ctl->events[i].path, w->path) == 0) {
            return true;
        }
    }
    return ctl->client.state == COORD_CLIENT_EXPIRED ||
           ctl->client.state == COORD_CLIENT_AUTH_FAILED;
}

/* Wait for an event on path and print it (with any other pending ones). */
static int wait_event(struct ctl *ctl, const char *path)
{
    struct event_wait w = {path};
    struct run_opts o = {event_arrived, &w, -1, INT64_MAX, true, now_ms()};
    if (ctl_run(ctl, &o) == RUN_TIMEOUT) {
        fprintf(stderr, "coordctl: %s: cannot reach any server\n", path);
        return EXIT_CONN;
    }
    if (ctl->client.state == COORD_CLIENT_EXPIRED) {
        return report(path, COORD_ESESSIONEXPIRED);
    }
    if (ctl->client.state == COORD_CLIENT_AUTH_FAILED) {
        return report(path, COORD_EAUTHFAILED);
    }
    print_events(ctl);
    return 0;
}

/* ---- argument helpers ------------------------------------------------------------------------ */

static struct coord_str cstr(const char *s)
{
    struct coord_str x = {s, (int32_t)strlen(s)};
    return x;
}

static struct coord_op op_path(int32_t type, const char *path)
{
    struct coord_op op;
    memset(&op, 0, sizeof op);
    op.type = type;
    op.path = cstr(path);
    op.data_len = -1;
    op.acl_count = -1;
    op.version = -1;
    return op;
}

static bool parse_long(const char *s, long long min, long long max, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
        return false;
    }
    *out = v;
    return true;
}

static bool usage_brief; /* Interactive: no full usage text after each mistake. */

static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs(usage_brief ? "coordctl: usage: " : "coordctl: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs("\n", stderr);
    va_end(ap);
    if (!usage_brief) {
        fputs(usage_text, stderr);
    }
    return EXIT_USAGE;
}

/* Flags of the form -x (possibly grouped, -es) and -v N / -t N, before the
 * positional arguments. */
struct cmd_opts
{
    const char *flags;  /* Letters allowed alone. */
    const char *valued; /* Letters taking a value. */
    bool set[26];
    const char *value[26];
    int first_arg; /* Index of the first positional argument. */
};

static bool parse_opts(int argc, char **argv, struct cmd_opts *o)
{
    int i = 1;
    for (; i < argc && argv[i][0] == '-' && argv[i][1] != '\0'; i++) {
        if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        }
        for (const char *p = argv[i] + 1; *p != '\0'; p++) {
            if (*p < 'a' || *p > 'z') {
                return false;
            }
            int k = *p - 'a';
            if (strchr(o->valued, *p) != NULL) {
                const char *v = p[1] != '\0' ? p + 1 : (i + 1 < argc ? argv[++i] : NULL);
                if (v == NULL) {
                    return false;
                }
                o->set[k] = true;
                o->value[k] = v;
                break;
            }
            if (strchr(o->flags, *p) == NULL) {
                return false;
            }
            o->set[k] = true;
        }
    }
    o->first_arg = i;
    return true;
}

static bool opt_version(const struct cmd_opts *o, int32_t *version)
{
    long long v = -1;
    if (o->set['v' - 'a'] && !parse_long(o->value['v' - 'a'], -1, INT32_MAX, &v)) {
        return false;
    }
    *version = (int32_t)v;
    return true;
}

/* ---- ACL text ------------------------------------------------------------------------------- */

static const char perm_letters[] = "cdrwa";
static const int32_t perm_bits[] = {COORD_PERM_CREATE, COORD_PERM_DELETE, COORD_PERM_READ,
                                    COORD_PERM_WRITE, COORD_PERM_ADMIN};

static void perms_text(int32_t perms, char out[6])
{
    size_t n = 0;
    for (size_t i = 0; i < 5; i++) {
        if ((perms & perm_bits[i]) != 0) {
            out[n++] = perm_letters[i];
        }
    }
    out[n] = '\0';
}

static bool perms_parse(const char *s, int32_t *perms)
{
    *perms = 0;
    if (*s == '\0') {
        return false;
    }
    for (; *s != '\0'; s++) {
        const char *p = strchr(perm_letters, *s);
        if (p == NULL) {
            return false;
        }
        *perms |= perm_bits[p - perm_letters];
    }
    return true;
}

/* "scheme:id:perms,..." (the id may hold ':', as digest's user:hash does).
 * The strings point into `text`, which is modified. Returns the count or -1. */
static int acl_parse(char *text, struct coord_acl *out, int cap)
{
    int n = 0;
    for (char *entry = strtok(text, ","); entry != NULL; entry = strtok(NULL, ",")) {
        char *first = strchr(entry, ':');
        char *last = strrchr(entry, ':');
        if (n == cap || first == NULL || last == first) {
            return -1;
        }
        *first = '\0';
        *last = '\0';
        if (!perms_parse(last + 1, &out[n].perms)) {
            return -1;
        }
        out[n].ident.scheme = cstr(entry);
        out[n].ident.id = cstr(first + 1);
        n++;
    }
    return n == 0 ? -1 : n;
}

/* ---- commands ----------------------------------------------------------------------------- */

static const struct coord_acl open_acl = {COORD_PERM_ALL, {{"world", 5}, {"anyone", 6}}};

static int cmd_create(struct ctl *ctl, int argc, char **argv)
{
    struct cmd_opts o = {.flags = "esc", .valued = "t"};
    if (!parse_opts(argc, argv, &o) || argc - o.first_arg < 1 || argc - o.first_arg > 2) {
        return usage_error("create [-e] [-s] [-c] [-t ttl] path [data]");
    }
    bool e = o.set['e' - 'a'];
    bool s = o.set['s' - 'a'];
    bool c = o.set['c' - 'a'];
    bool t = o.set['t' - 'a'];
    long long ttl = 0;
    if ((c && (e || s || t)) || (t && e) ||
        (t && !parse_long(o.value['t' - 'a'], 1, COORD_TTL_MAX, &ttl))) {
        return usage_error("create: -c stands alone, -t takes a ttl in ms and excludes -e");
    }
    const char *path = argv[o.first_arg];
    const char *data = o.first_arg + 1 < argc ? argv[o.first_arg + 1] : NULL;
    struct coord_op op = op_path(COORD_OP_CREATE, path);
    op.flags = (e ? COORD_MODE_EPHEMERAL : 0) | (s ? COORD_MODE_PERSISTENT_SEQUENTIAL : 0);
    if (c) {
        op.type = COORD_OP_CREATECONTAINER;
        op.flags = COORD_MODE_CONTAINER;
    } else if (t) {
        op.type = COORD_OP_CREATETTL;
        op.flags = s ? COORD_MODE_PERSISTENT_SEQUENTIAL_WITH_TTL : COORD_MODE_PERSISTENT_WITH_TTL;
        op.ttl = ttl;
    }
    op.data = (const uint8_t *)data;
    op.data_len = data == NULL ? -1 : (int32_t)strlen(data);
    op.acl = &open_acl;
    op.acl_count = 1;
    struct ctl_result res;
    int rc = call_report(ctl, &op, &res);
    if (rc == 0) {
        printf("%s\n", res.path != NULL ? res.path : path);
    }
    result_free(&res);
    return rc;
}

static int cmd_get(struct ctl *ctl, int argc, char **argv)
{
    struct cmd_opts o = {.flags = "w", .valued = ""};
    if (!parse_opts(argc, argv, &o) || argc - o.first_arg != 1) {
        return usage_error("get [-w] path");
    }
    const char *path = argv[o.first_arg];
    struct coord_op op = op_path(COORD_OP_GETDATA, path);
    op.watch = o.set['w' - 'a'];
    struct ctl_result res;
    int rc = call_report(ctl, &op, &res);
    if (rc == 0 && res.data_len > 0) {
        fwrite(res.data, 1, (size_t)res.data_len, stdout);
        /* Raw for scripts; readable at the prompt. */
        if (ctl->interactive && res.data[res.data_len - 1] != '\n') {
            fputc('\n', stdout);
        }
    }
    fflush(stdout);
    result_free(&res);
    if (rc == 0 && op.watch && !ctl->interactive) {
        rc = wait_event(ctl, path);
    }
    return rc;
}

static int cmd_set(struct ctl *ctl, int argc, char **argv)
{
    struct cmd_opts o = {.flags = "", .valued = "v"};
    struct coord_op op = op_path(COORD_OP_SETDATA, "");
    if (!parse_opts(argc, argv, &o) || argc - o.first_arg != 2 || !opt_version(&o, &op.version)) {
        return usage_error("set [-v version] path data");
    }
    op.path = cstr(argv[o.first_arg]);
    op.data = (const uint8_t *)argv[o.first_arg + 1];
    op.data_len = (int32_t)strlen(argv[o.first_arg + 1]);
    struct ctl_result res;
    int rc = call_report(ctl, &op, &res);
    result_free(&res);
    return rc;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmd_ls(struct ctl *ctl, int argc, char **argv)
{
    struct cmd_opts o = {.flags = "w", .valued = ""};
    if (!parse_opts(argc, argv, &o) || argc - o.first_arg != 1) {
        return usage_error("ls [-w] path");
    }
    const char *path = argv[o.first_arg];
    struct coord_op op = op_path(COORD_OP_GETCHILDREN, path);
    op.watch = o.set['w' - 'a'];
    struct ctl_result res;
    int rc = call_report(ctl, &op, &res);
    if (rc == 0) {
        if (res.item_count > 1) {
            qsort(res.items, res.item_count, sizeof *res.items, compare_names);
        }
        for (size_t i = 0; i < res.item_count; i++) {
            printf("%s\n", res.items[i]);
        }
    }
    fflush(stdout);
    result_free(&res);
    if (rc == 0 && op.watch && !ctl->interactive) {
        rc = wait_event(ctl, path);
    }
    return rc;
}

static void print_time(const char *name, int64_t ms)
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    char text[64];
    if (localtime_r(&secs, &tm) == NULL ||
        strftime(text, sizeof text, "%a %b %d %H:%M:%S %Z %Y", &tm) == 0) {
        snprintf(text, sizeof text, "%lld", (long long)ms);
    }
    printf("%s = %s\n", name, text);
}

/* The Stat as zkCli prints it. */
static void print_stat(const struct coord_stat *st)
{
    printf("cZxid = 0x%llx\n", (unsigned long long)st->czxid);
    print_time("ctime", st->ctime);
    printf("mZxid = 0x%llx\n", (unsigned long long)st->mzxid);
    print_time("mtime", st->mtime);
    printf("pZxid = 0x%llx\n", (unsigned long long)st->pzxid);
    printf("cversion = %d\n", st->cversion);
    printf("dataVersion = %d\n", st->version);
    printf("aclVersion = %d\n", st->aversion);
    printf("ephemeralOwner = 0x%llx\n", (unsigned long long)st->ephemeral_owner);
    printf("dataLength = %d\n", st->data_length);
    printf("numChildren = %d\n", st->num_children);
}

/* A command of the form `name path` sending one op of `type`. */
static int simple_path_cmd(struct ctl *ctl,
                           int argc,
                           char **argv,
                           int32_t type,
                           struct ctl_result *res)
{
    if (argc != 2) {
        memset(res, 0, sizeof *res);
        return usage_error("%s path", argv[0]);
    }
    struct coord_op op = op_path(type, argv[1]);
    return call_report(ctl, &op, res);
}

static int cmd_stat(struct ctl *ctl, int argc, char **argv)
{
    struct ctl_result res;
    int rc = simple_path_cmd(ctl, argc, argv, COORD_OP_EXISTS, &res);
    if (rc == 0) {
        print_stat(&res.stat);
    }
    result_free(&res);
    return rc;
}

static int cmd_exists(struct ctl *ctl, int argc, char **argv)
{
    struct ctl_result res;
    int rc = simple_path_cmd(ctl, argc, argv, COORD_OP_EXISTS, &res);
    result_free(&res);
    return rc;
}

static int cmd_sync(struct ctl *ctl, int argc, char **argv)
{
    struct ctl_result res;
    int rc = simple_path_cmd(ctl, argc, argv, COORD_OP_SYNC, &res);
    result_free(&res);
    return rc;
}

static int cmd_rm(struct ctl *ctl, int argc, char **argv)
{
    struct cmd_opts o = {.flags = "", .valued = "v"};
    struct coord_op op = op_path(COORD_OP_DELETE, "");
    if (!parse_opts(argc, argv, &o) || argc - o.first_arg != 1 || !opt_version(&o, &op.version)) {
        return usage_error("rm [-v version] path");
    }
    op.path = cstr(argv[o.first_arg]);
    struct ctl_result res;
    int rc = call_report(ctl, &op, &res);
    result_free(&res);
    return rc;
}

/* Delete path's subtree, children first. NONODE below the top is a race
 * with another client and is fine. */
static int rmr(struct ctl *ctl, const char *path, bool top)
{
    struct coord_op op = op_path(COORD_OP_GETCHILDREN, path);
    struct ctl_result res;
    int rc = ctl_call(ctl, &op, &res);
    if (rc != 0 || (res.err != COORD_OK && (top || res.err != COORD_ENONODE))) {
        rc = rc != 0 ? rc : report(path, res.err);
        result_free(&res);
        return rc;
    }
    size_t plen = strlen(path);
    for (size_t i = 0; i < res.item_count && rc == 0; i++) {
        size_t clen = strlen(res.items[i]);
        char *child = xmalloc(plen + clen + 2);
        snprintf(child, plen + clen + 2, "%s%s%s", path, plen == 1 ? "" : "/", res.items[i]);
        rc = rmr(ctl, child, false);
        free(child);
    }
    result_free(&res);
    if (rc != 0) {
        return rc;
    }
    op = op_path(COORD_OP_DELETE, path);
    rc = ctl_call(ctl, &op, &res);
    if (rc == 0 && res.err != COORD_OK && (top || res.err != COORD_ENONODE)) {
        rc = report(path, res.err);
    }
    result_free(&res);
    return rc;
}

static int cmd_rmr(struct ctl *ctl, int argc, char **argv)
{
    if (argc != 2) {
        return usage_error("rmr path");
    }
    return rmr(ctl, argv[1], true);
}

static int cmd_watch(struct ctl *ctl, int argc, char **argv)
{
    if (argc != 2) {
        return usage_error("watch path");
    }
    const char *path = argv[1];
    /* exists covers creation, deletion and data; getChildren the children. */
    struct coord_op op = op_path(COORD_OP_EXISTS, path);
    op.watch = true;
    struct ctl_result res;
    int rc = ctl_call(ctl, &op, &res);
    if (rc == 0 && res.err != COORD_OK && res.err != COORD_ENONODE) {
        rc = report(path, res.err);
    }
    bool exists = res.err == COORD_OK;
    result_free(&res);
    if (rc == 0 && exists) {
        op = op_path(COORD_OP_GETCHILDREN, path);
        op.watch = true;
        rc = ctl_call(ctl, &op, &res);
        /* NONODE: deleted in between, and the exists watch has fired. */
        if (rc == 0 && res.err != COORD_OK && res.err != COORD_ENONODE) {
            rc = report(path, res.err);
        }
        result_free(&res);
    }
    return rc == 0 ? wait_event(ctl, path) : rc;
}

static int cmd_getacl(struct ctl *ctl, int argc, char **argv)
{
    struct ctl_result res;
    int rc = simple_path_cmd(ctl, argc, argv, COORD_OP_GETACL, &res);
    for (size_t i = 0; rc == 0 && i < res.acl_count; i++) {
        char perms[6];
        perms_text(res.acl[i].perms, perms);
        printf("%s:%s:%s\n", res.acl[i].scheme, res.acl[i].id, perms);
    }
    result_free(&res);
    return rc;
}

static int cmd_setacl(struct ctl *ctl, int argc, char **argv)
{
    struct cmd_opts o = {.flags = "", .valued = "v"};
    struct coord_op op = op_path(COORD_OP_SETACL, "");
    if (!parse_opts(argc, argv, &o) || argc - o.first_arg != 2 || !opt_version(&o, &op.version)) {
        return usage_error("setacl [-v version] path acl");
    }
    char *text = xstrndup(argv[o.first_arg + 1], strlen(argv[o.first_arg + 1]));
    struct coord_acl acl[CTL_ARGS_MAX];
    int n = acl_parse(text, acl, CTL_ARGS_MAX);
    if (n < 0) {
        free(text);
        return usage_error("setacl: acl is scheme:id:perms[,...], perms from cdrwa");
    }
    op.path = cstr(argv[o.first_arg]);
    op.acl = acl;
    op.acl_count = n;
    struct ctl_result res;
    int rc = call_report(ctl, &op, &res);
    result_free(&res);
    free(text);
    return rc;
}

static int cmd_whoami(struct ctl *ctl, int argc, char **argv)
{
    if (argc != 1) {
        return usage_error("whoami");
    }
    (void)argv;
    struct coord_op op = op_path(COORD_OP_WHOAMI, "");
    op.path.ptr = NULL;
    op.path.len = -1;
    struct ctl_result res;
    int rc = ctl_call(ctl, &op, &res);
    if (rc == 0) {
        rc = report("whoami", res.err);
    }
    for (size_t i = 0; rc == 0 && i + 1 < res.item_count; i += 2) {
        printf("%s:%s\n", res.items[i], res.items[i + 1]);
    }
    result_free(&res);
    return rc;
}

struct command
{
    const char *name;
    int (*run)(struct ctl *ctl, int argc, char **argv);
};

static const struct command commands[] = {
    {"create", cmd_create}, {"get", cmd_get},       {"set", cmd_set},       {"ls", cmd_ls},
    {"stat", cmd_stat},     {"rm", cmd_rm},         {"rmr", cmd_rmr},       {"watch", cmd_watch},
    {"getacl", cmd_getacl}, {"setacl", cmd_setacl}, {"exists", cmd_exists}, {"sync", cmd_sync},
    {"whoami", cmd_whoami},
};

static int run_command(struct ctl *ctl, int argc, char **argv)
{
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(argv[0], commands[i].name) == 0) {
            int rc = commands[i].run(ctl, argc, argv);
            fflush(stdout);
            return rc;
        }
    }
    if (usage_brief) {
        fprintf(stderr, "coordctl: unknown command: %s (try help)\n", argv[0]);
        return EXIT_USAGE;
    }
    return usage_error("unknown command: %s", argv[0]);
}

/* ---- interactive mode ---------------------------------------------------------------------- */

/* Split a line into words: blanks separate, '...' and "..." quote (no
 * escapes inside single quotes; \" and \\ inside double ones). Returns the
 * count, or -1 for an unterminated quote or too many words. */
static int split_line(char *line, char **argv, int cap)
{
    int argc = 0;
    char *r = line;
    char *w = line;
    for (;;) {
        while (*r == ' ' || *r == '\t' || *r == '\r') {
            r++;
        }
        if (*r == '\0' || *r == '\n') {
            return argc;
        }
        if (argc == cap) {
            return -1;
        }
        argv[argc++] = w;
        while (*r != '\0' && *r != ' ' && *r != '\t' && *r != '\r' && *r != '\n') {
            char q = *r;
            if (q != '\'' && q != '"') {
                *w++ = *r++;
                continue;
            }
            r++;
            while (*r != q) {
                if (*r == '\0') {
                    return -1;
                }
                if (q == '"' && *r == '\\' && (r[1] == '"' || r[1] == '\\')) {
                    r++;
                }
                *w++ = *r++;
            }
            r++;
        }
        bool end = *r == '\0' || *r == '\n';
        *w++ = '\0';
        if (end) {
            return argc;
        }
        r++;
    }
}

/* Run one line; *quit is set by quit/exit. Returns the command's status. */
static int run_line(struct ctl *ctl, char *line, bool *quit)
{
    char *argv[CTL_ARGS_MAX];
    int argc = split_line(line, argv, CTL_ARGS_MAX);
    if (argc < 0) {
        fprintf(stderr, "coordctl: unterminated quote or too many words\n");
        return EXIT_USAGE;
    }
    if (argc == 0 || argv[0][0] == '#') {
        return -1; /* Nothing run: the status stays. */
    }
    if (strcmp(argv[0], "quit") == 0 || strcmp(argv[0], "exit") == 0) {
        *quit = true;
        return -1;
    }
    if (strcmp(argv[0], "help") == 0) {
        fputs(usage_text, stdout);
        return 0;
    }
    return run_command(ctl, argc, argv);
}

static bool events_pending(struct ctl *ctl, void *arg)
{
    (void)arg;
    return ctl->event_count > 0;
}

static int interactive(struct ctl *ctl)
{
    bool tty = isatty(STDIN_FILENO) == 1;
    int status = 0;
    size_t cap = 4096;
    size_t len = 0;
    char *buf = xmalloc(cap);
    bool quit = false;
    bool eof = false;
    ctl_start(ctl);
    while (!quit && !eof) {
        print_events(ctl);
        if (tty) {
            fputs("coord> ", stdout);
            fflush(stdout);
        }
        /* Keep the session alive while waiting for a line, and print the
         * events of -w watches as they come. */
        char *nl;
        while ((nl = memchr(buf, '\n', len)) == NULL && !eof) {
            struct run_opts o = {events_pending, NULL, STDIN_FILENO, INT64_MAX, false, 0};
            if (ctl_run(ctl, &o) == RUN_DONE) {
                print_events(ctl);
                continue;
            }
            if (len + 4096 > cap) {
                cap *= 2;
                char *p = realloc(buf, cap);
                if (p == NULL) {
                    fprintf(stderr, "coordctl: out of memory\n");
                    exit(EXIT_FAILURE);
                }
                buf = p;
            }
            ssize_t n = read(STDIN_FILENO, buf + len, cap - len - 1);
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n <= 0) {
                eof = true;
                break;
            }
            len += (size_t)n;
        }
        size_t line_len = nl != NULL ? (size_t)(nl - buf) : len;
        if (line_len == 0 && nl == NULL) {
            break;
        }
        char *line = xstrndup(buf, line_len);
        size_t used = nl != NULL ? line_len + 1 : len;
        memmove(buf, buf + used, len - used);
        len -= used;
        int rc = run_line(ctl, line, &quit);
        free(line);
        if (rc >= 0) {
            status = rc;
        }
    }
    if (tty && !quit) {
        fputs("\n", stdout);
    }
    free(buf);
    return status;
}

/* ---- setup ---------------------------------------------------------------------------------- */

/* "host:port,host:port", IPv6 as [addr]:port; a missing port is 2181. */
static bool parse_servers(const char *text, struct ctl *ctl)
{
    size_t count = 1;
    for (const char *p = text; *p != '\0'; p++) {
        count += *p == ',';
    }
    ctl->servers = calloc(count, sizeof *ctl->servers);
    if (ctl->servers == NULL) {
        return false;
    }
    const char *p = text;
    for (size_t i = 0; i < count; i++) {
        const char *end = strchr(p, ',');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        const char *host = p;
        size_t host_len = len;
        const char *port = NULL;
        size_t port_len = 0;
        if (len > 0 && p[0] == '[') {
            const char *close = memchr(p, ']', len);
            if (close == NULL) {
                return false;
            }
            host = p + 1;
            host_len = (size_t)(close - host);
            if (close + 1 < p + len) {
                if (close[1] != ':') {
                    return false;
                }
                port = close + 2;
                port_len = (size_t)(p + len - port);
            }
        } else {
            const char *colon = memchr(p, ':', len);
            if (colon != NULL) {
                host_len = (size_t)(colon - p);
                port = colon + 1;
                port_len = (size_t)(p + len - port);
            }
        }
        struct ctl_server *sv = &ctl->servers[i];
        if (host_len == 0 || host_len >= sizeof sv->host || port_len >= sizeof sv->port ||
            (port != NULL && port_len == 0)) {
            return false;
        }
        memcpy(sv->host, host, host_len);
        if (port != NULL) {
            memcpy(sv->port, port, port_len);
            long long v;
            if (!parse_long(sv->port, 1, 65535, &v)) {
                return false;
            }
        } else {
            strcpy(sv->port, "2181");
        }
        p = end != NULL ? end + 1 : p + len;
    }
    ctl->server_count = count;
    return true;
}

static uint64_t random_seed(void)
{
    uint64_t seed = 0;
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        if (read(fd, &seed, sizeof seed) != (ssize_t)sizeof seed) {
            seed = 0;
        }
        close(fd);
    }
    return seed ^ (uint64_t)now_ms() ^ (uint64_t)getpid();
}

static bool client_closed(struct ctl *ctl, void *arg)
{
    (void)arg;
    enum coord_client_state s = ctl->client.state;
    return s == COORD_CLIENT_CLOSED || s == COORD_CLIENT_EXPIRED || s == COORD_CLIENT_AUTH_FAILED;
}

/* Close the session politely when connected, waiting a little for the reply. */
static void ctl_finish(struct ctl *ctl)
{
    if (ctl->started && ctl->client.state == COORD_CLIENT_CONNECTED &&
        coord_client_submit_close(&ctl->client, 0, now_ms()) == COORD_OK) {
        int64_t deadline = now_ms() + COORD_MIN(ctl->timeout_ms, CTL_CLOSE_WAIT_MS);
        struct run_opts o = {client_closed, NULL, -1, deadline, false, 0};
        ctl_run(ctl, &o);
    }
    coord_client_close(&ctl->client);
    ctl->want_close = ctl->want_connect = ctl->connect_failed = false;
    conn_close(ctl);
    print_events(ctl);
    free(ctl->out);
    free(ctl->servers);
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    struct ctl ctl;
    memset(&ctl, 0, sizeof ctl);
    ctl.fd = -1;
    ctl.timeout_ms = 30000;
    ctl.wake_ms = INT64_MAX;
    const char *servers = NULL;
    const char *auths[COORD_CLIENT_AUTH_MAX];
    size_t auth_count = 0;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *opt = argv[i];
        if (strcmp(opt, "-h") == 0 || strcmp(opt, "--help") == 0) {
            fputs(usage_text, stdout);
            return 0;
        }
        if (strcmp(opt, "--") == 0) {
            i++;
            break;
        }
        if ((strcmp(opt, "-s") != 0 && strcmp(opt, "-t") != 0 && strcmp(opt, "-a") != 0)) {
            return usage_error("unknown option %s", opt);
        }
        if (i + 1 >= argc) {
            return usage_error("%s needs a value", opt);
        }
        const char *value = argv[++i];
        long long v;
        if (opt[1] == 's') {
            servers = value;
        } else if (opt[1] == 't') {
            if (!parse_long(value, 1, INT32_MAX, &v)) {
                return usage_error("-t takes a timeout in ms");
            }
            ctl.timeout_ms = (int32_t)v;
        } else {
            if (strchr(value, ':') == NULL || value[0] == ':' ||
                auth_count == COORD_CLIENT_AUTH_MAX) {
                return usage_error("-a takes scheme:credential (at most %d)",
                                   COORD_CLIENT_AUTH_MAX);
            }
            auths[auth_count++] = value;
        }
    }
    if (servers == NULL) {
        return usage_error("-s host:port is required");
    }
    if (!parse_servers(servers, &ctl)) {
        free(ctl.servers);
        return usage_error("bad server list: %s", servers);
    }
    struct coord_client_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.server_count = (uint32_t)ctl.server_count;
    cfg.session_timeout_ms = ctl.timeout_ms;
    cfg.seed = random_seed();
    struct coord_client_env env = {&ctl,        env_connect,  env_write, env_close,
                                   env_wake_at, env_complete, env_watch};
    if (coord_client_init(&ctl.client, &cfg, &env) != COORD_OK) {
        free(ctl.servers);
        return usage_error("bad client configuration");
    }
    for (size_t k = 0; k < auth_count; k++) {
        const char *colon = strchr(auths[k], ':');
        struct coord_str scheme = {auths[k], (int32_t)(colon - auths[k])};
        const char *cred = colon + 1;
        if (coord_client_submit_auth(&ctl.client, scheme, (const uint8_t *)cred, strlen(cred),
                                     CTL_AUTH_TAG | k, now_ms()) != COORD_OK) {
            coord_client_close(&ctl.client);
            free(ctl.servers);
            return usage_error("bad credential: %s", auths[k]);
        }
    }
    int status;
    if (i >= argc) {
        ctl.interactive = true;
        usage_brief = true;
        status = interactive(&ctl);
    } else {
        status = run_command(&ctl, argc - i, argv + i);
    }
    ctl_finish(&ctl);
    return status;
}
