/* Random schedules of faults against 3- and 5-server ensembles, each drawn
 * from a seed: connection resets (losing a random suffix of what was in
 * flight), one-way message loss, long delays, partitions, crashes and
 * restarts, slow disks and clock drift, under a write load from three
 * clients. After every step: one leader per epoch, agreement, acknowledged
 * writes in every new leader (zab_checks.h). At the end, with every fault
 * healed: one leader, every server serving, the same state everywhere, and
 * every acknowledged write present.
 *
 * COORD_SWEEP_RUNS sets the number of schedules (default 2000; the CI's
 * valgrind pass runs fewer), COORD_SEED replays one schedule. A failure
 * prints the seed and the command that replays it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "zab_checks.h"

#define SWEEP_ROUNDS 120
#define SWEEP_CLIENTS 3

static uint32_t draw(struct coord_rng *rng, uint32_t n)
{
    return (uint32_t)(coord_rng_next(rng) % n);
}

static void heal_everything(struct cluster *c)
{
    cluster_heal_all(c);
    for (unsigned i = 0; i < c->node_count; i++) {
        if (!c->nodes[i].up) {
            assert_int_equal(cluster_restart(c, i), COORD_OK);
        }
        cluster_set_drift(c, i, 0);
        cluster_set_sync_delay(c, i, CLUSTER_SYNC_DELAY_MS);
        for (unsigned j = 0; j < c->node_count; j++) {
            if (i != j) {
                cluster_set_link_delay(c, i, j, 0, 0);
                cluster_block(c, i, j, false);
            }
        }
    }
}

static void inject_fault(struct cluster *c, struct coord_rng *rng)
{
    unsigned n = c->node_count;
    unsigned a = draw(rng, n);
    unsigned b = draw(rng, n);
    uint32_t x = draw(rng, 100);
    if (x < 10) {
        if (c->nodes[a].up) {
            cluster_crash(c, a);
        }
    } else if (x < 20) {
        if (!c->nodes[a].up) {
            assert_int_equal(cluster_restart(c, a), COORD_OK);
        }
    } else if (x < 30) {
        if (a != b) {
            cluster_cut(c, a, b);
        }
    } else if (x < 40) {
        cluster_heal_all(c);
    } else if (x < 45) {
        if (a != b) {
            cluster_set_link_delay(c, a, b, draw(rng, 500), 20);
        }
    } else if (x < 50) {
        cluster_set_drift(c, a, ((double)draw(rng, 41) - 20.0) / 100.0);
    } else if (x < 55) {
        if (a != b) {
            cluster_block(c, a, b, true);
        }
    } else if (x < 60) {
        for (unsigned i = 0; i < n; i++) {
            for (unsigned j = 0; j < n; j++) {
                if (i != j) {
                    cluster_block(c, i, j, false);
                }
            }
        }
    } else if (x < 65) {
        cluster_set_sync_delay(c, a, draw(rng, 50));
    } else if (x < 70) {
        cluster_partition(c, n == 3 ? "0|12" : "01|234");
    }
}

static bool run_one(uint64_t seed, char *why, size_t why_len)
{
    struct coord_rng rng;
    coord_rng_seed(&rng, seed);
    unsigned n = draw(&rng, 2) ? 5 : 3;
    struct coord_config cfg;
    zab_config(&cfg, n, 0);
    cfg.snap_count = 20; /* Snapshots, and SNAP syncs, happen too. */
    struct cluster *c = test_calloc(1, sizeof *c);
    struct zab_checks *z = test_calloc(1, sizeof *z);
    assert_int_equal(cluster_init(c, n, seed, &cfg), COORD_OK);
    zab_checks_init(z, c);
    c->cut_keeps_prefix = true;
    c->call_timeout_ms = 3000;
    struct cluster_client *cl[SWEEP_CLIENTS];
    for (int k = 0; k < SWEEP_CLIENTS; k++) {
        cl[k] = cluster_client_new(c);
    }
    for (int round = 0; round < SWEEP_ROUNDS && z->failure[0] == '\0'; round++) {
        inject_fault(c, &rng);
        struct cluster_client *k = cl[draw(&rng, SWEEP_CLIENTS)];
        unsigned node = draw(&rng, n);
        if (k->state != CLUSTER_CLIENT_CONNECTED && c->nodes[node].up) {
            (void)cluster_client_connect(c, k, node, 4000, 0, NULL);
        }
        if (k->state == CLUSTER_CLIENT_CONNECTED) {
            char path[40];
            snprintf(path, sizeof path, "/k%d", round);
            struct cluster_reply rep;
            if (cluster_create(c, k, path, "v", 0, &rep) == COORD_OK) {
                zab_checks_acked(z, path, rep.zxid);
                if (getenv("SWEEP_DEBUG")) {
                    printf("acked %s zxid %llx at %lld via %u\n", path,
                           (unsigned long long)rep.zxid, (long long)c->now_ms, k->node + 1);
                }
            }
        }
        cluster_run_for(c, draw(&rng, 300));
    }
    bool ok = z->failure[0] == '\0';
    if (ok) {
        heal_everything(c);
        /* One more write: a learner that lost messages on a one-way block
         * learns it from the next proposal. */
        ok = false;
        for (int attempt = 0; attempt < 5 && !ok; attempt++) {
            /* Delays from before the heal may still cost an election. */
            if (!zab_settle(c, 60000)) {
                break;
            }
            struct cluster_client *w = cluster_client_new(c);
            struct cluster_reply rep;
            ok = cluster_client_connect(c, w, (unsigned)zab_leader(c), 4000, 0, NULL) == COORD_OK &&
                 cluster_create(c, w, "/final", "f", 0, &rep) == COORD_OK;
            if (ok) {
                zab_checks_acked(z, "/final", rep.zxid);
            }
        }
        ok = ok && zab_settle(c, 60000);
        if (!ok) {
            snprintf(why, why_len, "seed %llu: did not settle with one leader after healing",
                     (unsigned long long)seed);
            for (unsigned i = 0; i < n && getenv("SWEEP_DEBUG"); i++) {
                struct coord_quorum_info qi = zab_checks_info(c, i);
                printf(
                    "server %u: role %d serving %d leader %u epochs %lld/%lld logged %llx "
                    "applied %llx\n",
                    i + 1, qi.role, qi.serving, qi.leader, (long long)qi.accepted_epoch,
                    (long long)qi.current_epoch, (unsigned long long)qi.last_logged,
                    (unsigned long long)qi.last_applied);
                for (size_t t = 0; t < c->nodes[i].trace_count; t++) {
                    const struct cluster_trace *tr = &c->nodes[i].traces[t];
                    if (tr->global_ms > c->now_ms - 70000 &&
                        tr->type != COORD_TRACE_CONN_REJECTED) {
                        printf("T %lld n%u type %d a=%llx b=%lld c=%llx d=%llx %s\n",
                               (long long)tr->global_ms, i + 1, tr->type, (unsigned long long)tr->a,
                               (long long)tr->b, (unsigned long long)tr->c,
                               (unsigned long long)tr->d, tr->text);
                    }
                }
            }
        }
    } else {
        snprintf(why, why_len, "%s", z->failure);
        if (getenv("SWEEP_DEBUG")) {
            for (unsigned i = 0; i < n; i++) {
                for (size_t t = 0; t < c->nodes[i].trace_count; t++) {
                    const struct cluster_trace *tr = &c->nodes[i].traces[t];
                    if (tr->type == COORD_TRACE_CONN_REJECTED ||
                        tr->type == COORD_TRACE_SESSION_CREATED)
                        continue;
                    printf("T %lld n%u type %d a=%llx b=%lld c=%llx d=%llx %s\n",
                           (long long)tr->global_ms, i + 1, tr->type, (unsigned long long)tr->a,
                           (long long)tr->b, (unsigned long long)tr->c, (unsigned long long)tr->d,
                           tr->text);
                }
            }
        }
    }
    if (ok) {
        uint64_t d = cluster_digest(c, 0);
        for (unsigned i = 1; i < n && ok; i++) {
            if (cluster_digest(c, i) != d) {
                snprintf(why, why_len, "seed %llu: server %u's state differs from server 1's",
                         (unsigned long long)seed, i + 1);
                ok = false;
            }
        }
    }
    if (ok && !zab_checks_final(z)) {
        snprintf(why, why_len, "%s", z->failure);
        ok = false;
    }
    cluster_close(c);
    test_free(c);
    test_free(z);
    return ok;
}

static void test_random_fault_schedules_keep_every_safety_property(void **state)
{
    (void)state;
    const char *one = getenv("COORD_SEED");
    const char *runs_env = getenv("COORD_SWEEP_RUNS");
    uint64_t first = one != NULL ? strtoull(one, NULL, 10) : 1;
    uint64_t runs = one != NULL ? 1 : (runs_env != NULL ? strtoull(runs_env, NULL, 10) : 2000);
    char why[300];
    for (uint64_t seed = first; seed < first + runs; seed++) {
        if (!run_one(seed, why, sizeof why)) {
            fail_msg("%s\nreplay: COORD_SEED=%llu tests/test_replication_sweep", why,
                     (unsigned long long)seed);
        }
    }
    printf("%llu random schedules passed (seeds %llu..%llu)\n", (unsigned long long)runs,
           (unsigned long long)first, (unsigned long long)(first + runs - 1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_fault_schedules_keep_every_safety_property),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
