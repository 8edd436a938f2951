#!/bin/sh
# fuzz.sh [SECONDS] - build t/fuzz/fuzz_request.c with libFuzzer, ASan and
# UBSan (clang, outside autotools) and run it for SECONDS (default 30).
# Exits non-zero on a crash and leaves the work directory (with the
# crashing input) in place; removes it otherwise.
set -eu
secs=${1:-30}
root=$(cd "$(dirname "$0")/.." && pwd)
cc=${CLANG:-clang}
py=${PYTHON3:-python3}
work=$(mktemp -d "${TMPDIR:-/tmp}/odfuzz.XXXXXX")

"$py" "$root/scripts/odgen.py" --out-dir "$work/gen" "$root"/core/proto/schema/*.ods
srcs="$work/gen/od_proto_gen.c $root/core/proto/od_buf.c $root/core/proto/od_arena.c"
flags="-std=c11 -D_GNU_SOURCE -g -O1 -I$root/core -I$root/core/proto -I$root/core/net -I$root/core/log -I$root/core/meta -I$work/gen"
# shellcheck disable=SC2086
"$cc" $flags -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
    "$root/t/fuzz/fuzz_request.c" $srcs -o "$work/fuzz_request"
# shellcheck disable=SC2086
"$cc" $flags -DOD_FUZZ_SEEDGEN "$root/t/fuzz/fuzz_request.c" $srcs -o "$work/seedgen"
mkdir "$work/corpus"
"$work/seedgen" "$work/corpus"

status=0
"$work/fuzz_request" -max_total_time="$secs" -max_len=8192 -timeout=10 \
    -artifact_prefix="$work/" -print_final_stats=1 "$work/corpus" \
    >"$work/fuzz.log" 2>&1 || status=$?
tail -n 25 "$work/fuzz.log"
if [ "$status" -ne 0 ]; then
    echo "fuzz.sh: crash (status $status); input and log kept in $work" >&2
    exit 1
fi
rm -rf "$work"
echo "fuzz.sh: no crash in ${secs}s"
