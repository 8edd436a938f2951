#!/bin/bash
# bench.sh [--record] [--count N] [--size BYTES] [--partitions P]
#          [--latency-seconds S] [--brokers H:P]
#
# Throughput and latency of a release build (-O2, no sanitizers) on this
# machine, measured with scripts/odbench (librdkafka):
#   1. produce N records of BYTES (acks=1, linger.ms=5, unlimited rate)
#   2. consume the same N records (assigned partitions, from the beginning)
#   3. produce at half the rate measured in 1 for S seconds with
#      linger.ms=1 (batching bounded by 1 ms, as a latency-minded client sets it): latency
#      percentiles at a load the broker can sustain
# The broker runs on a free loopback port with a temporary data directory
# and is stopped at the end. --record appends the figures, dated, to
# doc/benchmarks.md. Every run is bounded by a timeout. --brokers measures
# an already running broker instead (nothing is built or started then, but
# for odbench; ODBENCH=path picks another odbench binary).
#
# bench.sh --group [--members M] [--rounds R] [--count N] [--partitions P]
#          [--record] [--brokers H:P]
# runs the consumer-group benchmark instead of the runs above: N records
# (default 1000000) are produced to a topic of P partitions (default 6),
# then `odbench group` has M consumers (default 3, librdkafka, subscribe) in
# one new group read them end to end, and times R rebalances (default 5):
# one member close()s (LeaveGroup) while a producer keeps 2000 msgs/s
# flowing, until every remaining member has its new partitions and has
# received a message. The broker runs with its defaults (so the first join
# includes group.initial.rebalance.delay.ms = 3000). --record appends a
# "Consumer groups" entry to doc/benchmarks.md.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

record=0
count=2000000
size=100
partitions=1
lat_secs=10
ext_brokers=""
group=0
group_members=3
group_rounds=5
count_set=0
partitions_set=0
while [ $# -gt 0 ]; do
    case $1 in
    --record) record=1 ;;
    --count) count=$2; count_set=1; shift ;;
    --size) size=$2; shift ;;
    --partitions) partitions=$2; partitions_set=1; shift ;;
    --group) group=1 ;;
    --members) group_members=$2; shift ;;
    --rounds) group_rounds=$2; shift ;;
    --latency-seconds) lat_secs=$2; shift ;;
    --brokers) ext_brokers=$2; shift ;;
    -h | --help) sed -n '2,27p' "$0"; exit 0 ;;
    *) echo "bench.sh: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done
if [ "$group" = 1 ]; then
    [ "$count_set" = 1 ] || count=1000000
    [ "$partitions_set" = 1 ] || partitions=6
fi

say() { printf 'bench: %s\n' "$*"; }

work=$(mktemp -d "${TMPDIR:-/tmp}/odbench.XXXXXX")
broker_pid=""
stop_broker() {
    [ -n "$broker_pid" ] || return 0
    kill -TERM "$broker_pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
        kill -0 "$broker_pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$broker_pid" 2>/dev/null || true
    wait "$broker_pid" 2>/dev/null || true
    broker_pid=""
}
finish() {
    rc=$?
    stop_broker
    if [ "$rc" != 0 ] && [ -f "$work/broker.log" ]; then
        say "failed; last lines of the broker log:"
        tail -20 "$work/broker.log"
    fi
    rm -rf "$work"
}
trap finish EXIT
trap 'exit 1' INT TERM

# ---- build -------------------------------------------------------------------------
build=$top/_build-release
if [ -z "$ext_brokers" ] || [ -z "${ODBENCH:-}" ]; then
    say "building $build (CFLAGS=-O2)"
    CFLAGS=-O2 ODRADEK_CONFIGURE_ARGS="" bash scripts/setup.sh "$build" >"$work/build.log" 2>&1 || {
        tail -40 "$work/build.log"
        say "build failed"
        exit 1
    }
fi
odbench=${ODBENCH:-$build/scripts/odbench}
[ -x "$odbench" ] || { say "$odbench missing (librdkafka-dev not installed?)"; exit 1; }

# ---- broker ------------------------------------------------------------------------
if [ -n "$ext_brokers" ]; then
    brokers=$ext_brokers
    say "using the running broker at $brokers"
else
    port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    brokers=127.0.0.1:$port
    "$build/odradekd" \
        --set module.dir="$build/.libs" \
        --set listeners=PLAINTEXT://"$brokers" \
        --set advertised.listeners=PLAINTEXT://"$brokers" \
        --set log.dirs="$work/data" >"$work/broker.log" 2>&1 &
    broker_pid=$!
    up=0
    for _ in $(seq 1 150); do
        kill -0 "$broker_pid" 2>/dev/null || break
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then up=1; break; fi
        sleep 0.1
    done
    [ "$up" = 1 ] || { say "broker did not start listening on $brokers"; exit 1; }
    say "broker pid $broker_pid on $brokers, data in $work/data"
fi

topic=odbench-$$
# Create the topic with the admin API; without it odbench's metadata request
# relies on auto-creation.
if ! timeout 60 /usr/bin/python3 - "$brokers" "$topic" "$partitions" 2>"$work/admin.err" <<'EOF'
import sys
from confluent_kafka.admin import AdminClient, NewTopic
brokers, topic, parts = sys.argv[1], sys.argv[2], int(sys.argv[3])
a = AdminClient({"bootstrap.servers": brokers})
for f in a.create_topics([NewTopic(topic, parts, 1)], operation_timeout=30).values():
    f.result(timeout=30)
EOF
then
    say "CreateTopics failed ($(tail -1 "$work/admin.err")); relying on auto.create.topics.enable"
fi

# run_odbench LABEL MODE ARGS...: prints odbench's output, keeps it in
# $work/LABEL.out for the report.
run_odbench() {
    local label=$1
    shift
    say "$label: odbench $*"
    local rc=0
    timeout --kill-after=10 300 "$odbench" "$@" --brokers "$brokers" --topic "$topic" \
        --timeout-s 240 >"$work/$label.out" || rc=$?
    cat "$work/$label.out"
    [ "$rc" = 0 ] || say "$label: odbench failed (exit $rc)"
    return "$rc"
}
field() { # field NAME FILE: value of NAME=... in the result line
    grep '^result ' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p" | head -1
}

# ---- consumer groups (--group) ---------------------------------------------------
if [ "$group" = 1 ]; then
    run_odbench gproduce produce --count "$count" --size "$size" --acks 1 --linger-ms 5 --rate 0
    run_odbench group group --count "$count" --members "$group_members" --rounds "$group_rounds" \
        --rate 2000
    stop_broker
    model=$(sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo | head -1)
    machine="$(nproc) x ${model:-unknown CPU}, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM, Linux $(uname -r)"
    g=$work/group.out
    gparts=$(field partitions "$g")
    read_line="$(field msgs_per_sec "$g") msgs/s from subscribe to the last record ($(field flow_msgs_per_sec "$g") msgs/s from the first record); all partitions assigned $(field join_ms "$g") ms after subscribe"
    reb_line="min $(field rebalance_min_ms "$g") ms, median $(field rebalance_med_ms "$g") ms, max $(field rebalance_max_ms "$g") ms over $(field rounds "$g") rounds"
    echo
    echo "==== odradek consumer-group benchmark ===="
    echo "machine:   $machine (broker and clients share it)"
    echo "topic:     $gparts partitions, $count records of $size bytes"
    echo "read:      $group_members members (librdkafka, subscribe, range): $read_line"
    echo "rebalance: a member leaves, $((group_members - 1)) remaining consume again after: $reb_line"
    if [ "$record" = 1 ]; then
        doc=$top/doc/benchmarks.md
        if [ ! -f "$doc" ]; then
            {
                echo "# Benchmarks"
                echo
                echo "Figures from \`scripts/bench.sh --record\`: one broker (release build, -O2, no"
                echo "sanitizers, segment storage) and the librdkafka benchmark client"
                echo "\`scripts/odbench\` on the same machine, over loopback. Newest last."
            } >"$doc"
        fi
        {
            echo
            echo "## Consumer groups, $(date -u '+%Y-%m-%d %H:%M UTC')"
            echo
            echo "\`scripts/bench.sh --group\`: \`odbench group\` with $group_members librdkafka consumers"
            echo "(threads, \`subscribe()\`, range assignor, heartbeat.interval.ms = 500) in one new"
            echo "group, broker defaults. *Read*: the group reads the topic end to end; the first"
            echo "assignment waits for group.initial.rebalance.delay.ms (3000), extended (here once) while"
            echo "members keep joining during the delay, as in Kafka. *Rebalance*: while a producer sends"
            echo "2000 msgs/s round robin over the partitions, one member \`close()\`s (LeaveGroup);"
            echo "timed from the close() call until every remaining member has its new assignment and"
            echo "has received a message after it (a new member then restores the group for the next"
            echo "round). Members hear of a rebalance through their next heartbeat, so the heartbeat"
            echo "interval dominates. Target: within 1 s for a 3-member group."
            echo
            echo "Machine: $machine. Topic of $gparts partitions, $count records of $size bytes."
            echo
            echo "| run | settings | result |"
            echo "| --- | --- | --- |"
            echo "| read | $group_members members | $read_line |"
            echo "| rebalance | $group_members members, one leaves, 2000 msgs/s trickle | $reb_line |"
        } >>"$doc"
        say "recorded in doc/benchmarks.md"
    fi
    exit 0
fi

# Other work on the machine skews every figure. Give the load average up to
# 90 s to settle (our own build raises it), then note it; warn if still busy.
busy() { awk -v l="$(cut -d' ' -f1 /proc/loadavg)" -v n="$(nproc)" 'BEGIN { exit !(l > n * 0.6) }'; }
for wait_i in $(seq 1 18); do
    busy || break
    [ "$wait_i" = 1 ] && say "load average $(cut -d' ' -f1 /proc/loadavg): waiting up to 90 s for it to settle"
    sleep 5
done
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
load_note=""
if busy; then
    say "WARNING: load average $load_before on $(nproc) CPUs: the figures will be low"
    load_note=" Other work was running: read these figures as lower bounds."
fi
run_odbench produce produce --count "$count" --size "$size" --acks 1 --linger-ms 5 --rate 0
run_odbench consume consume --count "$count"
max_rate=$(field msgs_per_sec "$work/produce.out")
lat_rate=$(awk -v r="$max_rate" 'BEGIN { printf "%d", r / 2 }')
[ "$lat_rate" -ge 1 ] || lat_rate=1
lat_count=$((lat_rate * lat_secs))
run_odbench latency produce --count "$lat_count" --size "$size" --acks 1 --linger-ms 1 --rate "$lat_rate"
stop_broker

# ---- report ------------------------------------------------------------------------
model=$(sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo | head -1)
machine="$(nproc) x ${model:-unknown CPU}, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM, Linux $(uname -r)"
p=$work/produce.out
c=$work/consume.out
l=$work/latency.out
partitions=$(field partitions "$c") # as the broker reports it
produce_line="$(field msgs_per_sec "$p") msgs/s, $(field mb_per_sec "$p") MB/s (latency under saturation: p50 $(field p50_ms "$p") ms, p99 $(field p99_ms "$p") ms)"
consume_line="$(field msgs_per_sec "$c") msgs/s, $(field mb_per_sec "$c") MB/s from the assignment; $(field steady_msgs_per_sec "$c") msgs/s from the first record"
latency_line="p50 $(field p50_ms "$l") ms, p95 $(field p95_ms "$l") ms, p99 $(field p99_ms "$l") ms, p99.9 $(field p999_ms "$l") ms, max $(field max_ms "$l") ms (achieved $(field msgs_per_sec "$l") msgs/s)"

echo
echo "==== odradek benchmark ===="
echo "machine:  $machine (broker and clients share it)"
echo "load:     $load_before before the runs (1, 5, 15 min averages)"
if [ -n "$ext_brokers" ]; then
    echo "broker:   the one already running at $ext_brokers"
else
    echo "build:    CFLAGS=-O2, no sanitizers, default modules (storage_segment, kraft)"
fi
echo "topic:    $partitions partition(s), records of $size bytes"
echo "produce:  $count records, acks=1, linger.ms=5, unlimited rate: $produce_line"
echo "consume:  $count records: $consume_line"
echo "latency:  $lat_count records at $lat_rate msgs/s (half the max): $latency_line"

if [ "$record" = 1 ]; then
    doc=$top/doc/benchmarks.md
    if [ ! -f "$doc" ]; then
        {
            echo "# Benchmarks"
            echo
            echo "Figures from \`scripts/bench.sh --record\`: one broker (release build, -O2, no"
            echo "sanitizers, segment storage) and the librdkafka benchmark client"
            echo "\`scripts/odbench\` on the same machine, over loopback. Newest last."
        } >"$doc"
    fi
    {
        echo
        echo "## Throughput and latency, $(date -u '+%Y-%m-%d %H:%M UTC')"
        echo
        echo "\`scripts/bench.sh\`: \`odbench produce\` (librdkafka, one producer) at full speed,"
        echo "\`odbench consume\` of the same records (assigned partitions, no group), then"
        echo "\`odbench produce\` at half the measured rate; latency is per record, from"
        echo "produce() to its delivery report."
        echo
        if [ -n "$ext_brokers" ]; then
            echo "Broker: an already running one at $ext_brokers (not a bench.sh build)."
            echo
        fi
        echo "Machine: $machine; load average $load_before before the runs.$load_note"
        echo "Topic of $partitions partition(s), records of $size bytes."
        echo
        echo "| run | settings | result |"
        echo "| --- | --- | --- |"
        echo "| produce | $count records, acks=1, linger.ms=5, unlimited rate | $produce_line |"
        echo "| consume | $count records from the beginning | $consume_line |"
        echo "| latency | $lat_count records at $lat_rate msgs/s (half the max), acks=1, linger.ms=1 | $latency_line |"
    } >>"$doc"
    say "recorded in doc/benchmarks.md"
fi
