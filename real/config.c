/* coordd's configuration reader: java.util.Properties syntax, then
 * ZooKeeper 3.8's QuorumPeerConfig rules (see config.h for the keys and for
 * where we depart from ZooKeeper). Facts from ZooKeeper's QuorumPeerConfig,
 * QuorumPeer.QuorumServer, QuorumMaj, FourLetterCommands and
 * ZooKeeperServer.dumpConf; the code is our own. */
#define _POSIX_C_SOURCE 200809L
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define CONFIG_DEFAULT_TICK_MS 3000 /* ZooKeeperServer.DEFAULT_TICK_TIME in 3.8 */
#define CONFIG_JUTE_MAXBUFFER_DEFAULT 0xfffff
#define CONFIG_SNAP_COUNT_DEFAULT 100000
#define CONFIG_SNAP_COUNT_MIN 2          /* ZooKeeper resets smaller values to 2. */
#define CONFIG_SNAP_RETAIN_MIN 3         /* ZooKeeper resets smaller values to 3. */
#define CONFIG_PREALLOC_KB_DEFAULT 65536 /* 64 MiB, FilePadding's default. */
#define CONFIG_MYID_MAX_BYTES 4096

/* ---- the command words (FourLetterCommands) -------------------------------------------- */

static const char *const config_4lw_words[] = {
    "conf", "cons", "crst", "dirs", "dump", "envi", "gtmk", "ruok", "stmk",
    "srst", "srvr", "stat", "wchc", "wchp", "wchs", "mntr", "isro", "hash",
};
#define CONFIG_4LW_COUNT (sizeof config_4lw_words / sizeof config_4lw_words[0])
_Static_assert(CONFIG_4LW_COUNT <= 32, "fourlw_mask has 32 bits");

int real_config_4lw_index(const char *word)
{
    if (word == NULL) {
        return -1;
    }
    for (size_t i = 0; i < CONFIG_4LW_COUNT; i++) {
        if (strcmp(word, config_4lw_words[i]) == 0) {
            return (int)i;
        }
    }
    return -1;
}

bool real_config_4lw_enabled(const struct real_config *cfg, const char *word)
{
    int bit = real_config_4lw_index(word);
    if (bit < 0) {
        return false;
    }
    if (strcmp(word, "srvr") == 0 || cfg->fourlw_all) {
        return true;
    }
    return (cfg->fourlw_mask >> bit & 1u) != 0;
}

/* ---- the Properties text ------------------------------------------------------------------ */

struct config_entry
{
    char *key;
    char *value;
    int line;
    size_t order;
    bool overridden; /* A later line sets the same key. */
};

struct config_props
{
    struct config_entry *v;
    size_t count;
    size_t cap;
};

struct config_sbuf
{
    char *p;
    size_t len;
    size_t cap;
};

/* Everything a parse needs to report where things went wrong. */
struct config_ctx
{
    struct real_config *cfg;
    const char *name;          /* The file being read. */
    const char *servers_name;  /* The file the server lines came from. */
    struct config_props props; /* The main file's keys. */
    char *err;
    size_t err_len;
    size_t warnings_dropped;
};

static void config_sbuf_free(struct config_sbuf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

static int config_sbuf_put(struct config_sbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1) {
            cap *= 2;
        }
        char *p = realloc(b->p, cap);
        if (p == NULL) {
            return -1;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}

static void config_props_free(struct config_props *p)
{
    for (size_t i = 0; i < p->count; i++) {
        free(p->v[i].key);
        free(p->v[i].value);
    }
    free(p->v);
    memset(p, 0, sizeof *p);
}

static void config_verr(struct config_ctx *x,
                        const char *name,
                        int line,
                        const char *key,
                        const char *fmt,
                        va_list ap)
{
    if (x->err == NULL || x->err_len == 0) {
        return;
    }
    int n;
    if (line > 0 && key != NULL) {
        n = snprintf(x->err, x->err_len, "%s:%d: %s: ", name, line, key);
    } else if (line > 0) {
        n = snprintf(x->err, x->err_len, "%s:%d: ", name, line);
    } else if (key != NULL) {
        n = snprintf(x->err, x->err_len, "%s: %s: ", name, key);
    } else {
        n = snprintf(x->err, x->err_len, "%s: ", name);
    }
    if (n >= 0 && (size_t)n < x->err_len) {
        vsnprintf(x->err + n, x->err_len - (size_t)n, fmt, ap);
    }
}

/* Report an error at `line` (0 = no line) of the file `name`; returns -1. */
__attribute__((format(printf, 5, 6))) static int config_fail_in(struct config_ctx *x,
                                                                const char *name,
                                                                int line,
                                                                const char *key,
                                                                const char *fmt,
                                                                ...)
{
    va_list ap;
    va_start(ap, fmt);
    config_verr(x, name, line, key, fmt, ap);
    va_end(ap);
    return -1;
}

__attribute__((format(printf, 3, 4))) static int config_fail(struct config_ctx *x,
                                                             const struct config_entry *e,
                                                             const char *fmt,
                                                             ...)
{
    va_list ap;
    va_start(ap, fmt);
    config_verr(x, x->name, e->line, e->key, fmt, ap);
    va_end(ap);
    return -1;
}

__attribute__((format(printf, 4, 5))) static void config_warn(struct config_ctx *x,
                                                              int line,
                                                              const char *key,
                                                              const char *fmt,
                                                              ...)
{
    struct real_config *cfg = x->cfg;
    if (cfg->warning_count == REAL_CONFIG_WARNINGS_MAX) {
        x->warnings_dropped++;
        return;
    }
    char *w = cfg->warnings[cfg->warning_count++];
    int n = line > 0 ? snprintf(w, REAL_CONFIG_WARNING_LEN, "%s:%d: %s: ", x->name, line, key)
                     : snprintf(w, REAL_CONFIG_WARNING_LEN, "%s: %s: ", x->name, key);
    if (n >= 0 && n < REAL_CONFIG_WARNING_LEN) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(w + n, REAL_CONFIG_WARNING_LEN - (size_t)n, fmt, ap);
        va_end(ap);
    }
}

static void config_warnings_close(struct config_ctx *x)
{
    struct real_config *cfg = x->cfg;
    if (x->warnings_dropped > 0) {
        snprintf(cfg->warnings[REAL_CONFIG_WARNINGS_MAX - 1], REAL_CONFIG_WARNING_LEN,
                 "%s: %zu more warnings not shown", x->name, x->warnings_dropped + 1);
    }
}

/* A value as it may appear in a message: quoted, printable, cut short. */
static const char *config_quote(const char *v, char *buf, size_t n)
{
    size_t o = 0;
    buf[o++] = '"';
    for (size_t i = 0; v[i] != '\0' && o + 5 < n; i++) {
        if (i == 60) {
            memcpy(buf + o, "...", 3);
            o += 3;
            break;
        }
        unsigned char c = (unsigned char)v[i];
        buf[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    buf[o++] = '"';
    buf[o] = '\0';
    return buf;
}

static bool config_is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\f';
}

static int config_hex(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* Properties' escapes: \uXXXX (written out as UTF-8), \t \n \r \f, and \c
 * for any other c. Returns 0, -1 for a bad \u, -2 for NUL, -3 out of memory. */
static int config_unescape(const char *s, size_t n, struct config_sbuf *out)
{
    out->len = 0;
    if (config_sbuf_put(out, "", 0) != 0) {
        return -3;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        char enc[3];
        size_t enc_len = 1;
        if (c != '\\') {
            enc[0] = c;
        } else if (++i == n) {
            break; /* A lone trailing backslash: Properties drops it. */
        } else if (s[i] == 'u') {
            unsigned cp = 0;
            for (int k = 0; k < 4; k++) {
                int h = i + 1 < n ? config_hex(s[++i]) : -1;
                if (h < 0) {
                    return -1;
                }
                cp = cp << 4 | (unsigned)h;
            }
            if (cp == 0) {
                return -2;
            } else if (cp < 0x80) {
                enc[0] = (char)cp;
            } else if (cp < 0x800) {
                enc[0] = (char)(0xc0 | cp >> 6);
                enc[1] = (char)(0x80 | (cp & 0x3f));
                enc_len = 2;
            } else {
                enc[0] = (char)(0xe0 | cp >> 12);
                enc[1] = (char)(0x80 | (cp >> 6 & 0x3f));
                enc[2] = (char)(0x80 | (cp & 0x3f));
                enc_len = 3;
            }
        } else {
            char e = s[i];
            enc[0] = e == 't' ? '\t' : e == 'n' ? '\n' : e == 'r' ? '\r' : e == 'f' ? '\f' : e;
        }
        if (config_sbuf_put(out, enc, enc_len) != 0) {
            return -3;
        }
    }
    return 0;
}

/* Java's String.trim: drop characters <= ' ' at both ends, in place. */
static char *config_trim(char *s)
{
    while (*s != '\0' && (unsigned char)*s <= ' ') {
        s++;
    }
    size_t n = strlen(s);
    while (n > 0 && (unsigned char)s[n - 1] <= ' ') {
        s[--n] = '\0';
    }
    return s;
}

static int config_props_add(struct config_props *p, const char *key, const char *value, int line)
{
    if (p->count == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 32;
        struct config_entry *v = realloc(p->v, cap * sizeof *v);
        if (v == NULL) {
            return -1;
        }
        p->v = v;
        p->cap = cap;
    }
    struct config_entry *e = &p->v[p->count];
    e->key = strdup(key);
    e->value = strdup(value);
    if (e->key == NULL || e->value == NULL) {
        free(e->key);
        free(e->value);
        return -1;
    }
    e->line = line;
    e->order = p->count;
    e->overridden = false;
    p->count++;
    return 0;
}

/* Split one logical line as Properties does: the key ends at the first
 * unescaped '=', ':' or blank; then blanks, at most one '=' or ':', blanks. */
static int config_split_line(struct config_ctx *x,
                             struct config_props *p,
                             const char *s,
                             size_t n,
                             int line)
{
    size_t key_end = 0;
    size_t value_start = n;
    bool escaped = false;
    bool has_sep = false;
    for (; key_end < n; key_end++) {
        char c = s[key_end];
        if (!escaped && (c == '=' || c == ':')) {
            value_start = key_end + 1;
            has_sep = true;
            break;
        }
        if (!escaped && config_is_blank(c)) {
            value_start = key_end + 1;
            break;
        }
        escaped = c == '\\' ? !escaped : false;
    }
    while (value_start < n) {
        char c = s[value_start];
        if (!config_is_blank(c)) {
            if (has_sep || (c != '=' && c != ':')) {
                break;
            }
            has_sep = true;
        }
        value_start++;
    }
    struct config_sbuf key = {0}, value = {0};
    int rc = config_unescape(s, key_end, &key);
    if (rc == 0) {
        rc = config_unescape(s + value_start, n - value_start, &value);
    }
    if (rc == 0) {
        rc = config_props_add(p, config_trim(key.p), config_trim(value.p), line) == 0 ? 0 : -3;
    }
    config_sbuf_free(&key);
    config_sbuf_free(&value);
    if (rc == -1) {
        return config_fail_in(x, x->name, line, NULL, "malformed \\uXXXX escape");
    } else if (rc == -2) {
        return config_fail_in(x, x->name, line, NULL, "\\u0000 is not allowed");
    } else if (rc != 0) {
        return config_fail_in(x, x->name, line, NULL, "out of memory");
    }
    return 0;
}

/* The end of the natural line starting at `pos`; *next is where the following
 * one starts (after "\n", "\r" or "\r\n"). */
static size_t config_line_end(const char *text, size_t len, size_t pos, size_t *next)
{
    size_t end = pos;
    while (end < len && text[end] != '\n' && text[end] != '\r') {
        end++;
    }
    *next = end;
    if (end < len) {
        bool crlf = text[end] == '\r' && end + 1 < len && text[end + 1] == '\n';
        *next = end + (crlf ? 2 : 1);
    }
    return end;
}

/* Join continuation lines into `logical`, from the first non-blank character
 * at `pos`. Returns the position after the logical line; *line counts the
 * natural lines used. */
static size_t config_read_logical(const char *text,
                                  size_t len,
                                  size_t pos,
                                  int *line,
                                  struct config_sbuf *logical,
                                  bool *oom)
{
    logical->len = 0;
    for (;;) {
        size_t next;
        size_t end = config_line_end(text, len, pos, &next);
        size_t slashes = 0;
        while (slashes < end - pos && text[end - 1 - slashes] == '\\') {
            slashes++;
        }
        bool more = slashes % 2 == 1;
        if (config_sbuf_put(logical, text + pos, end - pos - (more ? 1 : 0)) != 0) {
            *oom = true;
        }
        if (next > end) {
            (*line)++;
        }
        pos = next;
        if (!more || pos >= len) {
            return pos;
        }
        while (pos < len && config_is_blank(text[pos])) {
            pos++; /* A continuation line's leading blanks are dropped. */
        }
    }
}

static int config_read_props(struct config_ctx *x,
                             const char *text,
                             size_t len,
                             struct config_props *p)
{
    if (memchr(text, '\0', len) != NULL) {
        const char *nul = memchr(text, '\0', len);
        int line = 1;
        for (const char *c = text; c < nul; c++) {
            line += *c == '\n';
        }
        return config_fail_in(x, x->name, line, NULL, "contains a NUL byte: not a text file");
    }
    struct config_sbuf logical = {0};
    size_t pos = 0;
    int line = 1;
    while (pos < len) {
        while (pos < len && config_is_blank(text[pos])) {
            pos++;
        }
        size_t next;
        if (pos >= len) {
            break;
        }
        if (text[pos] == '\n' || text[pos] == '\r' || text[pos] == '#' || text[pos] == '!') {
            size_t end = config_line_end(text, len, pos, &next);
            if (next > end) {
                line++;
            }
            pos = next; /* Blank or comment: comments never continue. */
            continue;
        }
        int start_line = line;
        bool oom = false;
        pos = config_read_logical(text, len, pos, &line, &logical, &oom);
        if (oom || config_split_line(x, p, logical.p, logical.len, start_line) != 0) {
            config_sbuf_free(&logical);
            return oom ? config_fail_in(x, x->name, start_line, NULL, "out of memory") : -1;
        }
    }
    config_sbuf_free(&logical);
    return 0;
}

static int config_entry_cmp(const void *a, const void *b)
{
    const struct config_entry *const *x = a;
    const struct config_entry *const *y = b;
    int c = strcmp((*x)->key, (*y)->key);
    if (c != 0) {
        return c;
    }
    return (*x)->order < (*y)->order ? -1 : (*x)->order > (*y)->order;
}

static bool config_starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Mark every key that a later line sets again, as Properties.load keeps only
 * the last. server.N lines are all kept: two lines for one server are an
 * error, found when they are read. */
static int config_mark_overridden(struct config_props *p)
{
    if (p->count < 2) {
        return 0;
    }
    struct config_entry **idx = malloc(p->count * sizeof *idx);
    if (idx == NULL) {
        return -1;
    }
    for (size_t i = 0; i < p->count; i++) {
        idx[i] = &p->v[i];
    }
    qsort(idx, p->count, sizeof *idx, config_entry_cmp);
    for (size_t i = 0; i + 1 < p->count; i++) {
        if (strcmp(idx[i]->key, idx[i + 1]->key) == 0 &&
            !config_starts_with(idx[i]->key, "server.")) {
            idx[i]->overridden = true;
        }
    }
    free(idx);
    return 0;
}

static const struct config_entry *config_find(const struct config_props *p, const char *key)
{
    for (size_t i = 0; i < p->count; i++) {
        if (!p->v[i].overridden && strcmp(p->v[i].key, key) == 0) {
            return &p->v[i];
        }
    }
    return NULL;
}

static int config_line_of(const struct config_ctx *x, const char *key)
{
    const struct config_entry *e = config_find(&x->props, key);
    return e != NULL ? e->line : 0;
}

/* ---- values -------------------------------------------------------------------------------- */

/* Integer.parseInt's syntax: optional sign, decimal digits, nothing else. */
static bool config_parse_i64(const char *s, int64_t *out)
{
    const char *p = s;
    bool neg = *p == '-';
    if (*p == '-' || *p == '+') {
        p++;
    }
    if (*p == '\0') {
        return false;
    }
    uint64_t v = 0;
    for (; *p != '\0'; p++) {
        if (*p < '0' || *p > '9') {
            return false;
        }
        uint64_t d = (uint64_t)(*p - '0');
        if (v > ((uint64_t)INT64_MAX + 1 - d) / 10) {
            return false;
        }
        v = v * 10 + d;
    }
    if (!neg && v > (uint64_t)INT64_MAX) {
        return false;
    }
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return true;
}

static int config_int64(struct config_ctx *x,
                        const struct config_entry *e,
                        int64_t min,
                        int64_t max,
                        int64_t *out)
{
    char q[80];
    int64_t v = 0;
    if (!config_parse_i64(e->value, &v)) {
        return config_fail(x, e, "%s is not a number", config_quote(e->value, q, sizeof q));
    }
    if (v < min || v > max) {
        return config_fail(x, e, "%lld is out of range (%lld..%lld)", (long long)v, (long long)min,
                           (long long)max);
    }
    *out = v;
    return 0;
}

static int config_int(struct config_ctx *x,
                      const struct config_entry *e,
                      int min,
                      int max,
                      int *out)
{
    int64_t v = 0;
    if (config_int64(x, e, min, max, &v) != 0) {
        return -1;
    }
    *out = (int)v;
    return 0;
}

/* A port number in a value of its own (clientPort, ...). */
static int config_port(struct config_ctx *x, const struct config_entry *e, uint16_t *out)
{
    int v = 0;
    if (config_int(x, e, 0, 65535, &v) != 0) {
        return -1;
    }
    *out = (uint16_t)v;
    return 0;
}

/* QuorumPeerConfig.parseBoolean: true or false, in any case. */
static int config_bool(struct config_ctx *x, const struct config_entry *e, bool *out)
{
    char q[80];
    if (strcasecmp(e->value, "true") == 0) {
        *out = true;
    } else if (strcasecmp(e->value, "false") == 0) {
        *out = false;
    } else {
        return config_fail(x, e, "%s is not true or false", config_quote(e->value, q, sizeof q));
    }
    return 0;
}

static int config_string(struct config_ctx *x, const struct config_entry *e, char *dst, size_t cap)
{
    if (e->value[0] == '\0') {
        return config_fail(x, e, "empty value");
    }
    size_t n = strlen(e->value);
    if (n >= cap) {
        return config_fail(x, e, "value is %zu bytes long; the limit is %zu", n, cap - 1);
    }
    memcpy(dst, e->value, n + 1);
    return 0;
}

/* A host: "[v6]" loses its brackets (the loop and `conf` add them back). */
static int config_host(struct config_ctx *x,
                       const struct config_entry *e,
                       const char *s,
                       size_t n,
                       char *dst)
{
    char q[80];
    if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
        s++;
        n -= 2;
    }
    if (n == 0 || n >= REAL_CONFIG_HOST_MAX) {
        return config_fail(x, e, "%s: bad host name", config_quote(e->value, q, sizeof q));
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= ' ' || c == '[' || c == ']' || c == '/' || c == ';' || c == '|') {
            return config_fail(x, e, "%s: bad host name", config_quote(e->value, q, sizeof q));
        }
    }
    memcpy(dst, s, n);
    dst[n] = '\0';
    return 0;
}

/* ---- keys ---------------------------------------------------------------------------------- */

static int key_path(struct config_ctx *x, const struct config_entry *e, char *dst)
{
    if (config_string(x, e, dst, PATH_MAX) != 0) {
        return -1;
    }
    if (dst[0] != '/') {
        config_warn(x, e->line, e->key, "relative path \"%s\" is taken from the working directory",
                    dst);
    }
    return 0;
}

static int key_data_dir(struct config_ctx *x, const struct config_entry *e)
{
    return key_path(x, e, x->cfg->data_dir);
}

static int key_data_log_dir(struct config_ctx *x, const struct config_entry *e)
{
    return key_path(x, e, x->cfg->data_log_dir);
}

static int key_client_port(struct config_ctx *x, const struct config_entry *e)
{
    return config_port(x, e, &x->cfg->client_port);
}

static int key_client_port_address(struct config_ctx *x, const struct config_entry *e)
{
    return config_host(x, e, e->value, strlen(e->value), x->cfg->client_host);
}

static int key_tick_time(struct config_ctx *x, const struct config_entry *e)
{
    /* 20 ticks (the default maxSessionTimeout) must fit in an int. */
    return config_int(x, e, 1, INT32_MAX / 20, &x->cfg->tick_ms);
}

static int key_max_client_cnxns(struct config_ctx *x, const struct config_entry *e)
{
    return config_int(x, e, 0, INT32_MAX, &x->cfg->max_client_cnxns);
}

/* -1 is how ZooKeeper spells "unset" for both session bounds. */
static int key_min_session(struct config_ctx *x, const struct config_entry *e)
{
    return config_int(x, e, -1, INT32_MAX, &x->cfg->min_session_ms);
}

static int key_max_session(struct config_ctx *x, const struct config_entry *e)
{
    return config_int(x, e, -1, INT32_MAX, &x->cfg->max_session_ms);
}

static int key_listen_backlog(struct config_ctx *x, const struct config_entry *e)
{
    return config_int(x, e, -1, INT32_MAX, &x->cfg->listen_backlog);
}

static int key_init_limit(struct config_ctx *x, const struct config_entry *e)
{
    return config_int(x, e, 0, INT32_MAX, &x->cfg->init_limit);
}

static int key_sync_limit(struct config_ctx *x, const struct config_entry *e)
{
    return config_int(x, e, 0, INT32_MAX, &x->cfg->sync_limit);
}

static int key_learner_master_limit(struct config_ctx *x, const struct config_entry *e)
{
    return config_int(x, e, 0, INT32_MAX, &x->cfg->connect_to_learner_master_limit);
}

static int key_election_alg(struct config_ctx *x, const struct config_entry *e)
{
    if (config_int(x, e, INT32_MIN, INT32_MAX, &x->cfg->election_alg) != 0) {
        return -1;
    }
    if (x->cfg->election_alg != 3) {
        return config_fail(x, e,
                           "%d is not supported: only 3 (fast leader election) is, as in "
                           "ZooKeeper 3.8",
                           x->cfg->election_alg);
    }
    return 0;
}

static int key_peer_type(struct config_ctx *x, const struct config_entry *e)
{
    char q[80];
    if (strcasecmp(e->value, "observer") == 0) {
        x->cfg->peer_observer = true;
    } else if (strcasecmp(e->value, "participant") == 0) {
        x->cfg->peer_observer = false;
    } else {
        return config_fail(x, e, "%s is not observer or participant",
                           config_quote(e->value, q, sizeof q));
    }
    return 0;
}

static int key_quorum_listen_all(struct config_ctx *x, const struct config_entry *e)
{
    return config_bool(x, e, &x->cfg->quorum_listen_on_all_ips);
}

static int key_sync_enabled(struct config_ctx *x, const struct config_entry *e)
{
    return config_bool(x, e, &x->cfg->sync_enabled);
}

static int key_standalone_enabled(struct config_ctx *x, const struct config_entry *e)
{
    return config_bool(x, e, &x->cfg->standalone_enabled);
}

static int key_reconfig_enabled(struct config_ctx *x, const struct config_entry *e)
{
    if (config_bool(x, e, &x->cfg->reconfig_enabled) != 0) {
        return -1;
    }
    if (x->cfg->reconfig_enabled) {
        config_warn(x, e->line, e->key,
                    "coordd has no dynamic reconfiguration: the membership "
                    "stays as configured");
    }
    return 0;
}

static int key_dynamic_config_file(struct config_ctx *x, const struct config_entry *e)
{
    return config_string(x, e, x->cfg->dynamic_config_file, PATH_MAX);
}

static int key_snap_retain(struct config_ctx *x, const struct config_entry *e)
{
    int *v = &x->cfg->snap_retain_count;
    if (config_int(x, e, INT32_MIN, INT32_MAX, v) != 0) {
        return -1;
    }
    if (*v < CONFIG_SNAP_RETAIN_MIN) {
        config_warn(x, e->line, e->key, "%d is below %d; using %d, as ZooKeeper does", *v,
                    CONFIG_SNAP_RETAIN_MIN, CONFIG_SNAP_RETAIN_MIN);
        *v = CONFIG_SNAP_RETAIN_MIN;
    }
    return 0;
}

static int key_purge_interval(struct config_ctx *x, const struct config_entry *e)
{
    int *v = &x->cfg->purge_interval_h;
    if (config_int(x, e, INT32_MIN, INT32_MAX, v) != 0) {
        return -1;
    }
    if (*v < 0) {
        *v = 0; /* ZooKeeper: anything <= 0 disables the purge task. */
    }
    return 0;
}

static int key_version(struct config_ctx *x, const struct config_entry *e)
{
    char q[80];
    uint64_t v = 0;
    size_t n = strlen(e->value);
    if (n == 0 || n > 16) {
        return config_fail(x, e, "%s is not a hex number", config_quote(e->value, q, sizeof q));
    }
    for (size_t i = 0; i < n; i++) {
        int h = config_hex(e->value[i]);
        if (h < 0) {
            return config_fail(x, e, "%s is not a hex number", config_quote(e->value, q, sizeof q));
        }
        v = v << 4 | (uint64_t)h;
    }
    x->cfg->membership_version = v;
    return 0;
}

/* 4lw.commands.whitelist: as FourLetterCommands.isEnabled reads it. */
static int key_4lw_whitelist(struct config_ctx *x, const struct config_entry *e)
{
    struct real_config *cfg = x->cfg;
    cfg->fourlw_mask = 0;
    cfg->fourlw_all = false;
    const char *p = e->value;
    while (*p != '\0') {
        const char *comma = strchr(p, ',');
        size_t n = comma != NULL ? (size_t)(comma - p) : strlen(p);
        char word[64];
        size_t take = n < sizeof word - 1 ? n : sizeof word - 1;
        memcpy(word, p, take);
        word[take] = '\0';
        char *w = config_trim(word);
        if (strcmp(w, "*") == 0) {
            cfg->fourlw_all = true;
            break; /* ZooKeeper stops reading at `*`. */
        }
        int bit = real_config_4lw_index(w);
        if (bit >= 0) {
            cfg->fourlw_mask |= 1u << bit;
        } else if (w[0] != '\0') {
            char q[80];
            config_warn(x, e->line, e->key, "%s is not a four-letter word; ignored%s",
                        config_quote(w, q, sizeof q),
                        strchr(w, ' ') != NULL ? " (separate the words with commas)" : "");
        }
        p += comma != NULL ? n + 1 : n;
    }
    return 0;
}

static int key_snap_count(struct config_ctx *x, const struct config_entry *e)
{
    int v = 0;
    if (config_int(x, e, INT32_MIN, INT32_MAX, &v) != 0) {
        return -1;
    }
    if (v < CONFIG_SNAP_COUNT_MIN) {
        config_warn(x, e->line, e->key, "%d is below %d; using %d, as ZooKeeper does", v,
                    CONFIG_SNAP_COUNT_MIN, CONFIG_SNAP_COUNT_MIN);
        v = CONFIG_SNAP_COUNT_MIN;
    }
    x->cfg->core.snap_count = (uint32_t)v;
    return 0;
}

static int key_prealloc(struct config_ctx *x, const struct config_entry *e)
{
    return config_int64(x, e, 1, INT64_MAX / 1024, &x->cfg->prealloc_kb);
}

static int key_outstanding_limit(struct config_ctx *x, const struct config_entry *e)
{
    return config_int(x, e, 1, INT32_MAX, &x->cfg->global_outstanding_limit);
}

static int key_jute_maxbuffer(struct config_ctx *x, const struct config_entry *e)
{
    return config_int(x, e, 1, INT32_MAX, &x->cfg->jute_maxbuffer);
}

static int key_client_out_max(struct config_ctx *x, const struct config_entry *e)
{
    int64_t v = 0;
    if (config_int64(x, e, 0, INT64_MAX, &v) != 0) {
        return -1;
    }
    x->cfg->client_out_max_bytes = (size_t)v;
    return 0;
}

static int key_extended_types(struct config_ctx *x, const struct config_entry *e)
{
    return config_bool(x, e, &x->cfg->core.ttl_enabled);
}

/* "user:base64(sha1(user:password))": the id a digest login must produce. */
static int key_super_digest(struct config_ctx *x, const struct config_entry *e)
{
    char q[80];
    const char *colon = strchr(e->value, ':');
    if (colon == NULL || colon == e->value || colon[1] == '\0') {
        return config_fail(x, e, "%s is not of the form user:base64digest",
                           config_quote(e->value, q, sizeof q));
    }
    return config_string(x, e, x->cfg->super_digest, sizeof x->cfg->super_digest);
}

static int key_log_level(struct config_ctx *x, const struct config_entry *e)
{
    static const char *const levels[] = {"error", "warn", "info", "debug"};
    for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++) {
        if (strcasecmp(e->value, levels[i]) == 0) {
            strcpy(x->cfg->log_level, levels[i]);
            return 0;
        }
    }
    char q[80];
    return config_fail(x, e, "%s is not error, warn, info or debug",
                       config_quote(e->value, q, sizeof q));
}

/* FileTxnLog syncs unless the property is exactly "no". */
static int key_force_sync(struct config_ctx *x, const struct config_entry *e)
{
    if (strcmp(e->value, "no") == 0) {
        config_warn(x, e->line, e->key,
                    "ignored: coordd always syncs its log before it "
                    "acknowledges a write");
    } else if (strcmp(e->value, "yes") != 0) {
        char q[80];
        config_warn(x, e->line, e->key, "%s is not yes or no; taken as yes, as ZooKeeper does",
                    config_quote(e->value, q, sizeof q));
    }
    return 0;
}

/* Switches whose "on" coordd cannot honour; harmless to run without. */
static int key_warn_if_true(struct config_ctx *x, const struct config_entry *e)
{
    bool on;
    if (config_bool(x, e, &on) != 0) {
        return -1;
    }
    if (on) {
        config_warn(x, e->line, e->key, "not supported by coordd; ignored");
    }
    return 0;
}

/* Switches whose "on" asks for protection coordd does not have: refusing is
 * safer than running without it. */
static int key_refuse_if_true(struct config_ctx *x, const struct config_entry *e)
{
    bool on;
    if (config_bool(x, e, &on) != 0) {
        return -1;
    }
    if (on) {
        return config_fail(x, e,
                           "not supported by coordd (quorum traffic is neither encrypted "
                           "nor authenticated); remove it or set it to false");
    }
    return 0;
}

static int key_secure_port(struct config_ctx *x, const struct config_entry *e)
{
    uint16_t port;
    if (config_port(x, e, &port) != 0) {
        return -1;
    }
    if (port != 0) {
        config_warn(x, e->line, e->key, "coordd has no TLS listener; only clientPort is served");
    }
    return 0;
}

static int key_admin_enable(struct config_ctx *x, const struct config_entry *e)
{
    if (strcmp(e->value, "false") != 0) {
        config_warn(x, e->line, e->key, "coordd has no admin server; use the four-letter words");
    }
    return 0;
}

/* A JVM system property in ZooKeeper (-Dreadonlymode.enabled=true), which
 * zoo.cfg cannot set there; coordd takes it from zoo.cfg too. */
static int key_readonly(struct config_ctx *x, const struct config_entry *e)
{
    return config_bool(x, e, &x->cfg->read_only_enabled);
}

static int key_skip_acl(struct config_ctx *x, const struct config_entry *e)
{
    if (strcmp(e->value, "yes") == 0) {
        config_warn(x, e->line, e->key, "ignored: coordd always checks ACLs");
    }
    return 0;
}

/* Known ZooKeeper keys that mean nothing here (the JVM, metrics, TLS
 * material, the admin server, ...). */
static int key_no_effect(struct config_ctx *x, const struct config_entry *e)
{
    config_warn(x, e->line, e->key, "has no effect in coordd; ignored");
    return 0;
}

static int key_hierarchical(struct config_ctx *x, const struct config_entry *e)
{
    return config_fail(x, e,
                       "hierarchical quorums (group./weight.) are not supported; use "
                       "majority quorums");
}

typedef int (*config_apply_fn)(struct config_ctx *x, const struct config_entry *e);

struct config_key
{
    const char *key;
    config_apply_fn apply;
};

static const struct config_key config_keys[] = {
    {"dataDir", key_data_dir},
    {"dataLogDir", key_data_log_dir},
    {"clientPort", key_client_port},
    {"clientPortAddress", key_client_port_address},
    {"tickTime", key_tick_time},
    {"maxClientCnxns", key_max_client_cnxns},
    {"minSessionTimeout", key_min_session},
    {"maxSessionTimeout", key_max_session},
    {"clientPortListenBacklog", key_listen_backlog},
    {"initLimit", key_init_limit},
    {"syncLimit", key_sync_limit},
    {"connectToLearnerMasterLimit", key_learner_master_limit},
    {"electionAlg", key_election_alg},
    {"peerType", key_peer_type},
    {"quorumListenOnAllIPs", key_quorum_listen_all},
    {"syncEnabled", key_sync_enabled},
    {"standaloneEnabled", key_standalone_enabled},
    {"reconfigEnabled", key_reconfig_enabled},
    {"dynamicConfigFile", key_dynamic_config_file},
    {"autopurge.snapRetainCount", key_snap_retain},
    {"autopurge.purgeInterval", key_purge_interval},
    {"version", key_version},
    {"4lw.commands.whitelist", key_4lw_whitelist},
    {"snapCount", key_snap_count},
    {"preAllocSize", key_prealloc},
    {"globalOutstandingLimit", key_outstanding_limit},
    {"jute.maxbuffer", key_jute_maxbuffer},
    {"clientOutMaxBytes", key_client_out_max},
    {"extendedTypesEnabled", key_extended_types},
    {"zookeeper.extendedTypesEnabled", key_extended_types},
    {"superDigest", key_super_digest},
    {"DigestAuthenticationProvider.superDigest", key_super_digest},
    {"logLevel", key_log_level},
    {"forceSync", key_force_sync},
    {"localSessionsEnabled", key_warn_if_true},
    {"localSessionsUpgradingEnabled", key_warn_if_true},
    {"portUnification", key_warn_if_true},
    {"quorum.auth.enableSasl", key_warn_if_true},
    {"sslQuorum", key_refuse_if_true},
    {"quorum.auth.learnerRequireSasl", key_refuse_if_true},
    {"quorum.auth.serverRequireSasl", key_refuse_if_true},
    {"secureClientPort", key_secure_port},
    {"admin.enableServer", key_admin_enable},
    {"readonlymode.enabled", key_readonly},
    {"skipACL", key_skip_acl},
    {"secureClientPortAddress", key_no_effect},
    {"observerMasterPort", key_no_effect},
    {"sslQuorumReloadCertFiles", key_no_effect},
    {"quorum.cnxn.threads.size", key_no_effect},
    {"oraclePath", key_no_effect},
    {"serverCnxnFactory", key_no_effect},
    {"maxCnxns", key_no_effect},
    {"snapSizeLimitInKb", key_no_effect},
    {"txnLogSizeLimitInKb", key_no_effect},
    {"commitLogCount", key_no_effect},
    {"authProvider", key_no_effect},
};

/* Key families, by prefix. server. is handled apart. */
static const struct config_key config_prefixes[] = {
    {"group.", key_hierarchical},        {"weight.", key_hierarchical},
    {"metricsProvider.", key_no_effect}, {"admin.", key_no_effect},
    {"jvm.pause.", key_no_effect},       {"multiAddress.", key_no_effect},
    {"quorum.auth.", key_no_effect},     {"ssl.", key_no_effect},
    {"authProvider.", key_no_effect},
};

/* ---- server lines ---------------------------------------------------------------------------- */

/* Split "host:port[:...]" as ConfigUtils.getHostAndPort does ("[v6]:port:..."
 * keeps the colons of the address). Returns the number of fields, or -1. */
static int config_host_fields(char *s, char *fields[], int max)
{
    int n = 0;
    char *p = s;
    if (s[0] == '[') {
        char *close = strchr(s, ']');
        if (close == NULL || (close[1] != ':' && close[1] != '\0')) {
            return -1;
        }
        fields[n++] = s;
        if (close[1] == '\0') {
            return n;
        }
        close[1] = '\0';
        p = close + 2;
    }
    for (;;) {
        if (n == max) {
            return -1;
        }
        fields[n++] = p;
        char *colon = strchr(p, ':');
        if (colon == NULL) {
            return n;
        }
        *colon = '\0';
        p = colon + 1;
    }
}

static int config_server_port(struct config_ctx *x,
                              const struct config_entry *e,
                              const char *field,
                              const char *what,
                              uint16_t *out)
{
    char q[80];
    int64_t v = 0;
    if (!config_parse_i64(field, &v)) {
        return config_fail(x, e, "%s %s is not a number", what, config_quote(field, q, sizeof q));
    }
    if (v < 1 || v > 65535) {
        return config_fail(x, e, "%s %lld is out of range (1..65535)", what, (long long)v);
    }
    *out = (uint16_t)v;
    return 0;
}

static int config_server_client(struct config_ctx *x,
                                const struct config_entry *e,
                                char *part,
                                struct real_server_entry *s)
{
    char *f[3];
    int n = config_host_fields(part, f, 3);
    if (n != 1 && n != 2) {
        return config_fail(x, e, "the client part after ';' must be port or host:port");
    }
    if (n == 2 && config_host(x, e, f[0], strlen(f[0]), s->client_host) != 0) {
        return -1;
    }
    if (n == 1) {
        strcpy(s->client_host, "0.0.0.0"); /* What ZooKeeper uses for a bare port. */
    }
    return config_server_port(x, e, f[n - 1], "client port", &s->client_port);
}

/* host:peerport:electionport[:participant|observer][;[host:]clientport] */
static int config_server_value(struct config_ctx *x,
                               const struct config_entry *e,
                               struct real_server_entry *s)
{
    char buf[2 * REAL_CONFIG_HOST_MAX + 64];
    if (strlen(e->value) >= sizeof buf) {
        return config_fail(x, e, "value too long");
    }
    strcpy(buf, e->value);
    if (strchr(buf, '|') != NULL) {
        return config_fail(x, e, "several addresses per server (a|b) are not supported");
    }
    char *client = strchr(buf, ';');
    if (client != NULL) {
        *client++ = '\0';
        if (strchr(client, ';') != NULL) {
            return config_fail(x, e, "more than one ';'");
        }
    }
    char *f[5];
    int n = config_host_fields(config_trim(buf), f, 5);
    if (n < 3 || n > 4) {
        return config_fail(x, e,
                           "expected host:peerport:electionport[:participant|observer]"
                           "[;[host:]clientport]");
    }
    if (config_host(x, e, f[0], strlen(f[0]), s->host) != 0 ||
        config_server_port(x, e, f[1], "peer port", &s->peer_port) != 0 ||
        config_server_port(x, e, f[2], "election port", &s->election_port) != 0) {
        return -1;
    }
    if (s->peer_port == s->election_port) {
        return config_fail(x, e, "the peer and election ports must differ (both %u)", s->peer_port);
    }
    if (n == 4) {
        char *type = config_trim(f[3]);
        char q[80];
        if (strcasecmp(type, "observer") == 0) {
            s->observer = true;
        } else if (strcasecmp(type, "participant") != 0) {
            return config_fail(x, e, "%s is not participant or observer",
                               config_quote(type, q, sizeof q));
        }
    }
    client = client != NULL ? config_trim(client) : NULL;
    if (client != NULL && client[0] != '\0') {
        return config_server_client(x, e, client, s);
    }
    return 0;
}

static int key_server(struct config_ctx *x, const struct config_entry *e)
{
    struct real_config *cfg = x->cfg;
    const char *sid = e->key + strlen("server.");
    char q[80];
    int64_t id;
    if (!config_parse_i64(sid, &id)) {
        return config_fail(x, e, "%s is not a server id", config_quote(sid, q, sizeof q));
    }
    if (id < 1 || id > COORD_SERVER_ID_MAX) {
        return config_fail(x, e,
                           "server id %lld is outside 1..%d (coord keeps the id in the top "
                           "byte of session ids, sign bit clear)",
                           (long long)id, COORD_SERVER_ID_MAX);
    }
    for (size_t i = 0; i < cfg->server_count; i++) {
        if (cfg->servers[i].id == (coord_id)id) {
            return config_fail(x, e, "server id %lld is already given on line %d", (long long)id,
                               cfg->servers[i].line);
        }
    }
    /* Distinct ids in 1..127 always fit. */
    struct real_server_entry *s = &cfg->servers[cfg->server_count];
    memset(s, 0, sizeof *s);
    s->id = (coord_id)id;
    s->line = e->line;
    if (config_server_value(x, e, s) != 0) {
        return -1;
    }
    cfg->server_count++;
    return 0;
}

static int config_apply_entry(struct config_ctx *x, const struct config_entry *e)
{
    if (config_starts_with(e->key, "server.")) {
        if (config_find(&x->props, "dynamicConfigFile") != NULL) {
            return config_fail(x, e, "server lines must be in the dynamicConfigFile");
        }
        return key_server(x, e);
    }
    for (size_t i = 0; i < sizeof config_keys / sizeof config_keys[0]; i++) {
        if (strcmp(e->key, config_keys[i].key) == 0) {
            return config_keys[i].apply(x, e);
        }
    }
    for (size_t i = 0; i < sizeof config_prefixes / sizeof config_prefixes[0]; i++) {
        if (config_starts_with(e->key, config_prefixes[i].key)) {
            return config_prefixes[i].apply(x, e);
        }
    }
    if (e->key[0] == '\0') {
        config_warn(x, e->line, "(empty key)", "line without a key; ignored");
    } else {
        config_warn(x, e->line, e->key, "unknown key; ignored");
    }
    return 0;
}

/* ---- whole-file rules -------------------------------------------------------------------------
 */

static void config_defaults(struct real_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->tick_ms = CONFIG_DEFAULT_TICK_MS;
    cfg->min_session_ms = -1;
    cfg->max_session_ms = -1;
    cfg->max_client_cnxns = 60;
    cfg->listen_backlog = -1;
    cfg->election_alg = 3;
    cfg->sync_enabled = true;
    cfg->standalone = true;
    cfg->standalone_enabled = true;
    cfg->snap_retain_count = CONFIG_SNAP_RETAIN_MIN;
    cfg->prealloc_kb = CONFIG_PREALLOC_KB_DEFAULT;
    cfg->global_outstanding_limit = 1000;
    cfg->jute_maxbuffer = CONFIG_JUTE_MAXBUFFER_DEFAULT;
    cfg->force_sync = true;
    cfg->core.snap_count = CONFIG_SNAP_COUNT_DEFAULT;
}

static int config_session_bounds(struct config_ctx *x)
{
    struct real_config *cfg = x->cfg;
    int min = cfg->min_session_ms == -1 ? cfg->tick_ms * 2 : cfg->min_session_ms;
    int max = cfg->max_session_ms == -1 ? cfg->tick_ms * 20 : cfg->max_session_ms;
    if (min > max) {
        bool min_given = cfg->min_session_ms != -1;
        const char *key = min_given ? "minSessionTimeout" : "maxSessionTimeout";
        return config_fail_in(x, x->name, config_line_of(x, key), key,
                              "minSessionTimeout (%d%s) is larger than maxSessionTimeout "
                              "(%d%s)",
                              min, min_given ? "" : ", 2 ticks", max,
                              cfg->max_session_ms != -1 ? "" : ", 20 ticks");
    }
    cfg->min_session_ms = min;
    cfg->max_session_ms = max;
    return 0;
}

static int config_by_id(const void *a, const void *b)
{
    const struct real_server_entry *x = a;
    const struct real_server_entry *y = b;
    return x->id < y->id ? -1 : x->id > y->id;
}

static const struct real_server_entry *config_first_of(const struct real_config *cfg, bool observer)
{
    for (size_t i = 0; i < cfg->server_count; i++) {
        if (cfg->servers[i].observer == observer) {
            return &cfg->servers[i];
        }
    }
    return NULL;
}

/* QuorumPeerConfig.parseDynamicConfig's rules on who votes, and the mode. */
static int config_membership(struct config_ctx *x)
{
    struct real_config *cfg = x->cfg;
    size_t voters = 0;
    for (size_t i = 0; i < cfg->server_count; i++) {
        voters += !cfg->servers[i].observer;
    }
    size_t observers = cfg->server_count - voters;
    const struct real_server_entry *obs = config_first_of(cfg, true);
    if (voters == 0 && !cfg->standalone_enabled) {
        return config_fail_in(x, x->name, config_line_of(x, "standaloneEnabled"),
                              "standaloneEnabled",
                              "false needs at least one participant "
                              "server.N line");
    }
    char key[32];
    if (observers > 0 && (voters == 0 || (voters == 1 && cfg->standalone_enabled))) {
        snprintf(key, sizeof key, "server.%u", obs->id);
        return config_fail_in(x, x->servers_name, obs->line, key,
                              "observers need a quorum "
                              "of participants (at least two, or standaloneEnabled=false)");
    }
    cfg->standalone = voters == 0 || (voters == 1 && cfg->standalone_enabled);
    if (voters == 1 && cfg->standalone) {
        snprintf(key, sizeof key, "server.%u", cfg->servers[0].id);
        config_warn(x, cfg->servers[0].line, key,
                    "only one server line: running standalone, "
                    "as ZooKeeper does (standaloneEnabled=false makes a one-server quorum)");
    } else if (!cfg->standalone && voters <= 2) {
        config_warn(x, 0, "server.N",
                    "%zu participants: no server failure will be tolerated; "
                    "you need at least 3",
                    voters);
    } else if (!cfg->standalone && voters % 2 == 0) {
        config_warn(x, 0, "server.N", "%zu participants: consider an odd number", voters);
    }
    qsort(cfg->servers, cfg->server_count, sizeof cfg->servers[0], config_by_id);
    if (!cfg->standalone && cfg->server_count > COORD_ENSEMBLE_MAX) {
        const struct real_server_entry *extra = &cfg->servers[COORD_ENSEMBLE_MAX];
        snprintf(key, sizeof key, "server.%u", extra->id);
        return config_fail_in(x, x->servers_name, extra->line, key,
                              "%zu server lines: an ensemble holds at most %d servers "
                              "(participants and observers together)",
                              cfg->server_count, COORD_ENSEMBLE_MAX);
    }
    return 0;
}

/* Checks that need the mode and the server lines. */
static int config_mode_rules(struct config_ctx *x)
{
    struct real_config *cfg = x->cfg;
    if (!cfg->standalone) {
        if (cfg->init_limit == 0) {
            return config_fail_in(x, x->name, config_line_of(x, "initLimit"), "initLimit",
                                  "not set (required with server.N lines)");
        }
        if (cfg->sync_limit == 0) {
            return config_fail_in(x, x->name, config_line_of(x, "syncLimit"), "syncLimit",
                                  "not set (required with server.N lines)");
        }
    }
    if (cfg->client_port != 0) {
        return 0;
    }
    /* Standalone on one server line: its client port is the only candidate
     * (ZooKeeper takes it once myid names that line). */
    for (size_t i = 0; i < cfg->server_count; i++) {
        const struct real_server_entry *s = &cfg->servers[i];
        if (s->client_port != 0 && cfg->standalone && !s->observer) {
            strcpy(cfg->client_host, s->client_host);
            cfg->client_port = s->client_port;
            return 0;
        }
        if (s->client_port != 0 && !cfg->standalone) {
            return 0; /* Settled by myid (real_config_apply_myid). */
        }
    }
    return config_fail_in(x, x->name, 0, "clientPort",
                          "not set (and no server.N line gives a "
                          "client port)");
}

/* The ensemble as the core wants it: ids only, voters and observers apart
 * (cfg->servers is sorted by id, so every member gets the same lists). */
static void config_fill_ensemble(struct real_config *cfg)
{
    struct coord_config *core = &cfg->core;
    core->voter_count = 0;
    core->observer_count = 0;
    core->init_limit_ticks = cfg->init_limit;
    core->sync_limit_ticks = cfg->sync_limit;
    core->read_only_enabled = cfg->read_only_enabled;
    if (cfg->standalone) {
        return;
    }
    for (size_t i = 0; i < cfg->server_count && i < COORD_ENSEMBLE_MAX; i++) {
        const struct real_server_entry *s = &cfg->servers[i];
        if (s->observer) {
            core->observers[core->observer_count++] = s->id;
        } else {
            core->voters[core->voter_count++] = s->id;
        }
    }
}

static void config_fill_core(struct real_config *cfg)
{
    struct coord_config *core = &cfg->core;
    core->id = cfg->standalone ? 1 : cfg->server_id; /* ZooKeeper's standalone tracker uses 1. */
    core->tick_ms = cfg->tick_ms;
    /* 0 means "the default" to the core; an explicit 0 bound becomes 1 ms. */
    core->min_session_ms = cfg->min_session_ms > 0 ? cfg->min_session_ms : 1;
    core->max_session_ms = cfg->max_session_ms > 0 ? cfg->max_session_ms : 1;
    core->max_frame_bytes = (uint32_t)cfg->jute_maxbuffer;
    core->super_digest = cfg->super_digest[0] != '\0' ? cfg->super_digest : NULL;
    core->conn_out_max_bytes = cfg->client_out_max_bytes;
    config_fill_ensemble(cfg);
}

/* Everything up to the server lines of a dynamic file and myid. */
static int config_parse_main(struct config_ctx *x, const char *text, size_t len)
{
    struct real_config *cfg = x->cfg;
    if (config_read_props(x, text, len, &x->props) != 0) {
        return -1;
    }
    if (config_mark_overridden(&x->props) != 0) {
        return config_fail_in(x, x->name, 0, NULL, "out of memory");
    }
    for (size_t i = 0; i < x->props.count; i++) {
        const struct config_entry *e = &x->props.v[i];
        if (!e->overridden && config_apply_entry(x, e) != 0) {
            return -1;
        }
    }
    if (cfg->data_dir[0] == '\0') {
        return config_fail_in(x, x->name, 0, "dataDir",
                              "not set (required: where snapshots and "
                              "the transaction log are kept)");
    }
    if (cfg->client_port == 0 && cfg->client_host[0] != '\0') {
        return config_fail_in(x, x->name, config_line_of(x, "clientPortAddress"),
                              "clientPortAddress", "set but clientPort is not set");
    }
    if (config_session_bounds(x) != 0) {
        return -1;
    }
    if (cfg->dynamic_config_file[0] != '\0') {
        return 0; /* The membership comes from that file. */
    }
    if (config_membership(x) != 0 || config_mode_rules(x) != 0) {
        return -1;
    }
    config_fill_core(cfg);
    return 0;
}

static void config_ctx_init(struct config_ctx *x,
                            struct real_config *cfg,
                            const char *name,
                            char *err,
                            size_t err_len)
{
    memset(x, 0, sizeof *x);
    x->cfg = cfg;
    x->name = name != NULL ? name : "(config)";
    x->servers_name = x->name;
    x->err = err;
    x->err_len = err_len;
    if (err != NULL && err_len > 0) {
        err[0] = '\0';
    }
    config_defaults(cfg);
    snprintf(cfg->servers_file, sizeof cfg->servers_file, "%s", x->name);
}

int real_config_parse(struct real_config *cfg,
                      const char *text,
                      size_t len,
                      const char *name_for_errors,
                      char *err,
                      size_t err_len)
{
    struct config_ctx x;
    config_ctx_init(&x, cfg, name_for_errors, err, err_len);
    int rc = config_parse_main(&x, text, len);
    if (rc == 0 && cfg->dynamic_config_file[0] != '\0') {
        rc = config_fail_in(&x, x.name, config_line_of(&x, "dynamicConfigFile"),
                            "dynamicConfigFile", "only real_config_load reads other files");
    }
    config_warnings_close(&x);
    config_props_free(&x.props);
    return rc;
}

/* ---- myid ------------------------------------------------------------------------------------ */

static const struct real_server_entry *config_server(const struct real_config *cfg, coord_id id)
{
    for (size_t i = 0; i < cfg->server_count; i++) {
        if (cfg->servers[i].id == id) {
            return &cfg->servers[i];
        }
    }
    return NULL;
}

/* This server's line settles the listener: ZooKeeper's setupClientPort. */
static int config_own_client(struct config_ctx *x, const struct real_server_entry *own)
{
    struct real_config *cfg = x->cfg;
    char key[32];
    snprintf(key, sizeof key, "server.%u", own->id);
    if (own->client_port != 0) {
        if (cfg->client_port != 0 && cfg->client_port != own->client_port) {
            return config_fail_in(x, x->servers_name, own->line, key,
                                  "client port %u differs from clientPort=%u (myid is %u)",
                                  own->client_port, cfg->client_port, own->id);
        }
        strcpy(cfg->client_host, own->client_host);
        cfg->client_port = own->client_port;
    }
    if (cfg->client_port == 0) {
        return config_fail_in(x, x->servers_name, own->line, "clientPort",
                              "not set, and server.%u gives no client port", own->id);
    }
    return 0;
}

int real_config_apply_myid(struct real_config *cfg,
                           const char *text,
                           size_t len,
                           const char *name_for_errors,
                           char *err,
                           size_t err_len)
{
    struct config_ctx x;
    memset(&x, 0, sizeof x);
    x.cfg = cfg;
    x.name = name_for_errors != NULL ? name_for_errors : "myid";
    x.servers_name = cfg->servers_file;
    x.err = err;
    x.err_len = err_len;
    char first[64];
    size_t n = 0;
    while (n < len && text[n] != '\n' && text[n] != '\r' && n < sizeof first - 1) {
        first[n] = text[n];
        n++;
    }
    first[n] = '\0';
    char *v = config_trim(first);
    char q[80];
    int64_t id;
    if (!config_parse_i64(v, &id)) {
        return config_fail_in(&x, x.name, 0, NULL,
                              "%s is not a number (a myid file holds this "
                              "server's id)",
                              config_quote(v, q, sizeof q));
    }
    if (cfg->standalone) {
        return 0; /* Read, as ZooKeeper does, but a standalone server has no id. */
    }
    if (id < 1 || id > COORD_SERVER_ID_MAX) {
        return config_fail_in(&x, x.name, 0, NULL, "server id %lld is outside 1..%d", (long long)id,
                              COORD_SERVER_ID_MAX);
    }
    const struct real_server_entry *own = config_server(cfg, (coord_id)id);
    if (own == NULL) {
        return config_fail_in(&x, x.name, 0, NULL, "server id %lld has no server.%lld line",
                              (long long)id, (long long)id);
    }
    if (own->observer != cfg->peer_observer) {
        config_warn(&x, 0, "peerType", "server.%u's line says %s; using that", own->id,
                    own->observer ? "observer" : "participant");
        cfg->peer_observer = own->observer;
    }
    if (config_own_client(&x, own) != 0) {
        return -1;
    }
    cfg->server_id = own->id;
    config_fill_core(cfg);
    config_warnings_close(&x);
    return 0;
}

/* ---- files ----------------------------------------------------------------------------------- */

/* Read a whole (small) file. Returns 0 and a malloc'd text, or -1 with err. */
static int config_slurp(struct config_ctx *x, const char *path, size_t max, char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return config_fail_in(x, path, 0, NULL, "cannot open: %s", strerror(errno));
    }
    char *buf = malloc(max + 1);
    if (buf == NULL) {
        fclose(f);
        return config_fail_in(x, path, 0, NULL, "out of memory");
    }
    size_t n = fread(buf, 1, max + 1, f);
    int read_errno = ferror(f) ? errno : 0;
    fclose(f);
    if (read_errno != 0 || n > max) {
        free(buf);
        if (read_errno != 0) {
            return config_fail_in(x, path, 0, NULL, "cannot read: %s", strerror(read_errno));
        }
        return config_fail_in(x, path, 0, NULL, "larger than %zu bytes: not a configuration file",
                              max);
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

/* The version a dynamic file's name carries ("zoo.cfg.dynamic.100000000"). */
static bool config_version_of_name(const char *path, uint64_t *out)
{
    const char *dot = strrchr(path, '.');
    if (dot == NULL || dot[1] == '\0' || strlen(dot + 1) > 16) {
        return false;
    }
    uint64_t v = 0;
    for (const char *p = dot + 1; *p != '\0'; p++) {
        int h = config_hex(*p);
        if (h < 0) {
            return false;
        }
        v = v << 4 | (uint64_t)h;
    }
    *out = v;
    return true;
}

/* A dynamic file holds server.N lines only (and no version: its name has it). */
static int config_read_dynamic(struct config_ctx *x)
{
    struct real_config *cfg = x->cfg;
    const char *path = cfg->dynamic_config_file;
    char *text;
    size_t len;
    if (config_slurp(x, path, REAL_CONFIG_FILE_MAX_BYTES, &text, &len) != 0) {
        return -1;
    }
    struct config_props dyn = {0};
    const char *main_name = x->name;
    x->name = path;
    x->servers_name = path;
    snprintf(cfg->servers_file, sizeof cfg->servers_file, "%s", path);
    int rc = config_read_props(x, text, len, &dyn);
    free(text);
    for (size_t i = 0; rc == 0 && i < dyn.count; i++) {
        const struct config_entry *e = &dyn.v[i];
        if (config_starts_with(e->key, "server.")) {
            rc = key_server(x, e);
        } else if (config_starts_with(e->key, "group.") || config_starts_with(e->key, "weight.")) {
            rc = key_hierarchical(x, e);
        } else if (strcmp(e->key, "version") == 0) {
            rc = config_fail(x, e, "a dynamic file must not hold a version (its name does)");
        } else {
            rc = config_fail(x, e, "not allowed in a dynamic configuration file");
        }
    }
    config_props_free(&dyn);
    if (rc == 0) {
        config_version_of_name(path, &cfg->membership_version);
        x->name = main_name;
        rc = config_membership(x) != 0 || config_mode_rules(x) != 0 ? -1 : 0;
    }
    x->name = main_name;
    if (rc == 0) {
        config_fill_core(cfg);
    }
    return rc;
}

static int config_read_myid(struct config_ctx *x, char *err, size_t err_len)
{
    struct real_config *cfg = x->cfg;
    char path[PATH_MAX + 8];
    snprintf(path, sizeof path, "%s/myid", cfg->data_dir);
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (cfg->standalone) {
            return 0;
        }
        return config_fail_in(x, path, 0, NULL,
                              "myid file is missing (with server.N lines it "
                              "must hold this server's id)");
    }
    char *text;
    size_t len;
    if (config_slurp(x, path, CONFIG_MYID_MAX_BYTES, &text, &len) != 0) {
        return -1;
    }
    int rc = real_config_apply_myid(cfg, text, len, path, err, err_len);
    free(text);
    return rc;
}

int real_config_load(struct real_config *cfg, const char *path, char *err, size_t err_len)
{
    struct config_ctx x;
    config_ctx_init(&x, cfg, path, err, err_len);
    char *text;
    size_t len;
    int rc = config_slurp(&x, x.name, REAL_CONFIG_FILE_MAX_BYTES, &text, &len);
    if (rc == 0) {
        rc = config_parse_main(&x, text, len);
        free(text);
    }
    if (rc == 0 && cfg->dynamic_config_file[0] != '\0') {
        rc = config_read_dynamic(&x);
    }
    config_warnings_close(&x);
    config_props_free(&x.props);
    if (rc == 0 && cfg->server_count > 0) {
        rc = config_read_myid(&x, err, err_len);
    }
    return rc;
}

/* ---- conf ------------------------------------------------------------------------------------ */

/* InetSocketAddress host strings: an IPv6 address goes in brackets. */
static void config_put_host(FILE *out, const char *host)
{
    fprintf(out, strchr(host, ':') != NULL ? "[%s]" : "%s", host);
}

void real_config_dump(const struct real_config *cfg,
                      FILE *out,
                      long long data_dir_bytes,
                      long long data_log_dir_bytes)
{
    const char *log_dir = cfg->data_log_dir[0] != '\0' ? cfg->data_log_dir : cfg->data_dir;
    fprintf(out, "clientPort=%u\n", cfg->client_port);
    fprintf(out, "secureClientPort=-1\n");
    fprintf(out, "dataDir=%s\n", cfg->data_dir);
    fprintf(out, "dataDirSize=%lld\n", data_dir_bytes);
    fprintf(out, "dataLogDir=%s\n", log_dir);
    fprintf(out, "dataLogSize=%lld\n", data_log_dir_bytes);
    fprintf(out, "tickTime=%d\n", cfg->tick_ms);
    fprintf(out, "maxClientCnxns=%d\n", cfg->max_client_cnxns);
    fprintf(out, "minSessionTimeout=%d\n", cfg->min_session_ms);
    fprintf(out, "maxSessionTimeout=%d\n", cfg->max_session_ms);
    fprintf(out, "clientPortListenBacklog=%d\n", cfg->listen_backlog);
    fprintf(out, "serverId=%u\n", cfg->standalone ? 0 : cfg->server_id);
    if (cfg->standalone) {
        return;
    }
    const struct real_server_entry *own = config_server(cfg, cfg->server_id);
    fprintf(out, "initLimit=%d\n", cfg->init_limit);
    fprintf(out, "syncLimit=%d\n", cfg->sync_limit);
    fprintf(out, "electionAlg=%d\n", cfg->election_alg);
    fprintf(out, "electionPort=%u\n", own != NULL ? own->election_port : 0);
    fprintf(out, "quorumPort=%u\n", own != NULL ? own->peer_port : 0);
    fprintf(out, "peerType=%d\n", own != NULL && own->observer ? 1 : 0);
    fprintf(out, "membership: \n");
    for (size_t i = 0; i < cfg->server_count; i++) {
        const struct real_server_entry *s = &cfg->servers[i];
        fprintf(out, "server.%u=", s->id);
        config_put_host(out, s->host);
        fprintf(out, ":%u:%u:%s", s->peer_port, s->election_port,
                s->observer ? "observer" : "participant");
        if (s->client_port != 0) {
            fputc(';', out);
            config_put_host(out, s->client_host);
            fprintf(out, ":%u", s->client_port);
        }
        fputc('\n', out);
    }
    fprintf(out, "version=%llx", (unsigned long long)cfg->membership_version);
}
