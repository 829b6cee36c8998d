/* Leader election, after Apache ZooKeeper's FastLeaderElection (3.8).
 *
 * A pure state machine: it reads no clock (time arrives as arguments), never
 * allocates (every set is a bounded array inside struct coord_election), and
 * acts only through the callbacks given at init, which only enqueue.
 *
 * The rules, as in ZooKeeper:
 *  - A vote names a proposed leader with that server's last logged zxid and
 *    its current epoch. Vote A beats vote B iff A.epoch > B.epoch, or the
 *    epochs are equal and A.zxid > B.zxid, or both are equal and A.leader >
 *    B.leader (totalOrderPredicate). Only voters can be proposed.
 *  - Going LOOKING increments the logical clock (the round), proposes self and
 *    notifies every other voter. From a LOOKING voter: a higher round is
 *    adopted (received votes cleared, proposal = the better of its vote and
 *    our own, resent); a lower round is ignored but answered with our
 *    notification so the laggard catches up; in the same round a better vote
 *    is adopted and resent. Every vote of the round is recorded, ours
 *    included. Once a majority of voters agrees with our proposal we wait
 *    finalize_wait_ms for a better vote; if none comes we decide: LEADING if
 *    the proposal is us, else FOLLOWING (OBSERVING for an observer).
 *  - Notifications from FOLLOWING/LEADING voters describe an established
 *    ensemble: kept by sender, they let us follow a leader that a majority
 *    follows and that itself reports LEADING (checkLeader), without forcing a
 *    new round on them. A voter that is not LOOKING answers LOOKING voters
 *    with its decided vote, round and state.
 *  - With no notification for notify_min_ms (doubling up to notify_max_ms),
 *    a looker resends its notification to every voter. A connection to a
 *    voter coming up (PEER_UP) while LOOKING gets our notification too.
 *  - Observers run the election only to learn the leader: they propose no
 *    one (the null vote, leader 0), are never counted in a quorum, and their
 *    notifications are only answered, never recorded.
 *
 * Where it differs from ZooKeeper (see election.c for why): a quorum that
 * includes every voter we are connected to decides at once, without the
 * finalize window; otherwise the finalize
 * window is one fixed window from the moment a quorum is seen (ZooKeeper
 * restarts its 200 ms poll after every non-better message); a LOOKING voter
 * answers an observer with its current proposal (ZooKeeper sends its
 * last decided vote); only voters answer notifications, and only LOOKING ones
 * (ZooKeeper answers an observer's every message, which can ping-pong); a
 * notification carries its sender's id, checked against the connection's.
 *
 * The message ("notification") is COORD_ELECTION_MSG_LEN bytes, big-endian:
 *    0  u8    type     COORD_ELECTION_MSG_TYPE (0x45, 'E'): zab dispatches on it
 *    1  u8    version  COORD_ELECTION_MSG_VERSION (1)
 *    2  u8    state    sender's state: 0 LOOKING, 1 FOLLOWING, 2 LEADING, 3 OBSERVING
 *    3  u8    reserved 0
 *    4  be32  sender   1..COORD_SERVER_ID_MAX
 *    8  be32  leader   proposed leader, 1..COORD_SERVER_ID_MAX; 0 = the null vote
 *                      (a LOOKING observer's), whose zxid and epoch are then 0
 *   12  be64  zxid     the proposed leader's last logged zxid, >= 0
 *   20  be64  epoch    the proposed leader's current epoch, 0..INT32_MAX
 *   28  be64  round    the sender's logical clock, 1..COORD_ELECTION_ROUND_MAX
 * Anything else (length, type, version, state, reserved, ids, ranges) is
 * dropped and counted in stats.malformed. */
#ifndef COORD_ELECTION_H
#define COORD_ELECTION_H

#include "coord/types.h"

#define COORD_ELECTION_MSG_TYPE 0x45 /* 'E' */
#define COORD_ELECTION_MSG_VERSION 1
#define COORD_ELECTION_MSG_LEN 36
#define COORD_ELECTION_MEMBERS_MAX 16 /* Voters and observers together, self included. */
/* The largest round accepted from a peer. Our own round may pass it (each
 * restart adds 1) and is sent up to INT64_MAX, which 2^62 restarts would not
 * reach: a peer announcing an absurd round cannot make us fail. */
#define COORD_ELECTION_ROUND_MAX (UINT64_C(1) << 62)

/* Defaults for a config value of 0. ZooKeeper's finalizeWait and
 * minNotificationInterval are 200 ms; its maxNotificationInterval is 60 s,
 * which real/ should configure. The default here is short so that tests and
 * simulations of long partitions stay quick. */
#define COORD_ELECTION_FINALIZE_WAIT_MS 200
#define COORD_ELECTION_NOTIFY_MIN_MS 200
#define COORD_ELECTION_NOTIFY_MAX_MS 3200

#define COORD_ELECTION_NEVER INT64_MAX /* "No deadline". */

/* A server's state, numbered as ZooKeeper's ServerState (and on the wire). */
enum coord_election_state {
    COORD_ELECTION_LOOKING = 0,
    COORD_ELECTION_FOLLOWING = 1,
    COORD_ELECTION_LEADING = 2,
    COORD_ELECTION_OBSERVING = 3,
};

struct coord_election_vote
{
    coord_id leader; /* 0 = the null vote (an observer proposes no one). */
    coord_zxid zxid; /* The proposed leader's last logged zxid. */
    int64_t epoch;   /* The proposed leader's current epoch (peerEpoch). */
};

/* One decoded notification. */
struct coord_election_notification
{
    enum coord_election_state state; /* The sender's. */
    coord_id sender;
    struct coord_election_vote vote;
    uint64_t round; /* The sender's logical clock (electionEpoch). */
};

/* True iff `a` beats `b` (ZooKeeper's totalOrderPredicate, without its
 * voter check, which needs the configuration). */
bool coord_election_vote_beats(const struct coord_election_vote *a,
                               const struct coord_election_vote *b);

/* Encode a valid notification (asserted) into exactly COORD_ELECTION_MSG_LEN
 * bytes. */
void coord_election_encode(const struct coord_election_notification *n,
                           uint8_t out[COORD_ELECTION_MSG_LEN]);
/* COORD_OK and *out filled, or COORD_EMARSHALLING for anything the format
 * above does not allow (out is then unspecified). Never reads past len. */
int coord_election_decode(const void *msg, size_t len, struct coord_election_notification *out);

/* ---- tracing: for checkers, teaching plots and logs ------------------------------- */

enum coord_election_trace_type {
    COORD_ELECTION_TRACE_ROUND = 1, /* A round began: round; peer = 0 when we started it,
                                       else the voter whose higher round we adopted. */
    COORD_ELECTION_TRACE_VOTE,      /* Our proposal changed to `vote`. */
    COORD_ELECTION_TRACE_SENT,      /* To `peer`: vote, state, peer_round = round sent. */
    COORD_ELECTION_TRACE_RECEIVED,  /* From `peer` (well formed): vote, state, peer_round. */
    COORD_ELECTION_TRACE_DROPPED,   /* From `peer`: malformed, dropped. */
    COORD_ELECTION_TRACE_RESEND,    /* Notification timeout: resent to all voters;
                                       interval_ms = the next timeout. */
    COORD_ELECTION_TRACE_QUORUM,    /* A quorum agrees with our proposal: the finalize window
                                       opens (votes_for of voter_count). */
    COORD_ELECTION_TRACE_DECIDED,   /* vote = the leader's, state = our role, votes_for of
                                       voter_count agreed, elapsed_ms since we went LOOKING,
                                       out_of_election: learnt from an established ensemble. */
};

struct coord_election_trace
{
    enum coord_election_trace_type type;
    coord_time_ms now_ms;
    coord_id peer;
    uint64_t round; /* Our logical clock. */
    uint64_t peer_round;
    struct coord_election_vote vote;
    enum coord_election_state state;
    uint32_t votes_for;
    uint32_t voter_count;
    int64_t interval_ms;
    int64_t elapsed_ms;
    bool out_of_election;
};

/* ---- the state machine --------------------------------------------------------------- */

/* Outputs. Each callback only enqueues: it must not call back into the
 * election before returning. Buffers are borrowed for the call. */
struct coord_election_cbs
{
    void *ctx;
    /* Send one notification to server `to` (a voter or an observer). */
    void (*send)(void *ctx, coord_id to, const void *msg, size_t len);
    /* The election's next deadline changed (COORD_ELECTION_NEVER: none). May
     * be NULL: coord_election_deadline() gives the same value to a host that
     * merges it with timers of its own. */
    void (*wake_at)(void *ctx, coord_time_ms deadline_ms);
    /* The election ended: `leader`, with that leader's zxid and epoch as
     * voted, and our role (LEADING, FOLLOWING or OBSERVING). */
    void (*decided)(void *ctx,
                    coord_id leader,
                    coord_zxid zxid,
                    int64_t epoch,
                    enum coord_election_state role);
    /* May be NULL. */
    void (*trace)(void *ctx, const struct coord_election_trace *ev);
};

struct coord_election_config
{
    coord_id my_id;            /* Must be among the voters or the observers. */
    const coord_id *voters;    /* 1..COORD_SERVER_ID_MAX each, no duplicates. */
    size_t voter_count;        /* >= 1 */
    const coord_id *observers; /* May be NULL when observer_count is 0. */
    size_t observer_count;     /* voters + observers <= COORD_ELECTION_MEMBERS_MAX */
    int32_t finalize_wait_ms;  /* 0 = COORD_ELECTION_FINALIZE_WAIT_MS */
    int32_t notify_min_ms;     /* 0 = COORD_ELECTION_NOTIFY_MIN_MS */
    int32_t notify_max_ms;     /* 0 = COORD_ELECTION_NOTIFY_MAX_MS; >= notify_min_ms */
};

struct coord_election_stats
{
    uint64_t sent;      /* Notifications sent. */
    uint64_t received;  /* Well formed notifications from members. */
    uint64_t malformed; /* Dropped by decode, or naming a sender other than the connection's. */
    uint64_t ignored;   /* Well formed but useless: before start, from a non-member or
                           from self, or proposing a non-voter. */
    uint64_t rounds;    /* Rounds begun (our own and adopted ones). */
    uint64_t resends;   /* Notification timeouts that resent to all voters. */
    uint64_t decisions;
};

/* A slot per member: the vote last heard from it. */
struct coord_election_slot
{
    bool used;
    enum coord_election_state state;
    uint64_t round;
    struct coord_election_vote vote;
};

/* Caller-allocated; everything is inline (no allocation, ever). The fields are
 * private: use the accessors below. */
struct coord_election
{
    struct coord_election_cbs cbs;
    coord_id my_id;
    bool i_vote;
    uint32_t member_count;
    uint32_t voter_count;
    coord_id members[COORD_ELECTION_MEMBERS_MAX];
    bool member_votes[COORD_ELECTION_MEMBERS_MAX];
    bool down[COORD_ELECTION_MEMBERS_MAX]; /* Connection reported down (PEER_DOWN). */
    int32_t finalize_wait_ms;
    int32_t notify_min_ms;
    int32_t notify_max_ms;

    bool started;
    enum coord_election_state state;
    uint64_t round;                      /* The logical clock. */
    struct coord_election_vote own;      /* What we propose when starting a round. */
    struct coord_election_vote proposal; /* LOOKING: our current vote. */
    struct coord_election_vote current;  /* Not LOOKING: the decided vote... */
    uint64_t current_round;              /* ...and the round it was decided in. */
    struct coord_election_slot recv[COORD_ELECTION_MEMBERS_MAX]; /* This round's votes. */
    struct coord_election_slot ooe[COORD_ELECTION_MEMBERS_MAX];  /* FOLLOWING/LEADING ones. */
    bool finalizing;
    coord_time_ms finalize_deadline_ms;
    int32_t notify_interval_ms;
    coord_time_ms notify_deadline_ms;
    coord_time_ms looking_since_ms;
    coord_time_ms wake_ms; /* The deadline last given to wake_at. */
    struct coord_election_stats stats;
};

/* Check and copy the configuration; `cbs` is copied (send and decided are
 * required). COORD_OK, or COORD_EBADARGUMENTS for an id out of range or
 * repeated, my_id not a member, no voters, too many members, or negative or
 * inconsistent times (the election is then unusable). Sends nothing. */
int coord_election_init(struct coord_election *e,
                        const struct coord_election_config *cfg,
                        const struct coord_election_cbs *cbs);

/* Go LOOKING: a new round (logical clock + 1) proposing ourselves with our
 * last logged zxid and current epoch (both >= 0; ignored for an observer),
 * notifying every other voter. Also right whenever called again. */
void coord_election_start(struct coord_election *e,
                          coord_time_ms now_ms,
                          coord_zxid my_last_zxid,
                          int64_t my_current_epoch);
/* The same, named for its use by zab: it lost its leader or its quorum. */
void coord_election_restart(struct coord_election *e,
                            coord_time_ms now_ms,
                            coord_zxid my_last_zxid,
                            int64_t my_current_epoch);

/* A message from server `from` whose first byte is COORD_ELECTION_MSG_TYPE.
 * COORD_OK when it was well formed (acted on or ignored), COORD_EMARSHALLING
 * when it was dropped as malformed. */
int coord_election_on_message(struct coord_election *e,
                              coord_id from,
                              const void *msg,
                              size_t len,
                              coord_time_ms now_ms);
/* Time passed: act on every deadline <= now_ms. Calls with nothing due are
 * harmless, so a host may call it on any wake-up. */
void coord_election_on_timeout(struct coord_election *e, coord_time_ms now_ms);
/* The connection to `peer` is (re)established. */
void coord_election_on_peer_up(struct coord_election *e, coord_id peer, coord_time_ms now_ms);
/* The connection to `peer` broke: its vote cannot come, so once every other
 * voter agrees with us the finalize window is skipped. */
void coord_election_on_peer_down(struct coord_election *e, coord_id peer);

/* Zab established itself after a decision: from now on lookers are answered
 * with `state` and a vote whose epoch is `peer_epoch` (ZooKeeper's
 * updateElectionVote: the new epoch, the same on every member). Must be called
 * only while not LOOKING; LEADING only if we are the decided leader, OBSERVING
 * only by an observer (asserted). */
void coord_election_set_state(struct coord_election *e,
                              enum coord_election_state state,
                              int64_t peer_epoch);

/* ---- accessors --------------------------------------------------------------------- */

enum coord_election_state coord_election_state(const struct coord_election *e);
/* The logical clock. */
uint64_t coord_election_round(const struct coord_election *e);
/* LOOKING: our current proposal; otherwise the decided vote. */
struct coord_election_vote coord_election_vote(const struct coord_election *e);
/* The next deadline, or COORD_ELECTION_NEVER. */
coord_time_ms coord_election_deadline(const struct coord_election *e);
/* The current notification timeout (grows while nothing is heard). */
int32_t coord_election_notify_interval(const struct coord_election *e);
const struct coord_election_stats *coord_election_stats(const struct coord_election *e);

#endif /* COORD_ELECTION_H */
