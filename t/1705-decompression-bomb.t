#!/usr/bin/python3
# Decompression is bounded per request: all compressed batches of one
# Produce may inflate to at most socket.request.max.bytes together (what the
# request could have carried uncompressed); the batch that would pass it,
# and every compressed batch after it in the request, is refused with
# RECORD_LIST_TOO_LARGE, the others are stored, and the next request starts
# afresh. A batch that a topic's compression.type re-encodes past
# max.message.bytes is MESSAGE_TOO_LARGE, as in Kafka. Raw gzip bombs.
import os
import sys
import zlib

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import odtest  # noqa: E402
import tap  # noqa: E402
from odtest import i8, i16, i32, i64, u32, varint  # noqa: E402

MESSAGE_TOO_LARGE, RECORD_LIST_TOO_LARGE = 10, 18
odtest.watchdog(120)
b = odtest.Broker(sets={"socket.request.max.bytes": str(8 << 20)}).start()
with odtest.Conn(b.port) as c:
    tap.is_(odtest.create_topics(c, [("bomb", 4, 1), ("plainz", 1, 1, {"compression.type": "uncompressed"})]),
            {"bomb": 0, "plainz": 0}, "topics created")


def gzip_bomb(nbytes):
    """A gzip batch of one record whose value is nbytes zeros."""
    val = bytes(nbytes)
    body = i8(0) + varint(0) + varint(0) + odtest._rec_bytes(b"k") + varint(len(val)) + val + varint(0)
    recs = varint(len(body)) + body
    z = zlib.compressobj(9, zlib.DEFLATED, 31)
    data = z.compress(recs) + z.flush()
    ts = 1700000000000
    after_crc = i16(1) + i32(0) + i64(ts) + i64(ts) + i64(-1) + i16(-1) + i32(-1) + i32(1) + data
    return i64(0) + i32(9 + len(after_crc)) + i32(-1) + i8(2) + u32(odtest.crc32c(after_crc)) + after_crc


BOMB = gzip_bomb(3 << 20)  # 3 MiB of records from a few KiB
tap.ok(len(BOMB) < 16 << 10, "a 3 MiB gzip bomb is %d bytes" % len(BOMB))
with odtest.Conn(b.port) as c:
    r = odtest.produce(c, {("bomb", p): BOMB for p in range(4)})
errs = [r[("bomb", p)][0] for p in range(4)]
tap.is_(sorted(errs), [0, 0, RECORD_LIST_TOO_LARGE, RECORD_LIST_TOO_LARGE],
        "four 3 MiB bombs in one request with an 8 MiB budget: two stored, two RECORD_LIST_TOO_LARGE (%r)"
        % errs)
with odtest.Conn(b.port) as c:
    r = odtest.produce(c, {("bomb", 3): BOMB})
tap.is_(r[("bomb", 3)][0], 0, "the next request has its own budget: one bomb is stored")
with odtest.Conn(b.port) as c:
    big = odtest.produce(c, {("bomb", 0): gzip_bomb(12 << 20)})[("bomb", 0)][0]
tap.is_(big, RECORD_LIST_TOO_LARGE, "one batch inflating past socket.request.max.bytes: RECORD_LIST_TOO_LARGE")
with odtest.Conn(b.port) as c:
    z = odtest.produce(c, {("plainz", 0): gzip_bomb(2 << 20)})[("plainz", 0)][0]
tap.is_(z, MESSAGE_TOO_LARGE,
        "compression.type=uncompressed: a batch re-encoded past max.message.bytes is MESSAGE_TOO_LARGE")
with odtest.Conn(b.port) as c:
    lo = odtest.list_offsets(c, {("bomb", p): -1 for p in range(4)})
    lz = odtest.list_offsets(c, {("plainz", 0): -1})
tap.is_(sum(lo[("bomb", p)][2] for p in range(4)) + lz[("plainz", 0)][2], 3,
        "three records stored in all")
tap.ok(b.running(), "broker still running")
sys.exit(odtest.finish())
