/* coordsim: run one scenario of the coord protocol inside SimGrid.
 *
 *   coordsim SCENARIO.yaml [--seed N] [--out DIR] [--set KEY=VALUE ...]
 *
 * Writes DIR/history.jsonl, DIR/trace.jsonl, DIR/summary.json, DIR/plot/NAME.dat
 * and DIR/platform.xml; prints the verdict. Exit status: 0 when every
 * expectation holds, 1 when one fails, 2 for a bad scenario or bad arguments,
 * 3 when the simulator itself failed (out of memory, unwritable DIR). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <simgrid/actor.h>
#include <simgrid/engine.h>
#include <simgrid/host.h>
#include <xbt/config.h>

#include "sim.h"

#define SIM_DRAIN_S 5.0 /* After the workload stops: replies land, servers converge. */

_Noreturn void coord_panic(const char *file, int line, const char *expr)
{
    fprintf(stderr, "coordsim: internal error at %s:%d: %s\n", file, line, expr);
    abort();
}

void sim_net_free(void);
void sim_nemesis_free(void);
void sim_output_free(void);

static void usage(FILE *f)
{
    fprintf(f,
            "usage: coordsim SCENARIO.yaml [--seed N] [--out DIR] [--set KEY=VALUE ...]\n"
            "  --seed N         the run's seed (same scenario + seed = same run, byte for byte)\n"
            "  --out DIR        where to write the results (default out/NAME-seedN)\n"
            "  --set KEY=VALUE  override a scenario field by its dotted path, e.g.\n"
            "                   --set ensemble.servers=5 --set faults.0.at=12\n"
            "exit status: 0 expectations hold, 1 one failed, 2 bad scenario or arguments\n");
}

static int mkdirs(const char *path)
{
    char buf[4096];
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof buf) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(buf, path, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (buf[i] == '/' || buf[i] == '\0') {
            char keep = buf[i];
            buf[i] = '\0';
            if (mkdir(buf, 0777) != 0 && errno != EEXIST) {
                return -1;
            }
            buf[i] = keep;
        }
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return 0;
}

/* The platform: one host per node, a link per server pair, and per client a
 * link to a shared access link of each server (so clients of one server
 * share its bandwidth). Latencies add up to the scenario's one-way latency. */
static int write_platform(const char *path, const struct sim_world *w)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        return -1;
    }
    const struct sim_scenario *sc = w->sc;
    double lat = sc->latency_ms;
    double bw = sc->bandwidth_mbps;
    fprintf(f,
            "<?xml version='1.0'?>\n<!DOCTYPE platform SYSTEM "
            "\"https://simgrid.org/simgrid.dtd\">\n<platform version=\"4.1\">\n"
            "<zone id=\"world\" routing=\"Full\">\n  <host id=\"ctl\" speed=\"1Gf\"/>\n");
    for (uint32_t i = 1; i <= w->node_count; i++) {
        fprintf(f, "  <host id=\"%s\" speed=\"1Gf\"/>\n", w->nodes[i].name);
    }
    for (uint32_t a = 1; a <= w->servers; a++) {
        fprintf(f, "  <link id=\"ls%u\" bandwidth=\"%.6fMbps\" latency=\"%.6fms\"/>\n", a, bw,
                lat / 2);
        for (uint32_t b = a + 1; b <= w->servers; b++) {
            fprintf(f, "  <link id=\"l%u_%u\" bandwidth=\"%.6fMbps\" latency=\"%.6fms\"/>\n", a, b,
                    bw, lat);
        }
    }
    for (uint32_t c = w->servers + 1; c <= w->node_count; c++) {
        fprintf(f, "  <link id=\"l%s\" bandwidth=\"%.6fMbps\" latency=\"%.6fms\"/>\n",
                w->nodes[c].name, bw, lat / 2);
    }
    for (uint32_t a = 1; a <= w->servers; a++) {
        for (uint32_t b = a + 1; b <= w->servers; b++) {
            fprintf(f, "  <route src=\"s%u\" dst=\"s%u\"><link_ctn id=\"l%u_%u\"/></route>\n", a, b,
                    a, b);
        }
    }
    for (uint32_t c = w->servers + 1; c <= w->node_count; c++) {
        for (uint32_t s = 1; s <= w->servers; s++) {
            fprintf(f,
                    "  <route src=\"%s\" dst=\"s%u\"><link_ctn id=\"l%s\"/><link_ctn "
                    "id=\"ls%u\"/></route>\n",
                    w->nodes[c].name, s, w->nodes[c].name, s);
        }
    }
    fprintf(f, "</zone>\n</platform>\n");
    int rc = ferror(f) ? -1 : 0;
    if (fclose(f) != 0) {
        rc = -1;
    }
    return rc;
}

static void node_config(struct sim_node *n, const struct sim_world *w)
{
    const struct sim_scenario *sc = w->sc;
    struct coord_config *cfg = &n->config;
    memset(cfg, 0, sizeof *cfg);
    cfg->id = (coord_id)n->index;
    cfg->tick_ms = sc->tick_ms;
    cfg->snap_count = (uint32_t)sc->snap_count;
    cfg->session_secret = 0x5eed5eed12345678ull;
    for (uint32_t i = 1; i <= sc->servers; i++) {
        cfg->voters[cfg->voter_count++] = (coord_id)i;
    }
    for (uint32_t i = 1; i <= sc->observers; i++) {
        cfg->observers[cfg->observer_count++] = (coord_id)(sc->servers + i);
    }
    cfg->init_limit_ticks = sc->init_limit;
    cfg->sync_limit_ticks = sc->sync_limit;
    cfg->election_finalize_ms = sc->election_finalize_ms;
    cfg->read_only_enabled = sc->read_only;
}

static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void start_actor(const char *name,
                        sg_host_t host,
                        void *data,
                        xbt_main_func_t fn,
                        bool daemon)
{
    sg_actor_t a = sg_actor_init(name, host);
    sg_actor_set_data(a, data);
    sg_actor_start_(a, fn, 0, NULL);
    if (daemon) {
        sg_actor_daemonize(a);
    }
}

int main(int argc, char **argv)
{
    const char *scenario_path = NULL;
    const char *out_dir = NULL;
    const char *seed_arg = NULL;
    const char **sets = calloc((size_t)argc + 1, sizeof *sets);
    size_t set_count = 0;
    if (sets == NULL) {
        return 3;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            free(sets);
            return 0;
        } else if ((strcmp(a, "--seed") == 0 || strcmp(a, "--out") == 0 ||
                    strcmp(a, "--set") == 0) &&
                   i + 1 >= argc) {
            fprintf(stderr, "coordsim: %s needs a value\n", a);
            usage(stderr);
            free(sets);
            return SIM_EXIT_BAD_SCENARIO;
        } else if (strcmp(a, "--seed") == 0) {
            seed_arg = argv[++i];
        } else if (strcmp(a, "--out") == 0) {
            out_dir = argv[++i];
        } else if (strcmp(a, "--set") == 0) {
            sets[set_count++] = argv[++i];
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "coordsim: unknown option %s\n", a);
            usage(stderr);
            free(sets);
            return SIM_EXIT_BAD_SCENARIO;
        } else if (scenario_path == NULL) {
            scenario_path = a;
        } else {
            fprintf(stderr, "coordsim: one scenario at a time (got %s and %s)\n", scenario_path, a);
            free(sets);
            return SIM_EXIT_BAD_SCENARIO;
        }
    }
    if (scenario_path == NULL) {
        usage(stderr);
        free(sets);
        return SIM_EXIT_BAD_SCENARIO;
    }
    char seed_set[64];
    if (seed_arg != NULL) {
        char *end = NULL;
        errno = 0;
        unsigned long long v = strtoull(seed_arg, &end, 10);
        if (errno != 0 || end == seed_arg || *end != '\0' || seed_arg[0] == '-') {
            fprintf(stderr, "coordsim: --seed %s: not a non-negative integer\n", seed_arg);
            free(sets);
            return SIM_EXIT_BAD_SCENARIO;
        }
        snprintf(seed_set, sizeof seed_set, "seed=%llu", v);
        sets[set_count++] = seed_set;
    }
    static struct sim_scenario sc;
    char err[1024];
    if (sim_scenario_load(scenario_path, sets, set_count, &sc, err, sizeof err) != 0) {
        fprintf(stderr, "coordsim: %s\n", err);
        free(sets);
        return SIM_EXIT_BAD_SCENARIO;
    }
    free(sets);
    if (sc.workload == SIM_WORKLOAD_MASTER_WORKER) {
        fprintf(stderr,
                "coordsim: %s: workload kind master-worker is not available yet (the "
                "master-worker application comes with a later issue)\n",
                scenario_path);
        return SIM_EXIT_BAD_SCENARIO;
    }
    char dir[4096];
    if (out_dir != NULL) {
        snprintf(dir, sizeof dir, "%s", out_dir);
    } else {
        snprintf(dir, sizeof dir, "out/%s-seed%llu", sc.name, (unsigned long long)sc.seed);
    }
    char plot_dir[4200];
    snprintf(plot_dir, sizeof plot_dir, "%s/plot", dir);
    if (mkdirs(plot_dir) != 0) {
        fprintf(stderr, "coordsim: cannot create %s: %s\n", plot_dir, strerror(errno));
        return 3;
    }

    static struct sim_world world;
    sim_w = &world;
    world.sc = &sc;
    world.seed = sc.seed;
    world.servers = sc.servers + sc.observers;
    world.clients = sc.clients;
    world.node_count = world.servers + world.clients;
    world.latency_s = sc.latency_ms / 1000.0;
    world.duration_s = sc.duration_s;
    coord_rng_seed(&world.rng, coord_mix64(sc.seed ^ 0xc0081ae5u));
    sim_election_init(&world.election);
    world.nodes = calloc(world.node_count + 1, sizeof *world.nodes);
    world.next_value = calloc(sc.keys + 1, sizeof *world.next_value);
    if (world.nodes == NULL || world.next_value == NULL) {
        fprintf(stderr, "coordsim: out of memory\n");
        return 3;
    }
    for (uint32_t i = 1; i <= world.node_count; i++) {
        struct sim_node *n = &world.nodes[i];
        n->index = i;
        n->rate = 1.0;
        n->waiting_until = -1e300;
        if (i <= world.servers) {
            n->kind = SIM_NODE_SERVER;
            snprintf(n->name, sizeof n->name, "s%u", i);
            node_config(n, &world);
            n->disk.sync_ms = sc.disk_sync_ms;
            n->role.role = COORD_ROLE_LOOKING;
        } else {
            n->kind = SIM_NODE_CLIENT;
            snprintf(n->name, sizeof n->name, "c%u", i - world.servers);
            if (sim_client_setup(n) != COORD_OK) {
                fprintf(stderr, "coordsim: out of memory\n");
                return 3;
            }
        }
    }

    char path[4300];
    snprintf(path, sizeof path, "%s/platform.xml", dir);
    if (write_platform(path, &world) != 0) {
        fprintf(stderr, "coordsim: cannot write %s\n", path);
        return 3;
    }
    snprintf(path, sizeof path, "%s/trace.jsonl", dir);
    world.trace = fopen(path, "w");
    snprintf(path, sizeof path, "%s/plot/roles.dat", dir);
    world.roles = fopen(path, "w");
    snprintf(path, sizeof path, "%s/plot/faults.dat", dir);
    world.faults_dat = fopen(path, "w");
    if (world.trace == NULL || world.roles == NULL || world.faults_dat == NULL) {
        fprintf(stderr, "coordsim: cannot write in %s\n", dir);
        return 3;
    }
    static char trace_buf[1 << 16];
    setvbuf(world.trace, trace_buf, _IOFBF, sizeof trace_buf);
    fprintf(world.roles, "# server start_s end_s role epoch\n");
    fprintf(world.faults_dat, "# start_s end_s kind nodes\n");

    char *sg_argv[] = {argv[0],
                       "--cfg=network/model:CM02",
                       "--cfg=contexts/stack-size:1024",
                       "--log=root.thres:critical",
                       "--log=xbt_cfg.thres:critical",
                       NULL};
    int sg_argc = 5;
    simgrid_init(&sg_argc, sg_argv);
    char platform[4300];
    snprintf(platform, sizeof platform, "%s/platform.xml", dir);
    simgrid_load_platform(platform);
    for (uint32_t i = 1; i <= world.node_count; i++) {
        world.nodes[i].host = sg_host_by_name(world.nodes[i].name);
        world.nodes[i].sem = sg_sem_init(0);
    }
    sim_net_init();
    sim_net_start_pumps();
    for (uint32_t i = 1; i <= world.node_count; i++) {
        start_actor(world.nodes[i].name, world.nodes[i].host, &world.nodes[i], sim_node_actor,
                    true);
    }
    world.end_s = sc.duration_s + SIM_DRAIN_S;
    double wall0 = wall_now();
    start_actor("controller", sg_host_by_name("ctl"), NULL, sim_controller_actor, false);
    simgrid_run();
    double wall_s = wall_now() - wall0;

    for (uint32_t s = 1; s <= world.servers; s++) {
        struct sim_node *n = &world.nodes[s];
        sim_role_segment(n, n->role.role, n->role.epoch);
    }
    fclose(world.roles);
    world.roles = NULL;
    fclose(world.faults_dat);
    world.faults_dat = NULL;
    fflush(world.trace);
    bool trace_ok = !ferror(world.trace);
    fclose(world.trace);
    world.trace = NULL;
    int failed = 0;
    int rc = sim_write_results(dir, wall_s, &failed);
    printf("  results in %s/\n", dir);
    fflush(stdout);
    world.done = true;
    for (uint32_t i = 1; i <= world.node_count; i++) {
        sg_sem_destroy(world.nodes[i].sem);
    }
    sim_world_free();
    sim_net_free();
    sim_nemesis_free();
    sim_output_free();
    if (rc != 0 || !trace_ok) {
        fprintf(stderr, "coordsim: could not write the results in %s\n", dir);
        return 3;
    }
    return failed ? 1 : 0;
}
