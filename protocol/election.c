/* Leader election after ZooKeeper's FastLeaderElection: see election.h for
 * the rules and the message format.
 *
 * ZooKeeper runs the election as a loop (lookForLeader) polling a queue fed
 * by a receiver thread that also answers lookers. Here both live in one event
 * handler: the receiver's answers come first (election_answer), then the
 * loop's body (election_process). The loop's two blocking polls become two
 * deadlines: the notification timeout, and the finalize window once a quorum
 * agrees with us. */
#include "coord/election.h"

#include "coord/util.h"

#define ELECTION_NO_INDEX UINT32_MAX

/* ---- the vote order and the message format ------------------------------------------ */

bool coord_election_vote_beats(const struct coord_election_vote *a,
                               const struct coord_election_vote *b)
{
    if (a->epoch != b->epoch) {
        return a->epoch > b->epoch;
    }
    if (a->zxid != b->zxid) {
        return a->zxid > b->zxid;
    }
    return a->leader > b->leader;
}

static bool election_state_valid(uint32_t state)
{
    return state <= COORD_ELECTION_OBSERVING;
}

static bool election_id_valid(uint32_t id)
{
    return id >= 1 && id <= COORD_SERVER_ID_MAX;
}

/* The null vote is an observer's proposal: no one, nothing. */
static bool election_vote_is_null(const struct coord_election_vote *v)
{
    return v->leader == 0 && v->zxid == 0 && v->epoch == 0;
}

/* Received rounds stop at COORD_ELECTION_ROUND_MAX; our own may go past it by
 * restarting after adopting such a round, up to what a signed long holds. */
static bool election_notification_valid(const struct coord_election_notification *n,
                                        uint64_t round_max)
{
    if (!election_state_valid((uint32_t)n->state) || !election_id_valid(n->sender)) {
        return false;
    }
    if (n->round < 1 || n->round > round_max) {
        return false;
    }
    if (n->vote.leader == 0) {
        /* Only a looker may propose no one. */
        return n->state == COORD_ELECTION_LOOKING && election_vote_is_null(&n->vote);
    }
    return election_id_valid(n->vote.leader) && n->vote.zxid >= 0 && n->vote.epoch >= 0 &&
           n->vote.epoch <= INT32_MAX;
}

void coord_election_encode(const struct coord_election_notification *n,
                           uint8_t out[COORD_ELECTION_MSG_LEN])
{
    COORD_ASSERT(election_notification_valid(n, (uint64_t)INT64_MAX));
    out[0] = COORD_ELECTION_MSG_TYPE;
    out[1] = COORD_ELECTION_MSG_VERSION;
    out[2] = (uint8_t)n->state;
    out[3] = 0;
    coord_store_be32(out + 4, n->sender);
    coord_store_be32(out + 8, n->vote.leader);
    coord_store_be64(out + 12, (uint64_t)n->vote.zxid);
    coord_store_be64(out + 20, (uint64_t)n->vote.epoch);
    coord_store_be64(out + 28, n->round);
}

int coord_election_decode(const void *msg, size_t len, struct coord_election_notification *out)
{
    struct coord_reader r;
    coord_reader_init(&r, msg, len);
    uint8_t type = coord_reader_u8(&r);
    uint8_t version = coord_reader_u8(&r);
    uint8_t state = coord_reader_u8(&r);
    uint8_t reserved = coord_reader_u8(&r);
    out->sender = coord_reader_be32(&r);
    out->vote.leader = coord_reader_be32(&r);
    out->vote.zxid = (coord_zxid)coord_reader_be64(&r);
    out->vote.epoch = (int64_t)coord_reader_be64(&r);
    out->round = coord_reader_be64(&r);
    if (r.failed || coord_reader_left(&r) != 0 || len != COORD_ELECTION_MSG_LEN) {
        return COORD_EMARSHALLING;
    }
    if (type != COORD_ELECTION_MSG_TYPE || version != COORD_ELECTION_MSG_VERSION || reserved != 0 ||
        !election_state_valid(state)) {
        return COORD_EMARSHALLING;
    }
    out->state = (enum coord_election_state)state;
    return election_notification_valid(out, COORD_ELECTION_ROUND_MAX) ? COORD_OK
                                                                      : COORD_EMARSHALLING;
}

/* ---- configuration ------------------------------------------------------------------ */

static uint32_t election_index(const struct coord_election *e, coord_id id)
{
    for (uint32_t i = 0; i < e->member_count; i++) {
        if (e->members[i] == id) {
            return i;
        }
    }
    return ELECTION_NO_INDEX;
}

static bool election_is_voter(const struct coord_election *e, coord_id id)
{
    uint32_t i = election_index(e, id);
    return i != ELECTION_NO_INDEX && e->member_votes[i];
}

static bool election_add_members(struct coord_election *e,
                                 const coord_id *ids,
                                 size_t count,
                                 bool votes)
{
    if (count > 0 && ids == NULL) {
        return false;
    }
    for (size_t i = 0; i < count; i++) {
        if (!election_id_valid(ids[i]) || election_index(e, ids[i]) != ELECTION_NO_INDEX ||
            e->member_count == COORD_ELECTION_MEMBERS_MAX) {
            return false;
        }
        e->members[e->member_count] = ids[i];
        e->member_votes[e->member_count] = votes;
        e->member_count++;
        e->voter_count += votes ? 1u : 0u;
    }
    return true;
}

static int32_t election_default(int32_t value, int32_t fallback)
{
    return value == 0 ? fallback : value;
}

static bool election_set_times(struct coord_election *e, const struct coord_election_config *cfg)
{
    e->finalize_wait_ms = election_default(cfg->finalize_wait_ms, COORD_ELECTION_FINALIZE_WAIT_MS);
    e->notify_min_ms = election_default(cfg->notify_min_ms, COORD_ELECTION_NOTIFY_MIN_MS);
    e->notify_max_ms = election_default(cfg->notify_max_ms, COORD_ELECTION_NOTIFY_MAX_MS);
    if (cfg->notify_max_ms == 0) {
        e->notify_max_ms = COORD_MAX(e->notify_max_ms, e->notify_min_ms);
    }
    return e->finalize_wait_ms > 0 && e->notify_min_ms > 0 && e->notify_max_ms >= e->notify_min_ms;
}

int coord_election_init(struct coord_election *e,
                        const struct coord_election_config *cfg,
                        const struct coord_election_cbs *cbs)
{
    COORD_ASSERT(e != NULL);
    COORD_ASSERT(cfg != NULL);
    COORD_ASSERT(cbs != NULL);
    COORD_ASSERT(cbs->send != NULL);
    COORD_ASSERT(cbs->decided != NULL);
    *e = (struct coord_election){0};
    e->cbs = *cbs;
    e->my_id = cfg->my_id;
    e->state = COORD_ELECTION_LOOKING;
    e->wake_ms = COORD_ELECTION_NEVER;
    e->finalize_deadline_ms = COORD_ELECTION_NEVER;
    e->notify_deadline_ms = COORD_ELECTION_NEVER;
    if (cfg->voter_count == 0 || cfg->voter_count > COORD_ELECTION_MEMBERS_MAX ||
        cfg->observer_count > COORD_ELECTION_MEMBERS_MAX ||
        !election_add_members(e, cfg->voters, cfg->voter_count, true) ||
        !election_add_members(e, cfg->observers, cfg->observer_count, false) ||
        election_index(e, cfg->my_id) == ELECTION_NO_INDEX || !election_set_times(e, cfg)) {
        e->member_count = 0; /* Unusable: start() asserts. */
        return COORD_EBADARGUMENTS;
    }
    e->i_vote = election_is_voter(e, e->my_id);
    e->notify_interval_ms = e->notify_min_ms;
    return COORD_OK;
}

/* ---- outputs -------------------------------------------------------------------------- */

static void election_trace(struct coord_election *e,
                           struct coord_election_trace *ev,
                           coord_time_ms now_ms)
{
    if (e->cbs.trace == NULL) {
        return;
    }
    ev->now_ms = now_ms;
    ev->round = e->round;
    ev->voter_count = e->voter_count;
    e->cbs.trace(e->cbs.ctx, ev);
}

/* What we tell others: our proposal while LOOKING, else the decided vote. */
static struct coord_election_notification election_own_notification(const struct coord_election *e)
{
    struct coord_election_notification n = {.state = e->state, .sender = e->my_id};
    if (e->state == COORD_ELECTION_LOOKING) {
        n.vote = e->proposal;
        n.round = e->round;
    } else {
        n.vote = e->current;
        n.round = e->current_round;
    }
    return n;
}

static void election_send(struct coord_election *e, coord_id to, coord_time_ms now_ms)
{
    struct coord_election_notification n = election_own_notification(e);
    uint8_t buf[COORD_ELECTION_MSG_LEN];
    coord_election_encode(&n, buf);
    e->stats.sent++;
    e->cbs.send(e->cbs.ctx, to, buf, sizeof buf);
    struct coord_election_trace ev = {.type = COORD_ELECTION_TRACE_SENT,
                                      .peer = to,
                                      .peer_round = n.round,
                                      .vote = n.vote,
                                      .state = n.state};
    election_trace(e, &ev, now_ms);
}

/* sendNotifications(): every voter but us. */
static void election_send_all(struct coord_election *e, coord_time_ms now_ms)
{
    for (uint32_t i = 0; i < e->member_count; i++) {
        if (e->member_votes[i] && e->members[i] != e->my_id) {
            election_send(e, e->members[i], now_ms);
        }
    }
}

coord_time_ms coord_election_deadline(const struct coord_election *e)
{
    if (!e->started || e->state != COORD_ELECTION_LOOKING) {
        return COORD_ELECTION_NEVER;
    }
    return e->finalizing ? e->finalize_deadline_ms : e->notify_deadline_ms;
}

/* The end of every input: tell the host if the deadline moved. */
static void election_finish(struct coord_election *e)
{
    coord_time_ms deadline = coord_election_deadline(e);
    if (deadline != e->wake_ms) {
        e->wake_ms = deadline;
        if (e->cbs.wake_at != NULL) {
            e->cbs.wake_at(e->cbs.ctx, deadline);
        }
    }
}

/* ---- vote sets ------------------------------------------------------------------------ */

static void election_clear(struct coord_election_slot *set)
{
    for (uint32_t i = 0; i < COORD_ELECTION_MEMBERS_MAX; i++) {
        set[i] = (struct coord_election_slot){0};
    }
}

static struct coord_election_slot election_slot(const struct coord_election_notification *n)
{
    return (struct coord_election_slot){
        .used = true, .state = n->state, .round = n->round, .vote = n->vote};
}

/* Vote.equals: a LOOKING vote matches on everything; two votes of an
 * established ensemble only on leader and epoch, since the zxid and round a
 * member remembers depend on when it joined (ZOOKEEPER-1805). */
static bool election_slot_equal(const struct coord_election_slot *a,
                                const struct coord_election_slot *b)
{
    bool same = a->vote.leader == b->vote.leader && a->vote.epoch == b->vote.epoch;
    if (a->state == COORD_ELECTION_LOOKING || b->state == COORD_ELECTION_LOOKING) {
        same = same && a->vote.zxid == b->vote.zxid && a->round == b->round;
    }
    return same;
}

/* How many voters in `set` agree with `target`. Only voters ever enter a set. */
static uint32_t election_count(const struct coord_election *e,
                               const struct coord_election_slot *set,
                               const struct coord_election_slot *target)
{
    uint32_t count = 0;
    for (uint32_t i = 0; i < e->member_count; i++) {
        if (set[i].used && election_slot_equal(&set[i], target)) {
            count++;
        }
    }
    return count;
}

static bool election_is_quorum(const struct coord_election *e, uint32_t count)
{
    return count > e->voter_count / 2;
}

/* checkLeader: following someone else needs that someone to say it leads; a
 * majority naming us only counts in our own round. */
static bool election_check_leader(const struct coord_election *e,
                                  const struct coord_election_slot *set,
                                  coord_id leader,
                                  uint64_t round)
{
    if (leader == e->my_id) {
        return round == e->round;
    }
    uint32_t i = election_index(e, leader);
    return i != ELECTION_NO_INDEX && set[i].used && set[i].state == COORD_ELECTION_LEADING;
}

/* ---- LOOKING ---------------------------------------------------------------------------- */

/* updateProposal + sendNotifications. Our own slot always holds our proposal:
 * ZooKeeper gets there by sending the notification to itself. */
static void election_propose(struct coord_election *e,
                             const struct coord_election_vote *vote,
                             coord_time_ms now_ms)
{
    bool changed = e->proposal.leader != vote->leader || e->proposal.zxid != vote->zxid ||
                   e->proposal.epoch != vote->epoch;
    e->proposal = *vote;
    if (e->i_vote) {
        e->recv[election_index(e, e->my_id)] = (struct coord_election_slot){
            .used = true, .state = COORD_ELECTION_LOOKING, .round = e->round, .vote = *vote};
    }
    if (changed) {
        struct coord_election_trace ev = {.type = COORD_ELECTION_TRACE_VOTE, .vote = *vote};
        election_trace(e, &ev, now_ms);
    }
    election_send_all(e, now_ms);
}

static void election_begin_round(struct coord_election *e,
                                 uint64_t round,
                                 coord_id adopted_from,
                                 coord_time_ms now_ms)
{
    e->round = round;
    e->stats.rounds++;
    e->finalizing = false;
    election_clear(e->recv);
    struct coord_election_trace ev = {.type = COORD_ELECTION_TRACE_ROUND, .peer = adopted_from};
    election_trace(e, &ev, now_ms);
}

static enum coord_election_state election_role_for(const struct coord_election *e, coord_id leader)
{
    if (leader == e->my_id) {
        return COORD_ELECTION_LEADING;
    }
    return e->i_vote ? COORD_ELECTION_FOLLOWING : COORD_ELECTION_OBSERVING;
}

static void election_decide(struct coord_election *e,
                            const struct coord_election_vote *vote,
                            uint32_t votes_for,
                            bool out_of_election,
                            coord_time_ms now_ms)
{
    e->state = election_role_for(e, vote->leader);
    e->current = *vote;
    e->current_round = e->round;
    e->finalizing = false;
    e->stats.decisions++;
    election_clear(e->recv); /* leaveInstance */
    election_clear(e->ooe);
    struct coord_election_trace ev = {.type = COORD_ELECTION_TRACE_DECIDED,
                                      .vote = *vote,
                                      .state = e->state,
                                      .votes_for = votes_for,
                                      .elapsed_ms = now_ms - e->looking_since_ms,
                                      .out_of_election = out_of_election};
    election_trace(e, &ev, now_ms);
    e->cbs.decided(e->cbs.ctx, vote->leader, vote->zxid, vote->epoch, e->state);
}

/* Every voter we are connected to voted for our proposal in this round: no
 * better vote can come except from a server we cannot hear, so waiting the
 * finalize window would only delay (ZooKeeper always waits; a voter that
 * comes back ahead of the leader is caught by ZAB's discovery, which sends
 * everyone back to election). */
static bool election_heard_all(const struct coord_election *e,
                               const struct coord_election_slot *mine)
{
    for (uint32_t i = 0; i < e->member_count; i++) {
        if (!e->member_votes[i] || e->members[i] == e->my_id || e->down[i]) {
            continue;
        }
        if (!e->recv[i].used || !election_slot_equal(&e->recv[i], mine)) {
            return false;
        }
    }
    return true;
}

/* After a vote is recorded: does a quorum agree with our proposal? Then open
 * the finalize window, during which only a better vote is looked at. The
 * window is fixed from here: ZooKeeper polls again for 200 ms after each
 * message it discards, so steady chatter (resends, answers) could put the
 * decision off indefinitely; a fixed window bounds it. */
static void election_check_quorum(struct coord_election *e, coord_time_ms now_ms)
{
    struct coord_election_slot mine = {
        .used = true, .state = COORD_ELECTION_LOOKING, .round = e->round, .vote = e->proposal};
    uint32_t count = election_count(e, e->recv, &mine);
    if (!election_is_quorum(e, count)) {
        return;
    }
    if (election_heard_all(e, &mine)) {
        election_decide(e, &e->proposal, count, false, now_ms);
        return;
    }
    if (e->finalizing) {
        return;
    }
    e->finalizing = true;
    e->finalize_deadline_ms = now_ms + e->finalize_wait_ms;
    struct coord_election_trace ev = {
        .type = COORD_ELECTION_TRACE_QUORUM, .vote = e->proposal, .votes_for = count};
    election_trace(e, &ev, now_ms);
}

static void election_from_looking(struct coord_election *e,
                                  const struct coord_election_notification *n,
                                  coord_time_ms now_ms)
{
    if (n->round > e->round) {
        election_begin_round(e, n->round, n->sender, now_ms);
        bool theirs = coord_election_vote_beats(&n->vote, &e->own);
        election_propose(e, theirs ? &n->vote : &e->own, now_ms);
    } else if (n->round < e->round) {
        return; /* Answered already (election_answer); nothing to learn. */
    } else if (coord_election_vote_beats(&n->vote, &e->proposal)) {
        election_propose(e, &n->vote, now_ms);
    }
    e->recv[election_index(e, n->sender)] = election_slot(n);
    election_check_quorum(e, now_ms);
}

/* A FOLLOWING/LEADING voter: in our round its vote counts with the others;
 * in any round it joins the out-of-election set, which lets a late or
 * restarted server find the ensemble that already runs. */
static void election_from_established(struct coord_election *e,
                                      const struct coord_election_notification *n,
                                      coord_time_ms now_ms)
{
    struct coord_election_slot theirs = election_slot(n);
    uint32_t sender = election_index(e, n->sender);
    if (n->round == e->round) {
        e->recv[sender] = theirs;
        uint32_t count = election_count(e, e->recv, &theirs);
        if (election_is_quorum(e, count) &&
            election_check_leader(e, e->recv, n->vote.leader, n->round)) {
            election_decide(e, &n->vote, count, false, now_ms);
            return;
        }
    }
    e->ooe[sender] = theirs;
    uint32_t count = election_count(e, e->ooe, &theirs);
    if (election_is_quorum(e, count) &&
        election_check_leader(e, e->ooe, n->vote.leader, n->round)) {
        e->round = n->round;
        election_decide(e, &n->vote, count, true, now_ms);
    }
}

/* The body of lookForLeader's loop, for one notification from a voter. */
static void election_process(struct coord_election *e,
                             const struct coord_election_notification *n,
                             coord_time_ms now_ms)
{
    /* The poll returned a message: the notification timeout starts over. */
    e->notify_deadline_ms = now_ms + e->notify_interval_ms;
    bool proposable = election_is_voter(e, n->vote.leader);
    if (e->finalizing) {
        if (proposable && n->state == COORD_ELECTION_LOOKING && n->round == e->round &&
            !coord_election_vote_beats(&n->vote, &e->proposal) &&
            !coord_election_vote_beats(&e->proposal, &n->vote)) {
            /* The same vote from one more voter: the window may end early. */
            e->recv[election_index(e, n->sender)] = election_slot(n);
            election_check_quorum(e, now_ms);
            return;
        }
        if (!proposable || !coord_election_vote_beats(&n->vote, &e->proposal)) {
            return; /* The finalize window discards what is not better. */
        }
        e->finalizing = false;
    }
    if (!proposable) {
        e->stats.ignored++;
        return;
    }
    if (n->state == COORD_ELECTION_LOOKING) {
        election_from_looking(e, n, now_ms);
    } else if (n->state != COORD_ELECTION_OBSERVING) {
        election_from_established(e, n, now_ms);
    }
}

/* ---- inputs ------------------------------------------------------------------------------ */

void coord_election_start(struct coord_election *e,
                          coord_time_ms now_ms,
                          coord_zxid my_last_zxid,
                          int64_t my_current_epoch)
{
    COORD_ASSERT(e->member_count > 0); /* init succeeded */
    COORD_ASSERT(my_last_zxid >= 0);
    COORD_ASSERT(my_current_epoch >= 0);
    COORD_ASSERT(my_current_epoch <= INT32_MAX);
    COORD_ASSERT(e->round < (uint64_t)INT64_MAX); /* 2^62 restarts past the wire's bound. */
    e->started = true;
    e->state = COORD_ELECTION_LOOKING;
    e->own = (struct coord_election_vote){0};
    if (e->i_vote) {
        e->own = (struct coord_election_vote){e->my_id, my_last_zxid, my_current_epoch};
    }
    election_begin_round(e, e->round + 1, 0, now_ms);
    election_clear(e->ooe);
    e->looking_since_ms = now_ms;
    e->notify_interval_ms = e->notify_min_ms;
    e->notify_deadline_ms = now_ms + e->notify_interval_ms;
    e->proposal = (struct coord_election_vote){0};
    election_propose(e, &e->own, now_ms);
    election_check_quorum(e, now_ms); /* A lone voter is its own quorum. */
    election_finish(e);
}

void coord_election_restart(struct coord_election *e,
                            coord_time_ms now_ms,
                            coord_zxid my_last_zxid,
                            int64_t my_current_epoch)
{
    coord_election_start(e, now_ms, my_last_zxid, my_current_epoch);
}

/* The receiver's part: who gets an answer before (or instead of) processing.
 * Returns true when the notification goes on to election_process.
 *
 * Only voters answer, and only notifications from lookers. ZooKeeper answers
 * every message from an observer, and an observer answers a looking voter's
 * reply when it has a lower round or has decided: the two can bounce answers
 * forever. A looking voter answers an observer with its current proposal,
 * which is what the observer needs to learn (ZooKeeper sends its last
 * decided vote there). */
static bool election_answer(struct coord_election *e,
                            const struct coord_election_notification *n,
                            coord_time_ms now_ms)
{
    if (!election_is_voter(e, n->sender)) {
        /* An observer: answered, never counted. */
        if (e->i_vote && n->state == COORD_ELECTION_LOOKING) {
            election_send(e, n->sender, now_ms);
        }
        return false;
    }
    if (e->state != COORD_ELECTION_LOOKING) {
        /* Tell a looker which leader we have. */
        if (e->i_vote && n->state == COORD_ELECTION_LOOKING) {
            election_send(e, n->sender, now_ms);
        }
        return false;
    }
    if (e->i_vote && n->state == COORD_ELECTION_LOOKING && n->round < e->round) {
        election_send(e, n->sender, now_ms); /* Let the laggard catch up. */
    }
    return true;
}

int coord_election_on_message(struct coord_election *e,
                              coord_id from,
                              const void *msg,
                              size_t len,
                              coord_time_ms now_ms)
{
    struct coord_election_notification n;
    if (coord_election_decode(msg, len, &n) != COORD_OK || n.sender != from) {
        e->stats.malformed++;
        struct coord_election_trace ev = {.type = COORD_ELECTION_TRACE_DROPPED, .peer = from};
        election_trace(e, &ev, now_ms);
        return COORD_EMARSHALLING;
    }
    if (!e->started || from == e->my_id || election_index(e, from) == ELECTION_NO_INDEX) {
        e->stats.ignored++;
        return COORD_OK;
    }
    e->stats.received++;
    struct coord_election_trace ev = {.type = COORD_ELECTION_TRACE_RECEIVED,
                                      .peer = from,
                                      .peer_round = n.round,
                                      .vote = n.vote,
                                      .state = n.state};
    election_trace(e, &ev, now_ms);
    if (election_answer(e, &n, now_ms)) {
        election_process(e, &n, now_ms);
    }
    election_finish(e);
    return COORD_OK;
}

static void election_resend(struct coord_election *e, coord_time_ms now_ms)
{
    election_send_all(e, now_ms);
    e->stats.resends++;
    int32_t doubled = e->notify_interval_ms > INT32_MAX / 2 ? INT32_MAX : 2 * e->notify_interval_ms;
    e->notify_interval_ms = COORD_MIN(doubled, e->notify_max_ms);
    e->notify_deadline_ms = now_ms + e->notify_interval_ms;
    struct coord_election_trace ev = {.type = COORD_ELECTION_TRACE_RESEND,
                                      .vote = e->proposal,
                                      .interval_ms = e->notify_interval_ms};
    election_trace(e, &ev, now_ms);
}

void coord_election_on_timeout(struct coord_election *e, coord_time_ms now_ms)
{
    if (!e->started || e->state != COORD_ELECTION_LOOKING) {
        return;
    }
    if (e->finalizing) {
        if (now_ms >= e->finalize_deadline_ms) {
            struct coord_election_slot mine = {.used = true,
                                               .state = COORD_ELECTION_LOOKING,
                                               .round = e->round,
                                               .vote = e->proposal};
            uint32_t count = election_count(e, e->recv, &mine);
            election_decide(e, &e->proposal, count, false, now_ms);
        }
    } else if (now_ms >= e->notify_deadline_ms) {
        election_resend(e, now_ms);
    }
    election_finish(e);
}

static void election_set_down(struct coord_election *e, coord_id peer, bool down)
{
    for (uint32_t i = 0; i < e->member_count; i++) {
        if (e->members[i] == peer) {
            e->down[i] = down;
        }
    }
}

void coord_election_on_peer_down(struct coord_election *e, coord_id peer)
{
    election_set_down(e, peer, true);
}

void coord_election_on_peer_up(struct coord_election *e, coord_id peer, coord_time_ms now_ms)
{
    election_set_down(e, peer, false);
    if (e->started && e->state == COORD_ELECTION_LOOKING && peer != e->my_id &&
        election_is_voter(e, peer)) {
        election_send(e, peer, now_ms);
    }
    election_finish(e);
}

void coord_election_set_state(struct coord_election *e,
                              enum coord_election_state state,
                              int64_t peer_epoch)
{
    COORD_ASSERT(e->started);
    COORD_ASSERT(e->state != COORD_ELECTION_LOOKING);
    COORD_ASSERT(state != COORD_ELECTION_LOOKING);
    COORD_ASSERT(election_state_valid((uint32_t)state));
    COORD_ASSERT((state == COORD_ELECTION_LEADING) == (e->current.leader == e->my_id));
    COORD_ASSERT((state == COORD_ELECTION_OBSERVING) == !e->i_vote);
    COORD_ASSERT(peer_epoch >= 0);
    COORD_ASSERT(peer_epoch <= INT32_MAX);
    e->state = state;
    e->current.epoch = peer_epoch;
}

/* ---- accessors ---------------------------------------------------------------------------- */

enum coord_election_state coord_election_state(const struct coord_election *e)
{
    return e->state;
}

uint64_t coord_election_round(const struct coord_election *e)
{
    return e->round;
}

struct coord_election_vote coord_election_vote(const struct coord_election *e)
{
    return e->state == COORD_ELECTION_LOOKING ? e->proposal : e->current;
}

int32_t coord_election_notify_interval(const struct coord_election *e)
{
    return e->notify_interval_ms;
}

const struct coord_election_stats *coord_election_stats(const struct coord_election *e)
{
    return &e->stats;
}
