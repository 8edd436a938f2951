#!/usr/bin/python3
# SASL over TLS (SASL_SSL listeners): kcat (librdkafka) and kafka-python log
# in with SCRAM-SHA-512 and PLAIN through an encrypted connection, a wrong
# password is refused; a client certificate on SASL_SSL does not make the
# principal (SASL does, as Kafka). Needs the TLS layer (t/lib/tls.py).
import logging
import os
import shutil
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import odtest  # noqa: E402
import sasl  # noqa: E402
import tap  # noqa: E402

try:
    import tls  # noqa: E402
except ImportError:
    tap.skip_all("t/lib/tls.py (the TLS layer) is not in this tree")
logging.basicConfig(level=logging.CRITICAL)
odtest.watchdog(240)
pki = tls.Pki(odtest.scratch("pki"))
b = tls.broker(pki, tls_listener="SASL_SSL",
               sets=[("sasl.enabled.mechanisms", "PLAIN,SCRAM-SHA-512")]).start()
sasl.add_user(b.port, "alice", "alice-secret")
ctx = tls.context(pki)

with tls.TlsConn(b.tls_port, ctx) as c:
    err, mechs = sasl.handshake(c, "SCRAM-SHA-512")
    tap.is_((err, mechs), (0, ["PLAIN", "SCRAM-SHA-512"]), "SaslHandshake over TLS")
with tls.TlsConn(b.tls_port, ctx) as c:
    err, *_ = sasl.scram_login(c, "SCRAM-SHA-512", "alice", "alice-secret")
    tap.is_(err, 0, "raw SCRAM-SHA-512 login over TLS")
    tap.ok(odtest.metadata(c) is not None, "then Metadata")
with tls.TlsConn(b.tls_port, ctx) as c:
    c.send_request(3, 1, odtest.array([], odtest.string))
    tap.is_(c.wait_closed(5), "closed", "Metadata before the login closes the TLS connection")

if shutil.which("kcat"):
    for mech in ("PLAIN", "SCRAM-SHA-512"):
        base = ["kcat", "-b", b.tls_bootstrap, "-X", "broker.address.family=v4",
                "-X", "security.protocol=SASL_SSL", "-X", "ssl.ca.location=" + pki.ca,
                "-X", "sasl.mechanisms=" + mech, "-X", "sasl.username=alice"]
        t = "ssl-" + mech.lower()
        rc, out, err = odtest.run(base + ["-X", "sasl.password=alice-secret", "-P", "-t", t],
                                  input=b"a\nb\n", timeout=60)
        tap.is_(rc, 0, "kcat SASL_SSL %s produces" % mech)
        rc, out, err = odtest.run(base + ["-X", "sasl.password=alice-secret", "-C", "-t", t,
                                          "-e", "-q", "-o", "beginning"], timeout=60)
        tap.is_(out.decode().split(), ["a", "b"], "kcat SASL_SSL %s reads back" % mech)
        rc, out, err = odtest.run(base + ["-X", "sasl.password=nope", "-L"], timeout=60)
        tap.ok(rc != 0 and b"Authentication failed" in err,
               "kcat SASL_SSL %s wrong password refused" % mech)
else:
    tap.skip("kcat is not installed", 6)

try:
    from kafka import KafkaProducer
except ImportError:
    KafkaProducer = None
if KafkaProducer:
    p = KafkaProducer(bootstrap_servers=b.tls_bootstrap, security_protocol="SASL_SSL",
                      ssl_cafile=pki.ca, ssl_check_hostname=False, sasl_mechanism="PLAIN",
                      sasl_plain_username="alice", sasl_plain_password="alice-secret",
                      api_version_auto_timeout_ms=10000)
    tap.ok(p.send("kp-ssl", b"v").get(timeout=30) is not None, "kafka-python SASL_SSL PLAIN sends")
    p.close()
else:
    tap.skip("kafka-python is not installed")
tap.like(b.log_text(), r"authenticated as User:alice with SCRAM-SHA-512", "principal User:alice")
sys.exit(odtest.finish())
