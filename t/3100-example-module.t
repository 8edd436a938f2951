#!/bin/sh
# 3100-example-module.t - the out-of-tree module kit works end to end:
# `make install` stages the header and odradek.pc, modules/examples/hello
# builds against that staged install with pkg-config, the broker loads it
# through `load_module` and hands it its config key; a module built for
# another ABI major is refused with the file name and "ABI".
#
# Needs ODRADEK_BUILD (a configured and built tree, as scripts/test.sh sets).
# POSIX sh printing TAP, so that it depends on nothing but the build.

n=0
failed=0
ok() { # status name
    n=$((n + 1))
    if [ "$1" = 0 ]; then
        echo "ok $n - $2"
    else
        echo "not ok $n - $2"
        failed=$((failed + 1))
    fi
}
diag() { sed 's/^/# /' "$@"; }
skip_all() { echo "1..0 # SKIP $*"; exit 0; }

B=${ODRADEK_BUILD:-}
if [ -z "$B" ] || [ ! -x "$B/odradekd" ]; then
    skip_all "ODRADEK_BUILD not set or odradekd not built"
fi
for tool in make pkg-config cc /usr/bin/python3; do
    command -v "$tool" >/dev/null 2>&1 || skip_all "$tool not found"
done
src=$(cd "$(dirname "$0")/.." && pwd)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/odt3100.XXXXXX")
pid=""
cleanup() {
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

free_port() {
    /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# broker_start CONFIG LOG: start odradekd in the background (sets $pid).
broker_start() {
    port=$(free_port)
    "$B/odradekd" --config "$1" \
        --set module.dir="$B/.libs" \
        --set listeners=PLAINTEXT://127.0.0.1:"$port" \
        --set advertised.listeners=PLAINTEXT://127.0.0.1:"$port" \
        --set log.dirs="$tmp/data-$port" >"$2" 2>&1 &
    pid=$!
}

# wait_for PATTERN LOG SECONDS: 0 once LOG matches, 1 on timeout or exit.
wait_for() {
    i=0
    while [ "$i" -lt $(($3 * 10)) ]; do
        grep -q "$1" "$2" 2>/dev/null && return 0
        kill -0 "$pid" 2>/dev/null || { grep -q "$1" "$2" 2>/dev/null; return; }
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}

# wait_port SECONDS: 0 once the broker accepts connections on $port.
wait_port() {
    /usr/bin/python3 - "$port" "$1" <<'EOF'
import socket, sys, time
port, deadline = int(sys.argv[1]), time.time() + float(sys.argv[2])
while time.time() < deadline:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.1)
sys.exit(1)
EOF
}

# broker_stop: SIGTERM, then wait up to 15 s; returns the exit status.
broker_stop() {
    kill -TERM "$pid" 2>/dev/null
    i=0
    while kill -0 "$pid" 2>/dev/null && [ "$i" -lt 150 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    wait "$pid"
    rc=$?
    pid=""
    return "$rc"
}

echo "1..8"

# 1: stage an install.
stage=$tmp/stage
make -C "$B" install DESTDIR="$stage" >"$tmp/install.log" 2>&1
rc=$?
ok "$rc" "make install DESTDIR=<staging dir>"
[ "$rc" = 0 ] || diag "$tmp/install.log"

# 2: the staged install has the header and the .pc file.
pc=$(find "$stage" -name odradek.pc 2>/dev/null | head -1)
hdr=$(find "$stage" -path '*/odradek/odradek-module.h' 2>/dev/null | head -1)
[ -n "$pc" ] && [ -n "$hdr" ]
ok $? "staged install has odradek.pc and odradek/odradek-module.h"

# 3: build the example module out of tree against the staged install.
mkdir -p "$tmp/hello"
PKG_CONFIG_PATH=$(dirname "${pc:-/nonexistent/x}") PKG_CONFIG_SYSROOT_DIR=$stage \
    PKG_CONFIG_LIBDIR=/nonexistent \
    make -C "$tmp/hello" -f "$src/modules/examples/hello/Makefile" >"$tmp/hello.log" 2>&1 &&
    [ -f "$tmp/hello/hello.so" ]
rc=$?
ok "$rc" "examples/hello builds with pkg-config against the staged install"
[ "$rc" = 0 ] || diag "$tmp/hello.log"
grep -q -- "-I$stage/" "$tmp/hello.log"
ok $? "the build used the staged header directory"

# 4-6: the broker loads it and gives it hello.greeting.
cat >"$tmp/hello.properties" <<EOF
load_module storage_segment
load_module kraft
load_module $tmp/hello/hello.so
hello.greeting=bonjour
EOF
broker_start "$tmp/hello.properties" "$tmp/broker.log"
wait_for bonjour "$tmp/broker.log" 20
rc=$?
ok "$rc" "broker log shows the module's greeting (bonjour)"
wait_port 20 && kill -0 "$pid" 2>/dev/null
ok $? "broker starts (accepts connections) with the module loaded"
broker_stop
rc=$?
ok "$rc" "broker stops cleanly on SIGTERM (exit $rc)"
[ "$failed" = 0 ] || diag "$tmp/broker.log"

# 7: a module built for another ABI major is refused, naming file and ABI.
cat >"$tmp/badabi.c" <<'EOF'
#include <stddef.h>
#include <odradek-module.h>
static int bad_init(od_module_ctx_t *ctx, char *err, size_t errsz)
{
    (void)ctx; (void)err; (void)errsz;
    return 0;
}
od_module_t od_module = {
    .abi_major = OD_ABI_MAJOR + 1,
    .abi_minor = 0,
    .name = "badabi",
    .version = "0",
    .kinds = OD_KIND_OTHER,
    .init = bad_init,
};
EOF
cc -std=c11 -Wall -Wextra -I"$(dirname "$hdr")" -fPIC -shared \
    -o "$tmp/badabi.so" "$tmp/badabi.c" >"$tmp/bad-build.log" 2>&1
cat >"$tmp/bad.properties" <<EOF
load_module storage_segment
load_module kraft
load_module $tmp/badabi.so
EOF
broker_start "$tmp/bad.properties" "$tmp/bad.log"
# It must exit by itself, with an error; give it 20 s.
i=0
while kill -0 "$pid" 2>/dev/null && [ "$i" -lt 200 ]; do sleep 0.1; i=$((i + 1)); done
if kill -0 "$pid" 2>/dev/null; then
    broker_stop
    rc=0 # still running: the module was accepted
else
    wait "$pid"
    rc=$?
    pid=""
fi
# ("badabi" itself contains "abi": drop it before looking for the word.)
[ "$rc" != 0 ] && grep 'badabi\.so' "$tmp/bad.log" | sed 's/badabi//g' | grep -qi 'abi'
rc2=$?
ok "$rc2" "a module with ABI major OD_ABI_MAJOR+1 stops the start, naming the file and the ABI"
[ "$rc2" = 0 ] || { diag "$tmp/bad-build.log"; diag "$tmp/bad.log"; }

[ "$failed" = 0 ]
