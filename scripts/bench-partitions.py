#!/usr/bin/python3
"""bench-partitions.py - many partitions under a low open-files limit.

Starts odradekd (default: the non-sanitizer build in _build-bench) under
RLIMIT_NOFILE (soft and hard; --soft-only leaves the hard limit alone, so
a broker that raises its soft limit may), creates TOPICS x PARTS
partitions, writes MSGS records to every partition, reads them all back,
restarts the broker (SIGTERM), reads them again and writes once more, and
prints the time of each step, the broker's open descriptors (all, and
partition .log files) and its RSS when idle, from /proc.

  scripts/bench-partitions.py [--build DIR] [--topics 4] [--parts 500]
                              [--msgs 5] [--nofile 1024] [--soft-only]
                              [--module-dir DIR]

Traffic goes to 127.0.0.1 only; the data directory is a temp dir removed
at the end. Figures, not assertions: see doc/benchmarks.md.
"""
import argparse
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import confluent_kafka as ck
from confluent_kafka.admin import AdminClient, NewTopic

ap = argparse.ArgumentParser()
top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ap.add_argument("--build", default=os.path.join(top, "_build-bench"))
ap.add_argument("--topics", type=int, default=4)
ap.add_argument("--parts", type=int, default=500)
ap.add_argument("--msgs", type=int, default=5)
ap.add_argument("--size", type=int, default=100)
ap.add_argument("--nofile", type=int, default=1024)
ap.add_argument("--soft-only", action="store_true")
ap.add_argument("--module-dir", help="modules to load (default: BUILD/.libs), e.g. an older "
                "storage_segment.so for a comparison")
args = ap.parse_args()

tmp = tempfile.mkdtemp(prefix="bench-partitions.")
data = os.path.join(tmp, "data")
s = socket.socket()
s.bind(("127.0.0.1", 0))
port = s.getsockname()[1]
s.close()
boot = "127.0.0.1:%d" % port
topics = ["bp-%d" % i for i in range(args.topics)]
total_parts = args.topics * args.parts
quiet = {"log_level": 0, "socket.timeout.ms": 30000}


def limit():
    hard = args.nofile if not args.soft_only else resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (args.nofile, hard))


proc = None
logf = open(os.path.join(tmp, "broker.log"), "ab")


def start():
    global proc
    argv = [os.path.join(args.build, "odradekd"),
            "--set", "module.dir=" + (args.module_dir or os.path.join(args.build, ".libs")),
            "--set", "listeners=PLAINTEXT://%s" % boot,
            "--set", "log.dirs=" + data, "--set", "node.id=1"]
    t0 = time.monotonic()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=logf, stderr=logf,
                            preexec_fn=limit)
    while True:
        if proc.poll() is not None:
            sys.exit("broker exited with %s during start; see %s/broker.log" % (proc.returncode, tmp))
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            break
        except OSError:
            time.sleep(0.05)
    return time.monotonic() - t0


def stop():
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    rc = proc.wait(120)
    return rc, time.monotonic() - t0


def idle_figures(label):
    time.sleep(2)  # let the last responses go out
    fd_dir = "/proc/%d/fd" % proc.pid
    fds = os.listdir(fd_dir)
    logs = 0
    for fd in fds:
        try:
            t = os.readlink(os.path.join(fd_dir, fd))
        except OSError:
            continue
        logs += t.endswith(".log") and t.startswith(data) and "__cluster_metadata" not in t
    rss = hwm = 0
    with open("/proc/%d/status" % proc.pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
            elif line.startswith("VmHWM:"):
                hwm = int(line.split()[1])
    print("%-22s open fds %5d (partition .log %4d)  RSS %6.1f MiB  (peak %6.1f MiB)"
          % (label, len(fds), logs, rss / 1024.0, hwm / 1024.0))
    sys.stdout.flush()


def create():
    admin = AdminClient({"bootstrap.servers": boot, **quiet})
    t0 = time.monotonic()
    for name in topics:
        fs = admin.create_topics([NewTopic(name, args.parts, 1)], operation_timeout=120,
                                 request_timeout=120)
        fs[name].result(180)
    # until every partition has a leader
    while True:
        md = admin.list_topics(timeout=30)
        n = sum(len(md.topics[t].partitions) for t in topics if t in md.topics and
                md.topics[t].error is None)
        if n == total_parts:
            break
        time.sleep(0.2)
    return time.monotonic() - t0


def produce(tag):
    p = ck.Producer({"bootstrap.servers": boot, "acks": "all", "linger.ms": 20, **quiet})
    errs = []
    val = b"x" * args.size
    t0 = time.monotonic()
    for name in topics:
        for part in range(args.parts):
            for i in range(args.msgs):
                while True:
                    try:
                        p.produce(name, val, b"%s-%d-%d" % (tag, part, i), part,
                                  on_delivery=lambda e, m: e and errs.append(e))
                        break
                    except BufferError:
                        p.poll(0.1)
        p.poll(0)
    left = p.flush(300)
    secs = time.monotonic() - t0
    if errs or left:
        sys.exit("produce: %d errors (first %s), %d undelivered" % (len(errs), errs[:1], left))
    return secs


def consume(per_part):
    c = ck.Consumer({"bootstrap.servers": boot, "group.id": "bench-partitions",
                     "enable.auto.commit": False, "enable.partition.eof": True,
                     "fetch.wait.max.ms": 50, **quiet})
    t0 = time.monotonic()
    want = {(t, p): per_part for t in topics for p in range(args.parts)}
    got = {k: 0 for k in want}
    c.assign([ck.TopicPartition(t, p, ck.OFFSET_BEGINNING) for t, p in want])
    todo = set(want)
    deadline = time.monotonic() + 600
    while todo and time.monotonic() < deadline:
        for m in c.consume(num_messages=10000, timeout=0.5):
            if m.error():
                if m.error().code() != ck.KafkaError._PARTITION_EOF:
                    sys.exit("consume: %s" % m.error())
                continue
            k = (m.topic(), m.partition())
            got[k] += 1
            if got[k] >= want[k]:
                todo.discard(k)
    c.close()
    secs = time.monotonic() - t0
    if todo:
        sys.exit("consume: %d partitions incomplete, e.g. %s" % (len(todo), sorted(todo)[:3]))
    return secs


def main():
    hard = "hard %d" % args.nofile if not args.soft_only else "hard unchanged"
    print("bench-partitions: %d topics x %d partitions, %d x %d-byte records each, "
          "RLIMIT_NOFILE soft %d, %s, build %s" % (args.topics, args.parts, args.msgs, args.size,
                                                   args.nofile, hard, args.build))
    secs = start()
    print("start (empty):         %6.2f s" % secs)
    secs = create()
    print("create %d partitions: %6.2f s" % (total_parts, secs))
    idle_figures("idle after create:")
    n = total_parts * args.msgs
    secs = produce(b"a")
    print("produce %d records:   %6.2f s (%.0f records/s)" % (n, secs, n / secs))
    secs = consume(args.msgs)
    print("read all back:         %6.2f s" % secs)
    idle_figures("idle after read:")
    rc, secs = stop()
    print("stop (SIGTERM):        %6.2f s, exit %s" % (secs, rc))
    secs = start()
    print("restart until listening: %4.2f s" % secs)
    secs = consume(args.msgs)
    print("read all after restart: %5.2f s" % secs)
    secs = produce(b"b")
    print("produce after restart: %6.2f s" % secs)
    secs = consume(2 * args.msgs)
    print("read all (both rounds): %5.2f s" % secs)
    idle_figures("idle after restart:")
    rc, secs = stop()
    print("stop (SIGTERM):        %6.2f s, exit %s" % (secs, rc))
    emfile = open(os.path.join(tmp, "broker.log"), "rb").read().count(b"Too many open files")
    print("'Too many open files' in the broker log: %d" % emfile)


try:
    main()
finally:
    if proc and proc.poll() is None:
        proc.kill()
    if os.environ.get("KEEP"):
        print("kept %s" % tmp)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
