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
# The kraft module's own codecs (its KRaft RPCs), as the module build makes them.
"$py" "$root/scripts/odgen.py" --out-dir "$work/gen" --name kraft_proto_gen \
    "$root"/core/proto/schema/kraft/*.ods "$root"/core/proto/schema/api-versions.ods \
    "$root"/core/proto/schema/fetch.ods "$root"/core/proto/schema/errors.ods
inc="-I$root/core -I$work/gen"
for d in "$root"/core/*/; do inc="$inc -I${d%/}"; done # every subsystem folder
pkgs="lua5.4 libsodium openssl libpcre2-8 libsasl2 jansson zlib libzstd liblz4"
# The fuzzers load no module from disk and write no default log.dir.
flags="-std=c11 -D_GNU_SOURCE -gline-tables-only -O1 $inc $(pkg-config --cflags $pkgs)
       -DOD_MODULE_DIR=\"/nonexistent\" -DOD_LOCALSTATEDIR=\"/nonexistent\""
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
    # The kraft module carries its own generated codecs, whose names are the
    # core's: one relocatable object with those symbols made local, as the
    # module's shared object keeps them to itself.
    $cc $flags $san -Dod_module=od_module_kraft -c "$work/gen/kraft_proto_gen.c" \
        -o "$work/obj/kraft_proto_gen.o"
    kobjs=""
    for f in "$root"/modules/kraft/*.c; do kobjs="$kobjs $work/obj/$(basename "$f" .c).o"; done
    # shellcheck disable=SC2086
    ld -r -o "$work/obj/kraft_bundle.o" $kobjs "$work/obj/kraft_proto_gen.o"
    nm --defined-only -g "$work/obj/kraft_proto_gen.o" | awk '{print $3}' >"$work/obj/kraft.syms"
    objcopy --localize-symbols="$work/obj/kraft.syms" "$work/obj/kraft_bundle.o"
    objs="$work/obj/kraft_bundle.o"
    for f in $srcs; do
        case $f in */modules/kraft/*) continue ;; esac
        objs="$objs $work/obj/$(basename "$f" .c).o"
    done
    # shellcheck disable=SC2086
    "$cc" $flags $san $link "$root/t/fuzz/fuzz_broker.c" $objs $libs -o "$work/fuzz_broker"
    mkdir -p "$work/corpus-broker"
    LLVM_PROFILE_FILE="$work/seedgen.profraw" ODFUZZ_SEEDGEN="$work/corpus-broker" "$work/fuzz_broker"
}

for t in $targets; do
    "build_$t"
done
if [ "${FUZZ_COVERAGE:-0}" = 1 ]; then
    # With FUZZ_CORPUS=DIR: replay DIR once through the coverage build and
    # print line and function coverage per folder (llvm-profdata, llvm-cov).
    [ -n "${FUZZ_CORPUS:-}" ] || exit 0
    prof=${LLVM_PROFDATA:-llvm-profdata}
    llcov=${LLVM_COV:-llvm-cov}
    rm -f "$work/replay.profraw"
    LLVM_PROFILE_FILE="$work/replay.profraw" "$work/fuzz_broker" -runs=0 -max_len=16384 \
        -rss_limit_mb=4096 "$FUZZ_CORPUS" >"$work/replay.log" 2>&1
    "$prof" merge -o "$work/replay.profdata" "$work/replay.profraw"
    "$llcov" report -instr-profile="$work/replay.profdata" "$work/fuzz_broker" >"$work/coverage.txt"
    echo "| folder | lines | line coverage | functions | function coverage |"
    echo "| --- | --- | --- | --- | --- |"
    # Folders of the core and the modules, then their sum; the generated
    # codecs apart (most of them are response decoders the broker never
    # runs); the harness itself (t/fuzz) left out.
    awk '
        function row(name, l, m, f, fm) {
            return sprintf("| %s | %d | %.1f%% | %d | %.1f%% |", name, l, l ? 100 * (l - m) / l : 0,
                           f, f ? 100 * (f - fm) / f : 0)
        }
        $2 ~ /^[0-9]+$/ && $1 != "TOTAL" {
            f = $1
            # llvm-cov prints paths relative to their common prefix.
            if (f ~ /od_proto_gen\.[ch]$/) { gl += $8; gm += $9; gf += $5; gfm += $6; next }
            if (match(f, /(^|\/)(core|modules|t)\//)) f = substr(f, RSTART + (RSTART > 1 || substr(f, 1, 1) == "/"))
            d = f; sub("/[^/]*$", "", d); if (d == f) d = "core"
            if (d ~ /^t\//) next
            fn[d] += $5; fm[d] += $6; ln[d] += $8; lm[d] += $9
        }
        END {
            for (d in ln) if (ln[d] > 0) {
                tl += ln[d]; tm += lm[d]; tf += fn[d]; tfm += fm[d]
                print row(d, ln[d], lm[d], fn[d], fm[d]) | "sort"
            }
            close("sort")
            print row("**core + modules**", tl, tm, tf, tfm)
            print row("generated codecs", gl, gm, gf, gfm)
        }' "$work/coverage.txt"
    exit 0
fi

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
