#!/bin/bash
# gen-config-doc.sh [BUILD_DIR] - refresh the generated key tables in
# doc/configuration.md from `odradekd --config-doc` (the live tables of the
# core and the default modules). t/0002-config-doc.t fails when they drift.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/_build}
doc=$top/doc/configuration.md
table=$("$build/odradekd" --config-doc --set module.dir="$build/.libs")
awk -v table="$table" '
  /<!-- generated keys begin -->/ { print; print table; skip = 1; next }
  /<!-- generated keys end -->/ { skip = 0 }
  !skip { print }
' "$doc" >"$doc.tmp"
mv "$doc.tmp" "$doc"
echo "updated $doc"
