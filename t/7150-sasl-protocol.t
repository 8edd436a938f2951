#!/usr/bin/python3
# SASL on the wire, with a raw client for what real clients never send:
# SaslHandshake v0/v1, SaslAuthenticate v0-v2, PLAIN and SCRAM logins,
# wrong passwords (SASL_AUTHENTICATION_FAILED with Kafka's message, then
# close), unknown mechanisms (UNSUPPORTED_SASL_MECHANISM with the enabled
# list), requests before authentication, out-of-order and truncated SCRAM,
# tokenauth, oversized tokens, v0 raw-token framing.
import os
import struct
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import odtest  # noqa: E402
import sasl  # noqa: E402
import tap  # noqa: E402
from odtest import Conn  # noqa: E402

odtest.watchdog(240)
b = sasl.SaslBroker(sets={"sasl.server.max.receive.size": "4096"}).start()
SP = b.sasl_port
sasl.add_user(b.port, "alice", "alice-secret")


# ---- ApiVersions advertises the SASL APIs ----
with Conn(SP) as c:
    v = odtest.api_versions(c, 0)
    tap.is_(v["apis"].get(sasl.SASL_HANDSHAKE), (0, 1), "SaslHandshake v0-1 advertised")
    tap.is_(v["apis"].get(sasl.SASL_AUTHENTICATE), (0, 2), "SaslAuthenticate v0-2 advertised")
    tap.is_(v["apis"].get(sasl.ALTER_SCRAM), (0, 0), "AlterUserScramCredentials v0 advertised")
    tap.is_(v["apis"].get(sasl.DESCRIBE_SCRAM), (0, 0), "DescribeUserScramCredentials v0")

# ---- PLAIN over SaslAuthenticate, every version ----
for ver in (0, 1, 2):
    with Conn(SP) as c:
        err, mechs = sasl.handshake(c, "PLAIN")
        tap.is_(err, 0, "handshake PLAIN v1")
        tap.is_(sorted(mechs), sorted(sasl.ALL_MECHS.split(",")), "handshake lists the enabled")
        err, msg, data, life = sasl.authenticate(c, sasl.plain_token("alice", "alice-secret"), ver)
        tap.is_(err, 0, "PLAIN login with the SCRAM credential (SaslAuthenticate v%d)" % ver)
        tap.is_(life, 0, "no session lifetime without connections.max.reauth.ms")
        md = odtest.metadata(c)
        tap.ok(md is not None, "Metadata served after authentication")

# ---- PLAIN wrong password: error 58, Kafka's message, then close ----
with Conn(SP) as c:
    sasl.handshake(c, "PLAIN")
    err, msg, _, _ = sasl.authenticate(c, sasl.plain_token("alice", "wrong"))
    tap.is_(err, sasl.SASL_AUTHENTICATION_FAILED, "wrong password: SASL_AUTHENTICATION_FAILED")
    tap.is_(msg, "Authentication failed: Invalid username or password", "Kafka's PLAIN message")
    tap.is_(c.wait_closed(5), "closed", "connection closed after the failure")
with Conn(SP) as c:
    sasl.handshake(c, "PLAIN")
    err, msg, _, _ = sasl.authenticate(c, sasl.plain_token("nobody", "x"))
    tap.is_(err, sasl.SASL_AUTHENTICATION_FAILED, "unknown user: SASL_AUTHENTICATION_FAILED")
with Conn(SP) as c:
    sasl.handshake(c, "PLAIN")
    err, msg, _, _ = sasl.authenticate(c, b"alice\0secret")
    tap.is_(err, sasl.SASL_AUTHENTICATION_FAILED, "PLAIN with two fields fails")
    tap.like(msg or "", r"expected 3 tokens", "its message names the token count")
with Conn(SP) as c:
    sasl.handshake(c, "PLAIN")
    err, msg, _, _ = sasl.authenticate(c, sasl.plain_token("alice", "alice-secret", "bob"))
    tap.is_(err, sasl.SASL_AUTHENTICATION_FAILED, "PLAIN with another authzid fails")

# ---- SCRAM ----
for mech in ("SCRAM-SHA-256", "SCRAM-SHA-512"):
    with Conn(SP) as c:
        err, msg, data, life = sasl.scram_login(c, mech, "alice", "alice-secret")
        tap.is_(err, 0, "%s login (server signature checked)" % mech)
        tap.ok(odtest.metadata(c) is not None, "%s: Metadata served after it" % mech)
    with Conn(SP) as c:
        err, msg, data, life = sasl.scram_login(c, mech, "alice", "wrong")
        tap.is_(err, sasl.SASL_AUTHENTICATION_FAILED, "%s wrong password: error 58" % mech)
        tap.is_(msg, "Authentication failed during authentication due to invalid credentials "
                "with SASL mechanism %s" % mech, "%s: Kafka's message" % mech)
        tap.is_(c.wait_closed(5), "closed", "%s: closed after the failure" % mech)
    with Conn(SP) as c:
        err, msg, _, _ = sasl.scram_login(c, mech, "nobody", "x")
        tap.is_(err, sasl.SASL_AUTHENTICATION_FAILED, "%s unknown user: error 58" % mech)

# SCRAM exchanges broken in every way a client can break them.
def scram_bad(name, first=None, final=None, extensions=""):
    with Conn(SP) as c:
        sasl.handshake(c, "SCRAM-SHA-256")
        sc = sasl.ScramClient("SCRAM-SHA-256", "alice", "alice-secret")
        err, msg, data, _ = sasl.authenticate(c, first if first is not None else sc.first(extensions))
        if err == 0 and final is not None:
            err, msg, data, _ = sasl.authenticate(c, final(sc, data))
        tap.is_(err, sasl.SASL_AUTHENTICATION_FAILED, name + ": SASL_AUTHENTICATION_FAILED")
        tap.is_(c.wait_closed(5), "closed", name + ": closed")
        return msg


scram_bad("client-final first", first=b"c=biws,r=abc,p=AAAA")
scram_bad("empty client-first", first=b"")
scram_bad("truncated client-first", first=b"n,,n=alice")
scram_bad("channel binding asked for", first=b"p=tls-unique,,n=alice,r=abc")
scram_bad("bad saslname escape", first=b"n,,n=al=ZZice,r=abc")
msg = scram_bad("tokenauth extension", extensions=",tokenauth=true")
tap.like(msg or "", r"tokenauth", "tokenauth refusal says so")
scram_bad("tampered proof", final=lambda sc, d: sc.final(d, tamper_proof=True))
scram_bad("other nonce", final=lambda sc, d: sc.final(d, nonce=d.decode().split(",")[0][2:-1] + "#"))
scram_bad("client nonce only", final=lambda sc, d: sc.final(d, nonce=sc.nonce))


# librdkafka's final nonce is its client nonce and then the combined one;
# Kafka accepts a nonce that ends with the combined one, and so does Odradek.
with Conn(SP) as c:
    sasl.handshake(c, "SCRAM-SHA-256")
    sc = sasl.ScramClient("SCRAM-SHA-256", "alice", "alice-secret")
    err, msg, data, _ = sasl.authenticate(c, sc.first())
    err, msg, data, _ = sasl.authenticate(c, sc.final(data, nonce=sc.nonce + data.decode().split(",")[0][2:]))
    tap.is_(err, 0, "a final nonce of client nonce + combined nonce (librdkafka's) logs in")
scram_bad("truncated client-final", final=lambda sc, d: sc.final(d)[:20])
scram_bad("client-first twice", final=lambda sc, d: sc.first())

# After a login without a session lifetime there is no re-authentication:
# SaslAuthenticate and SaslHandshake are answered with ILLEGAL_SASL_STATE
# (Kafka's KafkaApis answers) and the session goes on.
with Conn(SP) as c:
    err, *_ = sasl.scram_login(c, "SCRAM-SHA-256", "alice", "alice-secret")
    tap.is_(err, 0, "logged in")
    err, msg, _, _ = sasl.authenticate(c, b"n,,n=alice,r=abc")
    tap.is_(err, sasl.ILLEGAL_SASL_STATE, "SaslAuthenticate after the login: 34")
    err, _ = sasl.handshake(c, "SCRAM-SHA-256")
    tap.is_(err, sasl.ILLEGAL_SASL_STATE, "SaslHandshake after a login without lifetime: 34")
    tap.ok(odtest.metadata(c) is not None, "the session goes on")

# ---- state machine ----
with Conn(SP) as c:
    err, mechs = sasl.handshake(c, "DIGEST-MD5")
    tap.is_(err, sasl.UNSUPPORTED_SASL_MECHANISM, "unknown mechanism: UNSUPPORTED_SASL_MECHANISM")
    tap.is_(sorted(mechs), sorted(sasl.ALL_MECHS.split(",")), "with the enabled list")
    tap.is_(c.wait_closed(5), "closed", "then closed")
with Conn(SP) as c:
    err, msg, _, _ = sasl.authenticate(c, sasl.plain_token("alice", "alice-secret"))
    tap.is_(err, sasl.ILLEGAL_SASL_STATE, "SaslAuthenticate before the handshake: 34")
    tap.is_(c.wait_closed(5), "closed", "then closed")
with Conn(SP) as c:
    sasl.handshake(c, "PLAIN")
    err, _ = sasl.handshake(c, "PLAIN")
    tap.is_(err, sasl.ILLEGAL_SASL_STATE, "a second handshake inside the exchange: 34")
    tap.is_(c.wait_closed(5), "closed", "then closed")
for name, key, body in (("Metadata", 3, odtest.array([], odtest.string)),
                        ("CreateTopics", odtest.CREATE_TOPICS, b"\0\0\0\0\0\0\x27\x10")):
    with Conn(SP) as c:
        c.send_request(key, 1 if key == 3 else 0, body)
        tap.is_(c.wait_closed(5), "closed", "%s before authentication closes the connection" % name)
with Conn(SP) as c:
    sasl.handshake(c, "PLAIN")
    c.send_request(3, 1, odtest.array([], odtest.string))
    tap.is_(c.wait_closed(5), "closed", "Metadata between handshake and authenticate closes")

# ---- a client pipelining behind its login: the login is checked on a
# worker thread (PLAIN against SCRAM keys); what follows waits, then is served
with Conn(SP) as c:
    hs = odtest.frame(odtest.request_header(sasl.SASL_HANDSHAKE, 1, 1) + odtest.string("PLAIN"))
    au = odtest.frame(odtest.request_header(sasl.SASL_AUTHENTICATE, 1, 2)
                      + odtest.bytes_(sasl.plain_token("alice", "alice-secret")))
    md = odtest.frame(odtest.request_header(3, 1, 3) + odtest.array([], odtest.string))
    c.send_raw(hs + au + md)
    corrs = []
    for _ in range(3):
        f = c.recv_frame()
        corrs.append(odtest.Reader(f).i32() if f else None)
    tap.is_(corrs, [1, 2, 3], "handshake, authenticate and a pipelined Metadata are all answered")
with Conn(SP) as c:
    au = odtest.frame(odtest.request_header(sasl.SASL_AUTHENTICATE, 1, 2)
                      + odtest.bytes_(sasl.plain_token("alice", "wrong")))
    c.send_raw(hs + au + md)
    f1, f2 = c.recv_frame(), c.recv_frame()
    r = odtest.Reader(f2)
    tap.ok(f1 and r.i32() == 2 and r.i16() == sasl.SASL_AUTHENTICATION_FAILED,
           "pipelined behind a wrong password: the failure is answered")
    tap.is_(c.wait_closed(5), "closed", "and the Metadata behind it is not served")

# ---- oversized tokens (sasl.server.max.receive.size=4096 here) ----
with Conn(SP) as c:
    sasl.handshake(c, "PLAIN")
    c.send_raw(struct.pack(">i", 100000) + b"\0" * 1000)
    tap.is_(c.wait_closed(5), "closed", "a frame above sasl.server.max.receive.size closes")
with Conn(SP) as c:
    sasl.handshake(c, "SCRAM-SHA-512")
    err, msg, _, _ = sasl.authenticate(c, b"n,,n=" + b"a" * 3000 + b",r=abc")
    tap.is_(err, sasl.SASL_AUTHENTICATION_FAILED, "a long SCRAM user name fails cleanly")
with Conn(b.port) as c:
    err, mechs = sasl.handshake(c, "PLAIN")
    tap.is_(err, sasl.ILLEGAL_SASL_STATE, "SaslHandshake on the PLAINTEXT listener: 34")
    c.send_request(3, 1, odtest.array([], odtest.string), client_id="c" * 6000)
    tap.ok(c.recv_frame() is not None,
           "a 6 kB request is served on PLAINTEXT (the receive limit is for SASL logins)")
tap.ok(b.running(), "broker alive")

# ---- v0 handshake: raw tokens without Kafka headers ----
with Conn(SP) as c:
    err, _ = sasl.handshake(c, "PLAIN", version=0)
    tap.is_(err, 0, "SaslHandshake v0")
    tok = sasl.raw_token(c, sasl.plain_token("alice", "alice-secret"))
    tap.is_(tok, b"", "PLAIN raw token answered with an empty token")
    tap.ok(odtest.metadata(c) is not None, "requests with headers follow")
with Conn(SP) as c:
    sasl.handshake(c, "PLAIN", version=0)
    tok = sasl.raw_token(c, sasl.plain_token("alice", "bad"))
    tap.is_(tok, None, "raw PLAIN with a wrong password: closed without an answer")
with Conn(SP) as c:
    sasl.handshake(c, "SCRAM-SHA-256", version=0)
    sc = sasl.ScramClient("SCRAM-SHA-256", "alice", "alice-secret")
    sf = sasl.raw_token(c, sc.first())
    tap.ok(sf and sf.startswith(b"r=" + sc.nonce.encode()), "raw SCRAM server-first")
    fin = sasl.raw_token(c, sc.final(sf))
    tap.is_(fin, ("v=" + sc.expected_v).encode(), "raw SCRAM server-final")
    tap.ok(odtest.metadata(c) is not None, "requests follow the raw SCRAM login")
with Conn(SP) as c:
    sasl.handshake(c, "PLAIN", version=0)
    err, *_ = (None,)
    try:
        sasl.authenticate(c, sasl.plain_token("alice", "alice-secret"))
        tap.ok(False, "SaslAuthenticate after a v0 handshake is refused")
    except (odtest.ConnectionClosed, odtest.ProtoError):
        tap.ok(True, "SaslAuthenticate after a v0 handshake is read as a raw token and fails")

sys.exit(odtest.finish())
