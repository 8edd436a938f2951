#!/usr/bin/python3
# Bad input on a TLS listener: garbage bytes, a plaintext Kafka request, a
# truncated ClientHello, a handshake that stalls (closed after
# ssl.handshake.timeout.ms), a corrupt record and an oversized record
# after the handshake, a bad Kafka frame inside TLS, a TLS 1.2
# renegotiation request, a client that reads a large fetch slowly (the broker's
# writes wait and resume). Each one is closed (with a log line where the
# TLS layer refused it); the broker keeps serving TLS and plaintext
# clients and exits cleanly.
import os
import re
import socket
import ssl
import struct
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import odtest  # noqa: E402
import tap  # noqa: E402
import tls  # noqa: E402

odtest.watchdog(int(os.environ.get("ODTEST_TIMEOUT", "300")))
pki = tls.Pki(odtest.scratch("pki"))
srv = pki.server()
b = tls.broker(pki, srv, sets=[("ssl.handshake.timeout.ms", "1500"),
                               ("socket.send.buffer.bytes", "16384")]).start()
ctx = tls.context(pki)


def survives(what):
    with tls.TlsConn(b.tls_port, ctx) as c:
        v = odtest.api_versions(c, 3)
    with odtest.Conn(b.port) as c:
        p = odtest.api_versions(c, 3)
    tap.ok(v["error"] == 0 and p["error"] == 0 and b.running(),
           "after %s: TLS and plaintext clients are served" % what)


def expect_closed(conn, what, timeout=5):
    st = conn.wait_closed(timeout)
    state = st if isinstance(st, str) else st[0]
    # A TLS alert may arrive before the close: bytes, then EOF.
    tap.ok(state in ("closed", "closed_after_data"), "%s: connection closed (%s)" % (what, state))
    conn.close()
    return st


def log_count(pattern):
    return len(re.findall(pattern, b.log_text()))


def client_hello():
    inc, outb = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, outb, server_hostname="localhost")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outb.read()


def handshake_raw(port, maxver=None):
    """A TLS session over a raw socket (MemoryBIO), so the test can write
    raw bytes after the handshake. Returns (socket, SSLObject, in, out)."""
    c = ssl.create_default_context(cafile=pki.ca)
    if maxver:
        c.maximum_version = maxver
    s = socket.create_connection((odtest.HOST, port), timeout=10)
    inc, outb = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = c.wrap_bio(inc, outb, server_hostname="localhost")
    while True:
        try:
            obj.do_handshake()
            s.sendall(outb.read())
            return s, obj, inc, outb
        except ssl.SSLWantReadError:
            s.sendall(outb.read())
            data = s.recv(65536)
            if not data:
                raise ConnectionError("closed during handshake")
            inc.write(data)


Raw = odtest.Conn


# ---- before any handshake -----------------------------------------------------
n0 = log_count(r"TLS handshake failed")
c = Raw(b.tls_port)
c.send_raw(os.urandom(2000))
expect_closed(c, "2000 random bytes")
survives("random bytes")

c = Raw(b.tls_port)
body = odtest.request_header(18, 0, 1)
c.send_raw(odtest.frame(body))
expect_closed(c, "a plaintext ApiVersions request to the TLS port")
survives("plaintext Kafka on the TLS port")
tap.ok(log_count(r"TLS handshake failed") >= n0 + 2, "both are logged as failed handshakes")

hello = client_hello()
tap.ok(len(hello) > 100 and hello[0] == 0x16, "a real ClientHello (%d bytes) to cut" % len(hello))
c = Raw(b.tls_port)
c.send_raw(hello[:len(hello) // 2])
c.close()
survives("half a ClientHello, then close")

c = Raw(b.tls_port)
c.send_raw(hello[:len(hello) // 2])
t0 = time.monotonic()
expect_closed(c, "half a ClientHello, then silence", timeout=15)
tap.diag("closed after %.1fs (ssl.handshake.timeout.ms=1500)" % (time.monotonic() - t0))
c = Raw(b.tls_port)
expect_closed(c, "a connection that never says anything", timeout=15)
tap.like(b.log_text(), r"TLS handshake not done within ssl\.handshake\.timeout\.ms",
         "stalled handshakes are logged")

c = Raw(b.tls_port)
c.send_raw(b"\x16\x03\x01\xff\xff" + os.urandom(300))
expect_closed(c, "a handshake record announcing 65535 bytes of garbage", timeout=15)

# ---- after the handshake ------------------------------------------------------
s, obj, inc, outb = handshake_raw(b.tls_port)
s.sendall(b"\x17\x03\x03\x00\x40" + os.urandom(64))
c = Raw.__new__(Raw)
c.sock, c.corr, c.timeout = s, 0, 10
expect_closed(c, "a corrupt application-data record after the handshake")
tap.like(b.log_text(), r"TLS error reading", "the corrupt record is logged")

s, obj, inc, outb = handshake_raw(b.tls_port)
s.sendall(b"\x17\x03\x03\xff\xff" + os.urandom(1000))
c = Raw.__new__(Raw)
c.sock, c.corr, c.timeout = s, 0, 10
expect_closed(c, "a record longer than TLS allows")

s, obj, inc, outb = handshake_raw(b.tls_port, ssl.TLSVersion.TLSv1_2)
tap.is_(obj.version(), "TLSv1.2", "a raw TLSv1.2 session")
obj.write(struct.pack(">i", -1))
s.sendall(outb.read())
c = Raw.__new__(Raw)
c.sock, c.corr, c.timeout = s, 0, 10
expect_closed(c, "a Kafka frame of size -1 inside TLS")
survives("bad records and frames inside TLS")

# ---- renegotiation is off -------------------------------------------------------
# s_client's interactive "R" asks for a TLS 1.2 renegotiation; the broker
# answers no_renegotiation, which OpenSSL's client takes as a failed
# handshake: the session ends, and nothing was renegotiated.
n0 = log_count(r"TLS error reading")
p = subprocess.Popen(["openssl", "s_client", "-connect", "%s:%d" % (odtest.HOST, b.tls_port),
                      "-CAfile", pki.ca, "-tls1_2"], stdin=subprocess.PIPE,
                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
head = b""
for ln in p.stdout:  # the session is up once s_client has printed its summary
    head += ln
    if b"Verify return code" in ln:
        break
p.stdin.write(b"R\n")
p.stdin.flush()
odtest.wait_until(lambda: log_count(r"TLS error reading") > n0, 10)
if p.poll() is None:
    p.kill()
text = (head + p.communicate(timeout=10)[0]).decode(errors="replace")
tap.ok(log_count(r"TLS error reading") > n0, "a renegotiation request ends the session (broker log)")
tap.ok("RENEGOTIATING" in text and not any(re.search(r"^verify return|New, TLS", ln) for ln in
                                           text.split("RENEGOTIATING", 1)[1].splitlines()),
       "s_client asked to renegotiate and got no new handshake")
survives("a renegotiation attempt")

# ---- a slow reader of a large fetch ------------------------------------------
def slow_reader(br, what):
    """Fetch up to 8 MB over TLS through a 4 KB receive buffer, reading only after
    the broker's socket buffer has filled: its SSL writes must wait
    (WANT_WRITE) and resume with the same bytes."""
    with tls.TlsConn(br.tls_port, ctx) as c:
        tap.is_(odtest.create_topics(c, [("slow", 1, 1)]).get("slow"), 0, "%s: topic" % what)
        big = [odtest.build_batch([(b"k%d" % i, os.urandom(8000), []) for i in range(100)])
               for _ in range(10)]
        for bt in big:
            odtest.produce(c, {("slow", 0): bt})
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.connect((odtest.HOST, br.tls_port))
    c = odtest.Conn.__new__(odtest.Conn)
    c.sock, c.corr, c.timeout = ctx.wrap_socket(raw, server_hostname="localhost"), 0, 30
    c.send_request(odtest.FETCH, 4, odtest.i32(-1) + odtest.i32(100) + odtest.i32(1) +
                   odtest.i32(64 << 20) + odtest.i8(0) +
                   odtest.array([("slow", 0)], lambda tp: odtest.string(tp[0]) + odtest.array(
                       [0], lambda p: odtest.i32(p) + odtest.i64(0) + odtest.i32(16 << 20))))
    time.sleep(1.5)
    with tls.TlsConn(br.tls_port, ctx) as other:
        tap.is_(odtest.api_versions(other, 3)["error"], 0,
                "%s: others are served while a TLS client does not read its 8 MB" % what)
    resp = c.recv_frame(timeout=30)
    r = odtest.Reader(resp)
    r.i32(), r.i32()
    got = []

    def topic(rr):
        rr.string()

        def part(x):
            x.i32(), x.i16(), x.i64(), x.i64()
            x.array(lambda y: (y.i64(), y.i64()))
            got.append(x.bytes_())
        rr.array(part)
    r.array(topic)
    recs = [rec for bt in odtest.parse_batches(got[0]) for rec in bt["records"]]
    want = [rec for bt in big for b2 in odtest.parse_batches(bt) for rec in b2["records"]]
    # One fetch returns at most OD_LOG_READ_MAX_RANGES (8) ranges per partition
    # from the memory backend (each batch is one): 800 records, 6.4 MB.
    tap.ok(len(recs) >= 800 and [x[3] for x in recs] == [x[3] for x in want[:len(recs)]],
           "%s: the slow reader gets %d records of 8 KB byte-exact" % (what, len(recs)))
    c.close()


slow_reader(b, "segment storage (file ranges: the copy or kTLS path)")
bmem = tls.broker(pki, srv, name="memory", sets=[("log.storage.backend", "memory"),
                                                 ("socket.send.buffer.bytes", "16384")]).start()
slow_reader(bmem, "memory storage (large memory segments: direct SSL_write)")
bmem.stop()

# Last: the log has a rate limit, and these fill it.
stalled = [Raw(b.tls_port) for _ in range(50)]
survives("50 stalled handshakes at once")
for s in stalled:
    s.close()
time.sleep(0.5)
survives("50 handshakes abandoned at once")
tap.like(b.log_text(), r"closed by the peer during the TLS handshake",
         "a peer closing mid-handshake is logged as such")
survives("everything above")
sys.exit(odtest.finish())
