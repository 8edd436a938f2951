#!/bin/sh
# fuzz.sh [SECONDS] - build the libFuzzer targets with ASan and UBSan (clang,
# outside autotools) and run each for half of SECONDS (default 30):
#   fuzz_request  the generated request decoders (t/fuzz/fuzz_request.c)
#   fuzz_broker   the whole request path: handlers, memory storage and KRaft,
#                 many requests per input, state kept across inputs
#                 (t/fuzz/fuzz_broker.c)
# Before fuzzing, every file of t/fuzz/regress/<target>/ is replayed alone
# (past crashes must stay fixed). Exits non-zero on a crash and leaves the
# work directory (with the crashing input and the log) in place; removes it
# otherwise. See doc/fuzzing.md.
#
# Environment: CLANG (clang), PYTHON3 (python3), FUZZ_WORK (keep the build
# in this directory, e.g. for a long run), FUZZ_TARGETS ("request broker"),
# FUZZ_COVERAGE=1 (build fuzz_broker with -fprofile-instr-generate
# -fcoverage-mapping instead of sanitizers, for llvm-cov; builds only).
set -eu
secs=${1:-30}
root=$(cd "$(dirname "$0")/.." && pwd)
cc=${CLANG:-clang}
py=${PYTHON3:-python3}
targets=${FUZZ_TARGETS:-request broker}
if [ -n "${FUZZ_WORK:-}" ]; then
    work=$FUZZ_WORK
    keep=1
    mkdir -p "$work"
else
    work=$(mktemp -d "${TMPDIR:-/tmp}/odfuzz.XXXXXX")
    keep=0
fi
san="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all"
link="-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all"
if [ "${FUZZ_COVERAGE:-0}" = 1 ]; then
    san="-fprofile-instr-generate -fcoverage-mapping"
    link="-fsanitize=fuzzer -fprofile-instr-generate -fcoverage-mapping"
fi

"$py" "$root/scripts/odgen.py" --out-dir "$work/gen" "$root"/core/proto/schema/*.ods
inc="-I$root/core -I$work/gen"
for d in net proto api log groups meta; do inc="$inc -I$root/core/$d"; done
pkgs="lua5.4 libsodium openssl libsasl2 zlib libzstd liblz4"
flags="-std=c11 -D_GNU_SOURCE -g -O1 $inc $(pkg-config --cflags $pkgs)"
libs="$(pkg-config --libs $pkgs) -lsnappy -ldl -lpthread"

build_request() {
    srcs="$work/gen/od_proto_gen.c $root/core/proto/od_buf.c $root/core/proto/od_arena.c"
    # shellcheck disable=SC2086
    "$cc" $flags $link "$root/t/fuzz/fuzz_request.c" $srcs -o "$work/fuzz_request"
    # shellcheck disable=SC2086
    "$cc" $flags -DOD_FUZZ_SEEDGEN "$root/t/fuzz/fuzz_request.c" $srcs -o "$work/seedgen_request"
    mkdir -p "$work/corpus-request"
    "$work/seedgen_request" "$work/corpus-request"
}

# The whole core except od_main.c, the memory store and KRaft; each module's
# od_module symbol is renamed so both link into one program (fuzz_broker
# registers them with od_modules_set_static). Two compilers at a time.
build_broker() {
    mkdir -p "$work/obj"
    srcs="$(find "$root/core" -name '*.c' ! -name od_main.c | sort) $work/gen/od_proto_gen.c
          $(ls "$root"/modules/kraft/*.c) $root/modules/storage_memory/memory_module.c"
    # shellcheck disable=SC2086
    printf '%s\n' $srcs | CC="$cc" FLAGS="$flags $san" OBJ="$work/obj" xargs -P 2 -n 1 sh -ec '
        case $1 in
        */modules/kraft/*) def=-Dod_module=od_module_kraft ;;
        */storage_memory/*) def=-Dod_module=od_module_memory ;;
        *) def= ;;
        esac
        $CC $FLAGS $def -c "$1" -o "$OBJ/$(basename "$1" .c).o"' sh
    objs=""
    for f in $srcs; do objs="$objs $work/obj/$(basename "$f" .c).o"; done
    # shellcheck disable=SC2086
    "$cc" $flags $san $link "$root/t/fuzz/fuzz_broker.c" $objs $libs -o "$work/fuzz_broker"
    mkdir -p "$work/corpus-broker"
    ODFUZZ_SEEDGEN="$work/corpus-broker" "$work/fuzz_broker"
}

for t in $targets; do
    "build_$t"
done
[ "${FUZZ_COVERAGE:-0}" = 1 ] && exit 0

status=0
n=$(echo $targets | wc -w)
each=$((secs / n))
[ "$each" -ge 1 ] || each=1
for t in $targets; do
    reg="$root/t/fuzz/regress/$t"
    if [ -d "$reg" ] && [ -n "$(ls -A "$reg")" ]; then
        # Each past crash alone, on a fresh broker.
        ODFUZZ_RESET_EVERY=1 "$work/fuzz_$t" -runs=1 -timeout=20 "$reg"/* \
            >"$work/regress-$t.log" 2>&1 || {
            tail -n 40 "$work/regress-$t.log"
            echo "fuzz.sh: $t: a regression input crashes again; log in $work" >&2
            exit 1
        }
    fi
    "$work/fuzz_$t" -max_total_time="$each" -max_len=16384 -timeout=20 \
        -artifact_prefix="$work/$t-" -print_final_stats=1 "$work/corpus-$t" \
        >"$work/fuzz-$t.log" 2>&1 || status=$?
    grep -E '^(stat::|Done|SUMMARY|==[0-9]+==ERROR)' "$work/fuzz-$t.log" | tail -n 8
    if [ "$status" -ne 0 ]; then
        echo "fuzz.sh: $t: crash (status $status); input and log kept in $work" >&2
        exit 1
    fi
done
[ "$keep" = 1 ] || rm -rf "$work"
echo "fuzz.sh: no crash in ${secs}s ($targets)"
