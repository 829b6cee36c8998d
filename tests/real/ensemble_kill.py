#!/usr/bin/python3
"""Leader SIGKILL in a replicated ensemble: no acknowledged write is lost.

Starts an ensemble of --size servers (coordd or Apache ZooKeeper 3.8) on
loopback and waits until exactly one reports `Mode: leader`. Then, for each of
--rounds rounds:

  1. drives writes with kazoo (--threads sessions over the whole ensemble,
     each one synchronous and capped at --rate requests/s: creates of new
     nodes holding numbered data, and setData on a counter of its own) and
     with the Apache C client (a small load program compiled here with gcc
     -lzookeeper_mt, connected to one FOLLOWER only, doing the same),
     recording every acknowledged write;
  2. SIGKILLs the leader mid-load;
  3. checks that a new leader is elected among the survivors and that both
     kinds of writers resume within --max-gap seconds (the gap reported is the
     longest interval between two consecutive acknowledged writes among those
     that end after the kill, as the shared kit's `failover leader` measures);
  4. restarts the killed server and checks that it rejoins as a follower,
     that the leader stays the leader, and that the writes never stop for
     more than --max-gap while it does;
  5. stops the load and checks on EVERY server (a session to that server
     alone, after a sync) that every acknowledged create is present with its
     data and that every counter is at least at its last acknowledged version
     (with the acknowledged data when at exactly that version).

Writes whose outcome a client never learned (connection loss, timeout) may or
may not be there. The whole run is bounded by --timeout; every process it
started is killed by PID however it ends.

    ensemble_kill.py --server coordd|zookeeper [--size 3|5] [--rounds 2]
                     [--coordd PATH] [--threads 4] [--rate 250] [--max-gap 15]
                     [--timeout S]

Prints one line per phase, a summary line per round and a closing
`PASS`/`FAIL` line; exit status 0 only if every check passed.
"""
import argparse
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import servers  # noqa: E402

from kazoo.client import KazooClient  # noqa: E402
from kazoo.exceptions import NoNodeError  # noqa: E402

ROOT = "/ek"
SESSION_TIMEOUT_S = 10.0
OP_TIMEOUT_S = 15.0
WARMUP_S = 2.0          # load before the kill
AFTER_RESUME_S = 2.0    # load after writes resumed, before the restart
AFTER_REJOIN_S = 2.0    # load after the killed member rejoined
RESUME_ACKS = 5         # acknowledged writes per session after the kill: "resumed"
CHECK_BATCH = 256       # reads in flight while verifying

# The C client load program. Arguments: host:port prefix counter-path data-tag
# and the least interval between two requests in microseconds (a rate cap).
# One synchronous request at a time; each acknowledged write is printed as
#   C <monotonic-ns> <path> <data>       (create)
#   S <monotonic-ns> <path> <version> <data>   (setData)
# and each failure as E <monotonic-ns> <rc>. SIGTERM ends it cleanly.
C_LOADER = r"""
#define _GNU_SOURCE
#include <zookeeper/zookeeper.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop_requested;

static void on_term(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void ignore_events(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    (void)zh;
    (void)type;
    (void)state;
    (void)path;
    (void)ctx;
}

static zhandle_t *open_session(const char *host)
{
    zhandle_t *zh = zookeeper_init(host, ignore_events, 10000, NULL, NULL, 0);
    long long deadline = now_ns() + 60LL * 1000000000LL;
    while (zh != NULL && zoo_state(zh) != ZOO_CONNECTED_STATE && !stop_requested) {
        if (now_ns() > deadline) {
            zookeeper_close(zh);
            return NULL;
        }
        usleep(10000);
    }
    return zh;
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: %s host:port path-prefix counter-path tag interval-us\n",
                argv[0]);
        return 2;
    }
    const char *host = argv[1], *prefix = argv[2], *counter = argv[3], *tag = argv[4];
    long long interval_ns = atoll(argv[5]) * 1000LL, next_ns = now_ns();
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_term;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    FILE *devnull = fopen("/dev/null", "w");
    if (devnull != NULL) {
        zoo_set_log_stream(devnull);
    }
    zoo_set_debug_level(ZOO_LOG_LEVEL_ERROR);
    zhandle_t *zh = open_session(host);
    if (zh == NULL) {
        printf("F could not open a session to %s\n", host);
        return 1;
    }
    printf("R %lld %llx\n", now_ns(), (unsigned long long)zoo_client_id(zh)->client_id);
    fflush(stdout);
    for (long n = 1; !stop_requested; n++) {
        char path[512], data[128];
        int rc;
        long long now = now_ns();
        next_ns = next_ns + interval_ns < now - 1000000000LL ? now : next_ns + interval_ns;
        if (next_ns > now) {
            usleep((useconds_t)((next_ns - now) / 1000));
        }
        snprintf(data, sizeof data, "%s-%ld", tag, n);
        if (n % 4 == 0) {
            struct Stat st;
            rc = zoo_set2(zh, counter, data, (int)strlen(data), -1, &st);
            if (rc == ZOK) {
                printf("S %lld %s %d %s\n", now_ns(), counter, st.version, data);
            }
        } else {
            snprintf(path, sizeof path, "%s%07ld", prefix, n);
            rc = zoo_create(zh, path, data, (int)strlen(data), &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0);
            if (rc == ZOK) {
                printf("C %lld %s %s\n", now_ns(), path, data);
            }
        }
        if (rc != ZOK) {
            printf("E %lld %d\n", now_ns(), rc);
            if (rc == ZSESSIONEXPIRED || rc == ZINVALIDSTATE || is_unrecoverable(zh)) {
                zookeeper_close(zh);
                zh = open_session(host);
                if (zh == NULL) {
                    printf("F session expired and no new session to %s\n", host);
                    return 1;
                }
                printf("X %lld %llx\n", now_ns(),
                       (unsigned long long)zoo_client_id(zh)->client_id);
            } else {
                usleep(5000);
            }
        }
        fflush(stdout);
    }
    zookeeper_close(zh);
    return 0;
}
"""


def log(msg):
    print("[%s] %s" % (time.strftime("%H:%M:%S"), msg))
    sys.stdout.flush()


class Failure(Exception):
    """A check failed; the message says which and how."""


# ---------------------------------------------------------------------------
# What the writers saw acknowledged.


class Acks:
    """Acknowledged writes of one writer (thread-safe)."""

    def __init__(self, name):
        self.name = name
        self.lock = threading.Lock()
        self.times = []        # monotonic seconds of every acknowledged write
        self.creates = {}      # path -> data
        self.counters = {}     # path -> (highest acknowledged version, its data)
        self.errors = 0

    def create(self, t, path, data):
        with self.lock:
            self.times.append(t)
            self.creates[path] = data

    def set(self, t, path, version, data):
        with self.lock:
            self.times.append(t)
            if version > self.counters.get(path, (-1, None))[0]:
                self.counters[path] = (version, data)

    def error(self):
        with self.lock:
            self.errors += 1

    def count_after(self, t):
        with self.lock:
            return sum(1 for x in self.times if x > t)


def gap_after(times, t_from, t_to=float("inf")):
    """Longest interval between consecutive acks among those ending in
    (t_from, t_to]: (gap s, start, end), or None without an ack there."""
    times = sorted(times)
    best = None
    for a, b in zip(times, times[1:]):
        if t_from < b <= t_to and (best is None or b - a > best[0]):
            best = (b - a, a, b)
    return best


class KazooWriter(threading.Thread):
    """One kazoo session over the whole ensemble writing synchronously."""

    def __init__(self, hosts, tid, round_no, rate):
        super().__init__(daemon=True, name="kazoo-writer-%d" % tid)
        self.tid = tid
        self.interval = 1.0 / rate
        self.round_no = round_no
        self.acks = Acks("kazoo-%d" % tid)
        self.stop_event = threading.Event()
        self.zk = KazooClient(hosts=hosts, timeout=SESSION_TIMEOUT_S,
                              connection_retry=dict(max_tries=-1, delay=0.05, backoff=1.5,
                                                    max_delay=1.0),
                              command_retry=None)
        self.counter = "%s/k%d" % (ROOT, tid)
        self.fatal = None

    def run(self):
        try:
            self.zk.start(timeout=60)
        except Exception as err:
            self.fatal = "kazoo writer %d could not connect: %r" % (self.tid, err)
            return
        n = 0
        next_t = time.monotonic()
        while not self.stop_event.is_set():
            n += 1
            now = time.monotonic()
            next_t = now if next_t + self.interval < now - 1.0 else next_t + self.interval
            if next_t > now:
                time.sleep(next_t - now)
            data = b"r%d-k%d-%d" % (self.round_no, self.tid, n)
            try:
                if n % 4 == 0:
                    stat = self.zk.set_async(self.counter, data).get(timeout=OP_TIMEOUT_S)
                    self.acks.set(time.monotonic(), self.counter, stat.version, data)
                else:
                    path = "%s/r%d/k%d-%07d" % (ROOT, self.round_no, self.tid, n)
                    self.zk.create_async(path, data).get(timeout=OP_TIMEOUT_S)
                    self.acks.create(time.monotonic(), path, data)
            except Exception:  # connection loss, expiry, timeout: outcome unknown
                self.acks.error()
                self.stop_event.wait(0.02)

    def close(self):
        """Stop writing; a request in flight fails at once (outcome unknown)."""
        self.stop_event.set()
        try:
            self.zk.stop()
        except Exception:
            pass
        self.join(timeout=OP_TIMEOUT_S + 5)
        try:
            self.zk.close()
        except Exception:
            pass


class CLoader:
    """The compiled C client load program on one server, its output parsed."""

    def __init__(self, exe, hostport, round_no, rate):
        self.acks = Acks("c-client")
        self.hostport = hostport
        self.counter = "%s/c" % ROOT
        self.ready = threading.Event()
        self.failure = None
        self.sessions = 0
        argv = [exe, hostport, "%s/r%d/c-" % (ROOT, round_no), self.counter,
                "r%d-c" % round_no, str(int(1e6 / rate))]
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, preexec_fn=servers.die_with_parent)
        _helpers.add(self.proc)
        self.reader = threading.Thread(target=self._read, daemon=True, name="c-loader-reader")
        self.reader.start()

    def _read(self):
        for raw in self.proc.stdout:
            f = raw.decode("utf-8", "replace").split()
            if not f:
                continue
            if f[0] == "C" and len(f) == 4:
                self.acks.create(int(f[1]) / 1e9, f[2], f[3].encode())
            elif f[0] == "S" and len(f) == 5:
                self.acks.set(int(f[1]) / 1e9, f[2], int(f[3]), f[4].encode())
            elif f[0] == "E":
                self.acks.error()
            elif f[0] in ("R", "X"):
                self.sessions += 1
                self.ready.set()
            elif f[0] == "F":
                self.failure = " ".join(f[1:])
                self.ready.set()

    def close(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=OP_TIMEOUT_S + 5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.reader.join(timeout=10)
        _helpers.discard(self.proc)


_helpers = set()  # helper processes to kill on the way out


def kill_helpers():
    for p in list(_helpers):
        try:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=5)
        except Exception:
            pass
        _helpers.discard(p)


def build_loader(workdir):
    src = os.path.join(workdir, "ek_loader.c")
    exe = os.path.join(workdir, "ek_loader")
    with open(src, "w") as f:
        f.write(C_LOADER)
    cmd = ["gcc", "-O2", "-Wall", "-Wextra", "-Werror", "-DTHREADED", "-o", exe, src,
           "-lzookeeper_mt", "-lpthread"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        raise Failure("cannot build the C client load program (%s):\n%s%s" % (
            " ".join(cmd), p.stdout, p.stderr))
    return exe


# ---------------------------------------------------------------------------
# Verification.


def verify_server(member, index, creates, counters, timeout):
    """Every acknowledged write, read back from this server alone. Returns a
    list of problems (empty if all is well)."""
    zk = KazooClient(hosts=member.hostport, timeout=SESSION_TIMEOUT_S,
                     connection_retry=dict(max_tries=-1, delay=0.1, backoff=1.5, max_delay=1.0),
                     command_retry=dict(max_tries=5, delay=0.1, backoff=1.5, max_delay=1.0))
    problems = []
    deadline = time.monotonic() + timeout
    try:
        zk.start(timeout=30)
        zk.sync(ROOT)  # catch up with the leader before reading
        missing, wrong = [], []
        items = sorted(creates.items())
        for k in range(0, len(items), CHECK_BATCH):
            if time.monotonic() > deadline:
                problems.append("server #%d: verification not finished within %.0f s" % (
                    index + 1, timeout))
                break
            batch = items[k:k + CHECK_BATCH]
            pending = [(p, d, zk.get_async(p)) for p, d in batch]
            for path, data, res in pending:
                try:
                    got, _ = res.get(timeout=OP_TIMEOUT_S)
                except NoNodeError:
                    missing.append(path)
                    continue
                if got != data:
                    wrong.append("%s holds %r, acknowledged %r" % (path, got, data))
        for path, (version, data) in sorted(counters.items()):
            try:
                got, stat = zk.get(path)
            except NoNodeError:
                missing.append(path)
                continue
            if stat.version < version:
                wrong.append("%s at version %d < acknowledged %d" % (path, stat.version, version))
            elif stat.version == version and got != data:
                wrong.append("%s at acknowledged version %d holds %r, acknowledged %r" % (
                    path, version, got, data))
        if missing:
            problems.append("server #%d: %d acknowledged nodes missing, e.g. %s" % (
                index + 1, len(missing), ", ".join(missing[:5])))
        if wrong:
            problems.append("server #%d: %d wrong, e.g. %s" % (
                index + 1, len(wrong), "; ".join(wrong[:5])))
    except Exception as err:
        problems.append("server #%d: verification failed: %r" % (index + 1, err))
    finally:
        for f in (zk.stop, zk.close):
            try:
                f()
            except Exception:
                pass
    return problems


# ---------------------------------------------------------------------------
# One round.


def wait_until(pred, timeout, interval=0.05):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            return v
        time.sleep(interval)


def run_round(ens, loader_exe, round_no, args, all_creates, all_counters):
    """One kill/restart round; returns (summary line, problems, the worst
    kazoo session's kill gap, the C client's kill gap)."""
    problems = []
    leader = ens.wait_stable(timeout=90)
    modes = ens.modes()
    followers = [i for i, m in enumerate(modes) if m == "follower"]
    if not followers:
        raise Failure("no follower to put the C client on: %s" % ens.describe(modes))
    follower = followers[round_no % len(followers)]
    log("round %d: %s; leader #%d, C client on follower #%d" % (
        round_no, ens.describe(modes), leader + 1, follower + 1))

    admin = KazooClient(hosts=ens.hosts, timeout=SESSION_TIMEOUT_S)
    admin.start(timeout=60)
    try:
        admin.ensure_path("%s/r%d" % (ROOT, round_no))
        for t in range(args.threads):
            admin.ensure_path("%s/k%d" % (ROOT, t))
        admin.ensure_path("%s/c" % ROOT)
    finally:
        admin.stop()
        admin.close()

    writers = [KazooWriter(ens.hosts, t, round_no, args.rate) for t in range(args.threads)]
    cload = CLoader(loader_exe, ens[follower].hostport, round_no, args.rate)
    try:
        for w in writers:
            w.start()
        if not cload.ready.wait(60) or cload.failure:
            raise Failure("C client on follower #%d: %s" % (
                follower + 1, cload.failure or "no session within 60 s"))

        def flowing():
            return (all(w.acks.count_after(0) >= 5 for w in writers)
                    and cload.acks.count_after(0) >= 5)

        if not wait_until(flowing, 60):
            raise Failure("writes not flowing before the kill: kazoo %s, C client %d (errors %d)" % (
                [w.acks.count_after(0) for w in writers], cload.acks.count_after(0),
                cload.acks.errors))
        for w in writers:
            if w.fatal:
                raise Failure(w.fatal)
        time.sleep(WARMUP_S)

        # -- the kill
        leader = ens.wait_stable(timeout=30)  # still the same one, normally
        pid = ens[leader].proc.pid
        t_kill = time.monotonic()
        ens.kill(leader)
        log("round %d: SIGKILL leader #%d (pid %d)" % (round_no, leader + 1, pid))
        survivors = [i for i in range(ens.size) if i != leader]

        def resumed():
            return (all(w.acks.count_after(t_kill) >= RESUME_ACKS for w in writers)
                    and cload.acks.count_after(t_kill) >= RESUME_ACKS)

        ok = wait_until(resumed, args.max_gap + 5)
        t_resumed = time.monotonic()
        if not ok:
            exited = cload.proc.poll()
            problems.append("writes did not resume within %.0f s of the kill: kazoo %s acks, "
                            "C client %d acks after it%s; %s" % (
                                args.max_gap + 5,
                                [w.acks.count_after(t_kill) for w in writers],
                                cload.acks.count_after(t_kill),
                                "" if exited is None else " (C client exited with %d)" % exited,
                                ens.describe()))
        try:
            new_leader = ens.wait_stable(timeout=60, members=survivors)
            t_elected = time.monotonic()
            log("round %d: new leader #%d (seen %.0f ms after the kill)" % (
                round_no, new_leader + 1, (t_elected - t_kill) * 1000))
        except servers.ServerError as err:
            raise Failure("no single leader among the survivors within 60 s: %s" % err)

        # Per session: merged over sessions, one session's outage would hide
        # behind the writes of the others.
        kill_gaps = {}
        for acks in [w.acks for w in writers] + [cload.acks]:
            with acks.lock:
                times = list(acks.times)
            kill_gaps[acks.name] = g = gap_after(times, t_kill)
            if g is None:
                problems.append("%s: no acknowledged write after the kill" % acks.name)
            elif g[0] > args.max_gap:
                problems.append("%s: write gap %s exceeds %.0f s" % (
                    acks.name, fmt_gap(g, t_kill), args.max_gap))
        kz_gap = worst(kill_gaps[w.acks.name] for w in writers)
        c_gap = kill_gaps[cload.acks.name]
        if ok:
            log("round %d: writes resumed (kazoo worst session gap %s, C client gap %s)" % (
                round_no, fmt_gap(kz_gap, t_kill), fmt_gap(c_gap, t_kill)))
        time.sleep(max(0.0, AFTER_RESUME_S - (time.monotonic() - t_resumed)))

        # -- the restart
        t_restart = time.monotonic()
        try:
            mode = ens.start_member(leader, timeout=90)
        except servers.ServerError as err:
            raise Failure("killed member #%d did not come back: %s" % (leader + 1, err))
        rejoin_s = time.monotonic() - t_restart
        if mode != "follower":
            problems.append("restarted member #%d rejoined as %s, not follower" % (
                leader + 1, mode))
        try:
            final_leader = ens.wait_stable(timeout=60)
        except servers.ServerError as err:
            raise Failure("ensemble not stable after the restart: %s" % err)
        if final_leader != new_leader:
            problems.append("leadership moved from #%d to #%d when #%d rejoined" % (
                new_leader + 1, final_leader + 1, leader + 1))
        log("round %d: member #%d rejoined as %s in %.1f s; %s" % (
            round_no, leader + 1, mode, rejoin_s, ens.describe()))
        time.sleep(AFTER_REJOIN_S)
    finally:
        t_stop = time.monotonic()
        for w in writers:
            w.stop_event.set()
        for w in writers:
            w.close()
        cload.close()

    # A member that rejoins must not stop the writes either.
    later = {}
    for acks in [w.acks for w in writers] + [cload.acks]:
        # from the end of the gap the kill caused (already judged above)
        kill_gap = kill_gaps[acks.name]
        later[acks.name] = g = gap_after(acks.times, kill_gap[2] if kill_gap else t_resumed,
                                         t_stop)
        if g is None:
            problems.append("%s: no acknowledged write after the resumption" % acks.name)
        elif g[0] > args.max_gap:
            problems.append("%s: write gap %s after writes had resumed (restart of #%d at "
                            "kill%+.0f ms) exceeds %.0f s" % (
                                acks.name, fmt_gap(g, t_kill), leader + 1,
                                (t_restart - t_kill) * 1000, args.max_gap))
    kz_later = worst(later[w.acks.name] for w in writers)
    c_later = later[cload.acks.name]

    for w in writers:
        if w.fatal:
            problems.append(w.fatal)
    if cload.failure:
        problems.append("C client: %s" % cload.failure)
    n_creates = 0
    for acks in [w.acks for w in writers] + [cload.acks]:
        all_creates.update(acks.creates)
        n_creates += len(acks.creates)
        for path, (version, data) in acks.counters.items():
            if version > all_counters.get(path, (-1, None))[0]:
                all_counters[path] = (version, data)

    # -- verification on every server
    t_verify = time.monotonic()
    for i in range(ens.size):
        problems += verify_server(ens[i], i, all_creates, all_counters, timeout=60)
    log("round %d: verified %d acknowledged creates and %d counters on %d servers in %.1f s" % (
        round_no, len(all_creates), len(all_counters), ens.size, time.monotonic() - t_verify))

    summary = ("round %d: killed leader #%d; new leader #%d; kazoo gap (worst session) %s; "
               "C client (on #%d) "
               "gap %s; #%d rejoined as %s in %.1f s; longest gap from then on: kazoo %.0f ms, "
               "C %.0f ms; acknowledged %d creates (kazoo %d, C %d), failed/unknown %d" % (
                   round_no, leader + 1, new_leader + 1, fmt_gap(kz_gap, t_kill), follower + 1,
                   fmt_gap(c_gap, t_kill), leader + 1, mode, rejoin_s,
                   kz_later[0] * 1000 if kz_later else float("nan"),
                   c_later[0] * 1000 if c_later else float("nan"), n_creates,
                   sum(len(w.acks.creates) for w in writers), len(cload.acks.creates),
                   sum(w.acks.errors for w in writers) + cload.acks.errors))
    return summary, problems, kz_gap, c_gap


def worst(gaps):
    """The longest of some gaps (None counts as no gap)."""
    gaps = [g for g in gaps if g is not None]
    return max(gaps, key=lambda g: g[0]) if gaps else None


def fmt_gap(g, t_kill):
    if g is None:
        return "none (no write after the kill)"
    return "%.0f ms (kill%+.0f..kill%+.0f ms)" % (
        g[0] * 1000, (g[1] - t_kill) * 1000, (g[2] - t_kill) * 1000)


# ---------------------------------------------------------------------------


def main():
    logging.basicConfig(level=logging.CRITICAL)  # kazoo narrates every lost connection
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--server", required=True, choices=sorted(servers.MEMBER_KINDS))
    ap.add_argument("--size", type=int, default=3, choices=(3, 5))
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--coordd", default=None, help="coordd binary (default $COORDD, then "
                    "build/debug/real/coordd)")
    ap.add_argument("--threads", type=int, default=4, help="kazoo writer sessions")
    ap.add_argument("--rate", type=float, default=250.0,
                    help="most requests per second of each writer (keeps the number of "
                         "writes to verify, and so the run time, independent of the server)")
    ap.add_argument("--tick-ms", type=int, default=2000,
                    help="tickTime of the ensemble (initLimit is 10 ticks: an election "
                         "that strands a server costs up to initLimit x tickTime)")
    ap.add_argument("--max-gap", type=float, default=15.0,
                    help="longest tolerated write gap, seconds (default 15: ZooKeeper shows "
                         "0.4-1 s here; initLimit x tickTime is 20 s)")
    ap.add_argument("--timeout", type=float, default=None,
                    help="bound on the whole run, seconds (default 40 + 40/round for 3 "
                         "servers, 60 + 60/round for 5)")
    args = ap.parse_args()
    if args.timeout is None:
        per = 40 if args.size == 3 else 60
        args.timeout = per + per * args.rounds
    if args.server == "coordd":
        binary = args.coordd or servers.coordd_path()
        if not os.access(binary, os.X_OK):
            print("FAIL: coordd binary not found or not executable: %s (give --coordd or set "
                  "COORDD)" % binary)
            return 1
    else:
        binary = None

    print("ensemble_kill: %s x%d, %d rounds, %d kazoo writers + 1 C client, bound %.0f s" % (
        args.server, args.size, args.rounds, args.threads, args.timeout))
    sys.stdout.flush()
    workdir = tempfile.mkdtemp(prefix="coord-ek-")
    ens = None
    failed = threading.Event()

    def cleanup():
        kill_helpers()
        if ens is not None:
            ens.stop()
            if not failed.is_set() or os.environ.get("KEEP_SERVER_DIRS") == "1":
                ens.cleanup()
            else:
                print("server dirs kept: %s" % ", ".join(m.base_dir for m in ens.members))
        shutil.rmtree(workdir, ignore_errors=True)

    def on_timeout():
        print("FAIL: the run exceeded its bound of %.0f s; stopping every process" % args.timeout)
        if ens is not None:
            try:
                print(ens.describe())
                print(ens.log_tails())
            except Exception:
                pass
        sys.stdout.flush()
        failed.set()
        try:
            cleanup()
        finally:
            os._exit(1)

    import atexit
    atexit.register(kill_helpers)
    watchdog = threading.Timer(args.timeout, on_timeout)
    watchdog.daemon = True
    watchdog.start()
    t0 = time.monotonic()
    summaries, problems, gaps = [], [], []
    try:
        loader = build_loader(workdir)
        ens = servers.Ensemble(args.server, args.size, binary=binary, name="ek",
                               tick_time_ms=args.tick_ms)
        log("starting %s" % ens)
        ens.start(timeout=90)
        log("ensemble up in %.1f s: %s" % (time.monotonic() - t0, ens.describe()))
        all_creates, all_counters = {}, {}
        for r in range(1, args.rounds + 1):
            summary, round_problems, kz_gap, c_gap = run_round(
                ens, loader, r, args, all_creates, all_counters)
            summaries.append(("PASS " if not round_problems else "FAIL ") + summary)
            problems += ["round %d: %s" % (r, p) for p in round_problems]
            gaps.append((kz_gap, c_gap))
            log(summaries[-1])
    except (Failure, servers.ServerError) as err:
        problems.append(str(err))
    except (KeyboardInterrupt, SystemExit) as err:
        problems.append("interrupted (%r); stopped every process" % err)
    except Exception as err:
        import traceback
        traceback.print_exc()
        problems.append("unexpected error: %r" % err)
    finally:
        watchdog.cancel()
        if problems:
            failed.set()
            if ens is not None:
                try:
                    print("ensemble at failure: %s" % ens.describe())
                    print(ens.log_tails())
                except Exception:
                    pass
        cleanup()

    print()
    print("summary (%s x%d, %.1f s):" % (args.server, args.size, time.monotonic() - t0))
    for s in summaries:
        print("  " + s)
    for p in problems:  # details were printed above
        print("  problem: " + p.splitlines()[0])
    kz = [g[0][0] * 1000 for g in gaps if g[0]]
    cc = [g[1][0] * 1000 for g in gaps if g[1]]
    if kz or cc:
        print("  write gaps after leader kill (ms): kazoo %s; C client %s" % (
            ", ".join("%.0f" % x for x in kz) or "-", ", ".join("%.0f" % x for x in cc) or "-"))
    if problems:
        print("FAIL: %d problem(s)" % len(problems))
        return 1
    print("PASS: %d rounds, no acknowledged write lost" % len(summaries))
    return 0


if __name__ == "__main__":
    sys.exit(main())
