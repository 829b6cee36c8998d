#!/usr/bin/env python3
"""Run coordsim scenarios over many seeds and report the seeds that break an
expectation, with the command that replays each one (`./run swarm`).

    tests/sim/swarm.py [--coordsim PATH] [--runs N] [--first SEED] [--jobs J]
                       [--set KEY=VALUE ...] [SCENARIO ...]

Default scenario: scenarios/random-nemesis.yaml. Every run is deterministic, so
a failing seed is a regression test: keep its output directory (--keep) or
replay it with the printed command. Exit status 1 when some seed failed.
"""
import argparse
import concurrent.futures
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def run_one(coordsim, scenario, seed, sets, tmp, timeout):
    out = os.path.join(tmp, f"{os.path.basename(scenario)}-{seed}")
    cmd = [coordsim, scenario, "--seed", str(seed), "--out", out]
    for s in sets:
        cmd += ["--set", s]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return scenario, seed, -1, [f"still running after {timeout} wall s (a livelock?)"], out, cmd
    failed = []
    if p.returncode == 1:
        try:
            with open(os.path.join(out, "summary.json")) as f:
                summary = json.load(f)
            failed = [f"{e['name']}: expected {e['expected']}, got {e['actual']}"
                      for e in summary["expect"] if not e["pass"]]
            if summary.get("error"):
                failed.append(summary["error"])
        except (OSError, ValueError, KeyError) as e:
            failed = [f"unreadable summary: {e}"]
    elif p.returncode != 0:
        failed = [f"exit status {p.returncode}: {(p.stderr or p.stdout).strip()[-300:]}"]
    return scenario, seed, p.returncode, failed, out, cmd


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("scenarios", nargs="*", default=[os.path.join(ROOT, "scenarios/random-nemesis.yaml")])
    ap.add_argument("--coordsim", default=os.path.join(ROOT, "build/release/sim/coordsim"))
    ap.add_argument("--runs", type=int, default=200, help="seeds per scenario")
    ap.add_argument("--first", type=int, default=1, help="first seed")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--set", action="append", default=[], help="passed to coordsim")
    ap.add_argument("--keep", help="copy the output of failing seeds under this directory")
    ap.add_argument("--timeout", type=float, default=300, help="wall seconds per run")
    args = ap.parse_args()
    if not os.access(args.coordsim, os.X_OK):
        print(f"swarm: {args.coordsim} is not an executable (build the release preset)",
              file=sys.stderr)
        return 2
    t0 = time.monotonic()
    bad = []
    done = 0
    total = args.runs * len(args.scenarios)
    with tempfile.TemporaryDirectory(prefix="coordsim-swarm-") as tmp:
        with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
            futures = [pool.submit(run_one, args.coordsim, sc, seed, args.set, tmp, args.timeout)
                       for sc in args.scenarios
                       for seed in range(args.first, args.first + args.runs)]
            for fut in concurrent.futures.as_completed(futures):
                scenario, seed, rc, failed, out, cmd = fut.result()
                done += 1
                if failed:
                    bad.append((scenario, seed, failed, cmd))
                    print(f"FAIL {os.path.basename(scenario)} seed {seed}: {'; '.join(failed)}",
                          flush=True)
                    if args.keep and os.path.isdir(out):
                        dest = os.path.join(args.keep, os.path.basename(out))
                        shutil.rmtree(dest, ignore_errors=True)
                        shutil.copytree(out, dest)
                else:
                    shutil.rmtree(out, ignore_errors=True)
                if sys.stderr.isatty():
                    print(f"\r  {done}/{total} runs, {len(bad)} failed", end="", file=sys.stderr)
    if sys.stderr.isatty():
        print(file=sys.stderr)
    print(f"{total} runs in {time.monotonic() - t0:.0f} s: {len(bad)} failed")
    for scenario, seed, failed, cmd in sorted(bad, key=lambda b: (b[0], b[1])):
        replay = " ".join(c for c in cmd if not c.startswith(tempfile.gettempdir()))
        print(f"  replay: {replay.replace(' --out', '')}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
