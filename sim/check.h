/* The checkers of coordsim: what a run's recorded history and trace mean.
 * Pure C over the records of sim/history.h: no SimGrid, no clock, no I/O, so
 * the unit tests can feed hand-made histories and every verdict is the same
 * for the same input (nothing here is random or timed).
 *
 * Explanations come as text lines (struct sim_check_text) made only of
 * printable ASCII without '"' or '\\', so they go into summary.json as JSON
 * strings unchanged and read well on a terminal. Ops are named by their index
 * in the caller's array ("#12"), which is their line in history.jsonl when
 * the array is the history in order. */
#ifndef COORD_SIM_CHECK_H
#define COORD_SIM_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "history.h"

/* Return codes of the functions below that can fail. */
enum sim_check_err {
    SIM_CHECK_OK = 0,
    SIM_CHECK_ENOMEM, /* Out of memory: the result says what was checked before. */
    SIM_CHECK_EINVAL, /* Malformed input (e.g. a NaN time, an ok op completing before its
                         invocation); the text names the op. */
};

enum sim_verdict {
    SIM_VERDICT_YES = 1,
    SIM_VERDICT_NO,
    SIM_VERDICT_UNKNOWN, /* The search budget ran out before a proof either way. */
};

/* "yes", "no", "unknown" (or "?" for anything else). */
const char *sim_verdict_name(enum sim_verdict verdict);

#define SIM_CHECK_LINES_MAX 24
#define SIM_CHECK_LINE_LEN 200

struct sim_check_text
{
    size_t count; /* Lines used; each NUL-terminated, no newline. When all are used, the
                     last says "(further lines left out)". */
    char line[SIM_CHECK_LINES_MAX][SIM_CHECK_LINE_LEN];
};

/* ---- 1. Linearizability of the register workload ----------------------------------------
 *
 * Each key is a register with initial value 0, checked on its own (P-compositionality:
 * a history is linearizable iff each key's sub-history is). Only READ, WRITE and CAS ops
 * count. The model:
 *   READ ok      returns the current value;
 *   WRITE        sets it;
 *   CAS ok       current == expect, then sets value;
 *   any FAIL     did not take effect (e.g. BADVERSION): removed, it constrains nothing;
 *   INFO/PENDING may take effect at any time after its invocation, or never (its completion
 *                is +infinity). An INFO/PENDING READ tells nothing and is removed; so is an
 *                INFO/PENDING WRITE or CAS whose value no READ returns and no CAS expects,
 *                since taking effect or not cannot change what any op observed.
 * Completions equal to an invocation count as concurrent with it (the lenient reading).
 *
 * The search is Wing & Gong's as improved by Lowe (the one Knossos and Porcupine use):
 * depth first over the configurations (set of linearized ops, register value), each
 * explored at most once thanks to a memo. Two reductions, which lose no solution (the
 * argument is in check.c; a test compares the verdicts with an exhaustive search), keep
 * concurrent ops from multiplying the configurations: a read that sees the current value
 * is linearized at once without trying alternatives, and a WRITE takes along every
 * pending WRITE whose value nothing observes. The ops that may go next are tried by a
 * guessed deadline (their completion, or the first completion of an op observing their
 * value), which only changes how soon a solution is found. The set is memoized by a
 * 128-bit Zobrist hash (the value exactly): two different sets would have to collide on
 * 127 random bits to merge, odds under 1e-20 for a billion states. A read of a value
 * that no write or CAS of the key could have produced (nor the initial 0) is reported
 * without any search. */
struct sim_lin_options
{
    uint64_t max_states; /* Per key: configurations memoized before giving up; 0 = default. */
    uint64_t max_steps;  /* Per key: model steps tried (memo hits included); 0 = default. */
};

/* The defaults bound one key's search to a 48 MB memo table and about 1.5 s on a 2020s
 * core; a "nice" history needs about one state per op. */
#define SIM_LIN_MAX_STATES_DEFAULT 1500000u
#define SIM_LIN_MAX_STEPS_DEFAULT 100000000u

struct sim_lin_result
{
    enum sim_verdict verdict; /* NO if a key is not linearizable, else UNKNOWN if a key
                                 ran out of budget, else YES (also for no ops at all). */
    size_t keys;              /* Keys with at least one op checked. */
    size_t keys_violated;
    size_t keys_unknown;
    size_t ops;                 /* Ops searched, after the removals above, over all keys. */
    uint64_t states;            /* Configurations memoized, over all keys. */
    uint64_t steps;             /* Model steps tried, over all keys. */
    uint32_t key;               /* NO: the lowest violating key; UNKNOWN: the lowest unknown key. */
    size_t op_index;            /* NO: the op (index in ops[]) that could not be linearized at the
                                   deepest point the search reached; SIZE_MAX otherwise. */
    struct sim_check_text text; /* NO: key, that op, the register value and the last ops
                                   linearized there, the ops concurrent with it; then one
                                   line per other violated or unknown key. */
};

/* Checks ops[0..op_count) (any order, any keys). `options` may be NULL. Fills *result and
 * returns SIM_CHECK_OK, or an error with result->verdict UNKNOWN and a line saying why. */
int sim_check_linearizable(const struct sim_op *ops,
                           size_t op_count,
                           const struct sim_lin_options *options,
                           struct sim_lin_result *result);

/* ---- 2. Election safety -----------------------------------------------------------------
 *
 * Fed with role transitions from the trace, in trace order. Only LEADING matters: a node
 * entering LEADING in an epoch is that epoch's leader. ZAB's safety is at most one leader
 * per epoch (an old leader may still believe it leads a previous epoch: that is allowed). */
/* Numbered as enum coord_role (coord/server.h), so a cast works. */
enum sim_role {
    SIM_ROLE_STANDALONE = 0,
    SIM_ROLE_LOOKING,
    SIM_ROLE_FOLLOWING,
    SIM_ROLE_LEADING,
    SIM_ROLE_OBSERVING,
};

struct sim_leadership
{
    int64_t epoch;
    uint32_t node;
    double at_s; /* First established. */
};

struct sim_election
{
    struct sim_leadership *leaderships; /* Distinct (epoch, node), in order of arrival. */
    size_t count;
    size_t capacity;
    uint32_t last_leader; /* Node of the last leadership established; 0 = none yet. */
    size_t leader_changes;
};

struct sim_election_figures
{
    size_t max_leaders_per_epoch; /* 0 when no one ever led. */
    int64_t worst_epoch;          /* The first epoch with that many leaders. */
    size_t epochs;                /* Distinct epochs that had a leader. */
    size_t leaderships;           /* Distinct (epoch, node) pairs. */
    size_t leader_changes;        /* Leaderships established by a node other than the one
                                     that established the previous leadership. */
    struct sim_check_text text;   /* One line per epoch with more than one leader. */
};

void sim_election_init(struct sim_election *election);
/* A node's transition to `role` in `epoch`. SIM_CHECK_ENOMEM if it could not be kept. */
int sim_election_observe(struct sim_election *election,
                         double at_s,
                         uint32_t node,
                         int64_t epoch,
                         enum sim_role role);
int sim_election_summarize(const struct sim_election *election,
                           struct sim_election_figures *figures);
void sim_election_close(struct sim_election *election);

/* ---- 3. Write availability --------------------------------------------------------------
 *
 * Writes are WRITE and CAS ops, whatever their outcome. An op is outstanding from its
 * invocation to its completion (OK, FAIL) or to the end of the run (INFO, PENDING). The
 * run is cut at each OK completion of a write; in each piece (a, b) -- before the first,
 * between two, after the last up to the end -- the writes are unavailable from the first
 * moment a write is outstanding (a itself if one is outstanding across it) until b. A
 * piece with no write outstanding is idle, not unavailable. So under a steady load the
 * windows are the gaps between acknowledged writes, as in Jepsen's plots. Only OK counts
 * as available: a BADVERSION answer does not prove a quorum was reachable. */
struct sim_interval
{
    double start_s;
    double end_s;
};

struct sim_availability
{
    size_t writes_attempted;
    size_t writes_ok;
    double longest_s; /* 0 when there is no window. */
    struct sim_interval longest;
    bool unavailable_at_end;      /* The last window runs to the end of the run. */
    struct sim_interval *windows; /* Windows of at least the threshold, in time order. */
    size_t window_count;
};

/* end_s: the end of the run (if earlier than the last recorded time, that time is used).
 * threshold_s: the shortest window listed (0 lists all). Free with sim_availability_free. */
int sim_check_availability(const struct sim_op *ops,
                           size_t op_count,
                           double end_s,
                           double threshold_s,
                           struct sim_availability *availability);
void sim_availability_free(struct sim_availability *availability);

/* ---- 4. Lost acknowledged writes --------------------------------------------------------
 *
 * What each live server holds for each key at the end, checked against the history. A
 * key's final value may be the value of any acknowledged (OK) WRITE or CAS that no other
 * acknowledged one follows in real time (none invoked after it completed), or of any
 * INFO/PENDING WRITE or CAS (it may have taken effect at any time, even last), or 0 if the
 * key had no acknowledged write. Anything else means an acknowledged write was lost (or a
 * value came from nowhere). A deliberate over-approximation: whether such a CAS could
 * really have applied last is not checked; the linearizability checker covers that. */
struct sim_final_read
{
    uint32_t key;
    uint32_t server;
    int64_t value;
};

struct sim_final_result
{
    size_t reads;               /* Final reads checked. */
    size_t lost;                /* Reads whose value is not a possible final value. */
    size_t diverged;            /* Keys on which live servers hold different values. */
    struct sim_check_text text; /* One line per lost read or diverged key. */
};

int sim_check_final(const struct sim_op *ops,
                    size_t op_count,
                    const struct sim_final_read *reads,
                    size_t read_count,
                    struct sim_final_result *result);

/* ---- 5. Figures -------------------------------------------------------------------------- */
struct sim_op_figures
{
    size_t ok;
    size_t fail;
    size_t info;
    size_t pending;
    double latency_p50_s; /* Of OK ops, nearest rank; 0 when there are none. */
    double latency_p99_s;
    double latency_max_s;
};

struct sim_figures
{
    struct sim_op_figures by_type[SIM_OP_OTHER + 1]; /* Indexed by enum sim_op_type; [0]
                                                        unused. Unknown types count as
                                                        OTHER. */
    struct sim_op_figures all;
};

int sim_check_figures(const struct sim_op *ops, size_t op_count, struct sim_figures *figures);

#endif /* COORD_SIM_CHECK_H */
