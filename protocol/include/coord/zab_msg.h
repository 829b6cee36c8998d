/* The messages ZAB's peers exchange (discovery, synchronisation, broadcast),
 * as a pure codec: no state, no allocation. See docs/replication.md.
 *
 * Every message is: u8 type, u8 version (COORD_ZAB_MSG_VERSION), then the
 * type's fields, big-endian, and nothing after them. The type bytes are
 * ZooKeeper's packet numbers (Leader.java), so a trace reads the same; none is
 * election's 0x45 ('E'), so a peer connection dispatches on the first byte.
 *
 *   type  name          fields after type and version                  total
 *   0x01  REQUEST       be64 session, be32 cxid, be32 n, n bytes        18+n
 *   0x02  PROPOSAL      be64 zxid, be32 n, n bytes (a coord_txn)        14+n
 *   0x03  ACK           be64 zxid                                         10
 *   0x04  COMMIT        be64 zxid                                         10
 *   0x05  PING          be32 count, count x (be64 session, be32 timeout)  6+12c
 *   0x06  REVALIDATE    be64 session, be32 timeout_ms, u8 valid (0/1)     15
 *   0x07  SYNC          be64 id                                           10
 *   0x08  INFORM        be64 zxid, be32 n, n bytes (a coord_txn)        14+n
 *   0x0a  NEWLEADER     be64 zxid (its counter half is 0)                 10
 *   0x0b  FOLLOWERINFO  be64 accepted_epoch, be64 last_zxid, be32 sid,
 *                       u8 observer (0/1)                                 23
 *   0x0c  UPTODATE      (nothing)                                          2
 *   0x0d  DIFF          be64 zxid                                         10
 *   0x0e  TRUNC         be64 zxid                                         10
 *   0x0f  SNAP          be64 zxid, be32 chunk_index, be32 chunk_count,
 *                       be32 n, n bytes                                 22+n
 *   0x11  LEADERINFO    be64 new_epoch                                    10
 *   0x12  ACKEPOCH      be64 current_epoch, be64 last_zxid                18
 *
 * Rules checked by decode (and by encode, which refuses what decode would
 * reject): zxids >= 0; epochs 0..INT32_MAX (an epoch becomes a zxid's high
 * half); sessions >= 0 (a session id's top bit is clear); timeouts >= 0;
 * flags 0 or 1; sid 1..COORD_SERVER_ID_MAX; chunk_index < chunk_count; a
 * byte range at most COORD_ZAB_PAYLOAD_MAX; a PING's count matches its bytes
 * exactly. The codec does not look inside borrowed bytes (a PROPOSAL's txn is
 * decoded by coord_txn_decode; checking its zxid against the message's is the
 * caller's business). */
#ifndef COORD_ZAB_MSG_H
#define COORD_ZAB_MSG_H

#include "coord/types.h"
#include "coord/util.h"

#define COORD_ZAB_MSG_VERSION 1
/* The largest encoded message: a snapshot larger than one message travels in
 * chunks (SNAP chunk_index of chunk_count). */
#define COORD_ZAB_MSG_MAX (4u * 1024u * 1024u)
/* The largest borrowed byte range (REQUEST, PROPOSAL, INFORM, SNAP bytes, and
 * PING pairs): leaves room for the largest fixed part. */
#define COORD_ZAB_PAYLOAD_MAX (COORD_ZAB_MSG_MAX - 64u)
#define COORD_ZAB_PING_PAIR_LEN 12u /* be64 session, be32 timeout_ms */
#define COORD_ZAB_PING_COUNT_MAX (COORD_ZAB_PAYLOAD_MAX / COORD_ZAB_PING_PAIR_LEN)

enum coord_zab_msg_type {
    COORD_ZAB_REQUEST = 0x01,
    COORD_ZAB_PROPOSAL = 0x02,
    COORD_ZAB_ACK = 0x03,
    COORD_ZAB_COMMIT = 0x04,
    COORD_ZAB_PING = 0x05,
    COORD_ZAB_REVALIDATE = 0x06,
    COORD_ZAB_SYNC = 0x07,
    COORD_ZAB_INFORM = 0x08,
    COORD_ZAB_NEWLEADER = 0x0a,
    COORD_ZAB_FOLLOWERINFO = 0x0b,
    COORD_ZAB_UPTODATE = 0x0c,
    COORD_ZAB_DIFF = 0x0d,
    COORD_ZAB_TRUNC = 0x0e,
    COORD_ZAB_SNAP = 0x0f,
    COORD_ZAB_LEADERINFO = 0x11,
    COORD_ZAB_ACKEPOCH = 0x12,
};

/* A zxid alone: ACK, COMMIT, NEWLEADER, DIFF, TRUNC. */
struct coord_zab_zxid
{
    coord_zxid zxid;
};

/* A zxid and a borrowed byte range: PROPOSAL, INFORM (the txn's binary form). */
struct coord_zab_txn
{
    coord_zxid zxid;
    const uint8_t *bytes;
    size_t len;
};

/* One decoded (or to-be-encoded) message. Byte ranges are borrowed: after
 * decode they point into the input. Only the member named by `type` is
 * meaningful. */
struct coord_zab_msg
{
    uint8_t type; /* enum coord_zab_msg_type */
    union {
        struct
        {
            int64_t accepted_epoch;
            coord_zxid last_zxid;
            coord_id sid;
            bool observer;
        } followerinfo;
        struct
        {
            int64_t new_epoch;
        } leaderinfo;
        struct
        {
            int64_t current_epoch;
            coord_zxid last_zxid;
        } ackepoch;
        struct coord_zab_zxid diff;
        struct coord_zab_zxid trunc;
        struct
        {
            coord_zxid zxid; /* The snapshot's last zxid. */
            uint32_t chunk_index;
            uint32_t chunk_count;
            const uint8_t *bytes; /* This chunk. */
            size_t len;
        } snap;
        struct coord_zab_zxid newleader; /* zxid = new_epoch << 32 */
        struct coord_zab_zxid ack;
        /* UPTODATE has no fields. */
        struct coord_zab_txn proposal;
        struct coord_zab_zxid commit;
        struct coord_zab_txn inform;
        struct
        {
            coord_session_id session;
            int32_t cxid;
            const uint8_t *bytes; /* The client's wire request. */
            size_t len;
        } request;
        struct
        {
            uint32_t count;
            const uint8_t *pairs; /* count x COORD_ZAB_PING_PAIR_LEN bytes: use the iterator. */
        } ping;
        struct
        {
            uint64_t id; /* Opaque: the leader's answer echoes it. */
        } sync;
        struct
        {
            coord_session_id session;
            int32_t timeout_ms;
            bool valid; /* The leader's answer; false in the follower's question. */
        } revalidate;
    };
};

/* Append the message to `out`. COORD_OK; COORD_EBADARGUMENTS (nothing
 * appended) for an unknown type or a field the format does not allow;
 * COORD_ENOMEM when `out` failed. */
int coord_zab_msg_encode(const struct coord_zab_msg *m, struct coord_buf *out);
/* COORD_OK and *out filled (byte ranges pointing into `bytes`), or
 * COORD_EMARSHALLING for anything malformed (out is then unspecified). Never
 * reads past len. */
int coord_zab_msg_decode(const void *bytes, size_t len, struct coord_zab_msg *out);

/* "PROPOSAL", ...; "ELECTION" for 0x45; "UNKNOWN" for anything else. */
const char *coord_zab_msg_type_name(uint8_t type);

/* ---- PING pairs ------------------------------------------------------------------- */

/* Append one (session, timeout) pair to the raw bytes that become
 * ping.pairs (with ping.count incremented by the caller). */
void coord_zab_ping_pair_put(struct coord_buf *pairs, coord_session_id session, int32_t timeout_ms);

struct coord_zab_ping_iter
{
    const uint8_t *next;
    uint32_t left;
};
/* Iterate the pairs of a PING (decoded, or accepted by encode). */
void coord_zab_ping_iter_init(struct coord_zab_ping_iter *it, const struct coord_zab_msg *m);
/* The next pair, or false at the end. */
bool coord_zab_ping_next(struct coord_zab_ping_iter *it,
                         coord_session_id *session,
                         int32_t *timeout_ms);

#endif /* COORD_ZAB_MSG_H */
