/* coordd's zoo.cfg reader. Rules from ZooKeeper 3.8.0's QuorumPeerConfig,
 * QuorumServer and FourLetterCommands, java.util.Properties' load() syntax,
 * and the `conf` output of a real 3.8.0 server (standalone and a one-server
 * quorum with an observer line, captured on Debian 12). */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"

#define ERR_LEN 512

/* ---- helpers ----------------------------------------------------------------- */

struct fixture
{
    struct real_config cfg;
    char err[ERR_LEN];
    char dir[64]; /* A temporary dataDir, for the file tests. */
};

static int setup(void **state)
{
    struct fixture *f = test_calloc(1, sizeof *f);
    *state = f;
    return f == NULL ? -1 : 0;
}

static void remove_in(const char *dir, const char *name)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    unlink(path);
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    if (f->dir[0] != '\0') {
        remove_in(f->dir, "myid");
        remove_in(f->dir, "zoo.cfg");
        remove_in(f->dir, "zoo.cfg.dynamic.100000000");
        rmdir(f->dir);
    }
    test_free(f);
    return 0;
}

static int parse(struct fixture *f, const char *text)
{
    return real_config_parse(&f->cfg, text, strlen(text), "zoo.cfg", f->err, sizeof f->err);
}

static void make_dir(struct fixture *f)
{
    strcpy(f->dir, "/tmp/test_config.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
}

static void write_in(const struct fixture *f, const char *name, const char *text)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", f->dir, name);
    FILE *out = fopen(path, "w");
    assert_non_null(out);
    fputs(text, out);
    fclose(out);
}

/* real_config_load on <dir>/zoo.cfg, whose text is `fmt` with the dir in %s. */
static int load(struct fixture *f, const char *fmt)
{
    char text[2048];
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral" /* Test texts, written below. */
    snprintf(text, sizeof text, fmt, f->dir, f->dir);
#pragma GCC diagnostic pop
    write_in(f, "zoo.cfg", text);
    char path[128];
    snprintf(path, sizeof path, "%s/zoo.cfg", f->dir);
    return real_config_load(&f->cfg, path, f->err, sizeof f->err);
}

/* The error text after "<dir>/", so expectations need no temp name. */
static const char *err_after_dir(const struct fixture *f)
{
    size_t n = strlen(f->dir);
    assert_memory_equal(f->err, f->dir, n);
    return f->err + n + 1;
}

static char *dump(const struct real_config *cfg, long long dd, long long ld)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    assert_non_null(out);
    real_config_dump(cfg, out, dd, ld);
    fclose(out);
    return text;
}

/* ---- the file as Debian ships it ------------------------------------------------ */

/* /etc/zookeeper/conf/zoo.cfg of Debian 12's zookeeper 3.8.0-11+deb12u2,
 * byte for byte (trailing blanks included). */
static const char debian_zoo_cfg[] =
    "# The number of milliseconds of each tick\n"
    "tickTime=2000\n"
    "# The number of ticks that the initial \n"
    "# synchronization phase can take\n"
    "initLimit=10\n"
    "# The number of ticks that can pass between \n"
    "# sending a request and getting an acknowledgement\n"
    "syncLimit=5\n"
    "# the directory where the snapshot is stored.\n"
    "# do not use /tmp for storage, /tmp here is just \n"
    "# example sakes.\n"
    "dataDir=/tmp/zookeeper\n"
    "# the port at which the clients will connect\n"
    "clientPort=2181\n"
    "# the maximum number of client connections.\n"
    "# increase this if you need to handle more clients\n"
    "#maxClientCnxns=60\n"
    "#\n"
    "# Be sure to read the maintenance section of the \n"
    "# administrator guide before turning on autopurge.\n"
    "#\n"
    "# https://zookeeper.apache.org/doc/current/zookeeperAdmin.html#sc_maintenance\n"
    "#\n"
    "# The number of snapshots to retain in dataDir\n"
    "#autopurge.snapRetainCount=3\n"
    "# Purge task interval in hours\n"
    "# Set to \"0\" to disable auto purge feature\n"
    "#autopurge.purgeInterval=1\n"
    "\n"
    "## Metrics Providers\n"
    "#\n"
    "# https://prometheus.io Metrics Exporter\n"
    "#metricsProvider.className=org.apache.zookeeper.metrics.prometheus."
    "PrometheusMetricsProvider\n"
    "#metricsProvider.httpHost=0.0.0.0\n"
    "#metricsProvider.httpPort=7000\n"
    "#metricsProvider.exportJvmInfo=true\n"
    "\n";

static void test_debian_default_zoo_cfg_parses(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(parse(f, debian_zoo_cfg), 0);
    const struct real_config *c = &f->cfg;
    assert_int_equal(c->tick_ms, 2000);
    assert_int_equal(c->init_limit, 10);
    assert_int_equal(c->sync_limit, 5);
    assert_string_equal(c->data_dir, "/tmp/zookeeper");
    assert_string_equal(c->data_log_dir, "");
    assert_int_equal(c->client_port, 2181);
    assert_string_equal(c->client_host, "");
    assert_int_equal(c->max_client_cnxns, 60);
    assert_int_equal(c->min_session_ms, 4000);
    assert_int_equal(c->max_session_ms, 40000);
    assert_int_equal(c->snap_retain_count, 3);
    assert_int_equal(c->purge_interval_h, 0);
    assert_true(c->standalone);
    assert_int_equal(c->server_count, 0);
    assert_int_equal(c->warning_count, 0);
    assert_int_equal(c->core.id, 1);
    assert_int_equal(c->core.tick_ms, 2000);
    assert_int_equal(c->core.min_session_ms, 4000);
    assert_int_equal(c->core.max_session_ms, 40000);
    assert_int_equal(c->core.max_frame_bytes, 0xfffff);
    assert_int_equal(c->core.snap_count, 100000);
    assert_false(c->core.ttl_enabled);
    assert_null(c->core.super_digest);
    assert_int_equal(c->core.voter_count, 0); /* Standalone. */
    assert_int_equal(c->core.observer_count, 0);
    assert_false(c->core.read_only_enabled);
}

static void test_tick_time_defaults_to_3000_as_zookeeper_3_8(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(parse(f, "dataDir=/d\nclientPort=2181\n"), 0);
    assert_int_equal(f->cfg.tick_ms, 3000);
    assert_int_equal(f->cfg.min_session_ms, 6000);
    assert_int_equal(f->cfg.max_session_ms, 60000);
}

/* ---- Properties syntax ----------------------------------------------------------- */

static void test_key_value_separators(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(parse(f,
                           "tickTime=1000\n"
                           "clientPort 2182\n"
                           "dataDir:/data\n"
                           "maxClientCnxns = 7\n"
                           "initLimit\t \t3\n"
                           "syncLimit :  4\n"
                           "  dataLogDir   /logs   \n"),
                     0);
    assert_int_equal(f->cfg.tick_ms, 1000);
    assert_int_equal(f->cfg.client_port, 2182);
    assert_string_equal(f->cfg.data_dir, "/data");
    assert_int_equal(f->cfg.max_client_cnxns, 7);
    assert_int_equal(f->cfg.init_limit, 3);
    assert_int_equal(f->cfg.sync_limit, 4);
    assert_string_equal(f->cfg.data_log_dir, "/logs");

    /* Only the first separator is one: the second belongs to the value. */
    assert_int_equal(parse(f, "dataDir=/d\nclientPort==2181\n"), -1);
    assert_string_equal(f->err, "zoo.cfg:2: clientPort: \"=2181\" is not a number");
    /* An escaped separator stays in the key. */
    assert_int_equal(parse(f, "dataDir=/d\nclientPort=1\nodd\\=key=v\n"), 0);
    assert_string_equal(f->cfg.warnings[0], "zoo.cfg:3: odd=key: unknown key; ignored");
}

static void test_comments_and_continuations(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(parse(f,
                           "# a comment\r\n"
                           "! another\r\n"
                           "   # indented comment\r\n"
                           "dataDir=/very/\\\r\n"
                           "        long/path\r\n"
                           "4lw.commands.whitelist=ruok,\\\n"
                           "   # not a comment: continued\n"
                           "# a comment ending in a backslash does not continue \\\n"
                           "clientPort=2181\n"
                           "superDigest=super:\\u0041bc\\tx\n"),
                     0);
    assert_string_equal(f->cfg.data_dir, "/very/long/path");
    assert_int_equal(f->cfg.client_port, 2181);
    assert_true(real_config_4lw_enabled(&f->cfg, "ruok"));
    assert_string_equal(f->cfg.super_digest, "super:Abc\tx");
    assert_int_equal(f->cfg.warning_count, 1);
    assert_string_equal(f->cfg.warnings[0],
                        "zoo.cfg:6: 4lw.commands.whitelist: \"# not a comment: continued\" is not "
                        "a four-letter word; ignored (separate the words with commas)");

    /* There are no trailing comments; lines after a continuation keep count. */
    assert_int_equal(parse(f, "dataDir=/a\\\n  b\n\nclientPort=2181 # the port\n"), -1);
    assert_string_equal(f->err, "zoo.cfg:4: clientPort: \"2181 # the port\" is not a number");
    /* An even number of backslashes is an escaped backslash, not a continuation. */
    assert_int_equal(parse(f, "dataDir=/a\\\\\nclientPort=2181\n"), 0);
    assert_string_equal(f->cfg.data_dir, "/a\\");
    assert_int_equal(parse(f, "dataDir=/d\nclientPort=2181\nsuperDigest=a:\\u00zz\n"), -1);
    assert_string_equal(f->err, "zoo.cfg:3: malformed \\uXXXX escape");
}

static void test_later_duplicate_wins(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(parse(f,
                           "clientPort=abc\n"
                           "dataDir=/first\n"
                           "clientPort=2181\n"
                           "dataDir=/second\n"
                           "tickTime=1000\n"
                           "tickTime=500\n"),
                     0);
    assert_int_equal(f->cfg.client_port, 2181);
    assert_string_equal(f->cfg.data_dir, "/second");
    assert_int_equal(f->cfg.tick_ms, 500);
    assert_int_equal(f->cfg.warning_count, 0);
}

static void test_nul_byte_is_error(void **state)
{
    struct fixture *f = *state;
    static const char text[] =
        "dataDir=/d\nclientPort=21\0"
        "81\n";
    assert_int_equal(
        real_config_parse(&f->cfg, text, sizeof text - 1, "zoo.cfg", f->err, sizeof f->err), -1);
    assert_string_equal(f->err, "zoo.cfg:2: contains a NUL byte: not a text file");
}

/* ---- required keys and values ---------------------------------------------------- */

static void test_missing_datadir_is_error_naming_key(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(parse(f, "tickTime=2000\nclientPort=2181\n"), -1);
    assert_string_equal(f->err,
                        "zoo.cfg: dataDir: not set (required: where snapshots and the "
                        "transaction log are kept)");
}

static void test_missing_client_port_is_error(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(parse(f, "dataDir=/d\n"), -1);
    assert_string_equal(f->err,
                        "zoo.cfg: clientPort: not set (and no server.N line gives a "
                        "client port)");
    assert_int_equal(parse(f, "dataDir=/d\nclientPortAddress=127.0.0.1\n"), -1);
    assert_string_equal(f->err, "zoo.cfg:2: clientPortAddress: set but clientPort is not set");
}

static void test_bad_number_names_line_and_key(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(parse(f,
                           "# line 1\n"
                           "tickTime=2000\n"
                           "\n"
                           "dataDir=/d\n"
                           "initLimit=10\n"
                           "syncLimit=5\n"
                           "clientPort=abc\n"),
                     -1);
    assert_string_equal(f->err, "zoo.cfg:7: clientPort: \"abc\" is not a number");
    assert_int_equal(parse(f, "dataDir=/d\nclientPort=2181\ntickTime=2000ms\n"), -1);
    assert_string_equal(f->err, "zoo.cfg:3: tickTime: \"2000ms\" is not a number");
    assert_int_equal(parse(f, "dataDir=/d\nclientPort=2181\ntickTime=0\n"), -1);
    assert_string_equal(f->err, "zoo.cfg:3: tickTime: 0 is out of range (1..107374182)");
    assert_int_equal(parse(f, "dataDir=/d\nclientPort=2181\nmaxClientCnxns=99999999999\n"), -1);
    assert_string_equal(f->err,
                        "zoo.cfg:3: maxClientCnxns: 99999999999 is out of range (0..2147483647)");
    assert_int_equal(parse(f, "dataDir=/d\nclientPort=2181\nstandaloneEnabled=yes\n"), -1);
    assert_string_equal(f->err, "zoo.cfg:3: standaloneEnabled: \"yes\" is not true or false");
    assert_int_equal(parse(f, "dataDir=/d\nclientPort=2181\nelectionAlg=1\n"), -1);
    assert_string_equal(f->err,
                        "zoo.cfg:3: electionAlg: 1 is not supported: only 3 (fast "
                        "leader election) is, as in ZooKeeper 3.8");
}

static void test_port_range(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(parse(f, "dataDir=/d\nclientPort=65535\n"), 0);
    assert_int_equal(f->cfg.client_port, 65535);
    assert_int_equal(parse(f, "dataDir=/d\nclientPort=65536\n"), -1);
    assert_string_equal(f->err, "zoo.cfg:2: clientPort: 65536 is out of range (0..65535)");
    assert_int_equal(parse(f, "dataDir=/d\nclientPort=-1\n"), -1);
    assert_string_equal(f->err, "zoo.cfg:2: clientPort: -1 is out of range (0..65535)");
    assert_int_equal(parse(f, "dataDir=/d\nclientPort=2181\nserver.1=a:0:3888\n"), -1);
    assert_string_equal(f->err, "zoo.cfg:3: server.1: peer port 0 is out of range (1..65535)");
    assert_int_equal(parse(f, "dataDir=/d\nclientPort=2181\nserver.1=a:2888:70000\n"), -1);
    assert_string_equal(f->err,
                        "zoo.cfg:3: server.1: election port 70000 is out of range (1..65535)");
    assert_int_equal(parse(f, "dataDir=/d\nserver.1=a:2888:3888;99999\n"), -1);
    assert_string_equal(f->err,
                        "zoo.cfg:2: server.1: client port 99999 is out of range (1..65535)");
}

static void test_min_session_above_max_is_error(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(parse(f,
                           "dataDir=/d\nclientPort=2181\ntickTime=2000\n"
                           "minSessionTimeout=50000\n"),
                     -1);
    assert_string_equal(f->err,
                        "zoo.cfg:4: minSessionTimeout: minSessionTimeout (50000) is "
                        "larger than maxSessionTimeout (40000, 20 ticks)");
    assert_int_equal(parse(f, "dataDir=/d\nclientPort=2181\nmaxSessionTimeout=3000\n"), -1);
    assert_string_equal(f->err,
                        "zoo.cfg:3: maxSessionTimeout: minSessionTimeout (6000, 2 ticks) "
                        "is larger than maxSessionTimeout (3000)");
    assert_int_equal(parse(f,
                           "dataDir=/d\nclientPort=2181\nminSessionTimeout=5000\n"
                           "maxSessionTimeout=5000\n"),
                     0);
    assert_int_equal(f->cfg.core.min_session_ms, 5000);
    assert_int_equal(f->cfg.core.max_session_ms, 5000);
    /* -1 is ZooKeeper's "unset". */
    assert_int_equal(parse(f, "dataDir=/d\nclientPort=2181\nminSessionTimeout=-1\n"), 0);
    assert_int_equal(f->cfg.min_session_ms, 6000);
}

/* ---- server lines ------------------------------------------------------------------- */

static const char quorum_cfg[] =
    "tickTime=2000\n"
    "initLimit=10\n"
    "syncLimit=5\n"
    "dataDir=/var/lib/zookeeper\n"
    "clientPort=2181\n"
    "server.3=zk3.example:2888:3888;2181\n"
    "server.1=zk1.example:2888:3888:participant\n"
    "server.2=[fe80::2]:2888:3888:PARTICIPANT;[::1]:2181\n"
    "server.10=10.0.0.10:2890:3890:observer;0.0.0.0:2185\n";

static void test_server_lines_parse_with_observer_and_client_port(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(parse(f, quorum_cfg), 0);
    const struct real_config *c = &f->cfg;
    assert_false(c->standalone);
    assert_int_equal(c->server_count, 4);
    assert_int_equal(c->warning_count, 0);
    const struct real_server_entry *s = c->servers; /* Sorted by id. */
    assert_int_equal(s[0].id, 1);
    assert_string_equal(s[0].host, "zk1.example");
    assert_int_equal(s[0].peer_port, 2888);
    assert_int_equal(s[0].election_port, 3888);
    assert_false(s[0].observer);
    assert_int_equal(s[0].client_port, 0);
    assert_int_equal(s[0].line, 7);
    assert_int_equal(s[1].id, 2);
    assert_string_equal(s[1].host, "fe80::2");
    assert_string_equal(s[1].client_host, "::1");
    assert_int_equal(s[1].client_port, 2181);
    assert_int_equal(s[2].id, 3);
    assert_string_equal(s[2].client_host, "0.0.0.0");
    assert_int_equal(s[2].client_port, 2181);
    assert_int_equal(s[3].id, 10);
    assert_true(s[3].observer);
    assert_int_equal(s[3].peer_port, 2890);
    assert_int_equal(s[3].client_port, 2185);
    assert_int_equal(c->server_id, 0); /* Until myid. */

    /* myid 10: the observer's own line gives the client port, which must
     * agree with clientPort. */
    assert_int_equal(real_config_apply_myid(&f->cfg, "10\n", 3, "myid", f->err, sizeof f->err), -1);
    assert_string_equal(f->err,
                        "zoo.cfg:9: server.10: client port 2185 differs from "
                        "clientPort=2181 (myid is 10)");
    assert_int_equal(real_config_apply_myid(&f->cfg, "2", 1, "myid", f->err, sizeof f->err), 0);
    assert_int_equal(c->server_id, 2);
    assert_int_equal(c->core.id, 2);
    assert_string_equal(c->client_host, "::1");
    assert_int_equal(c->client_port, 2181);

    /* The core gets the ensemble by id, voters and observers apart, in id
     * order whatever the order of the lines. */
    assert_int_equal(c->core.voter_count, 3);
    assert_int_equal(c->core.voters[0], 1);
    assert_int_equal(c->core.voters[1], 2);
    assert_int_equal(c->core.voters[2], 3);
    assert_int_equal(c->core.observer_count, 1);
    assert_int_equal(c->core.observers[0], 10);
    assert_int_equal(c->core.init_limit_ticks, 10);
    assert_int_equal(c->core.sync_limit_ticks, 5);
    assert_false(c->core.read_only_enabled);
}

/* A JVM property in ZooKeeper (-Dreadonlymode.enabled=true); zoo.cfg here. */
static void test_readonlymode_enabled_reaches_the_core(void **state)
{
    struct fixture *f = *state;
    char text[1024];
    snprintf(text, sizeof text, "%sreadonlymode.enabled=true\n", quorum_cfg);
    assert_int_equal(parse(f, text), 0);
    assert_int_equal(f->cfg.warning_count, 0);
    assert_int_equal(real_config_apply_myid(&f->cfg, "1", 1, "myid", f->err, sizeof f->err), 0);
    assert_true(f->cfg.core.read_only_enabled);
    assert_int_equal(f->cfg.core.id, 1);

    snprintf(text, sizeof text, "%sreadonlymode.enabled=FALSE\n", quorum_cfg);
    assert_int_equal(parse(f, text), 0);
    assert_false(f->cfg.read_only_enabled);

    snprintf(text, sizeof text, "%sreadonlymode.enabled=yes\n", quorum_cfg);
    assert_int_equal(parse(f, text), -1);
    assert_string_equal(f->err, "zoo.cfg:10: readonlymode.enabled: \"yes\" is not true or false");
}

/* The core holds at most COORD_ENSEMBLE_MAX members: the first line past
 * that is named. */
static void test_more_servers_than_an_ensemble_holds_is_an_error(void **state)
{
    struct fixture *f = *state;
    char text[4096] = "dataDir=/d\nclientPort=2181\ninitLimit=5\nsyncLimit=2\n";
    for (int id = 1; id <= COORD_ENSEMBLE_MAX + 1; id++) {
        char line[80];
        snprintf(line, sizeof line, "server.%d=127.0.0.1:%d:%d%s\n", id, 3000 + id, 4000 + id,
                 id > 12 ? ":observer" : "");
        strcat(text, line);
    }
    assert_int_equal(parse(f, text), -1);
    assert_string_equal(f->err,
                        "zoo.cfg:21: server.17: 17 server lines: an ensemble holds at most 16 "
                        "servers (participants and observers together)");
}

static void test_malformed_server_lines_are_errors(void **state)
{
    struct fixture *f = *state;
    static const struct
    {
        const char *line;
        const char *err;
    } cases[] = {
        {"server.1=zk1:2888",
         "zoo.cfg:2: server.1: expected "
         "host:peerport:electionport[:participant|observer][;[host:]clientport]"},
        {"server.1=zk1:2888:3888:leader",
         "zoo.cfg:2: server.1: \"leader\" is not participant or "
         "observer"},
        {"server.1=zk1:2888:2888",
         "zoo.cfg:2: server.1: the peer and election ports must differ "
         "(both 2888)"},
        {"server.1=zk1:x:3888", "zoo.cfg:2: server.1: peer port \"x\" is not a number"},
        {"server.1=a:1:2|b:1:2",
         "zoo.cfg:2: server.1: several addresses per server (a|b) are not "
         "supported"},
        {"server.1=a:1:2;h:p:3",
         "zoo.cfg:2: server.1: the client part after ';' must be port or "
         "host:port"},
        {"server.1=a:1:2;1;2", "zoo.cfg:2: server.1: more than one ';'"},
        {"server.one=a:1:2", "zoo.cfg:2: server.one: \"one\" is not a server id"},
        {"server.128=a:1:2",
         "zoo.cfg:2: server.128: server id 128 is outside 1..127 (coord keeps "
         "the id in the top byte of session ids, sign bit clear)"},
        {"server.0=a:1:2",
         "zoo.cfg:2: server.0: server id 0 is outside 1..127 (coord keeps the "
         "id in the top byte of session ids, sign bit clear)"},
        {"server.1=[::1:1:2",
         "zoo.cfg:2: server.1: expected "
         "host:peerport:electionport[:participant|observer][;[host:]clientport]"},
        {"server.1=::1:1:2",
         "zoo.cfg:2: server.1: expected "
         "host:peerport:electionport[:participant|observer][;[host:]clientport]"},
        {"group.1=1:2:3",
         "zoo.cfg:2: group.1: hierarchical quorums (group./weight.) are not "
         "supported; use majority quorums"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[256];
        snprintf(text, sizeof text, "dataDir=/d\n%s\nclientPort=2181\n", cases[i].line);
        assert_int_equal(parse(f, text), -1);
        assert_string_equal(f->err, cases[i].err);
    }
}

static void test_duplicate_server_id_is_error(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(parse(f,
                           "dataDir=/d\nclientPort=2181\ninitLimit=5\nsyncLimit=2\n"
                           "server.1=a:2888:3888\nserver.2=b:2888:3888\n"
                           "server.1=c:2888:3888\n"),
                     -1);
    assert_string_equal(f->err, "zoo.cfg:7: server.1: server id 1 is already given on line 5");
    assert_int_equal(parse(f,
                           "dataDir=/d\nclientPort=2181\ninitLimit=5\nsyncLimit=2\n"
                           "server.2=a:2888:3888\nserver.02=b:2888:3888\n"),
                     -1);
    assert_string_equal(f->err, "zoo.cfg:6: server.02: server id 2 is already given on line 5");
}

static void test_one_server_line_runs_standalone_unless_disabled(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(parse(f, "dataDir=/d\nserver.1=localhost:2888:3888;2182\n"), 0);
    assert_true(f->cfg.standalone);
    assert_int_equal(f->cfg.client_port, 2182);
    assert_string_equal(f->cfg.client_host, "0.0.0.0");
    assert_int_equal(f->cfg.core.id, 1);
    assert_int_equal(f->cfg.warning_count, 1);
    assert_string_equal(f->cfg.warnings[0],
                        "zoo.cfg:2: server.1: only one server line: running standalone, as "
                        "ZooKeeper does (standaloneEnabled=false makes a one-server quorum)");

    assert_int_equal(parse(f,
                           "dataDir=/d\nclientPort=2181\nstandaloneEnabled=false\n"
                           "initLimit=5\nsyncLimit=2\nserver.1=localhost:2888:3888\n"),
                     0);
    assert_false(f->cfg.standalone);
    assert_string_equal(f->cfg.warnings[0],
                        "zoo.cfg: server.N: 1 participants: no server "
                        "failure will be tolerated; you need at least 3");

    assert_int_equal(parse(f, "dataDir=/d\nclientPort=2181\nstandaloneEnabled=false\n"), -1);
    assert_string_equal(f->err,
                        "zoo.cfg:3: standaloneEnabled: false needs at least one "
                        "participant server.N line");
    assert_int_equal(parse(f,
                           "dataDir=/d\nclientPort=2181\nserver.1=a:1:2\n"
                           "server.2=b:1:2:observer\n"),
                     -1);
    assert_string_equal(f->err,
                        "zoo.cfg:4: server.2: observers need a quorum of participants "
                        "(at least two, or standaloneEnabled=false)");
}

static void test_quorum_requires_init_and_sync_limits(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(parse(f,
                           "dataDir=/d\nclientPort=2181\nsyncLimit=2\n"
                           "server.1=a:1:2\nserver.2=b:1:2\nserver.3=c:1:2\n"),
                     -1);
    assert_string_equal(f->err, "zoo.cfg: initLimit: not set (required with server.N lines)");
    assert_int_equal(parse(f,
                           "dataDir=/d\nclientPort=2181\ninitLimit=5\nsyncLimit=0\n"
                           "server.1=a:1:2\nserver.2=b:1:2\nserver.3=c:1:2\n"),
                     -1);
    assert_string_equal(f->err, "zoo.cfg:4: syncLimit: not set (required with server.N lines)");
}

/* ---- myid and other files ------------------------------------------------------------ */

static const char myid_cfg[] =
    "dataDir=%s\n"
    "initLimit=5\n"
    "syncLimit=2\n"
    "server.1=127.0.0.1:2888:3888;2181\n"
    "server.2=127.0.0.1:2889:3889;2182\n"
    "server.3=127.0.0.1:2890:3890;127.0.0.1:2183\n";

static void test_myid_read_and_validated(void **state)
{
    struct fixture *f = *state;
    make_dir(f);
    assert_int_equal(load(f, myid_cfg), -1);
    assert_string_equal(err_after_dir(f),
                        "myid: myid file is missing (with server.N lines it "
                        "must hold this server's id)");
    write_in(f, "myid", "replace this text with the cluster-unique zookeeper's instance id\n");
    assert_int_equal(load(f, myid_cfg), -1);
    assert_string_equal(err_after_dir(f),
                        "myid: \"replace this text with the cluster-unique "
                        "zookeeper's instan...\" is not a number (a myid "
                        "file holds this server's id)");
    write_in(f, "myid", "9\n");
    assert_int_equal(load(f, myid_cfg), -1);
    assert_string_equal(err_after_dir(f), "myid: server id 9 has no server.9 line");
    write_in(f, "myid", "200\n");
    assert_int_equal(load(f, myid_cfg), -1);
    assert_string_equal(err_after_dir(f), "myid: server id 200 is outside 1..127");

    write_in(f, "myid", " 3 \nignored\n");
    assert_int_equal(load(f, myid_cfg), 0);
    assert_false(f->cfg.standalone);
    assert_int_equal(f->cfg.server_id, 3);
    assert_int_equal(f->cfg.core.id, 3);
    assert_string_equal(f->cfg.client_host, "127.0.0.1");
    assert_int_equal(f->cfg.client_port, 2183);
    assert_string_equal(f->cfg.data_dir, f->dir);
    assert_int_equal(f->cfg.core.voter_count, 3);
    assert_int_equal(f->cfg.core.observer_count, 0);
    assert_int_equal(f->cfg.core.init_limit_ticks, 5);
    assert_int_equal(f->cfg.core.sync_limit_ticks, 2);
}

static void test_standalone_does_not_need_myid(void **state)
{
    struct fixture *f = *state;
    make_dir(f);
    write_in(f, "myid", "not a number, but nobody reads it\n");
    assert_int_equal(load(f, "dataDir=%s\nclientPort=2181\n"), 0);
    assert_true(f->cfg.standalone);
    assert_int_equal(f->cfg.server_id, 0);
}

static void test_dynamic_config_file_holds_the_server_lines(void **state)
{
    struct fixture *f = *state;
    make_dir(f);
    write_in(f, "myid", "2\n");
    write_in(f, "zoo.cfg.dynamic.100000000",
             "server.1=127.0.0.1:2888:3888:participant;0.0.0.0:2181\n"
             "server.2=127.0.0.1:2889:3889:participant;0.0.0.0:2182\n"
             "server.3=127.0.0.1:2890:3890:participant;0.0.0.0:2183\n");
    assert_int_equal(load(f,
                          "dataDir=%s\ninitLimit=5\nsyncLimit=2\n"
                          "dynamicConfigFile=%s/zoo.cfg.dynamic.100000000\n"),
                     0);
    assert_false(f->cfg.standalone);
    assert_int_equal(f->cfg.server_count, 3);
    assert_int_equal(f->cfg.server_id, 2);
    assert_int_equal(f->cfg.client_port, 2182);
    assert_int_equal(f->cfg.membership_version, 0x100000000);

    write_in(f, "zoo.cfg.dynamic.100000000", "server.1=127.0.0.1:2888:3888\ntickTime=5\n");
    assert_int_equal(load(f,
                          "dataDir=%s\ninitLimit=5\nsyncLimit=2\n"
                          "dynamicConfigFile=%s/zoo.cfg.dynamic.100000000\n"),
                     -1);
    assert_string_equal(err_after_dir(f),
                        "zoo.cfg.dynamic.100000000:2: tickTime: not allowed "
                        "in a dynamic configuration file");

    assert_int_equal(parse(f, "dataDir=/d\ndynamicConfigFile=/x\nclientPort=1\n"), -1);
    assert_string_equal(f->err,
                        "zoo.cfg:2: dynamicConfigFile: only real_config_load reads other files");
}

static void test_load_of_missing_file_is_error(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(real_config_load(&f->cfg, "/nonexistent/zoo.cfg", f->err, sizeof f->err), -1);
    assert_string_equal(f->err, "/nonexistent/zoo.cfg: cannot open: No such file or directory");
}

/* ---- keys coordd accepts without acting on them ---------------------------------- */

static void test_unknown_key_is_warning_not_error(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(parse(f,
                           "dataDir=/d\n"
                           "clientPort=2181\n"
                           "someFutureKey=42\n"
                           "admin.enableServer=false\n"
                           "admin.serverPort=8081\n"
                           "metricsProvider.httpPort=7000\n"
                           "forceSync=no\n"),
                     0);
    assert_int_equal(f->cfg.warning_count, 4);
    assert_string_equal(f->cfg.warnings[0], "zoo.cfg:3: someFutureKey: unknown key; ignored");
    assert_string_equal(f->cfg.warnings[1],
                        "zoo.cfg:5: admin.serverPort: has no effect in coordd; ignored");
    assert_string_equal(f->cfg.warnings[2],
                        "zoo.cfg:6: metricsProvider.httpPort: has no effect in coordd; ignored");
    assert_string_equal(f->cfg.warnings[3],
                        "zoo.cfg:7: forceSync: ignored: coordd always syncs "
                        "its log before it acknowledges a write");
}

static void test_warnings_past_the_limit_are_counted(void **state)
{
    struct fixture *f = *state;
    char text[4096] = "dataDir=/d\nclientPort=2181\n";
    for (int i = 0; i < REAL_CONFIG_WARNINGS_MAX + 5; i++) {
        char line[32];
        snprintf(line, sizeof line, "unknown%d=1\n", i);
        strcat(text, line);
    }
    assert_int_equal(parse(f, text), 0);
    assert_int_equal(f->cfg.warning_count, REAL_CONFIG_WARNINGS_MAX);
    assert_string_equal(f->cfg.warnings[0], "zoo.cfg:3: unknown0: unknown key; ignored");
    assert_string_equal(f->cfg.warnings[REAL_CONFIG_WARNINGS_MAX - 1],
                        "zoo.cfg: 6 more warnings not shown");
}

static void test_security_features_are_refused_not_ignored(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(parse(f, "dataDir=/d\nclientPort=2181\nsslQuorum=true\n"), -1);
    assert_string_equal(f->err,
                        "zoo.cfg:3: sslQuorum: not supported by coordd (quorum traffic "
                        "is neither encrypted nor authenticated); remove it or set it "
                        "to false");
    assert_int_equal(parse(f, "dataDir=/d\nclientPort=2181\nsslQuorum=false\n"), 0);
    assert_int_equal(f->cfg.warning_count, 0);
}

static void test_core_settings_from_system_property_keys(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(
        parse(f,
              "dataDir=/d\n"
              "clientPort=2181\n"
              "extendedTypesEnabled=true\n"
              "DigestAuthenticationProvider.superDigest=super:D/InIHSb7yEEbrWz8b9l71RjZJU=\n"
              "jute.maxbuffer=4194304\n"
              "snapCount=1\n"
              "autopurge.snapRetainCount=1\n"
              "logLevel=DEBUG\n"
              "clientOutMaxBytes=1048576\n"),
        0);
    const struct real_config *c = &f->cfg;
    assert_true(c->core.ttl_enabled);
    assert_string_equal(c->core.super_digest, "super:D/InIHSb7yEEbrWz8b9l71RjZJU=");
    assert_int_equal(c->core.max_frame_bytes, 4194304);
    assert_int_equal(c->core.snap_count, 2);
    assert_int_equal(c->snap_retain_count, 3);
    assert_string_equal(c->log_level, "debug");
    assert_int_equal(c->core.conn_out_max_bytes, 1048576);
    assert_int_equal(c->warning_count, 2);
    assert_string_equal(c->warnings[0],
                        "zoo.cfg:6: snapCount: 1 is below 2; using 2, as "
                        "ZooKeeper does");

    assert_int_equal(parse(f, "dataDir=/d\nclientPort=2181\nlogLevel=chatty\n"), -1);
    assert_string_equal(f->err,
                        "zoo.cfg:3: logLevel: \"chatty\" is not error, warn, info or debug");
    assert_int_equal(parse(f, "dataDir=/d\nclientPort=2181\nsuperDigest=nocolon\n"), -1);
    assert_string_equal(f->err,
                        "zoo.cfg:3: superDigest: \"nocolon\" is not of the form user:base64digest");
}

/* ---- four-letter words ------------------------------------------------------------- */

static void test_4lw_whitelist_default_srvr_only(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(parse(f, "dataDir=/d\nclientPort=2181\n"), 0);
    assert_true(real_config_4lw_enabled(&f->cfg, "srvr"));
    assert_false(real_config_4lw_enabled(&f->cfg, "ruok"));
    assert_false(real_config_4lw_enabled(&f->cfg, "stat"));
    assert_false(real_config_4lw_enabled(&f->cfg, "conf"));
    assert_false(real_config_4lw_enabled(&f->cfg, "isro"));
    assert_int_equal(f->cfg.fourlw_mask, 0);
    assert_false(f->cfg.fourlw_all);
}

static void test_4lw_whitelist_star_and_list(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(parse(f,
                           "dataDir=/d\nclientPort=2181\n"
                           "4lw.commands.whitelist= stat, ruok ,,mntr,bogus,RUOK\n"),
                     0);
    assert_true(real_config_4lw_enabled(&f->cfg, "stat"));
    assert_true(real_config_4lw_enabled(&f->cfg, "ruok"));
    assert_true(real_config_4lw_enabled(&f->cfg, "mntr"));
    assert_true(real_config_4lw_enabled(&f->cfg, "srvr")); /* Always, as in ZooKeeper. */
    assert_false(real_config_4lw_enabled(&f->cfg, "conf"));
    assert_false(real_config_4lw_enabled(&f->cfg, "bogus"));
    assert_int_equal(f->cfg.fourlw_mask, 1u << real_config_4lw_index("stat") |
                                             1u << real_config_4lw_index("ruok") |
                                             1u << real_config_4lw_index("mntr"));
    assert_int_equal(f->cfg.warning_count, 2);
    assert_string_equal(f->cfg.warnings[0],
                        "zoo.cfg:3: 4lw.commands.whitelist: \"bogus\" is not "
                        "a four-letter word; ignored");
    assert_string_equal(f->cfg.warnings[1],
                        "zoo.cfg:3: 4lw.commands.whitelist: \"RUOK\" is not "
                        "a four-letter word; ignored");

    assert_int_equal(parse(f, "dataDir=/d\nclientPort=2181\n4lw.commands.whitelist=ruok, *\n"), 0);
    assert_true(f->cfg.fourlw_all);
    static const char *const all[] = {"conf", "cons", "crst", "dirs", "dump", "envi",
                                      "gtmk", "ruok", "stmk", "srst", "srvr", "stat",
                                      "wchc", "wchp", "wchs", "mntr", "isro", "hash"};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        assert_true(real_config_4lw_enabled(&f->cfg, all[i]));
    }
    assert_false(real_config_4lw_enabled(&f->cfg, "xxxx"));
    assert_int_equal(real_config_4lw_index("hash"), 17);
}

static void test_conf_dump_format(void **state)
{
    struct fixture *f = *state;
    /* What a standalone 3.8.0 printed for this file (its dataDir line names
     * the version-2 subdirectory; ours the configured one). */
    assert_int_equal(parse(f, "tickTime=2000\ndataDir=/tmp/zkt/d1\nclientPort=21891\n"), 0);
    char *text = dump(&f->cfg, 457, 457);
    assert_string_equal(text,
                        "clientPort=21891\n"
                        "secureClientPort=-1\n"
                        "dataDir=/tmp/zkt/d1\n"
                        "dataDirSize=457\n"
                        "dataLogDir=/tmp/zkt/d1\n"
                        "dataLogSize=457\n"
                        "tickTime=2000\n"
                        "maxClientCnxns=60\n"
                        "minSessionTimeout=4000\n"
                        "maxSessionTimeout=40000\n"
                        "clientPortListenBacklog=-1\n"
                        "serverId=0\n");
    free(text);

    /* A quorum member: the membership ends without a newline, as in 3.8.0. */
    assert_int_equal(parse(f,
                           "tickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir=/tmp/zkt/d2\n"
                           "dataLogDir=/tmp/zkt/log\nclientPort=21892\n"
                           "server.3=127.0.0.1:22888:23888\n"
                           "server.5=localhost:22889:23889:observer;0.0.0.0:21895\n"
                           "server.6=[::1]:22890:23890;[::1]:21896\n"),
                     0);
    assert_int_equal(real_config_apply_myid(&f->cfg, "3", 1, "myid", f->err, sizeof f->err), 0);
    text = dump(&f->cfg, 565, 12);
    assert_string_equal(text,
                        "clientPort=21892\n"
                        "secureClientPort=-1\n"
                        "dataDir=/tmp/zkt/d2\n"
                        "dataDirSize=565\n"
                        "dataLogDir=/tmp/zkt/log\n"
                        "dataLogSize=12\n"
                        "tickTime=2000\n"
                        "maxClientCnxns=60\n"
                        "minSessionTimeout=4000\n"
                        "maxSessionTimeout=40000\n"
                        "clientPortListenBacklog=-1\n"
                        "serverId=3\n"
                        "initLimit=10\n"
                        "syncLimit=5\n"
                        "electionAlg=3\n"
                        "electionPort=23888\n"
                        "quorumPort=22888\n"
                        "peerType=0\n"
                        "membership: \n"
                        "server.3=127.0.0.1:22888:23888:participant\n"
                        "server.5=localhost:22889:23889:observer;0.0.0.0:21895\n"
                        "server.6=[::1]:22890:23890:participant;[::1]:21896\n"
                        "version=0");
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_debian_default_zoo_cfg_parses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tick_time_defaults_to_3000_as_zookeeper_3_8, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_key_value_separators, setup, teardown),
        cmocka_unit_test_setup_teardown(test_comments_and_continuations, setup, teardown),
        cmocka_unit_test_setup_teardown(test_later_duplicate_wins, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nul_byte_is_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_datadir_is_error_naming_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_client_port_is_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_number_names_line_and_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_port_range, setup, teardown),
        cmocka_unit_test_setup_teardown(test_min_session_above_max_is_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_lines_parse_with_observer_and_client_port,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_server_lines_are_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_server_id_is_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_one_server_line_runs_standalone_unless_disabled, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_quorum_requires_init_and_sync_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_myid_read_and_validated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_readonlymode_enabled_reaches_the_core, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_more_servers_than_an_ensemble_holds_is_an_error, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_standalone_does_not_need_myid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dynamic_config_file_holds_the_server_lines, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_load_of_missing_file_is_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_key_is_warning_not_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_warnings_past_the_limit_are_counted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_security_features_are_refused_not_ignored, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_core_settings_from_system_property_keys, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_4lw_whitelist_default_srvr_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_4lw_whitelist_star_and_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conf_dump_format, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
