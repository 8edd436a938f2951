#!/usr/bin/python3
# Re-authentication (KIP-368): connections.max.reauth.ms bounds a session;
# SaslAuthenticate v1+ tells its lifetime; a request past it closes the
# connection; re-authenticating in time (or after, before any other
# request) renews it; a different principal or mechanism is refused.
import os
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import odtest  # noqa: E402
import sasl  # noqa: E402
import tap  # noqa: E402
from odtest import Conn  # noqa: E402

odtest.watchdog(120)
LIFE = 1500
b = sasl.SaslBroker(sets={"connections.max.reauth.ms": str(LIFE)}).start()
sasl.add_user(b.port, "alice", "alice-secret")
sasl.add_user(b.port, "bob", "bob-secret")


def plain(c, user, pw, version=2):
    err, _ = sasl.handshake(c, "PLAIN")
    if err:
        return err, None, None, None
    return sasl.authenticate(c, sasl.plain_token(user, pw), version)


with Conn(b.sasl_port) as c:
    err, msg, data, life = plain(c, "alice", "alice-secret")
    tap.is_((err, life), (0, LIFE), "SaslAuthenticate v2 returns session_lifetime_ms")
    err, msg, data, life = plain(c, "alice", "alice-secret")
    tap.is_((err, life), (0, LIFE), "re-authentication in time with the same principal")
    tap.ok(odtest.metadata(c) is not None, "the session goes on")
    time.sleep(LIFE / 1000.0 + 0.5)
    c.send_request(3, 1, odtest.array([], odtest.string))
    tap.is_(c.wait_closed(5), "closed", "a request past the lifetime closes the connection")

with Conn(b.sasl_port) as c:
    err, *_ = sasl.scram_login(c, "SCRAM-SHA-256", "alice", "alice-secret", version=1)
    tap.is_(err, 0, "SCRAM login (v1)")
    time.sleep(LIFE / 1000.0 + 0.5)
    err, msg, data, life = sasl.scram_login(c, "SCRAM-SHA-256", "alice", "alice-secret")
    tap.is_((err, life), (0, LIFE), "re-authentication after expiry, before any other request")
    tap.ok(odtest.metadata(c) is not None, "then requests are served again")

with Conn(b.sasl_port) as c:
    plain(c, "alice", "alice-secret")
    err, msg, data, life = plain(c, "bob", "bob-secret")
    tap.is_(err, sasl.SASL_AUTHENTICATION_FAILED, "re-authentication as another principal fails")
    tap.like(msg or "", r"Cannot change principals during re-authentication from User:alice",
             "with Kafka's message")
    tap.is_(c.wait_closed(5), "closed", "and closes the connection")

with Conn(b.sasl_port) as c:
    plain(c, "alice", "alice-secret")
    err, _ = sasl.handshake(c, "SCRAM-SHA-512")
    tap.is_(err, sasl.UNSUPPORTED_SASL_MECHANISM, "re-authentication with another mechanism")
    tap.is_(c.wait_closed(5), "closed", "closes")

with Conn(b.sasl_port) as c:
    plain(c, "alice", "alice-secret")
    err, msg, _, _ = plain(c, "alice", "wrong")
    tap.is_(err, sasl.SASL_AUTHENTICATION_FAILED, "a failed re-authentication")
    tap.is_(c.wait_closed(5), "closed", "closes the connection (no half-authenticated session)")

with Conn(b.sasl_port) as c:
    err, msg, data, life = plain(c, "alice", "alice-secret", version=0)
    tap.is_(err, 0, "v0 SaslAuthenticate has no lifetime field, the limit still holds")
    time.sleep(LIFE / 1000.0 + 0.5)
    c.send_request(3, 1, odtest.array([], odtest.string))
    tap.is_(c.wait_closed(5), "closed", "a v0 session past its lifetime is closed too")
b.stop()

# Kafka's per-mechanism form: listener.name.<l>.<mechanism>.connections.max.reauth.ms
b2 = sasl.SaslBroker(name="per-mech", sets={
    "listener.name.sasl_plaintext.plain.connections.max.reauth.ms": "4000"}).start()
sasl.add_user(b2.port, "alice", "alice-secret")
with Conn(b2.sasl_port) as c:
    err, msg, data, life = plain(c, "alice", "alice-secret")
    tap.is_((err, life), (0, 4000), "PLAIN on that listener: lifetime 4000 ms")
with Conn(b2.sasl_port) as c:
    err, msg, data, life = sasl.scram_login(c, "SCRAM-SHA-256", "alice", "alice-secret")
    tap.is_((err, life), (0, 0), "SCRAM on the same listener: no lifetime")
sys.exit(odtest.finish())
