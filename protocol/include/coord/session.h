/* The session tracker: the live sessions of a server (id, negotiated timeout,
 * expiry time), the session id generator and the session password.
 *
 * It follows Apache ZooKeeper's SessionTrackerImpl and ExpiryQueue: a session
 * heard from at `now` with timeout T expires at the first multiple of tickTime
 * strictly after now + T, so expiries come in batches on tick boundaries and
 * land between T and T + tick after the last touch (zk-wire §4.4).
 *
 * Time only arrives as arguments: the tracker never reads a clock. The clock
 * may jump forward (every due session expires at the next check, however many
 * ticks were skipped) or backward (sessions keep the expiry they had, and new
 * touches follow the new clock).
 *
 * The tracker never touches the znode tree: on expiry it marks the session
 * closing and hands its id to the caller, who prepares the closeSession
 * transaction and removes the session once that transaction applies. */
#ifndef COORD_SESSION_H
#define COORD_SESSION_H

#include "coord/types.h"
#include "coord/util.h"

#define COORD_SESSION_PASSWORD_LEN 16

/* One live session. The tracker owns it; a pointer stays valid until the
 * session is removed or the tracker closed. */
struct coord_session
{
    coord_session_id id;
    int32_t timeout_ms; /* Negotiated; renegotiated on reconnect. */
    int64_t expires_ms; /* Its tick bucket: it expires once the clock reaches this. */
    bool closing;       /* Expired or closed by its client: no more touches. */
    uint64_t conn;      /* The connection attached, 0 = none. Set by the server. */
    size_t queue_pos;   /* Intrusive link: its slot in the expiry queue, or SIZE_MAX. */
};

struct coord_sessions
{
    struct coord_u64map by_id; /* id -> struct coord_session. */
    /* The expiry queue: a binary min-heap of sessions ordered by (expires_ms,
     * id). It replaces ZooKeeper's map of tick buckets: the same batches come
     * out, in a fixed order, a clock jump costs nothing, and a touch never
     * allocates (the heap's room is reserved when a session is added). */
    struct coord_session **queue;
    size_t queue_count;
    size_t queue_cap;
    int32_t tick_ms;
    coord_id server_id;
    uint64_t next_low; /* Low 56 bits of the next session id. */
    uint64_t secret;   /* Password secret, shared by the ensemble. */
};

/* Initialise an empty tracker. `server_id` (1..COORD_SERVER_ID_MAX) becomes
 * the top byte of every id this server issues; `id_seed` (from the host's
 * seeded PRNG) picks where the id counter starts, so a restarted server does
 * not reissue its old ids; `secret` derives the passwords. COORD_OK, or
 * COORD_EBADARGUMENTS for tick_ms <= 0 or a server id out of range (the
 * tracker is then empty and safe to close). */
int coord_sessions_init(struct coord_sessions *s,
                        int32_t tick_ms,
                        coord_id server_id,
                        uint64_t id_seed,
                        uint64_t secret);
/* Free every session. */
void coord_sessions_close(struct coord_sessions *s);

/* ---- timeout negotiation (zk-wire §4.3) ----------------------------------------- */

/* clamp(requested, min, max), min applied first as ZooKeeper does (so max wins
 * if a config gives min > max). */
int32_t coord_sessions_negotiate(int32_t requested_ms, int32_t min_ms, int32_t max_ms);
/* The effective bounds from a config value: a configured value <= 0 (ZooKeeper
 * writes -1 for "unset") means the default, 2 * tick and 20 * tick. */
int32_t coord_sessions_min_timeout(int32_t tick_ms, int32_t configured_ms);
int32_t coord_sessions_max_timeout(int32_t tick_ms, int32_t configured_ms);

/* ---- ids ------------------------------------------------------------------------- */

/* A fresh id: server_id << 56 | counter, the 56-bit counter starting at the
 * seed's low 40 bits << 16 (ZooKeeper starts it at a timestamp in the same
 * place) and wrapping within its 56 bits. Always nonzero, top bit clear; never
 * an id of a session currently tracked. */
coord_session_id coord_sessions_next_id(struct coord_sessions *s);
/* After restoring a snapshot or replaying a log: if `id` carries this server's
 * top byte and lies at or ahead of the counter (within half of the 56-bit
 * ring, so a counter that wrapped still compares right), move the counter past
 * it. coord_sessions_add does this for every id it adds. */
void coord_sessions_observe_id(struct coord_sessions *s, coord_session_id id);

/* ---- the session table --------------------------------------------------------- */

/* Track a new session, touched at now_ms. COORD_OK, COORD_ENODEEXISTS if the
 * id is tracked, COORD_EBADARGUMENTS for id <= 0 or timeout_ms <= 0,
 * COORD_ENOMEM (the tracker is then unchanged). */
int coord_sessions_add(struct coord_sessions *s,
                       coord_session_id id,
                       int32_t timeout_ms,
                       int64_t now_ms);
/* NULL when not tracked. */
struct coord_session *coord_sessions_get(const struct coord_sessions *s, coord_session_id id);
/* The session was heard from at now_ms: move it to the bucket of now_ms +
 * timeout, which may be earlier than its current one if the clock went back
 * (ZooKeeper moves it whenever the bucket differs). False, and nothing done,
 * if the session is unknown or closing (ZooKeeper's touchSession). */
bool coord_sessions_touch(struct coord_sessions *s, coord_session_id id, int64_t now_ms);
/* A reconnect renegotiated the timeout: store it and touch the session at
 * now_ms. COORD_OK, COORD_EBADARGUMENTS for timeout_ms <= 0,
 * COORD_EUNKNOWNSESSION, or COORD_ESESSIONEXPIRED if it is closing. */
int coord_sessions_set_timeout(struct coord_sessions *s,
                               coord_session_id id,
                               int32_t timeout_ms,
                               int64_t now_ms);
/* The client asked to close the session (ZooKeeper's setSessionClosing): no
 * more touches. It stays in the expiry queue, so if its closeSession
 * transaction is lost it is still reported at expiry. False if unknown. */
bool coord_sessions_set_closing(struct coord_sessions *s, coord_session_id id);
/* Forget the session (its closeSession transaction applied). Unknown: no-op. */
void coord_sessions_remove(struct coord_sessions *s, coord_session_id id);
size_t coord_sessions_count(const struct coord_sessions *s);
/* Iterate every session, in no particular order: start with *pos = 0; false
 * at the end. Do not add or remove sessions while iterating. */
bool coord_sessions_next(const struct coord_sessions *s,
                         size_t *pos,
                         const struct coord_session **out);

/* ---- expiry ---------------------------------------------------------------------- */

/* Take up to `cap` sessions whose expiry time is <= now_ms out of the expiry
 * queue, mark them closing and write their ids to out[], ordered by expiry
 * time then id. They stay tracked until coord_sessions_remove. Returns how
 * many were written; if that is `cap`, more may be due: call again. */
size_t coord_sessions_expire(struct coord_sessions *s,
                             int64_t now_ms,
                             coord_session_id *out,
                             size_t cap);
/* The earliest expiry time still queued (for the host's one wake-up timer), or
 * INT64_MAX when the queue is empty. */
int64_t coord_sessions_next_deadline(const struct coord_sessions *s);

/* ---- passwords ------------------------------------------------------------------- */

/* The session's 16-byte password, a function of (id, secret) only, so every
 * server of an ensemble sharing the secret derives the same one (ZooKeeper
 * seeds a PRNG with id ^ secret). The session need not be tracked. */
void coord_sessions_password(const struct coord_sessions *s,
                             coord_session_id id,
                             uint8_t out[COORD_SESSION_PASSWORD_LEN]);
/* True only if id > 0, len == 16 and pw equals the password; the comparison
 * takes the same time wherever the bytes differ. */
bool coord_sessions_check_password(const struct coord_sessions *s,
                                   coord_session_id id,
                                   const uint8_t *pw,
                                   size_t len);

/* ---- snapshots ------------------------------------------------------------------- */

/* Append ZooKeeper's session section: int count, then (long id, int timeout)
 * per session, ascending by id. COORD_OK, or COORD_ENOMEM (out is then marked
 * failed). */
int coord_sessions_snapshot(const struct coord_sessions *s, struct coord_buf *out);
/* Replace every tracked session with those of a snapshot section, each
 * touched at now_ms (ZooKeeper restarts every session's timer on load), and
 * move the id counter past this server's ids. Consumes the section from the
 * reader. COORD_ECORRUPT for a negative or oversized count, truncation, a
 * duplicate id, an id <= 0 or a timeout <= 0; COORD_ENOMEM. On any failure the
 * tracker is left exactly as it was. */
int coord_sessions_restore(struct coord_sessions *s, struct coord_reader *r, int64_t now_ms);

#endif /* COORD_SESSION_H */
