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

With --ensemble N it starts an N-server coordd ensemble and an N-server
Apache ZooKeeper ensemble instead (tests/real/servers.py's Ensemble; the
ZooKeeper command line of the kit's zk-up.sh), gives zkbench every member so
that it spreads its sessions round-robin over them (as the kit's BASELINE
does), and sums CPU per op and peak RSS over the N server processes.
--only runs one of the two servers (no ratios).

    real/bench/compare.py [--kit DIR] [--coordd PATH] [--runs 3] [--seconds 5]
                          [--clients 1,8,32] [--inflight 1]
                          [--ops create,set,get,mixed:90] [--size 100]
                          [--ensemble 3] [--only coordd|zookeeper]

The kit (zkbench.c) is looked for in $COORD_BENCH_KIT, then ../shared/bench
beside the repository. zkbench is compiled into build/bench/.
"""
import argparse
import contextlib
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


class Target:
    """What zkbench is pointed at: one server or an ensemble."""

    def __init__(self, name, server=None, ensemble=None):
        self.name = name
        self.server = server
        self.ensemble = ensemble

    def __enter__(self):
        (self.ensemble or self.server).__enter__()
        return self

    def __exit__(self, *exc):
        return (self.ensemble or self.server).__exit__(*exc)

    @property
    def hosts(self):
        return self.ensemble.hosts if self.ensemble else self.server.hostport

    def pids(self):
        return self.ensemble.pids() if self.ensemble else [self.server.proc.pid]

    def peak_rss_kb(self):
        vals = [peak_rss_kb(p) for p in self.pids()]
        return sum(vals) if vals and min(vals) >= 0 else -1

    def describe(self):
        if self.ensemble:
            return "%s ensemble: %s" % (self.name, self.ensemble.describe())
        return "%s pid %d on %s" % (self.name, self.server.proc.pid, self.server.hostport)


def run_zkbench(exe, target, ops, clients, inflight, size, seconds, label):
    cmd = [exe, "--hosts", target.hosts, "--clients", str(clients), "--inflight", str(inflight),
           "--ops", ops, "--size", str(size), "--seconds", str(seconds), "--warmup", "1",
           "--csv", "--label", label, "--pids", ",".join(str(p) for p in target.pids())]
    header = subprocess.check_output([exe, "--csv-header"], text=True).strip()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds * 10 + 120)
    except subprocess.TimeoutExpired:
        sys.stderr.write("zkbench against %s did not finish in %d s (%s)\n" % (
            label, seconds * 10 + 120, " ".join(cmd)))
        return None
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
    ap.add_argument("--ensemble", type=int, default=0, metavar="N",
                    help="N-server ensembles instead of standalone servers")
    ap.add_argument("--only", choices=("coordd", "zookeeper"))
    args = ap.parse_args()
    exe = build_zkbench(find_kit(args.kit))
    clients = [int(c) for c in args.clients.split(",")]
    workloads = args.ops.split(",")
    names = [args.only] if args.only else ["coordd", "zookeeper"]
    if "coordd" in names and not os.access(args.coordd, os.X_OK):
        sys.exit("compare.py: coordd binary not found: %s (give --coordd)" % args.coordd)
    targets = {}
    for name in names:
        if args.ensemble:
            ens = servers.Ensemble(name, args.ensemble,
                                   binary=args.coordd if name == "coordd" else None,
                                   name="bench")
            targets[name] = Target(name, ensemble=ens)
        elif name == "coordd":
            targets[name] = Target(name, server=servers.CoorddServer(binary=args.coordd))
        else:
            targets[name] = Target(name, server=BaselineZooKeeper())
    results = {}  # (ops, clients, server) -> list of rows
    with contextlib.ExitStack() as stack:
        for name in names:
            stack.enter_context(targets[name])
            print(targets[name].describe())
        print("warming up (%d s per workload) ..." % args.warmup_seconds)
        for ops in workloads:
            for name in reversed(names):
                run_zkbench(exe, targets[name], ops, 8, 4, args.size, args.warmup_seconds,
                            "warm-" + name)
        for ops in workloads:
            for n in clients:
                for rep in range(args.runs):
                    order = list(names)
                    if rep % 2:
                        order.reverse()
                    for name in order:
                        row = run_zkbench(exe, targets[name], ops, n, args.inflight, args.size,
                                          args.seconds, name)
                        if row is not None:
                            results.setdefault((ops, n, name), []).append(row)
                med = {name: (statistics.median(float(r["ops_per_s"])
                                                for r in results[(ops, n, name)])
                              if results.get((ops, n, name)) else 0.0) for name in names}
                line = ", ".join("%s %9.0f ops/s" % (name, med[name]) for name in names)
                if len(names) == 2:
                    line += ", ratio %.2f" % (med["coordd"] / med["zookeeper"]
                                              if med["zookeeper"] else float("nan"))
                print("  %-9s %2d clients: %s" % (ops, n, line))
                sys.stdout.flush()
        mem = {name: targets[name].peak_rss_kb() for name in names}

    def med(rows, key):
        return statistics.median(float(r[key]) for r in rows)

    def cpu_per_op(rows):
        vals = [float(r["servers_cpu_pct"]) / 100.0 * 1e6 / float(r["ops_per_s"])
                for r in rows if float(r["ops_per_s"]) > 0]
        return statistics.median(vals) if vals else float("nan")

    label = {"coordd": "coordd", "zookeeper": "ZooKeeper"}
    print()
    if args.ensemble:
        print("%d-server ensembles; CPU per op and memory summed over the %d server processes" % (
            args.ensemble, args.ensemble))
        print()
    cols = ["workload", "clients"]
    for key in ("ops/s", "p99 us", "CPU us/op"):
        for name in names:
            cols.append("%s %s" % (label[name], key))
        if len(names) == 2 and key == "ops/s":
            cols.append("ratio")
    print("| " + " | ".join(cols) + " |")
    print("|---|" + "---:|" * (len(cols) - 1))
    for ops in workloads:
        for n in clients:
            rows = {name: results.get((ops, n, name), []) for name in names}
            if not all(rows.values()):
                print("| %s | %d | (failed: %s) |" % (
                    ops, n, ", ".join(name for name in names if not rows[name])))
                continue
            cells = [ops, "%d" % n]
            for name in names:
                cells.append("%.0f" % med(rows[name], "ops_per_s"))
            if len(names) == 2:
                zo = med(rows["zookeeper"], "ops_per_s")
                cells.append("%.2fx" % (med(rows["coordd"], "ops_per_s") / zo if zo
                                        else float("nan")))
            for name in names:
                cells.append("%.0f" % med(rows[name], "p99_us"))
            for name in names:
                cells.append("%.0f" % cpu_per_op(rows[name]))
            print("| " + " | ".join(cells) + " |")
    print()
    what = "summed over %d members" % args.ensemble if args.ensemble else "one process"
    line = ", ".join("%s %.1f MiB" % (label[name], mem[name] / 1024.0) for name in names)
    if len(names) == 2:
        line += ", ratio %.3f" % (mem["coordd"] / mem["zookeeper"] if mem["zookeeper"] > 0
                                  else float("nan"))
    print("Peak resident memory (VmHWM, %s): %s" % (what, line))
    print("(%d runs per cell, median; %d s windows; %d in flight per client; %d-byte values)" % (
        args.runs, args.seconds, args.inflight, args.size))
    return 0


if __name__ == "__main__":
    sys.exit(main())
