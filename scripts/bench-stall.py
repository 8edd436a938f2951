#!/usr/bin/python3
"""bench-stall.py - how long can one hostile request stall everyone else?

Starts a fresh odradekd per hostile kind (127.0.0.1, free port, temp data
dir), runs a prober in a separate process that sends ApiVersions and
Metadata in a loop on its own connection and records every round trip, then
sends the hostile request(s) over raw sockets. Prints, per kind, the worst
and the p99 prober round trip seen while the hostile work ran (and 0.5 s
after), plus what the hostile client got back.

    scripts/bench-stall.py [--build DIR] [--kinds a,b] [--scale F]

--build: dir with odradekd and .libs/ (default: _build-rel if present, else
_build); use a build without sanitizers for figures. --scale multiplies the
request sizes (default 1). Only 127.0.0.1 is used.
"""
import argparse
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import zlib

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HOST = "127.0.0.1"


def i8(v): return struct.pack(">b", v)
def i16(v): return struct.pack(">h", v)
def i32(v): return struct.pack(">i", v)
def i64(v): return struct.pack(">q", v)
def string(s):
    s = s.encode() if isinstance(s, str) else s
    return i16(len(s)) + s


def frame(p): return i32(len(p)) + p
def header(key, ver, corr, cid="stall"): return i16(key) + i16(ver) + i32(corr) + string(cid)


def uvarint(n):
    out = b""
    while n >= 0x80:
        out += bytes([(n & 0x7F) | 0x80])
        n >>= 7
    return out + bytes([n])


def varint(n): return uvarint((n << 1) ^ (n >> 63))


_CRC = []


def crc32c(data):
    if not _CRC:
        for i in range(256):
            c = i
            for _ in range(8):
                c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
            _CRC.append(c)
    crc = 0xFFFFFFFF
    t = _CRC
    for b in data:
        crc = t[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def recv_exact(s, n):
    buf = bytearray()
    while len(buf) < n:
        c = s.recv(min(n - len(buf), 1 << 20))
        if not c:
            return None
        buf += c
    return bytes(buf)


def recv_frame(s):
    h = recv_exact(s, 4)
    if h is None:
        return None
    return recv_exact(s, struct.unpack(">i", h)[0])


# ---- the prober (a separate process, so the hostile side's Python work
# does not slow it down) ------------------------------------------------------

def probe(port, out_path):
    s = socket.create_connection((HOST, port), timeout=120)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    reqs = [frame(header(18, 0, 1)), frame(header(3, 1, 2) + i32(1) + string("probe-none"))]
    n = 0
    with open(out_path, "w", buffering=1) as out:
        while True:
            t0 = time.monotonic()
            try:
                s.sendall(reqs[n % 2])
                if recv_frame(s) is None:
                    break
            except OSError:
                break
            t1 = time.monotonic()
            out.write("%.6f %.6f\n" % (t1, t1 - t0))
            n += 1
            time.sleep(0.002)


# ---- the broker -------------------------------------------------------------

class Broker:
    def __init__(self, build, sets):
        self.tmp = tempfile.mkdtemp(prefix="bench-stall-")
        s = socket.socket()
        s.bind((HOST, 0))
        self.port = s.getsockname()[1]
        s.close()
        argv = [os.path.join(build, "odradekd"), "--set", "module.dir=" + os.path.join(build, ".libs"),
                "--set", "listeners=PLAINTEXT://%s:%d" % (HOST, self.port),
                "--set", "log.dirs=" + os.path.join(self.tmp, "data"), "--set", "node.id=1",
                "--set", "log.level=warn"]
        for k, v in sets.items():
            argv += ["--set", "%s=%s" % (k, v)]
        self.log = open(os.path.join(self.tmp, "broker.log"), "wb")
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=self.log, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((HOST, self.port), timeout=2) as c:
                    c.sendall(frame(header(18, 0, 1)))
                    if recv_frame(c):
                        return
            except OSError:
                time.sleep(0.1)
        raise SystemExit("odradekd did not start; see %s" % self.tmp)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


def conn(port, timeout=120):
    s = socket.create_connection((HOST, port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def call(port, payload, timeout=120):
    """Send one frame, wait for the answer or the close: what came back."""
    s = conn(port, timeout)
    try:
        s.sendall(payload)
        fr = recv_frame(s)
        return "closed" if fr is None else "answered (%d bytes)" % len(fr)
    except socket.timeout:
        return "no answer in %ds" % timeout
    except OSError as e:
        return "error: %s" % e
    finally:
        s.close()


def create_topic(port, name, parts=1):
    body = i32(1) + string(name) + i32(parts) + i16(1) + i32(0) + i32(0) + i32(10000)
    return call(port, frame(header(19, 0, 1) + body))


def produce_frame(topic, part, batch, corr=1):
    body = i16(-1) + i16(1) + i32(30000) + i32(1) + string(topic) + i32(1) + i32(part) + i32(len(batch)) + batch
    return frame(header(0, 3, corr) + body)


def batch(records_bytes, count, attributes=0):
    """RecordBatch v2 around already encoded (maybe compressed) records."""
    now = int(time.time() * 1000)
    after_crc = (i16(attributes) + i32(count - 1) + i64(now) + i64(now) + i64(-1) + i16(-1) +
                 i32(-1) + i32(count) + records_bytes)
    crc = crc32c(after_crc)
    body = i32(-1) + i8(2) + struct.pack(">I", crc) + after_crc
    return i64(0) + i32(len(body)) + body


def record(i, value):
    r = i8(0) + varint(0) + varint(i) + varint(-1) + varint(len(value)) + value + varint(0)
    return varint(len(r)) + r


# ---- hostile kinds: each returns a short description of the outcome --------------

def k_create_duplicates(port, scale):
    n = int(30000 * scale)  # the work grows with n^2 today: keep it measurable
    one = string("dup") + i32(1) + i16(1) + i32(0) + i32(0)
    return "%d copies of one name: %s" % (n, call(port, frame(header(19, 0, 1) + i32(n) + one * n + i32(10000))))


def k_metadata_autocreate(port, scale):
    n = int(1000 * scale)
    names = b"".join(string("auto-%06d" % i) for i in range(n))
    return "%d new topics: %s" % (n, call(port, frame(header(3, 4, 1) + i32(n) + names + i8(1))))


def k_huge_arrays(port, scale):
    n = int(8000000 * scale)
    out = call(port, frame(header(3, 1, 1) + i32(n) + i16(0) * n))
    m = int(2000000 * scale)
    part = i32(0) + i64(0) + i32(1024)
    fetch = i32(-1) + i32(0) + i32(0) + i32(1 << 20) + i8(0) + i32(1) + string("nope") + i32(m) + part * m
    out2 = call(port, frame(header(1, 4, 2) + fetch))
    return "Metadata %d empty names: %s; Fetch %d partitions of a missing topic: %s" % (n, out, m, out2)


def k_zip_bomb(port, scale):
    create_topic(port, "bomb")
    n, size = int(1000 * scale), 1 << 20
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)  # gzip
    zero = b"\x00" * size
    parts = [comp.compress(record(i, zero)) for i in range(n)]
    parts.append(comp.flush())
    data = b"".join(parts)
    b = batch(data, n, attributes=1)
    return "gzip batch %d KB -> %d MB: %s" % (len(b) >> 10, (n * size) >> 20,
                                              call(port, produce_frame("bomb", 0, b)))


def k_giant_fetch(port, scale):
    create_topic(port, "gf")
    s = conn(port)
    s.sendall(produce_frame("gf", 0, batch(record(0, b"x" * 100), 1)))
    recv_frame(s)
    s.close()
    m = int(100000 * scale)
    part = i32(0) + i64(0) + i32(1 << 20)
    fetch = i32(-1) + i32(0) + i32(0) + i32(50 << 20) + i8(0) + i32(1) + string("gf") + i32(m) + part * m
    return "%d partitions with data: %s" % (m, call(port, frame(header(1, 4, 1) + fetch)))


def k_giant_fetch_wait(port, scale):
    create_topic(port, "gw")
    m = int(100000 * scale)
    part = i32(0) + i64(0) + i32(1 << 20)
    fetch = i32(-1) + i32(5000) + i32(1) + i32(50 << 20) + i8(0) + i32(1) + string("gw") + i32(m) + part * m
    waiters = []
    for c in range(4):
        s = conn(port)
        s.sendall(frame(header(1, 4, c + 1) + fetch))
        waiters.append(s)
    time.sleep(1.0)
    p = conn(port)
    p.sendall(produce_frame("gw", 0, batch(record(0, b"wake"), 1)))
    recv_frame(p)
    got = []
    for s in waiters:
        fr = recv_frame(s)
        got.append("closed" if fr is None else "answered")
        s.close()
    p.close()
    return "4 fetches of %d partitions waiting, woken by a produce: %s" % (m, ",".join(got))


def k_many_connections(port, scale):
    n = int(3000 * scale)
    socks = []
    for _ in range(n):
        try:
            socks.append(conn(port, 30))
        except OSError:
            break
    req = frame(header(18, 0, 1))
    for s in socks:
        try:
            s.sendall(req)
        except OSError:
            pass
    ok = 0
    for s in socks:
        try:
            if recv_frame(s):
                ok += 1
        except OSError:
            pass
        s.close()
    return "%d connections opened, %d answered" % (len(socks), ok)


KINDS = [
    ("baseline", None),
    ("create-duplicates", k_create_duplicates),
    ("metadata-autocreate", k_metadata_autocreate),
    ("huge-arrays", k_huge_arrays),
    ("zip-bomb", k_zip_bomb),
    ("giant-fetch", k_giant_fetch),
    ("giant-fetch-wait", k_giant_fetch_wait),
    ("many-connections", k_many_connections),
]


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))] if xs else float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build")
    ap.add_argument("--kinds")
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--probe", nargs=2, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.probe:
        probe(int(a.probe[0]), a.probe[1])
        return
    build = a.build or next((d for d in (os.path.join(TOP, "_build-rel"), os.path.join(TOP, "_build"))
                             if os.access(os.path.join(d, "odradekd"), os.X_OK)), None)
    if not build:
        raise SystemExit("no odradekd found; pass --build")
    want = a.kinds.split(",") if a.kinds else [k for k, _ in KINDS]
    try:
        import resource
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ImportError, ValueError, OSError):
        pass
    rows = []
    for name, fn in KINDS:
        if name not in want:
            continue
        b = Broker(build, {})
        samples = os.path.join(b.tmp, "probe.txt")
        pr = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--probe", str(b.port), samples])
        time.sleep(1.0)
        t0 = time.monotonic()
        try:
            outcome = fn(b.port, a.scale) if fn else "no hostile client (3 s)"
            if not fn:
                time.sleep(3.0)
        except Exception as e:  # the table still gets a row
            outcome = "hostile client failed: %r" % e
        time.sleep(0.5)
        t1 = time.monotonic()
        alive = b.proc.poll() is None
        pr.terminate()
        pr.wait()
        rtts = []
        with open(samples) as f:
            for line in f:
                t, rtt = map(float, line.split())
                if t0 <= t <= t1 + 60 and t - rtt <= t1:
                    rtts.append(rtt * 1000)
        b.stop()
        rows.append((name, max(rtts) if rtts else float("nan"), pct(rtts, 0.99), len(rtts), t1 - t0,
                     outcome + ("" if alive else "; BROKER DIED")))
        print("%-20s worst %9.1f ms  p99 %9.1f ms  (%d probes, %.1f s)  %s" % rows[-1], flush=True)
    print()
    print("| hostile kind | worst probe round trip | p99 | probes | window | outcome |")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print("| %s | %.1f ms | %.1f ms | %d | %.1f s | %s |" % r)


if __name__ == "__main__":
    main()
