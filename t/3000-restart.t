#!/usr/bin/python3
# Topics, partitions, configs and data survive a clean restart (SIGTERM);
# SIGTERM exits 0 promptly, also with open client connections.
import os
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import odtest  # noqa: E402
import tap  # noqa: E402

try:
    import confluent_kafka as ck
    from confluent_kafka.admin import ConfigResource, NewPartitions
except ImportError as e:
    tap.skip_all("confluent_kafka not available: %s" % e)

odtest.watchdog(240)
b = odtest.Broker(sets={"num.partitions": "2"}).start()
log = odtest.RdLog()
admin = odtest.ck_admin(b.bootstrap, logger=log)

odtest.ck_create_topic(admin, "rs-a", 3, {"retention.ms": "3600000", "segment.bytes": "10485760"})
odtest.ck_create_topic(admin, "rs-b", 1)
odtest.ck_create_topic(admin, "rs-deleted", 1)
f = admin.create_partitions([NewPartitions("rs-b", 4)], request_timeout=30)["rs-b"]
f.result(30)
odtest.wait_topic(admin, "rs-b", 4)
f = admin.delete_topics(["rs-deleted"], request_timeout=30)["rs-deleted"]
f.result(30)


def produce(topic, parts, n, tag):
    p = ck.Producer(odtest.ck_conf(b.bootstrap, acks="all", **{"linger.ms": 5}), logger=log)
    errs = []
    for i in range(n):
        p.produce(topic, b"%s-%d" % (tag, i) * (1 + i % 7), b"k%d" % i, i % parts,
                  headers=[("i", b"%d" % i)],
                  on_delivery=lambda e, m: e and errs.append(e))
        if i % 1000 == 0:
            p.poll(0)
    left = p.flush(60)
    return errs or left


def snapshot():
    out = {}
    for topic, parts in (("rs-a", 3), ("rs-b", 4), ("rs-auto", 2)):
        got, hw = odtest.ck_read(b.bootstrap, topic, list(range(parts)), timeout=60, logger=log)
        out[topic] = {p: [(m.offset(), m.key(), m.value(), m.headers(), m.timestamp())
                          for m in got[p]] for p in got}
    return out


tap.ok(not produce("rs-a", 3, 6000, b"a"), "produced 6000 messages to rs-a")
tap.ok(not produce("rs-b", 4, 2000, b"b"), "produced 2000 messages to rs-b (4 partitions)")
# Auto-created by the producer: num.partitions=2 from --set.
tap.ok(not produce("rs-auto", 2, 500, b"c"), "produced 500 messages to auto-created rs-auto")
odtest.wait_topic(admin, "rs-auto", 2)
before = snapshot()
tap.is_([len(before["rs-a"][p]) for p in range(3)], [2000, 2000, 2000], "rs-a: 2000 per partition")

# Keep a client connection open across the SIGTERM: shutdown must not wait for it.
idle = odtest.Conn(b.port)
odtest.api_versions(idle, 0)
t0 = time.monotonic()
rc = b.stop(timeout=10)
secs = time.monotonic() - t0
tap.is_(rc, 0, "SIGTERM: exit status 0")
tap.ok(rc is not None and secs < 5, "SIGTERM: exits promptly (%.2fs) with a client connected" % secs)
idle.close()

# librdkafka clients remember topics they saw and ask for them again after a
# reconnect (with auto-create allowed for producer-type handles such as the
# AdminClient), which would resurrect rs-deleted; use a fresh client per run.
del admin

for round_ in (1, 2):
    b.start()
    admin = odtest.ck_admin(b.bootstrap, logger=log)
    md = admin.list_topics(timeout=15)
    tap.is_({t: len(md.topics[t].partitions) for t in ("rs-a", "rs-b", "rs-auto") if t in md.topics},
            {"rs-a": 3, "rs-b": 4, "rs-auto": 2},
            "restart %d: topics and partition counts survive (incl. create_partitions)" % round_)
    tap.ok("rs-deleted" not in md.topics, "restart %d: a deleted topic stays deleted" % round_)
    try:
        fs = admin.describe_configs([ConfigResource(ConfigResource.Type.TOPIC, "rs-a")],
                                    request_timeout=30)
        cfg = list(fs.values())[0].result(30)
        tap.is_((cfg["retention.ms"].value, cfg["segment.bytes"].value), ("3600000", "10485760"),
                "restart %d: topic config overrides survive" % round_)
        tap.is_(cfg["cleanup.policy"].value, "delete", "restart %d: defaults still reported" % round_)
    except Exception as e:
        tap.ok(False, "restart %d: describe_configs: %r" % (round_, e))
        tap.ok(False, "restart %d: defaults" % round_)
    after = snapshot()
    for topic in ("rs-a", "rs-b", "rs-auto"):
        tap.ok(after[topic] == before[topic], "restart %d: %s data identical (offsets, keys, "
               "values, headers, timestamps)" % (round_, topic)) or \
            tap.diag({p: (len(before[topic][p]), len(after[topic].get(p, []))) for p in before[topic]})
    # Appending after a restart continues the offsets.
    p = ck.Producer(odtest.ck_conf(b.bootstrap, acks="all"), logger=log)
    dr = []
    p.produce("rs-a", b"after-restart-%d" % round_, None, 1, on_delivery=lambda e, m: dr.append((e, m.offset())))
    p.flush(30)
    want_off = 2000 + round_ - 1
    tap.is_(dr, [(None, want_off)], "restart %d: new message in rs-a/1 gets offset %d" % (round_, want_off))
    got, hw = odtest.ck_read(b.bootstrap, "rs-a", [1], timeout=30, logger=log)
    before["rs-a"][1] = [(m.offset(), m.key(), m.value(), m.headers(), m.timestamp()) for m in got[1]]
    del admin
    t0 = time.monotonic()
    rc = b.stop(timeout=10)
    secs = time.monotonic() - t0
    tap.is_(rc, 0, "restart %d: SIGTERM exit status 0" % round_)
    tap.ok(rc is not None and secs < 5, "restart %d: SIGTERM exits promptly (%.2fs)" % (round_, secs))

# SIGTERM while a producer is busy: exit 0 promptly, nothing acknowledged lost.
b.start()
acked = {}
stop = threading.Event()


def busy():
    p = ck.Producer(odtest.ck_conf(b.bootstrap, **{"acks": "all", "linger.ms": 2,
                                                    "message.timeout.ms": 3000}), logger=log)

    def cb(e, m):
        if e is None:
            acked[(m.partition(), m.offset())] = m.value()
    i = 0
    while not stop.is_set() and i < 1000000:
        try:
            p.produce("rs-b", b"busy-%d" % i, None, i % 4, on_delivery=cb)
            i += 1
        except BufferError:
            p.poll(0.01)
        if i % 100 == 0:
            p.poll(0)
    p.flush(10)


th = threading.Thread(target=busy, daemon=True)
th.start()
odtest.wait_until(lambda: len(acked) >= 2000 or not th.is_alive(), 30, 0.01)
t0 = time.monotonic()
rc = b.stop(timeout=10)
secs = time.monotonic() - t0
stop.set()
th.join(30)
tap.is_(rc, 0, "SIGTERM under produce load: exit status 0")
tap.ok(rc is not None and secs < 5, "SIGTERM under produce load: exits promptly (%.2fs)" % secs)
b.start()
got, hw = odtest.ck_read(b.bootstrap, "rs-b", [0, 1, 2, 3], timeout=60, logger=log)
stored = {(p, m.offset()): m.value() for p in got for m in got[p]}
missing = [k for k, v in acked.items() if stored.get(k) != v]
tap.ok(acked and not missing, "after SIGTERM under load: all %d acknowledged messages stored at "
       "their offsets" % len(acked)) or tap.diag("missing/different: %d, e.g. %s"
                                                 % (len(missing), sorted(missing)[:5]))
tap.ok(all([m.offset() for m in got[p]] == list(range(hw[p])) for p in got),
       "after SIGTERM under load: offsets contiguous")
b.stop()

# SIGINT behaves like SIGTERM.
b.start()
t0 = time.monotonic()
b.proc.send_signal(2)
try:
    rc = b.proc.wait(10)
except Exception:
    rc = None
tap.is_(rc, 0, "SIGINT: exit status 0 (%.2fs)" % (time.monotonic() - t0))

if tap.failed():
    log.diag()
sys.exit(odtest.finish())
