/* The ZooKeeper client wire protocol (zk-wire), as a pure codec in both
 * directions: a server decodes requests and encodes replies, a client encodes
 * requests and decodes replies. Nothing here does I/O or keeps state.
 *
 * Everything is jute: big-endian, no padding, no tags (zk-wire §2). Every
 * message is a frame: a 4-byte length N, then N payload bytes. The first frame
 * each way is the handshake (ConnectRequest / ConnectResponse); every later
 * client frame is a RequestHeader {xid, type} plus the op's record and every
 * later server frame a ReplyHeader {xid, zxid, err} plus the response record.
 *
 * Decoders borrow: strings, buffers and string vectors they return point into
 * the caller's bytes, which must outlive them. A jute length of -1 is a null
 * string, buffer or vector; the decoders keep it as -1 (ptr NULL) so the server
 * can echo null and empty differently (zk-wire §2). Any length below -1 or
 * beyond the bytes given is a marshalling error, never a read out of bounds.
 *
 * Encoders append to a struct coord_buf; they never fail on their own (an out
 * of memory buffer is marked failed, see util.h). Passing them a value that no
 * wire form has (a string longer than INT32_MAX, an op type they do not know)
 * is a programmer error and asserts. */
#ifndef COORD_WIRE_H
#define COORD_WIRE_H

#include "coord/acl.h"
#include "coord/tree.h"
#include "coord/txn.h"
#include "coord/types.h"
#include "coord/util.h"

/* jute.maxbuffer's default: the largest frame payload either side accepts. */
#define COORD_WIRE_MAX_FRAME 0xfffffu
#define COORD_WIRE_PASSWD_LEN 16
#define COORD_WIRE_REQUEST_HEADER_LEN 8 /* RequestHeader {int xid, int type} */
#define COORD_WIRE_REPLY_HEADER_LEN 16  /* ReplyHeader {int xid, long zxid, int err} */
#define COORD_WIRE_STAT_LEN 68

/* Special xids (zk-wire §5.1). */
#define COORD_XID_NOTIFICATION (-1)
#define COORD_XID_PING (-2)
#define COORD_XID_AUTH (-4)
#define COORD_XID_SETWATCHES (-8)

/* The KeeperState every server-sent event carries (SyncConnected). */
#define COORD_WIRE_STATE_SYNC_CONNECTED 3

/* The telnet close sequence, which the server also takes as a command. */
#define COORD_WIRE_TELNET_CLOSE 0xfff4fffdu

/* ---- framing ----------------------------------------------------------------- */

/* Look for one frame at the start of buf[0..len). Returns 0 when more bytes
 * are needed, 1 when a whole frame is there (its payload is buf + 4 and
 * *frame_len its length; the next frame starts at buf + 4 + *frame_len), and
 * COORD_EMARSHALLING when the length prefix is negative or above max_len (the
 * server then closes without a reply, zk-wire §1). Once the prefix is readable
 * and valid, *frame_len is set even when returning 0, so a caller can size its
 * buffer. A length of 0 is a valid (empty) frame. */
int coord_wire_frame(const uint8_t *buf, size_t len, uint32_t max_len, size_t *frame_len);

/* ---- four-letter words (zk-wire §13) ------------------------------------------ */

/* Are the first 4 bytes of a fresh connection a four-letter command? Matching
 * is case-sensitive. On true, out holds the word NUL-terminated ("ruok"); for
 * the telnet close sequence it holds those 4 raw bytes (0xff 0xf4 0xff 0xfd),
 * on which the server just closes. `stmk` is followed by an 8-byte trace mask
 * the caller reads itself. None of the words can be a valid frame length
 * (they are all above COORD_WIRE_MAX_FRAME), so the test is unambiguous. */
bool coord_wire_is_4lw(const uint8_t first4[4], char out[5]);

/* ---- handshake (zk-wire §4) ----------------------------------------------------- */

struct coord_connect_req
{
    int32_t protocol_version;
    int64_t last_zxid;
    int32_t timeout_ms;
    int64_t session;
    const uint8_t *passwd; /* Borrowed; NULL when passwd_len is -1. */
    int32_t passwd_len;    /* -1 = null */
    bool has_readonly;     /* A byte followed passwd: the reply must carry one too. */
    bool readonly;
};

/* Server side: decode a ConnectRequest payload (44 bytes from Go, 45 from the C,
 * Java and kazoo clients). readOnly is present iff a byte remains after
 * passwd; bytes after it are ignored. A null or empty passwd is accepted.
 * COORD_OK or COORD_EMARSHALLING (too short, passwd length < -1 or past the
 * end). */
int coord_wire_decode_connect(const uint8_t *payload, size_t len, struct coord_connect_req *req);
/* Client side: append the whole ConnectRequest frame, with the readOnly byte
 * iff req->has_readonly. */
void coord_wire_encode_connect(struct coord_buf *out, const struct coord_connect_req *req);

struct coord_connect_resp
{
    int32_t protocol_version;
    int32_t timeout_ms; /* 0 with session 0 and a zero passwd: session expired. */
    int64_t session;
    uint8_t passwd[COORD_WIRE_PASSWD_LEN];
    bool has_readonly; /* Send the readOnly byte: set it to the request's has_readonly. */
    bool readonly;
};

/* Server side: append the whole ConnectResponse frame: 36 payload bytes, or
 * 37 with has_readonly. The password is always exactly 16 bytes, because the
 * C client reads a fixed 41-byte reply (zk-wire §4.2). */
void coord_wire_encode_connect_resp(struct coord_buf *out, const struct coord_connect_resp *resp);
/* Client side: decode a ConnectResponse payload. A passwd shorter than 16
 * bytes (or null) is zero-padded; a longer one is COORD_EMARSHALLING, like a
 * truncated payload. has_readonly tells whether the byte was there. */
int coord_wire_decode_connect_resp(const uint8_t *payload,
                                   size_t len,
                                   struct coord_connect_resp *resp);

/* ---- string vectors ------------------------------------------------------------- */

/* A vector<ustring> as it lies on the wire, borrowed and already validated by
 * the decoder that produced it (never build one by hand), so iterating it
 * cannot fail. */
struct coord_strvec
{
    const uint8_t *raw; /* The first element's length prefix; NULL when count <= 0. */
    int32_t count;      /* -1 = null vector */
    size_t raw_len;     /* Bytes of all the elements. */
};

struct coord_strvec_iter
{
    const uint8_t *pos;
    int32_t left;
};

void coord_strvec_iter_init(struct coord_strvec_iter *it, const struct coord_strvec *vec);
/* The next element (a null element gives len -1, ptr NULL); false at the end. */
bool coord_strvec_next(struct coord_strvec_iter *it, struct coord_str *out);

/* ---- requests, server side -------------------------------------------------------- */

/* The lists of a setWatches (101) / setWatches2 (105) request, in wire order. */
enum coord_watch_list {
    COORD_WATCHES_DATA = 0,
    COORD_WATCHES_EXIST = 1,
    COORD_WATCHES_CHILD = 2,
    COORD_WATCHES_PERSISTENT = 3,           /* setWatches2 only */
    COORD_WATCHES_PERSISTENT_RECURSIVE = 4, /* setWatches2 only */
    COORD_WATCH_LISTS = 5,
};

/* One decoded request. Which fields are set depends on `type`:
 *   single ops      op (op.type == type): path, data, acl, flags, version, ttl,
 *                   watch; checkWatches/removeWatches/addWatch put their int
 *                   in op.mode; sync, getEphemerals (its prefix),
 *                   getAllChildrenNumber and deleteContainer use op.path
 *   ping, closeSession, whoAmI   nothing beyond xid and type
 *   multi, multiRead  ops[0..op_count), each with its own type; op.type = type
 *   auth            auth_type, auth_scheme, auth_data/auth_len
 *   setWatches(2)   relative_zxid, watches[]: for 101 the last two are empty
 *                   (count 0)
 *   reconfig        reconfig_* (the strings may be null)
 *   sasl            sasl_token/sasl_len
 * Strings and buffers borrow from the payload; ops and acls_storage are
 * allocated by the decoder and freed by coord_wire_request_release(). */
struct coord_request
{
    int32_t xid;
    int32_t type; /* enum coord_opcode */
    struct coord_op op;
    struct coord_op *ops;
    uint32_t op_count;
    struct coord_acl *acls_storage; /* Every ACL array of op and ops points in here. */
    int32_t auth_type;
    struct coord_str auth_scheme;
    const uint8_t *auth_data;
    int32_t auth_len; /* -1 = null */
    int64_t relative_zxid;
    struct coord_strvec watches[COORD_WATCH_LISTS];
    int64_t reconfig_curconfig;
    struct coord_str reconfig_joining;
    struct coord_str reconfig_leaving;
    struct coord_str reconfig_newmembers;
    const uint8_t *sasl_token;
    int32_t sasl_len; /* -1 = null */
};

/* Decode a request frame's payload (RequestHeader plus record). Returns
 *   COORD_OK;
 *   COORD_EMARSHALLING when a record does not decode (truncated, a length
 *     below -1 or past the end, a multi op type not allowed in that multi,
 *     more than COORD_MULTI_MAX ops, createSession -10). When the 8-byte header
 *     was readable, req->xid and req->type are set, because the server replies
 *     -5 with that xid and keeps the connection (zk-wire §14); when
 *     len < COORD_WIRE_REQUEST_HEADER_LEN they are 0 and the server closes;
 *   COORD_EUNIMPLEMENTED for an opcode that is not a client request (0,
 *     unknown numbers), with xid and type set: reply -6, then close;
 *   COORD_ENOMEM.
 * Bytes after a record that decoded are ignored. On any error req holds
 * nothing to free; coord_wire_request_release() is still safe to call. The
 * decoder does no semantic checks (path validity, null paths, flag values):
 * those belong to the request pipeline. */
/* May an op of type op_type appear inside a multi (14) or multiRead (22)?
 * zk-wire §7: creates, delete, setData and check in a multi; getChildren and
 * getData in a multiRead. */
bool coord_wire_multi_allows(int32_t multi_type, int32_t op_type);

int coord_wire_decode_request(const uint8_t *payload, size_t len, struct coord_request *req);
void coord_wire_request_release(struct coord_request *req);

/* ---- requests, client side ---------------------------------------------------------- */

/* Each appends one whole frame (length prefix included). */

/* A single op: every type that has a coord_op form (create 1/15/19/21, delete,
 * exists, getData, setData, getACL, setACL, getChildren(2), sync, ping, check,
 * checkWatches, removeWatches, deleteContainer, getEphemerals,
 * getAllChildrenNumber, addWatch, whoAmI, closeSession). Multi, auth,
 * setWatches, reconfig and sasl have their own encoders below. */
void coord_wire_encode_request(struct coord_buf *out, int32_t xid, const struct coord_op *op);
/* type is COORD_OP_MULTI or COORD_OP_MULTIREAD. Each op is written with its
 * own record whatever its type (the server enforces which types a multi may
 * hold), done = 0 and err = -1, then the terminator {-1, 1, -1}. */
void coord_wire_encode_multi(struct coord_buf *out,
                             int32_t xid,
                             int32_t type,
                             const struct coord_op *ops,
                             uint32_t count);
/* AuthPacket {type 0, scheme, auth} with xid -4. cred_len -1 = null. */
void coord_wire_encode_auth(struct coord_buf *out,
                            struct coord_str scheme,
                            const uint8_t *cred,
                            int32_t cred_len);
/* setWatches (101), or setWatches2 (105) when v2, with xid -8. lists[i] holds
 * counts[i] paths (-1 = null vector); only the first three are sent unless v2. */
void coord_wire_encode_setwatches(struct coord_buf *out,
                                  int64_t relative_zxid,
                                  const struct coord_str *const lists[COORD_WATCH_LISTS],
                                  const int32_t counts[COORD_WATCH_LISTS],
                                  bool v2);
/* A ping: xid -2, op 11, no body. */
void coord_wire_encode_ping(struct coord_buf *out);
/* closeSession: op -11, no body. */
void coord_wire_encode_close(struct coord_buf *out, int32_t xid);
void coord_wire_encode_reconfig(struct coord_buf *out,
                                int32_t xid,
                                struct coord_str joining,
                                struct coord_str leaving,
                                struct coord_str newmembers,
                                int64_t curconfig);
void coord_wire_encode_sasl(struct coord_buf *out, int32_t xid, const uint8_t *token, int32_t len);
/* Re-encode a decoded request the way a client would (its own xid, auth type
 * and lists; a canonical multi terminator; no trailing bytes). Decoding the
 * result gives back the same request: the round trip tests and the fuzzer
 * rely on it, and a proxy could too. */
void coord_wire_encode_decoded(struct coord_buf *out, const struct coord_request *req);

/* ---- replies, server side ------------------------------------------------------------- */

/* Start a reply frame: a placeholder length and the ReplyHeader. Returns the
 * frame's start, to hand to coord_wire_frame_end() once the body is written.
 * On error (err != 0) the body must be empty (zk-wire §5.4), except in multi
 * results. */
size_t coord_wire_reply_begin(struct coord_buf *out, int32_t xid, int64_t zxid, int32_t err);
/* Patch the length of the frame begun at `start` (any frame whose first 4
 * bytes are a placeholder). Keeping it within COORD_WIRE_MAX_FRAME is the
 * caller's job: the Java client drops larger frames. */
void coord_wire_frame_end(struct coord_buf *out, size_t start);
/* A whole reply frame without a body (errors, delete, setWatches, ping...). */
void coord_wire_reply_header_only(struct coord_buf *out, int32_t xid, int64_t zxid, int32_t err);
/* A whole notification frame: ReplyHeader {-1, -1, 0} (3.8 behaviour) and
 * WatcherEvent {type, state, path}. */
void coord_wire_notification(struct coord_buf *out,
                             int32_t type,
                             int32_t state,
                             const char *path,
                             size_t len);

/* Body writers. Servers never send null strings (the C client cannot read
 * them, zk-wire §2), so put_str and the vectors take plain lengths. */
void coord_wire_put_int(struct coord_buf *out, int32_t v);
void coord_wire_put_long(struct coord_buf *out, int64_t v);
void coord_wire_put_bool(struct coord_buf *out, bool v);
void coord_wire_put_str(struct coord_buf *out, const char *ptr, size_t len);
/* A ustring that may be null (len -1): what clients send. */
void coord_wire_put_ustring(struct coord_buf *out, struct coord_str s);
void coord_wire_put_buffer(struct coord_buf *out, const uint8_t *ptr, int32_t len /* -1 null */);
void coord_wire_put_stat(struct coord_buf *out, const struct coord_stat *stat);
void coord_wire_put_acl_vector(struct coord_buf *out, const struct coord_acl *acl, size_t count);
void coord_wire_put_strvec(struct coord_buf *out, const struct coord_str *items, size_t count);
/* vector<ClientInfo> of whoAmI: one {authScheme, user} pair per identity. */
void coord_wire_put_ident_vector(struct coord_buf *out,
                                 const struct coord_ident *ids,
                                 size_t count);
/* MultiHeader {type, done, err} (zk-wire §7). */
void coord_wire_put_multi_header(struct coord_buf *out, int32_t type, bool done, int32_t err);
/* The multi terminator {-1, 1, -1}: bytes ffffffff 01 ffffffff. */
void coord_wire_put_multi_end(struct coord_buf *out);
/* A whole error result: its own MultiHeader {-1, 0, err} followed by
 * ErrorResponse {err}. Do not write a header before it. */
void coord_wire_put_multi_error(struct coord_buf *out, int32_t err);

/* ---- replies, client side ----------------------------------------------------------------- */

/* Decode the ReplyHeader of a reply payload; the body starts at *body_off.
 * COORD_OK or COORD_EMARSHALLING when shorter than 16 bytes. */
int coord_wire_decode_reply_header(const uint8_t *payload,
                                   size_t len,
                                   int32_t *xid,
                                   int64_t *zxid,
                                   int32_t *err,
                                   size_t *body_off);

/* Body readers, on a coord_reader set over the body. Scalars return the value
 * (0 and r->failed once past the end, as coord_reader does). The others
 * return COORD_OK or COORD_EMARSHALLING, and on failure also set r->failed,
 * so a caller may check each call or only r->failed at the end. */
int32_t coord_wire_get_int(struct coord_reader *r);
int64_t coord_wire_get_long(struct coord_reader *r);
bool coord_wire_get_bool(struct coord_reader *r);
int coord_wire_get_str(struct coord_reader *r, struct coord_str *out); /* may be null */
int coord_wire_get_buffer(struct coord_reader *r, const uint8_t **ptr, int32_t *len);
int coord_wire_get_stat(struct coord_reader *r, struct coord_stat *out);
/* vector<ACL>: *acl is allocated (coord_malloc; the caller frees it with
 * coord_free) and its strings borrow from the reader's bytes. A null vector
 * gives *acl NULL, *count -1; an empty one *acl NULL, *count 0. The vector is
 * validated before anything is allocated. May also return COORD_ENOMEM, with
 * the reader left where it was. */
int coord_wire_get_acl_vector(struct coord_reader *r, struct coord_acl **acl, int32_t *count);
int coord_wire_get_strvec(struct coord_reader *r, struct coord_strvec *out);
/* vector<ClientInfo> (whoAmI), as a strvec of 2 * n strings: scheme, user,
 * scheme, user... (the two have the same layout). count -1 = null. */
int coord_wire_get_ident_vector(struct coord_reader *r, struct coord_strvec *out);

/* One result of a multi / multiRead reply. */
struct coord_multi_result
{
    int32_t type;                 /* 1, 2, 4, 5, 8, 13, 15 or -1 (error) */
    int32_t err;                  /* -1: the ErrorResponse code; else 0 */
    struct coord_str path;        /* 1, 15 */
    struct coord_stat stat;       /* 4, 5, 15 */
    const uint8_t *data;          /* 4 */
    int32_t data_len;             /* 4: -1 = null */
    struct coord_strvec children; /* 8 */
};
/* Read the next result: 1 with *res filled, 0 at the terminator (any header
 * with done set), COORD_EMARSHALLING for a truncated record or an unknown
 * result type. */
int coord_wire_get_multi_result(struct coord_reader *r, struct coord_multi_result *res);

struct coord_watcher_event
{
    int32_t type;  /* enum coord_event_type_zk */
    int32_t state; /* 3 (SyncConnected) from a server */
    struct coord_str path;
};
int coord_wire_get_watcher_event(struct coord_reader *r, struct coord_watcher_event *ev);

#endif /* COORD_WIRE_H */
