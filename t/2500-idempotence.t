#!/usr/bin/python3
# Idempotent producers (KIP-98), timestamps and size limits:
#  (a) an idempotent confluent_kafka producer stores every message once, in order;
#  (b) a raw client resending a batch with the same sequence gets the original
#      offset and nothing is appended; gaps and fenced epochs are refused;
#  (c) the dedupe state survives a clean restart and a kill -9;
#  (d) message.timestamp.difference.max.ms (and before/after.max.ms),
#      LogAppendTime, ListOffsets by timestamp;
#  (e) max.message.bytes per topic and message.max.bytes for the broker.
import os
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import odtest  # noqa: E402
import tap  # noqa: E402
from odtest import (Conn, NO_TAGS, compact_string, i16, i32, i64, string)  # noqa: E402

odtest.watchdog(int(os.environ.get("ODTEST_TIMEOUT", "300")))
INIT_PRODUCER_ID = 22
INVALID_TIMESTAMP = 32
MESSAGE_TOO_LARGE = 10
OUT_OF_ORDER = 45
INVALID_EPOCH = 47
TXN_ID_AUTH_FAILED = 53
BROKER_MAX = 300000

b = odtest.Broker(sets={"message.max.bytes": str(BROKER_MAX)}).start()
conn = Conn(b.port)


def reconnect():
    global conn
    conn.close()
    conn = Conn(b.port)


def init_pid(version=0, pid=-1, epoch=-1, txn_id=None):
    """InitProducerId; returns (error, producer_id, epoch)."""
    if version >= 2:
        body = compact_string(txn_id) + i32(60000)
        if version >= 3:
            body += i64(pid) + i16(epoch)
        r = conn.request(INIT_PRODUCER_ID, version, body + NO_TAGS, flexible=True)
    else:
        r = conn.request(INIT_PRODUCER_ID, version, string(txn_id) + i32(60000))
    r.i32()  # throttle
    return r.i16(), r.i64(), r.i16()


def batch(pid, epoch, seq, n, tag="r", ts=None):
    return odtest.build_batch([(b"k%d" % (seq + i), b"%s-%d" % (tag.encode(), seq + i))
                               for i in range(n)], base_ts=ts, producer_id=pid,
                              producer_epoch=epoch, base_sequence=seq)


def send(topic, data, part=0):
    return odtest.produce(conn, {(topic, part): data}, acks=-1)[(topic, part)]


def log_end(topic, part=0):
    return odtest.list_offsets(conn, {(topic, part): -1})[(topic, part)][2]


def create(name, parts=1, cfg=None):
    res = odtest.create_topics(conn, [(name, parts, 1, cfg or {})])
    tap.is_(res.get(name), 0, "create topic %s %s" % (name, cfg or ""))


# ---- (b) raw: duplicates, gaps, epochs ------------------------------------------
create("idem-raw")
err, pid, ep = init_pid(0)
tap.ok(err == 0 and pid >= 0 and ep == 0, "InitProducerId v0: producer id %d epoch %d" % (pid, ep))
err4, pid4, ep4 = init_pid(4)
tap.ok(err4 == 0 and pid4 > pid and ep4 == 0, "InitProducerId v4 gives a new id (%d)" % pid4)

first = batch(pid, 0, 0, 10)
e1, off1, _ = send("idem-raw", first)
tap.ok(e1 == 0 and off1 == 0, "batch seq 0..9 stored at offset %d" % off1)
e2, off2, _ = send("idem-raw", first)
tap.ok(e2 == 0 and off2 == off1, "identical resend answered with the original offset (%d)" % off2)
tap.is_(log_end("idem-raw"), 10, "resend appended nothing (log end 10)")
tap.is_(send("idem-raw", batch(pid, 0, 20, 5))[0], OUT_OF_ORDER,
        "sequence gap -> OUT_OF_ORDER_SEQUENCE_NUMBER")
create("idem-raw-new")
tap.is_(send("idem-raw-new", batch(pid4, 0, 7, 1))[0], 0,
        "a producer new to the partition may start at sequence 7 (as Kafka 3.x)")
tap.is_(send("idem-raw-new", batch(pid4, 0, 9, 1))[0], OUT_OF_ORDER,
        "...and then must continue in sequence (9 after 7 is a gap)")
e3, off3, _ = send("idem-raw", batch(pid, 0, 10, 5))
tap.ok(e3 == 0 and off3 == 10, "next sequence 10..14 accepted at offset 10")
eb, pidb, epb = init_pid(3, pid, 0)
tap.ok(eb == 0 and pidb == pid and epb == 1, "InitProducerId v3 with pid/epoch bumps the epoch "
       "(%d/%d)" % (pidb, epb))
tap.is_(init_pid(3, pid, 0)[:3], (0, pid, 1), "a retried bump gets the same answer")
e4, off4, _ = send("idem-raw", batch(pid, 1, 0, 3))
tap.ok(e4 == 0 and off4 == 15, "new epoch from sequence 0 accepted")
tap.is_(send("idem-raw", batch(pid, 0, 15, 1))[0], INVALID_EPOCH,
        "old epoch after the bump -> INVALID_PRODUCER_EPOCH")
tap.is_(send("idem-raw", first)[0], INVALID_EPOCH, "old-epoch resend is fenced too")
tap.is_(send("idem-raw", batch(pid, 1, 5, 1))[0], OUT_OF_ORDER, "gap in the new epoch")
init_pid(3, pid4, 0)
tap.is_(init_pid(3, pid4, 1)[:3], (0, pid4, 2), "second bump of another producer")
tap.is_(init_pid(3, pid4, 0)[0], INVALID_EPOCH, "InitProducerId with a stale epoch refused")
tap.is_(init_pid(0, txn_id="tx-1")[0], TXN_ID_AUTH_FAILED,
        "transactional.id refused (transactions not supported yet)")
tap.is_(log_end("idem-raw"), 18, "log end 18 after all that")
recs = odtest.fetch_all(conn, "idem-raw", 0)[0]
tap.is_([r[0] for r in recs], list(range(18)), "stored offsets contiguous, no duplicates")

# ---- (c) restart: clean, then kill -9 --------------------------------------------
e5, off5, _ = send("idem-raw", batch(pid, 1, 3, 4, tag="c"))
tap.ok(e5 == 0 and off5 == 18, "batch before the clean restart at 18")
tap.is_(b.stop(), 0, "clean stop")
b.start()
reconnect()
e6, off6, _ = send("idem-raw", batch(pid, 1, 3, 4, tag="c"))
tap.ok(e6 == 0 and off6 == 18, "after a clean restart the resend is a duplicate (%d, %d)" % (e6, off6))
tap.is_(log_end("idem-raw"), 22, "nothing appended by the resend")
e7, off7, _ = send("idem-raw", batch(pid, 1, 7, 6, tag="k"))
tap.ok(e7 == 0 and off7 == 22, "next batch after the restart accepted at 22")
b.kill9()
b.start()
reconnect()
e8, off8, _ = send("idem-raw", batch(pid, 1, 7, 6, tag="k"))
tap.ok(e8 == 0 and off8 == 22, "after kill -9 the resend is a duplicate (%d, %d)" % (e8, off8))
e9, off9, _ = send("idem-raw", batch(pid, 1, 3, 4, tag="c"))
tap.ok(e9 == 0 and off9 == 18, "an older batch of the last five too (%d, %d)" % (e9, off9))
tap.is_(log_end("idem-raw"), 28, "log end unchanged (28)")
tap.is_(send("idem-raw", batch(pid, 1, 20, 1))[0], OUT_OF_ORDER, "gap still detected after kill -9")
tap.is_(send("idem-raw", batch(pid, 0, 30, 1))[0], INVALID_EPOCH, "old epoch still fenced")
# kill -9 only: the periodic snapshot (written within ~10 s of activity) plus
# the replay of the batches after it.
create("idem-k9")
pk = init_pid(0)[1]
ea, offa, _ = send("idem-k9", batch(pk, 0, 0, 3, tag="a"))
snap = os.path.join(b.data, "idem-k9-0", "producer-state.state")
tap.ok(odtest.wait_until(lambda: os.path.exists(snap), 20, 0.2),
       "periodic producer state snapshot written while the broker runs")
eb2, offb, _ = send("idem-k9", batch(pk, 0, 3, 3, tag="b"))
tap.ok(ea == 0 and eb2 == 0 and (offa, offb) == (0, 3), "two batches before kill -9")
b.kill9()
b.start()
reconnect()
tap.is_(send("idem-k9", batch(pk, 0, 0, 3, tag="a"))[:2], (0, 0),
        "kill -9: batch covered by the snapshot is a duplicate")
tap.is_(send("idem-k9", batch(pk, 0, 3, 3, tag="b"))[:2], (0, 3),
        "kill -9: batch after the snapshot (replayed) is a duplicate")
tap.is_(log_end("idem-k9"), 6, "nothing appended")
e10, pid10, _ = init_pid(0)
tap.ok(e10 == 0 and pid10 >= 1000, "a new id block after restarts (id %d)" % pid10)

# ---- (a) idempotent librdkafka producer ------------------------------------------
try:
    import confluent_kafka as ck
except ImportError as e:
    ck = None
    tap.skip("confluent_kafka not available: %s" % e, 3)
if ck:
    N = min(int(os.environ.get("ODTEST_N", "50000")), 50000)
    log = odtest.RdLog()
    create("idem-ck", parts=2)
    p = ck.Producer(odtest.ck_conf(b.bootstrap, **{
        "enable.idempotence": True, "acks": "all", "linger.ms": 5, "batch.size": 100000,
        "max.in.flight.requests.per.connection": 5, "message.timeout.ms": 120000,
        "queue.buffering.max.messages": 200000}), logger=log)
    errs = []

    def dr(err, msg):
        if err is not None and len(errs) < 10:
            errs.append(str(err))
    for i in range(N):
        while True:
            try:
                p.produce("idem-ck", value=b"m-%d" % i, key=b"%d" % (i % 2), partition=i % 2,
                          on_delivery=dr)
                break
            except BufferError:
                p.poll(0.05)
        if i % 1000 == 0:
            p.poll(0)
    left = p.flush(120)
    tap.ok(left == 0 and not errs, "idempotent producer delivered %d messages (left %d, errors %s)"
           % (N, left, errs[:3]))
    if errs:
        log.diag()
    got, hw = odtest.ck_read(b.bootstrap, "idem-ck", [0, 1], logger=log)
    vals = {pp: [m.value() for m in got[pp]] for pp in (0, 1)}
    want = {pp: [b"m-%d" % i for i in range(pp, N, 2)] for pp in (0, 1)}
    tap.ok(vals == want, "every message stored exactly once, in order (hw %s)" % hw)
    tap.ok(all([m.offset() for m in got[pp]] == list(range(len(got[pp]))) for pp in (0, 1)),
           "offsets contiguous from 0")

# ---- (d) timestamps ----------------------------------------------------------------
now = int(time.time() * 1000)
create("ts-diff", cfg={"message.timestamp.difference.max.ms": "60000"})
tap.is_(send("ts-diff", odtest.build_batch([(b"k", b"old")], base_ts=now - 3600000))[0],
        INVALID_TIMESTAMP, "timestamp 1 h old with difference.max.ms=60000 -> INVALID_TIMESTAMP")
tap.is_(send("ts-diff", odtest.build_batch([(b"k", b"new", [], 0), (b"k", b"f", [], 7200000)],
                                           base_ts=now))[0],
        INVALID_TIMESTAMP, "second record 2 h in the future -> INVALID_TIMESTAMP")
tap.is_(send("ts-diff", odtest.build_batch([(b"k", b"now")], base_ts=now))[0], 0,
        "current timestamp accepted")
create("ts-after", cfg={"message.timestamp.after.max.ms": "60000"})
tap.is_(send("ts-after", odtest.build_batch([(b"k", b"f")], base_ts=now + 3600000))[0],
        INVALID_TIMESTAMP, "after.max.ms=60000: 1 h ahead refused")
tap.is_(send("ts-after", odtest.build_batch([(b"k", b"p")], base_ts=now - 86400000))[0], 0,
        "after.max.ms=60000: a day old accepted")
create("ts-lat", cfg={"message.timestamp.type": "LogAppendTime"})
e, off, lat = send("ts-lat", odtest.build_batch([(b"k", b"v")], base_ts=1000))
tap.ok(e == 0 and abs(lat - now) < 60000, "LogAppendTime: response log_append_time %d" % lat)
e, off, lat2 = send("ts-lat", batch(pid10, 0, 0, 2, ts=1000))
e_dup, off_dup, lat_dup = send("ts-lat", batch(pid10, 0, 0, 2, ts=1000))
tap.ok(e_dup == 0 and off_dup == off and lat_dup == lat2,
       "duplicate on a LogAppendTime topic returns the original append time")
if ck:
    got, _ = odtest.ck_read(b.bootstrap, "ts-lat", [0], logger=log)
    tss = [m.timestamp() for m in got[0]]
    tap.ok(len(tss) == 3 and all(t[0] == ck.TIMESTAMP_LOG_APPEND_TIME and abs(t[1] - now) < 60000
                                 for t in tss), "consumer sees broker timestamps %s" % tss)
create("ts-idx", cfg={"index.interval.bytes": "100"})
T0 = now - 100000
for k in range(20):
    send("ts-idx", odtest.build_batch([(b"k", b"x" * 200)] * 3, base_ts=T0 + k * 1000))
lo = odtest.list_offsets(conn, {("ts-idx", 0): T0 + 7500})[("ts-idx", 0)]
tap.is_(lo, (0, T0 + 8000, 24), "ListOffsets by timestamp: first batch at or after it")
tap.is_(odtest.list_offsets(conn, {("ts-idx", 0): T0 + 99000})[("ts-idx", 0)][2], -1,
        "ListOffsets after the last timestamp: -1")
if ck:
    c = ck.Consumer(odtest.ck_conf(b.bootstrap, **{"group.id": "ts"}), logger=log)
    res = c.offsets_for_times([ck.TopicPartition("ts-idx", 0, T0 + 12000)], timeout=10)
    tap.is_(res[0].offset, 36, "offsets_for_times answers from the time index")
    c.close()

# ---- (e) size limits ---------------------------------------------------------------
create("small", cfg={"max.message.bytes": "1000"})
tap.is_(send("small", odtest.build_batch([(b"k", b"x" * 2000)]))[0], MESSAGE_TOO_LARGE,
        "batch above the topic's max.message.bytes -> MESSAGE_TOO_LARGE")
tap.is_(send("small", odtest.build_batch([(b"k", b"x" * 500)]))[0], 0, "smaller batch accepted")
create("plain")
tap.is_(send("plain", odtest.build_batch([(b"k", b"x" * (BROKER_MAX + 100))]))[0],
        MESSAGE_TOO_LARGE, "batch above the broker's message.max.bytes -> MESSAGE_TOO_LARGE")
create("big", cfg={"max.message.bytes": str(BROKER_MAX * 2)})
tap.is_(send("big", odtest.build_batch([(b"k", b"x" * (BROKER_MAX + 100))]))[0], 0,
        "a topic override above the broker default accepts it")
tap.is_(send("small", batch(pid10, 0, 0, 1, tag="x" * 3000))[0], MESSAGE_TOO_LARGE,
        "idempotent oversized batch refused too")

conn.close()
sys.exit(odtest.finish())
