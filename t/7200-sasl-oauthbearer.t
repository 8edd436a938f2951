#!/usr/bin/python3
# OAUTHBEARER: JWTs signed with RS256 and ES256 keys the test makes with
# openssl, checked against a JWKS file (sasl.oauthbearer.jwks.endpoint.url
# = file://...), issuer, audience, exp (which bounds the session) and the
# subject claim; kafka-python logs in with a token provider; bad tokens
# are refused with Kafka's two-step error.
import base64
import json
import logging
import os
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import odtest  # noqa: E402
import sasl  # noqa: E402
import tap  # noqa: E402
from odtest import Conn  # noqa: E402

logging.basicConfig(level=logging.CRITICAL)
odtest.watchdog(240)
tmp = odtest.scratch("oauth")


def ossl(*args, input=None):
    p = subprocess.run(["openssl"] + list(args), input=input, capture_output=True, timeout=60)
    if p.returncode:
        raise RuntimeError("openssl %s: %s" % (args, p.stderr.decode()))
    return p.stdout


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def int_bytes(hexstr):
    h = hexstr.strip().replace(":", "")
    return bytes.fromhex(h if len(h) % 2 == 0 else "0" + h)


rsa_key = os.path.join(tmp, "rsa.pem")
ec_key = os.path.join(tmp, "ec.pem")
other_key = os.path.join(tmp, "other.pem")
ossl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", rsa_key)
ossl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", other_key)
ossl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", ec_key)
modulus = ossl("rsa", "-in", rsa_key, "-noout", "-modulus").decode().split("=", 1)[1]
ec_text = ossl("ec", "-in", ec_key, "-noout", "-text").decode()
pub_hex = "".join(ec_text.split("pub:")[1].split("ASN1 OID")[0].split())
pub = int_bytes(pub_hex)
assert pub[0] == 4 and len(pub) == 65
jwks = {"keys": [
    {"kty": "RSA", "kid": "rsa1", "use": "sig", "alg": "RS256",
     "n": b64u(int_bytes(modulus)), "e": b64u(b"\x01\x00\x01")},
    {"kty": "EC", "kid": "ec1", "crv": "P-256", "x": b64u(pub[1:33]), "y": b64u(pub[33:])}]}
jwks_path = os.path.join(tmp, "jwks.json")
with open(jwks_path, "w") as f:
    json.dump(jwks, f)


def der_to_raw(der):
    # SEQUENCE { INTEGER r, INTEGER s } -> r || s (32 bytes each)
    assert der[0] == 0x30
    i = 2 if der[1] < 0x80 else 3
    out = b""
    for _ in range(2):
        assert der[i] == 0x02
        n = der[i + 1]
        v = der[i + 2:i + 2 + n].lstrip(b"\0")
        out += v.rjust(32, b"\0")
        i += 2 + n
    return out


def jwt(claims, alg="RS256", kid="rsa1", key=None):
    head = b64u(json.dumps({"alg": alg, "typ": "JWT", "kid": kid}).encode())
    body = b64u(json.dumps(claims).encode())
    data = (head + "." + body).encode()
    sig = ossl("dgst", "-sha256", "-sign", key or (ec_key if alg == "ES256" else rsa_key),
               input=data)
    if alg == "ES256":
        sig = der_to_raw(sig)
    return head + "." + body + "." + b64u(sig)


now = int(time.time())
GOOD = {"sub": "alice", "iss": "https://issuer.test", "aud": ["kafka", "other"],
        "iat": now, "exp": now + 600}
b = sasl.SaslBroker(mechanisms="OAUTHBEARER", sets={
    "sasl.oauthbearer.jwks.endpoint.url": "file://" + jwks_path,
    "sasl.oauthbearer.expected.issuer": "https://issuer.test",
    "sasl.oauthbearer.expected.audience": "kafka"}).start()


def client_msg(token, authz=""):
    return ("n,%s,\x01auth=Bearer %s\x01\x01" % ("a=" + authz if authz else "", token)).encode()


def login(token, authz=""):
    with Conn(b.sasl_port) as c:
        err, _ = sasl.handshake(c, "OAUTHBEARER")
        err, msg, data, life = sasl.authenticate(c, client_msg(token, authz))
        if err == 0 and data:
            # Kafka's error path: the error JSON, then the client's 0x01.
            first = data
            err, msg, data, life = sasl.authenticate(c, b"\x01")
            return err, msg, first, life
        return err, msg, data, life


err, msg, data, life = login(jwt(GOOD))
tap.is_(err, 0, "RS256 token logs in")
tap.ok(598000 < life <= 600000, "session lifetime is the token's remaining life (%d ms)" % life)
err, msg, data, life = login(jwt(GOOD, alg="ES256", kid="ec1"))
tap.is_(err, 0, "ES256 token logs in")
tap.is_(login(jwt(GOOD), authz="alice")[0], 0, "authzid equal to the subject is fine")

for name, token in (
        ("expired", jwt(dict(GOOD, exp=now - 120))),
        ("wrong issuer", jwt(dict(GOOD, iss="https://evil.test"))),
        ("wrong audience", jwt(dict(GOOD, aud="elsewhere"))),
        ("no subject", jwt({k: v for k, v in GOOD.items() if k != "sub"})),
        ("not yet valid", jwt(dict(GOOD, nbf=now + 3600))),
        ("signed by an unknown key", jwt(GOOD, key=other_key)),
        ("unknown kid", jwt(GOOD, kid="nope")),
        ("alg none", b64u(b'{"alg":"none"}') + "." + b64u(json.dumps(GOOD).encode()) + "."),
        ("HS256", b64u(b'{"alg":"HS256","kid":"rsa1"}') + "." + b64u(json.dumps(GOOD).encode())
         + "." + b64u(b"x" * 32)),
        ("tampered claims", (lambda t: t.split(".")[0] + "." + b64u(json.dumps(
            dict(GOOD, sub="root")).encode()) + "." + t.split(".")[2])(jwt(GOOD))),
        ("garbage", "not-a-jwt")):
    err, msg, first, _ = login(token)
    tap.ok(err == sasl.SASL_AUTHENTICATION_FAILED and first == b'{"status":"invalid_token"}',
           "%s: error JSON, then SASL_AUTHENTICATION_FAILED" % name)
err, msg, _, _ = login(jwt(GOOD), authz="bob")
tap.is_(err, sasl.SASL_AUTHENTICATION_FAILED, "an authzid other than the subject fails")
with Conn(b.sasl_port) as c:
    sasl.handshake(c, "OAUTHBEARER")
    err, msg, _, _ = sasl.authenticate(c, b"n,,auth=Bearer x")
    tap.is_(err, sasl.SASL_AUTHENTICATION_FAILED, "a malformed client message fails at once")
with Conn(b.sasl_port) as c:
    sasl.handshake(c, "OAUTHBEARER")
    err, msg, _, _ = sasl.authenticate(c, client_msg("x" * 20000))
    tap.is_(err, sasl.SASL_AUTHENTICATION_FAILED, "an oversized token fails")

# The token's exp bounds the session: a request after it closes the connection.
with Conn(b.sasl_port) as c:
    sasl.handshake(c, "OAUTHBEARER")
    short = jwt(dict(GOOD, exp=int(time.time()) + 2))
    err, msg, data, life = sasl.authenticate(c, client_msg(short))
    tap.ok(err == 0 and 0 < life <= 2000, "a token expiring in 2 s: lifetime %d ms" % life)
    time.sleep(life / 1000.0 + 1.0)
    c.send_request(3, 1, odtest.array([], odtest.string))
    tap.is_(c.wait_closed(5), "closed", "a request after the token's exp closes the connection")

# kafka-python with a token provider.
try:
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition
    from kafka.oauth.abstract import AbstractTokenProvider
except ImportError:
    AbstractTokenProvider = None
if AbstractTokenProvider:
    class Provider(AbstractTokenProvider):
        def token(self):
            return jwt(dict(GOOD, iat=int(time.time()), exp=int(time.time()) + 600))

    kw = dict(bootstrap_servers=b.sasl_bootstrap, security_protocol="SASL_PLAINTEXT",
              sasl_mechanism="OAUTHBEARER", sasl_oauth_token_provider=Provider(),
              api_version_auto_timeout_ms=10000)
    p = KafkaProducer(**kw)
    ok = all(f.get(timeout=30) for f in [p.send("oauth-t", b"v%d" % i) for i in range(3)])
    p.close()
    tap.ok(ok, "kafka-python OAUTHBEARER producer sends")
    cons = KafkaConsumer(consumer_timeout_ms=3000, **kw)
    tp = TopicPartition("oauth-t", 0)
    cons.assign([tp])
    cons.seek_to_beginning(tp)
    tap.is_([m.value for m in cons], [b"v0", b"v1", b"v2"], "kafka-python OAUTHBEARER consumer reads")
    cons.close()
    tap.like(b.log_text(), r"authenticated as User:alice with OAUTHBEARER", "principal User:alice")
else:
    tap.skip("kafka-python is not installed", 3)
sys.exit(odtest.finish())
