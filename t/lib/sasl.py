"""Shared bits of the SASL tests (t/7150-7249): a broker with a PLAINTEXT
and a SASL_PLAINTEXT listener, SCRAM users made through the broker's own
AlterUserScramCredentials, and a raw SaslHandshake/SaslAuthenticate client
(with a SCRAM client of RFC 5802) for the bad-input cases real clients
never send."""
import base64
import hashlib
import hmac
import os
import struct

import odtest
from odtest import (Conn, Reader, array, bytes_, compact_array, compact_string, i8, i32,
                    string, uvarint)

SASL_HANDSHAKE, SASL_AUTHENTICATE = 17, 36
DESCRIBE_SCRAM, ALTER_SCRAM = 50, 51
SCRAM_SHA_256, SCRAM_SHA_512 = 1, 2
MECH_IDS = {"SCRAM-SHA-256": SCRAM_SHA_256, "SCRAM-SHA-512": SCRAM_SHA_512}
HASHES = {SCRAM_SHA_256: hashlib.sha256, SCRAM_SHA_512: hashlib.sha512}

UNSUPPORTED_SASL_MECHANISM = 33
ILLEGAL_SASL_STATE = 34
SASL_AUTHENTICATION_FAILED = 58
RESOURCE_NOT_FOUND = 91
DUPLICATE_RESOURCE = 92
UNACCEPTABLE_CREDENTIAL = 93

ALL_MECHS = "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512"


class SaslBroker(odtest.Broker):
    """A broker with PLAINTEXT (self.port: admin and readiness) and
    SASL_PLAINTEXT (self.sasl_port) listeners."""

    def __init__(self, mechanisms=ALL_MECHS, sets=None, **kw):
        self.sasl_port = odtest.free_port()
        s = list((sets or {}).items()) if isinstance(sets, dict) else list(sets or [])
        port = kw.pop("port", None) or odtest.free_port()
        base = [("listeners", "PLAINTEXT://%s:%d,SASL_PLAINTEXT://%s:%d"
                 % (odtest.HOST, port, odtest.HOST, self.sasl_port)),
                ("sasl.enabled.mechanisms", mechanisms)]
        super().__init__(sets=base + s, port=port, **kw)

    @property
    def sasl_bootstrap(self):
        return "%s:%d" % (odtest.HOST, self.sasl_port)


# ---- SCRAM credentials through AlterUserScramCredentials ------------------

def salted_password(mech, password, salt, iterations):
    name = "sha256" if mech == SCRAM_SHA_256 else "sha512"
    return hashlib.pbkdf2_hmac(name, password.encode(), salt, iterations)


def alter_scram(conn, upsertions=(), deletions=()):
    """Raw AlterUserScramCredentials v0. upsertions: (user, mech, iterations,
    salt, salted_password); deletions: (user, mech). Returns [(user, code,
    message)]."""
    def dele(d):
        return compact_string(d[0]) + i8(d[1]) + odtest.NO_TAGS

    def ups(u):
        return (compact_string(u[0]) + i8(u[1]) + i32(u[2]) + uvarint(len(u[3]) + 1) + u[3]
                + uvarint(len(u[4]) + 1) + u[4] + odtest.NO_TAGS)
    body = compact_array(list(deletions), dele) + compact_array(list(upsertions), ups) + odtest.NO_TAGS
    r = conn.request(ALTER_SCRAM, 0, body, flexible=True)
    r.i32()  # throttle

    def res(rr):
        out = (rr.compact_string(), rr.i16(), rr.compact_string())
        rr.tags()
        return out
    return r.compact_array(res)


def add_user(port, user, password, mechs=(SCRAM_SHA_256, SCRAM_SHA_512), iterations=4096):
    """SCRAM credentials for user on the broker's PLAINTEXT port."""
    with Conn(port) as c:
        ups = []
        for m in mechs:
            salt = os.urandom(16)
            ups.append((user, m, iterations, salt, salted_password(m, password, salt, iterations)))
        res = alter_scram(c, ups)
    bad = [r for r in res if r[1] != 0]
    if bad:
        raise odtest.ProtoError("AlterUserScramCredentials failed: %r" % bad)
    return res


def describe_scram(conn, users=None):
    """Raw DescribeUserScramCredentials v0: (error, message, [(user, code,
    message, [(mech, iterations)])])."""
    body = (compact_array(users, lambda u: compact_string(u) + odtest.NO_TAGS)
            if users is not None else uvarint(0)) + odtest.NO_TAGS
    r = conn.request(DESCRIBE_SCRAM, 0, body, flexible=True)
    r.i32()
    err, msg = r.i16(), r.compact_string()

    def info(rr):
        out = (rr.i8(), rr.i32())
        rr.tags()
        return out

    def res(rr):
        out = (rr.compact_string(), rr.i16(), rr.compact_string(), rr.compact_array(info))
        rr.tags()
        return out
    return err, msg, r.compact_array(res)


# ---- raw SASL ---------------------------------------------------------------

def handshake(conn, mechanism, version=1):
    """SaslHandshake: (error, [enabled mechanisms])."""
    r = conn.request(SASL_HANDSHAKE, version, string(mechanism))
    err = r.i16()
    return err, r.array(lambda rr: rr.string())


def authenticate(conn, token, version=2):
    """SaslAuthenticate: (error, message, bytes, session_lifetime_ms);
    raises odtest.ConnectionClosed when the broker closes instead."""
    flexible = version >= 2
    if flexible:
        body = uvarint(len(token) + 1) + token + odtest.NO_TAGS
    else:
        body = bytes_(token)
    r = conn.request(SASL_AUTHENTICATE, version, body, flexible=flexible)
    err = r.i16()
    msg = r.compact_string() if flexible else r.string()
    data = r.compact_bytes() if flexible else r.bytes_()
    life = r.i64() if version >= 1 else 0
    return err, msg, data, life


def plain_token(user, password, authzid=""):
    return ("%s\0%s\0%s" % (authzid, user, password)).encode()


def raw_token(conn, token, timeout=10):
    """After a v0 handshake: a length-prefixed token without a header; the
    answer token, or None when the broker closed."""
    conn.send_raw(struct.pack(">i", len(token)) + token)
    h = conn._recv_exact(4, timeout)
    if h is None:
        return None
    (n,) = struct.unpack(">i", h)
    return conn._recv_exact(n, timeout) if n else b""


class ScramClient:
    """RFC 5802 client side, enough to log in and to break the exchange."""

    def __init__(self, mech, user, password, nonce=None):
        self.mech = MECH_IDS[mech] if isinstance(mech, str) else mech
        self.h = HASHES[self.mech]
        self.user, self.password = user, password
        self.nonce = nonce or base64.b64encode(os.urandom(18)).decode()
        self.gs2 = "n,,"

    def first(self, extensions=""):
        name = self.user.replace("=", "=3D").replace(",", "=2C")
        self.bare = "n=%s,r=%s%s" % (name, self.nonce, extensions)
        return (self.gs2 + self.bare).encode()

    def final(self, server_first, tamper_proof=False, nonce=None):
        self.server_first = server_first.decode()
        attrs = dict(kv.split("=", 1) for kv in self.server_first.split(","))
        salt = base64.b64decode(attrs["s"])
        it = int(attrs["i"])
        salted = hashlib.pbkdf2_hmac(self.h().name, self.password.encode(), salt, it)
        client_key = hmac.new(salted, b"Client Key", self.h).digest()
        stored = self.h(client_key).digest()
        without = "c=%s,r=%s" % (base64.b64encode(self.gs2.encode()).decode(),
                                 nonce or attrs["r"])
        auth = ",".join([self.bare, self.server_first, without]).encode()
        sig = hmac.new(stored, auth, self.h).digest()
        proof = bytes(a ^ b for a, b in zip(client_key, sig))
        if tamper_proof:
            proof = bytes([proof[0] ^ 1]) + proof[1:]
        server_key = hmac.new(salted, b"Server Key", self.h).digest()
        self.expected_v = base64.b64encode(hmac.new(server_key, auth, self.h).digest()).decode()
        return (without + ",p=" + base64.b64encode(proof).decode()).encode()


def scram_login(conn, mech, user, password, version=2):
    """A whole SCRAM login over SaslAuthenticate; returns the last answer
    (error, message, bytes, lifetime) and checks the server signature."""
    err, _ = handshake(conn, mech)
    if err:
        return err, "handshake", b"", 0
    c = ScramClient(mech, user, password)
    err, msg, data, life = authenticate(conn, c.first(), version)
    if err:
        return err, msg, data, life
    err, msg, data, life = authenticate(conn, c.final(data), version)
    if err == 0 and data.decode() != "v=" + c.expected_v:
        raise odtest.ProtoError("server signature %r, expected v=%s" % (data, c.expected_v))
    return err, msg, data, life
