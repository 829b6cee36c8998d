/* Quorum replication: ZooKeeper Atomic Broadcast over the server pipeline.
 *
 * A server of an ensemble runs the fast leader election (election.c), then
 * ZAB's three phases, all driven by the events of env.h:
 *
 *   discovery  learners send FOLLOWERINFO (accepted epoch, last logged zxid);
 *              once a quorum of voters did, the leader takes newEpoch =
 *              max(accepted) + 1, persists it and sends LEADERINFO; each
 *              learner persists it as its accepted epoch and answers ACKEPOCH
 *              (current epoch, last zxid).
 *   sync       after a quorum of ACKEPOCH the leader persists newEpoch as its
 *              current epoch and brings each learner level with its own log:
 *              DIFF (the txns after the learner's last zxid), TRUNC (drop a
 *              tail the leader never had, then the txns after the cut) or
 *              SNAP (the whole state, when its in-memory history does not
 *              reach back far enough), then NEWLEADER. A learner persists the
 *              new current epoch and ACKs NEWLEADER once everything it got is
 *              durable; with a quorum of those acks the leader is
 *              established, commits its initial history and sends UPTODATE.
 *   broadcast  the leader proposes each write (PROPOSAL) to the voters, logs
 *              it itself, and commits in zxid order once a quorum of voters
 *              (itself included) has it durable (ACK); COMMIT tells the
 *              voters, INFORM carries committed txns to observers.
 *
 * The pending queue of server.c holds what is logged and not yet applied, on
 * every role. A learner applies only what the leader committed, so its tree
 * never holds a txn that a later leader could make it drop; after a restart
 * its log tail waits unapplied for the next leader's verdict.
 *
 * ACKs and COMMITs are cumulative: a peer's FIFO connection and the in-order
 * log make "ACK z" mean "everything up to z is durable here" and "COMMIT z"
 * mean "everything up to z is committed".
 *
 * Durable state besides the log: one meta record with the accepted and the
 * current epoch, written through env.meta_write with a storage token, so
 * SYNCED tells when it is on disk. */
#include <string.h>

#include "coord/election.h"
#include "coord/zab_msg.h"
#include "server_int.h"

#define ZAB_META_MAGIC 0x435a4d31u /* "CZM1" */
#define ZAB_META_VERSION 1u
#define ZAB_META_LEN 24u
#define ZAB_HISTORY_MIN 16u
#define ZAB_HISTORY_MAX 10000u
#define ZAB_HISTORY_BYTES_MAX (64u << 20) /* Large txns shorten the window. */
#define ZAB_SNAP_CHUNK (1u << 20)
#define ZAB_INIT_LIMIT_DEFAULT 10
#define ZAB_SYNC_LIMIT_DEFAULT 5
#define ZAB_CREATE_SESSION_OP (-10) /* ZooKeeper's OpCode.createSession. */

enum zab_phase {
    PHASE_LOOKING = 0,
    PHASE_DISCOVERY,
    PHASE_SYNC,
    PHASE_BROADCAST,
};

/* The leader's view of one member. */
enum learner_state {
    LEARNER_NONE = 0,
    LEARNER_INFO,     /* FOLLOWERINFO received. */
    LEARNER_ACKEPOCH, /* ACKEPOCH received: ready to be synced. */
    LEARNER_SYNCING,  /* Sync sent up to NEWLEADER; gets broadcasts from now on. */
    LEARNER_SYNCED,   /* Acked NEWLEADER. */
    LEARNER_UPTODATE, /* Sent UPTODATE. */
};

struct zab_member
{
    coord_id id;
    bool observer;
    enum learner_state st;
    int64_t accepted_epoch;
    int64_t current_epoch;
    coord_zxid last_zxid;
    coord_zxid acked; /* Cumulative: everything up to it is durable there. */
    coord_time_ms last_heard_ms;
    /* A FOLLOWERINFO that came while we were still electing: the learner
     * decided first. Replayed if we become leader within initLimit. */
    bool stashed;
    coord_time_ms stashed_ms;
    struct coord_zab_msg stash;
};

/* A learner's progress through discovery and sync. */
enum follow_state {
    FOLLOW_NONE = 0,
    FOLLOW_LEADERINFO,        /* FOLLOWERINFO sent. */
    FOLLOW_EPOCH_DURABLE,     /* Writing the accepted epoch before ACKEPOCH. */
    FOLLOW_SYNC,              /* ACKEPOCH sent: DIFF/TRUNC/SNAP and txns until NEWLEADER. */
    FOLLOW_NEWLEADER_DURABLE, /* Writing the current epoch (and the txns) before ACK. */
    FOLLOW_UPTODATE_WAIT,     /* NEWLEADER acked. */
    FOLLOW_UPTODATE,          /* Serving. */
};

struct zab_hist
{
    coord_zxid zxid;
    size_t len;
    uint8_t *bytes;
};

struct zab_logged
{
    uint64_t token;
    coord_zxid zxid;
};

struct zab_sync_wait
{
    uint64_t id;
    uint64_t conn;
};

struct server_zab
{
    struct coord_election el;
    struct zab_member members[COORD_ELECTION_MEMBERS_MAX]; /* Voters first, then observers. */
    size_t member_count;
    size_t voter_count;
    size_t quorum;
    size_t self; /* Our index in members. */
    int32_t init_limit_ms;
    int32_t sync_limit_ms;
    int32_t ping_ms;

    int64_t accepted_epoch; /* Durable. */
    int64_t current_epoch;  /* Durable. */
    enum zab_phase phase;
    coord_id leader;
    coord_time_ms phase_deadline_ms;
    coord_time_ms looking_since_ms;
    bool decided;
    coord_id decided_leader;
    enum coord_election_state decided_role;
    bool failed; /* Out of memory somewhere that could not return it. */

    /* Leader. */
    int64_t new_epoch;
    bool epoch_chosen;
    bool epoch_acked;
    bool own_newleader; /* Our current epoch is durable. */
    bool established;
    uint64_t epoch_token;
    coord_time_ms next_ping_ms;

    /* Storage tokens of log appends not yet reported synced, and what the
     * durable log reaches. */
    struct zab_logged *logq;
    size_t logq_head;
    size_t logq_count;
    size_t logq_cap;
    coord_zxid synced_zxid;

    /* Learner. */
    enum follow_state fstate;
    int64_t leader_epoch; /* From LEADERINFO. */
    uint64_t wait_token;
    coord_zxid newleader_zxid;
    coord_zxid last_acked;
    coord_time_ms last_leader_ms;
    struct coord_buf snap;
    uint32_t snap_next;
    coord_zxid snap_zxid;
    struct coord_u64map touched;  /* Sessions seen since the last PING answer. */
    struct coord_u64map creating; /* New session id -> connection id. */
    struct zab_sync_wait *syncs;  /* Forwarded syncs, oldest first. */
    size_t sync_head;
    size_t sync_count;
    size_t sync_cap;
    uint64_t next_sync_id;

    /* Committed txns, newest last, for DIFFs: (hist_base, newest]. */
    struct zab_hist *hist;
    size_t hist_cap;
    size_t hist_head;
    size_t hist_count;
    size_t hist_bytes;
    coord_zxid hist_base;

    struct coord_buf msg;
    struct coord_buf aux;
    uint64_t elections;
    int64_t last_election_ms;
};

/* ---- small helpers ------------------------------------------------------------------ */

static coord_zxid zxid_of(int64_t epoch, uint32_t counter)
{
    return (coord_zxid)((uint64_t)epoch << 32 | counter);
}

static int64_t epoch_of(coord_zxid zxid)
{
    return (int64_t)((uint64_t)zxid >> 32);
}

static struct zab_member *member(struct server_zab *z, coord_id id)
{
    for (size_t i = 0; i < z->member_count; i++) {
        if (z->members[i].id == id) {
            return &z->members[i];
        }
    }
    return NULL;
}

static bool is_learner_role(const struct coord_server *s)
{
    return s->role == COORD_ROLE_FOLLOWING || s->role == COORD_ROLE_OBSERVING;
}

static int zab_send(struct coord_server *s, coord_id to, const struct coord_zab_msg *m)
{
    struct server_zab *z = s->zab;
    coord_buf_reset(&z->msg);
    int rc = coord_zab_msg_encode(m, &z->msg);
    if (rc == COORD_ENOMEM || z->msg.failed) {
        z->failed = true;
        return COORD_ENOMEM;
    }
    if (rc == COORD_OK) {
        s->env.peer_send(s->env.ctx, to, z->msg.data, z->msg.len);
    }
    return rc;
}

static void send_zxid(struct coord_server *s, coord_id to, uint8_t type, coord_zxid zxid)
{
    struct coord_zab_msg m;
    memset(&m, 0, sizeof m);
    m.type = type;
    m.ack.zxid = zxid; /* ACK, COMMIT, NEWLEADER, DIFF, TRUNC share the layout. */
    zab_send(s, to, &m);
}

static void send_txn(struct coord_server *s,
                     coord_id to,
                     uint8_t type,
                     coord_zxid zxid,
                     const uint8_t *bytes,
                     size_t len)
{
    struct coord_zab_msg m;
    memset(&m, 0, sizeof m);
    m.type = type;
    m.proposal.zxid = zxid; /* PROPOSAL and INFORM share the layout. */
    m.proposal.bytes = bytes;
    m.proposal.len = len;
    zab_send(s, to, &m);
}

static uint64_t meta_write(struct coord_server *s)
{
    struct server_zab *z = s->zab;
    uint8_t b[ZAB_META_LEN];
    coord_store_be32(b, ZAB_META_MAGIC);
    coord_store_be32(b + 4, ZAB_META_VERSION);
    coord_store_be64(b + 8, (uint64_t)z->accepted_epoch);
    coord_store_be64(b + 16, (uint64_t)z->current_epoch);
    uint64_t token = ++s->token_seq;
    s->env.meta_write(s->env.ctx, b, sizeof b, token);
    return token;
}

static void logq_push(struct coord_server *s, uint64_t token, coord_zxid zxid)
{
    struct server_zab *z = s->zab;
    if (z->logq_head + z->logq_count == z->logq_cap) {
        if (z->logq_head > 0) {
            memmove(z->logq, z->logq + z->logq_head, z->logq_count * sizeof *z->logq);
            z->logq_head = 0;
        } else {
            size_t cap = z->logq_cap == 0 ? 64 : z->logq_cap * 2;
            struct zab_logged *v = coord_realloc(z->logq, cap * sizeof *v);
            if (v == NULL) {
                z->failed = true;
                return;
            }
            z->logq = v;
            z->logq_cap = cap;
        }
    }
    z->logq[z->logq_head + z->logq_count].token = token;
    z->logq[z->logq_head + z->logq_count].zxid = zxid;
    z->logq_count++;
}

/* Forget appends after zxid `after` (truncated away). */
static void logq_cut(struct server_zab *z, coord_zxid after)
{
    while (z->logq_count > 0 && z->logq[z->logq_head + z->logq_count - 1].zxid > after) {
        z->logq_count--;
    }
    if (z->synced_zxid > after) {
        z->synced_zxid = after;
    }
}

static void hist_clear(struct server_zab *z, coord_zxid base)
{
    for (size_t i = 0; i < z->hist_count; i++) {
        coord_free(z->hist[(z->hist_head + i) % z->hist_cap].bytes);
    }
    z->hist_head = 0;
    z->hist_count = 0;
    z->hist_bytes = 0;
    z->hist_base = base;
}

static const struct zab_hist *hist_at(const struct server_zab *z, size_t i)
{
    return &z->hist[(z->hist_head + i) % z->hist_cap];
}

static size_t count_voters_at_least(const struct server_zab *z, enum learner_state st)
{
    size_t n = 0;
    for (size_t i = 0; i < z->member_count; i++) {
        const struct zab_member *m = &z->members[i];
        if (!m->observer && (i == z->self || m->st >= st)) {
            n++;
        }
    }
    return n;
}

/* ---- going back to election ----------------------------------------------------------- */

static void sync_waits_clear(struct server_zab *z)
{
    z->sync_head = 0;
    z->sync_count = 0;
}

static void look(struct coord_server *s, const char *why)
{
    struct server_zab *z = s->zab;
    bool was_serving = zab_serving(s);
    s->role = COORD_ROLE_LOOKING;
    z->phase = PHASE_LOOKING;
    z->leader = 0;
    z->established = false;
    z->epoch_chosen = false;
    z->epoch_acked = false;
    z->own_newleader = false;
    z->fstate = FOLLOW_NONE;
    z->decided = false;
    for (size_t i = 0; i < z->member_count; i++) {
        z->members[i].st = LEARNER_NONE;
        z->members[i].acked = 0;
    }
    coord_buf_reset(&z->snap);
    z->snap_next = 0;
    sync_waits_clear(z);
    coord_u64map_free(&z->creating);
    coord_u64map_init(&z->creating);
    coord_u64map_free(&z->touched);
    coord_u64map_init(&z->touched);
    /* Clients must find a server that is part of a quorum; ZooKeeper drops
     * them too. Writes still pending stay logged: the next leader decides. */
    server_close_clients(s, false, was_serving ? why : "not serving: no quorum");
    coord_prep_reset(&s->prep);
    z->looking_since_ms = s->now_ms;
    server_trace(s, COORD_TRACE_ROLE, COORD_ROLE_LOOKING, z->current_epoch, 0, why);
    coord_election_restart(&z->el, s->now_ms, server_last_logged(s), z->current_epoch);
}

/* ---- election callbacks (they only record) ---------------------------------------------- */

static void el_send(void *ctx, coord_id to, const void *msg, size_t len)
{
    struct coord_server *s = ctx;
    s->env.peer_send(s->env.ctx, to, msg, len);
}

static void el_decided(void *ctx,
                       coord_id leader,
                       coord_zxid zxid,
                       int64_t epoch,
                       enum coord_election_state role)
{
    struct coord_server *s = ctx;
    struct server_zab *z = s->zab;
    z->decided = true;
    z->decided_leader = leader;
    z->decided_role = role;
    server_trace(s, COORD_TRACE_ELECTION, leader, zxid, epoch, NULL);
}

/* ---- leader ------------------------------------------------------------------------------ */

static void lead_check_epoch(struct coord_server *s);
static void lead_check_ackepoch(struct coord_server *s);
static void lead_on_followerinfo(struct coord_server *s,
                                 struct zab_member *m,
                                 const struct coord_zab_msg *msg);
static void lead_try_establish(struct coord_server *s);
static int lead_commit(struct coord_server *s);

static void lead_start(struct coord_server *s)
{
    struct server_zab *z = s->zab;
    s->role = COORD_ROLE_LEADING;
    z->leader = s->cfg.id;
    z->phase = PHASE_DISCOVERY;
    z->phase_deadline_ms = s->now_ms + z->init_limit_ms;
    z->new_epoch = 0;
    z->epoch_chosen = false;
    z->epoch_acked = false;
    z->own_newleader = false;
    z->established = false;
    for (size_t i = 0; i < z->member_count; i++) {
        z->members[i].st = LEARNER_NONE;
        z->members[i].acked = 0;
    }
    struct zab_member *me = &z->members[z->self];
    me->st = LEARNER_INFO;
    me->accepted_epoch = z->accepted_epoch;
    me->current_epoch = z->current_epoch;
    me->last_zxid = server_last_logged(s);
    for (size_t i = 0; i < z->member_count && s->role == COORD_ROLE_LEADING; i++) {
        struct zab_member *m = &z->members[i];
        if (m->stashed && s->now_ms - m->stashed_ms <= z->init_limit_ms) {
            m->stashed = false;
            lead_on_followerinfo(s, m, &m->stash);
        }
        m->stashed = false;
    }
    if (s->role == COORD_ROLE_LEADING) {
        lead_check_epoch(s);
    }
}

/* With FOLLOWERINFO from a quorum of voters, choose the new epoch. */
static void lead_check_epoch(struct coord_server *s)
{
    struct server_zab *z = s->zab;
    if (z->epoch_chosen || count_voters_at_least(z, LEARNER_INFO) < z->quorum) {
        return;
    }
    int64_t max = z->accepted_epoch;
    for (size_t i = 0; i < z->member_count; i++) {
        const struct zab_member *m = &z->members[i];
        if (m->st >= LEARNER_INFO && m->accepted_epoch > max) {
            max = m->accepted_epoch;
        }
    }
    if (max >= INT32_MAX) {
        look(s, "epochs exhausted");
        return;
    }
    z->new_epoch = max + 1;
    z->epoch_chosen = true;
    z->accepted_epoch = z->new_epoch;
    meta_write(s);
    z->members[z->self].st = LEARNER_ACKEPOCH;
    struct coord_zab_msg m;
    memset(&m, 0, sizeof m);
    m.type = COORD_ZAB_LEADERINFO;
    m.leaderinfo.new_epoch = z->new_epoch;
    for (size_t i = 0; i < z->member_count; i++) {
        if (i != z->self && z->members[i].st == LEARNER_INFO) {
            zab_send(s, z->members[i].id, &m);
        }
    }
    lead_check_ackepoch(s);
}

/* Is zxid one the leader knows (history or logged)? And the largest known
 * below a zxid. */
static bool known_zxid(const struct coord_server *s, coord_zxid zxid, bool committed_only)
{
    const struct server_zab *z = s->zab;
    if (zxid == z->hist_base) {
        return true;
    }
    for (size_t i = 0; i < z->hist_count; i++) {
        if (hist_at(z, i)->zxid == zxid) {
            return true;
        }
    }
    if (!committed_only) {
        for (const struct server_pending *p = s->pending; p != NULL; p = p->next) {
            if (p->zxid == zxid) {
                return true;
            }
        }
    }
    return false;
}

static coord_zxid known_below(const struct coord_server *s, coord_zxid zxid, bool committed_only)
{
    const struct server_zab *z = s->zab;
    coord_zxid best = z->hist_base;
    for (size_t i = 0; i < z->hist_count; i++) {
        coord_zxid x = hist_at(z, i)->zxid;
        if (x < zxid && x > best) {
            best = x;
        }
    }
    if (!committed_only) {
        for (const struct server_pending *p = s->pending; p != NULL; p = p->next) {
            if (p->zxid < zxid && p->zxid > best) {
                best = p->zxid;
            }
        }
    }
    return best;
}

static void send_snapshot(struct coord_server *s, coord_id to)
{
    struct server_zab *z = s->zab;
    coord_buf_reset(&z->aux);
    if (coord_server_snapshot(s, &z->aux) != COORD_OK || z->aux.failed) {
        z->failed = true;
        return;
    }
    uint32_t count = (uint32_t)((z->aux.len + ZAB_SNAP_CHUNK - 1) / ZAB_SNAP_CHUNK);
    for (uint32_t i = 0; i < count; i++) {
        size_t off = (size_t)i * ZAB_SNAP_CHUNK;
        size_t n = COORD_MIN(ZAB_SNAP_CHUNK, z->aux.len - off);
        struct coord_zab_msg m;
        memset(&m, 0, sizeof m);
        m.type = COORD_ZAB_SNAP;
        m.snap.zxid = s->tree.last_zxid;
        m.snap.chunk_index = i;
        m.snap.chunk_count = count;
        m.snap.bytes = z->aux.data + off;
        m.snap.len = n;
        zab_send(s, to, &m);
    }
}

/* Bring one learner level with our log: DIFF, TRUNC or SNAP, the txns after
 * the starting point, then NEWLEADER. From here on it gets every broadcast. */
static void lead_sync(struct coord_server *s, struct zab_member *m)
{
    struct server_zab *z = s->zab;
    /* Observers get committed txns only; later ones come as INFORM. */
    bool committed_only = m->observer;
    coord_zxid applied = s->tree.last_zxid;
    coord_zxid last = committed_only ? applied : server_last_logged(s);
    coord_zxid f = m->last_zxid;
    coord_zxid start;
    int kind;
    if (f == last) {
        kind = 0;
        start = f;
    } else if (f > last) {
        kind = 1;
        start = last;
    } else if (f >= z->hist_base && known_zxid(s, f, committed_only)) {
        kind = 0;
        start = f;
    } else if (f > z->hist_base) {
        kind = 1;
        start = known_below(s, f, committed_only);
    } else {
        kind = 2;
        start = applied;
    }
    server_trace_d(s, COORD_TRACE_SYNC, m->id, kind, f, start, NULL);
    if (kind == 2) {
        send_snapshot(s, m->id);
    } else {
        send_zxid(s, m->id, kind == 0 ? COORD_ZAB_DIFF : COORD_ZAB_TRUNC, start);
        for (size_t i = 0; i < z->hist_count; i++) {
            const struct zab_hist *h = hist_at(z, i);
            if (h->zxid > start) {
                send_txn(s, m->id, COORD_ZAB_PROPOSAL, h->zxid, h->bytes, h->len);
            }
        }
        if (applied > 0) {
            send_zxid(s, m->id, COORD_ZAB_COMMIT, applied);
        }
    }
    if (!committed_only) {
        for (const struct server_pending *p = s->pending; p != NULL; p = p->next) {
            if (p->zxid > start) {
                send_txn(s, m->id, COORD_ZAB_PROPOSAL, p->zxid, p->txn, p->txn_len);
            }
        }
    }
    send_zxid(s, m->id, COORD_ZAB_NEWLEADER, zxid_of(z->new_epoch, 0));
    m->st = LEARNER_SYNCING;
    m->acked = 0;
}

/* With ACKEPOCH from a quorum, make the new epoch ours and sync everyone
 * who asked. */
static void lead_check_ackepoch(struct coord_server *s)
{
    struct server_zab *z = s->zab;
    if (!z->epoch_chosen || z->epoch_acked ||
        count_voters_at_least(z, LEARNER_ACKEPOCH) < z->quorum) {
        return;
    }
    z->epoch_acked = true;
    z->current_epoch = z->new_epoch;
    z->epoch_token = meta_write(s);
    z->phase = PHASE_SYNC;
    for (size_t i = 0; i < z->member_count; i++) {
        if (i != z->self && z->members[i].st == LEARNER_ACKEPOCH) {
            lead_sync(s, &z->members[i]);
        }
    }
}

static void lead_try_establish(struct coord_server *s)
{
    struct server_zab *z = s->zab;
    if (z->established || !z->epoch_acked || !z->own_newleader ||
        count_voters_at_least(z, LEARNER_SYNCED) < z->quorum) {
        return;
    }
    z->established = true;
    z->phase = PHASE_BROADCAST;
    s->next_zxid = zxid_of(z->new_epoch, 1);
    coord_election_set_state(&z->el, COORD_ELECTION_LEADING, z->new_epoch);
    z->elections++;
    z->last_election_ms = s->now_ms - z->looking_since_ms;
    server_trace(s, COORD_TRACE_ROLE, COORD_ROLE_LEADING, z->new_epoch, s->cfg.id, "established");
    /* Every session gets a fresh timeout under a new leader (ZooKeeper too). */
    server_touch_all_sessions(s);
    /* Read-only clients were for the time without a quorum. */
    server_close_clients(s, true, "server rejoined its quorum");
    for (size_t i = 0; i < z->member_count; i++) {
        struct zab_member *m = &z->members[i];
        if (i != z->self && m->st == LEARNER_SYNCED) {
            struct coord_zab_msg msg;
            memset(&msg, 0, sizeof msg);
            msg.type = COORD_ZAB_UPTODATE;
            zab_send(s, m->id, &msg);
            m->st = LEARNER_UPTODATE;
            m->last_heard_ms = s->now_ms;
        }
    }
    z->next_ping_ms = s->now_ms;
    if (lead_commit(s) != COORD_OK || server_serve_held(s) != COORD_OK) {
        z->failed = true;
    }
}

/* Commit, in zxid order, every pending txn a quorum of voters has durable. */
static int lead_commit(struct coord_server *s)
{
    struct server_zab *z = s->zab;
    if (!z->established) {
        return COORD_OK;
    }
    coord_zxid committed = 0;
    while (s->pending != NULL && s->role == COORD_ROLE_LEADING) {
        coord_zxid zxid = s->pending->zxid;
        size_t n = z->synced_zxid >= zxid ? 1 : 0;
        for (size_t i = 0; i < z->member_count; i++) {
            const struct zab_member *m = &z->members[i];
            if (i != z->self && !m->observer && m->st >= LEARNER_SYNCED && m->acked >= zxid) {
                n++;
            }
        }
        if (n < z->quorum) {
            break;
        }
        int rc = server_commit_head(s);
        if (rc != COORD_OK) {
            return rc;
        }
        committed = zxid;
    }
    if (committed != 0 && s->role == COORD_ROLE_LEADING) {
        for (size_t i = 0; i < z->member_count; i++) {
            const struct zab_member *m = &z->members[i];
            if (i != z->self && !m->observer && m->st >= LEARNER_SYNCING) {
                send_zxid(s, m->id, COORD_ZAB_COMMIT, committed);
            }
        }
    }
    return COORD_OK;
}

static void lead_on_followerinfo(struct coord_server *s,
                                 struct zab_member *m,
                                 const struct coord_zab_msg *msg)
{
    struct server_zab *z = s->zab;
    if (msg->followerinfo.sid != m->id || msg->followerinfo.observer != m->observer) {
        return; /* Not what the configuration says it is. */
    }
    m->st = LEARNER_INFO; /* A new session of this learner, whatever came before. */
    m->acked = 0;
    m->accepted_epoch = msg->followerinfo.accepted_epoch;
    m->last_zxid = msg->followerinfo.last_zxid;
    if (z->epoch_chosen && m->accepted_epoch > z->new_epoch) {
        /* It promised a newer epoch to a candidate that never got
         * established, and would refuse ours forever: run an election whose
         * new epoch is above its promise. */
        look(s, "a learner accepted a newer epoch than ours");
        return;
    }
    if (z->epoch_chosen) {
        struct coord_zab_msg r;
        memset(&r, 0, sizeof r);
        r.type = COORD_ZAB_LEADERINFO;
        r.leaderinfo.new_epoch = z->new_epoch;
        zab_send(s, m->id, &r);
        return;
    }
    lead_check_epoch(s);
}

static void lead_on_ackepoch(struct coord_server *s,
                             struct zab_member *m,
                             const struct coord_zab_msg *msg)
{
    struct server_zab *z = s->zab;
    if (m->st != LEARNER_INFO || !z->epoch_chosen) {
        return;
    }
    m->current_epoch = msg->ackepoch.current_epoch;
    m->last_zxid = msg->ackepoch.last_zxid;
    /* While the quorum for the new epoch forms, a voter with a newer state
     * than ours at election time means the election chose badly (ZooKeeper's
     * check too); once it formed, such a learner's extra tail was never
     * committed and is truncated by its sync. */
    struct zab_member *me = &z->members[z->self];
    if (!z->epoch_acked && !m->observer &&
        (m->current_epoch > me->current_epoch ||
         (m->current_epoch == me->current_epoch && m->last_zxid > me->last_zxid))) {
        /* The election picked a leader that is behind a voter: try again. */
        look(s, "a follower is ahead of the elected leader");
        return;
    }
    m->st = LEARNER_ACKEPOCH;
    if (z->epoch_acked) {
        lead_sync(s, m);
    } else {
        lead_check_ackepoch(s);
    }
}

static void lead_on_ack(struct coord_server *s, struct zab_member *m, coord_zxid zxid)
{
    struct server_zab *z = s->zab;
    if (m->st < LEARNER_SYNCING) {
        return;
    }
    if (m->st == LEARNER_SYNCING) {
        if (zxid != zxid_of(z->new_epoch, 0)) {
            return;
        }
        m->st = LEARNER_SYNCED;
        if (z->established) {
            struct coord_zab_msg msg;
            memset(&msg, 0, sizeof msg);
            msg.type = COORD_ZAB_UPTODATE;
            zab_send(s, m->id, &msg);
            m->st = LEARNER_UPTODATE;
        }
    }
    if (!m->observer && zxid > m->acked) {
        m->acked = zxid;
    }
    if (!z->established) {
        lead_try_establish(s);
    } else {
        (void)lead_commit(s);
    }
}

/* The (auth block + wire request) a learner forwards. */
static int lead_on_request(struct coord_server *s, const struct coord_zab_msg *msg)
{
    struct server_zab *z = s->zab;
    if (!z->established) {
        return COORD_OK; /* The learner resends nothing: its client will time out. */
    }
    struct coord_reader r;
    coord_reader_init(&r, msg->request.bytes, msg->request.len);
    bool super = coord_reader_u8(&r) != 0;
    uint32_t n = coord_reader_be32(&r) & 0xffffu;
    struct coord_ident ids[64];
    size_t count = 0;
    for (uint32_t i = 0; i < n && !r.failed; i++) {
        uint32_t sl = coord_reader_be32(&r) & 0xffffu;
        const uint8_t *sp = coord_reader_bytes(&r, sl);
        uint32_t il = coord_reader_be32(&r) & 0xffffu;
        const uint8_t *ip = coord_reader_bytes(&r, il);
        if (count < 64 && !r.failed) {
            ids[count].scheme.ptr = (const char *)sp;
            ids[count].scheme.len = (int32_t)sl;
            ids[count].id.ptr = (const char *)ip;
            ids[count].id.len = (int32_t)il;
            count++;
        }
    }
    if (r.failed) {
        return COORD_OK; /* Our own learners write these: a malformed one is dropped. */
    }
    const uint8_t *payload = msg->request.bytes + r.pos;
    size_t len = msg->request.len - r.pos;
    coord_session_id session = msg->request.session;
    if (len < COORD_WIRE_REQUEST_HEADER_LEN) {
        return COORD_OK;
    }
    int32_t type = (int32_t)coord_load_be32(payload + 4);
    if (type == ZAB_CREATE_SESSION_OP) {
        if (len < COORD_WIRE_REQUEST_HEADER_LEN + 5 ||
            coord_sessions_get(&s->sessions, session) != NULL || session <= 0) {
            return COORD_OK;
        }
        int32_t timeout = (int32_t)coord_load_be32(payload + 8);
        int32_t min = coord_sessions_min_timeout(s->cfg.tick_ms, s->cfg.min_session_ms);
        int32_t max = coord_sessions_max_timeout(s->cfg.tick_ms, s->cfg.max_session_ms);
        return server_prep_create_session(
            s, NULL, session, coord_sessions_negotiate(timeout, min, max), payload[12] != 0);
    }
    struct coord_request req;
    int rc = coord_wire_decode_request(payload, len, &req);
    if (rc == COORD_ENOMEM) {
        return rc;
    }
    if (rc != COORD_EUNIMPLEMENTED) {
        struct coord_authinfo auth = {ids, count, super};
        int decode_err = rc;
        if (coord_sessions_get(&s->sessions, session) == NULL) {
            decode_err = COORD_ESESSIONEXPIRED;
        } else {
            coord_sessions_touch(&s->sessions, session, s->now_ms);
        }
        rc = server_prep_write(s, NULL, session, &auth, &req, decode_err);
    } else {
        rc = COORD_OK;
    }
    coord_wire_request_release(&req);
    return rc;
}

static void lead_on_ping(struct coord_server *s, const struct coord_zab_msg *msg)
{
    struct coord_zab_ping_iter it;
    coord_zab_ping_iter_init(&it, msg);
    coord_session_id id;
    int32_t timeout;
    while (coord_zab_ping_next(&it, &id, &timeout)) {
        const struct coord_session *sess = coord_sessions_get(&s->sessions, id);
        if (sess == NULL || sess->closing) {
            continue;
        }
        if (timeout > 0 && sess->timeout_ms != timeout) {
            coord_sessions_set_timeout(&s->sessions, id, timeout, s->now_ms);
        } else {
            coord_sessions_touch(&s->sessions, id, s->now_ms);
        }
    }
}

static int lead_on_message(struct coord_server *s,
                           struct zab_member *m,
                           const struct coord_zab_msg *msg)
{
    m->last_heard_ms = s->now_ms;
    switch (msg->type) {
        case COORD_ZAB_FOLLOWERINFO:
            lead_on_followerinfo(s, m, msg);
            break;
        case COORD_ZAB_ACKEPOCH:
            lead_on_ackepoch(s, m, msg);
            break;
        case COORD_ZAB_ACK:
            lead_on_ack(s, m, msg->ack.zxid);
            break;
        case COORD_ZAB_REQUEST:
            if (m->st >= LEARNER_SYNCED) {
                return lead_on_request(s, msg);
            }
            break;
        case COORD_ZAB_PING:
            lead_on_ping(s, msg);
            break;
        case COORD_ZAB_SYNC:
            if (m->st >= LEARNER_SYNCING) {
                /* Every COMMIT sent so far precedes this answer on the link. */
                struct coord_zab_msg r = *msg;
                zab_send(s, m->id, &r);
            }
            break;
        default:
            break; /* Not for a leader. */
    }
    return COORD_OK;
}

/* ---- learner ----------------------------------------------------------------------------- */

static void follow_start(struct coord_server *s, coord_id leader, bool observer)
{
    struct server_zab *z = s->zab;
    s->role = observer ? COORD_ROLE_OBSERVING : COORD_ROLE_FOLLOWING;
    z->leader = leader;
    z->phase = PHASE_DISCOVERY;
    z->phase_deadline_ms = s->now_ms + z->init_limit_ms;
    z->fstate = FOLLOW_LEADERINFO;
    z->last_leader_ms = s->now_ms;
    z->last_acked = 0;
    struct coord_zab_msg m;
    memset(&m, 0, sizeof m);
    m.type = COORD_ZAB_FOLLOWERINFO;
    m.followerinfo.accepted_epoch = z->accepted_epoch;
    m.followerinfo.last_zxid = server_last_logged(s);
    m.followerinfo.sid = s->cfg.id;
    m.followerinfo.observer = observer;
    zab_send(s, leader, &m);
}

static int follow_apply_to(struct coord_server *s, coord_zxid zxid)
{
    while (s->pending != NULL && s->pending->zxid <= zxid) {
        int rc = server_commit_head(s);
        if (rc != COORD_OK) {
            return rc;
        }
    }
    return COORD_OK;
}

static int follow_log(struct coord_server *s, coord_zxid zxid, const uint8_t *bytes, size_t len)
{
    struct server_zab *z = s->zab;
    struct coord_txn txn;
    coord_zxid last = server_last_logged(s);
    /* Counters run without holes inside an epoch, and a new epoch starts at
     * 1: anything else means messages went missing on a connection that
     * stayed up, and our cumulative ACKs would claim txns we lack. */
    bool next = zxid == last + 1 || (epoch_of(zxid) > epoch_of(last) && (zxid & 0xffffffff) == 1);
    if (!next) {
        look(s, "a proposal is missing: resync with the leader");
        return COORD_OK;
    }
    if (coord_txn_decode(bytes, len, &txn) != COORD_OK) {
        look(s, "leader sent a proposal that does not decode");
        return COORD_OK;
    }
    bool ok = txn.zxid == zxid;
    coord_txn_release(&txn);
    if (!ok) {
        look(s, "leader sent a proposal whose zxid does not match");
        return COORD_OK;
    }
    struct server_pending *p;
    int rc = server_log_txn(s, bytes, len, zxid, &p);
    if (rc == COORD_OK) {
        logq_push(s, p->token, zxid);
    }
    (void)z;
    return rc;
}

static int follow_on_snap(struct coord_server *s, const struct coord_zab_msg *msg)
{
    struct server_zab *z = s->zab;
    if (msg->snap.chunk_index != z->snap_next ||
        (z->snap_next > 0 && msg->snap.zxid != z->snap_zxid)) {
        look(s, "leader sent snapshot chunks out of order");
        return COORD_OK;
    }
    if (z->snap_next == 0) {
        coord_buf_reset(&z->snap);
        z->snap_zxid = msg->snap.zxid;
    }
    coord_buf_put(&z->snap, msg->snap.bytes, msg->snap.len);
    if (z->snap.failed) {
        return COORD_ENOMEM;
    }
    z->snap_next++;
    if (z->snap_next < msg->snap.chunk_count) {
        return COORD_OK;
    }
    z->snap_next = 0;
    /* Drop everything logged: the snapshot is the state, and the leader
     * resends what it has beyond it. */
    server_close_clients(s, true, "state replaced by the leader's snapshot");
    server_free_pending_from(s, 0);
    logq_cut(z, 0);
    int rc = server_load_snapshot(s, z->snap.data, z->snap.len);
    if (rc != COORD_OK) {
        if (rc == COORD_ENOMEM) {
            return rc;
        }
        look(s, "leader's snapshot does not decode");
        return COORD_OK;
    }
    if (s->tree.last_zxid != z->snap_zxid) {
        look(s, "leader's snapshot is not at the zxid it claimed");
        return COORD_OK;
    }
    s->env.log_truncate(s->env.ctx, 0);
    s->env.snapshot_write(s->env.ctx, z->snap.data, z->snap.len, z->snap_zxid);
    server_trace(s, COORD_TRACE_SNAPSHOT, z->snap_zxid, (int64_t)z->snap.len, 0, "from leader");
    hist_clear(z, z->snap_zxid);
    coord_buf_free(&z->snap);
    coord_buf_init(&z->snap);
    return COORD_OK;
}

static void follow_on_trunc(struct coord_server *s, coord_zxid zxid)
{
    struct server_zab *z = s->zab;
    if (zxid < s->tree.last_zxid) {
        /* We applied only committed txns: a leader cannot lack them. */
        look(s, "leader asked to truncate committed transactions");
        return;
    }
    int64_t dropped = 0;
    for (const struct server_pending *p = s->pending; p != NULL; p = p->next) {
        if (p->zxid > zxid) {
            dropped++;
        }
    }
    server_free_pending_from(s, zxid);
    logq_cut(z, zxid);
    s->env.log_truncate(s->env.ctx, zxid);
    server_trace(s, COORD_TRACE_TRUNCATED, zxid, dropped, 0, NULL);
}

static void follow_send_acks(struct coord_server *s)
{
    struct server_zab *z = s->zab;
    if (s->role == COORD_ROLE_OBSERVING || z->fstate < FOLLOW_UPTODATE_WAIT) {
        return;
    }
    if (z->synced_zxid > z->last_acked) {
        z->last_acked = z->synced_zxid;
        send_zxid(s, z->leader, COORD_ZAB_ACK, z->synced_zxid);
    }
}

static int follow_on_sync_answer(struct coord_server *s, uint64_t id)
{
    struct server_zab *z = s->zab;
    if (z->sync_count == 0 || z->syncs[z->sync_head].id != id) {
        return COORD_OK;
    }
    uint64_t conn = z->syncs[z->sync_head].conn;
    z->sync_head++;
    z->sync_count--;
    if (z->sync_count == 0) {
        z->sync_head = 0;
    }
    struct server_conn *c = coord_u64map_get(&s->conns, conn);
    if (c == NULL || c->state != CONN_ACTIVE) {
        return COORD_OK;
    }
    for (struct conn_slot *slot = c->slots; slot != NULL; slot = slot->next) {
        struct server_pending *rec = slot->write;
        if (rec != NULL && rec->forwarded && rec->type == COORD_OP_SYNC && rec->sync_id == id) {
            rec->sync_done = true;
            break;
        }
    }
    return server_conn_drain(s, c);
}

static void follow_on_ping(struct coord_server *s)
{
    struct server_zab *z = s->zab;
    struct coord_buf *pairs = &z->aux;
    coord_buf_reset(pairs);
    uint32_t count = 0;
    size_t pos = 0;
    uint64_t key;
    void *value;
    while (coord_u64map_next(&z->touched, &pos, &key, &value) && count < COORD_ZAB_PING_COUNT_MAX) {
        const struct coord_session *sess = coord_sessions_get(&s->sessions, (coord_session_id)key);
        if (sess != NULL) {
            coord_zab_ping_pair_put(pairs, sess->id, sess->timeout_ms);
            count++;
        }
    }
    coord_u64map_free(&z->touched);
    coord_u64map_init(&z->touched);
    if (pairs->failed) {
        z->failed = true;
        return;
    }
    struct coord_zab_msg m;
    memset(&m, 0, sizeof m);
    m.type = COORD_ZAB_PING;
    m.ping.count = count;
    m.ping.pairs = pairs->data;
    zab_send(s, z->leader, &m);
}

static int follow_on_message(struct coord_server *s, const struct coord_zab_msg *msg)
{
    struct server_zab *z = s->zab;
    z->last_leader_ms = s->now_ms;
    bool syncing = z->fstate == FOLLOW_SYNC;
    bool synced = z->fstate >= FOLLOW_SYNC;
    switch (msg->type) {
        case COORD_ZAB_LEADERINFO: {
            if (z->fstate != FOLLOW_LEADERINFO) {
                break;
            }
            int64_t e = msg->leaderinfo.new_epoch;
            if (e < z->accepted_epoch) {
                look(s, "leader proposed an epoch older than ours");
                break;
            }
            z->leader_epoch = e;
            z->phase = PHASE_SYNC;
            if (e > z->accepted_epoch) {
                z->accepted_epoch = e;
                z->wait_token = meta_write(s);
                z->fstate = FOLLOW_EPOCH_DURABLE;
                break;
            }
            struct coord_zab_msg r;
            memset(&r, 0, sizeof r);
            r.type = COORD_ZAB_ACKEPOCH;
            r.ackepoch.current_epoch = z->current_epoch;
            r.ackepoch.last_zxid = server_last_logged(s);
            z->fstate = FOLLOW_SYNC;
            zab_send(s, z->leader, &r);
            break;
        }
        case COORD_ZAB_DIFF:
            break;
        case COORD_ZAB_TRUNC:
            if (syncing) {
                follow_on_trunc(s, msg->trunc.zxid);
            }
            break;
        case COORD_ZAB_SNAP:
            if (syncing) {
                return follow_on_snap(s, msg);
            }
            break;
        case COORD_ZAB_PROPOSAL:
            /* Observers get PROPOSALs only in their sync, then INFORMs. */
            if (synced && (s->role == COORD_ROLE_FOLLOWING || syncing)) {
                return follow_log(s, msg->proposal.zxid, msg->proposal.bytes, msg->proposal.len);
            }
            break;
        case COORD_ZAB_INFORM:
            if (synced && s->role == COORD_ROLE_OBSERVING) {
                int rc = follow_log(s, msg->inform.zxid, msg->inform.bytes, msg->inform.len);
                if (rc == COORD_OK && s->role == COORD_ROLE_OBSERVING) {
                    rc = follow_apply_to(s, msg->inform.zxid);
                }
                return rc;
            }
            break;
        case COORD_ZAB_COMMIT:
            if (!synced) {
                break;
            }
            if (msg->commit.zxid > server_last_logged(s)) {
                look(s, "leader committed a proposal we never received");
                break;
            }
            return follow_apply_to(s, msg->commit.zxid);
        case COORD_ZAB_NEWLEADER:
            if (!syncing || epoch_of(msg->newleader.zxid) != z->leader_epoch) {
                break;
            }
            z->current_epoch = z->leader_epoch;
            z->newleader_zxid = msg->newleader.zxid;
            z->wait_token = meta_write(s);
            z->fstate = FOLLOW_NEWLEADER_DURABLE;
            break;
        case COORD_ZAB_UPTODATE:
            if (z->fstate != FOLLOW_UPTODATE_WAIT) {
                break;
            }
            z->fstate = FOLLOW_UPTODATE;
            z->phase = PHASE_BROADCAST;
            coord_election_set_state(&z->el,
                                     s->role == COORD_ROLE_OBSERVING ? COORD_ELECTION_OBSERVING
                                                                     : COORD_ELECTION_FOLLOWING,
                                     z->current_epoch);
            z->elections++;
            z->last_election_ms = s->now_ms - z->looking_since_ms;
            /* Read-only clients were for the time without a quorum. */
            server_close_clients(s, true, "server rejoined its quorum");
            server_trace(s, COORD_TRACE_ROLE, s->role, z->current_epoch, z->leader, "up to date");
            follow_send_acks(s);
            return server_serve_held(s);
        case COORD_ZAB_PING:
            if (z->fstate == FOLLOW_UPTODATE) {
                follow_on_ping(s);
            }
            break;
        case COORD_ZAB_SYNC:
            return follow_on_sync_answer(s, msg->sync.id);
        default:
            break;
    }
    return COORD_OK;
}

/* Storage caught up to `token`: what that unblocks. */
static void follow_on_durable(struct coord_server *s, uint64_t token)
{
    struct server_zab *z = s->zab;
    if (z->fstate == FOLLOW_EPOCH_DURABLE && token >= z->wait_token) {
        struct coord_zab_msg r;
        memset(&r, 0, sizeof r);
        r.type = COORD_ZAB_ACKEPOCH;
        r.ackepoch.current_epoch = z->current_epoch;
        r.ackepoch.last_zxid = server_last_logged(s);
        z->fstate = FOLLOW_SYNC;
        zab_send(s, z->leader, &r);
    }
    if (z->fstate == FOLLOW_NEWLEADER_DURABLE && token >= z->wait_token) {
        /* Everything sent before NEWLEADER is durable now: the NEWLEADER
         * ack first, as the leader expects, then (below) any txns of the
         * new epoch that came with the sync. */
        z->fstate = FOLLOW_UPTODATE_WAIT;
        send_zxid(s, z->leader, COORD_ZAB_ACK, z->newleader_zxid);
        z->last_acked = z->newleader_zxid;
    }
    follow_send_acks(s);
}

/* ---- the interface to server.c ------------------------------------------------------------- */

static int after_election(struct coord_server *s)
{
    struct server_zab *z = s->zab;
    if (!z->decided) {
        return COORD_OK;
    }
    z->decided = false;
    if (z->decided_role == COORD_ELECTION_LEADING) {
        lead_start(s);
    } else {
        follow_start(s, z->decided_leader, z->decided_role == COORD_ELECTION_OBSERVING);
    }
    return COORD_OK;
}

static int result(struct coord_server *s, int rc)
{
    if (rc == COORD_OK && s->zab->failed) {
        s->zab->failed = false;
        return COORD_ENOMEM;
    }
    return rc;
}

int zab_init(struct coord_server *s, const void *meta, size_t meta_len, char *err, size_t err_len)
{
    const struct coord_config *cfg = &s->cfg;
    const char *why = NULL;
    if (s->env.peer_send == NULL || s->env.meta_write == NULL || s->env.log_truncate == NULL) {
        why = "quorum mode needs peer_send, meta_write and log_truncate";
    } else if (cfg->voter_count + cfg->observer_count > COORD_ELECTION_MEMBERS_MAX) {
        why = "too many servers in the ensemble";
    }
    struct server_zab *z = NULL;
    if (why == NULL) {
        z = coord_calloc(1, sizeof *z);
        if (z == NULL) {
            return COORD_ENOMEM;
        }
        s->zab = z;
        coord_buf_init(&z->snap);
        coord_buf_init(&z->msg);
        coord_buf_init(&z->aux);
        coord_u64map_init(&z->touched);
        coord_u64map_init(&z->creating);
        struct coord_election_config ec;
        memset(&ec, 0, sizeof ec);
        ec.my_id = cfg->id;
        ec.voters = cfg->voters;
        ec.voter_count = cfg->voter_count;
        ec.observers = cfg->observers;
        ec.observer_count = cfg->observer_count;
        ec.finalize_wait_ms = cfg->election_finalize_ms;
        ec.notify_min_ms = cfg->election_notify_min_ms;
        ec.notify_max_ms = cfg->election_notify_max_ms;
        struct coord_election_cbs cbs = {s, el_send, NULL, el_decided, NULL};
        if (coord_election_init(&z->el, &ec, &cbs) != COORD_OK) {
            why = "bad ensemble: ids must be 1..127, unique, and include this server's";
        }
    }
    if (why == NULL) {
        z->voter_count = cfg->voter_count;
        z->quorum = cfg->voter_count / 2 + 1;
        for (size_t i = 0; i < cfg->voter_count + cfg->observer_count; i++) {
            struct zab_member *m = &z->members[z->member_count++];
            m->observer = i >= cfg->voter_count;
            m->id = m->observer ? cfg->observers[i - cfg->voter_count] : cfg->voters[i];
            if (m->id == cfg->id) {
                z->self = i;
            }
        }
        int32_t tick = s->cfg.tick_ms;
        int32_t il = cfg->init_limit_ticks > 0 ? cfg->init_limit_ticks : ZAB_INIT_LIMIT_DEFAULT;
        int32_t sl = cfg->sync_limit_ticks > 0 ? cfg->sync_limit_ticks : ZAB_SYNC_LIMIT_DEFAULT;
        z->init_limit_ms = il * tick;
        z->sync_limit_ms = sl * tick;
        z->ping_ms = tick / 2 > 0 ? tick / 2 : 1;
        z->hist_cap = COORD_MIN(COORD_MAX(cfg->snap_count, ZAB_HISTORY_MIN), ZAB_HISTORY_MAX);
        z->hist = coord_calloc(z->hist_cap, sizeof *z->hist);
        if (z->hist == NULL) {
            return COORD_ENOMEM;
        }
        if (meta != NULL && meta_len > 0) {
            struct coord_reader r;
            coord_reader_init(&r, meta, meta_len);
            uint32_t magic = coord_reader_be32(&r);
            uint32_t version = coord_reader_be32(&r);
            z->accepted_epoch = (int64_t)coord_reader_be64(&r);
            z->current_epoch = (int64_t)coord_reader_be64(&r);
            if (r.failed || meta_len != ZAB_META_LEN || magic != ZAB_META_MAGIC ||
                version != ZAB_META_VERSION) {
                why = "meta: not a coord epoch record (bad length, magic or version)";
            } else if (z->accepted_epoch < 0 || z->accepted_epoch > INT32_MAX ||
                       z->current_epoch < 0 || z->current_epoch > z->accepted_epoch) {
                why = "meta: epochs out of range (current must be <= accepted <= 2^31-1)";
            }
            if (why != NULL) {
                if (err != NULL && err_len > 0) {
                    size_t n = COORD_MIN(strlen(why), err_len - 1);
                    memcpy(err, why, n);
                    err[n] = '\0';
                }
                return COORD_ECORRUPT;
            }
        }
        s->role = COORD_ROLE_LOOKING;
        return COORD_OK;
    }
    if (err != NULL && err_len > 0) {
        size_t n = COORD_MIN(strlen(why), err_len - 1);
        memcpy(err, why, n);
        err[n] = '\0';
    }
    return COORD_EBADARGUMENTS;
}

void zab_close(struct coord_server *s)
{
    struct server_zab *z = s->zab;
    if (z->hist != NULL) {
        hist_clear(z, 0);
    }
    coord_free(z->hist);
    coord_free(z->logq);
    coord_free(z->syncs);
    coord_buf_free(&z->snap);
    coord_buf_free(&z->msg);
    coord_buf_free(&z->aux);
    coord_u64map_free(&z->touched);
    coord_u64map_free(&z->creating);
    coord_free(z);
    s->zab = NULL;
}

int zab_start(struct coord_server *s)
{
    struct server_zab *z = s->zab;
    hist_clear(z, s->tree.last_zxid);
    z->synced_zxid = server_last_logged(s); /* The recovered log is on disk. */
    z->looking_since_ms = s->now_ms;
    server_trace(s, COORD_TRACE_ROLE, COORD_ROLE_LOOKING, z->current_epoch, 0, "started");
    coord_election_start(&z->el, s->now_ms, server_last_logged(s), z->current_epoch);
    return result(s, after_election(s));
}

/* A leader-to-be that is not established yet hears a voter electing with a
 * vote better than its own, in the round it was elected in or a later one:
 * that voter did not hear the quorum in time, will not follow, and may be
 * the one the quorum needs (otherwise discovery waits for initLimit). It
 * elects again at once, and the better vote wins the new round. Nothing is
 * established yet, so nothing is lost. */
static void give_way(struct coord_server *s, const void *msg, size_t len)
{
    struct server_zab *z = s->zab;
    struct coord_election_notification n;
    if (coord_election_decode(msg, len, &n) != COORD_OK || n.state != COORD_ELECTION_LOOKING ||
        n.vote.leader == 0 || n.round < coord_election_round(&z->el)) {
        return;
    }
    struct coord_election_vote ours = coord_election_vote(&z->el);
    if (coord_election_vote_beats(&n.vote, &ours)) {
        look(s, "a voter with a better vote is still electing");
    }
}

/* Our leader-to-be electing in a later round than the one we followed it
 * in gave way (above): follow it back to election instead of waiting for
 * initLimit. Its notifications of our round, sent before it decided, can
 * still be on the link and are not a reason. */
static void leader_gave_up(struct coord_server *s, const void *msg, size_t len)
{
    struct server_zab *z = s->zab;
    struct coord_election_notification n;
    if (coord_election_decode(msg, len, &n) == COORD_OK && n.state == COORD_ELECTION_LOOKING &&
        n.round > coord_election_round(&z->el)) {
        look(s, "leader-to-be went back to election");
    }
}

int zab_on_peer_message(struct coord_server *s, coord_id from, const void *msg, size_t len)
{
    struct server_zab *z = s->zab;
    struct zab_member *m = member(z, from);
    if (m == NULL || from == s->cfg.id || len == 0) {
        return COORD_OK;
    }
    const uint8_t *b = msg;
    if (b[0] == COORD_ELECTION_MSG_TYPE) {
        if (s->role == COORD_ROLE_LEADING && !z->established) {
            give_way(s, msg, len);
        } else if (is_learner_role(s) && from == z->leader && z->fstate != FOLLOW_UPTODATE) {
            leader_gave_up(s, msg, len);
        }
        if (is_learner_role(s) && from == z->leader && z->fstate == FOLLOW_UPTODATE && len > 2 &&
            b[2] == COORD_ELECTION_LOOKING) {
            /* Our leader is electing again (it lost its quorum): no need to
             * wait syncLimit to notice. Everything it sent before comes
             * first on the link, so this is not a stale message. */
            look(s, "leader went back to election");
        }
        (void)coord_election_on_message(&z->el, from, msg, len, s->now_ms);
        return result(s, after_election(s));
    }
    struct coord_zab_msg decoded;
    if (coord_zab_msg_decode(msg, len, &decoded) != COORD_OK) {
        return COORD_OK; /* Malformed: dropped. */
    }
    int rc = COORD_OK;
    if (s->role == COORD_ROLE_LOOKING && decoded.type == COORD_ZAB_FOLLOWERINFO) {
        m->stashed = true;
        m->stashed_ms = s->now_ms;
        m->stash = decoded; /* No borrowed bytes in a FOLLOWERINFO. */
    } else if (s->role == COORD_ROLE_LEADING) {
        rc = lead_on_message(s, m, &decoded);
    } else if (is_learner_role(s) && from == z->leader) {
        rc = follow_on_message(s, &decoded);
    }
    return result(s, rc);
}

int zab_on_peer_up(struct coord_server *s, coord_id peer)
{
    struct server_zab *z = s->zab;
    coord_election_on_peer_up(&z->el, peer, s->now_ms);
    int rc = after_election(s);
    if (is_learner_role(s) && peer == z->leader && z->fstate == FOLLOW_LEADERINFO) {
        follow_start(s, z->leader, s->role == COORD_ROLE_OBSERVING);
    }
    return result(s, rc);
}

int zab_on_peer_down(struct coord_server *s, coord_id peer)
{
    struct server_zab *z = s->zab;
    coord_election_on_peer_down(&z->el, peer);
    if (s->role == COORD_ROLE_LEADING) {
        struct zab_member *m = member(z, peer);
        if (m != NULL && peer != s->cfg.id) {
            m->st = LEARNER_NONE; /* It comes back with a new FOLLOWERINFO. */
            m->acked = 0;
        }
    } else if (is_learner_role(s) && peer == z->leader) {
        look(s, "connection to the leader broke");
    }
    return result(s, COORD_OK);
}

int zab_on_synced(struct coord_server *s, uint64_t token)
{
    struct server_zab *z = s->zab;
    while (z->logq_count > 0 && z->logq[z->logq_head].token <= token) {
        z->synced_zxid = z->logq[z->logq_head].zxid;
        z->logq_head++;
        z->logq_count--;
    }
    if (z->logq_count == 0) {
        z->logq_head = 0;
    }
    int rc = COORD_OK;
    if (s->role == COORD_ROLE_LEADING) {
        if (z->epoch_acked && !z->own_newleader && token >= z->epoch_token) {
            z->own_newleader = true;
            lead_try_establish(s);
        }
        rc = lead_commit(s);
    } else if (is_learner_role(s)) {
        follow_on_durable(s, token);
    }
    return result(s, rc);
}

int zab_on_timeout(struct coord_server *s)
{
    struct server_zab *z = s->zab;
    coord_election_on_timeout(&z->el, s->now_ms);
    int rc = after_election(s);
    coord_time_ms now = s->now_ms;
    if (s->role == COORD_ROLE_LEADING) {
        if (!z->established && now >= z->phase_deadline_ms) {
            look(s, "no quorum of followers synced within initLimit");
        } else if (z->established && now >= z->next_ping_ms) {
            size_t alive = 1;
            struct coord_zab_msg ping;
            memset(&ping, 0, sizeof ping);
            ping.type = COORD_ZAB_PING;
            for (size_t i = 0; i < z->member_count; i++) {
                struct zab_member *m = &z->members[i];
                if (i == z->self || m->st < LEARNER_SYNCING) {
                    continue;
                }
                zab_send(s, m->id, &ping);
                if (!m->observer && m->st >= LEARNER_SYNCED &&
                    now - m->last_heard_ms <= z->sync_limit_ms) {
                    alive++;
                }
            }
            z->next_ping_ms = now + z->ping_ms;
            if (alive < z->quorum) {
                look(s, "lost quorum");
            }
        }
    } else if (is_learner_role(s)) {
        if (z->phase != PHASE_BROADCAST && now >= z->phase_deadline_ms) {
            look(s, "sync with the leader took longer than initLimit");
        } else if (z->phase == PHASE_BROADCAST && now - z->last_leader_ms > z->sync_limit_ms) {
            look(s, "leader silent for syncLimit");
        }
    }
    return result(s, rc);
}

int64_t zab_deadline(const struct coord_server *s)
{
    const struct server_zab *z = s->zab;
    int64_t d = coord_election_deadline(&z->el);
    int64_t mine = INT64_MAX;
    if (s->role == COORD_ROLE_LEADING) {
        mine = z->established ? z->next_ping_ms : z->phase_deadline_ms;
    } else if (is_learner_role(s)) {
        mine = z->phase == PHASE_BROADCAST ? z->last_leader_ms + z->sync_limit_ms + 1
                                           : z->phase_deadline_ms;
    }
    return mine < d ? mine : d;
}

bool zab_serving(const struct coord_server *s)
{
    const struct server_zab *z = s->zab;
    if (z == NULL) {
        return true;
    }
    if (s->role == COORD_ROLE_LEADING) {
        return z->established;
    }
    return is_learner_role(s) && z->fstate == FOLLOW_UPTODATE;
}

bool zab_is_leader(const struct coord_server *s)
{
    return s->role == COORD_ROLE_LEADING;
}

void zab_proposed(struct coord_server *s, const struct server_pending *p)
{
    struct server_zab *z = s->zab;
    logq_push(s, p->token, p->zxid);
    int64_t sent = 0;
    for (size_t i = 0; i < z->member_count; i++) {
        const struct zab_member *m = &z->members[i];
        if (i != z->self && !m->observer && m->st >= LEARNER_SYNCING) {
            send_txn(s, m->id, COORD_ZAB_PROPOSAL, p->zxid, p->txn, p->txn_len);
            sent++;
        }
    }
    server_trace(s, COORD_TRACE_PROPOSAL, p->zxid, sent, 0, NULL);
}

int zab_applied(struct coord_server *s, const uint8_t *txn, size_t len, coord_zxid zxid)
{
    struct server_zab *z = s->zab;
    uint8_t *copy = coord_malloc(len == 0 ? 1 : len);
    if (copy == NULL) {
        return COORD_ENOMEM;
    }
    memcpy(copy, txn, len);
    while (z->hist_count > 0 &&
           (z->hist_count == z->hist_cap || z->hist_bytes + len > ZAB_HISTORY_BYTES_MAX)) {
        struct zab_hist *old = &z->hist[z->hist_head];
        z->hist_base = old->zxid;
        z->hist_bytes -= old->len;
        coord_free(old->bytes);
        z->hist_head = (z->hist_head + 1) % z->hist_cap;
        z->hist_count--;
    }
    z->hist_bytes += len;
    struct zab_hist *h = &z->hist[(z->hist_head + z->hist_count) % z->hist_cap];
    h->zxid = zxid;
    h->len = len;
    h->bytes = copy;
    z->hist_count++;
    if (s->role == COORD_ROLE_LEADING && z->established) {
        for (size_t i = 0; i < z->member_count; i++) {
            const struct zab_member *m = &z->members[i];
            if (i != z->self && m->observer && m->st >= LEARNER_SYNCING) {
                send_txn(s, m->id, COORD_ZAB_INFORM, zxid, txn, len);
            }
        }
    }
    return COORD_OK;
}

/* A forwarded request's record in the connection's reply queue. */
static struct server_pending *forward_record(struct coord_server *s,
                                             struct server_conn *c,
                                             int32_t xid,
                                             int32_t type,
                                             size_t extra)
{
    struct server_pending *rec = coord_malloc(sizeof *rec + extra);
    struct conn_slot *slot = coord_malloc(sizeof *slot);
    if (rec == NULL || slot == NULL) {
        coord_free(rec);
        coord_free(slot);
        return NULL;
    }
    memset(rec, 0, sizeof *rec);
    rec->forwarded = true;
    rec->xid = xid;
    rec->type = type;
    rec->session = c->session;
    rec->started_ms = s->now_ms;
    slot->write = rec;
    slot->len = 0;
    server_push_slot(c, slot);
    return rec;
}

static void put_auth(struct coord_buf *b, const struct server_conn *c)
{
    coord_buf_u8(b, c != NULL && c->super ? 1 : 0);
    size_t n = c != NULL ? c->id_count : 0;
    coord_buf_be32(b, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        const struct coord_ident *x = &c->ids[i];
        coord_buf_be32(b, (uint32_t)x->scheme.len);
        coord_buf_put(b, x->scheme.ptr, (size_t)x->scheme.len);
        coord_buf_be32(b, (uint32_t)x->id.len);
        coord_buf_put(b, x->id.ptr, (size_t)x->id.len);
    }
}

static int send_request(struct coord_server *s,
                        coord_session_id session,
                        int32_t cxid,
                        struct coord_buf *body)
{
    struct server_zab *z = s->zab;
    if (body->failed) {
        return COORD_ENOMEM;
    }
    struct coord_zab_msg m;
    memset(&m, 0, sizeof m);
    m.type = COORD_ZAB_REQUEST;
    m.request.session = session;
    m.request.cxid = cxid;
    m.request.bytes = body->data;
    m.request.len = body->len;
    int rc = zab_send(s, z->leader, &m);
    return rc == COORD_ENOMEM ? rc : COORD_OK;
}

int zab_forward(struct coord_server *s,
                struct server_conn *c,
                const struct coord_request *req,
                const uint8_t *payload,
                size_t len)
{
    struct server_zab *z = s->zab;
    uint32_t op_count = req->type == COORD_OP_MULTI ? req->op_count : 0;
    struct server_pending *rec =
        forward_record(s, c, req->xid, req->type, op_count * sizeof(int32_t));
    if (rec == NULL) {
        return COORD_ENOMEM;
    }
    rec->op_count = op_count;
    for (uint32_t i = 0; i < op_count; i++) {
        int32_t t = req->ops[i].type;
        memcpy(rec->txn + i * sizeof t, &t, sizeof t);
    }
    s->stats.writes_total++;
    struct coord_buf *b = &z->aux;
    coord_buf_reset(b);
    put_auth(b, c);
    coord_buf_put(b, payload, len);
    return send_request(s, c->session, req->xid, b);
}

int zab_forward_sync(struct coord_server *s, struct server_conn *c, const struct coord_request *req)
{
    struct server_zab *z = s->zab;
    size_t plen = req->op.path.ptr != NULL && req->op.path.len > 0 ? (size_t)req->op.path.len : 0;
    struct server_pending *rec = forward_record(s, c, req->xid, COORD_OP_SYNC, plen);
    if (rec == NULL) {
        return COORD_ENOMEM;
    }
    memcpy(rec->txn, req->op.path.ptr, plen);
    rec->txn_len = plen;
    rec->sync_id = ++z->next_sync_id;
    if (z->sync_head + z->sync_count == z->sync_cap) {
        if (z->sync_head > 0) {
            memmove(z->syncs, z->syncs + z->sync_head, z->sync_count * sizeof *z->syncs);
            z->sync_head = 0;
        } else {
            size_t cap = z->sync_cap == 0 ? 16 : z->sync_cap * 2;
            struct zab_sync_wait *v = coord_realloc(z->syncs, cap * sizeof *v);
            if (v == NULL) {
                return COORD_ENOMEM;
            }
            z->syncs = v;
            z->sync_cap = cap;
        }
    }
    z->syncs[z->sync_head + z->sync_count].id = rec->sync_id;
    z->syncs[z->sync_head + z->sync_count].conn = c->id;
    z->sync_count++;
    struct coord_zab_msg m;
    memset(&m, 0, sizeof m);
    m.type = COORD_ZAB_SYNC;
    m.sync.id = rec->sync_id;
    return zab_send(s, z->leader, &m) == COORD_ENOMEM ? COORD_ENOMEM : COORD_OK;
}

int zab_forward_create_session(struct coord_server *s,
                               struct server_conn *c,
                               coord_session_id id,
                               int32_t timeout_ms,
                               bool has_readonly)
{
    struct server_zab *z = s->zab;
    struct server_pending *rec = forward_record(s, c, 0, COORD_OP_CREATESESSION, 0);
    if (rec == NULL) {
        return COORD_ENOMEM;
    }
    rec->session = id;
    rec->timeout_ms = timeout_ms;
    rec->has_readonly = has_readonly;
    if (coord_u64map_put(&z->creating, (uint64_t)id, (void *)(uintptr_t)c->id) != COORD_OK) {
        return COORD_ENOMEM;
    }
    struct coord_buf *b = &z->aux;
    coord_buf_reset(b);
    put_auth(b, NULL);
    coord_buf_be32(b, 0);
    coord_buf_be32(b, (uint32_t)ZAB_CREATE_SESSION_OP);
    coord_buf_be32(b, (uint32_t)timeout_ms);
    coord_buf_u8(b, has_readonly ? 1 : 0);
    return send_request(s, id, 0, b);
}

struct server_conn *zab_match_local(struct coord_server *s,
                                    const struct coord_txn *txn,
                                    struct server_pending **req)
{
    struct server_zab *z = s->zab;
    struct server_conn *c = NULL;
    if (txn->type == COORD_OP_CREATESESSION) {
        void *v = coord_u64map_del(&z->creating, (uint64_t)txn->session);
        if (v == NULL) {
            return NULL;
        }
        c = coord_u64map_get(&s->conns, (uint64_t)(uintptr_t)v);
        if (c == NULL || c->state != CONN_HANDSHAKE) {
            return NULL;
        }
    } else {
        const struct coord_session *sess = coord_sessions_get(&s->sessions, txn->session);
        if (sess == NULL || sess->conn == 0) {
            return NULL;
        }
        c = coord_u64map_get(&s->conns, sess->conn);
        if (c == NULL || c->state != CONN_ACTIVE) {
            return NULL;
        }
    }
    struct server_pending *rec = c->slots != NULL ? c->slots->write : NULL;
    if (rec == NULL || !rec->forwarded || rec->type == COORD_OP_SYNC || rec->xid != txn->cxid ||
        (txn->type == COORD_OP_CREATESESSION) != (rec->type == COORD_OP_CREATESESSION)) {
        return NULL;
    }
    *req = rec;
    return c;
}

void zab_session_touched(struct coord_server *s, coord_session_id id)
{
    struct server_zab *z = s->zab;
    if (id != 0 && is_learner_role(s)) {
        if (coord_u64map_put(&z->touched, (uint64_t)id, (void *)1) != COORD_OK) {
            z->failed = true;
        }
    }
}

void zab_info(const struct coord_server *s, struct coord_quorum_info *out)
{
    const struct server_zab *z = s->zab;
    out->role = s->role;
    out->serving = zab_serving(s);
    out->read_only = !out->serving && s->cfg.read_only_enabled;
    out->leader = z->leader;
    out->accepted_epoch = z->accepted_epoch;
    out->current_epoch = z->current_epoch;
    out->elections = z->elections;
    out->last_election_ms = z->last_election_ms;
    if (s->role != COORD_ROLE_LEADING) {
        return;
    }
    for (size_t i = 0; i < z->member_count; i++) {
        const struct zab_member *m = &z->members[i];
        if (i == z->self || m->st == LEARNER_NONE) {
            continue;
        }
        out->learners++;
        if (m->st >= LEARNER_SYNCED) {
            if (m->observer) {
                out->synced_observers++;
            } else {
                out->synced_followers++;
            }
        } else if (m->st == LEARNER_SYNCING) {
            out->pending_syncs++;
        }
    }
}
