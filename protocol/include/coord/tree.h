/* The znode data tree: nodes, their Stat, ACLs and ephemeral owners, changed
 * only by applying transactions (txn.h) and read by the request pipeline.
 *
 * The tree is deterministic: applying the same transactions in the same order
 * to two trees gives identical trees, which coord_tree_digest() checks. */
#ifndef COORD_TREE_H
#define COORD_TREE_H

#include "coord/acl.h"
#include "coord/types.h"
#include "coord/util.h"

/* The Stat as clients see it (68 bytes on the wire). */
struct coord_stat
{
    int64_t czxid;
    int64_t mzxid;
    int64_t ctime;
    int64_t mtime;
    int32_t version;
    int32_t cversion; /* Reported: 2 * stored child creations - numChildren. */
    int32_t aversion;
    int64_t ephemeral_owner; /* 0 for containers and TTL nodes (the stored marker is hidden). */
    int32_t data_length;
    int32_t num_children;
    int64_t pzxid;
};

/* Stored ephemeralOwner markers for the special node kinds (zk-wire §8). */
#define COORD_OWNER_CONTAINER ((int64_t)INT64_MIN) /* 0x8000000000000000 */
#define COORD_OWNER_TTL_MASK ((int64_t)0xFF00000000000000ULL)
#define COORD_TTL_MAX ((int64_t)0xFFFFFFFFFFLL) /* 2^40 - 1 ms */

/* Event types a change produces (ZooKeeper's Watcher.Event.EventType). */
enum coord_event_type_zk {
    COORD_EV_NONE = -1,
    COORD_EV_CREATED = 1,
    COORD_EV_DELETED = 2,
    COORD_EV_DATA_CHANGED = 3,
    COORD_EV_CHILDREN_CHANGED = 4,
};

/* What the tree reports after each change, in the order ZooKeeper triggers
 * watches: for a create, CREATED(path) then CHILDREN_CHANGED(parent); for a
 * delete, DELETED(path) then CHILDREN_CHANGED(parent); for setData,
 * DATA_CHANGED(path). The path is borrowed for the call. */
typedef void (
    *coord_tree_change_cb)(void *arg, int type, const char *path, size_t path_len, coord_zxid zxid);

struct tree_node; /* Opaque: see tree.c. */
struct tree_acl;  /* An interned ACL list. */

struct coord_tree
{
    /* Path -> node, open addressing. One allocation: cap node pointers, then
     * cap uint32_t path hashes (0 = empty), so probes read a node only when
     * its hash matches. */
    struct tree_node **slots;
    size_t cap;
    size_t count; /* Number of nodes, including / and the /zookeeper nodes. */
    /* Interned ACL lists, reference counted (ZooKeeper's ACL cache). */
    struct coord_strmap acls;
    /* Session id -> struct tree_ephemerals (the owner's ephemeral nodes). */
    struct coord_u64map ephemerals;
    size_t ephemeral_count;
    size_t data_bytes;      /* Sum of data lengths: zk_approximate_data_size. */
    size_t mem_bytes;       /* Bytes allocated for nodes, data and ACLs. */
    int32_t data_max_bytes; /* Per-node data limit (default 1 MiB). */
    coord_zxid last_zxid;   /* The zxid of the last applied transaction. */
    struct tree_node *root;
    coord_tree_change_cb change_cb;
    void *change_arg;
};

#define COORD_DATA_MAX_DEFAULT (1024 * 1024)

/* Create a tree holding /, /zookeeper, /zookeeper/quota and /zookeeper/config
 * (read-only ACL), all with zxid 0. COORD_OK or COORD_ENOMEM. */
int coord_tree_init(struct coord_tree *t);
void coord_tree_close(struct coord_tree *t);
void coord_tree_set_change_cb(struct coord_tree *t, coord_tree_change_cb cb, void *arg);

/* ---- reads ---------------------------------------------------------------- */

/* Lookup by exact path bytes; NULL when absent. "" finds the root as ZooKeeper does. */
const struct tree_node *coord_tree_get(const struct coord_tree *t, const char *path, size_t len);
void coord_tree_node_stat(const struct tree_node *n, struct coord_stat *out);
/* Data: *len = -1 for a null buffer (ZooKeeper remembers null vs empty). */
const uint8_t *coord_tree_node_data(const struct tree_node *n, int32_t *len);
const char *coord_tree_node_path(const struct tree_node *n, size_t *len);
/* The name of the node (last component), e.g. "b" for /a/b, "" for /. */
const char *coord_tree_node_name(const struct tree_node *n, size_t *len);
const struct coord_acl *coord_tree_node_acl(const struct tree_node *n, size_t *count);
int64_t coord_tree_node_owner(const struct tree_node *n); /* Stored marker (not hidden). */
int32_t coord_tree_node_child_creations(const struct tree_node *n); /* Stored cversion. */
int32_t coord_tree_node_num_children(const struct tree_node *n);
/* Children, in a deterministic order (the order they were created): start
 * with NULL, returns NULL after the last. */
const struct tree_node *coord_tree_node_next_child(const struct tree_node *n,
                                                   const struct tree_node *prev);
/* Number of all descendants (getAllChildrenNumber). */
int64_t coord_tree_count_descendants(const struct tree_node *n);
/* Ephemerals of a session: iterate with *pos = 0 until NULL. */
const struct tree_node *coord_tree_next_ephemeral(const struct coord_tree *t,
                                                  coord_session_id owner,
                                                  size_t *pos);
size_t coord_tree_ephemerals_of(const struct coord_tree *t, coord_session_id owner);

/* An order-independent 64-bit digest of the whole tree: every node's path,
 * data, Stat fields, ACL and owner. Two trees with the same content have the
 * same digest, whatever order their nodes were created in. */
uint64_t coord_tree_digest(const struct coord_tree *t);

/* ---- snapshots -------------------------------------------------------------- */

/* Serialise the whole tree (nodes in parent-before-child order, ACLs, stored
 * counters, last zxid) into `out`. COORD_OK or COORD_ENOMEM. */
int coord_tree_snapshot(const struct coord_tree *t, struct coord_buf *out);
/* Rebuild a tree from a snapshot into an initialised, empty-but-for-system-nodes
 * tree `t`. Validates everything it reads: COORD_ECORRUPT (with the tree left
 * as it was on entry) for a malformed snapshot, COORD_ENOMEM. Consumes from
 * the reader (sessions follow the tree in a server snapshot). */
int coord_tree_restore(struct coord_tree *t, struct coord_reader *r);

/* ---- path rules --------------------------------------------------------------- */

/* ZooKeeper's PathUtils.validatePath on UTF-8 bytes: COORD_OK or
 * COORD_EBADARGUMENTS (also for invalid UTF-8). */
int coord_path_validate(const char *path, size_t len);
/* Length of the parent's path ("/" for a top-level node); -1 if no '/'. */
int64_t coord_path_parent_len(const char *path, size_t len);
/* One of /, /zookeeper, /zookeeper/quota, /zookeeper/config? */
bool coord_path_is_system(const char *path, size_t len);

#endif /* COORD_TREE_H */
