#!/bin/sh
# Fails when the protocol library reaches for anything but memory/string
# helpers, coord_panic and the allocator hook's defaults (malloc, realloc,
# free). Looks at the symbols the archive needs from outside itself: those
# some object leaves undefined and no object of the archive defines.
# Usage: check_pure.sh libcoord_protocol.a
set -eu
lib=$1
tmp=${TMPDIR:-/tmp}/check_pure.$$
trap 'rm -f "$tmp".*' EXIT
nm -u "$lib" | awk 'NF==2{print $2}' | sort -u >"$tmp.undef"
nm --defined-only "$lib" | awk 'NF==3{print $3}' | sort -u >"$tmp.def"
comm -23 "$tmp.undef" "$tmp.def" >"$tmp.ext"
allowed='mem(cpy|set|cmp|move|chr)|str(len|cmp|ncmp|chr|rchr)|coord_panic|malloc|realloc|free'
allowed="$allowed"'|__(asan|ubsan|lsan)_.*|__stack_chk_fail|_GLOBAL_OFFSET_TABLE_'
bad=$(grep -vxE "$allowed" "$tmp.ext" || true)
if [ -n "$bad" ]; then
    echo "protocol/ must stay pure; it calls:"
    echo "$bad" | sed 's/^/  /'
    exit 1
fi
echo "protocol/ is pure; it needs only: $(tr '\n' ' ' <"$tmp.ext")"
