#!/usr/bin/python3
# Hostile and broken input over raw sockets: the broker closes the offending
# connection or answers with an error, keeps serving everyone else, and the
# data already stored stays intact.
import os
import random
import socket
import struct
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import odtest  # noqa: E402
import tap  # noqa: E402
from odtest import Conn, array, frame, i8, i16, i32, i64, request_header, string  # noqa: E402

odtest.watchdog(240)
MAX = 1048576
b = odtest.Broker(sets={"socket.request.max.bytes": str(MAX)}).start()
keeper = Conn(b.port)  # a well-behaved client connected all along


def survives(what):
    """The process is alive, a fresh connection gets ApiVersions, and the
    long-lived connection still gets Metadata."""
    alive = b.running()
    fresh = None
    try:
        with Conn(b.port, timeout=5) as c:
            fresh = odtest.api_versions(c, 0)["error"]
    except Exception as e:
        fresh = repr(e)
    try:
        md = odtest.metadata(keeper)
        kept = md["controller_id"] == 1
    except Exception as e:
        kept = repr(e)
    res = alive and fresh == 0 and kept is True
    tap.ok(res, "%s: broker survives (alive, new connection served, old connection served)" % what)
    if not res:
        tap.diag("alive=%s fresh=%r kept=%r" % (alive, fresh, kept))
        if not alive:
            tap.bail_out("broker died after: %s (exit %s)" % (what, b.proc.returncode))
    return res


def parse_records(res):
    return [r for bt in odtest.parse_batches(res["records"]) for r in (bt["records"] or [])]


def expect_closed(conn, what, timeout=5, allow_response=False):
    st = conn.wait_closed(timeout)
    state = st if isinstance(st, str) else st[0]
    if allow_response:
        good = state in ("closed", "closed_after_data", "data")
        tap.ok(good, "%s: connection closed or answered (%s)" % (what, state))
    else:
        tap.ok(state == "closed", "%s: connection closed (%s)" % (what, state))
    conn.close()
    return st


# ---- framing ------------------------------------------------------------------
c = Conn(b.port)
c.send_raw(i32(100) + b"0123456789")
c.close()
survives("truncated frame, then close")

slow = Conn(b.port)
slow.send_raw(i32(200) + request_header(18, 0, 1)[:5])
time.sleep(0.2)
survives("a connection holding a half-sent frame (others are not blocked)")
slow.close()

for size, what in ((-1, "frame size -1"), (-2147483648, "frame size INT32_MIN"),
                   (MAX + 1, "frame size socket.request.max.bytes + 1"),
                   (2147483647, "frame size INT32_MAX")):
    c = Conn(b.port)
    t0 = time.monotonic()
    c.send_raw(i32(size) + b"\x00\x12\x00\x00" * 4)
    expect_closed(c, what)
    tap.ok(time.monotonic() - t0 < 5, "%s: closed without waiting for the body" % what)
    survives(what)

for body, what in ((b"", "empty frame"), (b"\x00\x12\x00", "frame shorter than a header"),
                   (i16(18) + i16(0) + i32(1) + i16(500) + b"abc", "client_id longer than the frame")):
    c = Conn(b.port)
    c.send_raw(frame(body))
    expect_closed(c, what)
    survives(what)

# A request exactly at the limit is read (and rejected or answered), not a crash.
c = Conn(b.port)
c.send_raw(frame(request_header(3, 1, 1) + i32(-1) + b"\x00" * (MAX - 30)))
expect_closed(c, "Metadata with trailing junk at the size limit", allow_response=True)
survives("request of exactly socket.request.max.bytes")

# ---- unknown api, unknown version -----------------------------------------------
c = Conn(b.port)
c.send_raw(frame(request_header(9999, 0, 7) + b"junk"))
expect_closed(c, "unknown api key 9999", allow_response=True)
survives("unknown api key 9999")
c = Conn(b.port)
c.send_raw(frame(request_header(-1, 0, 7)))
expect_closed(c, "api key -1", allow_response=True)
survives("api key -1")
c = Conn(b.port)
c.send_raw(frame(request_header(3, 999, 7) + i32(-1)))
expect_closed(c, "Metadata v999", allow_response=True)
survives("Metadata v999")

# ---- garbage bodies for known apis ----------------------------------------------------
c = Conn(b.port)
c.send_raw(frame(request_header(3, 1, 1) + i32(0x7FFFFFFF)))
expect_closed(c, "Metadata v1 with a topic count of 2^31-1")
survives("Metadata with a huge array count")
c = Conn(b.port)
c.send_raw(frame(request_header(19, 0, 1) + i32(1) + i16(30000) + b"short"))
expect_closed(c, "CreateTopics v0 with a string longer than the body")
survives("CreateTopics with a bad string length")

rng = random.Random(1500)
outcomes = {}
for n in range(60):
    key, ver = rng.choice([(0, 3), (1, 4), (2, 1), (3, 1), (18, 3), (19, 0), (20, 0), (0, 7),
                           (1, 11), (3, 9), (32, 0), (37, 0)])
    body = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 300)))
    c = Conn(b.port)
    c.send_raw(frame(request_header(key, ver, n, flexible=ver >= 9 or (key, ver) == (18, 3)) + body))
    st = c.wait_closed(5)
    c.close()
    st = st if isinstance(st, str) else st[0]
    outcomes[st] = outcomes.get(st, 0) + 1
tap.ok(outcomes.get("open", 0) == 0, "60 random bodies for known apis: each connection is closed or "
       "answered, none left hanging (%s)" % outcomes)
survives("random garbage bodies")

# ---- peers that go away at the worst moment ------------------------------------------
for n in range(20):
    c = Conn(b.port)
    c.send_raw(frame(request_header(3, 1, 1) + i32(-1)) * 50)
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    c.close()  # RST while the broker writes 50 responses
survives("clients resetting the connection while responses are written")
socks = [Conn(b.port) for _ in range(200)]
for s in socks:
    s.close()
survives("200 connections opened and closed")

# Many pipelined requests before reading anything: all answered in order.
c = Conn(b.port)
corrs = [c.send_request(18, 0, b"") for _ in range(2000)]
got = []
try:
    for _ in corrs:
        fr = c.recv_frame(timeout=5)
        if fr is None:
            break
        got.append(odtest.Reader(fr).i32())
except socket.timeout:
    tap.diag("no further answer within 5s after %d answers" % len(got))
c.close()
tap.ok(got == corrs, "2000 pipelined ApiVersions answered in order (%d answers)" % len(got))
survives("2000 pipelined requests")

# ---- Produce: corrupt batches are rejected, stored data stays intact ----------------
T = "bad-input"
with Conn(b.port) as c:
    tap.is_(odtest.create_topics(c, [(T, 1, 1)]), {T: 0}, "CreateTopics %s" % T)
    good1 = [(b"k0", b"v0", [("h", b"x")]), (None, b"v1"), (b"k2", None)]
    r = odtest.produce(c, {(T, 0): odtest.build_batch(good1)})
    tap.is_(r.get((T, 0), (None,))[:2], (0, 0), "valid batch of 3 records: error 0, base offset 0")

    bad = odtest.build_batch([(b"k", b"corrupt")], corrupt_crc=True)
    r = odtest.produce(c, {(T, 0): bad})
    tap.is_(r.get((T, 0), (None,))[0], odtest.CORRUPT_MESSAGE, "batch with a bad CRC: CORRUPT_MESSAGE (2)")

    batch = bytearray(odtest.build_batch([(b"k", b"v" * 50)]))
    short = bytes(batch[:-10])
    short = short[:8] + i32(len(short) - 12) + short[12:]  # consistent length, missing bytes
    r = odtest.produce(c, {(T, 0): short})
    tap.ok(r.get((T, 0), (0,))[0] in (odtest.CORRUPT_MESSAGE, odtest.INVALID_RECORD),
           "batch cut short (length consistent, records missing): CORRUPT_MESSAGE or INVALID_RECORD (%r)"
           % (r.get((T, 0)),))

    lying = bytearray(odtest.build_batch([(b"a", b"1"), (b"b", b"2")]))
    lying[8:12] = i32(len(lying) - 12 + 100)  # batchLength beyond the record set
    r = odtest.produce(c, {(T, 0): bytes(lying)})
    tap.ok(r.get((T, 0), (0,))[0] in (odtest.CORRUPT_MESSAGE, odtest.INVALID_RECORD),
           "batchLength beyond the record set: CORRUPT_MESSAGE or INVALID_RECORD (%r)" % (r.get((T, 0)),))

    # recordCount says 5, three records follow; CRC recomputed so only the count lies.
    recs = bytearray(odtest.build_batch([(b"a", b"1"), (b"b", b"2"), (b"c", b"3")]))
    recs[57:61] = i32(5)
    recs[17:21] = struct.pack(">I", odtest.crc32c(bytes(recs[21:])))
    r = odtest.produce(c, {(T, 0): bytes(recs)})
    tap.ok(r.get((T, 0), (0,))[0] in (odtest.CORRUPT_MESSAGE, odtest.INVALID_RECORD),
           "recordCount larger than the records: CORRUPT_MESSAGE or INVALID_RECORD (%r)" % (r.get((T, 0)),))

    magic = bytearray(odtest.build_batch([(b"a", b"1")]))
    magic[16] = 7
    r = odtest.produce(c, {(T, 0): bytes(magic)})
    tap.ok(r.get((T, 0), (0,))[0] != 0, "batch with magic 7 rejected (%r)" % (r.get((T, 0)),))

    good2 = [(b"k3", b"v3"), (b"k4", b""), (b"", b"v5", [("a", b"1"), ("a", None)])]
    r = odtest.produce(c, {(T, 0): odtest.build_batch(good2)})
    tap.is_(r.get((T, 0), (None,))[:2], (0, 3),
            "valid batch after the rejected ones: base offset 3 (no offsets consumed by them)")
    recs, hw = odtest.fetch_all(c, T, 0)
    want = [(i, k, v, [(hk.encode(), hv) for hk, hv in (x[0] if x else [])])
            for i, (k, v, *x) in enumerate(good1 + good2)]
    tap.is_(hw, 6, "high watermark 6")
    tap.is_([(o, k, v, h) for o, ts, k, v, h in recs], want, "stored records intact and byte-exact")
survives("corrupt produce batches")

# ---- offsets are the broker's; odd fetches ----------------------------------------------
with Conn(b.port) as c:
    r = odtest.produce(c, {(T, 0): odtest.build_batch([(b"x", b"client-offset")], base_offset=1000)})
    tap.is_(r.get((T, 0), (None,))[:2], (0, 6), "a batch claiming baseOffset 1000 is stored at the "
            "log end (6): the broker assigns offsets")
    # acks=0 gets no response at all: the next answer is for the next request.
    odtest.produce(c, {(T, 0): odtest.build_batch([(b"z", b"acks0")])}, acks=0)
    corr = c.send_request(18, 0, b"")
    fr = c.recv_frame(timeout=10)
    tap.is_(odtest.Reader(fr).i32() if fr else None, corr,
            "Produce acks=0: no response; the next response answers the next request")
    res = odtest.fetch(c, {(T, 0): 7})[(T, 0)]
    tap.is_([(o, k, v) for o, ts, k, v, h in parse_records(res)], [(7, b"z", b"acks0")],
            "the acks=0 batch is stored at offset 7")
    r = odtest.produce(c, {(T, 0): odtest.build_batch([(b"y", b"acks2")])}, acks=2)
    tap.is_(r.get((T, 0), (None,))[0], 21, "Produce with acks=2: INVALID_REQUIRED_ACKS (21)")
    res = odtest.fetch(c, {(T, 0): 4})[(T, 0)]
    batches = odtest.parse_batches(res["records"])
    tap.ok(res["error"] == 0 and batches and batches[0]["base_offset"] == 3 and
           [x[0] for x in batches[0]["records"]] == [3, 4, 5],
           "Fetch at offset 4 (inside a batch) returns the whole batch from 3") or \
        tap.diag(repr((res["error"], batches[:1])))
    tap.ok(all(bt["crc_ok"] for bt in batches), "fetched batches carry valid CRCs")
    res = odtest.fetch(c, {(T, 0): 0}, max_bytes=1, part_max_bytes=1)[(T, 0)]
    batches = odtest.parse_batches(res["records"])
    tap.ok(res["error"] == 0 and len(batches) >= 1 and batches[0]["base_offset"] == 0,
           "Fetch with max_bytes=1 still returns the first whole batch") or \
        tap.diag(repr((res["error"], len(res["records"] or b""))))
    res = odtest.fetch(c, {(T, 0): 100})[(T, 0)]
    tap.is_(res["error"], odtest.OFFSET_OUT_OF_RANGE, "Fetch beyond the log end: OFFSET_OUT_OF_RANGE")
    res = odtest.fetch(c, {(T, 0): -5})[(T, 0)]
    tap.is_(res["error"], odtest.OFFSET_OUT_OF_RANGE, "Fetch at offset -5: OFFSET_OUT_OF_RANGE")
    res = odtest.fetch(c, {(T, 0): 8})[(T, 0)]
    tap.ok(res["error"] == 0 and not parse_records(res), "Fetch at the log end: no error, no records "
           "(hw %d)" % res["hw"])
    res = odtest.fetch(c, {(T, 9): 0, ("no-such-topic-x", 0): 0})
    tap.is_((res.get((T, 9), {}).get("error"), res.get(("no-such-topic-x", 0), {}).get("error")),
            (odtest.UNKNOWN_TOPIC_OR_PARTITION, odtest.UNKNOWN_TOPIC_OR_PARTITION),
            "Fetch of a missing partition / topic: UNKNOWN_TOPIC_OR_PARTITION")
    lo = odtest.list_offsets(c, {(T, 0): -2})[(T, 0)]
    hi = odtest.list_offsets(c, {(T, 0): -1})[(T, 0)]
    tap.is_((lo[0], lo[2], hi[0], hi[2]), (0, 0, 0, 8), "ListOffsets earliest 0, latest 8")
    miss = odtest.list_offsets(c, {(T, 3): -1})[(T, 3)]
    tap.is_(miss[0], odtest.UNKNOWN_TOPIC_OR_PARTITION, "ListOffsets of a missing partition: "
            "UNKNOWN_TOPIC_OR_PARTITION")
survives("odd fetches")

# One bad partition in a multi-partition Produce fails alone.
with Conn(b.port) as c:
    tap.is_(odtest.create_topics(c, [("bad-input-2", 2, 1)]), {"bad-input-2": 0}, "CreateTopics bad-input-2")
    r = odtest.produce(c, {(T, 0): odtest.build_batch([(b"m", b"multi-ok")]),
                           ("bad-input-2", 0): odtest.build_batch([(b"m", b"bad")], corrupt_crc=True),
                           ("bad-input-2", 1): odtest.build_batch([(b"m", b"multi-ok-2")]),
                           ("bad-input-2", 7): odtest.build_batch([(b"m", b"no-partition")])})
    tap.is_({k: v[:2] for k, v in r.items()},
            {(T, 0): (0, 8), ("bad-input-2", 0): (odtest.CORRUPT_MESSAGE, -1),
             ("bad-input-2", 1): (0, 0), ("bad-input-2", 7): (odtest.UNKNOWN_TOPIC_OR_PARTITION, -1)},
            "multi-partition Produce: each partition answered on its own (ok, corrupt, ok, missing)")
    hi = odtest.list_offsets(c, {("bad-input-2", 0): -1, ("bad-input-2", 1): -1})
    tap.is_((hi[("bad-input-2", 0)][2], hi[("bad-input-2", 1)][2]), (0, 1),
            "only the good partition grew")
survives("multi-partition produce")

# ---- illegal topic names ---------------------------------------------------------------
bad_names = ["bad/name", "..", ".", "x" * 250, "sp ace", "", "t\u00e9"]
with Conn(b.port) as c:
    batch = odtest.build_batch([(b"k", b"v")])
    r = odtest.produce(c, {(n, 0): batch for n in bad_names})
    errs = {n: r.get((n, 0), (None,))[0] for n in bad_names}
    tap.ok(all(e in (odtest.INVALID_TOPIC_EXCEPTION, odtest.UNKNOWN_TOPIC_OR_PARTITION)
               for e in errs.values()),
           "Produce to illegal topic names: INVALID_TOPIC_EXCEPTION or UNKNOWN_TOPIC_OR_PARTITION") or \
        tap.diag(repr(errs))
    res = odtest.create_topics(c, [(n, 1, 1) for n in bad_names if n])
    tap.is_(res, {n: odtest.INVALID_TOPIC_EXCEPTION for n in bad_names if n},
            "CreateTopics with illegal names: INVALID_TOPIC_EXCEPTION (17) each")
    md = odtest.metadata(c, ["bad/name", "..", "x" * 250])
    tap.ok(all(t["error"] in (odtest.INVALID_TOPIC_EXCEPTION, odtest.UNKNOWN_TOPIC_OR_PARTITION)
               and not t["partitions"] for t in md["topic_list"]),
           "Metadata (auto-create on) for illegal names: an error, nothing created") or \
        tap.diag(repr(md["topic_list"]))
    md = odtest.metadata(c)
    tap.ok(not any(n in md["topics"] for n in bad_names), "no illegal topic exists")
    ok249 = "y" * 249
    res = odtest.create_topics(c, [(ok249, 1, 1), ("ok.name_with-chars", 1, 1)])
    tap.is_(res, {ok249: 0, "ok.name_with-chars": 0}, "a 249-character name and . _ - are legal")
    res = odtest.create_topics(c, [("zero-parts", 0, 1), ("rf-three", 1, 3)])
    tap.is_(res, {"zero-parts": odtest.INVALID_PARTITIONS, "rf-three": odtest.INVALID_REPLICATION_FACTOR},
            "CreateTopics: 0 partitions -> INVALID_PARTITIONS, rf 3 on one broker -> "
            "INVALID_REPLICATION_FACTOR")
    r = odtest.produce(c, {(T, 5): odtest.build_batch([(b"k", b"v")])})
    tap.is_(r.get((T, 5), (None,))[0], odtest.UNKNOWN_TOPIC_OR_PARTITION,
            "Produce to a partition that does not exist: UNKNOWN_TOPIC_OR_PARTITION")
survives("illegal topic names")

keeper.close()
sys.exit(odtest.finish())
