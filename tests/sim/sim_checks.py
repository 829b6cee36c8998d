#!/usr/bin/env python3
"""Checks of coordsim itself: determinism, that its faults are real, and that
bad scenarios are refused cleanly.

    sim_checks.py COORDSIM SOURCE_DIR CHECK

CHECK is one of:
  determinism  two scenarios run twice with one seed give byte-identical
               history, trace and summary; another seed gives another run
  partition    while a partition stands, no peer message crosses it (counted
               in the trace); messages cross it before and after
  crash        a crashed server's unsynced log records are gone after restart
  drift        a +50% server clock expires a cut-off session early by the
               expected amount (compared with the same run without drift)
  bad          every malformed scenario in tests/sim/bad gives exit status 2
               and its intended message, never a crash
Exit status 0 when the check holds, 1 otherwise.
"""
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile


def run(coordsim, scenario, out, *args, expect_rc=None):
    cmd = [coordsim, scenario, "--out", out, *args]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if expect_rc is not None and p.returncode != expect_rc:
        sys.stdout.write(p.stdout)
        sys.stdout.write(p.stderr)
        raise AssertionError(f"{' '.join(cmd)}: exit {p.returncode}, expected {expect_rc}")
    return p


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def trace(out):
    with open(os.path.join(out, "trace.jsonl")) as f:
        return [json.loads(line) for line in f]


def check_determinism(coordsim, src, tmp):
    scenarios = ["scenarios/determinism-smoke.yaml", "scenarios/leader-crash-restart.yaml"]
    files = ["history.jsonl", "trace.jsonl", "summary.json"]
    for sc in scenarios:
        path = os.path.join(src, sc)
        sums = []
        for i in range(2):
            out = os.path.join(tmp, f"det{i}")
            shutil.rmtree(out, ignore_errors=True)
            run(coordsim, path, out, "--seed", "42")
            sums.append([digest(os.path.join(out, f)) for f in files])
        for f, a, b in zip(files, sums[0], sums[1]):
            print(f"{sc} seed 42 {f}: {a[:16]} {b[:16]}")
            assert a == b, f"{sc}: {f} differs between two runs with the same seed"
        out = os.path.join(tmp, "det-other")
        shutil.rmtree(out, ignore_errors=True)
        run(coordsim, path, out, "--seed", "43")
        other = [digest(os.path.join(out, f)) for f in files]
        print(f"{sc} seed 43 history.jsonl: {other[0][:16]}")
        assert other[0] != sums[0][0], f"{sc}: seeds 42 and 43 gave the same history"


def check_partition(coordsim, src, tmp):
    out = os.path.join(tmp, "partition")
    run(coordsim, os.path.join(src, "tests/sim/partition-messages.yaml"), out)
    events = trace(out)
    faults = [e for e in events if e.get("kind") == "fault" and e.get("fault") == "isolate"]
    assert len(faults) == 2, f"expected the isolate fault and its undo, got {faults}"
    start, end = faults[0]["t"], faults[1]["t"]
    msgs = [e for e in events if e.get("kind") == "msg"]
    cut = {("s1", "s2"), ("s2", "s1"), ("s1", "s3"), ("s3", "s1")}

    def crossing(m):
        return (m["from"], m["to"]) in cut

    during = [m for m in msgs if crossing(m) and m["t"] >= start and m["t"] < end]
    sent_during = [m for m in msgs if crossing(m) and m["sent"] >= start and m["sent"] < end]
    before = [m for m in msgs if crossing(m) and m["t"] < start]
    after = [m for m in msgs if crossing(m) and m["t"] >= end]
    inside = [m for m in msgs if (m["from"], m["to"]) in {("s2", "s3"), ("s3", "s2")}
              and start <= m["t"] < end]
    print(f"cut [{start:.3f}, {end:.3f}): peer messages delivered across it while it stood: "
          f"{len(during)} (sent while it stood: {len(sent_during)}); before: {len(before)}, "
          f"after: {len(after)}; between s2 and s3 meanwhile: {len(inside)}")
    assert not during and not sent_during, f"messages crossed the partition: {during[:3]}"
    assert before and after, "no message crossed before or after: the check would prove nothing"
    assert inside, "the majority side exchanged no message while cut off"


def check_crash(coordsim, src, tmp):
    out = os.path.join(tmp, "crash")
    run(coordsim, os.path.join(src, "tests/sim/crash-unsynced.yaml"), out, expect_rc=0)
    events = trace(out)
    crashes = [e for e in events if e.get("kind") == "crash" and e.get("node") == "s3"]
    assert len(crashes) == 1, f"expected one crash of s3, got {crashes}"
    c = crashes[0]
    rec = [e for e in events if e.get("kind") == "recovered" and e.get("node") == "s3"
           and e["t"] > c["t"]]
    assert rec, "s3 never recovered"
    r = rec[0]
    print(f"s3 crashed at {c['t']:.3f} with {c['records_lost']} unsynced records lost "
          f"(logged up to {c['last_logged']}, durable up to {c['last_durable']}); "
          f"restarted at {r['t']:.3f} with its log up to {r['last_logged']}")
    assert c["records_lost"] > 0, "nothing was unsynced at the crash: the check proves nothing"
    assert int(c["last_logged"], 16) > int(c["last_durable"], 16)
    assert r["last_logged"] == c["last_durable"], \
        "after the restart the log does not end at the last durable record"


def expiry_delay(coordsim, src, tmp, name, *sets):
    out = os.path.join(tmp, name)
    args = []
    for s in sets:
        args += ["--set", s]
    run(coordsim, os.path.join(src, "tests/sim/drift-expiry.yaml"), out, *args)
    events = trace(out)
    cut = [e["t"] for e in events if e.get("kind") == "fault" and e.get("fault") == "isolate"]
    exp = [e["t"] for e in events if e.get("kind") == "session_expired"]
    assert cut and exp, f"{name}: no cut or no expiry in the trace"
    return exp[0] - cut[0]


def check_drift(coordsim, src, tmp):
    fast = expiry_delay(coordsim, src, tmp, "drift50")
    normal = expiry_delay(coordsim, src, tmp, "drift0", "faults.0.percent=0")
    print(f"session expiry after the cut: {fast:.3f} s with the servers' clocks +50%, "
          f"{normal:.3f} s without drift; difference {normal - fast:.3f} s "
          f"(expected 6 s - 6 s / 1.5 = 2 s)")
    # The client was last heard at most 2 s (timeout / 3, its ping interval)
    # before the cut, and the leader expires sessions on tick boundaries
    # (0.5 s here, on its own clock): the expiry comes 6 s of the leader's
    # clock after the last contact, give or take those.
    assert 6.0 / 1.5 - 2.1 <= fast <= 6.0 / 1.5 + 0.6, f"with drift: {fast}"
    assert 6.0 - 2.1 <= normal <= 6.0 + 0.6, f"without drift: {normal}"
    assert 1.5 <= normal - fast <= 2.5, f"early by {normal - fast} s, expected about 2 s"


def check_bad(coordsim, src, tmp):
    bad = os.path.join(src, "tests/sim/bad")
    expected = {}
    with open(os.path.join(bad, "EXPECTED")) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            name, where, text = line.split("\t", 2)
            expected[name] = (where, text)
    files = sorted(n for n in os.listdir(bad) if n.endswith(".yaml"))
    assert len(files) >= 15, f"only {len(files)} bad scenarios"
    failures = 0
    for name in files:
        p = run(coordsim, os.path.join(bad, name), os.path.join(tmp, "bad"))
        where, text = expected.get(name, ("?", "?"))
        # "-": a message about the whole file, without a position.
        head = f"{os.path.join(bad, name)}:" + ("" if where == "-" else f"{where}:")
        ok = p.returncode == 2 and head in p.stderr and text in p.stderr
        print(f"{'ok  ' if ok else 'FAIL'} {name}: exit {p.returncode}: {p.stderr.strip()}")
        failures += not ok
    # Bad arguments are exit 2 too.
    for args in (["--seed", "x", os.path.join(src, "scenarios/determinism-smoke.yaml")],
                 ["--frobnicate"], [], ["--set", "no-equals-sign",
                                        os.path.join(src, "scenarios/determinism-smoke.yaml")],
                 [os.path.join(tmp, "does-not-exist.yaml")]):
        p = subprocess.run([coordsim, *args], capture_output=True, text=True, timeout=60)
        ok = p.returncode == 2 and p.stderr.strip() != ""
        print(f"{'ok  ' if ok else 'FAIL'} coordsim {' '.join(args)}: exit {p.returncode}: "
              f"{p.stderr.strip().splitlines()[0] if p.stderr.strip() else ''}")
        failures += not ok
    assert failures == 0, f"{failures} bad inputs were not refused as intended"


def main():
    if len(sys.argv) != 4:
        print(__doc__)
        return 2
    coordsim, src, check = sys.argv[1:]
    checks = {"determinism": check_determinism, "partition": check_partition,
              "crash": check_crash, "drift": check_drift, "bad": check_bad}
    if check not in checks:
        print(__doc__)
        return 2
    tmp = tempfile.mkdtemp(prefix="coordsim-check-")
    try:
        checks[check](coordsim, src, tmp)
    except AssertionError as e:
        print(f"FAIL: {e}")
        return 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{check}: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
