#!/bin/sh
# Every configuration key the broker knows is documented in
# doc/configuration.md (and nothing documented is unknown).
top=$(cd "$(dirname "$0")/.." && pwd)
build=${ODRADEK_BUILD:-$top/_build}
doc=$top/doc/configuration.md
if [ ! -x "$build/odradekd" ]; then echo "1..0 # SKIP no odradekd in $build"; exit 0; fi
live=$(mktemp); documented=$(mktemp)
trap 'rm -f "$live" "$documented"' EXIT
"$build/odradekd" --config-doc --set module.dir="$build/.libs" 2>/dev/null |
    sed -n 's/^| `\([^`]*\)`.*/\1/p' | sort -u >"$live"
sed -n '/<!-- generated keys begin -->/,/<!-- generated keys end -->/p' "$doc" |
    sed -n 's/^| `\([^`]*\)`.*/\1/p' | sort -u >"$documented"
echo "1..3"
n=$(wc -l <"$live")
if [ "$n" -gt 40 ]; then echo "ok 1 - odradekd --config-doc lists $n keys"; else echo "not ok 1 - only $n keys listed"; fi
missing=$(comm -23 "$live" "$documented")
if [ -z "$missing" ]; then echo "ok 2 - every key is documented"; else
    echo "not ok 2 - keys missing from doc/configuration.md (run scripts/gen-config-doc.sh):"; echo "$missing" | sed 's/^/# /'; fi
stale=$(comm -13 "$live" "$documented")
if [ -z "$stale" ]; then echo "ok 3 - no documented key is unknown"; else
    echo "not ok 3 - documented but unknown keys:"; echo "$stale" | sed 's/^/# /'; fi
