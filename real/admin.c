/* Four-letter words, in Apache ZooKeeper 3.8's output format. */
#define _GNU_SOURCE
#include "admin.h"

#include <dirent.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "config.h"
#include "coord/server.h"
#include "loop.h"

static void put(struct coord_buf *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct coord_buf *out, const char *fmt, ...)
{
    char line[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n > 0) {
        coord_buf_put(out, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
    }
}

/* The Mode line's word, as ZooKeeper's ServerStats prints it. */
static const char *mode_name(const struct coord_quorum_info *qi)
{
    if (qi->read_only) {
        return "read-only";
    }
    switch (qi->role) {
        case COORD_ROLE_LEADING:
            return "leader";
        case COORD_ROLE_FOLLOWING:
            return "follower";
        case COORD_ROLE_OBSERVING:
            return "observer";
        case COORD_ROLE_LOOKING:
            return "looking";
        default:
            return "standalone";
    }
}

static void latency_line(const struct coord_server *s, struct coord_buf *out)
{
    const struct coord_server_stats *st = &s->stats;
    double avg =
        st->latency_count == 0 ? 0.0 : (double)st->latency_sum_ms / (double)st->latency_count;
    put(out, "Latency min/avg/max: %lld/%.4f/%lld\n",
        (long long)(st->latency_count == 0 ? 0 : st->latency_min_ms), avg,
        (long long)st->latency_max_ms);
}

static void version_line(struct coord_buf *out)
{
    put(out, "Zookeeper version: %s, built on %s %s UTC\n", REAL_ADMIN_VERSION, __DATE__, __TIME__);
}

static void srvr_tail(struct real_loop *l,
                      const struct coord_quorum_info *qi,
                      struct coord_buf *out)
{
    const struct coord_server *s = &l->server;
    latency_line(s, out);
    put(out, "Received: %llu\n", (unsigned long long)s->stats.packets_received);
    put(out, "Sent: %llu\n", (unsigned long long)s->stats.packets_sent);
    put(out, "Connections: %zu\n", real_loop_conn_count(l));
    put(out, "Outstanding: %zu\n", coord_server_outstanding(s));
    put(out, "Zxid: 0x%llx\n", (unsigned long long)qi->last_applied);
    put(out, "Mode: %s\n", mode_name(qi));
    put(out, "Node count: %zu\n", s->tree.count);
    if (qi->role == COORD_ROLE_LEADING && !qi->read_only) {
        put(out, "Proposal sizes last/min/max: -1/-1/-1\n"); /* Not measured. */
    }
}

static void version_and_ro(const struct coord_quorum_info *qi, struct coord_buf *out)
{
    version_line(out);
    if (qi->read_only) {
        put(out, "READ-ONLY mode; serving only read-only clients\n");
    }
}

struct cons_ctx
{
    struct real_loop *l;
    struct coord_buf *out;
    bool full;
};

static const char *op_short(int32_t type)
{
    /* The abbreviations ZooKeeper prints as lop (Request.op2String). */
    switch (type) {
        case 1:
            return "CREA";
        case 2:
            return "DELE";
        case 3:
            return "EXIS";
        case 4:
            return "GETD";
        case 5:
            return "SETD";
        case 6:
            return "GETA";
        case 7:
            return "SETA";
        case 8:
            return "GETC";
        case 9:
            return "SYNC";
        case 11:
            return "PING";
        case 12:
            return "GET2";
        case 13:
            return "CKVR";
        case 14:
            return "MULT";
        case 15:
            return "CRE2";
        case 19:
            return "CRTE";
        case 21:
            return "CTTL";
        case 101:
            return "SETW";
        case -10:
            return "SESS";
        case -11:
            return "CLOS";
        default:
            return "NA";
    }
}

static void cons_one(void *arg, const struct real_conn_info *ci)
{
    struct cons_ctx *x = arg;
    struct coord_conn_info info;
    bool known = coord_server_conn_info(&x->l->server, ci->id, &info);
    put(x->out, " /%s[1](queued=%zu,recved=%llu,sent=%llu", ci->addr,
        ci->queued_bytes > 0 ? (size_t)1 : 0, (unsigned long long)ci->received,
        (unsigned long long)ci->sent);
    if (x->full && known && info.session != 0) {
        int64_t now = real_wall_ms();
        put(x->out,
            ",sid=0x%llx,lop=%s,est=%lld,to=%d,lcxid=0x%x,lzxid=0x%llx,lresp=%lld,llat=%lld,"
            "minlat=%lld,avglat=%lld,maxlat=%lld",
            (unsigned long long)info.session, op_short(info.last_op),
            (long long)(now - (real_now_ms() - info.established_ms)), info.timeout_ms,
            (unsigned)info.last_cxid, (unsigned long long)info.last_zxid,
            (long long)(now - (real_now_ms() - info.last_response_ms)),
            (long long)info.last_latency_ms, (long long)info.latency_min_ms,
            (long long)info.latency_avg_ms, (long long)info.latency_max_ms);
    }
    put(x->out, ")\n");
}

/* ZooKeeper's "<state> - <zab phase>"; a server answering mntr in quorum
 * mode is serving, so its phase is broadcast. */
static const char *peer_state(const struct coord_quorum_info *qi)
{
    switch (qi->role) {
        case COORD_ROLE_LEADING:
            return "leading - broadcast";
        case COORD_ROLE_FOLLOWING:
            return "following - broadcast";
        case COORD_ROLE_OBSERVING:
            return "observing - broadcast";
        default:
            return "looking - election";
    }
}

/* The quorum lines of mntr: every member, then the leader's own. */
static void mntr_quorum(struct real_loop *l,
                        const struct coord_quorum_info *qi,
                        struct coord_buf *out)
{
    if (qi->role == COORD_ROLE_STANDALONE || qi->read_only) {
        return; /* ZooKeeper prints neither in standalone nor in read-only mode. */
    }
    put(out, "zk_peer_state\t%s\n", peer_state(qi));
    put(out, "zk_quorum_size\t%zu\n", l->cfg->core.voter_count);
    if (qi->role != COORD_ROLE_LEADING) {
        return;
    }
    put(out, "zk_learners\t%u\n", qi->learners);
    put(out, "zk_synced_followers\t%u\n", qi->synced_followers);
    put(out, "zk_synced_non_voting_followers\t0\n");
    put(out, "zk_synced_observers\t%u\n", qi->synced_observers);
    put(out, "zk_pending_syncs\t%u\n", qi->pending_syncs);
    put(out, "zk_leader_uptime\t%lld\n",
        (long long)(l->leading_since_ms > 0 ? real_now_ms() - l->leading_since_ms : 0));
    put(out, "zk_min_proposal_size\t-1\n");
    put(out, "zk_max_proposal_size\t-1\n");
}

static void do_mntr(struct real_loop *l, const struct coord_quorum_info *qi, struct coord_buf *out)
{
    const struct coord_server *s = &l->server;
    const struct coord_server_stats *st = &s->stats;
    double avg =
        st->latency_count == 0 ? 0.0 : (double)st->latency_sum_ms / (double)st->latency_count;
    struct rlimit rl;
    long long max_fd = getrlimit(RLIMIT_NOFILE, &rl) == 0 ? (long long)rl.rlim_cur : -1;
    long long open_fd = 0;
    DIR *d = opendir("/proc/self/fd");
    if (d != NULL) {
        while (readdir(d) != NULL) {
            open_fd++;
        }
        closedir(d);
        open_fd -= 3; /* ".", ".." and the DIR's own fd */
    }
    put(out, "zk_version\t%s, built on %s %s UTC\n", REAL_ADMIN_VERSION, __DATE__, __TIME__);
    put(out, "zk_server_state\t%s\n", mode_name(qi));
    mntr_quorum(l, qi, out);
    put(out, "zk_avg_latency\t%.4f\n", avg);
    put(out, "zk_max_latency\t%lld\n", (long long)st->latency_max_ms);
    put(out, "zk_min_latency\t%lld\n",
        (long long)(st->latency_count == 0 ? 0 : st->latency_min_ms));
    put(out, "zk_packets_received\t%llu\n", (unsigned long long)st->packets_received);
    put(out, "zk_packets_sent\t%llu\n", (unsigned long long)st->packets_sent);
    put(out, "zk_num_alive_connections\t%zu\n", real_loop_conn_count(l));
    put(out, "zk_outstanding_requests\t%zu\n", coord_server_outstanding(s));
    put(out, "zk_znode_count\t%zu\n", s->tree.count);
    put(out, "zk_watch_count\t%zu\n", coord_watches_count(&s->watches));
    put(out, "zk_ephemerals_count\t%zu\n", s->tree.ephemeral_count);
    put(out, "zk_approximate_data_size\t%zu\n", s->tree.data_bytes);
    put(out, "zk_open_file_descriptor_count\t%lld\n", open_fd);
    put(out, "zk_max_file_descriptor_count\t%lld\n", max_fd);
    put(out, "zk_global_sessions\t%zu\n", coord_sessions_count(&s->sessions));
    put(out, "zk_uptime\t%lld\n", (long long)(real_wall_ms() - l->started_ms));
    put(out, "zk_last_proposal_size\t-1\n");
}

static void do_envi(struct real_loop *l, struct coord_buf *out)
{
    (void)l;
    struct utsname u;
    char host[256] = "unknown";
    gethostname(host, sizeof host - 1);
    put(out, "Environment:\n");
    put(out, "zookeeper.version=%s, built on %s %s UTC\n", REAL_ADMIN_VERSION, __DATE__, __TIME__);
    put(out, "host.name=%s\n", host);
    put(out, "java.version=none (coordd is written in C)\n");
    if (uname(&u) == 0) {
        put(out, "os.name=%s\n", u.sysname);
        put(out, "os.arch=%s\n", u.machine);
        put(out, "os.version=%s\n", u.release);
    }
    const char *user = getenv("USER");
    const char *home = getenv("HOME");
    put(out, "user.name=%s\n", user != NULL ? user : "?");
    put(out, "user.home=%s\n", home != NULL ? home : "?");
    char cwd[PATH_MAX];
    put(out, "user.dir=%s\n", getcwd(cwd, sizeof cwd) != NULL ? cwd : "?");
    long pages = sysconf(_SC_AVPHYS_PAGES);
    long total = sysconf(_SC_PHYS_PAGES);
    long psize = sysconf(_SC_PAGESIZE);
    put(out, "os.memory.free=%ldMB\n", pages * (psize / 1024) / 1024);
    put(out, "os.memory.max=%ldMB\n", total * (psize / 1024) / 1024);
    put(out, "os.memory.total=%ldMB\n", total * (psize / 1024) / 1024);
}

struct watch_dump
{
    const struct coord_server *server;
    struct coord_buf *out;
    uint64_t last_watcher;
    const char *last_path;
    size_t last_len;
    bool by_path;
};

/* Watches belong to connections; ZooKeeper prints the session behind each. */
static unsigned long long watcher_session(const struct coord_server *s, uint64_t watcher)
{
    struct coord_conn_info info;
    if (coord_server_conn_info(s, watcher, &info) && info.session != 0) {
        return (unsigned long long)info.session;
    }
    return 0;
}

static void wchc_one(void *arg, uint64_t watcher, const char *path, size_t len, int kinds)
{
    struct watch_dump *x = arg;
    if ((kinds & COORD_WATCH_DATA_TABLE) == 0) {
        return;
    }
    if (x->last_watcher != watcher) {
        if (x->last_watcher != 0) {
            put(x->out, "\n");
        }
        put(x->out, "0x%llx\n", watcher_session(x->server, watcher));
        x->last_watcher = watcher;
    }
    put(x->out, "\t%.*s\n", (int)len, path);
}

static void wchp_one(void *arg, uint64_t watcher, const char *path, size_t len, int kinds)
{
    struct watch_dump *x = arg;
    if ((kinds & COORD_WATCH_DATA_TABLE) == 0) {
        return;
    }
    if (x->last_path == NULL || x->last_len != len || memcmp(x->last_path, path, len) != 0) {
        if (x->last_path != NULL) {
            put(x->out, "\n");
        }
        put(x->out, "%.*s\n", (int)len, path);
        x->last_path = path;
        x->last_len = len;
    }
    put(x->out, "\t0x%llx\n", watcher_session(x->server, watcher));
}

static long long dir_size(const char *path)
{
    DIR *d = opendir(path);
    if (d == NULL) {
        return 0;
    }
    long long total = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') {
            continue;
        }
        char child[PATH_MAX];
        snprintf(child, sizeof child, "%s/%s", path, e->d_name);
        struct stat st;
        if (lstat(child, &st) != 0) {
            continue;
        }
        total += S_ISDIR(st.st_mode) ? dir_size(child) : (long long)st.st_size;
    }
    closedir(d);
    return total;
}

static void do_dump(struct real_loop *l, struct coord_buf *out)
{
    const struct coord_server *s = &l->server;
    put(out, "SessionTracker dump:\n");
    put(out, "Global Sessions(%zu):\n", coord_sessions_count(&s->sessions));
    size_t pos = 0;
    const struct coord_session *sess;
    while (coord_sessions_next(&s->sessions, &pos, &sess)) {
        put(out, "0x%llx\t%dms\n", (unsigned long long)sess->id, sess->timeout_ms);
    }
    put(out, "ephemeral nodes dump:\n");
    size_t owners = 0;
    pos = 0;
    while (coord_sessions_next(&s->sessions, &pos, &sess)) {
        if (coord_tree_ephemerals_of(&s->tree, sess->id) > 0) {
            owners++;
        }
    }
    put(out, "Sessions with Ephemerals (%zu):\n", owners);
    pos = 0;
    while (coord_sessions_next(&s->sessions, &pos, &sess)) {
        if (coord_tree_ephemerals_of(&s->tree, sess->id) == 0) {
            continue;
        }
        put(out, "0x%llx:\n", (unsigned long long)sess->id);
        size_t epos = 0;
        const struct tree_node *n;
        while ((n = coord_tree_next_ephemeral(&s->tree, sess->id, &epos)) != NULL) {
            size_t len;
            const char *path = coord_tree_node_path(n, &len);
            put(out, "\t%.*s\n", (int)len, path);
        }
    }
    put(out, "Connections dump:\n");
    put(out, "Connections Sets (0)/(%zu):\n", real_loop_conn_count(l));
}

/* The words a ZooKeeper server that is not serving (electing, syncing)
 * refuses with "not currently serving requests"; ruok, isro, envi, gtmk and
 * stmk answer all the same. */
static bool needs_serving(const char *word)
{
    static const char *const words[] = {"srvr", "stat", "mntr", "conf", "cons", "dump", "wchs",
                                        "wchc", "wchp", "dirs", "crst", "srst", "hash"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        if (strcmp(word, words[i]) == 0) {
            return true;
        }
    }
    return false;
}

void real_admin_answer(struct real_loop *l, const char *word, struct coord_buf *out)
{
    if ((unsigned char)word[0] == 0xff) {
        return; /* The telnet close sequence: just close. */
    }
    if (!real_config_4lw_enabled(l->cfg, word)) {
        put(out, "%s is not executed because it is not in the whitelist.\n", word);
        return;
    }
    struct coord_server *s = &l->server;
    struct coord_quorum_info qi;
    coord_server_quorum_info(s, &qi);
    bool serving = qi.serving || qi.read_only;
    if (strcmp(word, "ruok") == 0) {
        put(out, "imok");
    } else if (strcmp(word, "isro") == 0) {
        put(out, "%s", !serving ? "null" : (qi.read_only ? "ro" : "rw"));
    } else if (!serving && needs_serving(word)) {
        put(out, "This ZooKeeper instance is not currently serving requests\n");
    } else if (strcmp(word, "srvr") == 0) {
        version_and_ro(&qi, out);
        srvr_tail(l, &qi, out);
    } else if (strcmp(word, "stat") == 0) {
        version_and_ro(&qi, out);
        put(out, "Clients:\n");
        struct cons_ctx x = {l, out, false};
        real_loop_foreach_conn(l, cons_one, &x);
        put(out, "\n");
        srvr_tail(l, &qi, out);
    } else if (strcmp(word, "cons") == 0) {
        struct cons_ctx x = {l, out, true};
        real_loop_foreach_conn(l, cons_one, &x);
        put(out, "\n");
    } else if (strcmp(word, "mntr") == 0) {
        do_mntr(l, &qi, out);
    } else if (strcmp(word, "conf") == 0) {
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        if (f != NULL) {
            const char *dd = l->cfg->data_dir;
            const char *ld = l->cfg->data_log_dir[0] ? l->cfg->data_log_dir : dd;
            real_config_dump(l->cfg, f, dir_size(dd), dir_size(ld));
            fclose(f);
            coord_buf_put(out, text, len);
            free(text);
        }
    } else if (strcmp(word, "envi") == 0) {
        do_envi(l, out);
    } else if (strcmp(word, "wchs") == 0) {
        struct coord_watches_summary sum;
        coord_watches_summarize(&s->watches, COORD_WATCH_DATA_TABLE, &sum);
        put(out, "%zu connections watching %zu paths\nTotal watches:%zu\n", sum.watcher_count,
            sum.path_count, sum.watch_count);
    } else if (strcmp(word, "wchc") == 0) {
        struct watch_dump x = {s, out, 0, NULL, 0, false};
        coord_watches_foreach(&s->watches, wchc_one, &x);
        put(out, "\n");
    } else if (strcmp(word, "wchp") == 0) {
        struct watch_dump x = {s, out, 0, NULL, 0, true};
        coord_watches_foreach_path(&s->watches, wchp_one, &x);
        put(out, "\n");
    } else if (strcmp(word, "dump") == 0) {
        do_dump(l, out);
    } else if (strcmp(word, "dirs") == 0) {
        const char *dd = l->cfg->data_dir;
        const char *ld = l->cfg->data_log_dir[0] ? l->cfg->data_log_dir : dd;
        put(out, "datadir_size: %lld\nlogdir_size: %lld\n", dir_size(dd), dir_size(ld));
    } else if (strcmp(word, "crst") == 0) {
        put(out, "Connection stats reset.\n");
    } else if (strcmp(word, "srst") == 0) {
        memset(&s->stats, 0, sizeof s->stats);
        put(out, "Server stats reset.\n");
    } else if (strcmp(word, "gtmk") == 0) {
        put(out, "0");
    } else if (strcmp(word, "stmk") == 0) {
        put(out, "0");
    } else if (strcmp(word, "hash") == 0) {
        put(out, "Digest of the tree: 0x%016llx at zxid 0x%llx\n",
            (unsigned long long)coord_tree_digest(&s->tree), (unsigned long long)s->tree.last_zxid);
    } else {
        put(out, "%s is not executed because it is not in the whitelist.\n", word);
    }
}
