/* The scenario loader (sim/scenario.c): defaults, every field read, node
 * sets, fault order, --set on the document, and every shipped scenario
 * loading. Malformed scenarios are checked end to end by
 * tests/sim/sim_checks.py bad (exit status and message of coordsim). */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <dirent.h>
#include <unistd.h>

#include "scenario.h"

static char tmp_path[256];

static const char *write_tmp(const char *text)
{
    const char *dir = getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp";
    snprintf(tmp_path, sizeof tmp_path, "%s/coord-test-scenario-%d.yaml", dir, (int)getpid());
    FILE *f = fopen(tmp_path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return tmp_path;
}

static int load(const char *text,
                const char *const *sets,
                size_t n,
                struct sim_scenario *sc,
                char *err)
{
    int rc = sim_scenario_load(write_tmp(text), sets, n, sc, err, 1024);
    unlink(tmp_path);
    return rc;
}

static void test_empty_file_is_the_defaults(void **state)
{
    (void)state;
    static struct sim_scenario sc, def;
    char err[1024] = "";
    assert_int_equal(load("", NULL, 0, &sc, err), 0);
    sim_scenario_defaults(&def);
    assert_int_equal(sc.servers, 3);
    assert_int_equal(sc.clients, 5);
    assert_int_equal(sc.tick_ms, 2000);
    assert_true(sc.duration_s == 60);
    assert_int_equal(sc.workload, SIM_WORKLOAD_REGISTER);
    assert_int_equal(sc.fault_count, 0);
    assert_false(sc.nemesis.enabled);
    assert_false(sc.has_linearizable);
    assert_true(sc.tcp_timeout_s == def.tcp_timeout_s);
    /* Comments only, and an empty mapping, are empty scenarios too. */
    assert_int_equal(load("# nothing here\n", NULL, 0, &sc, err), 0);
    assert_int_equal(load("{}\n", NULL, 0, &sc, err), 0);
    assert_int_equal(sc.servers, 3);
}

static void test_every_field_is_read(void **state)
{
    (void)state;
    static struct sim_scenario sc;
    char err[1024] = "";
    const char *text =
        "name: all-fields\n"
        "description: every key\n"
        "seed: 18446744073709551615\n"
        "duration: 99.5\n"
        "ensemble: {servers: 4, observers: 2, tick_ms: 100, init_limit: 7,\n"
        "           sync_limit: 3, election_finalize_ms: 50, snap_count: 20,\n"
        "           read_only: true}\n"
        "platform: {latency_ms: 2.5, bandwidth_mbps: 10, disk_sync_ms: 4,\n"
        "           tcp_timeout: 9}\n"
        "clients: {count: 7, session_timeout_ms: 4000, read_only: true,\n"
        "          start_spread: 0.5}\n"
        "workload: {kind: sessions, rate: 3, keys: 9, read_ratio: 0.3,\n"
        "           cas_ratio: 0.4, op_timeout: 2, start: 1.5, ephemerals: 3,\n"
        "           restart_after: 4}\n"
        "trace: {messages: true}\n"
        "nemesis: {kinds: [crash, drift], start: 1, stop: 90, interval: 3,\n"
        "          duration: 2, settle: 5}\n"
        "expect: {linearizable: false, linearizable_writes: true,\n"
        "         max_leaders_per_epoch: 1, writes_unavailable_s: {max: 7.5},\n"
        "         lost_acked_writes: {max: 2}, min_ok_ops: 10,\n"
        "         leader_changes: {min: 1, max: 4}, sessions_expired: {min: 2},\n"
        "         agreement: true, converged: true}\n";
    assert_int_equal(load(text, NULL, 0, &sc, err), 0);
    assert_string_equal(sc.name, "all-fields");
    assert_string_equal(sc.description, "every key");
    assert_true(sc.seed == UINT64_MAX);
    assert_true(sc.duration_s == 99.5);
    assert_int_equal(sc.servers, 4);
    assert_int_equal(sc.observers, 2);
    assert_int_equal(sc.tick_ms, 100);
    assert_int_equal(sc.init_limit, 7);
    assert_int_equal(sc.sync_limit, 3);
    assert_int_equal(sc.election_finalize_ms, 50);
    assert_int_equal(sc.snap_count, 20);
    assert_true(sc.read_only);
    assert_true(sc.latency_ms == 2.5 && sc.bandwidth_mbps == 10 && sc.disk_sync_ms == 4);
    assert_true(sc.tcp_timeout_s == 9);
    assert_int_equal(sc.clients, 7);
    assert_int_equal(sc.session_timeout_ms, 4000);
    assert_true(sc.client_read_only);
    assert_true(sc.client_start_spread_s == 0.5);
    assert_int_equal(sc.workload, SIM_WORKLOAD_SESSIONS);
    assert_true(sc.rate == 3 && sc.read_ratio == 0.3 && sc.cas_ratio == 0.4);
    assert_int_equal(sc.keys, 9);
    assert_true(sc.op_timeout_s == 2 && sc.workload_start_s == 1.5);
    assert_int_equal(sc.ephemerals, 3);
    assert_true(sc.session_restart_s == 4);
    assert_true(sc.trace_messages);
    assert_true(sc.nemesis.enabled);
    assert_int_equal(sc.nemesis.kinds, (1u << SIM_FAULT_CRASH) | (1u << SIM_FAULT_DRIFT));
    assert_true(sc.nemesis.start_s == 1 && sc.nemesis.stop_s == 90 && sc.nemesis.interval_s == 3);
    assert_true(sc.nemesis.duration_s == 2 && sc.nemesis.settle_s == 5);
    assert_true(sc.has_linearizable && !sc.linearizable);
    assert_true(sc.has_linearizable_writes && sc.linearizable_writes);
    assert_true(sc.has_max_leaders_per_epoch && sc.max_leaders_per_epoch == 1);
    assert_true(sc.has_writes_unavailable_max && sc.writes_unavailable_max_s == 7.5);
    assert_true(sc.has_lost_acked_writes_max && sc.lost_acked_writes_max == 2);
    assert_true(sc.has_min_ok_ops && sc.min_ok_ops == 10);
    assert_true(sc.has_leader_changes_min && sc.leader_changes_min == 1);
    assert_true(sc.has_leader_changes_max && sc.leader_changes_max == 4);
    assert_true(sc.has_sessions_expired_min && sc.sessions_expired_min == 2);
    assert_true(sc.has_agreement && sc.agreement);
    assert_true(sc.has_converged && sc.converged);
}

static void test_faults_node_sets_and_order(void **state)
{
    (void)state;
    static struct sim_scenario sc;
    char err[1024] = "";
    const char *text =
        "ensemble: {servers: 5}\n"
        "faults:\n"
        "  - {at: 30, kind: heal}\n"
        "  - {at: 10, kind: partition, groups: [[1, 2], [3, clients]], mode: reject}\n"
        "  - {at: 10, kind: crash, nodes: leader, duration: 4}\n"
        "  - {at: 5, kind: drift, nodes: [follower, 4], percent: -20}\n"
        "  - {at: 6, kind: clock_jump, nodes: all, jump_ms: -3000}\n"
        "  - {at: 7, kind: one_way, from: 1, to: [2, 3]}\n"
        "  - {at: 8, kind: delay, delay_ms: 100}\n"
        "  - {at: 9, kind: bridge, nodes: 3, from: [1, 2], to: [4, 5]}\n";
    assert_int_equal(load(text, NULL, 0, &sc, err), 0);
    assert_int_equal(sc.fault_count, 8);
    /* Sorted by time, stable for equal times. */
    assert_int_equal(sc.faults[0].kind, SIM_FAULT_DRIFT);
    assert_true(sc.faults[0].nodes.follower && sc.faults[0].nodes.servers == (1u << 4));
    assert_true(sc.faults[0].drift_ppm == -200000);
    assert_int_equal(sc.faults[1].kind, SIM_FAULT_CLOCK_JUMP);
    assert_int_equal(sc.faults[1].nodes.servers, 0x3e);
    assert_true(sc.faults[1].jump_ms == -3000);
    assert_int_equal(sc.faults[2].kind, SIM_FAULT_ONE_WAY);
    assert_int_equal(sc.faults[2].from.servers, 1u << 1);
    assert_int_equal(sc.faults[2].to.servers, (1u << 2) | (1u << 3));
    assert_int_equal(sc.faults[3].kind, SIM_FAULT_DELAY);
    assert_true(sc.faults[3].delay_ms == 100 && sc.faults[3].jitter_ms == 0);
    assert_int_equal(sc.faults[4].kind, SIM_FAULT_BRIDGE);
    assert_int_equal(sc.faults[5].kind, SIM_FAULT_PARTITION);
    assert_true(sc.faults[5].reject);
    assert_int_equal(sc.faults[5].group_count, 2);
    assert_true(sc.faults[5].groups[1].all_clients);
    assert_int_equal(sc.faults[6].kind, SIM_FAULT_CRASH);
    assert_true(sc.faults[6].nodes.leader && sc.faults[6].duration_s == 4);
    assert_int_equal(sc.faults[7].kind, SIM_FAULT_HEAL);
    assert_int_equal(sc.faults[5].line, 4);
}

static void test_set_changes_the_document(void **state)
{
    (void)state;
    static struct sim_scenario sc;
    char err[1024] = "";
    const char *text = "duration: 50\nfaults:\n  - {at: 10, kind: crash, nodes: 1}\n";
    const char *sets[] = {"ensemble.servers=5",
                          "faults.0.at=12.5",
                          "faults.0.nodes=[2, 3]",
                          "faults.1={at: 20, kind: heal}",
                          "expect.writes_unavailable_s.max=8",
                          "workload.kind=none"};
    assert_int_equal(load(text, sets, 6, &sc, err), 0);
    assert_int_equal(sc.servers, 5);
    assert_int_equal(sc.fault_count, 2);
    assert_true(sc.faults[0].at_s == 12.5);
    assert_int_equal(sc.faults[0].nodes.servers, (1u << 2) | (1u << 3));
    assert_int_equal(sc.faults[1].kind, SIM_FAULT_HEAL);
    assert_true(sc.has_writes_unavailable_max && sc.writes_unavailable_max_s == 8);
    assert_int_equal(sc.workload, SIM_WORKLOAD_NONE);

    /* Errors in a --set value name the --set, not the file. */
    const char *bad1[] = {"ensemble.servers=20"};
    assert_int_equal(load(text, bad1, 1, &sc, err), -1);
    assert_non_null(strstr(err, "--set ensemble.servers=20: servers: 20 is out of range"));
    const char *bad2[] = {"faults.7.at=3"};
    assert_int_equal(load(text, bad2, 1, &sc, err), -1);
    assert_non_null(strstr(err, "--set faults.7.at=3: index 7 is past the end"));
    const char *bad3[] = {"nonsense"};
    assert_int_equal(load(text, bad3, 1, &sc, err), -1);
    assert_non_null(strstr(err, "--set nonsense: expected KEY=VALUE"));
    const char *bad4[] = {"expect.bogus=1"};
    assert_int_equal(load(text, bad4, 1, &sc, err), -1);
    assert_non_null(strstr(err, "--set expect.bogus=1: unknown key 'bogus' in expect"));
    const char *bad5[] = {"duration=[1"};
    assert_int_equal(load(text, bad5, 1, &sc, err), -1);
    assert_non_null(strstr(err, "--set duration=[1: the value is not valid YAML"));
    /* A --set on an empty file builds the mapping. */
    const char *ok[] = {"ensemble.tick_ms=500"};
    assert_int_equal(load("", ok, 1, &sc, err), 0);
    assert_int_equal(sc.tick_ms, 500);
}

static void test_errors_name_file_line_column(void **state)
{
    (void)state;
    static struct sim_scenario sc;
    char err[1024] = "";
    assert_int_equal(load("ensemble:\n  servers: 3\n  tickms: 100\n", NULL, 0, &sc, err), -1);
    assert_non_null(strstr(err, ".yaml:3:3: unknown key 'tickms' in ensemble"));
    assert_int_equal(sim_scenario_load("/nonexistent/x.yaml", NULL, 0, &sc, err, sizeof err), -1);
    assert_non_null(strstr(err, "/nonexistent/x.yaml: cannot read:"));
    /* A NUL byte, and a file that is not text at all. */
    const char *dir = getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp";
    snprintf(tmp_path, sizeof tmp_path, "%s/coord-test-scenario-bin-%d.yaml", dir, (int)getpid());
    FILE *f = fopen(tmp_path, "wb");
    assert_non_null(f);
    fwrite("seed: 1\n\0\x01\x02", 1, 11, f);
    fclose(f);
    assert_int_equal(sim_scenario_load(tmp_path, NULL, 0, &sc, err, sizeof err), -1);
    assert_non_null(strstr(err, "NUL byte"));
    unlink(tmp_path);
}

/* Every shipped scenario loads (they also run in CI: sim/CMakeLists.txt). */
static void test_shipped_scenarios_load(void **state)
{
    (void)state;
    static struct sim_scenario sc;
    char err[1024] = "", path[1024];
    DIR *d = opendir(COORD_SOURCE_DIR "/scenarios");
    assert_non_null(d);
    struct dirent *e;
    int count = 0;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 6 || strcmp(e->d_name + len - 5, ".yaml") != 0) {
            continue;
        }
        snprintf(path, sizeof path, "%s/scenarios/%s", COORD_SOURCE_DIR, e->d_name);
        if (sim_scenario_load(path, NULL, 0, &sc, err, sizeof err) != 0) {
            fail_msg("%s", err);
        }
        assert_true(strlen(sc.description) > 40);
        count++;
    }
    closedir(d);
    assert_true(count >= 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_file_is_the_defaults),
        cmocka_unit_test(test_every_field_is_read),
        cmocka_unit_test(test_faults_node_sets_and_order),
        cmocka_unit_test(test_set_changes_the_document),
        cmocka_unit_test(test_errors_name_file_line_column),
        cmocka_unit_test(test_shipped_scenarios_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
