/* ZAB peer messages: encode and decode (format in coord/zab_msg.h).
 *
 * One validator serves both directions, so encode never produces a message
 * that decode would refuse. */
#include "coord/zab_msg.h"

#include "coord/election.h"

#define ZAB_EPOCH_MAX INT32_MAX /* An epoch is a zxid's high half. */

static bool zab_epoch_ok(int64_t epoch)
{
    return epoch >= 0 && epoch <= ZAB_EPOCH_MAX;
}

static bool zab_zxid_ok(coord_zxid zxid)
{
    return zxid >= 0;
}

static bool zab_payload_ok(const uint8_t *bytes, size_t len)
{
    return len <= COORD_ZAB_PAYLOAD_MAX && (bytes != NULL || len == 0);
}

static bool zab_ping_pairs_ok(const uint8_t *pairs, uint32_t count)
{
    if (count > COORD_ZAB_PING_COUNT_MAX || (pairs == NULL && count != 0)) {
        return false;
    }
    for (uint32_t i = 0; i < count; i++) {
        const uint8_t *p = pairs + (size_t)i * COORD_ZAB_PING_PAIR_LEN;
        if ((int64_t)coord_load_be64(p) < 0 || (int32_t)coord_load_be32(p + 8) < 0) {
            return false;
        }
    }
    return true;
}

static bool zab_msg_valid(const struct coord_zab_msg *m)
{
    switch (m->type) {
        case COORD_ZAB_FOLLOWERINFO:
            return zab_epoch_ok(m->followerinfo.accepted_epoch) &&
                   zab_zxid_ok(m->followerinfo.last_zxid) && m->followerinfo.sid >= 1 &&
                   m->followerinfo.sid <= COORD_SERVER_ID_MAX;
        case COORD_ZAB_LEADERINFO:
            return zab_epoch_ok(m->leaderinfo.new_epoch);
        case COORD_ZAB_ACKEPOCH:
            return zab_epoch_ok(m->ackepoch.current_epoch) && zab_zxid_ok(m->ackepoch.last_zxid);
        case COORD_ZAB_DIFF:
        case COORD_ZAB_TRUNC:
        case COORD_ZAB_ACK:
        case COORD_ZAB_COMMIT:
            /* The same layout in every one of these members. */
            return zab_zxid_ok(m->ack.zxid);
        case COORD_ZAB_NEWLEADER:
            /* ZAB announces the epoch itself: counter 0 of the new epoch. */
            return zab_zxid_ok(m->newleader.zxid) && (m->newleader.zxid & INT64_C(0xffffffff)) == 0;
        case COORD_ZAB_SNAP:
            return zab_zxid_ok(m->snap.zxid) && m->snap.chunk_index < m->snap.chunk_count &&
                   zab_payload_ok(m->snap.bytes, m->snap.len);
        case COORD_ZAB_UPTODATE:
            return true;
        case COORD_ZAB_PROPOSAL:
        case COORD_ZAB_INFORM:
            return zab_zxid_ok(m->proposal.zxid) &&
                   zab_payload_ok(m->proposal.bytes, m->proposal.len);
        case COORD_ZAB_REQUEST:
            return m->request.session >= 0 && zab_payload_ok(m->request.bytes, m->request.len);
        case COORD_ZAB_PING:
            return zab_ping_pairs_ok(m->ping.pairs, m->ping.count);
        case COORD_ZAB_SYNC:
            return true;
        case COORD_ZAB_REVALIDATE:
            return m->revalidate.session >= 0 && m->revalidate.timeout_ms >= 0;
        default:
            return false;
    }
}

/* ---- encode ------------------------------------------------------------------------ */

static void zab_put_range(struct coord_buf *out, const uint8_t *bytes, size_t len)
{
    coord_buf_be32(out, (uint32_t)len);
    coord_buf_put(out, bytes, len);
}

static void zab_encode_body(const struct coord_zab_msg *m, struct coord_buf *out)
{
    switch (m->type) {
        case COORD_ZAB_FOLLOWERINFO:
            coord_buf_be64(out, (uint64_t)m->followerinfo.accepted_epoch);
            coord_buf_be64(out, (uint64_t)m->followerinfo.last_zxid);
            coord_buf_be32(out, m->followerinfo.sid);
            coord_buf_u8(out, m->followerinfo.observer ? 1 : 0);
            break;
        case COORD_ZAB_LEADERINFO:
            coord_buf_be64(out, (uint64_t)m->leaderinfo.new_epoch);
            break;
        case COORD_ZAB_ACKEPOCH:
            coord_buf_be64(out, (uint64_t)m->ackepoch.current_epoch);
            coord_buf_be64(out, (uint64_t)m->ackepoch.last_zxid);
            break;
        case COORD_ZAB_DIFF:
        case COORD_ZAB_TRUNC:
        case COORD_ZAB_ACK:
        case COORD_ZAB_COMMIT:
        case COORD_ZAB_NEWLEADER:
            coord_buf_be64(out, (uint64_t)m->ack.zxid);
            break;
        case COORD_ZAB_SNAP:
            coord_buf_be64(out, (uint64_t)m->snap.zxid);
            coord_buf_be32(out, m->snap.chunk_index);
            coord_buf_be32(out, m->snap.chunk_count);
            zab_put_range(out, m->snap.bytes, m->snap.len);
            break;
        case COORD_ZAB_PROPOSAL:
        case COORD_ZAB_INFORM:
            coord_buf_be64(out, (uint64_t)m->proposal.zxid);
            zab_put_range(out, m->proposal.bytes, m->proposal.len);
            break;
        case COORD_ZAB_REQUEST:
            coord_buf_be64(out, (uint64_t)m->request.session);
            coord_buf_be32(out, (uint32_t)m->request.cxid);
            zab_put_range(out, m->request.bytes, m->request.len);
            break;
        case COORD_ZAB_PING:
            coord_buf_be32(out, m->ping.count);
            coord_buf_put(out, m->ping.pairs, (size_t)m->ping.count * COORD_ZAB_PING_PAIR_LEN);
            break;
        case COORD_ZAB_SYNC:
            coord_buf_be64(out, m->sync.id);
            break;
        case COORD_ZAB_REVALIDATE:
            coord_buf_be64(out, (uint64_t)m->revalidate.session);
            coord_buf_be32(out, (uint32_t)m->revalidate.timeout_ms);
            coord_buf_u8(out, m->revalidate.valid ? 1 : 0);
            break;
        default: /* UPTODATE: nothing. */
            break;
    }
}

int coord_zab_msg_encode(const struct coord_zab_msg *m, struct coord_buf *out)
{
    if (!zab_msg_valid(m)) {
        return COORD_EBADARGUMENTS;
    }
    if (out->failed) {
        return COORD_ENOMEM;
    }
    coord_buf_u8(out, m->type);
    coord_buf_u8(out, COORD_ZAB_MSG_VERSION);
    zab_encode_body(m, out);
    return out->failed ? COORD_ENOMEM : COORD_OK;
}

/* ---- decode ------------------------------------------------------------------------ */

/* A be32 length, then that many borrowed bytes. */
static const uint8_t *zab_read_range(struct coord_reader *r, size_t *len)
{
    uint32_t n = coord_reader_be32(r);
    if (n > COORD_ZAB_PAYLOAD_MAX) {
        r->failed = true;
        return NULL;
    }
    *len = n;
    return coord_reader_bytes(r, n);
}

/* A flag byte: 0 or 1, anything else fails the reader. */
static bool zab_read_flag(struct coord_reader *r)
{
    uint8_t v = coord_reader_u8(r);
    if (v > 1) {
        r->failed = true;
    }
    return v == 1;
}

static void zab_decode_body(struct coord_reader *r, struct coord_zab_msg *m)
{
    switch (m->type) {
        case COORD_ZAB_FOLLOWERINFO:
            m->followerinfo.accepted_epoch = (int64_t)coord_reader_be64(r);
            m->followerinfo.last_zxid = (coord_zxid)coord_reader_be64(r);
            m->followerinfo.sid = coord_reader_be32(r);
            m->followerinfo.observer = zab_read_flag(r);
            break;
        case COORD_ZAB_LEADERINFO:
            m->leaderinfo.new_epoch = (int64_t)coord_reader_be64(r);
            break;
        case COORD_ZAB_ACKEPOCH:
            m->ackepoch.current_epoch = (int64_t)coord_reader_be64(r);
            m->ackepoch.last_zxid = (coord_zxid)coord_reader_be64(r);
            break;
        case COORD_ZAB_DIFF:
        case COORD_ZAB_TRUNC:
        case COORD_ZAB_ACK:
        case COORD_ZAB_COMMIT:
        case COORD_ZAB_NEWLEADER:
            m->ack.zxid = (coord_zxid)coord_reader_be64(r);
            break;
        case COORD_ZAB_SNAP:
            m->snap.zxid = (coord_zxid)coord_reader_be64(r);
            m->snap.chunk_index = coord_reader_be32(r);
            m->snap.chunk_count = coord_reader_be32(r);
            m->snap.bytes = zab_read_range(r, &m->snap.len);
            break;
        case COORD_ZAB_PROPOSAL:
        case COORD_ZAB_INFORM:
            m->proposal.zxid = (coord_zxid)coord_reader_be64(r);
            m->proposal.bytes = zab_read_range(r, &m->proposal.len);
            break;
        case COORD_ZAB_REQUEST:
            m->request.session = (coord_session_id)coord_reader_be64(r);
            m->request.cxid = (int32_t)coord_reader_be32(r);
            m->request.bytes = zab_read_range(r, &m->request.len);
            break;
        case COORD_ZAB_PING:
            m->ping.count = coord_reader_be32(r);
            if (m->ping.count > COORD_ZAB_PING_COUNT_MAX) {
                r->failed = true;
                break;
            }
            m->ping.pairs = coord_reader_bytes(r, (size_t)m->ping.count * COORD_ZAB_PING_PAIR_LEN);
            break;
        case COORD_ZAB_SYNC:
            m->sync.id = coord_reader_be64(r);
            break;
        case COORD_ZAB_REVALIDATE:
            m->revalidate.session = (coord_session_id)coord_reader_be64(r);
            m->revalidate.timeout_ms = (int32_t)coord_reader_be32(r);
            m->revalidate.valid = zab_read_flag(r);
            break;
        case COORD_ZAB_UPTODATE:
            break;
        default:
            r->failed = true;
            break;
    }
}

int coord_zab_msg_decode(const void *bytes, size_t len, struct coord_zab_msg *out)
{
    if (len > COORD_ZAB_MSG_MAX) {
        return COORD_EMARSHALLING;
    }
    struct coord_reader r;
    coord_reader_init(&r, bytes, len);
    out->type = coord_reader_u8(&r);
    uint8_t version = coord_reader_u8(&r);
    if (r.failed || version != COORD_ZAB_MSG_VERSION) {
        return COORD_EMARSHALLING;
    }
    zab_decode_body(&r, out);
    if (r.failed || coord_reader_left(&r) != 0) {
        return COORD_EMARSHALLING;
    }
    return zab_msg_valid(out) ? COORD_OK : COORD_EMARSHALLING;
}

const char *coord_zab_msg_type_name(uint8_t type)
{
    switch (type) {
        case COORD_ZAB_REQUEST:
            return "REQUEST";
        case COORD_ZAB_PROPOSAL:
            return "PROPOSAL";
        case COORD_ZAB_ACK:
            return "ACK";
        case COORD_ZAB_COMMIT:
            return "COMMIT";
        case COORD_ZAB_PING:
            return "PING";
        case COORD_ZAB_REVALIDATE:
            return "REVALIDATE";
        case COORD_ZAB_SYNC:
            return "SYNC";
        case COORD_ZAB_INFORM:
            return "INFORM";
        case COORD_ZAB_NEWLEADER:
            return "NEWLEADER";
        case COORD_ZAB_FOLLOWERINFO:
            return "FOLLOWERINFO";
        case COORD_ZAB_UPTODATE:
            return "UPTODATE";
        case COORD_ZAB_DIFF:
            return "DIFF";
        case COORD_ZAB_TRUNC:
            return "TRUNC";
        case COORD_ZAB_SNAP:
            return "SNAP";
        case COORD_ZAB_LEADERINFO:
            return "LEADERINFO";
        case COORD_ZAB_ACKEPOCH:
            return "ACKEPOCH";
        case COORD_ELECTION_MSG_TYPE:
            return "ELECTION";
        default:
            return "UNKNOWN";
    }
}

/* ---- PING pairs ------------------------------------------------------------------- */

void coord_zab_ping_pair_put(struct coord_buf *pairs, coord_session_id session, int32_t timeout_ms)
{
    coord_buf_be64(pairs, (uint64_t)session);
    coord_buf_be32(pairs, (uint32_t)timeout_ms);
}

void coord_zab_ping_iter_init(struct coord_zab_ping_iter *it, const struct coord_zab_msg *m)
{
    COORD_ASSERT(m->type == COORD_ZAB_PING);
    it->next = m->ping.pairs;
    it->left = m->ping.count;
}

bool coord_zab_ping_next(struct coord_zab_ping_iter *it,
                         coord_session_id *session,
                         int32_t *timeout_ms)
{
    if (it->left == 0) {
        return false;
    }
    *session = (coord_session_id)coord_load_be64(it->next);
    *timeout_ms = (int32_t)coord_load_be32(it->next + 8);
    it->next += COORD_ZAB_PING_PAIR_LEN;
    it->left--;
    return true;
}
