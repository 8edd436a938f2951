#!/usr/bin/python3
# Retention and DeleteRecords on a running broker: with small segments, old
# segments go by retention.ms and retention.bytes (checked every 500 ms),
# the files leave the data directory, ListOffsets(earliest) and confluent's
# low watermark move, a fetch below the start is OFFSET_OUT_OF_RANGE, and
# consumers reset as auto.offset.reset says. DeleteRecords (raw v0 and v2)
# moves the start, answers the errors Kafka answers, and the start survives
# a clean restart and a kill -9; offsets continue, never reused.
import glob
import os
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import odtest  # noqa: E402
import tap  # noqa: E402
from odtest import (Conn, array, compact_array, compact_string, i32, i64, string)  # noqa: E402

try:
    import confluent_kafka as ck
except ImportError as e:
    tap.skip_all("confluent_kafka not available: %s" % e)

odtest.watchdog(int(os.environ.get("ODTEST_TIMEOUT", "240")))
DELETE_RECORDS = 21
SEG = 2000
b = odtest.Broker(sets={"log.retention.check.interval.ms": "500",
                        "log.segment.delete.delay.ms": "1000"}).start()
BS = b.bootstrap
log = odtest.RdLog()
admin = odtest.ck_admin(BS, logger=log)
conn = Conn(b.port)
NOW = int(time.time() * 1000)
OLD = NOW - 3600 * 1000  # an hour ago

# Batches of 5 records sized so that exactly PER_SEG fill a segment.
VAL = b"v" * 60


def batch(ts, n=5):
    return odtest.build_batch([(b"k%d" % i, VAL) for i in range(n)], base_ts=ts)


BLEN = len(batch(NOW))
PER_SEG = SEG // BLEN
tap.diag("batch %d bytes, %d per %d-byte segment" % (BLEN, PER_SEG, SEG))


def produce_batches(topic, count, ts):
    for _ in range(count):
        res = odtest.produce(conn, {(topic, 0): batch(ts)})
        if res[(topic, 0)][0] != 0:
            raise RuntimeError("produce to %s: error %d" % (topic, res[(topic, 0)][0]))


def seg_bases(topic):
    return sorted(int(os.path.basename(f)[:20])
                  for f in glob.glob(os.path.join(b.data, topic + "-0", "*.log")))


def earliest(topic):
    return odtest.list_offsets(conn, {(topic, 0): -2})[(topic, 0)]


def watermarks(topic):
    c = ck.Consumer(odtest.ck_conf(BS, **{"group.id": "wm"}), logger=log)
    try:
        return c.get_watermark_offsets(ck.TopicPartition(topic, 0), timeout=10)
    finally:
        c.close()


def first_consumed(topic, reset, offset=0, timeout=15):
    """assign() at `offset` with auto.offset.reset=reset: the first message's
    offset, or ('error', KafkaError) for an error event."""
    c = ck.Consumer(odtest.ck_conf(BS, **{"group.id": "ret-" + reset, "auto.offset.reset": reset,
                                          "enable.auto.commit": False,
                                          "fetch.wait.max.ms": 50}), logger=log)
    try:
        c.assign([ck.TopicPartition(topic, 0, offset)])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is None:
                continue
            if m.error():
                return ("error", m.error())
            return m.offset()
        return None
    finally:
        c.close()


# ---- retention.ms -------------------------------------------------------------
T = "ret-time"
odtest.ck_create_topic(admin, T, 1, {"segment.bytes": str(SEG), "retention.ms": "60000"})
OLD_BATCHES = PER_SEG * 4
produce_batches(T, OLD_BATCHES, OLD)   # an hour old: due at once
produce_batches(T, PER_SEG * 2, NOW)   # fresh: kept for a minute
NEW_START = OLD_BATCHES * 5
END = (OLD_BATCHES + PER_SEG * 2) * 5
gone = odtest.wait_until(lambda: seg_bases(T) and seg_bases(T)[0] == NEW_START, 15)
tap.ok(gone, "retention.ms: segments of hour-old records leave the data dir (first .log now %s)"
       % (seg_bases(T)[:1],))
tap.is_(earliest(T), (0, -1, NEW_START), "ListOffsets earliest moves to %d" % NEW_START)
tap.is_(watermarks(T), (NEW_START, END), "confluent get_watermark_offsets: (%d, %d)"
        % (NEW_START, END))
res = odtest.fetch(conn, {(T, 0): 0})[(T, 0)]
tap.is_(res["error"], odtest.OFFSET_OUT_OF_RANGE, "raw fetch at offset 0: OFFSET_OUT_OF_RANGE")
res = odtest.fetch(conn, {(T, 0): NEW_START})[(T, 0)]
bs = odtest.parse_batches(res["records"])
tap.ok(res["error"] == 0 and bs and bs[0]["base_offset"] == NEW_START,
       "raw fetch at the new start serves from there")
tap.is_(first_consumed(T, "earliest"), NEW_START,
        "confluent consumer at offset 0, auto.offset.reset=earliest: continues at %d" % NEW_START)
got = first_consumed(T, "error")
tap.ok(isinstance(got, tuple) and got[1].code() == ck.KafkaError._AUTO_OFFSET_RESET,
       "auto.offset.reset=error: the client surfaces the out-of-range error (%s)"
       % (got[1] if isinstance(got, tuple) else got,))
tap.is_(first_consumed(T, "latest"), None,
        "auto.offset.reset=latest: nothing until new records arrive")
tap.ok(odtest.wait_until(lambda: not glob.glob(os.path.join(b.data, T + "-0", "*.deleted")), 10),
       "renamed *.deleted files are unlinked after log.segment.delete.delay.ms")

# ---- retention.bytes ------------------------------------------------------------
S = "ret-size"
SEGSIZE = PER_SEG * BLEN  # bytes in a full segment
odtest.ck_create_topic(admin, S, 1, {"segment.bytes": str(SEG),
                                     "retention.bytes": str(2 * SEGSIZE)})
produce_batches(S, PER_SEG * 8, NOW)   # 8 full segments
KEEP_FROM = PER_SEG * 6 * 5
ok = odtest.wait_until(lambda: seg_bases(S) and seg_bases(S)[0] == KEEP_FROM, 15)
tap.ok(ok, "retention.bytes=%d: 6 of 8 full segments deleted (bases now %s)"
       % (2 * SEGSIZE, seg_bases(S)))
size = sum(os.path.getsize(f) for f in glob.glob(os.path.join(b.data, S + "-0", "*.log")))
tap.is_(size, PER_SEG * BLEN * 2, "two segments of data kept")
tap.is_(earliest(S), (0, -1, KEEP_FROM), "ListOffsets earliest = %d" % KEEP_FROM)
produce_batches(S, 1, NOW)
tap.is_(odtest.list_offsets(conn, {(S, 0): -1})[(S, 0)][2], PER_SEG * 8 * 5 + 5,
        "offsets continue after retention")

# ---- DeleteRecords --------------------------------------------------------------
D = "delrec"
odtest.ck_create_topic(admin, D, 2)
produce_batches(D, 10, NOW)  # offsets 0..49


def delete_records(parts, version=0):
    """parts: [(topic, partition, offset)] -> {(topic, partition): (error, low)}."""
    by = {}
    for t, p, o in parts:
        by.setdefault(t, []).append((p, o))
    if version >= 2:
        body = compact_array(list(by.items()), lambda tp: compact_string(tp[0]) + compact_array(
            tp[1], lambda po: i32(po[0]) + i64(po[1]) + b"\x00") + b"\x00") + i32(5000) + b"\x00"
    else:
        body = array(list(by.items()), lambda tp: string(tp[0]) + array(
            tp[1], lambda po: i32(po[0]) + i64(po[1]))) + i32(5000)
    r = conn.request(DELETE_RECORDS, version, body, flexible=version >= 2)
    r.i32()
    out = {}

    def part(x, name):
        p, low, err = x.i32(), x.i64(), x.i16()
        if version >= 2:
            x.tags()
        out[(name, p)] = (err, low)

    def topic(x):
        name = x.compact_string() if version >= 2 else x.string()
        if version >= 2:
            x.compact_array(lambda y: part(y, name))
            x.tags()
        else:
            x.array(lambda y: part(y, name))
    if version >= 2:
        r.compact_array(topic)
    else:
        r.array(topic)
    return out


got = delete_records([(D, 0, 23)])
tap.is_(got[(D, 0)], (0, 23), "DeleteRecords v0 to 23: low watermark 23")
tap.is_(earliest(D), (0, -1, 23), "ListOffsets earliest follows: 23")
tap.is_(odtest.fetch(conn, {(D, 0): 22})[(D, 0)]["error"], odtest.OFFSET_OUT_OF_RANGE,
        "fetch at 22: OFFSET_OUT_OF_RANGE")
res = odtest.fetch(conn, {(D, 0): 23})[(D, 0)]
recs = [r for bt in odtest.parse_batches(res["records"]) for r in bt["records"] if r[0] >= 23]
tap.ok(res["error"] == 0 and recs and recs[0][0] == 23, "fetch at 23 serves offset 23 (mid-batch start)")
tap.is_(first_consumed(D, "earliest"), 23, "confluent consumer from 0 with earliest: starts at 23")
got = delete_records([(D, 0, 10)])
tap.is_(got[(D, 0)], (0, 23), "an older offset changes nothing (low watermark 23)")
got = delete_records([(D, 0, 60)])
tap.is_(got[(D, 0)][0], odtest.OFFSET_OUT_OF_RANGE, "offset past the high watermark: OFFSET_OUT_OF_RANGE")
got = delete_records([(D, 0, -5)])
tap.is_(got[(D, 0)][0], odtest.OFFSET_OUT_OF_RANGE, "offset -5: OFFSET_OUT_OF_RANGE")
got = delete_records([(D, 7, 1), ("no-such", 0, 1)])
tap.is_((got[(D, 7)][0], got[("no-such", 0)][0]),
        (odtest.UNKNOWN_TOPIC_OR_PARTITION, odtest.UNKNOWN_TOPIC_OR_PARTITION),
        "unknown partition and topic: UNKNOWN_TOPIC_OR_PARTITION")
got = delete_records([(D, 1, -1)], version=2)
tap.is_(got[(D, 1)], (0, 0), "DeleteRecords v2 (flexible), -1 on an empty partition: low 0")

b.restart()
conn.close()
conn = Conn(b.port)
tap.is_(earliest(D), (0, -1, 23), "after a clean restart the start is still 23")
b.restart(clean=False)
conn.close()
conn = Conn(b.port)
tap.is_(earliest(D), (0, -1, 23), "after kill -9 and restart the start is still 23")
tap.is_(earliest(T)[2], NEW_START, "retention's start survives the restarts too")
got = delete_records([(D, 0, -1)], version=2)
tap.is_(got[(D, 0)], (0, 50), "DeleteRecords -1 (v2): everything up to the high watermark, low 50")
produce_batches(D, 1, NOW)
tap.is_(odtest.list_offsets(conn, {(D, 0): -1})[(D, 0)][2], 55, "the next produce gets offset 50 (end 55)")
res = odtest.fetch(conn, {(D, 0): 50})[(D, 0)]
bs = odtest.parse_batches(res["records"])
tap.ok(res["error"] == 0 and bs and bs[0]["base_offset"] == 50, "and it is readable at 50")

conn.close()
odtest.finish()
