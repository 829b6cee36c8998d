/* The checkers of coordsim (see check.h for what each one decides). */
#include "check.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- text lines --------------------------------------------------------------------------- */

static void text_clear(struct sim_check_text *text)
{
    text->count = 0;
    text->line[0][0] = '\0';
}

/* Appends one line. When only one slot is left, it says that lines were left out, so a
 * reader never mistakes a cut list for a complete one. */
__attribute__((format(printf, 2, 3))) static void text_add(struct sim_check_text *text,
                                                           const char *format,
                                                           ...)
{
    if (text->count >= SIM_CHECK_LINES_MAX) {
        return;
    }
    char *line = text->line[text->count++];
    if (text->count == SIM_CHECK_LINES_MAX) {
        snprintf(line, SIM_CHECK_LINE_LEN, "(further lines left out)");
        return;
    }
    va_list args;
    va_start(args, format);
    vsnprintf(line, SIM_CHECK_LINE_LEN, format, args);
    va_end(args);
}

static void text_append(struct sim_check_text *text, const struct sim_check_text *more)
{
    for (size_t i = 0; i < more->count; i++) {
        text_add(text, "%s", more->line[i]);
    }
}

const char *sim_verdict_name(enum sim_verdict verdict)
{
    switch (verdict) {
        case SIM_VERDICT_YES:
            return "yes";
        case SIM_VERDICT_NO:
            return "no";
        case SIM_VERDICT_UNKNOWN:
            return "unknown";
    }
    return "?";
}

static const char *op_status_name(enum sim_op_status status)
{
    switch (status) {
        case SIM_OP_PENDING:
            return "pending";
        case SIM_OP_OK:
            return "ok";
        case SIM_OP_FAIL:
            return "fail";
        case SIM_OP_INFO:
            return "info";
    }
    return "?";
}

static bool op_completed(const struct sim_op *op)
{
    return op->status == SIM_OP_OK || op->status == SIM_OP_FAIL;
}

static bool op_is_write(const struct sim_op *op)
{
    return op->type == SIM_OP_WRITE || op->type == SIM_OP_CAS;
}

/* "#12 c3 key 0 cas 4->5 [1.250000, 1.300000] ok": enough to find the op in
 * history.jsonl and to see why it matters. */
static void op_describe(char *buf, size_t len, const struct sim_op *ops, size_t index)
{
    const struct sim_op *op = &ops[index];
    char what[64];
    switch (op->type) {
        case SIM_OP_READ:
            if (op->status == SIM_OP_OK) {
                snprintf(what, sizeof what, "read -> %lld", (long long)op->value);
            } else {
                snprintf(what, sizeof what, "read");
            }
            break;
        case SIM_OP_WRITE:
            snprintf(what, sizeof what, "write %lld", (long long)op->value);
            break;
        case SIM_OP_CAS:
            snprintf(what, sizeof what, "cas %lld->%lld", (long long)op->expect,
                     (long long)op->value);
            break;
        case SIM_OP_CREATE_EPHEMERAL:
            snprintf(what, sizeof what, "create-ephemeral");
            break;
        default:
            snprintf(what, sizeof what, "other");
            break;
    }
    char end[32];
    if (op_completed(op)) {
        snprintf(end, sizeof end, "%.6f", op->complete_s);
    } else {
        snprintf(end, sizeof end, "?");
    }
    snprintf(buf, len, "#%zu c%u key %u %s [%.6f, %s] %s", index, op->client, op->key, what,
             op->invoke_s, end, op_status_name(op->status));
}

/* ---- small helpers -------------------------------------------------------------------------- */

static int compare_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a;
    int64_t y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a;
    double y = *(const double *)b;
    return (x > y) - (x < y);
}

static double max_double(double a, double b)
{
    return a > b ? a : b;
}

static bool sorted_contains(const int64_t *values, size_t count, int64_t value)
{
    return bsearch(&value, values, count, sizeof *values, compare_i64) != NULL;
}

/* SplitMix64: the Zobrist keys need only be fixed and well mixed, never secret. */
static uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15u;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9u;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebu;
    return x ^ (x >> 31);
}

/* Times the checkers cannot order are rejected rather than guessed at. */
static bool op_times_valid(const struct sim_op *op)
{
    if (!isfinite(op->invoke_s)) {
        return false;
    }
    if (op_completed(op)) {
        return isfinite(op->complete_s) && op->complete_s >= op->invoke_s;
    }
    return true;
}

/* ---- 1. linearizability: the memo of explored configurations ------------------------------- */

struct memo_slot
{
    uint64_t h1; /* Forced odd, so 0 marks an empty slot. */
    uint64_t h2;
    int64_t value;
};

struct memo
{
    struct memo_slot *slots;
    size_t mask; /* Slot count - 1; a power of two. */
    size_t count;
};

static size_t memo_home(const struct memo *memo, uint64_t h1, int64_t value)
{
    return (size_t)(h1 ^ mix64((uint64_t)value)) & memo->mask;
}

static int memo_init(struct memo *memo, size_t slots)
{
    memo->slots = calloc(slots, sizeof *memo->slots);
    memo->mask = slots - 1;
    memo->count = 0;
    return memo->slots != NULL ? SIM_CHECK_OK : SIM_CHECK_ENOMEM;
}

static int memo_grow(struct memo *memo)
{
    struct memo old = *memo;
    if (memo_init(memo, (old.mask + 1) * 2) != SIM_CHECK_OK) {
        *memo = old;
        return SIM_CHECK_ENOMEM;
    }
    for (size_t i = 0; i <= old.mask; i++) {
        const struct memo_slot *slot = &old.slots[i];
        if (slot->h1 == 0) {
            continue;
        }
        size_t at = memo_home(memo, slot->h1, slot->value);
        while (memo->slots[at].h1 != 0) {
            at = (at + 1) & memo->mask;
        }
        memo->slots[at] = *slot;
        memo->count++;
    }
    free(old.slots);
    return SIM_CHECK_OK;
}

/* 1 if (h1, h2, value) is new and now remembered, 0 if it was known, or -1 (no memory). */
static int memo_insert(struct memo *memo, uint64_t h1, uint64_t h2, int64_t value)
{
    h1 |= 1;
    if ((memo->count + 1) * 4 > (memo->mask + 1) * 3 && memo_grow(memo) != SIM_CHECK_OK) {
        return -1;
    }
    size_t at = memo_home(memo, h1, value);
    for (;;) {
        struct memo_slot *slot = &memo->slots[at];
        if (slot->h1 == 0) {
            *slot = (struct memo_slot){h1, h2, value};
            memo->count++;
            return 1;
        }
        if (slot->h1 == h1 && slot->h2 == h2 && slot->value == value) {
            return 0;
        }
        at = (at + 1) & memo->mask;
    }
}

/* ---- 1. linearizability: one key's search ----------------------------------------------- */

/* One op of the key being searched. */
struct lin_op
{
    size_t index; /* In the caller's array. */
    enum sim_op_type type;
    int64_t value;
    int64_t expect;
    bool definite; /* OK: takes effect between its invocation and its completion. */
    bool blind;    /* A definite WRITE whose value no op observes (see lin_advance). */
    uint64_t zobrist1;
    uint64_t zobrist2;
    uint32_t urgency; /* Rank by effective deadline (lin_rank_urgency): lower first. */
};

/* The call and return events of the ops in time order, as a doubly linked list over
 * entries 1..m, with 0 the head and m + 1 the tail. An INFO/PENDING op has a call and
 * no return: it may take effect any time after its call. Linearizing an op lifts its
 * entries out of the list, so the calls before the first return are exactly the ops
 * that may be linearized next, and that return's op is the one that must be soonest. */
#define LIN_NONE UINT32_MAX
#define LIN_OPS_MAX                                                    \
    (UINT32_C(1) << 29) /* Entry numbers fit in the 31-bit fields of a \
                           choice key. */

struct lin_sort_entry
{
    double time_s;
    uint32_t op;
    uint8_t is_return; /* At equal times calls come first: the ops count as concurrent. */
};

/* The op linearized to leave a configuration, and how to undo it. */
struct lin_frame
{
    uint32_t entry; /* Its call entry. */
    bool forced;    /* No alternative to try: see lin_is_forced. */
    bool joined;    /* A blind write linearized with the frame above it (lin_advance). */
    int64_t state;  /* The register value before it. */
};

/* The ops a configuration on the current path offers, in the order they are tried:
 * choices[offset .. offset + count), next being the next to try. */
struct lin_level
{
    size_t offset;
    size_t count;
    size_t next;
    uint32_t blocker; /* The first return entry: its op must be linearized before it. */
};

#define LIN_LAST_MAX 3 /* Linearized ops quoted before the op that could not be. */

struct lin_search
{
    const struct sim_op *ops; /* The caller's. */
    struct lin_op *lops;
    size_t n;
    uint32_t *next;
    uint32_t *prev;
    uint32_t *entry_op;
    uint32_t *entry_match; /* Call: its return entry, or LIN_NONE; return: LIN_NONE. */
    uint8_t *entry_is_call;
    uint32_t tail;
    struct lin_frame *stack;  /* The ops linearized on the current path, in order. */
    struct lin_level *levels; /* levels[d]: of the configuration with d ops linearized. */
    size_t depth;
    size_t max_depth;
    uint64_t *choices; /* Choice keys (see lin_choice_key) of every level on the path. */
    size_t choices_top;
    size_t choices_capacity;
    uint32_t *absorbed; /* Scratch for lin_collect_blind. */
    size_t absorbed_capacity;
    struct memo memo;
    uint64_t states;
    uint64_t steps;
    uint64_t max_states;
    uint64_t max_steps;
    /* The deepest point where a return could not be passed: the explanation. */
    bool blocked;
    size_t best_depth;
    uint32_t best_op;
    int64_t best_state;
    uint32_t best_last[LIN_LAST_MAX];
    size_t best_last_count;
};

static int compare_lin_sort_entry(const void *a, const void *b)
{
    const struct lin_sort_entry *x = a;
    const struct lin_sort_entry *y = b;
    if (x->time_s != y->time_s) {
        return x->time_s < y->time_s ? -1 : 1;
    }
    if (x->is_return != y->is_return) {
        return x->is_return < y->is_return ? -1 : 1;
    }
    return (x->op > y->op) - (x->op < y->op);
}

static int compare_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a;
    uint64_t y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static void lin_search_free(struct lin_search *s)
{
    free(s->lops);
    free(s->next);
    free(s->prev);
    free(s->entry_op);
    free(s->entry_match);
    free(s->entry_is_call);
    free(s->stack);
    free(s->levels);
    free(s->choices);
    free(s->absorbed);
    free(s->memo.slots);
    memset(s, 0, sizeof *s);
}

static int lin_build_list(struct lin_search *s)
{
    size_t m = 0;
    for (size_t i = 0; i < s->n; i++) {
        m += s->lops[i].definite ? 2 : 1;
    }
    struct lin_sort_entry *sorted = malloc((m + 1) * sizeof *sorted);
    s->next = malloc((m + 2) * sizeof *s->next);
    s->prev = malloc((m + 2) * sizeof *s->prev);
    s->entry_op = malloc((m + 2) * sizeof *s->entry_op);
    s->entry_match = malloc((m + 2) * sizeof *s->entry_match);
    s->entry_is_call = malloc((m + 2) * sizeof *s->entry_is_call);
    uint32_t *return_of = malloc((s->n + 1) * sizeof *return_of);
    if (!sorted || !s->next || !s->prev || !s->entry_op || !s->entry_match || !s->entry_is_call ||
        !return_of) {
        free(sorted);
        free(return_of);
        return SIM_CHECK_ENOMEM;
    }
    size_t k = 0;
    for (size_t i = 0; i < s->n; i++) {
        const struct sim_op *op = &s->ops[s->lops[i].index];
        sorted[k++] = (struct lin_sort_entry){op->invoke_s, (uint32_t)i, 0};
        if (s->lops[i].definite) {
            sorted[k++] = (struct lin_sort_entry){op->complete_s, (uint32_t)i, 1};
        }
    }
    qsort(sorted, m, sizeof *sorted, compare_lin_sort_entry);
    for (size_t i = 0; i < s->n; i++) {
        return_of[i] = LIN_NONE;
    }
    for (size_t i = 0; i < m; i++) {
        if (sorted[i].is_return) {
            return_of[sorted[i].op] = (uint32_t)(i + 1);
        }
    }
    s->tail = (uint32_t)(m + 1);
    for (uint32_t e = 0; e <= s->tail; e++) {
        s->next[e] = e + 1;
        s->prev[e] = e - 1;
        s->entry_op[e] = LIN_NONE;
        s->entry_match[e] = LIN_NONE;
        s->entry_is_call[e] = 0;
    }
    s->prev[0] = 0;
    s->next[s->tail] = s->tail;
    for (size_t i = 0; i < m; i++) {
        uint32_t e = (uint32_t)(i + 1);
        s->entry_op[e] = sorted[i].op;
        s->entry_is_call[e] = !sorted[i].is_return;
        if (!sorted[i].is_return) {
            s->entry_match[e] = return_of[sorted[i].op];
        }
    }
    free(sorted);
    free(return_of);
    return SIM_CHECK_OK;
}

static void lin_unlink(struct lin_search *s, uint32_t e)
{
    s->next[s->prev[e]] = s->next[e];
    s->prev[s->next[e]] = s->prev[e];
}

static void lin_relink(struct lin_search *s, uint32_t e)
{
    s->next[s->prev[e]] = e;
    s->prev[s->next[e]] = e;
}

/* Linearizing an op takes its call and return out of the list; undoing puts them back in
 * the reverse order (dancing links), which the stack discipline guarantees. */
static void lin_lift(struct lin_search *s, uint32_t call)
{
    lin_unlink(s, call);
    if (s->entry_match[call] != LIN_NONE) {
        lin_unlink(s, s->entry_match[call]);
    }
}

static void lin_unlift(struct lin_search *s, uint32_t call)
{
    if (s->entry_match[call] != LIN_NONE) {
        lin_relink(s, s->entry_match[call]);
    }
    lin_relink(s, call);
}

static bool lin_apply(const struct lin_op *op, int64_t state, int64_t *after)
{
    switch (op->type) {
        case SIM_OP_READ:
            *after = state;
            return op->value == state;
        case SIM_OP_WRITE:
            *after = op->value;
            return true;
        case SIM_OP_CAS:
            *after = op->value;
            return op->expect == state;
        default:
            return false;
    }
}

/* A definite op that leaves the register as it is (a read, or a CAS v->v) and that the
 * model accepts now can be linearized now without trying anything else: any
 * linearization from here stays valid with it moved to the front, since every op that
 * returned before it was invoked is already linearized (its call could not be reached
 * otherwise). So if the configuration with it fails, the one without it fails too. This
 * keeps concurrent reads from multiplying the configurations. */
static bool lin_is_forced(const struct lin_op *op)
{
    return op->definite &&
           (op->type == SIM_OP_READ || (op->type == SIM_OP_CAS && op->expect == op->value));
}

static void lin_note_block(struct lin_search *s, uint32_t return_entry, int64_t state)
{
    if (s->blocked && s->depth <= s->best_depth) {
        return;
    }
    s->blocked = true;
    s->best_depth = s->depth;
    s->best_op = s->entry_op[return_entry];
    s->best_state = state;
    s->best_last_count = 0;
    for (size_t i = s->depth; i > 0 && s->best_last_count < LIN_LAST_MAX; i--) {
        s->best_last[s->best_last_count++] = s->entry_op[s->stack[i - 1].entry];
    }
}

/* The order in which a configuration's ops are tried, by urgency (lin_rank_urgency):
 * which order is only a matter of speed, every one is tried before the configuration is
 * given up. The entry number makes the key unique. */
static uint64_t lin_choice_key(const struct lin_search *s, uint32_t call)
{
    return (uint64_t)s->lops[s->entry_op[call]].urgency << 31 | call;
}

static int lin_push_choice(struct lin_search *s, uint64_t key)
{
    if (s->choices_top == s->choices_capacity) {
        size_t capacity = s->choices_capacity ? s->choices_capacity * 2 : 1024;
        uint64_t *grown = realloc(s->choices, capacity * sizeof *grown);
        if (grown == NULL) {
            return SIM_CHECK_ENOMEM;
        }
        s->choices = grown;
        s->choices_capacity = capacity;
    }
    s->choices[s->choices_top++] = key;
    return SIM_CHECK_OK;
}

enum lin_offer {
    LIN_OFFER_DONE,    /* No return left: every definite op is linearized. */
    LIN_OFFER_FORCED,  /* An op to linearize with no alternative (lin_is_forced). */
    LIN_OFFER_CHOICES, /* The level of the current depth lists the ops to try. */
    LIN_OFFER_NOMEM,
};

/* What the configuration just reached offers: the calls before the first return that
 * the model accepts in `state`. */
static enum lin_offer lin_offer(struct lin_search *s, int64_t state, uint32_t *forced)
{
    struct lin_level *level = &s->levels[s->depth];
    *level = (struct lin_level){s->choices_top, 0, 0, LIN_NONE};
    uint32_t e = s->next[0];
    for (; e != s->tail && s->entry_is_call[e]; e = s->next[e]) {
        const struct lin_op *op = &s->lops[s->entry_op[e]];
        int64_t after;
        s->steps++;
        if (!lin_apply(op, state, &after)) {
            continue;
        }
        if (lin_is_forced(op)) {
            s->choices_top = level->offset;
            *forced = e;
            return LIN_OFFER_FORCED;
        }
        if (lin_push_choice(s, e) != SIM_CHECK_OK) {
            return LIN_OFFER_NOMEM;
        }
    }
    if (e == s->tail) {
        s->choices_top = level->offset;
        return LIN_OFFER_DONE;
    }
    level->blocker = e;
    level->count = s->choices_top - level->offset;
    if (level->count > 0) { /* choices stays NULL until the first one. */
        uint64_t *keys = &s->choices[level->offset];
        for (size_t i = 0; i < level->count; i++) {
            keys[i] = lin_choice_key(s, (uint32_t)keys[i]);
        }
        qsort(keys, level->count, sizeof *keys, compare_u64);
    }
    return LIN_OFFER_CHOICES;
}

static void lin_push(struct lin_search *s, uint32_t call, bool forced, bool joined, int64_t state)
{
    s->stack[s->depth++] = (struct lin_frame){call, forced, joined, state};
    s->max_depth = s->depth > s->max_depth ? s->depth : s->max_depth;
    lin_lift(s, call);
}

/* The blind writes that may be linearized now, other than `call`, into s->absorbed.
 * A blind write is only ever followed directly by a WRITE (nothing can observe its value)
 * or by nothing, and moving it to just before an earlier WRITE it may precede keeps a
 * linearization valid: every op that must come before it is linearized already. So a
 * WRITE takes them along, just before it: no solution is lost and they are not tried in
 * every order. The set is collected before anything is lifted: lifting one could unlink
 * the first return and let more calls in. */
static int lin_collect_blind(struct lin_search *s, uint32_t call, size_t *count)
{
    *count = 0;
    for (uint32_t e = s->next[0]; e != s->tail && s->entry_is_call[e]; e = s->next[e]) {
        s->steps++;
        if (e == call || !s->lops[s->entry_op[e]].blind) {
            continue;
        }
        if (*count == s->absorbed_capacity) {
            size_t capacity = s->absorbed_capacity ? s->absorbed_capacity * 2 : 64;
            uint32_t *grown = realloc(s->absorbed, capacity * sizeof *grown);
            if (grown == NULL) {
                return SIM_CHECK_ENOMEM;
            }
            s->absorbed = grown;
            s->absorbed_capacity = capacity;
        }
        s->absorbed[(*count)++] = e;
    }
    return SIM_CHECK_OK;
}

/* Linearizes the op of `call` (with the blind writes a WRITE takes along) if that leads
 * to a configuration not explored yet: 1 if it did, 0 if not, -1 when out of memory. */
static int lin_advance(struct lin_search *s,
                       uint32_t call,
                       bool forced,
                       int64_t *state,
                       uint64_t *h1,
                       uint64_t *h2)
{
    const struct lin_op *op = &s->lops[s->entry_op[call]];
    int64_t after;
    s->steps++;
    if (!lin_apply(op, *state, &after)) {
        return 0;
    }
    size_t absorbed = 0;
    if (op->type == SIM_OP_WRITE && lin_collect_blind(s, call, &absorbed) != SIM_CHECK_OK) {
        return -1;
    }
    uint64_t n1 = *h1 ^ op->zobrist1;
    uint64_t n2 = *h2 ^ op->zobrist2;
    for (size_t i = 0; i < absorbed; i++) {
        n1 ^= s->lops[s->entry_op[s->absorbed[i]]].zobrist1;
        n2 ^= s->lops[s->entry_op[s->absorbed[i]]].zobrist2;
    }
    int fresh = memo_insert(&s->memo, n1, n2, after);
    if (fresh <= 0) {
        return fresh;
    }
    s->states++;
    for (size_t i = 0; i < absorbed; i++) {
        lin_push(s, s->absorbed[i], false, true, *state);
    }
    lin_push(s, call, forced, false, *state);
    *state = after;
    *h1 = n1;
    *h2 = n2;
    return 1;
}

/* Gives up the configuration at the current depth and undoes linearizations until one
 * leaves an alternative to try; false when the search is back at the start with none. */
static bool lin_backtrack(struct lin_search *s, int64_t *state, uint64_t *h1, uint64_t *h2)
{
    for (;;) {
        s->choices_top = s->levels[s->depth].offset;
        if (s->depth == 0) {
            return false;
        }
        bool forced = s->stack[s->depth - 1].forced;
        do {
            struct lin_frame frame = s->stack[--s->depth];
            const struct lin_op *op = &s->lops[s->entry_op[frame.entry]];
            *state = frame.state;
            *h1 ^= op->zobrist1;
            *h2 ^= op->zobrist2;
            lin_unlift(s, frame.entry);
        } while (s->depth > 0 && s->stack[s->depth - 1].joined);
        if (!forced) {
            return true;
        }
    }
}

/* Wing & Gong's tree search with Lowe's memo: depth first over configurations (the set
 * of ops linearized, the register value), each reached at most once. A configuration
 * already in the memo and not on the current path has been explored and failed. */
static int lin_run(struct lin_search *s, enum sim_verdict *verdict)
{
    int64_t state = 0;
    uint64_t h1 = 0;
    uint64_t h2 = 0;
    bool entered = true; /* A configuration not yet asked what it offers. */
    *verdict = SIM_VERDICT_UNKNOWN;
    for (;;) {
        if (s->steps >= s->max_steps || s->states >= s->max_states) {
            return SIM_CHECK_OK;
        }
        int moved = 0;
        if (entered) {
            uint32_t forced;
            enum lin_offer offer = lin_offer(s, state, &forced);
            if (offer == LIN_OFFER_DONE) {
                *verdict = SIM_VERDICT_YES;
                return SIM_CHECK_OK;
            }
            if (offer == LIN_OFFER_NOMEM) {
                return SIM_CHECK_ENOMEM;
            }
            if (offer == LIN_OFFER_FORCED) {
                moved = lin_advance(s, forced, true, &state, &h1, &h2);
                if (moved < 0) {
                    return SIM_CHECK_ENOMEM;
                }
                if (moved == 0 && !lin_backtrack(s, &state, &h1, &h2)) {
                    *verdict = SIM_VERDICT_NO; /* Explored before: it failed then. */
                    return SIM_CHECK_OK;
                }
                entered = moved;
                continue;
            }
        }
        struct lin_level *level = &s->levels[s->depth];
        while (moved == 0 && level->next < level->count && s->steps < s->max_steps) {
            uint32_t call = (uint32_t)(s->choices[level->offset + level->next++] & 0x7fffffffu);
            moved = lin_advance(s, call, false, &state, &h1, &h2);
        }
        if (moved < 0) {
            return SIM_CHECK_ENOMEM;
        }
        entered = moved;
        if (moved || level->next < level->count) {
            continue; /* Moved on, or out of steps: the loop's head decides. */
        }
        lin_note_block(s, level->blocker, state);
        if (!lin_backtrack(s, &state, &h1, &h2)) {
            *verdict = SIM_VERDICT_NO;
            return SIM_CHECK_OK;
        }
    }
}

/* ---- 1. linearizability: preparing a key and explaining its verdict ----------------------- */

/* What one key's check found, for the text. */
struct lin_key_outcome
{
    enum sim_verdict verdict;
    size_t ops;
    uint64_t states;
    uint64_t steps;
    size_t op_index; /* The op to blame (NO), or SIZE_MAX. */
};

/* The ops of one key the search must place: FAIL ops and INFO reads go, and INFO writes
 * whose value nothing observes. `observed` is scratch space for at least `count` values. */
static size_t lin_select(const struct sim_op *ops,
                         const size_t *idx,
                         size_t count,
                         int64_t *observed,
                         struct lin_op *lops)
{
    size_t observed_count = 0;
    for (size_t i = 0; i < count; i++) {
        const struct sim_op *op = &ops[idx[i]];
        if (op->type == SIM_OP_READ && op->status == SIM_OP_OK) {
            observed[observed_count++] = op->value;
        } else if (op->type == SIM_OP_CAS && op->status != SIM_OP_FAIL) {
            observed[observed_count++] = op->expect;
        }
    }
    qsort(observed, observed_count, sizeof *observed, compare_i64);
    size_t n = 0;
    for (size_t i = 0; i < count; i++) {
        const struct sim_op *op = &ops[idx[i]];
        bool definite = op->status == SIM_OP_OK;
        if (op->status == SIM_OP_FAIL || (op->type == SIM_OP_READ && !definite)) {
            continue;
        }
        if (!definite && !sorted_contains(observed, observed_count, op->value)) {
            continue;
        }
        lops[n] = (struct lin_op){
            .index = idx[i],
            .type = op->type,
            .value = op->value,
            .expect = op->expect,
            .definite = definite,
            .blind = definite && op->type == SIM_OP_WRITE &&
                     !sorted_contains(observed, observed_count, op->value),
            .zobrist1 = mix64(2 * (uint64_t)n),
            .zobrist2 = mix64(2 * (uint64_t)n + 1),
        };
        n++;
    }
    return n;
}

/* A read, or a successful CAS, that depends on a value no write of the key could ever
 * have produced: no search needed. Returns the position in lops, or SIZE_MAX. */
static size_t lin_find_unwritten(const struct lin_op *lops, size_t n, int64_t *produced)
{
    size_t produced_count = 0;
    produced[produced_count++] = 0;
    for (size_t i = 0; i < n; i++) {
        if (lops[i].type != SIM_OP_READ) {
            produced[produced_count++] = lops[i].value;
        }
    }
    qsort(produced, produced_count, sizeof *produced, compare_i64);
    for (size_t i = 0; i < n; i++) {
        const struct lin_op *op = &lops[i];
        if (!op->definite) {
            continue;
        }
        if (op->type == SIM_OP_READ && !sorted_contains(produced, produced_count, op->value)) {
            return i;
        }
        if (op->type == SIM_OP_CAS && !sorted_contains(produced, produced_count, op->expect)) {
            return i;
        }
    }
    return SIZE_MAX;
}

#define LIN_CONCURRENT_MAX 6 /* Ops quoted in an explanation, per list. */
#define LIN_WRITERS_MAX 2

static bool ops_overlap(const struct sim_op *a, const struct sim_op *b)
{
    double a_end = op_completed(a) ? a->complete_s : INFINITY;
    double b_end = op_completed(b) ? b->complete_s : INFINITY;
    return a->invoke_s <= b_end && b->invoke_s <= a_end;
}

/* The ops concurrent with the blamed one, definite ones first (INFO ops, whose
 * completion is +infinity, overlap everything after them). */
static void lin_explain_concurrent(const struct lin_search *s,
                                   const struct sim_op *blamed,
                                   struct sim_check_text *text)
{
    char buf[SIM_CHECK_LINE_LEN];
    size_t concurrent = 0;
    for (size_t i = 0; i < s->n; i++) {
        const struct sim_op *op = &s->ops[s->lops[i].index];
        concurrent += op != blamed && ops_overlap(op, blamed);
    }
    text_add(text, "ops concurrent with it: %zu%s", concurrent, concurrent > 0 ? ":" : "");
    size_t shown = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < s->n && shown < LIN_CONCURRENT_MAX; i++) {
            const struct sim_op *op = &s->ops[s->lops[i].index];
            if (op != blamed && ops_overlap(op, blamed) && s->lops[i].definite == (pass == 0)) {
                op_describe(buf, sizeof buf, s->ops, s->lops[i].index);
                text_add(text, "  %s", buf);
                shown++;
            }
        }
    }
    if (concurrent > shown) {
        text_add(text, "  ... and %zu more", concurrent - shown);
    }
}

/* For a read or CAS: who wrote the value it needed, which shows a stale read at once. */
static void lin_explain_writers(const struct lin_search *s,
                                const struct lin_op *blamed,
                                struct sim_check_text *text)
{
    char buf[SIM_CHECK_LINE_LEN];
    if (blamed->type == SIM_OP_WRITE) {
        return;
    }
    int64_t needed = blamed->type == SIM_OP_READ ? blamed->value : blamed->expect;
    size_t writers = 0;
    for (size_t i = 0; i < s->n; i++) {
        writers += s->lops[i].type != SIM_OP_READ && s->lops[i].value == needed;
    }
    text_add(text, "value %lld is written by %zu op(s)%s", (long long)needed, writers,
             needed == 0   ? " and is the initial value"
             : writers > 0 ? ":"
                           : "");
    size_t shown = 0;
    for (size_t i = 0; i < s->n && shown < LIN_WRITERS_MAX; i++) {
        if (s->lops[i].type != SIM_OP_READ && s->lops[i].value == needed) {
            op_describe(buf, sizeof buf, s->ops, s->lops[i].index);
            text_add(text, "  %s", buf);
            shown++;
        }
    }
    if (writers > shown) {
        text_add(text, "  ... and %zu more", writers - shown);
    }
}

static void lin_explain(const struct lin_search *s, uint32_t key, struct sim_check_text *text)
{
    char buf[SIM_CHECK_LINE_LEN];
    const struct lin_op *blamed = &s->lops[s->best_op];
    text_add(text, "key %u: not linearizable (%zu ops, %llu states explored)", key, s->n,
             (unsigned long long)s->states);
    op_describe(buf, sizeof buf, s->ops, blamed->index);
    text_add(text, "cannot linearize %s", buf);
    text_add(text, "register value then %lld, after %zu of %zu ops linearized%s",
             (long long)s->best_state, s->best_depth, s->n,
             s->best_last_count > 0 ? "; the last ones:" : "");
    for (size_t i = 0; i < s->best_last_count; i++) {
        op_describe(buf, sizeof buf, s->ops, s->lops[s->best_last[i]].index);
        text_add(text, "  %s", buf);
    }
    lin_explain_writers(s, blamed, text);
    lin_explain_concurrent(s, &s->ops[blamed->index], text);
}

static void lin_explain_unwritten(const struct sim_op *ops,
                                  size_t index,
                                  uint32_t key,
                                  struct sim_check_text *text)
{
    char buf[SIM_CHECK_LINE_LEN];
    const char *what = ops[index].type == SIM_OP_READ ? "reads" : "expects";
    text_add(text, "key %u: not linearizable: an op %s a value no write of the key produced", key,
             what);
    op_describe(buf, sizeof buf, ops, index);
    text_add(text, "cannot linearize %s", buf);
}

/* Who observes a value, and by when: an OK read returning it, or a definite CAS expecting
 * it, at its completion. */
struct lin_observer
{
    int64_t value;
    double by_s;
};

static int compare_observer(const void *a, const void *b)
{
    const struct lin_observer *x = a;
    const struct lin_observer *y = b;
    if (x->value != y->value) {
        return x->value < y->value ? -1 : 1;
    }
    return (x->by_s > y->by_s) - (x->by_s < y->by_s);
}

struct lin_deadline
{
    double by_s;
    uint32_t op;
};

static int compare_deadline(const void *a, const void *b)
{
    const struct lin_deadline *x = a;
    const struct lin_deadline *y = b;
    if (x->by_s != y->by_s) {
        return x->by_s < y->by_s ? -1 : 1;
    }
    return (x->op > y->op) - (x->op < y->op);
}

/* The first observer of `value` completing after `after_s`, or +inf. */
static double lin_first_observer(const struct lin_observer *obs,
                                 size_t count,
                                 int64_t value,
                                 double after_s)
{
    size_t lo = 0;
    size_t hi = count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (obs[mid].value < value || (obs[mid].value == value && obs[mid].by_s <= after_s)) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo < count && obs[lo].value == value ? obs[lo].by_s : INFINITY;
}

/* A guess at when each op must have taken effect, to try the likeliest ops first: its own
 * completion, or for a write the completion of the first op observing its value after
 * its invocation if earlier. Only the speed of the search depends on it. */
static int lin_rank_urgency(struct lin_search *s)
{
    struct lin_observer *obs = malloc((s->n + 1) * sizeof *obs);
    struct lin_deadline *by = malloc((s->n + 1) * sizeof *by);
    if (obs == NULL || by == NULL) {
        free(obs);
        free(by);
        return SIM_CHECK_ENOMEM;
    }
    size_t count = 0;
    for (size_t i = 0; i < s->n; i++) {
        const struct lin_op *op = &s->lops[i];
        const struct sim_op *rec = &s->ops[op->index];
        if (op->definite && op->type == SIM_OP_READ) {
            obs[count++] = (struct lin_observer){op->value, rec->complete_s};
        } else if (op->definite && op->type == SIM_OP_CAS) {
            obs[count++] = (struct lin_observer){op->expect, rec->complete_s};
        }
    }
    qsort(obs, count, sizeof *obs, compare_observer);
    for (size_t i = 0; i < s->n; i++) {
        const struct lin_op *op = &s->lops[i];
        const struct sim_op *rec = &s->ops[op->index];
        double by_s = op->definite ? rec->complete_s : INFINITY;
        if (op->type != SIM_OP_READ) {
            double seen_s = lin_first_observer(obs, count, op->value, rec->invoke_s);
            by_s = seen_s < by_s ? seen_s : by_s;
        }
        by[i] = (struct lin_deadline){by_s, (uint32_t)i};
    }
    qsort(by, s->n, sizeof *by, compare_deadline);
    for (size_t i = 0; i < s->n; i++) {
        s->lops[by[i].op].urgency = (uint32_t)i;
    }
    free(obs);
    free(by);
    return SIM_CHECK_OK;
}

static int lin_search_init(struct lin_search *s,
                           const struct sim_op *ops,
                           struct lin_op *lops,
                           size_t n,
                           const struct sim_lin_options *options)
{
    memset(s, 0, sizeof *s);
    s->ops = ops;
    s->lops = lops;
    s->n = n;
    s->max_states =
        options && options->max_states ? options->max_states : SIM_LIN_MAX_STATES_DEFAULT;
    s->max_steps = options && options->max_steps ? options->max_steps : SIM_LIN_MAX_STEPS_DEFAULT;
    s->stack = malloc((n + 1) * sizeof *s->stack);
    s->levels = malloc((n + 1) * sizeof *s->levels);
    if (s->stack == NULL || s->levels == NULL || memo_init(&s->memo, 1024) != SIM_CHECK_OK) {
        return SIM_CHECK_ENOMEM;
    }
    int rc = lin_build_list(s);
    return rc == SIM_CHECK_OK ? lin_rank_urgency(s) : rc;
}

/* Checks the ops ops[idx[0..count)] of one key. Takes ownership of nothing. */
static int lin_check_key(const struct sim_op *ops,
                         const size_t *idx,
                         size_t count,
                         uint32_t key,
                         const struct sim_lin_options *options,
                         struct lin_key_outcome *outcome,
                         struct sim_check_text *detail)
{
    *outcome = (struct lin_key_outcome){SIM_VERDICT_UNKNOWN, 0, 0, 0, SIZE_MAX};
    struct lin_op *lops = malloc((count + 1) * sizeof *lops);
    int64_t *values = malloc((count + 2) * sizeof *values);
    if (lops == NULL || values == NULL) {
        free(lops);
        free(values);
        return SIM_CHECK_ENOMEM;
    }
    size_t n = lin_select(ops, idx, count, values, lops);
    outcome->ops = n;
    if (n >= LIN_OPS_MAX) {
        free(lops);
        free(values);
        text_add(detail, "key %u: unknown: %zu ops, more than one search can number", key, n);
        return SIM_CHECK_OK;
    }
    size_t unwritten = lin_find_unwritten(lops, n, values);
    free(values);
    if (unwritten != SIZE_MAX) {
        outcome->verdict = SIM_VERDICT_NO;
        outcome->op_index = lops[unwritten].index;
        lin_explain_unwritten(ops, outcome->op_index, key, detail);
        free(lops);
        return SIM_CHECK_OK;
    }
    struct lin_search s;
    int rc = lin_search_init(&s, ops, lops, n, options);
    if (rc == SIM_CHECK_OK) {
        rc = lin_run(&s, &outcome->verdict);
    }
    outcome->states = s.states;
    outcome->steps = s.steps;
    if (rc == SIM_CHECK_OK && outcome->verdict == SIM_VERDICT_NO) {
        /* A search can only fail after a dead end: the memo holds nothing else. */
        outcome->op_index = s.blocked ? s.lops[s.best_op].index : SIZE_MAX;
        if (s.blocked) {
            lin_explain(&s, key, detail);
        } else {
            text_add(detail, "key %u: not linearizable", key);
        }
    }
    if (rc == SIM_CHECK_OK && outcome->verdict == SIM_VERDICT_UNKNOWN) {
        text_add(detail,
                 "key %u: unknown: search budget exhausted (%llu states, %llu steps; at most %zu "
                 "of %zu ops linearized)",
                 key, (unsigned long long)s.states, (unsigned long long)s.steps, s.max_depth, n);
    }
    s.lops = lops;
    lin_search_free(&s);
    return rc;
}

/* The register ops of the history, by key, then by position in the history. */
struct key_index
{
    uint32_t key;
    size_t index;
};

static int compare_key_index(const void *a, const void *b)
{
    const struct key_index *x = a;
    const struct key_index *y = b;
    if (x->key != y->key) {
        return x->key < y->key ? -1 : 1;
    }
    return (x->index > y->index) - (x->index < y->index);
}

static bool op_is_register(const struct sim_op *op)
{
    return op->type == SIM_OP_READ || op->type == SIM_OP_WRITE || op->type == SIM_OP_CAS;
}

/* Sorted register ops in *out (caller frees); SIZE_MAX in *bad names a malformed op. */
static int lin_group_by_key(const struct sim_op *ops,
                            size_t op_count,
                            struct key_index **out,
                            size_t *count,
                            size_t *bad)
{
    *bad = SIZE_MAX;
    *count = 0;
    *out = malloc((op_count + 1) * sizeof **out);
    if (*out == NULL) {
        return SIM_CHECK_ENOMEM;
    }
    for (size_t i = 0; i < op_count; i++) {
        if (!op_is_register(&ops[i])) {
            continue;
        }
        if (!op_times_valid(&ops[i])) {
            *bad = i;
            return SIM_CHECK_EINVAL;
        }
        (*out)[(*count)++] = (struct key_index){ops[i].key, i};
    }
    qsort(*out, *count, sizeof **out, compare_key_index);
    return SIM_CHECK_OK;
}

/* Folds one key's outcome into the result: the first violation is explained in full
 * (`detail`), every other non-yes key gets a line in `others`. */
static void lin_record(struct sim_lin_result *result,
                       uint32_t key,
                       const struct lin_key_outcome *outcome,
                       struct sim_check_text *detail,
                       struct sim_check_text *others,
                       struct sim_check_text *key_text)
{
    result->keys++;
    result->ops += outcome->ops;
    result->states += outcome->states;
    result->steps += outcome->steps;
    if (outcome->verdict == SIM_VERDICT_NO) {
        if (result->keys_violated++ == 0) {
            result->key = key;
            result->op_index = outcome->op_index;
            text_append(detail, key_text);
        } else if (key_text->count > 0) {
            text_add(others, "%s", key_text->line[0]);
        }
    } else if (outcome->verdict == SIM_VERDICT_UNKNOWN) {
        if (result->keys_unknown++ == 0 && result->keys_violated == 0) {
            result->key = key;
        }
        if (key_text->count > 0) {
            text_add(others, "%s", key_text->line[0]);
        }
    }
}

int sim_check_linearizable(const struct sim_op *ops,
                           size_t op_count,
                           const struct sim_lin_options *options,
                           struct sim_lin_result *result)
{
    memset(result, 0, sizeof *result);
    result->verdict = SIM_VERDICT_UNKNOWN;
    result->op_index = SIZE_MAX;
    text_clear(&result->text);
    struct key_index *byk;
    size_t count;
    size_t bad;
    int rc = lin_group_by_key(ops, op_count, &byk, &count, &bad);
    if (rc != SIM_CHECK_OK) {
        char buf[SIM_CHECK_LINE_LEN];
        if (rc == SIM_CHECK_EINVAL) {
            op_describe(buf, sizeof buf, ops, bad);
            text_add(&result->text, "malformed op (bad times): %s", buf);
        } else {
            text_add(&result->text, "out of memory");
        }
        free(byk);
        return rc;
    }
    size_t *idx = malloc((count + 1) * sizeof *idx);
    struct sim_check_text *texts = malloc(3 * sizeof *texts);
    if (idx == NULL || texts == NULL) {
        free(byk);
        free(idx);
        free(texts);
        text_add(&result->text, "out of memory");
        return SIM_CHECK_ENOMEM;
    }
    struct sim_check_text *detail = &texts[0];
    struct sim_check_text *others = &texts[1];
    struct sim_check_text *key_text = &texts[2];
    text_clear(detail);
    text_clear(others);
    for (size_t start = 0; start < count && rc == SIM_CHECK_OK;) {
        size_t end = start;
        while (end < count && byk[end].key == byk[start].key) {
            idx[end - start] = byk[end].index;
            end++;
        }
        struct lin_key_outcome outcome;
        text_clear(key_text);
        rc = lin_check_key(ops, idx, end - start, byk[start].key, options, &outcome, key_text);
        if (rc == SIM_CHECK_OK) {
            lin_record(result, byk[start].key, &outcome, detail, others, key_text);
        } else {
            text_add(others, "key %u: out of memory during the search", byk[start].key);
        }
        start = end;
    }
    if (rc == SIM_CHECK_OK) {
        result->verdict = result->keys_violated  ? SIM_VERDICT_NO
                          : result->keys_unknown ? SIM_VERDICT_UNKNOWN
                                                 : SIM_VERDICT_YES;
    }
    text_append(&result->text, detail);
    text_append(&result->text, others);
    free(byk);
    free(idx);
    free(texts);
    return rc;
}

/* ---- 2. election safety ------------------------------------------------------------------ */

void sim_election_init(struct sim_election *election)
{
    memset(election, 0, sizeof *election);
}

void sim_election_close(struct sim_election *election)
{
    free(election->leaderships);
    memset(election, 0, sizeof *election);
}

int sim_election_observe(struct sim_election *election,
                         double at_s,
                         uint32_t node,
                         int64_t epoch,
                         enum sim_role role)
{
    if (role != SIM_ROLE_LEADING) {
        return SIM_CHECK_OK;
    }
    for (size_t i = election->count; i > 0; i--) {
        const struct sim_leadership *l = &election->leaderships[i - 1];
        if (l->epoch == epoch && l->node == node) {
            return SIM_CHECK_OK; /* Established again: nothing new. */
        }
    }
    if (election->count == election->capacity) {
        size_t capacity = election->capacity ? election->capacity * 2 : 16;
        struct sim_leadership *grown =
            realloc(election->leaderships, capacity * sizeof *election->leaderships);
        if (grown == NULL) {
            return SIM_CHECK_ENOMEM;
        }
        election->leaderships = grown;
        election->capacity = capacity;
    }
    election->leaderships[election->count++] = (struct sim_leadership){epoch, node, at_s};
    if (election->last_leader != 0 && election->last_leader != node) {
        election->leader_changes++;
    }
    election->last_leader = node;
    return SIM_CHECK_OK;
}

static int compare_leadership(const void *a, const void *b)
{
    const struct sim_leadership *x = a;
    const struct sim_leadership *y = b;
    if (x->epoch != y->epoch) {
        return x->epoch < y->epoch ? -1 : 1;
    }
    if (x->at_s != y->at_s) {
        return x->at_s < y->at_s ? -1 : 1;
    }
    return (x->node > y->node) - (x->node < y->node);
}

/* "epoch 7: 2 leaders: node 1 at 3.000000 s, node 3 at 4.500000 s". */
static void election_describe_epoch(const struct sim_leadership *l,
                                    size_t count,
                                    struct sim_check_text *text)
{
    char buf[SIM_CHECK_LINE_LEN];
    int used = snprintf(buf, sizeof buf, "epoch %lld: %zu leaders:", (long long)l[0].epoch, count);
    for (size_t i = 0; i < count && used > 0 && (size_t)used < sizeof buf; i++) {
        used += snprintf(buf + used, sizeof buf - (size_t)used, "%s node %u at %.6f s",
                         i ? "," : "", l[i].node, l[i].at_s);
    }
    text_add(text, "%s", buf);
}

int sim_election_summarize(const struct sim_election *election,
                           struct sim_election_figures *figures)
{
    memset(figures, 0, sizeof *figures);
    text_clear(&figures->text);
    figures->leaderships = election->count;
    figures->leader_changes = election->leader_changes;
    if (election->count == 0) {
        return SIM_CHECK_OK;
    }
    struct sim_leadership *sorted = malloc(election->count * sizeof *sorted);
    if (sorted == NULL) {
        text_add(&figures->text, "out of memory");
        return SIM_CHECK_ENOMEM;
    }
    memcpy(sorted, election->leaderships, election->count * sizeof *sorted);
    qsort(sorted, election->count, sizeof *sorted, compare_leadership);
    for (size_t start = 0; start < election->count;) {
        size_t end = start;
        while (end < election->count && sorted[end].epoch == sorted[start].epoch) {
            end++;
        }
        figures->epochs++;
        if (end - start > figures->max_leaders_per_epoch) {
            figures->max_leaders_per_epoch = end - start;
            figures->worst_epoch = sorted[start].epoch;
        }
        if (end - start > 1) {
            election_describe_epoch(&sorted[start], end - start, &figures->text);
        }
        start = end;
    }
    free(sorted);
    return SIM_CHECK_OK;
}

/* ---- 3. write availability ------------------------------------------------------------- */

struct avail_write
{
    double invoke_s;
    double end_s; /* Until when it is outstanding: +inf for INFO/PENDING. */
};

static int compare_avail_write(const void *a, const void *b)
{
    const struct avail_write *x = a;
    const struct avail_write *y = b;
    if (x->invoke_s != y->invoke_s) {
        return x->invoke_s < y->invoke_s ? -1 : 1;
    }
    return (x->end_s > y->end_s) - (x->end_s < y->end_s);
}

/* The writes (sorted by invocation), the OK completions (sorted), and the run's end. */
struct avail_input
{
    struct avail_write *writes;
    size_t write_count;
    double *oks;
    size_t ok_count;
    double *max_end; /* max_end[i]: the latest end among writes[0..i]. */
    double run_end_s;
};

/* The first index whose invocation is after t (writes[0..result) are invoked at or
 * before t). */
static size_t avail_invoked_by(const struct avail_input *in, double t)
{
    size_t lo = 0;
    size_t hi = in->write_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (in->writes[mid].invoke_s <= t) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

/* When, within the piece (a, b), writes start being outstanding; false if never. */
static bool avail_demand_start(const struct avail_input *in, double a, double b, double *start)
{
    size_t by_a = isinf(a) ? 0 : avail_invoked_by(in, a);
    if (by_a > 0 && in->max_end[by_a - 1] > a) {
        *start = a; /* Outstanding across the last acknowledgement. */
        return true;
    }
    if (by_a < in->write_count && in->writes[by_a].invoke_s < b) {
        *start = in->writes[by_a].invoke_s;
        return true;
    }
    return false;
}

static int avail_collect(const struct sim_op *ops,
                         size_t op_count,
                         double end_s,
                         struct avail_input *in,
                         struct sim_availability *out)
{
    memset(in, 0, sizeof *in);
    in->writes = malloc((op_count + 1) * sizeof *in->writes);
    in->oks = malloc((op_count + 1) * sizeof *in->oks);
    in->max_end = malloc((op_count + 1) * sizeof *in->max_end);
    if (!in->writes || !in->oks || !in->max_end) {
        return SIM_CHECK_ENOMEM;
    }
    in->run_end_s = isfinite(end_s) ? end_s : -INFINITY;
    for (size_t i = 0; i < op_count; i++) {
        const struct sim_op *op = &ops[i];
        if (!op_is_write(op)) {
            continue;
        }
        if (!op_times_valid(op)) {
            return SIM_CHECK_EINVAL;
        }
        double end = op_completed(op) ? op->complete_s : INFINITY;
        in->writes[in->write_count++] = (struct avail_write){op->invoke_s, end};
        in->run_end_s = max_double(in->run_end_s, op_completed(op) ? op->complete_s : op->invoke_s);
        if (op->status == SIM_OP_OK) {
            in->oks[in->ok_count++] = op->complete_s;
        }
    }
    out->writes_attempted = in->write_count;
    out->writes_ok = in->ok_count;
    qsort(in->writes, in->write_count, sizeof *in->writes, compare_avail_write);
    qsort(in->oks, in->ok_count, sizeof *in->oks, compare_double);
    for (size_t i = 0; i < in->write_count; i++) {
        double e = in->writes[i].end_s;
        in->max_end[i] = i > 0 && in->max_end[i - 1] > e ? in->max_end[i - 1] : e;
    }
    return SIM_CHECK_OK;
}

static void avail_free_input(struct avail_input *in)
{
    free(in->writes);
    free(in->oks);
    free(in->max_end);
}

int sim_check_availability(const struct sim_op *ops,
                           size_t op_count,
                           double end_s,
                           double threshold_s,
                           struct sim_availability *availability)
{
    memset(availability, 0, sizeof *availability);
    struct avail_input in;
    int rc = avail_collect(ops, op_count, end_s, &in, availability);
    if (rc == SIM_CHECK_OK && in.write_count > 0) {
        availability->windows = malloc((in.ok_count + 1) * sizeof *availability->windows);
        if (availability->windows == NULL) {
            rc = SIM_CHECK_ENOMEM;
        }
    }
    for (size_t k = 0; rc == SIM_CHECK_OK && in.write_count > 0 && k <= in.ok_count; k++) {
        double a = k == 0 ? -INFINITY : in.oks[k - 1];
        double b = k == in.ok_count ? in.run_end_s : in.oks[k];
        double start;
        if (!(b > a) || !avail_demand_start(&in, a, b, &start) || !(b > start)) {
            continue;
        }
        struct sim_interval window = {start, b};
        if (b - start > availability->longest_s) {
            availability->longest_s = b - start;
            availability->longest = window;
        }
        availability->unavailable_at_end = k == in.ok_count;
        if (b - start >= threshold_s) {
            availability->windows[availability->window_count++] = window;
        }
    }
    avail_free_input(&in);
    if (rc != SIM_CHECK_OK) {
        sim_availability_free(availability);
    }
    return rc;
}

void sim_availability_free(struct sim_availability *availability)
{
    free(availability->windows);
    availability->windows = NULL;
    availability->window_count = 0;
}

/* ---- 4. lost acknowledged writes ------------------------------------------------------- */

/* The possible final values of one key, from its writes ops[idx[0..count)]. `last_ok`
 * gets the acknowledged write that completed last (SIZE_MAX if none), for the text. */
static bool final_possible(const struct sim_op *ops,
                           const struct key_index *writes,
                           size_t count,
                           int64_t value,
                           size_t *last_ok)
{
    double latest_ok_invoke_s = -INFINITY;
    *last_ok = SIZE_MAX;
    for (size_t i = 0; i < count; i++) {
        const struct sim_op *op = &ops[writes[i].index];
        if (op->status != SIM_OP_OK) {
            continue;
        }
        latest_ok_invoke_s = max_double(latest_ok_invoke_s, op->invoke_s);
        if (*last_ok == SIZE_MAX || op->complete_s > ops[*last_ok].complete_s) {
            *last_ok = writes[i].index;
        }
    }
    if (*last_ok == SIZE_MAX && value == 0) {
        return true;
    }
    for (size_t i = 0; i < count; i++) {
        const struct sim_op *op = &ops[writes[i].index];
        if (op->value != value) {
            continue;
        }
        if (op->status == SIM_OP_INFO || op->status == SIM_OP_PENDING) {
            return true;
        }
        if (op->status == SIM_OP_OK && op->complete_s >= latest_ok_invoke_s) {
            return true; /* No acknowledged write strictly follows it. */
        }
    }
    return false;
}

static int compare_final_read(const void *a, const void *b)
{
    const struct sim_final_read *x = a;
    const struct sim_final_read *y = b;
    if (x->key != y->key) {
        return x->key < y->key ? -1 : 1;
    }
    return (x->server > y->server) - (x->server < y->server);
}

/* The writes of `key` within the sorted array: [*first, return). */
static size_t final_key_range(const struct key_index *writes,
                              size_t count,
                              uint32_t key,
                              size_t *first)
{
    size_t lo = 0;
    size_t hi = count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (writes[mid].key < key) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    *first = lo;
    size_t end = lo;
    while (end < count && writes[end].key == key) {
        end++;
    }
    return end;
}

static void final_explain_lost(const struct sim_op *ops,
                               const struct sim_final_read *read,
                               size_t last_ok,
                               struct sim_check_text *text)
{
    char buf[SIM_CHECK_LINE_LEN];
    if (last_ok == SIZE_MAX) {
        snprintf(buf, sizeof buf, "0 (no acknowledged write)");
    } else {
        op_describe(buf, sizeof buf, ops, last_ok);
    }
    text_add(text, "key %u server %u: final value %lld is not possible; last acknowledged: %s",
             read->key, read->server, (long long)read->value, buf);
}

static void final_explain_diverged(const struct sim_final_read *reads,
                                   size_t count,
                                   struct sim_check_text *text)
{
    char buf[SIM_CHECK_LINE_LEN];
    int used = snprintf(buf, sizeof buf, "key %u: servers disagree:", reads[0].key);
    for (size_t i = 0; i < count && used > 0 && (size_t)used < sizeof buf; i++) {
        used += snprintf(buf + used, sizeof buf - (size_t)used, " s%u=%lld", reads[i].server,
                         (long long)reads[i].value);
    }
    text_add(text, "%s", buf);
}

static int final_writes_by_key(const struct sim_op *ops,
                               size_t op_count,
                               struct key_index **out,
                               size_t *count)
{
    *count = 0;
    *out = malloc((op_count + 1) * sizeof **out);
    if (*out == NULL) {
        return SIM_CHECK_ENOMEM;
    }
    for (size_t i = 0; i < op_count; i++) {
        if (op_is_write(&ops[i]) && ops[i].status != SIM_OP_FAIL) {
            if (!op_times_valid(&ops[i])) {
                return SIM_CHECK_EINVAL;
            }
            (*out)[(*count)++] = (struct key_index){ops[i].key, i};
        }
    }
    qsort(*out, *count, sizeof **out, compare_key_index);
    return SIM_CHECK_OK;
}

int sim_check_final(const struct sim_op *ops,
                    size_t op_count,
                    const struct sim_final_read *reads,
                    size_t read_count,
                    struct sim_final_result *result)
{
    memset(result, 0, sizeof *result);
    text_clear(&result->text);
    struct key_index *writes;
    size_t write_count;
    struct sim_final_read *sorted = malloc((read_count + 1) * sizeof *sorted);
    int rc = final_writes_by_key(ops, op_count, &writes, &write_count);
    if (rc != SIM_CHECK_OK || sorted == NULL) {
        text_add(&result->text,
                 rc == SIM_CHECK_EINVAL ? "malformed op (bad times)" : "out of memory");
        free(writes);
        free(sorted);
        return rc != SIM_CHECK_OK ? rc : SIM_CHECK_ENOMEM;
    }
    if (read_count > 0) {
        memcpy(sorted, reads, read_count * sizeof *sorted);
    }
    qsort(sorted, read_count, sizeof *sorted, compare_final_read);
    for (size_t start = 0; start < read_count;) {
        size_t end = start;
        bool differ = false;
        while (end < read_count && sorted[end].key == sorted[start].key) {
            differ = differ || sorted[end].value != sorted[start].value;
            end++;
        }
        size_t first;
        size_t last = final_key_range(writes, write_count, sorted[start].key, &first);
        for (size_t i = start; i < end; i++) {
            size_t last_ok;
            result->reads++;
            if (!final_possible(ops, &writes[first], last - first, sorted[i].value, &last_ok)) {
                result->lost++;
                final_explain_lost(ops, &sorted[i], last_ok, &result->text);
            }
        }
        if (differ) {
            result->diverged++;
            final_explain_diverged(&sorted[start], end - start, &result->text);
        }
        start = end;
    }
    free(writes);
    free(sorted);
    return SIM_CHECK_OK;
}

/* ---- 5. figures -------------------------------------------------------------------------- */

/* Nearest rank: the smallest latency with at least p% of the others at or below it. */
static double percentile(const double *sorted, size_t count, unsigned p)
{
    if (count == 0) {
        return 0;
    }
    size_t rank = (p * count + 99) / 100;
    return sorted[rank > 0 ? rank - 1 : 0];
}

static void figures_latency(struct sim_op_figures *f, double *latencies, size_t count)
{
    qsort(latencies, count, sizeof *latencies, compare_double);
    f->latency_p50_s = percentile(latencies, count, 50);
    f->latency_p99_s = percentile(latencies, count, 99);
    f->latency_max_s = count ? latencies[count - 1] : 0;
}

static enum sim_op_type figures_type(const struct sim_op *op)
{
    return op->type >= SIM_OP_READ && op->type <= SIM_OP_OTHER ? op->type : SIM_OP_OTHER;
}

static void figures_count(struct sim_op_figures *f, enum sim_op_status status)
{
    switch (status) {
        case SIM_OP_OK:
            f->ok++;
            break;
        case SIM_OP_FAIL:
            f->fail++;
            break;
        case SIM_OP_INFO:
            f->info++;
            break;
        default:
            f->pending++;
            break;
    }
}

int sim_check_figures(const struct sim_op *ops, size_t op_count, struct sim_figures *figures)
{
    memset(figures, 0, sizeof *figures);
    double *latencies = malloc((op_count + 1) * sizeof *latencies);
    if (latencies == NULL) {
        return SIM_CHECK_ENOMEM;
    }
    for (size_t i = 0; i < op_count; i++) {
        figures_count(&figures->by_type[figures_type(&ops[i])], ops[i].status);
        figures_count(&figures->all, ops[i].status);
    }
    for (int type = SIM_OP_READ; type <= SIM_OP_OTHER; type++) {
        size_t count = 0;
        for (size_t i = 0; i < op_count; i++) {
            if ((int)figures_type(&ops[i]) == type && ops[i].status == SIM_OP_OK) {
                latencies[count++] = ops[i].complete_s - ops[i].invoke_s;
            }
        }
        figures_latency(&figures->by_type[type], latencies, count);
    }
    size_t count = 0;
    for (size_t i = 0; i < op_count; i++) {
        if (ops[i].status == SIM_OP_OK) {
            latencies[count++] = ops[i].complete_s - ops[i].invoke_s;
        }
    }
    figures_latency(&figures->all, latencies, count);
    free(latencies);
    return SIM_CHECK_OK;
}
