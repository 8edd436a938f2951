#!/usr/bin/python3
# Memory a client can make the broker hold: a waiting Fetch keeps no copy of
# its frame and is freed when its connection goes; bytes after a request
# body close the connection; a frame's announced length allocates nothing
# before its bytes arrive; the decoded form of a request is bounded.
# Memory is read from /proc/PID/status with generous bounds (no timing).
import struct
import os
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
# A sanitizer build keeps freed memory in a quarantine (256 MB by default),
# which would hide whether the broker frees; keep it small for this broker.
if "quarantine_size_mb" not in os.environ.get("ASAN_OPTIONS", ""):
    os.environ["ASAN_OPTIONS"] = (os.environ.get("ASAN_OPTIONS", "") + ":quarantine_size_mb=8").lstrip(":")
import odtest  # noqa: E402
import tap  # noqa: E402
from odtest import Conn, frame, i8, i16, i32, i64, request_header, string  # noqa: E402

odtest.watchdog(280)
MB = 1 << 20
b = odtest.Broker(sets={"socket.request.max.bytes": str(64 * MB)}).start()
T = "held"
with Conn(b.port) as c:
    tap.is_(odtest.create_topics(c, [(T, 1, 1)]), {T: 0}, "CreateTopics %s" % T)


def status(field):
    with open("/proc/%d/status" % b.pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


def rchar():
    with open("/proc/%d/io" % b.pid) as f:
        for line in f:
            if line.startswith("rchar:"):
                return int(line.split()[1])
    return 0


def uvarint(n):
    out = b""
    while n >= 0x80:
        out += bytes([(n & 0x7F) | 0x80])
        n >>= 7
    return out + bytes([n])


def cstr(s):
    s = s.encode() if isinstance(s, str) else s
    return uvarint(len(s) + 1) + s


def padded_fetch(corr, pad):
    """Fetch v12 at the log end of T-0, min_bytes 1, max_wait_ms INT32_MAX,
    with a rack_id of `pad` bytes: a valid request that waits."""
    part = i32(0) + i32(-1) + i64(0) + i32(-1) + i64(-1) + i32(MB) + b"\x00"
    topic = cstr(T) + uvarint(2) + part + b"\x00"
    body = (i32(-1) + i32(0x7FFFFFFF) + i32(1) + i32(50 * MB) + i8(0) + i32(0) + i32(-1) +
            uvarint(2) + topic + uvarint(1) + cstr(b"r" * pad) + b"\x00")
    return frame(request_header(1, 12, corr, flexible=True) + body)


def survives(what):
    try:
        with Conn(b.port, timeout=10) as c:
            ok = odtest.api_versions(c, 0)["error"] == 0 and odtest.metadata(c)["controller_id"] == 1
    except Exception as e:
        ok = False
        tap.diag(repr(e))
    tap.ok(b.running() and ok, "%s: broker still serves new connections" % what)


# ---- 40 connections, each a 20 MB padded Fetch that waits, then hang up ---------
N, PAD = 40, 20 * MB
with Conn(b.port) as c:  # warm up: one of them answered normally first
    odtest.api_versions(c, 0)
rss0, vm0, rc0 = status("VmRSS"), status("VmSize"), rchar()
conns = []
for n in range(N):
    c = Conn(b.port, timeout=30)
    c.send_raw(padded_fetch(n + 1, PAD))
    conns.append(c)
got_all = odtest.wait_until(lambda: rchar() - rc0 >= N * PAD, 60, 0.1)
tap.ok(got_all, "the broker read all %d padded Fetch requests (%d MB)" % (N, (rchar() - rc0) // MB))
time.sleep(0.5)
rss_waiting = status("VmRSS")
tap.ok(rss_waiting - rss0 < 200 * MB, "while %d padded Fetches wait, RSS grew by %d MB (< 200 MB: no "
       "frame copies kept)" % (N, (rss_waiting - rss0) // MB))
for c in conns:
    c.close()
time.sleep(1.0)
survives("padded fetches hung up")
rss1 = status("VmRSS")
tap.ok(rss1 - rss0 < 100 * MB, "after they hung up, RSS grew by %d MB in all (< 100 MB)" % ((rss1 - rss0) // MB))

# A waiting fetch still answers when data arrives (it kept what it needs).
with Conn(b.port, timeout=20) as c, Conn(b.port) as p:
    c.send_raw(padded_fetch(77, 1000))
    time.sleep(0.2)
    r = odtest.produce(p, {(T, 0): odtest.build_batch([(b"k", b"woke")])})
    tap.is_(r.get((T, 0), (None,))[:2], (0, 0), "produce to %s-0 while a fetch waits on it" % T)
    fr = c.recv_frame(timeout=20)
    tap.ok(fr is not None and odtest.Reader(fr).i32() == 77 and b"woke" in fr,
           "the waiting Fetch (its frame long gone) is answered with the new record and topic name"
           ) or tap.diag(repr(fr[:200] if fr else fr))
    tap.ok(fr is not None and T.encode() in fr, "the response names the topic")

# Many waiters on one partition, some on the same connection, one connection
# gone: one append answers every remaining one, in request order per connection.
with Conn(b.port) as p:
    hw = odtest.list_offsets(p, {(T, 0): -1})[(T, 0)][2]


def wait_fetch(corr):
    part = i32(0) + i32(-1) + i64(hw) + i32(-1) + i64(-1) + i32(MB) + b"\x00"
    topic = cstr(T) + uvarint(3) + part + part + b"\x00"  # the partition twice
    body = (i32(-1) + i32(20000) + i32(1) + i32(50 * MB) + i8(0) + i32(0) + i32(-1) +
            uvarint(2) + topic + uvarint(1) + cstr(b"") + b"\x00")
    return frame(request_header(1, 12, corr, flexible=True) + body)


ws = [Conn(b.port, timeout=20) for _ in range(4)]
for i, c in enumerate(ws):
    c.send_raw(wait_fetch(100 + 2 * i) + wait_fetch(101 + 2 * i))
time.sleep(0.3)
ws[1].close()  # goes away while its two fetches wait
time.sleep(0.2)
with Conn(b.port) as p:
    r = odtest.produce(p, {(T, 0): odtest.build_batch([(b"k", b"many")])})
answered = []
for i, c in enumerate(ws):
    if i == 1:
        continue
    for k in range(2):
        fr = c.recv_frame(timeout=20)
        answered.append((odtest.Reader(fr).i32(), b"many" in fr) if fr else None)
    c.close()
tap.is_(answered, [(100, True), (101, True), (104, True), (105, True), (106, True), (107, True)],
        "one append answers the 6 fetches still waiting (each listing the partition twice), in order")
survives("waiters woken together, one connection gone")

# ---- one partition listed 50000 times: records once, every entry answered ---------
M = 50000
part = i32(0) + i64(0) + i32(MB)
body = i32(-1) + i32(0) + i32(0) + i32(50 * MB) + i8(0) + i32(1) + string(T) + i32(M) + part * M
with Conn(b.port, timeout=30) as c:
    c.send_raw(frame(request_header(1, 4, 5) + body))
    fr = c.recv_frame(timeout=30)
    rd = odtest.Reader(fr)
    rd.i32(), rd.i32()  # correlation, throttle
    entries, with_records = 0, []
    for _ in range(rd.i32()):
        rd.string()
        for k in range(rd.i32()):
            rd.i32(), rd.i16(), rd.i64(), rd.i64()
            na = rd.i32()
            for _ in range(max(na, 0)):
                rd.i64(), rd.i64()
            n = rd.i32()
            if n > 0:
                rd.take(n)
                with_records.append(k)
            entries += 1
tap.is_((entries, with_records), (M, [0]), "Fetch listing %s-0 %d times: %d entries answered, records "
        "in the first only (%d bytes in all)" % (T, M, M, len(fr)))

# ---- bytes after a request body ------------------------------------------------------
# Kafka reads the fields a version has and ignores what follows them, and real
# clients rely on it (librdkafka 2.0's ListGroups v4 and OffsetFetch v7 carry
# stray tag bytes): the request is answered, the frame's bytes stay bounded
# by socket.request.max.bytes like any frame's.
with Conn(b.port) as c:
    c.send_raw(frame(request_header(18, 0, 1) + b"trailing"))
    r = c.recv_frame(5)
    tap.ok(r is not None and len(r) >= 6 and struct.unpack(">ih", r[:6]) == (1, 0),
           "ApiVersions v0 with 8 bytes after the body is answered (error 0)")
    tap.is_(odtest.api_versions(c, 0)["error"], 0, "the connection goes on")

# ---- an announced frame length allocates nothing by itself ----------------------------
vm_a = status("VmSize")
liars = []
for n in range(20):
    c = Conn(b.port)
    c.send_raw(i32(64 * MB - 1) + request_header(18, 0, 1))
    liars.append(c)
time.sleep(1.0)
survives("20 connections announcing 64 MB frames")
vm_b = status("VmSize")
tap.ok(vm_b - vm_a < 200 * MB, "20 connections announcing 64 MB each and sending 10 bytes: virtual "
       "size grew by %d MB (< 200 MB, not 1280)" % ((vm_b - vm_a) // MB))
for c in liars:
    c.close()

# ---- decoded size bounded: empty topic names amplify 16x -------------------------------
b2 = odtest.Broker(sets={"socket.request.max.bytes": str(MB)}, name="small").start()
cnt = (MB - 64) // 2
c = Conn(b2.port)
c.send_raw(frame(request_header(3, 1, 1) + i32(cnt) + i16(0) * cnt))
tap.is_(c.wait_closed(10), "closed", "Metadata v1 with %d empty topic names (~16 MB decoded from 1 MB): "
        "connection closed" % cnt)
c.close()
tap.ok("decoding needs more than" in b2.log_text(), "the broker says the request needs too much memory")
with Conn(b2.port) as c:
    md = odtest.metadata(c, ["t%d" % i for i in range(20)])
    tap.is_(len(md["topic_list"]), 20, "a Metadata request for 20 topics is still answered")

# ---- a response that does not fit: the connection closes, never silence ------------
b2.stop()
b2.sets.append(("socket.request.max.bytes", "1024"))  # the last --set wins
b2.start()
c = Conn(b2.port)
c.send_raw(frame(request_header(3, 1, 9) + i32(-1)))  # all 20+ topics: more than 1 KB of response arrays
st = c.wait_closed(10)
tap.is_(st, "closed", "Metadata whose response needs more than the request arena may hold: "
        "connection closed, not left waiting (%r)" % (st if isinstance(st, str) else st[0]))
c.close()
tap.ok("could not be answered" in b2.log_text(), "the broker logs the request it could not answer")

sys.exit(odtest.finish())
