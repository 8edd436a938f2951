#!/usr/bin/python3
# odr's own Kafka client (cli/odr_raw.c) for the requests librdkafka 2.0
# cannot send, against a scripted server on a loopback port: DescribeQuorum
# (cluster quorum) and the SCRAM credential APIs (user list/create/delete).
# Checks what odr sends (a create's SaltedPassword is PBKDF2-HMAC of the
# password with the salt it sent, and the password itself never goes over
# the wire) and that hostile or truncated answers give a clear error and an
# exit code, never a crash (the build may run under ASan/UBSan).
import hashlib
import os
import socket
import struct
import sys
import threading

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import odtest  # noqa: E402
import tap  # noqa: E402
import odrcli  # noqa: E402
from odrcli import odr, odr_json  # noqa: E402

if not odrcli.available():
    tap.skip_all("odr not built (librdkafka-dev missing at configure time)")
odtest.watchdog(120)


def uv(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def cstr(s):
    if s is None:
        return b"\x00"
    s = s.encode() if isinstance(s, str) else s
    return uv(len(s) + 1) + s


class Rd:
    def __init__(self, b):
        self.b, self.i = b, 0

    def take(self, n):
        v = self.b[self.i:self.i + n]
        if len(v) != n:
            raise ValueError("short")
        self.i += n
        return v

    def i8(self): return struct.unpack(">b", self.take(1))[0]
    def i16(self): return struct.unpack(">h", self.take(2))[0]
    def i32(self): return struct.unpack(">i", self.take(4))[0]

    def uv(self):
        n = s = 0
        while True:
            c = self.take(1)[0]
            n |= (c & 0x7F) << s
            s += 7
            if not c & 0x80:
                return n

    def cbytes(self):
        n = self.uv()
        return None if n == 0 else self.take(n - 1)


class Server:
    """Answers ApiVersions (offering `apis`), then calls handler(api, version,
    body) -> response body bytes, or a raw frame (bytes with 'raw' prefix)."""

    def __init__(self, apis, handler):
        self.apis, self.handler = apis, handler
        self.requests = []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.addr = "127.0.0.1:%d" % self.sock.getsockname()[1]
        threading.Thread(target=self.loop, daemon=True).start()

    def loop(self):
        while True:
            c, _ = self.sock.accept()
            threading.Thread(target=self.serve, args=(c,), daemon=True).start()

    def serve(self, c):
        try:
            while True:
                hdr = c.recv(4, socket.MSG_WAITALL)
                if len(hdr) < 4:
                    return
                frame = c.recv(struct.unpack(">i", hdr)[0], socket.MSG_WAITALL)
                r = Rd(frame)
                api, ver, corr = r.i16(), r.i16(), r.i32()
                r.take(r.i16())  # client id
                if api == 18:
                    body = struct.pack(">hi", 0, len(self.apis))
                    body += b"".join(struct.pack(">hhh", k, 0, v) for k, v in self.apis.items())
                    c.sendall(struct.pack(">ii", len(body) + 4, corr) + body)
                    continue
                r.uv()  # header tags (all these APIs are flexible)
                body = frame[r.i:]
                self.requests.append((api, ver, body))
                out = self.handler(api, ver, body)
                if out.startswith(b"raw"):
                    c.sendall(out[3:])
                    c.close()
                    return
                payload = struct.pack(">i", corr) + b"\x00" + out
                c.sendall(struct.pack(">i", len(payload)) + payload)
        except (OSError, ValueError):
            pass


def replica(rid, leo, fetch, caught):
    return struct.pack(">iqqq", rid, leo, fetch, caught) + b"\x00"


def quorum_body(voters=2, hostile=False):
    p = struct.pack(">ihiiq", 0, 0, 1, 5, 42)
    if hostile:
        p += uv(0x7FFFFFF0)  # a count far beyond the bytes that follow
    else:
        p += uv(voters + 1) + b"".join(replica(i + 1, 42 - i, 1000 + i, 900 + i)
                                       for i in range(voters))
    p += uv(2) + replica(9, 40, 1, 2)
    p += b"\x00"
    return struct.pack(">h", 0) + uv(2) + cstr("__cluster_metadata") + uv(2) + p + b"\x00\x00"


mode = {"quorum": "ok"}


def handler(api, ver, body):
    if api == 55:
        if mode["quorum"] == "hostile":
            return quorum_body(hostile=True)
        if mode["quorum"] == "truncated":
            return b"raw" + struct.pack(">i", 1000) + b"\x00\x00"
        return quorum_body()
    if api == 50:
        res = cstr("bob") + struct.pack(">h", 0) + cstr(None) + uv(3) + \
            struct.pack(">bi", 1, 4096) + b"\x00" + struct.pack(">bi", 2, 8192) + b"\x00" + b"\x00"
        return struct.pack(">ih", 0, 0) + cstr(None) + uv(2) + res + b"\x00"
    if api == 51:
        r = Rd(body)
        dels = [(r.cbytes(), r.i8(), r.uv()) for _ in range(r.uv() - 1)]
        ups = [(r.cbytes(), r.i8(), r.i32(), r.cbytes(), r.cbytes(), r.uv()) for _ in range(r.uv() - 1)]
        names = [d[0] for d in dels] + [u[0] for u in ups]
        err = 58 if names == [b"mallory"] else 0  # SASL_AUTHENTICATION_FAILED, for the error path
        mode["alter"] = (dels, ups)
        return struct.pack(">i", 0) + uv(len(names) + 1) + b"".join(
            cstr(n) + struct.pack(">h", err) + cstr("no such user" if err else None) + b"\x00"
            for n in names) + b"\x00"
    return b""


srv = Server({18: 3, 55: 1, 50: 0, 51: 0}, handler)

q = odrcli.json_lines(odr(srv.addr, "cluster", "quorum", "--output", "json")[1])
tap.ok(q and q[0]["topic"] == "__cluster_metadata" and q[0]["leader"] == 1 and
       q[0]["leader_epoch"] == 5 and q[0]["high_watermark"] == 42,
       "cluster quorum --output json: leader, epoch, high watermark") or tap.diag(q)
tap.ok(q and [v["id"] for v in q[0]["voters"]] == [1, 2] and q[0]["voters"][1]["log_end_offset"] == 41
       and q[0]["voters"][0]["last_caught_up_timestamp"] == 900 and
       [o["id"] for o in q[0]["observers"]] == [9], "voters and observers with their offsets (v1)")
api, ver, body = srv.requests[-1]
tap.ok(api == 55 and ver == 1 and body == uv(2) + cstr("__cluster_metadata") + uv(2) +
       struct.pack(">i", 0) + b"\x00\x00\x00", "the request: v1, topic __cluster_metadata, partition 0")
rc, out, err = odr(srv.addr, "cluster", "quorum")
tap.ok(rc == 0 and "LEADER          1" in out and "voters:" in out, "cluster quorum as text")
mode["quorum"] = "hostile"
rc, out, err = odr(srv.addr, "cluster", "quorum")
tap.ok(rc == 1 and "not readable" in err, "a count beyond the response: exit 1, 'not readable'") \
    or tap.diag((rc, err))
mode["quorum"] = "truncated"
rc, out, err = odr(srv.addr, "--timeout", "2", "cluster", "quorum")
tap.ok(rc == 3 and "did not finish its answer" in err, "a truncated response: exit 3") \
    or tap.diag((rc, err))

u = odr_json(srv.addr, "user", "list")
tap.is_(u, [{"user": "bob", "credentials": [{"mechanism": "SCRAM-SHA-256", "iterations": 4096},
                                             {"mechanism": "SCRAM-SHA-512", "iterations": 8192}]}],
        "user list --output json")
tap.is_(srv.requests[-1][2], b"\x00\x00", "user list asks for every user (null array)")
rc, out, err = odr(srv.addr, "user", "list", "bob", "carol")
tap.is_(srv.requests[-1][2], uv(3) + cstr("bob") + b"\x00" + cstr("carol") + b"\x00" + b"\x00",
        "user list NAMES asks for those")

rc, out, err = odr(srv.addr, "user", "create", "bob", "--password", "pa55word",
                   "--iterations", "8192")
dels, ups = mode.get("alter", ([], []))
ok = rc == 0 and not dels and len(ups) == 1
if ok:
    name, mech, it, salt, salted, _ = ups[0]
    ok = (name == b"bob" and mech == 1 and it == 8192 and len(salt) >= 16 and
          salted == hashlib.pbkdf2_hmac("sha256", b"pa55word", salt, 8192))
tap.ok(ok, "user create: SCRAM-SHA-256 upsertion, SaltedPassword = PBKDF2-HMAC-SHA-256") \
    or tap.diag((rc, err, ups))
tap.ok(all(b"pa55word" not in r[2] for r in srv.requests), "the password itself is never sent")
rc, out, err = odr(srv.addr, "user", "create", "bob", "--mechanism", "SCRAM-SHA-512",
                   input="from-stdin\n")
dels, ups = mode["alter"]
tap.ok(rc == 0 and ups and ups[0][1] == 2 and len(ups[0][4]) == 64 and ups[0][4] ==
       hashlib.pbkdf2_hmac("sha512", b"from-stdin", ups[0][3], 4096),
       "SCRAM-SHA-512 with the password from stdin (64-byte key, 4096 iterations)")
rc, out, err = odr(srv.addr, "user", "delete", "bob", "--output", "json")
dels, ups = mode["alter"]
tap.ok(rc == 0 and dels == [(b"bob", 1, 0)] and not ups and '"change": "deleted"' in out,
       "user delete: one deletion, no upsertion")
rc, out, err = odr(srv.addr, "user", "delete", "mallory")
tap.ok(rc == 1 and "SASL_AUTHENTICATION_FAILED" in err and "no such user" in err,
       "a per-user error: exit 1, its name and the broker's message") or tap.diag((rc, err))
rc, out, err = odr(srv.addr, "user", "create", "bob", "--iterations", "10")
tap.ok(rc == 2 and "4096..16384" in err, "too few iterations: usage error")

bare = Server({18: 3}, handler)
rc, out, err = odr(bare.addr, "cluster", "quorum")
tap.ok(rc == 1 and "DescribeQuorum is not supported by this broker" in err,
       "no api 55 in ApiVersions: 'not supported by this broker', exit 1")
rc, out, err = odr(bare.addr, "user", "list")
tap.ok(rc == 1 and "not supported by this broker" in err, "no api 50: the same for users")
rc, out, err = odr(srv.addr, "-X", "security.protocol=SSL", "cluster", "quorum")
tap.ok(rc == 2 and "PLAINTEXT" in err, "the raw client refuses a non-PLAINTEXT setting")
sys.exit(odtest.finish())
