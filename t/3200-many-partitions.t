#!/usr/bin/python3
# Many more partitions than open files: under RLIMIT_NOFILE 256 (soft and
# hard, so the broker cannot raise it) 600 partitions are created, written,
# read back, and survive a restart, and the segment store keeps its .log
# descriptors bounded: when idle, at most its pool's cap (a quarter of the
# limit) are open.
import os
import resource
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import odtest  # noqa: E402
import tap  # noqa: E402

try:
    import confluent_kafka as ck
except ImportError as e:
    tap.skip_all("confluent_kafka not available: %s" % e)

LIMIT = 256
TOPICS = [("many-a", 300), ("many-b", 300)]

odtest.watchdog(600)
# The broker inherits the limit; lowering the hard one is for good, which
# is fine for this process.
resource.setrlimit(resource.RLIMIT_NOFILE, (LIMIT, LIMIT))
b = odtest.Broker(sets={"log.segment.bytes": "1048576"}).start(timeout=60)
log = odtest.RdLog()
admin = odtest.ck_admin(b.bootstrap, logger=log)

created = 0
for name, n in TOPICS:
    try:
        odtest.ck_create_topic(admin, name, n, timeout=120)
        created += n
    except Exception as e:  # noqa: BLE001 - reported below
        tap.diag("create %s: %s" % (name, e))
tap.is_(created, 600, "600 partitions created under RLIMIT_NOFILE %d" % LIMIT)


def produce(tag):
    p = ck.Producer(odtest.ck_conf(b.bootstrap, acks="all", **{"linger.ms": 20}), logger=log)
    errs = []
    for name, n in TOPICS:
        for part in range(n):
            for i in range(3):
                p.produce(name, b"%s-%s-%d-%d" % (tag, name.encode(), part, i), None, part,
                          on_delivery=lambda e, m: e and errs.append(e))
        p.poll(0)
    left = p.flush(120)
    if errs:
        tap.diag("first delivery error: %s (%d errors)" % (errs[0], len(errs)))
    return len(errs) == 0 and left == 0


def read_all(tags):
    """Every partition holds 3 records per tag, in order."""
    bad = []
    for name, n in TOPICS:
        got, hw = odtest.ck_read(b.bootstrap, name, list(range(n)), timeout=180, logger=log)
        for part in range(n):
            want = [b"%s-%s-%d-%d" % (t, name.encode(), part, i) for t in tags for i in range(3)]
            vals = [m.value() for m in got[part]]
            if vals != want:
                bad.append("%s-%d: %d records" % (name, part, len(vals)))
    if bad:
        tap.diag("wrong partitions: %s" % ", ".join(bad[:5]))
    return not bad


def open_log_fds(pid):
    """Descriptors of partition segment files (not the metadata log's)."""
    n = 0
    fd_dir = "/proc/%d/fd" % pid
    for fd in os.listdir(fd_dir):
        try:
            target = os.readlink(os.path.join(fd_dir, fd))
        except OSError:
            continue
        # segment files only: not the metadata log, not the broker's own log
        if (target.endswith(".log") and "/data/" in target
                and "__cluster_metadata" not in target):
            n += 1
            if os.environ.get("SHOWFDS"):
                tap.diag(target)
    tap.diag("%d descriptors open in all, %d of them partition .log files"
             % (len(os.listdir(fd_dir)), n))
    return n


tap.ok(produce(b"one"), "wrote to all 600 partitions")
tap.ok(read_all([b"one"]), "read back all 600 partitions")
CAP = LIMIT // 4
fds = open_log_fds(b.pid)
tap.ok(fds <= CAP, "segment .log descriptors open when idle: %d (pool cap %d)" % (fds, CAP))

del admin
rc = b.stop(timeout=60)
tap.is_(rc, 0, "clean stop")
b.start(timeout=120)
tap.ok(read_all([b"one"]), "after restart: all 600 partitions read back")
tap.ok(produce(b"two"), "after restart: all 600 partitions writable")
tap.ok(read_all([b"one", b"two"]), "after restart: old and new records in every partition")
tap.ok(open_log_fds(b.pid) <= CAP, "after restart: .log descriptors within the cap")
tap.ok("Too many open files" not in b.log_text(), "no EMFILE in the broker log")
odtest.finish()
