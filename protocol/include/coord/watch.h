/* The watch manager: which connection watches which path, and who gets an
 * event when the tree changes (zk-wire §12, §10.4).
 *
 * Watchers are connections, named by a nonzero 64-bit id the server chooses.
 * ZooKeeper keeps two tables, and so do the semantics here:
 *   - the DATA table holds one-shot data watches (getData, exists on an
 *     existing node), one-shot exist watches (exists on a missing node: they
 *     fire NodeCreated), persistent watches and persistent-recursive watches;
 *   - the CHILD table holds one-shot child watches and persistent watches.
 * A persistent watch sits in both tables; a recursive one only in the data
 * table, which is why it never sees NodeChildrenChanged.
 *
 * One (watcher, path) pair may hold several kinds of watch at once. This
 * follows ZooKeeper 3.9, where the modes of a pair coexist as a bit set
 * (3.8 kept a single mode per pair and a later add overwrote the earlier
 * one, so a getData on a persistently watched path made it one-shot).
 * Each side of a persistent watch has its own bit, because removeWatches of
 * type Children or Data removes one table's side only.
 *
 * Storage: one hash map from path to an entry whose small array lists the
 * watchers there with their bits (so a trigger on a path nobody watches is a
 * single hash lookup, covering both tables), and one map from watcher id to
 * the entries it appears in (so dropping a closed connection costs only its
 * own watches). Entries point at each other's array positions and are
 * removed by swapping with the last element, so every removal is O(1).
 *
 * Pure: no I/O, allocation only through coord_malloc. Not thread-safe. */
#ifndef COORD_WATCH_H
#define COORD_WATCH_H

#include "coord/types.h"
#include "coord/util.h"

/* What a read asks for (the argument of coord_watches_add). */
enum coord_watch_kind {
    COORD_WATCH_DATA = 1,       /* getData, or exists on an existing node. */
    COORD_WATCH_EXIST = 2,      /* exists on a missing node; same table as DATA, fires on create. */
    COORD_WATCH_CHILD = 3,      /* getChildren / getChildren2. */
    COORD_WATCH_PERSISTENT = 4, /* addWatch mode 0: both tables. */
    COORD_WATCH_PERSISTENT_RECURSIVE = 5, /* addWatch mode 1: data table, whole subtree. */
};

/* What a (watcher, path) pair holds, as reported by coord_watches_foreach.
 * DATA and EXIST watches are the same thing once set (ZooKeeper's STANDARD
 * mode in the data table), so they share one bit. */
enum coord_watch_bit {
    COORD_WATCH_BIT_DATA = 1,             /* One-shot, data table. */
    COORD_WATCH_BIT_CHILD = 2,            /* One-shot, child table. */
    COORD_WATCH_BIT_PERSISTENT_DATA = 4,  /* Persistent, its data-table side. */
    COORD_WATCH_BIT_PERSISTENT_CHILD = 8, /* Persistent, its child-table side. */
    COORD_WATCH_BIT_RECURSIVE = 16,       /* Persistent recursive (data table only). */
    /* The bits that make a pair a member of each table. */
    COORD_WATCH_DATA_TABLE = 1 | 4 | 16,
    COORD_WATCH_CHILD_TABLE = 2 | 8,
};

/* The `type` of checkWatches (17) and removeWatches (18), zk-wire §10.4. */
enum coord_watcher_type {
    COORD_WATCHER_CHILDREN = 1,
    COORD_WATCHER_DATA = 2,
    COORD_WATCHER_ANY = 3,
};

/* An event for one watcher. `type` is a COORD_EV_* of tree.h and `path` is
 * the path the trigger was called with, borrowed for the call. */
typedef void (
    *coord_watch_fire_cb)(void *arg, uint64_t watcher, int type, const char *path, size_t path_len);
/* One (watcher, path) pair and its COORD_WATCH_BIT_* set; path borrowed. */
typedef void (*coord_watch_visit_cb)(void *arg,
                                     uint64_t watcher,
                                     const char *path,
                                     size_t len,
                                     int kinds_bitmask);

union watch_item; /* Scratch element: see watch.c. */

struct coord_watches
{
    struct coord_strmap paths;    /* Path bytes -> struct watch_path (owns the bytes). */
    struct coord_u64map watchers; /* Watcher id -> struct watch_watcher. */
    /* Room for max(watchers, paths) items, reserved by add so that trigger
     * and foreach never allocate (a trigger cannot fail). */
    union watch_item *scratch;
    size_t scratch_cap;
    size_t data_count;      /* (watcher, path) pairs in the data table. */
    size_t child_count;     /* (watcher, path) pairs in the child table. */
    size_t recursive_count; /* Recursive watches: 0 lets triggers skip ancestors. */
    uint64_t stamp;         /* Bumped per trigger: marks a watcher already collected. */
    bool busy;              /* Inside a trigger's callbacks: no changes allowed. */
};

/* No allocation happens until the first watch: COORD_OK (or COORD_ENOMEM,
 * reserved for a future eager allocation). */
int coord_watches_init(struct coord_watches *w);
void coord_watches_close(struct coord_watches *w);

/* Set a watch. The path bytes are copied (any bytes: validating them is the
 * caller's job). Adding a kind the pair already holds changes nothing.
 * COORD_OK, COORD_ENOMEM (the manager is left exactly as it was), or
 * COORD_EBADARGUMENTS for an unknown kind, watcher 0, or a NULL path with a
 * nonzero length. */
int coord_watches_add(struct coord_watches *w,
                      uint64_t watcher,
                      const char *path,
                      size_t len,
                      int kind);

/* Report one tree change (COORD_EV_CREATED/DELETED/DATA_CHANGED on the node,
 * COORD_EV_CHILDREN_CHANGED on the parent) and fire the matching watches:
 *   CREATED, DATA_CHANGED (p): the data table at p (one-shot watches are
 *       removed, persistent ones stay), and recursive watches on every
 *       ancestor of p;
 *   DELETED (p): the same, plus the child table at p;
 *   CHILDREN_CHANGED (p): the child table at p only.
 * Each watcher gets at most one event per call, however many of its watches
 * match. Events go out in ascending watcher id order, after the manager has
 * been updated; `cb` (may be NULL) must not change the manager (asserted).
 * Other event types are ignored. Never allocates, never fails. */
void coord_watches_trigger(struct coord_watches *w,
                           int event_type,
                           const char *path,
                           size_t len,
                           coord_watch_fire_cb cb,
                           void *arg);

/* removeWatches (remove = true) and checkWatches (remove = false), ZooKeeper
 * 3.8 semantics: type Children removes the pair's child-table side (one-shot
 * child watch, persistent watch's child side), Data its data-table side
 * (one-shot data/exist watch, persistent watch's data side, recursive
 * watch), Any both. COORD_OK if the pair had something there,
 * COORD_ENOWATCHER if not, COORD_EMARSHALLING for any other type (3.8
 * answers that to the 3.9 types 4 and 5). Never allocates. */
int coord_watches_remove(struct coord_watches *w,
                         uint64_t watcher,
                         const char *path,
                         size_t len,
                         int type,
                         bool remove);

/* The connection closed: drop all its watches, in O(its watches). */
void coord_watches_remove_watcher(struct coord_watches *w, uint64_t watcher);

/* Whether the pair holds a watch of that kind. DATA and EXIST ask the same
 * question; PERSISTENT is true while either side of the persistent watch is
 * left. False for an unknown kind. */
bool coord_watches_has(const struct coord_watches *w,
                       uint64_t watcher,
                       const char *path,
                       size_t len,
                       int kind);

/* ---- statistics and dumps ------------------------------------------------------ */

/* (watcher, path, table) triples: data-table pairs plus child-table pairs, a
 * persistent watch counting twice. This is mntr's zk_watch_count. O(1). */
size_t coord_watches_count(const struct coord_watches *w);
/* Distinct paths with any watch, in either table. O(1). */
size_t coord_watches_path_count(const struct coord_watches *w);
/* Distinct watchers with any watch, in either table. O(1). */
size_t coord_watches_watcher_count(const struct coord_watches *w);

/* What ZooKeeper's wchs prints is the data table alone: `<watchers>
 * connections watching <paths> paths` / `Total watches:<watches>`. This
 * counts the pairs whose bits meet `table_bits` (COORD_WATCH_DATA_TABLE for
 * wchs), and the distinct watchers and paths among them. O(all watches). */
struct coord_watches_summary
{
    size_t watcher_count;
    size_t path_count;
    size_t watch_count;
};
void coord_watches_summarize(const struct coord_watches *w,
                             int table_bits,
                             struct coord_watches_summary *out);

/* Visit every (watcher, path) pair: watchers in ascending id order, and for
 * each its paths in ascending byte order (wchc). ZooKeeper's wchc and wchp
 * list the data table only: filter on kinds & COORD_WATCH_DATA_TABLE. The
 * callback must not change the manager. Never allocates. */
void coord_watches_foreach(const struct coord_watches *w, coord_watch_visit_cb cb, void *arg);
/* The same pairs grouped by path: paths in ascending byte order, and for
 * each its watchers in ascending id order (wchp). */
void coord_watches_foreach_path(const struct coord_watches *w, coord_watch_visit_cb cb, void *arg);

#endif /* COORD_WATCH_H */
