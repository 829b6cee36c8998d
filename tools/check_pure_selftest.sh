#!/bin/sh
# Proves the purity check can fail: plants a call to time(NULL) and one to
# printf in a copy of the protocol library and expects check_pure.sh to
# reject each, naming the symbol. Usage: check_pure_selftest.sh CC libcoord_protocol.a
set -eu
cc=$1
lib=$2
here=$(dirname "$0")
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
for planted in 'time(0)' 'printf("x")'; do
    sym=${planted%%(*}
    printf '#include <stdio.h>\n#include <time.h>\nint coord_planted(void);\nint coord_planted(void) { return (int)%s; }\n' \
        "$planted" >"$dir/planted.c"
    "$cc" -c "$dir/planted.c" -o "$dir/planted.o"
    cp "$lib" "$dir/lib.a"
    ar r "$dir/lib.a" "$dir/planted.o" 2>/dev/null
    if out=$(sh "$here/check_pure.sh" "$dir/lib.a"); then
        echo "FAIL: check_pure.sh accepted a library calling $sym"
        exit 1
    fi
    echo "$out" | grep -qx "  $sym" || { echo "FAIL: $sym not named in: $out"; exit 1; }
    echo "ok: a planted $sym is rejected"
done
sh "$here/check_pure.sh" "$lib" >/dev/null || { echo "FAIL: the real library is impure"; exit 1; }
echo "ok: the real library passes"
