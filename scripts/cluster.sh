#!/bin/bash
# cluster.sh - a local Odradek cluster on loopback ports, one command.
#
#   scripts/cluster.sh start [N]    N nodes (default 3), each broker+controller
#   scripts/cluster.sh status [N]   which nodes run, and the quorum's leader
#   scripts/cluster.sh stop [N]     SIGTERM every node, wait for it
#
# Node i (1-based) has node.id=i, clients on 127.0.0.1:$((BASE_PORT + i))
# (PLAINTEXT) and the quorum on 127.0.0.1:$((BASE_PORT + 100 + i)) (CONTROLLER),
# its data, log and pid in $CLUSTER_DIR/node<i>/. Every node gets the same
# controller.quorum.voters; there is no format step: the first elected leader
# writes the cluster id, the others adopt it.
#
# Environment: ODRADEK_BUILD (a build dir with odradekd and .libs/; default:
# ./_build, else odradekd from PATH with its built-in module.dir),
# CLUSTER_DIR (default ./cluster-data), BASE_PORT (default 19090),
# ODRADEK_SET (extra "key=value key=value" for every node).
set -euo pipefail

cmd=${1:-}
n=${2:-3}
dir=${CLUSTER_DIR:-$PWD/cluster-data}
base=${BASE_PORT:-19090}
case $n in '' | *[!0-9]*) echo "cluster.sh: N must be a number" >&2; exit 2 ;; esac
[ "$n" -ge 1 ] && [ "$n" -le 64 ] || { echo "cluster.sh: N must be 1-64" >&2; exit 2; }

build=${ODRADEK_BUILD:-}
if [ -z "$build" ] && [ -x "$PWD/_build/odradekd" ]; then build=$PWD/_build; fi
if [ -n "$build" ]; then
    bin=$build/odradekd
    modset=(--set "module.dir=$build/.libs")
else
    bin=$(command -v odradekd || true)
    modset=()
fi

voters() {
    local v="" i
    for i in $(seq 1 "$n"); do v+="${v:+,}$i@127.0.0.1:$((base + 100 + i))"; done
    echo "$v"
}

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

start() {
    [ -x "$bin" ] || { echo "cluster.sh: no odradekd (set ODRADEK_BUILD)" >&2; exit 1; }
    local v i d extra=()
    v=$(voters)
    for kv in ${ODRADEK_SET:-}; do extra+=(--set "$kv"); done
    for i in $(seq 1 "$n"); do
        d=$dir/node$i
        mkdir -p "$d"
        if alive "$d/pid"; then
            echo "node $i already runs (pid $(cat "$d/pid"))"
            continue
        fi
        nohup "$bin" "${modset[@]}" \
            --set "node.id=$i" \
            --set "process.roles=broker,controller" \
            --set "listeners=PLAINTEXT://127.0.0.1:$((base + i)),CONTROLLER://127.0.0.1:$((base + 100 + i))" \
            --set "controller.listener.names=CONTROLLER" \
            --set "controller.quorum.voters=$v" \
            --set "log.dirs=$d/data" \
            "${extra[@]}" >>"$d/odradekd.log" 2>&1 </dev/null &
        echo $! >"$d/pid"
        echo "node $i: pid $!, clients 127.0.0.1:$((base + i)), quorum 127.0.0.1:$((base + 100 + i))"
    done
    local bs="" ; for i in $(seq 1 "$n"); do bs+="${bs:+,}127.0.0.1:$((base + i))"; done
    echo "bootstrap.servers=$bs"
}

status() {
    local i d up=0
    for i in $(seq 1 "$n"); do
        d=$dir/node$i
        if alive "$d/pid"; then
            echo "node $i: running (pid $(cat "$d/pid")), clients 127.0.0.1:$((base + i))"
            up=$((up + 1))
        else
            echo "node $i: stopped"
        fi
    done
    local lib
    lib=$(cd "$(dirname "$0")/../t/lib" 2>/dev/null && pwd || true)
    if [ "$up" -gt 0 ] && [ -n "$lib" ] && [ -x /usr/bin/python3 ]; then
        /usr/bin/python3 - "$lib" "$base" "$n" <<'PY' || true
import os
import sys
sys.path.insert(0, sys.argv[1])
import odtest, cluster
base, n = int(sys.argv[2]), int(sys.argv[3])
for i in range(1, n + 1):
    try:
        with odtest.Conn(base + 100 + i, timeout=2) as c:
            q = cluster.describe_quorum(c)
    except Exception:
        continue
    if q["error"] == 0:
        print("quorum: leader %d, epoch %d, high watermark %d, voters %s"
              % (q["leader"], q["epoch"], q["hw"], q["voters"]))
        break
sys.stdout.flush()
os._exit(0)  # not the test harness's exit report
PY
    fi
    [ "$up" -gt 0 ]
}

stop() {
    local i d pid
    for i in $(seq 1 "$n"); do
        d=$dir/node$i
        alive "$d/pid" || { rm -f "$d/pid"; continue; }
        pid=$(cat "$d/pid")
        kill -TERM "$pid"
        for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        if kill -0 "$pid" 2>/dev/null; then
            echo "node $i (pid $pid) did not stop in 10 s; SIGKILL" >&2
            kill -KILL "$pid"
        fi
        rm -f "$d/pid"
        echo "node $i stopped"
    done
}

case $cmd in
start) start ;;
stop) stop ;;
status) status ;;
*) echo "usage: cluster.sh start|stop|status [N]" >&2; exit 2 ;;
esac
