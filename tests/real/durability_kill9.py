#!/usr/bin/python3
"""kill -9 durability: every write a client saw acknowledged survives SIGKILL.

Runs a pipelined write load (kazoo, 64 requests in flight: creates of new
nodes and setData on a few counters) against the server, SIGKILLs it at a
random moment, restarts it on the same data directory, and checks that every
acknowledged create is there with its exact data and that every counter
holds at least its last acknowledged version. Writes whose outcome the client
never learned may or may not be there. Repeats --rounds times (default 20) on
the same data directory, with a small snapCount so recovery goes through
snapshots, log replay and purges.

    durability_kill9.py [--server coordd|zookeeper] [--rounds N] [--seed S]

Prints one line per round and a closing `N passed, M failed` line.
"""
import argparse
import logging
import os
import random
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import servers  # noqa: E402

from kazoo.client import KazooClient  # noqa: E402
from kazoo.exceptions import NoNodeError  # noqa: E402

COUNTERS = 4
INFLIGHT = 64


class Load:
    """A pipelined writer that records what the server acknowledged."""

    def __init__(self, hostport, round_no):
        self.zk = KazooClient(hosts=hostport, timeout=10, connection_retry=None,
                              command_retry=None)
        self.round_no = round_no
        self.acked_creates = {}     # path -> data
        self.acked_versions = {}    # counter path -> highest acknowledged version
        self.sem = threading.Semaphore(INFLIGHT)
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.issued = 0

    def _done_create(self, path, data):
        def cb(async_result):
            self.sem.release()
            if async_result.successful():
                with self.lock:
                    self.acked_creates[path] = data
        return cb

    def _done_set(self, path):
        def cb(async_result):
            self.sem.release()
            if async_result.successful():
                version = async_result.get().version
                with self.lock:
                    if version > self.acked_versions.get(path, -1):
                        self.acked_versions[path] = version
        return cb

    def run(self):
        self.zk.start(timeout=10)
        self.zk.ensure_path("/k9/r%d" % self.round_no)
        for i in range(COUNTERS):
            self.zk.ensure_path("/k9/c%d" % i)
        n = 0
        while not self.stop.is_set():
            if not self.sem.acquire(timeout=0.05):
                continue
            n += 1
            try:
                if n % 4 == 0:
                    path = "/k9/c%d" % (n % COUNTERS)
                    self.zk.set_async(path, b"v%d" % n).rawlink(self._done_set(path))
                else:
                    path = "/k9/r%d/n%07d" % (self.round_no, n)
                    data = b"round %d write %d" % (self.round_no, n)
                    self.zk.create_async(path, data).rawlink(self._done_create(path, data))
                self.issued += 1
            except Exception:
                self.sem.release()
                if not self.zk.connected:
                    time.sleep(0.01)


def check(hostport, acked_creates, acked_versions):
    zk = KazooClient(hosts=hostport, timeout=10)
    zk.start(timeout=15)
    missing = []
    wrong = []
    try:
        for path, data in acked_creates.items():
            try:
                got, _ = zk.get(path)
            except NoNodeError:
                missing.append(path)
                continue
            if got != data:
                wrong.append(path)
        for path, version in acked_versions.items():
            _, stat = zk.get(path)
            if stat.version < version:
                wrong.append("%s version %d < acknowledged %d" % (path, stat.version, version))
    finally:
        zk.stop()
        zk.close()
    return missing, wrong


def main():
    logging.basicConfig(level=logging.CRITICAL)  # kazoo narrates every dropped connection
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--server", default="coordd", choices=sorted(servers.SERVER_KINDS))
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--seed", type=int, default=None)
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    print("kill -9 durability against %s, %d rounds, seed %d" % (args.server, args.rounds, seed))
    cls = servers.server_class(args.server)
    passed = failed = 0
    with cls(extra_cfg=["snapCount=2000"]) as srv:  # started by the context manager
        all_creates = {}
        all_versions = {}
        for r in range(args.rounds):
            load = Load(srv.hostport, r)
            t = threading.Thread(target=load.run, daemon=True)
            t.start()
            delay = rng.uniform(0.2, 1.5)
            time.sleep(delay)
            srv.kill()                      # SIGKILL, mid-load
            load.stop.set()
            t.join(timeout=15)
            with load.lock:
                all_creates.update(load.acked_creates)
                for p, v in load.acked_versions.items():
                    all_versions[p] = max(v, all_versions.get(p, -1))
            try:
                load.zk.stop()
                load.zk.close()
            except Exception:
                pass
            srv.start()
            missing, wrong = check(srv.hostport, all_creates, all_versions)
            ok = not missing and not wrong
            passed += ok
            failed += not ok
            print("%s round %2d: killed after %.2f s, %d writes issued, %d creates acknowledged "
                  "(%d checked in all)%s" % (
                      "PASS" if ok else "FAIL", r, delay, load.issued, len(load.acked_creates),
                      len(all_creates),
                      "" if ok else ": missing %s wrong %s" % (missing[:5], wrong[:5])))
            sys.stdout.flush()
    print("reproduce with --seed %d" % seed)
    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
