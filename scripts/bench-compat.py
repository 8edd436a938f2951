#!/usr/bin/python3
"""bench-compat.py - figures for the per-record produce checks and ListOffsets
max timestamp. Starts its own odradekd (ODRADEK_BUILD as for the tests) on
127.0.0.1 and prints:
  - produce of 1000-record batches, uncompressed and gzip: a plain topic (no
    record walk), a compacted topic (keys checked), a topic with a timestamp
    window (every timestamp checked, gzip batches decompressed for it);
  - ListOffsets latency: latest (-1), by timestamp, max timestamp (-3, up to
    64 time lookups) on a log of many batches in many segments.
Usage: ODRADEK_BUILD=_build python3 scripts/bench-compat.py [batches]"""
import os
import sys
import time
import zlib

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "t", "lib"))
import odtest  # noqa: E402
from odtest import NO_TAGS, compact_array, compact_string, i8, i16, i32, i64, u32, varint  # noqa: E402

NB = int(sys.argv[1]) if len(sys.argv) > 1 else 300
b = odtest.Broker().start()
with odtest.Conn(b.port) as c:
    odtest.create_topics(c, [("plain", 1, 1), ("cmp", 1, 1, {"cleanup.policy": "compact"}),
                             ("win", 1, 1, {"message.timestamp.before.max.ms": "86400000"}),
                             ("lo", 1, 1, {"segment.bytes": "65536"})])


def records(n, base_ts):
    out = []
    for i in range(n):
        body = i8(0) + varint(i) + varint(i) + odtest._rec_bytes(b"key-%06d" % i) + \
            odtest._rec_bytes(b"v" * 100) + varint(0)
        out.append(varint(len(body)) + body)
    return b"".join(out)


def batch(n, gzip):
    ts = int(time.time() * 1000)
    recs = records(n, ts)
    attrs = 0
    if gzip:
        z = zlib.compressobj(1, zlib.DEFLATED, 31)
        recs = z.compress(recs) + z.flush()
        attrs = 1
    after = i16(attrs) + i32(n - 1) + i64(ts) + i64(ts + n - 1) + i64(-1) + i16(-1) + i32(-1) + i32(n) + recs
    return i64(0) + i32(9 + len(after)) + i32(-1) + i8(2) + u32(odtest.crc32c(after)) + after


for gz in (False, True):
    bt = batch(1000, gz)
    for topic in ("plain", "cmp", "win"):
        with odtest.Conn(b.port) as c:
            t0 = time.perf_counter()
            for _ in range(NB):
                assert odtest.produce(c, {(topic, 0): bt})[(topic, 0)][0] == 0
            dt = time.perf_counter() - t0
        print("produce %-4s %-5s: %7.0f records/s (%d batches of 1000, %.2f ms/batch)"
              % ("gzip" if gz else "none", topic, NB * 1000 / dt, NB, dt * 1000 / NB))

small = [odtest.build_batch([(b"k", b"v" * 200, None, i)], base_ts=1700000000000 + 10 * j)
         for j, i in enumerate(range(5000))]
with odtest.Conn(b.port) as c:
    for bb in small:
        odtest.produce(c, {("lo", 0): bb})
segs = len([f for f in os.listdir(os.path.join(b.data, "lo-0")) if f.endswith(".log")])


def lo_v7(c, ts):
    body = i32(-1) + i8(0) + compact_array([("lo", ts)], lambda tp: compact_string(tp[0]) + compact_array(
        [tp[1]], lambda t: i32(0) + i32(-1) + i64(t) + NO_TAGS) + NO_TAGS) + NO_TAGS
    c.request(odtest.LIST_OFFSETS, 7, body, flexible=True)


with odtest.Conn(b.port) as c:
    for name, ts in (("latest (-1)", -1), ("by timestamp", 1700000000000 + 10 * 2500),
                     ("max timestamp (-3)", -3)):
        t0 = time.perf_counter()
        for _ in range(200):
            lo_v7(c, ts)
        dt = time.perf_counter() - t0
        print("ListOffsets v7 %-18s: %.3f ms (5000 batches, %d segments)" % (name, dt * 1000 / 200, segs))
sys.exit(odtest.finish())
