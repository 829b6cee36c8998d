/* A coordsim scenario: what to simulate, which faults to inject and what the
 * run must show. Loaded from YAML (scenarios/NAME.yaml, schema in
 * docs/scenarios.md) and adjusted with --set KEY=VALUE, where KEY is the
 * dotted path of a field as written in the YAML (e.g. ensemble.servers,
 * workload.rate, faults.2.at, expect.writes_unavailable_s.max).
 *
 * Every value has a default, so an empty mapping is a valid scenario (three
 * servers, a register workload, no faults, 60 simulated seconds). Times in
 * the YAML are seconds (numbers) unless the key ends in _ms. */
#ifndef COORD_SIM_SCENARIO_H
#define COORD_SIM_SCENARIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SIM_SERVERS_MAX 9  /* Voters + observers. */
#define SIM_FAULTS_MAX 256 /* Scheduled fault events. */
#define SIM_GROUPS_MAX 9   /* Groups of one partition. */
#define SIM_NAME_MAX 64

/* Node numbering: servers are 1..servers (voters) then observers after them;
 * clients are named c1..cN. A node set is a bit mask over server ids
 * (bit i = server i), plus `clients` when the clients are included. */
struct sim_nodes
{
    uint32_t servers; /* Bit i set = server i (bit 0 unused). */
    bool all_clients;
    bool leader;   /* "leader": resolved when the fault fires (the current leader). */
    bool follower; /* "follower": one follower, chosen by the seed when it fires. */
};

enum sim_fault_kind {
    SIM_FAULT_PARTITION = 1, /* groups: nodes in different groups cannot talk. */
    SIM_FAULT_ISOLATE,       /* nodes: cut from everyone else. */
    SIM_FAULT_BRIDGE,        /* Two halves joined by one node that talks to both. */
    SIM_FAULT_RING,          /* Each server talks only to its two neighbours. */
    SIM_FAULT_ONE_WAY,       /* from -> to messages dropped (to -> from still flows). */
    SIM_FAULT_HEAL,          /* Every cut and one-way block goes. */
    SIM_FAULT_CRASH,         /* nodes crash (lose unsynced storage). */
    SIM_FAULT_RESTART,       /* nodes restart from their disk. */
    SIM_FAULT_PAUSE,         /* nodes stop handling events (like a long GC pause)... */
    SIM_FAULT_RESUME,        /* ...and go on with everything that queued up. */
    SIM_FAULT_DELAY,         /* Extra delay + jitter on connections (FIFO kept); 0 clears. */
    SIM_FAULT_RESET,         /* Connections of nodes break: in-flight messages lost. */
    SIM_FAULT_BANDWIDTH,     /* Bandwidth limit of the nodes' links. */
    SIM_FAULT_SLOW_DISK,     /* Sync latency of the nodes' disks. */
    SIM_FAULT_DRIFT,         /* Clock rate of the nodes: drift_ppm (1e6 = +100%). */
    SIM_FAULT_CLOCK_JUMP,    /* Clock offset of the nodes moves by jump_ms. */
};

struct sim_fault
{
    double at_s; /* Simulated time it fires. */
    enum sim_fault_kind kind;
    struct sim_nodes nodes;                  /* The nodes it applies to. */
    struct sim_nodes groups[SIM_GROUPS_MAX]; /* PARTITION */
    size_t group_count;
    struct sim_nodes from, to; /* ONE_WAY; BRIDGE: from/to are the halves, nodes the bridge. */
    double delay_ms;           /* DELAY */
    double jitter_ms;          /* DELAY */
    double bandwidth_mbps;     /* BANDWIDTH */
    double disk_sync_ms;       /* SLOW_DISK */
    int64_t drift_ppm;         /* DRIFT */
    int64_t jump_ms;           /* CLOCK_JUMP */
    double duration_s;         /* > 0: the fault is undone after this long (heal, restart,
                                  resume, delay 0, drift 0). */
    int line;                  /* Where it was written, for messages. */
    bool reject;               /* Cuts: connections crossing them reset at once (mode: reject)
                                  instead of silently losing messages (mode: drop). */
};

/* A nemesis drawing faults at random from the seed. */
struct sim_nemesis
{
    bool enabled;
    double start_s;    /* First fault not before. */
    double stop_s;     /* No new fault after (0 = duration - settle). */
    double interval_s; /* Mean time between faults (exponential). */
    double duration_s; /* Mean fault duration before it is undone. */
    uint32_t kinds;    /* Bit (1 << kind) for each kind it may draw. */
    double settle_s;   /* Fault-free time at the end (everything healed). */
};

enum sim_workload_kind {
    SIM_WORKLOAD_REGISTER = 1,  /* read / write / cas on a few keys. */
    SIM_WORKLOAD_SESSIONS,      /* ephemerals, expiry, watches. */
    SIM_WORKLOAD_MASTER_WORKER, /* hooks for the application of a later issue. */
    SIM_WORKLOAD_NONE,
};

struct sim_scenario
{
    char name[SIM_NAME_MAX]; /* Defaults to the file's base name without .yaml. */
    char description[2048];
    uint64_t seed;     /* Default 1. */
    double duration_s; /* Simulated seconds; default 60. */

    /* ensemble */
    unsigned servers;             /* Voters, 1..SIM_SERVERS_MAX; default 3. */
    unsigned observers;           /* Default 0; servers + observers <= SIM_SERVERS_MAX. */
    int32_t tick_ms;              /* Default 2000 (ZooKeeper's tickTime). */
    int32_t init_limit;           /* Ticks; default 10. */
    int32_t sync_limit;           /* Ticks; default 5. */
    int32_t election_finalize_ms; /* Default 200. */
    int32_t snap_count;           /* Default 100000. */
    bool read_only;               /* readonlymode.enabled; default false. */

    /* platform */
    double latency_ms;     /* One-way, every link; default 1. */
    double bandwidth_mbps; /* Default 1000. */
    double disk_sync_ms;   /* Default 1. */
    double tcp_timeout_s;  /* platform.tcp_timeout: a connection that lost messages to a cut
                              is reported broken after this, or at heal; default 15. */

    /* clients and workload */
    unsigned clients; /* Default 5. */
    enum sim_workload_kind workload;
    double rate;                  /* Operations per second per client; default 10. */
    unsigned keys;                /* Register keys; default 3. */
    double read_ratio;            /* Of operations; default 0.5 (rest: writes and cas). */
    double cas_ratio;             /* Of operations; default 0.2. */
    int32_t session_timeout_ms;   /* Default 6000. */
    double op_timeout_s;          /* An op not answered by then is recorded as info; default 5. */
    bool client_read_only;        /* Clients connect with readOnly=true; default false. */
    double workload_start_s;      /* workload.start: no operation before; default 2. */
    double client_start_spread_s; /* clients.start_spread: each client starts at a seeded time
                                     in [start, start + spread); default 1. */
    unsigned ephemerals;          /* Sessions workload: ephemerals per client; default 1. */
    double session_restart_s;     /* workload.restart_after: a new session after expiry; 1. */
    bool trace_messages;          /* trace.messages: every delivered peer message traced. */

    /* faults */
    struct sim_fault faults[SIM_FAULTS_MAX]; /* Sorted by at_s (stable). */
    size_t fault_count;
    struct sim_nemesis nemesis;

    /* expect: each is checked only when set (has_*). */
    bool has_linearizable; /* The whole register history, reads included. */
    bool linearizable;
    bool has_linearizable_writes; /* Writes and compare-and-sets alone. */
    bool linearizable_writes;
    bool has_max_leaders_per_epoch;
    int max_leaders_per_epoch;
    bool has_writes_unavailable_max;
    double writes_unavailable_max_s;
    bool has_lost_acked_writes_max; /* Acknowledged writes missing at the end. */
    int lost_acked_writes_max;
    bool has_min_ok_ops;
    long min_ok_ops;
    bool has_leader_changes_min;
    int leader_changes_min;
    bool has_leader_changes_max;
    int leader_changes_max;
    bool has_sessions_expired_min;
    int sessions_expired_min;
    bool has_agreement; /* No zxid applied with two contents, none by a minority. */
    bool agreement;
    bool has_converged; /* All live servers hold the same state at the end. */
    bool converged;
};

/* Exit status of coordsim for a scenario or argument error. */
#define SIM_EXIT_BAD_SCENARIO 2

/* Fill `sc` with the defaults. */
void sim_scenario_defaults(struct sim_scenario *sc);
/* Load a scenario file on top of the defaults, after applying each --set
 * KEY=VALUE of `sets` to the YAML document (KEY a dotted path, list items by
 * index, VALUE in YAML syntax), so every value is checked alike. 0, or -1
 * with a message in err: "FILE:LINE:COLUMN: what is wrong" (unknown key, wrong
 * type, impossible value, YAML syntax error), "FILE: cannot read: ..." or
 * "--set KEY=VALUE: what is wrong". */
int sim_scenario_load(const char *path,
                      const char *const *sets,
                      size_t set_count,
                      struct sim_scenario *sc,
                      char *err,
                      size_t err_len);
/* The same from text already in memory; `path` only names it in messages. */
int sim_scenario_parse(const char *path,
                       const char *text,
                       size_t len,
                       const char *const *sets,
                       size_t set_count,
                       struct sim_scenario *sc,
                       char *err,
                       size_t err_len);
/* Cross-field checks (servers + observers, fault node ids in range, times
 * within the duration, ...). 0 or -1 with a message. */
int sim_scenario_check(const struct sim_scenario *sc, char *err, size_t err_len);
/* Name of a fault kind as written in the YAML ("partition", "crash", ...). */
const char *sim_fault_kind_name(enum sim_fault_kind kind);
/* The kind named so, or 0. */
enum sim_fault_kind sim_fault_kind_parse(const char *name);
const char *sim_workload_kind_name(enum sim_workload_kind kind);

#endif /* COORD_SIM_SCENARIO_H */
