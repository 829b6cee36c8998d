/* The checkers of coordsim (sim/check.h) on hand-made histories with known answers, and
 * on long random histories of a simulated register: one test per rule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"

/* ---- building histories ----------------------------------------------------------------- */

#define BADVERSION (-103) /* ZooKeeper's error code for a version mismatch. */

static struct sim_op op_make(uint32_t client,
                             enum sim_op_type type,
                             enum sim_op_status status,
                             int64_t expect,
                             int64_t value,
                             double invoke_s,
                             double complete_s)
{
    struct sim_op op = {
        .client = client,
        .key = 0,
        .type = type,
        .status = status,
        .value = value,
        .expect = expect,
        .invoke_s = invoke_s,
        .complete_s = complete_s,
        .err = status == SIM_OP_FAIL ? BADVERSION : 0,
    };
    return op;
}

static struct sim_op rd(uint32_t client, int64_t value, double invoke_s, double complete_s)
{
    return op_make(client, SIM_OP_READ, SIM_OP_OK, 0, value, invoke_s, complete_s);
}

static struct sim_op wr(uint32_t client, int64_t value, double invoke_s, double complete_s)
{
    return op_make(client, SIM_OP_WRITE, SIM_OP_OK, 0, value, invoke_s, complete_s);
}

static struct sim_op wr_info(uint32_t client, int64_t value, double invoke_s)
{
    return op_make(client, SIM_OP_WRITE, SIM_OP_INFO, 0, value, invoke_s, 0);
}

static struct sim_op cas(uint32_t client,
                         enum sim_op_status status,
                         int64_t expect,
                         int64_t value,
                         double invoke_s,
                         double complete_s)
{
    return op_make(client, SIM_OP_CAS, status, expect, value, invoke_s, complete_s);
}

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static enum sim_verdict check(const struct sim_op *ops, size_t count, struct sim_lin_result *r)
{
    assert_int_equal(sim_check_linearizable(ops, count, NULL, r), SIM_CHECK_OK);
    return r->verdict;
}

static bool text_has(const struct sim_check_text *text, const char *needle)
{
    for (size_t i = 0; i < text->count; i++) {
        if (strstr(text->line[i], needle) != NULL) {
            return true;
        }
    }
    return false;
}

static void text_print(const struct sim_check_text *text)
{
    for (size_t i = 0; i < text->count; i++) {
        print_message("    | %s\n", text->line[i]);
    }
}

static double now_s(void)
{
    struct timespec ts;
    timespec_get(&ts, TIME_UTC); /* C11; the figures are printed, never asserted. */
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- 1. linearizability: textbook histories ---------------------------------------------- */

static void test_lin_empty_history_is_linearizable(void **state)
{
    (void)state;
    struct sim_lin_result r;
    assert_int_equal(check(NULL, 0, &r), SIM_VERDICT_YES);
    assert_int_equal(r.keys, 0);
    assert_int_equal(r.text.count, 0);
}

static void test_lin_sequential_history_is_linearizable(void **state)
{
    (void)state;
    struct sim_op ops[] = {
        rd(1, 0, 0, 1), wr(1, 1, 2, 3), rd(2, 1, 4, 5), cas(2, SIM_OP_OK, 1, 2, 6, 7),
        rd(1, 2, 8, 9),
    };
    struct sim_lin_result r;
    assert_int_equal(check(ops, COUNT(ops), &r), SIM_VERDICT_YES);
    assert_int_equal(r.keys, 1);
    assert_int_equal(r.ops, 5);
    assert_int_equal(r.op_index, SIZE_MAX);
}

static void test_lin_stale_read_after_completed_write_is_violation(void **state)
{
    (void)state;
    struct sim_op ops[] = {wr(1, 1, 0, 1), rd(2, 0, 2, 3)};
    struct sim_lin_result r;
    assert_int_equal(check(ops, COUNT(ops), &r), SIM_VERDICT_NO);
    assert_int_equal(r.keys_violated, 1);
    assert_int_equal(r.key, 0);
    assert_int_equal(r.op_index, 1);
    text_print(&r.text);
    assert_string_equal(r.text.line[0], "key 0: not linearizable (2 ops, 1 states explored)");
    assert_string_equal(r.text.line[1],
                        "cannot linearize #1 c2 key 0 read -> 0 [2.000000, 3.000000] ok");
    assert_string_equal(r.text.line[2],
                        "register value then 1, after 1 of 2 ops linearized; the last ones:");
    assert_string_equal(r.text.line[3], "  #0 c1 key 0 write 1 [0.000000, 1.000000] ok");
    assert_string_equal(r.text.line[4], "value 0 is written by 0 op(s) and is the initial value");
    assert_string_equal(r.text.line[5], "ops concurrent with it: 0");
    assert_int_equal(r.text.count, 6);
}

/* A read concurrent with a write may see either value, but once one read has seen the
 * new value a later read may not see the old one. */
static void test_lin_reads_concurrent_with_write_may_not_go_back(void **state)
{
    (void)state;
    struct sim_op forward[] = {wr(1, 1, 0, 10), rd(2, 0, 1, 2), rd(3, 1, 3, 4)};
    struct sim_op backward[] = {wr(1, 1, 0, 10), rd(2, 1, 1, 2), rd(3, 0, 3, 4)};
    struct sim_lin_result r;
    assert_int_equal(check(forward, COUNT(forward), &r), SIM_VERDICT_YES);
    assert_int_equal(check(backward, COUNT(backward), &r), SIM_VERDICT_NO);
    assert_int_equal(r.op_index, 2);
    assert_true(text_has(&r.text, "ops concurrent with it: 1:"));
    assert_true(text_has(&r.text, "  #0 c1 key 0 write 1 [0.000000, 10.000000] ok"));
}

/* Two concurrent writes; reader 3 sees 1 then 2, reader 4 sees 2 then 1: no single order
 * of the writes explains both. */
static void test_lin_concurrent_writes_seen_in_inconsistent_orders_is_violation(void **state)
{
    (void)state;
    struct sim_op ops[] = {
        wr(1, 1, 0, 10), wr(2, 2, 0, 10), rd(3, 1, 1, 2),
        rd(3, 2, 3, 4),  rd(4, 2, 1, 2),  rd(4, 1, 3, 4),
    };
    struct sim_lin_result r;
    assert_int_equal(check(ops, COUNT(ops), &r), SIM_VERDICT_NO);
    text_print(&r.text);
    /* Either reader alone is fine. */
    assert_int_equal(check(ops, 4, &r), SIM_VERDICT_YES);
    struct sim_op other[] = {ops[0], ops[1], ops[4], ops[5]};
    assert_int_equal(check(other, COUNT(other), &r), SIM_VERDICT_YES);
}

/* CAS 2->3 succeeds, but 2 is only written after the CAS completed. */
static void test_lin_cas_succeeding_on_value_never_current_is_violation(void **state)
{
    (void)state;
    struct sim_op ops[] = {wr(1, 1, 0, 1), cas(2, SIM_OP_OK, 2, 3, 2, 3), wr(1, 2, 4, 5)};
    struct sim_lin_result r;
    assert_int_equal(check(ops, COUNT(ops), &r), SIM_VERDICT_NO);
    assert_int_equal(r.op_index, 1);
    /* Concurrent with the write of 2, the same CAS is fine. */
    ops[2] = wr(1, 2, 1.5, 2.5);
    assert_int_equal(check(ops, COUNT(ops), &r), SIM_VERDICT_YES);
}

/* A CAS that failed with BADVERSION did not take effect and requires nothing. */
static void test_lin_failed_cas_constrains_nothing(void **state)
{
    (void)state;
    struct sim_op ops[] = {
        wr(1, 1, 0, 1),
        cas(2, SIM_OP_FAIL, 7, 8, 2, 3), /* 7 was never the value: still fine. */
        cas(2, SIM_OP_FAIL, 1, 9, 4, 5), /* Could have applied, but did not. */
        rd(1, 1, 6, 7),
    };
    struct sim_lin_result r;
    assert_int_equal(check(ops, COUNT(ops), &r), SIM_VERDICT_YES);
    assert_int_equal(r.ops, 2);
    /* A failed write is not there either: reading its value is reading the unwritten. */
    struct sim_op failed_write[] = {op_make(1, SIM_OP_WRITE, SIM_OP_FAIL, 0, 5, 0, 1),
                                    rd(2, 5, 2, 3)};
    assert_int_equal(check(failed_write, COUNT(failed_write), &r), SIM_VERDICT_NO);
}

static void test_lin_info_write_explains_later_read(void **state)
{
    (void)state;
    struct sim_op ops[] = {wr(1, 1, 0, 1), wr_info(1, 2, 2), rd(2, 1, 5, 6), rd(2, 2, 10, 11)};
    struct sim_lin_result r;
    assert_int_equal(check(ops, COUNT(ops), &r), SIM_VERDICT_YES);
    /* It took effect once: the register cannot go back to 1 afterwards. */
    struct sim_op back[] = {wr(1, 1, 0, 1), wr_info(1, 2, 2), rd(2, 2, 10, 11), rd(2, 1, 12, 13)};
    assert_int_equal(check(back, COUNT(back), &r), SIM_VERDICT_NO);
    assert_int_equal(r.op_index, 3);
    /* An INFO write takes effect after its invocation, never before. */
    struct sim_op early[] = {wr(1, 1, 0, 1), rd(2, 2, 2, 3), wr_info(1, 2, 4)};
    assert_int_equal(check(early, COUNT(early), &r), SIM_VERDICT_NO);
    assert_int_equal(r.op_index, 1);
    /* PENDING is INFO. */
    early[2] = wr(1, 2, 1.5, 0);
    early[2].status = SIM_OP_PENDING;
    assert_int_equal(check(early, COUNT(early), &r), SIM_VERDICT_YES);
}

static void test_lin_info_write_never_seen_is_fine(void **state)
{
    (void)state;
    struct sim_op ops[] = {
        wr(1, 1, 0, 1),   wr_info(1, 2, 2),
        rd(2, 1, 5, 6),   wr(2, 3, 7, 8),
        rd(1, 3, 9, 10),  cas(3, SIM_OP_INFO, 3, 4, 11, 0), /* Never seen either. */
        rd(2, 3, 20, 21),
    };
    struct sim_lin_result r;
    assert_int_equal(check(ops, COUNT(ops), &r), SIM_VERDICT_YES);
    assert_int_equal(r.ops, 5); /* The two INFO ops nobody observed are left out. */
}

/* An INFO CAS takes effect only if its expectation held. */
static void test_lin_info_cas_needs_its_expected_value(void **state)
{
    (void)state;
    struct sim_op ops[] = {wr(1, 1, 0, 1), cas(2, SIM_OP_INFO, 5, 6, 2, 0), rd(1, 6, 3, 4),
                           wr(1, 5, 5, 6)};
    struct sim_lin_result r;
    assert_int_equal(check(ops, COUNT(ops), &r), SIM_VERDICT_NO);
    assert_int_equal(r.op_index, 2);
    ops[1].expect = 1;
    assert_int_equal(check(ops, COUNT(ops), &r), SIM_VERDICT_YES);
}

static void test_lin_read_of_never_written_value_is_violation(void **state)
{
    (void)state;
    struct sim_op ops[] = {wr(1, 1, 0, 1), rd(2, 1, 2, 3), rd(2, 7, 4, 5), rd(2, 1, 6, 7)};
    struct sim_lin_result r;
    assert_int_equal(check(ops, COUNT(ops), &r), SIM_VERDICT_NO);
    assert_int_equal(r.op_index, 2);
    assert_int_equal(r.states, 0); /* Found without a search. */
    text_print(&r.text);
    assert_string_equal(
        r.text.line[0],
        "key 0: not linearizable: an op reads a value no write of the key produced");
    assert_string_equal(r.text.line[1],
                        "cannot linearize #2 c2 key 0 read -> 7 [4.000000, 5.000000] ok");
    /* The same for a CAS that succeeded on a value nobody wrote. */
    struct sim_op cas_ops[] = {wr(1, 1, 0, 1), cas(2, SIM_OP_OK, 9, 2, 2, 3)};
    assert_int_equal(check(cas_ops, COUNT(cas_ops), &r), SIM_VERDICT_NO);
    assert_int_equal(r.op_index, 1);
    assert_true(text_has(&r.text, "expects a value no write"));
}

/* Keys are checked separately: the violation on key 7 is reported with its key, and key
 * 3's ops do not help or hurt it. */
static void test_lin_keys_are_independent(void **state)
{
    (void)state;
    struct sim_op ops[] = {wr(1, 1, 0, 1), wr(1, 1, 0, 1), rd(2, 0, 2, 3), rd(2, 1, 2, 3)};
    ops[0].key = 3;
    ops[3].key = 3;
    ops[1].key = 7;
    ops[2].key = 7;
    struct sim_lin_result r;
    assert_int_equal(check(ops, COUNT(ops), &r), SIM_VERDICT_NO);
    assert_int_equal(r.keys, 2);
    assert_int_equal(r.keys_violated, 1);
    assert_int_equal(r.key, 7);
    assert_int_equal(r.op_index, 2);
    assert_true(text_has(&r.text, "key 7: not linearizable"));
    /* Non-register ops are ignored. */
    struct sim_op other[] = {op_make(1, SIM_OP_CREATE_EPHEMERAL, SIM_OP_OK, 0, 99, 0, 1),
                             op_make(1, SIM_OP_OTHER, SIM_OP_INFO, 0, 99, 0, 1)};
    assert_int_equal(check(other, COUNT(other), &r), SIM_VERDICT_YES);
    assert_int_equal(r.keys, 0);
}

/* Every key's violation counts, the first is explained in full. */
static void test_lin_several_violated_keys_are_all_counted(void **state)
{
    (void)state;
    struct sim_op ops[] = {wr(1, 1, 0, 1), rd(2, 0, 2, 3), wr(1, 1, 0, 1), rd(2, 0, 2, 3)};
    ops[2].key = 1;
    ops[3].key = 1;
    struct sim_lin_result r;
    assert_int_equal(check(ops, COUNT(ops), &r), SIM_VERDICT_NO);
    assert_int_equal(r.keys_violated, 2);
    assert_int_equal(r.key, 0);
    assert_true(text_has(&r.text, "key 1: not linearizable"));
}

static void test_lin_malformed_times_are_rejected(void **state)
{
    (void)state;
    struct sim_op ops[] = {wr(1, 1, 5, 4)};
    struct sim_lin_result r;
    assert_int_equal(sim_check_linearizable(ops, 1, NULL, &r), SIM_CHECK_EINVAL);
    assert_int_equal(r.verdict, SIM_VERDICT_UNKNOWN);
    assert_string_equal(r.text.line[0],
                        "malformed op (bad times): #0 c1 key 0 write 1 [5.000000, 4.000000] ok");
}

/* ---- 1. linearizability: budgets --------------------------------------------------------- */

/* Twenty concurrent writes, each value seen by a concurrent read, then a write after them
 * all, then a read of one of the twenty: not linearizable, but proving it means trying
 * the orders of the twenty writes and reads. */
static void test_lin_budget_exhausted_gives_unknown(void **state)
{
    (void)state;
    struct sim_op ops[42];
    for (int i = 0; i < 20; i++) {
        ops[i] = wr((uint32_t)i + 1, i + 1, 0, 10);
        ops[20 + i] = rd((uint32_t)i + 21, i + 1, 0, 10);
    }
    ops[40] = wr(41, 21, 11, 12);
    ops[41] = rd(42, 5, 13, 14);
    struct sim_lin_options options = {.max_states = 1000};
    struct sim_lin_result r;
    assert_int_equal(sim_check_linearizable(ops, COUNT(ops), &options, &r), SIM_CHECK_OK);
    assert_int_equal(r.verdict, SIM_VERDICT_UNKNOWN);
    assert_int_equal(r.keys_unknown, 1);
    assert_int_equal(r.states, 1000);
    text_print(&r.text);
    assert_true(text_has(&r.text, "key 0: unknown: search budget exhausted (1000 states, "));
    /* The default budget bounds the time too; whatever it concludes, never YES. */
    double t0 = now_s();
    assert_int_equal(sim_check_linearizable(ops, COUNT(ops), NULL, &r), SIM_CHECK_OK);
    assert_int_not_equal(r.verdict, SIM_VERDICT_YES);
    print_message("    default budget: %s after %llu states, %llu steps, %.3f s\n",
                  sim_verdict_name(r.verdict), (unsigned long long)r.states,
                  (unsigned long long)r.steps, now_s() - t0);
    /* The step budget too. */
    options = (struct sim_lin_options){.max_steps = 500};
    assert_int_equal(sim_check_linearizable(ops, COUNT(ops), &options, &r), SIM_CHECK_OK);
    assert_int_equal(r.verdict, SIM_VERDICT_UNKNOWN);
    assert_true(r.steps >= 500 && r.steps < 600); /* A configuration's scan may overshoot. */
    /* With a violation on another key, the verdict is NO and the unknown key is listed. */
    struct sim_op more[44];
    memcpy(more, ops, sizeof ops);
    more[42] = wr(50, 1, 0, 1);
    more[43] = rd(50, 0, 2, 3);
    more[42].key = more[43].key = 9;
    options = (struct sim_lin_options){.max_states = 1000};
    assert_int_equal(sim_check_linearizable(more, COUNT(more), &options, &r), SIM_CHECK_OK);
    assert_int_equal(r.verdict, SIM_VERDICT_NO);
    assert_int_equal(r.key, 9);
    assert_int_equal(r.keys_unknown, 1);
    assert_true(text_has(&r.text, "key 0: unknown"));
}

/* ---- 1. linearizability: long random histories of a real register ------------------------ */

struct rng
{
    uint64_t s;
};

static uint64_t rng_next(struct rng *r)
{
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * 0x2545f4914f6cdd1du;
}

static double rng_unit(struct rng *r)
{
    return (double)(rng_next(r) >> 11) / 9007199254740992.0;
}

/* Where each op took effect, to replay them on a register. */
struct gen_op
{
    struct sim_op op;
    double effect_s;
    bool applied;
};

static int compare_effect(const void *a, const void *b)
{
    const struct gen_op *x = a;
    const struct gen_op *y = b;
    return (x->effect_s > y->effect_s) - (x->effect_s < y->effect_s);
}

static int compare_invoke(const void *a, const void *b)
{
    const struct gen_op *x = a;
    const struct gen_op *y = b;
    return (x->op.invoke_s > y->op.invoke_s) - (x->op.invoke_s < y->op.invoke_s);
}

#define GEN_CLIENTS_MAX 32

/* `count` ops by `clients` clients on one key: each client invokes, waits for the
 * reply, thinks, and invokes again; each op takes effect at a random moment of its
 * interval on a real register, so the history is linearizable by construction. 1% of the
 * ops time out (INFO), taking effect or not. Written values are unique. */
static struct sim_op *gen_history(size_t count, uint32_t clients, uint64_t seed)
{
    struct rng rng = {seed * 0x9e3779b97f4a7c15u + 1};
    struct gen_op *g = calloc(count, sizeof *g);
    assert_non_null(g);
    double clock_s[GEN_CLIENTS_MAX] = {0};
    assert_true(clients <= GEN_CLIENTS_MAX);
    for (size_t i = 0; i < count; i++) {
        uint32_t c = (uint32_t)(rng_next(&rng) % clients);
        double invoke = clock_s[c] + rng_unit(&rng) * 0.002;
        double duration = 0.0002 + rng_unit(&rng) * 0.005;
        double pick = rng_unit(&rng);
        enum sim_op_type type = pick < 0.5 ? SIM_OP_READ : pick < 0.8 ? SIM_OP_WRITE : SIM_OP_CAS;
        g[i].op = op_make(c + 1, type, SIM_OP_OK, 0, 0, invoke, invoke + duration);
        g[i].effect_s = invoke + rng_unit(&rng) * duration;
        g[i].applied = true;
        if (rng_unit(&rng) < 0.01) {
            g[i].op.status = SIM_OP_INFO;
            g[i].applied = rng_unit(&rng) < 0.5;
        }
        clock_s[c] = invoke + duration;
    }
    qsort(g, count, sizeof *g, compare_effect);
    int64_t value = 0;
    int64_t next_value = 1;
    for (size_t i = 0; i < count; i++) {
        struct sim_op *op = &g[i].op;
        if (op->type == SIM_OP_READ) {
            op->value = op->status == SIM_OP_OK ? value : 0;
        } else if (op->type == SIM_OP_WRITE) {
            op->value = next_value++;
            value = g[i].applied ? op->value : value;
        } else {
            op->expect = rng_unit(&rng) < 0.7 ? value : value - 1;
            op->value = next_value++;
            if (op->expect != value && op->status == SIM_OP_OK) {
                op->status = SIM_OP_FAIL;
                op->err = BADVERSION;
            }
            value = g[i].applied && op->expect == value ? op->value : value;
        }
    }
    qsort(g, count, sizeof *g, compare_invoke);
    struct sim_op *ops = calloc(count, sizeof *ops);
    assert_non_null(ops);
    for (size_t i = 0; i < count; i++) {
        ops[i] = g[i].op;
    }
    free(g);
    return ops;
}

/* With 6 clients about 4 ops are in flight at any time ("nice"); with 20 clients, about
 * 14: every client is busy 70% of the time. */
static const uint32_t gen_clients[] = {6, 20};

static void test_lin_random_10000_ops_linearizable(void **state)
{
    (void)state;
    for (size_t c = 0; c < COUNT(gen_clients); c++) {
        for (uint64_t seed = 1; seed <= 3; seed++) {
            struct sim_op *ops = gen_history(10000, gen_clients[c], seed);
            struct sim_lin_result r;
            double t0 = now_s();
            assert_int_equal(check(ops, 10000, &r), SIM_VERDICT_YES);
            double t1 = now_s();
            print_message(
                "    %u clients, seed %llu: %zu ops searched, %llu states, %llu steps, "
                "%.3f s\n",
                gen_clients[c], (unsigned long long)seed, r.ops, (unsigned long long)r.states,
                (unsigned long long)r.steps, t1 - t0);
            /* A bound on the work rather than on time: about one state per op when nice. */
            if (gen_clients[c] == 6) {
                assert_true(r.states < 2 * r.ops);
            }
            free(ops);
        }
    }
}

/* The same histories with one read in the middle turned stale: it returns the value of a
 * write that another completed write overwrote before the read was invoked. */
static void test_lin_random_10000_ops_one_stale_read_is_violation(void **state)
{
    (void)state;
    for (size_t c = 0; c < COUNT(gen_clients); c++) {
        for (uint64_t seed = 1; seed <= 3; seed++) {
            struct sim_op *ops = gen_history(10000, gen_clients[c], seed);
            size_t victim = 5000;
            while (ops[victim].type != SIM_OP_READ || ops[victim].status != SIM_OP_OK) {
                victim++;
            }
            /* An ok write that completed, then another ok write invoked after it that also
             * completed, both before the victim was invoked. */
            size_t later = victim;
            do {
                later--;
            } while (ops[later].type != SIM_OP_WRITE || ops[later].status != SIM_OP_OK ||
                     ops[later].complete_s >= ops[victim].invoke_s);
            size_t stale = later;
            do {
                stale--;
            } while (ops[stale].type != SIM_OP_WRITE || ops[stale].status != SIM_OP_OK ||
                     ops[stale].complete_s >= ops[later].invoke_s);
            ops[victim].value = ops[stale].value;
            struct sim_lin_result r;
            double t0 = now_s();
            assert_int_equal(check(ops, 10000, &r), SIM_VERDICT_NO);
            double t1 = now_s();
            print_message(
                "    %u clients, seed %llu: read #%zu made stale: %llu states, %llu "
                "steps, %.3f s\n",
                gen_clients[c], (unsigned long long)seed, victim, (unsigned long long)r.states,
                (unsigned long long)r.steps, t1 - t0);
            if (c == 0 && seed == 1) {
                text_print(&r.text);
            }
            assert_int_equal(r.op_index, victim);
            char writer[64];
            snprintf(writer, sizeof writer, "  #%zu ", stale);
            assert_true(text_has(&r.text, writer)); /* The explanation names the writer. */
            free(ops);
        }
    }
}

/* ---- 1. linearizability: against an exhaustive search ------------------------------------ */

/* Every order of the ops that respects real time (an op that completed before another was
 * invoked comes first; INFO ops optional): the definition, with no cleverness. */
struct brute
{
    const struct sim_op *ops;
    size_t count;
    bool used[16];
};

static bool brute_counts(const struct sim_op *op)
{
    return op->status != SIM_OP_FAIL && !(op->type == SIM_OP_READ && op->status != SIM_OP_OK);
}

static bool brute_search(struct brute *b, int64_t value)
{
    bool done = true;
    for (size_t i = 0; i < b->count; i++) {
        done = done && (b->used[i] || !brute_counts(&b->ops[i]) || b->ops[i].status != SIM_OP_OK);
    }
    if (done) {
        return true;
    }
    for (size_t i = 0; i < b->count; i++) {
        const struct sim_op *op = &b->ops[i];
        if (b->used[i] || !brute_counts(op)) {
            continue;
        }
        bool ready = true;
        for (size_t j = 0; j < b->count; j++) {
            const struct sim_op *before = &b->ops[j];
            ready = ready && (j == i || b->used[j] || !brute_counts(before) ||
                              before->status != SIM_OP_OK || before->complete_s >= op->invoke_s);
        }
        int64_t after = op->type == SIM_OP_READ ? value : op->value;
        bool accepted = op->type == SIM_OP_WRITE ||
                        (op->type == SIM_OP_READ && op->value == value) ||
                        (op->type == SIM_OP_CAS && op->expect == value);
        if (!ready || !accepted) {
            continue;
        }
        b->used[i] = true;
        bool found = brute_search(b, after);
        b->used[i] = false;
        if (found) {
            return true;
        }
    }
    return false;
}

/* Random small histories of every shape (statuses, ties, repeated values, blind writes):
 * the checker and the definition agree on each. */
static void test_lin_agrees_with_exhaustive_search_on_small_histories(void **state)
{
    (void)state;
    struct rng rng = {12345};
    size_t linearizable = 0;
    const size_t histories = 20000;
    for (size_t h = 0; h < histories; h++) {
        struct sim_op ops[9];
        size_t count = 1 + rng_next(&rng) % 9;
        uint64_t values = 1 + rng_next(&rng) % (h % 2 ? 4 : 12);
        for (size_t i = 0; i < count; i++) {
            uint64_t pick = rng_next(&rng) % 10;
            enum sim_op_status status = pick < 6   ? SIM_OP_OK
                                        : pick < 8 ? SIM_OP_INFO
                                        : pick < 9 ? SIM_OP_FAIL
                                                   : SIM_OP_PENDING;
            double invoke = (double)(rng_next(&rng) % 10);
            ops[i] = op_make((uint32_t)i + 1, (enum sim_op_type)(1 + rng_next(&rng) % 3), status,
                             (int64_t)(rng_next(&rng) % values), (int64_t)(rng_next(&rng) % values),
                             invoke, invoke + (double)(rng_next(&rng) % 5));
        }
        struct brute b = {.ops = ops, .count = count};
        bool expected = brute_search(&b, 0);
        struct sim_lin_result r;
        enum sim_verdict verdict = check(ops, count, &r);
        if (verdict != (expected ? SIM_VERDICT_YES : SIM_VERDICT_NO)) {
            print_message("    history %zu: expected %d, got %s\n", h, expected,
                          sim_verdict_name(verdict));
            fail();
        }
        linearizable += expected;
    }
    print_message("    %zu histories, %zu linearizable\n", histories, linearizable);
}

/* ---- 2. election safety ------------------------------------------------------------------ */

static void test_election_one_leader_per_epoch(void **state)
{
    (void)state;
    struct sim_election e;
    sim_election_init(&e);
    assert_int_equal(sim_election_observe(&e, 1.0, 1, 1, SIM_ROLE_LOOKING), SIM_CHECK_OK);
    assert_int_equal(sim_election_observe(&e, 2.0, 1, 1, SIM_ROLE_LEADING), SIM_CHECK_OK);
    assert_int_equal(sim_election_observe(&e, 2.0, 2, 1, SIM_ROLE_FOLLOWING), SIM_CHECK_OK);
    assert_int_equal(sim_election_observe(&e, 2.5, 1, 1, SIM_ROLE_LEADING), SIM_CHECK_OK);
    assert_int_equal(sim_election_observe(&e, 9.0, 2, 2, SIM_ROLE_LEADING), SIM_CHECK_OK);
    assert_int_equal(sim_election_observe(&e, 20.0, 2, 3, SIM_ROLE_LEADING), SIM_CHECK_OK);
    assert_int_equal(sim_election_observe(&e, 30.0, 1, 4, SIM_ROLE_LEADING), SIM_CHECK_OK);
    struct sim_election_figures f;
    assert_int_equal(sim_election_summarize(&e, &f), SIM_CHECK_OK);
    assert_int_equal(f.max_leaders_per_epoch, 1);
    assert_int_equal(f.epochs, 4);
    assert_int_equal(f.leaderships, 4);
    assert_int_equal(f.leader_changes, 2); /* 1 -> 2 (re-elected in 3) -> 1. */
    assert_int_equal(f.text.count, 0);
    sim_election_close(&e);
}

/* A paused leader of epoch 2 and, on the other side of a partition, two servers that both
 * claim epoch 3: split brain in epoch 3. */
static void test_election_split_brain_has_two_leaders_in_an_epoch(void **state)
{
    (void)state;
    struct sim_election e;
    sim_election_init(&e);
    assert_int_equal(sim_election_observe(&e, 1.0, 1, 2, SIM_ROLE_LEADING), SIM_CHECK_OK);
    assert_int_equal(sim_election_observe(&e, 5.0, 3, 3, SIM_ROLE_LEADING), SIM_CHECK_OK);
    assert_int_equal(sim_election_observe(&e, 6.0, 1, 2, SIM_ROLE_LEADING), SIM_CHECK_OK);
    assert_int_equal(sim_election_observe(&e, 7.5, 2, 3, SIM_ROLE_LEADING), SIM_CHECK_OK);
    assert_int_equal(sim_election_observe(&e, 9.0, 3, 4, SIM_ROLE_LEADING), SIM_CHECK_OK);
    struct sim_election_figures f;
    assert_int_equal(sim_election_summarize(&e, &f), SIM_CHECK_OK);
    assert_int_equal(f.max_leaders_per_epoch, 2);
    assert_int_equal(f.worst_epoch, 3);
    assert_int_equal(f.epochs, 3);
    assert_int_equal(f.leaderships, 4);
    assert_int_equal(f.leader_changes, 3); /* 1 -> 3 -> 2 -> 3. */
    assert_int_equal(f.text.count, 1);
    assert_string_equal(f.text.line[0],
                        "epoch 3: 2 leaders: node 3 at 5.000000 s, node 2 at 7.500000 s");
    sim_election_close(&e);
}

static void test_election_no_leader_at_all(void **state)
{
    (void)state;
    struct sim_election e;
    sim_election_init(&e);
    struct sim_election_figures f;
    assert_int_equal(sim_election_summarize(&e, &f), SIM_CHECK_OK);
    assert_int_equal(f.max_leaders_per_epoch, 0);
    assert_int_equal(f.leader_changes, 0);
    /* Many epochs: storage grows. */
    for (int64_t epoch = 1; epoch <= 100; epoch++) {
        assert_int_equal(sim_election_observe(&e, (double)epoch, (uint32_t)(epoch % 3) + 1, epoch,
                                              SIM_ROLE_LEADING),
                         SIM_CHECK_OK);
    }
    assert_int_equal(sim_election_summarize(&e, &f), SIM_CHECK_OK);
    assert_int_equal(f.max_leaders_per_epoch, 1);
    assert_int_equal(f.leader_changes, 99);
    sim_election_close(&e);
}

/* ---- 3. write availability --------------------------------------------------------------- */

static void test_availability_gap_between_acknowledged_writes(void **state)
{
    (void)state;
    /* Writes ok at 1 and 2; a timed-out write from 3; the next ok write is invoked at 5
     * and completes at 10: unavailable from 3 to 10. */
    struct sim_op ops[] = {
        wr(1, 1, 0.5, 1), wr(2, 2, 1.5, 2), wr_info(1, 3, 3), wr(2, 4, 5, 10), rd(3, 4, 3.5, 4),
    };
    struct sim_availability a;
    assert_int_equal(sim_check_availability(ops, COUNT(ops), 10, 1.0, &a), SIM_CHECK_OK);
    assert_int_equal(a.writes_attempted, 4);
    assert_int_equal(a.writes_ok, 3);
    assert_true(a.longest_s == 7.0);
    assert_true(a.longest.start_s == 3.0 && a.longest.end_s == 10.0);
    /* The INFO write stays outstanding after 10, but the run ends there. */
    assert_false(a.unavailable_at_end);
    assert_int_equal(a.window_count, 1);
    assert_true(a.windows[0].start_s == 3.0 && a.windows[0].end_s == 10.0);
    sim_availability_free(&a);
    /* With threshold 0, every window: the first write's latency, the second's, the gap. */
    assert_int_equal(sim_check_availability(ops, COUNT(ops), 10, 0, &a), SIM_CHECK_OK);
    assert_int_equal(a.window_count, 3);
    assert_true(a.windows[0].start_s == 0.5 && a.windows[0].end_s == 1.0);
    assert_true(a.windows[1].start_s == 1.5 && a.windows[1].end_s == 2.0);
    sim_availability_free(&a);
}

/* Time with no write outstanding is idle, not unavailable. */
static void test_availability_idle_time_is_not_a_window(void **state)
{
    (void)state;
    struct sim_op ops[] = {wr(1, 1, 0, 1), wr(1, 2, 10, 11), rd(2, 2, 12, 13)};
    struct sim_availability a;
    assert_int_equal(sim_check_availability(ops, COUNT(ops), 60, 0, &a), SIM_CHECK_OK);
    assert_true(a.longest_s == 1.0);
    assert_true(a.longest.start_s == 0.0 && a.longest.end_s == 1.0);
    assert_int_equal(a.window_count, 2);
    assert_true(a.windows[1].start_s == 10.0 && a.windows[1].end_s == 11.0);
    assert_false(a.unavailable_at_end);
    sim_availability_free(&a);
}

/* A write outstanding across an acknowledgement makes the gap start right there. */
static void test_availability_outstanding_write_starts_window_at_last_ack(void **state)
{
    (void)state;
    struct sim_op ops[] = {wr(1, 1, 0, 1), wr(2, 2, 0.5, 8)};
    struct sim_availability a;
    assert_int_equal(sim_check_availability(ops, COUNT(ops), 8, 5, &a), SIM_CHECK_OK);
    assert_true(a.longest.start_s == 1.0 && a.longest.end_s == 8.0);
    assert_int_equal(a.window_count, 1);
    sim_availability_free(&a);
}

/* Writes that never succeed up to the end: the window is open at the end. Failed attempts
 * (refused, connection loss before sending) are demand too. */
static void test_availability_unavailable_until_end(void **state)
{
    (void)state;
    struct sim_op ops[] = {
        wr(1, 1, 0, 1),
        op_make(2, SIM_OP_WRITE, SIM_OP_FAIL, 0, 2, 4, 4.1),
        op_make(2, SIM_OP_CAS, SIM_OP_FAIL, 1, 3, 6, 6.1),
        wr_info(3, 4, 7),
    };
    struct sim_availability a;
    assert_int_equal(sim_check_availability(ops, COUNT(ops), 30, 10, &a), SIM_CHECK_OK);
    assert_true(a.longest.start_s == 4.0 && a.longest.end_s == 30.0);
    assert_true(a.longest_s == 26.0);
    assert_true(a.unavailable_at_end);
    assert_int_equal(a.window_count, 1);
    sim_availability_free(&a);
    /* Before the first acknowledgement too. */
    struct sim_op start[] = {wr_info(1, 1, 2), wr(2, 2, 3, 9)};
    assert_int_equal(sim_check_availability(start, COUNT(start), 9, 0, &a), SIM_CHECK_OK);
    assert_true(a.longest.start_s == 2.0 && a.longest.end_s == 9.0);
    assert_false(a.unavailable_at_end);
    sim_availability_free(&a);
    /* No writes at all: nothing. */
    assert_int_equal(sim_check_availability(ops, 0, 30, 0, &a), SIM_CHECK_OK);
    assert_true(a.longest_s == 0.0);
    assert_int_equal(a.window_count, 0);
    sim_availability_free(&a);
}

/* ---- 4. lost acknowledged writes --------------------------------------------------------- */

static void test_final_last_acknowledged_write_must_survive(void **state)
{
    (void)state;
    struct sim_op ops[] = {wr(1, 1, 0, 1), wr(2, 2, 2, 3), wr(1, 3, 2.5, 4)};
    ops[2].key = 0; /* 2 and 3 are concurrent: either may be last. */
    struct sim_final_read ok[] = {{0, 1, 3}, {0, 2, 3}, {0, 3, 3}};
    struct sim_final_result r;
    assert_int_equal(sim_check_final(ops, COUNT(ops), ok, COUNT(ok), &r), SIM_CHECK_OK);
    assert_int_equal(r.reads, 3);
    assert_int_equal(r.lost, 0);
    assert_int_equal(r.diverged, 0);
    struct sim_final_read two[] = {{0, 1, 2}};
    assert_int_equal(sim_check_final(ops, COUNT(ops), two, COUNT(two), &r), SIM_CHECK_OK);
    assert_int_equal(r.lost, 0);
    /* 1 was overwritten by acknowledged writes invoked after it completed: lost. */
    struct sim_final_read lost[] = {{0, 2, 1}, {0, 1, 3}};
    assert_int_equal(sim_check_final(ops, COUNT(ops), lost, COUNT(lost), &r), SIM_CHECK_OK);
    assert_int_equal(r.lost, 1);
    assert_int_equal(r.diverged, 1);
    text_print(&r.text);
    assert_string_equal(r.text.line[0],
                        "key 0 server 2: final value 1 is not possible; last "
                        "acknowledged: #2 c1 key 0 write 3 [2.500000, "
                        "4.000000] ok");
    assert_string_equal(r.text.line[1], "key 0: servers disagree: s1=3 s2=1");
}

static void test_final_info_write_may_be_last(void **state)
{
    (void)state;
    struct sim_op ops[] = {wr_info(1, 5, 0), wr(2, 2, 2, 3), wr(1, 6, 1, 2)};
    ops[2].status = SIM_OP_FAIL;
    struct sim_final_read reads[] = {{0, 1, 5}};
    struct sim_final_result r;
    assert_int_equal(sim_check_final(ops, COUNT(ops), reads, COUNT(reads), &r), SIM_CHECK_OK);
    assert_int_equal(r.lost, 0);
    /* A failed write cannot be last. */
    reads[0].value = 6;
    assert_int_equal(sim_check_final(ops, COUNT(ops), reads, COUNT(reads), &r), SIM_CHECK_OK);
    assert_int_equal(r.lost, 1);
    /* A key never written holds 0. */
    struct sim_final_read fresh[] = {{4, 1, 0}, {4, 2, 1}};
    assert_int_equal(sim_check_final(ops, COUNT(ops), fresh, COUNT(fresh), &r), SIM_CHECK_OK);
    assert_int_equal(r.lost, 1);
    assert_true(text_has(&r.text,
                         "key 4 server 2: final value 1 is not possible; last "
                         "acknowledged: 0 (no acknowledged write)"));
}

/* ---- malformed input ----------------------------------------------------------------------- */

/* Times no checker can order are refused, never guessed at or crashed on. */
static void test_malformed_times_are_rejected_by_every_checker(void **state)
{
    (void)state;
    struct sim_op nan_invoke = wr(1, 1, 0, 1);
    nan_invoke.invoke_s = NAN;
    struct sim_op backwards = wr(1, 1, 5, 4);
    struct sim_op cases[] = {nan_invoke, backwards};
    for (size_t i = 0; i < COUNT(cases); i++) {
        struct sim_lin_result lin;
        assert_int_equal(sim_check_linearizable(&cases[i], 1, NULL, &lin), SIM_CHECK_EINVAL);
        struct sim_availability a;
        assert_int_equal(sim_check_availability(&cases[i], 1, 10, 0, &a), SIM_CHECK_EINVAL);
        assert_null(a.windows);
        struct sim_final_read read = {0, 1, 1};
        struct sim_final_result f;
        assert_int_equal(sim_check_final(&cases[i], 1, &read, 1, &f), SIM_CHECK_EINVAL);
        assert_string_equal(f.text.line[0], "malformed op (bad times)");
    }
    /* Unknown types and statuses are not register ops; figures count them as OTHER. */
    struct sim_op odd = wr(1, 1, 0, 1);
    odd.type = (enum sim_op_type)99;
    struct sim_lin_result lin;
    assert_int_equal(check(&odd, 1, &lin), SIM_VERDICT_YES);
    struct sim_figures f;
    assert_int_equal(sim_check_figures(&odd, 1, &f), SIM_CHECK_OK);
    assert_int_equal(f.by_type[SIM_OP_OTHER].ok, 1);
}

/* ---- 5. figures -------------------------------------------------------------------------- */

static void test_figures_counts_and_latency_percentiles(void **state)
{
    (void)state;
    struct sim_op ops[104];
    for (int i = 0; i < 100; i++) {
        /* Latencies 0.01 .. 1.00 s. */
        ops[i] = rd(1, 0, i, i + 0.01 * (i + 1));
    }
    ops[100] = wr(1, 1, 0, 2);
    ops[101] = wr_info(1, 2, 0);
    ops[102] = op_make(1, SIM_OP_CAS, SIM_OP_FAIL, 0, 3, 0, 1);
    ops[103] = op_make(1, SIM_OP_WRITE, SIM_OP_PENDING, 0, 4, 0, 0);
    struct sim_figures f;
    assert_int_equal(sim_check_figures(ops, COUNT(ops), &f), SIM_CHECK_OK);
    const struct sim_op_figures *r = &f.by_type[SIM_OP_READ];
    assert_int_equal(r->ok, 100);
    assert_int_equal(r->fail + r->info + r->pending, 0);
    assert_float_equal(r->latency_p50_s, 0.50, 1e-9);
    assert_float_equal(r->latency_p99_s, 0.99, 1e-9);
    assert_float_equal(r->latency_max_s, 1.00, 1e-9);
    const struct sim_op_figures *w = &f.by_type[SIM_OP_WRITE];
    assert_int_equal(w->ok, 1);
    assert_int_equal(w->info, 1);
    assert_int_equal(w->pending, 1);
    assert_float_equal(w->latency_p50_s, 2.0, 1e-9);
    assert_float_equal(w->latency_p99_s, 2.0, 1e-9);
    assert_int_equal(f.by_type[SIM_OP_CAS].fail, 1);
    assert_float_equal(f.by_type[SIM_OP_CAS].latency_max_s, 0.0, 1e-9);
    assert_int_equal(f.all.ok, 101);
    assert_int_equal(f.all.fail, 1);
    assert_float_equal(f.all.latency_max_s, 2.0, 1e-9);
    assert_float_equal(f.all.latency_p50_s, 0.51, 1e-9);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lin_empty_history_is_linearizable),
        cmocka_unit_test(test_lin_sequential_history_is_linearizable),
        cmocka_unit_test(test_lin_stale_read_after_completed_write_is_violation),
        cmocka_unit_test(test_lin_reads_concurrent_with_write_may_not_go_back),
        cmocka_unit_test(test_lin_concurrent_writes_seen_in_inconsistent_orders_is_violation),
        cmocka_unit_test(test_lin_cas_succeeding_on_value_never_current_is_violation),
        cmocka_unit_test(test_lin_failed_cas_constrains_nothing),
        cmocka_unit_test(test_lin_info_write_explains_later_read),
        cmocka_unit_test(test_lin_info_write_never_seen_is_fine),
        cmocka_unit_test(test_lin_info_cas_needs_its_expected_value),
        cmocka_unit_test(test_lin_read_of_never_written_value_is_violation),
        cmocka_unit_test(test_lin_keys_are_independent),
        cmocka_unit_test(test_lin_several_violated_keys_are_all_counted),
        cmocka_unit_test(test_lin_malformed_times_are_rejected),
        cmocka_unit_test(test_lin_budget_exhausted_gives_unknown),
        cmocka_unit_test(test_lin_random_10000_ops_linearizable),
        cmocka_unit_test(test_lin_random_10000_ops_one_stale_read_is_violation),
        cmocka_unit_test(test_lin_agrees_with_exhaustive_search_on_small_histories),
        cmocka_unit_test(test_election_one_leader_per_epoch),
        cmocka_unit_test(test_election_split_brain_has_two_leaders_in_an_epoch),
        cmocka_unit_test(test_election_no_leader_at_all),
        cmocka_unit_test(test_availability_gap_between_acknowledged_writes),
        cmocka_unit_test(test_availability_idle_time_is_not_a_window),
        cmocka_unit_test(test_availability_outstanding_write_starts_window_at_last_ack),
        cmocka_unit_test(test_availability_unavailable_until_end),
        cmocka_unit_test(test_final_last_acknowledged_write_must_survive),
        cmocka_unit_test(test_final_info_write_may_be_last),
        cmocka_unit_test(test_malformed_times_are_rejected_by_every_checker),
        cmocka_unit_test(test_figures_counts_and_latency_percentiles),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
