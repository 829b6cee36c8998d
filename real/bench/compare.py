#!/usr/bin/python3
"""Side-by-side benchmark: coordd against Apache ZooKeeper 3.8, same load.

Uses the neutral load generator of the project's shared benchmark kit
(zkbench, built on the Apache C client, so both servers see the same client),
starts one coordd and one Apache ZooKeeper standalone server on loopback,
warms ZooKeeper's JVM up, then runs every workload x client count on both,
interleaved run by run (the machine is shared and noisy), and prints:

  - a table of median throughput and p99 latency per cell with the ratio
    coordd / ZooKeeper;
  - the peak resident memory (VmHWM) of each server process.

    real/bench/compare.py [--kit DIR] [--coordd PATH] [--runs 3] [--seconds 5]
                          [--clients 1,8,32] [--inflight 1]
                          [--ops create,set,get,mixed:90] [--size 100]

The kit (zkbench.c) is looked for in $COORD_BENCH_KIT, then ../shared/bench
beside the repository. zkbench is compiled into build/bench/.
"""
import argparse
import csv
import io
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "real"))
import servers  # noqa: E402


class BaselineZooKeeper(servers.ZooKeeperServer):
    """ZooKeeper with the JVM settings of the kit's baseline (-Xmx1000m, default GC)."""

    def command(self):
        cmd = [a for a in super().command() if a not in ("-Xmx512m", "-XX:+UseSerialGC")]
        return [cmd[0], "-Xmx1000m"] + cmd[1:]


def find_kit(arg):
    for cand in (arg, os.environ.get("COORD_BENCH_KIT"),
                 os.path.join(os.path.dirname(REPO), "shared", "bench")):
        if cand and os.path.exists(os.path.join(cand, "zkbench.c")):
            return cand
    sys.exit("compare.py: cannot find zkbench.c (give --kit DIR or set COORD_BENCH_KIT)")


def build_zkbench(kit):
    out_dir = os.path.join(REPO, "build", "bench")
    os.makedirs(out_dir, exist_ok=True)
    exe = os.path.join(out_dir, "zkbench")
    src = os.path.join(kit, "zkbench.c")
    if not os.path.exists(exe) or os.path.getmtime(exe) < os.path.getmtime(src):
        subprocess.check_call(["gcc", "-O2", "-DTHREADED", "-o", exe, src,
                               "-lzookeeper_mt", "-lpthread", "-lm"])
    return exe


def peak_rss_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return -1


def run_zkbench(exe, srv, ops, clients, inflight, size, seconds, label):
    cmd = [exe, "--hosts", srv.hostport, "--clients", str(clients), "--inflight", str(inflight),
           "--ops", ops, "--size", str(size), "--seconds", str(seconds), "--warmup", "1",
           "--csv", "--label", label, "--pids", str(srv.proc.pid)]
    header = subprocess.check_output([exe, "--csv-header"], text=True).strip()
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds * 10 + 120)
    lines = [l for l in p.stdout.splitlines() if l.startswith(label + ",")]
    if p.returncode != 0 or not lines:
        sys.stderr.write("zkbench failed against %s (%s):\n%s\n%s\n" % (
            label, " ".join(cmd), p.stdout[-2000:], p.stderr[-2000:]))
        return None
    row = next(csv.DictReader(io.StringIO(header + "\n" + lines[-1] + "\n")))
    return row


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kit")
    ap.add_argument("--coordd", default=os.path.join(REPO, "build", "release", "real", "coordd"))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--clients", default="1,8,32")
    ap.add_argument("--inflight", type=int, default=1)
    ap.add_argument("--ops", default="create,set,get,mixed:90")
    ap.add_argument("--size", type=int, default=100)
    ap.add_argument("--warmup-seconds", type=int, default=4)
    args = ap.parse_args()
    exe = build_zkbench(find_kit(args.kit))
    clients = [int(c) for c in args.clients.split(",")]
    workloads = args.ops.split(",")
    results = {}  # (ops, clients, server) -> list of rows
    coordd = servers.CoorddServer(binary=args.coordd)
    zk = BaselineZooKeeper()
    with coordd, zk:
        print("coordd pid %d on %s; ZooKeeper pid %d on %s" % (
            coordd.proc.pid, coordd.hostport, zk.proc.pid, zk.hostport))
        print("warming up both servers (%d s per workload) ..." % args.warmup_seconds)
        for ops in workloads:
            for srv, name in ((zk, "zookeeper"), (coordd, "coordd")):
                run_zkbench(exe, srv, ops, 8, 4, args.size, args.warmup_seconds, "warm-" + name)
        for ops in workloads:
            for n in clients:
                for rep in range(args.runs):
                    order = [(coordd, "coordd"), (zk, "zookeeper")]
                    if rep % 2:
                        order.reverse()
                    for srv, name in order:
                        row = run_zkbench(exe, srv, ops, n, args.inflight, args.size,
                                          args.seconds, name)
                        if row is not None:
                            results.setdefault((ops, n, name), []).append(row)
                cells = [results.get((ops, n, s), []) for s in ("coordd", "zookeeper")]
                med = [statistics.median(float(r["ops_per_s"]) for r in rows) if rows else 0.0
                       for rows in cells]
                print("  %-9s %2d clients: coordd %9.0f ops/s, ZooKeeper %9.0f ops/s, ratio %.2f" % (
                    ops, n, med[0], med[1], med[0] / med[1] if med[1] else float("nan")))
                sys.stdout.flush()
        mem = {"coordd": peak_rss_kb(coordd.proc.pid), "zookeeper": peak_rss_kb(zk.proc.pid)}
    print()
    print("| workload | clients | coordd ops/s | ZooKeeper ops/s | ratio | coordd p99 us | "
          "ZooKeeper p99 us | coordd CPU us/op | ZooKeeper CPU us/op |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for ops in workloads:
        for n in clients:
            c = results.get((ops, n, "coordd"), [])
            z = results.get((ops, n, "zookeeper"), [])
            if not c or not z:
                print("| %s | %d | (failed) |" % (ops, n))
                continue

            def med(rows, key):
                return statistics.median(float(r[key]) for r in rows)

            def cpu_per_op(rows):
                vals = [float(r["servers_cpu_pct"]) / 100.0 * 1e6 / float(r["ops_per_s"])
                        for r in rows if float(r["ops_per_s"]) > 0]
                return statistics.median(vals) if vals else float("nan")

            co, zo = med(c, "ops_per_s"), med(z, "ops_per_s")
            print("| %s | %d | %.0f | %.0f | %.2fx | %.0f | %.0f | %.0f | %.0f |" % (
                ops, n, co, zo, co / zo if zo else float("nan"), med(c, "p99_us"),
                med(z, "p99_us"), cpu_per_op(c), cpu_per_op(z)))
    print()
    print("Peak resident memory (VmHWM): coordd %.1f MiB, ZooKeeper %.1f MiB, ratio %.3f" % (
        mem["coordd"] / 1024.0, mem["zookeeper"] / 1024.0,
        mem["coordd"] / mem["zookeeper"] if mem["zookeeper"] > 0 else float("nan")))
    print("(%d runs per cell, median; %d s windows; %d in flight per client; %d-byte values)" % (
        args.runs, args.seconds, args.inflight, args.size))
    return 0


if __name__ == "__main__":
    sys.exit(main())
