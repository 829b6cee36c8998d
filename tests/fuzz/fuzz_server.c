/* libFuzzer target: arbitrary client bytes through a whole coord server.
 *
 * The input is split into up to three client connections' byte streams (a
 * leading control byte picks chunk sizes and which connection each chunk
 * goes to). Half the inputs start with a valid handshake so the fuzzer reaches
 * the request pipeline quickly. Between chunks the log reports everything
 * synced and the clock moves, so writes apply, watches fire and sessions
 * expire. The server must never crash, never read out of bounds (ASan), and
 * must still answer a fresh client at the end.
 *
 * Build: clang -g -O1 -fsanitize=fuzzer,address,undefined -Iprotocol/include
 *        protocol/(every .c) tests/fuzz/fuzz_server.c tests/fuzz/fuzz_panic.c */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "coord/server.h"
#include "coord/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct host
{
    uint64_t pending_token;
    bool sync_due;
    size_t bytes_out;
    bool closed[4];
};

static void h_peer_send(void *ctx, coord_id to, const void *msg, size_t len)
{
    (void)ctx;
    (void)to;
    (void)msg;
    (void)len;
}

static void h_conn_write(void *ctx, uint64_t conn, const void *buf, size_t len)
{
    struct host *h = ctx;
    (void)conn;
    (void)buf;
    h->bytes_out += len;
}

static void h_conn_close(void *ctx, uint64_t conn)
{
    struct host *h = ctx;
    if (conn < 4) {
        h->closed[conn] = true;
    }
}

static void h_log_append(void *ctx, const void *rec, size_t len, uint64_t token)
{
    struct host *h = ctx;
    (void)rec;
    (void)len;
    h->pending_token = token;
    h->sync_due = true;
}

static void h_log_truncate(void *ctx, coord_zxid last)
{
    (void)ctx;
    (void)last;
}

static void h_snapshot(void *ctx, const void *buf, size_t len, coord_zxid zxid)
{
    (void)ctx;
    (void)buf;
    (void)len;
    (void)zxid;
}

static void h_meta(void *ctx, const void *buf, size_t len, uint64_t token)
{
    (void)ctx;
    (void)buf;
    (void)len;
    (void)token;
}

static void h_wake(void *ctx, coord_time_ms deadline)
{
    (void)ctx;
    (void)deadline;
}

static void step(struct coord_server *s, struct coord_event *ev, int64_t now)
{
    ev->now_ms = now;
    if (coord_server_step(s, ev) != COORD_OK) {
        abort(); /* Only ENOMEM may fail, and the fuzzer's heap does not run out. */
    }
}

static void sync_now(struct coord_server *s, struct host *h, int64_t now)
{
    if (h->sync_due) {
        h->sync_due = false;
        struct coord_event ev = {.type = COORD_EVENT_SYNCED, .token = h->pending_token};
        step(s, &ev, now);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) {
        return 0;
    }
    struct host h;
    memset(&h, 0, sizeof h);
    struct coord_env env = {
        &h,         h_peer_send, h_conn_write, h_conn_close, h_log_append, h_log_truncate,
        h_snapshot, h_meta,      h_wake,       NULL};
    struct coord_config cfg = {.tick_ms = 100, .snap_count = 50};
    struct coord_server s;
    if (coord_server_init(&s, &cfg, 1, &env, NULL, NULL, 0) != COORD_OK) {
        abort();
    }
    int64_t now = 1000;
    uint8_t control = data[0];
    data++;
    size--;
    for (uint64_t conn = 1; conn <= 3; conn++) {
        struct coord_event open = {.type = COORD_EVENT_CONN_OPEN, .conn = conn};
        open.data = "127.0.0.1";
        open.len = 9;
        step(&s, &open, now);
    }
    if (control & 1) {
        /* A valid handshake first on connection 1. */
        struct coord_buf hs;
        coord_buf_init(&hs);
        struct coord_connect_req req = {0, 0, 30000, 0, NULL, -1, true, false};
        coord_wire_encode_connect(&hs, &req);
        struct coord_event ev = {.type = COORD_EVENT_CONN_DATA, .conn = 1};
        ev.data = hs.data;
        ev.len = hs.len;
        step(&s, &ev, now);
        coord_buf_free(&hs);
        sync_now(&s, &h, now);
    }
    size_t pos = 0;
    unsigned round = 0;
    while (pos < size) {
        size_t chunk = 1 + (size_t)((control >> 1) + round * 7) % 64;
        if (chunk > size - pos) {
            chunk = size - pos;
        }
        uint64_t conn = 1 + (data[pos] + round) % 3;
        struct coord_event ev = {.type = COORD_EVENT_CONN_DATA, .conn = conn};
        ev.data = data + pos;
        ev.len = chunk;
        step(&s, &ev, now);
        pos += chunk;
        round++;
        now += (control & 0x80) ? 700 : 3;
        sync_now(&s, &h, now);
        struct coord_event tick = {.type = COORD_EVENT_TIMEOUT};
        step(&s, &tick, now);
        sync_now(&s, &h, now);
    }
    /* A closed connection is reported back, as a host does. */
    for (uint64_t conn = 1; conn <= 3; conn++) {
        struct coord_event ev = {.type = COORD_EVENT_CONN_CLOSED, .conn = conn};
        step(&s, &ev, now);
    }
    /* The server still serves a fresh client. */
    size_t before = h.bytes_out;
    struct coord_event open = {.type = COORD_EVENT_CONN_OPEN, .conn = 9};
    open.data = "127.0.0.1";
    open.len = 9;
    step(&s, &open, now);
    struct coord_buf hs;
    coord_buf_init(&hs);
    struct coord_connect_req req = {0, 0, 30000, 0, NULL, -1, true, false};
    coord_wire_encode_connect(&hs, &req);
    struct coord_event ev = {.type = COORD_EVENT_CONN_DATA, .conn = 9};
    ev.data = hs.data;
    ev.len = hs.len;
    step(&s, &ev, now);
    sync_now(&s, &h, now);
    coord_buf_free(&hs);
    if (h.bytes_out <= before) {
        abort(); /* No ConnectResponse: the server stopped serving. */
    }
    coord_server_close(&s);
    return 0;
}
