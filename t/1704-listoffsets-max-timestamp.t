#!/usr/bin/python3
# ListOffsets v7 (KIP-734): timestamp -3 answers the offset and timestamp of
# the record with the largest timestamp (the first of ties, inside
# compressed batches too); v8 (KIP-405): -4, earliest local offset, is the
# log start offset (no tiered storage). Raw requests (the installed clients,
# librdkafka 2.0.2 and kafka-python 2.0.2, cannot ask for -3), before and
# after a restart.
import os
import sys
import zlib

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import odtest  # noqa: E402
import tap  # noqa: E402
from odtest import NO_TAGS, compact_array, compact_string, i8, i16, i32, i64, u32, varint  # noqa: E402

odtest.watchdog(90)
b = odtest.Broker().start()
with odtest.Conn(b.port) as c:
    apis = odtest.api_versions(c, 0)["apis"]
    tap.ok(apis.get(odtest.LIST_OFFSETS, (0, 0))[1] >= 8, "ListOffsets v8 advertised (%r)"
           % (apis.get(odtest.LIST_OFFSETS),))
    tap.is_(odtest.create_topics(c, [("mt", 1, 1), ("empty", 1, 1)]), {"mt": 0, "empty": 0},
            "topics created")


def gzip_batch(tss):
    base = tss[0]
    recs = []
    for i, t in enumerate(tss):
        body = i8(0) + varint(t - base) + varint(i) + odtest._rec_bytes(b"k") + odtest._rec_bytes(b"v") + varint(0)
        recs.append(varint(len(body)) + body)
    z = zlib.compressobj(6, zlib.DEFLATED, 31)
    data = z.compress(b"".join(recs)) + z.flush()
    after_crc = (i16(1) + i32(len(tss) - 1) + i64(base) + i64(max(tss)) + i64(-1) + i16(-1) + i32(-1) +
                 i32(len(tss)) + data)
    return (i64(0) + i32(9 + len(after_crc)) + i32(-1) + i8(2) + u32(odtest.crc32c(after_crc)) +
            after_crc)


def plain_batch(tss):
    return odtest.build_batch([(b"k", b"v", None, t - tss[0]) for t in tss], base_ts=tss[0])


T0 = 1700000000000
with odtest.Conn(b.port) as c:
    for batch in (plain_batch([T0 + 1000, T0 + 5000, T0 + 2000]),         # offsets 0-2
                  gzip_batch([T0 + 3000, T0 + 7000, T0 + 7000, T0 + 100]),  # 3-6, max at 4
                  plain_batch([T0 + 6000]),                                 # 7
                  plain_batch([T0 + 7000])):                                # 8, a later tie
        tap.is_(odtest.produce(c, {("mt", 0): batch})[("mt", 0)][0], 0, "batch produced")


def list_offsets(version, parts):
    """parts: {(topic, partition): timestamp}. Returns {(t, p): (error, ts, offset, epoch)}."""
    by_topic = {}
    for (t, p), ts in parts.items():
        by_topic.setdefault(t, []).append((p, ts))
    body = i32(-1) + i8(0) + compact_array(sorted(by_topic.items()), lambda tp: compact_string(tp[0]) + compact_array(
        tp[1], lambda pt: i32(pt[0]) + i32(-1) + i64(pt[1]) + NO_TAGS) + NO_TAGS) + NO_TAGS
    with odtest.Conn(b.port) as c:
        r = c.request(odtest.LIST_OFFSETS, version, body, flexible=True)
    r.i32()
    out = {}

    def topic(x):
        name = x.compact_string()

        def part(y):
            p, err, ts, off, ep = y.i32(), y.i16(), y.i64(), y.i64(), y.i32()
            y.tags()
            out[(name, p)] = (err, ts, off, ep)
        x.compact_array(part)
        x.tags()
    r.compact_array(topic)
    return out


def check(when):
    try:
        got = list_offsets(7, {("mt", 0): -3, ("empty", 0): -3})
        tap.is_(got[("mt", 0)][:3], (0, T0 + 7000, 4),
                "%s: v7 max timestamp: offset 4 (inside the gzip batch, first of the ties), its timestamp" % when)
        tap.is_(got[("empty", 0)][:3], (0, -1, -1), "%s: v7 max timestamp of an empty partition: -1, -1" % when)
    except (odtest.ConnectionClosed, odtest.ProtoError) as e:
        tap.ok(False, "%s: ListOffsets v7: %s" % (when, e))
        tap.ok(False, "%s: ListOffsets v7 of an empty partition" % when)
    try:
        got = list_offsets(8, {("mt", 0): -4})
        tap.is_(got[("mt", 0)][:3], (0, -1, 0), "%s: v8 earliest local: the log start offset" % when)
        got = list_offsets(8, {("mt", 0): -1})
        tap.is_(got[("mt", 0)][:3], (0, -1, 9), "%s: v8 latest still 9" % when)
        got = list_offsets(8, {("mt", 0): T0 + 6500})
        tap.is_(got[("mt", 0)][:3], (0, T0 + 7000, 4),
                "%s: by timestamp: the first record at or after it, inside the gzip batch" % when)
    except (odtest.ConnectionClosed, odtest.ProtoError) as e:
        tap.ok(False, "%s: ListOffsets v8: %s" % (when, e))


check("live")
b.restart(clean=True)
check("after a restart")
sys.exit(odtest.finish())
