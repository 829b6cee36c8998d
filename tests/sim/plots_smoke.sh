#!/usr/bin/env bash
# plots/plot.sh draws well-formed pictures from real coordsim outputs: a run
# with faults, a crash and every kind of outcome, and a run with no client
# operation at all (empty data files must not break gnuplot).
#   tests/sim/plots_smoke.sh COORDSIM SOURCE_DIR
set -euo pipefail
coordsim=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$coordsim" "$src/scenarios/determinism-smoke.yaml" --out "$tmp/run" >/dev/null
"$coordsim" "$src/scenarios/determinism-smoke.yaml" --out "$tmp/empty" \
    --set workload.kind=none --set clients.count=0 --set 'faults=[]' >/dev/null || true
for d in run empty; do
    bash "$src/plots/plot.sh" "$tmp/$d" >/dev/null
    for f in timeline.svg latency.svg timeline.png latency.png; do
        [ -s "$tmp/$d/$f" ] || { echo "FAIL: $d/$f missing or empty"; exit 1; }
    done
    for f in timeline.svg latency.svg; do
        python3 -c "import sys, xml.etree.ElementTree as E; E.parse(sys.argv[1])" "$tmp/$d/$f" ||
            { echo "FAIL: $d/$f is not well-formed XML"; exit 1; }
    done
    echo "ok: $d: $(ls "$tmp/$d" | grep -cE '\.(svg|png)$') pictures"
done
# Bad input: a directory that is not a coordsim output is refused with exit 2.
if bash "$src/plots/plot.sh" "$tmp" 2>"$tmp/err"; then
    echo "FAIL: plot.sh accepted a directory without plot data"; exit 1
fi
grep -q "is missing" "$tmp/err" || { echo "FAIL: unclear error: $(cat "$tmp/err")"; exit 1; }
echo "plots: ok"
