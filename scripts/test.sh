#!/bin/bash
# test.sh - the whole test suite, as CI runs it (.ci/run):
#   1. build in _build with ASan+UBSan (scripts/setup.sh installs what is missing)
#   2. build again with clang in _build-clang (must be warning-free: -Werror)
#   3. prove: the script tests t/*.t and the unit tests _build/t/unit/test_*
#   4. a short fuzz run, when scripts/fuzz.sh exists
# Exits non-zero when any step fails, and ends with a summary.
# ODRADEK_TEST_BUILD / ODRADEK_TEST_CLANG_BUILD change the two build
# directories (default _build and _build-clang in the source tree).
set -u
# The whole script is one { } block, read completely before it runs, so
# that editing this file while a run is under way cannot derail that run.
{
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
build=${ODRADEK_TEST_BUILD:-_build}
clang_build=${ODRADEK_TEST_CLANG_BUILD:-_build-clang}
case $build in /*) ;; *) build=$top/$build ;; esac

results=()   # "STEP STATUS detail" lines for the summary
failed=0
record() { # step status [detail]
    results+=("$(printf '%-8s %-5s %s' "$1" "$2" "${3:-}")")
    [ "$2" = FAIL ] && failed=1
    return 0
}
summary() {
    echo
    echo "==== odradek test summary ===="
    printf '%s\n' "${results[@]}"
    if [ "$failed" = 0 ]; then echo "all steps passed"; else echo "SOME STEPS FAILED"; fi
    if [ -n "${prove_log:-}" ] && [ -f "$prove_log" ]; then
        # prove's own closing lines come last: they count the tests.
        grep -E '^(Files=|Result:)' "$prove_log" || true
        rm -f "$prove_log"
    fi
}

step() { echo; echo "==== $* ===="; }

# ---- 1. sanitizer build ----------------------------------------------------
step "build: $build (ASan+UBSan)"
if ODRADEK_CONFIGURE_ARGS="--enable-sanitizers ${ODRADEK_CONFIGURE_ARGS-}" \
        bash scripts/setup.sh "$build"; then
    record build PASS "$build, --enable-sanitizers"
else
    record build FAIL "$build, --enable-sanitizers (see above)"
    summary
    exit 1
fi

# ---- 2. clang build (warnings are errors) -----------------------------------
step "build: $clang_build (clang, -Werror)"
if command -v clang >/dev/null 2>&1; then
    # Builds `all` and the check programs; runs no test.
    if CC=clang ODRADEK_CONFIGURE_ARGS="" bash scripts/setup.sh "$clang_build"; then
        record clang PASS "$clang_build"
    else
        record clang FAIL "$clang_build (see above)"
    fi
else
    record clang SKIP "clang not installed"
fi

# ---- 3. tests ----------------------------------------------------------------
step "tests: prove"
export ODRADEK_BUILD="$build"

# LeakSanitizer needs ptrace-like access to stop the process's threads; some
# sandboxes forbid it and LSan then dies with a fatal error in every test.
# Probe it once with a tiny leaking program: keep detect_leaks=1 where it
# works (it does on our Debian 12 machines), turn it off otherwise.
detect_leaks=1
probe_dir=$(mktemp -d)
printf '#include <stdlib.h>\nvoid *volatile keep;\nint main(void){keep = malloc(7); keep = 0; return 0;}\n' \
    >"$probe_dir/leak.c"
if ${CC:-gcc} -fsanitize=address -g "$probe_dir/leak.c" -o "$probe_dir/leak" 2>/dev/null; then
    ASAN_OPTIONS=detect_leaks=1 "$probe_dir/leak" 2>"$probe_dir/err" || true
    if ! grep -q 'detected memory leaks' "$probe_dir/err"; then
        detect_leaks=0
        echo "test.sh: LeakSanitizer does not work here; running with detect_leaks=0:"
        head -3 "$probe_dir/err"
    fi
fi
rm -rf "$probe_dir"
export ASAN_OPTIONS="detect_leaks=$detect_leaks:abort_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
echo "ASAN_OPTIONS=$ASAN_OPTIONS UBSAN_OPTIONS=$UBSAN_OPTIONS"

# The unit tests are the executables among $build/t/unit/test_* (not the
# objects next to them). prove runs executables directly and *.t files
# through perl, which honours their #! line.
tests=()
for f in t/*.t; do [ -f "$f" ] && tests+=("$f"); done
for f in "$build"/t/unit/test_*; do
    case ${f##*/} in *.*) continue ;; esac
    [ -f "$f" ] && [ -x "$f" ] && tests+=("$f")
done
prove_log=$(mktemp)
# Every test file runs under its own time limit (ODRADEK_TEST_TIMEOUT
# seconds, default 600), so that one hung test fails alone instead of
# eating CI's whole time budget; prove itself is bounded too. The runner
# does what prove would do: *.t through perl (which honours #!), the rest
# directly.
runner=$(mktemp)
per_test=${ODRADEK_TEST_TIMEOUT:-600}
cat >"$runner" <<EOF
#!/bin/sh
case "\$1" in
*.t) set -- perl "\$@" ;;
esac
timeout --kill-after=10 $per_test "\$@"
rc=\$?
[ "\$rc" = 124 ] && echo "# test.sh: killed after $per_test s (ODRADEK_TEST_TIMEOUT)" >&2
exit "\$rc"
EOF
chmod +x "$runner"
if [ "${#tests[@]}" = 0 ]; then
    record prove FAIL "no tests found"
else
    timeout --kill-after=30 3600 prove -j2 --timer --exec "$runner" "${tests[@]}" 2>&1 |
        tee "$prove_log"
    rc=${PIPESTATUS[0]}
    if [ "$rc" = 0 ]; then
        record prove PASS "${#tests[@]} test files"
    else
        record prove FAIL "${#tests[@]} test files, exit $rc"
    fi
fi

rm -f "$runner"

# ---- 4. fuzzing ------------------------------------------------------------------
step "fuzz"
if [ -f scripts/fuzz.sh ]; then
    if timeout --kill-after=10 300 bash scripts/fuzz.sh 30; then
        record fuzz PASS "scripts/fuzz.sh 30"
    else
        record fuzz FAIL "scripts/fuzz.sh 30"
    fi
else
    record fuzz SKIP "no scripts/fuzz.sh"
fi

summary
exit "$failed"
}
