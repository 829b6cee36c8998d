/* coordsim's runtime, shared by its modules (not a public interface).
 *
 * The world: servers 1..S (voters, then observers) and clients S+1..S+K,
 * each a SimGrid actor on its own host. A node's actor runs a loop over its
 * own event queue (a heap by release time): pumps (one actor per incoming
 * mailbox, the mailbox's permanent receiver) put arriving messages there, the
 * controller puts connection events and fault effects there, and the node's
 * disk puts its SYNCED events there. The actor waits on a semaphore with a
 * timeout that is the earlier of the queue's head and its timer, so nothing is
 * lost and nothing polls (simgrid-notes §6c).
 *
 * What is simulated in the transport and not by SimGrid (the reasons are in
 * docs/simulator.md): partitions (a cut matrix checked when a message is sent
 * and again when it arrives), crashes (the process dies, the host stays, so
 * none of SimGrid's host-failure pitfalls apply), extra delay and jitter
 * (added at arrival, keeping each connection's order), bandwidth limits
 * (serialisation per connection direction) and clocks (per node: offset +
 * rate * global time). SimGrid models the platform: latency and bandwidth of
 * the links and their sharing. */
#ifndef COORD_SIM_SIM_H
#define COORD_SIM_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <simgrid/actor.h>
#include <simgrid/host.h>
#include <simgrid/mailbox.h>
#include <simgrid/semaphore.h>

#include "check.h"
#include "coord/client.h"
#include "coord/server.h"
#include "history.h"
#include "scenario.h"

#define SIM_NODES_MAX (SIM_SERVERS_MAX + 100001)

enum sim_ev_kind {
    /* To a server. */
    SIM_EV_PEER_MSG = 1,
    SIM_EV_PEER_UP,
    SIM_EV_PEER_DOWN,
    SIM_EV_CONN_OPEN,   /* Through the network: a client's connect reached the server. */
    SIM_EV_CONN_DATA,   /* Through the network, either way. */
    SIM_EV_CONN_CLOSED, /* Through the network (a FIN) or from the controller (a break). */
    SIM_EV_SYNCED,      /* From the node's own disk. */
    /* To a client. */
    SIM_EV_CONN_ACCEPTED, /* Through the network: the server's kernel accepted. */
    SIM_EV_CONN_REFUSED,  /* From the controller: nobody listens (crashed server). */
    /* To anyone. */
    SIM_EV_WAKE, /* Nothing to do but look at the clock again (drift, jump, resume). */
};

/* One event in a node's queue; also the payload of a SimGrid message, so a
 * message is allocated once, by its sender, and freed by whoever ends it. */
struct sim_event
{
    double at;    /* Global time it is due (release time). */
    uint64_t seq; /* Ties at equal `at`: the order they were queued. */
    enum sim_ev_kind kind;
    uint32_t from;  /* Sending node. */
    uint32_t to;    /* Receiving node. */
    uint64_t conn;  /* Client connection id (CONN_*). */
    uint64_t gen;   /* PEER_*: generation of the pair's connection; SYNCED: token. */
    double sent_at; /* Global time it was sent (trace of messages). */
    size_t len;
    uint8_t data[]; /* len bytes. */
};

struct sim_heap
{
    struct sim_event **items;
    size_t count;
    size_t cap;
};

/* A server's disk: a log of records (durable once a sync covers their
 * token), the newest snapshot and the meta record. Truncations and snapshots
 * are durable at once (the core orders them before the writes that follow:
 * env.h). A crash drops what is not durable. */
struct sim_record
{
    uint8_t *bytes;
    size_t len;
    int64_t zxid;
    uint64_t token; /* 0 once durable. */
};

struct sim_disk
{
    struct sim_record *log;
    size_t log_count;
    size_t log_cap;
    uint8_t *snapshot;
    size_t snapshot_len;
    int64_t snapshot_zxid;
    uint8_t *meta;
    size_t meta_len;
    uint8_t *meta_pending;
    size_t meta_pending_len;
    uint64_t meta_pending_token;
    uint64_t issued;       /* Highest token written. */
    uint64_t synced;       /* Highest token durable. */
    bool sync_busy;        /* A sync is under way (its SYNCED event is queued). */
    double sync_ms;        /* How long one sync takes (group commit: it covers all issued). */
    uint64_t records_lost; /* Unsynced records dropped by crashes (for the trace). */
};

enum sim_node_kind { SIM_NODE_SERVER = 1, SIM_NODE_CLIENT };

/* Role figures for plots and node sets: what the node last traced. */
struct sim_role_state
{
    enum coord_role role;
    int64_t epoch;
    double since;
};

struct sim_client_state; /* workload.c */

struct sim_node
{
    uint32_t index; /* 1.. */
    enum sim_node_kind kind;
    char name[16]; /* "s3", "c12" */
    sg_host_t host;
    sg_sem_t sem;
    bool sem_posted;
    double waiting_until; /* Global time the actor sleeps until (or +inf). */
    struct sim_heap queue;
    /* The clock: local_ms = offset_ms + rate * global_s * 1000. */
    double offset_ms;
    double rate;
    /* The timer (local ms) of the server or client state machine. */
    bool timer_set;
    int64_t timer_ms;
    /* Faults. */
    bool crashed;
    bool restart_pending; /* The controller asked; the node's own actor restarts it... */
    bool crash_pending;   /* ...or crashes it, never in the middle of one of its steps. */
    bool paused;
    double delay_ms; /* Extra delay on its messages (both ways). */
    double jitter_ms;
    double bandwidth_mbps; /* 0 = the platform's. */
    /* Server. */
    struct coord_config config;
    struct coord_server server;
    bool server_up;
    struct coord_env env;
    struct sim_disk disk;
    uint32_t starts;
    struct sim_role_state role;
    /* Client. */
    struct sim_client_state *client;
};

/* The connection between two servers (one per unordered pair). */
enum sim_link_state {
    SIM_LINK_DOWN = 0, /* Both ends know; reconnection is tried every 100 ms. */
    SIM_LINK_UP,
    SIM_LINK_BROKEN, /* Lost messages; the ends are told at report_at (or at heal). */
};

struct sim_pair
{
    enum sim_link_state state;
    uint64_t gen;
    double report_at;
    double last_release[2]; /* Per direction (0: low -> high id): FIFO under delay. */
};

/* A client connection, from connect to both ends closed. */
struct sim_conn
{
    uint64_t id;
    uint32_t client;
    uint32_t server;
    bool client_open; /* The client has not closed it nor been told it closed. */
    bool server_open; /* The server heard CONN_OPEN and no CONN_CLOSED yet. */
    bool broken;      /* Lost data: both ends get told at report_at (or at heal). */
    bool dead;        /* Nothing more is delivered on it. */
    double report_at;
    double last_release[2]; /* 0: client -> server, 1: server -> client. */
};

/* Counters of the run (summary.json). */
struct sim_counters
{
    uint64_t peer_sent, peer_delivered, peer_dropped_cut, peer_dropped_down;
    uint64_t client_sent, client_delivered, client_dropped;
    uint64_t peer_breaks, conn_breaks;
    uint64_t events;
};

struct sim_world
{
    const struct sim_scenario *sc;
    uint64_t seed;
    uint32_t servers; /* Voters + observers. */
    uint32_t clients;
    uint32_t node_count;                                             /* servers + clients */
    struct sim_node *nodes;                                          /* [0] unused. */
    struct sim_pair pairs[SIM_SERVERS_MAX + 1][SIM_SERVERS_MAX + 1]; /* [low][high] */
    /* Cuts: blocked[a][b] for servers a -> b; clients as a whole: c2s / s2c per server. */
    bool cut_ss[SIM_SERVERS_MAX + 1][SIM_SERVERS_MAX + 1];
    bool cut_c2s[SIM_SERVERS_MAX + 1];
    bool cut_s2c[SIM_SERVERS_MAX + 1];
    bool cut_reject;         /* The active cut resets connections at once. */
    struct sim_conn **conns; /* By id - 1; kept until the end of the run. */
    size_t conn_count;
    size_t conn_cap;
    struct coord_rng rng; /* The net's and the nemesis' draws. */
    uint64_t seq;
    double latency_s;
    double duration_s; /* The workload's window. */
    double end_s;      /* The run's end: duration + a drain with no new operations. */
    bool done;
    bool teardown; /* After the run: callbacks do nothing. */
    struct sim_counters count;
    /* Records. */
    struct sim_op *ops;
    size_t op_count;
    size_t op_cap;
    struct sim_election election;
    uint64_t sessions_expired;
    uint64_t watch_events; /* Watches fired at clients. */
    uint64_t sessions_created;
    FILE *trace; /* trace.jsonl */
    FILE *roles; /* plot/roles.dat segments are written from role changes. */
    FILE *faults_dat;
    char error[512]; /* A run error (out of memory, a server that failed to start). */
    /* Workload shared state. */
    int64_t *next_value; /* Per key. */
    bool keys_ready;
};

extern struct sim_world *sim_w;

/* ---- world.c: nodes, queues, clocks, disks, servers ---- */
double sim_now(void);
int64_t sim_local_ms(const struct sim_node *n, double global_s);
void sim_queue_push(struct sim_node *n, struct sim_event *ev);
struct sim_event *sim_event_new(enum sim_ev_kind kind,
                                uint32_t from,
                                uint32_t to,
                                const void *data,
                                size_t len);
void sim_event_free(struct sim_event *ev);
void sim_node_kick(struct sim_node *n, double at);
void sim_node_actor(int argc, char **argv);
int sim_server_start(struct sim_node *n);
void sim_server_crash(struct sim_node *n);
void sim_world_free(void);
void sim_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void sim_set_drift(struct sim_node *n, double rate);
void sim_clock_jump(struct sim_node *n, double jump_ms);
uint32_t sim_current_leader(void);

/* ---- net.c: connections, cuts, pumps ---- */
void sim_net_init(void);
void sim_net_start_pumps(void);
void sim_peer_send(uint32_t from, uint32_t to, const void *msg, size_t len);
uint64_t sim_client_connect(uint32_t client, uint32_t server);
void sim_conn_send(uint64_t conn, bool from_client, const void *buf, size_t len);
void sim_conn_close(uint64_t conn, bool from_client);
void sim_net_arrive(struct sim_event *ev); /* A pump got it. */
void sim_net_tick(void);                   /* Controller: report breaks, reconnect. */
bool sim_blocked(uint32_t a, uint32_t b);
void sim_net_cuts_changed(bool reject);
void sim_net_heal(void);
void sim_net_reset_node(uint32_t node);
void sim_net_node_crashed(uint32_t node);
struct sim_conn *sim_conn_get(uint64_t id);

/* ---- workload.c: clients ---- */
int sim_client_setup(struct sim_node *n);
void sim_client_begin(struct sim_node *n);
void sim_client_event(struct sim_node *n, struct sim_event *ev);
void sim_client_timeout(struct sim_node *n);
void sim_client_free(struct sim_node *n);

/* ---- nemesis.c: faults and the controller ---- */
void sim_controller_actor(int argc, char **argv);
void sim_fault_describe(const struct sim_fault *f, char *buf, size_t len);

/* ---- output.c ---- */
void sim_trace_json(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void sim_trace_core(struct sim_node *n, const struct coord_trace *ev);
void sim_role_segment(struct sim_node *n, enum coord_role role, int64_t epoch);
struct sim_op *sim_op_add(void);
int sim_write_results(const char *dir, double wall_s, int *verdict_failed);

#endif /* COORD_SIM_SIM_H */
