#!/usr/bin/env bash
# Draw the pictures of one coordsim run:
#   plots/plot.sh DIR     ->  DIR/timeline.svg, DIR/latency.svg (and .png of both)
# DIR is what `coordsim --out DIR` wrote (it needs DIR/plot/*.dat).
# What the pictures show: plots/README.md.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if [ $# -ne 1 ]; then
    echo "usage: plots/plot.sh DIR   (a directory written by coordsim --out DIR)" >&2
    exit 2
fi
dir=$1
for f in ops roles faults meta; do
    if [ ! -r "$dir/plot/$f.dat" ]; then
        echo "plots/plot.sh: $dir/plot/$f.dat is missing: is $dir a coordsim output directory?" >&2
        exit 2
    fi
done
if ! command -v gnuplot >/dev/null; then
    echo "plots/plot.sh: gnuplot is not installed (Debian: apt-get install gnuplot-nox)" >&2
    exit 2
fi
meta() { awk -v k="$1" '$1 == k { print $2 }' "$dir/plot/meta.dat"; }
name=$(meta name); seed=$(meta seed); duration=$(meta duration)
servers=$(meta servers); verdict=$(meta verdict)
rows() { grep -vc '^#' "$1" || true; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Large runs: keep every failed, unknown or pending operation, and a sample of
# the acknowledged ones, so the SVG stays small enough for a browser.
ok_rows=$(awk '!/^#/ && $4 == "ok"' "$dir/plot/ops.dat" | wc -l)
every=$(( ok_rows > 20000 ? (ok_rows + 19999) / 20000 : 1 ))
awk -v every="$every" '/^#/ { next } $4 != "ok" || (n++ % every) == 0' "$dir/plot/ops.dat" \
    > "$tmp/ops.dat"
awk '!/^#/' "$dir/plot/roles.dat" > "$tmp/roles.dat"
awk '!/^#/' "$dir/plot/faults.dat" > "$tmp/faults.dat"
# Latency CDFs of the acknowledged operations, one file per type.
cdfs=""
for t in read write cas create other; do
    awk -v t="$t" '!/^#/ && $4 == "ok" && $3 == t { print $2 }' "$dir/plot/ops.dat" | sort -g |
        awk '{ v[NR] = $1 } END { for (i = 1; i <= NR; i++) print v[i], i / NR }' > "$tmp/cdf_$t.dat"
    [ -s "$tmp/cdf_$t.dat" ] && cdfs="$cdfs $t"
done
args=(-e "cdfdir='$tmp'" -e "cdfs='${cdfs# }'" -e "ops='$tmp/ops.dat'" -e "roles='$tmp/roles.dat'" -e "faults='$tmp/faults.dat'"
      -e "name='$name'" -e "seed='$seed'" -e "verdict='$verdict'" -e "duration=$duration"
      -e "servers=$servers" -e "nops=$(rows "$tmp/ops.dat")" -e "nroles=$(rows "$tmp/roles.dat")"
      -e "nfaults=$(rows "$tmp/faults.dat")" -e "every=$every")
# An empty data file (no fault in the run, say) only makes gnuplot warn.
quiet() { grep -v "no valid points" >&2 || true; }
for ext in svg png; do
    gnuplot "${args[@]}" -e "out='$dir/timeline.$ext'" "$here/timeline.gp" 2> >(quiet)
    gnuplot "${args[@]}" -e "out='$dir/latency.$ext'" "$here/latency.gp" 2> >(quiet)
done
wait
echo "pictures: $dir/timeline.svg $dir/latency.svg (and .png)"
