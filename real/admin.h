/* Four-letter words (ruok, srvr, stat, mntr, conf, cons, envi, wchs, wchc,
 * wchp, dump, dirs, isro, crst, srst, gtmk, stmk), answered in Apache
 * ZooKeeper 3.8's output format so that monitoring tools work unchanged. A
 * word not in 4lw.commands.whitelist gets ZooKeeper's refusal line.
 *
 * In quorum mode, as ZooKeeper 3.8 prints them: Mode leader, follower or
 * observer (read-only, with a "READ-ONLY mode" line, when cut off with
 * readonlymode.enabled); mntr adds zk_peer_state and zk_quorum_size, and on
 * the leader zk_learners, zk_synced_followers, zk_synced_observers,
 * zk_pending_syncs and zk_leader_uptime; isro answers ro or rw. While the
 * server does not serve (electing, syncing), srvr, stat, mntr, conf, cons,
 * dump, dirs, wch*, crst, srst and hash answer "This ZooKeeper instance is not
 * currently serving requests" and isro "null", like ZooKeeper. */
#ifndef COORD_REAL_ADMIN_H
#define COORD_REAL_ADMIN_H

#include "coord/util.h"

struct real_loop;

/* Append the answer to `word` (4 bytes, NUL-terminated) to `out`. */
void real_admin_answer(struct real_loop *l, const char *word, struct coord_buf *out);

/* The version line's version: what coordd reports as its ZooKeeper version. */
#define REAL_ADMIN_VERSION "3.8.0-coord-0.1.0"

#endif /* COORD_REAL_ADMIN_H */
