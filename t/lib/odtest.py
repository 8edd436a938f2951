"""odtest.py - harness for Odradek's integration tests (t/*.t).

Starts a real odradekd on a free loopback port with a temporary data dir,
and offers small, self-contained raw-protocol helpers (struct based) so
tests can say exactly what goes over the wire. Clients (kcat,
confluent_kafka, kafka-python) are used unmodified by the tests themselves.

Environment:
  ODRADEK_BUILD   build dir holding odradekd and .libs/ (modules); default:
                  the first of $ODRADEK_BUILD, TOP/_build, TOP with odradekd
  ODTEST_TIMEOUT  watchdog for one test script in seconds (default 300)
  ODTEST_KEEP     keep temp dirs even when everything passed
  ODTEST_N        message count of the big round trips (default 100000)

A test script:
    b = odtest.Broker(sets={"num.partitions": "3"}).start()  # waits for ApiVersions
    with odtest.Conn(b.port) as c:
        odtest.api_versions(c, 3); odtest.metadata(c); odtest.create_topics(c, [...])
        odtest.produce(c, {(topic, 0): odtest.build_batch([(key, value, headers)])})
    b.stop() / b.kill9() / b.start()    # same data dir and port
    sys.exit(odtest.finish())           # stops brokers (expects exit 0), checks
                                        # logs for sanitizer reports, prints TAP
The broker is started as
    odradekd --set module.dir=BUILD/.libs --set listeners=PLAINTEXT://127.0.0.1:PORT
             --set log.dirs=TMP/data --set node.id=1 [--set k=v ...] [-c file]
with its stdout and stderr in TMP/<name>.log (shown when a test fails).
Temp dirs are removed at the end unless a test failed.
"""
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tap  # noqa: E402

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HOST = "127.0.0.1"

# ---- error codes used by the tests (from the protocol's error table) -------
NONE = 0
OFFSET_OUT_OF_RANGE = 1
CORRUPT_MESSAGE = 2
UNKNOWN_TOPIC_OR_PARTITION = 3
LEADER_NOT_AVAILABLE = 5
INVALID_TOPIC_EXCEPTION = 17
INVALID_REQUEST = 42
UNSUPPORTED_VERSION = 35
TOPIC_ALREADY_EXISTS = 36
INVALID_PARTITIONS = 37
INVALID_REPLICATION_FACTOR = 38
INVALID_RECORD = 87

# ---- api keys ----------------------------------------------------------------
PRODUCE, FETCH, LIST_OFFSETS, METADATA = 0, 1, 2, 3
API_VERSIONS, CREATE_TOPICS, DELETE_TOPICS = 18, 19, 20


class BrokerError(Exception):
    pass


class ProtoError(Exception):
    pass


class ConnectionClosed(Exception):
    pass


# ==========================================================================
# locating the build, temp dirs, the watchdog
# ==========================================================================

def find_build():
    """The first of $ODRADEK_BUILD, TOP/_build, TOP holding odradekd."""
    cands = [os.environ.get("ODRADEK_BUILD"), os.path.join(TOP, "_build"), TOP]
    for c in cands:
        if c and os.access(os.path.join(c, "odradekd"), os.X_OK):
            return os.path.abspath(c)
    tap.bail_out("no odradekd found (tried %s); set ODRADEK_BUILD"
                 % ", ".join(c for c in cands if c))


_scratch = []
_brokers = []


def scratch(tag=None):
    """A new temp dir, removed at the end unless a test failed."""
    tag = tag or os.path.splitext(os.path.basename(sys.argv[0]))[0]
    base = os.environ.get("TMPDIR") or "/tmp"
    d = tempfile.mkdtemp(prefix="odtest-%s-" % tag, dir=base)
    _scratch.append(d)
    return d


def _cleanup(passed):
    for b in _brokers:
        if b.running():
            b.kill9()
        if not passed:
            b.diag_log()
    for d in _scratch:
        if passed and not os.environ.get("ODTEST_KEEP"):
            shutil.rmtree(d, ignore_errors=True)
        else:
            tap.diag("kept temp dir %s" % d)


tap.at_done(_cleanup)


def _on_sigterm(signum, frame):
    # Killed from outside (e.g. `timeout`): do not leave brokers behind.
    tap.ok(False, "test script received signal %d" % signum)
    tap.done()
    sys.stdout.flush()
    os._exit(1)


signal.signal(signal.SIGTERM, _on_sigterm)


def watchdog(seconds=None):
    """Fail the whole script if it runs longer than `seconds`."""
    seconds = seconds or float(os.environ.get("ODTEST_TIMEOUT", "300"))

    def fire():
        tap.ok(False, "watchdog: test script ran longer than %ds" % seconds)
        tap.done()
        sys.stdout.flush()
        os._exit(1)
    t = threading.Timer(seconds, fire)
    t.daemon = True
    t.start()
    return t


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((HOST, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def run(cmd, timeout=30, input=None, env=None):
    """Run a command; returns (rc, stdout, stderr) as bytes; rc None on timeout."""
    try:
        p = subprocess.run(cmd, input=input, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=timeout, env=env,
                           stdin=None if input is not None else subprocess.DEVNULL)
        return p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired as e:
        return None, e.stdout or b"", e.stderr or b""


def wait_until(fn, timeout, interval=0.05):
    """Poll fn() until it returns a true value or timeout; returns that value."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)


# ==========================================================================
# the broker process
# ==========================================================================

SANITIZER_RE = re.compile(r"ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|"
                          r"SUMMARY: (Address|Undefined|Leak)")


class Broker:
    """One odradekd. sets: list of (key, value) or dict for --set."""

    def __init__(self, sets=None, config=None, port=None, tmp=None, name="broker",
                 node_id=1, extra_args=None):
        self.build = find_build()
        self.tmp = tmp or scratch()
        self.name = name
        self.data = os.path.join(self.tmp, "data")
        self.port = port or free_port()
        self.node_id = node_id
        if isinstance(sets, dict):
            sets = list(sets.items())
        self.sets = list(sets or [])
        self.config = config
        self.extra_args = list(extra_args or [])
        self.log_path = os.path.join(self.tmp, name + ".log")
        self.proc = None
        self.starts = 0
        self.last_rc = None
        self.last_stop_secs = None
        _brokers.append(self)

    @property
    def bootstrap(self):
        return "%s:%d" % (HOST, self.port)

    def argv(self):
        a = [os.path.join(self.build, "odradekd"),
             "--set", "module.dir=" + os.path.join(self.build, ".libs"),
             "--set", "listeners=PLAINTEXT://%s:%d" % (HOST, self.port),
             "--set", "log.dirs=" + self.data,
             "--set", "node.id=%d" % self.node_id]
        for k, v in self.sets:
            a += ["--set", "%s=%s" % (k, v)]
        if self.config:
            a += ["-c", self.config]
        return a + self.extra_args

    def start(self, timeout=20):
        """Start and wait until an ApiVersions request is answered (in a
        cluster that is once this node's registration is unfenced: its
        broker listeners accept only then)."""
        self.spawn()
        return self.wait_started(timeout)

    def spawn(self):
        """Start the process, without waiting (Cluster.start starts every
        node first: none can catch up before a quorum is there)."""
        assert not self.running(), "broker already running"
        self.starts += 1
        logf = open(self.log_path, "ab")
        logf.write(("==== start %d: %s\n" % (self.starts, " ".join(self.argv()))).encode())
        logf.flush()
        self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL,
                                     stdout=logf, stderr=logf)
        logf.close()
        return self

    def wait_started(self, timeout=20):
        try:
            self.wait_ready(timeout)
        except BrokerError as e:
            tap.diag(str(e))
            self.diag_log()
            if self.running():
                self.kill9()
            raise
        return self

    def wait_ready(self, timeout=20):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            rc = self.proc.poll()
            if rc is not None:
                self.last_rc = rc
                raise BrokerError("%s exited with status %s during start-up" % (self.name, rc))
            try:
                c = Conn(self.port, timeout=2)
                try:
                    v = api_versions(c, 0)
                    if v["error"] == 0 and v["apis"]:
                        return
                    last = "ApiVersions error %d" % v["error"]
                finally:
                    c.close()
            except (OSError, ProtoError, ConnectionClosed) as e:
                last = repr(e)
            time.sleep(0.05)
        raise BrokerError("%s not ready after %ss (last: %s)" % (self.name, timeout, last))

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    alive = running

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def stop(self, timeout=10):
        """SIGTERM, wait up to timeout, then SIGKILL. Returns the exit status,
        or None when it had to be killed (not a clean shutdown)."""
        if not self.proc:
            return None
        if self.proc.poll() is not None:
            self.last_rc = self.proc.returncode
            return self.last_rc
        t0 = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.last_rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            tap.diag("%s did not exit %ss after SIGTERM; SIGKILL" % (self.name, timeout))
            self.proc.kill()
            self.proc.wait(10)
            self.last_rc = None
        self.last_stop_secs = time.monotonic() - t0
        return self.last_rc

    def kill9(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass
        self.last_rc = self.proc.returncode if self.proc else None

    def restart(self, timeout=20, clean=True):
        """Stop (SIGTERM, or SIGKILL if clean=False) and start again on the
        same data dir and port."""
        if self.running():
            self.stop() if clean else self.kill9()
        return self.start(timeout)

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def diag_log(self, lines=80):
        text = self.log_text().splitlines()
        tap.diag("---- %s log (%s), last %d of %d lines ----"
                 % (self.name, self.log_path, min(lines, len(text)), len(text)))
        for line in text[-lines:]:
            tap.diag("  " + line)

    def sanitizer_reports(self):
        return [ln for ln in self.log_text().splitlines() if SANITIZER_RE.search(ln)]


def finish():
    """Stop every broker still running (checking it exits 0 on SIGTERM),
    check the logs for sanitizer reports, and return tap.done()'s code."""
    for b in _brokers:
        if b.running():
            rc = b.stop()
            tap.is_(rc, 0, "%s exits 0 on SIGTERM at the end" % b.name)
        if b.starts:
            rep = b.sanitizer_reports()
            tap.ok(not rep, "%s log has no sanitizer reports" % b.name)
            for ln in rep[:20]:
                tap.diag("  " + ln)
    return tap.done()


# ==========================================================================
# CRC-32C (Castagnoli), table driven
# ==========================================================================

def _crc_table():
    tbl = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        tbl.append(c)
    return tbl


_CRC_TABLE = _crc_table()


def crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    tbl = _CRC_TABLE
    for b in data:
        crc = tbl[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


# ==========================================================================
# primitive encoders
# ==========================================================================

def i8(v): return struct.pack(">b", v)
def i16(v): return struct.pack(">h", v)
def i32(v): return struct.pack(">i", v)
def i64(v): return struct.pack(">q", v)
def u32(v): return struct.pack(">I", v)
def boolean(v): return b"\x01" if v else b"\x00"


def _b(s):
    return s.encode() if isinstance(s, str) else s


def string(s):
    """Nullable string, int16 length."""
    if s is None:
        return i16(-1)
    s = _b(s)
    return i16(len(s)) + s


def bytes_(b):
    """Nullable bytes, int32 length."""
    if b is None:
        return i32(-1)
    return i32(len(b)) + b


def array(items, fn):
    if items is None:
        return i32(-1)
    return i32(len(items)) + b"".join(fn(x) for x in items)


def uvarint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def varint(n):
    """Zig-zag varint (also varlong: Python ints are unbounded)."""
    return uvarint((n << 1) ^ (n >> 63))


def compact_string(s):
    if s is None:
        return uvarint(0)
    s = _b(s)
    return uvarint(len(s) + 1) + s


def compact_array(items, fn):
    if items is None:
        return uvarint(0)
    return uvarint(len(items) + 1) + b"".join(fn(x) for x in items)


NO_TAGS = b"\x00"


class Reader:
    """Bounds-checked reader over a response body."""

    def __init__(self, buf, pos=0):
        self.buf = bytes(buf)
        self.pos = pos

    def remaining(self):
        return len(self.buf) - self.pos

    def take(self, n):
        if n < 0 or self.pos + n > len(self.buf):
            raise ProtoError("short read: want %d at %d of %d" % (n, self.pos, len(self.buf)))
        b = self.buf[self.pos:self.pos + n]
        self.pos += n
        return b

    def _u(self, fmt, n):
        return struct.unpack(fmt, self.take(n))[0]

    def i8(self): return self._u(">b", 1)
    def i16(self): return self._u(">h", 2)
    def i32(self): return self._u(">i", 4)
    def i64(self): return self._u(">q", 8)
    def u32(self): return self._u(">I", 4)
    def boolean(self): return self.i8() != 0

    def string(self):
        n = self.i16()
        return None if n < 0 else self.take(n).decode("utf-8", "replace")

    def bytes_(self):
        n = self.i32()
        return None if n < 0 else self.take(n)

    def array(self, fn):
        n = self.i32()
        if n < 0:
            return None
        if n > self.remaining():
            raise ProtoError("array count %d exceeds body" % n)
        return [fn(self) for _ in range(n)]

    def uvarint(self):
        shift = n = 0
        while True:
            b = self.take(1)[0]
            n |= (b & 0x7F) << shift
            if not b & 0x80:
                return n
            shift += 7
            if shift > 63:
                raise ProtoError("varint too long")

    def varint(self):
        n = self.uvarint()
        return (n >> 1) ^ -(n & 1)

    def compact_string(self):
        n = self.uvarint()
        return None if n == 0 else self.take(n - 1).decode("utf-8", "replace")

    def compact_bytes(self):
        n = self.uvarint()
        return None if n == 0 else self.take(n - 1)

    def compact_array(self, fn):
        n = self.uvarint()
        if n == 0:
            return None
        if n - 1 > self.remaining():
            raise ProtoError("compact array count %d exceeds body" % (n - 1))
        return [fn(self) for _ in range(n - 1)]

    def tags(self):
        out = {}
        for _ in range(self.uvarint()):
            tag = self.uvarint()
            out[tag] = self.take(self.uvarint())
        return out


# ==========================================================================
# a raw connection
# ==========================================================================

def request_header(api_key, version, corr, client_id="odtest", flexible=False):
    h = i16(api_key) + i16(version) + i32(corr) + string(client_id)
    return h + (NO_TAGS if flexible else b"")


def frame(payload):
    return i32(len(payload)) + payload


class Conn:
    def __init__(self, port, timeout=10):
        self.sock = socket.create_connection((HOST, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.corr = 0
        self.timeout = timeout

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    def send_raw(self, data):
        self.sock.sendall(data)

    def _recv_exact(self, n, timeout):
        buf = bytearray()
        deadline = time.monotonic() + timeout
        while len(buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("timed out reading %d bytes" % n)
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(min(n - len(buf), 1 << 20))
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                return None
            buf += chunk
        return bytes(buf)

    def recv_frame(self, timeout=None):
        """One response frame (without its length); None if the peer closed."""
        timeout = self.timeout if timeout is None else timeout
        h = self._recv_exact(4, timeout)
        if h is None:
            return None
        (n,) = struct.unpack(">i", h)
        if n < 4 or n > 256 << 20:
            raise ProtoError("bad response frame size %d" % n)
        body = self._recv_exact(n, timeout)
        if body is None:
            raise ConnectionClosed("closed in the middle of a response")
        return body

    def send_request(self, api_key, version, body, flexible=False, client_id="odtest"):
        self.corr += 1
        self.send_raw(frame(request_header(api_key, version, self.corr, client_id, flexible) + body))
        return self.corr

    def request(self, api_key, version, body, flexible=False, resp_flexible=None,
                timeout=None, client_id="odtest"):
        """Send a request, read its response; returns a Reader at the body.
        resp_flexible: does the response header carry tags (default: as the
        request; ApiVersions never does)."""
        corr = self.send_request(api_key, version, body, flexible, client_id)
        data = self.recv_frame(timeout)
        if data is None:
            raise ConnectionClosed("connection closed instead of a response to api %d v%d"
                                   % (api_key, version))
        r = Reader(data)
        got = r.i32()
        if got != corr:
            raise ProtoError("correlation id %d, expected %d" % (got, corr))
        if resp_flexible is None:
            resp_flexible = flexible and api_key != API_VERSIONS
        if resp_flexible:
            r.tags()
        return r

    def wait_closed(self, timeout=5):
        """'closed' if the peer closes within timeout, 'open' if not;
        data received meanwhile is returned as ('data', bytes)."""
        deadline = time.monotonic() + timeout
        got = b""
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return ("data", got) if got else "open"
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue
            except (ConnectionResetError, BrokenPipeError):
                chunk = b""
            if not chunk:
                return ("closed_after_data", got) if got else "closed"
            got += chunk
            # A complete response frame is an answer: no need to wait longer.
            if len(got) >= 4 and len(got) >= 4 + struct.unpack(">i", got[:4])[0]:
                return ("data", got)


# ==========================================================================
# requests and responses
# ==========================================================================

def api_versions(conn, version=0, raw_version=None):
    """ApiVersions at `version`. Returns {error, apis: {key: (min, max)}, throttle}.
    raw_version: send this version number but parse per `version`'s layout."""
    sent = version if raw_version is None else raw_version
    # A client sends its own newest version with header v2 and the v3 body;
    # the answer to an unknown version comes in the v0 layout.
    flexible = sent >= 3
    body = b""
    if flexible:
        body = compact_string("odtest") + compact_string("1.0") + NO_TAGS
    r = conn.request(API_VERSIONS, sent, body, flexible=flexible, resp_flexible=False)
    return parse_api_versions(r, version)


def parse_api_versions(r, version):
    out = {"error": r.i16(), "apis": {}, "throttle": None}
    if version >= 3:
        def one(rr):
            k, lo, hi = rr.i16(), rr.i16(), rr.i16()
            rr.tags()
            return k, lo, hi
        lst = r.compact_array(one) or []
    else:
        lst = r.array(lambda rr: (rr.i16(), rr.i16(), rr.i16())) or []
    for k, lo, hi in lst:
        out["apis"][k] = (lo, hi)
    out["list"] = lst
    if version >= 1 and r.remaining():
        out["throttle"] = r.i32()
    if version >= 3:
        out["tags"] = r.tags()
    out["trailing"] = r.remaining()
    return out


def metadata(conn, topics=None, version=1):
    """Metadata v1 (topics None = all). Returns {brokers, controller_id, topics}."""
    assert version == 1
    r = conn.request(METADATA, 1, array(topics, string))
    brokers = r.array(lambda rr: {"node_id": rr.i32(), "host": rr.string(),
                                  "port": rr.i32(), "rack": rr.string()})
    controller = r.i32()

    def part(rr):
        return {"error": rr.i16(), "partition": rr.i32(), "leader": rr.i32(),
                "replicas": rr.array(lambda x: x.i32()),
                "isr": rr.array(lambda x: x.i32())}

    def topic(rr):
        return {"error": rr.i16(), "name": rr.string(), "internal": rr.boolean(),
                "partitions": rr.array(part)}
    tlist = r.array(topic)
    return {"brokers": brokers, "controller_id": controller,
            "topics": {t["name"]: t for t in tlist}, "topic_list": tlist,
            "trailing": r.remaining()}


def create_topics(conn, topics, timeout_ms=10000):
    """CreateTopics v0. topics: list of (name, partitions, rf[, {config}]).
    Returns {name: error_code}."""
    def one(t):
        name, nparts, rf = t[0], t[1], t[2]
        cfg = t[3] if len(t) > 3 else {}
        return (string(name) + i32(nparts) + i16(rf) + array([], None) +
                array(list(cfg.items()), lambda kv: string(kv[0]) + string(kv[1])))
    r = conn.request(CREATE_TOPICS, 0, array(topics, one) + i32(timeout_ms))
    res = r.array(lambda rr: (rr.string(), rr.i16()))
    return dict(res)


def produce(conn, parts, acks=1, timeout_ms=10000, version=3, transactional_id=None):
    """Produce v3. parts: {(topic, partition): records_bytes}.
    Returns {(topic, partition): (error, base_offset, log_append_time)},
    or None for acks=0 (no response is read)."""
    by_topic = {}
    for (t, p), recs in parts.items():
        by_topic.setdefault(t, []).append((p, recs))
    body = (string(transactional_id) + i16(acks) + i32(timeout_ms) +
            array(list(by_topic.items()),
                  lambda tp: string(tp[0]) + array(tp[1], lambda pr: i32(pr[0]) + bytes_(pr[1]))))
    if acks == 0:
        conn.send_request(PRODUCE, version, body)
        return None
    r = conn.request(PRODUCE, version, body)
    out = {}

    def topic(rr):
        name = rr.string()
        for p, err, off, lat in rr.array(lambda x: (x.i32(), x.i16(), x.i64(), x.i64())):
            out[(name, p)] = (err, off, lat)
    r.array(topic)
    return out


def fetch(conn, parts, max_wait_ms=100, max_bytes=64 << 20, part_max_bytes=16 << 20):
    """Fetch v4. parts: {(topic, partition): offset}.
    Returns {(topic, partition): {error, hw, lso, records}}."""
    by_topic = {}
    for (t, p), off in parts.items():
        by_topic.setdefault(t, []).append((p, off))
    body = (i32(-1) + i32(max_wait_ms) + i32(1) + i32(max_bytes) + i8(0) +
            array(list(by_topic.items()),
                  lambda tp: string(tp[0]) + array(
                      tp[1], lambda po: i32(po[0]) + i64(po[1]) + i32(part_max_bytes))))
    r = conn.request(FETCH, 4, body, timeout=max(10, max_wait_ms / 1000 + 10))
    r.i32()  # throttle
    out = {}

    def topic(rr):
        name = rr.string()

        def part(x):
            p, err, hw, lso = x.i32(), x.i16(), x.i64(), x.i64()
            x.array(lambda y: (y.i64(), y.i64()))
            out[(name, p)] = {"error": err, "hw": hw, "lso": lso, "records": x.bytes_()}
        rr.array(part)
    r.array(topic)
    return out


def list_offsets(conn, parts):
    """ListOffsets v1. parts: {(topic, partition): timestamp (-1 latest, -2 earliest)}.
    Returns {(topic, partition): (error, timestamp, offset)}."""
    by_topic = {}
    for (t, p), ts in parts.items():
        by_topic.setdefault(t, []).append((p, ts))
    body = i32(-1) + array(list(by_topic.items()), lambda tp: string(tp[0]) + array(
        tp[1], lambda pt: i32(pt[0]) + i64(pt[1])))
    r = conn.request(LIST_OFFSETS, 1, body)
    out = {}

    def topic(rr):
        name = rr.string()
        for p, err, ts, off in rr.array(lambda x: (x.i32(), x.i16(), x.i64(), x.i64())):
            out[(name, p)] = (err, ts, off)
    r.array(topic)
    return out


# ==========================================================================
# RecordBatch (magic 2)
# ==========================================================================

def _rec_bytes(b):
    if b is None:
        return varint(-1)
    b = _b(b)
    return varint(len(b)) + b


def build_batch(records, base_offset=0, base_ts=None, attributes=0, producer_id=-1,
                producer_epoch=-1, base_sequence=-1, leader_epoch=-1, corrupt_crc=False):
    """records: list of (key, value[, headers[, ts_delta]]); headers a list of
    (key, value). Uncompressed. Returns the batch bytes."""
    if base_ts is None:
        base_ts = int(time.time() * 1000)
    recs = []
    max_ts = base_ts
    for i, r in enumerate(records):
        key, value = r[0], r[1]
        headers = r[2] if len(r) > 2 and r[2] else []
        ts_delta = r[3] if len(r) > 3 else 0
        max_ts = max(max_ts, base_ts + ts_delta)
        body = (i8(0) + varint(ts_delta) + varint(i) + _rec_bytes(key) + _rec_bytes(value) +
                varint(len(headers)) +
                b"".join(_rec_bytes(hk) + _rec_bytes(hv) for hk, hv in headers))
        recs.append(varint(len(body)) + body)
    after_crc = (i16(attributes) + i32(len(records) - 1) + i64(base_ts) + i64(max_ts) +
                 i64(producer_id) + i16(producer_epoch) + i32(base_sequence) +
                 i32(len(records)) + b"".join(recs))
    crc = crc32c(after_crc)
    if corrupt_crc:
        crc ^= 0xDEADBEEF
    batch_len = 4 + 1 + 4 + len(after_crc)
    return i64(base_offset) + i32(batch_len) + i32(leader_epoch) + i8(2) + u32(crc) + after_crc


def parse_batches(data):
    """Decode a record set (as Fetch returns it) into a list of batches:
    {base_offset, last_offset, crc_ok, attributes, base_ts, max_ts, records:
    [(offset, ts, key, value, headers)]}. A trailing partial batch is ignored.
    Only uncompressed and gzip batches have their records decoded."""
    out = []
    pos = 0
    data = data or b""
    while len(data) - pos >= 12:
        base_off, blen = struct.unpack_from(">qi", data, pos)
        if blen < 0 or pos + 12 + blen > len(data):
            break  # partial batch at the end (allowed)
        r = Reader(data[pos + 12:pos + 12 + blen])
        pos += 12 + blen
        r.i32()  # partition leader epoch
        magic = r.i8()
        if magic != 2:
            raise ProtoError("magic %d at offset %d" % (magic, base_off))
        crc = r.u32()
        crc_ok = crc32c(r.buf[r.pos:]) == crc
        attrs = r.i16()
        last_delta = r.i32()
        base_ts, max_ts = r.i64(), r.i64()
        r.i64(), r.i16(), r.i32()
        count = r.i32()
        b = {"base_offset": base_off, "last_offset": base_off + last_delta, "crc_ok": crc_ok,
             "attributes": attrs, "base_ts": base_ts, "max_ts": max_ts, "count": count,
             "records": None}
        codec = attrs & 7
        rest = r.buf[r.pos:]
        if codec == 1:
            rest = zlib.decompress(rest, 47)
        elif codec != 0:
            out.append(b)
            continue
        rr = Reader(rest)
        recs = []
        for _ in range(count):
            rlen = rr.varint()
            x = Reader(rr.take(rlen))
            x.i8()
            tsd = x.varint()
            od = x.varint()
            kl = x.varint()
            key = None if kl < 0 else x.take(kl)
            vl = x.varint()
            val = None if vl < 0 else x.take(vl)
            hdrs = []
            for _ in range(x.varint()):
                hkl = x.varint()
                hk = x.take(hkl)
                hvl = x.varint()
                hdrs.append((hk, None if hvl < 0 else x.take(hvl)))
            recs.append((base_off + od, base_ts + tsd, key, val, hdrs))
        b["records"] = recs
        out.append(b)
    return out


def fetch_all(conn, topic, partition, timeout=30):
    """All records of a partition via raw Fetch v4 (uncompressed/gzip)."""
    recs = []
    off = 0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        res = fetch(conn, {(topic, partition): off})[(topic, partition)]
        if res["error"]:
            raise ProtoError("fetch %s/%d@%d: error %d" % (topic, partition, off, res["error"]))
        batches = parse_batches(res["records"])
        for b in batches:
            for rec in b["records"] or []:
                if rec[0] >= off:
                    recs.append(rec)
            off = max(off, b["last_offset"] + 1)
        if off >= res["hw"]:
            return recs, res["hw"]
        if not batches:
            time.sleep(0.05)
    raise ProtoError("fetch_all %s/%d timed out at offset %d" % (topic, partition, off))


# ==========================================================================
# confluent_kafka helpers
# ==========================================================================

class RdLog:
    """A logging.Logger-compatible sink keeping librdkafka's log lines, so
    they do not flood the TAP output but can be shown on failure."""

    def __init__(self, keep=200):
        import collections
        self.lines = collections.deque(maxlen=keep)

    def log(self, level, fmt, *args):
        try:
            self.lines.append(fmt % args if args else fmt)
        except Exception:
            self.lines.append(repr((fmt, args)))

    def __getattr__(self, name):  # debug/info/... all collected
        return lambda fmt, *a, **k: self.log(0, fmt, *a)

    def diag(self, n=40):
        for ln in list(self.lines)[-n:]:
            tap.diag("  rdkafka: " + ln)


def ck_conf(bootstrap, **extra):
    c = {"bootstrap.servers": bootstrap, "broker.address.family": "v4",
         "socket.timeout.ms": 10000}
    for k, v in extra.items():
        c[k.replace("_", ".")] = v
    return c


def ck_read(bootstrap, topic, partitions, timeout=60, logger=None, extra=None):
    """Read every partition from the beginning up to its high watermark with
    assign() (no group APIs). Returns {partition: [Message, ...]}."""
    import confluent_kafka as ck
    conf = ck_conf(bootstrap, **{"group.id": "odtest-reader", "enable.auto.commit": False,
                                 "enable.partition.eof": True,
                                 "auto.offset.reset": "error",
                                 "fetch.wait.max.ms": 50,
                                 # verify every batch's CRC-32C as served by the broker
                                 "check.crcs": True})
    conf.update(extra or {})
    cons = ck.Consumer(conf, logger=logger or RdLog())
    try:
        hw = {}
        for p in partitions:
            lo, hi = cons.get_watermark_offsets(ck.TopicPartition(topic, p), timeout=10)
            hw[p] = hi
        out = {p: [] for p in partitions}
        todo = set(p for p in partitions if hw[p] > 0)
        if not todo:
            return out, hw
        cons.assign([ck.TopicPartition(topic, p, ck.OFFSET_BEGINNING) for p in todo])
        deadline = time.monotonic() + timeout
        while todo and time.monotonic() < deadline:
            for m in cons.consume(num_messages=10000, timeout=0.5):
                err = m.error()
                if err is not None:
                    if err.code() == ck.KafkaError._PARTITION_EOF:
                        if out[m.partition()] and out[m.partition()][-1].offset() + 1 >= hw[m.partition()]:
                            todo.discard(m.partition())
                        continue
                    raise RuntimeError("consume error: %s" % err)
                out[m.partition()].append(m)
                if m.offset() + 1 >= hw[m.partition()]:
                    todo.discard(m.partition())
        if todo:
            raise RuntimeError("ck_read %s: timed out; partitions %s not at high watermark %s "
                               "(have %s)" % (topic, sorted(todo), hw,
                                              {p: len(out[p]) for p in todo}))
        return out, hw
    finally:
        cons.close()


def ck_admin(bootstrap, logger=None):
    from confluent_kafka.admin import AdminClient
    conf = ck_conf(bootstrap)
    conf["logger"] = logger or RdLog()  # AdminClient takes it only in the dict
    return AdminClient(conf)


def ck_create_topic(admin, name, partitions=1, config=None, timeout=30):
    """Create a topic and wait until its metadata shows all partitions."""
    from confluent_kafka.admin import NewTopic
    fs = admin.create_topics([NewTopic(name, partitions, 1, config=config or {})],
                             operation_timeout=timeout, request_timeout=timeout)
    fs[name].result(timeout)
    wait_topic(admin, name, partitions, timeout)


def wait_topic(client, name, partitions, timeout=20):
    def ready():
        md = client.list_topics(name, timeout=5)
        t = md.topics.get(name)
        return (t is not None and t.error is None and len(t.partitions) == partitions and
                all(p.leader >= 0 for p in t.partitions.values()))
    if not wait_until(ready, timeout, 0.1):
        raise RuntimeError("topic %s not ready with %d partitions after %ss"
                           % (name, partitions, timeout))
