#!/usr/bin/env python3
"""How fast coordsim simulates: simulated seconds per wall second for 3 and 5
servers with 10, 100 and 1000 clients, each client doing RATE operations per
second (register workload: reads, writes, compare-and-set) for DURATION
simulated seconds. Prints one table row per run, with the operations done and
the peak memory.

    tests/bench/sim_speed.py [--coordsim PATH] [--duration S] [--rate R]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--coordsim", default=os.path.join(ROOT, "build/release/sim/coordsim"))
    ap.add_argument("--duration", type=float, default=600)
    ap.add_argument("--rate", type=float, default=2.0, help="operations per second per client")
    ap.add_argument("--servers", default="3,5")
    ap.add_argument("--clients", default="10,100,1000")
    args = ap.parse_args()
    print(f"{'servers':>7} {'clients':>7} {'sim s':>6} {'wall s':>7} {'sim s/wall s':>12} "
          f"{'ops ok':>8} {'events':>9} {'max RSS MiB':>11}  verdict")
    with tempfile.TemporaryDirectory(prefix="coordsim-speed-") as tmp:
        for servers in [int(x) for x in args.servers.split(",")]:
            for clients in [int(x) for x in args.clients.split(",")]:
                out = os.path.join(tmp, f"s{servers}c{clients}")
                cmd = [args.coordsim, os.path.join(HERE, "sim-speed.yaml"), "--out", out,
                       "--set", f"ensemble.servers={servers}", "--set", f"clients.count={clients}",
                       "--set", f"workload.rate={args.rate}", "--set", f"duration={args.duration}"]
                t0 = time.monotonic()
                with open(os.path.join(tmp, "log"), "w+") as log:
                    p = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
                    _, status, usage = os.wait4(p.pid, 0)
                    wall = time.monotonic() - t0
                    rc = os.waitstatus_to_exitcode(status)
                    if rc not in (0, 1):
                        log.seek(0)
                        sys.stdout.write(log.read())
                        return 1
                with open(os.path.join(out, "summary.json")) as f:
                    s = json.load(f)
                rss = usage.ru_maxrss / 1024
                print(f"{servers:>7} {clients:>7} {args.duration:>6.0f} {wall:>7.2f} "
                      f"{args.duration / wall:>12.1f} {s['ops']['all']['ok']:>8} "
                      f"{s['server_events']:>9} {rss:>11.0f}  {s['verdict']}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
