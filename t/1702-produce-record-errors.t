#!/usr/bin/python3
# Produce v8+ per-record errors (KIP-467), as Kafka's LogValidator gives
# them: a batch with keyless records on a compacted topic, or with records
# whose CreateTime timestamp is out of message.timestamp.before/after.max.ms,
# is rejected as a whole (nothing appended), and the response lists the bad
# records by index in record_errors with Kafka's messages, plus Kafka's
# error_message. Raw Produce v8 (uncompressed and gzip batches); the
# installed clients (librdkafka 2.0.2, kafka-python 2.0.2) predate KIP-467's
# per-record reports, so confluent_kafka only sees the batch fail.
import os
import sys
import time
import zlib

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import odtest  # noqa: E402
import tap  # noqa: E402
from odtest import array, bytes_, i8, i16, i32, i64, string, u32, varint  # noqa: E402

INVALID_TIMESTAMP = 32
odtest.watchdog(120)
b = odtest.Broker().start()
with odtest.Conn(b.port) as c:
    res = odtest.create_topics(c, [("cmp", 1, 1, {"cleanup.policy": "compact"}),
                                   ("tsw", 1, 1, {"message.timestamp.before.max.ms": "3600000",
                                                  "message.timestamp.after.max.ms": "3600000"}),
                                   ("plain", 1, 1)])
tap.is_(res, {"cmp": 0, "tsw": 0, "plain": 0}, "topics created")


def gzip_batch(records, base_ts):
    """A gzip-compressed batch of (key, value[, ts_delta]) records."""
    recs = []
    for i, r in enumerate(records):
        ts_delta = r[2] if len(r) > 2 else 0
        body = (i8(0) + varint(ts_delta) + varint(i) + odtest._rec_bytes(r[0]) +
                odtest._rec_bytes(r[1]) + varint(0))
        recs.append(varint(len(body)) + body)
    z = zlib.compressobj(6, zlib.DEFLATED, 31)
    data = z.compress(b"".join(recs)) + z.flush()
    max_ts = base_ts + max((r[2] if len(r) > 2 else 0) for r in records)
    after_crc = (i16(1) + i32(len(records) - 1) + i64(base_ts) + i64(max_ts) + i64(-1) + i16(-1) +
                 i32(-1) + i32(len(records)) + data)
    return (i64(0) + i32(4 + 1 + 4 + len(after_crc)) + i32(-1) + i8(2) +
            u32(odtest.crc32c(after_crc)) + after_crc)


def produce_v8(topic, batch):
    body = (string(None) + i16(-1) + i32(10000) +
            array([topic], lambda t: string(t) + array([0], lambda p: i32(p) + bytes_(batch))))
    with odtest.Conn(b.port) as cc:
        r = cc.request(odtest.PRODUCE, 8, body)
    out = {}

    def part(x):
        d = {"index": x.i32(), "error": x.i16(), "base_offset": x.i64(), "lat": x.i64(),
             "log_start": x.i64(),
             "record_errors": x.array(lambda y: (y.i32(), y.string())), "message": x.string()}
        out[d["index"]] = d
    r.array(lambda x: (x.string(), x.array(part)))
    r.i32()
    return out[0]


def end_offset(topic):
    with odtest.Conn(b.port) as cc:
        return odtest.list_offsets(cc, {(topic, 0): -1})[(topic, 0)][2]


KEYMSG = "Compacted topic cannot accept message without key in topic partition cmp-0"
now = int(time.time() * 1000)
for kind, batch in (("uncompressed", odtest.build_batch(
                        [(b"k0", b"v"), (None, b"v"), (b"k2", b"v"), (None, b"v"), (b"k4", b"v")])),
                    ("gzip", gzip_batch([(b"k0", b"v"), (None, b"v"), (b"k2", b"v"), (None, b"v"),
                                         (b"k4", b"v")], now))):
    p = produce_v8("cmp", batch)
    tap.is_(p["error"], odtest.INVALID_RECORD, "%s batch with keyless records 1 and 3: INVALID_RECORD"
            % kind)
    tap.is_(p["record_errors"], [(1, KEYMSG), (3, KEYMSG)],
            "%s: record_errors name records 1 and 3 with Kafka's message" % kind)
    want = ("One or more records have been rejected due to 2 record errors in total, and only "
            "showing the first three errors at most: [RecordError(batchIndex=1, message='%s'), "
            "RecordError(batchIndex=3, message='%s')]" % (KEYMSG, KEYMSG))
    tap.is_(p["message"], want, "%s: error_message as Kafka words it" % kind)
tap.is_(end_offset("cmp"), 0, "nothing of the rejected batches was appended")
p = produce_v8("cmp", odtest.build_batch([(b"k0", b"v"), (b"k1", None)]))
tap.is_((p["error"], p["record_errors"], p["message"]), (0, [], None),
        "keyed records (a tombstone too) are accepted, no record_errors")

# Timestamps: record 2 two hours old, record 3 two hours ahead.
H2 = 2 * 3600 * 1000
batch = odtest.build_batch([(b"a", b"v"), (b"b", b"v"), (b"c", b"v", None, -H2), (b"d", b"v", None, H2)],
                           base_ts=now)
p = produce_v8("tsw", batch)
tap.is_(p["error"], INVALID_TIMESTAMP, "records outside the timestamp window: INVALID_TIMESTAMP")
tap.is_([i for i, _ in p["record_errors"]], [2, 3], "record_errors name records 2 and 3")
m = p["record_errors"][0][1] if p["record_errors"] else ""
tap.ok(m.startswith("Timestamp %d of message with offset 2 is out of range. The timestamp should be "
                    "within [" % (now - H2)), "record message as Kafka's: %s" % m)
tap.is_(p["message"], "One or more records have been rejected due to invalid timestamp",
        "error_message for timestamp errors")
p = produce_v8("tsw", gzip_batch([(b"a", b"v"), (b"b", b"v", -H2)], now))
tap.is_((p["error"], [i for i, _ in p["record_errors"]]), (INVALID_TIMESTAMP, [1]),
        "gzip batch: the records inside are checked one by one (record 1 refused)")
tap.is_(end_offset("tsw"), 0, "nothing appended to the timestamp-limited topic")
# A batch claiming LogAppendTime is refused: only the broker sets it.
p = produce_v8("plain", odtest.build_batch([(b"a", b"v")], attributes=0x08, base_ts=-1))
tap.is_((p["error"], [i for i, _ in p["record_errors"]]), (INVALID_TIMESTAMP, [0]),
        "a client batch with the LogAppendTime attribute and no timestamp: INVALID_TIMESTAMP")

# ---- confluent_kafka: per-message delivery reports ------------------------------------------
try:
    import confluent_kafka as ck
except ImportError:
    ck = None
if ck is None:
    tap.skip("confluent_kafka not available", 2)
else:
    log = odtest.RdLog()
    pr = ck.Producer(odtest.ck_conf(b.bootstrap, **{"linger.ms": 200, "batch.num.messages": 100,
                                                    "enable.idempotence": False, "acks": "all"}),
                     logger=log)
    reports = {}
    CMP_BEFORE = end_offset("cmp")

    def dr(err, msg):
        reports[msg.value()] = err
    for i, k in enumerate([b"k0", None, b"k2"]):
        pr.produce("cmp", value=b"m%d" % i, key=k, partition=0, on_delivery=dr)
    pr.flush(30)
    # librdkafka 2.0.2 (the one installed) asks for Produce v7 and predates
    # KIP-467's per-record reports (librdkafka 2.5's
    # _INVALID_DIFFERENT_RECORD): it sees the partition's error for every
    # message of the refused batch. Which messages share a batch with the
    # keyless one is librdkafka's choice (linger, a metadata refresh), so
    # the checks are: the keyless one fails with INVALID_RECORD, every
    # failure is INVALID_RECORD, and exactly the messages reported
    # delivered were appended.
    codes = {k: (e.code() if e else None) for k, e in reports.items()}
    tap.ok(len(codes) == 3 and codes.get(b"m1") == ck.KafkaError.INVALID_RECORD and
           all(c in (None, ck.KafkaError.INVALID_RECORD) for c in codes.values()),
           "confluent_kafka: the keyless message's batch fails with INVALID_RECORD (%s)"
           % sorted(codes.items()))
    delivered = sum(1 for c in codes.values() if c is None)
    tap.is_(end_offset("cmp"), CMP_BEFORE + delivered,
            "only the messages reported delivered were appended (%d)" % delivered)
sys.exit(odtest.finish())
