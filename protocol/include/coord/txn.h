/* Requests and transactions.
 *
 * A client request op (struct coord_op, decoded from the wire) is turned into
 * a transaction by coord_prep_op()/coord_prep_multi(): every decision is taken
 * there — the sequential name, the times, the zxid, the parent's new child
 * counter, the error of a failing op — against the tree plus the effects of
 * transactions prepared but not yet applied (ZooKeeper's outstandingChanges).
 * A transaction is then applied to the tree by coord_tree_apply(), which has no
 * choice left to make: the same log gives the same tree everywhere.
 *
 * Transactions have a binary form (coord_txn_encode/decode) that the log,
 * snapshots and replication carry. */
#ifndef COORD_TXN_H
#define COORD_TXN_H

#include "coord/acl.h"
#include "coord/tree.h"
#include "coord/types.h"
#include "coord/util.h"

/* Opcodes (ZooKeeper's ZooDefs.OpCode); transactions use the same numbers. */
enum coord_opcode {
    COORD_OP_NOTIFICATION = 0,
    COORD_OP_CREATE = 1,
    COORD_OP_DELETE = 2,
    COORD_OP_EXISTS = 3,
    COORD_OP_GETDATA = 4,
    COORD_OP_SETDATA = 5,
    COORD_OP_GETACL = 6,
    COORD_OP_SETACL = 7,
    COORD_OP_GETCHILDREN = 8,
    COORD_OP_SYNC = 9,
    COORD_OP_PING = 11,
    COORD_OP_GETCHILDREN2 = 12,
    COORD_OP_CHECK = 13,
    COORD_OP_MULTI = 14,
    COORD_OP_CREATE2 = 15,
    COORD_OP_RECONFIG = 16,
    COORD_OP_CHECKWATCHES = 17,
    COORD_OP_REMOVEWATCHES = 18,
    COORD_OP_CREATECONTAINER = 19,
    COORD_OP_DELETECONTAINER = 20,
    COORD_OP_CREATETTL = 21,
    COORD_OP_MULTIREAD = 22,
    COORD_OP_AUTH = 100,
    COORD_OP_SETWATCHES = 101,
    COORD_OP_SASL = 102,
    COORD_OP_GETEPHEMERALS = 103,
    COORD_OP_GETALLCHILDRENNUMBER = 104,
    COORD_OP_SETWATCHES2 = 105,
    COORD_OP_ADDWATCH = 106,
    COORD_OP_WHOAMI = 107,
    COORD_OP_CREATESESSION = -10,
    COORD_OP_CLOSESESSION = -11,
    COORD_OP_ERROR = -1,
};

/* Create flags (CreateMode). */
enum coord_create_mode {
    COORD_MODE_PERSISTENT = 0,
    COORD_MODE_EPHEMERAL = 1,
    COORD_MODE_PERSISTENT_SEQUENTIAL = 2,
    COORD_MODE_EPHEMERAL_SEQUENTIAL = 3,
    COORD_MODE_CONTAINER = 4,
    COORD_MODE_PERSISTENT_WITH_TTL = 5,
    COORD_MODE_PERSISTENT_SEQUENTIAL_WITH_TTL = 6,
};

/* One decoded client op. Strings, data and the ACL array are borrowed (they
 * point into the frame). Fields not used by an op are zero. */
struct coord_op
{
    int32_t type; /* enum coord_opcode */
    struct coord_str path;
    const uint8_t *data;
    int32_t data_len; /* -1 = null buffer */
    const struct coord_acl *acl;
    int32_t acl_count; /* -1 = null vector */
    int32_t flags;     /* create: CreateMode */
    int32_t version;   /* delete, setData, setACL, check: expected version, -1 = any */
    int64_t ttl;       /* createTTL */
    bool watch;        /* reads */
    int32_t mode;      /* addWatch mode; checkWatches/removeWatches watcher type */
};

/* One transaction op, or one sub-op of a multi. Borrowed like coord_op. */
struct coord_txn_op
{
    int32_t type;          /* CREATE (all create kinds), DELETE, SETDATA, SETACL, CHECK, ERROR */
    struct coord_str path; /* The final path (sequence suffix included). */
    const uint8_t *data;
    int32_t data_len; /* -1 = null */
    const struct coord_acl *acl;
    int32_t acl_count;
    int64_t owner;           /* CREATE: stored ephemeralOwner (session, container or TTL marker) */
    int32_t parent_cversion; /* CREATE: the parent's stored child-creation count after it */
    int32_t version;         /* SETDATA, SETACL: the new version; CHECK: the checked version */
    int32_t err;             /* ERROR: the code */
};

/* A transaction: its header and one op (or several for MULTI). */
struct coord_txn
{
    coord_session_id session; /* The client session (0 for server-made txns). */
    int32_t cxid;             /* The client's xid. */
    coord_zxid zxid;
    int64_t time_ms;    /* Wall-clock ms decided by the preparer: ctime/mtime. */
    int32_t type;       /* Op type, MULTI, CREATESESSION, CLOSESESSION or ERROR. */
    int32_t timeout_ms; /* CREATESESSION: negotiated timeout. */
    int32_t err;        /* ERROR: the code of the failed request. */
    uint32_t op_count;
    struct coord_txn_op *ops;
};

/* What applying one op did: its error and, for the reply, the resulting Stat
 * and created path (borrowed from the tree, valid until the next change). */
struct coord_op_result
{
    int32_t type;
    int32_t err;
    struct coord_stat stat;
    const char *path;
    size_t path_len;
};

#define COORD_MULTI_MAX 1024 /* Ops in one multi; beyond: MARSHALLINGERROR. */

/* ---- applying -------------------------------------------------------------- */

/* Apply one transaction. Its zxid must be above the tree's last_zxid (else
 * COORD_EBADARGUMENTS and nothing changes). `results` (capacity
 * results_cap >= op_count, may be NULL when not wanted) receives one result
 * per op. A transaction that cannot be applied (a corrupt or inconsistent
 * log) returns the op's error and changes nothing; a multi is all or nothing.
 * CLOSESESSION deletes every ephemeral of the session (in path order, so the
 * same on every replica) in this one transaction, reporting each deletion
 * through the change callback. CREATESESSION changes no node.
 * Returns COORD_OK when applied. */
int coord_tree_apply(struct coord_tree *t,
                     const struct coord_txn *txn,
                     struct coord_op_result *results,
                     size_t results_cap);

/* ---- encoding ------------------------------------------------------------------ */

/* Append the binary form of `txn` to `out`. */
void coord_txn_encode(const struct coord_txn *txn, struct coord_buf *out);
/* Decode a transaction; its ops array is allocated (free with
 * coord_txn_release), strings and data borrow from `bytes`.
 * COORD_ECORRUPT for anything malformed, COORD_ENOMEM. */
int coord_txn_decode(const void *bytes, size_t len, struct coord_txn *out);
void coord_txn_release(struct coord_txn *txn);

/* ---- preparing -------------------------------------------------------------------- */

/* The preparer's view of the future tree: records of nodes changed by
 * transactions that were prepared but not yet applied. For a standalone server
 * that applies right away it holds only the effects of earlier sub-ops of the
 * multi being prepared; a leader with proposals in flight keeps them until
 * they commit. */
struct coord_prep
{
    struct coord_strmap records; /* path -> struct prep_record */
    struct prep_record *oldest;  /* FIFO by zxid, to forget committed ones. */
    struct prep_record *newest;
    struct prep_chunk *arena; /* Owns the strings of the txn being prepared. */
    int32_t data_max_bytes;
    bool ttl_enabled; /* zookeeper.extendedTypesEnabled */
};

/* Everything prep needs to know about the caller. */
struct coord_caller
{
    coord_session_id session;
    int32_t cxid;
    const struct coord_authinfo *auth;
};

void coord_prep_init(struct coord_prep *p);
void coord_prep_close(struct coord_prep *p);
/* Forget every record for changes up to and including zxid (applied now). */
void coord_prep_applied(struct coord_prep *p, coord_zxid zxid);
/* Forget everything (a new leader, or a standalone server after each apply). */
void coord_prep_reset(struct coord_prep *p);

/* Turn a write op (create*, delete, setData, setACL, check) into a transaction
 * with the given zxid and time. On a request error the transaction becomes an
 * ERROR txn carrying the code (ZooKeeper logs failed writes too, using up a
 * zxid) and the code is returned. The txn's new strings live in the preparer's arena until
 * the next prep call. Checks are made in ZooKeeper's order (zk-wire §10.2). */
int coord_prep_op(struct coord_prep *p,
                  const struct coord_tree *t,
                  const struct coord_caller *caller,
                  const struct coord_op *op,
                  coord_zxid zxid,
                  int64_t now_ms,
                  struct coord_txn *out);

/* The same for a multi of ops[0..count-1]. On the first failing op the whole
 * multi becomes a MULTI of ERROR ops: 0 before the failure, its code at the
 * failure, RUNTIMEINCONSISTENCY after (zk-wire §7); that op's code is
 * returned. `ops_out` must have room for `count` entries. */
int coord_prep_multi(struct coord_prep *p,
                     const struct coord_tree *t,
                     const struct coord_caller *caller,
                     const struct coord_op *ops,
                     uint32_t count,
                     coord_zxid zxid,
                     int64_t now_ms,
                     struct coord_txn_op *ops_out,
                     struct coord_txn *out);

/* A closeSession transaction for `session`; later preparations see the
 * session's ephemerals (in the tree or in flight) as deleted.
 * COORD_OK or COORD_ENOMEM. */
int coord_prep_close_session(struct coord_prep *p,
                             const struct coord_tree *t,
                             coord_session_id session,
                             coord_zxid zxid,
                             int64_t now_ms,
                             struct coord_txn *out);

#endif /* COORD_TXN_H */
