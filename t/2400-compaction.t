#!/usr/bin/python3
# Log compaction end to end with confluent_kafka: 100,000 keyed writes over
# 1,000 keys to a cleanup.policy=compact topic while a consumer fetches;
# the cleaner leaves the latest value of every key at its original offset;
# tombstones and their keys disappear after delete.retention.ms; a record
# without a key is refused with INVALID_RECORD; kill -9 during cleaning
# loses nothing.
import os
import random
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import odtest  # noqa: E402
import tap  # noqa: E402

try:
    import confluent_kafka as ck
except ImportError as e:
    tap.skip_all("confluent_kafka not available: %s" % e)

odtest.watchdog(int(os.environ.get("ODTEST_TIMEOUT", "300")))
T = "compacted"
NKEYS = 1000
NWRITES = 100000
TOMB_KEYS = range(50)
RETAIN_MS = 3000

b = odtest.Broker(sets={"log.retention.check.interval.ms": "500",
                        "log.cleaner.backoff.ms": "200"}).start()
log = odtest.RdLog()
admin = odtest.ck_admin(b.bootstrap, logger=log)
odtest.ck_create_topic(admin, T, 1, {"cleanup.policy": "compact",
                                      "segment.bytes": "20000",
                                      "min.cleanable.dirty.ratio": "0.01",
                                      "delete.retention.ms": str(RETAIN_MS)})
del admin

offset_of = {}  # value (sequence text) -> acknowledged offset
latest = {}     # key -> (offset, value or None) of its last acknowledged write
errors = []


def on_delivery(err, msg):
    if err is not None:
        errors.append(err)
        return
    v = msg.value().decode() if msg.value() is not None else None
    k = msg.key().decode()
    if v is not None:
        offset_of[v] = msg.offset()
    cur = latest.get(k)
    if cur is None or cur[0] < msg.offset():
        latest[k] = (msg.offset(), v)


seq = [0]


def produce(n, keys, tombstone_keys=()):
    p = ck.Producer(odtest.ck_conf(b.bootstrap, **{"linger.ms": 5, "acks": "all",
                                                  # batches well below segment.bytes
                                                  "batch.size": 8000,
                                                  "enable.idempotence": False}),
                    logger=log)
    for i in range(n):
        k = keys[(i * 7919) % len(keys)]
        seq[0] += 1
        v = "s%d" % seq[0]
        while True:
            try:
                p.produce(T, key="k%d" % k, value=v, on_delivery=on_delivery)
                break
            except BufferError:
                p.poll(0.05)
        if i % 1000 == 0:
            p.poll(0)
    for k in tombstone_keys:
        p.produce(T, key="k%d" % k, value=None, on_delivery=on_delivery)
    left = p.flush(60)
    return left


def read_all():
    out, hw = odtest.ck_read(b.bootstrap, T, [0], timeout=60, logger=log)
    return out[0], hw[0]


def check(msgs, what, expect_tombs_gone=False):
    """Offsets increase, every record sits at its acknowledged offset, and the
    last record of every key is its latest acknowledged write."""
    prev = -1
    bad = []
    last = {}
    for m in msgs:
        k = m.key().decode() if m.key() is not None else None
        v = m.value().decode() if m.value() is not None else None
        if m.offset() <= prev:
            bad.append("offset %d after %d" % (m.offset(), prev))
        prev = m.offset()
        if v is not None and offset_of.get(v) != m.offset():
            bad.append("%s at %d, acknowledged at %s" % (v, m.offset(), offset_of.get(v)))
        last[k] = (m.offset(), v)
    for k, (off, v) in latest.items():
        if v is None and expect_tombs_gone:
            if k in last:
                bad.append("%s: deleted key still present at %d" % (k, last[k][0]))
        elif last.get(k) != (off, v):
            bad.append("%s: last is %s, latest write %s" % (k, last.get(k), (off, v)))
    for x in bad[:5]:
        tap.diag(x)
    tap.ok(not bad, "%s: %d records, offsets preserved, latest value of every key" % (what, len(msgs)))
    return not bad


# ---- concurrent produce and fetch -------------------------------------------------------
stop = threading.Event()
fetched = {"n": 0, "bad": 0, "err": None}


def fetcher():
    try:
        c = ck.Consumer(odtest.ck_conf(b.bootstrap, **{"group.id": "compaction-fetch",
                                                        "enable.auto.commit": False,
                                                        "auto.offset.reset": "earliest",
                                                        "fetch.wait.max.ms": 50}),
                        logger=log)
        c.assign([ck.TopicPartition(T, 0, ck.OFFSET_BEGINNING)])
        prev = -1
        while not stop.is_set():
            for m in c.consume(num_messages=5000, timeout=0.2):
                if m.error() is not None:
                    continue
                if m.offset() <= prev:
                    fetched["bad"] += 1
                prev = m.offset()
                fetched["n"] += 1
            if prev >= 0 and fetched["n"] > 0 and random.random() < 0.02:
                # start over now and then: fetches from cleaned segments
                c.seek(ck.TopicPartition(T, 0, 0))
                prev = -1
        c.close()
    except Exception as e:  # noqa: BLE001
        fetched["err"] = repr(e)


th = threading.Thread(target=fetcher)
th.start()
t0 = time.monotonic()
left = produce(NWRITES, list(range(NKEYS)))
tap.is_(left, 0, "100,000 keyed writes acknowledged")
tap.is_(len(errors), 0, "no delivery errors")
tap.diag("produced in %.1fs" % (time.monotonic() - t0))


def wait_compacted(limit, timeout):
    deadline = time.monotonic() + timeout
    msgs, hw = read_all()
    while len(msgs) > limit and time.monotonic() < deadline:
        time.sleep(1)
        msgs, hw = read_all()
    return msgs, hw


msgs, hw = wait_compacted(10000, 90)
stop.set()
th.join(30)
tap.ok(fetched["err"] is None and fetched["bad"] == 0 and fetched["n"] > 0,
       "a consumer fetched concurrently (%d records, err %s)" % (fetched["n"], fetched["err"]))
tap.ok(len(msgs) < 10000, "compacted: %d records left of %d (high watermark %d)"
       % (len(msgs), NWRITES, hw))
tap.is_(hw, NWRITES, "high watermark unchanged")
check(msgs, "after compaction")

# ---- a record without a key ------------------------------------------------------------
nk_err = []
p = ck.Producer(odtest.ck_conf(b.bootstrap, **{"retries": 0}), logger=log)
p.produce(T, value=b"no key", on_delivery=lambda err, msg: nk_err.append(err))
p.flush(30)
code = nk_err[0].code() if nk_err and nk_err[0] is not None else None
tap.is_(code, 87, "a null key on a compacted topic fails with INVALID_RECORD (%s)"
        % (nk_err[0] if nk_err else "no report"))

# ---- tombstones -----------------------------------------------------------------------------
others = [k for k in range(NKEYS) if k not in TOMB_KEYS]
produce(0, others, tombstone_keys=TOMB_KEYS)
produce(3000, others)  # moves the tombstones out of the active segment
msgs, hw = wait_compacted(len(msgs) + 1000, 30)
tombs = [m for m in msgs if m.value() is None]
tap.is_(len(tombs), len(TOMB_KEYS), "fresh tombstones are kept")
time.sleep(RETAIN_MS / 1000.0 + 0.5)
produce(3000, others)  # new dirty data so that the cleaner runs again
deadline = time.monotonic() + 60
while True:
    msgs, hw = read_all()
    gone = not any(m.key().decode() in ["k%d" % k for k in TOMB_KEYS] for m in msgs)
    if gone or time.monotonic() > deadline:
        break
    time.sleep(1)
tap.ok(gone, "tombstones and their keys are gone after delete.retention.ms")
check(msgs, "after tombstone removal", expect_tombs_gone=True)

# ---- kill -9 while cleaning ---------------------------------------------------------------
pdir = os.path.join(b.data, T + "-0")
mid_clean = 0


def cleaning_now():
    try:
        return any(n.endswith((".cleaned", ".swap")) for n in os.listdir(pdir))
    except OSError:
        return False


for rnd in range(5):
    produce(20000, others)
    # kill the moment a cleaner output exists, else at a random moment
    deadline = time.monotonic() + random.uniform(0.2, 2.0)
    while time.monotonic() < deadline and not cleaning_now():
        time.sleep(0.0005)
    mid_clean += cleaning_now()
    b.kill9()
    b.start()
    msgs, hw = read_all()
    if not check(msgs, "kill -9 round %d, after restart" % (rnd + 1), expect_tombs_gone=True):
        b.diag_log(40)
text = b.log_text()
tap.diag("killed with cleaner output on disk: %d of 5; at restart: swaps completed: %d, "
         "unfinished outputs removed: %d"
         % (mid_clean, text.count("completing an interrupted cleaner swap"),
            text.count("removing an unfinished cleaner output")))
msgs, hw = wait_compacted(10000, 60)
check(msgs, "compacted again after the restarts", expect_tombs_gone=True)
tap.ok(len(msgs) < 10000, "%d records left" % len(msgs))

# ---- an independent client over the gaps ------------------------------------------------
try:
    from kafka import KafkaConsumer, TopicPartition
except ImportError:
    KafkaConsumer = None
if KafkaConsumer is None:
    tap.skip("kafka-python not available")
else:
    kc = KafkaConsumer(bootstrap_servers=b.bootstrap, group_id=None, enable_auto_commit=False,
                       auto_offset_reset="earliest", fetch_max_wait_ms=100,
                       request_timeout_ms=30000)
    tp = TopicPartition(T, 0)
    kc.assign([tp])
    kc.seek_to_beginning()
    kend = kc.end_offsets([tp])[tp]
    got = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not got or got[-1] + 1 < kend):
        for recs in kc.poll(timeout_ms=500).values():
            got.extend(r.offset for r in recs)
    kc.close()
    tap.ok(got and got[-1] + 1 == kend and all(x < y for x, y in zip(got, got[1:])),
           "kafka-python reads the compacted log to its end (%d records, end %d)"
           % (len(got), kend))

odtest.finish()
