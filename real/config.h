/* coordd's configuration: the zoo.cfg an Apache ZooKeeper 3.8 operator
 * already has, read the way ZooKeeper's QuorumPeerConfig reads it, plus the
 * `myid` file in dataDir.
 *
 * Syntax is java.util.Properties: `key=value`, `key:value` or `key value`;
 * `#` and `!` start comment lines (only at the start of a line: ZooKeeper has
 * no trailing comments, so `clientPort=2181 # x` is a bad number there too);
 * a line ending in an odd number of backslashes continues on the next one;
 * \t \n \r \f \uXXXX and \<char> escapes; a later duplicate key overrides an
 * earlier one. Keys and values are trimmed.
 *
 * Keys, and where coordd departs from ZooKeeper 3.8.0:
 * - tickTime (default 3000, ZooKeeper's DEFAULT_TICK_TIME), dataDir
 *   (required), dataLogDir (default dataDir), clientPort, clientPortAddress,
 *   maxClientCnxns (default 60, 0 = no limit), minSessionTimeout and
 *   maxSessionTimeout (defaults 2 and 20 ticks; min > max is an error),
 *   clientPortListenBacklog, initLimit, syncLimit (both required in quorum
 *   mode), electionAlg (only 3), peerType, standaloneEnabled,
 *   autopurge.snapRetainCount (below 3 becomes 3, as in ZooKeeper),
 *   autopurge.purgeInterval, version, server.N.
 * - server.N=host:peerport:electionport[:participant|observer][;[host:]port].
 *   N must be 1..127, not ZooKeeper's 1..255: coord puts the id in the top
 *   byte of session ids and keeps their sign bit clear. Unlike ZooKeeper, a
 *   server id given twice (`server.1` twice, or `server.1` and `server.01`)
 *   is an error, not "the last one wins": an ambiguous membership is never
 *   what the operator meant. Several addresses per server (`a|b`) and
 *   group./weight. (hierarchical quorums) are refused.
 * - Mode: no server lines = standalone. One participant line runs standalone
 *   too unless standaloneEnabled=false (ZooKeeper 3.8 logs "only one server
 *   specified (ignoring)" and does the same). Two or more = quorum.
 * - dynamicConfigFile is followed by real_config_load (the server lines then
 *   live in that file, as in ZooKeeper 3.5+).
 * - Keys ZooKeeper turns into "zookeeper.<key>" system properties:
 *   4lw.commands.whitelist (comma list, `*` = all; srvr is always enabled, as
 *   in ZooKeeper; unknown words are ignored with a warning), snapCount
 *   (below 2 becomes 2), preAllocSize, globalOutstandingLimit,
 *   extendedTypesEnabled (TTL nodes), DigestAuthenticationProvider.superDigest,
 *   forceSync (coordd always syncs: `no` is accepted with a warning).
 * - jute.maxbuffer: honoured here as the largest request frame. In ZooKeeper
 *   it only works as a JVM -D property; in zoo.cfg it is silently ignored.
 * - readonlymode.enabled (true|false): a JVM system property in ZooKeeper
 *   (-Dreadonlymode.enabled=true; zoo.cfg cannot set it there). coordd reads
 *   it from zoo.cfg: a server cut off from its quorum then serves clients
 *   that asked for read-only sessions.
 * - An ensemble holds at most COORD_ENSEMBLE_MAX (16) servers, participants
 *   and observers together; more server lines are an error.
 * - Our own keys: superDigest (the same as
 *   DigestAuthenticationProvider.superDigest, "user:base64(sha1)"; ZooKeeper
 *   takes it as a system property), zookeeper.extendedTypesEnabled (the same
 *   as extendedTypesEnabled), logLevel (error|warn|info|debug),
 *   clientOutMaxBytes (unsent output a client may accumulate before it is
 *   disconnected; 0 = the event loop's default).
 * - Accepted with a warning because coordd has no such feature: the admin
 *   server (admin.*; admin.enableServer=false is silent), TLS
 *   (secureClientPort, portUnification, ...), local sessions, metrics
 *   providers, reconfig, quorum SASL, JVM tuning. Features
 *   whose absence would weaken security (sslQuorum=true, quorum SASL
 *   required) are errors instead.
 * - Unknown keys: ZooKeeper stores them as system properties and goes on; so
 *   do we, with a warning, so an operator's file is never refused for them.
 *
 * Errors name the file, the line and the key:
 *   zoo.cfg:7: clientPort: "abc" is not a number
 * Warnings are collected in the struct for the caller to log. */
#ifndef COORD_REAL_CONFIG_H
#define COORD_REAL_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "coord/server.h"
#include "coord/types.h"

#ifndef PATH_MAX
#define PATH_MAX 4096
#endif

#define REAL_CONFIG_HOST_MAX 256
#define REAL_CONFIG_SERVERS_MAX COORD_SERVER_ID_MAX
#define REAL_CONFIG_WARNINGS_MAX 32
#define REAL_CONFIG_WARNING_LEN 256
#define REAL_CONFIG_FILE_MAX_BYTES (1024 * 1024) /* A zoo.cfg is a few KiB. */

/* One server.N line. */
struct real_server_entry
{
    coord_id id;
    char host[REAL_CONFIG_HOST_MAX]; /* As written: not resolved; no [] around IPv6. */
    uint16_t peer_port;
    uint16_t election_port;
    bool observer;
    char client_host[REAL_CONFIG_HOST_MAX]; /* "0.0.0.0" when only a port is given. */
    uint16_t client_port;                   /* 0 = the line has no ";[host:]port". */
    int line;                               /* Where it was read, for messages. */
};

struct real_config
{
    /* For coord_server_init. super_digest points into this struct (do not
     * copy a real_config by value and keep using the copy's core). In
     * quorum mode it also carries the ensemble: voters and observers by id,
     * initLimit, syncLimit and readonlymode.enabled. */
    struct coord_config core;

    char data_dir[PATH_MAX];
    char data_log_dir[PATH_MAX];            /* "" = dataDir. */
    char client_host[REAL_CONFIG_HOST_MAX]; /* "" = every address. */
    uint16_t client_port;                   /* Effective: clientPort or this server's line. */
    int max_client_cnxns;                   /* Per client IP; 0 = no limit. */
    int listen_backlog;                     /* clientPortListenBacklog; -1 = unset. */
    int tick_ms;
    int min_session_ms; /* Resolved (never -1). */
    int max_session_ms;

    /* Quorum. */
    int init_limit; /* Ticks. */
    int sync_limit;
    int connect_to_learner_master_limit;
    int election_alg; /* Always 3. */
    bool quorum_listen_on_all_ips;
    bool sync_enabled;
    bool peer_observer; /* peerType=observer; the server line wins if they differ. */
    bool standalone;
    bool standalone_enabled;
    bool read_only_enabled; /* readonlymode.enabled */
    bool reconfig_enabled;
    coord_id server_id;          /* myid in quorum mode; 0 standalone (what `conf` prints). */
    uint64_t membership_version; /* `version` (hex), printed by `conf`. */
    struct real_server_entry servers[REAL_CONFIG_SERVERS_MAX]; /* By id. */
    size_t server_count;
    char dynamic_config_file[PATH_MAX]; /* "" = none. */
    char servers_file[PATH_MAX];        /* Where the server lines were read, for messages. */

    /* Four-letter words: bit real_config_4lw_index(word) of fourlw_mask. */
    uint32_t fourlw_mask;
    bool fourlw_all;

    /* Housekeeping and limits. */
    int snap_retain_count; /* autopurge.snapRetainCount, >= 3. */
    int purge_interval_h;  /* autopurge.purgeInterval; 0 = never purge. */
    int64_t prealloc_kb;   /* preAllocSize. */
    int global_outstanding_limit;
    int jute_maxbuffer; /* Bytes; also core.max_frame_bytes. */
    size_t client_out_max_bytes;
    bool force_sync;        /* Always true in effect: see forceSync. */
    char super_digest[256]; /* "" = none. */
    char log_level[16];     /* "" = leave the default. */

    char warnings[REAL_CONFIG_WARNINGS_MAX][REAL_CONFIG_WARNING_LEN];
    size_t warning_count; /* The last slot says how many more were dropped. */
};

/* Read the file at `path`, then dynamicConfigFile if it names one, then
 * dataDir/myid when there are server lines (required in quorum mode). `cfg`
 * is overwritten. Returns 0, or -1 with a message in err ("path:line: key:
 * what"). */
int real_config_load(struct real_config *cfg, const char *path, char *err, size_t err_len);

/* The same from memory (tests): everything but the files. In quorum mode the
 * result still lacks myid: follow with real_config_apply_myid. A text naming
 * a dynamicConfigFile is refused (only real_config_load reads other files). */
int real_config_parse(struct real_config *cfg,
                      const char *text,
                      size_t len,
                      const char *name_for_errors,
                      char *err,
                      size_t err_len);

/* Apply the content of a myid file (its first line: a number). In quorum mode
 * it must be 1..127 and name a server line; it becomes server_id and core.id,
 * and that line's client address becomes the listener's (it must agree with
 * clientPort if both are given). Standalone, only its syntax is checked
 * (ZooKeeper reads it there too). Returns 0 or -1 with err. */
int real_config_apply_myid(struct real_config *cfg,
                           const char *text,
                           size_t len,
                           const char *name_for_errors,
                           char *err,
                           size_t err_len);

/* The bit of a four-letter word in fourlw_mask, or -1 for an unknown word. */
int real_config_4lw_index(const char *word);

/* Whether a four-letter word may run: listed, or `*`, or srvr (always on, as
 * in ZooKeeper: zkServer.sh status needs it). Unknown words: false. */
bool real_config_4lw_enabled(const struct real_config *cfg, const char *word);

/* The `conf` four-letter word: ZooKeeper 3.8's key=value lines in its order.
 * The directory sizes need the filesystem, so the caller measures them.
 * Differences: dataDir/dataLogDir are printed as configured (ZooKeeper
 * prints the absolute path of its version-2 subdirectory), and
 * secureClientPort is always -1 (no TLS). In quorum mode the output ends with
 * "membership: " and the server lines, then "version=<hex>" without a
 * newline, exactly as ZooKeeper writes it. */
void real_config_dump(const struct real_config *cfg,
                      FILE *out,
                      long long data_dir_bytes,
                      long long data_log_dir_bytes);

#endif /* COORD_REAL_CONFIG_H */
